//! Checkpoints: `ckpt-{step}.safetensors` (weights and graph buffers, the
//! reference names, loadable by name from PyTorch), `ckpt-{step}.optim.safetensors`
//! (AdamW moments) and `ckpt-{step}.json` (the sidecar: configs, channels,
//! statistics, the loss's measured normalisers and running state, graph
//! hash, step, seed). Training writes them and inference reads them; neither
//! imports the other. Every file is written atomically
//! ([`fastnet_mesh::atomic`]); the sidecar goes last, so a checkpoint without
//! its sidecar is incomplete and ignored. The newest `keep` are kept.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use fastnet_data::channels::ChannelSet;
use fastnet_data::features::FeatureReader;
use fastnet_data::stats::Stats;
use fastnet_data::Dataset;
use fastnet_mesh::atomic::{write_atomic, write_atomic_with};
use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Device, Tensor};

use crate::error::FastnetError;
use crate::loss_setup::LossState;
use crate::model::{FastNet, GraphBuffers, ModelConfig};
use crate::train::config::TrainConfig;

pub const FORMAT: &str = "fastnet-checkpoint";
/// Version 2: typed configs, channels and statistics, and the loss state.
pub const FORMAT_VERSION: u32 = 2;

/// The JSON sidecar.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    pub format: String,
    pub format_version: u32,
    pub step: u64,
    pub weights: String,
    pub optimizer: String,
    /// The full training configuration.
    pub config: TrainConfig,
    pub model: ModelConfig,
    /// Non-forecast and forecast channels, in model order.
    pub channels: ChannelSet,
    /// The normalisation statistics used.
    pub stats: Stats,
    pub grid: fastnet_mesh::Grid,
    pub graph_sha256: String,
    pub seed: u64,
    /// Training samples consumed so far over all ranks: the position in
    /// the seeded sample stream where a resumed run continues, whatever its
    /// number of ranks.
    pub samples_seen: u64,
    /// Ranks of the run that wrote it.
    pub world_size: usize,
    /// Training loss of the last step before the checkpoint (`None` before
    /// the first step).
    pub last_loss: Option<f64>,
    /// The loss's measured normalisers and running state.
    pub loss: LossState,
}

impl Sidecar {
    /// Hours per model step of the training data.
    pub fn step_hours(&self) -> i64 {
        self.config.data.step_hours
    }
}

/// The format fields alone, read before the whole sidecar so that a
/// checkpoint of another version gets its own error.
#[derive(Deserialize)]
struct Header {
    format: String,
    format_version: u32,
}

fn write_tensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    write_atomic_with(path, |tmp| -> Result<()> {
        Tensor::write_safetensors(tensors, tmp)
            .with_context(|| format!("writing {}", tmp.display()))
    })
}

/// Names of the three files of the checkpoint at `step`.
pub fn file_names(step: u64) -> (String, String, String) {
    (
        format!("ckpt-{step:08}.safetensors"),
        format!("ckpt-{step:08}.optim.safetensors"),
        format!("ckpt-{step:08}.json"),
    )
}

/// Writes a checkpoint into `dir` and prunes older ones beyond `keep`.
/// Returns the sidecar path.
pub fn save(
    dir: &Path,
    vs: &VarStore,
    optimizer: &[(String, Tensor)],
    mut sidecar: Sidecar,
    keep: usize,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating checkpoint folder {}", dir.display()))?;
    let (w, o, j) = file_names(sidecar.step);
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    write_tensors(&dir.join(&w), &vars)?;
    write_tensors(&dir.join(&o), optimizer)?;
    sidecar.weights = w;
    sidecar.optimizer = o;
    let json = serde_json::to_vec_pretty(&sidecar)?;
    let path = dir.join(j);
    write_atomic(&path, &json).with_context(|| format!("writing {}", path.display()))?;
    prune(dir, keep)?;
    Ok(path)
}

/// Complete checkpoints in `dir` (those with a sidecar), oldest first.
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for e in entries {
        let p = e?.path();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(step) = name
            .strip_prefix("ckpt-")
            .and_then(|s| s.strip_suffix(".json"))
            .and_then(|s| s.parse::<u64>().ok())
        {
            out.push((step, p));
        }
    }
    out.sort();
    Ok(out)
}

fn prune(dir: &Path, keep: usize) -> Result<()> {
    let all = list(dir)?;
    for (step, sidecar) in all.iter().take(all.len().saturating_sub(keep.max(1))) {
        let (w, o, _) = file_names(*step);
        // sidecar first: a checkpoint without it is already "not there"
        std::fs::remove_file(sidecar)?;
        let _ = std::fs::remove_file(dir.join(w));
        let _ = std::fs::remove_file(dir.join(o));
    }
    // temporary files of a process killed while it wrote a checkpoint
    let mine = format!(".tmp-{}", std::process::id());
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".ckpt-") && name.contains(".tmp-") && !name.ends_with(&mine) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(())
}

