"""Transport from the mean-squared displacement over many lag times (issue 19).

Block moments (:mod:`kmc.analysis`) measure displacements over one time scale, the block
length, chosen by whoever split the run. In a caged conductor (Li6PS5I: ions rattle in cages
and only rarely make the rate-limiting jump between cages) short blocks measure the rattling
and the result depends on the split. This module measures the mean-squared displacement
(MSD) at every lag time with overlapping time windows, finds the long-lag diffusive range
by itself, fits it with a covariance-aware generalised least squares and says whether the
motion is diffusive at all:

1. :class:`SnapshotBuffer` keeps equally spaced displacement snapshots of a run's
   production phase in bounded memory: when it is full it drops every other snapshot and
   doubles its interval, so the stored series always spans the whole production.
2. :func:`lag_msd` turns the snapshots into the tracer and collective MSD (scalars and
   3x3 tensors), the non-Gaussian parameter and the hops per ion at lags
   ``m = 1 .. max_lag_fraction * K`` with every time origin, by FFT in O(N K log K)
   (:class:`LagMSD`).
3. :func:`fit_diffusion` fits ``MSD = 2 d D tau + c`` over the diffusive range with the
   model covariance of overlapping-window MSDs and reports D*, D_sigma, their tensors and
   errors, the log-log slope alpha and a verdict (:class:`DiffusionFit`).

The approach follows kinisi: A. R. McCluskey, S. W. Coles and B. J. Morgan, "Accurate
Estimation of Diffusion Coefficients and their Uncertainties from Computer Simulation",
J. Chem. Theory Comput. 21, 79-87 (2025) (arXiv:2305.18244): a model covariance of the MSDs
of an equivalent system of freely diffusing particles, parametrised from the data, and a
generalised least-squares fit that uses it; the fit starts at the maximum of the
non-Gaussian parameter. kmc differs in documented ways (:func:`fit_diffusion`): the
covariance of the overlapping windows is evaluated exactly for a Gaussian random walk plus
white position noise (the cage rattling) instead of through kinisi's count of independent
windows (both are available, ``covariance="exact"`` or ``"kinisi"``); the collective MSD,
one trajectory, borrows the tracer's offset for its covariance; the fit is a closed-form
iterated GLS, not a Bayesian sampling; and the fit starts only when ions have made enough
hops and the cage offset has faded to a few per cent of the MSD.

Units: Angstrom, s; D in cm^2/s. Keys of :meth:`DiffusionFit.to_dict` follow kmc's JSON
vocabulary: ``<quantity>_<unit>``, its error ``<quantity>_<unit>_err``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from . import _checks
from .constants import A2_PER_S_TO_CM2_PER_S, SEED_LIMIT
from .errors import ConfigError

__all__ = [
    "SnapshotBuffer", "LagMSD", "lag_msd", "DiffusionFit", "fit_diffusion",
    "COVARIANCE_MODELS", "TIME_RTOL", "MIN_MAX_SNAPSHOTS", "MIN_FIT_LAGS", "MIN_LAG_RANGE",
    "ALPHA_TOLERANCE", "ALPHA_SIGMAS", "OFFSET_SIGMAS", "NGP_SIGNIFICANCE",
    "MIN_RATE_LIMITING_HOPS", "MIN_RATE_LIMITING_HOPS_PER_ION", "UPPER_BOUND_SIGMAS",
    "GLS_RTOL", "GLS_MAX_ITERATIONS",
]

# ---------------------------------------------------------------- the rules' constants
#: A snapshot's time may differ from ``k * interval_s`` by this fraction of it.
TIME_RTOL = 1e-6
#: Smallest ``max_snapshots`` of a :class:`SnapshotBuffer`.
MIN_MAX_SNAPSHOTS = 8
#: Fewest lag times :func:`fit_diffusion` fits; fewer give an all-nan, non-diffusive result.
MIN_FIT_LAGS = 4
#: The fitted lags must span at least this ratio (tau_max / tau_min) for ``range_ok``.
MIN_LAG_RANGE = 4.0
#: Diffusive if ``|alpha - 1| <= max(ALPHA_SIGMAS * alpha_err, ALPHA_TOLERANCE)``.
ALPHA_TOLERANCE = 0.1
ALPHA_SIGMAS = 3.0
#: The maximum of the non-Gaussian parameter moves the fit's start only where its excess
#: over a Gaussian's is at least this many (Gaussian-model) standard errors.
NGP_SIGNIFICANCE = 4.0
#: The NGP's peak (rule (a) of :func:`fit_diffusion`): the first lag within this many
#: standard errors of the largest significant excess.
NGP_PEAK_SIGMAS = 2.0
#: ``rate_limiting_hops`` must be at least max(MIN_RATE_LIMITING_HOPS,
#: MIN_RATE_LIMITING_HOPS_PER_ION * n_ions) for a diffusive verdict.
MIN_RATE_LIMITING_HOPS = 100
MIN_RATE_LIMITING_HOPS_PER_ION = 1.0
#: The fit starts no earlier than where the tracer MSD's fitted offset c (its lower
#: OFFSET_SIGMAS confidence bound) is at most `max_offset_fraction` of the MSD.
OFFSET_SIGMAS = 2.0
_OFFSET_ROUNDS = 5
#: The upper bound on D is (MSD + UPPER_BOUND_SIGMAS sigma) / (2 d tau) at the largest lag.
UPPER_BOUND_SIGMAS = 2.0
#: The GLS <-> covariance iteration stops when the slope changes by less than this
#: fraction, or after GLS_MAX_ITERATIONS rounds.
GLS_RTOL = 1e-6
GLS_MAX_ITERATIONS = 10
#: The model covariances of overlapping-window MSDs :func:`fit_diffusion` knows.
COVARIANCE_MODELS = ("exact", "kinisi")

#: Points of the fine collective series a buffer keeps by default (3 floats each).
DEFAULT_MAX_COLLECTIVE = 65536
#: Ions per FFT batch in :func:`lag_msd` (bounds its temporary memory).
_FFT_CHUNK_IONS = 256
#: Jitter added to a covariance matrix that Cholesky refuses: these fractions of its mean
#: diagonal, tried in turn.
_JITTERS = (0.0, 1e-12, 1e-10, 1e-8, 1e-6)


# =============================================================================================
# the snapshot buffer
# =============================================================================================
class SnapshotBuffer:
    """Equally spaced displacement snapshots of a run's production phase, in bounded memory.

    Snapshot ``k`` is taken at ``t = k * interval_s`` after the start of production;
    snapshot 0 (t = 0, all displacements zero) exists from the start, so the first
    :meth:`record` is at ``t = interval_s``. The caller stops the engine at
    :attr:`next_time_s` and calls :meth:`record`; production time after the last snapshot
    (less than one interval) is not stored. When the buffer holds ``max_snapshots + 1``
    snapshots it keeps every other one (0, 2, 4, ...; the newest is kept) and doubles
    ``interval_s``, so the stored series always spans the whole production with uniform
    spacing, and, once it has thinned, holds between ``max_snapshots / 2 + 1`` and
    ``max_snapshots`` snapshots between calls.

    The tracer MSD uses a random subset of at most ``max_tracked_ions`` ions (all ions if
    there are fewer); the collective displacement uses all ions (the caller passes their
    sum). Memory: ``(max_snapshots + 1) * (n_tracked * 3 + 3)`` float64, plus as many int64
    per hop type when hop counts are recorded, allocated once.

    Parameters
    ----------
    n_ions : int
        Mobile ions of the run, >= 1.
    interval_s : float
        Time between snapshots at the start, s; > 0. It doubles at every thinning.
    max_snapshots : int
        Even, >= 8 (:data:`MIN_MAX_SNAPSHOTS`).
    max_tracked_ions : int
        Most ions whose own displacements are kept, >= 1.
    seed : int
        Seed of ``numpy.random.default_rng`` choosing the tracked ions (sorted indices);
        used only here, at construction.

    Raises
    ------
    ConfigError
        On a value out of range (ConfigTypeError on a wrong type).
    """

    def __init__(self, n_ions: int, *, interval_s: float, max_snapshots: int = 256,
                 max_tracked_ions: int = 4096, seed: int = 0,
                 collective_per_snapshot: int = 1,
                 max_collective: int = DEFAULT_MAX_COLLECTIVE) -> None:
        n_ions = _checks.integer(n_ions, "n_ions", lo=1)
        interval_s = _checks.real(interval_s, "interval_s", lo=0.0, lo_open=True)
        max_snapshots = _check_max_snapshots(max_snapshots)
        max_tracked_ions = _checks.integer(max_tracked_ions, "max_tracked_ions", lo=1)
        seed = _checks.integer(seed, "seed", lo=0, hi=SEED_LIMIT - 1)
        per = _checks.integer(collective_per_snapshot, "collective_per_snapshot", lo=1)
        if per & (per - 1):
            raise ConfigError(f"collective_per_snapshot = {per} must be a power of 2 (the "
                              "snapshots must fall on the collective series' times)")
        max_coll = _check_max_snapshots(max_collective, "max_collective")
        if n_ions <= max_tracked_ions:
            tracked = np.arange(n_ions, dtype=np.int64)
        else:
            rng = np.random.default_rng(seed)
            tracked = np.sort(rng.choice(n_ions, size=max_tracked_ions, replace=False))
            tracked = tracked.astype(np.int64)
        self._setup(n_ions, interval_s, max_snapshots, max_tracked_ions, seed, tracked)
        self._setup_collective(interval_s / per, max_coll)

    def _setup_collective(self, interval_s: float, max_collective: int,
                          total: NDArray[np.float64] | None = None) -> None:
        """The fine series of the summed displacement (snapshot 0, zeros, from the start)."""
        self._c_interval_s = interval_s
        self._c_max = max_collective
        n = 1 if total is None else total.shape[0]
        self._c_total = np.zeros((max(64, 2 * n), 3), dtype=np.float64)  # grows to max + 1
        if total is not None:
            self._c_total[:n] = total
        self._c_n = n

    def _setup(self, n_ions: int, interval_s: float, max_snapshots: int,
               max_tracked_ions: int, seed: int, tracked: NDArray[np.int64]) -> None:
        self._n_ions = n_ions
        self._interval_s = interval_s
        self._max_snapshots = max_snapshots
        self._max_tracked_ions = max_tracked_ions
        self._seed = seed
        self._tracked = tracked
        self._tracked.setflags(write=False)
        cap = max_snapshots + 1
        self._disp = np.zeros((cap, tracked.size, 3), dtype=np.float64)
        self._total = np.zeros((cap, 3), dtype=np.float64)
        self._hops: NDArray[np.int64] | None = None  # (cap, n_types) once known
        self._hops_mode = -1  # -1: not yet known, 0: never given, 1: always given
        self._n = 1  # snapshot 0 (zeros) is there from the start

    # ------------------------------------------------------------------ properties
    @property
    def n_ions(self) -> int:
        """Mobile ions of the run (the collective MSD is normalised by this)."""
        return self._n_ions

    @property
    def n_tracked(self) -> int:
        """Ions whose own displacements are kept."""
        return int(self._tracked.size)

    @property
    def tracked_ions(self) -> NDArray[np.int64]:
        """Indices of the tracked ions, sorted (read-only)."""
        return self._tracked

    @property
    def interval_s(self) -> float:
        """Time between the stored snapshots, s."""
        return self._interval_s

    @property
    def max_snapshots(self) -> int:
        return self._max_snapshots

    @property
    def max_tracked_ions(self) -> int:
        return self._max_tracked_ions

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def n_snapshots(self) -> int:
        """Stored snapshots, snapshot 0 included."""
        return self._n

    @property
    def n_intervals(self) -> int:
        """Intervals between the stored snapshots, ``n_snapshots - 1``."""
        return self._n - 1

    @property
    def duration_s(self) -> float:
        """Production time the stored snapshots span, s."""
        return (self._n - 1) * self._interval_s

    @property
    def next_time_s(self) -> float:
        """When (since the start of production) the caller must record the next snapshot."""
        return self._n * self._interval_s

    @property
    def times_s(self) -> NDArray[np.float64]:
        """Times of the stored snapshots, s."""
        return np.arange(self._n, dtype=np.float64) * self._interval_s

    @property
    def displacement_A(self) -> NDArray[np.float64]:
        """Displacements of the tracked ions, shape (n_snapshots, n_tracked, 3), Angstrom
        (a read-only view)."""
        view = self._disp[:self._n]
        view.flags.writeable = False
        return view

    @property
    def total_displacement_A(self) -> NDArray[np.float64]:
        """Sum of the displacements of all ions, shape (n_snapshots, 3), Angstrom
        (a read-only view)."""
        view = self._total[:self._n]
        view.flags.writeable = False
        return view

    @property
    def collective_interval_s(self) -> float:
        """Time between the points of the fine series of the summed displacement, s."""
        return self._c_interval_s

    @property
    def next_collective_time_s(self) -> float:
        """When (since the start of production) the caller must record the next point of
        the fine collective series (:meth:`record_collective`)."""
        return self._c_n * self._c_interval_s

    @property
    def n_collective(self) -> int:
        """Points stored in the fine collective series."""
        return self._c_n

    @property
    def collective_room(self) -> int:
        """Points the fine collective series takes before it thins itself (its interval
        doubles when it holds `max_collective` + 1)."""
        return self._c_max + 1 - self._c_n

    @property
    def collective_A(self) -> NDArray[np.float64]:
        """The fine series of the summed displacement of all ions, shape (n_collective, 3),
        Angstrom (a read-only view)."""
        view = self._c_total[:self._c_n]
        view.flags.writeable = False
        return view

    @property
    def hop_counts(self) -> NDArray[np.int64] | None:
        """Cumulative hops per hop type since the start of production, shape
        (n_snapshots, n_types) (a read-only view), or None if :meth:`record` was not given
        ``hops_per_type``."""
        if self._hops is None:
            return None
        view = self._hops[:self._n]
        view.flags.writeable = False
        return view

    @property
    def nbytes(self) -> int:
        """Bytes of the snapshot arrays (allocated once; they never grow)."""
        extra = 0 if self._hops is None else self._hops.nbytes
        return int(self._disp.nbytes + self._total.nbytes + extra)

    def __repr__(self) -> str:
        return (f"SnapshotBuffer(n_ions={self._n_ions}, n_tracked={self.n_tracked}, "
                f"n_snapshots={self._n}, interval_s={self._interval_s:.6g}, "
                f"duration_s={self.duration_s:.6g})")

    # ------------------------------------------------------------------ recording
    def record(self, time_s: float, displacement_A: Any, total_displacement_A: Any,
               hops_per_type: Any = None) -> None:
        """Store the snapshot due at :attr:`next_time_s`.

        Parameters
        ----------
        time_s : float
            Time since the start of production, s; must equal :attr:`next_time_s` within
            a relative :data:`TIME_RTOL`.
        displacement_A : array_like, shape (n_ions, 3)
            Unwrapped displacement of every ion since the start of production, Angstrom.
        total_displacement_A : array_like, shape (3,)
            Its sum over all ions, Angstrom.
        hops_per_type : array_like of int, shape (n_types,), optional
            Cumulative hop counts per hop (event) type since the start of production, >= 0
            and never decreasing. Give them at every call or at none (the first call
            decides).

        Raises
        ------
        ConfigError
            (a ValueError) On a time that is not the next snapshot's, a wrong shape, a
            value that is not finite, or hop counts that are negative, decrease, or are
            given at some calls only.
        """
        t = _checks.real(time_s, "time_s")
        due = self.next_time_s
        if abs(t - due) > TIME_RTOL * due:
            raise ConfigError(
                f"time_s = {t!r} is not the next snapshot's time {due!r} "
                f"(= {self._n} * interval_s = {self._n} * {self._interval_s!r}); record "
                "each snapshot exactly at next_time_s")
        disp = _checks.as_numeric(displacement_A, "displacement_A")
        _checks.check_shape(disp, "displacement_A", (self._n_ions, 3))
        _checks.check_finite(disp, "displacement_A")
        total = _checks.float_array(total_displacement_A, "total_displacement_A", (3,))
        self._store(disp, total, self._checked_hops(hops_per_type))

    def _store(self, disp: NDArray[np.float64], total: NDArray[np.float64],
               hops: NDArray[np.int64] | None) -> None:
        """:meth:`record`'s store, for a caller that holds the due time and checked arrays
        (the simulation's loop: the engine's own numbers, a (n_ions, 3) and a (3,) float
        array and int64 hop counts that never decrease; about 30 us of checks saved per
        snapshot)."""
        k = self._n
        self._disp[k] = disp[self._tracked]
        self._total[k] = total
        if hops is not None:
            if self._hops is None:
                self._hops = np.zeros((self._max_snapshots + 1, hops.size), dtype=np.int64)
            self._hops[k] = hops
        self._hops_mode = int(hops is not None)
        self._n = k + 1
        if self._n == self._max_snapshots + 1:
            self._thin()

    def record_collective(self, time_s: float, total_displacement_A: Any) -> None:
        """Store the point of the fine collective series due at :attr:`next_collective_time_s`
        (the summed displacement of all ions since the start of production, Angstrom).

        The fine series resolves the collective MSD, one trajectory, at lags far shorter
        than the snapshots' (a few numbers per point: it may hold `max_collective` points);
        it grows to `max_collective` + 1 points, then keeps every other one and doubles its
        interval. Record it before :meth:`record` when both are due.

        Raises
        ------
        ConfigError
            On a time that is not the next point's or a bad array.
        """
        t = _checks.real(time_s, "time_s")
        due = self.next_collective_time_s
        if abs(t - due) > TIME_RTOL * due:
            raise ConfigError(f"time_s = {t!r} is not the next collective point's time "
                              f"{due!r}; record each point exactly at next_collective_time_s")
        self._append_collective(_checks.float_array(total_displacement_A,
                                                    "total_displacement_A", (3,)))

    def _append_collective(self, total: np.ndarray) -> None:
        """:meth:`record_collective`'s store, for a caller that holds the due time and a
        finite (3,) float array (the simulation's loop: the engine's own numbers, about 12 us
        of checks saved per point, which on a small fast model come every 50-100 us)."""
        if self._c_n == self._c_total.shape[0]:  # grow, up to max + 1
            grown = np.zeros((min(2 * self._c_n, self._c_max + 1), 3))
            grown[:self._c_n] = self._c_total[:self._c_n]
            self._c_total = grown
        self._c_total[self._c_n] = total
        self._c_n += 1
        if self._c_n == self._c_max + 1:
            self.thin_collective()

    def thin_collective(self) -> None:
        """Keep every other point of the fine collective series and double its interval
        (the caller may do this any time it finds the points too dense; the next point is
        then due later, never earlier, than the last one recorded)."""
        keep = (self._c_n + 1) // 2
        self._c_total[:keep] = self._c_total[:self._c_n:2].copy()
        self._c_total[keep:] = 0.0
        self._c_n = keep
        self._c_interval_s *= 2.0

    def _checked_hops(self, hops_per_type: Any) -> NDArray[np.int64] | None:
        given = hops_per_type is not None
        if self._hops_mode != -1 and given != bool(self._hops_mode):
            raise ConfigError(
                "hops_per_type must be given at every record() or at none: it was "
                f"{'given' if self._hops_mode else 'not given'} at the first record() and "
                f"{'is' if given else 'is not'} now")
        if not given:
            return None
        n_types = None if self._hops is None else self._hops.shape[1]
        hops = _checks.int_array(hops_per_type, "hops_per_type", n_types)
        if hops.size == 0:
            raise ConfigError("hops_per_type must have at least one hop type, got shape (0,)")
        if hops.min() < 0:
            i = int(np.flatnonzero(hops < 0)[0])
            raise ConfigError(f"hops_per_type[{i}] = {hops[i]} must be >= 0")
        hops = hops.astype(np.int64)
        if self._hops is not None:
            prev = self._hops[self._n - 1]
            if (hops < prev).any():
                i = int(np.flatnonzero(hops < prev)[0])
                raise ConfigError(
                    f"hops_per_type[{i}] = {hops[i]} is less than at the previous snapshot "
                    f"({prev[i]}); hop counts are cumulative since the start of production")
        return hops

    def _thin(self) -> None:
        """Keep snapshots 0, 2, 4, ... (in place, front to back) and double the interval."""
        keep = (self._n + 1) // 2
        for j in range(1, keep):
            self._disp[j] = self._disp[2 * j]
            self._total[j] = self._total[2 * j]
            if self._hops is not None:
                self._hops[j] = self._hops[2 * j]
        self._disp[keep:] = 0.0
        self._total[keep:] = 0.0
        if self._hops is not None:
            self._hops[keep:] = 0
        self._n = keep
        self._interval_s *= 2.0

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict[str, Any]:
        """The buffer as numpy arrays and numbers only (HDF5-friendly), for checkpoints;
        :meth:`from_state` restores it exactly."""
        n = self._n
        hops = (np.zeros((n, 0), dtype=np.int64) if self._hops is None
                else self._hops[:n].copy())
        return {
            "version": 1,
            "n_ions": self._n_ions,
            "interval_s": self._interval_s,
            "max_snapshots": self._max_snapshots,
            "max_tracked_ions": self._max_tracked_ions,
            "seed": self._seed,
            "tracked_ions": self._tracked.copy(),
            "displacement_A": self._disp[:n].copy(),
            "total_displacement_A": self._total[:n].copy(),
            "hop_counts": hops,
            "hops_mode": self._hops_mode,
            "collective_interval_s": self._c_interval_s,
            "max_collective": self._c_max,
            "collective_A": self._c_total[:self._c_n].copy(),
        }

    @classmethod
    def from_state(cls, state: Any) -> SnapshotBuffer:
        """A buffer restored from :meth:`state` (its later behaviour is bit-identical).

        Raises
        ------
        ConfigError
            If `state` is not a mapping with the keys of :meth:`state` or its arrays are
            inconsistent.
        """
        keys = ("version", "n_ions", "interval_s", "max_snapshots", "max_tracked_ions",
                "seed", "tracked_ions", "displacement_A", "total_displacement_A",
                "hop_counts", "hops_mode")
        try:
            missing = [k for k in keys if k not in state]
        except TypeError:
            raise ConfigError(
                f"state must be a dict from SnapshotBuffer.state(), got "
                f"{type(state).__name__}") from None
        if missing:
            raise ConfigError(f"state lacks {', '.join(missing)}; it is not from "
                              "SnapshotBuffer.state()")
        version = _checks.integer(_scalar(state["version"]), "state['version']")
        if version != 1:
            raise ConfigError(f"state['version'] = {version} is not supported (only 1)")
        n_ions = _checks.integer(_scalar(state["n_ions"]), "state['n_ions']", lo=1)
        interval_s = _checks.real(_scalar(state["interval_s"]), "state['interval_s']",
                                  lo=0.0, lo_open=True)
        max_snapshots = _check_max_snapshots(_scalar(state["max_snapshots"]),
                                             "state['max_snapshots']")
        max_tracked = _checks.integer(_scalar(state["max_tracked_ions"]),
                                      "state['max_tracked_ions']", lo=1)
        seed = _checks.integer(_scalar(state["seed"]), "state['seed']", lo=0,
                               hi=SEED_LIMIT - 1)
        tracked = _checks.int_array(state["tracked_ions"], "state['tracked_ions']")
        if tracked.size != min(n_ions, max_tracked):
            raise ConfigError(f"state['tracked_ions'] has {tracked.size} ions; expected "
                              f"min(n_ions, max_tracked_ions) = {min(n_ions, max_tracked)}")
        _checks.check_int_range(tracked, "state['tracked_ions']", n_ions,
                                f"ion indices are in [0, {n_ions})")
        if (np.diff(tracked) <= 0).any():
            raise ConfigError("state['tracked_ions'] must be sorted and distinct")
        disp = _checks.float_array(state["displacement_A"], "state['displacement_A']",
                                   (None, tracked.size, 3))
        n = disp.shape[0]
        if not 1 <= n <= max_snapshots:
            raise ConfigError(f"state['displacement_A'] holds {n} snapshots; expected 1 .. "
                              f"max_snapshots = {max_snapshots}")
        total = _checks.float_array(state["total_displacement_A"],
                                    "state['total_displacement_A']", (n, 3))
        hops = _checks.as_numeric(state["hop_counts"], "state['hop_counts']")
        if hops.ndim != 2 or hops.shape[0] != n:
            raise ConfigError(f"state['hop_counts'] must have shape ({n}, n_types), got "
                              f"shape {hops.shape}")
        hops_mode = _checks.integer(_scalar(state["hops_mode"]), "state['hops_mode']",
                                    lo=-1, hi=1)
        if (hops_mode == 1) != (hops.shape[1] > 0) or (hops_mode == -1 and n > 1):
            raise ConfigError(f"state['hops_mode'] = {hops_mode} does not match "
                              f"state['hop_counts'] of shape {hops.shape}")
        buf = cls.__new__(cls)
        tracked = np.array(tracked, dtype=np.int64)
        buf._setup(n_ions, interval_s, max_snapshots, max_tracked, seed, tracked)
        buf._disp[:n] = disp
        buf._total[:n] = total
        if hops_mode == 1:
            buf._hops = np.zeros((max_snapshots + 1, hops.shape[1]), dtype=np.int64)
            buf._hops[:n] = hops
        buf._hops_mode = hops_mode
        buf._n = n
        if "collective_A" in state:  # (a state of the fine collective series)
            c_total = _checks.float_array(state["collective_A"], "state['collective_A']",
                                          (None, 3))
            buf._setup_collective(
                _checks.real(_scalar(state["collective_interval_s"]),
                             "state['collective_interval_s']", lo=0.0, lo_open=True),
                _check_max_snapshots(_scalar(state["max_collective"]),
                                     "state['max_collective']"), c_total)
        else:
            buf._setup_collective(interval_s, max_snapshots)
        return buf


def _scalar(value: Any) -> Any:
    """A 0-d array (as h5py reads a scalar) as a Python number."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_max_snapshots(value: Any, name: str = "max_snapshots") -> int:
    n = _checks.integer(value, name, lo=MIN_MAX_SNAPSHOTS)
    if n % 2:
        raise ConfigError(f"{name} = {n} must be even (thinning keeps every other snapshot)")
    return n


