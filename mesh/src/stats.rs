//! Summary figures of a graph: node and edge counts, degrees, edge lengths
//! and coverage (what `fastnet graph info` prints).

use serde::Serialize;

use crate::geometry::{chord, chord_to_km, lat_lon_to_xyz, Vec3};
use crate::graph::{EdgeSet, Graph};

/// min / mean / max of a node degree over all nodes of one side, and how
/// many nodes have degree 0.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Degree {
    pub min: usize,
    pub mean: f64,
    pub max: usize,
    pub zero: usize,
}

impl Degree {
    fn of(counts: &[usize]) -> Degree {
        let n = counts.len().max(1);
        Degree {
            min: counts.iter().copied().min().unwrap_or(0),
            mean: counts.iter().sum::<usize>() as f64 / n as f64,
            max: counts.iter().copied().max().unwrap_or(0),
            zero: counts.iter().filter(|&&c| c == 0).count(),
        }
    }
}

/// Figures for one edge set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EdgeSetStats {
    pub edges: usize,
    pub feature_dim: usize,
    /// Incoming edges per receiver node.
    pub in_degree: Degree,
    /// Outgoing edges per sender node.
    pub out_degree: Degree,
    /// Longest edge as a great-circle distance on the Earth, km.
    pub longest_edge_km: f64,
}

/// Figures for a whole graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GraphStats {
    pub grid: String,
    pub grid_points: usize,
    pub mesh_level: u32,
    pub mesh_nodes: usize,
    pub encoder: EdgeSetStats,
    pub mesh: EdgeSetStats,
    pub decoder: EdgeSetStats,
    /// Grid points that receive no decoder edge (must be 0: they would get
    /// no forecast).
    pub grid_points_without_decoder_edge: usize,
    /// Mesh nodes that receive no encoder edge (start from zero state).
    pub mesh_nodes_without_encoder_edge: usize,
    pub content_sha256: String,
}

fn edge_stats(
    set: &EdgeSet,
    n_send: usize,
    n_recv: usize,
    send: &[Vec3],
    recv: &[Vec3],
) -> EdgeSetStats {
    let mut out_deg = vec![0usize; n_send];
    let mut in_deg = vec![0usize; n_recv];
    let mut longest = 0f64;
    for &(s, r) in &set.index {
        out_deg[s as usize] += 1;
        in_deg[r as usize] += 1;
        longest = longest.max(chord(send[s as usize], recv[r as usize]));
    }
    EdgeSetStats {
        edges: set.len(),
        feature_dim: set.feature_dim,
        in_degree: Degree::of(&in_deg),
        out_degree: Degree::of(&out_deg),
        longest_edge_km: chord_to_km(longest),
    }
}

impl Graph {
    /// Counts, degrees, longest edges and coverage of the graph.
    pub fn stats(&self) -> GraphStats {
        let grid_pos = self.grid.positions();
        let mesh_pos: Vec<Vec3> = self
            .mesh_lat_lon
            .iter()
            .map(|&(la, lo)| lat_lon_to_xyz(la, lo))
            .collect();
        let (ng, nm) = (grid_pos.len(), mesh_pos.len());
        let encoder = edge_stats(&self.encoder, ng, nm, &grid_pos, &mesh_pos);
        let mesh = edge_stats(&self.mesh, nm, nm, &mesh_pos, &mesh_pos);
        let decoder = edge_stats(&self.decoder, nm, ng, &mesh_pos, &grid_pos);
        GraphStats {
            grid: self.grid.describe(),
            grid_points: ng,
            mesh_level: self.config.mesh_level,
            mesh_nodes: nm,
            grid_points_without_decoder_edge: decoder.in_degree.zero,
            mesh_nodes_without_encoder_edge: encoder.in_degree.zero,
            encoder,
            mesh,
            decoder,
            content_sha256: self.content_hash(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Graph, GraphConfig, Grid};

    #[test]
    fn stats_of_a_fastnet_graph() {
        let grid = Grid::from_spec("latlon:10").unwrap(); // 19 x 36
        let g = Graph::build(&grid, &GraphConfig::fastnet(2)).unwrap();
        let s = g.stats();
        assert_eq!((s.grid_points, s.mesh_nodes), (19 * 36, 162));
        assert_eq!(s.encoder.out_degree.min, 2);
        assert_eq!(s.encoder.out_degree.max, 2);
        assert_eq!(s.decoder.in_degree.min, 3);
        assert_eq!(s.grid_points_without_decoder_edge, 0);
        assert!((s.encoder.in_degree.mean - 2.0 * 684.0 / 162.0).abs() < 1e-12);
        // level-2 mesh: every node has 5 or 6 neighbours at level 2 and more
        // from coarser levels; the longest multi-mesh edge is a level-0 edge,
        // 63.4° of arc ≈ 7,054 km.
        assert!(s.mesh.in_degree.min >= 5);
        let level0_arc = (1.0f64 / 5f64.sqrt()).acos();
        assert!(
            (s.mesh.longest_edge_km - level0_arc * 6371.0).abs() < 1e-6,
            "{}",
            s.mesh.longest_edge_km
        );
    }
}
