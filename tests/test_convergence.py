"""Converged transport by default (issue 19): the lag-time MSD estimators, regime
detection and runs to a requested precision, on networks with known answers.

Exact values (docs/references.md): the non-interacting lattice gas has D_sigma = D0 (1 - c)
with D0 = z Gamma a^2 / (2 d); one ion alone has D* = D0. Every statistical assertion uses
the run's own standard error (3 sigma).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import kmc
from kmc.cli import main
from kmc.constants import KB_EV_PER_K

T = 500.0
BARRIER = 0.3
A = 3.0


def _gamma(barrier=BARRIER, T=T):
    return 1e13 * math.exp(-barrier / (KB_EV_PER_K * T))


def _d0_cm2_s(z=6, d=3, a=A, barrier=BARRIER, T=T):
    return z * _gamma(barrier, T) * a * a / (2 * d) * 1e-16


def _close(value, err, exact, what, k=3.0):
    assert math.isfinite(value) and math.isfinite(err) and err > 0, (what, value, err)
    assert abs(value - exact) <= k * err, f"{what}: {value:.5g} +- {err:.2g} vs {exact:.5g}"


def test_lattice_gas_run_to_a_precision_reaches_it_and_the_exact_values():
    """sc lattice gas, c = 0.5: the automatic length reaches the 5 % target on sigma, and
    D_sigma = D0 (1 - c) within 3 sigma; one ion alone: D* = D0."""
    net = kmc.build_lattice("sc", size=8, a=A, barrier_eV=BARRIER)
    res = kmc.Simulation(net, T, occupancy=0.5, seed=11).run(target_rel_err=0.05)
    t = res.transport
    assert res.converged and res.stop_reason == "target" and t.diffusive
    assert t.estimator == "lag_msd" and t.D_sigma_cm2_s_err / t.D_sigma_cm2_s <= 0.05
    _close(t.D_sigma_cm2_s, t.D_sigma_cm2_s_err, _d0_cm2_s() * 0.5, "D_sigma")
    assert abs(t.alpha_tracer - 1) < 0.05
    assert not res.warnings and not t.warnings  # a converged default run is quiet
    one = kmc.Simulation(net, T, n_ions=1, seed=3).run(target_rel_err=0.05,
                                                       target="D_tracer")
    assert one.converged
    _close(one.D_tracer_cm2_s, one.D_tracer_cm2_s_err, _d0_cm2_s(), "D* of one ion")


def test_single_vacancy_tracer_f_at_the_automatic_length():
    """One vacancy on sc (216 sites) to 2 % on D*: the tracer correlation factor is the
    exact 0.65311 (Compaan and Haven; docs/references.md) within 3 sigma plus the 1/N
    finite-size allowance of tests/test_physics.py."""
    net = kmc.build_lattice("sc", size=6, a=A, barrier_eV=BARRIER)
    res = kmc.Simulation(net, T, n_vacancies=1, seed=4).run(target="D_tracer",
                                                           target_rel_err=0.02)
    assert res.converged and res.D_tracer_cm2_s_err / res.D_tracer_cm2_s <= 0.02
    f, err = res.correlation_factor, res.correlation_factor_err
    assert abs(f - 0.65311) <= 3 * err + 1 / net.n_sites, (f, err)


def _caged_network(n_cages=3, intra=0.05, inter=0.3, closed=False):
    """Octahedral cages of 6 sites (edge 1.5 A) on a simple-cubic lattice of cages (4 A):
    fast hops inside a cage, slow hops between facing sites of neighbouring cages (none
    when `closed`). The Li6PS5I situation: rattling inside cages, rare cage escapes."""
    a_cage, r = 4.0, 0.75
    unit = np.eye(3) * a_cage
    offs = np.array([(r, 0, 0), (-r, 0, 0), (0, r, 0), (0, -r, 0), (0, 0, r), (0, 0, -r)])
    basis = (offs / a_cage) % 1.0
    net = kmc.periodic_network(unit, basis, size=n_cages, cutoff_A=2.6,
                               barrier_eV=intra, name="cages")
    site = net.to_site_network()
    d = site.hop_lengths_A
    barrier = np.where(d < 1.2, intra, inter)  # 1.06 A inside a cage, 2.5 A across
    if closed:
        keep = d < 1.2
        site = kmc.SiteNetwork(site.cell, site.positions, site.hop_src[keep],
                               site.hop_dst[keep], site.hop_vectors[keep], intra,
                               name="closed cages")
        return site
    return site.replace(hop_barriers_eV=barrier, hop_types=(d >= 1.2).astype(np.int32),
                        hop_type_names=("rattle", "escape"))


def test_a_confined_network_is_not_diffusive_and_gives_an_upper_bound():
    net = _caged_network(closed=True)
    assert net.dimensionality == 0
    res = kmc.Simulation(net, T, n_ions=20, seed=1).run(steps=200_000)
    t = res.transport
    assert not t.diffusive and not res.converged
    assert math.isnan(t.sigma_S_cm) and t.sigma_S_cm_upper > 0
    assert math.isnan(t.D_tracer_cm2_s) and t.D_tracer_cm2_s_upper > 0
    d = res.to_dict()
    assert d["sigma_S_cm"] is None and d["sigma_S_cm_upper"] > 0 and d["diffusive"] is False
    assert any(w.startswith("no transport coefficient") for w in d["warnings"])
    assert "(upper bound)" in res.summary()


def test_rare_cage_escapes_are_flagged_or_independent_of_the_blocks():
    """Fast rattling inside cages, rare escapes (1 hop in 5000 at 400 K): a short run is
    flagged not diffusive, whatever its blocks; a run to a precision gives the same sigma
    with 5 blocks as with 100 (within errors)."""
    net = _caged_network()
    for b in (5, 100):
        short = kmc.Simulation(net, 400.0, n_ions=27, seed=2).run(steps=200_000, blocks=b)
        t = short.transport
        assert not t.diffusive and math.isnan(t.sigma_S_cm) and t.sigma_S_cm_upper > 0
        assert "rate-limiting hop type fired only" in t.regime
        assert short.event_counts["escape"] < 100
    results = [kmc.Simulation(net, 400.0, n_ions=27, seed=5).run(target_rel_err=0.1,
                                                                  blocks=b)
               for b in (5, 100)]
    for r in results:
        assert r.converged, r.transport.regime
    s5, s100 = (r.transport for r in results)
    assert abs(s5.sigma_S_cm - s100.sigma_S_cm) <= 3 * math.hypot(s5.sigma_S_cm_err,
                                                                  s100.sigma_S_cm_err)


def test_bad_precision_options_are_one_line_exit_2(capsys):
    for argv, match in (
        (["--target-rel-err", "1.5"], "--target-rel-err = 1.5 must be <= 1"),
        (["--target-rel-err", "0"], "--target-rel-err = 0.0 must be > 0"),
        (["--target-rel-err", "0.1", "--steps", "1000"], "--target-rel-err is for a run to "
         "a precision and --steps fixes the length"),
        (["--max-steps", "10"], "--max-steps = 10 must be >= 10000"),
        (["--max-wall-s", "0.01"], "--max-wall-s = 0.01 must be >= 1"),
        (["--target", "D_sigma"], "--target = 'D_sigma' must be one of sigma, D_tracer"),
    ):
        assert main(["run", "sc", "--size", "4", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and match in err, (argv, err)


def test_a_run_stopped_by_a_cap_says_so(capsys):
    net = _caged_network()
    sim = kmc.Simulation(net, 350.0, n_ions=27, seed=7)
    res = sim.run(target_rel_err=0.001, max_steps=20_000)
    assert not res.converged and res.stop_reason == "max_steps"
    # exactly the cap's production hops (after the default equilibration of 10000)
    assert sim.engine.steps == 10_000 + 20_000
    assert any("not converged: stopped at the cap" in w for w in res.warnings)
    assert main(["run", "sc", "--size", "4", "--target-rel-err", "0.0001", "--max-steps",
                 "2e4", "--seed", "1", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["converged"] is False and out["stop_reason"] == "max_steps"


def test_a_run_whose_final_estimate_meets_the_target_at_the_cap_has_converged():
    """A cap can stop production between two looks at the estimate. If the final estimate
    (one more look) meets the target with a diffusive MSD, the run has converged: no
    "not converged ... allow more" note, stop_reason still "max_steps" (what stopped it)."""
    net = kmc.build_lattice("sc", size=6, barrier_eV=0.3)
    res = kmc.Simulation(net, 500.0, occupancy=0.5, seed=4).run(target_rel_err=0.25,
                                                                 max_steps=40_000)
    fit = res.transport
    assert res.stop_reason == "max_steps" and fit.diffusive
    assert fit.D_sigma_cm2_s_err / fit.D_sigma_cm2_s <= 0.25   # the case: met only at the cap
    assert res.converged
    assert not any("not converged" in w for w in res.warnings)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fixed", "target"])
def test_coverage_of_the_fitted_lattice_gas_D_sigma(kind):
    """Over 300 seeds of a lattice gas (exact D_sigma), the 1-sigma error bars of the
    lag-time fit cover the exact value at the nominal 68.3 % rate (binomial 3 sigma: +-
    0.081): for runs of a fixed length, and for runs to 5 % (whose stopping rule looks at
    the estimate, and must not bias it)."""
    net = kmc.build_lattice("sc", size=6, a=A, barrier_eV=BARRIER)
    exact = _d0_cm2_s() * 0.5
    hits, pulls = 0, []
    n = 300
    for seed in range(n):
        sim = kmc.Simulation(net, T, occupancy=0.5, seed=100 + seed)
        res = sim.run(steps=400_000) if kind == "fixed" else sim.run(target_rel_err=0.05)
        t = res.transport
        pulls.append((t.D_sigma_cm2_s - exact) / t.D_sigma_cm2_s_err)
        hits += abs(t.D_sigma_cm2_s - exact) <= t.D_sigma_cm2_s_err
    p = 0.6827
    assert abs(hits / n - p) <= 3 * math.sqrt(p * (1 - p) / n), hits / n
    assert abs(np.mean(pulls)) < 3 / math.sqrt(n) * np.std(pulls) + 0.1, np.mean(pulls)


def test_a_sweep_of_runs_without_a_value_says_so(tmp_path, capsys):
    """Runs too short for a diffusive regime: the sweep's rows are null with upper bounds,
    and its Arrhenius fit and plot say why in one line (exit 2 on the command line)."""
    out = tmp_path / "short.h5"
    assert main(["sweep", "sc", "--size", "4", "-T", "400,500", "--steps", "1000",
                 "--blocks", "2", "--seed", "1", "--workers", "1", "--quiet", "--output",
                 str(out)]) == 0
    capsys.readouterr()
    sweep = kmc.load(out)
    for p in sweep.points():
        assert p["sigma_S_cm"] is None and p["sigma_S_cm_upper"] > 0
        assert p["diffusive"] is False and p["converged"] is False
    with pytest.raises(kmc.ConfigError, match="only 0 of its 2 temperatures have a value"):
        sweep.arrhenius()
    for argv in (["arrhenius", str(out)], ["plot", str(out)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "diffusive regime" in err, err
