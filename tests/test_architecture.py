"""The architecture's rules (docs/architecture.md), checked on the package's own source.

- The modules' top-level imports form no cycle, and each layer imports only below it:
  the file formats (io) and the results import no driver; the configuration imports no
  assembly, driver or file code; the data model (lattice, events) imports no generator.
- No driver asks which network class it holds (one network protocol).
- Constants, limits and defaults are written once (kmc/constants.py, or the engine's header
  through the wrapper), not retyped.
- The command line reads no checkpoint internals: what it needs of a file is a property.
- Each mechanism family of the registry is a configuration option.

Lazy imports inside functions are allowed only for documented deprecated aliases (they are
not in the top-level graph); imports under ``if TYPE_CHECKING:`` are annotations only.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

import kmc
from kmc import config, constants, mechanisms

PKG = Path(kmc.__file__).parent
MODULES = sorted(p.stem for p in PKG.glob("*.py") if p.stem != "__init__")
#: Modules that run things (they may import everything below them).
DRIVERS = {"cli", "sweep", "simulation", "validate", "assemble"}


def _source(module: str) -> str:
    return (PKG / f"{module}.py").read_text(encoding="utf-8")


def _top_level_imports(module: str) -> set[str]:
    """kmc modules imported at module level (not in functions, not for type checking)."""
    tree = ast.parse(_source(module))
    out: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for h in getattr(node, "handlers", []):
                    visit(h.body)
            elif isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    out.add(node.module.split(".")[0])
                else:
                    out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kmc."):
                out.add(node.module.split(".")[1])
    visit(tree.body)
    return out & (set(MODULES) | {"_engine"})


GRAPH = {m: _top_level_imports(m) for m in MODULES}


def _reaches(start: str, target: str) -> list[str] | None:
    """An import path from `start` to `target`, or None."""
    stack, seen = [[start]], {start}
    while stack:
        path = stack.pop()
        for nxt in sorted(GRAPH.get(path[-1], ())):
            if nxt == target:
                return path + [nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append(path + [nxt])
    return None


def test_the_graph_sees_the_imports():
    """The checker itself: known edges are found, so an empty result means something."""
    assert {"results", "analysis", "lattice"} <= GRAPH["io"]
    assert "assemble" in GRAPH["cli"] and "config" in GRAPH["assemble"]
    assert "lattice" not in GRAPH["events"]  # TYPE_CHECKING only


@pytest.mark.parametrize("module", MODULES)
def test_no_import_cycle(module):
    path = _reaches(module, module)
    assert path is None, " -> ".join(path)


@pytest.mark.parametrize("module, forbidden", [
    ("io", DRIVERS),
    ("results", DRIVERS | {"io"}),
    ("config", DRIVERS | {"io", "results", "microstructure", "effective_medium"}),
    ("lattice", {"mechanisms", "materials", "builders", "microstructure"} | DRIVERS),
    ("events", {"lattice", "mechanisms"} | DRIVERS),
    ("analysis", DRIVERS | {"io", "results", "lattice"}),
    ("jumps", DRIVERS | {"io", "results", "lattice", "materials"}),
    ("microstructure", DRIVERS | {"effective_medium", "io", "results"}),
    ("effective_medium", DRIVERS | {"io"}),
])
def test_layers_point_one_way(module, forbidden):
    for other in sorted(forbidden):
        path = _reaches(module, other)
        assert path is None, f"{module} reaches {other}: " + " -> ".join(path)


DRIVER_FILES = sorted(DRIVERS | {"io", "results", "plots"})


@pytest.mark.parametrize("module", DRIVER_FILES)
def test_no_driver_branches_on_the_network_class(module):
    text = _source(module)
    assert not re.search(r"isinstance\([^)]*(SiteNetwork|PeriodicNetwork)", text), module


def test_cli_reads_no_checkpoint_internals():
    text = _source("cli")
    assert "checkpoint[" not in text and '["engine"]' not in text


#: Numbers that belong to kmc/constants.py (or csrc/kmc_engine.h) only.
RETYPED = [r"8\.617", r"1\.380649", r"1\.602176634", r"\b1e30\b", r"2\s*\*\*\s*63",
           r"//\s*10\b", r"\b1e13\b"]


@pytest.mark.parametrize("module", [m for m in MODULES if m != "constants"])
def test_constants_are_not_retyped(module):
    code = "\n".join(line.split("#")[0] for line in _source(module).splitlines())
    # docstrings may state a default's value; code may not
    code = re.sub(r'"""(.|\n)*?"""', "", code)
    for pattern in RETYPED:
        assert not re.search(pattern, code), (module, pattern)


def test_the_engine_limits_come_from_the_wrapper():
    from kmc import _engine

    assert constants.MAX_DEGREE == _engine.MAX_DEGREE
    assert constants.MAX_EVENT_MOVES == _engine.MAX_EVENT_MOVES == mechanisms.MAX_MOVES_PER_EVENT
    assert constants.MAX_ATTEMPT_FREQUENCY_HZ == _engine.MAX_ATTEMPT_FREQUENCY_HZ
    assert constants.KB_EV_PER_K == _engine.KB_EV_PER_K
    assert constants.RATE_LAWS == _engine.RATE_LAWS
    assert kmc.lattice.MAX_HOPS_PER_SITE == constants.MAX_DEGREE


def test_every_mechanism_family_is_an_option():
    assert config.MECHANISMS == ("hop", *mechanisms.FAMILIES)
    for name in mechanisms.FAMILIES:
        assert f"barrier_{name}" in config.OPTIONS
        assert f"barrier_{name}" in config.MODEL_KEYS


def test_private_validators_are_gone():
    """Checks of numbers and arrays live in kmc/_checks.py, not in each module."""
    pattern = re.compile(r"^def _(real|number|count|finite_float|positive_float|positive_int|"
                         r"positive_scalar|float_array|int_array|array_1d|matrix|show|is_int|"
                         r"as_numeric|owned|broadcast_float|check_finite|check_shape)\(",
                         re.M)
    for module in MODULES:
        if module == "_checks":
            continue
        found = pattern.findall(_source(module))
        # one-line adapters over _checks that add their module's convention
        allowed = {"simulation": {"number", "count"}, "microstructure": {"real"},
                   "arrhenius": {"array_1d"}}
        assert set(found) <= allowed.get(module, set()), (module, found)


def test_deprecated_homes_still_work():
    import warnings

    from kmc.mechanisms import EventSet as from_mechanisms
    from kmc.simulation import RunResult as from_simulation
    from kmc.sweep import SweepResult as from_sweep

    assert from_mechanisms is kmc.EventSet and from_simulation is kmc.RunResult
    assert from_sweep is kmc.SweepResult
    with pytest.warns(DeprecationWarning, match="kmc.assemble.with_mechanisms"):
        assert config.with_mechanisms is kmc.assemble.with_mechanisms
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.util.find_spec("kmc.effective_medium")  # the new homes import cleanly
