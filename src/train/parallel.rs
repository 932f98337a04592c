//! The data-parallel parts of a training step: rank 0's parameters on
//! every rank at the start, gradients averaged over the ranks in one flat
//! bucket, the parameters' checksum compared at every checkpoint, and stop
//! requests agreed over the ranks. Each is a no-op in a single process.

use std::sync::atomic::Ordering;

use anyhow::Result;
use tch::Tensor;

use super::trainer::Trainer;
use crate::error::FastnetError;

impl Trainer {
    /// Rank 0's parameters on every rank (they start equal anyway: the
    /// same seed; this makes it so whatever the initialisation did).
    pub fn broadcast_parameters(&mut self) -> Result<()> {
        let Some(g) = &self.group else {
            return Ok(());
        };
        let mut vars: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let flat = Tensor::cat(
            &vars
                .iter()
                .map(|(_, t)| t.detach().flatten(0, -1).to_device(g.device()))
                .collect::<Vec<_>>(),
            0,
        );
        let mut flat = flat.contiguous();
        g.broadcast(&mut flat, 0)?;
        let mut offset = 0;
        for (_, t) in &vars {
            let n = t.numel() as i64;
            let mut t = t.shallow_clone();
            let src = flat
                .narrow(0, offset, n)
                .view(t.size().as_slice())
                .to_device(t.device());
            tch::no_grad(|| t.copy_(&src));
            offset += n;
        }
        Ok(())
    }

    /// Averages the gradients over the ranks in one flat bucket (copied to
    /// the CPU for Gloo when they live on a GPU).
    pub(super) fn average_gradients(&self) -> Result<()> {
        let Some(g) = &self.group else {
            return Ok(());
        };
        // the parameters the loss reached (the same on every rank: one
        // model, one loss)
        let grads: Vec<Tensor> = self
            .optimizer
            .params()
            .iter()
            .map(|(_, p)| p.grad())
            .filter(|g| g.defined())
            .collect();
        if grads.is_empty() {
            return Ok(());
        }
        let flat_grads: Vec<Tensor> = grads.iter().map(|g| g.flatten(0, -1)).collect();
        let device = grads.first().map_or(tch::Device::Cpu, |t| t.device());
        let mut flat = Tensor::cat(&flat_grads, 0)
            .to_device(g.device())
            .contiguous();
        g.all_reduce_sum(&mut flat)?;
        let flat = (flat / g.world() as f64).to_device(device);
        let mut offset = 0;
        for mut gr in grads {
            let n = gr.numel() as i64;
            let avg = flat.narrow(0, offset, n).view(gr.size().as_slice());
            tch::no_grad(|| gr.copy_(&avg));
            offset += n;
        }
        Ok(())
    }

    /// Checks that every rank holds the same parameters (a sum and a sum of
    /// squares of all of them, rank 0's against each rank's own); an error
    /// names the rank that drifted.
    pub(super) fn check_in_sync(&self) -> Result<()> {
        let Some(g) = &self.group else {
            return Ok(());
        };
        let (mut s, mut q) = (0.0, 0.0);
        for (_, t) in self.optimizer.params() {
            let t = t.detach().to_kind(tch::Kind::Double);
            s += f64::try_from(t.sum(tch::Kind::Double))?;
            q += f64::try_from(t.square().sum(tch::Kind::Double))?;
        }
        let mine = [s, q];
        let mut root = Tensor::from_slice(&mine).to_device(g.device());
        g.broadcast(&mut root, 0)?;
        let root: Vec<f64> = Vec::try_from(&root.to_device(tch::Device::Cpu))?;
        // one slot per rank: 1 where that rank's parameters differ
        let mut flags = vec![0.0; g.world()];
        flags[g.rank()] = if root != mine { 1.0 } else { 0.0 };
        let mut flags = Tensor::from_slice(&flags).to_device(g.device());
        g.all_reduce_sum(&mut flags)?;
        let flags: Vec<f64> = Vec::try_from(&flags.to_device(tch::Device::Cpu))?;
        let drifted: Vec<String> = flags
            .iter()
            .enumerate()
            .filter(|(_, f)| **f > 0.0)
            .map(|(r, _)| r.to_string())
            .collect();
        if !drifted.is_empty() {
            return Err(FastnetError::State(format!(
                "step {}: the parameters of rank(s) {} drifted from rank 0's (checksums differ); training stopped, the last good checkpoint is intact",
                self.step,
                drifted.join(", ")
            ))
            .into());
        }
        Ok(())
    }

    /// Whether to stop now: this rank's Ctrl-C flag, agreed over the ranks
    /// (any rank interrupted stops all at the same step).
    pub(super) fn stop_requested(&self) -> Result<bool> {
        let mine = self.stop.load(Ordering::SeqCst);
        match &self.group {
            None => Ok(mine),
            Some(g) => Ok(g.mean(&[if mine { 1.0 } else { 0.0 }])?[0] > 0.0),
        }
    }
}
