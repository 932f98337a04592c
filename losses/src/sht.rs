//! A differentiable spherical-harmonic transform on tch tensors, built from
//! the eval crate's Legendre tables so the two transforms agree, on
//! lat-lon grids and on reduced (octahedral or regular) Gaussian grids.
//!
//! `c_lm = Σ_j w_j P̂_l^m(cos θ_j) G_m(θ_j)`, `G_m = (2π/len_j) rfft(f_j)_m`
//! with `f_j` the field on ring `j` (`len_j` points from longitude 0): an
//! rfft along each ring and one contraction with the table
//! `T[m, l, j] = w_j P̂_l^m(cos θ_j)` (zero for `l < m`). Same convention as
//! [`fastnet_eval::sht`]: `P_l = |c_l0|² + 2 Σ_{m>0} |c_lm|²`.
//!
//! * Lat-lon grids (`[batch, C, nlat, nlon]`): one rfft over the last axis.
//! * Reduced Gaussian grids (`[batch, C, npoints]`, ring by ring north to
//!   south, [`fastnet_eval::reduced_sht`]): rings of equal length — on an
//!   octahedral grid each length occurs twice, north and south — are
//!   gathered with one `index_select` into `[batch, C, rings, len]` and
//!   transformed by one batched rfft, so O96 costs 96 rffts rather than
//!   192. Ring `j` keeps the orders `m <= max_order(j)` of the eval
//!   transform and the rest are zero; those zeros and the scale `2π/len_j`
//!   are folded into the table, whose ring axis is in the order of the
//!   groups, so the contraction is the same single einsum as on lat-lon
//!   grids. (anemoi-core's `OctahedralSHT` / `SphericalHarmonicTransform`
//!   does the same per-ring FFT and Legendre contraction.)

use fastnet_eval::reduced_sht::ReducedSht;
use fastnet_eval::sht::{tri_index, Sht};
use fastnet_mesh::Grid;
use tch::{Device, Kind, Tensor};

use crate::error::{check_field, Result};

/// Spherical-harmonic coefficients as two real tensors `[batch, channels,
/// L, M]` (`L = M = lmax + 1`; entries with `l < m` are zero).
pub struct SphericalCoefficients {
    pub re: Tensor,
    pub im: Tensor,
}

/// Rings of one length on a reduced grid, transformed together.
struct RingGroup {
    /// Points per ring.
    len: i64,
    /// Number of rings in the group.
    rings: i64,
    /// `[rings · len]` int64 point indices, ring after ring.
    index: Tensor,
    /// Fourier columns kept, `min(len/2, highest order of the group) + 1`.
    keep: i64,
}

enum Layout {
    /// `[batch, C, nlat, nlon]`; table ring axis in ring order.
    LatLon { nlat: i64, nlon: i64 },
    /// `[batch, C, npoints]`; table ring axis in the order of `groups`.
    Reduced {
        npoints: i64,
        groups: Vec<RingGroup>,
    },
}

/// The transform for one grid, on one device, in one float kind.
pub struct TorchSht {
    layout: Layout,
    lmax: i64,
    /// `[M, L, rings]` quadrature-weighted Legendre table (reduced grids:
    /// times `2π/len_j`, zero for `m > max_order(j)`).
    table: Tensor,
    /// `[M]`: 1 for m = 0, 2 otherwise (power-spectrum multiplicity).
    m_factor: Tensor,
}

fn m_factor(n: usize, kind: Kind, device: Device) -> Tensor {
    let mf: Vec<f64> = (0..n).map(|m| if m == 0 { 1.0 } else { 2.0 }).collect();
    Tensor::from_slice(&mf).to_kind(kind).to_device(device)
}

