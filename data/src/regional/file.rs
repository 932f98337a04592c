//! One NetCDF file on a regular lat-lon box: its metadata (box, time axis,
//! levels, variables with their leading dimensions and packing) and reading
//! one field in canonical order (north to south, west to east) as physical
//! f32 values.

use std::path::{Path, PathBuf};

use super::area::{LatLonBox, Orientation};
use crate::catalogue::VarInfo;
use crate::catalogue::VarKind;
use crate::error::{DataError, Result};
use crate::scan::{attr_str, cf_times, open_nc, var_meta, Packing, Storage};
use crate::time::Timestamp;
use crate::writer::Layout;

const LAT_NAMES: &[&str] = &["latitude", "lat"];
const LON_NAMES: &[&str] = &["longitude", "lon"];
const TIME_NAMES: &[&str] = &["time", "valid_time"];
const LEVEL_NAMES: &[&str] = &["level", "pressure_level", "isobaricInhPa", "plev"];

/// The ERA5 / ERA5T experiment dimension of old CDS downloads that straddle
/// the end of the final reanalysis (`expver` = 1 and 5): at every time one
/// of the two holds the value and the other is missing. Read by taking, per
/// point, the first non-missing value along it.
pub const EXPVER_DIM: &str = "expver";

/// A leading (non-grid) dimension of a file other than time and level, such
/// as `month` of a monthly climatology, `number` of an ensemble or `expver`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LeadingDim {
    pub name: String,
    pub len: usize,
    /// Its coordinate values when it has a numeric coordinate variable
    /// (`month`: 1..12), at most the first 24.
    pub values: Vec<f64>,
}

/// A data variable of a [`RegionalFile`].
#[derive(Clone, Debug)]
pub struct BoxVar {
    /// Name in the file.
    pub file_name: String,
    /// Catalogue short name (`2m_temperature` -> `t2m`), or the file name
    /// when the catalogue does not know the variable.
    pub short: String,
    pub info: Option<&'static VarInfo>,
    /// Static when the variable has no time dimension.
    pub kind: VarKind,
    pub units: Option<String>,
    /// Pressure levels in hPa, file order.
    pub levels: Option<Vec<u32>>,
    /// Dimension (name, length) in file order, ending in latitude,
    /// longitude.
    pub dims: Vec<(String, usize)>,
    pub time_pos: Option<usize>,
    pub level_pos: Option<usize>,
    pub packing: Packing,
}

/// Metadata of one file on a regular lat-lon box (regional or global).
#[derive(Clone, Debug)]
pub struct RegionalFile {
    pub path: PathBuf,
    pub layout: Option<Layout>,
    /// `netCDF3` or `netCDF4`.
    pub format: &'static str,
    pub area: LatLonBox,
    pub orientation: Orientation,
    /// Names of the latitude and longitude dimensions in the file.
    pub grid_dims: [String; 2],
    /// Times of the file's time axis (empty without one).
    pub times: Vec<Timestamp>,
    pub time_units: Option<String>,
    /// Leading dimensions other than time and level that some variable has.
    pub other_dims: Vec<LeadingDim>,
    /// Data variables (those ending in `[lat, lon]`); `short` is the
    /// catalogue short name (`2m_temperature` -> `t2m`).
    pub vars: Vec<BoxVar>,
}

fn find_dim<'a>(f: &netcdf::File, names: &[&'a str]) -> Option<&'a str> {
    names.iter().find(|n| f.dimension(n).is_some()).copied()
}

fn coord(f: &netcdf::File, path: &Path, name: &str) -> Result<Vec<f64>> {
    let v = f.variable(name).ok_or_else(|| DataError::BadCoordinate {
        path: path.to_path_buf(),
        what: format!("dimension `{name}` has no coordinate variable"),
        expected: format!("a variable `{name}({name})` holding its values"),
    })?;
    v.get_values::<f64, _>(..)
        .map_err(|e| DataError::read(path, name, e))
}

fn read_times(f: &netcdf::File, path: &Path, td: &str) -> Result<(Vec<Timestamp>, String)> {
    let tv = f.variable(td).ok_or_else(|| DataError::BadCoordinate {
        path: path.to_path_buf(),
        what: format!("dimension `{td}` has no coordinate variable"),
        expected: "a time variable with CF units".into(),
    })?;
    let units = attr_str(&tv, "units").unwrap_or_default();
    let cal = attr_str(&tv, "calendar");
    let times = cf_times(path, &units, cal.as_deref(), &coord(f, path, td)?)?;
    Ok((times, units))
}

