//! Horizontal-gradient loss (DESIGN.md §5.3) on lat-lon and reduced
//! Gaussian grids.
//!
//! `∂_x f = (1/(R cos φ)) ∂f/∂λ` and `∂_y f = (1/R) ∂f/∂φ` (northward), in
//! units of f per metre (R = 6371 km). Each channel's derivatives are
//! divided by their standard deviation over the training data, and the
//! loss is the area-weighted MSE of the derivative fields.
//!
//! * Lat-lon grids (`[batch, C, nlat, nlon]`): periodic centred
//!   differences in longitude (pole rows, where `cos φ = 0`, are excluded)
//!   and centred differences in latitude, one-sided (two rows) on the first
//!   and last rows.
//! * Reduced Gaussian grids (`[batch, C, npoints]`, rings of different
//!   lengths, no ring on a pole):
//!   - `∂_x`: periodic centred differences within each ring with the
//!     ring's own spacing `Δλ_j = 2π/len_j`, the scheme of the lat-lon grid.
//!     For a zonal wave `e^{imλ}` it returns exactly `sin(mΔλ_j)/(mΔλ_j)`
//!     times the derivative, a relative error `≈ (mΔλ_j)²/6`: second order
//!     at a fixed latitude, but the rings next to the poles of an
//!     octahedral grid keep their length at every resolution (20, 24, ...
//!     points), so there the error stays (1.6 % for m = 1 on the 20-point
//!     ring) while their area weight falls like `1/N²`.
//!   - `∂_y`: the second-order three-ring Lagrange derivative in latitude
//!     with the non-uniform Gaussian ring spacing (rings `j−1, j, j+1`;
//!     one-sided `j, j+1, j+2` and `j−2, j−1, j` on the first and last
//!     ring), the other rings' values taken at the point's own longitude by
//!     periodic four-point (cubic) Lagrange interpolation along the ring.
//!     Linear interpolation would not converge: its error `~Δλ²/8 · f_λλ`
//!     on the two neighbour rings does not cancel (their points lie at
//!     different longitudes) and is divided by the ring spacing, itself
//!     `~Δλ` ([`RingInterpolation::Linear`], kept for that comparison).
//!
//!   Both are precomputed gather indices and weights (one `index_select`,
//!   one multiply, one sum over 2 or 9 entries per point): cheap and
//!   differentiable.
//!
//! Measured `R · max |error|` on O16, O32, O64, O128
//! (`cargo test -p fastnet-losses measure_gaussian -- --ignored --nocapture`):
//!
//! ```text
//! field          ∂x                              ∂y (cubic)                      ∂y (linear)
//! sin φ          0 (exact)                       1.6e-3 4.0e-4 1.0e-4 2.5e-5     same (no λ dependence)
//! cos φ cos λ    1.6e-2 at every N (polar ring)  3.0e-3 7.8e-4 2.0e-4 2.1e-4     1.6e-2 1.8e-2 1.8e-2 1.9e-2
//! cos²φ sin 2λ   1.8e-2 9.3e-3 4.7e-3 2.4e-3     6.1e-3 1.6e-3 4.0e-4 1.0e-4     1.7e-2 1.0e-2 5.6e-3 2.9e-3
//! ```
//!
//! (`∂y` of `cos φ cos λ` stops falling at O128: the cubic interpolation
//! error on the short polar rings, fixed, over a ring spacing that halves.)

use fastnet_mesh::geometry::EARTH_RADIUS_KM;
use fastnet_mesh::Grid;
use tch::{Device, Kind, Tensor};

use crate::error::{check_field, unsupported_grid, LossError, Result};
use crate::weights::{area_weights, weighted_channel_mean};

/// How the neighbouring rings of a reduced grid are read at a point's
/// longitude for `∂_y`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingInterpolation {
    /// Linear between the two nearest points (first order overall).
    Linear,
    /// Four-point Lagrange (cubic) interpolation (the default; second
    /// order overall).
    Cubic,
}

/// A linear operator `out[p] = Σ_k weight[p, k] · f[index[p, k]]` over the
/// points of a reduced grid.
struct Stencil {
    width: i64,
    /// `[npoints · width]` int64.
    index: Tensor,
    /// `[npoints, width]`.
    weight: Tensor,
}

