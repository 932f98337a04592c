//! A forecast file's layout as data: dimensions, coordinates with their
//! values, variables with their dimensions and CF attributes, and where each
//! forecast channel goes. The Zarr writer writes any schema, the NetCDF
//! schema writer too; [`fastnet`] describes our own layout (the one
//! `ForecastWriter` writes to NetCDF, see the doc of `forecast::file`) and
//! `wb2_layout::weatherbench2` WeatherBench2's.

use anyhow::{bail, Context, Result};
use fastnet_data::catalogue;
use fastnet_data::channels::ChannelSet;
use fastnet_data::time::{CfTimeUnit, HOUR};
use fastnet_mesh::Grid;

use super::file::{channel_slots, grid_dims, union_levels, ForecastLayout, TIME_UNITS};

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Attr {
    Str(String),
    Ints(Vec<i32>),
}

impl From<&str> for Attr {
    fn from(s: &str) -> Attr {
        Attr::Str(s.to_string())
    }
}

/// Named attributes, in order.
pub(crate) type Attrs = Vec<(String, Attr)>;

/// `[("units", "hPa"), ...]` as [`Attrs`].
pub(crate) fn attrs(pairs: &[(&str, &str)]) -> Attrs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Attr::from(*v)))
        .collect()
}

/// The values of a coordinate variable (C order over its dimensions).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Values {
    F64(Vec<f64>),
    I64(Vec<i64>),
}

/// A coordinate variable, written whole when the file is created.
#[derive(Clone, Debug)]
pub(crate) struct Coord {
    pub name: String,
    pub dims: Vec<String>,
    pub values: Values,
    pub attrs: Attrs,
}

/// A float32 data variable: `(init, lead, [level,] grid...)`, NaN fill.
#[derive(Clone, Debug)]
pub(crate) struct Field {
    pub name: String,
    pub dims: Vec<String>,
    pub attrs: Attrs,
}

/// A whole forecast file.
#[derive(Clone, Debug)]
pub(crate) struct Schema {
    /// Dimensions in order: init, lead, [level,] grid dimensions.
    pub dims: Vec<(String, usize)>,
    /// Global attributes.
    pub attrs: Attrs,
    pub coords: Vec<Coord>,
    pub fields: Vec<Field>,
    /// Forecast channel `k` goes to `fields[slots[k].0]` at level index
    /// `slots[k].1`.
    pub slots: Vec<(usize, Option<usize>)>,
    /// The grid's shape (`[nlat, nlon]` or `[npoints]`).
    pub grid_shape: Vec<usize>,
    /// Whether the file stores latitude rows south to north (the grid's
    /// fields are north to south).
    pub flip_rows: bool,
}

impl Schema {
    /// Length of dimension `name` (0 if absent).
    pub fn dim_len(&self, name: &str) -> usize {
        self.dims.iter().find(|(n, _)| n == name).map_or(0, |d| d.1)
    }

    /// Shape of a variable over `dims`.
    pub fn shape_of(&self, dims: &[String]) -> Vec<usize> {
        dims.iter().map(|d| self.dim_len(d)).collect()
    }

    /// One grid field (north to south) in the file's row order.
    pub fn arrange(&self, field: Vec<f32>) -> Vec<f32> {
        match (self.flip_rows, self.grid_shape.as_slice()) {
            (true, &[_, nlon]) => field.chunks(nlon).rev().flatten().copied().collect(),
            _ => field,
        }
    }

    /// Number of (init, lead) states.
    pub fn n_states(&self) -> usize {
        self.dims[0].1 * self.dims[1].1
    }
}

/// Global attributes every forecast file carries, then the layout's own.
pub(crate) fn global_attrs(layout: &ForecastLayout) -> Attrs {
    let mut a = attrs(&[("Conventions", "CF-1.8")]);
    if let Some(name) = fastnet_data::writer::gaussian_name(&layout.grid) {
        a.push(("grid".into(), Attr::Str(name)));
    }
    a.push(("title".into(), "fastnet forecast".into()));
    a.push((
        "source".into(),
        Attr::Str(format!("fastnet {}", env!("CARGO_PKG_VERSION"))),
    ));
    for (k, v) in &layout.attributes {
        a.push((k.clone(), Attr::Str(v.clone())));
    }
    a
}

/// Init times in [`TIME_UNITS`].
pub(crate) fn init_values(layout: &ForecastLayout) -> Result<Vec<f64>> {
    let unit = CfTimeUnit::parse(TIME_UNITS).context("time unit")?;
    Ok(layout
        .init_times
        .iter()
        .map(|&t| unit.from_timestamp(t))
        .collect())
}

/// Units and long name of a field, from the catalogue.
pub(crate) fn catalogue_attrs(short: &str) -> Attrs {
    match catalogue::by_short(short) {
        Some(info) => attrs(&[("units", info.units[0]), ("long_name", info.long_name)]),
        None => Attrs::new(),
    }
}

