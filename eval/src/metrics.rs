//! WeatherBench2 deterministic metrics with cell-area weights on any grid
//! (lat-lon, Gaussian, point lists): RMSE (both
//! of WeatherBench2's time-averaging conventions), bias, MAE, uncentred ACC,
//! and wind-vector scores, accumulated one (init time, lead time) field at a
//! time so a year of forecasts never has to sit in memory.
//!
//! Per field: `MSE = Σ w (x̂ − x)² / Σ w` with `w` the cell-area weight of
//! each point (computed in f64, [`fastnet_mesh::Grid::area_weights`]); over
//! init times: `rmse = sqrt(mean MSE)` (WeatherBench2's recommended form),
//! `rmse_sqrt_before_time_avg = mean sqrt(MSE)` (its older default); bias and
//! MAE are init-time means of the per-field area means; ACC is the init-time
//! mean of `Σ w f′ t′ / sqrt(Σ w f′² Σ w t′²)` with anomalies against the
//! climatology at the valid time (uncentred). These are weatherbench2's
//! `metrics.py` definitions (`MSE` then sqrt, `RMSESqrtBeforeTimeAvg`,
//! `Bias`, `MAE`, `ACC`, `WindVectorMSE`), with its `get_lat_weights` cell
//! areas on lat-lon grids. A region ([`crate::regions`]) zeroes the weights
//! outside it ([`AreaWeights::masked`]); zero-weight points are left out
//! entirely, NaN there included.

use fastnet_mesh::Grid;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};

/// Area weights of a grid, one per point (any grid kind: lat-lon, Gaussian,
/// point lists). Fields are flat `[npoints]` slices in the grid's point
/// order (lat-lon: latitude-major, `[nlat * nlon]`).
#[derive(Clone, Debug)]
pub struct AreaWeights {
    /// `[npoints]`
    point: Vec<f64>,
    /// Σ point weights.
    total: f64,
    /// The grid's field shape, to report positions (`[nlat, nlon]` or
    /// `[npoints]`).
    shape: Vec<usize>,
}

/// Points per block of the parallel weighted sums (fixed, so results do not
/// depend on the thread count).
const BLOCK: usize = 4096;

impl AreaWeights {
    /// `point_weights` — `[npoints]`, finite, non-negative, not all zero (any
    /// scale); `shape` — the field shape positions are reported in (its
    /// product must be `npoints`).
    pub fn new(point_weights: Vec<f64>, shape: Vec<usize>) -> Result<Self> {
        if shape.iter().product::<usize>() != point_weights.len() {
            return Err(EvalError::ShapeMismatch {
                what: "area weights".into(),
                got: vec![point_weights.len()],
                expected: shape,
            });
        }
        if let Some(i) = point_weights
            .iter()
            .position(|w| !(w.is_finite() && *w >= 0.0))
        {
            return Err(EvalError::Invalid(format!(
                "area weight {i} is {}; weights must be finite and non-negative",
                point_weights[i]
            )));
        }
        let total = block_sums(&point_weights, |_, w| w).iter().sum::<f64>();
        if total <= 0.0 {
            return Err(EvalError::Invalid("area weights sum to zero".into()));
        }
        Ok(AreaWeights {
            point: point_weights,
            total,
            shape,
        })
    }

    /// Weights of an `[nlat, nlon]` grid from one weight per ring:
    /// `ring_weights` — `[nlat]` (finite, non-negative, any scale).
    pub fn from_rings(ring_weights: &[f64], nlon: usize) -> Result<Self> {
        let point = ring_weights
            .iter()
            .flat_map(|&w| std::iter::repeat_n(w, nlon))
            .collect();
        AreaWeights::new(point, vec![ring_weights.len(), nlon])
    }

