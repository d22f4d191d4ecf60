"""The C engine's constants and its rate law as kmc._engine exposes them (csrc/kmc_rate.h).

The engine is driven directly through kmc._engine.Engine with hand-made networks, so these
tests do not depend on the Python layers above it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from kmc import _engine
from kmc._engine import Engine, rate_Hz
from kmc.errors import ConfigError


def test_constants_come_from_the_header():
    assert _engine.MAX_DEGREE == 64 and isinstance(_engine.MAX_DEGREE, int)
    assert _engine.MAX_EVENT_MOVES == 4 and isinstance(_engine.MAX_EVENT_MOVES, int)
    assert _engine.MAX_ATTEMPT_FREQUENCY_HZ == 1e30
    assert _engine.KB_EV_PER_K == 8.617333262e-5
    assert _engine.RATE_LAWS == ("kra", "kmcpy")


def _kra(ekra, de, T, nu):
    """The "kra" law written out: nu exp(-max(E_kra + dE/2, 0, dE) / kB T)."""
    ea = np.maximum(np.maximum(np.asarray(ekra) + 0.5 * np.asarray(de), 0.0), de)
    return nu * np.exp(-(1.0 / (_engine.KB_EV_PER_K * T)) * ea)


@pytest.mark.parametrize("T, nu", [(300.0, 1e13), (1200.0, 3.5e12), (50.0, 1.0)])
def test_rate_Hz_is_the_kra_law(T, nu):
    rng = np.random.default_rng(4)
    ekra = np.concatenate([rng.uniform(0.0, 1.0, 200), [0.0, 0.3, 0.3, 0.3, 0.0]])
    de = np.concatenate([rng.uniform(-1.5, 1.5, 200), [0.0, 0.7, -0.7, 0.6, -0.2]])
    got = rate_Hz(ekra, de, T, nu)
    assert got.dtype == np.float64 and got.shape == ekra.shape
    np.testing.assert_allclose(got, _kra(ekra, de, T, nu), rtol=2e-15, atol=0)
    # the three branches of the max: E_kra + dE/2, 0 (a downhill hop at the rate nu), dE
    assert got[-1] == got[-3] == got[-5] == nu
    beta = 1.0 / (_engine.KB_EV_PER_K * T)
    np.testing.assert_allclose(got[-4], nu * math.exp(-beta * 0.7), rtol=2e-15)  # Ea = dE
    np.testing.assert_allclose(got[-2], nu * math.exp(-beta * (0.3 + 0.5 * 0.6)), rtol=2e-15)
    # detailed balance: k(dE) / k(-dE) = exp(-dE / kB T)
    back = rate_Hz(ekra, -de, T, nu)
    np.testing.assert_allclose(got / back, np.exp(-de / (_engine.KB_EV_PER_K * T)), rtol=1e-12)


@pytest.mark.parametrize("T, nu", [(300.0, 1e13), (873.0, 5e12), (50.0, 1.0)])
def test_rate_Hz_is_the_kmcpy_law(T, nu):
    """kMCpy's barrier (kmcpy/event.py, Event.set_probability): Ea = E_kra + dE/2, not
    clamped -- a hop far downhill is faster than nu -- and detailed balance holds exactly."""
    rng = np.random.default_rng(5)
    ekra = np.concatenate([rng.uniform(0.0, 1.0, 200), [0.05, 0.3, 0.3]])
    de = np.concatenate([rng.uniform(-1.5, 1.5, 200), [-1.0, 0.7, -0.7]])
    beta = 1.0 / (_engine.KB_EV_PER_K * T)
    got = rate_Hz(ekra, de, T, nu, rate_law="kmcpy")
    np.testing.assert_allclose(got, nu * np.exp(-beta * (ekra + 0.5 * de)), rtol=2e-15,
                               atol=0)
    assert got[-3] > nu  # Ea = 0.05 - 0.5 < 0
    kra = rate_Hz(ekra, de, T, nu)
    same = ekra + 0.5 * de >= np.maximum(de, 0.0)  # where the kra law does not clamp
    np.testing.assert_array_equal(got[same], kra[same])
    assert not np.all(same)
    back = rate_Hz(ekra, -de, T, nu, rate_law="kmcpy")
    np.testing.assert_allclose(got / back, np.exp(-beta * de), rtol=1e-12)


def test_kmcpy_rates_are_capped_before_they_overflow():
    """Ea far below 0 would overflow exp() (inf, then a NaN total rate): the exponent
    -Ea / kB T is capped at 300, so the fastest rate is nu e^300; just below the cap the law
    is exact. The kra law never gets near it."""
    T, nu = 300.0, 1e13
    beta = 1.0 / (_engine.KB_EV_PER_K * T)
    far = rate_Hz([0.0, 0.0, 0.1], [-1e3, -1e300, -2.0 * 299.0 / beta - 0.2], T, nu,
                  rate_law="kmcpy")
    assert np.all(np.isfinite(far))
    np.testing.assert_allclose(far[:2], nu * math.exp(300.0), rtol=1e-15)
    np.testing.assert_allclose(far[2], nu * math.exp(299.0), rtol=1e-12)
    assert rate_Hz(0.0, -1e300, T, nu) == nu


def test_rate_Hz_broadcasts_like_numpy():
    assert rate_Hz(0.3, 0.0, 300.0, 1e13).shape == ()
    assert rate_Hz([0.1, 0.2, 0.3], 0.05, 300.0, 1e13).shape == (3,)
    grid = rate_Hz(np.array([[0.1], [0.2]]), np.array([-0.1, 0.0, 0.1]), 300.0, 1e13)
    assert grid.shape == (2, 3)
    assert grid[1, 2] == rate_Hz(0.2, 0.1, 300.0, 1e13)
    assert rate_Hz([], [], 300.0, 1e13).shape == (0,)
    assert rate_Hz([0.3], [0.0], 300.0, 1e13, rate_law="kra")[0] == rate_Hz(0.3, 0.0, 300, 1e13)
    assert math.isnan(rate_Hz(float("nan"), 0.0, 300.0, 1e13))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"rate_law": "arrhenius"}, ConfigError, "'arrhenius'"),
    ({"rate_law": 0}, ConfigError, "rate_law = 0"),
    ({"temperature_K": 0.0}, ConfigError, "temperature_K"),
    ({"temperature_K": float("nan")}, ConfigError, "temperature_K"),
    ({"temperature_K": 1e-310}, ConfigError, "rate_Hz refused"),  # 1/(kB T) overflows
    ({"attempt_frequency_Hz": -1.0}, ConfigError, "attempt_frequency_Hz"),
    ({"attempt_frequency_Hz": 1e31}, ConfigError, "above"),
    ({"ekra_eV": ["a"]}, TypeError, "ekra_eV"),
    ({"ekra_eV": [0.1, 0.2], "dE_eV": [0.0, 0.1, 0.2]}, ConfigError, "broadcast"),
])
def test_rate_Hz_refuses_bad_input(kwargs, error, match):
    args = {"ekra_eV": [0.3], "dE_eV": [0.0], "temperature_K": 300.0,
            "attempt_frequency_Hz": 1e13, **kwargs}
    with pytest.raises(error, match=match):
        rate_Hz(**args)


def _pair(ekra, e0, e1, *, J=None, **kw):
    """Two sites joined by one hop (and its reverse) along x, one ion on site 0."""
    args = dict(n_hop_types=1, temperature_K=kw.pop("T", 300.0),
                attempt_frequency_Hz=kw.pop("nu", 1e13), charge_e=kw.pop("q", 1.0), seed=1,
                **kw)
    if J is not None:
        args.update(int_ptr=[0, 1, 2], int_nbr=[1, 0], int_J=[J, J], hop_J=[J, J])
    return Engine([0, 1, 2], [1, 0], [1, 0], [0, 0], [[1.5, 0, 0], [-1.5, 0, 0]],
                  [ekra, ekra], [e0, e1], [0], **args)


CASES = [(0.3, 0.0, 0.0), (0.3, 0.0, 0.1), (0.3, 0.2, 0.0), (0.05, 0.0, 0.4),
         (0.05, 0.6, 0.0), (0.0, 0.0, 0.0), (0.45, -0.013, 0.027)]


@pytest.mark.parametrize("law", _engine.RATE_LAWS)
@pytest.mark.parametrize("mode", ["tree", "count", "uniform"])
@pytest.mark.parametrize("ekra, e0, e1", CASES)
def test_rate_Hz_is_the_engines_rate_bit_for_bit(mode, ekra, e0, e1, law):
    """The engine's total rate with one allowed hop is that hop's rate: the same bits as
    rate_Hz(E_kra, dE) with dE computed as the engine does (site energies, field)."""
    T, nu, q, F = 450.0, 2e12, 1.0, 0.003
    eng = _pair(ekra, e0, e1, T=T, nu=nu, q=q, field_V_per_A=(F, 0.0, 0.0), mode=mode,
                rate_law=law)
    assert eng.mode == mode and eng.rate_law == law
    de = (e1 - e0) - q * (0.0 + F * 1.5 + 0.0 * 0.0 + 0.0 * 0.0)
    assert eng.total_rate_Hz == rate_Hz(ekra, de, T, nu, rate_law=law)


@pytest.mark.parametrize("law", _engine.RATE_LAWS)
@pytest.mark.parametrize("J", [0.04, -0.025])
def test_rate_Hz_is_the_interacting_engines_rate_bit_for_bit(J, law):
    """With a pair energy the engine adds phi[dst] - J - phi[src] to the static dE (the ion
    on the source is the destination's only neighbour: phi[dst] = J, phi[src] = 0)."""
    for ekra, e0, e1 in CASES:
        eng = _pair(ekra, e0, e1, J=J, T=500.0, rate_law=law)
        assert eng.mode == "tree"
        for _ in range(2):  # the second time through the rate memo
            de = ((e1 - e0) - 1.0 * (0.0 + 0.0 * 1.5 + 0.0 * 0.0 + 0.0 * 0.0) + J) - J - 0.0
            assert eng.total_rate_Hz == rate_Hz(ekra, de, 500.0, 1e13, rate_law=law)
            eng.run(2)  # there and back
            eng.check()


def test_engine_rate_law_keyword():
    assert _pair(0.3, 0.0, 0.0).rate_law == "kra"
    assert _pair(0.3, 0.0, 0.0, rate_law="kra").total_rate_Hz == rate_Hz(0.3, 0.0, 300, 1e13)
    with pytest.raises(ConfigError, match="rate_law = 'kra2' must be one of kra, kmcpy"):
        _pair(0.3, 0.0, 0.0, rate_law="kra2")
    with pytest.raises(ValueError, match="rate_law = 1"):
        _pair(0.3, 0.0, 0.0, rate_law=1)
