"""How the engine's speed holds up with system size on real models (the performance-on-real-
models issue's targets), one core, the C engine alone.

Cases, each at about 10^3 sites and at 10^5-10^6:

* "lgps": the shipped LGPS model (Li sites of Li10GeP2S12, the 16h pair exclusion: the
  interacting mode), 600 K, built compact (a PeriodicNetwork, as `kmc run lgps` builds it);
* "pairs": simple-cubic lattice gas with a uniform nearest-neighbour J (0.04 eV, barrier
  0.3 eV, occupancy 0.5, 500 K; benchmarks/bench_interacting.py's "uniform"), compact;
* "nasicon": the shipped NASICON model of Deng et al. 2022 (x = 2, the authors' local
  cluster expansions of E_kra and the site term: the environment-dependent mode), 573 K;
  also at the paper's supercell (8x8x8 primitive cells, 4096 Na sites: kmc's hexagonal
  cells hold 3 primitive cells, so (8, 8, 8) primitive = 4096 sites is not a hexagonal
  supercell; the nearest sizes are (6, 6, 4) = 3456 and (8, 8, 4) = 6144 Na sites);
* "vacancy": simple-cubic lattice with a single vacancy (the count solver).

    python benchmarks/bench_scaling.py                 # every case, 3 alternating rounds
    python benchmarks/bench_scaling.py --cases lgps,vacancy --rounds 5
    python benchmarks/bench_scaling.py --quick         # small sizes only (a smoke test)
    python benchmarks/bench_scaling.py --cases lgps,pairs --site-network  # as SiteNetworks

Every measurement is a fresh subprocess (so one size's memory does not shape another's)
that builds the model, warms the engine up and reports the best of three runs of
`Engine.run` (hops per second), the engine's bytes per site, the set-up time (model and
engine), the process's peak resident memory (the Python network and the interpreter
included) and the engine's site classes. The rounds alternate small and large sizes, and the
ratio large / small is taken per round (the median is printed), so that drifts of a shared
machine hit both alike. Record the figures with the machine in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

SIZES = {  # case: [(label, size argument, hops per timed run)]
    "lgps": [("small", [4, 4, 2], 400_000), ("1e5", [15, 15, 15], 400_000),
             ("1e6", [31, 31, 31], 400_000)],
    "pairs": [("small", 10, 400_000), ("1e5", 46, 400_000), ("1e6", 100, 400_000)],
    "nasicon": [("small", [4, 4, 2], 200_000), ("Deng 6x6x4", [6, 6, 4], 200_000),
                ("1e5", [16, 16, 16], 200_000), ("2e5", [24, 24, 16], 200_000)],
    "vacancy": [("small", 10, 2_000_000), ("1e6", 100, 2_000_000)],
}
QUICK = {"lgps": [("small", [2, 2, 2], 50_000), ("4e3", [5, 5, 5], 50_000)],
         "pairs": [("small", 10, 50_000), ("1e4", 22, 50_000)],
         "nasicon": [("small", [4, 4, 2], 20_000), ("6e3", [8, 8, 4], 20_000)],
         "vacancy": [("small", 10, 200_000), ("1e4", 22, 200_000)]}


def build(case: str, size, site_network: bool = False):
    """The simulation of a case at a size (imports kmc here: the worker process); LGPS and
    the pair gas as PeriodicNetworks unless `site_network` (the same trajectories)."""
    import dataclasses

    import numpy as np

    import kmc
    from kmc.builders import build_lattice
    from kmc.materials import build_material

    if case == "lgps":
        return kmc.Simulation(build_material("lgps", size=tuple(size),
                                             compact=not site_network), 600.0, seed=1)
    if case == "nasicon":
        return kmc.Simulation(build_material("nasicon", size=tuple(size), x=2.0), 573.0, seed=1)
    if case == "vacancy":
        net = build_lattice("sc", size=int(size), a=3.0, barrier_eV=0.3)
        return kmc.Simulation(net, 500.0, n_vacancies=1, seed=1)
    # nearest-neighbour pairs: the unit cell's hops along +x, +y, +z
    pn = build_lattice("sc", size=int(size), a=3.0, barrier_eV=0.3, compact=True)
    fwd = np.flatnonzero(pn.hop_cell_offsets.sum(axis=1) > 0)
    pn = dataclasses.replace(pn, pair_basis_i=pn.hop_basis_src[fwd],
                             pair_basis_j=pn.hop_basis_dst[fwd],
                             pair_cell_offsets=pn.hop_cell_offsets[fwd], pair_energies_eV=0.04)
    net = pn.to_site_network() if site_network else pn
    return kmc.Simulation(net, 500.0, occupancy=0.5, seed=1)


def worker(spec: dict) -> dict:
    t0 = time.perf_counter()
    sim = build(spec["case"], spec["size"], spec.get("site_network", False))
    eng = sim.engine
    setup = time.perf_counter() - t0
    hops = int(spec["hops"])
    eng.run(hops // 4)
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        done, _ = eng.run(hops)
        best = max(best, done / (time.perf_counter() - t))
    n = sim.network.n_sites
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return {**spec, "sites": n, "mode": eng.mode, "Mhops_s": best / 1e6,
            "engine_B_site": eng.memory_bytes / n, "setup_s": setup,
            "peak_rss_MB": peak / 2**20,
            **getattr(eng, "layout", {"n_site_classes": "-"})}  # (older engines: none)


def measure(spec: dict) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                         capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"worker {spec} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="lgps,pairs,nasicon,vacancy")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small sizes only (a smoke test)")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    ap.add_argument("--site-network", action="store_true",
                    help="LGPS and the pair gas as SiteNetworks (per-hop arrays) instead of "
                         "PeriodicNetworks: the same trajectories, more memory and set-up")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    table = QUICK if args.quick else SIZES
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    for c in cases:
        if c not in table:
            raise SystemExit(f"unknown case {c!r} (known: {', '.join(table)})")
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    for case in cases:
        sizes = table[case]
        runs: dict[str, list[dict]] = {label: [] for label, _, _ in sizes}
        for r in range(args.rounds):
            order = sizes if r % 2 == 0 else sizes[::-1]
            for label, size, hops in order:
                runs[label].append(measure({"case": case, "size": size, "hops": hops,
                                            "site_network": args.site_network}))
        small = runs[sizes[0][0]]
        for label, _, _ in sizes:
            rs = runs[label]
            best = max(rs, key=lambda x: x["Mhops_s"])
            ratios = [a["Mhops_s"] / b["Mhops_s"] for a, b in zip(rs, small)]
            row = {**best, "label": label, "Mhops_s_rounds": [x["Mhops_s"] for x in rs],
                   "ratio_median": statistics.median(ratios), "ratios": ratios}
            rows.append(row)
            print(f"{case:>8} {label:>11} {row['sites']:>9} sites  {row['mode']:>5}  "
                  f"{row['Mhops_s']:7.3f} M hops/s (rounds "
                  + " ".join(f"{x:.3f}" for x in row["Mhops_s_rounds"])
                  + f")  vs small {row['ratio_median']:.2f} (rounds "
                  + " ".join(f"{x:.2f}" for x in ratios)
                  + f")  {row['engine_B_site']:6.0f} B/site  set-up {row['setup_s']:6.1f} s  "
                  f"peak RSS {row['peak_rss_MB']:7.0f} MB  {row['n_site_classes']} classes",
                  flush=True)
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
