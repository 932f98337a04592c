//! The inner loops of the streamed Legendre stage: one, two or four steps
//! of the recurrence over a run of rings, for AVX-512, AVX2 + FMA and
//! portable code.
//!
//! A step to degree `d` is `P_d = a_d x P_{d−1} − ab_d P_{d−2}`; the state
//! `(prev, cur) = (P_{d−1}, P_d)` is updated in place.
//!
//! * `dot1` / `dot2`: one / two steps, each returning `Σ_j P_d(x_j) s_j`
//!   (complex, `s = (re, im)` of that step's parity): the forward stage.
//! * `axpy1` / `axpy4`: one / four steps, each adding `c_d P_d(x_j)` to the
//!   rings' sums `g = (re, im)` of its parity: the inverse stage. Several
//!   steps per pass read and write the state once for all of them.
//!
//! All slices have the same length, a multiple of 8 (the callers pad).

use num_complex::Complex64;

type Pair<'a> = [&'a [f64]; 2];
type PairMut<'a> = [&'a mut [f64]; 2];

/// # Safety (all methods)
/// The CPU has the instruction set of the implementation; all slices are
/// as long as `x`, a multiple of 8.
pub(super) trait Kernel {
    unsafe fn dot1(
        a: f64,
        ab: f64,
        x: &[f64],
        prev: &mut [f64],
        cur: &mut [f64],
        s: Pair,
    ) -> Complex64;

    #[allow(clippy::too_many_arguments)]
    unsafe fn dot2(
        a: [f64; 2],
        ab: [f64; 2],
        x: &[f64],
        prev: &mut [f64],
        cur: &mut [f64],
        s1: Pair,
        s2: Pair,
    ) -> [Complex64; 2];

    #[allow(clippy::too_many_arguments)]
    unsafe fn axpy1(
        a: f64,
        ab: f64,
        c: Complex64,
        x: &[f64],
        prev: &mut [f64],
        cur: &mut [f64],
        g: PairMut,
    );

    /// Steps 1 and 3 add to `g13`, steps 2 and 4 to `g24`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn axpy4(
        a: [f64; 4],
        ab: [f64; 4],
        c: [Complex64; 4],
        x: &[f64],
        prev: &mut [f64],
        cur: &mut [f64],
        g13: PairMut,
        g24: PairMut,
    );
}

/// Plain scalar code (any CPU).
pub(super) struct Portable;

impl Kernel for Portable {
    unsafe fn dot1(
        a: f64,
        ab: f64,
        x: &[f64],
        prev: &mut [f64],
        cur: &mut [f64],
        s: Pair,
    ) -> Complex64 {
        let (mut re, mut im) = (0.0, 0.0);
        for j in 0..x.len() {
            let p = a * x[j] * cur[j] - ab * prev[j];
            prev[j] = cur[j];
            cur[j] = p;
            re += p * s[0][j];
            im += p * s[1][j];
        }
        Complex64::new(re, im)
    }

    unsafe fn dot2(
        a: [f64; 2],
        ab: [f64; 2],
        x: &[f64],
        prev: &mut [f64],
        cur: &mut [f64],
        s1: Pair,
        s2: Pair,
    ) -> [Complex64; 2] {
        // SAFETY: the caller's contract.
        unsafe {
            [
                Self::dot1(a[0], ab[0], x, prev, cur, s1),
                Self::dot1(a[1], ab[1], x, prev, cur, s2),
            ]
        }
    }

    unsafe fn axpy1(
        a: f64,
        ab: f64,
        c: Complex64,
        x: &[f64],
        prev: &mut [f64],
        cur: &mut [f64],
        g: PairMut,
    ) {
        let [gr, gi] = g;
        for j in 0..x.len() {
            let p = a * x[j] * cur[j] - ab * prev[j];
            prev[j] = cur[j];
            cur[j] = p;
            gr[j] += c.re * p;
            gi[j] += c.im * p;
        }
    }

