//! WeatherBench2 deterministic metrics with latitude area weights: RMSE (both
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
//! climatology at the valid time (uncentred).

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};

/// Area weights of a `[nlat, nlon]` grid, one per ring.
#[derive(Clone, Debug)]
pub struct AreaWeights {
    ring: Vec<f64>,
    nlon: usize,
}

impl AreaWeights {
    /// `ring_weights` — `[nlat]` (any positive scale), `nlon` columns.
    pub fn new(ring_weights: Vec<f64>, nlon: usize) -> Self {
        AreaWeights {
            ring: ring_weights,
            nlon,
        }
    }

    /// The cell-area weights of an equiangular grid (None for point lists,
    /// which have no rings).
    pub fn for_grid(grid: &fastnet_mesh::Grid) -> Option<Self> {
        let nlon = *grid.shape().get(1)?;
        Some(AreaWeights::new(grid.latitude_weights()?, nlon))
    }

    pub fn shape(&self) -> [usize; 2] {
        [self.ring.len(), self.nlon]
    }

    fn check<T>(&self, what: &str, a: &ArrayView2<T>) -> Result<()> {
        if a.shape() != self.shape() {
            return Err(EvalError::ShapeMismatch {
                what: what.into(),
                got: a.shape().to_vec(),
                expected: self.shape().to_vec(),
            });
        }
        Ok(())
    }

    /// Area-weighted mean of `f(point)` over the grid.
    fn mean(&self, f: impl Fn(usize, usize) -> f64 + Sync) -> f64 {
        let (num, den) = (0..self.ring.len())
            .into_par_iter()
            .map(|i| {
                let s: f64 = (0..self.nlon).map(|j| f(i, j)).sum();
                (self.ring[i] * s, self.ring[i] * self.nlon as f64)
            })
            .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
        num / den
    }
}

