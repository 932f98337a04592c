//! The graph bundle a FastNet model runs on: mesh node features and the
//! encoder (grid -> mesh), processor (mesh -> mesh) and decoder (mesh -> grid)
//! edge sets with their features, built from a grid and a [`GraphConfig`].

use crate::config::{GraphConfig, GridToMesh, MeshToGrid};
use crate::connectivity::{containing_triangles, nearest_edges, radius_edges, PointIndex};
use crate::error::Result;
use crate::features::{edge_features, node_features, EDGE_FEATURES, NODE_FEATURES};
use crate::geometry::{chord, xyz_to_lat_lon, Vec3};
use crate::grid::Grid;
use crate::icosahedron::MeshHierarchy;
use crate::multimesh::{level_edges, multimesh_edges};

/// One directed bipartite or mesh edge set.
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeSet {
    /// `[E]` (sender, receiver) node indices.
    pub index: Vec<(u32, u32)>,
    /// `[E, feature_dim]` row-major.
    pub features: Vec<f32>,
    pub feature_dim: usize,
}

impl EdgeSet {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// A built graph: everything a FastNet model needs besides its weights.
///
/// Node numbering: grid points latitude-major as in [`Grid`]; mesh nodes as
/// the vertices of the finest [`MeshHierarchy`] level.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    pub grid: Grid,
    pub config: GraphConfig,
    /// `[N_mesh]` (latitude, longitude) of the mesh nodes, degrees.
    pub mesh_lat_lon: Vec<(f64, f64)>,
    /// `[N_mesh, mesh_feature_dim]` row-major (cos lat, sin lon, cos lon).
    pub mesh_features: Vec<f32>,
    pub mesh_feature_dim: usize,
    /// Grid -> mesh: sender = grid point, receiver = mesh node.
    pub encoder: EdgeSet,
    /// Multi-mesh: sender and receiver are mesh nodes.
    pub mesh: EdgeSet,
    /// Mesh -> grid: sender = mesh node, receiver = grid point.
    pub decoder: EdgeSet,
}

/// Stages of [`Graph::build_with_progress`], reported as each one starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildStage {
    Mesh,
    MultiMesh,
    Encoder,
    Decoder,
    Features,
}

impl BuildStage {
    pub const ALL: [BuildStage; 5] = [
        BuildStage::Mesh,
        BuildStage::MultiMesh,
        BuildStage::Encoder,
        BuildStage::Decoder,
        BuildStage::Features,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            BuildStage::Mesh => "refining the icosahedron",
            BuildStage::MultiMesh => "merging multi-mesh edges",
            BuildStage::Encoder => "grid -> mesh edges",
            BuildStage::Decoder => "mesh -> grid edges",
            BuildStage::Features => "node and edge features",
        }
    }
}

impl Graph {
    /// Builds the graph for `grid` with `config` (validated first).
    pub fn build(grid: &Grid, config: &GraphConfig) -> Result<Graph> {
        Graph::build_with_progress(grid, config, &mut |_| {})
    }

