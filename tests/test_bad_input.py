"""The catalogue of bad input (RELIABILITY.md): every public constructor and command-line
option given values it must refuse. The Python API raises ValueError (ConfigError) or
TypeError with a message naming the value; the command line prints one line on stderr,
exits with status 2 and shows no traceback. Nothing crashes, hangs or returns a number.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import kmc
from kmc import builders, materials
from kmc.cli import main
from kmc.errors import ConfigError
from kmc.lattice import SiteNetwork
from kmc.simulation import engine_for

BAD_REALS = [-1.0, 0.0, math.nan, math.inf, -math.inf]


def _chain(**changes):
    """A valid 4-site periodic chain (a = 2 A), with some fields replaced."""
    kw = dict(cell=np.diag([8.0, 10.0, 10.0]),
              positions=[[0, 0, 0], [2, 0, 0], [4, 0, 0], [6, 0, 0]],
              hop_src=[0, 1, 1, 2, 2, 3, 3, 0], hop_dst=[1, 0, 2, 1, 3, 2, 0, 3],
              hop_vectors=[[2, 0, 0], [-2, 0, 0]] * 4, hop_barriers_eV=0.3)
    kw.update(changes)
    return SiteNetwork(**kw)


def test_the_valid_chain_is_valid():
    assert _chain().n_hops == 8


# ----------------------------------------------------------------------- Simulation
@pytest.mark.parametrize("T", BAD_REALS)
def test_bad_temperature(T):
    with pytest.raises(ConfigError, match=r"temperature_K = .* must be finite and > 0"):
        kmc.Simulation(_chain(), T, n_ions=1)


@pytest.mark.parametrize("nu", BAD_REALS + [1e31, 1e300])
def test_bad_attempt_frequency(nu):
    """Also absurdly large ones: rate sums must stay finite (else time would stall)."""
    with pytest.raises(ConfigError, match=r"attempt_frequency_Hz = .* must be > 0 and at "
                                          r"most 1e\+30"):
        kmc.Simulation(_chain(), 300, n_ions=1, attempt_frequency_Hz=nu)


def test_engine_refuses_absurd_attempt_frequency():
    net = _chain()
    with pytest.raises(ConfigError, match=r"attempt_frequency_Hz = 1e\+300 is above 1e\+30"):
        kmc._engine.Engine(net.hop_ptr, net.hop_dst, net.hop_rev, net.hop_types,
                           net.hop_vectors, net.hop_barriers_eV, net.site_energies_eV,
                           np.array([0], dtype=np.int32), n_hop_types=1, temperature_K=300.0,
                           attempt_frequency_Hz=1e300, charge_e=1.0, seed=1)


def test_energies_and_field_that_overflow_together_are_refused():
    """Finite site energies and field whose sum overflows (E_dst - E_src = inf, q F . d =
    -inf) would give a hop a NaN energy change and NaN rates (found by the fuzzer). A
    Simulation refuses such a field first (far outside linear response); the engine itself
    refuses the hop."""
    net = _chain(site_energies_eV=[1e308, -1.7e308, 0.0, 0.0])
    with pytest.raises(ConfigError, match=r"hop 0 of site 0 \(to site 1\) has no energy "
                                          r"change: E_dst - E_src - q F \. d overflows"):
        engine_for(net, [0], temperature_K=300.0, field_V_per_angstrom=(-1.7e308, 0.0, 0.0))


@pytest.mark.parametrize("compact", [False, True])
def test_events_whose_energies_and_field_overflow_together_are_refused(compact):
    """The same for a multi-ion event whose every hop is fine: on a 3-site chain (a = 1 A)
    with energies -1e308, 0, 1e308 eV and a field of 1e308 V/A, a hop's dE is finite or
    +-inf, but a 2-ion string from site 0 sums E_dst - E_src to inf and q F . d to inf:
    inf - inf. Listed events (a SiteNetwork) and event templates (a PeriodicNetwork's) are
    refused alike, naming the event; before, a template's NaN dE gave it rate 0."""
    from kmc.mechanisms import concerted_events

    energies = [-1e308, 0.0, 1e308]
    if compact:  # the chain as a 3-site cell, its energies per basis site
        net = builders.periodic_network(np.diag([3.0, 10.0, 10.0]),
                                        [[0, 0, 0], [1 / 3, 0, 0], [2 / 3, 0, 0]], (3, 1, 1),
                                        hop_axes=(True, False, False), compact=True)
        net = dataclasses.replace(net, basis_energies_eV=energies)
    else:
        net = builders.chain(a=1.0, size=3).replace(site_energies_eV=energies)
    net = net.with_events(concerted_events(net, 2, 0.1))
    what = r"template \d+ at site 0" if compact else r"event \d+ \(from site 0\)"
    with pytest.raises(ConfigError, match=what + r" has no energy change: its sum of E_dst - "
                                         r"E_src - q F \. d overflows"):
        engine_for(net, [0, 1], temperature_K=300.0, field_V_per_angstrom=(1e308, 0.0, 0.0))
    # the same network without the field: no overflow, an engine
    assert engine_for(net, [0, 1], temperature_K=300.0).n_ions == 2


def test_automatic_mode_avoids_uniformization_when_the_start_blocks_the_fast_hops():
    """Sites in pairs (0,1), (2,3), ... joined by fast hops (0.1 eV), pairs joined by very slow
    ones (1.5 eV). At random occupancy c = 1/2 half the attempts would succeed, so the
    automatic mode would take uniformization; but a start with both sites of a pair
    occupied blocks every fast hop, and uniformization would reject almost every attempt
    (a practical hang). The automatic mode sees the start and takes exact trees instead."""
    net = builders.chain(size=8)
    fast = (net.hop_src // 2) == (net.hop_dst // 2)
    pairs = net.replace(hop_barriers_eV=np.where(fast, 0.1, 1.5))
    mixed = kmc.Simulation(pairs, 300, ion_sites=[0, 2, 4, 6], seed=1)  # fast hops open
    assert mixed.engine.mode == "uniform"
    blocked = kmc.Simulation(pairs, 300, ion_sites=[0, 1, 4, 5], seed=1)
    assert blocked.engine.mode != "uniform"
    done, why = blocked.engine.run(10)  # exact trees: slow hops happen, in finite time
    assert done == 10 and why == "steps" and math.isfinite(blocked.engine.time_s)


@pytest.mark.parametrize("T", ["hot", None, [300]])
def test_temperature_of_the_wrong_type(T):
    with pytest.raises((TypeError, ConfigError), match=r"temperature_K"):
        kmc.Simulation(_chain(), T, n_ions=1)


@pytest.mark.parametrize("kw, match", [
    ({"n_ions": 5}, r"n_ions = 5 is more than the 4 sites"),
    ({"n_ions": 0}, r"n_ions"),
    ({"n_ions": -1}, r"n_ions"),
    ({"n_vacancies": 4}, r"n_vacancies = 4 leaves no ion"),
    ({"occupancy": 0.0}, r"occupancy = 0.0 must be in \(0, 1\]"),
    ({"occupancy": 1.5}, r"occupancy = 1.5 must be in \(0, 1\]"),
    ({"occupancy": math.nan}, r"occupancy = nan"),
    ({"occupancy": 0.01}, r"occupancy = 0.01 of 4 sites rounds to no ion"),
    ({"ion_sites": [0, 0]}, r"ion_sites holds a site twice"),
    ({"ion_sites": [7]}, r"ion_sites holds a site outside 0..3"),
    ({"ion_sites": []}, r"ion_sites must be a non-empty"),
    ({"n_ions": 1, "occupancy": 0.5}, r"give exactly one of"),
    ({}, r"give exactly one of"),
    ({"n_ions": 1, "seed": -3}, r"seed"),
    ({"n_ions": 1, "field_V_per_angstrom": [0, 0, math.nan]}, r"field_V_per_angstrom"),
    ({"n_ions": 1, "engine_mode": "fast"}, r"engine_mode = 'fast' must be one of"),
])
def test_bad_composition_and_options(kw, match):
    with pytest.raises(ConfigError, match=match):
        kmc.Simulation(_chain(), 300, **kw)


@pytest.mark.parametrize("kw, match", [
    ({"steps": 0}, r"steps"), ({"steps": -5}, r"steps"), ({"blocks": 0}, r"blocks"),
    ({"steps": 1000, "blocks": 2000}, r"blocks = 2000 is more than steps = 1000"),
])
def test_bad_run_lengths(kw, match):
    sim = kmc.Simulation(_chain(), 300, n_ions=1, seed=1)
    with pytest.raises((ConfigError, TypeError), match=match):
        sim.run(**kw)


# ----------------------------------------------------------------------- SiteNetwork
@pytest.mark.parametrize("changes, match", [
    ({"hop_barriers_eV": -0.1}, r"hop_barriers_eV"),
    ({"hop_barriers_eV": math.nan}, r"hop_barriers_eV"),
    ({"hop_barriers_eV": math.inf}, r"hop_barriers_eV"),
    ({"site_energies_eV": [0, 0, math.nan, 0]}, r"site_energies_eV\[2\]"),
    ({"hop_dst": [1, 0, 2, 1, 3, 2, 9, 3]}, r"hop 6 goes to site 9, but the network has"),
    ({"hop_src": [0, 1, 1, 2, 2, 3, 3, -1]}, r"hop 7 starts at site -1"),
    ({"hop_src": [0, 0, 1, 2, 2, 3, 3, 0], "hop_dst": [1, 1, 2, 1, 3, 2, 0, 3],
      "hop_vectors": [[2, 0, 0], [2, 0, 0], [2, 0, 0], [-2, 0, 0], [2, 0, 0], [-2, 0, 0],
                      [2, 0, 0], [-2, 0, 0]]}, r"duplicate|twice|same"),
    ({"hop_vectors": [[0, 0, 0], [0, 0, 0]] + [[2, 0, 0], [-2, 0, 0]] * 3},
     r"hop_vectors|zero|length"),
    ({"hop_vectors": [[2e9, 0, 0], [-2e9, 0, 0]] + [[2, 0, 0], [-2, 0, 0]] * 3},
     r"hop"),
    ({"hop_vectors": [[2.5, 0, 0], [-2.5, 0, 0]] + [[2, 0, 0], [-2, 0, 0]] * 3},
     r"hop 0|positions|image"),
    ({"cell": np.zeros((3, 3))}, r"cell is singular"),
    ({"cell": [[8, 0, 0], [16, 0, 0], [0, 0, 10]]}, r"cell is singular"),
    ({"cell": np.diag([8.0, 10.0, math.nan])}, r"cell"),
    ({"positions": np.zeros((0, 3)), "hop_src": [], "hop_dst": [],
      "hop_vectors": np.zeros((0, 3))}, r"positions is empty"),
    ({"positions": [[0, 0, 0], [2, 0, 0], [4, 0, 0], [6, 0, math.inf]]}, r"positions\[3"),
    ({"charge_e": 0}, r"charge_e"),
    ({"hop_src": [0, 1], "hop_dst": [1, 0, 2]}, r"hop_dst has 3 entries but hop_src has 2"),
])
def test_bad_site_network(changes, match):
    with pytest.raises(ConfigError, match=match):
        _chain(**changes)


def test_missing_reverse_hop():
    with pytest.raises(ConfigError, match=r"revers"):
        _chain(hop_src=[0, 1, 2, 3], hop_dst=[1, 2, 3, 0], hop_vectors=[[2, 0, 0]] * 4)


def test_wrong_types():
    with pytest.raises((TypeError, ConfigError), match=r"hop_src"):
        _chain(hop_src="01122330")
    with pytest.raises(TypeError, match=r"name"):
        _chain(name=5)
    with pytest.raises(TypeError, match=r"network must be a SiteNetwork"):
        kmc.Simulation("sc", 300, n_ions=1)


# ------------------------------------------------------- no possible event: clean stop
def test_network_without_hops_is_refused_at_run():
    net = _chain(hop_src=[], hop_dst=[], hop_vectors=np.zeros((0, 3)))
    sim = kmc.Simulation(net, 300, n_ions=2, seed=1)
    with pytest.raises(ConfigError, match=r"no event is possible|blocked|frozen"):
        sim.run(steps=1000, blocks=10)


def test_full_lattice_is_frozen_not_a_hang():
    """Every site occupied: the total rate is 0. A run refuses at once (no division by
    zero, no infinite loop); the engine reports the stop reason."""
    net = builders.sc(size=3)
    sim = kmc.Simulation(net, 300, occupancy=1.0, seed=1)
    assert sim.engine.total_rate_Hz == 0
    assert sim.engine.run(10) == (0, "frozen")
    assert sim.engine.time_s == 0.0 and math.isfinite(sim.engine.time_s)
    with pytest.raises(ConfigError, match=r"frozen|blocked|no event"):
        sim.run(steps=1000, blocks=10)


# ----------------------------------------------------------------------- builders
@pytest.mark.parametrize("call, match", [
    (lambda: builders.sc(a=-3), r"a = -3"),
    (lambda: builders.sc(a=math.nan), r"a = nan"),
    (lambda: builders.sc(size=0), r"size"),
    (lambda: builders.sc(size=1), r"supercell is too small"),
    (lambda: builders.sc(size=2.5), r"size"),
    (lambda: builders.sc(barrier_eV=-0.2), r"barrier_eV"),
    (lambda: builders.sc(barrier_eV=math.inf), r"barrier_eV"),
    (lambda: builders.build_lattice("scc"), r"unknown lattice 'scc'.*did you mean 'sc'"),
    (lambda: builders.build_lattice("fcc", colour="red"), r"colour"),
    (lambda: builders.periodic_network(np.zeros((3, 3)), [[0, 0, 0]], 3), r"singular"),
    (lambda: builders.sc(size=2000), r"2\*\*31|at most"),
])
def test_bad_builder_input(call, match):
    with pytest.raises((ConfigError, TypeError), match=match):
        call()


def test_unknown_material_did_you_mean():
    with pytest.raises(ConfigError, match=r"unknown material 'nasikon'; did you mean 'nasicon'"):
        kmc.build_material("nasikon")


# ----------------------------------------------------------------------- files
def test_malformed_config_toml(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("lattice = 'sc'\ntemperature = [\n")
    with pytest.raises(ConfigError, match=r"bad.toml: invalid TOML"):
        kmc.config.run_config(str(bad), {})
    with pytest.raises(ConfigError, match=r"does not exist"):
        kmc.config.run_config(str(tmp_path / "missing.toml"), {})
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("lattice = 'sc'\ntemprature = 300\n")
    with pytest.raises(ConfigError, match=r"temprature.*did you mean 'temperature'"):
        kmc.config.run_config(str(wrong), {})
    typed = tmp_path / "typed.toml"
    typed.write_text("lattice = 'sc'\ntemperature = 'hot'\n")
    with pytest.raises(ConfigError, match=r"temperature"):
        kmc.config.run_config(str(typed), {})


def test_malformed_cif(tmp_path):
    bad = tmp_path / "bad.cif"
    bad.write_text("data_x\n_cell_length_a 5\nloop_\n_atom_site_label\n")
    with pytest.raises(ConfigError, match=r"bad.cif"):
        kmc.from_cif(bad, "Li", 3.0)
    with pytest.raises(ConfigError, match=r"does not exist|No such file|missing.cif"):
        kmc.from_cif(tmp_path / "missing.cif", "Li", 3.0)


def test_malformed_lattice_file(tmp_path, monkeypatch):
    """A broken material file (invalid TOML, or a missing key) is named in the error."""
    broken = tmp_path / "broken.toml"
    broken.write_text("[cell\n")
    nokeys = tmp_path / "nokeys.toml"
    nokeys.write_text("title = 'x'\n")
    files = {"broken": broken, "nokeys": nokeys}
    monkeypatch.setattr(materials, "_lattice_files", lambda: files)
    materials._load_spec.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"broken.toml: invalid TOML"):
            materials._load_spec("broken")
        with pytest.raises(ConfigError, match=r"nokeys.toml has no"):
            materials._load_spec("nokeys")
    finally:
        materials._load_spec.cache_clear()


# ----------------------------------------------------------------------- command line
CLI_CASES = [
    (["run", "sc", "-T", "-5"], r"temperature"),
    (["run", "sc", "-T", "0"], r"temperature"),
    (["run", "sc", "-T", "nan"], r"temperature"),
    (["run", "sc", "-T", "inf"], r"temperature"),
    (["run", "sc", "-T", "hot"], r"temperature|invalid"),
    (["run", "sc", "--attempt-frequency", "0"], r"attempt"),
    (["run", "sc", "--attempt-frequency", "1e40"], r"attempt"),
    (["run", "sc", "--barrier", "-1"], r"barrier"),
    (["run", "sc", "--barrier", "nan"], r"barrier"),
    (["run", "sc", "--occupancy", "1.5"], r"occupancy"),
    (["run", "sc", "--occupancy", "0"], r"occupancy"),
    (["run", "sc", "--ions", "100000"], r"ions|more than"),
    (["run", "sc", "--ions", "0"], r"ions"),
    (["run", "sc", "--size", "0"], r"size"),
    (["run", "sc", "--size", "1"], r"too small|size"),
    (["run", "sc", "--a", "-3"], r"a = -3|\ba\b"),
    (["run", "sc", "--steps", "0"], r"steps"),
    (["run", "sc", "--blocks", "0"], r"blocks"),
    (["run", "sc", "--field", "0", "0", "nan"], r"field"),
    (["run", "scc"], r"did you mean 'sc'"),
    (["run", "nasikon"], r"did you mean 'nasicon'"),
    (["run", "sc", "--mechanisms", "hopp"], r"did you mean 'hop'"),
    (["run", "--resume", "/nonexistent/run.h5"], r"run.h5"),
    (["run", "polycrystal"], r"material"),
]


@pytest.mark.parametrize("argv, match", CLI_CASES, ids=[" ".join(a) for a, _ in CLI_CASES])
def test_cli_bad_input_one_line_exit_2(argv, match, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main([*argv, "--steps", "2000"] if "--steps" not in argv
                              and argv[:2] != ["run", "--resume"] else argv))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    # argparse's own errors come with a usage line before the error line
    assert len(lines) == 1 or (len(lines) == 2 and lines[0].startswith("usage:")), err
    assert lines[-1].startswith("kmc: error:") or "error:" in lines[-1]
    assert re.search(match, lines[-1]), lines[-1]
    assert not list(tmp_path.iterdir()), "a refused run wrote files"


@pytest.mark.parametrize("text, match", [
    ("lattice = 'sc'\ntemperature = [\n", r"invalid TOML"),
    ("lattice = 'sc'\ntemprature = 300\n", r"did you mean 'temperature'"),
])
def test_cli_bad_config_file(text, match, capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    assert main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(match, err[0]), err


def test_cli_bad_input_in_a_real_process(tmp_path):
    """End to end: no traceback, exit status 2, one line on stderr. (The installed console
    script, run outside the source tree, whose kmc/ has no compiled engine.)"""
    script = shutil.which("kmc", path=os.path.dirname(sys.executable)) or shutil.which("kmc")
    cmd = [script] if script else [sys.executable, "-m", "kmc.cli"]
    proc = subprocess.run([*cmd, "run", "sc", "-T", "-1"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("kmc: error:") and "temperature" in proc.stderr
