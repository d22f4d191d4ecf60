"""The argyrodite model (lattices/argyrodite.toml): Morgan's T5/T2/T4 sites, one Li per
face-sharing pair (so one per 48h doublet), cages, and the Cl vs I contrast of intercage
transport that X/S2- exchange makes.

The rates are counted as in benchmarks/argyrodite_jump_rates.py (frames every 100 fs, T5 -> T5
moves along each Li's sequence of T5 sites); a count N carries the Poisson error sqrt(N).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import kmc
from kmc.errors import ConfigError
from kmc.materials import build_material, material_spec

_BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if not (_BENCH / "argyrodite_jump_rates.py").exists():  # pragma: no cover - wheels' test runs
    pytest.skip("needs the source tree's benchmarks/", allow_module_level=True)
sys.path.insert(0, str(_BENCH))
import argyrodite_jump_rates as bench  # noqa: E402


def per_cell(m, label):
    net = m.network
    return int(np.sum(net.site_types == net.site_type_names.index(label))) / m.n_cells


def hop_pairs(net, name):
    k = net.hop_type_names.index(name)
    sel = (net.hop_types == k) & (net.hop_src < net.hop_dst)
    return net.hop_src[sel], net.hop_dst[sel]


@pytest.mark.parametrize("halogen", ["Cl", "Br", "I"])
def test_sites_doublets_and_cages(halogen):
    m = build_material("argyrodite", halogen=halogen, size=2)
    net = m.network
    assert [per_cell(m, s) for s in ("T5", "T2", "T4")] == [48, 48, 16]
    assert m.n_ions / m.n_cells == 24                      # Li6PS5X, Z = 4
    cage = bench.cage_of_sites(m)
    t5 = np.flatnonzero(net.site_types == net.site_type_names.index("T5"))
    # every T5 site is in exactly one doublet, both ends in one 4d cage: 24 doublets per cell
    a, b = hop_pairs(net, "doublet")
    assert np.array_equal(np.sort(np.concatenate([a, b])), t5)
    assert len(a) / m.n_cells == 24 and np.all(cage[a] == cage[b])
    # 4 cages per cell, each of 12 T5 sites = 6 doublets
    assert np.array_equal(np.bincount(cage[t5]), np.full(4 * m.n_cells, 12))
    # T2 joins two T5 of one cage; T4 joins three T5 of three cages
    a, b = hop_pairs(net, "T5-T2")
    assert np.all(cage[a] == cage[b])
    for t4 in np.flatnonzero(net.site_types == net.site_type_names.index("T4")):
        nb = net.hop_dst[net.hop_src == t4]
        assert len(nb) == 3 and len(set(cage[nb])) == 3
    a, b = hop_pairs(net, "T2-T2_intracage")
    assert np.all(cage[a] == cage[b])
    a, b = hop_pairs(net, "T2-T2_intercage")
    assert np.all(cage[a] != cage[b])


def test_site_classes_follow_the_exchange():
    ordered = build_material("argyrodite", halogen="I", size=2)
    assert ordered.info["site_classes"] == {"T5:XS": 384, "T2:XS": 384, "T4:X": 128}
    mixed = build_material("argyrodite", halogen="Cl", size=2, site_exchange=1.0)
    assert mixed.info["site_classes"] == {"T5:SX": 384, "T2:SX": 384, "T4:S": 128}
    cl = build_material("argyrodite", halogen="Cl", size=2)
    assert cl.info["exchanged_sites"] == round(0.6151 * 32)   # the neutron refinement's 61.5 %
    with pytest.raises(ConfigError, match="site_exchange = 1.5"):
        build_material("argyrodite", site_exchange=1.5)


def test_every_toml_table_is_complete():
    """Each halogen's tables hold every site class and every hop class the model can build."""
    d = material_spec("argyrodite").data
    for x, h in d["halogens"].items():
        t = d["halogens"][h["params_from"]]
        assert len(t["site_energy_eV"]) == 10 and len(t["kra_eV"]) == 24, x
        for key, (e, n) in t["kra_eV"].items():
            assert 0.0 < e < 0.6 and n >= 1, (x, key)
    assert d["attempt_frequency"]["value_Hz"] == 1e13
    for key in ("morgan_cif", "morgan_aimd", "nu_estimate"):
        assert d["references"][key]["flag"] in ("V", "S", "U", "estimate")


