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
    # the scalar is the in-plane trace / 2 (fitted apart: equal well inside the errors)
    tr = np.trace(res.D_tracer_tensor_cm2_s)
    assert abs(res.D_tracer_cm2_s - tr / 2) < 0.1 * res.D_tracer_cm2_s_err


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


# --------------------------------------------------------------------------------------
# a field: the linear-response parameter x = q |E| a / (kB T), known before the run
# --------------------------------------------------------------------------------------
def test_field_far_outside_linear_response_is_refused(sc_net, capsys):
    from kmc.cli import main
    from kmc.constants import KB_EV_PER_K, MAX_FIELD_PARAMETER, MAX_LINEAR_RESPONSE_PARAMETER

    x = 1.0 * 3.0 / (KB_EV_PER_K * 300.0)  # sc, a = 3 Angstrom, |E| = 1 V/Angstrom: x = 116
    e_lin = MAX_LINEAR_RESPONSE_PARAMETER * KB_EV_PER_K * 300.0 / 3.0
    with pytest.raises(kmc.ConfigError) as info:
        kmc.Simulation(sc_net, 300, occupancy=0.5, seed=1, field_V_per_angstrom=(1, 0, 0))
    msg = str(info.value)
    assert f"q |E| a / (kB T) = {x:.3g}" in msg and "a = 3 Angstrom" in msg
    assert f"above the limit {MAX_FIELD_PARAMETER:g}" in msg
    assert f"|E| = {e_lin:.3g} V/Angstrom" in msg  # the largest field that stays linear
    # just above the limit is refused, just below runs (with the warning)
    e_max = MAX_FIELD_PARAMETER * KB_EV_PER_K * 300.0 / 3.0
    with pytest.raises(kmc.ConfigError, match="far outside linear response"):
        kmc.Simulation(sc_net, 300, occupancy=0.5, seed=1,
                       field_V_per_angstrom=(0, 0, 1.01 * e_max))
    kmc.Simulation(sc_net, 300, occupancy=0.5, seed=1, field_V_per_angstrom=(0, 0, 0.99 * e_max))
    # the command line: one line on stderr, exit status 2, before any hop
    assert main(["run", "sc", "--field", "1", "0", "0", "--steps", "1000", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"= {x:.3g}" in err and "largest field" in err


def test_field_run_carries_its_linear_response_parameter(sc_net):
    from kmc.constants import KB_EV_PER_K

    def run(field):
        return kmc.Simulation(sc_net, 300, occupancy=0.5, seed=1,
                              field_V_per_angstrom=field).run(20_000, blocks=10)

    weak, strong = run((0.0004, 0, 0)), run((0.004, 0, 0))
    for res, e in ((weak, 0.0004), (strong, 0.004)):
        d = res.to_dict()
        assert d["jump_length_A"] == pytest.approx(3.0, rel=1e-12)
        assert d["linear_response_parameter"] == pytest.approx(
            e * 3.0 / (KB_EV_PER_K * 300.0), rel=1e-12)
        line = next(s for s in res.summary().splitlines() if "conductivity (drift)" in s)
        assert f"q|E|a/kB T = {d['linear_response_parameter']:.3g}" in line
    # the warning band 0.1 < x <= 1: x = 0.046 is quiet, x = 0.46 warns
    assert not any("linear response" in w for w in weak.to_dict()["warnings"])
    assert any("outside linear response: q |E| a / kB T = 0.464" in w
               for w in strong.to_dict()["warnings"])
    # no field: no parameter
    d = kmc.Simulation(sc_net, 300, occupancy=0.5, seed=1).run(20_000, blocks=10).to_dict()
    assert d["linear_response_parameter"] is None and d["jump_length_A"] is None


def test_mean_jump_length_is_the_rms_over_the_hops():
    from kmc.simulation import mean_jump_length_A

    assert mean_jump_length_A(build_lattice("sc", size=4, a=2.5)) == pytest.approx(2.5)
    assert mean_jump_length_A(build_lattice("fcc", a=4.0, size=3)) == pytest.approx(
        4.0 / math.sqrt(2.0))
    # two hop lengths in two types, 6 of 3 A and 12 of 3 sqrt(2) A per site: every directed
    # hop counts once (not every type), the same on the periodic and the expanded network
    rms = math.sqrt((6 * 9.0 + 12 * 18.0) / 18)
    for compact in (True, False):
        net = kmc.periodic_network(np.eye(3) * 3.0, [[0, 0, 0]], 4,
                                   cutoff_A=3.0 * math.sqrt(2) + 0.01, compact=compact)
        assert mean_jump_length_A(net) == pytest.approx(rms, rel=1e-12)
    sn = net.to_site_network()
    long_hop = np.linalg.norm(sn.hop_vectors, axis=1) > 3.5
    typed = sn.replace(hop_types=long_hop.astype(np.int32), hop_type_names=("short", "long"))
    assert mean_jump_length_A(typed) == pytest.approx(rms, rel=1e-12)
