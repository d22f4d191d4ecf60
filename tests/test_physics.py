"""Validation ladder, rung 1 and 2: exact lattice results and self-consistency.

Exact values and their papers: docs/references.md. Every statistical assertion
uses the run's own standard error (k = 3, i.e. a 0.3 % false-failure rate per
check for Gaussian errors) plus, where stated, a documented finite-size allowance.
Seeds are fixed, so the suite is reproducible.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.constants import k as KB_J, e as E_C
from scipy.special import comb

import kmc
from kmc.analysis import random_walk_D_cm2_s
from kmc.builders import build_lattice, periodic_network

KB_EV = KB_J / E_C
K_SIGMA = 3.0


def hop_rate_Hz(barrier_eV: float, T: float, nu: float = 1e13) -> float:
    return nu * math.exp(-barrier_eV / (KB_EV * T))


def assert_close(value, err, expected, *, allowance=0.0, what=""):
    """|value - expected| <= K_SIGMA * err + allowance."""
    assert math.isfinite(value) and math.isfinite(err) and err > 0, (what, value, err)
    dev = abs(value - expected)
    assert dev <= K_SIGMA * err + allowance, (
        f"{what}: {value:.6g} +/- {err:.2g} vs exact {expected:.6g} "
        f"(deviation {dev / err:.1f} sigma, allowance {allowance:.2g})")


# --------------------------------------------------------------------------------------
# Single-vacancy tracer correlation factors (Compaan & Haven 1956; Montet 1973)
# --------------------------------------------------------------------------------------
# Blocks of n >= 300 hops per ion keep the block-edge bias (about 0.3/n for sc, 0.4/n for
# square: the loss of the jump correlations across block edges) below the error bar; the
# periodic box raises f by about 1/N (0.75/N to 1.2/N by lattice, computed exactly by
# docs/single_vacancy_f.py; docs/references.md), allowed for.
F_EXACT = {"square": (0.46694, 40), "sc": (0.65311, 12), "fcc": (0.78145, 8)}


@pytest.mark.parametrize("lattice", sorted(F_EXACT))
def test_single_vacancy_correlation_factor(lattice):
    f_exact, size = F_EXACT[lattice]
    net = build_lattice(lattice, size=size)
    n = net.n_sites
    blocks = 10
    steps = blocks * 300 * n
    res = kmc.Simulation(net, 300.0, n_vacancies=1, seed=11).run(
        steps, equilibration=n, blocks=blocks)
    f, err = res.correlation_factor, res.correlation_factor_err
    assert res.hops_per_ion_per_block > 250
    assert_close(f, err, f_exact, allowance=1.0 / n, what=f"{lattice} single-vacancy f")
    assert abs(f - f_exact) / f_exact < 0.02  # the 2 % bar, too


# --------------------------------------------------------------------------------------
# Dilute limit: one ion is a random walker, f = 1 and D* = z Gamma a^2 / (2 d)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("lattice", list(kmc.LATTICES))
def test_single_ion_random_walk(lattice):
    T, barrier = 400.0, 0.25
    net = build_lattice(lattice, barrier_eV=barrier)
    gamma = hop_rate_Hz(barrier, T)
    d = net.dimensionality
    D0 = random_walk_D_cm2_s(gamma, net.hop_lengths_A[net.hop_ptr[0]:net.hop_ptr[1]], d)
    z = int(net.coordination[0])
    a = float(net.hop_lengths_A[0])
    assert D0 == pytest.approx(z * gamma * a**2 / (2 * d) * 1e-16, rel=1e-12)
    res = kmc.Simulation(net, T, n_ions=1, seed=5).run(400_000, blocks=2000)
    assert res.dimensionality == d
    assert_close(res.D_tracer_cm2_s, res.D_tracer_cm2_s_err, D0, what=f"{lattice} D*")
    assert_close(res.correlation_factor, res.correlation_factor_err, 1.0, what=f"{lattice} f")
    # one ion: collective = tracer exactly
    assert res.D_sigma_cm2_s == pytest.approx(res.D_tracer_cm2_s, rel=1e-12)


# --------------------------------------------------------------------------------------
# Non-interacting lattice gas: D_sigma = D0 (1 - c), exactly, at every c
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("c, mode", [(0.25, "auto"), (0.5, "auto"), (0.75, "auto"),
                                     (0.5, "count"), (0.5, "tree")])
def test_lattice_gas_collective_diffusion(c, mode):
    """In every engine mode (auto: uniformization at c <= 0.75, whose acceptance 1 - c is
    at least 1/4)."""
    T, barrier = 300.0, 0.3
    net = build_lattice("sc", size=10, barrier_eV=barrier)
    D0 = 6 * hop_rate_Hz(barrier, T) * 3.0**2 / 6 * 1e-16
    res = kmc.Simulation(net, T, occupancy=c, seed=21, engine_mode=mode).run(
        3_000_000, blocks=600)
    assert res.engine_mode == ("uniform" if mode == "auto" else mode)
    assert_close(res.D_sigma_cm2_s, res.D_sigma_cm2_s_err, D0 * (1 - c),
                 what=f"D_sigma at c={c}")
    # Haven ratio = f(c) < 1, and D* = D0 (1 - c) f (within 3 of their standard errors)
    assert res.haven_ratio < 1 + 3 * res.haven_ratio_err
    assert res.correlation_factor < 1 + 3 * res.correlation_factor_err
    # sigma is Nernst-Einstein of D_sigma: (N/V) q^2 D / kB T, checked in SI by hand
    n_cm3 = res.n_ions / (net.volume_A3 * 1e-24)
    sigma = n_cm3 * E_C**2 * res.D_sigma_cm2_s / (KB_J * T)
    assert res.sigma_S_cm == pytest.approx(sigma, rel=1e-10)


# --------------------------------------------------------------------------------------
# Detailed balance: equilibrium occupancies of two site types (exact canonical)
# --------------------------------------------------------------------------------------
def _two_type_network(dE_eV: float):
    """Simple cubic 'checkerboard' (NaCl-like) of A (E=0) and B (E=dE) sites."""
    net = build_lattice("sc", size=6, barrier_eV=0.2)
    ijk = np.rint(net.positions / 3.0).astype(int)
    is_b = (ijk.sum(axis=1) % 2).astype(np.int32)
    return net.replace(site_types=is_b, site_type_names=("A", "B"),
                       site_energies_eV=dE_eV * is_b)


def _canonical_fraction_A(n_A: int, n_B: int, n: int, dE_eV: float, T: float) -> float:
    """Exact canonical mean occupancy of the A sites of a two-level lattice gas."""
    beta = 1.0 / (KB_EV * T)
    k = np.arange(max(0, n - n_B), min(n, n_A) + 1)
    logw = (np.log(comb(n_A, k, exact=False)) + np.log(comb(n_B, n - k, exact=False))
            - beta * dE_eV * (n - k))
    w = np.exp(logw - logw.max())
    return float((k * w).sum() / w.sum() / n_A)


def test_two_site_types_equilibrium_occupancy():
    T, dE = 300.0, 0.05
    net = _two_type_network(dE)
    is_b = net.site_types == 1
    n_A, n_B = int((~is_b).sum()), int(is_b.sum())
    n = 90
    exact = _canonical_fraction_A(n_A, n_B, n, dE, T)
    batches = []
    sim = kmc.Simulation(net, T, n_ions=n, seed=3)
    for i in range(16):
        occ = kmc.occupancy_statistics(sim, 60_000, samples=200,
                                       equilibration=20_000 if i == 0 else 0)
        batches.append(occ[~is_b].mean())
    batches = np.array(batches)
    mean, err = batches.mean(), batches.std(ddof=1) / math.sqrt(len(batches))
    assert_close(mean, err, exact, what="A-site occupancy")
    # and it is far from the no-energy value, so the test can fail
    assert abs(exact - n / net.n_sites) > 10 * err


def _enumeration_case(case):
    rng = np.random.default_rng(7)
    if case == "sc_energies":  # > 16 distinct rates: the engine's float sum-tree mode
        net = build_lattice("sc", size=3, barrier_eV=0.15)
        energies = rng.uniform(-0.06, 0.06, net.n_sites)
        return net.replace(site_energies_eV=energies), 2
    net = build_lattice("chain", size=6, barrier_eV=0.15)
    energies = rng.uniform(-0.05, 0.05, net.n_sites)
    if case == "chain_energies":  # few distinct rates: the engine's integer counting mode
        return net.replace(site_energies_eV=energies), 3
    pairs_i = np.arange(6, dtype=np.int32)  # pair interactions: the interacting mode
    return net.replace(site_energies_eV=energies, pair_i=pairs_i, pair_j=(pairs_i + 1) % 6,
                       pair_energies_eV=rng.uniform(-0.03, 0.06, 6)), 3


@pytest.mark.parametrize("case, mode, law", [
    ("chain_interactions", "auto", "kra"), ("chain_energies", "auto", "kra"),
    ("sc_energies", "auto", "kra"), ("chain_energies", "uniform", "kra"),
    ("sc_energies", "uniform", "kra"), ("sc_energies", "count", "kra"),
    ("chain_interactions", "auto", "kmcpy"), ("sc_energies", "auto", "kmcpy")])
def test_detailed_balance_exact_enumeration(case, mode, law):
    """Site energies (and pair interactions): every site's time-averaged occupancy matches
    the exact Boltzmann average over all configurations, in each of the engine's modes
    (automatic: interacting, count trees, float sum tree; forced uniformization, whose
    thinning then handles many distinct rates), and with kMCpy's unclamped rate law."""
    if (case, mode) == ("sc_energies", "count"):  # > 16 distinct rates: count is refused
        net, n = _enumeration_case(case)
        with pytest.raises(kmc.ConfigError, match="mode count needs"):
            kmc.Simulation(net, 300.0, n_ions=n, seed=9, engine_mode="count").engine
        return
    import itertools

    T = 300.0
    net, n = _enumeration_case(case)
    ptr, nbr, J = net.interaction_csr()
    beta = 1.0 / (KB_EV * T)
    weights, occs = [], []
    for conf in itertools.combinations(range(net.n_sites), n):
        o = np.zeros(net.n_sites)
        o[list(conf)] = 1
        E = net.site_energies_eV @ o
        if net.n_pairs:
            E += np.sum(net.pair_energies_eV * o[net.pair_i] * o[net.pair_j])
        weights.append(math.exp(-beta * E))
        occs.append(o)
    weights = np.array(weights) / sum(weights)
    exact = weights @ np.array(occs)

    sim = kmc.Simulation(net, T, n_ions=n, seed=9, engine_mode=mode, rate_law=law)
    assert sim.engine.rate_law == law
    if mode != "auto":
        assert sim.engine.mode == mode
    batches = np.array([kmc.occupancy_statistics(sim, 40_000, samples=400, equilibration=2000)
                        for _ in range(12)])
    mean = batches.mean(axis=0)
    err = batches.std(axis=0, ddof=1) / math.sqrt(len(batches))
    for s in range(net.n_sites):
        assert_close(mean[s], err[s], exact[s], what=f"{case}: site {s} occupancy")
    # the energies matter: the exact occupancies are far from uniform
    assert np.ptp(exact) > 10 * err.max()
    sim.engine.check()


