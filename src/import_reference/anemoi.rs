//! The release's channels: anemoi names and fastnet-inference's
//! normalisation (`stats.json`, `data.py`) mapped to fastnet channels and
//! [`Stats`].
//!
//! fastnet-inference reads its inputs from an anemoi dataset (ECMWF's
//! `era5-o96-1979-2023-6h-v8`): anemoi names (`z_500`, `10u`, `2t`,
//! `cos_latitude`, `insolation`, ...), the feature order being the key order
//! of `stats.json` = `{"mean": {name: value}, "stdev": {name: value}}` —
//! the F forecast channels first, then the non-forecast ones — and every
//! channel standardised `(x − mean) / stdev` except `cos_latitude`,
//! `cos_longitude` and `sin_longitude`, which enter raw; `orography` (m,
//! anemoi's `z_to_orog` of surface geopotential) is multiplied by
//! g = 9.80665 before standardising. The network receives
//! `[non-forecast, forecast]`, as ours does.
//!
//! The mapping ([`map_name`]), anemoi → fastnet:
//!
//! | anemoi | fastnet | normalisation |
//! |---|---|---|
//! | `{v}_{L}` (z, q, t, u, v, w, r) | `{v}{L}` | as stats.json |
//! | `10u` `10v` `2d` `2t` `msl` `skt` `sp` (any catalogue alias) | `u10` `v10` `d2m` `t2m` `msl` `skt` `sp` | as stats.json |
//! | `cos_latitude` `cos_longitude` `sin_longitude` | `cos_lat` `cos_lon` `sin_lon` | raw: mean 0, std 1 (stats.json's values unused) |
//! | `lsm` `sdor` `slor` | `lsm` `sdor` `slor` | as stats.json |
//! | `orography` (m; standardised as g·h) | `orography` (m, from surface geopotential z / g) | mean / g, stdev / g |
//! | `cos_julian_day` `sin_julian_day` | `cos_julian_day` `sin_julian_day` (anemoi's phase 2π jd / 365.25) | as stats.json |
//! | `cos_local_time` `sin_local_time` | `cos_local_time` `sin_local_time` (same definition) | as stats.json |
//! | `insolation` (earthkit's max(0, cos solar zenith angle) at the valid time) | `insolation` | as stats.json |
//!
//! Anything else (e.g. `sin_latitude`, which fastnet does not compute) is
//! an [`ImportError::UnmappedChannel`] naming it.

use std::path::{Path, PathBuf};

use fastnet_data::catalogue::{self, VarKind, STANDARD_GRAVITY_M_S2};
use fastnet_data::channels::ChannelSet;
use fastnet_data::stats::{ChannelStats, Stats, STATS_FORMAT};
use fastnet_mesh::Grid;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::ImportError;

/// Our names of anemoi's calendar phase (`2π jd / 365.25`).
pub const JULIAN_DAY: [&str; 2] = ["cos_julian_day", "sin_julian_day"];
/// Our name of anemoi's `insolation` (clipped cosine of the solar zenith
/// angle, earthkit-meteo's `cos_solar_zenith_angle`).
pub const INSOLATION: &str = "insolation";

/// `stats.json` of fastnet-inference, in key order.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceStats {
    pub path: PathBuf,
    /// anemoi names in key order (= the feature order).
    pub names: Vec<String>,
    /// Physical units of the anemoi channel (orography: m² s⁻², i.e. g·h).
    pub mean: Vec<f64>,
    pub stdev: Vec<f64>,
}

