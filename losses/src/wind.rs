//! Wind speed / direction loss (FastNet; DESIGN.md §5.4).
//!
//! The network predicts u and v; for each (u, v) pair the loss on them is
//! replaced by the MSE of the direction unit vector `(u/s, v/s)` plus
//! `λ_speed` times the MSE of the speed `s = sqrt(u² + v² + ε²)`
//! (ε = 1e-6 m/s), computed in physical units (m/s) and the speed divided by
//! its standard deviation. Both are area-weighted means over batch and grid;
//! the direction MSE averages its two components.

use tch::{Kind, Tensor};

use crate::error::{LossError, Result};
use crate::weights::{check_weighted_pair, weighted_channel_mean};

/// One (u, v) channel pair with the normalisation of each component.
#[derive(Clone, Debug, PartialEq)]
pub struct WindPair {
    pub u_channel: i64,
    pub v_channel: i64,
    /// u = u_norm · u_std + u_mean (m/s); likewise v.
    pub u_mean: f64,
    pub u_std: f64,
    pub v_mean: f64,
    pub v_std: f64,
    /// Standard deviation of the wind speed (m/s).
    pub speed_std: f64,
}

/// ε of the speed, m/s.
pub const SPEED_EPSILON: f64 = 1e-6;

/// Physical wind speed and direction unit vector of a normalised (u, v).
pub fn speed_and_direction(
    u_norm: &Tensor,
    v_norm: &Tensor,
    p: &WindPair,
) -> (Tensor, Tensor, Tensor) {
    let u = u_norm * p.u_std + p.u_mean;
    let v = v_norm * p.v_std + p.v_mean;
    let s = (&u * &u + &v * &v + SPEED_EPSILON * SPEED_EPSILON).sqrt();
    (u / &s, v / &s, s)
}

/// `(direction MSE, speed MSE)` per pair, `[P]` each, for `pred`, `target`
/// (normalised) `[batch, C, nlat, nlon]` with area weights `w` `[nlat]`
/// on a lat-lon grid, or `[batch, C, npoints]` with `w` `[npoints]` on a
/// Gaussian grid. Speed and direction are pointwise, so the grid enters
/// only through the weighted mean.
pub fn wind_terms(
    pred: &Tensor,
    target: &Tensor,
    w: &Tensor,
    pairs: &[WindPair],
) -> Result<(Tensor, Tensor)> {
    check_weighted_pair(pred, target, w)?;
    let channels = target.size()[1];
    for p in pairs {
        for (name, c) in [("u", p.u_channel), ("v", p.v_channel)] {
            if !(0..channels).contains(&c) {
                return Err(LossError::Config {
                    field: format!("wind pair {name} channel"),
                    value: c.to_string(),
                    expected: format!("a channel index < {channels}"),
                });
            }
        }
    }
    let mut dir = Vec::new();
    let mut spd = Vec::new();
    for p in pairs {
        let take = |t: &Tensor, c: i64| t.narrow(1, c, 1);
        let (pu, pv, ps) =
            speed_and_direction(&take(pred, p.u_channel), &take(pred, p.v_channel), p);
        let (tu, tv, ts) =
            speed_and_direction(&take(target, p.u_channel), &take(target, p.v_channel), p);
        let d = ((pu - tu).square() + (pv - tv).square()) * 0.5;
        dir.push(weighted_channel_mean(&d, w));
        spd.push(weighted_channel_mean(
            &((ps - ts) / p.speed_std).square(),
            w,
        ));
    }
    let kind = target.kind();
    let empty = || Tensor::zeros([0], (kind, target.device()));
    let cat = |v: Vec<Tensor>| {
        if v.is_empty() {
            empty()
        } else {
            Tensor::cat(&v, 0)
        }
    };
    Ok((cat(dir), cat(spd)))
}

/// Sum over pairs of `pair_weight · (direction + λ_speed · speed)`.
pub fn combine(
    direction: &Tensor,
    speed: &Tensor,
    pair_weights: &Tensor,
    lambda_speed: f64,
) -> Tensor {
    ((direction + speed * lambda_speed) * pair_weights).sum(None::<Kind>)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    const OPTS: (Kind, Device) = (Kind::Double, Device::Cpu);

    fn pair() -> WindPair {
        WindPair {
            u_channel: 0,
            v_channel: 1,
            u_mean: 1.0,
            u_std: 5.0,
            v_mean: -0.5,
            v_std: 4.0,
            speed_std: 6.0,
        }
    }

    /// normalised (u, v) for physical components
    fn norm(u: f64, v: f64) -> Tensor {
        let p = pair();
        let uu = Tensor::full([1, 1, 3, 4], (u - p.u_mean) / p.u_std, OPTS);
        let vv = Tensor::full([1, 1, 3, 4], (v - p.v_mean) / p.v_std, OPTS);
        Tensor::cat(&[uu, vv], 1)
    }

    fn terms(a: &Tensor, b: &Tensor) -> (f64, f64) {
        let w = Tensor::ones([3], OPTS);
        let (d, s) = wind_terms(a, b, &w, &[pair()]).unwrap();
        (
            f64::try_from(d.sum(Kind::Double)).unwrap(),
            f64::try_from(s.sum(Kind::Double)).unwrap(),
        )
    }

    #[test]
    fn speed_and_direction_round_trip_to_u_and_v() {
        let x = norm(3.0, -4.0);
        let (du, dv, s) = speed_and_direction(&x.narrow(1, 0, 1), &x.narrow(1, 1, 1), &pair());
        let u = f64::try_from((du * &s).mean(Kind::Double)).unwrap();
        let v = f64::try_from((dv * &s).mean(Kind::Double)).unwrap();
        assert!((u - 3.0).abs() < 1e-9 && (v + 4.0).abs() < 1e-9);
        assert!((f64::try_from(s.mean(Kind::Double)).unwrap() - 5.0).abs() < 1e-9);
    }

    #[test]
    fn right_direction_wrong_speed_and_right_speed_wrong_direction() {
        let truth = norm(3.0, 4.0);
        let (d, s) = terms(&norm(6.0, 8.0), &truth); // same direction, double speed
        assert!(
            d < 1e-15 && (s - (5.0f64 / 6.0).powi(2)).abs() < 1e-9,
            "{d} {s}"
        );
        let (d, s) = terms(&norm(-4.0, 3.0), &truth); // rotated 90°, same speed
        assert!(s < 1e-15 && (d - 1.0).abs() < 1e-9, "{d} {s}"); // |Δ|² = 2, halved
        let (d, s) = terms(&truth, &truth);
        assert!(d == 0.0 && s == 0.0);
        let c = combine(
            &Tensor::from_slice(&[0.5f64]),
            &Tensor::from_slice(&[0.1f64]),
            &Tensor::from_slice(&[2.0f64]),
            5.0,
        );
        assert!((f64::try_from(c).unwrap() - 2.0).abs() < 1e-12);
    }
}
