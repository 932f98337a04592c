//! Regions for spatially averaged scores: WeatherBench2's standard regions
//! and latitude-longitude boxes, as masks on any grid.
//!
//! WeatherBench2 (`weatherbench2/regions.py`, `SliceRegion`; the standard
//! set in `scripts/evaluate.py`) selects a region by label slices of the
//! ascending `latitude` and the `longitude` (0 → 360) coordinates, both ends
//! included, several slices concatenated; the latitude weights are the
//! global grid's, taken at the selected points. Multiplying the global cell
//! weights by a 0/1 mask of the same points is the same average
//! (`Σ w m f / Σ w m`), and works on Gaussian grids too. A coordinate within
//! [`TOLERANCE_DEG`] of a slice end counts as on it.

use fastnet_mesh::Grid;
use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};
use crate::metrics::AreaWeights;

/// Coordinates this close (degrees) to a slice end are on it.
pub const TOLERANCE_DEG: f64 = 1e-6;

/// A closed interval of degrees; `None` ends are open (`slice(20, None)`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slice {
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

impl Slice {
    const fn new(lo: Option<f64>, hi: Option<f64>) -> Slice {
        Slice { lo, hi }
    }

    fn contains(&self, x: f64) -> bool {
        self.lo.is_none_or(|lo| x >= lo - TOLERANCE_DEG)
            && self.hi.is_none_or(|hi| x <= hi + TOLERANCE_DEG)
    }
}

/// A region: the points whose latitude is in any of `lat` and whose
/// longitude (taken in [0, 360)) is in any of `lon`; an empty list selects
/// every latitude (longitude).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// `global`, `europe`, ... or `box(LAT0,LAT1,LON0,LON1)`.
    pub name: String,
    pub lat: Vec<Slice>,
    pub lon: Vec<Slice>,
}

const fn s(lo: f64, hi: f64) -> Slice {
    Slice::new(Some(lo), Some(hi))
}
const fn from(lo: f64) -> Slice {
    Slice::new(Some(lo), None)
}
const fn to(hi: f64) -> Slice {
    Slice::new(None, Some(hi))
}

/// WeatherBench2's predefined regions (`scripts/evaluate.py`,
/// `predefined_regions`): name, latitude slices, longitude slices.
const STANDARD: &[(&str, &[Slice], &[Slice])] = &[
    ("global", &[], &[]),
    ("tropics", &[s(-20.0, 20.0)], &[]),
    ("extra-tropics", &[to(-20.0), from(20.0)], &[]),
    ("northern-hemisphere", &[from(20.0)], &[]),
    ("southern-hemisphere", &[to(-20.0)], &[]),
    (
        "europe",
        &[s(35.0, 75.0)],
        &[from(360.0 - 12.5), s(0.0, 42.5)],
    ),
    (
        "north-america",
        &[s(25.0, 60.0)],
        &[s(360.0 - 120.0, 360.0 - 75.0)],
    ),
    (
        "north-atlantic",
        &[s(25.0, 65.0)],
        &[s(360.0 - 70.0, 360.0 - 10.0)],
    ),
    (
        "north-pacific",
        &[s(25.0, 60.0)],
        &[s(145.0, 360.0 - 130.0)],
    ),
    ("east-asia", &[s(25.0, 60.0)], &[s(102.5, 150.0)]),
    ("ausnz", &[s(-45.0, -12.5)], &[s(120.0, 175.0)]),
    ("arctic", &[s(60.0, 90.0)], &[]),
    ("antarctic", &[s(-90.0, -60.0)], &[]),
];

/// Other spellings accepted for the standard regions.
const ALIASES: &[(&str, &str)] = &[
    ("extratropics", "extra-tropics"),
    ("northern-extra-tropics", "northern-hemisphere"),
    ("southern-extra-tropics", "southern-hemisphere"),
    ("nhextratropics", "northern-hemisphere"),
    ("shextratropics", "southern-hemisphere"),
];

impl Region {
    /// The whole globe.
    pub fn global() -> Region {
        Region::standard("global").expect("global is a standard region")
    }

