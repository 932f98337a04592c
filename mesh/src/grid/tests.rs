//! Tests of the grids: shapes, coordinates, weights and specs.

use super::*;

#[test]
fn era5_quarter_degree_shape_and_coordinates() {
    let g = Grid::equiangular_deg(0.25, true).unwrap();
    assert_eq!(g.shape(), vec![721, 1440]);
    let lat = g.latitudes_deg();
    assert_eq!(
        (lat[0], lat[1], lat[360], lat[720]),
        (90.0, 89.75, 0.0, -90.0)
    );
    let lon = g.longitudes_deg();
    assert_eq!((lon[0], lon[1], lon[1439]), (0.0, 0.25, 359.75));
    assert_eq!(Grid::from_spec("era5").unwrap(), g);
    assert_eq!(Grid::from_spec("latlon:721x1440").unwrap(), g);
    assert_eq!(
        Grid::from_spec("era5-1deg").unwrap().shape(),
        vec![181, 360]
    );
}

#[test]
fn weatherbench_grid_has_no_poles() {
    let g = Grid::from_spec("weatherbench-5.625").unwrap();
    assert_eq!(g.shape(), vec![32, 64]);
    let lat = g.latitudes_deg();
    assert_eq!(lat[0], 87.1875);
    assert_eq!(lat[31], -87.1875);
    assert_eq!(Grid::from_spec("latlon-nopoles:32x64").unwrap(), g);
}

#[test]
fn area_weights_are_cell_areas() {
    // Closed form: with poles, the pole cap of half a step Δ has area
    // ∝ 1 − cos(Δ/2) and an interior ring ∝ 2 sin(Δ/2) cos φ.
    for (spec, poles) in [("latlon:2.5", true), ("latlon-nopoles:5.625", false)] {
        let g = Grid::from_spec(spec).unwrap();
        let w = g.latitude_weights().unwrap();
        let lat = g.latitudes_deg();
        let half = (180.0
            / if poles {
                (lat.len() - 1) as f64
            } else {
                lat.len() as f64
            }
            / 2.0)
            .to_radians();
        let closed: Vec<f64> = lat
            .iter()
            .map(|&p| {
                if p.abs() == 90.0 {
                    1.0 - half.cos()
                } else {
                    2.0 * half.sin() * p.to_radians().cos()
                }
            })
            .collect();
        let mean = closed.iter().sum::<f64>() / closed.len() as f64;
        for (a, b) in w.iter().zip(&closed) {
            assert!((a - b / mean).abs() < 1e-12, "{spec}: {a} vs {}", b / mean);
        }
        let total: f64 = g.area_weights().iter().sum();
        assert!((total / g.len() as f64 - 1.0).abs() < 1e-12);
    }
}

#[test]
fn resolutions_that_do_not_divide_the_sphere_are_refused() {
    for r in [0.7, 7.0, 0.0, -1.0, f64::NAN] {
        assert!(
            matches!(
                Grid::equiangular_deg(r, true),
                Err(MeshError::ResolutionDoesNotDivide { .. })
            ),
            "{r}"
        );
    }
    let msg = Grid::from_spec("latlon:0.7").unwrap_err().to_string();
    assert!(msg.contains("0.7") && msg.contains("divide"), "{msg}");
}

#[test]
fn bad_point_lists_and_specs_are_refused() {
    assert!(matches!(Grid::points(&[]), Err(MeshError::EmptyPointList)));
    assert!(matches!(
        Grid::points(&[(0.0, 0.0), (91.0, 0.0)]),
        Err(MeshError::BadPoint { index: 1, .. })
    ));
    assert!(matches!(
        Grid::points(&[(f64::NAN, 0.0)]),
        Err(MeshError::BadPoint { index: 0, .. })
    ));
    assert!(matches!(
        Grid::equiangular(1, 4, true),
        Err(MeshError::BadGridShape { .. })
    ));
    assert!(matches!(
        Grid::from_spec("hexagons:3"),
        Err(MeshError::BadGridSpec { .. })
    ));
    assert!(matches!(
        Grid::from_spec("latlon:12xabc"),
        Err(MeshError::BadGridSpec { .. })
    ));
    let p = Grid::points(&[(10.0, -90.0)]).unwrap();
    assert_eq!(p.longitudes_deg(), vec![270.0]);
}

