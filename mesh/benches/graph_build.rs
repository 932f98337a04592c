//! Graph build benchmark: wall time, peak memory and edge counts for the two
//! reference configurations, next to GraphCast's published counts.
//!
//!     cargo bench -p fastnet-mesh --bench graph_build
//!
//! Each case runs in a fresh child process so its peak resident memory
//! (VmHWM) is its own. The build (mesh, multi-mesh, encoder, decoder,
//! features) is timed three times; the fastest is reported.

use std::process::Command;
use std::time::Instant;

use fastnet_mesh::{Graph, GraphConfig, Grid};

struct Case {
    name: &'static str,
    grid: &'static str,
    config: fn() -> GraphConfig,
    /// GraphCast's published (grid->mesh, mesh->grid) edge counts, where known
    /// (Lam et al. 2023, Table 4: 0.25° grid, level-6 multi-mesh).
    published: Option<(usize, usize)>,
    /// (grid->mesh, mesh->grid) of GraphCast's rules re-implemented in
    /// numpy/scipy (`scripts/graphcast_counts.py`, float32 and float64 agree).
    reimplemented: Option<(usize, usize)>,
}

const CASES: [Case; 4] = [
    Case {
        name: "GraphCast 0.25° L6 radius/triangle",
        grid: "era5",
        config: || GraphConfig::graphcast(6),
        published: Some((1_618_746, 3_114_720)),
        reimplemented: Some((1_618_824, 3_114_720)),
    },
    Case {
        name: "GraphCast 1° L5 radius/triangle",
        grid: "era5-1deg",
        config: || GraphConfig::graphcast(5),
        published: None,
        reimplemented: Some((101_892, 195_480)),
    },
    Case {
        name: "FastNet 1° L5 knn 2/3",
        grid: "era5-1deg",
        config: || GraphConfig::fastnet(5),
        published: None,
        reimplemented: None,
    },
    Case {
        name: "FastNet 0.25° L6 knn 2/3",
        grid: "era5",
        config: || GraphConfig::fastnet(6),
        published: None,
        reimplemented: None,
    },
];

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn run_case(i: usize) {
    let case = &CASES[i];
    let grid = Grid::from_spec(case.grid).expect("built-in grid");
    let config = (case.config)();
    let mut best = f64::INFINITY;
    let mut counts = (0, 0, 0, 0);
    for _ in 0..3 {
        let t = Instant::now();
        let g = Graph::build(&grid, &config).expect("valid config");
        best = best.min(t.elapsed().as_secs_f64());
        counts = (
            g.mesh_nodes(),
            g.encoder.len(),
            g.mesh.len(),
            g.decoder.len(),
        );
    }
    println!(
        "{} {} {} {} {} {}",
        counts.0,
        counts.1,
        counts.2,
        counts.3,
        best,
        peak_rss_mb()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--case") {
        run_case(args[pos + 1].parse().expect("case number"));
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    println!(
        "graph build on {} core(s), rayon threads {}, f64 geometry",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        rayon::current_num_threads()
    );
    println!(
        "{:<36} {:>9} {:>7} {:>10} {:>8} {:>10} {:>8} {:>9}",
        "case", "grid pts", "mesh", "grid2mesh", "mesh", "mesh2grid", "best s", "peak MB"
    );
    for (i, case) in CASES.iter().enumerate() {
        let out = Command::new(&exe)
            .args(["--case", &i.to_string()])
            .output()
            .expect("run child");
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Vec<f64> = text
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        if !out.status.success() || v.len() != 6 {
            println!(
                "{:<36} failed: {}",
                case.name,
                String::from_utf8_lossy(&out.stderr)
            );
            continue;
        }
        let grid_points = Grid::from_spec(case.grid).expect("built-in grid").len();
        println!(
            "{:<36} {:>9} {:>7} {:>10} {:>8} {:>10} {:>8.2} {:>9.0}",
            case.name, grid_points, v[0], v[1], v[2], v[3], v[4], v[5]
        );
        for (label, reference) in [
            ("  GraphCast paper, Table 4", case.published),
            ("  graphcast_counts.py (numpy)", case.reimplemented),
        ] {
            if let Some((g2m, m2g)) = reference {
                println!(
                    "{:<36} {:>9} {:>7} {:>10} {:>8} {:>10}   (ours {:+} / {:+})",
                    label,
                    "",
                    "",
                    g2m,
                    "",
                    m2g,
                    v[1] as i64 - g2m as i64,
                    v[3] as i64 - m2g as i64
                );
            }
        }
    }
}
