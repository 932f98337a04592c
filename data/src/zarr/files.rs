//! An anemoi-datasets store as one [`FileInfo`] of the catalogue: its
//! grid, its time axis without the missing dates, and its variables
//! (`t_500`, `t_850` -> `t` on levels [500, 850]; `2t` -> `t2m`; surface
//! `z` -> the orography source) in fastnet's names.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use fastnet_mesh::Grid;

use super::anemoi::{AnemoiStore, StoreSpec};
use crate::catalogue::{self, VarKind};
use crate::error::{DataError, Result};
use crate::scan::{FileInfo, FileVar, Packing, Storage};

/// Splits an anemoi variable name into its parameter and pressure level:
/// `t_500` -> (`t`, Some(500)); `2t` -> (`2t`, None).
pub fn split_level(name: &str) -> (&str, Option<u32>) {
    if let Some((base, level)) = name.rsplit_once('_') {
        if let Ok(l) = level.parse::<u32>() {
            if !base.is_empty()
                && catalogue::lookup(base, true).is_none_or(|i| i.kind == VarKind::UpperAir)
            {
                return (base, Some(l));
            }
        }
    }
    (name, None)
}

/// The anemoi name of a fastnet field: (`t`, Some(500)) -> `t_500`;
/// `t2m` -> `2t`, `u10` -> `10u`, `orography_source` -> `z`. Names the
/// catalogue does not know stay as they are.
pub fn anemoi_name(short: &str, level: Option<u32>) -> String {
    match level {
        Some(l) => format!("{short}_{l}"),
        None => match short {
            "t2m" => "2t".into(),
            "d2m" => "2d".into(),
            "u10" => "10u".into(),
            "v10" => "10v".into(),
            "orography_source" => "z".into(),
            other => other.into(),
        },
    }
}

/// Works out the canonical grid of the store's points; returns (grid,
/// lat_flipped, lon_shift) as [`crate::scan`] does for NetCDF.
fn store_grid(store: &AnemoiStore) -> Result<(Grid, bool, usize)> {
    let path = store.path();
    let (lat, lon) = (&store.latitudes, &store.longitudes);
    match store.field_shape {
        Some([nlat, nlon]) => {
            let rows: Vec<f64> = (0..nlat).map(|i| lat[i * nlon]).collect();
            let cols: Vec<f64> = lon[..nlon].to_vec();
            let off_lattice = (0..nlat * nlon).find(|&k| {
                (lat[k] - rows[k / nlon]).abs() > 1e-6 || (lon[k] - cols[k % nlon]).abs() > 1e-6
            });
            if let Some(k) = off_lattice {
                return Err(DataError::AnemoiStore {
                    path: path.to_path_buf(),
                    what: format!(
                        "point {k} is at ({}°, {}°), not on the lat-lon lattice of field_shape {nlat} x {nlon}",
                        lat[k], lon[k]
                    ),
                    expected: "values flattened row by row from a regular lat-lon grid".into(),
                });
            }
            crate::scan::grid_of(path, &rows, &cols)
        }
        None => Ok((
            crate::reduced_grid::gaussian_grid_of(path, lat, lon)?,
            false,
            0,
        )),
    }
}

