//! Training: the `[train]`-file configuration ([`config`]), the sample
//! sources ([`source`], [`era5`]), one step's rollout with its loss passes
//! ([`rollout`]), validation ([`validate`]), the optimiser ([`optim`]), the
//! loop ([`trainer`]) with its data-parallel parts (`parallel.rs`) and the run from a config file to a trained
//! checkpoint ([`run`]). Checkpoint files live in [`crate::checkpoint`],
//! shared with inference.

pub mod config;
pub mod era5;
pub mod optim;
mod parallel;
pub mod rollout;
pub mod run;
pub mod source;
pub mod trainer;
pub mod validate;

#[cfg(test)]
mod tests;

use fastnet_data::time::{parse_period, Timestamp};

use crate::error::{FastnetError, Result};

/// A config period `[from, to]` (both included; a bare end date is the
/// whole day, [`parse_period`]); `field` names it in errors.
pub fn period(range: &[String; 2], field: &str) -> Result<(Timestamp, Timestamp)> {
    parse_period(&range[0], &range[1]).map_err(|e| {
        FastnetError::bad_config(
            field,
            format!("{range:?}"),
            format!("two dates (2020-01-01 or 2020-01-01T06), the end not before the start ({e})"),
        )
    })
}
