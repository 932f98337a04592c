//! Spectral operators on a Gaussian grid for the shallow-water model:
//! scalar analysis and synthesis, the spectral divergence and curl of a
//! vector field, and winds from stream function and velocity potential
//! (the spectral transform method of Hack & Jakob 1992, NCAR/TN-343).
//!
//! Conventions follow [`fastnet_eval::sht`]: orthonormal `P̂_l^m`,
//! `c_lm = ∫ f P̂_l^m e^{−imλ} dΩ`, `f = Σ_l [c_l0 P̂_l^0 + 2 Re Σ_{m>0} c_lm P̂_l^m e^{imλ}]`.
//! With `μ = sin φ`, `H_l^m = (1 − μ²) dP̂_l^m/dμ = sqrt((2l+1)(l²−m²)/(2l−1)) P̂_{l−1}^m − l μ P̂_l^m`.
//! For `U = A cos φ`, `V = B cos φ` (A east, B north):
//! `div_lm = (1/a) ∫ [i m U_m P̂ − V_m H] / (1 − μ²) dμ`,
//! `curl_lm = (1/a) ∫ [i m V_m P̂ + U_m H] / (1 − μ²) dμ` (integration by
//! parts; no pole singularity on a Gaussian grid).

use std::sync::Arc;

use num_complex::Complex64;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use fastnet_eval::legendre::{tri_index, tri_len, LegendreRecurrence};
use fastnet_eval::quadrature::gauss_legendre;

/// Spectral coefficients in [`tri_index`] layout.
pub type Spec = Vec<Complex64>;

/// Gaussian-grid spectral operators at triangular truncation `lmax`.
pub struct Spectral {
    pub nlat: usize,
    pub nlon: usize,
    pub lmax: usize,
    /// Earth radius (m).
    pub radius: f64,
    /// `[nlat]` μ = sin φ, north to south.
    pub mu: Vec<f64>,
    /// `[nlat]` Gauss weights over μ.
    pub weights: Vec<f64>,
    /// `[tri, nlat]` P̂ and H.
    p: Vec<f64>,
    h: Vec<f64>,
    fwd: Arc<dyn RealToComplex<f64>>,
    inv: Arc<dyn ComplexToReal<f64>>,
}

/// Fourier coefficients `[nlat][lmax + 1]`.
pub type Fourier = Vec<Vec<Complex64>>;

impl Spectral {
    /// `nlat` Gaussian latitudes, `nlon` longitudes, truncation `lmax`
    /// (alias-free for quadratic terms when `nlat >= (3 lmax + 1)/2`).
    pub fn new(nlat: usize, nlon: usize, lmax: usize, radius: f64) -> Spectral {
        let q = gauss_legendre(nlat);
        let mu: Vec<f64> = q.colatitudes.iter().map(|t| t.cos()).collect();
        let rec = LegendreRecurrence::new(lmax + 1);
        let ntri = tri_len(lmax);
        let (mut p, mut h) = (vec![0.0; ntri * nlat], vec![0.0; ntri * nlat]);
        let mut col = vec![0.0; tri_len(lmax + 1)];
        for (j, &theta) in q.colatitudes.iter().enumerate() {
            rec.evaluate(theta, &mut col);
            let x = mu[j];
            for m in 0..=lmax {
                for l in m..=lmax {
                    let i = tri_index(lmax, l, m);
                    let pl = col[tri_index(lmax + 1, l, m)];
                    let prev = if l > m {
                        col[tri_index(lmax + 1, l - 1, m)]
                    } else {
                        0.0
                    };
                    let c = if l == 0 {
                        0.0
                    } else {
                        (((2 * l + 1) * (l * l - m * m)) as f64 / (2 * l - 1) as f64).sqrt()
                    };
                    p[i * nlat + j] = pl;
                    h[i * nlat + j] = c * prev - l as f64 * x * pl;
                }
            }
        }
        let mut planner = RealFftPlanner::<f64>::new();
        Spectral {
            nlat,
            nlon,
            lmax,
            radius,
            mu,
            weights: q.weights,
            p,
            h,
            fwd: planner.plan_fft_forward(nlon),
            inv: planner.plan_fft_inverse(nlon),
        }
    }

    /// Fourier analysis of each ring: `(2π/nlon) rfft`, m <= lmax.
    pub fn fourier(&self, grid: &[f64]) -> Fourier {
        let scale = 2.0 * std::f64::consts::PI / self.nlon as f64;
        let mut input = self.fwd.make_input_vec();
        let mut out = self.fwd.make_output_vec();
        grid.chunks(self.nlon)
            .map(|row| {
                input.copy_from_slice(row);
                self.fwd.process(&mut input, &mut out).expect("plan sizes");
                out[..=self.lmax].iter().map(|c| c * scale).collect()
            })
            .collect()
    }

    /// Inverse of [`Spectral::fourier`] with the real-field convention:
    /// `f = F_0 + 2 Re Σ_{m>0} F_m e^{imλ}`.
    pub fn unfourier(&self, f: &Fourier) -> Vec<f64> {
        let mut spec = self.inv.make_input_vec();
        let mut out = self.inv.make_output_vec();
        let mut grid = Vec::with_capacity(self.nlat * self.nlon);
        for row in f {
            spec.iter_mut().for_each(|s| *s = Complex64::new(0.0, 0.0));
            spec[..row.len()].copy_from_slice(row);
            spec[0].im = 0.0;
            self.inv.process(&mut spec, &mut out).expect("plan sizes");
            grid.extend_from_slice(&out);
        }
        grid
    }

    fn p(&self, l: usize, m: usize, j: usize) -> f64 {
        self.p[tri_index(self.lmax, l, m) * self.nlat + j]
    }

