//! Reduced Gaussian grids in files: anemoi-inference's point layout, one
//! dimension `values` with per-point coordinate variables `latitude(values)`
//! and `longitude(values)` in degrees, points ring by ring from north to
//! south. [`gaussian_grid_of`] infers the grid (O<N> or N<N>) from the ring
//! structure and checks it against [`Grid`]'s Gauss–Legendre latitudes and
//! longitudes `360·k/len`.

use std::path::Path;

use fastnet_mesh::Grid;

use crate::error::{DataError, Result};

/// The point dimension of reduced grids (anemoi-inference, ecCodes/xarray).
pub const POINT_DIM: &str = "values";

/// Tolerance in degrees on the coordinates of a reduced Gaussian grid: the
/// precision GRIB/ecCodes-derived files carry (latitudes in micro-degrees,
/// float32 coordinates near ±90° to ~1e-5°).
pub const GAUSSIAN_TOL_DEG: f64 = 1e-4;

/// The per-point coordinate variable of a point layout: the first of `names`
/// that exists, must be 1-D over `values`. Returns (name, values in degrees).
pub(crate) fn point_coord(
    f: &netcdf::File,
    path: &Path,
    names: &[&str],
) -> Result<(String, Vec<f64>)> {
    let Some(v) = names.iter().find_map(|n| f.variable(n)) else {
        return Err(DataError::ReducedGrid {
            path: path.to_path_buf(),
            found: format!("there is no coordinate variable {}", names.join(" or ")),
            expected: format!("`{}({POINT_DIM})` in degrees", names[0]),
        });
    };
    let name = v.name();
    let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
    if dims != [POINT_DIM] {
        return Err(DataError::ReducedGrid {
            path: path.to_path_buf(),
            found: format!("coordinate variable {name} has dimensions {dims:?}"),
            expected: format!("`{name}({POINT_DIM})`, one value per point"),
        });
    }
    let values = v
        .get_values::<f64, _>(..)
        .map_err(|e| DataError::read(path, &name, e))?;
    Ok((name, values))
}

/// Recognises the reduced Gaussian grid whose points have latitudes `lat`
/// and longitudes `lon` (degrees, `[npoints]` each, file order).
///
/// Rings are runs of equal latitude (within [`GAUSSIAN_TOL_DEG`]); there must
/// be 2N of them, strictly north to south, with `4i + 16` points on the
/// i-th ring from either pole (octahedral O<N>) or `4N` on every ring
/// (regular N<N>); ring latitudes must be those of [`Grid`]'s Gaussian grid
/// and the k-th point of a ring of `len` points at longitude `360·k/len`
/// (modulo 360, so [-180, 180) is accepted). Anything else is one
/// [`DataError::ReducedGrid`] naming what was found and what was expected.
pub fn gaussian_grid_of(path: &Path, lat: &[f64], lon: &[f64]) -> Result<Grid> {
    let fail = |found: String, expected: String| DataError::ReducedGrid {
        path: path.to_path_buf(),
        found,
        expected,
    };
    let tol = GAUSSIAN_TOL_DEG;
    if lat.len() != lon.len() || lat.is_empty() {
        return Err(fail(
            format!("{} latitudes and {} longitudes", lat.len(), lon.len()),
            "one of each per point".into(),
        ));
    }
    if let Some(k) = (0..lat.len()).find(|&k| !lat[k].is_finite() || !lon[k].is_finite()) {
        return Err(fail(
            format!("point {k} is at ({}, {})", lat[k], lon[k]),
            "finite coordinates".into(),
        ));
    }
    // Rings: runs of equal latitude, strictly decreasing.
    let mut offsets = vec![0usize];
    for k in 1..lat.len() {
        let start = *offsets.last().unwrap_or(&0);
        let d = lat[k] - lat[start];
        if d.abs() <= tol {
            continue;
        }
        if d > 0.0 {
            return Err(fail(
                format!(
                    "point {k} is at latitude {}° after a ring at {}°",
                    lat[k], lat[start]
                ),
                "points ordered ring by ring from north to south (a Gaussian grid)".into(),
            ));
        }
        offsets.push(k);
    }
    offsets.push(lat.len());
    let lengths: Vec<usize> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
    let nrings = lengths.len();
    if !nrings.is_multiple_of(2) {
        return Err(fail(
            format!("{nrings} distinct latitudes"),
            "an even number 2N of rings (a Gaussian grid)".into(),
        ));
    }
    let n = nrings / 2;
    let oct = |i: usize| 4 * (i + 1).min(nrings - i) + 16;
    let first_bad = |want: &dyn Fn(usize) -> usize| (0..nrings).find(|&i| lengths[i] != want(i));
    let (m_oct, m_reg) = (first_bad(&oct), first_bad(&|_| 4 * n));
    let octahedral = match (m_oct, m_reg) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => {
            let (i, what) = if b > a {
                (
                    b,
                    format!(
                        "{}, as on every ring of the regular Gaussian grid N{n}",
                        4 * n
                    ),
                )
            } else {
                (
                    a,
                    format!(
                        "{}, as on the octahedral grid O{n} (4i + 16 points on the i-th ring from either pole)",
                        oct(a)
                    ),
                )
            };
            return Err(fail(
                format!(
                    "ring {} (from the north, of {nrings}) has {} points",
                    i + 1,
                    lengths[i]
                ),
                what,
            ));
        }
    };
    let grid = if octahedral {
        Grid::octahedral(n)
    } else {
        Grid::regular_gaussian(n)
    }
    .map_err(|e| fail(format!("{nrings} rings"), e.to_string()))?;
    let name = if octahedral {
        format!("O{n}")
    } else {
        format!("N{n}")
    };
    let want_lat = grid.ring_latitudes_deg().unwrap_or_default();
    for (i, (&o, &want)) in offsets.iter().zip(&want_lat).enumerate() {
        if (lat[o] - want).abs() > tol {
            return Err(fail(
                format!(
                    "latitudes are not those of {name}: ring {} (from the north) is at {}°",
                    i + 1,
                    lat[o]
                ),
                format!("{want}° (the Gauss–Legendre latitudes of {name}, to {tol}°)"),
            ));
        }
    }
    for (i, w) in offsets.windows(2).enumerate() {
        let len = w[1] - w[0];
        for k in 0..len {
            let want = 360.0 * k as f64 / len as f64;
            let got = lon[w[0] + k].rem_euclid(360.0);
            let d = (got - want).abs();
            if d > tol && (360.0 - d) > tol {
                return Err(fail(
                    format!(
                        "point {k} of ring {} (from the north) is at longitude {}°",
                        i + 1,
                        lon[w[0] + k]
                    ),
                    format!(
                        "{want}°: the points of a {len}-point ring of {name} lie at 360·k/{len}° from 0, ascending"
                    ),
                ));
            }
        }
    }
    Ok(grid)
}
