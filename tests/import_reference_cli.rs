//! `fastnet import-reference` on files laid out like fastnet-inference's:
//! a state dict under `network.py`'s names (written here from that module
//! structure, not from fastnet's model) and a `stats.json` of anemoi names.
//!
//! * End to end on O16 with a small network: import, `fastnet forecast` two
//!   steps on O16 NetCDF (`values` dimension), and the same two steps
//!   computed by scripts/reference_forward.py the way fastnet-inference
//!   does it (its normalisation, anemoi's forcings, the suite's plain
//!   PyTorch FastNet) agree to 1e-5 of the normalised fields.
//! * The exact FastNet-global v1.1 shapes (hidden 768, 16 layers, O96,
//!   level-5 mesh) from a sparse file's header: `--dry-run` infers the
//!   published sizes and parameter count without reading 250 MB.
//! * Every refusal names what is wrong: an unmappable channel, a graph for
//!   another grid, an edge index out of range, a folder that holds
//!   checkpoints.

mod common;
use common::{fastnet, ok};

#[path = "import_reference/network_py.rs"]
mod network_py;
use network_py::*;

use std::path::{Path, PathBuf};
use std::process::Command;

use fastnet_data::channels::FASTNET_LEVELS;
use fastnet_data::fixture::{scratch_dir, value, write_synthetic};
use fastnet_data::time::{parse_date, HOUR};
use fastnet_data::writer::{write_era5, Encoding, VarData, WriteOptions};
use fastnet_mesh::{Graph, GraphConfig, Grid};

