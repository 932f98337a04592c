//! The icosahedron and its hierarchy of 4-way refinements (GraphCast's
//! `icosahedral_mesh.py` conventions: same base vertices, face order and
//! orientation, so graphs match GraphCast's for the same grid and level).

use std::collections::HashMap;

use crate::error::{MeshError, Result};
use crate::geometry::{det3, normalize, Vec3};

/// Highest refinement level accepted (level 8: 655,362 vertices).
pub const MAX_LEVEL: u32 = 8;

/// Number of vertices of the icosahedron refined `level` times: `10·4^r + 2`.
pub fn vertex_count(level: u32) -> usize {
    10 * 4usize.pow(level) + 2
}

/// Number of faces of the icosahedron refined `level` times: `20·4^r`.
pub fn face_count(level: u32) -> usize {
    20 * 4usize.pow(level)
}

/// The icosahedron refined `0..=level` times.
///
/// * `vertices` — `[10·4^level + 2]` unit vectors; the vertices of level `r`
///   are the first `10·4^r + 2` of them (coarse vertices are kept, new ones
///   appended), so one index space serves every level.
/// * `faces[r]` — `[20·4^r]` triangles of level `r`, counter-clockwise seen
///   from outside. The 4 children of face `f` of level `r` are faces
///   `4f .. 4f+4` of level `r + 1` and partition it exactly (the new vertices
///   are edge midpoints projected onto the sphere, which lie on the parent's
///   great-circle edges).
#[derive(Clone, Debug)]
pub struct MeshHierarchy {
    pub vertices: Vec<Vec3>,
    pub faces: Vec<Vec<[u32; 3]>>,
}

impl MeshHierarchy {
    /// Builds levels 0..=`level`; `level` must be in `0..=MAX_LEVEL`.
    pub fn new(level: u32) -> Result<MeshHierarchy> {
        if level > MAX_LEVEL {
            return Err(MeshError::LevelOutOfRange {
                level,
                max: MAX_LEVEL,
            });
        }
        let (mut vertices, base) = icosahedron();
        let mut faces = vec![base];
        for _ in 0..level {
            let parent = faces.last().expect("level 0 is always present");
            let next = split_faces(&mut vertices, parent);
            faces.push(next);
        }
        Ok(MeshHierarchy { vertices, faces })
    }

    /// The finest refinement level.
    pub fn level(&self) -> u32 {
        (self.faces.len() - 1) as u32
    }

    /// Faces of the finest level.
    pub fn finest_faces(&self) -> &[[u32; 3]] {
        self.faces.last().expect("level 0 is always present")
    }
}

/// GraphCast's icosahedron: vertices `(±1, ±φ, 0)` and cyclic permutations on
/// the unit sphere, rotated about y by `(π − dihedral angle) / 2` so that a
/// face lies flat on top.
fn icosahedron() -> (Vec<Vec3>, Vec<[u32; 3]>) {
    let phi = (1.0 + 5f64.sqrt()) / 2.0;
    let mut v = Vec::with_capacity(12);
    for c1 in [1.0, -1.0] {
        for c2 in [phi, -phi] {
            v.push([c1, c2, 0.0]);
            v.push([0.0, c1, c2]);
            v.push([c2, 0.0, c1]);
        }
    }
    let angle_between_faces = 2.0 * (phi / 3f64.sqrt()).asin();
    let a = (std::f64::consts::PI - angle_between_faces) / 2.0;
    let (s, c) = a.sin_cos();
    // GraphCast applies `vertices @ R_y(a)`, i.e. R_y(a)ᵀ to column vectors.
    let vertices = v
        .into_iter()
        .map(|[x, y, z]| normalize([x * c - z * s, y, x * s + z * c]))
        .collect();
    let faces = vec![
        [0, 1, 2],
        [0, 6, 1],
        [8, 0, 2],
        [8, 4, 0],
        [3, 8, 2],
        [3, 2, 7],
        [7, 2, 1],
        [0, 4, 6],
        [4, 11, 6],
        [6, 11, 5],
        [1, 5, 7],
        [4, 10, 11],
        [4, 8, 10],
        [10, 8, 3],
        [10, 3, 9],
        [11, 10, 9],
        [11, 9, 5],
        [5, 9, 7],
        [9, 3, 7],
        [1, 6, 5],
    ];
    (vertices, faces)
}

