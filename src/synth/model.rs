//! The rotating shallow-water equations in vorticity–divergence form,
//! solved with the spectral transform method (Hack & Jakob 1992) and RK4,
//! with ∇⁴ hyperdiffusion, Rayleigh drag, relaxation of the geopotential to
//! a pair of unstable mid-latitude jets, and an advected temperature-like
//! tracer relaxed to a meridional profile:
//!
//! `∂ζ/∂t = −∇·(η v) − ζ/τ_d`, `∂δ/∂t = k·∇×(η v) − ∇²(Φ + |v|²/2) − δ/τ_d`,
//! `∂Φ/∂t = −∇·(Φ v) + (Φ_eq − Φ)/τ_r`, `∂T/∂t = −v·∇T + (T_eq − T)/τ_T`,
//! with `η = ζ + 2Ω sin φ`. Forcing and dissipation can be switched off
//! (the Williamson test cases run without them).

use num_complex::Complex64;

use fastnet_eval::legendre::tri_index;

use super::spectral::{Spec, Spectral};

/// Physical constants and forcing of a run.
#[derive(Clone, Debug)]
pub struct SwParams {
    pub omega: f64,
    /// Time step, s.
    pub dt_s: f64,
    /// e-folding time of ∇⁴ hyperdiffusion at the truncation wavenumber, s (0 = off).
    pub hyperdiffusion_s: f64,
    /// Rayleigh drag time on ζ and δ, s (0 = off).
    pub drag_s: f64,
    /// Relaxation time of Φ toward Φ_eq, s (0 = off).
    pub relax_s: f64,
    /// Relaxation time of the tracer toward its profile, s (0 = off).
    pub tracer_relax_s: f64,
}

/// Spectral state.
#[derive(Clone, Debug)]
pub struct State {
    pub zeta: Spec,
    pub delta: Spec,
    pub phi: Spec,
    pub tracer: Spec,
}

fn axpy(a: &Spec, k: f64, b: &Spec) -> Spec {
    a.iter().zip(b).map(|(x, y)| x + y * k).collect()
}

impl State {
    fn add(&self, k: f64, d: &State) -> State {
        State {
            zeta: axpy(&self.zeta, k, &d.zeta),
            delta: axpy(&self.delta, k, &d.delta),
            phi: axpy(&self.phi, k, &d.phi),
            tracer: axpy(&self.tracer, k, &d.tracer),
        }
    }
}

/// Grid diagnostics of a state.
pub struct Grids {
    pub u: Vec<f64>,
    pub v: Vec<f64>,
    pub phi: Vec<f64>,
    pub tracer: Vec<f64>,
}

/// A shallow-water model on one Gaussian grid.
pub struct ShallowWater {
    pub sp: Spectral,
    pub params: SwParams,
    /// Coriolis parameter per grid point.
    f: Vec<f64>,
    pub phi_eq: Spec,
    pub tracer_eq: Spec,
}

impl ShallowWater {
    pub fn new(sp: Spectral, params: SwParams, phi_eq: Spec, tracer_eq: Spec) -> Self {
        let f = sp
            .mu
            .iter()
            .flat_map(|&m| std::iter::repeat_n(2.0 * params.omega * m, sp.nlon))
            .collect();
        ShallowWater {
            sp,
            params,
            f,
            phi_eq,
            tracer_eq,
        }
    }

    /// Winds and fields on the grid.
    pub fn grids(&self, s: &State) -> Grids {
        let (uc, vc) = self.sp.winds(
            &self.sp.inv_laplacian(&s.zeta),
            &self.sp.inv_laplacian(&s.delta),
        );
        let cos: Vec<f64> = self.sp.cos2().iter().map(|c| c.sqrt()).collect();
        Grids {
            u: uc.iter().zip(&cos).map(|(x, c)| x / c).collect(),
            v: vc.iter().zip(&cos).map(|(x, c)| x / c).collect(),
            phi: self.sp.synthesis(&s.phi),
            tracer: self.sp.synthesis(&s.tracer),
        }
    }

