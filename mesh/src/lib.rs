//! fastnet-mesh: sphere geometry, latitude-longitude and Gaussian grids, GraphCast's
//! icosahedral multi-mesh and the grid <-> mesh graphs a FastNet model runs
//! on, with their node/edge features and a safetensors file format.
//!
//! Pure Rust (no libtorch): graphs are built once, saved, and loaded by the
//! model as buffers with the reference model's names.

pub mod atomic;
pub mod config;
pub mod connectivity;
pub mod display;
pub mod error;
pub mod features;
pub mod gaussian;
pub mod geometry;
pub mod graph;
pub mod grid;
pub mod icosahedron;
pub mod multimesh;
pub mod safetensors_io;
pub mod stats;

pub use config::{GraphConfig, GridToMesh, MeshToGrid};
pub use error::{MeshError, Result};
pub use graph::{BuildStage, EdgeSet, Graph};
pub use grid::{Grid, Rings};
pub use icosahedron::MeshHierarchy;
pub use stats::GraphStats;
