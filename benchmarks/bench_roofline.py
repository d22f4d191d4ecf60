"""kmc's general engine against the speed-of-light loop of one model, in one session.

The model: the non-interacting lattice gas on a periodic simple-cubic lattice (a = 3 A,
barrier 0.3 eV, 300 K), occupancy 0.5 and 0.05. The roofline (`roofline/roofline.c`) is the
fastest loop we know of for it: a random ion, a random direction, the hop made if the target
is empty, time advanced by the fixed attempt rate, attempts drawn ahead with prefetches.
It is compiled here with the flags of kmc's engine and run in a subprocess; kmc runs in
this process, one core, alternating with the roofline at every size.

    python benchmarks/bench_roofline.py            # 10^3 .. 10^6 sites
    python benchmarks/bench_roofline.py --full     # and 10^7 sites (under 1 GB, minutes)
    python benchmarks/bench_roofline.py --site-network   # kmc on a SiteNetwork (per-hop arrays)
    python benchmarks/bench_roofline.py --json
    python benchmarks/bench_roofline.py --memory   # also what a random cache line costs here
    python benchmarks/bench_roofline.py --tree     # only what the engine's sum tree costs

Prints, per size and occupancy: hops per second of the roofline and of kmc's engine (its
`run` alone, best of three), their ratio, kmc's engine mode, its memory per site (bytes the
C engine holds), the set-up time (network + engine) and the peak resident memory of the
process that ran kmc (a fresh one per size; a PeriodicNetwork unless --site-network).
With --memory it also compiles and runs `roofline/memprobe.c`: the latency of a dependent
load and the cost of independent random loads (16 in flight) by working-set size, which set
the speed of both loops on large systems. With --tree it runs only `roofline/treeprobe.c`:
the engine's sum tree alone (csrc/kmc_sumtree.c), a selection and a selection with the
update of a hop's dirty leaves per step, by number of leaves: the floor of a tree-solver
step on a large system. Record the figures with the machine in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import kmc
from kmc.builders import build_lattice

HERE = Path(__file__).resolve().parent
SIZES = {1_000: 10, 8_000: 20, 97_336: 46, 1_000_000: 100}
FULL = {9_938_375: 215}


def _cc() -> str:
    """The C compiler Python was built with, else cc."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return cc if shutil.which(cc) is not None else "cc"


# the engine's C flags for its arithmetic (setup.py), which the probes are compiled with
ENGINE_CFLAGS = ["-O2", "-std=c99", "-ffp-contract=off", "-fno-fast-math"]


def compile_roofline(out_dir: str) -> list[str]:
    """Build roofline.c's two variants (target prefetch on and off) with the engine's flags;
    returns the executables' paths."""
    cc = _cc()
    exes = []
    for variant in (1, 0):
        exe = os.path.join(out_dir, f"roofline{variant}")
        subprocess.run([cc, *ENGINE_CFLAGS, f"-DTARGET_PREFETCH={variant}",
                        f"-I{HERE.parent / 'csrc'}", str(HERE / "roofline" / "roofline.c"),
                        "-o", exe], check=True)
        exes.append(exe)
    return exes


def memprobe(out_dir: str) -> list[dict]:
    """Compile and run roofline/memprobe.c (32 kB .. 256 MB); one dict per size."""
    exe = os.path.join(out_dir, "memprobe")
    subprocess.run([_cc(), "-O2", "-std=c99", str(HERE / "roofline" / "memprobe.c"), "-o", exe],
                   check=True)
    out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


TREE_LEAVES = (1_024, 16_384, 131_072, 953_312, 2_000_000)
TREE_DIRTY = 5  # leaves a hop rewrites: LGPS at 600 K, 4.6 per hop on average (1 024 sites)


def treeprobe(out_dir: str, leaves=TREE_LEAVES, steps: int = 2_000_000,
              dirty: int = TREE_DIRTY) -> list[dict]:
    """Compile roofline/treeprobe.c with the engine's sum tree and flags and run it once
    per number of leaves; one dict per size (ns per step: ``select_ns``, ``step_ns``)."""
    exe = os.path.join(out_dir, "treeprobe")
    csrc = HERE.parent / "csrc"
    subprocess.run([_cc(), *ENGINE_CFLAGS, f"-I{csrc}", str(HERE / "roofline" / "treeprobe.c"),
                    str(csrc / "kmc_sumtree.c"), "-o", exe], check=True)
    return [json.loads(subprocess.run([exe, str(n), str(steps), str(dirty)], check=True,
                                      capture_output=True, text=True).stdout)
            for n in leaves]


def roofline(exes: list[str], L: int, c: float, hops: int) -> dict:
    """The faster variant's best of three runs (the speed of light at this size)."""
    best = None
    for _ in range(3):
        for exe in exes:
            r = json.loads(subprocess.run([exe, str(L), str(c), str(hops)], check=True,
                                          capture_output=True, text=True).stdout)
            if best is None or r["hops_per_s"] > best["hops_per_s"]:
                best = r
    return best


