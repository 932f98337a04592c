//! Times: CF "UNIT since DATE" decoding, parsing of user dates and formatting.
//!
//! A time is an `i64` count of seconds since 1970-01-01T00:00:00 UTC
//! (proleptic Gregorian calendar, no leap seconds), the same instant
//! whatever unit and epoch a file used.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

use crate::error::DataError;

/// Seconds since 1970-01-01T00:00:00 UTC.
pub type Timestamp = i64;

/// Seconds in an hour.
pub const HOUR: i64 = 3600;

/// A decoded CF time unit: `value * seconds_per_unit + epoch` is a [`Timestamp`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CfTimeUnit {
    pub seconds_per_unit: f64,
    pub epoch: Timestamp,
}

impl CfTimeUnit {
    /// Parses `"hours since 1900-01-01 00:00:00.0"`, `"seconds since
    /// 1970-01-01"`, `"days since 2000-01-01T00:00:00Z"`, ... Units may be
    /// singular or plural, abbreviated (`h`, `hr`, `min`, `s`, `sec`, `d`).
    /// Returns `None` when the text is not of that form.
    pub fn parse(units: &str) -> Option<CfTimeUnit> {
        let (unit, date) = units.trim().split_once(" since ")?;
        let seconds_per_unit = match unit.trim().to_ascii_lowercase().as_str() {
            "second" | "seconds" | "s" | "sec" | "secs" => 1.0,
            "minute" | "minutes" | "min" | "mins" => 60.0,
            "hour" | "hours" | "h" | "hr" | "hrs" => 3600.0,
            "day" | "days" | "d" => 86400.0,
            _ => return None,
        };
        let epoch = parse_date(date.trim().trim_end_matches(" UTC").trim_end_matches('Z'))?;
        Some(CfTimeUnit {
            seconds_per_unit,
            epoch,
        })
    }

    /// Converts a coordinate value to a timestamp, rounded to the second.
    pub fn to_timestamp(&self, value: f64) -> Timestamp {
        self.epoch + (value * self.seconds_per_unit).round() as i64
    }

    /// Converts a timestamp back to a coordinate value in this unit.
    pub fn from_timestamp(&self, t: Timestamp) -> f64 {
        (t - self.epoch) as f64 / self.seconds_per_unit
    }
}

/// Parses a date such as `2020-01-01`, `2020-01-01T06`, `2020-01-01 06:00`,
/// `2020-01-01T06:00:00`, `1900-01-01 00:00:00.0`; `None` if it is none of
/// these.
pub fn parse_date(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    let (d, t) = match text.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (text, None),
    };
    let date = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
    let time = match t {
        None | Some("") => NaiveTime::MIN,
        Some(t) => {
            let t = t.trim_end_matches('Z');
            ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M", "%H"]
                .iter()
                .find_map(|f| NaiveTime::parse_from_str(t, f).ok())
                .or_else(|| {
                    t.parse::<u32>()
                        .ok()
                        .and_then(|h| NaiveTime::from_hms_opt(h, 0, 0))
                })?
        }
    };
    Some(NaiveDateTime::new(date, time).and_utc().timestamp())
}

/// The period `[from, to]` of two dates, both ends included. A bare date
/// as `to` (`2020-01-31`) means the end of that day, 23:59:59, so the whole
/// day belongs to the period; with a time (`2020-01-31T12`) it ends there.
/// The one end-of-day rule: train, stats and forecast all read periods here.
pub fn parse_period(from: &str, to: &str) -> Result<(Timestamp, Timestamp), DataError> {
    let date = |s: &str| parse_date(s).ok_or_else(|| DataError::BadDate { text: s.into() });
    let (a, mut b) = (date(from)?, date(to)?);
    if !to.trim().contains(['T', ' ']) {
        b += 86_400 - 1;
    }
    if b < a {
        return Err(DataError::BadPeriod {
            from: from.into(),
            to: to.into(),
        });
    }
    Ok((a, b))
}

/// `FROM..TO` as a [`parse_period`].
pub fn parse_range(text: &str) -> Result<(Timestamp, Timestamp), DataError> {
    let (a, b) = text.split_once("..").ok_or_else(|| DataError::BadDate {
        text: format!("{text} (expected FROM..TO)"),
    })?;
    parse_period(a, b)
}

