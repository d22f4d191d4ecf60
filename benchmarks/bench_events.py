"""Engine throughput with multi-ion events: simple-cubic lattice gas (occupancy 0.3,
hop barrier 0.3 eV) plus concerted 2-ion string moves (barrier 0.25 eV), 500 K, one core.

    python benchmarks/bench_events.py                 # 10^3 .. 10^5 sites
    python benchmarks/bench_events.py --quick         # 10^3 and 10^4 only
    python benchmarks/bench_events.py --large         # also 10^6 sites (a 2.4 GB peak as lists)
    python benchmarks/bench_events.py --setup-only    # set-up times only, no engine runs
    python benchmarks/bench_events.py --compact       # also the PeriodicNetwork's events
    python benchmarks/bench_events.py --only-compact --large   # that form only (10^6: 0.5 GB)

Prints events per second of the C engine (hops and multi-ion events together), the
events per site, the share of multi-ion events among those fired, the engine memory
per site and the set-up time in seconds (the "form" column: "lists", a SiteNetwork with an
EventSet of every event; "cell", a PeriodicNetwork whose string events are kept per basis
site, :class:`kmc.events.PeriodicEvents`, the same events in the same order): building the lattice, generating the events
(``concerted_events``), ``SiteNetwork.with_events`` and building the engine; then each part
alone ("lat", "gen", "with", "eng"), the set-up's CPU time (user + system: less sensitive to
other load on a shared machine than the wall time) and the process's peak RSS so far. The cost of an event is local (the events touching the moved sites
are recomputed), so events per second must not fall with system size beyond the sum trees'
log N. Record the figures with the machine in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import math
import platform
import resource
import time

import kmc
from kmc.builders import build_lattice
from kmc.mechanisms import concerted_events

SIZES = {1_000: 10, 10_648: 22, 97_336: 46}
LARGE = {1_000_000: 100}


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(L: int, max_turn_deg: float, steps: int = 300_000, seed: int = 1,
            run: bool = True, compact: bool = False) -> dict:
    c0, t0 = _cpu_s(), time.perf_counter()
    net = build_lattice("sc", size=L, barrier_eV=0.3, compact=compact)
    t1 = time.perf_counter()
    events = concerted_events(net, 2, 0.25, max_turn_deg=max_turn_deg)
    t2 = time.perf_counter()
    net = net.with_events(events)
    del events
    t3 = time.perf_counter()
    sim = kmc.Simulation(net, 500, occupancy=0.3, seed=seed)
    eng = sim.engine
    t4 = time.perf_counter()
    out = {"sites": net.n_sites, "events_per_site": net.n_events / net.n_sites,
           "B_site": eng.memory_bytes / net.n_sites, "setup_s": t4 - t0,
           "lattice_s": t1 - t0, "gen_s": t2 - t1, "with_s": t3 - t2, "engine_s": t4 - t3,
           "cpu_s": _cpu_s() - c0,
           "peak_GB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
           "Mev_s": math.nan, "multi_share": math.nan}
    if not run:
        return out
    eng.run(steps // 10)
    best = 0.0
    for _ in range(3):
        w0 = time.perf_counter()
        done, _ = eng.run(steps)
        best = max(best, done / (time.perf_counter() - w0))
    st = eng.get_state()
    n_ev = int(st["event_counts"].sum())
    out.update(Mev_s=best / 1e6, multi_share=n_ev / max(1, eng.steps))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="10^3 and 10^4 sites only")
    p.add_argument("--large", action="store_true", help="also 10^6 sites")
    p.add_argument("--setup-only", action="store_true", help="no engine runs")
    p.add_argument("--compact", action="store_true",
                   help="also the events of a PeriodicNetwork (kept per basis site)")
    p.add_argument("--only-compact", action="store_true",
                   help="only the events of a PeriodicNetwork")
    args = p.parse_args()
    forms = ([] if args.only_compact else [False]) + \
        ([True] if args.compact or args.only_compact else [])
    sizes = list(SIZES.items())[:2] if args.quick else list(SIZES.items())
    if args.large:
        sizes += list(LARGE.items())
    print(f"kmc {kmc.__version__}, {platform.machine()}, Python {platform.python_version()}")
    print(f"{'sites':>9s} {'form':>5s} {'strings':>8s} {'ev/site':>8s} {'M ev/s':>7s} {'multi %':>8s} "
          f"{'B/site':>7s} {'setup s':>8s} {'lat':>5s} {'gen':>5s} {'with':>5s} {'eng':>5s} "
          f"{'cpu s':>6s} {'peak GB':>7s}")
    for _, L in sizes:
        for compact in forms:
            for turn, label in ((0.0, "straight"), (90.0, "bent")):
                r = measure(L, turn, run=not args.setup_only, compact=compact)
                form = "cell" if compact else "lists"
                print(f"{r['sites']:>9d} {form:>5s} {label:>8s} {r['events_per_site']:>8.0f} "
                      f"{r['Mev_s']:>7.3f} {100 * r['multi_share']:>8.1f} {r['B_site']:>7.0f} "
                      f"{r['setup_s']:>8.2f} {r['lattice_s']:>5.2f} {r['gen_s']:>5.2f} "
                      f"{r['with_s']:>5.2f} {r['engine_s']:>5.2f} {r['cpu_s']:>6.2f} "
                      f"{r['peak_GB']:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
