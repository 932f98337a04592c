//! Real spherical-harmonic transform (SHT) on latitude-longitude grids:
//! an FFT along each latitude ring, then a Legendre quadrature in latitude.
//!
//! Coefficient convention (orthonormal on the unit sphere, triangular
//! truncation `0 <= m <= l <= lmax`): complex `c_lm` for `m >= 0` with
//!
//! `f(θ, φ) = Σ_l [ c_l0 P̂_l^0(cos θ) + 2 Σ_{m=1}^{l} Re(c_lm e^{imφ}) P̂_l^m(cos θ) ]`,
//!
//! i.e. `c_lm = ∫ f Y_lm* dΩ` for the complex orthonormal harmonics. The
//! real-harmonic coefficients are `a_l0 = c_l0`, `a_lm^cos = √2 Re c_lm`,
//! `a_lm^sin = −√2 Im c_lm`, and the power at total wavenumber `l` is
//! `P_l = |c_l0|² + 2 Σ_{m>0} |c_lm|²`, with `Σ_l P_l = ∫ f² dΩ`
//! (Parseval). Coefficients are stored m-major ([`tri_index`]).
//!
//! Exactness: the forward transform of a field band-limited to `lmax` is
//! exact when the quadrature integrates degree `2·lmax` exactly:
//! Clenshaw–Curtis on `n` rings needs `lmax <= (n−1)/2` (721 rings: 360),
//! Fejér `lmax <= (n−1)/2` (32 rings: 15), Gauss–Legendre `lmax <= n−1`.
//! Those are the defaults (torch-harmonics' `lmax = ceil(nlat/2)` exclusive).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use fastnet_mesh::Grid;
use ndarray::{Array2, ArrayView2, ArrayView3};
use num_complex::Complex64;
use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::error::{EvalError, Result};
use crate::legendre::legendre_table;
pub use crate::legendre::{tri_index, tri_len};
use crate::legendre_stream::LegendreStream;
use crate::quadrature::{Kind, Quadrature};

/// Spherical-harmonic coefficients `c_lm`, `[tri_len(lmax)]` in
/// [`tri_index`] layout (see the module doc for the convention).
#[derive(Clone, Debug, PartialEq)]
pub struct Coefficients {
    pub lmax: usize,
    pub data: Vec<Complex64>,
}

impl Coefficients {
    /// Coefficients from per-order runs `[m][l - m]`, `m = 0..=lmax` (the
    /// storage order of [`tri_index`]).
    pub(crate) fn from_orders(lmax: usize, per_m: Vec<Vec<Complex64>>) -> Self {
        let mut data = Vec::with_capacity(tri_len(lmax));
        for v in per_m {
            data.extend(v);
        }
        Coefficients { lmax, data }
    }

    pub fn zeros(lmax: usize) -> Self {
        Coefficients {
            lmax,
            data: vec![Complex64::new(0.0, 0.0); tri_len(lmax)],
        }
    }

    pub fn get(&self, l: usize, m: usize) -> Complex64 {
        self.data[tri_index(self.lmax, l, m)]
    }

    pub fn set(&mut self, l: usize, m: usize, v: Complex64) {
        let i = tri_index(self.lmax, l, m);
        self.data[i] = v;
    }

    /// Power per total wavenumber, `[lmax + 1]`:
    /// `P_l = |c_l0|² + 2 Σ_{m=1}^{l} |c_lm|²` (units of the field squared;
    /// sums to `∫ f² dΩ` over the unit sphere).
    pub fn power_spectrum(&self) -> Vec<f64> {
        let mut p = vec![0.0; self.lmax + 1];
        for m in 0..=self.lmax {
            let factor = if m == 0 { 1.0 } else { 2.0 };
            for (l, pl) in p.iter_mut().enumerate().skip(m) {
                *pl += factor * self.get(l, m).norm_sqr();
            }
        }
        p
    }
}

