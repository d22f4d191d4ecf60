"""Energy models in the engine: cluster expansions (triplets, quadruplets, static species
folded), environment-dependent KRA barriers and kMCpy's local "site" term; exactness of the
local updates, detailed balance by exact enumeration, the detailed-balance checker, run
files and bad input (kmc.energy)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import kmc
from kmc import io
from kmc._engine import Engine, rate_Hz
from kmc.builders import build_lattice
from kmc.energy import (ClusterExpansion, LocalClusterExpansion, attach, check_detailed_balance,
                        configuration_energy_eV, hop_energetics, summary)
from kmc.lattice import as_site_network

KB_EV = kmc.constants.KB_EV_PER_K
#: Tolerance of a statistical comparison in combined standard errors (the suite's rule).
K_SIGMA = 4.0


def _triangular(n=4):
    return as_site_network(build_lattice("triangular", size=(n, n, 1), barrier_eV=0.2))


def _triangles(net):
    """Every elementary triangle of a triangular network, as sorted site triples."""
    nb = [set(net.hop_dst[net.hop_ptr[s]:net.hop_ptr[s + 1]].tolist()) for s in range(net.n_sites)]
    out = set()
    for i in range(net.n_sites):
        for j in nb[i]:
            for k in nb[i] & nb[j]:
                out.add(tuple(sorted((i, j, k))))
    return sorted(out)


def _common_neighbours_env(net):
    """Each hop's environment: the two sites next to both of its ends, in site order (the
    same list for a hop and its reverse; the ends themselves are not in it)."""
    env = []
    for h in range(net.n_hops):
        i, j = int(net.hop_src[h]), int(net.hop_dst[h])
        ni = set(net.hop_dst[net.hop_ptr[i]:net.hop_ptr[i + 1]].tolist())
        nj = set(net.hop_dst[net.hop_ptr[j]:net.hop_ptr[j + 1]].tolist())
        env.append(sorted((ni & nj) - {i, j})[:2])
    return np.array(env, dtype=np.int64)


def _random_ce(net, rng, *, orders=(1, 2, 3, 4), static=True, scale=0.05):
    """A cluster expansion with clusters of the given orders (and static sites)."""
    n = net.n_sites
    clusters = []
    if 1 in orders:
        clusters += [(int(s),) for s in rng.choice(n, 3, replace=False)]
    if 2 in orders:
        clusters += [tuple(int(x) for x in rng.choice(n, 2, replace=False)) for _ in range(4)]
    if 3 in orders:
        clusters += _triangles(net)[:12]
    if 4 in orders:
        clusters += [tuple(int(x) for x in rng.choice(n, 4, replace=False)) for _ in range(4)]
    st = None
    if static:  # static sites -1 (n = 1: folded to a lower order) and -2 (n = 0: vanishes)
        clusters += [(0, 1, -1), (2, -1), (3, 4, -2), (-1,)]
        st = [1, 0]
    eci = rng.normal(0.0, scale, len(clusters))
    return ClusterExpansion(clusters, eci, static_occupation=st)


def _occupation(n, k, rng):
    occ = np.zeros(n, bool)
    occ[rng.choice(n, k, replace=False)] = True
    return occ


def _reference_total_rate(net, occ, T, nu, law):
    hops = np.flatnonzero(occ[net.hop_src] & ~occ[net.hop_dst])
    ekra, de = hop_energetics(net, occ, hops)
    return float(rate_Hz(ekra, de, T, nu, law).sum())


def _engine(net, occ, *, T=500.0, seed=1, law="kra"):
    return Engine(ion_sites=np.flatnonzero(occ).astype(np.int32), **net.engine_arrays(),
                  temperature_K=T, attempt_frequency_Hz=1e13, seed=seed, rate_law=law)


# --------------------------------------------------------------------------------------
# cluster expansions: dE is the energy difference
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("orders", [(1,), (2,), (3,), (4,), (1, 2, 3, 4)])
def test_cluster_dE_is_the_energy_difference(orders):
    """For random configurations and every allowed hop, the engine-level dE (folded model:
    site energies, pairs, clusters) equals E(after) - E(before) of the cluster expansion
    summed term by term, static sites included."""
    rng = np.random.default_rng(sum(orders))
    net = _triangular()
    ce = _random_ce(net, rng, orders=orders)
    with_ce = attach(net, cluster_expansion=ce)
    for _ in range(5):
        occ = _occupation(net.n_sites, 7, rng)
        hops = np.flatnonzero(occ[net.hop_src] & ~occ[net.hop_dst])
        _, de = hop_energetics(with_ce, occ, hops)
        for h, d in zip(hops, de, strict=True):
            after = occ.copy()
            after[net.hop_src[h]], after[net.hop_dst[h]] = False, True
            assert d == pytest.approx(ce.energy_eV(after) - ce.energy_eV(occ), abs=1e-12)
        # the folded energy is the model's up to the constant of the static clusters
        const = ce.folded(net.n_sites)[0]
        assert configuration_energy_eV(with_ce, occ) + const == pytest.approx(
            ce.energy_eV(occ), abs=1e-12)


@pytest.mark.parametrize("law", ["kra", "kmcpy"])
def test_engine_rates_equal_the_reference_after_many_steps(law):
    """The engine's local updates (cluster field, dependency lists of the local models) keep
    every rate exact: after many steps the total rate equals the sum of the rates evaluated
    from scratch in numpy, and kmc_engine_check finds every rate and field current."""
    rng = np.random.default_rng(5)
    net = _triangular()
    site = LocalClusterExpansion(0.0, [(0,), (1,), (0, 1)], [0.04, -0.02, 0.03], basis="spin")
    kra = LocalClusterExpansion(0.25, [(0,), (1,), (0, 1)], [0.03, 0.03, -0.05], basis="spin")
    sign = np.where(np.arange(net.n_hops) < net.hop_rev, 1.0, -1.0)
    full = attach(net, cluster_expansion=_random_ce(net, rng),
                  environments=_common_neighbours_env(net), kra=kra, de=site, de_sign=sign)
    eng = _engine(full, _occupation(net.n_sites, 8, rng), law=law)
    for _ in range(40):
        eng.run(500)
        eng.check()
        occ = np.zeros(net.n_sites, bool)
        occ[eng.get_state()["ion_site"]] = True
        ref = _reference_total_rate(full, occ, 500.0, 1e13, law)
        assert eng.total_rate_Hz == pytest.approx(ref, rel=1e-12)


def test_clusters_with_multi_ion_events_stay_exact():
    """The event solver with clusters: an event's dE (several sites at once) is the exact
    energy change, and every rate stays current (kmc_engine_check after many steps)."""
    rng = np.random.default_rng(3)
    from kmc.mechanisms import concerted_events

    base = as_site_network(build_lattice("sc", size=4, barrier_eV=0.2))
    net = base.with_events(concerted_events(base, 2, 0.12))
    assert net.n_events > 0
    ce = ClusterExpansion([tuple(int(x) for x in rng.choice(net.n_sites, 3, replace=False))
                           for _ in range(20)], rng.normal(0, 0.05, 20))
    full = attach(net, cluster_expansion=ce)
    eng = _engine(full, _occupation(net.n_sites, 20, rng))
    ev = full.events
    for _ in range(10):
        eng.run(500)
        eng.check()
        occ = np.zeros(full.n_sites, bool)
        occ[eng.get_state()["ion_site"]] = True
        ref = _reference_total_rate(full, occ, 500.0, 1e13, "kra")
        e0 = configuration_energy_eV(full, occ)
        for v in range(full.n_events):
            s_, d_ = ev.src[ev.ptr[v]:ev.ptr[v + 1]], ev.dst[ev.ptr[v]:ev.ptr[v + 1]]
            if not occ[s_].all() or (occ[d_] & ~np.isin(d_, s_)).any():
                continue
            after = occ.copy()
            after[s_] = False
            after[d_] = True
            de = configuration_energy_eV(full, after) - e0
            ref += float(rate_Hz(ev.barriers_eV[v], de, 500.0, 1e13))
        assert eng.total_rate_Hz == pytest.approx(ref, rel=1e-12)


def test_pair_only_cluster_expansion_runs_the_pair_path_bit_for_bit():
    """A cluster expansion of points and pairs is folded into site and pair energies: the
    engine's pair path, the same trajectory bit for bit as the same pairs given directly."""
    rng = np.random.default_rng(11)
    net = _triangular()
    pairs = [(int(net.hop_src[h]), int(net.hop_dst[h])) for h in range(net.n_hops)
             if net.hop_src[h] < net.hop_dst[h]]
    J = rng.normal(0, 0.04, len(pairs))
    E = rng.normal(0, 0.03, net.n_sites)
    direct = net.replace(site_energies_eV=E, pair_i=[p[0] for p in pairs],
                         pair_j=[p[1] for p in pairs], pair_energies_eV=J)
    ce = ClusterExpansion([(s,) for s in range(net.n_sites)] + pairs, np.concatenate([E, J]))
    via_ce = attach(net, cluster_expansion=ce)
    assert via_ce.n_clusters == 0
    occ = _occupation(net.n_sites, 8, rng)
    a, b = _engine(direct, occ, seed=4), _engine(via_ce, occ, seed=4)
    a.run(20_000)
    b.run(20_000)
    sa, sb = a.get_state(), b.get_state()
    for key in ("ion_site", "displacement", "rng"):
        np.testing.assert_array_equal(sa[key], sb[key])
    assert sa["time_s"] == sb["time_s"]


