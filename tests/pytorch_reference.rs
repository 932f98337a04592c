//! Our network against an independent one: the plain PyTorch FastNet of
//! scripts/bench_model.py (concatenate-then-Linear, no split projections)
//! loads our weights by name — every parameter present, nothing but the
//! graph buffers left over — and gives the same forecast.

use std::process::Command;

use fastnet::model::{FastNet, GraphBuffers, ModelConfig};
use fastnet_data::fixture::scratch_dir;
use fastnet_mesh::{Graph, GraphConfig, Grid};
use tch::{nn::VarStore, Device, Kind, Tensor};

#[test]
fn pytorch_loads_our_weights_by_name_and_gives_the_same_forecast() {
    let python = std::env::var("FASTNET_PYTHON")
        .expect("FASTNET_PYTHON is not set: run scripts/setup.sh (it writes .cargo/config.toml)");
    let dir = scratch_dir("pytorch-reference");
    let grid = Grid::from_spec("latlon-nopoles:16x32").unwrap();
    let graph = Graph::build(&grid, &GraphConfig::fastnet(2)).unwrap();
    let vs = VarStore::new(Device::Cpu);
    let cfg = ModelConfig {
        hidden: 16,
        processor_layers: 2,
        forecast_channels: 5,
        nonforecast_channels: 3,
    };
    let model = FastNet::new(&vs.root(), &cfg, &GraphBuffers::from_graph(&graph)).unwrap();
    // move every parameter off its initial value (LayerNorms start at 1 and
    // 0, biases could hide a swapped pair), with a generator of our own
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    tch::no_grad(|| {
        for (i, (_, t)) in vars
            .iter_mut()
            .filter(|(_, t)| t.requires_grad())
            .enumerate()
        {
            let n = t.numel() as i64;
            let wave = (Tensor::arange(n, (Kind::Float, Device::Cpu)) * 0.37 + i as f64).sin();
            let _ = t.g_add_(&(wave.view_as(t) * 0.2));
        }
    });
    let points = grid.len() as i64;
    let x = (Tensor::arange(2 * points * 8, (Kind::Float, Device::Cpu)) * 0.013)
        .cos()
        .view([2, points, 8]);
    let y = tch::no_grad(|| model.forward(&x).unwrap());

    let weights = dir.join("weights.safetensors");
    Tensor::write_safetensors(&vars, &weights).unwrap();
    let io = dir.join("io.safetensors");
    Tensor::write_safetensors(&[("input", &x), ("output", &y)], &io).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/torch_reference.py");
    let out = Command::new(&python)
        .args([script, weights.to_str().unwrap(), io.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{python} {script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["missing"], serde_json::json!([]), "{r}");
    assert_eq!(r["unexpected"], serde_json::json!([]), "{r}");
    assert_eq!(r["parameters"].as_i64(), Some(model.parameters()), "{r}");
    let (diff, scale) = (
        r["max_abs_diff"].as_f64().unwrap(),
        r["max_abs_output"].as_f64().unwrap(),
    );
    assert!(scale > 0.5, "{r}");
    assert!(
        diff < 1e-5 * scale,
        "PyTorch and fastnet differ by {diff}: {r}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