# =============================================================================================
# the MSD at every lag
# =============================================================================================
@dataclass(frozen=True, eq=False)
class LagMSD:
    """Mean-squared displacements at lags ``tau = m * interval_s``, ``m = 1 .. M``, each
    averaged over every time origin (overlapping windows) of a :class:`SnapshotBuffer`.

    Attributes
    ----------
    lags_s : ndarray, shape (M,)
        Lag times, s.
    tracer_A2 : ndarray, shape (M,)
        Mean over tracked ions and origins of ``|r(t + tau) - r(t)|^2``, Angstrom^2.
    tracer_tensor_A2 : ndarray, shape (M, 3, 3)
        The same of ``dr dr^T``; its trace is `tracer_A2`.
    collective_A2 : ndarray, shape (M,)
        Mean over origins of ``|R(t + tau) - R(t)|^2 / n_ions``, R the summed displacement
        of all ions: normalised per ion, so it equals the tracer MSD for uncorrelated ions.
    collective_tensor_A2 : ndarray, shape (M, 3, 3)
        The same of ``dR dR^T / n_ions``.
    n_windows : ndarray of int, shape (M,)
        Time origins at each lag, ``K - m + 1``.
    n_ions, n_tracked : int
        Ions of the run; ions in the tracer averages.
    ngp : ndarray, shape (M,)
        Non-Gaussian parameter of the tracer displacements,
        ``alpha2 = d / (d + 2) <r^4> / <r^2>^2 - 1`` with d = 3: 0 for isotropic Gaussian
        displacements in 3D, positive for a mixture of ions that moved and ions that did
        not (cage rattling with rare escapes). For displacements confined to fewer
        dimensions its Gaussian value is 0.2 (2D) or 0.8 (1D); :func:`fit_diffusion`
        compares it with the Gaussian value of the measured tensor. nan where the MSD is 0.
    hops_per_ion : ndarray, shape (M,)
        Mean hops (all types) per ion in a window of each lag, from the buffer's hop counts;
        nan if it has none.
    interval_s : float
        Spacing of the snapshots, s (``lags_s[m - 1] = m * interval_s``).
    n_intervals : int
        K, the intervals the snapshots span.
    fine_lags_m : ndarray of int or None
        With a fine collective series (:meth:`SnapshotBuffer.record_collective`) finer
        than the snapshots: its lags in its own intervals, about two per octave
        (``round(2^(k/2))``) up to `max_lag_fraction` of its span; else None.
    fine_collective_A2, fine_collective_tensor_A2 : ndarray or None
        The collective MSD (per ion) and its tensor at those lags, every origin used.
    fine_interval_s : float
        The fine series' interval, s (nan without one).
    fine_n_intervals : int
        Its span in intervals (0 without one).
    drift_removed : bool
        The MSDs are about the mean drift (``lag_msd(remove_drift=True)``).
    """

    lags_s: NDArray[np.float64]
    tracer_A2: NDArray[np.float64]
    tracer_tensor_A2: NDArray[np.float64]
    collective_A2: NDArray[np.float64]
    collective_tensor_A2: NDArray[np.float64]
    n_windows: NDArray[np.int64]
    n_ions: int
    n_tracked: int
    ngp: NDArray[np.float64]
    hops_per_ion: NDArray[np.float64]
    interval_s: float
    n_intervals: int
    fine_lags_m: NDArray[np.int64] | None = None
    fine_collective_A2: NDArray[np.float64] | None = None
    fine_collective_tensor_A2: NDArray[np.float64] | None = None
    fine_interval_s: float = math.nan
    fine_n_intervals: int = 0
    drift_removed: bool = False

    def __post_init__(self) -> None:
        for name in ("lags_s", "tracer_A2", "tracer_tensor_A2", "collective_A2",
                     "collective_tensor_A2", "n_windows", "ngp", "hops_per_ion",
                     "fine_lags_m", "fine_collective_A2", "fine_collective_tensor_A2"):
            if getattr(self, name) is None:
                continue
            arr = np.array(getattr(self, name))
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def n_lags(self) -> int:
        return int(self.lags_s.size)


