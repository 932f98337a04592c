//! Maps of fields on any grid: lat-lon grids drawn cell by cell, Gaussian
//! grids and point lists resampled to a lat-lon picture (nearest point per
//! pixel, [`Grid::display_index`]); colour bars and the land-sea outline.

use std::path::Path;

use fastnet_mesh::Grid;
use ndarray::{Array2, ArrayView2};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

use super::{legend, plot_err, render, FONT};
use crate::error::{EvalError, Result};

/// One map panel: a field on the grid given to [`plot_maps`], flat in the
/// grid's point order (`[nlat * nlon]` latitude-major on lat-lon grids,
/// `[npoints]` ring by ring on Gaussian grids, `[npoints]` for point lists).
#[derive(Clone, Debug)]
pub struct MapPanel<'a> {
    pub title: String,
    pub units: String,
    pub field: &'a [f64],
    /// Diverging colours centred on zero (for errors) instead of viridis.
    pub diverging: bool,
}

/// Maps on an equirectangular projection, one panel per field, each with
/// its colour bar; `lsm` (`[npoints]`, 0..1, same layout as the fields)
/// adds the land-sea outline. Lat-lon grids are drawn cell by cell (at
/// most ~180 x 360 cells); Gaussian grids and point lists are resampled to
/// a lat-lon picture of [`display_shape`] pixels, each pixel showing its
/// nearest grid point ([`Grid::display_index`]).
pub fn plot_maps(
    path: &Path,
    title: &str,
    grid: &Grid,
    panels: &[MapPanel],
    lsm: Option<&[f64]>,
) -> Result<()> {
    let n = grid.len();
    for (what, len) in panels
        .iter()
        .map(|p| (format!("map `{}`", p.title), p.field.len()))
        .chain(lsm.map(|m| ("land-sea mask of the maps".to_string(), m.len())))
    {
        if len != n {
            return Err(EvalError::ShapeMismatch {
                what: format!("{what} on {}", grid.describe()),
                got: vec![len],
                expected: vec![n],
            });
        }
    }
    let pic = picture(grid, panels, lsm)?;
    let views: Vec<ArrayView2<f64>> = pic.fields.iter().map(|f| f.view()).collect();
    let lsm_view = pic.lsm.as_ref().map(|m| m.view());
    let size = (900, 470 * panels.len().max(1) as u32 + 50);
    render(
        path,
        size,
        &|root| {
            draw_maps(
                root,
                title,
                &pic.lat,
                &pic.lon,
                panels,
                &views,
                lsm_view.as_ref(),
            )
        },
        &|root| {
            draw_maps(
                root,
                title,
                &pic.lat,
                &pic.lon,
                panels,
                &views,
                lsm_view.as_ref(),
            )
        },
    )
}

/// Fields as a lat-lon picture: `[nlat]` ring latitudes and `[nlon]` column
/// longitudes (degrees), each field and the land-sea mask `[nlat, nlon]`.
struct Picture {
    lat: Vec<f64>,
    lon: Vec<f64>,
    fields: Vec<Array2<f64>>,
    lsm: Option<Array2<f64>>,
}

/// The picture of the panels' fields (lengths checked by the caller): the
/// grid itself on lat-lon grids, its nearest-point resampling otherwise.
fn picture(grid: &Grid, panels: &[MapPanel], lsm: Option<&[f64]>) -> Result<Picture> {
    let (lat, lon, index) = match grid {
        Grid::Equiangular { .. } => (grid.latitudes_deg(), grid.longitudes_deg(), None),
        _ => {
            let (nlat, nlon) = display_shape(grid);
            let lat = (0..nlat)
                .map(|i| 90.0 - (i as f64 + 0.5) * 180.0 / nlat as f64)
                .collect();
            let lon = (0..nlon).map(|j| display_lon_deg(j, nlon)).collect();
            (lat, lon, Some(grid.display_index(nlat, nlon)))
        }
    };
    let shape = (lat.len(), lon.len());
    let to_picture = |f: &[f64]| -> Result<Array2<f64>> {
        let values = match &index {
            None => f.to_vec(),
            Some(index) => index.iter().map(|&i| f[i]).collect(),
        };
        Array2::from_shape_vec(shape, values).map_err(plot_err)
    };
    Ok(Picture {
        fields: panels
            .iter()
            .map(|p| to_picture(p.field))
            .collect::<Result<_>>()?,
        lsm: lsm.map(to_picture).transpose()?,
        lat,
        lon,
    })
}

