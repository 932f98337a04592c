//! Regridding numerics against closed forms: the bilinear error bound on
//! analytic fields, exact conservation of the area mean, constants
//! reproduced, and the bad inputs.

use super::conservative::{gaussian_sin_edges, latlon_sin_edges};
use super::*;

/// `cos φ cos λ` (the x coordinate of the unit sphere) and its bound on
/// `max|∂²f/∂λ²| + max|∂²f/∂φ²|` = 1 + 1.
fn f_x(lat: f64, lon: f64) -> f64 {
    lat.to_radians().cos() * lon.to_radians().cos()
}
const F_X_D2: f64 = 2.0;

/// `Y_3^2` up to normalisation: `cos²φ sin φ cos 2λ`. With `g(φ) = cos²φ sin φ`,
/// `max|∂²f/∂λ²| = 4 max|g| = 4 · 2/(3√3)` (at `sin φ = 1/√3`) and
/// `g'' = −sin φ (7 − 9 sin²φ)`, largest at `sin²φ = 7/27`:
/// `max|g''| = (14/3) √(7/27)`.
fn f_y32(lat: f64, lon: f64) -> f64 {
    let (p, l) = (lat.to_radians(), lon.to_radians());
    p.cos() * p.cos() * p.sin() * (2.0 * l).cos()
}
fn f_y32_d2() -> f64 {
    4.0 * 2.0 / (3.0 * 3f64.sqrt()) + 14.0 / 3.0 * (7.0f64 / 27.0).sqrt()
}

fn sample(grid: &Grid, f: fn(f64, f64) -> f64) -> Vec<f64> {
    grid.point_lat_lon()
        .iter()
        .map(|&(la, lo)| f(la, lo))
        .collect()
}

fn regrid(w: &Weights, src: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; w.target_len()];
    w.apply(src, &mut out).unwrap();
    out
}

