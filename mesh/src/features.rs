//! Node and edge input features (GraphCast's `model_utils` conventions).

use rayon::prelude::*;

use crate::geometry::{chord, mat_vec, rotation_to_local, sub, Vec3};

/// Number of node features: cos lat, sin lon, cos lon.
pub const NODE_FEATURES: usize = 3;
/// Number of edge features: length, then the 3-D displacement.
pub const EDGE_FEATURES: usize = 4;

/// Node features `[N, 3]` (row-major): `cos φ, sin λ, cos λ` of each
/// (latitude, longitude) in degrees.
pub fn node_features(lat_lon: &[(f64, f64)]) -> Vec<f32> {
    lat_lon
        .iter()
        .flat_map(|&(lat, lon)| {
            let (s, c) = lon.to_radians().sin_cos();
            [lat.to_radians().cos() as f32, s as f32, c as f32]
        })
        .collect()
}

/// Edge features `[E, 4]` (row-major) of directed edges `(sender, receiver)`.
///
/// Each edge is expressed in its receiver's local frame: the rotation that
/// takes the receiver (at `receiver_lat_lon`) to `(1, 0, 0)` — about z by −λ,
/// then about y by φ — is applied to the sender and the receiver; the
/// features are `[|d|, d_x, d_y, d_z]` with `d = R·sender − R·receiver`, all
/// divided by the longest `|d|` of the graph (GraphCast,
/// `get_bipartite_graph_spatial_features` with relative local coordinates).
///
/// * `sender_pos`, `receiver_pos` — unit vectors of the two node sets
/// * `receiver_lat_lon` — degrees, `[receivers]`
///
/// Returns the features and the longest edge (chord, unit-sphere units).
pub fn edge_features(
    edges: &[(u32, u32)],
    sender_pos: &[Vec3],
    receiver_pos: &[Vec3],
    receiver_lat_lon: &[(f64, f64)],
) -> (Vec<f32>, f64) {
    let displacement: Vec<Vec3> = edges
        .par_iter()
        .map(|&(s, r)| {
            let (lat, lon) = receiver_lat_lon[r as usize];
            let rot = rotation_to_local(lat, lon);
            sub(
                mat_vec(&rot, sender_pos[s as usize]),
                mat_vec(&rot, receiver_pos[r as usize]),
            )
        })
        .collect();
    let longest = displacement
        .par_iter()
        .map(|d| chord(*d, [0.0; 3]))
        .reduce(|| 0.0, f64::max);
    let scale = if longest > 0.0 { 1.0 / longest } else { 1.0 };
    let mut out = vec![0f32; edges.len() * EDGE_FEATURES];
    out.par_chunks_mut(EDGE_FEATURES)
        .zip(displacement.par_iter())
        .for_each(|(row, d)| {
            let len = chord(*d, [0.0; 3]);
            row.copy_from_slice(&[
                (len * scale) as f32,
                (d[0] * scale) as f32,
                (d[1] * scale) as f32,
                (d[2] * scale) as f32,
            ]);
        });
    (out, longest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::lat_lon_to_xyz;

    #[test]
    fn node_features_are_cos_lat_sin_lon_cos_lon() {
        let f = node_features(&[(60.0, 90.0), (-60.0, 180.0)]);
        let want = [0.5, 1.0, 0.0, 0.5, 0.0, -1.0];
        for (a, b) in f.iter().zip(want) {
            assert!((a - b).abs() < 1e-7);
        }
    }

    #[test]
    fn edge_features_in_the_receiver_frame() {
        // Receiver on the equator at 30°E; senders 1° north and 1° east of it.
        let r = [(0.0, 30.0)];
        let receivers = [lat_lon_to_xyz(0.0, 30.0)];
        let senders = [lat_lon_to_xyz(1.0, 30.0), lat_lon_to_xyz(0.0, 31.0)];
        let (f, longest) = edge_features(&[(0, 0), (1, 0)], &senders, &receivers, &r);
        let c = 2.0 * (0.5f64.to_radians()).sin(); // chord of 1°
        assert!((longest - c).abs() < 1e-15);
        // north -> +z, east -> +y in the local frame; x shrinks by 1 − cos 1°
        let dx = ((1f64.to_radians().cos() - 1.0) / c) as f32;
        let want = [
            [1.0, dx, 0.0, (1f64.to_radians().sin() / c) as f32],
            [1.0, dx, (1f64.to_radians().sin() / c) as f32, 0.0],
        ];
        for (row, w) in f.chunks(4).zip(want) {
            for (a, b) in row.iter().zip(w) {
                assert!((a - b).abs() < 1e-6, "{row:?} vs {w:?}");
            }
        }
    }

    #[test]
    fn edge_features_do_not_depend_on_where_the_edge_is() {
        // The same small triangle moved in longitude gives the same features.
        let mk = |lon0: f64| {
            let r = [(20.0, lon0)];
            let recv = [lat_lon_to_xyz(20.0, lon0)];
            let send = [lat_lon_to_xyz(21.5, lon0 - 2.0)];
            edge_features(&[(0, 0)], &send, &recv, &r).0
        };
        let (a, b) = (mk(10.0), mk(250.0));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-6);
        }
    }
}
