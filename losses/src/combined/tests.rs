use super::*;
use fastnet_mesh::Grid;
use tch::Device;

const OPTS: (Kind, Device) = (Kind::Double, Device::Cpu);

fn context(grid: &Grid) -> LossContext {
    let gop = GradientOperator::new(grid, Kind::Double, Device::Cpu).unwrap();
    LossContext {
        grid_shape: crate::weights::field_shape(grid),
        area_weights: crate::weights::area_weights(grid, Kind::Double, Device::Cpu).unwrap(),
        channel_weights: Tensor::from_slice(&[1.0f64, 0.5, 2.0]),
        sht: Some(TorchSht::for_grid(grid, None, Kind::Double, Device::Cpu).unwrap()),
        gradient: Some((
            gop,
            Tensor::from_slice(&[1e-5f64, 1e-5, 1e-5]),
            Tensor::from_slice(&[1e-5f64, 1e-5, 1e-5]),
        )),
        wind_pairs: vec![WindPair {
            u_channel: 1,
            v_channel: 2,
            u_mean: 0.0,
            u_std: 10.0,
            v_mean: 0.0,
            v_std: 10.0,
            speed_std: 8.0,
        }],
    }
}

#[test]
fn config_parses_rejects_unknown_keys_and_negative_weights() {
    let c: LossConfig = serde_json::from_str(r#"{"amse": 0.5, "grad_x": 0.1}"#).unwrap();
    assert_eq!((c.mse, c.amse, c.wind_speed), (1.0, 0.5, 5.0));
    assert!(serde_json::from_str::<LossConfig>(r#"{"amsee": 1}"#).is_err());
    let bad = LossConfig {
        grad_y: -1.0,
        ..LossConfig::default()
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("loss.grad_y"));
    let off = LossConfig {
        mse: 0.0,
        ..LossConfig::default()
    };
    assert!(off.validate().is_err());
}

#[test]
fn every_term_is_zero_at_the_target_and_reported_separately() {
    for spec in ["latlon:10", "o8"] {
        every_term_on(&Grid::from_spec(spec).unwrap());
    }
}

/// `[batch, 3, *grid]`.
fn batch_shape(grid: &Grid, batch: i64) -> Vec<i64> {
    let mut s = vec![batch, 3];
    s.extend(crate::weights::field_shape(grid));
    s
}

fn every_term_on(grid: &Grid) {
    // ε of the AMSE coherence leaves ~ε/P_l at equality; make it negligible
    let config = LossConfig {
        amse: 0.5,
        grad_x: 0.1,
        grad_y: 0.1,
        wind: true,
        amse_epsilon: 1e-24,
        ..LossConfig::default()
    };
    let mut loss = CombinedLoss::new(config, context(grid)).unwrap();
    tch::manual_seed(3);
    let x = Tensor::randn(batch_shape(grid, 2).as_slice(), OPTS);
    let out = loss.forward(&x, &x).unwrap();
    let names: Vec<&str> = out.terms.iter().map(|t| t.0).collect();
    assert_eq!(
        names,
        [
            "mse",
            "amse",
            "grad_x",
            "grad_y",
            "wind_direction",
            "wind_speed"
        ]
    );
    for (n, v) in &out.terms {
        assert!(v.abs() < 1e-12, "{}: {n} = {v}", grid.describe());
    }
    let y =
        (&x + Tensor::randn(batch_shape(grid, 2).as_slice(), OPTS) * 0.1).set_requires_grad(true);
    let out = loss.forward(&y, &x).unwrap();
    let sum: f64 = out.terms.iter().map(|t| t.1).sum();
    assert!((f64::try_from(&out.total).unwrap() - sum).abs() < 1e-9 * sum.abs());
    assert!(out.terms.iter().all(|t| t.1 > 0.0));
    out.total.backward();
    assert!(f64::try_from(y.grad().abs().sum(Kind::Double)).unwrap() > 0.0);
}

#[test]
fn running_normaliser_scales_each_channel_to_its_running_mean() {
    let grid = Grid::from_spec("latlon:10").unwrap();
    let config = LossConfig {
        mse: 0.0,
        amse: 1.0,
        amse_running_normaliser: true,
        amse_running_decay: 0.5,
        ..LossConfig::default()
    };
    let mut loss = CombinedLoss::new(config, context(&grid)).unwrap();
    tch::manual_seed(5);
    let x = Tensor::randn([1, 3, 19, 36], OPTS);
    let y = &x + Tensor::randn([1, 3, 19, 36], OPTS) * 0.2;
    // first step: β_j = 1/AMSE_j, so the term is Σ_j channel weight_j = 3.5
    let out = loss.forward(&y, &x).unwrap();
    assert!((out.terms[0].1 - 3.5).abs() < 1e-9, "{}", out.terms[0].1);
    let a1 = out.per_channel[0].1.clone();
    // second step: β_j = 1/(0.5 a1_j + 0.5 a2_j)
    let y2 = &x + (&y - &x) * 2.0;
    let out = loss.forward(&y2, &x).unwrap();
    let a2 = &out.per_channel[0].1;
    let want: f64 = [1.0, 0.5, 2.0]
        .iter()
        .zip(a1.iter().zip(a2))
        .map(|(w, (p, q))| w * q / (0.5 * p + 0.5 * q))
        .sum();
    assert!(
        (out.terms[0].1 - want).abs() < 1e-9 * want,
        "{} vs {want}",
        out.terms[0].1
    );
    // evaluating step 2 again with its β gives the same value and
    // leaves the running mean where it was
    let beta = out.amse_beta.clone().unwrap();
    let again = loss.forward_with_beta(&y2, &x, Some(&beta)).unwrap();
    assert_eq!(again.terms[0].1, out.terms[0].1);
    assert_eq!(
        loss.running.as_deref(),
        Some(
            &a1.iter()
                .zip(a2)
                .map(|(p, q)| 0.5 * p + 0.5 * q)
                .collect::<Vec<_>>()[..]
        )
    );
}

#[test]
fn missing_operators_are_config_errors() {
    let grid = Grid::from_spec("latlon:10").unwrap();
    let mut ctx = context(&grid);
    ctx.sht = None;
    let e = CombinedLoss::new(
        LossConfig {
            amse: 1.0,
            ..LossConfig::default()
        },
        ctx,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("loss.amse"), "{e}");
}

#[test]
fn f32_matches_f64() {
    for spec in ["latlon:10", "o8"] {
        f32_matches_f64_on(&Grid::from_spec(spec).unwrap());
    }
}

fn f32_matches_f64_on(grid: &Grid) {
    let config = LossConfig {
        amse: 0.5,
        grad_x: 0.1,
        grad_y: 0.1,
        wind: true,
        ..LossConfig::default()
    };
    tch::manual_seed(4);
    let x = Tensor::randn(batch_shape(grid, 2).as_slice(), OPTS);
    let y = &x + Tensor::randn(batch_shape(grid, 2).as_slice(), OPTS) * 0.3;
    let mut l64 = CombinedLoss::new(config.clone(), context(grid)).unwrap();
    let r64 = l64.forward(&y, &x).unwrap();
    let ctx = context(grid);
    let (gop, sx, sy) = ctx.gradient.unwrap();
    let _ = gop;
    let ctx32 = LossContext {
        grid_shape: ctx.grid_shape.clone(),
        area_weights: ctx.area_weights.to_kind(Kind::Float),
        channel_weights: ctx.channel_weights.to_kind(Kind::Float),
        sht: Some(TorchSht::for_grid(grid, None, Kind::Float, Device::Cpu).unwrap()),
        gradient: Some((
            GradientOperator::new(grid, Kind::Float, Device::Cpu).unwrap(),
            sx.to_kind(Kind::Float),
            sy.to_kind(Kind::Float),
        )),
        wind_pairs: ctx.wind_pairs,
    };
    let mut l32 = CombinedLoss::new(config, ctx32).unwrap();
    let r32 = l32
        .forward(&y.to_kind(Kind::Float), &x.to_kind(Kind::Float))
        .unwrap();
    for ((n, a), (_, b)) in r64.terms.iter().zip(&r32.terms) {
        assert!(
            (a - b).abs() < 1e-5 * a.abs(),
            "{}: {n}: f64 {a} vs f32 {b}",
            grid.describe()
        );
    }
}

#[test]
fn fields_of_another_grid_and_operators_of_another_grid_are_refused() {
    let o8 = Grid::octahedral(8).unwrap();
    let mut loss = CombinedLoss::new(LossConfig::default(), context(&o8)).unwrap();
    let ll = Tensor::zeros([1, 3, 19, 36], OPTS);
    let e = loss.forward(&ll, &ll).err().unwrap().to_string();
    assert!(e.contains(&format!("[batch, 3, {}]", o8.len())), "{e}");
    // an AMSE transform of the lat-lon grid in an O8 context
    let mut ctx = context(&o8);
    ctx.sht = Some(
        TorchSht::for_grid(
            &Grid::from_spec("latlon:10").unwrap(),
            None,
            Kind::Double,
            Device::Cpu,
        )
        .unwrap(),
    );
    let e = CombinedLoss::new(
        LossConfig {
            amse: 1.0,
            ..LossConfig::default()
        },
        ctx,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("spherical-harmonic") && e.contains("[19, 36]"),
        "{e}"
    );
}
