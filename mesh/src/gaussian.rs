//! The Gauss–Legendre rule: the latitudes of Gaussian grids and the latitude
//! quadrature of their spherical-harmonic transform (one implementation,
//! shared by the grid and by `fastnet-eval`).
//!
//! The `n` nodes are the roots of the Legendre polynomial `P_n(x)`,
//! `x = cos θ = sin φ` (θ colatitude, φ latitude); the weights
//! `w_j = 2 / ((1 − x_j²) P_n'(x_j)²)` sum to 2 and integrate every polynomial
//! of degree `<= 2n − 1` on `[−1, 1]` exactly. A Gaussian grid `N<N>`/`O<N>`
//! has its `2N` rings on the latitudes `asin(x_j)` of the rule with `n = 2N`
//! (ECMWF IFS, anemoi; O96: 192 rings, the first at 89.2842° N).
//!
//! Method: Newton's iteration on `θ` (not on `x`, which loses accuracy near
//! the poles where `dx/dθ → 0`) from Tricomi's initial guess
//! `θ_k ≈ acos((1 − 1/(8n²) + 1/(8n³)) cos(π(k − ¼)/(n + ½)))`, `k = 1..n`.
//! `P_n(cos θ)` comes from the three-term recurrence rewritten in
//! `u = 1 − cos θ = 2 sin²(θ/2)` (`legendre_by_colatitude`), so that
//! rounding `cos θ` costs nothing next to the poles, and
//! `dP_n(cos θ)/dθ = n (x P_n − P_{n−1}) / sin θ`; at a root the weight is
//! `w = 2 sin²θ / (n (x P_n − P_{n−1}))²`. Only the northern half is
//! iterated; the southern nodes are its mirror images (`x → −x`, same
//! weight). Every colatitude is within 4 units in the last place of the true
//! root (checked against a double-double evaluation up to `n = 2560`, O1280),
//! so `x` is accurate to ~1e-16 and the weights to ~1e-15 relative. Same rule
//! as torch-harmonics' `legendre_gauss_weights` and numpy's `leggauss`,
//! ordered north first.

use std::f64::consts::PI;

/// Gauss–Legendre nodes and weights on `[−1, 1]`.
///
/// Returns `(x, w)`, both `[n]`: `x_j = cos θ_j = sin φ_j` in descending
/// order (north first, `x_0` nearest `+1`), and the weights, which sum to 2.
/// `n = 0` gives two empty vectors.
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let (theta, w) = gauss_legendre_colatitudes(n);
    // the northern half from θ, the southern as its exact mirror image
    let mut x: Vec<f64> = theta.iter().map(|t| t.cos()).collect();
    for k in 0..n / 2 {
        x[n - 1 - k] = -x[k];
    }
    if n % 2 == 1 {
        x[n / 2] = 0.0;
    }
    (x, w)
}

/// The same rule with the nodes as colatitudes: returns `(θ, w)`, both
/// `[n]`, `θ_j` in radians increasing from near 0 (north) to near π (south),
/// weights over `x = cos θ` summing to 2.
///
/// Prefer this to [`gauss_legendre`] when latitudes are wanted: `φ = π/2 − θ`
/// is exact to rounding even next to the poles, where `asin(x)` loses
/// digits. The southern colatitudes are `π − θ` of the northern ones, so
/// `cos θ` of a mirrored pair may differ from `∓x` in the last bit.
pub fn gauss_legendre_colatitudes(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut theta = vec![0.0; n];
    let mut weights = vec![0.0; n];
    if n == 0 {
        return (theta, weights);
    }
    let nf = n as f64;
    let shrink = 1.0 - 1.0 / (8.0 * nf * nf) + 1.0 / (8.0 * nf * nf * nf);
    for k in 0..n / 2 {
        let guess = (shrink * (PI * (k as f64 + 0.75) / (nf + 0.5)).cos()).acos();
        let (t, w) = newton_root(n, guess);
        theta[k] = t;
        theta[n - 1 - k] = PI - t;
        weights[k] = w;
        weights[n - 1 - k] = w;
    }
    if n % 2 == 1 {
        // the equator is a root of every odd-degree P_n; weight from P_{n-1}(0)
        let mid = n / 2;
        let (_, p_prev) = legendre_pair(n, 0.0);
        theta[mid] = PI / 2.0;
        weights[mid] = 2.0 / (nf * p_prev).powi(2);
    }
    (theta, weights)
}

