//! The one error type of the mesh crate.

use std::path::PathBuf;

/// Everything that can go wrong building, saving or loading grids, meshes and
/// graphs. Each variant names the offending value and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error("mesh level {level} is outside 0..={max} (level 6 already has 40,962 nodes)")]
    LevelOutOfRange { level: u32, max: u32 },

    #[error(
        "grid resolution {resolution_deg}° does not divide the sphere: 180/{resolution_deg} and \
         360/{resolution_deg} must both be whole numbers (e.g. 0.25, 1, 5.625)"
    )]
    ResolutionDoesNotDivide { resolution_deg: f64 },

    #[error("grid of {nlat} x {nlon} points: {reason}")]
    BadGridShape {
        nlat: usize,
        nlon: usize,
        reason: String,
    },

    #[error("Gaussian grid {kind}{n}: {reason}")]
    BadGaussianGrid {
        /// `O` (octahedral) or `N` (regular).
        kind: char,
        n: usize,
        reason: String,
    },

    #[error("the point list is empty: a point grid needs at least one (lat, lon) point")]
    EmptyPointList,

    #[error("point {index} (lat {lat}, lon {lon}): {reason}")]
    BadPoint {
        index: usize,
        lat: f64,
        lon: f64,
        reason: String,
    },

    #[error("unknown grid {spec:?}: {reason}")]
    BadGridSpec { spec: String, reason: String },

    #[error("graph config field `{field}` = {value}: {expected}")]
    BadConfig {
        field: &'static str,
        value: String,
        expected: String,
    },

    #[error("{path}: not a graph file: {reason}")]
    NotAGraph { path: PathBuf, reason: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = MeshError> = std::result::Result<T, E>;

impl MeshError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MeshError::Io {
            path: path.into(),
            source,
        }
    }
}
