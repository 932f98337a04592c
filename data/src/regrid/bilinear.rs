//! Bilinear interpolation from an equiangular grid in (latitude, longitude).
//!
//! A target point at (φ, λ) lies between source rings `i` and `i + 1`
//! (latitudes φ_i ≥ φ ≥ φ_{i+1}) and columns `j`, `j + 1 (mod nlon)`
//! (longitudes λ_j ≤ λ < λ_j + Δλ, periodic). With `y = (φ_i − φ)/Δφ` and
//! `x = (λ − λ_j)/Δλ` in [0, 1):
//!
//! `f ≈ (1−y)(1−x) f_{i,j} + (1−y) x f_{i,j+1} + y (1−x) f_{i+1,j} + y x f_{i+1,j+1}`.
//!
//! Near the poles of a source **with** poles the pole ring (its `nlon`
//! copies of the pole value) is the ring `i` or `i + 1` like any other. A
//! source **without** poles has no ring beyond its first and last
//! (±(90 − Δφ/2)); a target point poleward of them takes the nearest ring,
//! still interpolated linearly in longitude (constant extrapolation in
//! latitude).
//!
//! Error for a smooth field (tensor-product linear interpolation):
//! `|f − I f| ≤ Δλ²/8 · max|∂²f/∂λ²| + Δφ²/8 · max|∂²f/∂φ²|` with the
//! spacings in radians, inside the source's latitude range.

use fastnet_mesh::Grid;
use rayon::prelude::*;

use super::SourceGrid;

/// Per target point (target order): the (source index, weight) pairs.
pub(crate) fn rows(src: &SourceGrid, target: &Grid) -> Vec<Vec<(u32, f64)>> {
    target
        .point_lat_lon()
        .par_iter()
        .map(|&(lat, lon)| point_row(src, lat, lon))
        .collect()
}

/// Source rows bracketing latitude `lat_deg`: `(i0, i1, y)` with the
/// target at `(1 − y) φ_{i0} + y φ_{i1}`; `i0 == i1` beyond the first or
/// last ring of a source without poles (and for a single-ring source).
pub(crate) fn bracket_lat(src: &SourceGrid, lat_deg: f64) -> (usize, usize, f64) {
    let d = src.dlat();
    let t = if src.poles {
        (90.0 - lat_deg) / d
    } else {
        (90.0 - lat_deg) / d - 0.5
    };
    let last = src.nlat - 1;
    if last == 0 || t <= 0.0 {
        return (0, 0, 0.0);
    }
    if t >= last as f64 {
        return (last, last, 0.0);
    }
    let i0 = (t.floor() as usize).min(last - 1);
    (i0, i0 + 1, t - i0 as f64)
}

/// Source columns bracketing longitude `lon_deg` (any range): `(j0, j1, x)`
/// with the target at `λ_{j0} + x Δλ`, `j1 = (j0 + 1) mod nlon`.
pub(crate) fn bracket_lon(src: &SourceGrid, lon_deg: f64) -> (usize, usize, f64) {
    let s = lon_deg.rem_euclid(360.0) / src.dlon();
    let f = s.floor();
    let j0 = (f as usize) % src.nlon;
    (j0, (j0 + 1) % src.nlon, s - f)
}

fn point_row(src: &SourceGrid, lat: f64, lon: f64) -> Vec<(u32, f64)> {
    let (i0, i1, y) = bracket_lat(src, lat);
    let (j0, j1, x) = bracket_lon(src, lon);
    let idx = |i: usize, j: usize| (i * src.nlon + j) as u32;
    vec![
        (idx(i0, j0), (1.0 - y) * (1.0 - x)),
        (idx(i0, j1), (1.0 - y) * x),
        (idx(i1, j0), y * (1.0 - x)),
        (idx(i1, j1), y * x),
    ]
}
