//! The channel list: one type that owns channel names, where each channel's
//! values come from, and the offsets of the non-forecast and forecast blocks.
//!
//! Grid features per point are `[non-forecast, forecast]` in that order
//! (DESIGN.md §3). FastNet's default set ([`ChannelSet::fastnet`]) has 12
//! non-forecast channels — `cos_lat, cos_lon, sin_lon, lsm, orography, sdor,
//! slor, cos_day_of_year, sin_day_of_year, cos_local_time, sin_local_time,
//! toa_incident_solar` — and 72 forecast channels: z, q, t, u, v on the 13
//! levels 50 100 150 200 250 300 400 500 600 700 850 925 1000 hPa
//! (variable-major: `z50 .. z1000, q50 .. q1000, ...`), then `u10, v10, d2m,
//! t2m, msl, skt, sp`.

use serde::{Deserialize, Serialize};

use crate::catalogue::{self, VarKind};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// FastNet's 13 pressure levels in hPa.
pub const FASTNET_LEVELS: [u32; 13] = [
    50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 850, 925, 1000,
];

/// Where a channel's values come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Source {
    /// A field read from the data (`var` short name, `level` in hPa).
    Field {
        var: String,
        level: Option<u32>,
    },
    /// A static field read once: `lsm`, `orography` (m, from surface
    /// geopotential), `sdor`, `slor`.
    Static {
        var: String,
    },
    /// cos of latitude.
    CosLat,
    /// cos of longitude.
    CosLon,
    /// sin of longitude.
    SinLon,
    /// cos / sin of the year phase ([`crate::forcings::year_phase`]).
    CosDayOfYear,
    SinDayOfYear,
    /// cos / sin of local mean solar time ([`crate::forcings::local_time_phase`]).
    CosLocalTime,
    SinLocalTime,
    /// TOA incident solar radiation accumulated over the preceding hour, J m⁻²
    /// ([`crate::forcings::toa_hour_integrated_j_m2`]).
    ToaIncidentSolar,
}

impl Source {
    /// Whether the channel is computed from the grid or the timestamp alone.
    pub fn is_computed(&self) -> bool {
        !matches!(self, Source::Field { .. } | Source::Static { .. })
    }

    /// Whether its value changes with time.
    pub fn varies_in_time(&self) -> bool {
        matches!(
            self,
            Source::Field { .. }
                | Source::CosDayOfYear
                | Source::SinDayOfYear
                | Source::CosLocalTime
                | Source::SinLocalTime
                | Source::ToaIncidentSolar
        )
    }
}

/// One channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// `z500`, `t2m`, `cos_lat`, ...
    pub name: String,
    pub source: Source,
}

/// An ordered channel list: `non_forecast` channels first, then forecast
/// ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSet {
    channels: Vec<Channel>,
    non_forecast: usize,
}

fn computed(name: &str) -> Option<Source> {
    Some(match name {
        "cos_lat" => Source::CosLat,
        "cos_lon" => Source::CosLon,
        "sin_lon" => Source::SinLon,
        "cos_day_of_year" | "cos_julian_day" => Source::CosDayOfYear,
        "sin_day_of_year" | "sin_julian_day" => Source::SinDayOfYear,
        "cos_local_time" => Source::CosLocalTime,
        "sin_local_time" => Source::SinLocalTime,
        "toa_incident_solar" | "tisr" => Source::ToaIncidentSolar,
        "lsm" | "orography" | "sdor" | "slor" => Source::Static { var: name.into() },
        _ => return None,
    })
}

/// Parses a forecast channel name: a surface short name (`t2m`, `msl`) or an
/// upper-air short name followed by the level in hPa (`z500`).
fn field(name: &str) -> Result<Source> {
    let bad = |expected: String| DataError::BadConfig {
        field: "forecast channel".into(),
        value: name.into(),
        expected,
    };
    if let Some(info) = catalogue::by_short(name) {
        return match info.kind {
            VarKind::UpperAir => Err(bad(format!(
                "{name} is upper-air: append the level in hPa, e.g. {name}500"
            ))),
            _ => Ok(Source::Field {
                var: name.into(),
                level: None,
            }),
        };
    }
    let split = name
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(name.len());
    let (var, lev) = name.split_at(split);
    match (catalogue::by_short(var), lev.parse::<u32>()) {
        (Some(info), Ok(l)) if info.kind == VarKind::UpperAir => Ok(Source::Field { var: var.into(), level: Some(l) }),
        _ => Err(bad("a catalogue short name (t2m, msl, ...) or upper-air short name + level in hPa (z500, t850)".into())),
    }
}