# --------------------------------------------------------------------------------------
# Linear response: drift conductivity = Nernst-Einstein conductivity
# --------------------------------------------------------------------------------------
def test_field_drift_matches_nernst_einstein():
    T = 300.0
    net = build_lattice("sc", size=8, barrier_eV=0.3)
    # q E a = 0.012 eV ~ 0.46 kB T; the nonlinearity sinh(x)/x - 1 at x = qEa/2kT is 0.9 %
    field = (0.004, 0.0, 0.0)
    res = kmc.Simulation(net, T, occupancy=0.5, seed=2, field_V_per_angstrom=field).run(
        3_000_000, blocks=300)
    x = 0.004 * 3.0 / (2 * KB_EV * T)
    nonlin = math.sinh(x) / x - 1
    s_d, e_d = res.sigma_drift_S_cm, res.sigma_drift_S_cm_err
    s_ne, e_ne = res.sigma_S_cm, res.sigma_S_cm_err
    assert abs(s_d - s_ne) <= K_SIGMA * math.hypot(e_d, e_ne) + nonlin * s_ne, (s_d, e_d, s_ne, e_ne)
    # the drift is resolved (a test that cannot fail would not be one)
    assert s_d > 5 * e_d
    # and it points along the field
    v = res.drift_velocity_cm_s
    assert v[0] > 0 and abs(v[1]) < 5 * res.drift_velocity_cm_s_err[1]


