//! A forecast [`Schema`] as a Zarr v2 store, the way xarray writes one: a
//! root group (`.zgroup`, global attributes in `.zattrs`), one array per
//! coordinate and variable with xarray's `_ARRAY_DIMENSIONS` and the CF
//! attributes in its `.zattrs`, and consolidated metadata (`.zmetadata`) so
//! that `xarray.open_zarr` reads it without a warning. Data variables are
//! float32 with fill NaN, chunked one (init, lead, level) field per chunk;
//! every array is Blosc/zstd compressed with byte shuffle. Chunks are
//! encoded and stored by `zarrs`.
//!
//! The store is written as `.NAME.tmp-PID` beside the target and renamed into
//! place by [`ZarrStore::finish`]; dropped unfinished, the temporary store
//! is removed. An existing Zarr store at the target is replaced; anything
//! else there is refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use zarrs::array::{Array, ArrayMetadata};
use zarrs::filesystem::FilesystemStore;
use zarrs::metadata::v2::ArrayMetadataV2;

use super::schema::{Attr, Attrs, Schema, Values};

/// The compressor of every array (numcodecs' Blosc spelling).
fn compressor() -> Value {
    json!({"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1, "blocksize": 0})
}

fn attr_json(a: &Attr) -> Value {
    match a {
        Attr::Str(s) => Value::String(s.clone()),
        Attr::Ints(v) => json!(v),
    }
}

fn attrs_json(attrs: &Attrs) -> Map<String, Value> {
    attrs
        .iter()
        .map(|(k, v)| (k.clone(), attr_json(v)))
        .collect()
}

/// Whether `path` is (the root of) a Zarr store.
pub fn is_zarr_store(path: &Path) -> bool {
    path.is_dir()
        && [".zgroup", ".zmetadata", "zarr.json"]
            .iter()
            .any(|m| path.join(m).is_file())
}

/// A Zarr store being written.
pub(crate) struct ZarrStore {
    tmp: PathBuf,
    path: PathBuf,
    /// The data variables' arrays, in schema order.
    fields: Vec<Array<FilesystemStore>>,
    /// The array names, coordinates first.
    names: Vec<String>,
    finished: bool,
}

impl ZarrStore {
    /// Creates the store under its temporary name with every coordinate
    /// written and every variable's metadata.
    pub fn create(path: &Path, schema: &Schema) -> Result<ZarrStore> {
        if path.exists() && !is_zarr_store(path) {
            bail!(
                "{} exists and is not a Zarr store; not replacing it",
                path.display()
            );
        }
        let tmp = fastnet_mesh::atomic::temp_path(path);
        let ctx = || format!("creating Zarr store {}", tmp.display());
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).with_context(ctx)?;
        }
        std::fs::create_dir(&tmp).with_context(ctx)?;
        // from here on Drop removes the temporary store on any error
        let mut out = ZarrStore {
            tmp: tmp.clone(),
            path: path.to_path_buf(),
            fields: Vec::new(),
            names: Vec::new(),
            finished: false,
        };
        let store = Arc::new(FilesystemStore::new(&tmp).with_context(ctx)?);
        write_json(&tmp.join(".zgroup"), &json!({"zarr_format": 2}))?;
        write_json(
            &tmp.join(".zattrs"),
            &Value::Object(attrs_json(&schema.attrs)),
        )?;
        for c in &schema.coords {
            let shape = schema.shape_of(&c.dims);
            let dtype = match c.values {
                Values::F64(_) => "<f8",
                Values::I64(_) => "<i8",
            };
            let a = new_array(
                &tmp, &store, &c.name, &c.dims, &shape, &shape, dtype, &c.attrs,
            )?;
            let zeros = vec![0u64; shape.len()];
            let r = match &c.values {
                Values::F64(v) => a.store_chunk(&zeros, v.as_slice()),
                Values::I64(v) => a.store_chunk(&zeros, v.as_slice()),
            };
            r.with_context(|| format!("writing coordinate {} to {}", c.name, tmp.display()))?;
            out.names.push(c.name.clone());
        }
        for f in &schema.fields {
            let shape = schema.shape_of(&f.dims);
            let grid_rank = schema.grid_shape.len();
            let chunks: Vec<usize> = shape
                .iter()
                .enumerate()
                .map(|(k, &n)| if k + grid_rank >= shape.len() { n } else { 1 })
                .collect();
            let a = new_array(
                &tmp, &store, &f.name, &f.dims, &shape, &chunks, "<f4", &f.attrs,
            )?;
            out.fields.push(a);
            out.names.push(f.name.clone());
        }
        Ok(out)
    }

    /// Stores one field (in the file's row order) of variable `field` at
    /// init `i`, lead `l`, level index `level`.
    pub fn put(
        &mut self,
        field: usize,
        i: usize,
        l: usize,
        level: Option<usize>,
        data: &[f32],
    ) -> Result<()> {
        let a = &self.fields[field];
        let rank = a.shape().len();
        let mut idx = vec![i as u64, l as u64];
        idx.extend(level.map(|k| k as u64));
        idx.resize(rank, 0);
        a.store_chunk(&idx, data).with_context(|| {
            format!(
                "writing {} ({i}, {l}) to {}",
                self.names[self.names.len() - self.fields.len() + field],
                self.tmp.display()
            )
        })
    }

    /// Writes the consolidated metadata and renames the store into place.
    pub fn finish(mut self) -> Result<PathBuf> {
        let mut meta = Map::new();
        for key in [".zgroup", ".zattrs"] {
            meta.insert(key.to_string(), read_json(&self.tmp.join(key))?);
        }
        for name in &self.names {
            for key in [".zarray", ".zattrs"] {
                let file = self.tmp.join(name).join(key);
                if file.is_file() {
                    meta.insert(format!("{name}/{key}"), read_json(&file)?);
                }
            }
        }
        let consolidated = json!({"zarr_consolidated_format": 1, "metadata": meta});
        write_json(&self.tmp.join(".zmetadata"), &consolidated)?;
        commit_dir(&self.tmp, &self.path)?;
        self.finished = true;
        Ok(self.path.clone())
    }
}

