"""NASICON: the Deng et al. 2022 kMC protocol, and what its estimator gives for this model.

Deng et al., Nat. Commun. 13, 4470 (2022), Methods: an 8 x 8 x 8 supercell of the primitive
cell (4096 Na sites), 2,048,000 equilibration and 12,288,000 sampling steps (500 and 3000
passes of 4096 hops), Eq. (1) sigma = e^2 C D / (kB T) with D "the diffusivity of the
center-of-mass of Na ions" (Results). kMCpy computes that D from one time origin, the
summed displacement since the start of sampling:
D_J = |sum_i r_i(t)|^2 / (2 d N t) (kmcpy/simulator/property.py). For rates that obey
detailed balance this is the collective diffusivity, noisy but unbiased. The model's site
term breaks detailed balance, and in a periodic cell with fixed Si/P the ions drift without
a field at a summed velocity V (docs/materials/nasicon.md); then
D_J = D_sigma + |V|^2 t / (2 d N) grows with the length t of the run.

This script runs kmc's built-in model with the paper's protocol in passes (a hexagonal
supercell of about their size; random Si/P arrangements, where the paper took canonical-MC
arrangements equilibrated at 1500 K) and prints, per x: D*, kmc's block estimate of D_sigma
and its Nernst-Einstein sigma, kMCpy's one-origin D_J after 1000 and after 3000 passes and
its sigma, the growth D_J(3000) / D_J(1000) (1 for a diffusive D_J, about 3 when the drift
dominates), and H_R = D*/D_J as kMCpy reports it.

    python benchmarks/nasicon_deng2022/paper_protocol.py                   # 573 K, 3456 sites
    python benchmarks/nasicon_deng2022/paper_protocol.py --T 473 --x 2.4 --arrangements 2

Units: K, cm^2/s, S/cm, Angstrom.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import kmc
from kmc.analysis import nernst_einstein_S_cm, single_origin_D_sigma_cm2_s, zero_field_drift


def one(args: tuple) -> dict:
    """One (x, arrangement): equilibrate `eq_passes`, sample `passes` passes of N_sites hops,
    100 blocks of equal simulated time."""
    x, T, arrangement, size, eq_passes, passes, fit = args
    m = kmc.build_material("nasicon", x=x, size=size, disorder_seed=arrangement, lce_fit=fit)
    net = m.network
    n_sites = net.n_sites
    res = kmc.Simulation(m, T, seed=1000 + arrangement).run(
        steps=passes * n_sites, equilibration=eq_passes * n_sites, blocks=100)
    b = res.blocks
    N, d = res.n_ions, 3
    dur = np.asarray(b.duration_s)
    t = res.transport

    def d_j(nb: int) -> float:  # kMCpy's one-origin D_J over the first nb blocks, cm^2/s
        return single_origin_D_sigma_cm2_s(b, N, d, n_blocks=nb)

    nb3 = len(dur)
    nb1 = max(1, round(nb3 / 3))
    _, chi2 = zero_field_drift(b)
    ne = float(nernst_einstein_S_cm(N, net.volume_A3, net.charge_e, 1.0, T))  # S/cm per cm^2/s
    return {"x": x, "T_K": T, "arrangement": arrangement, "n_sites": n_sites, "n_ions": N,
            "events": int(res.hops), "time_s": float(dur.sum()),
            "D_tracer_cm2_s": float(t.D_tracer_cm2_s),
            "D_sigma_blocks_cm2_s": float(t.D_sigma_cm2_s),
            "D_sigma_blocks_cm2_s_err": float(t.D_sigma_cm2_s_err),
            "sigma_NE_blocks_S_cm": float(t.sigma_S_cm),
            "D_J_1000_passes_cm2_s": d_j(nb1), "D_J_3000_passes_cm2_s": d_j(nb3),
            "sigma_kmcpy_S_cm": d_j(nb3) * ne, "D_J_growth": d_j(nb3) / d_j(nb1),
            "drift_chi2": chi2, "H_R_kmcpy": float(t.D_tracer_cm2_s) / d_j(nb3),
            "H_R_blocks": float(t.haven_ratio)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--x", type=float, nargs="+", default=[1.5, 2.1, 2.4, 2.7])
    ap.add_argument("--T", type=float, default=573.0)
    ap.add_argument("--arrangements", type=int, default=3)
    ap.add_argument("--size", type=int, nargs=3, default=[6, 6, 4],
                    help="hexagonal cells (6 6 4: 3456 Na sites; the paper: 4096)")
    ap.add_argument("--eq-passes", type=int, default=500)
    ap.add_argument("--passes", type=int, default=3000)
    ap.add_argument("--lce-fit", default="deng2022")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="nasicon_paper_protocol.json")
    a = ap.parse_args()
    jobs = [(x, a.T, k, tuple(a.size), a.eq_passes, a.passes, a.lce_fit) for x in a.x
            for k in range(a.arrangements)]
    with ProcessPoolExecutor(a.workers) as pool:
        rows = list(pool.map(one, jobs))
    print(f"NASICON ({a.lce_fit}), {a.T:g} K, {rows[0]['n_sites']} Na sites, "
          f"{a.eq_passes} + {a.passes} passes; mean over {a.arrangements} arrangements "
          "(+- standard error)")
    print("| x | D* (cm^2/s) | D_sigma, blocks | sigma N-E, blocks (S/cm) | D_J one origin, "
          "1000 passes | D_J, 3000 passes | D_J(3000) / D_J(1000) | sigma from D_J (S/cm) | "
          "H_R = D*/D_J |")
    print("|---:|---|---|---|---|---|---|---|---|")

    def ms(vals: list[float]) -> str:
        v = np.asarray(vals, float)
        se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
        return f"{v.mean():.2g} +- {se:.1g}"

    for x in a.x:
        rs = [r for r in rows if r["x"] == x]
        cols = ["D_tracer_cm2_s", "D_sigma_blocks_cm2_s", "sigma_NE_blocks_S_cm",
                "D_J_1000_passes_cm2_s", "D_J_3000_passes_cm2_s", "D_J_growth",
                "sigma_kmcpy_S_cm", "H_R_kmcpy"]
        print(f"| {x:g} | " + " | ".join(ms([r[c] for r in rs]) for c in cols) + " |")
    with open(a.out, "w") as f:
        json.dump({"settings": vars(a), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
