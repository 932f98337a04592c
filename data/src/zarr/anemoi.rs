//! The anemoi-datasets training store (Zarr v2, as `anemoi-datasets
//! create` writes it; DESIGN §9).
//!
//! ```text
//! data        float32 (dates, variables, ensembles, values)   chunks (1, variables, 1, values)
//! latitudes   float64 (values)      longitudes float64 (values)
//! mean, stdev, minimum, maximum     float64 (variables)
//! dates       datetime64[s] (dates)
//! attributes  variables ["t_500", "2t", ...], start_date, end_date, frequency ("6h"),
//!             missing_dates [...], field_shape [nlat, nlon] (lat-lon sources),
//!             statistics_start_date, statistics_end_date, variables_metadata
//! ```
//!
//! Dates are rebuilt from `start_date`, `frequency` and the length of
//! `data` and checked against `end_date` (`dates` itself is numpy
//! datetime64, which Zarr readers outside numpy do not decode). Dates listed
//! in `missing_dates` are left out of the time axis, so no window ever
//! contains one. A store with more than one ensemble member is read for one
//! member only, chosen explicitly: `store.zarr#member=N`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::group::{ZarrArray, ZarrGroup};
use crate::error::{DataError, Result};
use crate::time::{format_time, parse_date, Timestamp};

/// A store path with the member to read: `era5.zarr` or `ens.zarr#member=3`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreSpec {
    pub path: PathBuf,
    pub member: Option<usize>,
}

impl StoreSpec {
    /// `Some` when `text` names a Zarr store (a folder that is one, or any
    /// `*.zarr` path, with an optional `#member=N`); `None` otherwise.
    pub fn parse(text: &Path) -> Option<Result<StoreSpec>> {
        let s = text.to_string_lossy();
        let (base, member) = match s.rsplit_once("#member=") {
            Some((b, m)) => (b.to_string(), Some(m.to_string())),
            None => (s.to_string(), None),
        };
        let path = PathBuf::from(&base);
        if !(super::is_zarr(&path) || base.trim_end_matches('/').ends_with(".zarr")) {
            return None;
        }
        let member = match member {
            None => None,
            Some(m) => match m.parse::<usize>() {
                Ok(n) => Some(n),
                Err(_) => {
                    return Some(Err(DataError::BadConfig {
                        field: format!("{base}#member"),
                        value: m,
                        expected: "a member index 0, 1, ... (store.zarr#member=N)".into(),
                    }))
                }
            },
        };
        Some(Ok(StoreSpec { path, member }))
    }

    /// `era5.zarr` or `ens.zarr#member=3`.
    pub fn display(&self) -> String {
        match self.member {
            Some(m) => format!("{}#member={m}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }
}

/// Per-variable statistics the store carries.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StoreStatistics {
    pub variable: String,
    pub mean: f64,
    pub stdev: f64,
    pub minimum: f64,
    pub maximum: f64,
}

/// An opened anemoi-datasets store.
pub struct AnemoiStore {
    pub spec: StoreSpec,
    group: ZarrGroup,
    data: ZarrArray,
    /// Variable names in store order (`t_500`, `2t`, ...).
    pub variables: Vec<String>,
    /// Every date of the store, in order (`data`'s first axis).
    pub dates: Vec<Timestamp>,
    /// Dates the store lists as missing.
    pub missing: Vec<Timestamp>,
    pub frequency_seconds: i64,
    pub ensembles: usize,
    /// The member read.
    pub member: usize,
    pub latitudes: Vec<f64>,
    pub longitudes: Vec<f64>,
    /// `[nlat, nlon]` for lat-lon sources; `None` for reduced grids.
    pub field_shape: Option<[usize; 2]>,
    /// Units by variable from `variables_metadata`, where given.
    pub units: Vec<Option<String>>,
    cache: Mutex<VecDeque<(usize, Arc<Vec<f32>>)>>,
}

impl std::fmt::Debug for AnemoiStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnemoiStore")
            .field("spec", &self.spec)
            .field("variables", &self.variables)
            .field("dates", &self.dates.len())
            .finish()
    }
}

/// Bytes of decoded dates kept (all variables of a date are decoded at
/// once, as the store chunks them; the channels of a state and overlapping
/// windows then reuse them). At most [`CACHE_DATES`] dates.
const CACHE_BYTES: usize = 64 << 20;
const CACHE_DATES: usize = 16;

