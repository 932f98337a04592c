//! The forecast file: CF-1.8 NetCDF that `fastnet forecast` writes and
//! `fastnet eval`, `fastnet spectra` and `fastnet loss` read back
//! ([`ForecastFile`] also reads our Zarr forecasts and WeatherBench2's
//! layout, NetCDF or Zarr: [`read`]).
//!
//! ```text
//! dimensions: init_time, lead_time, level (if any upper-air variable), latitude, longitude
//!             (Gaussian grids: one point dimension `values` instead of latitude, longitude)
//! double init_time(init_time)   "hours since 1970-01-01 00:00:00", standard_name forecast_reference_time
//! double lead_time(lead_time)   "hours", standard_name forecast_period
//! double valid_time(init_time, lead_time)  "hours since 1970-01-01 00:00:00", standard_name time
//! double level(level)           "hPa", standard_name air_pressure, positive down
//! double latitude(latitude)     degrees_north, 90 -> -90 (north to south)
//! double longitude(longitude)   degrees_east, 0 -> 360
//! float  z(init_time, lead_time, level, latitude, longitude)   ERA5 short names and units
//! float  t2m(init_time, lead_time, latitude, longitude)
//!
//! On a Gaussian grid (O96, N320, ...) the two grid dimensions are one
//! `values` dimension, ring by ring north to south as anemoi-inference and
//! ECMWF write reduced grids, with per-point coordinates
//! double latitude(values), longitude(values) and the global attribute
//! `grid = "O96"`; every variable ends in `values` instead.
//! global: Conventions, title, source (fastnet version), checkpoint, graph_sha256, history
//! ```
//!
//! Upper-air variables share one `level` axis (the union of their levels;
//! a level a variable lacks is filled with NaN and marked by `_FillValue`).
//! The file is written under a temporary name and renamed when complete, so
//! an interrupted run never leaves a file that looks finished.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fastnet_data::catalogue;
use fastnet_data::channels::ChannelSet;
use fastnet_data::time::{CfTimeUnit, Timestamp, HOUR};
use fastnet_mesh::Grid;

pub(crate) const TIME_UNITS: &str = "hours since 1970-01-01 00:00:00";

/// A forecast variable: ERA5 short name and its levels (hPa), if upper-air.
#[derive(Clone, Debug, PartialEq)]
pub struct ForecastVar {
    pub name: String,
    pub levels: Option<Vec<u32>>,
}

/// What a forecast file holds.
#[derive(Clone, Debug)]
pub struct ForecastLayout {
    /// Equiangular grid (latitude north to south) or Gaussian grid (ring by
    /// ring north to south).
    pub grid: Grid,
    pub vars: Vec<ForecastVar>,
    pub init_times: Vec<Timestamp>,
    pub lead_hours: Vec<i64>,
    /// Extra global attributes (`checkpoint`, `graph_sha256`, ...).
    pub attributes: Vec<(String, String)>,
}

/// Where each forecast channel goes: (variable index, level index).
pub(crate) fn channel_slots(
    set: &ChannelSet,
    vars: &[ForecastVar],
    levels: &[u32],
) -> Result<Vec<(usize, Option<usize>)>> {
    set.forecast()
        .iter()
        .map(|c| {
            let Some((var, level)) = c.field() else {
                bail!(
                    "forecast channel {} is not a data field ({:?})",
                    c.name,
                    c.source
                )
            };
            let v = vars
                .iter()
                .position(|x| x.name == var)
                .with_context(|| format!("forecast channel {} has no variable", c.name))?;
            let l = match level {
                Some(l) => Some(levels.iter().position(|&x| x == l).with_context(|| {
                    format!(
                        "forecast channel {}: level {l} is not in {levels:?}",
                        c.name
                    )
                })?),
                None => None,
            };
            Ok((v, l))
        })
        .collect()
}

/// Groups the forecast channels of `set` into variables (in first-seen order).
pub fn vars_of(set: &ChannelSet) -> Result<Vec<ForecastVar>> {
    let mut vars: Vec<ForecastVar> = Vec::new();
    for c in set.forecast() {
        let Some((var, level)) = c.field() else {
            bail!("forecast channel {} is not a data field", c.name)
        };
        match vars.iter_mut().find(|v| v.name == var) {
            Some(v) => {
                if let (Some(ls), Some(l)) = (&mut v.levels, level) {
                    ls.push(l);
                }
            }
            None => vars.push(ForecastVar {
                name: var.to_string(),
                levels: level.map(|l| vec![l]),
            }),
        }
    }
    Ok(vars)
}

pub(crate) fn union_levels(vars: &[ForecastVar]) -> Vec<u32> {
    let mut l: Vec<u32> = vars
        .iter()
        .flat_map(|v| v.levels.iter().flatten().copied())
        .collect();
    l.sort_unstable();
    l.dedup();
    l
}

