"""The ``kmc`` command line.

::

    kmc run LATTICE|CONFIG.toml [options]     one run: D*, D_sigma, f, Haven ratio, sigma
    kmc run polycrystal --material NAME (--grain-size-nm G | --n-grains N) [options]
    kmc run composite --material NAME --fraction PHI [options]
                                              a microstructure and its bulk: sigma_eff
    kmc run --resume FILE.h5 [--json]         finish an interrupted run
    kmc sweep LATTICE|CONFIG.toml -T 300,400,500 [--replicas R] [--workers N]
              [--scheduler ADDRESS] [--output FILE.h5]
    kmc arrhenius FILE.h5 [...] [--json] [--plot arrhenius.png]
    kmc plot FILE.h5 [--to FIGURE.png]
    kmc lattices [show NAME]
    kmc validate [--quick] [--json] [--case NAME ...]

A microstructure run (:mod:`kmc.microstructure`) is two runs with the same seed and plan:
the polycrystal or composite, then its bulk (``--output FILE.h5`` writes FILE.h5 and
FILE.bulk.h5); it prints the microstructure run and the effective conductivity beside the
bulk's, the resistor-network and brick-layer predictions (polycrystal) or the tortuosity
(composite). ``kmc plot`` draws a microstructure run's grains, and sigma_eff against the
grain size or the conducting fraction of a sweep over them.

Every option of ``run`` and ``sweep`` can also be set in a TOML config file (see
:mod:`kmc.config`); an option on the command line wins. User errors print one line on
stderr and exit with status 2 (``--debug`` shows the traceback instead); a run stopped
by Ctrl-C or SIGTERM writes its checkpoint, prints what it finished and exits with
128 + the signal number.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__, assemble, io
from .arrhenius import fit_arrhenius, plot_arrhenius, plot_msd
from .builders import LATTICES
from .config import (
    MICROSTRUCTURES,
    OPTIONS,
    Output,
    RunConfig,
    bulk_output_path,
    run_config,
    sweep_config,
)
from .errors import ConfigError, KMCError, RunInterrupted
from .materials import describe_material, list_materials, material_spec
from .plots import (
    GRAIN_AXES,
    plot_composition,
    plot_fraction,
    plot_grain_size,
    plot_microstructure,
)
from .results import ARRHENIUS_QUANTITIES, SweepResult
from .simulation import resume
from .structures import describe_structure, is_structure_file
from .sweep import run_sweep
from .validate import run_validation, select_cases

__all__ = ["main"]

#: Options that --resume accepts (the rest of the run is fixed by its file).
_RESUME_OPTIONS = ("json", "quiet", "checkpoint_interval", "summary_json", "output")


class _UsageError(Exception):
    """Bad command-line usage (reported like a ConfigError)."""


class _SubparserFactory:
    """``add_parser`` of an argparse subparsers action, with common parent options."""

    def __init__(self, action: Any, *parents: argparse.ArgumentParser) -> None:
        self.action, self.parents = action, list(parents)

    def add_parser(self, name: str, **kw: Any) -> argparse.ArgumentParser:
        return self.action.add_parser(name, parents=self.parents, **kw)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        raise _UsageError(message)


#: Largest magnitude an integer option takes in exponent form (a float holds it exactly
#: only below 2**53; a count is far smaller in practice).
_INT_LIMIT = 2**53


def _int(text: str) -> int:
    """argparse type of an integer option: also in exponent form when exact (``1e6``)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not (math.isfinite(x) and x.is_integer()) or abs(x) > _INT_LIMIT:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r} (not a whole number)")
    return int(x)


_int.__name__ = "int"


def _number_list(kind: Any) -> Any:
    """argparse type: one number or a comma-separated list of them."""
    def parse(text: str) -> Any:
        items = [t.strip() for t in text.split(",")]
        if not all(items):
            raise argparse.ArgumentTypeError(f"invalid list {text!r}")
        try:
            values = [kind(t) for t in items]
        except (ValueError, argparse.ArgumentTypeError):
            raise argparse.ArgumentTypeError(
                f"invalid {kind.__name__} value in {text!r}") from None
        return values if len(values) > 1 or "," in text else values[0]

    parse.__name__ = f"{kind.__name__} list"
    return parse


