//! The Legendre stage of the transforms without a stored table: the
//! associated Legendre functions are recomputed by their three-term
//! recurrence in `l` while the transform runs, for all rings of an order at
//! once, and used at once (forward: accumulated into `c_lm`; inverse: into
//! the rings' Fourier coefficients).
//!
//! Why: a table of `P̂_l^m(cos θ_j)` for 0.25° (721 rings, lmax 360) holds
//! 23 million values (188 MB) and every transform streams all of it from
//! memory, which is the whole cost. The recurrence costs three operations
//! per value and keeps its state, one `[rings]` row per order, in the
//! first-level cache; with equatorial symmetry each northern ring stands for
//! itself and its mirror (`P̂_l^m(−x) = (−1)^{l−m} P̂_l^m(x)`).
//!
//! Recurrence (the one [`crate::legendre`] uses):
//! `P̂_l^m = a_lm (x P̂_{l−1}^m − b_lm P̂_{l−2}^m)`, `l > m`, with `P̂_{m−1}^m = 0`.
//!
//! Near the poles `P̂_l^m` for large `m` is far below the f64 range until `l`
//! passes the turning point `l sin θ ≈ m`. The plan runs the range-extended
//! recurrence of [`crate::legendre`] once per ring and order up to the
//! first degree where `|P̂_l^m| > 2^−200` (~6e−61), moved down to a degree
//! `m + 4k`, and keeps that degree and the two values there (still far
//! inside the f64 range); below it a ring contributes nothing, which changes
//! no coefficient by more than 1e−60 of the field. Those starts are made
//! non-increasing from the pole to the equator (a ring starts no later
//! than any ring nearer its pole), so at each degree the rings in use are a
//! contiguous run `[j_lo, nh)` that grows toward the pole, and rings enter
//! only every fourth degree, so the kernels take two (forward) or four
//! (inverse) steps per pass over the rings between entries.
//!
//! The inner loops ([`kernels`]) are written for AVX-512 and for AVX2 with
//! FMA (chosen at run time), and portably. [`rings`] moves the data between
//! the Fourier and Legendre stages in blocks of eight rings.

use num_complex::Complex64;
use rayon::prelude::*;

use crate::legendre::{tri_index, tri_len, unscale, BIG, BIG_INV};

mod kernels;
mod rings;
#[cfg(target_arch = "x86_64")]
use kernels::{Avx2, Avx512};
use kernels::{Kernel, Portable};

/// Values below this are treated as zero (see the module doc).
const START: f64 = 6.223_015_277_861_142e-61; // 2^-200
/// Rings enter an order at degrees `m + QUANTUM·k` only, so that the
/// several-step kernels run between entries without stopping.
const QUANTUM: usize = 4;

/// The per-plan data of the streamed Legendre stage for `nh` northern rings.
pub(crate) struct LegendreStream {
    lmax: usize,
    nh: usize,
    /// `nh` rounded up to a multiple of 8: the length of every ring array
    /// the kernels touch (the padding rings have `x = 0` and stay zero).
    np: usize,
    /// `[np]` `cos θ_j`.
    x: Vec<f64>,
    /// `a_lm`, `a_lm · b_lm` in [`tri_index`] layout (unused at `l = m`).
    a: Vec<f64>,
    ab: Vec<f64>,
    /// `[(lmax + 1) · nh]`: the degree at which ring `j` enters order `m`
    /// (`lmax + 1`: never), non-increasing in `j`.
    start: Vec<u32>,
    /// `[(lmax + 1) · nh]`: `P̂_{start−1}^m`, `P̂_start^m` of ring `j`.
    p_before: Vec<f64>,
    p_start: Vec<f64>,
    isa: Isa,
}