/// The grid dimensions of a forecast file on `grid`: `[("latitude", nlat),
/// ("longitude", nlon)]` or `[("values", npoints)]`.
pub(crate) fn grid_dims(grid: &Grid) -> Result<Vec<(&'static str, usize)>> {
    match grid {
        Grid::Equiangular { nlat, nlon, .. } => Ok(vec![("latitude", *nlat), ("longitude", *nlon)]),
        Grid::Gaussian { .. } => Ok(vec![("values", grid.len())]),
        Grid::Points { .. } => bail!(
            "forecast files need a latitude-longitude or Gaussian grid, not {}",
            grid.describe()
        ),
    }
}

/// Writes a forecast file one (init time, lead time) state at a time.
pub struct ForecastWriter {
    /// `None` once finished.
    file: Option<netcdf::FileMut>,
    tmp: PathBuf,
    path: PathBuf,
    slots: Vec<(usize, Option<usize>)>,
    layout: ForecastLayout,
    /// Which (init, lead) states were written, init-major.
    written: Vec<bool>,
}

impl ForecastWriter {
    /// Creates the file (under a temporary name) with all coordinates.
    pub fn create(
        path: &Path,
        layout: ForecastLayout,
        channels: &ChannelSet,
    ) -> Result<ForecastWriter> {
        let dims = grid_dims(&layout.grid)?;
        let levels = union_levels(&layout.vars);
        let slots = channel_slots(channels, &layout.vars, &levels)?;
        let tmp = fastnet_mesh::atomic::temp_path(path);
        fastnet_data::scan::quiet_hdf5();
        let ctx = || format!("creating {}", tmp.display());
        let mut f = netcdf::create(&tmp).with_context(ctx)?;
        let (ni, nl) = (layout.init_times.len(), layout.lead_hours.len());
        f.add_dimension("init_time", ni).with_context(ctx)?;
        f.add_dimension("lead_time", nl).with_context(ctx)?;
        if !levels.is_empty() {
            f.add_dimension("level", levels.len()).with_context(ctx)?;
        }
        for &(name, len) in &dims {
            f.add_dimension(name, len).with_context(ctx)?;
        }
        f.add_attribute("Conventions", "CF-1.8").with_context(ctx)?;
        if let Some(name) = fastnet_data::writer::gaussian_name(&layout.grid) {
            f.add_attribute("grid", name.as_str()).with_context(ctx)?;
        }
        f.add_attribute("title", "fastnet forecast")
            .with_context(ctx)?;
        f.add_attribute(
            "source",
            format!("fastnet {}", env!("CARGO_PKG_VERSION")).as_str(),
        )
        .with_context(ctx)?;
        for (k, v) in &layout.attributes {
            f.add_attribute(k, v.as_str()).with_context(ctx)?;
        }
        let unit = CfTimeUnit::parse(TIME_UNITS).context("time unit")?;
        let coord = |f: &mut netcdf::FileMut,
                     name: &str,
                     dims: &[&str],
                     values: &[f64],
                     attrs: &[(&str, &str)]|
         -> Result<()> {
            let mut v = f.add_variable::<f64>(name, dims).with_context(ctx)?;
            for (k, a) in attrs {
                v.put_attribute(k, *a).with_context(ctx)?;
            }
            v.put_values(values, ..).with_context(ctx)?;
            Ok(())
        };
        let inits: Vec<f64> = layout
            .init_times
            .iter()
            .map(|&t| unit.from_timestamp(t))
            .collect();
        coord(
            &mut f,
            "init_time",
            &["init_time"],
            &inits,
            &[
                ("units", TIME_UNITS),
                ("calendar", "proleptic_gregorian"),
                ("standard_name", "forecast_reference_time"),
                ("long_name", "initialisation time"),
            ],
        )?;
        let leads: Vec<f64> = layout.lead_hours.iter().map(|&h| h as f64).collect();
        coord(
            &mut f,
            "lead_time",
            &["lead_time"],
            &leads,
            &[
                ("units", "hours"),
                ("standard_name", "forecast_period"),
                ("long_name", "lead time"),
                ("dtype", "timedelta64[ns]"),
            ],
        )?;
        let valid: Vec<f64> = layout
            .init_times
            .iter()
            .flat_map(|&t| {
                layout
                    .lead_hours
                    .iter()
                    .map(move |&h| unit.from_timestamp(t + h * HOUR))
            })
            .collect();
        coord(
            &mut f,
            "valid_time",
            &["init_time", "lead_time"],
            &valid,
            &[
                ("units", TIME_UNITS),
                ("calendar", "proleptic_gregorian"),
                ("standard_name", "time"),
                ("long_name", "valid time"),
            ],
        )?;
        if !levels.is_empty() {
            let l: Vec<f64> = levels.iter().map(|&x| x as f64).collect();
            coord(
                &mut f,
                "level",
                &["level"],
                &l,
                &[
                    ("units", "hPa"),
                    ("standard_name", "air_pressure"),
                    ("positive", "down"),
                    ("long_name", "pressure level"),
                ],
            )?;
        }
        let (lat_dim, lon_dim) = match dims.as_slice() {
            [(only, _)] => (*only, *only),
            _ => ("latitude", "longitude"),
        };
        coord(
            &mut f,
            "latitude",
            &[lat_dim],
            &layout.grid.latitudes_deg(),
            &[("units", "degrees_north"), ("standard_name", "latitude")],
        )?;
        coord(
            &mut f,
            "longitude",
            &[lon_dim],
            &layout.grid.longitudes_deg(),
            &[("units", "degrees_east"), ("standard_name", "longitude")],
        )?;
        let point_coords = if dims.len() == 1 {
            "valid_time latitude longitude"
        } else {
            "valid_time"
        };
        for var in &layout.vars {
            let mut vdims = vec!["init_time", "lead_time"];
            if var.levels.is_some() {
                vdims.push("level");
            }
            vdims.extend(dims.iter().map(|d| d.0));
            let mut v = f.add_variable::<f32>(&var.name, &vdims).with_context(ctx)?;
            v.set_fill_value(f32::NAN).with_context(ctx)?;
            if let Some(info) = catalogue::by_short(&var.name) {
                v.put_attribute("units", info.units[0]).with_context(ctx)?;
                v.put_attribute("long_name", info.long_name)
                    .with_context(ctx)?;
            }
            v.put_attribute("coordinates", point_coords)
                .with_context(ctx)?;
            if let Some(ls) = &var.levels {
                // the levels this variable really has (the shared axis is the union)
                let ls: Vec<i32> = ls.iter().map(|&l| l as i32).collect();
                v.put_attribute("levels_present", ls).with_context(ctx)?;
            }
        }
        Ok(ForecastWriter {
            file: Some(f),
            tmp,
            path: path.to_path_buf(),
            slots,
            written: vec![false; layout.init_times.len() * layout.lead_hours.len()],
            layout,
        })
    }

