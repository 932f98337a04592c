//! `fastnet forecast`: load a checkpoint, read initial states from ERA5,
//! roll the model out (forcings computed for every valid time), de-normalise
//! and write the forecast file one state at a time (memory flat in the
//! number of steps).

use std::path::PathBuf;

use anyhow::{bail, Result};
use fastnet_data::channels::ChannelSet;
use fastnet_data::features::FeatureReader;
use fastnet_data::sample::Normaliser;
use fastnet_data::time::{format_time, Timestamp, HOUR};
use tch::{Device, Kind, Tensor};

use super::file::{vars_of, ForecastLayout};
use super::sink::{ForecastOutput, ForecastSink};
use crate::checkpoint::LoadedModel;
use crate::error::FastnetError;

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

/// The model's step in hours; `requested` (a `--step-hours`) must equal it.
pub fn step_hours(m: &LoadedModel, requested: Option<i64>) -> Result<i64, FastnetError> {
    let trained = m.sidecar.step_hours();
    match requested {
        Some(h) if h != trained => Err(FastnetError::StepMismatch {
            path: m.sidecar_path.clone(),
            trained,
            requested: h,
        }),
        _ => Ok(trained),
    }
}

/// Rolls out `steps` steps of the model's training step from every init
/// time and writes `out` (in its format and layout). `progress(done,
/// total)` counts model steps.
pub fn forecast(
    m: &LoadedModel,
    reader: &FeatureReader,
    inits: &[Timestamp],
    steps: usize,
    method: Method,
    out: &ForecastOutput,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<PathBuf> {
    let step_hours = step_hours(m, None)?;
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
    let set = m.channels();
    let (nf, nc) = (set.n_non_forecast(), set.len());
    let g = reader.ds.grid.len();
    let norm = Normaliser::for_channels(m.stats(), set, &m.sidecar_path)?;
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
    let mut writer = ForecastSink::create(out, layout, set)?;
    let device = m.vs.device();
    let (mut done, total) = (0, inits.len() * steps);
    let climatology = match method {
        Method::Climatology { from, to } => Some(time_mean(reader, set, from, to, step_hours)?),
        _ => None,
    };
    let _guard = tch::no_grad_guard();
    for (i, &t0) in inits.iter().enumerate() {
        let mut buf = vec![0f32; g * nc];
        reader.state(t0, 0..nc, &mut buf)?;
        if let Some(state) = &climatology {
            for k in 0..steps {
                writer.write(i, k, state)?;
                done += 1;
                progress(done, total);
            }
            continue;
        }
        if method == Method::Persistence {
            let state: Vec<f32> = buf.chunks(nc).flat_map(|row| row[nf..].to_vec()).collect();
            for k in 0..steps {
                writer.write(i, k, &state)?;
                done += 1;
                progress(done, total);
            }
            continue;
        }
        norm.normalise(&mut buf, 0..nc);
        let mut x = Tensor::from_slice(&buf)
            .view([1, g as i64, nc as i64])
            .to_device(device);
        for k in 0..steps {
            let y = m.model.forward(&x)?; // [1, G, C_f] normalised
            let mut phys: Vec<f32> =
                Vec::try_from(y.to_device(Device::Cpu).to_kind(Kind::Float).flatten(0, -1))?;
            norm.denormalise(&mut phys, nf..nc);
            writer.write(i, k, &phys)?;
            done += 1;
            progress(done, total);
            if k + 1 < steps {
                let t = t0 + (k as i64 + 1) * step_hours * HOUR;
                let mut f = vec![0f32; g * nf];
                reader.state(t, 0..nf, &mut f)?;
                norm.normalise(&mut f, 0..nf);
                let forcing = Tensor::from_slice(&f)
                    .view([1, g as i64, nf as i64])
                    .to_device(device);
                x = Tensor::cat(&[forcing, y], 2);
            }
        }
    }
    writer.finish()
}
