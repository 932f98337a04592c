//! fastnet-inference's files as its `network.py` and `variables.py` lay
//! them out, written from that module structure (not from fastnet's model):
//! the anemoi feature order, the state dict's names and shapes, a state dict
//! with small random weights and the release's graph buffers, and sparse
//! safetensors headers with the exact v1.1 shapes.

use std::io::Write;
use std::path::Path;

use fastnet_data::channels::FASTNET_LEVELS;
use fastnet_mesh::safetensors_io::{to_safetensors_bytes, TensorBytes};
use fastnet_mesh::Graph;

/// fastnet-inference's feature order (its variables.py and stats.json):
/// 72 forecast channels, then the 12 non-forecast ones.
pub(crate) fn anemoi_names() -> (Vec<String>, Vec<String>) {
    let mut f: Vec<String> = ["10u", "10v", "2d", "2t", "msl", "skt", "sp"]
        .map(String::from)
        .to_vec();
    for v in ["z", "q", "t", "u", "v"] {
        f.extend(FASTNET_LEVELS.iter().map(|l| format!("{v}_{l}")));
    }
    let nf = [
        "cos_latitude",
        "cos_longitude",
        "sin_longitude",
        "lsm",
        "orography",
        "sdor",
        "slor",
        "cos_julian_day",
        "cos_local_time",
        "sin_julian_day",
        "sin_local_time",
        "insolation",
    ]
    .map(String::from)
    .to_vec();
    (f, nf)
}

pub(crate) type Shapes = Vec<(String, Vec<usize>)>;

/// network.py's MLP: Sequential(Linear, ReLU, Linear[, ReLU, LayerNorm]).
pub(crate) fn mlp(out: &mut Shapes, h: usize, p: &str, i: usize, o: usize, norm: bool) {
    out.push((format!("{p}.layers.0.weight"), vec![h, i]));
    out.push((format!("{p}.layers.0.bias"), vec![h]));
    out.push((format!("{p}.layers.2.weight"), vec![o, h]));
    out.push((format!("{p}.layers.2.bias"), vec![o]));
    if norm {
        out.push((format!("{p}.layers.4.weight"), vec![o]));
        out.push((format!("{p}.layers.4.bias"), vec![o]));
    }
}

/// network.py's InteractionNetwork: edge_mlp(source + edge), target_mlp(target + hidden).
pub(crate) fn inet(out: &mut Shapes, h: usize, p: &str, src: usize, tgt: usize, e: usize) {
    mlp(out, h, &format!("{p}.edge_mlp"), src + e, h, true);
    mlp(out, h, &format!("{p}.target_mlp"), tgt + h, h, true);
}

/// Shapes of network.py's trainable tensors, written from its module
/// structure (hidden `h`, `c` grid and `f` forecast channels, `node`-wide
/// mesh features, edge feature widths of the encoder, mesh and decoder).
pub(crate) fn reference_shapes(
    h: usize,
    layers: usize,
    c: usize,
    f: usize,
    node: usize,
    edge: [usize; 3],
) -> Shapes {
    let mut out = Vec::new();
    inet(&mut out, h, "encoder.grid2mesh_net", c, node, edge[0]);
    mlp(&mut out, h, "mesh_edge_embedder", edge[1], h, true);
    for i in 0..layers {
        inet(
            &mut out,
            h,
            &format!("processor.interaction_nets.{i}"),
            h,
            h,
            h,
        );
    }
    inet(&mut out, h, "decoder.interaction_net", h, c, edge[2]);
    mlp(&mut out, h, "decoder.out_mlp", h, f, false);
    out
}

/// splitmix64: uniform values in [-1, 1), deterministic.
pub(crate) struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// The graph buffers as fastnet-inference ships them: 2-wide node and edge
/// features (the first two of ours), int64 (source, target) indices.
pub(crate) struct Buffers {
    pub mesh_nodes: usize,
    pub mesh_features: Vec<f32>,
    pub index: [Vec<i64>; 3],
    pub features: [Vec<f32>; 3],
}

