//! Real spherical-harmonic transform on Gaussian grids, regular (`N<N>`) and
//! octahedral reduced (`O<N>`): a real FFT of each latitude ring at the
//! ring's own length, then Gauss–Legendre quadrature over the `2N` rings.
//!
//! Conventions are those of [`crate::sht`]: orthonormal harmonics, complex
//! `c_lm` for `0 <= m <= l <= lmax` in [`crate::legendre::tri_index`]
//! layout, `P_l = |c_l0|² + 2 Σ_{m>0} |c_lm|²`, `Σ_l P_l = ∫ f² dΩ`. Fields are
//! flat `[npoints]`, ring by ring north to south, point `k` of ring `j` at
//! longitude `2πk/len_j` (ECMWF and anemoi order, [`fastnet_mesh::Rings`]).
//!
//! Forward: `G_m(θ_j) = (2π/len_j) Σ_k f_jk e^{−imφ_k}` for
//! `m <= max_order(j) = min(lmax, ⌊(len_j − 1)/2⌋)` — orders at or above a
//! ring's Nyquist frequency are not resolved by it and the ring contributes
//! nothing to them — then `c_lm = Σ_j w_j P̂_l^m(cos θ_j) G_m(θ_j)` with the
//! Gauss–Legendre weights `w_j`, using equatorial symmetry (a ring and its
//! mirror share `|P̂|`). Inverse: `G_m(θ_j) = Σ_l c_lm P̂_l^m(cos θ_j)` for
//! `m <= max_order(j)` and an inverse real FFT of the ring's length. On a
//! regular Gaussian grid every ring carries every order and this is the
//! Gauss–Legendre lat-lon transform of [`crate::Sht`]. The same transform as
//! anemoi's `OctahedralSHT` (per-ring FFT lengths, Gauss–Legendre
//! latitudes), the approach of ECMWF's spectral transforms on reduced grids.
//!
//! Exactness (measured; `cargo test -p fastnet-eval --release --
//! --ignored measure_exactness --nocapture` prints the table). Two numbers per
//! truncation `L`, for random coefficients `c_lm ∈ [−1, 1]`:
//! "round trip", `max |c − forward(inverse(c))|`, and "sampled",
//! `max |c − forward(f)|` for the band-limited field `f` evaluated exactly at
//! the grid points (what real data are).
//!
//! ```text
//! grid  L          round trip  sampled   N<N> sampled (round-off floor)
//! O16   15 (N−1)   2.7e-15     3.7e-15   3.9e-15
//! O16   16 (N)     3.1e-15     5.2e-15   5.5e-15
//! O16   20         1.7e-11     2.0e-11   4.9e-15
//! O16   24 (3N/2)  8.7e-8      7.6e-8    6.9e-15
//! O16   31 (2N−1)  6.7e-3      7.4e-3    1.0e-14
//! O32   30 (N−2)   2.5e-14     2.7e-14   8.5e-15
//! O32   31 (N−1)   1.2e-13     1.3e-13   8.7e-15
//! O32   32 (N)     3.5e-13     3.9e-13   9.5e-15
//! O32   40         5.1e-9      7.5e-9    1.6e-14
//! O32   63 (2N−1)  7.4e-1      7.8e-1    2.6e-14
//! O96   88 (N−8)   4.5e-14     7.1e-14   3.4e-14
//! O96   92 (N−4)   3.0e-13     5.0e-13   3.1e-14
//! O96   95 (N−1)   8.0e-13     1.7e-12   3.4e-14
//! O96   96 (N)     1.1e-12     2.1e-12   3.3e-14
//! O96  104 (N+8)   1.1e-10     1.6e-10   3.7e-14
//! O96  144 (3N/2)  6.9e-2      7.1e-2    6.0e-14
//! O96  191 (2N−1)  1.3e0       1.5e0     1.1e-13
//! O64 / O128 / O320 at N−8: sampled 4.0e-14 / 1.4e-13 / 5.9e-13
//! O64 / O128 / O320 at N−1: sampled 1.5e-12 / 1.9e-12 / 2.3e-12
//! ```
//!
//! So the default for `O<N>` is the cubic truncation the grid is built for,
//! `lmax = N − 1` (O1280 ↔ TCo1279; O96 ↔ 95; anemoi's `OctahedralSHT`
//! truncates at `nlat/2 − 1` too): twelve correct digits for unit
//! coefficients, with an error that stays at ~2e-12 from O64 to O320 rather
//! than growing with `N`. It is at the round-off floor of the regular grid
//! only up to about `N − 8` at O96 (`N − 2` at O32, `N` at O16); at `N − 1`
//! it is 50 times the floor at O96, and it grows about tenfold every four to
//! eight degrees above `N`. Why not exact: Gauss–Legendre on `2N` rings is
//! exact to degree `4N − 1`, so the latitude quadrature is not the limit;
//! the polar rings are. Ring `i` from a pole has `4i + 16` points and carries
//! orders `m <= 2i + 7`; a field of degree `L ≈ N` has orders up to `L`
//! there, which alias into the ring's Fourier bins (forward) and are
//! missing from its synthesis (inverse). Those orders sit beyond the turning
//! point `m ≈ l sin θ_i` of `P̂_l^m` (`2i + 8 > (4/π) · L sin θ_i` for
//! `L <= N`, the 16 extra points widening the margin near the poles), where
//! `P̂_l^m` decays exponentially, so they are small but not zero: ~1e-12 at
//! `L = N − 1`. Data in f32 carry 7 digits, far above this.
//!
//! Regular Gaussian grids `N<N>` carry order `2N − 1` on every ring, so
//! their default is `lmax = 2N − 1` as for [`crate::Sht`]'s Gauss–Legendre
//! rule, exact to round-off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use fastnet_mesh::{Grid, Rings};
use num_complex::Complex64;
use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::error::{EvalError, Result};
use crate::legendre::{legendre_table, tri_index};
use crate::legendre_stream::LegendreStream;
use crate::quadrature::{gauss_legendre, Kind};
use crate::sht::{Coefficients, Sht};

