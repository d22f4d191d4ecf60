"""`Engine.run_points`: the engine records the fine collective series on its own.

A production stops the engine at every point t0 + k * interval of the summed displacement's
fine series (a stop at a time limit discards that draw, so the stops are part of the
trajectory). `run_points` makes those stops inside one engine call; it must give the events,
the stops and the recorded points of the Python loop it replaces, bit for bit, and return
where that loop would have changed the series' grid (its buffer full, or its points too
dense).
"""

from __future__ import annotations

import numpy as np
import pytest

import kmc
from kmc import builders
from kmc.errors import ConfigError
from kmc.simulation import engine_for


@pytest.fixture
def pair(random_network):
    """Two engines of one small disordered pair gas (conftest's), half filled, 600 K, the
    same seed."""
    net = random_network(3)
    sites = np.random.default_rng(3).choice(net.n_sites, net.n_sites // 2, replace=False)
    return (engine_for(net, sites, temperature_K=600.0, seed=3),
            engine_for(net, sites, temperature_K=600.0, seed=3))


def _loop(eng, max_steps, t_stop, t0, interval, k0, max_points, min_hops, steps0):
    """The Python loop run_points replaces: a `run` to each point, recorded when reached."""
    done, k, pts, steps = 0, k0, [], []
    while True:
        t_k = t0 + k * interval
        if eng.time_s >= t_k:
            if len(pts) == max_points:
                return done, "points", pts, steps
            pts.append(eng.total_displacement_A)
            steps.append(eng.steps - steps0)
            k += 1
            if len(pts) == max_points or \
                    interval * (eng.steps - steps0) < min_hops * (eng.time_s - t0):
                return done, "points", pts, steps
            continue
        if t_stop is not None and eng.time_s >= t_stop:
            return done, "time", pts, steps
        if done == max_steps:
            return done, "steps", pts, steps
        n, why = eng.run(max_steps - done, t_k if t_stop is None else min(t_k, t_stop))
        done += n
        if why == "frozen":
            return done, why, pts, steps


@pytest.mark.parametrize("legs", [
    # (max_steps, t_stop in mean hop times from now or None, interval in mean hop times,
    #  max_points, min_hops)
    [(50_000, None, 37.0, 4096, 0.0)],  # steps end the call, points on the way
    [(10**9, 3000.0, 11.0, 4096, 0.0)] * 3,  # time ends it
    [(10**9, 5000.0, 13.0, 7, 0.0)] * 5,  # the buffer ends it
    [(10**9, 5000.0, 3.0, 4096, 20.0)] * 4,  # dense points end it
    [(2000, 800.0, 5.0, 50, 2.0), (10**9, 400.0, 5.0, 3, 0.0), (123, None, 1.0, 10, 0.0)],
])
def test_points_are_the_loops(legs, pair, same_state):
    a, b = pair
    a.run(3000), b.run(3000)
    dt = a.time_s / a.steps  # a mean time between hops, s
    t0, steps0, k = a.time_s, a.steps, 0
    total_a, total_b = np.empty((4096, 3)), np.empty(4096, np.uint64)
    n_points = 0
    for max_steps, t_rel, interval_rel, m, min_hops in legs:
        t_stop = None if t_rel is None else a.time_s + t_rel * dt
        interval = interval_rel * dt
        done, why, n = a.run_points(max_steps, t_stop, t0, interval, k, total_a[:m],
                                    total_b[:m], min_hops=min_hops, steps0=steps0)
        ref = _loop(b, max_steps, t_stop, t0, interval, k, m, min_hops, steps0)
        assert (done, why) == ref[:2]
        assert n == len(ref[2])
        np.testing.assert_array_equal(total_a[:n], np.array(ref[2]).reshape(-1, 3))
        np.testing.assert_array_equal(total_b[:n], np.array(ref[3], dtype=np.uint64))
        same_state(a.get_state(), b.get_state())
        k += n
        n_points += n
    assert n_points > 0  # (every plan records points)


def test_dense_points_stop_at_the_first_dense_one(pair):
    """With min_hops above the mean hops per point, the call returns at the first point."""
    a, _ = pair
    a.run(1000)
    dt = a.time_s / a.steps
    tot, st = np.empty((100, 3)), np.empty(100, np.uint64)
    done, why, n = a.run_points(10**9, None, a.time_s, 2 * dt, 1, tot, st, min_hops=1e6,
                                steps0=a.steps)
    assert (why, n) == ("points", 1) and done > 0


def test_frozen_and_empty_buffer(pair):
    net = builders.sc(size=3, a=3.0, barrier_eV=0.25)
    full = engine_for(net, np.arange(net.n_sites), temperature_K=600.0, seed=1)
    tot, st = np.empty((5, 3)), np.empty(5, np.uint64)
    assert full.run_points(100, None, 0.0, 1.0, 1, tot, st) == (0, "frozen", 0)
    a, _ = pair
    # a point due now and no room: nothing is run
    assert a.run_points(100, None, 0.0, 1.0, 0, tot[:0], st[:0]) == (0, "points", 0)


@pytest.mark.parametrize("kw, match", [
    ({"interval_s": 0.0}, "interval"),
    ({"interval_s": -1.0}, "interval"),
    ({"interval_s": float("nan")}, "interval"),
    ({"interval_s": float("inf")}, "interval"),
    ({"t0_s": float("nan")}, "t0"),
    ({"min_hops": -1.0}, "min_hops"),
    ({"min_hops": float("nan")}, "min_hops"),
    ({"k0": -1}, "k0"),
    ({"steps0": 10**9}, "steps0"),
    ({"max_steps": -5}, "max_steps"),
    ({"t_stop": -1.0}, "t_stop"),
    ({"total_out": np.empty((5, 2))}, "total_out"),
    ({"total_out": np.empty((5, 3), np.float32)}, "total_out"),
    ({"total_out": np.empty((3, 5)).T}, "total_out"),
    ({"steps_out": np.empty(4, np.uint64)}, "steps_out"),
    ({"steps_out": np.empty(5, np.int64)}, "steps_out"),
])
def test_bad_arguments_are_named(kw, match, pair):
    a, _ = pair
    a.run(100)
    args = {"max_steps": 100, "t_stop": None, "t0_s": 0.0, "interval_s": 1e-9, "k0": 0,
            "total_out": np.empty((5, 3)), "steps_out": np.empty(5, np.uint64)}
    args.update(kw)
    before = a.get_state()
    with pytest.raises(ConfigError, match=match):
        a.run_points(**args)
    after = a.get_state()
    np.testing.assert_array_equal(before["rng"], after["rng"])
    assert before["steps"] == after["steps"]


def test_simulation_series_unchanged_by_chunking(monkeypatch, random_network):
    """Simulation.run's fine collective series and result do not depend on how the engine
    is cut into calls: the same run with its progress chunks capped at 1024 hops (so that
    chunks end between, and at, the series' points) gives the same bits."""
    net = random_network(1)
    sites = np.random.default_rng(1).choice(net.n_sites, 32, replace=False)
    out = []
    for cap in (None, 1 << 10):
        if cap is not None:
            monkeypatch.setattr(kmc.simulation, "_MAX_CHUNK", cap)
        sim = kmc.Simulation(net, 600.0, ion_sites=sites, seed=4)
        r = sim.run(steps=300_000, blocks=20)
        out.append((sim.engine.get_state(), r))
    (s0, r0), (s1, r1) = out
    np.testing.assert_array_equal(s0["rng"], s1["rng"])
    assert s0["time_s"] == s1["time_s"]
    np.testing.assert_array_equal(r0.msd["collective_A2"], r1.msd["collective_A2"])
    assert r0.D_sigma_cm2_s == r1.D_sigma_cm2_s and r0.D_sigma_cm2_s_err == r1.D_sigma_cm2_s_err
