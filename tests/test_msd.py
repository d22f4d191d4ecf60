"""kmc.msd: the snapshot buffer, the lag MSD (FFT against the direct sum) and the diffusion
fit, on synthetic walkers simulated with numpy (not the engine), all with fixed seeds.

Tolerances come from the statistics: a fitted D must lie within 3 of its own standard errors
of the exact D (3.5 where one test makes many comparisons), which a correct estimator
misses with probability 0.3 % per comparison. The slow test checks that the errors are
right: over many seeds about 68.3 % of the fits lie within one standard error.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from kmc import msd as kmsd
from kmc.errors import ConfigError, ConfigTypeError
from kmc.msd import (
    DiffusionFit,
    LagMSD,
    SnapshotBuffer,
    fit_diffusion,
    lag_msd,
)

A2_S = 1e-16  # A^2/s in cm^2/s


# ============================================================================ walkers (numpy)
def gaussian_walk(rng, n, k, dt, D_A2_s):
    """Positions (k + 1, n, 3) of n Brownian walkers with diffusion tensor `D_A2_s` (3x3,
    or a number) sampled every dt: increments N(0, 2 D dt)."""
    d_t = np.eye(3) * D_A2_s if np.ndim(D_A2_s) == 0 else np.asarray(D_A2_s)
    chol = np.linalg.cholesky(2.0 * d_t * dt)
    steps = rng.normal(size=(k, n, 3)) @ chol.T
    return np.concatenate([np.zeros((1, n, 3)), np.cumsum(steps, axis=0)])


def lattice_walk(rng, n, k, dt, rate_Hz, a_A):
    """Positions (k + 1, n, 3) and cumulative hops (k + 1,) of n walkers hopping +-a along
    the axes at Poisson times with total rate `rate_Hz` each: per interval a Poisson number
    of hops, split among the axes, each +a or -a."""
    hops = rng.poisson(rate_Hz * dt, size=(k, n))
    nx = rng.binomial(hops, 1 / 3)
    ny = rng.binomial(hops - nx, 1 / 2)
    counts = np.stack([nx, ny, hops - nx - ny], axis=-1)
    steps = a_A * (2 * rng.binomial(counts, 0.5) - counts)
    pos = np.concatenate([np.zeros((1, n, 3)), np.cumsum(steps, axis=0)])
    return pos, np.concatenate([[0], np.cumsum(hops.sum(axis=1))])


def ou_walk(rng, n, k, rho, sigma_A):
    """Displacements (k + 1, n, 3) of n Ornstein-Uhlenbeck walkers (confined: stationary
    spread sigma per component, correlation rho per interval)."""
    x = np.empty((k + 1, n, 3))
    x[0] = rng.normal(scale=sigma_A, size=(n, 3))
    kick = math.sqrt(1 - rho**2) * sigma_A
    for j in range(k):
        x[j + 1] = rho * x[j] + kick * rng.normal(size=(n, 3))
    return x - x[0]


_DIRS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
#: The 4 sites of an octahedral cage next to each site (not itself, not its opposite).
_NEXT = np.array([[t for t in range(6) if t not in (s, s ^ 1)] for s in range(6)])


def cage_walk(rng, n, t_end_s, k_in_Hz, k_out_Hz, b_A, L_A):
    """n independent ions in a simple cubic lattice of octahedral cages (spacing L, sites
    at +-b along the axes from each cage centre), by a Gillespie loop (all ions have the
    same total rate, so they step together). Intra-cage hops to each of the 4 neighbouring
    sites at k_in; from site +x an escape at k_out to site -x of the next cage along +x
    (hop length L - 2b), likewise for every site.

    Returns event times (n, E), displacements after each event (n, E + 1, 3) and which
    events were escapes (n, E)."""
    rate = 4 * k_in_Hz + k_out_Hz
    n_ev = int(rate * t_end_s + 8 * math.sqrt(rate * t_end_s) + 16)
    times = np.cumsum(rng.exponential(1 / rate, size=(n, n_ev)), axis=1)
    escape = rng.random((n, n_ev)) < k_out_Hz / rate
    pick = rng.integers(0, 4, size=(n, n_ev))
    site = rng.integers(0, 6, size=n)
    cage = np.zeros((n, 3))
    pos = np.empty((n, n_ev + 1, 3))
    pos[:, 0] = b_A * _DIRS[site]
    for j in range(n_ev):
        e = escape[:, j]
        cage[e] += L_A * _DIRS[site[e]]
        site = np.where(e, site ^ 1, _NEXT[site, pick[:, j]])
        pos[:, j + 1] = cage + b_A * _DIRS[site]
    assert (times[:, -1] > t_end_s).all()
    return times, pos - pos[:, :1], escape


def cage_exact_D_A2_s(k_in_Hz, k_out_Hz, b_A, L_A):
    """The exact long-time D of `cage_walk`, A^2/s. The site is a 6-state Markov chain; a
    hop s -> t moves the ion by delta_st. With h solving -Q h = v (v(s) = sum_t k_st
    delta_st, the mean velocity in state s; the Poisson equation), ``X(t) - h(S_t)`` is a
    martingale whose jumps are ``delta_st + h(t) - h(s)``, so
    ``2 d D = sum_s pi_s sum_t k_st |delta_st + h(t) - h(s)|^2`` (pi uniform here). Close to
    the uncorrelated ``k_out L^2 / 6``: right after an escape the ion sits next to the exit
    it came through, a small backward correlation."""
    q = np.zeros((6, 6))
    delta = np.zeros((6, 6, 3))
    for s in range(6):
        for t in _NEXT[s]:
            q[s, t] = k_in_Hz
            delta[s, t] = b_A * (_DIRS[t] - _DIRS[s])
        q[s, s ^ 1] = k_out_Hz
        delta[s, s ^ 1] = (L_A - 2 * b_A) * _DIRS[s]
    v = (q[:, :, None] * delta).sum(axis=1)
    gen = q - np.diag(q.sum(axis=1))
    pi = np.full(6, 1 / 6)
    h = np.linalg.lstsq(np.vstack([-gen, pi]), np.vstack([v, np.zeros(3)]), rcond=None)[0]
    jumps = delta + h[None, :, :] - h[:, None, :]
    return float((pi[:, None] * q * (jumps**2).sum(axis=-1)).sum() / 6)


def fill(buffer, pos, dt, hops=None, *, total=None):
    """Record `pos` (k + 1, n, 3), sampled every dt, into `buffer` at the times it asks
    for (following its thinning), until the samples run out."""
    while True:
        j = round(buffer.next_time_s / dt)
        if j >= pos.shape[0]:
            return buffer
        tot = pos[j].sum(axis=0) if total is None else total[j]
        buffer.record(j * dt, pos[j], tot, None if hops is None else hops[j])


def fill_events(buffer, times, pos, escape, t_end_s):
    """Record a `cage_walk` into `buffer` until t_end_s; hop counts (intra, escape)."""
    n = pos.shape[0]
    while buffer.next_time_s <= t_end_s * (1 + 1e-12):
        t = buffer.next_time_s
        done = (times <= t).sum(axis=1)
        p = pos[np.arange(n), done]
        n_esc = int(sum(escape[i, :done[i]].sum() for i in range(n)))
        buffer.record(t, p, p.sum(axis=0), [int(done.sum()) - n_esc, n_esc])
    return buffer


def direct_lag_msd(buffer, n_lags):
    """The O(K^2) sums of lag_msd, for comparison."""
    d = buffer.displacement_A
    tot = buffer.total_displacement_A
    tr = np.empty((n_lags, 3, 3))
    co = np.empty((n_lags, 3, 3))
    r4 = np.empty(n_lags)
    for m in range(1, n_lags + 1):
        dd = d[m:] - d[:-m]
        tr[m - 1] = np.einsum("tia,tib->ab", dd, dd) / (dd.shape[0] * dd.shape[1])
        r4[m - 1] = ((dd**2).sum(axis=-1) ** 2).mean()
        dr = tot[m:] - tot[:-m]
        co[m - 1] = np.einsum("ta,tb->ab", dr, dr) / (dr.shape[0] * buffer.n_ions)
    return tr, co, r4


def within(value, exact, err, sigmas=3.0):
    assert math.isfinite(value) and err > 0, (value, err)
    assert abs(value - exact) <= sigmas * err, (
        f"{value:.6g} is {abs(value - exact) / err:.2f} sigma from {exact:.6g} (err {err:.3g})")


# ============================================================================ the buffer
def _random_buffer(seed=1, n=40, k=300, max_snapshots=64, max_tracked=25, hops=True):
    rng = np.random.default_rng(seed)
    dt = 2e-9
    pos = gaussian_walk(rng, n, k, dt, 1.0e7) + 0.3 * rng.normal(size=(k + 1, n, 3))
    pos[0] = 0.0
    h = np.cumsum(rng.poisson(3, size=(k + 1, 2)), axis=0) if hops else None
    if h is not None:
        h[0] = 0
    buf = SnapshotBuffer(n, interval_s=dt, max_snapshots=max_snapshots,
                         max_tracked_ions=max_tracked, seed=seed)
    return fill(buf, pos, dt, h), pos, h, dt


def test_fft_lag_msd_equals_the_direct_sum():
    buf, *_ = _random_buffer()
    msd = lag_msd(buf)
    k = buf.n_intervals
    assert msd.n_lags == k // 2 and msd.n_intervals == k
    tr, co, r4 = direct_lag_msd(buf, msd.n_lags)
    np.testing.assert_allclose(msd.tracer_tensor_A2, tr, rtol=1e-10, atol=1e-10 * abs(tr).max())
    np.testing.assert_allclose(msd.collective_tensor_A2, co, rtol=1e-10,
                               atol=1e-10 * abs(co).max())
    np.testing.assert_allclose(msd.tracer_A2, np.trace(tr, axis1=1, axis2=2), rtol=1e-10)
    np.testing.assert_allclose(msd.collective_A2, np.trace(co, axis1=1, axis2=2), rtol=1e-10)
    ngp = 3 / 5 * r4 / np.trace(tr, axis1=1, axis2=2) ** 2 - 1
    np.testing.assert_allclose(msd.ngp, ngp, rtol=1e-9, atol=1e-10)
    np.testing.assert_array_equal(msd.n_windows, k - np.arange(1, msd.n_lags + 1) + 1)
    np.testing.assert_allclose(msd.lags_s, np.arange(1, msd.n_lags + 1) * buf.interval_s)
    hc = buf.hop_counts.sum(axis=1)
    direct_hops = [np.mean(hc[m:] - hc[:-m]) / buf.n_ions for m in range(1, msd.n_lags + 1)]
    np.testing.assert_allclose(msd.hops_per_ion, direct_hops, rtol=1e-12)
    assert msd.n_tracked == 25 and msd.n_ions == 40


def test_lag_msd_max_lag_fraction_and_no_hops():
    buf, *_ = _random_buffer(hops=False, k=20, max_snapshots=64)
    assert lag_msd(buf, max_lag_fraction=1.0).n_lags == 20
    msd = lag_msd(buf, max_lag_fraction=0.25)
    assert msd.n_lags == 5 and np.isnan(msd.hops_per_ion).all()
    tr, _, _ = direct_lag_msd(buf, 20)
    np.testing.assert_allclose(lag_msd(buf, max_lag_fraction=1.0).tracer_tensor_A2, tr,
                               rtol=1e-10, atol=1e-12)
    with pytest.raises(ConfigError, match="max_lag_fraction"):
        lag_msd(buf, max_lag_fraction=0.0)
    with pytest.raises(ConfigError, match="less than one lag"):
        lag_msd(SnapshotBuffer(3, interval_s=1.0))
    with pytest.raises(ConfigError, match="SnapshotBuffer"):
        lag_msd(np.zeros((4, 3, 3)))


def test_thinning_keeps_uniform_spacing_and_the_values_at_kept_times():
    buf, pos, hops, dt = _random_buffer(k=300, max_snapshots=16, max_tracked=100)
    # 300 intervals through a buffer of 16: the interval doubled to 32 dt
    assert buf.interval_s == 32 * dt
    assert buf.max_snapshots // 2 + 1 <= buf.n_snapshots <= buf.max_snapshots
    assert buf.duration_s == (buf.n_snapshots - 1) * buf.interval_s
    assert buf.next_time_s == buf.n_snapshots * buf.interval_s
    np.testing.assert_allclose(np.diff(buf.times_s), buf.interval_s)
    idx = np.arange(buf.n_snapshots) * 32
    np.testing.assert_array_equal(buf.displacement_A, pos[idx])  # all 40 ions tracked
    np.testing.assert_array_equal(buf.total_displacement_A, pos[idx].sum(axis=1))
    np.testing.assert_array_equal(buf.hop_counts, hops[idx])
    assert not buf.displacement_A.flags.writeable


def test_memory_stays_bounded():
    rng = np.random.default_rng(2)
    n, cap = 30, 8
    buf = SnapshotBuffer(n, interval_s=1.0, max_snapshots=cap, max_tracked_ions=10)
    nbytes = buf.nbytes
    assert buf._disp.shape == (cap + 1, 10, 3) and buf._total.shape == (cap + 1, 3)
    pos = np.zeros((n, 3))
    hops = np.zeros(3, dtype=np.int64)
    for _ in range(400):  # thinnings after record 8, 12, ..., 400: 99 of them
        pos += rng.normal(size=(n, 3))
        hops += 1
        t = buf.next_time_s
        buf.record(t, pos, pos.sum(axis=0), hops)
        assert buf.n_snapshots <= cap
        assert buf._disp.shape == (cap + 1, 10, 3)
        assert buf._hops.shape == (cap + 1, 3)
        assert buf.duration_s == t  # the latest snapshot is always kept
    assert buf.interval_s == 2.0**99
    assert buf.nbytes == nbytes + (cap + 1) * 3 * 8  # + the hop counts, allocated once
    assert buf.nbytes == (cap + 1) * (10 * 3 + 3 + 3) * 8


def test_state_round_trip_gives_identical_later_results(tmp_path):
    buf, pos, hops, _ = _random_buffer(k=150, max_snapshots=32, max_tracked=10)
    state = buf.state()
    for key, value in state.items():
        assert isinstance(value, (int, float, np.ndarray)), key
    # through HDF5, as a checkpoint stores it
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "s.h5", "w") as f:
        for key, value in state.items():
            f[key] = value
    with h5py.File(tmp_path / "s.h5", "r") as f:
        restored = SnapshotBuffer.from_state({key: f[key][()] for key in f})
    rng = np.random.default_rng(9)
    extra = pos[-1] + np.cumsum(rng.normal(size=(200, 40, 3)), axis=0)
    for b in (buf, restored):
        p, h = extra.copy(), hops[-1].copy()
        for j in range(200):
            t = b.next_time_s
            h += j
            b.record(t, p[j], p[j].sum(axis=0), h)
    assert restored.interval_s == buf.interval_s and restored.n_snapshots == buf.n_snapshots
    np.testing.assert_array_equal(restored.tracked_ions, buf.tracked_ions)
    np.testing.assert_array_equal(restored.displacement_A, buf.displacement_A)
    np.testing.assert_array_equal(restored.hop_counts, buf.hop_counts)
    a, b = lag_msd(buf), lag_msd(restored)
    for name in ("tracer_tensor_A2", "collective_tensor_A2", "ngp", "hops_per_ion"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert fit_diffusion(a, dimensionality=3).to_dict() == \
        fit_diffusion(b, dimensionality=3).to_dict()


def test_state_of_a_new_buffer_and_bad_states():
    buf = SnapshotBuffer(5, interval_s=1.0, max_snapshots=8)
    again = SnapshotBuffer.from_state(buf.state())
    again.record(1.0, np.ones((5, 3)), [5.0, 5.0, 5.0], [3])  # hops may still start
    assert again.hop_counts.tolist() == [[0], [3]]
    with pytest.raises(ConfigError, match="lacks"):
        SnapshotBuffer.from_state({"version": 1})
    with pytest.raises(ConfigError, match="must be a dict"):
        SnapshotBuffer.from_state(3)
    state = buf.state()
    state["tracked_ions"] = np.array([0, 0, 1, 2, 3])
    with pytest.raises(ConfigError, match="sorted and distinct"):
        SnapshotBuffer.from_state(state)


def test_the_tracked_ions_are_a_seeded_sorted_subset():
    buf = SnapshotBuffer(1000, interval_s=1.0, max_tracked_ions=50, seed=7)
    expect = np.sort(np.random.default_rng(7).choice(1000, size=50, replace=False))
    np.testing.assert_array_equal(buf.tracked_ions, expect)
    assert buf.n_tracked == 50
    np.testing.assert_array_equal(SnapshotBuffer(20, interval_s=1.0).tracked_ions,
                                  np.arange(20))
    # the collective displacement is the caller's total over all ions
    pos = np.random.default_rng(1).normal(size=(1000, 3))
    buf.record(1.0, pos, pos.sum(axis=0))
    np.testing.assert_array_equal(buf.displacement_A[1], pos[expect])
    np.testing.assert_array_equal(buf.total_displacement_A[1], pos.sum(axis=0))


@pytest.mark.parametrize("kwargs, match", [
    ({"n_ions": 0}, "n_ions = 0 must be >= 1"),
    ({"interval_s": 0.0}, "interval_s = 0.0 must be > 0"),
    ({"interval_s": math.inf}, "interval_s = inf must be finite"),
    ({"max_snapshots": 6}, "max_snapshots = 6 must be >= 8"),
    ({"max_snapshots": 9}, "max_snapshots = 9 must be even"),
    ({"max_tracked_ions": 0}, "max_tracked_ions = 0 must be >= 1"),
    ({"seed": -1}, "seed = -1 must be"),
])
def test_buffer_checks_its_arguments(kwargs, match):
    args = {"n_ions": 4, "interval_s": 1.0, **kwargs}
    n = args.pop("n_ions")
    with pytest.raises(ConfigError, match=match):
        SnapshotBuffer(n, **args)
    with pytest.raises(ConfigTypeError, match="max_snapshots must be an integer"):
        SnapshotBuffer(4, interval_s=1.0, max_snapshots=16.5)


def test_record_checks_its_arguments():
    buf = SnapshotBuffer(4, interval_s=0.5, max_snapshots=8)
    z = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"time_s = 0.6 is not the next snapshot's time 0.5"):
        buf.record(0.6, z, [0, 0, 0])
    with pytest.raises(ConfigError, match=r"displacement_A must have shape \(4, 3\)"):
        buf.record(0.5, np.zeros((3, 3)), [0, 0, 0])
    bad = z.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ConfigError, match=r"displacement_A\[2, 1\] is nan"):
        buf.record(0.5, bad, [0, 0, 0])
    with pytest.raises(ConfigError, match=r"total_displacement_A must have shape \(3,\)"):
        buf.record(0.5, z, [0, 0])
    with pytest.raises(ConfigError, match=r"hops_per_type\[1\] = -2 must be >= 0"):
        buf.record(0.5, z, [0, 0, 0], [1, -2])
    buf.record(0.5 * (1 + 1e-9), z, [0, 0, 0], [4, 2])  # within TIME_RTOL
    with pytest.raises(ConfigError, match=r"hops_per_type\[0\] = 3 is less than"):
        buf.record(1.0, z, [0, 0, 0], [3, 2])
    with pytest.raises(ConfigError, match=r"hops_per_type must have shape \(2,\)"):
        buf.record(1.0, z, [0, 0, 0], [5, 5, 5])
    with pytest.raises(ConfigError, match="at every record"):
        buf.record(1.0, z, [0, 0, 0])
    assert buf.n_snapshots == 2  # the refused records left no trace


# ============================================================================ the fit
def test_gaussian_walkers_give_D_and_D_sigma():
    rng = np.random.default_rng(11)
    D, dt = 2.5e7, 1e-10  # A^2/s (2.5e-9 cm^2/s)
    buf = fill(SnapshotBuffer(48, interval_s=dt, max_snapshots=256),
               gaussian_walk(rng, 48, 255, dt, D), dt)
    fit = fit_diffusion(lag_msd(buf), dimensionality=3)
    assert fit.diffusive and fit.regime == "diffusive" and fit.range_ok
    within(fit.D_tracer_cm2_s, D * A2_S, fit.D_tracer_cm2_s_err)
    within(fit.D_sigma_cm2_s, D * A2_S, fit.D_sigma_cm2_s_err)
    assert fit.D_tracer_cm2_s_err < 0.05 * fit.D_tracer_cm2_s  # 48 ions x 255 intervals
    within(fit.alpha_tracer, 1.0, fit.alpha_tracer_err)
    within(fit.intercept_tracer_A2, 0.0, fit.intercept_tracer_A2_err)
    assert fit.fit_range_s == (dt, 127 * dt) and fit.fit_start == "first lag"
    assert 0.5 < fit.chi2_tracer_per_dof < 2.0


def test_lattice_walkers_give_rate_times_a2_over_2d():
    # +-a hops along the axes at total rate G: <dr^2> = G a^2 t = 2 d D t, D = G a^2 / 6
    rng = np.random.default_rng(12)
    rate, a, dt = 2e9, 2.5, 1e-9
    pos, hops = lattice_walk(rng, 40, 255, dt, rate, a)
    buf = fill(SnapshotBuffer(40, interval_s=dt, max_snapshots=256), pos, dt,
               hops[:, None])
    msd = lag_msd(buf)
    np.testing.assert_allclose(msd.hops_per_ion, rate * msd.lags_s, rtol=0.02)
    # 3/(5 G tau) for a compound-Poisson walk: large at short lags, so it peaks at lag 1
    assert msd.ngp[0] == pytest.approx(3 / (5 * rate * dt), rel=0.1)
    fit = fit_diffusion(msd, dimensionality=3)
    assert fit.fit_start == "hops per ion"
    assert fit.fit_range_s[0] == 10 * dt  # 20 hops per ion at 2 per interval
    assert fit.diffusive
    D = rate * a**2 / 6 * A2_S
    within(fit.D_tracer_cm2_s, D, fit.D_tracer_cm2_s_err)
    within(fit.D_sigma_cm2_s, D, fit.D_sigma_cm2_s_err)
    # a run that never reaches 20 hops per ion in a window is too short
    short = fit_diffusion(msd, dimensionality=3, min_hops_per_ion=1000)
    assert not short.range_ok and not short.diffusive
    assert "holds 1000 hops per ion" in short.regime


def test_anisotropic_walkers_give_the_tensor():
    rng = np.random.default_rng(13)
    d_t = np.array([[3.0, 0.8, 0.0], [0.8, 1.0, -0.3], [0.0, -0.3, 0.5]]) * 1e7
    dt = 1e-10
    buf = fill(SnapshotBuffer(64, interval_s=dt, max_snapshots=256),
               gaussian_walk(rng, 64, 255, dt, d_t), dt)
    fit = fit_diffusion(lag_msd(buf), dimensionality=3)
    assert fit.diffusive
    for a in range(3):
        for b in range(a, 3):  # 12 comparisons: 3.5 sigma each
            within(fit.D_tracer_tensor_cm2_s[a, b], d_t[a, b] * A2_S,
                   fit.D_tracer_tensor_cm2_s_err[a, b], 3.5)
            within(fit.D_sigma_tensor_cm2_s[a, b], d_t[a, b] * A2_S,
                   fit.D_sigma_tensor_cm2_s_err[a, b], 3.5)
    assert np.array_equal(fit.D_tracer_tensor_cm2_s, fit.D_tracer_tensor_cm2_s.T)
    within(fit.D_tracer_cm2_s, np.trace(d_t) / 3 * A2_S, fit.D_tracer_cm2_s_err)


def test_one_dimensional_walkers():
    rng = np.random.default_rng(14)
    dt = 1e-10
    d_t = np.diag([0.0, 0.0, 4e7])
    pos = gaussian_walk(rng, 32, 255, dt, d_t + np.diag([1e-30, 1e-30, 0]))
    pos[..., :2] = 0.0
    buf = fill(SnapshotBuffer(32, interval_s=dt, max_snapshots=256), pos, dt)
    msd = lag_msd(buf)
    assert msd.ngp[:10] == pytest.approx(0.8, abs=0.1)  # the NGP of 1-D Gaussian steps
    fit = fit_diffusion(msd, dimensionality=1)
    assert fit.diffusive and fit.fit_start == "first lag"  # the 0.8 is no cage
    within(fit.D_tracer_cm2_s, 4e7 * A2_S, fit.D_tracer_cm2_s_err)
    assert fit.D_tracer_tensor_cm2_s[0, 0] == 0.0 and fit.D_tracer_tensor_cm2_s_err[0, 0] == 0


def test_a_confined_walker_is_not_diffusive_and_its_bound_falls_with_the_run():
    dt = 1e-9
    bounds = []
    for k in (63, 255):
        pos = ou_walk(np.random.default_rng(15), 32, k, 0.5, 1.0)
        buf = fill(SnapshotBuffer(32, interval_s=dt, max_snapshots=256), pos, dt)
        fit = fit_diffusion(lag_msd(buf), dimensionality=3)
        assert not fit.diffusive
        assert fit.regime.startswith("confined: the MSD does not grow (alpha = ")
        assert abs(fit.alpha_tracer) <= max(3 * fit.alpha_tracer_err, 0.1)
        # the plateau 2 sigma^2 per component = 6 A^2 over 2 d tau_max, plus 2 sigma
        plateau = 6.0 * A2_S / (6 * fit.fit_range_s[1])
        assert plateau <= fit.D_tracer_upper_cm2_s <= 1.5 * plateau
        assert fit.D_sigma_upper_cm2_s >= 0.0
        bounds.append(fit.D_tracer_upper_cm2_s)
    assert bounds[1] < bounds[0] / 3  # ~ 1 / tau_max: 4x longer run


def test_caged_walkers_short_run_is_flagged_long_run_converges():
    """The Li6PS5I situation: fast hops inside 6-site cages, rare escapes between cages."""
    k_in, k_out, b, L = 1e10, 2e8, 1.0, 4.0  # Hz, Hz, A, A
    D_exact = cage_exact_D_A2_s(k_in, k_out, b, L)
    assert D_exact == pytest.approx(k_out * L**2 / 6, rel=0.02)  # ~ escape rate L^2 / 2d
    dt = 1e-10  # 4 intra-cage hops per interval, 0.02 escapes
    n = 64
    # short: about 4 escapes per ion
    times, pos, esc = cage_walk(np.random.default_rng(16), n, 2e-8, k_in, k_out, b, L)
    buf = fill_events(SnapshotBuffer(n, interval_s=dt, max_snapshots=128), times, pos, esc,
                      2e-8)
    escapes = int(buf.hop_counts[-1, 1])
    short = fit_diffusion(lag_msd(buf), dimensionality=3, rate_limiting_hops=escapes)
    assert not short.diffusive and not short.range_ok
    assert short.regime.startswith("too short: less than a 4x range of lags")
    # long: about 20 escapes per ion
    times, pos, esc = cage_walk(np.random.default_rng(17), n, 1e-7, k_in, k_out, b, L)
    buf = fill_events(SnapshotBuffer(n, interval_s=dt, max_snapshots=128), times, pos, esc,
                      1e-7)
    msd = lag_msd(buf)
    escapes = int(buf.hop_counts[-1, 1])
    fit = fit_diffusion(msd, dimensionality=3, rate_limiting_hops=escapes)
    assert fit.diffusive, fit.regime
    assert fit.fit_start == "offset"  # after the rattling offset (~2 b^2 = 2 A^2) faded
    assert fit.intercept_tracer_A2 == pytest.approx(2 * b**2, rel=0.5)
    within(fit.D_tracer_cm2_s, D_exact * A2_S, fit.D_tracer_cm2_s_err)
    within(fit.D_sigma_cm2_s, D_exact * A2_S, fit.D_sigma_cm2_s_err)
    # without the offset rule the fit starts at the NGP peak, in the cage crossover, where
    # the MSD is not yet linear
    early = fit_diffusion(msd, dimensionality=3, max_offset_fraction=None)
    assert early.fit_range_s[0] < fit.fit_range_s[0] and early.alpha_tracer < 0.9
    assert early.regime.startswith("sub-diffusive: MSD ~ tau^0.")
    # a handful of escapes: not diffusive, whatever the MSD looks like
    few = fit_diffusion(msd, dimensionality=3, rate_limiting_hops=7)
    assert not few.diffusive
    assert few.regime == "the rate-limiting hop type fired only 7 times (at least 100 needed)"


def _power_law_msd(alpha, n_tracked=10_000, k=256):
    """A LagMSD whose MSD is exactly tau^alpha (no noise)."""
    m = np.arange(1, k // 2 + 1)
    lags = m * 1e-9
    y = (m / m[-1]) ** alpha * 100.0
    tensor = y[:, None, None] * np.eye(3) / 3
    return LagMSD(lags_s=lags, tracer_A2=y, tracer_tensor_A2=tensor, collective_A2=y,
                  collective_tensor_A2=tensor, n_windows=k - m + 1, n_ions=n_tracked,
                  n_tracked=n_tracked, ngp=np.zeros(m.size), hops_per_ion=np.full(m.size, 1e3),
                  interval_s=1e-9, n_intervals=k)


def test_regime_texts():
    sub = fit_diffusion(_power_law_msd(0.43), dimensionality=3, max_offset_fraction=None)
    assert sub.alpha_tracer == pytest.approx(0.43, abs=1e-6)
    assert sub.regime.startswith("sub-diffusive: MSD ~ tau^0.43 +- 0.00 over 1e-09..1.3e-07 s")
    sup = fit_diffusion(_power_law_msd(1.6), dimensionality=3, max_offset_fraction=None)
    assert sup.regime.startswith("super-diffusive: MSD ~ tau^1.60")
    lin = fit_diffusion(_power_law_msd(1.0), dimensionality=3, rate_limiting_hops=10**6)
    assert lin.diffusive and lin.regime == "diffusive"
    assert lin.D_tracer_cm2_s == pytest.approx(100.0 / 128e-9 / 6 * A2_S, rel=1e-9)
    # a power law is no line: the offset rule moves the start to the end
    sub_d = fit_diffusion(_power_law_msd(0.43), dimensionality=3)
    assert "too short" in sub_d.regime and not sub_d.range_ok


def test_too_few_lags_give_an_empty_fit():
    buf = fill(SnapshotBuffer(4, interval_s=1.0), gaussian_walk(np.random.default_rng(1), 4,
                                                                7, 1.0, 1.0), 1.0)
    fit = fit_diffusion(lag_msd(buf), dimensionality=3)
    assert not fit.diffusive and not fit.range_ok
    assert fit.regime.startswith("too short: only 3 lag time(s), at least 4")
    assert math.isnan(fit.D_tracer_cm2_s) and np.isnan(fit.D_sigma_tensor_cm2_s).all()
    assert fit.to_dict()["D_tracer_cm2_s"] is None


def test_ions_that_do_not_move_and_ions_that_drift():
    buf = SnapshotBuffer(5, interval_s=1.0, max_snapshots=64)
    for k in range(1, 40):
        buf.record(float(k), np.zeros((5, 3)), np.zeros(3), [0])
    still = fit_diffusion(lag_msd(buf), dimensionality=3)
    assert still.regime == "confined: no tracked ion moved (the MSD is 0)"
    assert still.D_tracer_cm2_s == still.D_tracer_upper_cm2_s == still.D_sigma_cm2_s == 0.0
    assert not still.diffusive
    # pairs moving in opposite directions: a tracer D, no collective one
    rng = np.random.default_rng(21)
    buf = SnapshotBuffer(6, interval_s=1.0, max_snapshots=64)
    p = np.zeros((6, 3))
    for k in range(1, 64):
        step = rng.normal(size=(3, 3))
        p[:3] += step
        p[3:] -= step
        buf.record(float(k), p, np.zeros(3))
    pairs = fit_diffusion(lag_msd(buf), dimensionality=3)
    assert pairs.D_tracer_cm2_s > 0 and pairs.D_sigma_cm2_s == pairs.D_sigma_cm2_s_err == 0.0
    # a drift (a field): super-diffusive
    pos = gaussian_walk(rng, 20, 63, 1.0, 0.5) + 2.0 * np.arange(64)[:, None, None] * [1, 0, 0]
    drift = fit_diffusion(lag_msd(fill(SnapshotBuffer(20, interval_s=1.0, max_snapshots=64),
                                       pos, 1.0)), dimensionality=3)
    assert drift.regime.startswith("super-diffusive: MSD ~ tau^1.")


@pytest.mark.parametrize("n", [1, 4])
def test_drift_removal_gives_the_field_free_msd(n):
    """Walkers with a strong drift (10x their spread per interval): removed, the tracer and
    collective MSDs average to 2 d D tau at every lag, the Brownian-bridge corrections
    included (without them the collective MSD is low by tau / T: 50 % at the longest lag).
    Mean over 400 realisations against its own standard error (3.5 sigma, many lags)."""
    rng = np.random.default_rng(5 + n)
    D, k, reps = 0.5, 32, 400
    tr, co = [], []
    for _ in range(reps):
        pos = gaussian_walk(rng, n, k, 1.0, D) + 10.0 * np.arange(k + 1)[:, None, None] \
            * np.array([1.0, 0.5, 0.0])
        buf = fill(SnapshotBuffer(n, interval_s=1.0, max_snapshots=64), pos, 1.0)
        lm = lag_msd(buf, remove_drift=True)
        assert lm.drift_removed
        tr.append(lm.tracer_A2)
        co.append(lm.collective_A2)
    exact = 6.0 * D * lm.lags_s
    for name, arr in (("tracer", np.array(tr)), ("collective", np.array(co))):
        mean, err = arr.mean(axis=0), arr.std(axis=0, ddof=1) / math.sqrt(reps)
        assert np.all(np.abs(mean - exact) <= 3.5 * err), (name, mean / exact)
    # a fit of one realisation is diffusive again, with D near the truth
    fit = fit_diffusion(lm, dimensionality=3)
    assert fit.diffusive, fit.regime


def test_ions_of_lasting_different_mobility_start_the_fit_early_at_any_length():
    """Half the ions diffuse 10x faster than the others, for good: the NGP is a plateau
    (about 0.65 above the Gaussian value at every lag). The fit must start where the
    plateau begins, however long the run -- not at its noisiest point, which moves to the
    last lags as the run grows -- and give the mean D (the tracer average) within 3 sigma."""
    rng = np.random.default_rng(17)
    D_slow, D_fast, n = 0.1, 1.0, 400
    for k in (128, 1024):
        pos = np.concatenate([gaussian_walk(rng, n // 2, k, 1.0, D_slow),
                              gaussian_walk(rng, n // 2, k, 1.0, D_fast)], axis=1)
        buf = fill(SnapshotBuffer(n, interval_s=1.0, max_snapshots=256), pos, 1.0)
        lm = lag_msd(buf)
        assert np.nanmin(lm.ngp) > 0.5  # the plateau
        fit = fit_diffusion(lm, dimensionality=3)
        assert fit.diffusive and fit.fit_start == "first lag", (k, fit.regime, fit.fit_start)
        within(fit.D_tracer_cm2_s, (D_slow + D_fast) / 2 * A2_S, fit.D_tracer_cm2_s_err)


def test_to_dict_is_json_ready_with_kmc_keys():
    rng = np.random.default_rng(18)
    buf = fill(SnapshotBuffer(16, interval_s=1e-9, max_snapshots=64),
               gaussian_walk(rng, 16, 63, 1e-9, 1e7), 1e-9)
    fit = fit_diffusion(lag_msd(buf), dimensionality=3, rate_limiting_hops=500)
    out = fit.to_dict()
    assert json.loads(json.dumps(out)) == out
    keys = list(out)
    for key in keys:
        if key.endswith("_err"):
            assert keys[keys.index(key) - 1] == key[:-4], key  # the error right after
    for key in ("D_tracer_cm2_s", "D_sigma_cm2_s", "D_tracer_upper_cm2_s",
                "D_sigma_upper_cm2_s", "intercept_tracer_A2", "fit_range_s", "alpha_tracer",
                "diffusive", "regime", "range_ok"):
        assert key in out
    assert isinstance(out["D_tracer_tensor_cm2_s"], list) and len(out["fit_range_s"]) == 2
    assert out["rate_limiting_hops"] == 500 and out["diffusive"] is True
    with pytest.raises(AttributeError):
        fit.D_tracer_cm2_s = 0.0  # frozen
    assert isinstance(fit, DiffusionFit)


def test_the_kinisi_covariance_is_available():
    rng = np.random.default_rng(19)
    dt = 1e-10
    buf = fill(SnapshotBuffer(32, interval_s=dt, max_snapshots=256),
               gaussian_walk(rng, 32, 255, dt, 1e7), dt)
    msd = lag_msd(buf)
    k = fit_diffusion(msd, dimensionality=3, covariance="kinisi")
    e = fit_diffusion(msd, dimensionality=3)
    assert k.covariance == "kinisi" and e.covariance == "exact"
    within(k.D_tracer_cm2_s, 1e7 * A2_S, k.D_tracer_cm2_s_err)
    assert k.D_tracer_cm2_s == pytest.approx(e.D_tracer_cm2_s, rel=0.05)


def test_the_model_covariance_is_exact_for_brownian_motion_with_white_noise():
    """Monte Carlo check of the covariance behind the fit: Brownian steps of variance s per
    interval plus white noise of variance h on every snapshot, 20000 trajectories."""
    rng = np.random.default_rng(20)
    k, s, h = 12, 1.0, 0.7
    m = np.array([1, 2, 3, 5, 6])
    steps = rng.normal(scale=math.sqrt(s), size=(20000, k))
    x = np.concatenate([np.zeros((20000, 1)), np.cumsum(steps, axis=1)], axis=1)
    x += rng.normal(scale=math.sqrt(h), size=x.shape)
    msd = np.stack([((x[:, j:] - x[:, :-j]) ** 2).mean(axis=1) for j in m], axis=1)
    geom = kmsd._geometry(m, k)
    model = kmsd._model_cov(geom, kmsd._Walk(s, h, s, h, s, h), k, 1.0, "exact")
    emp = np.cov(msd.T)
    # sampling error of a covariance from 20000 samples: ~ sqrt(2 / 20000) = 1 %
    np.testing.assert_allclose(emp, model, rtol=0.05)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"dimensionality": 0}, ConfigError, "dimensionality = 0 must be in"),
    ({"dimensionality": 2.0}, ConfigTypeError, "dimensionality must be an integer"),
    ({"min_hops_per_ion": -1.0}, ConfigError, "min_hops_per_ion = -1.0 must be >= 0"),
    ({"rate_limiting_hops": -3}, ConfigError, "rate_limiting_hops = -3 must be >= 0"),
    ({"rate_limiting_hops": 2.5}, ConfigTypeError, "rate_limiting_hops must be an integer"),
    ({"max_offset_fraction": 1.0}, ConfigError, "max_offset_fraction = 1.0 must be in"),
    ({"covariance": "bayes"}, ConfigError, "covariance = 'bayes' must be one of exact"),
])
def test_fit_checks_its_arguments(kwargs, error, match):
    buf, *_ = _random_buffer(k=40)
    msd = lag_msd(buf)
    args = {"dimensionality": 3, **kwargs}
    with pytest.raises(error, match=match):
        fit_diffusion(msd, **args)


def test_fit_refuses_what_is_not_a_lag_msd():
    with pytest.raises(ConfigError, match="msd must be a LagMSD"):
        fit_diffusion({"lags_s": [1.0]}, dimensionality=3)


# ============================================================================ coverage (slow)
def _coverage_runs(kind, n_seeds):
    """Fraction of |D_fit - D| <= 1 sigma for the tracer and the collective."""
    hits = np.zeros(2)
    dt, n, k = 1e-9, 16, 255
    for seed in range(n_seeds):
        rng = np.random.default_rng(1000 + seed)
        if kind == "gaussian":
            D = 1e7
            buf = fill(SnapshotBuffer(n, interval_s=dt, max_snapshots=256),
                       gaussian_walk(rng, n, k, dt, D), dt)
        else:
            rate, a = 1e9, 2.0
            D = rate * a**2 / 6
            pos, hops = lattice_walk(rng, n, k, dt, rate, a)
            buf = fill(SnapshotBuffer(n, interval_s=dt, max_snapshots=256), pos, dt,
                       hops[:, None])
        fit = fit_diffusion(lag_msd(buf), dimensionality=3)
        hits += [abs(fit.D_tracer_cm2_s - D * A2_S) <= fit.D_tracer_cm2_s_err,
                 abs(fit.D_sigma_cm2_s - D * A2_S) <= fit.D_sigma_cm2_s_err]
    return hits / n_seeds


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gaussian", "lattice"])
def test_one_sigma_coverage_is_68_percent(kind):
    n_seeds = 400
    p = 0.6827
    band = 3 * math.sqrt(p * (1 - p) / n_seeds)  # binomial 3 sigma: +-0.070
    tracer, collective = _coverage_runs(kind, n_seeds)
    print(f"{kind}: 1-sigma coverage tracer {tracer:.3f}, collective {collective:.3f} "
          f"({n_seeds} seeds; {p:.3f} +- {band:.3f})")
    assert abs(tracer - p) <= band
    assert abs(collective - p) <= band