pub use crate::grid_sht::GridSht;

/// A planned transform for one Gaussian grid and truncation: Gauss–Legendre
/// rule, per-ring FFT plans (shared between rings of equal length) and the
/// Legendre table. Build once, share ([`ReducedSht::shared`]).
pub struct ReducedSht {
    describe: String,
    lmax: usize,
    rings: Rings,
    /// `[nrings]` colatitudes of the rings (radians, north to south).
    colatitudes: Vec<f64>,
    /// `[nrings]` Gauss–Legendre weights over `cos θ`, summing to 2.
    weights: Vec<f64>,
    /// Rings in the northern half (`nrings / 2`; Gaussian grids have `2N`).
    nh: usize,
    /// `[nrings]` highest order each ring carries.
    max_order: Vec<usize>,
    /// The Legendre stage, recurrences run as the transform goes (rings
    /// `j < first_ring[m]` left out of order `m`).
    stream: LegendreStream,
    /// `[tri_len(lmax), nh]` row-major `P̂_l^m(cos θ_j)`, northern rings;
    /// built on first use by [`ReducedSht::legendre`] /
    /// [`ReducedSht::legendre_table`] only.
    table: OnceLock<Vec<f64>>,
    forward_plans: Vec<Arc<dyn RealToComplex<f64>>>,
    inverse_plans: Vec<Arc<dyn ComplexToReal<f64>>>,
}

impl std::fmt::Debug for ReducedSht {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReducedSht({}, lmax {})", self.describe, self.lmax)
    }
}

/// (N, octahedral, lmax)
type CacheKey = (usize, bool, usize);

fn cache() -> &'static Mutex<HashMap<CacheKey, Arc<ReducedSht>>> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, Arc<ReducedSht>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

