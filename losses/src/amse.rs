//! The MSH / AMSE spectral loss (Subich et al. 2025, arXiv 2501.19374,
//! "Fixing the double penalty in data-driven weather forecasting through a
//! modified spherical harmonic loss function"; used by FastNet).
//!
//! Per channel and sample, with spherical-harmonic coefficients of the
//! prediction `x̂` and the target `x` ([`crate::sht::TorchSht`]), per total
//! wavenumber `l`:
//!
//! * `P_l(a) = Σ_m |a_lm|²` (all orders −l..l),
//! * `X_l = Σ_m Re(x̂_lm conj(x_lm))`,
//! * `G_l = sqrt(P_l(x̂) P_l(x) + ε)`, `Coh_l = min(1, X_l / G_l)`,
//! * `term_l = (sqrt P_l(x̂) − sqrt P_l(x))² + 2 max(P_l(x̂), P_l(x)) (1 − Coh_l)`
//!   (the amplitude error, then the decorrelation error),
//!
//! and `AMSE = Σ_l γ_l term_l`, the `l = 0` term computed directly as
//! `(x̂_00 − x_00)²`. By Parseval, the same sum with `2 G_l` in place of
//! `2 max(P)` (and `ε = 0`) is `∫ (x̂ − x)² dΩ` on the unit sphere, which
//! AMSE bounds from above; when the spectra are equal the two coincide.

use tch::{Kind, Tensor};

use crate::error::Result;
use crate::sht::{SphericalCoefficients, TorchSht};

/// Wavenumber weights `γ_l`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Gamma {
    /// `γ_l = 1`.
    Uniform,
    /// FastNet's optional `γ_l = max(scale · l^power, 1)` (power √3).
    PowerLaw { scale: f64, power: f64 },
}

impl Gamma {
    /// `[L]` weights for `l = 0..=lmax`.
    pub fn weights(self, lmax: i64) -> Vec<f64> {
        (0..=lmax)
            .map(|l| match self {
                Gamma::Uniform => 1.0,
                Gamma::PowerLaw { scale, power } => (scale * (l as f64).powf(power)).max(1.0),
            })
            .collect()
    }
}

/// The per-wavenumber spectral quantities of a prediction and a target.
pub struct SpectralTerms {
    /// `[batch, C, L]` amplitude term `(√P̂ − √P)²`.
    pub amplitude: Tensor,
    /// `[batch, C, L]` decorrelation term `2 max(P̂, P)(1 − Coh)`.
    pub decorrelation: Tensor,
    /// `[batch, C, L]` `2 G (1 − X/G)` (unclipped), the Parseval counterpart.
    pub parseval_decorrelation: Tensor,
}

fn safe_sqrt(p: &Tensor) -> Tensor {
    // P >= 0; the clamp only keeps the gradient finite for exactly-zero power.
    p.clamp_min(1e-30).sqrt()
}

/// Computes the AMSE terms for `pred`, `target` `[batch, C, nlat, nlon]`.
pub fn spectral_terms(
    sht: &TorchSht,
    pred: &Tensor,
    target: &Tensor,
    epsilon: f64,
) -> Result<SpectralTerms> {
    let cp = sht.forward(pred)?;
    let ct = sht.forward(target)?;
    Ok(terms_from_coefficients(sht, &cp, &ct, epsilon))
}

fn terms_from_coefficients(
    sht: &TorchSht,
    cp: &SphericalCoefficients,
    ct: &SphericalCoefficients,
    epsilon: f64,
) -> SpectralTerms {
    let pp = sht.power(cp);
    let pt = sht.power(ct);
    let x = sht.cross(cp, ct);
    let g = (&pp * &pt + epsilon).sqrt();
    let coh = (&x / &g).clamp_max(1.0);
    let amp = (safe_sqrt(&pp) - safe_sqrt(&pt)).square();
    let dec = pp.maximum(&pt) * 2.0 * (1.0 - &coh);
    let parseval = &g * 2.0 - &x * 2.0;
    // l = 0 directly: (x̂_00 − x_00)², no decorrelation part
    let d00 = (cp.re.select(-1, 0).select(-1, 0) - ct.re.select(-1, 0).select(-1, 0)).square(); // [b, c]
    let l = pp.size()[2];
    let keep = Tensor::ones([l], (pp.kind(), pp.device())).index_fill(
        0,
        &Tensor::from_slice(&[0i64]).to_device(pp.device()),
        0.0,
    );
    let first = Tensor::zeros([l], (pp.kind(), pp.device())).index_fill(
        0,
        &Tensor::from_slice(&[0i64]).to_device(pp.device()),
        1.0,
    );
    let amplitude = amp * &keep + d00.unsqueeze(-1) * &first;
    SpectralTerms {
        amplitude,
        decorrelation: dec * &keep,
        parseval_decorrelation: parseval * &keep,
    }
}

