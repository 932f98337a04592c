//! The rollout of one training step: stack a batch, roll the model out
//! autoregressively with the combined loss at every step, back-propagate
//! through the whole rollout (or, with activation checkpointing, one step
//! at a time), and stop on a term that is not finite.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use fastnet_losses::CombinedLoss;
use tch::{Device, Kind, Tensor};

use super::source::Sample;
use crate::error::FastnetError;
use crate::model::FastNet;

/// A batch on the device: input `[B, G, C]`, forcings `[R, B, G, C_nf]`,
/// targets `[R, B, G, C_f]`.
pub struct Batch {
    pub input: Tensor,
    pub forcings: Tensor,
    pub targets: Tensor,
}

/// The field shape of a grid as the losses take it after `[B, C]`
/// ([`fastnet_mesh::Grid::shape`]): `[nlat, nlon]` on lat-lon grids,
/// `[npoints]` on Gaussian (and point) grids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldShape {
    dims: [i64; 2],
    rank: usize,
}

impl FieldShape {
    /// From `grid.shape()`: two dimensions stay `[nlat, nlon]`; any other
    /// shape is taken as flat, `[product]`.
    pub fn new(shape: &[usize]) -> FieldShape {
        match *shape {
            [nlat, nlon] => FieldShape {
                dims: [nlat as i64, nlon as i64],
                rank: 2,
            },
            _ => FieldShape {
                dims: [shape.iter().product::<usize>() as i64, 1],
                rank: 1,
            },
        }
    }

    /// `[nlat, nlon]` or `[npoints]`.
    pub fn dims(&self) -> &[i64] {
        &self.dims[..self.rank]
    }

    /// Number of grid points `G`.
    pub fn points(&self) -> i64 {
        self.dims().iter().product()
    }
}

/// Sizes of the tensors a batch is cut into.
#[derive(Clone, Copy, Debug)]
pub struct Shapes {
    /// The grid's field shape (`[nlat, nlon]` or `[npoints]`).
    pub grid: FieldShape,
    pub non_forecast: i64,
    pub forecast: i64,
}

impl Shapes {
    /// Shapes of a grid with field shape `grid_shape` (`grid.shape()`) and
    /// `non_forecast` + `forecast` channels.
    pub fn new(grid_shape: &[usize], non_forecast: usize, forecast: usize) -> Shapes {
        Shapes {
            grid: FieldShape::new(grid_shape),
            non_forecast: non_forecast as i64,
            forecast: forecast as i64,
        }
    }

    /// Number of grid points `G`.
    pub fn points(&self) -> i64 {
        self.grid.points()
    }
}

/// Stacks `samples` (each with `rollout` steps) into a batch on `device`.
pub fn stack(samples: &[Sample], s: Shapes, rollout: i64, device: Device) -> Batch {
    let b = samples.len() as i64;
    let (grid, c_nf, c_f) = (s.points(), s.non_forecast, s.forecast);
    let cat = |f: &dyn Fn(&Sample) -> &Vec<f32>| -> Vec<f32> {
        samples.iter().flat_map(|s| f(s).iter().copied()).collect()
    };
    let input = Tensor::from_slice(&cat(&|s| &s.input)).view([b, grid, c_nf + c_f]);
    let forcings = Tensor::from_slice(&cat(&|s| &s.forcings))
        .view([b, rollout, grid, c_nf])
        .transpose(0, 1);
    let targets = Tensor::from_slice(&cat(&|s| &s.targets))
        .view([b, rollout, grid, c_f])
        .transpose(0, 1);
    Batch {
        input: upload(input, device),
        forcings: upload(forcings, device),
        targets: upload(targets, device),
    }
}

/// `t` on `device`; to a GPU through pinned (page-locked) host memory with a
/// non-blocking copy, so the copy runs while the GPU still computes what
/// was queued before it (libtorch's caching host allocator keeps the pinned
/// buffer alive until the copy is done).
fn upload(t: Tensor, device: Device) -> Tensor {
    match device {
        Device::Cuda(_) => {
            t.contiguous()
                .pin_memory(device)
                .to_device_(device, t.kind(), true, false)
        }
        _ => t.to_device(device),
    }
}

/// `[B, G, C]` -> `[B, C, *grid]`, the layout of the losses:
/// `[B, C, nlat, nlon]` on lat-lon grids, `[B, C, npoints]` on Gaussian
/// grids (`grid` = [`FieldShape::dims`], `G` = its product).
pub fn to_loss_layout(t: &Tensor, grid: &[i64]) -> Tensor {
    let s = t.size();
    let mut shape = vec![s[0], s[2]];
    shape.extend_from_slice(grid);
    t.transpose(1, 2).reshape(shape.as_slice())
}

/// How [`rollout_backward`] asks for a rollout step's loss.
pub enum Evaluation<'a> {
    /// As training goes: a loss with state (the running AMSE normaliser)
    /// advances it and returns the state it used.
    First,
    /// The same step again, with the state the first evaluation returned.
    Again(Option<&'a [f64]>),
}

/// A rollout step's loss: `(prediction [B, G, C_f], target, step k,
/// evaluation) -> (loss, state to replay it)`.
pub type StepLoss<'a> =
    dyn FnMut(&Tensor, &Tensor, usize, Evaluation) -> Result<(Tensor, Option<Vec<f64>>)> + 'a;

