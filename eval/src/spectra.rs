//! Spectra of forecast and truth fields: the total-wavenumber power spectrum
//! (from the spherical-harmonic transform), WeatherBench2's zonal energy
//! spectrum, and an effective-resolution figure. Lat-lon fields come as
//! `[nlat, nlon]` arrays or flat; fields on any ring grid (lat-lon or
//! Gaussian, regular or octahedral) as flat `[npoints]` slices, ring by ring.

use std::sync::Arc;

use fastnet_mesh::geometry::EARTH_RADIUS_KM;
use fastnet_mesh::Rings;
use ndarray::{Array2, ArrayView2, ArrayView3, Axis};
use rayon::prelude::*;
use realfft::{RealFftPlanner, RealToComplex};

use crate::error::{EvalError, Result};
use crate::grid_sht::GridSht;
use crate::sht::Sht;

/// Power per total wavenumber of each field: `[n, lmax + 1]`, units of the
/// field squared (`Σ_l P_l = ∫ f² dΩ` on the unit sphere).
///
/// * `fields` — `[n, nlat, nlon]`, latitude north to south.
pub fn power_spectra(sht: &Sht, fields: ArrayView3<f64>) -> Result<Array2<f64>> {
    let coeffs = sht.forward_many(fields)?;
    let mut out = Array2::zeros((coeffs.len(), sht.lmax() + 1));
    for (mut row, c) in out.outer_iter_mut().zip(&coeffs) {
        row.assign(&ndarray::Array1::from(c.power_spectrum()));
    }
    Ok(out)
}

/// Power per total wavenumber of flat fields on any grid with a transform:
/// `[n, lmax + 1]`, units of the field squared.
///
/// * `fields` — `[n, npoints]`: each row one field, `[nlat * nlon]`
///   latitude-major on lat-lon grids, ring by ring on Gaussian grids.
pub fn grid_power_spectra(sht: &GridSht, fields: ArrayView2<f64>) -> Result<Array2<f64>> {
    let rows: Vec<Vec<f64>> = fields
        .outer_iter()
        .into_par_iter()
        .map(|row| match row.as_slice() {
            Some(f) => sht.power_spectrum(f),
            None => sht.power_spectrum(&row.to_vec()),
        })
        .collect::<Result<_>>()?;
    let mut out = Array2::zeros((rows.len(), sht.lmax() + 1));
    for (mut dst, p) in out.outer_iter_mut().zip(rows) {
        dst.assign(&ndarray::Array1::from(p));
    }
    Ok(out)
}

/// Mean over the first axis of `[n, L]` spectra: `[L]`.
pub fn mean_spectrum(spectra: &Array2<f64>) -> Vec<f64> {
    spectra
        .mean_axis(Axis(0))
        .map(|a| a.to_vec())
        .unwrap_or_default()
}

/// Wavelength in km of total wavenumber `l >= 1` on the Earth: `2πR / l`.
pub fn wavelength_km(l: usize) -> f64 {
    2.0 * std::f64::consts::PI * EARTH_RADIUS_KM / l as f64
}

/// WeatherBench2's zonal energy spectrum of one field, per latitude ring:
/// `[nlat, nlon/2 + 1]`.
///
/// Per ring, `F_k = (1/n) Σ_j f_j e^{−2πijk/n}` (rfft, forward
/// normalisation), `S_0 = C|F_0|²`, `S_k = 2C|F_k|²` for `k >= 1`, with
/// the ring circumference `C = 2πR cos φ` in metres (R = 6371 km). Units:
/// field² · m. (WeatherBench2 `ZonalEnergySpectrum`.)
///
/// * `field` — `[nlat, nlon]`; `lat_deg` — `[nlat]` ring latitudes.
pub fn zonal_energy_spectrum(field: ArrayView2<f64>, lat_deg: &[f64]) -> Result<Array2<f64>> {
    let (nlat, nlon) = field.dim();
    if lat_deg.len() != nlat {
        return Err(EvalError::ShapeMismatch {
            what: "latitudes for the zonal spectrum".into(),
            got: vec![lat_deg.len()],
            expected: vec![nlat],
        });
    }
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(nlon);
    let nk = nlon / 2 + 1;
    let mut out = Array2::zeros((nlat, nk));
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(field.axis_iter(Axis(0)).into_par_iter())
        .zip(lat_deg.par_iter())
        .for_each(|((mut dst, row), &lat)| {
            let s = ring_zonal_spectrum(&fft, row.to_vec(), lat);
            dst.assign(&ndarray::Array1::from(s));
        });
    Ok(out)
}

