//! Latitude-weighted MSE (GraphCast / FastNet training loss).
//!
//! `L = Σ_j c_j mean_{batch, grid}(w (x̂_j − x_j)²)` with cell-area weights
//! `w` (mean 1) and channel weights `c_j = s_j λ_j`
//! ([`crate::weights::channel_weights`]). DESIGN.md §5.1.

use tch::Tensor;

use crate::error::{check_bcyx, Result};
use crate::weights::weighted_channel_mean;

/// Per-channel area-weighted MSE `[C]` of `pred` and `target`
/// (`[batch, C, nlat, nlon]`, normalised units); `w` `[nlat]`.
pub fn mse_per_channel(pred: &Tensor, target: &Tensor, w: &Tensor) -> Result<Tensor> {
    let s = target.size();
    check_bcyx(
        "target",
        target,
        None,
        w.size()[0],
        s.get(3).copied().unwrap_or(-1),
    )?;
    check_bcyx("prediction", pred, Some(s[1]), s[2], s[3])?;
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
}
