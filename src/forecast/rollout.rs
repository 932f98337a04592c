//! `fastnet forecast`: load a checkpoint, read initial states from ERA5,
//! roll the model out (forcings computed for every valid time), de-normalise
//! and write the forecast file one state at a time (memory flat in the
//! number of steps).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use fastnet_data::channels::ChannelSet;
use fastnet_data::features::FeatureReader;
use fastnet_data::stats::Stats;
use fastnet_data::time::{format_time, Timestamp, HOUR};
use fastnet_data::Dataset;
use tch::{nn::VarStore, Device, Kind, Tensor};

use super::file::{vars_of, ForecastLayout, ForecastWriter};
use crate::model::{FastNet, GraphBuffers};
use crate::train::checkpoint::{load_into, read_sidecar, read_tensors, Sidecar};

/// A trained model with everything needed to run it.
pub struct LoadedModel {
    pub vs: VarStore,
    pub model: FastNet,
    pub sidecar: Sidecar,
    pub sidecar_path: PathBuf,
    pub set: ChannelSet,
    pub stats: Stats,
}

/// Loads a checkpoint (its `.json` sidecar, its weights file, or a folder
/// of checkpoints: the newest) onto `device`.
pub fn load_checkpoint(path: &Path, device: Device) -> Result<LoadedModel> {
    let (json, sidecar) = read_sidecar(path)?;
    let dir = json.parent().unwrap_or(Path::new("."));
    let weights = dir.join(&sidecar.weights);
    let tensors = read_tensors(&weights)?;
    let buffers = GraphBuffers::from_tensors(&tensors, sidecar.grid.len() as i64)
        .with_context(|| format!("{}: graph buffers", weights.display()))?;
    let vs = VarStore::new(device);
    let model = FastNet::new(&vs.root(), &sidecar.model, &buffers)?;
    load_into(&vs, &tensors, &weights)?;
    let set: ChannelSet = serde_json::from_value(sidecar.channels.clone())
        .with_context(|| format!("{}: channel list", json.display()))?;
    let stats: Stats = serde_json::from_value(sidecar.stats.clone())
        .with_context(|| format!("{}: statistics", json.display()))?;
    Ok(LoadedModel {
        vs,
        model,
        sidecar,
        sidecar_path: json,
        set,
        stats,
    })
}

/// Checks that `ds` can feed the model: same grid, every channel present.
pub fn reader_for(m: &LoadedModel, ds: Dataset) -> Result<FeatureReader> {
    if ds.grid != m.sidecar.grid {
        bail!(
            "{}: the model was trained on {} but the data grid is {}",
            m.sidecar_path.display(),
            m.sidecar.grid.describe(),
            ds.grid.describe()
        );
    }
    let (resolved, _) = m.set.resolve(&ds, true).with_context(|| {
        format!(
            "the data cannot feed the model of {}",
            m.sidecar_path.display()
        )
    })?;
    if resolved != m.set {
        bail!(
            "{}: the data lacks channels the model needs ({:?})",
            m.sidecar_path.display(),
            m.set.names()
        );
    }
    Ok(FeatureReader::new(Arc::new(ds), m.set.clone())?)
}

/// How the states after the initial one are produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Autoregressive rollout of the model.
    Model,
    /// Persistence: the initial state at every lead (the baseline every
    /// forecast must beat), in the same file format and channels.
    Persistence,
    /// Climatology: the time-mean state of the data over `[from, to]` (every
    /// `step_hours`, times the data has), at every lead.
    Climatology { from: Timestamp, to: Timestamp },
}

/// Mean forecast-channel state `[G, C_f]` (physical units) of the data at
/// the times of `[from, to]` on the `step_hours` grid.
fn time_mean(
    reader: &FeatureReader,
    set: &ChannelSet,
    from: Timestamp,
    to: Timestamp,
    step_hours: i64,
) -> Result<Vec<f32>> {
    let (nf, nc) = (set.n_non_forecast(), set.len());
    let g = reader.ds.grid.len();
    let step = step_hours * HOUR;
    let mut sum = vec![0f64; g * (nc - nf)];
    let mut buf = vec![0f32; g * (nc - nf)];
    let mut n = 0usize;
    let mut t = from + (step - from.rem_euclid(step)) % step;
    while t <= to {
        if reader.available(t) {
            reader.state(t, nf..nc, &mut buf)?;
            for (s, &b) in sum.iter_mut().zip(&buf) {
                *s += b as f64;
            }
            n += 1;
        }
        t += step;
    }
    if n == 0 {
        bail!(
            "climatology period {} .. {}: the data has no complete state in it ({})",
            format_time(from),
            format_time(to),
            reader.ds.coverage()
        );
    }
    Ok(sum.into_iter().map(|s| (s / n as f64) as f32).collect())
}

