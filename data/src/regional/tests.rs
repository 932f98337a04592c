//! Box geometry: orientation, wrapping, regularity, lattice placement.

use std::path::Path;

use fastnet_mesh::Grid;

use super::*;

fn range(start: f64, step: f64, n: usize) -> Vec<f64> {
    (0..n).map(|k| start + k as f64 * step).collect()
}

#[test]
fn a_cds_area_box_in_signed_longitudes() {
    // CDS area [60, -10, 35, 30] at 0.25°: latitudes 60 .. 35 descending,
    // longitudes -10 .. 30.
    let lat = range(60.0, -0.25, 101);
    let lon = range(-10.0, 0.25, 161);
    let (b, o) = LatLonBox::from_coords(Path::new("x.nc"), &lat, &lon).unwrap();
    assert!(!o.lat_flipped);
    assert_eq!(o.cols, (0..161).collect::<Vec<_>>());
    assert_eq!(
        (b.north(), b.south(), b.west(), b.east()),
        (60.0, 35.0, -10.0, 30.0)
    );
    assert_eq!(b.lat_step_deg, 0.25);
    assert!((b.lon_step_deg - 0.25).abs() < 1e-12);
    assert!(!b.is_global() && !b.covers_all_longitudes());
    assert_eq!(
        b.describe(),
        "60°N..35°N, 10°W..30°E at 0.25° x 0.25° (101 x 161 points)"
    );
    // On ERA5's 0.25° grid: row of 60°N is 120, column of -10° is 1400.
    let era5 = Grid::equiangular(721, 1440, true).unwrap();
    let idx = b.lattice_indices(&era5, Path::new("x.nc")).unwrap();
    assert_eq!(idx.len(), b.len());
    assert_eq!(idx[0], 120 * 1440 + 1400);
    assert_eq!(idx[40], 120 * 1440); // 0°E
    assert_eq!(idx[b.len() - 1], 220 * 1440 + 120); // 35°N, 30°E
                                                    // Every index names a grid point with the box point's coordinates.
    let pts = era5.point_lat_lon();
    for (k, (la, lo)) in b.point_lat_lon().into_iter().enumerate() {
        let (gla, glo) = pts[idx[k]];
        assert!((gla - la).abs() < 1e-9 && (glo - lo).abs() < 1e-9, "{k}");
    }
}

#[test]
fn ascending_latitudes_and_longitudes_wrapping_across_0() {
    // Stored south to north, and longitudes in [0, 360) sorted: 0..30 then
    // 350..359 — the box really runs 350°E .. 30°E.
    let lat = range(30.0, 1.0, 11);
    let mut lon = range(0.0, 1.0, 31);
    lon.extend(range(350.0, 1.0, 10));
    let (b, o) = LatLonBox::from_coords(Path::new("x.nc"), &lat, &lon).unwrap();
    assert!(o.lat_flipped);
    assert_eq!(b.north(), 40.0);
    assert_eq!(b.west(), 350.0);
    assert_eq!(b.east(), 390.0);
    assert_eq!(o.cols[0], 31); // 350° is stored in column 31
    assert_eq!(o.cols[10], 0); // 0° in column 0
    assert_eq!(
        b.describe(),
        "40°N..30°N, 10°W..30°E at 1° x 1° (11 x 41 points)"
    );
    let g = Grid::equiangular(181, 360, true).unwrap();
    let idx = b.lattice_indices(&g, Path::new("x.nc")).unwrap();
    assert_eq!(idx[0], 50 * 360 + 350);
    assert_eq!(idx[10], 50 * 360);
}

#[test]
fn a_global_grid_is_recognised() {
    let lat = range(90.0, -1.0, 181);
    let lon = range(-180.0, 1.0, 360);
    let (b, o) = LatLonBox::from_coords(Path::new("g.nc"), &lat, &lon).unwrap();
    assert!(b.is_global());
    // All round: canonical columns start at 0°E (stored column 180).
    assert_eq!(o.cols[0], 180);
    assert_eq!(b.west(), 0.0);
    let half = range(87.1875, -5.625, 32);
    let (wb, _) = LatLonBox::from_coords(Path::new("w.nc"), &half, &range(0.0, 11.25, 32)).unwrap();
    assert!(wb.is_global());
    let band = range(30.0, -1.0, 61);
    let (tb, _) = LatLonBox::from_coords(Path::new("t.nc"), &band, &range(0.0, 1.0, 360)).unwrap();
    assert!(tb.covers_all_longitudes() && !tb.is_global());
}

#[test]
fn irregular_or_degenerate_coordinates_are_refused_with_the_offender() {
    let p = Path::new("bad.nc");
    let mut lat = range(60.0, -0.25, 11);
    lat[5] += 0.1;
    let e = LatLonBox::from_coords(p, &lat, &range(0.0, 0.25, 5)).unwrap_err();
    let s = e.to_string();
    assert!(s.contains("bad.nc") && s.contains("latitude 5"), "{s}");
    let mut lon = range(0.0, 0.25, 9);
    lon[7] = 1.9;
    let s = LatLonBox::from_coords(p, &range(60.0, -0.25, 3), &lon)
        .unwrap_err()
        .to_string();
    assert!(s.contains("longitude 1.9 (column 7)"), "{s}");
    let s = LatLonBox::from_coords(p, &[10.0], &range(0.0, 1.0, 3))
        .unwrap_err()
        .to_string();
    assert!(s.contains("1 latitudes x 3 longitudes"), "{s}");
    let s = LatLonBox::from_coords(p, &range(0.0, 1.0, 3), &[0.0, 1.0, 360.0])
        .unwrap_err()
        .to_string();
    assert!(s.contains("same meridian"), "{s}");
}

#[test]
fn a_box_off_the_forecast_lattice_is_refused() {
    let (b, _) = LatLonBox::from_coords(
        Path::new("box.nc"),
        &range(60.1, -0.25, 4),
        &range(0.0, 0.25, 4),
    )
    .unwrap();
    let era5 = Grid::equiangular(721, 1440, true).unwrap();
    let s = b
        .lattice_indices(&era5, Path::new("box.nc"))
        .unwrap_err()
        .to_string();
    assert!(s.contains("box latitude 60.1° is not a row"), "{s}");
    let s = b
        .lattice_indices(&Grid::octahedral(8).unwrap(), Path::new("box.nc"))
        .unwrap_err()
        .to_string();
    assert!(s.contains("a box on a lat-lon grid"), "{s}");
}