def _mapping(text: str) -> dict[str, float]:
    """argparse type of a table option: NAME=NUMBER,NAME=NUMBER (ranges checked later)."""
    out: dict[str, float] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None  # type: ignore[assignment]
        if not sep or not name.strip() or number is None:
            raise argparse.ArgumentTypeError(f"invalid {item.strip()!r} in {text!r}: give "
                                             "NAME=NUMBER,NAME=NUMBER")
        out[name.strip()] = number
    return out


def _size(text: str) -> Any:
    """argparse type of --size: N, or N0,N1,N2 along the three cell vectors."""
    items = [t.strip() for t in text.split(",")]
    try:
        values = [_int(t) for t in items]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"invalid size {text!r} (N or N0,N1,N2)") from None
    if len(values) not in (1, 3):
        raise argparse.ArgumentTypeError(f"invalid size {text!r} (N or N0,N1,N2)")
    return values[0] if len(values) == 1 else values


def _add_options(p: argparse.ArgumentParser, command: str) -> None:
    """The options of the config schema, all with default None (= not given)."""
    comp = p.add_mutually_exclusive_group()
    for key, opt in OPTIONS.items():
        if key == "lattice" or command not in opt.commands:
            continue
        flags = [opt.flag] + ([opt.short] if opt.short else [])
        target = comp if key in ("occupancy", "ions", "vacancies") else p
        kind = {"int": _int, "float": float, "str": str}.get(opt.kind)
        kw: dict[str, Any] = {"dest": key, "default": None, "help": opt.help}
        if opt.kind == "bool":
            kw["action"] = argparse.BooleanOptionalAction
        elif opt.kind == "names":
            kw.update(type=str, metavar=opt.metavar)
        elif opt.kind == "vec3":
            kw.update(type=float, nargs=3, metavar=("EX", "EY", "EZ"))
        elif opt.kind == "size":
            kw.update(type=_size, metavar=opt.metavar)
        elif opt.kind == "mapping":
            kw.update(type=_mapping, metavar=opt.metavar)
        else:
            kw.update(type=_number_list(kind) if (opt.listable and command == "sweep")
                      else kind, metavar=opt.metavar)
            if opt.listable and command == "sweep":
                kw["help"] += "; a comma-separated list sweeps it"
        target.add_argument(*flags, **kw)


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kmc", description="Kinetic Monte Carlo of ion transport in solids.")
    p.add_argument("--version", action="version", version=f"kmc {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    # --debug is also accepted after the command (kmc run sc --debug)
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks on errors")
    sub = _SubparserFactory(sub, debug)

    r = sub.add_parser("run", help="run one simulation",
                       description="Run one KMC simulation on a standard lattice, from a "
                       "config file, or continue one (--resume).")
    r.add_argument("what", nargs="?", metavar="LATTICE|STRUCTURE|CONFIG.toml",
                   help="a material (see `kmc lattices`), one of: " + ", ".join(LATTICES)
                   + "; " + " or ".join(MICROSTRUCTURES) + " (with --material NAME); a "
                   "structure file ASE reads (CIF, POSCAR, extxyz, ...; with --species X "
                   "--cutoff ANGSTROM); kmcpy (kMCpy's input files: --structure, --model, "
                   "--events, --initial-state, --supercell); or a TOML config file")
    r.add_argument("--resume", metavar="FILE.h5", default=None,
                   help="continue the interrupted run in FILE.h5 and print its results")
    _add_options(r, "run")
    r.set_defaults(func=_cmd_run)

    s = sub.add_parser("sweep", help="temperatures x compositions x replicas",
                       description="Run independent simulations over temperatures, "
                       "compositions and replicas on a local process pool or a dask cluster; "
                       "the same command again continues an interrupted sweep.")
    s.add_argument("what", nargs="?", metavar="LATTICE|STRUCTURE|CONFIG.toml",
                   help="a material (see `kmc lattices`), one of: " + ", ".join(LATTICES)
                   + "; " + " or ".join(MICROSTRUCTURES) + " (with --material NAME); a "
                   "structure file (with --species X --cutoff ANGSTROM); kmcpy (kMCpy's "
                   "input files: --structure, --model, --events, --initial-state, "
                   "--supercell); or a TOML config file")
    _add_options(s, "sweep")
    s.set_defaults(func=_cmd_sweep)

    a = sub.add_parser("arrhenius", help="Arrhenius fit of a sweep's conductivities",
                       description="Fit sigma T = A exp(-Ea / kB T) (or D = D0 exp(-Ea / kB T)) "
                       "by weighted least squares to the runs of sweep or run files.")
    a.add_argument("files", nargs="+", metavar="FILE.h5", help="sweep or run files")
    a.add_argument("--quantity", choices=("sigma", "D_tracer", "D_sigma"), default="sigma",
                   help="what to fit (default sigma, in the sigma*T convention)")
    a.add_argument("--composition", type=float, default=None, metavar="VALUE",
                   help="the composition to fit, when the sweep has several")
    a.add_argument("--T-ref", dest="T_ref", type=float, default=300.0, metavar="KELVIN",
                   help="temperature of the extrapolated value, K (default 300)")
    a.add_argument("--plot", default=None, metavar="FIGURE.png",
                   help="draw log10(sigma) vs 1000/T with the fit (.png, .pdf or .svg)")
    a.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    a.set_defaults(func=_cmd_arrhenius)

    pl = sub.add_parser("plot", help="plot a run (MSD vs time; a microstructure's grains) "
                        "or a sweep (Arrhenius; sigma_eff vs grain size or fraction)")
    pl.add_argument("file", metavar="FILE.h5")
    pl.add_argument("--to", dest="figure", default=None, metavar="FIGURE.png",
                    help="figure file (default: FILE.msd.png, FILE.microstructure.png, "
                    "FILE.arrhenius.png, FILE.grain_size.png or FILE.fraction.png)")
    pl.set_defaults(func=_cmd_plot)

    ls = sub.add_parser("lattices", help="list the materials and standard lattices",
                        description="List the materials (name, formula, space group, source) "
                        "and the standard lattices; `kmc lattices show NAME` prints a "
                        "material's sites, hop types, barriers and their sources.")
    ls.add_argument("action", nargs="?", choices=("show",), help="show one material")
    ls.add_argument("name", nargs="?", metavar="NAME|FILE",
                    help="the material, standard lattice or structure file to show")
    ls.add_argument("--species", default=None, metavar="X",
                    help="structure file: the mobile species (Li, Na, ...)")
    ls.add_argument("--cutoff", type=float, default=None, metavar="ANGSTROM",
                    help="structure file: the longest hop, Angstrom")
    ls.add_argument("--size", type=_size, default=None, metavar="L",
                    help="structure file: the supercell (default: the smallest that "
                    "satisfies the minimum-image condition)")
    ls.set_defaults(func=_cmd_lattices)

    v = sub.add_parser("validate", help="simulated vs tabulated conductivities",
                       description="For each material, simulate sigma over a temperature "
                       "range, fit the Arrhenius law and print sigma(300 K) and Ea beside "
                       "the tabulated experimental values and their sources.")
    v.add_argument("--quick", action="store_true",
                   help="small cells and short runs (under two minutes on 2 cores)")
    v.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    v.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes (default: number of cores)")
    v.add_argument("--seed", type=int, default=0, metavar="S", help="master seed (default 0)")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    v.add_argument("--output-dir", default=None, metavar="DIR",
                   help="keep each case's sweep file in DIR (the same command again "
                   "continues it); default: a temporary directory")
    v.add_argument("--case", action="append", default=None, metavar="NAME",
                   help="run only this material ('argyrodite') or case ('argyrodite "
                   "(halogen=Cl)', as printed); repeat for more (default: all)")
    v.set_defaults(func=_cmd_validate)
    return p


def _cli_values(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in OPTIONS if hasattr(args, k)}


# --------------------------------------------------------------------------- #
# progress
# --------------------------------------------------------------------------- #
class _HopBar:
    """A tqdm bar of hops on stderr (off with --quiet, or when stderr is not a terminal)."""

    def __init__(self, total: int | None, initial: int, quiet: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, initial=initial, unit="hop", unit_scale=True,
                        desc="kmc run", disable=True if quiet else None, delay=1.0,
                        dynamic_ncols=True, leave=False, file=sys.stderr)

    def __call__(self, n: int) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


# --------------------------------------------------------------------------- #
# commands
# --------------------------------------------------------------------------- #
def _report(result: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_dict()))
    else:
        print(result.summary())