fn check_finite<T: Copy + Into<f64>>(what: &str, a: &ArrayView2<T>) -> Result<()> {
    let mut count = 0;
    let mut first = None;
    for ((i, j), &v) in a.indexed_iter() {
        if !v.into().is_finite() {
            count += 1;
            first.get_or_insert(vec![i, j]);
        }
    }
    match first {
        None => Ok(()),
        Some(first) => Err(EvalError::NonFinite {
            what: what.into(),
            count,
            first,
        }),
    }
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

/// Scores one `[nlat, nlon]` field. Non-finite values are an error naming
/// their count and first position.
pub fn score_field<T: Copy + Into<f64> + Sync>(
    weights: &AreaWeights,
    forecast: ArrayView2<T>,
    truth: ArrayView2<T>,
    climatology: Option<ArrayView2<T>>,
) -> Result<FieldScores> {
    weights.check("forecast", &forecast)?;
    weights.check("truth", &truth)?;
    check_finite("forecast", &forecast)?;
    check_finite("truth", &truth)?;
    let d = |i: usize, j: usize| forecast[[i, j]].into() - truth[[i, j]].into();
    let mse = weights.mean(|i, j| d(i, j).powi(2));
    let bias = weights.mean(d);
    let mae = weights.mean(|i, j| d(i, j).abs());
    let acc = match climatology {
        None => None,
        Some(c) => {
            weights.check("climatology", &c)?;
            check_finite("climatology", &c)?;
            let fa = |i: usize, j: usize| forecast[[i, j]].into() - c[[i, j]].into();
            let ta = |i: usize, j: usize| truth[[i, j]].into() - c[[i, j]].into();
            let num = weights.mean(|i, j| fa(i, j) * ta(i, j));
            let den = (weights.mean(|i, j| fa(i, j).powi(2))
                * weights.mean(|i, j| ta(i, j).powi(2)))
            .sqrt();
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

/// Scores one wind-vector field pair. All four arrays `[nlat, nlon]`.
pub fn score_wind<T: Copy + Into<f64> + Sync>(
    weights: &AreaWeights,
    u_forecast: ArrayView2<T>,
    v_forecast: ArrayView2<T>,
    u_truth: ArrayView2<T>,
    v_truth: ArrayView2<T>,
) -> Result<WindScores> {
    let check = |name: &str, a: &ArrayView2<T>| -> Result<()> {
        weights.check(name, a)?;
        check_finite(name, a)
    };
    check("u forecast", &u_forecast)?;
    check("v forecast", &v_forecast)?;
    check("u truth", &u_truth)?;
    check("v truth", &v_truth)?;
    let get = |a: &ArrayView2<T>, i: usize, j: usize| a[[i, j]].into();
    let vector_mse = weights.mean(|i, j| {
        (get(&u_forecast, i, j) - get(&u_truth, i, j)).powi(2)
            + (get(&v_forecast, i, j) - get(&v_truth, i, j)).powi(2)
    });
    let speed = |u: f64, v: f64| u.hypot(v);
    let ds = |i, j| {
        speed(get(&u_forecast, i, j), get(&v_forecast, i, j))
            - speed(get(&u_truth, i, j), get(&v_truth, i, j))
    };
    let speed_mse = weights.mean(|i, j| ds(i, j).powi(2));
    let speed_bias = weights.mean(ds);
    let dir_err = |i, j| {
        let a = get(&v_forecast, i, j).atan2(get(&u_forecast, i, j));
        let b = get(&v_truth, i, j).atan2(get(&u_truth, i, j));
        let d = (a - b).to_degrees().rem_euclid(360.0);
        if d > 180.0 {
            360.0 - d
        } else {
            d
        }
    };
    let st = |i, j| speed(get(&u_truth, i, j), get(&v_truth, i, j));
    let num = weights.mean(|i, j| st(i, j) * dir_err(i, j));
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
/// `wind_vector_rmse`, plus speed and direction scores).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindSummary {
    pub wind_vector_rmse: f64,
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
        speed_rmse: mean(&|s| s.speed_mse).sqrt(),
        speed_bias: mean(&|s| s.speed_bias),
        direction_error_deg: mean(&|s| s.direction_error_deg),
        count: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastnet_mesh::Grid;
    use ndarray::Array2;

    fn weights() -> (Grid, AreaWeights) {
        let g = Grid::from_spec("latlon:10").unwrap(); // 19 x 36
        let w = AreaWeights::for_grid(&g).unwrap();
        (g, w)
    }

    #[test]
    fn constant_error_gives_that_error_everywhere() {
        let (_, w) = weights();
        let t = Array2::from_shape_fn((19, 36), |(i, j)| (i * 36 + j) as f64);
        let f = &t + 2.0;
        let s = score_field(&w, f.view(), t.view(), None).unwrap();
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
        let s = score_field(&w, f.view(), t.view(), None).unwrap();
        let cap = (1.0 - 5f64.to_radians().cos()) / 2.0;
        assert!((s.mse - cap).abs() < 1e-12, "{} vs {cap}", s.mse);
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
        assert!(
            (score_field(&w, good.view(), truth.view(), Some(clim.view()))
                .unwrap()
                .acc
                .unwrap()
                - 1.0)
                .abs()
                < 1e-12
        );
        assert!(
            (score_field(&w, bad.view(), truth.view(), Some(clim.view()))
                .unwrap()
                .acc
                .unwrap()
                + 1.0)
                .abs()
                < 1e-12
        );
    }

    #[test]
    fn wind_scores_separate_speed_and_direction() {
        let (_, w) = weights();
        let ut = Array2::from_elem((19, 36), 3.0f64);
        let vt = Array2::from_elem((19, 36), 4.0f64); // speed 5
                                                      // same direction, double speed
        let s = score_wind(
            &w,
            (&ut * 2.0).view(),
            (&vt * 2.0).view(),
            ut.view(),
            vt.view(),
        )
        .unwrap();
        assert!(
            (s.speed_mse - 25.0).abs() < 1e-9
                && (s.speed_bias - 5.0).abs() < 1e-9
                && s.direction_error_deg.abs() < 1e-9
        );
        assert!((s.vector_mse - 25.0).abs() < 1e-9);
        // same speed, rotated by 90°
        let s = score_wind(&w, (&vt * -1.0).view(), ut.view(), ut.view(), vt.view()).unwrap();
        assert!(s.speed_mse.abs() < 1e-9 && (s.direction_error_deg - 90.0).abs() < 1e-9);
        assert!((s.vector_mse - 50.0).abs() < 1e-9);
        let sum = summarise_wind(&[s, s]).unwrap();
        assert!((sum.wind_vector_rmse - 50f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn bad_inputs_are_named() {
        let (_, w) = weights();
        let t = Array2::<f32>::zeros((19, 36));
        let mut f = t.clone();
        f[[3, 4]] = f32::NAN;
        f[[5, 6]] = f32::INFINITY;
        let e = score_field(&w, f.view(), t.view(), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("forecast") && e.contains("2 non-finite") && e.contains("[3, 4]"),
            "{e}"
        );
        let small = Array2::<f32>::zeros((18, 36));
        let e = score_field(&w, small.view(), t.view(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[18, 36]") && e.contains("[19, 36]"), "{e}");
    }
}