    /// The cell-area weights of any grid, [`Grid::area_weights`] (computed
    /// in f64, mean 1): lat-lon rings, Gaussian quadrature weight over ring
    /// length, equal weights for point lists.
    pub fn for_grid(grid: &Grid) -> Self {
        let point = grid.area_weights();
        let total = block_sums(&point, |_, w| w).iter().sum::<f64>();
        AreaWeights {
            point,
            total,
            shape: grid.shape(),
        }
    }

    /// These weights kept where `mask` is true and zero elsewhere (a region,
    /// or the points a regional truth covers): `mask` — `[npoints]`. Points
    /// of zero weight are left out of every score, non-finite values there
    /// included (WeatherBench2's `dataset.where(weights > 0, 0)`). Errors when
    /// no weight is left.
    pub fn masked(&self, mask: &[bool]) -> Result<Self> {
        if mask.len() != self.point.len() {
            return Err(EvalError::ShapeMismatch {
                what: "region mask".into(),
                got: vec![mask.len()],
                expected: vec![self.point.len()],
            });
        }
        let point = self
            .point
            .iter()
            .zip(mask)
            .map(|(&w, &m)| if m { w } else { 0.0 })
            .collect();
        AreaWeights::new(point, self.shape.clone())
    }

    /// Number of points, the length of every field scored with these weights.
    pub fn len(&self) -> usize {
        self.point.len()
    }

    pub fn is_empty(&self) -> bool {
        self.point.is_empty()
    }

    /// The grid's field shape (`[nlat, nlon]` or `[npoints]`).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// `[npoints]` the weights.
    pub fn weights(&self) -> &[f64] {
        &self.point
    }

    fn check<T: Copy + Into<f64>>(&self, what: &str, a: &[T]) -> Result<()> {
        if a.len() != self.point.len() {
            return Err(EvalError::ShapeMismatch {
                what: format!("{what} ({} values per field)", a.len()),
                got: vec![a.len()],
                expected: vec![self.point.len()],
            });
        }
        let mut count = 0;
        let mut first = None;
        for (i, &v) in a.iter().enumerate() {
            if !v.into().is_finite() && self.point[i] > 0.0 {
                count += 1;
                first.get_or_insert(i);
            }
        }
        match first {
            None => Ok(()),
            Some(i) => Err(EvalError::NonFinite {
                what: what.into(),
                count,
                first: self.position(i),
            }),
        }
    }

    /// Point index `i` as a position in the grid's shape.
    fn position(&self, mut i: usize) -> Vec<usize> {
        let mut pos = vec![0; self.shape.len()];
        for (p, &n) in pos.iter_mut().zip(&self.shape).rev() {
            *p = i % n.max(1);
            i /= n.max(1);
        }
        pos
    }

    /// Area-weighted mean of `f(point)` over the grid: `Σ w f / Σ w`
    /// (points of zero weight are not evaluated).
    fn mean(&self, f: impl Fn(usize) -> f64 + Sync) -> f64 {
        block_sums(&self.point, |i, w| if w > 0.0 { w * f(i) } else { 0.0 })
            .iter()
            .sum::<f64>()
            / self.total
    }
}

/// `Σ g(i, w_i)` over each block of [`BLOCK`] points, in order.
fn block_sums(w: &[f64], g: impl Fn(usize, f64) -> f64 + Sync) -> Vec<f64> {
    w.par_chunks(BLOCK)
        .enumerate()
        .map(|(b, ws)| {
            ws.iter()
                .enumerate()
                .map(|(k, &wi)| g(b * BLOCK + k, wi))
                .sum()
        })
        .collect()
}

/// Scores of one forecast field against its truth.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FieldScores {
    pub mse: f64,
    pub bias: f64,
    pub mae: f64,
    /// Uncentred anomaly correlation; present when a climatology was given.
    pub acc: Option<f64>,
}

