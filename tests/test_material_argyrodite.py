"""The argyrodite model (lattices/argyrodite.toml): Morgan's T5/T2/T4 sites, one Li per
face-sharing pair (so one per 48h doublet) and per intercage T2-T2 pair, cages, and the Cl vs
I contrast of intercage transport that X/S2- exchange makes.

The rates are counted as in benchmarks/argyrodite_jump_rates.py, with the same package
functions (kmc.jumps: frames every 100 fs, T5 -> T5 moves along each Li's sequence of T5
sites; kmc.materials: the cages and the move classes); a count N carries the Poisson error
sqrt(N).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

import kmc
from kmc.errors import ConfigError
from kmc.jumps import count_moves, max_pairs_both_occupied, rates_per_ion_Hz, record_site_frames
from kmc.materials import (ARGYRODITE_AIMD_500K, ARGYRODITE_FRAME_S,
                           ARGYRODITE_HARD_CORE_MIN_EV, ARGYRODITE_T5_MOVES,
                           argyrodite_anion_sites_A, argyrodite_cages,
                           argyrodite_exclusion_pairs, argyrodite_li_pairs, argyrodite_network,
                           argyrodite_t5_move_classifier, build_material, material_spec)


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
    cage = argyrodite_cages(m)
    t5 = np.flatnonzero(net.site_types == net.site_type_names.index("T5"))
    # every T5 site is in exactly one doublet, both ends in one 4d cage: 24 doublets per cell
    a, b = hop_pairs(net, "doublet")
    assert np.array_equal(np.sort(np.concatenate([a, b])), t5)
    assert len(a) / m.n_cells == 24 and np.all(cage[a] == cage[b])
    # 4 cages per cell, each of 12 T5 sites = 6 doublets and 12 T2 sites; T4 in none
    assert np.array_equal(np.bincount(cage[t5]), np.full(4 * m.n_cells, 12))
    t2 = net.site_types == net.site_type_names.index("T2")
    assert np.array_equal(np.bincount(cage[t2]), np.full(4 * m.n_cells, 12))
    assert np.all((cage == -1) == (net.site_types == net.site_type_names.index("T4")))
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
        kinds = [k["name"] for k in d["li_pairs"]["kinds"]]
        assert t["pair_energy_eV"] and all(k in kinds and 0.0 < J < 0.3
                                           for k, J in t["pair_energy_eV"].items()), x
    assert d["attempt_frequency"]["value_Hz"] == 1e13
    for key in ("morgan_cif", "morgan_aimd", "nu_estimate", "t2_exclusion_estimate"):
        assert d["references"][key]["flag"] in ("V", "S", "U", "estimate")


def test_exclusion_pairs_are_the_face_sharing_and_intercage_t2_pairs():
    """The hard-core pairs are exactly the face-sharing pairs (T5-T5 doublet, T5-T2, T5-T4)
    and the two ends of every intercage T2-T2 hop; no intracage T2-T2 pair (the AIMD fills
    those, benchmarks/argyrodite_aimd_jumps.py)."""
    for halogen in ("Cl", "I"):
        m = build_material("argyrodite", halogen=halogen, size=2)
        net = m.network
        pi, pj = argyrodite_exclusion_pairs(m)
        got = {tuple(sorted(p)) for p in zip(pi.tolist(), pj.tolist())}
        want = set()
        for hop in ("doublet", "T5-T2", "T5-T4", "T2-T2_intercage"):
            a, b = hop_pairs(net, hop)
            want |= {tuple(sorted(p)) for p in zip(a.tolist(), b.tolist())}
        assert got == want, halogen
        a, b = hop_pairs(net, "T2-T2_intracage")
        assert not {tuple(sorted(p)) for p in zip(a.tolist(), b.tolist())} & got
        n5 = per_cell(m, "T5") * m.n_cells
        n2 = per_cell(m, "T2") * m.n_cells
        # per T5: 1 doublet partner, 2 T2, 1 T4 (face-sharing); per T2: 1 intercage T2
        assert len(got) == n5 / 2 + 2 * n5 + n5 + n2 / 2


def test_one_li_per_exclusion_pair_in_every_frame():
    """Random placement puts some Li on exclusion pairs; after 20000 hops none is left, and
    in 400 frames of 100 fs (about 30 hops per frame) no pair is ever doubly occupied: one Li
    per doublet, at most 6 Li on the T5 sites of a cage, throughout."""
    m = build_material("argyrodite", halogen="Cl", size=2, site_exchange=0.5)
    net = m.network
    cage = argyrodite_cages(m)
    is5 = net.site_types == net.site_type_names.index("T5")
    da, db = hop_pairs(net, "doublet")
    pi, pj = argyrodite_exclusion_pairs(m)
    hard = net.pair_energies_eV >= ARGYRODITE_HARD_CORE_MIN_EV
    assert hard.sum() == len(pi) and np.all(net.pair_energies_eV[hard] == 2.0)
    assert np.all(np.abs(net.pair_energies_eV[~hard]) < 0.3)       # the soft pairs
    sim = kmc.Simulation(net, 600.0, n_ions=m.n_ions, seed=5)
    start = sim.engine.get_state()["ion_site"]
    assert max_pairs_both_occupied(start[None], pi, pj, net.n_sites) > 0  # the check can fail
    fr = record_site_frames(sim, ARGYRODITE_FRAME_S, 400, equilibration_hops=20_000)
    assert fr.sites.shape == (401, m.n_ions)
    assert max_pairs_both_occupied(fr.sites, pi, pj, net.n_sites) == 0
    assert max_pairs_both_occupied(fr.sites, da, db, net.n_sites) == 0
    for s in fr.sites:
        occ = np.zeros(net.n_sites, bool)
        occ[s] = True
        assert not np.any(occ[pi] & occ[pj])
        assert np.bincount(cage[s[is5[s]]], minlength=cage.max() + 1).max() <= 6
    assert fr.hops > 5_000
    assert sum(fr.hop_type_counts.values()) == fr.hops     # no multi-ion events here


def _moves(halogen, exchange, T_K, frames, seed=1):
    """T5 -> T5 moves of a 2x2x2 run in `frames` frames of 100 fs after 50000 hops: the
    counts per class, the intercage count and the Li-seconds observed."""
    m = build_material("argyrodite", halogen=halogen, site_exchange=exchange)
    net = m.network
    sim = kmc.Simulation(m, T_K, seed=seed)   # from its initial state: one Li per doublet
    fr = record_site_frames(sim, ARGYRODITE_FRAME_S, frames, equilibration_hops=50_000)
    is5 = net.site_types == net.site_type_names.index("T5")
    moves = count_moves(fr.sites, is5, argyrodite_t5_move_classifier(m), ARGYRODITE_T5_MOVES)
    return moves, moves["intercage"], fr.ion_time_s


def test_ordered_iodide_has_no_intercage_transport_but_chloride_has():
    """300 K, 1000 frames of 100 fs (100 ps x 192 Li): Li6PS5I (ordered, measured exchange 0)
    makes doublet jumps but its intercage T5 -> T5 rate lies more than 3 combined Poisson
    errors below that of Li6PS5Cl at its measured exchange (61.5 %): the contrast of de Klerk
    (no intercage jump in Li6PS5I) and Morgan (ordered anions: no percolating path)."""
    r_i, n_i, t_i = _moves("I", None, 300.0, 1000)
    r_c, n_c, t_c = _moves("Cl", None, 300.0, 1000)
    assert r_i["doublet"] > 1000          # the iodide's Li are not frozen
    rate_i, rate_c = n_i / t_i, n_c / t_c
    err = math.hypot(math.sqrt(max(n_i, 1)) / t_i, math.sqrt(n_c) / t_c)
    assert rate_c - rate_i > 3 * err


def test_exchange_opens_intercage_paths_in_the_aimd_configurations():
    """500 K, as the AIMD: at 50 % exchange the intercage T5 -> T5 rate of Li6PS5Cl exceeds the
    ordered one by more than 3 combined Poisson errors, and the ordered doublet rate exceeds
    the 50 % one (disorder moves the Li off the doublets onto T2/T4 and across cages), the
    orderings of Morgan's AIMD (kmc.materials.ARGYRODITE_AIMD_500K)."""
    r0, n0, t0 = _moves("Cl", 0.0, 500.0, 500)
    r5, n5, t5 = _moves("Cl", 0.5, 500.0, 500)
    assert n5 / t5 - n0 / t0 > 3 * math.hypot(math.sqrt(max(n0, 1)) / t0, math.sqrt(n5) / t5)
    d0, d5 = r0["doublet"], r5["doublet"]
    assert d0 / t0 - d5 / t5 > 3 * math.hypot(math.sqrt(d0) / t0, math.sqrt(d5) / t5)
    a0, a5 = ARGYRODITE_AIMD_500K[("Cl", 0.0)], ARGYRODITE_AIMD_500K[("Cl", 0.5)]
    m0, m5 = a0["t5_moves"], a5["t5_moves"]
    assert m5["intercage"] / a5["li_time_s"] > m0["intercage"] / a0["li_time_s"]
    assert m0["doublet"] / a0["li_time_s"] > m5["doublet"] / a5["li_time_s"]


