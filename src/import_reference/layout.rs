//! The released network's tensors: the safetensors header, the module
//! layout of fastnet-inference's `network.py` (every name and shape for
//! given widths), the widths inferred from the shapes, and the checks that
//! the graph buffers fit the grid.
//!
//! `network.py` (MetOffice/fastnet-inference) names its tensors after its
//! modules, exactly as ours ([`crate::model`], DESIGN.md §3):
//!
//! | tensor | shape |
//! |---|---|
//! | `mesh_features` | `[N_mesh, F_node]` |
//! | `{g}_edge_index.0` | `[E_g, 2]` int64 (source, target), g = encoder, mesh, decoder |
//! | `{g}_edge_features.0` | `[E_g, F_g]` |
//! | `encoder.grid2mesh_net.{edge,target}_mlp.layers.{0,2,4}.{weight,bias}` | InteractionNetwork(C, F_node, F_encoder, H) |
//! | `mesh_edge_embedder.layers.{0,2,4}.*` | MLP(F_mesh, H, H) |
//! | `processor.interaction_nets.{i}.*` | InteractionNetwork(H, H, H, H), i < L |
//! | `decoder.interaction_net.*` | InteractionNetwork(H, C, F_decoder, H) |
//! | `decoder.out_mlp.layers.{0,2}.*` | MLP(H, H, F, no final norm) |
//!
//! with `C` grid channels (non-forecast + forecast), `F` forecast channels,
//! hidden width `H` and `L` processor layers. FastNet-global v1.1: H = 768,
//! L = 16, C = 84, F = 72, 2-wide node and edge features, level-5 mesh
//! (10,242 nodes, 81,900 edges), 80,640 encoder and 120,960 decoder edges on
//! O96 (40,320 points): 62,236,488 parameters and 1,154,484 buffer values.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use fastnet_mesh::Grid;
use serde::Serialize;

use super::ImportError;
use crate::model::{ModelConfig, GRAPHS};

/// Dtypes accepted for weights and edge / node features (converted to f32).
pub const FLOAT_DTYPES: [&str; 4] = ["F32", "F64", "F16", "BF16"];
/// Dtypes accepted for edge indices (converted to int64).
pub const INDEX_DTYPES: [&str; 2] = ["I64", "I32"];

/// One tensor of a safetensors file as its header describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TensorInfo {
    pub name: String,
    /// safetensors dtype: `F32`, `I64`, ...
    pub dtype: String,
    pub shape: Vec<i64>,
}

fn element_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "I8" | "U8" | "BOOL" => 1,
        _ => return None,
    })
}