    fn h(&self, l: usize, m: usize, j: usize) -> f64 {
        self.h[tri_index(self.lmax, l, m) * self.nlat + j]
    }

    /// Scalar analysis `grid [nlat * nlon] -> spec`.
    pub fn analysis(&self, grid: &[f64]) -> Spec {
        let f = self.fourier(grid);
        let mut c = vec![Complex64::new(0.0, 0.0); tri_len(self.lmax)];
        for m in 0..=self.lmax {
            for l in m..=self.lmax {
                c[tri_index(self.lmax, l, m)] = (0..self.nlat)
                    .map(|j| f[j][m] * (self.weights[j] * self.p(l, m, j)))
                    .sum();
            }
        }
        c
    }

    /// Scalar synthesis with basis `P̂` (or `H` when `use_h`), each
    /// coefficient first multiplied by `factor(l, m)`.
    fn synth_with(
        &self,
        c: &Spec,
        use_h: bool,
        factor: &dyn Fn(usize, usize) -> Complex64,
    ) -> Vec<f64> {
        let mut f: Fourier = vec![vec![Complex64::new(0.0, 0.0); self.lmax + 1]; self.nlat];
        for m in 0..=self.lmax {
            for l in m..=self.lmax {
                let a = c[tri_index(self.lmax, l, m)] * factor(l, m);
                if a == Complex64::new(0.0, 0.0) {
                    continue;
                }
                for (j, row) in f.iter_mut().enumerate() {
                    row[m] += a * if use_h {
                        self.h(l, m, j)
                    } else {
                        self.p(l, m, j)
                    };
                }
            }
        }
        self.unfourier(&f)
    }

    pub fn synthesis(&self, c: &Spec) -> Vec<f64> {
        self.synth_with(c, false, &|_, _| Complex64::new(1.0, 0.0))
    }

    /// `∂f/∂λ` on the grid.
    pub fn d_lambda(&self, c: &Spec) -> Vec<f64> {
        self.synth_with(c, false, &|_, m| Complex64::new(0.0, m as f64))
    }

    /// `(1 − μ²) ∂f/∂μ = cos φ ∂f/∂φ` on the grid.
    pub fn cos_d_phi(&self, c: &Spec) -> Vec<f64> {
        self.synth_with(c, true, &|_, _| Complex64::new(1.0, 0.0))
    }

    /// Spectral divergence and curl of the vector field with
    /// `U = A cos φ`, `V = B cos φ` given on the grid.
    pub fn div_curl(&self, u_cos: &[f64], v_cos: &[f64]) -> (Spec, Spec) {
        let (fu, fv) = (self.fourier(u_cos), self.fourier(v_cos));
        let n = tri_len(self.lmax);
        let (mut div, mut curl) = (
            vec![Complex64::new(0.0, 0.0); n],
            vec![Complex64::new(0.0, 0.0); n],
        );
        let a = self.radius;
        for m in 0..=self.lmax {
            let im = Complex64::new(0.0, m as f64);
            for l in m..=self.lmax {
                let (mut d, mut c) = (Complex64::new(0.0, 0.0), Complex64::new(0.0, 0.0));
                for j in 0..self.nlat {
                    let w = self.weights[j] / (1.0 - self.mu[j] * self.mu[j]);
                    let (p, h) = (self.p(l, m, j), self.h(l, m, j));
                    d += (im * fu[j][m] * p - fv[j][m] * h) * w;
                    c += (im * fv[j][m] * p + fu[j][m] * h) * w;
                }
                let i = tri_index(self.lmax, l, m);
                div[i] = d / a;
                curl[i] = c / a;
            }
        }
        (div, curl)
    }

    /// `U = u cos φ` and `V = v cos φ` from stream function `ψ` and velocity
    /// potential `χ`: `U = (1/a)(−H ψ + ∂χ/∂λ)`, `V = (1/a)(∂ψ/∂λ + H χ)`.
    pub fn winds(&self, psi: &Spec, chi: &Spec) -> (Vec<f64>, Vec<f64>) {
        let a = self.radius;
        let dpsi_h = self.cos_d_phi(psi);
        let dchi_h = self.cos_d_phi(chi);
        let dpsi_l = self.d_lambda(psi);
        let dchi_l = self.d_lambda(chi);
        let u: Vec<f64> = dpsi_h
            .iter()
            .zip(&dchi_l)
            .map(|(h, l)| (-h + l) / a)
            .collect();
        let v: Vec<f64> = dpsi_l
            .iter()
            .zip(&dchi_h)
            .map(|(l, h)| (l + h) / a)
            .collect();
        (u, v)
    }

    /// `−l(l+1)/a²` (the Laplacian's eigenvalue).
    pub fn laplacian(&self, l: usize) -> f64 {
        -((l * (l + 1)) as f64) / (self.radius * self.radius)
    }

    /// Inverse Laplacian (zero for l = 0).
    pub fn inv_laplacian(&self, c: &Spec) -> Spec {
        let mut out = c.clone();
        for m in 0..=self.lmax {
            for l in m..=self.lmax {
                let i = tri_index(self.lmax, l, m);
                out[i] = if l == 0 {
                    Complex64::new(0.0, 0.0)
                } else {
                    c[i] / self.laplacian(l)
                };
            }
        }
        out
    }

    /// `cos²φ` per grid point (row-constant), `[nlat * nlon]`.
    pub fn cos2(&self) -> Vec<f64> {
        self.mu
            .iter()
            .flat_map(|&m| std::iter::repeat_n(1.0 - m * m, self.nlon))
            .collect()
    }

    /// Latitudes in degrees, north to south.
    pub fn latitudes_deg(&self) -> Vec<f64> {
        self.mu.iter().map(|m| m.asin().to_degrees()).collect()
    }
}
