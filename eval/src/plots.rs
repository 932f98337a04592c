//! Diagnostic plots (plotters; PNG or SVG by the file extension): spectra
//! with a wavelength axis, RMSE against lead time, and maps with a colour
//! bar and the land-sea outline. Every plot has a title, labelled axes with
//! units and a legend. Text uses the embedded DejaVu Sans, so no system
//! fonts are needed. Files are written atomically.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use fastnet_mesh::atomic::{commit, temp_path};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{EvalError, Result};
use crate::spectra::wavelength_km;

mod maps;
pub use maps::{display_shape, plot_maps, MapPanel};

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
        &|root| draw_spectra(root, title, &total_panels(panels)),
        &|root| draw_spectra(root, title, &total_panels(panels)),
    )
}

/// The x axis of a spectrum panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SpectrumAxis {
    /// Total wavenumber `l`, with the wavelength `2πR/l` on the top axis.
    Total,
    /// Zonal wavenumber `k` along latitude circles (no wavelength axis: it
    /// depends on the latitude).
    Zonal,
}

fn total_panels(panels: &[Panel]) -> Vec<(&Panel, SpectrumAxis)> {
    panels.iter().map(|p| (p, SpectrumAxis::Total)).collect()
}

/// Spectra of data alone: the panels of `total` (power against total
/// wavenumber, as [`plot_spectra`]) followed by those of `zonal` (zonal
/// energy spectra against zonal wavenumber `k`, log-log, one line per
/// latitude band), in one figure.
pub fn plot_truth_spectra(
    path: &Path,
    title: &str,
    total: &[Panel],
    zonal: &[Panel],
) -> Result<()> {
    let mut all = total_panels(total);
    all.extend(zonal.iter().map(|p| (p, SpectrumAxis::Zonal)));
    let (r, c) = grid_shape(all.len());
    render(
        path,
        (PANEL.0 * c as u32, PANEL.1 * r as u32 + 50),
        &|root| draw_spectra(root, title, &all),
        &|root| draw_spectra(root, title, &all),
    )
}

fn draw_spectra<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    panels: &[(&Panel, SpectrumAxis)],
) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    let root = root
        .titled(title, (FONT, 26).into_font().style(FontStyle::Bold))
        .map_err(plot_err)?;
    let (rows, cols) = grid_shape(panels.len());
    for (area, &(panel, axis)) in root.split_evenly((rows, cols)).iter().zip(panels) {
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
            .top_x_label_area_size(if axis == SpectrumAxis::Total { 45 } else { 0 })
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
            .x_desc(match axis {
                SpectrumAxis::Total => "total wavenumber l",
                SpectrumAxis::Zonal => "zonal wavenumber k",
            })
            .x_label_formatter(&|l| format!("{l:.0}"))
            .max_light_lines(0)
            .y_desc(format!("power ({})", panel.units))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(plot_err)?;
        if axis == SpectrumAxis::Total {
            chart
                .configure_secondary_axes()
                .x_desc("wavelength (km)")
                .x_label_formatter(&|l| {
                    format!("{:.0}", wavelength_km((*l).round().max(1.0) as usize))
                })
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 15))
                .draw()
                .map_err(plot_err)?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fastnet-plots-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Test output stays in the temp folder when FASTNET_KEEP_TEST_OUTPUT is set
    /// (to look at the pictures).
    pub(super) fn cleanup(d: &Path) {
        if std::env::var_os("FASTNET_KEEP_TEST_OUTPUT").is_none() {
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    pub(super) fn png_size(path: &Path) -> (u32, u32) {
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
    fn rmse_plots_are_written() {
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
        let path = d.join("rmse.png");
        plot_lead_time(&path, "RMSE", "RMSE", &[panel]).unwrap();
        assert_eq!(png_size(&path), (640, 480 + 50));
        cleanup(&d);
    }
}