def test_t5_move_mapping_on_a_known_trajectory():
    """The mapping onto de Klerk's classes (benchmarks/argyrodite_deklerk.py) on a synthetic
    trajectory of real sites of Li6PS5Cl: only T5 (48h) sites are tracked, so an excursion
    T5 -> T2 -> T5' is one intracage jump, T5 -> T2 -> same T5 and T5 -> T4 -> same T5 are
    none, T5 -> T4 -> T5 of another cage and T5 -> T2 -> T2 (around a 4a anion) -> T5 of
    another cage are one intercage jump each; a Li starting on T4 enters at its first T5;
    and the rate is de Klerk's tau = J / (N t): jumps per Li per second."""
    m = build_material("argyrodite", halogen="Cl", size=2, site_exchange=0.5)
    net = m.network
    cage = argyrodite_cages(m)
    typ = np.array(net.site_type_names)[net.site_types]

    def nbrs(i, hop):
        sel = (net.hop_src == i) & (net.hop_types == net.hop_type_names.index(hop))
        return net.hop_dst[sel]

    a = int(np.flatnonzero(typ == "T5")[0])
    (p,) = nbrs(a, "doublet")
    t2 = int(nbrs(a, "T5-T2")[0])
    (b,) = [j for j in nbrs(t2, "T5-T2") if j != a]
    assert cage[b] == cage[a] and b != p                 # another doublet of a's cage
    t4 = int(nbrs(a, "T5-T4")[0])
    c = int([j for j in nbrs(t4, "T5-T4") if j != a][0])
    assert cage[c] != cage[a]
    # a T2 next to a with a T2-T2 intercage neighbour, and a T5 of that T2's (other) cage
    t2x = next(int(s) for s in nbrs(a, "T5-T2") if len(nbrs(s, "T2-T2_intercage")))
    t2y = int(nbrs(t2x, "T2-T2_intercage")[0])
    d = int(nbrs(t2y, "T5-T2")[0])
    assert cage[d] == cage[t2y] != cage[a]
    traj = np.array([
        [a, p, a, t2, a, t2, b],          # doublet, doublet, return (none), intracage
        [t4, a, t4, a, t4, c, c],         # enters at a; return via T4 (none); intercage
        [a, a, t2x, t2y, d, d, d],        # intercage around a 4a anion
        [a, t2, t2, t2, t2, t2, t2],      # left a, never reached another T5: none
    ]).T
    is5 = typ == "T5"
    moves = count_moves(traj, is5, argyrodite_t5_move_classifier(m), ARGYRODITE_T5_MOVES)
    assert moves == {"doublet": 2, "intracage": 1, "intercage": 2}
    dt = 10e-15
    rates = rates_per_ion_Hz(moves, traj.shape[1] * (traj.shape[0] - 1) * dt)
    assert rates["doublet"][0] == pytest.approx(2 / (4 * 6 * dt))


