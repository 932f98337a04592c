//! SHT benchmark: forward transform + power spectrum, and the inverse, on
//! ERA5 grids.
//!
//!     cargo bench -p fastnet-eval --bench sht
//!
//! Prints the table build time and the median of repeated runs per field.

use std::time::Instant;

use fastnet_eval::{QuadratureKind, Sht};
use ndarray::Array2;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    println!(
        "SHT on {} core(s), rayon threads {}, f64",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        rayon::current_num_threads()
    );
    println!(
        "{:<22} {:>6} {:>12} {:>18} {:>12}",
        "grid", "lmax", "plan ms", "forward+power ms", "inverse ms"
    );
    for (nlat, nlon, reps) in [(181usize, 360usize, 50usize), (721, 1440, 15)] {
        let t = Instant::now();
        let sht = Sht::new(QuadratureKind::ClenshawCurtis, nlat, nlon, None).expect("valid grid");
        let plan_ms = t.elapsed().as_secs_f64() * 1e3;
        // a smooth field with some small-scale structure
        let f = Array2::from_shape_fn((nlat, nlon), |(j, k)| {
            let lat = (90.0 - 180.0 * j as f64 / (nlat - 1) as f64).to_radians();
            let lon = (360.0 * k as f64 / nlon as f64).to_radians();
            lat.cos() * (3.0 * lon).sin() + 0.1 * (17.0 * lon + 5.0 * lat).cos() * lat.cos().powi(2)
        });
        let mut fwd = Vec::new();
        let mut coeffs = None;
        for _ in 0..reps {
            let t = Instant::now();
            let c = sht.forward(f.view()).expect("shape matches");
            let p = c.power_spectrum();
            std::hint::black_box(&p);
            fwd.push(t.elapsed().as_secs_f64() * 1e3);
            coeffs = Some(c);
        }
        let c = coeffs.expect("at least one repetition");
        let mut inv = Vec::new();
        for _ in 0..reps {
            let t = Instant::now();
            std::hint::black_box(sht.inverse(&c));
            inv.push(t.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "{:<22} {:>6} {:>12.1} {:>18.2} {:>12.2}",
            format!("{nlat}x{nlon} (CC)"),
            sht.lmax(),
            plan_ms,
            median(fwd),
            median(inv)
        );
    }
}
