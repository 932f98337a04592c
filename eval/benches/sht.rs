//! SHT benchmark: forward transform + power spectrum, and the inverse, on
//! ERA5 grids (181×360 / lmax 90 and 721×1440 / lmax 360, Clenshaw–Curtis)
//! and on the octahedral reduced Gaussian grids O96 (FastNet's) and O320 at
//! their default truncation `N − 1`, f64, on every core rayon has.
//!
//!     cargo bench -p fastnet-eval --bench sht
//!     FASTNET_SHT_BENCH_PYTHON=~/.cache/fastnet/bench-python cargo bench -p fastnet-eval --bench sht
//!
//! Prints, per grid: plan build time and memory, the median forward + power
//! and inverse times, and the Legendre stage's share of the cores' f64 peak.
//! The work counted is the issue's `nlat · lmax² / 2` multiply-adds (the
//! projection or synthesis proper: each of the `lmax²/2` (l, m) pairs times
//! each ring, re and im, halved by the equatorial symmetry; the recurrence
//! that produces the Legendre values on the fly costs about as much again
//! and is not counted). The peak is measured in the same run: independent
//! FMA chains in the widest vector unit the CPU has, on as many threads.
//!
//! With FASTNET_SHT_BENCH_PYTHON set to a Python that has the peers (ducc0,
//! pyshtools, torch-harmonics, anemoi-models' transform; `scripts/setup.sh
//! --bench` installs them and writes `bench-python`), scripts/bench_sht.py
//! times the same transforms there with the same number of threads, and a
//! last table gives ours over the fastest peer, forward and inverse.

use std::time::Instant;

use fastnet_eval::{Coefficients, QuadratureKind, ReducedSht, Sht};
use fastnet_mesh::Grid;
use ndarray::Array2;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// One of our rows: grid key as bench_sht.py spells it, times in ms.
struct Ours {
    grid: String,
    nlat: usize,
    lmax: usize,
    fwd: f64,
    inv: f64,
}

/// Times `fwd` (forward + power, returning the coefficients) and `inv`.
fn time_both(
    reps: usize,
    mut fwd: impl FnMut() -> Coefficients,
    mut inv: impl FnMut(&Coefficients),
) -> (f64, f64) {
    let mut c = fwd(); // warm-up
    let mut tf = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        c = fwd();
        tf.push(t.elapsed().as_secs_f64() * 1e3);
    }
    inv(&c);
    let mut ti = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        inv(&c);
        ti.push(t.elapsed().as_secs_f64() * 1e3);
    }
    (median(tf), median(ti))
}

fn test_field(lat: f64, lon: f64) -> f64 {
    let (lat, lon) = (lat.to_radians(), lon.to_radians());
    lat.cos() * (3.0 * lon).sin() + 0.1 * (17.0 * lon + 5.0 * lat).cos() * lat.cos().powi(2)
}