impl TorchSht {
    /// Builds the tensor table from an eval-crate lat-lon transform.
    pub fn new(sht: &Sht, kind: Kind, device: Device) -> Self {
        let [nlat, nlon] = sht.shape();
        let lmax = sht.lmax();
        let n = lmax + 1;
        let w = &sht.quadrature().weights;
        let mut t = vec![0.0f64; n * n * nlat];
        for m in 0..=lmax {
            for l in m..=lmax {
                let _ = tri_index(lmax, l, m);
                for j in 0..nlat {
                    t[(m * n + l) * nlat + j] = w[j] * sht.legendre(l, m, j);
                }
            }
        }
        let table = Tensor::from_slice(&t)
            .view([n as i64, n as i64, nlat as i64])
            .to_kind(kind)
            .to_device(device);
        TorchSht {
            layout: Layout::LatLon {
                nlat: nlat as i64,
                nlon: nlon as i64,
            },
            lmax: lmax as i64,
            table,
            m_factor: m_factor(n, kind, device),
        }
    }

    /// Builds the transform of a reduced Gaussian grid from the eval
    /// crate's [`ReducedSht`]: its rings, Gauss–Legendre weights, Legendre
    /// values and per-ring highest order.
    pub fn reduced(sht: &ReducedSht, kind: Kind, device: Device) -> Self {
        let rings = sht.rings();
        let lmax = sht.lmax();
        let n = lmax + 1;
        let nrings = rings.lengths.len();
        let w = sht.weights();
        // groups of equal length, in order of first appearance (north first)
        let mut by_len: Vec<(usize, Vec<usize>)> = Vec::new();
        for (r, &len) in rings.lengths.iter().enumerate() {
            match by_len.iter_mut().find(|g| g.0 == len) {
                Some(g) => g.1.push(r),
                None => by_len.push((len, vec![r])),
            }
        }
        let mut t = vec![0.0f64; n * n * nrings];
        let mut groups = Vec::with_capacity(by_len.len());
        let mut pos = 0;
        for (len, members) in &by_len {
            let mut index = Vec::with_capacity(members.len() * len);
            let mut highest = 0;
            for &r in members {
                index.extend((rings.offsets[r]..rings.offsets[r] + len).map(|p| p as i64));
                let top = sht.max_order(r).min(lmax);
                highest = highest.max(top);
                let scale = 2.0 * std::f64::consts::PI / *len as f64;
                for m in 0..=top {
                    for l in m..=lmax {
                        t[(m * n + l) * nrings + pos] = w[r] * sht.legendre(l, m, r) * scale;
                    }
                }
                pos += 1;
            }
            groups.push(RingGroup {
                len: *len as i64,
                rings: members.len() as i64,
                index: Tensor::from_slice(&index).to_device(device),
                keep: (len / 2).min(highest) as i64 + 1,
            });
        }
        let table = Tensor::from_slice(&t)
            .view([n as i64, n as i64, nrings as i64])
            .to_kind(kind)
            .to_device(device);
        TorchSht {
            layout: Layout::Reduced {
                npoints: rings.offsets[nrings] as i64,
                groups,
            },
            lmax: lmax as i64,
            table,
            m_factor: m_factor(n, kind, device),
        }
    }

    /// The transform of `grid` truncated at `lmax` (default: the eval
    /// crate's default for the grid): [`TorchSht::reduced`] for Gaussian
    /// grids, [`TorchSht::new`] for lat-lon grids. Point grids are an
    /// error naming the grid.
    pub fn for_grid(grid: &Grid, lmax: Option<usize>, kind: Kind, device: Device) -> Result<Self> {
        match grid {
            Grid::Gaussian { .. } => Ok(TorchSht::reduced(
                &*ReducedSht::shared(grid, lmax)?,
                kind,
                device,
            )),
            Grid::Equiangular { .. } => {
                Ok(TorchSht::new(&*Sht::for_grid(grid, lmax)?, kind, device))
            }
            _ => Err(crate::error::unsupported_grid(
                grid,
                "the spherical-harmonic transform",
            )),
        }
    }

    pub fn lmax(&self) -> i64 {
        self.lmax
    }

    /// The field shape the transform takes after `[batch, C]`:
    /// `[nlat, nlon]` or `[npoints]`.
    pub fn field_shape(&self) -> Vec<i64> {
        match &self.layout {
            Layout::LatLon { nlat, nlon } => vec![*nlat, *nlon],
            Layout::Reduced { npoints, .. } => vec![*npoints],
        }
    }

