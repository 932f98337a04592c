//! Training: configuration, optimiser, checkpoints, sample sources and the
//! loop.

pub mod checkpoint;
pub mod config;
pub mod era5;
pub mod optim;
pub mod run;
pub mod source;
pub mod trainer;