impl ChannelSet {
    /// Builds a set from channel names. Non-forecast names: `cos_lat`,
    /// `cos_lon`, `sin_lon`, `lsm`, `orography`, `sdor`, `slor`,
    /// `cos_day_of_year`, `sin_day_of_year`, `cos_local_time`,
    /// `sin_local_time`, `toa_incident_solar`; forecast names as `z500`,
    /// `t2m`.
    pub fn from_names<S: AsRef<str>>(non_forecast: &[S], forecast: &[S]) -> Result<ChannelSet> {
        let mut channels = Vec::new();
        for n in non_forecast {
            let n = n.as_ref();
            let source = computed(n).ok_or_else(|| DataError::BadConfig {
                field: "non-forecast channel".into(),
                value: n.into(),
                expected: "one of cos_lat, cos_lon, sin_lon, lsm, orography, sdor, slor, cos_day_of_year, sin_day_of_year, cos_local_time, sin_local_time, toa_incident_solar".into(),
            })?;
            channels.push(Channel {
                name: n.into(),
                source,
            });
        }
        for n in forecast {
            let n = n.as_ref();
            channels.push(Channel {
                name: n.into(),
                source: field(n)?,
            });
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = channels.iter().find(|c| !seen.insert(c.name.as_str())) {
            return Err(DataError::BadConfig {
                field: "channels".into(),
                value: dup.name.clone(),
                expected: "each channel once".into(),
            });
        }
        Ok(ChannelSet {
            channels,
            non_forecast: non_forecast.len(),
        })
    }

    /// FastNet's 12 + 72 channels (see the module doc).
    pub fn fastnet() -> ChannelSet {
        let non_forecast = [
            "cos_lat",
            "cos_lon",
            "sin_lon",
            "lsm",
            "orography",
            "sdor",
            "slor",
            "cos_day_of_year",
            "sin_day_of_year",
            "cos_local_time",
            "sin_local_time",
            "toa_incident_solar",
        ];
        let mut forecast: Vec<String> = ["z", "q", "t", "u", "v"]
            .iter()
            .flat_map(|v| FASTNET_LEVELS.iter().map(move |l| format!("{v}{l}")))
            .collect();
        forecast.extend(["u10", "v10", "d2m", "t2m", "msl", "skt", "sp"].map(String::from));
        let non_forecast: Vec<String> = non_forecast.map(String::from).to_vec();
        // The names above are all valid: this cannot fail.
        ChannelSet::from_names(&non_forecast, &forecast).unwrap_or_else(|_| unreachable!())
    }

    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    pub fn names(&self) -> Vec<&str> {
        self.channels.iter().map(|c| c.name.as_str()).collect()
    }

    /// Total number of channels.
    pub fn len(&self) -> usize {
        self.channels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// Number of non-forecast channels; the forecast block starts here.
    pub fn n_non_forecast(&self) -> usize {
        self.non_forecast
    }

    pub fn n_forecast(&self) -> usize {
        self.channels.len() - self.non_forecast
    }

    /// Index of channel `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.channels.iter().position(|c| c.name == name)
    }

    /// Checks the set against the data: every forecast field must be present
    /// (else [`DataError::VariableAbsent`] / [`DataError::LevelAbsent`]);
    /// static channels whose variable is absent are dropped with a warning,
    /// or refused when `require_static`. Returns the usable set and the
    /// warnings.
    pub fn resolve(&self, ds: &Dataset, require_static: bool) -> Result<(ChannelSet, Vec<String>)> {
        let mut warnings = Vec::new();
        let mut keep = Vec::new();
        let mut non_forecast = self.non_forecast;
        for (k, c) in self.channels.iter().enumerate() {
            match &c.source {
                Source::Field { var, level } => {
                    let e = ds.vars.get(var).ok_or_else(|| DataError::VariableAbsent {
                        variable: var.clone(),
                        channel: c.name.clone(),
                        available: ds.variable_list(),
                    })?;
                    if let Some(l) = level {
                        let ls = e.levels.clone().unwrap_or_default();
                        if !ls.contains(l) {
                            return Err(DataError::LevelAbsent {
                                variable: var.clone(),
                                level: *l,
                                channel: c.name.clone(),
                                available: ls,
                            });
                        }
                    }
                }
                Source::Static { var } => {
                    let src = if var == "orography" {
                        "orography_source"
                    } else {
                        var.as_str()
                    };
                    if !ds.vars.contains_key(src) {
                        if require_static {
                            return Err(DataError::VariableAbsent {
                                variable: if var == "orography" {
                                    "z (surface geopotential)".into()
                                } else {
                                    var.clone()
                                },
                                channel: c.name.clone(),
                                available: ds.variable_list(),
                            });
                        }
                        warnings.push(format!(
                            "static channel {} skipped: {} is not in the data (pass the ERA5 invariant file to use it)",
                            c.name,
                            if var == "orography" { "surface geopotential z" } else { var }
                        ));
                        if k < self.non_forecast {
                            non_forecast -= 1;
                        }
                        continue;
                    }
                }
                _ => {}
            }
            keep.push(c.clone());
        }
        Ok((
            ChannelSet {
                channels: keep,
                non_forecast,
            },
            warnings,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fastnet_set_is_12_plus_72_in_documented_order() {
        let s = ChannelSet::fastnet();
        assert_eq!((s.n_non_forecast(), s.n_forecast(), s.len()), (12, 72, 84));
        let n = s.names();
        assert_eq!(n[0], "cos_lat");
        assert_eq!(n[11], "toa_incident_solar");
        assert_eq!(n[12], "z50");
        assert_eq!(n[12 + 12], "z1000");
        assert_eq!(n[12 + 13], "q50");
        assert_eq!(n[12 + 5 * 13], "u10");
        assert_eq!(n[83], "sp");
        assert_eq!(s.index("t850"), Some(12 + 2 * 13 + 10));
        assert_eq!(
            s.channels()[s.index("t850").unwrap()].source,
            Source::Field {
                var: "t".into(),
                level: Some(850)
            }
        );
    }

    #[test]
    fn bad_channel_names_are_refused() {
        let none: [&str; 0] = [];
        for bad in ["z", "zz500", "t2m500", "banana"] {
            let e = ChannelSet::from_names(&none, &[bad]).unwrap_err();
            assert!(
                matches!(e, DataError::BadConfig { .. }) && e.to_string().contains(bad),
                "{e}"
            );
        }
        assert!(ChannelSet::from_names(&["cos_lat", "cos_lat"], &none).is_err());
        assert!(ChannelSet::from_names(&["sunshine"], &none).is_err());
    }
}
