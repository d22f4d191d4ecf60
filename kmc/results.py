"""Results as plain data: one run (:class:`RunResult`), a sweep (:class:`SweepResult`), and
the observables they tabulate.

Nothing here runs a simulation or reads a file: the drivers (:mod:`kmc.simulation`,
:mod:`kmc.sweep`) make results, :mod:`kmc.io` writes and reads them (``kmc.load``), the
command line prints them. A result's numbers come from :mod:`kmc.analysis` (the estimators)
and :mod:`kmc.arrhenius` (fits); a microstructure sweep's effective conductivity from
:mod:`kmc.effective_medium`.

Units: Angstrom, s, eV, K, e; D in cm^2/s, sigma in S/cm.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .analysis import BlockData, TransportEstimate
from .arrhenius import ArrheniusFit, combine_replicas, fit_arrhenius
from .config import MICROSTRUCTURES, RunConfig
from .effective_medium import effective_sigma_S_cm
from .errors import ConfigError

__all__ = ["RunResult", "SweepResult", "OBSERVABLES", "MICROSTRUCTURE_OBSERVABLES",
           "ARRHENIUS_QUANTITIES"]

#: Observables tabulated per run and per point of a sweep (each with an ``_err`` twin).
OBSERVABLES = ("sigma_S_cm", "D_tracer_cm2_s", "D_sigma_cm2_s", "correlation_factor",
               "haven_ratio")
#: Observables that a run without a diffusive regime gives as an upper bound (``*_upper``).
UPPER_BOUNDS = ("sigma_S_cm", "D_tracer_cm2_s", "D_sigma_cm2_s")
#: Observables added for the runs of a microstructure sweep.
MICROSTRUCTURE_OBSERVABLES = ("sigma_eff_S_cm",)
#: The quantities an Arrhenius fit takes (``kmc arrhenius --quantity``) and their observable.
ARRHENIUS_QUANTITIES = {"sigma": "sigma_S_cm", "D_tracer": "D_tracer_cm2_s",
                        "D_sigma": "D_sigma_cm2_s"}


def _fmt(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True, eq=False)
class RunResult:
    """Result of one run: transport coefficients with errors, and how they were obtained.

    Every field of :class:`kmc.analysis.TransportEstimate` (``D_tracer_cm2_s``,
    ``D_sigma_cm2_s``, ``correlation_factor``, ``haven_ratio``, ``sigma_S_cm``, the
    tensors, each with an ``_err`` twin) is available as an attribute of the result.

    Attributes
    ----------
    transport : TransportEstimate
        The estimates.
    network_name : str
    n_sites, n_ions : int
    temperature_K : float
    attempt_frequency_Hz : float
    dimensionality : int
        Dimensionality of the percolating hop network, used in the formulas.
    seed : int
        The seed that reproduces this run.
    equilibration_steps, hops : int
        Events executed in equilibration and in production.
    simulated_time_s : float
        Production simulated time, s.
    wall_s : float
        Wall-clock time of the whole run (set-up, equilibration, production), s.
    hops_per_s : float
        Production events per wall-clock second of engine time.
    hop_type_counts : dict[str, int]
        Production events per hop type.
    interrupted : bool
        True if the run was stopped (Ctrl-C, SIGTERM, :meth:`Simulation.request_stop`) and
        this result holds the blocks finished so far.
    blocks : BlockData
        The per-block moments the estimates come from.
    warnings : tuple of str
    msd : dict of ndarray or None
        ``time_s``, ``tracer_A2``, ``collective_A2``: mean squared displacement per ion
        (Angstrom^2) since the start of production, at each block end.
    stop_signal : int or None
        The signal that stopped an interrupted run.
    event_counts : dict[str, int]
        Production events fired per hop type and per multi-ion event type.
    displacement_share : dict[str, float]
        Share of the summed squared ion displacement made by each hop/event type: which
        mechanism carries the transport.
    engine_mode : str
        The engine algorithm that ran: "uniform", "count" or "tree".
    rate_law : str
        The rate law of the run (:data:`kmc.constants.RATE_LAWS`).
    converged : bool
        The run's numbers are transport coefficients it can stand behind: the transport is
        diffusive (``transport.diffusive``) and, for a run to a precision, the target was
        reached: at a look, or in the final estimate of a run a cap stopped between looks.
    stop_reason : str
        Why production ended: "steps" or "time" (a fixed length), "target" (the precision
        reached), "max_steps" or "max_wall_s" (a cap), "interrupted".
    """

    transport: TransportEstimate
    network_name: str
    n_sites: int
    n_ions: int
    temperature_K: float
    attempt_frequency_Hz: float
    dimensionality: int
    seed: int
    equilibration_steps: int
    hops: int
    simulated_time_s: float
    wall_s: float
    hops_per_s: float
    hop_type_counts: dict[str, int]
    field_V_per_angstrom: tuple[float, float, float] | None = None
    interrupted: bool = False
    blocks: BlockData | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()
    msd: dict[str, NDArray[np.float64]] | None = field(default=None, repr=False)
    stop_signal: int | None = None
    event_counts: dict[str, int] = field(default_factory=dict)
    displacement_share: dict[str, float] = field(default_factory=dict)
    engine_mode: str = ""
    rate_law: str = "kra"
    converged: bool = True
    stop_reason: str = ""
    detailed_balance_violation_eV: float = 0.0

    def __getattr__(self, name: str) -> Any:
        # only reached for names that are not fields: delegate to the estimates
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return getattr(self.__dict__["transport"], name)
        except (KeyError, AttributeError):
            raise AttributeError(f"RunResult has no attribute {name!r}") from None

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-serialisable dict (floats, lists; nan -> None)."""
        out = self.transport.to_dict()
        for key in ("network_name", "n_sites", "n_ions", "temperature_K", "attempt_frequency_Hz",
                    "dimensionality", "seed", "equilibration_steps", "hops",
                    "simulated_time_s", "wall_s", "hops_per_s", "hop_type_counts",
                    "event_counts", "displacement_share", "interrupted", "engine_mode",
                    "rate_law", "converged", "stop_reason", "detailed_balance_violation_eV"):
            out[key] = getattr(self, key)
        out["field_V_per_angstrom"] = (None if self.field_V_per_angstrom is None
                                       else list(self.field_V_per_angstrom))
        out["warnings"] = list(self.warnings) + [
            w for w in self.transport.warnings if w not in self.warnings]
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        return out

    def summary(self) -> str:
        """A readable table of the results."""
        def row(label: str, value: float, err: float | None, unit: str,
                upper: float = math.nan) -> str:
            if not math.isfinite(value) and math.isfinite(upper):
                return f"  {label:<28s} {'< ' + format(upper, '.3g'):>12s} (upper bound) {unit}"
            if err is None:
                return f"  {label:<28s} {value:>12.5g}              {unit}"
            return f"  {label:<28s} {value:>12.5g} +/- {err:<9.2g} {unit}"

        t = self.transport
        lines = [
            f"kmc run: {self.network_name}, {self.n_ions} ions on {self.n_sites} sites "
            f"(d = {self.dimensionality}), T = {self.temperature_K:g} K, seed {self.seed}",
            row("tracer diffusivity D*", t.D_tracer_cm2_s, t.D_tracer_cm2_s_err, "cm^2/s",
                t.D_tracer_cm2_s_upper),
            row("collective diffusivity D_s", t.D_sigma_cm2_s, t.D_sigma_cm2_s_err, "cm^2/s",
                t.D_sigma_cm2_s_upper),
            row("correlation factor f", t.correlation_factor, t.correlation_factor_err, ""),
            row("Haven ratio D*/D_s", t.haven_ratio, t.haven_ratio_err, ""),
            row("conductivity (N-E)", t.sigma_S_cm, t.sigma_S_cm_err, "S/cm",
                t.sigma_S_cm_upper),
        ]
        if self.field_V_per_angstrom is not None:
            x = t.linear_response_parameter
            lines.append(row("conductivity (drift)", t.sigma_drift_S_cm, t.sigma_drift_S_cm_err,
                             "S/cm") + (f"   (q|E|a/kB T = {x:.3g})" if math.isfinite(x)
                                        else ""))
        lines += [
            f"  {self.hops} hops in {t.n_blocks} blocks, simulated {self.simulated_time_s:.4g} s, "
            f"wall {self.wall_s:.3g} s ({self.hops_per_s:.3g} hops/s)",
        ]
        if t.estimator == "lag_msd" and t.fit_range_s is not None:
            lo, hi = t.fit_range_s
            state = "converged" if self.converged else "NOT converged"
            lines.append(f"  {t.regime}: MSD ~ tau^{t.alpha_tracer:.3f} +/- "
                         f"{t.alpha_tracer_err:.2g}, fitted over lags {lo:.3g}..{hi:.3g} s; "
                         f"{state} ({self.stop_reason})")
        if set(self.event_counts) != set(self.hop_type_counts):  # multi-ion events present
            fired = {k: v for k, v in self.event_counts.items() if v}
            never = [k for k, v in self.event_counts.items() if not v]
            lines.append("  events fired (share of squared displacement): " + (", ".join(
                f"{k} {v} ({100 * self.displacement_share.get(k, 0.0):.3g} %)"
                for k, v in fired.items()) or "none") + (
                f"; never fired: {', '.join(never)}" if never else ""))
        for w in self.to_dict()["warnings"]:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)