impl LegendreStream {
    /// `colatitudes` of the northern rings (pole first; the equator ring of
    /// an odd grid included). `first_ring[m]`, where given, excludes the
    /// rings `j < first_ring[m]` from order `m` (reduced grids whose polar
    /// rings do not carry the order).
    pub(crate) fn new(lmax: usize, colatitudes: &[f64], first_ring: Option<&[usize]>) -> Self {
        let nh = colatitudes.len();
        let np = nh.div_ceil(8) * 8;
        let mm = lmax + 1;
        let (mut a, mut ab) = (vec![0.0; tri_len(lmax)], vec![0.0; tri_len(lmax)]);
        for m in 0..=lmax {
            for l in m + 1..=lmax {
                let (lf, mf) = (l as f64, m as f64);
                let i = tri_index(lmax, l, m);
                let al = ((4.0 * lf * lf - 1.0) / (lf * lf - mf * mf)).sqrt();
                let l1 = lf - 1.0;
                let bl = ((l1 * l1 - mf * mf) / (4.0 * l1 * l1 - 1.0)).sqrt();
                a[i] = al;
                ab[i] = al * bl;
            }
        }
        // per ring: (start, P_{start-1}, P_start) for every order
        let per_ring: Vec<Vec<(u32, f64, f64)>> = colatitudes
            .par_iter()
            .map(|&theta| ring_starts(lmax, theta, &a, &ab))
            .collect();
        let mut start = vec![0u32; mm * nh];
        let mut p_before = vec![0.0; mm * nh];
        let mut p_start = vec![0.0; mm * nh];
        for m in 0..=lmax {
            let lo = first_ring.map_or(0, |f| f[m].min(nh));
            let mut earliest = (lmax + 1) as u32;
            for j in 0..nh {
                let k = m * nh + j;
                if j < lo {
                    start[k] = (lmax + 1) as u32;
                    continue;
                }
                let (s, p0, p1) = per_ring[j][m];
                earliest = earliest.min(s);
                start[k] = earliest;
                if earliest == s {
                    (p_before[k], p_start[k]) = (p0, p1);
                } else {
                    // a ring nearer the pole started first: start this one
                    // there too (its values are smaller than the threshold
                    // but in range)
                    (p_before[k], p_start[k]) =
                        values_at(lmax, colatitudes[j], m, earliest as usize, &a, &ab);
                }
            }
        }
        LegendreStream {
            lmax,
            nh,
            np,
            x: {
                let mut x: Vec<f64> = colatitudes.iter().map(|t| t.cos()).collect();
                x.resize(np, 0.0);
                x
            },
            a,
            ab,
            start,
            p_before,
            p_start,
            isa: Isa::detect(),
        }
    }

    /// Bytes held by the plan: recurrence coefficients, per-ring start
    /// degrees and start values, `cos θ`.
    pub(crate) fn bytes(&self) -> usize {
        8 * (self.x.len() + self.a.len() + self.ab.len() + self.p_before.len() + self.p_start.len())
            + 4 * self.start.len()
    }

    /// The length of the ring arrays [`Self::project`] and
    /// [`Self::synthesise`] take: the number of northern rings rounded up
    /// to a multiple of 8 (entries past the rings are zero / ignored).
    #[cfg(test)]
    pub(crate) fn padded_len(&self) -> usize {
        self.np
    }

    /// Forward Legendre stage of order `m`: `c_lm = Σ_j P̂_l^m(x_j) s_j` for
    /// `l = m..=lmax`, with `s = sym` (re, im; `[padded_len]`, weighted north +
    /// south) for even `l − m` and `s = anti` (north − south) for odd.
    pub(crate) fn project(&self, m: usize, sym: [&[f64]; 2], anti: [&[f64]; 2]) -> Vec<Complex64> {
        let mut out = vec![Complex64::new(0.0, 0.0); self.lmax + 1 - m];
        match self.isa {
            Isa::Portable => self.project_with::<Portable>(m, sym, anti, &mut out),
            // SAFETY: `isa` is only set to an instruction set the CPU has
            // (`Isa::detect`, or `Isa::available` in tests).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { self.project_avx2(m, sym, anti, &mut out) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { self.project_avx512(m, sym, anti, &mut out) },
        }
        out
    }

    /// Inverse Legendre stage of order `m`: `even_j = Σ_{l − m even} c_l
    /// P̂_l^m(x_j)` and `odd_j` over odd `l − m` (re, im; `[padded_len]`, added to),
    /// for `c` = `c_lm`, `l = m..m + c.len()`.
    pub(crate) fn synthesise(
        &self,
        m: usize,
        c: &[Complex64],
        even: [&mut [f64]; 2],
        odd: [&mut [f64]; 2],
    ) {
        match self.isa {
            Isa::Portable => self.synthesise_with::<Portable>(m, c, even, odd),
            // SAFETY: as in `project`.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { self.synthesise_avx2(m, c, even, odd) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { self.synthesise_avx512(m, c, even, odd) },
        }
    }