def engine(L: int, c: float, hops: int, compact: bool = True) -> dict:
    """kmc in a fresh process (so that its peak resident memory is this size's alone)."""
    cmd = [sys.executable, __file__, "--one", str(L), str(c), str(hops)]
    if not compact:
        cmd.append("--site-network")
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def engine_here(L: int, c: float, hops: int, compact: bool) -> dict:
    t0 = time.perf_counter()
    net = build_lattice("sc", size=L, a=3.0, barrier_eV=0.3, compact=compact)
    sim = kmc.Simulation(net, 300.0, occupancy=c, seed=1)
    eng = sim.engine
    setup = time.perf_counter() - t0
    eng.run(min(hops // 10, 1_000_000))
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        done, _ = eng.run(hops)
        best = max(best, done / (time.perf_counter() - t))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # bytes (Linux: kB)
    return {"sites": net.n_sites, "hops_per_s": best, "mode": eng.mode,
            "engine_B_per_site": eng.memory_bytes / net.n_sites, "setup_s": setup,
            "peak_rss_MB": peak / 2**20, "process_B_per_site": peak / net.n_sites,
            "network": type(net).__name__}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="include 10^7 sites")
    ap.add_argument("--hops", type=int, default=10_000_000)
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--memory", action="store_true",
                    help="also measure the memory latency and random-load cost by size")
    ap.add_argument("--tree", action="store_true",
                    help="only measure the engine's sum tree alone by number of leaves")
    ap.add_argument("--site-network", action="store_true",
                    help="simulate a SiteNetwork (per-hop arrays) instead of the compact "
                         "PeriodicNetwork")
    ap.add_argument("--one", nargs=3, metavar=("L", "C", "HOPS"),
                    help=argparse.SUPPRESS)  # internal: one kmc measurement, JSON on stdout
    args = ap.parse_args()
    if args.one:
        L, c, hops = int(args.one[0]), float(args.one[1]), int(args.one[2])
        print(json.dumps(engine_here(L, c, hops, not args.site_network)))
        return
    if args.tree:
        with tempfile.TemporaryDirectory() as tmp:
            tree = treeprobe(tmp)
        if args.json:
            print(json.dumps({"tree": tree}))
            return
        for t in tree:
            print(f"{t['n_leaves']:>9d} leaves ({t['tree_bytes'] / 2**20:6.2f} MiB): select "
                  f"{t['select_ns']:6.1f} ns, select and update of {t['d']} leaves "
                  f"{t['step_ns']:6.1f} ns per step")
        return
    sizes = {**SIZES, **(FULL if args.full else {})}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        exes = compile_roofline(tmp)
        for n, L in sizes.items():
            for c in (0.5, 0.05):
                roof = roofline(exes, L, c, args.hops)
                kmc_ = engine(L, c, args.hops, compact=not args.site_network)
                rows.append({"sites": kmc_["sites"], "occupancy": c,
                             "roofline_hops_per_s": roof["hops_per_s"],
                             "roofline_B_per_site": roof["bytes_per_site"],
                             "kmc_hops_per_s": kmc_["hops_per_s"],
                             "ratio": kmc_["hops_per_s"] / roof["hops_per_s"],
                             **{k: kmc_[k] for k in ("mode", "engine_B_per_site", "setup_s",
                                                    "peak_rss_MB", "process_B_per_site",
                                                    "network")}})
                if not args.json:
                    r = rows[-1]
                    print(f"{r['sites']:>9d} c={c:<4g} roofline {r['roofline_hops_per_s'] / 1e6:6.2f}"
                          f" M/s  kmc {r['kmc_hops_per_s'] / 1e6:6.2f} M/s ({r['mode']})  ratio "
                          f"{r['ratio']:.2f}  {r['engine_B_per_site']:.0f} B/site  set-up "
                          f"{r['setup_s']:.2f} s  peak RSS {r['peak_rss_MB']:.0f} MB "
                          f"({r['process_B_per_site']:.0f} B/site)",
                          flush=True)
        memory = memprobe(tmp) if args.memory else []
    machine = {"machine": platform.machine(), "processor": platform.processor(),
               "python": platform.python_version(), "kmc": kmc.__version__}
    if args.json:
        print(json.dumps({"machine": machine, "rows": rows, "memory": memory}))
    else:
        small = [r for r in rows if r["sites"] == min(sizes) * 1]
        big = [r for r in rows if r["sites"] == max(r["sites"] for r in rows)]
        for c in (0.5, 0.05):
            s = [r for r in small if r["occupancy"] == c]
            b = [r for r in big if r["occupancy"] == c]
            if s and b:
                print(f"c={c:g}: kmc at {b[0]['sites']} sites runs at "
                      f"{b[0]['kmc_hops_per_s'] / s[0]['kmc_hops_per_s']:.2f} of its speed at "
                      f"{s[0]['sites']} (roofline: "
                      f"{b[0]['roofline_hops_per_s'] / s[0]['roofline_hops_per_s']:.2f})")
        for m in memory:
            print(f"working set {m['bytes'] / 2**20:8.3f} MiB: dependent load "
                  f"{m['latency_ns']:6.1f} ns, random load with 16 in flight "
                  f"{m['throughput_ns']:5.2f} ns")
        print(json.dumps(machine), file=sys.stderr)


if __name__ == "__main__":
    main()
