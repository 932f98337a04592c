//! The FastNet network (DESIGN.md §3): encoder (grid -> mesh), processor
//! (mesh -> mesh, residual edges), decoder (mesh -> grid) and the residual
//! increment, with the reference model's parameter and buffer names.

pub mod interaction;
pub mod mlp;

use anyhow::{bail, Context, Result};
use fastnet_mesh::Graph;
use serde::{Deserialize, Serialize};
use tch::nn;
use tch::{Kind, Tensor};

use interaction::{Edges, InteractionNetwork};
use mlp::Mlp;

/// Network dimensions. Defaults: FastNet-global v1.1 (hidden 768, 16
/// processor layers, 12 non-forecast + 72 forecast channels).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Latent width of every MLP.
    pub hidden: i64,
    /// Number of processor InteractionNetworks.
    pub processor_layers: i64,
    /// Channels the network predicts (the last `forecast_channels` of the
    /// grid features).
    pub forecast_channels: i64,
    /// Input-only channels (forcings, statics), first in the grid features.
    pub nonforecast_channels: i64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            hidden: 768,
            processor_layers: 16,
            forecast_channels: 72,
            nonforecast_channels: 12,
        }
    }
}

impl ModelConfig {
    /// Grid feature width `[non-forecast, forecast]`.
    pub fn grid_channels(&self) -> i64 {
        self.forecast_channels + self.nonforecast_channels
    }

    pub fn validate(&self) -> crate::error::Result<()> {
        for (name, v, min) in [
            ("model.hidden", self.hidden, 1),
            ("model.processor_layers", self.processor_layers, 0),
            ("model.forecast_channels", self.forecast_channels, 1),
            ("model.nonforecast_channels", self.nonforecast_channels, 0),
        ] {
            if v < min {
                return Err(crate::error::FastnetError::bad_config(
                    name,
                    v,
                    format!("at least {min}"),
                ));
            }
        }
        Ok(())
    }
}

/// Arithmetic of the network's Linear layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32.
    #[default]
    F32,
    /// Mixed precision, autocast's policy: matmuls in bfloat16 (tensor
    /// cores on CUDA), everything else — bias, activations, LayerNorm,
    /// aggregation, residual, loss, master weights, optimiser — in f32.
    /// Meant for GPUs; CPUs without bf16 units run it slower than f32.
    Bf16,
}

impl Precision {
    fn compute_kind(self) -> Option<Kind> {
        match self {
            Precision::F32 => None,
            Precision::Bf16 => Some(Kind::BFloat16),
        }
    }
}

/// Graph buffer names, stored with the weights.
pub const GRAPHS: [&str; 3] = ["encoder", "mesh", "decoder"];

/// The graph a model runs on, as the tensors stored with its weights:
/// `mesh_features [N_mesh, F]` and, for encoder, mesh and decoder,
/// `(edge_index [E, 2] int64 (source, target), edge_features [E, F_e])`.
pub struct GraphBuffers {
    pub mesh_features: Tensor,
    pub edges: [(Tensor, Tensor); 3],
    /// Grid points (decoder targets).
    pub num_grid: i64,
}

impl GraphBuffers {
    /// From a graph built (or loaded) by the mesh crate.
    pub fn from_graph(graph: &Graph) -> GraphBuffers {
        let n_mesh = graph.mesh_nodes() as i64;
        let set = |s: &fastnet_mesh::EdgeSet| {
            let index: Vec<i64> = s
                .index
                .iter()
                .flat_map(|&(a, b)| [a as i64, b as i64])
                .collect();
            (
                Tensor::from_slice(&index).view([s.len() as i64, 2]),
                Tensor::from_slice(&s.features).view([s.len() as i64, s.feature_dim as i64]),
            )
        };
        GraphBuffers {
            mesh_features: Tensor::from_slice(&graph.mesh_features)
                .view([n_mesh, graph.mesh_feature_dim as i64]),
            edges: [set(&graph.encoder), set(&graph.mesh), set(&graph.decoder)],
            num_grid: graph.grid.len() as i64,
        }
    }

    /// From named tensors (a checkpoint or a converted reference state
    /// dict) for a grid of `num_grid` points.
    pub fn from_tensors(
        tensors: &std::collections::HashMap<String, Tensor>,
        num_grid: i64,
    ) -> Result<GraphBuffers> {
        let get = |name: &str| {
            tensors
                .get(name)
                .map(|t| t.shallow_clone())
                .with_context(|| format!("missing graph buffer `{name}`"))
        };
        let pair = |g: &str| -> Result<(Tensor, Tensor)> {
            Ok((
                get(&format!("{g}_edge_index.0"))?.to_kind(Kind::Int64),
                get(&format!("{g}_edge_features.0"))?,
            ))
        };
        Ok(GraphBuffers {
            mesh_features: get("mesh_features")?,
            edges: [pair("encoder")?, pair("mesh")?, pair("decoder")?],
            num_grid,
        })
    }
}

