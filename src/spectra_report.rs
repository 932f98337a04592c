//! The spectra report of `fastnet spectra` (`spectra.json`, drawn by `fastnet
//! plot spectra`): per channel and lead time, the mean power spectra of each
//! model and of the truth at the same valid times
//! ([`crate::scoring::spectra`]), with each model's effective resolution and
//! small-scale power ratio ([`fastnet_eval::spectra`]). Without forecasts,
//! [`truth`] gives the spectra of the data alone (a different JSON: an
//! object with `kind = "truth_spectra"`).

pub mod truth;
pub use truth::{select_times, truth_spectra, TruthSpectra, TruthSpectrum};

use anyhow::{Context, Result};
use fastnet_data::channels::parse_field;
use fastnet_data::Dataset;
use fastnet_eval::spectra::{effective_resolution, small_scale_power_ratio, small_scale_start};
use fastnet_eval::GridSht;
use serde::{Deserialize, Serialize};

use crate::forecast::file::ForecastFile;
use crate::scoring::spectra;

/// One (variable, lead) entry of spectra.json.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpectrumEntry {
    pub variable: String,
    pub lead_hours: i64,
    pub units: String,
    /// Power per total wavenumber of the truth at the same valid times.
    pub truth: Vec<f64>,
    /// model -> power per total wavenumber.
    pub models: Vec<(String, Vec<f64>)>,
    /// model -> effective resolution (km), see fastnet_eval::spectra.
    pub effective_resolution_km: Vec<(String, Option<f64>)>,
    /// The transform the spectra come from, e.g. `SHT on octahedral reduced
    /// Gaussian O96 (192 rings, 40320 points), lmax 95`.
    #[serde(default)]
    pub transform: String,
    /// model -> forecast power over truth power summed over the upper half
    /// of the wavenumbers (l >= lmax/2, [`small_scale_start`]): 1 keeps the
    /// small scales, < 1 blurs.
    #[serde(default)]
    pub small_scale_power_ratio: Vec<(String, Option<f64>)>,
}

/// The spectra of every channel in `variables` (`z500`, `t2m`, ...) at every
/// lead in `leads` (hours) for every `(model, file)` in `files`, against
/// `truth`: one entry per (variable, lead), variables outermost. Spectra are
/// `[lmax + 1]` power per total wavenumber, units of the field squared, from
/// the grid's transform truncated at `lmax` (`None`: the grid's default).
/// Calls `progress` with (done, total) (variable, lead, model) spectra.
/// Errors on an unknown channel name or a lead time a file lacks.
pub fn spectra_report(
    files: &[(String, ForecastFile)],
    truth: &Dataset,
    variables: &[String],
    leads: &[i64],
    lmax: Option<usize>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<SpectrumEntry>> {
    let total = variables.len() * leads.len() * files.len();
    let mut done = 0;
    let mut out = Vec::new();
    for name in variables {
        let (var, level) = parse_field(name)?;
        for &lead in leads {
            let mut entry = SpectrumEntry {
                variable: name.clone(),
                lead_hours: lead,
                units: String::new(),
                truth: vec![],
                models: vec![],
                effective_resolution_km: vec![],
                transform: String::new(),
                small_scale_power_ratio: vec![],
            };
            for (model, fc) in files {
                let l = fc
                    .lead_hours
                    .iter()
                    .position(|&h| h == lead)
                    .with_context(|| {
                        format!(
                            "{}: no lead time {lead} h (has {:?})",
                            fc.path.display(),
                            fc.lead_hours
                        )
                    })?;
                let (pf, pt, _) = spectra(fc, truth, &var, level, l, lmax)?;
                if entry.transform.is_empty() {
                    entry.transform = GridSht::for_grid(&fc.grid, lmax)?.describe();
                }
                entry.effective_resolution_km.push((
                    model.clone(),
                    effective_resolution(&pf, &pt).map(|e| e.wavelength_km),
                ));
                let ratio = small_scale_power_ratio(&pf, &pt, small_scale_start(pf.len()));
                entry.small_scale_power_ratio.push((model.clone(), ratio));
                entry.models.push((model.clone(), pf));
                if entry.truth.is_empty() {
                    entry.truth = pt;
                }
                entry.units = truth
                    .vars
                    .get(&var)
                    .and_then(|v| v.units.clone())
                    .map(|u| format!("({u})²"))
                    .unwrap_or_default();
                done += 1;
                progress(done, total);
            }
            out.push(entry);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastnet_data::fixture::scratch_dir;

    #[test]
    fn one_entry_per_variable_and_lead_with_the_scoring_spectra() {
        let _serial = crate::netcdf_serial();
        let dir = scratch_dir("spectra-report");
        let (truth, fc) = crate::scoring::tests::setup(&dir);
        let files = vec![("m".to_string(), fc)];
        let (vars, leads) = (vec!["t2m".to_string(), "t850".to_string()], vec![12, 6]);
        let mut calls = Vec::new();
        let out = spectra_report(&files, &truth, &vars, &leads, None, &mut |d, t| {
            calls.push((d, t))
        })
        .unwrap();
        assert_eq!(calls, [(1, 4), (2, 4), (3, 4), (4, 4)]);
        let keys: Vec<(&str, i64)> = out
            .iter()
            .map(|e| (e.variable.as_str(), e.lead_hours))
            .collect();
        assert_eq!(keys, [("t2m", 12), ("t2m", 6), ("t850", 12), ("t850", 6)]);
        // t2m at 6 h is lead index 0 of the file
        let (pf, pt, _) = spectra(&files[0].1, &truth, "t2m", None, 0, None).unwrap();
        let e = &out[1];
        let close = |a: &[f64], b: &[f64]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| (x - y).abs() <= 1e-12 * y.abs())
        };
        assert!(close(&e.truth, &pt) && close(&e.models[0].1, &pf));
        assert_eq!(out[2].units, "(K)²");
        assert_eq!(out[0].transform, "Clenshaw–Curtis SHT on 19 x 36, lmax 9");
        // a lower truncation: the same spectra cut at l = 5
        let cut =
            spectra_report(&files, &truth, &vars[..1], &[6], Some(5), &mut |_, _| {}).unwrap();
        assert_eq!(cut[0].transform, "Clenshaw–Curtis SHT on 19 x 36, lmax 5");
        assert_eq!(cut[0].truth.len(), 6);
        assert!(close(&cut[0].truth, &pt[..6]) && close(&cut[0].models[0].1, &pf[..6]));
        // small scales: the upper half of l = 0..=lmax; the t2m forecast
        // differs from the truth only at l = 0
        let upper = |p: &[f64]| p[p.len() / 2..].iter().sum::<f64>();
        let ratio = e.small_scale_power_ratio[0].1.unwrap();
        assert!((ratio - upper(&pf) / upper(&pt)).abs() < 1e-12 && (ratio - 1.0).abs() < 1e-3);
        assert!(e.effective_resolution_km[0].1.is_some());
        // an unknown channel and a lead the file lacks are refused
        let bad = |v: &str, l: i64| {
            spectra_report(&files, &truth, &[v.to_string()], &[l], None, &mut |_, _| {})
                .unwrap_err()
                .to_string()
        };
        assert!(bad("t2m500", 6).contains("t2m500"));
        assert!(bad("t2m", 24).contains("no lead time 24 h"));
        // 36 longitudes carry orders up to 17
        let e =
            spectra_report(&files, &truth, &vars[..1], &[6], Some(18), &mut |_, _| {}).unwrap_err();
        assert!(format!("{e:#}").contains("lmax 18"), "{e:#}");
        drop(files);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
