//! Reliability from the command line: `--resume` after `kill -9` at any
//! moment reproduces the uninterrupted loss curve bit for bit with every
//! loss option on; devices and forecast steps that do not exist are one
//! `error:` line; `stats` and `train` resolve default channels alike.

mod common;
use common::{fastnet, ok};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fastnet_data::fixture::{scratch_dir, write_synthetic};
use fastnet_data::writer::WriteOptions;
use fastnet_mesh::Grid;

const T0: i64 = 1_577_836_800; // 2020-01-01
const STEPS: u64 = 30;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Data, statistics over the forecast channels only (non-forecast left to
/// its default: FastNet's 12 minus the absent statics), and a config that
/// names only `forecast = [...]`, with every loss option on.
fn prepare(dir: &Path) -> PathBuf {
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
forecast = [{}]

[graph]
mesh_level = 1

[model]
hidden = 16
processor_layers = 1

[loss]
amse = 0.5
amse_running_normaliser = true
amse_running_decay = 0.9
grad_x = 0.1
grad_y = 0.1
wind = true

[optim]
lr = 3e-3
warmup_steps = 2

[train]
batch_size = 2
steps = {STEPS}
curriculum = [{{ from_step = 0, rollout = 1 }}, {{ from_step = 10, rollout = 2 }}, {{ from_step = 20, rollout = 3 }}]
recompute = true
valid_interval = 0
device = "cpu"
checkpoint_interval = 3
keep_checkpoints = 2
"#,
            names.join(", ")
        ),
    )
    .unwrap();
    config
}

/// The (step, loss) lines of a metrics file, losses as written.
fn curve(metrics: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(metrics)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            Some((v["step"].as_u64()?, v.get("loss")?.to_string()))
        })
        .collect()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn resume_after_kill_9_reproduces_the_loss_curve_and_bad_requests_are_one_error_line() {
    let base = scratch_dir("reliability");
    let (a, b) = (base.join("a"), base.join("b"));
    for d in [&a, &b] {
        std::fs::create_dir_all(d).unwrap();
    }
    let config_a = prepare(&a);
    let config_b = prepare(&b);
    let t = Instant::now();
    let out = ok(&["train", "--config", &s(&config_a)]);
    assert!(out.contains(&format!("trained to step {STEPS}")), "{out}");
    let uninterrupted = curve(&a.join("metrics.jsonl"));
    assert_eq!(uninterrupted.len() as u64, STEPS);
    let run_time = t.elapsed();

    // kill -9 at several moments: right after start-up, mid-step, around
    // checkpoints; then resume until the run completes
    let metrics = b.join("metrics.jsonl");
    let mut kills = 0;
    for wait_lines in [2usize, 7, 12, 16, 23] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fastnet"))
            .args(["train", "--config", &s(&config_b), "--resume"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + run_time * 4 + Duration::from_secs(30);
        while lines(&metrics) < wait_lines && Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        // a few milliseconds more so that some kills land inside a step or
        // a checkpoint write
        std::thread::sleep(Duration::from_millis((wait_lines as u64 * 7) % 23));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 3, "only {kills} runs were still going when killed");
    let out = ok(&["train", "--config", &s(&config_b), "--resume"]);
    assert!(out.contains(&format!("trained to step {STEPS}")), "{out}");
    let resumed = curve(&metrics);
    assert_eq!(resumed.len(), uninterrupted.len(), "{resumed:?}");
    for ((sa, la), (sb, lb)) in uninterrupted.iter().zip(&resumed) {
        assert_eq!(
            (sa, la),
            (sb, lb),
            "the resumed run's loss differs at step {sa}"
        );
    }

    // `fastnet loss --checkpoint` reports the terms as training saw them:
    // the same statistics and weights as the config gives (equal MSE), but
    // the checkpoint's running AMSE normaliser instead of a fresh one
    let ckpt = a.join("checkpoints");
    let data = s(&a.join("era5.nc"));
    let forecast = |extra: &[&str], out: &Path| {
        let mut args = vec![
            "forecast",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--data",
            &data,
        ];
        args.extend(["--init", "2020-01-05T00", "--steps", "1"]);
        args.extend(extra);
        let out = s(out);
        args.extend(["-o", &out]);
        fastnet(&args)
    };
    let fc = a.join("fc.nc");
    assert!(forecast(&[], &fc).status.success());
    let loss = |setup: &[&str]| -> serde_json::Value {
        let mut args = vec!["loss", "--json", "--truth", &data];
        let fc = s(&fc);
        args.extend(["--forecast", &fc]);
        args.extend(setup);
        serde_json::from_str(&ok(&args)).unwrap()
    };
    let from_ckpt = loss(&["--checkpoint", &s(&ckpt)]);
    let from_stats = loss(&[
        "--stats",
        &s(&a.join("stats.json")),
        "--config",
        &s(&config_a),
    ]);
    assert!(from_ckpt["setup"].as_str().unwrap().contains("checkpoint"));
    let (tc, ts) = (&from_ckpt["totals"]["6"], &from_stats["totals"]["6"]);
    for term in [
        "mse",
        "amse",
        "grad_x",
        "grad_y",
        "wind_direction",
        "wind_speed",
        "total",
    ] {
        assert!(
            tc[term].as_f64().is_some_and(f64::is_finite),
            "{term}: {tc}"
        );
    }
    assert_eq!(tc["mse"], ts["mse"]);
    // fresh, the running normaliser makes each channel's AMSE 1: λ Σ c_j
    assert_ne!(tc["amse"], ts["amse"]);

    // devices that do not exist: one error line naming those that do
    let bad = std::fs::read_to_string(&config_a)
        .unwrap()
        .replace("device = \"cpu\"", "device = \"cuda:3\"");
    std::fs::write(a.join("cuda.toml"), bad).unwrap();
    for args in [
        vec![
            "train".to_string(),
            "--config".into(),
            s(&a.join("cuda.toml")),
        ],
        vec![
            "forecast".into(),
            "--checkpoint".into(),
            s(&ckpt),
            "--data".into(),
            s(&a.join("era5.nc")),
            "--init".into(),
            "2020-01-05T00".into(),
            "--steps".into(),
            "1".into(),
            "--device".into(),
            "cuda:3".into(),
            "-o".into(),
            s(&a.join("x.nc")),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = fastnet(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{args:?}: {err}");
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("error:") && last.contains("cuda:3") && last.contains("cpu"),
            "{args:?}: {err}"
        );
    }
    // a forecast step other than the model's 6 h
    let r = forecast(&["--step-hours", "5"], &a.join("x.nc"));
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(err.contains("6 h steps") && err.contains("5 h"), "{err}");
    assert!(!a.join("x.nc").exists());
    std::fs::remove_dir_all(&base).unwrap();
}
