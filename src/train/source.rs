//! Where training samples come from: a [`SampleSource`] yields normalised
//! windows (input state, forcings for every rollout step, targets); the
//! data crate's [`fastnet_data::loader::Sampler`] orders them.

use anyhow::Result;

/// One training window in normalised units, for an init time `t` and
/// rollout length `R` (Δ = 6 h).
#[derive(Clone, Debug)]
pub struct Sample {
    /// `[N_grid, C_nf + C_f]` model input at `t` (non-forecast channels
    /// first), row-major.
    pub input: Vec<f32>,
    /// `[R, N_grid, C_nf]` non-forecast channels at the input time of each
    /// rollout step, `t + kΔ`, `k = 0..R` (the first repeats the input's).
    pub forcings: Vec<f32>,
    /// `[R, N_grid, C_f]` forecast channels at `t + kΔ`, `k = 1..=R`.
    pub targets: Vec<f32>,
}

/// A finite, indexable set of training windows.
pub trait SampleSource: Send + Sync {
    /// Number of windows usable with rollout length `rollout`.
    fn len(&self, rollout: usize) -> usize;
    /// Window `index` (0-based, `< len(rollout)`) with `rollout` steps.
    fn get(&self, index: usize, rollout: usize) -> Result<Sample>;
    /// The grid's field shape: `[nlat, nlon]` or `[npoints]` (`Grid::shape`).
    fn grid_shape(&self) -> Vec<usize>;
    /// `(C_nf, C_f)`.
    fn channels(&self) -> (usize, usize);
}