/// The zonal energy spectrum of one ring of `n` values at latitude `lat`
/// (degrees): `[n/2 + 1]`, as [`zonal_energy_spectrum`] defines it.
fn ring_zonal_spectrum(
    fft: &Arc<dyn RealToComplex<f64>>,
    mut ring: Vec<f64>,
    lat: f64,
) -> Vec<f64> {
    let n = ring.len();
    let mut spec = fft.make_output_vec();
    fft.process(&mut ring, &mut spec).expect("plan sizes");
    let circumference_m =
        2.0 * std::f64::consts::PI * EARTH_RADIUS_KM * 1e3 * lat.to_radians().cos().max(0.0);
    spec.iter()
        .enumerate()
        .map(|(k, s)| {
            let power = s.norm_sqr() / (n * n) as f64;
            if k == 0 {
                circumference_m * power
            } else {
                2.0 * circumference_m * power
            }
        })
        .collect()
}

/// WeatherBench2's zonal energy spectrum on any ring grid (lat-lon or
/// Gaussian, where rings differ in length): one row per ring, north to
/// south, row `j` `[len_j/2 + 1]` (wavenumbers `k = 0..=len_j/2`), from an
/// rfft of the ring's own length; formula and units (field² · m) as in
/// [`zonal_energy_spectrum`], which this equals on a lat-lon grid.
///
/// * `field` — `[npoints]`, ring by ring (`rings.offsets`).
pub fn ring_zonal_energy_spectrum(field: &[f64], rings: &Rings) -> Result<Vec<Vec<f64>>> {
    if field.len() != rings.npoints() || rings.lat_deg.len() != rings.len() {
        return Err(EvalError::ShapeMismatch {
            what: "field for the zonal spectrum".into(),
            got: vec![field.len()],
            expected: vec![rings.npoints()],
        });
    }
    let mut planner = RealFftPlanner::<f64>::new();
    // the planner hands rings of equal length the same plan
    let plans: Vec<Arc<dyn RealToComplex<f64>>> = rings
        .lengths
        .iter()
        .map(|&n| planner.plan_fft_forward(n))
        .collect();
    Ok((0..rings.len())
        .into_par_iter()
        .map(|j| {
            let ring = field[rings.offsets[j]..rings.offsets[j + 1]].to_vec();
            ring_zonal_spectrum(&plans[j], ring, rings.lat_deg[j])
        })
        .collect())
}

/// Mean of a per-ring zonal spectrum ([`ring_zonal_energy_spectrum`]) over
/// the rings with latitude in `[lat_min, lat_max]`, for the wavenumbers every
/// ring of the band has: `[min_j len_j/2 + 1]`. Errors when no ring lies in
/// the band.
///
/// * `spectrum` — one row per ring; `lat_deg` — `[nrings]`.
pub fn ring_zonal_band_mean(
    spectrum: &[Vec<f64>],
    lat_deg: &[f64],
    lat_min: f64,
    lat_max: f64,
) -> Result<Vec<f64>> {
    if spectrum.len() != lat_deg.len() {
        return Err(EvalError::ShapeMismatch {
            what: "latitudes for the zonal band mean".into(),
            got: vec![lat_deg.len()],
            expected: vec![spectrum.len()],
        });
    }
    let rows: Vec<&Vec<f64>> = spectrum
        .iter()
        .zip(lat_deg)
        .filter(|(_, &lat)| lat >= lat_min && lat <= lat_max)
        .map(|(row, _)| row)
        .collect();
    let Some(nk) = rows.iter().map(|r| r.len()).min() else {
        return Err(EvalError::Invalid(format!(
            "no latitude ring lies between {lat_min}° and {lat_max}°"
        )));
    };
    let mut mean = vec![0.0; nk];
    for row in &rows {
        for (m, v) in mean.iter_mut().zip(row.iter()) {
            *m += v / rows.len() as f64;
        }
    }
    Ok(mean)
}

