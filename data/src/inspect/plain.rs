//! Files the training catalogue cannot take but a user can still read: a
//! regional lat-lon box (a CDS `area` download), a file whose variables
//! carry a leading dimension other than time and level (a monthly
//! climatology's `month`, an ERA5/ERA5T `expver` mix, an ensemble
//! `number`). They are described through [`crate::regional`] with notes on
//! what they can and cannot be used for, and left out of the merged
//! catalogue.

use std::path::Path;

use crate::error::DataError;
use crate::regional::{RegionalFile, EXPVER_DIM};

use super::{missing_marker, AreaSummary, FileSummary, TimeSummary, VarSummary};

/// Whether a scan error is one a plain lat-lon reading may get past: the
/// grid is not a global one, or a variable has an extra leading dimension,
/// in a NetCDF file (not a Zarr store).
pub(super) fn may_describe(path: &Path, e: &DataError) -> bool {
    let zarr = path.to_string_lossy().contains(".zarr");
    !zarr
        && matches!(
            e,
            DataError::BadCoordinate { .. } | DataError::ExtraDimension { .. }
        )
}

/// Describes `path` as a lat-lon box, or says why it cannot be read: the
/// box reader's own reason after the catalogue's (`scan_error`).
pub(super) fn describe(path: &Path, scan_error: &DataError) -> Result<FileSummary, String> {
    let f = RegionalFile::open(path).map_err(|e| {
        let (a, b) = (scan_error.to_string(), e.to_string());
        if a == b {
            a
        } else {
            format!("{a}; read as a lat-lon box: {b}")
        }
    })?;
    let mut notes = Vec::new();
    if !f.area.is_global() {
        notes.push(format!(
            "regional box {}: a global model cannot train on it alone (training, statistics and forecasts need global fields); left out of the merged catalogue",
            f.area.describe()
        ));
    }
    for d in &f.other_dims {
        let values = match d.values.as_slice() {
            [] => String::new(),
            [a] => format!(" ({a})"),
            v => format!(
                " ({}{})",
                v.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                if d.len > v.len() { ", ..." } else { "" }
            ),
        };
        let what = match d.name.as_str() {
            "month" => "months of a climatology, not a time axis".to_string(),
            EXPVER_DIM if d.len > 1 => {
                "ERA5 and ERA5T experiments mixed: each time is in one of them (fastnet's box reader merges them point by point; select one expver for training)".to_string()
            }
            "number" | "realization" | "member" if d.len > 1 => {
                "ensemble members: select one member for training".to_string()
            }
            _ if d.len == 1 => "a dimension of length 1".to_string(),
            _ => "not a time axis".to_string(),
        };
        notes.push(format!(
            "dimension `{}` of {} values{values}: {what}",
            d.name, d.len
        ));
    }
    if f.area.is_global() && !f.other_dims.iter().all(|d| d.len == 1) {
        notes.push(
            "left out of the merged catalogue: training data need fields on a time axis only"
                .into(),
        );
    }
    let mut orientation = Vec::new();
    if f.orientation.lat_flipped {
        orientation.push("latitudes ascending (flipped on read)".to_string());
    }
    if f.orientation.cols.iter().enumerate().any(|(j, &c)| j != c) {
        orientation.push("longitudes reordered west to east on read".to_string());
    }
    let grid = if f.area.is_global() {
        format!("global lat-lon {}", f.area.describe())
    } else {
        format!("regional lat-lon box {}", f.area.describe())
    };
    let extra = |dims: &[(String, usize)], skip: [Option<usize>; 2]| -> Vec<String> {
        dims[..dims.len() - 2]
            .iter()
            .enumerate()
            .filter(|(k, _)| !skip.contains(&Some(*k)))
            .map(|(_, (n, l))| format!("{n} ({l})"))
            .collect()
    };
    Ok(FileSummary {
        path: f.path.clone(),
        format: f.format.into(),
        layout: f.layout.map(|l| format!("{l:?}")),
        grid,
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
                missing: missing_marker(&v.packing),
                other_dims: extra(&v.dims, [v.time_pos, v.level_pos]),
            })
            .collect(),
        time: TimeSummary::of(&f.times),
        area: Some(AreaSummary::of(&f.area)),
        in_catalogue: false,
        notes,
    })
}
