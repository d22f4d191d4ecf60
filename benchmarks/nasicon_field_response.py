"""NASICON (Deng et al. 2022 model): the conductivity as the response to a field.

The model's rates break detailed balance, and in a periodic cell with a fixed Si/P
arrangement they drive a current without a field (docs/materials/nasicon.md), so the
Nernst-Einstein sigma from the collective displacement is not a linear-response
conductivity. The response is: for each arrangement and axis k, runs with fields +E and -E
along k (same seed) give sigma_drift(+E) and sigma_drift(-E); their mean cancels the
zero-field current's component along k (it enters the two with opposite signs), and the
mean over the three axes is the conductivity of the (cubic-averaged) response
(`kmc.field_response`). Set beside
it: the Nernst-Einstein sigma of a zero-field run of the same arrangement, and D*.

    python benchmarks/nasicon_field_response.py                  # x 1.5 2.0 2.4 at 573 K
    python benchmarks/nasicon_field_response.py --x 2 --arrangements 1 --steps 2e6
    python benchmarks/nasicon_field_response.py --lce-fit kmcpy_example   # kMCpy's example fit

E is chosen so that q E a / kT = --response (default 0.05, a the rms hop length).
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor

import kmc


def one(args: tuple) -> dict:
    """A zero-field run (Nernst-Einstein sigma, D*) and kmc.field_response of one
    (x, arrangement)."""
    x, T, arrangement, steps, size, response, fit = args
    m = kmc.build_material("nasicon", x=x, size=size, disorder_seed=arrangement, lce_fit=fit)
    t = kmc.Simulation(m, T, seed=100 + arrangement).run(steps=int(steps)).transport
    r = kmc.field_response(m, T, steps=int(steps), seed=100 + arrangement,
                           field_parameter=response)
    return {"x": x, "T_K": T, "arrangement": arrangement,
            "sigma_response_S_cm": r.sigma_S_cm, "sigma_response_S_cm_err": r.sigma_S_cm_err,
            "sigma_plus_S_cm": r.sigma_plus_S_cm.tolist(),
            "sigma_minus_S_cm": r.sigma_minus_S_cm.tolist(),
            "E_V_per_A": r.field_V_per_angstrom,
            "sigma_NE_S_cm": t.sigma_S_cm, "sigma_NE_S_cm_err": t.sigma_S_cm_err,
            "D_tracer_cm2_s": t.D_tracer_cm2_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--x", type=float, nargs="+", default=[1.5, 2.0, 2.4])
    ap.add_argument("--T", type=float, default=573.0)
    ap.add_argument("--arrangements", type=int, default=2)
    ap.add_argument("--steps", type=float, default=4e6)
    ap.add_argument("--size", type=int, nargs=3, default=[4, 4, 2])
    ap.add_argument("--response", type=float, default=0.05)
    ap.add_argument("--lce-fit", default="deng2022",
                    help="the parameters of the expansions (kmc.materials nasicon lce_fit)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="nasicon_field_response.json")
    a = ap.parse_args()
    jobs = [(x, a.T, k, a.steps, tuple(a.size), a.response, a.lce_fit) for x in a.x
            for k in range(a.arrangements)]
    with ProcessPoolExecutor(a.workers) as pool:
        rows = list(pool.map(one, jobs))
    print(f"NASICON ({a.lce_fit}), {a.T:g} K, size {tuple(a.size)}, |E| = {rows[0]['E_V_per_A']:.3g} V/A "
          f"(qEa/kT = {a.response}), {a.steps:.2g} events per run")
    print("| x | arrangement | sigma response (S/cm) | sigma N-E zero field (S/cm) | "
          "D* (cm^2/s) |")
    print("|---:|---:|---|---|---|")
    for r in rows:
        print(f"| {r['x']:g} | {r['arrangement']} | {r['sigma_response_S_cm']:.3g} +- "
              f"{r['sigma_response_S_cm_err']:.2g} | {r['sigma_NE_S_cm']:.3g} +- "
              f"{r['sigma_NE_S_cm_err']:.2g} | {r['D_tracer_cm2_s']:.3g} |")
    with open(a.out, "w") as f:
        json.dump({"settings": vars(a), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
