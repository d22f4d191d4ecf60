"""sigma(x) of NASICON Na(1+x)Zr2Si(x)P(3-x)O12 with the Deng et al. 2022 model (kmc's built-in
``nasicon``): the reproduction table of docs/materials/nasicon.md.

For every (x, T) the conductivity, tracer diffusivity, Haven ratio and the Na1 occupancy are
averaged over independent Si/P arrangements (``disorder_seed``), each run with its own
seed; the error of the mean is the standard error over the arrangements (which holds both
the run noise and the arrangement-to-arrangement spread). The maximum of sigma(x) is found
from the numbers, nothing is put in.

    python benchmarks/nasicon_sigma_x.py                       # the docs' table
    python benchmarks/nasicon_sigma_x.py --quick               # a smoke run
    python benchmarks/nasicon_sigma_x.py --x 2.4 --T 443 --arrangements 8 --steps 2e7

Writes JSON (``--out``) with every run and the averages.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import kmc


def one(args: tuple) -> dict:
    x, T, arrangement, steps, size, fit = args
    m = kmc.build_material("nasicon", x=x, disorder_seed=arrangement, size=size, lce_fit=fit)
    sim = kmc.Simulation.from_material(m, T, seed=1000 + arrangement)
    r = sim.run(steps=int(steps))
    ions = sim.engine.get_state()["ion_site"]
    na1 = np.flatnonzero(m.network.site_types == m.network.site_type_names.index("Na1"))
    t = r.transport
    return {"x": x, "T_K": T, "arrangement": arrangement, "n_ions": m.n_ions,
            "n_sites": m.network.n_sites, "hops": r.hops, "wall_s": r.wall_s,
            "sigma_S_cm": t.sigma_S_cm, "sigma_S_cm_err": t.sigma_S_cm_err,
            "D_tracer_cm2_s": t.D_tracer_cm2_s, "D_tracer_cm2_s_err": t.D_tracer_cm2_s_err,
            "haven_ratio": t.haven_ratio, "correlation_factor": t.correlation_factor,
            "diffusive": bool(t.diffusive), "converged": bool(r.converged),
            "na1_occupancy": float(np.isin(ions, na1).sum() / na1.size),
            "na2_occupancy": float((~np.isin(ions, na1)).sum() / (m.network.n_sites - na1.size))}


def mean_err(v: list[float]) -> tuple[float, float]:
    a = np.asarray(v, dtype=float)
    return float(a.mean()), float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else math.nan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--x", type=float, nargs="+", default=[1.0, 1.5, 2.0, 2.4, 2.8])
    ap.add_argument("--T", type=float, nargs="+", default=[373.0, 473.0, 573.0])
    ap.add_argument("--arrangements", type=int, default=4)
    ap.add_argument("--steps", type=float, default=2e7)
    ap.add_argument("--size", type=int, nargs=3, default=[3, 3, 1])
    ap.add_argument("--fit", default="deng2022")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="x 1 and 2.4 at 573 K, 2 x 1e6 hops")
    ap.add_argument("--out", default="nasicon_sigma_x.json")
    a = ap.parse_args()
    if a.quick:
        a.x, a.T, a.arrangements, a.steps = [1.0, 2.4], [573.0], 2, 1e6
    # arrangement outermost: a table stopped early has every (x, T) with fewer arrangements
    jobs = [(x, T, k, a.steps, tuple(a.size), a.fit) for k in range(a.arrangements)
            for T in a.T for x in a.x]
    t0 = time.time()
    # every finished run is appended to OUT.runs.jsonl at once, and a rerun takes it from
    # there: an interrupted table resumes where it stopped
    log = a.out + ".runs.jsonl"
    done = {}
    if os.path.exists(log):
        with open(log) as f:
            for line in f:
                r = json.loads(line)
                done[(r["x"], r["T_K"], r["arrangement"], r["steps"], tuple(r["size"]),
                      r["fit"])] = r
    todo = [j for j in jobs if (j[0], j[1], j[2], j[3], j[4], j[5]) not in done]
    with ProcessPoolExecutor(a.workers) as pool, open(log, "a") as f:
        for job, r in zip(todo, pool.map(one, todo)):
            r.update(steps=job[3], size=list(job[4]), fit=job[5])
            f.write(json.dumps(r) + "\n")
            f.flush()
            done[(job[0], job[1], job[2], job[3], job[4], job[5])] = r
    runs = [done[j] for j in jobs]
    rows = []
    for T in a.T:
        for x in a.x:
            rs = [r for r in runs if r["x"] == x and r["T_K"] == T]
            row = {"x": x, "T_K": T, "runs": len(rs),
                   "diffusive_runs": sum(r["diffusive"] for r in rs)}
            for k in ("sigma_S_cm", "D_tracer_cm2_s", "haven_ratio", "na1_occupancy"):
                row[k], row[k + "_err"] = mean_err([r[k] for r in rs])
            rows.append(row)
    out = {"settings": {"x": a.x, "T_K": a.T, "arrangements": a.arrangements,
                        "steps": a.steps, "size": a.size, "fit": a.fit,
                        "n_sites": runs[0]["n_sites"]},
           "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
           "kmc": kmc.__version__, "wall_s": time.time() - t0, "rows": rows, "runs": runs}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"NASICON (Deng 2022 LCE, fit {a.fit}), {runs[0]['n_sites']} Na sites "
          f"(size {tuple(a.size)}), {a.arrangements} Si/P arrangements x {a.steps:.2g} hops")
    print("| T (K) | x | sigma (S/cm) | D* (cm^2/s) | H_R | Na1 occupancy | diffusive |")
    print("|---:|---:|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['T_K']:.0f} | {r['x']:g} | {r['sigma_S_cm']:.3g} +/- {r['sigma_S_cm_err']:.2g} "
              f"| {r['D_tracer_cm2_s']:.3g} +/- {r['D_tracer_cm2_s_err']:.2g} "
              f"| {r['haven_ratio']:.3g} +/- {r['haven_ratio_err']:.2g} "
              f"| {r['na1_occupancy']:.3f} +/- {r['na1_occupancy_err']:.3f} "
              f"| {r['diffusive_runs']}/{r['runs']} |")
    for T in a.T:
        rs = [r for r in rows if r["T_K"] == T]
        best = max(rs, key=lambda r: r["sigma_S_cm"])
        print(f"{T:.0f} K: maximum sigma at x = {best['x']:g}")


if __name__ == "__main__":
    main()
