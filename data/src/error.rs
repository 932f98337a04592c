//! The one error type of the data crate.
//!
//! Every variant names the file (when there is one), the variable and what was
//! expected, so that the `Display` text alone tells a user what to fix.

use std::path::PathBuf;

/// Everything that can go wrong reading, checking, normalising or loading
/// ERA5 data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: no such file or folder")]
    Missing { path: PathBuf },

    #[error("{pattern}: the pattern matches no file")]
    NoMatch { pattern: String },

    #[error(
        "{path}: cannot open as NetCDF (missing, unreadable, truncated or not NetCDF): {reason}"
    )]
    Open { path: PathBuf, reason: String },

    #[error("{variable} in {path}: cannot read: {reason}")]
    Read {
        path: PathBuf,
        variable: String,
        reason: String,
    },

    #[error("{path}: cannot write: {reason}")]
    Write { path: PathBuf, reason: String },

    #[error("{path}: {what}: {expected}")]
    BadCoordinate {
        path: PathBuf,
        what: String,
        expected: String,
    },

    #[error("{path}: point dimension `values`: {found}; expected {expected}")]
    ReducedGrid {
        path: PathBuf,
        found: String,
        expected: String,
    },

    #[error("{what}: cannot regrid: {reason}")]
    Regrid { what: String, reason: String },

    #[error("{path}: time unit {units:?} is not understood: expected \"hours|minutes|seconds|days since YYYY-MM-DD[ hh:mm:ss]\" with a standard/gregorian calendar")]
    BadTimeUnits { path: PathBuf, units: String },

    #[error("{variable} in {path}: dimension `{dim}` has length {len}; expected 1 (select one {dim} before passing the file)")]
    ExtraDimension {
        path: PathBuf,
        variable: String,
        dim: String,
        len: usize,
    },

    #[error(
        "{path}: grid {found} differs from {expected} in {first}; all files must share one grid"
    )]
    GridMismatch {
        path: PathBuf,
        first: PathBuf,
        expected: String,
        found: String,
    },

    #[error("{path}: time {time} appears at positions {first} and {second}; times must be strictly increasing")]
    DuplicateTimeInFile {
        path: PathBuf,
        time: String,
        first: usize,
        second: usize,
    },

    #[error("{path}: times are not increasing: position {index} ({time}) comes after {previous}")]
    NonMonotonicTimes {
        path: PathBuf,
        index: usize,
        time: String,
        previous: String,
    },

    #[error("{variable}: time {time} is in both {first} and {second}; each (variable, time) must come from one file")]
    DuplicateTimeAcrossFiles {
        variable: String,
        time: String,
        first: PathBuf,
        second: PathBuf,
    },

    #[error("{variable}: levels {found:?} hPa in {path} differ from {expected:?} hPa in {first}")]
    LevelsDiffer {
        variable: String,
        path: PathBuf,
        first: PathBuf,
        expected: Box<[u32]>,
        found: Box<[u32]>,
    },

    #[error("{variable} in {path}: units {found:?} but {} needs {:?}{}", .info.long_name, .info.units[0], .info.hint)]
    UnitsMismatch {
        path: PathBuf,
        variable: String,
        found: String,
        info: &'static crate::catalogue::VarInfo,
    },

    #[error(
        "variable {variable} is not in the data ({available}); expected it for channel {channel}"
    )]
    VariableAbsent {
        variable: String,
        channel: String,
        available: String,
    },

    #[error("{variable} at {level} hPa is not in the data (levels present: {available:?} hPa); expected it for channel {channel}")]
    LevelAbsent {
        variable: String,
        level: u32,
        channel: String,
        available: Vec<u32>,
    },

    #[error("{variable} at {time}: no file holds this time (data cover {coverage})")]
    TimeAbsent {
        variable: String,
        time: String,
        coverage: String,
    },

    #[error("{variable}{level} in {path} at {time}: {count} missing values (NaN or fill value), first at lat {lat}, lon {lon}; expected a complete field")]
    MissingValues {
        path: PathBuf,
        variable: String,
        level: String,
        time: String,
        count: usize,
        lat: f32,
        lon: f32,
    },

    #[error("date range {from} .. {to} holds no usable time of the data (data cover {coverage})")]
    EmptyRange {
        from: String,
        to: String,
        coverage: String,
    },

    #[error(
        "cannot parse date {text:?}: expected YYYY-MM-DD, YYYY-MM-DDThh or YYYY-MM-DDThh:mm[:ss]"
    )]
    BadDate { text: String },

    #[error("period {from} .. {to}: the end is before the start")]
    BadPeriod { from: String, to: String },

    #[error("channel `{field}` = {value}: {expected}")]
    BadConfig {
        field: String,
        value: String,
        expected: String,
    },

    #[error("statistics file {path}: {reason}")]
    BadStats { path: PathBuf, reason: String },

    #[error("{path}: not a readable Zarr store: {reason}")]
    ZarrOpen { path: PathBuf, reason: String },

    #[error("{path}: {what}; expected {expected}")]
    AnemoiStore {
        path: PathBuf,
        what: String,
        expected: String,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn read(
        path: impl Into<PathBuf>,
        variable: impl Into<String>,
        e: impl std::fmt::Display,
    ) -> Self {
        DataError::Read {
            path: path.into(),
            variable: variable.into(),
            reason: e.to_string(),
        }
    }
}