@pytest.mark.parametrize("halogen,exchange", [("Cl", None), ("I", None), ("Br", 0.5)])
def test_initial_state_is_one_li_per_doublet(halogen, exchange):
    """A built argyrodite starts from the diffraction structure, as Morgan's AIMD does: one
    Li on one of the two T5 sites of every 48h doublet, so six in every cage and no
    hard-core pair occupied; `kmc.Simulation(material)` starts there, and the disorder seed
    draws which T5."""
    m = build_material("argyrodite", halogen=halogen, site_exchange=exchange, size=2)
    net = m.network
    sites = np.asarray(m.info["ion_sites"])
    assert len(sites) == m.n_ions == len(set(sites.tolist()))
    assert np.all(net.site_types[sites] == net.site_type_names.index("T5"))
    a, b = hop_pairs(net, "doublet")
    occ = np.zeros(net.n_sites, bool)
    occ[sites] = True
    assert np.all(occ[a] ^ occ[b])                                 # one Li per doublet
    cage = argyrodite_cages(m)
    assert np.array_equal(np.bincount(cage[sites]), np.full(4 * m.n_cells, 6))
    sim = kmc.Simulation(m, 500.0, seed=1)
    assert np.array_equal(np.sort(sim.engine.get_state()["ion_site"]), np.sort(sites))
    other = build_material("argyrodite", halogen=halogen, site_exchange=exchange, size=2,
                           disorder_seed=1)
    assert not np.array_equal(np.asarray(other.info["ion_sites"]), sites)


