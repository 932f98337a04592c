//! Orthonormal associated Legendre functions by a stable, range-extended
//! recurrence.
//!
//! `P̂_l^m(cos θ) = sqrt((2l+1)/(4π) · (l−m)!/(l+m)!) · P_l^m(cos θ)`, without
//! the Condon–Shortley phase, so that `∫_{-1}^{1} P̂_l^m(x)² dx = 1/(2π)` and
//! the real harmonics `P̂_l^0`, `√2 P̂_l^m cos mφ`, `√2 P̂_l^m sin mφ` are
//! orthonormal on the unit sphere.
//!
//! Recurrence (Holmes & Featherstone 2002, J. Geodesy 76):
//! `P̂_0^0 = 1/√(4π)`, `P̂_m^m = sqrt((2m+1)/(2m)) sin θ P̂_{m−1}^{m−1}`,
//! `P̂_{m+1}^m = sqrt(2m+3) cos θ P̂_m^m`,
//! `P̂_l^m = a_lm (cos θ P̂_{l−1}^m − b_lm P̂_{l−2}^m)` with
//! `a_lm = sqrt((4l²−1)/(l²−m²))`, `b_lm = sqrt(((l−1)²−m²)/(4(l−1)²−1))`.
//! Near the poles `sin^m θ` underflows double precision for large `m`
//! (at 0.25° from the pole, `m = 720` gives ~1e−1700), so the sectoral
//! values and the recurrence carry a separate power-of-2^400 exponent
//! ("X-numbers", Fukushima 2012, J. Geodesy 86) and are converted to f64 only
//! when stored; values below the f64 range become 0, which is their value to
//! within 1e−300.

/// Index of `(l, m)`, `0 <= m <= l <= lmax`, in the m-major triangular
/// layout used by all tables and coefficient vectors here: for each `m`,
/// degrees `l = m..=lmax` are contiguous.
#[inline]
pub fn tri_index(lmax: usize, l: usize, m: usize) -> usize {
    m * (2 * lmax + 3 - m) / 2 + (l - m)
}

/// Number of `(l, m)` pairs with `0 <= m <= l <= lmax`.
pub fn tri_len(lmax: usize) -> usize {
    (lmax + 1) * (lmax + 2) / 2
}

pub(crate) const BIG: f64 = 2.582_249_878_086_908_6e120; // 2^400
pub(crate) const BIG_INV: f64 = 3.872_591_914_849_318e-121; // 2^-400

/// Recurrence coefficients `(a_lm, b_lm)` in triangular layout, shared by
/// every colatitude.
pub struct LegendreRecurrence {
    lmax: usize,
    a: Vec<f64>,
    b: Vec<f64>,
    sectoral: Vec<f64>,
}

impl LegendreRecurrence {
    pub fn new(lmax: usize) -> Self {
        let mut a = vec![0.0; tri_len(lmax)];
        let mut b = vec![0.0; tri_len(lmax)];
        for m in 0..=lmax {
            for l in m + 2..=lmax {
                let (lf, mf) = (l as f64, m as f64);
                let i = tri_index(lmax, l, m);
                a[i] = ((4.0 * lf * lf - 1.0) / (lf * lf - mf * mf)).sqrt();
                b[i] = (((lf - 1.0) * (lf - 1.0) - mf * mf)
                    / (4.0 * (lf - 1.0) * (lf - 1.0) - 1.0))
                    .sqrt();
            }
        }
        let sectoral = (0..=lmax)
            .map(|m| {
                if m == 0 {
                    0.0
                } else {
                    ((2 * m + 1) as f64 / (2 * m) as f64).sqrt()
                }
            })
            .collect();
        LegendreRecurrence {
            lmax,
            a,
            b,
            sectoral,
        }
    }

    /// Writes `P̂_l^m(cos θ)` for all `0 <= m <= l <= lmax` into `out`
    /// (`[tri_len(lmax)]`, [`tri_index`] layout). `theta` is the colatitude
    /// in radians.
    pub fn evaluate(&self, theta: f64, out: &mut [f64]) {
        let lmax = self.lmax;
        assert_eq!(out.len(), tri_len(lmax));
        let (s, x) = theta.sin_cos();
        let s = s.abs();
        // sectoral value P̂_m^m = pmm · BIG^pmm_exp
        let mut pmm = 1.0 / (4.0 * std::f64::consts::PI).sqrt();
        let mut pmm_exp: i32 = 0;
        for m in 0..=lmax {
            if m > 0 {
                pmm *= self.sectoral[m] * s;
                if pmm != 0.0 && pmm.abs() < BIG_INV {
                    pmm *= BIG;
                    pmm_exp -= 1;
                }
            }
            let base = tri_index(lmax, m, m);
            out[base] = unscale(pmm, pmm_exp);
            if m == lmax {
                break;
            }
            let mut exp = pmm_exp;
            let mut p_prev = pmm; // l − 2
            let mut p = (2.0 * m as f64 + 3.0).sqrt() * x * pmm; // l − 1
            out[base + 1] = unscale(p, exp);
            for l in m + 2..=lmax {
                let i = base + (l - m);
                let next = self.a[i] * (x * p - self.b[i] * p_prev);
                p_prev = p;
                p = next;
                if p.abs() > BIG {
                    p *= BIG_INV;
                    p_prev *= BIG_INV;
                    exp += 1;
                }
                out[i] = unscale(p, exp);
            }
        }
    }
}

