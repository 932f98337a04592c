//! Climatologies for ACC: ERA5-layout data looked up by the valid time's day
//! of year and hour (any year), or a WeatherBench2 climatology.
//!
//! WeatherBench2 climatology layout (e.g. `1990-2019_6h_1440x721.zarr`):
//!
//! ```text
//! hour(hour)              0, 6, 12, 18 (absent in daily climatologies)
//! dayofyear(dayofyear)    1 .. 366
//! level(level)            hPa
//! latitude(latitude)      ascending
//! longitude(longitude)
//! geopotential(hour, dayofyear, level, latitude, longitude), 2m_temperature(...), ...
//! ```
//!
//! As in WeatherBench2's `ACC.compute_chunk`, the field is taken at
//! `dayofyear = valid_time.dt.dayofyear` (1-based, Dec 31 of a leap year is
//! 366) and `hour = valid_time.dt.hour`; a variable may also be called
//! `NAME_mean` (WeatherBench2's `_get_climatology_chunk`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fastnet_data::catalogue;
use fastnet_data::time::{day_of_year, format_time, Timestamp};
use fastnet_data::Dataset;
use fastnet_mesh::Grid;

use crate::forecast::file::geometry::{roles_of, Geometry, Role};
use crate::forecast::file::store::Store;

/// A WeatherBench2 climatology variable.
struct ClimVar {
    file_name: String,
    roles: Vec<Role>,
    levels: Option<Vec<u32>>,
}

/// An opened WeatherBench2 climatology (NetCDF or Zarr).
pub struct Wb2Climatology {
    path: PathBuf,
    store: Store,
    geometry: Geometry,
    /// `None` for a daily climatology (no `hour` dimension).
    hours: Option<Vec<i64>>,
    days: Vec<i64>,
    levels: Vec<u32>,
    /// By ERA5 short name.
    vars: BTreeMap<String, ClimVar>,
}

fn wb2_clim_role(d: &str) -> Option<Role> {
    Some(match d {
        "hour" => Role::Hour,
        "dayofyear" => Role::DayOfYear,
        "level" => Role::Level,
        "latitude" | "lat" => Role::Lat,
        "longitude" | "lon" => Role::Lon,
        _ => return None,
    })
}

impl Wb2Climatology {
    fn open(store: Store) -> Result<Wb2Climatology> {
        let path = store.path.clone();
        let ints = |name: &str| -> Result<Vec<i64>> {
            Ok(store
                .read_all_f64(name)?
                .into_iter()
                .map(|x| x.round() as i64)
                .collect())
        };
        let days = ints("dayofyear")?;
        // a daily climatology has no `hour` dimension (a scalar `hour` left
        // by xarray's isel does not make one)
        let hours = if store.has_dim("hour") {
            Some(ints("hour")?)
        } else {
            None
        };
        let levels: Vec<u32> = if store.var("level").is_some() {
            ints("level")?.into_iter().map(|l| l as u32).collect()
        } else {
            Vec::new()
        };
        let lat = if store.var("lat").is_some() && store.var("latitude").is_none() {
            "lat"
        } else {
            "latitude"
        };
        let lon = if store.var("lon").is_some() && store.var("longitude").is_none() {
            "lon"
        } else {
            "longitude"
        };
        let geometry = Geometry::of(&store, lat, lon, "values")?;
        let mut vars = BTreeMap::new();
        for v in &store.vars {
            let Ok(roles) = roles_of(v, wb2_clim_role, false) else {
                continue;
            };
            if !roles.contains(&Role::DayOfYear) {
                continue;
            }
            let has_level = roles.contains(&Role::Level);
            let base = v.name.strip_suffix("_mean").unwrap_or(&v.name);
            let Some(info) = catalogue::lookup(&v.name, has_level)
                .or_else(|| catalogue::lookup(base, has_level))
            else {
                continue;
            };
            // Static fields (a level-less geopotential is the orography)
            // have no ACC and must not shadow the upper-air entry.
            if info.kind == catalogue::VarKind::Static {
                continue;
            }
            // the plain name wins over NAME_mean
            if vars.contains_key(info.short) && v.name != base {
                continue;
            }
            vars.insert(
                info.short.to_string(),
                ClimVar {
                    file_name: v.name.clone(),
                    roles,
                    levels: has_level.then(|| levels.clone()),
                },
            );
        }
        if vars.is_empty() {
            bail!(
                "{}: a WeatherBench2 climatology (dims hour x dayofyear x [level] x latitude x longitude) with no variable the catalogue knows",
                path.display()
            );
        }
        Ok(Wb2Climatology {
            path,
            store,
            geometry,
            hours,
            days,
            levels,
            vars,
        })
    }

