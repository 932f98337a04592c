//! fastnet-data: ERA5 NetCDF reading, variable catalogue, forcings,
//! normalisation statistics and sample loading (pure Rust + libnetcdf, no
//! libtorch).
//!
//! The path from files to samples: [`dataset::Dataset::open`] scans files
//! ([`scan`]) and merges them into one catalogue (variables from
//! [`catalogue`], one grid, one time axis); [`channels::ChannelSet`] names
//! the channels and [`features::FeatureReader`] assembles `[grid, channel]`
//! states from fields and [`forcings`]; [`stats`] computes the normalisation
//! statistics; [`sample`] cuts windows and builds `[time, grid, channel]`
//! samples; [`loader`] prefetches them on background threads. [`inspect`]
//! backs `fastnet data inspect`; [`writer`] and [`fixture`] write
//! ERA5-layout files.

pub mod catalogue;
pub mod channels;
pub mod dataset;
pub mod error;
pub mod features;
pub mod fixture;
pub mod forcings;
pub mod inspect;
pub mod loader;
pub mod sample;
pub mod scan;
pub mod stats;
pub mod time;
pub mod writer;

pub use dataset::{Dataset, MissingPolicy};
pub use error::{DataError, Result};
