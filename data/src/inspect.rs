//! What `fastnet data inspect` reports: per file and merged, the variables,
//! levels, grid, time coverage and step, gaps and packing, plus one line per
//! problem found. Only metadata is read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalogue::VarKind;
use crate::dataset::{expand_paths, Dataset};
use crate::scan::{scan_file, FileInfo};
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
        let gaps = match step {
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

    /// `2020-01-01T00:00 .. 2020-01-31T18:00, 124 times every 6 h, 1 gap`.
    pub fn describe(&self) -> String {
        match (&self.first, &self.last) {
            (Some(a), Some(b)) => {
                let step = self
                    .step_s
                    .map_or(String::new(), |s| format!(" every {}", format_duration(s)));
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
            layout: f.layout.map(|l| format!("{l:?}")),
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
                    name: v.file_name.clone(),
                    short: v.short.clone(),
                    kind: v.kind,
                    units: v.units.clone(),
                    levels: v.levels.clone(),
                    packing: v.packing.describe(),
                })
                .collect(),
            time: TimeSummary::of(&f.times),
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
    for p in &paths {
        match scan_file(p) {
            Ok(f) => scanned.push(f),
            Err(e) => problems.push(e.to_string()),
        }
    }
    let files = scanned.iter().map(FileSummary::of).collect();
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
        assert_eq!(s.gaps[0].missing_steps, 1); // 18 h missing
        assert_eq!(s.gaps[1].missing_steps, 2); // 36 h missing
        assert!(
            s.describe().contains("6 times every 6 h, 2 gaps"),
            "{}",
            s.describe()
        );
        assert_eq!(TimeSummary::of(&[]).describe(), "no time axis");
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