impl RegionalFile {
    /// Reads the metadata of `path`: a NetCDF file whose data variables end
    /// in `[latitude, longitude]` (or `[lat, lon]`) with 1-D coordinates on
    /// a regular box ([`LatLonBox::from_coords`]). Unknown variables keep
    /// their file name as short name; known ones must carry their units.
    pub fn open(path: &Path) -> Result<RegionalFile> {
        let f = open_nc(path)?;
        let format = if f.root().is_some() {
            "netCDF4"
        } else {
            "netCDF3"
        };
        let (Some(lat_dim), Some(lon_dim)) = (find_dim(&f, LAT_NAMES), find_dim(&f, LON_NAMES))
        else {
            return Err(DataError::BadCoordinate {
                path: path.to_path_buf(),
                what: "no latitude/longitude dimensions".into(),
                expected: "dimensions `latitude` and `longitude` (or `lat` and `lon`) with 1-D coordinates".into(),
            });
        };
        let lat = coord(&f, path, lat_dim)?;
        let lon = coord(&f, path, lon_dim)?;
        let (area, orientation) = LatLonBox::from_coords(path, &lat, &lon)?;
        let time_dim = find_dim(&f, TIME_NAMES);
        let level_dim = find_dim(&f, LEVEL_NAMES);
        let layout = match (time_dim, level_dim) {
            (Some("valid_time"), _) | (_, Some("pressure_level")) => Some(Layout::NewCds),
            (Some("time"), _) | (_, Some("level")) => Some(Layout::OldCds),
            _ => None,
        };
        let (times, time_units) = match time_dim {
            None => (Vec::new(), None),
            Some(td) => {
                let (t, u) = read_times(&f, path, td)?;
                (t, Some(u))
            }
        };
        let levels: Option<Vec<u32>> = match level_dim {
            None => None,
            Some(ld) => {
                let in_pa = f
                    .variable(ld)
                    .and_then(|v| attr_str(&v, "units"))
                    .is_some_and(|u| u == "Pa");
                let vals = coord(&f, path, ld)?;
                Some(
                    vals.iter()
                        .map(|&p| (if in_pa { p / 100.0 } else { p }).round() as u32)
                        .collect(),
                )
            }
        };
        let grid_dims = [lat_dim.to_string(), lon_dim.to_string()];
        let mut vars = Vec::new();
        let mut other_dims: Vec<LeadingDim> = Vec::new();
        for v in f.variables() {
            let name = v.name();
            let dims: Vec<(String, usize)> =
                v.dimensions().iter().map(|d| (d.name(), d.len())).collect();
            let n = dims.len();
            if n < 2 || name == lat_dim || name == lon_dim {
                continue;
            }
            if dims[n - 2].0 != lat_dim || dims[n - 1].0 != lon_dim {
                if dims.iter().any(|d| d.0 == lat_dim) && dims.iter().any(|d| d.0 == lon_dim) {
                    return Err(DataError::BadCoordinate {
                        path: path.to_path_buf(),
                        what: format!(
                            "variable {name} has dimensions {:?}",
                            dims.iter().map(|d| &d.0).collect::<Vec<_>>()
                        ),
                        expected: format!(
                            "[..., {lat_dim}, {lon_dim}] with the grid dimensions last"
                        ),
                    });
                }
                continue;
            }
            let mut time_pos = None;
            let mut level_pos = None;
            for (k, (dn, len)) in dims[..n - 2].iter().enumerate() {
                if Some(dn.as_str()) == time_dim {
                    time_pos = Some(k);
                } else if Some(dn.as_str()) == level_dim {
                    level_pos = Some(k);
                } else if !other_dims.iter().any(|d| &d.name == dn) {
                    let values = f
                        .variable(dn)
                        .and_then(|c| c.get_values::<f64, _>(..).ok())
                        .map(|mut x| {
                            x.truncate(24);
                            x
                        })
                        .unwrap_or_default();
                    other_dims.push(LeadingDim {
                        name: dn.clone(),
                        len: *len,
                        values,
                    });
                }
            }
            let (info, units, packing) = var_meta(path, &v, &name, level_pos.is_some())?;
            let kind = match (info, time_pos, level_pos) {
                (_, None, _) => VarKind::Static,
                (Some(i), _, _) => i.kind,
                (None, _, Some(_)) => VarKind::UpperAir,
                (None, _, None) => VarKind::Surface,
            };
            vars.push(BoxVar {
                short: info.map_or_else(|| name.clone(), |i| i.short.to_string()),
                file_name: name,
                info,
                kind,
                units,
                levels: level_pos.and(levels.clone()),
                dims,
                time_pos,
                level_pos,
                packing,
            });
        }
        Ok(RegionalFile {
            path: path.to_path_buf(),
            layout,
            format,
            area,
            orientation,
            grid_dims,
            times,
            time_units,
            other_dims,
            vars,
        })
    }