def lag_msd(buffer: SnapshotBuffer, *, max_lag_fraction: float = 0.5,
            remove_drift: bool = False) -> LagMSD:
    """The tracer and collective MSD of `buffer` at lags ``m = 1 .. floor(max_lag_fraction
    * K)`` (K intervals), every time origin used.

    The FFT algorithm of the fast correlation method (nMOLDYN; G. R. Kneller et al.,
    Comput. Phys. Commun. 91, 191 (1995); see also Calandrini et al., nMoldyn, Collection
    SFN 12, 201 (2011)): with N = K + 1 snapshots,
    ``sum_t |x(t+m) - x(t)|^2 = sum_{t>=m} x(t)^2 + sum_{t<N-m} x(t)^2 - 2 sum_t x(t) x(t+m)``;
    the first two sums come from prefix sums, the correlation from one zero-padded FFT per
    ion and component (``numpy.fft``), summed over ions in frequency space. The fourth
    moment for the non-Gaussian parameter is expanded the same way into correlations of
    ``|r|^2``, ``|r|^2 r_a``, ``r_a`` and ``r_a r_b``. Positions are taken relative to each
    ion's mean over time first (the MSD does not change), which keeps the cancellation
    small. Cost O(n_tracked K log K), memory O(256 K) beyond the buffer.

    Parameters
    ----------
    buffer : SnapshotBuffer
        At least 2 snapshots (one interval).
    max_lag_fraction : float
        Largest lag as a fraction of the span, in (0, 1]; the default 0.5 keeps at least
        K/2 + 1 windows at every lag.
    remove_drift : bool
        Under a driving field: measure the MSD about the mean drift. Each series (the
        snapshots, the fine collective series) has its drift velocity estimated from its
        own end point, ``v = R(T) / (n_ions T)``, and ``v t`` is taken off every ion
        (``n_ions v t`` off the summed displacement). An estimated drift also takes off
        part of the fluctuation: the summed displacement becomes a Brownian bridge, whose
        increments over tau have ``(1 - tau / T)`` of the variance, so the collective MSD
        is divided by that; each ion loses ``(tau / T) MSD_coll(tau) / n_ions`` on average
        (its share of the estimated drift), which is added back. Both corrections are
        exact for Gaussian increments, so a field-free run gives the same MSD on average
        with or without.

    Raises
    ------
    ConfigError
        If `buffer` is not a SnapshotBuffer, holds too few snapshots for one lag, or
        `max_lag_fraction` is out of range.
    """
    if not isinstance(buffer, SnapshotBuffer):
        raise ConfigError(f"buffer must be a SnapshotBuffer, got {type(buffer).__name__}")
    frac = _checks.real(max_lag_fraction, "max_lag_fraction", lo=0.0, hi=1.0, lo_open=True)
    n_snap = buffer.n_snapshots
    k_int = n_snap - 1
    n_lags = math.floor(frac * k_int + 1e-9)
    if n_lags < 1:
        raise ConfigError(
            f"the buffer holds {n_snap} snapshot(s): max_lag_fraction = {frac:g} of its "
            f"{k_int} interval(s) is less than one lag; record more snapshots")
    m = np.arange(1, n_lags + 1)
    nfft = _fast_len(n_snap + n_lags)
    disp = buffer._disp[:n_snap]  # (N, n, 3), read only here
    total = buffer._total[:n_snap]
    if remove_drift:  # v t off every ion, n_ions v t off the sum (v from the last snapshot)
        frac_t = np.arange(n_snap, dtype=np.float64) / k_int  # t / T
        drift = np.outer(frac_t, total[-1])  # n_ions v t
        total = total - drift
        disp = disp - drift[:, None, :] / buffer.n_ions
    tr_sum, r4_sum = _tracer_sums(disp, m, nfft)
    n_tr = disp.shape[1]
    n_win = (n_snap - m).astype(np.int64)
    tracer_tensor = tr_sum / (n_tr * n_win)[:, None, None]
    tracer = np.trace(tracer_tensor, axis1=1, axis2=2).copy()
    r4 = r4_sum / (n_tr * n_win)
    with np.errstate(divide="ignore", invalid="ignore"):
        ngp = np.where(tracer > 0.0, 0.6 * r4 / tracer**2 - 1.0, np.nan)
    coll_sum, _ = _tracer_sums(total[:, None, :], m, nfft, fourth=False)
    coll_tensor = coll_sum / (n_win * buffer.n_ions)[:, None, None]
    if remove_drift:  # the Brownian bridge's (1 - tau/T), and each ion's share of the drift
        coll_tensor /= (1.0 - m / k_int)[:, None, None]
        tracer_tensor += coll_tensor * (m / (k_int * buffer.n_ions))[:, None, None]
        tracer = np.trace(tracer_tensor, axis1=1, axis2=2).copy()
    coll = np.trace(coll_tensor, axis1=1, axis2=2).copy()
    hops = buffer.hop_counts
    if hops is None:
        hops_per_ion = np.full(n_lags, np.nan)
    else:
        h = hops.sum(axis=1).astype(np.float64)
        c = np.concatenate([[0.0], np.cumsum(h)])  # c[j] = sum of h[:j]
        later = c[n_snap] - c[m]  # sum_{t >= m} h(t)
        earlier = c[n_snap - m]  # sum_{t < N - m} h(t)
        hops_per_ion = (later - earlier) / n_win / buffer.n_ions
    fine: dict[str, Any] = {}
    series = buffer._c_total[:buffer._c_n]
    kc = series.shape[0] - 1
    if kc > k_int:  # a finer collective series: the collective MSD at shorter lags
        top = frac * kc
        mc = np.unique(np.rint(2.0 ** np.arange(0.0, math.log2(top) + 1e-9, 0.5)))
        mc = mc[(mc >= 1) & (mc <= top)].astype(np.int64)
        if remove_drift:
            series = series - np.outer(np.arange(kc + 1, dtype=np.float64) / kc, series[-1])
        c_sum, _ = _tracer_sums(series[:, None, :], mc, _fast_len(kc + 1 + int(mc.max())),
                                fourth=False)
        c_tensor = c_sum / ((kc + 1 - mc) * buffer.n_ions)[:, None, None]
        if remove_drift:
            c_tensor /= (1.0 - mc / kc)[:, None, None]
        fine = {"fine_lags_m": mc, "fine_collective_tensor_A2": c_tensor,
                "fine_collective_A2": np.trace(c_tensor, axis1=1, axis2=2).copy(),
                "fine_interval_s": buffer._c_interval_s, "fine_n_intervals": kc}
    return LagMSD(lags_s=m * buffer.interval_s, tracer_A2=tracer,
                  tracer_tensor_A2=tracer_tensor, collective_A2=coll,
                  collective_tensor_A2=coll_tensor, n_windows=n_win, n_ions=buffer.n_ions,
                  n_tracked=n_tr, ngp=ngp, hops_per_ion=hops_per_ion,
                  interval_s=buffer.interval_s, n_intervals=k_int,
                  drift_removed=bool(remove_drift), **fine)


