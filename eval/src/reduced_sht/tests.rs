//! Tests of the reduced-grid transform, and the measurement behind the
//! exactness table of its module doc.

use super::*;
use crate::legendre::{tri_len, LegendreRecurrence};
use std::f64::consts::PI;

use crate::test_rng::lcg;

fn random_coefficients(lmax: usize, seed: u64) -> Coefficients {
    let mut r = lcg(seed);
    let mut c = Coefficients::zeros(lmax);
    for m in 0..=lmax {
        for l in m..=lmax {
            let im = if m == 0 { 0.0 } else { r() };
            c.set(l, m, Complex64::new(r(), im));
        }
    }
    c
}

fn max_diff(a: &Coefficients, b: &Coefficients) -> f64 {
    assert_eq!(a.lmax, b.lmax);
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).norm())
        .fold(0.0, f64::max)
}

/// The band-limited field of `c` evaluated exactly at every point of
/// `grid` (all orders on every ring, no truncation): `[npoints]`.
/// Independent of the transform: its own Legendre recurrence, direct
/// sums over `m`.
fn sample(grid: &Grid, c: &Coefficients) -> Vec<f64> {
    let rings = grid.rings().unwrap();
    let lmax = c.lmax;
    let rec = LegendreRecurrence::new(lmax);
    (0..rings.len())
        .into_par_iter()
        .flat_map_iter(|j| {
            let theta = (90.0 - rings.lat_deg[j]).to_radians();
            let mut p = vec![0.0; tri_len(lmax)];
            rec.evaluate(theta, &mut p);
            let g: Vec<Complex64> = (0..=lmax)
                .map(|m| {
                    (m..=lmax)
                        .map(|l| c.get(l, m) * p[tri_index(lmax, l, m)])
                        .sum()
                })
                .collect();
            let len = rings.lengths[j];
            (0..len).map(move |k| {
                let phi = 2.0 * PI * k as f64 / len as f64;
                g[0].re
                    + 2.0
                        * (1..=lmax)
                            .map(|m| (g[m] * Complex64::from_polar(1.0, m as f64 * phi)).re)
                            .sum::<f64>()
            })
        })
        .collect()
}

/// (round trip, sampled) errors at truncation `l` on `grid`.
fn errors(grid: &Grid, l: usize) -> (f64, f64) {
    let sht = ReducedSht::new(grid, Some(l)).unwrap();
    let c = random_coefficients(l, 17 + l as u64);
    let round_trip = max_diff(&c, &sht.forward(&sht.inverse(&c)).unwrap());
    let sampled = max_diff(&c, &sht.forward(&sample(grid, &c)).unwrap());
    (round_trip, sampled)
}

#[test]
#[ignore = "measurement for the module doc; run with --release --nocapture"]
fn measure_exactness() {
    for n in [16usize, 32, 96] {
        let grid = Grid::octahedral(n).unwrap();
        let regular = Grid::regular_gaussian(n).unwrap();
        let mut ls = vec![n / 2, n - 8, n - 4, n - 2, n - 1, n, n + 1, n + 4, n + 8];
        ls.extend([3 * n / 2, 2 * n - 1]);
        ls.sort_unstable();
        ls.dedup();
        for l in ls {
            let (rt, s) = errors(&grid, l);
            let (_, floor) = errors(&regular, l);
            println!(
                "O{n} L = {l:>4}: round trip {rt:.1e}, sampled {s:.1e} (N{n} sampled {floor:.1e})"
            );
        }
    }
    for n in [64usize, 128, 320] {
        let grid = Grid::octahedral(n).unwrap();
        for l in [n - 8, n - 1] {
            let (rt, s) = errors(&grid, l);
            println!("O{n} L = {l:>4}: round trip {rt:.1e}, sampled {s:.1e}");
        }
    }
}

