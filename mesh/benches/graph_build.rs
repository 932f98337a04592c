//! Graph build benchmark: wall time, peak memory and counts for the
//! reference configurations (GraphCast on lat-lon grids, FastNet on lat-lon
//! and on its own O96 octahedral grid, and O320), next to GraphCast's counts
//! and the released FastNet-global v1.1 graph buffers.
//!
//!     cargo bench -p fastnet-mesh --bench graph_build
//!
//! Each case runs in a fresh child process so its peak resident memory
//! (VmHWM) is its own. Our build (mesh, multi-mesh, encoder, decoder, node
//! and edge features) is timed three times; the fastest is reported.
//!
//! Under each case, one row per peer with the counts that peer itself
//! produced, and `—` for the stages it did not compute (a difference to ours
//! is printed only for those it did). The peers are not timed: the time and
//! memory columns are ours alone.

use std::process::Command;
use std::time::Instant;

use fastnet_mesh::{Graph, GraphConfig, Grid};

/// Counts a peer produced; `None` for a stage it did not compute.
struct Counts {
    mesh_nodes: Option<usize>,
    mesh_edges: Option<usize>,
    grid2mesh: Option<usize>,
    mesh2grid: Option<usize>,
}

struct Peer {
    /// Who computed the counts, and how.
    label: &'static str,
    counts: Counts,
}

struct Case {
    name: &'static str,
    grid: &'static str,
    config: fn() -> GraphConfig,
    peers: &'static [Peer],
}

/// GraphCast's published numbers (Lam et al. 2023, Table 4: 0.25° grid,
/// level-6 multi-mesh): only the two bipartite edge counts are taken from it.
const PAPER_L6: Peer = Peer {
    label: "  GraphCast paper, Table 4",
    counts: Counts {
        mesh_nodes: None,
        mesh_edges: None,
        grid2mesh: Some(1_618_746),
        mesh2grid: Some(3_114_720),
    },
};

/// `scripts/graphcast_counts.py LEVEL RES`: GraphCast's rules re-implemented
/// in numpy/scipy; it computes all four counts itself (float32 and float64
/// agree) and no features.
const SCRIPT: &str = "  graphcast_counts.py (numpy)";

/// The graph buffers of the released FastNet-global v1.1 (O96, level 5;
/// MetOffice/fastnet-inference, DESIGN.md §7): `mesh_features` [10242, 2],
/// `encoder_edge_index.0` [80640, 2], `mesh_edge_index.0` [81900, 2],
/// `decoder_edge_index.0` [120960, 2].
const FASTNET_V1_1: Peer = Peer {
    label: "  FastNet-global v1.1 buffers",
    counts: Counts {
        mesh_nodes: Some(10_242),
        mesh_edges: Some(81_900),
        grid2mesh: Some(80_640),
        mesh2grid: Some(120_960),
    },
};

const CASES: [Case; 6] = [
    Case {
        name: "GraphCast 0.25° L6 radius/triangle",
        grid: "era5",
        config: || GraphConfig::graphcast(6),
        peers: &[
            PAPER_L6,
            // graphcast_counts.py 6 0.25
            Peer {
                label: SCRIPT,
                counts: Counts {
                    mesh_nodes: Some(40_962),
                    mesh_edges: Some(327_660),
                    grid2mesh: Some(1_618_824),
                    mesh2grid: Some(3_114_720),
                },
            },
        ],
    },
    Case {
        name: "GraphCast 1° L5 radius/triangle",
        grid: "era5-1deg",
        config: || GraphConfig::graphcast(5),
        peers: &[
            // graphcast_counts.py 5 1
            Peer {
                label: SCRIPT,
                counts: Counts {
                    mesh_nodes: Some(10_242),
                    mesh_edges: Some(81_900),
                    grid2mesh: Some(101_892),
                    mesh2grid: Some(195_480),
                },
            },
        ],
    },
    Case {
        name: "FastNet 1° L5 knn 2/3",
        grid: "era5-1deg",
        config: || GraphConfig::fastnet(5),
        peers: &[],
    },
    Case {
        name: "FastNet 0.25° L6 knn 2/3",
        grid: "era5",
        config: || GraphConfig::fastnet(6),
        peers: &[],
    },
    Case {
        name: "FastNet O96 L5 knn 2/3",
        grid: "o96",
        config: || GraphConfig::fastnet(5),
        peers: &[FASTNET_V1_1],
    },
    Case {
        name: "FastNet O320 L6 knn 2/3",
        grid: "o320",
        config: || GraphConfig::fastnet(6),
        peers: &[],
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
        "{:<36} {:>9} {:>10} {:>10} {:>10} {:>10} {:>8} {:>9}",
        "case",
        "grid pts",
        "mesh nodes",
        "grid2mesh",
        "mesh edges",
        "mesh2grid",
        "best s",
        "peak MB"
    );
    println!(
        "(best s, peak MB: ours, a whole Graph::build with features; peer rows are counts only, \
         not timed; — = the peer did not compute that stage)"
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
            "{:<36} {:>9} {:>10} {:>10} {:>10} {:>10} {:>8.2} {:>9.0}",
            case.name, grid_points, v[0], v[1], v[2], v[3], v[4], v[5]
        );
        let ours = [v[0], v[1], v[2], v[3]].map(|x| x as i64);
        for peer in case.peers {
            let c = &peer.counts;
            let theirs = [c.mesh_nodes, c.grid2mesh, c.mesh_edges, c.mesh2grid];
            let cell = |x: Option<usize>| x.map_or_else(|| "—".to_string(), |n| n.to_string());
            // ours minus theirs, for the stages this peer computed only
            let diffs: Vec<String> = ["nodes", "grid2mesh", "mesh edges", "mesh2grid"]
                .iter()
                .zip(theirs.iter().zip(ours))
                .filter_map(|(name, (t, o))| t.map(|t| format!("{name} {:+}", o - t as i64)))
                .collect();
            println!(
                "{:<36} {:>9} {:>10} {:>10} {:>10} {:>10}   (ours: {})",
                peer.label,
                "",
                cell(theirs[0]),
                cell(theirs[1]),
                cell(theirs[2]),
                cell(theirs[3]),
                diffs.join(", ")
            );
        }
    }
}
