//! Spectra of data files alone (`fastnet spectra --truth ... ` with no
//! forecast): per variable, the mean power spectrum per total wavenumber
//! over the chosen times, and WeatherBench2's zonal energy spectrum
//! averaged over the times and over the rings of each latitude band
//! ([`ZONAL_BANDS`]).

use anyhow::{bail, Context, Result};
use fastnet_data::catalogue::VarKind;
use fastnet_data::channels::parse_field;
use fastnet_data::time::{format_time, parse_date, parse_range, Timestamp, HOUR};
use fastnet_data::Dataset;
use fastnet_eval::spectra::{ring_zonal_band_mean, ring_zonal_energy_spectrum};
use fastnet_eval::GridSht;
use serde::{Deserialize, Serialize};

/// The value of [`TruthSpectra::kind`], which tells a truth-only
/// spectra.json from a forecast one (a JSON array).
pub const TRUTH_KIND: &str = "truth_spectra";

/// Latitude bands of the zonal spectra: (name, southern edge, northern
/// edge), degrees; rings on an edge belong to the band.
pub const ZONAL_BANDS: [(&str, f64, f64); 3] = [
    ("northern mid-latitudes (30°N-60°N)", 30.0, 60.0),
    ("tropics (30°S-30°N)", -30.0, 30.0),
    ("southern mid-latitudes (60°S-30°S)", -60.0, -30.0),
];

/// The mean zonal energy spectrum of one latitude band.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ZonalBandSpectrum {
    pub band: String,
    pub lat_min: f64,
    pub lat_max: f64,
    /// Number of latitude rings averaged.
    pub rings: usize,
    /// Units of the field squared times metres, e.g. `(K)² m`.
    pub units: String,
    /// `[kmax + 1]` energy per zonal wavenumber `k = 0..=kmax`
    /// (`fastnet_eval::spectra::zonal_energy_spectrum`, WeatherBench2
    /// `ZonalEnergySpectrum`), mean over times and rings.
    pub power: Vec<f64>,
}

/// The spectra of one variable of the data.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TruthSpectrum {
    pub variable: String,
    /// Units of `power`: the field's squared, e.g. `(m**2 s**-2)²`.
    pub units: String,
    pub transform: String,
    /// Number of fields averaged, and the first and last of their times.
    pub times: usize,
    pub first_time: String,
    pub last_time: String,
    /// `[lmax + 1]` mean power per total wavenumber `l` (`Σ_l P_l = ∫ f² dΩ`
    /// on the unit sphere, units of the field squared).
    pub power: Vec<f64>,
    /// One entry per band of [`ZONAL_BANDS`] that holds a ring of the grid.
    pub zonal: Vec<ZonalBandSpectrum>,
}

/// spectra.json of truth-only `fastnet spectra`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TruthSpectra {
    /// Always [`TRUTH_KIND`].
    pub kind: String,
    /// The grid of the data, e.g. `1° lat-lon with poles (181 x 360)`.
    pub grid: String,
    pub spectra: Vec<TruthSpectrum>,
}

/// The times of `ds` to take: all of them (`None`), those in `FROM..TO`
/// (both ends included, a bare end date meaning the whole day), those of
/// `FROM..TO/HOURS` (every HOURS hours from FROM), or a list `D1,D2,...`
/// of dates the data must hold. Errors when nothing is left.
pub fn select_times(ds: &Dataset, spec: Option<&str>) -> Result<Vec<Timestamp>> {
    let Some(spec) = spec else {
        if ds.times.is_empty() {
            bail!("the data have no time axis ({})", ds.coverage());
        }
        return Ok(ds.times.clone());
    };
    let picked: Vec<Timestamp> = if spec.contains("..") {
        let (range, every) = match spec.split_once('/') {
            Some((r, e)) => {
                let h: i64 = e
                    .trim_end_matches('h')
                    .parse()
                    .ok()
                    .filter(|&h| h > 0)
                    .with_context(|| {
                        format!("--times {spec}: {e:?} is not a positive number of hours")
                    })?;
                (r, Some(h * HOUR))
            }
            None => (spec, None),
        };
        let (a, b) = parse_range(range).with_context(|| format!("--times {spec}"))?;
        ds.times
            .iter()
            .copied()
            .filter(|&t| t >= a && t <= b && every.is_none_or(|e| (t - a) % e == 0))
            .collect()
    } else {
        spec.split(',')
            .map(|s| {
                let t = parse_date(s).with_context(|| {
                    format!("--times: {s:?} is not a date (2020-01-01 or 2020-01-01T06)")
                })?;
                if ds.times.binary_search(&t).is_err() {
                    bail!(
                        "--times: {} is not a time of the data (data cover {})",
                        format_time(t),
                        ds.coverage()
                    );
                }
                Ok(t)
            })
            .collect::<Result<_>>()?
    };
    if picked.is_empty() {
        bail!(
            "--times {spec}: no time of the data is selected (data cover {})",
            ds.coverage()
        );
    }
    Ok(picked)
}