def test_barrier_gives_arrhenius_sigma_T():
    """sigma*T is exactly proportional to exp(-Ea/kB T) for the lattice gas: the ratio at
    two temperatures matches within errors (a fast check of the temperature dependence)."""
    net = build_lattice("sc", size=8, barrier_eV=0.3)
    out = {}
    for T in (300.0, 450.0):
        r = kmc.Simulation(net, T, occupancy=0.5, seed=4).run(1_000_000, blocks=400)
        out[T] = (r.sigma_S_cm * T, r.sigma_S_cm_err * T)
    ratio = out[450.0][0] / out[300.0][0]
    err = ratio * math.hypot(out[450.0][1] / out[450.0][0], out[300.0][1] / out[300.0][0])
    expected = math.exp(-0.3 / KB_EV * (1 / 450.0 - 1 / 300.0))
    assert_close(ratio, err, expected, what="sigma*T ratio")


# Other lattices, longer runs (pytest -m slow). Values: bcc 0.72719 and triangular 0.56006
# (Compaan & Haven, Trans. Faraday Soc. 52, 786 (1956); Montet, Phys. Rev. B 7, 650 (1973));
# diamond 1/2 and honeycomb 1/3, exact (Compaan & Haven, Trans. Faraday Soc. 54, 1498 (1958)).
F_EXACT_SLOW = {"bcc": (0.72719, 10), "triangular": (0.56006, 40), "diamond": (0.5, 7),
                "honeycomb": (1.0 / 3.0, 28)}


@pytest.mark.slow
@pytest.mark.parametrize("lattice", sorted(F_EXACT_SLOW))
def test_single_vacancy_correlation_factor_more_lattices(lattice):
    f_exact, size = F_EXACT_SLOW[lattice]
    net = build_lattice(lattice, size=size)
    n = net.n_sites
    res = kmc.Simulation(net, 300.0, n_vacancies=1, seed=13).run(
        10 * 400 * n, equilibration=n, blocks=10)
    assert_close(res.correlation_factor, res.correlation_factor_err, f_exact,
                 allowance=1.0 / n, what=f"{lattice} single-vacancy f")
    assert abs(res.correlation_factor - f_exact) / f_exact < 0.02
