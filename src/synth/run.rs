//! The forced shallow-water "atmosphere" run that `fastnet synth` writes:
//! two unstable mid-latitude jets relaxed toward, Rayleigh drag and
//! hyperdiffusion, seeded random perturbations, a spin-up that is
//! discarded, then 6-hourly output in the ERA5 layout (one file per month):
//! geopotential `z`, winds `u`, `v` and the advected tracer as temperature
//! `t`, all on the 500 hPa level, plus a static file (an aqua-planet: lsm 0,
//! surface geopotential 0).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use fastnet_data::loader::SplitMix64;
use fastnet_data::time::{format_time, parse_date, Timestamp, HOUR};
use fastnet_data::writer::{write_era5, VarData, WriteOptions};
use fastnet_eval::{Coefficients, QuadratureKind, Sht};
use fastnet_mesh::Grid;
use num_complex::Complex64;
use serde::Serialize;

use super::model::{ShallowWater, State, SwParams};
use super::spectral::{Spec, Spectral};
use super::williamson::{state_from_grid, OMEGA, RADIUS_M};

/// `fastnet synth` settings.
#[derive(Clone, Debug, Serialize)]
pub struct SynthConfig {
    /// Output grid: equiangular, poles dropped (`nlat` rings at
    /// ±(90 − 90/nlat)°, like WeatherBench).
    pub nlat: usize,
    pub nlon: usize,
    /// Spectral truncation of the solver (its Gaussian grid is nlat x nlon);
    /// `fastnet synth` defaults it to [`truncation_for`] the grid.
    pub lmax: usize,
    pub dt_s: f64,
    pub start: String,
    pub days: f64,
    pub spinup_days: f64,
    pub seed: u64,
    /// Peak jet speed (m/s) at ±45°, Gaussian profile of width 10°.
    pub jet_m_s: f64,
    /// Mean geopotential (m²/s², ~500 hPa).
    pub mean_phi: f64,
    /// Amplitude of the stochastic vorticity forcing at l = 8..16 (s^-1.5).
    pub stir: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            nlat: 64,
            nlon: 128,
            lmax: 42,
            dt_s: 900.0,
            start: "2000-01-01".into(),
            days: 3.0 * 365.0,
            spinup_days: 60.0,
            seed: 1,
            jet_m_s: 60.0,
            mean_phi: 5.5e4,
            stir: 6e-9,
        }
    }
}

/// What a run wrote.
#[derive(Clone, Debug, Serialize)]
pub struct SynthSummary {
    pub files: Vec<PathBuf>,
    pub times: usize,
    pub first: String,
    pub last: String,
    /// Slope of the time-mean kinetic-energy spectrum `E(l) ∝ l^slope`
    /// over the output period, fitted over the synoptic band
    /// [`SYNOPTIC_BAND`] (the atmosphere's: close to −3); `None` when the
    /// truncation is too low to resolve the band.
    pub energy_slope: Option<f64>,
    /// The band of that fit, `(l_lo, l_hi)`.
    pub energy_slope_band: (usize, usize),
    /// Total energy drift relative to its mean over the output period.
    pub energy_range: f64,
    /// Share of the kinetic energy in the eddies (zonal wavenumber m > 0)
    /// at the end of the run.
    pub eddy_fraction: f64,
}

/// The default spectral truncation of the solver on an `nlat` x `nlon`
/// grid: the largest triangular truncation T that is alias-free for the
/// quadratic terms, `nlat >= (3T + 1)/2` and `nlon >= 2T + 2`, i.e.
/// `T = min((2 nlat − 1) / 3, nlon/2 − 1)` (T42 on 64 x 128). [`setup`]
/// refuses grids too small to carry it.
pub fn truncation_for(nlat: usize, nlon: usize) -> usize {
    ((2 * nlat).saturating_sub(1) / 3).min((nlon / 2).saturating_sub(1))
}

