"""The repository stands alone: no file points at sources that exist only on a developer's
machine (a `shared/` folder beside the checkout, review texts cited by "seed NNN:LINE" line
numbers, private digests of crystal data or exact results). Values are cited by their papers;
docs/references.md and the `via`/`reference` fields of kmc/data/experimental.toml carry them.

Two checks: the installed package data (always there), and every file of the source tree
(only when the tests run inside a checkout; the suite also runs from a copy of tests/ against
an installed wheel, where it is skipped).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest

# Written so that this file does not match itself (it is checked like every other file).
POINTERS = re.compile("|".join([
    r"\.\./shared\b",                      # a shared/ folder beside the checkout
    r"\bshared/(?:reference|seeds)\b",     # its reference/ and seeds/ without the ../
    r"/wor[k]/",                           # absolute paths of the development machine
    r"\bseeds?\s+00[0-4]\b",               # the review texts, "seed" + their number 000-004
    r"(?<![\w.:/-])00[0-4]:\d+\b",         # bare review line numbers: number:line
    r"crystal_dat[a]\.md",                 # private digests
    r"exact_result[s]\.md",
    r"seeds_diges[t]",
]), re.IGNORECASE)

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", "build", "dist", "__pycache__", ".pytest_cache", ".hypothesis",
             ".eggs", "node_modules"}


def _hits(name: str, text: str) -> list[str]:
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for m in POINTERS.finditer(line):
            out.append(f"{name}:{lineno}: {m.group(0)!r} in {line.strip()[:120]!r}")
    return out


def _is_source_tree(root: Path) -> bool:
    return all((root / p).exists() for p in ("setup.py", "pyproject.toml", "csrc",
                                             "lattices", "kmc/__init__.py"))


def _project_files(root: Path) -> list[Path]:
    """The tracked files (git ls-files), or every file under root when git is absent or
    root is not a git checkout (a source archive)."""
    git = shutil.which("git")
    if git and (root / ".git").exists():
        proc = subprocess.run([git, "-C", str(root), "ls-files", "-z"], capture_output=True)
        if proc.returncode == 0:
            return [root / p for p in proc.stdout.decode("utf-8").split("\0") if p]
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames
                       if d not in SKIP_DIRS and not d.endswith(".egg-info")
                       and not (Path(dirpath, d) / "pyvenv.cfg").exists()]
        files.extend(Path(dirpath, f) for f in filenames)
    return files


def _text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:  # a broken symlink, a file deleted but still tracked
        return None
    if b"\0" in data[:8192]:
        return None  # binary (fuzz corpus, compiled extension)
    return data.decode("utf-8", errors="replace")


S, D, C = "/", ".", ":"


def test_the_pattern_catches_the_pointers_it_is_meant_for():
    # assembled from pieces, so that this file passes its own check
    bad = [f"`..{S}shared{S}reference{S}crystal_data{D}md` B5", f"via = \"seed {'001'}{C}165\"",
           f"text 001{C}83, 001{C}140", f"python3 -m venv {S}work{S}peers-venv",
           f"Exact values: exact_results{D}md", f"(derived; seeds_{'digest'}_other{D}md D1)",
           f"journal paper = seed {'004'} ref 65", f"see shared{S}seeds{S}README.md"]
    good = ["--seed 1", "seed = 42", "the master seed", "shared libraries", "a shared guest",
            "hop_ptr[384:386]", "Shared fixtures", "10:30", "Nat. Mater. 10, 682 (2011)",
            "ref. 73 of Wang et al., Energy Environ. Sci. 14, 2577 (2021)", "~/peers-venv"]
    assert all(POINTERS.search(s) for s in bad), [s for s in bad if not POINTERS.search(s)]
    assert not any(POINTERS.search(s) for s in good), [s for s in good if POINTERS.search(s)]


def test_installed_package_data_has_no_machine_local_pointers():
    checked, hits = 0, []
    for package, suffixes in (("kmc.data", (".toml",)), ("kmc.lattices", (".toml", ".md"))):
        for entry in resources.files(package).iterdir():
            if entry.name.endswith(suffixes):
                checked += 1
                hits += _hits(f"{package}/{entry.name}", entry.read_text("utf-8"))
    assert checked >= 5  # experimental.toml, four materials (and the lattices README)
    assert not hits, "machine-local provenance pointers:\n" + "\n".join(hits)


def test_source_tree_has_no_machine_local_pointers():
    if not _is_source_tree(ROOT):
        pytest.skip(f"no kmc source tree at {ROOT} (tests run from a copy, against an "
                    "installed package); the package data is checked by the test above")
    checked, hits = 0, []
    for path in _project_files(ROOT):
        text = _text(path)
        if text is None:
            continue
        checked += 1
        hits += _hits(str(path.relative_to(ROOT)), text)
    assert checked > 20, checked
    assert not hits, "machine-local provenance pointers:\n" + "\n".join(hits)
