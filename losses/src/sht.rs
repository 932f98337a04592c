//! A differentiable spherical-harmonic transform on tch tensors, built from
//! the eval crate's Legendre tables so the two transforms agree.
//!
//! `c_lm = Σ_j w_j P̂_l^m(cos θ_j) G_m(θ_j)`, `G_m = (2π/nlon) rfft(f)_m`:
//! an rfft along longitude and one contraction with the table
//! `T[m, l, j] = w_j P̂_l^m(cos θ_j)` (zero for `l < m`). Same convention as
//! [`fastnet_eval::sht`]: `P_l = |c_l0|² + 2 Σ_{m>0} |c_lm|²`.

use fastnet_eval::sht::{tri_index, Sht};
use tch::{Device, Kind, Tensor};

use crate::error::{check_bcyx, Result};

/// Spherical-harmonic coefficients as two real tensors `[batch, channels,
/// L, M]` (`L = M = lmax + 1`; entries with `l < m` are zero).
pub struct SphericalCoefficients {
    pub re: Tensor,
    pub im: Tensor,
}

/// The transform for one grid, on one device, in one float kind.
pub struct TorchSht {
    nlat: i64,
    nlon: i64,
    lmax: i64,
    /// `[M, L, nlat]` quadrature-weighted Legendre table.
    table: Tensor,
    /// `[M]`: 1 for m = 0, 2 otherwise (power-spectrum multiplicity).
    m_factor: Tensor,
}

impl TorchSht {
    /// Builds the tensor table from an eval-crate transform.
    pub fn new(sht: &Sht, kind: Kind, device: Device) -> Self {
        let [nlat, nlon] = sht.shape();
        let lmax = sht.lmax();
        let n = lmax + 1;
        let w = &sht.quadrature().weights;
        let mut t = vec![0.0f64; n * n * nlat];
        for m in 0..=lmax {
            for l in m..=lmax {
                let _ = tri_index(lmax, l, m);
                for j in 0..nlat {
                    t[(m * n + l) * nlat + j] = w[j] * sht.legendre(l, m, j);
                }
            }
        }
        let table = Tensor::from_slice(&t)
            .view([n as i64, n as i64, nlat as i64])
            .to_kind(kind)
            .to_device(device);
        let mf: Vec<f64> = (0..n).map(|m| if m == 0 { 1.0 } else { 2.0 }).collect();
        let m_factor = Tensor::from_slice(&mf).to_kind(kind).to_device(device);
        TorchSht {
            nlat: nlat as i64,
            nlon: nlon as i64,
            lmax: lmax as i64,
            table,
            m_factor,
        }
    }

    pub fn lmax(&self) -> i64 {
        self.lmax
    }

    pub fn shape(&self) -> [i64; 2] {
        [self.nlat, self.nlon]
    }

    /// Forward transform of `x` `[batch, channels, nlat, nlon]`.
    pub fn forward(&self, x: &Tensor) -> Result<SphericalCoefficients> {
        check_bcyx(
            "field for the spherical-harmonic transform",
            x,
            None,
            self.nlat,
            self.nlon,
        )?;
        let scale = 2.0 * std::f64::consts::PI / self.nlon as f64;
        let spec = x
            .fft_rfft(None, -1, "backward")
            .narrow(-1, 0, self.lmax + 1);
        let ri = spec.view_as_real() * scale; // [b, c, j, m, 2]
        let re = Tensor::einsum(
            "mlj,bcjm->bclm",
            &[&self.table, &ri.select(-1, 0)],
            None::<i64>,
        );
        let im = Tensor::einsum(
            "mlj,bcjm->bclm",
            &[&self.table, &ri.select(-1, 1)],
            None::<i64>,
        );
        Ok(SphericalCoefficients { re, im })
    }

    /// Power per total wavenumber `[batch, channels, L]`.
    pub fn power(&self, c: &SphericalCoefficients) -> Tensor {
        ((&c.re * &c.re + &c.im * &c.im) * &self.m_factor).sum_dim_intlist(-1, false, None::<Kind>)
    }

    /// Cross spectrum `X_l = Σ_m factor_m Re(â_lm conj(a_lm))`, `[b, c, L]`.
    pub fn cross(&self, a: &SphericalCoefficients, b: &SphericalCoefficients) -> Tensor {
        ((&a.re * &b.re + &a.im * &b.im) * &self.m_factor).sum_dim_intlist(-1, false, None::<Kind>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastnet_eval::QuadratureKind;
    use ndarray::Array2;

    #[test]
    fn matches_the_eval_transform_to_1e5_in_f32() {
        let sht = Sht::new(QuadratureKind::ClenshawCurtis, 33, 64, None).unwrap();
        let ts = TorchSht::new(&sht, Kind::Float, Device::Cpu);
        let f = Array2::from_shape_fn((33, 64), |(i, j)| {
            ((i * 7 + j * 3) as f64 * 0.37).sin() + 0.01 * (i * j) as f64
        });
        let want = sht.forward(f.view()).unwrap();
        let x = Tensor::from_slice(f.as_slice().unwrap())
            .view([1, 1, 33, 64])
            .to_kind(Kind::Float);
        let c = ts.forward(&x).unwrap();
        let (re, im): (Vec<f32>, Vec<f32>) = (
            Vec::try_from(c.re.flatten(0, -1)).unwrap(),
            Vec::try_from(c.im.flatten(0, -1)).unwrap(),
        );
        let n = sht.lmax() + 1;
        let scale = want.data.iter().map(|z| z.norm()).fold(0.0, f64::max);
        for m in 0..n {
            for l in m..n {
                let w = want.get(l, m);
                let (gr, gi) = (re[l * n + m] as f64, im[l * n + m] as f64);
                assert!(
                    (gr - w.re).abs() < 1e-5 * scale && (gi - w.im).abs() < 1e-5 * scale,
                    "c_{l}{m}: ({gr}, {gi}) vs {w}"
                );
            }
        }
        // and the power spectrum
        let p: Vec<f32> = Vec::try_from(ts.power(&c).flatten(0, -1)).unwrap();
        for (a, b) in p.iter().zip(want.power_spectrum()) {
            assert!((*a as f64 - b).abs() < 1e-5 * scale * scale);
        }
    }

    #[test]
    fn wrong_shapes_are_refused() {
        let sht = Sht::new(QuadratureKind::ClenshawCurtis, 9, 16, None).unwrap();
        let ts = TorchSht::new(&sht, Kind::Float, Device::Cpu);
        let e = ts
            .forward(&Tensor::zeros([2, 9, 16], (Kind::Float, Device::Cpu)))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("[2, 9, 16]") && e.contains("[batch, channels, 9, 16]"),
            "{e}"
        );
    }
}