# --------------------------------------------------------------------------------------
# environment-dependent barriers: kMCpy's formula
# --------------------------------------------------------------------------------------
def test_barrier_of_hand_built_environments_is_the_kmcpy_formula():
    """kMCpy: E_kra = empty_cluster + sum_orbits keci_o sum_{clusters of o} prod sigma,
    sigma = -1 for an occupied (Na) and +1 for a vacant site (or Si / P on static sites);
    barrier = E_kra + direction * E_site / 2, rate = nu exp(-barrier / kB T). Evaluated here
    by hand for every occupation of a 4-site environment with two static positions, and
    compared with the engine's rate of the one allowed hop."""
    # a chain of 6 sites; the hop 2 -> 3 has environment (1, 4, static Si, static P)
    net = as_site_network(build_lattice("chain", size=6, barrier_eV=0.3))
    h = int(np.flatnonzero((net.hop_src == 2) & (net.hop_dst == 3))[0])
    env = np.zeros((net.n_hops, 4), np.int64)
    static_n = np.zeros((net.n_hops, 4), np.int8)
    for g in range(net.n_hops):
        a, b = sorted((int(net.hop_src[g]), int(net.hop_dst[g])))
        env[g] = [(a - 1) % 6, (b + 1) % 6, -1, -1]
        static_n[g] = [0, 0, 1, 0]  # Si (sigma -1: n = 1), P (sigma +1: n = 0)
    orbits = [[(0,), (1,)], [(2,), (3,)], [(0, 1)], [(0, 2), (1, 3)], [(0, 1, 2, 3)]]
    keci_meV = [10.5, 4.1, -11.3, -4.1, -7.2]
    empty_meV, site_keci_meV, site_empty_meV = 339.1, [25.0, -12.0, 6.0, 0.0, 3.0], 40.0
    clusters = [c for o in orbits for c in o]
    kra = LocalClusterExpansion(empty_meV / 1e3, clusters,
                                [k / 1e3 for o, k in zip(orbits, keci_meV) for _ in o], "spin")
    site = LocalClusterExpansion(site_empty_meV / 1e3, clusters,
                                 [k / 1e3 for o, k in zip(orbits, site_keci_meV) for _ in o],
                                 "spin")
    sign = np.where(net.hop_src < net.hop_dst, 1.0, -1.0)  # kMCpy's event: low -> high site
    full = attach(net, environments=env, static_n=static_n, kra=kra, de=site, de_sign=sign)
    T, nu = 600.0, 5e12
    k_meV = KB_EV * 1e3
    for n1, n4 in itertools.product((0, 1), repeat=2):
        sigma = [1 - 2 * n1, 1 - 2 * n4, -1, +1]
        corr = [sum(math.prod(sigma[p] for p in c) for c in o) for o in orbits]
        e_kra = empty_meV + sum(k * x for k, x in zip(keci_meV, corr))
        e_site = site_empty_meV + sum(k * x for k, x in zip(site_keci_meV, corr))
        expected = nu * math.exp(-(e_kra + e_site / 2) / (k_meV * T))
        occ = np.zeros(6, bool)
        occ[[2] + ([1] if n1 else []) + ([4] if n4 else [])] = True
        ekra, de = hop_energetics(full, occ, [h])
        assert ekra[0] * 1e3 == pytest.approx(e_kra, abs=1e-9)
        assert de[0] * 1e3 == pytest.approx(e_site, abs=1e-9)
        # the engine: one ion on site 2 alone can hop 2 -> 3 and 2 -> 1 (when 1 is empty)
        if not n1:
            occ1 = occ.copy()
            occ1[[4]] = bool(n4)
            eng = Engine(ion_sites=np.array([2] + ([4] if n4 else []), np.int32),
                         **full.engine_arrays(), temperature_K=T, attempt_frequency_Hz=nu,
                         seed=1, rate_law="kmcpy")
            assert eng.total_rate_Hz == pytest.approx(
                _reference_total_rate(full, occ1, T, nu, "kmcpy"), rel=1e-12)
            rate_23 = rate_Hz(ekra, de, T, nu, "kmcpy")[0]
            assert rate_23 == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------------------
