"""Run and sweep configuration: one schema for the command line and for TOML files.

Every option of ``kmc run`` and ``kmc sweep`` is a key of a TOML config file with the
same name (``--attempt-frequency`` is ``attempt_frequency`` or ``attempt-frequency``).
A config file and command-line options combine; an option given on the command line
wins. Unknown keys, values of the wrong type and values out of range are errors that
name the key, the value and where it came from.

A run config::

    lattice = "sc"            # a standard lattice (see `kmc lattices`)
    size = 10                 # unit cells along each periodic axis
    a = 3.0                   # lattice constant, Angstrom
    occupancy = 0.5           # or: ions = 500, or: vacancies = 1
    temperature = 300         # K
    barrier = 0.3             # KRA barrier of every hop, eV
    steps = 2_000_000         # production hops
    blocks = 100
    seed = 1
    output = "run.h5"

A microstructure (:mod:`kmc.microstructure`) is the lattice ``polycrystal`` or
``composite`` with its bulk in ``material`` (a material or a standard lattice, with all
of that bulk's own keys)::

    lattice = "polycrystal"   # or "composite"
    material = "lgps"         # the bulk: any material or standard lattice
    grain_size_nm = 1.5       # polycrystal: or n_grains = 8
    gb_barrier_offset_eV = 0.1
    # composite: fraction = 0.7, particle_size_nm = 1.0, interface_barrier_offset_eV = 0.05
    microstructure_seed = 0

A sweep config has the same keys; ``temperature`` and one of ``occupancy``, ``ions``,
``vacancies``, ``grain_size_nm``, ``n_grains`` and ``fraction`` (the sweep's
composition axis) may be lists, and ``replicas``, ``workers`` and ``scheduler`` say how
many independent runs per point and where they run.

This module only validates: :func:`run_config` and :func:`sweep_config` return frozen
records (:class:`RunConfig` = :class:`Model` + :class:`Plan` + :class:`Output`;
:class:`SweepConfig`) and build nothing. :mod:`kmc.assemble` turns them into networks,
materials, microstructures and simulations.

Units: Angstrom, s, eV, K, Hz, V/Angstrom; nm for grain and particle sizes.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _checks
from ._compat import moved_names
from .builders import LATTICES
from .constants import (
    DEFAULT_ATTEMPT_FREQUENCY_HZ,
    DEFAULT_BARRIER_EV,
    DEFAULT_BLOCKS,
    DEFAULT_LATTICE_CONSTANT_A,
    DEFAULT_MAX_STEPS,
    DEFAULT_MAX_WALL_S,
    DEFAULT_OCCUPANCY,
    DEFAULT_TARGET_REL_ERR,
    DEFAULT_TRAJECTORY_MAX_FRAMES,
    MIN_MAX_STEPS,
    MIN_MAX_WALL_S,
    RATE_LAWS,
    SEED_LIMIT,
    TARGETS,
    default_equilibration,
)
from .errors import ConfigError
from .materials import MODEL_OPTIONS, is_material, list_materials, material_spec
from .mechanisms import FAMILIES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["RunConfig", "Model", "Plan", "Output", "SweepConfig", "Option", "OPTIONS",
           "COMPOSITION_KEYS", "MECHANISMS", "load_toml", "run_config", "sweep_config",
           "MODEL_KEYS", "MICROSTRUCTURES", "MICROSTRUCTURE_KEYS", "AXIS_KEYS",
           "bulk_output_path", "check_value"]

#: Migration mechanisms: single hops and the registered multi-ion event families
#: (:data:`kmc.mechanisms.FAMILIES`).
MECHANISMS = ("hop", *FAMILIES)
#: Keys that choose the composition; at most one may be given.
COMPOSITION_KEYS = ("occupancy", "ions", "vacancies")
#: Lattice names that make a microstructure of the bulk named by the ``material`` key.
MICROSTRUCTURES = ("polycrystal", "composite")
#: The lattice (or microstructure bulk) name of a structure file (the ``structure`` key).
STRUCTURE = "structure"
#: Keys of a structure file only.
STRUCTURE_KEYS = ("structure", "species", "cutoff", "barriers")
#: The lattice name of a kMCpy model (kmc run kmcpy --structure F.cif --model model.json ...).
KMCPY = "kmcpy"
#: Keys of a kMCpy model only (with ``structure``).
KMCPY_KEYS = ("kmcpy_model", "kmcpy_events", "kmcpy_initial_state", "supercell")
#: Keys of a polycrystal only, and of a composite only.
POLYCRYSTAL_KEYS = ("grain_size_nm", "n_grains", "gb_barrier_offset_eV",
                    "gb_energy_offset_eV", "gb_width_nm", "arrangement")
COMPOSITE_KEYS = ("fraction", "particle_size_nm", "interface_barrier_offset_eV")
#: Every key of a microstructure (none of them applies to a plain lattice or material).
MICROSTRUCTURE_KEYS = ("material", *POLYCRYSTAL_KEYS, *COMPOSITE_KEYS, "microstructure_seed")
#: Keys a sweep may vary besides the temperature (at most one of them): its composition axis.
AXIS_KEYS = (*COMPOSITION_KEYS, "grain_size_nm", "n_grains", "fraction")
#: Defaults of the microstructure keys, filled in for their own kind only.
_MICROSTRUCTURE_DEFAULTS = {
    "polycrystal": {"gb_barrier_offset_eV": 0.0, "gb_energy_offset_eV": 0.0,
                    "gb_width_nm": 0.0, "arrangement": "voronoi", "microstructure_seed": 0},
    "composite": {"interface_barrier_offset_eV": 0.0, "microstructure_seed": 0},
}


@dataclass(frozen=True)
class Option:
    """One configuration key (and command-line option).

    Attributes
    ----------
    key : str
        The TOML key; the command-line option is ``--`` + key with ``_`` -> ``-``.
    kind : str
        "int", "float", "str", "bool", "vec3" (three floats), "size" (an integer or three),
        "names" (a list of names, or one comma-separated string) or "mapping" (names to
        numbers: a TOML table, or NAME=VALUE,... on the command line).
    group : str
        The record that holds the key: "model" (the physics), "plan" (how long, in how many
        blocks, with which seed), "output" (files and printing) or "sweep" (a sweep's
        execution).
    default : Any
        Value when given nowhere (None: not set).
    help : str
        Help text, with the unit.
    minimum : float or None
        Lowest allowed value (``>=``; ``>`` when `strict`).
    strict : bool
    maximum : float or None
        Highest allowed value (``<=``).
    listable : bool
        In a sweep the key takes a list (a comma-separated list on the command line).
    commands : tuple of str
        The commands that accept the key.
    short : str or None
        Short command-line flag.
    metavar : str or None
    choices : tuple of str or None
        The allowed values of a "str" key.
    """

    key: str
    kind: str
    default: Any
    help: str
    group: str = "model"
    minimum: float | None = None
    strict: bool = False
    maximum: float | None = None
    listable: bool = False
    commands: tuple[str, ...] = ("run", "sweep")
    short: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    long: str | None = None

    @property
    def flag(self) -> str:
        """The long command-line flag (``long``, else from the key)."""
        return self.long or "--" + self.key.replace("_", "-")


def _family_options() -> tuple[Option, ...]:
    """The barrier option of every registered mechanism family (``barrier_<family>``)."""
    return tuple(Option(f"barrier_{f.name}", "float", None, f.help, minimum=0, metavar="EV")
                 for f in FAMILIES.values())


OPTIONS: dict[str, Option] = {o.key: o for o in (
    # --- the model
    Option("lattice", "str", None, "standard lattice name (see `kmc lattices`)",
           metavar="LATTICE"),
    Option("size", "size", None, "repeats of the unit cell along each periodic axis, or "
           "N0,N1,N2 along the three cell vectors (default: per lattice)", minimum=1,
           metavar="L"),
    Option("a", "float", None, "lattice constant of a standard lattice, Angstrom (default "
           f"{DEFAULT_LATTICE_CONSTANT_A:g})", minimum=0, strict=True, metavar="ANGSTROM"),
    Option("occupancy", "float", None, "fraction of occupied sites, 0 < C <= 1 (default "
           f"{DEFAULT_OCCUPANCY:g})", minimum=0, strict=True, maximum=1, listable=True,
           metavar="C"),
    Option("ions", "int", None, "number of ions", minimum=1, listable=True, metavar="N"),
    Option("vacancies", "int", None, "number of empty sites", minimum=0, listable=True,
           metavar="N"),
    Option("temperature", "float", 300.0, "temperature, K (default 300)", minimum=0,
           strict=True, listable=True, short="-T", metavar="KELVIN"),
    Option("barrier", "float", None, "KRA barrier of every hop of a standard lattice, eV "
           f"(default {DEFAULT_BARRIER_EV:g})", minimum=0, metavar="EV"),
    Option("attempt_frequency", "float", None, "attempt frequency, Hz (default: the "
           f"material's, `kmc lattices show`; otherwise {DEFAULT_ATTEMPT_FREQUENCY_HZ:g})",
           minimum=0, strict=True, metavar="HZ"),
    Option("field", "vec3", None, "uniform electric field EX EY EZ, V/Angstrom",
           metavar="E"),
    Option("rate_law", "str", None, "how a hop's KRA barrier and energy change make its rate: "
           + ", ".join(RATE_LAWS) + " (default kra: Ea = max(E_kra + dE/2, 0, dE); kmcpy: "
           "Ea = E_kra + dE/2, as kMCpy)",
           metavar="LAW", choices=RATE_LAWS),
    Option("mechanisms", "names", ("hop",), "comma-separated migration mechanisms from: "
           + ", ".join(MECHANISMS) + " (default hop; without hop, ions move only by the "
           "multi-ion events)", metavar="LIST"),
    *_family_options(),
    # --- structures (kmc run FILE --species Li --cutoff 3.7; see kmc.structures)
    Option("structure", "str", None, "a structure file any ASE reader knows (CIF, POSCAR, "
           "extxyz, ...): its --species sites, joined by hops within --cutoff", metavar="FILE"),
    Option("species", "str", None, "structure: the mobile species, a chemical symbol (Li, Na, "
           "...)", metavar="X"),
    Option("cutoff", "float", None, "structure: the longest hop, Angstrom", minimum=0,
           strict=True, metavar="ANGSTROM"),
    Option("barriers", "mapping", None, "structure: KRA barriers by hop type, TYPE=EV,... "
           "(a type's full name or its label pair, e.g. Li1-Li2=0.3); --barrier EV gives the "
           "others (`kmc lattices show FILE --species X --cutoff R` lists the types)",
           metavar="TYPE=EV,..."),
    # --- kMCpy models (kmc run kmcpy --structure F.cif --model ...; see kmc.interop.kmcpy)
    Option("kmcpy_model", "str", None, "kmcpy: kMCpy's model file (model.json: kra and site "
           "local cluster expansions)", metavar="FILE", long="--model"),
    Option("kmcpy_events", "str", None, "kmcpy: kMCpy's event file (events.json)",
           metavar="FILE", long="--events"),
    Option("kmcpy_initial_state", "str", None, "kmcpy: kMCpy's initial state "
           "(initial_state.json)", metavar="FILE", long="--initial-state"),
    Option("supercell", "size", None, "kmcpy: kMCpy's supercell of the primitive cell, "
           "N0,N1,N2", minimum=1, metavar="N0,N1,N2"),
    # --- material options (see `kmc lattices show NAME`)
    Option("x", "float", None, "nasicon: x of Na(1+x)Zr2Si(x)P(3-x)O12, 0 <= x < 3 "
           "(default 2)", minimum=0, maximum=3, metavar="X"),
    Option("lce_fit", "str", None, "nasicon: parameters of the Deng et al. 2022 local "
           "cluster expansions: deng2022 (the authors' own fit, default), kmcpy_example "
           "(kMCpy's example fit) or kmcpy_2022",
           metavar="FIT"),
    Option("halogen", "str", None, "argyrodite: the halogen X of Li6PS5X, Cl, Br or I "
           "(default Cl)", metavar="X"),
    Option("site_exchange", "float", None, "argyrodite: X/S2- site exchange, the fraction of "
           "the 4d sites holding X (and of the 4a sites holding S2-), 0..1, 0.5 random "
           "(default: the measured value of the halogen)",
           minimum=0, maximum=1, metavar="P"),
    Option("excess", "float", None, "beta-alumina: excess Na x of Na(1+x)Al11O(17+x/2), "
           "0..0.5 (default 0.2)", minimum=0, maximum=0.5, metavar="X"),
    Option("disorder_seed", "int", None, "seed of a material's quenched disorder (Si/P "
           "arrangement, anion exchange; default 0)", minimum=0, maximum=SEED_LIMIT - 1,
           metavar="S"),
    # --- microstructures (lattice "polycrystal" or "composite"; see kmc.microstructure)
    Option("material", "str", None, "polycrystal/composite: the bulk, a material or standard "
           "lattice (see `kmc lattices`); the bulk's own options (--size, --a, --x, ...) "
           "apply to it", metavar="NAME"),
    Option("grain_size_nm", "float", None, "polycrystal: mean grain size, nm (edge of the "
           "cube of the mean grain volume); or --n-grains", minimum=0, strict=True,
           listable=True, metavar="NM"),
    Option("n_grains", "int", None, "polycrystal: number of grains; or --grain-size-nm",
           minimum=1, listable=True, metavar="N"),
    Option("gb_barrier_offset_eV", "float", None, "polycrystal: added to the barrier of "
           "every hop across a grain boundary, eV (default 0)", metavar="EV"),
    Option("gb_energy_offset_eV", "float", None, "polycrystal: added to the site energy of "
           "every boundary site, eV (default 0)", metavar="EV"),
    Option("gb_width_nm", "float", None, "polycrystal: thickness of the boundary layer whose "
           "sites get --gb-energy-offset-eV, nm (default 0: the sites next to a boundary)",
           minimum=0, metavar="NM"),
    Option("arrangement", "str", None, "polycrystal: grains from a periodic Voronoi "
           "tessellation of random centres or a grid of bricks, voronoi or bricks (default "
           "voronoi)", metavar="KIND", choices=("voronoi", "bricks")),
    Option("fraction", "float", None, "composite: volume (site) fraction of the conducting "
           "bulk, 0 < PHI <= 1", minimum=0, strict=True, maximum=1, listable=True,
           metavar="PHI"),
    Option("particle_size_nm", "float", None, "composite: size of the blocking and conducting "
           "regions, nm (default: single sites)", minimum=0, strict=True, metavar="NM"),
    Option("interface_barrier_offset_eV", "float", None, "composite: added to the barrier of "
           "every hop at a conducting/blocking interface, eV (default 0)", metavar="EV"),
    Option("microstructure_seed", "int", None, "polycrystal/composite: seed of the grain or "
           "particle arrangement (default 0)", minimum=0, maximum=SEED_LIMIT - 1,
           metavar="S"),
    # --- the plan
    Option("steps", "int", None, "production hops: a run of this fixed length (default: run "
           "until --target-rel-err is reached)", group="plan", minimum=1, metavar="N"),
    Option("target_rel_err", "float", None, "run until the relative standard error of "
           f"--target is at most R and the transport is diffusive (default "
           f"{DEFAULT_TARGET_REL_ERR:g} when --steps is not given)", group="plan",
           minimum=0, strict=True, maximum=1, metavar="R"),
    Option("target", "str", None, "what --target-rel-err aims at: " + ", ".join(TARGETS)
           + " (default sigma)", group="plan", choices=TARGETS, metavar="QUANTITY"),
    Option("max_steps", "int", None, "cap of a run to a precision: production hops (default "
           f"{DEFAULT_MAX_STEPS:.0e})", group="plan", minimum=MIN_MAX_STEPS, metavar="N"),
    Option("max_wall_s", "float", None, "cap of a run to a precision: wall seconds of "
           f"production (default {DEFAULT_MAX_WALL_S:g})", group="plan",
           minimum=MIN_MAX_WALL_S, metavar="SECONDS"),
    Option("response", "bool", False, "measure sigma as the response to fields +E and -E "
           "along x, y and z (six runs of --steps hops, kmc.field_response): for a model "
           "that violates detailed balance, whose Nernst-Einstein sigma does not apply",
           group="plan", commands=("run",)),
    Option("equilibration", "int", None, "equilibration hops (default steps/10)", group="plan",
           minimum=0, metavar="N"),
    Option("blocks", "int", DEFAULT_BLOCKS, f"production blocks for the error bars (default "
           f"{DEFAULT_BLOCKS})", group="plan", minimum=2, metavar="B"),
    Option("seed", "int", None, "random seed (default: drawn, and recorded with the results); "
           "for a sweep, the master seed of all its runs", group="plan", minimum=0,
           maximum=SEED_LIMIT - 1, metavar="S"),
    # --- files and output
    Option("output", "str", None, "HDF5 file for the results and checkpoints "
           "(kmc sweep: default sweep.h5)", group="output", metavar="FILE.h5"),
    Option("checkpoint_interval", "float", 60.0, "seconds of wall time between checkpoints "
           "into the output file (default 60)", group="output", minimum=0, strict=True,
           metavar="SECONDS"),
    Option("summary_json", "bool", False, "also write a JSON summary beside the output file "
           "(FILE.json)", group="output"),
    Option("overwrite", "bool", False, "replace an existing output file", group="output"),
    Option("trajectory", "str", None, "extended XYZ file of the ions' positions during "
           "production (ASE, OVITO), with the simulated time per frame", group="output",
           commands=("run",), metavar="FILE.xyz"),
    Option("trajectory_every", "int", None, "production hops between trajectory frames "
           "(default steps/100)", group="output", minimum=1, commands=("run",),
           short="--every", metavar="N"),
    Option("trajectory_max_frames", "int", None, "most trajectory frames; writing stops "
           f"there, with a warning (default {DEFAULT_TRAJECTORY_MAX_FRAMES})", group="output",
           minimum=1, commands=("run",), metavar="N"),
    Option("trajectory_vacancies", "bool", None, "also write the empty sites (as X) into "
           "the trajectory (default: when they are fewer than the ions)", group="output",
           commands=("run",)),
    Option("json", "bool", False, "print one JSON object on stdout", group="output"),
    Option("quiet", "bool", False, "no progress bars", group="output"),
    # --- sweeps
    Option("replicas", "int", 1, "independent runs per point (default 1)", group="sweep",
           minimum=1, commands=("sweep",), metavar="R"),
    Option("workers", "int", None, "worker processes of the local pool (default: number of "
           "cores)", group="sweep", minimum=1, commands=("sweep",), metavar="N"),
    Option("scheduler", "str", None, "address of a dask.distributed scheduler to run on "
           "instead of the local pool", group="sweep", commands=("sweep",), metavar="ADDRESS"),
)}

#: Options of a trajectory besides its file.
_TRAJECTORY_KEYS = ("trajectory_every", "trajectory_max_frames", "trajectory_vacancies")
#: Material options (the keys :func:`kmc.build_material` takes).
MATERIAL_KEYS = ("x", "lce_fit", "halogen", "site_exchange", "excess", "disorder_seed")
#: Keys of the event families' barriers, in registry order.
FAMILY_BARRIER_KEYS = tuple(f"barrier_{name}" for name in FAMILIES)
#: Keys that define the physics of a run and how it was sampled (stored with its results; a
#: sweep restart must match).
MODEL_KEYS = tuple(k for k, o in OPTIONS.items() if o.group == "model") + (
    "steps", "equilibration", "blocks", "seed", "target_rel_err", "target", "max_steps",
    "max_wall_s")
#: The keys of a run to a precision (none of them goes with a fixed --steps).
TARGET_KEYS = ("target_rel_err", "target", "max_steps", "max_wall_s")


# --------------------------------------------------------------------------- #
# value checks
# --------------------------------------------------------------------------- #
def _type_name(value: Any) -> str:
    return type(value).__name__


def _scalar(opt: Option, value: Any, where: str) -> Any:
    """Check the type and range of one scalar value; return it normalised."""
    what = f"{where} = {value!r}"
    if opt.kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{what} must be true or false, not {_type_name(value)}")
        return value
    if opt.kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{what} must be a non-empty string, not {_type_name(value)}")
        if opt.choices is not None and value not in opt.choices:
            hint = _checks.close_match_hint(value, opt.choices)
            raise ConfigError(f"{what} must be one of {', '.join(opt.choices)}{hint}")
        return value
    if opt.kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{what} must be an integer, not {_type_name(value)}")
    elif opt.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{what} must be a number, not {_type_name(value)}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{what} must be finite")
    if opt.minimum is not None:
        if opt.strict and not value > opt.minimum:
            raise ConfigError(f"{what} must be > {opt.minimum:g}")
        if not opt.strict and not value >= opt.minimum:
            raise ConfigError(f"{what} must be >= {opt.minimum:g}")
    if opt.maximum is not None and not value <= opt.maximum:
        raise ConfigError(f"{what} must be <= {opt.maximum:g}")
    return value


def _names(key: str, value: Any, where: str) -> tuple[str, ...]:
    """A tuple of known mechanism names from a list or a comma-separated string."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    if (not isinstance(value, (list, tuple)) or not value
            or not all(isinstance(v, str) and v for v in value)):
        raise ConfigError(f"{where} = {value!r} must be a non-empty list of names")
    for v in value:
        if v not in MECHANISMS:
            hint = _checks.close_match_hint(v, MECHANISMS)
            raise ConfigError(f"{where}: unknown mechanism {v!r}{hint} (known: "
                              f"{', '.join(MECHANISMS)})")
    if len(set(value)) != len(value):
        raise ConfigError(f"{where} = {value!r} names a mechanism twice")
    return tuple(value)


