//! fastnet: the FastNet graph-network weather forecaster (Met Office / Alan
//! Turing Institute) in Rust, on libtorch through `tch`.
//!
//! This crate holds the command-line front end and the libtorch runtime
//! glue; the numerics live in the workspace crates (`fastnet-mesh`, ...).

pub mod cli;
pub mod forecast;
pub mod loss_report;
pub mod model;
pub mod runtime;
pub mod scoring;
pub mod synth;
pub mod train;

/// Unit tests that write and read NetCDF run one at a time: concurrent HDF5
/// opens in one process occasionally failed under load.
#[cfg(test)]
pub(crate) fn netcdf_serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
