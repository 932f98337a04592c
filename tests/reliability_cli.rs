//! Reliability from the command line: `--resume` after `kill -9` at any
//! moment reproduces the uninterrupted loss curve bit for bit with every
//! loss option on; devices and forecast steps that do not exist are one
//! `error:` line; `stats` and `train` resolve default channels alike.

mod common;
use common::run::{curve, prepare, s};
use common::{fastnet, ok};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fastnet_data::fixture::scratch_dir;

const STEPS: u64 = 30;

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
    let loss = "amse = 0.5\namse_running_normaliser = true\namse_running_decay = 0.9\ngrad_x = 0.1\ngrad_y = 0.1\nwind = true";
    let train = format!(
        "batch_size = 2\nsteps = {STEPS}\ncurriculum = [{{ from_step = 0, rollout = 1 }}, {{ from_step = 10, rollout = 2 }}, {{ from_step = 20, rollout = 3 }}]\nrecompute = true\nvalid_interval = 0\ndevice = \"cpu\"\ncheckpoint_interval = 3\nkeep_checkpoints = 2"
    );
    let config_a = prepare(&a, loss, &train);
    let config_b = prepare(&b, loss, &train);
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