def check_value(key: str, value: Any, where: str, *, allow_list: bool = False) -> Any:
    """Validate one value of key `key` (from `where`, for the message); return it normalised.

    Lists are accepted for listable keys when `allow_list`; they must be non-empty and
    hold distinct values.
    """
    opt = OPTIONS[key]
    if opt.kind == "names":
        return _names(key, value, where)
    if opt.kind == "mapping":  # name -> number (>= minimum)
        if not isinstance(value, Mapping) or not value:
            raise ConfigError(f"{where} = {value!r} must be a non-empty table of name = number")
        number = dataclasses.replace(opt, kind="float")
        return {str(k): _scalar(number, v, f"{where}[{k!r}]") for k, v in value.items()}
    if opt.kind == "size":  # N, or N0, N1, N2 along the cell vectors
        if isinstance(value, (list, tuple)) and len(value) != 1:
            return _checks.size3(value, what=where)
        if isinstance(value, (list, tuple)):
            value = value[0]
        return _scalar(dataclasses.replace(opt, kind="int"), value, where)
    if opt.kind == "vec3":
        if (not isinstance(value, (list, tuple)) or len(value) != 3
                or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in value)):
            raise ConfigError(f"{where} = {value!r} must be a list of 3 numbers")
        vec = tuple(float(x) for x in value)
        if not all(math.isfinite(x) for x in vec):
            raise ConfigError(f"{where} = {value!r} must be 3 finite numbers")
        return vec
    if isinstance(value, (list, tuple)):
        if not (allow_list and opt.listable):
            hint = " (a list is for kmc sweep)" if opt.listable else ""
            raise ConfigError(f"{where} = {value!r} must be a single value{hint}")
        if len(value) == 0:
            raise ConfigError(f"{where} is an empty list")
        out = [_scalar(opt, v, f"{where}[{i}]") for i, v in enumerate(value)]
        if len(set(out)) != len(out):
            raise ConfigError(f"{where} = {value!r} holds a value twice")
        return out
    return _scalar(opt, value, where)