    /// Chooses the compiled variant (tests compare all of them).
    #[cfg(test)]
    pub(crate) fn set_isa(&mut self, isa: Isa) {
        self.isa = isa;
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn project_avx2(&self, m: usize, sym: [&[f64]; 2], anti: [&[f64]; 2], out: &mut [Complex64]) {
        self.project_with::<Avx2>(m, sym, anti, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,fma")]
    fn project_avx512(&self, m: usize, sym: [&[f64]; 2], anti: [&[f64]; 2], out: &mut [Complex64]) {
        self.project_with::<Avx512>(m, sym, anti, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn synthesise_avx2(
        &self,
        m: usize,
        c: &[Complex64],
        even: [&mut [f64]; 2],
        odd: [&mut [f64]; 2],
    ) {
        self.synthesise_with::<Avx2>(m, c, even, odd)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,fma")]
    fn synthesise_avx512(
        &self,
        m: usize,
        c: &[Complex64],
        even: [&mut [f64]; 2],
        odd: [&mut [f64]; 2],
    ) {
        self.synthesise_with::<Avx512>(m, c, even, odd)
    }

    #[inline(always)]
    fn project_with<K: Kernel>(
        &self,
        m: usize,
        sym: [&[f64]; 2],
        anti: [&[f64]; 2],
        out: &mut [Complex64],
    ) {
        let (nh, np, lmax) = (self.nh, self.np, self.lmax);
        let k0 = m * nh;
        let start = &self.start[k0..k0 + nh];
        let (q0, q1) = (&self.p_before[k0..k0 + nh], &self.p_start[k0..k0 + nh]);
        assert!(
            sym.iter().chain(&anti).all(|v| v.len() == np),
            "ring arrays of padded_len"
        );
        let parity = |d: usize| if (d - m).is_multiple_of(2) { sym } else { anti };
        fn tail(s: [&[f64]; 2], j0: usize) -> [&[f64]; 2] {
            [&s[0][j0..], &s[1][j0..]]
        }
        // prev = P_{l−1}, cur = P_l over the active rings [lo, nh); the
        // kernels run from `lo` rounded down to a multiple of 8 (rings not
        // yet active hold zeros and stay zero) to the padded end
        let mut prev = vec![0.0; np];
        let mut cur = vec![0.0; np];
        let mut lo = nh;
        let mut l = m;
        loop {
            // rings that enter at degree l
            let old = lo;
            while lo > 0 && start[lo - 1] as usize == l {
                lo -= 1;
            }
            if lo < old {
                let s = parity(l);
                let r = lo..old;
                prev[r.clone()].copy_from_slice(&q0[r.clone()]);
                cur[r.clone()].copy_from_slice(&q1[r.clone()]);
                let (re, im) = dot2(&q1[r.clone()], &s[0][r.clone()], &s[1][r]);
                out[l - m] += Complex64::new(re, im);
            }
            if l == lmax {
                break;
            }
            // run to the next entry (rings enter after the step to it)
            let next = if lo > 0 {
                start[lo - 1] as usize
            } else {
                lmax + 1
            };
            if lo == nh {
                if next > lmax {
                    break;
                }
                l = next;
                continue;
            }
            let target = next.min(lmax);
            let j0 = lo & !7;
            let (x, pv, cv) = (&self.x[j0..], &mut prev[j0..], &mut cur[j0..]);
            while l + 2 <= target {
                let (i1, i2) = (tri_index(lmax, l + 1, m), tri_index(lmax, l + 2, m));
                // SAFETY: `K` is an instruction set this CPU has (see `isa`)
                // and the slices are all `np − j0` long, a multiple of 8.
                let [c1, c2] = unsafe {
                    K::dot2(
                        [self.a[i1], self.a[i2]],
                        [self.ab[i1], self.ab[i2]],
                        x,
                        pv,
                        cv,
                        tail(parity(l + 1), j0),
                        tail(parity(l + 2), j0),
                    )
                };
                out[l + 1 - m] += c1;
                out[l + 2 - m] += c2;
                l += 2;
            }
            if l < target {
                let i = tri_index(lmax, l + 1, m);
                // SAFETY: as above.
                out[l + 1 - m] +=
                    unsafe { K::dot1(self.a[i], self.ab[i], x, pv, cv, tail(parity(l + 1), j0)) };
                l += 1;
            }
        }
    }

    #[inline(always)]
    fn synthesise_with<K: Kernel>(
        &self,
        m: usize,
        c: &[Complex64],
        even: [&mut [f64]; 2],
        odd: [&mut [f64]; 2],
    ) {
        let (nh, np) = (self.nh, self.np);
        let k0 = m * nh;
        let start = &self.start[k0..k0 + nh];
        let (q0, q1) = (&self.p_before[k0..k0 + nh], &self.p_start[k0..k0 + nh]);
        assert!(
            even.iter().chain(&odd).all(|v| v.len() == np),
            "ring arrays of padded_len"
        );
        if c.is_empty() {
            return;
        }
        // the highest degree synthesised
        let top = (m + c.len() - 1).min(self.lmax);
        let [er, ei] = even;
        let [or, oi] = odd;
        let mut g = [er, ei, or, oi];
        let mut prev = vec![0.0; np];
        let mut cur = vec![0.0; np];
        let mut lo = nh;
        let mut l = m;
        loop {
            let old = lo;
            while lo > 0 && start[lo - 1] as usize == l {
                lo -= 1;
            }
            let cl = c[l - m];
            let k = if (l - m).is_multiple_of(2) { 0 } else { 2 };
            if lo < old {
                let r = lo..old;
                prev[r.clone()].copy_from_slice(&q0[r.clone()]);
                cur[r.clone()].copy_from_slice(&q1[r.clone()]);
                let [g0, g1, g2, g3] = &mut g;
                let (gr, gi) = if k == 0 { (g0, g1) } else { (g2, g3) };
                for ((r, i), q) in gr[r.clone()].iter_mut().zip(&mut gi[r.clone()]).zip(&q1[r]) {
                    *r += cl.re * q;
                    *i += cl.im * q;
                }
            }
            if l == top {
                break;
            }
            let next = if lo > 0 {
                start[lo - 1] as usize
            } else {
                top + 1
            };
            if lo == nh {
                if next > top {
                    break;
                }
                l = next;
                continue;
            }
            let target = next.min(top);
            let j0 = lo & !7;
            let (x, pv, cv) = (&self.x[j0..], &mut prev[j0..], &mut cur[j0..]);
            while l + 4 <= target {
                let d: [usize; 4] = [l + 1, l + 2, l + 3, l + 4];
                let i = d.map(|d| tri_index(self.lmax, d, m));
                // the first and third steps go to one parity, the others to the other
                let k = if (d[0] - m).is_multiple_of(2) { 0 } else { 2 };
                let [g0, g1, g2, g3] = &mut g;
                let (first, second) = if k == 0 {
                    (
                        [&mut g0[j0..], &mut g1[j0..]],
                        [&mut g2[j0..], &mut g3[j0..]],
                    )
                } else {
                    (
                        [&mut g2[j0..], &mut g3[j0..]],
                        [&mut g0[j0..], &mut g1[j0..]],
                    )
                };
                // SAFETY: as in `project_with`.
                unsafe {
                    K::axpy4(
                        i.map(|i| self.a[i]),
                        i.map(|i| self.ab[i]),
                        d.map(|d| c[d - m]),
                        x,
                        pv,
                        cv,
                        first,
                        second,
                    )
                };
                l += 4;
            }
            while l < target {
                let i = tri_index(self.lmax, l + 1, m);
                let k = if (l + 1 - m).is_multiple_of(2) { 0 } else { 2 };
                let [g0, g1, g2, g3] = &mut g;
                let dst = if k == 0 {
                    [&mut g0[j0..], &mut g1[j0..]]
                } else {
                    [&mut g2[j0..], &mut g3[j0..]]
                };
                // SAFETY: as in `project_with`.
                unsafe { K::axpy1(self.a[i], self.ab[i], c[l + 1 - m], x, pv, cv, dst) };
                l += 1;
            }
        }
    }
}

/// `(Σ a·x, Σ a·y)` with four independent accumulators (the entering
/// rings' share of a forward sum).
fn dot2(a: &[f64], x: &[f64], y: &[f64]) -> (f64, f64) {
    let (mut sx, mut sy) = ([0.0f64; 4], [0.0f64; 4]);
    let (ac, xc, yc) = (a.chunks_exact(4), x.chunks_exact(4), y.chunks_exact(4));
    let (at, xt, yt) = (ac.remainder(), xc.remainder(), yc.remainder());
    for ((a, x), y) in ac.zip(xc).zip(yc) {
        for k in 0..4 {
            sx[k] += a[k] * x[k];
            sy[k] += a[k] * y[k];
        }
    }
    let (mut rx, mut ry) = (sx.iter().sum::<f64>(), sy.iter().sum::<f64>());
    for ((a, x), y) in at.iter().zip(xt).zip(yt) {
        rx += a * x;
        ry += a * y;
    }
    (rx, ry)
}

/// The instruction set the inner loops are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    /// The best this CPU runs (AVX-512F or AVX2, each with FMA).
    pub(crate) fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            let fma = std::arch::is_x86_feature_detected!("fma");
            if fma && std::arch::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if fma && std::arch::is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    /// Every variant this CPU can run (for tests that compare them).
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Isa> {
        let mut v = vec![Isa::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            let fma = std::arch::is_x86_feature_detected!("fma");
            if fma && std::arch::is_x86_feature_detected!("avx2") {
                v.push(Isa::Avx2);
            }
            if fma && std::arch::is_x86_feature_detected!("avx512f") {
                v.push(Isa::Avx512);
            }
        }
        v
    }
}

/// For one ring, every order's first degree with `|P̂_l^m| > START` and the
/// values `P̂_{l−1}^m`, `P̂_l^m` there (`(lmax + 1, 0, 0)` when none).
fn ring_starts(lmax: usize, theta: f64, a: &[f64], ab: &[f64]) -> Vec<(u32, f64, f64)> {
    let (s, x) = theta.sin_cos();
    let s = s.abs();
    let mut out = Vec::with_capacity(lmax + 1);
    let mut pmm = 1.0 / (4.0 * std::f64::consts::PI).sqrt();
    let mut pmm_exp: i32 = 0;
    for m in 0..=lmax {
        if m > 0 {
            pmm *= ((2 * m + 1) as f64 / (2 * m) as f64).sqrt() * s;
            if pmm != 0.0 && pmm.abs() < BIG_INV {
                pmm *= BIG;
                pmm_exp -= 1;
            }
        }
        out.push(first_significant(lmax, m, x, pmm, pmm_exp, a, ab, None));
    }
    out
}

/// `P̂_{l−1}^m`, `P̂_l^m` at ring colatitude `theta` and degree `l`.
fn values_at(lmax: usize, theta: f64, m: usize, l: usize, a: &[f64], ab: &[f64]) -> (f64, f64) {
    let (s, x) = theta.sin_cos();
    let s = s.abs();
    let mut pmm = 1.0 / (4.0 * std::f64::consts::PI).sqrt();
    let mut pmm_exp: i32 = 0;
    for k in 1..=m {
        pmm *= ((2 * k + 1) as f64 / (2 * k) as f64).sqrt() * s;
        if pmm != 0.0 && pmm.abs() < BIG_INV {
            pmm *= BIG;
            pmm_exp -= 1;
        }
    }
    let (_, p0, p1) = first_significant(lmax, m, x, pmm, pmm_exp, a, ab, Some(l));
    (p0, p1)
}

/// Runs the range-extended recurrence of order `m` from the sectoral value
/// `pmm · BIG^pmm_exp` up to degree `until` (or, without it, the first
/// degree whose value exceeds `START`, moved down to the last degree
/// `m + QUANTUM·k` before it); returns that degree and the two values
/// there as f64.
#[allow(clippy::too_many_arguments)]
fn first_significant(
    lmax: usize,
    m: usize,
    x: f64,
    pmm: f64,
    pmm_exp: i32,
    a: &[f64],
    ab: &[f64],
    until: Option<usize>,
) -> (u32, f64, f64) {
    // the state at the last degree m + QUANTUM·k: where a ring enters
    let (mut prev, mut cur, mut exp) = (0.0, pmm, pmm_exp);
    let mut saved = (m, prev, cur, exp);
    let reached = |l: usize, p: f64, exp: i32| match until {
        Some(u) => l == u,
        None => unscale(p, exp).abs() > START,
    };
    let mut l = m;
    loop {
        if until.is_some() || (l - m).is_multiple_of(QUANTUM) {
            saved = (l, prev, cur, exp);
        }
        if reached(l, cur, exp) {
            let (d, p0, p1, e) = saved;
            return (d as u32, unscale(p0, e), unscale(p1, e));
        }
        if l == lmax {
            return ((lmax + 1) as u32, 0.0, 0.0);
        }
        l += 1;
        let i = tri_index(lmax, l, m);
        let next = a[i] * x * cur - ab[i] * prev;
        prev = cur;
        cur = next;
        if cur.abs() > BIG {
            cur *= BIG_INV;
            prev *= BIG_INV;
            exp += 1;
        }
    }
}

#[cfg(test)]
mod tests;