/// Reads a sidecar (`.json`) — or, given a weights file or a folder, the
/// sidecar beside it / the newest in it.
pub fn read_sidecar(path: &Path) -> Result<(PathBuf, Sidecar)> {
    let json = if path.is_dir() {
        list(path)?.pop().map(|(_, p)| p).with_context(|| {
            format!(
                "{}: no complete checkpoint (ckpt-*.json) in this folder",
                path.display()
            )
        })?
    } else if path.extension().is_some_and(|e| e == "safetensors") {
        let stem = path
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .replace(".optim.safetensors", "")
                    .replace(".safetensors", "")
            })
            .unwrap_or_default();
        path.with_file_name(format!("{stem}.json"))
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&json)
        .with_context(|| format!("reading checkpoint sidecar {}", json.display()))?;
    let header: Header = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a fastnet checkpoint sidecar", json.display()))?;
    if header.format != FORMAT || header.format_version != FORMAT_VERSION {
        return Err(FastnetError::CheckpointFormat {
            path: json,
            found: format!("{:?} version {}", header.format, header.format_version),
            expected: format!("{FORMAT:?} version {FORMAT_VERSION}"),
        }
        .into());
    }
    let sidecar: Sidecar = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a fastnet checkpoint sidecar", json.display()))?;
    Ok((json, sidecar))
}

/// Reads all tensors of a safetensors file.
pub fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    Ok(Tensor::read_safetensors(path)
        .with_context(|| format!("reading {}", path.display()))?
        .into_iter()
        .collect())
}

/// Copies the weights of `tensors` into `vs`, checking that every variable
/// is present with the same shape (and no unexpected names).
pub fn load_into(vs: &VarStore, tensors: &HashMap<String, Tensor>, what: &Path) -> Result<()> {
    let vars = vs.variables();
    for (name, var) in &vars {
        let src = tensors
            .get(name)
            .with_context(|| format!("{}: missing `{name}`", what.display()))?;
        if src.size() != var.size() {
            bail!(
                "{}: `{name}` has shape {:?}, the model needs {:?}",
                what.display(),
                src.size(),
                var.size()
            );
        }
        let mut v = var.shallow_clone();
        tch::no_grad(|| v.copy_(src));
    }
    if let Some(extra) = tensors.keys().find(|k| !vars.contains_key(*k)) {
        bail!(
            "{}: unexpected tensor `{extra}` (a checkpoint of a different model?)",
            what.display()
        );
    }
    Ok(())
}

/// Optimiser tensors as a sorted map.
pub fn read_optimizer(path: &Path) -> Result<BTreeMap<String, Tensor>> {
    Ok(read_tensors(path)?.into_iter().collect())
}

/// A trained model with everything needed to run it.
pub struct LoadedModel {
    pub vs: VarStore,
    pub model: FastNet,
    pub sidecar: Sidecar,
    pub sidecar_path: PathBuf,
}

impl LoadedModel {
    /// Channels, in model order.
    pub fn channels(&self) -> &ChannelSet {
        &self.sidecar.channels
    }

    /// The statistics the model was trained with.
    pub fn stats(&self) -> &Stats {
        &self.sidecar.stats
    }

    /// Checks that `ds` can feed the model — same grid, every channel
    /// present — and returns its reader.
    pub fn reader_for(&self, ds: Dataset) -> Result<FeatureReader> {
        let sc = &self.sidecar;
        if ds.grid != sc.grid {
            bail!(
                "{}: the model was trained on {} but the data grid is {}",
                self.sidecar_path.display(),
                sc.grid.describe(),
                ds.grid.describe()
            );
        }
        let (resolved, _) = sc.channels.resolve(&ds, true).with_context(|| {
            format!(
                "the data cannot feed the model of {}",
                self.sidecar_path.display()
            )
        })?;
        if resolved != sc.channels {
            bail!(
                "{}: the data lacks channels the model needs ({:?})",
                self.sidecar_path.display(),
                sc.channels.names()
            );
        }
        Ok(FeatureReader::new(Arc::new(ds), sc.channels.clone())?)
    }
}

/// Loads a checkpoint (its `.json` sidecar, its weights file, or a folder
/// of checkpoints: the newest) onto `device`.
pub fn load_model(path: &Path, device: Device) -> Result<LoadedModel> {
    let (json, sidecar) = read_sidecar(path)?;
    let dir = json.parent().unwrap_or(Path::new("."));
    let weights = dir.join(&sidecar.weights);
    let tensors = read_tensors(&weights)?;
    let buffers = GraphBuffers::from_tensors(&tensors, sidecar.grid.len() as i64)
        .with_context(|| format!("{}: graph buffers", weights.display()))?;
    let vs = VarStore::new(device);
    let model = FastNet::new(&vs.root(), &sidecar.model, &buffers)?;
    load_into(&vs, &tensors, &weights)?;
    Ok(LoadedModel {
        vs,
        model,
        sidecar,
        sidecar_path: json,
    })
}