# --------------------------------------------------------------------------- #
# TOML files
# --------------------------------------------------------------------------- #
def load_toml(path: str | os.PathLike[str], command: str) -> dict[str, Any]:
    """Read a config file for `command` ("run" or "sweep"): the keys, checked and normalised.

    Raises
    ------
    ConfigError
        If the file is missing or not valid TOML, a key is unknown or not for `command`,
        a key is given twice (``a_b`` and ``a-b``), or a value has the wrong type or range.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(p)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {str(p)!r}: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p.name}: invalid TOML: {exc}") from None
    out: dict[str, Any] = {}
    for name, value in raw.items():
        key = name.replace("-", "_")
        where = f"{p.name}: {name}"
        if key not in OPTIONS:
            hint = _checks.close_match_hint(key, list(OPTIONS))
            raise ConfigError(f"{p.name}: unknown key {name!r}{hint}")
        if command not in OPTIONS[key].commands:
            raise ConfigError(f"{p.name}: key {name!r} is for kmc "
                              f"{' / kmc '.join(OPTIONS[key].commands)} only")
        if isinstance(value, dict) and OPTIONS[key].kind != "mapping":
            raise ConfigError(f"{where} must be a value, not a table")
        if key in out:
            raise ConfigError(f"{p.name}: key {key!r} is given twice")
        out[key] = check_value(key, value, where, allow_list=command == "sweep")
    given = [k for k in COMPOSITION_KEYS if k in out]
    if len(given) > 1:
        raise ConfigError(f"{p.name}: give at most one of {', '.join(COMPOSITION_KEYS)} "
                          f"(got {', '.join(given)})")
    return out


#: Keys of which one is given: a command-line value of one replaces the file's value of any.
_UNITS = (COMPOSITION_KEYS, ("grain_size_nm", "n_grains"))


def _merge(file_values: Mapping[str, Any], cli_values: Mapping[str, Any]) -> dict[str, Any]:
    """Config-file values overridden by command-line values (the composition, and the
    grain size or count, each as one unit)."""
    merged = dict(file_values)
    for unit in _UNITS:
        if any(cli_values.get(k) is not None for k in unit):
            for k in unit:
                merged.pop(k, None)
    merged.update({k: v for k, v in cli_values.items() if v is not None})
    return merged


def _is_material(lattice: Any) -> bool:
    return is_material(lattice)


def _microstructure_kind(lattice: Any) -> str | None:
    """"polycrystal" or "composite" if `lattice` names a microstructure, else None."""
    if not isinstance(lattice, str):
        return None
    name = lattice.strip().lower()
    return name if name in MICROSTRUCTURES else None


def _bulk_name(values: Mapping[str, Any]) -> Any:
    """The name of the bulk: the material of a microstructure, else the lattice."""
    lattice = values.get("lattice")
    return values.get("material") if _microstructure_kind(lattice) else lattice


def _has_own_composition(bulk: Any) -> bool:
    """A material's composition comes from its formula, a structure's from its file."""
    return _is_material(bulk) or bulk in (STRUCTURE, KMCPY)


def _with_defaults(values: Mapping[str, Any], command: str) -> dict[str, Any]:
    out = {key: opt.default for key, opt in OPTIONS.items() if command in opt.commands}
    out.update(values)
    bulk = _bulk_name(out)
    if all(out.get(k) is None for k in COMPOSITION_KEYS) and not _has_own_composition(bulk):
        out["occupancy"] = DEFAULT_OCCUPANCY
    if bulk == STRUCTURE:  # one barrier for every hop type unless they are given by type
        if out.get("barrier") is None and out.get("barriers") is None:
            out["barrier"] = DEFAULT_BARRIER_EV
    elif bulk == KMCPY:  # kMCpy's rates unless another law is asked for
        if out.get("rate_law") is None:
            out["rate_law"] = "kmcpy"
    elif bulk is not None and not _is_material(bulk):
        for key, value in (("a", DEFAULT_LATTICE_CONSTANT_A),
                           ("barrier", DEFAULT_BARRIER_EV)):  # standard-lattice defaults
            if out.get(key) is None:
                out[key] = value
    if _is_material(bulk):  # the material's own attempt frequency and rate law
        spec = material_spec(bulk)
        if out.get("attempt_frequency") is None:
            out["attempt_frequency"] = spec.attempt_frequency_Hz
        if out.get("rate_law") is None:
            out["rate_law"] = spec.rate_law
    if "attempt_frequency" in out and out["attempt_frequency"] is None:
        out["attempt_frequency"] = DEFAULT_ATTEMPT_FREQUENCY_HZ
    kind = _microstructure_kind(out.get("lattice"))
    if kind is not None:
        for key, value in _MICROSTRUCTURE_DEFAULTS[kind].items():
            if out.get(key) is None:
                out[key] = value
    return out


def _check_bulk_name(name: str, where: str) -> None:
    """A microstructure's bulk must be a material, a standard lattice or a structure."""
    if _is_material(name) or name.strip().lower() in LATTICES or name == STRUCTURE:
        return
    materials, lattices = list_materials(), list(LATTICES)
    key = name.strip().lower().replace("-", "_")
    hint = _checks.close_match_hint(key, materials + lattices)
    raise ConfigError(f"{where}: unknown lattice or material {name!r}{hint} (materials: "
                      f"{', '.join(materials)}; standard lattices: {', '.join(lattices)})")


