"""Pair interactions on the compact form (PeriodicNetwork with unit-cell pairs, engine ti_*).

An interacting PeriodicNetwork must be exactly the SiteNetwork it stands for: the same pairs,
and in the engine (the interacting mode) bit-identical trajectories, also where the sites'
fields sum several different J (the order of a site's neighbours matters to the last bit);
LGPS built compact must be LGPS built as a SiteNetwork; and nothing of it may grow per hop
or per pair.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import kmc
from kmc import assemble, builders
from kmc._engine import Engine
from kmc.config import run_config
from kmc.errors import ConfigError
from kmc.io import read_network, write_network
from kmc.lattice import PeriodicNetwork, SiteNetwork
from kmc.materials import build_material

SHELLS = {  # sc: nearest neighbours (hops) and farther pair shells, one direction each
    "nn": [(1, 0, 0), (0, 1, 0), (0, 0, 1)],
    "nnn": [(1, 1, 0), (1, -1, 0), (1, 0, 1), (1, 0, -1), (0, 1, 1), (0, 1, -1)],
    "3rd": [(1, 1, 1), (1, 1, -1), (1, -1, 1), (1, -1, -1)],
}


def _sc_pairs(size, J=None, **kw):
    """The sc lattice gas with pair shells J = {shell: eV} (default: nn 0.04 eV)."""
    pn = builders.sc(size=size, a=3.0, barrier_eV=0.3, compact=True)
    J = {"nn": 0.04} if J is None else J
    offs = [o for s in J for o in SHELLS[s]]
    energies = [J[s] for s in J for _ in SHELLS[s]]
    return dataclasses.replace(
        pn, pair_basis_i=np.zeros(len(offs), int), pair_basis_j=np.zeros(len(offs), int),
        pair_cell_offsets=np.array(offs), pair_energies_eV=np.array(energies), **kw)


def _state(net, *, steps=20_000, field=None, **kw):
    sim = kmc.Simulation(net, 500.0, seed=7, field_V_per_angstrom=field, **kw)
    sim.engine.run(steps)
    sim.engine.check()
    return sim.engine.get_state()


def test_to_site_network_holds_the_pairs():
    pn = _sc_pairs(5, {"nn": 0.04, "nnn": -0.01})
    sn = pn.to_site_network()
    assert pn.has_interactions and sn.has_interactions
    assert pn.n_pairs == sn.n_pairs == 125 * 9
    # every pair of sites at the nn and nnn distances, once, with its shell's J
    pos, cell = sn.positions, sn.cell
    d = sn.positions[sn.pair_j] - pos[sn.pair_i]
    f = d @ np.linalg.inv(cell)
    d = (f - np.rint(f)) @ cell
    r = np.linalg.norm(d, axis=1)
    np.testing.assert_allclose(np.sort(np.unique(np.round(r, 9))), [3.0, 3.0 * 2**0.5])
    np.testing.assert_array_equal(sn.pair_energies_eV, np.where(r < 3.5, 0.04, -0.01))
    key = np.minimum(sn.pair_i, sn.pair_j) * sn.n_sites + np.maximum(sn.pair_i, sn.pair_j)
    assert np.unique(key).size == key.size
    # the J between the ends of each hop: the nn J
    np.testing.assert_array_equal(sn.hop_pair_energies_eV, 0.04)


@pytest.mark.parametrize("size, shells", [
    (6, {"nn": 0.04}),
    ((3, 4, 5), {"nn": 0.04, "nnn": -0.013, "3rd": 0.007}),  # sums of different J
    (4, {"nnn": 0.02}),  # pairs that are not hops: hop J = 0
])
def test_trajectories_are_bit_identical(size, shells, same_state):
    pn = _sc_pairs(size, shells, basis_energies_eV=[0.01])
    sn = pn.to_site_network()
    for field in (None, (0.001, 0.0, -0.0005)):
        same_state(_state(pn, occupancy=0.5, field=field),
                   _state(sn, occupancy=0.5, field=field))


def test_pairs_reaching_farther_than_the_hops(same_state):
    # 3rd-neighbour pairs wrap at the box's faces where the hops do not: the templates
    # follow the longer offsets (more templates, the same classes as the SiteNetwork)
    pn = _sc_pairs(3, {"3rd": 0.05})
    t = pn.templates()
    assert np.diff(t["ti_ptr"]).tolist() == [8] * (len(t["ti_ptr"]) - 1)
    np.testing.assert_array_equal(t["tp_J"], 0.0)
    same_state(_state(pn, occupancy=0.4), _state(pn.to_site_network(), occupancy=0.4))
    a = kmc.Simulation(pn, 500.0, occupancy=0.4, seed=1).engine.layout
    b = kmc.Simulation(pn.to_site_network(), 500.0, occupancy=0.4, seed=1).engine.layout
    assert a == b


@pytest.mark.parametrize("size", [(2, 2, 2), (3, 3, 5)])
def test_lgps_compact_is_lgps(size, same_state):
    """build_material('lgps', compact=True) is the LGPS material network, bit for bit in
    its arrays and trajectories (the 16h-16h exclusion pairs and the c_pair hops' J)."""
    ref = build_material("lgps", size=size)
    mat = build_material("lgps", size=size, compact=True)
    assert isinstance(mat.network, PeriodicNetwork) and isinstance(ref.network, SiteNetwork)
    assert mat.n_ions == ref.n_ions and mat.size == ref.size
    sn = mat.network.to_site_network()
    for f in ("cell", "hop_src", "hop_dst", "hop_vectors", "hop_barriers_eV", "site_types",
              "site_energies_eV", "hop_types", "pair_i", "pair_j", "pair_energies_eV",
              "hop_pair_energies_eV"):
        np.testing.assert_array_equal(getattr(sn, f), getattr(ref.network, f), err_msg=f)
    np.testing.assert_allclose(mat.network.positions, ref.network.positions, atol=1e-12)
    assert (sn.site_type_names, sn.hop_type_names) == \
        (ref.network.site_type_names, ref.network.hop_type_names)
    same_state(_state(mat, steps=30_000), _state(ref, steps=30_000))


def test_overlapping_pair_rules_keep_the_first(same_state):
    """A pair two rules match takes the first rule's energy in both forms (here the 16h
    exclusion and a weaker rule over the same window, plus a 16h-4d shell)."""
    import kmc.materials as M

    b = M._Build(M.material_spec("lgps"), (3, 3, 3), {})
    rules = b.pair_rules + [("Li1", "Li1", 1.3, 1.6, 0.5), ("Li1", "Li3", 2.0, 2.6, 0.02)]
    sn = M.network_from_sites(b.cell, b.positions, b.labels, b.kinds, b.hop_rules,
                              site_energies_eV=b.energies, pair_rules=rules, name="x",
                              unit=(b.frac_unit, b.unit_cell, b.size))
    pn = M.periodic_network_from_unit(b.unit_cell, b.frac_unit, b.size, b.labels,
                                      b.kinds_unit, b.hop_rules,
                                      basis_energies_eV=b.kind_energies[b.kinds_unit],
                                      pair_rules=rules, name="x")
    back = pn.to_site_network()

    def pairs(net):  # (lower site, higher site, J), sorted
        lo, hi = np.minimum(net.pair_i, net.pair_j), np.maximum(net.pair_i, net.pair_j)
        order = np.lexsort((hi, lo))
        return lo[order], hi[order], net.pair_energies_eV[order]

    for a, b_ in zip(pairs(back), pairs(sn)):
        np.testing.assert_array_equal(a, b_)
    np.testing.assert_array_equal(back.hop_pair_energies_eV, sn.hop_pair_energies_eV)
    assert set(np.unique(sn.pair_energies_eV)) == {0.02, 1.0}
    same_state(_state(pn, n_ions=400, steps=10_000), _state(sn, n_ions=400, steps=10_000))


def test_lgps_compact_holds_nothing_per_hop():
    """The compact LGPS hands the engine one int32 per site (and the site energies) plus
    tables that do not grow with the box."""
    tables = []
    for size in [(3, 3, 3), (6, 6, 6)]:
        t = build_material("lgps", size=size, compact=True).network.templates()
        assert t["site_template"].dtype == np.int32
        tables.append(sum(v.nbytes for k, v in t.items() if k != "site_template"))
    assert tables[0] == tables[1]


def test_kmc_run_lgps_is_compact_with_the_same_results(same_run):
    cfg = run_config("lgps", {"temperature": 600, "seed": 3, "steps": 20_000})
    net = assemble.network(cfg.model)
    assert isinstance(net, PeriodicNetwork) and net.has_interactions
    res = assemble.simulation(cfg).run(steps=20_000, blocks=10)
    ref = kmc.Simulation(build_material("lgps"), 600.0, seed=3).run(steps=20_000, blocks=10)
    # the same trajectory; the hop types' mean squared lengths (displacement_share) are
    # means over the unit cell's hops instead of all copies of them: equal to rounding
    share = (res.displacement_share, ref.displacement_share)
    assert share[0].keys() == share[1].keys()
    for k in share[0]:
        assert share[0][k] == pytest.approx(share[1][k], rel=1e-12, abs=1e-300)
    same_run(dataclasses.replace(res, displacement_share=share[1]), ref)
    # a microstructure needs the sites; a second family the event lists
    poly = run_config("polycrystal", {"material": "lgps", "temperature": 600,
                                      "n_grains": 2, "size": 4, "seed": 1})
    assert isinstance(assemble.simulation(poly).network, SiteNetwork)
    ev = run_config("lgps", {"temperature": 600, "mechanisms": ("hop", "concerted2"),
                             "barrier_concerted2": 0.3, "size": 3})
    net = assemble.network(ev.model)
    assert isinstance(net, SiteNetwork) and net.n_events > 0 and net.has_interactions


def test_run_file_round_trip(tmp_path):
    h5py = pytest.importorskip("h5py")
    mat = build_material("lgps", size=(2, 2, 2), compact=True)
    path = tmp_path / "run.h5"
    full = kmc.Simulation(mat, 600.0, seed=4).run(steps=20_000, blocks=8)
    kmc.Simulation(mat, 600.0, seed=4).run(steps=20_000, blocks=8, output=str(path))
    f = kmc.io.read_run(str(path))
    back = f.network()
    assert isinstance(back, PeriodicNetwork) and back.n_pairs == mat.network.n_pairs
    for fld in ("pair_basis_i", "pair_basis_j", "pair_cell_offsets", "pair_energies_eV"):
        np.testing.assert_array_equal(getattr(back, fld), getattr(mat.network, fld))
    for k in ("D_tracer_blocks_cm2_s", "D_sigma_blocks_cm2_s", "hops", "simulated_time_s"):
        assert f.summary[k] == full.to_dict()[k], k
    with h5py.File(path) as h:
        assert h.attrs["format_version"] == 5
    # without pairs a PeriodicNetwork stays at version 1
    with h5py.File(tmp_path / "n.h5", "w") as h:
        assert write_network(h.create_group("a"), builders.sc(size=3, compact=True)) == 1
        assert write_network(h.create_group("b"), _sc_pairs(3)) == 5
        assert read_network(h["b"]).n_pairs == 27 * 3


def test_interrupted_run_resumes_bit_identically(tmp_path, same_run, stopped_run):
    mat = build_material("lgps", size=(2, 2, 2), compact=True)
    whole = kmc.Simulation(mat, 600.0, seed=5).run(steps=40_000, blocks=10)
    part = stopped_run(kmc.Simulation(mat, 600.0, seed=5), tmp_path / "r.h5", 20_000,
                       steps=40_000, blocks=10)
    assert part is not None
    back = kmc.resume(tmp_path / "r.h5")
    same_run(back, whole)
    net = kmc.io.read_run(tmp_path / "r.h5").network()
    assert isinstance(net, PeriodicNetwork) and net.n_pairs == mat.network.n_pairs


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("changes, match", [
    ({"pair_energies_eV": None}, r"given without pair_energies_eV"),
    ({"pair_basis_j": [0, 0, 1]}, r"pair_basis_j\[2\] = 1 is out of range"),
    ({"pair_cell_offsets": np.zeros((3, 3), int)}, r"pair 0 joins basis site 0 to its own"),
    ({"pair_cell_offsets": [[1, 0, 0], [0, 1, 0], [-1, 0, 0]]},
     r"pairs 0 and 2 join the same two sites"),
    ({"pair_cell_offsets": [[1, 0, 0], [0, 1, 0], [0, 0, 2]]},
     r"pair 2 .* joins each site to one neighbour from both sides at size \(4, 4, 4\)"),
    ({"pair_cell_offsets": np.full((3, 3), 0.5)}, r"pair_cell_offsets must be integers"),
    ({"pair_energies_eV": [0.1, np.inf, 0.1]}, r"pair energies must be finite"),
])
def test_bad_pairs(changes, match):
    kw = {f.name: getattr(_sc_pairs(4), f.name)
          for f in dataclasses.fields(PeriodicNetwork) if f.init}
    kw.update(changes)
    with pytest.raises(ConfigError, match=match):
        PeriodicNetwork(**kw)


def test_no_string_templates_on_an_interacting_network():
    from kmc.mechanisms import concerted_events

    pn = _sc_pairs(6)
    events = concerted_events(builders.sc(size=6, a=3.0, barrier_eV=0.3, compact=True), 2, 0.2)
    with pytest.raises(ConfigError, match=r"without pair interactions"):
        pn.with_events(events)
    with pytest.raises(ConfigError, match=r"cannot be compact"):
        build_material("nasicon", compact=True)


def test_engine_rejects_bad_interaction_templates():
    pn = _sc_pairs(4, {"nn": 0.04, "nnn": 0.01})
    t = pn.templates()
    kw = dict(n_hop_types=1, temperature_K=300.0, attempt_frequency_Hz=1e13, charge_e=1.0,
              seed=1)
    e = np.zeros(pn.n_sites)
    ions = np.array([0, 5], dtype=np.int32)

    def make(**changes):
        return Engine(None, None, None, None, None, None, e, ions, **kw, **dict(t, **changes))

    make().check()  # valid
    J = t["ti_J"].copy()
    J[0] = 0.05  # one end of a pair differs from the other
    with pytest.raises(ConfigError, match=r"is not listed by site .* with the same J"):
        make(ti_J=J)
    doff = t["ti_doff"].copy()
    doff[1] = doff[0]
    with pytest.raises(ConfigError, match=r"lists interaction neighbour .* twice"):
        make(ti_doff=doff)
    with pytest.raises(ConfigError, match=r"goes to site 1000 \(outside 0\.\.63"):
        make(ti_doff=(t["ti_doff"] * 1000).astype(np.int32))
    with pytest.raises(ConfigError, match=r"tp_J of hop 0 of site 0 is 0"):
        make(tp_J=np.zeros_like(t["tp_J"]))
    with pytest.raises(ConfigError, match=r"ti_J\[0\] = nan is not finite"):
        make(ti_J=np.where(np.arange(J.size) == 0, np.nan, t["ti_J"]))
    with pytest.raises(ConfigError, match=r"ti_ptr must start at 0"):
        make(ti_ptr=t["ti_ptr"] + 1)
    sn = pn.to_site_network()
    with pytest.raises(ConfigError, match=r"needs the template form"):
        Engine(sn.hop_ptr, sn.hop_dst, sn.hop_rev, sn.hop_types, sn.hop_vectors,
               sn.hop_barriers_eV, e, ions, **kw, ti_ptr=t["ti_ptr"])
