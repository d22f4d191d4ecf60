"""The tree solver's configuration memo (small interacting systems, kmc_tree.c).

A system of at most 64 sites with interactions remembers each configuration it meets (the
sum tree's nodes and the occupied sites' hop rates): a step from a remembered configuration
must be the step the tree solver takes from it, so trajectories with and without the memo
are the same bit for bit - through restores, time limits, the memo's growth and its end
when it outgrows its budget.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import kmc
from kmc import builders
from kmc.simulation import engine_for

DATA = Path(__file__).parent / "data" / "kmcpy"


def _engines(net, ion_sites, memo=True, **kw):
    """An engine with the memo (`memo`: True, the intervals' search; "walk", the remembered
    tree's walk) and one without."""
    kw = {"temperature_K": 600.0, "seed": 9, **kw}
    return (engine_for(net, ion_sites, config_memo=memo, **kw),
            engine_for(net, ion_sites, config_memo=False, **kw))


def _kmcpy_model():
    pytest.importorskip("pymatgen")
    from kmc.interop.kmcpy import kmcpy_material

    cif = Path(resources.files("kmc.data").joinpath("structures/nasicon_Na4Zr2Si3O12_573K.cif"))
    return kmcpy_material(cif, DATA / "model.json", DATA / "events_regenerated.json",
                          DATA / "initial_state.json", (2, 1, 1))


def _pair_gas(size=4, seed=0):
    """A small sc lattice gas with random site energies and nn pair energies."""
    rng = np.random.default_rng(seed)
    net = builders.sc(size=size, a=3.0, barrier_eV=0.25)
    key = np.unique(np.minimum(net.hop_src, net.hop_dst).astype(np.int64) * net.n_sites
                    + np.maximum(net.hop_src, net.hop_dst))  # (a repeat of 2 has two hops
    # between the same two sites)
    return net.replace(site_energies_eV=rng.uniform(-0.05, 0.05, net.n_sites),
                       pair_i=key // net.n_sites, pair_j=key % net.n_sites,
                       pair_energies_eV=rng.uniform(-0.03, 0.06, key.size))


def _steps(a, b, plan, same_state):
    """Run both engines through `plan` (steps, or (steps, t_stop as a multiple of the
    current time)) and compare their states after each leg."""
    for leg in plan:
        steps, t = (leg, None) if isinstance(leg, int) else leg
        t_stop = None if t is None else a.time_s * t + 1e-12
        ra, rb = a.run(steps, t_stop), b.run(steps, t_stop)
        assert ra == rb
        a.check()
        b.check()
        same_state(a.get_state(), b.get_state())
        assert a.total_rate_Hz == b.total_rate_Hz


@pytest.mark.parametrize("memo", [True, "walk"])
def test_kmcpy_model_is_bit_identical(memo, same_state):
    """kMCpy's NASICON test model (16 Na sites, local cluster expansions: the
    environment-dependent mode): 120 configurations, all remembered, with at most 12 hops
    each (the search counts over 16 intervals). Engine.check (after every leg) also
    compares the search with the walk at and around every end of every interval."""
    m = _kmcpy_model()
    a, b = _engines(m.network, m.info["ion_sites"], memo, temperature_K=873.0,
                    attempt_frequency_Hz=5e12, rate_law=m.rate_law)
    assert a.layout["config_memo"] == 0 and b.layout["config_memo"] is None
    _steps(a, b, [1, 7, 1000, (5000, 1.5), 30_000], same_state)
    assert a.layout["config_memo"] == 120  # C(16, 14): every configuration of 14 ions met
    # a restore to an earlier state, then the same steps again
    st = a.get_state()
    _steps(a, b, [2000], same_state)
    a.set_state(st)
    b.set_state(st)
    _steps(a, b, [2000, 10], same_state)


@pytest.mark.parametrize("memo", [True, "walk"])
@pytest.mark.parametrize("occupancy, field, kept", [
    # 2 vacancies on 24 sites: 276 configurations of at most 12 hops (the search counts)
    (0.9, (0.0, 0.002, 0.001), True),
    # 6 ions: 134 596 configurations of up to 36 hops (the search bisects), more than the
    # memo's budget holds
    (0.25, None, False),
])
def test_pair_gas_is_bit_identical(occupancy, field, kept, memo, same_state):
    net = _pair_gas(size=(2, 3, 4))  # 24 sites
    n_ions = int(round(occupancy * net.n_sites))
    ions = np.random.default_rng(1).permutation(net.n_sites)[:n_ions].astype(np.int32)
    a, b = _engines(net, ions, memo, field_V_per_angstrom=field)
    _steps(a, b, [500, (3000, 2.0), 20_000], same_state)
    if kept:
        assert 0 < a.layout["config_memo"] <= 276
    else:
        assert a.layout["config_memo"] is None


def test_the_memo_ends_when_it_outgrows_its_budget(same_state):
    """64 sites half full have ~10^18 configurations: the memo fills its budget, is freed,
    and the run goes on as the tree solver's, the same steps."""
    net = _pair_gas(size=4)
    ions = np.arange(0, 64, 2, dtype=np.int32)
    a, b = _engines(net, ions)
    assert a.layout["config_memo"] == 0
    _steps(a, b, [300], same_state)
    n = a.layout["config_memo"]
    assert n is not None and n > 100  # (most steps meet a new configuration)
    _steps(a, b, [60_000, (1000, 1.1)], same_state)
    assert a.layout["config_memo"] is None  # stopped
    assert a.memory_bytes == b.memory_bytes  # and its memory returned


@pytest.mark.parametrize("bad", ["tree", 1, None])
def test_a_bad_memo_setting_is_refused(bad):
    with pytest.raises(kmc.ConfigError, match=f"config_memo = {bad!r} must be"):
        engine_for(_pair_gas(size=2), np.arange(3, dtype=np.int32), temperature_K=500.0,
                   config_memo=bad)


def test_only_small_interacting_systems_have_the_memo():
    def memo(net, ions):
        return engine_for(net, ions, temperature_K=500.0, seed=1).layout.get("config_memo")

    assert memo(_pair_gas(size=4), np.arange(10, dtype=np.int32)) == 0  # 64 sites
    assert memo(_pair_gas(size=5), np.arange(10, dtype=np.int32)) is None  # 125 sites
    assert memo(builders.sc(size=4), np.arange(10, dtype=np.int32)) is None  # no interactions


def test_simulation_results_are_those_without_the_memo(same_run):
    """A whole run (blocks, MSD, estimators) on a 12-site interacting lattice gas: the same
    numbers with the memo (Simulation's engine) and without it."""
    net = _pair_gas(size=(2, 2, 3))
    a = kmc.Simulation(net, 500.0, occupancy=0.4, seed=3)
    ref = a.run(steps=40_000, blocks=10)
    assert a.engine.layout["config_memo"] is not None
    b = kmc.Simulation(net, 500.0, occupancy=0.4, seed=3)
    eng = b.engine
    b._engine = engine_for(net, b._initial_sites, temperature_K=500.0,
                           seed=_seed_of(b), config_memo=False)
    del eng
    same_run(b.run(steps=40_000, blocks=10), ref)


def _seed_of(sim):
    """The engine seed :class:`kmc.Simulation` derives from its seed."""
    ss = np.random.SeedSequence(sim.seed)
    _, eng = ss.spawn(2)
    return int(eng.generate_state(1, np.uint64)[0])
