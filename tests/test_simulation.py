"""The Simulation driver: composition, plans, results, reproducibility, bad input."""

import json
import math

import numpy as np
import pytest

import kmc
from kmc.builders import build_lattice

REQUIRED = ["D_tracer_cm2_s", "D_sigma_cm2_s", "correlation_factor", "haven_ratio",
            "sigma_S_cm"]


def test_result_fields_and_json(sc_net):
    res = kmc.Simulation(sc_net, 300, occupancy=0.5, seed=1).run(100_000, blocks=20)
    d = res.to_dict()
    json.dumps(d)
    for key in REQUIRED:
        assert math.isfinite(d[key]) and d[key + "_err"] > 0
    for key in ("hops", "simulated_time_s", "wall_s", "hops_per_s", "n_sites", "n_ions",
                "temperature_K", "dimensionality"):
        assert key in d
    assert d["n_ions"] == 108 and d["n_sites"] == 216 and d["dimensionality"] == 3
    assert res.D_tracer_tensor_cm2_s.shape == (3, 3)
    assert sum(res.hop_type_counts.values()) == res.hops
    assert 0.5 * 100_000 < res.hops < 2 * 100_000
    assert "tracer diffusivity" in res.summary()


def test_same_seed_same_numbers_different_seed_differs(sc_net):
    def run(seed):
        d = kmc.Simulation(sc_net, 300, occupancy=0.3, seed=seed).run(50_000, blocks=10).to_dict()
        for k in ("wall_s", "hops_per_s"):
            d.pop(k)
        return d

    assert run(4) == run(4)
    assert run(4) != run(5)


def test_seed_none_is_recorded_and_reproduces(sc_net):
    a = kmc.Simulation(sc_net, 300, n_ions=10)
    r1 = a.run(20_000, blocks=4)
    r2 = kmc.Simulation(sc_net, 300, n_ions=10, seed=r1.seed).run(20_000, blocks=4)
    assert r1.D_tracer_cm2_s == r2.D_tracer_cm2_s


def test_compositions(sc_net):
    n = sc_net.n_sites
    assert kmc.Simulation(sc_net, 300, n_vacancies=3, seed=1).n_ions == n - 3
    assert kmc.Simulation(sc_net, 300, occupancy=0.25, seed=1).n_ions == round(0.25 * n)
    sim = kmc.Simulation(sc_net, 300, ion_sites=np.array([0, 5, 9]), seed=1)
    assert sorted(sim.engine.get_state()["ion_site"]) == [0, 5, 9]


def test_production_time_plan(sc_net):
    res = kmc.Simulation(sc_net, 300, occupancy=0.5, seed=1).run(blocks=5,
                                                                  production_time_s=1e-7)
    assert res.simulated_time_s == pytest.approx(1e-7, rel=1e-9)


def test_two_dimensional_lattice_uses_d2():
    net = build_lattice("square", size=8)
    res = kmc.Simulation(net, 300, occupancy=0.5, seed=1).run(50_000, blocks=10)
    assert res.dimensionality == 2
    assert res.D_tracer_tensor_cm2_s[2, 2] == 0
    # the scalar is the in-plane trace / 2
    tr = np.trace(res.D_tracer_tensor_cm2_s)
    assert res.D_tracer_cm2_s == pytest.approx(tr / 2, rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature_K": -5, "occupancy": 0.5}, "temperature_K"),
        ({"temperature_K": 0, "occupancy": 0.5}, "temperature_K"),
        ({"temperature_K": float("nan"), "occupancy": 0.5}, "temperature_K"),
        ({"temperature_K": 300, "occupancy": 1.5}, "occupancy"),
        ({"temperature_K": 300, "occupancy": 0.0}, "occupancy"),
        ({"temperature_K": 300, "n_ions": 1000}, "more than"),
        ({"temperature_K": 300, "n_ions": 0}, "n_ions"),
        ({"temperature_K": 300, "n_vacancies": 216}, "n_vacancies"),
        ({"temperature_K": 300}, "exactly one"),
        ({"temperature_K": 300, "n_ions": 3, "occupancy": 0.5}, "exactly one"),
        ({"temperature_K": 300, "ion_sites": np.array([0, 0])}, "twice"),
        ({"temperature_K": 300, "ion_sites": np.array([999])}, "outside"),
        ({"temperature_K": 300, "occupancy": 0.5, "attempt_frequency_Hz": -1}, "attempt"),
        ({"temperature_K": 300, "occupancy": 0.5, "seed": -3}, "seed"),
        ({"temperature_K": 300, "occupancy": 0.5, "field_V_per_angstrom": (1, 2)}, "field"),
    ],
)
def test_bad_simulation_input(sc_net, kwargs, match):
    with pytest.raises(ValueError, match=match):
        kmc.Simulation(sc_net, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"steps": 0}, "steps"), ({"blocks": 1}, "blocks"), ({"equilibration": -1}, "equilibration"),
     ({"production_time_s": -1.0}, "production_time_s")],
)
def test_bad_plan(sc_net, kwargs, match):
    with pytest.raises(ValueError, match=match):
        kmc.Simulation(sc_net, 300, occupancy=0.5, seed=1).run(**kwargs)


def test_frozen_configuration_is_a_clear_error(sc_net):
    with pytest.raises(kmc.ConfigError, match="no hop is possible"):
        kmc.Simulation(sc_net, 300, occupancy=1.0, seed=1).run(1000)
    # rates that underflow are frozen too, not an infinite loop
    net = build_lattice("sc", size=4, barrier_eV=50.0)
    with pytest.raises(kmc.ConfigError, match="no hop is possible"):
        kmc.Simulation(net, 1.0, occupancy=0.5, seed=1).run(1000)


def test_network_without_hops_is_refused_or_frozen():
    net = build_lattice("sc", size=4)
    empty = kmc.SiteNetwork(cell=net.cell, positions=net.positions,
                            hop_src=np.zeros(0, np.int32), hop_dst=np.zeros(0, np.int32),
                            hop_vectors=np.zeros((0, 3)), hop_barriers_eV=np.zeros(0))
    with pytest.raises(kmc.ConfigError, match="no hop is possible"):
        kmc.Simulation(empty, 300, n_ions=3, seed=1).run(100)
