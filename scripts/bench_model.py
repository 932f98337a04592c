"""PyTorch reference implementation of the FastNet network, for timing
against fastnet's tch implementation on the same graph and threads.

    python bench_model.py GRAPH.safetensors HIDDEN LAYERS CHANNELS FORECAST THREADS REPS

Reads the graph buffers from fastnet's graph file (safetensors, parsed with
numpy), builds the network the plain way (concatenate, then Linear; sum
aggregation with index_add), and prints one JSON line: median seconds of a
training step (forward + backward + AdamW) and of a no-grad forward, and
peak RSS in MB.
"""
import json
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


class MLP(nn.Module):
    def __init__(self, d_in, hidden, d_out, final_norm=True):
        super().__init__()
        layers = [nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out)]
        if final_norm:
            layers += [nn.ReLU(), nn.LayerNorm(d_out)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


class InteractionNetwork(nn.Module):
    def __init__(self, d_src, d_tgt, d_edge, hidden):
        super().__init__()
        self.edge_mlp = MLP(d_src + d_edge, hidden, hidden)
        self.target_mlp = MLP(d_tgt + hidden, hidden, hidden)

    def forward(self, src, tgt, edge_feat, senders, receivers, n_tgt, has_in):
        b = src.shape[0]
        e = self.edge_mlp(torch.cat([src[:, senders], edge_feat.expand(b, -1, -1)], -1))
        agg = torch.zeros(b, n_tgt, e.shape[-1], dtype=e.dtype).index_add_(1, receivers, e)
        new = self.target_mlp(torch.cat([tgt.expand(b, -1, -1), agg], -1)) * has_in
        return e, new


class FastNet(nn.Module):
    def __init__(self, g, hidden, layers, channels, forecast):
        super().__init__()
        self.g = g
        self.nf = channels - forecast
        nd = g["mesh_features"].shape[1]
        ed = lambda k: g[f"{k}_edge_features.0"].shape[1]
        self.encoder = nn.Module()
        self.encoder.grid2mesh_net = InteractionNetwork(channels, nd, ed("encoder"), hidden)
        self.mesh_edge_embedder = MLP(ed("mesh"), hidden, hidden)
        self.processor = nn.Module()
        self.processor.interaction_nets = nn.ModuleList(
            [InteractionNetwork(hidden, hidden, hidden, hidden) for _ in range(layers)]
        )
        self.decoder = nn.Module()
        self.decoder.interaction_net = InteractionNetwork(hidden, channels, ed("decoder"), hidden)
        self.decoder.out_mlp = MLP(hidden, hidden, forecast, final_norm=False)

    def edges(self, k, n_tgt):
        idx = self.g[f"{k}_edge_index.0"]
        has = torch.zeros(n_tgt).index_fill_(0, idx[:, 1], 1.0).view(1, n_tgt, 1)
        return self.g[f"{k}_edge_features.0"].unsqueeze(0), idx[:, 0], idx[:, 1], n_tgt, has

    def forward(self, x):
        n_mesh = self.g["mesh_features"].shape[0]
        mesh_feat = self.g["mesh_features"].unsqueeze(0)
        enc = self.edges("encoder", n_mesh)
        _, mesh = self.encoder.grid2mesh_net(x, mesh_feat, *enc)
        me = self.edges("mesh", n_mesh)
        e = self.mesh_edge_embedder(me[0])
        for layer in self.processor.interaction_nets:
            de, mesh = layer(mesh, mesh, e, *me[1:])
            e = e + de
        dec = self.edges("decoder", x.shape[1])
        _, grid = self.decoder.interaction_net(mesh, x, *dec)
        return x[..., self.nf:] + self.decoder.out_mlp(grid)


def main():
    path, hidden, layers, channels, forecast, threads, reps = sys.argv[1:8]
    hidden, layers, channels, forecast, threads, reps = map(int, (hidden, layers, channels, forecast, threads, reps))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    g = {k: torch.from_numpy(np.array(v)) for k, v in read_safetensors(path).items()}
    n_grid = int(g["grid_latitude"].shape[0] * g["grid_longitude"].shape[0])
    model = FastNet(g, hidden, layers, channels, forecast)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(1, n_grid, channels)
    y = torch.randn(1, n_grid, forecast)
    step, fwd = [], []
    for _ in range(reps):
        t = time.perf_counter()
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        step.append(time.perf_counter() - t)
    with torch.no_grad():
        for _ in range(reps):
            t = time.perf_counter()
            model(x)
            fwd.append(time.perf_counter() - t)
    print(json.dumps({
        "step_s": statistics.median(step),
        "forward_s": statistics.median(fwd),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "parameters": sum(p.numel() for p in model.parameters()),
    }))


if __name__ == "__main__":
    main()