    /// The names of WeatherBench2's standard regions, in its order.
    pub fn standard_names() -> Vec<&'static str> {
        STANDARD.iter().map(|r| r.0).collect()
    }

    /// One of WeatherBench2's standard regions by name (case-insensitive;
    /// `_` for `-` and a few aliases such as `northern-extra-tropics`).
    pub fn standard(name: &str) -> Result<Region> {
        let key = name.trim().to_ascii_lowercase().replace('_', "-");
        let key = ALIASES
            .iter()
            .find(|a| a.0 == key)
            .map_or(key.as_str(), |a| a.1);
        let (n, lat, lon) = STANDARD.iter().find(|r| r.0 == key).ok_or_else(|| {
            EvalError::Invalid(format!(
                "unknown region `{name}`: WeatherBench2's regions are {}, or give a box as LAT0,LAT1,LON0,LON1",
                Region::standard_names().join(", ")
            ))
        })?;
        Ok(Region {
            name: n.to_string(),
            lat: lat.to_vec(),
            lon: lon.to_vec(),
        })
    }

    /// The box `lat0 ≤ lat ≤ lat1` (degrees north, −90 ≤ lat0 ≤ lat1 ≤ 90),
    /// from `lon0` eastward to `lon1` (degrees east, either convention:
    /// `-12.5, 42.5` and `347.5, 42.5` both cross the prime meridian; `lon0`
    /// east of `lon1` wraps round; a span of 360° is every longitude).
    pub fn lat_lon_box(lat0: f64, lat1: f64, lon0: f64, lon1: f64) -> Result<Region> {
        let name = format!("box({lat0},{lat1},{lon0},{lon1})");
        let bad = |why: &str| EvalError::Invalid(format!("region {name}: {why}"));
        if ![lat0, lat1, lon0, lon1].iter().all(|x| x.is_finite()) {
            return Err(bad("every bound must be a finite number of degrees"));
        }
        if !(-90.0..=90.0).contains(&lat0) || !(-90.0..=90.0).contains(&lat1) {
            return Err(bad("latitudes must lie in [-90, 90]"));
        }
        if lat0 > lat1 {
            return Err(bad("LAT0 must not exceed LAT1 (south first)"));
        }
        let (a, b) = (lon0.rem_euclid(360.0), lon1.rem_euclid(360.0));
        let lon = if (lon1 - lon0).abs() >= 360.0 {
            Vec::new()
        } else if a <= b {
            vec![s(a, b)]
        } else {
            // eastward across the prime meridian (-12.5,42.5 or 347.5,42.5)
            vec![from(a), to(b)]
        };
        Ok(Region {
            name,
            lat: vec![s(lat0, lat1)],
            lon,
        })
    }

    /// A standard region's name, or a box `LAT0,LAT1,LON0,LON1`.
    pub fn parse(text: &str) -> Result<Region> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        if parts.len() == 4 {
            let v: Vec<f64> = parts
                .iter()
                .map(|p| {
                    p.parse::<f64>().map_err(|_| {
                        EvalError::Invalid(format!(
                            "box `{text}`: `{p}` is not a number (expected LAT0,LAT1,LON0,LON1 in degrees)"
                        ))
                    })
                })
                .collect::<Result<_>>()?;
            return Region::lat_lon_box(v[0], v[1], v[2], v[3]);
        }
        Region::standard(text)
    }

    /// Whether the point (`lat_deg`, `lon_deg`) is in the region.
    pub fn contains(&self, lat_deg: f64, lon_deg: f64) -> bool {
        let mut lon = lon_deg.rem_euclid(360.0);
        if lon >= 360.0 - TOLERANCE_DEG / 2.0 {
            lon = 0.0;
        }
        (self.lat.is_empty() || self.lat.iter().any(|sl| sl.contains(lat_deg)))
            && (self.lon.is_empty() || self.lon.iter().any(|sl| sl.contains(lon)))
    }

    /// `[npoints]` whether each point of `grid` (its point order) is in the
    /// region.
    pub fn mask(&self, grid: &Grid) -> Vec<bool> {
        grid.point_lat_lon()
            .iter()
            .map(|&(la, lo)| self.contains(la, lo))
            .collect()
    }

    /// The global cell-area weights of `grid` ([`AreaWeights::for_grid`])
    /// kept on the region's points and zero elsewhere. A region that holds
    /// no point of the grid is an error.
    pub fn weights(&self, grid: &Grid) -> Result<AreaWeights> {
        AreaWeights::for_grid(grid)
            .masked(&self.mask(grid))
            .map_err(|_| {
                EvalError::Invalid(format!(
                    "region {} holds no point of the {}",
                    self.name,
                    grid.describe()
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_regions_select_what_weatherbench2_selects() {
        let g = Grid::from_spec("latlon:2.5").unwrap(); // 73 x 144, poles
        let count = |name: &str| {
            Region::standard(name)
                .unwrap()
                .mask(&g)
                .iter()
                .filter(|&&m| m)
                .count()
        };
        assert_eq!(count("global"), 73 * 144);
        // -20, -17.5, ..., 20: 17 rows, both ends included
        assert_eq!(count("tropics"), 17 * 144);
        // extra-tropics: -90..-20 and 20..90, 29 rows each (±20 in both sets)
        assert_eq!(count("extra-tropics"), 58 * 144);
        assert_eq!(count("northern_extra_tropics"), 29 * 144);
        // europe: 35..75 (17 rows) x (347.5..357.5 (5) + 0..42.5 (18))
        assert_eq!(count("europe"), 17 * 23);
        // north-america: 25..60 (15 rows) x 240..285 (19 columns)
        assert_eq!(count("north-america"), 15 * 19);
        let e = Region::standard("atlantis").unwrap_err().to_string();
        assert!(e.contains("atlantis") && e.contains("north-america"), "{e}");
    }

    #[test]
    fn boxes_wrap_across_the_prime_meridian_and_bad_boxes_are_named() {
        let eu = Region::parse("35,75,-12.5,42.5").unwrap();
        let std_eu = Region::standard("europe").unwrap();
        let g = Grid::from_spec("latlon:2.5").unwrap();
        assert_eq!(eu.mask(&g), std_eu.mask(&g));
        assert_eq!(
            Region::parse("35,75,347.5,42.5").unwrap().mask(&g),
            std_eu.mask(&g)
        );
        let all = Region::parse("-90,90,-180,180").unwrap();
        assert!(all.mask(&g).iter().all(|&m| m));
        assert!(Region::parse("0,10,0,10").unwrap().contains(5.0, 10.0));
        assert!(!Region::parse("0,10,0,10").unwrap().contains(5.0, 10.5));
        // LON0 east of LON1 goes eastward round the globe: 20 -> 360 -> 10
        let r = Region::parse("0,10,20,10").unwrap();
        assert!(r.contains(5.0, 300.0) && r.contains(5.0, 5.0) && !r.contains(5.0, 15.0));
        for (b, want) in [
            ("10,0,0,10", "south first"),
            ("0,100,0,10", "[-90, 90]"),
            ("0,10,x,10", "not a number"),
        ] {
            let e = Region::parse(b).unwrap_err().to_string();
            assert!(e.contains(want), "{b}: {e}");
        }
        let e = Region::parse("0.5,1,0.5,1")
            .unwrap()
            .weights(&g)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("holds no point"), "{e}");
    }
}