# detailed balance: exact enumeration and the checker
# --------------------------------------------------------------------------------------
def _boltzmann_occupancy(net, n, T):
    beta = 1.0 / (KB_EV * T)
    weights, occs = [], []
    for conf in itertools.combinations(range(net.n_sites), n):
        o = np.zeros(net.n_sites, bool)
        o[list(conf)] = True
        weights.append(math.exp(-beta * configuration_energy_eV(net, o)))
        occs.append(o)
    w = np.array(weights) / sum(weights)
    return w @ np.array(occs, dtype=float)


@pytest.mark.parametrize("law", ["kra", "kmcpy"])
def test_detailed_balance_exact_enumeration_with_clusters_and_local_barriers(law):
    """Triplets, quadruplets, pairs, site energies and environment-dependent barriers on a
    3x3 triangular network with 3 ions: every site's time-averaged occupancy is the exact
    Boltzmann average over all 84 configurations (barriers shape the kinetics only)."""
    rng = np.random.default_rng(17)
    net = _triangular(3)
    ce = _random_ce(net, rng, scale=0.04)
    kra = LocalClusterExpansion(0.2, [(0,), (1,), (0, 1)], [0.05, 0.05, -0.04], basis="spin")
    full = attach(net, cluster_expansion=ce, environments=_common_neighbours_env(net), kra=kra)
    assert full.n_clusters > 0 and full.n_local_models > 0
    T, n = 300.0, 3
    exact = _boltzmann_occupancy(full, n, T)
    sim = kmc.Simulation(full, T, n_ions=n, seed=9, rate_law=law)
    batches = np.array([kmc.occupancy_statistics(sim, 30_000, samples=300, equilibration=2000)
                        for _ in range(12)])
    mean = batches.mean(axis=0)
    err = batches.std(axis=0, ddof=1) / math.sqrt(len(batches))
    for s in range(net.n_sites):
        assert abs(mean[s] - exact[s]) <= K_SIGMA * err[s] + 1e-12, (s, mean[s], err[s], exact[s])
    assert np.ptp(exact) > 10 * err.max()  # the energies matter
    sim.engine.check()


