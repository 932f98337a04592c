//! Zarr stores: a thin typed layer over the `zarrs` crate ([`group`]) and
//! the anemoi-datasets training store built on it ([`anemoi`]).
//!
//! [`group::ZarrGroup`] opens any Zarr v2 or v3 group on the filesystem
//! (anemoi-datasets, xarray's `to_zarr`, WeatherBench2's stores) and reads
//! numeric arrays as f32 or f64 whatever their stored type; xarray's
//! dimension names (`_ARRAY_DIMENSIONS`) come with each array.
//! [`anemoi::AnemoiStore`] interprets an anemoi-datasets store — `data`
//! shaped (dates, variables, ensembles, values), the `variables`,
//! `start_date`/`end_date`/`frequency`, `missing_dates` and `field_shape`
//! attributes, per-point `latitudes`/`longitudes` and the per-variable
//! `mean`/`stdev`/`minimum`/`maximum` — so that [`crate::Dataset`] reads a
//! store like a set of ERA5 NetCDF files.

pub mod anemoi;
pub mod files;
pub mod group;
pub mod statistics;
pub mod xarray;

pub use anemoi::{AnemoiStore, StoreSpec};
pub use group::{ZarrArray, ZarrGroup};

use std::path::Path;

use crate::error::{DataError, Result};
use crate::scan::FileInfo;

/// Scans the store `spec`: an anemoi-datasets store, or a store in
/// xarray's layout (WeatherBench2's ERA5, `Dataset.to_zarr`).
pub fn scan_store(spec: &StoreSpec) -> Result<FileInfo> {
    let group = ZarrGroup::open(&spec.path)?;
    if xarray::is_xarray_layout(&group) {
        if spec.member.is_some() {
            return Err(DataError::BadConfig {
                field: spec.display(),
                value: "#member".into(),
                expected: "no member: the store is in xarray's layout, not an anemoi ensemble"
                    .into(),
            });
        }
        return xarray::scan_xarray(&spec.path);
    }
    files::scan_store(spec)
}

/// Whether `path` is a Zarr store: a folder holding `.zgroup`/`.zarray`
/// (Zarr v2) or `zarr.json` (v3), or any folder named `*.zarr`.
pub fn is_zarr(path: &Path) -> bool {
    path.is_dir()
        && (path.extension().is_some_and(|e| e == "zarr")
            || path.join(".zgroup").is_file()
            || path.join(".zarray").is_file()
            || path.join("zarr.json").is_file())
}
