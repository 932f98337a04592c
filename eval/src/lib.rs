//! fastnet-eval: how forecasts are judged. A spherical-harmonic transform
//! (Clenshaw–Curtis, Fejér and Gauss–Legendre grids), power and zonal
//! spectra, and WeatherBench2-style metrics.

pub mod error;
pub mod legendre;
pub mod metrics;
#[cfg(feature = "plots")]
pub mod plots;
pub mod quadrature;
pub mod sht;
pub mod spectra;

pub use error::{EvalError, Result};
pub use quadrature::Kind as QuadratureKind;
pub use sht::{Coefficients, Sht};
