//! The grids data live on: regular latitude-longitude grids (with or without the
//! poles), Gaussian grids (octahedral reduced `O<N>` as ECMWF and anemoi use
//! them, and regular `N<N>`) and arbitrary point lists, with their cell-area
//! weights.
//!
//! Canonical orientation: latitude north to south, longitude eastwards from 0.
//! Grid points are numbered ring by ring from north to south, eastwards from
//! longitude 0 within a ring: on a lat-lon grid point `i * nlon + j` is ring
//! `i`, column `j`; on a Gaussian grid point `offsets[i] + k` (see [`Rings`])
//! is point `k` of ring `i`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{MeshError, Result};
use crate::gaussian::gauss_legendre_colatitudes;
use crate::geometry::{lat_lon_to_xyz, wrap_lon, Vec3};

mod stored;

/// Largest `N` accepted for Gaussian grids: O8000 has 256 million points,
/// far beyond any grid in use (ECMWF's finest operational grid is O1280), and
/// every point index still fits the graph's 32-bit node numbers.
pub const MAX_GAUSSIAN_N: usize = 8000;

/// A set of points on the sphere on which fields are given.
///
/// Deserialising (a graph file, a checkpoint sidecar) goes through the
/// validating constructors, so a stored grid is as checked as a parsed one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    try_from = "stored::StoredGrid"
)]
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
    /// Gaussian grid, ECMWF/anemoi order: `2n` Gauss–Legendre latitudes
    /// north to south; ring `i` counted from either pole (`i = 1..=n`) has
    /// `4i + 16` points when `octahedral` (`O<n>`, e.g. O96: 192 rings,
    /// 40,320 points) and `4n` points otherwise (`N<n>`). Ring points lie at
    /// longitudes `360·k/len` (`k = 0..len`), starting at 0. Fields on it are
    /// 1-D, `[npoints]`.
    Gaussian { n: usize, octahedral: bool },
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

    /// Octahedral reduced Gaussian grid `O<n>`, `1 <= n <= MAX_GAUSSIAN_N`
    /// (O96: 192 rings of 20, 24, ..., 400, 400, ..., 20 points, 40,320 in
    /// all; O320: 421,120).
    pub fn octahedral(n: usize) -> Result<Grid> {
        Grid::gaussian(n, true)
    }

    /// Regular Gaussian grid `N<n>`: `2n` Gaussian latitudes of `4n` points
    /// each, `1 <= n <= MAX_GAUSSIAN_N` (N48: 96 x 192).
    pub fn regular_gaussian(n: usize) -> Result<Grid> {
        Grid::gaussian(n, false)
    }

    fn gaussian(n: usize, octahedral: bool) -> Result<Grid> {
        if !(1..=MAX_GAUSSIAN_N).contains(&n) {
            return Err(MeshError::BadGaussianGrid {
                kind: if octahedral { 'O' } else { 'N' },
                n,
                reason: format!("N must lie in 1..={MAX_GAUSSIAN_N} (2N Gaussian latitudes)"),
            });
        }
        Ok(Grid::Gaussian { n, octahedral })
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
    /// * `o96` / `O96` — octahedral reduced Gaussian `O<N>`, any `N >= 1`;
    /// * `n48` / `N48` — regular Gaussian `N<N>` (`2N` x `4N`);
    /// * `points:FILE` — a `lat,lon` CSV file;
    /// * aliases `era5` (= `latlon:0.25`), `era5-1deg` (= `latlon:1`) and
    ///   `weatherbench-5.625` (= `latlon-nopoles:5.625`).
    ///
    /// [`Grid::spec`] writes the canonical form back.
    pub fn from_spec(spec: &str) -> Result<Grid> {
        let bad = |reason: &str| MeshError::BadGridSpec {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        if let Some(grid) = Grid::gaussian_from_spec(spec) {
            return grid;
        }
        let expanded = match spec {
            "era5" => "latlon:0.25",
            "era5-1deg" => "latlon:1",
            "weatherbench-5.625" => "latlon-nopoles:5.625",
            s => s,
        };
        let (kind, arg) = expanded.split_once(':').ok_or_else(|| {
            bad("expected latlon:RES, latlon:NLATxNLON, latlon-nopoles:..., oN (octahedral Gaussian, e.g. o96), nN (regular Gaussian, e.g. n48), points:FILE, era5, era5-1deg or weatherbench-5.625")
        })?;
        let poles = match kind {
            "latlon" => true,
            "latlon-nopoles" => false,
            "points" => return Grid::points_from_csv(Path::new(arg)),
            _ => {
                return Err(bad(
                    "kind must be latlon, latlon-nopoles or points (or oN / nN without a colon for Gaussian grids, e.g. o96)",
                ))
            }
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

    /// `o<N>`/`O<N>`/`n<N>`/`N<N>`: `Some` of the grid (or of the error for
    /// an `N` out of range); `None` when `spec` is not of that form.
    fn gaussian_from_spec(spec: &str) -> Option<Result<Grid>> {
        let mut chars = spec.chars();
        let octahedral = match chars.next()? {
            'o' | 'O' => true,
            'n' | 'N' => false,
            _ => return None,
        };
        let digits = chars.as_str();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n = digits.parse::<usize>().unwrap_or(usize::MAX);
        Some(
            Grid::gaussian(n, octahedral).map_err(|e| MeshError::BadGridSpec {
                spec: spec.to_string(),
                reason: e.to_string(),
            }),
        )
    }

    /// The canonical command-line form that [`Grid::from_spec`] parses back
    /// to this grid: `latlon:721x1440`, `latlon-nopoles:32x64`, `O96`,
    /// `N48`. `None` for point grids (their spec names a file).
    pub fn spec(&self) -> Option<String> {
        match self {
            Grid::Equiangular {
                nlat,
                nlon,
                poles: true,
            } => Some(format!("latlon:{nlat}x{nlon}")),
            Grid::Equiangular {
                nlat,
                nlon,
                poles: false,
            } => Some(format!("latlon-nopoles:{nlat}x{nlon}")),
            Grid::Gaussian { n, octahedral } => {
                Some(format!("{}{n}", if *octahedral { 'O' } else { 'N' }))
            }
            Grid::Points { .. } => None,
        }
    }

    /// Number of grid points.
    pub fn len(&self) -> usize {
        match self {
            Grid::Equiangular { nlat, nlon, .. } => nlat * nlon,
            // 2 Σ_{i=1..n} (4i + 16) = 4n² + 36n; 2n rings of 4n = 8n²
            Grid::Gaussian {
                n,
                octahedral: true,
            } => 4 * n * n + 36 * n,
            Grid::Gaussian {
                n,
                octahedral: false,
            } => 8 * n * n,
            Grid::Points { lat_deg, .. } => lat_deg.len(),
        }
    }

    /// True for Gaussian grids (`O<N>` and `N<N>`), whose latitudes are
    /// Gauss–Legendre nodes.
    pub fn is_gaussian(&self) -> bool {
        matches!(self, Grid::Gaussian { .. })
    }

    /// The latitude rings: `Some` for lat-lon grids (every ring `nlon` long)
    /// and Gaussian grids, `None` for point grids.
    pub fn rings(&self) -> Option<Rings> {
        let lat_deg = self.ring_latitudes_deg()?;
        let lengths: Vec<usize> = match self {
            Grid::Equiangular { nlat, nlon, .. } => vec![*nlon; *nlat],
            Grid::Gaussian { n, octahedral } => (0..2 * n)
                .map(|r| {
                    if *octahedral {
                        // ring i = 1..=n counted from the nearer pole
                        4 * (r.min(2 * n - 1 - r) + 1) + 16
                    } else {
                        4 * n
                    }
                })
                .collect(),
            Grid::Points { .. } => return None,
        };
        let mut offsets = Vec::with_capacity(lengths.len() + 1);
        offsets.push(0);
        for &len in &lengths {
            offsets.push(offsets[offsets.len() - 1] + len);
        }
        Some(Rings {
            lat_deg,
            lengths,
            offsets,
        })
    }

    /// Ring latitudes in degrees, north to south: `[nlat]` for lat-lon grids,
    /// `[2N]` (the Gauss–Legendre latitudes `asin(x_j)`, exactly symmetric
    /// about the equator) for Gaussian grids; `None` for point grids.
    pub fn ring_latitudes_deg(&self) -> Option<Vec<f64>> {
        match self {
            Grid::Equiangular { .. } => Some(self.latitudes_deg()),
            Grid::Gaussian { n, .. } => {
                let (theta, _) = gauss_legendre_colatitudes(2 * n);
                let north: Vec<f64> = theta[..*n].iter().map(|t| 90.0 - t.to_degrees()).collect();
                Some(
                    north
                        .iter()
                        .copied()
                        .chain(north.iter().rev().map(|&l| -l))
                        .collect(),
                )
            }
            Grid::Points { .. } => None,
        }
    }

    /// Always false: every constructor rejects empty grids.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Field shape: `[nlat, nlon]` for lat-lon grids, `[n_points]` for
    /// Gaussian and point grids.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Grid::Equiangular { nlat, nlon, .. } => vec![*nlat, *nlon],
            Grid::Gaussian { .. } | Grid::Points { .. } => vec![self.len()],
        }
    }

    /// Short human description, e.g. `0.25° lat-lon with poles (721 x 1440)`
    /// or `octahedral reduced Gaussian O96 (192 rings, 40320 points)`.
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
            Grid::Gaussian { n, octahedral } => {
                let kind = if *octahedral {
                    "octahedral reduced Gaussian O"
                } else {
                    "regular Gaussian N"
                };
                format!("{kind}{n} ({} rings, {} points)", 2 * n, self.len())
            }
            Grid::Points { lat_deg, .. } => format!("{} points", lat_deg.len()),
        }
    }

    /// Latitudes in degrees. Lat-lon grids: per ring, north to south,
    /// `[nlat]`. Gaussian and point grids (1-D): per point, `[npoints]`, in
    /// point order.
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
            Grid::Gaussian { .. } => self.point_lat_lon().into_iter().map(|p| p.0).collect(),
            Grid::Points { lat_deg, .. } => lat_deg.clone(),
        }
    }

    /// Longitudes in degrees east in [0, 360). Lat-lon grids: per column,
    /// `[nlon]`. Gaussian and point grids (1-D): per point, `[npoints]`.
    pub fn longitudes_deg(&self) -> Vec<f64> {
        match self {
            Grid::Equiangular { nlon, .. } => ring_longitudes_deg(*nlon).collect(),
            Grid::Gaussian { .. } => self.point_lat_lon().into_iter().map(|p| p.1).collect(),
            Grid::Points { lon_deg, .. } => lon_deg.clone(),
        }
    }

    /// (latitude, longitude) in degrees of every point, ring by ring north to
    /// south: `[len]`.
    pub fn point_lat_lon(&self) -> Vec<(f64, f64)> {
        match self {
            Grid::Gaussian { .. } => {
                let rings = self.rings().expect("Gaussian grids have rings");
                let mut out = Vec::with_capacity(self.len());
                for (&lat, &len) in rings.lat_deg.iter().zip(&rings.lengths) {
                    out.extend(ring_longitudes_deg(len).map(|lon| (lat, lon)));
                }
                out
            }
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

    /// Unit vectors of every point, ring by ring north to south: `[len]`.
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
    /// `get_lat_weights`). `None` for Gaussian grids (rings of different
    /// lengths: use [`Grid::area_weights`]) and for point grids.
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

    /// Area weight of every point, mean 1: `[len]`, in point order.
    ///
    /// Lat-lon grids: the ring's [`Grid::latitude_weights`]. Gaussian grids:
    /// the ring's Gauss–Legendre weight `w_r` (the ring's share of
    /// `∫ d(sin φ)`) divided by its number of points, normalised to mean 1,
    /// i.e. `w_r · npoints / (2 · len_r)`. Point grids carry no cell geometry
    /// and get equal weights.
    pub fn area_weights(&self) -> Vec<f64> {
        match self {
            Grid::Equiangular { nlon, .. } => self
                .latitude_weights()
                .expect("lat-lon grids have latitude weights")
                .iter()
                .flat_map(|&wi| std::iter::repeat_n(wi, *nlon))
                .collect(),
            Grid::Gaussian { n, .. } => {
                let rings = self.rings().expect("Gaussian grids have rings");
                let (_, w) = gauss_legendre_colatitudes(2 * n);
                let scale = self.len() as f64 / w.iter().sum::<f64>();
                w.iter()
                    .zip(&rings.lengths)
                    .flat_map(|(&wr, &len)| std::iter::repeat_n(wr * scale / len as f64, len))
                    .collect()
            }
            Grid::Points { .. } => vec![1.0; self.len()],
        }
    }
}

/// Longitudes `360·k/len`, `k = 0..len`, of the points of a ring (degrees).
fn ring_longitudes_deg(len: usize) -> impl Iterator<Item = f64> {
    (0..len).map(move |k| k as f64 * 360.0 / len as f64)
}

/// The latitude rings of a lat-lon or Gaussian grid (see [`Grid::rings`]).
/// Point `k` of ring `r` is grid point `offsets[r] + k`, at longitude
/// `360·k/lengths[r]` degrees.
#[derive(Clone, Debug, PartialEq)]
pub struct Rings {
    /// `[nrings]` ring latitudes in degrees, north to south.
    pub lat_deg: Vec<f64>,
    /// `[nrings]` points per ring.
    pub lengths: Vec<usize>,
    /// `[nrings + 1]` first point of each ring; `offsets[nrings]` is the
    /// number of points.
    pub offsets: Vec<usize>,
}

impl Rings {
    /// Number of rings.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    /// Always false for the rings of a grid (every grid has a ring).
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// Number of points over all rings.
    pub fn npoints(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests;
