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
//!
//! Fields are `[batch, C, nlat, nlon]` on lat-lon grids and
//! `[batch, C, npoints]` on reduced Gaussian grids (O96), whichever the
//! [`TorchSht`] was built for; on a Gaussian grid the Parseval form equals
//! the grid's Gauss–Legendre quadrature of `(x̂ − x)²` for fields
//! band-limited to the transform's `lmax`.

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

/// Computes the AMSE terms for `pred`, `target`: `[batch, C, nlat, nlon]`
/// on a lat-lon grid, `[batch, C, npoints]` on a reduced Gaussian grid.
/// Both go through one transform (stacked along the batch), so the
/// per-ring FFTs of a reduced grid run once.
pub fn spectral_terms(
    sht: &TorchSht,
    pred: &Tensor,
    target: &Tensor,
    epsilon: f64,
) -> Result<SpectralTerms> {
    crate::error::check_field("target", target, None, &sht.field_shape())?;
    if pred.size() != target.size() {
        return Err(crate::error::LossError::Shape {
            what: "prediction".into(),
            got: pred.size(),
            expected: format!("{:?} (the shape of the target)", target.size()),
        });
    }
    let b = pred.size()[0];
    let both = sht.forward(&Tensor::cat(&[pred, target], 0))?;
    let part = |t: &Tensor, start: i64| t.narrow(0, start, b);
    let cp = SphericalCoefficients {
        re: part(&both.re, 0),
        im: part(&both.im, 0),
    };
    let ct = SphericalCoefficients {
        re: part(&both.re, b),
        im: part(&both.im, b),
    };
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

/// Per-channel AMSE `[C]`: `Σ_l γ_l term_l`, averaged over the batch, of
/// `pred`, `target` `[batch, C, *grid]` (the grid of `sht`: `[nlat, nlon]`
/// or `[npoints]`). `gamma` is `[L]` ([`Gamma::weights`]) on the same
/// device and kind.
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
    use std::sync::Arc;

    use fastnet_eval::{Coefficients, GridSht, QuadratureKind, Sht};
    use fastnet_mesh::Grid;
    use num_complex::Complex64;
    use tch::Device;

    const OPTS: (Kind, Device) = (Kind::Double, Device::Cpu);

    /// A grid and its two transforms: the eval crate's (f64, the
    /// reference) and the differentiable one.
    struct Case {
        name: &'static str,
        eval: GridSht,
        ts: TorchSht,
        shape: Vec<i64>,
    }

    /// A 17 x 32 Clenshaw–Curtis lat-lon grid (lmax 8) and the octahedral
    /// O16 grid (lmax 15): every property below holds on both.
    fn cases() -> Vec<Case> {
        let ll = Arc::new(Sht::new(QuadratureKind::ClenshawCurtis, 17, 32, None).unwrap());
        let o16 = Grid::octahedral(16).unwrap();
        vec![
            Case {
                name: "lat-lon 17x32",
                ts: TorchSht::new(&ll, Kind::Double, Device::Cpu),
                eval: GridSht::LatLon(ll),
                shape: vec![17, 32],
            },
            Case {
                name: "O16",
                ts: TorchSht::for_grid(&o16, None, Kind::Double, Device::Cpu).unwrap(),
                eval: GridSht::for_grid(&o16, None).unwrap(),
                shape: vec![o16.len() as i64],
            },
        ]
    }

    impl Case {
        fn field(&self, c: &Coefficients) -> Tensor {
            let mut shape = vec![1i64, 1];
            shape.extend(&self.shape);
            Tensor::from_slice(&self.eval.inverse(c)).view(shape.as_slice())
        }

        fn flat(t: &Tensor) -> Vec<f64> {
            Vec::try_from(t.flatten(0, -1)).unwrap()
        }

        /// A band-limited random field (exact under the transform).
        fn band_limited(&self, seed: i64, damp: f64) -> Tensor {
            tch::manual_seed(seed);
            let lmax = self.eval.lmax();
            let mut c = Coefficients::zeros(lmax);
            let r: Vec<f64> =
                Vec::try_from(Tensor::randn([(2 * (lmax + 1) * (lmax + 1)) as i64], OPTS)).unwrap();
            for m in 0..=lmax {
                for l in m..=lmax {
                    let k = 2 * (l * (lmax + 1) + m);
                    let a = (-(damp * l as f64).powi(2)).exp() / (1.0 + l as f64);
                    let im = if m == 0 { 0.0 } else { a * r[k + 1] };
                    c.set(l, m, Complex64::new(a * r[k], im));
                }
            }
            self.field(&c)
        }

        /// `x` rotated eastwards by `alpha` radians (exact for band-limited
        /// fields: `c_lm e^{−imα}`), which keeps every `P_l`.
        fn rotated(&self, x: &Tensor, alpha: f64) -> Tensor {
            let mut c = self.eval.forward(&Self::flat(x)).unwrap();
            for m in 0..=c.lmax {
                for l in m..=c.lmax {
                    let v = c.get(l, m) * Complex64::from_polar(1.0, -(m as f64) * alpha);
                    c.set(l, m, v);
                }
            }
            self.field(&c)
        }

        /// `∫ (a − b)² dΩ` by the grid's own quadrature (the eval crate).
        fn integral_sq(&self, a: &Tensor, b: &Tensor) -> f64 {
            let d = Self::flat(&(a - b));
            match &self.eval {
                GridSht::LatLon(s) => {
                    let [nlat, nlon] = s.shape();
                    let d = ndarray::Array2::from_shape_vec((nlat, nlon), d).unwrap();
                    s.integrate_product(d.view(), d.view())
                }
                GridSht::Reduced(s) => s.integrate_product(&d, &d).unwrap(),
            }
        }

        fn ones(&self) -> Tensor {
            Tensor::ones([self.ts.lmax() + 1], OPTS)
        }
    }

    fn sum(t: &Tensor) -> f64 {
        f64::try_from(t.sum(Kind::Double)).unwrap()
    }

    #[test]
    fn zero_when_prediction_equals_target() {
        for case in cases() {
            let x = case.band_limited(1, 0.0);
            let v = sum(&amse_per_channel(&case.ts, &x, &x, 0.0, &case.ones()).unwrap());
            assert!(v.abs() < 1e-12, "{}: {v}", case.name);
        }
    }

    #[test]
    fn parseval_identity_and_the_amse_bound() {
        // on O16 the quadrature is the grid's Gauss–Legendre rule with each
        // ring's own trapezoid sum
        for case in cases() {
            let x = case.band_limited(2, 0.0);
            let y = case.band_limited(3, 0.05);
            let t = spectral_terms(&case.ts, &y, &x, 0.0).unwrap();
            let parseval = sum(&t.amplitude) + sum(&t.parseval_decorrelation);
            let direct = case.integral_sq(&y, &x);
            eprintln!(
                "{}: Parseval {parseval} vs quadrature {direct}: {:.1e}",
                case.name,
                (parseval - direct).abs() / direct
            );
            assert!(
                (parseval - direct).abs() < 1e-10 * direct,
                "{}: {parseval} vs {direct}",
                case.name
            );
            let amse = sum(&t.amplitude) + sum(&t.decorrelation);
            assert!(
                amse >= direct - 1e-12,
                "{}: AMSE {amse} < squared error {direct}",
                case.name
            );
            // strictly above: y is not x with its spectrum
            assert!(amse > 1.01 * direct, "{}: {amse} vs {direct}", case.name);
        }
    }

    #[test]
    fn equal_spectra_give_the_squared_error() {
        // A longitude rotation keeps every P_l: AMSE = ∫(x̂ − x)² exactly.
        for case in cases() {
            let x = case.band_limited(4, 0.0);
            let shifted = case.rotated(&x, 2.0 * std::f64::consts::PI * 5.0 / 32.0);
            let amse = sum(&amse_per_channel(&case.ts, &shifted, &x, 0.0, &case.ones()).unwrap());
            let direct = case.integral_sq(&shifted, &x);
            assert!(
                (amse - direct).abs() < 1e-10 * direct,
                "{}: {amse} vs {direct}",
                case.name
            );
        }
        // on the lat-lon grid the rotation is a roll of 5 columns
        let case = &cases()[0];
        let x = case.band_limited(4, 0.0);
        let rolled = x.roll([5i64].as_slice(), [3i64].as_slice());
        let d = case.rotated(&x, 2.0 * std::f64::consts::PI * 5.0 / 32.0) - rolled;
        assert!(f64::try_from(d.abs().max()).unwrap() < 1e-12);
    }

    #[test]
    fn smoothing_is_penalised_more_by_amse_than_by_mse() {
        // The paper's effect in miniature. A forecast that is displaced (the
        // small scales decorrelate) and smoothed — what MSE training produces
        // — against the same displaced forecast kept sharp: MSE prefers the
        // smoothed one (the double penalty), AMSE much less so. A purely
        // smoothed but in-phase copy would cost the same under both (Coh = 1).
        for case in cases() {
            let ts = &case.ts;
            let x = case.band_limited(5, 0.0);
            let shifted = case.rotated(&x, 2.0 * std::f64::consts::PI * 2.0 / 32.0);
            let cx = ts.forward(&shifted).unwrap();
            // the damping scale relative to the truncation, as on 17 x 32
            let width = 4.0 * ts.lmax() as f64 / 8.0;
            let damp: Vec<f64> = (0..=ts.lmax())
                .map(|l| (-(l as f64 / width).powi(2)).exp())
                .collect();
            let damp = Tensor::from_slice(&damp).view([1, 1, -1, 1]);
            let (re, im) = (Case::flat(&(&cx.re * &damp)), Case::flat(&(&cx.im * &damp)));
            let n = (ts.lmax() + 1) as usize;
            let mut c = Coefficients::zeros(n - 1);
            for m in 0..n {
                for l in m..n {
                    c.set(l, m, Complex64::new(re[l * n + m], im[l * n + m]));
                }
            }
            let smooth = case.field(&c);
            let g = case.ones();
            let amse = |p: &Tensor| sum(&amse_per_channel(ts, p, &x, 1e-12, &g).unwrap());
            let mse = |p: &Tensor| case.integral_sq(p, &x);
            let (amse_ratio, mse_ratio) =
                (amse(&smooth) / amse(&shifted), mse(&smooth) / mse(&shifted));
            eprintln!(
                "{}: AMSE ratio {amse_ratio:.3}, MSE ratio {mse_ratio:.3}",
                case.name
            );
            assert!(
                mse_ratio < 1.0,
                "{}: MSE prefers the smoothed forecast: {mse_ratio}",
                case.name
            );
            assert!(
                amse_ratio > 1.2 * mse_ratio,
                "{}: AMSE ratio {amse_ratio}, MSE ratio {mse_ratio}",
                case.name
            );
        }
    }

    #[test]
    fn finite_difference_gradient_check() {
        for case in cases() {
            let ts = &case.ts;
            let x = case.band_limited(6, 0.0);
            let y = case.band_limited(7, 0.1).set_requires_grad(true);
            let gamma = Tensor::from_slice(
                &Gamma::PowerLaw {
                    scale: 0.5,
                    power: 3f64.sqrt(),
                }
                .weights(ts.lmax()),
            );
            let loss = amse_per_channel(ts, &y, &x, 1e-12, &gamma)
                .unwrap()
                .sum(Kind::Double);
            loss.backward();
            let grad = y.grad().flatten(0, -1);
            let np: i64 = case.shape.iter().product();
            let h = 1e-6;
            for p in [0i64, 3 * 32 + 7, 8 * 32 + 16, 12 * 32 + 30, np - 1] {
                let bump = |s: f64| {
                    let z = y.detach().copy();
                    let flat = z.view([-1]);
                    let v = f64::try_from(flat.get(p)).unwrap();
                    let _ = flat.get(p).fill_(v + s);
                    sum(&amse_per_channel(ts, &z, &x, 1e-12, &gamma).unwrap())
                };
                let fd = (bump(h) - bump(-h)) / (2.0 * h);
                let an = f64::try_from(grad.get(p)).unwrap();
                assert!(
                    (fd - an).abs() < 1e-6 * (1.0 + an.abs()),
                    "{} point {p}: fd {fd} vs autograd {an}",
                    case.name
                );
            }
        }
    }

    #[test]
    fn mismatched_prediction_is_refused() {
        let case = &cases()[1];
        let x = case.band_limited(1, 0.0);
        let e = spectral_terms(&case.ts, &Tensor::cat(&[&x, &x], 0), &x, 0.0)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("prediction") && e.contains("the shape of the target"),
            "{e}"
        );
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
