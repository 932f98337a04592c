//! One spherical-harmonic transform for any ring grid: [`Sht`] on
//! latitude-longitude grids, [`ReducedSht`] on Gaussian grids, both on flat
//! fields (`[nlat * nlon]` latitude-major, or `[npoints]` ring by ring) with
//! the same coefficient convention ([`crate::sht`]).

use std::sync::Arc;

use fastnet_mesh::Grid;
use ndarray::ArrayView2;

use crate::error::{EvalError, Result};
use crate::quadrature::Kind;
use crate::reduced_sht::ReducedSht;
use crate::sht::{Coefficients, Sht};

/// The transform of a grid: [`GridSht::for_grid`] picks the kind.
#[derive(Clone, Debug)]
pub enum GridSht {
    /// Equiangular lat-lon grid (Clenshaw–Curtis or Fejér).
    LatLon(Arc<Sht>),
    /// Gaussian grid, regular or octahedral reduced.
    Reduced(Arc<ReducedSht>),
}

impl GridSht {
    /// The shared (cached) transform of `grid`; `lmax = None` takes the
    /// grid's default ([`Sht::default_lmax`], [`ReducedSht::default_lmax`]).
    /// Point grids have none (an error).
    pub fn for_grid(grid: &Grid, lmax: Option<usize>) -> Result<GridSht> {
        match grid {
            Grid::Gaussian { .. } => Ok(GridSht::Reduced(ReducedSht::shared(grid, lmax)?)),
            _ => Ok(GridSht::LatLon(Sht::for_grid(grid, lmax)?)),
        }
    }

    pub fn lmax(&self) -> usize {
        match self {
            GridSht::LatLon(s) => s.lmax(),
            GridSht::Reduced(s) => s.lmax(),
        }
    }

    /// Length of a field: `nlat * nlon` or `npoints`.
    pub fn npoints(&self) -> usize {
        match self {
            GridSht::LatLon(s) => s.shape()[0] * s.shape()[1],
            GridSht::Reduced(s) => s.npoints(),
        }
    }

    /// What the transform is, for reports: e.g. `Clenshaw–Curtis SHT on
    /// 181 x 360, lmax 90` or `SHT on octahedral reduced Gaussian O96 (192
    /// rings, 40320 points), lmax 95`.
    pub fn describe(&self) -> String {
        match self {
            GridSht::LatLon(s) => {
                let rule = match s.quadrature().kind {
                    Kind::ClenshawCurtis => "Clenshaw–Curtis",
                    Kind::Fejer1 => "Fejér",
                    Kind::GaussLegendre => "Gauss–Legendre",
                };
                let [nlat, nlon] = s.shape();
                format!("{rule} SHT on {nlat} x {nlon}, lmax {}", s.lmax())
            }
            GridSht::Reduced(s) => format!("SHT on {}, lmax {}", s.grid_description(), s.lmax()),
        }
    }

    /// Forward transform of one flat field (`[nlat * nlon]` latitude-major
    /// north to south, or `[npoints]` ring by ring).
    pub fn forward(&self, field: &[f64]) -> Result<Coefficients> {
        match self {
            GridSht::LatLon(s) => {
                let [nlat, nlon] = s.shape();
                let view = ArrayView2::from_shape((nlat, nlon), field).map_err(|_| {
                    EvalError::ShapeMismatch {
                        what: "field for the spherical-harmonic transform".into(),
                        got: vec![field.len()],
                        expected: vec![nlat * nlon],
                    }
                })?;
                s.forward(view)
            }
            GridSht::Reduced(s) => s.forward(field),
        }
    }

    /// Power per total wavenumber of one flat field, `[lmax + 1]`
    /// ([`Coefficients::power_spectrum`]).
    pub fn power_spectrum(&self, field: &[f64]) -> Result<Vec<f64>> {
        Ok(self.forward(field)?.power_spectrum())
    }

    /// Inverse transform to a flat field (`[nlat * nlon]` or `[npoints]`).
    pub fn inverse(&self, coeffs: &Coefficients) -> Vec<f64> {
        match self {
            GridSht::LatLon(s) => s.inverse(coeffs).into_iter().collect(),
            GridSht::Reduced(s) => s.inverse(coeffs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex64;

    #[test]
    fn lat_lon_and_gaussian_grids_get_their_transform_on_flat_fields() {
        let ll = Grid::from_spec("latlon:10").unwrap(); // 19 x 36
        let t = GridSht::for_grid(&ll, None).unwrap();
        let GridSht::LatLon(sht) = &t else {
            panic!("lat-lon grid gave {t:?}")
        };
        assert!(Arc::ptr_eq(sht, &Sht::for_grid(&ll, None).unwrap()));
        assert_eq!((t.lmax(), t.npoints()), (9, 19 * 36));
        assert_eq!(t.describe(), "Clenshaw–Curtis SHT on 19 x 36, lmax 9");
        let mut c = Coefficients::zeros(9);
        c.set(4, 2, Complex64::new(0.3, -0.7));
        c.set(0, 0, Complex64::new(2.0, 0.0));
        let f = t.inverse(&c);
        let direct = sht.inverse(&c);
        assert_eq!(f.len(), 19 * 36);
        assert!(f.iter().zip(direct.iter()).all(|(a, b)| a == b));
        let back = t.forward(&f).unwrap();
        assert_eq!(back, sht.forward(direct.view()).unwrap());
        let p = t.power_spectrum(&f).unwrap();
        assert!((p[4] - 2.0 * (0.09 + 0.49)).abs() < 1e-12 && (p[0] - 4.0).abs() < 1e-12);
        let e = t.forward(&f[1..]).unwrap_err().to_string();
        assert!(e.contains("[683]") && e.contains("[684]"), "{e}");

        let o16 = Grid::octahedral(16).unwrap();
        let t = GridSht::for_grid(&o16, None).unwrap();
        let GridSht::Reduced(r) = &t else {
            panic!("O16 gave {t:?}")
        };
        assert!(Arc::ptr_eq(r, &ReducedSht::shared(&o16, None).unwrap()));
        assert_eq!((t.lmax(), t.npoints()), (15, o16.len()));
        assert_eq!(
            t.describe(),
            "SHT on octahedral reduced Gaussian O16 (32 rings, 1600 points), lmax 15"
        );
        let back = t.forward(&t.inverse(&c)).unwrap();
        for m in 0..=9 {
            for l in m..=9 {
                assert!((back.get(l, m) - c.get(l, m)).norm() < 1e-13);
            }
        }
        let pts = Grid::points(&[(0.0, 0.0), (10.0, 20.0)]).unwrap();
        assert!(GridSht::for_grid(&pts, None).is_err());
    }
}
