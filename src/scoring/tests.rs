use super::*;
use crate::forecast::file::{vars_of, ForecastLayout, ForecastWriter};
use fastnet_data::channels::ChannelSet;
use fastnet_data::fixture::{scratch_dir, value, write_synthetic};
use fastnet_data::writer::WriteOptions;
use fastnet_mesh::Grid;

const T0: Timestamp = 1_577_836_800; // 2020-01-01

/// Truth on 48 h; a forecast = truth + offsets (t850 +1 K, t2m −2 K, wind
/// exact), inits at 0 and 6 h, leads 6, 12 and 48 h (the last runs past
/// the truth for the second init).
pub(crate) fn setup(dir: &std::path::Path) -> (Dataset, ForecastFile) {
    setup_on(dir, &Grid::from_spec("latlon:10").unwrap())
}

/// [`setup`] on any grid.
pub(crate) fn setup_on(dir: &std::path::Path, grid: &Grid) -> (Dataset, ForecastFile) {
    let grid = grid.clone();
    let times: Vec<Timestamp> = (0..=8).map(|k| T0 + k * 6 * 3600).collect();
    let truth_path = dir.join("truth.nc");
    write_synthetic(
        &truth_path,
        &grid,
        &times,
        &["t", "u", "v", "t2m"],
        &[500, 850],
        &WriteOptions::new_cds(),
    )
    .unwrap();
    let set = ChannelSet::from_names(&["cos_lat"], &["t850", "u850", "v850", "t2m"]).unwrap();
    let layout = ForecastLayout {
        grid: grid.clone(),
        vars: vars_of(&set).unwrap(),
        init_times: vec![T0, T0 + 6 * 3600],
        lead_hours: vec![6, 12, 48],
        attributes: vec![],
    };
    let fc_path = dir.join("fc.nc");
    let mut w = ForecastWriter::create(&fc_path, layout.clone(), &set).unwrap();
    for (i, &t0) in layout.init_times.iter().enumerate() {
        for (l, &h) in layout.lead_hours.iter().enumerate() {
            let t = t0 + h * 3600;
            let s: Vec<f32> = grid
                .point_lat_lon()
                .iter()
                .flat_map(|&(la, lo)| {
                    [
                        value("t", 850, t, la, lo) + 1.0,
                        value("u", 850, t, la, lo),
                        value("v", 850, t, la, lo),
                        value("t2m", 0, t, la, lo) - 2.0,
                    ]
                })
                .collect();
            w.write(i, l, &s).unwrap();
        }
    }
    w.finish().unwrap();
    (
        Dataset::open(&[truth_path]).unwrap(),
        ForecastFile::open(&fc_path).unwrap(),
    )
}

/// The global scores of `fc` against `dir/truth.nc` ([`setup`]'s truth).
fn score(dir: &std::path::Path, fc: &ForecastFile) -> Evaluation {
    let truth = Truth::open(&[dir.join("truth.nc")]).unwrap();
    let mut ev = evaluate("test", fc, &truth, None, &[], &mut |_, _| {}).unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].region, "global");
    ev.remove(0)
}

