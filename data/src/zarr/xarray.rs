//! Zarr stores in xarray's layout (`Dataset.to_zarr`): one array per
//! variable with its dimension names in `_ARRAY_DIMENSIONS`, CF-encoded
//! times, 1-D `latitude`/`longitude` (or `lat`/`lon`) and `level`
//! coordinates — WeatherBench2's ERA5 stores, for one, which also put
//! longitude before latitude. Such a store is one catalogue file, read like
//! an ERA5 NetCDF: variables by their CDS long names (`geopotential`,
//! `2m_temperature`) or short names, packing and `_FillValue` (kept by
//! xarray as the array's `fill_value`) applied, any orientation.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::group::{ZarrArray, ZarrGroup};
use crate::catalogue::{self, VarKind};
use crate::error::{DataError, Result};
use crate::scan::{FileInfo, FileVar, Packing, Storage};

const LAT_NAMES: &[&str] = &["latitude", "lat"];
const LON_NAMES: &[&str] = &["longitude", "lon"];
const TIME_NAMES: &[&str] = &["time", "valid_time"];
const LEVEL_NAMES: &[&str] = &["level", "pressure_level", "isobaricInhPa", "plev"];

/// An opened xarray-layout store: its data arrays by name.
pub struct XarrayStore {
    arrays: BTreeMap<String, ZarrArray>,
}

