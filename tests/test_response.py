"""kmc.field_response: the conductivity as the response to +-E along each axis."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import kmc
from kmc.errors import ConfigError


def test_response_equals_nernst_einstein_for_detailed_balance_rates():
    """For a lattice gas (rates that obey detailed balance) the fluctuation-dissipation
    relation holds: the response to +-E equals the Nernst-Einstein sigma of a zero-field run
    within 3 combined standard errors, and the +E and -E runs of each axis agree (no current
    without a field)."""
    net = kmc.build_lattice("sc", size=8, a=3.0, barrier_eV=0.3)
    r = kmc.field_response(net, 600.0, steps=200_000, seed=1, occupancy=0.5)
    t = kmc.Simulation(net, 600.0, seed=1, occupancy=0.5).run(steps=600_000).transport
    assert abs(r.sigma_S_cm - t.sigma_S_cm) < 3 * math.hypot(r.sigma_S_cm_err, t.sigma_S_cm_err)
    assert r.axes == (0, 1, 2) and len(r.runs) == 6
    assert r.field_parameter == 0.05
    errs = np.array([[run.transport.sigma_drift_S_cm_err for run in r.runs[2 * k:2 * k + 2]]
                     for k in range(3)])
    assert np.all(np.abs(r.sigma_plus_S_cm - r.sigma_minus_S_cm) < 3 * np.hypot(*errs.T))


@pytest.mark.parametrize("kwargs, match", [
    ({"field_parameter": 0.0}, "field_parameter"),
    ({"field_parameter": 0.2}, "field_parameter"),
    ({"axes": (0, 0)}, "axes"),
    ({"axes": (3,)}, "axes"),
    ({"field_V_per_angstrom": (0.0, 0.0, 1e-3)}, "sets the field itself"),
])
def test_bad_input(kwargs, match):
    net = kmc.build_lattice("sc", size=4, a=3.0, barrier_eV=0.3)
    with pytest.raises(ConfigError, match=match):
        kmc.field_response(net, 600.0, steps=1000, occupancy=0.5, **kwargs)


@pytest.mark.slow
def test_nasicon_plus_and_minus_differ_by_the_zero_field_current():
    """The NASICON LCE model drives a current without a field: along some axis the +E and
    -E runs differ by more than 3 combined errors, while their mean is a positive
    conductivity."""
    m = kmc.build_material("nasicon", x=2.0, disorder_seed=0)
    r = kmc.field_response(m, 573.0, steps=2_000_000, seed=1)
    errs = np.array([[run.transport.sigma_drift_S_cm_err for run in r.runs[2 * k:2 * k + 2]]
                     for k in range(3)])
    assert np.any(np.abs(r.sigma_plus_S_cm - r.sigma_minus_S_cm) > 3 * np.hypot(*errs.T))
    assert r.sigma_S_cm > 3 * r.sigma_S_cm_err


def test_kmc_run_response_prints_the_response_and_refuses_what_it_cannot_do(capsys):
    """``kmc run --response``: the six runs of kmc.field_response from the run's options
    (JSON: each axis, each run with its seed; the response is the mean of the axes, each the
    mean of sigma(+E) and sigma(-E)); without --steps, with --field or --output: one error
    line and exit status 2."""
    from kmc.cli import main

    args = ["run", "sc", "--size", "6", "--occupancy", "0.5", "-T", "600", "--barrier", "0.3",
            "--steps", "20000", "--seed", "3", "--response"]
    assert main(args + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["axis"], r["sign"]) for r in out["runs"]] == [
        (a, s) for a in "xyz" for s in (1, -1)]
    axes = [(p["sigma_drift_S_cm"] + m["sigma_drift_S_cm"]) / 2
            for p, m in zip(out["runs"][::2], out["runs"][1::2])]
    assert out["sigma_axes_S_cm"] == pytest.approx(axes)
    assert out["sigma_S_cm"] == pytest.approx(np.mean(axes)) and out["sigma_S_cm"] > 0
    assert out["field_parameter"] == 0.05 and out["n_ions"] == 108
    assert {r["seed"] for r in out["runs"]} == {3}
    assert main(args) == 0
    assert "conductivity (response, mean of the axes)" in capsys.readouterr().out
    for extra, msg in (([], "needs a fixed --steps"), (["--field", "0", "0", "1e-3"], "--field"),
                       (["--output", "x.h5"], "--output")):
        argv = [a for a in args if a not in ("--steps", "20000")] if not extra else args + extra
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and msg in err[0], err