/// A JSON object's entries in document order.
struct Ordered(Vec<(String, f64)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ordered, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of channel name -> number")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut out: Vec<(String, f64)> = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, f64>()? {
                    if out.iter().any(|(name, _)| *name == k) {
                        return Err(serde::de::Error::custom(format!("channel {k:?} twice")));
                    }
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
struct StatsFile {
    mean: Ordered,
    stdev: Ordered,
}

impl ReferenceStats {
    pub fn load(path: &Path) -> Result<ReferenceStats, ImportError> {
        let text = std::fs::read_to_string(path).map_err(|e| ImportError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        ReferenceStats::parse(&text, path)
    }

    /// Parses `{"mean": {...}, "stdev": {...}}`; both objects must name the
    /// same channels in the same order, with finite values.
    pub fn parse(text: &str, path: &Path) -> Result<ReferenceStats, ImportError> {
        let bad = |reason: String| ImportError::BadStats {
            path: path.to_path_buf(),
            reason,
        };
        let f: StatsFile = serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "{e} (expected {{\"mean\": {{name: value}}, \"stdev\": {{name: value}}}})"
            ))
        })?;
        let names: Vec<String> = f.mean.0.iter().map(|(k, _)| k.clone()).collect();
        let sd_names: Vec<&str> = f.stdev.0.iter().map(|(k, _)| k.as_str()).collect();
        if names != sd_names {
            let first = names
                .iter()
                .zip(&sd_names)
                .position(|(a, b)| a != b)
                .unwrap_or(names.len().min(sd_names.len()));
            return Err(bad(format!(
                "\"mean\" has {} channels and \"stdev\" {}; they first differ at key {first} ({:?} vs {:?})",
                names.len(),
                sd_names.len(),
                names.get(first),
                sd_names.get(first)
            )));
        }
        let mean: Vec<f64> = f.mean.0.iter().map(|(_, v)| *v).collect();
        let stdev: Vec<f64> = f.stdev.0.iter().map(|(_, v)| *v).collect();
        if let Some(k) = (0..names.len()).find(|&k| !mean[k].is_finite() || !stdev[k].is_finite()) {
            return Err(bad(format!(
                "{}: mean {} stdev {} (finite numbers expected)",
                names[k], mean[k], stdev[k]
            )));
        }
        Ok(ReferenceStats {
            path: path.to_path_buf(),
            names,
            mean,
            stdev,
        })
    }
}

/// Which block of the grid features a channel belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Block {
    Forecast,
    NonForecast,
}

/// How the release's normalisation of a channel becomes ours.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Transform {
    /// Same quantity and units: stats.json's mean and stdev.
    Standardised,
    /// Enters the network unnormalised: mean 0, std 1.
    Raw,
    /// The release standardises `factor × (our channel)`: our mean and std
    /// are stats.json's divided by `factor` (orography: g).
    Scaled { factor: f64 },
}

/// One channel of the release and its fastnet counterpart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChannelMap {
    pub anemoi: String,
    pub ours: String,
    pub block: Block,
    pub transform: Transform,
    /// stats.json's mean and stdev (anemoi units).
    pub reference: (f64, f64),
    /// Ours (fastnet units).
    pub fastnet: (f64, f64),
}

/// The non-forecast channels fastnet knows, anemoi name → ours.
const NON_FORECAST: [(&str, &str, Transform); 12] = [
    ("cos_latitude", "cos_lat", Transform::Raw),
    ("cos_longitude", "cos_lon", Transform::Raw),
    ("sin_longitude", "sin_lon", Transform::Raw),
    ("lsm", "lsm", Transform::Standardised),
    (
        "orography",
        "orography",
        Transform::Scaled {
            factor: STANDARD_GRAVITY_M_S2,
        },
    ),
    ("sdor", "sdor", Transform::Standardised),
    ("slor", "slor", Transform::Standardised),
    ("cos_julian_day", JULIAN_DAY[0], Transform::Standardised),
    ("sin_julian_day", JULIAN_DAY[1], Transform::Standardised),
    ("cos_local_time", "cos_local_time", Transform::Standardised),
    ("sin_local_time", "sin_local_time", Transform::Standardised),
    ("insolation", INSOLATION, Transform::Standardised),
];

/// Our name of an anemoi field: `z_500` → `z500`, `2t` → `t2m` (catalogue
/// aliases); `None` if it is not a field of the catalogue.
fn field_name(anemoi: &str) -> Option<String> {
    if let Some((var, level)) = anemoi.rsplit_once('_') {
        if let (Some(info), Ok(l)) = (catalogue::lookup(var, true), level.parse::<u32>()) {
            if info.kind == VarKind::UpperAir {
                return Some(format!("{}{l}", info.short));
            }
        }
    }
    catalogue::lookup(anemoi, false)
        .filter(|info| info.kind == VarKind::Surface)
        .map(|info| info.short.to_string())
}

/// Our channel for an anemoi channel name: (name, block, transform), or
/// `None` if fastnet has no such channel (see the module doc).
pub fn map_name(anemoi: &str) -> Option<(String, Block, Transform)> {
    if let Some((_, ours, t)) = NON_FORECAST.iter().find(|(a, _, _)| *a == anemoi) {
        return Some((ours.to_string(), Block::NonForecast, *t));
    }
    field_name(anemoi).map(|n| (n, Block::Forecast, Transform::Standardised))
}

