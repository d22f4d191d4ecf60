"""Arrhenius fits of conductivities and diffusivities over temperature.

:func:`fit_arrhenius` fits ``sigma T = A exp(-Ea/(kB T))`` (quantity ``"sigma"``; the
Nernst-Einstein sigma carries a 1/T) or ``D = D0 exp(-Ea/(kB T))`` (quantity ``"D"``) by
weighted least squares and extrapolates to a reference temperature with an error from the
full covariance of ``(ln A, Ea)``. :func:`combine_replicas` merges replica runs of one
state point; :func:`plot_arrhenius` and :func:`plot_msd` write figures, or give the
matplotlib Figure back when no path is given (matplotlib is imported only when plotting).

Units: T in K, Ea in eV, sigma in S/cm, A in S K/cm, D and D0 in cm^2/s,
MSD in Angstrom^2, time in s.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import chdtrc as _chi2_sf  # == scipy.stats.chi2.sf(chi2, dof), faster

from . import _checks
from .constants import KB_EV_PER_K
from .errors import ConfigError

__all__ = ["ArrheniusFit", "K_B_EV_PER_K", "combine_replicas", "fit_arrhenius",
           "plot_arrhenius", "plot_msd", "format_with_error"]

#: Boltzmann constant in eV/K.
K_B_EV_PER_K = KB_EV_PER_K  # the one k_B (kmc.constants); this name kept for callers
#: cm^2/s -> Angstrom^2/s
CM2_TO_A2 = 1e16
_QUANTITIES = ("sigma", "D")
_PLOT_EXTENSIONS = (".png", ".pdf", ".svg")


# ---- helpers -------------------------------------------------------------------------
def _array_1d(name: str, value: ArrayLike, *, positive: bool, min_len: int = 1) -> NDArray:
    """Read-only finite 1-D float copy of ``value`` (and ``> 0`` if ``positive``)."""
    arr = _checks.float_array(value, name, (None,), positive=positive)
    if arr.size < min_len:
        raise ConfigError(f"{name} needs at least {min_len} points, got {arr.size}")
    arr.setflags(write=False)
    return arr


def _same_length(**arrays: NDArray) -> None:
    lengths = {k: v.size for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"array lengths differ: {lengths}")


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return _nan_to_none(x.tolist())
    if isinstance(x, (list, tuple)):
        return [_nan_to_none(v) for v in x]
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        return float(x) if math.isfinite(x) else None
    return x


def format_with_error(value: float, err: float) -> str:
    """``"value +/- err"`` with the error to two significant digits and the value to the
    same decimal place, e.g. ``"0.2987 +/- 0.0042"``.

    A tiny error keeps its two digits (``"0.298700 +/- 4.2e-05"``), never
    ``"+/- 0.000"``; a zero or non-finite error is printed as it is (``"0.3 +/- 0"``) with
    the value to 4 digits.

    Parameters
    ----------
    value, err : float
        A value and its standard error (same unit).

    Returns
    -------
    str
    """
    v, e = float(value), abs(float(err))
    if not (math.isfinite(v) and math.isfinite(e) and e > 0):
        return f"{v:.4g} +/- {e:g}"
    e_exp = math.floor(math.log10(e))
    e_text = f"{e:#.2g}".rstrip(".")
    if v == 0:
        return f"0 +/- {e_text}"
    sig = max(1, math.floor(math.log10(abs(v))) - e_exp + 2)
    return f"{v:#.{sig}g}".rstrip(".") + f" +/- {e_text}"


def _predict(quantity: str, ln_a: float, Ea: float, cov: NDArray, T_K: ArrayLike) -> tuple:
    T = np.asarray(T_K, dtype=np.float64)
    bad = ~(np.isfinite(T) & (T > 0.0))
    if bad.any():
        raise ConfigError(f"T_K must be finite and > 0, got {T[bad].flat[0]}")
    x = 1.0 / (K_B_EV_PER_K * T)
    ln_v = ln_a - Ea * x - (np.log(T) if quantity == "sigma" else 0.0)
    var = cov[0, 0] - 2.0 * x * cov[0, 1] + x * x * cov[1, 1]  # J C J^T, J = (1, -x)
    value = np.exp(ln_v)
    err = value * np.sqrt(np.maximum(var, 0.0))
    return (float(value), float(err)) if T.ndim == 0 else (value, err)


# ---- fit -----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ArrheniusFit:
    """Result of :func:`fit_arrhenius`.

    Attributes
    ----------
    quantity : {"sigma", "D"}
        ``"sigma"``: ``sigma T = A exp(-Ea/(kB T))``, A in S K/cm;
        ``"D"``: ``D = D0 exp(-Ea/(kB T))``, D0 in cm^2/s.
    Ea_eV, Ea_err_eV : float
        Activation energy and its standard error, eV.
    prefactor, prefactor_err : float
        A (or D0) and its first-order error ``A * ln_prefactor_err``.
    ln_prefactor, ln_prefactor_err : float
        ln A (or ln D0) and its standard error.
    covariance, covariance_scale : ndarray, shape (2, 2); float
        Covariance of ``(ln A, Ea)``, already multiplied by ``covariance_scale`` =
        ``max(1, reduced_chi2)`` (squared Birge ratio; 1 when dof = 0).
    n_points, dof : int
        Number of points and ``n_points - 2``.
    chi2, reduced_chi2, p_value : float
        Weighted residual sum of squares, ``chi2/dof`` and ``P(chi2_dof > chi2)``
        (the last two nan when dof = 0).
    T_ref_K, value_ref, value_ref_err : float
        Reference temperature (K) and the fitted sigma (S/cm) or D (cm^2/s) there.
    temperatures_K, values, errors : ndarray
        The input data (read-only copies).
    """

    quantity: str
    Ea_eV: float
    Ea_err_eV: float
    prefactor: float
    prefactor_err: float
    ln_prefactor: float
    ln_prefactor_err: float
    covariance: NDArray[np.float64]
    covariance_scale: float
    n_points: int
    chi2: float
    dof: int
    reduced_chi2: float
    p_value: float
    T_ref_K: float
    value_ref: float
    value_ref_err: float
    temperatures_K: NDArray[np.float64]
    values: NDArray[np.float64]
    errors: NDArray[np.float64]

    def predict(self, T_K: ArrayLike) -> tuple[Any, Any]:
        """Fitted value and its standard error at temperatures ``T_K`` (K, > 0).

        Returns
        -------
        value, err : float or ndarray (shape of ``T_K``)
            sigma in S/cm (``A/T exp(-Ea/(kB T))``) or D in cm^2/s, and the first-order
            error ``value * sqrt(J C J^T)``, ``J = d ln(value)/d(ln A, Ea) = (1, -1/(kB T))``.
        """
        return _predict(self.quantity, self.ln_prefactor, self.Ea_eV, self.covariance, T_K)

    def _json_names(self) -> dict[str, str]:
        """Attribute -> JSON key, for the attributes whose key is not their name."""
        tag = "300K" if self.T_ref_K == 300.0 else "ref"
        if self.quantity == "sigma":
            pre, ref, data = "prefactor_S_K_cm", f"sigma_{tag}_S_cm", "sigma_S_cm"
        else:
            pre, ref, data = "D0_cm2_s", f"D_{tag}_cm2_s", "D_cm2_s"
        return {"Ea_err_eV": "Ea_eV_err", "prefactor": pre, "prefactor_err": pre + "_err",
                "value_ref": ref, "value_ref_err": ref + "_err", "values": data,
                "errors": data + "_err"}

    def deprecated_keys(self) -> dict[str, str]:
        """The old JSON keys that :meth:`to_dict` still writes this version, each with the
        key that replaces it (old -> new). They go in the next version.

        The old keys put ``_err`` before the unit and spelled S/cm in the prefactor's unit
        as ``per_cm``; the data were ``values`` and ``errors`` without a unit.
        """
        tag = "300K" if self.T_ref_K == 300.0 else "ref"
        if self.quantity == "sigma":
            old = {"prefactor": "prefactor_S_K_per_cm",
                   "prefactor_err": "prefactor_err_S_K_per_cm",
                   "value_ref_err": f"sigma_{tag}_err_S_cm"}
        else:
            old = {"prefactor_err": "D0_err_cm2_s", "value_ref_err": f"D_{tag}_err_cm2_s"}
        old.update(Ea_err_eV="Ea_err_eV", values="values", errors="errors")
        names = self._json_names()
        return {key: names[attr] for attr, key in old.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (nan -> None, arrays -> lists) with unit-named keys.

        Every key is ``<quantity>_<unit>`` with its error twin ``<quantity>_<unit>_err``
        (the vocabulary of ``kmc run --json``).

        Returns
        -------
        dict
            ``Ea_eV``, ``Ea_eV_err``; ``"sigma"``: ``prefactor_S_K_cm`` (A, S K/cm),
            ``prefactor_S_K_cm_err``, ``sigma_300K_S_cm``, ``sigma_300K_S_cm_err``
            (``sigma_ref_S_cm``, ``sigma_ref_S_cm_err`` if ``T_ref_K != 300``) and the data
            ``sigma_S_cm``, ``sigma_S_cm_err``; ``"D"``: ``D0_cm2_s``, ``D0_cm2_s_err``,
            ``D_300K_cm2_s``, ``D_300K_cm2_s_err`` (or ``D_ref_*``), ``D_cm2_s``,
            ``D_cm2_s_err``; and always ``T_ref_K``, ``temperatures_K`` and the other
            attributes under their own names. Deprecated: the old keys of
            :meth:`deprecated_keys` are written beside the new ones with the same values,
            for this version only.
        """
        names = self._json_names()
        out = {names.get(f.name, f.name): _nan_to_none(getattr(self, f.name))
               for f in fields(self)}
        for old, new in self.deprecated_keys().items():
            out[old] = out[new]
        return out

    def summary(self) -> str:
        """Short readable multi-line text: Ea, prefactor, extrapolated value, chi^2/dof."""
        if self.quantity == "sigma":
            pre, val = "A  = {:.4g} +/- {:.2g} S K/cm", "sigma({:g} K) = {:.4g} +/- {:.2g} S/cm"
        else:
            pre, val = "D0 = {:.4g} +/- {:.2g} cm^2/s", "D({:g} K) = {:.4g} +/- {:.2g} cm^2/s"
        T = self.temperatures_K
        chi = (f"chi2/dof = {self.chi2:.3g}/{self.dof} = {self.reduced_chi2:.3g} "
               f"(p = {self.p_value:.3g})" if self.dof > 0 else "chi2/dof: n/a (2 points)")
        if self.covariance_scale > 1.0:
            chi += f"; errors scaled by sqrt({self.covariance_scale:.3g})"
        return "\n  ".join([
            f"Arrhenius fit of {'sigma*T' if self.quantity == 'sigma' else 'D'}: "
            f"{self.n_points} points, {T.min():g}-{T.max():g} K",
            f"Ea = {format_with_error(self.Ea_eV, self.Ea_err_eV)} eV",
            pre.format(self.prefactor, self.prefactor_err),
            val.format(self.T_ref_K, self.value_ref, self.value_ref_err), chi])


