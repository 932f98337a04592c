//! Drawing any grid as a latitude-longitude picture: for every pixel, the
//! grid point nearest to the pixel centre (nearest-neighbour resampling, so
//! a reduced Gaussian field is drawn "filled per point").

use rayon::prelude::*;

use crate::connectivity::PointIndex;
use crate::geometry::lat_lon_to_xyz;
use crate::grid::{Grid, Rings};

impl Grid {
    /// Index of the grid point to show at each pixel of an `nlat` x `nlon`
    /// latitude-longitude picture.
    ///
    /// Returns `[nlat * nlon]` point indices, row-major: pixel `(i, j)` has
    /// its centre at latitude `90 − (i + ½)·180/nlat` (rows north to south)
    /// and longitude `(j + ½)·360/nlon` (columns eastwards from 0). So
    /// `picture[i * nlon + j] = field[index[i * nlon + j]]` for a flat field
    /// in point order.
    ///
    /// Lat-lon and Gaussian grids: the ring nearest in latitude, then the
    /// point of that ring nearest in longitude (wrapping around 360°). Point
    /// grids: the nearest point on the sphere (k-d tree). Either empty side
    /// (or an empty grid) gives an empty vector. Rows are done in parallel.
    pub fn display_index(&self, nlat: usize, nlon: usize) -> Vec<usize> {
        if nlat == 0 || nlon == 0 || self.is_empty() {
            return Vec::new();
        }
        let pixel_lat = |i: usize| 90.0 - (i as f64 + 0.5) * 180.0 / nlat as f64;
        let pixel_lon = |j: usize| (j as f64 + 0.5) * 360.0 / nlon as f64;
        let mut out = vec![0usize; nlat * nlon];
        let rows = out.par_chunks_mut(nlon).enumerate();
        match self.rings() {
            Some(rings) => rows.for_each(|(i, row)| {
                let r = nearest_ring(&rings.lat_deg, pixel_lat(i));
                for (j, px) in row.iter_mut().enumerate() {
                    *px = nearest_in_ring(&rings, r, pixel_lon(j));
                }
            }),
            None => {
                let index = PointIndex::new(&self.positions());
                rows.for_each(|(i, row)| {
                    let lat = pixel_lat(i);
                    for (j, px) in row.iter_mut().enumerate() {
                        let q = lat_lon_to_xyz(lat, pixel_lon(j));
                        *px = index.nearest(q, 1).first().map_or(0, |&p| p as usize);
                    }
                })
            }
        }
        out
    }
}

/// The ring whose latitude is nearest `lat` (degrees); `lat_deg` is
/// `[nrings]`, descending, non-empty. Ties go to the northern ring.
fn nearest_ring(lat_deg: &[f64], lat: f64) -> usize {
    // first ring at or south of `lat`
    let south = lat_deg.partition_point(|&l| l > lat);
    if south == 0 {
        0
    } else if south == lat_deg.len() {
        lat_deg.len() - 1
    } else if lat_deg[south - 1] - lat <= lat - lat_deg[south] {
        south - 1
    } else {
        south
    }
}

