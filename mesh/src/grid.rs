//! The grids data live on: regular latitude-longitude grids (with or without the
//! poles) and arbitrary point lists, with their cell-area weights.
//!
//! Canonical orientation: latitude north to south, longitude eastwards from 0.
//! Grid points are numbered latitude-major: point `i * nlon + j` is ring `i`,
//! column `j`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{MeshError, Result};
use crate::geometry::{lat_lon_to_xyz, wrap_lon, Vec3};

/// A set of points on the sphere on which fields are given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Grid {
    /// Equiangular latitude-longitude grid. With poles (ERA5 0.25°: 721 x
    /// 1440, latitudes 90, 89.75, ..., -90) or without (WeatherBench 5.625°:
    /// 32 x 64, latitudes 87.1875 ... -87.1875, offset half a step from the
    /// poles). Longitudes `j * 360 / nlon`.
    Equiangular {
        nlat: usize,
        nlon: usize,
        poles: bool,
    },
    /// An arbitrary list of points; latitudes and longitudes in degrees.
    Points {
        lat_deg: Vec<f64>,
        lon_deg: Vec<f64>,
    },
}

impl Grid {
    /// Equiangular grid of `nlat` x `nlon` points.
    ///
    /// With poles `nlat >= 2` (first and last ring on the poles); without
    /// poles `nlat >= 1`. `nlon >= 1`.
    pub fn equiangular(nlat: usize, nlon: usize, poles: bool) -> Result<Grid> {
        let min_lat = if poles { 2 } else { 1 };
        if nlat < min_lat {
            return Err(MeshError::BadGridShape {
                nlat,
                nlon,
                reason: format!("need at least {min_lat} latitude rings"),
            });
        }
        if nlon == 0 {
            return Err(MeshError::BadGridShape {
                nlat,
                nlon,
                reason: "need at least 1 longitude".into(),
            });
        }
        Ok(Grid::Equiangular { nlat, nlon, poles })
    }

    /// Equiangular grid at `resolution_deg` spacing in both directions; the
    /// resolution must divide 180° and 360° (0.25° with poles: 721 x 1440).
    pub fn equiangular_deg(resolution_deg: f64, poles: bool) -> Result<Grid> {
        let bad = || MeshError::ResolutionDoesNotDivide { resolution_deg };
        if !(resolution_deg.is_finite() && resolution_deg > 0.0 && resolution_deg <= 180.0) {
            return Err(bad());
        }
        let whole = |span: f64| {
            let n = (span / resolution_deg).round();
            ((n * resolution_deg - span).abs() <= 1e-9 * span).then_some(n as usize)
        };
        let (Some(n_half), Some(nlon)) = (whole(180.0), whole(360.0)) else {
            return Err(bad());
        };
        Grid::equiangular(if poles { n_half + 1 } else { n_half }, nlon, poles)
    }

    /// A point grid from (latitude, longitude) pairs in degrees. Latitudes must
    /// lie in [-90, 90]; longitudes may be given in any range (stored in
    /// [0, 360)).
    pub fn points(points: &[(f64, f64)]) -> Result<Grid> {
        if points.is_empty() {
            return Err(MeshError::EmptyPointList);
        }
        let mut lat_deg = Vec::with_capacity(points.len());
        let mut lon_deg = Vec::with_capacity(points.len());
        for (index, &(lat, lon)) in points.iter().enumerate() {
            let reason = if !lat.is_finite() || !lon.is_finite() {
                Some("coordinates must be finite numbers")
            } else if !(-90.0..=90.0).contains(&lat) {
                Some("latitude must lie in [-90, 90] degrees")
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(MeshError::BadPoint {
                    index,
                    lat,
                    lon,
                    reason: reason.into(),
                });
            }
            lat_deg.push(lat);
            lon_deg.push(wrap_lon(lon));
        }
        Ok(Grid::Points { lat_deg, lon_deg })
    }

