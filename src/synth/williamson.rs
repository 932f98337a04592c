//! Williamson et al. (1992, J. Comput. Phys. 102) standard test cases for
//! the shallow-water solver: case 2 (steady zonal geostrophic flow) and
//! case 6 (Rossby–Haurwitz wave, wavenumber 4).

use num_complex::Complex64;

use super::model::{ShallowWater, State, SwParams};
use super::spectral::{Spec, Spectral};

pub const RADIUS_M: f64 = 6.371_22e6;
pub const OMEGA: f64 = 7.292e-5;
pub const GRAVITY: f64 = 9.806_16;

/// A solver without forcing or dissipation.
pub fn unforced(sp: Spectral, dt_s: f64) -> ShallowWater {
    let n = sp.analysis(&vec![0.0; sp.nlat * sp.nlon]).len();
    let zero = vec![Complex64::new(0.0, 0.0); n];
    let params = SwParams {
        omega: OMEGA,
        dt_s,
        hyperdiffusion_s: 0.0,
        drag_s: 0.0,
        relax_s: 0.0,
        tracer_relax_s: 0.0,
    };
    ShallowWater::new(sp, params, zero.clone(), zero)
}

/// State from grid winds (m/s) and geopotential (m²/s²); the tracer
/// starts as Φ / g.
pub fn state_from_grid(sp: &Spectral, u: &[f64], v: &[f64], phi: &[f64]) -> State {
    let cos: Vec<f64> = sp.cos2().iter().map(|c| c.sqrt()).collect();
    let uc: Vec<f64> = u.iter().zip(&cos).map(|(a, c)| a * c).collect();
    let vc: Vec<f64> = v.iter().zip(&cos).map(|(a, c)| a * c).collect();
    let (delta, zeta) = sp.div_curl(&uc, &vc);
    let phi_s: Spec = sp.analysis(phi);
    let tracer = phi_s.iter().map(|x| x / GRAVITY).collect();
    State {
        zeta,
        delta,
        phi: phi_s,
        tracer,
    }
}

fn grid_of(sp: &Spectral, f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    let lat: Vec<f64> = sp.mu.iter().map(|m| m.asin()).collect();
    lat.iter()
        .flat_map(|&p| {
            (0..sp.nlon).map(move |k| (p, 2.0 * std::f64::consts::PI * k as f64 / sp.nlon as f64))
        })
        .map(|(p, l)| f(p, l))
        .collect()
}

/// Case 2 with α = 0: `u = u0 cos φ`, `gh = gh0 − (aΩu0 + u0²/2) sin²φ`.
pub fn case2(sp: &Spectral) -> State {
    let u0 = 2.0 * std::f64::consts::PI * RADIUS_M / (12.0 * 86400.0);
    let gh0 = 2.94e4;
    let u = grid_of(sp, |p, _| u0 * p.cos());
    let v = vec![0.0; u.len()];
    let phi = grid_of(sp, |p, _| {
        gh0 - (RADIUS_M * OMEGA * u0 + u0 * u0 / 2.0) * p.sin().powi(2)
    });
    state_from_grid(sp, &u, &v, &phi)
}

/// Case 6: Rossby–Haurwitz wave with R = 4, ω = K = 7.848e-6 s⁻¹, h0 = 8 km.
pub fn case6(sp: &Spectral) -> State {
    let (w, k, r, h0) = (7.848e-6, 7.848e-6, 4.0f64, 8000.0);
    let a = RADIUS_M;
    let u = grid_of(sp, |p, l| {
        a * w * p.cos()
            + a * k
                * p.cos().powf(r - 1.0)
                * (r * p.sin().powi(2) - p.cos().powi(2))
                * (r * l).cos()
    });
    let v = grid_of(sp, |p, l| {
        -a * k * r * p.cos().powf(r - 1.0) * p.sin() * (r * l).sin()
    });
    let phi = grid_of(sp, |p, l| {
        let c = p.cos();
        let aa = w / 2.0 * (2.0 * OMEGA + w) * c * c
            + 0.25
                * k
                * k
                * c.powf(2.0 * r)
                * ((r + 1.0) * c * c + (2.0 * r * r - r - 2.0) - 2.0 * r * r / (c * c));
        let bb = 2.0 * (OMEGA + w) * k / ((r + 1.0) * (r + 2.0))
            * c.powf(r)
            * ((r * r + 2.0 * r + 2.0) - (r + 1.0).powi(2) * c * c);
        let cc = 0.25 * k * k * c.powf(2.0 * r) * ((r + 1.0) * c * c - (r + 2.0));
        GRAVITY * h0 + a * a * (aa + bb * (r * l).cos() + cc * (2.0 * r * l).cos())
    });
    state_from_grid(sp, &u, &v, &phi)
}