def _interrupt_status(signum: int | None) -> int:
    return 128 + int(signum or signal.SIGINT)


def _twice(hops: int | None) -> int | None:
    """A microstructure pair's hops: its run's and its bulk's (None: not known ahead, a run
    to a precision)."""
    return None if hops is None else 2 * hops


def _write_json_beside(output: str | None, summary: dict[str, Any]) -> None:
    if output is not None:
        io.write_json(summary, io.json_path(output))


def _cmd_run(args: argparse.Namespace) -> int:
    if args.resume is not None:
        return _cmd_resume(args)
    cfg = run_config(args.what, _cli_values(args))
    if cfg.plan.response:
        return _response_report(cfg)
    out = cfg.output
    if out.summary_json and out.path is None:
        raise ConfigError("--summary-json needs --output FILE.h5 (the JSON goes beside it)")
    if cfg.model.microstructure_kind is not None:
        bar = _HopBar(_twice(cfg.plan.total_hops), 0, out.quiet)
        return _report_pair(lambda: assemble.run_with_bulk(cfg, progress=bar), bar, out)
    bar = _HopBar(cfg.plan.total_hops, 0, out.quiet)
    return _run_and_report(lambda: assemble.run(cfg, progress=bar), bar, out.path, out.json,
                           out.summary_json)


