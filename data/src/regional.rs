//! Regional latitude-longitude boxes: the CDS `area` downloads (ERA5 cut to
//! `[north, west, south, east]`) and any other NetCDF on a regular lat-lon
//! box, global or not.
//!
//! Latitudes may be stored north to south (CDS) or south to north,
//! longitudes in [-180, 180) or [0, 360), in either direction and wrapping
//! across 0° (a box 350..359.75, 0..30); the spacing must be regular
//! ([`LatLonBox::from_coords`]). In memory a field on a box is
//! `[nlat * nlon]` f32, rows north to south, columns west to east, in
//! physical units (int16 `scale_factor`/`add_offset` applied, NaN where the
//! file has NaN, `_FillValue` or `missing_value`).
//!
//! [`RegionalFile`] is one file's metadata; [`RegionalData`] merges files on
//! one box into one catalogue (variables by catalogue short name, levels,
//! times) and reads fields by (variable, level, time).
//! [`LatLonBox::lattice_indices`] places the box on a global lat-lon grid
//! (a regional truth for a global forecast).

mod area;
mod file;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use fastnet_mesh::Grid;

pub use area::{LatLonBox, Orientation, BOX_TOL_DEG};
pub use file::{BoxVar, LeadingDim, RegionalFile, EXPVER_DIM};

use crate::catalogue::VarKind;
use crate::dataset::expand_paths;
use crate::error::{DataError, Result};
use crate::scan::open_nc;
use crate::time::{format_time, Timestamp};

/// One merged variable of a [`RegionalData`].
#[derive(Clone, Debug)]
pub struct RegionalVar {
    /// Catalogue short name (`t2m`, `z`, ...), or the file name when the
    /// catalogue does not know the variable.
    pub short: String,
    pub kind: VarKind,
    pub units: Option<String>,
    /// Pressure levels in hPa, file order; `None` for single-level fields.
    pub levels: Option<Vec<u32>>,
    /// time -> (file index, position on that file's time axis); static
    /// variables hold one entry under time 0.
    pub times: BTreeMap<Timestamp, (usize, usize)>,
}

/// Files on one regular lat-lon box, merged.
pub struct RegionalData {
    pub files: Vec<RegionalFile>,
    pub area: LatLonBox,
    pub vars: BTreeMap<String, RegionalVar>,
    /// Sorted union of the times of all time-dependent variables.
    pub times: Vec<Timestamp>,
    /// The most recently read file, kept open.
    open: Mutex<Option<(usize, netcdf::File)>>,
}

impl RegionalData {
    /// Expands `inputs` (files, folders of `*.nc`, globs; as
    /// [`expand_paths`]), reads every file's metadata and merges them.
    /// Every file must be on the same box; a (variable, time) may come from
    /// one file only.
    pub fn open<P: AsRef<Path>>(inputs: &[P]) -> Result<RegionalData> {
        let files = expand_paths(inputs)?
            .iter()
            .map(|p| RegionalFile::open(p))
            .collect::<Result<Vec<_>>>()?;
        RegionalData::merge(files)
    }

    /// Merges scanned files (at least one).
    pub fn merge(files: Vec<RegionalFile>) -> Result<RegionalData> {
        let Some(first) = files.first() else {
            return Err(DataError::NoMatch {
                pattern: "(no regional files given)".into(),
            });
        };
        let area = first.area.clone();
        let mut vars: BTreeMap<String, RegionalVar> = BTreeMap::new();
        let mut first_file: BTreeMap<String, usize> = BTreeMap::new();
        for (fi, f) in files.iter().enumerate() {
            if !same_box(&f.area, &area) {
                return Err(DataError::GridMismatch {
                    path: f.path.clone(),
                    first: first.path.clone(),
                    expected: area.describe(),
                    found: f.area.describe(),
                });
            }
            for v in &f.vars {
                let e = vars.entry(v.short.clone()).or_insert_with(|| RegionalVar {
                    short: v.short.clone(),
                    kind: v.kind,
                    units: v.units.clone(),
                    levels: v.levels.clone(),
                    times: BTreeMap::new(),
                });
                let ff = *first_file.entry(v.short.clone()).or_insert(fi);
                if e.levels != v.levels {
                    return Err(DataError::LevelsDiffer {
                        variable: v.short.clone(),
                        path: f.path.clone(),
                        first: files[ff].path.clone(),
                        expected: e.levels.clone().unwrap_or_default().into(),
                        found: v.levels.clone().unwrap_or_default().into(),
                    });
                }
                let keys: Vec<(Timestamp, usize)> = match v.time_pos {
                    None => vec![(0, 0)],
                    Some(_) => f.times.iter().enumerate().map(|(k, &t)| (t, k)).collect(),
                };
                for (t, k) in keys {
                    if let Some(&(other, _)) = e.times.get(&t) {
                        if v.time_pos.is_none() {
                            continue; // a static field: the first file's
                        }
                        return Err(DataError::DuplicateTimeAcrossFiles {
                            variable: v.short.clone(),
                            time: format_time(t),
                            first: files[other].path.clone(),
                            second: f.path.clone(),
                        });
                    }
                    e.times.insert(t, (fi, k));
                }
            }
        }
        let mut times: Vec<Timestamp> = vars
            .values()
            .filter(|v| v.kind != VarKind::Static)
            .flat_map(|v| v.times.keys().copied())
            .collect();
        times.sort_unstable();
        times.dedup();
        Ok(RegionalData {
            files,
            area,
            vars,
            times,
            open: Mutex::new(None),
        })
    }

