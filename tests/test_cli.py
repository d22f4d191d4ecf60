"""The kmc command line: output formats, exit codes, one-line errors."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from kmc.cli import main


def test_run_json_has_required_keys(capsys):
    assert main(["run", "sc", "--size", "6", "--steps", "50000", "--blocks", "10",
                 "--seed", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("D_tracer_cm2_s", "D_sigma_cm2_s", "correlation_factor", "haven_ratio",
                "sigma_S_cm"):
        assert isinstance(out[key], float) and isinstance(out[key + "_err"], float)
    for key in ("hops", "simulated_time_s", "wall_s", "hops_per_s", "n_sites", "n_ions",
                "temperature_K", "dimensionality"):
        assert key in out
    assert out["n_sites"] == 216 and out["n_ions"] == 108 and out["seed"] == 1


def test_run_table_and_compositions(capsys):
    assert main(["run", "square", "--size", "8", "--vacancies", "1", "-T", "500",
                 "--barrier", "0.2", "--steps", "20000", "--blocks", "4", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "63 ions on 64 sites (d = 2)" in out and "T = 500 K" in out
    assert main(["run", "fcc", "--size", "2", "--ions", "3", "--a", "4.0", "--steps", "5000",
                 "--blocks", "4", "--seed", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_ions"] == 3


@pytest.mark.parametrize(
    "argv, match",
    [
        (["run", "scc"], "did you mean 'sc'"),
        (["run", "sc", "--occupancy", "1.5"], "occupancy"),
        (["run", "sc", "-T", "-5"], "--temperature = -5.0 must be > 0"),
        (["run", "sc", "-T", "nan"], "--temperature = nan must be finite"),
        (["run", "sc", "--a", "0"], "a"),
        (["run", "sc", "--size", "1"], "too small"),
        (["run", "sc", "--ions", "100000"], "more than"),
        (["run", "sc", "--ions", "0"], "--ions = 0 must be >= 1"),
        (["run", "sc", "--barrier", "nan"], "barrier"),
        (["run", "sc", "--steps", "0"], "steps"),
        (["run", "sc", "--blocks", "1"], "blocks"),
        (["run", "sc", "--occupancy", "1"], "no hop is possible"),
        (["run", "sc", "--vacancies", "1", "--ions", "3"], "not allowed"),
        (["run", "sc", "--bogus"], "unrecognized"),
        (["run", "sc", "--steps", "many"], "invalid int"),
    ],
)
def test_errors_are_one_line_exit_2(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kmc: error:")
    assert match in err
    assert "Traceback" not in err


def test_console_script_and_version(tmp_path):
    """The installed `kmc` command (run outside the source tree, so the installed package
    is what gets imported)."""
    import kmc

    script = shutil.which("kmc", path=os.path.dirname(sys.executable)) or shutil.which("kmc")
    cmd = [script] if script else [sys.executable, "-m", "kmc.cli"]
    proc = subprocess.run([*cmd, "run", "nope"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and proc.stdout == ""
    proc = subprocess.run([*cmd, "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and kmc.__version__ in proc.stdout


def test_lattices_lists_all(capsys):
    from kmc import LATTICES

    assert main(["lattices"]) == 0
    out = capsys.readouterr().out
    for name in LATTICES:
        assert name in out
