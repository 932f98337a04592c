"""Independent cross-check of the GraphCast grid->mesh radius edge count.

Re-implements, in numpy/scipy, the rules GraphCast's builder applies
(icosahedron with a face on top, 4-way splits with midpoints projected to the
sphere, radius = 0.6 x longest finest-mesh edge, scipy cKDTree ball query) in
float32 (GraphCast's vertex precision) and in float64, and prints the number
of grid->mesh edges, to compare with `cargo bench -p fastnet-mesh`.

    python3 -m venv /tmp/gc && /tmp/gc/bin/pip install numpy scipy
    /tmp/gc/bin/python scripts/graphcast_counts.py 6 0.25   # level, resolution
"""
import sys

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

BASE_FACES = [
    (0, 1, 2), (0, 6, 1), (8, 0, 2), (8, 4, 0), (3, 8, 2), (3, 2, 7), (7, 2, 1),
    (0, 4, 6), (4, 11, 6), (6, 11, 5), (1, 5, 7), (4, 10, 11), (4, 8, 10),
    (10, 8, 3), (10, 3, 9), (11, 10, 9), (11, 9, 5), (5, 9, 7), (9, 3, 7),
    (1, 6, 5),
]


def icosphere(level, dtype):
    phi = (1 + np.sqrt(5)) / 2
    corners = []
    for c1 in (1.0, -1.0):
        for c2 in (phi, -phi):
            corners += [(c1, c2, 0.0), (0.0, c1, c2), (c2, 0.0, c1)]
    v = np.array(corners, dtype=dtype) / dtype(np.hypot(1.0, phi))
    angle = (np.pi - 2 * np.arcsin(phi / np.sqrt(3))) / 2
    v = (v @ Rotation.from_euler("y", angle).as_matrix()).astype(dtype)
    faces = np.array(BASE_FACES)
    for _ in range(level):
        verts, index = list(v), {}

        def midpoint(i, j):
            key = (min(i, j), max(i, j))
            if key not in index:
                p = v[[i, j]].mean(0)
                index[key] = len(verts)
                verts.append(p / np.linalg.norm(p))
            return index[key]

        split = []
        for a, b, c in faces:
            ab, bc, ca = midpoint(a, b), midpoint(b, c), midpoint(c, a)
            split += [[a, ab, ca], [ab, b, bc], [ca, bc, c], [ab, bc, ca]]
        v, faces = np.array(verts, dtype=dtype), np.array(split)
    return v, faces


def main():
    level, res = int(sys.argv[1]), float(sys.argv[2])
    lat = np.linspace(90, -90, int(round(180 / res)) + 1)
    lon = np.arange(0, 360, res)
    lon_g, colat_g = np.meshgrid(np.deg2rad(lon), np.deg2rad(90 - lat))
    grid = np.stack(
        [np.cos(lon_g) * np.sin(colat_g), np.sin(lon_g) * np.sin(colat_g), np.cos(colat_g)], -1
    ).reshape(-1, 3)
    for dtype in (np.float32, np.float64):
        v, f = icosphere(level, dtype)
        s, r = f.reshape(-1), np.roll(f, -1, axis=1).reshape(-1)
        radius = 0.6 * np.linalg.norm(v[s] - v[r], axis=-1).max()
        hits = cKDTree(v).query_ball_point(x=grid, r=radius)
        print(f"{np.dtype(dtype).name}: {len(v)} mesh nodes, {sum(map(len, hits))} grid->mesh edges")


if __name__ == "__main__":
    main()