def test_checker_passes_a_hamiltonian_model_and_flags_a_violating_one():
    rng = np.random.default_rng(2)
    net = _triangular()
    env = _common_neighbours_env(net)
    kra = LocalClusterExpansion(0.25, [(0,), (1,), (0, 1)], [0.03, 0.03, -0.05], basis="spin")
    ham = attach(net, cluster_expansion=_random_ce(net, rng), environments=env, kra=kra)
    for law in ("kra", "kmcpy"):
        rep = check_detailed_balance(ham, rate_law=law)
        assert rep.holds and rep.n_cycles > 100 and rep.max_violation_eV < 1e-9
    # kMCpy's local "site" term: dE = +-f(environment), not an energy difference
    site = LocalClusterExpansion(0.0, [(0,), (1,)], [0.1, -0.05], basis="spin")
    sign = np.where(np.arange(net.n_hops) < net.hop_rev, 1.0, -1.0)
    bad = attach(net, environments=env, kra=kra, de=site, de_sign=sign)
    rep = check_detailed_balance(bad, rate_law="kmcpy")
    assert not rep.holds and rep.max_violation_eV > 0.05
    assert "VIOLATED" in str(rep)


def test_a_run_of_a_violating_model_says_so(tmp_path):
    net = _triangular()
    env = _common_neighbours_env(net)
    site = LocalClusterExpansion(0.0, [(0,), (1,)], [0.1, -0.05], basis="spin")
    sign = np.where(np.arange(net.n_hops) < net.hop_rev, 1.0, -1.0)
    bad = attach(net, environments=env, de=site, de_sign=sign)
    sim = kmc.Simulation(bad, 600.0, occupancy=0.5, seed=1, rate_law="kmcpy")
    res = sim.run(20_000, blocks=4)
    assert any("violates detailed balance" in w for w in res.warnings)
    assert res.detailed_balance_violation_eV > 0.05
    assert res.to_dict()["detailed_balance_violation_eV"] > 0.05
    good = attach(net, environments=env, kra=LocalClusterExpansion(
        0.25, [(0,), (1,)], [0.03, 0.03], basis="spin"))
    res = kmc.Simulation(good, 600.0, occupancy=0.5, seed=1).run(20_000, blocks=4)
    assert res.detailed_balance_violation_eV < 1e-9


