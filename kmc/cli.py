"""The ``kmc`` command line.

``kmc run LATTICE ...`` runs one simulation on a standard lattice and prints D*,
D_sigma, the correlation factor, the Haven ratio and the conductivity with their
errors (a table, or one JSON object with ``--json``). ``kmc lattices`` lists the
lattices. User errors print one line on stderr and exit with status 2
(``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from . import __version__
from .builders import LATTICES, build_lattice
from .errors import ConfigError
from .simulation import DEFAULT_ATTEMPT_FREQUENCY_HZ, Simulation

__all__ = ["main"]


class _UsageError(Exception):
    """Bad command-line usage (reported like a ConfigError)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        raise _UsageError(message)


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kmc", description="Kinetic Monte Carlo of ion transport in solids.")
    p.add_argument("--version", action="version", version=f"kmc {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    r = sub.add_parser("run", help="run one simulation on a standard lattice",
                       description="Run one KMC simulation on a standard lattice.")
    r.add_argument("lattice", metavar="LATTICE", help="one of: " + ", ".join(LATTICES))
    r.add_argument("--size", type=int, default=None, metavar="L",
                   help="repeats of the unit cell along each periodic axis (default: per lattice)")
    r.add_argument("--a", type=float, default=3.0, metavar="ANGSTROM",
                   help="lattice constant, Angstrom (default 3.0)")
    comp = r.add_mutually_exclusive_group()
    comp.add_argument("--vacancies", type=int, metavar="N", help="number of empty sites")
    comp.add_argument("--occupancy", type=float, metavar="C",
                      help="fraction of occupied sites (default 0.5)")
    comp.add_argument("--ions", type=int, metavar="N", help="number of ions")
    r.add_argument("-T", "--temperature", type=float, default=300.0, metavar="KELVIN",
                   help="temperature, K (default 300)")
    r.add_argument("--barrier", type=float, default=0.3, metavar="EV",
                   help="KRA barrier of every hop, eV (default 0.3)")
    r.add_argument("--attempt-frequency", type=float, default=DEFAULT_ATTEMPT_FREQUENCY_HZ,
                   metavar="HZ", help="attempt frequency, Hz (default 1e13)")
    r.add_argument("--field", type=float, nargs=3, default=None, metavar=("EX", "EY", "EZ"),
                   help="uniform electric field, V/Angstrom")
    r.add_argument("--steps", type=int, default=1_000_000, metavar="N",
                   help="production hops (default 1e6)")
    r.add_argument("--equilibration", type=int, default=None, metavar="N",
                   help="equilibration hops (default steps/10)")
    r.add_argument("--blocks", type=int, default=100, metavar="B",
                   help="production blocks for the error bars (default 100)")
    r.add_argument("--seed", type=int, default=None, metavar="S",
                   help="random seed (default: drawn, and printed with the results)")
    r.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    r.set_defaults(func=_cmd_run)

    ls = sub.add_parser("lattices", help="list the standard lattices")
    ls.set_defaults(func=_cmd_lattices)
    return p


def _progress_printer(total: int) -> Any:
    """A one-line progress counter on stderr, when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None
    done = [0]

    def update(n: int) -> None:
        done[0] += n
        sys.stderr.write(f"\r  {done[0]:,} / ~{total:,} hops")
        sys.stderr.flush()

    return update


def _cmd_run(args: argparse.Namespace) -> int:
    kwargs: dict[str, Any] = {"a": args.a, "barrier_eV": args.barrier}
    if args.size is not None:
        kwargs["size"] = args.size
    network = build_lattice(args.lattice, **kwargs)
    if args.vacancies is not None:
        comp: dict[str, Any] = {"n_vacancies": args.vacancies}
    elif args.ions is not None:
        comp = {"n_ions": args.ions}
    else:
        comp = {"occupancy": 0.5 if args.occupancy is None else args.occupancy}
    sim = Simulation(network, args.temperature, seed=args.seed,
                     attempt_frequency_Hz=args.attempt_frequency,
                     field_V_per_angstrom=args.field, **comp)
    equil = args.steps // 10 if args.equilibration is None else args.equilibration
    progress = None if args.json else _progress_printer(args.steps + equil)
    try:
        result = sim.run(args.steps, equilibration=args.equilibration, blocks=args.blocks,
                         progress=progress)
    finally:
        if progress is not None:
            sys.stderr.write("\n")
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(result.summary())
    return 130 if result.interrupted else 0


def _cmd_lattices(args: argparse.Namespace) -> int:
    for name, func in LATTICES.items():
        doc = (func.__doc__ or "").strip().splitlines()
        print(f"{name:<12s} {doc[0] if doc else ''}")
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
    except (_UsageError, ConfigError, ValueError, TypeError, FileNotFoundError) as exc:
        if debug:
            raise
        msg = " ".join(str(exc).split())  # always one line
        print(f"kmc: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kmc: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