/// `levels_present`: the levels an upper-air variable really has (the
/// shared level axis is the union of all variables' levels).
pub(crate) fn levels_attr(levels: &[u32]) -> (String, Attr) {
    let ls = levels.iter().map(|&l| l as i32).collect();
    ("levels_present".into(), Attr::Ints(ls))
}

/// Our own layout (`init_time`, `lead_time`, `valid_time`, latitude north to
/// south), exactly the variables and attributes `ForecastWriter` writes.
pub(crate) fn fastnet(layout: &ForecastLayout, channels: &ChannelSet) -> Result<Schema> {
    let grid_d = grid_dims(&layout.grid)?;
    let levels = union_levels(&layout.vars);
    let slots = channel_slots(channels, &layout.vars, &levels)?;
    let (ni, nl) = (layout.init_times.len(), layout.lead_hours.len());
    let mut dims = vec![("init_time".to_string(), ni), ("lead_time".to_string(), nl)];
    if !levels.is_empty() {
        dims.push(("level".into(), levels.len()));
    }
    dims.extend(grid_d.iter().map(|&(n, len)| (n.to_string(), len)));
    let unit = CfTimeUnit::parse(TIME_UNITS).context("time unit")?;
    let time_attrs = |standard: &str, long: &str| {
        attrs(&[
            ("units", TIME_UNITS),
            ("calendar", "proleptic_gregorian"),
            ("standard_name", standard),
            ("long_name", long),
        ])
    };
    let coord = |name: &str, dims: &[&str], values: Values, attrs: Attrs| Coord {
        name: name.into(),
        dims: dims.iter().map(|d| d.to_string()).collect(),
        values,
        attrs,
    };
    let valid: Vec<f64> = layout
        .init_times
        .iter()
        .flat_map(|&t| {
            layout
                .lead_hours
                .iter()
                .map(move |&h| unit.from_timestamp(t + h * HOUR))
        })
        .collect();
    let mut coords = vec![
        coord(
            "init_time",
            &["init_time"],
            Values::F64(init_values(layout)?),
            time_attrs("forecast_reference_time", "initialisation time"),
        ),
        coord(
            "lead_time",
            &["lead_time"],
            Values::F64(layout.lead_hours.iter().map(|&h| h as f64).collect()),
            attrs(&[
                ("units", "hours"),
                ("standard_name", "forecast_period"),
                ("long_name", "lead time"),
                ("dtype", "timedelta64[ns]"),
            ]),
        ),
        coord(
            "valid_time",
            &["init_time", "lead_time"],
            Values::F64(valid),
            time_attrs("time", "valid time"),
        ),
    ];
    if !levels.is_empty() {
        coords.push(coord(
            "level",
            &["level"],
            Values::F64(levels.iter().map(|&x| x as f64).collect()),
            level_attrs(),
        ));
    }
    let (lat_dim, lon_dim) = match grid_d.as_slice() {
        [(only, _)] => (*only, *only),
        _ => ("latitude", "longitude"),
    };
    coords.push(coord(
        "latitude",
        &[lat_dim],
        Values::F64(layout.grid.latitudes_deg()),
        attrs(&[("units", "degrees_north"), ("standard_name", "latitude")]),
    ));
    coords.push(coord(
        "longitude",
        &[lon_dim],
        Values::F64(layout.grid.longitudes_deg()),
        attrs(&[("units", "degrees_east"), ("standard_name", "longitude")]),
    ));
    let point_coords = if grid_d.len() == 1 {
        "valid_time latitude longitude"
    } else {
        "valid_time"
    };
    let fields = layout
        .vars
        .iter()
        .map(|var| {
            let mut vdims = vec!["init_time".to_string(), "lead_time".to_string()];
            if var.levels.is_some() {
                vdims.push("level".into());
            }
            vdims.extend(grid_d.iter().map(|d| d.0.to_string()));
            let mut a = catalogue_attrs(&var.name);
            a.push(("coordinates".into(), point_coords.into()));
            if let Some(ls) = &var.levels {
                a.push(levels_attr(ls));
            }
            Field {
                name: var.name.clone(),
                dims: vdims,
                attrs: a,
            }
        })
        .collect();
    Ok(Schema {
        dims,
        attrs: global_attrs(layout),
        coords,
        fields,
        slots,
        grid_shape: layout.grid.shape(),
        flip_rows: false,
    })
}

/// The attributes of the pressure-level coordinate.
pub(crate) fn level_attrs() -> Attrs {
    attrs(&[
        ("units", "hPa"),
        ("standard_name", "air_pressure"),
        ("positive", "down"),
        ("long_name", "pressure level"),
    ])
}

/// Refuses grids a latitude-longitude layout cannot hold.
pub(crate) fn require_latlon(grid: &Grid, what: &str) -> Result<(usize, usize)> {
    match grid {
        Grid::Equiangular { nlat, nlon, .. } => Ok((*nlat, *nlon)),
        _ => bail!(
            "{what} is a latitude-longitude layout; this forecast is on {} \
             (write it with --layout fastnet, or regrid the data to a lat-lon grid)",
            grid.describe()
        ),
    }
}