/// A planned transform for one grid and truncation: quadrature, FFT plans
/// and the start values of the Legendre recurrences
/// ([`crate::legendre_stream`]). Build once, share (see [`Sht::for_grid`]).
pub struct Sht {
    nlat: usize,
    nlon: usize,
    lmax: usize,
    quadrature: Quadrature,
    /// Rings in the northern half including the equator ring (odd `nlat`).
    nh: usize,
    /// The Legendre stage, recurrences run as the transform goes.
    stream: LegendreStream,
    /// `[tri_len(lmax), nh]` row-major: `P̂_l^m(cos θ_j)` for the northern
    /// rings `j < nh`; the south follows from `P̂_l^m(−x) = (−1)^{l−m} P̂_l^m(x)`.
    /// Built on first use by [`Sht::legendre`] / [`Sht::legendre_table`]
    /// only (the transforms do not need it).
    table: OnceLock<Vec<f64>>,
    fft_forward: Arc<dyn RealToComplex<f64>>,
    fft_inverse: Arc<dyn ComplexToReal<f64>>,
}

impl std::fmt::Debug for Sht {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Sht({:?}, {} x {}, lmax {})",
            self.quadrature.kind, self.nlat, self.nlon, self.lmax
        )
    }
}

type CacheKey = (Kind, usize, usize, usize);

fn cache() -> &'static Mutex<HashMap<CacheKey, Arc<Sht>>> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, Arc<Sht>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

impl Sht {
    /// The default truncation for `nlat` rings of a rule (see module doc).
    pub fn default_lmax(kind: Kind, nlat: usize) -> usize {
        match kind {
            Kind::ClenshawCurtis | Kind::Fejer1 => (nlat.max(1) - 1) / 2,
            Kind::GaussLegendre => nlat.max(1) - 1,
        }
    }

    /// Plans a transform for `nlat` x `nlon` fields, latitudes north to
    /// south on the nodes of `kind`, longitudes `2πk/nlon`.
    /// `lmax = None` takes [`Sht::default_lmax`]. Needs `lmax < nlon/2`.
    pub fn new(kind: Kind, nlat: usize, nlon: usize, lmax: Option<usize>) -> Result<Sht> {
        let bad = |reason: String| EvalError::BadTransform { nlat, nlon, reason };
        let min_lat = if kind == Kind::ClenshawCurtis { 2 } else { 1 };
        if nlat < min_lat || nlon < 2 {
            return Err(bad(format!(
                "need at least {min_lat} latitude rings and 2 longitudes"
            )));
        }
        let lmax = lmax.unwrap_or_else(|| Sht::default_lmax(kind, nlat));
        if 2 * lmax >= nlon {
            return Err(bad(format!(
                "lmax {lmax} needs at least {} longitudes (2·lmax + 1)",
                2 * lmax + 1
            )));
        }
        let quadrature = Quadrature::new(kind, nlat);
        let nh = nlat.div_ceil(2);
        let stream = LegendreStream::new(lmax, &quadrature.colatitudes[..nh], None);
        let mut planner = RealFftPlanner::<f64>::new();
        Ok(Sht {
            nlat,
            nlon,
            lmax,
            nh,
            stream,
            table: OnceLock::new(),
            fft_forward: planner.plan_fft_forward(nlon),
            fft_inverse: planner.plan_fft_inverse(nlon),
            quadrature,
        })
    }

    /// The shared transform for a grid: Clenshaw–Curtis for equiangular
    /// grids with poles, Fejér for grids without; built on first use and
    /// cached by (rule, nlat, nlon, lmax). Gaussian grids (whose fields are
    /// flat `[npoints]`) take [`crate::ReducedSht`]; [`crate::GridSht`]
    /// dispatches between the two.
    pub fn for_grid(grid: &Grid, lmax: Option<usize>) -> Result<Arc<Sht>> {
        let (kind, nlat, nlon) = match grid {
            Grid::Equiangular { nlat, nlon, poles: true } => (Kind::ClenshawCurtis, *nlat, *nlon),
            Grid::Equiangular { nlat, nlon, poles: false } => (Kind::Fejer1, *nlat, *nlon),
            Grid::Gaussian { .. } => {
                return Err(EvalError::Invalid(format!(
                    "Sht is the transform of latitude-longitude grids; {} needs \
                     fastnet_eval::ReducedSht (or GridSht, which picks either)",
                    grid.describe()
                )))
            }
            Grid::Points { .. } => {
                return Err(EvalError::Invalid(
                    "spherical-harmonic transforms need a regular latitude-longitude grid, not a point list".into(),
                ))
            }
        };
        Sht::shared(kind, nlat, nlon, lmax)
    }

