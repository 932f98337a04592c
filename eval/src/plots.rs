//! Diagnostic plots (plotters; PNG or SVG by the file extension): spectra
//! with a wavelength axis, RMSE against lead time, and maps with a colour
//! bar and the land-sea outline. Every plot has a title, labelled axes with
//! units and a legend. Text uses the embedded DejaVu Sans, so no system
//! fonts are needed. Files are written atomically.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use fastnet_mesh::atomic::{commit, temp_path};
use ndarray::ArrayView2;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

use crate::error::{EvalError, Result};
use crate::spectra::wavelength_km;

const FONT: &str = "sans-serif";
const PANEL: (u32, u32) = (640, 480);

fn register_fonts() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        // The bytes are a valid TrueType font shipped by the dejavu crate.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// One line on a plot.
#[derive(Clone, Debug)]
pub struct Line {
    pub label: String,
    /// `[n]` (x, y) points; non-finite or non-positive (for log axes) values
    /// are skipped.
    pub points: Vec<(f64, f64)>,
}

/// One panel: a title, axis units and its lines.
#[derive(Clone, Debug)]
pub struct Panel {
    pub title: String,
    /// Units of the plotted quantity, e.g. `m² s⁻²` or `K`.
    pub units: String,
    pub lines: Vec<Line>,
}

fn plot_err(e: impl std::fmt::Display) -> EvalError {
    EvalError::Plot(e.to_string())
}

/// Draws the series labels of `chart` in a framed, almost opaque box.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    font_size: u32,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, font_size))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)
}

/// Colour of the `i`-th line: black for the first (the truth, by
/// convention), then a qualitative palette.
fn line_colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 7] = [
        RGBColor(0, 0, 0),
        RGBColor(0, 114, 178),
        RGBColor(213, 94, 0),
        RGBColor(0, 158, 115),
        RGBColor(204, 121, 167),
        RGBColor(230, 159, 0),
        RGBColor(86, 180, 233),
    ];
    PALETTE[i % PALETTE.len()]
}

fn grid_shape(n: usize) -> (usize, usize) {
    let cols = n.clamp(1, 3);
    (n.div_ceil(cols).max(1), cols)
}

/// Renders `draw` into a PNG or SVG at `path` (by extension), through a
/// temporary file committed into place ([`fastnet_mesh::atomic`]); the
/// temporary name keeps the extension, which tells the PNG encoder the
/// format.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: &dyn Fn(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
    draw_svg: &dyn Fn(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
) -> Result<()> {
    register_fonts();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let tmp: PathBuf = {
        let mut t = temp_path(path).into_os_string();
        t.push(format!(".{}", ext.as_deref().unwrap_or("png")));
        t.into()
    };
    let result = match ext.as_deref() {
        Some("png") => {
            let root = BitMapBackend::new(&tmp, size).into_drawing_area();
            draw(&root).and_then(|_| root.present().map_err(plot_err))
        }
        Some("svg") => {
            let root = SVGBackend::new(&tmp, size).into_drawing_area();
            draw_svg(&root).and_then(|_| root.present().map_err(plot_err))
        }
        _ => {
            return Err(EvalError::Invalid(format!(
                "{}: plot files must end in .png or .svg",
                path.display()
            )));
        }
    };
    match result.and_then(|_| {
        commit(&tmp, path).map_err(|e| EvalError::Io {
            path: path.to_path_buf(),
            source: e,
        })
    }) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn positive_range(panels: &[Panel], axis: impl Fn(&(f64, f64)) -> f64) -> Option<(f64, f64)> {
    let vals = panels
        .iter()
        .flat_map(|p| p.lines.iter().flat_map(|l| l.points.iter().map(&axis)));
    let (lo, hi) = vals
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    (hi > 0.0).then_some((lo, hi))
}

/// Spectra: log-log power against total wavenumber `l`, with the
/// wavelength `2πR/l` in km on the top axis; one panel per variable (or
/// lead), the truth first (black), then every model.
pub fn plot_spectra(path: &Path, title: &str, panels: &[Panel]) -> Result<()> {
    let (r, c) = grid_shape(panels.len());
    render(
        path,
        (PANEL.0 * c as u32, PANEL.1 * r as u32 + 50),
        &|root| draw_spectra(root, title, panels),
        &|root| draw_spectra(root, title, panels),
    )
}

fn draw_spectra<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    panels: &[Panel],
) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    let root = root
        .titled(title, (FONT, 26).into_font().style(FontStyle::Bold))
        .map_err(plot_err)?;
    let (rows, cols) = grid_shape(panels.len());
    for (area, panel) in root.split_evenly((rows, cols)).iter().zip(panels) {
        let pts = |l: &Line| -> Vec<(f64, f64)> {
            l.points
                .iter()
                .copied()
                .filter(|&(x, y)| x >= 1.0 && y > 0.0 && y.is_finite())
                .collect()
        };
        let p = std::slice::from_ref(panel);
        let (Some((x0, x1)), Some((y0, y1))) = (
            positive_range(p, |q| if q.0 >= 1.0 { q.0 } else { 0.0 }),
            positive_range(p, |q| if q.0 >= 1.0 { q.1 } else { 0.0 }),
        ) else {
            continue;
        };
        let (x1, y1) = (x1.max(x0 * 1.5), y1.max(y0 * 10.0));
        let ticks: Vec<f64> = [1.0, 2.0, 5.0]
            .iter()
            .flat_map(|m| (0..6).map(move |e| m * 10f64.powi(e)))
            .filter(|t| (x0..=x1).contains(t))
            .collect();
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(45)
            .top_x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(
                (x0..x1).log_scale().with_key_points(ticks.clone()),
                (y0 / 2.0..y1 * 2.0).log_scale(),
            )
            .map_err(plot_err)?
            .set_secondary_coord(
                (x0..x1).log_scale().with_key_points(ticks),
                (y0 / 2.0..y1 * 2.0).log_scale(),
            );
        chart
            .configure_mesh()
            .x_desc("total wavenumber l")
            .x_label_formatter(&|l| format!("{l:.0}"))
            .max_light_lines(0)
            .y_desc(format!("power ({})", panel.units))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(plot_err)?;
        chart
            .configure_secondary_axes()
            .x_desc("wavelength (km)")
            .x_label_formatter(&|l| format!("{:.0}", wavelength_km((*l).round().max(1.0) as usize)))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(plot_err)?;
        for (i, line) in panel.lines.iter().enumerate() {
            let colour = line_colour(i);
            let width = if i == 0 { 3 } else { 2 };
            chart
                .draw_series(LineSeries::new(pts(line), colour.stroke_width(width)))
                .map_err(plot_err)?
                .label(line.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(width))
                });
        }
        legend(&mut chart, SeriesLabelPosition::LowerLeft, 15)?;
    }
    Ok(())
}

