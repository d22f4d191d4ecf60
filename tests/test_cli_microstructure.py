"""Microstructures from the command line, config files, sweeps and plots."""

import json
import math
import os
import re
import shutil
import subprocess
import sys

import pytest

import kmc
from kmc import assemble, io
from kmc.cli import main
from kmc.config import bulk_output_path, run_config, sweep_config

# tiny boxes and short runs: sc 6x6x6 (1.8 nm across), a few thousand hops per ion in all
POLY = ["run", "polycrystal", "--material", "sc", "--size", "6", "--grain-size-nm", "1",
        "--gb-barrier-offset-eV", "0.1", "-T", "600", "--steps", "1000000", "--blocks", "10",
        "--seed", "1", "--quiet"]
COMP = ["run", "composite", "--material", "sc", "--size", "6", "--fraction", "0.7",
        "-T", "600", "--steps", "300000", "--blocks", "10", "--seed", "1", "--quiet"]


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _png(path):
    return path.exists() and path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"


def test_run_polycrystal_json(capsys):
    out = _json(capsys, [*POLY, "--json"])
    ms = assemble.microstructure(run_config("polycrystal", {
        "material": "sc", "size": 6, "grain_size_nm": 1.0, "gb_barrier_offset_eV": 0.1}).model)
    assert out["microstructure"] == "polycrystal" and out["n_grains"] == ms.n_grains == 6
    assert out["gb_site_fraction"] == ms.gb_site_fraction
    assert math.isclose(out["grain_size_nm"], ms.grain_size_nm)
    assert out["gb_barrier_offset_eV"] == 0.1 and out["microstructure_seed"] == 0
    bulk = out["bulk"]
    assert bulk["network_name"] == "sc" and out["network_name"] == "sc-polycrystal"
    assert bulk["seed"] == out["seed"] == 1 and bulk["n_ions"] == out["n_ions"] == 108
    assert out["sigma_bulk_S_cm"] == bulk["sigma_S_cm"]
    assert out["sigma_bulk_S_cm_err"] == bulk["sigma_S_cm_err"]
    # same hops as the bulk: the effective sigma is the run's own Nernst-Einstein sigma
    assert out["sigma_eff_S_cm"] == out["sigma_S_cm"] > 0
    assert out["sigma_eff_S_cm_err"] == out["sigma_S_cm_err"] > 0
    # the resistor network is built on the KMC bulk; slow boundaries lower both predictions
    assert out["sigma_bulk_used_S_cm"] == out["sigma_bulk_S_cm"]
    assert 0 < out["sigma_network_S_cm"] < out["sigma_bulk_S_cm"]
    assert 0 < out["sigma_brick_layer_S_cm"] < out["sigma_bulk_S_cm"]
    assert out["boundary_resistance_ohm_cm2"] > 0 and out["network_faces"] > 0
    # ~1 nm per block, grains ~1 nm: the blocks are too short to average over grains
    assert any("too short to average over grains" in w for w in out["warnings"])


def test_run_polycrystal_table(capsys):
    assert main(POLY) == 0
    text = capsys.readouterr().out
    assert text.startswith("kmc run: sc-polycrystal, 108 ions on 216 sites")
    for label in ("polycrystal (voronoi): 6 grains, mean grain size 0.991 nm",
                  "sigma bulk (KMC)", "sigma_eff (KMC)", "sigma_eff (resistor network)",
                  "sigma_eff (brick layer)", "warning: the ions move about"):
        assert label in text


def test_one_grain_is_the_bulk_exactly(capsys):
    argv = [a if a != "--grain-size-nm" else "--n-grains" for a in POLY]
    argv[argv.index("--n-grains") + 1] = "1"
    out = _json(capsys, [*argv, "--json"])
    assert out["n_grains"] == 1 and out["gb_site_fraction"] == 0.0
    assert out["sigma_eff_S_cm"] == out["sigma_bulk_S_cm"]
    assert out["sigma_eff_S_cm_err"] == out["sigma_bulk_S_cm_err"]
    assert out["hops"] == out["bulk"]["hops"]
    assert math.isclose(out["sigma_network_S_cm"], out["sigma_bulk_S_cm"], rel_tol=1e-9)
    assert not any("grain size" in w for w in out["warnings"])  # no boundaries to average


