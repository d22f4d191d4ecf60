"""Microstructures: polycrystals and composites against exact and coarse-grained results.

The lattice gas without interactions maps exactly onto a resistor network of its bonds
(bond conductance q^2 k c (1 - c) / kB T), so bricks of grains whose boundary hops are slower
have an exact series (brick-layer) conductivity, and the coarse network of Voronoi grains is
a controlled approximation of the same thing.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import kmc
from kmc.errors import ConfigError
from kmc.constants import KB_EV_PER_K
from kmc.effective_medium import (brick_layer_S_cm, bond_conductances_S, effective_sigma_S_cm,
                                  percolation_threshold, resistor_network, tortuosity)
from kmc.microstructure import composite, polycrystal

KB_EV = KB_EV_PER_K
T = 600.0
DE = 0.1  # boundary barrier offset, eV


@pytest.fixture(scope="module")
def sc8():
    return kmc.build_lattice("sc", size=8, a=3.0)


def _run(net, n_ions, hops_per_ion, blocks, seed=7):
    steps = hops_per_ion * n_ions * blocks
    return kmc.Simulation(net, T, n_ions=n_ions, seed=seed).run(
        steps=steps, equilibration=steps // 20, blocks=blocks)


# ----------------------------------------------------------------------------- structure
def test_one_grain_and_zero_offsets_reproduce_the_bulk_exactly(sc8):
    one = polycrystal(sc8, n_grains=1, gb_barrier_offset_eV=0.3, gb_energy_offset_eV=0.2)
    zero = polycrystal(sc8, n_grains=8, seed=3)
    for ms in (one, zero):
        for key in ("hop_barriers_eV", "site_energies_eV", "hop_src", "hop_dst",
                    "hop_vectors", "positions"):
            assert np.array_equal(getattr(ms.network, key), getattr(sc8, key)), key
    assert not one.boundary_hop.any() and one.gb_site_fraction == 0.0
    assert zero.boundary_hop.any()
    ref = _run(sc8, 51, 20, 10).to_dict()
    for ms in (one, zero):
        got = _run(ms.network, 51, 20, 10).to_dict()
        for key in ("sigma_S_cm", "sigma_S_cm_err", "D_tracer_cm2_s", "haven_ratio", "hops",
                    "simulated_time_s"):
            assert got[key] == ref[key], key


def test_polycrystal_boundaries(sc8):
    ms = polycrystal(sc8, n_grains=8, gb_barrier_offset_eV=DE, gb_energy_offset_eV=0.05,
                     seed=2)
    net = ms.network
    cross = ms.region[sc8.hop_src] != ms.region[sc8.hop_dst]
    assert np.array_equal(ms.boundary_hop, cross)
    np.testing.assert_allclose(net.hop_barriers_eV - sc8.hop_barriers_eV, DE * cross)
    # every end of a crossing hop is a boundary site, and only boundary sites are shifted
    assert ms.boundary_site[sc8.hop_src[cross]].all()
    np.testing.assert_allclose(net.site_energies_eV, 0.05 * ms.boundary_site)
    assert ms.n_grains == 8 and math.isclose(ms.grain_size_nm, 2.4 / 2)
    assert 0 < ms.gb_site_fraction < 1
    info = ms.info()
    assert info["n_grains"] == 8 and info["gb_site_fraction"] == ms.gb_site_fraction
    # a wider boundary layer holds more sites; grain size in nm sets the grain count
    wide = polycrystal(sc8, n_grains=8, gb_width_nm=0.7, seed=2)
    assert wide.gb_site_fraction > ms.gb_site_fraction
    assert polycrystal(sc8, grain_size_nm=1.2).n_grains == 8
    assert polycrystal(sc8, grain_size_nm=1.2, arrangement="bricks").bricks == (2, 2, 2)
    # seeded
    again = polycrystal(sc8, n_grains=8, gb_barrier_offset_eV=DE, seed=2)
    assert np.array_equal(again.region, ms.region)
    assert not np.array_equal(polycrystal(sc8, n_grains=8, seed=5).region, ms.region)


def test_polycrystal_of_a_material_with_events():
    """Multi-ion events across a boundary get the barrier offset; hops and events inside a
    grain keep theirs; transport stays 2D."""
    m = kmc.build_material("beta_alumina", size=(8, 8, 1))
    ms = polycrystal(m.network, n_grains=4, gb_barrier_offset_eV=0.1, seed=1)
    net, bulk = ms.network, m.network
    move_event = np.repeat(np.arange(bulk.n_events), np.diff(bulk.event_ptr))
    crosses = np.zeros(bulk.n_events, dtype=bool)
    np.logical_or.at(crosses, move_event,
                     ms.region[bulk.event_src] != ms.region[bulk.event_dst])
    assert crosses.any() and not crosses.all()
    np.testing.assert_allclose(net.event_barriers_eV - bulk.event_barriers_eV, 0.1 * crosses)
    assert net.dimensionality == 2
    pred = resistor_network(ms, 400.0, m.n_ions)
    assert pred.sigma_tensor_S_cm[2, 2] == 0.0 and 0 < pred.ratio < 1


@pytest.mark.parametrize("kwargs, match", [
    ({}, "give one of grain_size_nm and n_grains"),
    ({"n_grains": 8, "grain_size_nm": 1.0}, "give one of"),
    ({"grain_size_nm": 5.0}, "larger than the box"),
    ({"grain_size_nm": -1.0}, "grain_size_nm = -1.0"),
    ({"n_grains": 0}, "n_grains = 0"),
    ({"n_grains": 9, "arrangement": "bricks"}, "must be a cube"),
    ({"n_grains": 8, "arrangement": "hexagons"}, "arrangement = 'hexagons'"),
    ({"n_grains": 8, "gb_barrier_offset_eV": -0.5}, "makes a barrier negative"),
    ({"n_grains": 8, "gb_width_nm": -0.1}, "gb_width_nm = -0.1"),
    ({"n_grains": 8, "gb_energy_offset_eV": float("nan")}, "gb_energy_offset_eV = nan"),
])
def test_polycrystal_bad_input(sc8, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        polycrystal(sc8, **kwargs)


# ----------------------------------------------------------------------------- coarse model
def _series(n_bonds, dE=DE):
    """Exact conductivity ratio of a chain of grains n_bonds bonds long with one slow bond."""
    return n_bonds / (n_bonds - 1 + math.exp(dE / (KB_EV * T)))


def test_resistor_network_and_brick_layer_are_exact_for_bricks(sc8):
    for k in (1, 2, 4):
        ms = polycrystal(sc8, n_grains=k**3, gb_barrier_offset_eV=DE, arrangement="bricks")
        p = resistor_network(ms, T, 51)
        want = 1.0 if k == 1 else _series(8 // k)
        assert p.ratio == pytest.approx(want, rel=1e-9)
        assert p.brick_layer_S_cm / p.sigma_bulk_S_cm == pytest.approx(want, rel=1e-9)
        np.testing.assert_allclose(p.sigma_tensor_S_cm, np.eye(3) * p.sigma_S_cm, atol=1e-12)
    # the grain network scaled to larger grains: still the exact series value
    sizes_nm = np.array([1.2, 12.0, 1200.0])
    want = [_series(round(d / 0.3)) for d in sizes_nm]
    np.testing.assert_allclose(p.at_grain_size(sizes_nm) / p.sigma_bulk_S_cm, want, rtol=1e-9)
    np.testing.assert_allclose(p.brick_layer_at(sizes_nm) / p.sigma_bulk_S_cm, want, rtol=1e-9)
    with pytest.raises(ConfigError, match="grain_size_nm"):
        p.at_grain_size([0.0])
    # the mean-field bulk of the lattice gas is q^2 k c (1 - c) / (a kB T)
    g, occ = bond_conductances_S(sc8, T, 51)
    np.testing.assert_allclose(occ, 51 / 512)
    rate = 1e13 * math.exp(-0.3 / (KB_EV * T))
    sigma = 1.602176634e-19**2 * rate * (51 / 512) * (1 - 51 / 512) / (
        1.380649e-23 * T * 3e-8)
    assert p.sigma_bulk_S_cm == pytest.approx(sigma, rel=1e-9)
    assert brick_layer_S_cm(1.0, 10.0, 0.0) == 1.0
    assert brick_layer_S_cm(1.0, 1e-7 * 1e7, 1e-7) == pytest.approx(0.5)


def test_resistor_network_bulk_limit_and_shrinking_grains(sc8):
    """Without offsets the coarse Voronoi network gives the bulk back (its raw mesh error,
    divided out, is 0-2 % for grains of 20-60 sites and 8 % for grains of 8 sites, where
    some faces are crossed by no bond); with slower boundaries its conductivity falls as the
    grains shrink."""
    ratios = []
    for g in (1, 8, 27, 64):
        flat = resistor_network(polycrystal(sc8, n_grains=g, seed=1), T, 51)
        assert flat.ratio == pytest.approx(1.0, rel=1e-9)
        assert 0.9 < flat.mesh_factor <= 1.0 + 1e-9
        ratios.append(resistor_network(polycrystal(sc8, n_grains=g, gb_barrier_offset_eV=DE,
                                                   seed=1), T, 51).ratio)
    assert ratios[0] == pytest.approx(1.0) and all(np.diff(ratios) < 0), ratios


# ----------------------------------------------------------------------------- KMC
def test_kmc_bricks_match_the_exact_brick_layer_value(sc8):
    """Cubic grains four bonds wide, boundary hops 0.1 eV slower at 600 K: the KMC
    conductivity ratio equals the exact series value within 3 standard errors."""
    bulk = _run(sc8, 51, 300, 200)
    ms = polycrystal(sc8, n_grains=8, gb_barrier_offset_eV=DE, arrangement="bricks")
    poly = _run(ms.network, 51, 300, 200)
    want = _series(4)
    pred = resistor_network(ms, T, 51, sigma_bulk_S_cm=bulk.sigma_S_cm)
    assert pred.ratio == pytest.approx(want)
    s_eff, s_err = effective_sigma_S_cm(poly, 3)
    q = s_eff / bulk.sigma_S_cm
    err = q * math.hypot(s_err / s_eff, bulk.sigma_S_cm_err / bulk.sigma_S_cm)
    assert abs(q - want) < 3 * err, (q, err, want)


def test_kmc_bricks_at_the_automatic_length_match_the_brick_layer_value(sc8):
    """The same bricks, both runs at the default length (to 5 % on sigma, no --steps):
    converged, quiet, and sigma_eff / sigma_bulk equals the exact series value within 3
    standard errors (the lag-time fit starts where ions have crossed grains)."""
    bulk = kmc.Simulation(sc8, T, n_ions=51, seed=7).run()
    ms = polycrystal(sc8, n_grains=8, gb_barrier_offset_eV=DE, arrangement="bricks")
    poly = kmc.Simulation(ms.network, T, n_ions=51, seed=7).run()
    assert bulk.converged and poly.converged and not poly.warnings
    s_eff, s_err = effective_sigma_S_cm(poly, 3)
    q = s_eff / bulk.sigma_S_cm
    err = q * math.hypot(s_err / s_eff, bulk.sigma_S_cm_err / bulk.sigma_S_cm)
    assert abs(q - _series(4)) < 3 * err, (q, err, _series(4))


def test_kmc_voronoi_grains_at_the_automatic_length_match_the_network(sc8):
    """Voronoi grains at the default length: converged, and within 20 % (the coarse
    network's mesh error, see below) plus 3 standard errors of the resistor network."""
    ms = polycrystal(sc8, n_grains=8, gb_barrier_offset_eV=DE, seed=1)
    poly = kmc.Simulation(ms.network, T, n_ions=51, seed=7).run()
    assert poly.converged
    s, e = effective_sigma_S_cm(poly, 3)
    net = resistor_network(ms, T, 51).sigma_S_cm  # mean-field bulk: exact here
    assert abs(s / net - 1) < 0.2 + 3 * e / net, (s, e, net)


def test_kmc_sigma_falls_as_grains_shrink_and_agrees_with_the_network(sc8):
    """Voronoi grains: the KMC conductivity falls monotonically (by more than 3 standard
    errors at each step) as the grains shrink, and lies within 20 % (plus 3 standard errors
    of the run) of the coarse resistor network of the same microstructure. The bulk run
    matches the mean-field bulk, exact for the lattice gas."""
    bulk = _run(sc8, 51, 300, 200)
    mf = resistor_network(polycrystal(sc8, n_grains=1), T, 51).sigma_bulk_S_cm
    assert abs(bulk.sigma_S_cm - mf) < 3 * bulk.sigma_S_cm_err
    values = [(bulk.sigma_S_cm, bulk.sigma_S_cm_err)]
    for g in (8, 64):
        ms = polycrystal(sc8, n_grains=g, gb_barrier_offset_eV=DE, seed=1)
        s, e = effective_sigma_S_cm(_run(ms.network, 51, 300, 200), 3)
        net = resistor_network(ms, T, 51).sigma_S_cm  # mean-field bulk: exact here
        assert abs(s / net - 1) < 0.2 + 3 * e / net, (g, s, e, net)
        values.append((s, e))
    for (s1, e1), (s2, e2) in zip(values, values[1:]):
        assert s1 - s2 > 3 * math.hypot(e1, e2), values


# ----------------------------------------------------------------------------- composites
def test_composite_structure(sc8):
    ms = composite(sc8, fraction=0.6, seed=4)
    assert ms.network.n_sites == round(0.6 * 512) and ms.conducting_fraction == pytest.approx(
        ms.network.n_sites / 512)
    kept = ms.site_index >= 0
    np.testing.assert_allclose(ms.network.positions, sc8.positions[kept])
    # interface sites: conducting sites with a hop to a blocking site
    touch = ~kept[sc8.hop_dst] & kept[sc8.hop_src]
    assert set(np.flatnonzero(ms.boundary_site)) == set(sc8.hop_src[touch].tolist())
    slow = composite(sc8, fraction=0.6, seed=4, interface_barrier_offset_eV=0.2)
    extra = slow.network.hop_barriers_eV - ms.network.hop_barriers_eV
    assert set(np.round(extra, 12)) == {0.0, 0.2}
    parts = composite(sc8, fraction=0.5, particle_size_nm=0.6, seed=1)
    assert parts.n_regions == round(512 * 27 / 216) and abs(parts.conducting_fraction - 0.5) < 0.1
    assert composite(sc8, fraction=1.0).network.n_sites == 512
    with pytest.raises(ConfigError, match="fraction = 0"):
        composite(sc8, fraction=0.0)
    with pytest.raises(ConfigError, match="fraction = 1.5"):
        composite(sc8, fraction=1.5)
    with pytest.raises(ConfigError, match="particle_size_nm = 50"):
        composite(sc8, fraction=0.5, particle_size_nm=50.0)


def test_composite_pair_energies_to_blocking_sites_are_dropped():
    m = kmc.build_material("lgps", size=(2, 2, 2))  # the 16h pair exclusion
    ms = composite(m.network, fraction=0.7, seed=2)
    # blocking sites hold no ion: no pair energy turns into a site-energy offset
    kept = ms.site_index >= 0
    np.testing.assert_allclose(ms.network.site_energies_eV, m.network.site_energies_eV[kept])
    assert ms.network.n_pairs < m.network.n_pairs


def test_composite_of_a_network_with_local_models_is_refused():
    m = kmc.build_material("nasicon", x=1.0, size=(2, 2, 1))
    with pytest.raises(kmc.ConfigError, match="composite: network 'nasicon' has an "
                       "environment-dependent energy model"):
        composite(m.network, fraction=0.7, seed=2)


def test_percolation_threshold_of_simple_cubic_sites():
    """Random site mixtures on a 16^3 simple-cubic box: the threshold at which a conducting
    cluster first wraps around the box lies within the finite-size width of the transition
    (the sample-to-sample spread) of the known value 0.3116."""
    est = percolation_threshold(kmc.build_lattice("sc", size=16), samples=32, seed=1)
    assert abs(est.threshold - 0.3116) < est.width, est
    assert 0.005 < est.width < 0.05 and est.stderr == pytest.approx(est.width / math.sqrt(32))


def test_composite_sigma_vanishes_below_the_percolation_threshold():
    """Below the threshold the conducting sites form finite clusters only: the network does
    not percolate, sigma_eff is zero, the runs say they give no transport coefficient, and
    their upper bound falls as they get longer (the mean squared displacement saturates).
    Above it, sigma_eff is finite and independent of the run length within errors, and the
    tortuosity is above 1."""
    net = kmc.build_lattice("sc", size=16)
    below = composite(net, fraction=0.2, seed=3).network
    above = composite(net, fraction=0.5, seed=3).network
    assert below.dimensionality == 0 and above.dimensionality == 3
    short, long_ = (_run(below, 82, h, 50, seed=1) for h in (100, 800))
    assert effective_sigma_S_cm(long_, 3) == (0.0, 0.0)
    # no transport coefficient from the finite clusters, and the upper bound falls
    assert not short.transport.diffusive and not long_.transport.diffusive
    assert math.isnan(long_.sigma_S_cm)
    assert 0 < long_.transport.sigma_S_cm_upper < 0.5 * short.transport.sigma_S_cm_upper
    n = 205  # 10 % of the conducting sites
    s1, e1 = effective_sigma_S_cm(_run(above, n, 100, 100, seed=1), 3)
    s2, e2 = effective_sigma_S_cm(_run(above, n, 400, 100, seed=1), 3)
    assert abs(s1 - s2) < 3 * math.hypot(e1, e2)
    full = _run(net, 2 * n, 400, 100, seed=1)  # the same ion density in the bulk
    tau, tau_err = tortuosity(0.5, full.sigma_S_cm, s2, full.sigma_S_cm_err, e2)
    assert tau - 3 * tau_err > 1.0, (tau, tau_err)
    assert tortuosity(0.2, 1.0, 0.0) == (math.inf, pytest.approx(math.nan, nan_ok=True))


# ----------------------------------------------------------------------------- slow
@pytest.mark.slow
def test_kmc_against_network_over_grain_sizes_high_statistics():
    """12^3 box, 400 blocks of 500 hops per ion: KMC vs the coarse network for Voronoi
    grains from 1 to 216, and KMC vs the exact series value for bricks."""
    net = kmc.build_lattice("sc", size=12, a=3.0)
    n = 173
    for g in (8, 27, 64, 216):
        ms = polycrystal(net, n_grains=g, gb_barrier_offset_eV=DE, seed=2)
        s, e = effective_sigma_S_cm(_run(ms.network, n, 500, 400), 3)
        pred = resistor_network(ms, T, n).sigma_S_cm
        assert abs(s / pred - 1) < 0.2 + 3 * e / pred, (g, s, e, pred)
    for k in (2, 3, 4):
        ms = polycrystal(net, n_grains=k**3, gb_barrier_offset_eV=DE, arrangement="bricks")
        s, e = effective_sigma_S_cm(_run(ms.network, n, 500, 400), 3)
        pred = resistor_network(ms, T, n)
        assert pred.ratio == pytest.approx(_series(12 // k))
        assert abs(s - pred.sigma_S_cm) < 3 * e, (k, s, e, pred.sigma_S_cm)


def test_moved_names_still_import_from_microstructure_with_a_warning():
    """The effective-medium predictions moved to kmc.effective_medium; the old names warn."""
    import kmc.microstructure as old

    with pytest.warns(DeprecationWarning, match="moved to kmc.effective_medium"):
        assert old.resistor_network is resistor_network
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        old.nonsense  # noqa: B018