fn main() {
    let threads = rayon::current_num_threads();
    let peak = fma_peak(threads);
    println!(
        "SHT on {} core(s), rayon threads {threads}, f64; measured FMA peak {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        peak.map_or("unknown (no AVX2/AVX-512)".to_string(), |(g, isa)| format!(
            "{g:.1} GFLOP/s ({isa}, {threads} thread(s))"
        ))
    );
    println!(
        "{:<20} {:>5} {:>9} {:>9} {:>12} {:>11} {:>9} {:>9}",
        "grid", "lmax", "plan ms", "plan MiB", "fwd+power ms", "inverse ms", "fwd peak", "inv peak"
    );
    let mut ours = Vec::new();
    let mut print_row = |o: Ours, label: String, plan_ms: f64, plan_bytes: usize| {
        // nlat · lmax² / 2 multiply-adds, 2 flops each
        let flop = o.nlat as f64 * (o.lmax * o.lmax) as f64;
        let share = |ms: f64| {
            peak.map_or("-".to_string(), |(g, _)| {
                format!("{:.0} %", 100.0 * flop / (ms * 1e-3) / (g * 1e9))
            })
        };
        println!(
            "{:<20} {:>5} {:>9.1} {:>9.2} {:>12.2} {:>11.2} {:>9} {:>9}",
            label,
            o.lmax,
            plan_ms,
            plan_bytes as f64 / (1 << 20) as f64,
            o.fwd,
            o.inv,
            share(o.fwd),
            share(o.inv)
        );
        ours.push(o);
    };
    for (nlat, nlon, reps) in [(181usize, 360usize, 50usize), (721, 1440, 15)] {
        let t = Instant::now();
        let sht = Sht::new(QuadratureKind::ClenshawCurtis, nlat, nlon, None).expect("valid grid");
        let plan_ms = t.elapsed().as_secs_f64() * 1e3;
        let f = Array2::from_shape_fn((nlat, nlon), |(j, k)| {
            test_field(
                90.0 - 180.0 * j as f64 / (nlat - 1) as f64,
                360.0 * k as f64 / nlon as f64,
            )
        });
        let (fwd, inv) = time_both(
            reps,
            || {
                let c = sht.forward(f.view()).expect("shape matches");
                std::hint::black_box(c.power_spectrum());
                c
            },
            |c| {
                std::hint::black_box(sht.inverse(c));
            },
        );
        let o = Ours {
            grid: format!("{nlat}x{nlon}"),
            nlat,
            lmax: sht.lmax(),
            fwd,
            inv,
        };
        print_row(o, format!("{nlat}x{nlon} (CC)"), plan_ms, sht.plan_bytes());
    }
    for (n, reps) in [(96usize, 30usize), (320, 5)] {
        let grid = Grid::octahedral(n).expect("valid grid");
        let t = Instant::now();
        let sht = ReducedSht::new(&grid, None).expect("Gaussian grid");
        let plan_ms = t.elapsed().as_secs_f64() * 1e3;
        let f: Vec<f64> = grid
            .point_lat_lon()
            .iter()
            .map(|&(lat, lon)| test_field(lat, lon))
            .collect();
        let (fwd, inv) = time_both(
            reps,
            || {
                let c = sht.forward(&f).expect("length matches");
                std::hint::black_box(c.power_spectrum());
                c
            },
            |c| {
                std::hint::black_box(sht.inverse(c));
            },
        );
        let o = Ours {
            grid: format!("O{n}"),
            nlat: 2 * n,
            lmax: sht.lmax(),
            fwd,
            inv,
        };
        print_row(
            o,
            format!("O{n} ({} pts)", grid.len()),
            plan_ms,
            sht.plan_bytes(),
        );
    }
    let Ok(py) = std::env::var("FASTNET_SHT_BENCH_PYTHON") else {
        println!("(set FASTNET_SHT_BENCH_PYTHON to time ducc0, pyshtools, torch-harmonics and anemoi in the same run)");
        return;
    };
    let mut peers = reference_rows(&py, threads, None);
    peers.extend(reference_rows(&py, threads, Some("octahedral")));
    println!();
    println!(
        "{:<28} {:<9} {:>5} {:>12} {:>11}",
        "peer", "grid", "lmax", "fwd+power ms", "inverse ms"
    );
    for p in &peers {
        match (&p.times, &p.error) {
            (Some((f, i)), _) => println!(
                "{:<28} {:<9} {:>5} {:>12.2} {:>11.2}",
                p.library, p.grid, p.lmax, f, i
            ),
            (None, e) => println!(
                "{:<28} {:<9} {:>5} {}",
                p.library,
                p.grid,
                "-",
                e.as_deref().unwrap_or("no result")
            ),
        }
    }
    println!();
    println!(
        "{:<9} {:>9} {:>30} {:>6}   {:>9} {:>30} {:>6}",
        "grid", "ours fwd", "fastest peer fwd", "ratio", "ours inv", "fastest peer inv", "ratio"
    );
    for o in &ours {
        let best = |pick: fn(&(f64, f64)) -> f64| {
            peers
                .iter()
                .filter(|p| p.grid == o.grid)
                .filter_map(|p| p.times.as_ref().map(|t| (pick(t), p.library.as_str())))
                .min_by(|a, b| a.0.total_cmp(&b.0))
        };
        let cell = |b: Option<(f64, &str)>, ours: f64| {
            b.map_or(("none".to_string(), "-".to_string()), |(ms, lib)| {
                (format!("{lib} {ms:.2}"), format!("{:.2}x", ours / ms))
            })
        };
        let (pf, rf) = cell(best(|t| t.0), o.fwd);
        let (pi, ri) = cell(best(|t| t.1), o.inv);
        println!(
            "{:<9} {:>9.2} {:>30} {:>6}   {:>9.2} {:>30} {:>6}",
            o.grid, o.fwd, pf, rf, o.inv, pi, ri
        );
    }
    println!("(pyshtools works on its Driscoll-Healy grid: one row fewer, lmax one lower)");
}

