//! Writes synthetic ERA5 files (FastNet's variables) into a folder, for
//! trying `fastnet data inspect` / `fastnet stats` and for benchmarks.
//!
//! `cargo run -p fastnet-data --release --example make_fixture -- DIR [RES_DEG] [TIMES] [old|new]`

use fastnet_data::fixture::write_fastnet_fixture;
use fastnet_data::time::{parse_date, HOUR};
use fastnet_data::writer::WriteOptions;
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
    write_fastnet_fixture(&dir, &grid, &ts, &opts)?;
    println!(
        "wrote {} times on {} to {}",
        n,
        grid.describe(),
        dir.display()
    );
    Ok(())
}
