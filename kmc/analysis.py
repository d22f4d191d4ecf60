"""Turn per-block displacement moments into transport observables.

A production run is split into ``B`` blocks. For each block the driver records
the block length, the summed tracer second moment ``sum_i dr_i dr_i^T``, the
collective displacement ``sum_i dr_i``, the summed squared jump lengths and the
number of hops (:class:`BlockData`). :func:`transport` turns these into the
tracer and collective (charge) diffusion coefficients, their 3x3 tensors, the
tracer correlation factor, the Haven ratio and the Nernst-Einstein
conductivity, and, when a field was applied, the conductivity from the drift
velocity. Every estimate carries a delete-one jackknife standard error over the
blocks.

Units: inputs in Angstrom, s, eV, K and e; diffusion coefficients come out in
cm^2/s, conductivities in S/cm, velocities in cm/s.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from . import _checks
from .constants import (
    A2_PER_S_TO_CM2_PER_S,
    A_PER_S_TO_CM_PER_S,
    E_CHARGE_C,
    KB_EV_PER_K,
    KB_J_PER_K,
    MAX_LINEAR_RESPONSE_PARAMETER,
    PER_A3_TO_PER_CM3,
    V_PER_A_TO_V_PER_CM,
)
from .errors import ConfigError

__all__ = [
    "BlockData",
    "TransportEstimate",
    "jackknife",
    "jackknife_sums",
    "nernst_einstein_S_cm",
    "random_walk_D_cm2_s",
    "single_origin_D_sigma_cm2_s",
    "transport",
    "zero_field_drift",
]

#: Below this many hops per ion per block the tracer estimates get a warning.
MIN_HOPS_PER_ION_PER_BLOCK = 20.0
#: Below this many blocks the D_sigma error bar gets a warning.
MIN_BLOCKS = 30
# MAX_LINEAR_RESPONSE_PARAMETER (kmc.constants, imported above): above this value of
# q |E| <jump length> / (kB T) the field gets a warning.

_BLOCK_FIELDS = ("duration_s", "tracer_sq_A2", "collective_A", "jump_sq_A2", "hops")

#: chi^2 (3 degrees of freedom) of the collective drift above which a run without a field
#: is said to drift: P(chi^2_3 > 30) = 1.4e-6 for a model without drift.
DRIFT_CHI2_LIMIT = 30.0


# --------------------------------------------------------------------------- #
# validation helpers
# --------------------------------------------------------------------------- #
def _nonzero_float(name: str, value: Any) -> float:
    x = _checks.real(value, name)
    if x == 0.0:
        raise ConfigError(f"{name} must be nonzero, got {x}")
    return x


def _dimensionality(value: Any, *, allow_zero: bool) -> int:
    return _checks.integer(value, "dimensionality", lo=0 if allow_zero else 1, hi=3)


def _safe_div(num: ArrayLike, den: ArrayLike) -> NDArray:
    """``num / den`` with nan wherever ``den == 0`` (no floating-point warnings)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(den == 0.0, np.nan, out)


# --------------------------------------------------------------------------- #
# block data
# --------------------------------------------------------------------------- #
@dataclass(frozen=True, eq=False)
class BlockData:
    """Per-block displacement moments of the mobile ions.

    Within block ``b`` (``b = 0 .. B-1``) each mobile ion ``i`` moves by its
    unwrapped displacement ``dr_i`` (Angstrom). All arrays are copied,
    validated and made read-only.

    Parameters
    ----------
    duration_s : array_like, shape (B,)
        Block lengths in s; finite and > 0.
    tracer_sq_A2 : array_like, shape (B, 3, 3)
        ``sum_i dr_i dr_i^T`` in Angstrom^2.
    collective_A : array_like, shape (B, 3)
        ``sum_i dr_i`` in Angstrom.
    jump_sq_A2 : array_like, shape (B,)
        Sum over ions and over their hops of ``|jump vector|^2`` in Angstrom^2;
        >= 0.
    hops : array_like of int, shape (B,)
        Number of hops in the block; >= 0. Stored as int64.

    Raises
    ------
    ConfigError
        On a wrong shape, fewer than 2 blocks, a non-finite value, a
        non-positive duration, a negative jump sum or hop count, or a negative
        diagonal of ``tracer_sq_A2``.
    """

    duration_s: NDArray[np.float64]
    tracer_sq_A2: NDArray[np.float64]
    collective_A: NDArray[np.float64]
    jump_sq_A2: NDArray[np.float64]
    hops: NDArray[np.int64]

    def __post_init__(self) -> None:
        dur = _checks.float_array(self.duration_s, "duration_s", (None,))
        n = dur.shape[0]
        if n < 2:
            raise ConfigError(f"BlockData needs at least 2 blocks, got {n}")
        if np.any(dur <= 0.0):
            raise ConfigError("duration_s must be > 0 for every block")
        tsq = _checks.float_array(self.tracer_sq_A2, "tracer_sq_A2", (n, 3, 3))
        if np.any(np.diagonal(tsq, axis1=1, axis2=2) < 0.0):
            raise ConfigError("tracer_sq_A2 must have a non-negative diagonal")
        col = _checks.float_array(self.collective_A, "collective_A", (n, 3))
        jsq = _checks.float_array(self.jump_sq_A2, "jump_sq_A2", (n,))
        if np.any(jsq < 0.0):
            raise ConfigError("jump_sq_A2 must be >= 0 for every block")
        hops = _checks.owned(_checks.int_array(self.hops, "hops"), self.hops, np.int64)
        if hops.shape != (n,):
            raise ConfigError(f"hops must have shape ({n},), got {hops.shape}")
        if np.any(hops < 0):
            raise ConfigError("hops must be >= 0 for every block")
        for name, arr in zip(_BLOCK_FIELDS, (dur, tsq, col, jsq, hops), strict=True):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def n_blocks(self) -> int:
        """Number of blocks B."""
        return int(self.duration_s.shape[0])

    @property
    def total_time_s(self) -> float:
        """Summed block length in s."""
        return float(self.duration_s.sum())

    @classmethod
    def concatenate(cls, *parts: BlockData | Mapping[str, ArrayLike]) -> BlockData:
        """Append blocks: join several sets of blocks in the order given.

        Parameters
        ----------
        *parts : BlockData or mapping
            Sets of blocks. A mapping must hold the five field names of
            :class:`BlockData`, each with a leading block axis (it may hold a
            single block, e.g. ``duration_s`` of shape ``(1,)``), so blocks can
            be accumulated one at a time; only the joined result needs
            ``B >= 2``.

        Returns
        -------
        BlockData
            All blocks, validated.

        Raises
        ------
        ConfigError
            If no parts are given, a mapping lacks a field, or the result is
            invalid.
        """
        if not parts:
            raise ConfigError("concatenate needs at least one set of blocks")
        columns: dict[str, list[NDArray]] = {name: [] for name in _BLOCK_FIELDS}
        for k, part in enumerate(parts):
            for name in _BLOCK_FIELDS:
                if isinstance(part, BlockData):
                    value = getattr(part, name)
                elif isinstance(part, Mapping):
                    if name not in part:
                        raise ConfigError(f"part {k} of concatenate lacks {name!r}")
                    value = part[name]
                else:
                    raise ConfigError(
                        f"part {k} of concatenate must be BlockData or a mapping, "
                        f"got {type(part).__name__}"
                    )
                columns[name].append(np.asarray(value))
        joined = {}
        for name, arrs in columns.items():
            try:
                joined[name] = np.concatenate(arrs, axis=0)
            except ValueError as exc:
                raise ConfigError(f"cannot concatenate {name}: {exc}") from None
        return cls(**joined)


