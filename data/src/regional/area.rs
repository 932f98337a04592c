//! The geometry of a regular latitude-longitude box: its extent, its
//! spacing, how the stored rows and columns map to north-to-south /
//! west-to-east order, and where its points fall on a global lat-lon grid.

use std::path::Path;

use fastnet_mesh::Grid;

use crate::error::{DataError, Result};

/// Tolerance in degrees on coordinates of a regular box (CDS files store
/// them as float32 or float64 multiples of the step).
pub const BOX_TOL_DEG: f64 = 1e-3;

/// A regular latitude-longitude box in canonical order: rows north to south,
/// columns west to east. A field on it is `[nlat * nlon]`, row-major.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LatLonBox {
    /// Row latitudes in degrees north, north to south: `[nlat]`.
    pub lats_deg: Vec<f64>,
    /// Column longitudes in degrees east, west to east and strictly
    /// increasing: `[nlon]`. They start at the western edge as the file
    /// gives it ([-180, 180) when the file has negative longitudes, else
    /// [0, 360)) and may pass 180 or 360 when the box crosses that meridian.
    pub lons_deg: Vec<f64>,
    /// Spacing between rows, degrees (> 0).
    pub lat_step_deg: f64,
    /// Spacing between columns, degrees (> 0).
    pub lon_step_deg: f64,
}

/// How the stored rows and columns map to canonical order.
#[derive(Clone, Debug, PartialEq)]
pub struct Orientation {
    /// Latitudes are stored south to north (row `i` is stored at `nlat-1-i`).
    pub lat_flipped: bool,
    /// Canonical column `j` is stored at column `cols[j]`: `[nlon]`.
    pub cols: Vec<usize>,
}

fn bad(path: &Path, what: String, expected: &str) -> DataError {
    DataError::BadCoordinate {
        path: path.to_path_buf(),
        what,
        expected: expected.to_string(),
    }
}

const REGULAR: &str =
    "a regular lat-lon box: latitudes in equal steps within [-90, 90], longitudes in equal steps";

impl LatLonBox {
    /// The box of a file's 1-D coordinates `lat` (`[nlat]`, either order) and
    /// `lon` (`[nlon]`, degrees east in [-180, 180) or [0, 360), possibly
    /// wrapping across the 0° or 180° meridian), and the file's orientation.
    /// Refuses irregular spacing, repeated values and fewer than 2 points
    /// along either axis, naming the first offending coordinate.
    pub fn from_coords(path: &Path, lat: &[f64], lon: &[f64]) -> Result<(LatLonBox, Orientation)> {
        let (nlat, nlon) = (lat.len(), lon.len());
        if nlat < 2 || nlon < 2 {
            return Err(bad(
                path,
                format!("grid of {nlat} latitudes x {nlon} longitudes"),
                "at least 2 latitudes and 2 longitudes",
            ));
        }
        if let Some(x) = lat.iter().chain(lon).find(|x| !x.is_finite()) {
            return Err(bad(path, format!("coordinate value {x}"), REGULAR));
        }
        if let Some(x) = lat.iter().find(|x| x.abs() > 90.0 + BOX_TOL_DEG) {
            return Err(bad(path, format!("latitude {x}°"), REGULAR));
        }
        let lat_flipped = lat[0] < lat[nlat - 1];
        let lats: Vec<f64> = if lat_flipped {
            lat.iter().rev().copied().collect()
        } else {
            lat.to_vec()
        };
        let lat_step = (lats[0] - lats[nlat - 1]) / (nlat - 1) as f64;
        if lat_step <= BOX_TOL_DEG {
            return Err(bad(path, "latitudes are all equal".into(), REGULAR));
        }
        for (i, &x) in lats.iter().enumerate() {
            let want = lats[0] - i as f64 * lat_step;
            if (x - want).abs() > BOX_TOL_DEG {
                return Err(bad(
                    path,
                    format!(
                        "latitude {i} (north to south) is {x}°, {want}° was expected for a step of {lat_step}°"
                    ),
                    REGULAR,
                ));
            }
        }
        let (lons, cols, lon_step) = columns(path, lon)?;
        let area = LatLonBox {
            lats_deg: (0..nlat).map(|i| lats[0] - i as f64 * lat_step).collect(),
            lons_deg: lons,
            lat_step_deg: lat_step,
            lon_step_deg: lon_step,
        };
        Ok((area, Orientation { lat_flipped, cols }))
    }

