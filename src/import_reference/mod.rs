//! `fastnet import-reference`: the released FastNet-global model
//! (MetOffice/fastnet-inference: `model.safetensors` + `stats.json`) as a
//! fastnet checkpoint that `fastnet forecast` runs.
//!
//! * Weights and graph buffers keep their names ([`layout`]: they are ours);
//!   the widths (hidden, processor layers, channel counts) are inferred
//!   from the shapes and every tensor is checked against them.
//! * The graph stored in the checkpoint is the release's buffers, checked
//!   against the grid (O96 by default: 40,320 points, so 80,640 encoder
//!   and 120,960 decoder edges for FastNet's 2 / 3 per point) and for valid
//!   indices; `fastnet forecast` uses the checkpoint's stored graph.
//! * Channels and normalisation from `stats.json` ([`anemoi`]): anemoi
//!   names mapped to ours, key order = feature order, raw geometry
//!   channels, orography's g.
//!
//! [`plan`] reads only the safetensors header and the statistics (what
//! `--dry-run` prints); [`import`] also loads the tensors, checks the edge
//! indices and writes the checkpoint.

pub mod anemoi;
pub mod layout;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use fastnet_data::channels::ChannelSet;
use fastnet_data::stats::Stats;
use fastnet_mesh::safetensors_io::{content_hash, TensorBytes};
use fastnet_mesh::{Grid, GridToMesh, MeshToGrid};
use serde::Serialize;
use tch::{nn::VarStore, Device, Kind, Tensor};

use crate::checkpoint::{self, Sidecar};
use crate::loss_setup::{LossState, MeasuredNormalisers};
use crate::model::{FastNet, GraphBuffers, GRAPHS};
use crate::train::config::TrainConfig;
use anemoi::{Block, ChannelMap, ReferenceStats};
use layout::{GraphFit, ReferenceLayout};

/// What can be wrong with the release's files.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}: {reason}", path.display())]
    Io { path: PathBuf, reason: String },

    #[error("{}: not a safetensors file: {reason}", path.display())]
    BadSafetensors { path: PathBuf, reason: String },

    #[error("{}: no tensor `{name}` (not a FastNet state dict?)", path.display())]
    MissingTensor { path: PathBuf, name: String },

    #[error("{}: unexpected tensor `{name}` (not a tensor of fastnet-inference's FastNet)", path.display())]
    UnexpectedTensor { path: PathBuf, name: String },

    #[error("{}: `{name}` is {found}; expected {expected}", path.display())]
    BadTensor {
        path: PathBuf,
        name: String,
        found: String,
        expected: String,
    },

    #[error("{}: graph buffer {buffer} has {found}; expected {expected}", path.display())]
    GraphGrid {
        path: PathBuf,
        buffer: String,
        found: String,
        expected: String,
    },

    #[error("{}: {reason}", path.display())]
    BadStats { path: PathBuf, reason: String },

    #[error("{}: the weights have {weights} grid channels ({forecast} forecast), stats.json has {stats}", path.display())]
    ChannelCount {
        path: PathBuf,
        weights: i64,
        forecast: i64,
        stats: usize,
    },

    #[error(
        "{}: channel `{channel}` (key {position}) has no fastnet equivalent; fastnet maps anemoi's z_500-style levels, surface fields (10u, 2t, msl, ...), cos_latitude, cos_longitude, sin_longitude, lsm, orography, sdor, slor, cos/sin_julian_day, cos/sin_local_time and insolation",
        path.display()
    )]
    UnmappedChannel {
        path: PathBuf,
        channel: String,
        position: usize,
    },

    #[error(
        "{}: channel `{channel}` is key {position}, in the {} block (the first {n_forecast} keys are the forecast channels), but it is a {block:?} channel",
        path.display(),
        if *position < *n_forecast { "forecast" } else { "non-forecast" }
    )]
    ChannelBlock {
        path: PathBuf,
        channel: String,
        position: usize,
        n_forecast: usize,
        block: Block,
    },

    #[error("{}: channel `{channel}` maps to fastnet's `{ours}`, which this fastnet cannot compute: {reason}", path.display())]
    UnsupportedChannel {
        path: PathBuf,
        channel: String,
        ours: String,
        reason: String,
    },

    #[error("{}: the output folder already holds checkpoints; give an empty or new folder", path.display())]
    OutputNotEmpty { path: PathBuf },
}