# --------------------------------------------------------------------------- #
# jackknife
# --------------------------------------------------------------------------- #
def _check_block_arrays(block_arrays: tuple[ArrayLike, ...]) -> list[NDArray]:
    if not block_arrays:
        raise ConfigError("jackknife needs at least one block array")
    arrays = [np.asarray(a, dtype=np.float64) for a in block_arrays]
    if any(a.ndim == 0 for a in arrays):
        raise ConfigError("block arrays must have a leading block axis")
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays):
        raise ConfigError(
            "block arrays must share the leading block axis, got lengths "
            f"{[a.shape[0] for a in arrays]}"
        )
    if n < 2:
        raise ConfigError(f"the jackknife needs at least 2 blocks, got {n}")
    return arrays


def _jackknife_spread(loo: NDArray) -> NDArray:
    """Delete-one jackknife standard error from the B leave-one-out values."""
    n = loo.shape[0]
    dev = loo - loo.mean(axis=0)
    return np.sqrt((n - 1) / n * np.sum(dev * dev, axis=0))


def _scalar_or_array(x: NDArray) -> float | NDArray:
    return float(x) if np.ndim(x) == 0 else x


def zero_field_drift(data: BlockData) -> tuple[NDArray[np.float64], float]:
    """The mean velocity of the ions' summed displacement and how far it is from zero.

    With the block displacements M_b of the summed ion displacement (Angstrom) over block
    durations T_b, M_b = V T_b + e_b with Var(e_b,k) = s_k^2 T_b for diffusive noise. The
    weighted estimate is V_k = sum_b M_b,k / sum_b T_b, its variance s_k^2 / sum_b T_b with
    s_k^2 = sum_b (M_b,k - V_k T_b)^2 / T_b / (B - 1).

    Without a field, a model whose rates obey detailed balance has V = 0 in expectation, and
    ``chi2 = sum_k (V_k / se_k)^2`` follows chi^2 with 3 degrees of freedom. A model that
    violates detailed balance (kMCpy's site term) can drive a steady current in a finite
    periodic cell whose disorder breaks inversion symmetry: then chi2 grows with the run.

    Parameters
    ----------
    data : BlockData

    Returns
    -------
    velocity_A_per_s : ndarray, shape (3,)
        V, the summed displacement per second, Angstrom/s (divide by the number of ions for
        the mean ion velocity).
    chi2 : float
        The drift's chi^2 against zero (0 where the displacement has no scatter).
    """
    T = np.asarray(data.duration_s, dtype=float)
    M = np.asarray(data.collective_A, dtype=float)
    v = M.sum(axis=0) / T.sum()
    resid = M - v[None, :] * T[:, None]
    s2 = (resid ** 2 / T[:, None]).sum(axis=0) / max(len(T) - 1, 1)
    se2 = s2 / T.sum()
    ok = se2 > 0
    chi2 = float(np.sum(v[ok] ** 2 / se2[ok]))
    return v, chi2


