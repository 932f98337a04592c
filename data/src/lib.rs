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
//! ERA5-layout files; [`regrid`] takes lat-lon fields and files to reduced
//! Gaussian grids (`fastnet data regrid`).
//!
//! Grids: equiangular lat-lon files (`[.., latitude, longitude]`) and
//! reduced Gaussian files in anemoi-inference's layout (`[.., values]` with
//! per-point `latitude(values)`, `longitude(values)`) are read everywhere; a
//! field in memory is flat, `[grid.len()]`, in the grid's canonical point
//! order.

pub mod catalogue;
pub mod channels;
pub mod dataset;
pub mod error;
pub mod features;
pub mod fixture;
pub mod forcings;
pub mod inspect;
pub mod loader;
pub mod reduced_grid;
pub mod regional;
pub mod regrid;
pub mod sample;
pub mod scan;
pub mod stats;
pub mod time;
pub mod writer;
pub mod zarr;

pub use dataset::{Dataset, MissingPolicy};
pub use error::{DataError, Result};
