//! Assembles grid features for one time: every channel of a [`ChannelSet`]
//! on every grid point, from the data (forecast and static fields) and from
//! the grid and timestamp (forcings).
//!
//! A state is `[grid, channel]` f32, latitude-major grid points, channel
//! fastest, physical units (normalisation is the loader's job).

use std::ops::Range;
use std::sync::Arc;

use crate::channels::{ChannelSet, Source};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::forcings::{
    earthkit_cos_solar_zenith, julian_day_phase, local_time_phase, year_phase, SolarGeometry,
};
use crate::time::Timestamp;

/// Reads states of one channel set from one dataset. Static and
/// grid-geometry channels are computed once in [`FeatureReader::new`].
pub struct FeatureReader {
    pub ds: Arc<Dataset>,
    pub set: ChannelSet,
    /// (lat, lon) in degrees per grid point.
    points: Vec<(f64, f64)>,
    /// Per channel: its time-invariant field, if it has one: `[grid]`.
    fixed: Vec<Option<Vec<f32>>>,
}

impl FeatureReader {
    /// `set` must already be resolved against `ds` ([`ChannelSet::resolve`]).
    pub fn new(ds: Arc<Dataset>, set: ChannelSet) -> Result<FeatureReader> {
        let points = ds.grid.point_lat_lon();
        let n = points.len();
        let mut fixed = Vec::with_capacity(set.len());
        for c in set.channels() {
            let f: Option<Vec<f32>> = match &c.source {
                Source::CosLat => Some(
                    points
                        .iter()
                        .map(|p| p.0.to_radians().cos() as f32)
                        .collect(),
                ),
                Source::CosLon => Some(
                    points
                        .iter()
                        .map(|p| p.1.to_radians().cos() as f32)
                        .collect(),
                ),
                Source::SinLon => Some(
                    points
                        .iter()
                        .map(|p| p.1.to_radians().sin() as f32)
                        .collect(),
                ),
                Source::Static { var } => {
                    let mut out = vec![0f32; n];
                    ds.read_field(var, None, 0, &mut out)?;
                    Some(out)
                }
                _ => None,
            };
            fixed.push(f);
        }
        Ok(FeatureReader {
            ds,
            set,
            points,
            fixed,
        })
    }

    /// Whether every time-varying field of the set is in the data at `t`.
    pub fn available(&self, t: Timestamp) -> bool {
        self.set.channels().iter().all(|c| match &c.source {
            Source::Field { var, level } => self.ds.has(var, *level, t),
            _ => true,
        })
    }

    /// Channel `c` at time `t` into `out`: `[grid]`.
    pub fn channel(&self, c: usize, t: Timestamp, out: &mut [f32]) -> Result<()> {
        if let Some(f) = &self.fixed[c] {
            out.copy_from_slice(f);
            return Ok(());
        }
        let p = &self.points;
        match &self.set.channels()[c].source {
            Source::Field { var, level } => self.ds.read_field(var, *level, t, out)?,
            Source::CosDayOfYear => out.fill(year_phase(t).0 as f32),
            Source::SinDayOfYear => out.fill(year_phase(t).1 as f32),
            Source::CosLocalTime => fill(out, p, |_, lon| local_time_phase(t, lon).0),
            Source::SinLocalTime => fill(out, p, |_, lon| local_time_phase(t, lon).1),
            Source::CosJulianDay => out.fill(julian_day_phase(t).0 as f32),
            Source::SinJulianDay => out.fill(julian_day_phase(t).1 as f32),
            Source::CosSolarZenith => {
                fill(out, p, |lat, lon| earthkit_cos_solar_zenith(t, lat, lon))
            }
            Source::ToaIncidentSolar => {
                let sun = SolarGeometry::mid_hour_ending(t);
                fill(out, p, |lat, lon| sun.toa_hour_integrated_j_m2(lat, lon))
            }
            Source::CosLat | Source::CosLon | Source::SinLon | Source::Static { .. } => {
                return Err(DataError::BadConfig {
                    field: "channel".into(),
                    value: self.set.channels()[c].name.clone(),
                    expected: "a time-invariant channel computed at construction".into(),
                })
            }
        }
        Ok(())
    }

    /// Channels `channels` at time `t` into `out`: `[grid, channels.len()]`,
    /// channel fastest.
    pub fn state(&self, t: Timestamp, channels: Range<usize>, out: &mut [f32]) -> Result<()> {
        let n = self.points.len();
        let nc = channels.len();
        if out.len() != n * nc {
            return Err(DataError::BadConfig {
                field: "state buffer".into(),
                value: out.len().to_string(),
                expected: format!("[grid {n}, channels {nc}] = {} values", n * nc),
            });
        }
        let mut field = vec![0f32; n];
        for (k, c) in channels.enumerate() {
            self.channel(c, t, &mut field)?;
            for (g, &v) in field.iter().enumerate() {
                out[g * nc + k] = v;
            }
        }
        Ok(())
    }
}

fn fill(out: &mut [f32], points: &[(f64, f64)], f: impl Fn(f64, f64) -> f64) {
    for (o, &(lat, lon)) in out.iter_mut().zip(points) {
        *o = f(lat, lon) as f32;
    }
}
