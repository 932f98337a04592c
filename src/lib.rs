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
pub mod train;
