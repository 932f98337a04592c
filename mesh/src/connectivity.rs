//! Grid <-> mesh connectivity: radius and k-nearest queries on a k-d tree of
//! mesh vertices (unit vectors, chord distance), and the containing
//! finest-mesh triangle of each grid point by descent through the refinement
//! hierarchy. GraphCast's `grid_mesh_connectivity.py`, without all-pairs scans.

use std::num::NonZero;

use kiddo::immutable::float::kdtree::ImmutableKdTree;
use kiddo::SquaredEuclidean;
use rayon::prelude::*;

use crate::geometry::{det3, sub, Vec3};
use crate::icosahedron::MeshHierarchy;

/// A k-d tree over points on the unit sphere (typically mesh vertices).
pub struct PointIndex {
    tree: ImmutableKdTree<f64, u32, 3, 32>,
    points: Vec<Vec3>,
}

fn chord2(a: Vec3, b: Vec3) -> f64 {
    let d = sub(a, b);
    d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
}

impl PointIndex {
    /// Indexes `points` (`[N]` unit vectors); item `i` is `points[i]`.
    pub fn new(points: &[Vec3]) -> PointIndex {
        PointIndex {
            tree: ImmutableKdTree::new_from_slice(points),
            points: points.to_vec(),
        }
    }

    /// Number of indexed points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Indices of all points with chord distance `<= radius` from `q`,
    /// ascending. The distance test is redone here in f64 so the result does
    /// not depend on the tree's internal arithmetic.
    pub fn within(&self, q: Vec3, radius: f64) -> Vec<u32> {
        let r2 = radius * radius;
        let mut hits: Vec<u32> = self
            .tree
            .within_unsorted::<SquaredEuclidean>(&q, r2 * (1.0 + 1e-9))
            .into_iter()
            .map(|n| n.item)
            .filter(|&i| chord2(self.points[i as usize], q) <= r2)
            .collect();
        hits.sort_unstable();
        hits
    }

    /// The `k` points nearest to `q`, nearest first (ties by index).
    pub fn nearest(&self, q: Vec3, k: usize) -> Vec<u32> {
        let Some(k) = NonZero::new(k.min(self.points.len())) else {
            return Vec::new();
        };
        let mut hits: Vec<(f64, u32)> = self
            .tree
            .nearest_n::<SquaredEuclidean>(&q, k)
            .into_iter()
            .map(|n| (chord2(self.points[n.item as usize], q), n.item))
            .collect();
        hits.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        hits.into_iter().map(|(_, i)| i).collect()
    }
}

/// Edges `(query, point)` from every query position to every indexed point
/// within chord `radius`, sorted by query then point: `[E]`.
pub fn radius_edges(queries: &[Vec3], index: &PointIndex, radius: f64) -> Vec<(u32, u32)> {
    flatten(
        queries
            .par_iter()
            .map(|&q| index.within(q, radius))
            .collect(),
    )
}

/// Edges `(query, point)` from every query position to its `k` nearest
/// indexed points, sorted by query then distance: `[queries · k]`.
pub fn nearest_edges(queries: &[Vec3], index: &PointIndex, k: usize) -> Vec<(u32, u32)> {
    flatten(queries.par_iter().map(|&q| index.nearest(q, k)).collect())
}

fn flatten(per_query: Vec<Vec<u32>>) -> Vec<(u32, u32)> {
    let total = per_query.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    for (q, hits) in per_query.into_iter().enumerate() {
        out.extend(hits.into_iter().map(|p| (q as u32, p)));
    }
    out
}

/// Coordinates of `p` in the basis of the triangle's corners:
/// `p = α a + β b + γ c`. All three are `>= 0` exactly when the ray from the
/// centre through `p` crosses the triangle `(a, b, c)` (counter-clockwise
/// seen from outside); for the antipodal triangle all three are negative.
pub fn cone_coordinates(a: Vec3, b: Vec3, c: Vec3, p: Vec3) -> [f64; 3] {
    let d = det3(a, b, c);
    [det3(p, b, c) / d, det3(a, p, c) / d, det3(a, b, p) / d]
}

/// Barycentric coordinates of the central projection of `p` onto the flat
/// triangle `(a, b, c)`: the cone coordinates scaled to `α + β + γ = 1`.
pub fn barycentric(a: Vec3, b: Vec3, c: Vec3, p: Vec3) -> [f64; 3] {
    let w = cone_coordinates(a, b, c, p);
    let s = w[0] + w[1] + w[2];
    [w[0] / s, w[1] / s, w[2] / s]
}

