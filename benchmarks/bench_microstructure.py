"""Microstructure set-up and the coarse resistor network: how long they take.

Simple-cubic lattice gas (a = 3 A, barrier 0.3 eV, occupancy 0.1, 600 K), periodic Voronoi
polycrystal with about 500 sites per grain and boundary hops 0.1 eV slower:

    python benchmarks/bench_microstructure.py            # 10^4 .. 10^6 sites
    python benchmarks/bench_microstructure.py --quick    # 10^4 and 10^5 only

Prints, per size: building the polycrystal (Voronoi assignment, boundary sites and hops,
offsets), the whole coarse-network prediction (mean-field bond conductances of the atomistic
network, the periodic Voronoi faces, the crossing bonds per face, two sparse solves), one
re-solve of the grain network at another grain size (``at_grain_size``: the part that
scales with the number of grains only), and the KMC throughput of the polycrystal against
the bulk (the offsets must not slow the engine). Record the figures with the machine in
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import platform
import time

import kmc
from kmc.effective_medium import resistor_network
from kmc.microstructure import polycrystal

SIZES = {10_648: 22, 97_336: 46, 1_000_000: 100}


def hops_per_s(net, n_ions: int, steps: int = 500_000) -> float:
    eng = kmc.Simulation(net, 600.0, n_ions=n_ions, seed=1).engine
    eng.run(steps // 10)
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        done, _ = eng.run(steps)
        best = max(best, done / (time.perf_counter() - t0))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the two smaller sizes only")
    args = ap.parse_args()
    sizes = list(SIZES.items())[:2] if args.quick else list(SIZES.items())
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"{'sites':>9s} {'grains':>7s} {'build s':>8s} {'network s':>10s} "
          f"{'re-solve ms':>12s} {'ratio':>7s} {'bulk Mhop/s':>12s} {'poly Mhop/s':>12s}")
    for n_sites, L in sizes:
        net = kmc.build_lattice("sc", size=L, a=3.0, barrier_eV=0.3)
        n_ions = n_sites // 10
        grains = max(1, n_sites // 500)
        t0 = time.perf_counter()
        ms = polycrystal(net, n_grains=grains, gb_barrier_offset_eV=0.1, seed=1)
        t1 = time.perf_counter()
        pred = resistor_network(ms, 600.0, n_ions)
        t2 = time.perf_counter()
        pred.at_grain_size(1000.0)
        t3 = time.perf_counter()
        bulk = hops_per_s(net, n_ions)
        poly = hops_per_s(ms.network, n_ions)
        print(f"{n_sites:>9d} {grains:>7d} {t1 - t0:>8.2f} {t2 - t1:>10.2f} "
              f"{1e3 * (t3 - t2):>12.1f} {pred.ratio:>7.3f} {bulk / 1e6:>12.2f} "
              f"{poly / 1e6:>12.2f}")


if __name__ == "__main__":
    main()