/// The command's inputs.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// fastnet-inference's `model.safetensors`.
    pub weights: PathBuf,
    /// fastnet-inference's `stats.json`.
    pub stats: PathBuf,
    /// Checkpoint folder to write (must hold no checkpoint).
    pub output: PathBuf,
    /// The grid the graph buffers were built for (FastNet-global: O96).
    pub grid: Grid,
    /// Expected mesh refinement level (checked when given).
    pub mesh_level: Option<u32>,
    /// Hours per model step (FastNet-global: 6).
    pub step_hours: i64,
}

/// Everything known from the header and the statistics alone.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub layout: ReferenceLayout,
    pub fit: GraphFit,
    /// Every channel of stats.json, in its order (forecast first).
    pub channels: Vec<ChannelMap>,
    #[serde(skip)]
    pub set: ChannelSet,
    #[serde(skip)]
    pub stats: Stats,
}

/// Reads the weights' header and stats.json, infers the model, checks the
/// graph sizes against the grid and maps the channels. Reads no tensor data.
pub fn plan(opts: &ImportOptions) -> Result<Plan, ImportError> {
    let header = layout::read_header(&opts.weights)?;
    let layout = layout::infer_layout(&header, &opts.weights)?;
    let fit = layout::fit_grid(&layout.graph, &opts.grid, opts.mesh_level, &opts.weights)?;
    let reference = ReferenceStats::load(&opts.stats)?;
    let m = &layout.model;
    if reference.names.len() as i64 != m.grid_channels() {
        return Err(ImportError::ChannelCount {
            path: opts.stats.clone(),
            weights: m.grid_channels(),
            forecast: m.forecast_channels,
            stats: reference.names.len(),
        });
    }
    let channels = anemoi::map_channels(&reference, m.forecast_channels as usize)?;
    let set = anemoi::channel_set(&channels, &opts.stats)?;
    let stats = anemoi::fastnet_stats(&channels, &set, &opts.grid, opts.step_hours, &opts.stats);
    Ok(Plan {
        layout,
        fit,
        channels,
        set,
        stats,
    })
}

/// A written checkpoint.
#[derive(Debug, Serialize)]
pub struct Imported {
    #[serde(flatten)]
    pub plan: Plan,
    /// Its sidecar (`ckpt-00000000.json`).
    pub sidecar: PathBuf,
    pub graph_sha256: String,
}

/// Loads every tensor: floats as f32, edge indices as int64.
fn load_tensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    let tensors = checkpoint::read_tensors(path)?;
    Ok(tensors
        .into_iter()
        .map(|(name, t)| {
            let kind = if name.contains("_edge_index.") {
                Kind::Int64
            } else {
                Kind::Float
            };
            let t = t.to_kind(kind).contiguous();
            (name, t)
        })
        .collect())
}

/// Checks the index values of the three graphs against the mesh and grid
/// sizes and the per-point counts of `fit`.
fn check_indices(tensors: &HashMap<String, Tensor>, plan: &Plan, path: &Path) -> Result<()> {
    let (n_mesh, n_grid) = (plan.layout.graph.mesh_nodes, plan.fit.grid_points);
    for (g, (n_src, n_tgt)) in
        GRAPHS
            .iter()
            .zip([(n_grid, n_mesh), (n_mesh, n_mesh), (n_mesh, n_grid)])
    {
        let name = format!("{g}_edge_index.0");
        let t = tensors
            .get(&name)
            .with_context(|| format!("{}: no `{name}`", path.display()))?;
        let flat = Vec::<i64>::try_from(t.flatten(0, -1))?;
        let (out, inc) = layout::check_edge_index(path, &name, &flat, n_src, n_tgt)?;
        match *g {
            "encoder" => {
                layout::check_per_point(path, &name, &out, plan.fit.encoder_per_point, "sends")?
            }
            "decoder" => {
                layout::check_per_point(path, &name, &inc, plan.fit.decoder_per_point, "receives")?
            }
            _ => {}
        }
    }
    Ok(())
}

/// SHA-256 of the graph buffers (names, dtypes, shapes, bytes), the
/// checkpoint's `graph_sha256`.
fn buffers_hash(tensors: &HashMap<String, Tensor>, dims: &layout::GraphDims) -> Result<String> {
    let mut parts = Vec::new();
    for name in layout::expected_buffers(dims).keys() {
        let t = tensors
            .get(name)
            .with_context(|| format!("no graph buffer `{name}`"))?;
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        parts.push(if t.kind() == Kind::Int64 {
            let v = Vec::<i64>::try_from(t.flatten(0, -1))?;
            TensorBytes::i64(name, shape, v.into_iter())
        } else {
            let v = Vec::<f32>::try_from(t.flatten(0, -1))?;
            TensorBytes::f32(name, shape, &v)
        });
    }
    let meta = BTreeMap::from([(
        "source".to_string(),
        "fastnet-inference graph buffers".to_string(),
    )]);
    Ok(content_hash(&parts, &meta))
}

