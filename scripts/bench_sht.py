"""Reference SHT timings (forward transform + power spectrum, and the
inverse) for `cargo bench -p fastnet-eval --bench sht`, which runs this
script when FASTNET_SHT_BENCH_PYTHON names a Python with the peers:

    bash scripts/setup.sh --bench
    FASTNET_SHT_BENCH_PYTHON=~/.cache/fastnet/bench-python cargo bench -p fastnet-eval --bench sht

`bench_sht.py THREADS` runs the lat-lon rows, `bench_sht.py THREADS
octahedral` the reduced-grid rows. Prints one JSON line per (library, grid):
{"library", "grid", "lmax", "fwd_ms", "inv_ms"} with the medians in
milliseconds at the given number of threads, or {"library", "grid",
"error"} when a library is missing or fails.

Lat-lon grids: 181 x 360 (lmax 90) and 721 x 1440 (lmax 360), equiangular
with both poles (Clenshaw-Curtis) for ducc0 (`analysis_2d` /
`synthesis_2d`) and torch-harmonics (`RealSHT` / `InverseRealSHT`, f64);
pyshtools (`SHExpandDH` / `MakeGridDH`) uses its Driscoll-Healy grid, which
has no south-pole row: 180 x 360 and 720 x 1440 with lmax one lower.

Octahedral reduced Gaussian grids O96 and O320 (lmax N - 1, the cubic
truncation the grid is built for): ducc0's general ring transform
(`adjoint_synthesis` with the Gauss-Legendre weights folded into
`ringfactor`, and `synthesis`) and anemoi-models' `SphericalHarmonicTransform`
and `InverseSphericalHarmonicTransform` (anemoi's octahedral spectral loss:
per-ring rfft then one einsum). The anemoi module is loaded from
`spectral_helpers.py` of the anemoi-models wheel (it imports only numpy and
torch): FASTNET_ANEMOI_SHT names that file; `scripts/setup.sh --bench`
downloads it and bench-python sets it.
"""
import json
import os
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


def row(library, grid, lmax, fwd, inv, reps):
    """Times `fwd` (forward + power) and `inv` (inverse) and prints the row;
    an exception in either becomes an error row."""
    try:
        f = bench(fwd, reps)
        i = bench(inv, reps)
        print(json.dumps({"library": library, "grid": grid, "lmax": lmax, "fwd_ms": f, "inv_ms": i}), flush=True)
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"library": library, "grid": grid, "error": str(e)}), flush=True)


