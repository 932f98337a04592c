//! `fastnet graph build` and `fastnet graph info`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use fastnet_mesh::stats::EdgeSetStats;
use fastnet_mesh::{BuildStage, Graph, GraphConfig, GraphStats, Grid, GridToMesh, MeshToGrid};

use super::progress::bar;

#[derive(Subcommand)]
pub enum GraphCommand {
    /// Build the encoder, multi-mesh and decoder graphs for a grid and save
    /// them as safetensors (FastNet buffer names).
    Build(BuildArgs),
    /// Print node and edge counts, degrees, edge lengths and coverage of a
    /// graph file.
    Info(InfoArgs),
}

#[derive(Args)]
pub struct BuildArgs {
    /// Grid: o96 (FastNet's octahedral reduced Gaussian grid, 40,320
    /// points) or any oN, regular Gaussian nN (2N x 4N), era5 (0.25°,
    /// 721x1440), era5-1deg (181x360), weatherbench-5.625 (32x64, no poles),
    /// latlon:RES, latlon:NLATxNLON, latlon-nopoles:..., or points:FILE.csv
    /// (lat,lon per line).
    #[arg(long)]
    grid: String,
    /// Rule set to start from.
    #[arg(long, value_enum, default_value_t = Preset::Fastnet)]
    preset: Preset,
    /// Icosahedron refinement level of the finest mesh (0..=8; 5 = 10,242
    /// nodes, 6 = 40,962).
    #[arg(long, default_value_t = 5)]
    mesh_level: u32,
    /// Encoder rule, overriding the preset: radius:FRACTION or nearest:K.
    #[arg(long)]
    grid_to_mesh: Option<GridToMesh>,
    /// Decoder rule, overriding the preset: triangle or nearest:K.
    #[arg(long)]
    mesh_to_grid: Option<MeshToGrid>,
    /// Output file (.safetensors); written atomically.
    #[arg(short, long)]
    output: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// The rule sets `graph build --preset` starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// FastNet: k = 2 nearest (encoder), k = 3 nearest (decoder).
    Fastnet,
    /// GraphCast: encoder radius 0.6 x the longest finest-mesh edge, decoder
    /// containing triangle.
    Graphcast,
}

impl Preset {
    /// Its rules at mesh refinement `mesh_level`.
    fn config(self, mesh_level: u32) -> GraphConfig {
        match self {
            Preset::Fastnet => GraphConfig::fastnet(mesh_level),
            Preset::Graphcast => GraphConfig::graphcast(mesh_level),
        }
    }
}

#[derive(Args)]
pub struct InfoArgs {
    /// A graph file written by `fastnet graph build`.
    file: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: GraphCommand) -> Result<()> {
    match cmd {
        GraphCommand::Build(args) => build(args),
        GraphCommand::Info(args) => info(args),
    }
}

fn build(args: BuildArgs) -> Result<()> {
    let grid = Grid::from_spec(&args.grid)?;
    let mut config = args.preset.config(args.mesh_level);
    if let Some(rule) = args.grid_to_mesh {
        config.grid_to_mesh = rule;
    }
    if let Some(rule) = args.mesh_to_grid {
        config.mesh_to_grid = rule;
    }
    config.validate()?;

    let pb = bar(BuildStage::ALL.len() as u64 + 1, "building");
    let start = Instant::now();
    let mut stage_no = 0;
    let graph = Graph::build_with_progress(&grid, &config, &mut |stage| {
        pb.set_position(stage_no);
        pb.set_message(stage.describe());
        stage_no += 1;
    })
    .with_context(|| format!("building the graph for {}", grid.describe()))?;
    pb.set_position(stage_no);
    pb.set_message(format!("writing {}", args.output.display()));
    graph
        .save(&args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    pb.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();

    let stats = graph.stats();
    if args.json {
        let mut v = serde_json::to_value(&stats)?;
        v["seconds"] = seconds.into();
        v["output"] = args.output.display().to_string().into();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "built {} graph in {seconds:.2} s: {} grid points, {} mesh nodes, {} encoder / {} mesh / {} decoder edges -> {}",
            config_label(&graph.config),
            stats.grid_points,
            stats.mesh_nodes,
            stats.encoder.edges,
            stats.mesh.edges,
            stats.decoder.edges,
            args.output.display()
        );
        warn_coverage(&stats);
    }
    Ok(())
}

fn config_label(c: &GraphConfig) -> String {
    format!(
        "level-{} {} / {}",
        c.mesh_level, c.grid_to_mesh, c.mesh_to_grid
    )
}

fn warn_coverage(s: &GraphStats) {
    if s.grid_points_without_decoder_edge > 0 {
        eprintln!(
            "warning: {} grid points receive no decoder edge and would get no forecast",
            s.grid_points_without_decoder_edge
        );
    }
}

fn info(args: InfoArgs) -> Result<()> {
    let graph = Graph::load(&args.file)?;
    let s = graph.stats();
    if args.json {
        let mut v = serde_json::to_value(&s)?;
        v["grid_spec"] = graph.grid.spec().into();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("file         {}", args.file.display());
    println!("grid         {}", s.grid);
    match graph.grid.spec() {
        Some(spec) => println!(
            "grid spec    {spec} (--grid {spec}), {} points",
            s.grid_points
        ),
        None => println!("grid points  {}", s.grid_points),
    }
    println!(
        "mesh         level {}, {} nodes",
        s.mesh_level, s.mesh_nodes
    );
    println!(
        "rules        {} / {}",
        graph.config.grid_to_mesh, graph.config.mesh_to_grid
    );
    println!("sha256       {}", s.content_sha256);
    println!();
    println!(
        "{:<10} {:>10} {:>5} {:>22} {:>22} {:>12}",
        "edges", "count", "feat", "in-degree min/mean/max", "out-degree min/mean/max", "longest km"
    );
    for (name, e) in [
        ("encoder", &s.encoder),
        ("mesh", &s.mesh),
        ("decoder", &s.decoder),
    ] {
        println!("{}", edge_row(name, e));
    }
    println!();
    println!(
        "grid points without a decoder edge: {} (must be 0)",
        s.grid_points_without_decoder_edge
    );
    println!(
        "mesh nodes without an encoder edge: {}",
        s.mesh_nodes_without_encoder_edge
    );
    warn_coverage(&s);
    Ok(())
}

fn edge_row(name: &str, e: &EdgeSetStats) -> String {
    let deg = |d: &fastnet_mesh::stats::Degree| format!("{}/{:.2}/{}", d.min, d.mean, d.max);
    format!(
        "{name:<10} {:>10} {:>5} {:>22} {:>22} {:>12.1}",
        e.edges,
        e.feature_dim,
        deg(&e.in_degree),
        deg(&e.out_degree),
        e.longest_edge_km
    )
}