/// Reads the metadata of the store `spec` as one catalogue file.
pub fn scan_store(spec: &StoreSpec) -> Result<FileInfo> {
    let store = AnemoiStore::open(spec)?;
    // The catalogue names the store with its member (`ens.zarr#member=2`),
    // so that re-opening a recorded path reads the same member.
    let path = std::path::PathBuf::from(store.spec.display());
    let (grid, lat_flipped, lon_shift) = store_grid(&store)?;
    // Group the store's variables into fastnet variables (one per
    // parameter, with its levels).
    let mut by_short: BTreeMap<String, (FileVar, Vec<(u32, usize)>)> = BTreeMap::new();
    let dims = vec![
        ("dates".to_string(), store.dates.len()),
        ("variables".to_string(), store.variables.len()),
        ("ensembles".to_string(), store.ensembles),
        ("values".to_string(), store.len_values()),
    ];
    let packing = Packing {
        storage: Storage::F32,
        scale: 1.0,
        offset: 0.0,
        fill: None,
        missing: None,
    };
    for (index, name) in store.variables.iter().enumerate() {
        let (base, level) = split_level(name);
        let info = catalogue::lookup(base, level.is_some());
        let units = store.units[index].clone();
        if let (Some(info), Some(u)) = (info, &units) {
            if !info.units_match(u) {
                return Err(DataError::UnitsMismatch {
                    path: path.clone(),
                    variable: name.clone(),
                    found: u.clone(),
                    info,
                });
            }
        }
        let short = info.map_or_else(|| base.to_string(), |i| i.short.to_string());
        let kind = match (info, level) {
            (Some(i), _) => i.kind,
            (None, Some(_)) => VarKind::UpperAir,
            (None, None) => VarKind::Surface,
        };
        let entry = by_short.entry(short.clone()).or_insert_with(|| {
            (
                FileVar {
                    file_name: name.clone(),
                    short,
                    info,
                    kind,
                    units,
                    levels: None,
                    dims: dims.clone(),
                    time_pos: Some(0),
                    level_pos: None,
                    packing,
                    store_index: Vec::new(),
                    lon_first: false,
                },
                Vec::new(),
            )
        });
        match level {
            Some(l) => entry.1.push((l, index)),
            None => entry.0.store_index = vec![index],
        }
    }
    let mut vars = Vec::new();
    for (_, (mut fv, mut levels)) in by_short {
        if !levels.is_empty() {
            if !fv.store_index.is_empty() {
                return Err(DataError::AnemoiStore {
                    path: path.clone(),
                    what: format!(
                        "`{}` is both a surface and a pressure-level variable",
                        fv.short
                    ),
                    expected: "one kind per parameter".into(),
                });
            }
            // Store order (anemoi sorts by name: t_1000 before t_50), kept as
            // the level order of the file.
            levels.sort_by_key(|&(_, i)| i);
            fv.levels = Some(levels.iter().map(|&(l, _)| l).collect());
            fv.store_index = levels.iter().map(|&(_, i)| i).collect();
        }
        vars.push(fv);
    }
    let missing: std::collections::BTreeSet<i64> = store.missing.iter().copied().collect();
    let kept: Vec<usize> = (0..store.dates.len())
        .filter(|&k| !missing.contains(&store.dates[k]))
        .collect();
    let times = kept.iter().map(|&k| store.dates[k]).collect();
    Ok(FileInfo {
        path,
        layout: None,
        format: "Zarr",
        grid,
        grid_dims: vec!["values".into()],
        coord_vars: ["latitudes".into(), "longitudes".into()],
        lat_flipped,
        lon_shift,
        times,
        time_units: Some(format!("every {} s", store.frequency_seconds)),
        vars,
        store: Some(Arc::new(store)),
        store_dates: kept,
        xarray: None,
    })
}

/// Whether `path` names a store (see [`StoreSpec::parse`]).
pub fn is_store_path(path: &Path) -> bool {
    StoreSpec::parse(path).is_some()
}

/// Lines `fastnet data inspect` prints for a store beyond what every file
/// gets: members, missing dates, the statistics period, the anemoi names.
pub fn describe_store(store: &AnemoiStore) -> Vec<(String, String)> {
    let mut out = Vec::new();
    out.push((
        "store".into(),
        format!(
            "{} dates every {} h, {} variables, {} values{}",
            store.dates.len(),
            store.frequency_seconds as f64 / 3600.0,
            store.variables.len(),
            store.len_values(),
            match store.field_shape {
                Some([a, b]) => format!(" (field_shape {a} x {b})"),
                None => String::new(),
            }
        ),
    ));
    out.push((
        "members".into(),
        if store.ensembles > 1 {
            format!(
                "{} (reading member {}; choose with {}#member=N)",
                store.ensembles,
                store.member,
                store.spec.path.display()
            )
        } else {
            "1".into()
        },
    ));
    if !store.missing.is_empty() {
        let shown: Vec<String> = store
            .missing
            .iter()
            .take(5)
            .map(|&t| crate::time::format_time(t))
            .collect();
        out.push((
            "missing".into(),
            format!(
                "{} date(s) listed as missing, left out of the time axis: {}{}",
                store.missing.len(),
                shown.join(", "),
                if store.missing.len() > 5 { ", ..." } else { "" }
            ),
        ));
    }
    if let Some((a, b)) = store.statistics_period() {
        out.push((
            "statistics".into(),
            format!(
                "mean/stdev/minimum/maximum over {} .. {} (fastnet stats --from-dataset-statistics uses them)",
                crate::time::format_time(a),
                crate::time::format_time(b)
            ),
        ));
    }
    out
}