/// Scores one field: `MSE = Σ w (x̂ − x)² / Σ w`, bias and MAE the weighted
/// means of `x̂ − x` and `|x̂ − x|`, and with a climatology `c` the uncentred
/// ACC `Σ w f′ t′ / sqrt(Σ w f′² Σ w t′²)`, `f′ = x̂ − c`, `t′ = x − c`
/// (WeatherBench2). `forecast`, `truth`, `climatology` — `[npoints]` in the
/// grid's point order, units of the variable. Non-finite values are an
/// error naming their count and first position.
pub fn score_field<T: Copy + Into<f64> + Sync>(
    weights: &AreaWeights,
    forecast: &[T],
    truth: &[T],
    climatology: Option<&[T]>,
) -> Result<FieldScores> {
    weights.check("forecast", forecast)?;
    weights.check("truth", truth)?;
    let d = |i: usize| forecast[i].into() - truth[i].into();
    let mse = weights.mean(|i| d(i).powi(2));
    let bias = weights.mean(d);
    let mae = weights.mean(|i| d(i).abs());
    let acc = match climatology {
        None => None,
        Some(c) => {
            weights.check("climatology", c)?;
            let fa = |i: usize| forecast[i].into() - c[i].into();
            let ta = |i: usize| truth[i].into() - c[i].into();
            let num = weights.mean(|i| fa(i) * ta(i));
            let den = (weights.mean(|i| fa(i).powi(2)) * weights.mean(|i| ta(i).powi(2))).sqrt();
            Some(num / den)
        }
    };
    Ok(FieldScores {
        mse,
        bias,
        mae,
        acc,
    })
}

/// Scores of one (u, v) forecast against its truth.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct WindScores {
    /// `mean w ((û − u)² + (v̂ − v)²)`
    pub vector_mse: f64,
    /// `mean w (ŝ − s)²`, `s = sqrt(u² + v²)`
    pub speed_mse: f64,
    pub speed_bias: f64,
    /// Speed-weighted mean absolute direction error in degrees:
    /// `Σ w s |Δθ| / Σ w s`, `Δθ` wrapped into [0, 180].
    pub direction_error_deg: f64,
}

/// Scores one wind-vector field pair. All four slices `[npoints]` in the
/// grid's point order, m s⁻¹.
pub fn score_wind<T: Copy + Into<f64> + Sync>(
    weights: &AreaWeights,
    u_forecast: &[T],
    v_forecast: &[T],
    u_truth: &[T],
    v_truth: &[T],
) -> Result<WindScores> {
    weights.check("u forecast", u_forecast)?;
    weights.check("v forecast", v_forecast)?;
    weights.check("u truth", u_truth)?;
    weights.check("v truth", v_truth)?;
    let get = |a: &[T], i: usize| a[i].into();
    let vector_mse = weights.mean(|i| {
        (get(u_forecast, i) - get(u_truth, i)).powi(2)
            + (get(v_forecast, i) - get(v_truth, i)).powi(2)
    });
    let speed = |u: f64, v: f64| u.hypot(v);
    let ds =
        |i| speed(get(u_forecast, i), get(v_forecast, i)) - speed(get(u_truth, i), get(v_truth, i));
    let speed_mse = weights.mean(|i| ds(i).powi(2));
    let speed_bias = weights.mean(ds);
    let dir_err = |i| {
        let a = get(v_forecast, i).atan2(get(u_forecast, i));
        let b = get(v_truth, i).atan2(get(u_truth, i));
        let d = (a - b).to_degrees().rem_euclid(360.0);
        if d > 180.0 {
            360.0 - d
        } else {
            d
        }
    };
    let st = |i| speed(get(u_truth, i), get(v_truth, i));
    let num = weights.mean(|i| st(i) * dir_err(i));
    let den = weights.mean(st);
    let direction_error_deg = if den > 0.0 { num / den } else { 0.0 };
    Ok(WindScores {
        vector_mse,
        speed_mse,
        speed_bias,
        direction_error_deg,
    })
}