/// The Legendre table of a transform: `P̂_l^m(cos θ_j)` for every
/// `0 <= m <= l <= lmax` and every colatitude `θ_j` (radians) of
/// `colatitudes`, as `[tri_len(lmax), n]` row-major (row [`tri_index`],
/// column `j`), `n = colatitudes.len()`. Columns are evaluated in parallel,
/// a block of colatitudes at a time, and transposed into rows.
pub fn legendre_table(lmax: usize, colatitudes: &[f64]) -> Vec<f64> {
    use rayon::prelude::*;
    let n = colatitudes.len();
    let rec = LegendreRecurrence::new(lmax);
    let ntri = tri_len(lmax);
    let mut table = vec![0.0; ntri * n];
    if n == 0 {
        return table;
    }
    const BLOCK: usize = 16;
    for j0 in (0..n).step_by(BLOCK) {
        let j1 = (j0 + BLOCK).min(n);
        let cols: Vec<Vec<f64>> = colatitudes[j0..j1]
            .par_iter()
            .map(|&theta| {
                let mut col = vec![0.0; ntri];
                rec.evaluate(theta, &mut col);
                col
            })
            .collect();
        table.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
            for (jj, col) in cols.iter().enumerate() {
                row[j0 + jj] = col[i];
            }
        });
    }
    table
}

/// `v · 2^(400·exp)`, flushing to zero once below the f64 range.
#[inline]
pub(crate) fn unscale(v: f64, exp: i32) -> f64 {
    let mut r = v;
    for _ in 0..exp.max(0) {
        r *= BIG;
    }
    for _ in 0..(-exp).max(0) {
        r *= BIG_INV;
        if r == 0.0 {
            break;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quadrature::gauss_legendre;
    use std::f64::consts::PI;

    #[test]
    fn low_degrees_match_closed_forms() {
        let lmax = 3;
        let rec = LegendreRecurrence::new(lmax);
        let mut p = vec![0.0; tri_len(lmax)];
        for theta in [0.0, 0.3, 1.0, PI / 2.0, 2.5, PI] {
            rec.evaluate(theta, &mut p);
            let (s, x) = (f64::sin(theta), f64::cos(theta));
            let want = [
                (0, 0, (1.0 / (4.0 * PI)).sqrt()),
                (1, 0, (3.0 / (4.0 * PI)).sqrt() * x),
                (1, 1, (3.0 / (8.0 * PI)).sqrt() * s),
                (2, 0, (5.0 / (4.0 * PI)).sqrt() * (3.0 * x * x - 1.0) / 2.0),
                (2, 1, (15.0 / (8.0 * PI)).sqrt() * x * s),
                (2, 2, (15.0 / (32.0 * PI)).sqrt() * s * s),
                (
                    3,
                    0,
                    (7.0 / (4.0 * PI)).sqrt() * (5.0 * x * x * x - 3.0 * x) / 2.0,
                ),
                (3, 3, (35.0 / (64.0 * PI)).sqrt() * s * s * s),
            ];
            for (l, m, w) in want {
                let got = p[tri_index(lmax, l, m)];
                assert!(
                    (got - w).abs() < 1e-14,
                    "P̂_{l}^{m}({theta}) = {got}, want {w}"
                );
            }
        }
    }

    #[test]
    fn orthonormal_to_degree_720_including_near_the_poles() {
        // Gauss–Legendre with 730 nodes integrates products up to degree 1459
        // exactly, so 2π Σ w P̂_l^m P̂_l'^m must be δ_ll'. Nodes come within
        // 0.2° of the poles, where sin^m θ underflows without range extension.
        let lmax = 720;
        let q = gauss_legendre(730);
        let rec = LegendreRecurrence::new(lmax);
        let pairs = [
            (720, 720, 0),
            (720, 720, 1),
            (720, 720, 360),
            (720, 720, 700),
            (720, 720, 720),
            (719, 719, 600),
            (720, 718, 700),
            (500, 498, 3),
            (650, 648, 640),
        ];
        let mut sums = [0.0; 9];
        let mut col = vec![0.0; tri_len(lmax)];
        for (theta, w) in q.colatitudes.iter().zip(&q.weights) {
            rec.evaluate(*theta, &mut col);
            for (s, &(l1, l2, m)) in sums.iter_mut().zip(&pairs) {
                *s += 2.0 * PI * w * col[tri_index(lmax, l1, m)] * col[tri_index(lmax, l2, m)];
            }
        }
        for (got, &(l1, l2, m)) in sums.iter().zip(&pairs) {
            let want = if l1 == l2 { 1.0 } else { 0.0 };
            assert!(
                (got - want).abs() < 1e-10,
                "<P̂_{l1}^{m}, P̂_{l2}^{m}> = {got}"
            );
        }
    }
}
