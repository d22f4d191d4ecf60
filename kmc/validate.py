"""``kmc validate``: simulated conductivities of the materials beside tabulated experiments.

For each material case (a material and its composition options) the conductivity is
simulated at several temperatures, an Arrhenius law is fitted (:func:`kmc.fit_arrhenius`),
and sigma(300 K) and Ea with their errors are set beside the tabulated experimental values
(``kmc/data/experimental.toml``, every value with its reference). Each case runs as a
sweep (:mod:`kmc.sweep`: its process pool, seeds, checkpoints and files). The ratio sim/exp is
printed whatever it is: the barriers in the material files come from published calculations
of the mechanism and are never adjusted to the conductivity they are compared with.

Units: K, S/cm, eV.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .arrhenius import fit_arrhenius
from .config import SweepConfig
from .constants import MIN_MAX_STEPS
from .errors import ConfigError, KMCError
from .results import SweepResult
from .sweep import derive_seed, run_sweep

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Relative standard error of sigma each validation run aims at (full and quick validation).
TARGET_REL_ERR = 0.05
QUICK_TARGET_REL_ERR = 0.15

__all__ = ["CASES", "Case", "ValidationReport", "run_validation", "select_cases",
           "case_sweep", "experimental_table", "experimental_reference", "computed_references",
           "REFERENCE_QUANTITIES", "DEPRECATED_KEYS", "CONDUCTIVITY_METHODS",
           "RESPONSE_FIELD_PARAMETER", "response_sweeps", "response_field_V_per_angstrom"]

#: The old keys of the validation JSON (rows and their ``experiment``), old -> new. This
#: version writes each beside its new key with the same value; they go in the next version.
#: (``kmc/data/experimental.toml`` keeps ``sigma_S_per_cm``: that is the data file's schema.)
DEPRECATED_KEYS = {"sigma_S_per_cm": "sigma_S_cm", "sigma_err_S_per_cm": "sigma_S_cm_err",
                   "sigma300_S_per_cm": "sigma_300K_S_cm",
                   "sigma300_err_S_per_cm": "sigma_300K_S_cm_err", "Ea_err_eV": "Ea_eV_err"}


#: How a validation case measures sigma (:attr:`Case.conductivity`).
CONDUCTIVITY_METHODS = ("nernst-einstein", "response")
#: x = |q| |E| a / (kB T) of a response case's field at its lowest temperature (the field is
#: the same at every temperature, so x is smaller at the others): linear response, the
#: drift velocity's sinh(x/2) departing from x/2 by x^2/24 = 4e-4.
RESPONSE_FIELD_PARAMETER = 0.1


@dataclass(frozen=True)
class Case:
    """One material composition to validate, with its run plan.

    Attributes
    ----------
    material : str
    options : dict
        Material options (e.g. ``{"halogen": "Cl"}``).
    temperatures_K : tuple of float
        Full-run temperatures (quick runs use the highest three).
    steps, quick_steps : int
        Production hops per run.
    size, quick_size : tuple of int or None
        Supercell (None: the material's default).
    conductivity : str
        How sigma is measured: "nernst-einstein" (the fluctuations of the summed
        displacement without a field) or "response" (runs with fields +E and -E along each
        axis, :mod:`kmc.response`), for a model whose rates violate detailed balance, where
        the fluctuation-dissipation relation behind the Nernst-Einstein sigma fails.
    """

    material: str
    options: dict[str, Any]
    temperatures_K: tuple[float, ...]
    steps: int
    quick_steps: int
    size: Any = None
    quick_size: Any = None
    conductivity: str = "nernst-einstein"

    def __post_init__(self) -> None:
        if self.conductivity not in CONDUCTIVITY_METHODS:
            raise ConfigError(f"Case {self.material}: conductivity = {self.conductivity!r} "
                              f"(known: {', '.join(CONDUCTIVITY_METHODS)})")

    @property
    def label(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.options.items())
        return self.material + (f" ({opts})" if opts else "")


#: The validation cases (material, options, temperatures, run lengths).
CASES: tuple[Case, ...] = (
    Case("lgps", {}, (300.0, 400.0, 500.0, 600.0), 8_000_000, 1_000_000, (3, 3, 2)),
    Case("argyrodite", {"halogen": "Cl"}, (300.0, 400.0, 500.0, 600.0), 16_000_000, 3_000_000),
    Case("argyrodite", {"halogen": "Br"}, (300.0, 400.0, 500.0, 600.0), 16_000_000, 3_000_000),
    Case("argyrodite", {"halogen": "I"}, (300.0, 400.0, 500.0, 600.0), 16_000_000, 3_000_000),
    # kMCpy's local site expansion breaks detailed balance (docs/materials/nasicon.md)
    Case("nasicon", {"x": 2.0}, (400.0, 500.0, 600.0, 700.0), 8_000_000, 1_000_000, (4, 4, 2),
         conductivity="response"),
    Case("beta_alumina", {"excess": 0.2}, (300.0, 400.0, 500.0, 600.0), 8_000_000, 1_000_000,
         (6, 6, 1)),
)


def select_cases(names: Sequence[str], cases: tuple[Case, ...] | None = None
                 ) -> tuple[Case, ...]:
    """The cases named: a material name selects all its cases ("argyrodite", "beta-alumina"),
    a case label one case ("argyrodite (halogen=Cl)", as validate prints it); in the order
    of `cases` (default :data:`CASES`).

    Raises
    ------
    ConfigError
        If a name matches no case (the message lists the materials and labels).
    """
    cases = CASES if cases is None else cases
    names = [names] if isinstance(names, str) else list(names)

    def match(n: str, c: Case) -> bool:  # material names as `kmc run` takes them too
        return n.strip() == c.label or n.strip().lower().replace("-", "_") == c.material

    for n in names:
        if not any(match(n, c) for c in cases):
            known = dict.fromkeys(sorted({c.material for c in cases})
                                  + [c.label for c in cases])
            raise ConfigError(f"validation case {n!r} is unknown (known: "
                              f"{', '.join(repr(k) for k in known)})")
    return tuple(c for c in cases if any(match(n, c) for n in names))


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, Any], ...]:
    text = resources.files("kmc.data").joinpath("experimental.toml").read_text("utf-8")
    return tuple(tomllib.loads(text)["entry"])


def experimental_table() -> list[dict[str, Any]]:
    """All entries of the shipped experimental table (``kmc/data/experimental.toml``),
    read once per process; copies, so callers may change them."""
    return [dict(e) for e in _table()]


def _same_options(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if set(a) != set(b):
        return False
    for k, v in a.items():
        w = b[k]
        if isinstance(v, (int, float)) and isinstance(w, (int, float)):
            if not math.isclose(float(v), float(w)):
                return False
        elif v != w:
            return False
    return True


def experimental_reference(material: str, options: dict[str, Any]) -> dict[str, Any] | None:
    """The primary experimental entry of a material composition (None if there is none)."""
    for e in experimental_table():
        if e["material"] == material and _same_options(dict(e.get("options", {})), options) \
                and e.get("primary", False):
            return e
    return None


def _sigma_tracer(t: Any) -> tuple[float, float]:
    """n q^2 D* / (kB T), S/cm: the tracer D in the Nernst-Einstein relation (no Haven ratio),
    as AIMD papers often report it; n q^2 / (kB T) is sigma / D_sigma of the same run."""
    d_sigma = float(t.D_sigma_cm2_s)
    if not (math.isfinite(d_sigma) and d_sigma > 0):
        return math.nan, math.nan
    factor = float(t.sigma_S_cm) / d_sigma
    return float(t.D_tracer_cm2_s) * factor, float(t.D_tracer_cm2_s_err) * factor


def _haven_axes(t: Any, axes: tuple[int, ...]) -> tuple[float, float]:
    """Haven ratio along the given Cartesian axes: the mean of D*_ii over them divided by
    the mean of D_sigma_ii (dimensionless). The error adds the two relative errors in
    quadrature as if independent; the two estimates come from the same run and are
    positively correlated, so it overstates the error."""
    dt = sum(float(t.D_tracer_tensor_cm2_s[i, i]) for i in axes) / len(axes)
    ds = sum(float(t.D_sigma_tensor_cm2_s[i, i]) for i in axes) / len(axes)
    if not (math.isfinite(ds) and ds > 0 and math.isfinite(dt) and dt > 0):
        return math.nan, math.nan
    et = math.sqrt(sum(float(t.D_tracer_tensor_cm2_s_err[i, i]) ** 2 for i in axes)) / len(axes)
    es = math.sqrt(sum(float(t.D_sigma_tensor_cm2_s_err[i, i]) ** 2 for i in axes)) / len(axes)
    return dt / ds, dt / ds * math.hypot(et / dt, es / ds)


#: The quantities a ``[[validation]]`` row of a material file may name: how each is read
#: from a run's transport estimate (value, error), cm^2/s, S/cm or dimensionless.
#: ``sigma_tracer_S_cm`` is n q^2 D* / (kB T) (the tracer D in the Nernst-Einstein
#: relation); ``haven_ratio`` is D*/D_sigma, ``haven_ratio_c`` the same along z (c) and
#: ``haven_ratio_ab`` in the xy (ab) plane (means of the two diagonal components).
REFERENCE_QUANTITIES = {
    "sigma_S_cm": lambda t: (t.sigma_S_cm, t.sigma_S_cm_err),
    "sigma_tracer_S_cm": _sigma_tracer,
    "D_tracer_cm2_s": lambda t: (t.D_tracer_cm2_s, t.D_tracer_cm2_s_err),
    "D_tracer_c_cm2_s": lambda t: (t.D_tracer_tensor_cm2_s[2, 2],
                                   t.D_tracer_tensor_cm2_s_err[2, 2]),
    "D_tracer_ab_cm2_s": lambda t: (
        0.5 * (t.D_tracer_tensor_cm2_s[0, 0] + t.D_tracer_tensor_cm2_s[1, 1]),
        0.5 * math.hypot(t.D_tracer_tensor_cm2_s_err[0, 0], t.D_tracer_tensor_cm2_s_err[1, 1])),
    "haven_ratio": lambda t: (t.haven_ratio, t.haven_ratio_err),
    "haven_ratio_c": lambda t: _haven_axes(t, (2,)),
    "haven_ratio_ab": lambda t: _haven_axes(t, (0, 1)),
}


def computed_references(material: str, options: dict[str, Any]) -> list[dict[str, Any]]:
    """The computed references of a material composition: the ``[[validation]]`` rows of its
    material file (the calculation its parameters come from, at a temperature, with its
    source), each with the full citation and flag of its reference key."""
    from .materials import material_spec

    spec = material_spec(material)
    out = []
    for k, v in enumerate(spec.data.get("validation", [])):
        if not _same_options(dict(v.get("options", {})), options):
            continue
        q = v.get("quantity")
        if q not in REFERENCE_QUANTITIES:
            raise ConfigError(f"material file {material}.toml: validation[{k}].quantity = "
                              f"{q!r} (known: {', '.join(REFERENCE_QUANTITIES)})")
        key = str(v["source"]).split(",")[0].strip()
        ref = spec.references.get(key, {})
        out.append({"quantity": q, "T_K": float(v["T_K"]), "value": float(v["value"]),
                    "method": v.get("method", ""), "where": v.get("where", ""),
                    "reference": spec.short_cite(key), "citation": spec.cite(v["source"]),
                    "flag": ref.get("flag", ""), "note": v.get("note", "")})
    return out


def _other_entry(material: str, options: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The first entry of a material composition with a finite `key` (primary first)."""
    entries = [e for e in experimental_table()
               if e["material"] == material and _same_options(dict(e.get("options", {})),
                                                               options)]
    entries.sort(key=lambda e: not e.get("primary", False))
    for e in entries:
        v = e.get(key)
        if isinstance(v, (int, float)) and math.isfinite(v):
            return e
    return None


@dataclass
class ValidationReport:
    """The rows of a validation: one per material case and temperature set.

    The keys follow ``kmc run --json``: ``<quantity>_<unit>`` and ``<quantity>_<unit>_err``
    (``sigma_S_cm``, ``sigma_S_cm_err`` per temperature; ``sigma_300K_S_cm``,
    ``sigma_300K_S_cm_err``, ``Ea_eV``, ``Ea_eV_err`` of the fit; ``experiment``:
    ``sigma_S_cm``, ``sigma_T_K``, ``Ea_eV``). Each row (and its ``experiment``) also holds
    the old keys of :data:`DEPRECATED_KEYS` this version, and :meth:`to_dict` lists them
    under ``deprecated_keys``.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    quick: bool = False

    def to_dict(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: clean(w) for k, w in v.items()}
            if isinstance(v, list):
                return [clean(w) for w in v]
            return v

        return {"quick": self.quick, "T_ref_K": 300.0, "rows": [clean(r) for r in self.rows],
                "deprecated_keys": dict(DEPRECATED_KEYS)}

    def table(self) -> str:
        """The printed table: simulated vs experimental, with the ratio and the sources."""
        head = (f"{'material':<28s} {'T range / K':<12s} {'regime':<10s} "
                f"{'sigma_sim(300 K) S/cm':<24s} {'Ea_sim / eV':<14s} {'sigma_exp S/cm':<15s} "
                f"{'Ea_exp / eV':<12s} {'sim/exp':<8s} source")
        lines = [head, "-" * len(head)]
        notes: list[str] = []
        for r in self.rows:
            s, se = r["sigma_300K_S_cm"], r["sigma_300K_S_cm_err"]
            ea, eae = r["Ea_eV"], r["Ea_eV_err"]
            exp = r.get("experiment") or {}
            ratio = r.get("ratio_sigma_sim_exp")
            t = r["temperatures_K"]
            exp_s = f"{exp['sigma_S_cm']:.3g}" if exp else "-"
            ea_exp = r.get("Ea_exp") or {}
            exp_ea = f"{ea_exp['Ea_eV']:.3f}" if ea_exp else "-"
            if ea_exp and ea_exp["reference"] != exp.get("reference"):
                exp_ea += "*"
                notes.append(f"* Ea_exp of {r['case']}: {ea_exp['reference']} "
                             f"({ea_exp['kind']}, {ea_exp['flag']})")
            hv = r.get("haven")
            if hv:
                notes.append(f"Haven ratio of {r['case']}: simulated {hv['sim']:.3g} +- "
                             f"{hv['sim_err']:.2g} at {hv['T_sim_K']:g} K, measured "
                             f"{hv['exp']:.3g} at {hv['T_exp_K']:g} K ({hv['reference']}, "
                             f"{hv['flag']})")
            rp = r.get("response")
            if rp:
                share = max((abs(v) / p["sigma_S_cm"] for p in rp["per_temperature"]
                             for v in p["sigma_zero_field_share_S_cm"]
                             if p["sigma_S_cm"] and math.isfinite(p["sigma_S_cm"])),
                            default=math.nan)
                notes.append(f"{r['case']}: sigma is the response to fields +E and -E along "
                             f"x, y, z (|E| = {rp['field_V_per_angstrom']:.3g} V/A), the mean "
                             "of the axes: the model violates detailed balance, so the "
                             "Nernst-Einstein sigma does not apply (kmc.field_response); the "
                             "zero-field current is up to "
                             f"{share:.2g} x sigma per axis")
            rat = f"{ratio:.3g}" if ratio is not None else "-"
            if not r.get("compared", True):
                rat = "n/a"
                notes.append(f"{r['case']}: not compared: no diffusive regime at "
                             + "; ".join(r.get("not_diffusive") or ["too few temperatures"]))
            trange = f"{min(t):g}-{max(t):g}"
            sim_s = f"{s:.3g} +- {se:.2g}" if s is not None and math.isfinite(s) else "-"
            sim_ea = f"{ea:.3f} +- {eae:.3f}" if ea is not None and math.isfinite(ea) else "-"
            regime = "diffusive" if r.get("diffusive", True) else "not diff."
            lines.append(f"{r['case']:<28s} {trange:<12s} {regime:<10s} {sim_s:<24s} "
                         f"{sim_ea:<14s} {exp_s:<15s} {exp_ea:<12s} {rat:<8s} "
                         f"{exp.get('reference', 'no tabulated value')}")
            for ref in r.get("computed_references") or []:
                rr = ref.get("ratio_sim_ref")
                lines.append(f"    computed reference: {ref['quantity']} at {ref['T_K']:g} K: sim "
                             f"{ref['sim']:.3g} +- {ref['sim_err']:.2g}, ref {ref['value']:.3g} "
                             f"({ref['method']}; {ref['reference']}, {ref['where']}, "
                             f"{ref['flag']}), sim/ref "
                             + (f"{rr:.3g}" if rr is not None else "n/a (not diffusive)"))
            if not r.get("computed_references"):
                lines.append("    computed reference: none in the material file")
        lines.extend(notes)
        lines.append("sigma_sim(300 K) and Ea_sim: weighted Arrhenius fit of sigma*T over the "
                     "temperature range; barriers from the cited calculations, not fitted.")
        return "\n".join(lines)


def _haven_row(case: Case, runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Simulated H_R at the run temperature nearest a measured Haven ratio, with that value."""
    e = _other_entry(case.material, case.options, "haven_ratio")
    if e is None:
        return None
    run = min(runs, key=lambda r: abs(r["T_K"] - float(e["sigma_T_K"])))
    return {"sim": run["haven_ratio"], "sim_err": run["haven_ratio_err"],
            "T_sim_K": run["T_K"], "exp": float(e["haven_ratio"]),
            "T_exp_K": float(e["sigma_T_K"]), "reference": e["reference"], "flag": e["flag"]}


def case_sweep(case: Case, *, quick: bool, seed: int, workers: int | None,
               output: str | os.PathLike[str], progress: bool,
               field_V_per_angstrom: Any = None, tag: str = "") -> SweepConfig:
    """The sweep of one validation case: the material at its temperatures, one run each.

    The case's master seed is derived from `seed` and the case's label
    (:func:`kmc.sweep.derive_seed`), so the cases do not share random streams and a case's
    numbers do not depend on which other cases run. Each run runs to a precision
    (:data:`TARGET_REL_ERR`, :data:`QUICK_TARGET_REL_ERR` for a quick validation) of sigma,
    capped at the case's hops; equilibration is a fifth of that cap.

    With `field_V_per_angstrom` (a response case's runs under a field, see
    :func:`response_sweeps`) each run has the case's hops exactly, and `tag` names the
    field in the derivation of the seed.
    """
    temps = case.temperatures_K[-3:] if quick else case.temperatures_K
    # and the temperatures of the computed references (compared, not fitted)
    extra = {r["T_K"] for r in computed_references(case.material, case.options)}
    temps = tuple(sorted(set(temps) | extra))
    size = case.quick_size if quick else case.size
    steps = case.quick_steps if quick else case.steps
    values: dict[str, Any] = {
        "lattice": case.material, **case.options, "temperature": [float(t) for t in temps],
        "equilibration": steps // 5, "blocks": 100,
        "seed": derive_seed(seed, 0.0, "validate", case.label + tag, 0), "output": str(output),
        "quiet": not progress}
    if field_V_per_angstrom is None:
        values.update(target_rel_err=QUICK_TARGET_REL_ERR if quick else TARGET_REL_ERR,
                      max_steps=max(steps, MIN_MAX_STEPS))
    else:
        values.update(steps=steps, field=[float(v) for v in field_V_per_angstrom])
    if size is not None:
        values["size"] = list(size) if isinstance(size, (tuple, list)) else size
    if workers is not None:
        values["workers"] = workers
    return SweepConfig.from_dict(values, where=f"validate {case.label}")


#: The runs of a response case: (axis, sign) of the field -> the sweep at that field.
ResponseSweeps = dict[tuple[int, int], SweepResult]


def response_field_V_per_angstrom(case: Case, *, quick: bool) -> float:
    """|E| of a response case's runs, V/Angstrom: x = |q| |E| a / (kB T) is
    :data:`RESPONSE_FIELD_PARAMETER` at the lowest temperature the case runs."""
    from .materials import build_material
    from .response import response_field_V_per_angstrom as field_for

    temps = case.temperatures_K[-3:] if quick else case.temperatures_K
    temps = tuple(temps) + tuple(r["T_K"] for r in computed_references(case.material,
                                                                        case.options))
    size = case.quick_size if quick else case.size
    net = build_material(case.material, size=size, **case.options).network
    return field_for(net, min(temps), RESPONSE_FIELD_PARAMETER)


def response_sweeps(case: Case, *, quick: bool, seed: int, workers: int | None,
                    folder: Path, name: str, progress: bool) -> ResponseSweeps:
    """Run a response case: one sweep over its temperatures per field, +E and -E along
    each axis (each sweep file ``<name>_E+x.h5`` etc. in `folder`, so that an interrupted
    validation continues). The runs of +E and -E have independent seeds."""
    E = response_field_V_per_angstrom(case, quick=quick)
    out: ResponseSweeps = {}
    for k in range(3):
        for sign in (1, -1):
            vec = [0.0, 0.0, 0.0]
            vec[k] = sign * E
            field = f"E{'+' if sign > 0 else '-'}{'xyz'[k]}"
            cfg = case_sweep(case, quick=quick, seed=seed, workers=workers,
                             output=folder / f"{name}_{field}{'_quick' if quick else ''}.h5",
                             progress=progress, field_V_per_angstrom=vec, tag=f" {field}")
            out[(k, sign)] = _run_case_sweep(cfg, f"{case.label} {field}")
    return out


def _run_case_sweep(cfg: SweepConfig, label: str) -> SweepResult:
    """Run one sweep of a validation case; a failed run stops the validation."""
    result = run_sweep(cfg)
    if result.failures:
        run_id, why = next(iter(result.failures.items()))
        raise KMCError(f"validation of {label}: run {run_id} failed: {why}")
    return result


def _by_temperature(sweep: SweepResult) -> dict[float, Any]:
    return {float(r.temperature_K): r for r in sweep.runs.values()}


def _response_at(runs: dict[tuple[int, int], dict[float, Any]], T: float) -> dict[str, Any]:
    """The response sigma at one temperature from the six runs (per field, per temperature),
    with each axis's response and zero-field share ((sigma(+E) - sigma(-E)) / 2), S/cm."""
    from .response import axis_response

    plus = [runs[(k, 1)][T].transport for k in range(3)]
    minus = [runs[(k, -1)][T].transport for k in range(3)]
    p = [t.sigma_drift_S_cm for t in plus]
    m = [t.sigma_drift_S_cm for t in minus]
    axis, axis_err, mean, mean_err = axis_response(
        p, [t.sigma_drift_S_cm_err for t in plus], m, [t.sigma_drift_S_cm_err for t in minus])
    return {"sigma_S_cm": mean, "sigma_S_cm_err": mean_err,
            "sigma_axes_S_cm": [float(v) for v in axis],
            "sigma_axes_S_cm_err": [float(v) for v in axis_err],
            "sigma_zero_field_share_S_cm": [float(0.5 * (a - b)) for a, b in zip(p, m)],
            "diffusive": all(bool(t.diffusive) for t in plus + minus),
            "regime": "; ".join(sorted({str(t.regime) for t in plus + minus
                                        if not t.diffusive}))}


def _reference_value(quantity: str, runs: list[Any]) -> tuple[float, float]:
    """A [[validation]] quantity from one run, or the mean of several (a response case's
    six runs at a temperature; their fields are weak), with its standard error."""
    vals = [tuple(float(u) for u in REFERENCE_QUANTITIES[quantity](r.transport)) for r in runs]
    v = float(np.mean([a for a, _ in vals]))
    e = float(math.sqrt(sum(b * b for _, b in vals)) / len(vals))
    return v, e


def _case_row(case: Case, sweep: SweepResult,
              response: ResponseSweeps | None = None) -> dict[str, Any]:
    """One row of the report: the case's runs, its Arrhenius fit, the experiment. For a
    response case `sweep` is the sweep of the field +E along x, and the sigma of each
    temperature comes from all six (`response`)."""
    every = sorted(sweep.runs.values(), key=lambda r: r.temperature_K)
    by_T = {} if response is None else {ks: _by_temperature(sw) for ks, sw in response.items()}
    resp = {float(r.temperature_K): _response_at(by_T, float(r.temperature_K))
            for r in every} if by_T else {}
    refs = computed_references(case.material, case.options)
    for ref in refs:  # the run at the reference's temperature
        run = min(every, key=lambda r: abs(r.temperature_K - ref["T_K"]))
        Tr = float(run.temperature_K)
        if response is not None and ref["quantity"] == "sigma_S_cm":
            v, e = resp[Tr]["sigma_S_cm"], resp[Tr]["sigma_S_cm_err"]
            diff = resp[Tr]["diffusive"]
        elif response is not None:
            six = [runs_at[Tr] for runs_at in by_T.values()]
            v, e = _reference_value(ref["quantity"], six)
            diff = all(bool(r.transport.diffusive) for r in six)
        else:
            v, e = _reference_value(ref["quantity"], [run])
            diff = bool(run.transport.diffusive)
        ref.update(sim=v, sim_err=e, T_sim_K=Tr, diffusive=diff,
                   ratio_sim_ref=v / ref["value"] if diff else None)
    # the Arrhenius fit is over the case's own temperatures only
    own = {float(t) for t in case.temperatures_K}
    runs = [r for r in every if float(r.temperature_K) in own] or every
    T = np.array([r.temperature_K for r in runs])
    if response is None:
        s = np.array([float(r.sigma_S_cm) for r in runs])
        e = np.array([float(r.sigma_S_cm_err) for r in runs])
        diffusive = [bool(r.transport.diffusive) for r in runs]
        regimes = [str(r.transport.regime) for r in runs]
    else:
        s = np.array([resp[float(t)]["sigma_S_cm"] for t in T])
        e = np.array([resp[float(t)]["sigma_S_cm_err"] for t in T])
        diffusive = [resp[float(t)]["diffusive"] for t in T]
        regimes = [resp[float(t)]["regime"] for t in T]
    ok = np.isfinite(s) & (s > 0) & np.isfinite(e) & (e > 0) & np.array(diffusive)
    if ok.sum() >= 2:
        fit = fit_arrhenius(T[ok], s[ok], e[ok], quantity="sigma", T_ref_K=300.0)
        s300, s300e, ea, eae = fit.value_ref, fit.value_ref_err, fit.Ea_eV, fit.Ea_err_eV
        chi2 = fit.reduced_chi2
    else:
        s300 = s300e = ea = eae = chi2 = float("nan")
    exp = experimental_reference(case.material, case.options)
    compared = bool(all(diffusive) and ok.sum() >= 2)  # a number only where every run has one
    ratio = s300 / exp["sigma_S_per_cm"] if exp and math.isfinite(s300) and compared \
        else None
    not_diffusive = [f"{t:g} K: {reg}" for t, reg, d in zip(T, regimes, diffusive) if not d]
    ea_entry = _other_entry(case.material, case.options, "Ea_eV")
    # (a response case has no Haven ratio: its D_sigma is not the conductivity's)
    per_run = [{"T_K": r.temperature_K,
                "haven_ratio": float(r.haven_ratio) if response is None else math.nan,
                "haven_ratio_err": float(r.haven_ratio_err) if response is None else math.nan}
               for r in runs]
    # the data file's sigma_S_per_cm (its own schema) is the JSON's sigma_S_cm
    experiment = None if exp is None else {
        ("sigma_S_cm" if k == "sigma_S_per_cm" else k): exp.get(k)
        for k in ("formula", "sigma_S_per_cm", "sigma_T_K", "Ea_eV", "kind", "method",
                  "reference", "doi", "via", "flag")}
    row = {
        "case": case.label, "material": case.material, "options": dict(case.options),
        "temperatures_K": [float(t) for t in T],
        "sigma_S_cm": [float(v) for v in s], "sigma_S_cm_err": [float(v) for v in e],
        "haven_ratio": [r["haven_ratio"] for r in per_run],
        "n_sites": runs[0].n_sites, "n_ions": runs[0].n_ions,
        "dimensionality": runs[0].dimensionality, "seeds": [r.seed for r in runs],
        "sigma_300K_S_cm": float(s300), "sigma_300K_S_cm_err": float(s300e),
        "Ea_eV": float(ea), "Ea_eV_err": float(eae), "reduced_chi2": float(chi2),
        "experiment": experiment,
        "ratio_sigma_sim_exp": ratio,
        "Ea_exp": None if ea_entry is None else {
            k: ea_entry.get(k) for k in ("Ea_eV", "kind", "reference", "flag")},
        "ratio_Ea_sim_exp": (ea / ea_entry["Ea_eV"] if ea_entry is not None
                             and math.isfinite(ea) else None),
        "haven": _haven_row(case, per_run) if response is None else None,
        "conductivity": case.conductivity,
        "response": None if response is None else {
            "field_V_per_angstrom": float(np.linalg.norm(every[0].field_V_per_angstrom)),
            "per_temperature": [{"T_K": float(t), **resp[float(t)]} for t in T]},
        "computed_references": refs,
        "regime": ("diffusive" if all(diffusive) else
                   "not diffusive at " + ", ".join(f"{t:g} K" for t, d in zip(T, diffusive)
                                                   if not d)),
        "diffusive": all(diffusive), "compared": compared,
        "converged": [bool(r.converged) for r in runs], "not_diffusive": not_diffusive,
        "sigma_S_cm_upper": ([float(r.transport.sigma_S_cm_upper) for r in runs]
                             if response is None else [math.nan] * len(runs)),
    }
    for d in (row, experiment or {}):  # the old keys, this version only
        d.update({old: d[new] for old, new in DEPRECATED_KEYS.items() if new in d})
    return row


def run_validation(*, quick: bool = False, workers: int | None = None, seed: int = 0,
                   cases: tuple[Case, ...] | None = None, progress: bool = True,
                   output_dir: str | os.PathLike[str] | None = None) -> ValidationReport:
    """Simulate every case at its temperatures, fit, and compare with the table.

    Each case is a sweep (:func:`kmc.run_sweep`: the local process pool, the sweep's seeds
    and checkpoints) over its temperatures; see :func:`case_sweep`.

    Parameters
    ----------
    quick : bool
        Short runs at the three highest temperatures (about a minute on 2 cores).
    workers : int, optional
        Worker processes (default: the number of cores).
    seed : int
        Master seed of the validation; each case's sweep derives its own from it.
    cases : tuple of Case, optional
        The cases (default :data:`CASES`).
    progress : bool
        Progress bars on stderr.
    output_dir : path, optional
        Keep each case's sweep file there (``<case>.h5``); running the same validation again
        continues it and recomputes nothing that finished. Default: a temporary directory,
        removed at the end.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed = {seed!r} must be an integer >= 0")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ConfigError(f"workers = {workers!r} must be an integer >= 1")
    cases = CASES if cases is None else cases
    with contextlib.ExitStack() as stack:
        if output_dir is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix="kmc-validate-")))
        else:
            folder = Path(output_dir)
            if not folder.is_dir():
                raise ConfigError(f"output_dir {str(folder)!r} is not a directory")
        report = ValidationReport(quick=quick)
        for case in cases:
            name = "".join(ch if ch.isalnum() else "_" for ch in case.label).strip("_")
            if case.conductivity == "response":
                resp = response_sweeps(case, quick=quick, seed=seed, workers=workers,
                                       folder=folder, name=name, progress=progress)
                report.rows.append(_case_row(case, resp[(0, 1)], resp))
                continue
            cfg = case_sweep(case, quick=quick, seed=seed, workers=workers,
                             output=folder / f"{name}{'_quick' if quick else ''}.h5",
                             progress=progress)
            report.rows.append(_case_row(case, _run_case_sweep(cfg, case.label)))
    return report