/// Init-time aggregate of [`FieldScores`] (WeatherBench2 names).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub rmse: f64,
    pub rmse_sqrt_before_time_avg: f64,
    pub bias: f64,
    pub mae: f64,
    pub acc: Option<f64>,
    /// Number of init times averaged.
    pub count: usize,
}

/// Aggregates per-init-time field scores: `rmse = sqrt(mean MSE)`,
/// `rmse_sqrt_before_time_avg = mean sqrt(MSE)`, means of bias, MAE, ACC
/// (ACC only when every field has one). `None` for an empty list.
pub fn summarise(scores: &[FieldScores]) -> Option<Summary> {
    let n = scores.len();
    if n == 0 {
        return None;
    }
    let mean = |f: &dyn Fn(&FieldScores) -> f64| scores.iter().map(f).sum::<f64>() / n as f64;
    let acc = scores
        .iter()
        .map(|s| s.acc)
        .collect::<Option<Vec<f64>>>()
        .map(|a| a.iter().sum::<f64>() / n as f64);
    Some(Summary {
        rmse: mean(&|s| s.mse).sqrt(),
        rmse_sqrt_before_time_avg: mean(&|s| s.mse.sqrt()),
        bias: mean(&|s| s.bias),
        mae: mean(&|s| s.mae),
        acc,
        count: n,
    })
}

/// Init-time aggregate of [`WindScores`] (WeatherBench2's
/// `wind_vector_rmse` = sqrt(mean vector MSE) and
/// `wind_vector_rmse_sqrt_before_time_avg` = mean sqrt(vector MSE), plus
/// speed and direction scores).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindSummary {
    pub wind_vector_rmse: f64,
    /// Absent in scores written before it existed.
    #[serde(default)]
    pub wind_vector_rmse_sqrt_before_time_avg: f64,
    pub speed_rmse: f64,
    pub speed_bias: f64,
    pub direction_error_deg: f64,
    pub count: usize,
}

