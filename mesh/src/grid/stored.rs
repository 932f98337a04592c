//! The serialised form of [`Grid`] (graph files, checkpoint sidecars), read
//! back through the validating constructors.

use serde::Deserialize;

use super::Grid;
use crate::error::{MeshError, Result};

/// The serialised form of [`Grid`], checked on the way in.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum StoredGrid {
    Equiangular {
        nlat: usize,
        nlon: usize,
        poles: bool,
    },
    Gaussian {
        n: usize,
        octahedral: bool,
    },
    Points {
        lat_deg: Vec<f64>,
        lon_deg: Vec<f64>,
    },
}

impl TryFrom<StoredGrid> for Grid {
    type Error = MeshError;

    fn try_from(g: StoredGrid) -> Result<Grid> {
        match g {
            StoredGrid::Equiangular { nlat, nlon, poles } => Grid::equiangular(nlat, nlon, poles),
            StoredGrid::Gaussian {
                n,
                octahedral: true,
            } => Grid::octahedral(n),
            StoredGrid::Gaussian {
                n,
                octahedral: false,
            } => Grid::regular_gaussian(n),
            StoredGrid::Points { lat_deg, lon_deg } => {
                if lat_deg.len() != lon_deg.len() {
                    return Err(MeshError::BadGridSpec {
                        spec: "stored point grid".into(),
                        reason: format!(
                            "{} latitudes but {} longitudes",
                            lat_deg.len(),
                            lon_deg.len()
                        ),
                    });
                }
                let pts: Vec<(f64, f64)> = lat_deg.into_iter().zip(lon_deg).collect();
                Grid::points(&pts)
            }
        }
    }
}