/// The forced model and its initial state.
pub fn setup(cfg: &SynthConfig) -> Result<(ShallowWater, State)> {
    if cfg.nlat < 8 || cfg.nlon < 2 * cfg.lmax + 2 || cfg.nlat * 2 < 3 * cfg.lmax + 1 {
        bail!(
            "synth grid {} x {} cannot carry truncation T{} (needs nlat >= (3T+1)/2, nlon >= 2T+2)",
            cfg.nlat,
            cfg.nlon,
            cfg.lmax
        );
    }
    let sp = Spectral::new(cfg.nlat, cfg.nlon, cfg.lmax, RADIUS_M);
    let lat: Vec<f64> = sp.mu.iter().map(|m| m.asin()).collect();
    let jet = |p: f64| {
        let w = 10f64.to_radians();
        cfg.jet_m_s
            * ((-((p - 45f64.to_radians()) / w).powi(2)).exp()
                + (-((p + 45f64.to_radians()) / w).powi(2)).exp())
    };
    // gradient balance dΦ/dφ = −u (a f + u tan φ), integrated from the south pole
    let n = 4000;
    let mut fine = vec![0.0; n + 1];
    let dp = std::f64::consts::PI / n as f64;
    let rhs = |p: f64| {
        let u = jet(p);
        -u * (RADIUS_M * 2.0 * OMEGA * p.sin() + u * p.tan())
    };
    for k in 1..=n {
        let (a, b) = (
            -std::f64::consts::FRAC_PI_2 + (k - 1) as f64 * dp,
            -std::f64::consts::FRAC_PI_2 + k as f64 * dp,
        );
        let mid = |x: f64| if x.cos().abs() < 1e-9 { 0.0 } else { rhs(x) };
        fine[k] = fine[k - 1] + 0.5 * dp * (mid(a) + mid(b));
    }
    let phi_of = |p: f64| {
        let x = (p + std::f64::consts::FRAC_PI_2) / dp;
        let k = (x.floor() as usize).min(n - 1);
        fine[k] + (x - k as f64) * (fine[k + 1] - fine[k])
    };
    let mean: f64 = lat
        .iter()
        .zip(&sp.weights)
        .map(|(p, w)| w * phi_of(*p))
        .sum::<f64>()
        / 2.0;
    let row = |f: &dyn Fn(f64) -> f64| -> Vec<f64> {
        lat.iter()
            .flat_map(|&p| std::iter::repeat_n(f(p), cfg.nlon))
            .collect()
    };
    let u = row(&jet);
    let v = vec![0.0; u.len()];
    let phi_eq_grid = row(&|p| phi_of(p) - mean + cfg.mean_phi);
    let balanced = state_from_grid(&sp, &u, &v, &phi_eq_grid);
    let tracer_eq = sp.analysis(&row(&|p| 240.0 + 40.0 * p.cos().powi(2)));
    // seeded perturbations of Φ at l = 8..24
    let mut s = SplitMix64(cfg.seed.wrapping_mul(0xA076_1D64_78BD_642F) ^ 0x1234_5678);
    let mut phi0 = balanced.phi.clone();
    for m in 0..=cfg.lmax {
        for l in m.max(8)..=cfg.lmax.min(24) {
            let i = fastnet_eval::legendre::tri_index(cfg.lmax, l, m);
            let im = if m == 0 { 0.0 } else { s.next_signed_unit() };
            phi0[i] += Complex64::new(s.next_signed_unit(), im) * 2000.0;
        }
    }
    let day = 86400.0;
    let params = SwParams {
        omega: OMEGA,
        dt_s: cfg.dt_s,
        hyperdiffusion_s: 1.0 * day,
        drag_s: 20.0 * day,
        relax_s: 10.0 * day,
        tracer_relax_s: 20.0 * day,
    };
    let model = ShallowWater::new(sp, params, balanced.phi.clone(), tracer_eq.clone());
    Ok((
        model,
        State {
            zeta: balanced.zeta,
            delta: balanced.delta,
            phi: phi0,
            tracer: tracer_eq,
        },
    ))
}

/// Stochastic vorticity forcing at total wavenumbers 8..=16: white in time,
/// `σ √dt` Gaussian-ish increments per coefficient (σ in s^-1.5), drawn
/// from `rng`.
pub fn stir(model: &ShallowWater, s: &mut State, rng: &mut SplitMix64, sigma: f64) {
    let lmax = model.sp.lmax;
    let amp = sigma * model.params.dt_s.sqrt();
    for m in 1..=lmax.min(16) {
        for l in m.max(8)..=lmax.min(16) {
            let i = fastnet_eval::legendre::tri_index(lmax, l, m);
            // sum of three uniforms: mean 0, variance 1 after scaling
            let g = |r: &mut SplitMix64| {
                r.next_signed_unit() + r.next_signed_unit() + r.next_signed_unit()
            };
            s.zeta[i] += Complex64::new(g(rng), g(rng)) * amp;
        }
    }
}