/// Newton's iteration for the root of `P_n(cos θ)` near `guess` (radians,
/// `0 < θ < π/2`); returns the root and its weight.
fn newton_root(n: usize, guess: f64) -> (f64, f64) {
    let nf = n as f64;
    let mut t = guess;
    for _ in 0..100 {
        let (p, d) = legendre_by_colatitude(n, t);
        // dP_n(cos θ)/dθ = n (x P_n − P_{n−1}) / sin θ, x P_n − P_{n−1} = D_n − u P_n
        let u = 2.0 * (0.5 * t).sin().powi(2);
        let dp_dtheta = nf * (d - u * p) / t.sin();
        let step = p / dp_dtheta;
        t -= step;
        if step.abs() <= 2.0 * f64::EPSILON * t {
            break;
        }
    }
    let (p, d) = legendre_by_colatitude(n, t);
    let u = 2.0 * (0.5 * t).sin().powi(2);
    // w = 2 / (sin²θ P_n'(x)²) = 2 sin²θ / (n (x P_n − P_{n−1}))²
    let s = t.sin();
    let e = nf * (d - u * p);
    (t, 2.0 * s * s / (e * e))
}

/// `(P_n(cos θ), P_n(cos θ) − P_{n−1}(cos θ))` for `n >= 1`, computed from
/// `u = 1 − cos θ = 2 sin²(θ/2)` so that no digits are lost forming `cos θ`
/// near the pole: with `D_k = P_k − P_{k−1}` the three-term recurrence reads
/// `k D_k = (k − 1) D_{k−1} − (2k − 1) u P_{k−1}`, `P_k = P_{k−1} + D_k`,
/// from `P_0 = 1`, `D_1 = −u`.
fn legendre_by_colatitude(n: usize, theta: f64) -> (f64, f64) {
    let u = 2.0 * (0.5 * theta).sin().powi(2);
    let (mut p, mut d) = (1.0 - u, -u);
    for k in 2..=n {
        let kf = k as f64;
        d = ((kf - 1.0) * d - (2.0 * kf - 1.0) * u * p) / kf;
        p += d;
    }
    (p, d)
}