def test_one_li_per_face_sharing_pair_in_every_frame():
    """Random placement puts some Li on face-sharing pairs; after 20000 hops none is left, and
    in 400 frames of 100 fs (about 30 hops per frame) no pair is ever doubly occupied: one Li
    per doublet, at most 6 Li on the T5 sites of a cage, throughout."""
    m = build_material("argyrodite", halogen="Cl", size=2, site_exchange=0.5)
    net = m.network
    cage = bench.cage_of_sites(m)
    is5 = net.site_types == net.site_type_names.index("T5")
    da, db = hop_pairs(net, "doublet")
    sim = kmc.Simulation(net, 600.0, n_ions=m.n_ions, seed=5)
    eng = sim.engine
    occ0 = np.zeros(net.n_sites, bool)
    occ0[eng.get_state()["ion_site"]] = True
    assert np.sum(occ0[net.pair_i] & occ0[net.pair_j]) > 0     # the check can fail
    eng.run(20_000, None)
    t0 = eng.time_s
    hops0 = eng.steps
    for k in range(400):
        eng.run(10**9, t0 + (k + 1) * bench.FRAME_S)
        s = eng.get_state()["ion_site"]
        occ = np.zeros(net.n_sites, bool)
        occ[s] = True
        assert not np.any(occ[net.pair_i] & occ[net.pair_j])
        assert not np.any(occ[da] & occ[db])
        assert np.bincount(cage[s[is5[s]]], minlength=cage.max() + 1).max() <= 6
    assert eng.steps - hops0 > 5_000


def _moves(halogen, exchange, T_K, frames, seed=1):
    r = bench.run(halogen, exchange, T_K, frames, seed=seed, equil_hops=50_000)
    return r, r["moves"]["intercage"], r["li_s"]


def test_ordered_iodide_has_no_intercage_transport_but_chloride_has():
    """300 K, 1000 frames of 100 fs (100 ps x 192 Li): Li6PS5I (ordered, measured exchange 0)
    makes doublet jumps but its intercage T5 -> T5 rate lies more than 3 combined Poisson
    errors below that of Li6PS5Cl at its measured exchange (61.5 %): the contrast of de Klerk
    (no intercage jump in Li6PS5I) and Morgan (ordered anions: no percolating path)."""
    r_i, n_i, t_i = _moves("I", None, 300.0, 1000)
    r_c, n_c, t_c = _moves("Cl", None, 300.0, 1000)
    assert r_i["moves"]["doublet"] > 1000          # the iodide's Li are not frozen
    rate_i, rate_c = n_i / t_i, n_c / t_c
    err = math.hypot(math.sqrt(max(n_i, 1)) / t_i, math.sqrt(n_c) / t_c)
    assert rate_c - rate_i > 3 * err


def test_exchange_opens_intercage_paths_in_the_aimd_configurations():
    """500 K, as the AIMD: at 50 % exchange the intercage T5 -> T5 rate of Li6PS5Cl exceeds the
    ordered one by more than 3 combined Poisson errors, and the ordered doublet rate exceeds
    the 50 % one (disorder moves the Li off the doublets onto T2/T4 and across cages), the
    orderings of Morgan's AIMD (benchmarks/argyrodite_jump_rates.py AIMD table)."""
    r0, n0, t0 = _moves("Cl", 0.0, 500.0, 500)
    r5, n5, t5 = _moves("Cl", 0.5, 500.0, 500)
    assert n5 / t5 - n0 / t0 > 3 * math.hypot(math.sqrt(max(n0, 1)) / t0, math.sqrt(n5) / t5)
    d0, d5 = r0["moves"]["doublet"], r5["moves"]["doublet"]
    assert d0 / t0 - d5 / t5 > 3 * math.hypot(math.sqrt(d0) / t0, math.sqrt(d5) / t5)
    a0, a5 = bench.AIMD[("Cl", 0.0)], bench.AIMD[("Cl", 0.5)]
    assert a5["moves"][2] / a5["li_s"] > a0["moves"][2] / a0["li_s"]
    assert a0["moves"][0] / a0["li_s"] > a5["moves"][0] / a5["li_s"]
