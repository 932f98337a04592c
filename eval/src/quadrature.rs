//! Latitude quadrature rules for the spherical-harmonic transform.
//!
//! Nodes are colatitudes θ from the north pole (θ = 0) to the south pole
//! (θ = π), i.e. latitude rings north to south; weights integrate over
//! `x = cos θ ∈ [−1, 1]` and sum to 2, so that
//! `∫ f dΩ ≈ Σ_j w_j ∫ f(θ_j, φ) dφ`.
//!
//! * Clenshaw–Curtis (equiangular grid including both poles, e.g. ERA5
//!   721 x 1440): `n` nodes `θ_j = jπ/(n−1)`, exact for polynomials in `x` of
//!   degree `n − 1`.
//! * Fejér's first rule (equiangular grid without poles, e.g. WeatherBench
//!   32 x 64): `θ_j = (j + ½)π/n`, exact for degree `n − 1`.
//! * Gauss–Legendre (Gaussian grids): exact for degree `2n − 1`.
//!
//! Formulas: Waldvogel, "Fast construction of the Fejér and Clenshaw–Curtis
//! quadrature rules", BIT 46 (2006); torch-harmonics' `clenshaw_curtiss_weights`,
//! `fejer1_weights`, `legendre_gauss_weights` use the same rules.

use std::f64::consts::PI;

use fastnet_mesh::gaussian::gauss_legendre_colatitudes;

/// Quadrature rule, i.e. the kind of latitude grid it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Equiangular with both poles.
    ClenshawCurtis,
    /// Equiangular without poles (half-step offset).
    Fejer1,
    /// Gaussian latitudes.
    GaussLegendre,
}

/// Nodes (colatitudes, radians, north to south) and weights of a rule.
#[derive(Clone, Debug)]
pub struct Quadrature {
    pub kind: Kind,
    /// `[n]` colatitudes θ_j in radians, increasing (north to south).
    pub colatitudes: Vec<f64>,
    /// `[n]` weights over `x = cos θ`, summing to 2.
    pub weights: Vec<f64>,
}

impl Quadrature {
    pub fn new(kind: Kind, n: usize) -> Quadrature {
        match kind {
            Kind::ClenshawCurtis => clenshaw_curtis(n),
            Kind::Fejer1 => fejer1(n),
            Kind::GaussLegendre => gauss_legendre(n),
        }
    }

    /// Highest polynomial degree in `cos θ` integrated exactly.
    pub fn exact_degree(&self) -> usize {
        let n = self.weights.len();
        match self.kind {
            Kind::ClenshawCurtis | Kind::Fejer1 => n.saturating_sub(1),
            Kind::GaussLegendre => 2 * n - 1,
        }
    }
}

/// Clenshaw–Curtis rule on `n >= 2` nodes `θ_j = jπ/N`, `N = n − 1`:
/// `w_j = (c_j/N) (1 − Σ_{k=1}^{⌊N/2⌋} b_k cos(2kθ_j)/(4k² − 1))`,
/// `c_0 = c_N = 1`, otherwise 2; `b_k = 1` for `k = N/2`, otherwise 2.
pub fn clenshaw_curtis(n: usize) -> Quadrature {
    assert!(n >= 2, "Clenshaw–Curtis needs at least 2 nodes");
    let big_n = n - 1;
    let colatitudes: Vec<f64> = (0..n).map(|j| j as f64 * PI / big_n as f64).collect();
    let weights = colatitudes
        .iter()
        .enumerate()
        .map(|(j, &t)| {
            let mut s = 0.0;
            for k in 1..=big_n / 2 {
                let b = if 2 * k == big_n { 1.0 } else { 2.0 };
                s += b * (2.0 * k as f64 * t).cos() / (4.0 * (k * k) as f64 - 1.0);
            }
            let c = if j == 0 || j == big_n { 1.0 } else { 2.0 };
            c / big_n as f64 * (1.0 - s)
        })
        .collect();
    Quadrature {
        kind: Kind::ClenshawCurtis,
        colatitudes,
        weights,
    }
}