impl ReducedSht {
    /// The default truncation of a grid: octahedral `O<N>` — `N − 1` (the
    /// cubic truncation the grid is built for, see the module doc for its
    /// measured accuracy); regular Gaussian `N<N>` — `2N − 1`; lat-lon grids
    /// — [`Sht::default_lmax`] of their rule; point grids — 0 (no
    /// transform).
    pub fn default_lmax(grid: &Grid) -> usize {
        match grid {
            Grid::Gaussian {
                n,
                octahedral: true,
            } => octahedral_default_lmax(*n),
            Grid::Gaussian {
                n,
                octahedral: false,
            } => 2 * (*n).max(1) - 1,
            Grid::Equiangular { nlat, poles, .. } => {
                let kind = if *poles {
                    Kind::ClenshawCurtis
                } else {
                    Kind::Fejer1
                };
                Sht::default_lmax(kind, *nlat)
            }
            Grid::Points { .. } => 0,
        }
    }

    /// Plans the transform of fields `[npoints]` on a Gaussian grid.
    /// `lmax = None` takes [`ReducedSht::default_lmax`]; `lmax` may not
    /// exceed `2N − 1` (the degree Gauss–Legendre on `2N` rings integrates
    /// exactly) nor the highest order the longest ring carries.
    pub fn new(grid: &Grid, lmax: Option<usize>) -> Result<ReducedSht> {
        let describe = grid.describe();
        let bad = |reason: String| EvalError::BadGridTransform {
            grid: describe.clone(),
            reason,
        };
        let Grid::Gaussian { n, .. } = grid else {
            return Err(bad(
                "ReducedSht needs a Gaussian grid (oN or nN); latitude-longitude grids take Sht \
                 (GridSht picks either)"
                    .into(),
            ));
        };
        let rings = grid
            .rings()
            .ok_or_else(|| bad("the grid has no latitude rings".into()))?;
        let nrings = rings.len();
        if nrings != 2 * n || nrings == 0 {
            return Err(bad(format!("{nrings} rings, expected 2N = {}", 2 * n)));
        }
        let longest = rings.lengths.iter().copied().max().unwrap_or(0);
        let lmax = lmax.unwrap_or_else(|| ReducedSht::default_lmax(grid));
        if lmax > 2 * n - 1 {
            return Err(bad(format!(
                "lmax {lmax} above 2N − 1 = {}: Gauss–Legendre on {nrings} rings integrates \
                 products of harmonics exactly only up to that",
                2 * n - 1
            )));
        }
        if longest == 0 || lmax > (longest - 1) / 2 {
            return Err(bad(format!(
                "lmax {lmax} needs a ring of at least {} points (the longest has {longest})",
                2 * lmax + 1
            )));
        }
        let quadrature = gauss_legendre(nrings);
        for (j, (&lat, &theta)) in rings
            .lat_deg
            .iter()
            .zip(&quadrature.colatitudes)
            .enumerate()
        {
            if (90.0 - theta.to_degrees() - lat).abs() > 1e-9 {
                return Err(bad(format!(
                    "ring {j} at latitude {lat}° is not the Gauss–Legendre latitude {}°",
                    90.0 - theta.to_degrees()
                )));
            }
        }
        let nh = nrings / 2;
        let max_order: Vec<usize> = rings
            .lengths
            .iter()
            .map(|&len| lmax.min(len.saturating_sub(1) / 2))
            .collect();
        let first_ring: Vec<usize> = (0..=lmax)
            .map(|m| {
                (0..nh)
                    .find(|&j| max_order[j].max(max_order[nrings - 1 - j]) >= m)
                    .unwrap_or(nh)
            })
            .collect();
        let stream = LegendreStream::new(lmax, &quadrature.colatitudes[..nh], Some(&first_ring));
        let mut planner = RealFftPlanner::<f64>::new();
        let forward_plans = rings
            .lengths
            .iter()
            .map(|&len| planner.plan_fft_forward(len))
            .collect();
        let inverse_plans = rings
            .lengths
            .iter()
            .map(|&len| planner.plan_fft_inverse(len))
            .collect();
        Ok(ReducedSht {
            describe,
            lmax,
            rings,
            colatitudes: quadrature.colatitudes,
            weights: quadrature.weights,
            nh,
            max_order,
            stream,
            table: OnceLock::new(),
            forward_plans,
            inverse_plans,
        })
    }