/// The FastNet model.
pub struct FastNet {
    pub config: ModelConfig,
    grid2mesh: InteractionNetwork,
    mesh_edge_embedder: Mlp,
    processor: Vec<InteractionNetwork>,
    decoder: InteractionNetwork,
    out_mlp: Mlp,
    mesh_features: Tensor,
    encoder_edges: Edges,
    mesh_edges: Edges,
    decoder_edges: Edges,
    num_grid: i64,
}

/// Registers a non-trainable buffer; `name` may contain dots
/// (`encoder_edge_index.0`), which become path segments.
fn buffer(path: &nn::Path, name: &str, t: Tensor) -> Tensor {
    match name.split_once('.') {
        Some((head, rest)) => buffer(&path.sub(head), rest, t),
        None => path.add(name, t, false),
    }
}

impl FastNet {
    /// Builds the network in `vs` for `graph` (its buffers are registered
    /// under the reference names, non-trainable).
    pub fn new(vs: &nn::Path, config: &ModelConfig, graph: &GraphBuffers) -> Result<FastNet> {
        config.validate()?;
        let device = vs.device();
        let kind = Kind::Float;
        let n_mesh = graph.mesh_features.size()[0];
        let n_grid = graph.num_grid;
        let mesh_features = buffer(
            vs,
            "mesh_features",
            graph.mesh_features.to_kind(kind).to_device(device),
        );
        let mut edges = Vec::new();
        for ((name, (index, feats)), n_targets) in GRAPHS
            .iter()
            .zip(&graph.edges)
            .zip([n_mesh, n_mesh, n_grid])
        {
            let index = buffer(vs, &format!("{name}_edge_index.0"), index.to_device(device));
            let feats = buffer(
                vs,
                &format!("{name}_edge_features.0"),
                feats.to_kind(kind).to_device(device),
            );
            edges.push(Edges::new(&index, &feats, n_targets, kind));
        }
        let decoder_edges = edges.pop().context("three graphs")?;
        let mesh_edges = edges.pop().context("three graphs")?;
        let encoder_edges = edges.pop().context("three graphs")?;
        let h = config.hidden;
        let grid_dim = config.grid_channels();
        let node_dim = graph.mesh_features.size()[1];
        let edge_dim = |e: &Edges| e.features.size()[2];
        let grid2mesh = InteractionNetwork::new(
            &(vs / "encoder" / "grid2mesh_net"),
            grid_dim,
            node_dim,
            edge_dim(&encoder_edges),
            h,
        );
        let mesh_edge_embedder = Mlp::new(
            &(vs / "mesh_edge_embedder"),
            edge_dim(&mesh_edges),
            h,
            h,
            true,
        );
        let processor = (0..config.processor_layers)
            .map(|i| {
                InteractionNetwork::new(&(vs / "processor" / "interaction_nets" / i), h, h, h, h)
            })
            .collect();
        let decoder = InteractionNetwork::new(
            &(vs / "decoder" / "interaction_net"),
            h,
            grid_dim,
            edge_dim(&decoder_edges),
            h,
        );
        let out_mlp = Mlp::new(
            &(vs / "decoder" / "out_mlp"),
            h,
            h,
            config.forecast_channels,
            false,
        );
        Ok(FastNet {
            config: config.clone(),
            grid2mesh,
            mesh_edge_embedder,
            processor,
            decoder,
            out_mlp,
            mesh_features: mesh_features.unsqueeze(0),
            encoder_edges,
            mesh_edges,
            decoder_edges,
            num_grid: n_grid,
        })
    }

    /// One 6-hour step.
    ///
    /// * `grid` — `[batch, N_grid, non-forecast + forecast]` normalised
    ///   features, latitude-major points.
    ///
    /// Returns the next normalised forecast state `[batch, N_grid, forecast]`
    /// = input forecast features + predicted increment.
    pub fn forward(&self, grid: &Tensor) -> Result<Tensor> {
        let s = grid.size();
        if s.len() != 3 || s[1] != self.num_grid || s[2] != self.config.grid_channels() {
            bail!(
                "model input has shape {s:?}, expected [batch, {}, {}] (grid points, non-forecast + forecast channels)",
                self.num_grid,
                self.config.grid_channels()
            );
        }
        let (_, mut mesh) = self.grid2mesh.forward(
            grid,
            &self.mesh_features,
            &self.encoder_edges.features,
            &self.encoder_edges,
        );
        let mut e = self.mesh_edge_embedder.forward(&self.mesh_edges.features);
        for layer in &self.processor {
            let (de, new_mesh) = layer.forward(&mesh, &mesh, &e, &self.mesh_edges);
            // not `+=`: the first update broadcasts e from [1, E, H] to [batch, E, H]
            #[allow(clippy::assign_op_pattern)]
            {
                e = e + de;
            }
            mesh = new_mesh;
        }
        let (_, grid_latent) = self.decoder.forward(
            &mesh,
            grid,
            &self.decoder_edges.features,
            &self.decoder_edges,
        );
        let increment = self.out_mlp.forward(&grid_latent);
        let state = grid.narrow(
            2,
            self.config.nonforecast_channels,
            self.config.forecast_channels,
        );
        Ok(state + increment)
    }

