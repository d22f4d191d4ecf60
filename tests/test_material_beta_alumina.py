"""Na beta-alumina: Roth-type interstitial-oxygen compensation and the Haven ratio."""

from __future__ import annotations

import numpy as np
import pytest

import kmc
from kmc.materials import build_material, material_spec


def _types(net):
    return np.asarray(net.site_type_names)[net.site_types]


def _planes(net, size, points):
    fz = (np.asarray(points) @ np.linalg.inv(net.cell))[:, 2]
    return np.round(fz * 4.0 * size[2]).astype(int)


def _min_image(net, a, b):
    f = (b - a) @ np.linalg.inv(net.cell)
    f -= np.rint(f)
    return np.linalg.norm(f @ net.cell, axis=-1)


@pytest.mark.parametrize("size, x", [((4, 4, 1), 0.2), ((6, 6, 1), 0.3), ((5, 4, 2), 0.1),
                                     ((4, 4, 1), 0.0)])
def test_oxygen_interstitials_balance_the_excess_na_plane_by_plane(size, x):
    """x/2 O_i per plane per cell (rounded per plane), two excess Na per O_i, each O_i on an
    mO site that left the network."""
    m = build_material("beta_alumina", size=size, excess=x)
    net = m.network
    n_cells = int(np.prod(size))
    per_plane = int(round(0.5 * x * size[0] * size[1]))
    oi = np.asarray(m.info["oxygen_interstitial_positions_A"]).reshape(-1, 3)
    assert m.info["oxygen_interstitials"] == len(oi) == 2 * size[2] * per_plane
    counts = np.bincount(_planes(net, size, oi), minlength=4 * size[2])
    assert list(counts[1::2]) == [per_plane] * (2 * size[2])  # planes at z = 1/4, 3/4
    assert m.info["excess_ions"] == 2 * len(oi) and m.n_ions == 2 * n_cells + 2 * len(oi)
    types = _types(net)
    assert np.sum(types == "mO") == 6 * n_cells - len(oi)
    assert np.sum(types == "BR") == np.sum(types == "aBR") == 2 * n_cells
    for p in oi:  # no Na site at an O_i; its BR and aBR neighbours are 1.615 A away
        d = _min_image(net, p, net.positions)
        assert d.min() > 1.6
        assert sorted(types[d < 1.7]) == ["BR", "aBR"]


@pytest.mark.parametrize("size, x", [((4, 4, 1), 0.2), ((5, 4, 2), 0.3)])
def test_runs_start_with_every_plane_charge_balanced(size, x):
    """The planes exchange no Na, so the model places the ions (info["ion_sites"]): one on
    every BR site and two per O_i of the plane on aBR sites of that plane; kmc run and
    Simulation.from_material start from it."""
    from kmc import assemble
    from kmc.config import RunConfig

    m = build_material("beta_alumina", size=size, excess=x)
    net, sites = m.network, np.asarray(m.info["ion_sites"])
    assert sites.size == m.n_ions == np.unique(sites).size
    types, plane = _types(net), _planes(net, size, net.positions)
    oi_plane = _planes(net, size, np.asarray(m.info["oxygen_interstitial_positions_A"]
                                             ).reshape(-1, 3))
    assert set(np.flatnonzero(types == "BR")) <= set(sites.tolist())
    for p in np.unique(plane):
        on = sites[plane[sites] == p]
        assert on.size == np.sum(types[plane == p] == "BR") + 2 * np.sum(oi_plane == p)
    cfg = RunConfig.from_dict({"lattice": "beta_alumina", "excess": x, "size": list(size),
                               "temperature": 300.0, "steps": 1000})
    assert np.array_equal(assemble.composition(cfg.model)["ion_sites"], sites)
    sim = kmc.Simulation.from_material(m, 300.0, seed=1)
    assert np.array_equal(np.sort(sim.engine.get_state()["ion_site"]), sites)