def _check_microstructure_keys(given: Mapping[str, Any], where: str) -> None:
    """Microstructure keys only for their own kind; the bulk and the size are required.

    `given` holds the values as given (before the defaults are added).
    """
    lattice = given.get("lattice")
    kind = _microstructure_kind(lattice)
    keys = [k for k in MICROSTRUCTURE_KEYS if given.get(k) is not None]
    if kind is None:
        if keys:
            k = keys[0]
            which = ("polycrystal" if k in POLYCRYSTAL_KEYS else "composite"
                     if k in COMPOSITE_KEYS else "polycrystal or composite")
            example = ("composite --material {} --fraction 0.7" if k in COMPOSITE_KEYS
                       else "polycrystal --material {} --grain-size-nm 2").format(lattice)
            raise ConfigError(f"{where}: {OPTIONS[k].flag} is an option of a {which}; "
                              f"{lattice!r} is not one (e.g. kmc run {example})")
        return
    other, other_keys = (("composite", COMPOSITE_KEYS) if kind == "polycrystal"
                         else ("polycrystal", POLYCRYSTAL_KEYS))
    for k in other_keys:
        if given.get(k) is not None:
            raise ConfigError(f"{where}: {OPTIONS[k].flag} is an option of a {other}, not of "
                              f"a {kind}")
    material = given.get("material")
    if material is None:
        raise ConfigError(f"{where}: {kind} needs its bulk: --material NAME (a material or "
                          "a standard lattice, see kmc lattices)")
    _check_bulk_name(material, where)
    if kind == "polycrystal":
        sizes = [k for k in ("grain_size_nm", "n_grains") if given.get(k) is not None]
        if len(sizes) != 1:
            got = " (got both)" if sizes else ""
            raise ConfigError(f"{where}: a polycrystal needs one of --grain-size-nm NM and "
                              f"--n-grains N{got}")
    elif given.get("fraction") is None:
        raise ConfigError(f"{where}: a composite needs --fraction PHI (the conducting "
                          "volume fraction)")


