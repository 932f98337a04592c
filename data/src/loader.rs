//! The training loader: background threads build normalised samples into
//! bounded queues, in a shuffled order that is the same for a given
//! (seed, epoch) whatever the number of threads.
//!
//! Worker `w` of `W` builds the samples at positions `w, w + W, ...` of the
//! epoch's order and sends them on its own channel of capacity
//! `ceil(queue / W)`; the consumer takes position `i` from channel `i mod W`,
//! so the order is deterministic and at most about `queue + W` samples are in
//! memory, plus each worker's [`StateCache`] of `cache_states` states.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::{DataError, Result};
use crate::features::FeatureReader;
use crate::sample::{make_sample, Normaliser, Sample, StateCache, WindowConfig};
use crate::time::Timestamp;

/// Loader settings.
#[derive(Clone, Debug)]
pub struct LoaderConfig {
    pub window: WindowConfig,
    /// Background threads building samples.
    pub workers: usize,
    /// Samples prefetched in total (bounded queue).
    pub queue: usize,
    pub shuffle: bool,
    pub seed: u64,
    /// States each worker keeps (small; windows of neighbouring init times
    /// share states).
    pub cache_states: usize,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            window: WindowConfig::default(),
            workers: 2,
            queue: 8,
            shuffle: true,
            seed: 0,
            cache_states: 4,
        }
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a small, well-mixed generator for
/// the shuffle; no external RNG so the order never changes with a
/// dependency update. Also the noise source of the built-in toy atmosphere.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// A uniform value in [-1, 1) from the top 53 bits of the next draw.
    pub fn next_signed_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The order of `n` samples in `epoch`: a Fisher–Yates shuffle seeded from
/// (seed, epoch), or `0..n` without shuffling.
pub fn epoch_order(n: usize, seed: u64, epoch: u64, shuffle: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if shuffle {
        let mut rng = SplitMix64(seed ^ epoch.wrapping_mul(0xD1B5_4A32_D192_ED03));
        for i in (1..n).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
    }
    order
}

/// The training order as a stream of shuffled epochs: the one seeded
/// shuffle of training. The batch of any step can be recomputed after a
/// restart, whatever ran before.
#[derive(Clone, Copy, Debug)]
pub struct Sampler {
    pub seed: u64,
}

impl Sampler {
    /// Sample indices of the batch for global `step` with `batch` samples
    /// each out of `n`: its position in the stream of epochs, each ordered
    /// by [`epoch_order`].
    pub fn batch(&self, step: u64, batch: usize, n: usize) -> Vec<usize> {
        self.window(step * batch as u64, batch, n)
    }

    /// Sample indices at positions `start .. start + count` of the stream
    /// (global sample indices: the same whatever the batch size and the
    /// number of ranks that consume them).
    pub fn window(&self, start: u64, count: usize, n: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(count);
        let mut cached: Option<(u64, Vec<usize>)> = None;
        for k in 0..count as u64 {
            let pos = start + k;
            let (epoch, i) = (pos / n as u64, (pos % n as u64) as usize);
            if cached.as_ref().is_none_or(|c| c.0 != epoch) {
                cached = Some((epoch, epoch_order(n, self.seed, epoch, true)));
            }
            out.extend(cached.as_ref().map(|c| c.1[i]));
        }
        out
    }
}

/// A loader over the init times of one split.
pub struct Loader {
    reader: Arc<FeatureReader>,
    norm: Arc<Normaliser>,
    init_times: Arc<Vec<Timestamp>>,
    pub config: LoaderConfig,
}

impl Loader {
    /// `init_times` from [`crate::sample::windows`].
    pub fn new(
        reader: Arc<FeatureReader>,
        norm: Normaliser,
        init_times: Vec<Timestamp>,
        config: LoaderConfig,
    ) -> Result<Loader> {
        config.window.validate()?;
        if config.workers == 0 || config.queue == 0 {
            return Err(DataError::BadConfig {
                field: "loader workers / queue".into(),
                value: format!("{} / {}", config.workers, config.queue),
                expected: "at least 1 each".into(),
            });
        }
        Ok(Loader {
            reader,
            norm: Arc::new(norm),
            init_times: Arc::new(init_times),
            config,
        })
    }

    /// Number of samples per epoch.
    pub fn len(&self) -> usize {
        self.init_times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.init_times.is_empty()
    }