#[test]
fn points_from_csv_file() {
    let dir = std::env::temp_dir().join(format!("fastnet-grid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ok = dir.join("ok.csv");
    std::fs::write(&ok, "lat,lon\n# stations\n51.5, -0.1\n\n-33.9,151.2\n").unwrap();
    let g = Grid::from_spec(&format!("points:{}", ok.display())).unwrap();
    assert_eq!(g.len(), 2);
    let empty = dir.join("empty.csv");
    std::fs::write(&empty, "lat,lon\n").unwrap();
    let msg = Grid::points_from_csv(&empty).unwrap_err().to_string();
    assert!(
        msg.contains("empty.csv") && msg.contains("no `lat,lon` points"),
        "{msg}"
    );
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "51.5;-0.1\n").unwrap();
    let msg = Grid::points_from_csv(&bad).unwrap_err().to_string();
    assert!(msg.contains("line 1"), "{msg}");
    assert!(matches!(
        Grid::points_from_csv(&dir.join("missing.csv")),
        Err(MeshError::Io { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- Gaussian grids ----------------------------------------------------

#[test]
fn o96_has_192_rings_and_40320_points() {
    let g = Grid::octahedral(96).unwrap();
    assert!(g.is_gaussian());
    assert_eq!(g.len(), 40_320);
    assert_eq!(g.shape(), vec![40_320]);
    let r = g.rings().unwrap();
    assert_eq!(r.len(), 192);
    // 20, 24, ..., 400 from the north pole, then the mirror image
    let north: Vec<usize> = (1..=96).map(|i| 4 * i + 16).collect();
    assert_eq!(&r.lengths[..96], &north[..]);
    assert_eq!((r.lengths[0], r.lengths[95], r.lengths[96]), (20, 400, 400));
    let south: Vec<usize> = r.lengths[96..].iter().rev().copied().collect();
    assert_eq!(south, north);
    assert_eq!(r.lengths.iter().sum::<usize>(), 40_320);
    assert_eq!(r.npoints(), 40_320);
    assert_eq!(r.offsets.len(), 193);
    assert_eq!((r.offsets[0], r.offsets[1], r.offsets[2]), (0, 20, 44));
    for i in 0..192 {
        assert_eq!(r.offsets[i + 1] - r.offsets[i], r.lengths[i]);
    }
    assert_eq!(g.point_lat_lon().len(), 40_320);
    assert_eq!(g.latitudes_deg().len(), 40_320);
    assert_eq!(g.longitudes_deg().len(), 40_320);
    assert_eq!(
        g.describe(),
        "octahedral reduced Gaussian O96 (192 rings, 40320 points)"
    );
    assert_eq!(g.latitude_weights(), None);
}

#[test]
fn o320_and_regular_gaussian_sizes() {
    // DESIGN.md §7: O320 has 421,120 points (4N² + 36N)
    let o320 = Grid::octahedral(320).unwrap();
    assert_eq!(o320.len(), 421_120);
    assert_eq!(o320.rings().unwrap().npoints(), 421_120);
    // N48: 96 rings of 192 points
    let n48 = Grid::regular_gaussian(48).unwrap();
    let r = n48.rings().unwrap();
    assert_eq!(r.len(), 96);
    assert!(r.lengths.iter().all(|&l| l == 192));
    assert_eq!(n48.len(), 96 * 192);
    assert_eq!(n48.shape(), vec![96 * 192]);
    assert_eq!(
        n48.describe(),
        "regular Gaussian N48 (96 rings, 18432 points)"
    );
    // both kinds share the Gaussian latitudes of their N
    assert_eq!(
        Grid::octahedral(48).unwrap().ring_latitudes_deg(),
        n48.ring_latitudes_deg()
    );
    // lat-lon grids have rings too, all nlon long
    let ll = Grid::from_spec("latlon:30").unwrap().rings().unwrap();
    assert_eq!(ll.lengths, vec![12; 7]);
    assert_eq!(ll.lat_deg[0], 90.0);
    assert_eq!(ll.offsets[7], 84);
    assert!(Grid::points(&[(0.0, 0.0)]).unwrap().rings().is_none());
}

#[test]
fn o96_first_latitude_is_ecmwfs_89_2842() {
    // ECMWF's O96 (and N96) first Gaussian latitude, 89.2842° to 4
    // decimals, derived here three ways: the grid, the arcsine of the
    // Gauss–Legendre node x_0 of the 192-point rule, and Olver's Bessel-zero
    // asymptote for the first root of P_n, θ_1 ≈ ψ + (ψ cot ψ − 1)/(8ψν²),
    // ψ = j_{0,1}/ν, ν = n + ½ (error ~ 0.02 ν⁻⁵ ≈ 1e-13 rad here),
    // independent of the Newton iteration.
    let lat = Grid::octahedral(96).unwrap().ring_latitudes_deg().unwrap();
    let (x, _) = crate::gaussian::gauss_legendre(192);
    let from_node = x[0].asin().to_degrees();
    let nu = 192.5f64;
    let psi = 2.404_825_557_695_773 / nu;
    let olver = psi + (psi / psi.tan() - 1.0) / (8.0 * psi * nu * nu);
    let from_bessel = 90.0 - olver.to_degrees();
    // asin near 1 amplifies the rounding of x_0 by 1/cos φ ≈ 80
    assert!(
        (lat[0] - from_node).abs() < 1e-11,
        "{} vs {from_node}",
        lat[0]
    );
    assert!(
        (lat[0] - from_bessel).abs() < 1e-11,
        "{} vs {from_bessel}",
        lat[0]
    );
    assert_eq!(format!("{:.4}", lat[0]), "89.2842");
    assert_eq!(format!("{:.6}", lat[0]), "89.284228");
    // the rings are exactly symmetric and strictly decreasing
    for i in 0..192 {
        assert_eq!(lat[i], -lat[191 - i]);
    }
    assert!(lat.windows(2).all(|w| w[0] > w[1]));
    assert!(lat[95] > 0.0 && lat[95] < 90.0 / 192.0 * 1.1);
}

#[test]
fn gaussian_points_run_ring_by_ring_from_longitude_zero() {
    let g = Grid::octahedral(3).unwrap(); // rings of 20, 24, 28, 28, 24, 20
    let r = g.rings().unwrap();
    assert_eq!(r.lengths, vec![20, 24, 28, 28, 24, 20]);
    let pts = g.point_lat_lon();
    for ring in 0..r.len() {
        for k in 0..r.lengths[ring] {
            let (lat, lon) = pts[r.offsets[ring] + k];
            assert_eq!(lat, r.lat_deg[ring]);
            assert!((lon - 360.0 * k as f64 / r.lengths[ring] as f64).abs() < 1e-12);
        }
    }
    assert_eq!(pts[20], (r.lat_deg[1], 0.0));
    assert_eq!(pts[21].1, 15.0);
    let lat = g.latitudes_deg();
    let lon = g.longitudes_deg();
    assert_eq!(lat.len(), g.len());
    assert_eq!(pts, lat.into_iter().zip(lon).collect::<Vec<_>>());
    // unit vectors follow the same order
    let p = g.positions();
    assert!((p[20][2] - r.lat_deg[1].to_radians().sin()).abs() < 1e-15);
}

#[test]
fn gaussian_area_weights_are_ring_weights_shared_by_the_points() {
    for g in [
        Grid::octahedral(16).unwrap(),
        Grid::regular_gaussian(8).unwrap(),
    ] {
        let Grid::Gaussian { n, .. } = g else {
            unreachable!()
        };
        let w = g.area_weights();
        let r = g.rings().unwrap();
        assert_eq!(w.len(), g.len());
        assert!((w.iter().sum::<f64>() / g.len() as f64 - 1.0).abs() < 1e-13);
        // ring sums are proportional to the GL weights: ratio npoints / 2
        let (_, gl) = crate::gaussian::gauss_legendre(2 * n);
        for ring in 0..r.len() {
            let span = &w[r.offsets[ring]..r.offsets[ring + 1]];
            assert!(span.iter().all(|&x| x == span[0]), "equal within a ring");
            let sum: f64 = span.iter().sum();
            assert!((sum / gl[ring] - g.len() as f64 / 2.0).abs() < 1e-9);
        }
        // a weighted mean is a surface mean: ⟨sin²φ⟩ = 1/3, ⟨sin⁴φ⟩ = 1/5,
        // ⟨cos²φ cos 2λ⟩ = 0, exact for the Gaussian quadrature
        let pts = g.point_lat_lon();
        let mean = |f: &dyn Fn(f64, f64) -> f64| {
            pts.iter()
                .zip(&w)
                .map(|(&(la, lo), &wi)| wi * f(la.to_radians(), lo.to_radians()))
                .sum::<f64>()
                / g.len() as f64
        };
        assert!((mean(&|la, _| la.sin().powi(2)) - 1.0 / 3.0).abs() < 1e-14);
        assert!((mean(&|la, _| la.sin().powi(4)) - 1.0 / 5.0).abs() < 1e-14);
        assert!(mean(&|la, lo| la.cos().powi(2) * (2.0 * lo).cos()).abs() < 1e-14);
    }
}

#[test]
fn gaussian_specs_parse_and_round_trip() {
    for (spec, grid) in [
        ("o96", Grid::octahedral(96).unwrap()),
        ("O96", Grid::octahedral(96).unwrap()),
        ("O1", Grid::octahedral(1).unwrap()),
        ("n48", Grid::regular_gaussian(48).unwrap()),
        ("N48", Grid::regular_gaussian(48).unwrap()),
    ] {
        assert_eq!(Grid::from_spec(spec).unwrap(), grid, "{spec}");
    }
    assert_eq!(
        Grid::from_spec("o96").unwrap(),
        Grid::Gaussian {
            n: 96,
            octahedral: true
        }
    );
    // canonical forms parse back to the same grid
    for grid in [
        Grid::octahedral(320).unwrap(),
        Grid::regular_gaussian(7).unwrap(),
        Grid::from_spec("era5").unwrap(),
        Grid::from_spec("weatherbench-5.625").unwrap(),
    ] {
        let spec = grid.spec().unwrap();
        assert_eq!(Grid::from_spec(&spec).unwrap(), grid, "{spec}");
    }
    assert_eq!(Grid::octahedral(96).unwrap().spec().unwrap(), "O96");
    assert_eq!(Grid::points(&[(1.0, 2.0)]).unwrap().spec(), None);
    // serde form, as checkpoints store it
    let json = serde_json::to_string(&Grid::octahedral(96).unwrap()).unwrap();
    assert_eq!(json, r#"{"kind":"gaussian","n":96,"octahedral":true}"#);
    assert_eq!(
        serde_json::from_str::<Grid>(&json).unwrap(),
        Grid::octahedral(96).unwrap()
    );
    // a stored grid is checked like a parsed one: no O(10^9) from a sidecar
    let e = serde_json::from_str::<Grid>(r#"{"kind":"gaussian","n":1000000000,"octahedral":true}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("1000000000"), "{e}");
    assert!(serde_json::from_str::<Grid>(
        r#"{"kind":"equiangular","nlat":0,"nlon":4,"poles":true}"#
    )
    .is_err());
    assert!(
        serde_json::from_str::<Grid>(r#"{"kind":"points","lat_deg":[1.0],"lon_deg":[]}"#).is_err()
    );
}

#[test]
fn bad_gaussian_grids_are_refused() {
    assert!(matches!(
        Grid::octahedral(0),
        Err(MeshError::BadGaussianGrid {
            kind: 'O',
            n: 0,
            ..
        })
    ));
    assert!(matches!(
        Grid::regular_gaussian(MAX_GAUSSIAN_N + 1),
        Err(MeshError::BadGaussianGrid { kind: 'N', .. })
    ));
    for spec in ["o0", "N0", "o99999999999999999999999"] {
        let e = Grid::from_spec(spec).unwrap_err();
        assert!(matches!(e, MeshError::BadGridSpec { .. }), "{spec}");
        assert!(e.to_string().contains(spec), "{e}");
    }
    // not of the form oN / nN: the general hint lists the Gaussian kinds
    for spec in ["o", "o9x", "n-3", "octahedral96"] {
        let e = Grid::from_spec(spec).unwrap_err().to_string();
        assert!(e.contains("oN") && e.contains("nN"), "{spec}: {e}");
    }
}
