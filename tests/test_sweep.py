"""Sweeps: seeds, restarts, retries, dask = local pool, and the Arrhenius fit of a sweep."""

import json
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import kmc
from kmc import io
from kmc.arrhenius import K_B_EV_PER_K
from kmc.cli import main
from kmc.config import sweep_config
from kmc.sweep import SweepResult, derive_seed, plan_runs, run_sweep

WALL = ("wall_s", "hops_per_s")

# four runs of about a second each (the lattice gas runs at 2-5x10^7 hops/s): long enough
# to kill one in the middle
BASE = {"size": 6, "temperature": [300.0, 450.0], "occupancy": [0.3, 0.6], "steps": 30_000_000,
        "blocks": 20, "seed": 21, "quiet": True, "checkpoint_interval": 0.1}


def _numbers(sweep: SweepResult) -> dict:
    out = {}
    for run_id, res in sweep.runs.items():
        d = res.to_dict()
        for k in WALL:
            d.pop(k)
        out[run_id] = d
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The sweep made once on the local pool, undisturbed."""
    path = tmp_path_factory.mktemp("ref") / "ref.h5"
    return run_sweep(sweep_config("sc", {**BASE, "output": str(path), "workers": 2}))


def test_seeds_depend_on_the_point_not_on_the_sweep():
    a = sweep_config("sc", {"temperature": [300.0, 400.0], "occupancy": [0.5], "seed": 3,
                            "replicas": 2})
    b = sweep_config("sc", {"temperature": [400.0, 300.0, 500.0], "occupancy": [0.5],
                            "seed": 3, "replicas": 3})
    sa = {s.run_id: s.seed for s in plan_runs(a, 3)}
    sb = {s.run_id: s.seed for s in plan_runs(b, 3)}
    assert all(sb[k] == v for k, v in sa.items())  # shared runs keep their seeds
    assert len(set(sb.values())) == len(sb)  # all different
    assert derive_seed(3, 300.0, "occupancy", 0.5, 0) != derive_seed(4, 300.0, "occupancy",
                                                                     0.5, 0)
    assert all(0 <= s < 2**63 for s in sb.values())
    # a run of the sweep is the run kmc run makes with the derived seed
    spec = plan_runs(a, 3)[0]
    assert spec.config["seed"] == spec.seed and spec.config["temperature"] == 300.0


def test_sweep_file_holds_every_run(reference):
    assert reference.n_runs == 4 and not reference.failures
    assert sorted(reference.executed) == sorted(reference.runs)
    back = kmc.load(reference.path)
    assert _numbers(back) == _numbers(reference)
    assert isinstance(kmc.load(reference.path), SweepResult)
    assert not os.path.exists(reference.path + ".parts")  # parts gathered and removed
    points = reference.points()
    assert len(points) == 4 and all(p["replicas"] == 1 for p in points)
    json.dumps(reference.to_dict())
    # each run in the sweep file is a complete run file's layout, readable on its own
    import h5py

    with h5py.File(reference.path, "r") as f:
        assert f.attrs["format"] == "kmc-sweep"
        g = f["runs/T300K_occupancy0.3_r0"]
        assert g.attrs["status"] == "complete"
        # a textbook lattice is stored compactly: its unit cell, not per-hop arrays
        assert g["inputs/network"].attrs["network_class"] == "PeriodicNetwork"
        assert "inputs/network/hop_basis_src" in g and "inputs/network/hop_dst" not in g
        net = kmc.io.read_network(g["inputs/network"])
        assert net.n_sites == g["inputs"].attrs["n_sites"]


def test_dask_local_cluster_gives_the_numbers_of_the_pool(reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        on_dask = run_sweep(sweep_config("sc", {**BASE, "output": str(tmp_path / "d.h5"),
                                                "scheduler": cluster.scheduler_address}))
    assert _numbers(on_dask) == _numbers(reference)


def test_restart_computes_only_the_missing_runs(reference, tmp_path):
    path = str(tmp_path / "s.h5")
    small = {**BASE, "temperature": [300.0], "output": path, "workers": 2}
    first = run_sweep(sweep_config("sc", small))
    assert sorted(first.executed) == ["T300K_occupancy0.3_r0", "T300K_occupancy0.6_r0"]
    again = run_sweep(sweep_config("sc", small))
    assert again.executed == [] and _numbers(again) == _numbers(first)
    full = run_sweep(sweep_config("sc", {**small, "temperature": [300.0, 450.0]}))
    assert sorted(full.executed) == ["T450K_occupancy0.3_r0", "T450K_occupancy0.6_r0"]
    assert _numbers(full) == _numbers(reference)
    # the master seed is kept by the file; another one, or other settings, are refused
    with pytest.raises(kmc.ConfigError, match="master seed 21"):
        run_sweep(sweep_config("sc", {**small, "seed": 22}))
    with pytest.raises(kmc.ConfigError, match="barrier = 0.3 there, 0.4 now"):
        run_sweep(sweep_config("sc", {**small, "barrier": 0.4}))
    no_seed = {k: v for k, v in small.items() if k != "seed"}
    assert run_sweep(sweep_config("sc", no_seed)).master_seed == 21


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_killed_worker_is_retried_and_nothing_changes(reference, tmp_path):
    """SIGKILL one worker process in the middle of its run: the sweep retries that run
    (continuing from its checkpoint) and ends with the numbers of the undisturbed sweep."""
    path = tmp_path / "k.h5"
    parts = tmp_path / "k.h5.parts"
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", run_sweep(
        sweep_config("sc", {**BASE, "output": str(path), "workers": 2}))))
    thread.start()
    victim = None
    deadline = time.monotonic() + 60
    while victim is None and time.monotonic() < deadline:
        time.sleep(0.05)
        for part in parts.glob("*.h5") if parts.exists() else ():
            try:
                rec = io.read_run(part)
                if rec.status == "running" and rec.n_blocks >= 2:
                    victim = part
                    break
            except kmc.ConfigError:
                pass
    assert victim is not None, "no run got going"
    killed = 0
    for child in multiprocessing.active_children():
        os.kill(child.pid, signal.SIGKILL)  # every worker: certainly the one of `victim`
        killed += 1
    thread.join(timeout=120)
    assert killed >= 1 and not thread.is_alive()
    result = box["result"]
    assert not result.failures
    assert _numbers(result) == _numbers(reference)


def test_arrhenius_of_a_lattice_gas_sweep_recovers_the_barrier(tmp_path):
    """Non-interacting lattice gas on sc: D_sigma = D0 (1 - c) with D0 ~ exp(-Ea/kB T), so
    sigma T = A exp(-Ea/kB T) exactly. Every point run to 1.5 % on sigma: the fit over
    300-700 K gives Ea within 2 % and within its (3 sigma) error bar."""
    Ea = 0.25
    cfg = sweep_config("sc", {"size": 6, "temperature": [300.0, 400.0, 500.0, 600.0, 700.0],
                              "occupancy": [0.5], "barrier": Ea, "target_rel_err": 0.015,
                              "blocks": 400, "seed": 5, "quiet": True,
                              "output": str(tmp_path / "a.h5")})
    sweep = run_sweep(cfg)
    assert all(p["converged"] for p in sweep.points())
    fit = sweep.arrhenius()
    assert fit.n_points == 5
    assert abs(fit.Ea_eV - Ea) < 0.02 * Ea
    assert abs(fit.Ea_eV - Ea) < 3 * fit.Ea_err_eV
    # the prefactor is exact too: sigma T = n q^2 (1 - c) nu a^2 e / kB (z = 6, d = 3)
    n = 0.5 / 27.0 * 1e24  # ions per cm^3 (a = 3 Angstrom)
    D0 = 1e13 * (3e-8) ** 2  # nu a^2, cm^2/s
    A = n * 1.602176634e-19 * D0 * (1 - 0.5) / (K_B_EV_PER_K)  # S K / cm
    assert abs(math.log(fit.prefactor / A)) < 3 * fit.ln_prefactor_err


def test_cli_sweep_arrhenius_and_plot(tmp_path, capsys):
    out = tmp_path / "cli.h5"
    args = ["sweep", "sc", "--size", "5", "-T", "350,450,550", "--replicas", "2", "--steps",
            "100000", "--blocks", "50", "--seed", "8", "--workers", "2", "--output", str(out),
            "--json", "--quiet", "--summary-json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_runs"] == 6 and len(summary["points"]) == 3
    assert all(p["replicas"] == 2 for p in summary["points"])
    assert json.loads((tmp_path / "cli.json").read_text()) == summary
    assert main(["arrhenius", str(out), "--json", "--plot", str(tmp_path / "a.png")]) == 0
    fit = json.loads(capsys.readouterr().out)
    for key in ("Ea_eV", "Ea_eV_err", "prefactor_S_K_cm", "sigma_300K_S_cm",
                "sigma_300K_S_cm_err", "n_points"):
        assert key in fit
    assert fit["n_points"] == 3 and fit["Ea_eV_err"] > 0
    assert fit["deprecated_keys"]["sigma_300K_err_S_cm"] == "sigma_300K_S_cm_err"
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["arrhenius", str(out), "--quantity", "D_tracer", "--json"]) == 0
    assert "D0_cm2_s" in json.loads(capsys.readouterr().out)
    assert main(["plot", str(out), "--to", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").exists()
    # the text table
    assert main(args[:-3] + ["--quiet"]) == 0
    text = capsys.readouterr().out
    assert "0 computed now" in text and "Arrhenius" in text


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_cli_sweep_stopped_by_sigterm_continues(reference, tmp_path):
    """SIGTERM to a running `kmc sweep` saves what finished and checkpoints the runs in
    progress (exit 143); the same command again finishes with the undisturbed numbers."""
    out = tmp_path / "t.h5"
    kmc_cmd = [sys.executable, "-m", "kmc.cli"]
    args = ["sweep", "sc", "--size", "6", "-T", "300,450", "--occupancy", "0.3,0.6",
            "--steps", "30000000", "--blocks", "20", "--seed", "21", "--workers", "2",
            "--quiet", "--checkpoint-interval", "0.1", "--output", str(out)]
    proc = subprocess.Popen([*kmc_cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    parts = tmp_path / "t.h5.parts"
    deadline = time.monotonic() + 60
    started = False
    while not started and time.monotonic() < deadline:
        time.sleep(0.05)
        for part in parts.glob("*.h5") if parts.exists() else ():
            try:  # a run in progress (not one that has finished already)
                rec = io.read_run(part)
                started = started or (rec.status == "running" and rec.n_blocks >= 2)
            except kmc.ConfigError:
                pass
    assert started
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "run the same sweep again" in err and err.count("\n") == 1
    statuses = {p.name: io.read_run(p).status for p in parts.glob("*.h5")}
    assert "interrupted" in statuses.values(), statuses
    done = subprocess.run([*kmc_cmd, *args, "--json"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _numbers(kmc.load(out)) == _numbers(reference)


@pytest.mark.slow
def test_arrhenius_error_bar_coverage():
    """Over many independent lattice-gas sweeps the fitted Ea lies within its 1-sigma error
    bar at least 68 % of the time (within binomial 3 sigma; the Birge inflation only ever
    widens the bar), but not so often that the bar is uselessly wide (< 90 %), and the
    pulls average zero."""
    from kmc.arrhenius import fit_arrhenius
    from kmc.builders import build_lattice

    Ea, temps, reps = 0.25, (300.0, 400.0, 500.0, 600.0, 700.0), 120
    net = build_lattice("sc", size=5, barrier_eV=Ea)
    pulls = []
    for r in range(reps):
        sig, err = [], []
        for T in temps:
            res = kmc.Simulation(net, T, occupancy=0.5, seed=1000 * r + int(T)).run(
                100_000, blocks=100)
            sig.append(res.sigma_S_cm)
            err.append(res.sigma_S_cm_err)
        fit = fit_arrhenius(temps, sig, err)
        pulls.append((fit.Ea_eV - Ea) / fit.Ea_err_eV)
    pulls = np.array(pulls)
    inside = np.mean(np.abs(pulls) < 1)
    assert 0.683 - 3 * math.sqrt(0.683 * 0.317 / reps) < inside < 0.90, inside
    assert abs(pulls.mean()) < 3 * pulls.std() / math.sqrt(reps)


def test_one_sweep_per_file(tmp_path):
    path = tmp_path / "s.h5"
    with io.exclusive(path), pytest.raises(kmc.ConfigError, match="another kmc process"):
        run_sweep(sweep_config("sc", {"output": str(path), "steps": 1000, "blocks": 4}))


def test_a_sweep_refuses_a_field_beyond_linear_response_before_any_run(tmp_path, capsys):
    """Every run would refuse it: the sweep says so once, and writes nothing."""
    from kmc.cli import main

    out = tmp_path / "f.h5"
    assert main(["sweep", "sc", "--size", "4", "-T", "300,600", "--field", "1", "0", "0",
                 "--steps", "2000", "--blocks", "4", "--workers", "1", "--output", str(out),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "q |E| a / (kB T) =" in err and "at 300 K" in err
    assert not out.exists() and not (tmp_path / "f.h5.parts").exists()


def test_a_script_without_a_main_guard_gets_told_why_its_workers_died(tmp_path):
    """The pool's workers are fresh interpreters that import the calling script; one that
    starts a sweep at its top level makes every worker die while it starts (Python refuses a
    new process during bootstrapping). The sweep gives up after its attempts with an error
    that names the likely cause, instead of hanging or saying only that workers died."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from kmc.config import sweep_config\n"
        "from kmc.sweep import run_sweep\n"
        f"run_sweep(sweep_config('sc', {{'size': 4, 'temperature': [300.0, 400.0], "
        f"'occupancy': 0.5, 'steps': 1000, 'seed': 1, 'quiet': True, 'workers': 2, "
        f"'output': {str(tmp_path / 'u.h5')!r}}}))\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path, check=False)
    assert out.returncode != 0
    # (the workers' own tracebacks mention the idiom too: look at the sweep's error line)
    line = [ln for ln in out.stderr.splitlines() if ln.startswith("kmc.errors.KMCError")]
    assert line and "died" in line[0] and "__name__" in line[0], out.stderr[-2000:]
