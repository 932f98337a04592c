//! Forcings computed from the timestamp and the grid: calendar phase, local
//! time, and top-of-atmosphere (TOA) incident solar radiation.
//!
//! Solar geometry follows the Astronomical Almanac's low-precision solar
//! coordinates (USNO, "Approximate Solar Coordinates"; about 0.01° in
//! declination for 1950–2050). With `D` days since J2000.0 (2000-01-01 12:00
//! UTC): mean anomaly `g = 357.529 + 0.98560028 D`, mean longitude
//! `q = 280.459 + 0.98564736 D`, ecliptic longitude `L = q + 1.915 sin g +
//! 0.020 sin 2g`, distance `R = 1.00014 − 0.01671 cos g − 0.00014 cos 2g` AU,
//! obliquity `ε = 23.439 − 0.00000036 D` (degrees); declination
//! `δ = asin(sin ε sin L)`, right ascension `α = atan2(cos ε sin L, cos L)`,
//! equation of time `E = 4 min/° · (q − α)` wrapped to ±180°.
//!
//! Hour angle `h = π/12 · (H + λ/15 + E/60 − 12)` (λ longitude in degrees),
//! `cos θ_z = sin φ sin δ + cos φ cos δ cos h`, and the instantaneous TOA flux
//! `S = S₀ (r₀/r)² max(0, cos θ_z)` with `S₀ = 1361 W m⁻²` (Kopp & Lean 2011).

use std::f64::consts::PI;

use crate::time::{day_of_year, Timestamp};

/// Total solar irradiance at 1 AU in W m⁻² (Kopp & Lean 2011).
pub const SOLAR_CONSTANT_W_M2: f64 = 1361.0;

/// Sun position parameters at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SolarGeometry {
    /// Solar declination δ in radians.
    pub declination_rad: f64,
    /// Equation of time in minutes (apparent minus mean solar time).
    pub equation_of_time_min: f64,
    /// `(r₀/r)²`, the inverse squared Earth–Sun distance in AU.
    pub distance_factor: f64,
    /// UTC hour of day in [0, 24).
    pub utc_hour: f64,
}

impl SolarGeometry {
    /// The sun at time `t` (see the module doc).
    pub fn at(t: Timestamp) -> SolarGeometry {
        Self::at_seconds(t as f64)
    }

    fn at_seconds(t: f64) -> SolarGeometry {
        let d = t / 86400.0 - 10_957.5; // J2000.0 is 10,957.5 days after 1970
        let g = (357.529 + 0.985_600_28 * d).to_radians();
        let q = 280.459 + 0.985_647_36 * d;
        let l = (q + 1.915 * g.sin() + 0.020 * (2.0 * g).sin()).to_radians();
        let r = 1.000_14 - 0.016_71 * g.cos() - 0.000_14 * (2.0 * g).cos();
        let e = (23.439 - 0.000_000_36 * d).to_radians();
        let ra = (e.cos() * l.sin()).atan2(l.cos()).to_degrees();
        SolarGeometry {
            declination_rad: (e.sin() * l.sin()).asin(),
            equation_of_time_min: 4.0 * ((q - ra + 180.0).rem_euclid(360.0) - 180.0),
            distance_factor: 1.0 / (r * r),
            utc_hour: (t.rem_euclid(86400.0)) / 3600.0,
        }
    }

    /// Hour angle in radians at longitude `lon_deg` (0 at local solar noon).
    pub fn hour_angle(&self, lon_deg: f64) -> f64 {
        PI / 12.0 * (self.utc_hour + lon_deg / 15.0 + self.equation_of_time_min / 60.0 - 12.0)
    }

    /// Cosine of the solar zenith angle at (`lat_deg`, `lon_deg`).
    pub fn cos_zenith(&self, lat_deg: f64, lon_deg: f64) -> f64 {
        let (phi, d) = (lat_deg.to_radians(), self.declination_rad);
        phi.sin() * d.sin() + phi.cos() * d.cos() * self.hour_angle(lon_deg).cos()
    }
}