def _check_lattice_keys(full: Mapping[str, Any], where: str) -> None:
    """Material options only for materials; lattice constant and barrier only for lattices
    (for a microstructure: for its bulk)."""
    lattice = _bulk_name(full)
    _check_structure_keys(full, lattice, where)
    _check_kmcpy_keys(full, lattice, where)
    if lattice == KMCPY:
        for k in ("a", "barrier", "size", *MATERIAL_KEYS):
            if full.get(k) is not None:
                raise ConfigError(f"{where}: {OPTIONS[k].flag} is not an option of a kMCpy "
                                  "model (its cell, sites and barriers come from its files; "
                                  "--supercell sets the size)")
    elif lattice == STRUCTURE:
        for k in ("a", *MATERIAL_KEYS):
            if full.get(k) is not None:
                raise ConfigError(f"{where}: {OPTIONS[k].flag} is not an option of a "
                                  "structure (its cell and sites come from the file)")
    elif _is_material(lattice):
        spec = material_spec(lattice)
        allowed = MODEL_OPTIONS[spec.data["model"]] + ("disorder_seed",)
        for k in ("a", "barrier"):
            if full.get(k) is not None:
                raise ConfigError(f"{where}: {OPTIONS[k].flag} is for standard lattices; "
                                  f"material {spec.name!r} has its own cell and barriers "
                                  f"(see kmc lattices show {spec.name})")
        for k in MATERIAL_KEYS:
            if full.get(k) is not None and k not in allowed:
                takes = ", ".join(OPTIONS[a].flag for a in allowed)
                raise ConfigError(f"{where}: material {spec.name!r} does not take "
                                  f"{OPTIONS[k].flag} (it takes {takes})")
    else:
        if isinstance(lattice, str):
            _check_bulk_name(lattice, where)  # unknown: the closest lattice or material
        for k in MATERIAL_KEYS:
            if full.get(k) is not None:
                raise ConfigError(f"{where}: {OPTIONS[k].flag} is a material option; "
                                  f"{lattice!r} is a standard lattice")


def _check_structure_keys(full: Mapping[str, Any], bulk: Any, where: str) -> None:
    """The structure keys go together, and only with a structure bulk."""
    keys = [k for k in STRUCTURE_KEYS if full.get(k) is not None]
    if bulk == KMCPY:
        keys = [k for k in keys if k != "structure"]
        if keys:
            raise ConfigError(f"{where}: {OPTIONS[keys[0]].flag} is an option of a structure "
                              "file, not of a kMCpy model")
        return
    if bulk != STRUCTURE:
        if keys:
            raise ConfigError(f"{where}: {OPTIONS[keys[0]].flag} is an option of a structure "
                              f"file (kmc run FILE.cif --species X --cutoff R); {bulk!r} is "
                              "not one")
        return
    missing = [OPTIONS[k].flag for k in ("structure", "species", "cutoff")
               if full.get(k) is None]
    if missing:
        raise ConfigError(f"{where}: a structure needs {' and '.join(missing)} (e.g. kmc run "
                          "FILE.cif --species Li --cutoff 3.7)")
    path = Path(full["structure"])
    if not path.is_file():
        raise ConfigError(f"{where}: structure file {str(path)!r} does not exist")


def _check_kmcpy_keys(full: Mapping[str, Any], bulk: Any, where: str) -> None:
    """The kMCpy keys go together, and only with the lattice "kmcpy"; the files exist."""
    keys = [k for k in KMCPY_KEYS if full.get(k) is not None]
    if bulk != KMCPY:
        if keys:
            raise ConfigError(f"{where}: {OPTIONS[keys[0]].flag} is an option of a kMCpy model "
                              f"(kmc run kmcpy --structure F.cif --model model.json --events "
                              f"events.json --initial-state initial_state.json --supercell "
                              f"2,1,1); {bulk!r} is not one")
        return
    missing = [OPTIONS[k].flag for k in ("structure", *KMCPY_KEYS) if full.get(k) is None]
    if missing:
        raise ConfigError(f"{where}: a kMCpy model needs {', '.join(missing)} (kmc run kmcpy "
                          "--structure F.cif --model model.json --events events.json "
                          "--initial-state initial_state.json --supercell 2,1,1)")
    for k in ("structure", "kmcpy_model", "kmcpy_events", "kmcpy_initial_state"):
        if not Path(full[k]).is_file():
            raise ConfigError(f"{where}: {OPTIONS[k].flag} {str(full[k])!r}: no such file")