    /// `out` — `[npoints]` — the climatology of `var` at `level` for the
    /// valid time `valid`; `Ok(false)` when the climatology lacks that
    /// variable or level; an error when it lacks the valid time's day of
    /// year or hour.
    fn field(
        &self,
        var: &str,
        level: Option<u32>,
        valid: Timestamp,
        out: &mut [f32],
    ) -> Result<bool> {
        let Some(cv) = self.vars.get(var) else {
            return Ok(false);
        };
        let lev = match (level, &cv.levels) {
            (Some(l), Some(_)) => match self.levels.iter().position(|&x| x == l) {
                Some(k) => Some(k),
                None => return Ok(false),
            },
            (None, None) => None,
            _ => return Ok(false),
        };
        let doy = i64::from(day_of_year(valid).0) + 1;
        let hour = valid.rem_euclid(86400) / 3600;
        let d = self.days.iter().position(|&x| x == doy).with_context(|| {
            format!(
                "{}: no dayofyear {doy} (valid time {}) in the climatology's {} days",
                self.path.display(),
                format_time(valid),
                self.days.len()
            )
        })?;
        let h = match &self.hours {
            None => None,
            Some(hs) => Some(hs.iter().position(|&x| x == hour).with_context(|| {
                format!(
                    "{}: no hour {hour} (valid time {}) in the climatology (hours {hs:?})",
                    self.path.display(),
                    format_time(valid)
                )
            })?),
        };
        let sv = self
            .store
            .var(&cv.file_name)
            .with_context(|| format!("{}: `{}`", self.path.display(), cv.file_name))?;
        let f = self
            .geometry
            .read(&self.store, sv, &cv.roles, |r| match r {
                Role::DayOfYear => Some(d),
                Role::Hour => h,
                Role::Level => lev,
                _ => None,
            })?;
        if f.len() != out.len() {
            bail!(
                "{}: climatology fields have {} points, expected {}",
                self.path.display(),
                f.len(),
                out.len()
            );
        }
        out.copy_from_slice(&f);
        Ok(true)
    }
}

/// A climatology for ACC.
pub enum Climatology {
    /// ERA5-layout data whose fields are looked up by the valid time's day
    /// of year and hour (any year).
    Era5 {
        ds: Dataset,
        by_doy_hour: BTreeMap<(u32, i64), Timestamp>,
    },
    /// A WeatherBench2 climatology (`hour` x `dayofyear`).
    Wb2(Wb2Climatology),
}

impl Climatology {
    /// An ERA5-layout climatology.
    pub fn new(ds: Dataset) -> Climatology {
        let by_doy_hour = ds
            .times
            .iter()
            .map(|&t| ((day_of_year(t).0, t.rem_euclid(86400) / 3600), t))
            .collect();
        Climatology::Era5 { ds, by_doy_hour }
    }

    /// Opens `path`: a WeatherBench2 climatology (a `dayofyear`
    /// dimension; NetCDF or Zarr) or ERA5-layout data.
    pub fn open(path: &Path) -> Result<Climatology> {
        if let Ok(store) = Store::open(path) {
            if store.has_dim("dayofyear") {
                return Ok(Climatology::Wb2(Wb2Climatology::open(store).with_context(
                    || format!("opening climatology {}", path.display()),
                )?));
            }
        }
        let ds = Dataset::open(std::slice::from_ref(&path))
            .with_context(|| format!("opening climatology {}", path.display()))?;
        Ok(Climatology::new(ds))
    }

    /// The climatology's grid.
    pub fn grid(&self) -> &Grid {
        match self {
            Climatology::Era5 { ds, .. } => &ds.grid,
            Climatology::Wb2(c) => &c.geometry.grid,
        }
    }

    /// Where it was read from, for messages.
    pub fn describe(&self) -> String {
        match self {
            Climatology::Era5 { ds, .. } => format!("{} file(s)", ds.files.len()),
            Climatology::Wb2(c) => c.path.display().to_string(),
        }
    }

    /// `out` — `[npoints]` — the climatology of `var` at `level` for the
    /// valid time; `Ok(false)` when it has no such field.
    pub(crate) fn field(
        &self,
        var: &str,
        level: Option<u32>,
        valid: Timestamp,
        out: &mut [f32],
    ) -> Result<bool> {
        match self {
            Climatology::Era5 { ds, by_doy_hour } => {
                let key = (day_of_year(valid).0, valid.rem_euclid(86400) / 3600);
                let Some(&t) = by_doy_hour.get(&key) else {
                    return Ok(false);
                };
                if !ds.has(var, level, t) {
                    return Ok(false);
                }
                ds.read_field(var, level, t, out)?;
                Ok(true)
            }
            Climatology::Wb2(c) => c.field(var, level, valid, out),
        }
    }
}