/// Instantaneous TOA incident solar flux in W m⁻² at time `t`, latitude and
/// longitude in degrees: `S₀ (r₀/r)² max(0, cos θ_z)`.
pub fn toa_instantaneous_w_m2(t: Timestamp, lat_deg: f64, lon_deg: f64) -> f64 {
    let s = SolarGeometry::at(t);
    SOLAR_CONSTANT_W_M2 * s.distance_factor * s.cos_zenith(lat_deg, lon_deg).max(0.0)
}

/// TOA incident solar energy in J m⁻² accumulated over the hour ending at
/// `t`, like ERA5's `tisr` (which FastNet's TOA channel uses). The hour angle
/// is integrated exactly, with δ, E and `(r₀/r)²` taken at the middle of the
/// hour: `∫ S₀ f max(0, A + B cos h(τ)) dτ`, `A = sin φ sin δ`,
/// `B = cos φ cos δ`, `dh/dτ = 2π / 86400 s`.
pub fn toa_hour_integrated_j_m2(t: Timestamp, lat_deg: f64, lon_deg: f64) -> f64 {
    SolarGeometry::mid_hour_ending(t).toa_hour_integrated_j_m2(lat_deg, lon_deg)
}

impl SolarGeometry {
    /// The sun at the middle of the hour ending at `t` (for fields of
    /// [`toa_hour_integrated_j_m2`]: compute once per time, use per point).
    pub fn mid_hour_ending(t: Timestamp) -> SolarGeometry {
        SolarGeometry::at_seconds(t as f64 - 1800.0)
    }

    /// [`toa_hour_integrated_j_m2`] at one point, `self` from
    /// [`SolarGeometry::mid_hour_ending`].
    pub fn toa_hour_integrated_j_m2(&self, lat_deg: f64, lon_deg: f64) -> f64 {
        let phi = lat_deg.to_radians();
        let a = phi.sin() * self.declination_rad.sin();
        let b = phi.cos() * self.declination_rad.cos();
        let omega = 2.0 * PI / 86400.0;
        let h_mid = self.hour_angle(lon_deg);
        let half = omega * 1800.0;
        let integral = clipped_cosine_integral(a, b, h_mid - half, h_mid + half);
        SOLAR_CONSTANT_W_M2 * self.distance_factor * integral / omega
    }
}

/// `∫_{h1}^{h2} max(0, a + b cos h) dh` for `b ≥ 0`, `h2 − h1 ≤ 2π`.
fn clipped_cosine_integral(a: f64, b: f64, h1: f64, h2: f64) -> f64 {
    let prim = |h: f64| a * h + b * h.sin();
    if b <= 1e-15 {
        return a.max(0.0) * (h2 - h1);
    }
    let c = -a / b;
    if c <= -1.0 {
        return prim(h2) - prim(h1);
    }
    if c >= 1.0 {
        return 0.0;
    }
    let h0 = c.acos();
    // Daylight windows [2πk − h0, 2πk + h0]; intersect with [h1, h2].
    let k_lo = ((h1 - h0) / (2.0 * PI)).floor() as i64;
    let k_hi = ((h2 + h0) / (2.0 * PI)).ceil() as i64;
    (k_lo..=k_hi)
        .map(|k| {
            let centre = 2.0 * PI * k as f64;
            let lo = h1.max(centre - h0);
            let hi = h2.min(centre + h0);
            if hi > lo {
                prim(hi) - prim(lo)
            } else {
                0.0
            }
        })
        .sum()
}

/// (cos, sin) of the year phase `2π (d + H/24) / N` (day of year `d` from 0,
/// UTC hour `H`, `N` days in that year).
pub fn year_phase(t: Timestamp) -> (f64, f64) {
    let (d, frac, n) = day_of_year(t);
    let p = 2.0 * PI * (d as f64 + frac) / n as f64;
    (p.cos(), p.sin())
}