    pub fn nlat(&self) -> usize {
        self.lats_deg.len()
    }

    pub fn nlon(&self) -> usize {
        self.lons_deg.len()
    }

    /// Number of points, `nlat * nlon`.
    pub fn len(&self) -> usize {
        self.nlat() * self.nlon()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn north(&self) -> f64 {
        self.lats_deg[0]
    }

    pub fn south(&self) -> f64 {
        self.lats_deg[self.nlat() - 1]
    }

    pub fn west(&self) -> f64 {
        self.lons_deg[0]
    }

    pub fn east(&self) -> f64 {
        self.lons_deg[self.nlon() - 1]
    }

    /// All longitudes around the globe are present (`nlon · step = 360°`).
    pub fn covers_all_longitudes(&self) -> bool {
        (self.nlon() as f64 * self.lon_step_deg - 360.0).abs() < BOX_TOL_DEG * self.nlon() as f64
    }

    /// The box covers the globe: all longitudes, and latitudes from pole to
    /// pole (on the poles, or half a step from them).
    pub fn is_global(&self) -> bool {
        let edge = |x: f64| {
            (x.abs() - 90.0).abs() < BOX_TOL_DEG
                || (x.abs() - (90.0 - self.lat_step_deg / 2.0)).abs() < BOX_TOL_DEG
        };
        self.covers_all_longitudes()
            && edge(self.north())
            && edge(self.south())
            && self.north() > 0.0
            && self.south() < 0.0
    }

    /// (latitude, longitude in [0, 360)) of every point, rows north to south,
    /// columns west to east: `[len]`.
    pub fn point_lat_lon(&self) -> Vec<(f64, f64)> {
        self.lats_deg
            .iter()
            .flat_map(|&la| {
                self.lons_deg
                    .iter()
                    .map(move |&lo| (la, lo.rem_euclid(360.0)))
            })
            .collect()
    }

    /// `60°N..35°N, 10°W..30°E at 0.25° x 0.25° (101 x 161 points)`; a box
    /// all the way round says `all longitudes from 0°E`.
    pub fn describe(&self) -> String {
        let la = |x: f64| {
            let h = if x < 0.0 { "S" } else { "N" };
            format!("{}°{h}", fmt_deg(x.abs()))
        };
        let lo = |x: f64| {
            let x = if x >= 180.0 { x - 360.0 } else { x };
            let x = if x < -180.0 { x + 360.0 } else { x };
            let h = if x < 0.0 { "W" } else { "E" };
            format!("{}°{h}", fmt_deg(x.abs()))
        };
        let lons = if self.covers_all_longitudes() {
            format!("all longitudes from {}", lo(self.west()))
        } else {
            format!("{}..{}", lo(self.west()), lo(self.east()))
        };
        format!(
            "{}..{}, {lons} at {}° x {}° ({} x {} points)",
            la(self.north()),
            la(self.south()),
            fmt_deg(self.lat_step_deg),
            fmt_deg(self.lon_step_deg),
            self.nlat(),
            self.nlon()
        )
    }

    /// Where each point of the box lies on the global lat-lon `grid`: the
    /// canonical index (`row * nlon + column`, rows north to south, columns
    /// from 0° east) of every box point, in box order: `[len]`. The box must
    /// lie on the grid's lattice to [`BOX_TOL_DEG`]; otherwise one
    /// [`DataError::BadCoordinate`] naming `path`, the first point off the
    /// lattice and the grid.
    pub fn lattice_indices(&self, grid: &Grid, path: &Path) -> Result<Vec<usize>> {
        let Grid::Equiangular { nlat, nlon, .. } = *grid else {
            return Err(bad(
                path,
                format!("regional box {}", self.describe()),
                &format!(
                    "a box on a lat-lon grid; {} has no regular rows and columns",
                    grid.describe()
                ),
            ));
        };
        let glat = grid.latitudes_deg();
        let dlon = 360.0 / nlon as f64;
        let expected = format!(
            "a box on the lattice of {} (latitudes {}, {}, ..., longitudes every {}°)",
            grid.describe(),
            fmt_deg(glat[0]),
            fmt_deg(glat[1]),
            fmt_deg(dlon)
        );
        let dlat = glat[0] - glat[1];
        let rows = self
            .lats_deg
            .iter()
            .map(|&la| {
                let i = ((glat[0] - la) / dlat).round();
                let ok =
                    i >= 0.0 && (i as usize) < nlat && (glat[i as usize] - la).abs() < BOX_TOL_DEG;
                ok.then_some(i as usize).ok_or_else(|| {
                    bad(
                        path,
                        format!("box latitude {la}° is not a row of the grid"),
                        &expected,
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let cols = self
            .lons_deg
            .iter()
            .map(|&lo| {
                let w = lo.rem_euclid(360.0);
                let j = (w / dlon).round();
                let ok = (j * dlon - w).abs() < BOX_TOL_DEG;
                ok.then_some(j as usize % nlon).ok_or_else(|| {
                    bad(
                        path,
                        format!("box longitude {lo}° is not a column of the grid"),
                        &expected,
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(rows
            .iter()
            .flat_map(|&r| cols.iter().map(move |&c| r * nlon + c))
            .collect())
    }
}

/// `0.25`, `10`, `1.5` (at most 4 decimals, no trailing zeros).
fn fmt_deg(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// Canonical columns of stored longitudes `lon`: (longitudes west to east,
/// stored column of each canonical column, step).
///
/// The longitudes, taken modulo 360, must be `west + j·step`; the western
/// edge is the point after the widest gap around the circle (a box stored
/// as 0..30, 350..359.75 starts at 350), or the smallest value in [0, 360)
/// when the box goes all the way round.
fn columns(path: &Path, lon: &[f64]) -> Result<(Vec<f64>, Vec<usize>, f64)> {
    let n = lon.len();
    let mut order: Vec<(f64, usize)> = lon
        .iter()
        .enumerate()
        .map(|(j, &x)| (x.rem_euclid(360.0), j))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    for w in order.windows(2) {
        if w[1].0 - w[0].0 < BOX_TOL_DEG {
            return Err(bad(
                path,
                format!(
                    "longitudes {} and {} (columns {} and {}) are the same meridian",
                    lon[w[0].1], lon[w[1].1], w[0].1, w[1].1
                ),
                REGULAR,
            ));
        }
    }
    // Gap after sorted position k (cyclic).
    let gap = |k: usize| {
        let next = if k + 1 == n {
            order[0].0 + 360.0
        } else {
            order[k + 1].0
        };
        next - order[k].0
    };
    let widest = (0..n)
        .max_by(|&a, &b| gap(a).total_cmp(&gap(b)))
        .unwrap_or(0);
    let min_gap = (0..n).map(gap).fold(f64::INFINITY, f64::min);
    let full_circle = (gap(widest) - min_gap).abs() < BOX_TOL_DEG;
    let start = if full_circle { 0 } else { (widest + 1) % n };
    let step = if full_circle {
        360.0 / n as f64
    } else {
        (360.0 - gap(widest)) / (n - 1) as f64
    };
    let signed = lon.iter().any(|&x| x < 0.0);
    let mut west = order[start].0;
    if signed && west >= 180.0 {
        west -= 360.0;
    }
    let mut lons = Vec::with_capacity(n);
    let mut cols = Vec::with_capacity(n);
    for j in 0..n {
        let (w, stored) = order[(start + j) % n];
        let want = west + j as f64 * step;
        let d = (w - want).rem_euclid(360.0);
        if d.min(360.0 - d) > BOX_TOL_DEG {
            return Err(bad(
                path,
                format!(
                    "longitude {} (column {stored}) is not {want}°, the {j}-th meridian east of {west}° at a step of {step}°",
                    lon[stored]
                ),
                REGULAR,
            ));
        }
        lons.push(want);
        cols.push(stored);
    }
    Ok((lons, cols, step))
}
