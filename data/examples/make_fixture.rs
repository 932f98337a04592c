//! Writes synthetic ERA5 files (FastNet's variables) into a folder, for
//! trying `fastnet data inspect` / `fastnet stats` and for benchmarks.
//!
//! `cargo run -p fastnet-data --release --example make_fixture -- DIR [RES_DEG] [TIMES] [old|new]`

use fastnet_data::channels::FASTNET_LEVELS;
use fastnet_data::fixture::{value, write_synthetic};
use fastnet_data::time::{parse_date, HOUR};
use fastnet_data::writer::{write_era5, Encoding, VarData, WriteOptions};
use fastnet_mesh::Grid;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(
        args.first()
            .ok_or("usage: make_fixture DIR [RES_DEG] [TIMES] [old|new]")?,
    );
    let res: f64 = args.get(1).map_or(Ok(5.0), |s| s.parse())?;
    let n: i64 = args.get(2).map_or(Ok(8), |s| s.parse())?;
    let opts = match args.get(3).map(String::as_str) {
        Some("new") => WriteOptions::new_cds(),
        _ => WriteOptions::old_cds(),
    };
    std::fs::create_dir_all(&dir)?;
    let grid = Grid::equiangular_deg(res, true)?;
    let t0 = parse_date("2020-01-01").ok_or("date")?;
    let ts: Vec<i64> = (0..n).map(|k| t0 + 6 * HOUR * k).collect();
    write_synthetic(
        &dir.join("era5_pl.nc"),
        &grid,
        &ts,
        &["z", "q", "t", "u", "v"],
        &FASTNET_LEVELS,
        &opts,
    )?;
    write_synthetic(
        &dir.join("era5_sfc.nc"),
        &grid,
        &ts,
        &["u10", "v10", "d2m", "t2m", "msl", "skt", "sp"],
        &[],
        &opts,
    )?;
    let field = |name: &str| -> Vec<f32> {
        grid.point_lat_lon()
            .iter()
            .map(|&(la, lo)| {
                value(
                    if name == "z" {
                        "orography_source"
                    } else {
                        name
                    },
                    0,
                    0,
                    la,
                    lo,
                )
            })
            .collect()
    };
    let var = |name: &str, units: &str| VarData {
        name: name.into(),
        units: units.into(),
        levels: None,
        values: field(name),
    };
    write_era5(
        &dir.join("era5_static.nc"),
        &grid,
        &ts[..1],
        &[
            var("lsm", "(0 - 1)"),
            var("z", "m**2 s**-2"),
            var("sdor", "m"),
            var("slor", "~"),
        ],
        &WriteOptions {
            encoding: Encoding::Float32,
            ..WriteOptions::old_cds()
        },
    )?;
    println!(
        "wrote {} times on {} to {}",
        n,
        grid.describe(),
        dir.display()
    );
    Ok(())
}