def test_argyrodite_network_is_the_built_model_for_its_arrangement():
    """`argyrodite_network` with the arrangement of a built material gives the same network
    (energies, barriers, pairs) and its classes; a wrong shape or an incomplete table is a
    clear error."""
    for halogen, exch, swap in (("I", 0.0, False), ("Cl", 1.0, True)):
        m = build_material("argyrodite", halogen=halogen, site_exchange=exch, size=2)
        n4a, n4d = (len(p) for p in argyrodite_anion_sites_A(halogen, 2))
        net, cls = argyrodite_network(halogen, np.full(n4a, swap), np.full(n4d, swap), size=2)
        for attr in ("site_energies_eV", "hop_barriers_eV", "hop_src", "hop_dst", "pair_i",
                     "pair_j", "pair_energies_eV", "positions"):
            assert np.array_equal(getattr(net, attr), getattr(m.network, attr)), attr
        kinds, counts = np.unique(cls, return_counts=True)
        assert dict(zip(kinds.tolist(), counts.tolist())) == m.info["site_classes"]
    with pytest.raises(ConfigError, match=r"need 32 and 32 entries.*\(3,\)"):
        argyrodite_network("Cl", np.zeros(3, bool), np.zeros(32, bool), size=2)
    spec = material_spec("argyrodite").data["halogens"]["Cl"]
    partial = dict(site_energy_eV={"T5:XS": 0.0}, kra_eV=spec["kra_eV"])
    with pytest.raises(ConfigError, match="no energy for site class 'T2:XS'"):
        argyrodite_network("Cl", np.zeros(32, bool), np.zeros(32, bool), size=2,
                           tables=partial)


@functools.lru_cache(maxsize=None)
def _frames_500K(halogen, exchange, frames=2000, seed=3):
    """The built model at 500 K from its initial state (six Li per cage, as the AIMD): the
    material and its occupied sites in `frames` frames of 100 fs after 20000 hops."""
    m = build_material("argyrodite", halogen=halogen, site_exchange=exchange)
    sim = kmc.Simulation(m, 500.0, seed=seed)
    fr = record_site_frames(sim, ARGYRODITE_FRAME_S, frames, equilibration_hops=20_000)
    return m, fr.sites[1:]


def _block_mean(per_frame):
    """Mean of a per-frame series and its standard error over 8 blocks."""
    blocks = np.asarray(per_frame).reshape(8, -1).mean(axis=1)
    return blocks.mean(), blocks.std(ddof=1) / math.sqrt(len(blocks))


def _t2_fraction(halogen, exchange):
    """Fraction of the Li on T2 sites at 500 K (:func:`_frames_500K`) and its standard error
    over 8 blocks of frames."""
    m, sites = _frames_500K(halogen, exchange)
    net = m.network
    return _block_mean((net.site_types == net.site_type_names.index("T2"))[sites].mean(axis=1))


