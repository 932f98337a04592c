//! Horizontal-gradient loss on the latitude-longitude grid (DESIGN.md §5.3).
//!
//! `∂_x f = (1/(R cos φ)) ∂f/∂λ` by periodic centred differences in
//! longitude (pole rows, where `cos φ = 0`, are excluded) and
//! `∂_y f = (1/R) ∂f/∂φ` by centred differences in latitude, one-sided on
//! the first and last rows; units per metre (R = 6371 km). Each channel's
//! derivatives are divided by their standard deviation over the training
//! data, and the loss is the area-weighted MSE of the derivative fields.

use fastnet_mesh::geometry::EARTH_RADIUS_KM;
use fastnet_mesh::Grid;
use tch::{Device, Kind, Tensor};

use crate::error::{check_bcyx, LossError, Result};
use crate::weights::area_weights;

/// Finite-difference operators and weights for one grid.
pub struct GradientOperator {
    nlat: i64,
    nlon: i64,
    /// `[nlat]` `1/(R cos φ · 2Δλ)`, zero on pole rows.
    x_factor: Tensor,
    /// `[nlat]` `1/(R Δφ)` per row (centred interior, one-sided at the ends).
    y_factor: Tensor,
    /// `[nlat]` area weights with the pole rows zeroed, for the x term.
    pub weights_x: Tensor,
    /// `[nlat]` area weights for the y term.
    pub weights_y: Tensor,
}

impl GradientOperator {
    pub fn new(grid: &Grid, kind: Kind, device: Device) -> Result<Self> {
        let Grid::Equiangular { nlat, nlon, .. } = *grid else {
            return Err(LossError::Config {
                field: "grid".into(),
                value: grid.describe(),
                expected: "a regular latitude-longitude grid".into(),
            });
        };
        if nlat < 2 || nlon < 3 {
            return Err(LossError::Config {
                field: "grid".into(),
                value: grid.describe(),
                expected: "at least 2 x 3 points for finite differences".into(),
            });
        }
        let r = EARTH_RADIUS_KM * 1e3;
        let lat: Vec<f64> = grid
            .latitudes_deg()
            .iter()
            .map(|d| d.to_radians())
            .collect();
        let dlon = 2.0 * std::f64::consts::PI / nlon as f64;
        let pole = |p: f64| p.cos() < 1e-9;
        let xf: Vec<f64> = lat
            .iter()
            .map(|&p| {
                if pole(p) {
                    0.0
                } else {
                    1.0 / (r * p.cos() * 2.0 * dlon)
                }
            })
            .collect();
        let yf: Vec<f64> = (0..nlat)
            .map(|i| {
                let (a, b) = if i == 0 {
                    (0, 1)
                } else if i == nlat - 1 {
                    (nlat - 2, nlat - 1)
                } else {
                    (i - 1, i + 1)
                };
                1.0 / (r * (lat[a] - lat[b]))
            })
            .collect();
        let w = area_weights(grid, kind, device)?;
        let mask: Vec<f64> = lat
            .iter()
            .map(|&p| if pole(p) { 0.0 } else { 1.0 })
            .collect();
        let weights_x = &w * Tensor::from_slice(&mask).to_kind(kind).to_device(device);
        let t = |v: &[f64]| Tensor::from_slice(v).to_kind(kind).to_device(device);
        Ok(GradientOperator {
            nlat: nlat as i64,
            nlon: nlon as i64,
            x_factor: t(&xf),
            y_factor: t(&yf),
            weights_x,
            weights_y: w,
        })
    }

    /// `∂_x f` in units of f per metre, `[b, c, nlat, nlon]` (zero on pole rows).
    pub fn dx(&self, f: &Tensor) -> Result<Tensor> {
        check_bcyx("field for ∂x", f, None, self.nlat, self.nlon)?;
        let d = f.roll([-1i64].as_slice(), [3i64].as_slice())
            - f.roll([1i64].as_slice(), [3i64].as_slice());
        Ok(d * self.x_factor.view([1, 1, self.nlat, 1]))
    }

    /// `∂_y f` (northward) in units of f per metre, `[b, c, nlat, nlon]`.
    pub fn dy(&self, f: &Tensor) -> Result<Tensor> {
        check_bcyx("field for ∂y", f, None, self.nlat, self.nlon)?;
        let n = self.nlat;
        let first = f.narrow(2, 0, 1) - f.narrow(2, 1, 1);
        let last = f.narrow(2, n - 2, 1) - f.narrow(2, n - 1, 1);
        let mut parts = vec![first];
        if n > 2 {
            parts.push(f.narrow(2, 0, n - 2) - f.narrow(2, 2, n - 2));
        }
        parts.push(last);
        Ok(Tensor::cat(&parts, 2) * self.y_factor.view([1, 1, n, 1]))
    }

    /// Area-weighted standard deviations of `∂_x` and `∂_y` per channel
    /// (`[C]` each) over a batch of training fields — the normalisers of
    /// [`GradientOperator::loss_per_channel`].
    pub fn derivative_std(&self, f: &Tensor) -> Result<(Tensor, Tensor)> {
        let std = |d: Tensor, w: &Tensor| {
            let m = crate::weights::weighted_channel_mean(&d, w);
            let v = crate::weights::weighted_channel_mean(&d.square(), w) - m.square();
            v.clamp_min(0.0).sqrt()
        };
        Ok((
            std(self.dx(f)?, &self.weights_x),
            std(self.dy(f)?, &self.weights_y),
        ))
    }