def _response_report(cfg: Any) -> int:
    """``kmc run --response``: the six runs of kmc.field_response, then their table (or
    JSON)."""
    r = assemble.response(cfg)
    first = r.runs[0]
    axes = "xyz"
    rows = []
    for i, k in enumerate(r.axes):
        for j, sign in enumerate((1, -1)):
            t = r.runs[2 * i + j].transport
            rows.append({"axis": axes[k], "sign": sign,
                         "sigma_drift_S_cm": float(t.sigma_drift_S_cm),
                         "sigma_drift_S_cm_err": float(t.sigma_drift_S_cm_err),
                         "D_tracer_cm2_s": float(t.D_tracer_cm2_s),
                         "diffusive": bool(t.diffusive), "seed": r.runs[2 * i + j].seed})
    summary = {"network_name": first.network_name, "n_sites": first.n_sites,
               "n_ions": first.n_ions, "temperature_K": first.temperature_K,
               "steps": cfg.plan.steps, "field_V_per_angstrom": r.field_V_per_angstrom,
               "field_parameter": r.field_parameter, "sigma_S_cm": r.sigma_S_cm,
               "sigma_S_cm_err": r.sigma_S_cm_err,
               "sigma_axes_S_cm": [float(v) for v in r.sigma_axes_S_cm],
               "sigma_axes_S_cm_err": [float(v) for v in r.sigma_axes_S_cm_err],
               "runs": rows}
    if cfg.output.json:
        print(json.dumps(summary, indent=1))
        return 0
    print(f"kmc run --response: {first.network_name}, {first.n_ions} ions on "
          f"{first.n_sites} sites, T = {first.temperature_K:g} K, |E| = "
          f"{r.field_V_per_angstrom:.3g} V/A (qEa/kT = {r.field_parameter:g}), six runs of "
          f"{cfg.plan.steps} hops")
    print(f"  {'axis':<6s}{'sigma(+E) S/cm':>24s}{'sigma(-E) S/cm':>24s}"
          f"{'response S/cm':>24s}")
    for i, k in enumerate(r.axes):
        p, m = rows[2 * i], rows[2 * i + 1]
        print(f"  {axes[k]:<6s}"
              f"{p['sigma_drift_S_cm']:>13.4g} +/- {p['sigma_drift_S_cm_err']:<7.2g}"
              f"{m['sigma_drift_S_cm']:>13.4g} +/- {m['sigma_drift_S_cm_err']:<7.2g}"
              f"{r.sigma_axes_S_cm[i]:>13.4g} +/- {r.sigma_axes_S_cm_err[i]:<7.2g}")
    print(f"  conductivity (response, mean of the axes)  {r.sigma_S_cm:.5g} +/- "
          f"{r.sigma_S_cm_err:.2g} S/cm")
    if not all(row["diffusive"] for row in rows):
        print("  warning: not every run reached a diffusive regime; allow more --steps")
    return 0


def _run_and_report(call: Callable[[], Any], bar: _HopBar, output: str | None,
                    as_json: bool, summary_json: bool) -> int:
    """Run `call` (a run or a resume) under its progress bar; print; return the status."""
    try:
        result = call()
    except RunInterrupted as exc:
        bar.close()
        _interrupted_note(output)
        return _interrupt_status(exc.signum)
    finally:
        bar.close()
    _report(result, as_json)
    if result.interrupted:
        _interrupted_note(output)
        return _interrupt_status(result.stop_signal)
    if summary_json:
        _write_json_beside(output, result.to_dict())
    return 0


