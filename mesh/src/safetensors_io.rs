//! The graph file: safetensors with the reference FastNet buffer names.
//!
//! Tensors (all little-endian):
//!
//! | name                       | dtype | shape          |
//! |----------------------------|-------|----------------|
//! | `mesh_features`            | F32   | `[N_mesh, 3]`  |
//! | `{g}_edge_index.0`         | I64   | `[E_g, 2]` (source, target) |
//! | `{g}_edge_features.0`      | F32   | `[E_g, 4]`     |
//! | `grid_latitude`, `grid_longitude` | F64 | `[nlat]`, `[nlon]` (or `[N]` each, per point, for Gaussian and point grids), degrees |
//! | `mesh_latitude`, `mesh_longitude` | F64 | `[N_mesh]`, degrees |
//!
//! for `g` in `encoder`, `mesh`, `decoder`. The `__metadata__` header holds
//! `format = fastnet-graph`, `format_version`, the grid (`grid`, JSON), the
//! build parameters (`config`, JSON) and `content_sha256`, a hash of
//! everything else. Files are written byte-for-byte deterministically and
//! atomically (temporary file, fsync, rename).

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::GraphConfig;
use crate::error::{MeshError, Result};
use crate::graph::{EdgeSet, Graph};
use crate::grid::Grid;

pub const FORMAT: &str = "fastnet-graph";
pub const FORMAT_VERSION: &str = "1";
/// The three edge sets, with the prefix of their tensor names.
pub const EDGE_SETS: [&str; 3] = ["encoder", "mesh", "decoder"];

