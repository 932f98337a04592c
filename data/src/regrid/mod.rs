//! Regridding from equiangular latitude-longitude grids (ERA5, WeatherBench)
//! to reduced Gaussian grids (O96, N48, ...) or any other grid with points:
//! a sparse weight matrix computed once per (source grid, target grid,
//! method), then applied field by field.
//!
//! * [`Method::Bilinear`] ([`bilinear`]): interpolation in (latitude,
//!   longitude) between the four surrounding source points, periodic in
//!   longitude. Works for every target grid.
//! * [`Method::Conservative`] ([`conservative`]): first-order conservative
//!   remapping (Jones 1999, "First- and second-order conservative remapping
//!   schemes for grids in spherical coordinates", Mon. Wea. Rev. 127, first
//!   order): each target value is the area-weighted mean of the source cells
//!   its cell overlaps, so the area mean is preserved to round-off. Needs
//!   target cells: Gaussian or lat-lon targets.
//!
//! Fields are flat in canonical orientation (the data crate's convention):
//! the source `[nlat * nlon]` latitude-major, north to south, longitudes
//! from 0; the target `[target.len()]` in the target's own point order
//! (ring by ring north to south for Gaussian grids).
//!
//! [`file`] streams whole NetCDF files through a [`Regridder`].

pub mod bilinear;
pub mod conservative;
pub mod file;

use std::fmt;
use std::str::FromStr;

use fastnet_mesh::Grid;
use rayon::prelude::*;

use crate::error::{DataError, Result};

pub use file::{count_fields, RegridReport, Regridder};

/// How target values are computed from source values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Bilinear in (latitude, longitude) on the sphere.
    #[default]
    Bilinear,
    /// First-order conservative (area-weighted overlap).
    Conservative,
}

impl Method {
    /// `bilinear` or `conservative`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Bilinear => "bilinear",
            Method::Conservative => "conservative",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Method> {
        match s.to_ascii_lowercase().as_str() {
            "bilinear" => Ok(Method::Bilinear),
            "conservative" => Ok(Method::Conservative),
            _ => Err(DataError::BadConfig {
                field: "method".into(),
                value: s.into(),
                expected: "bilinear or conservative".into(),
            }),
        }
    }
}

/// A sparse regridding matrix in compressed-row form: target point `t`
/// takes `Σ_k weights[k] · source[sources[k]]` over
/// `k ∈ offsets[t]..offsets[t + 1]`. Weights of a row sum to 1 (to
/// round-off); exact zeros are left out, so a missing (NaN) source value
/// only reaches the targets that really use it.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    /// Number of source points (`source.len()`).
    pub source_len: usize,
    /// `[target_len + 1]`, `offsets[0] = 0`, `offsets[target_len] = nnz`.
    pub offsets: Vec<usize>,
    /// `[nnz]` canonical source point index.
    pub sources: Vec<u32>,
    /// `[nnz]` weight of that source point, dimensionless.
    pub weights: Vec<f64>,
}

impl Weights {
    /// The weights taking fields on `source` (an equiangular lat-lon grid,
    /// with or without poles) to `target` by `method`.
    ///
    /// Errors: a source that is not equiangular (Gaussian or point grids),
    /// more source points than a `u32` index holds, and for
    /// [`Method::Conservative`] a target without cells (point grids).
    pub fn new(source: &Grid, target: &Grid, method: Method) -> Result<Weights> {
        let src = SourceGrid::of(source, target, method)?;
        let rows = match method {
            Method::Bilinear => bilinear::rows(&src, target),
            Method::Conservative => conservative::rows(&src, target)?,
        };
        Ok(Weights::from_rows(source.len(), rows))
    }

    /// Assembles CSR from per-target rows of (source index, weight): merges
    /// repeated indices (sorted), drops exact zeros.
    pub(crate) fn from_rows(source_len: usize, rows: Vec<Vec<(u32, f64)>>) -> Weights {
        let mut offsets = Vec::with_capacity(rows.len() + 1);
        offsets.push(0);
        let nnz: usize = rows.iter().map(Vec::len).sum();
        let mut sources = Vec::with_capacity(nnz);
        let mut weights = Vec::with_capacity(nnz);
        for mut row in rows {
            row.sort_unstable_by_key(|e| e.0);
            let mut k = 0;
            while k < row.len() {
                let (s, mut w) = row[k];
                k += 1;
                while k < row.len() && row[k].0 == s {
                    w += row[k].1;
                    k += 1;
                }
                if w != 0.0 {
                    sources.push(s);
                    weights.push(w);
                }
            }
            offsets.push(sources.len());
        }
        Weights {
            source_len,
            offsets,
            sources,
            weights,
        }
    }