/// Per-channel AMSE `[C]`: `Σ_l γ_l term_l`, averaged over the batch.
/// `gamma` is `[L]` ([`Gamma::weights`]) on the same device and kind.
pub fn amse_per_channel(
    sht: &TorchSht,
    pred: &Tensor,
    target: &Tensor,
    epsilon: f64,
    gamma: &Tensor,
) -> Result<Tensor> {
    let t = spectral_terms(sht, pred, target, epsilon)?;
    Ok(((t.amplitude + t.decorrelation) * gamma)
        .sum_dim_intlist(-1, false, None::<Kind>)
        .mean_dim(0, false, None::<Kind>))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastnet_eval::{QuadratureKind, Sht};
    use tch::Device;

    const OPTS: (Kind, Device) = (Kind::Double, Device::Cpu);

    fn setup() -> (Sht, TorchSht) {
        let sht = Sht::new(QuadratureKind::ClenshawCurtis, 17, 32, None).unwrap();
        let ts = TorchSht::new(&sht, Kind::Double, Device::Cpu);
        (sht, ts)
    }

    /// A band-limited random field (exact under the transform) `[1, 1, 17, 32]`.
    fn band_limited(sht: &Sht, seed: i64, damp: f64) -> Tensor {
        tch::manual_seed(seed);
        let lmax = sht.lmax();
        let mut c = fastnet_eval::Coefficients::zeros(lmax);
        let r: Vec<f64> =
            Vec::try_from(Tensor::randn([(2 * (lmax + 1) * (lmax + 1)) as i64], OPTS)).unwrap();
        for m in 0..=lmax {
            for l in m..=lmax {
                let k = 2 * (l * (lmax + 1) + m);
                let a = (-(damp * l as f64).powi(2)).exp() / (1.0 + l as f64);
                c.set(
                    l,
                    m,
                    num_complex::Complex64::new(a * r[k], if m == 0 { 0.0 } else { a * r[k + 1] }),
                );
            }
        }
        let f = sht.inverse(&c);
        Tensor::from_slice(f.as_slice().unwrap()).view([1, 1, 17, 32])
    }

    fn sum(t: &Tensor) -> f64 {
        f64::try_from(t.sum(Kind::Double)).unwrap()
    }

    fn integral_sq(sht: &Sht, a: &Tensor, b: &Tensor) -> f64 {
        let d: Vec<f64> = Vec::try_from((a - b).flatten(0, -1)).unwrap();
        let d = ndarray::Array2::from_shape_vec((17, 32), d).unwrap();
        sht.integrate_product(d.view(), d.view())
    }

    #[test]
    fn zero_when_prediction_equals_target() {
        let (sht, ts) = setup();
        let x = band_limited(&sht, 1, 0.0);
        let g = Tensor::ones([ts.lmax() + 1], OPTS);
        let v = sum(&amse_per_channel(&ts, &x, &x, 0.0, &g).unwrap());
        assert!(v.abs() < 1e-12, "{v}");
    }

    #[test]
    fn parseval_identity_and_the_amse_bound() {
        let (sht, ts) = setup();
        let x = band_limited(&sht, 2, 0.0);
        let y = band_limited(&sht, 3, 0.05);
        let t = spectral_terms(&ts, &y, &x, 0.0).unwrap();
        let parseval = sum(&t.amplitude) + sum(&t.parseval_decorrelation);
        let direct = integral_sq(&sht, &y, &x);
        assert!(
            (parseval - direct).abs() < 1e-10 * direct,
            "{parseval} vs {direct}"
        );
        let amse = sum(&t.amplitude) + sum(&t.decorrelation);
        assert!(
            amse >= direct - 1e-12,
            "AMSE {amse} < squared error {direct}"
        );
    }

    #[test]
    fn equal_spectra_give_the_squared_error() {
        // A longitude shift keeps every P_l: AMSE = ∫(x̂ − x)² exactly.
        let (sht, ts) = setup();
        let x = band_limited(&sht, 4, 0.0);
        let shifted = x.roll([5i64].as_slice(), [3i64].as_slice());
        let amse =
            sum(
                &amse_per_channel(&ts, &shifted, &x, 0.0, &Tensor::ones([ts.lmax() + 1], OPTS))
                    .unwrap(),
            );
        let direct = integral_sq(&sht, &shifted, &x);
        assert!((amse - direct).abs() < 1e-10 * direct, "{amse} vs {direct}");
    }

    #[test]
    fn smoothing_is_penalised_more_by_amse_than_by_mse() {
        // The paper's effect in miniature. A forecast that is displaced (the
        // small scales decorrelate) and smoothed — what MSE training produces
        // — against the same displaced forecast kept sharp: MSE prefers the
        // smoothed one (the double penalty), AMSE much less so. A purely
        // smoothed but in-phase copy would cost the same under both (Coh = 1).
        let (sht, ts) = setup();
        let x = band_limited(&sht, 5, 0.0);
        let shifted = x.roll([2i64].as_slice(), [3i64].as_slice());
        let cx = ts.forward(&shifted).unwrap();
        let damp: Vec<f64> = (0..=ts.lmax())
            .map(|l| (-(l as f64 / 4.0).powi(2)).exp())
            .collect();
        let damp = Tensor::from_slice(&damp).view([1, 1, -1, 1]);
        let smooth_c = crate::sht::SphericalCoefficients {
            re: &cx.re * &damp,
            im: &cx.im * &damp,
        };
        // back to grid through the eval crate's inverse
        let n = (ts.lmax() + 1) as usize;
        let (re, im): (Vec<f64>, Vec<f64>) = (
            Vec::try_from(smooth_c.re.flatten(0, -1)).unwrap(),
            Vec::try_from(smooth_c.im.flatten(0, -1)).unwrap(),
        );
        let mut c = fastnet_eval::Coefficients::zeros(n - 1);
        for m in 0..n {
            for l in m..n {
                c.set(
                    l,
                    m,
                    num_complex::Complex64::new(re[l * n + m], im[l * n + m]),
                );
            }
        }
        let smooth = Tensor::from_slice(sht.inverse(&c).as_slice().unwrap()).view([1, 1, 17, 32]);
        let g = Tensor::ones([ts.lmax() + 1], OPTS);
        let amse = |p: &Tensor| sum(&amse_per_channel(&ts, p, &x, 1e-12, &g).unwrap());
        let mse = |p: &Tensor| integral_sq(&sht, p, &x);
        let (amse_ratio, mse_ratio) =
            (amse(&smooth) / amse(&shifted), mse(&smooth) / mse(&shifted));
        assert!(
            mse_ratio < 1.0,
            "MSE prefers the smoothed forecast: {mse_ratio}"
        );
        assert!(
            amse_ratio > 1.2 * mse_ratio,
            "AMSE ratio {amse_ratio}, MSE ratio {mse_ratio}"
        );
    }

    #[test]
    fn finite_difference_gradient_check() {
        let (sht, ts) = setup();
        let x = band_limited(&sht, 6, 0.0);
        let y = band_limited(&sht, 7, 0.1).set_requires_grad(true);
        let gamma = Tensor::from_slice(
            &Gamma::PowerLaw {
                scale: 0.5,
                power: 3f64.sqrt(),
            }
            .weights(ts.lmax()),
        );
        let loss = amse_per_channel(&ts, &y, &x, 1e-12, &gamma)
            .unwrap()
            .sum(Kind::Double);
        loss.backward();
        let grad = y.grad();
        let h = 1e-6;
        for &(i, j) in &[(0i64, 0i64), (3, 7), (8, 16), (12, 30), (16, 5)] {
            let bump = |s: f64| {
                let z = y.detach().copy();
                let _ = z
                    .get(0)
                    .get(0)
                    .get(i)
                    .get(j)
                    .fill_(f64::try_from(y.get(0).get(0).get(i).get(j)).unwrap() + s);
                sum(&amse_per_channel(&ts, &z, &x, 1e-12, &gamma).unwrap())
            };
            let fd = (bump(h) - bump(-h)) / (2.0 * h);
            let an = f64::try_from(grad.get(0).get(0).get(i).get(j)).unwrap();
            assert!(
                (fd - an).abs() < 1e-6 * (1.0 + an.abs()),
                "({i},{j}): fd {fd} vs autograd {an}"
            );
        }
    }

    #[test]
    fn gamma_power_law() {
        let g = Gamma::PowerLaw {
            scale: 0.1,
            power: 3f64.sqrt(),
        }
        .weights(20);
        assert_eq!(g[0], 1.0);
        assert!((g[20] - 0.1 * 20f64.powf(3f64.sqrt())).abs() < 1e-12);
        assert_eq!(Gamma::Uniform.weights(3), vec![1.0; 4]);
    }
}