    /// As [`Graph::build`], calling `progress` as each stage starts.
    pub fn build_with_progress(
        grid: &Grid,
        config: &GraphConfig,
        progress: &mut dyn FnMut(BuildStage),
    ) -> Result<Graph> {
        config.validate()?;
        progress(BuildStage::Mesh);
        let hierarchy = MeshHierarchy::new(config.mesh_level)?;
        let mesh_pos = &hierarchy.vertices;
        let mesh_lat_lon: Vec<(f64, f64)> = mesh_pos.iter().map(|&p| xyz_to_lat_lon(p)).collect();
        let grid_lat_lon = grid.point_lat_lon();
        let grid_pos = grid.positions();

        progress(BuildStage::MultiMesh);
        let mesh_index = multimesh_edges(&hierarchy);

        progress(BuildStage::Encoder);
        let index = PointIndex::new(mesh_pos);
        let encoder_index = match config.grid_to_mesh {
            GridToMesh::Radius { fraction } => radius_edges(
                &grid_pos,
                &index,
                fraction * longest_edge(mesh_pos, hierarchy.finest_faces()),
            ),
            GridToMesh::Nearest { k } => nearest_edges(&grid_pos, &index, k),
        };

        progress(BuildStage::Decoder);
        let decoder_index: Vec<(u32, u32)> = match config.mesh_to_grid {
            MeshToGrid::Triangle => {
                let faces = hierarchy.finest_faces();
                containing_triangles(&hierarchy, &grid_pos)
                    .into_iter()
                    .enumerate()
                    .flat_map(|(g, (f, _))| faces[f as usize].map(|m| (m, g as u32)))
                    .collect()
            }
            MeshToGrid::Nearest { k } => nearest_edges(&grid_pos, &index, k)
                .into_iter()
                .map(|(g, m)| (m, g))
                .collect(),
        };

        progress(BuildStage::Features);
        let edge_set = |index: Vec<(u32, u32)>, s: &[Vec3], r: &[Vec3], r_ll: &[(f64, f64)]| {
            let (features, _) = edge_features(&index, s, r, r_ll);
            EdgeSet {
                index,
                features,
                feature_dim: EDGE_FEATURES,
            }
        };
        let encoder = edge_set(encoder_index, &grid_pos, mesh_pos, &mesh_lat_lon);
        let mesh = edge_set(mesh_index, mesh_pos, mesh_pos, &mesh_lat_lon);
        let decoder = edge_set(decoder_index, mesh_pos, &grid_pos, &grid_lat_lon);
        Ok(Graph {
            grid: grid.clone(),
            config: config.clone(),
            mesh_features: node_features(&mesh_lat_lon),
            mesh_feature_dim: NODE_FEATURES,
            mesh_lat_lon,
            encoder,
            mesh,
            decoder,
        })
    }

    /// Number of mesh nodes.
    pub fn mesh_nodes(&self) -> usize {
        self.mesh_lat_lon.len()
    }
}