    /// Cached [`Sht::new`].
    pub fn shared(kind: Kind, nlat: usize, nlon: usize, lmax: Option<usize>) -> Result<Arc<Sht>> {
        let key = (
            kind,
            nlat,
            nlon,
            lmax.unwrap_or_else(|| Sht::default_lmax(kind, nlat)),
        );
        if let Some(s) = cache()
            .lock()
            .map_err(|_| EvalError::Invalid("SHT cache poisoned".into()))?
            .get(&key)
        {
            return Ok(s.clone());
        }
        let sht = Arc::new(Sht::new(kind, nlat, nlon, Some(key.3))?);
        let mut c = cache()
            .lock()
            .map_err(|_| EvalError::Invalid("SHT cache poisoned".into()))?;
        Ok(c.entry(key).or_insert(sht).clone())
    }

    /// Bytes the plan holds for the Legendre stage and the quadrature (the
    /// FFT plans' twiddles aside; the Legendre table of
    /// [`Sht::legendre_table`] only once asked for).
    pub fn plan_bytes(&self) -> usize {
        let table = self.table.get().map_or(0, |t| 8 * t.len());
        self.stream.bytes()
            + 8 * (self.quadrature.colatitudes.len() + self.quadrature.weights.len())
            + table
    }

    pub fn lmax(&self) -> usize {
        self.lmax
    }

    pub fn shape(&self) -> [usize; 2] {
        [self.nlat, self.nlon]
    }

    pub fn quadrature(&self) -> &Quadrature {
        &self.quadrature
    }

    /// The Legendre table as a plain array, for building other transforms
    /// (e.g. the differentiable one in fastnet-losses): `[tri_len(lmax), nh]`
    /// row-major, `P̂_l^m(cos θ_j)` for the `nh = ceil(nlat/2)` northern
    /// rings; row `tri_index(lmax, l, m)`.
    pub fn legendre_table(&self) -> (&[f64], usize) {
        (self.table(), self.nh)
    }

    fn table(&self) -> &[f64] {
        self.table
            .get_or_init(|| legendre_table(self.lmax, &self.quadrature.colatitudes[..self.nh]))
    }

    /// `P̂_l^m(cos θ_j)` for any ring `j` (north to south), from the table.
    pub fn legendre(&self, l: usize, m: usize, j: usize) -> f64 {
        let row = tri_index(self.lmax, l, m) * self.nh;
        let table = self.table();
        if j < self.nh {
            table[row + j]
        } else {
            let sign = if (l - m).is_multiple_of(2) { 1.0 } else { -1.0 };
            sign * table[row + self.nlat - 1 - j]
        }
    }

    fn check_shape(&self, shape: &[usize]) -> Result<()> {
        if shape != [self.nlat, self.nlon] {
            return Err(EvalError::ShapeMismatch {
                what: "field for the spherical-harmonic transform".into(),
                got: shape.to_vec(),
                expected: vec![self.nlat, self.nlon],
            });
        }
        Ok(())
    }

    /// Forward transform of one field `[nlat, nlon]` (latitude north to
    /// south) to coefficients up to `lmax`.
    pub fn forward(&self, field: ArrayView2<f64>) -> Result<Coefficients> {
        self.check_shape(field.shape())?;
        // 1. G_m(θ_j) = (2π/nlon) Σ_k f_jk e^{−imφ_k}, m <= lmax, per ring;
        // 2. c_lm = Σ_j w_j P̂_l^m(x_j) G_m(θ_j), using equatorial symmetry.
        let scale = 2.0 * std::f64::consts::PI / self.nlon as f64;
        let fft = &self.fft_forward;
        let per_m = self.stream.forward_rings(
            self.nlat,
            &self.quadrature.weights,
            || {
                (
                    fft.make_input_vec(),
                    fft.make_output_vec(),
                    fft.make_scratch_vec(),
                )
            },
            |(input, output, scratch), j, g| {
                let row = field.row(j);
                match row.as_slice() {
                    Some(r) => input.copy_from_slice(r),
                    None => input.iter_mut().zip(row.iter()).for_each(|(x, &v)| *x = v),
                }
                fft.process_with_scratch(input, output, scratch)
                    .expect("buffer sizes come from the plan");
                for (d, s) in g.iter_mut().zip(output.iter()) {
                    *d = s * scale;
                }
            },
        );
        Ok(Coefficients::from_orders(self.lmax, per_m))
    }