impl Stencil {
    fn new(width: usize, index: &[i64], weight: &[f64], kind: Kind, device: Device) -> Self {
        let n = (index.len() / width) as i64;
        Stencil {
            width: width as i64,
            index: Tensor::from_slice(index).to_device(device),
            weight: Tensor::from_slice(weight)
                .view([n, width as i64])
                .to_kind(kind)
                .to_device(device),
        }
    }

    /// `f` `[b, c, npoints]` → `[b, c, npoints]`.
    fn apply(&self, f: &Tensor) -> Tensor {
        let s = f.size();
        (f.index_select(-1, &self.index)
            .view([s[0], s[1], s[2], self.width])
            * &self.weight)
            .sum_dim_intlist(-1, false, None::<Kind>)
    }
}

enum Layout {
    LatLon {
        nlat: i64,
        nlon: i64,
        /// `[nlat]` `1/(R cos φ · 2Δλ)`, zero on pole rows.
        x_factor: Tensor,
        /// `[nlat]` `1/(R Δφ)` per row (centred interior, one-sided at the ends).
        y_factor: Tensor,
    },
    Reduced {
        npoints: i64,
        dx: Stencil,
        dy: Stencil,
    },
}

/// Derivative operators and weights for one grid.
pub struct GradientOperator {
    layout: Layout,
    /// Area weights for the x term: `[nlat]` with the pole rows zeroed on
    /// lat-lon grids, `[npoints]` on Gaussian grids.
    pub weights_x: Tensor,
    /// Area weights for the y term: `[nlat]` or `[npoints]`.
    pub weights_y: Tensor,
}

/// Weights of the derivative at `x` of the Lagrange polynomial through
/// `(nodes[i], f_i)`, three nodes.
fn lagrange_derivative(nodes: [f64; 3], x: f64) -> [f64; 3] {
    let mut w = [0.0; 3];
    for i in 0..3 {
        let others: Vec<usize> = (0..3).filter(|&k| k != i).collect();
        let denom: f64 = others.iter().map(|&k| nodes[i] - nodes[k]).product();
        let num: f64 = others
            .iter()
            .map(|&k| {
                others
                    .iter()
                    .filter(|&&m| m != k)
                    .map(|&m| x - nodes[m])
                    .product::<f64>()
            })
            .sum();
        w[i] = num / denom;
    }
    w
}

/// Offsets (relative to the point below, `k0`) and weights of the
/// interpolation at fraction `t ∈ [0, 1)` of a ring step past point `k0`.
fn interpolation(kind: RingInterpolation, t: f64) -> Vec<(i64, f64)> {
    match kind {
        RingInterpolation::Linear => vec![(0, 1.0 - t), (1, t)],
        RingInterpolation::Cubic => vec![
            (-1, -t * (t - 1.0) * (t - 2.0) / 6.0),
            (0, (t + 1.0) * (t - 1.0) * (t - 2.0) / 2.0),
            (1, -(t + 1.0) * t * (t - 2.0) / 2.0),
            (2, (t + 1.0) * t * (t - 1.0) / 6.0),
        ],
    }
}

impl GradientOperator {
    /// The operator of `grid` (lat-lon or Gaussian) in `kind` on `device`;
    /// Gaussian grids interpolate neighbouring rings cubically.
    pub fn new(grid: &Grid, kind: Kind, device: Device) -> Result<Self> {
        Self::with_interpolation(grid, RingInterpolation::Cubic, kind, device)
    }

    /// [`GradientOperator::new`] with the ring interpolation of `∂_y` on
    /// Gaussian grids chosen (lat-lon grids do not interpolate).
    pub fn with_interpolation(
        grid: &Grid,
        interpolation: RingInterpolation,
        kind: Kind,
        device: Device,
    ) -> Result<Self> {
        match grid {
            Grid::Equiangular { .. } => Self::lat_lon(grid, kind, device),
            Grid::Gaussian { .. } => Self::reduced(grid, interpolation, kind, device),
            _ => Err(unsupported_grid(grid, "the gradient loss")),
        }
    }

