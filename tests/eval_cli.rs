//! `fastnet eval`, `spectra` and `plot` on a generated truth and a forecast
//! with known errors.

mod common;
use common::fastnet;

use std::path::Path;

use fastnet::forecast::file::{vars_of, ForecastLayout, ForecastWriter};
use fastnet_data::channels::ChannelSet;
use fastnet_data::fixture::{scratch_dir, value, write_synthetic};
use fastnet_data::writer::WriteOptions;
use fastnet_mesh::Grid;

const T0: i64 = 1_577_836_800;

fn forecast(path: &Path, grid: &Grid, offset: f32) {
    let set =
        ChannelSet::from_names(&["cos_lat"], &["z500", "t850", "u850", "v850", "t2m"]).unwrap();
    let layout = ForecastLayout {
        grid: grid.clone(),
        vars: vars_of(&set).unwrap(),
        init_times: vec![T0, T0 + 36 * 3600],
        lead_hours: vec![6, 12, 24],
        attributes: vec![],
    };
    let mut w = ForecastWriter::create(path, layout.clone(), &set).unwrap();
    for (i, &t0) in layout.init_times.iter().enumerate() {
        for (l, &h) in layout.lead_hours.iter().enumerate() {
            let t = t0 + h * 3600;
            let s: Vec<f32> = grid
                .point_lat_lon()
                .iter()
                .flat_map(|&(la, lo)| {
                    let wiggle = offset * ((3.0 * lo).to_radians().sin() as f32);
                    [
                        value("z", 500, t, la, lo) + 10.0 * wiggle,
                        value("t", 850, t, la, lo) + wiggle,
                        value("u", 850, t, la, lo),
                        value("v", 850, t, la, lo),
                        value("t2m", 0, t, la, lo) + offset,
                    ]
                })
                .collect();
            w.write(i, l, &s).unwrap();
        }
    }
    w.finish().unwrap();
}

#[test]
fn eval_spectra_and_plots_from_the_command_line() {
    let dir = scratch_dir("eval-cli");
    let grid = Grid::from_spec("latlon:5").unwrap();
    let times: Vec<i64> = (0..=8).map(|k| T0 + k * 6 * 3600).collect();
    let truth = dir.join("truth.nc");
    write_synthetic(
        &truth,
        &grid,
        &times,
        &["z", "t", "u", "v", "t2m", "lsm"],
        &[500, 850],
        &WriteOptions::old_cds(),
    )
    .unwrap();
    let (a, b) = (dir.join("good.nc"), dir.join("worse.nc"));
    forecast(&a, &grid, 0.5);
    forecast(&b, &grid, 2.0);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out = dir.join("scores");
    let r = fastnet(&[
        "eval",
        "--forecast",
        &s(&a),
        &format!("worse={}", s(&b)),
        "--truth",
        &s(&truth),
        "-o",
        &s(&out),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let scores: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("scores.json")).unwrap()).unwrap();
    assert_eq!(scores[1]["model"], "worse");
    let t2m = scores[1]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["variable"] == "t2m" && r["lead_hours"] == 24)
        .unwrap();
    assert!((t2m["rmse"].as_f64().unwrap() - 2.0).abs() < 1e-3, "{t2m}");
    // the second init + 24 h runs past the truth: counted, not filled
    assert_eq!(
        (t2m["count"].as_u64(), t2m["skipped"].as_u64()),
        (Some(1), Some(1))
    );
    let csv = std::fs::read_to_string(out.join("scores.csv")).unwrap();
    assert!(csv.starts_with("model,variable,level_hpa,lead_hours") && csv.lines().count() > 10);

    let spec = dir.join("spectra.json");
    let r = fastnet(&[
        "spectra",
        "--forecast",
        &s(&a),
        &s(&b),
        "--truth",
        &s(&truth),
        "--variables",
        "z500,t850",
        "--leads",
        "6,12",
        "-o",
        &s(&spec),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let sp: serde_json::Value = serde_json::from_slice(&std::fs::read(&spec).unwrap()).unwrap();
    assert_eq!(sp.as_array().unwrap().len(), 4);
    // the l = 3 wiggle adds power at l >= 3 to the worse model's t850
    let t850 = sp
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["variable"] == "t850")
        .unwrap();
    let p_truth = t850["truth"][3].as_f64().unwrap();
    let p_worse = t850["models"][1][1][3].as_f64().unwrap();
    assert!(p_worse > p_truth, "{p_worse} vs {p_truth}");

    for (args, file) in [
        (
            vec!["plot", "rmse", &s(&out.join("scores.json"))],
            "rmse.png",
        ),
        (vec!["plot", "spectra", &s(&spec)], "spectra.png"),
        (
            vec![
                "plot",
                "map",
                "--forecast",
                &s(&b),
                "--truth",
                &s(&truth),
                "--variable",
                "t850",
                "--lead",
                "12",
                "--lsm",
                &s(&truth),
            ],
            "map.png",
        ),
    ] {
        let png = dir.join(file);
        let mut a: Vec<&str> = args.iter().map(|x| x.as_ref()).collect();
        let ps = s(&png);
        a.extend(["-o", &ps]);
        let r = fastnet(&a);
        assert!(
            r.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert!(
            std::fs::metadata(&png).unwrap().len() > 10_000,
            "{file} is too small to hold a plot"
        );
    }
    // fastnet loss: the t2m offset of 2 K costs (2 / std)² in normalised MSE
    let stats = dir.join("stats.json");
    let r = fastnet(&[
        "stats",
        "--data",
        &s(&truth),
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-03",
        "--forecast",
        "z500,t850,u850,v850,t2m",
        "--non-forecast",
        "cos_lat",
        "-o",
        &s(&stats),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let st: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    let t2m_std = st["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "t2m")
        .unwrap()["std"]
        .as_f64()
        .unwrap();
    let r = fastnet(&[
        "loss",
        "--forecast",
        &s(&b),
        "--truth",
        &s(&truth),
        "--stats",
        &s(&stats),
        "--json",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let rep: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let row = rep["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["channel"] == "t2m" && x["lead_hours"] == 6)
        .unwrap();
    let want = (2.0 / t2m_std).powi(2);
    assert!(
        (row["mse"].as_f64().unwrap() - want).abs() < 1e-3 * want,
        "{row} vs {want}"
    );
    // a constant offset has no horizontal gradient and changes only l = 0
    assert!(
        row["grad_x"].as_f64().unwrap() < 1e-6 * want
            && row["grad_y"].as_f64().unwrap() < 1e-6 * want,
        "{row}"
    );
    let z = rep["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["channel"] == "u850" && x["lead_hours"] == 6)
        .unwrap();
    assert!(z["mse"].as_f64().unwrap() < 1e-8, "{z}");
    assert!(rep["totals"]["6"]["total"].as_f64().unwrap() > 0.0);

    // bad input: a missing forecast file, one clear line
    let r = fastnet(&[
        "eval",
        "--forecast",
        "/nonexistent/fc.nc",
        "--truth",
        &s(&truth),
        "-o",
        &s(&out),
    ]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1));
    assert!(err.contains("/nonexistent/fc.nc"), "{err}");
    if std::env::var_os("FASTNET_KEEP_TEST_OUTPUT").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
