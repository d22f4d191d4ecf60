"""Conductivity as the response to an applied field (Angstrom, V, K, S/cm).

The Nernst-Einstein conductivity of :mod:`kmc.analysis` comes from the fluctuations of the
ions' summed displacement without a field; the fluctuation-dissipation relation that makes
it the linear-response conductivity holds only for rates that obey detailed balance. A
fitted model that does not (kMCpy's site term, :func:`kmc.check_detailed_balance`) may even
drive a current without a field (:func:`kmc.analysis.zero_field_drift`). Its conductivity
is then measured as what it is, the response to a field: runs with fields +E and -E along
an axis give sigma_drift(+E) and sigma_drift(-E) (``TransportEstimate.sigma_drift_S_cm``);
the zero-field current enters the two with opposite signs, so their mean is the response
along that axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _checks
from .constants import DEFAULT_BLOCKS, KB_EV_PER_K
from .errors import ConfigError

__all__ = ["FieldResponse", "field_response", "response_field_V_per_angstrom",
           "axis_response"]


@dataclass(frozen=True)
class FieldResponse:
    """The conductivity from runs with fields +E and -E along each axis.

    Attributes
    ----------
    sigma_S_cm, sigma_S_cm_err : float
        Mean of the axes' responses and its standard error, S/cm.
    sigma_axes_S_cm, sigma_axes_S_cm_err : ndarray, shape (n_axes,)
        Each axis's response (the mean of +E and -E) and its error, S/cm.
    sigma_plus_S_cm, sigma_minus_S_cm : ndarray, shape (n_axes,)
        sigma_drift of the +E and the -E run of each axis, S/cm: they differ by twice the
        zero-field current's share along the axis.
    axes : tuple of int
    field_V_per_angstrom : float
        |E|, V/Angstrom.
    field_parameter : float
        x = |q| |E| a / (kB T) (a: the network's rms hop length).
    runs : list of RunResult
        The runs, in the order (axis, +E), (axis, -E), ...
    """

    sigma_S_cm: float
    sigma_S_cm_err: float
    sigma_axes_S_cm: np.ndarray
    sigma_axes_S_cm_err: np.ndarray
    sigma_plus_S_cm: np.ndarray
    sigma_minus_S_cm: np.ndarray
    axes: tuple[int, ...]
    field_V_per_angstrom: float
    field_parameter: float
    runs: list[Any] = field(default_factory=list, repr=False)


def response_field_V_per_angstrom(network: Any, temperature_K: float,
                                  field_parameter: float = 0.05) -> float:
    """|E| that makes x = |q| |E| a / (kB T) equal `field_parameter` (a: the network's rms
    hop length, Angstrom), V/Angstrom."""
    xp = _checks.real(field_parameter, "field_parameter", lo=0.0, hi=0.1, lo_open=True)
    from .simulation import mean_jump_length_A

    q = abs(float(network.charge_e))
    return xp * KB_EV_PER_K * float(temperature_K) / (q * mean_jump_length_A(network))


def axis_response(plus_S_cm: Any, plus_err_S_cm: Any, minus_S_cm: Any,
                  minus_err_S_cm: Any) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The response of each axis from its +E and -E runs' sigma_drift, and their mean.

    Returns
    -------
    axis, axis_err : ndarray
        (sigma(+E) + sigma(-E)) / 2 per axis and its standard error, S/cm (independent runs).
    mean, mean_err : float
        The mean over the axes and its standard error, S/cm.
    """
    p, m = np.asarray(plus_S_cm, float), np.asarray(minus_S_cm, float)
    axis_val = 0.5 * (p + m)
    axis_err = 0.5 * np.hypot(np.asarray(plus_err_S_cm, float),
                              np.asarray(minus_err_S_cm, float))
    return (axis_val, axis_err, float(axis_val.mean()),
            float(math.sqrt(np.sum(axis_err ** 2)) / axis_val.size))


def field_response(system: Any, temperature_K: float, *, steps: int, seed: int = 0,
                   field_parameter: float = 0.05, axes: Any = (0, 1, 2),
                   equilibration: int | None = None, blocks: int = DEFAULT_BLOCKS,
                   **simulation_kwargs: Any) -> FieldResponse:
    """The conductivity of a network or built material as its response to +-E per axis.

    Parameters
    ----------
    system : SiteNetwork, PeriodicNetwork or Material
        What :class:`kmc.Simulation` takes (a material brings its ions, attempt frequency
        and rate law).
    temperature_K : float
    steps : int
        Production events of each run.
    seed : int
        Seed of every run (the +E and -E runs of an axis share it).
    field_parameter : float
        x = |q| |E| a / (kB T), 0 < x <= 0.1 (linear response; default 0.05).
    axes : iterable of int
        Cartesian axes (0, 1, 2) along which to apply the field.
    equilibration : int, optional
        Equilibration hops of each run (default: :meth:`kmc.Simulation.run`'s).
    blocks : int
        Production blocks of each run.
    **simulation_kwargs
        Other :class:`kmc.Simulation` arguments (composition, rate law, ...), not a field.

    Returns
    -------
    FieldResponse
    """
    from .materials import Material
    from .simulation import Simulation

    if "field_V_per_angstrom" in simulation_kwargs:
        raise ConfigError("field_response sets the field itself; do not pass "
                          "field_V_per_angstrom")
    xp = _checks.real(field_parameter, "field_parameter", lo=0.0, hi=0.1, lo_open=True)
    ax = tuple(int(_checks.integer(a, "axes", lo=0, hi=2)) for a in np.atleast_1d(axes))
    if not ax or len(set(ax)) != len(ax):
        raise ConfigError(f"axes = {axes!r} must be distinct axes among 0, 1, 2")
    steps = _checks.integer(steps, "steps", lo=1)
    net = system.network if isinstance(system, Material) else system
    E = response_field_V_per_angstrom(net, temperature_K, xp)
    plus, minus, plus_err, minus_err, runs = [], [], [], [], []
    for k in ax:
        for sign, vals, errs in ((1.0, plus, plus_err), (-1.0, minus, minus_err)):
            vec = np.zeros(3)
            vec[k] = sign * E
            sim = Simulation(system, temperature_K, seed=seed, field_V_per_angstrom=vec,
                             **simulation_kwargs)
            res = sim.run(steps=steps, equilibration=equilibration, blocks=blocks)
            vals.append(float(res.transport.sigma_drift_S_cm))
            errs.append(float(res.transport.sigma_drift_S_cm_err))
            runs.append(res)
    p, m = np.array(plus), np.array(minus)
    axis_val, axis_err, mean, mean_err = axis_response(p, plus_err, m, minus_err)
    return FieldResponse(
        sigma_S_cm=mean, sigma_S_cm_err=mean_err, sigma_axes_S_cm=axis_val,
        sigma_axes_S_cm_err=axis_err, sigma_plus_S_cm=p, sigma_minus_S_cm=m, axes=ax,
        field_V_per_angstrom=E, field_parameter=xp, runs=runs)
