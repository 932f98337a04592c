//! Reads the metadata of one NetCDF file: layout, grid and its orientation,
//! time axis, levels, and for every data variable its dimensions, units and
//! packing. No field data is read here.
//!
//! Two grid layouts are recognised:
//!
//! * latitude-longitude: dimensions `latitude`/`lat` and `longitude`/`lon`
//!   with 1-D coordinate variables; data variables end in `[lat, lon]`, in
//!   any orientation (latitudes either way, longitudes rolled or signed);
//! * reduced Gaussian (anemoi-inference's layout): one point dimension
//!   `values` with per-point coordinate variables `latitude(values)` and
//!   `longitude(values)` in degrees; data variables end in `values`. The
//!   grid (O<N> or N<N>) is inferred from the ring structure and checked
//!   against [`Grid`]'s Gauss–Legendre latitudes to [`GAUSSIAN_TOL_DEG`]
//!   and against the point order (ring by ring north to south, longitudes
//!   `360·k/len` from 0 within a ring, given in [0, 360) or [-180, 180)):
//!   [`crate::reduced_grid`].

use std::path::{Path, PathBuf};

use fastnet_mesh::Grid;
use netcdf::types::{FloatType, IntType, NcVariableType};
use netcdf::AttributeValue;

use crate::catalogue::{self, VarInfo, VarKind};
use crate::error::{DataError, Result};
use crate::time::{format_time, CfTimeUnit, Timestamp};
use crate::writer::Layout;

use crate::reduced_grid::point_coord;
pub use crate::reduced_grid::{gaussian_grid_of, GAUSSIAN_TOL_DEG, POINT_DIM};

const LAT_NAMES: &[&str] = &["latitude", "lat"];
const LON_NAMES: &[&str] = &["longitude", "lon"];
const TIME_NAMES: &[&str] = &["time", "valid_time"];
const LEVEL_NAMES: &[&str] = &["level", "pressure_level", "isobaricInhPa", "plev"];

/// Storage type of a data variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    I16,
    I32,
    F32,
    F64,
}

/// How stored values map to physical ones: `value = raw * scale + offset`;
/// raw values equal to `fill` or `missing`, and NaN, are missing.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Packing {
    pub storage: Storage,
    pub scale: f64,
    pub offset: f64,
    pub fill: Option<f64>,
    pub missing: Option<f64>,
}

impl Packing {
    /// `int16 x 1.52e-3 + 2.7e2`, `float32`, ...
    pub fn describe(&self) -> String {
        let t = match self.storage {
            Storage::I16 => "int16",
            Storage::I32 => "int32",
            Storage::F32 => "float32",
            Storage::F64 => "float64",
        };
        if self.scale != 1.0 || self.offset != 0.0 {
            format!(
                "{t} packed (scale {:.4e}, offset {:.6e})",
                self.scale, self.offset
            )
        } else {
            t.to_string()
        }
    }
}

/// A data variable of one file.
#[derive(Clone, Debug)]
pub struct FileVar {
    /// Name in the file.
    pub file_name: String,
    /// Short name used by fastnet (catalogue short name, or the file name
    /// when the catalogue does not know it).
    pub short: String,
    pub info: Option<&'static VarInfo>,
    pub kind: VarKind,
    pub units: Option<String>,
    /// Pressure levels in hPa, file order.
    pub levels: Option<Vec<u32>>,
    /// Dimension (name, length) in file order; the last ones are the grid
    /// dimensions ([`FileInfo::grid_dims`]: latitude and longitude, or the
    /// point dimension `values`).
    pub dims: Vec<(String, usize)>,
    pub time_pos: Option<usize>,
    pub level_pos: Option<usize>,
    pub packing: Packing,
    /// Zarr stores: the index along the store's `variables` axis of each
    /// level (one entry for surface fields); empty for NetCDF.
    pub store_index: Vec<usize>,
    /// xarray-layout Zarr stores: the array ends in `[lon, lat]` (as
    /// WeatherBench2's ERA5 does); `dims` lists them as `[lat, lon]`.
    pub lon_first: bool,
}