def msd_record(msd: LagMSD, fit: DiffusionFit) -> dict[str, NDArray[np.float64]]:
    """What a run keeps of its MSD (``RunResult.msd``): ``time_s`` (lags, s), ``tracer_A2``
    and ``collective_A2`` (per ion, Angstrom^2), ``fit_range_s`` (the fitted lags, s),
    ``intercepts_A2`` (the fitted offsets c of the tracer and collective lines),
    ``alpha_tracer`` (the log-log slope over the fitted range and its error) and, with a
    finer collective series, ``collective_fine_time_s`` and ``collective_fine_A2`` (the
    lags the collective fit used)."""
    return {"time_s": np.asarray(msd.lags_s, dtype=float),
            "tracer_A2": np.asarray(msd.tracer_A2, dtype=float),
            "collective_A2": np.asarray(msd.collective_A2, dtype=float),
            "fit_range_s": np.asarray(fit.fit_range_s, dtype=float),
            "intercepts_A2": np.array([fit.intercept_tracer_A2,
                                       fit.intercept_collective_A2], dtype=float),
            "alpha_tracer": np.array([fit.alpha_tracer, fit.alpha_tracer_err], dtype=float),
            **({} if msd.fine_lags_m is None else {  # the finer collective series' lags
                "collective_fine_time_s": np.asarray(msd.fine_lags_m * msd.fine_interval_s,
                                                     dtype=float),
                "collective_fine_A2": np.asarray(msd.fine_collective_A2, dtype=float)})}


def _fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (a fast FFT length)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _window_sums(same: NDArray, m: NDArray, n_snap: int) -> NDArray:
    """``sum_{t >= m} f(t) + sum_{t < N - m} f(t)`` for each lag m; `same` is f(t) along
    axis 0."""
    c = np.concatenate([np.zeros((1,) + same.shape[1:]), np.cumsum(same, axis=0)])
    return (c[n_snap] - c[m]) + c[n_snap - m]


def _tracer_sums(disp: NDArray, m: NDArray, nfft: int, *,
                 fourth: bool = True) -> tuple[NDArray, NDArray | None]:
    """Sums over particles and origins of ``dr dr^T`` (M, 3, 3) and of ``|dr|^4`` (M,).

    `disp` has shape (N, n, 3): N snapshots of n particles."""
    n_snap, n_part, _ = disp.shape
    nf = nfft // 2 + 1
    pairs = [(a, b) for a in range(3) for b in range(a, 3)]
    mult = np.array([1.0 if a == b else 2.0 for a, b in pairs])
    g_xx = np.zeros((6, nf), dtype=np.complex128)  # sum_i conj(X_a) X_b, pairs a <= b
    q_xx = np.zeros((6, n_snap))  # sum_i x_a x_b at equal times
    if fourth:
        g_uu = np.zeros(nf)  # sum_i |U|^2
        g_xw = np.zeros((3, nf), dtype=np.complex128)  # sum_i conj(X_a) W_a
        g_pp = np.zeros((6, nf))  # sum_i |P_ab|^2
        u4 = np.zeros(n_snap)  # sum_i u^2
    for i0 in range(0, n_part, _FFT_CHUNK_IONS):
        x = disp[:, i0:i0 + _FFT_CHUNK_IONS, :]
        x = np.ascontiguousarray((x - x.mean(axis=0)).transpose(2, 1, 0))  # (3, c, N)
        p = np.stack([x[a] * x[b] for a, b in pairs])  # (6, c, N)
        fx = np.fft.rfft(x, n=nfft, axis=-1)  # (3, c, nf)
        fxc = fx.conj()
        for j, (a, b) in enumerate(pairs):
            g_xx[j] += (fxc[a] * fx[b]).sum(axis=0)
        q_xx += p.sum(axis=1)
        if not fourth:
            continue
        u = p[0] + p[3] + p[5]  # |r|^2, (c, N)
        fu = np.fft.rfft(u, n=nfft, axis=-1)
        g_uu += (fu.real**2 + fu.imag**2).sum(axis=0)
        fw = np.fft.rfft(u * x, n=nfft, axis=-1)  # (3, c, nf)
        g_xw += (fxc * fw).sum(axis=1)
        fp = np.fft.rfft(p, n=nfft, axis=-1)
        g_pp += (fp.real**2 + fp.imag**2).sum(axis=1)
        u4 += (u * u).sum(axis=0)
    c_xx = np.fft.irfft(g_xx, n=nfft, axis=-1)  # c_ab(k) = sum_t x_a(t) x_b(t + k)
    same = _window_sums(q_xx.T, m, n_snap)  # (M, 6)
    pair_sums = same - c_xx[:, m].T - c_xx[:, nfft - m].T  # (M, 6)
    tensor = np.empty((m.size, 3, 3))
    for j, (a, b) in enumerate(pairs):
        tensor[:, a, b] = tensor[:, b, a] = pair_sums[:, j]
    if not fourth:
        return tensor, None
    c_uu = np.fft.irfft(g_uu, n=nfft)
    c_xw = np.fft.irfft(g_xw, n=nfft, axis=-1)  # sum_t x_a(t) w_a(t + k)
    c_pp = np.fft.irfft(g_pp, n=nfft, axis=-1)
    r4 = (_window_sums(u4, m, n_snap) + 2.0 * c_uu[m]
          - 4.0 * (c_xw[:, m] + c_xw[:, nfft - m]).sum(axis=0)
          + 4.0 * (c_pp[:, m] * mult[:, None]).sum(axis=0))
    return tensor, r4


# =============================================================================================
# the model covariance of overlapping-window MSDs
# =============================================================================================
@dataclass(frozen=True, eq=False)
class _Geometry:
    """Sums over pairs of windows for lags `m` (in intervals) of a span of K intervals.

    For windows ``A = [t, t + m]`` and ``B = [t', t' + n]`` (offset ``k = t' - t``):
    ``P = |A & B|`` (overlap length, intervals) and
    ``Q = [t+m = t'+n] + [t = t'] - [t+m = t'] - [t = t'+n]`` (shared end points).
    ``pp[i, j] = sum_{t, t'} P^2`` and likewise ``pq`` (P Q) and ``qq`` (Q^2), summed over
    all origins of both lags; ``n_win`` the origins per lag."""

    m: NDArray[np.int64]
    n_win: NDArray[np.float64]
    pp: NDArray[np.float64]
    pq: NDArray[np.float64]
    qq: NDArray[np.float64]


