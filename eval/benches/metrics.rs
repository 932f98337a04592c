//! RMSE over a year of 1° forecasts: 1,460 init times (6-hourly) of one
//! variable at one lead, scored field by field (area-weighted MSE, bias,
//! MAE and ACC against a climatology) and summarised as WeatherBench2 does.
//!
//!     cargo bench -p fastnet-eval --bench metrics

use std::time::Instant;

use fastnet_eval::metrics::{score_field, summarise, AreaWeights};
use fastnet_mesh::Grid;
use ndarray::Array2;

fn main() {
    let grid = Grid::from_spec("era5-1deg").expect("built-in grid");
    let w = AreaWeights::for_grid(&grid);
    let (nlat, nlon) = (181, 360);
    let truth = Array2::from_shape_fn((nlat, nlon), |(i, j)| {
        280.0 + 20.0 * ((i as f32) / 30.0).cos() + ((j as f32) / 10.0).sin()
    });
    let clim = truth.mapv(|v| v - 0.5);
    let fc = truth.mapv(|v| v + 0.7);
    let n = 1460;
    let t = Instant::now();
    let scores: Vec<_> = (0..n)
        .map(|_| {
            score_field(
                &w,
                fc.as_slice().expect("standard layout"),
                truth.as_slice().expect("standard layout"),
                Some(clim.as_slice().expect("standard layout")),
            )
            .expect("shapes")
        })
        .collect();
    let s = summarise(&scores).expect("non-empty");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "RMSE/bias/MAE/ACC of {n} fields of 181x360 on {} rayon threads: {:.2} s ({:.2} ms per field, {:.0} Mpoints/s); rmse {:.3}",
        rayon::current_num_threads(),
        secs,
        1e3 * secs / n as f64,
        (n * nlat * nlon) as f64 / secs / 1e6,
        s.rmse
    );
}