    /// Forward transform of `x`: `[batch, channels, nlat, nlon]` on a
    /// lat-lon grid, `[batch, channels, npoints]` on a reduced grid.
    pub fn forward(&self, x: &Tensor) -> Result<SphericalCoefficients> {
        check_field(
            "field for the spherical-harmonic transform",
            x,
            None,
            &self.field_shape(),
        )?;
        let n = self.lmax + 1;
        let ri = match &self.layout {
            Layout::LatLon { nlon, .. } => {
                let scale = 2.0 * std::f64::consts::PI / *nlon as f64;
                let spec = x.fft_rfft(None, -1, "backward").narrow(-1, 0, n);
                spec.view_as_real() * scale // [b, c, j, m, 2]
            }
            Layout::Reduced { groups, .. } => {
                let s = x.size();
                let parts: Vec<Tensor> = groups
                    .iter()
                    .map(|g| {
                        x.index_select(-1, &g.index)
                            .view([s[0], s[1], g.rings, g.len])
                            .fft_rfft(None, -1, "backward")
                            .narrow(-1, 0, g.keep)
                            .view_as_real()
                            .constant_pad_nd([0, 0, 0, n - g.keep])
                    })
                    .collect();
                Tensor::cat(&parts, 2) // [b, c, j (group order), m, 2]
            }
        };
        let re = Tensor::einsum(
            "mlj,bcjm->bclm",
            &[&self.table, &ri.select(-1, 0)],
            None::<i64>,
        );
        let im = Tensor::einsum(
            "mlj,bcjm->bclm",
            &[&self.table, &ri.select(-1, 1)],
            None::<i64>,
        );
        Ok(SphericalCoefficients { re, im })
    }

    /// Power per total wavenumber `[batch, channels, L]`.
    pub fn power(&self, c: &SphericalCoefficients) -> Tensor {
        ((&c.re * &c.re + &c.im * &c.im) * &self.m_factor).sum_dim_intlist(-1, false, None::<Kind>)
    }

