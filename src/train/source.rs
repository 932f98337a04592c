//! Where training samples come from: a [`SampleSource`] yields normalised
//! windows (input state, forcings for every rollout step, targets), and a
//! [`Sampler`] orders them deterministically per (seed, epoch).

use anyhow::Result;

/// One training window in normalised units, for an init time `t` and
/// rollout length `R` (Δ = 6 h).
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
    /// `(nlat, nlon)` of the grid.
    fn grid_shape(&self) -> (usize, usize);
    /// `(C_nf, C_f)`.
    fn channels(&self) -> (usize, usize);
}

/// Deterministic shuffling: the order of epoch `e` is a Fisher–Yates
/// permutation driven by SplitMix64 seeded with `(seed, e)`, so the batch at
/// any step can be recomputed after a restart.
pub struct Sampler {
    pub seed: u64,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Sampler {
    /// The permutation of `0..n` for `epoch`.
    pub fn permutation(&self, n: usize, epoch: u64) -> Vec<usize> {
        let mut s = self.seed ^ epoch.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = (splitmix(&mut s) % (i as u64 + 1)) as usize;
            p.swap(i, j);
        }
        p
    }

    /// Window indices of the batch for global `step` with `batch` windows
    /// each out of `n`: the step's position in the stream of shuffled
    /// epochs.
    pub fn batch(&self, step: u64, batch: usize, n: usize) -> Vec<usize> {
        let start = step * batch as u64;
        let mut out = Vec::with_capacity(batch);
        let mut cached: Option<(u64, Vec<usize>)> = None;
        for k in 0..batch as u64 {
            let pos = start + k;
            let (epoch, i) = (pos / n as u64, (pos % n as u64) as usize);
            if cached.as_ref().is_none_or(|c| c.0 != epoch) {
                cached = Some((epoch, self.permutation(n, epoch)));
            }
            out.push(cached.as_ref().expect("just set").1[i]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_deterministic_complete_and_differ_by_epoch() {
        let s = Sampler { seed: 7 };
        let a = s.permutation(50, 0);
        assert_eq!(a, s.permutation(50, 0));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(a, s.permutation(50, 1));
        assert_ne!(a, Sampler { seed: 8 }.permutation(50, 0));
        // batches walk through epoch 0 then epoch 1
        let b: Vec<usize> = (0..5).flat_map(|st| s.batch(st, 10, 50)).collect();
        assert_eq!(b, a);
        assert_eq!(s.batch(5, 10, 50), s.permutation(50, 1)[..10].to_vec());
    }
}