/// Splits every face into 4, keeping the orientation; appends the new
/// midpoint vertices to `vertices` in order of first use.
fn split_faces(vertices: &mut Vec<Vec3>, faces: &[[u32; 3]]) -> Vec<[u32; 3]> {
    let mut midpoints: HashMap<(u32, u32), u32> = HashMap::with_capacity(faces.len() * 3 / 2);
    let mut midpoint = |vertices: &mut Vec<Vec3>, a: u32, b: u32| -> u32 {
        let key = (a.min(b), a.max(b));
        *midpoints.entry(key).or_insert_with(|| {
            let (pa, pb) = (vertices[a as usize], vertices[b as usize]);
            vertices.push(normalize([
                (pa[0] + pb[0]) / 2.0,
                (pa[1] + pb[1]) / 2.0,
                (pa[2] + pb[2]) / 2.0,
            ]));
            (vertices.len() - 1) as u32
        })
    };
    let mut out = Vec::with_capacity(faces.len() * 4);
    for &[i1, i2, i3] in faces {
        let i12 = midpoint(vertices, i1, i2);
        let i23 = midpoint(vertices, i2, i3);
        let i31 = midpoint(vertices, i3, i1);
        out.extend([
            [i1, i12, i31],
            [i12, i2, i23],
            [i31, i23, i3],
            [i12, i23, i31],
        ]);
    }
    out
}

/// Signed orientation of a face: positive when counter-clockwise seen from
/// outside the sphere.
pub fn face_orientation(vertices: &[Vec3], f: [u32; 3]) -> f64 {
    let [a, b, c] = f.map(|i| vertices[i as usize]);
    det3(a, b, c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::norm;
    use std::collections::HashSet;

    #[test]
    fn counts_follow_the_closed_forms_for_levels_0_to_6() {
        let h = MeshHierarchy::new(6).unwrap();
        assert_eq!(h.vertices.len(), vertex_count(6));
        assert_eq!(vertex_count(5), 10_242);
        assert_eq!(vertex_count(6), 40_962);
        for r in 0..=6u32 {
            let faces = &h.faces[r as usize];
            assert_eq!(faces.len(), face_count(r));
            // Euler characteristic V − E + F = 2 with E = 3F/2 edges.
            let used: HashSet<u32> = faces.iter().flatten().copied().collect();
            let edges: HashSet<(u32, u32)> = faces
                .iter()
                .flat_map(|f| [(f[0], f[1]), (f[1], f[2]), (f[2], f[0])])
                .map(|(a, b)| (a.min(b), a.max(b)))
                .collect();
            assert_eq!(
                used.len(),
                vertex_count(r),
                "level {r} uses the first V vertices"
            );
            assert_eq!(*used.iter().max().unwrap() as usize, vertex_count(r) - 1);
            assert_eq!(
                used.len() as i64 - edges.len() as i64 + faces.len() as i64,
                2,
                "level {r}"
            );
        }
    }

    #[test]
    fn vertices_are_unit_and_faces_point_outwards() {
        let h = MeshHierarchy::new(4).unwrap();
        for v in &h.vertices {
            assert!((norm(*v) - 1.0).abs() < 1e-15);
        }
        for faces in &h.faces {
            for &f in faces {
                assert!(
                    face_orientation(&h.vertices, f) > 0.0,
                    "face {f:?} is clockwise"
                );
            }
        }
    }

    #[test]
    fn base_icosahedron_is_regular_and_has_a_face_on_top() {
        let h = MeshHierarchy::new(0).unwrap();
        let mut lengths: Vec<f64> = Vec::new();
        for f in &h.faces[0] {
            for k in 0..3 {
                lengths.push(crate::geometry::chord(
                    h.vertices[f[k] as usize],
                    h.vertices[f[(k + 1) % 3] as usize],
                ));
            }
        }
        // edge of the unit-circumradius icosahedron: 4 / sqrt(10 + 2 sqrt 5)
        let want = 4.0 / (10.0 + 2.0 * 5f64.sqrt()).sqrt();
        assert!(lengths.iter().all(|l| (l - want).abs() < 1e-14));
        // GraphCast's rotation leaves one face horizontal at the top: three
        // vertices share the largest z.
        let mut z: Vec<f64> = h.vertices.iter().map(|v| v[2]).collect();
        z.sort_by(|a, b| b.total_cmp(a));
        assert!((z[0] - z[2]).abs() < 1e-14 && z[2] - z[3] > 0.1, "{z:?}");
    }

    #[test]
    fn levels_outside_the_range_are_refused() {
        let err = MeshHierarchy::new(9).unwrap_err();
        assert!(matches!(
            err,
            MeshError::LevelOutOfRange { level: 9, max: 8 }
        ));
        assert!(err.to_string().contains("0..=8"));
    }
}
