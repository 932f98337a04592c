//! The variable catalogue: ERA5 short names, the CDS long names and GRIB
//! names that map to them, expected units, and whether a variable is
//! upper-air (on pressure levels), surface (one field per time) or static.
//!
//! Surface geopotential (`z` without a level dimension) is the orography
//! source: [`orography_from_geopotential`] divides by standard gravity.

/// Standard gravity in m s⁻², used to turn surface geopotential (m² s⁻²) into
/// orography height (m).
pub const STANDARD_GRAVITY_M_S2: f64 = 9.80665;

/// Where a variable lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VarKind {
    /// On pressure levels: `[time, level, lat, lon]`.
    UpperAir,
    /// One field per time: `[time, lat, lon]`.
    Surface,
    /// Invariant in time (ERA5 gives it with a time axis of length 1).
    Static,
}

/// One catalogue entry.
#[derive(Clone, Debug, PartialEq)]
pub struct VarInfo {
    /// ERA5 short name used everywhere in fastnet (`t2m`, `z`, ...).
    pub short: &'static str,
    /// Long name as the CDS request spells it (`2m_temperature`).
    pub long_name: &'static str,
    /// Other names seen in files (GRIB short names such as `2t`).
    pub aliases: &'static [&'static str],
    /// Units in ERA5's spelling; the first is printed in messages.
    pub units: &'static [&'static str],
    pub kind: VarKind,
    /// Hint printed when the units contradict the variable.
    pub hint: &'static str,
}

const DIMLESS: &[&str] = &["(0 - 1)", "1", "", "~", "dimensionless", "0-1", "fraction"];

/// The known variables. Upper-air `z` is geopotential; surface `z` (no level
/// dimension) is found by [`lookup`] as `orography_source`.
pub const CATALOGUE: &[VarInfo] = &[
    VarInfo {
        short: "z",
        long_name: "geopotential",
        aliases: &["geopotential"],
        units: &["m**2 s**-2", "m2 s-2", "m^2 s^-2", "m2/s2", "m^2/s^2"],
        kind: VarKind::UpperAir,
        hint: " (did you pass geopotential height? multiply by g = 9.80665)",
    },
    VarInfo {
        short: "t",
        long_name: "temperature",
        aliases: &["temperature", "ta"],
        units: &["K", "kelvin"],
        kind: VarKind::UpperAir,
        hint: " (convert Celsius to kelvin)",
    },
    VarInfo {
        short: "q",
        long_name: "specific_humidity",
        aliases: &["specific_humidity", "hus"],
        units: &["kg kg**-1", "kg kg-1", "kg/kg", "1", ""],
        kind: VarKind::UpperAir,
        hint: " (a mass fraction, not g/kg or relative humidity)",
    },
    VarInfo {
        short: "u",
        long_name: "u_component_of_wind",
        aliases: &["u_component_of_wind", "ua"],
        units: &["m s**-1", "m s-1", "m/s"],
        kind: VarKind::UpperAir,
        hint: "",
    },
    VarInfo {
        short: "v",
        long_name: "v_component_of_wind",
        aliases: &["v_component_of_wind", "va"],
        units: &["m s**-1", "m s-1", "m/s"],
        kind: VarKind::UpperAir,
        hint: "",
    },
    VarInfo {
        short: "w",
        long_name: "vertical_velocity",
        aliases: &["vertical_velocity"],
        units: &["Pa s**-1", "Pa s-1", "Pa/s"],
        kind: VarKind::UpperAir,
        hint: "",
    },
    VarInfo {
        short: "r",
        long_name: "relative_humidity",
        aliases: &["relative_humidity"],
        units: &["%"],
        kind: VarKind::UpperAir,
        hint: "",
    },
    VarInfo {
        short: "t2m",
        long_name: "2m_temperature",
        aliases: &["2t", "2m_temperature", "tas"],
        units: &["K", "kelvin"],
        kind: VarKind::Surface,
        hint: " (convert Celsius to kelvin)",
    },
    VarInfo {
        short: "u10",
        long_name: "10m_u_component_of_wind",
        aliases: &["10u", "10m_u_component_of_wind"],
        units: &["m s**-1", "m s-1", "m/s"],
        kind: VarKind::Surface,
        hint: "",
    },
    VarInfo {
        short: "v10",
        long_name: "10m_v_component_of_wind",
        aliases: &["10v", "10m_v_component_of_wind"],
        units: &["m s**-1", "m s-1", "m/s"],
        kind: VarKind::Surface,
        hint: "",
    },
    VarInfo {
        short: "d2m",
        long_name: "2m_dewpoint_temperature",
        aliases: &["2d", "2m_dewpoint_temperature"],
        units: &["K", "kelvin"],
        kind: VarKind::Surface,
        hint: " (convert Celsius to kelvin)",
    },
    VarInfo {
        short: "msl",
        long_name: "mean_sea_level_pressure",
        aliases: &["mean_sea_level_pressure", "psl"],
        units: &["Pa"],
        kind: VarKind::Surface,
        hint: " (hPa values must be multiplied by 100)",
    },
    VarInfo {
        short: "skt",
        long_name: "skin_temperature",
        aliases: &["skin_temperature"],
        units: &["K", "kelvin"],
        kind: VarKind::Surface,
        hint: " (convert Celsius to kelvin)",
    },
    VarInfo {
        short: "sp",
        long_name: "surface_pressure",
        aliases: &["surface_pressure", "ps"],
        units: &["Pa"],
        kind: VarKind::Surface,
        hint: " (hPa values must be multiplied by 100)",
    },
    VarInfo {
        short: "tp",
        long_name: "total_precipitation",
        aliases: &["total_precipitation"],
        units: &["m"],
        kind: VarKind::Surface,
        hint: "",
    },
    VarInfo {
        short: "tisr",
        long_name: "toa_incident_solar_radiation",
        aliases: &["toa_incident_solar_radiation"],
        units: &["J m**-2", "J m-2", "J/m2"],
        kind: VarKind::Surface,
        hint: " (ERA5 tisr is accumulated over the hour, not W m**-2)",
    },
    VarInfo {
        short: "lsm",
        long_name: "land_sea_mask",
        aliases: &["land_sea_mask"],
        units: DIMLESS,
        kind: VarKind::Static,
        hint: "",
    },
    VarInfo {
        short: "sdor",
        long_name: "standard_deviation_of_orography",
        aliases: &["standard_deviation_of_orography"],
        units: &["m"],
        kind: VarKind::Static,
        hint: "",
    },
    VarInfo {
        short: "slor",
        long_name: "slope_of_sub_gridscale_orography",
        aliases: &["slope_of_sub_gridscale_orography"],
        units: DIMLESS,
        kind: VarKind::Static,
        hint: "",
    },
];