    /// Writes the forecast state for init `i`, lead `l`:
    /// `state` — `[N_grid, C_f]` in physical units, forecast channel order.
    pub fn write(&mut self, i: usize, l: usize, state: &[f32]) -> Result<()> {
        fastnet_data::scan::quiet_hdf5();
        let g = self.layout.grid.len();
        let c = self.slots.len();
        if state.len() != g * c {
            bail!(
                "forecast state has {} values, expected {g} points x {c} channels",
                state.len()
            );
        }
        let nl = self.layout.lead_hours.len();
        if i >= self.layout.init_times.len() || l >= nl {
            bail!(
                "forecast state ({i}, {l}) is outside the file's {} init times x {nl} leads",
                self.layout.init_times.len()
            );
        }
        let shape = self.layout.grid.shape();
        for (k, &(vi, li)) in self.slots.iter().enumerate() {
            let field: Vec<f32> = (0..g).map(|p| state[p * c + k]).collect();
            let name = &self.layout.vars[vi].name;
            let file = self
                .file
                .as_mut()
                .context("forecast file already finished")?;
            let mut v = file
                .variable_mut(name)
                .with_context(|| format!("variable {name}"))?;
            let mut ext = vec![i..i + 1, l..l + 1];
            if let Some(li) = li {
                ext.push(li..li + 1);
            }
            ext.extend(shape.iter().map(|&n| 0..n));
            v.put_values(&field, ext)
                .with_context(|| format!("writing {name} to {}", self.tmp.display()))?;
        }
        self.written[i * nl + l] = true;
        Ok(())
    }

    /// Closes the file and renames it into place; refuses when not every
    /// (init, lead) state was written.
    pub fn finish(mut self) -> Result<PathBuf> {
        let want = self.written.len();
        let written = self.written.iter().filter(|&&w| w).count();
        let (tmp, path) = (self.tmp.clone(), self.path.clone());
        drop(self.file.take());
        if written != want {
            let _ = std::fs::remove_file(&tmp);
            bail!(
                "only {written} of {want} forecast states were written; {} not created",
                path.display()
            );
        }
        fastnet_mesh::atomic::commit(&tmp, &path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        Ok(path)
    }
}

impl Drop for ForecastWriter {
    fn drop(&mut self) {
        // a writer dropped before finish() (an error, Ctrl-C) leaves nothing behind
        if let Some(f) = self.file.take() {
            drop(f);
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

pub(crate) mod geometry;
mod read;
pub(crate) mod store;

pub use read::{FileLayout, ForecastFile};

#[cfg(test)]
mod tests;