    /// `t2m, z (500, 850 hPa), ...`
    pub fn variable_list(&self) -> String {
        self.vars
            .values()
            .map(|v| match &v.levels {
                Some(l) => format!("{} ({l:?} hPa)", v.short),
                None => v.short.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// First and last time, `2020-01-01T00:00 .. 2020-01-31T18:00`.
    pub fn coverage(&self) -> String {
        match (self.times.first(), self.times.last()) {
            (Some(&a), Some(&b)) => format!("{} .. {}", format_time(a), format_time(b)),
            _ => "no times".into(),
        }
    }

    /// Whether `var` (short name) at `level` and time `t` is present.
    pub fn has(&self, var: &str, level: Option<u32>, t: Timestamp) -> bool {
        let Some(e) = self.vars.get(var) else {
            return false;
        };
        let level_ok = match (level, &e.levels) {
            (None, None) => true,
            (Some(l), Some(ls)) => ls.contains(&l),
            _ => false,
        };
        level_ok && (e.kind == VarKind::Static || e.times.contains_key(&t))
    }

    /// The canonical index on the global lat-lon `grid` of every box point
    /// (see [`LatLonBox::lattice_indices`]): `[area.len()]`.
    pub fn indices_on(&self, grid: &Grid) -> Result<Vec<usize>> {
        self.area.lattice_indices(grid, &self.files[0].path)
    }

    /// Reads `var` (short name, or a file's variable name) at `level` (hPa;
    /// `None` for single-level fields) and time `t` (ignored for static
    /// fields) into `out`: `[area.len()]`, rows north to south, columns west
    /// to east, physical units, NaN where missing. Returns the number of
    /// missing values.
    pub fn read_field(
        &self,
        var: &str,
        level: Option<u32>,
        t: Timestamp,
        out: &mut [f32],
    ) -> Result<usize> {
        crate::scan::quiet_hdf5();
        let e = self
            .vars
            .get(var)
            .or_else(|| {
                let f = self.files.iter().find_map(|f| f.var(var))?;
                self.vars.get(&f.short)
            })
            .ok_or_else(|| DataError::VariableAbsent {
                variable: var.to_string(),
                channel: var.to_string(),
                available: self.variable_list(),
            })?;
        let li = match (level, &e.levels) {
            (None, None) => 0,
            (Some(l), Some(ls)) => {
                ls.iter()
                    .position(|&x| x == l)
                    .ok_or_else(|| DataError::LevelAbsent {
                        variable: e.short.clone(),
                        level: l,
                        channel: format!("{}{l}", e.short),
                        available: ls.clone(),
                    })?
            }
            (Some(l), None) => {
                return Err(DataError::LevelAbsent {
                    variable: e.short.clone(),
                    level: l,
                    channel: format!("{}{l}", e.short),
                    available: vec![],
                })
            }
            (None, Some(ls)) => {
                return Err(DataError::BadConfig {
                    field: format!("variable {}", e.short),
                    value: "no level".into(),
                    expected: format!("{} is on pressure levels: give one of {ls:?} hPa", e.short),
                })
            }
        };
        let key = if e.kind == VarKind::Static { 0 } else { t };
        let &(fi, ti) = e.times.get(&key).ok_or_else(|| DataError::TimeAbsent {
            variable: e.short.clone(),
            time: format_time(t),
            coverage: self.coverage(),
        })?;
        let file = &self.files[fi];
        let fv = file.var(&e.short).ok_or_else(|| {
            DataError::read(&file.path, &e.short, "variable vanished from the catalogue")
        })?;
        let mut guard = self
            .open
            .lock()
            .map_err(|_| DataError::read(&file.path, &e.short, "a reader thread panicked"))?;
        if guard.as_ref().is_none_or(|(k, _)| *k != fi) {
            *guard = Some((fi, open_nc(&file.path)?));
        }
        let Some((_, nc)) = guard.as_ref() else {
            return Err(DataError::read(
                &file.path,
                &e.short,
                "file handle unavailable",
            ));
        };
        file.read_into(nc, fv, ti, li, out)
    }
}

/// Two boxes are the same lattice: same shape, edges and steps.
fn same_box(a: &LatLonBox, b: &LatLonBox) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() < BOX_TOL_DEG;
    let lon_close = |x: f64, y: f64| {
        let d = (x - y).rem_euclid(360.0);
        d.min(360.0 - d) < BOX_TOL_DEG
    };
    a.nlat() == b.nlat()
        && a.nlon() == b.nlon()
        && close(a.north(), b.north())
        && close(a.lat_step_deg, b.lat_step_deg)
        && close(a.lon_step_deg, b.lon_step_deg)
        && lon_close(a.west(), b.west())
}