    /// Time derivative of the state.
    pub fn tendency(&self, s: &State) -> State {
        let sp = &self.sp;
        let (uc, vc) = sp.winds(&sp.inv_laplacian(&s.zeta), &sp.inv_laplacian(&s.delta));
        let zeta = sp.synthesis(&s.zeta);
        let phi = sp.synthesis(&s.phi);
        let cos2 = sp.cos2();
        let eta: Vec<f64> = zeta.iter().zip(&self.f).map(|(z, f)| z + f).collect();
        let mul =
            |a: &[f64], b: &[f64]| -> Vec<f64> { a.iter().zip(b).map(|(x, y)| x * y).collect() };
        let (div_eta, curl_eta) = sp.div_curl(&mul(&eta, &uc), &mul(&eta, &vc));
        let energy: Vec<f64> = (0..phi.len())
            .map(|i| phi[i] + 0.5 * (uc[i] * uc[i] + vc[i] * vc[i]) / cos2[i])
            .collect();
        let energy = sp.analysis(&energy);
        let (div_phi, _) = sp.div_curl(&mul(&phi, &uc), &mul(&phi, &vc));
        // tracer advection: v·∇T = (U ∂T/∂λ + V cos φ ∂T/∂φ) / (a cos² φ)
        let dl = sp.d_lambda(&s.tracer);
        let dp = sp.cos_d_phi(&s.tracer);
        let adv: Vec<f64> = (0..phi.len())
            .map(|i| -(uc[i] * dl[i] + vc[i] * dp[i]) / (sp.radius * cos2[i]))
            .collect();
        let mut d_tracer = sp.analysis(&adv);
        let mut d_zeta: Spec = div_eta.iter().map(|x| -x).collect();
        let mut d_delta = curl_eta.clone();
        for m in 0..=sp.lmax {
            for l in m..=sp.lmax {
                let i = tri_index(sp.lmax, l, m);
                d_delta[i] -= energy[i] * sp.laplacian(l);
            }
        }
        let mut d_phi: Spec = div_phi.iter().map(|x| -x).collect();
        let p = &self.params;
        let relax = |d: &mut Spec, x: &Spec, eq: Option<&Spec>, tau: f64| {
            if tau > 0.0 {
                for (i, di) in d.iter_mut().enumerate() {
                    let target = eq.map_or(Complex64::new(0.0, 0.0), |e| e[i]);
                    *di += (target - x[i]) / tau;
                }
            }
        };
        relax(&mut d_zeta, &s.zeta, None, p.drag_s);
        relax(&mut d_delta, &s.delta, None, p.drag_s);
        relax(&mut d_phi, &s.phi, Some(&self.phi_eq), p.relax_s);
        relax(
            &mut d_tracer,
            &s.tracer,
            Some(&self.tracer_eq),
            p.tracer_relax_s,
        );
        State {
            zeta: d_zeta,
            delta: d_delta,
            phi: d_phi,
            tracer: d_tracer,
        }
    }

    /// One RK4 step followed by exact ∇⁴ hyperdiffusion.
    pub fn step(&self, s: &State) -> State {
        let dt = self.params.dt_s;
        let k1 = self.tendency(s);
        let k2 = self.tendency(&s.add(dt / 2.0, &k1));
        let k3 = self.tendency(&s.add(dt / 2.0, &k2));
        let k4 = self.tendency(&s.add(dt, &k3));
        let mut out = s
            .add(dt / 6.0, &k1)
            .add(dt / 3.0, &k2)
            .add(dt / 3.0, &k3)
            .add(dt / 6.0, &k4);
        if self.params.hyperdiffusion_s > 0.0 {
            let lmax = self.sp.lmax;
            let top = (lmax * (lmax + 1)) as f64;
            for m in 0..=lmax {
                for l in m.max(1)..=lmax {
                    let i = tri_index(lmax, l, m);
                    let k = ((l * (l + 1)) as f64 / top).powi(2);
                    let damp = (-dt / self.params.hyperdiffusion_s * k).exp();
                    for field in [&mut out.zeta, &mut out.delta, &mut out.phi, &mut out.tracer] {
                        field[i] *= damp;
                    }
                }
            }
        }
        out
    }

    /// Area-mean Φ (∝ mass) and total energy `∫ (Φ|v|²/2 + Φ²/2) dΩ`.
    pub fn mass_energy(&self, s: &State) -> (f64, f64) {
        let g = self.grids(s);
        let sp = &self.sp;
        let dl = 2.0 * std::f64::consts::PI / sp.nlon as f64;
        let (mut mass, mut energy) = (0.0, 0.0);
        for j in 0..sp.nlat {
            for k in 0..sp.nlon {
                let i = j * sp.nlon + k;
                let w = sp.weights[j] * dl;
                mass += w * g.phi[i];
                energy += w
                    * (0.5 * g.phi[i] * (g.u[i] * g.u[i] + g.v[i] * g.v[i])
                        + 0.5 * g.phi[i] * g.phi[i]);
            }
        }
        (mass, energy)
    }
}