/// The orography source: surface geopotential, ERA5 `z` with no level
/// dimension. Read under the short name `orography_source`; the `orography`
/// channel is this divided by g.
pub const SURFACE_GEOPOTENTIAL: VarInfo = VarInfo {
    short: "orography_source",
    long_name: "surface geopotential",
    aliases: &["geopotential_at_surface", "orography_source"],
    units: &["m**2 s**-2", "m2 s-2", "m^2 s^-2", "m2/s2", "m^2/s^2"],
    kind: VarKind::Static,
    hint:
        " (did you pass orography height in m? the catalogue expects surface geopotential z = g h)",
};

/// Looks a file's variable name up among short names, CDS long names and
/// aliases (case-sensitive, as in the files). `has_level` tells whether the
/// variable has a pressure-level dimension: geopotential without one is the
/// orography source.
pub fn lookup(name: &str, has_level: bool) -> Option<&'static VarInfo> {
    if !has_level && (name == "z" || name == "geopotential") {
        return Some(&SURFACE_GEOPOTENTIAL);
    }
    if SURFACE_GEOPOTENTIAL.aliases.contains(&name) {
        return Some(&SURFACE_GEOPOTENTIAL);
    }
    CATALOGUE
        .iter()
        .find(|v| v.short == name || v.long_name == name || v.aliases.contains(&name))
}

/// Looks a short name up (as used in channel lists), including
/// `orography_source`.
pub fn by_short(short: &str) -> Option<&'static VarInfo> {
    if short == SURFACE_GEOPOTENTIAL.short {
        return Some(&SURFACE_GEOPOTENTIAL);
    }
    CATALOGUE.iter().find(|v| v.short == short)
}

fn normalise_units(u: &str) -> String {
    u.chars()
        .filter(|c| !c.is_whitespace() && *c != '*' && *c != '^')
        .collect::<String>()
        .to_ascii_lowercase()
}

impl VarInfo {
    /// Whether `units` (as found in a file) are among this variable's
    /// expected spellings; spacing, `**`/`^` and case are ignored.
    pub fn units_match(&self, units: &str) -> bool {
        let n = normalise_units(units);
        self.units.iter().any(|u| normalise_units(u) == n)
    }
}

/// Orography height in metres from surface geopotential in m² s⁻²: `z / g`.
pub fn orography_from_geopotential(z_m2_s2: f32) -> f32 {
    (z_m2_s2 as f64 / STANDARD_GRAVITY_M_S2) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cds_long_names_and_grib_names_map_to_short_names() {
        for (name, short) in [
            ("2m_temperature", "t2m"),
            ("2t", "t2m"),
            ("10m_u_component_of_wind", "u10"),
            ("10v", "v10"),
            ("2m_dewpoint_temperature", "d2m"),
            ("mean_sea_level_pressure", "msl"),
            ("specific_humidity", "q"),
            ("land_sea_mask", "lsm"),
            ("slope_of_sub_gridscale_orography", "slor"),
            ("t2m", "t2m"),
        ] {
            assert_eq!(lookup(name, false).map(|v| v.short), Some(short), "{name}");
        }
        assert_eq!(lookup("z", true).unwrap().kind, VarKind::UpperAir);
        assert_eq!(lookup("z", false).unwrap().short, "orography_source");
        assert!(lookup("not_a_variable", false).is_none());
    }

    #[test]
    fn units_are_compared_loosely_but_not_wrongly() {
        let z = by_short("z").unwrap();
        assert!(z.units_match("m**2 s**-2"));
        assert!(z.units_match("m2 s-2"));
        assert!(z.units_match("m^2 s^-2"));
        assert!(!z.units_match("m"));
        assert!(!z.units_match("gpm"));
        assert!(by_short("t").unwrap().units_match("K"));
        assert!(!by_short("t").unwrap().units_match("degC"));
        assert!(by_short("lsm").unwrap().units_match("(0 - 1)"));
    }

    #[test]
    fn orography_is_geopotential_over_g() {
        // Mount Everest: 8848 m ≈ 86,769 m² s⁻².
        let h = orography_from_geopotential((8848.0 * STANDARD_GRAVITY_M_S2) as f32);
        assert!((h - 8848.0).abs() < 1e-3, "{h}");
    }
}