/// Kinetic-energy spectrum per total wavenumber, from vorticity and
/// divergence: `E_l ∝ a² (|ζ_l|² + |δ_l|²) / (l (l + 1))`.
pub fn energy_spectrum(model: &ShallowWater, s: &State) -> Vec<f64> {
    let lmax = model.sp.lmax;
    let (cz, cd) = (
        Coefficients {
            lmax,
            data: s.zeta.clone(),
        },
        Coefficients {
            lmax,
            data: s.delta.clone(),
        },
    );
    let (pz, pd) = (cz.power_spectrum(), cd.power_spectrum());
    (0..=lmax)
        .map(|l| {
            if l == 0 {
                0.0
            } else {
                RADIUS_M * RADIUS_M * (pz[l] + pd[l]) / (l * (l + 1)) as f64
            }
        })
        .collect()
}

/// Share of the kinetic energy in zonal wavenumbers m > 0.
pub fn eddy_fraction(model: &ShallowWater, s: &State) -> f64 {
    let lmax = model.sp.lmax;
    let (mut eddy, mut total) = (0.0, 0.0);
    for m in 0..=lmax {
        for l in m.max(1)..=lmax {
            let i = fastnet_eval::legendre::tri_index(lmax, l, m);
            let e = (if m == 0 { 1.0 } else { 2.0 })
                * (s.zeta[i].norm_sqr() + s.delta[i].norm_sqr())
                / (l * (l + 1)) as f64;
            total += e;
            if m > 0 {
                eddy += e;
            }
        }
    }
    eddy / total
}

/// Total wavenumbers of the synoptic band, wavelengths 5,000–2,000 km,
/// where the real atmosphere's kinetic-energy spectrum falls as l^-3
/// (capped at 3 lmax/4, below the hyperdiffusion range).
pub const SYNOPTIC_BAND: (usize, usize) = (8, 20);

/// Least-squares slope of log E against log l over `lo..=hi`.
pub fn spectral_slope(e: &[f64], lo: usize, hi: usize) -> f64 {
    let pts: Vec<(f64, f64)> = (lo..=hi.min(e.len() - 1))
        .filter(|&l| e[l] > 0.0)
        .map(|l| ((l as f64).ln(), e[l].ln()))
        .collect();
    let n = pts.len() as f64;
    let (sx, sy) = pts.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = pts.iter().fold((0.0, 0.0), |a, p| {
        (a.0 + (p.0 - mx) * (p.1 - my), a.1 + (p.0 - mx).powi(2))
    });
    num / den
}

