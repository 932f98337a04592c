use super::*;

const OPTS: (Kind, Device) = (Kind::Double, Device::Cpu);

fn field(grid: &Grid, f: impl Fn(f64, f64) -> f64) -> Tensor {
    let (lat, lon) = (grid.latitudes_deg(), grid.longitudes_deg());
    let v: Vec<f64> = lat
        .iter()
        .flat_map(|&a| lon.iter().map(move |&b| (a, b)))
        .map(|(a, b)| f(a.to_radians(), b.to_radians()))
        .collect();
    Tensor::from_slice(&v).view([1, 1, lat.len() as i64, lon.len() as i64])
}

#[test]
fn derivatives_of_smooth_fields_match_closed_forms() {
    let grid = Grid::from_spec("latlon:1").unwrap();
    let op = GradientOperator::new(&grid, Kind::Double, Device::Cpu).unwrap();
    let r = 6.371e6;
    // f = cos φ sin λ: ∂x = cos λ / R, ∂y = −sin φ sin λ / R
    let f = field(&grid, |p, l| p.cos() * l.sin());
    let dx = op.dx(&f).unwrap();
    let dy = op.dy(&f).unwrap();
    let want_x = field(&grid, |p, l| if p.cos() < 1e-9 { 0.0 } else { l.cos() / r });
    let want_y = field(&grid, |p, l| -p.sin() * l.sin() / r);
    let ex = f64::try_from((dx - want_x).abs().max()).unwrap() * r;
    let ey = f64::try_from((dy - want_y).narrow(2, 1, 179).abs().max()).unwrap() * r;
    assert!(ex < 1e-4 && ey < 1e-4, "{ex} {ey}");
}

#[test]
fn loss_is_zero_for_equal_fields_and_positive_otherwise_with_a_correct_gradient() {
    let grid = Grid::from_spec("latlon:10").unwrap();
    let op = GradientOperator::new(&grid, Kind::Double, Device::Cpu).unwrap();
    tch::manual_seed(1);
    let x = Tensor::randn([2, 3, 19, 36], OPTS);
    let (sx, sy) = op.derivative_std(&x).unwrap();
    let (lx, ly) = op.loss_per_channel(&x, &x, &sx, &sy).unwrap();
    assert_eq!(f64::try_from(lx.sum(Kind::Double)).unwrap(), 0.0);
    assert_eq!(f64::try_from(ly.sum(Kind::Double)).unwrap(), 0.0);
    let y = Tensor::randn([2, 3, 19, 36], OPTS).set_requires_grad(true);
    let loss = |p: &Tensor| {
        let (a, b) = op.loss_per_channel(p, &x, &sx, &sy).unwrap();
        (a + b).sum(Kind::Double)
    };
    let l = loss(&y);
    assert!(f64::try_from(&l).unwrap() > 0.0);
    l.backward();
    let g = y.grad();
    for &(c, i, j) in &[(0i64, 0i64, 0i64), (1, 9, 17), (2, 18, 35), (0, 3, 4)] {
        let h = 1e-6;
        let bump = |s: f64| {
            let z = y.detach().copy();
            let v = f64::try_from(z.get(0).get(c).get(i).get(j)).unwrap();
            let _ = z.get(0).get(c).get(i).get(j).fill_(v + s);
            f64::try_from(loss(&z)).unwrap()
        };
        let fd = (bump(h) - bump(-h)) / (2.0 * h);
        let an = f64::try_from(g.get(0).get(c).get(i).get(j)).unwrap();
        assert!(
            (fd - an).abs() < 1e-6 * (1.0 + an.abs()),
            "({c},{i},{j}) fd {fd} vs {an}"
        );
    }
    let bad = Tensor::ones([2], OPTS);
    assert!(op.loss_per_channel(&y, &x, &bad, &sy).is_err());
}

/// `f(φ, λ)` at every point of a Gaussian grid, `[1, 1, npoints]`.
fn point_field(grid: &Grid, f: impl Fn(f64, f64) -> f64) -> Tensor {
    let v: Vec<f64> = grid
        .point_lat_lon()
        .iter()
        .map(|&(a, b)| f(a.to_radians(), b.to_radians()))
        .collect();
    Tensor::from_slice(&v).view([1, 1, grid.len() as i64])
}