def _interrupted_note(output: str | None) -> None:
    if output is not None:
        print(f"kmc: interrupted; the checkpoint is in {output}; continue with: "
              f"kmc run --resume {output}", file=sys.stderr)
    else:
        print("kmc: interrupted (no --output file, so it cannot be continued)",
              file=sys.stderr)


def _cmd_resume(args: argparse.Namespace) -> int:
    given = [OPTIONS[k].flag for k, v in _cli_values(args).items()
             if v is not None and k not in _RESUME_OPTIONS]
    if args.what is not None:
        given.insert(0, repr(args.what))
    if given:
        raise ConfigError(f"--resume continues the run as it was set up; drop {given[0]}")
    if args.output is not None:
        raise ConfigError("--resume writes to the file it continues; drop --output")
    rec = io.read_run(args.resume)
    stored = rec.config or {}
    overrides = {k: getattr(args, k) for k in ("json", "quiet", "checkpoint_interval",
                                               "summary_json") if getattr(args, k) is not None}
    if stored.get("lattice") in MICROSTRUCTURES:
        cfg = RunConfig.from_stored(stored, f"{args.resume} (config)", **overrides,
                                    output=args.resume)
        bar = _HopBar(_twice(cfg.plan.total_hops), assemble.hops_done(cfg),
                      cfg.output.quiet)
        return _report_pair(
            lambda: assemble.resume_with_bulk(args.resume, progress=bar, **overrides), bar,
            cfg.output)

    def opt(key: str) -> Any:
        return overrides.get(key, stored.get(key, OPTIONS[key].default))

    bar = _HopBar(rec.hops_planned, rec.hops_done, bool(opt("quiet")))
    return _run_and_report(
        lambda: resume(args.resume, progress=bar,
                       checkpoint_interval_s=float(opt("checkpoint_interval"))),
        bar, args.resume, bool(opt("json")), bool(opt("summary_json")))


# --------------------------------------------------------------------------- #
# microstructure runs: the microstructure, then its bulk
# --------------------------------------------------------------------------- #
def _report_pair(call: Callable[[], assemble.MicrostructureRun], bar: _HopBar,
                 out: Output) -> int:
    """Run a microstructure + bulk pair (or continue it) under its bar; print; status."""
    try:
        try:
            pair = call()
        except RunInterrupted as exc:  # the microstructure run stopped before 2 blocks
            bar.close()
            _pair_interrupted_note(out.path)
            return _interrupt_status(exc.signum)
    finally:
        bar.close()
    if pair.interrupted:
        if pair.result is not None:
            _report(pair.result, out.json)  # what finished: the microstructure run
        _pair_interrupted_note(out.path)
        return _interrupt_status(pair.stop_signal)
    summary = pair.comparison
    assert summary is not None and pair.result is not None
    if out.json:
        print(json.dumps(summary))
    else:
        print(pair.result.summary())
        print(_microstructure_table(summary, pair.result.to_dict()["warnings"]))
    if out.summary_json:
        _write_json_beside(out.path, summary)
    return 0


def _pair_interrupted_note(output: str | None) -> None:
    if output is None:
        _interrupted_note(None)
        return
    files = [f for f in (output, bulk_output_path(output)) if f and Path(f).exists()]
    print(f"kmc: interrupted; the checkpoints are in {' and '.join(files)}; continue "
          f"with: kmc run --resume {output}", file=sys.stderr)


