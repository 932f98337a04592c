//! The truth a forecast is scored against: global data (ERA5 NetCDF, anemoi
//! Zarr; [`Dataset`]) or a regional lat-lon box (a CDS `area` download;
//! [`RegionalData`]) on the lattice of a global lat-lon forecast, which then
//! scores only the box's points with the global grid's cell weights (as
//! WeatherBench2's `SliceRegion` does on global data).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use fastnet_data::regional::RegionalData;
use fastnet_data::time::Timestamp;
use fastnet_data::Dataset;
use fastnet_mesh::Grid;

/// Global or regional truth.
pub enum Truth {
    Global(Dataset),
    Regional(RegionalData),
}

impl From<Dataset> for Truth {
    fn from(ds: Dataset) -> Truth {
        Truth::Global(ds)
    }
}

impl Truth {
    /// Opens `paths` as global data; when that fails and they are one
    /// regional (not global) lat-lon box, as a regional truth.
    pub fn open(paths: &[PathBuf]) -> Result<Truth> {
        match Dataset::open(paths) {
            Ok(ds) => Ok(Truth::Global(ds)),
            Err(global_err) => match RegionalData::open(paths) {
                Ok(r) if !r.area.is_global() => Ok(Truth::Regional(r)),
                _ => Err(global_err).context("opening the truth"),
            },
        }
    }

    /// `t2m, z (500, 850 hPa), ...`
    pub fn variable_list(&self) -> String {
        match self {
            Truth::Global(d) => d.variable_list(),
            Truth::Regional(r) => r.variable_list(),
        }
    }

    /// The regional box, described, for a regional truth.
    pub fn area(&self) -> Option<String> {
        match self {
            Truth::Global(_) => None,
            Truth::Regional(r) => Some(r.area.describe()),
        }
    }

    /// Whether the truth has `var` at `level` at all (any time).
    pub fn has_var(&self, var: &str, level: Option<u32>) -> bool {
        let ok = |ls: &Option<Vec<u32>>| match (level, ls) {
            (None, None) => true,
            (Some(l), Some(ls)) => ls.contains(&l),
            _ => false,
        };
        match self {
            Truth::Global(d) => d.vars.get(var).is_some_and(|e| ok(&e.levels)),
            Truth::Regional(r) => r.vars.get(var).is_some_and(|e| ok(&e.levels)),
        }
    }

    /// Whether the truth has `var` at `level` at time `t`.
    pub fn has(&self, var: &str, level: Option<u32>, t: Timestamp) -> bool {
        match self {
            Truth::Global(d) => d.has(var, level, t),
            Truth::Regional(r) => r.has(var, level, t),
        }
    }

    /// The units of `var` as the truth gives them (empty if unknown).
    pub fn units(&self, var: &str) -> String {
        let u = match self {
            Truth::Global(d) => d.vars.get(var).and_then(|v| v.units.clone()),
            Truth::Regional(r) => r.vars.get(var).and_then(|v| v.units.clone()),
        };
        u.unwrap_or_default()
    }

    /// Where the truth's points lie on the forecast grid `grid`: `None` for a
    /// global truth (which must be on `grid`), else the grid index of every
    /// box point. `what` names the forecast in messages.
    pub fn placement(&self, grid: &Grid, what: &str) -> Result<Option<Vec<usize>>> {
        match self {
            Truth::Global(d) => {
                if &d.grid != grid {
                    bail!(
                        "{what}: forecast grid {} differs from the truth grid {} ({} files)",
                        grid.describe(),
                        d.grid.describe(),
                        d.files.len()
                    );
                }
                Ok(None)
            }
            Truth::Regional(r) => Ok(Some(r.indices_on(grid).with_context(|| {
                format!(
                    "{what}: placing the regional truth {} on the forecast's {}",
                    r.area.describe(),
                    grid.describe()
                )
            })?)),
        }
    }

    /// Reads `var` at `level` and time `t` on the forecast grid into `out`
    /// (`[npoints]`): the whole field for a global truth; for a regional
    /// truth the box's points at `placement` and NaN elsewhere. `scratch`
    /// is reused between calls.
    pub fn read_on_grid(
        &self,
        var: &str,
        level: Option<u32>,
        t: Timestamp,
        placement: Option<&[usize]>,
        scratch: &mut Vec<f32>,
        out: &mut [f32],
    ) -> Result<()> {
        match (self, placement) {
            (Truth::Global(d), _) => Ok(d.read_field(var, level, t, out)?),
            (Truth::Regional(r), Some(idx)) => {
                scratch.resize(r.area.len(), f32::NAN);
                r.read_field(var, level, t, scratch)?;
                out.fill(f32::NAN);
                for (&k, &v) in idx.iter().zip(scratch.iter()) {
                    out[k] = v;
                }
                Ok(())
            }
            (Truth::Regional(_), None) => bail!("a regional truth needs its placement on the grid"),
        }
    }
}
