//! FastNet's MLP: `Linear -> ReLU -> Linear [-> ReLU -> LayerNorm]`, with
//! parameter names of a sequential container (`layers.0`, `layers.2`,
//! `layers.4`) so reference state dicts load unchanged.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// One input block of an MLP whose first layer acts on a concatenation.
pub enum Part<'a> {
    /// Features per row: `[batch, rows, dim]` (or `[1, rows, dim]`, broadcast).
    Dense(&'a Tensor),
    /// Node features `[batch, nodes, dim]` gathered per row by `index` `[rows]`.
    Gathered(&'a Tensor, &'a Tensor),
}

#[derive(Debug)]
pub struct Mlp {
    first: nn::Linear,
    second: nn::Linear,
    norm: Option<nn::LayerNorm>,
    in_dim: i64,
    /// Kind the Linear layers compute in (`None`: the parameters' own,
    /// f32). Mixed precision as autocast does it: inputs and weights are
    /// cast for the matmul, its result comes back as f32, so bias,
    /// activations, LayerNorm, aggregation and the gradients of the
    /// (f32 master) weights stay in f32.
    pub compute: Option<Kind>,
}

/// `x @ w^T` in `compute` precision, returned as f32.
fn matmul_t(x: &Tensor, w: &Tensor, compute: Option<Kind>) -> Tensor {
    match compute {
        None => x.matmul(&w.tr()),
        Some(k) => x.to_kind(k).matmul(&w.to_kind(k).tr()).to_kind(Kind::Float),
    }
}

impl Mlp {
    /// `MLP(in, hidden, out, final_norm)` under `path` (`path.layers.{0,2,4}`).
    pub fn new(path: &nn::Path, in_dim: i64, hidden: i64, out_dim: i64, final_norm: bool) -> Mlp {
        let layers = path / "layers";
        Mlp {
            first: nn::linear(&layers / "0", in_dim, hidden, Default::default()),
            second: nn::linear(&layers / "2", hidden, out_dim, Default::default()),
            norm: final_norm
                .then(|| nn::layer_norm(&layers / "4", vec![out_dim], Default::default())),
            in_dim,
            compute: None,
        }
    }

    fn linear(&self, layer: &nn::Linear, x: &Tensor) -> Tensor {
        if self.compute.is_none() {
            return layer.forward(x);
        }
        let y = matmul_t(x, &layer.ws, self.compute);
        match &layer.bs {
            Some(b) => y + b,
            None => y,
        }
    }

    fn tail(&self, h: Tensor) -> Tensor {
        let y = self.linear(&self.second, &h.relu());
        match &self.norm {
            Some(n) => n.forward(&y.relu()),
            None => y,
        }
    }

    /// `x` — `[..., in_dim]`; returns `[..., out_dim]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.tail(self.linear(&self.first, x))
    }

    /// The MLP applied to the concatenation of `parts` along the feature
    /// axis, without building it: the first Linear is split by input
    /// columns, gathered parts are projected per node and then gathered per
    /// row (the same result, far fewer FLOPs when rows outnumber nodes).
    /// Returns `[batch, rows, out_dim]`.
    pub fn forward_concat(&self, parts: &[Part]) -> Tensor {
        let w = &self.first.ws; // [hidden, in_dim]
        let mut offset = 0;
        let mut h: Option<Tensor> = None;
        for part in parts {
            let (x, index) = match part {
                Part::Dense(x) => (*x, None),
                Part::Gathered(x, i) => (*x, Some(*i)),
            };
            let d = x.size().last().copied().unwrap_or(0);
            let proj = matmul_t(x, &w.narrow(1, offset, d), self.compute);
            let proj = match index {
                Some(i) => proj.index_select(-2, i),
                None => proj,
            };
            h = Some(match h {
                None => proj,
                Some(acc) => acc + proj,
            });
            offset += d;
        }
        assert_eq!(
            offset, self.in_dim,
            "concatenated parts have {offset} features, the MLP takes {}",
            self.in_dim
        );
        let mut h = h.expect("at least one part");
        if let Some(b) = &self.first.bs {
            h += b;
        }
        self.tail(h)
    }

    /// Number of scalar parameters.
    pub fn parameters(&self) -> i64 {
        let mut n = self.first.ws.numel() + self.second.ws.numel();
        for b in [&self.first.bs, &self.second.bs].into_iter().flatten() {
            n += b.numel();
        }
        if let Some(norm) = &self.norm {
            n += norm.ws.as_ref().map_or(0, |w| w.numel())
                + norm.bs.as_ref().map_or(0, |b| b.numel());
        }
        n as i64
    }
}