/// Rolls `model` out `R` autoregressive steps from `input` `[B, G, C]`
/// (non-forecast channels first) with `forcings` `[R, B, G, C_nf]` (step
/// `k` is fed `forcings[k]` with the previous prediction) and `targets`
/// `[R, B, G, C_f]`, back-propagates `Σ_k loss(y_k, targets[k], k)` into
/// the parameters' gradients and returns its value.
///
/// With `recompute` (activation checkpointing), a forward pass without the
/// autograd graph keeps only every step's input state and evaluates the
/// losses in step order; then, last step first, each step is recomputed
/// with its graph and back-propagated together with the gradient the
/// later steps sent to its output, `∂/∂θ [L_k(y_k) + <y_k, g_k>]`, and
/// `g_{k-1}` is read off its input. Memory is one step's activations
/// whatever `R`; the gradients are the same.
pub fn rollout_backward(
    model: &FastNet,
    input: Tensor,
    forcings: &Tensor,
    targets: &Tensor,
    recompute: bool,
    loss: &mut StepLoss<'_>,
) -> Result<f64> {
    let rollout = targets.size()[0] as usize;
    let c_nf = forcings.size()[3];
    let c_f = targets.size()[3];
    if !recompute {
        let mut state = input;
        let mut total = Tensor::zeros([], (Kind::Float, state.device()));
        for k in 0..rollout {
            let y = model.forward(&state)?;
            total += loss(&y, &targets.get(k as i64), k, Evaluation::First)?.0;
            if k + 1 < rollout {
                state = Tensor::cat(&[forcings.get(k as i64 + 1), y], 2);
            }
        }
        total.backward();
        return Ok(f64::try_from(&total)?);
    }
    let mut states = vec![input];
    let mut replay = Vec::new();
    let mut total = 0.0;
    {
        let _guard = tch::no_grad_guard();
        for k in 0..rollout {
            let y = model.forward(&states[k])?;
            let (l, state) = loss(&y, &targets.get(k as i64), k, Evaluation::First)?;
            replay.push(state);
            total += f64::try_from(&l)?;
            if k + 1 < rollout {
                states.push(Tensor::cat(&[forcings.get(k as i64 + 1), y], 2));
            }
        }
    }
    let mut upstream: Option<Tensor> = None;
    for k in (0..rollout).rev() {
        let x = states[k].detach().set_requires_grad(k > 0);
        let y = model.forward(&x)?;
        let (mut objective, _) = loss(
            &y,
            &targets.get(k as i64),
            k,
            Evaluation::Again(replay[k].as_deref()),
        )?;
        if let Some(g) = upstream.take() {
            objective += (&y * g).sum(Kind::Float);
        }
        objective.backward();
        if k > 0 {
            upstream = Some(x.grad().narrow(2, c_nf, c_f));
        }
    }
    Ok(total)
}

/// What a training rollout needs besides the model and the batch.
pub struct RolloutContext<'a> {
    pub shapes: Shapes,
    pub recompute: bool,
    /// The optimiser step this rollout is for (1-based), for errors.
    pub step: u64,
    /// Forecast channel names, for errors.
    pub forecast_names: &'a [String],
    /// Where the last good checkpoint is, for errors.
    pub checkpoint_dir: &'a Path,
}

/// The training rollout: [`rollout_backward`] with the combined loss at
/// every step, the mean over the `R` steps back-propagated. Returns it and
/// each term's mean over the steps. A term that is not finite is
/// [`FastnetError::NonFiniteLoss`] with the step, term and channel.
pub fn train_rollout(
    model: &FastNet,
    loss: &mut CombinedLoss,
    batch: Batch,
    cx: &RolloutContext<'_>,
) -> Result<(f64, BTreeMap<String, f64>)> {
    let rollout = batch.targets.size()[0] as usize;
    let grid = cx.shapes.grid;
    let mut terms = BTreeMap::new();
    let total = rollout_backward(
        model,
        batch.input,
        &batch.forcings,
        &batch.targets,
        cx.recompute,
        &mut |y, target, k, evaluation| {
            let (y, target) = (
                to_loss_layout(y, grid.dims()),
                to_loss_layout(target, grid.dims()),
            );
            let out = match evaluation {
                Evaluation::Again(beta) => loss.forward_with_beta(&y, &target, beta)?,
                Evaluation::First => {
                    let out = loss.forward(&y, &target)?;
                    for (name, v) in &out.terms {
                        if !v.is_finite() {
                            let channel = out
                                .per_channel
                                .iter()
                                .find(|(n, _)| n == name)
                                .and_then(|(_, vals)| vals.iter().position(|x| !x.is_finite()))
                                .map(|c| {
                                    cx.forecast_names
                                        .get(c)
                                        .cloned()
                                        .unwrap_or_else(|| format!("#{c}"))
                                })
                                .unwrap_or_else(|| "(all)".into());
                            return Err(FastnetError::NonFiniteLoss {
                                step: cx.step,
                                term: name.to_string(),
                                value: *v,
                                channel,
                                rollout_step: k + 1,
                                checkpoint_dir: cx.checkpoint_dir.to_path_buf(),
                            }
                            .into());
                        }
                        *terms.entry(name.to_string()).or_insert(0.0) += v / rollout as f64;
                    }
                    out
                }
            };
            Ok((out.total / rollout as f64, out.amse_beta))
        },
    )?;
    Ok((total, terms))
}
