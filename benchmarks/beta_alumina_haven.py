"""Haven ratio and conductivity of Na beta-alumina against temperature and excess Na.

Prints H_R = D_tracer / D_sigma and sigma (with their standard errors, inverse-variance means
over seeds) of the beta_alumina material model (Roth-type interstitial-oxygen compensation,
attempt frequency from the material file), next to the measured H_R of 1.23Na2O.11Al2O3
single crystals (0.35 at room temperature, 0.18 at -79 C; 1981, see
docs/materials/beta_alumina.md). A last block compares x = 0.2 with and without the
interstitial oxygen at 298 K.

The ions start charge-balanced in every conduction plane (one Na on every BR site, and two
excess Na per O_i of that plane on random aBR sites): the planes exchange no Na, so a random
start would leave some planes with more and others with fewer excess Na than their O_i
compensate.

Usage::

    python benchmarks/beta_alumina_haven.py            # ~4 min on one core
    python benchmarks/beta_alumina_haven.py --quick    # ~1 min, one seed, shorter runs
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import kmc
from kmc.materials import _Build, _event_sets, build_material, material_spec

MEASURED = {298.0: 0.35, 194.0: 0.18}  # H_R, 1.23Na2O.11Al2O3 (x = 0.23), 1981 abstract


def balanced_ion_sites(network, n_excess_per_plane: dict[int, int], size, seed: int):
    """One ion on every BR site and the plane's excess on random aBR sites (seeded)."""
    rng = np.random.default_rng(seed)
    types = np.asarray(network.site_type_names)[network.site_types]
    fz = (network.positions @ np.linalg.inv(network.cell))[:, 2]
    plane = np.round(fz * 4.0 * size[2]).astype(int)
    sites = list(np.flatnonzero(types == "BR"))
    for p, k in n_excess_per_plane.items():
        abr = np.flatnonzero((types == "aBR") & (plane == p))
        sites += list(rng.choice(abr, size=k, replace=False))
    return np.array(sorted(sites), dtype=np.int32), plane


def excess_per_plane(material) -> dict[int, int]:
    """Two excess Na per O_i, plane by plane (the model's charge balance)."""
    net = material.network
    pos = np.asarray(material.info["oxygen_interstitial_positions_A"]).reshape(-1, 3)
    fz = (pos @ np.linalg.inv(net.cell))[:, 2]
    planes = np.round(fz * 4.0 * material.size[2]).astype(int)
    all_planes = sorted(set(np.round(((net.positions @ np.linalg.inv(net.cell))[:, 2])
                                     * 4.0 * material.size[2]).astype(int)))
    return {p: 2 * int(np.sum(planes == p)) for p in all_planes}


def uncompensated(size, x: float):
    """The model before issue 21: no O_i, the excess Na placed like the compensated one."""
    spec = material_spec("beta_alumina")
    b = _Build(spec, tuple(size), {})
    net = b.network("beta-alumina-no-Oi")
    return net.with_events(*_event_sets(spec, net), keep_hops=True)


def run_point(network, ion_sites, T: float, nu: float, seeds, steps: int, equil: int):
    h, he, s, se = [], [], [], []
    for seed in seeds:
        t = kmc.Simulation(network, T, ion_sites=ion_sites, seed=seed,
                           attempt_frequency_Hz=nu).run(
            steps=steps, equilibration=equil, blocks=200).transport
        h.append(t.haven_ratio)
        he.append(t.haven_ratio_err)
        s.append(t.sigma_S_cm)
        se.append(t.sigma_S_cm_err)

    def mean(v, e):
        v, e = np.asarray(v), np.asarray(e)
        w = 1.0 / e**2
        return float(np.sum(w * v) / np.sum(w)), float(math.sqrt(1.0 / np.sum(w)))
    return mean(h, he), mean(s, se)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one seed, shorter runs")
    args = ap.parse_args()
    size = (8, 8, 1)
    seeds = (11,) if args.quick else (11, 12, 13)
    steps, equil = (1_500_000, 500_000) if args.quick else (3_000_000, 1_000_000)
    nu = float(material_spec("beta_alumina").data["attempt_frequency"]["value_Hz"])
    print(f"# beta_alumina, supercell {size}, {len(seeds)} seed(s) x {steps} steps "
          f"(+{equil} equilibration), 200 blocks, nu = {nu:.4g} Hz")
    print(f"# {'x':>5s} {'T_K':>6s} {'O_i':>4s} {'H_R':>7s} {'err':>6s} {'H_R_exp':>7s} "
          f"{'sigma_S_cm':>11s} {'err':>9s}  note")
    t0 = time.time()
    rows = [(0.2, T) for T in (194.0, 250.0, 298.0, 400.0, 600.0)]
    rows += [(x, 298.0) for x in (0.1, 0.3)]
    for x, T in rows:
        m = build_material("beta_alumina", size=size, excess=x, disorder_seed=1)
        sites, _ = balanced_ion_sites(m.network, excess_per_plane(m), size, seed=2)
        (h, he), (s, se) = run_point(m.network, sites, T, nu, seeds, steps, equil)
        exp = MEASURED.get(T)
        print(f"  {x:5.2f} {T:6.0f} {m.info['oxygen_interstitials']:4d} {h:7.3f} {he:6.3f} "
              f"{'' if exp is None else f'{exp:.2f}':>7s} {s:11.4g} {se:9.2g}  with O_i",
              flush=True)
    # the same composition without the interstitial oxygen (the model before issue 21)
    m = build_material("beta_alumina", size=size, excess=0.2, disorder_seed=1)
    net = uncompensated(size, 0.2)
    sites, _ = balanced_ion_sites(net, excess_per_plane(m), size, seed=2)
    (h, he), (s, se) = run_point(net, sites, 298.0, nu, seeds, steps, equil)
    print(f"  {0.2:5.2f} {298.0:6.0f} {0:4d} {h:7.3f} {he:6.3f} {0.35:7.2f} {s:11.4g} "
          f"{se:9.2g}  no O_i (same Na count)")
    print(f"# {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