/// Runs the model and writes monthly ERA5-layout files into `dir`.
/// `progress(done_days, total_days)`.
pub fn run(
    cfg: &SynthConfig,
    dir: &Path,
    progress: &mut dyn FnMut(f64, f64),
) -> Result<SynthSummary> {
    let start =
        parse_date(&cfg.start).with_context(|| format!("--start {:?}: not a date", cfg.start))?;
    if !(cfg.days > 0.0 && cfg.spinup_days >= 0.0 && cfg.dt_s > 0.0) {
        bail!(
            "synth needs positive days and time step (days {}, spin-up {}, dt {} s)",
            cfg.days,
            cfg.spinup_days,
            cfg.dt_s
        );
    }
    if (6.0 * 3600.0) % cfg.dt_s != 0.0 {
        bail!("--dt {} s must divide 6 hours", cfg.dt_s);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (model, mut state) = setup(cfg)?;
    let out_grid = Grid::equiangular(cfg.nlat, cfg.nlon, false)?;
    let out = Sht::new(
        QuadratureKind::Fejer1,
        cfg.nlat,
        cfg.nlon,
        Some(cfg.lmax.min((cfg.nlat - 1) / 2)),
    )?;
    let steps_6h = (6.0 * 3600.0 / cfg.dt_s) as usize;
    let total_days = cfg.spinup_days + cfg.days;
    let spin_steps = (cfg.spinup_days * 4.0).round() as usize * steps_6h;
    let mut rng = SplitMix64(cfg.seed ^ 0x5EED_F0CE_u64);
    for k in 0..spin_steps {
        state = model.step(&state);
        stir(&model, &mut state, &mut rng, cfg.stir);
        if k % steps_6h == 0 {
            progress(k as f64 * cfg.dt_s / 86400.0, total_days);
        }
    }
    let to_out = |c: &Spec| -> Vec<f32> {
        let lm = out.lmax();
        let mut coeffs = Coefficients::zeros(lm);
        for m in 0..=lm {
            for l in m..=lm {
                coeffs.set(l, m, c[fastnet_eval::legendre::tri_index(cfg.lmax, l, m)]);
            }
        }
        out.inverse(&coeffs).iter().map(|&x| x as f32).collect()
    };
    let n_out = (cfg.days * 4.0).round() as usize;
    let mut files = Vec::new();
    let mut month: Option<(String, Vec<Timestamp>, [Vec<f32>; 4])> = None;
    let mut energies = Vec::new();
    let mut spectrum_sum = vec![0.0; cfg.lmax + 1];
    let flush =
        |m: (String, Vec<Timestamp>, [Vec<f32>; 4]), files: &mut Vec<PathBuf>| -> Result<()> {
            let (tag, times, [z, u, v, t]) = m;
            let path = dir.join(format!("synth_{tag}.nc"));
            let var = |name: &str, units: &str, values: Vec<f32>| VarData {
                name: name.into(),
                units: units.into(),
                levels: Some(vec![500]),
                values,
            };
            write_era5(
                &path,
                &out_grid,
                &times,
                &[
                    var("z", "m**2 s**-2", z),
                    var("u", "m s**-1", u),
                    var("v", "m s**-1", v),
                    var("t", "K", t),
                ],
                &WriteOptions::new_cds(),
            )?;
            files.push(path);
            Ok(())
        };
    for k in 0..n_out {
        if k > 0 {
            for _ in 0..steps_6h {
                state = model.step(&state);
                stir(&model, &mut state, &mut rng, cfg.stir);
            }
        }
        let t = start + k as i64 * 6 * HOUR;
        let tag = format_time(t)[..7].replace('-', "");
        if month.as_ref().is_some_and(|m| m.0 != tag) {
            flush(month.take().expect("checked"), &mut files)?;
        }
        let m = month.get_or_insert_with(|| {
            (
                tag.clone(),
                Vec::new(),
                [Vec::new(), Vec::new(), Vec::new(), Vec::new()],
            )
        });
        // winds: analyse u and v on the solver grid, then evaluate on the output grid
        let g = model.grids(&state);
        let (us, vs) = (model.sp.analysis(&g.u), model.sp.analysis(&g.v));
        m.1.push(t);
        m.2[0].extend(to_out(&state.phi));
        m.2[1].extend(to_out(&us));
        m.2[2].extend(to_out(&vs));
        m.2[3].extend(to_out(&state.tracer));
        energies.push(model.mass_energy(&state).1);
        for (m, e) in spectrum_sum.iter_mut().zip(energy_spectrum(&model, &state)) {
            *m += e;
        }
        progress(cfg.spinup_days + k as f64 / 4.0, total_days);
        if !state
            .phi
            .iter()
            .all(|c| c.re.is_finite() && c.im.is_finite())
        {
            bail!(
                "the shallow-water run blew up at {}; use a smaller --dt",
                format_time(t)
            );
        }
    }
    if let Some(m) = month.take() {
        flush(m, &mut files)?;
    }
    // static file: an aqua-planet
    let zeros = vec![0f32; out_grid.len()];
    let stat = |name: &str, units: &str| VarData {
        name: name.into(),
        units: units.into(),
        levels: None,
        values: zeros.clone(),
    };
    let static_path = dir.join("synth_static.nc");
    write_era5(
        &static_path,
        &out_grid,
        &[start],
        &[stat("lsm", "(0 - 1)"), stat("z", "m**2 s**-2")],
        &WriteOptions::new_cds(),
    )?;
    files.push(static_path);
    let band = (SYNOPTIC_BAND.0, SYNOPTIC_BAND.1.min(3 * cfg.lmax / 4));
    let mean_e = energies.iter().sum::<f64>() / energies.len() as f64;
    let (lo, hi) = energies
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |a, &x| {
            (a.0.min(x), a.1.max(x))
        });
    Ok(SynthSummary {
        times: n_out,
        first: format_time(start),
        last: format_time(start + (n_out as i64 - 1) * 6 * HOUR),
        energy_slope: (band.1 >= band.0 + 4).then(|| spectral_slope(&spectrum_sum, band.0, band.1)),
        energy_slope_band: band,
        energy_range: (hi - lo) / mean_e,
        eddy_fraction: eddy_fraction(&model, &state),
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastnet_data::Dataset;

    #[test]
    fn slope_of_a_power_law_is_its_exponent() {
        let e: Vec<f64> = (0..40)
            .map(|l| 5.0 * (l.max(1) as f64).powf(-3.0))
            .collect();
        assert!((spectral_slope(&e, 8, 20) + 3.0).abs() < 1e-12);
        // a kink outside the band does not move it
        let mut k = e.clone();
        k[25..].iter_mut().for_each(|x| *x *= 1e-3);
        assert!((spectral_slope(&k, 8, 20) + 3.0).abs() < 1e-12);
    }

    #[test]
    fn default_truncation_is_the_largest_alias_free() {
        assert_eq!(truncation_for(64, 128), 42);
        assert_eq!(truncation_for(32, 64), 21);
        // a narrow grid is limited by its longitudes: nlon >= 2T + 2
        assert_eq!(truncation_for(64, 40), 19);
        for (nlat, nlon) in [(64, 128), (32, 64), (48, 96), (64, 40)] {
            let lmax = truncation_for(nlat, nlon);
            assert!(2 * nlat > 3 * lmax && nlon >= 2 * lmax + 2);
            assert!(2 * nlat < 3 * (lmax + 1) + 1 || nlon < 2 * (lmax + 1) + 2);
        }
    }

    fn small() -> SynthConfig {
        SynthConfig {
            nlat: 32,
            nlon: 64,
            lmax: 21,
            days: 2.0,
            spinup_days: 3.0,
            start: "2001-01-31".into(),
            ..SynthConfig::default()
        }
    }

    #[test]
    fn writes_era5_layout_files_the_pipeline_reads_and_is_seeded() {
        let _serial = crate::netcdf_serial();
        let dir = fastnet_data::fixture::scratch_dir("synth");
        let summary = run(&small(), &dir, &mut |_, _| {}).unwrap();
        // January and February files plus the static file
        assert_eq!(summary.files.len(), 3);
        assert_eq!(summary.times, 8);
        let ds = Dataset::open(&[&dir]).unwrap();
        assert_eq!(ds.grid, Grid::equiangular(32, 64, false).unwrap());
        assert_eq!(ds.times.len(), 8);
        for v in ["z", "u", "v", "t"] {
            assert_eq!(ds.vars[v].levels, Some(vec![500]), "{v}");
        }
        let mut z = vec![0f32; ds.grid.len()];
        ds.read_field("z", Some(500), ds.times[7], &mut z).unwrap();
        let mean = z.iter().map(|&x| x as f64).sum::<f64>() / z.len() as f64;
        assert!((mean - 5.5e4).abs() < 5e3, "z500 mean {mean}");
        let mut u = vec![0f32; ds.grid.len()];
        ds.read_field("u", Some(500), ds.times[7], &mut u).unwrap();
        let umax = u.iter().fold(0f32, |a, &b| a.max(b.abs()));
        assert!((10.0..150.0).contains(&umax), "max |u| {umax}");
        // the same seed gives the same atmosphere, another seed another one
        let dir2 = fastnet_data::fixture::scratch_dir("synth-again");
        run(&small(), &dir2, &mut |_, _| {}).unwrap();
        let mut z2 = vec![0f32; ds.grid.len()];
        Dataset::open(&[&dir2])
            .unwrap()
            .read_field("z", Some(500), ds.times[7], &mut z2)
            .unwrap();
        assert_eq!(z, z2);
        let dir3 = fastnet_data::fixture::scratch_dir("synth-seed");
        run(&SynthConfig { seed: 2, ..small() }, &dir3, &mut |_, _| {}).unwrap();
        Dataset::open(&[&dir3])
            .unwrap()
            .read_field("z", Some(500), ds.times[7], &mut z2)
            .unwrap();
        assert_ne!(z, z2);
        for d in [dir, dir2, dir3] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let e = setup(&SynthConfig {
            nlat: 16,
            lmax: 21,
            ..small()
        })
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("T21") && e.contains("16 x 64"), "{e}");
        let dir = std::env::temp_dir().join("fastnet-synth-never");
        let e = run(
            &SynthConfig {
                dt_s: 7000.0,
                ..small()
            },
            &dir,
            &mut |_, _| {},
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("divide 6 hours"), "{e}");
    }
}
