//! Reading forecast files: ours (the layout at the top of
//! [`super`], NetCDF or `--format zarr`) and WeatherBench2's (NetCDF or
//! Zarr).
//!
//! WeatherBench2 forecast layout (`weatherbench2/evaluation.py`,
//! `schema.apply_time_conventions` with `by_init`):
//!
//! ```text
//! time(time)                          init time, CF "UNIT since DATE"
//! prediction_timedelta(prediction_timedelta)   CF duration (hours, days, nanoseconds, ...)
//! level(level)                        hPa
//! latitude(latitude)                  ascending (WB2's make_latitude_increasing)
//! longitude(longitude)                0 -> 360
//! geometry(time, prediction_timedelta, level, latitude, longitude)   CDS long names:
//!   geopotential, temperature, u_component_of_wind, 2m_temperature,
//!   10m_u_component_of_wind, mean_sea_level_pressure, ...
//! ```
//!
//! Dimensions may come in any order; a field is always returned in our
//! point order (north to south, 0° eastward). WeatherBench2 variable names
//! are mapped to ERA5 short names through the catalogue; variables it does
//! not know, and variables with other dimensions (an ensemble
//! `realization`), are left out and listed in [`ForecastFile::ignored`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fastnet_data::catalogue::{self, VarKind};
use fastnet_data::channels::ChannelSet;
use fastnet_data::time::{Timestamp, HOUR};
use fastnet_mesh::Grid;

use super::geometry::{roles_of, Geometry, Role};
use super::store::Store;
use super::ForecastVar;

/// Which layout a forecast file has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileLayout {
    /// `init_time`, `lead_time`, latitude north to south, ERA5 short names.
    Fastnet,
    /// `time` (init), `prediction_timedelta`, latitude ascending, CDS long names.
    WeatherBench2,
}

/// How to read one variable of the file.
struct VarIo {
    /// The variable's name in the file (`2m_temperature` for `t2m`).
    file_name: String,
    roles: Vec<Role>,
}

/// An opened forecast file (NetCDF or Zarr, our layout or WeatherBench2's).
pub struct ForecastFile {
    pub path: PathBuf,
    pub grid: Grid,
    pub init_times: Vec<Timestamp>,
    pub lead_hours: Vec<i64>,
    pub levels: Vec<u32>,
    /// ERA5 short names and the levels each variable has.
    pub vars: Vec<ForecastVar>,
    /// Every (variable, level) of the file as forecast channels (`z500`,
    /// `t2m`), in file order.
    pub channels: ChannelSet,
    pub attributes: BTreeMap<String, String>,
    pub layout: FileLayout,
    /// Variables of the file that are not read: `name (why)`.
    pub ignored: Vec<String>,
    store: Store,
    geometry: Geometry,
    /// One per entry of `vars`.
    io: Vec<VarIo>,
}

/// What a dimension name is, in one layout.
type RoleOf = fn(&str) -> Option<Role>;

fn fastnet_role(d: &str) -> Option<Role> {
    Some(match d {
        "init_time" => Role::Init,
        "lead_time" => Role::Lead,
        "level" => Role::Level,
        "latitude" => Role::Lat,
        "longitude" => Role::Lon,
        "values" => Role::Points,
        _ => return None,
    })
}

fn wb2_role(d: &str) -> Option<Role> {
    Some(match d {
        "time" | "init_time" => Role::Init,
        "prediction_timedelta" | "lead_time" => Role::Lead,
        "level" => Role::Level,
        "latitude" | "lat" => Role::Lat,
        "longitude" | "lon" => Role::Lon,
        _ => return None,
    })
}

/// The name of the first of `names` that `store` has.
fn first_of<'a>(store: &Store, names: &[&'a str]) -> Option<&'a str> {
    names.iter().copied().find(|n| store.var(n).is_some())
}

