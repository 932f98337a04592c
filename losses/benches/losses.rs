//! Forward + backward time of each loss term on CPU, next to the plain MSE.
//!
//!     cargo bench -p fastnet-losses --bench losses
//!
//! 1° (181 x 360, lmax 90) with 72 channels, 0.25° (721 x 1440, lmax 360)
//! with 1 channel and FastNet's octahedral O96 (40,320 points, lmax 95,
//! per-ring FFTs) with 72 channels; batch 1, f32. Median of repeated runs.

use std::time::Instant;

use fastnet_losses::amse::{amse_per_channel, Gamma};
use fastnet_losses::gradient::GradientOperator;
use fastnet_losses::mse::mse_per_channel;
use fastnet_losses::sht::TorchSht;
use fastnet_losses::weights::{area_weights, field_shape};
use fastnet_losses::wind::{wind_terms, WindPair};
use fastnet_mesh::Grid;
use tch::{Device, Kind, Tensor};

fn time(reps: usize, f: &dyn Fn() -> Tensor) -> f64 {
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f().backward();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    println!(
        "loss forward+backward on CPU, {} libtorch threads, f32, batch 1 (median ms)",
        tch::get_num_threads()
    );
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "grid x channels", "mse", "amse", "grad x+y", "wind", "sht only"
    );
    for (spec, channels, reps) in [("era5-1deg", 72i64, 5usize), ("era5", 1, 3), ("o96", 72, 5)] {
        let grid = Grid::from_spec(spec).expect("built-in grid");
        let mut shape = vec![1, channels];
        shape.extend(field_shape(&grid));
        let opts = (Kind::Float, Device::Cpu);
        let x = Tensor::randn(shape.as_slice(), opts);
        let y = (&x + Tensor::randn(shape.as_slice(), opts) * 0.1).set_requires_grad(true);
        let w = area_weights(&grid, Kind::Float, Device::Cpu).expect("a ring grid");
        let t0 = Instant::now();
        let ts = TorchSht::for_grid(&grid, None, Kind::Float, Device::Cpu).expect("a ring grid");
        let build = t0.elapsed().as_secs_f64();
        let gamma = Tensor::from_slice(&Gamma::Uniform.weights(ts.lmax())).to_kind(Kind::Float);
        let gop = GradientOperator::new(&grid, Kind::Float, Device::Cpu).expect("a ring grid");
        let ones = Tensor::ones([channels], opts);
        let pairs = if channels >= 2 {
            vec![WindPair {
                u_channel: 0,
                v_channel: 1,
                u_mean: 0.0,
                u_std: 10.0,
                v_mean: 0.0,
                v_std: 10.0,
                speed_std: 8.0,
            }]
        } else {
            Vec::new()
        };
        let mse = time(reps, &|| {
            mse_per_channel(&y, &x, &w)
                .expect("shapes")
                .sum(Kind::Float)
        });
        let amse = time(reps, &|| {
            amse_per_channel(&ts, &y, &x, 1e-10, &gamma)
                .expect("shapes")
                .sum(Kind::Float)
        });
        let grad = time(reps, &|| {
            let (a, b) = gop.loss_per_channel(&y, &x, &ones, &ones).expect("shapes");
            (a + b).sum(Kind::Float)
        });
        let wind = if pairs.is_empty() {
            f64::NAN
        } else {
            time(reps, &|| {
                let (d, s) = wind_terms(&y, &x, &w, &pairs).expect("shapes");
                (d + s).sum(Kind::Float)
            })
        };
        let sht_only = time(reps, &|| {
            let c = ts.forward(&y).expect("shape");
            (c.re.square() + c.im.square()).sum(Kind::Float)
        });
        println!(
            "{:<28} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}   (table build {:.2} s)",
            format!(
                "{} x {}",
                field_shape(&grid)
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join("x"),
                channels
            ),
            mse,
            amse,
            grad,
            wind,
            sht_only,
            build
        );
    }
}