# --------------------------------------------------------------------------------------
# run files, summaries
# --------------------------------------------------------------------------------------
def test_models_are_stored_in_run_files_and_resume_bit_identically(tmp_path):
    rng = np.random.default_rng(8)
    net = _triangular()
    kra = LocalClusterExpansion(0.25, [(0,), (1,), (0, 1)], [0.03, 0.03, -0.05], basis="spin")
    full = attach(net, cluster_expansion=_random_ce(net, rng),
                  environments=_common_neighbours_env(net), kra=kra)
    path = tmp_path / "run.h5"
    whole = kmc.Simulation(full, 500, occupancy=0.4, seed=3).run(60_000, blocks=6,
                                                                  output=tmp_path / "whole.h5")
    back = io.read_run(tmp_path / "whole.h5").network()
    for f in ("cluster_ptr", "cluster_sites", "cluster_energies_eV", "env_sites",
              "local_model_term_eV", "hop_kra_model", "hop_de_model"):
        np.testing.assert_array_equal(getattr(back, f), getattr(full, f))
    assert back.model_info == full.model_info
    assert "LocalClusterExpansion" in summary(back) and "triplets" in summary(back)
    sim = kmc.Simulation(full, 500, occupancy=0.4, seed=3)
    seen = [0]

    def progress(k):
        seen[0] += k
        if seen[0] >= 30_000:
            sim.request_stop()

    try:
        sim.run(60_000, blocks=6, output=path, progress=progress, checkpoint_interval_s=1e-3)
    except kmc.RunInterrupted:
        pass
    resumed = kmc.resume(path)
    a = io.read_run(path).checkpoint["engine"]
    b = io.read_run(tmp_path / "whole.h5").checkpoint["engine"]
    for key in ("ion_site", "displacement", "rng"):
        np.testing.assert_array_equal(a[key], b[key])
    assert resumed.D_tracer_cm2_s == whole.D_tracer_cm2_s or (
        np.isnan(resumed.D_tracer_cm2_s) and np.isnan(whole.D_tracer_cm2_s))


def test_summaries_are_readable():
    ce = ClusterExpansion([(0,), (0, 1), (0, 1, 2), (0, 1, 2, 3), (1, -1)], [0.1, -0.02, 0.01,
                                                                             0.003, 0.2],
                          static_occupation=[1])
    text = str(ce)
    assert "1 points" in text and "2 pairs" in text and "1 triplets" in text
    assert "1 quadruplets" in text and "1 static sites" in text
    lce = LocalClusterExpansion(0.339, [(0,), (1,), (0, 1)], [0.01, 0.01, -0.011], "spin",
                                name="E_kra")
    assert "e0 = 0.339 eV" in str(lce) and "(1.0, -1.0)" in str(lce)
    assert LocalClusterExpansion.from_dict(lce.to_dict()).to_dict() == lce.to_dict()
    assert ClusterExpansion.from_dict(ce.to_dict()).to_dict() == ce.to_dict()


