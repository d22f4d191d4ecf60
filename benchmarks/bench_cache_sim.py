"""Cache misses per hop of the engine, counted by valgrind's cache model (callgrind).

For machines without hardware counters (a guest whose `perf stat` reports cache events as
"not supported"): a case of `bench_scaling.py` is built and run under
``valgrind --tool=callgrind --cache-sim=yes``, collecting inside ``kmc_engine_run`` only,
once per simulated last-level cache size; the table gives instructions, L1 misses and
misses beyond each cache size per hop, and with ``--functions`` the same per function of
the engine. The model ignores software prefetches (it counts the misses that prefetching
tries to hide) and is single-level beyond L1, so each size is its own run.

Needs valgrind (Debian: ``apt-get install valgrind``); each run of 10^6 sites takes 2-3 min.

Usage::

    python benchmarks/bench_cache_sim.py --case lgps --size 31,31,31 --hops 100000 \\
        --ll-mib 1,8,32 [--functions]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

WORKER = """
import sys
sys.path.insert(0, {here!r})
from bench_scaling import build
sim = build({case!r}, {size!r})
e = sim.engine
e.run({hops})  # warm-up (collected too: the same steady state)
e.run({hops})
print("SITES", sim.network.n_sites, "STEPS", e.steps, flush=True)
"""

# callgrind's event order with --cache-sim=yes
EVENTS = ("Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw")


def _numbers(text: str) -> list[int]:
    """The leading event counts of a callgrind_annotate line ("." is 0)."""
    out = []
    for tok in re.sub(r"\(\s*[\d.]+%\)", " ", text).split():
        if not re.fullmatch(r"[\d,]+|\.", tok):
            break
        out.append(0 if tok == "." else int(tok.replace(",", "")))
    return out[:len(EVENTS)]


def run_one(case: str, size, hops: int, ll_bytes: int, workdir: str) -> dict:
    """One callgrind run; returns the totals and per-function events (dicts of EVENTS)."""
    out = os.path.join(workdir, f"cg.{ll_bytes}.out")
    script = os.path.join(workdir, "worker.py")
    with open(script, "w") as f:
        f.write(WORKER.format(here=HERE, case=case, size=size, hops=hops))
    cmd = ["valgrind", "--tool=callgrind", "--cache-sim=yes", "--D1=32768,8,64",
           f"--LL={ll_bytes},16,64", "--collect-atstart=no",
           "--toggle-collect=kmc_engine_run", f"--callgrind-out-file={out}",
           sys.executable, script]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    m = re.search(r"SITES (\d+) STEPS (\d+)", r.stdout)
    if r.returncode != 0 or not m:
        raise SystemExit(f"valgrind run failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
    ann = subprocess.run(["callgrind_annotate", "--inclusive=no", out],
                         capture_output=True, text=True, check=True).stdout
    total, funcs = parse_annotate(ann)
    return {"sites": int(m.group(1)), "hops": 2 * hops, "total": total, "functions": funcs}


def parse_annotate(text: str) -> tuple[dict, dict]:
    """The program totals and the per-function events (dicts of EVENTS) of
    ``callgrind_annotate --inclusive=no`` output (functions keyed "file:function")."""
    total, funcs = None, {}
    for line in text.splitlines():
        if "Auto-annotated source" in line:
            break  # (the per-line listings follow the per-function table)
        if "PROGRAM TOTALS" in line:
            total = dict(zip(EVENTS, _numbers(line)))
        elif total is not None and re.match(r"\s*[\d,]+ \(", line) and ":" in line:
            name = line.split()[-2] if line.rstrip().endswith("]") else line.split()[-1]
            vals = _numbers(line)
            if len(vals) == len(EVENTS):
                funcs[name.rsplit("/", 1)[-1]] = dict(zip(EVENTS, vals))
    if total is None:
        raise SystemExit("callgrind_annotate gave no totals")
    return total, funcs


def per_hop(ev: dict, hops: int) -> tuple[float, float, float]:
    return (ev["Ir"] / hops, (ev["D1mr"] + ev["D1mw"]) / hops,
            (ev["DLmr"] + ev["DLmw"]) / hops)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", default="lgps", help="a bench_scaling.py case (lgps, pairs, ...)")
    ap.add_argument("--size", default="31,31,31",
                    help="its size: cells a,b,c for lgps and nasicon, L for the others")
    ap.add_argument("--hops", type=int, default=100_000, help="hops per run (two runs)")
    ap.add_argument("--ll-mib", default="1,8,32", help="simulated last-level sizes, MiB")
    ap.add_argument("--functions", action="store_true", help="also per engine function")
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        print("valgrind (with callgrind_annotate) is needed: apt-get install valgrind",
              file=sys.stderr)
        return 2
    size = ([int(v) for v in args.size.split(",")] if "," in args.size else int(args.size))
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for mib in [float(v) for v in args.ll_mib.split(",")]:
            res = run_one(args.case, size, args.hops, int(mib * 2**20), tmp)
            rows.append((mib, res))
    print(f"{args.case}, {rows[0][1]['sites']} sites, {rows[0][1]['hops']} hops counted "
          f"(two runs of {args.hops})")
    print("| LL MiB | instructions / hop | L1 misses / hop | misses beyond LL / hop |")
    print("|---:|---:|---:|---:|")
    for mib, res in rows:
        ir, l1, ll = per_hop(res["total"], res["hops"])
        print(f"| {mib:g} | {ir:.0f} | {l1:.1f} | {ll:.2f} |")
    if args.functions:
        for mib, res in rows:
            print(f"\nLL = {mib:g} MiB, per function: instructions, L1 and LL misses per hop")
            for name, ev in sorted(res["functions"].items(), key=lambda kv: -kv[1]["Ir"]):
                ir, l1, ll = per_hop(ev, res["hops"])
                if ir >= 1:
                    print(f"  {name:50s} {ir:7.0f} {l1:7.2f} {ll:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