/// The spectra of every channel in `variables` (`z500`, `t2m`, ...) of
/// `ds`, averaged over the `times` at which the data hold it (a static
/// field counts once), from the grid's transform truncated at `lmax`
/// (`None`: the grid's default). Calls `progress(done, total)` per field.
/// Errors on an unknown channel, a channel present at none of the times,
/// a field with missing values, or a grid without a transform.
pub fn truth_spectra(
    ds: &Dataset,
    variables: &[String],
    times: &[Timestamp],
    lmax: Option<usize>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TruthSpectra> {
    let sht = GridSht::for_grid(&ds.grid, lmax)
        .with_context(|| format!("the spectral transform of {}", ds.grid.describe()))?;
    let rings = ds
        .grid
        .rings()
        .with_context(|| format!("{} has no latitude rings", ds.grid.describe()))?;
    let mut plan = Vec::new();
    for name in variables {
        let (var, level) = parse_field(name)?;
        let entry = ds.vars.get(&var).with_context(|| {
            format!(
                "{name}: variable {var} is not in the data ({})",
                ds.variable_list()
            )
        })?;
        let ts: Vec<Timestamp> = if entry.kind == VarKind::Static {
            vec![0]
        } else {
            times
                .iter()
                .copied()
                .filter(|&t| ds.has(&var, level, t))
                .collect()
        };
        if ts.is_empty() || !ds.has(&var, level, ts[0]) {
            bail!(
                "{name}: not in the data at any selected time (levels {:?}; data cover {})",
                entry.levels,
                ds.coverage()
            );
        }
        plan.push((name, var, level, ts));
    }
    let total: usize = plan.iter().map(|p| p.3.len()).sum();
    let mut done = 0;
    let mut field = vec![0f32; ds.grid.len()];
    let mut spectra = Vec::new();
    for (name, var, level, ts) in plan {
        let mut power = vec![0.0; sht.lmax() + 1];
        let mut zonal: Vec<Vec<f64>> = vec![Vec::new(); ZONAL_BANDS.len()];
        for &t in &ts {
            ds.read_field(&var, level, t, &mut field)
                .with_context(|| format!("{name} at {}", format_time(t)))?;
            let f: Vec<f64> = field.iter().map(|&x| f64::from(x)).collect();
            for (a, p) in power.iter_mut().zip(sht.power_spectrum(&f)?) {
                *a += p / ts.len() as f64;
            }
            let per_ring = ring_zonal_energy_spectrum(&f, &rings)?;
            for (acc, (_, lo, hi)) in zonal.iter_mut().zip(ZONAL_BANDS) {
                if let Ok(m) = ring_zonal_band_mean(&per_ring, &rings.lat_deg, lo, hi) {
                    acc.resize(m.len(), 0.0);
                    for (a, v) in acc.iter_mut().zip(m) {
                        *a += v / ts.len() as f64;
                    }
                }
            }
            done += 1;
            progress(done, total);
        }
        let units = ds.vars.get(&var).and_then(|v| v.units.clone());
        let sq = units.as_ref().map_or(String::new(), |u| format!("({u})²"));
        let zonal = zonal
            .into_iter()
            .zip(ZONAL_BANDS)
            .filter(|(p, _)| !p.is_empty())
            .map(|(p, (band, lo, hi))| ZonalBandSpectrum {
                band: band.to_string(),
                lat_min: lo,
                lat_max: hi,
                rings: rings
                    .lat_deg
                    .iter()
                    .filter(|&&x| x >= lo && x <= hi)
                    .count(),
                units: if sq.is_empty() {
                    "m".into()
                } else {
                    format!("{sq} m")
                },
                power: p,
            })
            .collect();
        let static_field = ts == [0];
        spectra.push(TruthSpectrum {
            variable: name.clone(),
            units: sq,
            transform: sht.describe(),
            times: ts.len(),
            first_time: if static_field {
                "(static)".into()
            } else {
                format_time(ts[0])
            },
            last_time: if static_field {
                "(static)".into()
            } else {
                format_time(ts[ts.len() - 1])
            },
            power,
            zonal,
        });
    }
    Ok(TruthSpectra {
        kind: TRUTH_KIND.into(),
        grid: ds.grid.describe(),
        spectra,
    })
}