def test_oxygen_interstitials_are_apart_and_cut_one_hop_of_each_neighbour():
    m = build_material("beta_alumina", size=(8, 8, 1), excess=0.5, disorder_seed=3)
    net = m.network
    oi = np.asarray(m.info["oxygen_interstitial_positions_A"]).reshape(-1, 3)
    sep = float(material_spec("beta_alumina").data["parameters"]["oi_min_separation_A"]["value"])
    for k in range(len(oi)):
        others = np.delete(oi, k, axis=0)
        assert _min_image(net, oi[k], others).min() > sep
    # BR and aBR have three mO neighbours; the two next to an O_i have lost one hop each
    types = _types(net)
    coord = net.coordination
    honey = np.flatnonzero((types == "BR") | (types == "aBR"))
    assert set(coord[honey].tolist()) == {2, 3}
    assert np.sum(coord[honey] == 2) == 2 * len(oi)


def test_oxygen_interstitial_sites_carry_no_na_pair_energy():
    """The O_i is an O2-, not an Na+: the Na-Na exclusion of its mO site must not become a
    1 eV offset of the BR and aBR sites next to it (what blocking an Na site would do)."""
    spec = material_spec("beta_alumina").data
    e = {s["label"]: s["energy_eV"] for s in spec["sites"]}
    net = build_material("beta_alumina", size=(6, 6, 1), excess=0.3).network
    types = _types(net)
    for label in ("BR", "aBR", "mO"):
        assert np.all(net.site_energies_eV[types == label] == e[label]), label


def test_oxygen_interstitials_are_seeded():
    a = build_material("beta_alumina", size=(6, 6, 1), excess=0.2, disorder_seed=1)
    b = build_material("beta_alumina", size=(6, 6, 1), excess=0.2, disorder_seed=1)
    c = build_material("beta_alumina", size=(6, 6, 1), excess=0.2, disorder_seed=2)
    pa, pb, pc = (m.info["oxygen_interstitial_positions_A"] for m in (a, b, c))
    assert pa == pb and pa != pc


def test_attempt_frequency_is_the_cited_far_infrared_mode():
    """nu = c x 59 cm^-1 (the Na+ mode at Beevers-Ross sites), with its reference flagged."""
    spec = material_spec("beta_alumina").data
    af = spec["attempt_frequency"]
    assert af["value_Hz"] == pytest.approx(2.99792458e10 * 59.0, rel=1e-3)
    assert spec["references"][af["source"]]["flag"] == "V"


def test_haven_ratio_with_compensation_below_one_by_interstitialcy():
    """With the O_i in place and every plane charge-balanced, the interstitialcy still carries
    most of the displacement and H_R < 1 by more than 3 of the run's own standard errors."""
    size = (8, 8, 1)
    m = build_material("beta_alumina", size=size, excess=0.2, disorder_seed=1)
    net = m.network
    types = _types(net)
    plane = _planes(net, size, net.positions)
    oi_plane = _planes(net, size, np.asarray(m.info["oxygen_interstitial_positions_A"]))
    rng = np.random.default_rng(2)
    sites = list(np.flatnonzero(types == "BR"))
    for p in (1, 3):
        abr = np.flatnonzero((types == "aBR") & (plane == p))
        sites += list(rng.choice(abr, size=2 * int(np.sum(oi_plane == p)), replace=False))
    assert len(sites) == m.n_ions
    nu = material_spec("beta_alumina").data["attempt_frequency"]["value_Hz"]
    res = kmc.Simulation(net, 298.0, ion_sites=np.array(sites), seed=5,
                         attempt_frequency_Hz=nu).run(steps=1_500_000, equilibration=500_000,
                                                      blocks=200)
    t = res.transport
    assert t.diffusive, t.regime
    assert t.haven_ratio + 3 * t.haven_ratio_err < 1.0, (t.haven_ratio, t.haven_ratio_err)
    assert res.displacement_share["interstitialcy"] > 0.5, res.displacement_share