@pytest.mark.parametrize("halogen", ["Cl", "I"])
def test_t2_population_matches_the_aimd_it_is_fitted_to(halogen):
    """500 K, the AIMD's temperature and start (six Li per cage): the T2 population summed
    over the three AIMD configurations (0, 50, 100 % exchange; the fit pools them,
    benchmarks/argyrodite_fit.py) agrees with Morgan's AIMD (kmc.materials.
    ARGYRODITE_AIMD_500K, our analysis) within three combined standard errors (the AIMD's
    over its runs, the model's over 8 blocks of 250 frames). With the earlier tables (open-hop
    rate ratios) the model put 0.32 of ordered Li6PS5Cl's Li on T2 against the AIMD's 0.198:
    the sum was 0.21 too high for Cl. Per configuration the fit is a compromise
    (docs/materials/argyrodite.md): ordered Li6PS5I keeps about 1.5x the AIMD's T2."""
    model, var, aimd, aimd_var = 0.0, 0.0, 0.0, 0.0
    for exchange in (0.0, 0.5, 1.0):
        f, se = _t2_fraction(halogen, exchange)
        ref = ARGYRODITE_AIMD_500K[(halogen, exchange)]
        model, var = model + f, var + se ** 2
        aimd += ref["populations"]["T2"]
        aimd_var += ref["populations_se"]["T2"] ** 2
    assert abs(model - aimd) < 3 * math.sqrt(var + aimd_var), (model, aimd)


def test_cage_term_pairs_every_two_sites_of_a_cage():
    """The cage energy U (``cage_energy_eV``, by the species on the cage centre) is a pair
    energy between every two T5/T2 sites of one cage that are not a hard core: 24 sites, 276
    pairs, of which 6 doublets and 24 T5-T2 faces are hard, so 246 per cage; so n Li in a cage
    cost U n(n-1)/2. Zero U adds none; a wrong key is a clear error."""
    spec = material_spec("argyrodite").data["halogens"]["Cl"]
    base = dict(site_energy_eV=spec["site_energy_eV"], kra_eV=spec["kra_eV"])
    x_on_4d = np.zeros(32, bool)
    x_on_4d[:12] = True
    net0, _ = argyrodite_network("Cl", np.zeros(32, bool), x_on_4d, size=2,
                                 tables={**base, "cage_energy_eV": {"S": 0.0, "X": 0.0}})
    net, cls = argyrodite_network("Cl", np.zeros(32, bool), x_on_4d, size=2,
                                  tables={**base, "cage_energy_eV": {"S": 0.03, "X": 0.01}})
    soft = net.pair_energies_eV < 1.0
    assert net0.n_pairs == soft.size - soft.sum() == 1536          # the hard cores only
    assert soft.sum() == 246 * 32
    assert np.count_nonzero(net.pair_energies_eV == 0.01) == 246 * 12   # X-centred cages
    m = build_material("argyrodite", halogen="Cl", site_exchange=0.0, size=2)
    cage = argyrodite_cages(m)
    i, j = net.pair_i[soft], net.pair_j[soft]
    assert np.all(cage[i] == cage[j]) and np.all(cage[i] >= 0)
    # the energy of a configuration: U n(n-1)/2 per cage
    occ = np.zeros(net.n_sites, bool)
    t5 = np.flatnonzero((cage == 0) & (net.site_types == net.site_type_names.index("T5")))
    a, b = hop_pairs(net, "doublet")
    first = [s for s in t5 if s in set(a.tolist())][:4]    # 4 Li on 4 doublets of cage 0
    occ[first] = True
    E = np.sum(net.pair_energies_eV[soft] * (occ[i] & occ[j]))
    U = 0.01 if x_on_4d[0] else 0.03
    assert E == pytest.approx(U * 4 * 3 / 2)
    with pytest.raises(ConfigError, match="'Cl'.*'S' or 'X'"):
        argyrodite_network("Cl", np.zeros(32, bool), x_on_4d, size=2,
                           tables={**base, "cage_energy_eV": {"Cl": 0.01}})