/// `6h`, `12h`, `1d`, `30m`, `3600s`, or a bare number of hours.
pub fn parse_frequency(text: &str) -> Option<i64> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = num.parse().ok().filter(|&n| n > 0)?;
    let scale = match unit.trim() {
        "" | "h" | "H" => 3600,
        "d" | "D" => 86400,
        "m" | "min" => 60,
        "s" => 1,
        _ => return None,
    };
    Some(n * scale)
}

fn attr_str<'a>(g: &'a ZarrGroup, name: &str) -> Option<&'a str> {
    g.attributes().get(name).and_then(Value::as_str)
}

impl AnemoiStore {
    /// Opens and checks the store of `spec`.
    pub fn open(spec: &StoreSpec) -> Result<AnemoiStore> {
        let path = spec.path.as_path();
        let group = ZarrGroup::open(path)?;
        let bad = |what: String, expected: &str| DataError::AnemoiStore {
            path: path.to_path_buf(),
            what,
            expected: expected.to_string(),
        };
        for name in ["data", "latitudes", "longitudes"] {
            if !group.has_array(name) {
                return Err(bad(
                    format!(
                        "no `{name}` array (arrays: {})",
                        group.array_names().join(", ")
                    ),
                    "an anemoi-datasets store (data, latitudes, longitudes, mean, stdev, ...)",
                ));
            }
        }
        let data = group.array("data")?;
        let shape: Vec<usize> = data.shape().iter().map(|&n| n as usize).collect();
        if shape.len() != 4 {
            return Err(bad(
                format!("`data` has shape {shape:?}"),
                "4 dimensions (dates, variables, ensembles, values)",
            ));
        }
        let (nd, nv, ne, np) = (shape[0], shape[1], shape[2], shape[3]);
        let variables: Vec<String> = match group.attributes().get("variables") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    bad(
                        "attribute `variables` holds a non-string".into(),
                        "a list of names",
                    )
                })?,
            _ => {
                return Err(bad(
                    "no attribute `variables`".into(),
                    "a list of variable names such as [\"t_500\", \"2t\"]",
                ))
            }
        };
        if variables.len() != nv {
            return Err(bad(
                format!(
                    "{} names in `variables` but `data` has {nv} variables",
                    variables.len()
                ),
                "one name per variable",
            ));
        }
        let start_text = attr_str(&group, "start_date").unwrap_or("");
        let start = parse_date(start_text).ok_or_else(|| {
            bad(
                format!("start_date {start_text:?}"),
                "an ISO date such as 2020-01-01T00:00:00",
            )
        })?;
        let freq_text = match group.attributes().get("frequency") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let freq = parse_frequency(&freq_text).ok_or_else(|| {
            bad(
                format!("frequency {freq_text:?}"),
                "a frequency such as \"6h\" or \"1d\"",
            )
        })?;
        let dates: Vec<Timestamp> = (0..nd as i64).map(|k| start + k * freq).collect();
        if let Some(end_text) = attr_str(&group, "end_date") {
            let end = parse_date(end_text)
                .ok_or_else(|| bad(format!("end_date {end_text:?}"), "an ISO date"))?;
            if dates.last() != Some(&end) {
                return Err(bad(
                    format!(
                        "`data` has {nd} dates every {freq_text} from {}, ending {}, but end_date is {end_text}",
                        format_time(start),
                        dates.last().map_or("-".into(), |&t| format_time(t)),
                    ),
                    "a complete store (was `anemoi-datasets create` interrupted?)",
                ));
            }
        }
        let missing: Vec<Timestamp> = match group.attributes().get("missing_dates") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .and_then(parse_date)
                        .ok_or_else(|| bad(format!("missing_dates entry {v}"), "ISO dates"))
                })
                .collect::<Result<_>>()?,
            _ => Vec::new(),
        };
        let member = match (spec.member, ne) {
            (Some(m), _) if m < ne => m,
            (Some(m), _) => {
                return Err(bad(
                    format!("member {m} was asked for but the store has {ne} ensemble member(s)"),
                    &format!("a member from 0 to {}", ne.saturating_sub(1)),
                ))
            }
            (None, 1) => 0,
            (None, _) => {
                return Err(bad(
                    format!("the store has {ne} ensemble members"),
                    &format!(
                        "one chosen explicitly: {}#member=N with N from 0 to {}",
                        path.display(),
                        ne - 1
                    ),
                ))
            }
        };
        let latitudes = group.array("latitudes")?.read_all_f64()?;
        let longitudes = group.array("longitudes")?.read_all_f64()?;
        if latitudes.len() != np || longitudes.len() != np {
            return Err(bad(
                format!(
                    "{} latitudes and {} longitudes for {np} values",
                    latitudes.len(),
                    longitudes.len()
                ),
                "one latitude and longitude per value",
            ));
        }
        let field_shape = match group.attributes().get("field_shape") {
            Some(Value::Array(a)) if a.len() == 2 => {
                let d: Vec<usize> = a
                    .iter()
                    .filter_map(|x| x.as_u64().map(|x| x as usize))
                    .collect();
                (d.len() == 2 && d[0] * d[1] == np).then(|| [d[0], d[1]])
            }
            _ => None,
        };
        let meta = group.attributes().get("variables_metadata");
        let units = variables
            .iter()
            .map(|v| {
                meta.and_then(|m| m.get(v))
                    .and_then(|m| m.get("units"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        Ok(AnemoiStore {
            spec: spec.clone(),
            group,
            data,
            variables,
            dates,
            missing,
            frequency_seconds: freq,
            ensembles: ne,
            member,
            latitudes,
            longitudes,
            field_shape,
            units,
            cache: Mutex::new(VecDeque::new()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.spec.path
    }

    /// Number of grid points.
    pub fn len_values(&self) -> usize {
        self.latitudes.len()
    }

    /// The store's per-variable statistics (`mean`, `stdev`, `minimum`,
    /// `maximum`), in store order.
    pub fn statistics(&self) -> Result<Vec<StoreStatistics>> {
        let mut cols = Vec::new();
        for name in ["mean", "stdev", "minimum", "maximum"] {
            let a = self.group.array(name)?;
            let v = a.read_all_f64()?;
            if v.len() != self.variables.len() {
                return Err(DataError::AnemoiStore {
                    path: self.spec.path.clone(),
                    what: format!(
                        "`{name}` has {} values for {} variables",
                        v.len(),
                        self.variables.len()
                    ),
                    expected: "one statistic per variable".into(),
                });
            }
            cols.push(v);
        }
        Ok(self
            .variables
            .iter()
            .enumerate()
            .map(|(i, v)| StoreStatistics {
                variable: v.clone(),
                mean: cols[0][i],
                stdev: cols[1][i],
                minimum: cols[2][i],
                maximum: cols[3][i],
            })
            .collect())
    }

    /// The period the store's statistics cover
    /// (`statistics_start_date`..`statistics_end_date`), if given.
    pub fn statistics_period(&self) -> Option<(Timestamp, Timestamp)> {
        let a = attr_str(&self.group, "statistics_start_date").and_then(parse_date)?;
        let b = attr_str(&self.group, "statistics_end_date").and_then(parse_date)?;
        Some((a, b))
    }

    /// All variables at store date `date_index` for the chosen member,
    /// `[variables * values]`, cached.
    fn date_block(&self, date_index: usize) -> Result<Arc<Vec<f32>>> {
        if let Ok(cache) = self.cache.lock() {
            if let Some((_, b)) = cache.iter().find(|(d, _)| *d == date_index) {
                return Ok(b.clone());
            }
        }
        let (nv, np) = (self.variables.len() as u64, self.len_values() as u64);
        let d = date_index as u64;
        let m = self.member as u64;
        let block = Arc::new(self.data.read_f32(&[d..d + 1, 0..nv, m..m + 1, 0..np])?);
        if let Ok(mut cache) = self.cache.lock() {
            let cap = (CACHE_BYTES / (block.len() * 4).max(1)).clamp(1, CACHE_DATES);
            while cache.len() >= cap {
                cache.pop_front();
            }
            cache.push_back((date_index, block.clone()));
        }
        Ok(block)
    }

    /// Reads variable `var_index` at store date `date_index` (raw store
    /// order: the source's point order) into `out` (`[values]`).
    pub fn read_variable(
        &self,
        var_index: usize,
        date_index: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let np = self.len_values();
        if var_index >= self.variables.len() || date_index >= self.dates.len() || out.len() != np {
            return Err(DataError::read(
                &self.spec.path,
                "data",
                format!(
                    "variable {var_index} of {}, date {date_index} of {}, buffer of {} for {np} values",
                    self.variables.len(),
                    self.dates.len(),
                    out.len()
                ),
            ));
        }
        let block = self.date_block(date_index)?;
        out.copy_from_slice(&block[var_index * np..(var_index + 1) * np]);
        Ok(())
    }
}
