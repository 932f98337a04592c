//! What `fastnet data inspect` reports: per file and merged, the variables,
//! levels, grid, time coverage and step, gaps and packing, plus one line per
//! problem found. Only metadata is read (and, with `--values`, every field).
//!
//! Files the training catalogue cannot take but that are readable — regional
//! lat-lon boxes, monthly climatologies and other files with a leading
//! dimension that is not time ([`plain`]) — are described with notes and
//! left out of the merged catalogue; only what cannot be read is a problem.

mod plain;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalogue::VarKind;
use crate::dataset::{expand_paths, Dataset};
use crate::regional::{LatLonBox, RegionalData};

/// The extent of a lat-lon box, as `data inspect --json` gives it.
#[derive(Clone, Debug, Serialize)]
pub struct AreaSummary {
    pub north: f64,
    pub south: f64,
    /// Western and eastern edge, degrees east (see [`LatLonBox::lons_deg`]).
    pub west: f64,
    pub east: f64,
    pub lat_step_deg: f64,
    pub lon_step_deg: f64,
    pub nlat: usize,
    pub nlon: usize,
    pub global: bool,
}

impl AreaSummary {
    pub fn of(b: &LatLonBox) -> AreaSummary {
        AreaSummary {
            north: b.north(),
            south: b.south(),
            west: b.west(),
            east: b.east(),
            lat_step_deg: b.lat_step_deg,
            lon_step_deg: b.lon_step_deg,
            nlat: b.nlat(),
            nlon: b.nlon(),
            global: b.is_global(),
        }
    }
}
use crate::scan::{scan_file, FileInfo, Packing};
use crate::time::{format_duration, format_time, Timestamp};

/// One variable of one file.
#[derive(Clone, Debug, Serialize)]
pub struct VarSummary {
    pub name: String,
    pub short: String,
    pub kind: VarKind,
    pub units: Option<String>,
    pub levels: Option<Vec<u32>>,
    pub packing: String,
    /// The stored value that marks a missing one (`NaN`, `-32767`), if any.
    pub missing: Option<String>,
    /// Leading dimensions other than time and level, `month (12)`.
    pub other_dims: Vec<String>,
}

/// The stored value marking missing data: `_FillValue`, else
/// `missing_value`; `NaN` for a NaN fill.
pub(crate) fn missing_marker(p: &Packing) -> Option<String> {
    let show = |x: f64| {
        if x.is_nan() {
            "NaN".to_string()
        } else {
            format!("{x}")
        }
    };
    match (p.fill, p.missing) {
        (Some(f), Some(m)) if f != m && !(f.is_nan() && m.is_nan()) => {
            Some(format!("{} or {}", show(f), show(m)))
        }
        (Some(f), _) => Some(show(f)),
        (None, Some(m)) => Some(show(m)),
        (None, None) => None,
    }
}

/// A time axis: coverage, most common step and the gaps in it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TimeSummary {
    pub count: usize,
    pub first: Option<String>,
    pub last: Option<String>,
    /// Most common spacing in seconds.
    pub step_s: Option<i64>,
    pub gaps: Vec<Gap>,
}

/// Times missing between two present ones.
#[derive(Clone, Debug, Serialize)]
pub struct Gap {
    pub after: String,
    pub before: String,
    /// Number of steps missing (`duration / step - 1`; fractional steps round up).
    pub missing_steps: i64,
}

/// A step of 28 to 31 days: a monthly series.
fn is_monthly(step_s: i64) -> bool {
    (28 * 86_400..=31 * 86_400).contains(&step_s)
}

impl TimeSummary {
    /// Summarises sorted times.
    pub fn of(times: &[Timestamp]) -> TimeSummary {
        let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
        for w in times.windows(2) {
            *counts.entry(w[1] - w[0]).or_default() += 1;
        }
        let step = counts
            .iter()
            .max_by_key(|(d, c)| (**c, std::cmp::Reverse(**d)))
            .map(|(d, _)| *d);
        const DAY: i64 = 86_400;
        let gaps = match step {
            // Months are 28 to 31 days long: a gap is a step of more than
            // 31 days, and it misses (days / 30.44, rounded) - 1 months.
            Some(s) if is_monthly(s) => times
                .windows(2)
                .filter(|w| w[1] - w[0] > 31 * DAY)
                .map(|w| Gap {
                    after: format_time(w[0]),
                    before: format_time(w[1]),
                    missing_steps: ((w[1] - w[0]) as f64 / (30.436_875 * DAY as f64)).round()
                        as i64
                        - 1,
                })
                .collect(),
            Some(s) if s > 0 => times
                .windows(2)
                .filter(|w| w[1] - w[0] > s)
                .map(|w| Gap {
                    after: format_time(w[0]),
                    before: format_time(w[1]),
                    missing_steps: (w[1] - w[0] + s - 1) / s - 1,
                })
                .collect(),
            _ => Vec::new(),
        };
        TimeSummary {
            count: times.len(),
            first: times.first().map(|&t| format_time(t)),
            last: times.last().map(|&t| format_time(t)),
            step_s: step,
            gaps,
        }
    }

