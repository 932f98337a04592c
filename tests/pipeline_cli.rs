//! The whole product from the command line on generated ERA5-layout data:
//! stats -> train -> forecast -> eval.

mod common;
use common::{fastnet, ok};

use std::path::Path;

use fastnet_data::fixture::{scratch_dir, write_synthetic};
use fastnet_data::writer::WriteOptions;
use fastnet_mesh::Grid;

const T0: i64 = 1_577_836_800; // 2020-01-01

#[test]
fn stats_train_forecast_eval() {
    let dir = scratch_dir("pipeline");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let grid = Grid::from_spec("latlon-nopoles:16x32").unwrap();
    let times: Vec<i64> = (0..24).map(|k| T0 + k * 6 * 3600).collect();
    let data = dir.join("era5.nc");
    write_synthetic(
        &data,
        &grid,
        &times,
        &["z", "t", "u", "v", "t2m"],
        &[500, 850],
        &WriteOptions::new_cds(),
    )
    .unwrap();
    let forecast_ch = "z500,t850,u850,v850,t2m";
    let nonforecast_ch = "cos_lat,cos_lon,sin_lon,cos_local_time,sin_local_time,toa_incident_solar";
    let stats = dir.join("stats.json");
    ok(&[
        "stats",
        "--data",
        &s(&data),
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-04",
        "--forecast",
        forecast_ch,
        "--non-forecast",
        nonforecast_ch,
        "-o",
        &s(&stats),
    ]);

    let config = dir.join("train.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[data]
paths = ["era5.nc"]
stats = "stats.json"
train = ["2020-01-01", "2020-01-04"]
valid = ["2020-01-05", "2020-01-06"]
non_forecast = [{nf}]
forecast = [{f}]

[graph]
mesh_level = 1

[model]
hidden = 16
processor_layers = 1

[loss]
amse = 0.1
grad_x = 0.05
grad_y = 0.05
wind = true

[optim]
lr = 3e-3
warmup_steps = 2

[train]
batch_size = 2
steps = 8
curriculum = [{{ from_step = 0, rollout = 1 }}, {{ from_step = 4, rollout = 2 }}]
valid_interval = 4
valid_batches = 1
device = "cpu"
checkpoint_interval = 4
"#,
            nf = nonforecast_ch
                .split(',')
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            f = forecast_ch
                .split(',')
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    )
    .unwrap();
    let out = ok(&["train", "--config", &s(&config)]);
    assert!(out.contains("trained to step 8"), "{out}");
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    assert!(metrics
        .lines()
        .any(|l| l.contains("valid_rmse") && l.contains("t2m")));
    assert!(metrics
        .lines()
        .any(|l| l.contains("\"amse\"") && l.contains("\"wind_speed\"")));
    let ckpt = dir.join("checkpoints");

    let fc = dir.join("fc.nc");
    ok(&[
        "forecast",
        "--checkpoint",
        &s(&ckpt),
        "--data",
        &s(&data),
        "--init",
        "2020-01-05T00,2020-01-05T06",
        "--steps",
        "3",
        "--device",
        "cpu",
        "-o",
        &s(&fc),
    ]);
    let persist = dir.join("persistence.nc");
    ok(&[
        "forecast",
        "--persistence",
        "--checkpoint",
        &s(&ckpt),
        "--data",
        &s(&data),
        "--init",
        "2020-01-05T00,2020-01-05T06",
        "--steps",
        "3",
        "-o",
        &s(&persist),
    ]);
    let out = ok(&[
        "eval",
        "--forecast",
        &s(&fc),
        &s(&persist),
        "--truth",
        &s(&data),
        "-o",
        &s(&dir.join("scores")),
    ]);
    assert!(out.contains("t2m") && out.contains("wind850"), "{out}");
    let scores: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("scores/scores.json")).unwrap()).unwrap();
    let rows = scores[0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5 * 3);
    assert!(rows
        .iter()
        .all(|r| r["rmse"].as_f64().unwrap().is_finite() && r["count"] == 2));
    // persistence at 6 h scores the truth's own 6-hour change, recomputed here
    let p = scores[1]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["variable"] == "t2m" && r["lead_hours"] == 6)
        .unwrap();
    let truth = fastnet_data::Dataset::open(&[&data]).unwrap();
    let (mut a, mut b) = (vec![0f32; grid.len()], vec![0f32; grid.len()]);
    let w = grid.area_weights();
    let mut mse = 0.0;
    for t0 in [T0 + 96 * 3600, T0 + 102 * 3600] {
        truth.read_field("t2m", None, t0, &mut a).unwrap();
        truth
            .read_field("t2m", None, t0 + 6 * 3600, &mut b)
            .unwrap();
        mse += a
            .iter()
            .zip(&b)
            .zip(&w)
            .map(|((x, y), w)| w * ((x - y) as f64).powi(2))
            .sum::<f64>()
            / w.iter().sum::<f64>()
            / 2.0;
    }
    let got = p["rmse"].as_f64().unwrap();
    assert!(
        (got - mse.sqrt()).abs() < 1e-4 * mse.sqrt(),
        "{got} vs {}",
        mse.sqrt()
    );

    // climatology: the time mean of the data over a period, at every lead
    let clim = dir.join("climatology.nc");
    ok(&[
        "forecast",
        "--climatology",
        "2020-01-01..2020-01-02",
        "--checkpoint",
        &s(&ckpt),
        "--data",
        &s(&data),
        "--init",
        "2020-01-05T00",
        "--steps",
        "2",
        "-o",
        &s(&clim),
    ]);
    let cf = fastnet::forecast::file::ForecastFile::open(&clim).unwrap();
    let mut want = vec![0f64; grid.len()];
    for k in 0..8 {
        truth
            .read_field("t2m", None, T0 + k * 6 * 3600, &mut a)
            .unwrap();
        for (w, x) in want.iter_mut().zip(&a) {
            *w += *x as f64 / 8.0;
        }
    }
    for lead in 0..2 {
        let got = cf.read("t2m", None, 0, lead).unwrap();
        for p in [0, 100, 511] {
            assert!(
                (got[p] as f64 - want[p]).abs() < 1e-3,
                "point {p}: {} vs {}",
                got[p],
                want[p]
            );
        }
    }

    // resume continues from step 8 to 10
    let cfg = std::fs::read_to_string(&config)
        .unwrap()
        .replace("steps = 8", "steps = 10");
    std::fs::write(&config, cfg).unwrap();
    let out = ok(&["train", "--config", &s(&config), "--resume"]);
    assert!(out.contains("trained to step 10"), "{out}");

    // a model cannot run on data of another grid
    let other = dir.join("other.nc");
    write_synthetic(
        &other,
        &Grid::from_spec("latlon-nopoles:8x16").unwrap(),
        &times[..4],
        &["z", "t", "u", "v", "t2m"],
        &[500, 850],
        &WriteOptions::new_cds(),
    )
    .unwrap();
    let r = fastnet(&[
        "forecast",
        "--checkpoint",
        &s(&ckpt),
        "--data",
        &s(&other),
        "--init",
        "2020-01-01T00",
        "--steps",
        "1",
        "-o",
        &s(&dir.join("x.nc")),
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(
        err.contains("trained on") && err.contains("16 x 32") && err.contains("8 x 16"),
        "{err}"
    );
    assert!(!dir.join("x.nc").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