/// The point of ring `r` nearest in longitude to `lon` (degrees in
/// [0, 360)), wrapping around: ring points lie at `360·k/len`.
fn nearest_in_ring(rings: &Rings, r: usize, lon: f64) -> usize {
    let len = rings.lengths[r];
    let k = (lon * len as f64 / 360.0).round() as usize % len;
    rings.offsets[r] + k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{chord, lat_lon_to_xyz};

    /// Brute force: the point nearest in latitude first, then in longitude
    /// (wrapped) — what the ring rule means, written without rings.
    fn brute_ring_rule(grid: &Grid, lat: f64, lon: f64) -> usize {
        let pts = grid.point_lat_lon();
        let best_dlat = pts
            .iter()
            .map(|p| (p.0 - lat).abs())
            .fold(f64::INFINITY, f64::min);
        let dlon = |p: f64| {
            let d = (p - lon).rem_euclid(360.0);
            d.min(360.0 - d)
        };
        (0..pts.len())
            .filter(|&i| (pts[i].0 - lat).abs() == best_dlat)
            .min_by(|&a, &b| dlon(pts[a].1).total_cmp(&dlon(pts[b].1)))
            .expect("non-empty grid")
    }

    #[test]
    fn ring_grids_pick_the_nearest_ring_then_the_nearest_point() {
        // 8 x 13 pixels do not line up with the grids (no pixel centre on the
        // equator or half-way between two points of a ring), so every pixel
        // tests a real choice; O4 rings have 20, 24, 28, 32 points.
        for grid in [
            Grid::octahedral(4).unwrap(),
            Grid::regular_gaussian(3).unwrap(),
            Grid::from_spec("latlon:30").unwrap(),
        ] {
            let (nlat, nlon) = (8, 13);
            let idx = grid.display_index(nlat, nlon);
            assert_eq!(idx.len(), nlat * nlon);
            for i in 0..nlat {
                for j in 0..nlon {
                    let lat = 90.0 - (i as f64 + 0.5) * 180.0 / nlat as f64;
                    let lon = (j as f64 + 0.5) * 360.0 / nlon as f64;
                    assert_eq!(
                        idx[i * nlon + j],
                        brute_ring_rule(&grid, lat, lon),
                        "{} pixel ({i}, {j})",
                        grid.describe()
                    );
                }
            }
        }
    }

    #[test]
    fn octahedral_pixels_by_hand_and_wrap_around() {
        // O2: rings of 20, 24, 24, 20 points at ±59.44° and ±19.88°, the
        // asin of the roots of P_4, x² = (3 ± 2√(6/5))/7.
        let grid = Grid::octahedral(2).unwrap();
        let rings = grid.rings().unwrap();
        let outer = ((3.0 + 2.0 * (6.0f64 / 5.0).sqrt()) / 7.0)
            .sqrt()
            .asin()
            .to_degrees();
        assert!((rings.lat_deg[0] - outer).abs() < 1e-12);
        assert!((outer - 59.444).abs() < 1e-3);
        // a 2 x 40 picture: row 0 (lat 45) is nearest ring 0 (20 points, 18° apart)
        let idx = grid.display_index(2, 40);
        // pixel 0 at lon 4.5°: k = round(0.25) = 0
        assert_eq!(idx[0], 0);
        // pixel 5 at lon 49.5°: k = round(2.75) = 3
        assert_eq!(idx[5], 3);
        // pixel 39 at lon 355.5°: k = round(19.75) = 20, which wraps to 0
        assert_eq!(idx[39], 0);
        // row 1 (lat −45) is the last ring
        assert_eq!(idx[40 + 5], rings.offsets[3] + 3);
        assert_eq!(rings.offsets[3], 20 + 24 + 24);
        assert!(grid.display_index(0, 5).is_empty());
    }

    #[test]
    fn point_grids_pick_the_nearest_point_on_the_sphere() {
        let pts: Vec<(f64, f64)> = (0..200)
            .map(|i| {
                let f = i as f64;
                (
                    ((f * 0.618_033_988_7).fract() * 2.0 - 1.0)
                        .asin()
                        .to_degrees(),
                    f * 137.507_764,
                )
            })
            .collect();
        let grid = Grid::points(&pts).unwrap();
        let pos = grid.positions();
        let (nlat, nlon) = (9, 18);
        let idx = grid.display_index(nlat, nlon);
        for i in 0..nlat {
            for j in 0..nlon {
                let q = lat_lon_to_xyz(90.0 - (i as f64 + 0.5) * 20.0, (j as f64 + 0.5) * 20.0);
                let best = (0..pos.len())
                    .min_by(|&a, &b| chord(pos[a], q).total_cmp(&chord(pos[b], q)))
                    .unwrap();
                assert_eq!(idx[i * nlon + j], best, "pixel ({i}, {j})");
            }
        }
    }
}