/// Fejér's first rule on `n >= 1` nodes `θ_j = (j + ½)π/n`:
/// `w_j = (2/n) (1 − 2 Σ_{k=1}^{⌊n/2⌋} cos(2kθ_j)/(4k² − 1))`.
pub fn fejer1(n: usize) -> Quadrature {
    assert!(n >= 1, "Fejér's rule needs at least 1 node");
    let colatitudes: Vec<f64> = (0..n).map(|j| (j as f64 + 0.5) * PI / n as f64).collect();
    let weights = colatitudes
        .iter()
        .map(|&t| {
            let s: f64 = (1..=n / 2)
                .map(|k| (2.0 * k as f64 * t).cos() / (4.0 * (k * k) as f64 - 1.0))
                .sum();
            2.0 / n as f64 * (1.0 - 2.0 * s)
        })
        .collect();
    Quadrature {
        kind: Kind::Fejer1,
        colatitudes,
        weights,
    }
}

/// Gauss–Legendre rule on `n >= 1` nodes (the latitudes of Gaussian grids),
/// from [`fastnet_mesh::gaussian::gauss_legendre_colatitudes`] — the same
/// rule the grids' latitudes come from: roots of `P_n(cos θ)` by Newton's
/// method in θ, weights `2 / ((1 − x²) P_n'(x)²)`.
pub fn gauss_legendre(n: usize) -> Quadrature {
    assert!(n >= 1, "Gauss–Legendre needs at least 1 node");
    let (colatitudes, weights) = gauss_legendre_colatitudes(n);
    Quadrature {
        kind: Kind::GaussLegendre,
        colatitudes,
        weights,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ∫_{-1}^{1} x^d dx
    fn exact(d: usize) -> f64 {
        if d % 2 == 1 {
            0.0
        } else {
            2.0 / (d as f64 + 1.0)
        }
    }

    #[test]
    fn rules_integrate_polynomials_up_to_their_degree_exactly() {
        for kind in [Kind::ClenshawCurtis, Kind::Fejer1, Kind::GaussLegendre] {
            for n in [2usize, 5, 32, 33, 181] {
                let q = Quadrature::new(kind, n);
                assert!(
                    (q.weights.iter().sum::<f64>() - 2.0).abs() < 1e-13,
                    "{kind:?} {n}"
                );
                for d in 0..=q.exact_degree().min(200) {
                    let got: f64 = q
                        .colatitudes
                        .iter()
                        .zip(&q.weights)
                        .map(|(t, w)| w * t.cos().powi(d as i32))
                        .sum();
                    assert!(
                        (got - exact(d)).abs() < 1e-12,
                        "{kind:?} n={n} degree {d}: {got} vs {}",
                        exact(d)
                    );
                }
            }
        }
    }

    #[test]
    fn nodes_are_the_grid_latitudes() {
        let cc = Quadrature::new(Kind::ClenshawCurtis, 721);
        assert_eq!(cc.colatitudes[0], 0.0);
        assert!((cc.colatitudes[720] - PI).abs() < 1e-15);
        assert!((cc.colatitudes[1].to_degrees() - 0.25).abs() < 1e-12);
        let f = Quadrature::new(Kind::Fejer1, 32);
        assert!((90.0 - f.colatitudes[0].to_degrees() - 87.1875).abs() < 1e-12);
        // Gauss–Legendre n = 2: x = ±1/√3, w = 1
        let g = Quadrature::new(Kind::GaussLegendre, 2);
        assert!((g.colatitudes[0].cos() - 1.0 / 3f64.sqrt()).abs() < 1e-15);
        assert!((g.weights[0] - 1.0).abs() < 1e-14);
        // 192 nodes are the O96 grid's latitudes (one implementation)
        let g = Quadrature::new(Kind::GaussLegendre, 192);
        let lat = fastnet_mesh::Grid::octahedral(96)
            .unwrap()
            .ring_latitudes_deg()
            .unwrap();
        for (t, l) in g.colatitudes.iter().zip(&lat) {
            assert!((90.0 - t.to_degrees() - l).abs() < 1e-12);
        }
    }
}