def test_run_composite_json(capsys):
    out = _json(capsys, [*COMP, "--ions", "60", "--json"])
    ms = assemble.microstructure(run_config("composite", {"material": "sc", "size": 6,
                                                          "fraction": 0.7}).model)
    assert out["microstructure"] == "composite"
    assert out["n_sites"] == ms.network.n_sites < 216 and out["n_ions"] == 60
    assert out["conducting_fraction"] == ms.conducting_fraction
    assert out["n_particles"] == 216 and out["conducting_dimensionality"] == 3
    assert out["percolates"] is True
    # the bulk run has the same ions per site
    assert out["bulk"]["n_sites"] == 216
    assert out["bulk"]["n_ions"] == round(60 * 216 / ms.network.n_sites)
    tau = out["conducting_fraction"] * out["sigma_bulk_S_cm"] / out["sigma_eff_S_cm"]
    assert math.isclose(out["tortuosity"], tau) and out["tortuosity_err"] > 0
    # blocking sites make the paths tortuous (tau > 1: tested with statistics in
    # test_microstructure.py; this short run only has to be consistent with it)
    assert out["tortuosity"] + 3 * out["tortuosity_err"] > 1


def test_composite_below_percolation(capsys):
    argv = [*COMP, "--json"]
    argv[argv.index("0.7")] = "0.2"
    out = _json(capsys, argv)
    assert out["conducting_dimensionality"] == 0 and out["percolates"] is False
    assert out["sigma_eff_S_cm"] == 0.0 and out["tortuosity"] is None  # inf -> null
    json.dumps(out, allow_nan=False)


@pytest.mark.parametrize(
    "argv, match",
    [
        (["run", "polycrystal", "--n-grains", "2"], "polycrystal needs its bulk: --material"),
        (["run", "composite", "--material", "sc", "--fraction", "0.5", "--grain-size-nm", "1"],
         "--grain-size-nm is an option of a polycrystal, not of a composite"),
        (["run", "polycrystal", "--material", "sc", "--n-grains", "2", "--fraction", "0.5"],
         "--fraction is an option of a composite, not of a polycrystal"),
        (["run", "polycrystal", "--material", "sc", "--grain-size-nm", "1", "--n-grains", "2"],
         "one of --grain-size-nm NM and --n-grains N (got both)"),
        (["run", "polycrystal", "--material", "sc"], "one of --grain-size-nm NM and --n-grains"),
        (["run", "composite", "--material", "sc"], "a composite needs --fraction"),
        (["run", "polycrystal", "--material", "lgps", "--n-grains", "2", "--a", "3"],
         "--a is for standard lattices; material 'lgps'"),
        (["run", "polycrystal", "--material", "sc", "--n-grains", "2", "--x", "1"],
         "--x is a material option; 'sc' is a standard lattice"),
        (["run", "polycrystal", "--material", "lgp", "--n-grains", "2"],
         "unknown lattice or material 'lgp'; did you mean 'lgps'?"),
        (["run", "composite", "--material", "scc", "--fraction", "0.5"],
         "did you mean 'sc'?"),
        (["run", "sc", "--grain-size-nm", "1"], "--grain-size-nm is an option of a polycrystal"),
        (["run", "lgps", "--material", "sc"], "--material is an option of a polycrystal or"),
        (["run", "polycrystal", "--material", "sc", "--n-grains", "2", "--arrangement",
          "brick"], "did you mean 'bricks'?"),
        (["run", "polycrystal", "--material", "sc", "--size", "6", "--grain-size-nm", "50"],
         "larger than the box"),
        (["run", "composite", "--material", "sc", "--fraction", "1.5"], "must be <= 1"),
        (["run", "polycrystal", "--material", "sc", "--grain-size-nm", "1,2"], "invalid float"),
        (["sweep", "polycrystal", "--material", "sc", "--grain-size-nm", "1,2", "--occupancy",
          "0.3,0.5"], "got lists for --occupancy and --grain-size-nm"),
    ],
)
def test_errors_are_one_line_exit_2(capsys, argv, match):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("kmc: error:")
    assert match in captured.err, captured.err