    /// `2020-01-01T00:00 .. 2020-01-31T18:00, 124 times every 6 h, 1 gap`
    /// (`every month` for steps of 28 to 31 days).
    pub fn describe(&self) -> String {
        match (&self.first, &self.last) {
            (Some(a), Some(b)) => {
                let step = match self.step_s {
                    None => String::new(),
                    // Monthly series (monthly means, climatologies on a
                    // time axis): 28 to 31 days apart.
                    Some(s) if is_monthly(s) => " every month".into(),
                    Some(s) => format!(" every {}", format_duration(s)),
                };
                let gaps = match self.gaps.len() {
                    0 => String::new(),
                    1 => ", 1 gap".into(),
                    n => format!(", {n} gaps"),
                };
                format!("{a} .. {b}, {} times{step}{gaps}", self.count)
            }
            _ => "no time axis".into(),
        }
    }
}

/// One file.
#[derive(Clone, Debug, Serialize)]
pub struct FileSummary {
    pub path: PathBuf,
    pub format: String,
    pub layout: Option<String>,
    pub grid: String,
    /// How the stored grid differs from the canonical orientation.
    pub orientation: String,
    pub variables: Vec<VarSummary>,
    pub time: TimeSummary,
    /// The lat-lon box of a file outside the catalogue (regional or with
    /// extra dimensions); `None` for catalogue files.
    pub area: Option<AreaSummary>,
    /// Whether the file is part of the merged catalogue (training data).
    pub in_catalogue: bool,
    /// What the file can and cannot be used for.
    pub notes: Vec<String>,
}