    /// Cached [`ReducedSht::new`], keyed by (N, octahedral, lmax).
    pub fn shared(grid: &Grid, lmax: Option<usize>) -> Result<Arc<ReducedSht>> {
        let lmax = lmax.unwrap_or_else(|| ReducedSht::default_lmax(grid));
        let Grid::Gaussian { n, octahedral } = grid else {
            // `new` gives the error
            return ReducedSht::new(grid, Some(lmax)).map(Arc::new);
        };
        let key = (*n, *octahedral, lmax);
        let poisoned = || EvalError::Invalid("reduced SHT cache poisoned".into());
        if let Some(s) = cache().lock().map_err(|_| poisoned())?.get(&key) {
            return Ok(s.clone());
        }
        let sht = Arc::new(ReducedSht::new(grid, Some(lmax))?);
        let mut c = cache().lock().map_err(|_| poisoned())?;
        Ok(c.entry(key).or_insert(sht).clone())
    }

    /// Bytes the plan holds for the Legendre stage and the rings (the FFT
    /// plans' twiddles aside; the Legendre table of
    /// [`ReducedSht::legendre_table`] only once asked for).
    pub fn plan_bytes(&self) -> usize {
        let table = self.table.get().map_or(0, |t| 8 * t.len());
        self.stream.bytes()
            + 8 * (self.colatitudes.len() + self.weights.len() + self.max_order.len())
            + table
    }

    pub fn lmax(&self) -> usize {
        self.lmax
    }

    /// The grid's [`Grid::describe`], e.g. `octahedral reduced Gaussian O96
    /// (192 rings, 40320 points)`.
    pub fn grid_description(&self) -> &str {
        &self.describe
    }

    /// The grid's rings (latitudes, lengths, offsets of the flat field).
    pub fn rings(&self) -> &Rings {
        &self.rings
    }

    /// Number of grid points, the length of a field.
    pub fn npoints(&self) -> usize {
        self.rings.npoints()
    }

    /// `[nrings]` Gauss–Legendre weights over `cos θ` (sum 2), north to south.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// `[nrings]` ring colatitudes in radians, north to south.
    pub fn colatitudes(&self) -> &[f64] {
        &self.colatitudes
    }

    /// Highest order `m` ring `ring` contributes to and is synthesised
    /// with: `min(lmax, ⌊(len − 1)/2⌋)`.
    pub fn max_order(&self, ring: usize) -> usize {
        self.max_order[ring]
    }

    /// `P̂_l^m(cos θ_ring)` for any ring (north to south), same normalisation
    /// as [`Sht::legendre`].
    pub fn legendre(&self, l: usize, m: usize, ring: usize) -> f64 {
        let row = tri_index(self.lmax, l, m) * self.nh;
        let table = self.table();
        if ring < self.nh {
            table[row + ring]
        } else {
            let sign = if (l - m).is_multiple_of(2) { 1.0 } else { -1.0 };
            sign * table[row + self.rings.len() - 1 - ring]
        }
    }

    /// The Legendre table as a plain array, for building other transforms
    /// (e.g. the differentiable one in fastnet-losses): `[tri_len(lmax), nh]`
    /// row-major, `P̂_l^m(cos θ_j)` for the `nh = nrings/2` northern rings;
    /// the south follows from `P̂_l^m(−x) = (−1)^{l−m} P̂_l^m(x)`.
    pub fn legendre_table(&self) -> (&[f64], usize) {
        (self.table(), self.nh)
    }

    fn table(&self) -> &[f64] {
        self.table
            .get_or_init(|| legendre_table(self.lmax, &self.colatitudes[..self.nh]))
    }

    fn check_len(&self, what: &str, len: usize) -> Result<()> {
        if len != self.npoints() {
            return Err(EvalError::ShapeMismatch {
                what: format!("{what} on {}", self.describe),
                got: vec![len],
                expected: vec![self.npoints()],
            });
        }
        Ok(())
    }

