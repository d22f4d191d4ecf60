"""Engine throughput with pair interactions (the float sum tree), one core.

Simple-cubic lattice gas (a = 3 A, occupancy 0.5, 500 K) with nearest-neighbour pair
energies, two cases: "uniform" (barrier 0.3 eV, J = 0.04 eV everywhere: the rates take a
few values) and "disordered" (site energies uniform in +-0.05 eV, barriers in 0.2-0.4 eV,
J in 0-0.05 eV: almost every rate is different).

    python benchmarks/bench_interacting.py           # 10^3 .. 10^6 sites
    python benchmarks/bench_interacting.py --quick   # 10^3 and 10^4 only

Prints hops per second of the C engine alone (one `Engine.run` of 10^6 hops, best of
three, after a warm-up), the engine's bytes per site and the set-up time (network and
engine). With interactions every hop re-evaluates the rates of the sites around both of
its ends (dozens of rates, each an exp() unless remembered), from per-hop arrays of about
300 bytes per site. Record the figures with the machine in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import kmc
from kmc.builders import build_lattice

SIZES = {1_000: 10, 10_648: 22, 97_336: 46, 1_000_000: 100}


def network(L: int, case: str) -> kmc.SiteNetwork:
    net = build_lattice("sc", size=L, a=3.0, barrier_eV=0.3)
    fwd = net.hop_src < net.hop_dst
    n_pairs = int(fwd.sum())
    if case == "uniform":
        return net.replace(pair_i=net.hop_src[fwd], pair_j=net.hop_dst[fwd],
                           pair_energies_eV=np.full(n_pairs, 0.04))
    rng = np.random.default_rng(1)
    barrier = rng.uniform(0.2, 0.4, net.n_hops)
    barrier = np.minimum(barrier, barrier[net.hop_rev])  # a hop and its reverse share it
    return net.replace(site_energies_eV=rng.uniform(-0.05, 0.05, net.n_sites),
                       hop_barriers_eV=barrier, pair_i=net.hop_src[fwd],
                       pair_j=net.hop_dst[fwd],
                       pair_energies_eV=rng.uniform(0.0, 0.05, n_pairs))


def measure(L: int, case: str, hops: int = 1_000_000) -> dict:
    t0 = time.perf_counter()
    net = network(L, case)
    sim = kmc.Simulation(net, 500.0, occupancy=0.5, seed=1)
    eng = sim.engine
    setup = time.perf_counter() - t0
    eng.run(hops // 5)
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        done, _ = eng.run(hops)
        best = max(best, done / (time.perf_counter() - t))
    return {"sites": net.n_sites, "case": case, "mode": eng.mode, "Mhops_s": best / 1e6,
            "B_site": eng.memory_bytes / net.n_sites, "setup_s": setup}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10^3 and 10^4 sites only")
    args = ap.parse_args()
    sizes = list(SIZES.items())[:2 if args.quick else None]
    print(f"kmc {kmc.__version__}, {platform.machine()}, Python {platform.python_version()}")
    print(f"{'sites':>9} {'case':>11} {'mode':>5} {'Mhops/s':>8} {'B/site':>7} {'setup s':>8}")
    for _, L in sizes:
        for case in ("uniform", "disordered"):
            r = measure(L, case)
            print(f"{r['sites']:>9} {case:>11} {r['mode']:>5} {r['Mhops_s']:>8.3f} "
                  f"{r['B_site']:>7.0f} {r['setup_s']:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