/// Maps every channel of `stats` (the first `n_forecast` keys forecast, the
/// rest non-forecast) and converts its statistics.
pub fn map_channels(
    stats: &ReferenceStats,
    n_forecast: usize,
) -> Result<Vec<ChannelMap>, ImportError> {
    let mut out = Vec::with_capacity(stats.names.len());
    for (k, anemoi) in stats.names.iter().enumerate() {
        let (ours, block, transform) =
            map_name(anemoi).ok_or_else(|| ImportError::UnmappedChannel {
                path: stats.path.clone(),
                channel: anemoi.clone(),
                position: k,
            })?;
        let want = if k < n_forecast {
            Block::Forecast
        } else {
            Block::NonForecast
        };
        if block != want {
            return Err(ImportError::ChannelBlock {
                path: stats.path.clone(),
                channel: anemoi.clone(),
                position: k,
                n_forecast,
                block,
            });
        }
        let (m, s) = (stats.mean[k], stats.stdev[k]);
        let fastnet = match transform {
            Transform::Standardised => (m, s),
            Transform::Raw => (0.0, 1.0),
            Transform::Scaled { factor } => (m / factor, s / factor),
        };
        if fastnet.1 <= 0.0 {
            return Err(ImportError::BadStats {
                path: stats.path.clone(),
                reason: format!("{anemoi}: stdev {s} (a positive standard deviation expected)"),
            });
        }
        out.push(ChannelMap {
            anemoi: anemoi.clone(),
            ours,
            block,
            transform,
            reference: (m, s),
            fastnet,
        });
    }
    if let Some(dup) = out
        .iter()
        .enumerate()
        .find(|(i, c)| out[..*i].iter().any(|d| d.ours == c.ours))
    {
        return Err(ImportError::BadStats {
            path: stats.path.clone(),
            reason: format!(
                "{} maps to fastnet's {}, which another key maps to already",
                dup.1.anemoi, dup.1.ours
            ),
        });
    }
    Ok(out)
}