class SweepResult:
    """The runs of a sweep, tabulated per run and per point, with Arrhenius fits.

    Attributes
    ----------
    path : str
        The sweep file.
    config : dict
        The sweep's configuration (base keys, temperatures, compositions, replicas).
    master_seed : int
    runs : dict of str -> RunResult
        Finished runs by run id.
    specs : dict of str -> dict
        Each finished run's point: temperature_K, composition_key, composition, replica,
        seed.
    failures : dict of str -> str
        Runs that failed (this session), with the reason.
    executed : list of str
        Runs computed (or continued) in this session; the others were in the file already.
    """

    def __init__(self, path: str, config: dict[str, Any], master_seed: int,
                 runs: dict[str, Any], specs: dict[str, dict[str, Any]],
                 failures: dict[str, str] | None = None,
                 executed: Sequence[str] = ()) -> None:
        self.path = path
        self.config = config
        self.master_seed = master_seed
        self.runs = runs
        self.specs = specs
        self.failures = dict(failures or {})
        self.executed = list(executed)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SweepResult:
        """Read a sweep file (deprecated: use :func:`kmc.load`)."""
        warnings.warn("SweepResult.load(path) is deprecated; use kmc.load(path)",
                      DeprecationWarning, stacklevel=2)
        from .io import read_sweep  # the file format lives in kmc.io

        return read_sweep(path)

    @property
    def n_runs(self) -> int:
        """Finished runs."""
        return len(self.runs)

    @property
    def microstructure_kind(self) -> str | None:
        """"polycrystal" or "composite" for a sweep of a microstructure, else None."""
        lattice = self.config.get("base", {}).get("lattice")
        return lattice if lattice in MICROSTRUCTURES else None

    def point_config(self, composition: Any, temperature_K: float | None = None) -> RunConfig:
        """The configuration of the runs at one point (without their seed).

        Parameters
        ----------
        composition : value
            A value of the sweep's composition key.
        temperature_K : float, optional
            Default: the sweep's first temperature.
        """
        T = self.config["temperatures_K"][0] if temperature_K is None else temperature_K
        return RunConfig.from_dict({**self.config["base"], "temperature": T,
                                    self.config["composition_key"]: composition},
                                   where=f"{self.path} (config)")

    @property
    def bulk_dimensionality(self) -> int | None:
        """Dimensionality of the bulk of a microstructure sweep (None for other sweeps).

        Recorded with the sweep when it is planned. A file written before kmc recorded it
        gives the largest dimensionality among its runs (exact for a polycrystal, whose
        network keeps every hop of the bulk; a lower bound for a composite).
        """
        if self.microstructure_kind is None:
            return None
        d = self.config.get("bulk_dimensionality")
        if d is None:
            d = max((int(r.dimensionality) for r in self.runs.values()), default=0)
        return int(d)

    def observables(self) -> tuple[str, ...]:
        """The observables of :meth:`table` and :meth:`points` (each with an _err twin)."""
        extra = MICROSTRUCTURE_OBSERVABLES if self.microstructure_kind else ()
        return OBSERVABLES + extra

    def table(self) -> list[dict[str, Any]]:
        """One row per finished run: its point, seed and observables with errors (for a
        microstructure sweep also ``sigma_eff_S_cm``), ``diffusive``, ``converged`` and the
        upper bounds (``sigma_S_cm_upper``, ...; None for a diffusive run).

        Rows of a microstructure sweep always hold both conductivities, so every row of every
        sweep has the same keys: ``sigma_S_cm`` is the run's own Nernst-Einstein sigma (over
        the directions its network percolates in), ``sigma_eff_S_cm`` the microstructure's
        effective sigma (the same trace over the bulk's directions, 0 if the network does
        not percolate; :func:`kmc.effective_medium.effective_sigma_S_cm`). They are equal
        whenever the microstructure conducts in as many directions as its bulk: always for a
        polycrystal, which keeps every hop; a composite near or below its percolation
        threshold makes them differ. The printed table (:meth:`summary`) shows sigma_eff only
        when the two are equal at every point.
        """
        d_bulk = self.bulk_dimensionality
        rows = []
        for run_id in sorted(self.runs, key=self._order):
            res = self.runs[run_id].to_dict()
            row = {"run_id": run_id, **self.specs[run_id]}
            for k in OBSERVABLES:
                row[k], row[k + "_err"] = res[k], res[k + "_err"]
            row["diffusive"] = bool(res.get("diffusive", True))
            row["converged"] = bool(res.get("converged", True))
            for k in UPPER_BOUNDS:
                row[k + "_upper"] = res.get(k + "_upper")
            if d_bulk is not None:
                value, err = effective_sigma_S_cm(self.runs[run_id], d_bulk)
                row["sigma_eff_S_cm"] = value if math.isfinite(value) else None
                row["sigma_eff_S_cm_err"] = err if math.isfinite(err) else None
            row["hops"] = res["hops"]
            rows.append(row)
        return rows

    def _order(self, run_id: str) -> tuple[Any, ...]:
        s = self.specs[run_id]
        comp = s["composition"]
        return (str(s["composition_key"]), comp if isinstance(comp, (int, float)) else 0,
                s["temperature_K"], s["replica"])

    def compositions(self) -> list[tuple[str, Any]]:
        """The distinct (composition key, value) pairs of the finished runs."""
        seen = sorted({(s["composition_key"], s["composition"]) for s in self.specs.values()},
                      key=lambda kv: (kv[0], kv[1]))
        return seen

    def points(self) -> list[dict[str, Any]]:
        """One row per (composition, temperature): replicas combined with
        :func:`kmc.arrhenius.combine_replicas` (mean; error sqrt(sum err^2) / R). A
        microstructure sweep's points hold both ``sigma_S_cm`` and ``sigma_eff_S_cm`` (see
        :meth:`table`). ``diffusive`` and ``converged`` hold when they hold for every
        replica; an upper bound is the largest of the replicas'."""
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for row in self.table():
            key = (row["composition_key"], row["composition"], row["temperature_K"])
            groups.setdefault(key, []).append(row)
        out = []
        for (ckey, comp, T), rows in groups.items():
            point: dict[str, Any] = {"composition_key": ckey, "composition": comp,
                                     "temperature_K": T, "replicas": len(rows),
                                     "diffusive": all(r["diffusive"] for r in rows),
                                     "converged": all(r["converged"] for r in rows)}
            for k in UPPER_BOUNDS:  # the loosest bound of the replicas that have one
                bounds = [r[k + "_upper"] for r in rows if r[k + "_upper"] is not None]
                point[k + "_upper"] = max(bounds) if bounds else None
            for k in self.observables():
                vals = [r[k] for r in rows]
                errs = [r[k + "_err"] for r in rows]
                if all(v is not None and e is not None and v > 0 and e > 0
                       for v, e in zip(vals, errs)):
                    point[k], point[k + "_err"] = combine_replicas(vals, errs)
                else:
                    good = [v for v in vals if v is not None]
                    point[k] = float(np.mean(good)) if good else None
                    point[k + "_err"] = None
            out.append(point)
        return out

    def arrhenius(self, composition: Any = None, *, quantity: str = "sigma",
                  T_ref_K: float = 300.0) -> ArrheniusFit:
        """Arrhenius fit over the temperatures of one composition.

        Parameters
        ----------
        composition : value or None
            The composition value (of the sweep's composition key); may be None if the
            sweep has one composition.
        quantity : str
            "sigma" (sigma T = A exp(-Ea/kB T)), "D_tracer" or "D_sigma" (D = D0 exp(...)).
        T_ref_K : float
            Temperature of the extrapolated value, K.
        """
        keys = ARRHENIUS_QUANTITIES
        if quantity not in keys:
            raise ConfigError(f"quantity = {quantity!r} must be one of {', '.join(keys)}")
        comps = self.compositions()
        if not comps:
            raise ConfigError(f"{self.path!r} holds no finished run")
        if composition is None:
            if len(comps) > 1:
                raise ConfigError(
                    f"{self.path!r} holds {len(comps)} compositions "
                    f"({', '.join(f'{k}={_fmt(v)}' for k, v in comps)}); choose one")
            composition = comps[0][1]
        pts = [p for p in self.points() if p["composition"] == composition]
        if not pts:
            raise ConfigError(f"composition {composition!r} is not in {self.path!r} "
                              f"(it has {', '.join(_fmt(v) for _, v in comps)})")
        k = keys[quantity]
        have = [p for p in pts if p[k] is not None]
        if len(have) < 2 <= len(pts):
            raise ConfigError(
                f"composition {composition!r} of {self.path!r}: only {len(have)} of its "
                f"{len(pts)} temperatures have a value of {k} (the others found no diffusive "
                "regime: run them longer)")
        pts = sorted(have or pts, key=lambda p: p["temperature_K"])
        return fit_arrhenius([p["temperature_K"] for p in pts], [p[k] for p in pts],
                             [p[k + "_err"] for p in pts],
                             quantity="sigma" if quantity == "sigma" else "D",
                             T_ref_K=T_ref_K)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the file, the config, the per-run and per-point tables, the fits.

        The keys of the tables and fits follow ``kmc run --json`` (``<quantity>_<unit>`` and
        ``<quantity>_<unit>_err``). The fits still carry their old keys this version
        (:meth:`kmc.arrhenius.ArrheniusFit.deprecated_keys`), listed old -> new under
        ``deprecated_keys``; they go in the next version.
        """
        fits = []
        deprecated: dict[str, str] = {}
        for key, comp in self.compositions():
            temps = {s["temperature_K"] for s in self.specs.values()
                     if s["composition"] == comp and s["composition_key"] == key}
            if len(temps) >= 2:
                try:
                    fit = self.arrhenius(comp)
                    fits.append({"composition_key": key, "composition": comp,
                                 **fit.to_dict()})
                    deprecated.update(fit.deprecated_keys())
                except ConfigError as exc:
                    fits.append({"composition_key": key, "composition": comp,
                                 "error": str(exc)})
        out = {"output": self.path, "master_seed": self.master_seed,
               "n_runs": self.n_runs, "executed": list(self.executed), "config": self.config,
               "points": self.points(),
               "runs": self.table(), "arrhenius": fits,
               "failures": [{"run_id": k, "error": v} for k, v in self.failures.items()]}
        if deprecated:
            out["deprecated_keys"] = deprecated
        return out

    def summary(self) -> str:
        """A readable table of the points and the Arrhenius fits.

        For a microstructure sweep whose sigma and sigma_eff are equal at every point (a
        polycrystal; see :meth:`table`) only the sigma_eff column is printed, and a line
        above the table says so.
        """
        def cell(v: Any, e: Any) -> str:
            if v is None:
                return f"{'n/a':>22s}"
            return f"{v:>10.4g} +/- {e:<8.2g}" if e is not None else f"{v:>10.4g}{'':12s}"

        points = self.points()
        columns = ["sigma_S_cm", "D_tracer_cm2_s", "correlation_factor", "haven_ratio"]
        heads = ["sigma (S/cm)", "D* (cm^2/s)", "f", "Haven ratio"]
        lines = [f"kmc sweep: {self.n_runs} runs in {self.path} (master seed "
                 f"{self.master_seed}; {len(self.executed)} computed now)"]
        if self.microstructure_kind is not None:
            same = all(p["sigma_S_cm"] == p["sigma_eff_S_cm"]
                       and p["sigma_S_cm_err"] == p["sigma_eff_S_cm_err"] for p in points)
            if same:  # one column for two equal ones
                columns[0], heads[0] = "sigma_eff_S_cm", "sigma_eff (S/cm)"
                lines.append("  sigma_eff = sigma at every point here (the microstructure "
                             "conducts in as many directions as its bulk)")
            else:
                columns.insert(1, "sigma_eff_S_cm")
                heads.insert(1, "sigma_eff (S/cm)")
        lines.append(f"  {'T (K)':>8s} {'composition':>20s} {'R':>3s} "
                     + " ".join(f"{h:>22s}" for h in heads))
        def order(p: dict[str, Any]) -> tuple[Any, ...]:  # numbers by value, not as text
            c = p["composition"]
            num = isinstance(c, (int, float))
            return (not num, float(c) if num else 0.0, str(c), p["temperature_K"])

        for p in sorted(points, key=order):
            comp = f"{p['composition_key']}={_fmt(p['composition'])}"
            lines.append(f"  {p['temperature_K']:>8g} {comp:>20s} {p['replicas']:>3d} "
                         + " ".join(cell(p[k], p[k + "_err"]) for k in columns))
        for fit in self.to_dict()["arrhenius"]:
            label = f"{fit['composition_key']}={_fmt(fit['composition'])}"
            if "error" in fit:
                lines.append(f"  Arrhenius ({label}): {fit['error']}")
                continue
            lines.append(
                f"  Arrhenius ({label}): Ea = {fit['Ea_eV']:.4f} +/- {fit['Ea_eV_err']:.2g} eV, "
                f"sigma(300 K) = {fit['sigma_300K_S_cm']:.3g} +/- "
                f"{fit['sigma_300K_S_cm_err']:.2g} S/cm ({fit['n_points']} points)")
        for run_id, err in self.failures.items():
            lines.append(f"  failed: {run_id}: {err}")
        return "\n".join(lines)