    unsafe fn axpy4(
        a: [f64; 4],
        ab: [f64; 4],
        c: [Complex64; 4],
        x: &[f64],
        prev: &mut [f64],
        cur: &mut [f64],
        g13: PairMut,
        g24: PairMut,
    ) {
        let [r13, i13] = g13;
        let [r24, i24] = g24;
        // SAFETY: the caller's contract.
        unsafe {
            Self::axpy1(a[0], ab[0], c[0], x, prev, cur, [&mut *r13, &mut *i13]);
            Self::axpy1(a[1], ab[1], c[1], x, prev, cur, [&mut *r24, &mut *i24]);
            Self::axpy1(a[2], ab[2], c[2], x, prev, cur, [r13, i13]);
            Self::axpy1(a[3], ab[3], c[3], x, prev, cur, [r24, i24]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Kernel, Pair, PairMut};
    use core::arch::x86_64::*;
    use num_complex::Complex64;

    /// The vector operations the kernels use, for one register width.
    ///
    /// # Safety (all methods)
    /// The CPU has the instruction set; pointers are valid for `LANES`
    /// values.
    trait Simd {
        type V: Copy;
        const LANES: usize;
        unsafe fn splat(v: f64) -> Self::V;
        unsafe fn zero() -> Self::V;
        unsafe fn load(p: *const f64) -> Self::V;
        unsafe fn store(p: *mut f64, v: Self::V);
        unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
        /// `a·b + c`, rounded once.
        unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
        unsafe fn sum(v: Self::V) -> f64;
    }

    pub(in super::super) struct Avx2;
    pub(in super::super) struct Avx512;

    impl Simd for Avx2 {
        type V = __m256d;
        const LANES: usize = 4;
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn splat(v: f64) -> __m256d {
            _mm256_set1_pd(v)
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn zero() -> __m256d {
            _mm256_setzero_pd()
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn load(p: *const f64) -> __m256d {
            // SAFETY: the caller's contract.
            unsafe { _mm256_loadu_pd(p) }
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn store(p: *mut f64, v: __m256d) {
            // SAFETY: the caller's contract.
            unsafe { _mm256_storeu_pd(p, v) }
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn mul(a: __m256d, b: __m256d) -> __m256d {
            _mm256_mul_pd(a, b)
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn fma(a: __m256d, b: __m256d, c: __m256d) -> __m256d {
            _mm256_fmadd_pd(a, b, c)
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn sum(v: __m256d) -> f64 {
            let s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
            _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
        }
    }

    impl Simd for Avx512 {
        type V = __m512d;
        const LANES: usize = 8;
        #[inline]
        #[target_feature(enable = "avx512f,fma")]
        unsafe fn splat(v: f64) -> __m512d {
            _mm512_set1_pd(v)
        }
        #[inline]
        #[target_feature(enable = "avx512f,fma")]
        unsafe fn zero() -> __m512d {
            _mm512_setzero_pd()
        }
        #[inline]
        #[target_feature(enable = "avx512f,fma")]
        unsafe fn load(p: *const f64) -> __m512d {
            // SAFETY: the caller's contract.
            unsafe { _mm512_loadu_pd(p) }
        }
        #[inline]
        #[target_feature(enable = "avx512f,fma")]
        unsafe fn store(p: *mut f64, v: __m512d) {
            // SAFETY: the caller's contract.
            unsafe { _mm512_storeu_pd(p, v) }
        }
        #[inline]
        #[target_feature(enable = "avx512f,fma")]
        unsafe fn mul(a: __m512d, b: __m512d) -> __m512d {
            _mm512_mul_pd(a, b)
        }
        #[inline]
        #[target_feature(enable = "avx512f,fma")]
        unsafe fn fma(a: __m512d, b: __m512d, c: __m512d) -> __m512d {
            _mm512_fmadd_pd(a, b, c)
        }
        #[inline]
        #[target_feature(enable = "avx512f,fma")]
        unsafe fn sum(v: __m512d) -> f64 {
            _mm512_reduce_add_pd(v)
        }
    }

    /// One step at offset `o`: `P = a x cur − ab prev`, `(prev, cur) ← (cur, P)`
    /// in registers; returns the new `(prev, cur)`.
    #[inline(always)]
    unsafe fn step<S: Simd>(va: S::V, vnab: S::V, x: S::V, prev: S::V, cur: S::V) -> S::V {
        // SAFETY: the caller has the instruction set.
        unsafe { S::fma(S::mul(va, x), cur, S::mul(vnab, prev)) }
    }

    #[inline(always)]
    unsafe fn dot1<S: Simd>(
        a: f64,
        ab: f64,
        x: &[f64],
        prev: &mut [f64],
        cur: &mut [f64],
        s: Pair,
    ) -> Complex64 {
        let n = x.len();
        // SAFETY: o + LANES <= n and every slice has n values; the caller
        // has the instruction set.
        unsafe {
            let (va, vnab) = (S::splat(a), S::splat(-ab));
            let (mut re, mut im) = (S::zero(), S::zero());
            let mut o = 0;
            while o + S::LANES <= n {
                let pv = S::load(prev.as_ptr().add(o));
                let cv = S::load(cur.as_ptr().add(o));
                let p = step::<S>(va, vnab, S::load(x.as_ptr().add(o)), pv, cv);
                S::store(prev.as_mut_ptr().add(o), cv);
                S::store(cur.as_mut_ptr().add(o), p);
                re = S::fma(p, S::load(s[0].as_ptr().add(o)), re);
                im = S::fma(p, S::load(s[1].as_ptr().add(o)), im);
                o += S::LANES;
            }
            Complex64::new(S::sum(re), S::sum(im))
        }
    }

    #[inline(always)]
    unsafe fn dot2<S: Simd>(
        a: [f64; 2],
        ab: [f64; 2],
        x: &[f64],
        prev: &mut [f64],
        cur: &mut [f64],
        s1: Pair,
        s2: Pair,
    ) -> [Complex64; 2] {
        let n = x.len();
        // SAFETY: as in `dot1`.
        unsafe {
            let (va1, vnab1) = (S::splat(a[0]), S::splat(-ab[0]));
            let (va2, vnab2) = (S::splat(a[1]), S::splat(-ab[1]));
            let (mut r1, mut i1, mut r2, mut i2) = (S::zero(), S::zero(), S::zero(), S::zero());
            let mut o = 0;
            while o + S::LANES <= n {
                let xv = S::load(x.as_ptr().add(o));
                let pv = S::load(prev.as_ptr().add(o));
                let cv = S::load(cur.as_ptr().add(o));
                let p1 = step::<S>(va1, vnab1, xv, pv, cv);
                let p2 = step::<S>(va2, vnab2, xv, cv, p1);
                S::store(prev.as_mut_ptr().add(o), p1);
                S::store(cur.as_mut_ptr().add(o), p2);
                r1 = S::fma(p1, S::load(s1[0].as_ptr().add(o)), r1);
                i1 = S::fma(p1, S::load(s1[1].as_ptr().add(o)), i1);
                r2 = S::fma(p2, S::load(s2[0].as_ptr().add(o)), r2);
                i2 = S::fma(p2, S::load(s2[1].as_ptr().add(o)), i2);
                o += S::LANES;
            }
            [
                Complex64::new(S::sum(r1), S::sum(i1)),
                Complex64::new(S::sum(r2), S::sum(i2)),
            ]
        }
    }

    /// `g += c p` at offset `o`.
    #[inline(always)]
    unsafe fn add_scaled<S: Simd>(g: *mut f64, c: S::V, p: S::V) {
        // SAFETY: the caller's bounds and instruction set.
        unsafe { S::store(g, S::fma(c, p, S::load(g))) }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn axpy1<S: Simd>(
        a: f64,
        ab: f64,
        c: Complex64,
        x: &[f64],
        prev: &mut [f64],
        cur: &mut [f64],
        g: PairMut,
    ) {
        let n = x.len();
        let [gr, gi] = g;
        // SAFETY: as in `dot1`.
        unsafe {
            let (va, vnab) = (S::splat(a), S::splat(-ab));
            let (cr, ci) = (S::splat(c.re), S::splat(c.im));
            let mut o = 0;
            while o + S::LANES <= n {
                let pv = S::load(prev.as_ptr().add(o));
                let cv = S::load(cur.as_ptr().add(o));
                let p = step::<S>(va, vnab, S::load(x.as_ptr().add(o)), pv, cv);
                S::store(prev.as_mut_ptr().add(o), cv);
                S::store(cur.as_mut_ptr().add(o), p);
                add_scaled::<S>(gr.as_mut_ptr().add(o), cr, p);
                add_scaled::<S>(gi.as_mut_ptr().add(o), ci, p);
                o += S::LANES;
            }
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn axpy4<S: Simd>(
        a: [f64; 4],
        ab: [f64; 4],
        c: [Complex64; 4],
        x: &[f64],
        prev: &mut [f64],
        cur: &mut [f64],
        g13: PairMut,
        g24: PairMut,
    ) {
        let n = x.len();
        let ([r13, i13], [r24, i24]) = (g13, g24);
        // SAFETY: as in `dot1`.
        unsafe {
            let va = a.map(|v| S::splat(v));
            let vnab = ab.map(|v| S::splat(-v));
            let cr = c.map(|v| S::splat(v.re));
            let ci = c.map(|v| S::splat(v.im));
            let mut o = 0;
            while o + S::LANES <= n {
                let xv = S::load(x.as_ptr().add(o));
                let p0 = S::load(prev.as_ptr().add(o));
                let p1 = S::load(cur.as_ptr().add(o));
                let p2 = step::<S>(va[0], vnab[0], xv, p0, p1);
                let p3 = step::<S>(va[1], vnab[1], xv, p1, p2);
                let p4 = step::<S>(va[2], vnab[2], xv, p2, p3);
                let p5 = step::<S>(va[3], vnab[3], xv, p3, p4);
                S::store(prev.as_mut_ptr().add(o), p4);
                S::store(cur.as_mut_ptr().add(o), p5);
                let (gr, gi) = (r13.as_mut_ptr().add(o), i13.as_mut_ptr().add(o));
                S::store(gr, S::fma(cr[2], p4, S::fma(cr[0], p2, S::load(gr))));
                S::store(gi, S::fma(ci[2], p4, S::fma(ci[0], p2, S::load(gi))));
                let (gr, gi) = (r24.as_mut_ptr().add(o), i24.as_mut_ptr().add(o));
                S::store(gr, S::fma(cr[3], p5, S::fma(cr[1], p3, S::load(gr))));
                S::store(gi, S::fma(ci[3], p5, S::fma(ci[1], p3, S::load(gi))));
                o += S::LANES;
            }
        }
    }

    macro_rules! kernel {
        ($isa:ident, $features:literal) => {
            impl Kernel for $isa {
                #[target_feature(enable = $features)]
                unsafe fn dot1(
                    a: f64,
                    ab: f64,
                    x: &[f64],
                    prev: &mut [f64],
                    cur: &mut [f64],
                    s: Pair,
                ) -> Complex64 {
                    // SAFETY: the caller's contract.
                    unsafe { dot1::<$isa>(a, ab, x, prev, cur, s) }
                }
                #[target_feature(enable = $features)]
                unsafe fn dot2(
                    a: [f64; 2],
                    ab: [f64; 2],
                    x: &[f64],
                    prev: &mut [f64],
                    cur: &mut [f64],
                    s1: Pair,
                    s2: Pair,
                ) -> [Complex64; 2] {
                    // SAFETY: the caller's contract.
                    unsafe { dot2::<$isa>(a, ab, x, prev, cur, s1, s2) }
                }
                #[target_feature(enable = $features)]
                unsafe fn axpy1(
                    a: f64,
                    ab: f64,
                    c: Complex64,
                    x: &[f64],
                    prev: &mut [f64],
                    cur: &mut [f64],
                    g: PairMut,
                ) {
                    // SAFETY: the caller's contract.
                    unsafe { axpy1::<$isa>(a, ab, c, x, prev, cur, g) }
                }
                #[target_feature(enable = $features)]
                unsafe fn axpy4(
                    a: [f64; 4],
                    ab: [f64; 4],
                    c: [Complex64; 4],
                    x: &[f64],
                    prev: &mut [f64],
                    cur: &mut [f64],
                    g13: PairMut,
                    g24: PairMut,
                ) {
                    // SAFETY: the caller's contract.
                    unsafe { axpy4::<$isa>(a, ab, c, x, prev, cur, g13, g24) }
                }
            }
        };
    }
    kernel!(Avx2, "avx2,fma");
    kernel!(Avx512, "avx512f,fma");
}
