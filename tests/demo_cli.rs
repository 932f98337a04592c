//! The demo in miniature, inside the test suite: the built-in toy
//! atmosphere -> inspect -> stats -> graph -> a few training steps with the
//! physics-aware losses (2-step rollouts, activation checkpointing) ->
//! 2-step forecasts -> eval -> spectra -> one plot.

mod common;
use common::{fastnet, ok};

use std::path::Path;

use fastnet_data::fixture::scratch_dir;

#[test]
fn synth_train_forecast_eval_spectra_plot() {
    let dir = scratch_dir("demo");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let synth = dir.join("synth");
    let summary: serde_json::Value = serde_json::from_str(&ok(&[
        "synth",
        "-o",
        &s(&synth),
        "--grid",
        "16x32",
        "--days",
        "8",
        "--spinup-days",
        "10",
        "--json",
    ]))
    .unwrap();
    assert_eq!(summary["times"], 32);
    assert_eq!(summary["last"], "2000-01-08T18:00");

    let inspect = ok(&["data", "inspect", &s(&synth)]);
    assert!(!inspect.contains("problem:"), "{inspect}");
    for v in ["z", "u", "v", "t"] {
        assert!(inspect.contains(v), "{v} missing:\n{inspect}");
    }

    let forecast = ["z500", "u500", "v500", "t500"];
    let nonforecast = ["cos_lat", "cos_lon", "sin_lon"];
    ok(&[
        "stats",
        "--data",
        &s(&synth),
        "--from",
        "2000-01-01",
        "--to",
        "2000-01-05",
        "--forecast",
        &forecast.join(","),
        "--non-forecast",
        &nonforecast.join(","),
        "-o",
        &s(&dir.join("stats.json")),
    ]);
    ok(&[
        "graph",
        "build",
        "--grid",
        "latlon-nopoles:16x32",
        "--mesh-level",
        "2",
        "-o",
        &s(&dir.join("graph.safetensors")),
    ]);

    let list = |c: &[&str]| {
        c.iter()
            .map(|c| format!("{c:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let config = dir.join("physics.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[data]
paths = ["synth"]
stats = "stats.json"
train = ["2000-01-01", "2000-01-05"]
valid = ["2000-01-06", "2000-01-06"]
forecast = [{}]
non_forecast = [{}]

[graph]
file = "graph.safetensors"

[model]
hidden = 16
processor_layers = 2

[loss]
mse = 1.0
amse = 1.0
grad_x = 0.1
grad_y = 0.1
wind = true

[optim]
lr = 1e-3
warmup_steps = 2

[train]
batch_size = 2
steps = 6
curriculum = [{{ from_step = 0, rollout = 1 }}, {{ from_step = 3, rollout = 2 }}]
valid_interval = 3
valid_batches = 1
device = "cpu"
recompute = true
checkpoint_interval = 3
"#,
            list(&forecast),
            list(&nonforecast)
        ),
    )
    .unwrap();
    let r = fastnet(&["train", "--config", &s(&config)]);
    let (out, log) = (
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr),
    );
    assert!(
        r.status.success() && out.contains("trained to step 6"),
        "{out}\n{log}"
    );
    // without a terminal the progress goes to the log, line by line
    for line in [
        "training windows",
        "activations recomputed",
        "step 3: valid RMSE",
        "step 6/6: loss",
    ] {
        assert!(log.contains(line), "{line:?} missing from the log:\n{log}");
    }
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let train_line = metrics.lines().rfind(|l| l.contains("\"terms\"")).unwrap();
    let last: serde_json::Value = serde_json::from_str(train_line).unwrap();
    assert_eq!(last["rollout"], 2);
    for term in [
        "mse",
        "amse",
        "grad_x",
        "grad_y",
        "wind_direction",
        "wind_speed",
    ] {
        let v = last["terms"][term].as_f64().unwrap_or(f64::NAN);
        assert!(v.is_finite() && v > 0.0, "term {term} = {v} in {last}");
    }

    let fc = dir.join("physics.nc");
    ok(&[
        "forecast",
        "--checkpoint",
        &s(&dir.join("checkpoints")),
        "--data",
        &s(&synth),
        "--init",
        "2000-01-07T00,2000-01-07T12",
        "--steps",
        "2",
        "-o",
        &s(&fc),
    ]);
    let out = ok(&[
        "eval",
        "--forecast",
        &format!("physics={}", s(&fc)),
        "--truth",
        &s(&synth),
        "-o",
        &s(&dir.join("scores")),
    ]);
    assert!(out.contains("z500") && out.contains("t500"), "{out}");
    let scores: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("scores/scores.json")).unwrap()).unwrap();
    let rows = scores[0]["rows"].as_array().unwrap();
    assert!(rows.len() >= 4 * 2, "{rows:?}");
    assert!(rows
        .iter()
        .all(|r| r["rmse"].as_f64().is_some_and(|x| x.is_finite() && x > 0.0)));

    let spectra = dir.join("spectra.json");
    let out = ok(&[
        "spectra",
        "--forecast",
        &format!("physics={}", s(&fc)),
        "--truth",
        &s(&synth),
        "--variables",
        "z500",
        "--leads",
        "12",
        "-o",
        &s(&spectra),
    ]);
    assert!(
        out.contains("z500 at 12 h: effective resolution physics"),
        "{out}"
    );
    let sp: serde_json::Value = serde_json::from_slice(&std::fs::read(&spectra).unwrap()).unwrap();
    let truth = sp[0]["truth"].as_array().unwrap();
    assert!(truth.len() > 5 && truth[1..].iter().all(|p| p.as_f64().unwrap() > 0.0));

    let png = dir.join("spectra.png");
    ok(&["plot", "spectra", &s(&spectra), "-o", &s(&png)]);
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000);
    std::fs::remove_dir_all(&dir).unwrap();
}
