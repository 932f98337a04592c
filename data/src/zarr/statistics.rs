//! Seeding `stats.json` from an anemoi-datasets store's own statistics
//! (`fastnet stats --from-dataset-statistics`).
//!
//! anemoi-datasets stores a plain (unweighted) mean and standard deviation
//! per variable over every point of every date in its statistics period;
//! fastnet's own are area-weighted over the requested period. With the
//! option, a field channel the store has takes the store's mean and std
//! (so that a model trained here normalises exactly as an anemoi-trained
//! one), while the change statistic and the channels the store does not
//! carry (forcings such as `cos_lat`, `insolation`) keep fastnet's. Every
//! seeded channel is checked against fastnet's own figures: a store mean
//! more than half a standard deviation away, or a std more than a factor 2
//! off, is reported as a disagreement (stale statistics, another variable,
//! other units).

use serde::Serialize;

use super::files::anemoi_name;
use crate::catalogue::STANDARD_GRAVITY_M_S2;
use crate::channels::{ChannelSet, Source};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::stats::Stats;

/// What happened to one channel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeededChannel {
    pub channel: String,
    /// The store's variable the statistics came from (`None`: kept ours).
    pub store_variable: Option<String>,
    pub ours_mean: f64,
    pub ours_std: f64,
    pub store_mean: Option<f64>,
    pub store_std: Option<f64>,
    /// Whether the store's figures disagree with ours beyond the bounds in
    /// the module doc.
    pub disagrees: bool,
}

/// Replaces the mean and std of every field channel of `stats` that the
/// store in `ds` carries with the store's; returns one entry per channel.
/// Fails when `ds` is not one anemoi-datasets store.
pub fn seed_from_store(
    stats: &mut Stats,
    ds: &Dataset,
    set: &ChannelSet,
) -> Result<Vec<SeededChannel>> {
    let stores: Vec<_> = ds.files.iter().filter_map(|f| f.store.clone()).collect();
    let [store] = stores.as_slice() else {
        return Err(DataError::BadConfig {
            field: "--from-dataset-statistics".into(),
            value: format!(
                "{} input(s), {} of them anemoi-datasets stores",
                ds.files.len(),
                stores.len()
            ),
            expected: "the data to be one anemoi-datasets Zarr store".into(),
        });
    };
    let store_stats = store.statistics()?;
    let mut report = Vec::new();
    for (ch, cs) in set.channels().iter().zip(stats.channels.iter_mut()) {
        let (name, scale) = match &ch.source {
            Source::Field { var, level } => (Some(anemoi_name(var, *level)), 1.0),
            Source::Static { var } if var == "orography" => {
                (Some("z".to_string()), 1.0 / STANDARD_GRAVITY_M_S2)
            }
            Source::Static { var } => (Some(anemoi_name(var, None)), 1.0),
            _ => (None, 1.0),
        };
        let found = name
            .as_ref()
            .and_then(|n| store_stats.iter().find(|s| &s.variable == n));
        let mut entry = SeededChannel {
            channel: ch.name.clone(),
            store_variable: None,
            ours_mean: cs.mean,
            ours_std: cs.std,
            store_mean: None,
            store_std: None,
            disagrees: false,
        };
        if let Some(s) = found {
            let (mean, std) = (s.mean * scale, s.stdev * scale);
            let tol = 0.5 * cs.std.max(f64::MIN_POSITIVE);
            entry.disagrees = (mean - cs.mean).abs() > tol
                || (cs.std > 0.0 && !(0.5..=2.0).contains(&(std / cs.std)));
            entry.store_variable = Some(s.variable.clone());
            entry.store_mean = Some(mean);
            entry.store_std = Some(std);
            cs.mean = mean;
            cs.std = std;
        }
        report.push(entry);
    }
    Ok(report)
}
