//! A set of files merged into one catalogue: one grid, the variables with
//! their levels, the time axis, and which file holds which (variable, time);
//! plus reading one field in canonical orientation.
//!
//! Canonical orientation in memory: latitude north to south, longitude from
//! 0 eastwards; a field is `[nlat * nlon]` f32, latitude-major, on a
//! lat-lon grid and `[npoints]` f32, ring by ring north to south, on a
//! reduced Gaussian grid; in the variable's physical units (orography in m).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fastnet_mesh::Grid;
use rayon::prelude::*;

use crate::catalogue::{orography_from_geopotential, VarKind};
use crate::error::{DataError, Result};
use crate::scan::{open_nc, scan_file, FileInfo, FileVar, Storage};
use crate::time::{format_time, Timestamp};

/// What to do with NaN / fill values in a requested field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingPolicy {
    /// Refuse the field with [`DataError::MissingValues`] (default).
    #[default]
    Error,
    /// Return NaN where values are missing.
    Nan,
}

/// One merged variable.
#[derive(Clone, Debug)]
pub struct VarEntry {
    pub short: String,
    pub kind: VarKind,
    pub units: Option<String>,
    /// Levels in hPa in file order (`None` for surface and static fields).
    pub levels: Option<Vec<u32>>,
    /// time -> (file index, position on that file's time axis). Static
    /// variables hold one entry under time 0 (first file that has it).
    pub times: BTreeMap<Timestamp, (usize, usize)>,
}

/// Files merged into one catalogue.
pub struct Dataset {
    pub files: Vec<FileInfo>,
    pub grid: Grid,
    pub vars: BTreeMap<String, VarEntry>,
    /// Sorted union of the times of all time-dependent variables.
    pub times: Vec<Timestamp>,
    pub missing: MissingPolicy,
    /// Most files kept open at once (default 64); the least recently opened
    /// is closed first, so thousands of monthly files stay under the
    /// descriptor limit.
    pub max_open_files: usize,
    handles: Vec<Mutex<Option<netcdf::File>>>,
    /// Indices of open files, oldest first.
    open_order: Mutex<std::collections::VecDeque<usize>>,
}