/// Longest edge (chord, unit-sphere units) among `faces`' edges.
pub fn longest_edge(vertices: &[Vec3], faces: &[[u32; 3]]) -> f64 {
    level_edges(faces)
        .into_iter()
        .map(|(a, b)| chord(vertices[a as usize], vertices[b as usize]))
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_graph_counts_and_coverage() {
        let grid = Grid::from_spec("latlon-nopoles:32x64").unwrap();
        let g = Graph::build(&grid, &GraphConfig::fastnet(2)).unwrap();
        assert_eq!(g.mesh_nodes(), 162);
        assert_eq!(g.mesh.len(), crate::multimesh::multimesh_edge_count(2));
        assert_eq!(g.encoder.len(), 2 * 32 * 64);
        assert_eq!(g.decoder.len(), 3 * 32 * 64);
        assert_eq!(g.mesh_features.len(), 162 * 3);
        assert_eq!(g.encoder.features.len(), g.encoder.len() * 4);
        // every grid point receives exactly 3 decoder edges
        let mut deg = vec![0; grid.len()];
        for &(_, r) in &g.decoder.index {
            deg[r as usize] += 1;
        }
        assert!(deg.iter().all(|&d| d == 3));
        // edge-length feature is normalised to max 1
        let max_len = g.mesh.features.chunks(4).map(|r| r[0]).fold(0f32, f32::max);
        assert!((max_len - 1.0).abs() < 1e-6);
    }

    #[test]
    fn graphcast_rules_cover_every_grid_point() {
        let grid = Grid::from_spec("latlon:5").unwrap();
        let g = Graph::build(&grid, &GraphConfig::graphcast(3)).unwrap();
        assert_eq!(g.decoder.len(), 3 * grid.len());
        let mut got = vec![false; grid.len()];
        for &(s, _) in &g.encoder.index {
            got[s as usize] = true;
        }
        // 5° spacing is finer than the level-3 mesh: every grid point has a
        // mesh node within 0.6 edge lengths.
        assert!(got.iter().all(|&x| x));
    }

    #[test]
    fn graphcast_rules_at_one_degree_match_an_independent_reimplementation() {
        // scripts/graphcast_counts.py 5 1 (numpy/scipy, float32 and float64
        // alike) gives 101,892 grid->mesh edges for the 1° grid and level 5.
        let grid = Grid::from_spec("era5-1deg").unwrap();
        let g = Graph::build(&grid, &GraphConfig::graphcast(5)).unwrap();
        assert_eq!(g.encoder.len(), 101_892);
        assert_eq!(g.decoder.len(), 3 * 181 * 360);
        assert_eq!(g.mesh.len(), 81_900);
    }

    #[test]
    fn fastnet_rules_on_o96_give_the_reference_buffer_sizes() {
        // DESIGN.md §7: FastNet-global v1.1 on O96 with a level-5 mesh has
        // encoder_edge_index.0 [80640, 2], mesh_edge_index.0 [81900, 2],
        // decoder_edge_index.0 [120960, 2] and 10,242 mesh nodes.
        let grid = Grid::from_spec("o96").unwrap();
        let g = Graph::build(&grid, &GraphConfig::fastnet(5)).unwrap();
        assert_eq!(g.mesh_nodes(), 10_242);
        assert_eq!(g.encoder.len(), 80_640);
        assert_eq!(g.mesh.len(), 81_900);
        assert_eq!(g.decoder.len(), 120_960);
        // every grid point sends to 2 mesh nodes and receives from 3
        let mut out_deg = vec![0; grid.len()];
        let mut in_deg = vec![0; grid.len()];
        for &(s, _) in &g.encoder.index {
            out_deg[s as usize] += 1;
        }
        for &(_, r) in &g.decoder.index {
            in_deg[r as usize] += 1;
        }
        assert!(out_deg.iter().all(|&d| d == 2));
        assert!(in_deg.iter().all(|&d| d == 3));
    }

    #[test]
    fn graphcast_rules_work_on_a_gaussian_grid() {
        // O16: 32 rings of 20..80 points (1,600 points, ~5.6° apart), finer
        // than the level-2 mesh (~15° edges), so every grid point has a mesh
        // node within 0.6 edge lengths and lies in exactly one triangle.
        let grid = Grid::octahedral(16).unwrap();
        let g = Graph::build(&grid, &GraphConfig::graphcast(2)).unwrap();
        let mut in_deg = vec![0; grid.len()];
        for &(_, r) in &g.decoder.index {
            in_deg[r as usize] += 1;
        }
        assert!(in_deg.iter().all(|&d| d == 3));
        let mut out_deg = vec![0; grid.len()];
        for &(s, _) in &g.encoder.index {
            out_deg[s as usize] += 1;
        }
        assert!(
            out_deg.iter().all(|&d| d >= 1),
            "min {:?}",
            out_deg.iter().min()
        );
        // the three decoder senders of a point are the corners of a
        // finest-mesh face whose spherical triangle contains it
        let grid_pos = grid.positions();
        let mesh = MeshHierarchy::new(2).unwrap();
        for (p, edges) in g.decoder.index.chunks_exact(3).enumerate() {
            assert!(edges.iter().all(|&(_, r)| r as usize == p));
            let corners = [edges[0].0, edges[1].0, edges[2].0];
            assert!(mesh.finest_faces().contains(&corners));
            let [a, b, c] = corners.map(|m| mesh.vertices[m as usize]);
            let w = crate::connectivity::cone_coordinates(a, b, c, grid_pos[p]);
            assert!(w.iter().all(|&x| x >= -1e-12), "point {p}: {w:?}");
        }
    }

    #[test]
    fn invalid_config_is_refused_before_building() {
        let grid = Grid::from_spec("latlon:10").unwrap();
        let mut c = GraphConfig::fastnet(2);
        c.mesh_to_grid = MeshToGrid::Nearest { k: 0 };
        assert!(Graph::build(&grid, &c).is_err());
    }
}