    /// Forward transforms of `[n, nlat, nlon]` fields, in parallel.
    pub fn forward_many(&self, fields: ArrayView3<f64>) -> Result<Vec<Coefficients>> {
        self.check_shape(&fields.shape()[1..])?;
        fields
            .outer_iter()
            .into_par_iter()
            .map(|f| self.forward(f))
            .collect()
    }

    /// Inverse transform: coefficients (truncated or zero-padded to this
    /// transform's `lmax`) to a field `[nlat, nlon]`.
    pub fn inverse(&self, coeffs: &Coefficients) -> Array2<f64> {
        // G_m(θ_j) = Σ_l c_lm P̂_l^m(x_j), then an inverse rfft per ring.
        let mut out = Array2::<f64>::zeros((self.nlat, self.nlon));
        let nfreq = self.nlon / 2 + 1;
        let fft = &self.fft_inverse;
        let rows: Vec<&mut [f64]> = out
            .as_slice_mut()
            .expect("standard layout")
            .chunks_mut(self.nlon)
            .collect();
        self.stream.inverse_rings(
            coeffs,
            rows,
            || {
                (
                    vec![Complex64::new(0.0, 0.0); nfreq],
                    fft.make_scratch_vec(),
                )
            },
            |(spec, scratch), _, g, row| {
                spec[..g.len()].copy_from_slice(g);
                spec[g.len()..].fill(Complex64::new(0.0, 0.0));
                spec[0].im = 0.0;
                fft.process_with_scratch(spec, row, scratch)
                    .expect("imaginary parts of DC and Nyquist are zero");
            },
        );
        out
    }

