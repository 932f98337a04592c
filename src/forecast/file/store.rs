//! A gridded CF file read the same way whether it is NetCDF or a Zarr store
//! (xarray's `to_zarr`, WeatherBench2's stores, our `--format zarr`
//! forecasts): variables with their dimension names, shapes and attributes,
//! hyperslabs as f32 in physical units, and CF time and duration
//! coordinates decoded.
//!
//! Packing is undone here (`scale_factor`, `add_offset`; `_FillValue` and
//! `missing_value` become NaN), so callers see physical values.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fastnet_data::time::{parse_date, Timestamp};
use fastnet_data::zarr::{is_zarr, ZarrArray, ZarrGroup};
use netcdf::AttributeValue;

/// An attribute value: text, or numbers (any numeric type, as f64).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Attr {
    Str(String),
    Nums(Vec<f64>),
}

/// One variable (or coordinate) of a [`Store`].
#[derive(Clone, Debug)]
pub(crate) struct StoreVar {
    pub name: String,
    /// Dimension names, outermost first.
    pub dims: Vec<String>,
    pub shape: Vec<usize>,
    pub attrs: BTreeMap<String, Attr>,
}

impl StoreVar {
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        match self.attrs.get(key) {
            Some(Attr::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn attr_nums(&self, key: &str) -> Option<&[f64]> {
        match self.attrs.get(key) {
            Some(Attr::Nums(v)) => Some(v),
            _ => None,
        }
    }
}

enum Backend {
    Netcdf(netcdf::File),
    /// One opened array per entry of `Store::vars`.
    Zarr(Vec<ZarrArray>),
}

/// An opened NetCDF file or Zarr store.
pub(crate) struct Store {
    pub path: PathBuf,
    pub vars: Vec<StoreVar>,
    /// Global text attributes.
    pub attributes: BTreeMap<String, String>,
    backend: Backend,
}

fn netcdf_attr(v: AttributeValue) -> Option<Attr> {
    use AttributeValue as A;
    let nums = |v: Vec<f64>| Some(Attr::Nums(v));
    match v {
        A::Str(s) => Some(Attr::Str(s)),
        A::Strs(s) => Some(Attr::Str(s.join(" "))),
        A::Double(x) => nums(vec![x]),
        A::Doubles(x) => nums(x),
        A::Float(x) => nums(vec![x.into()]),
        A::Floats(x) => nums(x.into_iter().map(f64::from).collect()),
        A::Int(x) => nums(vec![x.into()]),
        A::Ints(x) => nums(x.into_iter().map(f64::from).collect()),
        A::Short(x) => nums(vec![x.into()]),
        A::Shorts(x) => nums(x.into_iter().map(f64::from).collect()),
        A::Schar(x) => nums(vec![x.into()]),
        A::Uchar(x) => nums(vec![x.into()]),
        A::Ushort(x) => nums(vec![x.into()]),
        A::Uint(x) => nums(vec![x.into()]),
        A::Longlong(x) => nums(vec![x as f64]),
        A::Longlongs(x) => nums(x.into_iter().map(|v| v as f64).collect()),
        A::Ulonglong(x) => nums(vec![x as f64]),
        _ => None,
    }
}

fn json_attr(v: &serde_json::Value) -> Option<Attr> {
    use serde_json::Value as V;
    match v {
        V::String(s) => Some(Attr::Str(s.clone())),
        V::Number(n) => n.as_f64().map(|x| Attr::Nums(vec![x])),
        V::Array(a) => {
            let xs: Option<Vec<f64>> = a.iter().map(|x| x.as_f64()).collect();
            match xs {
                Some(xs) => Some(Attr::Nums(xs)),
                None => {
                    let ss: Option<Vec<&str>> = a.iter().map(|x| x.as_str()).collect();
                    ss.map(|s| Attr::Str(s.join(" ")))
                }
            }
        }
        _ => None,
    }
}

impl Store {
    /// Opens `path`: a Zarr store (a folder, [`is_zarr`]) or a NetCDF file.
    pub fn open(path: &Path) -> Result<Store> {
        if !path.exists() {
            bail!("{}: no such file or folder", path.display());
        }
        if is_zarr(path) || path.is_dir() {
            let g = ZarrGroup::open(path)?;
            let mut vars = Vec::new();
            let mut arrays = Vec::new();
            for name in g.array_names() {
                let a = g.array(&name)?;
                let mut attrs: BTreeMap<String, Attr> = a
                    .attributes()
                    .iter()
                    .filter_map(|(k, v)| json_attr(v).map(|a| (k.clone(), a)))
                    .collect();
                // xarray keeps `_FillValue` as the array's fill_value and
                // reports it as the attribute when it reads (so must we, or
                // packed missing points would decode as plausible numbers).
                if let Some(fill) = a.fill_value() {
                    attrs
                        .entry("_FillValue".into())
                        .or_insert(Attr::Nums(vec![fill]));
                }
                let dims = a.dims();
                let shape: Vec<usize> = a.shape().iter().map(|&n| n as usize).collect();
                if dims.len() != shape.len() {
                    bail!(
                        "{}: array `{name}` names {} dimensions ({}) in _ARRAY_DIMENSIONS but has {} ({shape:?}); expected one name per dimension",
                        path.display(),
                        dims.len(),
                        dims.join(", "),
                        shape.len()
                    );
                }
                vars.push(StoreVar {
                    name: name.clone(),
                    dims,
                    shape,
                    attrs,
                });
                arrays.push(a);
            }
            let attributes = g
                .attributes()
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect();
            return Ok(Store {
                path: path.to_path_buf(),
                vars,
                attributes,
                backend: Backend::Zarr(arrays),
            });
        }
        fastnet_data::scan::quiet_hdf5();
        let f = netcdf::open(path).with_context(|| format!("opening {}", path.display()))?;
        let vars = f
            .variables()
            .map(|v| StoreVar {
                name: v.name(),
                dims: v.dimensions().iter().map(|d| d.name()).collect(),
                shape: v.dimensions().iter().map(|d| d.len()).collect(),
                attrs: v
                    .attributes()
                    .filter_map(|a| {
                        let name = a.name().to_string();
                        a.value().ok().and_then(netcdf_attr).map(|v| (name, v))
                    })
                    .collect(),
            })
            .collect();
        let attributes = f
            .attributes()
            .filter_map(|a| match a.value() {
                Ok(AttributeValue::Str(s)) => Some((a.name().to_string(), s)),
                _ => None,
            })
            .collect();
        Ok(Store {
            path: path.to_path_buf(),
            vars,
            attributes,
            backend: Backend::Netcdf(f),
        })
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.vars.iter().position(|v| v.name == name)
    }

    pub fn var(&self, name: &str) -> Option<&StoreVar> {
        self.index(name).map(|k| &self.vars[k])
    }

    /// Whether any variable has the dimension `dim`.
    pub fn has_dim(&self, dim: &str) -> bool {
        self.vars.iter().any(|v| v.dims.iter().any(|d| d == dim))
    }

    /// The variable `name`, or an error naming what was expected of it.
    pub fn need(&self, name: &str, what: &str) -> Result<&StoreVar> {
        self.var(name)
            .with_context(|| format!("{}: no `{name}` variable ({what})", self.path.display()))
    }

    /// The whole of the 1-D coordinate `name` as f64 (raw stored values).
    pub fn read_all_f64(&self, name: &str) -> Result<Vec<f64>> {
        let k = self
            .index(name)
            .with_context(|| format!("{}: no `{name}` coordinate", self.path.display()))?;
        let ctx = || format!("{}: reading `{name}`", self.path.display());
        match &self.backend {
            Backend::Netcdf(f) => f
                .variable(name)
                .with_context(ctx)?
                .get_values::<f64, _>(..)
                .with_context(ctx),
            Backend::Zarr(a) => a[k].read_all_f64().with_context(ctx),
        }
    }

    /// The hyperslab `ranges` (one per dimension) of `name` in C order, f32
    /// in physical units (scale/offset applied, fill values NaN).
    pub fn read_f32(&self, name: &str, ranges: &[Range<usize>]) -> Result<Vec<f32>> {
        let k = self
            .index(name)
            .with_context(|| format!("{}: no variable `{name}`", self.path.display()))?;
        let ctx = || format!("{}: reading `{name}`", self.path.display());
        let mut x = match &self.backend {
            Backend::Netcdf(f) => {
                fastnet_data::scan::quiet_hdf5();
                f.variable(name)
                    .with_context(ctx)?
                    .get_values::<f32, _>(ranges.to_vec())
                    .with_context(ctx)?
            }
            Backend::Zarr(a) => {
                let r: Vec<Range<u64>> = ranges
                    .iter()
                    .map(|r| r.start as u64..r.end as u64)
                    .collect();
                a[k].read_f32(&r).with_context(ctx)?
            }
        };
        let v = &self.vars[k];
        let fills: Vec<f32> = ["_FillValue", "missing_value"]
            .iter()
            .filter_map(|key| v.attr_nums(key))
            .flatten()
            .map(|&f| f as f32)
            .filter(|f| !f.is_nan())
            .collect();
        let scale = v.attr_nums("scale_factor").and_then(|s| s.first().copied());
        let offset = v.attr_nums("add_offset").and_then(|s| s.first().copied());
        if !fills.is_empty() || scale.is_some() || offset.is_some() {
            let (s, o) = (scale.unwrap_or(1.0), offset.unwrap_or(0.0));
            for e in &mut x {
                if fills.contains(e) {
                    *e = f32::NAN;
                } else if scale.is_some() || offset.is_some() {
                    *e = (f64::from(*e) * s + o) as f32;
                }
            }
        }
        Ok(x)
    }

    /// A CF time coordinate (`"UNIT since DATE"`, UNIT from nanoseconds to
    /// days) as timestamps, rounded to the second.
    pub fn read_times(&self, name: &str) -> Result<Vec<Timestamp>> {
        let v = self.need(name, "a time coordinate")?;
        let units = v.attr_str("units").unwrap_or("");
        let (unit, epoch) = units
            .split_once(" since ")
            .and_then(|(u, d)| {
                let d = d.trim().trim_end_matches(" UTC").trim_end_matches('Z');
                let d = d.trim_end_matches("+00:00").trim_end_matches(" +0000");
                Some((seconds_per_unit(u)?, parse_date(d)?))
            })
            .with_context(|| {
                format!(
                    "{}: `{name}` has units {units:?}; expected CF \"UNIT since DATE\" (e.g. \"hours since 1970-01-01\")",
                    self.path.display()
                )
            })?;
        self.read_all_f64(name)?
            .into_iter()
            .enumerate()
            .map(|(k, x)| {
                if x.is_finite() {
                    Ok(epoch + (x * unit).round() as i64)
                } else {
                    bail!(
                        "{}: `{name}`[{k}] is {x} (NaT or missing); expected a time",
                        self.path.display()
                    )
                }
            })
            .collect()
    }

    /// A CF duration coordinate (units `nanoseconds` .. `days`) in whole
    /// hours; a duration that is not a whole number of hours is an error.
    pub fn read_hours(&self, name: &str) -> Result<Vec<i64>> {
        let v = self.need(name, "a lead-time coordinate")?;
        let units = v.attr_str("units").unwrap_or("");
        let unit = seconds_per_unit(units).with_context(|| {
            format!(
                "{}: `{name}` has units {units:?}; expected a CF duration unit (nanoseconds, seconds, minutes, hours or days)",
                self.path.display()
            )
        })?;
        self.read_all_f64(name)?
            .into_iter()
            .map(|x| {
                let s = x * unit;
                let h = (s / 3600.0).round();
                if (s - h * 3600.0).abs() > 1e-3 {
                    bail!(
                        "{}: `{name}` holds {x} {units}, not a whole number of hours",
                        self.path.display()
                    );
                }
                Ok(h as i64)
            })
            .collect()
    }
}

/// Seconds in one CF time unit (`hours`, `ns`, `days`, ...).
fn seconds_per_unit(unit: &str) -> Option<f64> {
    Some(match unit.trim().to_ascii_lowercase().as_str() {
        "nanosecond" | "nanoseconds" | "ns" => 1e-9,
        "microsecond" | "microseconds" | "us" => 1e-6,
        "millisecond" | "milliseconds" | "ms" => 1e-3,
        "second" | "seconds" | "s" | "sec" | "secs" => 1.0,
        "minute" | "minutes" | "min" | "mins" => 60.0,
        "hour" | "hours" | "h" | "hr" | "hrs" => 3600.0,
        "day" | "days" | "d" => 86400.0,
        _ => return None,
    })
}
