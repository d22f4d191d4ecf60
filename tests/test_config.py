"""TOML config files and the command line: one schema, CLI wins, clear errors."""

import json
import re

import pytest

from kmc.cli import main
from kmc.config import OPTIONS, RunConfig, load_toml, run_config, sweep_config
from kmc.errors import ConfigError


def _write(tmp_path, text, name="run.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_every_cli_option_is_a_config_key(tmp_path):
    """A run config with every run key gives the same configuration as the same options on
    the command line."""
    path = _write(tmp_path, """
lattice = "square"
size = 8
a = 2.5
vacancies = 1
temperature = 450
barrier = 0.25
attempt_frequency = 2e12
field = [0.001, 0, 0]
steps = 5000
equilibration = 100
blocks = 4
seed = 3
output = "x.h5"
checkpoint-interval = 5
summary_json = true
overwrite = true
json = true
quiet = true
""")
    from_file = run_config(path, {})
    run_keys = {k for k, o in OPTIONS.items() if "run" in o.commands}
    assert set(from_file.to_dict()) == run_keys  # the records hold every run key, no more
    assert RunConfig.from_dict(from_file.to_dict()) == from_file  # and give them back
    cli = {"size": 8, "a": 2.5, "vacancies": 1, "temperature": 450.0, "barrier": 0.25,
           "attempt_frequency": 2e12, "field": [0.001, 0.0, 0.0], "steps": 5000,
           "equilibration": 100, "blocks": 4, "seed": 3, "output": "x.h5",
           "checkpoint_interval": 5.0, "summary_json": True, "overwrite": True,
           "json": True, "quiet": True}
    assert run_config("square", cli) == from_file
    assert from_file.model.field == (0.001, 0.0, 0.0)
    assert from_file.output.checkpoint_interval == 5.0 and from_file.output.path == "x.h5"
    assert from_file.plan.seed == 3 and from_file.plan.total_hops == 5100


def test_cli_wins_and_composition_is_one_option(tmp_path):
    path = _write(tmp_path, 'lattice = "sc"\nsize = 5\noccupancy = 0.3\ntemperature = 400\n')
    cfg = run_config(path, {"temperature": 500.0, "ions": 7})
    assert cfg.model.temperature == 500.0 and cfg.model.size == 5
    # the CLI composition replaces the file's
    assert cfg.model.ions == 7 and cfg.model.occupancy is None
    assert run_config(path, {}).model.occupancy == 0.3
    assert run_config("sc", {}).model.occupancy == 0.5  # the default composition
    # a size per cell vector
    assert run_config("sc", {"size": [4, 5, 6]}).model.size == (4, 5, 6)
    with pytest.raises(ConfigError, match=r"size = \(4, 5\) must have 3 entries"):
        run_config("sc", {"size": [4, 5]})


def test_config_run_through_cli_matches_options(tmp_path, capsys):
    path = _write(tmp_path, 'lattice = "sc"\nsize = 5\nsteps = 20000\nblocks = 10\nseed = 4\n'
                  "json = true\n")
    assert main(["run", path]) == 0
    a = json.loads(capsys.readouterr().out)
    assert main(["run", "sc", "--size", "5", "--steps", "20000", "--blocks", "10",
                 "--seed", "4", "--json"]) == 0
    b = json.loads(capsys.readouterr().out)
    for d in (a, b):
        d.pop("wall_s"), d.pop("hops_per_s")
    assert a == b
    # the CLI overrides the file
    assert main(["run", path, "--seed", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == 5


def test_sweep_config_lists(tmp_path):
    path = _write(tmp_path, 'lattice = "sc"\ntemperature = [300, 400, 500]\n'
                  "occupancy = [0.25, 0.5]\nreplicas = 2\nseed = 9\n", "sweep.toml")
    cfg = sweep_config(path, {})
    assert cfg.temperatures_K == (300.0, 400.0, 500.0)
    assert cfg.composition_key == "occupancy" and cfg.compositions == (0.25, 0.5)
    assert cfg.n_runs == 12 and cfg.seed == 9 and cfg.output.path == "sweep.h5"
    cfg = sweep_config(path, {"temperature": [600.0, 700.0], "workers": 1})
    assert cfg.temperatures_K == (600.0, 700.0) and cfg.workers == 1
    assert sweep_config("sc", {"temperature": 350.0}).temperatures_K == (350.0,)


@pytest.mark.parametrize(
    "text, match",
    [
        ("temprature = 300", "unknown key 'temprature'; did you mean 'temperature'"),
        ("lattice = 3", "lattice = 3 must be a non-empty string"),
        ('size = "10"', "size = '10' must be an integer"),
        ("size = 2.5", "size = 2.5 must be an integer"),
        ("temperature = -5", "temperature = -5 must be > 0"),
        ('temperature = "hot"', "must be a number"),
        ("temperature = [300, 400]", "must be a single value (a list is for kmc sweep)"),
        ("occupancy = 1.5", "occupancy = 1.5 must be <= 1"),
        ("blocks = 1", "blocks = 1 must be >= 2"),
        ("json = 1", "json = 1 must be true or false"),
        ("field = [1, 2]", "field = [1, 2] must be a list of 3 numbers"),
        ("replicas = 3", "key 'replicas' is for kmc sweep only"),
        ("occupancy = 0.5\nions = 3", "give at most one of occupancy, ions, vacancies"),
        ("[lattice]\nname = 'sc'", "must be a value, not a table"),
        ("lattice = ", "invalid TOML"),
        ("seed = -1", "seed = -1 must be >= 0"),
        ("size = true", "must be an integer, not bool"),
    ],
)
def test_bad_run_config(tmp_path, text, match):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=re.escape(match)):
        load_toml(path, "run")


@pytest.mark.parametrize(
    "text, match",
    [
        ("temperature = []", "temperature is an empty list"),
        ("temperature = [300, -1]", r"temperature\[1\] = -1 must be > 0"),
        ("temperature = [300, 300]", "holds a value twice"),
        ("occupancy = [0.5, 2]", r"occupancy\[1\] = 2 must be <= 1"),
        ("replicas = 0", "replicas = 0 must be >= 1"),
        ("workers = 'many'", "workers = 'many' must be an integer"),
    ],
)
def test_bad_sweep_config(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_toml(_write(tmp_path, text, "sweep.toml"), "sweep")


@pytest.mark.parametrize(
    "command, text, extra, match",
    [
        ("run", "lattice = 'sc'\nbogus = 1", [], "unknown key 'bogus'"),
        ("run", "lattice = 'sc'\nsteps = 'lots'", [], "steps = 'lots' must be an integer"),
        ("run", "lattice = 'sc'\ntemperature = -20", [], "temperature = -20 must be > 0"),
        ("sweep", "lattice = 'sc'\ntemperature = []", [], "temperature is an empty list"),
        ("sweep", "lattice = 'sc'", ["-T", "300,-4"], r"--temperature\[1\] = -4.0 must be > 0"),
        ("sweep", "lattice = 'sc'", ["-T", "300,,400"], "invalid list"),
        ("sweep", "lattice = 'sc'", ["-T", "warm"], "invalid float value"),
        ("run", "lattice = 'nope'", [], "unknown lattice or material 'nope'"),
        ("run", "size = 4", [], "give a LATTICE, a structure file or a config file"),
    ],
)
def test_bad_config_on_the_command_line_is_one_line_exit_2(tmp_path, capsys, command, text,
                                                           extra, match):
    path = _write(tmp_path, text, "c.toml")
    assert main([command, path, "--quiet", "--output", str(tmp_path / "o.h5"), *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("kmc: error:")
    assert re.search(match, captured.err), captured.err
    assert "Traceback" not in captured.err


def test_missing_config_file(capsys):
    assert main(["run", "no/such/file.toml"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_rate_law_from_the_command_line_to_the_engine(tmp_path, capsys):
    """--rate-law is checked against the engine's laws and reaches the run, its file and its
    result; a law the engine does not have is refused, naming the known ones."""
    import kmc
    from kmc import assemble
    from kmc.constants import RATE_LAWS

    cfg = run_config("sc", {"size": 4, "rate_law": "kra", "steps": 2000, "blocks": 4,
                            "seed": 1})
    assert cfg.model.rate_law == "kra" and cfg.model_keys()["rate_law"] == "kra"
    sim = assemble.simulation(cfg)
    assert sim.rate_law == "kra" and sim.engine.rate_law == "kra"
    out = tmp_path / "r.h5"
    assert main(["run", "sc", "--size", "4", "--steps", "2000", "--blocks", "4", "--seed", "1",
                 "--rate-law", "kra", "--output", str(out), "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["rate_law"] == "kra"
    assert kmc.load(out).rate_law == "kra"
    # kMCpy's law reaches the engine the same way
    assert main(["run", "sc", "--size", "4", "--steps", "2000", "--blocks", "4", "--seed", "1",
                 "--barrier", "0.05", "--rate-law", "kmcpy", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["rate_law"] == "kmcpy"
    cfg = run_config("sc", {"size": 4, "rate_law": "kmcpy", "steps": 2000, "seed": 1})
    assert assemble.simulation(cfg).engine.rate_law == "kmcpy"
    with pytest.raises(ConfigError, match=r"rate.law = 'kramers' must be one of "
                                          + ", ".join(RATE_LAWS)):
        run_config("sc", {"rate_law": "kramers"})
    with pytest.raises(ConfigError, match=r"rate_law = 'x' must be one of"):
        kmc.Simulation(kmc.build_lattice("sc", size=3), 300, n_ions=1, rate_law="x")