/// The channel set `[non-forecast, forecast]`, each block in stats.json's
/// order. A channel this fastnet build does not compute is an
/// [`ImportError::UnsupportedChannel`] naming it.
pub fn channel_set(maps: &[ChannelMap], path: &Path) -> Result<ChannelSet, ImportError> {
    let names = |b: Block| -> Vec<&str> {
        maps.iter()
            .filter(|c| c.block == b)
            .map(|c| c.ours.as_str())
            .collect()
    };
    let none: [&str; 0] = [];
    for c in maps {
        let one = [c.ours.as_str()];
        let r = match c.block {
            Block::NonForecast => ChannelSet::from_names(&one, &none),
            Block::Forecast => ChannelSet::from_names(&none, &one),
        };
        if let Err(e) = r {
            return Err(ImportError::UnsupportedChannel {
                path: path.to_path_buf(),
                channel: c.anemoi.clone(),
                ours: c.ours.clone(),
                reason: e.to_string(),
            });
        }
    }
    ChannelSet::from_names(&names(Block::NonForecast), &names(Block::Forecast)).map_err(|e| {
        ImportError::BadStats {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    })
}

/// Our [`Stats`] for `set` (built by [`channel_set`] from `maps`): the
/// converted mean and std per channel in set order. The release ships no
/// statistics of the 6-hour change, so `change_std` is 0: fine-tuning an
/// imported model needs `fastnet stats` first.
pub fn fastnet_stats(
    maps: &[ChannelMap],
    set: &ChannelSet,
    grid: &Grid,
    step_hours: i64,
    path: &Path,
) -> Stats {
    let channels = set
        .names()
        .iter()
        .filter_map(|n| maps.iter().find(|c| c.ours == *n))
        .map(|c| ChannelStats {
            name: c.ours.clone(),
            mean: c.fastnet.0,
            std: c.fastnet.1,
            change_std: 0.0,
        })
        .collect();
    Stats {
        format: STATS_FORMAT.into(),
        grid: grid.describe(),
        from: "unknown (fastnet-inference stats.json)".into(),
        to: "unknown (fastnet-inference stats.json)".into(),
        step_hours,
        times_used: 0,
        times_skipped: 0,
        change_pairs: 0,
        files: vec![path.to_path_buf()],
        n_non_forecast: set.n_non_forecast(),
        channels,
        statistics_source: Some(format!("fastnet-inference stats.json {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_as_the_table_says() {
        let f = |a: &str| map_name(a).map(|(n, b, _)| (n, b));
        assert_eq!(f("z_500"), Some(("z500".into(), Block::Forecast)));
        assert_eq!(f("q_1000"), Some(("q1000".into(), Block::Forecast)));
        assert_eq!(f("10u"), Some(("u10".into(), Block::Forecast)));
        assert_eq!(f("2d"), Some(("d2m".into(), Block::Forecast)));
        assert_eq!(f("2t"), Some(("t2m".into(), Block::Forecast)));
        assert_eq!(f("msl"), Some(("msl".into(), Block::Forecast)));
        assert_eq!(
            f("cos_latitude"),
            Some(("cos_lat".into(), Block::NonForecast))
        );
        assert_eq!(
            f("insolation"),
            Some(("insolation".into(), Block::NonForecast))
        );
        // not fields: surface z is orography, lsm is static, levels need a number
        for bad in ["sin_latitude", "z", "lsm_500", "z_", "banana", "t2m_500"] {
            assert!(map_name(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn stats_keep_key_order_and_convert_orography_and_raw_channels() {
        let path = Path::new("stats.json");
        let text = r#"{"mean": {"2t": 288.0, "z_500": 55651.9, "cos_latitude": 0.79, "orography": 2277.27},
                       "stdev": {"2t": 15.5, "z_500": 2714.2, "cos_latitude": 0.23, "orography": 6171.4}}"#;
        let s = ReferenceStats::parse(text, path).unwrap();
        assert_eq!(s.names, ["2t", "z_500", "cos_latitude", "orography"]);
        let maps = map_channels(&s, 2).unwrap();
        assert_eq!(maps[1].fastnet, (55651.9, 2714.2));
        assert_eq!(maps[2].fastnet, (0.0, 1.0), "cos_latitude enters raw");
        let g = 9.80665;
        assert!((maps[3].fastnet.0 - 2277.27 / g).abs() < 1e-12);
        assert!((maps[3].fastnet.1 - 6171.4 / g).abs() < 1e-12);
        // (g h − m) / s == (h − m / g) / (s / g) for any h
        let h = 1234.5;
        let (m, sd) = maps[3].fastnet;
        assert!(((g * h - 2277.27) / 6171.4 - (h - m) / sd).abs() < 1e-12);
        // the forecast block must hold forecast channels
        let e = map_channels(&s, 3).unwrap_err();
        assert!(
            matches!(e, ImportError::ChannelBlock { ref channel, .. } if channel == "cos_latitude"),
            "{e}"
        );
        let e = map_channels(&s, 1).unwrap_err();
        assert!(
            matches!(e, ImportError::ChannelBlock { ref channel, .. } if channel == "z_500"),
            "{e}"
        );
    }

    #[test]
    fn bad_stats_files_are_refused_with_the_reason() {
        let path = Path::new("s.json");
        for (text, needle) in [
            (r#"{"mean": {"2t": 1}, "stdev": {"2d": 1}}"#, "first differ"),
            (
                r#"{"mean": {"2t": 1, "2t": 2}, "stdev": {"2t": 1}}"#,
                "twice",
            ),
            (r#"{"mean": {"2t": 1}}"#, "stdev"),
            (r#"{"mean": {"2t": "x"}, "stdev": {"2t": 1}}"#, "mean"),
        ] {
            let e = ReferenceStats::parse(text, path).unwrap_err();
            assert!(
                matches!(e, ImportError::BadStats { .. }) && e.to_string().contains(needle),
                "{text}: {e}"
            );
        }
        let s = ReferenceStats::parse(
            r#"{"mean": {"2t": 1, "sin_latitude": 0}, "stdev": {"2t": 1, "sin_latitude": 1}}"#,
            path,
        )
        .unwrap();
        let e = map_channels(&s, 1).unwrap_err();
        assert!(
            matches!(e, ImportError::UnmappedChannel { ref channel, position: 1, .. } if channel == "sin_latitude"),
            "{e}"
        );
        assert!(e.to_string().contains("sin_latitude"), "{e}");
        let s = ReferenceStats::parse(r#"{"mean": {"2t": 1}, "stdev": {"2t": 0}}"#, path).unwrap();
        assert!(map_channels(&s, 1).is_err(), "zero stdev");
    }
}
