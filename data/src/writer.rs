//! Writes ERA5-layout NetCDF files, in the old or the new CDS layout, packed
//! int16 or float32, in canonical or flipped orientation. The tests use it to
//! generate their fixtures; commands use it to write output.
//!
//! On a lat-lon grid data variables end in `[latitude, longitude]` with 1-D
//! coordinates; on a reduced Gaussian grid (O96, N48, ...) they end in one
//! point dimension `values` (anemoi-inference's layout), ring by ring north
//! to south, with per-point coordinates `latitude(values)` (degrees_north)
//! and `longitude(values)` (degrees_east) and the global attribute
//! `grid = "O96"`.

use std::ops::Range;
use std::path::Path;

use fastnet_mesh::Grid;

use crate::error::{DataError, Result};
use crate::time::{CfTimeUnit, Timestamp};

/// The file layouts the Climate Data Store has handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Before 2024: `time` (int32 hours since 1900-01-01), `level` (millibars),
    /// int16 packing, netCDF3 or netCDF4.
    OldCds,
    /// Since 2024: `valid_time` (int64 seconds since 1970-01-01),
    /// `pressure_level` (hPa), float32 with zlib, scalar `number` and a
    /// per-time `expver`.
    NewCds,
}

/// How data values are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// int16 with `scale_factor` / `add_offset` chosen from the data range;
    /// missing values stored as `_FillValue = missing_value = -32767`.
    PackedInt16,
    /// float32; missing values are NaN (`_FillValue = NaN`).
    Float32,
}

/// Options of [`write_era5`].
#[derive(Clone, Debug)]
pub struct WriteOptions {
    pub layout: Layout,
    pub encoding: Encoding,
    /// netCDF3 (64-bit offset) instead of netCDF4/HDF5; no compression.
    pub netcdf3: bool,
    /// zlib level 1-9 (netCDF4 only); 0 for none.
    pub deflate: i32,
    /// Latitudes stored south to north (WeatherBench files; lat-lon grids
    /// only).
    pub lat_ascending: bool,
    /// Longitudes stored as -180..180 instead of 0..360 (on lat-lon grids
    /// the columns are rolled to start at -180; on reduced grids the point
    /// order is kept and only the values change).
    pub lon_signed: bool,
    /// Overrides the layout's time unit (e.g. `days since 2000-01-01`);
    /// the time coordinate is then float64.
    pub time_units: Option<String>,
    /// Extra dimensions placed before time in every data variable, with
    /// their lengths (values repeated along them).
    pub extra_dims: Vec<(String, usize)>,
}

impl WriteOptions {
    /// The old CDS layout: int16 packed, netCDF4 without compression.
    pub fn old_cds() -> Self {
        WriteOptions {
            layout: Layout::OldCds,
            encoding: Encoding::PackedInt16,
            netcdf3: false,
            deflate: 0,
            lat_ascending: false,
            lon_signed: false,
            time_units: None,
            extra_dims: Vec::new(),
        }
    }

    /// The new CDS layout: float32, zlib level 1.
    pub fn new_cds() -> Self {
        WriteOptions {
            layout: Layout::NewCds,
            encoding: Encoding::Float32,
            deflate: 1,
            ..Self::old_cds()
        }
    }
}

/// One variable to write.
#[derive(Clone, Debug)]
pub struct VarData {
    /// Name in the file (`t2m`, `z`, ...).
    pub name: String,
    pub units: String,
    /// Pressure levels in hPa, `None` for a surface variable.
    pub levels: Option<Vec<u32>>,
    /// Values in canonical orientation, `[time, level, *grid.shape()]` (or
    /// `[time, *grid.shape()]`): `[.., lat, lon]` lat north to south, lon
    /// from 0 east, or `[.., npoints]` ring by ring north to south on a
    /// reduced Gaussian grid; NaN marks a missing value.
    pub values: Vec<f32>,
}

