"""Write ``kmc/data/nasicon_deng2022.json``: the NASICON local cluster expansion of Deng et al.,
Nat. Commun. 13, 4470 (2022), as kMCpy ships its data, in a compact form kmc reads without kMCpy.

Inputs (made with kMCpy 7761fdd in its own venv by ``fit_models.py`` next to this file):
  - ``model_example.json``: kMCpy composite model, both LCEs fitted by kMCpy's LCEFitter with
    alpha = 1.5, normalize = False; reproduces kMCpy's ``example/files/local_cluster_expansion
    {,_site}/keci.txt`` to 5e-9 meV.
  - ``model_2022.json``: the same with normalize = True (the fit recorded by kMCpy's tests
    in June 2022, ``test/v3_nasicon_bulk/fitting/*/fitting_results.json``).
  - kMCpy's training data: ``example/files/local_cluster_expansion{,_site}/`` (e_kra.txt,
    e_site.txt, weight.txt, correlation_matrix.txt: 15 NEB calculations of Deng et al.).

Usage: python make_data.py MODEL_EXAMPLE MODEL_2022 KMCPY_SRC OUT_JSON
"""
from __future__ import annotations

import itertools
import json
import sys

import numpy as np


def corr(occ: np.ndarray, orbits: list) -> np.ndarray:
    """kMCpy's correlation vector: per orbit, the sum over its clusters of prod(occ)."""
    return np.array([sum(np.prod(occ[c]) for c in orb) for orb in orbits])


def main(model_example: str, model_2022: str, src: str, out: str) -> None:
    ex = json.load(open(model_example))
    old = json.load(open(model_2022))
    lce = ex["kra"]["lce"]
    orbits = lce["cluster_site_indices"]
    for role in ("kra", "site"):
        assert ex[role]["lce"]["cluster_site_indices"] == orbits
        assert old[role]["lce"]["cluster_site_indices"] == orbits
    sbv = np.array(lce["site_basis_values"])[:, :, 0]
    assert np.all(sbv == [-1.0, 1.0]), "expected Chebyshev values: state 0 -> -1, state 1 -> +1"
    mu = lce["migration_unit_structure"]
    unit = [{"label": s["properties"]["label"], "species": s["species"][0]["element"],
             "xyz_A": [round(v, 6) for v in s["xyz"]]} for s in mu["sites"]]
    centre = lce["center_site"]
    L = np.array(centre["lattice"]["matrix"])

    base = f"{src}/example/files"
    train = {}
    X = np.loadtxt(f"{base}/local_cluster_expansion/correlation_matrix.txt")
    assert np.array_equal(X, np.loadtxt(f"{base}/local_cluster_expansion_site/correlation_matrix.txt"))
    # one +-1 occupation of the 12 positions per training row (the state-1 value +1 is the
    # vacancy / P): found by enumeration, the row's correlation vector reproduced exactly
    occs = np.array(list(itertools.product([1.0, -1.0], repeat=len(unit))))
    C = np.array([corr(o, orbits) for o in occs])
    rows = []
    for r, row in enumerate(X):
        hit = np.flatnonzero(np.all(np.abs(C - row) < 1e-9, axis=1))
        assert hit.size, f"training row {r} is no occupation of the unit"
        rows.append(occs[hit[0]].astype(int).tolist())
    train["state1_minus_state0"] = rows  # +1: vacancy (Na sites) or P (Si/P sites); -1: Na / Si
    train["E_kra_meV"] = np.loadtxt(f"{base}/local_cluster_expansion/e_kra.txt").tolist()
    train["E_site_meV"] = np.loadtxt(f"{base}/local_cluster_expansion_site/e_site.txt").tolist()
    train["weight_kra"] = np.loadtxt(f"{base}/local_cluster_expansion/weight.txt").tolist()
    train["weight_site"] = np.loadtxt(f"{base}/local_cluster_expansion_site/weight.txt").tolist()

    fits = {}
    for name, m in (("kmcpy_example", ex), ("kmcpy_2022", old)):
        fits[name] = {}
        for role in ("kra", "site"):
            p, meta = m[role]["parameters"], m[role]["fit_metadata"]
            fits[name][role] = {"empty_meV": p["empty_cluster"], "eci_meV": p["keci"],
                                "alpha": meta["alpha"], "normalize": meta["normalize"],
                                "rmse_meV": meta["rmse_meV"], "loocv_meV": meta["loocv_meV"]}
    doc = {
        "about": ("Local cluster expansions (LCE) of the NASICON Na1-Na2 hop: E_KRA and the "
                  "site-energy term of Deng, Mishra, Mahayoni, Ma, Tieu, Guillon, Chotard, Seznec, "
                  "Cheetham, Masquelier, Sai Gautam, Canepa, Nat. Commun. 13, 4470 (2022), "
                  "as fitted by kMCpy (github.com/caneparesearch/kMCpy, commit 7761fdd, MIT "
                  "licence, Copyright (c) the kMCpy developers) to its example data (15 NEB "
                  "calculations). Made by benchmarks/nasicon_deng2022/make_data.py."),
        "centre": {"label": centre["properties"]["label"], "species": "Na"},
        "unit": unit,
        "unit_cell_A": L.round(9).tolist(),
        "order": "kMCpy nasicon_nat_commun_2022: centre excluded, sorted by species then Cartesian x",
        "basis": "Chebyshev: state 0 (Na, Si) -> -1, state 1 (vacancy, P) -> +1",
        "orbits": orbits,
        "fits": fits,
        "energy_law": ("E_b = E_KRA + direction * E_site / 2 (meV), direction +1 for Na1 -> Na2; "
                       "rate = nu exp(-E_b / kT) (kMCpy CompositeLCEModel.compute_probability)"),
        "training": train,
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {out}: {len(unit)} unit sites, {len(orbits)} orbits")


if __name__ == "__main__":
    main(*sys.argv[1:5])
