//! Area weights and per-channel weights of the losses (DESIGN.md §5).

use std::collections::BTreeMap;

use fastnet_mesh::Grid;
use tch::{Device, Kind, Tensor};

use crate::error::{LossError, Result};

/// Cell-area latitude weights `[nlat]`, mean 1:
/// `w_i ∝ sin φ_{i−½} − sin φ_{i+½}` (exact at the poles).
pub fn area_weights(grid: &Grid, kind: Kind, device: Device) -> Result<Tensor> {
    let w = grid.latitude_weights().ok_or_else(|| LossError::Config {
        field: "grid".into(),
        value: grid.describe(),
        expected: "a regular latitude-longitude grid".into(),
    })?;
    Ok(Tensor::from_slice(&w).to_kind(kind).to_device(device))
}

/// A forecast channel as the loss weights see it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelSpec {
    /// ERA5 short name, e.g. `z`, `t2m`.
    pub variable: String,
    /// Pressure level in hPa for upper-air channels.
    pub level_hpa: Option<f64>,
}

/// Per-channel weights `s_j λ_j` of the weighted MSE:
///
/// * `s_j = 1 / Var[Δx_j]` — `inverse_delta_variance[j]`, the inverse
///   variance of the 6-hour change in normalised units;
/// * `λ_j = p_j / mean(p)` for upper-air channels, the mean over the
///   distinct levels present; `surface[name]` for surface channels, else
///   `default_surface` (GraphCast: 2t 1.0, others 0.1).
pub fn channel_weights(
    channels: &[ChannelSpec],
    inverse_delta_variance: &[f64],
    surface: &BTreeMap<String, f64>,
    default_surface: f64,
) -> Result<Vec<f64>> {
    if channels.len() != inverse_delta_variance.len() {
        return Err(LossError::Shape {
            what: "inverse 6-hour-change variances".into(),
            got: vec![inverse_delta_variance.len() as i64],
            expected: format!("[{}] (one per channel)", channels.len()),
        });
    }
    let mut levels: Vec<f64> = channels.iter().filter_map(|c| c.level_hpa).collect();
    levels.sort_by(|a, b| a.total_cmp(b));
    levels.dedup();
    let mean_p = if levels.is_empty() {
        1.0
    } else {
        levels.iter().sum::<f64>() / levels.len() as f64
    };
    channels
        .iter()
        .zip(inverse_delta_variance)
        .map(|(c, &s)| {
            if !(s.is_finite() && s > 0.0) {
                return Err(LossError::Config {
                    field: format!("inverse delta variance of {}", c.variable),
                    value: s.to_string(),
                    expected: "a positive finite number".into(),
                });
            }
            let lambda = match c.level_hpa {
                Some(p) => p / mean_p,
                None => *surface.get(&c.variable).unwrap_or(&default_surface),
            };
            Ok(s * lambda)
        })
        .collect()
}

/// Area-weighted mean over batch and grid, per channel: `[C]`.
///
/// * `e` — `[batch, C, nlat, nlon]`; `w` — `[nlat]` weights.
pub fn weighted_channel_mean(e: &Tensor, w: &Tensor) -> Tensor {
    let nlat = w.size()[0];
    let wv = w.view([1, 1, nlat, 1]);
    (e * &wv).mean_dim([0i64, 2, 3].as_slice(), false, None::<Kind>) / w.mean(None::<Kind>)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pressure_level_weights_are_p_over_mean_p() {
        let ch = |v: &str, p: Option<f64>| ChannelSpec {
            variable: v.into(),
            level_hpa: p,
        };
        let channels = [
            ch("z", Some(500.0)),
            ch("z", Some(1000.0)),
            ch("t", Some(500.0)),
            ch("t2m", None),
            ch("msl", None),
        ];
        let surface = BTreeMap::from([("t2m".to_string(), 1.0)]);
        let w = channel_weights(&channels, &[1.0, 2.0, 1.0, 4.0, 3.0], &surface, 0.1).unwrap();
        // mean level 750 hPa
        let want = [500.0 / 750.0, 2.0 * 1000.0 / 750.0, 500.0 / 750.0, 4.0, 0.3];
        for (a, b) in w.iter().zip(want) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!(channel_weights(&channels, &[1.0], &surface, 0.1).is_err());
        assert!(channel_weights(&channels[..1], &[0.0], &surface, 0.1)
            .unwrap_err()
            .to_string()
            .contains("z"));
    }
}