#[test]
fn scores_match_the_known_offsets_and_missing_truth_is_counted() {
    let _serial = crate::netcdf_serial();
    let dir = scratch_dir("scoring");
    let (truth, fc) = setup(&dir);
    let ev = score(&dir, &fc);
    let row = |v: &str, h: i64| {
        ev.rows
            .iter()
            .find(|r| r.variable == v && r.lead_hours == h)
            .unwrap()
    };
    for h in [6, 12] {
        let t = row("t850", h);
        assert!(
            (t.summary.rmse - 1.0).abs() < 1e-4 && (t.summary.bias - 1.0).abs() < 1e-4,
            "{t:?}"
        );
        assert_eq!((t.summary.count, t.skipped, t.units.as_str()), (2, 0, "K"));
        let t2 = row("t2m", h);
        assert!((t2.summary.rmse - 2.0).abs() < 1e-4 && (t2.summary.bias + 2.0).abs() < 1e-4);
        assert!(row("u850", h).summary.rmse < 1e-4);
    }
    // lead 48 h: only the first init's valid time (T0 + 48 h) is in the truth
    assert_eq!(
        (row("t850", 48).summary.count, row("t850", 48).skipped),
        (1, 1)
    );
    let w = ev
        .wind
        .iter()
        .find(|w| w.variable == "wind850" && w.lead_hours == 6)
        .unwrap();
    assert!(w.summary.wind_vector_rmse < 1e-4 && w.summary.direction_error_deg < 1e-2);
    // spectra: the forecast's t2m differs from the truth only by a constant (l = 0)
    let (pf, pt, n) = spectra(&fc, &truth, "t2m", None, 0, None).unwrap();
    assert_eq!(n, 2);
    for l in 1..pf.len() {
        assert!(
            (pf[l] - pt[l]).abs() <= 1e-6 * pt[l].max(1e-12) + 1e-6,
            "l = {l}: {} vs {}",
            pf[l],
            pt[l]
        );
    }
    assert!(pf[0] < pt[0]);
    // the map's error field is the known offset everywhere
    let fe = field_error(&fc, &truth, "t2m", None, 1, 0).unwrap();
    assert_eq!(fe.valid, T0 + 12 * 3600);
    assert_eq!(fe.error.len(), fc.grid.len());
    assert!(fe.error.iter().all(|e| (e + 2.0).abs() < 1e-3));
    assert!(field_error(&fc, &truth, "t2m", None, 2, 0).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn octahedral_forecast_files_are_scored_with_their_quadrature_weights() {
    // the same offsets on O8 (544 points on a `values` dimension): the
    // scores, the spectra from the octahedral transform and the map's
    // error field see them exactly as on a lat-lon grid
    let _serial = crate::netcdf_serial();
    let dir = scratch_dir("scoring-o8");
    let grid = Grid::octahedral(8).unwrap();
    let (truth, fc) = setup_on(&dir, &grid);
    assert_eq!(fc.grid, grid);
    let ev = score(&dir, &fc);
    let row = |v: &str| {
        ev.rows
            .iter()
            .find(|r| r.variable == v && r.lead_hours == 6)
            .unwrap()
    };
    assert!((row("t850").summary.rmse - 1.0).abs() < 1e-4);
    assert!((row("t2m").summary.bias + 2.0).abs() < 1e-4);
    assert!(row("u850").summary.rmse < 1e-4);
    let (pf, pt, n) = spectra(&fc, &truth, "t2m", None, 0, None).unwrap();
    assert_eq!((n, pf.len()), (2, 8)); // lmax = N − 1 = 7
    for l in 1..pf.len() {
        assert!((pf[l] - pt[l]).abs() <= 1e-6 * pt[l].max(1e-12) + 1e-6);
    }
    // a constant −2 K holds 4π · 4 of power at l = 0 (Parseval on the unit sphere)
    let d0 = (pf[0].sqrt() - pt[0].sqrt()).abs();
    assert!(
        (d0 - 2.0 * (4.0 * std::f64::consts::PI).sqrt()).abs() < 1e-3,
        "{d0}"
    );
    let fe = field_error(&fc, &truth, "t2m", None, 0, 1).unwrap();
    assert_eq!(fe.error.len(), grid.len());
    assert!(fe.error.iter().all(|e| (e + 2.0).abs() < 1e-3));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn grid_and_variable_mismatches_are_refused() {
    let _serial = crate::netcdf_serial();
    let dir = scratch_dir("scoring-bad");
    let (_, fc) = setup(&dir);
    // truth with only t850, on `spec`: the error `evaluate` gives
    let error_with = |name: &str, spec: &str| {
        let truth = dir.join(name);
        write_synthetic(
            &truth,
            &Grid::from_spec(spec).unwrap(),
            &[T0],
            &["t"],
            &[850],
            &WriteOptions::new_cds(),
        )
        .unwrap();
        evaluate(
            "m",
            &fc,
            &Truth::open(&[truth]).unwrap(),
            None,
            &[],
            &mut |_, _| {},
        )
        .unwrap_err()
        .to_string()
    };
    let e = error_with("other.nc", "latlon:30");
    assert!(e.contains("grid") && e.contains("10° lat-lon"), "{e}");
    let e = error_with("only_t.nc", "latlon:10");
    assert!(
        e.contains("u850") && e.contains("missing from the truth"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