/// Mean zonal spectrum over the rings with latitude in `[lat_min, lat_max]`:
/// `[nlon/2 + 1]`. Errors when no ring lies in the band.
pub fn zonal_band_mean(
    spectrum: &Array2<f64>,
    lat_deg: &[f64],
    lat_min: f64,
    lat_max: f64,
) -> Result<Vec<f64>> {
    let rows: Vec<usize> = (0..lat_deg.len())
        .filter(|&i| lat_deg[i] >= lat_min && lat_deg[i] <= lat_max)
        .collect();
    if rows.is_empty() {
        return Err(EvalError::Invalid(format!(
            "no latitude ring lies between {lat_min}° and {lat_max}°"
        )));
    }
    let mut mean = vec![0.0; spectrum.ncols()];
    for &r in &rows {
        for (m, v) in mean.iter_mut().zip(spectrum.row(r)) {
            *m += v / rows.len() as f64;
        }
    }
    Ok(mean)
}

/// The effective resolution of a forecast: the highest total wavenumber
/// `l` at which the forecast still holds at least half the truth's power,
/// and its wavelength `2πR/l` in km (smaller is sharper). It measures
/// blurring: excess power (noise) does not lower it, and neither do
/// sampling wobbles at the largest scales, which are not what a smooth
/// forecast loses.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct EffectiveResolution {
    pub wavenumber: usize,
    pub wavelength_km: f64,
}

/// See [`EffectiveResolution`]. `None` when no `l >= 1` with truth power
/// keeps half of it.
pub fn effective_resolution(forecast: &[f64], truth: &[f64]) -> Option<EffectiveResolution> {
    (1..forecast.len().min(truth.len()))
        .rev()
        .find(|&l| truth[l] > 0.0 && forecast[l] >= 0.5 * truth[l])
        .map(|l| EffectiveResolution {
            wavenumber: l,
            wavelength_km: wavelength_km(l),
        })
}

/// Where the small scales of a spectrum start: the upper half of its
/// `n_wavenumbers` total wavenumbers (`l = 0..=lmax`, so `n = lmax + 1`),
/// `l >= n / 2`, i.e. `l >= lmax/2` rounded up. The one threshold of "small
/// scales" in `fastnet spectra` and [`small_scale_power_ratio`]'s callers.
pub fn small_scale_start(n_wavenumbers: usize) -> usize {
    n_wavenumbers / 2
}

