//! `fastnet synth`: a built-in toy atmosphere. A forced, turbulent
//! shallow-water model on the sphere written out in the ERA5 layout, so the
//! real data pipeline reads it unchanged.

pub mod model;
pub mod run;
pub mod spectral;
pub mod williamson;