/// For each point, the finest-level face whose spherical triangle contains
/// it, and the point's barycentric coordinates in that face.
///
/// Descends the hierarchy: the best of the 20 base faces, then at each level
/// the child containing the point. A child is found with three orientation
/// tests against the edges of the central child (the 4 children partition
/// their parent exactly), so the cost is `O(level)` per point. Points on an
/// edge go to either neighbour.
///
/// Returns `[points]` of (face index into `hierarchy.finest_faces()`,
/// barycentric coordinates).
pub fn containing_triangles(hierarchy: &MeshHierarchy, points: &[Vec3]) -> Vec<(u32, [f64; 3])> {
    let v = &hierarchy.vertices;
    let vert = |i: u32| v[i as usize];
    points
        .par_iter()
        .map(|&p| {
            let base = &hierarchy.faces[0];
            let mut face = (0..base.len())
                .map(|f| {
                    let [a, b, c] = base[f].map(vert);
                    let w = cone_coordinates(a, b, c, p);
                    (w[0].min(w[1]).min(w[2]), f)
                })
                .max_by(|x, y| x.0.total_cmp(&y.0))
                .map(|(_, f)| f)
                .expect("the icosahedron has 20 faces");
            for level in 1..hierarchy.faces.len() {
                let faces = &hierarchy.faces[level];
                // children 4f (corner 1), 4f+1 (corner 2), 4f+2 (corner 3), 4f+3 (centre)
                let centre = faces[4 * face + 3];
                let [m12, m23, m31] = centre.map(vert);
                let outside = [det3(m31, m12, p), det3(m12, m23, p), det3(m23, m31, p)];
                let (k, worst) = outside
                    .iter()
                    .enumerate()
                    .min_by(|x, y| x.1.total_cmp(y.1))
                    .map(|(k, &d)| (k, d))
                    .expect("three edges");
                face = 4 * face + if worst < 0.0 { k } else { 3 };
            }
            let [a, b, c] = hierarchy.finest_faces()[face].map(vert);
            (face as u32, barycentric(a, b, c, p))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{chord, lat_lon_to_xyz};

    /// Deterministic pseudo-random unit vectors (SplitMix64, uniform on the sphere).
    pub(crate) fn random_points(n: usize, seed: u64) -> Vec<Vec3> {
        let mut s = seed;
        let mut next = move || {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let z: f64 = 2.0 * next() - 1.0;
                let lon = 360.0 * next();
                lat_lon_to_xyz(z.asin().to_degrees(), lon)
            })
            .collect()
    }

    #[test]
    fn radius_and_nearest_queries_match_brute_force() {
        let mesh = MeshHierarchy::new(3).unwrap();
        let index = PointIndex::new(&mesh.vertices);
        let queries = random_points(500, 7);
        for radius in [0.05, 0.2, 0.6] {
            let got = radius_edges(&queries, &index, radius);
            let mut want = Vec::new();
            for (q, &p) in queries.iter().enumerate() {
                for (i, &v) in mesh.vertices.iter().enumerate() {
                    if chord2(v, p) <= radius * radius {
                        want.push((q as u32, i as u32));
                    }
                }
            }
            assert_eq!(got, want, "radius {radius}");
        }
        for k in [1, 2, 3, 7] {
            let got = nearest_edges(&queries, &index, k);
            let mut want = Vec::new();
            for (q, &p) in queries.iter().enumerate() {
                let mut d: Vec<(f64, u32)> = mesh
                    .vertices
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| (chord(v, p), i as u32))
                    .collect();
                d.sort_by(|a, b| a.0.total_cmp(&b.0));
                want.extend(d[..k].iter().map(|&(_, i)| (q as u32, i)));
            }
            assert_eq!(got, want, "k = {k}");
        }
    }

    #[test]
    fn level_zero_index_has_fewer_points_than_a_bucket() {
        let mesh = MeshHierarchy::new(0).unwrap();
        let index = PointIndex::new(&mesh.vertices);
        assert_eq!(index.nearest(mesh.vertices[5], 1), vec![5]);
        assert_eq!(index.nearest(mesh.vertices[5], 50).len(), 12);
    }

    #[test]
    fn containing_triangle_has_nonnegative_barycentric_coordinates() {
        for level in [0, 2, 5] {
            let mesh = MeshHierarchy::new(level).unwrap();
            let pts = random_points(2000, 11 + level as u64);
            let found = containing_triangles(&mesh, &pts);
            for (p, &(f, bc)) in pts.iter().zip(&found) {
                assert!(bc.iter().all(|&x| x >= -1e-12), "level {level}: {bc:?}");
                assert!((bc.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                // and the face really is on this side of the sphere
                let [a, b, c] = mesh.finest_faces()[f as usize].map(|i| mesh.vertices[i as usize]);
                let centre = [a[0] + b[0] + c[0], a[1] + b[1] + c[1], a[2] + b[2] + c[2]];
                assert!(crate::geometry::dot(centre, *p) > 0.0);
            }
        }
    }

    #[test]
    fn containing_triangle_agrees_with_an_exhaustive_search() {
        let mesh = MeshHierarchy::new(3).unwrap();
        let pts = random_points(300, 99);
        let found = containing_triangles(&mesh, &pts);
        for (p, &(f, _)) in pts.iter().zip(&found) {
            let inside: Vec<usize> = mesh
                .finest_faces()
                .iter()
                .enumerate()
                .filter(|(_, face)| {
                    let [a, b, c] = face.map(|i| mesh.vertices[i as usize]);
                    cone_coordinates(a, b, c, *p).iter().all(|&x| x >= 0.0)
                })
                .map(|(i, _)| i)
                .collect();
            assert_eq!(inside, vec![f as usize]);
        }
    }

    #[test]
    fn mesh_vertices_lie_in_a_face_that_has_them_as_a_corner() {
        let mesh = MeshHierarchy::new(2).unwrap();
        let found = containing_triangles(&mesh, &mesh.vertices);
        for (i, &(f, bc)) in found.iter().enumerate() {
            let face = mesh.finest_faces()[f as usize];
            let k = face
                .iter()
                .position(|&v| v as usize == i)
                .expect("vertex is a corner of its face");
            assert!((bc[k] - 1.0).abs() < 1e-9);
        }
    }
}