/// Forecast power over truth power, both summed over `l >= from`: 1 keeps
/// the small scales, below 1 blurs them, above 1 adds noise. `None` when
/// the truth has no power there. fastnet's reports take `from` from
/// [`small_scale_start`].
pub fn small_scale_power_ratio(forecast: &[f64], truth: &[f64], from: usize) -> Option<f64> {
    let n = forecast.len().min(truth.len());
    let t: f64 = truth.get(from..n)?.iter().sum();
    let f: f64 = forecast[from.min(n)..n].iter().sum();
    (t > 0.0).then(|| f / t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quadrature::Kind;
    use ndarray::Array3;

    #[test]
    fn zonal_spectrum_of_a_single_wave() {
        // f = A cos(kλ) on every ring: F_k = A/2, S_k = 2C(A/2)² = C A²/2.
        let (nlat, nlon, k, a) = (5, 64, 6, 3.0);
        let lat = [60.0, 30.0, 0.0, -30.0, -60.0];
        let f = Array2::from_shape_fn((nlat, nlon), |(_, j)| {
            a * (2.0 * std::f64::consts::PI * (k * j) as f64 / nlon as f64).cos()
        });
        let s = zonal_energy_spectrum(f.view(), &lat).unwrap();
        for (i, &phi) in lat.iter().enumerate() {
            let c = 2.0 * std::f64::consts::PI * 6.371e6 * phi.to_radians().cos();
            for kk in 0..=nlon / 2 {
                let want = if kk == k { c * a * a / 2.0 } else { 0.0 };
                assert!(
                    (s[[i, kk]] - want).abs() < 1e-9 * c,
                    "ring {i} k {kk}: {} vs {want}",
                    s[[i, kk]]
                );
            }
        }
        // a constant field puts C·A² into k = 0
        let g = Array2::from_elem((1, 8), 2.0);
        let s0 = zonal_energy_spectrum(g.view(), &[0.0]).unwrap();
        assert!((s0[[0, 0]] - 2.0 * std::f64::consts::PI * 6.371e6 * 4.0).abs() < 1e-6);
        let band = zonal_band_mean(&s, &lat, 20.0, 70.0).unwrap();
        assert!((band[k] - (s[[0, k]] + s[[1, k]]) / 2.0).abs() < 1e-6);
        assert!(zonal_band_mean(&s, &lat, 80.0, 85.0).is_err());
    }

    #[test]
    fn power_spectra_of_fields_and_their_mean() {
        let sht = Sht::new(Kind::ClenshawCurtis, 17, 32, None).unwrap();
        let mut c = crate::sht::Coefficients::zeros(sht.lmax());
        c.set(3, 2, num_complex::Complex64::new(0.5, 0.5));
        let f = sht.inverse(&c);
        let mut fields = Array3::zeros((2, 17, 32));
        fields.index_axis_mut(Axis(0), 0).assign(&f);
        fields.index_axis_mut(Axis(0), 1).assign(&(&f * 2.0));
        let p = power_spectra(&sht, fields.view()).unwrap();
        // P_3 = 2 |c_32|² = 1 for the first field, 4 for the doubled one
        assert!((p[[0, 3]] - 1.0).abs() < 1e-12 && (p[[1, 3]] - 4.0).abs() < 1e-12);
        let m = mean_spectrum(&p);
        assert!((m[3] - 2.5).abs() < 1e-12 && m[2].abs() < 1e-12);
    }

    #[test]
    fn zonal_spectra_on_rings_of_different_lengths() {
        // f = A cos(kλ) + B on every ring of O16 (rings of 20 ... 80 points):
        // S_0 = C B², S_k = C A²/2, nothing else, on every ring
        let grid = fastnet_mesh::Grid::octahedral(16).unwrap();
        let rings = grid.rings().unwrap();
        let (k, a, b) = (7, 2.0, 0.5);
        let f: Vec<f64> = grid
            .point_lat_lon()
            .iter()
            .map(|&(_, lon)| a * (k as f64 * lon.to_radians()).cos() + b)
            .collect();
        let s = ring_zonal_energy_spectrum(&f, &rings).unwrap();
        assert_eq!(s.len(), 32);
        for (j, row) in s.iter().enumerate() {
            assert_eq!(row.len(), rings.lengths[j] / 2 + 1);
            let c = 2.0 * std::f64::consts::PI * 6.371e6 * rings.lat_deg[j].to_radians().cos();
            for (kk, &v) in row.iter().enumerate() {
                let want = match kk {
                    0 => c * b * b,
                    _ if kk == k => c * a * a / 2.0,
                    _ => 0.0,
                };
                assert!(
                    (v - want).abs() < 1e-9 * c,
                    "ring {j} k {kk}: {v} vs {want}"
                );
            }
        }
        // the polar band has the first ring's 20 points: 11 wavenumbers
        let band = ring_zonal_band_mean(&s, &rings.lat_deg, 60.0, 90.0).unwrap();
        let in_band: Vec<usize> = (0..32).filter(|&j| rings.lat_deg[j] >= 60.0).collect();
        assert_eq!(band.len(), 11);
        let want = in_band.iter().map(|&j| s[j][k]).sum::<f64>() / in_band.len() as f64;
        assert!((band[k] - want).abs() < 1e-6);
        assert!(ring_zonal_band_mean(&s, &rings.lat_deg, 89.5, 90.0).is_err());
        assert!(ring_zonal_energy_spectrum(&f[1..], &rings).is_err());
        // on a lat-lon grid the ring version is the [nlat, nlon] one
        let ll = fastnet_mesh::Grid::from_spec("latlon:10").unwrap();
        let g: Vec<f64> = (0..ll.len()).map(|i| ((i * 7) % 13) as f64).collect();
        let by_rings = ring_zonal_energy_spectrum(&g, &ll.rings().unwrap()).unwrap();
        let full = zonal_energy_spectrum(
            ArrayView2::from_shape((19, 36), &g).unwrap(),
            &ll.latitudes_deg(),
        )
        .unwrap();
        for (i, row) in by_rings.iter().enumerate() {
            assert_eq!(row.as_slice(), full.row(i).as_slice().unwrap());
        }
    }

    #[test]
    fn power_spectra_of_flat_fields_on_both_grid_kinds() {
        let mut c = crate::sht::Coefficients::zeros(5);
        c.set(3, 2, num_complex::Complex64::new(0.5, 0.5));
        for grid in ["latlon:10", "o16"] {
            let grid = fastnet_mesh::Grid::from_spec(grid).unwrap();
            let sht = GridSht::for_grid(&grid, None).unwrap();
            let f = sht.inverse(&c);
            let mut fields = Array2::zeros((2, f.len()));
            fields.row_mut(0).assign(&ndarray::Array1::from(f.clone()));
            fields.row_mut(1).assign(&ndarray::Array1::from(
                f.iter().map(|v| -3.0 * v).collect::<Vec<_>>(),
            ));
            let p = grid_power_spectra(&sht, fields.view()).unwrap();
            assert_eq!(p.dim(), (2, sht.lmax() + 1));
            // P_3 = 2 |c_32|² = 1, and 9 for the field times −3; a column-major view too
            assert!((p[[0, 3]] - 1.0).abs() < 1e-12 && (p[[1, 3]] - 9.0).abs() < 1e-11);
            assert!(p
                .row(0)
                .iter()
                .enumerate()
                .all(|(l, v)| l == 3 || v.abs() < 1e-12));
            let t = fields.t().to_owned();
            let q = grid_power_spectra(&sht, t.t()).unwrap();
            assert_eq!(p, q);
        }
    }

    #[test]
    fn effective_resolution_is_where_the_forecast_keeps_half_the_power() {
        let truth: Vec<f64> = (0..50).map(|l| 1.0 / (1.0 + l as f64).powi(3)).collect();
        // forecast loses power progressively: ratio exp(−(l/20)²) drops below ½ at l > 20·sqrt(ln 2) ≈ 16.65
        let fc: Vec<f64> = truth
            .iter()
            .enumerate()
            .map(|(l, t)| t * (-(l as f64 / 20.0).powi(2)).exp())
            .collect();
        let r = effective_resolution(&fc, &truth).unwrap();
        assert_eq!(r.wavenumber, 16);
        assert!((r.wavelength_km - 2.0 * std::f64::consts::PI * 6371.0 / 16.0).abs() < 1e-9);
        assert_eq!(effective_resolution(&truth, &truth).unwrap().wavenumber, 49);
        // excess power is not blurring; a forecast with a third of the power everywhere is
        let loud: Vec<f64> = truth.iter().map(|t| t * 3.0).collect();
        assert_eq!(effective_resolution(&loud, &truth).unwrap().wavenumber, 49);
        let faint: Vec<f64> = truth.iter().map(|t| t / 3.0).collect();
        assert_eq!(effective_resolution(&faint, &truth), None);
        // a large-scale wobble at l = 1..3 does not hide the sharp small scales
        let mut wobble = truth.clone();
        wobble[1..4].iter_mut().for_each(|p| *p *= 0.1);
        assert_eq!(
            effective_resolution(&wobble, &truth).unwrap().wavenumber,
            49
        );
    }

    #[test]
    fn small_scale_power_ratio_sums_the_upper_band() {
        let truth = vec![5.0, 4.0, 3.0, 2.0, 1.0];
        let fc = vec![50.0, 40.0, 1.5, 1.0, 0.5];
        assert_eq!(small_scale_power_ratio(&fc, &truth, 2), Some(0.5));
        assert_eq!(small_scale_power_ratio(&fc, &truth, 0), Some(93.0 / 15.0));
        assert_eq!(small_scale_power_ratio(&fc, &truth, 5), None);
        assert_eq!(small_scale_power_ratio(&fc, &[0.0; 5], 2), None);
        // lmax = 4: the small scales are l = 2..=4; lmax = 5: l = 3..=5
        assert_eq!((small_scale_start(5), small_scale_start(6)), (2, 3));
    }
}
