"""Tests of kmc.analysis: block moments -> D*, D_sigma, f, H_R, sigma, with error bars.

Synthetic trajectories with known answers (independent lattice random walkers,
perfectly correlated walkers, Gaussian walkers drifting in a field) stand in for
the engine. Every statistical tolerance is a multiple of a standard error that
the data themselves provide (the estimator's own jackknife error, a binomial or
sample-variance error), never a hand-tuned number.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from kmc.analysis import (
    BlockData,
    TransportEstimate,
    jackknife,
    jackknife_sums,
    nernst_einstein_S_cm,
    random_walk_D_cm2_s,
    transport,
)
from kmc.errors import ConfigError

SEED = 1
K_SIGMA = 4.0  # tolerance in standard errors


def agrees(est: float, err: float, truth: float) -> bool:
    """A positive scale estimate (D, sigma) agrees with truth within K_SIGMA errors.

    Second-moment estimators are chi-square-like: a low estimate also gets a
    proportionally low jackknife error, so ``|est - truth| < K err`` is lopsided.
    Their relative error err/est is the stable (pivotal) quantity, so compare on a
    log scale: ``|ln(est/truth)| < K err/est`` (delta method: sd(ln x) = sd(x)/x).
    """
    return est > 0 and abs(math.log(est / truth)) < K_SIGMA * err / est


# CODATA 2018 exact SI values, typed in here so the unit checks do not share
# constants with the code under test.
E_C = 1.602176634e-19
KB_J_K = 1.380649e-23


# --------------------------------------------------------------------------- #
# synthetic trajectories
# --------------------------------------------------------------------------- #
def blocks_from_displacements(
    dr: np.ndarray, durations: np.ndarray, hops: np.ndarray, jump_sq: np.ndarray
) -> BlockData:
    """BlockData from per-ion block displacements dr, shape (B, N, 3)."""
    return BlockData(
        duration_s=durations,
        tracer_sq_A2=np.einsum("bni,bnj->bij", dr, dr),
        collective_A=dr.sum(axis=1),
        jump_sq_A2=jump_sq,
        hops=hops,
    )


def lattice_walkers(
    rng: np.random.Generator,
    *,
    n_blocks: int,
    n_ions: int,
    d: int,
    rate_Hz: float,
    a_A: float,
    mean_duration_s: float,
    correlated: bool = False,
) -> BlockData:
    """Independent (or rigidly co-moving) random walkers on a d-dim cubic lattice.

    Each ion hops with rate ``rate_Hz`` to each of its 2d neighbours at distance
    ``a_A``; by Poisson splitting the hop counts per direction within a block are
    independent Poisson(rate * T_b). Block lengths vary (as KMC blocks of a fixed
    number of steps do). D0 = rate a^2 exactly; f = 1 for independent walkers.
    """
    durations = mean_duration_s * rng.uniform(0.5, 1.5, n_blocks)
    n_walk = 1 if correlated else n_ions
    counts = rng.poisson(rate_Hz * durations[:, None, None, None], (n_blocks, n_walk, d, 2))
    dr = np.zeros((n_blocks, n_walk, 3))
    dr[:, :, :d] = a_A * (counts[..., 0] - counts[..., 1])
    hops_per_walker = counts.sum(axis=(2, 3))  # (B, n_walk)
    if correlated:
        dr = np.repeat(dr, n_ions, axis=1)
        hops_per_walker = np.repeat(hops_per_walker, n_ions, axis=1)
    hops = hops_per_walker.sum(axis=1)
    return blocks_from_displacements(dr, durations, hops, hops * a_A**2)


def D0_cm2_s(rate_Hz: float, a_A: float, d: int) -> float:
    return rate_Hz * a_A**2 * 1e-16


def run_transport(blocks: BlockData, n_ions: int, d: int, **kw) -> TransportEstimate:
    args = dict(n_ions=n_ions, volume_A3=1000.0, temperature_K=300.0, charge_e=1.0,
                dimensionality=d)
    args.update(kw)
    return transport(blocks, **args)


WALK = dict(rate_Hz=1e9, a_A=2.0, mean_duration_s=25e-9)  # ~25 hops per direction per block


# --------------------------------------------------------------------------- #
# independent random walkers: exact D* = D_sigma = D0, f = H_R = 1
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("d", [1, 2, 3])
def test_independent_walkers_recover_D0(d: int) -> None:
    rng = np.random.default_rng(SEED)
    n_ions, n_blocks = 16, 200
    blocks = lattice_walkers(rng, n_blocks=n_blocks, n_ions=n_ions, d=d, **WALK)
    r = run_transport(blocks, n_ions, d)
    truth = D0_cm2_s(WALK["rate_Hz"], WALK["a_A"], d)
    assert truth == pytest.approx(
        random_walk_D_cm2_s(WALK["rate_Hz"], [WALK["a_A"]] * (2 * d), d), rel=1e-12
    )

    assert agrees(r.D_tracer_cm2_s, r.D_tracer_cm2_s_err, truth)
    assert agrees(r.D_sigma_cm2_s, r.D_sigma_cm2_s_err, truth)
    # D_sigma = D* for independent walkers
    assert abs(r.D_sigma_cm2_s - r.D_tracer_cm2_s) < K_SIGMA * math.hypot(
        r.D_sigma_cm2_s_err, r.D_tracer_cm2_s_err
    )
    assert abs(r.haven_ratio - 1.0) < K_SIGMA * r.haven_ratio_err
    assert abs(r.correlation_factor - 1.0) < K_SIGMA * r.correlation_factor_err

    # tensors: D0 on the d active axes, exactly 0 elsewhere
    for tensor, err in (
        (r.D_tracer_tensor_cm2_s, r.D_tracer_tensor_cm2_s_err),
        (r.D_sigma_tensor_cm2_s, r.D_sigma_tensor_cm2_s_err),
    ):
        assert tensor.shape == (3, 3) and err.shape == (3, 3)
        for k in range(d):
            assert agrees(tensor[k, k], err[k, k], truth)
        assert np.all(tensor[d:, :] == 0.0) and np.all(tensor[:, d:] == 0.0)
    np.testing.assert_allclose(np.trace(r.D_tracer_tensor_cm2_s) / d, r.D_tracer_cm2_s,
                               rtol=1e-12)
    np.testing.assert_allclose(np.trace(r.D_sigma_tensor_cm2_s) / d, r.D_sigma_cm2_s,
                               rtol=1e-12)

    assert r.n_blocks == n_blocks and r.dimensionality == d
    assert r.hops_per_ion_per_block == pytest.approx(blocks.hops.sum() / (n_blocks * n_ions))
    assert r.warnings == ()
    assert math.isnan(r.sigma_drift_S_cm) and math.isnan(r.sigma_drift_S_cm_err)
    assert np.all(np.isnan(r.drift_velocity_cm_s))


@pytest.mark.parametrize("d", [1, 3])
def test_jackknife_error_bars_are_calibrated(d: int) -> None:
    """Over many synthetic runs the reported errors match the actual scatter.

    Coverage: the fraction of runs with |ln(est/truth)| < 2 err/est (see
    ``agrees``) must match the Student-t value for B - 1 degrees of freedom
    within 4 binomial standard errors. Size: the empirical standard deviation of
    the estimates must match the rms reported error within 4 standard errors of
    that ratio. B = 200: with far fewer blocks the error bar of D_sigma (one
    chi-square-like term per block and axis) is itself so noisy that coverage
    drops below the t value (about 0.92 at B = 50, d = 1), which is what the
    few-blocks warning is about.
    """
    rng = np.random.default_rng(SEED)
    repeats, n_blocks, n_ions = 200, 200, 16
    truth = D0_cm2_s(WALK["rate_Hz"], WALK["a_A"], d)
    est = np.empty((repeats, 2))
    err = np.empty((repeats, 2))
    for k in range(repeats):
        blocks = lattice_walkers(rng, n_blocks=n_blocks, n_ions=n_ions, d=d, **WALK)
        r = run_transport(blocks, n_ions, d)
        est[k] = r.D_tracer_cm2_s, r.D_sigma_cm2_s
        err[k] = r.D_tracer_cm2_s_err, r.D_sigma_cm2_s_err

    p0 = 2.0 * stats.t.cdf(2.0, n_blocks - 1) - 1.0
    tol_p = K_SIGMA * math.sqrt(p0 * (1.0 - p0) / repeats)
    for col in range(2):
        covered = np.mean(np.abs(np.log(est[:, col] / truth)) < 2.0 * err[:, col] / est[:, col])
        assert abs(covered - p0) < tol_p, (col, covered, p0, tol_p)

        scatter = est[:, col].std(ddof=1)
        e2 = err[:, col] ** 2
        rms_err = math.sqrt(e2.mean())
        ratio = scatter / rms_err
        # relative standard errors of the sample std and of the rms error
        rel_var = 1.0 / (2.0 * (repeats - 1)) + e2.var(ddof=1) / (4.0 * repeats * e2.mean() ** 2)
        assert abs(ratio - 1.0) < K_SIGMA * math.sqrt(rel_var), (col, ratio)


# --------------------------------------------------------------------------- #
# perfectly correlated walkers: D_sigma = N D*, H_R = 1/N exactly
# --------------------------------------------------------------------------- #
def test_perfectly_correlated_walkers() -> None:
    rng = np.random.default_rng(SEED)
    n_ions, d = 12, 3
    blocks = lattice_walkers(rng, n_blocks=40, n_ions=n_ions, d=d, correlated=True, **WALK)
    r = run_transport(blocks, n_ions, d)
    assert r.D_sigma_cm2_s == pytest.approx(n_ions * r.D_tracer_cm2_s, rel=1e-12)
    assert r.D_sigma_cm2_s_err == pytest.approx(n_ions * r.D_tracer_cm2_s_err, rel=1e-9)
    np.testing.assert_allclose(r.D_sigma_tensor_cm2_s, n_ions * r.D_tracer_tensor_cm2_s,
                               rtol=1e-12, atol=0.0)
    assert r.haven_ratio == pytest.approx(1.0 / n_ions, rel=1e-12)
    assert r.haven_ratio_err < 1e-12 * r.haven_ratio
    # each ion is a plain random walker: D* = D0, f = 1
    truth = D0_cm2_s(WALK["rate_Hz"], WALK["a_A"], d)
    assert agrees(r.D_tracer_cm2_s, r.D_tracer_cm2_s_err, truth)
    assert abs(r.correlation_factor - 1.0) < K_SIGMA * r.correlation_factor_err


# --------------------------------------------------------------------------- #
# field: drift conductivity = Nernst-Einstein, D_sigma not inflated by drift
# --------------------------------------------------------------------------- #
def drifting_walkers(rng, *, n_blocks, n_ions, D_A2_s, v_A_s, mean_duration_s, a_A=2.0):
    durations = mean_duration_s * rng.uniform(0.5, 1.5, n_blocks)
    t = durations[:, None, None]
    dr = v_A_s[None, None, :] * t + np.sqrt(2.0 * D_A2_s * t) * rng.standard_normal(
        (n_blocks, n_ions, 3)
    )
    # bookkeeping of hops (only used by f and the linear-response check)
    hops = np.full(n_blocks, 100 * n_ions)
    return dr, durations, blocks_from_displacements(dr, durations, hops, hops * a_A**2)


FIELD = dict(n_ions=100, volume_A3=5000.0, temperature_K=300.0, charge_e=1.0)


def test_field_drift_matches_nernst_einstein() -> None:
    rng = np.random.default_rng(SEED)
    D_cm2_s = 1e-5
    D_A2_s = D_cm2_s / 1e-16
    e_hat = np.array([1.0, 2.0, 2.0]) / 3.0
    e_vec = 2e-4 * e_hat  # V/Angstrom; q E a / kB T ~ 0.015 for a = 2 Angstrom
    kT_eV = KB_J_K * FIELD["temperature_K"] / E_C
    v = D_A2_s * FIELD["charge_e"] * e_vec / kT_eV  # Einstein relation, Angstrom/s
    n_blocks = 200
    _, _, blocks = drifting_walkers(
        rng, n_blocks=n_blocks, n_ions=FIELD["n_ions"], D_A2_s=D_A2_s, v_A_s=v,
        mean_duration_s=1e-8,
    )
    r = transport(blocks, dimensionality=3, field_V_per_angstrom=e_vec, **FIELD)
    sigma_ne = nernst_einstein_S_cm(FIELD["n_ions"], FIELD["volume_A3"], FIELD["charge_e"],
                                    D_cm2_s, FIELD["temperature_K"])

    assert abs(r.sigma_drift_S_cm - sigma_ne) < K_SIGMA * r.sigma_drift_S_cm_err
    assert agrees(r.sigma_S_cm, r.sigma_S_cm_err, sigma_ne)
    assert abs(r.sigma_drift_S_cm - r.sigma_S_cm) < K_SIGMA * math.hypot(
        r.sigma_drift_S_cm_err, r.sigma_S_cm_err
    )
    # the drift does not inflate the fluctuation estimates
    assert agrees(r.D_sigma_cm2_s, r.D_sigma_cm2_s_err, D_cm2_s)
    assert agrees(r.D_tracer_cm2_s, r.D_tracer_cm2_s_err, D_cm2_s)
    assert abs(r.haven_ratio - 1.0) < K_SIGMA * r.haven_ratio_err
    v_cm_s = v * 1e-8
    assert np.all(np.abs(r.drift_velocity_cm_s - v_cm_s) < K_SIGMA * r.drift_velocity_cm_s_err)
    assert r.field_V_per_angstrom == tuple(e_vec)
    assert r.warnings == ()

    # ... whereas the same data analysed without centring are far off (by twice
    # the tolerance used above), so the D_sigma check would catch a missing centring
    raw = transport(blocks, dimensionality=3, **FIELD)
    assert raw.D_sigma_cm2_s - D_cm2_s > 2.0 * K_SIGMA * r.D_sigma_cm2_s_err
    assert not agrees(raw.D_sigma_cm2_s, raw.D_sigma_cm2_s_err, D_cm2_s)


def test_centring_equals_explicit_per_ion_centring() -> None:
    """sum_b sum_i (dr_i - u T_b)(dr_i - u T_b)^T and sum_b (M_b - N u T_b)(...)^T."""
    rng = np.random.default_rng(SEED)
    n_ions = 7
    dr, t, blocks = drifting_walkers(
        rng, n_blocks=30, n_ions=n_ions, D_A2_s=1e11, v_A_s=np.array([3e9, -1e9, 5e8]),
        mean_duration_s=1e-9,
    )
    u = dr.sum(axis=(0, 1)) / (n_ions * t.sum())
    dc = dr - u[None, None, :] * t[:, None, None]
    s_c = np.einsum("bni,bnj->ij", dc, dc)
    m_c = dc.sum(axis=1)
    mm_c = m_c.T @ m_c
    r = transport(blocks, n_ions=n_ions, volume_A3=1e3, temperature_K=300.0, charge_e=1.0,
                  dimensionality=3, field_V_per_angstrom=[1e-4, 0.0, 0.0])
    scale = 1e-16 / (2.0 * n_ions * t.sum())
    np.testing.assert_allclose(r.D_tracer_tensor_cm2_s, s_c * scale, rtol=1e-10)
    np.testing.assert_allclose(r.D_sigma_tensor_cm2_s, mm_c * scale, rtol=1e-10,
                               atol=1e-10 * np.abs(mm_c * scale).max())


def test_vectorised_jackknife_equals_brute_force_leave_one_out() -> None:
    """The error bars equal a jackknife that re-runs transport() without each block."""
    rng = np.random.default_rng(SEED)
    n_ions, n_blocks = 5, 9
    _, _, blocks = drifting_walkers(
        rng, n_blocks=n_blocks, n_ions=n_ions, D_A2_s=1e11, v_A_s=np.array([2e9, 0.0, 1e9]),
        mean_duration_s=1e-9,
    )
    kw = dict(n_ions=n_ions, volume_A3=1e3, temperature_K=300.0, charge_e=1.0,
              dimensionality=2, field_V_per_angstrom=[1e-4, 0.0, 5e-5])
    full = transport(blocks, **kw)
    names = ["D_tracer_cm2_s", "D_sigma_cm2_s", "correlation_factor", "haven_ratio",
             "sigma_S_cm", "sigma_drift_S_cm", "D_sigma_tensor_cm2_s", "D_tracer_tensor_cm2_s",
             "drift_velocity_cm_s"]
    loo = {name: [] for name in names}
    for b in range(n_blocks):
        keep = np.arange(n_blocks) != b
        sub = BlockData(*(getattr(blocks, f)[keep] for f in
                          ("duration_s", "tracer_sq_A2", "collective_A", "jump_sq_A2", "hops")))
        rb = transport(sub, **kw)
        for name in names:
            loo[name].append(getattr(rb, name))
    for name in names:
        vals = np.array(loo[name])
        expect = np.sqrt((n_blocks - 1) / n_blocks * ((vals - vals.mean(0)) ** 2).sum(0))
        got = getattr(full, name + "_err")
        np.testing.assert_allclose(got, expect, rtol=1e-8, atol=1e-12 * np.max(np.abs(expect)),
                                   err_msg=name)


# --------------------------------------------------------------------------- #
# units
# --------------------------------------------------------------------------- #
def test_nernst_einstein_units_hand_computed() -> None:
    # n = 1e22 cm^-3: 10 ions in 1000 Angstrom^3 = 1e-21 cm^3
    n_m3 = 1e22 * 1e6
    D_m2_s = 1e-8 * 1e-4
    sigma_S_m = n_m3 * E_C**2 * D_m2_s / (KB_J_K * 300.0)
    expect_S_cm = sigma_S_m / 100.0
    assert expect_S_cm == pytest.approx(6.1975e-4, rel=1e-4)  # by hand
    assert nernst_einstein_S_cm(10, 1000.0, 1.0, 1e-8, 300.0) == pytest.approx(
        expect_S_cm, rel=1e-12
    )
    # q^2 dependence and tensors
    assert nernst_einstein_S_cm(10, 1000.0, -2.0, 1e-8, 300.0) == pytest.approx(
        4 * expect_S_cm, rel=1e-12
    )
    tensor = nernst_einstein_S_cm(10, 1000.0, 1.0, np.diag([1e-8, 2e-8, 0.0]), 300.0)
    np.testing.assert_allclose(tensor, np.diag([1.0, 2.0, 0.0]) * expect_S_cm, rtol=1e-12)


def test_transport_sigma_is_nernst_einstein_of_D_sigma() -> None:
    rng = np.random.default_rng(SEED)
    blocks = lattice_walkers(rng, n_blocks=40, n_ions=8, d=2, **WALK)
    r = transport(blocks, n_ions=8, volume_A3=700.0, temperature_K=450.0, charge_e=2.0,
                  dimensionality=2)
    factor = (8 / 700.0 * 1e24) * (2.0 * E_C) ** 2 / (KB_J_K * 450.0)
    assert r.sigma_S_cm == pytest.approx(factor * r.D_sigma_cm2_s, rel=1e-12)
    assert r.sigma_S_cm_err == pytest.approx(factor * r.D_sigma_cm2_s_err, rel=1e-12)
    np.testing.assert_allclose(r.sigma_tensor_S_cm, factor * r.D_sigma_tensor_cm2_s, rtol=1e-12)
    np.testing.assert_allclose(r.sigma_tensor_S_cm_err, factor * r.D_sigma_tensor_cm2_s_err,
                               rtol=1e-12)


def test_drift_conductivity_units_deterministic() -> None:
    """sigma_drift = n q v / E with one hand-made block set (no noise)."""
    n_ions, vol = 10, 1000.0  # n = 1e22 cm^-3
    t = np.full(4, 1e-9)
    v_A_s = 1e8  # 1 cm/s along x
    m = np.zeros((4, 3))
    m[:, 0] = n_ions * v_A_s * t
    blocks = BlockData(t, np.zeros((4, 3, 3)), m, np.zeros(4), np.zeros(4, dtype=np.int64))
    r = transport(blocks, n_ions=n_ions, volume_A3=vol, temperature_K=300.0, charge_e=1.0,
                  dimensionality=3, field_V_per_angstrom=[1e-6, 0.0, 0.0])  # 100 V/cm
    expect = 1e22 * E_C * 1.0 / 100.0  # n q v / E in S/cm
    assert r.sigma_drift_S_cm == pytest.approx(expect, rel=1e-12)
    assert r.sigma_drift_S_cm_err == 0.0
    np.testing.assert_allclose(r.drift_velocity_cm_s, [1.0, 0.0, 0.0], rtol=1e-12)
    # field at an angle: only the component along E counts
    r2 = transport(blocks, n_ions=n_ions, volume_A3=vol, temperature_K=300.0, charge_e=1.0,
                   dimensionality=3, field_V_per_angstrom=[0.6e-6, 0.8e-6, 0.0])
    assert r2.sigma_drift_S_cm == pytest.approx(0.6 * expect, rel=1e-12)


def test_random_walk_D() -> None:
    # simple cubic, a = 2 Angstrom, Gamma = 1e9 Hz: z Gamma a^2 / (2d) = Gamma a^2
    assert random_walk_D_cm2_s(1e9, [2.0] * 6, 3) == pytest.approx(4e9 * 1e-16, rel=1e-12)
    # a 1D chain given as vectors, unequal rates
    vecs = np.array([[3.0, 0.0, 0.0], [-3.0, 0.0, 0.0]])
    assert random_walk_D_cm2_s([1e6, 3e6], vecs, 1) == pytest.approx(
        (1e6 + 3e6) * 9.0 / 2.0 * 1e-16, rel=1e-12
    )
    # square lattice
    assert random_walk_D_cm2_s(2.0, [1.5] * 4, 2) == pytest.approx(4 * 2.0 * 2.25 / 4 * 1e-16)


# --------------------------------------------------------------------------- #
# jackknife
# --------------------------------------------------------------------------- #
def test_jackknife_of_mean_is_standard_error() -> None:
    x = np.random.default_rng(SEED).normal(3.0, 2.0, 37)
    se = x.std(ddof=1) / math.sqrt(x.size)
    value, err = jackknife(np.mean, x)
    assert value == pytest.approx(x.mean(), rel=1e-14)
    assert err == pytest.approx(se, rel=1e-12)
    value, err = jackknife_sums(lambda s, n: s / n, x, np.ones_like(x))
    assert value == pytest.approx(x.mean(), rel=1e-14)
    assert err == pytest.approx(se, rel=1e-12)
    assert isinstance(value, float) and isinstance(err, float)


def test_jackknife_generic_and_vectorised_agree() -> None:
    rng = np.random.default_rng(SEED)
    a = rng.normal(size=(25, 3))
    w = rng.uniform(1.0, 2.0, 25)
    v1, e1 = jackknife(lambda a_, w_: a_.sum(0) / w_.sum(), a, w)
    v2, e2 = jackknife_sums(lambda a_, w_: a_ / w_[..., None], a, w)
    np.testing.assert_allclose(v1, v2, rtol=1e-13)
    np.testing.assert_allclose(e1, e2, rtol=1e-10)
    assert np.shape(e1) == (3,)


def test_jackknife_rejects_bad_input() -> None:
    with pytest.raises(ConfigError):
        jackknife(np.mean, np.array([1.0]))
    with pytest.raises(ConfigError):
        jackknife_sums(lambda a, b: a / b, np.ones(3), np.ones(4))
    with pytest.raises(ConfigError):
        jackknife(np.mean)


def test_transport_handles_large_B() -> None:
    rng = np.random.default_rng(SEED)
    blocks = lattice_walkers(rng, n_blocks=10_000, n_ions=2, d=3, **WALK)
    r = run_transport(blocks, 2, 3)
    assert np.isfinite(r.D_sigma_cm2_s_err) and r.D_sigma_cm2_s_err > 0


# --------------------------------------------------------------------------- #
# warnings, degenerate cases, serialisation, concatenation
# --------------------------------------------------------------------------- #
def test_warnings_few_hops_and_few_blocks_and_dimensionality_zero() -> None:
    rng = np.random.default_rng(SEED)
    blocks = lattice_walkers(rng, n_blocks=10, n_ions=4, d=3, rate_Hz=1e9, a_A=2.0,
                             mean_duration_s=1e-9)
    r = run_transport(blocks, 4, 0)
    assert r.dimensionality == 3
    text = " | ".join(r.warnings)
    assert "dimensionality 0" in text
    assert "hops per ion may be biased" in text
    assert "few blocks" in text and "D_sigma error bar is itself uncertain" in text
    r3 = run_transport(blocks, 4, 3)
    assert r3.D_tracer_cm2_s == r.D_tracer_cm2_s


def test_linear_response_warning() -> None:
    rng = np.random.default_rng(SEED)
    _, _, blocks = drifting_walkers(rng, n_blocks=40, n_ions=5, D_A2_s=1e11,
                                    v_A_s=np.zeros(3), mean_duration_s=1e-9)
    r = transport(blocks, n_ions=5, volume_A3=1e3, temperature_K=300.0, charge_e=1.0,
                  dimensionality=3, field_V_per_angstrom=[0.05, 0.0, 0.0])
    assert any("linear response" in w for w in r.warnings)


def test_zero_collective_motion_gives_nan_haven_ratio_and_json_none() -> None:
    b = 4
    s = np.zeros((b, 3, 3))
    s[:, 0, 0] = 8.0
    blocks = BlockData(np.ones(b), s, np.zeros((b, 3)), np.full(b, 8.0), np.full(b, 2))
    r = transport(blocks, n_ions=2, volume_A3=100.0, temperature_K=300.0, charge_e=1.0,
                  dimensionality=1)
    assert r.D_sigma_cm2_s == 0.0
    assert math.isnan(r.haven_ratio) and math.isnan(r.haven_ratio_err)
    assert r.correlation_factor == pytest.approx(1.0)
    d = r.to_dict()
    assert d["haven_ratio"] is None and d["sigma_drift_S_cm"] is None
    assert d["field_V_per_angstrom"] is None
    assert d["D_tracer_tensor_cm2_s"][0][0] == pytest.approx(r.D_tracer_tensor_cm2_s[0, 0])
    assert d["drift_velocity_cm_s"] == [None, None, None]
    assert isinstance(d["warnings"], list) and isinstance(d["n_blocks"], int)
    json.dumps(d, allow_nan=False)
    # no hops at all: f is nan, not an exception
    blocks0 = BlockData(np.ones(b), s, np.zeros((b, 3)), np.zeros(b), np.zeros(b, int))
    r0 = transport(blocks0, n_ions=2, volume_A3=100.0, temperature_K=300.0, charge_e=1.0,
                   dimensionality=1)
    assert math.isnan(r0.correlation_factor)


def test_to_dict_with_field_is_json() -> None:
    rng = np.random.default_rng(SEED)
    _, _, blocks = drifting_walkers(rng, n_blocks=40, n_ions=5, D_A2_s=1e11,
                                    v_A_s=np.array([1e9, 0, 0]), mean_duration_s=1e-9)
    r = transport(blocks, n_ions=5, volume_A3=1e3, temperature_K=300.0, charge_e=1.0,
                  dimensionality=3, field_V_per_angstrom=(1e-4, 0, 0))
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["sigma_drift_S_cm"] == pytest.approx(r.sigma_drift_S_cm)
    assert d["field_V_per_angstrom"] == [1e-4, 0.0, 0.0]
    assert set(d) == set(TransportEstimate.__dataclass_fields__)


def test_concatenate() -> None:
    rng = np.random.default_rng(SEED)
    blocks = lattice_walkers(rng, n_blocks=6, n_ions=3, d=2, **WALK)
    fields = ("duration_s", "tracer_sq_A2", "collective_A", "jump_sq_A2", "hops")
    first = BlockData(*(getattr(blocks, f)[:2] for f in fields))
    one_at_a_time = [{f: getattr(blocks, f)[k:k + 1] for f in fields} for k in range(2, 6)]
    joined = BlockData.concatenate(first, *one_at_a_time)
    for f in fields:
        np.testing.assert_array_equal(getattr(joined, f), getattr(blocks, f))
    assert joined.hops.dtype == np.int64 and joined.n_blocks == 6
    with pytest.raises(ConfigError):
        BlockData.concatenate(one_at_a_time[0])  # a single block is too few
    with pytest.raises(ConfigError):
        BlockData.concatenate()
    with pytest.raises(ConfigError, match="hops"):
        BlockData.concatenate(first, {f: getattr(blocks, f)[:1] for f in fields[:4]})


def test_blockdata_is_read_only() -> None:
    blocks = BlockData(np.ones(2), np.zeros((2, 3, 3)), np.zeros((2, 3)), np.zeros(2),
                       np.zeros(2, int))
    with pytest.raises(ValueError):
        blocks.duration_s[0] = 5.0


# --------------------------------------------------------------------------- #
# validation
# --------------------------------------------------------------------------- #
def good_block_kwargs(b: int = 3) -> dict:
    return dict(duration_s=np.ones(b), tracer_sq_A2=np.zeros((b, 3, 3)),
                collective_A=np.zeros((b, 3)), jump_sq_A2=np.zeros(b),
                hops=np.zeros(b, dtype=np.int64))


@pytest.mark.parametrize(
    "name, value",
    [
        ("duration_s", np.ones(1)),  # B = 1 (with the others changed below)
        ("duration_s", np.ones((3, 1))),
        ("duration_s", np.array([1.0, 0.0, 1.0])),
        ("duration_s", np.array([1.0, -1.0, 1.0])),
        ("duration_s", np.array([1.0, np.inf, 1.0])),
        ("tracer_sq_A2", np.zeros((3, 3))),
        ("tracer_sq_A2", np.zeros((2, 3, 3))),
        ("tracer_sq_A2", np.full((3, 3, 3), np.nan)),
        ("tracer_sq_A2", -np.ones((3, 3, 3))),
        ("collective_A", np.zeros((3, 2))),
        ("collective_A", np.zeros(3)),
        ("jump_sq_A2", np.zeros((3, 1))),
        ("jump_sq_A2", -np.ones(3)),
        ("hops", np.zeros(4, dtype=np.int64)),
        ("hops", np.array([1, -1, 0])),
        ("hops", np.array([1.5, 1.0, 0.0])),
    ],
)
def test_blockdata_validation(name: str, value: np.ndarray) -> None:
    kwargs = good_block_kwargs()
    if name == "duration_s" and value.shape == (1,):
        kwargs = good_block_kwargs(1)
        with pytest.raises(ConfigError, match="at least 2 blocks"):
            BlockData(**kwargs)
        return
    kwargs[name] = value
    with pytest.raises(ConfigError, match=name):
        BlockData(**kwargs)


@pytest.mark.parametrize(
    "name, value",
    [
        ("n_ions", 0), ("n_ions", -3), ("n_ions", 2.5), ("n_ions", True),
        ("volume_A3", 0.0), ("volume_A3", -1.0), ("volume_A3", math.nan),
        ("volume_A3", math.inf),
        ("temperature_K", 0.0), ("temperature_K", -300.0), ("temperature_K", math.nan),
        ("temperature_K", math.inf),
        ("charge_e", 0.0), ("charge_e", math.nan),
        ("dimensionality", 4), ("dimensionality", -1), ("dimensionality", 2.5),
        ("field_V_per_angstrom", [0.0, 0.0, 0.0]),
        ("field_V_per_angstrom", [1e-4, 0.0]),
        ("field_V_per_angstrom", [math.nan, 0.0, 0.0]),
    ],
)
def test_transport_validation(name: str, value) -> None:
    kwargs = dict(n_ions=2, volume_A3=100.0, temperature_K=300.0, charge_e=1.0,
                  dimensionality=3)
    kwargs[name] = value
    with pytest.raises(ConfigError, match=name):
        transport(BlockData(**good_block_kwargs()), **kwargs)


def test_transport_rejects_non_blockdata() -> None:
    with pytest.raises(ConfigError, match="BlockData"):
        transport(good_block_kwargs(), n_ions=2, volume_A3=100.0, temperature_K=300.0,
                  charge_e=1.0, dimensionality=3)


@pytest.mark.parametrize(
    "args, name",
    [
        ((1e9, [2.0] * 6, 0), "dimensionality"),
        ((-1.0, [2.0] * 6, 3), "rate_per_hop_Hz"),
        ((1e9, [-2.0] * 6, 3), "hop_lengths_A"),
        (([1e9, 1e9], [2.0] * 6, 3), "rate_per_hop_Hz"),
        ((1e9, np.ones((2, 2)), 3), "hop_lengths_A"),
    ],
)
def test_random_walk_D_validation(args, name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        random_walk_D_cm2_s(*args)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n_ions=0), "n_ions"),
        (dict(volume_A3=-1.0), "volume_A3"),
        (dict(charge_e=0.0), "charge_e"),
        (dict(temperature_K=math.nan), "temperature_K"),
    ],
)
def test_nernst_einstein_validation(kwargs: dict, name: str) -> None:
    args = dict(n_ions=1, volume_A3=1.0, charge_e=1.0, D_cm2_s=1e-8, temperature_K=300.0)
    args.update(kwargs)
    with pytest.raises(ConfigError, match=name):
        nernst_einstein_S_cm(**args)
