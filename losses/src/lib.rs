//! fastnet-losses: the physics-aware training losses of FastNet on tch
//! tensors (CPU or CUDA, f32 or f64), each differentiable and checked
//! against an independent computation:
//!
//! * [`mse`] — latitude-weighted MSE with per-channel weights;
//! * [`amse`] — the MSH / AMSE spectral loss on a differentiable
//!   spherical-harmonic transform ([`sht`]) built from the eval crate's tables;
//! * [`gradient`] — horizontal-gradient terms;
//! * [`wind`] — wind speed / direction representation;
//! * [`combined`] — the `[loss]` config section and the total.

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
