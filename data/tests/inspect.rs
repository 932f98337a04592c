//! `inspect`: summaries, gaps, and one line per problem.

use fastnet_data::fixture::{scratch_dir, write_synthetic};
use fastnet_data::inspect::inspect;
use fastnet_data::time::{parse_date, HOUR};
use fastnet_data::writer::WriteOptions;
use fastnet_mesh::Grid;

#[test]
fn inspect_reports_gaps_packing_and_every_problem() {
    let dir = scratch_dir("inspect");
    let grid = Grid::equiangular(19, 36, true).unwrap();
    let t0 = parse_date("2020-01-01").unwrap();
    // 6-hourly 0..48 h without 24 h: one gap of one step.
    let ts: Vec<i64> = (0..=8)
        .filter(|k| *k != 4)
        .map(|k| t0 + 6 * HOUR * k)
        .collect();
    write_synthetic(
        &dir.join("pl.nc"),
        &grid,
        &ts,
        &["z", "t"],
        &[500, 850],
        &WriteOptions::old_cds(),
    )
    .unwrap();
    // The surface file lacks the last time.
    write_synthetic(
        &dir.join("sfc.nc"),
        &grid,
        &ts[..ts.len() - 1],
        &["t2m"],
        &[],
        &WriteOptions::new_cds(),
    )
    .unwrap();
    let ok = inspect(&[&dir]);
    assert_eq!(ok.files.len(), 2);
    let pl = &ok.files[0];
    assert!(
        pl.variables[0].packing.starts_with("int16 packed"),
        "{}",
        pl.variables[0].packing
    );
    assert_eq!(ok.files[1].variables[0].packing, "float32");
    let m = ok.merged.as_ref().unwrap();
    assert_eq!(m.time.step_s, Some(6 * HOUR));
    assert_eq!(m.time.gaps.len(), 1);
    assert_eq!(m.time.gaps[0].after, "2020-01-01T18:00");
    assert_eq!(ok.problems.len(), 1, "{:?}", ok.problems);
    assert!(
        ok.problems[0].starts_with("t2m: 1 of the 8 times are missing (first 2020-01-03T00:00)"),
        "{}",
        ok.problems[0]
    );

    // Add a truncated file and a missing path: each one more line.
    let bytes = std::fs::read(dir.join("pl.nc")).unwrap();
    std::fs::write(dir.join("cut.nc"), &bytes[..bytes.len() / 3]).unwrap();
    let bad = inspect(&[dir.clone(), dir.join("absent.nc")]);
    assert_eq!(bad.problems.len(), 3, "{:?}", bad.problems);
    assert!(bad
        .problems
        .iter()
        .any(|p| p.contains("absent.nc") && p.contains("no such file")));
    assert!(bad
        .problems
        .iter()
        .any(|p| p.contains("cut.nc") && p.contains("cannot open")));
    std::fs::remove_dir_all(&dir).unwrap();
}