    /// Forward transform of one field `[npoints]` (ring by ring, north to
    /// south) to coefficients up to `lmax`.
    pub fn forward(&self, field: &[f64]) -> Result<Coefficients> {
        self.check_len("field for the spherical-harmonic transform", field.len())?;
        // 1. G_m(θ_j) = (2π/len_j) Σ_k f_jk e^{−imφ_k}, m <= max_order(j), per ring;
        // 2. c_lm = Σ_j w_j P̂_l^m(x_j) G_m(θ_j), using equatorial symmetry
        //    (rings j < first_ring[m] and their mirrors left out of order m).
        let per_m = self.stream.forward_rings(
            self.rings.len(),
            &self.weights,
            || (Vec::new(), Vec::new(), Vec::new()),
            |(input, output, scratch): &mut (Vec<f64>, Vec<Complex64>, Vec<Complex64>), j, g| {
                let (a, b) = (self.rings.offsets[j], self.rings.offsets[j + 1]);
                let plan = &self.forward_plans[j];
                input.clear();
                input.extend_from_slice(&field[a..b]);
                output.resize(b - a + 1, Complex64::new(0.0, 0.0));
                let out = &mut output[..(b - a) / 2 + 1];
                scratch.resize(plan.get_scratch_len(), Complex64::new(0.0, 0.0));
                plan.process_with_scratch(input, out, scratch)
                    .expect("buffer sizes come from the plan");
                let scale = 2.0 * std::f64::consts::PI / (b - a) as f64;
                for (d, s) in g.iter_mut().zip(out.iter()).take(self.max_order[j] + 1) {
                    *d = s * scale;
                }
            },
        );
        Ok(Coefficients::from_orders(self.lmax, per_m))
    }

    /// Inverse transform: coefficients (truncated or zero-padded to this
    /// transform's `lmax`) to a field `[npoints]`; ring `j` is synthesised
    /// from the orders `m <= max_order(j)`.
    pub fn inverse(&self, coeffs: &Coefficients) -> Vec<f64> {
        // G_m(θ_j) = Σ_l c_lm P̂_l^m(x_j), then an inverse rfft of the ring's length.
        let mut out = vec![0.0; self.npoints()];
        let mut rows: Vec<&mut [f64]> = Vec::with_capacity(self.rings.len());
        let mut rest = out.as_mut_slice();
        for &len in &self.rings.lengths {
            let (row, tail) = rest.split_at_mut(len);
            rows.push(row);
            rest = tail;
        }
        self.stream.inverse_rings(
            coeffs,
            rows,
            || (Vec::new(), Vec::new()),
            |(spec, scratch): &mut (Vec<Complex64>, Vec<Complex64>), j, g, row| {
                let len = row.len();
                spec.clear();
                spec.resize(len / 2 + 1, Complex64::new(0.0, 0.0));
                let keep = self.max_order[j] + 1;
                spec[..keep].copy_from_slice(&g[..keep]);
                spec[0].im = 0.0;
                let plan = &self.inverse_plans[j];
                scratch.resize(plan.get_scratch_len(), Complex64::new(0.0, 0.0));
                plan.process_with_scratch(spec, row, scratch)
                    .expect("imaginary parts of DC and Nyquist are zero");
            },
        );
        out
    }

    /// `∫ f g dΩ` on the unit sphere by this grid's quadrature:
    /// `Σ_j w_j (2π/len_j) Σ_k f_jk g_jk`; `f`, `g` are `[npoints]`.
    pub fn integrate_product(&self, f: &[f64], g: &[f64]) -> Result<f64> {
        self.check_len("first field of the integral", f.len())?;
        self.check_len("second field of the integral", g.len())?;
        let sums: Vec<f64> = (0..self.rings.len())
            .into_par_iter()
            .map(|j| {
                let (a, b) = (self.rings.offsets[j], self.rings.offsets[j + 1]);
                let s: f64 = f[a..b].iter().zip(&g[a..b]).map(|(x, y)| x * y).sum();
                self.weights[j] * 2.0 * std::f64::consts::PI / (b - a) as f64 * s
            })
            .collect();
        Ok(sums.iter().sum())
    }
}

/// The default truncation of `O<n>` (see [`ReducedSht::default_lmax`]).
fn octahedral_default_lmax(n: usize) -> usize {
    n.max(1) - 1
}

#[cfg(test)]
mod tests;