impl Drop for ZarrStore {
    fn drop(&mut self) {
        // dropped before finish() (an error, Ctrl-C): leave nothing behind
        if !self.finished {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Writes the `.zarray` and `.zattrs` of array `name` (as zarr-python
/// writes them: no extra keys, only the CF attributes) and opens it with
/// zarrs for encoding and storing chunks.
#[allow(clippy::too_many_arguments)]
fn new_array(
    root: &Path,
    store: &Arc<FilesystemStore>,
    name: &str,
    dims: &[String],
    shape: &[usize],
    chunks: &[usize],
    dtype: &str,
    attrs: &Attrs,
) -> Result<Array<FilesystemStore>> {
    let mut attributes = Map::new();
    attributes.insert("_ARRAY_DIMENSIONS".into(), json!(dims));
    attributes.extend(attrs_json(attrs));
    let fill = if dtype == "<f4" {
        json!("NaN")
    } else {
        Value::Null
    };
    let meta = json!({
        "zarr_format": 2,
        "shape": shape,
        "chunks": chunks,
        "dtype": dtype,
        "compressor": compressor(),
        "fill_value": fill,
        "order": "C",
        "filters": null,
        "dimension_separator": ".",
    });
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    write_json(&dir.join(".zarray"), &meta)?;
    write_json(&dir.join(".zattrs"), &Value::Object(attributes))?;
    let meta: ArrayMetadataV2 =
        serde_json::from_value(meta).with_context(|| format!("Zarr metadata of {name}"))?;
    let a = Array::new_with_metadata(store.clone(), &format!("/{name}"), ArrayMetadata::V2(meta))
        .with_context(|| format!("creating Zarr array {name}"))?;
    Ok(a)
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_vec_pretty(value).context("JSON")?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{}: not JSON", path.display()))
}

/// fsyncs every file under `dir`, then the folders.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            sync_tree(&p)?;
        } else {
            std::fs::File::open(&p)?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

/// Renames the finished store `tmp` to `path`, replacing an earlier Zarr
/// store there (moved aside first, removed once the new one is in place).
fn commit_dir(tmp: &Path, path: &Path) -> Result<()> {
    // Every chunk and metadata file reaches the disk before the rename, so
    // a crash never leaves a finished-looking store with short chunks.
    sync_tree(tmp).with_context(|| format!("syncing {}", tmp.display()))?;
    let rename = |a: &Path, b: &Path| {
        std::fs::rename(a, b)
            .with_context(|| format!("renaming {} to {}", a.display(), b.display()))
    };
    if !path.exists() {
        return rename(tmp, path);
    }
    if !is_zarr_store(path) {
        bail!(
            "{} exists and is not a Zarr store; not replacing it",
            path.display()
        );
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let old = path.with_file_name(format!(".{name}.old-{}", std::process::id()));
    rename(path, &old)?;
    if let Err(e) = rename(tmp, path) {
        let _ = std::fs::rename(&old, path);
        return Err(e);
    }
    std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))
}
