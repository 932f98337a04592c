//! First-order conservative remapping from an equiangular grid (Jones 1999,
//! Mon. Wea. Rev. 127, 2204–2210, first order): the value of a target cell
//! is the area-weighted mean of the source values over the source cells it
//! overlaps, `f_t = Σ_s A(t ∩ s) f_s / Σ_s A(t ∩ s)`.
//!
//! All cells are latitude-longitude rectangles, so overlaps are exact:
//! `A(t ∩ s) = Δλ_overlap · Δ(sin φ)_overlap` (unit sphere, radians).
//!
//! * Source cells: ring `i` spans latitudes between the midpoints to its
//!   neighbouring rings, ±90° at the ends (the pole ring of a with-poles
//!   grid is a polar cap of half a step), and `λ_j ± Δλ/2` in longitude —
//!   the cells of [`Grid::area_weights`].
//! * Target cells of a Gaussian grid: ring `j` (north to south) spans
//!   `sin φ ∈ [e_{j+1}, e_j]` with `e_0 = 1`, `e_{j+1} = e_j − w_j` (`w_j`
//!   the ring's Gauss–Legendre weight, `Σ w = 2`), mirrored about the equator
//!   so `e_{2N} = −1` exactly; so `Δ(sin φ)` of a ring is its quadrature
//!   weight and the cell areas `w_j · 2π / len_j` are those of
//!   [`Grid::area_weights`]. The Gauss nodes interlace these cumulative
//!   weights (Chebyshev–Markov–Stieltjes separation), so every ring lies in
//!   its band. In longitude point `k` of a ring of `len` points covers
//!   `360·k/len ± 180/len`. Lat-lon targets use the source rule above.
//!
//! Since both sets of cells tile the sphere, `Σ_t A_t f_t = Σ_s A_s f_s`:
//! the area mean is preserved to round-off, and a constant is reproduced.

use fastnet_mesh::Grid;
use rayon::prelude::*;

use super::SourceGrid;
use crate::error::{DataError, Result};

/// `sin` of the latitude edges of lat-lon cells of rings at `lat_deg`
/// (north to south): `[nlat + 1]`, from 1 to −1, edges half-way between
/// rings.
pub fn latlon_sin_edges(lat_deg: &[f64]) -> Vec<f64> {
    let n = lat_deg.len();
    (0..=n)
        .map(|k| {
            if k == 0 {
                1.0
            } else if k == n {
                -1.0
            } else {
                (0.5 * (lat_deg[k - 1] + lat_deg[k])).to_radians().sin()
            }
        })
        .collect()
}

/// `sin` of the latitude edges of the cells of a Gaussian grid's `nrings`
/// rings (north to south): `[nrings + 1]`, `e_0 = 1`, `e_{j+1} = e_j − w_j`
/// with the Gauss–Legendre weights `w` (sum 2), mirrored so that the edges
/// are antisymmetric and `e_{nrings} = −1` exactly.
pub fn gaussian_sin_edges(nrings: usize) -> Vec<f64> {
    let (_, w) = fastnet_mesh::gaussian::gauss_legendre(nrings);
    let mut e: Vec<f64> = std::iter::once(1.0)
        .chain(w.iter().scan(1.0, |acc, w| {
            *acc -= w;
            Some(*acc)
        }))
        .collect();
    if nrings.is_multiple_of(2) {
        for j in 0..nrings / 2 {
            e[nrings - j] = -e[j];
        }
        e[nrings / 2] = 0.0;
    } else {
        e[nrings] = -1.0;
    }
    e
}

/// The cells of `target`: per ring the sin-latitude edges `[nrings + 1]`,
/// and the ring offsets `[nrings + 1]` into the point order.
fn target_cells(src: &SourceGrid, target: &Grid) -> Result<(Vec<f64>, Vec<usize>)> {
    let no_cells = || {
        DataError::Regrid {
        what: format!("{} lat-lon to {}", src.nlat, target.describe()),
        reason: "conservative remapping needs target cells; a point grid has none (use --method bilinear)".into(),
    }
    };
    let rings = target.rings().ok_or_else(no_cells)?;
    let edges = match target {
        Grid::Gaussian { .. } => gaussian_sin_edges(rings.lat_deg.len()),
        Grid::Equiangular { .. } => latlon_sin_edges(&rings.lat_deg),
        _ => return Err(no_cells()),
    };
    Ok((edges, rings.offsets.clone()))
}

/// Per target point (target order): the (source index, weight) pairs.
pub(crate) fn rows(src: &SourceGrid, target: &Grid) -> Result<Vec<Vec<(u32, f64)>>> {
    let (t_edges, offsets) = target_cells(src, target)?;
    let s_edges = latlon_sin_edges(&src.lat_deg);
    let points = target.point_lat_lon();
    let nrings = offsets.len() - 1;
    let per_ring: Vec<Vec<Vec<(u32, f64)>>> = (0..nrings)
        .into_par_iter()
        .map(|j| {
            let (top, bottom) = (t_edges[j], t_edges[j + 1]);
            // Source rings overlapping this band and the Δ(sin φ) of each.
            let bands: Vec<(usize, f64)> = (0..src.nlat)
                .filter_map(|i| {
                    let d = top.min(s_edges[i]) - bottom.max(s_edges[i + 1]);
                    (d > 0.0).then_some((i, d))
                })
                .collect();
            let len = offsets[j + 1] - offsets[j];
            let half = 180.0 / len as f64;
            (offsets[j]..offsets[j + 1])
                .map(|p| {
                    let centre = points[p].1;
                    let spans = lon_overlaps(src, centre - half, centre + half);
                    let mut row = Vec::with_capacity(bands.len() * spans.len());
                    for &(i, dsin) in &bands {
                        for &(col, dlon_rad) in &spans {
                            row.push(((i * src.nlon + col) as u32, dlon_rad * dsin));
                        }
                    }
                    let total: f64 = row.iter().map(|e| e.1).sum();
                    row.iter_mut().for_each(|e| e.1 /= total);
                    row
                })
                .collect()
        })
        .collect();
    Ok(per_ring.into_iter().flatten().collect())
}

/// Source columns whose cells `[λ_m − Δλ/2, λ_m + Δλ/2)` overlap the
/// longitude interval `[a, b]` (degrees, `b − a ≤ 360`, any range), with the
/// overlap in radians.
fn lon_overlaps(src: &SourceGrid, a: f64, b: f64) -> Vec<(usize, f64)> {
    let dl = src.dlon();
    let half = 0.5 * dl;
    let m_lo = ((a + half) / dl).floor() as i64;
    let m_hi = ((b + half) / dl).floor() as i64;
    (m_lo..=m_hi)
        .filter_map(|m| {
            let lo = (m as f64 * dl - half).max(a);
            let hi = (m as f64 * dl + half).min(b);
            (hi > lo).then(|| {
                (
                    m.rem_euclid(src.nlon as i64) as usize,
                    (hi - lo).to_radians(),
                )
            })
        })
        .collect()
}
