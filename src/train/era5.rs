//! Training samples from ERA5 NetCDF through the data crate: a
//! [`SampleSource`] over the windows of one date range.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use fastnet_data::features::FeatureReader;
use fastnet_data::sample::{make_sample, windows, Normaliser, StateCache, WindowConfig};
use fastnet_data::time::Timestamp;

use super::source::{Sample, SampleSource};

/// The windows of `[from, to]` for every rollout length asked for (computed
/// on first use), read and normalised on demand with a small state cache.
pub struct Era5Source {
    reader: Arc<FeatureReader>,
    norm: Normaliser,
    step_hours: i64,
    from: Timestamp,
    to: Timestamp,
    windows: Mutex<HashMap<usize, Vec<Timestamp>>>,
    /// State caches, one taken per `get` (so loader threads do not wait
    /// for each other) and put back.
    caches: Mutex<Vec<StateCache>>,
    /// Windows skipped for missing times, per rollout length.
    pub skipped: Mutex<HashMap<usize, usize>>,
}

impl Era5Source {
    pub fn new(
        reader: Arc<FeatureReader>,
        norm: Normaliser,
        step_hours: i64,
        from: Timestamp,
        to: Timestamp,
    ) -> Era5Source {
        Era5Source {
            reader,
            norm,
            step_hours,
            from,
            to,
            windows: Mutex::new(HashMap::new()),
            caches: Mutex::new(Vec::new()),
            skipped: Mutex::new(HashMap::new()),
        }
    }

    /// The grid of the samples: their `N_grid` points are its points in its
    /// own order (`[nlat * nlon]` latitude-major on lat-lon grids,
    /// `[npoints]` ring by ring on Gaussian grids).
    pub fn grid(&self) -> &fastnet_mesh::Grid {
        &self.reader.ds.grid
    }

    fn config(&self, rollout: usize) -> WindowConfig {
        WindowConfig {
            step_hours: self.step_hours,
            history: 1,
            rollout,
        }
    }

    /// Init times of the windows with `rollout` steps.
    pub fn init_times(&self, rollout: usize) -> Result<Vec<Timestamp>> {
        let mut w = self
            .windows
            .lock()
            .map_err(|_| anyhow::anyhow!("window table poisoned"))?;
        if let Some(v) = w.get(&rollout) {
            return Ok(v.clone());
        }
        let found = windows(&self.reader, &self.config(rollout), self.from, self.to)?;
        if let Ok(mut s) = self.skipped.lock() {
            s.insert(rollout, found.skipped);
        }
        w.insert(rollout, found.init_times.clone());
        Ok(found.init_times)
    }
}

impl SampleSource for Era5Source {
    fn len(&self, rollout: usize) -> usize {
        self.init_times(rollout).map_or(0, |v| v.len())
    }

    fn get(&self, index: usize, rollout: usize) -> Result<Sample> {
        let times = self.init_times(rollout)?;
        let t = *times
            .get(index)
            .with_context(|| format!("window {index} of {}", times.len()))?;
        let pool = |f: &mut dyn FnMut(&mut Vec<StateCache>)| {
            self.caches
                .lock()
                .map(|mut p| f(&mut p))
                .map_err(|_| anyhow::anyhow!("state cache pool poisoned"))
        };
        let mut cache = None;
        pool(&mut |p| cache = p.pop())?;
        let mut cache = cache.unwrap_or_else(|| StateCache::new(16));
        let s = make_sample(
            &self.reader,
            &self.norm,
            &self.config(rollout),
            t,
            &mut cache,
        );
        pool(&mut |p| p.push(std::mem::replace(&mut cache, StateCache::new(0))))?;
        let s = s?;
        Ok(Sample {
            input: s.inputs,
            forcings: s.forcings,
            targets: s.targets,
        })
    }

    /// `(nlat, nlon)` on lat-lon grids; `(npoints, 1)` on 1-D grids
    /// (Gaussian, points), whose fields are `[npoints]`.
    fn grid_shape(&self) -> Vec<usize> {
        self.reader.ds.grid.shape()
    }

    fn channels(&self) -> (usize, usize) {
        (
            self.reader.set.n_non_forecast(),
            self.reader.set.n_forecast(),
        )
    }
}
