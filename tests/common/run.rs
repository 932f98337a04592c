//! A small training run on generated data for the command-line tests.

use std::path::{Path, PathBuf};

use fastnet_data::fixture::write_synthetic;
use fastnet_data::writer::WriteOptions;
use fastnet_mesh::Grid;

use super::ok;

const T0: i64 = 1_577_836_800; // 2020-01-01

pub fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Data, statistics over the forecast channels only (non-forecast left to
/// its default: FastNet's 12 minus the absent statics), and a config that
/// names only `forecast = [...]`, with the given `[loss]` and `[train]`
/// bodies.
pub fn prepare(dir: &Path, loss: &str, train: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let grid = Grid::from_spec("latlon-nopoles:16x32").unwrap();
    let times: Vec<i64> = (0..24).map(|k| T0 + k * 6 * 3600).collect();
    write_synthetic(
        &dir.join("era5.nc"),
        &grid,
        &times,
        &["z", "t", "u", "v", "t2m", "u10", "v10"],
        &[500, 850],
        &WriteOptions::new_cds(),
    )
    .unwrap();
    let forecast = "z500,t850,u850,v850,t2m,u10,v10";
    let out = ok(&[
        "stats",
        "--data",
        &s(&dir.join("era5.nc")),
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-04",
        "--forecast",
        forecast,
        "-o",
        &s(&dir.join("stats.json")),
    ]);
    assert!(out.contains("stats of 15 channels"), "{out}");
    let config = dir.join("train.toml");
    let names: Vec<String> = forecast.split(',').map(|c| format!("{c:?}")).collect();
    std::fs::write(
        &config,
        format!(
            r#"
[data]
paths = ["era5.nc"]
stats = "stats.json"
train = ["2020-01-01", "2020-01-04"]
valid = ["2020-01-05", "2020-01-06"]
forecast = [{}]

[graph]
mesh_level = 1

[model]
hidden = 16
processor_layers = 1

[loss]
{loss}

[optim]
lr = 3e-3
warmup_steps = 2

[train]
{train}
"#,
            names.join(", "),
            loss = loss,
            train = train,
        ),
    )
    .unwrap();
    config
}

/// The (step, loss) lines of a metrics file, losses as written.
pub fn curve(metrics: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(metrics)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some((v["step"].as_u64()?, v.get("loss")?.to_string()))
        })
        .collect()
}
