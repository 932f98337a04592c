//! The whole product on an octahedral reduced Gaussian grid, from the command
//! line: lat-lon ERA5-layout data -> `data regrid --grid o16` -> inspect,
//! stats, graph, train (MSE + AMSE + gradient + wind), forecast, eval,
//! spectra, loss and a map, all on the `values` point dimension.

mod common;
use common::{fastnet, ok};

use std::path::Path;

use fastnet_data::fixture::{scratch_dir, write_synthetic};
use fastnet_data::writer::WriteOptions;
use fastnet_mesh::Grid;

const T0: i64 = 1_577_836_800; // 2020-01-01

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn quoted(list: &str) -> String {
    list.split(',')
        .map(|c| format!("{c:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn regrid_train_forecast_eval_on_o16() {
    let dir = scratch_dir("octahedral");
    let latlon = Grid::from_spec("latlon:4").unwrap(); // 46 x 90 with poles
    let times: Vec<i64> = (0..24).map(|k| T0 + k * 6 * 3600).collect();
    let src = dir.join("latlon");
    std::fs::create_dir_all(&src).unwrap();
    write_synthetic(
        &src.join("era5.nc"),
        &latlon,
        &times,
        &["z", "t", "u", "v", "t2m", "u10", "v10"],
        &[500, 850],
        &WriteOptions::new_cds(),
    )
    .unwrap();
    let data = dir.join("o16");
    let out = ok(&[
        "data",
        "regrid",
        "--grid",
        "o16",
        &s(&src.join("era5.nc")),
        "-o",
        &s(&data),
    ]);
    assert!(out.contains("O16"), "{out}");
    let file = data.join("era5.nc");
    let grid = Grid::octahedral(16).unwrap();
    let ds = fastnet_data::Dataset::open(&[&file]).unwrap();
    assert_eq!(ds.grid, grid);
    let out = ok(&["data", "inspect", &s(&data)]);
    assert!(out.contains("O16") && out.contains("1600 points"), "{out}");

    // the regridded area mean of t2m is the source's to interpolation accuracy
    let src_ds = fastnet_data::Dataset::open(&[&src.join("era5.nc")]).unwrap();
    let (mut a, mut b) = (vec![0f32; latlon.len()], vec![0f32; grid.len()]);
    src_ds.read_field("t2m", None, T0, &mut a).unwrap();
    ds.read_field("t2m", None, T0, &mut b).unwrap();
    let mean = |f: &[f32], w: &[f64]| {
        f.iter().zip(w).map(|(x, w)| *x as f64 * w).sum::<f64>() / w.iter().sum::<f64>()
    };
    let (ma, mb) = (
        mean(&a, &latlon.area_weights()),
        mean(&b, &grid.area_weights()),
    );
    assert!((ma - mb).abs() < 1e-3 * ma.abs(), "{ma} vs {mb}");

    let forecast_ch = "z500,t850,u850,v850,t2m,u10,v10";
    let nonforecast_ch = "cos_lat,cos_lon,sin_lon,cos_local_time,sin_local_time";
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
        &s(&dir.join("stats.json")),
    ]);
    let graph = dir.join("graph.safetensors");
    let out = ok(&[
        "graph",
        "build",
        "--grid",
        "o16",
        "--mesh-level",
        "2",
        "-o",
        &s(&graph),
    ]);
    assert!(out.contains("O16") || out.contains("1600"), "{out}");
    let info = ok(&["graph", "info", &s(&graph)]);
    // FastNet's rules: 2 encoder and 3 decoder edges per grid point
    assert!(info.contains("3200") && info.contains("4800"), "{info}");

    let config = dir.join("train.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[data]
paths = ["o16"]
stats = "stats.json"
train = ["2020-01-01", "2020-01-04"]
valid = ["2020-01-05", "2020-01-06"]
non_forecast = [{nf}]
forecast = [{f}]

[graph]
file = "graph.safetensors"

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
steps = 6
curriculum = [{{ from_step = 0, rollout = 1 }}, {{ from_step = 4, rollout = 2 }}]
valid_interval = 3
valid_batches = 1
device = "cpu"
checkpoint_interval = 3
"#,
            nf = quoted(nonforecast_ch),
            f = quoted(forecast_ch),
        ),
    )
    .unwrap();
    let out = ok(&["train", "--config", &s(&config)]);
    assert!(out.contains("trained to step 6"), "{out}");
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    for term in ["\"amse\"", "\"grad_x\"", "\"wind_speed\"", "valid_rmse"] {
        assert!(metrics.contains(term), "{term} missing: {metrics}");
    }
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
        "2",
        "-o",
        &s(&fc),
    ]);
    let f = fastnet::forecast::file::ForecastFile::open(&fc).unwrap();
    assert_eq!(f.grid, grid);
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
        "2",
        "-o",
        &s(&persist),
    ]);

    // persistence at 6 h scores the truth's own 6-hour change with the
    // octahedral grid's area weights, recomputed here
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
    let p = scores[1]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["variable"] == "t2m" && r["lead_hours"] == 6)
        .unwrap()
        .clone();
    let w = grid.area_weights();
    let (mut x, mut y) = (vec![0f32; grid.len()], vec![0f32; grid.len()]);
    let mut mse = 0.0;
    for t0 in [T0 + 96 * 3600, T0 + 102 * 3600] {
        ds.read_field("t2m", None, t0, &mut x).unwrap();
        ds.read_field("t2m", None, t0 + 6 * 3600, &mut y).unwrap();
        mse += x
            .iter()
            .zip(&y)
            .zip(&w)
            .map(|((a, b), w)| w * ((a - b) as f64).powi(2))
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

    let spectra = dir.join("spectra.json");
    ok(&[
        "spectra",
        "--forecast",
        &format!("model={}", s(&fc)),
        "--truth",
        &s(&data),
        "--variables",
        "z500,t850",
        "--leads",
        "6,12",
        "-o",
        &s(&spectra),
    ]);
    let sp: serde_json::Value = serde_json::from_slice(&std::fs::read(&spectra).unwrap()).unwrap();
    let text = sp.to_string();
    assert!(text.contains("z500") && !text.contains("null"), "{text}");
    ok(&[
        "plot",
        "spectra",
        &s(&spectra),
        "-o",
        &s(&dir.join("spectra.png")),
    ]);
    ok(&[
        "plot",
        "map",
        "--forecast",
        &format!("model={}", s(&fc)),
        "--truth",
        &s(&data),
        "--variable",
        "t850",
        "--lead",
        "12",
        "-o",
        &s(&dir.join("map.png")),
    ]);
    assert!(std::fs::metadata(dir.join("map.png")).unwrap().len() > 10_000);
    let out = ok(&[
        "loss",
        "--forecast",
        &s(&fc),
        "--truth",
        &s(&data),
        "--checkpoint",
        &s(&ckpt),
    ]);
    assert!(out.contains("amse") && out.contains("grad"), "{out}");

    // a lat-lon file is not octahedral data: the model refuses it by name
    let r = fastnet(&[
        "forecast",
        "--checkpoint",
        &s(&ckpt),
        "--data",
        &s(&src.join("era5.nc")),
        "--init",
        "2020-01-05T00",
        "--steps",
        "1",
        "-o",
        &s(&dir.join("x.nc")),
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(err.contains("O16") && err.contains("46 x 90"), "{err}");
    assert!(!dir.join("x.nc").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
