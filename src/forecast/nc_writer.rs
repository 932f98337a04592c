//! A forecast [`Schema`] as NetCDF-4 (used for `--layout wb2`; our own
//! layout in NetCDF is `file::ForecastWriter`'s). Written under a temporary
//! name and renamed when complete, like every forecast file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::schema::{Attr, Attrs, Schema, Values};

/// A NetCDF forecast file being written.
pub(crate) struct NcStore {
    /// `None` once finished.
    file: Option<netcdf::FileMut>,
    tmp: PathBuf,
    path: PathBuf,
    names: Vec<String>,
    grid_shape: Vec<usize>,
}

fn put_attrs(
    attrs: &Attrs,
    mut put: impl FnMut(&str, netcdf::AttributeValue) -> Result<()>,
) -> Result<()> {
    for (k, v) in attrs {
        let value = match v {
            Attr::Str(s) => netcdf::AttributeValue::Str(s.clone()),
            Attr::Ints(v) => netcdf::AttributeValue::Ints(v.clone()),
        };
        put(k, value)?;
    }
    Ok(())
}

impl NcStore {
    /// Creates the file (under a temporary name) with all coordinates.
    pub fn create(path: &Path, schema: &Schema) -> Result<NcStore> {
        let tmp = fastnet_mesh::atomic::temp_path(path);
        fastnet_data::scan::quiet_hdf5();
        let ctx = || format!("creating {}", tmp.display());
        let f = netcdf::create(&tmp).with_context(ctx)?;
        // from here on Drop removes the temporary file on any error
        let mut out = NcStore {
            file: Some(f),
            tmp: tmp.clone(),
            path: path.to_path_buf(),
            names: schema.fields.iter().map(|f| f.name.clone()).collect(),
            grid_shape: schema.grid_shape.clone(),
        };
        let f = out.file.as_mut().context("file")?;
        for (name, len) in &schema.dims {
            f.add_dimension(name, *len).with_context(ctx)?;
        }
        put_attrs(&schema.attrs, |k, v| {
            f.add_attribute(k, v).map(|_| ()).with_context(ctx)
        })?;
        for c in &schema.coords {
            let dims: Vec<&str> = c.dims.iter().map(String::as_str).collect();
            let mut v = match &c.values {
                Values::F64(x) => {
                    let mut v = f.add_variable::<f64>(&c.name, &dims).with_context(ctx)?;
                    v.put_values(x, ..).with_context(ctx)?;
                    v
                }
                Values::I64(x) => {
                    let mut v = f.add_variable::<i64>(&c.name, &dims).with_context(ctx)?;
                    v.put_values(x, ..).with_context(ctx)?;
                    v
                }
            };
            put_attrs(&c.attrs, |k, a| {
                v.put_attribute(k, a).map(|_| ()).with_context(ctx)
            })?;
        }
        for field in &schema.fields {
            let dims: Vec<&str> = field.dims.iter().map(String::as_str).collect();
            let mut v = f
                .add_variable::<f32>(&field.name, &dims)
                .with_context(ctx)?;
            v.set_fill_value(f32::NAN).with_context(ctx)?;
            put_attrs(&field.attrs, |k, a| {
                v.put_attribute(k, a).map(|_| ()).with_context(ctx)
            })?;
        }
        Ok(out)
    }

    /// Writes one field (in the file's row order) of variable `field` at
    /// init `i`, lead `l`, level index `level`.
    pub fn put(
        &mut self,
        field: usize,
        i: usize,
        l: usize,
        level: Option<usize>,
        data: &[f32],
    ) -> Result<()> {
        fastnet_data::scan::quiet_hdf5();
        let name = &self.names[field];
        let file = self
            .file
            .as_mut()
            .context("forecast file already finished")?;
        let mut v = file
            .variable_mut(name)
            .with_context(|| format!("variable {name}"))?;
        let mut ext = vec![i..i + 1, l..l + 1];
        ext.extend(level.map(|k| k..k + 1));
        ext.extend(self.grid_shape.iter().map(|&n| 0..n));
        v.put_values(data, ext)
            .with_context(|| format!("writing {name} to {}", self.tmp.display()))
    }

    /// Closes the file and renames it into place.
    pub fn finish(mut self) -> Result<PathBuf> {
        drop(self.file.take());
        let r = fastnet_mesh::atomic::commit(&self.tmp, &self.path);
        if let Err(e) = r {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(e).with_context(|| {
                format!("renaming {} to {}", self.tmp.display(), self.path.display())
            });
        }
        Ok(self.path.clone())
    }
}

impl Drop for NcStore {
    fn drop(&mut self) {
        if let Some(f) = self.file.take() {
            drop(f);
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