/// Expands paths, folders (their `*.nc` files, not recursive) and glob
/// patterns into a sorted, de-duplicated list of files; a Zarr store
/// (`*.zarr`, optionally `#member=N`) passes through as one entry.
pub fn expand_paths<P: AsRef<Path>>(inputs: &[P]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        let p = input.as_ref();
        if crate::zarr::files::is_store_path(p) {
            // A Zarr store is one "file" (`store.zarr`, `store.zarr#member=N`).
            out.push(p.to_path_buf());
            continue;
        }
        let text = p.to_string_lossy();
        if text.contains(['*', '?', '[']) && !p.exists() {
            let matches: Vec<PathBuf> = glob::glob(&text)
                .map_err(|e| DataError::NoMatch {
                    pattern: format!("{text} ({e})"),
                })?
                .filter_map(|r| r.ok())
                .filter(|p| p.is_file())
                .collect();
            if matches.is_empty() {
                return Err(DataError::NoMatch {
                    pattern: text.into_owned(),
                });
            }
            out.extend(matches);
        } else if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| DataError::io(p, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "nc" || x == "nc4"))
                .collect();
            if files.is_empty() {
                return Err(DataError::NoMatch {
                    pattern: format!("{}/*.nc", p.display()),
                });
            }
            files.sort();
            out.extend(files);
        } else if p.exists() {
            out.push(p.to_path_buf());
        } else {
            return Err(DataError::Missing {
                path: p.to_path_buf(),
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

impl Dataset {
    /// Expands `inputs` (see [`expand_paths`]), scans every file and merges
    /// them; fails on the first problem.
    pub fn open<P: AsRef<Path>>(inputs: &[P]) -> Result<Dataset> {
        let paths = expand_paths(inputs)?;
        let files = paths
            .par_iter()
            .map(|p| scan_file(p))
            .collect::<Result<Vec<_>>>()?;
        Dataset::merge(files)
    }

    /// Merges scanned files: checks that grids agree, levels of a variable
    /// agree, and that no (variable, time) comes from two files.
    pub fn merge(files: Vec<FileInfo>) -> Result<Dataset> {
        let Some(first) = files.first() else {
            return Err(DataError::NoMatch {
                pattern: "(no input files)".into(),
            });
        };
        let grid = first.grid.clone();
        let mut vars: BTreeMap<String, VarEntry> = BTreeMap::new();
        let mut level_src: BTreeMap<String, usize> = BTreeMap::new();
        for (fi, f) in files.iter().enumerate() {
            if f.grid != grid {
                return Err(DataError::GridMismatch {
                    path: f.path.clone(),
                    first: first.path.clone(),
                    expected: grid.describe(),
                    found: f.grid.describe(),
                });
            }
            for v in &f.vars {
                let e = vars.entry(v.short.clone()).or_insert_with(|| VarEntry {
                    short: v.short.clone(),
                    kind: v.kind,
                    units: v.units.clone(),
                    levels: v.levels.clone(),
                    times: BTreeMap::new(),
                });
                if v.kind == VarKind::Static {
                    e.times.entry(0).or_insert((fi, 0));
                    continue;
                }
                let src = *level_src.entry(v.short.clone()).or_insert(fi);
                if e.levels != v.levels {
                    return Err(DataError::LevelsDiffer {
                        variable: v.short.clone(),
                        path: f.path.clone(),
                        first: files[src].path.clone(),
                        expected: e.levels.clone().unwrap_or_default().into(),
                        found: v.levels.clone().unwrap_or_default().into(),
                    });
                }
                for (ti, &t) in f.times.iter().enumerate() {
                    if let Some(&(other, _)) = e.times.get(&t) {
                        return Err(DataError::DuplicateTimeAcrossFiles {
                            variable: v.short.clone(),
                            time: format_time(t),
                            first: files[other].path.clone(),
                            second: f.path.clone(),
                        });
                    }
                    e.times.insert(t, (fi, ti));
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
        let handles = files.iter().map(|_| Mutex::new(None)).collect();
        Ok(Dataset {
            files,
            grid,
            vars,
            times,
            missing: MissingPolicy::Error,
            max_open_files: 64,
            handles,
            open_order: Mutex::new(std::collections::VecDeque::new()),
        })
    }

    /// Number of files currently open.
    pub fn open_files(&self) -> usize {
        self.handles
            .iter()
            .filter(|h| h.try_lock().map_or(true, |g| g.is_some()))
            .count()
    }

    /// Records that file `just_opened` is open (its lock is held by the
    /// caller) and closes the oldest others beyond `max_open_files`. Only
    /// `try_lock`s other handles, so it never waits while holding a lock; a
    /// file in use elsewhere is left open and retried later.
    fn close_old_handles(&self, just_opened: usize) {
        let Ok(mut order) = self.open_order.lock() else {
            return;
        };
        order.push_back(just_opened);
        let mut tries = order.len();
        while order.len() > self.max_open_files.max(1) && tries > 0 {
            tries -= 1;
            let Some(old) = order.pop_front() else { break };
            if old == just_opened {
                order.push_back(old);
                continue;
            }
            match self.handles[old].try_lock() {
                Ok(mut g) => *g = None,
                Err(_) => order.push_back(old),
            }
        }
    }

    /// `2020-01-01T00:00 .. 2020-12-31T18:00 (1464 times)` or `no times`.
    pub fn coverage(&self) -> String {
        match (self.times.first(), self.times.last()) {
            (Some(&a), Some(&b)) => format!(
                "{} .. {} ({} times)",
                format_time(a),
                format_time(b),
                self.times.len()
            ),
            _ => "no times".into(),
        }
    }

    /// Names of the variables present, comma separated.
    pub fn variable_list(&self) -> String {
        self.vars.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    /// Whether `var` (at `level`) is available at time `t` (any time for
    /// static variables).
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

    /// Reads `var` at `level` (hPa; `None` for surface and static fields) and
    /// time `t` (ignored for static fields) into `out`: `[grid.len()]`
    /// (`[nlat * nlon]` or `[npoints]`), canonical orientation, physical
    /// units. `orography` is read from the
    /// surface geopotential and divided by g.
    pub fn read_field(
        &self,
        var: &str,
        level: Option<u32>,
        t: Timestamp,
        out: &mut [f32],
    ) -> Result<()> {
        crate::scan::quiet_hdf5();
        let (name, to_height) = if var == "orography" {
            ("orography_source", true)
        } else {
            (var, false)
        };
        let e = self
            .vars
            .get(name)
            .ok_or_else(|| DataError::VariableAbsent {
                variable: name.to_string(),
                channel: var.to_string(),
                available: self.variable_list(),
            })?;
        let li = match (level, &e.levels) {
            (None, None) => None,
            (Some(l), Some(ls)) => {
                Some(
                    ls.iter()
                        .position(|&x| x == l)
                        .ok_or_else(|| DataError::LevelAbsent {
                            variable: name.to_string(),
                            level: l,
                            channel: format!("{name}{l}"),
                            available: ls.clone(),
                        })?,
                )
            }
            (Some(l), None) => {
                return Err(DataError::LevelAbsent {
                    variable: name.to_string(),
                    level: l,
                    channel: format!("{name}{l}"),
                    available: vec![],
                })
            }
            (None, Some(ls)) => {
                return Err(DataError::BadConfig {
                    field: format!("channel {name}"),
                    value: "no level".into(),
                    expected: format!("{name} is upper-air: give one of the levels {ls:?} hPa"),
                })
            }
        };
        let key = if e.kind == VarKind::Static { 0 } else { t };
        let &(fi, ti) = e.times.get(&key).ok_or_else(|| DataError::TimeAbsent {
            variable: name.to_string(),
            time: format_time(t),
            coverage: self.coverage(),
        })?;
        let file = &self.files[fi];
        let fv = file.vars.iter().find(|v| v.short == name).ok_or_else(|| {
            DataError::read(&file.path, name, "variable vanished from the catalogue")
        })?;
        let n = self.grid.len();
        if out.len() != n {
            return Err(DataError::BadConfig {
                field: "output buffer".into(),
                value: out.len().to_string(),
                expected: format!("{n} values (one field of {})", self.grid.describe()),
            });
        }
        if let Some(store) = &file.store {
            let var_index = fv.store_index.get(li.unwrap_or(0)).copied();
            let date_index = file.store_dates.get(ti).copied();
            let (Some(vi), Some(di)) = (var_index, date_index) else {
                return Err(DataError::read(
                    &file.path,
                    name,
                    "variable or date vanished from the catalogue",
                ));
            };
            let mut raw = vec![0f32; n];
            store.read_variable(vi, di, &mut raw)?;
            let bad = decode_into(&Raw::F32(raw), fv, file, out);
            return self.finish_field(
                bad,
                file,
                &store.variables[vi],
                e.kind,
                level,
                t,
                to_height,
                out,
            );
        }
        if let Some(x) = &file.xarray {
            let extents = field_extents(fv, file.grid_dims.len(), ti, li.unwrap_or(0));
            let raw = x.read(&file.path, fv, &extents)?;
            let bad = decode_into(&Raw::F64(raw), fv, file, out);
            return self.finish_field(bad, file, &fv.file_name, e.kind, level, t, to_height, out);
        }
        let mut guard = self.handles[fi]
            .lock()
            .map_err(|_| DataError::read(&file.path, name, "a reader thread panicked"))?;
        if guard.is_none() {
            *guard = Some(open_nc(&file.path)?);
            self.close_old_handles(fi);
        }
        let Some(nc) = guard.as_ref() else {
            return Err(DataError::read(&file.path, name, "file handle unavailable"));
        };
        let v = nc
            .variable(&fv.file_name)
            .ok_or_else(|| DataError::read(&file.path, &fv.file_name, "variable vanished"))?;
        let extents = field_extents(fv, file.grid_dims.len(), ti, li.unwrap_or(0));
        let raw =
            read_raw(&v, fv, extents).map_err(|e| DataError::read(&file.path, &fv.file_name, e))?;
        drop(guard);
        let bad = decode_into(&raw, fv, file, out);
        self.finish_field(bad, file, &fv.file_name, e.kind, level, t, to_height, out)
    }

    /// Orography from geopotential, and the missing-value policy, after a
    /// field was decoded.
    #[allow(clippy::too_many_arguments)]
    fn finish_field(
        &self,
        bad: Option<(usize, usize)>,
        file: &FileInfo,
        file_var: &str,
        kind: VarKind,
        level: Option<u32>,
        t: Timestamp,
        to_height: bool,
        out: &mut [f32],
    ) -> Result<()> {
        if to_height {
            out.iter_mut()
                .for_each(|x| *x = orography_from_geopotential(*x));
        }
        if let Some((count, first)) = bad {
            if self.missing == MissingPolicy::Error {
                let (lat, lon) = self
                    .grid
                    .point_lat_lon()
                    .get(first)
                    .copied()
                    .unwrap_or((f64::NAN, f64::NAN));
                return Err(DataError::MissingValues {
                    path: file.path.clone(),
                    variable: file_var.to_string(),
                    level: level.map_or(String::new(), |l| format!(" at {l} hPa")),
                    time: if kind == VarKind::Static {
                        "(static)".into()
                    } else {
                        format_time(t)
                    },
                    count,
                    lat: lat as f32,
                    lon: lon as f32,
                });
            }
        }
        Ok(())
    }
}

/// The extents of one field of `fv`: time position `ti`, level position
/// `li`, the first entry of other leading dimensions, and the whole of the
/// last `grid_dims` (grid) dimensions.
pub(crate) fn field_extents(
    fv: &FileVar,
    grid_dims: usize,
    ti: usize,
    li: usize,
) -> Vec<std::ops::Range<usize>> {
    fv.dims
        .iter()
        .enumerate()
        .map(|(k, (_, len))| {
            if Some(k) == fv.time_pos {
                ti..ti + 1
            } else if Some(k) == fv.level_pos {
                li..li + 1
            } else if k + grid_dims >= fv.dims.len() {
                0..*len
            } else {
                0..1
            }
        })
        .collect()
}

/// Raw values of one field in file orientation.
pub(crate) enum Raw {
    I16(Vec<i16>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

pub(crate) fn read_raw(
    v: &netcdf::Variable,
    fv: &FileVar,
    extents: Vec<std::ops::Range<usize>>,
) -> netcdf::Result<Raw> {
    Ok(match fv.packing.storage {
        Storage::I16 => Raw::I16(v.get_values::<i16, _>(extents)?),
        Storage::I32 => Raw::I32(v.get_values::<i32, _>(extents)?),
        Storage::F32 => Raw::F32(v.get_values::<f32, _>(extents)?),
        Storage::F64 => Raw::F64(v.get_values::<f64, _>(extents)?),
    })
}

/// Unpacks and reorients into `out` (`[grid.len()]`, canonical
/// orientation); NaN where missing. Returns the number of missing values
/// and the canonical index of the first, if any.
pub(crate) fn decode_into(
    raw: &Raw,
    fv: &FileVar,
    file: &FileInfo,
    out: &mut [f32],
) -> Option<(usize, usize)> {
    let p = fv.packing;
    match file.grid {
        Grid::Equiangular { nlat, nlon, .. } => match raw {
            Raw::I16(r) => decode_rows(r, p, file, nlat, nlon, out),
            Raw::I32(r) => decode_rows(r, p, file, nlat, nlon, out),
            Raw::F32(r) => decode_rows(r, p, file, nlat, nlon, out),
            Raw::F64(r) => decode_rows(r, p, file, nlat, nlon, out),
        },
        // Point layouts are stored in canonical order: a flat copy.
        _ => match raw {
            Raw::I16(r) => decode_flat(r, p, out),
            Raw::I32(r) => decode_flat(r, p, out),
            Raw::F32(r) => decode_flat(r, p, out),
            Raw::F64(r) => decode_flat(r, p, out),
        },
    }
    let mut count = 0;
    let mut first = None;
    for (k, x) in out.iter().enumerate() {
        if x.is_nan() {
            count += 1;
            first.get_or_insert(k);
        }
    }
    first.map(|f| (count, f))
}

/// One stored value to its physical value; NaN where missing.
#[inline]
fn unpack(x: f64, p: &crate::scan::Packing, fill: f64, missing: f64) -> f32 {
    if x.is_nan() || x == fill || x == missing {
        f32::NAN
    } else {
        (x * p.scale + p.offset) as f32
    }
}

fn decode_flat<T: Copy + Into<f64>>(raw: &[T], p: crate::scan::Packing, out: &mut [f32]) {
    let fill = p.fill.unwrap_or(f64::NAN);
    let missing = p.missing.unwrap_or(f64::NAN);
    for (o, &x) in out.iter_mut().zip(raw) {
        *o = unpack(x.into(), &p, fill, missing);
    }
}

fn decode_rows<T: Copy + Into<f64>>(
    raw: &[T],
    p: crate::scan::Packing,
    file: &FileInfo,
    nlat: usize,
    nlon: usize,
    out: &mut [f32],
) {
    let fill = p.fill.unwrap_or(f64::NAN);
    let missing = p.missing.unwrap_or(f64::NAN);
    let shift = file.lon_shift;
    for i in 0..nlat {
        let si = if file.lat_flipped { nlat - 1 - i } else { i };
        let src = &raw[si * nlon..(si + 1) * nlon];
        let row = &mut out[i * nlon..(i + 1) * nlon];
        // Canonical column j is stored at (j + shift) % nlon: two runs.
        let (tail, head) = src.split_at(shift);
        for (o, &x) in row.iter_mut().zip(head.iter().chain(tail)) {
            *o = unpack(x.into(), &p, fill, missing);
        }
    }
}
