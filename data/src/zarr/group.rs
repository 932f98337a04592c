//! Zarr v2/v3 groups and arrays on the filesystem, through `zarrs`.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};
use zarrs::array::{Array, ArrayMetadata};
use zarrs::filesystem::FilesystemStore;
use zarrs::group::Group;

use crate::error::{DataError, Result};

/// An opened Zarr group (the root of a store).
pub struct ZarrGroup {
    path: PathBuf,
    store: Arc<FilesystemStore>,
    attributes: Map<String, Value>,
    arrays: Vec<String>,
}

/// One array of a [`ZarrGroup`].
pub struct ZarrArray {
    path: PathBuf,
    name: String,
    array: Array<FilesystemStore>,
    dtype: String,
    dims: Vec<String>,
    attributes: Map<String, Value>,
    fill_value: Option<f64>,
}

impl std::fmt::Debug for ZarrGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZarrGroup")
            .field("path", &self.path)
            .field("arrays", &self.arrays)
            .finish()
    }
}

impl ZarrGroup {
    /// Opens the group at the root of the store `path`.
    pub fn open(path: &Path) -> Result<ZarrGroup> {
        if !path.exists() {
            return Err(DataError::Missing {
                path: path.to_path_buf(),
            });
        }
        let fail = |reason: String| DataError::ZarrOpen {
            path: path.to_path_buf(),
            reason,
        };
        if !path.is_dir() {
            return Err(fail("a Zarr store is a folder, this is a file".into()));
        }
        let store = Arc::new(FilesystemStore::new(path).map_err(|e| fail(e.to_string()))?);
        let group = Group::open(store.clone(), "/").map_err(|e| {
            fail(format!(
                "{e} (expected .zgroup for Zarr v2 or zarr.json for v3)"
            ))
        })?;
        let mut arrays: Vec<String> = group
            .child_array_paths()
            .map_err(|e| fail(e.to_string()))?
            .iter()
            .map(|p| p.as_str().trim_start_matches('/').to_string())
            .collect();
        arrays.sort();
        Ok(ZarrGroup {
            path: path.to_path_buf(),
            store,
            attributes: group.attributes().clone(),
            arrays,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The group's attributes (`.zattrs` in v2).
    pub fn attributes(&self) -> &Map<String, Value> {
        &self.attributes
    }

    /// Names of the arrays directly in the group, sorted.
    pub fn array_names(&self) -> Vec<String> {
        self.arrays.clone()
    }

    /// Whether the group holds an array `name`.
    pub fn has_array(&self, name: &str) -> bool {
        self.arrays.iter().any(|a| a == name)
    }

    /// Opens the array `name`.
    pub fn array(&self, name: &str) -> Result<ZarrArray> {
        if !self.has_array(name) {
            return Err(DataError::read(
                &self.path,
                name,
                format!("no such array (the store has: {})", self.arrays.join(", ")),
            ));
        }
        let array = Array::open(self.store.clone(), &format!("/{name}"))
            .map_err(|e| DataError::read(&self.path, name, e))?;
        let (dtype, mut attributes, fill) = match array.metadata() {
            ArrayMetadata::V2(m) => (
                numpy_dtype_name(&m.dtype.to_string()),
                m.attributes.clone(),
                serde_json::to_value(&m.fill_value).ok(),
            ),
            ArrayMetadata::V3(m) => (
                m.data_type.name().to_string(),
                m.attributes.clone(),
                serde_json::to_value(&m.fill_value).ok(),
            ),
        };
        let fill_value = match fill {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => match s.as_str() {
                "NaN" => Some(f64::NAN),
                "Infinity" => Some(f64::INFINITY),
                "-Infinity" => Some(f64::NEG_INFINITY),
                _ => None,
            },
            _ => None,
        };
        let mut dims: Vec<String> = match attributes.remove("_ARRAY_DIMENSIONS") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|d| d.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        if dims.is_empty() {
            if let Some(names) = array.dimension_names() {
                dims = names
                    .iter()
                    .map(|d| d.as_deref().unwrap_or("").to_string())
                    .collect();
            }
        }
        Ok(ZarrArray {
            path: self.path.clone(),
            name: name.to_string(),
            array,
            dtype,
            dims,
            attributes,
            fill_value,
        })
    }
}

/// numpy's `<f4`, `|u1`, ... as `float32`, `uint8`, ...; other strings
/// (datetime64 `<M8[s]`, structured types) are returned as they are.
fn numpy_dtype_name(np: &str) -> String {
    let code = np.trim_start_matches(['<', '>', '|', '=']);
    match code {
        "f2" => "float16",
        "f4" => "float32",
        "f8" => "float64",
        "i1" => "int8",
        "i2" => "int16",
        "i4" => "int32",
        "i8" => "int64",
        "u1" => "uint8",
        "u2" => "uint16",
        "u4" => "uint32",
        "u8" => "uint64",
        "b1" => "bool",
        _ => return np.to_string(),
    }
    .to_string()
}

impl ZarrArray {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn shape(&self) -> &[u64] {
        self.array.shape()
    }

    /// Dimension names: xarray's `_ARRAY_DIMENSIONS` (v2) or the v3
    /// `dimension_names`; empty when the store has none.
    pub fn dims(&self) -> Vec<String> {
        self.dims.clone()
    }

    /// The array's attributes without `_ARRAY_DIMENSIONS`.
    pub fn attributes(&self) -> &Map<String, Value> {
        &self.attributes
    }

    /// The array's `fill_value` (`.zarray`'s in v2) as a number; `None`
    /// when null. xarray keeps a variable's `_FillValue` here, not among
    /// the attributes.
    pub fn fill_value(&self) -> Option<f64> {
        self.fill_value
    }

    /// `float32`, `int64`, ... (numpy's name for v2 stores).
    pub fn dtype(&self) -> String {
        self.dtype.clone()
    }

    fn check_ranges(&self, ranges: &[Range<u64>]) -> Result<()> {
        let shape = self.shape();
        let ok = ranges.len() == shape.len()
            && ranges
                .iter()
                .zip(shape)
                .all(|(r, &n)| r.start <= r.end && r.end <= n);
        if ok {
            Ok(())
        } else {
            Err(DataError::read(
                &self.path,
                &self.name,
                format!("subset {ranges:?} is outside the array's shape {shape:?}"),
            ))
        }
    }

    /// Reads the subset `ranges` (one per dimension) in C order as f64,
    /// converting from any numeric stored type. A chunk that cannot be
    /// decoded (truncated, wrong codec) is an error naming the array.
    pub fn read_f64(&self, ranges: &[Range<u64>]) -> Result<Vec<f64>> {
        self.check_ranges(ranges)?;
        let subset: Vec<Range<u64>> = ranges.to_vec();
        let err = |e: zarrs::array::ArrayError| DataError::read(&self.path, &self.name, e);
        macro_rules! get {
            ($t:ty) => {
                self.array
                    .retrieve_array_subset::<Vec<$t>>(&subset)
                    .map_err(err)?
                    .into_iter()
                    .map(|x| x as f64)
                    .collect()
            };
        }
        Ok(match self.dtype.as_str() {
            "float64" => self
                .array
                .retrieve_array_subset::<Vec<f64>>(&subset)
                .map_err(err)?,
            "float32" => get!(f32),
            "int8" => get!(i8),
            "int16" => get!(i16),
            "int32" => get!(i32),
            "int64" => get!(i64),
            "uint8" => get!(u8),
            "uint16" => get!(u16),
            "uint32" => get!(u32),
            "uint64" => get!(u64),
            other => {
                return Err(DataError::read(
                    &self.path,
                    &self.name,
                    format!("stored as {other}: expected a numeric type (float or integer)"),
                ))
            }
        })
    }

    /// As [`read_f64`](Self::read_f64), in f32 (no round trip through f64
    /// for float32 arrays).
    pub fn read_f32(&self, ranges: &[Range<u64>]) -> Result<Vec<f32>> {
        if self.dtype == "float32" {
            self.check_ranges(ranges)?;
            let subset: Vec<Range<u64>> = ranges.to_vec();
            return self
                .array
                .retrieve_array_subset::<Vec<f32>>(&subset)
                .map_err(|e| DataError::read(&self.path, &self.name, e));
        }
        Ok(self
            .read_f64(ranges)?
            .into_iter()
            .map(|x| x as f32)
            .collect())
    }

    /// The whole array as f64.
    pub fn read_all_f64(&self) -> Result<Vec<f64>> {
        let ranges: Vec<Range<u64>> = self.shape().iter().map(|&n| 0..n).collect();
        self.read_f64(&ranges)
    }
}
