//! Area weights and per-channel weights of the losses (DESIGN.md §5).
//!
//! Loss fields are `[batch, C, *grid]`: `[batch, C, nlat, nlon]` on
//! lat-lon grids and `[batch, C, npoints]` on Gaussian grids. Area weights
//! run along the first grid axis of that layout — `[nlat]` per ring on
//! lat-lon grids (broadcast over longitude), `[npoints]` per point on
//! Gaussian grids — so one weighted mean serves both.

use std::collections::BTreeMap;

use fastnet_mesh::Grid;
use tch::{Device, Kind, Tensor};

use crate::error::{unsupported_grid, LossError, Result};

/// The field shape of `grid` as the losses see it (after `[batch, C]`):
/// `[nlat, nlon]` for lat-lon grids, `[npoints]` for Gaussian (and point)
/// grids — [`Grid::shape`] as `i64`.
pub fn field_shape(grid: &Grid) -> Vec<i64> {
    grid.shape().into_iter().map(|n| n as i64).collect()
}

/// Cell-area weights along the first grid axis, mean 1:
///
/// * lat-lon grids: `[nlat]` per ring, `w_i ∝ sin φ_{i−½} − sin φ_{i+½}`
///   (exact at the poles; [`Grid::latitude_weights`]);
/// * Gaussian grids: `[npoints]` per point, the ring's Gauss–Legendre
///   weight divided by its number of points ([`Grid::area_weights`]).
///
/// Point grids have no rings and are an error naming the grid.
pub fn area_weight_values(grid: &Grid) -> Result<Vec<f64>> {
    match grid {
        Grid::Equiangular { .. } => grid
            .latitude_weights()
            .ok_or_else(|| unsupported_grid(grid, "area weights")),
        Grid::Gaussian { .. } => Ok(grid.area_weights()),
        _ => Err(unsupported_grid(grid, "area weights")),
    }
}

/// [`area_weight_values`] as a tensor (`[nlat]` or `[npoints]`) of `kind`
/// on `device`.
pub fn area_weights(grid: &Grid, kind: Kind, device: Device) -> Result<Tensor> {
    Ok(Tensor::from_slice(&area_weight_values(grid)?)
        .to_kind(kind)
        .to_device(device))
}

/// Checks that `target` is `[batch, C, *grid]` with the first grid axis as
/// long as the weights `w` (`[nlat]` → `[batch, C, nlat, nlon]`, or
/// `[npoints]` → `[batch, C, npoints]`) and that `pred` has the same shape.
pub(crate) fn check_weighted_pair(pred: &Tensor, target: &Tensor, w: &Tensor) -> Result<()> {
    let s = target.size();
    let n = w.size().first().copied().unwrap_or(-1);
    if w.dim() != 1 || !(s.len() == 3 || s.len() == 4) || s[2] != n {
        return Err(LossError::Shape {
            what: "target".into(),
            got: s,
            expected: format!(
                "[batch, channels, {n}, nlon] (lat-lon) or [batch, channels, {n}] (Gaussian) \
                 for area weights of shape {:?}",
                w.size()
            ),
        });
    }
    crate::error::check_field("prediction", pred, Some(s[1]), &s[2..])
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
/// * `e` — `[batch, C, *grid]`: `[batch, C, nlat, nlon]` or
///   `[batch, C, npoints]`;
/// * `w` — weights along the first grid axis, `[nlat]` or `[npoints]`
///   ([`area_weights`]).
///
/// `Σ w e / Σ w` over the batch and every grid point (the mean weight
/// normalises, so `w` need not have mean 1).
pub fn weighted_channel_mean(e: &Tensor, w: &Tensor) -> Tensor {
    let mut shape = vec![1i64; e.dim().max(3)];
    shape[2] = w.size()[0];
    let wv = w.view(shape.as_slice());
    let dims: Vec<i64> = std::iter::once(0).chain(2..e.dim() as i64).collect();
    (e * &wv).mean_dim(dims.as_slice(), false, None::<Kind>) / w.mean(None::<Kind>)
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

    #[test]
    fn area_weights_per_ring_on_lat_lon_per_point_on_gaussian_grids() {
        let ll = Grid::from_spec("latlon:10").unwrap();
        assert_eq!(
            area_weight_values(&ll).unwrap(),
            ll.latitude_weights().unwrap()
        );
        assert_eq!(field_shape(&ll), vec![19, 36]);
        let o8 = Grid::octahedral(8).unwrap();
        let w = area_weight_values(&o8).unwrap();
        assert_eq!(w.len(), o8.len());
        assert_eq!(field_shape(&o8), vec![o8.len() as i64]);
        assert!((w.iter().sum::<f64>() / w.len() as f64 - 1.0).abs() < 1e-12);
        // per ring: Gauss–Legendre weight / ring length, so a ring's total
        // is its share of ∫ d(sin φ) — larger towards the equator
        let rings = o8.rings().unwrap();
        let total = |r: usize| -> f64 { w[rings.offsets[r]..rings.offsets[r + 1]].iter().sum() };
        assert!(total(0) < total(3) && total(3) < total(7));
        assert!((total(0) - total(15)).abs() < 1e-12);
        let points = Grid::points(&[(0.0, 0.0), (1.0, 1.0)]).unwrap();
        let e = area_weight_values(&points).unwrap_err().to_string();
        assert!(e.contains("2 points") && e.contains("Gaussian"), "{e}");
        // the weighted mean broadcasts [npoints] weights over [B, C, npoints]
        let e = Tensor::from_slice(&[1.0f64, 3.0, 5.0, 7.0]).view([1, 2, 2]);
        let m: Vec<f64> = Vec::try_from(weighted_channel_mean(
            &e,
            &Tensor::from_slice(&[1.0f64, 3.0]),
        ))
        .unwrap();
        assert_eq!(m, vec![(1.0 + 9.0) / 4.0, (5.0 + 21.0) / 4.0]);
    }
}
