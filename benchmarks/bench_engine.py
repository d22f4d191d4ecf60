"""Engine throughput and memory: simple-cubic lattice gas (occupancy 0.5) and a single
vacancy, at 10^3 .. 10^6 sites, one core.

    python benchmarks/bench_engine.py            # all sizes
    python benchmarks/bench_engine.py --quick    # 10^3 and 10^4 only
    python benchmarks/bench_engine.py --against dd3ded9 [--quick | --max-sites N] [--rounds 3]

Prints hops per second of the C engine (production only, no Python in the loop),
engine memory per site (bytes allocated by the C engine) and peak resident memory of
the process. Record the figures with the machine in benchmarks/README.md.

``--against REF`` compares two engines in one session: the engine at the git ref REF
("old") and the working tree ("new"; or ``--new REF2``). Each is exported into a temporary
directory (``git archive``; the working tree by copying its files) and its extension built
there (``setup.py build_ext --inplace``); every measurement is a fresh subprocess with
PYTHONPATH pointing at one build, and the builds alternate old/new/new/old... per case and
round, so that drifts of a shared machine hit both alike. Besides the lattice gas (the
uniformization and count solvers) it measures the float sum tree without interactions (a
disordered lattice gas), the pair-interaction lattice gas of bench_interacting.py (uniform J:
the rate memo; disordered: exp() per rate) and the multi-ion string events of
bench_events.py (straight strings). Each measurement also reports a hash of the engine's final state, which must be
the same for both builds (same seeds, same hops: the same trajectory, bit for bit).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = {1_000: 10, 10_648: 22, 97_336: 46, 1_000_000: 100}
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def measure(L: int, vacancy: bool, hops: int, seed: int = 1) -> dict:
    import kmc
    from kmc.builders import build_lattice

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
            "setup_s": setup, "mode": eng.mode, "state_sha": state_sha(eng),
            "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# ---------------------------------------------------------------- old against new
def state_sha(eng) -> str:
    """A hash of the engine's whole dynamic state (positions, displacements, counts, time,
    RNG): equal for two builds exactly when their trajectories were the same bit for bit."""
    st = eng.get_state()
    h = hashlib.sha256()
    for key in sorted(st):
        h.update(key.encode())
        h.update(np.ascontiguousarray(np.asarray(st[key])).tobytes())
    return h.hexdigest()[:16]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _timed(eng, hops: int) -> float:
    eng.run(max(1, hops // 5))  # warm-up
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        done, _ = eng.run(hops)
        best = max(best, done / (time.perf_counter() - t))
    return best


def measure_case(case: dict) -> dict:
    """One measurement of the comparison (run in a worker process)."""
    import kmc

    kind, L = case["kind"], case["L"]
    if kind in ("c = 0.5", "1 vacancy"):
        r = measure(L, kind == "1 vacancy", case["hops"])
        return {"hops_per_s": r["hops_per_s"], "mode": r["mode"], "sites": r["sites"],
                "B_site": r["engine_B_per_site"], "state_sha": r["state_sha"]}
    if kind.startswith("interacting"):
        net = _load("bench_interacting").network(L, kind.split()[-1])
        eng = kmc.Simulation(net, 500.0, occupancy=0.5, seed=1).engine
    elif kind == "tree disordered":  # no interactions, too many rates for count trees
        from kmc.builders import build_lattice

        net = build_lattice("sc", size=L, a=3.0, barrier_eV=0.3)
        rng = np.random.default_rng(1)
        barrier = rng.uniform(0.2, 0.4, net.n_hops)
        net = net.replace(site_energies_eV=rng.uniform(-0.05, 0.05, net.n_sites),
                          hop_barriers_eV=np.minimum(barrier, barrier[net.hop_rev]))
        eng = kmc.Simulation(net, 500.0, occupancy=0.5, seed=1, engine_mode="tree").engine
    elif kind == "events":
        from kmc.builders import build_lattice
        from kmc.mechanisms import concerted_events

        net = build_lattice("sc", size=L, barrier_eV=0.3)
        net = net.with_events(concerted_events(net, 2, 0.25, max_turn_deg=0.0))
        eng = kmc.Simulation(net, 500, occupancy=0.3, seed=1).engine
    else:
        raise ValueError(kind)
    rate = _timed(eng, case["hops"])
    return {"hops_per_s": rate, "mode": eng.mode, "sites": net.n_sites,
            "B_site": eng.memory_bytes / net.n_sites, "state_sha": state_sha(eng)}


def comparison_cases(max_sites: int, hops: int) -> list[dict]:
    sizes = [L for n, L in SIZES.items() if n <= max_sites]
    cases = []
    for L in sizes:
        cases += [{"kind": "c = 0.5", "L": L, "hops": hops},
                  {"kind": "1 vacancy", "L": L, "hops": hops // 2}]
    for L in sizes[:3]:  # the tree is slow at 10^6 sites (interacting: 0.1 M hops/s)
        cases += [{"kind": "tree disordered", "L": L, "hops": 500_000},
                  {"kind": "interacting uniform", "L": L, "hops": 200_000},
                  {"kind": "interacting disordered", "L": L, "hops": 200_000}]
    for L in sizes[:2]:
        cases.append({"kind": "events", "L": L, "hops": 200_000})
    return cases


def _export(ref: str | None, dest: Path) -> str:
    """The sources at git ref `ref` (None: the working tree, uncommitted changes included)
    in `dest`; returns a label."""
    dest.mkdir(parents=True)
    if ref is None:
        files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard"],
                               check=True, capture_output=True, text=True).stdout.split("\n")
        for f in filter(None, files):
            src = ROOT / f
            if src.is_file():
                (dest / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / f)
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        return f"working tree ({head}+)"
    data = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref],
                          check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest)
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref],
                         check=True, capture_output=True, text=True).stdout.strip()
    return f"{ref} ({sha})" if sha != ref else ref


def _build(src: Path) -> None:
    """Build the extension in place in `src` (the flags of its own setup.py)."""
    if importlib.util.find_spec("Cython") is None:
        sys.exit("--against builds the engines here: it needs the build requirements "
                 "(pip install 'Cython>=3.0' setuptools numpy)")
    # the material files install as kmc.lattices (package-dir): give the tree that layout
    if (src / "lattices").is_dir() and not (src / "kmc" / "lattices").exists():
        shutil.copytree(src / "lattices", src / "kmc" / "lattices")
    out = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=src,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"building the engine in {src} failed:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")


def _worker(build: Path, case: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=str(build))
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker",
                          json.dumps(case), "--expect", str(build)],
                         env=env, cwd=build, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"worker failed for {case} in {build}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(ref_old: str, ref_new: str | None, rounds: int, max_sites: int, hops: int,
            keep: bool, kinds: list[str] | None = None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kmc-bench-"))
    try:
        builds = {}
        for name, ref in (("old", ref_old), ("new", ref_new)):
            label = _export(ref, tmp / name)
            print(f"building {name}: {label} in {tmp / name}", flush=True)
            _build(tmp / name)
            builds[name] = (label, tmp / name)
        cases = [c for c in comparison_cases(max_sites, hops) if not kinds or c["kind"] in kinds]
        print(f"{platform.machine()}, Python {platform.python_version()}, numpy "
              f"{np.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
              f"{rounds} rounds, builds alternating per case")
        print(f"{'sites':>9} {'case':>23} {'mode':>7} | {'old M hops/s':>26} | "
              f"{'new M hops/s':>26} | {'new/old':>7} same")
        rows = []
        for case in cases:
            res = {"old": [], "new": []}
            for r in range(rounds):
                order = ("old", "new") if r % 2 == 0 else ("new", "old")
                for name in order:
                    res[name].append(_worker(builds[name][1], case))
            med = {k: statistics.median(x["hops_per_s"] for x in v) / 1e6 for k, v in res.items()}
            rng = {k: "-".join(f"{x['hops_per_s'] / 1e6:.3g}" for x in v) for k, v in res.items()}
            same = len({x["state_sha"] for v in res.values() for x in v}) == 1
            first = res["new"][0]
            row = {"sites": first["sites"], "case": case["kind"], "mode": first["mode"],
                   "old": med["old"], "new": med["new"], "ratio": med["new"] / med["old"],
                   "old_runs": rng["old"], "new_runs": rng["new"], "same_trajectory": same,
                   "B_site_old": res["old"][0]["B_site"], "B_site_new": first["B_site"]}
            rows.append(row)
            print(f"{row['sites']:>9} {row['case']:>23} {row['mode']:>7} | "
                  f"{med['old']:>7.3g} ({rng['old']:>16}) | {med['new']:>7.3g} ({rng['new']:>16}) | "
                  f"{row['ratio']:>7.2f} {'yes' if same else 'NO'}", flush=True)
        print("old:", builds["old"][0], "| new:", builds["new"][0])
        print("(median of the rounds, each the best of three runs in a fresh process; the "
              "runs in brackets in round order; 'same': identical final states)")
        if not all(r["same_trajectory"] for r in rows):
            sys.exit("the two builds gave different trajectories")
    finally:
        if keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10^3 and 10^4 sites only")
    ap.add_argument("--max-sites", type=int, default=None,
                    help="only sizes up to this many sites (--quick: 20000)")
    ap.add_argument("--hops", type=int, default=2_000_000)
    ap.add_argument("--against", metavar="REF",
                    help="compare the engine at git ref REF (old) with the working tree (new)")
    ap.add_argument("--new", metavar="REF2", help="with --against: the new engine at REF2")
    ap.add_argument("--rounds", type=int, default=3, help="with --against: rounds (default 3)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary builds")
    ap.add_argument("--cases", help="with --against: only these cases, comma-separated "
                    "('c = 0.5', '1 vacancy', 'tree disordered', 'interacting uniform', "
                    "'interacting disordered', 'events')")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--expect", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        import kmc

        if args.expect and not Path(kmc.__file__).resolve().is_relative_to(
                Path(args.expect).resolve()):
            sys.exit(f"imported kmc from {kmc.__file__}, not from {args.expect}")
        print(json.dumps(measure_case(json.loads(args.worker))))
        return
    if args.against:
        max_sites = args.max_sites or (20_000 if args.quick else 10**7)
        kinds = [k.strip() for k in args.cases.split(",")] if args.cases else None
        compare(args.against, args.new, args.rounds, max_sites, args.hops, args.keep, kinds)
        return
    import kmc

    print(f"kmc {kmc.__version__}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    print(f"{'sites':>9} {'case':>10} {'Mhops/s':>8} {'B/site':>7} {'setup s':>8} "
          f"{'peak RSS MB':>11}")
    for n, L in SIZES.items():
        if n > (args.max_sites or (20_000 if args.quick else 10**7)):
            break
        for vacancy in (False, True):
            r = measure(L, vacancy, args.hops)
            print(f"{r['sites']:>9} {r['case']:>10} {r['hops_per_s'] / 1e6:>8.2f} "
                  f"{r['engine_B_per_site']:>7.0f} {r['setup_s']:>8.2f} {r['peak_rss_MB']:>11.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