impl std::fmt::Debug for XarrayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XarrayStore")
            .field("arrays", &self.arrays.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl XarrayStore {
    /// Reads `extents` of the array behind `fv` as f64 in the stored
    /// dimension order, with the last two dimensions swapped to
    /// `[lat, lon]` when the store has them as `[lon, lat]`.
    pub(crate) fn read(
        &self,
        path: &Path,
        fv: &FileVar,
        extents: &[Range<usize>],
    ) -> Result<Vec<f64>> {
        let a = self
            .arrays
            .get(&fv.file_name)
            .ok_or_else(|| DataError::read(path, &fv.file_name, "array vanished from the store"))?;
        let n = extents.len();
        let mut stored: Vec<Range<u64>> = extents
            .iter()
            .map(|r| r.start as u64..r.end as u64)
            .collect();
        if fv.lon_first && n >= 2 {
            // `extents` follow the catalogue's [.., lat, lon]; the store's
            // array is [.., lon, lat].
            stored.swap(n - 2, n - 1);
        }
        let raw = a.read_f64(&stored)?;
        if !fv.lon_first || n < 2 {
            return Ok(raw);
        }
        let (nlon, nlat) = (
            stored[n - 2].end - stored[n - 2].start,
            stored[n - 1].end - stored[n - 1].start,
        );
        let (nlon, nlat) = (nlon as usize, nlat as usize);
        let mut out = vec![0.0; raw.len()];
        for j in 0..nlon {
            for i in 0..nlat {
                out[i * nlon + j] = raw[j * nlat + i];
            }
        }
        Ok(out)
    }
}

fn attr_str(a: &ZarrArray, name: &str) -> Option<String> {
    match a.attributes().get(name)? {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn attr_f64(a: &ZarrArray, name: &str) -> Option<f64> {
    match a.attributes().get(name)? {
        Value::Number(n) => n.as_f64(),
        Value::Array(v) => v.first().and_then(Value::as_f64),
        _ => None,
    }
}

/// Whether `group` is in xarray's layout: 1-D latitude and longitude
/// arrays and no anemoi `data` array.
pub fn is_xarray_layout(group: &ZarrGroup) -> bool {
    !group.has_array("data")
        && LAT_NAMES.iter().any(|n| group.has_array(n))
        && LON_NAMES.iter().any(|n| group.has_array(n))
}

fn coordinate(group: &ZarrGroup, names: &[&str]) -> Result<Option<(String, Vec<f64>, ZarrArray)>> {
    for n in names {
        if group.has_array(n) {
            let a = group.array(n)?;
            let v = a.read_all_f64()?;
            return Ok(Some((n.to_string(), v, a)));
        }
    }
    Ok(None)
}

/// Reads the metadata of the xarray-layout store `path`.
pub fn scan_xarray(path: &Path) -> Result<FileInfo> {
    let group = ZarrGroup::open(path)?;
    let bad = |what: String, expected: &str| DataError::BadCoordinate {
        path: path.to_path_buf(),
        what,
        expected: expected.to_string(),
    };
    let Some((lat_name, lat, _)) = coordinate(&group, LAT_NAMES)? else {
        return Err(bad(
            "no latitude array".into(),
            "a 1-D `latitude` or `lat` coordinate",
        ));
    };
    let Some((lon_name, lon, _)) = coordinate(&group, LON_NAMES)? else {
        return Err(bad(
            "no longitude array".into(),
            "a 1-D `longitude` or `lon` coordinate",
        ));
    };
    let (grid, lat_flipped, lon_shift) = crate::scan::grid_of(path, &lat, &lon)?;
    let time = coordinate(&group, TIME_NAMES)?;
    let (time_name, times, time_units) = match &time {
        None => (None, Vec::new(), None),
        Some((name, values, a)) => {
            let units = attr_str(a, "units").unwrap_or_default();
            let cal = attr_str(a, "calendar");
            let times = crate::scan::cf_times(path, &units, cal.as_deref(), values)?;
            (Some(name.clone()), times, Some(units))
        }
    };
    let levels = match coordinate(&group, LEVEL_NAMES)? {
        None => None,
        Some((name, values, a)) => {
            let in_pa = attr_str(&a, "units").is_some_and(|u| u == "Pa");
            let ls: Vec<u32> = values
                .iter()
                .map(|&p| (if in_pa { p / 100.0 } else { p }).round() as u32)
                .collect();
            Some((name, ls))
        }
    };
    let coords = [
        Some(lat_name.as_str()),
        Some(lon_name.as_str()),
        time_name.as_deref(),
        levels.as_ref().map(|l| l.0.as_str()),
    ];
    let mut vars = Vec::new();
    let mut arrays = BTreeMap::new();
    for name in group.array_names() {
        if coords.contains(&Some(name.as_str())) {
            continue;
        }
        let a = group.array(&name)?;
        let dims = a.dims();
        let shape: Vec<usize> = a.shape().iter().map(|&n| n as usize).collect();
        let n = dims.len();
        if n != shape.len() || n < 2 {
            continue;
        }
        let lon_first = dims[n - 2] == lon_name && dims[n - 1] == lat_name;
        if !(lon_first || (dims[n - 2] == lat_name && dims[n - 1] == lon_name)) {
            continue;
        }
        let mut time_pos = None;
        let mut level_pos = None;
        for (k, d) in dims[..n - 2].iter().enumerate() {
            if Some(d) == time_name.as_ref() {
                time_pos = Some(k);
            } else if Some(d) == levels.as_ref().map(|l| &l.0) {
                level_pos = Some(k);
            } else if shape[k] != 1 {
                return Err(DataError::ExtraDimension {
                    path: path.to_path_buf(),
                    variable: name.clone(),
                    dim: d.clone(),
                    len: shape[k],
                });
            }
        }
        let info = catalogue::lookup(&name, level_pos.is_some());
        let units = attr_str(&a, "units");
        if let (Some(info), Some(u)) = (info, &units) {
            if !info.units_match(u) {
                return Err(DataError::UnitsMismatch {
                    path: path.to_path_buf(),
                    variable: name.clone(),
                    found: u.clone(),
                    info,
                });
            }
        }
        // What is stored (for descriptions); reading converts any numeric
        // type to f64 (`XarrayStore::read`).
        let storage = match a.dtype().as_str() {
            "int16" => Storage::I16,
            "int32" => Storage::I32,
            "float32" => Storage::F32,
            _ => Storage::F64,
        };
        let packing = Packing {
            storage,
            scale: attr_f64(&a, "scale_factor").unwrap_or(1.0),
            offset: attr_f64(&a, "add_offset").unwrap_or(0.0),
            fill: attr_f64(&a, "_FillValue").or(a.fill_value()),
            missing: attr_f64(&a, "missing_value"),
        };
        let kind = match (info, time_pos, level_pos) {
            (_, None, _) => VarKind::Static,
            (Some(i), _, _) => i.kind,
            (None, _, Some(_)) => VarKind::UpperAir,
            (None, _, None) => VarKind::Surface,
        };
        let mut dims_len: Vec<(String, usize)> =
            dims.iter().cloned().zip(shape.iter().copied()).collect();
        if lon_first {
            // The catalogue sees [.., lat, lon]; the reader transposes.
            dims_len.swap(n - 2, n - 1);
        }
        vars.push(FileVar {
            short: info.map_or_else(|| name.clone(), |i| i.short.to_string()),
            file_name: name.clone(),
            info,
            kind,
            units,
            levels: level_pos.and(levels.as_ref().map(|l| l.1.clone())),
            dims: dims_len,
            time_pos,
            level_pos,
            packing,
            store_index: Vec::new(),
            lon_first,
        });
        arrays.insert(name, a);
    }
    Ok(FileInfo {
        path: path.to_path_buf(),
        layout: None,
        format: "Zarr",
        grid,
        grid_dims: vec![lat_name.clone(), lon_name.clone()],
        coord_vars: [lat_name, lon_name],
        lat_flipped,
        lon_shift,
        times,
        time_units,
        vars,
        store: None,
        store_dates: Vec::new(),
        xarray: Some(Arc::new(XarrayStore { arrays })),
    })
}
