"""Derivations of the LGPS model numbers that are kmc's own estimates (lattices/lgps.toml).

1. Site energies that reproduce the refined Li occupancies.
   Input [V]: the neutron refinement of Li10.35Si1.35P1.65S12 (IUCr paper kc5021, 17 K):
   Li1 16h 0.437, Li2 4d 0.931, Li3 8f 0.845, Li4 4c 0.808 = 20.71 Li per cell.
   Method: the lattice gas of the model itself (its sites, its 16h-pair exclusion, its hops),
   filled with the refinement's own Li content (20.708 per cell: 497 ions in a 2x2x6
   supercell of 24 cells), equilibrated by kmc at T_ref = 300 K. The site energies of the four
   site types are found by iterating

       E_k <- E_k + kT ln[ theta_k (theta_max,k - theta*_k) / (theta*_k (theta_max,k - theta_k)) ]

   (theta measured, theta* refined, theta_max = 1/2 for 16h, whose pairs hold one ion, 1 for
   the others), with Li3 (8f) as the zero. Only differences matter (the ion number is fixed).
   The refinement is at 17 K, where Li no longer hops: the occupancies are the distribution
   frozen in on cooling, so T_ref is a modelling choice; 300 K is the temperature kmc validate
   compares at. This is a fit to structural data (occupancies), not to any conductivity.

2. Attempt frequency: harmonic estimate of each hop type. A sinusoidal potential of height
   E_KRA and period lambda (the hop length) has, at its minimum, nu = (1/lambda) sqrt(E_KRA /
   (2 m_Li)). The script prints it for every hop type of the file; the TOML uses a rounded
   typical value.

Run: python benchmarks/lgps_parameters.py [--quick]   (about five minutes; one process)
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import kmc
from kmc.materials import build_material, material_spec
from kmc.simulation import occupancy_statistics

KB_EV_PER_K = 8.617333262e-5
#: Refined occupancies [V]: kc5021, Li10.35Si1.35P1.65S12, 17 K, neutron.
REFINED = {"Li1": 0.437, "Li2": 0.931, "Li3": 0.845, "Li4": 0.808}
THETA_MAX = {"Li1": 0.5, "Li2": 1.0, "Li3": 1.0, "Li4": 1.0}
SIZE = (2, 2, 6)        # 24 cells: 24 * 20.708 = 497.0 ions
T_REF_K = 300.0
AMU_KG = 1.66053906660e-27
M_LI_KG = 6.941 * AMU_KG
EV_J = 1.602176634e-19


def class_occupancy(net, energies, n_ions, T, steps, segments, seed):
    """Mean occupancy of each site type and its standard error over `segments` segments."""
    e_site = np.array([energies[n] for n in net.site_type_names])[net.site_types]
    sim = kmc.Simulation(net.replace(site_energies_eV=e_site), T, n_ions=n_ions, seed=seed)
    rows = []
    for i in range(segments):
        occ = occupancy_statistics(sim, steps, samples=1000,
                                   equilibration=steps if i == 0 else 0)
        rows.append([occ[net.site_types == k].mean() for k in range(len(net.site_type_names))])
    rows = np.array(rows)
    mean = rows.mean(axis=0)
    err = rows.std(axis=0, ddof=1) / math.sqrt(segments)
    return dict(zip(net.site_type_names, mean)), dict(zip(net.site_type_names, err))


def fit_site_energies(quick: bool = False) -> dict[str, float]:
    m = build_material("lgps", size=SIZE)
    net = m.network
    n_ions = int(round(sum(REFINED[s] * c for s, c in
                           (("Li1", 16), ("Li2", 4), ("Li3", 8), ("Li4", 4))) * m.n_cells))
    kT = KB_EV_PER_K * T_REF_K
    energies = {n: 0.0 for n in net.site_type_names}
    # the 4c sites exchange Li only through the slow ab_4c hops, so their occupancy needs
    # many (mostly in-channel) hops to average: long segments, and the energies of the last
    # iterations averaged to take out the noise of each single estimate
    steps = 1_000_000 if quick else 3_000_000
    n_iter, n_avg = (6, 3) if quick else (12, 6)
    history = []
    print(f"refinement composition: {n_ions} ions on {net.n_sites} sites "
          f"({n_ions / m.n_cells:.3f} per cell), T_ref = {T_REF_K:g} K")
    for it in range(n_iter):
        occ, _ = class_occupancy(net, energies, n_ions, T_REF_K, steps, 2, seed=100 + it)
        for n in energies:
            th, ts, tm = occ[n], REFINED[n], THETA_MAX[n]
            energies[n] += 0.8 * kT * math.log(th * (tm - ts) / (ts * (tm - th)))
        ref = energies["Li3"]
        energies = {n: e - ref for n, e in energies.items()}
        history.append(dict(energies))
        print(f"  iteration {it:2d}: " + "  ".join(
            f"{n} {occ[n]:.3f} (E {energies[n]:+.4f})" for n in net.site_type_names))
    energies = {n: round(float(np.mean([h[n] for h in history[-n_avg:]])), 4)
                for n in energies}
    steps *= 3
    occ, err = class_occupancy(net, energies, n_ions, T_REF_K, steps, 8, seed=999)
    print(f"final (mean of the last {n_avg} iterations, 0.1 meV), 8 segments of {steps} hops:")
    for n in net.site_type_names:
        print(f"  {n}: E = {energies[n]:+.4f} eV   occupancy {occ[n]:.4f} +- {err[n]:.4f}"
              f"   refined {REFINED[n]:.3f}")
    # the same energies with the LGPS Li content (20 per cell)
    m20 = build_material("lgps", size=SIZE)
    occ20, err20 = class_occupancy(net, energies, m20.n_ions, T_REF_K, steps, 8, seed=998)
    print(f"with Li10GeP2S12's {m20.n_ions / m20.n_cells:g} Li per cell at {T_REF_K:g} K: "
          + "  ".join(f"{n} {occ20[n]:.3f}+-{err20[n]:.3f}" for n in net.site_type_names))
    return energies


def attempt_frequencies() -> None:
    spec = material_spec("lgps")
    print("harmonic attempt frequency nu = (1/lambda) sqrt(E_KRA / (2 m_Li)):")
    vals = []
    for h in spec.data["hops"]:
        nu = math.sqrt(h["barrier_eV"] * EV_J / (2 * M_LI_KG)) / (h["distance_A"] * 1e-10)
        vals.append(nu)
        print(f"  {h['name']:<12s} E_KRA {h['barrier_eV']:.3f} eV  lambda {h['distance_A']:.3f} A"
              f"  nu = {nu:.2e} Hz")
    print(f"  range {min(vals):.1e}-{max(vals):.1e} Hz, geometric mean "
          f"{math.exp(np.mean(np.log(vals))):.1e} Hz")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    attempt_frequencies()
    fit_site_energies(args.quick)
    print(f"wall {time.time() - t0:.0f} s")