#[test]
fn default_truncations_and_ring_orders() {
    let o96 = Grid::octahedral(96).unwrap();
    assert_eq!(ReducedSht::default_lmax(&o96), 95);
    assert_eq!(
        ReducedSht::default_lmax(&Grid::regular_gaussian(48).unwrap()),
        95
    );
    assert_eq!(
        ReducedSht::default_lmax(&Grid::from_spec("latlon:5").unwrap()),
        18
    );
    let o16 = Grid::octahedral(16).unwrap();
    let sht = ReducedSht::new(&o16, None).unwrap();
    assert_eq!(
        (sht.lmax(), sht.npoints(), sht.rings().len()),
        (15, o16.len(), 32)
    );
    // ring i from either pole has 4i + 16 points: orders up to 2i + 7, capped at lmax
    assert_eq!(
        (sht.max_order(0), sht.max_order(1), sht.max_order(2)),
        (9, 11, 13)
    );
    assert_eq!(
        (sht.max_order(3), sht.max_order(15), sht.max_order(31)),
        (15, 15, 9)
    );
    assert!((sht.weights().iter().sum::<f64>() - 2.0).abs() < 1e-14);
    // the table against an independent evaluation, north and (by symmetry) south
    let rec = LegendreRecurrence::new(15);
    let mut p = vec![0.0; tri_len(15)];
    for ring in [0, 7, 20, 31] {
        rec.evaluate(sht.colatitudes()[ring], &mut p);
        for (l, m) in [(0, 0), (3, 1), (10, 4), (15, 15), (14, 9)] {
            let want = p[tri_index(15, l, m)];
            let got = sht.legendre(l, m, ring);
            assert!(
                (got - want).abs() < 1e-13,
                "P̂_{l}^{m} ring {ring}: {got} vs {want}"
            );
        }
    }
    let a = ReducedSht::shared(&o16, None).unwrap();
    assert!(Arc::ptr_eq(
        &a,
        &ReducedSht::shared(&o16, Some(15)).unwrap()
    ));
    assert!(!Arc::ptr_eq(
        &a,
        &ReducedSht::shared(&o16, Some(8)).unwrap()
    ));
}

/// `√((2m+1)/(4π)) · √((2m)!)/(2^m m!) · sin^m θ`, the sectoral `P̂_m^m` in closed form.
fn sectoral(m: usize, theta: f64) -> f64 {
    let mut r = (2.0 * m as f64 + 1.0) / (4.0 * PI);
    for k in 1..=m {
        // (2m)! / (2^m m!)² = Π_k (2k − 1)(2k) / (4 k²) = Π_k (2k − 1) / (2k)
        r *= (2 * k - 1) as f64 / (2 * k) as f64;
    }
    r.sqrt() * theta.sin().powi(m as i32)
}

#[test]
fn single_harmonics_land_in_one_coefficient() {
    // √2 P̂_5^3 cos 3φ -> c_53 = 1/√2 (closed form as in sht.rs); √2 P̂_12^12 sin 12φ ->
    // c_12,12 = −i/√2: order 12 is beyond the first two rings (orders <= 9, 11)
    let grid = Grid::octahedral(16).unwrap();
    let sht = ReducedSht::new(&grid, None).unwrap();
    let pts = grid.point_lat_lon();
    for (l, m, sine) in [(5usize, 3usize, false), (12, 12, true)] {
        let f: Vec<f64> = pts
            .iter()
            .map(|&(lat, lon)| {
                let th = (90.0 - lat).to_radians();
                let phi = lon.to_radians();
                let p = if l == 5 {
                    let (s, x) = (th.sin(), th.cos());
                    let norm = (11.0 / (4.0 * PI) * 2.0 / 40320.0).sqrt();
                    norm * 105.0 / 2.0 * s.powi(3) * (9.0 * x * x - 1.0)
                } else {
                    sectoral(12, th)
                };
                let wave = if sine {
                    (m as f64 * phi).sin()
                } else {
                    (m as f64 * phi).cos()
                };
                2f64.sqrt() * p * wave
            })
            .collect();
        let c = sht.forward(&f).unwrap();
        let want = if sine {
            Complex64::new(0.0, -1.0 / 2f64.sqrt())
        } else {
            Complex64::new(1.0 / 2f64.sqrt(), 0.0)
        };
        for mm in 0..=sht.lmax() {
            for ll in mm..=sht.lmax() {
                let w = if (ll, mm) == (l, m) {
                    want
                } else {
                    Complex64::new(0.0, 0.0)
                };
                let got = c.get(ll, mm);
                assert!((got - w).norm() < 1e-12, "Y_{l}{m}: c_{ll}{mm} = {got}");
            }
        }
        assert!((c.power_spectrum()[l] - 1.0).abs() < 1e-12);
    }
}

#[test]
fn parseval_power_sums_to_the_area_weighted_integral() {
    // ∫ f² dΩ = 4π · mean over points of area_weight · f² (the grid's own
    // quadrature, from fastnet-mesh), and by integrate_product
    for grid in [
        Grid::octahedral(16).unwrap(),
        Grid::regular_gaussian(12).unwrap(),
    ] {
        let sht = ReducedSht::new(&grid, None).unwrap();
        let c = random_coefficients(sht.lmax(), 5);
        let f = sht.inverse(&c);
        let total: f64 = sht.forward(&f).unwrap().power_spectrum().iter().sum();
        let w = grid.area_weights();
        let by_weights =
            4.0 * PI * f.iter().zip(&w).map(|(x, w)| w * x * x).sum::<f64>() / f.len() as f64;
        let by_rings = sht.integrate_product(&f, &f).unwrap();
        for integral in [by_weights, by_rings] {
            assert!(
                (total - integral).abs() < 1e-11 * integral,
                "{}: {total} vs {integral}",
                grid.describe()
            );
        }
    }
}