def fit_arrhenius(temperatures_K: ArrayLike, values: ArrayLike, errors: ArrayLike, *,
                  quantity: str = "sigma", T_ref_K: float = 300.0) -> ArrheniusFit:
    """Weighted least-squares Arrhenius fit with extrapolation to ``T_ref_K``.

    Fits the line ``y = ln A - Ea x`` in ``x = 1/(kB T)``, with ``y = ln(sigma T)``
    (``"sigma"``) or ``y = ln D`` (``"D"``), each point weighted by ``1/s_y`` with the
    first-order error ``s_y = err / value``.

    Errors: the covariance of ``(ln A, Ea)`` is the "absolute" one implied by the given
    errors, ``(X^T W X)^-1``. If the reduced chi^2 (``chi2/dof``, ``dof = n - 2``)
    exceeds 1, the errors are taken as understated and the covariance is multiplied by
    it (Birge ratio); it is never shrunk. With exactly 2 points (dof = 0) there is no
    inflation, chi2 = 0 and p_value = nan.

    Parameters
    ----------
    temperatures_K, values, errors : array_like, shape (n,)
        Temperatures (K, at least 2 distinct), sigma (S/cm) or D (cm^2/s), and the
        standard errors of the values (same units); all finite and > 0.
    quantity : {"sigma", "D"}, optional
        Model convention, see above. Default ``"sigma"``.
    T_ref_K : float, optional
        Temperature of the extrapolated value (default 300 K); finite, > 0.

    Returns
    -------
    ArrheniusFit

    Raises
    ------
    ConfigError
        On < 2 points or distinct temperatures, unequal lengths, a non-finite or
        non-positive temperature, value or error, a bad ``quantity`` or ``T_ref_K``.
    """
    if quantity not in _QUANTITIES:
        raise ConfigError(f"quantity must be 'sigma' or 'D', got {quantity!r}")
    T_ref = _checks.real(T_ref_K, "T_ref_K", lo=0.0, lo_open=True)
    T = _array_1d("temperatures_K", temperatures_K, positive=True, min_len=2)
    v = _array_1d("values", values, positive=True, min_len=2)
    err = _array_1d("errors", errors, positive=True, min_len=2)
    _same_length(temperatures_K=T, values=v, errors=err)
    if T.min() == T.max():
        raise ConfigError(f"temperatures_K needs at least 2 distinct values, got {T.tolist()}")
    n = T.size
    x = 1.0 / (K_B_EV_PER_K * T)
    y = np.log(v * T) if quantity == "sigma" else np.log(v)
    sy = err / v
    (slope, intercept), cov_si = np.polyfit(x, y, 1, w=1.0 / sy, cov="unscaled")
    # (slope, intercept) -> (ln A, Ea) = (intercept, -slope)
    cov = np.array([[cov_si[1, 1], -cov_si[0, 1]], [-cov_si[0, 1], cov_si[0, 0]]])
    dof, chi2, red, p, scale = n - 2, 0.0, math.nan, math.nan, 1.0
    if dof > 0:
        chi2 = float(np.sum(((y - (intercept + slope * x)) / sy) ** 2))
        red, p = chi2 / dof, float(_chi2_sf(dof, chi2))
        scale = max(1.0, red)
    cov = cov * scale
    cov.setflags(write=False)
    ln_a, ln_a_err, Ea = float(intercept), math.sqrt(cov[0, 0]), float(-slope)
    ref, ref_err = _predict(quantity, ln_a, Ea, cov, T_ref)
    return ArrheniusFit(
        quantity=quantity, Ea_eV=Ea, Ea_err_eV=math.sqrt(cov[1, 1]),
        prefactor=math.exp(ln_a), prefactor_err=math.exp(ln_a) * ln_a_err,
        ln_prefactor=ln_a, ln_prefactor_err=ln_a_err, covariance=cov,
        covariance_scale=scale, n_points=n, chi2=chi2, dof=dof, reduced_chi2=red,
        p_value=p, T_ref_K=T_ref, value_ref=ref, value_ref_err=ref_err,
        temperatures_K=T, values=v, errors=err)


