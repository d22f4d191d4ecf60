"""NASICON (Deng et al. 2022 model): the conductivity as the response to a field.

The model's rates break detailed balance, and in a periodic cell with a fixed Si/P
arrangement they drive a current without a field (docs/materials/nasicon.md), so the
Nernst-Einstein sigma from the collective displacement is not a linear-response
conductivity. The response is: for each arrangement and axis k, runs with fields +E and -E
along k (same seed) give sigma_drift(+E) and sigma_drift(-E); their mean cancels the
zero-field current's component along k (it enters the two with opposite signs), and the
mean over the three axes is the conductivity of the (cubic-averaged) response. Set beside
it: the Nernst-Einstein sigma of a zero-field run of the same arrangement, and D*.

    python benchmarks/nasicon_field_response.py                  # x 1.5 2.0 2.4 at 573 K
    python benchmarks/nasicon_field_response.py --x 2 --arrangements 1 --steps 2e6

E is chosen so that q E a / kT = --response (default 0.05, a = 3.478 A): linear response.
"""

from __future__ import annotations

import argparse
import json
import math
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import kmc
from kmc.constants import KB_EV_PER_K

A_HOP = 3.478


def one(args: tuple) -> dict:
    x, T, arrangement, steps, size, field = args
    m = kmc.build_material("nasicon", x=x, size=size, disorder_seed=arrangement)
    sim = kmc.Simulation(m, T, seed=100 + arrangement,
                         field_V_per_angstrom=None if field is None else list(field))
    t = sim.run(steps=int(steps)).transport
    return {"x": x, "T_K": T, "arrangement": arrangement, "field": field,
            "sigma_drift_S_cm": t.sigma_drift_S_cm, "sigma_drift_S_cm_err": t.sigma_drift_S_cm_err,
            "sigma_S_cm": t.sigma_S_cm, "sigma_S_cm_err": t.sigma_S_cm_err,
            "D_tracer_cm2_s": t.D_tracer_cm2_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--x", type=float, nargs="+", default=[1.5, 2.0, 2.4])
    ap.add_argument("--T", type=float, default=573.0)
    ap.add_argument("--arrangements", type=int, default=2)
    ap.add_argument("--steps", type=float, default=4e6)
    ap.add_argument("--size", type=int, nargs=3, default=[4, 4, 2])
    ap.add_argument("--response", type=float, default=0.05)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="nasicon_field_response.json")
    a = ap.parse_args()
    E = a.response * KB_EV_PER_K * a.T / A_HOP  # V/A
    fields = [None] + [tuple(s * E * np.eye(3)[k]) for k in range(3) for s in (1.0, -1.0)]
    jobs = [(x, a.T, k, a.steps, tuple(a.size), f) for x in a.x
            for k in range(a.arrangements) for f in fields]
    with ProcessPoolExecutor(a.workers) as pool:
        runs = list(pool.map(one, jobs))
    print(f"NASICON, {a.T:g} K, size {tuple(a.size)}, |E| = {E:.3g} V/A "
          f"(qEa/kT = {a.response}), {a.steps:.2g} events per run")
    print("| x | arrangement | sigma response (S/cm) | sigma N-E zero field (S/cm) | "
          "D* (cm^2/s) |")
    print("|---:|---:|---|---|---|")
    rows = []
    for x in a.x:
        for k in range(a.arrangements):
            rs = [r for r in runs if r["x"] == x and r["arrangement"] == k]
            zero = next(r for r in rs if r["field"] is None)
            resp = [r for r in rs if r["field"] is not None]
            s = np.array([r["sigma_drift_S_cm"] for r in resp])
            e = np.array([r["sigma_drift_S_cm_err"] for r in resp])
            val, err = float(s.mean()), float(math.sqrt(np.sum(e ** 2)) / len(s))
            rows.append({"x": x, "arrangement": k, "sigma_response_S_cm": val,
                         "sigma_response_S_cm_err": err, "per_field": s.tolist(),
                         "sigma_NE_S_cm": zero["sigma_S_cm"],
                         "sigma_NE_S_cm_err": zero["sigma_S_cm_err"],
                         "D_tracer_cm2_s": zero["D_tracer_cm2_s"]})
            print(f"| {x:g} | {k} | {val:.3g} +- {err:.2g} | {zero['sigma_S_cm']:.3g} +- "
                  f"{zero['sigma_S_cm_err']:.2g} | {zero['D_tracer_cm2_s']:.3g} |")
    with open(a.out, "w") as f:
        json.dump({"settings": vars(a), "E_V_per_A": E, "rows": rows, "runs": runs}, f,
                  indent=1)


if __name__ == "__main__":
    main()