/// One tensor to write: name, dtype, shape and little-endian bytes.
pub struct TensorBytes {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl TensorBytes {
    pub fn f32(name: &str, shape: Vec<usize>, v: &[f32]) -> Self {
        TensorBytes {
            name: name.into(),
            dtype: Dtype::F32,
            shape,
            data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
    pub fn f64(name: &str, shape: Vec<usize>, v: &[f64]) -> Self {
        TensorBytes {
            name: name.into(),
            dtype: Dtype::F64,
            shape,
            data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
    pub fn i64(name: &str, shape: Vec<usize>, v: impl Iterator<Item = i64>) -> Self {
        TensorBytes {
            name: name.into(),
            dtype: Dtype::I64,
            shape,
            data: v.flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

/// SHA-256 (hex) of the tensors (name, dtype, shape, bytes, in name order)
/// and the metadata entries (key order).
pub fn content_hash(tensors: &[TensorBytes], metadata: &BTreeMap<String, String>) -> String {
    let mut sorted: Vec<&TensorBytes> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut h = Sha256::new();
    for t in sorted {
        h.update(t.name.as_bytes());
        h.update([0]);
        h.update(format!("{:?}", t.dtype).as_bytes());
        for &d in &t.shape {
            h.update((d as u64).to_le_bytes());
        }
        h.update(&t.data);
    }
    for (k, v) in metadata {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Serialises tensors (sorted by name, contiguous) and string metadata to the
/// safetensors layout: 8-byte little-endian header length, JSON header padded
/// with spaces to a multiple of 8, data. Deterministic: keys are sorted.
pub fn to_safetensors_bytes(
    tensors: &[TensorBytes],
    metadata: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut sorted: Vec<&TensorBytes> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        header.insert(
            "__metadata__".into(),
            serde_json::to_value(metadata).expect("string map"),
        );
    }
    let mut offset = 0usize;
    for t in &sorted {
        let end = offset + t.data.len();
        header.insert(
            t.name.clone(),
            serde_json::json!({ "dtype": format!("{:?}", t.dtype), "shape": t.shape, "data_offsets": [offset, end] }),
        );
        offset = end;
    }
    // serde_json's Map is a BTreeMap (no preserve_order feature): sorted keys.
    let mut json = serde_json::to_vec(&header).expect("JSON of plain values");
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + offset);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for t in sorted {
        out.extend_from_slice(&t.data);
    }
    out
}

/// The grid as recorded in the metadata; coordinates live in tensors.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum GridMeta {
    Equiangular {
        nlat: usize,
        nlon: usize,
        poles: bool,
    },
    /// `n` is the Gaussian N (`2n` rings), not the number of points.
    Gaussian {
        n: usize,
        octahedral: bool,
    },
    Points {
        n: usize,
    },
}

/// Largest difference in degrees between a Gaussian grid's stored and
/// recomputed coordinates that is taken for the same grid: the Gauss–Legendre
/// latitudes come from `cos`/`sin` of the platform's libm, which may differ
/// in the last bit between machines.
const GAUSSIAN_COORD_TOLERANCE_DEG: f64 = 1e-9;

impl Graph {
    fn tensors_and_metadata(&self) -> (Vec<TensorBytes>, BTreeMap<String, String>) {
        let n_mesh = self.mesh_nodes();
        let mut t = vec![TensorBytes::f32(
            "mesh_features",
            vec![n_mesh, self.mesh_feature_dim],
            &self.mesh_features,
        )];
        for (prefix, set) in EDGE_SETS
            .iter()
            .zip([&self.encoder, &self.mesh, &self.decoder])
        {
            t.push(TensorBytes::i64(
                &format!("{prefix}_edge_index.0"),
                vec![set.len(), 2],
                set.index.iter().flat_map(|&(s, r)| [s as i64, r as i64]),
            ));
            t.push(TensorBytes::f32(
                &format!("{prefix}_edge_features.0"),
                vec![set.len(), set.feature_dim],
                &set.features,
            ));
        }
        let (glat, glon) = (self.grid.latitudes_deg(), self.grid.longitudes_deg());
        t.push(TensorBytes::f64("grid_latitude", vec![glat.len()], &glat));
        t.push(TensorBytes::f64("grid_longitude", vec![glon.len()], &glon));
        let (mlat, mlon): (Vec<f64>, Vec<f64>) = self.mesh_lat_lon.iter().copied().unzip();
        t.push(TensorBytes::f64("mesh_latitude", vec![n_mesh], &mlat));
        t.push(TensorBytes::f64("mesh_longitude", vec![n_mesh], &mlon));

        let grid_meta = match &self.grid {
            Grid::Equiangular { nlat, nlon, poles } => GridMeta::Equiangular {
                nlat: *nlat,
                nlon: *nlon,
                poles: *poles,
            },
            Grid::Gaussian { n, octahedral } => GridMeta::Gaussian {
                n: *n,
                octahedral: *octahedral,
            },
            Grid::Points { lat_deg, .. } => GridMeta::Points { n: lat_deg.len() },
        };
        let mut meta = BTreeMap::new();
        meta.insert("format".to_string(), FORMAT.to_string());
        meta.insert("format_version".to_string(), FORMAT_VERSION.to_string());
        meta.insert(
            "grid".to_string(),
            serde_json::to_string(&grid_meta).expect("plain struct"),
        );
        meta.insert(
            "config".to_string(),
            serde_json::to_string(&self.config).expect("plain struct"),
        );
        meta.insert(
            "builder".to_string(),
            format!("fastnet-mesh {}", env!("CARGO_PKG_VERSION")),
        );
        (t, meta)
    }

    /// Content hash of the graph (SHA-256 hex of tensors and build metadata);
    /// the same graph always gives the same hash. Stored in the file as
    /// `content_sha256`, and by checkpoints to recognise their graph.
    pub fn content_hash(&self) -> String {
        let (t, m) = self.tensors_and_metadata();
        content_hash(&t, &m)
    }

    /// The graph file as bytes (deterministic).
    pub fn to_bytes(&self) -> Vec<u8> {
        let (t, mut m) = self.tensors_and_metadata();
        let hash = content_hash(&t, &m);
        m.insert("content_sha256".to_string(), hash);
        to_safetensors_bytes(&t, &m)
    }

    /// Saves the graph to `path` (atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::atomic::write_atomic(path, &self.to_bytes()).map_err(|e| MeshError::io(path, e))
    }

    /// Loads a graph file written by [`Graph::save`], checking names, dtypes,
    /// shapes and index ranges.
    pub fn load(path: &Path) -> Result<Graph> {
        let bytes = std::fs::read(path).map_err(|e| MeshError::io(path, e))?;
        Graph::from_bytes(&bytes, path)
    }

    /// Parses graph file bytes; `path` is only used in error messages.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Graph> {
        let bad = |reason: String| MeshError::NotAGraph {
            path: path.to_path_buf(),
            reason,
        };
        let st = SafeTensors::deserialize(bytes).map_err(|e| {
            bad(format!(
                "not a readable safetensors file ({e}); truncated or another format?"
            ))
        })?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        match meta.get("format").map(String::as_str) {
            Some(FORMAT) => {}
            other => {
                return Err(bad(format!(
                    "metadata `format` is {other:?}, expected \"{FORMAT}\" (a model checkpoint or another safetensors file?)"
                )))
            }
        }
        if meta.get("format_version").map(String::as_str) != Some(FORMAT_VERSION) {
            return Err(bad(format!(
                "format_version {:?} is not supported (expected {FORMAT_VERSION})",
                meta.get("format_version")
            )));
        }
        let json = |key: &str| -> Result<&String> {
            meta.get(key)
                .ok_or_else(|| bad(format!("metadata `{key}` is missing")))
        };
        let config: GraphConfig = serde_json::from_str(json("config")?)
            .map_err(|e| bad(format!("metadata `config`: {e}")))?;
        let grid_meta: GridMeta = serde_json::from_str(json("grid")?)
            .map_err(|e| bad(format!("metadata `grid`: {e}")))?;

        let reader = TensorReader { st: &st, path };
        let glat = reader.f64_vec("grid_latitude", None)?;
        let glon = reader.f64_vec("grid_longitude", None)?;
        let grid = match grid_meta {
            GridMeta::Equiangular { nlat, nlon, poles } => {
                let g = Grid::equiangular(nlat, nlon, poles)
                    .map_err(|e| bad(format!("metadata `grid`: {e}")))?;
                if g.latitudes_deg() != glat || g.longitudes_deg() != glon {
                    return Err(bad(
                        "grid_latitude/grid_longitude do not match the grid in the metadata".into(),
                    ));
                }
                g
            }
            GridMeta::Gaussian { n, octahedral } => {
                let g = if octahedral {
                    Grid::octahedral(n)
                } else {
                    Grid::regular_gaussian(n)
                }
                .map_err(|e| bad(format!("metadata `grid`: {e}")))?;
                let (lat, lon) = (g.latitudes_deg(), g.longitudes_deg());
                let close = |a: &[f64], b: &[f64]| {
                    a.len() == b.len()
                        && a.iter()
                            .zip(b)
                            .all(|(x, y)| (x - y).abs() <= GAUSSIAN_COORD_TOLERANCE_DEG)
                };
                if !close(&lat, &glat) || !close(&lon, &glon) {
                    return Err(bad(format!(
                        "grid_latitude/grid_longitude ({}/{} points) do not match the {} in the metadata ({} points)",
                        glat.len(),
                        glon.len(),
                        g.describe(),
                        g.len()
                    )));
                }
                g
            }
            GridMeta::Points { n } => {
                if glat.len() != n || glon.len() != n {
                    return Err(bad(format!(
                        "grid_latitude/grid_longitude have {}/{} points, metadata says {n}",
                        glat.len(),
                        glon.len()
                    )));
                }
                let pts: Vec<(f64, f64)> = glat.iter().copied().zip(glon.iter().copied()).collect();
                Grid::points(&pts).map_err(|e| bad(e.to_string()))?
            }
        };
        let mlat = reader.f64_vec("mesh_latitude", None)?;
        let n_mesh = mlat.len();
        let mlon = reader.f64_vec("mesh_longitude", Some(n_mesh))?;
        let (mesh_features, mesh_feature_dim) = reader.f32_matrix("mesh_features", Some(n_mesh))?;
        let n_grid = grid.len();
        let encoder = reader.edge_set("encoder", n_grid, n_mesh)?;
        let mesh = reader.edge_set("mesh", n_mesh, n_mesh)?;
        let decoder = reader.edge_set("decoder", n_mesh, n_grid)?;
        Ok(Graph {
            grid,
            config,
            mesh_lat_lon: mlat.into_iter().zip(mlon).collect(),
            mesh_features,
            mesh_feature_dim,
            encoder,
            mesh,
            decoder,
        })
    }
}

/// Typed access to the tensors of a safetensors file, with errors that name
/// the file, the tensor and what was expected. Reused for model checkpoints,
/// which carry the same graph buffers.
pub struct TensorReader<'a, 'data> {
    pub st: &'a SafeTensors<'data>,
    pub path: &'a Path,
}

impl TensorReader<'_, '_> {
    fn bad(&self, reason: String) -> MeshError {
        MeshError::NotAGraph {
            path: self.path.to_path_buf(),
            reason,
        }
    }

    fn view(&self, name: &str, dtype: Dtype, ndim: usize) -> Result<(Vec<usize>, &[u8])> {
        let v = self
            .st
            .tensor(name)
            .map_err(|_| self.bad(format!("missing tensor `{name}`")))?;
        if v.dtype() != dtype || v.shape().len() != ndim {
            return Err(self.bad(format!(
                "tensor `{name}` is {:?} {:?}, expected {dtype:?} with {ndim} dimension(s)",
                v.dtype(),
                v.shape()
            )));
        }
        Ok((v.shape().to_vec(), v.data()))
    }

    fn check_rows(&self, name: &str, rows: usize, want: Option<usize>) -> Result<()> {
        match want {
            Some(n) if n != rows => {
                Err(self.bad(format!("tensor `{name}` has {rows} rows, expected {n}")))
            }
            _ => Ok(()),
        }
    }

    /// A 1-D F64 tensor, optionally of a required length.
    pub fn f64_vec(&self, name: &str, len: Option<usize>) -> Result<Vec<f64>> {
        let (shape, data) = self.view(name, Dtype::F64, 1)?;
        self.check_rows(name, shape[0], len)?;
        Ok(data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }

    /// A 2-D F32 tensor `[rows, cols]`, row-major, and its column count.
    pub fn f32_matrix(&self, name: &str, rows: Option<usize>) -> Result<(Vec<f32>, usize)> {
        let (shape, data) = self.view(name, Dtype::F32, 2)?;
        self.check_rows(name, shape[0], rows)?;
        Ok((
            data.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
            shape[1],
        ))
    }

    /// `{prefix}_edge_index.0` (`[E, 2]` I64, source < `n_source`, target <
    /// `n_target`) and `{prefix}_edge_features.0` (`[E, F]` F32).
    pub fn edge_set(&self, prefix: &str, n_source: usize, n_target: usize) -> Result<EdgeSet> {
        let iname = format!("{prefix}_edge_index.0");
        let (shape, data) = self.view(&iname, Dtype::I64, 2)?;
        if shape[1] != 2 {
            return Err(self.bad(format!(
                "tensor `{iname}` has shape {shape:?}, expected [E, 2] (source, target)"
            )));
        }
        let raw: Vec<i64> = data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        let mut index = Vec::with_capacity(shape[0]);
        for (e, pair) in raw.chunks_exact(2).enumerate() {
            let (s, r) = (pair[0], pair[1]);
            if s < 0 || s as usize >= n_source || r < 0 || r as usize >= n_target {
                return Err(self.bad(format!(
                    "tensor `{iname}` edge {e} is ({s}, {r}), expected source < {n_source} and target < {n_target}"
                )));
            }
            index.push((s as u32, r as u32));
        }
        let fname = format!("{prefix}_edge_features.0");
        let (features, feature_dim) = self.f32_matrix(&fname, Some(index.len()))?;
        Ok(EdgeSet {
            index,
            features,
            feature_dim,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Graph {
        Graph::build(
            &Grid::from_spec("latlon-nopoles:16x32").unwrap(),
            &GraphConfig::fastnet(1),
        )
        .unwrap()
    }

    #[test]
    fn save_load_round_trip_is_exact_and_deterministic() {
        let g = small();
        let a = g.to_bytes();
        let b = small().to_bytes();
        assert_eq!(a, b, "the same graph gives the same bytes");
        let back = Graph::from_bytes(&a, Path::new("mem")).unwrap();
        assert_eq!(back, g);
        assert_eq!(back.content_hash(), g.content_hash());
        // the file is readable by the reference safetensors parser, with the reference names
        let st = SafeTensors::deserialize(&a).unwrap();
        let v = st.tensor("decoder_edge_index.0").unwrap();
        assert_eq!(
            (v.dtype(), v.shape().to_vec()),
            (Dtype::I64, vec![3 * 16 * 32, 2])
        );
    }

    #[test]
    fn gaussian_grid_round_trip() {
        for grid in [
            Grid::octahedral(8).unwrap(),
            Grid::regular_gaussian(4).unwrap(),
        ] {
            let g = Graph::build(&grid, &GraphConfig::fastnet(1)).unwrap();
            let bytes = g.to_bytes();
            let back = Graph::from_bytes(&bytes, Path::new("mem")).unwrap();
            assert_eq!(back, g);
            assert_eq!(back.grid, grid);
            assert_eq!(back.content_hash(), g.content_hash());
            // per-point coordinates are stored
            let st = SafeTensors::deserialize(&bytes).unwrap();
            let lat = st.tensor("grid_latitude").unwrap();
            assert_eq!(lat.shape().to_vec(), vec![grid.len()]);
        }
        // coordinates that do not belong to the grid in the metadata
        let g = Graph::build(&Grid::octahedral(4).unwrap(), &GraphConfig::fastnet(0)).unwrap();
        let (mut t, m) = g.tensors_and_metadata();
        let lat = t.iter_mut().find(|t| t.name == "grid_latitude").unwrap();
        lat.data[..8].copy_from_slice(&45.0f64.to_le_bytes());
        let e = Graph::from_bytes(&to_safetensors_bytes(&t, &m), Path::new("g.st"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("g.st") && e.contains("O4"), "{e}");
    }

    #[test]
    fn point_grid_round_trip() {
        let grid = Grid::points(&[(51.5, -0.1), (-33.9, 151.2), (0.0, 0.0)]).unwrap();
        let g = Graph::build(&grid, &GraphConfig::graphcast(2)).unwrap();
        let back = Graph::from_bytes(&g.to_bytes(), Path::new("mem")).unwrap();
        assert_eq!(back, g);
    }

    #[test]
    fn things_that_are_not_graphs_are_refused_clearly() {
        let g = small();
        let bytes = g.to_bytes();
        let p = Path::new("g.safetensors");
        let err = |b: &[u8]| Graph::from_bytes(b, p).unwrap_err().to_string();
        // truncated
        let e = err(&bytes[..bytes.len() - 10]);
        assert!(
            e.contains("g.safetensors") && e.contains("truncated"),
            "{e}"
        );
        // not safetensors at all
        let e = err(b"CDF\x01 this is a netcdf file");
        assert!(e.contains("not a graph file"), "{e}");
        // safetensors without our metadata (e.g. a checkpoint)
        let other =
            to_safetensors_bytes(&[TensorBytes::f32("w", vec![1], &[1.0])], &BTreeMap::new());
        let e = err(&other);
        assert!(e.contains("format") && e.contains(FORMAT), "{e}");
        // a missing tensor
        let (mut t, mut m) = g.tensors_and_metadata();
        t.retain(|t| t.name != "mesh_edge_features.0");
        m.insert("content_sha256".into(), "x".into());
        let e = err(&to_safetensors_bytes(&t, &m));
        assert!(e.contains("missing tensor `mesh_edge_features.0`"), "{e}");
        // an index out of range
        let (mut t, m) = g.tensors_and_metadata();
        let idx = t
            .iter_mut()
            .find(|t| t.name == "decoder_edge_index.0")
            .unwrap();
        idx.data[..8].copy_from_slice(&(1_000_000i64).to_le_bytes());
        let e = err(&to_safetensors_bytes(&t, &m));
        assert!(
            e.contains("decoder_edge_index.0") && e.contains("source <"),
            "{e}"
        );
        // missing file
        assert!(matches!(
            Graph::load(Path::new("/nonexistent/g.safetensors")),
            Err(MeshError::Io { .. })
        ));
    }
}