def single_origin_D_sigma_cm2_s(data: BlockData, n_ions: int, dimensionality: int = 3,
                                n_blocks: int | None = None) -> float:
    """The collective diffusivity from one time origin, as kMCpy computes it.

    ``D_J = |sum_b M_b|^2 / (2 d N t)`` over the first `n_blocks` blocks (all by default):
    the summed displacement since the start of production, squared, over 2 d N and the
    elapsed time (kMCpy's ``jump_diffusivity``; Deng et al., Nat. Commun. 13, 4470 (2022),
    plot this D and take sigma from it). For rates with detailed balance it estimates
    D_sigma without bias but with a relative error of order 1 (one sample of the summed
    displacement); kmc's block estimate (:func:`transport`) is the reliable one. With a
    zero-field drift V (:func:`zero_field_drift`) it grows with the run:
    ``D_J = D_sigma + |V|^2 t / (2 d N)``.

    Parameters
    ----------
    data : BlockData
    n_ions : int
        N, the number of mobile ions.
    dimensionality : int
        d (3 for a bulk crystal).
    n_blocks : int, optional
        Use the first `n_blocks` blocks (a shorter run from the same origin).

    Returns
    -------
    float
        D_J, cm^2/s.
    """
    n = _checks.integer(n_ions, "n_ions", lo=1)
    d = _checks.integer(dimensionality, "dimensionality", lo=1, hi=3)
    B = len(data.duration_s)
    nb = B if n_blocks is None else _checks.integer(n_blocks, "n_blocks", lo=1, hi=B)
    M = np.asarray(data.collective_A, dtype=float)[:nb].sum(axis=0)
    t = float(np.sum(data.duration_s[:nb]))
    return float(np.dot(M, M) / (2.0 * d * n * t) * A2_PER_S_TO_CM2_PER_S)


def jackknife(
    estimator: Callable[..., ArrayLike], *block_arrays: ArrayLike
) -> tuple[float | NDArray, float | NDArray]:
    """Delete-one jackknife estimate and standard error of any block estimator.

    Parameters
    ----------
    estimator : callable
        ``estimator(*arrays)`` maps block arrays (each with the leading block
        axis, e.g. shape ``(B,)`` or ``(B, 3)``) to a float (or an array of
        fixed shape). It is called ``B + 1`` times, on all blocks and with each
        block left out. For estimators that depend on the blocks only through
        their sums use the vectorised :func:`jackknife_sums`.
    *block_arrays : array_like
        Arrays sharing the leading block axis of length ``B >= 2``.

    Returns
    -------
    value : float or ndarray
        ``estimator`` on all blocks (not bias corrected).
    stderr : float or ndarray
        ``sqrt((B-1)/B * sum_b (theta_(b) - mean theta_(.))^2)`` where
        ``theta_(b)`` is ``estimator`` without block ``b``. nan if any
        leave-one-out value is nan.

    Raises
    ------
    ConfigError
        With no arrays, mismatched leading axes or fewer than 2 blocks.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 4.0, 7.0])
    >>> value, err = jackknife(np.mean, x)
    >>> bool(np.isclose(err, x.std(ddof=1) / 2.0))
    True
    """
    arrays = _check_block_arrays(block_arrays)
    n = arrays[0].shape[0]
    value = np.asarray(estimator(*arrays), dtype=np.float64)
    loo = np.empty((n,) + value.shape)
    keep = np.ones(n, dtype=bool)
    for b in range(n):
        keep[b] = False
        loo[b] = estimator(*(a[keep] for a in arrays))
        keep[b] = True
    return _scalar_or_array(value), _scalar_or_array(_jackknife_spread(loo))


def jackknife_sums(
    function: Callable[..., ArrayLike], *block_arrays: ArrayLike
) -> tuple[float | NDArray, float | NDArray]:
    """Vectorised delete-one jackknife of a function of block sums.

    For estimators of the form ``theta = function(sum_b X_b, sum_b Y_b, ...)``
    (ratios of sums, centred moments, ...) the ``B`` leave-one-out sums are
    ``sum - X_b``; ``function`` is evaluated on all of them in one call, so the
    cost is O(B) with no Python loop.

    Parameters
    ----------
    function : callable
        ``function(*sums)``: each argument is the sum over blocks of one block
        array, i.e. the block array without its leading axis, possibly with
        one extra leading batch axis. It must broadcast over that batch axis
        (index from the right: ``x[..., 0]``, ``np.trace(x, axis1=-2,
        axis2=-1)``) and return a float or an array per batch element.
    *block_arrays : array_like
        Arrays sharing the leading block axis of length ``B >= 2``.

    Returns
    -------
    value : float or ndarray
        ``function`` of the sums over all blocks (not bias corrected).
    stderr : float or ndarray
        The delete-one jackknife standard error (see :func:`jackknife`).

    Raises
    ------
    ConfigError
        With no arrays, mismatched leading axes or fewer than 2 blocks.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 4.0, 7.0])
    >>> ones = np.ones_like(x)
    >>> value, err = jackknife_sums(lambda s, n: s / n, x, ones)
    >>> bool(np.isclose(value, 3.5)), bool(np.isclose(err, x.std(ddof=1) / 2.0))
    (True, True)
    """
    arrays = _check_block_arrays(block_arrays)
    totals = [a.sum(axis=0) for a in arrays]
    loo_sums = [t[np.newaxis] - a for t, a in zip(totals, arrays, strict=True)]
    value = np.asarray(function(*totals), dtype=np.float64)
    loo = np.asarray(function(*loo_sums), dtype=np.float64)
    n = arrays[0].shape[0]
    if loo.shape != (n,) + value.shape:
        raise ConfigError(
            "function must broadcast over a leading batch axis: got shape "
            f"{loo.shape} for {n} leave-one-out sums, expected {(n,) + value.shape}"
        )
    return _scalar_or_array(value), _scalar_or_array(_jackknife_spread(loo))


