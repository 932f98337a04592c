//! Forecasts: the forecast file formats and layouts, and the rollout.

pub mod file;
mod nc_writer;
pub mod rollout;
pub(crate) mod schema;
pub mod sink;
pub mod wb2_layout;
pub mod zarr_writer;