    /// Number of target points.
    pub fn target_len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of stored weights.
    pub fn nnz(&self) -> usize {
        self.weights.len()
    }

    /// Source indices and weights of target point `t`.
    pub fn row(&self, t: usize) -> (&[u32], &[f64]) {
        let r = self.offsets[t]..self.offsets[t + 1];
        (&self.sources[r.clone()], &self.weights[r])
    }

    fn check_lengths(&self, src: usize, out: usize) -> Result<()> {
        if src != self.source_len || out != self.target_len() {
            return Err(DataError::BadConfig {
                field: "regrid buffers".into(),
                value: format!("source {src}, target {out}"),
                expected: format!(
                    "source {} and target {} values",
                    self.source_len,
                    self.target_len()
                ),
            });
        }
        Ok(())
    }

    /// Applies the weights in f64: `src` `[source_len]` (any units) into
    /// `out` `[target_len]` (same units). NaN in a source value used with a
    /// non-zero weight gives NaN.
    pub fn apply<T: Copy + Into<f64> + Sync>(&self, src: &[T], out: &mut [f64]) -> Result<()> {
        self.check_lengths(src.len(), out.len())?;
        out.par_iter_mut().enumerate().for_each(|(t, o)| {
            let (s, w) = self.row(t);
            *o = s
                .iter()
                .zip(w)
                .map(|(&i, &w)| w * src[i as usize].into())
                .sum();
        });
        Ok(())
    }

    /// [`Weights::apply`] for f32 fields (accumulated in f64): `src`
    /// `[source_len]` into `out` `[target_len]`.
    pub fn apply_f32(&self, src: &[f32], out: &mut [f32]) -> Result<()> {
        self.check_lengths(src.len(), out.len())?;
        out.par_iter_mut().enumerate().for_each(|(t, o)| {
            let (s, w) = self.row(t);
            *o = s
                .iter()
                .zip(w)
                .map(|(&i, &w)| w * src[i as usize] as f64)
                .sum::<f64>() as f32;
        });
        Ok(())
    }
}

/// The source side of a regridding: an equiangular grid's rings.
pub(crate) struct SourceGrid {
    pub nlat: usize,
    pub nlon: usize,
    pub poles: bool,
    /// `[nlat]` ring latitudes in degrees, north to south.
    pub lat_deg: Vec<f64>,
}

impl SourceGrid {
    fn of(source: &Grid, target: &Grid, method: Method) -> Result<SourceGrid> {
        let what = || format!("{} to {}", source.describe(), target.describe());
        let Grid::Equiangular { nlat, nlon, poles } = *source else {
            let already = if source.is_gaussian() {
                " (the data are already on a Gaussian grid)"
            } else {
                ""
            };
            return Err(DataError::Regrid {
                what: what(),
                reason: format!(
                    "the source is {}{already}; {method} regridding reads equiangular lat-lon grids",
                    source.describe()
                ),
            });
        };
        if source.len() > u32::MAX as usize {
            return Err(DataError::Regrid {
                what: what(),
                reason: format!(
                    "{} source points; at most {} are supported",
                    source.len(),
                    u32::MAX
                ),
            });
        }
        Ok(SourceGrid {
            nlat,
            nlon,
            poles,
            lat_deg: source.latitudes_deg(),
        })
    }

    /// Latitude spacing in degrees.
    pub fn dlat(&self) -> f64 {
        if self.poles {
            180.0 / (self.nlat - 1) as f64
        } else {
            180.0 / self.nlat as f64
        }
    }

    /// Longitude spacing in degrees.
    pub fn dlon(&self) -> f64 {
        360.0 / self.nlon as f64
    }
}

#[cfg(test)]
mod tests;
