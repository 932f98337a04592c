//! Checkpoints: `ckpt-{step}.safetensors` (weights and graph buffers, the
//! reference names, loadable by name from PyTorch), `ckpt-{step}.optim.safetensors`
//! (AdamW moments) and `ckpt-{step}.json` (the sidecar: configs, channels,
//! statistics, graph hash, step, seed). Every file is written to a temporary
//! name, fsynced and renamed; the sidecar goes last, so a checkpoint without
//! its sidecar is incomplete and ignored. The newest `keep` are kept.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Tensor};

pub const FORMAT: &str = "fastnet-checkpoint";

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
    pub config: serde_json::Value,
    pub model: crate::model::ModelConfig,
    /// Forecast and non-forecast channel names, in model order.
    pub channels: serde_json::Value,
    /// The normalisation statistics used.
    pub stats: serde_json::Value,
    /// Grid description (mesh crate's `Grid`).
    pub grid: fastnet_mesh::Grid,
    pub graph_sha256: String,
    pub seed: u64,
    /// Training loss of the last step before the checkpoint.
    pub last_loss: f64,
}

fn sync_rename(tmp: &Path, path: &Path) -> Result<()> {
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", tmp.display()))?;
    std::fs::rename(tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

fn write_tensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let result = Tensor::write_safetensors(tensors, &tmp)
        .with_context(|| format!("writing {}", tmp.display()))
        .and_then(|_| sync_rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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
    let tmp = dir.join(format!("{j}.tmp"));
    std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
    let path = dir.join(j);
    sync_rename(&tmp, &path)?;
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
    let sidecar: Sidecar = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a fastnet checkpoint sidecar", json.display()))?;
    if sidecar.format != FORMAT {
        bail!(
            "{}: format {:?}, expected {FORMAT:?}",
            json.display(),
            sidecar.format
        );
    }
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