impl FileSummary {
    fn of(f: &FileInfo) -> FileSummary {
        let mut orientation = Vec::new();
        if f.lat_flipped {
            orientation.push("latitudes ascending (flipped on read)");
        }
        if f.lon_shift != 0 {
            orientation.push("longitudes not starting at 0 (rolled on read)");
        }
        FileSummary {
            path: f.path.clone(),
            format: f.format.into(),
            layout: f
                .layout
                .map(|l| format!("{l:?}"))
                .or_else(|| {
                    f.store
                        .as_ref()
                        .map(|_| "anemoi-datasets store".to_string())
                })
                .or_else(|| {
                    f.xarray
                        .as_ref()
                        .map(|_| "xarray / WeatherBench2 layout".to_string())
                }),
            grid: f.grid.describe(),
            orientation: if orientation.is_empty() {
                "canonical".into()
            } else {
                orientation.join(", ")
            },
            variables: f
                .vars
                .iter()
                .map(|v| VarSummary {
                    // A store's variable is one name per level (t_500, t_850).
                    name: match &f.store {
                        Some(st) => v
                            .store_index
                            .iter()
                            .filter_map(|&i| st.variables.get(i).cloned())
                            .collect::<Vec<_>>()
                            .join(","),
                        None => v.file_name.clone(),
                    },
                    short: v.short.clone(),
                    kind: v.kind,
                    units: v.units.clone(),
                    levels: v.levels.clone(),
                    packing: v.packing.describe(),
                    missing: missing_marker(&v.packing),
                    other_dims: Vec::new(),
                })
                .collect(),
            time: TimeSummary::of(&f.times),
            area: None,
            in_catalogue: true,
            notes: f
                .store
                .as_ref()
                .map(|st| {
                    crate::zarr::files::describe_store(st)
                        .into_iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// The merged catalogue.
#[derive(Clone, Debug, Serialize)]
pub struct MergedSummary {
    pub grid: String,
    /// short name -> (kind, levels, number of times present).
    pub variables: Vec<MergedVar>,
    pub time: TimeSummary,
}

#[derive(Clone, Debug, Serialize)]
pub struct MergedVar {
    pub short: String,
    pub kind: VarKind,
    pub units: Option<String>,
    pub levels: Option<Vec<u32>>,
    pub times: usize,
}

/// Everything `fastnet data inspect` prints.
#[derive(Clone, Debug, Serialize)]
pub struct Inspection {
    pub files: Vec<FileSummary>,
    pub merged: Option<MergedSummary>,
    /// One line per problem; empty when the data are usable.
    pub problems: Vec<String>,
}

/// Inspects `inputs` (paths, folders, globs), collecting every problem
/// instead of stopping at the first.
pub fn inspect<P: AsRef<Path>>(inputs: &[P]) -> Inspection {
    let mut problems = Vec::new();
    let mut paths = Vec::new();
    for p in inputs {
        match expand_paths(std::slice::from_ref(p)) {
            Ok(v) => paths.extend(v),
            Err(e) => problems.push(e.to_string()),
        }
    }
    paths.sort();
    paths.dedup();
    let mut scanned = Vec::new();
    let mut files = Vec::new();
    for p in &paths {
        match scan_file(p) {
            Ok(f) => {
                files.push(FileSummary::of(&f));
                scanned.push(f);
            }
            Err(e) if plain::may_describe(p, &e) => match plain::describe(p, &e) {
                Ok(summary) => files.push(summary),
                Err(reason) => problems.push(reason),
            },
            Err(e) => problems.push(e.to_string()),
        }
    }
    let merged = if scanned.is_empty() {
        None
    } else {
        match Dataset::merge(scanned) {
            Ok(ds) => Some(merged_summary(&ds, &mut problems)),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        }
    };
    Inspection {
        files,
        merged,
        problems,
    }
}

fn merged_summary(ds: &Dataset, problems: &mut Vec<String>) -> MergedSummary {
    let variables = ds
        .vars
        .values()
        .map(|v| {
            if v.kind != VarKind::Static && v.times.len() < ds.times.len() {
                let first_missing = ds.times.iter().find(|t| !v.times.contains_key(t));
                problems.push(format!(
                    "{}: {} of the {} times are missing (first {}); samples needing them will be skipped",
                    v.short,
                    ds.times.len() - v.times.len(),
                    ds.times.len(),
                    first_missing.map_or_else(String::new, |&t| format_time(t)),
                ));
            }
            MergedVar {
                short: v.short.clone(),
                kind: v.kind,
                units: v.units.clone(),
                levels: v.levels.clone(),
                times: v.times.len(),
            }
        })
        .collect();
    MergedSummary {
        grid: ds.grid.describe(),
        variables,
        time: TimeSummary::of(&ds.times),
    }
}

impl Inspection {
    /// The files of the merged catalogue (those [`check_values`] reads).
    pub fn catalogue_paths(&self) -> Vec<PathBuf> {
        self.files
            .iter()
            .filter(|f| f.in_catalogue)
            .map(|f| f.path.clone())
            .collect()
    }
}

/// Reads every field of the files outside the catalogue (regional boxes)
/// and returns per file and variable one line counting the missing values
/// (NaN or fill), for variables with any. Variables with a leading
/// dimension other than time, level and `expver` are not read.
pub fn check_box_values(report: &Inspection) -> Vec<String> {
    let mut lines = Vec::new();
    for f in report.files.iter().filter(|f| !f.in_catalogue) {
        let data = match RegionalData::open(std::slice::from_ref(&f.path)) {
            Ok(d) => d,
            Err(e) => {
                lines.push(e.to_string());
                continue;
            }
        };
        let mut out = vec![0f32; data.area.len()];
        for fv in &data.files[0].vars {
            let Some(v) = data.vars.get(&fv.short) else {
                continue;
            };
            if !fv.dims[..fv.dims.len() - 2]
                .iter()
                .enumerate()
                .all(|(k, (n, l))| {
                    *l == 1
                        || n == crate::regional::EXPVER_DIM
                        || Some(k) == fv.time_pos
                        || Some(k) == fv.level_pos
                })
            {
                continue;
            }
            let levels: Vec<Option<u32>> = match &v.levels {
                Some(ls) => ls.iter().map(|&l| Some(l)).collect(),
                None => vec![None],
            };
            let (mut fields, mut bad_fields, mut count) = (0usize, 0usize, 0usize);
            let mut first = None;
            for &t in v.times.keys() {
                for &l in &levels {
                    fields += 1;
                    match data.read_field(&v.short, l, t, &mut out) {
                        Ok(0) => {}
                        Ok(n) => {
                            bad_fields += 1;
                            count += n;
                            first.get_or_insert(t);
                        }
                        Err(e) => lines.push(e.to_string()),
                    }
                }
            }
            if count > 0 {
                let at = match (v.kind, first) {
                    (VarKind::Static, _) | (_, None) => String::new(),
                    (_, Some(t)) => format!(", first at {}", format_time(t)),
                };
                lines.push(format!(
                    "{}: {}: {count} missing values (NaN or fill) in {bad_fields} of {fields} fields{at}",
                    f.path.display(),
                    v.short
                ));
            }
        }
    }
    lines
}

/// Reads every field of `ds` and returns one line per field holding NaN or
/// fill values (count and first position), at most `max_lines` lines plus a
/// summary line. `progress(done, total)` is called per time.
pub fn check_values(
    ds: &Dataset,
    max_lines: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut bad = 0usize;
    let mut out = vec![0f32; ds.grid.len()];
    let mut check = |var: &str, level: Option<u32>, t: Timestamp, lines: &mut Vec<String>| {
        if let Err(e) = ds.read_field(var, level, t, &mut out) {
            bad += 1;
            if lines.len() < max_lines {
                lines.push(e.to_string());
            }
        }
    };
    for v in ds.vars.values().filter(|v| v.kind == VarKind::Static) {
        check(&v.short, None, 0, &mut lines);
    }
    let times: Vec<Timestamp> = ds.times.clone();
    for (k, &t) in times.iter().enumerate() {
        progress(k, times.len());
        for v in ds.vars.values().filter(|v| v.kind != VarKind::Static) {
            if !v.times.contains_key(&t) {
                continue;
            }
            match &v.levels {
                Some(ls) => ls
                    .iter()
                    .for_each(|&l| check(&v.short, Some(l), t, &mut lines)),
                None => check(&v.short, None, t, &mut lines),
            }
        }
    }
    progress(times.len(), times.len());
    if bad > lines.len() {
        lines.push(format!(
            "... {} more fields with problems",
            bad - lines.len()
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::HOUR;

    #[test]
    fn step_and_gaps_of_a_time_axis() {
        let t: Vec<i64> = [0, 6, 12, 24, 30, 48].iter().map(|h| h * HOUR).collect();
        let s = TimeSummary::of(&t);
        assert_eq!(s.step_s, Some(6 * HOUR));
        assert_eq!(s.gaps.len(), 2);
        assert_eq!(s.gaps[0].missing_steps, 1);
        // April to July: 30- and 31-day months, no gap.
        let t: Vec<i64> = [91, 121, 152, 182]
            .iter()
            .map(|d| 1_577_836_800 + d * 86_400)
            .collect();
        assert!(TimeSummary::of(&t).gaps.is_empty()); // 18 h missing
        assert_eq!(s.gaps[1].missing_steps, 2); // 36 h missing
        assert!(
            s.describe().contains("6 times every 6 h, 2 gaps"),
            "{}",
            s.describe()
        );
        assert_eq!(TimeSummary::of(&[]).describe(), "no time axis");
        // Monthly means: the first of each month of 2020, July missing.
        let days = [0, 31, 60, 91, 121, 152, 213, 244, 274, 305, 335];
        let t: Vec<i64> = days.iter().map(|d| 1_577_836_800 + d * 86_400).collect();
        let s = TimeSummary::of(&t);
        assert!(
            s.describe().ends_with("11 times every month, 1 gap"),
            "{}",
            s.describe()
        );
        assert_eq!(s.gaps[0].after, "2020-06-01T00:00");
        assert_eq!(s.gaps[0].missing_steps, 1);
        // April to July: 30- and 31-day months, no gap.
        let t: Vec<i64> = [91, 121, 152, 182]
            .iter()
            .map(|d| 1_577_836_800 + d * 86_400)
            .collect();
        assert!(TimeSummary::of(&t).gaps.is_empty());
    }

    #[test]
    fn value_check_reports_fields_with_missing_values() {
        use crate::fixture::{scratch_dir, values};
        use crate::writer::{write_era5, VarData, WriteOptions};
        let dir = scratch_dir("check-values");
        let grid = fastnet_mesh::Grid::equiangular(19, 36, true).unwrap();
        let ts = [0, 6 * HOUR, 12 * HOUR];
        let mut v = values("t2m", None, &grid, &ts);
        let n = grid.len();
        v[n + 7] = f32::NAN; // second time
        v[2 * n + 1] = f32::NAN; // third time, two values
        v[2 * n + 2] = f32::NAN;
        let path = dir.join("t2m.nc");
        let var = VarData {
            name: "t2m".into(),
            units: "K".into(),
            levels: None,
            values: v,
        };
        write_era5(&path, &grid, &ts, &[var], &WriteOptions::old_cds()).unwrap();
        let ds = Dataset::open(&[&path]).unwrap();
        let lines = check_values(&ds, 10, &mut |_, _| {});
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].contains("1970-01-01T06:00") && lines[0].contains(": 1 missing"),
            "{}",
            lines[0]
        );
        assert!(lines[1].contains(": 2 missing"), "{}", lines[1]);
        let capped = check_values(&ds, 1, &mut |_, _| {});
        assert_eq!(capped[1], "... 1 more fields with problems");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
