"""Independent cross-check of the sizes of GraphCast's graphs (counts only).

Re-implements, in numpy/scipy, the rules GraphCast's builder applies, and
computes each of these stages itself for one mesh level and grid resolution:

  mesh nodes   icosahedron with a face on top, 4-way splits with midpoints
               projected to the sphere; the finest level's vertices
  mesh edges   the multi-mesh: directed edges of every level's faces, merged
               (distinct (sender, receiver) pairs)
  grid2mesh    radius = 0.6 x longest finest-mesh edge, scipy cKDTree ball
               query from every grid point
  mesh2grid    the finest-mesh triangle containing each grid point (radial
               projection), 3 edges to its vertices; grid points no candidate
               triangle contains are counted and reported, not credited

in float32 (GraphCast's vertex precision) and in float64. It builds no edge
or node features. `cargo bench -p fastnet-mesh --bench graph_build` prints
these counts next to ours (it does not time this script; the seconds printed
here are each stage alone, imports and the grid excluded).

    python3 -m venv /tmp/gc && /tmp/gc/bin/pip install numpy scipy
    /tmp/gc/bin/python scripts/graphcast_counts.py 6 0.25   # level, resolution
"""
import sys
import time

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
    """Vertices of the finest level and the faces of every level (indices
    into those vertices: refinement only appends vertices)."""
    phi = (1 + np.sqrt(5)) / 2
    corners = []
    for c1 in (1.0, -1.0):
        for c2 in (phi, -phi):
            corners += [(c1, c2, 0.0), (0.0, c1, c2), (c2, 0.0, c1)]
    v = np.array(corners, dtype=dtype) / dtype(np.hypot(1.0, phi))
    angle = (np.pi - 2 * np.arcsin(phi / np.sqrt(3))) / 2
    v = (v @ Rotation.from_euler("y", angle).as_matrix()).astype(dtype)
    faces = np.array(BASE_FACES)
    levels = [faces]
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
        levels.append(faces)
    return v, levels


def face_edges(faces):
    """Directed (sender, receiver) of each face's three sides, as GraphCast's
    faces_to_edges."""
    return faces.reshape(-1), np.roll(faces, -1, axis=1).reshape(-1)


def containing_faces(v, faces, points, k=8, chunk=100_000):
    """Index of the face whose cone from the centre contains each point (the
    first of the k faces with the nearest centroids; -1 where none does)."""
    centroids = v[faces].astype(np.float64).mean(1)
    tree = cKDTree(centroids / np.linalg.norm(centroids, axis=1, keepdims=True))
    tol = -64 * np.finfo(v.dtype).eps
    found = np.full(len(points), -1)
    for s in range(0, len(points), chunk):
        p = points[s : s + chunk].astype(v.dtype)
        _, cand = tree.query(p, k=k)
        cand = cand.reshape(len(p), -1)
        a, b, c = (v[faces[cand, j]] for j in range(3))
        orient = np.sign(np.einsum("nki,nki->nk", np.cross(a, b), c))
        inside = np.ones(cand.shape, dtype=bool)
        for x, y in ((a, b), (b, c), (c, a)):
            inside &= orient * np.einsum("nki,nki->nk", np.cross(x, y), p[:, None, :]) >= tol
        hit = inside.any(1)
        first = cand[np.arange(len(p)), inside.argmax(1)]
        found[s : s + len(p)] = np.where(hit, first, -1)
    return found


def main():
    level, res = int(sys.argv[1]), float(sys.argv[2])
    lat = np.linspace(90, -90, int(round(180 / res)) + 1)
    lon = np.arange(0, 360, res)
    lon_g, colat_g = np.meshgrid(np.deg2rad(lon), np.deg2rad(90 - lat))
    grid = np.stack(
        [np.cos(lon_g) * np.sin(colat_g), np.sin(lon_g) * np.sin(colat_g), np.cos(colat_g)], -1
    ).reshape(-1, 3)
    print(f"grid {len(lat)} x {len(lon)} = {len(grid)} points, mesh level {level}")
    for dtype in (np.float32, np.float64):
        seconds = {}
        t = time.perf_counter()
        v, levels = icosphere(level, dtype)
        finest = levels[-1]
        seconds["mesh"] = time.perf_counter() - t

        t = time.perf_counter()
        s, r = face_edges(np.concatenate(levels))
        mesh_edges = len(np.unique(s.astype(np.int64) * len(v) + r))
        seconds["mesh_edges"] = time.perf_counter() - t

        t = time.perf_counter()
        s, r = face_edges(finest)
        radius = 0.6 * np.linalg.norm(v[s] - v[r], axis=-1).max()
        hits = cKDTree(v).query_ball_point(x=grid, r=radius)
        grid2mesh = sum(map(len, hits))
        seconds["grid2mesh"] = time.perf_counter() - t

        t = time.perf_counter()
        found = containing_faces(v, finest, grid)
        unmatched = int((found < 0).sum())
        mesh2grid = 3 * (len(grid) - unmatched)
        seconds["mesh2grid"] = time.perf_counter() - t

        times = " ".join(f"{k}={x:.2f}" for k, x in seconds.items())
        print(
            f"{np.dtype(dtype).name}: mesh_nodes={len(v)} mesh_edges={mesh_edges} "
            f"grid2mesh={grid2mesh} mesh2grid={mesh2grid} "
            f"(grid points in no triangle: {unmatched}); seconds: {times}"
        )


if __name__ == "__main__":
    main()