def combine_replicas(values: ArrayLike, errors: ArrayLike) -> tuple[float, float]:
    """Combine R independent replica estimates of one state point.

    Returns the plain mean and its standard error ``sqrt(sum err_i^2) / R``. An
    inverse-variance weighted mean is deliberately not used: the errors of sigma and D
    scale with the values (a replica that fluctuates low also gets a smaller error), so
    1/err^2 weights favour low replicas and bias the mean downwards.

    Parameters
    ----------
    values, errors : array_like, shape (R,)
        Replica estimates and their standard errors; finite and > 0, R >= 1.

    Returns
    -------
    mean, err : float

    Raises
    ------
    ConfigError
        On unequal lengths, no replicas, or a non-finite or non-positive entry.
    """
    v = _array_1d("values", values, positive=True)
    e = _array_1d("errors", errors, positive=True)
    _same_length(values=v, errors=e)
    return float(np.mean(v)), float(math.sqrt(np.sum(e * e)) / v.size)


# ---- plots ---------------------------------------------------------------------------
@contextmanager
def _saved_axes(out: Path | None) -> Iterator[Any]:
    """Axes of a new figure drawn by the Agg canvas (no pyplot, so the user's backend is
    left alone); on clean exit add the legend and save to ``out`` (unless None)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    yield ax
    ax.legend(fontsize="small")
    fig.tight_layout()
    if out is not None:
        fig.savefig(out)


def _path_or_figure(out: Path | None, ax: Any) -> Any:
    """What a plot function returns: the file written, or the Figure when no path was given."""
    return ax.figure if out is None else out


def _plot_path(path: str | os.PathLike | None) -> Path | None:
    if path is None:
        return None
    out = Path(path)
    if out.suffix.lower() not in _PLOT_EXTENSIONS:
        raise ConfigError(f"path must end in .png, .pdf or .svg, got {str(path)!r}")
    return out


def plot_arrhenius(fits: ArrheniusFit | Sequence[ArrheniusFit], path: str | os.PathLike | None,
                   *, labels: Sequence[str] | None = None) -> Any:
    """Arrhenius plot, log10(sigma) (or log10 D) against 1000/T: data and fits.

    Data get error bars ``err / (value ln 10)``; each fit's line and 1-sigma band span
    the data range extended to its ``T_ref_K``, where an open diamond marks the
    extrapolated value. Switches matplotlib to the Agg backend.

    Parameters
    ----------
    fits : ArrheniusFit or sequence of ArrheniusFit
        All of the same quantity.
    path : str or path-like or None
        Output file; the format follows the extension (.png, .pdf, .svg). None: write
        nothing and return the Figure.
    labels : sequence of str, optional
        One legend label per fit (default "fit 1", "fit 2", ...), followed in the legend by
        the fit's ``Ea = value +/- error eV`` (:func:`format_with_error`).

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
        ``path``, or the Figure if `path` is None.
    """
    fits = [fits] if isinstance(fits, ArrheniusFit) else list(fits)
    if not fits or not all(isinstance(f, ArrheniusFit) for f in fits):
        raise ConfigError(f"fits must be ArrheniusFit objects, got {fits!r}")
    if len({f.quantity for f in fits}) != 1:
        raise ConfigError(f"fits mix quantities {sorted({f.quantity for f in fits})}")
    labels = [f"fit {i + 1}" for i in range(len(fits))] if labels is None else list(labels)
    if len(labels) != len(fits):
        raise ConfigError(f"got {len(labels)} labels for {len(fits)} fits")
    out = _plot_path(path)
    with _saved_axes(out) as ax:
        for i, (fit, label) in enumerate(zip(fits, labels)):
            T, v, c = fit.temperatures_K, fit.values, f"C{i}"
            ax.errorbar(1000.0 / T, np.log10(v), yerr=fit.errors / (v * math.log(10.0)),
                        fmt="o", color=c, capsize=3)
            lo, hi = min(T.min(), fit.T_ref_K), max(T.max(), fit.T_ref_K)
            inv_T = np.linspace(1000.0 / hi, 1000.0 / lo, 200)
            val, err = fit.predict(1000.0 / inv_T)
            ax.plot(inv_T, np.log10(val), "-", color=c,
                    label=f"{label}: Ea = {format_with_error(fit.Ea_eV, fit.Ea_err_eV)} eV")
            ax.fill_between(inv_T, np.log10(np.maximum(val - err, val * 1e-3)),
                            np.log10(val + err), color=c, alpha=0.2, lw=0)
            ax.plot([1000.0 / fit.T_ref_K], [math.log10(fit.value_ref)], "D", mfc="none",
                    color=c)
        sym = "sigma / S cm^-1" if fits[0].quantity == "sigma" else "D / cm^2 s^-1"
        ax.set_xlabel("1000 / T (1/K)")
        ax.set_ylabel(f"log10({sym})")
    return _path_or_figure(out, ax)


def plot_msd(time_s: ArrayLike, msd_tracer_A2: ArrayLike, path: str | os.PathLike | None, *,
             msd_collective_A2: ArrayLike | None = None, D_tracer_cm2_s: float | None = None,
             D_sigma_cm2_s: float | None = None, dimensionality: int = 3,
             title: str | None = None, fit_range_s: ArrayLike | None = None,
             intercepts_A2: ArrayLike | None = None,
             alpha_tracer: ArrayLike | None = None,
             collective_time_s: ArrayLike | None = None) -> Any:
    """Mean squared displacement (Angstrom^2) against time (s) for one run.

    The tracer MSD and, if given, the collective one (per ion, ``|sum_i dr_i|^2 / N``), each
    with its fitted line ``2 d D t`` from the run's D* and D_sigma (dashed, same colour);
    every curve and line is labelled in the legend.

    Parameters
    ----------
    time_s, msd_tracer_A2 : array_like, shape (n,)
        Times in s and the tracer MSD in Angstrom^2; finite.
    path : str or path-like or None
        Output file; the format follows the extension (.png, .pdf, .svg). None: write
        nothing and return the Figure.
    msd_collective_A2 : array_like, shape (n,), optional
        Collective (centre-of-mass) MSD per ion in Angstrom^2, drawn as a second curve.
    D_tracer_cm2_s, D_sigma_cm2_s : float, optional
        If given (> 0), draw the line ``2 d D t`` (D times 1e16 -> Angstrom^2/s) of the
        tracer and of the collective diffusivity.
    dimensionality : {1, 2, 3}, optional
        d in ``2 d D t``. Default 3.
    title : str, optional
        Axes title.
    fit_range_s : pair of float, optional
        The lags of the run's fit (s): shaded, and the lines become ``2 d D t + c``.
    intercepts_A2 : pair of float, optional
        The fitted offsets c of the tracer and collective lines, Angstrom^2 (default 0).
    alpha_tracer : pair of float, optional
        The log-log slope of the tracer MSD over the fitted range and its error, shown in
        the legend.
    collective_time_s : array_like, optional
        The lags of `msd_collective_A2` when they differ from `time_s` (a finer series).

    With a fitted range the axes are logarithmic (a diffusive MSD has slope 1 there).

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
        ``path``, or the Figure if `path` is None.
    """
    t = _array_1d("time_s", time_s, positive=False)
    span = None
    if fit_range_s is not None:
        span = _checks.float_array(fit_range_s, "fit_range_s", (2,))
        if not (np.isfinite(span).all() and 0 <= span[0] < span[1]):
            span = None  # (no fit: nothing to shade)
    offsets = np.zeros(2) if intercepts_A2 is None else np.nan_to_num(
        _checks.float_array(intercepts_A2, "intercepts_A2", (2,)))
    slope = None if alpha_tracer is None else _checks.float_array(alpha_tracer,
                                                                  "alpha_tracer", (2,))
    msd = _array_1d("msd_tracer_A2", msd_tracer_A2, positive=False)
    _same_length(time_s=t, msd_tracer_A2=msd)
    coll = None
    t_coll = t
    if collective_time_s is not None:
        t_coll = _array_1d("collective_time_s", collective_time_s, positive=False)
    if msd_collective_A2 is not None:
        coll = _array_1d("msd_collective_A2", msd_collective_A2, positive=False)
        _same_length(collective_time_s=t_coll, msd_collective_A2=coll)
    if isinstance(dimensionality, bool) or dimensionality not in (1, 2, 3):
        raise ConfigError(f"dimensionality must be 1, 2 or 3, got {dimensionality!r}")
    # (symbol, D in cm^2/s, colour of its MSD curve) of each line 2 d D t
    lines = [(sym, _checks.real(D, name, lo=0.0, lo_open=True), colour, c)
             for sym, name, D, colour, c in (
                 ("D*", "D_tracer_cm2_s", D_tracer_cm2_s, "C0", offsets[0]),
                 ("D_sigma", "D_sigma_cm2_s", D_sigma_cm2_s, "C1", offsets[1]))
             if D is not None]
    out = _plot_path(path)
    t_max = max(float(t.max()), float(t_coll.max()))
    if span is None:
        t_line = np.array([0.0, t_max])
    else:  # log axes: the lines over the lags drawn
        t_min = min(float(t[t > 0].min()), float(t_coll[t_coll > 0].min()))
        t_line = np.geomspace(t_min, t_max, 200)
    with _saved_axes(out) as ax:
        ax.plot(t, msd, "-", color="C0", label="tracer MSD")
        if coll is not None:
            ax.plot(t_coll, coll, "-", color="C1", label="collective MSD (per ion)")
        if span is not None:
            what = "fitted lags"
            if slope is not None and np.isfinite(slope).all():
                what += f": tracer MSD ~ tau^{slope[0]:.3f} +/- {slope[1]:.2g}"
            ax.axvspan(span[0], span[1], color="0.9", zorder=0, label=what)
        for sym, D, colour, c in lines:
            shift = f" {'+' if c > 0 else '-'} {abs(c):.3g} A^2" if span is not None and c \
                else ""
            ax.plot(t_line, 2.0 * dimensionality * D * CM2_TO_A2 * t_line
                    + (c if span is not None else 0.0), "--", color=colour,
                    label=f"2 d {sym} t{shift}, {sym} = {D:.3g} cm^2/s")
        if span is not None:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel("lag time (s)" if span is not None else "time (s)")
        ax.set_ylabel("MSD (Angstrom^2)")
        if title is not None:
            ax.set_title(title)
    return _path_or_figure(out, ax)