def _microstructure_table(s: dict[str, Any], printed: Sequence[str] = ()) -> str:
    """The side-by-side block printed after a microstructure run's summary (warnings not
    in `printed`, the ones that summary showed already)."""
    def row(label: str, value: Any, err: Any = None, unit: str = "S/cm") -> str:
        v = "n/a" if value is None else f"{value:.5g}"
        e = "" if err is None else f"+/- {err:<9.2g}"
        return f"  {label:<32s} {v:>12s} {e:<13s} {unit}"

    lines = []
    if s["microstructure"] == "polycrystal":
        lines.append(f"polycrystal ({s['arrangement']}): {s['n_grains']} grains, mean grain "
                     f"size {s['grain_size_nm']:.3g} nm, boundary sites "
                     f"{100 * s['gb_site_fraction']:.3g} %")
    else:
        d, db = s["conducting_dimensionality"], s["bulk_dimensionality"]
        perc = (f"the conducting phase percolates (d = {d} of {db})" if d > 0 else
                "the conducting phase does not percolate (sigma_eff = 0)")
        lines.append(f"composite ({s['arrangement']}): conducting fraction "
                     f"{s['conducting_fraction']:.3g}; {perc}")
    lines += [row("sigma bulk (KMC)", s["sigma_bulk_S_cm"], s["sigma_bulk_S_cm_err"]),
              row("sigma_eff (KMC)", s["sigma_eff_S_cm"], s["sigma_eff_S_cm_err"])]
    if s["microstructure"] == "polycrystal":
        lines += [row("sigma_eff (resistor network)", s["sigma_network_S_cm"]),
                  row("sigma_eff (brick layer)", s["sigma_brick_layer_S_cm"])]
    else:
        lines.append(row("tortuosity tau", s["tortuosity"],
                         s["tortuosity_err"], ""))
    lines += [f"  warning: {w}" for w in s["warnings"] if w not in printed]
    lines += [f"  warning (bulk run): {w}" for w in s["bulk"]["warnings"]]
    return "\n".join(lines)


def _cmd_sweep(args: argparse.Namespace) -> int:
    cfg = sweep_config(args.what, _cli_values(args))
    try:
        result = run_sweep(cfg)
    except RunInterrupted as exc:
        print(f"kmc: {exc}", file=sys.stderr)
        return _interrupt_status(exc.signum)
    summary = result.to_dict()
    if cfg.output.json:
        print(json.dumps(summary))
    else:
        print(result.summary())
    if cfg.output.summary_json:
        _write_json_beside(cfg.output.path, summary)
    if result.failures:
        first, why = next(iter(result.failures.items()))
        print(f"kmc: error: {len(result.failures)} of {len(result.failures) + result.n_runs} "
              f"runs failed (first: {first}: {why}); the others are in {cfg.output.path}",
              file=sys.stderr)
        return 1
    return 0


def _arrhenius_fits(files: Sequence[str], quantity: str, composition: float | None,
                    T_ref_K: float) -> list[tuple[str, Any]]:
    """(label, fit) for each composition of the given sweep/run files."""
    sweeps = []
    loose: list[Any] = []
    for f in files:
        result = io.load(f)
        (sweeps if isinstance(result, SweepResult) else loose).append(result)
    fits = []
    for sw in sweeps:
        comps = sw.compositions()
        chosen = comps if composition is None else [c for c in comps
                                                    if math.isclose(float(c[1]), composition)]
        if not chosen:
            raise ConfigError(f"--composition {composition:g} is not in {sw.path} (it has "
                              + ", ".join(f"{k}={v:g}" for k, v in comps) + ")")
        for key, value in chosen:
            fits.append((f"{key}={value:g}", sw.arrhenius(value, quantity=quantity,
                                                          T_ref_K=T_ref_K)))
    if loose:
        k = ARRHENIUS_QUANTITIES[quantity]
        rows = sorted((r.temperature_K, getattr(r, k), getattr(r, k + "_err")) for r in loose)
        fits.append(("runs", fit_arrhenius([t for t, _, _ in rows], [v for _, v, _ in rows],
                                           [e for _, _, e in rows],
                                           quantity="sigma" if quantity == "sigma" else "D",
                                           T_ref_K=T_ref_K)))
    return fits