/// Reads the header of a safetensors file — names, dtypes and shapes, not
/// the data — and checks that every tensor's byte range matches its shape
/// and lies inside the file. Returns the tensors sorted by name.
pub fn read_header(path: &Path) -> Result<Vec<TensorInfo>, ImportError> {
    let bad = |reason: String| ImportError::BadSafetensors {
        path: path.to_path_buf(),
        reason,
    };
    let io = |e: std::io::Error| ImportError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let file_len = f.metadata().map_err(io)?.len();
    let mut len = [0u8; 8];
    f.read_exact(&mut len)
        .map_err(|_| bad("shorter than the 8-byte header length".into()))?;
    let n = u64::from_le_bytes(len);
    if n > 100 << 20 || 8 + n > file_len {
        return Err(bad(format!(
            "header length {n} does not fit a {file_len}-byte file (not safetensors?)"
        )));
    }
    let mut text = vec![0u8; n as usize];
    f.read_exact(&mut text).map_err(io)?;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&text)
        .map_err(|e| bad(format!("header is not a JSON object: {e}")))?;
    let data_len = file_len - 8 - n;
    let mut out = Vec::new();
    for (name, info) in &header {
        if name == "__metadata__" {
            continue;
        }
        let dtype = info["dtype"]
            .as_str()
            .ok_or_else(|| bad(format!("`{name}` has no dtype")))?
            .to_string();
        let size = element_size(&dtype)
            .ok_or_else(|| bad(format!("`{name}` has unknown dtype {dtype}")))?;
        let shape: Vec<u64> = info["shape"]
            .as_array()
            .and_then(|a| a.iter().map(|d| d.as_u64()).collect())
            .ok_or_else(|| bad(format!("`{name}` has no shape")))?;
        let offsets: Vec<u64> = info["data_offsets"]
            .as_array()
            .and_then(|a| a.iter().map(|d| d.as_u64()).collect())
            .filter(|o: &Vec<u64>| o.len() == 2)
            .ok_or_else(|| bad(format!("`{name}` has no data_offsets")))?;
        let bytes = shape
            .iter()
            .try_fold(size, |a, &d| a.checked_mul(d))
            .ok_or_else(|| bad(format!("`{name}`: shape {shape:?} is too large")))?;
        if offsets[1] < offsets[0] || offsets[1] - offsets[0] != bytes {
            return Err(bad(format!(
                "`{name}`: {} bytes for shape {shape:?} of {dtype}",
                offsets[1].saturating_sub(offsets[0])
            )));
        }
        if offsets[1] > data_len {
            return Err(bad(format!(
                "`{name}` ends at byte {} of a {data_len}-byte data section (truncated file?)",
                offsets[1]
            )));
        }
        out.push(TensorInfo {
            name: name.clone(),
            dtype,
            shape: shape.iter().map(|&d| d as i64).collect(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Sizes of the graph buffers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GraphDims {
    pub mesh_nodes: i64,
    /// Width of `mesh_features`.
    pub node_features: i64,
    /// Edges of the encoder, mesh and decoder graphs.
    pub edges: [i64; 3],
    /// Widths of their edge features.
    pub edge_features: [i64; 3],
}

impl GraphDims {
    /// Buffer values: `N_mesh F_node + Σ_g E_g (2 + F_g)`.
    pub fn values(&self) -> i64 {
        self.mesh_nodes * self.node_features
            + self
                .edges
                .iter()
                .zip(&self.edge_features)
                .map(|(e, f)| e * (2 + f))
                .sum::<i64>()
    }
}

fn mlp(out: &mut BTreeMap<String, Vec<i64>>, p: &str, i: i64, h: i64, o: i64, norm: bool) {
    out.insert(format!("{p}.layers.0.weight"), vec![h, i]);
    out.insert(format!("{p}.layers.0.bias"), vec![h]);
    out.insert(format!("{p}.layers.2.weight"), vec![o, h]);
    out.insert(format!("{p}.layers.2.bias"), vec![o]);
    if norm {
        out.insert(format!("{p}.layers.4.weight"), vec![o]);
        out.insert(format!("{p}.layers.4.bias"), vec![o]);
    }
}

fn interaction(out: &mut BTreeMap<String, Vec<i64>>, p: &str, s: i64, t: i64, e: i64, h: i64) {
    mlp(out, &format!("{p}.edge_mlp"), s + e, h, h, true);
    mlp(out, &format!("{p}.target_mlp"), t + h, h, h, true);
}

/// The trainable tensors of `network.py`'s FastNet (name → shape) for the
/// widths of `model` and the graph `dims` (see the module doc).
pub fn expected_parameters(model: &ModelConfig, dims: &GraphDims) -> BTreeMap<String, Vec<i64>> {
    let (h, c, f) = (model.hidden, model.grid_channels(), model.forecast_channels);
    let [fe_enc, fe_mesh, fe_dec] = dims.edge_features;
    let mut out = BTreeMap::new();
    interaction(
        &mut out,
        "encoder.grid2mesh_net",
        c,
        dims.node_features,
        fe_enc,
        h,
    );
    mlp(&mut out, "mesh_edge_embedder", fe_mesh, h, h, true);
    for i in 0..model.processor_layers {
        interaction(
            &mut out,
            &format!("processor.interaction_nets.{i}"),
            h,
            h,
            h,
            h,
        );
    }
    interaction(&mut out, "decoder.interaction_net", h, c, fe_dec, h);
    mlp(&mut out, "decoder.out_mlp", h, h, f, false);
    out
}

/// The buffers (name → shape) for the graph `dims`.
pub fn expected_buffers(dims: &GraphDims) -> BTreeMap<String, Vec<i64>> {
    let mut out = BTreeMap::new();
    out.insert(
        "mesh_features".to_string(),
        vec![dims.mesh_nodes, dims.node_features],
    );
    for (k, g) in GRAPHS.iter().enumerate() {
        out.insert(format!("{g}_edge_index.0"), vec![dims.edges[k], 2]);
        out.insert(
            format!("{g}_edge_features.0"),
            vec![dims.edges[k], dims.edge_features[k]],
        );
    }
    out
}

/// What the weights file holds, inferred from its header.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReferenceLayout {
    /// Widths and channel counts (`nonforecast_channels` = C − F).
    pub model: ModelConfig,
    pub graph: GraphDims,
    /// Trainable values.
    pub parameters: i64,
    /// Graph buffer values.
    pub buffer_values: i64,
}

/// Infers the widths from the shapes (H from `mesh_edge_embedder.layers.0`,
/// L from the processor's indices, C from the encoder's first Linear, F
/// from `decoder.out_mlp.layers.2`) and checks every tensor against
/// [`expected_parameters`] and [`expected_buffers`]: none missing, none
/// unexpected, shapes and dtypes right.
pub fn infer_layout(tensors: &[TensorInfo], path: &Path) -> Result<ReferenceLayout, ImportError> {
    let by_name: BTreeMap<&str, &TensorInfo> =
        tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    let missing = |name: &str| ImportError::MissingTensor {
        path: path.to_path_buf(),
        name: name.to_string(),
    };
    let shape2 = |name: &str| -> Result<[i64; 2], ImportError> {
        let t = by_name.get(name).ok_or_else(|| missing(name))?;
        match t.shape[..] {
            [a, b] => Ok([a, b]),
            _ => Err(ImportError::BadTensor {
                path: path.to_path_buf(),
                name: name.to_string(),
                found: format!("shape {:?}", t.shape),
                expected: "a matrix".into(),
            }),
        }
    };
    let [mesh_nodes, node_features] = shape2("mesh_features")?;
    let mut edges = [0i64; 3];
    let mut edge_features = [0i64; 3];
    for (k, g) in GRAPHS.iter().enumerate() {
        edges[k] = shape2(&format!("{g}_edge_index.0"))?[0];
        edge_features[k] = shape2(&format!("{g}_edge_features.0"))?[1];
    }
    let graph = GraphDims {
        mesh_nodes,
        node_features,
        edges,
        edge_features,
    };
    let hidden = shape2("mesh_edge_embedder.layers.0.weight")?[0];
    let channels = shape2("encoder.grid2mesh_net.edge_mlp.layers.0.weight")?[1] - edge_features[0];
    let forecast = shape2("decoder.out_mlp.layers.2.weight")?[0];
    let processor_layers = tensors
        .iter()
        .filter_map(|t| t.name.strip_prefix("processor.interaction_nets."))
        .filter_map(|rest| rest.split('.').next()?.parse::<i64>().ok())
        .max()
        .map_or(0, |i| i + 1);
    if channels <= forecast || forecast < 1 {
        return Err(ImportError::BadTensor {
            path: path.to_path_buf(),
            name: "decoder.out_mlp.layers.2.weight".into(),
            found: format!("{forecast} forecast of {channels} grid channels"),
            expected: "fewer forecast channels than grid channels (the rest are non-forecast)"
                .into(),
        });
    }
    let model = ModelConfig {
        hidden,
        processor_layers,
        forecast_channels: forecast,
        nonforecast_channels: channels - forecast,
    };
    let params = expected_parameters(&model, &graph);
    let buffers = expected_buffers(&graph);
    for (name, shape) in params.iter().chain(&buffers) {
        let t = by_name.get(name.as_str()).ok_or_else(|| missing(name))?;
        let (dtypes, what) = if name.contains("_edge_index.") {
            (&INDEX_DTYPES[..], "int64")
        } else {
            (&FLOAT_DTYPES[..], "float")
        };
        if &t.shape != shape || !dtypes.contains(&t.dtype.as_str()) {
            return Err(ImportError::BadTensor {
                path: path.to_path_buf(),
                name: name.clone(),
                found: format!("{} {:?}", t.dtype, t.shape),
                expected: format!(
                    "{what} {shape:?} (hidden {hidden}, {processor_layers} processor layers, {forecast} forecast of {channels} channels)"
                ),
            });
        }
    }
    if let Some(extra) = tensors
        .iter()
        .find(|t| !params.contains_key(&t.name) && !buffers.contains_key(&t.name))
    {
        return Err(ImportError::UnexpectedTensor {
            path: path.to_path_buf(),
            name: extra.name.clone(),
        });
    }
    let numel =
        |m: &BTreeMap<String, Vec<i64>>| m.values().map(|s| s.iter().product::<i64>()).sum();
    Ok(ReferenceLayout {
        model,
        parameters: numel(&params),
        buffer_values: numel(&buffers),
        graph,
    })
}

/// Directed edges of GraphCast's multi-mesh of level `level`: the level-r
/// icosahedron has `30·4^r` undirected edges and no two levels share one,
/// so `2 Σ_{r ≤ level} 30·4^r = 20 (4^{level+1} − 1)` (level 5: 81,900).
pub fn multimesh_edges(level: u32) -> i64 {
    20 * (4i64.pow(level + 1) - 1)
}

/// The refinement level `r` of an icosahedral mesh of `nodes = 10·4^r + 2`
/// vertices, if it is one (10,242 → 5).
pub fn icosahedral_level(nodes: i64) -> Option<u32> {
    (0..=fastnet_mesh::icosahedron::MAX_LEVEL).find(|&r| 10 * 4i64.pow(r) + 2 == nodes)
}

/// How the graph buffers fit the grid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GraphFit {
    pub grid: String,
    pub grid_points: i64,
    /// Encoder edges per grid point (FastNet: 2 nearest mesh nodes).
    pub encoder_per_point: i64,
    /// Decoder edges per grid point (FastNet: 3 nearest mesh nodes).
    pub decoder_per_point: i64,
    /// Icosahedral refinement level of the mesh, when its node and edge
    /// counts are those of GraphCast's multi-mesh.
    pub mesh_level: Option<u32>,
}

/// Checks the buffer sizes against `grid`: the encoder and decoder edge
/// counts must be whole multiples of the grid's points (FastNet's
/// k-nearest rules give exactly k edges per point), and with `mesh_level`
/// given, the mesh must have that level's nodes and multi-mesh edges.
pub fn fit_grid(
    dims: &GraphDims,
    grid: &Grid,
    mesh_level: Option<u32>,
    path: &Path,
) -> Result<GraphFit, ImportError> {
    let g = grid.len() as i64;
    let per_point = |k: usize| -> Result<i64, ImportError> {
        let e = dims.edges[k];
        if g == 0 || e == 0 || e % g != 0 {
            return Err(ImportError::GraphGrid {
                path: path.to_path_buf(),
                buffer: format!("{}_edge_index.0", GRAPHS[k]),
                found: format!("{e} edges"),
                expected: format!(
                    "a whole number of edges per point of {} ({g} points: e.g. {} for 2, {} for 3 per point); a graph for another grid? (--grid)",
                    grid.describe(),
                    2 * g,
                    3 * g
                ),
            });
        }
        Ok(e / g)
    };
    let encoder_per_point = per_point(0)?;
    let decoder_per_point = per_point(2)?;
    let inferred =
        icosahedral_level(dims.mesh_nodes).filter(|&r| multimesh_edges(r) == dims.edges[1]);
    if let Some(want) = mesh_level {
        let nodes = 4i64.checked_pow(want).map_or(i64::MAX, |p| 10 * p + 2);
        if dims.mesh_nodes != nodes || dims.edges[1] != multimesh_edges(want) {
            return Err(ImportError::GraphGrid {
                path: path.to_path_buf(),
                buffer: "mesh_features / mesh_edge_index.0".into(),
                found: format!("{} nodes, {} edges", dims.mesh_nodes, dims.edges[1]),
                expected: format!(
                    "the level-{want} multi-mesh: {nodes} nodes, {} edges (--mesh-level)",
                    multimesh_edges(want)
                ),
            });
        }
    }
    Ok(GraphFit {
        grid: grid.describe(),
        grid_points: g,
        encoder_per_point,
        decoder_per_point,
        mesh_level: inferred,
    })
}

/// Checks the values of one edge index (`[E, 2]` flattened, (source,
/// target) pairs): sources in `0..n_sources`, targets in `0..n_targets`.
/// Returns how many edges leave each source and reach each target.
pub fn check_edge_index(
    path: &Path,
    name: &str,
    flat: &[i64],
    n_sources: i64,
    n_targets: i64,
) -> Result<(Vec<u32>, Vec<u32>), ImportError> {
    let mut out = vec![0u32; n_sources as usize];
    let mut inc = vec![0u32; n_targets as usize];
    for (e, pair) in flat.chunks_exact(2).enumerate() {
        let (s, t) = (pair[0], pair[1]);
        if !(0..n_sources).contains(&s) || !(0..n_targets).contains(&t) {
            return Err(ImportError::GraphGrid {
                path: path.to_path_buf(),
                buffer: name.to_string(),
                found: format!("edge {e} = ({s}, {t})"),
                expected: format!("sources in 0..{n_sources} and targets in 0..{n_targets}"),
            });
        }
        out[s as usize] += 1;
        inc[t as usize] += 1;
    }
    Ok((out, inc))
}

/// Every grid point must have exactly `k` edges in `counts` (encoder:
/// leaving the point; decoder: reaching it).
pub fn check_per_point(
    path: &Path,
    name: &str,
    counts: &[u32],
    k: i64,
    what: &str,
) -> Result<(), ImportError> {
    if let Some((p, &c)) = counts.iter().enumerate().find(|(_, &c)| c as i64 != k) {
        return Err(ImportError::GraphGrid {
            path: path.to_path_buf(),
            buffer: name.to_string(),
            found: format!("grid point {p} {what} {c} edges"),
            expected: format!("{k} for every grid point (edges / points); a graph for another grid or point order?"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
