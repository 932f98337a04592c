"""Reference SHT timings (forward transform + power spectrum) for
`cargo bench -p fastnet-eval --bench sht`, which runs this script when
FASTNET_SHT_BENCH_PYTHON names a Python with the packages installed:

    bash scripts/setup.sh --bench
    FASTNET_SHT_BENCH_PYTHON=~/.cache/fastnet/bench-python cargo bench -p fastnet-eval --bench sht

(pyshtools is not among the peers setup installs; a Python that has it adds
its rows.) `bench_sht.py THREADS octahedral` runs the reduced-grid rows.

Prints one JSON line per (library, grid): median milliseconds with the
given number of threads. Grids: 181 x 360 (lmax 90) and 721 x 1440 (lmax
360), equiangular with poles (Clenshaw-Curtis; pyshtools uses its
Driscoll-Healy grid without the south-pole row, lmax one lower).

Octahedral reduced Gaussian grids O96 and O320 (lmax N - 1, the cubic
truncation the grid is built for): ducc0's general ring transform
(`adjoint_synthesis` with the Gauss-Legendre weights folded into
`ringfactor`) and anemoi-models' `SphericalHarmonicTransform` (the transform
of anemoi's octahedral spectral loss, per-ring rfft then one einsum). The
anemoi module is loaded from `spectral_helpers.py` of the anemoi-models
wheel (it imports only numpy and torch): set FASTNET_ANEMOI_SHT to that
file; `scripts/setup.sh --bench` downloads it and bench-python sets it.
"""
import json
import statistics
import sys
import time

import numpy as np


def field(nlat, nlon):
    lat = np.deg2rad(np.linspace(90, -90, nlat))[:, None]
    lon = np.deg2rad(np.arange(nlon) * 360.0 / nlon)[None, :]
    return np.cos(lat) * np.sin(3 * lon) + 0.1 * np.cos(17 * lon + 5 * lat) * np.cos(lat) ** 2


def power_from_alm_ducc(alm, lmax):
    # ducc0 order: m-major, l = m..lmax
    p = np.zeros(lmax + 1)
    i = 0
    for m in range(lmax + 1):
        n = lmax + 1 - m
        a = np.abs(alm[i:i + n]) ** 2
        p[m:] += a if m == 0 else 2 * a
        i += n
    return p


def bench(fn, reps):
    fn()
    t = []
    for _ in range(reps):
        s = time.perf_counter()
        fn()
        t.append((time.perf_counter() - s) * 1e3)
    return statistics.median(t)


def octahedral_rings(n):
    """Ring lengths of O<n>, north to south, and Gauss-Legendre colatitudes/weights."""
    lengths = [4 * i + 16 for i in range(1, n + 1)]
    lengths = lengths + lengths[::-1]
    x, w = np.polynomial.legendre.leggauss(2 * n)  # ascending x = cos(colatitude)
    return np.array(lengths), np.arccos(x[::-1]), w[::-1]


def octahedral_field(lengths, theta):
    vals = []
    for nphi, th in zip(lengths, theta):
        lon = 2 * np.pi * np.arange(nphi) / nphi
        lat = np.pi / 2 - th
        vals.append(np.cos(lat) * np.sin(3 * lon) + 0.1 * np.cos(17 * lon + 5 * lat) * np.cos(lat) ** 2)
    return np.concatenate(vals)


def octahedral(threads):
    import os

    for n, reps in [(96, 20), (320, 5)]:
        lengths, theta, w = octahedral_rings(n)
        lmax = n - 1
        f = octahedral_field(lengths, theta)
        grid = f"O{n}"
        try:
            import ducc0

            ringstart = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.uintp)
            nphi = lengths.astype(np.uintp)
            factor = w * 2 * np.pi / lengths

            def run_ducc():
                alm = ducc0.sht.adjoint_synthesis(
                    map=f[None], theta=theta, nphi=nphi, phi0=np.zeros(len(lengths)), ringstart=ringstart,
                    ringfactor=factor, lmax=lmax, mmax=lmax, spin=0, nthreads=threads,
                )
                return power_from_alm_ducc(alm[0], lmax)

            print(json.dumps({"library": "ducc0 " + ducc0.__version__, "grid": grid, "lmax": lmax, "ms": bench(run_ducc, reps)}))
        except Exception as e:  # noqa: BLE001
            print(json.dumps({"library": "ducc0", "grid": grid, "error": str(e)}))
        try:
            import importlib.util

            import torch

            path = os.environ.get("FASTNET_ANEMOI_SHT")
            if not path:
                raise RuntimeError("FASTNET_ANEMOI_SHT not set")
            spec = importlib.util.spec_from_file_location("anemoi_spectral_helpers", path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            torch.set_num_threads(threads)
            sht = mod.SphericalHarmonicTransform(list(int(k) for k in lengths), lmax)
            x = torch.from_numpy(f)[None]

            def run_anemoi():
                with torch.no_grad():
                    c = sht(x)
                    p = c.abs() ** 2
                    return p[..., 0] + 2 * p[..., 1:].sum(-1)

            print(json.dumps({"library": "anemoi-models SHT", "grid": grid, "lmax": lmax, "ms": bench(run_anemoi, reps)}))
        except Exception as e:  # noqa: BLE001
            print(json.dumps({"library": "anemoi-models SHT", "grid": grid, "error": str(e)}))


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    if len(sys.argv) > 2 and sys.argv[2] == "octahedral":
        octahedral(threads)
        return
    for nlat, nlon, lmax, reps in [(181, 360, 90, 30), (721, 1440, 360, 10)]:
        f = field(nlat, nlon)
        grid = f"{nlat}x{nlon}"
        try:
            import ducc0

            def run_ducc():
                alm = ducc0.sht.experimental.analysis_2d(
                    map=f[None], spin=0, lmax=lmax, mmax=lmax, geometry="CC", nthreads=threads
                )
                return power_from_alm_ducc(alm[0], lmax)

            print(json.dumps({"library": "ducc0 " + ducc0.__version__, "grid": grid, "lmax": lmax, "ms": bench(run_ducc, reps)}))
        except Exception as e:  # noqa: BLE001
            print(json.dumps({"library": "ducc0", "grid": grid, "error": str(e)}))
        try:
            import pyshtools

            g = np.ascontiguousarray(f[:-1])  # DH grid: nlat = 2 (lmax + 1), no south pole row

            def run_pysh():
                c = pyshtools.expand.SHExpandDH(g, norm=4, sampling=2)
                return pyshtools.spectralanalysis.spectrum(c, normalization="ortho")

            print(json.dumps({"library": "pyshtools " + pyshtools.__version__, "grid": grid, "lmax": (nlat - 1) // 2 - 1, "ms": bench(run_pysh, reps)}))
        except Exception as e:  # noqa: BLE001
            print(json.dumps({"library": "pyshtools", "grid": grid, "error": str(e)}))
        try:
            import torch
            import torch_harmonics as th

            torch.set_num_threads(threads)
            sht = th.RealSHT(nlat, nlon, lmax=lmax + 1, mmax=lmax + 1, grid="equiangular", norm="ortho")
            x = torch.from_numpy(f)

            def run_th():
                c = sht(x)
                p = (c.abs() ** 2)
                return p[:, 0] + 2 * p[:, 1:].sum(-1)

            print(json.dumps({"library": "torch-harmonics " + th.__version__, "grid": grid, "lmax": lmax, "ms": bench(run_th, reps)}))
        except Exception as e:  # noqa: BLE001
            print(json.dumps({"library": "torch-harmonics", "grid": grid, "error": str(e)}))


if __name__ == "__main__":
    main()