    /// `∫ f g dΩ` by this transform's quadrature: `Σ_j w_j (2π/nlon) Σ_k f g`.
    pub fn integrate_product(&self, f: ArrayView2<f64>, g: ArrayView2<f64>) -> f64 {
        let dphi = 2.0 * std::f64::consts::PI / self.nlon as f64;
        f.outer_iter()
            .zip(g.outer_iter())
            .zip(&self.quadrature.weights)
            .map(|((a, b), w)| w * dphi * a.iter().zip(b.iter()).map(|(x, y)| x * y).sum::<f64>())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    use crate::test_rng::lcg;

    fn random_coefficients(lmax: usize, seed: u64) -> Coefficients {
        let mut r = lcg(seed);
        let mut c = Coefficients::zeros(lmax);
        for m in 0..=lmax {
            for l in m..=lmax {
                let im = if m == 0 { 0.0 } else { r() };
                c.set(l, m, Complex64::new(r(), im));
            }
        }
        c
    }

    fn max_diff(a: &Coefficients, b: &Coefficients) -> f64 {
        a.data
            .iter()
            .zip(&b.data)
            .map(|(x, y)| (x - y).norm())
            .fold(0.0, f64::max)
    }

    #[test]
    fn band_limited_round_trip_is_exact_on_all_three_grids() {
        for (kind, nlat, nlon) in [
            (Kind::ClenshawCurtis, 33, 64),
            (Kind::ClenshawCurtis, 181, 360),
            (Kind::Fejer1, 32, 64),
            (Kind::GaussLegendre, 24, 48),
        ] {
            let sht = Sht::new(kind, nlat, nlon, None).unwrap();
            let c = random_coefficients(sht.lmax(), 3);
            let f = sht.inverse(&c);
            let back = sht.forward(f.view()).unwrap();
            let err = max_diff(&c, &back);
            assert!(
                err < 1e-10,
                "{kind:?} {nlat}x{nlon} lmax {}: {err}",
                sht.lmax()
            );
        }
    }

    #[test]
    fn parseval_power_sums_to_the_integral_of_the_square() {
        let sht = Sht::new(Kind::ClenshawCurtis, 65, 128, None).unwrap();
        let c = random_coefficients(sht.lmax(), 9);
        let f = sht.inverse(&c);
        let total: f64 = c.power_spectrum().iter().sum();
        let integral = sht.integrate_product(f.view(), f.view());
        assert!(
            (total - integral).abs() < 1e-10 * integral,
            "{total} vs {integral}"
        );
    }

    #[test]
    fn a_single_harmonic_lands_in_one_coefficient() {
        // f = √2 P̂_5^3(cos θ) cos(3φ) = Y^cos_53  ->  c_53 = 1/√2, all else 0
        let (nlat, nlon) = (33, 64);
        let sht = Sht::new(Kind::ClenshawCurtis, nlat, nlon, None).unwrap();
        let q = sht.quadrature().clone();
        let f = Array2::from_shape_fn((nlat, nlon), |(j, k)| {
            let th = q.colatitudes[j];
            let phi = 2.0 * PI * k as f64 / nlon as f64;
            // closed form: P̂_5^3 = sqrt(11/4π · 2!/8!) · P_5^3, P_5^3 = (105/2) s³ (9x² − 1) / 1 … without CS phase
            let (s, x) = (th.sin(), th.cos());
            let p53 = 105.0 / 2.0 * s.powi(3) * (9.0 * x * x - 1.0) / 1.0;
            let norm = (11.0 / (4.0 * PI) * 2.0 / 40320.0).sqrt();
            2f64.sqrt() * norm * p53 * (3.0 * phi).cos()
        });
        let c = sht.forward(f.view()).unwrap();
        for m in 0..=sht.lmax() {
            for l in m..=sht.lmax() {
                let want = if (l, m) == (5, 3) {
                    1.0 / 2f64.sqrt()
                } else {
                    0.0
                };
                let got = c.get(l, m);
                assert!(
                    (got.re - want).abs() < 1e-12 && got.im.abs() < 1e-12,
                    "c_{l}{m} = {got}"
                );
            }
        }
        let p = c.power_spectrum();
        assert!((p[5] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_sine_harmonic_gives_a_negative_imaginary_coefficient() {
        // f = √2 P̂_1^1 sin φ = Y^sin_11 -> a^sin = 1 -> c_11 = −i/√2
        let (nlat, nlon) = (17, 32);
        let sht = Sht::new(Kind::Fejer1, nlat, nlon, None).unwrap();
        let q = sht.quadrature().clone();
        let f = Array2::from_shape_fn((nlat, nlon), |(j, k)| {
            let phi = 2.0 * PI * k as f64 / nlon as f64;
            2f64.sqrt() * (3.0 / (8.0 * PI)).sqrt() * q.colatitudes[j].sin() * phi.sin()
        });
        let c = sht.forward(f.view()).unwrap();
        let c11 = c.get(1, 1);
        assert!(
            c11.re.abs() < 1e-13 && (c11.im + 1.0 / 2f64.sqrt()).abs() < 1e-13,
            "{c11}"
        );
    }

    #[test]
    fn shape_and_truncation_errors() {
        let sht = Sht::new(Kind::ClenshawCurtis, 9, 16, None).unwrap();
        let e = sht
            .forward(Array2::zeros((8, 16)).view())
            .unwrap_err()
            .to_string();
        assert!(e.contains("[8, 16]") && e.contains("[9, 16]"), "{e}");
        assert!(Sht::new(Kind::ClenshawCurtis, 9, 16, Some(8)).is_err());
        assert!(Sht::new(Kind::ClenshawCurtis, 1, 16, None).is_err());
        let pts = Grid::points(&[(0.0, 0.0)]).unwrap();
        assert!(Sht::for_grid(&pts, None).is_err());
    }

    #[test]
    fn grids_map_to_their_rules_and_are_shared() {
        let era = Grid::from_spec("latlon:5").unwrap();
        let a = Sht::for_grid(&era, None).unwrap();
        let b = Sht::for_grid(&era, None).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.quadrature().kind, Kind::ClenshawCurtis);
        assert_eq!(a.lmax(), 18);
        let wb = Sht::for_grid(&Grid::from_spec("weatherbench-5.625").unwrap(), None).unwrap();
        assert_eq!((wb.quadrature().kind, wb.lmax()), (Kind::Fejer1, 15));
        // grid latitudes are the quadrature nodes
        for (lat, th) in Grid::from_spec("weatherbench-5.625")
            .unwrap()
            .latitudes_deg()
            .iter()
            .zip(&wb.quadrature().colatitudes)
        {
            assert!((90.0 - th.to_degrees() - lat).abs() < 1e-12);
        }
    }
}