fn max_err(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Area mean with the grid's own area weights.
fn area_mean(grid: &Grid, f: &[f64]) -> f64 {
    let w = grid.area_weights();
    w.iter().zip(f).map(|(w, f)| w * f).sum::<f64>() / w.iter().sum::<f64>()
}

/// A rough deterministic field (hash noise) with a non-zero mean.
fn rough(n: usize) -> Vec<f64> {
    (0..n)
        .map(|k| {
            let h = (k as u64)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(17);
            250.0 + 40.0 * ((h >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
        })
        .collect()
}

#[test]
fn bilinear_error_on_analytic_fields_is_within_the_interpolation_bound() {
    let o32 = Grid::octahedral(32).unwrap();
    // 1° with poles (181 x 360) and without (180 x 360; O32's first ring at
    // 87.86° lies inside its 89.5° ring, so no extrapolation happens).
    for src in [
        Grid::equiangular(181, 360, true).unwrap(),
        Grid::equiangular(180, 360, false).unwrap(),
    ] {
        let w = Weights::new(&src, &o32, Method::Bilinear).unwrap();
        let h = 1f64.to_radians();
        for (name, f, d2) in [
            ("cos φ cos λ", f_x as fn(f64, f64) -> f64, F_X_D2),
            ("Y_3^2", f_y32, f_y32_d2()),
        ] {
            let got = regrid(&w, &sample(&src, f));
            let err = max_err(&got, &sample(&o32, f));
            let bound = h * h / 8.0 * d2;
            eprintln!(
                "bilinear {} -> O32, {name}: max error {err:.3e} (bound {bound:.3e})",
                src.describe()
            );
            assert!(err <= bound, "{name}: {err} > {bound}");
            // and not trivially: the interpolation really is second order
            assert!(err > 0.05 * bound, "{name}: {err} suspiciously small");
        }
    }
}

#[test]
fn bilinear_rows_are_convex_and_exact_on_source_points() {
    let src = Grid::equiangular(19, 36, true).unwrap();
    // onto itself: the identity
    let w = Weights::new(&src, &src, Method::Bilinear).unwrap();
    for t in 0..src.len() {
        assert_eq!(w.row(t), (&[t as u32][..], &[1.0][..]), "point {t}");
    }
    let o16 = Grid::octahedral(16).unwrap();
    let w = Weights::new(&src, &o16, Method::Bilinear).unwrap();
    for t in 0..w.target_len() {
        let (_, ws) = w.row(t);
        assert!(ws.iter().all(|&x| x > 0.0 && x <= 1.0));
        assert!((ws.iter().sum::<f64>() - 1.0).abs() < 1e-14);
    }
    // O16's first ring (85.7°) lies between the pole ring and 80°: it uses
    // the pole row (indices < 36) with weight 1 − (90 − φ)/10.
    let lat0 = o16.ring_latitudes_deg().unwrap()[0];
    let (s, ws) = w.row(0); // point at longitude 0: columns 0 of rows 0 and 1
    assert_eq!(s, &[0, 36]);
    assert!((ws[0] - (1.0 - (90.0 - lat0) / 10.0)).abs() < 1e-12);
}

#[test]
fn bilinear_beyond_the_last_ring_of_a_source_without_poles_takes_the_nearest_ring() {
    // 10° without poles: rings at ±85°; O32's polar rings (±87.86°) lie beyond.
    let src = Grid::equiangular(18, 36, false).unwrap();
    let o32 = Grid::octahedral(32).unwrap();
    let w = Weights::new(&src, &o32, Method::Bilinear).unwrap();
    let rings = o32.rings().unwrap();
    for (r, ring) in [(0usize, 0usize), (rings.len() - 1, 17)] {
        for p in rings.offsets[r]..rings.offsets[r + 1] {
            let (s, _) = w.row(p);
            assert!(
                s.iter().all(|&i| i as usize / 36 == ring),
                "point {p}: {s:?}"
            );
        }
    }
    // a field of latitude alone is the nearest ring's value there
    let got = regrid(&w, &sample(&src, |la, _| la.to_radians().sin()));
    assert!((got[0] - 85f64.to_radians().sin()).abs() < 1e-14);
    assert!((got[o32.len() - 1] + 85f64.to_radians().sin()).abs() < 1e-14);
}

#[test]
fn gaussian_cell_edges_carry_the_quadrature_weights_and_enclose_the_rings() {
    for n in [8usize, 32, 96] {
        let nrings = 2 * n;
        let e = gaussian_sin_edges(nrings);
        let (x, w) = fastnet_mesh::gaussian::gauss_legendre(nrings);
        assert_eq!((e[0], e[nrings], e[n]), (1.0, -1.0, 0.0));
        for j in 0..nrings {
            assert!((e[j] - e[j + 1] - w[j]).abs() < 1e-14, "O{n} ring {j}");
            assert!(
                e[j + 1] < x[j] && x[j] < e[j],
                "O{n} ring {j} outside its cell"
            );
        }
    }
    let e = latlon_sin_edges(&[90.0, 0.0, -90.0]);
    assert_eq!(e.len(), 4);
    assert!((e[1] - 45f64.to_radians().sin()).abs() < 1e-15);
}

#[test]
fn conservative_preserves_the_area_mean_and_reproduces_constants() {
    let cases = [
        (
            Grid::equiangular(181, 360, true).unwrap(),
            Grid::octahedral(32).unwrap(),
        ),
        (
            Grid::equiangular(120, 240, false).unwrap(),
            Grid::octahedral(32).unwrap(),
        ),
        (
            Grid::equiangular(73, 144, true).unwrap(),
            Grid::regular_gaussian(16).unwrap(),
        ),
        (
            Grid::equiangular(181, 360, true).unwrap(),
            Grid::equiangular(91, 180, true).unwrap(),
        ),
        (
            Grid::equiangular(19, 36, true).unwrap(),
            Grid::octahedral(24).unwrap(),
        ),
    ];
    for (src, dst) in &cases {
        let w = Weights::new(src, dst, Method::Conservative).unwrap();
        let label = format!("{} -> {}", src.describe(), dst.describe());
        // per source cell: Σ_t A_t W_ts = A_s (what conservation means)
        let (a_s, a_t) = (src.area_weights(), dst.area_weights());
        let (sum_s, sum_t): (f64, f64) = (a_s.iter().sum(), a_t.iter().sum());
        let mut col = vec![0.0; src.len()];
        for (t, &at) in a_t.iter().enumerate() {
            let (s, ws) = w.row(t);
            for (&i, &x) in s.iter().zip(ws) {
                col[i as usize] += at / sum_t * x;
            }
        }
        let worst = col
            .iter()
            .zip(&a_s)
            .map(|(c, a)| (c / (a / sum_s) - 1.0).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 1e-11,
            "{label}: source cell coverage off by {worst:e}"
        );
        for (name, f) in [
            ("rough", rough(src.len())),
            ("1 + cos φ cos λ", sample(src, |la, lo| 1.0 + f_x(la, lo))),
            ("2 + Y_3^2", sample(src, |la, lo| 2.0 + f_y32(la, lo))),
        ] {
            let (m_src, m_dst) = (area_mean(src, &f), area_mean(dst, &regrid(&w, &f)));
            let rel = ((m_dst - m_src) / m_src).abs();
            eprintln!(
                "conservative {label}, {name}: mean {m_src:.15} vs {m_dst:.15} (rel {rel:.1e})"
            );
            assert!(rel < 1e-12, "{label} {name}: relative mean error {rel:e}");
        }
        // a constant comes back exactly (f32 in, f32 out)
        let c = vec![287.15f32; src.len()];
        let mut out = vec![0f32; dst.len()];
        w.apply_f32(&c, &mut out).unwrap();
        assert!(
            out.iter().all(|&x| x == 287.15f32),
            "{label}: constant not reproduced"
        );
    }
}

#[test]
fn conservative_is_close_to_smooth_fields() {
    // First order: each value is a convex combination of the source values
    // of the cells its cell overlaps, so it differs from the point value by
    // O(h_src |∇f|) where cells are cut (plus O(h_dst²) for the cell mean).
    // Measured from 1° to O32 (cells about 2.8° wide): 1.87e-3 (cos φ cos λ)
    // and 7.4e-4 (Y_3^2); bilinear gives 7e-5 and 1.4e-4.
    let src = Grid::equiangular(181, 360, true).unwrap();
    let o32 = Grid::octahedral(32).unwrap();
    let w = Weights::new(&src, &o32, Method::Conservative).unwrap();
    for (name, f, bound) in [
        ("cos φ cos λ", f_x as fn(f64, f64) -> f64, 2.5e-3),
        ("Y_3^2", f_y32, 1e-3),
    ] {
        let err = max_err(&regrid(&w, &sample(&src, f)), &sample(&o32, f));
        eprintln!("conservative 1° -> O32, {name}: max error {err:.3e}");
        assert!(err < bound, "{name}: {err}");
    }
}

#[test]
fn missing_values_reach_only_the_targets_that_use_them() {
    let src = Grid::equiangular(37, 72, true).unwrap();
    let o8 = Grid::octahedral(8).unwrap();
    // a source point the middle target point uses
    let hole = Weights::new(&src, &o8, Method::Bilinear)
        .unwrap()
        .row(o8.len() / 2)
        .0[0] as usize;
    for method in [Method::Bilinear, Method::Conservative] {
        let w = Weights::new(&src, &o8, method).unwrap();
        let mut f = vec![1f32; src.len()];
        f[hole] = f32::NAN;
        let mut out = vec![0f32; o8.len()];
        w.apply_f32(&f, &mut out).unwrap();
        for (t, o) in out.iter().enumerate() {
            let uses = w.row(t).0.contains(&(hole as u32));
            assert_eq!(o.is_nan(), uses, "{method} point {t}");
        }
        assert!(out.iter().any(|x| x.is_nan()), "{method}");
    }
}

#[test]
fn bad_sources_and_targets_are_refused() {
    let o8 = Grid::octahedral(8).unwrap();
    let pts = Grid::points(&[(10.0, 20.0), (-30.0, 200.0)]).unwrap();
    let latlon = Grid::equiangular(19, 36, true).unwrap();
    let e = Weights::new(&o8, &Grid::octahedral(16).unwrap(), Method::Bilinear).unwrap_err();
    assert!(
        matches!(&e, DataError::Regrid { reason, .. } if reason.contains("already on a Gaussian grid")),
        "{e}"
    );
    let e = Weights::new(&pts, &o8, Method::Bilinear).unwrap_err();
    assert!(
        matches!(&e, DataError::Regrid { reason, .. } if reason.contains("2 points")),
        "{e}"
    );
    let e = Weights::new(&latlon, &pts, Method::Conservative).unwrap_err();
    assert!(e.to_string().contains("needs target cells"), "{e}");
    // bilinear onto points works
    let w = Weights::new(&latlon, &pts, Method::Bilinear).unwrap();
    let got = regrid(&w, &sample(&latlon, f_x));
    assert!((got[0] - f_x(10.0, 20.0)).abs() < 0.03);
    // buffers of the wrong length
    let mut short = vec![0.0; 1];
    assert!(w.apply(&sample(&latlon, f_x), &mut short).is_err());
    assert_eq!(
        "Conservative".parse::<Method>().unwrap(),
        Method::Conservative
    );
    assert!("nearest".parse::<Method>().is_err());
}
