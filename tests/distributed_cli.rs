//! Data-parallel training through c10d (Gloo on loopback), launched the way
//! users launch it: two ranks with batch 1 each follow one process with
//! batch 2; a dead rank stops the other within the timeout; bad launch
//! environments are one error line.

mod common;
use common::run::{curve, prepare, s};
use common::{fastnet, ok};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fastnet_data::fixture::scratch_dir;

const STEPS: u64 = 20;
const LOSS: &str = "amse = 0.5\namse_running_normaliser = true\namse_running_decay = 0.9\ngrad_x = 0.1\ngrad_y = 0.1\nwind = true";

fn train_section(batch: usize, timeout_s: u64) -> String {
    format!(
        "batch_size = {batch}\nsteps = {STEPS}\ncurriculum = [{{ from_step = 0, rollout = 1 }}, {{ from_step = 12, rollout = 2 }}]\nvalid_interval = 10\nvalid_batches = 2\ndevice = \"cpu\"\nthreads = 1\ncheckpoint_interval = 5\ndist_timeout_s = {timeout_s}"
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `torchrun` from the setup's Python, when there is one.
fn torchrun() -> Option<PathBuf> {
    let py = PathBuf::from(std::env::var_os("FASTNET_PYTHON")?);
    Some(py.with_file_name("torchrun")).filter(|p| p.exists())
}

/// One rank of a `world`-rank run, as torchrun starts it.
fn rank(config: &Path, rank: usize, world: usize, port: u16, resume: bool) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fastnet"));
    c.args(["train", "--config", &s(config)]);
    if resume {
        c.arg("--resume");
    }
    c.env("RANK", rank.to_string())
        .env("WORLD_SIZE", world.to_string())
        .env("LOCAL_RANK", rank.to_string())
        .env("MASTER_ADDR", "127.0.0.1")
        .env("MASTER_PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn weights(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let sc = fastnet::checkpoint::read_sidecar(&dir.join("checkpoints"))
        .unwrap()
        .1;
    let t = fastnet::checkpoint::read_tensors(&dir.join("checkpoints").join(&sc.weights)).unwrap();
    let mut v: Vec<(String, Vec<f32>)> = t
        .into_iter()
        .filter(|(_, t)| t.kind() == tch::Kind::Float)
        .map(|(n, t)| (n, Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn two_gloo_ranks_follow_one_process_and_failures_are_bounded_errors() {
    let base = scratch_dir("distributed");
    let (one, two, dead) = (base.join("one"), base.join("two"), base.join("dead"));
    let single = prepare(&one, LOSS, &train_section(2, 30));
    let pair = prepare(&two, LOSS, &train_section(1, 30));
    ok(&["train", "--config", &s(&single)]);

    // two ranks, launched by torchrun when the setup's Python has it
    let port = free_port();
    match torchrun() {
        Some(tr) => {
            let out = Command::new(tr)
                .args(["--nproc-per-node", "2", "--master-addr", "127.0.0.1"])
                .args(["--master-port", &port.to_string(), "--no-python"])
                .arg(env!("CARGO_BIN_EXE_fastnet"))
                .args(["train", "--config", &s(&pair)])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "torchrun: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        None => {
            let ranks = [
                rank(&pair, 0, 2, port, false),
                rank(&pair, 1, 2, port, false),
            ];
            for r in ranks {
                let out = r.wait_with_output().unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    let (a, b) = (
        curve(&one.join("metrics.jsonl")),
        curve(&two.join("metrics.jsonl")),
    );
    assert_eq!(a.len() as u64, STEPS);
    assert_eq!(
        b.len(),
        a.len(),
        "rank 0 alone writes one line a step: {b:?}"
    );
    for ((sa, la), (sb, lb)) in a.iter().zip(&b) {
        let (x, y): (f64, f64) = (la.parse().unwrap(), lb.parse().unwrap());
        assert_eq!(sa, sb);
        assert!((x - y).abs() <= 1e-5 * x.abs(), "step {sa}: {x} vs {y}");
    }
    // validation, sharded over the ranks and reduced, gives one process's
    let valid = |dir: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get("valid_rmse").cloned())
            .collect()
    };
    let (va, vb) = (valid(&one), valid(&two));
    assert_eq!(va.len(), 2);
    for (x, y) in va.iter().zip(&vb) {
        for (k, v) in x.as_object().unwrap() {
            let (p, q) = (v.as_f64().unwrap(), y[k].as_f64().unwrap());
            assert!((p - q).abs() <= 1e-5 * p.abs(), "valid {k}: {p} vs {q}");
        }
    }
    for ((na, wa), (nb, wb)) in weights(&one).iter().zip(&weights(&two)) {
        assert_eq!(na, nb);
        let scale = wa.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-6);
        let diff = wa
            .iter()
            .zip(wb)
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            diff <= 1e-4 * scale,
            "{na}: weights differ by {diff} (scale {scale})"
        );
    }

    // kill -9 both ranks mid-run, then resume with two ranks (the same
    // curve, exactly) and with one rank of twice the batch (the same global
    // batch: the curve of one process, to round-off)
    let close = |a: &[(u64, String)], b: &[(u64, String)], what: &str| {
        assert_eq!(a.len(), b.len(), "{what}: {b:?}");
        for ((sa, la), (sb, lb)) in a.iter().zip(b) {
            let (x, y): (f64, f64) = (la.parse().unwrap(), lb.parse().unwrap());
            assert!(
                sa == sb && (x - y).abs() <= 1e-5 * x.abs(),
                "{what}, step {sa}: {x} vs {y}"
            );
        }
    };
    for (name, resume_world) in [("resume2", 2), ("resume1", 1)] {
        let dir = base.join(name);
        let cfg = prepare(&dir, LOSS, &train_section(1, 30));
        let port = free_port();
        let mut ranks = [rank(&cfg, 0, 2, port, false), rank(&cfg, 1, 2, port, false)];
        let t = Instant::now();
        while std::fs::read_to_string(dir.join("metrics.jsonl")).map_or(0, |m| m.lines().count())
            < 8
        {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "the pair did not start"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        for r in &mut ranks {
            assert!(
                r.try_wait().unwrap().is_none(),
                "a rank finished before the kill"
            );
            r.kill().unwrap();
            r.wait().unwrap();
        }
        let killed_at = fastnet::checkpoint::read_sidecar(&dir.join("checkpoints"))
            .unwrap()
            .1
            .step;
        assert!(killed_at < STEPS, "killed after step {killed_at}");
        if resume_world == 2 {
            let port = free_port();
            for r in [rank(&cfg, 0, 2, port, true), rank(&cfg, 1, 2, port, true)] {
                let out = r.wait_with_output().unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            assert_eq!(
                curve(&dir.join("metrics.jsonl")),
                b,
                "resumed with two ranks"
            );
        } else {
            let single = std::fs::read_to_string(&cfg)
                .unwrap()
                .replace("batch_size = 1", "batch_size = 2");
            std::fs::write(&cfg, single).unwrap();
            let out = ok(&["train", "--config", &s(&cfg), "--resume"]);
            assert!(out.contains(&format!("trained to step {STEPS}")), "{out}");
            close(
                &a,
                &curve(&dir.join("metrics.jsonl")),
                "resumed in one process",
            );
        }
    }

    // Ctrl-C on the launcher (SIGINT to its process group, as a terminal
    // sends it): every rank stops at the same step after a checkpoint
    if let Some(tr) = torchrun() {
        use std::os::unix::process::CommandExt;
        let dir = base.join("ctrlc");
        let cfg = prepare(
            &dir,
            LOSS,
            &train_section(1, 30).replace("steps = 20", "steps = 100000"),
        );
        let mut launcher = Command::new(tr)
            .args(["--nproc-per-node", "2", "--master-addr", "127.0.0.1"])
            .args(["--master-port", &free_port().to_string(), "--no-python"])
            .arg(env!("CARGO_BIN_EXE_fastnet"))
            .args(["train", "--config", &s(&cfg)])
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let t = Instant::now();
        while std::fs::read_to_string(dir.join("metrics.jsonl")).map_or(0, |m| m.lines().count())
            < 4
        {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "torchrun did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let pgid = format!("-{}", launcher.id());
        assert!(Command::new("kill")
            .args(["-INT", "--", &pgid])
            .status()
            .unwrap()
            .success());
        let t = Instant::now();
        while launcher.try_wait().unwrap().is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "torchrun still running after Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        let last: serde_json::Value =
            serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
        assert_eq!(last["event"], "interrupted", "{metrics}");
        let step = last["step"].as_u64().unwrap();
        let sc = fastnet::checkpoint::read_sidecar(&dir.join("checkpoints"))
            .unwrap()
            .1;
        assert_eq!((sc.step, sc.world_size), (step, 2));
        // no rank is left behind
        let ps = Command::new("pgrep")
            .args(["-g", &launcher.id().to_string()])
            .output()
            .unwrap();
        assert!(
            ps.stdout.is_empty(),
            "left running: {}",
            String::from_utf8_lossy(&ps.stdout)
        );
    }

    // a rank that dies: the other stops with an error within the timeout
    let cfg = prepare(
        &dead,
        LOSS,
        &train_section(1, 4).replace("steps = 20", "steps = 100000"),
    );
    let port = free_port();
    let mut r0 = rank(&cfg, 0, 2, port, false);
    let mut r1 = rank(&cfg, 1, 2, port, false);
    let metrics = dead.join("metrics.jsonl");
    let t = Instant::now();
    while std::fs::read_to_string(&metrics).map_or(0, |m| m.lines().count()) < 7 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the pair did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    r1.kill().unwrap();
    r1.wait().unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(st) = r0.try_wait().unwrap() {
            break st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "rank 0 still running after its peer died"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(r0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.lines().last().unwrap_or_default().starts_with("error:")
            && err.contains("rank 0 of 2")
            && err.contains("rank(s) 1 stopped"),
        "{err}"
    );
    // the last checkpoint is intact: it loads
    fastnet::checkpoint::read_sidecar(&dead.join("checkpoints")).unwrap();

    // bad launch environments
    for (vars, want) in [
        (vec![("RANK", "0"), ("WORLD_SIZE", "2")], "MASTER_ADDR"),
        (
            vec![
                ("RANK", "2"),
                ("WORLD_SIZE", "2"),
                ("MASTER_ADDR", "127.0.0.1"),
            ],
            "RANK",
        ),
    ] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fastnet"));
        c.args(["train", "--config", &s(&pair)]);
        for (k, v) in &vars {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.starts_with("error:") && err.contains(want),
            "{vars:?}: {err}"
        );
    }
    // NCCL asked for without CUDA
    let nccl = two.join("nccl.toml");
    std::fs::write(
        &nccl,
        std::fs::read_to_string(&pair)
            .unwrap()
            .replace("[train]\n", "[train]\ndist_backend = \"nccl\"\n"),
    )
    .unwrap();
    let out = rank(&nccl, 0, 2, free_port(), false)
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("train.dist_backend") && err.contains("CUDA"),
        "{err}"
    );
    // a port in use by something else
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let out = rank(&pair, 0, 2, port, true).wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot listen") && err.contains(&port.to_string()),
        "{err}"
    );
    let _ = fastnet(&["env"]);
    std::fs::remove_dir_all(&base).unwrap();
}