def test_installed_command_error(tmp_path):
    script = shutil.which("kmc", path=os.path.dirname(sys.executable)) or shutil.which("kmc")
    cmd = [script] if script else [sys.executable, "-m", "kmc.cli"]
    proc = subprocess.run([*cmd, "run", "polycrystal", "--grain-size-nm", "1"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "--material" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_toml_config(tmp_path, capsys):
    path = tmp_path / "poly.toml"
    path.write_text("""
lattice = "polycrystal"
material = "sc"
size = 6
n_grains = 4
gb_barrier_offset_eV = 0.05
gb_energy_offset_eV = 0.02
gb-width-nm = 0.3
arrangement = "voronoi"
microstructure_seed = 2
temperature = 600
steps = 20000
blocks = 10
seed = 4
""")
    cfg = run_config(str(path), {})
    cli = run_config("polycrystal", {
        "material": "sc", "size": 6, "n_grains": 4, "gb_barrier_offset_eV": 0.05,
        "gb_energy_offset_eV": 0.02, "gb_width_nm": 0.3, "arrangement": "voronoi",
        "microstructure_seed": 2, "temperature": 600.0, "steps": 20000, "blocks": 10,
        "seed": 4})
    assert cfg == cli
    model = cfg.model_keys()
    for key in ("material", "n_grains", "gb_barrier_offset_eV", "gb_energy_offset_eV",
                "gb_width_nm", "arrangement", "microstructure_seed"):
        assert key in model
    out = _json(capsys, ["run", str(path), "--json", "--quiet"])
    assert out["n_grains"] == 4 and out["microstructure_seed"] == 2
    assert out["gb_width_nm"] == 0.3 and out["seed"] == 4
    # the command line's grain size replaces the file's grain count
    assert run_config(str(path), {"grain_size_nm": 1.0}).model.n_grains is None
    comp = tmp_path / "comp.toml"
    comp.write_text('lattice = "composite"\nmaterial = "lgps"\nfraction = 0.6\n'
                    'particle_size_nm = 0.8\ninterface_barrier_offset_eV = 0.05\n')
    cfg = run_config(str(comp), {})
    ms = assemble.microstructure(cfg.model)
    assert ms.kind == "composite" and ms.arrangement == "voronoi"
    lgps = kmc.build_material("lgps")
    # the material's own composition, scaled to the conducting sites; the bulk keeps its own
    n_ions = assemble.composition(cfg.model, microstructure=ms)["n_ions"]
    assert n_ions == round(lgps.n_ions * ms.network.n_sites / ms.bulk.n_sites)
    assert assemble.composition(assemble.bulk_config(cfg, ms).model) == {"n_ions": lgps.n_ions}
    bad = tmp_path / "bad.toml"
    bad.write_text('lattice = "composite"\nmaterial = "lgps"\nfraction = 0.6\nn_grains = 3\n')
    assert main(["run", str(bad)]) == 2
    assert "--n-grains is an option of a polycrystal" in capsys.readouterr().err


def test_output_writes_both_runs_and_plots_the_grains(tmp_path, capsys):
    out = tmp_path / "poly.h5"
    summary = _json(capsys, [*POLY, "--json", "--output", str(out), "--summary-json"])
    bulk = tmp_path / "poly.bulk.h5"
    assert bulk_output_path(str(out)) == str(bulk)
    assert io.read_run(out).status == io.read_run(bulk).status == "complete"
    assert kmc.load(out).sigma_S_cm == summary["sigma_S_cm"]
    assert kmc.load(bulk).sigma_S_cm == summary["sigma_bulk_S_cm"]
    assert io.read_run(bulk).config["lattice"] == "sc"  # the bulk run is `kmc run sc ...`
    assert json.loads((tmp_path / "poly.json").read_text()) == summary
    # an existing pair is not overwritten
    assert main([*POLY, "--output", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    # the picture of the grains
    assert main(["plot", str(out)]) == 0
    figure = tmp_path / "poly.microstructure.png"
    assert capsys.readouterr().out.strip() == str(figure) and _png(figure)
    # resume of a pair whose bulk run never started: makes it, with the same numbers
    bulk.unlink()
    again = _json(capsys, ["run", "--resume", str(out), "--json"])
    for d in (again, summary, again["bulk"], summary["bulk"]):
        d.pop("wall_s"), d.pop("hops_per_s")
    assert again == summary


def test_plot_composite_run(tmp_path, capsys):
    out = tmp_path / "comp.h5"
    assert main([*COMP, "--particle-size-nm", "0.6", "--output", str(out)]) == 0
    capsys.readouterr()
    assert main(["plot", str(out), "--to", str(tmp_path / "c.png")]) == 0
    assert _png(tmp_path / "c.png")


def test_grain_size_sweep_restart_and_plot(tmp_path, capsys):
    out = tmp_path / "gs.h5"
    argv = ["sweep", "polycrystal", "--material", "sc", "--size", "6", "--grain-size-nm",
            "0.8,1.8", "--gb-barrier-offset-eV", "0.1", "-T", "600", "--steps", "20000",
            "--blocks", "10", "--seed", "3", "--workers", "1", "--quiet", "--output",
            str(out)]
    summary = _json(capsys, [*argv, "--json"])
    assert summary["n_runs"] == 2 and not summary["failures"]
    assert summary["config"]["composition_key"] == "grain_size_nm"
    assert summary["config"]["compositions"] == [0.8, 1.8]
    assert summary["config"]["base"]["occupancy"] == 0.5  # not the axis: a base key
    points = {p["composition"]: p for p in summary["points"]}
    assert set(points) == {0.8, 1.8}
    assert all(p["sigma_eff_S_cm"] == p["sigma_S_cm"] > 0 for p in points.values())
    # each run is the polycrystal run `kmc run` makes with the run's seed
    sw = kmc.load(out)
    run_id = next(r for r, s in sw.specs.items() if s["composition"] == 0.8)
    cfg = sw.point_config(0.8, 600.0)
    assert cfg.model.grain_size_nm == 0.8 and cfg.model.lattice == "polycrystal"
    single = run_config("polycrystal", {**cfg.model_keys(), "seed": sw.specs[run_id]["seed"]})
    res = assemble.simulation(single).run(**single.plan.run_kwargs())
    assert res.sigma_S_cm == sw.runs[run_id].sigma_S_cm
    # restart: nothing recomputed; other boundary settings are refused
    assert _json(capsys, [*argv, "--json"])["executed"] == []
    assert main([*argv, "--gb-barrier-offset-eV", "0.2"]) == 2
    assert "gb_barrier_offset_eV = 0.1 there, 0.2 now" in capsys.readouterr().err
    # the plot: sigma_eff vs grain size with the predictions
    assert main(["plot", str(out)]) == 0
    figure = tmp_path / "gs.grain_size.png"
    assert capsys.readouterr().out.strip() == str(figure) and _png(figure)


def test_grain_slice_has_a_colourbar_and_a_fractional_slice_label():
    from kmc.plots import plot_microstructure

    poly = assemble.microstructure(run_config("polycrystal", {
        "material": "sc", "size": 6, "n_grains": 5}).model)
    fig = plot_microstructure(poly, None, axis=1, position=0.25)  # no path: the Figure
    ax, bar = fig.axes  # the image and its colourbar
    assert ax.get_title().endswith("\nslice at fractional b = 0.25")
    assert bar.get_ylabel() == "grain index"
    assert [t.get_text() for t in bar.get_yticklabels()] == ["0", "1", "2", "3", "4"]
    comp = assemble.microstructure(run_config("composite", {
        "material": "sc", "size": 6, "fraction": 0.7, "particle_size_nm": 0.6}).model)
    (ax,) = plot_microstructure(comp, None).axes
    assert ax.get_title().endswith("slice at fractional c = 0.5")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "conducting particles (one colour each)", "blocking regions"]
    mixture = assemble.microstructure(run_config("composite", {
        "material": "sc", "size": 6, "fraction": 0.7}).model)
    (ax,) = plot_microstructure(mixture, None).axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "conducting sites", "blocking regions"]


def test_grain_size_plot_is_titled_by_its_axis(tmp_path, capsys):
    """A sweep over n_grains is drawn against the mean grain size, and titled so."""
    from kmc.plots import plot_grain_size

    out = tmp_path / "ng.h5"
    assert main(["sweep", "polycrystal", "--material", "sc", "--size", "6", "--n-grains", "2,6",
                 "--gb-barrier-offset-eV", "0.1", "-T", "600", "--steps", "300000", "--blocks",
                 "5", "--seed", "3", "--workers", "1", "--quiet", "--output", str(out)]) == 0
    capsys.readouterr()
    (ax,) = plot_grain_size(kmc.load(out), None).axes
    assert ax.get_xlabel() == "mean grain size (nm)"
    assert ax.get_title() == "sc-polycrystal: sigma_eff vs mean grain size (swept: n_grains)"
    assert "number of grains" not in ax.get_title()


def test_fraction_and_n_grains_sweep_configs():
    sw = sweep_config("composite", {"material": "sc", "size": 6, "fraction": [0.5, 1.0],
                                    "temperature": [500.0, 600.0]})
    assert sw.composition_key == "fraction" and sw.compositions == (0.5, 1.0)
    assert sw.run_config(500.0, 0.5, 7).model.fraction == 0.5
    sw = sweep_config("polycrystal", {"material": "nasicon", "n_grains": [1, 2]})
    assert sw.composition_key == "n_grains" and "ions" not in sw.base  # the material's own
    n_ions = assemble.simulation(sw.run_config(300.0, 2, 7)).n_ions
    assert n_ions == kmc.build_material("nasicon").n_ions
    # a single grain size with a list of occupancies: the occupancy is the axis
    sw = sweep_config("polycrystal", {"material": "sc", "grain_size_nm": 1.0,
                                      "occupancy": [0.3, 0.6]})
    assert sw.composition_key == "occupancy" and sw.base["grain_size_nm"] == 1.0
    with pytest.raises(kmc.ConfigError, match=re.escape("--n-grains")):
        sweep_config("sc", {"n_grains": [1, 2]})


def test_fraction_sweep_plot(tmp_path, capsys):
    out = tmp_path / "f.h5"
    assert main(["sweep", "composite", "--material", "sc", "--size", "6", "--fraction",
                 "0.6,1", "-T", "600", "--steps", "300000", "--blocks", "10", "--seed", "3",
                 "--workers", "1", "--quiet", "--output", str(out)]) == 0
    assert "sigma_eff (S/cm)" in capsys.readouterr().out
    assert main(["plot", str(out)]) == 0
    assert _png(tmp_path / "f.fraction.png")


def test_sweep_tables_print_sigma_eff_once_when_it_is_sigma(tmp_path, capsys):
    """A polycrystal keeps every hop: sigma_eff = sigma at every point, one column and a line
    that says so. A composite below its percolation threshold (fraction 0.2 of sc) has
    sigma_eff = 0, and its clusters' confined motion gives no sigma, only an upper bound:
    both columns. The JSON rows keep both
    always."""
    common = ["--material", "sc", "--size", "6", "-T", "600", "--steps", "300000", "--blocks",
              "5", "--seed", "3", "--workers", "1", "--quiet"]
    header = "sigma_eff = sigma at every point here"
    tables = {}
    for kind, axis in (("polycrystal", ["--grain-size-nm", "0.8,1.8"]),
                       ("composite", ["--fraction", "0.2,1"])):
        out = tmp_path / f"{kind}.h5"
        argv = ["sweep", kind, *common, *axis, "--output", str(out)]
        summary = _json(capsys, [*argv, "--json"])
        both = {"sigma_S_cm", "sigma_S_cm_err", "sigma_eff_S_cm", "sigma_eff_S_cm_err"}
        assert all(both <= set(row) for row in summary["points"] + summary["runs"])
        assert main(argv) == 0
        tables[kind] = (summary, capsys.readouterr().out)
    summary, text = tables["polycrystal"]
    assert all(p["sigma_eff_S_cm"] == p["sigma_S_cm"] > 0 for p in summary["points"])
    head = text.splitlines()[2]
    assert header in text and "sigma_eff (S/cm)" in head and "sigma (S/cm)" not in head
    for p in summary["points"]:  # the one column holds the value once per row
        row = next(line for line in text.splitlines() if f"={p['composition']:g} " in line)
        assert row.count(f"{p['sigma_eff_S_cm']:.4g}") == 1
    summary, text = tables["composite"]
    low = next(p for p in summary["points"] if p["composition"] == 0.2)
    assert low["sigma_eff_S_cm"] == 0.0 and low["sigma_S_cm"] is None  # finite clusters:
    assert low["sigma_S_cm_upper"] > 0  # no diffusive regime, an upper bound
    head = next(line for line in text.splitlines() if "T (K)" in line)
    assert header not in text and "sigma (S/cm)" in head and "sigma_eff (S/cm)" in head


def test_single_temperature_sweep_plots_sigma_vs_composition(tmp_path, capsys):
    """No Arrhenius fit at one temperature: the plot is sigma vs the swept composition, and
    the table lists numeric compositions in numeric order."""
    out = tmp_path / "c.h5"
    assert main(["sweep", "sc", "--size", "5", "--ions", "20,8,100", "-T", "500", "--steps",
                 "5000", "--blocks", "5", "--seed", "1", "--workers", "1", "--quiet",
                 "--output", str(out)]) == 0
    table = capsys.readouterr().out
    assert table.index("ions=8 ") < table.index("ions=20 ") < table.index("ions=100 ")
    assert main(["plot", str(out)]) == 0
    assert _png(tmp_path / "c.composition.png")


def test_run_with_bulk_gives_both_results_and_their_comparison(tmp_path):
    """The microstructure + bulk pair from Python (what `kmc run polycrystal` prints): one
    grain is the bulk bit for bit, the pair shares seed and plan, and a resume of a pair
    whose bulk run never started makes it with the same numbers."""
    cfg = run_config("polycrystal", {"material": "sc", "size": 6, "n_grains": 1,
                                     "temperature": 600.0, "steps": 20000, "blocks": 10,
                                     "output": str(tmp_path / "p.h5"), "quiet": True})
    pair = assemble.run_with_bulk(cfg)
    assert not pair.interrupted and pair.comparison is not None
    assert pair.config.plan.seed is not None  # drawn once, used by both
    assert pair.bulk_config.plan.seed == pair.config.plan.seed == pair.result.seed
    assert pair.bulk_config.model.lattice == "sc" and pair.bulk_result.network_name == "sc"
    assert pair.result.sigma_S_cm == pair.bulk_result.sigma_S_cm  # one grain = the bulk
    assert pair.comparison["sigma_eff_S_cm"] == pair.comparison["sigma_bulk_S_cm"]
    assert pair.files == [str(tmp_path / "p.h5"), str(tmp_path / "p.bulk.h5")]
    (tmp_path / "p.bulk.h5").unlink()
    again = assemble.resume_with_bulk(str(tmp_path / "p.h5"))
    assert again.bulk_result.sigma_S_cm == pair.bulk_result.sigma_S_cm
    assert again.comparison["sigma_eff_S_cm"] == pair.comparison["sigma_eff_S_cm"]
    with pytest.raises(kmc.ConfigError, match="not a microstructure"):
        assemble.run_with_bulk(run_config("sc", {"size": 4}))
