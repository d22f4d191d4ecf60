"""The benchmark programs still build and agree with themselves (no timings are asserted).

benchmarks/ is not part of the package: these tests need the source tree and a C compiler
and skip without them (e.g. on Windows wheels' test runs).
"""

import importlib.util
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"

pytestmark = pytest.mark.skipif(
    not (BENCH / "bench_roofline.py").exists() or shutil.which("cc") is None,
    reason="needs the source tree's benchmarks/ and a C compiler (cc)")


def _load(name):
    """A benchmark script as a module."""
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench_roofline():
    return _load("bench_roofline")


def _run(exe, *args):
    out = subprocess.run([exe, *map(str, args)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("c", [0.5, 0.05])
def test_roofline_variants_simulate_the_same_trajectory(bench_roofline, tmp_path, c):
    """The two prefetch variants differ only in what they fetch ahead: same draws, same
    hops, same tracer displacement, bit for bit."""
    exes = bench_roofline.compile_roofline(str(tmp_path))
    assert len(exes) == 2
    runs = [_run(exe, 12, c, 200_000, 5) for exe in exes]
    for r in runs:
        assert r["sites"] == 12**3
        assert r["ions"] == round(c * 12**3)
        assert r["hops"] == 200_000 <= r["attempts"]
        assert r["bytes_per_site"] == pytest.approx(1 + 20 * r["ions"] / r["sites"], abs=0.006)
    keys = ("attempts", "hops", "D_tracer_per_Gamma_a2")
    assert [runs[0][k] for k in keys] == [runs[1][k] for k in keys]


def test_roofline_refuses_missing_arguments(bench_roofline, tmp_path):
    exe = bench_roofline.compile_roofline(str(tmp_path))[0]
    r = subprocess.run([exe, "10"], capture_output=True, text=True, check=False)
    assert r.returncode == 2 and "usage" in r.stderr


def test_memprobe_reports_every_size(tmp_path):
    exe = tmp_path / "memprobe"
    subprocess.run(["cc", "-O2", "-std=c99", str(BENCH / "roofline" / "memprobe.c"), "-o",
                    str(exe)], check=True)
    out = subprocess.run([str(exe), str(128 << 10)], check=True, capture_output=True,
                         text=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["bytes"] for r in rows] == [32 << 10, 64 << 10, 128 << 10]
    assert all(r["latency_ns"] > 0 and r["throughput_ns"] > 0 for r in rows)


def test_treeprobe_runs_the_engines_tree(bench_roofline, tmp_path):
    """The sum-tree probe builds against csrc/kmc_sumtree.c and reports each size."""
    rows = bench_roofline.treeprobe(str(tmp_path), leaves=(1, 64, 1000), steps=2000)
    assert [r["n_leaves"] for r in rows] == [1, 64, 1000]
    assert all(r["select_ns"] > 0 and r["step_ns"] > 0 and r["d"] == 5 for r in rows)
    assert rows[2]["tree_bytes"] > rows[1]["tree_bytes"]
    bad = subprocess.run([str(tmp_path / "treeprobe"), "100", "10", "65"], capture_output=True,
                         text=True, check=False)
    assert bad.returncode == 2 and "d <=" in bad.stderr


def test_kmc_side_of_the_roofline_benchmark(bench_roofline):
    """One kmc row as bench_roofline measures it (a PeriodicNetwork, uniformization)."""
    r = bench_roofline.engine_here(10, 0.5, 50_000, True)
    assert r["sites"] == 1000 and r["mode"] == "uniform" and r["network"] == "PeriodicNetwork"
    assert r["hops_per_s"] > 0 and r["engine_B_per_site"] > 0


@pytest.mark.parametrize("case", ["uniform", "disordered"])
def test_interacting_benchmark_runs_the_tree(case):
    mod = _load("bench_interacting")
    net = mod.network(6, case)
    assert net.has_interactions and net.n_sites == 216
    r = mod.measure(6, case, hops=20_000)
    assert r["mode"] == "tree" and r["Mhops_s"] > 0


def test_engine_comparison_worker_measures_every_case():
    """What bench_engine.py --against runs in each worker process, on a tiny lattice."""
    mod = _load("bench_engine")
    kinds = {c["kind"] for c in mod.comparison_cases(1_000, 1000)}
    assert kinds == {"c = 0.5", "1 vacancy", "tree disordered", "interacting uniform",
                     "interacting disordered", "events"}
    modes = {}
    for kind in sorted(kinds):
        r = mod.measure_case({"kind": kind, "L": 5, "hops": 2000})
        assert r["hops_per_s"] > 0 and r["sites"] == 125 and len(r["state_sha"]) == 16
        assert r == {**r, "state_sha": mod.measure_case({"kind": kind, "L": 5, "hops": 2000})
                     ["state_sha"]}  # the same trajectory again
        modes[kind] = r["mode"]
    assert modes["1 vacancy"] == "count" and modes["tree disordered"] == "tree"
    assert modes["events"] == modes["interacting uniform"] == "tree"


def _kmcpy_small():
    from importlib import resources

    from kmc.interop.kmcpy import read_kmcpy
    data = Path(__file__).resolve().parent / "data" / "kmcpy"
    cif = resources.files("kmc.data").joinpath("structures/nasicon_Na4Zr2Si3O12_573K.cif")
    return read_kmcpy(str(cif), data / "model.json", data / "events_regenerated.json",
                      data / "initial_state.json", (2, 1, 1))


def test_tiled_kmcpy_model_keeps_every_environment():
    """bench_energy_models.tile_kmcpy (compare_peers' kMCpy model at 2x2x2): every copy
    of an event has the small model's environment (mobile and static sites at the same
    offsets from the centre, the same Si/P states), and the initial state is tiled."""
    pytest.importorskip("pymatgen.core")
    import numpy as np
    small = _kmcpy_small()
    big = _load("bench_energy_models").tile_kmcpy(small, (1, 2, 2))
    assert big.n_sites == 4 * small.n_sites and big.n_events == 4 * small.n_events
    assert big.occupied.sum() == 4 * small.occupied.sum()

    def offsets(m):
        L, inv = m.lattice_A, np.linalg.inv(m.lattice_A)
        centre = m.positions_A[m.hops[:, 0]]
        mob = m.env_sites >= 0
        at = np.where(mob[..., None], m.positions_A[np.maximum(m.env_sites, 0)],
                      m.static_positions_A[np.maximum(m.env_static_index, 0)])
        f = (at - centre[:, None, :]) @ inv
        return np.round((f - np.rint(f)) @ L, 6), mob

    (o_small, mob_small), (o_big, mob_big) = offsets(small), offsets(big)
    n = small.n_events
    for c in range(4):  # tile_kmcpy lists the copies of event e as rows e*4 .. e*4+3
        rows = np.arange(n) * 4 + c
        assert np.array_equal(o_big[rows], o_small)
        assert np.array_equal(mob_big[rows], mob_small)
        assert np.array_equal(big.env_static_n[rows], small.env_static_n)
    # one static site, one state, whichever event sees it
    est, sn = big.env_static_index, big.env_static_n
    for s in np.unique(est[est >= 0]):
        assert len(set(sn[est == s].tolist())) == 1
    # compare_peers maps kMCpy's initial ions onto kmc's sites by position
    cp = _load("compare_peers")
    initial = {"lattice_A": big.lattice_A.tolist(),
               "na_A": big.positions_A[big.occupied].tolist(), "p_A": []}
    sites, check = cp._initial_state_check(big, initial)
    assert np.array_equal(sites, np.flatnonzero(big.occupied)) and check["same"]


def test_deng2022_primitive_supercell_runs():
    """bench_nasicon_deng2022's cell of the paper (primitive rhombohedral cells) at 2x2x2:
    8 Na sites and 2 formula units per cell, 6 hops per Na1, exact local updates."""
    pytest.importorskip("pymatgen.core")
    import numpy as np

    import kmc
    mod = _load("bench_nasicon_deng2022")
    net, n_ions = mod.primitive_network((2, 2, 2))
    assert net.n_sites == 64 and n_ions == 48
    counts = np.bincount(net.hop_src, minlength=64)  # Na1: 6 Na2 neighbours; Na2: 2 Na1
    assert sorted(np.bincount(counts).nonzero()[0]) == [2, 6] and (counts == 6).sum() == 16
    sim = kmc.Simulation(net, 573.0, n_ions=n_ions, seed=1, attempt_frequency_Hz=5e12,
                         rate_law="kmcpy")
    sim.engine.run(5000)
    sim.engine.check()


def test_kmcpy_replicas_aggregates_independent_seeds(tmp_path):
    """kmcpy_replicas.py reads compare_peers' JSON (kMCpy's row with kmc's matched numbers)
    and gives each code's mean, the standard error from the replicas' spread and the z of
    the difference of the means."""
    mod = _load("kmcpy_replicas")
    obs = [(0.35, 12.0, 5.0), (0.33, 11.0, 4.8), (0.34, 13.0, 5.2)]
    km = [(0.34, 11.5, 4.9), (0.32, 10.5, 4.7), (0.36, 12.5, 5.1)]
    files = []
    for i, ((f, d, dt), (kf, kd, kdt)) in enumerate(zip(obs, km, strict=True)):
        row = {"code": "kmcpy-src", "seed": 100 + i, "size": [2, 1, 1], "T": 873.0,
               "obs": {"f": f, "f_err": 0.01, "D_red": d, "D_red_err": 1.0, "Dt_red": dt,
                       "Dt_red_err": 0.2, "hops_per_ion_per_block": 20.0},
               "check": {"kmc_matched": {"f": kf, "f_err": 0.01, "D_red": kd,
                                         "D_red_err": 0.9, "Dt_red": kdt,
                                         "Dt_red_err": 0.1}}}
        p = tmp_path / f"seed_{i}.json"
        p.write_text(json.dumps({"results": [row, {"code": "kmc", "seed": 100 + i}]}))
        files.append(str(p))
    (tmp_path / "torn.json").write_text("{")
    rows = mod.load([*files, str(tmp_path / "torn.json")])
    assert len(rows) == 3
    s = mod.summary(rows)["D_J 1e-6 cm^2/s"]
    assert s["kmcpy"]["mean"] == pytest.approx(12.0) and s["kmc"]["mean"] == pytest.approx(11.5)
    assert s["kmcpy"]["sd"] == pytest.approx(1.0) and s["kmc"]["sd"] == pytest.approx(1.0)
    sem = 1.0 / 3 ** 0.5
    assert s["z"] == pytest.approx(0.5 / (2 ** 0.5 * sem))
    assert s["kmcpy"]["mean_quoted_err"] == 1.0 and s["kmc"]["mean_quoted_err"] == 0.9


def test_argyrodite_fit_recovers_the_site_energies_of_a_known_model():
    """benchmarks/argyrodite_fit.py's inverse Monte Carlo, given frames of the model itself
    with two site energies and a pair energy changed (T2:XS +0.06 eV, T2:SX -0.04 eV, the
    T5-T5_cage pair +0.04 eV; an ordered and a fully exchanged Li6PS5Cl cell, 1500 frames
    each), recovers them from the file's tables in four iterations within three standard
    errors: kT times the block standard error (10 blocks) of the reference's Li count on
    that class (of its doubly occupied pairs of that kind) over the count's variance (the
    response of the mean to the energy), times sqrt 2 for the model's own sampling. A cell
    of fixed Li number fixes only energy differences within it: T2 against T5. (The optional
    cage term is not tested here: these block errors, which ignore the slow drift of the Li
    per cage, are too small for it.)"""
    import math

    import numpy as np

    import kmc
    from kmc.jumps import record_site_frames
    from kmc.materials import argyrodite_network, build_material, material_spec

    fitmod = _load("argyrodite_fit")
    hal = material_spec("argyrodite").data["halogens"]["Cl"]
    base = {"site_energy_eV": dict(hal["site_energy_eV"]),
            "kra_eV": {k: float(v[0]) for k, v in hal["kra_eV"].items()},
            "pair_energy_eV": dict(hal["pair_energy_eV"])}
    true = {k: dict(v) for k, v in base.items()}
    true["site_energy_eV"]["T2:XS"] += 0.06
    true["site_energy_eV"]["T2:SX"] -= 0.04
    true["pair_energy_eV"]["T5-T5_cage"] += 0.04
    runs, counts = [], {}
    pairs = np.zeros(3000)
    for k, swap in enumerate((False, True)):
        m = build_material("argyrodite", halogen="Cl", site_exchange=float(swap), size=2)
        arr = dict(s_on_4a=np.full(32, swap), x_on_4d=np.full(32, swap))
        net, cls = argyrodite_network("Cl", size=2, tables=true, **arr)
        sim = kmc.Simulation(net, 500.0, ion_sites=m.info["ion_sites"], seed=20 + k)
        fr = record_site_frames(sim, 100e-15, 1500, equilibration_hops=20_000)
        runs.append(dict(sites=fr.sites[1:], **arr))
        counts["T2:SX" if swap else "T2:XS"] = (cls == ("T2:SX" if swap else "T2:XS"))[
            fr.sites[1:]].sum(axis=1)
        g = fitmod.Geometry(net, cls, np.zeros(net.n_sites, np.int64) - 1)
        pairs[1500 * k:1500 * (k + 1)] = fitmod.observables(g, fr.sites[1:],
                                                            ["pair:T5-T5_cage"])[:, 0]
    res = fitmod.fit_runs(runs, "Cl", base, iterations=4, frames=1000, seed=5,
                          pairs=("T5-T5_cage",), barrier_steps=1)
    kT = fitmod.KT_EV
    got_E = res["tables"]["site_energy_eV"]
    for t2, t5 in (("T2:XS", "T5:XS"), ("T2:SX", "T5:SX")):
        # d<N>/dE = -Var(N)/kT for the Li count N of the class: the error of E is kT SE(<N>)
        # / Var(N) (kT SE/<N> only if N were Poisson; the hard cores and pair energies of
        # a cell of fixed Li number narrow it)
        n = counts[t2]
        blocks = n.reshape(10, -1).mean(axis=1)
        err = kT * blocks.std(ddof=1) / math.sqrt(10) / n.var() * math.sqrt(2)
        # one cell fixes only differences within it (its Li number is fixed)
        got = got_E[t2] - got_E[t5]
        want = true["site_energy_eV"][t2] - true["site_energy_eV"][t5]
        assert abs(got - want) < 3 * err, (t2, got, want, err)
    assert got_E["T5:XS"] == 0.0
    # the same for the pair count N, summed over the two cells
    per_cell = pairs.reshape(2, 1500)
    se = np.sqrt(sum(c.reshape(10, -1).mean(axis=1).var(ddof=1) / 10 for c in per_cell))
    err = kT * se / sum(c.var() for c in per_cell) * math.sqrt(2)
    got = res["tables"]["pair_energy_eV"]["T5-T5_cage"]
    want = true["pair_energy_eV"]["T5-T5_cage"]
    assert abs(got - want) < 3 * err, (got, want, err)
    assert abs(got - base["pair_energy_eV"]["T5-T5_cage"]) > 3 * err   # it had to move


def test_deklerk_jump_arrhenius_recovers_a_known_activation_energy():
    """The per-jump-type Arrhenius fit of benchmarks/argyrodite_deklerk.py: exact rates
    nu exp(-Ea / kT) give back Ea; a class seen at fewer than two temperatures gives None."""
    dk = _load("argyrodite_deklerk")
    kB = 8.617333262e-5
    pts = [(T, 1e13 * math.exp(-0.17 / (kB * T)), 0.05 * 1e13 * math.exp(-0.17 / (kB * T)))
           for T in (300.0, 450.0, 600.0)]
    Ea, err = dk.jump_arrhenius(pts)
    assert Ea == pytest.approx(0.17, abs=1e-9) and 0 < err < 0.02
    assert dk.jump_arrhenius(pts[:1] + [(450.0, 0.0, 1.0)]) is None
    rows = {T: [{"cls": c, "kmc": r, "kmc_err": e, "dk": r, "dk_sigma": e} for c in dk.MOVES]
            for T, r, e in pts}
    fits = dk.print_arrhenius("synthetic", rows)
    assert [(f["cls"], f["T_K"][0]) for f in fits] == [(c, lo) for c in dk.MOVES
                                                     for lo in (300.0, 450.0)]
    assert all(f["kmc_Ea_eV"][0] == pytest.approx(0.17) for f in fits)


def test_cache_simulation_reads_callgrind_annotate():
    """bench_cache_sim.py's reading of callgrind_annotate's table (valgrind itself is not
    run here: minutes per case): totals, functions keyed file:function, "." as 0, and the
    per-line listings after the table ignored."""
    mod = _load("bench_cache_sim")
    text = """\
Events shown:     Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
--------------------------------------------------------------------------------
1,000 (100.0%) 400 (100.0%) 100 (100.0%) 9 (100.0%) 50 (100.0%) 8 (100.0%) 9 (100.0%) 20 (100.0%) 4 (100.0%)  PROGRAM TOTALS
--------------------------------------------------------------------------------
Ir                   Dr                  Dw    file:function
--------------------------------------------------------------------------------
  600 (60.00%) 300 (75.00%) 60 (60.00%) 2 (22.22%) 40 (80.00%) . 2 (22.22%) 18 (90.00%) .  /src/csrc/kmc_tree.c:tree_execute [/x/_engine.so]
  45 ( 4.50%) 10 ( 2.50%) 0 1 ( 1.11%) 5 (10.00%) 0 1 ( 1.11%) . .  ./math/../sysdeps/ieee754/dbl-64/e_log.c:__ieee754_log_fma [/usr/lib/libm.so.6]
--------------------------------------------------------------------------------
-- Auto-annotated source: /src/csrc/kmc_tree.c
  7 ( 0.70%) 1 . . . . . . .  (187,546x)
"""
    total, funcs = mod.parse_annotate(text)
    assert total == dict(zip(mod.EVENTS, [1000, 400, 100, 9, 50, 8, 9, 20, 4]))
    assert set(funcs) == {"kmc_tree.c:tree_execute", "e_log.c:__ieee754_log_fma"}
    assert funcs["kmc_tree.c:tree_execute"]["DLmr"] == 18
    assert funcs["kmc_tree.c:tree_execute"]["D1mw"] == 0
    assert mod.per_hop(total, 10) == (100.0, 5.8, 2.4)