    fn lat_lon(grid: &Grid, kind: Kind, device: Device) -> Result<Self> {
        let Grid::Equiangular { nlat, nlon, .. } = *grid else {
            return Err(unsupported_grid(grid, "the gradient loss"));
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
            layout: Layout::LatLon {
                nlat: nlat as i64,
                nlon: nlon as i64,
                x_factor: t(&xf),
                y_factor: t(&yf),
            },
            weights_x,
            weights_y: w,
        })
    }

    fn reduced(
        grid: &Grid,
        interpolation_kind: RingInterpolation,
        kind: Kind,
        device: Device,
    ) -> Result<Self> {
        let rings = grid
            .rings()
            .ok_or_else(|| unsupported_grid(grid, "the gradient loss"))?;
        let nrings = rings.lengths.len();
        if nrings < 3 || rings.lengths.iter().any(|&l| l < 3) {
            return Err(LossError::Config {
                field: "grid".into(),
                value: grid.describe(),
                expected: "at least 3 rings of at least 3 points for finite differences".into(),
            });
        }
        let r = EARTH_RADIUS_KM * 1e3;
        let two_pi = 2.0 * std::f64::consts::PI;
        let lat: Vec<f64> = rings.lat_deg.iter().map(|d| d.to_radians()).collect();
        let npoints = rings.offsets[nrings];
        // ∂x: (f[k+1] − f[k−1]) / (2 Δλ_j R cos φ_j) within each ring
        let mut x_index = Vec::with_capacity(2 * npoints);
        let mut x_weight = Vec::with_capacity(2 * npoints);
        for ((&o, &len), &phi) in rings.offsets.iter().zip(&rings.lengths).zip(&lat) {
            let f = 1.0 / (r * phi.cos() * 2.0 * two_pi / len as f64);
            for k in 0..len {
                x_index.push((o + (k + 1) % len) as i64);
                x_index.push((o + (k + len - 1) % len) as i64);
                x_weight.extend([f, -f]);
            }
        }
        // ∂y: Lagrange derivative through three rings, the other rings
        // interpolated to the point's longitude
        let q = interpolation(interpolation_kind, 0.0).len();
        let width = 1 + 2 * q;
        let mut y_index = Vec::with_capacity(width * npoints);
        let mut y_weight = Vec::with_capacity(width * npoints);
        for j in 0..nrings {
            let nodes: [usize; 3] = if j == 0 {
                [0, 1, 2]
            } else if j == nrings - 1 {
                [j - 2, j - 1, j]
            } else {
                [j - 1, j, j + 1]
            };
            let d = lagrange_derivative(nodes.map(|n| lat[n]), lat[j]);
            let len = rings.lengths[j];
            for k in 0..len {
                for (&node, &dw) in nodes.iter().zip(&d) {
                    if node == j {
                        y_index.push((rings.offsets[j] + k) as i64);
                        y_weight.push(dw / r);
                        continue;
                    }
                    // longitude 2πk/len on a ring of len_n points: exact
                    // position k·len_n/len in units of its spacing
                    let len_n = rings.lengths[node];
                    let (k0, rem) = ((k * len_n) / len, (k * len_n) % len);
                    let t = rem as f64 / len as f64;
                    for (off, iw) in interpolation(interpolation_kind, t) {
                        let kk = (k0 as i64 + off).rem_euclid(len_n as i64) as usize;
                        y_index.push((rings.offsets[node] + kk) as i64);
                        y_weight.push(dw * iw / r);
                    }
                }
            }
        }
        let w = area_weights(grid, kind, device)?;
        Ok(GradientOperator {
            layout: Layout::Reduced {
                npoints: npoints as i64,
                dx: Stencil::new(2, &x_index, &x_weight, kind, device),
                dy: Stencil::new(width, &y_index, &y_weight, kind, device),
            },
            weights_x: w.shallow_clone(),
            weights_y: w,
        })
    }

    /// The field shape after `[batch, C]`: `[nlat, nlon]` or `[npoints]`.
    pub fn field_shape(&self) -> Vec<i64> {
        match &self.layout {
            Layout::LatLon { nlat, nlon, .. } => vec![*nlat, *nlon],
            Layout::Reduced { npoints, .. } => vec![*npoints],
        }
    }

    /// `∂_x f` in units of f per metre, of `f` `[b, c, nlat, nlon]` (zero on
    /// pole rows) or `[b, c, npoints]`; same shape as `f`.
    pub fn dx(&self, f: &Tensor) -> Result<Tensor> {
        check_field("field for ∂x", f, None, &self.field_shape())?;
        Ok(match &self.layout {
            Layout::LatLon { nlat, x_factor, .. } => {
                let d = f.roll([-1i64].as_slice(), [3i64].as_slice())
                    - f.roll([1i64].as_slice(), [3i64].as_slice());
                d * x_factor.view([1, 1, *nlat, 1])
            }
            Layout::Reduced { dx, .. } => dx.apply(f),
        })
    }

    /// `∂_y f` (northward) in units of f per metre, of `f`
    /// `[b, c, nlat, nlon]` or `[b, c, npoints]`; same shape as `f`.
    pub fn dy(&self, f: &Tensor) -> Result<Tensor> {
        check_field("field for ∂y", f, None, &self.field_shape())?;
        Ok(match &self.layout {
            Layout::LatLon { nlat, y_factor, .. } => {
                let n = *nlat;
                let first = f.narrow(2, 0, 1) - f.narrow(2, 1, 1);
                let last = f.narrow(2, n - 2, 1) - f.narrow(2, n - 1, 1);
                let mut parts = vec![first];
                if n > 2 {
                    parts.push(f.narrow(2, 0, n - 2) - f.narrow(2, 2, n - 2));
                }
                parts.push(last);
                Tensor::cat(&parts, 2) * y_factor.view([1, 1, n, 1])
            }
            Layout::Reduced { dy, .. } => dy.apply(f),
        })
    }

    /// Area-weighted standard deviations of `∂_x` and `∂_y` per channel
    /// (`[C]` each) over a batch of training fields `[N, C, *grid]` — the
    /// normalisers of [`GradientOperator::loss_per_channel`].
    pub fn derivative_std(&self, f: &Tensor) -> Result<(Tensor, Tensor)> {
        let std = |d: Tensor, w: &Tensor| {
            let m = weighted_channel_mean(&d, w);
            let v = weighted_channel_mean(&d.square(), w) - m.square();
            v.clamp_min(0.0).sqrt()
        };
        Ok((
            std(self.dx(f)?, &self.weights_x),
            std(self.dy(f)?, &self.weights_y),
        ))
    }

    /// Per-channel `(L_x, L_y)`, `[C]` each: the area-weighted MSE of the
    /// derivative fields of `pred` and `target` (`[b, C, *grid]`) divided
    /// by `std_x`, `std_y` (`[C]`). The operators are linear, so they are
    /// applied once, to `pred − target`.
    pub fn loss_per_channel(
        &self,
        pred: &Tensor,
        target: &Tensor,
        std_x: &Tensor,
        std_y: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let shape = self.field_shape();
        check_field("target", target, None, &shape)?;
        let c = target.size()[1];
        if pred.size() != target.size() {
            return Err(LossError::Shape {
                what: "prediction".into(),
                got: pred.size(),
                expected: format!("{:?} (the shape of the target)", target.size()),
            });
        }
        for (name, s) in [("gradient std x", std_x), ("gradient std y", std_y)] {
            if s.size() != [c] {
                return Err(LossError::Shape {
                    what: name.into(),
                    got: s.size(),
                    expected: format!("[{c}] (one per channel)"),
                });
            }
        }
        let mut per_channel = vec![1i64; 2 + shape.len()];
        per_channel[1] = c;
        let sx = std_x.view(per_channel.as_slice());
        let sy = std_y.view(per_channel.as_slice());
        let d = pred - target;
        let ex = (self.dx(&d)? / &sx).square();
        let ey = (self.dy(&d)? / &sy).square();
        Ok((
            weighted_channel_mean(&ex, &self.weights_x),
            weighted_channel_mean(&ey, &self.weights_y),
        ))
    }
}

#[cfg(test)]
mod tests;