    /// Per-channel `(L_x, L_y)`, `[C]` each: the area-weighted MSE of the
    /// derivative fields divided by `std_x`, `std_y` (`[C]`).
    pub fn loss_per_channel(
        &self,
        pred: &Tensor,
        target: &Tensor,
        std_x: &Tensor,
        std_y: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let c = target.size().get(1).copied().unwrap_or(0);
        check_bcyx("prediction", pred, Some(c), self.nlat, self.nlon)?;
        for (name, s) in [("gradient std x", std_x), ("gradient std y", std_y)] {
            if s.size() != [c] {
                return Err(LossError::Shape {
                    what: name.into(),
                    got: s.size(),
                    expected: format!("[{c}] (one per channel)"),
                });
            }
        }
        let sx = std_x.view([1, c, 1, 1]);
        let sy = std_y.view([1, c, 1, 1]);
        let ex = ((self.dx(pred)? - self.dx(target)?) / &sx).square();
        let ey = ((self.dy(pred)? - self.dy(target)?) / &sy).square();
        Ok((
            crate::weights::weighted_channel_mean(&ex, &self.weights_x),
            crate::weights::weighted_channel_mean(&ey, &self.weights_y),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: (Kind, Device) = (Kind::Double, Device::Cpu);

    fn field(grid: &Grid, f: impl Fn(f64, f64) -> f64) -> Tensor {
        let (lat, lon) = (grid.latitudes_deg(), grid.longitudes_deg());
        let v: Vec<f64> = lat
            .iter()
            .flat_map(|&a| lon.iter().map(move |&b| (a, b)))
            .map(|(a, b)| f(a.to_radians(), b.to_radians()))
            .collect();
        Tensor::from_slice(&v).view([1, 1, lat.len() as i64, lon.len() as i64])
    }

    #[test]
    fn derivatives_of_smooth_fields_match_closed_forms() {
        let grid = Grid::from_spec("latlon:1").unwrap();
        let op = GradientOperator::new(&grid, Kind::Double, Device::Cpu).unwrap();
        let r = 6.371e6;
        // f = cos φ sin λ: ∂x = cos λ / R, ∂y = −sin φ sin λ / R
        let f = field(&grid, |p, l| p.cos() * l.sin());
        let dx = op.dx(&f).unwrap();
        let dy = op.dy(&f).unwrap();
        let want_x = field(&grid, |p, l| if p.cos() < 1e-9 { 0.0 } else { l.cos() / r });
        let want_y = field(&grid, |p, l| -p.sin() * l.sin() / r);
        let ex = f64::try_from((dx - want_x).abs().max()).unwrap() * r;
        let ey = f64::try_from((dy - want_y).narrow(2, 1, 179).abs().max()).unwrap() * r;
        assert!(ex < 1e-4 && ey < 1e-4, "{ex} {ey}");
    }

    #[test]
    fn loss_is_zero_for_equal_fields_and_positive_otherwise_with_a_correct_gradient() {
        let grid = Grid::from_spec("latlon:10").unwrap();
        let op = GradientOperator::new(&grid, Kind::Double, Device::Cpu).unwrap();
        tch::manual_seed(1);
        let x = Tensor::randn([2, 3, 19, 36], OPTS);
        let (sx, sy) = op.derivative_std(&x).unwrap();
        let (lx, ly) = op.loss_per_channel(&x, &x, &sx, &sy).unwrap();
        assert_eq!(f64::try_from(lx.sum(Kind::Double)).unwrap(), 0.0);
        assert_eq!(f64::try_from(ly.sum(Kind::Double)).unwrap(), 0.0);
        let y = Tensor::randn([2, 3, 19, 36], OPTS).set_requires_grad(true);
        let loss = |p: &Tensor| {
            let (a, b) = op.loss_per_channel(p, &x, &sx, &sy).unwrap();
            (a + b).sum(Kind::Double)
        };
        let l = loss(&y);
        assert!(f64::try_from(&l).unwrap() > 0.0);
        l.backward();
        let g = y.grad();
        for &(c, i, j) in &[(0i64, 0i64, 0i64), (1, 9, 17), (2, 18, 35), (0, 3, 4)] {
            let h = 1e-6;
            let bump = |s: f64| {
                let z = y.detach().copy();
                let v = f64::try_from(z.get(0).get(c).get(i).get(j)).unwrap();
                let _ = z.get(0).get(c).get(i).get(j).fill_(v + s);
                f64::try_from(loss(&z)).unwrap()
            };
            let fd = (bump(h) - bump(-h)) / (2.0 * h);
            let an = f64::try_from(g.get(0).get(c).get(i).get(j)).unwrap();
            assert!(
                (fd - an).abs() < 1e-6 * (1.0 + an.abs()),
                "({c},{i},{j}) fd {fd} vs {an}"
            );
        }
        let bad = Tensor::ones([2], OPTS);
        assert!(op.loss_per_channel(&y, &x, &bad, &sy).is_err());
    }
}