def _complete(values: Mapping[str, Any], where: str, command: str,
              known: set[str]) -> tuple[dict[str, Any], str]:
    """Check every key and value, add the defaults; return them and the composition key."""
    for key in values:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r}")
    checked = {k: (None if v is None else check_value(k, v, f"{where}: {k}",
                                                       allow_list=command == "sweep"))
               for k, v in values.items()}
    for k in ("structure", "kmcpy_model", "kmcpy_events", "kmcpy_initial_state"):
        if checked.get(k) is not None:  # files: one spelling, absolute
            checked[k] = os.path.abspath(checked[k])
    if checked.get("structure") is not None and checked.get("lattice") is None:
        checked["lattice"] = STRUCTURE
    if checked.get("lattice") is None:
        raise ConfigError(f"{where}: no lattice given")
    _check_microstructure_keys(checked, where)
    fixed = checked.get("steps") is not None
    targets = [k for k in TARGET_KEYS if checked.get(k) is not None]
    if fixed and targets:
        raise ConfigError(f"{where}: {OPTIONS[targets[0]].flag} is for a run to a precision "
                          f"and --steps fixes the length; give one of them")
    full = _with_defaults(checked, command)
    kind = _microstructure_kind(full["lattice"])
    if kind is not None:
        full["lattice"] = kind  # one spelling in the stored results
    _check_lattice_keys(full, where)
    given = [k for k in COMPOSITION_KEYS if full.get(k) is not None]
    if not given and _has_own_composition(_bulk_name(full)):
        return full, None  # type: ignore[return-value]
    if len(given) != 1:
        raise ConfigError(f"{where}: give one of {', '.join(COMPOSITION_KEYS)} "
                          f"(got {', '.join(given)})")
    return full, given[0]


def bulk_output_path(output: str | os.PathLike[str] | None) -> str | None:
    """The bulk run's file beside a microstructure run's: FILE.h5 -> FILE.bulk.h5."""
    if output is None:
        return None
    p = Path(output)
    return str(p.with_name(p.stem + ".bulk.h5") if p.suffix == ".h5"
               else p.with_name(p.name + ".bulk.h5"))


# --------------------------------------------------------------------------- #
# the configurations: frozen records
# --------------------------------------------------------------------------- #
def _group_keys(group: str) -> tuple[str, ...]:
    return tuple(k for k, o in OPTIONS.items() if o.group == group)


@dataclass(frozen=True)
class Model:
    """What is simulated: the lattice or material (or a microstructure of one), its
    composition, the temperature, the barriers, the field and the mechanisms.

    The attributes are the model keys of :data:`OPTIONS` (units in their help), except the
    barriers of the multi-ion event families, which are `event_barriers_eV`. Build it
    through :func:`run_config` or :meth:`RunConfig.from_dict`, which validate the whole.

    Attributes
    ----------
    event_barriers_eV : tuple of (str, float)
        KRA barrier (eV) of each mechanism family given (``barrier_<family>`` keys).
    """

    lattice: str
    material: str | None = None
    grain_size_nm: float | None = None
    n_grains: int | None = None
    gb_barrier_offset_eV: float | None = None
    gb_energy_offset_eV: float | None = None
    gb_width_nm: float | None = None
    arrangement: str | None = None
    fraction: float | None = None
    particle_size_nm: float | None = None
    interface_barrier_offset_eV: float | None = None
    microstructure_seed: int | None = None
    size: int | tuple[int, int, int] | None = None
    a: float | None = None
    x: float | None = None
    lce_fit: str | None = None
    halogen: str | None = None
    site_exchange: float | None = None
    excess: float | None = None
    disorder_seed: int | None = None
    occupancy: float | None = None
    ions: int | None = None
    vacancies: int | None = None
    temperature: float = 300.0
    barrier: float | None = None
    attempt_frequency: float = DEFAULT_ATTEMPT_FREQUENCY_HZ
    field: tuple[float, float, float] | None = None
    rate_law: str | None = None
    structure: str | None = None
    species: str | None = None
    cutoff: float | None = None
    barriers: tuple[tuple[str, float], ...] | None = None
    kmcpy_model: str | None = None
    kmcpy_events: str | None = None
    kmcpy_initial_state: str | None = None
    supercell: int | tuple[int, int, int] | None = None
    mechanisms: tuple[str, ...] = ("hop",)
    event_barriers_eV: tuple[tuple[str, float], ...] = ()

    @classmethod
    def from_keys(cls, values: Mapping[str, Any]) -> Model:
        """The record of validated model keys (``barrier_<family>`` included)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: (tuple(v) if k in ("size", "supercell") and isinstance(v, list) else v)
              for k, v in values.items() if k in names}
        if isinstance(kw.get("barriers"), Mapping):  # frozen: (hop type, eV) pairs
            kw["barriers"] = tuple((str(t), float(v)) for t, v in kw["barriers"].items())
        kw["event_barriers_eV"] = tuple(
            (name, float(values[f"barrier_{name}"])) for name in FAMILIES
            if values.get(f"barrier_{name}") is not None)
        return cls(**kw)

    def to_dict(self) -> dict[str, Any]:
        """The model keys, JSON-ready (None: not given)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "event_barriers_eV":
                continue
            v = getattr(self, f.name)
            if f.name == "barriers" and v is not None:
                out[f.name] = dict(v)
            else:
                out[f.name] = list(v) if isinstance(v, tuple) else v
        barriers = dict(self.event_barriers_eV)
        for name in FAMILIES:
            out[f"barrier_{name}"] = barriers.get(name)
        return {k: out[k] for k in _group_keys("model")}

    def event_barrier_eV(self, family: str) -> float | None:
        """The KRA barrier (eV) given for a mechanism family, or None."""
        return dict(self.event_barriers_eV).get(family)

    @property
    def is_material(self) -> bool:
        """True if `lattice` names a material (:mod:`kmc.materials`), not a standard lattice."""
        return _is_material(self.lattice)

    @property
    def microstructure_kind(self) -> str | None:
        """"polycrystal" or "composite" for a microstructure run, else None."""
        return _microstructure_kind(self.lattice)

    @property
    def bulk_name(self) -> str:
        """The bulk's material or standard-lattice name (`material` of a microstructure,
        else `lattice`)."""
        return self.material if self.microstructure_kind else self.lattice  # type: ignore

    @property
    def bulk_is_material(self) -> bool:
        """True if the bulk is a material (:mod:`kmc.materials`)."""
        return _is_material(self.bulk_name)

    @property
    def bulk_is_structure(self) -> bool:
        """True if the bulk is a structure file (:mod:`kmc.structures`)."""
        return self.bulk_name == STRUCTURE

    @property
    def bulk_is_kmcpy(self) -> bool:
        """True if the bulk is a kMCpy model (:mod:`kmc.interop.kmcpy`)."""
        return self.bulk_name == KMCPY

    def material_options(self) -> dict[str, Any]:
        """The material options given (for :func:`kmc.build_material`), None: default."""
        return {k: getattr(self, k) for k in MATERIAL_KEYS if k != "disorder_seed"}


