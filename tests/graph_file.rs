//! The graph file seen from outside: libtorch reads it by name with the
//! reference model's buffer names and dtypes, and the CLI refuses bad input
//! with one clear line and no output file.

mod common;
use common::fastnet;

use std::path::PathBuf;

use fastnet_mesh::{Graph, GraphConfig, Grid};
use tch::{Kind, Tensor};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fastnet-it-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn libtorch_reads_the_graph_buffers_by_name() {
    let dir = tmp("torch");
    let path = dir.join("g.safetensors");
    let grid = Grid::from_spec("latlon-nopoles:32x64").unwrap();
    let g = Graph::build(&grid, &GraphConfig::graphcast(2)).unwrap();
    g.save(&path).unwrap();

    let tensors: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(&path)
        .unwrap()
        .into_iter()
        .collect();
    let mf = &tensors["mesh_features"];
    assert_eq!((mf.kind(), mf.size()), (Kind::Float, vec![162, 3]));
    let mf: Vec<f32> = Vec::try_from(mf.flatten(0, -1)).unwrap();
    assert_eq!(mf, g.mesh_features);
    for (prefix, set) in [
        ("encoder", &g.encoder),
        ("mesh", &g.mesh),
        ("decoder", &g.decoder),
    ] {
        let idx = &tensors[&format!("{prefix}_edge_index.0")];
        assert_eq!(
            (idx.kind(), idx.size()),
            (Kind::Int64, vec![set.len() as i64, 2])
        );
        let idx: Vec<i64> = Vec::try_from(idx.flatten(0, -1)).unwrap();
        let want: Vec<i64> = set
            .index
            .iter()
            .flat_map(|&(s, r)| [s as i64, r as i64])
            .collect();
        assert_eq!(idx, want, "{prefix}");
        let f = &tensors[&format!("{prefix}_edge_features.0")];
        assert_eq!(
            (f.kind(), f.size()),
            (Kind::Float, vec![set.len() as i64, 4])
        );
        let f: Vec<f32> = Vec::try_from(f.flatten(0, -1)).unwrap();
        assert_eq!(f, set.features, "{prefix}");
    }
    // decoder (source, target) = (mesh node, grid point): targets span the grid
    let dec = &tensors["decoder_edge_index.0"];
    assert_eq!(dec.select(1, 1).max().int64_value(&[]), 32 * 64 - 1);
    assert_eq!(dec.select(1, 0).max().int64_value(&[]), 161);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_builds_and_describes_a_graph() {
    let dir = tmp("cli");
    let out = dir.join("g.safetensors");
    let o = out.to_str().unwrap();
    let r = fastnet(&[
        "graph",
        "build",
        "--grid",
        "weatherbench-5.625",
        "--mesh-level",
        "2",
        "-o",
        o,
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r = fastnet(&["graph", "info", o, "--json"]);
    assert!(r.status.success());
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["grid_points"], 2048);
    assert_eq!(v["mesh_nodes"], 162);
    assert_eq!(v["encoder"]["edges"], 4096);
    assert_eq!(v["mesh"]["edges"], 1260);
    assert_eq!(v["decoder"]["edges"], 6144);
    assert_eq!(v["grid_points_without_decoder_edge"], 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_refuses_bad_input_with_one_clear_line_and_no_output() {
    let dir = tmp("bad");
    let out = dir.join("g.safetensors");
    let o = out.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "graph",
                "build",
                "--grid",
                "era5-1deg",
                "--mesh-level",
                "9",
                "-o",
                o,
            ],
            "mesh_level",
        ),
        (
            &["graph", "build", "--grid", "latlon:0.7", "-o", o],
            "does not divide the sphere",
        ),
        (
            &[
                "graph",
                "build",
                "--grid",
                "latlon:1",
                "--grid-to-mesh",
                "nearest:0",
                "-o",
                o,
            ],
            "grid_to_mesh.k",
        ),
        (
            &[
                "graph",
                "build",
                "--grid",
                "points:/nonexistent/stations.csv",
                "-o",
                o,
            ],
            "/nonexistent/stations.csv",
        ),
    ];
    for (args, needle) in cases {
        let r = fastnet(args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(!out.exists());
    }
    // a file that is not a graph
    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"definitely not safetensors").unwrap();
    let r = fastnet(&["graph", "info", junk.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        err.contains("junk.safetensors") && err.contains("not a graph file"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn env_self_test_passes_on_cpu() {
    let r = fastnet(&["env", "--json"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["cpu_selftest"], serde_json::json!({ "Ok": null }));
    assert!(v["libtorch_version"]
        .as_str()
        .unwrap()
        .starts_with("2.11.0"));
}