def _cmd_arrhenius(args: argparse.Namespace) -> int:
    fits = _arrhenius_fits(args.files, args.quantity, args.composition, args.T_ref)
    if args.plot is not None:
        plot_arrhenius([f for _, f in fits], args.plot, labels=[label for label, _ in fits])
    if args.json:
        dicts = [{"label": label, **fit.to_dict()} for label, fit in fits]
        out = dicts[0] if len(dicts) == 1 else {"fits": dicts}
        out["deprecated_keys"] = {k: v for _, fit in fits
                                  for k, v in fit.deprecated_keys().items()}
        print(json.dumps(out))
    else:
        for label, fit in fits:
            print(f"{label}:")
            print(fit.summary())
        if args.plot is not None:
            print(f"plot: {args.plot}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if io.file_format(path) == io.SWEEP_FORMAT:
        sw = io.load(path)
        axis = sw.config.get("composition_key")
        if sw.microstructure_kind is not None and axis in GRAIN_AXES:
            figure = args.figure or str(path.with_suffix(".grain_size.png"))
            plot_grain_size(sw, figure)
        elif sw.microstructure_kind is not None and axis == "fraction":
            figure = args.figure or str(path.with_suffix(".fraction.png"))
            plot_fraction(sw, figure)
        elif len({s["temperature_K"] for s in sw.specs.values()}) < 2:
            figure = args.figure or str(path.with_suffix(".composition.png"))
            plot_composition(sw, figure)  # one temperature: no Arrhenius plot
        else:
            fits = [(f"{k}={v:g}", sw.arrhenius(v)) for k, v in sw.compositions()]
            figure = args.figure or str(path.with_suffix(".arrhenius.png"))
            plot_arrhenius([f for _, f in fits], figure, labels=[label for label, _ in fits])
        print(figure)
        return 0
    stored = io.read_run(path).config or {}
    if stored.get("lattice") in MICROSTRUCTURES:  # the grains, rebuilt from the config
        cfg = RunConfig.from_stored(stored, f"{path} (config)")
        figure = args.figure or str(path.with_suffix(".microstructure.png"))
        plot_microstructure(assemble.microstructure(cfg.model), figure)
    else:
        res = io.load(path)
        figure = args.figure or str(path.with_suffix(".msd.png"))

        def line(D: float) -> float | None:  # a 2 d D t line only for a positive D
            return D if math.isfinite(D) and D > 0 else None

        fine = "collective_fine_A2" in res.msd  # the collective fit's own lags
        plot_msd(res.msd["time_s"], res.msd["tracer_A2"], figure,
                 msd_collective_A2=res.msd["collective_fine_A2" if fine else "collective_A2"],
                 collective_time_s=res.msd["collective_fine_time_s"] if fine else None,
                 D_tracer_cm2_s=line(res.D_tracer_cm2_s),
                 D_sigma_cm2_s=line(res.D_sigma_cm2_s), dimensionality=res.dimensionality,
                 title=f"{res.network_name}, {res.n_ions} ions, T = {res.temperature_K:g} K",
                 fit_range_s=res.msd.get("fit_range_s"),
                 intercepts_A2=res.msd.get("intercepts_A2"),
                 alpha_tracer=res.msd.get("alpha_tracer"))
    print(figure)
    return 0


def _cmd_lattices(args: argparse.Namespace) -> int:
    if args.action == "show":
        if args.name is None:
            raise ConfigError("kmc lattices show needs a NAME (one of: "
                              + ", ".join(list_materials()) + ")")
        if args.name.strip().lower() in LATTICES:
            func = LATTICES[args.name.strip().lower()]
            print((func.__doc__ or "").strip())
            return 0
        if is_structure_file(args.name):
            if args.species is None or args.cutoff is None:
                raise ConfigError(f"kmc lattices show {args.name} needs --species X and "
                                  "--cutoff ANGSTROM (the mobile ion and the longest hop)")
            print(describe_structure(args.name, args.species, args.cutoff, size=args.size))
            return 0
        print(describe_material(args.name))
        return 0
    if args.name is not None:
        raise ConfigError(f"unexpected {args.name!r}; did you mean: kmc lattices show "
                          f"{args.name}?")
    print("materials:")
    for name in list_materials():
        spec = material_spec(name)
        print(f"  {name:<13s} {spec.formula:<26s} {spec.spacegroup:<20s} "
              f"{spec.short_cite(spec.data['structure']['source'])}")
    print("standard lattices:")
    for name, func in LATTICES.items():
        doc = (func.__doc__ or "").strip().splitlines()
        print(f"  {name:<13s} {doc[0] if doc else ''}")
    print("microstructures (of a material or standard lattice: --material NAME):")
    print(f"  {'polycrystal':<13s} grains with boundary barrier/energy offsets "
          "(--grain-size-nm NM or --n-grains N)")
    print(f"  {'composite':<13s} the bulk with blocking regions (--fraction PHI)")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    cases = None if args.case is None else select_cases(args.case)
    report = run_validation(quick=args.quick, workers=args.workers, seed=args.seed,
                            progress=not args.quiet, output_dir=args.output_dir, cases=cases)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(report.table())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kmc`` command; returns the exit status."""
    parser = _build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return int(args.func(args))
    except (_UsageError, ConfigError, ValueError, TypeError, FileNotFoundError,
            KMCError) as exc:
        if debug:
            raise
        msg = " ".join(str(exc).split())  # always one line
        print(f"kmc: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kmc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `kmc lattices | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
