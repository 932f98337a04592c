//! Scoring forecast files against ERA5 truth: WeatherBench2 metrics per
//! variable, level and lead time ([`fastnet_eval::metrics`]), wind-vector
//! scores for every (u, v) pair, power spectra at chosen leads, and the
//! forecast − truth field a map shows.
//!
//! Forecasts are matched with the truth by valid time; a (init, lead) whose
//! valid time the truth does not cover is skipped and counted, never filled.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use fastnet_data::time::{day_of_year, Timestamp};
use fastnet_data::Dataset;
use fastnet_eval::metrics::{
    score_field, score_wind, summarise, summarise_wind, AreaWeights, FieldScores, Summary,
    WindScores, WindSummary,
};
use fastnet_eval::GridSht;
use serde::{Deserialize, Serialize};

use crate::forecast::file::ForecastFile;

/// Scores of one channel at one lead time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScoreRow {
    pub model: String,
    /// Channel name, e.g. `z500`, `t2m`.
    pub variable: String,
    pub level_hpa: Option<u32>,
    pub lead_hours: i64,
    pub units: String,
    #[serde(flatten)]
    pub summary: Summary,
    /// Init times whose valid time the truth did not cover.
    pub skipped: usize,
}

/// Wind scores of one (u, v) pair at one lead time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WindRow {
    pub model: String,
    /// `wind10m` or `wind850`, ...
    pub variable: String,
    pub lead_hours: i64,
    #[serde(flatten)]
    pub summary: WindSummary,
}

/// Everything `fastnet eval` reports for one forecast file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Evaluation {
    pub model: String,
    pub forecast: String,
    pub rows: Vec<ScoreRow>,
    pub wind: Vec<WindRow>,
}

/// A climatology for ACC: ERA5-layout data whose fields are looked up by the
/// valid time's day of year and hour (any year).
pub struct Climatology {
    ds: Dataset,
    by_doy_hour: BTreeMap<(u32, i64), Timestamp>,
}

impl Climatology {
    pub fn new(ds: Dataset) -> Climatology {
        let by_doy_hour = ds
            .times
            .iter()
            .map(|&t| ((day_of_year(t).0, t.rem_euclid(86400) / 3600), t))
            .collect();
        Climatology { ds, by_doy_hour }
    }

    fn field(
        &self,
        var: &str,
        level: Option<u32>,
        valid: Timestamp,
        out: &mut [f32],
    ) -> Result<bool> {
        let key = (day_of_year(valid).0, valid.rem_euclid(86400) / 3600);
        let Some(&t) = self.by_doy_hour.get(&key) else {
            return Ok(false);
        };
        if !self.ds.has(var, level, t) {
            return Ok(false);
        }
        self.ds.read_field(var, level, t, out)?;
        Ok(true)
    }
}

fn units_of(truth: &Dataset, var: &str) -> String {
    truth
        .vars
        .get(var)
        .and_then(|v| v.units.clone())
        .unwrap_or_default()
}

