//! Regridding whole NetCDF files, one field at a time.
//!
//! The output keeps the input's structure with the grid replaced: every
//! dimension except latitude and longitude (unlimited ones stay unlimited),
//! one point dimension `values` with per-point `latitude(values)` and
//! `longitude(values)` ([`crate::writer::define_point_coordinates`]), the
//! global attributes (plus `grid = "O96"` and a line in `history`), and every
//! variable under its own name: data variables (those the reader recognises,
//! [`crate::scan`]) as float32 `[.., values]` with their attributes except
//! the packing ones (`scale_factor`, `add_offset`, `_FillValue`,
//! `missing_value`, `valid_*`, `actual_range`), NaN for missing values,
//! zlib level 1 with shuffle, one chunk per field; other variables (time,
//! level, `number`, `expver`, ...) copied as they are. Variables on only one
//! of the two grid dimensions (cell bounds) have no meaning on the new grid
//! and are dropped (listed in the report). Packed int16 inputs are unpacked.
//!
//! Memory: one source and one target field at a time, plus the weights.
//! The output is written to a temporary file renamed into place when
//! complete ([`fastnet_mesh::atomic`]).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fastnet_mesh::Grid;
use netcdf::types::{FloatType, IntType, NcVariableType};
use netcdf::AttributeValue;

use super::{Method, Weights};
use crate::dataset::{decode_into, field_extents, read_raw};
use crate::error::{DataError, Result};
use crate::scan::{open_nc, scan_file, FileInfo, FileVar, POINT_DIM};
use crate::writer::{define_point_coordinates, gaussian_name, put_point_coordinates};

/// Attributes of data variables that describe the stored (packed) values
/// and are not carried over to the float32 output.
const PACKING_ATTRS: &[&str] = &[
    "scale_factor",
    "add_offset",
    "_FillValue",
    "missing_value",
    "valid_min",
    "valid_max",
    "valid_range",
    "actual_range",
];

/// What [`Regridder::regrid_file`] did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RegridReport {
    pub input: PathBuf,
    pub output: PathBuf,
    /// `Grid::describe` of the input's grid.
    pub source_grid: String,
    pub method: Method,
    /// Fields regridded (one per variable, level, time).
    pub fields: usize,
    /// Data variables regridded, file names.
    pub variables: Vec<String>,
    /// Other variables copied unchanged.
    pub copied: Vec<String>,
    /// Variables left out (on one grid dimension only, or of a type that is
    /// not copied), with the reason.
    pub dropped: Vec<String>,
}

/// Number of fields (variable, level, time) of a scanned file: what a
/// progress bar over [`Regridder::regrid_scanned`] counts.
pub fn count_fields(info: &FileInfo) -> usize {
    info.vars.iter().map(|v| leading_len(v, info)).sum()
}

/// Product of the lengths of the non-grid dimensions of `v`.
fn leading_len(v: &FileVar, info: &FileInfo) -> usize {
    let g = info.grid_dims.len();
    v.dims[..v.dims.len() - g].iter().map(|d| d.1).product()
}

/// Regrids files to one target grid by one method, computing the weights
/// once per source grid met.
pub struct Regridder {
    target: Grid,
    method: Method,
    cache: Vec<(Grid, Arc<Weights>)>,
}

impl Regridder {
    /// A regridder writing files on `target`, which must be a reduced
    /// Gaussian grid (the point layout the reader accepts).
    pub fn new(target: Grid, method: Method) -> Result<Regridder> {
        if !target.is_gaussian() {
            return Err(DataError::Regrid {
                what: format!("target {}", target.describe()),
                reason: "regridded files are written on reduced Gaussian grids (o96, n48, ...)"
                    .into(),
            });
        }
        Ok(Regridder {
            target,
            method,
            cache: Vec::new(),
        })
    }

