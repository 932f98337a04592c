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
    /// cos / sin of anemoi's calendar phase `2π jd / 365.25`, jd the days
    /// since 1 January 00 UTC ([`crate::forcings::julian_day_phase`]):
    /// anemoi's `cos_julian_day` / `sin_julian_day`.
    CosJulianDay,
    SinJulianDay,
    /// anemoi's `insolation`: `max(0, cos θ_z)` at the valid time with
    /// earthkit-meteo's solar formulas
    /// ([`crate::forcings::earthkit_cos_solar_zenith`]), dimensionless.
    CosSolarZenith,
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
                | Source::CosJulianDay
                | Source::SinJulianDay
                | Source::CosSolarZenith
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

impl Channel {
    /// Variable short name and level (hPa) of a field channel.
    pub fn field(&self) -> Option<(&str, Option<u32>)> {
        match &self.source {
            Source::Field { var, level } => Some((var.as_str(), *level)),
            _ => None,
        }
    }
}

/// A (u, v) wind pair among the forecast channels: `u10`/`v10` (named
/// `wind10m`) and `u{L}`/`v{L}` at every level L that has both (`wind{L}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindChannels {
    /// `wind10m`, `wind850`, ...
    pub name: String,
    /// Indices of u and v within the forecast block.
    pub u: usize,
    pub v: usize,
    /// Variable short names of u and v (`u10`/`v10`, or `u`/`v`).
    pub u_var: String,
    pub v_var: String,
    /// Pressure level (hPa) of upper-air pairs.
    pub level: Option<u32>,
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
        "cos_day_of_year" => Source::CosDayOfYear,
        "sin_day_of_year" => Source::SinDayOfYear,
        "cos_julian_day" => Source::CosJulianDay,
        "sin_julian_day" => Source::SinJulianDay,
        "insolation" | "cos_solar_zenith_angle" => Source::CosSolarZenith,
        "cos_local_time" => Source::CosLocalTime,
        "sin_local_time" => Source::SinLocalTime,
        "toa_incident_solar" | "tisr" => Source::ToaIncidentSolar,
        "lsm" | "orography" | "sdor" | "slor" => Source::Static { var: name.into() },
        _ => return None,
    })
}

/// The variable and level of a field channel name: `z500` -> (`z`,
/// Some(500)), `t2m` -> (`t2m`, None). The one parser of channel names;
/// anything else is [`DataError::BadConfig`].
pub fn parse_field(name: &str) -> Result<(String, Option<u32>)> {
    match field(name)? {
        Source::Field { var, level } => Ok((var, level)),
        _ => unreachable!("field() only returns Source::Field"),
    }
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
                expected: "one of cos_lat, cos_lon, sin_lon, lsm, orography, sdor, slor, cos_day_of_year, sin_day_of_year, cos_local_time, sin_local_time, toa_incident_solar, or anemoi's cos_julian_day, sin_julian_day, insolation".into(),
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

    /// A set of forecast channels only (a forecast file's channels).
    pub fn forecast_only<S: AsRef<str>>(forecast: &[S]) -> Result<ChannelSet> {
        ChannelSet::from_names::<S>(&[], forecast)
    }

    /// The channels a run asks for, with one default rule used by `fastnet
    /// stats`, `fastnet train` and every other command: a block left out is
    /// FastNet's (its 12 non-forecast or 72 forecast channels). Static
    /// channels the data lacks are dropped later by [`ChannelSet::resolve`].
    pub fn requested<S: AsRef<str>>(
        non_forecast: Option<&[S]>,
        forecast: Option<&[S]>,
    ) -> Result<ChannelSet> {
        let d = ChannelSet::fastnet();
        let names = d.names();
        let (dnf, df) = names.split_at(d.n_non_forecast());
        let nf: Vec<&str> = match non_forecast {
            Some(v) => v.iter().map(|s| s.as_ref()).collect(),
            None => dnf.to_vec(),
        };
        let f: Vec<&str> = match forecast {
            Some(v) => v.iter().map(|s| s.as_ref()).collect(),
            None => df.to_vec(),
        };
        ChannelSet::from_names(&nf, &f)
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

    /// The forecast block.
    pub fn forecast(&self) -> &[Channel] {
        &self.channels[self.non_forecast..]
    }

    /// Names of the forecast block.
    pub fn forecast_names(&self) -> Vec<&str> {
        self.forecast().iter().map(|c| c.name.as_str()).collect()
    }

    /// The (u, v) wind pairs of the forecast block: 10 m first, then the
    /// levels in the order their u channels appear. The one wind-pair
    /// finder, used by the wind loss, the scores and the loss report.
    pub fn wind_pairs(&self) -> Vec<WindChannels> {
        let f = self.forecast();
        let find =
            |var: &str, level: Option<u32>| f.iter().position(|c| c.field() == Some((var, level)));
        let mut pairs = Vec::new();
        if let (Some(u), Some(v)) = (find("u10", None), find("v10", None)) {
            pairs.push(WindChannels {
                name: "wind10m".into(),
                u,
                v,
                u_var: "u10".into(),
                v_var: "v10".into(),
                level: None,
            });
        }
        for (u, c) in f.iter().enumerate() {
            if let Some(("u", Some(l))) = c.field() {
                if let Some(v) = find("v", Some(l)) {
                    pairs.push(WindChannels {
                        name: format!("wind{l}"),
                        u,
                        v,
                        u_var: "u".into(),
                        v_var: "v".into(),
                        level: Some(l),
                    });
                }
            }
        }
        pairs
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
    fn names_parse_to_variable_and_level_and_winds_pair_up() {
        assert_eq!(parse_field("z500").unwrap(), ("z".into(), Some(500)));
        assert_eq!(parse_field("t2m").unwrap(), ("t2m".into(), None));
        assert!(parse_field("z").is_err() && parse_field("t2m500").is_err());
        let s = ChannelSet::forecast_only(&["v850", "u10", "t500", "u850", "v10", "u500"]).unwrap();
        let pairs: Vec<(String, usize, usize)> = s
            .wind_pairs()
            .into_iter()
            .map(|p| (p.name, p.u, p.v))
            .collect();
        // u500 has no v500: no pair
        assert_eq!(pairs, [("wind10m".into(), 1, 4), ("wind850".into(), 3, 0)]);
        assert_eq!(ChannelSet::fastnet().wind_pairs().len(), 14);
    }

    #[test]
    fn a_block_left_out_is_fastnets() {
        let only_f = ChannelSet::requested(None, Some(&["z500", "t850"])).unwrap();
        assert_eq!((only_f.n_non_forecast(), only_f.n_forecast()), (12, 2));
        assert_eq!(only_f.names()[..12], ChannelSet::fastnet().names()[..12]);
        let only_nf = ChannelSet::requested(Some(&["cos_lat"]), None).unwrap();
        assert_eq!((only_nf.n_non_forecast(), only_nf.n_forecast()), (1, 72));
        let none: Option<&[&str]> = None;
        assert_eq!(
            ChannelSet::requested(none, none).unwrap(),
            ChannelSet::fastnet()
        );
        let empty: &[&str] = &[];
        assert_eq!(
            ChannelSet::requested(Some(empty), Some(&["z500"]))
                .unwrap()
                .len(),
            1
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
