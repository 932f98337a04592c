//! Training samples: the time windows a split offers, and one normalised
//! sample for an init time.
//!
//! A window at init time `t` with history `H`, rollout `R` and step `Δ`
//! (6 h by default; hourly data is subsampled) needs every channel at
//! `t − (H−1)Δ .. t` (inputs) and `t + Δ .. t + RΔ` (targets); all of these
//! must lie in the split's `[from, to]`, so splits never share a time.
//! Windows with a missing time are skipped and counted, never filled.

use serde::Serialize;

use crate::error::{DataError, Result};
use crate::features::FeatureReader;
use crate::stats::Stats;
use crate::time::{format_time, Timestamp, HOUR};

/// Window shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WindowConfig {
    /// Hours between consecutive states (Δ).
    pub step_hours: i64,
    /// Input states (1 = the state at `t` only).
    pub history: usize,
    /// Target states `t + Δ .. t + RΔ`.
    pub rollout: usize,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            step_hours: 6,
            history: 1,
            rollout: 1,
        }
    }
}

impl WindowConfig {
    /// Checks the fields; names the bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, value: String, expected: &str| DataError::BadConfig {
            field: field.into(),
            value,
            expected: expected.into(),
        };
        if self.step_hours <= 0 {
            return Err(bad(
                "step_hours",
                self.step_hours.to_string(),
                "a positive number of hours",
            ));
        }
        if self.history == 0 {
            return Err(bad("history", "0".into(), "at least 1 input state"));
        }
        if self.rollout == 0 {
            return Err(bad("rollout", "0".into(), "at least 1 target state"));
        }
        Ok(())
    }

    fn step(&self) -> i64 {
        self.step_hours * HOUR
    }

    /// Every time a window at `t` needs, inputs first.
    pub fn times(&self, t: Timestamp) -> Vec<Timestamp> {
        let d = self.step();
        (0..self.history as i64)
            .rev()
            .map(|k| t - k * d)
            .chain((1..=self.rollout as i64).map(|k| t + k * d))
            .collect()
    }
}

/// The usable init times of a split.
#[derive(Clone, Debug, Serialize)]
pub struct Windows {
    pub init_times: Vec<Timestamp>,
    /// Candidate init times dropped because a needed time is missing.
    pub skipped: usize,
    /// The first missing time that caused a skip.
    pub first_missing: Option<String>,
}

/// Init times in `[from, to]` on the Δ grid whose whole window lies in
/// `[from, to]` and is present in the data.
pub fn windows(
    reader: &FeatureReader,
    cfg: &WindowConfig,
    from: Timestamp,
    to: Timestamp,
) -> Result<Windows> {
    cfg.validate()?;
    let ds = &reader.ds;
    let d = cfg.step();
    let lo = from + (cfg.history as i64 - 1) * d;
    let hi = to - cfg.rollout as i64 * d;
    let first = lo + (d - lo.rem_euclid(d)) % d;
    let mut w = Windows {
        init_times: Vec::new(),
        skipped: 0,
        first_missing: None,
    };
    let mut t = first;
    while t <= hi {
        match cfg.times(t).into_iter().find(|&x| !reader.available(x)) {
            None => w.init_times.push(t),
            Some(missing) => {
                w.skipped += 1;
                w.first_missing.get_or_insert_with(|| format_time(missing));
            }
        }
        t += d;
    }
    if w.init_times.is_empty() {
        return Err(DataError::EmptyRange {
            from: format_time(from),
            to: format_time(to),
            coverage: format!(
                "{}; a window needs {} h of data around each init time{}",
                ds.coverage(),
                (cfg.history as i64 - 1 + cfg.rollout as i64) * cfg.step_hours,
                w.first_missing
                    .as_ref()
                    .map_or(String::new(), |m| format!(", first missing time {m}"))
            ),
        });
    }
    Ok(w)
}

/// Per-channel normalisation `(x − mean) · (1 / std)` (std 0 treated as 1)
/// and its inverse: the one normaliser of training samples, forecast
/// rollouts and the loss report.
#[derive(Clone, Debug)]
pub struct Normaliser {
    pub mean: Vec<f32>,
    pub inv_std: Vec<f32>,
}

impl Normaliser {
    /// From statistics whose channels must equal the reader's.
    pub fn from_stats(
        stats: &Stats,
        reader: &FeatureReader,
        path: &std::path::Path,
    ) -> Result<Normaliser> {
        Normaliser::for_channels(stats, &reader.set, path)
    }

    /// From statistics whose channels must equal `set` (`path` names the
    /// statistics in errors).
    pub fn for_channels(
        stats: &Stats,
        set: &crate::channels::ChannelSet,
        path: &std::path::Path,
    ) -> Result<Normaliser> {
        stats.check_channels(set, path)?;
        Ok(Normaliser::from_moments(
            stats.channels.iter().map(|c| (c.mean, c.std)),
        ))
    }

    /// From `(mean, std)` per channel.
    pub fn from_moments(moments: impl IntoIterator<Item = (f64, f64)>) -> Normaliser {
        let (mean, inv_std) = moments
            .into_iter()
            .map(|(m, s)| (m as f32, if s > 0.0 { (1.0 / s) as f32 } else { 1.0 }))
            .unzip();
        Normaliser { mean, inv_std }
    }