# --------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------
def test_bad_models_give_clear_errors():
    net = _triangular()
    env = _common_neighbours_env(net)
    with pytest.raises(kmc.ConfigError, match="eci_eV has 2 values but there are 3 clusters"):
        ClusterExpansion([(0, 1), (1, 2), (2, 3)], [0.1, 0.2])
    with pytest.raises(kmc.ConfigError, match="5 sites"):
        ClusterExpansion([(0, 1, 2, 3, 4)], [0.1])
    with pytest.raises(kmc.ConfigError, match="names a site twice"):
        ClusterExpansion([(0, 0)], [0.1])
    with pytest.raises(kmc.ConfigError, match="static site 1"):
        ClusterExpansion([(0, -2)], [0.1], static_occupation=[1])
    with pytest.raises(kmc.ConfigError, match="names site 99"):
        attach(net, cluster_expansion=ClusterExpansion([(0, 1, 99)], [0.1]))
    with pytest.raises(kmc.ConfigError, match="coefficients_eV has 1 values"):
        LocalClusterExpansion(0.1, [(0,), (1,)], [0.1])
    with pytest.raises(kmc.ConfigError, match="basis = 'up'"):
        LocalClusterExpansion(0.1, [(0,)], [0.1], basis="up")
    lce = LocalClusterExpansion(0.2, [(0,), (1,)], [0.01, 0.01], "spin")
    with pytest.raises(kmc.ConfigError, match="3 environment positions, but environments has 2"):
        attach(net, environments=env, kra=LocalClusterExpansion(0.2, [(2,)], [0.01], "spin"))
    shuffled = env.copy()
    shuffled[0, 0] = (shuffled[0, 0] + 5) % net.n_sites
    with pytest.raises(kmc.ConfigError, match="not that of its reverse hop"):
        attach(net, environments=shuffled, kra=lce)
    out = env.copy()
    out[3, 1] = net.n_sites
    with pytest.raises(kmc.ConfigError, match=r"environments\[3, 1\] = 16 is not a site"):
        attach(net, environments=out, kra=lce)
    with pytest.raises(kmc.ConfigError, match="environments given without"):
        attach(net, environments=env)
    with pytest.raises(kmc.ConfigError, match="hop type 'x'"):
        attach(net, environments=env, kra={"x": lce})
    with pytest.raises(kmc.ConfigError, match="de_sign"):
        attach(net, environments=env, de=lce, de_sign=np.zeros(net.n_hops))
    # the engine names bad arrays too (a caller that bypasses kmc.energy)
    arrays = attach(net, environments=env, kra=lce).engine_arrays()
    arrays["hop_kra_model"] = np.full(net.n_hops, 7, np.int32)
    with pytest.raises(kmc.ConfigError, match=r"hop_kra_model\[0\] = 7 outside -1..0"):
        Engine(ion_sites=np.array([0], np.int32), **arrays, temperature_K=300,
               attempt_frequency_Hz=1e13, seed=1)
    arrays = net.engine_arrays()
    with pytest.raises(kmc.ConfigError, match="cluster 0 names site 16"):
        Engine(ion_sites=np.array([0], np.int32), **arrays, cl_ptr=[0, 3], cl_site=[0, 1, 16],
               cl_V=[0.1], temperature_K=300, attempt_frequency_Hz=1e13, seed=1)


def test_cluster_arrays_are_the_tuples_fast_form():
    """Clusters as an int array (all of one size, static sites negative) fold exactly as
    the same clusters given as tuples; a large model is described by its counts."""
    rng = np.random.default_rng(4)
    net = _triangular()
    tri = np.array(_triangles(net)[:10])
    stat = np.column_stack([rng.choice(net.n_sites, 6), rng.choice(net.n_sites, 6), [-1] * 6])
    stat = stat[stat[:, 0] != stat[:, 1]]
    arr = np.concatenate([tri, stat])
    eci = rng.normal(0, 0.05, len(arr))
    a = ClusterExpansion(arr, eci, static_occupation=[1])
    t = ClusterExpansion([tuple(int(x) for x in r) for r in arr], eci, static_occupation=[1])
    fa, ft = a.folded(net.n_sites), t.folded(net.n_sites)
    np.testing.assert_array_equal(fa[1], ft[1])
    for x, y in zip(fa[2] + fa[3], ft[2] + ft[3], strict=True):
        np.testing.assert_array_equal(x, y)
    occ = _occupation(net.n_sites, 8, rng)
    assert a.energy_eV(occ) == t.energy_eV(occ)
    assert a.to_dict() == t.to_dict()
    big = ClusterExpansion(np.arange(30_003).reshape(-1, 3), np.full(10_001, 0.01))
    d = big.to_dict()
    assert "clusters" not in d and d["order_counts"]["3"] == 10_001
    assert "10001 triplets" in str(big)
    with pytest.raises(kmc.ConfigError, match="counts only"):
        ClusterExpansion.from_dict(d)
    with pytest.raises(kmc.ConfigError, match="5 sites per cluster"):
        ClusterExpansion(np.zeros((2, 5), int), [0.1, 0.1])