    /// Sets the arithmetic of every Linear layer (see [`Precision`]).
    pub fn set_precision(&mut self, precision: Precision) {
        let kind = precision.compute_kind();
        let mut mlps = vec![&mut self.mesh_edge_embedder, &mut self.out_mlp];
        for net in std::iter::once(&mut self.grid2mesh)
            .chain(self.processor.iter_mut())
            .chain(std::iter::once(&mut self.decoder))
        {
            mlps.push(&mut net.edge_mlp);
            mlps.push(&mut net.target_mlp);
        }
        for m in mlps {
            m.compute = kind;
        }
    }

    /// Number of trainable parameters.
    pub fn parameters(&self) -> i64 {
        let inet = |n: &InteractionNetwork| n.edge_mlp.parameters() + n.target_mlp.parameters();
        inet(&self.grid2mesh)
            + self.mesh_edge_embedder.parameters()
            + self.processor.iter().map(inet).sum::<i64>()
            + inet(&self.decoder)
            + self.out_mlp.parameters()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastnet_mesh::{GraphConfig, Grid};
    use tch::{nn::VarStore, Device};

    fn small() -> (VarStore, FastNet, Graph) {
        let grid = Grid::from_spec("latlon-nopoles:32x64").unwrap();
        let graph = Graph::build(&grid, &GraphConfig::fastnet(2)).unwrap();
        let vs = VarStore::new(Device::Cpu);
        let cfg = ModelConfig {
            hidden: 16,
            processor_layers: 2,
            forecast_channels: 5,
            nonforecast_channels: 3,
        };
        let model = FastNet::new(&vs.root(), &cfg, &GraphBuffers::from_graph(&graph)).unwrap();
        (vs, model, graph)
    }

    #[test]
    fn shapes_and_reference_parameter_names() {
        tch::manual_seed(0);
        let (vs, model, _) = small();
        let x = Tensor::randn([2, 2048, 8], (Kind::Float, Device::Cpu));
        let y = model.forward(&x).unwrap();
        assert_eq!(y.size(), vec![2, 2048, 5]);
        let names = vs.variables();
        for n in [
            "mesh_features",
            "encoder_edge_index.0",
            "mesh_edge_features.0",
            "decoder_edge_index.0",
            "encoder.grid2mesh_net.edge_mlp.layers.0.weight",
            "encoder.grid2mesh_net.target_mlp.layers.4.bias",
            "mesh_edge_embedder.layers.4.weight",
            "processor.interaction_nets.1.edge_mlp.layers.4.weight",
            "processor.interaction_nets.0.target_mlp.layers.2.bias",
            "decoder.interaction_net.edge_mlp.layers.2.weight",
            "decoder.out_mlp.layers.2.weight",
        ] {
            assert!(names.contains_key(n), "missing {n}");
        }
        assert!(
            !names.contains_key("decoder.out_mlp.layers.4.weight"),
            "out_mlp has no final norm"
        );
        assert!(!names.contains_key("processor.interaction_nets.2.edge_mlp.layers.0.weight"));
        // buffers are not trained
        let trainable: i64 = vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum();
        assert_eq!(trainable, model.parameters());
        assert_eq!(names["encoder_edge_index.0"].kind(), Kind::Int64);
        // the input bad shape is refused
        assert!(model
            .forward(&Tensor::zeros([1, 100, 8], (Kind::Float, Device::Cpu)))
            .is_err());
    }

    #[test]
    fn bf16_matmuls_stay_close_to_f32_and_train_f32_weights() {
        let (vs, mut model, _) = small();
        // weights and input from fixed patterns, not libtorch's global RNG,
        // which the tests running in parallel draw from in any order
        tch::no_grad(|| {
            for (i, w) in vs.trainable_variables().iter_mut().enumerate() {
                let n = w.numel() as i64;
                let pattern = (Tensor::arange(n, (Kind::Float, Device::Cpu)) * 0.61 + i as f64)
                    .sin()
                    .view_as(w);
                w.copy_(&(pattern * 0.3));
            }
        });
        let x = (Tensor::arange(2 * 2048 * 8, (Kind::Float, Device::Cpu)) * 0.013)
            .cos()
            .view([2, 2048, 8]);
        let full = model.forward(&x).unwrap();
        model.set_precision(Precision::Bf16);
        let mixed = model.forward(&x).unwrap();
        assert_eq!(mixed.kind(), Kind::Float);
        // bf16 keeps 8 significant bits (2^-8 ≈ 0.4 %): the result moves, by
        // about that (0.19 % with these weights), not by O(1)
        let rel = f64::try_from((&mixed - &full).norm() / full.norm()).unwrap();
        assert!(rel > 1e-5 && rel < 1e-2, "relative difference {rel}");
        mixed.square().mean(Kind::Float).backward();
        for (name, w) in vs.trainable_variables().iter().enumerate() {
            let g = w.grad();
            assert_eq!((w.kind(), g.kind()), (Kind::Float, Kind::Float), "#{name}");
            assert!(f64::try_from(g.abs().sum(Kind::Double))
                .unwrap()
                .is_finite());
        }
        model.set_precision(Precision::F32);
        let back = model.forward(&x).unwrap();
        assert!(f64::try_from((&back - &full).abs().max()).unwrap() == 0.0);
    }

    #[test]
    fn reference_size_has_about_62_million_parameters() {
        // FastNet-global v1.1: hidden 768, 16 layers, 84 channels, 2-wide
        // mesh node and edge features; ~62 M parameters (DESIGN.md §3).
        let c = ModelConfig::default();
        let (h, g, f, nd, ed) = (c.hidden, c.grid_channels(), c.forecast_channels, 2i64, 2i64);
        let mlp = |i: i64, o: i64, norm: bool| i * h + h + h * o + o + if norm { 2 * o } else { 0 };
        let inet = |s: i64, t: i64, e: i64| mlp(s + e, h, true) + mlp(t + h, h, true);
        let total = inet(g, nd, ed)
            + mlp(ed, h, true)
            + 16 * inet(h, h, h)
            + inet(h, g, ed)
            + mlp(h, f, false);
        assert!((60_000_000..64_000_000).contains(&total), "{total}");
    }

    #[test]
    fn v1_1_sizes_give_the_published_parameter_count() {
        // FastNet-global v1.1 (DESIGN.md §7): O96 (40,320 points), level-5
        // mesh (10,242 nodes, 81,900 edges), 2 encoder and 3 decoder edges
        // per grid point, 2-wide node and edge features. The reference
        // module counts 62,236,488 trainable parameters and 1,154,484
        // buffer values. The edge indices are valid but arbitrary (the count
        // does not depend on them); patterns, not the global RNG.
        let (n_grid, n_mesh) = (40_320i64, 10_242i64);
        let edges = |n: i64, sources: i64, targets: i64| {
            let k = Tensor::arange(n, (Kind::Int64, Device::Cpu));
            let source = k.remainder(sources);
            let target = (&k * 7919i64 + 13i64).remainder(targets);
            let index = Tensor::stack(&[source, target], 1);
            let features = (Tensor::arange(2 * n, (Kind::Float, Device::Cpu)) * 0.37)
                .sin()
                .view([n, 2]);
            (index, features)
        };
        let graph = GraphBuffers {
            mesh_features: (Tensor::arange(2 * n_mesh, (Kind::Float, Device::Cpu)) * 0.11)
                .cos()
                .view([n_mesh, 2]),
            edges: [
                edges(2 * n_grid, n_grid, n_mesh),
                edges(81_900, n_mesh, n_mesh),
                edges(3 * n_grid, n_mesh, n_grid),
            ],
            num_grid: n_grid,
        };
        let sizes: Vec<Vec<i64>> = graph.edges.iter().map(|(i, _)| i.size()).collect();
        assert_eq!(sizes, [[80_640i64, 2], [81_900, 2], [120_960, 2]]);
        let cfg = ModelConfig {
            hidden: 768,
            processor_layers: 16,
            forecast_channels: 72,
            nonforecast_channels: 12,
        };
        assert_eq!(cfg, ModelConfig::default(), "the defaults are v1.1");
        let vs = VarStore::new(Device::Cpu);
        let model = FastNet::new(&vs.root(), &cfg, &graph).unwrap();
        assert_eq!(model.parameters(), 62_236_488);
        let numel = |ts: Vec<Tensor>| ts.iter().map(|t| t.numel() as i64).sum::<i64>();
        let trainable = numel(vs.trainable_variables());
        assert_eq!(trainable, 62_236_488);
        let all = numel(vs.variables().into_values().collect());
        assert_eq!(all - trainable, 1_154_484, "buffer values");
    }
}