/// Metadata of one file.
#[derive(Clone, Debug)]
pub struct FileInfo {
    pub path: PathBuf,
    pub layout: Option<Layout>,
    /// `netCDF3` or `netCDF4`.
    pub format: &'static str,
    /// The grid in canonical orientation.
    pub grid: Grid,
    /// Names of the grid dimensions in the file, in the order data variables
    /// end with them: `[lat, lon]` (e.g. `["latitude", "longitude"]`) or
    /// `["values"]` for a reduced Gaussian grid.
    pub grid_dims: Vec<String>,
    /// Names of the coordinate variables of latitude and longitude.
    pub coord_vars: [String; 2],
    /// Latitudes are stored south to north (lat-lon grids only; always false
    /// for point layouts, which are stored in canonical order).
    pub lat_flipped: bool,
    /// Canonical column `j` is stored at column `(j + lon_shift) % nlon`
    /// (lat-lon grids only; 0 for point layouts).
    pub lon_shift: usize,
    /// Times of the file's time axis (empty without one).
    pub times: Vec<Timestamp>,
    pub time_units: Option<String>,
    pub vars: Vec<FileVar>,
    /// The opened store when this "file" is an anemoi-datasets Zarr store.
    pub store: Option<std::sync::Arc<crate::zarr::AnemoiStore>>,
    /// Zarr stores: the store's date index of each entry of `times`
    /// (missing dates are left out of `times`).
    pub store_dates: Vec<usize>,
    /// The opened store when this "file" is a Zarr store in xarray's layout.
    pub xarray: Option<std::sync::Arc<crate::zarr::xarray::XarrayStore>>,
}

pub(crate) fn attr_f64(v: &netcdf::Variable, name: &str) -> Option<f64> {
    match v.attribute_value(name)?.ok()? {
        AttributeValue::Short(x) => Some(x as f64),
        AttributeValue::Ushort(x) => Some(x as f64),
        AttributeValue::Int(x) => Some(x as f64),
        AttributeValue::Uint(x) => Some(x as f64),
        AttributeValue::Longlong(x) => Some(x as f64),
        AttributeValue::Schar(x) => Some(x as f64),
        AttributeValue::Uchar(x) => Some(x as f64),
        AttributeValue::Float(x) => Some(x as f64),
        AttributeValue::Double(x) => Some(x),
        AttributeValue::Shorts(x) => x.first().map(|&x| x as f64),
        AttributeValue::Floats(x) => x.first().map(|&x| x as f64),
        AttributeValue::Doubles(x) => x.first().copied(),
        _ => None,
    }
}

pub(crate) fn attr_str(v: &netcdf::Variable, name: &str) -> Option<String> {
    match v.attribute_value(name)?.ok()? {
        AttributeValue::Str(s) => Some(s),
        AttributeValue::Strs(s) => s.into_iter().next(),
        _ => None,
    }
}