@dataclass(frozen=True)
class Plan:
    """How a run is sampled: a fixed length or a run to a precision, equilibration, blocks and
    the seed.

    Attributes
    ----------
    steps : int or None
        Production hops of a fixed-length run; None: a run to a precision.
    equilibration : int or None
        Equilibration hops (None: the default of the run's kind).
    blocks : int
        Production blocks (diagnostics, and the drift under a field).
    seed : int or None
        The run's seed (None: drawn when the run starts, and recorded).
    target_rel_err, target, max_steps, max_wall_s : optional
        A run to a precision (see :meth:`kmc.Simulation.run`); None: the defaults when
        `steps` is None.
    response : bool
        Measure sigma as the response to +-E along each axis (:func:`kmc.field_response`,
        ``kmc run --response``): six fixed-length runs instead of one.
    """

    steps: int | None = None
    equilibration: int | None = None
    blocks: int = DEFAULT_BLOCKS
    seed: int | None = None
    target_rel_err: float | None = None
    target: str | None = None
    max_steps: int | None = None
    max_wall_s: float | None = None
    response: bool = False

    @property
    def fixed_length(self) -> bool:
        """True for a run of `steps` production hops, False for a run to a precision."""
        return self.steps is not None

    @property
    def equilibration_steps(self) -> int | None:
        """Equilibration hops of a fixed-length run, the default filled in (None for a run
        to a precision: its default depends on the ion count)."""
        if self.equilibration is not None:
            return self.equilibration
        return default_equilibration(self.steps) if self.steps is not None else None

    @property
    def total_hops(self) -> int | None:
        """Equilibration and production hops of a fixed-length run (None: not known in
        advance)."""
        if self.steps is None:
            return None
        return self.steps + int(self.equilibration_steps or 0)

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`kmc.Simulation.run` for this plan."""
        out: dict[str, Any] = {"steps": self.steps, "equilibration": self.equilibration,
                               "blocks": self.blocks}
        if self.steps is None:
            out.update(target_rel_err=self.target_rel_err or DEFAULT_TARGET_REL_ERR,
                       target=self.target or "sigma",
                       max_steps=self.max_steps or DEFAULT_MAX_STEPS,
                       max_wall_s=self.max_wall_s or DEFAULT_MAX_WALL_S)
        return out


@dataclass(frozen=True)
class Output:
    """Where the results go and how they are shown.

    Attributes
    ----------
    path : str or None
        The HDF5 results file (the ``output`` key); None: none.
    checkpoint_interval : float
        Wall seconds between checkpoints.
    summary_json, overwrite, json, quiet : bool
        A JSON summary beside the file; replace an existing file; print JSON; no progress
        bars.
    trajectory : str or None
        Extended XYZ file of the production phase (``kmc run`` only); None: none.
    trajectory_every : int or None
        Production hops between frames (None: steps // 100).
    trajectory_max_frames : int or None
        Most frames (None: 1000).
    trajectory_vacancies : bool or None
        Write the empty sites too (None: when they are fewer than the ions).
    """

    path: str | None = None
    checkpoint_interval: float = 60.0
    summary_json: bool = False
    overwrite: bool = False
    json: bool = False
    quiet: bool = False
    trajectory: str | None = None
    trajectory_every: int | None = None
    trajectory_max_frames: int | None = None
    trajectory_vacancies: bool | None = None

    @classmethod
    def from_keys(cls, values: Mapping[str, Any]) -> Output:
        """The record of validated output keys (``output`` is the path).

        Raises
        ------
        ConfigError
            A trajectory option without ``trajectory``.
        """
        kw = {k: values[k] for k in _group_keys("output") if values.get(k) is not None}
        if "output" in kw:
            kw["path"] = kw.pop("output")
        if "trajectory" not in kw:
            for k in _TRAJECTORY_KEYS:
                if k in kw:
                    raise ConfigError(f"{OPTIONS[k].flag} = {kw[k]!r} is an option of a "
                                      "trajectory; give --trajectory FILE.xyz too")
        return cls(**kw)

    def trajectory_kwargs(self, species: str) -> dict[str, Any]:
        """Keyword arguments of :meth:`kmc.Simulation.run` for the trajectory (none without
        one), with the ions' chemical symbol `species`."""
        if self.trajectory is None:
            return {}
        out: dict[str, Any] = {"trajectory": self.trajectory,
                               "trajectory_every_hops": self.trajectory_every,
                               "trajectory_species": species,
                               "trajectory_vacancies": self.trajectory_vacancies}
        if self.trajectory_max_frames is not None:
            out["trajectory_max_frames"] = self.trajectory_max_frames
        return out

    def to_dict(self) -> dict[str, Any]:
        """The output keys (``output``: the path)."""
        out = dataclasses.asdict(self)
        out["output"] = out.pop("path")
        return {k: out[k] for k in _group_keys("output")}


@dataclass(frozen=True)
class RunConfig:
    """A complete, validated configuration of one run: three frozen records.

    Build one with :func:`run_config` or :meth:`from_dict`; :meth:`to_dict` gives the flat
    keys back (what a run file stores). :mod:`kmc.assemble` builds the network, material,
    microstructure and :class:`kmc.Simulation` of a configuration and runs it.

    Attributes
    ----------
    model : Model
        The physics; with `lattice` "polycrystal" or "composite" a microstructure of the bulk
        named by `material`.
    plan : Plan
        Hops, blocks and seed.
    output : Output
        Files and printing.
    """

    model: Model
    plan: Plan = Plan()
    output: Output = Output()

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], where: str = "config") -> RunConfig:
        """Validate a mapping of flat keys (missing keys take their defaults).

        Raises
        ------
        ConfigError
            An unknown key, a value of the wrong type or out of range, or keys that do not
            go together; the message names the key, the value and `where` it came from.
        """
        known = {k for k, o in OPTIONS.items() if "run" in o.commands}
        full, _ = _complete(values, where, "run", known)
        return cls(model=Model.from_keys(full),
                   plan=Plan(**{k: full[k] for k in _group_keys("plan")
                                if full.get(k) is not None}),
                   output=Output.from_keys(full))

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any], where: str,
                    **overrides: Any) -> RunConfig:
        """The configuration stored with a run's results (its ``config`` group), validated
        again, with `overrides` (flat keys) on top; keys of no run option are ignored."""
        values = {k: v for k, v in stored.items()
                  if k in OPTIONS and "run" in OPTIONS[k].commands and v is not None}
        return cls.from_dict({**values, **overrides}, where=where)

    def to_dict(self) -> dict[str, Any]:
        """Every key, flat and JSON-ready (None: not given): what a run file stores."""
        return {**self.model.to_dict(), **dataclasses.asdict(self.plan),
                **self.output.to_dict()}

    def model_keys(self) -> dict[str, Any]:
        """The keys that define the physics and the sampling (:data:`MODEL_KEYS`), only those
        given: what a sweep stores per run, and compares on a restart."""
        flat = self.to_dict()
        return {k: flat[k] for k in MODEL_KEYS if flat.get(k) is not None}

    def replace(self, where: str = "config", **changes: Any) -> RunConfig:
        """A copy with some flat keys changed (None: back to the default), validated again."""
        return RunConfig.from_dict({**self.to_dict(), **changes}, where=where)

    def bulk_keys(self) -> dict[str, Any]:
        """The flat keys of the bulk run that goes with a microstructure run: the same bulk
        (``kmc run MATERIAL`` with the same options), temperature, plan, seed and
        composition, without the microstructure keys, the output beside this one
        (:func:`bulk_output_path`), and no trajectory (that is the microstructure run's).
        A composite's ion or vacancy count is the caller's to scale
        (:func:`kmc.assemble.bulk_config`).

        Raises
        ------
        ConfigError
            If this is not a microstructure run.
        """
        if self.model.microstructure_kind is None:
            raise ConfigError(f"lattice {self.model.lattice!r} is not a microstructure "
                              "(polycrystal or composite)")
        skip = (*MICROSTRUCTURE_KEYS, "trajectory", *_TRAJECTORY_KEYS)
        values = {k: v for k, v in self.to_dict().items() if k not in skip and v is not None}
        values["lattice"] = self.model.bulk_name
        values["output"] = bulk_output_path(self.output.path)
        return values


