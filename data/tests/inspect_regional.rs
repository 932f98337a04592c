//! `fastnet_data::regional` on files numpy/netCDF4 write as the CDS does
//! (inspect_cds_files.py): each box's extent, and fields read north to south
//! / west to east equal to numpy's values (packing, NaN and fill values,
//! flipped latitudes, longitudes across 0°, the ERA5/ERA5T `expver` mix).
//!
//! One test in this binary writes NetCDF (through Python, out of process),
//! so no lock is needed.

use std::path::{Path, PathBuf};
use std::process::Command;

use fastnet_data::fixture::scratch_dir;
use fastnet_data::regional::{RegionalData, RegionalFile};
use fastnet_data::DataError;
use serde_json::Value;

/// Writes the CDS-like files into `dir`; returns numpy's expectations.
pub fn write_cds_files(dir: &Path) -> Value {
    let python = std::env::var("FASTNET_PYTHON")
        .expect("FASTNET_PYTHON is not set: run scripts/setup.sh (it writes .cargo/config.toml)");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inspect_cds_files.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(dir)
        .output()
        .expect("running the setup's Python");
    assert!(
        out.status.success(),
        "inspect_cds_files.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from inspect_cds_files.py")
}

fn check_fields(data: &RegionalData, file: &str, want: &Value) {
    for f in want["fields"].as_array().unwrap() {
        let var = f["var"].as_str().unwrap();
        let level = f["level"].as_u64().map(|l| l as u32);
        let t = f["time"].as_i64().unwrap_or(0);
        let mut out = vec![0f32; data.area.len()];
        let missing = data.read_field(var, level, t, &mut out).unwrap();
        let values = f["values"].as_array().unwrap();
        assert_eq!(values.len(), out.len(), "{file} {var}");
        assert_eq!(
            missing as u64,
            f["missing"].as_u64().unwrap(),
            "{file} {var}"
        );
        for (k, (got, want)) in out.iter().zip(values).enumerate() {
            match want.as_f64() {
                None => assert!(got.is_nan(), "{file} {var} point {k}: {got}, expected NaN"),
                Some(w) => assert!(
                    (*got as f64 - w).abs() <= 1e-6 * w.abs(),
                    "{file} {var} {level:?} at {t}, point {k}: {got} != {w}"
                ),
            }
        }
    }
}

#[test]
fn cds_area_downloads_read_like_numpy_says() {
    let dir = scratch_dir("regional");
    let want = write_cds_files(&dir);
    let path = |name: &str| -> PathBuf { dir.join(name) };

    // The new-CDS box: signed longitudes, float32 with NaN holes.
    let new = RegionalData::open(&[path("box_new.nc")]).unwrap();
    assert_eq!(
        new.area.describe(),
        "60°N..50°N, 10°W..5°E at 0.5° x 0.5° (21 x 31 points)"
    );
    assert!(!new.area.is_global());
    assert_eq!(new.times.len(), 3);
    assert_eq!(new.vars["z"].levels, Some(vec![500, 850]));
    assert_eq!(
        new.files[0].layout,
        Some(fastnet_data::writer::Layout::NewCds)
    );
    check_fields(&new, "box_new.nc", &want["box_new.nc"]);

    // The old-CDS box across 0°: int16 packed, one fill value.
    let old = RegionalData::open(&[path("box_old.nc")]).unwrap();
    assert_eq!(
        old.area.describe(),
        "45°N..40°N, 10°W..10°E at 1° x 1° (6 x 21 points)"
    );
    let t = &old.files[0].vars[0];
    assert_eq!(
        (t.short.as_str(), t.packing.storage),
        ("t", fastnet_data::scan::Storage::I16)
    );
    check_fields(&old, "box_old.nc", &want["box_old.nc"]);

    // Latitudes ascending, a static mask next to a CDS long name.
    let asc = RegionalData::open(&[path("box_asc.nc")]).unwrap();
    assert_eq!(asc.area.north(), 0.0);
    assert_eq!(asc.area.south(), -20.0);
    assert!(asc.files[0].orientation.lat_flipped);
    assert_eq!(
        asc.vars["lsm"].kind,
        fastnet_data::catalogue::VarKind::Static
    );
    check_fields(&asc, "box_asc.nc", &want["box_asc.nc"]);

    // ERA5 and ERA5T along `expver`: merged point by point.
    let mix = RegionalData::open(&[path("expver.nc")]).unwrap();
    check_fields(&mix, "expver.nc", &want["expver.nc"]);

    // A monthly climatology: described, but no field without a month.
    let clim = RegionalFile::open(&path("clim_month.nc")).unwrap();
    assert!(clim.area.is_global());
    assert_eq!(clim.other_dims.len(), 1);
    assert_eq!(clim.other_dims[0].name, "month");
    assert_eq!(
        clim.other_dims[0].values,
        (1..=12).map(f64::from).collect::<Vec<_>>()
    );
    let cd = RegionalData::open(&[path("clim_month.nc")]).unwrap();
    let mut out = vec![0f32; cd.area.len()];
    match cd.read_field("t2m", None, 0, &mut out) {
        Err(DataError::ExtraDimension { dim, len, .. }) => {
            assert_eq!((dim.as_str(), len), ("month", 12))
        }
        other => panic!("expected ExtraDimension, got {other:?}"),
    }

    // Bad requests: two boxes, an absent variable, level, time.
    match RegionalData::open(&[path("box_new.nc"), path("box_old.nc")]) {
        Err(e @ DataError::GridMismatch { .. }) => {
            let s = e.to_string();
            assert!(s.contains("box_old.nc") && s.contains("45°N..40°N"), "{s}");
        }
        Err(e) => panic!("expected GridMismatch, got {e}"),
        Ok(_) => panic!("expected GridMismatch, got a merged box"),
    }
    let mut out = vec![0f32; new.area.len()];
    let e = new
        .read_field("q", None, 0, &mut out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("q") && e.contains("t2m"), "{e}");
    let e = new
        .read_field("z", Some(700), new.times[0], &mut out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("700") && e.contains("[500, 850]"), "{e}");
    let e = new
        .read_field("t2m", None, 0, &mut out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no file holds this time"), "{e}");
    let mut short = vec![0f32; 3];
    let e = new
        .read_field("t2m", None, new.times[0], &mut short)
        .unwrap_err();
    assert!(matches!(e, DataError::BadConfig { .. }), "{e}");

    // On ERA5's 0.25° lattice; 0.5° steps land on every second point.
    let era5 = fastnet_mesh::Grid::equiangular(721, 1440, true).unwrap();
    let idx = new.indices_on(&era5).unwrap();
    assert_eq!(idx[0], 120 * 1440 + 1400);
    assert_eq!(idx[1], 120 * 1440 + 1402);
    std::fs::remove_dir_all(&dir).unwrap();
}