/// The lat-lon picture a Gaussian grid or point list is drawn on:
/// `(nlat, nlon)` pixels, `nlon = 2 nlat`, about as many pixels as points
/// and at most 180 x 360 (what [`plot_maps`] draws). Gaussian grids: one
/// pixel row per ring up to that.
pub fn display_shape(grid: &Grid) -> (usize, usize) {
    let nlat = match grid.rings() {
        Some(r) => r.len(),
        None => ((grid.len() as f64 / 2.0).sqrt().round() as usize).max(18),
    }
    .clamp(1, 180);
    (nlat, 2 * nlat)
}

/// Longitude (degrees east) of the centre of pixel column `j` of `nlon`.
fn display_lon_deg(j: usize, nlon: usize) -> f64 {
    (j as f64 + 0.5) * 360.0 / nlon as f64
}

fn diverging(t: f64) -> RGBColor {
    // blue (0) – white (0.5) – red (1)
    let t = t.clamp(0.0, 1.0);
    let (r, g, b) = if t < 0.5 {
        let s = t / 0.5;
        (0.23 + 0.77 * s, 0.30 + 0.70 * s, 0.75 + 0.25 * s)
    } else {
        let s = (t - 0.5) / 0.5;
        (1.0 - 0.30 * s, 1.0 - 0.85 * s, 1.0 - 0.85 * s)
    };
    RGBColor((r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8)
}

/// Draws `panels` with their pictures `fields` (`[nlat, nlon]` each, at
/// ring latitudes `lat` and column longitudes `lon`).
fn draw_maps<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    lat: &[f64],
    lon: &[f64],
    panels: &[MapPanel],
    fields: &[ArrayView2<f64>],
    lsm: Option<&ArrayView2<f64>>,
) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    let root = root
        .titled(title, (FONT, 26).into_font().style(FontStyle::Bold))
        .map_err(plot_err)?;
    let (nlat, nlon) = (lat.len(), lon.len());
    let dlon = if nlon > 1 { lon[1] - lon[0] } else { 360.0 };
    let dlat = if nlat > 1 {
        (lat[0] - lat[nlat - 1]) / (nlat - 1) as f64
    } else {
        180.0
    };
    // at most ~360 x 180 cells drawn
    let (si, sj) = (nlat.div_ceil(180).max(1), nlon.div_ceil(360).max(1));
    for ((area, panel), field) in root
        .split_evenly((panels.len().max(1), 1))
        .iter()
        .zip(panels)
        .zip(fields)
    {
        let (map_area, bar_area) = area.split_horizontally(area.dim_in_pixel().0 as i32 - 110);
        let finite = field.iter().copied().filter(|v| v.is_finite());
        let (mut lo, mut hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if panel.diverging {
            let m = lo.abs().max(hi.abs()).max(1e-300);
            (lo, hi) = (-m, m);
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
        let colour = |v: f64| {
            let t = (v - lo) / (hi - lo);
            if panel.diverging {
                diverging(t)
            } else {
                ViridisRGB.get_color(t.clamp(0.0, 1.0))
            }
        };
        let x0 = lon[0] - dlon / 2.0;
        let mut chart = ChartBuilder::on(&map_area)
            .caption(&panel.title, (FONT, 20))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(x0..x0 + 360.0, -90.0..90.0)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("longitude (°E)")
            .y_desc("latitude (°N)")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(plot_err)?;
        let cells = (0..nlat)
            .step_by(si)
            .flat_map(|i| (0..nlon).step_by(sj).map(move |j| (i, j)));
        chart
            .draw_series(cells.map(|(i, j)| {
                let (la, lo_) = (lat[i], lon[j]);
                let top = (la + dlat * si as f64 / 2.0).min(90.0);
                let bottom = (la - dlat * si as f64 / 2.0).max(-90.0);
                let left = lo_ - dlon / 2.0;
                Rectangle::new(
                    [(left, top), (left + dlon * sj as f64, bottom)],
                    colour(field[[i, j]]).filled(),
                )
            }))
            .map_err(plot_err)?;
        if let Some(lsm) = lsm {
            // staircase outline along cell edges where land (>= 0.5) meets sea
            let land = |i: usize, j: usize| lsm[[i, j % nlon]] >= 0.5;
            let mut segs = Vec::new();
            for (i, &la) in lat.iter().enumerate() {
                for (j, &lo_) in lon.iter().enumerate() {
                    if land(i, j) != land(i, j + 1) {
                        let x = lo_ + dlon / 2.0;
                        segs.push(vec![(x, la + dlat / 2.0), (x, la - dlat / 2.0)]);
                    }
                    if i + 1 < nlat && land(i, j) != land(i + 1, j) {
                        let y = la - dlat / 2.0;
                        segs.push(vec![(lo_ - dlon / 2.0, y), (lo_ + dlon / 2.0, y)]);
                    }
                }
            }
            chart
                .draw_series(
                    segs.into_iter()
                        .map(|s| PathElement::new(s, BLACK.stroke_width(1))),
                )
                .map_err(plot_err)?
                .label("coastline (lsm = 0.5)")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
            legend(&mut chart, SeriesLabelPosition::LowerLeft, 13)?;
        }
        // colour bar
        let mut bar = ChartBuilder::on(&bar_area)
            .margin_top(40)
            .margin_bottom(50)
            .margin_right(5)
            .y_label_area_size(0)
            .right_y_label_area_size(70)
            .build_cartesian_2d(0.0..1.0, lo..hi)
            .map_err(plot_err)?;
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc(panel.units.clone())
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(plot_err)?;
        let steps = 100;
        bar.draw_series((0..steps).map(|k| {
            let a = lo + (hi - lo) * k as f64 / steps as f64;
            let b = lo + (hi - lo) * (k + 1) as f64 / steps as f64;
            Rectangle::new([(0.0, a), (1.0, b)], colour((a + b) / 2.0).filled())
        }))
        .map_err(plot_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plots::tests::{cleanup, png_size, tmpdir};

    #[test]
    fn lat_lon_maps_are_drawn_cell_by_cell() {
        let d = tmpdir("latlon-maps");
        let grid = Grid::from_spec("latlon:10").unwrap(); // 19 x 36, 10° steps from 90° N, 0° E
        let f = Array2::from_shape_fn((19, 36), |(i, j)| {
            (i as f64 / 3.0).sin() * (j as f64 / 5.0).cos() * 10.0 + 280.0
        });
        let e = Array2::from_shape_fn((19, 36), |(i, j)| ((i + j) as f64 / 4.0).sin());
        let lsm = Array2::from_shape_fn((19, 36), |(i, j)| {
            if (5..10).contains(&i) && (3..12).contains(&j) {
                1.0
            } else {
                0.0
            }
        });
        let panels = [
            MapPanel {
                title: "t2m forecast".into(),
                units: "K".into(),
                field: f.as_slice().unwrap(),
                diverging: false,
            },
            MapPanel {
                title: "t2m error".into(),
                units: "K".into(),
                field: e.as_slice().unwrap(),
                diverging: true,
            },
        ];
        let path = d.join("map.png");
        plot_maps(&path, "t2m at +24 h", &grid, &panels, lsm.as_slice()).unwrap();
        assert_eq!(png_size(&path), (900, 2 * 470 + 50));
        let bad = MapPanel {
            title: "bad".into(),
            units: "K".into(),
            field: &lsm.as_slice().unwrap()[..3 * 36],
            diverging: false,
        };
        let err = plot_maps(&path, "x", &grid, &[bad], None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`bad`") && err.contains("[108]") && err.contains("[684]"),
            "{err}"
        );
        assert!(plot_maps(&path, "x", &grid, &panels, Some(&[0.0; 5])).is_err());
        cleanup(&d);
    }

    #[test]
    fn maps_of_gaussian_grids_and_point_lists_are_resampled_for_display() {
        let d = tmpdir("reduced-maps");
        assert_eq!(display_shape(&Grid::octahedral(96).unwrap()), (180, 360));
        assert_eq!(display_shape(&Grid::octahedral(16).unwrap()), (32, 64));
        let pts = Grid::points(&[(0.0, 0.0), (45.0, 90.0), (-60.0, 250.0)]).unwrap();
        assert_eq!(display_shape(&pts), (18, 36));
        for grid in [Grid::octahedral(16).unwrap(), pts] {
            let ll = grid.point_lat_lon();
            let f: Vec<f64> = ll
                .iter()
                .map(|&(la, lo)| la.to_radians().cos() * (3.0 * lo.to_radians()).sin())
                .collect();
            let lsm: Vec<f64> = ll.iter().map(|&(la, _)| f64::from(la > 30.0)).collect();
            let panel = MapPanel {
                title: grid.describe(),
                units: "K".into(),
                field: &f,
                diverging: true,
            };
            let path = d.join(format!("map-{}.png", grid.len()));
            plot_maps(
                &path,
                "reduced",
                &grid,
                std::slice::from_ref(&panel),
                Some(&lsm),
            )
            .unwrap();
            assert_eq!(png_size(&path), (900, 470 + 50));
            let short = MapPanel {
                field: &f[1..],
                ..panel
            };
            let e = plot_maps(&path, "x", &grid, &[short], None)
                .unwrap_err()
                .to_string();
            assert!(e.contains(&grid.describe()), "{e}");
        }
        cleanup(&d);
    }
}
