"""Fit the NASICON LCEs of Deng et al. 2022 with kMCpy itself (run in kMCpy's own venv).

Builds kMCpy's 24-orbit local cluster expansion of the Na1-centred 12-site unit (6 Na2 and
6 Si/P within 4.0 A; pairs < 8 A, triplets < 6 A; order ``nasicon_nat_commun_2022``) on
kmc's NASICON CIF, fits the E_KRA and site-energy LCEs to kMCpy's example data with kMCpy's
LCEFitter (LASSO, alpha 1.5, its weights), and writes two composite model files:
``model_example.json`` (normalize = False: reproduces kMCpy's example keci.txt, asserted) and
``model_2022.json`` (normalize = True: the fit kMCpy's tests recorded in 2022).

Usage: KMCPY_VENV/bin/python fit_models.py KMCPY_SRC KMC_CIF OUT_DIR
(kMCpy commit 7761fdd; then make_data.py turns the two files into kmc/data/nasicon_deng2022.json)
"""
import logging
import sys

import numpy as np
from kmcpy.io.cif import load_labeled_structure_from_cif
from kmcpy.models.composite_lce_model import CompositeLCEModel
from kmcpy.models.local_cluster_expansion import LocalClusterExpansion
from kmcpy.structure.local_lattice_structure import LocalLatticeStructure

logging.disable(logging.INFO)
SRC, CIF, OUT = sys.argv[1:4]
MAP = {"Na": ["Na", "X"], "Zr": "Zr", "Si": ["Si", "P"], "O": "O"}
DATA = f"{SRC}/example/files"


def build_lce() -> LocalClusterExpansion:
    s = load_labeled_structure_from_cif(filename=CIF, primitive=True)
    ll = LocalLatticeStructure(template_structure=s, center=0, cutoff=4.0, site_mapping=MAP,
                               local_site_order="nasicon_nat_commun_2022")
    m = LocalClusterExpansion()
    m.build(ll, cutoff_cluster=[8, 6, 0])
    return m


for norm, fname in ((False, "model_example.json"), (True, "model_2022.json")):
    fits, models = {}, {}
    for label, d, e in (("kra", "local_cluster_expansion", "e_kra.txt"),
                        ("site", "local_cluster_expansion_site", "e_site.txt")):
        m = build_lce()
        p, _, _ = m.fit(alpha=1.5, max_iter=1000000, ekra_fname=f"{DATA}/{d}/{e}",
                        weight_fname=f"{DATA}/{d}/weight.txt",
                        corr_fname=f"{DATA}/{d}/correlation_matrix.txt",
                        keci_fname=f"{OUT}/keci_{label}_norm{norm}.txt", lce_params_fname=None,
                        lce_params_history_fname=None, normalize=norm)
        if not norm:  # kMCpy's own example parameters
            ref = np.loadtxt(f"{DATA}/{d}/keci.txt")
            assert np.max(np.abs(np.array(p.keci) - ref)) < 1e-6, label
        m.set_parameters(p)
        models[label] = m
        fits[label] = {"alpha": 1.5, "normalize": norm, "empty_cluster": float(p.empty_cluster),
                       "rmse_meV": float(p.rmse), "loocv_meV": float(p.loocv),
                       "source": f"kMCpy example/files/{d} (15 NEB values, weight.txt)"}
        print(label, fits[label])
    CompositeLCEModel(site_model=models["site"], kra_model=models["kra"],
                      kra_fit_metadata=fits["kra"],
                      site_fit_metadata=fits["site"]).to(f"{OUT}/{fname}")
