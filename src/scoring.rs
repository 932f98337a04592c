//! Scoring forecast files against the truth: WeatherBench2 metrics per
//! region, variable, level and lead time ([`fastnet_eval::metrics`] over
//! [`fastnet_eval::Region`]s), wind-vector scores for every (u, v) pair,
//! power spectra at chosen leads, and the forecast − truth field a map
//! shows.
//!
//! Forecasts are matched with the truth by valid time (init + lead, as
//! WeatherBench2's `truth.sel(time=forecast.valid_time)`); a (init, lead)
//! whose valid time the truth does not cover is skipped and counted, never
//! filled. Per lead time the scores average over init times
//! (WeatherBench2's `Metric.compute` mean over `init_time`).

mod climatology;
mod truth;

use anyhow::{bail, Context, Result};
use fastnet_data::time::Timestamp;
use fastnet_data::Dataset;
use fastnet_eval::metrics::{
    score_field, score_wind, summarise, summarise_wind, AreaWeights, FieldScores, Summary,
    WindScores, WindSummary,
};
use fastnet_eval::{GridSht, Region};
use serde::{Deserialize, Serialize};

pub use climatology::{Climatology, Wb2Climatology};
pub use truth::Truth;

use crate::forecast::file::ForecastFile;

fn global_name() -> String {
    "global".into()
}

/// Scores of one channel at one lead time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScoreRow {
    pub model: String,
    /// The region averaged over (`global`, `europe`, `box(...)`); absent
    /// in scores written before regions existed.
    #[serde(default = "global_name")]
    pub region: String,
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
    #[serde(default = "global_name")]
    pub region: String,
    /// `wind10m` or `wind850`, ...
    pub variable: String,
    pub lead_hours: i64,
    #[serde(flatten)]
    pub summary: WindSummary,
}

/// Everything `fastnet eval` reports for one forecast file over one region.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Evaluation {
    pub model: String,
    pub forecast: String,
    #[serde(default = "global_name")]
    pub region: String,
    /// The regional truth's box, when the truth was regional (the scores
    /// cover only its points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth_area: Option<String>,
    pub rows: Vec<ScoreRow>,
    pub wind: Vec<WindRow>,
}

/// The weights of every region on `fc`'s grid, restricted to the truth's
/// points when the truth is regional.
fn region_weights(
    fc: &ForecastFile,
    truth: &Truth,
    placement: Option<&[usize]>,
    regions: &[Region],
) -> Result<Vec<AreaWeights>> {
    let mut cover = None;
    if let Some(idx) = placement {
        let mut m = vec![false; fc.grid.len()];
        for &k in idx {
            m[k] = true;
        }
        cover = Some(m);
    }
    regions
        .iter()
        .map(|r| {
            let w = r
                .weights(&fc.grid)
                .with_context(|| format!("{}: region {}", fc.path.display(), r.name))?;
            match &cover {
                None => Ok(w),
                Some(m) => w.masked(m).map_err(|_| {
                    anyhow::anyhow!(
                        "region {} does not overlap the regional truth {}",
                        r.name,
                        truth.area().unwrap_or_default()
                    )
                }),
            }
        })
        .collect()
}