def missing(library, grid, e):
    print(json.dumps({"library": library, "grid": grid, "error": f"{type(e).__name__}: {e}"}), flush=True)


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
    for n, reps in [(96, 20), (320, 5)]:
        lengths, theta, w = octahedral_rings(n)
        lmax = n - 1
        f = octahedral_field(lengths, theta)
        grid = f"O{n}"
        try:
            import ducc0

            ringstart = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.uintp)
            nphi = lengths.astype(np.uintp)
            phi0 = np.zeros(len(lengths))
            factor = w * 2 * np.pi / lengths
            alm = ducc0.sht.adjoint_synthesis(
                map=f[None], theta=theta, nphi=nphi, phi0=phi0, ringstart=ringstart,
                ringfactor=factor, lmax=lmax, mmax=lmax, spin=0, nthreads=threads,
            )

            def run_ducc():
                a = ducc0.sht.adjoint_synthesis(
                    map=f[None], theta=theta, nphi=nphi, phi0=phi0, ringstart=ringstart,
                    ringfactor=factor, lmax=lmax, mmax=lmax, spin=0, nthreads=threads,
                )
                return power_from_alm_ducc(a[0], lmax)

            def run_ducc_inv():
                return ducc0.sht.synthesis(
                    alm=alm, theta=theta, nphi=nphi, phi0=phi0, ringstart=ringstart,
                    lmax=lmax, mmax=lmax, spin=0, nthreads=threads,
                )

            row("ducc0 " + ducc0.__version__, grid, lmax, run_ducc, run_ducc_inv, reps)
        except ImportError as e:
            missing("ducc0", grid, e)
        try:
            import importlib.util

            import torch

            path = os.environ.get("FASTNET_ANEMOI_SHT")
            if not path:
                raise ImportError("FASTNET_ANEMOI_SHT not set")
            spec = importlib.util.spec_from_file_location("anemoi_spectral_helpers", path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            torch.set_num_threads(threads)
            rings = list(int(k) for k in lengths)
            sht = mod.SphericalHarmonicTransform(rings, lmax)
            isht = mod.InverseSphericalHarmonicTransform(rings, lmax)
            x = torch.from_numpy(f)[None]
            with torch.no_grad():
                c0 = sht(x)

            def run_anemoi():
                with torch.no_grad():
                    c = sht(x)
                    p = c.abs() ** 2
                    return p[..., 0] + 2 * p[..., 1:].sum(-1)

            def run_anemoi_inv():
                with torch.no_grad():
                    return isht(c0)

            row("anemoi-models SHT", grid, lmax, run_anemoi, run_anemoi_inv, reps)
        except (ImportError, AttributeError) as e:
            missing("anemoi-models SHT", grid, e)


def latlon(threads):
    for nlat, nlon, lmax, reps in [(181, 360, 90, 30), (721, 1440, 360, 10)]:
        f = field(nlat, nlon)
        grid = f"{nlat}x{nlon}"
        try:
            import ducc0

            alm = ducc0.sht.experimental.analysis_2d(
                map=f[None], spin=0, lmax=lmax, mmax=lmax, geometry="CC", nthreads=threads
            )

            def run_ducc():
                a = ducc0.sht.experimental.analysis_2d(
                    map=f[None], spin=0, lmax=lmax, mmax=lmax, geometry="CC", nthreads=threads
                )
                return power_from_alm_ducc(a[0], lmax)

            def run_ducc_inv():
                return ducc0.sht.experimental.synthesis_2d(
                    alm=alm, spin=0, lmax=lmax, mmax=lmax, geometry="CC", ntheta=nlat, nphi=nlon, nthreads=threads
                )

            row("ducc0 " + ducc0.__version__, grid, lmax, run_ducc, run_ducc_inv, reps)
        except ImportError as e:
            missing("ducc0", grid, e)
        try:
            import pyshtools

            g = np.ascontiguousarray(f[:-1])  # DH grid: nlat = 2 (lmax + 1), no south pole row
            cilm = pyshtools.expand.SHExpandDH(g, norm=4, sampling=2)

            def run_pysh():
                c = pyshtools.expand.SHExpandDH(g, norm=4, sampling=2)
                return pyshtools.spectralanalysis.spectrum(c, normalization="ortho")

            def run_pysh_inv():
                return pyshtools.expand.MakeGridDH(cilm, norm=4, sampling=2)

            row("pyshtools " + pyshtools.__version__, grid, (nlat - 1) // 2 - 1, run_pysh, run_pysh_inv, reps)
        except ImportError as e:
            missing("pyshtools", grid, e)
        try:
            import torch
            import torch_harmonics as th

            torch.set_num_threads(threads)
            sht = th.RealSHT(nlat, nlon, lmax=lmax + 1, mmax=lmax + 1, grid="equiangular", norm="ortho").double()
            isht = th.InverseRealSHT(nlat, nlon, lmax=lmax + 1, mmax=lmax + 1, grid="equiangular", norm="ortho").double()
            x = torch.from_numpy(f)
            with torch.no_grad():
                c0 = sht(x)

            def run_th():
                with torch.no_grad():
                    c = sht(x)
                    p = c.abs() ** 2
                    return p[:, 0] + 2 * p[:, 1:].sum(-1)

            def run_th_inv():
                with torch.no_grad():
                    return isht(c0)

            row("torch-harmonics " + th.__version__, grid, lmax, run_th, run_th_inv, reps)
        except ImportError as e:
            missing("torch-harmonics", grid, e)


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    if len(sys.argv) > 2 and sys.argv[2] == "octahedral":
        octahedral(threads)
    else:
        latlon(threads)


if __name__ == "__main__":
    main()
