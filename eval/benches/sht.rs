//! SHT benchmark: forward transform + power spectrum, and the inverse, on
//! ERA5 grids and on the octahedral reduced Gaussian grids O96 (FastNet's)
//! and O320 at their default truncation `N − 1`.
//!
//!     cargo bench -p fastnet-eval --bench sht
//!
//! Prints the table build time and the median of repeated runs per field.
//! With FASTNET_SHT_BENCH_PYTHON set to a Python that has ducc0, pyshtools
//! and torch-harmonics (and anemoi's transform, see scripts/bench_sht.py),
//! the same transforms are timed there in the same run
//! (scripts/bench_sht.py, once for the lat-lon and once for the octahedral
//! grids) and listed below ours.

use std::time::Instant;

use fastnet_eval::{Coefficients, QuadratureKind, ReducedSht, Sht};
use fastnet_mesh::Grid;
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
    for (n, reps) in [(96usize, 30usize), (320, 5)] {
        let grid = Grid::octahedral(n).expect("valid grid");
        let t = Instant::now();
        let sht = ReducedSht::new(&grid, None).expect("Gaussian grid");
        let plan_ms = t.elapsed().as_secs_f64() * 1e3;
        // the same field as the lat-lon rows (and scripts/bench_sht.py)
        let f: Vec<f64> = grid
            .point_lat_lon()
            .iter()
            .map(|&(lat, lon)| {
                let (lat, lon) = (lat.to_radians(), lon.to_radians());
                lat.cos() * (3.0 * lon).sin()
                    + 0.1 * (17.0 * lon + 5.0 * lat).cos() * lat.cos().powi(2)
            })
            .collect();
        let mut fwd = Vec::new();
        let mut coeffs: Option<Coefficients> = None;
        for _ in 0..reps {
            let t = Instant::now();
            let c = sht.forward(&f).expect("length matches");
            std::hint::black_box(c.power_spectrum());
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
            format!("O{n} ({} pts)", grid.len()),
            sht.lmax(),
            plan_ms,
            median(fwd),
            median(inv)
        );
    }
    if let Ok(py) = std::env::var("FASTNET_SHT_BENCH_PYTHON") {
        reference_rows(&py, None);
        reference_rows(&py, Some("octahedral"));
    }
}

/// Times the reference libraries through scripts/bench_sht.py (`mode`
/// `octahedral` for the reduced grids) and prints their rows.
fn reference_rows(py: &str, mode: Option<&str>) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/bench_sht.py");
    let threads = rayon::current_num_threads().to_string();
    match std::process::Command::new(py)
        .arg(script)
        .arg(threads)
        .args(mode)
        .output()
    {
        Ok(out) if out.status.success() => {
            println!(
                "{:<28} {:<10} {:>6} {:>18}",
                "reference library", "grid", "lmax", "forward+power ms"
            );
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
                println!(
                    "{:<28} {:<10} {:>6} {:>18}",
                    v["library"].as_str().unwrap_or("?"),
                    v["grid"].as_str().unwrap_or("?"),
                    v["lmax"].as_u64().map_or("-".into(), |l| l.to_string()),
                    v["ms"]
                        .as_f64()
                        .map_or_else(|| v["error"].to_string(), |m| format!("{m:.2}"))
                );
            }
        }
        Ok(out) => println!(
            "reference script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => println!("could not run FASTNET_SHT_BENCH_PYTHON: {e}"),
    }
}