#[test]
fn band_limited_round_trips_are_exact_at_the_default_truncation() {
    for (grid, tol) in [
        (Grid::octahedral(16).unwrap(), 1e-13),
        (Grid::octahedral(32).unwrap(), 1e-12),
        (Grid::regular_gaussian(16).unwrap(), 1e-13),
    ] {
        let sht = ReducedSht::new(&grid, None).unwrap();
        let c = random_coefficients(sht.lmax(), 11);
        let round_trip = max_diff(&c, &sht.forward(&sht.inverse(&c)).unwrap());
        // the band-limited field sampled exactly, every order on every ring
        let sampled = max_diff(&c, &sht.forward(&sample(&grid, &c)).unwrap());
        assert!(
            round_trip < tol && sampled < tol,
            "{}: {round_trip:e} {sampled:e}",
            grid.describe()
        );
    }
    // above the cubic truncation the polar rings alias: O16 at L = 24 is off by ~1e-7
    let (_, sampled) = errors(&Grid::octahedral(16).unwrap(), 24);
    assert!(sampled > 1e-9, "{sampled:e}");
}

#[test]
fn agrees_with_the_lat_lon_transform_on_the_same_field() {
    // one band-limited field (L = 15) sampled on O32 and on a 33 x 64
    // Clenshaw–Curtis grid: both transforms give its coefficients
    let l = 15;
    let c = random_coefficients(l, 23);
    let o32 = Grid::octahedral(32).unwrap();
    let latlon = Grid::equiangular(33, 64, true).unwrap();
    let reduced = ReducedSht::new(&o32, Some(l))
        .unwrap()
        .forward(&sample(&o32, &c))
        .unwrap();
    let sht = Sht::new(Kind::ClenshawCurtis, 33, 64, Some(l)).unwrap();
    let f = ndarray::Array2::from_shape_vec((33, 64), sample(&latlon, &c)).unwrap();
    let full = sht.forward(f.view()).unwrap();
    assert!(
        max_diff(&reduced, &full) < 1e-12,
        "{:e}",
        max_diff(&reduced, &full)
    );
    assert!(max_diff(&reduced, &c) < 1e-12);
}

#[test]
fn a_regular_gaussian_grid_is_the_gauss_legendre_lat_lon_transform() {
    // N12: 24 rings of 48 points, the same points as Sht's Gauss–Legendre
    // 24 x 48; any field (not band-limited), forward and inverse
    let grid = Grid::regular_gaussian(12).unwrap();
    let reduced = ReducedSht::new(&grid, None).unwrap();
    let sht = Sht::new(Kind::GaussLegendre, 24, 48, None).unwrap();
    assert_eq!(reduced.lmax(), sht.lmax());
    let mut r = lcg(3);
    let f: Vec<f64> = (0..grid.len()).map(|_| r()).collect();
    let a = reduced.forward(&f).unwrap();
    let b = sht
        .forward(ndarray::ArrayView2::from_shape((24, 48), &f).unwrap())
        .unwrap();
    assert!(max_diff(&a, &b) < 1e-13, "{:e}", max_diff(&a, &b));
    let (x, y) = (reduced.inverse(&a), sht.inverse(&a));
    let d = x
        .iter()
        .zip(y.iter())
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max);
    assert!(d < 1e-12, "{d:e}");
}

#[test]
fn bad_grids_truncations_and_lengths_are_named() {
    let e = ReducedSht::new(&Grid::from_spec("latlon:10").unwrap(), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("needs a Gaussian grid") && e.contains("lat-lon"),
        "{e}"
    );
    let o8 = Grid::octahedral(8).unwrap();
    let e = ReducedSht::new(&o8, Some(16)).unwrap_err().to_string();
    assert!(
        e.contains("lmax 16 above 2N − 1 = 15") && e.contains("O8"),
        "{e}"
    );
    // O1: two rings of 20 points; lmax 1 is the most 2 rings integrate
    assert!(ReducedSht::new(&Grid::octahedral(1).unwrap(), None).is_ok());
    let sht = ReducedSht::new(&o8, None).unwrap();
    let e = sht.forward(&[0.0; 10]).unwrap_err().to_string();
    assert!(
        e.contains("[10]") && e.contains(&format!("[{}]", o8.len())),
        "{e}"
    );
    assert!(sht.integrate_product(&[0.0; 3], &[0.0; 3]).is_err());
}
