//! `fastnet import-reference --weights model.safetensors --stats stats.json -o DIR`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use fastnet_mesh::Grid;

use crate::import_reference::anemoi::Transform;
use crate::import_reference::{import, in_model_order, plan, ImportOptions, Plan};

#[derive(Args)]
pub struct ImportReferenceArgs {
    /// fastnet-inference's weights with graph buffers (model.safetensors).
    #[arg(long)]
    weights: PathBuf,
    /// fastnet-inference's normalisation statistics (stats.json: {"mean": {...}, "stdev": {...}}).
    #[arg(long)]
    stats: PathBuf,
    /// The grid the release runs on (its graph buffers must fit it).
    #[arg(long, default_value = "o96")]
    grid: String,
    /// Check that the mesh is the level-L multi-mesh (default: inferred
    /// from the buffers; FastNet-global v1.1 uses level 5).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=fastnet_mesh::icosahedron::MAX_LEVEL as i64))]
    mesh_level: Option<u32>,
    /// Hours per model step.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(i64).range(1..=8760))]
    step_hours: i64,
    /// Read the header and the statistics, print what would be imported,
    /// write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Checkpoint folder to write (new or empty).
    #[arg(short, long)]
    output: PathBuf,
}

fn summary(p: &Plan) -> String {
    let m = &p.layout.model;
    let g = &p.layout.graph;
    format!(
        "FastNet: hidden {}, {} processor layers, {} non-forecast + {} forecast channels, {} parameters; graph on {}: {} encoder and {} decoder edges per grid point, mesh of {} nodes{} and {} edges",
        m.hidden,
        m.processor_layers,
        m.nonforecast_channels,
        m.forecast_channels,
        p.layout.parameters,
        p.fit.grid,
        p.fit.encoder_per_point,
        p.fit.decoder_per_point,
        g.mesh_nodes,
        p.fit.mesh_level
            .map_or(String::new(), |l| format!(" (level {l})")),
        g.edges[1],
    )
}

/// The channel table, model order: anemoi name, ours, normalisation.
fn table(p: &Plan) -> String {
    in_model_order(&p.channels, &p.set)
        .iter()
        .map(|c| {
            let how = match c.transform {
                Transform::Standardised => "standardised".to_string(),
                Transform::Raw => "raw (mean 0, std 1)".to_string(),
                Transform::Scaled { factor } => format!("stats / {factor}"),
            };
            format!(
                "  {:<16} -> {:<16} {:?}, {how}: mean {:.6e}, std {:.6e}",
                c.anemoi, c.ours, c.block, c.fastnet.0, c.fastnet.1
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn run(args: ImportReferenceArgs) -> Result<()> {
    let grid = Grid::from_spec(&args.grid).with_context(|| format!("--grid {}", args.grid))?;
    let opts = ImportOptions {
        weights: args.weights,
        stats: args.stats,
        output: args.output,
        grid,
        mesh_level: args.mesh_level,
        step_hours: args.step_hours,
    };
    if args.dry_run {
        let p = plan(&opts)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&p)?);
        } else {
            println!("{}\nchannels (model order):\n{}", summary(&p), table(&p));
            println!("dry run: nothing written");
        }
        return Ok(());
    }
    let done = import(&opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&done)?);
    } else {
        println!(
            "imported {}\n-> {} (graph {})",
            summary(&done.plan),
            done.sidecar.display(),
            &done.graph_sha256[..12]
        );
    }
    Ok(())
}
