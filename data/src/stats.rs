//! Normalisation statistics: per channel the area-weighted mean, standard
//! deviation, and standard deviation of the 6-hour change, in one streaming
//! pass with f64 accumulators.
//!
//! Each time slice contributes its weighted mean and sum of squared
//! deviations, merged with Chan et al.'s parallel update (1979): with
//! weights `W_a`, `W_b`, means `m_a`, `m_b` and `M2_a`, `M2_b`,
//! `W = W_a + W_b`, `m = m_a + (m_b − m_a) W_b / W`,
//! `M2 = M2_a + M2_b + (m_b − m_a)² W_a W_b / W`; `std = sqrt(M2 / W)`
//! (population form). Weights are [`fastnet_mesh::Grid::area_weights`]
//! (cell areas per point, mean 1: on lat-lon grids the ring's cell area, on
//! reduced Gaussian grids the ring's Gauss–Legendre weight over its number
//! of points). Times used are those of the data in `[from, to]`
//! that fall on the `step` grid (every 6 h from 00 UTC by default) and have
//! every channel; the change statistic uses pairs `(t − step, t)` both
//! usable.
//!
//! # JSON schema (`stats.json`, read by the training code)
//!
//! ```json
//! {
//!   "format": "fastnet-stats-1",
//!   "grid": "1° lat-lon with poles (181 x 360)",
//!   "from": "2020-01-01T00:00", "to": "2020-12-31T18:00",
//!   "step_hours": 6,
//!   "times_used": 1464, "times_skipped": 0, "change_pairs": 1463,
//!   "files": ["/data/era5_2020_pl.nc", "..."],
//!   "n_non_forecast": 12,
//!   "channels": [
//!     {"name": "cos_lat", "mean": 0.64, "std": 0.31, "change_std": 0.0},
//!     {"name": "z500", "mean": 54123.4, "std": 3301.2, "change_std": 410.7}
//!   ]
//! }
//! ```
//!
//! Channels appear in [`ChannelSet`] order; `mean`, `std`, `change_std` are
//! in the channel's physical units; a time-invariant channel has
//! `change_std` 0 and the training code must not divide by it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::channels::ChannelSet;
use crate::error::{DataError, Result};
use crate::features::FeatureReader;
use crate::time::{format_time, Timestamp, HOUR};

/// Running weighted mean and sum of squared deviations (Welford / Chan).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Moments {
    pub weight: f64,
    pub mean: f64,
    pub m2: f64,
}

impl Moments {
    /// Moments of `values` with `weights` (same length), in f64.
    pub fn of(values: impl Iterator<Item = f64> + Clone, weights: &[f64]) -> Moments {
        let w: f64 = weights.iter().sum();
        if w <= 0.0 {
            return Moments::default();
        }
        let mean = values.clone().zip(weights).map(|(x, w)| x * w).sum::<f64>() / w;
        let m2 = values
            .zip(weights)
            .map(|(x, w)| w * (x - mean) * (x - mean))
            .sum();
        Moments {
            weight: w,
            mean,
            m2,
        }
    }

    /// Chan et al.'s merge of two sets of moments.
    pub fn merge(&mut self, b: Moments) {
        if b.weight <= 0.0 {
            return;
        }
        if self.weight <= 0.0 {
            *self = b;
            return;
        }
        let w = self.weight + b.weight;
        let d = b.mean - self.mean;
        self.mean += d * b.weight / w;
        self.m2 += b.m2 + d * d * self.weight * b.weight / w;
        self.weight = w;
    }

    /// Population standard deviation `sqrt(M2 / W)`.
    pub fn std(&self) -> f64 {
        if self.weight > 0.0 {
            (self.m2 / self.weight).max(0.0).sqrt()
        } else {
            0.0
        }
    }
}

/// Statistics of one channel, physical units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelStats {
    pub name: String,
    pub mean: f64,
    pub std: f64,
    /// Standard deviation of `x(t) − x(t − step)`.
    pub change_std: f64,
}

/// The content of `stats.json` (schema in the module doc).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub format: String,
    pub grid: String,
    pub from: String,
    pub to: String,
    pub step_hours: i64,
    pub times_used: usize,
    pub times_skipped: usize,
    pub change_pairs: usize,
    pub files: Vec<PathBuf>,
    pub n_non_forecast: usize,
    pub channels: Vec<ChannelStats>,
    /// Where the means and stds of field channels came from when not from
    /// this computation: `anemoi-datasets statistics of STORE (...)`
    /// (`fastnet stats --from-dataset-statistics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistics_source: Option<String>,
}

pub const STATS_FORMAT: &str = "fastnet-stats-1";

impl Stats {
    /// Writes pretty JSON to `path`, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| DataError::BadStats {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        fastnet_mesh::atomic::write_atomic(path, text.as_bytes())
            .map_err(|e| DataError::io(path, e))
    }

    /// Reads a statistics file and checks its format tag.
    pub fn load(path: &Path) -> Result<Stats> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let s: Stats = serde_json::from_str(&text).map_err(|e| DataError::BadStats {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if s.format != STATS_FORMAT {
            return Err(DataError::BadStats {
                path: path.to_path_buf(),
                reason: format!("format {:?}, expected {STATS_FORMAT:?}", s.format),
            });
        }
        Ok(s)
    }

    /// Checks that the statistics cover `set`, channel for channel.
    pub fn check_channels(&self, set: &ChannelSet, path: &Path) -> Result<()> {
        let mine: Vec<&str> = self.channels.iter().map(|c| c.name.as_str()).collect();
        if mine != set.names() {
            return Err(DataError::BadStats {
                path: path.to_path_buf(),
                reason: format!(
                    "channels {mine:?} differ from the requested {:?}",
                    set.names()
                ),
            });
        }
        Ok(())
    }
}

