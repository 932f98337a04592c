//! Training: configuration, optimiser, checkpoints, sample sources and the
//! loop.

pub mod checkpoint;
pub mod optim;
pub mod source;
pub mod trainer;
