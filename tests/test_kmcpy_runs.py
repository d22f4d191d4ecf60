"""kMCpy's NASICON model run by kmc: the engine's rates are kMCpy's (against kMCpy's own
numbers in tests/data/kmcpy/nasicon_reference.json), ``kmc run kmcpy`` with every usual
option, its bad input, and the side-by-side transport numbers against kMCpy's runs
(tests/data/kmcpy/kmcpy_nasicon_runs.json, made by benchmarks/kmcpy_peer.py)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymatgen")

import kmc  # noqa: E402
from kmc._engine import Engine  # noqa: E402
from kmc.energy import hop_energetics  # noqa: E402
from kmc.interop.kmcpy import kmcpy_material, read_kmcpy, to_network  # noqa: E402

DATA = Path(__file__).parent / "data" / "kmcpy"
CIF = Path(resources.files("kmc.data").joinpath("structures/nasicon_Na4Zr2Si3O12_573K.cif"))
REF = json.loads((DATA / "nasicon_reference.json").read_text())
KB_MEV = kmc.constants.KB_EV_PER_K * 1e3


def _files(events="events_regenerated.json"):
    return (CIF, DATA / "model.json", DATA / events, DATA / "initial_state.json", (2, 1, 1))


@pytest.fixture(scope="module")
def material():
    return kmcpy_material(*_files())


@pytest.mark.parametrize("events", ["events_regenerated.json"])
def test_engine_rates_are_kmcpys(events):
    """For every kMCpy event, in the initial occupation and in both directions' occupations
    (kMCpy's own E_kra and site values, nasicon_reference.json), the hop's (E_kra, dE) in
    kmc equal kMCpy's; and the engine's total rate at the initial state is the sum of
    kMCpy's probabilities nu exp(-(E_kra + direction E_site / 2) / kB T)."""
    inp = read_kmcpy(*_files(events))
    net = to_network(inp)
    T, nu = 873.0, 5e12
    total = 0.0
    order = {(int(a), int(b)): h for h, (a, b) in enumerate(zip(net.hop_src, net.hop_dst))}
    n_checked = 0
    for row in REF["events"][events]:
        if row["direction"] == 0:
            continue
        e = row["event"]
        i, j = (int(x) for x in inp.hops[e])
        a, b = (i, j) if row["direction"] == 1 else (j, i)
        states = np.array(row["states"])
        occ = states[inp.kmcpy_index] == 0  # state 0 = Na
        ekra, de = hop_energetics(net, occ, [order[(a, b)]])
        assert ekra[0] * 1e3 == pytest.approx(row["E_kra_meV"], abs=1e-9)
        assert de[0] * 1e3 == pytest.approx(row["delta_e_site_meV"], abs=1e-9)
        n_checked += 1
        if row["occupation"] == "initial":
            total += nu * math.exp(-(row["E_kra_meV"] + row["delta_e_site_meV"] / 2)
                                   / (KB_MEV * T))
    assert n_checked >= 48
    eng = Engine(ion_sites=np.flatnonzero(inp.occupied).astype(np.int32),
                 **net.engine_arrays(), temperature_K=T, attempt_frequency_Hz=nu, seed=1,
                 rate_law="kmcpy")
    assert eng.total_rate_Hz == pytest.approx(total, rel=1e-10)


def test_the_network_is_kmcpys_nasicon(material):
    net = material.network
    assert net.n_sites == 16 and net.n_hops == 48 and material.n_ions == 14
    np.testing.assert_allclose(net.hop_lengths_A, 3.47782, atol=1e-3)
    assert net.dimensionality == 3
    assert net.n_local_models == 3  # kra; site x (+1, -1)
    assert "kMCpy kra" in kmc.energy.summary(net)
    # kMCpy's model is not a Hamiltonian one: the checker says so
    rep = kmc.check_detailed_balance(net, rate_law="kmcpy")
    assert not rep.holds and rep.max_violation_eV > 0.01


def test_runs_are_reproducible_and_the_engine_stays_exact(material):
    sims = [kmc.Simulation(material.network, 873.0, ion_sites=material.info["ion_sites"],
                           seed=4, attempt_frequency_Hz=5e12, rate_law="kmcpy")
            for _ in range(2)]
    a, b = (s.run(100_000, blocks=10) for s in sims)
    assert a.D_tracer_cm2_s == b.D_tracer_cm2_s
    sims[0].engine.check()
    assert a.detailed_balance_violation_eV > 0.01
    assert any("violates detailed balance" in w for w in a.warnings)


def _kmc(*args):
    """The installed command (not `python -m`, which would import the source tree from the
    current directory), run outside the source tree."""
    script = shutil.which("kmc", path=os.path.dirname(sys.executable)) or shutil.which("kmc")
    cmd = [script] if script else [sys.executable, "-m", "kmc.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True,
                          cwd=tempfile.gettempdir(), timeout=300, check=False)


def _cli_args(events="events_regenerated.json"):
    return ["run", "kmcpy", "--structure", str(CIF), "--model", str(DATA / "model.json"),
            "--events", str(DATA / events), "--initial-state",
            str(DATA / "initial_state.json"), "--supercell", "2,1,1"]


def test_cli_runs_kmcpy_inputs(tmp_path):
    out = _kmc(*_cli_args(), "--attempt-frequency", "5e12", "-T", "873", "--steps", "200000",
               "--blocks", "10", "--seed", "3", "--json", "--quiet", "--output",
               str(tmp_path / "run.h5"))
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["rate_law"] == "kmcpy" and d["n_ions"] == 14 and d["n_sites"] == 16
    assert d["detailed_balance_violation_eV"] > 0.01
    assert d["D_tracer_cm2_s"] > 0
    # the run file holds the models: resumable, readable
    net = kmc.io.read_run(tmp_path / "run.h5").network()
    assert net.n_local_models == 3 and "kMCpy site" in kmc.energy.summary(net)


def test_cli_sweeps_kmcpy_inputs(tmp_path):
    args = _cli_args()
    args[0] = "sweep"
    out = _kmc(*args, "--attempt-frequency", "5e12", "-T", "573,873", "--steps", "100000",
               "--workers", "1", "--json", "--quiet", "--output", str(tmp_path / "sw.h5"))
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    rows = d["rows"] if "rows" in d else d["runs"]
    assert len(rows) == 2 and all(r["n_ions"] == 14 for r in rows if "n_ions" in r)


@pytest.mark.parametrize("drop, message", [
    ("--model", "needs --model"),
    ("--supercell", "needs --supercell"),
])
def test_cli_kmcpy_bad_input_is_one_line(drop, message):
    args = _cli_args()
    k = args.index(drop)
    del args[k:k + 2]
    out = _kmc(*args, "--steps", "1000", "--quiet")
    assert out.returncode == 2
    assert message in out.stderr and out.stderr.count("\n") == 1, out.stderr


def test_cli_kmcpy_bad_files_are_one_line(tmp_path):
    bad = tmp_path / "model.json"
    bad.write_text(json.dumps({"filetype": "kmcpy.other", "model_type": "composite_lce"}))
    args = _cli_args()
    args[args.index("--model") + 1] = str(bad)
    out = _kmc(*args, "--steps", "1000", "--quiet")
    assert out.returncode == 2 and "filetype" in out.stderr and str(bad) in out.stderr
    assert out.stderr.count("\n") == 1, out.stderr
    args = _cli_args()
    args[args.index("--events") + 1] = str(tmp_path / "missing.json")
    out = _kmc(*args, "--steps", "1000", "--quiet")
    assert out.returncode == 2 and "no such file" in out.stderr
    out = _kmc(*_cli_args(), "--size", "2", "--steps", "1000", "--quiet")
    assert out.returncode == 2 and "--size is not an option of a kMCpy model" in out.stderr
    out = _kmc("run", "sc", "--supercell", "2,1,1", "--steps", "1000", "--quiet")
    assert out.returncode == 2 and "--supercell is an option of a kMCpy model" in out.stderr


# --------------------------------------------------------------------------------------
# side by side with kMCpy itself (benchmarks/kmcpy_peer.py, kmcpy_side_by_side.py)
# --------------------------------------------------------------------------------------
#: Tolerance in combined standard errors (kmc's and the kMCpy seed average's).
K_SIGMA = 3.0


@pytest.mark.parametrize("T", [873.0, 573.0])
def test_kmc_agrees_with_kmcpys_runs(material, T):
    """kMCpy's own runs of this model (tests/data/kmcpy/kmcpy_nasicon_runs.json: one
    trajectory per seed, end values averaged over the seeds) and a kmc run: D*, D_J
    (kmc's D_sigma), f, H_R and sigma agree within K_SIGMA combined standard errors. H_R of
    kMCpy is the ratio of its seed-averaged D* and D_J (the mean of its per-seed ratios is
    dominated by seeds with a small D_J). The volume and ion count of sigma are kMCpy's."""
    peer = json.loads((DATA / "kmcpy_nasicon_runs.json").read_text())
    assert peer["kmcpy_commit"] == "7761fdd2c0506763816d5b0b42226b224f60dc70"
    s = peer["summary"][f"{int(T)}K"]
    assert s["D_J_cm2_s"]["n"] >= 32
    net = material.network
    assert net.volume_A3 == pytest.approx(peer["settings"]["supercell_volume_A3"], rel=1e-6)
    assert peer["settings"]["n_mobile_ions"] == material.n_ions == 14
    res = kmc.Simulation(net, T, ion_sites=material.info["ion_sites"], seed=11,
                         attempt_frequency_Hz=5e12, rate_law="kmcpy").run(4_000_000)
    assert res.diffusive and res.n_ions == 14
    pairs = {
        "D*": ((res.D_tracer_cm2_s, res.D_tracer_cm2_s_err),
               (s["D_tracer_cm2_s"]["mean"], s["D_tracer_cm2_s"]["sem"])),
        "D_J": ((res.D_sigma_cm2_s, res.D_sigma_cm2_s_err),
                (s["D_J_cm2_s"]["mean"], s["D_J_cm2_s"]["sem"])),
        "f": ((res.correlation_factor, res.correlation_factor_err),
              (s["correlation_factor"]["mean"], s["correlation_factor"]["sem"])),
        "H_R": ((res.haven_ratio, res.haven_ratio_err),
                (s["haven_ratio_of_means_Dtracer_over_DJ"], s["haven_ratio_of_means_sem_delta"])),
        "sigma": ((res.sigma_S_cm * 1e3, res.sigma_S_cm_err * 1e3),
                  (s["conductivity_mS_cm"]["mean"], s["conductivity_mS_cm"]["sem"])),
    }
    for name, ((a, ea), (b, eb)) in pairs.items():
        assert abs(a - b) <= K_SIGMA * math.hypot(ea, eb), (T, name, a, ea, b, eb)
        assert ea < 0.1 * a and eb < 0.2 * b  # resolved: a comparison that can fail


# --------------------------------------------------------------------------------------
# kMCpy's NASICON on any supercell, without an event file
# --------------------------------------------------------------------------------------
def test_environments_from_positions_are_kmcpys():
    """nasicon_environments (kMCpy's nasicon_nat_commun_2022 order, from positions) gives
    exactly the events of kMCpy's own generator (events_regenerated.json): the same hops,
    each with the same 12 environment sites in the same order."""
    from kmc.interop.kmcpy import nasicon_environments

    r = read_kmcpy(*_files())
    centres = np.flatnonzero(r.site_labels == "Na1")
    hops, env, est = nasicon_environments(r.lattice_A, r.positions_A, r.static_positions_A,
                                          centres)
    mine = {(int(i), int(j)): (tuple(e), tuple(s)) for (i, j), e, s in zip(hops, env, est,
                                                                             strict=True)}
    theirs = {(int(i), int(j)): (tuple(e), tuple(s))
              for (i, j), e, s in zip(r.hops, r.env_sites, r.env_static_index, strict=True)}
    assert mine == theirs and len(mine) == 24


def test_nasicon_on_any_supercell_with_si_p_disorder():
    from kmc.interop.kmcpy import nasicon_inputs

    small = nasicon_inputs(DATA / "model.json", (2, 1, 1), x=2.5, seed=1)
    r = read_kmcpy(*_files())
    np.testing.assert_allclose(small.positions_A, r.positions_A, atol=1e-9)
    np.testing.assert_array_equal(small.hops, r.hops)
    np.testing.assert_array_equal(small.env_sites, r.env_sites)
    big = nasicon_inputs(DATA / "model.json", (3, 3, 3), x=2.0, seed=3)
    n_fu = big.static_positions_A.shape[0] // 3  # 54 formula units
    assert big.source["n_si"] == 2 * n_fu and big.source["n_p"] == n_fu
    assert int(big.occupied.sum()) == 3 * n_fu == big.source["n_na"]
    # every static environment entry is Si (n = 1) or P (n = 0) as arranged, both present
    static = big.env_static_index >= 0
    assert set(np.unique(big.env_static_n[static])) == {0, 1}
    np.testing.assert_allclose(np.linalg.norm(big.hop_vectors_A, axis=1), 3.47782, atol=1e-3)
    net = to_network(big)
    assert net.n_sites == 216 and net.dimensionality == 3
    sim = kmc.Simulation(net, 573.0, ion_sites=np.flatnonzero(big.occupied), seed=2,
                         attempt_frequency_Hz=5e12, rate_law="kmcpy")
    sim.run(50_000, blocks=5)
    sim.engine.check()
    with pytest.raises(kmc.ConfigError, match=r"x = 3.5 must be in \[0, 3\]"):
        nasicon_inputs(DATA / "model.json", (2, 1, 1), x=3.5)
    with pytest.raises(kmc.ConfigError, match="twice the cutoff"):
        nasicon_inputs(DATA / "model.json", (1, 1, 1), x=2.0, cutoff_A=5.0)
