//! Regridding files: a lat-lon NetCDF written here goes to O16 through
//! [`Regridder`], is read back with the dataset reader and compared with the
//! weights applied directly and with the analytic field; metadata survive;
//! bad inputs are refused.

use fastnet_data::fixture::{scratch_dir, value, write_synthetic};
use fastnet_data::regrid::{count_fields, Method, Regridder, Weights};
use fastnet_data::scan::scan_file;
use fastnet_data::time::{parse_date, HOUR};
use fastnet_data::writer::{Encoding, WriteOptions};
use fastnet_data::{DataError, Dataset};
use fastnet_mesh::Grid;

/// One test at a time (see tests/reader.rs: concurrent HDF5 opens).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn times(n: usize) -> Vec<i64> {
    let t0 = parse_date("2020-01-01").unwrap();
    (0..n as i64).map(|k| t0 + 6 * HOUR * k).collect()
}

fn attr(v: &netcdf::Variable, name: &str) -> Option<String> {
    match v.attribute_value(name)?.ok()? {
        netcdf::AttributeValue::Str(s) => Some(s),
        _ => None,
    }
}

#[test]
fn a_file_regridded_to_o16_reads_back_as_the_weights_applied() {
    let _serial = serial();
    let dir = scratch_dir("regrid-roundtrip");
    let src_grid = Grid::equiangular(37, 72, true).unwrap(); // 5° with poles
    let o16 = Grid::octahedral(16).unwrap();
    let ts = times(3);
    // Old CDS, packed int16, latitudes ascending, longitudes -180..180; and
    // the new layout with its scalar `number` and string `expver`.
    let cases = [
        (
            "pl_old.nc",
            vec!["t", "z"],
            WriteOptions {
                lat_ascending: true,
                lon_signed: true,
                ..WriteOptions::old_cds()
            },
        ),
        ("sfc_new.nc", vec!["t2m", "msl"], WriteOptions::new_cds()),
    ];
    let out_dir = dir.join("o16");
    std::fs::create_dir_all(&out_dir).unwrap();
    for method in [Method::Bilinear, Method::Conservative] {
        let mut rg = Regridder::new(o16.clone(), method).unwrap();
        let weights = Weights::new(&src_grid, &o16, method).unwrap();
        for (name, vars, opts) in &cases {
            let input = dir.join(name);
            write_synthetic(&input, &src_grid, &ts, vars, &[500, 850], opts).unwrap();
            let info = scan_file(&input).unwrap();
            let n_fields = count_fields(&info);
            let output = out_dir.join(name);
            let mut ticks = 0;
            let report = rg
                .regrid_scanned(&info, &output, &mut || ticks += 1)
                .unwrap();
            assert_eq!((report.fields, ticks), (n_fields, n_fields));
            assert!(report.dropped.is_empty(), "{:?}", report.dropped);

            let src = Dataset::open(&[&input]).unwrap();
            let out = Dataset::open(&[&output]).unwrap();
            assert_eq!(out.grid, o16);
            assert_eq!(out.times, ts);
            assert_eq!(out.files[0].layout, src.files[0].layout);
            let mut a = vec![0f32; src_grid.len()];
            let mut want = vec![0f32; o16.len()];
            let mut got = vec![0f32; o16.len()];
            let pts = o16.point_lat_lon();
            for (v, e) in &src.vars {
                assert_eq!(out.vars[v].levels, e.levels, "{v}");
                assert_eq!(out.vars[v].units, e.units, "{v}");
                let levels: Vec<Option<u32>> = match &e.levels {
                    Some(l) => l.iter().map(|&x| Some(x)).collect(),
                    None => vec![None],
                };
                for &t in &ts {
                    for &l in &levels {
                        src.read_field(v, l, t, &mut a).unwrap();
                        weights.apply_f32(&a, &mut want).unwrap();
                        out.read_field(v, l, t, &mut got).unwrap();
                        assert_eq!(got, want, "{method} {v} {l:?} {t}");
                        // and near the analytic field (5° source: loose)
                        let exact: Vec<f32> = pts
                            .iter()
                            .map(|&(la, lo)| value(v, l.unwrap_or(0), t, la, lo))
                            .collect();
                        let amp = match v.as_str() {
                            "z" => 900.0,
                            "msl" => 2000.0,
                            _ => 10.0,
                        };
                        for (g, x) in got.iter().zip(&exact) {
                            assert!((g - x).abs() < 0.05 * amp, "{method} {v}: {g} vs {x}");
                        }
                    }
                }
            }
            // metadata in the file itself
            let f = netcdf::open(&output).unwrap();
            let fv = f.variable(vars[0]).unwrap();
            assert_eq!(attr(&fv, "units").as_deref(), Some("K"));
            assert!(fv.attribute("scale_factor").is_none());
            assert_eq!(
                attr(&fv, "coordinates").as_deref(),
                Some("latitude longitude")
            );
            let lat = f.variable("latitude").unwrap();
            assert_eq!(attr(&lat, "standard_name").as_deref(), Some("latitude"));
            assert_eq!(attr(&lat, "units").as_deref(), Some("degrees_north"));
            let g = match f.attribute("grid").unwrap().value().unwrap() {
                netcdf::AttributeValue::Str(s) => s,
                other => panic!("{other:?}"),
            };
            assert_eq!(g, "O16");
            if *name == "sfc_new.nc" {
                assert!(
                    report.copied.contains(&"expver".to_string()),
                    "{:?}",
                    report.copied
                );
                assert_eq!(
                    f.variable("expver").unwrap().get_string([2]).unwrap(),
                    "0001"
                );
                assert_eq!(
                    f.variable("number")
                        .unwrap()
                        .get_value::<i64, _>(())
                        .unwrap(),
                    0
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_static_file_without_time_is_regridded() {
    let _serial = serial();
    let dir = scratch_dir("regrid-static");
    let src = Grid::equiangular(19, 36, true).unwrap();
    let input = dir.join("static.nc");
    {
        let mut f = netcdf::create(&input).unwrap();
        f.add_dimension("latitude", 19).unwrap();
        f.add_dimension("longitude", 36).unwrap();
        let mut v = f.add_variable::<f64>("latitude", &["latitude"]).unwrap();
        v.put_values(&src.latitudes_deg(), ..).unwrap();
        let mut v = f.add_variable::<f64>("longitude", &["longitude"]).unwrap();
        v.put_values(&src.longitudes_deg(), ..).unwrap();
        let mut v = f
            .add_variable::<i16>("lsm", &["latitude", "longitude"])
            .unwrap();
        v.put_attribute("units", "(0 - 1)").unwrap();
        v.put_attribute("scale_factor", 0.5f64).unwrap();
        v.put_attribute("long_name", "Land-sea mask").unwrap();
        let raw: Vec<i16> = (0..src.len()).map(|k| (k % 3) as i16).collect();
        v.put_values(&raw, ..).unwrap();
    }
    let out = dir.join("out").join("static.nc");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let o8 = Grid::octahedral(8).unwrap();
    let mut rg = Regridder::new(o8.clone(), Method::Conservative).unwrap();
    let report = rg.regrid_file(&input, &out, &mut || {}).unwrap();
    assert_eq!(report.fields, 1);
    let ds = Dataset::open(&[&out]).unwrap();
    assert!(ds.times.is_empty());
    let mut got = vec![0f32; o8.len()];
    ds.read_field("lsm", None, 0, &mut got).unwrap();
    let unpacked: Vec<f32> = (0..src.len()).map(|k| 0.5 * (k % 3) as f32).collect();
    let mut want = vec![0f32; o8.len()];
    Weights::new(&src, &o8, Method::Conservative)
        .unwrap()
        .apply_f32(&unpacked, &mut want)
        .unwrap();
    assert_eq!(got, want);
    let f = netcdf::open(&out).unwrap();
    let v = f.variable("lsm").unwrap();
    assert_eq!(attr(&v, "long_name").as_deref(), Some("Land-sea mask"));
    assert!(matches!(
        v.vartype(),
        netcdf::types::NcVariableType::Float(_)
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gaussian_inputs_points_targets_and_overwriting_the_input_are_refused() {
    let _serial = serial();
    let dir = scratch_dir("regrid-bad");
    let o8 = Grid::octahedral(8).unwrap();
    let ts = times(1);
    let on_o8 = dir.join("o8.nc");
    let opts = WriteOptions {
        encoding: Encoding::Float32,
        ..WriteOptions::new_cds()
    };
    write_synthetic(&on_o8, &o8, &ts, &["t2m"], &[], &opts).unwrap();
    let mut rg = Regridder::new(Grid::octahedral(16).unwrap(), Method::Bilinear).unwrap();
    let out = dir.join("out.nc");
    let e = rg.regrid_file(&on_o8, &out, &mut || {}).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, DataError::Regrid { .. }), "{m}");
    assert!(
        m.contains("o8.nc") && m.contains("already on a Gaussian grid"),
        "{m}"
    );
    assert!(!out.exists());

    let pts = Grid::points(&[(0.0, 0.0)]).unwrap();
    let e = Regridder::new(pts, Method::Bilinear).err().unwrap();
    assert!(e.to_string().contains("reduced Gaussian grids"), "{e}");

    let ll = dir.join("ll.nc");
    write_synthetic(
        &ll,
        &Grid::equiangular(19, 36, true).unwrap(),
        &ts,
        &["t2m"],
        &[],
        &opts,
    )
    .unwrap();
    let e = rg.regrid_file(&ll, &ll, &mut || {}).unwrap_err();
    assert!(e.to_string().contains("is the input"), "{e}");
    assert!(Dataset::open(&[&ll]).is_ok(), "the input must survive");
    std::fs::remove_dir_all(&dir).unwrap();
}
