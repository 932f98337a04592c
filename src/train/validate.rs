//! Validation during training: RMSE per forecast channel, in physical
//! units, of one-step forecasts on batches spread over the validation
//! period. The error is the losses crate's area-weighted MSE
//! ([`fastnet_losses::mse::mse_per_channel`]), the same formula as the
//! training loss's MSE term and WeatherBench2's per-field MSE.

use std::collections::BTreeMap;

use anyhow::Result;
use fastnet_losses::mse::mse_per_channel;
use tch::{Device, Kind, Tensor};

use super::rollout::{stack, to_loss_layout, Shapes};
use super::source::SampleSource;
use crate::dist::ProcessGroup;
use crate::model::FastNet;

/// A value per channel name (validation RMSE).
pub type PerChannel = BTreeMap<String, f64>;

/// What validation needs besides the model and the data.
pub struct Validation<'a> {
    pub shapes: Shapes,
    pub batch_size: usize,
    /// Batches per validation (0: none).
    pub batches: usize,
    /// Cell-area weights along the grid's first axis, mean 1
    /// ([`crate::loss_setup::LossSetup::area_weights`]): `[nlat]` per ring
    /// on lat-lon grids, `[npoints]` per point on Gaussian grids.
    pub area_weights: &'a [f64],
    /// Forecast channel names and standard deviations (physical units).
    pub names: &'a [String],
    pub std: &'a [f64],
    /// The data-parallel group: each rank validates its share of the
    /// batches (batch k on rank k mod world) and the sums are reduced.
    pub group: Option<&'a ProcessGroup>,
}

impl Validation<'_> {
    /// RMSE per forecast channel over `batches` batches spread evenly over
    /// `valid`: `sqrt(mean over batches of MSE) · std`, or `None` when
    /// there is nothing to validate on.
    pub fn rmse(
        &self,
        model: &FastNet,
        valid: &dyn SampleSource,
        device: Device,
    ) -> Result<Option<PerChannel>> {
        let n = valid.len(1);
        if n == 0 || self.batches == 0 {
            return Ok(None);
        }
        let s = self.shapes;
        let dims = s.grid.dims();
        if self.area_weights.len() as i64 != dims[0] {
            return Err(crate::error::FastnetError::BadShape {
                what: "validation area weights".into(),
                actual: vec![self.area_weights.len() as i64],
                expected: vec![dims[0]],
            }
            .into());
        }
        let (rank, world) = self.group.map_or((0, 1), |g| (g.rank(), g.world()));
        // `batches` global batches of `batch_size` per rank
        let picks = crate::loss_setup::spread(n, self.batches * self.batch_size * world);
        let w = Tensor::from_slice(self.area_weights)
            .to_kind(Kind::Float)
            .to_device(device);
        let mut sum = Tensor::zeros([s.forecast], (Kind::Double, device));
        let mut batches = 0;
        let _guard = tch::no_grad_guard();
        for chunk in picks.chunks(self.batch_size).skip(rank).step_by(world) {
            let samples = chunk
                .iter()
                .map(|&i| valid.get(i, 1))
                .collect::<Result<Vec<_>>>()?;
            let batch = stack(&samples, s, 1, device);
            let y = model.forward(&batch.input)?;
            let mse = mse_per_channel(
                &to_loss_layout(&y, dims),
                &to_loss_layout(&batch.targets.get(0), dims),
                &w,
            )?;
            sum += mse.to_kind(Kind::Double);
            batches += 1;
        }
        let mut totals: Vec<f64> = Vec::try_from(sum.to_device(Device::Cpu))?;
        totals.push(batches as f64);
        if let Some(g) = self.group {
            let mut t = Tensor::from_slice(&totals).to_device(g.device());
            g.all_reduce_sum(&mut t)?;
            totals = Vec::try_from(&t.to_device(Device::Cpu))?;
        }
        let batches = totals.pop().unwrap_or(0.0).max(1.0);
        let mse: Vec<f64> = totals.iter().map(|s| s / batches).collect();
        Ok(Some(
            self.names
                .iter()
                .zip(mse.iter().zip(self.std))
                .map(|(name, (m, s))| (name.clone(), m.sqrt() * s))
                .collect(),
        ))
    }
}