    /// Starts the workers for `epoch` and returns the samples in order.
    /// Dropping the iterator early stops the workers.
    pub fn epoch(&self, epoch: u64) -> Prefetch<Sample, DataError> {
        let c = &self.config;
        let order: Arc<Vec<Timestamp>> = Arc::new(
            epoch_order(self.init_times.len(), c.seed, epoch, c.shuffle)
                .into_iter()
                .map(|i| self.init_times[i])
                .collect(),
        );
        let (reader, norm, window) = (self.reader.clone(), self.norm.clone(), c.window);
        let cache_states = c.cache_states;
        Prefetch::new(
            order.len() as u64,
            c.workers,
            c.queue,
            Arc::new(move || {
                let (reader, norm, order) = (reader.clone(), norm.clone(), order.clone());
                let mut cache = StateCache::new(cache_states);
                Box::new(move |k: u64| {
                    make_sample(&reader, &norm, &window, order[k as usize], &mut cache)
                }) as Box<dyn FnMut(u64) -> Result<Sample> + Send>
            }),
        )
    }
}

/// What a [`Prefetch`] worker runs for each item: built once per worker
/// (so it can keep a cache), then called with the item's position.
pub type MakeItem<T, E> =
    Arc<dyn Fn() -> Box<dyn FnMut(u64) -> std::result::Result<T, E> + Send> + Send + Sync>;

/// Items `0..total` built by `workers` background threads and delivered in
/// order: worker `w` builds positions `w, w + W, ...` into its own bounded
/// channel (capacity `ceil(queue / W)`), and the consumer takes position
/// `i` from channel `i mod W`. The one prefetch of fastnet: epochs of the
/// [`Loader`] and the trainer's batches both come through it. Dropping it
/// stops the workers.
pub struct Prefetch<T, E> {
    receivers: Vec<Receiver<std::result::Result<T, E>>>,
    handles: Vec<JoinHandle<()>>,
    next: u64,
    total: u64,
}

impl<T: Send + 'static, E: Send + 'static + From<DataError>> Prefetch<T, E> {
    pub fn new(total: u64, workers: usize, queue: usize, make: MakeItem<T, E>) -> Prefetch<T, E> {
        let w = workers.max(1).min(total.max(1) as usize);
        let cap = queue.max(1).div_ceil(w);
        let mut receivers = Vec::with_capacity(w);
        let mut handles = Vec::with_capacity(w);
        for worker in 0..w {
            let (tx, rx) = sync_channel::<std::result::Result<T, E>>(cap);
            receivers.push(rx);
            let make = make.clone();
            handles.push(std::thread::spawn(move || {
                let mut item = make();
                let mut k = worker as u64;
                while k < total {
                    let s = item(k);
                    let failed = s.is_err();
                    if tx.send(s).is_err() || failed {
                        break;
                    }
                    k += w as u64;
                }
            }));
        }
        Prefetch {
            receivers,
            handles,
            next: 0,
            total,
        }
    }
}

impl<T, E: From<DataError>> Iterator for Prefetch<T, E> {
    type Item = std::result::Result<T, E>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.total || self.receivers.is_empty() {
            return None;
        }
        let rx = &self.receivers[(self.next % self.receivers.len() as u64) as usize];
        self.next += 1;
        match rx.recv() {
            Ok(s) => {
                if s.is_err() {
                    self.next = self.total;
                }
                Some(s)
            }
            Err(_) => {
                self.next = self.total;
                Some(Err(E::from(DataError::BadConfig {
                    field: "loader".into(),
                    value: "worker thread".into(),
                    expected: "a worker that does not panic".into(),
                })))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.total - self.next.min(self.total)) as usize;
        (n, Some(n))
    }
}

impl<T, E> Drop for Prefetch<T, E> {
    fn drop(&mut self) {
        // Closing the channels makes every blocked send fail, so workers stop.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_a_permutation_fixed_by_seed_and_epoch() {
        let a = epoch_order(100, 7, 3, true);
        assert_eq!(a, epoch_order(100, 7, 3, true));
        assert_ne!(a, epoch_order(100, 7, 4, true));
        assert_ne!(a, epoch_order(100, 8, 3, true));
        let mut s = a.clone();
        s.sort_unstable();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
        assert_eq!(epoch_order(5, 7, 3, false), vec![0, 1, 2, 3, 4]);
        // batches walk through epoch 0, then epoch 1
        let s = Sampler { seed: 7 };
        let b: Vec<usize> = (0..5).flat_map(|st| s.batch(st, 10, 50)).collect();
        assert_eq!(b, epoch_order(50, 7, 0, true));
        assert_eq!(
            s.batch(5, 10, 50),
            epoch_order(50, 7, 1, true)[..10].to_vec()
        );
    }
}