/// `(P_n(x), P_{n−1}(x))` by the three-term recurrence; `n >= 1`.
fn legendre_pair(n: usize, x: f64) -> (f64, f64) {
    let (mut p_prev, mut p) = (1.0, x);
    for k in 2..=n {
        let kf = k as f64;
        let next = ((2.0 * kf - 1.0) * x * p - (kf - 1.0) * p_prev) / kf;
        p_prev = p;
        p = next;
    }
    (p, p_prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ∫_{-1}^{1} x^d dx
    fn moment(d: usize) -> f64 {
        if d % 2 == 1 {
            0.0
        } else {
            2.0 / (d as f64 + 1.0)
        }
    }

    #[test]
    fn small_rules_match_their_closed_forms() {
        // Abramowitz & Stegun 25.4.29, derived from the roots of P_1..P_5.
        let s = |v: f64| v.sqrt();
        let cases: Vec<(Vec<f64>, Vec<f64>)> = vec![
            (vec![0.0], vec![2.0]),
            (vec![1.0 / s(3.0), -1.0 / s(3.0)], vec![1.0, 1.0]),
            (
                vec![s(3.0 / 5.0), 0.0, -s(3.0 / 5.0)],
                vec![5.0 / 9.0, 8.0 / 9.0, 5.0 / 9.0],
            ),
            {
                // roots of 35x⁴ − 30x² + 3: x² = (3 ∓ 2√(6/5))/7
                let a = s((3.0 - 2.0 * s(6.0 / 5.0)) / 7.0);
                let b = s((3.0 + 2.0 * s(6.0 / 5.0)) / 7.0);
                let wa = (18.0 + s(30.0)) / 36.0;
                let wb = (18.0 - s(30.0)) / 36.0;
                (vec![b, a, -a, -b], vec![wb, wa, wa, wb])
            },
            {
                // roots of 63x⁵ − 70x³ + 15x: x² = (5 ∓ 2√(10/7))/9
                let a = s(5.0 - 2.0 * s(10.0 / 7.0)) / 3.0;
                let b = s(5.0 + 2.0 * s(10.0 / 7.0)) / 3.0;
                let wa = (322.0 + 13.0 * s(70.0)) / 900.0;
                let wb = (322.0 - 13.0 * s(70.0)) / 900.0;
                (vec![b, a, 0.0, -a, -b], vec![wb, wa, 128.0 / 225.0, wa, wb])
            },
        ];
        for (n, (x_want, w_want)) in cases.into_iter().enumerate().map(|(i, c)| (i + 1, c)) {
            let (x, w) = gauss_legendre(n);
            assert_eq!(x.len(), n);
            for j in 0..n {
                assert!((x[j] - x_want[j]).abs() < 1e-15, "n={n} x[{j}] {}", x[j]);
                assert!((w[j] - w_want[j]).abs() < 1e-15, "n={n} w[{j}] {}", w[j]);
            }
        }
        assert_eq!(gauss_legendre(0), (vec![], vec![]));
    }

    #[test]
    fn rules_integrate_polynomials_to_degree_2n_minus_1() {
        for n in [1usize, 2, 3, 6, 7, 16, 33, 64, 192] {
            let (x, w) = gauss_legendre(n);
            assert!(x.windows(2).all(|p| p[0] > p[1]), "n={n}: not descending");
            assert!((w.iter().sum::<f64>() - 2.0).abs() < 1e-14, "n={n}");
            for d in 0..2 * n {
                let got: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(d as i32)).sum();
                assert!(
                    (got - moment(d)).abs() < 1e-14,
                    "n={n} x^{d}: {got} vs {}",
                    moment(d)
                );
            }
        }
    }

    #[test]
    fn the_first_inexact_degree_has_the_textbook_error() {
        // ∫x^{2n} − Q(x^{2n}) = 2^{2n+1} (n!)⁴ / ((2n+1) ((2n)!)²)
        // (Abramowitz & Stegun 25.4.29 with f^{(2n)} = (2n)!).
        for n in 1usize..=8 {
            let (x, w) = gauss_legendre(n);
            let d = 2 * n;
            let got: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(d as i32)).sum();
            let fact = |k: usize| (1..=k).map(|i| i as f64).product::<f64>();
            let e =
                2f64.powi(d as i32 + 1) * fact(n).powi(4) / ((d as f64 + 1.0) * fact(d).powi(2));
            assert!(
                ((moment(d) - got) / e - 1.0).abs() < 1e-9,
                "n={n}: error {} vs {e}",
                moment(d) - got
            );
        }
    }

    #[test]
    fn large_rules_are_accurate() {
        // O1280 (TCo1279) has 2560 Gaussian latitudes. Checked against
        // quantities computed independently of the Newton iteration: the
        // weight sum, low moments, P_n at the nodes by the plain recurrence
        // in x, the weight formula in x, and Olver's asymptote for the first
        // root, θ_1 ≈ ψ + (ψ cot ψ − 1)/(8ψν²), ψ = j_{0,1}/ν, ν = n + ½
        // (Hale & Townsend 2013, eq. 3.9), whose error falls as ν⁻⁵ (about
        // 0.02 ν⁻⁵ here).
        const J01: f64 = 2.404_825_557_695_773;
        for n in [192usize, 320, 2560] {
            let (theta, w) = gauss_legendre_colatitudes(n);
            let (x, _) = gauss_legendre(n);
            assert!((w.iter().sum::<f64>() - 2.0).abs() < 2e-14, "n={n}");
            for d in [2, 4, 10] {
                let got: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(d)).sum();
                assert!((got - moment(d as usize)).abs() < 1e-14, "n={n} x^{d}");
            }
            for j in [0, 1, n / 7, n / 3, n / 2 - 1] {
                let (p, p_prev) = legendre_pair(n, x[j]);
                // |P_n'| at a root, so p / |P_n'| is the root's error in x
                let dp = n as f64 * (p_prev - x[j] * p) / (1.0 - x[j] * x[j]);
                assert!((p / dp).abs() < 1e-15, "n={n} node {j}: {}", p / dp);
                // (1 − x²) from x loses digits near the poles: allow for it
                let w_x = 2.0 / ((1.0 - x[j] * x[j]) * dp * dp);
                let tol = 1e-13 + 4e-16 / (1.0 - x[j] * x[j]);
                assert!((w_x / w[j] - 1.0).abs() < tol, "n={n} weight {j}");
            }
            let nu = n as f64 + 0.5;
            let psi = J01 / nu;
            let olver = psi + (psi / psi.tan() - 1.0) / (8.0 * psi * nu * nu);
            assert!(
                (theta[0] - olver).abs() < 0.05 * nu.powi(-5) + 4.0 * f64::EPSILON * olver,
                "n={n}: {} vs {olver}",
                theta[0]
            );
        }
    }

    #[test]
    fn roots_agree_with_a_double_double_evaluation() {
        // P_n(cos θ) in double-double arithmetic (≈ 32 digits, cos by its
        // Taylor series, the plain recurrence in x): it changes sign between
        // θ_j(1 − 4ε) and θ_j(1 + 4ε), i.e. each colatitude is the root to
        // within 4 units in the last place, near the pole as at the equator.
        for n in [5usize, 192, 2560] {
            let (theta, _) = gauss_legendre_colatitudes(n);
            for j in [0, 1, n / 4, n / 2 - 1] {
                let t = theta[j];
                let below = dd::legendre_at_colatitude(n, t * (1.0 - 4.0 * f64::EPSILON));
                let above = dd::legendre_at_colatitude(n, t * (1.0 + 4.0 * f64::EPSILON));
                assert!(below * above < 0.0, "n={n} node {j}: {below} {above}");
            }
        }
    }

    #[test]
    fn colatitudes_and_nodes_agree_and_are_symmetric() {
        for n in [5usize, 8, 192] {
            let (x, w) = gauss_legendre(n);
            let (t, w2) = gauss_legendre_colatitudes(n);
            assert_eq!(w, w2);
            for j in 0..n {
                // cos(π − θ) and −cos θ may differ in the last bit
                assert!((t[j].cos() - x[j]).abs() <= 2.0 * f64::EPSILON);
                assert_eq!(x[j], -x[n - 1 - j]);
                assert_eq!(w[j], w[n - 1 - j]);
            }
        }
    }

    /// Just enough double-double arithmetic (Dekker; value = hi + lo) for
    /// an independent evaluation of `P_n(cos θ)`.
    mod dd {
        #[derive(Clone, Copy)]
        struct D(f64, f64);

        fn two_sum(a: f64, b: f64) -> D {
            let s = a + b;
            let bb = s - a;
            D(s, (a - (s - bb)) + (b - bb))
        }

        fn add(a: D, b: D) -> D {
            let s = two_sum(a.0, b.0);
            two_sum(s.0, s.1 + a.1 + b.1)
        }

        fn mul(a: D, b: D) -> D {
            let p = a.0 * b.0;
            two_sum(p, a.0.mul_add(b.0, -p) + a.0 * b.1 + a.1 * b.0)
        }

        fn scale(a: D, f: f64) -> D {
            mul(a, D(f, 0.0))
        }

        fn div(a: D, f: f64) -> D {
            let q = a.0 / f;
            let r = add(a, scale(D(q, 0.0), -f));
            two_sum(q, r.0 / f)
        }

        /// `P_n(cos θ)` rounded to f64, `0 < θ <= π/2`.
        pub fn legendre_at_colatitude(n: usize, theta: f64) -> f64 {
            // cos θ = Σ (−θ²)^k / (2k)!
            let t2 = mul(D(theta, 0.0), D(theta, 0.0));
            let (mut term, mut x) = (D(1.0, 0.0), D(1.0, 0.0));
            for k in 1..30 {
                term = div(scale(mul(term, t2), -1.0), ((2 * k - 1) * 2 * k) as f64);
                x = add(x, term);
            }
            let (mut p_prev, mut p) = (D(1.0, 0.0), x);
            for k in 2..=n {
                let kf = k as f64;
                let next = add(scale(mul(x, p), 2.0 * kf - 1.0), scale(p_prev, -(kf - 1.0)));
                p_prev = p;
                p = div(next, kf);
            }
            p.0 + p.1
        }
    }
}
