//! anemoi-datasets Zarr stores from the command line: a genuine O8 store
//! (`anemoi-datasets create` from a NetCDF xarray wrote,
//! scripts/anemoi_fixture.py) is inspected, gives statistics (its own with
//! `--from-dataset-statistics`, checked against the store's arrays read by
//! zarr-python), trains a model, initialises forecasts and is the truth of
//! an evaluation whose persistence RMSE is recomputed from the NetCDF.

mod common;
use common::{fastnet, ok};

use std::path::Path;
use std::process::Command;

use fastnet_data::fixture::{build_anemoi_store, scratch_dir};
use fastnet_mesh::Grid;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// `python -c CODE` in the setup's Python; its stdout.
fn python(code: &str) -> String {
    let py = std::env::var("FASTNET_PYTHON").expect("FASTNET_PYTHON (run scripts/setup.sh)");
    let r = Command::new(py).arg("-c").arg(code).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    String::from_utf8_lossy(&r.stdout).into_owned()
}

fn channel<'a>(stats: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    stats["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no channel {name}"))
}

#[test]
fn o8_store_inspect_stats_train_forecast_eval() {
    let dir = scratch_dir("zarr-input-cli");
    build_anemoi_store("o8", &dir).unwrap_or_else(|e| panic!("{e}"));
    let store = dir.join("store.zarr");

    let out = ok(&["data", "inspect", &s(&store)]);
    assert!(
        out.contains("O8") && out.contains("anemoi-datasets"),
        "{out}"
    );
    assert!(
        out.contains("2020-01-01T00:00 .. 2020-01-03T18:00"),
        "{out}"
    );

    let forecast = "z500,t850,t2m,u10,v10";
    let nonforecast = "cos_lat,sin_lon";
    let stats_args = |out: &Path, seed: bool| {
        let mut a = vec![
            "stats".to_string(),
            "--data".into(),
            s(&store),
            "--from".into(),
            "2020-01-01".into(),
            "--to".into(),
            "2020-01-03".into(),
            "--forecast".into(),
            forecast.into(),
            "--non-forecast".into(),
            nonforecast.into(),
            "-o".into(),
            s(out),
        ];
        if seed {
            a.push("--from-dataset-statistics".into());
        }
        a
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        fastnet(&refs)
    };
    let ours = dir.join("stats-ours.json");
    let seeded = dir.join("stats.json");
    assert!(run(stats_args(&ours, false)).status.success());
    let r = run(stats_args(&seeded, true));
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("5 of 7 channels seeded"), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let ours: serde_json::Value = serde_json::from_slice(&std::fs::read(&ours).unwrap()).unwrap();
    let seeded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&seeded).unwrap()).unwrap();
    assert!(seeded["statistics_source"]
        .as_str()
        .unwrap()
        .contains("anemoi-datasets statistics"));
    // The store's own figures, read by zarr-python.
    let store_stats: serde_json::Value = serde_json::from_str(&python(&format!(
        "import json, zarr; z = zarr.open({:?}, 'r'); v = z.attrs['variables']; \
         print(json.dumps({{n: [float(z['mean'][i]), float(z['stdev'][i])] for i, n in enumerate(v)}}))",
        s(&store)
    )))
    .unwrap();
    for (ch, var) in [
        ("z500", "z_500"),
        ("t850", "t_850"),
        ("t2m", "2t"),
        ("u10", "10u"),
    ] {
        let c = channel(&seeded, ch);
        assert_eq!(
            c["mean"].as_f64().unwrap(),
            store_stats[var][0].as_f64().unwrap(),
            "{ch}"
        );
        assert_eq!(
            c["std"].as_f64().unwrap(),
            store_stats[var][1].as_f64().unwrap(),
            "{ch}"
        );
        // The change statistic is still ours; the area-weighted mean differs
        // from the store's plain one.
        assert_eq!(c["change_std"], channel(&ours, ch)["change_std"]);
        assert_ne!(c["mean"], channel(&ours, ch)["mean"]);
    }
    assert_eq!(channel(&seeded, "cos_lat"), channel(&ours, "cos_lat"));

    // Statistics that do not describe the data are reported by channel.
    let stale = dir.join("stale.zarr");
    assert!(Command::new("cp")
        .arg("-r")
        .arg(&store)
        .arg(&stale)
        .status()
        .unwrap()
        .success());
    python(&format!(
        "import zarr; z = zarr.open({:?}, 'r+'); i = z.attrs['variables'].index('t_850'); m = z['mean'][:]; m[i] += 100.0; z['mean'][:] = m",
        s(&stale)
    ));
    let mut a = stats_args(&dir.join("stale.json"), true);
    a[2] = s(&stale);
    let r = run(a);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains("warning: t850: the store's mean/std disagree"),
        "{stderr}"
    );
    // ... and the option wants a store.
    let mut a = stats_args(&dir.join("x.json"), true);
    a[2] = s(&dir.join("source.nc"));
    let r = run(a);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && stderr.contains("anemoi-datasets Zarr store"),
        "{stderr}"
    );

    ok(&[
        "graph",
        "build",
        "--grid",
        "o8",
        "--mesh-level",
        "2",
        "-o",
        &s(&dir.join("graph.safetensors")),
    ]);
    let quoted = |l: &str| {
        l.split(',')
            .map(|c| format!("{c:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    std::fs::write(
        dir.join("train.toml"),
        format!(
            r#"
[data]
paths = ["store.zarr"]
stats = "stats.json"
train = ["2020-01-01", "2020-01-02T12"]
valid = ["2020-01-03", "2020-01-03T18"]
non_forecast = [{nf}]
forecast = [{f}]

[graph]
file = "graph.safetensors"

[model]
hidden = 8
processor_layers = 1

[optim]
lr = 1e-3
warmup_steps = 1

[train]
batch_size = 2
steps = 3
valid_interval = 3
valid_batches = 1
device = "cpu"
checkpoint_interval = 3
"#,
            nf = quoted(nonforecast),
            f = quoted(forecast)
        ),
    )
    .unwrap();
    let out = ok(&["train", "--config", &s(&dir.join("train.toml"))]);
    assert!(out.contains("trained to step 3"), "{out}");
    let ckpt = dir.join("checkpoints");
    let inits = "2020-01-03T00,2020-01-03T06";
    let fc = dir.join("fc.nc");
    ok(&[
        "forecast",
        "--checkpoint",
        &s(&ckpt),
        "--data",
        &s(&store),
        "--init",
        inits,
        "--steps",
        "2",
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
        &s(&store),
        "--init",
        inits,
        "--steps",
        "2",
        "-o",
        &s(&persist),
    ]);
    let f = fastnet::forecast::file::ForecastFile::open(&fc).unwrap();
    assert_eq!(f.grid, Grid::octahedral(8).unwrap());
    ok(&[
        "eval",
        "--forecast",
        &s(&fc),
        &s(&persist),
        "--truth",
        &s(&store),
        "-o",
        &s(&dir),
        "--json",
    ]);
    let scores: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("scores.json")).unwrap()).unwrap();
    // Persistence at 12 h against the store equals the RMS 12-hour change of
    // the NetCDF the store was built from, with O8's area weights.
    let row = scores[1]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["variable"] == "t2m" && r["lead_hours"] == 12)
        .unwrap()
        .clone();
    let nc = fastnet_data::Dataset::open(&[dir.join("source.nc")]).unwrap();
    let w = nc.grid.area_weights();
    let t0 = fastnet_data::time::parse_date("2020-01-03T00").unwrap();
    let mut mse = 0.0;
    for k in 0..2 {
        let (mut a, mut b) = (vec![0f32; w.len()], vec![0f32; w.len()]);
        nc.read_field("t2m", None, t0 + k * 6 * 3600, &mut a)
            .unwrap();
        nc.read_field("t2m", None, t0 + (k * 6 + 12) * 3600, &mut b)
            .unwrap();
        let wsum: f64 = w.iter().sum();
        mse += a
            .iter()
            .zip(&b)
            .zip(&w)
            .map(|((x, y), w)| w * (*y as f64 - *x as f64).powi(2))
            .sum::<f64>()
            / wsum;
    }
    let want = (mse / 2.0).sqrt();
    let got = row["rmse"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-4 * want, "{got} vs {want}");
}