/// max |R ∂y f − R ∂y f exact| on O`n`.
fn gaussian_errors(n: usize, interp: RingInterpolation, f: Field, fy: Field) -> f64 {
    let r = EARTH_RADIUS_KM * 1e3;
    let grid = Grid::octahedral(n).unwrap();
    let op =
        GradientOperator::with_interpolation(&grid, interp, Kind::Double, Device::Cpu).unwrap();
    let d = op.dy(&point_field(&grid, f)).unwrap() * r - point_field(&grid, fy);
    f64::try_from(d.abs().max()).unwrap()
}

/// max |R ∂x f − R ∂x f exact| on O`n`.
fn gaussian_errors_x(n: usize, f: Field, fx: Field) -> f64 {
    let r = EARTH_RADIUS_KM * 1e3;
    let grid = Grid::octahedral(n).unwrap();
    let op = GradientOperator::new(&grid, Kind::Double, Device::Cpu).unwrap();
    let d = op.dx(&point_field(&grid, f)).unwrap() * r - point_field(&grid, fx);
    f64::try_from(d.abs().max()).unwrap()
}

type Field = &'static dyn Fn(f64, f64) -> f64;

/// (name, f, R ∂x f, R ∂y f) of the analytic test fields.
fn analytic_fields() -> [(&'static str, Field, Field, Field); 3] {
    [
        ("sin φ", &|p, _| p.sin(), &|_, _| 0.0, &|p, _| p.cos()),
        (
            "cos φ cos λ",
            &|p, l| p.cos() * l.cos(),
            &|_, l| -l.sin(),
            &|p, l| -p.sin() * l.cos(),
        ),
        (
            "cos²φ sin 2λ",
            &|p, l| p.cos().powi(2) * (2.0 * l).sin(),
            &|p, l| 2.0 * p.cos() * (2.0 * l).cos(),
            &|p, l| -(2.0 * p).sin() * (2.0 * l).sin(),
        ),
    ]
}

#[test]
fn gaussian_dx_is_the_centred_difference_within_each_ring() {
    // For f = A(φ) e^{imλ} the centred difference with spacing Δλ_j is
    // exactly (sin(mΔλ_j)/(mΔλ_j)) ∂f/∂λ: check that closed form to
    // round-off on O32 (it fixes the ring spacing, the neighbours and
    // the 1/(R cos φ) of every ring).
    let grid = Grid::octahedral(32).unwrap();
    let r = EARTH_RADIUS_KM * 1e3;
    let op = GradientOperator::new(&grid, Kind::Double, Device::Cpu).unwrap();
    assert_eq!(op.field_shape(), vec![grid.len() as i64]);
    let rings = grid.rings().unwrap();
    // Δλ_j of every point's ring
    let spacing: Vec<f64> = rings
        .lengths
        .iter()
        .flat_map(|&len| std::iter::repeat_n(len, len))
        .map(|len| 2.0 * std::f64::consts::PI / len as f64)
        .collect();
    let dl = Tensor::from_slice(&spacing).view([1, 1, -1]);
    for (name, m, f, fx) in [
        (
            "cos φ cos λ",
            1.0,
            analytic_fields()[1].1,
            analytic_fields()[1].2,
        ),
        (
            "cos²φ sin 2λ",
            2.0,
            analytic_fields()[2].1,
            analytic_fields()[2].2,
        ),
    ] {
        let got = op.dx(&point_field(&grid, f)).unwrap() * r;
        let md = &dl * m;
        let want = point_field(&grid, fx) * md.sin() / &md;
        let e = f64::try_from((&got - &want).abs().max()).unwrap();
        assert!(e < 1e-12, "{name}: {e}");
        // and the truncation error against ∂x itself: (mΔλ)²/6 at most
        let exact = point_field(&grid, fx);
        let bound = md.square() / 6.0 * exact.abs() + 1e-12;
        let over = f64::try_from((&got - &exact).abs().gt_tensor(&bound).sum(Kind::Int64)).unwrap();
        assert_eq!(over, 0.0, "{name}: truncation error above (mΔλ)²/6");
    }
    let zonal = op.dx(&point_field(&grid, |p, _| p.sin())).unwrap();
    assert_eq!(f64::try_from(zonal.abs().max()).unwrap(), 0.0);
}

#[test]
fn gaussian_dy_converges_at_second_order() {
    // max |R ∂y − exact| on O16 and O32 (measured: sin φ 1.55e-3,
    // 3.95e-4; cos φ cos λ 3.04e-3, 7.78e-4; cos²φ sin 2λ 6.13e-3,
    // 1.57e-3): ratios 3.9 — second order, the one-sided first and
    // last rings included.
    for (name, f, _, fy) in analytic_fields() {
        let e16 = gaussian_errors(16, RingInterpolation::Cubic, f, fy);
        let e32 = gaussian_errors(32, RingInterpolation::Cubic, f, fy);
        let bound32 = match name {
            "sin φ" => 5e-4,
            "cos φ cos λ" => 1e-3,
            _ => 2e-3,
        };
        assert!(e32 < bound32, "{name}: O32 error {e32:.3e}");
        assert!(
            (3.5..4.5).contains(&(e16 / e32)),
            "{name}: O16 {e16:.3e} / O32 {e32:.3e} = {}",
            e16 / e32
        );
    }
    // linear interpolation along the rings does not converge for a
    // field that varies in longitude (1.6e-2 at O16 and 1.8e-2 at O32)
    let (_, f, _, fy) = analytic_fields()[1];
    let lin = gaussian_errors(32, RingInterpolation::Linear, f, fy);
    assert!(lin > 1e-2, "linear: {lin:.3e}");
}

#[test]
fn gaussian_loss_is_zero_for_equal_fields_with_a_correct_gradient() {
    let grid = Grid::octahedral(8).unwrap();
    let np = grid.len() as i64;
    let op = GradientOperator::new(&grid, Kind::Double, Device::Cpu).unwrap();
    tch::manual_seed(2);
    let x = Tensor::randn([2, 3, np], OPTS);
    let (sx, sy) = op.derivative_std(&x).unwrap();
    assert_eq!(sx.size(), [3]);
    let (lx, ly) = op.loss_per_channel(&x, &x, &sx, &sy).unwrap();
    assert_eq!(f64::try_from(lx.sum(Kind::Double)).unwrap(), 0.0);
    assert_eq!(f64::try_from(ly.sum(Kind::Double)).unwrap(), 0.0);
    let y = Tensor::randn([2, 3, np], OPTS).set_requires_grad(true);
    let loss = |p: &Tensor| {
        let (a, b) = op.loss_per_channel(p, &x, &sx, &sy).unwrap();
        (a + b).sum(Kind::Double)
    };
    let l = loss(&y);
    assert!(f64::try_from(&l).unwrap() > 0.0);
    l.backward();
    let g = y.grad();
    let h = 1e-6;
    for &(c, p) in &[(0i64, 0i64), (1, 19), (2, np / 2), (0, np - 1), (1, 100)] {
        let bump = |s: f64| {
            let z = y.detach().copy();
            let v = f64::try_from(z.get(0).get(c).get(p)).unwrap();
            let _ = z.get(0).get(c).get(p).fill_(v + s);
            f64::try_from(loss(&z)).unwrap()
        };
        let fd = (bump(h) - bump(-h)) / (2.0 * h);
        let an = f64::try_from(g.get(0).get(c).get(p)).unwrap();
        assert!(
            (fd - an).abs() < 1e-6 * (1.0 + an.abs()),
            "({c},{p}) fd {fd} vs {an}"
        );
    }
    // lat-lon shaped input and point grids are refused, naming shapes
    let e = op
        .dx(&Tensor::zeros([1, 1, 16, 20], OPTS))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains(&format!("[batch, channels, {np}]")), "{e}");
    let points = Grid::points(&[(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)]).unwrap();
    let e = GradientOperator::new(&points, Kind::Double, Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("3 points"), "{e}");
}

#[test]
#[ignore]
fn measure_gaussian_gradient_errors() {
    // cargo test -p fastnet-losses measure_gaussian -- --ignored --nocapture
    for interp in [RingInterpolation::Linear, RingInterpolation::Cubic] {
        for (name, f, fx, fy) in analytic_fields() {
            let e: Vec<(f64, f64)> = [16, 32, 64, 128]
                .iter()
                .map(|&n| {
                    (
                        gaussian_errors_x(n, f, fx),
                        gaussian_errors(n, interp, f, fy),
                    )
                })
                .collect();
            eprintln!(
                "{interp:?} {name}: R·max|∂x err| O16..O128 {:.2e} {:.2e} {:.2e} {:.2e}; \
                 R·max|∂y err| {:.2e} {:.2e} {:.2e} {:.2e}",
                e[0].0, e[1].0, e[2].0, e[3].0, e[0].1, e[1].1, e[2].1, e[3].1
            );
        }
    }
}