#: kmc.config.with_mechanisms moved to kmc.assemble; importable, with a warning
__getattr__ = moved_names("kmc.config", {"with_mechanisms": "kmc.assemble"})


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: temperatures x compositions x replicas of one base run.

    Attributes
    ----------
    base : dict
        The flat model and plan keys shared by every run (no temperature, composition or
        seed), JSON-ready.
    temperatures_K : tuple of float
    composition_key : str or None
        The key the sweep varies besides the temperature (its composition axis): one of
        :data:`AXIS_KEYS` ("occupancy", "ions", "vacancies", "grain_size_nm", "n_grains",
        "fraction"); None for a material at its own composition, which the sweep resolves
        to its ion count when it plans the runs (:func:`kmc.assemble.resolve_composition`).
    compositions : tuple
        The values of `composition_key` (empty while it is None).
    replicas : int
    seed : int or None
        The master seed; each run's seed is derived from it and the run's point.
    workers : int or None
        Processes of the local pool (None: one per core).
    scheduler : str or None
        A dask.distributed scheduler address instead of the local pool.
    output : Output
        The sweep file (default ``sweep.h5``) and the printing options.
    """

    base: dict[str, Any]
    temperatures_K: tuple[float, ...]
    composition_key: str | None
    compositions: tuple[Any, ...]
    replicas: int = 1
    seed: int | None = None
    workers: int | None = None
    scheduler: str | None = None
    output: Output = Output(path="sweep.h5")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], where: str = "config") -> SweepConfig:
        """Validate a mapping of sweep keys (missing keys take their defaults). Builds
        nothing: a material's own composition stays unresolved (`composition_key` None)."""
        full, comp_key = _complete(values, where, "sweep", set(OPTIONS))

        def as_tuple(v: Any) -> tuple[Any, ...]:
            return tuple(v) if isinstance(v, list) else (v,)

        listed = [k for k in AXIS_KEYS if isinstance(full.get(k), list)]
        if len(listed) > 1:
            raise ConfigError(f"{where}: a sweep varies one of {', '.join(AXIS_KEYS)} besides "
                              f"the temperature; got lists for {OPTIONS[listed[0]].flag} and "
                              f"{OPTIONS[listed[1]].flag}")
        axis = listed[0] if listed else comp_key
        base = {k: (list(v) if isinstance(v, tuple) else v) for k, v in full.items()
                if k in MODEL_KEYS and k not in ("temperature", "seed", axis)
                and v is not None}
        kwargs = {k: full[k] for k in ("replicas", "seed", "workers", "scheduler")
                  if full.get(k) is not None}
        output = Output.from_keys({"output": "sweep.h5", **{
            k: v for k, v in full.items() if v is not None}})
        return cls(base=base, temperatures_K=as_tuple(full["temperature"]),
                   composition_key=axis,
                   compositions=() if axis is None else as_tuple(full[axis]),
                   output=output, **kwargs)

    @property
    def n_runs(self) -> int:
        """Number of runs: temperatures x compositions x replicas (a material's own
        composition counts as one)."""
        return len(self.temperatures_K) * max(len(self.compositions), 1) * self.replicas

    def run_config(self, temperature_K: float, composition: Any, seed: int) -> RunConfig:
        """The configuration of one run of the sweep (`composition` is ignored while the
        composition is a material's own)."""
        comp = {} if self.composition_key is None else {self.composition_key: composition}
        return RunConfig.from_dict({**self.base, "temperature": temperature_K, **comp,
                                    "seed": seed}, where="sweep run")

    def with_composition(self, key: str, values: tuple[Any, ...]) -> SweepConfig:
        """A copy whose composition axis is `key` with `values` (validated)."""
        checked = tuple(check_value(key, v, f"sweep: {key}") for v in values)
        return dataclasses.replace(self, composition_key=key, compositions=checked)


def _cli_values(cli: Mapping[str, Any], command: str) -> dict[str, Any]:
    out = {}
    for key, value in cli.items():
        if value is None or key not in OPTIONS or command not in OPTIONS[key].commands:
            continue
        flag = OPTIONS[key].flag
        out[key] = check_value(key, value, flag, allow_list=command == "sweep")
    return out


def _is_config_path(target: str | None) -> bool:
    """A TOML config file (``*.toml``); any other existing file is a structure."""
    return target is not None and target.lower().endswith(".toml")


def _is_structure_path(target: str | None) -> bool:
    return target is not None and not _is_config_path(target) and os.path.isfile(target)


def _merged(target: str | None, cli: Mapping[str, Any], command: str) -> dict[str, Any]:
    """The keys of ``kmc COMMAND TARGET [options]``: a config file or a lattice name, with
    the command-line values on top."""
    file_values: dict[str, Any] = {}
    if _is_config_path(target):
        file_values = load_toml(target, command)  # type: ignore[arg-type]
    elif _is_structure_path(target):
        file_values = {"lattice": STRUCTURE, "structure": target}
    elif target is not None:
        file_values = {"lattice": target}
    merged = _merge(file_values, _cli_values(cli, command))
    if merged.get("lattice") is None and merged.get("structure") is None:
        raise ConfigError("give a LATTICE, a structure file or a config file (.toml) with a "
                          "'lattice' key")
    return merged


def run_config(target: str | None, cli: Mapping[str, Any]) -> RunConfig:
    """The configuration of ``kmc run TARGET [options]``.

    Parameters
    ----------
    target : str or None
        A lattice name or the path of a TOML config file.
    cli : mapping
        Command-line values by key (None: not given); they override the file.
    """
    return RunConfig.from_dict(_merged(target, cli, "run"), where="run")


def sweep_config(target: str | None, cli: Mapping[str, Any]) -> SweepConfig:
    """The configuration of ``kmc sweep TARGET [options]`` (see :func:`run_config`)."""
    return SweepConfig.from_dict(_merged(target, cli, "sweep"), where="sweep")
