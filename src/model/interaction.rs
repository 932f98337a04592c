//! FastNet's InteractionNetwork: edge update from (source, edge) features,
//! sum aggregation onto targets, target update from (target, aggregate).

use tch::nn;
use tch::{Kind, Tensor};

use super::mlp::{Mlp, Part};

/// Directed edges of one graph on the model's device.
pub struct Edges {
    /// `[E]` int64 source node per edge.
    pub source: Tensor,
    /// `[E]` int64 target node per edge.
    pub target: Tensor,
    /// `[1, E, edge_dim]` raw edge features.
    pub features: Tensor,
    /// `[1, N_target, 1]`: 1 where a target receives at least one edge.
    pub has_incoming: Tensor,
    pub num_targets: i64,
}

impl Edges {
    /// From an `[E, 2]` (source, target) index and `[E, F]` features.
    pub fn new(index: &Tensor, features: &Tensor, num_targets: i64, kind: Kind) -> Edges {
        let device = index.device();
        let target = index.select(1, 1).contiguous();
        let incoming = Tensor::zeros([num_targets], (kind, device)).index_fill(0, &target, 1.0);
        Edges {
            source: index.select(1, 0).contiguous(),
            has_incoming: incoming.view([1, num_targets, 1]),
            features: features.to_kind(kind).unsqueeze(0),
            target,
            num_targets,
        }
    }
}

pub struct InteractionNetwork {
    pub edge_mlp: Mlp,
    pub target_mlp: Mlp,
}

/// Sum-aggregates edge messages onto target nodes.
///
/// * `messages` — `[batch, edges, hidden]`
/// * `targets`  — `[edges]` int64 target-node index
///
/// Returns `[batch, nodes, hidden]`; nodes with no incoming edge are zero.
pub fn aggregate(messages: &Tensor, targets: &Tensor, nodes: i64) -> Tensor {
    let s = messages.size();
    Tensor::zeros([s[0], nodes, s[2]], (messages.kind(), messages.device()))
        .index_add(1, targets, messages)
}

impl InteractionNetwork {
    /// `edge_mlp = MLP(source_dim + edge_dim, hidden, hidden)`,
    /// `target_mlp = MLP(target_dim + hidden, hidden, hidden)`, both with
    /// the final LayerNorm.
    pub fn new(
        path: &nn::Path,
        source_dim: i64,
        target_dim: i64,
        edge_dim: i64,
        hidden: i64,
    ) -> Self {
        InteractionNetwork {
            edge_mlp: Mlp::new(
                &(path / "edge_mlp"),
                source_dim + edge_dim,
                hidden,
                hidden,
                true,
            ),
            target_mlp: Mlp::new(
                &(path / "target_mlp"),
                target_dim + hidden,
                hidden,
                hidden,
                true,
            ),
        }
    }

    /// One round of message passing.
    ///
    /// * `source` — `[batch, N_source, source_dim]`
    /// * `target` — `[batch or 1, N_target, target_dim]`
    /// * `edge_features` — `[batch or 1, E, edge_dim]`
    ///
    /// Returns (edge update `[batch, E, hidden]`, new target features
    /// `[batch, N_target, hidden]`, zero where no edge arrives).
    pub fn forward(
        &self,
        source: &Tensor,
        target: &Tensor,
        edge_features: &Tensor,
        edges: &Edges,
    ) -> (Tensor, Tensor) {
        let edge_update = self.edge_mlp.forward_concat(&[
            Part::Gathered(source, &edges.source),
            Part::Dense(edge_features),
        ]);
        let agg = aggregate(&edge_update, &edges.target, edges.num_targets);
        let batch = agg.size()[0];
        let target = if target.size()[0] == batch {
            target.shallow_clone()
        } else {
            target.expand([batch, -1, -1], false)
        };
        let new_target =
            self.target_mlp.forward(&Tensor::cat(&[target, agg], -1)) * &edges.has_incoming;
        (edge_update, new_target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn::VarStore, Device};

    const OPTS: (Kind, Device) = (Kind::Float, Device::Cpu);

    #[test]
    fn split_linear_equals_the_plain_concatenation() {
        tch::manual_seed(1);
        let vs = VarStore::new(Device::Cpu);
        let mlp = Mlp::new(&vs.root(), 5 + 3, 16, 16, true);
        let nodes = Tensor::randn([2, 10, 5], OPTS);
        let edge_feats = Tensor::randn([1, 25, 3], OPTS);
        let index = Tensor::randint(10, [25], (Kind::Int64, Device::Cpu));
        let split = mlp.forward_concat(&[Part::Gathered(&nodes, &index), Part::Dense(&edge_feats)]);
        let plain = mlp.forward(&Tensor::cat(
            &[
                nodes.index_select(1, &index),
                edge_feats.expand([2, -1, -1], false),
            ],
            -1,
        ));
        let diff = f64::try_from((split - plain).abs().max()).unwrap();
        assert!(diff < 1e-5, "{diff}");
    }

    #[test]
    fn targets_without_incoming_edges_get_zeros_and_messages_are_summed() {
        tch::manual_seed(2);
        let vs = VarStore::new(Device::Cpu);
        let net = InteractionNetwork::new(&vs.root(), 4, 3, 2, 8);
        // 4 sources, 5 targets; targets 1 and 4 receive nothing
        let index = Tensor::from_slice(&[0i64, 0, 1, 2, 2, 3, 3, 2]).view([4, 2]);
        let feats = Tensor::randn([4, 2], OPTS);
        let edges = Edges::new(&index, &feats, 5, Kind::Float);
        let src = Tensor::randn([2, 4, 4], OPTS);
        let tgt = Tensor::randn([1, 5, 3], OPTS);
        let (upd, new_t) = net.forward(&src, &tgt, &edges.features, &edges);
        assert_eq!(upd.size(), vec![2, 4, 8]);
        assert_eq!(new_t.size(), vec![2, 5, 8]);
        for dead in [1i64, 4] {
            assert_eq!(
                f64::try_from(new_t.select(1, dead).abs().sum(Kind::Float)).unwrap(),
                0.0
            );
        }
        // target 2 receives edges 1 and 3: aggregate is their sum
        let agg = aggregate(&upd, &edges.target, 5);
        let want = upd.select(1, 1) + upd.select(1, 3);
        assert!(f64::try_from((agg.select(1, 2) - want).abs().max()).unwrap() < 1e-6);
        assert!(f64::try_from(new_t.select(1, 2).abs().sum(Kind::Float)).unwrap() > 0.0);
    }
}
