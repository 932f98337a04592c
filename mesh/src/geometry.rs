//! Sphere geometry on the unit sphere: lat/lon <-> Cartesian, distances and the
//! receiver-local rotation used by GraphCast's edge features.
//!
//! Conventions: latitude φ and longitude λ in degrees, `x = cos φ cos λ`,
//! `y = cos φ sin λ`, `z = sin φ` (north pole at +z, λ = 0 on +x).

/// Mean Earth radius in km (the value WeatherBench2 and GraphCast use).
pub const EARTH_RADIUS_KM: f64 = 6371.0;

/// A point or vector in 3-D, unit sphere units.
pub type Vec3 = [f64; 3];

/// Unit vector of a (latitude, longitude) in degrees.
pub fn lat_lon_to_xyz(lat_deg: f64, lon_deg: f64) -> Vec3 {
    let (sin_lat, cos_lat) = lat_deg.to_radians().sin_cos();
    let (sin_lon, cos_lon) = lon_deg.to_radians().sin_cos();
    [cos_lat * cos_lon, cos_lat * sin_lon, sin_lat]
}

/// (latitude, longitude) in degrees of a non-zero vector; longitude in [0, 360).
pub fn xyz_to_lat_lon(p: Vec3) -> (f64, f64) {
    let r = norm(p);
    let lat = (p[2] / r).clamp(-1.0, 1.0).asin().to_degrees();
    let lon = p[1].atan2(p[0]).to_degrees();
    (lat, wrap_lon(lon))
}

/// Longitude wrapped into [0, 360) degrees.
pub fn wrap_lon(lon_deg: f64) -> f64 {
    let l = lon_deg.rem_euclid(360.0);
    if l >= 360.0 {
        0.0
    } else {
        l
    }
}

pub fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub fn norm(a: Vec3) -> f64 {
    dot(a, a).sqrt()
}

pub fn normalize(a: Vec3) -> Vec3 {
    let n = norm(a);
    [a[0] / n, a[1] / n, a[2] / n]
}

/// Triple product `a · (b × c)`: positive when (a, b, c) is counter-clockwise
/// seen from outside the sphere.
pub fn det3(a: Vec3, b: Vec3, c: Vec3) -> f64 {
    dot(a, cross(b, c))
}

/// Straight-line (chord) distance between two points, unit-sphere units.
pub fn chord(a: Vec3, b: Vec3) -> f64 {
    norm(sub(a, b))
}

/// Great-circle distance in km for a chord length `c` on the unit sphere.
pub fn chord_to_km(c: f64) -> f64 {
    2.0 * (c / 2.0).clamp(-1.0, 1.0).asin() * EARTH_RADIUS_KM
}

/// Rotation matrix (row-major, active) that takes the receiver at
/// (`lat_deg`, `lon_deg`) to `(1, 0, 0)`: first about z by −λ, then about y by
/// +φ. This is GraphCast's `get_rotation_matrices_to_local_coordinates` with
/// both latitude and longitude rotated.
pub fn rotation_to_local(lat_deg: f64, lon_deg: f64) -> [[f64; 3]; 3] {
    let (sl, cl) = lon_deg.to_radians().sin_cos();
    let (sp, cp) = lat_deg.to_radians().sin_cos();
    // R_y(φ) · R_z(−λ)
    [
        [cp * cl, cp * sl, sp],
        [-sl, cl, 0.0],
        [-sp * cl, -sp * sl, cp],
    ]
}

/// `m · v`.
pub fn mat_vec(m: &[[f64; 3]; 3], v: Vec3) -> Vec3 {
    [dot(m[0], v), dot(m[1], v), dot(m[2], v)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lat_lon_round_trip() {
        for &(lat, lon) in &[(0.0, 0.0), (45.0, 10.0), (-89.5, 359.0), (12.3, 181.7)] {
            let (la, lo) = xyz_to_lat_lon(lat_lon_to_xyz(lat, lon));
            assert!(
                (la - lat).abs() < 1e-12 && (lo - lon).abs() < 1e-9,
                "{lat} {lon} -> {la} {lo}"
            );
        }
    }

    #[test]
    fn rotation_takes_receiver_to_x_axis_and_is_orthonormal() {
        for &(lat, lon) in &[(0.0, 0.0), (33.0, 250.0), (-71.0, 12.0), (90.0, 40.0)] {
            let r = rotation_to_local(lat, lon);
            let p = mat_vec(&r, lat_lon_to_xyz(lat, lon));
            assert!((p[0] - 1.0).abs() < 1e-14 && p[1].abs() < 1e-14 && p[2].abs() < 1e-14);
            for i in 0..3 {
                for j in 0..3 {
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((dot(r[i], r[j]) - want).abs() < 1e-14);
                }
            }
        }
    }

    #[test]
    fn quarter_circle_chord_is_a_quarter_of_the_circumference() {
        let c = chord(lat_lon_to_xyz(0.0, 0.0), lat_lon_to_xyz(0.0, 90.0));
        let km = chord_to_km(c);
        let want = std::f64::consts::FRAC_PI_2 * EARTH_RADIUS_KM;
        assert!((km - want).abs() < 1e-9, "{km} vs {want}");
    }
}