def _geometry(m: NDArray[np.int64], k_int: int) -> _Geometry:
    """The window sums of lags `m` over K = `k_int` intervals (cached: a run to a precision
    asks for the same lags and span at many of its looks)."""
    m = np.asarray(m, dtype=np.int64)
    return _geometry_cached(m.tobytes(), int(k_int))


@functools.lru_cache(maxsize=16)
def _geometry_cached(m_bytes: bytes, k_int: int) -> _Geometry:
    m = np.frombuffer(m_bytes, dtype=np.int64)
    n_col = m[:, None]
    n_max = int(m.max())
    pp = np.empty((m.size, m.size))
    pq = np.empty_like(pp)
    qq = np.empty_like(pp)
    for i, mi in enumerate(m):
        k = np.arange(-n_max, int(mi) + 1)[None, :]
        overlap = np.clip(np.minimum(mi, k + n_col) - np.maximum(0, k), 0, None)
        ends = ((k == mi - n_col).astype(np.int64) + (k == 0) - (k == mi) - (k == -n_col))
        count = np.clip(np.minimum(k_int - mi, k_int - n_col - k) - np.maximum(0, -k) + 1,
                        0, None)
        pp[i] = (count * overlap * overlap).sum(axis=1)
        pq[i] = (count * overlap * ends).sum(axis=1)
        qq[i] = (count * ends * ends).sum(axis=1)
    for arr in (pp, pq, qq):
        arr.setflags(write=False)
    return _Geometry(m=m, n_win=(k_int - m + 1).astype(np.float64), pp=pp, pq=pq, qq=qq)


def _sub(geom: _Geometry, i0: int) -> _Geometry:
    """The lags from index i0 on (a pair's sums do not depend on the other lags)."""
    return _Geometry(m=geom.m[i0:], n_win=geom.n_win[i0:], pp=geom.pp[i0:, i0:],
                     pq=geom.pq[i0:, i0:], qq=geom.qq[i0:, i0:])


@dataclass(frozen=True)
class _Walk:
    """One displacement component pair's model in interval units: the covariance of the
    components a and b over a window of ``m`` intervals is ``s m + c`` (``c`` the white
    position noise, counted twice per window: ``h = c / 2`` per end point)."""

    s_a: float
    h_a: float
    s_b: float
    h_b: float
    s_ab: float
    h_ab: float


def _model_cov(geom: _Geometry, walk: _Walk, k_int: int, n_particles: float,
               model: str) -> NDArray[np.float64]:
    """Covariance of the MSD component ``<dr_a dr_b>`` at the lags of `geom` (averaged over
    all origins and over `n_particles` independent particles) under the walk model.

    ``exact``: Gaussian increments, Isserlis:
    ``Cov(dA_a dA_b, dB_a dB_b) = C_aa C_bb + C_ab^2`` with
    ``C_xy(A, B) = s_xy P(A, B) + h_xy Q(A, B)``, summed over all pairs of windows.
    ``kinisi``: ``Cov_ij = v_i / N_j`` for ``m_i <= m_j``, ``v = mu_a mu_b + mu_ab^2``
    (the variance of one window's product at the model MSD ``mu = s m + 2 h``) and
    ``N_j = K / m_j`` independent windows per particle."""
    w = walk
    if model == "exact":
        cov = ((w.s_a * w.s_b + w.s_ab**2) * geom.pp
               + (w.s_a * w.h_b + w.h_a * w.s_b + 2.0 * w.s_ab * w.h_ab) * geom.pq
               + (w.h_a * w.h_b + w.h_ab**2) * geom.qq)
        cov = cov / np.outer(geom.n_win, geom.n_win)
    else:
        mf = geom.m.astype(np.float64)
        mu_a = w.s_a * mf + 2.0 * w.h_a
        mu_b = w.s_b * mf + 2.0 * w.h_b
        mu_ab = w.s_ab * mf + 2.0 * w.h_ab
        v = mu_a * mu_b + mu_ab**2
        lo = np.minimum.outer(np.arange(mf.size), np.arange(mf.size))
        hi = np.maximum.outer(np.arange(mf.size), np.arange(mf.size))
        cov = v[lo] * mf[hi] / k_int
    return cov / n_particles


def _cholesky(cov: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lower Cholesky factor of `cov`. A matrix it refuses gets a diagonal of 1e-12,
    1e-10, ... 1e-6 of its mean diagonal added, the first that works (the exact model is
    positive definite but near-singular: the MSDs of neighbouring long lags are almost
    perfectly correlated). If none works (the "kinisi" model is not always positive
    definite; kinisi projects it with ``find_nearest_positive_definite``), its negative
    eigenvalues are raised to 1e-10 of the largest."""
    scale = float(np.mean(np.diag(cov)))
    if not math.isfinite(scale) or scale <= 0.0:
        raise np.linalg.LinAlgError("covariance has no positive diagonal")
    eye = np.eye(cov.shape[0])
    for jitter in _JITTERS:
        try:
            return scipy.linalg.cholesky(cov + jitter * scale * eye, lower=True)
        except np.linalg.LinAlgError:
            continue
    w, v = np.linalg.eigh(0.5 * (cov + cov.T))
    w = np.maximum(w, 1e-10 * w[-1])
    return scipy.linalg.cholesky((v * w) @ v.T + 1e-10 * w[-1] * eye, lower=True)


@dataclass(frozen=True, eq=False)
class _Line:
    """A GLS straight line ``y = slope * x + intercept`` and what it was made with."""

    slope: float
    intercept: float
    slope_err: float
    intercept_err: float
    cov: NDArray[np.float64]  # the model covariance of y used last
    chi2: float
    iterations: int


def _gls(x: NDArray, y: NDArray, cov: NDArray) -> tuple[NDArray, NDArray, float]:
    """Generalised least squares of ``y = b0 x + b1`` with covariance `cov` of y:
    the coefficients, their covariance ``(X^T S^-1 X)^-1`` and chi^2."""
    chol = _cholesky(cov)
    # one triangular solve per vector: a multi-column solve of this size is 50x slower
    # with a multithreaded OpenBLAS
    xw = np.column_stack([scipy.linalg.solve_triangular(chol, v, lower=True)
                          for v in (x, np.ones_like(x))])
    yw = scipy.linalg.solve_triangular(chol, y, lower=True)
    q, r = np.linalg.qr(xw)
    r_inv = np.linalg.inv(r)
    beta = r_inv @ (q.T @ yw)
    beta_cov = r_inv @ r_inv.T
    resid = yw - xw @ beta
    return beta, beta_cov, float(resid @ resid)


def _fit_line(lag_m: NDArray, y: NDArray, cov_of: Any) -> _Line:
    """Iterated GLS of ``y = s * m + c``: OLS first, then covariance from the current model
    line -> GLS -> model, until the slope changes by less than GLS_RTOL relative (at most
    GLS_MAX_ITERATIONS rounds). ``cov_of(slope, intercept)`` gives the covariance."""
    if not np.any(y):  # nothing moved (in this component): a line at 0, exactly
        return _Line(slope=0.0, intercept=0.0, slope_err=0.0, intercept_err=0.0,
                     cov=np.zeros((y.size, y.size)), chi2=0.0, iterations=0)
    x = lag_m / lag_m[-1]  # scaled abscissa: a well-conditioned design
    y_scale = float(np.max(np.abs(y)))
    yy = y / y_scale
    beta = np.polyfit(x, yy, 1)
    beta_cov = np.full((2, 2), np.nan)
    chi2 = math.nan
    cov = np.full((x.size, x.size), np.nan)
    it = 0
    for it in range(1, GLS_MAX_ITERATIONS + 1):
        cov = cov_of(beta[0] * y_scale / lag_m[-1], beta[1] * y_scale)
        new, beta_cov, chi2 = _gls(x, yy, cov / y_scale**2)
        done = abs(new[0] - beta[0]) <= GLS_RTOL * max(abs(new[0]), 1e-300)
        beta = new
        if done:
            break
    slope = beta[0] * y_scale / lag_m[-1]
    return _Line(slope=float(slope), intercept=float(beta[1] * y_scale),
                 slope_err=float(math.sqrt(beta_cov[0, 0]) * y_scale / lag_m[-1]),
                 intercept_err=float(math.sqrt(beta_cov[1, 1]) * y_scale),
                 cov=cov, chi2=chi2, iterations=it)


# =============================================================================================
# the fit
# =============================================================================================
@dataclass(frozen=True, eq=False)
class DiffusionFit:
    """D* and D_sigma from the long-lag MSD, with errors and a verdict on the regime.

    ``MSD(tau) = 2 d D tau + c`` fitted over `fit_range_s` (:func:`fit_diffusion`). Tensor
    components: ``<dr_a dr_b>(tau) = 2 D_ab tau + c_ab`` for every a, b (each diagonal
    component is a 1-D MSD; ``D_ab`` of an off-diagonal one is half the slope of the mean
    product), so an isotropic system has ``D_aa = D`` and ``D_ab = 0``.

    Attributes
    ----------
    D_tracer_cm2_s, D_tracer_cm2_s_err : float
        Tracer diffusion coefficient D* and its standard error, cm^2/s.
    D_sigma_cm2_s, D_sigma_cm2_s_err : float
        Collective (charge) diffusion coefficient D_sigma from the MSD of the summed
        displacement of all ions per ion, cm^2/s.
    D_tracer_tensor_cm2_s, D_tracer_tensor_cm2_s_err : ndarray, shape (3, 3)
    D_sigma_tensor_cm2_s, D_sigma_tensor_cm2_s_err : ndarray, shape (3, 3)
        The tensors, cm^2/s (each component fitted on its own over the same range).
    intercept_tracer_A2, intercept_tracer_A2_err : float
    intercept_collective_A2, intercept_collective_A2_err : float
        The fitted c, Angstrom^2: the offset of the long-time line, e.g. the cage rattling
        (0 for a random walk).
    fit_range_s : tuple of float
        (tau_min, tau_max) of the fit, s.
    alpha_tracer, alpha_tracer_err, alpha_collective, alpha_collective_err : float
        Log-log slope of the MSD over the fitted range (1: diffusive; < 1: sub-diffusive;
        about 0: confined) and its standard error.
    diffusive : bool
        The fit measures the long-time D: `range_ok`, the tracer alpha within
        ``max(ALPHA_SIGMAS * err, ALPHA_TOLERANCE)`` of 1, and enough rate-limiting hops
        (the collective alpha is reported, not judged).
    regime : str
        ``"diffusive"`` or why not, one line.
    range_ok : bool
        The fitted lags span at least a factor MIN_LAG_RANGE (4) after the cage regime.
    D_tracer_upper_cm2_s, D_sigma_upper_cm2_s : float
        ``(MSD(tau_max) + 2 sigma) / (2 d tau_max)``, cm^2/s: an upper bound on the
        long-time D when the MSD grows sub-linearly (see :func:`fit_diffusion`).
    dimensionality : int
        d of the fit.
    n_fit_lags : int
        Lag times in the fitted range.
    chi2_tracer_per_dof, chi2_collective_per_dof : float
        Chi^2 of the GLS line per degree of freedom (about 1 when the covariance model
        holds; large for an MSD that is not a straight line or non-Gaussian noise).
    covariance : str
        The covariance model used (``COVARIANCE_MODELS``).
    rate_limiting_hops : int or None
        As given.
    fit_start : str
        What set the fit's first lag: "first lag", "non-Gaussian parameter", "hops per
        ion", "offset" (rule (d) of :func:`fit_diffusion`) or "last quarter" (when tau_min
        left less than a quarter of the lags).
    """

    D_tracer_cm2_s: float
    D_tracer_cm2_s_err: float
    D_sigma_cm2_s: float
    D_sigma_cm2_s_err: float
    D_tracer_tensor_cm2_s: NDArray[np.float64]
    D_tracer_tensor_cm2_s_err: NDArray[np.float64]
    D_sigma_tensor_cm2_s: NDArray[np.float64]
    D_sigma_tensor_cm2_s_err: NDArray[np.float64]
    intercept_tracer_A2: float
    intercept_tracer_A2_err: float
    intercept_collective_A2: float
    intercept_collective_A2_err: float
    fit_range_s: tuple[float, float]
    alpha_tracer: float
    alpha_tracer_err: float
    alpha_collective: float
    alpha_collective_err: float
    diffusive: bool
    regime: str
    range_ok: bool
    D_tracer_upper_cm2_s: float
    D_sigma_upper_cm2_s: float
    dimensionality: int
    n_fit_lags: int
    chi2_tracer_per_dof: float
    chi2_collective_per_dof: float
    covariance: str
    rate_limiting_hops: int | None = None
    fit_start: str = field(default="first lag")

    def __post_init__(self) -> None:
        for name in ("D_tracer_tensor_cm2_s", "D_tracer_tensor_cm2_s_err",
                     "D_sigma_tensor_cm2_s", "D_sigma_tensor_cm2_s_err"):
            arr = np.array(getattr(self, name), dtype=np.float64)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: numbers, nested lists for arrays and the range, nan -> None."""
        return {name: _json(getattr(self, name)) for name in self.__dataclass_fields__}