# --------------------------------------------------------------------------- #
# closed forms
# --------------------------------------------------------------------------- #
def random_walk_D_cm2_s(
    rate_per_hop_Hz: ArrayLike, hop_lengths_A: ArrayLike, dimensionality: int
) -> float:
    """Diffusion coefficient of a single uncorrelated random walker.

    ``D0 = sum_k Gamma_k l_k^2 / (2 d)`` over the hops ``k`` out of a site; on
    a regular lattice with ``z`` hops of length ``a`` and rate ``Gamma`` this
    is ``z Gamma a^2 / (2 d)``.

    Parameters
    ----------
    rate_per_hop_Hz : float or array_like, shape (K,)
        Rate of each hop out of the site in Hz (1/s), >= 0; a scalar applies
        to every hop.
    hop_lengths_A : array_like, shape (K,) or (K, 3)
        Hop lengths in Angstrom (>= 0), or hop displacement vectors in
        Angstrom (their norms are used).
    dimensionality : int
        Dimensionality d of transport: 1, 2 or 3.

    Returns
    -------
    float
        D0 in cm^2/s.

    Raises
    ------
    ConfigError
        On negative or non-finite rates or lengths, shapes that do not match,
        or a dimensionality other than 1, 2 or 3.

    Examples
    --------
    Simple cubic, a = 2 Angstrom, 6 hops at 1e9 Hz: D0 = Gamma a^2 = 4e-7 cm^2/s.

    >>> random_walk_D_cm2_s(1e9, [2.0] * 6, 3)
    4e-07
    """
    d = _dimensionality(dimensionality, allow_zero=False)
    try:
        lengths = np.asarray(hop_lengths_A, dtype=np.float64)
        rates = np.asarray(rate_per_hop_Hz, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"rates and hop lengths must be real arrays: {exc}") from None
    if lengths.ndim == 2 and lengths.shape[1] == 3:
        lengths = np.linalg.norm(lengths, axis=1)
    elif lengths.ndim != 1:
        raise ConfigError(
            f"hop_lengths_A must have shape (K,) or (K, 3), got {lengths.shape}"
        )
    if rates.ndim > 1 or (rates.ndim == 1 and rates.shape != lengths.shape):
        raise ConfigError(
            f"rate_per_hop_Hz must be a scalar or have shape {lengths.shape}, "
            f"got {rates.shape}"
        )
    if not (np.all(np.isfinite(lengths)) and np.all(lengths >= 0.0)):
        raise ConfigError("hop_lengths_A must be finite and >= 0")
    if not (np.all(np.isfinite(rates)) and np.all(rates >= 0.0)):
        raise ConfigError("rate_per_hop_Hz must be finite and >= 0")
    d0_A2_s = float(np.sum(rates * lengths**2)) / (2.0 * d)
    return d0_A2_s * A2_PER_S_TO_CM2_PER_S


def nernst_einstein_S_cm(
    n_ions: float,
    volume_A3: float,
    charge_e: float,
    D_cm2_s: ArrayLike,
    temperature_K: float,
) -> float | NDArray:
    """Nernst-Einstein conductivity ``sigma = (N/V) q^2 D / (kB T)``.

    Parameters
    ----------
    n_ions : float
        Number of mobile ions N in the volume, > 0.
    volume_A3 : float
        Volume V in Angstrom^3, > 0.
    charge_e : float
        Ion charge q in units of the elementary charge e, nonzero.
    D_cm2_s : float or array_like
        Diffusion coefficient (scalar or tensor) in cm^2/s; use the collective
        D_sigma for the conductivity (or D* / H_R).
    temperature_K : float
        Temperature T in K, > 0.

    Returns
    -------
    float or ndarray
        sigma in S/cm, with the shape of ``D_cm2_s``.

    Raises
    ------
    ConfigError
        On a non-positive or non-finite N, V or T, or a zero charge.

    Examples
    --------
    n = 1e22 cm^-3 (10 ions in 1000 Angstrom^3), D = 1e-8 cm^2/s, 300 K:

    >>> round(nernst_einstein_S_cm(10, 1000.0, 1.0, 1e-8, 300.0), 10)
    0.0006197496
    """
    n = _checks.real(n_ions, "n_ions", lo=0.0, lo_open=True)
    v = _checks.real(volume_A3, "volume_A3", lo=0.0, lo_open=True)
    q = _nonzero_float("charge_e", charge_e)
    t = _checks.real(temperature_K, "temperature_K", lo=0.0, lo_open=True)
    n_cm3 = n / v * PER_A3_TO_PER_CM3
    factor = n_cm3 * (q * E_CHARGE_C) ** 2 / (KB_J_PER_K * t)
    return _scalar_or_array(factor * np.asarray(D_cm2_s, dtype=np.float64))