/// RMSE (or any score) against lead time in hours, models overlaid, one
/// panel per variable. Lines start at colour 1 (no truth line here).
pub fn plot_lead_time(path: &Path, title: &str, score_name: &str, panels: &[Panel]) -> Result<()> {
    let (r, c) = grid_shape(panels.len());
    render(
        path,
        (PANEL.0 * c as u32, PANEL.1 * r as u32 + 50),
        &|root| draw_lead_time(root, title, score_name, panels),
        &|root| draw_lead_time(root, title, score_name, panels),
    )
}

fn draw_lead_time<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    score: &str,
    panels: &[Panel],
) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    let root = root
        .titled(title, (FONT, 26).into_font().style(FontStyle::Bold))
        .map_err(plot_err)?;
    let (rows, cols) = grid_shape(panels.len());
    for (area, panel) in root.split_evenly((rows, cols)).iter().zip(panels) {
        let all: Vec<(f64, f64)> = panel
            .lines
            .iter()
            .flat_map(|l| l.points.iter().copied())
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        if all.is_empty() {
            continue;
        }
        let x1 = all.iter().map(|p| p.0).fold(0.0, f64::max).max(6.0);
        let y1 = all.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-12) * 1.1;
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x1, 0.0..y1)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("lead time (h)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc(format!("{score} ({})", panel.units))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(plot_err)?;
        for (i, line) in panel.lines.iter().enumerate() {
            let colour = line_colour(i + 1);
            let pts: Vec<(f64, f64)> = line
                .points
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
                .map_err(plot_err)?;
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(plot_err)?
                .label(line.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft, 15)?;
    }
    Ok(())
}

/// One map panel: a `[nlat, nlon]` field (latitude north to south,
/// longitude eastwards from `lon0_deg` with equal spacing).
#[derive(Clone, Debug)]
pub struct MapPanel<'a> {
    pub title: String,
    pub units: String,
    pub field: ArrayView2<'a, f64>,
    /// Diverging colours centred on zero (for errors) instead of viridis.
    pub diverging: bool,
}

