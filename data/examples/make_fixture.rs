//! Writes synthetic ERA5 files (FastNet's variables) into a folder, for
//! trying `fastnet data inspect` / `fastnet stats` and for benchmarks.
//!
//! `cargo run -p fastnet-data --release --example make_fixture -- DIR [RES_DEG|GRID] [TIMES] [old|new]`
//!
//! The grid is a lat-lon resolution in degrees (with poles, default 5) or a
//! grid spec such as `o96` / `n48` (files in the reduced-grid `values`
//! layout).

use fastnet_data::fixture::write_fastnet_fixture;
use fastnet_data::time::{parse_date, HOUR};
use fastnet_data::writer::WriteOptions;
use fastnet_mesh::Grid;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(
        args.first()
            .ok_or("usage: make_fixture DIR [RES_DEG|GRID] [TIMES] [old|new]")?,
    );
    let grid = match args.get(1) {
        None => Grid::equiangular_deg(5.0, true)?,
        Some(s) => match s.parse::<f64>() {
            Ok(res) => Grid::equiangular_deg(res, true)?,
            Err(_) => Grid::from_spec(s)?,
        },
    };
    let n: i64 = args.get(2).map_or(Ok(8), |s| s.parse())?;
    let opts = match args.get(3).map(String::as_str) {
        Some("new") => WriteOptions::new_cds(),
        _ => WriteOptions::old_cds(),
    };
    std::fs::create_dir_all(&dir)?;
    let t0 = parse_date("2020-01-01").ok_or("date")?;
    let ts: Vec<i64> = (0..n).map(|k| t0 + 6 * HOUR * k).collect();
    write_fastnet_fixture(&dir, &grid, &ts, &opts)?;
    println!(
        "wrote {} times on {} to {}",
        n,
        grid.describe(),
        dir.display()
    );
    Ok(())
}
