//! Latitude-weighted MSE (GraphCast / FastNet training loss).
//!
//! `L = Σ_j c_j mean_{batch, grid}(w (x̂_j − x_j)²)` with cell-area weights
//! `w` (mean 1) and channel weights `c_j = s_j λ_j`
//! ([`crate::weights::channel_weights`]). DESIGN.md §5.1. On a Gaussian
//! grid `w` is per point (the ring's Gauss–Legendre weight over its number
//! of points), so the mean is the grid's quadrature of `(x̂ − x)²` over the
//! sphere divided by 4π.

use tch::Tensor;

use crate::error::Result;
use crate::weights::{check_weighted_pair, weighted_channel_mean};

/// Per-channel area-weighted MSE `[C]` of `pred` and `target`
/// (normalised units), `[batch, C, nlat, nlon]` with `w` `[nlat]` on a
/// lat-lon grid, `[batch, C, npoints]` with `w` `[npoints]` on a Gaussian
/// grid ([`crate::weights::area_weights`]).
pub fn mse_per_channel(pred: &Tensor, target: &Tensor, w: &Tensor) -> Result<Tensor> {
    check_weighted_pair(pred, target, w)?;
    let d = pred - target;
    Ok(weighted_channel_mean(&(&d * &d), w))
}

/// `Σ_j c_j · per_channel_j`: scalar.
pub fn combine_channels(per_channel: &Tensor, channel_weights: &Tensor) -> Tensor {
    (per_channel * channel_weights).sum(None::<tch::Kind>)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn weighted_mse_of_a_constant_error_and_of_one_ring() {
        let opts = (Kind::Double, Device::Cpu);
        let w = Tensor::from_slice(&[0.5f64, 1.5, 1.0]);
        let t = Tensor::zeros([2, 2, 3, 4], opts);
        let p = Tensor::ones([2, 2, 3, 4], opts) * 2.0;
        let m: Vec<f64> = Vec::try_from(mse_per_channel(&p, &t, &w).unwrap()).unwrap();
        assert!((m[0] - 4.0).abs() < 1e-12 && (m[1] - 4.0).abs() < 1e-12);
        // error only on ring 1 (weight 1.5 of total 3)
        let p = Tensor::zeros([1, 1, 3, 4], opts);
        let _ = p.narrow(2, 1, 1).fill_(1.0);
        let m = f64::try_from(
            mse_per_channel(&p, &Tensor::zeros([1, 1, 3, 4], opts), &w)
                .unwrap()
                .sum(None::<Kind>),
        )
        .unwrap();
        assert!((m - 1.5 / 3.0).abs() < 1e-12);
        let cw = Tensor::from_slice(&[2.0f64]);
        assert!(
            (f64::try_from(combine_channels(&Tensor::from_slice(&[0.5f64]), &cw)).unwrap() - 1.0)
                .abs()
                < 1e-12
        );
        assert!(mse_per_channel(
            &Tensor::zeros([1, 2, 3, 4], opts),
            &Tensor::zeros([1, 1, 3, 4], opts),
            &w
        )
        .is_err());
    }

    #[test]
    fn gaussian_grid_mse_is_the_quadrature_of_the_squared_error() {
        // mean(w d²) with per-point weights (mean 1) is ∫ d² dΩ / 4π by the
        // grid's Gauss–Legendre rule with each ring's trapezoid sum
        let grid = fastnet_mesh::Grid::octahedral(16).unwrap();
        let np = grid.len() as i64;
        let w = crate::weights::area_weights(&grid, Kind::Double, Device::Cpu).unwrap();
        assert_eq!(w.size(), [np]);
        tch::manual_seed(9);
        let opts = (Kind::Double, Device::Cpu);
        let (p, t) = (
            Tensor::randn([2, 2, np], opts),
            Tensor::randn([2, 2, np], opts),
        );
        let m: Vec<f64> = Vec::try_from(mse_per_channel(&p, &t, &w).unwrap()).unwrap();
        let sht = fastnet_eval::ReducedSht::shared(&grid, None).unwrap();
        for c in 0..2i64 {
            let mut want = 0.0;
            for b in 0..2 {
                let d: Vec<f64> = Vec::try_from(p.get(b).get(c) - t.get(b).get(c)).unwrap();
                want += sht.integrate_product(&d, &d).unwrap() / (4.0 * std::f64::consts::PI) / 2.0;
            }
            let got = m[c as usize];
            assert!(
                (got - want).abs() < 1e-12 * want,
                "channel {c}: {got} vs {want}"
            );
        }
        // lat-lon fields [B, C, nlat, nlon] with ring weights [nlat] give the
        // same as the flattened fields with per-point weights
        let ll = fastnet_mesh::Grid::from_spec("latlon:10").unwrap();
        let wr = crate::weights::area_weights(&ll, Kind::Double, Device::Cpu).unwrap();
        let wp = Tensor::from_slice(&ll.area_weights());
        let (p, t) = (
            Tensor::randn([2, 3, 19, 36], opts),
            Tensor::randn([2, 3, 19, 36], opts),
        );
        let a = mse_per_channel(&p, &t, &wr).unwrap();
        let b = mse_per_channel(&p.flatten(2, 3), &t.flatten(2, 3), &wp).unwrap();
        assert!(f64::try_from((a - b).abs().max()).unwrap() < 1e-14);
        // a Gaussian-grid field with lat-lon weights names both shapes
        let e = mse_per_channel(
            &Tensor::zeros([1, 1, np], opts),
            &Tensor::zeros([1, 1, np], opts),
            &wr,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains(&format!("[1, 1, {np}]")) && e.contains("[batch, channels, 19]"),
            "{e}"
        );
    }
}