/// (cos, sin) of local mean solar time `2π ((H + λ/15) mod 24) / 24` at
/// longitude `lon_deg` (no equation-of-time correction).
pub fn local_time_phase(t: Timestamp, lon_deg: f64) -> (f64, f64) {
    let hours = t.rem_euclid(86400) as f64 / 3600.0;
    let p = 2.0 * PI * (hours + lon_deg / 15.0).rem_euclid(24.0) / 24.0;
    (p.cos(), p.sin())
}

/// anemoi's julian day (earthkit-data's forcings): days since 1 January
/// 00:00 UTC of the year of `t`, fractional (`delta.days + delta.seconds /
/// 86400`).
pub fn julian_day(t: Timestamp) -> f64 {
    let (d, frac, _) = day_of_year(t);
    d as f64 + frac
}

/// (cos, sin) of anemoi's calendar phase `2π jd / 365.25` (its
/// `cos_julian_day`, `sin_julian_day`; [`year_phase`] divides by the days
/// of the year instead).
pub fn julian_day_phase(t: Timestamp) -> (f64, f64) {
    let p = 2.0 * PI * julian_day(t) / 365.25;
    (p.cos(), p.sin())
}

/// anemoi's `insolation`: earthkit-meteo's `cos_solar_zenith_angle`, the
/// cosine of the solar zenith angle at `t`, clipped at 0. With
/// `a = 2π jd / 365.25` ([`julian_day`]), Hogan & Hirahara (2015)'s series
/// give the declination
/// `δ = 0.396372 − 22.91327 cos a + 4.025430 sin a − 0.387205 cos 2a + 0.051967 sin 2a − 0.154527 cos 3a + 0.084798 sin 3a`
/// and the time correction
/// `c = 0.004297 + 0.107029 cos a − 1.837877 sin a − 0.837378 cos 2a − 2.340475 sin 2a`
/// (degrees); the hour angle is `(H − 12)·15 + λ + c` degrees with `H` the
/// whole UTC hour (Python's `datetime.hour`), and
/// `cos θ_z = sin δ sin φ + cos δ cos φ cos(hour angle)`.
pub fn earthkit_cos_solar_zenith(t: Timestamp, lat_deg: f64, lon_deg: f64) -> f64 {
    let a = 2.0 * PI * julian_day(t) / 365.25;
    let decl = (0.396372 - 22.91327 * a.cos() + 4.025430 * a.sin() - 0.387205 * (2.0 * a).cos()
        + 0.051967 * (2.0 * a).sin()
        - 0.154527 * (3.0 * a).cos()
        + 0.084798 * (3.0 * a).sin())
    .to_radians();
    let correction = 0.004297 + 0.107029 * a.cos()
        - 1.837877 * a.sin()
        - 0.837378 * (2.0 * a).cos()
        - 2.340475 * (2.0 * a).sin();
    let hour = t.rem_euclid(86400) / 3600;
    let angle = ((hour as f64 - 12.0) * 15.0 + lon_deg + correction).to_radians();
    let phi = lat_deg.to_radians();
    (decl.sin() * phi.sin() + decl.cos() * phi.cos() * angle.cos()).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{parse_date, HOUR};

    #[test]
    fn sun_matches_published_2024_events() {
        let at = |d: &str| SolarGeometry::at(parse_date(d).unwrap());
        // Equinoxes and solstices (USNO / IMCCE, UTC): δ = 0 and ±23.44°.
        for (d, decl) in [
            ("2024-03-20T03:06", 0.0),
            ("2024-06-20T20:51", 23.44),
            ("2024-09-22T12:44", 0.0),
            ("2024-12-21T09:20", -23.44),
        ] {
            let got = at(d).declination_rad.to_degrees();
            assert!((got - decl).abs() < 0.02, "{d}: δ {got}° vs {decl}°");
        }
        // Perihelion 2024-01-03 00:39 at 0.983 AU, aphelion 2024-07-05 05:06
        // at 1.0167 AU.
        let r = |d: &str| 1.0 / at(d).distance_factor.sqrt();
        assert!((r("2024-01-03T00:39") - 0.98333).abs() < 2e-4);
        assert!((r("2024-07-05T05:06") - 1.01673).abs() < 2e-4);
        // Equation of time extremes: about −14.2 min on 11 Feb and +16.4 min
        // on 3 Nov.
        assert!((at("2024-02-11T12").equation_of_time_min + 14.2).abs() < 0.2);
        assert!((at("2024-11-03T12").equation_of_time_min - 16.4).abs() < 0.2);
    }

    #[test]
    fn solar_noon_at_the_march_equinox_on_the_equator() {
        // 2024-03-20: equinox at 03:06 UTC; at longitude 0 the sun
        // culminates near 12:07:30 UTC, overhead.
        let day = parse_date("2024-03-20").unwrap();
        let (best_t, best) = (11 * 60..13 * 60)
            .map(|m| {
                let t = day + m * 60;
                (t, toa_instantaneous_w_m2(t, 0.0, 0.0))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        // Published: E = −7.5 min that day, Earth–Sun distance 0.9961 AU,
        // declination +0.1° at noon.
        let noon = day + 12 * HOUR + 450;
        assert!(
            (best_t - noon).abs() <= 60,
            "max at {best_t}, published noon {noon}"
        );
        let expected = SOLAR_CONSTANT_W_M2 / (0.9961f64 * 0.9961) * 0.1f64.to_radians().cos();
        assert!(
            (best - expected).abs() < 1e-3 * expected,
            "{best} vs {expected}"
        );
        // Night side: midnight at longitude 0, and noon at the antimeridian
        // is midnight at Greenwich.
        assert_eq!(toa_instantaneous_w_m2(day, 0.0, 0.0), 0.0);
        assert_eq!(toa_hour_integrated_j_m2(day + HOUR, 0.0, 0.0), 0.0);
        assert!(toa_instantaneous_w_m2(day, 0.0, 180.0) > 1300.0);
    }

    #[test]
    fn hour_integral_matches_quadrature_of_the_instantaneous_flux() {
        let t0 = parse_date("2023-06-10T07").unwrap();
        for (lat, lon) in [
            (0.0, 0.0),
            (51.5, -0.1),
            (-33.9, 151.2),
            (70.0, 20.0),
            (89.0, 0.0),
            (-89.0, 0.0),
        ] {
            for h in 0..24 {
                let t = t0 + h * HOUR;
                let n = 720;
                let quad: f64 = (0..n)
                    .map(|k| {
                        let tau = (t - HOUR) as f64 + (k as f64 + 0.5) * 3600.0 / n as f64;
                        let s = SolarGeometry::at_seconds(tau);
                        SOLAR_CONSTANT_W_M2 * s.distance_factor * s.cos_zenith(lat, lon).max(0.0)
                    })
                    .sum::<f64>()
                    * 3600.0
                    / n as f64;
                let exact = toa_hour_integrated_j_m2(t, lat, lon);
                assert!(
                    (exact - quad).abs() < 2e-3 * 4.9e6 + 1e-3 * quad,
                    "({lat},{lon}) h{h}: {exact} vs {quad}"
                );
            }
        }
    }

    #[test]
    fn daily_mean_matches_the_closed_form() {
        // Daily-mean insolation: Q = S₀ f / π (h₀ sin φ sin δ + cos φ cos δ sin h₀),
        // cos h₀ = −tan φ tan δ (Berger 1978); at the equator Q = S₀ f cos δ / π.
        for (date, lat) in [
            ("2022-03-21", 0.0),
            ("2022-06-21", 0.0),
            ("2022-06-21", 45.0),
            ("2022-12-21", -60.0),
            ("2022-06-21", 80.0),
            ("2022-12-21", 80.0),
        ] {
            let day = parse_date(date).unwrap();
            let mean: f64 = (1..=24)
                .map(|h| toa_hour_integrated_j_m2(day + h * HOUR, lat, 30.0))
                .sum::<f64>()
                / 86400.0;
            let s = SolarGeometry::at(day + 12 * HOUR);
            let (phi, d): (f64, f64) = (f64::to_radians(lat), s.declination_rad);
            let h0 = (-(phi.tan() * d.tan())).clamp(-1.0, 1.0).acos();
            let q = SOLAR_CONSTANT_W_M2 * s.distance_factor / PI
                * (h0 * phi.sin() * d.sin() + phi.cos() * d.cos() * h0.sin());
            assert!(
                (mean - q).abs() < 3e-3 * SOLAR_CONSTANT_W_M2 / PI,
                "{date} lat {lat}: {mean} vs {q}"
            );
        }
        // Polar night: nothing at 80°N on the December solstice.
        let dec = parse_date("2022-12-21").unwrap();
        assert!((0..24).all(|h| toa_hour_integrated_j_m2(dec + h * HOUR, 80.0, 0.0) == 0.0));
    }

    #[test]
    fn calendar_and_local_time_phases() {
        let t = parse_date("2021-01-01").unwrap();
        let (c, s) = year_phase(t);
        assert!((c - 1.0).abs() < 1e-12 && s.abs() < 1e-12);
        // Half way through 2021 (365 days): 2 July 12:00.
        let (c, _) = year_phase(t + 182 * 86400 + 12 * HOUR);
        assert!((c + 1.0).abs() < 1e-12);
        // 06 UTC at 90°E is local noon: phase π.
        let (c, s) = local_time_phase(t + 6 * HOUR, 90.0);
        assert!((c + 1.0).abs() < 1e-12 && s.abs() < 1e-9);
        let (c, _) = local_time_phase(t, -90.0); // 18 h local
        assert!(c.abs() < 1e-12);
    }

    #[test]
    fn anemoi_forcings_follow_earthkit() {
        // jd counts from 1 January 00 UTC: 2021-12-31T06 is day 364.25
        let t = parse_date("2021-12-31T06").unwrap();
        assert!((julian_day(t) - 364.25).abs() < 1e-12);
        let (c, s) = julian_day_phase(t);
        let p = 2.0 * PI * 364.25 / 365.25;
        assert!((c - p.cos()).abs() < 1e-12 && (s - p.sin()).abs() < 1e-12);
        // one day per 365.25: a 365-day phase differs by 0.0043 rad here
        assert!((year_phase(t).1 - s).abs() > 4e-3);
        // equinox noon at Greenwich: the sun is nearly overhead on the
        // equator (δ ≈ 0, time correction ≈ −7.5 min ≈ −1.9°)
        let noon = parse_date("2024-03-20T12").unwrap();
        let z = earthkit_cos_solar_zenith(noon, 0.0, 0.0);
        assert!(z > 0.99 && z <= 1.0, "{z}");
        // night side clipped to 0; the hour angle uses the whole UTC hour,
        // so half an hour later moves only the declination (the sun itself
        // moves 7.5°: 0.02 in cos θ_z here)
        assert_eq!(earthkit_cos_solar_zenith(noon, 0.0, 180.0), 0.0);
        let later = earthkit_cos_solar_zenith(noon + 1800, 30.0, 10.0);
        assert!((later - earthkit_cos_solar_zenith(noon, 30.0, 10.0)).abs() < 1e-3);
        // the global mean over a day at 6-hourly steps is about 1/4, the
        // mean of max(0, cos) over the sphere (anemoi's O96 statistics:
        // mean 0.2533)
        let mut sum = 0.0;
        let mut w = 0.0;
        for h in [0, 6, 12, 18] {
            for i in 0..90 {
                let lat = -89.0 + 2.0 * i as f64;
                let wt = lat.to_radians().cos();
                for j in 0..180 {
                    sum += wt
                        * earthkit_cos_solar_zenith(
                            noon - 12 * 3600 + h * 3600,
                            lat,
                            2.0 * j as f64,
                        );
                    w += wt;
                }
            }
        }
        assert!((sum / w - 0.25).abs() < 2e-3, "{}", sum / w);
    }
}