/// The short name ECMWF gives a Gaussian grid, `O96` or `N48`; `None` for
/// other grids.
pub fn gaussian_name(grid: &Grid) -> Option<String> {
    grid.spec().filter(|_| grid.is_gaussian())
}

/// Adds the per-point coordinate variables of a reduced grid,
/// `latitude(values)` and `longitude(values)` (f64 degrees, CF units and
/// standard names), on an existing dimension `values` of `grid.len()`
/// points, and the global attribute `grid` (`"O96"`). This only defines;
/// [`put_point_coordinates`] writes the values.
pub fn define_point_coordinates(f: &mut netcdf::FileMut, grid: &Grid) -> netcdf::Result<()> {
    for (name, units) in [("latitude", "degrees_north"), ("longitude", "degrees_east")] {
        let mut v = f.add_variable::<f64>(name, &[crate::scan::POINT_DIM])?;
        v.put_attribute("units", units)?;
        v.put_attribute("standard_name", name)?;
        v.put_attribute("long_name", name)?;
    }
    if let Some(name) = gaussian_name(grid) {
        f.add_attribute("grid", name.as_str())?;
    }
    Ok(())
}

/// Writes the values of the coordinates defined by
/// [`define_point_coordinates`]: per point, ring by ring north to south;
/// `lon_signed` stores longitudes in [-180, 180) instead of [0, 360).
pub fn put_point_coordinates(
    f: &mut netcdf::FileMut,
    grid: &Grid,
    lon_signed: bool,
) -> netcdf::Result<()> {
    let pts = grid.point_lat_lon();
    let lat: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let lon: Vec<f64> = pts
        .iter()
        .map(|p| {
            let l = p.1.rem_euclid(360.0);
            if lon_signed && l >= 180.0 {
                l - 360.0
            } else {
                l
            }
        })
        .collect();
    let n = pts.len();
    for (name, vals) in [("latitude", &lat), ("longitude", &lon)] {
        match f.variable_mut(name) {
            Some(mut v) => v.put_values(vals, 0..n)?,
            None => return Err(netcdf::Error::from(format!("variable {name} vanished"))),
        }
    }
    Ok(())
}

