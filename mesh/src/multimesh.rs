//! GraphCast's multi-mesh: the vertices of the finest level with the edges of
//! every level 0..=r merged, directed both ways.

use crate::icosahedron::MeshHierarchy;

/// Number of directed multi-mesh edges for refinement level `r`: every level
/// `k` contributes `30·4^k` undirected edges, none shared between levels.
/// Level 5: 81,900; level 6: 327,660.
pub fn multimesh_edge_count(level: u32) -> usize {
    2 * (0..=level).map(|k| 30 * 4usize.pow(k)).sum::<usize>()
}

/// Directed multi-mesh edges `(sender, receiver)`, both directions of every
/// edge of every level, without duplicates, sorted by (receiver, sender).
///
/// Returns `[E]` pairs of vertex indices into `hierarchy.vertices`.
pub fn multimesh_edges(hierarchy: &MeshHierarchy) -> Vec<(u32, u32)> {
    let mut edges: Vec<(u32, u32)> = hierarchy
        .faces
        .iter()
        .flatten()
        .flat_map(|f| {
            [
                (f[0], f[1]),
                (f[1], f[2]),
                (f[2], f[0]),
                (f[1], f[0]),
                (f[2], f[1]),
                (f[0], f[2]),
            ]
        })
        .map(|(s, r)| (r, s))
        .collect();
    edges.sort_unstable();
    edges.dedup();
    edges.into_iter().map(|(r, s)| (s, r)).collect()
}

/// Undirected edges of one level's faces as `(min, max)` pairs, sorted.
pub fn level_edges(faces: &[[u32; 3]]) -> Vec<(u32, u32)> {
    let mut e: Vec<(u32, u32)> = faces
        .iter()
        .flat_map(|f| [(f[0], f[1]), (f[1], f[2]), (f[2], f[0])])
        .map(|(a, b)| (a.min(b), a.max(b)))
        .collect();
    e.sort_unstable();
    e.dedup();
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn edge_counts_match_graphcast_for_levels_0_to_6() {
        assert_eq!(multimesh_edge_count(5), 81_900);
        assert_eq!(multimesh_edge_count(6), 327_660);
        let h = MeshHierarchy::new(6).unwrap();
        for r in 0..=6u32 {
            let sub = MeshHierarchy {
                vertices: h.vertices.clone(),
                faces: h.faces[..=r as usize].to_vec(),
            };
            let e = multimesh_edges(&sub);
            assert_eq!(e.len(), multimesh_edge_count(r), "level {r}");
        }
    }

    #[test]
    fn edges_are_symmetric_unique_and_without_self_loops() {
        let h = MeshHierarchy::new(3).unwrap();
        let e = multimesh_edges(&h);
        let set: HashSet<(u32, u32)> = e.iter().copied().collect();
        assert_eq!(set.len(), e.len());
        for &(s, r) in &e {
            assert_ne!(s, r);
            assert!(set.contains(&(r, s)));
        }
        // the coarse levels' edges are all present
        for faces in &h.faces {
            for (a, b) in level_edges(faces) {
                assert!(set.contains(&(a, b)));
            }
        }
        assert!(
            e.windows(2).all(|w| (w[0].1, w[0].0) < (w[1].1, w[1].0)),
            "sorted by receiver"
        );
    }
}
