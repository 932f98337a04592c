//! Forecasts: the forecast file format and the rollout.

pub mod file;
pub mod rollout;