struct Peer {
    library: String,
    grid: String,
    lmax: String,
    times: Option<(f64, f64)>,
    error: Option<String>,
}

/// Times the peers through scripts/bench_sht.py (`mode` `octahedral` for
/// the reduced grids) and returns their rows.
fn reference_rows(py: &str, threads: usize, mode: Option<&str>) -> Vec<Peer> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/bench_sht.py");
    let out = match std::process::Command::new(py)
        .arg(script)
        .arg(threads.to_string())
        .args(mode)
        .output()
    {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            println!(
                "error: scripts/bench_sht.py failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return Vec::new();
        }
        Err(e) => {
            println!("error: could not run FASTNET_SHT_BENCH_PYTHON={py}: {e}");
            return Vec::new();
        }
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|v| Peer {
            library: v["library"].as_str().unwrap_or("?").to_string(),
            grid: v["grid"].as_str().unwrap_or("?").to_string(),
            lmax: v["lmax"].as_u64().map_or("-".into(), |l| l.to_string()),
            times: v["fwd_ms"].as_f64().zip(v["inv_ms"].as_f64()),
            error: v["error"].as_str().map(str::to_string),
        })
        .collect()
}

/// The cores' f64 FMA throughput in GFLOP/s (2 flops per lane per FMA):
/// 16 independent chains per thread, long enough to hide the latency, in
/// the widest unit this CPU has.
fn fma_peak(threads: usize) -> Option<(f64, &'static str)> {
    #[cfg(target_arch = "x86_64")]
    {
        let (isa, lanes, run): (&str, f64, fn(u64) -> f64) =
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
                ("AVX-512", 8.0, |n| unsafe { chains_avx512(n) })
            } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                ("AVX2", 4.0, |n| unsafe { chains_avx2(n) })
            } else {
                return None;
            };
        let iters = 20_000_000u64;
        run(iters / 10); // clocks up
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(move || std::hint::black_box(run(iters)));
            }
        });
        let secs = t.elapsed().as_secs_f64();
        Some((
            threads as f64 * iters as f64 * 16.0 * lanes * 2.0 / secs / 1e9,
            isa,
        ))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = threads;
        None
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn chains_avx512(iters: u64) -> f64 {
    use std::arch::x86_64::*;
    let a = _mm512_set1_pd(0.999_999);
    let b = _mm512_set1_pd(1e-7);
    let mut v = [_mm512_set1_pd(1.0); 16];
    for _ in 0..iters {
        for x in v.iter_mut() {
            *x = _mm512_fmadd_pd(*x, a, b);
        }
    }
    let s = v
        .iter()
        .fold(_mm512_setzero_pd(), |s, x| _mm512_add_pd(s, *x));
    _mm512_reduce_add_pd(s)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn chains_avx2(iters: u64) -> f64 {
    use std::arch::x86_64::*;
    let a = _mm256_set1_pd(0.999_999);
    let b = _mm256_set1_pd(1e-7);
    let mut v = [_mm256_set1_pd(1.0); 16];
    for _ in 0..iters {
        for x in v.iter_mut() {
            *x = _mm256_fmadd_pd(*x, a, b);
        }
    }
    let s = v
        .iter()
        .fold(_mm256_setzero_pd(), |s, x| _mm256_add_pd(s, *x));
    let hi = _mm256_extractf128_pd(s, 1);
    let lo = _mm256_castpd256_pd128(s);
    let p = _mm_add_pd(hi, lo);
    _mm_cvtsd_f64(_mm_add_sd(p, _mm_unpackhi_pd(p, p)))
}