pub(crate) fn buffers(graph: &Graph) -> Buffers {
    let take2 =
        |v: &[f32], dim: usize| -> Vec<f32> { v.chunks(dim).flat_map(|r| [r[0], r[1]]).collect() };
    let sets = [&graph.encoder, &graph.mesh, &graph.decoder];
    Buffers {
        mesh_nodes: graph.mesh_nodes(),
        mesh_features: take2(&graph.mesh_features, graph.mesh_feature_dim),
        index: sets.map(|s| {
            s.index
                .iter()
                .flat_map(|&(a, b)| [a as i64, b as i64])
                .collect()
        }),
        features: sets.map(|s| take2(&s.features, s.feature_dim)),
    }
}

/// A reference state dict: random weights (PyTorch's Linear init range,
/// LayerNorms moved off 1 and 0) under network.py's names, and the buffers.
pub(crate) fn write_weights(path: &Path, b: &Buffers, hidden: usize, layers: usize) {
    let mut rng = Rng(7);
    let mut t = Vec::new();
    for (name, shape) in reference_shapes(hidden, layers, 84, 72, 2, [2, 2, 2]) {
        let n: usize = shape.iter().product();
        let layer_norm = name.contains("layers.4");
        let fan_in = if shape.len() == 2 { shape[1] } else { hidden };
        let bound = if layer_norm {
            0.2
        } else {
            1.0 / (fan_in as f32).sqrt()
        };
        let offset = if layer_norm && name.ends_with("weight") {
            1.0
        } else {
            0.0
        };
        let v: Vec<f32> = (0..n).map(|_| offset + bound * rng.next()).collect();
        t.push(TensorBytes::f32(&name, shape, &v));
    }
    t.push(TensorBytes::f32(
        "mesh_features",
        vec![b.mesh_nodes, 2],
        &b.mesh_features,
    ));
    for (k, g) in ["encoder", "mesh", "decoder"].iter().enumerate() {
        let e = b.index[k].len() / 2;
        t.push(TensorBytes::i64(
            &format!("{g}_edge_index.0"),
            vec![e, 2],
            b.index[k].iter().copied(),
        ));
        t.push(TensorBytes::f32(
            &format!("{g}_edge_features.0"),
            vec![e, 2],
            &b.features[k],
        ));
    }
    std::fs::write(path, to_safetensors_bytes(&t, &Default::default())).unwrap();
}

/// Writes a safetensors file whose header describes `tensors` and whose data
/// section is a hole (a sparse file: no disk space, zeros if read).
pub(crate) fn sparse_safetensors(path: &Path, tensors: &[(String, &str, Vec<usize>)]) {
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, dtype, shape) in tensors {
        let size = if *dtype == "I64" { 8 } else { 4 };
        let end = offset + size * shape.iter().product::<usize>();
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut text = serde_json::to_vec(&header).unwrap();
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&(text.len() as u64).to_le_bytes()).unwrap();
    f.write_all(&text).unwrap();
    f.set_len((8 + text.len() + offset) as u64).unwrap();
}

pub(crate) fn v1_1_tensors(decoder_edges: usize) -> Vec<(String, &'static str, Vec<usize>)> {
    let mut t: Vec<(String, &str, Vec<usize>)> = reference_shapes(768, 16, 84, 72, 2, [2, 2, 2])
        .into_iter()
        .map(|(n, s)| (n, "F32", s))
        .collect();
    t.push(("mesh_features".into(), "F32", vec![10_242, 2]));
    for (g, e) in [
        ("encoder", 80_640),
        ("mesh", 81_900),
        ("decoder", decoder_edges),
    ] {
        t.push((format!("{g}_edge_index.0"), "I64", vec![e, 2]));
        t.push((format!("{g}_edge_features.0"), "F32", vec![e, 2]));
    }
    t
}