/// Scores `fc` against `truth` (and `clim` for ACC), calling `progress`
/// with (done, total) field pairs.
pub fn evaluate(
    model: &str,
    fc: &ForecastFile,
    truth: &Dataset,
    clim: Option<&Climatology>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Evaluation> {
    if fc.grid != truth.grid {
        bail!(
            "{}: forecast grid {} differs from the truth grid {} ({} files)",
            fc.path.display(),
            fc.grid.describe(),
            truth.grid.describe(),
            truth.files.len()
        );
    }
    let weights = AreaWeights::for_grid(&fc.grid);
    // a forecast file's channels are all fields (variable, level)
    let channels = fc.channels.forecast();
    for ch in channels {
        let (name, Some((var, level))) = (&ch.name, ch.field()) else {
            continue;
        };
        let present = truth
            .vars
            .get(var)
            .is_some_and(|e| match (level, &e.levels) {
                (None, None) => true,
                (Some(l), Some(ls)) => ls.contains(&l),
                _ => false,
            });
        if !present {
            bail!(
                "{}: forecast channel {name} is missing from the truth (truth has: {})",
                fc.path.display(),
                truth.variable_list()
            );
        }
    }
    let n = fc.grid.len();
    let (ni, nl) = (fc.init_times.len(), fc.lead_hours.len());
    let total = channels.len() * ni * nl;
    let mut done = 0;
    let mut rows = Vec::new();
    let mut truth_buf = vec![0f32; n];
    let mut clim_buf = vec![0f32; n];
    for ch in channels {
        let (name, Some((var, level))) = (&ch.name, ch.field()) else {
            continue;
        };
        for l in 0..nl {
            let mut scores: Vec<FieldScores> = Vec::new();
            let mut skipped = 0;
            for i in 0..ni {
                done += 1;
                progress(done, total);
                let valid = fc.valid_time(i, l);
                if !truth.has(var, level, valid) {
                    skipped += 1;
                    continue;
                }
                let f = fc.read(var, level, i, l)?;
                if f.iter().all(|v| v.is_nan()) {
                    skipped += 1;
                    continue;
                }
                truth.read_field(var, level, valid, &mut truth_buf)?;
                let have_clim = match clim {
                    Some(c) => c.field(var, level, valid, &mut clim_buf)?,
                    None => false,
                };
                let ca = have_clim.then_some(clim_buf.as_slice());
                let s = score_field(&weights, &f, &truth_buf, ca)
                    .with_context(|| format!("{name} at init {i}, lead {} h", fc.lead_hours[l]))?;
                scores.push(s);
            }
            if let Some(summary) = summarise(&scores) {
                rows.push(ScoreRow {
                    model: model.into(),
                    variable: name.clone(),
                    level_hpa: level,
                    lead_hours: fc.lead_hours[l],
                    units: units_of(truth, var),
                    summary,
                    skipped,
                });
            }
        }
    }
    // wind pairs: u10/v10 (`wind10m`), and u/v at the same level (`wind850`, ...)
    let mut wind = Vec::new();
    let mut ub = vec![0f32; n];
    let mut vb = vec![0f32; n];
    for pair in fc.channels.wind_pairs() {
        let (u, v, level) = (pair.u_var.as_str(), pair.v_var.as_str(), pair.level);
        for l in 0..nl {
            let mut scores: Vec<WindScores> = Vec::new();
            for i in 0..ni {
                let valid = fc.valid_time(i, l);
                if !(truth.has(u, level, valid) && truth.has(v, level, valid)) {
                    continue;
                }
                let (fu, fv) = (fc.read(u, level, i, l)?, fc.read(v, level, i, l)?);
                truth.read_field(u, level, valid, &mut ub)?;
                truth.read_field(v, level, valid, &mut vb)?;
                scores.push(score_wind(&weights, &fu, &fv, &ub, &vb)?);
            }
            if let Some(summary) = summarise_wind(&scores) {
                wind.push(WindRow {
                    model: model.into(),
                    variable: pair.name.clone(),
                    lead_hours: fc.lead_hours[l],
                    summary,
                });
            }
        }
    }
    Ok(Evaluation {
        model: model.into(),
        forecast: fc.path.display().to_string(),
        rows,
        wind,
    })
}

/// Mean power spectra of one channel at one lead time over the init times,
/// for the forecast and for the truth at the same valid times:
/// (`[lmax + 1]` forecast, `[lmax + 1]` truth, number of init times), units
/// of the field squared. The transform is the grid's ([`GridSht`]: lat-lon
/// or octahedral / regular Gaussian) truncated at `lmax` (`None`: the grid's
/// default, e.g. 95 on O96).
pub fn spectra(
    fc: &ForecastFile,
    truth: &Dataset,
    var: &str,
    level: Option<u32>,
    lead: usize,
    lmax: Option<usize>,
) -> Result<(Vec<f64>, Vec<f64>, usize)> {
    let sht = GridSht::for_grid(&fc.grid, lmax).with_context(|| {
        format!(
            "{}: the spectral transform of its {}",
            fc.path.display(),
            fc.grid.describe()
        )
    })?;
    let mut pf = vec![0.0; sht.lmax() + 1];
    let mut pt = vec![0.0; sht.lmax() + 1];
    let mut count = 0;
    let mut tb = vec![0f32; fc.grid.len()];
    for i in 0..fc.init_times.len() {
        let valid = fc.valid_time(i, lead);
        if !truth.has(var, level, valid) {
            continue;
        }
        let f = fc.read(var, level, i, lead)?;
        truth.read_field(var, level, valid, &mut tb)?;
        let to64 = |x: &[f32]| x.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
        for (acc, field) in [(&mut pf, to64(&f)), (&mut pt, to64(&tb))] {
            let p = sht.power_spectrum(&field)?;
            for (a, b) in acc.iter_mut().zip(p) {
                *a += b;
            }
        }
        count += 1;
    }
    if count == 0 {
        bail!(
            "{}: no init time of lead {} h has truth for {var}",
            fc.path.display(),
            fc.lead_hours[lead]
        );
    }
    for a in pf.iter_mut().chain(pt.iter_mut()) {
        *a /= count as f64;
    }
    Ok((pf, pt, count))
}

/// One forecast field and its error against the truth at the same valid
/// time, as drawn by `fastnet plot map`.
#[derive(Clone, Debug)]
pub struct FieldError {
    /// `[npoints]` forecast field in the grid's point order (lat-lon:
    /// `[nlat * nlon]` latitude-major), units of the variable.
    pub forecast: Vec<f64>,
    /// `[npoints]` forecast − truth, units of the variable.
    pub error: Vec<f64>,
    /// The valid time, init + lead.
    pub valid: Timestamp,
}

/// The forecast of `var` at `level` (hPa) for init index `init` and lead
/// index `lead` of `fc`, and its error `forecast − truth` against the truth
/// at the valid time. Errors when the indices are outside the file or the
/// truth lacks the field.
pub fn field_error(
    fc: &ForecastFile,
    truth: &Dataset,
    var: &str,
    level: Option<u32>,
    init: usize,
    lead: usize,
) -> Result<FieldError> {
    if init >= fc.init_times.len() || lead >= fc.lead_hours.len() {
        bail!(
            "{}: no (init {init}, lead {lead}) among its {} init times x {} leads",
            fc.path.display(),
            fc.init_times.len(),
            fc.lead_hours.len()
        );
    }
    let forecast: Vec<f64> = fc
        .read(var, level, init, lead)?
        .into_iter()
        .map(f64::from)
        .collect();
    let mut t = vec![0f32; fc.grid.len()];
    let valid = fc.valid_time(init, lead);
    truth
        .read_field(var, level, valid, &mut t)
        .with_context(|| {
            format!(
                "truth for {var}{} at {}",
                level.map_or(String::new(), |l| l.to_string()),
                fastnet_data::time::format_time(valid)
            )
        })?;
    let error = forecast
        .iter()
        .zip(&t)
        .map(|(f, &t)| f - f64::from(t))
        .collect();
    Ok(FieldError {
        forecast,
        error,
        valid,
    })
}

#[cfg(test)]
pub(crate) mod tests {
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

    #[test]
    fn scores_match_the_known_offsets_and_missing_truth_is_counted() {
        let _serial = crate::netcdf_serial();
        let dir = scratch_dir("scoring");
        let (truth, fc) = setup(&dir);
        let ev = evaluate("test", &fc, &truth, None, &mut |_, _| {}).unwrap();
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
        let ev = evaluate("test", &fc, &truth, None, &mut |_, _| {}).unwrap();
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
                &Dataset::open(&[&truth]).unwrap(),
                None,
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
}
