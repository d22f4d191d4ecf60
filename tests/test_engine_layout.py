"""The C engine's layout rules (issue 17), checked mechanically on csrc/.

- Each mode's data is its own sub-struct of ``struct kmc_engine`` (``e->tree``, ``e->cnt``,
  ``e->uni``, ``e->ev``; ``e->ia`` for pair interactions), and a solver or component file
  touches the shared core and its own sub-struct only: no mode's code reads another mode's
  fields. ``kmc_build.c`` (creation) and ``kmc_engine.c`` (dispatch, checkpoints, free) may
  touch all of them; the headers' code none.
- Only ``kmc_build.c`` (which picks the solver) and ``kmc_engine.c`` (which calls it, once
  per run / set_state / check) dispatch on the mode; the solver files never look at it.
- Every rate comes from ``kmc_rate.h``: no other ``exp()`` of a barrier, no ``beta``.
- The engine is compiled as one unit: ``kmc_unity.c`` includes every ``csrc/*.c``, and
  ``setup.py`` and ``.ci/fuzz`` compile that file.

Comments and string literals are stripped before matching. The ``test_rule_catches_*``
tests break each rule in a copy of the sources and check that the checker notices.
The source tree is needed: skipped when the tests run against an installed wheel elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"

pytestmark = pytest.mark.skipif(not (CSRC / "kmc_unity.c").exists(),
                                reason="needs the source tree's csrc/")

SUBSTRUCTS = {"tree", "cnt", "uni", "ia", "ev"}
#: file -> the sub-structs its code may touch (None: all of them)
OWNERS: dict[str, set[str] | None] = {
    "kmc_engine.c": None,
    "kmc_build.c": None,
    "kmc_tree.c": {"tree"},
    "kmc_count.c": {"cnt"},
    "kmc_uniform.c": {"uni"},
    "kmc_events.c": {"ev"},
    "kmc_interact.c": {"ia"},
    "kmc_engine_impl.h": set(),
    "kmc_sumtree.c": set(),
    "kmc_unity.c": set(),
}
#: the files that may dispatch on the mode or name a solver
DISPATCHERS = {"kmc_engine.c", "kmc_build.c"}
#: the files whose code may test e->interacting (the modes with pair interactions)
INTERACTING = {"kmc_build.c", "kmc_tree.c", "kmc_events.c", "kmc_engine_impl.h"}
#: functions outside kmc_rate.h that may call exp(): the ziggurat's Exp(1) tables
EXP_ALLOWED = {("kmc_uniform.c", "zig_init"), ("kmc_uniform.c", "zig_exp")}

_TOKEN = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def strip_c(text: str) -> str:
    """C code without comments (newlines kept, so line numbers stay) and string contents."""
    def repl(m: re.Match) -> str:
        s = m.group(0)
        if s.startswith(("/", )):
            return "\n" * s.count("\n") or " "
        return s[0] * 2
    return _TOKEN.sub(repl, text)


def _lines(code: str, pattern: str):
    rx = re.compile(pattern)
    for no, line in enumerate(code.split("\n"), 1):
        for m in rx.finditer(line):
            yield no, m


def function_spans(code: str) -> dict[str, tuple[int, int]]:
    """Top-level function definitions: name -> (first line, last line)."""
    spans = {}
    rx = re.compile(r"^[A-Za-z_][\w \t\*]*?\b(\w+)\s*\([^;{]*\)\s*\{", re.M)
    for m in rx.finditer(code):
        depth, i = 0, m.end() - 1
        while i < len(code):
            depth += {"{": 1, "}": -1}.get(code[i], 0)
            if depth == 0:
                break
            i += 1
        spans[m.group(1)] = (code.count("\n", 0, m.start()) + 1, code.count("\n", 0, i) + 1)
    return spans


def read_sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(CSRC.glob("*.[ch]"))}


def violations(sources: dict[str, str], setup_py: str, fuzz_script: str) -> list[str]:
    """Every broken layout rule, as messages (empty: the layout holds)."""
    out = []
    code = {name: strip_c(text) for name, text in sources.items()}
    # 1. each file touches its own sub-struct only
    for name, c in code.items():
        if name.endswith(".c") and name not in OWNERS:
            out.append(f"{name}: a new file; say in OWNERS which sub-structs it may touch")
            continue
        allowed = OWNERS.get(name, set())
        if allowed is None:
            continue
        for no, m in _lines(c, r"(?:->|\.)\s*(" + "|".join(sorted(SUBSTRUCTS)) + r")\b(?!\s*\()"):
            if m.group(0).startswith(".") and not re.search(r"\be\s*$|\)\s*$", c.split("\n")[no - 1][:m.start()]):
                continue  # a member of something else, e.g. x.ev of a local struct
            if m.group(1) not in allowed:
                out.append(f"{name}:{no}: touches e->{m.group(1)} (may touch "
                           f"{', '.join(sorted(allowed)) or 'only the core'})")
        others = {"tree": "kmc_tree_data", "cnt": "kmc_count_data", "uni": "kmc_uniform_data",
                  "ia": "kmc_ia_data", "ev": "kmc_events_data"}
        if name != "kmc_engine_impl.h":
            for sub, typ in others.items():
                if sub not in allowed:
                    for no, _ in _lines(c, rf"\b{typ}\b"):
                        out.append(f"{name}:{no}: names {typ}, another mode's data")
    # 2. only kmc_build.c and kmc_engine.c dispatch on the mode
    for name, c in code.items():
        if name in DISPATCHERS or name == "kmc_engine.h":  # the public header defines the modes
            continue
        for no, m in _lines(c, r"->\s*(mode|solver)\b|\bKMC_MODE_\w+|\bkmc_(tree|count|uniform|events)_solver\b"):
            own, line = f"kmc_{name[4:-2]}_solver", c.split("\n")[no - 1]
            if m.group(0) == own and re.match(rf"\s*const kmc_solver {own}\s*=", line):
                continue  # the solver's own table
            if name == "kmc_engine_impl.h" and re.match(r"\s*extern const kmc_solver\b", line):
                continue  # their declarations
            out.append(f"{name}:{no}: dispatches ({m.group(0)}); only kmc_build.c/kmc_engine.c may")
        if name not in INTERACTING:
            for no, _ in _lines(c, r"->\s*interacting\b"):
                out.append(f"{name}:{no}: tests e->interacting")
        for no, m in _lines(c, r"->\s*(counting|uniform)\b(?!\s*\()"):
            out.append(f"{name}:{no}: a removed mode flag e->{m.group(1)}")
    # 3. every rate through kmc_rate.h
    for name, c in code.items():
        if name == "kmc_rate.h":
            continue
        spans = function_spans(c)
        for no, _ in _lines(c, r"\bexp\s*\("):
            fn = next((f for f, (a, b) in spans.items() if a <= no <= b), None)
            if (name, fn) not in EXP_ALLOWED:
                out.append(f"{name}:{no}: exp() outside kmc_rate.h (in {fn}); rates come from "
                           "kmc_rate()/kmc_rate_memo()")
        for no, m in _lines(c, r"\bbeta\b|\bkmc_ea_\w+|\bkmc_rate_ea\b"):
            out.append(f"{name}:{no}: {m.group(0)} outside kmc_rate.h")
    # 4. one translation unit
    unity = code.get("kmc_unity.c", "")
    included = set(re.findall(r'#include\s+"(\w+\.c)"', sources.get("kmc_unity.c", "")))
    for name in code:
        if name.endswith(".c") and name != "kmc_unity.c" and name not in included:
            out.append(f"kmc_unity.c does not include {name}")
    if "#define KMC_UNITY" not in unity:
        out.append("kmc_unity.c does not define KMC_UNITY")
    if '"csrc/kmc_unity.c"' not in setup_py or "glob(" in setup_py:
        out.append("setup.py must compile csrc/kmc_unity.c (and no glob of csrc/*.c)")
    if "csrc/kmc_unity.c" not in fuzz_script:
        out.append(".ci/fuzz must compile csrc/kmc_unity.c")
    return out


@pytest.fixture(scope="module")
def tree():
    return read_sources(), (ROOT / "setup.py").read_text(), (ROOT / ".ci" / "fuzz").read_text()


def test_the_engine_keeps_its_layout(tree):
    assert violations(*tree) == []


def test_every_solver_has_the_interface(tree):
    sources = tree[0]
    for name in ("kmc_tree.c", "kmc_count.c", "kmc_uniform.c", "kmc_events.c"):
        c = strip_c(sources[name])
        m = re.search(r"const kmc_solver kmc_\w+_solver\s*=\s*\{([^}]*)\}", c)
        assert m, name
        assert len([x for x in m.group(1).split(",") if x.strip()]) == 6, name


def test_rate_law_comment_says_how_to_add_one(tree):
    rate = tree[0]["kmc_rate.h"]
    assert "Adding a law" in rate and "KMC_RATE_LAWS" in rate
    assert re.search(r"KMC_RATE_KRA\s*=\s*0", tree[0]["kmc_engine.h"])


def _broken(tree, name, text=None, append=""):
    sources = dict(tree[0])
    sources[name] = (sources.get(name, "") if text is None else text) + append
    return violations(sources, *tree[1:])


BAD_FN = "\nstatic double bad(const kmc_engine *e) {{ return {expr}; }}\n"


@pytest.mark.parametrize("name, expr, what", [
    ("kmc_count.c", "e->uni.A", "e->uni"),
    ("kmc_count.c", "e->tree.sum.data[0]", "e->tree"),
    ("kmc_uniform.c", "e->cnt.R", "e->cnt"),
    ("kmc_tree.c", "e->ia.phi[0]", "e->ia"),
    ("kmc_tree.c", "e->ev.rate[0]", "e->ev"),
    ("kmc_events.c", "(double)e->cnt.n_rc", "e->cnt"),
    ("kmc_interact.c", "e->uni.rmax", "e->uni"),
    ("kmc_engine_impl.h", "e->ev.cap", "e->ev"),
])
def test_rule_catches_a_mode_reading_another_modes_fields(tree, name, expr, what):
    found = _broken(tree, name, append=BAD_FN.format(expr=expr))
    assert any(what in v and v.startswith(name) for v in found), found


def test_rule_ignores_comments_and_strings(tree):
    assert _broken(tree, "kmc_count.c", append='\n/* e->uni.A */\nstatic const char *s = "e->ev.x";\n') == []


@pytest.mark.parametrize("name, expr", [
    ("kmc_tree.c", "(double)e->mode"),
    ("kmc_count.c", "e->solver == &kmc_uniform_solver ? 1.0 : 0.0"),
    ("kmc_uniform.c", "(double)KMC_MODE_TREE"),
    ("kmc_count.c", "(double)e->interacting"),
])
def test_rule_catches_dispatch_outside_build_and_engine(tree, name, expr):
    assert _broken(tree, name, append=BAD_FN.format(expr=expr))


@pytest.mark.parametrize("name, expr", [
    ("kmc_tree.c", "exp(-1.0 * e->rp.nu)"),
    ("kmc_events.c", "e->rp.nu * exp(-e->rp.beta * 0.3)"),
    ("kmc_uniform.c", "exp(-2.0)"),  # outside the ziggurat's functions
    ("kmc_interact.c", "kmc_ea_kra(0.3, 0.0)"),
])
def test_rule_catches_a_rate_outside_kmc_rate_h(tree, name, expr):
    assert _broken(tree, name, append=BAD_FN.format(expr=expr))


def test_rule_catches_a_file_outside_the_unit_or_unclassified(tree):
    unity = tree[0]["kmc_unity.c"]
    assert _broken(tree, "kmc_unity.c", text=unity.replace('#include "kmc_count.c"\n', ""))
    found = _broken(tree, "kmc_extra.c", text='#include "kmc_engine_impl.h"\n')
    assert any("kmc_extra.c" in v for v in found), found
    assert violations(tree[0], tree[1].replace('"csrc/kmc_unity.c"', 'glob("csrc/*.c")'), tree[2])