impl ForecastFile {
    /// Opens a forecast file: NetCDF or a Zarr store, in our layout
    /// (`init_time`, `lead_time`) or WeatherBench2's (`time`,
    /// `prediction_timedelta`).
    pub fn open(path: &Path) -> Result<ForecastFile> {
        let store = Store::open(path)
            .with_context(|| format!("opening forecast file {}", path.display()))?;
        let layout = if store.var("init_time").is_some() && store.var("lead_time").is_some() {
            FileLayout::Fastnet
        } else if store.var("time").is_some() && store.var("prediction_timedelta").is_some() {
            FileLayout::WeatherBench2
        } else {
            bail!(
                "{}: not a forecast file: expected `init_time` and `lead_time` coordinates (fastnet) or `time` and `prediction_timedelta` (WeatherBench2); the file has {}",
                path.display(),
                store
                    .vars
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let (init_name, lead_name, role_of): (&str, &str, RoleOf) = match layout {
            FileLayout::Fastnet => ("init_time", "lead_time", fastnet_role),
            FileLayout::WeatherBench2 => ("time", "prediction_timedelta", wb2_role),
        };
        let init_times = store.read_times(init_name)?;
        let lead_hours = store.read_hours(lead_name)?;
        let (lat_name, lon_name) = match layout {
            FileLayout::WeatherBench2 => (
                first_of(&store, &["latitude", "lat"]).unwrap_or("latitude"),
                first_of(&store, &["longitude", "lon"]).unwrap_or("longitude"),
            ),
            FileLayout::Fastnet => ("latitude", "longitude"),
        };
        let points = layout == FileLayout::Fastnet && store.has_dim("values");
        let geometry = Geometry::of(&store, lat_name, lon_name, "values")?;
        let levels: Vec<u32> = if store.var("level").is_some() {
            store
                .read_all_f64("level")?
                .into_iter()
                .map(|x| x.round() as u32)
                .collect()
        } else {
            Vec::new()
        };
        let coords = [
            init_name,
            lead_name,
            "valid_time",
            "level",
            lat_name,
            lon_name,
        ];
        let mut vars: Vec<ForecastVar> = Vec::new();
        let mut io = Vec::new();
        let mut ignored = Vec::new();
        for v in &store.vars {
            if coords.contains(&v.name.as_str())
                || v.dims.is_empty()
                || v.dims.len() == 1 && v.dims[0] == v.name
            {
                continue;
            }
            let roles = match roles_of(v, role_of, points) {
                Ok(r) if r.contains(&Role::Init) && r.contains(&Role::Lead) => r,
                Ok(_) => {
                    ignored.push(format!("{} (no init and lead dimensions)", v.name));
                    continue;
                }
                Err(why) => {
                    ignored.push(format!("{} ({why})", v.name));
                    continue;
                }
            };
            let has_level = roles.contains(&Role::Level);
            let short = match layout {
                FileLayout::Fastnet => v.name.clone(),
                FileLayout::WeatherBench2 => match catalogue::lookup(&v.name, has_level) {
                    Some(info) if info.kind != VarKind::Static => info.short.to_string(),
                    _ => {
                        ignored.push(format!("{} (not in the variable catalogue)", v.name));
                        continue;
                    }
                },
            };
            if vars.iter().any(|x| x.name == short) {
                ignored.push(format!("{} (a second `{short}`)", v.name));
                continue;
            }
            let present = v
                .attr_nums("levels_present")
                .map(|ls| ls.iter().map(|&l| l.round() as u32).collect::<Vec<u32>>());
            vars.push(ForecastVar {
                name: short,
                levels: has_level.then(|| present.unwrap_or_else(|| levels.clone())),
            });
            io.push(VarIo {
                file_name: v.name.clone(),
                roles,
            });
        }
        if vars.is_empty() {
            bail!(
                "{}: no forecast variable to read{}",
                path.display(),
                if ignored.is_empty() {
                    String::new()
                } else {
                    format!(" (left out: {})", ignored.join(", "))
                }
            );
        }
        let names: Vec<String> = vars
            .iter()
            .flat_map(|v| match &v.levels {
                Some(ls) => ls.iter().map(|l| format!("{}{l}", v.name)).collect(),
                None => vec![v.name.clone()],
            })
            .collect();
        let channels = ChannelSet::forecast_only(&names)
            .with_context(|| format!("{}: variables", path.display()))?;
        Ok(ForecastFile {
            path: path.to_path_buf(),
            grid: geometry.grid.clone(),
            init_times,
            lead_hours,
            levels,
            vars,
            channels,
            attributes: store.attributes.clone(),
            layout,
            ignored,
            store,
            geometry,
            io,
        })
    }

    /// One field `[nlat * nlon]` or `[npoints]` (north to south) of `var`
    /// (ERA5 short name) at `level` for init `i`, lead `l`, physical units.
    pub fn read(&self, var: &str, level: Option<u32>, i: usize, l: usize) -> Result<Vec<f32>> {
        let path = self.path.display();
        let k = self
            .vars
            .iter()
            .position(|x| x.name == var)
            .with_context(|| format!("{path}: no variable `{var}`"))?;
        let lev = match (level, &self.vars[k].levels) {
            (Some(lev), Some(present)) => Some(
                self.levels
                    .iter()
                    .position(|&x| x == lev)
                    .filter(|_| present.contains(&lev))
                    .with_context(|| {
                        format!("{path}: `{var}` has no level {lev} hPa (levels {present:?})")
                    })?,
            ),
            (None, None) => None,
            (Some(lev), None) => {
                bail!("{path}: `{var}` is a surface variable, asked for level {lev}")
            }
            (None, Some(_)) => bail!("{path}: `{var}` is upper-air: give a level"),
        };
        if i >= self.init_times.len() || l >= self.lead_hours.len() {
            bail!(
                "{path}: no (init {i}, lead {l}) among its {} init times x {} leads",
                self.init_times.len(),
                self.lead_hours.len()
            );
        }
        let io = &self.io[k];
        let sv = self
            .store
            .var(&io.file_name)
            .with_context(|| format!("{path}: no variable `{}`", io.file_name))?;
        self.geometry
            .read(&self.store, sv, &io.roles, |r| match r {
                Role::Init => Some(i),
                Role::Lead => Some(l),
                Role::Level => lev,
                _ => None,
            })
            .with_context(|| format!("{path}: reading {var}"))
    }

    /// Valid time of (init `i`, lead `l`).
    pub fn valid_time(&self, i: usize, l: usize) -> Timestamp {
        self.init_times[i] + self.lead_hours[l] * HOUR
    }
}
