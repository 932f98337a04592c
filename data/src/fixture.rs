//! Deterministic synthetic ERA5-like data for tests and benchmarks: an
//! analytic field per (variable, level, time, point) and helpers that write
//! it in any layout through [`crate::writer`], on lat-lon grids or on
//! reduced Gaussian grids (O96, N48, ...: the `values` point layout).

use std::path::Path;

use fastnet_mesh::Grid;

use crate::catalogue;
use crate::channels::FASTNET_LEVELS;
use crate::error::Result;
use crate::time::Timestamp;
use crate::writer::{write_era5, Encoding, VarData, WriteOptions};

/// Value of the synthetic field `var` at `level` hPa (0 for surface),
/// time `t`, latitude / longitude in degrees: a variable-dependent base plus
/// a wave travelling eastwards by 15° per 6 h and a daily cycle.
pub fn value(var: &str, level: u32, t: Timestamp, lat_deg: f64, lon_deg: f64) -> f32 {
    let base = match var {
        "z" | "orography_source" => 1000.0 + 50.0 * (1000.0 - level as f64),
        "t" | "t2m" | "d2m" | "skt" => 220.0 + 0.06 * level as f64,
        "q" => 1e-3,
        "msl" | "sp" => 101_325.0,
        "lsm" | "slor" => 0.5,
        _ => 20.0 + 0.01 * level as f64,
    };
    let amp = match var {
        "q" => 5e-4,
        "lsm" | "slor" => 0.4,
        "msl" | "sp" => 2000.0,
        "z" | "orography_source" => 900.0,
        _ => 10.0,
    };
    let hours = t as f64 / 3600.0;
    let phase = (lon_deg - 2.5 * hours).to_radians();
    let wave = lat_deg.to_radians().cos() * phase.cos() + 0.3 * (2.0 * lat_deg.to_radians()).sin();
    let daily = if catalogue::by_short(var).is_some_and(|v| v.kind == catalogue::VarKind::Static) {
        0.0
    } else {
        0.1 * (2.0 * std::f64::consts::PI * hours / 24.0).sin()
    };
    (base + amp * (wave + daily)) as f32
}

/// Canonical-orientation values of `var` on `grid` at `times`:
/// `[time, level, *grid.shape()]` — `[.., lat, lon]` or `[.., npoints]` in
/// the grid's point order (one level `0` for surface variables).
pub fn values(var: &str, levels: Option<&[u32]>, grid: &Grid, times: &[Timestamp]) -> Vec<f32> {
    let pts = grid.point_lat_lon();
    let lv: Vec<u32> = levels.map_or(vec![0], <[u32]>::to_vec);
    let mut out = Vec::with_capacity(times.len() * lv.len() * pts.len());
    for &t in times {
        for &l in &lv {
            out.extend(pts.iter().map(|&(la, lo)| value(var, l, t, la, lo)));
        }
    }
    out
}

/// The ERA5 units of a short name (first spelling in the catalogue).
pub fn units_of(short: &str) -> String {
    catalogue::by_short(short)
        .map_or("1", |v| v.units[0])
        .to_string()
}

/// Writes the synthetic fields of `vars` (short names; upper-air ones on
/// `levels`) to `path`. Static variables (`lsm`, `sdor`, `slor`, surface
/// geopotential `z` without levels) are written with the given times too, as
/// the CDS does with a single time.
pub fn write_synthetic(
    path: &Path,
    grid: &Grid,
    times: &[Timestamp],
    vars: &[&str],
    levels: &[u32],
    opts: &WriteOptions,
) -> Result<()> {
    let data: Vec<VarData> = vars
        .iter()
        .map(|&v| {
            let upper =
                catalogue::by_short(v).is_some_and(|i| i.kind == catalogue::VarKind::UpperAir);
            let lv = upper.then_some(levels);
            VarData {
                name: v.to_string(),
                units: units_of(v),
                levels: lv.map(<[u32]>::to_vec),
                values: values(v, lv, grid, times),
            }
        })
        .collect();
    write_era5(path, grid, times, &data, opts)
}

/// Writes the time-invariant fields `names` (of `lsm`, `z` — surface
/// geopotential, whose orography follows the field `orography_source` —
/// `sdor`, `slor`) at time `t`, as float32 in the old CDS layout.
pub fn write_static(path: &Path, grid: &Grid, t: Timestamp, names: &[&str]) -> Result<()> {
    let pts = grid.point_lat_lon();
    let vars: Vec<VarData> = names
        .iter()
        .map(|&name| VarData {
            name: name.into(),
            units: match name {
                "lsm" => "(0 - 1)",
                "z" => "m**2 s**-2",
                "sdor" => "m",
                _ => "~",
            }
            .into(),
            levels: None,
            values: pts
                .iter()
                .map(|&(la, lo)| {
                    let source = if name == "z" {
                        "orography_source"
                    } else {
                        name
                    };
                    value(source, 0, 0, la, lo)
                })
                .collect(),
        })
        .collect();
    write_era5(
        path,
        grid,
        &[t],
        &vars,
        &WriteOptions {
            encoding: Encoding::Float32,
            ..WriteOptions::old_cds()
        },
    )
}

/// FastNet's ERA5 inputs in `dir`: `era5_pl.nc` (z, q, t, u, v on the 13
/// levels), `era5_sfc.nc` (the seven surface fields), both in `opts`'
/// layout, and `era5_static.nc` (lsm, z, sdor, slor).
pub fn write_fastnet_fixture(
    dir: &Path,
    grid: &Grid,
    times: &[Timestamp],
    opts: &WriteOptions,
) -> Result<()> {
    write_synthetic(
        &dir.join("era5_pl.nc"),
        grid,
        times,
        &["z", "q", "t", "u", "v"],
        &FASTNET_LEVELS,
        opts,
    )?;
    write_synthetic(
        &dir.join("era5_sfc.nc"),
        grid,
        times,
        &["u10", "v10", "d2m", "t2m", "msl", "skt", "sp"],
        &[],
        opts,
    )?;
    write_static(
        &dir.join("era5_static.nc"),
        grid,
        times.first().copied().unwrap_or(0),
        &["lsm", "z", "sdor", "slor"],
    )
}

/// A fresh, empty scratch folder under the system temp dir, unique per
/// `name` and process.
pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fastnet-data-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Builds a genuine anemoi-datasets store with `anemoi-datasets create` in
/// the setup's Python (`FASTNET_PYTHON`, written by scripts/setup.sh into
/// .cargo/config.toml): `scripts/anemoi_fixture.py KIND OUT` (kinds
/// `latlon`, `ensemble`, `o8`; see the script). Returns `OUT`, which holds
/// `source.nc` and `store.zarr`. For tests run from the source tree.
pub fn build_anemoi_store(
    kind: &str,
    out: &Path,
) -> std::result::Result<std::path::PathBuf, String> {
    let python = std::env::var("FASTNET_PYTHON").map_err(|_| {
        "FASTNET_PYTHON is not set: run scripts/setup.sh (it writes .cargo/config.toml)".to_string()
    })?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/anemoi_fixture.py");
    let _ = std::fs::remove_dir_all(out);
    let r = std::process::Command::new(&python)
        .arg(&script)
        .arg(kind)
        .arg(out)
        .output()
        .map_err(|e| format!("running {python}: {e}"))?;
    if !r.status.success() {
        return Err(format!(
            "anemoi-datasets create failed (is anemoi-datasets installed? run scripts/setup.sh):\n{}{}",
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        ));
    }
    Ok(out.to_path_buf())
}
