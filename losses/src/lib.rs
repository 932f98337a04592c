//! fastnet-losses: the physics-aware training losses of FastNet on tch
//! tensors (CPU or CUDA, f32 or f64), each differentiable and checked
//! against an independent computation:
//!
//! * [`mse`] — area-weighted MSE with per-channel weights;
//! * [`amse`] — the MSH / AMSE spectral loss on a differentiable
//!   spherical-harmonic transform ([`sht`]) built from the eval crate's
//!   tables (lat-lon grids, and reduced Gaussian grids such as O96 with a
//!   real FFT per ring);
//! * [`gradient`] — horizontal-gradient terms;
//! * [`wind`] — wind speed / direction representation;
//! * [`combined`] — the `[loss]` config section and the total.
//!
//! Loss fields are `[batch, C, *grid]` ([`weights::field_shape`]):
//! `[batch, C, nlat, nlon]` on lat-lon grids, `[batch, C, npoints]` (ring by
//! ring, north to south) on Gaussian grids. Point grids have no rings and
//! are refused, naming the grid.

pub mod amse;
pub mod combined;
pub mod error;
pub mod gradient;
pub mod mse;
pub mod sht;
pub mod weights;
pub mod wind;

pub use combined::{CombinedLoss, LossConfig, LossContext, LossOutput};
pub use error::{LossError, Result};
