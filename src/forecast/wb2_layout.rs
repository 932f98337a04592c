//! WeatherBench2's forecast layout (`--layout wb2`), as WeatherBench2's
//! own forecast stores have it and its evaluation scripts read it:
//!
//! ```text
//! dimensions: time (the init time), prediction_timedelta, level (if any upper-air variable),
//!             latitude (ascending, south to north), longitude
//! double time(time)                    "hours since 1970-01-01 00:00:00" (decodes to datetime64)
//! int64  prediction_timedelta(...)     "hours", dtype timedelta64[ns] (decodes to timedelta64)
//! int64  level(level)                  hPa
//! double latitude(latitude)            degrees_north, -90 -> 90
//! double longitude(longitude)          degrees_east, 0 -> 360
//! float  geopotential(time, prediction_timedelta, level, latitude, longitude)
//! float  2m_temperature(time, prediction_timedelta, latitude, longitude)
//! ```
//!
//! Variables carry the CDS long names WeatherBench2 uses (the catalogue's
//! `long_name`), with `short_name` giving ours; a variable the catalogue does
//! not know keeps its name. WeatherBench2 is latitude-longitude only: a
//! Gaussian grid is refused.

use anyhow::{bail, Result};
use fastnet_data::catalogue;
use fastnet_data::channels::ChannelSet;

use super::file::{channel_slots, union_levels, ForecastLayout, TIME_UNITS};
use super::schema::{
    attrs, catalogue_attrs, global_attrs, init_values, level_attrs, levels_attr, require_latlon,
    Attr, Coord, Field, Schema, Values,
};

/// WeatherBench2's name of our variable `short` (CDS long name).
pub fn wb2_name(short: &str) -> &str {
    catalogue::by_short(short).map_or(short, |info| info.long_name)
}

/// The WeatherBench2 layout of `layout`.
pub(crate) fn weatherbench2(layout: &ForecastLayout, channels: &ChannelSet) -> Result<Schema> {
    let (nlat, nlon) = require_latlon(&layout.grid, "--layout wb2 (WeatherBench2)")?;
    let levels = union_levels(&layout.vars);
    let slots = channel_slots(channels, &layout.vars, &levels)?;
    let (ni, nl) = (layout.init_times.len(), layout.lead_hours.len());
    let mut dims = vec![
        ("time".to_string(), ni),
        ("prediction_timedelta".to_string(), nl),
    ];
    if !levels.is_empty() {
        dims.push(("level".into(), levels.len()));
    }
    dims.push(("latitude".into(), nlat));
    dims.push(("longitude".into(), nlon));
    let coord = |name: &str, values: Values, attrs| Coord {
        name: name.into(),
        dims: vec![name.to_string()],
        values,
        attrs,
    };
    let mut coords = vec![
        coord(
            "time",
            Values::F64(init_values(layout)?),
            attrs(&[
                ("units", TIME_UNITS),
                ("calendar", "proleptic_gregorian"),
                ("standard_name", "forecast_reference_time"),
                ("long_name", "initialisation time"),
            ]),
        ),
        coord(
            "prediction_timedelta",
            Values::I64(layout.lead_hours.clone()),
            attrs(&[
                ("units", "hours"),
                ("standard_name", "forecast_period"),
                ("long_name", "lead time"),
                ("dtype", "timedelta64[ns]"),
            ]),
        ),
    ];
    if !levels.is_empty() {
        coords.push(coord(
            "level",
            Values::I64(levels.iter().map(|&l| l as i64).collect()),
            level_attrs(),
        ));
    }
    let mut lat = layout.grid.latitudes_deg();
    lat.reverse();
    coords.push(coord(
        "latitude",
        Values::F64(lat),
        attrs(&[("units", "degrees_north"), ("standard_name", "latitude")]),
    ));
    coords.push(coord(
        "longitude",
        Values::F64(layout.grid.longitudes_deg()),
        attrs(&[("units", "degrees_east"), ("standard_name", "longitude")]),
    ));
    let mut fields: Vec<Field> = Vec::new();
    for var in &layout.vars {
        let name = wb2_name(&var.name).to_string();
        if let Some(other) = layout
            .vars
            .iter()
            .find(|v| v.name != var.name && wb2_name(&v.name) == name)
        {
            bail!(
                "--layout wb2: variables `{}` and `{}` would both be named `{name}`",
                var.name,
                other.name
            );
        }
        let mut vdims = vec!["time".to_string(), "prediction_timedelta".to_string()];
        if var.levels.is_some() {
            vdims.push("level".into());
        }
        vdims.extend(["latitude".to_string(), "longitude".to_string()]);
        let mut a = catalogue_attrs(&var.name);
        a.push(("short_name".into(), Attr::Str(var.name.clone())));
        if let Some(ls) = &var.levels {
            a.push(levels_attr(ls));
        }
        fields.push(Field {
            name,
            dims: vdims,
            attrs: a,
        });
    }
    let mut global = global_attrs(layout);
    global.push(("layout".into(), "weatherbench2".into()));
    Ok(Schema {
        dims,
        attrs: global,
        coords,
        fields,
        slots,
        grid_shape: vec![nlat, nlon],
        flip_rows: true,
    })
}
