"""Engine throughput and memory: simple-cubic lattice gas (occupancy 0.5) and a single
vacancy, at 10^3 .. 10^6 sites, one core.

    python benchmarks/bench_engine.py            # all sizes
    python benchmarks/bench_engine.py --quick    # 10^3 and 10^4 only

Prints hops per second of the C engine (production only, no Python in the loop),
engine memory per site (bytes allocated by the C engine) and peak resident memory of
the process. Record the figures with the machine in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np

import kmc
from kmc.builders import build_lattice

SIZES = {1_000: 10, 10_648: 22, 97_336: 46, 1_000_000: 100}


def measure(L: int, vacancy: bool, hops: int, seed: int = 1) -> dict:
    t0 = time.perf_counter()
    net = build_lattice("sc", size=L)
    comp = {"n_vacancies": 1} if vacancy else {"occupancy": 0.5}
    sim = kmc.Simulation(net, 300.0, seed=seed, **comp)
    eng = sim.engine
    setup = time.perf_counter() - t0
    eng.run(min(hops // 10, 200_000))  # warm up caches and branch predictors
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        done, _ = eng.run(hops)
        best = max(best, done / (time.perf_counter() - t))
    return {"sites": net.n_sites, "case": "1 vacancy" if vacancy else "c = 0.5",
            "hops_per_s": best, "engine_B_per_site": eng.memory_bytes / net.n_sites,
            "setup_s": setup,
            "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--hops", type=int, default=2_000_000)
    args = ap.parse_args()
    print(f"kmc {kmc.__version__}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    print(f"{'sites':>9} {'case':>10} {'Mhops/s':>8} {'B/site':>7} {'setup s':>8} "
          f"{'peak RSS MB':>11}")
    for n, L in SIZES.items():
        if args.quick and n > 20_000:
            break
        for vacancy in (False, True):
            r = measure(L, vacancy, args.hops)
            print(f"{r['sites']:>9} {r['case']:>10} {r['hops_per_s'] / 1e6:>8.2f} "
                  f"{r['engine_B_per_site']:>7.0f} {r['setup_s']:>8.2f} {r['peak_rss_MB']:>11.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