    /// The identity (mean 0, std 1) for `channels` channels.
    pub fn identity(channels: usize) -> Normaliser {
        Normaliser {
            mean: vec![0.0; channels],
            inv_std: vec![1.0; channels],
        }
    }

    /// Number of channels.
    pub fn len(&self) -> usize {
        self.mean.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }

    /// Normalises a `[grid, channels]` state of all channels in place.
    pub fn apply(&self, state: &mut [f32]) {
        self.normalise(state, 0..self.len());
    }

    /// Normalises in place a `[grid, k]` state holding the channels
    /// `channels` (`k = channels.len()`).
    pub fn normalise(&self, state: &mut [f32], channels: std::ops::Range<usize>) {
        self.each(state, channels, |x, m, s| (x - m) * s);
    }

    /// The inverse of [`normalise`](Self::normalise): physical units again.
    pub fn denormalise(&self, state: &mut [f32], channels: std::ops::Range<usize>) {
        self.each(state, channels, |x, m, s| x / s + m);
    }

    /// `x = f(x, mean, inv_std)` for every value of a `[grid, k]` state.
    fn each(
        &self,
        state: &mut [f32],
        channels: std::ops::Range<usize>,
        f: impl Fn(f32, f32, f32) -> f32,
    ) {
        let (m, s) = (
            &self.mean[channels.clone()],
            &self.inv_std[channels.clone()],
        );
        for row in state.chunks_mut(channels.len().max(1)) {
            for ((x, m), s) in row.iter_mut().zip(m).zip(s) {
                *x = f(*x, *m, *s);
            }
        }
    }
}

/// Sizes of a sample's arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SampleShape {
    pub history: usize,
    pub rollout: usize,
    pub grid: usize,
    /// All channels (non-forecast + forecast).
    pub channels: usize,
    pub non_forecast: usize,
    pub forecast: usize,
}

/// One normalised training sample, f32, grid points latitude-major,
/// channel fastest.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub init_time: Timestamp,
    pub shape: SampleShape,
    /// `[history, grid, channels]`: all channels at `t − (H−1)Δ .. t`.
    pub inputs: Vec<f32>,
    /// `[rollout, grid, non_forecast]`: non-forecast channels at the input
    /// time of each rollout step, `t, t + Δ, .., t + (R−1)Δ`.
    pub forcings: Vec<f32>,
    /// `[rollout, grid, forecast]`: forecast channels at `t + Δ .. t + RΔ`.
    pub targets: Vec<f32>,
}

/// Reads normalised full states (`[grid, channels]`), keeping the last few
/// in a small cache (never more than `capacity` states).
pub struct StateCache {
    capacity: usize,
    entries: Vec<(Timestamp, Vec<f32>)>,
}

impl StateCache {
    pub fn new(capacity: usize) -> StateCache {
        StateCache {
            capacity: capacity.max(1),
            entries: Vec::new(),
        }
    }

    /// Number of states held (at most the capacity).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The normalised state at `t`, from the cache or read.
    pub fn get(
        &mut self,
        reader: &FeatureReader,
        norm: &Normaliser,
        t: Timestamp,
    ) -> Result<&[f32]> {
        if let Some(k) = self.entries.iter().position(|e| e.0 == t) {
            let e = self.entries.remove(k);
            self.entries.push(e);
        } else {
            let nc = reader.set.len();
            let mut buf = if self.entries.len() >= self.capacity {
                self.entries.remove(0).1
            } else {
                vec![0f32; reader.ds.grid.len() * nc]
            };
            reader.state(t, 0..nc, &mut buf)?;
            norm.apply(&mut buf);
            self.entries.push((t, buf));
        }
        Ok(&self.entries[self.entries.len() - 1].1)
    }
}

/// Builds the sample at init time `t` (the window must be available).
pub fn make_sample(
    reader: &FeatureReader,
    norm: &Normaliser,
    cfg: &WindowConfig,
    t: Timestamp,
    cache: &mut StateCache,
) -> Result<Sample> {
    let g = reader.ds.grid.len();
    let nc = reader.set.len();
    let nf = reader.set.n_non_forecast();
    let shape = SampleShape {
        history: cfg.history,
        rollout: cfg.rollout,
        grid: g,
        channels: nc,
        non_forecast: nf,
        forecast: nc - nf,
    };
    let d = cfg.step();
    let mut inputs = Vec::with_capacity(cfg.history * g * nc);
    for k in (0..cfg.history as i64).rev() {
        inputs.extend_from_slice(cache.get(reader, norm, t - k * d)?);
    }
    let mut forcings = Vec::with_capacity(cfg.rollout * g * nf);
    let mut targets = Vec::with_capacity(cfg.rollout * g * (nc - nf));
    for k in 0..cfg.rollout as i64 {
        let s = cache.get(reader, norm, t + k * d)?;
        forcings.extend(s.chunks(nc).flat_map(|row| &row[..nf]));
        let s = cache.get(reader, norm, t + (k + 1) * d)?;
        targets.extend(s.chunks(nc).flat_map(|row| &row[nf..]));
    }
    Ok(Sample {
        init_time: t,
        shape,
        inputs,
        forcings,
        targets,
    })
}