/// Scores `fc` against `truth` (and `clim` for ACC) over each of `regions`
/// (global if empty): one [`Evaluation`] per region. Calls `progress` with
/// (done, total) field pairs.
pub fn evaluate(
    model: &str,
    fc: &ForecastFile,
    truth: &Truth,
    clim: Option<&Climatology>,
    regions: &[Region],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<Evaluation>> {
    let what = fc.path.display().to_string();
    let placement = truth.placement(&fc.grid, &what)?;
    let placement = placement.as_deref();
    if let Some(c) = clim {
        if c.grid() != &fc.grid {
            bail!(
                "{what}: forecast grid {} differs from the climatology's {} ({})",
                fc.grid.describe(),
                c.grid().describe(),
                c.describe()
            );
        }
    }
    let global = [Region::global()];
    let regions = if regions.is_empty() {
        &global[..]
    } else {
        regions
    };
    let weights = region_weights(fc, truth, placement, regions)?;
    let nr = regions.len();
    // a forecast file's channels are all fields (variable, level)
    let channels = fc.channels.forecast();
    for ch in channels {
        let (name, Some((var, level))) = (&ch.name, ch.field()) else {
            continue;
        };
        if !truth.has_var(var, level) {
            bail!(
                "{what}: forecast channel {name} is missing from the truth (truth has: {})",
                truth.variable_list()
            );
        }
    }
    let n = fc.grid.len();
    let (ni, nl) = (fc.init_times.len(), fc.lead_hours.len());
    let total = channels.len() * ni * nl;
    let mut done = 0;
    let mut rows: Vec<Vec<ScoreRow>> = vec![Vec::new(); nr];
    let mut truth_buf = vec![0f32; n];
    let mut clim_buf = vec![0f32; n];
    let mut scratch = Vec::new();
    let mut no_clim: Vec<String> = Vec::new();
    for ch in channels {
        let (name, Some((var, level))) = (&ch.name, ch.field()) else {
            continue;
        };
        for l in 0..nl {
            let mut scores: Vec<Vec<FieldScores>> = vec![Vec::new(); nr];
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
                truth.read_on_grid(var, level, valid, placement, &mut scratch, &mut truth_buf)?;
                let have_clim = match clim {
                    Some(c) => c.field(var, level, valid, &mut clim_buf)?,
                    None => false,
                };
                if let (Some(c), false) = (clim, have_clim) {
                    // WeatherBench2 refuses a climatology without the
                    // variable; we score the rest and say why ACC is absent.
                    if !no_clim.contains(name) {
                        eprintln!(
                            "note: {}: no {name} in the climatology: its ACC is not scored",
                            c.describe()
                        );
                        no_clim.push(name.clone());
                    }
                }
                let ca = have_clim.then_some(clim_buf.as_slice());
                for (r, w) in weights.iter().enumerate() {
                    let s = score_field(w, &f, &truth_buf, ca).with_context(|| {
                        format!(
                            "{name} at init {i}, lead {} h, region {}",
                            fc.lead_hours[l], regions[r].name
                        )
                    })?;
                    scores[r].push(s);
                }
            }
            for (r, sc) in scores.iter().enumerate() {
                if let Some(summary) = summarise(sc) {
                    rows[r].push(ScoreRow {
                        model: model.into(),
                        region: regions[r].name.clone(),
                        variable: name.clone(),
                        level_hpa: level,
                        lead_hours: fc.lead_hours[l],
                        units: truth.units(var),
                        summary,
                        skipped,
                    });
                }
            }
        }
    }
    // wind pairs: u10/v10 (`wind10m`), and u/v at the same level (`wind850`, ...)
    let mut wind: Vec<Vec<WindRow>> = vec![Vec::new(); nr];
    let mut ub = vec![0f32; n];
    let mut vb = vec![0f32; n];
    for pair in fc.channels.wind_pairs() {
        let (u, v, level) = (pair.u_var.as_str(), pair.v_var.as_str(), pair.level);
        for l in 0..nl {
            let mut scores: Vec<Vec<WindScores>> = vec![Vec::new(); nr];
            for i in 0..ni {
                let valid = fc.valid_time(i, l);
                if !(truth.has(u, level, valid) && truth.has(v, level, valid)) {
                    continue;
                }
                let (fu, fv) = (fc.read(u, level, i, l)?, fc.read(v, level, i, l)?);
                if fu.iter().all(|x| x.is_nan()) || fv.iter().all(|x| x.is_nan()) {
                    continue;
                }
                truth.read_on_grid(u, level, valid, placement, &mut scratch, &mut ub)?;
                truth.read_on_grid(v, level, valid, placement, &mut scratch, &mut vb)?;
                for (r, w) in weights.iter().enumerate() {
                    scores[r].push(score_wind(w, &fu, &fv, &ub, &vb)?);
                }
            }
            for (r, sc) in scores.iter().enumerate() {
                if let Some(summary) = summarise_wind(sc) {
                    wind[r].push(WindRow {
                        model: model.into(),
                        region: regions[r].name.clone(),
                        variable: pair.name.clone(),
                        lead_hours: fc.lead_hours[l],
                        summary,
                    });
                }
            }
        }
    }
    Ok(regions
        .iter()
        .zip(rows.into_iter().zip(wind))
        .map(|(r, (rows, wind))| Evaluation {
            model: model.into(),
            forecast: what.clone(),
            region: r.name.clone(),
            truth_area: truth.area(),
            rows,
            wind,
        })
        .collect())
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
            fc.lead_hours
                .get(lead)
                .map_or_else(|| format!("#{lead}"), |h| h.to_string())
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
pub(crate) mod tests;
