//! Where `fastnet forecast` writes: a format (NetCDF or Zarr) and a layout
//! (ours or WeatherBench2's), chosen by `--format` / `--layout` or from the
//! output's name (`-o x.zarr` is a Zarr store). [`ForecastSink`] takes the
//! states one (init, lead) at a time whatever the choice, and like every
//! forecast writer leaves nothing that looks finished unless every state
//! was written.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::ValueEnum;
use fastnet_data::channels::ChannelSet;

use super::file::{ForecastLayout, ForecastWriter};
use super::nc_writer::NcStore;
use super::schema::{self, Schema};
use super::wb2_layout;
use super::zarr_writer::ZarrStore;

/// The container of a forecast.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// CF NetCDF-4, one file.
    Netcdf,
    /// A Zarr v2 store (a folder named *.zarr) with consolidated metadata.
    Zarr,
}

/// The layout of a forecast's variables and coordinates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputLayout {
    /// Ours: init_time, lead_time, valid_time, latitude north to south,
    /// ERA5 short names.
    #[default]
    Fastnet,
    /// WeatherBench2's: time (init), prediction_timedelta, latitude
    /// ascending, CDS long names (geopotential, 2m_temperature, ...).
    Wb2,
}

/// A forecast output: path, format and layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForecastOutput {
    pub path: PathBuf,
    pub format: OutputFormat,
    pub layout: OutputLayout,
}

/// Whether `path` is named like a Zarr store (`*.zarr`, any case).
pub fn has_zarr_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zarr"))
}

impl ForecastOutput {
    /// The output at `path`: `format` if given (it must agree with the
    /// name: a Zarr store is named `*.zarr`, a NetCDF file is not), else
    /// Zarr for `*.zarr` and NetCDF otherwise.
    pub fn resolve(
        path: &Path,
        format: Option<OutputFormat>,
        layout: OutputLayout,
    ) -> Result<ForecastOutput> {
        let zarr_name = has_zarr_name(path);
        let format = match (format, zarr_name) {
            (None, true) | (Some(OutputFormat::Zarr), true) => OutputFormat::Zarr,
            (None, false) | (Some(OutputFormat::Netcdf), false) => OutputFormat::Netcdf,
            (Some(OutputFormat::Netcdf), true) => bail!(
                "--format netcdf, but the output {} is named like a Zarr store (*.zarr); \
                 name it *.nc or use --format zarr",
                path.display()
            ),
            (Some(OutputFormat::Zarr), false) => bail!(
                "--format zarr writes a Zarr store, a folder that readers recognise by its \
                 name: name the output *.zarr, not {}",
                path.display()
            ),
        };
        Ok(ForecastOutput {
            path: path.to_path_buf(),
            format,
            layout,
        })
    }

    /// The output in our layout as NetCDF (`--format` and `--layout` not
    /// given, a name that is not *.zarr).
    pub fn netcdf(path: &Path) -> ForecastOutput {
        ForecastOutput {
            path: path.to_path_buf(),
            format: OutputFormat::Netcdf,
            layout: OutputLayout::Fastnet,
        }
    }

    /// What the output is, for messages: `Zarr store (WeatherBench2 layout)`.
    pub fn describe(&self) -> String {
        let f = match self.format {
            OutputFormat::Netcdf => "NetCDF",
            OutputFormat::Zarr => "Zarr store",
        };
        match self.layout {
            OutputLayout::Fastnet => f.to_string(),
            OutputLayout::Wb2 => format!("{f} (WeatherBench2 layout)"),
        }
    }
}

enum Backend {
    Nc(NcStore),
    Zarr(ZarrStore),
}

enum Inner {
    /// Our layout in NetCDF: `file::ForecastWriter`.
    Fastnet(ForecastWriter),
    /// Any other choice: a schema and its writer.
    Schema {
        schema: Schema,
        backend: Backend,
        /// Which (init, lead) states were written, init-major.
        written: Vec<bool>,
    },
}

/// Writes a forecast one (init time, lead time) state at a time, in the
/// chosen format and layout.
pub struct ForecastSink {
    inner: Inner,
    path: PathBuf,
}

impl ForecastSink {
    /// Creates the output (under a temporary name) with all coordinates.
    /// `--layout wb2` on a grid that is not latitude-longitude is an error.
    pub fn create(
        out: &ForecastOutput,
        layout: ForecastLayout,
        channels: &ChannelSet,
    ) -> Result<ForecastSink> {
        let inner = match (out.format, out.layout) {
            (OutputFormat::Netcdf, OutputLayout::Fastnet) => {
                Inner::Fastnet(ForecastWriter::create(&out.path, layout, channels)?)
            }
            (format, kind) => {
                let schema = match kind {
                    OutputLayout::Fastnet => schema::fastnet(&layout, channels)?,
                    OutputLayout::Wb2 => wb2_layout::weatherbench2(&layout, channels)?,
                };
                let backend = match format {
                    OutputFormat::Netcdf => Backend::Nc(NcStore::create(&out.path, &schema)?),
                    OutputFormat::Zarr => Backend::Zarr(ZarrStore::create(&out.path, &schema)?),
                };
                Inner::Schema {
                    written: vec![false; schema.n_states()],
                    schema,
                    backend,
                }
            }
        };
        Ok(ForecastSink {
            inner,
            path: out.path.clone(),
        })
    }

    /// Writes the forecast state for init `i`, lead `l`:
    /// `state` — `[N_grid, C_f]` in physical units, forecast channel order.
    pub fn write(&mut self, i: usize, l: usize, state: &[f32]) -> Result<()> {
        let (schema, backend, written) = match &mut self.inner {
            Inner::Fastnet(w) => return w.write(i, l, state),
            Inner::Schema {
                schema,
                backend,
                written,
            } => (schema, backend, written),
        };
        let g: usize = schema.grid_shape.iter().product();
        let c = schema.slots.len();
        if state.len() != g * c {
            bail!(
                "forecast state has {} values, expected {g} points x {c} channels",
                state.len()
            );
        }
        let (ni, nl) = (schema.dims[0].1, schema.dims[1].1);
        if i >= ni || l >= nl {
            bail!("forecast state ({i}, {l}) is outside the file's {ni} init times x {nl} leads");
        }
        for (k, &(vi, li)) in schema.slots.iter().enumerate() {
            let field = schema.arrange((0..g).map(|p| state[p * c + k]).collect());
            match backend {
                Backend::Nc(b) => b.put(vi, i, l, li, &field)?,
                Backend::Zarr(b) => b.put(vi, i, l, li, &field)?,
            }
        }
        written[i * nl + l] = true;
        Ok(())
    }

    /// Completes the output and renames it into place; refuses when not
    /// every (init, lead) state was written (and removes the temporary).
    pub fn finish(self) -> Result<PathBuf> {
        let (backend, written) = match self.inner {
            Inner::Fastnet(w) => return w.finish(),
            Inner::Schema {
                backend, written, ..
            } => (backend, written),
        };
        let done = written.iter().filter(|&&w| w).count();
        if done != written.len() {
            // dropping the backend removes its temporary file or store
            drop(backend);
            bail!(
                "only {done} of {} forecast states were written; {} not created",
                written.len(),
                self.path.display()
            );
        }
        match backend {
            Backend::Nc(b) => b.finish(),
            Backend::Zarr(b) => b.finish(),
        }
    }
}