/// Rolls out `steps` steps of `step_hours` from every init time and writes
/// `out`. `progress(done, total)` counts model steps.
#[allow(clippy::too_many_arguments)]
pub fn forecast(
    m: &LoadedModel,
    reader: &FeatureReader,
    inits: &[Timestamp],
    steps: usize,
    step_hours: i64,
    method: Method,
    out: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<PathBuf> {
    if inits.is_empty() || steps == 0 {
        bail!(
            "nothing to forecast: {} init time(s), {steps} step(s)",
            inits.len()
        );
    }
    for &t in inits {
        if !reader.available(t) {
            bail!(
                "init time {}: the data has no complete state (coverage {})",
                format_time(t),
                reader.ds.coverage()
            );
        }
    }
    let set = &m.set;
    let (nf, nc) = (set.n_non_forecast(), set.len());
    let g = reader.ds.grid.len();
    let mean: Vec<f32> = m.stats.channels.iter().map(|c| c.mean as f32).collect();
    let std: Vec<f32> = m
        .stats
        .channels
        .iter()
        .map(|c| if c.std > 0.0 { c.std as f32 } else { 1.0 })
        .collect();
    let layout = ForecastLayout {
        grid: reader.ds.grid.clone(),
        vars: vars_of(set)?,
        init_times: inits.to_vec(),
        lead_hours: (1..=steps as i64).map(|k| k * step_hours).collect(),
        attributes: vec![
            ("method".into(), format!("{method:?}").to_lowercase()),
            ("checkpoint".into(), m.sidecar_path.display().to_string()),
            ("checkpoint_step".into(), m.sidecar.step.to_string()),
            ("graph_sha256".into(), m.sidecar.graph_sha256.clone()),
        ],
    };
    let mut writer = ForecastWriter::create(out, layout, set)?;
    let device = m.vs.device();
    let normalise = |buf: &mut [f32], offset: usize, width: usize| {
        for row in buf.chunks_mut(width) {
            for (k, x) in row.iter_mut().enumerate() {
                *x = (*x - mean[offset + k]) / std[offset + k];
            }
        }
    };
    let (mut done, total) = (0, inits.len() * steps);
    let climatology = match method {
        Method::Climatology { from, to } => Some(time_mean(reader, set, from, to, step_hours)?),
        _ => None,
    };
    let _guard = tch::no_grad_guard();
    for (i, &t0) in inits.iter().enumerate() {
        let mut buf = vec![0f32; g * nc];
        reader.state(t0, 0..nc, &mut buf)?;
        normalise(&mut buf, 0, nc);
        if let Some(state) = &climatology {
            for k in 0..steps {
                writer.write(i, k, state)?;
                done += 1;
                progress(done, total);
            }
            continue;
        }
        if method == Method::Persistence {
            let state: Vec<f32> = buf
                .chunks(nc)
                .flat_map(|row| {
                    row[nf..]
                        .iter()
                        .enumerate()
                        .map(|(c, v)| v * std[nf + c] + mean[nf + c])
                })
                .collect();
            for k in 0..steps {
                writer.write(i, k, &state)?;
                done += 1;
                progress(done, total);
            }
            continue;
        }
        let mut x = Tensor::from_slice(&buf)
            .view([1, g as i64, nc as i64])
            .to_device(device);
        for k in 0..steps {
            let y = m.model.forward(&x)?; // [1, G, C_f] normalised
            let yv: Vec<f32> =
                Vec::try_from(y.to_device(Device::Cpu).to_kind(Kind::Float).flatten(0, -1))?;
            let phys: Vec<f32> = yv
                .chunks(nc - nf)
                .flat_map(|row| {
                    row.iter()
                        .enumerate()
                        .map(|(c, v)| v * std[nf + c] + mean[nf + c])
                })
                .collect();
            writer.write(i, k, &phys)?;
            done += 1;
            progress(done, total);
            if k + 1 < steps {
                let t = t0 + (k as i64 + 1) * step_hours * HOUR;
                let mut f = vec![0f32; g * nf];
                reader.state(t, 0..nf, &mut f)?;
                normalise(&mut f, 0, nf);
                let forcing = Tensor::from_slice(&f)
                    .view([1, g as i64, nf as i64])
                    .to_device(device);
                x = Tensor::cat(&[forcing, y], 2);
            }
        }
    }
    writer.finish()
}
