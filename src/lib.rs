//! fastnet: the FastNet graph-network weather forecaster (Met Office / Alan
//! Turing Institute) in Rust, on libtorch through `tch`.
//!
//! This crate holds the network ([`model`]), training ([`train`]),
//! inference ([`forecast`]), the checkpoint files both share
//! ([`checkpoint`]), the one loss set-up of training and the loss report
//! ([`loss_setup`]), scoring and spectra ([`scoring`], [`spectra_report`]),
//! the toy atmosphere ([`synth`]), the runtime (devices, Ctrl-C:
//! [`runtime`]), the typed errors ([`error`]) and the command line
//! ([`cli`]); the numerics live in the workspace crates (`fastnet-mesh`,
//! `fastnet-data`, `fastnet-eval`, `fastnet-losses`).

pub mod alloc;
pub mod checkpoint;
pub mod cli;
pub mod dist;
pub mod error;
pub mod forecast;
pub mod import_reference;
pub mod loss_report;
pub mod loss_setup;
pub mod model;
pub mod runtime;
pub mod scoring;
pub mod spectra_report;
pub mod synth;
pub mod train;

/// Unit tests that write and read NetCDF run one at a time: concurrent HDF5
/// opens in one process occasionally failed under load.
#[cfg(test)]
pub(crate) fn netcdf_serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