/// The times of `candidates` (sorted) in `[from, to]` on the `step` grid
/// (multiples of `step` since 1970, i.e. 00/06/12/18 UTC for 6 h).
pub fn times_on_step(
    candidates: &[Timestamp],
    from: Timestamp,
    to: Timestamp,
    step: i64,
) -> Vec<Timestamp> {
    candidates
        .iter()
        .copied()
        .filter(|&t| t >= from && t <= to && t.rem_euclid(step) == 0)
        .collect()
}

/// Computes [`Stats`] over the data times in `[from, to]` on the `step_hours`
/// grid. `progress(done, total)` is called after each time.
pub fn compute(
    reader: &FeatureReader,
    from: Timestamp,
    to: Timestamp,
    step_hours: i64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Stats> {
    let ds = &reader.ds;
    let step = step_hours * HOUR;
    let times = times_on_step(&ds.times, from, to, step);
    if times.is_empty() || step <= 0 {
        return Err(DataError::EmptyRange {
            from: format_time(from),
            to: format_time(to),
            coverage: ds.coverage(),
        });
    }
    let weights = ds.grid.area_weights();
    let n = weights.len();
    let nc = reader.set.len();
    let mut moments = vec![Moments::default(); nc];
    let mut change = vec![Moments::default(); nc];
    let mut prev: Option<(Timestamp, Vec<f32>)> = None;
    let mut cur = vec![0f32; n * nc];
    let (mut used, mut skipped, mut pairs) = (0, 0, 0);
    for (k, &t) in times.iter().enumerate() {
        progress(k, times.len());
        if !reader.available(t) {
            skipped += 1;
            continue;
        }
        reader.state(t, 0..nc, &mut cur)?;
        used += 1;
        let slice: Vec<(Moments, Option<Moments>)> = {
            use rayon::prelude::*;
            (0..nc)
                .into_par_iter()
                .map(|c| {
                    let vals = (0..n).map(|g| cur[g * nc + c] as f64);
                    let m = Moments::of(vals, &weights);
                    let d = prev
                        .as_ref()
                        .filter(|(pt, _)| *pt == t - step)
                        .map(|(_, p)| {
                            Moments::of(
                                (0..n).map(|g| cur[g * nc + c] as f64 - p[g * nc + c] as f64),
                                &weights,
                            )
                        });
                    (m, d)
                })
                .collect()
        };
        if slice[0].1.is_some() {
            pairs += 1;
        }
        for (c, (m, d)) in slice.into_iter().enumerate() {
            moments[c].merge(m);
            if let Some(d) = d {
                change[c].merge(d);
            }
        }
        match &mut prev {
            Some((pt, buf)) => {
                *pt = t;
                buf.copy_from_slice(&cur);
            }
            None => prev = Some((t, cur.clone())),
        }
    }
    progress(times.len(), times.len());
    if used == 0 {
        return Err(DataError::EmptyRange {
            from: format_time(from),
            to: format_time(to),
            coverage: format!(
                "{} but no time in the range has every channel",
                ds.coverage()
            ),
        });
    }
    let channels = reader
        .set
        .channels()
        .iter()
        .zip(moments.iter().zip(&change))
        .map(|(ch, (m, d))| ChannelStats {
            name: ch.name.clone(),
            mean: m.mean,
            std: m.std(),
            change_std: d.std(),
        })
        .collect();
    Ok(Stats {
        format: STATS_FORMAT.into(),
        grid: ds.grid.describe(),
        from: format_time(from),
        to: format_time(to),
        step_hours,
        times_used: used,
        times_skipped: skipped,
        change_pairs: pairs,
        files: ds.files.iter().map(|f| f.path.clone()).collect(),
        n_non_forecast: reader.set.n_non_forecast(),
        channels,
        statistics_source: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chan_merge_equals_two_pass_over_the_union() {
        // Independent recomputation: merging per-chunk moments must equal the
        // two-pass weighted moments of all values at once.
        let vals: Vec<f64> = (0..1000)
            .map(|k| ((k * 7919) % 1013) as f64 * 0.37 + 1e6)
            .collect();
        let w: Vec<f64> = (0..1000).map(|k| 0.5 + (k % 13) as f64 / 13.0).collect();
        let all = Moments::of(vals.iter().copied(), &w);
        let mut merged = Moments::default();
        for (cv, cw) in vals.chunks(77).zip(w.chunks(77)) {
            merged.merge(Moments::of(cv.iter().copied(), cw));
        }
        assert!((merged.mean - all.mean).abs() < 1e-9 * all.mean.abs());
        assert!((merged.std() - all.std()).abs() < 1e-9 * all.std());
        // Closed form: values 1..=n with unit weights have variance (n²−1)/12.
        let n = 100;
        let m = Moments::of((1..=n).map(|k| k as f64), &vec![1.0; n]);
        assert!((m.std() - (((n * n - 1) as f64) / 12.0).sqrt()).abs() < 1e-12);
    }
}