    pub fn target(&self) -> &Grid {
        &self.target
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// The weights from `source` to the target (computed on first use).
    pub fn weights_for(&mut self, source: &Grid) -> Result<Arc<Weights>> {
        if let Some((_, w)) = self.cache.iter().find(|(g, _)| g == source) {
            return Ok(w.clone());
        }
        let w = Arc::new(Weights::new(source, &self.target, self.method)?);
        self.cache.push((source.clone(), w.clone()));
        Ok(w)
    }

    /// Scans `input` and regrids it to `output` ([`Regridder::regrid_scanned`]).
    pub fn regrid_file(
        &mut self,
        input: &Path,
        output: &Path,
        progress: &mut dyn FnMut(),
    ) -> Result<RegridReport> {
        let info = scan_file(input)?;
        if info.store.is_some() {
            return Err(DataError::Regrid {
                what: input.display().to_string(),
                reason: "an anemoi-datasets Zarr store is regridded when it is built (the recipe's grid); regrid the NetCDF sources, or build the store on the target grid with anemoi-datasets".into(),
            });
        }
        self.regrid_scanned(&info, output, progress)
    }

    /// Regrids the file `info` describes to `output` (replaced atomically),
    /// one field at a time; `progress()` is called after each field.
    ///
    /// Errors: an input that is not on an equiangular grid (e.g. already on
    /// a Gaussian grid), an output path that is the input, a dimension named
    /// `values` in the input, and read/write failures.
    pub fn regrid_scanned(
        &mut self,
        info: &FileInfo,
        output: &Path,
        progress: &mut dyn FnMut(),
    ) -> Result<RegridReport> {
        let input = &info.path;
        let weights = self.weights_for(&info.grid).map_err(|e| match e {
            DataError::Regrid { reason, .. } => DataError::Regrid {
                what: input.display().to_string(),
                reason,
            },
            other => other,
        })?;
        if same_file(input, output) {
            return Err(DataError::Regrid {
                what: input.display().to_string(),
                reason: format!(
                    "the output {} is the input; write to another folder",
                    output.display()
                ),
            });
        }
        let tmp = fastnet_mesh::atomic::temp_path(output);
        let result = self
            .write(info, &weights, &tmp, output, progress)
            .and_then(|r| {
                fastnet_mesh::atomic::commit(&tmp, output)
                    .map_err(|e| DataError::io(output, e))
                    .map(|_| r)
            });
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn write(
        &self,
        info: &FileInfo,
        weights: &Weights,
        file: &Path,
        output: &Path,
        progress: &mut dyn FnMut(),
    ) -> Result<RegridReport> {
        let werr = |e: netcdf::Error| DataError::Write {
            path: output.to_path_buf(),
            reason: e.to_string(),
        };
        let input = &info.path;
        let src = open_nc(input)?;
        if src.dimension(POINT_DIM).is_some() {
            return Err(DataError::Regrid {
                what: input.display().to_string(),
                reason: format!(
                    "the input already has a dimension `{POINT_DIM}`, the output's point dimension"
                ),
            });
        }
        let npoints = self.target.len();
        let mut out = netcdf::create_with(file, netcdf::Options::NETCDF4).map_err(werr)?;

        // Dimensions: the input's, the grid's replaced by `values`.
        for d in src.dimensions() {
            let name = d.name();
            if info.grid_dims.contains(&name) {
                continue;
            }
            if d.is_unlimited() {
                out.add_unlimited_dimension(&name).map_err(werr)?;
            } else {
                out.add_dimension(&name, d.len()).map_err(werr)?;
            }
        }
        out.add_dimension(POINT_DIM, npoints).map_err(werr)?;

        // Global attributes, then the grid's and a history line.
        let history_line = format!(
            "{}: fastnet data regrid --grid {} --method {} {}",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
            gaussian_name(&self.target).unwrap_or_else(|| self.target.describe()),
            self.method,
            input.display()
        );
        let mut history = history_line.clone();
        for a in src.attributes() {
            let name = a.name().to_string();
            if name.starts_with('_') || name == "grid" {
                continue;
            }
            let value = a.value().map_err(|e| DataError::read(input, &name, e))?;
            if name == "history" {
                if let AttributeValue::Str(old) = &value {
                    history = format!("{history_line}\n{old}");
                    continue;
                }
            }
            out.add_attribute(&name, value).map_err(werr)?;
        }
        out.add_attribute("history", history.as_str())
            .map_err(werr)?;
        define_point_coordinates(&mut out, &self.target).map_err(werr)?;

        // Define the variables.
        let mut report = RegridReport {
            input: input.clone(),
            output: output.to_path_buf(),
            source_grid: info.grid.describe(),
            method: self.method,
            fields: 0,
            variables: Vec::new(),
            copied: Vec::new(),
            dropped: Vec::new(),
        };
        let mut copies = Vec::new();
        for v in src.variables() {
            let name = v.name();
            let dims: Vec<String> = v.dimensions().iter().map(|d| d.name()).collect();
            if let Some(fv) = info.vars.iter().find(|fv| fv.file_name == name) {
                define_data_var(&mut out, &v, fv, info, npoints).map_err(werr)?;
                report.variables.push(name);
            } else if info.coord_vars.contains(&name) {
                // replaced by the per-point coordinates
            } else if dims.iter().any(|d| info.grid_dims.contains(d)) {
                report.dropped.push(format!(
                    "{name} (dimensions {dims:?} hold only part of the grid)"
                ));
            } else if copyable(&v.vartype()) {
                let dref: Vec<&str> = dims.iter().map(String::as_str).collect();
                let mut ov = match v.vartype() {
                    NcVariableType::String => out.add_string_variable(&name, &dref),
                    t => out.add_variable_with_type(&name, &dref, &t),
                }
                .map_err(werr)?;
                for a in v.attributes() {
                    let an = a.name().to_string();
                    if an.starts_with('_') && an != "_FillValue" {
                        continue;
                    }
                    let value = a.value().map_err(|e| DataError::read(input, &name, e))?;
                    ov.put_attribute(&an, value).map_err(werr)?;
                }
                copies.push(name.clone());
                report.copied.push(name);
            } else {
                report
                    .dropped
                    .push(format!("{name} (type {:?} is not copied)", v.vartype()));
            }
        }

        // Values: coordinates, copied variables, then the fields.
        put_point_coordinates(&mut out, &self.target, false).map_err(werr)?;
        for name in &copies {
            let (Some(v), Some(mut ov)) = (src.variable(name), out.variable_mut(name)) else {
                return Err(DataError::read(input, name, "variable vanished"));
            };
            copy_values(&v, &mut ov).map_err(|e| DataError::Write {
                path: output.to_path_buf(),
                reason: format!("copying {name}: {e}"),
            })?;
        }
        let mut field = vec![0f32; info.grid.len()];
        let mut target = vec![0f32; npoints];
        let g = info.grid_dims.len();
        for fv in &info.vars {
            let v = src
                .variable(&fv.file_name)
                .ok_or_else(|| DataError::read(input, &fv.file_name, "variable vanished"))?;
            let nt = fv.time_pos.map_or(1, |k| fv.dims[k].1);
            let nl = fv.level_pos.map_or(1, |k| fv.dims[k].1);
            for ti in 0..nt {
                for li in 0..nl {
                    let ext = field_extents(fv, g, ti, li);
                    let raw = read_raw(&v, fv, ext.clone())
                        .map_err(|e| DataError::read(input, &fv.file_name, e))?;
                    decode_into(&raw, fv, info, &mut field);
                    weights.apply_f32(&field, &mut target)?;
                    let mut out_ext: Vec<Range<usize>> = ext[..ext.len() - g].to_vec();
                    out_ext.push(0..npoints);
                    let mut ov = out.variable_mut(&fv.file_name).ok_or_else(|| {
                        DataError::read(output, &fv.file_name, "variable vanished")
                    })?;
                    ov.put_values(&target, out_ext).map_err(werr)?;
                    report.fields += 1;
                    progress();
                }
            }
        }
        out.close().map_err(werr)?;
        Ok(report)
    }
}

/// Defines the float32 output variable of data variable `fv` with its
/// attributes (packing ones left out).
fn define_data_var(
    out: &mut netcdf::FileMut,
    v: &netcdf::Variable,
    fv: &FileVar,
    info: &FileInfo,
    npoints: usize,
) -> netcdf::Result<()> {
    let g = info.grid_dims.len();
    let lead = &fv.dims[..fv.dims.len() - g];
    let mut dims: Vec<&str> = lead.iter().map(|d| d.0.as_str()).collect();
    dims.push(POINT_DIM);
    let mut ov = out.add_variable::<f32>(&fv.file_name, &dims)?;
    let mut chunks = vec![1usize; lead.len()];
    chunks.push(npoints);
    ov.set_chunking(&chunks)?;
    ov.set_compression(1, true)?;
    ov.set_fill_value(f32::NAN)?;
    let mut has_coordinates = false;
    for a in v.attributes() {
        let name = a.name().to_string();
        if name.starts_with('_') || PACKING_ATTRS.contains(&name.as_str()) {
            continue;
        }
        let value = a.value()?;
        if name == "coordinates" {
            has_coordinates = true;
            if let AttributeValue::Str(c) = &value {
                let mut words: Vec<&str> = c.split_whitespace().collect();
                for w in ["latitude", "longitude"] {
                    if !words.contains(&w) {
                        words.push(w);
                    }
                }
                ov.put_attribute("coordinates", words.join(" "))?;
                continue;
            }
        }
        ov.put_attribute(&name, value)?;
    }
    if !has_coordinates {
        ov.put_attribute("coordinates", "latitude longitude")?;
    }
    Ok(())
}

fn copyable(t: &NcVariableType) -> bool {
    matches!(
        t,
        NcVariableType::Int(_) | NcVariableType::Float(_) | NcVariableType::String
    )
}

/// Copies all values of `v` into `ov` (same type and shape).
fn copy_values(v: &netcdf::Variable, ov: &mut netcdf::VariableMut) -> netcdf::Result<()> {
    let shape: Vec<usize> = v.dimensions().iter().map(|d| d.len()).collect();
    let ext: Vec<Range<usize>> = shape.iter().map(|&n| 0..n).collect();
    if shape.contains(&0) {
        return Ok(());
    }
    macro_rules! copy_as {
        ($t:ty) => {{
            let vals = v.get_values::<$t, _>(ext.clone())?;
            ov.put_values(&vals, ext)?
        }};
    }
    match v.vartype() {
        NcVariableType::Int(IntType::U8) => copy_as!(u8),
        NcVariableType::Int(IntType::I8) => copy_as!(i8),
        NcVariableType::Int(IntType::U16) => copy_as!(u16),
        NcVariableType::Int(IntType::I16) => copy_as!(i16),
        NcVariableType::Int(IntType::U32) => copy_as!(u32),
        NcVariableType::Int(IntType::I32) => copy_as!(i32),
        NcVariableType::Int(IntType::U64) => copy_as!(u64),
        NcVariableType::Int(IntType::I64) => copy_as!(i64),
        NcVariableType::Float(FloatType::F32) => copy_as!(f32),
        NcVariableType::Float(FloatType::F64) => copy_as!(f64),
        NcVariableType::String => {
            let total: usize = shape.iter().product();
            let mut idx = vec![0usize; shape.len()];
            for _ in 0..total {
                let s = v.get_string(idx.as_slice())?;
                ov.put_string(&s, idx.as_slice())?;
                // odometer over the indices, last fastest
                for d in (0..idx.len()).rev() {
                    idx[d] += 1;
                    if idx[d] < shape[d] {
                        break;
                    }
                    idx[d] = 0;
                }
            }
        }
        other => return Err(netcdf::Error::from(format!("type {other:?} is not copied"))),
    }
    Ok(())
}

/// Whether `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
