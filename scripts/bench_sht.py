"""Reference SHT timings (forward transform + power spectrum) for
`cargo bench -p fastnet-eval --bench sht`, which runs this script when
FASTNET_SHT_BENCH_PYTHON names a Python with the packages installed:

    python3 -m venv /tmp/shtb
    /tmp/shtb/bin/pip install numpy ducc0 pyshtools torch "torch-harmonics==0.7.4"
    FASTNET_SHT_BENCH_PYTHON=/tmp/shtb/bin/python cargo bench -p fastnet-eval --bench sht

Prints one JSON line per (library, grid): median milliseconds with the
given number of threads. Grids: 181 x 360 (lmax 90) and 721 x 1440 (lmax
360), equiangular with poles (Clenshaw-Curtis; pyshtools uses its
Driscoll-Healy grid without the south-pole row, lmax one lower).
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


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
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
