//! The fastnet library's error type: each variant carries the field, file
//! and value a user needs to fix the problem, so tests match variants and
//! the command line prints one `error:` line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FastnetError {
    /// A configuration value out of its range.
    #[error("{field} = {value}: expected {expected}")]
    BadConfig {
        field: String,
        value: String,
        expected: String,
    },

    /// A device that is not on this machine.
    #[error("device {requested} is not available: this machine has {available}")]
    DeviceUnavailable {
        requested: String,
        available: String,
    },

    /// A loss term went NaN or infinite.
    #[error(
        "step {step}: loss term `{term}` is {value} in channel `{channel}` at rollout step {rollout_step}; training stopped, the last good checkpoint in {} is intact",
        checkpoint_dir.display()
    )]
    NonFiniteLoss {
        step: u64,
        term: String,
        value: f64,
        channel: String,
        rollout_step: usize,
        checkpoint_dir: PathBuf,
    },

    /// The gradient went NaN or infinite.
    #[error(
        "step {step}: gradient norm is {value}; training stopped, the last good checkpoint in {} is intact",
        checkpoint_dir.display()
    )]
    NonFiniteGradient {
        step: u64,
        value: f64,
        checkpoint_dir: PathBuf,
    },

    /// A checkpoint of another graph than the run's.
    #[error("{}: checkpoint was trained on graph {checkpoint}, this run uses {run}", path.display())]
    GraphMismatch {
        path: PathBuf,
        checkpoint: String,
        run: String,
    },

    /// A forecast step other than the model's training step.
    #[error(
        "{}: the model was trained with {trained} h steps; a {requested} h step would write wrong lead times (give --step-hours {trained} or leave it out)",
        path.display()
    )]
    StepMismatch {
        path: PathBuf,
        trained: i64,
        requested: i64,
    },

    /// A checkpoint written by an incompatible fastnet.
    #[error("{}: checkpoint format {found}, this fastnet reads {expected}", path.display())]
    CheckpointFormat {
        path: PathBuf,
        found: String,
        expected: String,
    },

    /// A tensor or array of the wrong shape.
    #[error("{what}: shape {actual:?}, expected {expected:?}")]
    BadShape {
        what: String,
        actual: Vec<i64>,
        expected: Vec<i64>,
    },

    #[error(transparent)]
    Mesh(#[from] fastnet_mesh::MeshError),

    #[error(transparent)]
    Data(#[from] fastnet_data::DataError),

    #[error(transparent)]
    Eval(#[from] fastnet_eval::error::EvalError),

    #[error(transparent)]
    Loss(#[from] fastnet_losses::LossError),

    #[error(transparent)]
    Torch(#[from] tch::TchError),

    /// Ranks of a data-parallel run or checkpoints that disagree, a
    /// resumed run that cannot continue, and similar states.
    #[error("{0}")]
    State(String),
}

pub type Result<T, E = FastnetError> = std::result::Result<T, E>;

impl FastnetError {
    pub fn bad_config(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> FastnetError {
        FastnetError::BadConfig {
            field: field.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}
