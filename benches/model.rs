//! FastNet training-step and rollout-step benchmark on CPU, next to the
//! PyTorch reference implementation (scripts/bench_model.py) on the same
//! graph, sizes and threads.
//!
//!     cargo bench --bench model
//!
//! Each case runs in its own process (peak RSS is per case). FLOPs are the
//! dense-layer multiply-adds of one forward pass (×2 per multiply-add) as
//! implemented here; a training step is counted as 3× the forward.

fastnet::jemalloc!();

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use fastnet::model::{FastNet, GraphBuffers, ModelConfig};
use fastnet::train::config::OptimSection;
use fastnet::train::optim::AdamW;
use fastnet::train::rollout::rollout_backward;
use fastnet_mesh::{Graph, GraphConfig, Grid};
use tch::{nn::VarStore, Device, Kind, Tensor};

struct Case {
    name: &'static str,
    grid: &'static str,
    level: u32,
    hidden: i64,
    layers: i64,
    reps: usize,
}

const CASES: [Case; 2] = [
    Case {
        name: "2° L4 h64 x2",
        grid: "latlon:2",
        level: 4,
        hidden: 64,
        layers: 2,
        reps: 21,
    },
    Case {
        name: "1° L5 h128 x4",
        grid: "era5-1deg",
        level: 5,
        hidden: 128,
        layers: 4,
        reps: 3,
    },
];
const CHANNELS: i64 = 84;
const FORECAST: i64 = 72;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Forward FLOPs of the dense layers (2 per multiply-add).
fn forward_flops(g: &Graph, c: &Case) -> f64 {
    let h = c.hidden as f64;
    let (ng, nm) = (g.grid.len() as f64, g.mesh_nodes() as f64);
    let (ee, em, ed) = (
        g.encoder.len() as f64,
        g.mesh.len() as f64,
        g.decoder.len() as f64,
    );
    let mlp = |rows: f64, din: f64, dout: f64| 2.0 * rows * (din * h + h * dout);
    // split first layer: source projection per node, edge part per edge
    let inet = |n_src: f64, d_src: f64, e: f64, d_e: f64, n_tgt: f64, d_tgt: f64| {
        2.0 * n_src * d_src * h + 2.0 * e * d_e * h + 2.0 * e * h * h + mlp(n_tgt, d_tgt + h, h)
    };
    inet(ng, CHANNELS as f64, ee, 4.0, nm, 3.0)
        + mlp(em, 4.0, h)
        + c.layers as f64 * inet(nm, h, em, h, nm, h)
        + inet(nm, h, ed, 4.0, ng, CHANNELS as f64)
        + mlp(ng, h, FORECAST as f64)
}

fn graph_file(c: &Case, g: &Graph) -> PathBuf {
    let p = std::env::temp_dir().join(format!(
        "fastnet-bench-{}-l{}.safetensors",
        c.grid.replace(':', "-"),
        c.level
    ));
    if !p.exists() {
        g.save(&p).expect("write graph");
    }
    p
}

/// A case's grid, graph, seeded model and optimiser.
struct Setup {
    grid: Grid,
    graph: Graph,
    _vs: VarStore,
    model: FastNet,
    opt: AdamW,
}

fn setup(c: &Case) -> Setup {
    let grid = Grid::from_spec(c.grid).expect("grid");
    let graph = Graph::build(&grid, &GraphConfig::fastnet(c.level)).expect("graph");
    tch::manual_seed(0);
    let vs = VarStore::new(Device::Cpu);
    let cfg = ModelConfig {
        hidden: c.hidden,
        processor_layers: c.layers,
        forecast_channels: FORECAST,
        nonforecast_channels: CHANNELS - FORECAST,
    };
    let model = FastNet::new(&vs.root(), &cfg, &GraphBuffers::from_graph(&graph)).expect("model");
    let params: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect();
    let opt = AdamW::new(OptimSection::default(), params);
    Setup {
        grid,
        graph,
        _vs: vs,
        model,
        opt,
    }
}

fn run_case(i: usize) {
    let c = &CASES[i];
    let Setup {
        grid,
        graph,
        model,
        mut opt,
        ..
    } = setup(c);
    let n = grid.len() as i64;
    let x = Tensor::randn([1, n, CHANNELS], (Kind::Float, Device::Cpu));
    let y = Tensor::randn([1, n, FORECAST], (Kind::Float, Device::Cpu));
    let mut step = Vec::new();
    let (mut tb, mut to) = (Vec::new(), Vec::new());
    for _ in 0..c.reps {
        let t = Instant::now();
        opt.zero_grad();
        let loss = (model.forward(&x).expect("shape") - &y)
            .square()
            .mean(Kind::Float);
        loss.backward();
        let t1 = Instant::now();
        opt.step(1e-4);
        to.push(t1.elapsed().as_secs_f64());
        tb.push((t1 - t).as_secs_f64());
        step.push(t.elapsed().as_secs_f64());
    }
    eprintln!("fwd+bwd {:.3} s, optimiser {:.3} s", median(tb), median(to));
    let mut fwd = Vec::new();
    tch::no_grad(|| {
        for _ in 0..c.reps {
            let t = Instant::now();
            let _ = model.forward(&x).expect("shape");
            fwd.push(t.elapsed().as_secs_f64());
        }
    });
    println!(
        "{} {} {} {} {}",
        median(step),
        median(fwd),
        peak_mb(),
        model.parameters(),
        forward_flops(&graph, c)
    );
    let _ = graph_file(c, &graph);
}

/// Rollout training with and without activation checkpointing.
const ROLLOUTS: [(usize, bool); 3] = [(4, false), (4, true), (8, true)];