# --------------------------------------------------------------------------- #
# transport
# --------------------------------------------------------------------------- #
def _nan_to_none(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return _nan_to_none(x.tolist())
    if isinstance(x, (list, tuple)):
        return [_nan_to_none(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (numbers.Integral,)):
        return int(x)
    if isinstance(x, numbers.Real):
        xf = float(x)
        return xf if math.isfinite(xf) else None
    return x


_NAN33 = np.full((3, 3), np.nan)
_NAN3 = np.full(3, np.nan)


@dataclass(frozen=True, eq=False)
class TransportEstimate:
    """Transport coefficients of one run, each with its standard error.

    Every ``*_err`` field is the delete-one jackknife standard error over the
    blocks of the field it twins. Scalars that cannot be formed (no field, a
    zero denominator) are nan.

    Attributes
    ----------
    D_tracer_cm2_s, D_tracer_cm2_s_err : float
        Tracer diffusion coefficient D* = tr(sum S) / (2 d N sum T), cm^2/s.
    D_tracer_tensor_cm2_s, D_tracer_tensor_cm2_s_err : ndarray, shape (3, 3)
        sum S / (2 N sum T), cm^2/s.
    D_sigma_cm2_s, D_sigma_cm2_s_err : float
        Collective (charge) diffusion coefficient
        sum |M_b|^2 / (2 d N sum T), cm^2/s.
    D_sigma_tensor_cm2_s, D_sigma_tensor_cm2_s_err : ndarray, shape (3, 3)
        sum M_b M_b^T / (2 N sum T), cm^2/s.
    correlation_factor, correlation_factor_err : float
        Tracer correlation factor f = tr(sum S) / sum J (dimensionless).
    haven_ratio, haven_ratio_err : float
        H_R = D* / D_sigma (dimensionless); nan if D_sigma is 0.
    sigma_S_cm, sigma_S_cm_err : float
        Nernst-Einstein conductivity (N/V) q^2 D_sigma / (kB T), S/cm.
    sigma_tensor_S_cm, sigma_tensor_S_cm_err : ndarray, shape (3, 3)
        The same from the D_sigma tensor, S/cm.
    drift_velocity_cm_s, drift_velocity_cm_s_err : ndarray, shape (3,)
        Mean ion velocity sum M / (N sum T), cm/s; nan without a field.
    sigma_drift_S_cm, sigma_drift_S_cm_err : float
        n q (v . E_hat) / |E|, S/cm; nan without a field.
    hops_per_ion_per_block : float
        Mean number of hops per ion per block.
    n_blocks : int
        Number of blocks B.
    total_time_s : float
        Summed block length, s.
    n_ions : int
        Number of mobile ions N.
    volume_A3 : float
        Volume V, Angstrom^3.
    temperature_K : float
        Temperature T, K.
    charge_e : float
        Ion charge q, e.
    dimensionality : int
        The d used in the scalar formulas.
    field_V_per_angstrom : tuple of 3 floats or None
        The applied field, V/Angstrom.
    warnings : tuple of str
        Caveats about the estimates.
    linear_response_parameter : float
        x = |q| |E| a / (kB T) of the field (dimensionless); nan without a field. Above
        :data:`kmc.constants.MAX_LINEAR_RESPONSE_PARAMETER` the estimates carry a warning.
    jump_length_A : float
        The mean jump length a in x, Angstrom: the one given to :func:`transport`
        (:class:`kmc.Simulation` gives its network's rms hop length), else the rms length of
        the jumps made; nan without a field (or without jumps).
    """

    D_tracer_cm2_s: float
    D_tracer_cm2_s_err: float
    D_tracer_tensor_cm2_s: NDArray[np.float64]
    D_tracer_tensor_cm2_s_err: NDArray[np.float64]
    D_sigma_cm2_s: float
    D_sigma_cm2_s_err: float
    D_sigma_tensor_cm2_s: NDArray[np.float64]
    D_sigma_tensor_cm2_s_err: NDArray[np.float64]
    correlation_factor: float
    correlation_factor_err: float
    haven_ratio: float
    haven_ratio_err: float
    sigma_S_cm: float
    sigma_S_cm_err: float
    sigma_tensor_S_cm: NDArray[np.float64]
    sigma_tensor_S_cm_err: NDArray[np.float64]
    drift_velocity_cm_s: NDArray[np.float64]
    drift_velocity_cm_s_err: NDArray[np.float64]
    sigma_drift_S_cm: float
    sigma_drift_S_cm_err: float
    hops_per_ion_per_block: float
    n_blocks: int
    total_time_s: float
    n_ions: int
    volume_A3: float
    temperature_K: float
    charge_e: float
    dimensionality: int
    field_V_per_angstrom: tuple[float, float, float] | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    linear_response_parameter: float = math.nan
    jump_length_A: float = math.nan
    estimator: str = "blocks"
    diffusive: bool = True
    regime: str = ""
    fit_range_s: tuple[float, float] | None = None
    alpha_tracer: float = math.nan
    alpha_tracer_err: float = math.nan
    alpha_collective: float = math.nan
    alpha_collective_err: float = math.nan
    D_tracer_cm2_s_upper: float = math.nan
    D_sigma_cm2_s_upper: float = math.nan
    sigma_S_cm_upper: float = math.nan
    rate_limiting_hops: int | None = None
    D_tracer_blocks_cm2_s: float = math.nan
    D_tracer_blocks_cm2_s_err: float = math.nan
    D_sigma_blocks_cm2_s: float = math.nan
    D_sigma_blocks_cm2_s_err: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict: floats, nested lists for arrays, nan -> None."""
        return {name: _nan_to_none(getattr(self, name)) for name in self.__dataclass_fields__}


def _moments(
    n_ions: int,
    centre: bool,
    s_sum: NDArray,
    m_sum: NDArray,
    mm_sum: NDArray,
    mt_sum: NDArray,
    t_sum: NDArray,
    t2_sum: NDArray,
) -> tuple[NDArray, NDArray]:
    """Summed tracer and collective second moments, optionally about the drift.

    Arguments are block sums, each possibly with a leading batch axis.
    Returns ``(sum_b S_b, sum_b M_b M_b^T)`` in Angstrom^2, centred about the
    per-ion drift ``u = sum M / (N sum T)`` when ``centre``.
    """
    if not centre:
        return s_sum, mm_sum
    u = m_sum / (n_ions * t_sum)[..., np.newaxis]  # per-ion drift velocity
    uu = u[..., :, np.newaxis] * u[..., np.newaxis, :]
    cross = mt_sum[..., :, np.newaxis] * u[..., np.newaxis, :]  # (sum T M) u^T
    cross = cross + np.swapaxes(cross, -1, -2)
    t2 = t2_sum[..., np.newaxis, np.newaxis]
    s_c = s_sum - cross + n_ions * t2 * uu
    mm_c = mm_sum - n_ions * cross + n_ions**2 * t2 * uu
    return s_c, mm_c


def transport(
    blocks: BlockData,
    *,
    n_ions: int,
    volume_A3: float,
    temperature_K: float,
    charge_e: float,
    dimensionality: int,
    field_V_per_angstrom: ArrayLike | None = None,
    jump_length_A: float | None = None,
    fit: Any = None,
    rate_limiting_hops: int | None = None,
) -> TransportEstimate:
    """Diffusion coefficients, Haven ratio and conductivity from block moments, or from the
    fit of the lag-time mean-squared displacement (`fit`, :func:`kmc.msd.fit_diffusion`).

    With block lengths T_b, tracer moments S_b = sum_i dr_i dr_i^T, collective
    displacements M_b = sum_i dr_i and jump sums J_b (see :class:`BlockData`)::

        D*       = tr(sum S) / (2 d N sum T)      tensor: sum S / (2 N sum T)
        D_sigma  = sum |M_b|^2 / (2 d N sum T)    tensor: sum M M^T / (2 N sum T)
        f        = tr(sum S) / sum J
        H_R      = D* / D_sigma
        sigma    = (N/V) q^2 D_sigma / (kB T)     (Nernst-Einstein)

    Under a field E the mean ion velocity v = sum M / (N sum T) gives
    sigma_drift = n q (v . E_hat) / |E|, and the second moments are taken
    about the drift (M_b -> M_b - N v T_b, dr_i -> dr_i - v T_b) so that the
    drift does not inflate D* or D_sigma; the drift is re-estimated in every
    jackknife sample. Without a field nothing is centred.

    Parameters
    ----------
    blocks : BlockData
        Per-block moments of the production run.
    n_ions : int
        Number of mobile ions N, > 0.
    volume_A3 : float
        Simulation cell volume V in Angstrom^3, > 0.
    temperature_K : float
        Temperature T in K, > 0.
    charge_e : float
        Charge q of the mobile ions in e, nonzero.
    dimensionality : int
        Dimensionality d of transport (1, 2 or 3) used in the scalar D
        formulas; 0 (e.g. none detected) falls back to 3 with a warning.
    field_V_per_angstrom : array_like, shape (3,), optional
        The applied electric field in V/Angstrom, nonzero; None for no field.
    jump_length_A : float, optional
        The mean jump length a of the linear-response parameter
        ``x = |q| |E| a / (kB T)``, Angstrom (> 0); default: the rms length of the jumps
        made, ``sqrt(sum J / hops)``. Above x =
        :data:`~kmc.constants.MAX_LINEAR_RESPONSE_PARAMETER` the field gets a warning.
    fit : DiffusionFit, optional
        The fit of the same production's mean-squared displacement over lag times
        (:func:`kmc.msd.fit_diffusion`). With it, D*, D_sigma and their tensors (with the
        fit's standard errors) come from the fit; f = 2 d D* / (sum J / (N sum T)),
        H_R = D* / D_sigma and sigma follow from them (errors propagated as independent);
        the block values stay as diagnostics (``D_tracer_blocks_cm2_s``, ...). When the fit
        finds no diffusive regime, the coefficients are nan (null in JSON) and their upper
        bounds are given (``D_tracer_cm2_s_upper``, ``sigma_S_cm_upper``, ...).
    rate_limiting_hops : int, optional
        How often the rate-limiting hop type fired (what the fit was given), recorded.

    Returns
    -------
    TransportEstimate
        D in cm^2/s, sigma in S/cm, velocity in cm/s, each with a delete-one
        jackknife standard error over the blocks.

    Raises
    ------
    ConfigError
        On invalid inputs (n_ions <= 0, volume or temperature <= 0 or not
        finite, zero charge, dimensionality not in 0..3, a field that is not a
        finite nonzero 3-vector, blocks that are not BlockData).
    """
    if not isinstance(blocks, BlockData):
        raise ConfigError(f"blocks must be BlockData, got {type(blocks).__name__}")
    n = _checks.integer(n_ions, "n_ions", lo=1)
    vol = _checks.real(volume_A3, "volume_A3", lo=0.0, lo_open=True)
    temp = _checks.real(temperature_K, "temperature_K", lo=0.0, lo_open=True)
    q = _nonzero_float("charge_e", charge_e)
    d = _dimensionality(dimensionality, allow_zero=True)
    warnings: list[str] = []
    if d == 0:
        d = 3
        warnings.append(
            "dimensionality 0 (no transport direction detected); using d = 3 in the "
            "scalar D formulas"
        )
    e_vec: NDArray | None = None
    if field_V_per_angstrom is not None:
        e_vec = _checks.float_array(field_V_per_angstrom, "field_V_per_angstrom", (3,))
        if not np.any(e_vec != 0.0):
            raise ConfigError("field_V_per_angstrom must be nonzero (use None for no field)")
    centre = e_vec is not None
    jump_A = None if jump_length_A is None else _checks.real(
        jump_length_A, "jump_length_A", lo=0.0, lo_open=True)

    t = blocks.duration_s
    s = blocks.tracer_sq_A2
    m = blocks.collective_A
    j = blocks.jump_sq_A2
    b = blocks.n_blocks
    t_total = float(t.sum())

    if centre:
        # Centre about the full-run drift first: the moments are invariant under
        # this shift (the jackknife re-centres about its own drift), and it keeps
        # the leave-one-out sums free of cancellation when the drift is large.
        u0 = m.sum(axis=0) / (n * t_total)  # per-ion drift, Angstrom/s
        cross0 = (t[:, None] * m)[:, :, None] * u0[None, None, :]  # T_b M_b u0^T
        uu0 = np.outer(u0, u0)[None]
        s = s - (cross0 + np.swapaxes(cross0, 1, 2)) + n * (t * t)[:, None, None] * uu0
        m = m - n * t[:, None] * u0[None, :]
    block_arrays = (s, m, m[:, :, None] * m[:, None, :], m * t[:, None], t, t * t, j)

    def moments(s_, m_, mm_, mt_, t_, t2_):  # type: ignore[no-untyped-def]
        return _moments(n, centre, s_, m_, mm_, mt_, t_, t2_)

    tensor_scale = A2_PER_S_TO_CM2_PER_S / (2.0 * n)
    scalar_scale = A2_PER_S_TO_CM2_PER_S / (2.0 * d * n)

    def f_tracer_tensor(s_, m_, mm_, mt_, t_, t2_, j_):  # type: ignore[no-untyped-def]
        sc, _ = moments(s_, m_, mm_, mt_, t_, t2_)
        return sc / t_[..., None, None] * tensor_scale

    def f_sigma_tensor(s_, m_, mm_, mt_, t_, t2_, j_):  # type: ignore[no-untyped-def]
        _, mmc = moments(s_, m_, mm_, mt_, t_, t2_)
        return mmc / t_[..., None, None] * tensor_scale

    def f_scalars(s_, m_, mm_, mt_, t_, t2_, j_):  # type: ignore[no-untyped-def]
        sc, mmc = moments(s_, m_, mm_, mt_, t_, t2_)
        tr_s = np.trace(sc, axis1=-2, axis2=-1)
        tr_m = np.trace(mmc, axis1=-2, axis2=-1)
        d_tr = tr_s / t_ * scalar_scale
        d_sig = tr_m / t_ * scalar_scale
        f = _safe_div(tr_s, j_)
        h = _safe_div(d_tr, d_sig)
        return np.stack([d_tr, d_sig, f, h], axis=-1)

    dt_tensor, dt_tensor_err = jackknife_sums(f_tracer_tensor, *block_arrays)
    ds_tensor, ds_tensor_err = jackknife_sums(f_sigma_tensor, *block_arrays)
    scal, scal_err = jackknife_sums(f_scalars, *block_arrays)
    scal = np.asarray(scal)
    scal_err = np.asarray(scal_err)

    ne = nernst_einstein_S_cm(n, vol, q, 1.0, temp)  # S/cm per cm^2/s
    ds_tensor = np.asarray(ds_tensor)
    ds_tensor_err = np.asarray(ds_tensor_err)

    hops_per_ion = float(blocks.hops.sum()) / (b * n)
    if hops_per_ion < MIN_HOPS_PER_ION_PER_BLOCK:
        warnings.append(
            f"tracer estimates from blocks with only {hops_per_ion:.3g} hops per ion may be "
            "biased (block-edge correlation loss); use more steps or fewer blocks"
        )
    if b < MIN_BLOCKS:
        warnings.append(
            f"few blocks ({b} < {MIN_BLOCKS}): D_sigma error bar is itself uncertain"
        )

    v_cm_s, v_cm_s_err = _NAN3.copy(), _NAN3.copy()
    sig_drift, sig_drift_err = math.nan, math.nan
    if e_vec is not None:
        m_raw = blocks.collective_A
        e_norm = float(np.linalg.norm(e_vec))
        e_hat = e_vec / e_norm
        n_cm3 = n / vol * PER_A3_TO_PER_CM3
        drift_factor = n_cm3 * q * E_CHARGE_C / (e_norm * V_PER_A_TO_V_PER_CM)

        def f_velocity(m_, t_):  # type: ignore[no-untyped-def]
            return m_ / (n * t_[..., None]) * A_PER_S_TO_CM_PER_S

        def f_sigma_drift(m_, t_):  # type: ignore[no-untyped-def]
            return drift_factor * (f_velocity(m_, t_) @ e_hat)

        v_cm_s, v_cm_s_err = (np.asarray(x) for x in jackknife_sums(f_velocity, m_raw, t))
        sig_drift, sig_drift_err = (float(x) for x in jackknife_sums(f_sigma_drift, m_raw, t))

    x = math.nan
    if e_vec is None:
        jump_A = math.nan
    elif jump_A is None:
        jumps = float(blocks.hops.sum())
        jump_A = math.sqrt(float(j.sum()) / jumps) if jumps > 0 else math.nan
    if e_vec is not None and math.isfinite(jump_A):
        x = abs(q) * float(np.linalg.norm(e_vec)) * jump_A / (KB_EV_PER_K * temp)
        if x > MAX_LINEAR_RESPONSE_PARAMETER:
            warnings.append(
                f"field may be outside linear response: q |E| a / kB T = {x:.3g} "
                f"(> {MAX_LINEAR_RESPONSE_PARAMETER}) for the mean jump length "
                f"a = {jump_A:.3g} Angstrom"
            )

    est = TransportEstimate(
        D_tracer_cm2_s=float(scal[0]),
        D_tracer_cm2_s_err=float(scal_err[0]),
        D_tracer_tensor_cm2_s=np.asarray(dt_tensor),
        D_tracer_tensor_cm2_s_err=np.asarray(dt_tensor_err),
        D_sigma_cm2_s=float(scal[1]),
        D_sigma_cm2_s_err=float(scal_err[1]),
        D_sigma_tensor_cm2_s=ds_tensor,
        D_sigma_tensor_cm2_s_err=ds_tensor_err,
        correlation_factor=float(scal[2]),
        correlation_factor_err=float(scal_err[2]),
        haven_ratio=float(scal[3]),
        haven_ratio_err=float(scal_err[3]),
        sigma_S_cm=float(ne * scal[1]),
        sigma_S_cm_err=float(ne * scal_err[1]),
        sigma_tensor_S_cm=ne * ds_tensor,
        sigma_tensor_S_cm_err=ne * ds_tensor_err,
        drift_velocity_cm_s=v_cm_s,
        drift_velocity_cm_s_err=v_cm_s_err,
        sigma_drift_S_cm=sig_drift,
        sigma_drift_S_cm_err=sig_drift_err,
        hops_per_ion_per_block=hops_per_ion,
        n_blocks=b,
        total_time_s=t_total,
        n_ions=n,
        volume_A3=vol,
        temperature_K=temp,
        charge_e=q,
        dimensionality=d,
        field_V_per_angstrom=None if e_vec is None else tuple(float(x) for x in e_vec),
        warnings=tuple(warnings),
        linear_response_parameter=x,
        jump_length_A=jump_A,
    )
    if fit is None:
        return est
    est = dataclasses.replace(est, rate_limiting_hops=rate_limiting_hops)
    return _from_fit(est, fit, jump_sq_rate_A2_s=float(j.sum()) / (n * t_total),
                     ne_S_cm_per_cm2_s=float(ne), field_warnings=tuple(
                         w for w in warnings if w.startswith("field")))


def _from_fit(est: TransportEstimate, fit: Any, *, jump_sq_rate_A2_s: float,
              ne_S_cm_per_cm2_s: float, field_warnings: tuple[str, ...]) -> TransportEstimate:
    """The estimate with D*, D_sigma, f, H_R and sigma from the lag-time MSD fit (the block
    values kept as diagnostics)."""
    d = est.dimensionality
    ne = ne_S_cm_per_cm2_s
    dt, dt_e = float(fit.D_tracer_cm2_s), float(fit.D_tracer_cm2_s_err)
    ds, ds_e = float(fit.D_sigma_cm2_s), float(fit.D_sigma_cm2_s_err)
    # f = <r^2> / (sum of squared jumps): 2 d D* over the squared-jump rate per ion
    f = 2 * d * (dt / A2_PER_S_TO_CM2_PER_S) / jump_sq_rate_A2_s if jump_sq_rate_A2_s > 0 \
        else math.nan
    f_e = abs(f) * dt_e / dt if dt else math.nan
    h = dt / ds if ds else math.nan
    h_e = abs(h) * math.hypot(dt_e / dt if dt else math.nan, ds_e / ds if ds else math.nan)
    nan3 = np.full((3, 3), np.nan)
    warnings = list(field_warnings)
    upper = {}
    if not fit.diffusive:
        warnings.insert(0, f"no transport coefficient: {fit.regime}; the D and sigma given "
                           "are upper bounds (*_upper)")
        upper = dict(D_tracer_cm2_s_upper=float(fit.D_tracer_upper_cm2_s),
                     D_sigma_cm2_s_upper=float(fit.D_sigma_upper_cm2_s),
                     sigma_S_cm_upper=float(ne * fit.D_sigma_upper_cm2_s))
        dt = dt_e = ds = ds_e = f = f_e = h = h_e = math.nan
    ok = fit.diffusive
    return dataclasses.replace(
        est,
        D_tracer_cm2_s=dt, D_tracer_cm2_s_err=dt_e,
        D_tracer_tensor_cm2_s=np.asarray(fit.D_tracer_tensor_cm2_s) if ok else nan3,
        D_tracer_tensor_cm2_s_err=np.asarray(fit.D_tracer_tensor_cm2_s_err) if ok else nan3,
        D_sigma_cm2_s=ds, D_sigma_cm2_s_err=ds_e,
        D_sigma_tensor_cm2_s=np.asarray(fit.D_sigma_tensor_cm2_s) if ok else nan3,
        D_sigma_tensor_cm2_s_err=np.asarray(fit.D_sigma_tensor_cm2_s_err) if ok else nan3,
        correlation_factor=f, correlation_factor_err=f_e, haven_ratio=h, haven_ratio_err=h_e,
        sigma_S_cm=ne * ds, sigma_S_cm_err=ne * ds_e,
        sigma_tensor_S_cm=ne * (np.asarray(fit.D_sigma_tensor_cm2_s) if ok else nan3),
        sigma_tensor_S_cm_err=ne * (np.asarray(fit.D_sigma_tensor_cm2_s_err) if ok else nan3),
        warnings=tuple(warnings), estimator="lag_msd", diffusive=bool(fit.diffusive),
        regime=str(fit.regime), fit_range_s=tuple(float(x) for x in fit.fit_range_s),
        alpha_tracer=float(fit.alpha_tracer), alpha_tracer_err=float(fit.alpha_tracer_err),
        alpha_collective=float(fit.alpha_collective),
        alpha_collective_err=float(fit.alpha_collective_err),
        D_tracer_blocks_cm2_s=est.D_tracer_cm2_s,
        D_tracer_blocks_cm2_s_err=est.D_tracer_cm2_s_err,
        D_sigma_blocks_cm2_s=est.D_sigma_cm2_s, D_sigma_blocks_cm2_s_err=est.D_sigma_cm2_s_err,
        **upper)