    /// Cross spectrum `X_l = Σ_m factor_m Re(â_lm conj(a_lm))`, `[b, c, L]`.
    pub fn cross(&self, a: &SphericalCoefficients, b: &SphericalCoefficients) -> Tensor {
        ((&a.re * &b.re + &a.im * &b.im) * &self.m_factor).sum_dim_intlist(-1, false, None::<Kind>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastnet_eval::QuadratureKind;
    use ndarray::Array2;

    #[test]
    fn matches_the_eval_transform_to_1e5_in_f32() {
        let sht = Sht::new(QuadratureKind::ClenshawCurtis, 33, 64, None).unwrap();
        let ts = TorchSht::new(&sht, Kind::Float, Device::Cpu);
        let f = Array2::from_shape_fn((33, 64), |(i, j)| {
            ((i * 7 + j * 3) as f64 * 0.37).sin() + 0.01 * (i * j) as f64
        });
        let want = sht.forward(f.view()).unwrap();
        let x = Tensor::from_slice(f.as_slice().unwrap())
            .view([1, 1, 33, 64])
            .to_kind(Kind::Float);
        let c = ts.forward(&x).unwrap();
        let (re, im): (Vec<f32>, Vec<f32>) = (
            Vec::try_from(c.re.flatten(0, -1)).unwrap(),
            Vec::try_from(c.im.flatten(0, -1)).unwrap(),
        );
        let n = sht.lmax() + 1;
        let scale = want.data.iter().map(|z| z.norm()).fold(0.0, f64::max);
        for m in 0..n {
            for l in m..n {
                let w = want.get(l, m);
                let (gr, gi) = (re[l * n + m] as f64, im[l * n + m] as f64);
                assert!(
                    (gr - w.re).abs() < 1e-5 * scale && (gi - w.im).abs() < 1e-5 * scale,
                    "c_{l}{m}: ({gr}, {gi}) vs {w}"
                );
            }
        }
        // and the power spectrum
        let p: Vec<f32> = Vec::try_from(ts.power(&c).flatten(0, -1)).unwrap();
        for (a, b) in p.iter().zip(want.power_spectrum()) {
            assert!((*a as f64 - b).abs() < 1e-5 * scale * scale);
        }
    }

    #[test]
    fn wrong_shapes_are_refused() {
        let sht = Sht::new(QuadratureKind::ClenshawCurtis, 9, 16, None).unwrap();
        let ts = TorchSht::new(&sht, Kind::Float, Device::Cpu);
        let e = ts
            .forward(&Tensor::zeros([2, 9, 16], (Kind::Float, Device::Cpu)))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("[2, 9, 16]") && e.contains("[batch, channels, 9, 16]"),
            "{e}"
        );
    }

    /// A deterministic non-band-limited field on a Gaussian grid, `[npoints]`.
    fn ring_field(grid: &Grid) -> Vec<f64> {
        let rings = grid.rings().unwrap();
        let mut f = Vec::new();
        for (j, &len) in rings.lengths.iter().enumerate() {
            for k in 0..len {
                let lon = 2.0 * std::f64::consts::PI * k as f64 / len as f64;
                f.push(
                    ((j * 7 + k * 3) as f64 * 0.37).sin()
                        + 0.3 * (lon * 2.0).cos()
                        + 0.01 * j as f64,
                );
            }
        }
        f
    }

    /// Largest coefficient difference between the torch transform (batch 0,
    /// channel `c`) and the eval crate's, relative to the largest |c_lm|;
    /// and the same for the power spectrum.
    fn compare(ts: &TorchSht, x: &Tensor, c: i64, want: &fastnet_eval::Coefficients) -> (f64, f64) {
        let out = ts.forward(x).unwrap();
        let take = |t: &Tensor| -> Vec<f64> {
            Vec::try_from(t.get(0).get(c).flatten(0, -1).to_kind(Kind::Double)).unwrap()
        };
        let (re, im) = (take(&out.re), take(&out.im));
        let n = want.lmax + 1;
        let scale = want.data.iter().map(|z| z.norm()).fold(0.0, f64::max);
        let mut worst: f64 = 0.0;
        for m in 0..n {
            for l in 0..n {
                let w = if l >= m {
                    want.get(l, m)
                } else {
                    num_complex::Complex64::new(0.0, 0.0)
                };
                worst = worst
                    .max((re[l * n + m] - w.re).abs())
                    .max((im[l * n + m] - w.im).abs());
            }
        }
        let p: Vec<f64> =
            Vec::try_from(ts.power(&out).get(0).get(c).to_kind(Kind::Double)).unwrap();
        let pw = want.power_spectrum();
        let pmax = pw.iter().cloned().fold(0.0, f64::max);
        let pworst = p
            .iter()
            .zip(&pw)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        (worst / scale, pworst / pmax)
    }

    #[test]
    fn reduced_transform_matches_the_eval_transform_on_o16() {
        let grid = Grid::octahedral(16).unwrap();
        let rs = ReducedSht::shared(&grid, None).unwrap();
        let f = ring_field(&grid);
        let want = rs.forward(&f).unwrap();
        let np = grid.len() as i64;
        // channel 1 holds the field, channel 0 a different one: channels
        // must not mix
        let x = Tensor::cat(
            &[
                Tensor::from_slice(&f).view([1, 1, np]) * -0.5 + 1.0,
                Tensor::from_slice(&f).view([1, 1, np]),
            ],
            1,
        );
        let t64 = TorchSht::reduced(&rs, Kind::Double, Device::Cpu);
        assert_eq!(t64.field_shape(), vec![np]);
        // 16 ring lengths (20, 24, ..., 80), each north and south
        match &t64.layout {
            Layout::Reduced { groups, .. } => {
                assert_eq!(groups.len(), 16);
                assert!(groups.iter().all(|g| g.rings == 2));
            }
            Layout::LatLon { .. } => panic!("lat-lon layout for a Gaussian grid"),
        }
        let (c64, p64) = compare(&t64, &x, 1, &want);
        let t32 = TorchSht::reduced(&rs, Kind::Float, Device::Cpu);
        let (c32, p32) = compare(&t32, &x.to_kind(Kind::Float), 1, &want);
        eprintln!(
            "O16 torch vs eval: f64 {c64:.2e} (power {p64:.2e}), f32 {c32:.2e} (power {p32:.2e})"
        );
        assert!(c64 < 1e-12 && p64 < 1e-12, "f64: {c64} {p64}");
        assert!(c32 < 1e-5 && p32 < 1e-5, "f32: {c32} {p32}");
        // the channel-0 field transforms as -0.5 f + 1 (linearity)
        let mut want0 = want.clone();
        for z in want0.data.iter_mut() {
            *z *= -0.5;
        }
        let c00 =
            want0.get(0, 0) + num_complex::Complex64::new((4.0 * std::f64::consts::PI).sqrt(), 0.0);
        want0.set(0, 0, c00);
        let (c0, _) = compare(&t64, &x, 0, &want0);
        assert!(c0 < 1e-12, "channel 0: {c0}");
    }

    #[test]
    fn regular_gaussian_grid_groups_all_rings_into_one_fft() {
        let grid = Grid::regular_gaussian(6).unwrap();
        let rs = ReducedSht::shared(&grid, None).unwrap();
        let ts = TorchSht::for_grid(&grid, None, Kind::Double, Device::Cpu).unwrap();
        match &ts.layout {
            Layout::Reduced { groups, .. } => {
                assert_eq!(groups.len(), 1);
                assert_eq!((groups[0].rings, groups[0].len), (12, 24));
            }
            Layout::LatLon { .. } => panic!("lat-lon layout for a Gaussian grid"),
        }
        let f = ring_field(&grid);
        let x = Tensor::from_slice(&f).view([1, 1, grid.len() as i64]);
        let (c, p) = compare(&ts, &x, 0, &rs.forward(&f).unwrap());
        assert!(c < 1e-12 && p < 1e-12, "{c} {p}");
    }

    #[test]
    fn reduced_transform_gradients_equal_finite_differences_on_o4() {
        let grid = Grid::octahedral(4).unwrap();
        let ts = TorchSht::for_grid(&grid, None, Kind::Double, Device::Cpu).unwrap();
        let np = grid.len() as i64;
        let f = ring_field(&grid);
        let x = Tensor::from_slice(&f)
            .view([1, 1, np])
            .set_requires_grad(true);
        // a loss that weighs every coefficient differently
        let wts = Tensor::arange(ts.lmax() + 1, (Kind::Double, Device::Cpu)) * 0.3 + 1.0;
        let loss = |x: &Tensor| {
            let c = ts.forward(x).unwrap();
            let p = ts.power(&c);
            (&p * &wts).sum(Kind::Double) + (c.re * 0.7 + c.im * 1.3).sum(Kind::Double)
        };
        let l = loss(&x);
        l.backward();
        let g = x.grad();
        let finite = f64::try_from(g.isfinite().all()).unwrap();
        assert_eq!(finite, 1.0);
        let h = 1e-6;
        let mut checked = 0;
        for p in [0i64, 5, 19, 20, 47, 60, np / 2, np - 21, np - 1] {
            let bump = |s: f64| {
                let z = x.detach().copy();
                let v = f64::try_from(z.get(0).get(0).get(p)).unwrap();
                let _ = z.get(0).get(0).get(p).fill_(v + s);
                f64::try_from(loss(&z)).unwrap()
            };
            let fd = (bump(h) - bump(-h)) / (2.0 * h);
            let an = f64::try_from(g.get(0).get(0).get(p)).unwrap();
            assert!(
                (fd - an).abs() < 1e-7 * (1.0 + an.abs()),
                "point {p}: fd {fd} vs autograd {an}"
            );
            checked += 1;
        }
        assert_eq!(checked, 9);
    }

    #[test]
    fn reduced_transform_refuses_lat_lon_fields_and_point_grids() {
        let grid = Grid::octahedral(4).unwrap();
        let ts = TorchSht::for_grid(&grid, None, Kind::Float, Device::Cpu).unwrap();
        let e = ts
            .forward(&Tensor::zeros([1, 2, 8, 20], (Kind::Float, Device::Cpu)))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("[1, 2, 8, 20]") && e.contains("[batch, channels, 208]"),
            "{e}"
        );
        let points = Grid::points(&[(0.0, 0.0), (10.0, 20.0)]).unwrap();
        let e = TorchSht::for_grid(&points, None, Kind::Float, Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("2 points") && e.contains("Gaussian"), "{e}");
    }
}