/// Formats a timestamp as `YYYY-MM-DDThh:mm` (seconds shown when non-zero).
pub fn format_time(t: Timestamp) -> String {
    match DateTime::from_timestamp(t, 0) {
        Some(d) if t % 60 == 0 => d.format("%Y-%m-%dT%H:%M").to_string(),
        Some(d) => d.format("%Y-%m-%dT%H:%M:%S").to_string(),
        None => format!("{t} s since 1970"),
    }
}

/// Formats a duration in seconds as `6 h`, `30 min` or `15 s`.
pub fn format_duration(seconds: i64) -> String {
    if seconds % HOUR == 0 {
        format!("{} h", seconds / HOUR)
    } else if seconds % 60 == 0 {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    }
}

/// (day of year counted from 0, fraction of the day in [0, 1), days in that
/// year) of a timestamp, in UTC.
pub fn day_of_year(t: Timestamp) -> (u32, f64, u32) {
    use chrono::Datelike;
    let d = DateTime::from_timestamp(t, 0).unwrap_or_default();
    let secs = t.rem_euclid(86400);
    let days_in_year = if NaiveDate::from_ymd_opt(d.year(), 2, 29).is_some() {
        366
    } else {
        365
    };
    (d.ordinal0(), secs as f64 / 86400.0, days_in_year)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_end_date_includes_its_whole_day() {
        let (a, b) = parse_period("2020-01-01", "2020-01-31").unwrap();
        assert_eq!(a, parse_date("2020-01-01").unwrap());
        assert_eq!(b, parse_date("2020-01-31T23:59:59").unwrap());
        let (_, b) = parse_period("2020-01-01", "2020-01-31T12").unwrap();
        assert_eq!(b, parse_date("2020-01-31T12").unwrap());
        assert_eq!(
            parse_range("2020-01-01..2020-01-02").unwrap().1 - a,
            2 * 86_400 - 1
        );
        assert!(matches!(
            parse_period("2020-02-01", "2020-01-31"),
            Err(DataError::BadPeriod { .. })
        ));
        assert!(matches!(
            parse_period("2020-13-01", "2021-01-01"),
            Err(DataError::BadDate { .. })
        ));
        assert!(parse_range("2020-01-01").is_err());
    }

    #[test]
    fn cf_units_of_both_cds_layouts_decode_to_the_same_instant() {
        // 2020-01-01T00:00Z is 1,577,836,800 s after 1970 and 1,051,896 h
        // after 1900-01-01 (25,567 days to 1970 plus 18,262 days = 43,829 days).
        let old = CfTimeUnit::parse("hours since 1900-01-01 00:00:00.0").unwrap();
        let new = CfTimeUnit::parse("seconds since 1970-01-01").unwrap();
        assert_eq!(old.to_timestamp(1_051_896.0), 1_577_836_800);
        assert_eq!(new.to_timestamp(1_577_836_800.0), 1_577_836_800);
        let days = CfTimeUnit::parse("days since 2020-01-01T00:00:00Z").unwrap();
        assert_eq!(days.to_timestamp(0.25), 1_577_836_800 + 6 * HOUR);
        let mins = CfTimeUnit::parse("minutes since 2020-01-01 06:00").unwrap();
        assert_eq!(mins.to_timestamp(30.0), 1_577_836_800 + 6 * HOUR + 1800);
        assert_eq!(old.from_timestamp(1_577_836_800), 1_051_896.0);
        assert!(CfTimeUnit::parse("fortnights since 2020-01-01").is_none());
        assert!(CfTimeUnit::parse("hours").is_none());
        assert!(CfTimeUnit::parse("hours since yesterday").is_none());
    }

    #[test]
    fn dates_parse_and_format() {
        let t = parse_date("2020-03-01T06").unwrap();
        assert_eq!(format_time(t), "2020-03-01T06:00");
        assert_eq!(parse_date("2020-03-01 06:00"), Some(t));
        assert_eq!(parse_date("2020-03-01T06:00:00"), Some(t));
        assert_eq!(parse_date("2020-02-30"), None);
        // 2020 is a leap year: 1 March is day 60 counted from 0.
        assert_eq!(day_of_year(t), (60, 0.25, 366));
        assert_eq!(format_duration(6 * HOUR), "6 h");
        assert_eq!(format_duration(90), "90 s");
    }
}