/// Writes `vars` on `grid` (lat-lon or reduced Gaussian) at `times` to
/// `path` (replacing it) in the layout of `opts`, atomically: a temporary file renamed into
/// place when complete ([`fastnet_mesh::atomic`]).
pub fn write_era5(
    path: &Path,
    grid: &Grid,
    times: &[Timestamp],
    vars: &[VarData],
    opts: &WriteOptions,
) -> Result<()> {
    let tmp = fastnet_mesh::atomic::temp_path(path);
    let result = write_era5_at(&tmp, path, grid, times, vars, opts)
        .and_then(|_| fastnet_mesh::atomic::commit(&tmp, path).map_err(|e| DataError::io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// [`write_era5`] into `file`; errors name `path`.
fn write_era5_at(
    file: &Path,
    path: &Path,
    grid: &Grid,
    times: &[Timestamp],
    vars: &[VarData],
    opts: &WriteOptions,
) -> Result<()> {
    let werr = |e: netcdf::Error| DataError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    // (nlat, nlon) of a lat-lon grid; None for the point layout.
    let lat_lon = match *grid {
        Grid::Equiangular { nlat, nlon, .. } => Some((nlat, nlon)),
        Grid::Gaussian { .. } if !opts.lat_ascending => None,
        Grid::Gaussian { .. } => {
            return Err(DataError::Write {
                path: path.to_path_buf(),
                reason: "lat_ascending applies to lat-lon grids only; reduced grids are stored north to south".into(),
            })
        }
        Grid::Points { .. } => {
            return Err(DataError::Write {
                path: path.to_path_buf(),
                reason: format!(
                    "{} cannot be written: ERA5-layout files hold lat-lon or Gaussian grids",
                    grid.describe()
                ),
            })
        }
    };
    let npoints = grid.len();
    let (nlat, nlon) = lat_lon.unwrap_or((1, npoints));
    let (tdim, ldim, tunits) = match opts.layout {
        Layout::OldCds => ("time", "level", "hours since 1900-01-01 00:00:00.0"),
        Layout::NewCds => ("valid_time", "pressure_level", "seconds since 1970-01-01"),
    };
    let options = if opts.netcdf3 {
        netcdf::Options::_64BIT_OFFSET
    } else {
        netcdf::Options::NETCDF4
    };
    let mut f = netcdf::create_with(file, options).map_err(werr)?;

    // Coordinates in file orientation.
    // (Lat-lon grids only; reduced grids write per-point coordinates.)
    let mut lat = if lat_lon.is_some() {
        grid.latitudes_deg()
    } else {
        Vec::new()
    };
    if opts.lat_ascending {
        lat.reverse();
    }
    let lon0 = grid.longitudes_deg();
    let shift = if opts.lon_signed && lat_lon.is_some() {
        nlon / 2
    } else {
        0
    };
    let lon: Vec<f64> = (0..lat_lon.map_or(0, |d| d.1))
        .map(|j| {
            let l = lon0[(j + shift) % nlon];
            if opts.lon_signed && l >= 180.0 {
                l - 360.0
            } else {
                l
            }
        })
        .collect();
    for (name, len) in &opts.extra_dims {
        f.add_dimension(name, *len).map_err(werr)?;
    }
    if opts.layout == Layout::OldCds {
        f.add_unlimited_dimension(tdim).map_err(werr)?;
    } else {
        f.add_dimension(tdim, times.len()).map_err(werr)?;
    }
    let mut all_levels: Option<Vec<u32>> = None;
    for v in vars {
        if let Some(l) = &v.levels {
            if all_levels.as_ref().is_some_and(|a| a != l) {
                return Err(DataError::Write {
                    path: path.to_path_buf(),
                    reason: "all upper-air variables of one file must share levels".into(),
                });
            }
            all_levels = Some(l.clone());
        }
    }
    if let Some(l) = &all_levels {
        f.add_dimension(ldim, l.len()).map_err(werr)?;
    }
    let grid_dims: &[&str] = if lat_lon.is_some() {
        f.add_dimension("latitude", nlat).map_err(werr)?;
        f.add_dimension("longitude", nlon).map_err(werr)?;
        &["latitude", "longitude"]
    } else {
        f.add_dimension(crate::scan::POINT_DIM, npoints)
            .map_err(werr)?;
        &[crate::scan::POINT_DIM]
    };
    f.add_attribute("Conventions", "CF-1.7").map_err(werr)?;

    let time_unit_text = opts
        .time_units
        .clone()
        .unwrap_or_else(|| tunits.to_string());
    let unit = CfTimeUnit::parse(&time_unit_text).ok_or_else(|| DataError::Write {
        path: path.to_path_buf(),
        reason: format!("bad time unit {time_unit_text:?}"),
    })?;
    let tvals: Vec<f64> = times.iter().map(|&t| unit.from_timestamp(t)).collect();
    let nt = times.len();

    // Define everything first (netCDF3 forbids writing data in define mode).
    {
        let mut tv = if opts.time_units.is_some() {
            f.add_variable::<f64>(tdim, &[tdim])
        } else if opts.layout == Layout::OldCds {
            f.add_variable::<i32>(tdim, &[tdim])
        } else {
            f.add_variable::<i64>(tdim, &[tdim])
        }
        .map_err(werr)?;
        tv.put_attribute("units", time_unit_text.as_str())
            .map_err(werr)?;
        let calendar = match opts.layout {
            Layout::OldCds => "gregorian",
            Layout::NewCds => "proleptic_gregorian",
        };
        tv.put_attribute("calendar", calendar).map_err(werr)?;
        tv.put_attribute("long_name", "time").map_err(werr)?;
    }
    if all_levels.is_some() {
        let (mut v, units) = if opts.layout == Layout::OldCds {
            (
                f.add_variable::<i32>(ldim, &[ldim]).map_err(werr)?,
                "millibars",
            )
        } else {
            (f.add_variable::<f64>(ldim, &[ldim]).map_err(werr)?, "hPa")
        };
        v.put_attribute("units", units).map_err(werr)?;
    }
    if lat_lon.is_some() {
        for (name, units) in [("latitude", "degrees_north"), ("longitude", "degrees_east")] {
            let mut v = f.add_variable::<f64>(name, &[name]).map_err(werr)?;
            v.put_attribute("units", units).map_err(werr)?;
            v.put_attribute("standard_name", name).map_err(werr)?;
        }
    } else {
        define_point_coordinates(&mut f, grid).map_err(werr)?;
    }
    let new_extras = opts.layout == Layout::NewCds && !opts.netcdf3;
    if new_extras {
        f.add_variable::<i64>("number", &[]).map_err(werr)?;
        f.add_string_variable("expver", &[tdim]).map_err(werr)?;
    }
    let mut packed_params = Vec::with_capacity(vars.len());
    for var in vars {
        let nl = var.levels.as_ref().map_or(1, Vec::len);
        let expected = nt * nl * npoints;
        if var.values.len() != expected {
            let shape = match lat_lon {
                Some(_) => format!("lat {nlat}, lon {nlon}"),
                None => format!("points {npoints}"),
            };
            return Err(DataError::Write {
                path: path.to_path_buf(),
                reason: format!(
                    "{}: {} values given, [time {nt}, level {nl}, {shape}] needs {expected}",
                    var.name,
                    var.values.len()
                ),
            });
        }
        let mut dims: Vec<&str> = opts.extra_dims.iter().map(|(n, _)| n.as_str()).collect();
        dims.push(tdim);
        if var.levels.is_some() {
            dims.push(ldim);
        }
        dims.extend(grid_dims);
        let mut v = match opts.encoding {
            Encoding::PackedInt16 => f.add_variable::<i16>(&var.name, &dims),
            Encoding::Float32 => f.add_variable::<f32>(&var.name, &dims),
        }
        .map_err(werr)?;
        if !opts.netcdf3 && opts.deflate > 0 {
            v.set_compression(opts.deflate, true).map_err(werr)?;
        }
        match opts.encoding {
            Encoding::PackedInt16 => {
                let (scale, offset) = packing_for(&var.values);
                v.set_fill_value(-32767i16).map_err(werr)?;
                v.put_attribute("missing_value", -32767i16).map_err(werr)?;
                v.put_attribute("scale_factor", scale).map_err(werr)?;
                v.put_attribute("add_offset", offset).map_err(werr)?;
                packed_params.push((scale, offset));
            }
            Encoding::Float32 => {
                v.set_fill_value(f32::NAN).map_err(werr)?;
                packed_params.push((1.0, 0.0));
            }
        }
        v.put_attribute("units", var.units.as_str()).map_err(werr)?;
    }
    if opts.netcdf3 {
        f.enddef().map_err(werr)?;
    }

    // Then the values.
    let put = |f: &mut netcdf::FileMut,
               name: &str,
               w: &dyn Fn(&mut netcdf::VariableMut) -> netcdf::Result<()>|
     -> Result<()> {
        let mut v = f.variable_mut(name).ok_or_else(|| DataError::Write {
            path: path.to_path_buf(),
            reason: format!("variable {name} vanished"),
        })?;
        w(&mut v).map_err(werr)
    };
    if opts.time_units.is_some() {
        put(&mut f, tdim, &|v| v.put_values(&tvals, 0..nt))?;
    } else if opts.layout == Layout::OldCds {
        let vals: Vec<i32> = tvals.iter().map(|&x| x.round() as i32).collect();
        put(&mut f, tdim, &|v| v.put_values(&vals, 0..nt))?;
    } else {
        let vals: Vec<i64> = tvals.iter().map(|&x| x.round() as i64).collect();
        put(&mut f, tdim, &|v| v.put_values(&vals, 0..nt))?;
    }
    if let Some(l) = &all_levels {
        if opts.layout == Layout::OldCds {
            let vals: Vec<i32> = l.iter().map(|&x| x as i32).collect();
            put(&mut f, ldim, &|v| v.put_values(&vals, 0..l.len()))?;
        } else {
            let vals: Vec<f64> = l.iter().map(|&x| x as f64).collect();
            put(&mut f, ldim, &|v| v.put_values(&vals, 0..l.len()))?;
        }
    }
    if lat_lon.is_some() {
        put(&mut f, "latitude", &|v| v.put_values(&lat, 0..nlat))?;
        put(&mut f, "longitude", &|v| v.put_values(&lon, 0..nlon))?;
    } else {
        put_point_coordinates(&mut f, grid, opts.lon_signed).map_err(werr)?;
    }
    if new_extras {
        put(&mut f, "number", &|v| v.put_value(0i64, ()))?;
        put(&mut f, "expver", &|v| {
            (0..nt).try_for_each(|t| v.put_string("0001", [t]))
        })?;
    }
    let extra_count: usize = opts.extra_dims.iter().map(|(_, n)| *n).product();
    for (var, &(scale, offset)) in vars.iter().zip(&packed_params) {
        // Reorient to file order (reduced grids are stored as they are).
        let mut data = vec![0f32; var.values.len()];
        if lat_lon.is_some() {
            for (block_out, block_in) in data
                .chunks_mut(nlat * nlon)
                .zip(var.values.chunks(nlat * nlon))
            {
                for i in 0..nlat {
                    let src_i = if opts.lat_ascending { nlat - 1 - i } else { i };
                    for j in 0..nlon {
                        block_out[i * nlon + j] = block_in[src_i * nlon + (j + shift) % nlon];
                    }
                }
            }
        } else {
            data.copy_from_slice(&var.values);
        }
        let mut ext: Vec<Range<usize>> = opts.extra_dims.iter().map(|_| 0..1).collect();
        ext.push(0..nt);
        if let Some(l) = &var.levels {
            ext.push(0..l.len());
        }
        if lat_lon.is_some() {
            ext.extend([0..nlat, 0..nlon]);
        } else {
            ext.push(0..npoints);
        }
        let packed: Vec<i16> = match opts.encoding {
            Encoding::PackedInt16 => data
                .iter()
                .map(|&x| {
                    if x.is_finite() {
                        ((x as f64 - offset) / scale)
                            .round()
                            .clamp(-32766.0, 32766.0) as i16
                    } else {
                        -32767
                    }
                })
                .collect(),
            Encoding::Float32 => Vec::new(),
        };
        // Repeat the values along the extra dimensions.
        for k in 0..extra_count {
            let mut e = ext.clone();
            let mut rem = k;
            for (d, (_, n)) in opts.extra_dims.iter().enumerate().rev() {
                e[d] = rem % n..rem % n + 1;
                rem /= n;
            }
            match opts.encoding {
                Encoding::PackedInt16 => {
                    put(&mut f, &var.name, &|v| v.put_values(&packed, e.clone()))?
                }
                Encoding::Float32 => put(&mut f, &var.name, &|v| v.put_values(&data, e.clone()))?,
            }
        }
    }
    f.close().map_err(werr)
}

/// ERA5-style packing of a variable: `scale = (max - min) / 65532`,
/// `offset = (max + min) / 2`, so packed values span -32766..32766 and
/// -32767 is free for the fill value. Returns (scale_factor, add_offset).
fn packing_for(values: &[f32]) -> (f64, f64) {
    let (lo, hi) = values
        .iter()
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x as f64), b.max(x as f64))
        });
    if !lo.is_finite() {
        return (1.0, 0.0);
    }
    let scale = if hi > lo { (hi - lo) / 65532.0 } else { 1.0 };
    (scale, 0.5 * (hi + lo))
}
