"""The cost of the production loop around the engine (issue 19): displacement snapshots,
the fine collective series and, for a run to a precision, its looks at the estimate.

For each system: hops per second of the bare engine (``Engine.run`` of the same number
of hops, one call), of ``Simulation.run(steps=N)`` (blocks, snapshots, fine series, the
final fit) and of ``Simulation.run(target_rel_err=R)`` (the same plus a fit after every
doubling), with the share of the wall time spent in the fits. Each figure is the best of
`--repeats` runs (wall clock, one core); the machine is printed with them.

    python benchmarks/bench_run_loop.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import kmc
import kmc.simulation as ksim


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _systems():
    sc = kmc.build_lattice("sc", size=10, barrier_eV=0.3)
    yield "sc 10^3, c = 0.5, 300 K", lambda: kmc.Simulation(sc, 300.0, occupancy=0.5, seed=1)
    big = kmc.build_lattice("sc", size=40, barrier_eV=0.3)
    yield "sc 40^3, c = 0.5, 300 K", lambda: kmc.Simulation(big, 300.0, occupancy=0.5, seed=1)
    lgps = kmc.build_material("lgps")
    yield "lgps (default cell), 300 K", lambda: kmc.Simulation(lgps.network, 300.0,
                                                               n_ions=lgps.n_ions, seed=1)


def _timed_fits():
    """Wrap Simulation._fit to add up its wall time; returns (restore, seconds list)."""
    spent = [0.0]
    orig = ksim.Simulation._fit

    def fit(self, st):
        t0 = time.perf_counter()
        try:
            return orig(self, st)
        finally:
            spent[0] += time.perf_counter() - t0

    ksim.Simulation._fit = fit
    return (lambda: setattr(ksim.Simulation, "_fit", orig)), spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--target", type=float, default=0.05)
    args = ap.parse_args()
    print(f"machine: {_machine()}")
    print(f"| system | to {args.target:g}: hops | bare engine (hops/s) | run(steps) | "
          "run(target) | fits' share of run(target) |")
    print("|---|---|---|---|---|---|")
    for name, make in _systems():
        best = {"target": 0.0, "steps": 0.0, "bare": 0.0}
        share = 0.0
        hops = 0
        for _ in range(args.repeats):
            restore, spent = _timed_fits()
            sim = make()
            t0 = time.perf_counter()
            res = sim.run(target_rel_err=args.target)
            wall = time.perf_counter() - t0
            restore()
            hops = sim.engine.steps
            if hops / wall > best["target"]:
                best["target"], share = hops / wall, spent[0] / wall
            sim = make()
            t0 = time.perf_counter()
            sim.run(steps=res.hops, equilibration=hops - res.hops)
            best["steps"] = max(best["steps"], sim.engine.steps / (time.perf_counter() - t0))
            eng = make().engine
            t0 = time.perf_counter()
            eng.run(hops)
            best["bare"] = max(best["bare"], hops / (time.perf_counter() - t0))
        print(f"| {name} | {hops:.3g} | {best['bare']:.3g} | {best['steps']:.3g} "
              f"({best['steps'] / best['bare']:.2f}) | {best['target']:.3g} "
              f"({best['target'] / best['bare']:.2f}) | {100 * share:.0f} % |")


if __name__ == "__main__":
    main()
