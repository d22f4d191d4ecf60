"""LGPS: tracer D along c and in the ab plane, and the anisotropy, against first-principles
and single-crystal references.

Prints, for T = 600, 700, 800, 900 K (the AIMD range) and 300 K:
  D*_c = D_zz and D*_ab = (D_xx + D_yy) / 2 with their standard errors (block analysis of the
  run), their ratio, sigma_c / sigma_ab from the collective (charge) tensor, and the Haven
  ratios H = D*/D_sigma along c and in ab (kmc.validate.REFERENCE_QUANTITIES, errors of D*
  and D_sigma added as if independent); then the total D* at 518 and 1176 K;
then the Arrhenius activation energy of D* over 600-900 K.
References it sets beside them (see docs/materials/lgps.md for the sources and flags):
  * single crystal, room temperature: sigma[001] / sigma[110] = 27 / 7 = 3.9 (Iwasaki et al.
    2019, via the Wang et al. 2021 review) [S];
  * tetragonal LGPS, Car-Parrinello MD: Ea = 0.18 eV (Materzanini et al., arXiv 2010.08068,
    abstract) [V];
  * Car-Parrinello MD (Marcolongo & Marzari, Phys. Rev. Materials 1, 025402 (2017), read in a
    transcription) [S]: Haven ratio D*/D_sigma 0.36 along c, 0.61 in ab, 0.42 in 3D (no trend
    over 550-1150 K), tracer D* on its Arrhenius line 6.3e-6 cm2/s at 518 K and 5.6e-5 at
    1176 K (figure-read), tracer Ea 0.17 +- 0.01 eV;
  * NMR: nearly isotropic Li hopping, Ea = 0.22 eV (Kuhn, Duppel & Lotsch 2013, abstract) [V].

The attempt frequency is the material file's ([attempt_frequency], 4.4e12 Hz).

Run: python benchmarks/lgps_anisotropy.py [--steps N] [--size a b c]
(default 2e7 hops per temperature on the 3x3x2 supercell; about a minute on one core)
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import kmc
from kmc.materials import build_material, material_spec
from kmc.validate import REFERENCE_QUANTITIES

TEMPS_K = (600.0, 700.0, 800.0, 900.0)
CPMD_D_TRACER = {518.0: 6.31e-6, 1176.0: 5.62e-5}   # cm2/s, Marcolongo & Marzari [S]
CPMD_HAVEN = {"c": 0.36, "ab": 0.61, "3D": 0.42}   # the same, after the drift correction
SINGLE_CRYSTAL_RATIO = 27.0 / 7.0      # sigma[001] / sigma[110], RT [S]
EA_CPMD_EV = 0.18                      # Materzanini et al. [V]
EA_NMR_EV = 0.22                       # Kuhn, Duppel & Lotsch [V]


def attempt_frequency_Hz() -> float:
    return float(material_spec("lgps").data["attempt_frequency"]["value_Hz"])


def c_ab(tensor: np.ndarray, err: np.ndarray) -> tuple[float, float, float, float]:
    """(D_c, err, D_ab, err) from a 3x3 tensor and its errors (ab = mean of xx and yy)."""
    d_c, e_c = float(tensor[2, 2]), float(err[2, 2])
    d_ab = 0.5 * float(tensor[0, 0] + tensor[1, 1])
    e_ab = 0.5 * math.hypot(float(err[0, 0]), float(err[1, 1]))
    return d_c, e_c, d_ab, e_ab


def ratio(a: float, ea: float, b: float, eb: float) -> tuple[float, float]:
    r = a / b
    return r, abs(r) * math.hypot(ea / a, eb / b)


def run(T: float, steps: int, size: tuple[int, int, int], seed: int):
    """One run at T. Below 600 K the ions are first equilibrated at 600 K: the 4c sites fill
    and empty only through the slow ab_4c hops, ~1e6 (mostly in-channel) hops at 300 K."""
    m = build_material("lgps", size=size)
    nu = attempt_frequency_Hz()
    start = {"n_ions": m.n_ions}
    if T < 600.0:
        hot = kmc.Simulation(m.network, 600.0, n_ions=m.n_ions, seed=seed,
                             attempt_frequency_Hz=nu)
        hot.run(steps=500_000, equilibration=500_000, blocks=2)
        start = {"ion_sites": hot.engine.get_state()["ion_site"]}
    sim = kmc.Simulation(m.network, T, seed=seed, attempt_frequency_Hz=nu, **start)
    return sim.run(steps=steps, equilibration=steps // 5, blocks=20).transport


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20_000_000)
    ap.add_argument("--size", type=int, nargs=3, default=(3, 3, 2))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    size = tuple(args.size)
    print(f"LGPS, supercell {size}, {args.steps:g} hops per temperature, "
          f"nu = {attempt_frequency_Hz():.2g} Hz")
    print(f"{'T/K':>5} {'D*_c cm2/s':>18} {'D*_ab cm2/s':>18} {'D*_c/D*_ab':>12} "
          f"{'sig_c/sig_ab':>14} {'H_c':>11} {'H_ab':>11} {'H':>11} {'wall/s':>7}")
    d_tot, d_tot_err, haven = [], [], {k: [] for k in CPMD_HAVEN}
    for T in (*TEMPS_K, 300.0, *CPMD_D_TRACER):
        t0 = time.time()
        t = run(T, args.steps, size, args.seed)
        dc, ec, dab, eab = c_ab(t.D_tracer_tensor_cm2_s, t.D_tracer_tensor_cm2_s_err)
        sc, esc, sab, esab = c_ab(t.sigma_tensor_S_cm, t.sigma_tensor_S_cm_err)
        r, er = ratio(dc, ec, dab, eab)
        rs, ers = ratio(sc, esc, sab, esab)
        h = {k: REFERENCE_QUANTITIES[q](t) for k, q in
             (("c", "haven_ratio_c"), ("ab", "haven_ratio_ab"), ("3D", "haven_ratio"))}
        hs = " ".join(f"{h[k][0]:5.3f}+-{h[k][1]:5.3f}" for k in CPMD_HAVEN)
        print(f"{T:5.0f} {dc:9.3e}+-{ec:7.1e} {dab:9.3e}+-{eab:7.1e} {r:6.2f}+-{er:4.2f} "
              f"{rs:7.2f}+-{ers:5.2f} {hs} {time.time() - t0:7.1f}   ({t.regime})")
        if T in TEMPS_K:
            d_tot.append(t.D_tracer_cm2_s)
            d_tot_err.append(t.D_tracer_cm2_s_err)
            for k in CPMD_HAVEN:
                haven[k].append(h[k])
        if T in CPMD_D_TRACER:
            ref = CPMD_D_TRACER[T]
            print(f"      D* = {t.D_tracer_cm2_s:.3e} +- {t.D_tracer_cm2_s_err:.1e} cm2/s; "
                  f"CPMD {ref:.3g} [S]: sim/ref {t.D_tracer_cm2_s / ref:.2f}")
    for k, ref in CPMD_HAVEN.items():   # per temperature: kmc's H changes with T
        v = ", ".join(f"{x[0]:.3f}" for x in haven[k])
        print(f"Haven ratio {k:>2s} at 600/700/800/900 K: {v} (CPMD {ref} [S], no trend over "
              f"550-1150 K within its errors)")
    fit = kmc.fit_arrhenius(TEMPS_K, d_tot, d_tot_err, quantity="D", T_ref_K=300.0)
    print(f"Arrhenius of D* over 600-900 K: Ea = {fit.Ea_eV:.3f} +- {fit.Ea_err_eV:.3f} eV "
          f"(CPMD {EA_CPMD_EV} eV [V], tracer 0.17 +- 0.01 eV [S]; NMR {EA_NMR_EV} eV [V])")
    print(f"single crystal sigma[001]/sigma[110] = {SINGLE_CRYSTAL_RATIO:.2f} at RT [S]")


if __name__ == "__main__":
    main()