/// The training configuration recorded in the sidecar: what is known of the
/// release (channels, widths, graph rules, step); its data and period are
/// not known to fastnet.
fn train_config(plan: &Plan, opts: &ImportOptions) -> Result<TrainConfig> {
    let names = |b: Block| -> Vec<String> {
        let set_names = plan.set.names();
        let (nf, f) = set_names.split_at(plan.set.n_non_forecast());
        match b {
            Block::NonForecast => nf.iter().map(|s| s.to_string()).collect(),
            Block::Forecast => f.iter().map(|s| s.to_string()).collect(),
        }
    };
    let stats = std::path::absolute(&opts.stats).unwrap_or_else(|_| opts.stats.clone());
    let mut c: TrainConfig = serde_json::from_value(serde_json::json!({
        "data": {
            "paths": [],
            "stats": stats,
            "train": ["unknown", "unknown"],
            "non_forecast": names(Block::NonForecast),
            "forecast": names(Block::Forecast),
            "require_static": true,
            "step_hours": opts.step_hours,
        },
    }))
    .context("the imported model's training configuration")?;
    c.graph.mesh_level = plan.fit.mesh_level;
    c.graph.grid_to_mesh = Some(GridToMesh::Nearest {
        k: plan.fit.encoder_per_point as usize,
    });
    c.graph.mesh_to_grid = Some(MeshToGrid::Nearest {
        k: plan.fit.decoder_per_point as usize,
    });
    c.model.hidden = plan.layout.model.hidden;
    c.model.processor_layers = plan.layout.model.processor_layers;
    Ok(c)
}

/// Imports the release into `opts.output`: [`plan`], then loads the
/// tensors, checks the edge indices, builds the network with the release's
/// graph, copies every tensor by name and writes checkpoint step 0.
pub fn import(opts: &ImportOptions) -> Result<Imported> {
    if !checkpoint::list(&opts.output)?.is_empty() {
        return Err(ImportError::OutputNotEmpty {
            path: opts.output.clone(),
        }
        .into());
    }
    let plan = plan(opts)?;
    let tensors = load_tensors(&opts.weights)?;
    check_indices(&tensors, &plan, &opts.weights)?;
    let graph_sha256 = buffers_hash(&tensors, &plan.layout.graph)?;
    let buffers = GraphBuffers::from_tensors(&tensors, plan.fit.grid_points)
        .with_context(|| format!("{}: graph buffers", opts.weights.display()))?;
    let vs = VarStore::new(Device::Cpu);
    let model = FastNet::new(&vs.root(), &plan.layout.model, &buffers)?;
    checkpoint::load_into(&vs, &tensors, &opts.weights)?;
    if model.parameters() != plan.layout.parameters {
        anyhow::bail!(
            "{}: the network has {} parameters, the header {}",
            opts.weights.display(),
            model.parameters(),
            plan.layout.parameters
        );
    }
    let sidecar = Sidecar {
        format: checkpoint::FORMAT.into(),
        format_version: checkpoint::FORMAT_VERSION,
        step: 0,
        weights: String::new(),
        optimizer: String::new(),
        config: train_config(&plan, opts)?,
        model: plan.layout.model.clone(),
        channels: plan.set.clone(),
        stats: plan.stats.clone(),
        grid: opts.grid.clone(),
        graph_sha256: graph_sha256.clone(),
        seed: 0,
        samples_seen: 0,
        world_size: 1,
        last_loss: None,
        loss: LossState {
            measured: MeasuredNormalisers {
                grad_x_std: Vec::new(),
                grad_y_std: Vec::new(),
                wind_speed_std: Vec::new(),
                fields: 0,
            },
            amse_running: None,
        },
    };
    let path = checkpoint::save(&opts.output, &vs, &[], sidecar, 1)?;
    Ok(Imported {
        plan,
        sidecar: path,
        graph_sha256,
    })
}

/// The channel mappings in model order `[non-forecast, forecast]` (stats.json
/// lists the forecast block first).
pub fn in_model_order<'a>(maps: &'a [ChannelMap], set: &ChannelSet) -> Vec<&'a ChannelMap> {
    set.names()
        .iter()
        .filter_map(|n| maps.iter().find(|c| c.ours == *n))
        .collect()
}
