//! fastnet-eval: how forecasts are judged. Spherical-harmonic transforms
//! (Clenshaw–Curtis, Fejér and Gauss–Legendre lat-lon grids; regular and
//! octahedral reduced Gaussian grids), power and zonal spectra, and
//! WeatherBench2-style metrics on any grid, over WeatherBench2's regions.

pub mod error;
pub mod grid_sht;
pub mod legendre;
mod legendre_stream;
pub mod metrics;
#[cfg(feature = "plots")]
pub mod plots;
pub mod quadrature;
pub mod reduced_sht;
pub mod regions;
pub mod sht;
pub mod spectra;
#[cfg(test)]
mod test_rng;

pub use error::{EvalError, Result};
pub use grid_sht::GridSht;
pub use quadrature::Kind as QuadratureKind;
pub use reduced_sht::ReducedSht;
pub use regions::Region;
pub use sht::{Coefficients, Sht};