/// Maps on an equirectangular projection, one panel per field, each with
/// its colour bar; `lsm` (`[nlat, nlon]`, 0..1) adds the land-sea outline.
pub fn plot_maps(
    path: &Path,
    title: &str,
    lat_deg: &[f64],
    lon_deg: &[f64],
    panels: &[MapPanel],
    lsm: Option<ArrayView2<f64>>,
) -> Result<()> {
    for p in panels {
        if p.field.dim() != (lat_deg.len(), lon_deg.len()) {
            return Err(EvalError::ShapeMismatch {
                what: format!("map `{}`", p.title),
                got: p.field.shape().to_vec(),
                expected: vec![lat_deg.len(), lon_deg.len()],
            });
        }
    }
    let size = (900, 470 * panels.len().max(1) as u32 + 50);
    render(
        path,
        size,
        &|root| draw_maps(root, title, lat_deg, lon_deg, panels, lsm.as_ref()),
        &|root| draw_maps(root, title, lat_deg, lon_deg, panels, lsm.as_ref()),
    )
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

fn draw_maps<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    lat: &[f64],
    lon: &[f64],
    panels: &[MapPanel],
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
    for (area, panel) in root
        .split_evenly((panels.len().max(1), 1))
        .iter()
        .zip(panels)
    {
        let (map_area, bar_area) = area.split_horizontally(area.dim_in_pixel().0 as i32 - 110);
        let finite = panel.field.iter().copied().filter(|v| v.is_finite());
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
                    colour(panel.field[[i, j]]).filled(),
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
    use ndarray::Array2;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fastnet-plots-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Test output stays in the temp folder when FASTNET_KEEP_TEST_OUTPUT is set
    /// (to look at the pictures).
    fn cleanup(d: &Path) {
        if std::env::var_os("FASTNET_KEEP_TEST_OUTPUT").is_none() {
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    fn png_size(path: &Path) -> (u32, u32) {
        let b = std::fs::read(path).unwrap();
        assert_eq!(&b[1..4], b"PNG");
        (
            u32::from_be_bytes(b[16..20].try_into().unwrap()),
            u32::from_be_bytes(b[20..24].try_into().unwrap()),
        )
    }

    fn spectrum_panel() -> Panel {
        let truth: Vec<(f64, f64)> = (1..=90)
            .map(|l| (l as f64, 1e6 * (l as f64).powf(-3.0)))
            .collect();
        let blurred: Vec<(f64, f64)> = truth
            .iter()
            .map(|&(l, p)| (l, p * (-(l / 30.0).powi(2)).exp()))
            .collect();
        Panel {
            title: "z500, 120 h".into(),
            units: "m⁴ s⁻⁴".into(),
            lines: vec![
                Line {
                    label: "ERA5".into(),
                    points: truth,
                },
                Line {
                    label: "MSE model".into(),
                    points: blurred,
                },
            ],
        }
    }

    #[test]
    fn spectra_png_and_svg_are_written() {
        let d = tmpdir("spectra");
        let png = d.join("spectra.png");
        plot_spectra(&png, "Power spectra", &[spectrum_panel(), spectrum_panel()]).unwrap();
        assert_eq!(png_size(&png), (2 * 640, 480 + 50));
        let svg = d.join("spectra.svg");
        plot_spectra(&svg, "Power spectra", &[spectrum_panel()]).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(
            text.contains("<svg") && text.contains("wavelength (km)") && text.contains("MSE model")
        );
        assert!(plot_spectra(&d.join("x.pdf"), "t", &[spectrum_panel()]).is_err());
        let leftovers = std::fs::read_dir(&d)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .count();
        assert_eq!(leftovers, 0);
        cleanup(&d);
    }

    #[test]
    fn rmse_and_map_plots_are_written() {
        let d = tmpdir("rmse");
        let panel = Panel {
            title: "t850".into(),
            units: "K".into(),
            lines: vec![
                Line {
                    label: "fastnet".into(),
                    points: (1..=20)
                        .map(|k| (6.0 * k as f64, 0.5 + 0.1 * k as f64))
                        .collect(),
                },
                Line {
                    label: "persistence".into(),
                    points: (1..=20)
                        .map(|k| (6.0 * k as f64, 1.0 + 0.2 * k as f64))
                        .collect(),
                },
            ],
        };
        plot_lead_time(&d.join("rmse.png"), "RMSE", "RMSE", &[panel]).unwrap();
        let lat: Vec<f64> = (0..19).map(|i| 90.0 - 10.0 * i as f64).collect();
        let lon: Vec<f64> = (0..36).map(|j| 10.0 * j as f64).collect();
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
                field: f.view(),
                diverging: false,
            },
            MapPanel {
                title: "t2m error".into(),
                units: "K".into(),
                field: e.view(),
                diverging: true,
            },
        ];
        let path = d.join("map.png");
        plot_maps(&path, "t2m at +24 h", &lat, &lon, &panels, Some(lsm.view())).unwrap();
        assert_eq!(png_size(&path), (900, 2 * 470 + 50));
        let bad = MapPanel {
            title: "bad".into(),
            units: "K".into(),
            field: lsm.slice(ndarray::s![..3, ..]),
            diverging: false,
        };
        assert!(plot_maps(&path, "x", &lat, &lon, &[bad], None).is_err());
        cleanup(&d);
    }
}
