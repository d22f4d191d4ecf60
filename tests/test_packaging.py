"""The installed package: version, data files, compiled engine, command line.

Run against the installed wheel by .ci/run (from a directory outside the source tree, with
KMC_EXPECT_INSTALLED=1), so a file missing from the wheel fails CI.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

import kmc


def _kmc_cmd() -> list[str]:
    script = shutil.which("kmc", path=os.path.dirname(sys.executable)) or shutil.which("kmc")
    return [script] if script else [sys.executable, "-m", "kmc.cli"]


def _editable(dist: importlib.metadata.Distribution) -> bool:
    text = dist.read_text("direct_url.json") or "{}"
    return bool(json.loads(text).get("dir_info", {}).get("editable"))


def test_version_is_the_metadata_version():
    assert kmc.__version__ == importlib.metadata.version("kmc-ion")
    out = subprocess.run([*_kmc_cmd(), "--version"], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == f"kmc {kmc.__version__}"


def test_package_data_is_installed():
    lattices = {p.name for p in resources.files("kmc.lattices").iterdir()}
    assert {"lgps.toml", "argyrodite.toml", "nasicon.toml", "beta_alumina.toml",
            "README.md"} <= lattices
    assert resources.files("kmc.data").joinpath("experimental.toml").is_file()
    assert resources.files("kmc.data").joinpath("nasicon_deng2022.json").is_file()
    assert resources.files("kmc").joinpath("py.typed").is_file()
    assert set(kmc.list_materials()) >= {"lgps", "nasicon", "beta_alumina"}


def test_compiled_engine_and_metadata_files():
    from kmc import _engine

    assert Path(_engine.__file__).suffix in {".so", ".pyd"}
    dist = importlib.metadata.distribution("kmc-ion")
    assert dist.metadata["License-Expression"] == "BSD-3-Clause"
    assert dist.entry_points.select(group="console_scripts", name="kmc")


@pytest.mark.skipif(not os.environ.get("KMC_EXPECT_INSTALLED"),
                    reason="only when testing an installed wheel (.ci/run)")
def test_running_against_the_installed_wheel_not_the_source_tree():
    pkg = Path(kmc.__file__).resolve().parent
    assert "site-packages" in pkg.parts, pkg
    assert not (pkg.parent / "csrc").exists() and not (pkg.parent / "setup.py").exists()
    dist = importlib.metadata.distribution("kmc-ion")
    assert not _editable(dist)
    files = {str(f) for f in dist.files or ()}
    # no tests, sources or build leftovers in the wheel
    assert not any(f.startswith(("tests/", "csrc/", "build/", "benchmarks/"))
                   for f in files), sorted(files)
    assert not any(f.endswith((".o", ".c", ".h")) for f in files), sorted(files)
    for need in ("kmc/lattices/lgps.toml", "kmc/data/experimental.toml", "kmc/py.typed"):
        assert need in files, need
    assert any(f.startswith("kmc/_engine.") and f.endswith((".so", ".pyd")) for f in files)
    assert any(f.endswith("licenses/LICENSE") for f in files)