pub fn summarise_wind(scores: &[WindScores]) -> Option<WindSummary> {
    let n = scores.len();
    if n == 0 {
        return None;
    }
    let mean = |f: &dyn Fn(&WindScores) -> f64| scores.iter().map(f).sum::<f64>() / n as f64;
    Some(WindSummary {
        wind_vector_rmse: mean(&|s| s.vector_mse).sqrt(),
        wind_vector_rmse_sqrt_before_time_avg: mean(&|s| s.vector_mse.sqrt()),
        speed_rmse: mean(&|s| s.speed_mse).sqrt(),
        speed_bias: mean(&|s| s.speed_bias),
        direction_error_deg: mean(&|s| s.direction_error_deg),
        count: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn weights() -> (Grid, AreaWeights) {
        let g = Grid::from_spec("latlon:10").unwrap(); // 19 x 36
        let w = AreaWeights::for_grid(&g);
        (g, w)
    }

    /// The flat `[nlat * nlon]` field of a lat-lon array.
    fn flat<T>(a: &Array2<T>) -> &[T] {
        a.as_slice().unwrap()
    }

    #[test]
    fn constant_error_gives_that_error_everywhere() {
        let (_, w) = weights();
        let t = Array2::from_shape_fn((19, 36), |(i, j)| (i * 36 + j) as f64);
        let f = &t + 2.0;
        let s = score_field(&w, flat(&f), flat(&t), None).unwrap();
        assert!(
            (s.mse - 4.0).abs() < 1e-12
                && (s.bias - 2.0).abs() < 1e-12
                && (s.mae - 2.0).abs() < 1e-12
        );
        assert_eq!(s.acc, None);
    }

    #[test]
    fn mse_is_area_weighted_by_cell_areas() {
        // error 1 on the northern-most ring only: MSE = its area fraction,
        // the polar cap of half a step (5°): (1 − cos 5°)/2 of the sphere.
        let (_, w) = weights();
        let t = Array2::<f64>::zeros((19, 36));
        let mut f = t.clone();
        f.row_mut(0).fill(1.0);
        let s = score_field(&w, flat(&f), flat(&t), None).unwrap();
        let cap = (1.0 - 5f64.to_radians().cos()) / 2.0;
        assert!((s.mse - cap).abs() < 1e-12, "{} vs {cap}", s.mse);
        // the same weights from one weight per ring
        let rings = AreaWeights::from_rings(
            &Grid::from_spec("latlon:10")
                .unwrap()
                .latitude_weights()
                .unwrap(),
            36,
        )
        .unwrap();
        let r = score_field(&rings, flat(&f), flat(&t), None).unwrap();
        assert!((r.mse - cap).abs() < 1e-12);
    }

    #[test]
    fn gaussian_grids_weigh_each_ring_by_its_quadrature_weight() {
        // O16: error 1 on the first ring -> MSE = w_0 / Σ w = w_0 / 2 with the
        // Gauss–Legendre weight of 32 nodes (eval's own rule); and the weighted
        // mean of sin²φ is ∫ x² dx / 2 = 1/3 exactly (degree 2 <= 63).
        let g = Grid::octahedral(16).unwrap();
        let w = AreaWeights::for_grid(&g);
        assert_eq!((w.len(), w.shape()), (g.len(), &[g.len()][..]));
        let t = vec![0f32; g.len()];
        let mut f = t.clone();
        f[..20].fill(1.0); // ring 0 has 20 points
        let s = score_field(&w, &f, &t, None).unwrap();
        let w0 = crate::quadrature::gauss_legendre(32).weights[0];
        assert!(
            (s.mse - w0 / 2.0).abs() < 1e-12,
            "{} vs {}",
            s.mse,
            w0 / 2.0
        );
        let sin2: Vec<f64> = g
            .point_lat_lon()
            .iter()
            .map(|&(lat, _)| lat.to_radians().sin().powi(2))
            .collect();
        let zero = vec![0.0; g.len()];
        let s = score_field(&w, &sin2, &zero, None).unwrap();
        assert!((s.bias - 1.0 / 3.0).abs() < 1e-12, "{}", s.bias);
        // point lists: plain means
        let pts = Grid::points(&[(0.0, 0.0), (80.0, 10.0), (-30.0, 200.0)]).unwrap();
        let w = AreaWeights::for_grid(&pts);
        let s = score_field(&w, &[1.0, 2.0, 6.0], &[0.0; 3], None).unwrap();
        assert!((s.bias - 3.0).abs() < 1e-12 && (s.mse - 41.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn the_two_rmse_conventions_differ_as_weatherbench2_defines() {
        let f = |mse: f64| FieldScores {
            mse,
            bias: 0.0,
            mae: 0.0,
            acc: Some(0.5),
        };
        let s = summarise(&[f(1.0), f(9.0)]).unwrap();
        assert!((s.rmse - 5f64.sqrt()).abs() < 1e-12);
        assert!((s.rmse_sqrt_before_time_avg - 2.0).abs() < 1e-12);
        assert_eq!((s.acc, s.count), (Some(0.5), 2));
        assert_eq!(summarise(&[]), None);
    }

    #[test]
    fn acc_of_a_scaled_anomaly_is_one_and_of_the_opposite_is_minus_one() {
        let (_, w) = weights();
        let clim = Array2::from_shape_fn((19, 36), |(i, _)| 280.0 - i as f64);
        let anom = Array2::from_shape_fn((19, 36), |(i, j)| ((i + 2 * j) as f64).sin());
        let truth = &clim + &anom;
        let good = &clim + &(&anom * 0.3);
        let bad = &clim - &anom;
        let acc = |f: &Array2<f64>| {
            score_field(&w, flat(f), flat(&truth), Some(flat(&clim)))
                .unwrap()
                .acc
                .unwrap()
        };
        assert!((acc(&good) - 1.0).abs() < 1e-12);
        assert!((acc(&bad) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn wind_scores_separate_speed_and_direction() {
        let (_, w) = weights();
        let ut = Array2::from_elem((19, 36), 3.0f64);
        let vt = Array2::from_elem((19, 36), 4.0f64); // speed 5
        let (u2, v2) = (&ut * 2.0, &vt * 2.0);
        // same direction, double speed
        let s = score_wind(&w, flat(&u2), flat(&v2), flat(&ut), flat(&vt)).unwrap();
        assert!(
            (s.speed_mse - 25.0).abs() < 1e-9
                && (s.speed_bias - 5.0).abs() < 1e-9
                && s.direction_error_deg.abs() < 1e-9
        );
        assert!((s.vector_mse - 25.0).abs() < 1e-9);
        // same speed, rotated by 90°
        let minus_v = &vt * -1.0;
        let s = score_wind(&w, flat(&minus_v), flat(&ut), flat(&ut), flat(&vt)).unwrap();
        assert!(s.speed_mse.abs() < 1e-9 && (s.direction_error_deg - 90.0).abs() < 1e-9);
        assert!((s.vector_mse - 50.0).abs() < 1e-9);
        let sum = summarise_wind(&[s, s]).unwrap();
        assert!((sum.wind_vector_rmse - 50f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn masked_weights_average_over_the_region_and_ignore_nan_outside() {
        // WeatherBench2's SliceRegion: the global cell weights at the kept
        // rows; NaN outside the region does not reach the scores
        let (g, w) = weights();
        let rows = [3usize, 4, 10];
        let mask: Vec<bool> = (0..g.len()).map(|p| rows.contains(&(p / 36))).collect();
        let wm = w.masked(&mask).unwrap();
        let t = vec![0f64; g.len()];
        let f: Vec<f64> = (0..g.len())
            .map(|p| if mask[p] { (p / 36) as f64 } else { f64::NAN })
            .collect();
        let s = score_field(&wm, &f, &t, None).unwrap();
        let lw = g.latitude_weights().unwrap();
        let want = rows.iter().map(|&r| lw[r] * r as f64).sum::<f64>()
            / rows.iter().map(|&r| lw[r]).sum::<f64>();
        assert!((s.bias - want).abs() < 1e-12, "{} vs {want}", s.bias);
        assert!(score_field(&w, &f, &t, None).is_err());
        assert!(w.masked(&vec![false; g.len()]).is_err());
        assert!(w.masked(&[true]).is_err());
    }

    #[test]
    fn bad_inputs_are_named() {
        let (_, w) = weights();
        let t = Array2::<f32>::zeros((19, 36));
        let mut f = t.clone();
        f[[3, 4]] = f32::NAN;
        f[[5, 6]] = f32::INFINITY;
        let e = score_field(&w, flat(&f), flat(&t), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("forecast") && e.contains("2 non-finite") && e.contains("[3, 4]"),
            "{e}"
        );
        let small = Array2::<f32>::zeros((18, 36));
        let e = score_field(&w, flat(&small), flat(&t), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[648]") && e.contains("[684]"), "{e}");
        // on a 1-D grid the position is the point index
        let g = Grid::octahedral(4).unwrap();
        let w = AreaWeights::for_grid(&g);
        let mut f = vec![0f64; g.len()];
        f[25] = f64::NAN;
        let e = score_field(&w, &f, &vec![0.0; g.len()], None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 non-finite") && e.contains("[25]"), "{e}");
        let e = AreaWeights::new(vec![1.0, -1.0], vec![2])
            .unwrap_err()
            .to_string();
        assert!(e.contains("area weight 1 is -1"), "{e}");
        assert!(AreaWeights::new(vec![1.0; 3], vec![2, 2]).is_err());
        assert!(AreaWeights::new(vec![0.0; 4], vec![4]).is_err());
    }
}
