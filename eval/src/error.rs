//! The one error type of the eval crate.

/// Errors of transforms, spectra and metrics; each names the offending value
/// and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("spherical-harmonic transform on {nlat} x {nlon}: {reason}")]
    BadTransform {
        nlat: usize,
        nlon: usize,
        reason: String,
    },

    #[error("spherical-harmonic transform on {grid}: {reason}")]
    BadGridTransform { grid: String, reason: String },

    #[error("{what}: shape {got:?}, expected {expected:?}")]
    ShapeMismatch {
        what: String,
        got: Vec<usize>,
        expected: Vec<usize>,
    },

    #[error("{what}: {count} non-finite value(s), first at {first:?}")]
    NonFinite {
        what: String,
        count: usize,
        first: Vec<usize>,
    },

    #[error("{0}")]
    Invalid(String),

    #[error("drawing the plot: {0}")]
    Plot(String),

    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = EvalError> = std::result::Result<T, E>;