/// Phase speed (rad/s, eastward) of the case-6 wave in the non-divergent
/// barotropic limit: `(R(3+R)ω − 2Ω) / ((1+R)(2+R))`.
pub fn case6_phase_speed() -> f64 {
    let (w, r) = (7.848e-6, 4.0);
    (r * (3.0 + r) * w - 2.0 * OMEGA) / ((1.0 + r) * (2.0 + r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp() -> Spectral {
        Spectral::new(32, 64, 21, RADIUS_M)
    }

    fn l2(model: &ShallowWater, a: &State, b: &State) -> f64 {
        let (ga, gb) = (model.sp.synthesis(&a.phi), model.sp.synthesis(&b.phi));
        let num: f64 = ga.iter().zip(&gb).map(|(x, y)| (x - y).powi(2)).sum();
        let den: f64 = gb.iter().map(|y| y * y).sum();
        (num / den).sqrt()
    }

    #[test]
    fn spectral_operators_recover_a_solid_body_rotation() {
        // u = u0 cos φ: ζ = 2 u0 sin φ / a, δ = 0; winds from (ψ, χ) come back.
        let sp = sp();
        let s = case2(&sp);
        let g = unforced(sp, 900.0).grids(&s);
        let u0 = 2.0 * std::f64::consts::PI * RADIUS_M / (12.0 * 86400.0);
        let model = unforced(Spectral::new(32, 64, 21, RADIUS_M), 900.0);
        for (j, m) in model.sp.mu.iter().enumerate() {
            let want = u0 * (1.0 - m * m).sqrt();
            assert!(
                (g.u[j * 64] - want).abs() < 1e-9 * u0 && g.v[j * 64].abs() < 1e-9 * u0,
                "row {j}: {} vs {want}",
                g.u[j * 64]
            );
        }
        assert!(s.delta.iter().all(|d| d.norm() < 1e-18));
    }

    #[test]
    fn case2_stays_steady_for_five_days() {
        let model = unforced(sp(), 900.0);
        let s0 = case2(&model.sp);
        let mut s = s0.clone();
        for _ in 0..(5 * 96) {
            s = model.step(&s);
        }
        let err = l2(&model, &s, &s0);
        assert!(err < 1e-6, "normalised l2 error of Φ after 5 days: {err}");
    }

    #[test]
    fn case6_conserves_mass_and_energy_and_moves_at_the_rossby_haurwitz_speed() {
        let model = unforced(sp(), 600.0);
        let s0 = case6(&model.sp);
        let (m0, e0) = model.mass_energy(&s0);
        let phase = |s: &State| {
            // phase of zonal wavenumber 4 of Φ on the row nearest 30°N
            let g = model.sp.synthesis(&s.phi);
            let j = model
                .sp
                .mu
                .iter()
                .enumerate()
                .min_by(|a, b| (a.1 - 0.5).abs().total_cmp(&(b.1 - 0.5).abs()))
                .map(|x| x.0)
                .unwrap();
            let f = model.sp.fourier(&g[j * 64..(j + 1) * 64]);
            f[0][4].arg()
        };
        let p0 = phase(&s0);
        let mut s = s0.clone();
        let steps_per_day = 144;
        for _ in 0..steps_per_day {
            s = model.step(&s);
        }
        // eastward motion by Δλ multiplies the m = 4 coefficient by e^{−4iΔλ}
        let moved = -((phase(&s) - p0 + std::f64::consts::PI)
            .rem_euclid(2.0 * std::f64::consts::PI)
            - std::f64::consts::PI)
            / 4.0;
        let want = case6_phase_speed() * 86400.0;
        assert!(
            (moved - want).abs() < 0.1 * want.abs(),
            "moved {moved} rad/day, expected {want}"
        );
        for _ in 0..(9 * steps_per_day) {
            s = model.step(&s);
        }
        let (m, e) = model.mass_energy(&s);
        assert!(
            ((m - m0) / m0).abs() < 1e-12,
            "mass drift {}",
            (m - m0) / m0
        );
        assert!(
            ((e - e0) / e0).abs() < 1e-4,
            "energy drift over 10 days {}",
            (e - e0) / e0
        );
    }
}