def test_li_pair_kinds_and_their_energies():
    """The pair kinds of ``[[li_pairs.kinds]]`` (kmc.materials.argyrodite_li_pairs): per unit
    cell 48, 48, 96, 48, 96, 48, 48, 96, 24, 48 pairs, each kind at one distance (at Cl's a;
    the same pairs for every halogen, whose distances scale with a); the built model puts the
    halogen's ``pair_energy_eV`` on every pair of a kind and nothing on the others; a wrong
    kind is a clear error."""
    spec = material_spec("argyrodite").data
    kinds = [k["name"] for k in spec["li_pairs"]["kinds"]]
    for halogen in ("Cl", "I"):
        m = build_material("argyrodite", halogen=halogen, size=2)
        net = m.network
        a_A = float(spec["halogens"][halogen]["a_A"])
        i, j, k = argyrodite_li_pairs(net, a_A)
        assert np.bincount(k).tolist() == [8 * n for n in (48, 48, 96, 48, 96, 48, 48, 96,
                                                           24, 48)]
        f = (net.positions[j] - net.positions[i]) @ np.linalg.inv(net.cell)
        d = np.linalg.norm((f - np.rint(f)) @ net.cell, axis=1) * (9.86026 / a_A)
        for q, rule in enumerate(spec["li_pairs"]["kinds"]):
            lo, hi = rule["window_A"]
            assert lo <= d[k == q].min() and d[k == q].max() <= hi
            assert np.ptp(d[k == q]) < 1e-3, rule["name"]
        # the network's soft pairs are exactly the kinds with an energy, carrying it
        J = spec["halogens"][halogen]["pair_energy_eV"]
        soft = net.pair_energies_eV < ARGYRODITE_HARD_CORE_MIN_EV
        got = dict(zip(zip(net.pair_i[soft].tolist(), net.pair_j[soft].tolist()),
                       net.pair_energies_eV[soft].tolist()))
        want = {(u, v): J[kinds[q]] for u, v, q in zip(i.tolist(), j.tolist(), k.tolist())
                if J.get(kinds[q], 0.0)}
        assert got == want and len(want) > 0
    base = {t: spec["halogens"]["Cl"][t] for t in ("site_energy_eV", "kra_eV")}
    net0, _ = argyrodite_network("Cl", np.zeros(32, bool), np.zeros(32, bool), size=2,
                                 tables=base)
    assert np.all(net0.pair_energies_eV >= ARGYRODITE_HARD_CORE_MIN_EV)   # no table: none
    with pytest.raises(ConfigError, match="a_A"):
        argyrodite_li_pairs(net0, -9.86)
    with pytest.raises(ConfigError, match="'T5-T6'.*T2-T2_intracage"):
        argyrodite_network("Cl", np.zeros(32, bool), np.zeros(32, bool), size=2,
                           tables={**base, "pair_energy_eV": {"T5-T6": 0.1}})


@pytest.mark.parametrize("halogen", ["Cl", "I"])
def test_li_pair_correlations_match_the_aimd_they_are_fitted_to(halogen):
    """500 K, as the T2 test: for each pair kind with a pair energy (the fitted kinds), the
    probability that both sites of a pair are occupied, summed over the three AIMD
    configurations, agrees with Morgan's AIMD (ARGYRODITE_AIMD_500K ``pairs_both``, our
    analysis: Morgan's frames on the model's sites) within three combined standard errors
    (the model's over 8 blocks, the AIMD's over its runs). One known exception, bounded at
    10 %: Li6PS5I's T5-T5 pairs of one cage come out 5.5 % too often doubly occupied (z 8),
    the compromise of one energy per kind over the three configurations (the fully exchanged
    cell fills them 10x too often, docs/materials/argyrodite.md). Without the pair energies
    the short intracage pairs were 5-30x too often doubly occupied."""
    spec = material_spec("argyrodite").data
    kinds = [k["name"] for k in spec["li_pairs"]["kinds"]]
    fitted = spec["halogens"][halogen]["pair_energy_eV"]
    model = {k: [0.0, 0.0] for k in fitted}
    aimd = {k: [0.0, 0.0] for k in fitted}
    for exchange in (0.0, 0.5, 1.0):
        m, sites = _frames_500K(halogen, exchange)
        net = m.network
        i, j, kind = argyrodite_li_pairs(net, float(spec["halogens"][halogen]["a_A"]))
        occ = np.zeros((len(sites), net.n_sites), bool)
        occ[np.arange(len(sites))[:, None], sites] = True
        ref = ARGYRODITE_AIMD_500K[(halogen, exchange)]
        for name in fitted:
            sel = kind == kinds.index(name)
            mean, se = _block_mean((occ[:, i[sel]] & occ[:, j[sel]]).mean(axis=1))
            model[name][0] += mean
            model[name][1] += se ** 2
            aimd[name][0] += ref["pairs_both"][name]
            aimd[name][1] += ref["pairs_both_se"][name] ** 2
    for name in fitted:
        diff = abs(model[name][0] - aimd[name][0])
        tol = 3 * math.sqrt(model[name][1] + aimd[name][1])
        if (halogen, name) == ("I", "T5-T5_cage"):   # the known compromise, bounded
            tol = 0.1 * aimd[name][0]
        assert diff < tol, (name, model[name][0], aimd[name][0], tol)