/// One training step through an `r`-step rollout on the larger case:
/// prints `step_s peak_mb` (the second of two steps).
fn run_rollout_case(r: usize, recompute: bool) {
    let Setup {
        grid,
        model,
        mut opt,
        ..
    } = setup(&CASES[1]);
    let (n, ri) = (grid.len() as i64, r as i64);
    let opts = (Kind::Float, Device::Cpu);
    let x = Tensor::randn([1, n, CHANNELS], opts);
    let forcings = Tensor::randn([ri, 1, n, CHANNELS - FORECAST], opts);
    let targets = Tensor::randn([ri, 1, n, FORECAST], opts);
    let mut last = f64::NAN;
    for _ in 0..2 {
        let t = Instant::now();
        opt.zero_grad();
        rollout_backward(
            &model,
            x.shallow_clone(),
            &forcings,
            &targets,
            recompute,
            &mut |y, target, _, _| Ok(((y - target).square().mean(Kind::Float) / ri as f64, None)),
        )
        .expect("rollout");
        opt.step(1e-4);
        last = t.elapsed().as_secs_f64();
    }
    println!("{last} {}", peak_mb());
}

/// Debian's jemalloc (libjemalloc2; `scripts/setup.sh --bench` installs
/// it), for running the PyTorch reference with the allocator and options
/// fastnet uses (src/alloc.rs).
const JEMALLOC: &str = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";

/// Runs the PyTorch reference (with `LD_PRELOAD` of jemalloc when
/// `jemalloc`) and returns its JSON line.
fn python(c: &Case, graph: &Path, threads: i32, jemalloc: bool) -> Option<serde_json::Value> {
    let py = std::env::var("FASTNET_PYTHON").ok()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_model.py");
    let mut cmd = Command::new(py);
    if jemalloc {
        if !Path::new(JEMALLOC).exists() {
            return None;
        }
        cmd.env("LD_PRELOAD", JEMALLOC).env(
            "MALLOC_CONF",
            fastnet::alloc::MALLOC_CONF.trim_end_matches('\0'),
        );
    }
    let out = cmd
        .arg(script)
        .arg(graph)
        .args(
            [
                c.hidden,
                c.layers,
                CHANNELS,
                FORECAST,
                threads as i64,
                c.reps as i64,
            ]
            .map(|v| v.to_string()),
        )
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "python reference failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// Runs case `i` of `flag` in a child process (peak memory is per
/// process) and returns the `n` numbers it prints, or its error output.
fn child(flag: &str, i: usize, n: usize) -> Result<Vec<f64>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args([flag, &i.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    let v: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    if v.len() != n {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(v)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(p) = args.iter().position(|a| a == "--case") {
        run_case(args[p + 1].parse().expect("case"));
        return;
    }
    if let Some(p) = args.iter().position(|a| a == "--rollout-case") {
        let (r, recompute) = ROLLOUTS[args[p + 1].parse::<usize>().expect("case")];
        run_rollout_case(r, recompute);
        return;
    }
    let threads = tch::get_num_threads();
    println!(
        "FastNet step on CPU: {} core(s), {threads} libtorch threads, batch 1, {CHANNELS} channels",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<14} {:>7} {:>7} {:>6} {:>7} {:>6} {:>8} {:>7} {:>6} {:>8} {:>7} {:>6}",
        "case",
        "params",
        "step s",
        "fwd s",
        "peak MB",
        "GFLOP",
        "torch s",
        "MB",
        "ratio",
        "torch+je",
        "MB",
        "ratio"
    );
    for (i, c) in CASES.iter().enumerate() {
        let v = match child("--case", i, 5) {
            Ok(v) => v,
            Err(e) => {
                println!("{:<14} failed: {e}", c.name);
                continue;
            }
        };
        let graph = std::env::temp_dir().join(format!(
            "fastnet-bench-{}-l{}.safetensors",
            c.grid.replace(':', "-"),
            c.level
        ));
        let plain = python(c, &graph, threads, false);
        let je = python(c, &graph, threads, true);
        let get = |p: &Option<serde_json::Value>, k: &str| {
            p.as_ref().and_then(|p| p[k].as_f64()).unwrap_or(f64::NAN)
        };
        println!(
            "{:<14} {:>7.0} {:>7.3} {:>6.3} {:>7.0} {:>6.1} {:>8.3} {:>7.0} {:>6.2} {:>8.3} {:>7.0} {:>6.2}",
            c.name,
            v[3],
            v[0],
            v[1],
            v[2],
            3.0 * v[4] / 1e9,
            get(&plain, "step_s"),
            get(&plain, "peak_mb"),
            v[0] / get(&plain, "step_s"),
            get(&je, "step_s"),
            get(&je, "peak_mb"),
            v[0] / get(&je, "step_s"),
        );
    }
    println!(
        "step = forward, MSE, backward, AdamW (median); GFLOP = dense-layer work of a step; ratio = fastnet step / PyTorch step;"
    );
    println!(
        "fastnet runs on jemalloc (src/alloc.rs); torch = PyTorch as installed (glibc malloc), torch+je = PyTorch with the same jemalloc and options (LD_PRELOAD)"
    );

    println!(
        "\nRollout training step, {} (activation checkpointing = train.recompute):",
        CASES[1].name
    );
    println!(
        "{:>8} {:>10} {:>10} {:>9}",
        "rollout", "recompute", "step s", "peak MB"
    );
    for (i, (r, recompute)) in ROLLOUTS.iter().enumerate() {
        let v = match child("--rollout-case", i, 2) {
            Ok(v) => v,
            Err(e) => {
                println!("{r:>8} {recompute:>10} failed: {e}");
                continue;
            }
        };
        println!("{r:>8} {recompute:>10} {:>10.3} {:>9.0}", v[0], v[1]);
    }
}
