"""Cross-check of fastnet's network against the plain PyTorch FastNet of
bench_model.py (concatenate-then-Linear, index_add aggregation).

    python torch_reference.py WEIGHTS.safetensors IO.safetensors

WEIGHTS: fastnet weights (a checkpoint's, or any with its names): the
parameters under the reference names and the graph buffers
(`mesh_features`, `{encoder,mesh,decoder}_edge_{index,features}.0`).
IO: `input` [batch, grid, channels] and fastnet's `output` for it.

Loads the parameters into the PyTorch module by name — every parameter it
has must be in the file, and nothing but the graph buffers may be left over —
runs the forward pass, and prints one JSON line: the largest absolute
difference to fastnet's output, the largest absolute output, and the names
that were missing or unexpected.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_model import FastNet, read_safetensors  # noqa: E402

GRAPH_BUFFERS = {"mesh_features"} | {
    f"{g}_edge_{kind}.0" for g in ("encoder", "mesh", "decoder") for kind in ("index", "features")
}


def main():
    weights_path, io_path = sys.argv[1:3]
    w = {k: torch.from_numpy(np.array(v)) for k, v in read_safetensors(weights_path).items()}
    io = {k: torch.from_numpy(np.array(v)) for k, v in read_safetensors(io_path).items()}
    hidden = w["mesh_edge_embedder.layers.0.weight"].shape[0]
    layers = len({k.split(".")[2] for k in w if k.startswith("processor.interaction_nets.")})
    edge_dim = w["encoder_edge_features.0"].shape[1]
    channels = w["encoder.grid2mesh_net.edge_mlp.layers.0.weight"].shape[1] - edge_dim
    forecast = w["decoder.out_mlp.layers.2.weight"].shape[0]
    model = FastNet({k: w[k] for k in GRAPH_BUFFERS}, hidden, layers, channels, forecast)
    params = {k: v for k, v in w.items() if k not in GRAPH_BUFFERS}
    result = model.load_state_dict(params, strict=False)
    with torch.no_grad():
        y = model(io["input"])
    print(json.dumps({
        "max_abs_diff": float((y - io["output"]).abs().max()),
        "max_abs_output": float(io["output"].abs().max()),
        "missing": list(result.missing_keys),
        "unexpected": list(result.unexpected_keys),
        "parameters": sum(p.numel() for p in model.parameters()),
    }))


if __name__ == "__main__":
    main()
