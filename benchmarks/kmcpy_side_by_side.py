"""kmc against kMCpy on kMCpy's NASICON test model: the table of benchmarks/README.md.

kMCpy's numbers are recorded in tests/data/kmcpy/kmcpy_nasicon_runs.json (made by
benchmarks/kmcpy_peer.py with kMCpy in its own venv: one trajectory per seed, 500
equilibration and 6000 production passes of 16 hops, end values from the start of
production, averaged over the seeds). kmc runs the same model (kmc.interop.kmcpy, the
event file regenerated for pymatgen 2026's site order: the same hops and environments) in
two ways:

* "fit": one long run, D from the MSD over lag times (kmc's estimator);
* "kMCpy's estimator": many independent trajectories of kMCpy's length, each evaluated
  with kMCpy's end-value formulas (D_J = |sum R|^2 / (6 t N), D* = <R^2> / (6 t),
  f = mean_i R_i^2 / (n_i a^2)), averaged: the same statistic kMCpy reports, so that the
  two codes are compared on the same footing as well as against the long-time value.

    python benchmarks/kmcpy_side_by_side.py             # 60 M hops per T, 400 trajectories
    python benchmarks/kmcpy_side_by_side.py --quick     # 5 M hops, 100 trajectories

Needs pymatgen (pip install '.[kmcpy]').
"""

from __future__ import annotations

import argparse
import json
import math
from importlib import resources
from pathlib import Path

import numpy as np

import kmc
from kmc._engine import Engine
from kmc.interop.kmcpy import kmcpy_material

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "kmcpy"
A_HOP = 3.47782  # kMCpy's elementary_hop_distance, Angstrom
NU = 5e12


def material():
    cif = Path(resources.files("kmc.data").joinpath("structures/nasicon_Na4Zr2Si3O12_573K.cif"))
    return kmcpy_material(cif, DATA / "model.json", DATA / "events_regenerated.json",
                          DATA / "initial_state.json", (2, 1, 1))


def kmcpy_estimator(m, T, n_traj, eq_hops=8000, prod_hops=96000, seed0=1000):
    """Mean and standard error of kMCpy's end-value estimators over n_traj trajectories."""
    net, n = m.network, m.n_ions
    rows = []
    for k in range(n_traj):
        eng = Engine(ion_sites=np.array(m.info["ion_sites"], np.int32), **net.engine_arrays(),
                     temperature_K=T, attempt_frequency_Hz=NU, seed=seed0 + k,
                     rate_law="kmcpy")
        eng.run(eq_hops)
        s0 = eng.get_state()
        eng.run(prod_hops)
        s1 = eng.get_state()
        t = s1["time_s"] - s0["time_s"]
        R = s1["displacement"] - s0["displacement"]
        hops = (s1["ion_hops"] - s0["ion_hops"]).astype(float)
        r2 = np.sum(R**2, axis=1)
        rows.append((np.sum(R.sum(axis=0) ** 2) / (6 * t * n) * 1e-16,
                     r2.mean() / (6 * t) * 1e-16,
                     np.mean(np.where(hops > 0, r2 / np.maximum(hops, 1) / A_HOP**2, 0.0))))
    v = np.array(rows)
    return v.mean(axis=0), v.std(axis=0, ddof=1) / math.sqrt(len(v))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    hops, n_traj = (5_000_000, 100) if args.quick else (60_000_000, 400)
    peer = json.loads((DATA / "kmcpy_nasicon_runs.json").read_text())
    m = material()
    print(f"kmc {kmc.__version__}; kMCpy {peer['kmcpy_commit'][:7]}")
    print(f"{'T K':>5} {'quantity':>12} {'kMCpy (seeds)':>24} {'kmc fit':>24} "
          f"{'kmc, kMCpy estimator':>24}")
    for T in (873.0, 573.0):
        s = peer["summary"][f"{int(T)}K"]
        res = kmc.Simulation(m.network, T, ion_sites=m.info["ion_sites"], seed=1,
                             attempt_frequency_Hz=NU, rate_law="kmcpy").run(hops)
        est, err = kmcpy_estimator(m, T, n_traj)
        hr_p = s["haven_ratio_of_means_Dtracer_over_DJ"], s["haven_ratio_of_means_sem_delta"]
        rows = [
            ("D* cm2/s", (s["D_tracer_cm2_s"]["mean"], s["D_tracer_cm2_s"]["sem"]),
             (res.D_tracer_cm2_s, res.D_tracer_cm2_s_err), (est[1], err[1])),
            ("D_J cm2/s", (s["D_J_cm2_s"]["mean"], s["D_J_cm2_s"]["sem"]),
             (res.D_sigma_cm2_s, res.D_sigma_cm2_s_err), (est[0], err[0])),
            ("f", (s["correlation_factor"]["mean"], s["correlation_factor"]["sem"]),
             (res.correlation_factor, res.correlation_factor_err), (est[2], err[2])),
            ("H_R", hr_p, (res.haven_ratio, res.haven_ratio_err),
             (est[1] / est[0], est[1] / est[0] * math.hypot(err[0] / est[0], err[1] / est[1]))),
            ("sigma mS/cm", (s["conductivity_mS_cm"]["mean"], s["conductivity_mS_cm"]["sem"]),
             (res.sigma_S_cm * 1e3, res.sigma_S_cm_err * 1e3), (None, None)),
        ]
        for name, p, f, e in rows:
            cells = [f"{a:.4g} +- {b:.2g}" if a is not None else "-" for a, b in (p, f, e)]
            z = (f[0] - p[0]) / math.hypot(f[1], p[1])
            print(f"{T:>5.0f} {name:>12} {cells[0]:>24} {cells[1]:>24} {cells[2]:>24}"
                  f"   (fit - kMCpy) / err = {z:+.2f}", flush=True)
        print(f"      kmc: {res.hops} hops, {res.hops_per_s / 1e6:.2f} M hops/s; "
              f"{'diffusive' if res.diffusive else 'NOT diffusive'}")


if __name__ == "__main__":
    main()