    /// Reads a point grid from a text file with one `lat,lon` (degrees) per
    /// line; blank lines, `#` comments and a `lat,lon` header are skipped.
    pub fn points_from_csv(path: &Path) -> Result<Grid> {
        let text = std::fs::read_to_string(path).map_err(|e| MeshError::io(path, e))?;
        let mut pts = Vec::new();
        for (lineno, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.eq_ignore_ascii_case("lat,lon") {
                continue;
            }
            let parsed = line.split_once(',').and_then(|(a, b)| {
                Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?))
            });
            match parsed {
                Some(p) => pts.push(p),
                None => {
                    return Err(MeshError::BadGridSpec {
                        spec: path.display().to_string(),
                        reason: format!(
                            "line {}: expected `lat,lon` in degrees, got {line:?}",
                            lineno + 1
                        ),
                    })
                }
            }
        }
        Grid::points(&pts).map_err(|e| match e {
            MeshError::EmptyPointList => MeshError::BadGridSpec {
                spec: path.display().to_string(),
                reason: "the file holds no `lat,lon` points".into(),
            },
            other => other,
        })
    }

    /// Parses a grid description as used on the command line:
    ///
    /// * `latlon:0.25` / `latlon:721x1440` — equiangular with poles (ERA5);
    /// * `latlon-nopoles:5.625` / `latlon-nopoles:32x64` — without poles;
    /// * `points:FILE` — a `lat,lon` CSV file;
    /// * aliases `era5` (= `latlon:0.25`), `era5-1deg` (= `latlon:1`) and
    ///   `weatherbench-5.625` (= `latlon-nopoles:5.625`).
    pub fn from_spec(spec: &str) -> Result<Grid> {
        let bad = |reason: &str| MeshError::BadGridSpec {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        let expanded = match spec {
            "era5" => "latlon:0.25",
            "era5-1deg" => "latlon:1",
            "weatherbench-5.625" => "latlon-nopoles:5.625",
            s => s,
        };
        let (kind, arg) = expanded.split_once(':').ok_or_else(|| {
            bad("expected latlon:RES, latlon:NLATxNLON, latlon-nopoles:..., points:FILE, era5, era5-1deg or weatherbench-5.625")
        })?;
        let poles = match kind {
            "latlon" => true,
            "latlon-nopoles" => false,
            "points" => return Grid::points_from_csv(Path::new(arg)),
            _ => return Err(bad("kind must be latlon, latlon-nopoles or points")),
        };
        if let Some((a, b)) = arg.split_once(['x', 'X']) {
            let (Ok(nlat), Ok(nlon)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>())
            else {
                return Err(bad("expected NLATxNLON with whole numbers, e.g. 721x1440"));
            };
            Grid::equiangular(nlat, nlon, poles)
        } else {
            let res: f64 = arg
                .trim()
                .parse()
                .map_err(|_| bad("expected a resolution in degrees, e.g. 0.25"))?;
            Grid::equiangular_deg(res, poles)
        }
    }

    /// Number of grid points.
    pub fn len(&self) -> usize {
        match self {
            Grid::Equiangular { nlat, nlon, .. } => nlat * nlon,
            Grid::Points { lat_deg, .. } => lat_deg.len(),
        }
    }

    /// Always false: every constructor rejects empty grids.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Field shape: `[nlat, nlon]` or `[n_points]`.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Grid::Equiangular { nlat, nlon, .. } => vec![*nlat, *nlon],
            Grid::Points { lat_deg, .. } => vec![lat_deg.len()],
        }
    }

    /// Short human description, e.g. `0.25° lat-lon with poles (721 x 1440)`.
    pub fn describe(&self) -> String {
        match self {
            Grid::Equiangular { nlat, nlon, poles } => {
                let res = 360.0 / *nlon as f64;
                let p = if *poles {
                    "with poles"
                } else {
                    "without poles"
                };
                format!("{res}° lat-lon {p} ({nlat} x {nlon})")
            }
            Grid::Points { lat_deg, .. } => format!("{} points", lat_deg.len()),
        }
    }

    /// Ring latitudes in degrees, north to south: `[nlat]` (per point for a
    /// point grid).
    pub fn latitudes_deg(&self) -> Vec<f64> {
        match self {
            Grid::Equiangular {
                nlat, poles: true, ..
            } => {
                let d = 180.0 / (*nlat - 1) as f64;
                (0..*nlat)
                    .map(|i| {
                        if i + 1 == *nlat {
                            -90.0
                        } else {
                            90.0 - i as f64 * d
                        }
                    })
                    .collect()
            }
            Grid::Equiangular {
                nlat, poles: false, ..
            } => {
                let d = 180.0 / *nlat as f64;
                (0..*nlat).map(|i| 90.0 - (i as f64 + 0.5) * d).collect()
            }
            Grid::Points { lat_deg, .. } => lat_deg.clone(),
        }
    }

    /// Column longitudes in degrees east in [0, 360): `[nlon]` (per point for
    /// a point grid).
    pub fn longitudes_deg(&self) -> Vec<f64> {
        match self {
            Grid::Equiangular { nlon, .. } => (0..*nlon)
                .map(|j| j as f64 * 360.0 / *nlon as f64)
                .collect(),
            Grid::Points { lon_deg, .. } => lon_deg.clone(),
        }
    }

    /// (latitude, longitude) in degrees of every point, latitude-major:
    /// `[len]`.
    pub fn point_lat_lon(&self) -> Vec<(f64, f64)> {
        match self {
            Grid::Equiangular { .. } => {
                let lons = self.longitudes_deg();
                self.latitudes_deg()
                    .into_iter()
                    .flat_map(|lat| lons.iter().map(move |&lon| (lat, lon)))
                    .collect()
            }
            Grid::Points { lat_deg, lon_deg } => lat_deg
                .iter()
                .copied()
                .zip(lon_deg.iter().copied())
                .collect(),
        }
    }

    /// Unit vectors of every point, latitude-major: `[len]`.
    pub fn positions(&self) -> Vec<Vec3> {
        self.point_lat_lon()
            .into_iter()
            .map(|(la, lo)| lat_lon_to_xyz(la, lo))
            .collect()
    }

    /// Cell-area weight of each latitude ring, normalised to mean 1: `[nlat]`.
    ///
    /// `w_i ∝ sin(φ_{i-½}) − sin(φ_{i+½})` with cell edges half-way between
    /// rings and at ±90° at the ends, so a pole ring of a with-poles grid gets
    /// the polar cap of half a step (DESIGN.md §5; WeatherBench2's
    /// `get_lat_weights`). `None` for point grids, which have no rings.
    pub fn latitude_weights(&self) -> Option<Vec<f64>> {
        let Grid::Equiangular { .. } = self else {
            return None;
        };
        let lat = self.latitudes_deg();
        let n = lat.len();
        let edge = |k: usize| -> f64 {
            // edge between ring k-1 and ring k; k = 0 is the north pole, k = n the south
            if k == 0 {
                90.0
            } else if k == n {
                -90.0
            } else {
                0.5 * (lat[k - 1] + lat[k])
            }
        };
        let raw: Vec<f64> = (0..n)
            .map(|i| edge(i).to_radians().sin() - edge(i + 1).to_radians().sin())
            .collect();
        let mean = raw.iter().sum::<f64>() / n as f64;
        Some(raw.into_iter().map(|w| w / mean).collect())
    }

    /// Area weight of every point, mean 1: `[len]`, latitude-major. Point
    /// grids carry no cell geometry and get equal weights.
    pub fn area_weights(&self) -> Vec<f64> {
        match (self, self.latitude_weights()) {
            (Grid::Equiangular { nlon, .. }, Some(w)) => w
                .iter()
                .flat_map(|&wi| std::iter::repeat_n(wi, *nlon))
                .collect(),
            _ => vec![1.0; self.len()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn era5_quarter_degree_shape_and_coordinates() {
        let g = Grid::equiangular_deg(0.25, true).unwrap();
        assert_eq!(g.shape(), vec![721, 1440]);
        let lat = g.latitudes_deg();
        assert_eq!(
            (lat[0], lat[1], lat[360], lat[720]),
            (90.0, 89.75, 0.0, -90.0)
        );
        let lon = g.longitudes_deg();
        assert_eq!((lon[0], lon[1], lon[1439]), (0.0, 0.25, 359.75));
        assert_eq!(Grid::from_spec("era5").unwrap(), g);
        assert_eq!(Grid::from_spec("latlon:721x1440").unwrap(), g);
        assert_eq!(
            Grid::from_spec("era5-1deg").unwrap().shape(),
            vec![181, 360]
        );
    }

    #[test]
    fn weatherbench_grid_has_no_poles() {
        let g = Grid::from_spec("weatherbench-5.625").unwrap();
        assert_eq!(g.shape(), vec![32, 64]);
        let lat = g.latitudes_deg();
        assert_eq!(lat[0], 87.1875);
        assert_eq!(lat[31], -87.1875);
        assert_eq!(Grid::from_spec("latlon-nopoles:32x64").unwrap(), g);
    }

    #[test]
    fn area_weights_are_cell_areas() {
        // Closed form: with poles, the pole cap of half a step Δ has area
        // ∝ 1 − cos(Δ/2) and an interior ring ∝ 2 sin(Δ/2) cos φ.
        for (spec, poles) in [("latlon:2.5", true), ("latlon-nopoles:5.625", false)] {
            let g = Grid::from_spec(spec).unwrap();
            let w = g.latitude_weights().unwrap();
            let lat = g.latitudes_deg();
            let half = (180.0
                / if poles {
                    (lat.len() - 1) as f64
                } else {
                    lat.len() as f64
                }
                / 2.0)
                .to_radians();
            let closed: Vec<f64> = lat
                .iter()
                .map(|&p| {
                    if p.abs() == 90.0 {
                        1.0 - half.cos()
                    } else {
                        2.0 * half.sin() * p.to_radians().cos()
                    }
                })
                .collect();
            let mean = closed.iter().sum::<f64>() / closed.len() as f64;
            for (a, b) in w.iter().zip(&closed) {
                assert!((a - b / mean).abs() < 1e-12, "{spec}: {a} vs {}", b / mean);
            }
            let total: f64 = g.area_weights().iter().sum();
            assert!((total / g.len() as f64 - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn resolutions_that_do_not_divide_the_sphere_are_refused() {
        for r in [0.7, 7.0, 0.0, -1.0, f64::NAN] {
            assert!(
                matches!(
                    Grid::equiangular_deg(r, true),
                    Err(MeshError::ResolutionDoesNotDivide { .. })
                ),
                "{r}"
            );
        }
        let msg = Grid::from_spec("latlon:0.7").unwrap_err().to_string();
        assert!(msg.contains("0.7") && msg.contains("divide"), "{msg}");
    }

    #[test]
    fn bad_point_lists_and_specs_are_refused() {
        assert!(matches!(Grid::points(&[]), Err(MeshError::EmptyPointList)));
        assert!(matches!(
            Grid::points(&[(0.0, 0.0), (91.0, 0.0)]),
            Err(MeshError::BadPoint { index: 1, .. })
        ));
        assert!(matches!(
            Grid::points(&[(f64::NAN, 0.0)]),
            Err(MeshError::BadPoint { index: 0, .. })
        ));
        assert!(matches!(
            Grid::equiangular(1, 4, true),
            Err(MeshError::BadGridShape { .. })
        ));
        assert!(matches!(
            Grid::from_spec("hexagons:3"),
            Err(MeshError::BadGridSpec { .. })
        ));
        assert!(matches!(
            Grid::from_spec("latlon:12xabc"),
            Err(MeshError::BadGridSpec { .. })
        ));
        let p = Grid::points(&[(10.0, -90.0)]).unwrap();
        assert_eq!(p.longitudes_deg(), vec![270.0]);
    }

    #[test]
    fn points_from_csv_file() {
        let dir = std::env::temp_dir().join(format!("fastnet-grid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = dir.join("ok.csv");
        std::fs::write(&ok, "lat,lon\n# stations\n51.5, -0.1\n\n-33.9,151.2\n").unwrap();
        let g = Grid::from_spec(&format!("points:{}", ok.display())).unwrap();
        assert_eq!(g.len(), 2);
        let empty = dir.join("empty.csv");
        std::fs::write(&empty, "lat,lon\n").unwrap();
        let msg = Grid::points_from_csv(&empty).unwrap_err().to_string();
        assert!(
            msg.contains("empty.csv") && msg.contains("no `lat,lon` points"),
            "{msg}"
        );
        let bad = dir.join("bad.csv");
        std::fs::write(&bad, "51.5;-0.1\n").unwrap();
        let msg = Grid::points_from_csv(&bad).unwrap_err().to_string();
        assert!(msg.contains("line 1"), "{msg}");
        assert!(matches!(
            Grid::points_from_csv(&dir.join("missing.csv")),
            Err(MeshError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