/// Turns off HDF5's automatic error printing for the calling thread.
///
/// netCDF disables it only on the thread that initialised the library; on any
/// other thread (rayon workers, loader threads) HDF5 prints a stack trace to
/// stderr for every attribute netCDF probes for and does not find. Errors
/// still reach us as netCDF return codes.
pub fn quiet_hdf5() {
    thread_local! {
        static DONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    DONE.with(|done| {
        if !done.get() {
            // SAFETY: H5Eset_auto2 with the default stack and a null handler
            // only changes this thread's error-reporting settings; HDF5 is
            // initialised by the call if needed.
            unsafe {
                hdf5_metno_sys::h5e::H5Eset_auto2(
                    hdf5_metno_sys::h5e::H5E_DEFAULT,
                    None,
                    std::ptr::null_mut(),
                );
            }
            done.set(true);
        }
    });
}

/// Opens `path` read-only, telling a missing file from an unreadable one.
pub fn open_nc(path: &Path) -> Result<netcdf::File> {
    quiet_hdf5();
    if !path.exists() {
        return Err(DataError::Missing {
            path: path.to_path_buf(),
        });
    }
    netcdf::open(path).map_err(|e| DataError::Open {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
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

fn find_dim<'a>(f: &netcdf::File, names: &[&'a str]) -> Option<(&'a str, usize)> {
    names
        .iter()
        .find_map(|n| f.dimension(n).map(|d| (*n, d.len())))
}

fn bad(path: &Path, what: impl Into<String>, expected: impl Into<String>) -> DataError {
    DataError::BadCoordinate {
        path: path.to_path_buf(),
        what: what.into(),
        expected: expected.into(),
    }
}

/// Works out the canonical grid and the orientation of the stored one.
/// Returns (grid, lat_flipped, lon_shift).
pub(crate) fn grid_of(path: &Path, lat: &[f64], lon: &[f64]) -> Result<(Grid, bool, usize)> {
    let (nlat, nlon) = (lat.len(), lon.len());
    let expected = "an equiangular grid: latitudes from ±90 (or ±(90 - step/2)) in equal steps, longitudes j·360/nlon";
    if nlat < 2 || nlon < 1 {
        return Err(bad(
            path,
            format!("grid of {nlat} x {nlon} points"),
            expected,
        ));
    }
    let flipped = lat[0] < lat[nlat - 1];
    let canon: Vec<f64> = if flipped {
        lat.iter().rev().copied().collect()
    } else {
        lat.to_vec()
    };
    let tol = 1e-3;
    let poles = (canon[0] - 90.0).abs() < tol;
    let grid =
        Grid::equiangular(nlat, nlon, poles).map_err(|e| bad(path, "grid", e.to_string()))?;
    for (i, (a, b)) in canon.iter().zip(grid.latitudes_deg()).enumerate() {
        if (a - b).abs() > tol {
            return Err(bad(
                path,
                format!("latitude {i} (north to south) is {a}°, {b}° was expected"),
                expected,
            ));
        }
    }
    let wrapped: Vec<f64> = lon.iter().map(|&l| l.rem_euclid(360.0)).collect();
    let shift = wrapped
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(j, _)| j);
    for (j, want) in grid.longitudes_deg().into_iter().enumerate() {
        let got = wrapped[(j + shift) % nlon];
        if (got - want).abs() > tol && (got - want).abs() < 360.0 - tol {
            return Err(bad(
                path,
                format!(
                    "longitude {} is {}°, {want}° was expected",
                    (j + shift) % nlon,
                    lon[(j + shift) % nlon]
                ),
                expected,
            ));
        }
    }
    Ok((grid, flipped, shift))
}

/// The catalogue entry, units and packing of data variable `v` (`name`),
/// checking the units against the catalogue's.
pub(crate) fn var_meta(
    path: &Path,
    v: &netcdf::Variable,
    name: &str,
    has_level: bool,
) -> Result<(Option<&'static VarInfo>, Option<String>, Packing)> {
    let info = catalogue::lookup(name, has_level);
    let units = attr_str(v, "units");
    if let (Some(info), Some(u)) = (info, &units) {
        if !info.units_match(u) {
            return Err(DataError::UnitsMismatch {
                path: path.to_path_buf(),
                variable: name.to_string(),
                found: u.clone(),
                info,
            });
        }
    }
    let storage = match v.vartype() {
        NcVariableType::Int(IntType::I16) => Storage::I16,
        NcVariableType::Int(IntType::I32) => Storage::I32,
        NcVariableType::Float(FloatType::F32) => Storage::F32,
        NcVariableType::Float(FloatType::F64) => Storage::F64,
        other => {
            return Err(DataError::read(
                path,
                name,
                format!("storage type {other:?} is not supported; expected int16, int32, float32 or float64"),
            ))
        }
    };
    let packing = Packing {
        storage,
        scale: attr_f64(v, "scale_factor").unwrap_or(1.0),
        offset: attr_f64(v, "add_offset").unwrap_or(0.0),
        fill: attr_f64(v, "_FillValue"),
        missing: attr_f64(v, "missing_value"),
    };
    Ok((info, units, packing))
}

/// Reads the metadata of `path`: a NetCDF file, an anemoi-datasets Zarr
/// store (`store.zarr`, `store.zarr#member=N`; [`crate::zarr::files`]) or a
/// Zarr store in xarray's layout ([`crate::zarr::xarray`]).
pub fn scan_file(path: &Path) -> Result<FileInfo> {
    if let Some(spec) = crate::zarr::StoreSpec::parse(path) {
        return crate::zarr::scan_store(&spec?);
    }
    let f = open_nc(path)?;
    let format = if f.root().is_some() {
        "netCDF4"
    } else {
        "netCDF3"
    };
    if format == "netCDF3" {
        check_classic_size(path, &f)?;
    }
    let lat_lon = (find_dim(&f, LAT_NAMES), find_dim(&f, LON_NAMES));
    let (grid, grid_dims, coord_vars, lat_flipped, lon_shift) = match lat_lon {
        (Some((lat_dim, _)), Some((lon_dim, _))) => {
            let lat = coord(&f, path, lat_dim)?;
            let lon = coord(&f, path, lon_dim)?;
            let (grid, flipped, shift) = grid_of(path, &lat, &lon).map_err(|e| {
                // A regular box that is not global: say so, rather than which
                // latitude differs from a global grid's.
                match crate::regional::LatLonBox::from_coords(path, &lat, &lon) {
                    Ok((area, _)) if !area.is_global() => bad(
                        path,
                        format!("a regional box, {}", area.describe()),
                        "a global grid: a global model cannot train on or be initialised from a regional box alone (`fastnet data inspect` describes it; `fastnet eval --truth` scores a global forecast on it)",
                    ),
                    _ => e,
                }
            })?;
            let names = [lat_dim.to_string(), lon_dim.to_string()];
            (grid, names.to_vec(), names, flipped, shift)
        }
        _ if f.dimension(POINT_DIM).is_some() => {
            let (lat_var, lat) = point_coord(&f, path, LAT_NAMES)?;
            let (lon_var, lon) = point_coord(&f, path, LON_NAMES)?;
            let grid = gaussian_grid_of(path, &lat, &lon)?;
            (grid, vec![POINT_DIM.to_string()], [lat_var, lon_var], false, 0)
        }
        (None, _) => {
            return Err(bad(
                path,
                "no latitude dimension",
                "a dimension `latitude` or `lat` (lat-lon grids) or a point dimension `values` (reduced Gaussian grids)",
            ))
        }
        (Some(_), None) => {
            return Err(bad(
                path,
                "no longitude dimension",
                "a dimension `longitude` or `lon`",
            ))
        }
    };

    let time_dim = find_dim(&f, TIME_NAMES).map(|d| d.0);
    let level_dim = find_dim(&f, LEVEL_NAMES).map(|d| d.0);
    let layout = match (time_dim, level_dim) {
        (Some("valid_time"), _) | (_, Some("pressure_level")) => Some(Layout::NewCds),
        (Some("time"), _) | (_, Some("level")) => Some(Layout::OldCds),
        _ => None,
    };

    let (times, time_units) = match time_dim {
        None => (Vec::new(), None),
        Some(td) => {
            let tv = f.variable(td).ok_or_else(|| {
                bad(
                    path,
                    format!("dimension `{td}` has no coordinate variable"),
                    "a time variable with CF units",
                )
            })?;
            let units = attr_str(&tv, "units").unwrap_or_default();
            let cal = attr_str(&tv, "calendar");
            let times = cf_times(path, &units, cal.as_deref(), &coord(&f, path, td)?)?;
            (times, Some(units))
        }
    };
    let levels: Option<Vec<u32>> = match level_dim {
        None => None,
        Some(ld) => {
            let vals = coord(&f, path, ld)?;
            let in_pa = f
                .variable(ld)
                .and_then(|v| attr_str(&v, "units"))
                .is_some_and(|u| u == "Pa");
            Some(
                vals.iter()
                    .map(|&p| (if in_pa { p / 100.0 } else { p }).round() as u32)
                    .collect(),
            )
        }
    };

    let mut vars = Vec::new();
    for v in f.variables() {
        let dims: Vec<(String, usize)> =
            v.dimensions().iter().map(|d| (d.name(), d.len())).collect();
        let n = dims.len();
        let g = grid_dims.len();
        let has = |name: &str| dims.iter().any(|d| d.0 == name);
        let name = v.name();
        if !grid_dims.iter().all(|d| has(d)) || n < g || coord_vars.contains(&name) {
            continue;
        }
        if dims[n - g..].iter().map(|d| &d.0).ne(grid_dims.iter()) {
            return Err(bad(
                path,
                format!(
                    "variable {name} has dimensions {:?}",
                    dims.iter().map(|d| &d.0).collect::<Vec<_>>()
                ),
                format!(
                    "[..., {}] with the grid dimensions last",
                    grid_dims.join(", ")
                ),
            ));
        }
        let mut time_pos = None;
        let mut level_pos = None;
        for (k, (dn, len)) in dims[..n - g].iter().enumerate() {
            if Some(dn.as_str()) == time_dim {
                time_pos = Some(k);
            } else if Some(dn.as_str()) == level_dim {
                level_pos = Some(k);
            } else if *len != 1 {
                return Err(DataError::ExtraDimension {
                    path: path.to_path_buf(),
                    variable: name,
                    dim: dn.clone(),
                    len: *len,
                });
            }
        }
        let (info, units, packing) = var_meta(path, &v, &name, level_pos.is_some())?;
        let kind = match info {
            Some(i) => i.kind,
            None if level_pos.is_some() => VarKind::UpperAir,
            None if time_pos.is_some() => VarKind::Surface,
            None => VarKind::Static,
        };
        let kind = if time_pos.is_none() {
            VarKind::Static
        } else {
            kind
        };
        vars.push(FileVar {
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
            store_index: Vec::new(),
            lon_first: false,
        });
    }
    Ok(FileInfo {
        path: path.to_path_buf(),
        layout,
        format,
        grid,
        grid_dims,
        coord_vars,
        lat_flipped,
        lon_shift,
        times,
        time_units,
        vars,
        store: None,
        store_dates: Vec::new(),
        xarray: None,
    })
}

/// netCDF3 files cut short still open and read zeros past the end; HDF5
/// notices truncation itself. Refuse a classic file smaller than the bytes
/// its variables need (a lower bound: the header comes on top).
fn check_classic_size(path: &Path, f: &netcdf::File) -> Result<()> {
    let need: u64 = f
        .variables()
        .map(|v| {
            let n: u64 = v.dimensions().iter().map(|d| d.len() as u64).product();
            n * v.vartype().size() as u64
        })
        .sum();
    let have = std::fs::metadata(path)
        .map_err(|e| DataError::io(path, e))?
        .len();
    if have < need {
        return Err(DataError::Open {
            path: path.to_path_buf(),
            reason: format!(
                "truncated: the file has {have} bytes but its variables need at least {need}"
            ),
        });
    }
    Ok(())
}

/// Times from a CF time coordinate's `units` ("hours since 1970-01-01"),
/// `calendar` (standard, gregorian or proleptic_gregorian; absent means
/// standard) and values; checked to increase, each once. Shared by every
/// reader of CF files (NetCDF, regional boxes, xarray-layout Zarr).
pub(crate) fn cf_times(
    path: &Path,
    units: &str,
    calendar: Option<&str>,
    values: &[f64],
) -> Result<Vec<Timestamp>> {
    let cal = calendar.unwrap_or("standard");
    let unit = CfTimeUnit::parse(units)
        .filter(|_| matches!(cal, "standard" | "gregorian" | "proleptic_gregorian"))
        .ok_or_else(|| DataError::BadTimeUnits {
            path: path.to_path_buf(),
            units: format!("{units} (calendar {cal})"),
        })?;
    let times: Vec<Timestamp> = values.iter().map(|&v| unit.to_timestamp(v)).collect();
    check_times(path, &times)?;
    Ok(times)
}

fn check_times(path: &Path, times: &[Timestamp]) -> Result<()> {
    for i in 1..times.len() {
        if times[i] == times[i - 1] {
            return Err(DataError::DuplicateTimeInFile {
                path: path.to_path_buf(),
                time: format_time(times[i]),
                first: i - 1,
                second: i,
            });
        }
        if times[i] < times[i - 1] {
            return Err(DataError::NonMonotonicTimes {
                path: path.to_path_buf(),
                index: i,
                time: format_time(times[i]),
                previous: format_time(times[i - 1]),
            });
        }
    }
    Ok(())
}