const G: f64 = 9.80665;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// stats.json in fastnet-inference's form and key order. `stats` gives
/// (mean, stdev) per anemoi name.
fn write_stats(path: &Path, names: &[String], stats: &dyn Fn(&str) -> (f64, f64)) {
    let obj = |which: usize| -> String {
        names
            .iter()
            .map(|n| {
                let (m, s) = stats(n);
                format!(
                    "{:?}: {}",
                    n,
                    serde_json::to_string(&[m, s][which]).unwrap()
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    std::fs::write(
        path,
        format!("{{\"mean\": {{{}}}, \"stdev\": {{{}}}}}", obj(0), obj(1)),
    )
    .unwrap();
}

/// Surface geopotential (m² s⁻²) of the test's orography: g × (300 ± 250 m),
/// mean over spread like the Earth's (the fixture's own is 5,200 ± 55 m,
/// whose f32 rounding alone would be 1e-5 of its spread).
fn surface_geopotential(lat_deg: f64, lon_deg: f64) -> f32 {
    let (la, lo) = (lat_deg.to_radians(), lon_deg.to_radians());
    (G * (300.0 + 250.0 * (la.cos() * (2.0 * lo).cos() + 0.5 * la.sin()))) as f32
}

/// A static field of the test data: lsm, sdor, slor from the fixture,
/// surface geopotential `z` from [`surface_geopotential`].
fn static_value(name: &str, lat_deg: f64, lon_deg: f64) -> f32 {
    match name {
        "z" => surface_geopotential(lat_deg, lon_deg),
        _ => value(name, 0, 0, lat_deg, lon_deg),
    }
}

/// FastNet's inputs in `dir` as the data crate's fixture writes them
/// (`era5_pl.nc`, `era5_sfc.nc`), and `era5_static.nc` with
/// [`static_value`], all on `grid` (the `values` point dimension).
fn write_data(dir: &Path, grid: &Grid, times: &[i64]) {
    let opts = WriteOptions::new_cds();
    write_synthetic(
        &dir.join("era5_pl.nc"),
        grid,
        times,
        &["z", "q", "t", "u", "v"],
        &FASTNET_LEVELS,
        &opts,
    )
    .unwrap();
    write_synthetic(
        &dir.join("era5_sfc.nc"),
        grid,
        times,
        &["u10", "v10", "d2m", "t2m", "msl", "skt", "sp"],
        &[],
        &opts,
    )
    .unwrap();
    let pts = grid.point_lat_lon();
    let vars: Vec<VarData> = [
        ("lsm", "(0 - 1)"),
        ("z", "m**2 s**-2"),
        ("sdor", "m"),
        ("slor", "~"),
    ]
    .iter()
    .map(|&(name, units)| VarData {
        name: name.into(),
        units: units.into(),
        levels: None,
        values: pts
            .iter()
            .map(|&(la, lo)| static_value(name, la, lo))
            .collect(),
    })
    .collect();
    let statics = WriteOptions {
        encoding: Encoding::Float32,
        ..WriteOptions::old_cds()
    };
    write_era5(
        &dir.join("era5_static.nc"),
        grid,
        &times[..1],
        &vars,
        &statics,
    )
    .unwrap();
}

/// Mean and standard deviation of the test data behind an anemoi name
/// (anemoi units: orography standardised as g·h = surface geopotential)
/// over the grid and times, rounded to f32 values so that both sides
/// normalise with the same numbers; forcings get the release's values.
fn data_stats(name: &str, grid: &Grid, times: &[i64]) -> (f64, f64) {
    let (var, level) = match name {
        "10u" => ("u10", 0),
        "10v" => ("v10", 0),
        "2d" => ("d2m", 0),
        "2t" => ("t2m", 0),
        "msl" | "skt" | "sp" | "lsm" | "sdor" | "slor" => (name, 0),
        "orography" => ("z", 0),
        // the release's statistics of the computed channels
        "cos_latitude" => return (0.7966, 0.2275),
        "cos_longitude" | "sin_longitude" => return (0.0, std::f64::consts::FRAC_1_SQRT_2),
        "cos_julian_day" | "sin_julian_day" | "cos_local_time" | "sin_local_time" => {
            return (0.0, std::f64::consts::FRAC_1_SQRT_2)
        }
        "insolation" => return (0.2533, 0.3260),
        n => {
            let (v, l) = n.split_once('_').unwrap();
            (v, l.parse().unwrap())
        }
    };
    let statics = ["lsm", "sdor", "slor"].contains(&var) || name == "orography";
    let mut x = Vec::new();
    for &t in times {
        for (la, lo) in grid.point_lat_lon() {
            x.push(if statics {
                static_value(var, la, lo)
            } else {
                value(var, level, t, la, lo)
            } as f64);
        }
    }
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let sd = (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / x.len() as f64).sqrt();
    ((m as f32) as f64, (sd as f32) as f64)
}

struct Case {
    dir: PathBuf,
    grid: Grid,
    buffers: Buffers,
    names: Vec<String>,
    times: Vec<i64>,
}

fn case(name: &str) -> Case {
    let dir = scratch_dir(name);
    let grid = Grid::octahedral(16).unwrap(); // 1,600 points
    let graph = Graph::build(&grid, &GraphConfig::fastnet(2)).unwrap();
    let (mut names, nf) = anemoi_names();
    names.extend(nf);
    // late in the year, where anemoi's jd / 365.25 and a 365-day phase differ
    let t0 = parse_date("2021-12-31T06").unwrap();
    let times: Vec<i64> = (-1..=2).map(|k| t0 + k * 6 * HOUR).collect();
    Case {
        dir,
        buffers: buffers(&graph),
        grid,
        names,
        times,
    }
}

#[test]
fn imported_release_forecasts_like_fastnet_inference_on_o16() {
    let python = std::env::var("FASTNET_PYTHON")
        .expect("FASTNET_PYTHON is not set: run scripts/setup.sh (it writes .cargo/config.toml)");
    let c = case("import-reference");
    let weights = c.dir.join("model.safetensors");
    write_weights(&weights, &c.buffers, 16, 2);
    let stats = c.dir.join("stats.json");
    write_stats(&stats, &c.names, &|n| data_stats(n, &c.grid, &c.times));
    let data = c.dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    write_data(&data, &c.grid, &c.times);

    let ckpt = c.dir.join("ckpt");
    let out = ok(&[
        "import-reference",
        "--weights",
        &s(&weights),
        "--stats",
        &s(&stats),
        "--grid",
        "o16",
        "-o",
        &s(&ckpt),
    ]);
    for want in [
        "hidden 16",
        "2 processor layers",
        "12 non-forecast + 72 forecast",
        "2 encoder and 3 decoder edges per grid point",
        "(level 2)",
    ] {
        assert!(out.contains(want), "{want:?} not in {out}");
    }

    // the sidecar: model order [non-forecast, forecast] in stats.json's
    // order within each block, orography's stats over g, geometry raw
    let (_, sc) = fastnet::checkpoint::read_sidecar(&ckpt).unwrap();
    let names = sc.channels.names();
    assert_eq!(sc.channels.n_non_forecast(), 12);
    assert_eq!(&names[..4], ["cos_lat", "cos_lon", "sin_lon", "lsm"]);
    assert_eq!(names[11], "insolation");
    assert_eq!(&names[12..15], ["u10", "v10", "d2m"]);
    assert_eq!(names[12 + 7], "z50");
    assert_eq!(names[83], "v1000");
    let st = |n: &str| {
        sc.stats
            .channels
            .iter()
            .find(|c| c.name == n)
            .unwrap()
            .clone()
    };
    assert_eq!((st("cos_lat").mean, st("cos_lat").std), (0.0, 1.0));
    let (m, sd) = data_stats("orography", &c.grid, &c.times);
    assert!(
        (st("orography").mean - m / G).abs() < 1e-9 * m
            && (st("orography").std - sd / G).abs() < 1e-9 * sd
    );
    assert_eq!(st("z500").mean, data_stats("z_500", &c.grid, &c.times).0);
    assert_eq!(sc.grid, c.grid);
    assert_eq!((sc.model.hidden, sc.model.processor_layers), (16, 2));
    // the stored graph is the release's buffers
    let stored = fastnet::checkpoint::read_tensors(&ckpt.join(&sc.weights)).unwrap();
    let dec = Vec::<i64>::try_from(stored["decoder_edge_index.0"].flatten(0, -1)).unwrap();
    assert_eq!(dec, c.buffers.index[2]);

    let fc = c.dir.join("forecast.nc");
    ok(&[
        "forecast",
        "--checkpoint",
        &s(&ckpt),
        "--data",
        &s(&data),
        "--init",
        "2021-12-31T06",
        "--steps",
        "2",
        "--device",
        "cpu",
        "-o",
        &s(&fc),
    ]);

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/reference_forward.py");
    let r = Command::new(&python)
        .args([
            script,
            "--weights",
            &s(&weights),
            "--stats",
            &s(&stats),
            "--data",
        ])
        .args(["era5_pl.nc", "era5_sfc.nc", "era5_static.nc"].map(|f| s(&data.join(f))))
        .args([
            "--init",
            "2021-12-31T06",
            "--steps",
            "2",
            "--forecast",
            &s(&fc),
        ])
        .output()
        .unwrap();
    assert!(
        r.status.success(),
        "{python} {script} failed:\n{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(j["missing"], serde_json::json!([]), "{j}");
    assert_eq!(j["unexpected"], serde_json::json!([]), "{j}");
    assert_eq!(j["steps"], 2, "{j}");
    // the network moved the state (a persistence forecast would not pass)
    assert!(j["max_norm_change_step1"].as_f64().unwrap() > 0.05, "{j}");
    let ratio = j["ratio"].as_f64().unwrap();
    assert!(
        (0.0..=1.0).contains(&ratio),
        "fastnet and the fastnet-inference-style reference differ beyond 1e-5 (normalised): {j}"
    );
    std::fs::remove_dir_all(&c.dir).unwrap();
}

#[test]
fn refusals_name_the_channel_the_grid_or_the_buffer() {
    let c = case("import-reference-refusals");
    let weights = c.dir.join("model.safetensors");
    write_weights(&weights, &c.buffers, 8, 1);
    let stats = c.dir.join("stats.json");
    let flat = |_: &str| (1.0, 2.0);
    write_stats(&stats, &c.names, &flat);
    let run = |w: &Path, st: &Path, grid: &str, out: &Path| {
        fastnet(&[
            "import-reference",
            "--weights",
            &s(w),
            "--stats",
            &s(st),
            "--grid",
            grid,
            "-o",
            &s(out),
        ])
    };
    let err = |r: std::process::Output| -> String {
        assert!(
            !r.status.success(),
            "{}",
            String::from_utf8_lossy(&r.stdout)
        );
        let e = String::from_utf8_lossy(&r.stderr).into_owned();
        assert_eq!(
            e.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{e}"
        );
        e
    };

    // a channel fastnet does not have: one error naming it, nothing written
    let mut names = c.names.clone();
    *names.last_mut().unwrap() = "sin_latitude".into();
    let bad_stats = c.dir.join("sin_latitude.json");
    write_stats(&bad_stats, &names, &flat);
    let out = c.dir.join("a");
    let e = err(run(&weights, &bad_stats, "o16", &out));
    assert!(
        e.contains("`sin_latitude`") && e.contains("no fastnet equivalent"),
        "{e}"
    );
    assert!(!out.join("ckpt-00000000.json").exists());

    // 83 channels for 84-channel weights
    let short = c.dir.join("short.json");
    write_stats(&short, &c.names[..83], &flat);
    let e = err(run(&weights, &short, "o16", &out));
    assert!(e.contains("84 grid channels") && e.contains("83"), "{e}");

    // the graph was built for O16: O32 has 6,400 points
    let e = err(run(&weights, &stats, "o32", &out));
    assert!(
        e.contains("encoder_edge_index.0") && e.contains("O32") && e.contains("3200 edges"),
        "{e}"
    );

    // a decoder edge pointing past the grid
    let mut broken = buffers(&Graph::build(&c.grid, &GraphConfig::fastnet(2)).unwrap());
    broken.index[2][1] = 1600;
    let bad_weights = c.dir.join("broken.safetensors");
    write_weights(&bad_weights, &broken, 8, 1);
    let e = err(run(&bad_weights, &stats, "o16", &out));
    assert!(
        e.contains("decoder_edge_index.0") && e.contains("(") && e.contains("0..1600"),
        "{e}"
    );

    // a folder holding checkpoints is not overwritten
    ok(&[
        "import-reference",
        "--weights",
        &s(&weights),
        "--stats",
        &s(&stats),
        "--grid",
        "o16",
        "-o",
        &s(&out),
    ]);
    let e = err(run(&weights, &stats, "o16", &out));
    assert!(e.contains("already holds checkpoints"), "{e}");
    std::fs::remove_dir_all(&c.dir).unwrap();
}

#[test]
fn the_exact_v1_1_shapes_on_o96_give_the_published_sizes() {
    let c = case("import-reference-v1-1");
    let weights = c.dir.join("model.safetensors");
    sparse_safetensors(&weights, &v1_1_tensors(120_960));
    let stats = c.dir.join("stats.json");
    write_stats(&stats, &c.names, &|_| (1.0, 2.0));
    let out = c.dir.join("never-written");
    let args = |w: &Path| {
        vec![
            "import-reference".to_string(),
            "--weights".into(),
            s(w),
            "--stats".into(),
            s(&stats),
            "--mesh-level".into(),
            "5".into(),
            "-o".into(),
            s(&out),
            "--dry-run".into(),
            "--json".into(),
        ]
    };
    let a = args(&weights);
    let text = ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let j: serde_json::Value = serde_json::from_str(&text).unwrap();
    let m = &j["layout"]["model"];
    assert_eq!(
        (m["hidden"].as_i64(), m["processor_layers"].as_i64()),
        (Some(768), Some(16)),
        "{j}"
    );
    assert_eq!(
        (
            m["forecast_channels"].as_i64(),
            m["nonforecast_channels"].as_i64()
        ),
        (Some(72), Some(12))
    );
    // DESIGN.md §7: the reference module's counts
    assert_eq!(j["layout"]["parameters"].as_i64(), Some(62_236_488));
    assert_eq!(j["layout"]["buffer_values"].as_i64(), Some(1_154_484));
    let fit = &j["fit"];
    assert_eq!(fit["grid_points"].as_i64(), Some(40_320));
    assert_eq!(
        (
            fit["encoder_per_point"].as_i64(),
            fit["decoder_per_point"].as_i64()
        ),
        (Some(2), Some(3))
    );
    assert_eq!(fit["mesh_level"].as_u64(), Some(5));
    assert_eq!(j["channels"].as_array().map(Vec::len), Some(84));
    assert!(!out.exists(), "a dry run writes nothing");

    // 120,000 decoder edges are not 3 per O96 point
    let wrong = c.dir.join("wrong.safetensors");
    sparse_safetensors(&wrong, &v1_1_tensors(120_000));
    let a = args(&wrong);
    let r = fastnet(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        e.contains("decoder_edge_index.0")
            && e.contains("120000 edges")
            && e.contains("40320 points"),
        "{e}"
    );
    std::fs::remove_dir_all(&c.dir).unwrap();
}