    /// The variable with short name or file name `name`.
    pub fn var(&self, name: &str) -> Option<&BoxVar> {
        self.vars
            .iter()
            .find(|v| v.short == name)
            .or_else(|| self.vars.iter().find(|v| v.file_name == name))
    }

    /// Reads one field of `fv` into `out` (`[area.len()]`, rows north to
    /// south, columns west to east, physical units: `raw * scale_factor +
    /// add_offset`, NaN where the stored value is NaN, `_FillValue` or
    /// `missing_value`). `ti` / `li` are the positions on the time and level
    /// axes (ignored when `fv` has none); every other leading dimension must
    /// have length 1, except [`EXPVER_DIM`], which is merged (first
    /// non-missing value). Returns the number of missing values.
    pub fn read_into(
        &self,
        nc: &netcdf::File,
        fv: &BoxVar,
        ti: usize,
        li: usize,
        out: &mut [f32],
    ) -> Result<usize> {
        let n = self.area.len();
        if out.len() != n {
            return Err(DataError::BadConfig {
                field: "output buffer".into(),
                value: out.len().to_string(),
                expected: format!("{n} values (one field of the box {})", self.area.describe()),
            });
        }
        let g = fv.dims.len() - 2;
        let mut merge = None;
        let mut extents: Vec<std::ops::Range<usize>> = Vec::with_capacity(fv.dims.len());
        for (k, (dn, len)) in fv.dims.iter().enumerate() {
            let pos = if k >= g {
                extents.push(0..*len);
                continue;
            } else if Some(k) == fv.time_pos {
                ti
            } else if Some(k) == fv.level_pos {
                li
            } else if dn == EXPVER_DIM && *len > 1 {
                merge = Some(*len);
                extents.push(0..*len);
                continue;
            } else if *len != 1 {
                return Err(DataError::ExtraDimension {
                    path: self.path.clone(),
                    variable: fv.file_name.clone(),
                    dim: dn.clone(),
                    len: *len,
                });
            } else {
                0
            };
            if pos >= *len {
                return Err(DataError::read(
                    &self.path,
                    &fv.file_name,
                    format!("position {pos} on dimension `{dn}` of length {len}"),
                ));
            }
            extents.push(pos..pos + 1);
        }
        let v = nc
            .variable(&fv.file_name)
            .ok_or_else(|| DataError::read(&self.path, &fv.file_name, "variable vanished"))?;
        let raw = read_raw_f64(&v, fv, extents)
            .map_err(|e| DataError::read(&self.path, &fv.file_name, e))?;
        let p = fv.packing;
        let fill = p.fill.unwrap_or(f64::NAN);
        let missing = p.missing.unwrap_or(f64::NAN);
        let unpack = |x: f64| {
            if x.is_nan() || x == fill || x == missing {
                f64::NAN
            } else {
                x * p.scale + p.offset
            }
        };
        let (nlat, nlon) = (self.area.nlat(), self.area.nlon());
        // Stored field `e` (of the merged expver entries) at canonical (i, j).
        let at = |e: usize, i: usize, j: usize| {
            let si = if self.orientation.lat_flipped {
                nlat - 1 - i
            } else {
                i
            };
            unpack(raw[e * n + si * nlon + self.orientation.cols[j]])
        };
        let mut bad = 0;
        for i in 0..nlat {
            for j in 0..nlon {
                let mut x = at(0, i, j);
                for e in 1..merge.unwrap_or(1) {
                    if !x.is_nan() {
                        break;
                    }
                    x = at(e, i, j);
                }
                if x.is_nan() {
                    bad += 1;
                }
                out[i * nlon + j] = x as f32;
            }
        }
        Ok(bad)
    }
}

/// The raw stored values of `extents` of `v` as f64 (exact for every
/// supported storage type).
fn read_raw_f64(
    v: &netcdf::Variable,
    fv: &BoxVar,
    extents: Vec<std::ops::Range<usize>>,
) -> netcdf::Result<Vec<f64>> {
    Ok(match fv.packing.storage {
        Storage::I16 => v
            .get_values::<i16, _>(extents)?
            .into_iter()
            .map(f64::from)
            .collect(),
        Storage::I32 => v
            .get_values::<i32, _>(extents)?
            .into_iter()
            .map(f64::from)
            .collect(),
        Storage::F32 => v
            .get_values::<f32, _>(extents)?
            .into_iter()
            .map(f64::from)
            .collect(),
        Storage::F64 => v.get_values::<f64, _>(extents)?,
    })
}