def _json(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return _json(x.tolist())
    if isinstance(x, (list, tuple)):
        return [_json(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def fit_diffusion(msd: LagMSD, *, dimensionality: int, min_hops_per_ion: float = 20.0,
                  rate_limiting_hops: int | None = None,
                  max_offset_fraction: float | None = 0.05,
                  covariance: str = "exact") -> DiffusionFit:
    """Fit ``MSD = 2 d D tau + c`` over the long-lag diffusive range of `msd`.

    **The range** [tau_min, tau_max]. tau_max is the largest lag of `msd`; tau_min the
    largest of

    (a) the lag where the non-Gaussian parameter peaks: the crossover from cage rattling to
        diffusion (kinisi's ``use_ngp`` start). Only lags where the NGP exceeds the value
        of a Gaussian with the measured tensor by NGP_SIGNIFICANCE (4) standard errors
        count (Gaussian-model error, ``n_tracked K / m`` independent windows), so noise
        around 0 does not move the start (it did in none of 1000 Gaussian random walks).
        It counts only as a peak, a crossover the run has passed: the NGP must fall after
        its largest excess by NGP_SIGNIFICANCE combined standard errors. An NGP that is
        still rising at the longest lag (a run too short for its cage escapes, which the
        alpha, offset and rate-limiting rules judge) or a plateau (ions of lasting
        different mobility, as around beta-alumina's split pairs, which no run length
        removes) moves no start; before this rule the start jumped between looks as noise
        on the plateau moved its maximum. The start is the first lag whose excess comes
        within NGP_PEAK_SIGMAS (2) standard errors of the peak's;
    (b) the smallest lag with at least `min_hops_per_ion` hops per ion per window, when
        `msd` has hop counts;
    (c) the smallest lag;
    (d) with `max_offset_fraction` f (default 0.05; None: off), the smallest lag where the
        tracer MSD is at least ``c / f``, c the fitted offset -- its lower 2-sigma bound
        (OFFSET_SIGMAS), so a random walk's insignificant c does not count -- refitted
        from there until it stays (at most 5 rounds). A caged conductor's MSD is
        ``c + 2 d D tau`` after the NGP peak, c the rattling; as long as c is a sizeable
        part of the MSD the log-log slope is below 1 although the line is right. (d)
        starts the fit where the cage contributes at most 5 % (alpha >= 0.95), so a long
        enough run is diffusive and a short one is "too short", not "sub-diffusive".

    If ``tau_max < 4 tau_min`` (MIN_LAG_RANGE) the fit is made from tau_min or over the
    last quarter of the lags (at least MIN_FIT_LAGS), whichever has more lags, and
    `range_ok` is False.

    **The covariance** of the MSDs at lags ``tau_i = m_i dt`` (dt the snapshot interval,
    K intervals, origins ``t = 0 .. K - m``). Each particle's displacement is modelled as a
    Gaussian random walk -- what the fit assumes -- plus independent white position noise
    at every snapshot (the cage rattling, the fitted offset c): per component the variance
    over m intervals is ``s m + c``, s and c from the current model line (not the noisy
    data). Two windows A and B then have ``C(A, B) = Cov(dA, dB) = s |A & B| + (c/2)
    Q(A, B)`` (overlap length, and Q counting shared end points: +1 for a shared start or a
    shared end, -1 where one's end is the other's start). Gaussian increments give
    ``Cov(dA^2, dB^2) = 2 C(A, B)^2`` (Isserlis), so

    ``Cov(MSD_i, MSD_j) = d * 2 / (L_i L_j N_p) * sum_{A in i, B in j} C(A, B)^2``,

    ``L_i = K - m_i + 1`` windows per particle, N_p independent particles (n_tracked for
    the tracer, 1 for the collective "particle"), summed exactly over window offsets; the
    MSDs of Brownian motion with white noise have exactly this covariance. Its diagonal
    is about ``(2/d) MSD_i^2 (2 m_i^2 + 1) / (3 m_i L_i)`` for c = 0. For ``tau_i <= tau_j``, and
    windows away from the span's ends, it tends to
    ``(2/d) MSD_i^2 (1 - m_i / (3 m_j)) m_j / K``: same-origin windows of lags
    tau_i < tau_j share the first increment, so their squared displacements covary like
    ``Var(|R_i|^2) = v_i = (2/d) MSD_i^2``, and there are about ``N_j = K / m_j``
    independent long windows. ``covariance="kinisi"`` uses just that,
    ``Cov(MSD_i, MSD_j) = v_i / N_j`` with ``N_j = N_p K / m_j`` (McCluskey, Coles & Morgan
    2025; v_i from the model line); it overstates the short lags' variances by 1.5 and
    understates the longest lags' by 3/4, is not always positive definite (projected), and
    its 1-sigma errors cover 73-77 % instead of 68 %; the exact sum is the
    default. Tensor components: ``Cov(dA_a dA_b, dB_a dB_b) = C_aa C_bb + C_ab^2`` with
    each component's own line (d -> 1). The collective MSD is one trajectory: its own line
    is too noisy to set its covariance (a random walk whose MSD happens to look flat would
    read as white noise with tiny errors), so its white noise is the tracer's offset and
    its slope the one its mean MSD needs (:func:`_walk_of`). The ions are taken as
    independent: correlations between ions are not in the tracer's covariance.

    **The fit**: ordinary least squares first, then covariance from the model line ->
    generalised least squares (Cholesky; a matrix it refuses gets 1e-12 .. 1e-6 of its
    mean diagonal added) -> model, until the slope changes by less than GLS_RTOL (1e-6)
    relative (at most GLS_MAX_ITERATIONS). Standard errors from ``(X^T S^-1 X)^-1``.

    **One ion** (``n_ions == 1``): its displacement is the summed one, so with a fine
    collective series D* and its tensor come from that series' fit (D* = D_sigma), with
    far more time origins than the snapshots give. With a few ions the tracer's precision
    is limited by the snapshots: about ``sqrt(2 / (d n_tracked K))`` relative at best.

    **The regime**: alpha is the GLS slope of ``log MSD`` against ``log tau`` over the
    range with ``Cov_log = S_ij / (mu_i mu_j)`` (mu the model line). Diffusive when
    `range_ok`, the tracer's ``|alpha - 1| <= max(3 alpha_err, 0.1)`` (ALPHA_SIGMAS,
    ALPHA_TOLERANCE) and, when `rate_limiting_hops` is given, it is at least
    ``max(100, n_ions)`` (MIN_RATE_LIMITING_HOPS, MIN_RATE_LIMITING_HOPS_PER_ION: one per
    ion on average): a lattice gas passes after a modest run, a caged system with a
    handful of cage escapes does not, however linear its rattling looks. The collective
    alpha is reported but not judged: one trajectory's alpha has heavy tails (2-3 % of
    pure random walks of 256 intervals miss by more than 3 sigma). A non-diffusive tracer
    MSD is called confined when alpha is within ``max(3 alpha_err, 0.1)`` of 0, sub- or
    super-diffusive otherwise.

    **The upper bounds** ``D_upper = (MSD(tau_max) + 2 sigma(tau_max)) / (2 d tau_max)``
    (sigma from the model covariance). If the MSD grows sub-linearly, ``MSD(tau) / tau``
    not increasing -- a confined or sub-diffusive system, a caged one whose MSD bends over
    from the rattling to the slower long-time growth, any MSD that is concave and 0 at 0
    --, then ``2 d D_inf = lim MSD(tau) / tau <= MSD(tau_max) / tau_max``; the 2 sigma
    make it a bound at about 98 % confidence against the noise of MSD(tau_max). It falls
    as 1 / tau_max for a confined system. It is computed for every fit but is no bound for
    a super-diffusive MSD (a drift).

    Parameters
    ----------
    msd : LagMSD
        From :func:`lag_msd`.
    dimensionality : int
        d in 1 .. 3: the dimensions the ions diffuse in (3 for a 3D conductor).
    min_hops_per_ion : float
        Rule (b), >= 0.
    rate_limiting_hops : int, optional
        Times the rate-limiting hop type fired in the production phase (all ions), >= 0.
    max_offset_fraction : float or None
        Rule (d), in (0, 1); None switches it off (the range rules of kinisi).
    covariance : str
        "exact" (default) or "kinisi".

    Returns
    -------
    DiffusionFit
        With fewer than MIN_FIT_LAGS (4) lags all numbers are nan and the regime says
        "too short".

    Raises
    ------
    ConfigError
        On a bad argument (naming it).
    """
    if not isinstance(msd, LagMSD):
        raise ConfigError(f"msd must be a LagMSD (from lag_msd()), got {type(msd).__name__}")
    d = _checks.integer(dimensionality, "dimensionality", lo=1, hi=3)
    min_hops = _checks.real(min_hops_per_ion, "min_hops_per_ion", lo=0.0)
    if rate_limiting_hops is not None:
        rate_limiting_hops = _checks.integer(rate_limiting_hops, "rate_limiting_hops", lo=0)
    model = _checks.choice(covariance, "covariance", COVARIANCE_MODELS)
    max_offset = (None if max_offset_fraction is None else
                  _checks.real(max_offset_fraction, "max_offset_fraction", lo=0.0, hi=1.0,
                               lo_open=True, hi_open=True))
    n_lags = msd.n_lags
    common = {"dimensionality": d, "covariance": model,
              "rate_limiting_hops": rate_limiting_hops}
    if n_lags < MIN_FIT_LAGS:
        return _empty_fit(msd, f"too short: only {n_lags} lag time(s), at least "
                               f"{MIN_FIT_LAGS} are needed; record more snapshots", common)
    if not np.any(msd.tracer_A2 > 0.0):
        return _empty_fit(msd, "confined: no tracked ion moved (the MSD is 0)", common,
                          value=0.0)

    # ---- the range
    m_all = np.rint(msd.lags_s / msd.interval_s).astype(np.int64)
    mf_all = m_all.astype(np.float64)
    k_int = msd.n_intervals
    dt = msd.interval_s
    geom_all = _geometry(m_all, k_int)

    def scalar_fit(i0: int, y_all: NDArray, n_particles: float,
                   c_ref: float | None = None) -> _Line:
        geom = _sub(geom_all, i0)
        y = y_all[i0:]

        def cov_of(slope: float, intercept: float) -> NDArray:
            s, h = _walk_of(slope / d, intercept / d, y / d, mf_all[i0:],
                            None if c_ref is None else c_ref / d)  # per component
            return d * _model_cov(geom, _Walk(s, h, s, h, s, h), k_int, n_particles, model)

        return _fit_line(mf_all[i0:], y, cov_of)

    i_ngp = _ngp_start(msd)
    i_hops = 0
    if np.isfinite(msd.hops_per_ion).all():
        enough = np.flatnonzero(msd.hops_per_ion >= min_hops)
        i_hops = int(enough[0]) if enough.size else n_lags
    i_min = max(i_ngp, i_hops)
    fit_start = ("first lag" if i_min == 0 else
                 "non-Gaussian parameter" if i_ngp >= i_hops else "hops per ion")
    n_quarter = max(math.ceil(n_lags / 4), MIN_FIT_LAGS)
    offset = math.nan
    if max_offset is not None:
        for _ in range(_OFFSET_ROUNDS):
            i_fit = min(i_min, n_lags - n_quarter)
            line = scalar_fit(i_fit, msd.tracer_A2, msd.n_tracked)
            c_low = line.intercept - OFFSET_SIGMAS * line.intercept_err
            if not (c_low > 0.0 and line.slope > 0.0):
                break
            enough = np.flatnonzero(line.slope * mf_all >= c_low * (1.0 / max_offset - 1.0))
            i_off = int(enough[0]) if enough.size else n_lags
            if i_off <= i_min:
                break
            i_min, fit_start, offset = i_off, "offset", c_low
            if i_min >= n_lags - n_quarter:
                break
    range_ok = bool(i_min < n_lags and m_all[-1] >= MIN_LAG_RANGE * m_all[i_min])
    i_start = min(i_min, n_lags - n_quarter)
    if i_start < i_min:
        fit_start = "last quarter"
    sel = slice(i_start, n_lags)
    m = m_all[sel]
    tau = msd.lags_s[sel]

    # ---- the fits
    line_tr = scalar_fit(i_start, msd.tracer_A2, msd.n_tracked)
    y_tr = msd.tracer_A2[sel]
    conv = A2_PER_S_TO_CM2_PER_S / (2 * d * dt)  # slope per interval -> D in cm^2/s
    alpha_tr = _alpha(m, y_tr, line_tr)
    geom = _sub(geom_all, i_start)
    t_tr, t_tr_err, t_tr_c = _tensor_fit(m, msd.tracer_tensor_A2[sel], geom, k_int,
                                         msd.n_tracked, model)
    t_conv = A2_PER_S_TO_CM2_PER_S / (2 * dt)
    # the collective MSD, one trajectory, from the fine series when there is one: over the
    # same range of lag times, but with many more time origins (its precision is set by the
    # number of independent windows at the shortest fitted lag)
    fine = None
    if msd.fine_lags_m is not None:
        tau_c = msd.fine_lags_m * msd.fine_interval_s
        start_c = tau[0]
        if i_start == 0:  # the start lies at or before the snapshots' first lag: find it
            start_c = _fine_start(msd, line_tr, dt, min_hops, max_offset)
        pick = np.flatnonzero(tau_c >= start_c * (1.0 - 1e-9))
        if pick.size >= MIN_FIT_LAGS:
            fine = pick
    if fine is not None:
        m_co = msd.fine_lags_m[fine]
        k_co = msd.fine_n_intervals
        geom_co = _geometry(m_co, k_co)
        y_co = msd.fine_collective_A2[fine]
        mf_co = m_co.astype(np.float64)

        def cov_co(slope: float, intercept: float) -> NDArray:
            s, h = _walk_of(slope / d, intercept / d, y_co / d, mf_co, line_tr.intercept / d)
            return d * _model_cov(geom_co, _Walk(s, h, s, h, s, h), k_co, 1.0, model)

        line_co = _fit_line(mf_co, y_co, cov_co)
        t_co, t_co_err, _ = _tensor_fit(m_co, msd.fine_collective_tensor_A2[fine], geom_co,
                                        k_co, 1.0, model, c_ref=t_tr_c)
        conv_co = A2_PER_S_TO_CM2_PER_S / (2 * d * msd.fine_interval_s)
        t_conv_co = A2_PER_S_TO_CM2_PER_S / (2 * msd.fine_interval_s)
    else:
        m_co, y_co = m, msd.collective_A2[sel]
        line_co = scalar_fit(i_start, msd.collective_A2, 1.0, line_tr.intercept)
        t_co, t_co_err, _ = _tensor_fit(m, msd.collective_tensor_A2[sel], geom, k_int, 1.0,
                                        model, c_ref=t_tr_c)
        conv_co, t_conv_co = conv, t_conv
    alpha_co = _alpha(m_co, y_co, line_co)

    # ---- the verdict
    reasons = []
    text = _alpha_verdict(*alpha_tr, tau)
    if text:
        reasons.append(text)
    if not range_ok and not text.startswith("confined"):  # a plateau has no range to find
        reasons.append(_short_text(msd, i_min, offset, min_hops, max_offset,
                                   "non-Gaussian parameter" if i_ngp >= i_hops
                                   else "hops per ion"))
    if rate_limiting_hops is not None:
        need = max(MIN_RATE_LIMITING_HOPS,
                   math.ceil(MIN_RATE_LIMITING_HOPS_PER_ION * msd.n_ions))
        if rate_limiting_hops < need:
            reasons.append(f"the rate-limiting hop type fired only {rate_limiting_hops} "
                           f"times (at least {need} needed)")
    diffusive = not reasons
    dof = max(m.size - 2, 1)

    def upper(y: NDArray, line: _Line, mm: NDArray, cv: float) -> float:
        sigma = math.sqrt(max(float(line.cov[-1, -1]), 0.0))
        return (float(y[-1]) + UPPER_BOUND_SIGMAS * sigma) * cv / mm[-1]

    if msd.n_ions == 1 and fine is not None:
        # one ion: its displacement is the summed one, so the fine series is its tracer
        # trajectory too, with many more time origins than the snapshots
        line_tr, conv, t_tr, t_tr_err, t_conv = line_co, conv_co, t_co, t_co_err, t_conv_co
        y_tr, m = y_co, m_co
    elif msd.n_ions == 1:  # the same trajectory: one fit (the tracer's covariance)
        line_co, conv_co, t_co, t_co_err, t_conv_co = line_tr, conv, t_tr, t_tr_err, t_conv
        y_co, m_co = y_tr, m
    return DiffusionFit(
        D_tracer_cm2_s=line_tr.slope * conv, D_tracer_cm2_s_err=line_tr.slope_err * conv,
        D_sigma_cm2_s=line_co.slope * conv_co, D_sigma_cm2_s_err=line_co.slope_err * conv_co,
        D_tracer_tensor_cm2_s=t_tr * t_conv, D_tracer_tensor_cm2_s_err=t_tr_err * t_conv,
        D_sigma_tensor_cm2_s=t_co * t_conv_co, D_sigma_tensor_cm2_s_err=t_co_err * t_conv_co,
        intercept_tracer_A2=line_tr.intercept, intercept_tracer_A2_err=line_tr.intercept_err,
        intercept_collective_A2=line_co.intercept,
        intercept_collective_A2_err=line_co.intercept_err,
        fit_range_s=(float(tau[0]), float(tau[-1])),
        alpha_tracer=alpha_tr[0], alpha_tracer_err=alpha_tr[1],
        alpha_collective=alpha_co[0], alpha_collective_err=alpha_co[1],
        diffusive=diffusive, regime="diffusive" if diffusive else "; ".join(reasons),
        range_ok=range_ok,
        D_tracer_upper_cm2_s=upper(y_tr, line_tr, m, conv),
        D_sigma_upper_cm2_s=upper(y_co, line_co, m_co, conv_co),
        n_fit_lags=int(m.size), chi2_tracer_per_dof=line_tr.chi2 / dof,
        chi2_collective_per_dof=line_co.chi2 / max(m_co.size - 2, 1), fit_start=fit_start,
        **common)


def _empty_fit(msd: LagMSD, regime: str, common: dict[str, Any], *,
               value: float = math.nan) -> DiffusionFit:
    """A fit that could not be made: D, its errors and bounds all `value` (nan; 0 when
    nothing moved), alpha nan, not diffusive."""
    nan = math.nan
    lags = msd.lags_s
    rng = (float(lags[0]), float(lags[-1])) if lags.size else (nan, nan)
    t33 = np.full((3, 3), value)
    return DiffusionFit(
        D_tracer_cm2_s=value, D_tracer_cm2_s_err=value, D_sigma_cm2_s=value,
        D_sigma_cm2_s_err=value, D_tracer_tensor_cm2_s=t33, D_tracer_tensor_cm2_s_err=t33,
        D_sigma_tensor_cm2_s=t33, D_sigma_tensor_cm2_s_err=t33,
        intercept_tracer_A2=value, intercept_tracer_A2_err=value,
        intercept_collective_A2=value, intercept_collective_A2_err=value, fit_range_s=rng,
        alpha_tracer=nan, alpha_tracer_err=nan, alpha_collective=nan,
        alpha_collective_err=nan, diffusive=False, regime=regime, range_ok=False,
        D_tracer_upper_cm2_s=value, D_sigma_upper_cm2_s=value, n_fit_lags=0,
        chi2_tracer_per_dof=nan, chi2_collective_per_dof=nan, fit_start="first lag",
        **common)


def _short_text(msd: LagMSD, i_min: int, offset: float, min_hops: float,
                max_offset: float | None, other: str) -> str:
    """Why the range is too short: what set tau_min (offset, NGP or hops) and where."""
    longest = f"{msd.lags_s[-1]:.3g} s"
    n_lags = msd.n_lags
    if math.isfinite(offset) and max_offset is not None:
        what = f"the MSD reaches {1.0 / max_offset:g}x its offset c = {offset:.2g} A^2"
        if i_min >= n_lags:
            detail = f"{what} only after the longest lag {longest}"
        else:
            detail = f"{what} at {msd.lags_s[i_min]:.3g} s, the longest lag is {longest}"
    elif other == "hops per ion" and i_min >= n_lags:
        detail = f"no window of up to {longest} holds {min_hops:g} hops per ion"
    else:
        what = ("the non-Gaussian parameter peaks" if other == "non-Gaussian parameter"
                else f"ions have made {min_hops:g} hops")
        detail = f"{what} at {msd.lags_s[i_min]:.3g} s, the longest lag is {longest}"
    return (f"too short: less than a {MIN_LAG_RANGE:g}x range of lags after the cage regime "
            f"({detail})")


def _ngp_variance(d_eff: NDArray) -> NDArray:
    """Variance of the NGP estimate from one Gaussian sample in d_eff dimensions (delta
    method with the chi^2_d moments ``E y^k``): 8/15 in 3D, 8.64 in 1D."""
    d = d_eff
    rel = (d + 4) * (d + 6) / (d * (d + 2)) - 1.0 - 8.0 / d
    return rel * (0.6 * (d + 2) / d) ** 2


def _ngp_start(msd: LagMSD) -> int:
    """Index of the NGP's peak: the first lag whose significant excess over the Gaussian
    value of the measured tracer tensor is within NGP_PEAK_SIGMAS standard errors of the
    largest, when the excess falls after it by NGP_SIGNIFICANCE standard errors (0 if
    none is significant or it does not fall)."""
    t = msd.tracer_tensor_A2
    tr = np.trace(t, axis1=1, axis2=2)
    tr2 = np.einsum("mab,mba->m", t, t)
    with np.errstate(divide="ignore", invalid="ignore"):
        gauss = 0.6 * (1.0 + 2.0 * tr2 / tr**2) - 1.0
        d_eff = np.clip(tr**2 / tr2, 1.0, 3.0)
    m = np.rint(msd.lags_s / msd.interval_s)
    n_eff = msd.n_tracked * msd.n_intervals / m
    se = np.sqrt(_ngp_variance(np.where(np.isfinite(d_eff), d_eff, 3.0)) / n_eff)
    excess = msd.ngp - gauss
    significant = np.isfinite(excess) & (excess >= NGP_SIGNIFICANCE * se)
    if not significant.any():
        return 0
    top = int(np.argmax(np.where(significant, excess, -np.inf)))
    after = top + int(np.nanargmin(excess[top:]))
    if excess[top] - excess[after] < NGP_SIGNIFICANCE * math.hypot(se[top], se[after]):
        return 0  # no peak: a rising NGP (the other rules judge it) or a plateau
    near = significant & (excess >= excess[top] - NGP_PEAK_SIGMAS * se[top])
    return int(np.flatnonzero(near)[0])


def _fine_start(msd: LagMSD, line_tr: _Line, dt: float, min_hops: float,
                max_offset: float | None) -> float:
    """Where the collective fit on the fine series starts when the diffusive regime begins
    at or before the snapshots' first lag: the later of the lag with `min_hops` hops per
    ion (from the mean hop rate) and the lag where the tracer's line exceeds its offset's
    lower bound by 1 / `max_offset` (rule (d); the ions' rattling is local, so the per-ion
    collective MSD carries the same offset), s. 0 when neither applies."""
    start = 0.0
    rate = msd.hops_per_ion / msd.lags_s  # hops per ion per second, at each lag
    if np.isfinite(rate).all() and rate[-1] > 0:
        start = max(start, min_hops / float(rate[-1]))
    if max_offset is not None and line_tr.slope > 0:
        c_low = line_tr.intercept - OFFSET_SIGMAS * line_tr.intercept_err
        if c_low > 0:
            start = max(start, c_low * (1.0 / max_offset - 1.0) / (line_tr.slope / dt))
    return start


def _alpha(m: NDArray, y: NDArray, line: _Line) -> tuple[float, float]:
    """Log-log slope of y against the lag and its error: GLS with the line's covariance
    propagated to logs, ``S_ij / (mu_i mu_j)``, mu the model line (the data where the line
    is not positive)."""
    if not (np.isfinite(y).all() and (y > 0).all()):
        return math.nan, math.nan
    mu = line.slope * m + line.intercept
    mu = np.where(mu > 0, mu, y)
    cov_log = line.cov / np.outer(mu, mu)
    x = np.log(m.astype(np.float64))
    try:
        beta, beta_cov, _ = _gls(x - x.mean(), np.log(y), cov_log)
    except np.linalg.LinAlgError:
        return math.nan, math.nan
    return float(beta[0]), float(math.sqrt(beta_cov[0, 0]))


def _alpha_verdict(alpha: float, err: float, tau: NDArray) -> str:
    """"" when alpha is diffusive, else the reason."""
    if not math.isfinite(alpha):
        return "confined: the MSD is not positive over the fitted range"
    tol = max(ALPHA_SIGMAS * err, ALPHA_TOLERANCE)
    if abs(alpha - 1.0) <= tol:
        return ""
    if abs(alpha) <= tol:
        return f"confined: the MSD does not grow (alpha = {alpha:.2f} +- {err:.2f})"
    kind = "sub-diffusive" if alpha < 1.0 else "super-diffusive"
    return f"{kind}: MSD ~ tau^{alpha:.2f} +- {err:.2f} over {tau[0]:.2g}..{tau[-1]:.2g} s"


def _walk_of(slope: float, intercept: float, y: NDArray, m: NDArray,
             c_ref: float | None) -> tuple[float, float]:
    """One component's walk model (s, h) in interval units from its current line.

    Many particles (``c_ref`` None): ``s = max(slope, 0)``, ``h = max(c, 0) / 2``. One
    particle (the collective): its own line is too noisy to set its own covariance. A
    random walk whose single-trajectory MSD happens to look flat would read as white noise
    with tiny errors, one whose MSD runs low at long lags as a slow walk. So its white
    noise is the tracer's offset (``c_ref``: rattling is local and independent between
    ions), and its slope the mean of the GLS slope (which the short lags set) and the
    slope the mean MSD needs, ``(mean y - c_ref) / mean m`` (which the long lags set). On
    random walks of 16 ions x 256 intervals this gives 1-sigma coverages of 0.67-0.69 for
    D_sigma (0.65-0.66 per diagonal tensor component); the slope alone 0.67-0.70 with
    outliers of 1000 sigma, the larger of the two 0.71-0.74. Neither s nor h > 0: the
    mean level as white noise."""
    if c_ref is None:
        s, h = max(slope, 0.0), max(intercept, 0.0) / 2.0
    else:
        c = max(c_ref, 0.0)
        level = max((float(np.mean(y)) - c) / float(np.mean(m)), 0.0)
        s = 0.5 * (max(slope, 0.0) + level)
        h = c / 2.0
    if s == 0.0 and h == 0.0:
        h = float(np.mean(np.abs(y))) / 2.0  # > 0: _fit_line fits no all-zero y
    return s, h


def _tensor_fit(m: NDArray, y: NDArray, geom: _Geometry, k_int: int, n_particles: float,
                model: str, c_ref: NDArray | None = None) -> tuple[NDArray, NDArray, NDArray]:
    """Slopes (per interval) of ``<dr_a dr_b>``, their errors and the intercepts, each
    shape (3, 3): the diagonal first, each with its own line; then the off-diagonal
    components with the diagonal lines in their covariance (``|s_ab| <= sqrt(s_aa s_bb)``,
    likewise h, so the model is a valid Gaussian). `c_ref`: the tracer's intercepts, for
    the collective (see :func:`_walk_of`)."""
    slope = np.zeros((3, 3))
    err = np.zeros((3, 3))
    icpt = np.zeros((3, 3))
    mf = m.astype(np.float64)
    s_diag = np.zeros(3)
    h_diag = np.zeros(3)
    for a in range(3):
        ya = y[:, a, a]
        if not np.any(ya):  # a dimension the ions do not move in
            continue
        ref = None if c_ref is None else float(c_ref[a, a])

        def cov_aa(s_i: float, c: float, ya: NDArray = ya, ref: float | None = ref) -> NDArray:
            s, h = _walk_of(s_i, c, ya, mf, ref)
            return _model_cov(geom, _Walk(s, h, s, h, s, h), k_int, n_particles, model)

        line = _fit_line(mf, ya, cov_aa)
        slope[a, a], err[a, a], icpt[a, a] = line.slope, line.slope_err, line.intercept
        s_diag[a], h_diag[a] = _walk_of(line.slope, line.intercept, ya, mf, ref)
    for a in range(3):
        for b in range(a + 1, 3):
            yab = y[:, a, b]
            if not (np.any(yab) and np.any(y[:, a, a]) and np.any(y[:, b, b])):
                continue
            s_lim = math.sqrt(s_diag[a] * s_diag[b])
            h_lim = math.sqrt(h_diag[a] * h_diag[b])
            ref = None if c_ref is None else float(c_ref[a, b])

            def cov_ab(s_i: float, c: float, a: int = a, b: int = b, s_lim: float = s_lim,
                       h_lim: float = h_lim, ref: float | None = ref) -> NDArray:
                h_ab = c / 2.0 if ref is None else ref / 2.0
                walk = _Walk(s_diag[a], h_diag[a], s_diag[b], h_diag[b],
                             float(np.clip(s_i, -s_lim, s_lim)),
                             float(np.clip(h_ab, -h_lim, h_lim)))
                return _model_cov(geom, walk, k_int, n_particles, model)

            line = _fit_line(mf, yab, cov_ab)
            slope[a, b] = slope[b, a] = line.slope
            err[a, b] = err[b, a] = line.slope_err
            icpt[a, b] = icpt[b, a] = line.intercept
    return slope, err, icpt
