"""Run files: layout, load, checkpoints, bit-identical resume, faults."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

import kmc
from kmc import io
from kmc.builders import build_lattice
from kmc.cli import main

WALL = ("wall_s", "hops_per_s")


def _engine_state(path):
    return io.read_run(path).checkpoint["engine"]


@pytest.fixture(scope="module")
def net():
    return build_lattice("sc", size=6)


def _sim(net, **kw):
    return kmc.Simulation(net, 350, occupancy=0.4, seed=11, **kw)


def test_run_file_layout_is_plain_hdf5(net, tmp_path):
    path = tmp_path / "run.h5"
    res = _sim(net).run(60_000, blocks=10, output=path, config={"lattice": "sc", "size": 6})
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "kmc-run" and f.attrs["status"] == "complete"
        assert f["provenance"].attrs["kmc_version"] == kmc.__version__
        assert f["inputs"].attrs["temperature_K"] == 350 and f["inputs"].attrs["seed"] == 11
        assert f["inputs"].attrs["n_ions"] == res.n_ions
        np.testing.assert_array_equal(f["inputs/network/hop_dst"][()], net.hop_dst)
        np.testing.assert_array_equal(f["inputs/network/positions"][()], net.positions)
        assert f["plan"].attrs["blocks"] == 10 and f["plan"].attrs["steps"] == 60_000
        assert f["blocks/duration_s"].shape == (10,)
        assert f["blocks/tracer_sq_A2"].shape == (10, 3, 3)
        assert f["msd/tracer_A2"].shape == (10,)
        s = f["summary"]
        assert s.attrs["D_tracer_cm2_s"] == res.D_tracer_cm2_s
        assert s.attrs["sigma_S_cm_err"] == res.sigma_S_cm_err
        np.testing.assert_array_equal(s["D_tracer_tensor_cm2_s"][()], res.D_tracer_tensor_cm2_s)
        assert json.loads(f["config"].attrs["all_json"]) == {"lattice": "sc", "size": 6}
        assert f["checkpoint/engine/rng"].shape == (4,)
    # the placement is an input: the same seed places the ions the same way
    again = _sim(net)
    start = again.engine.get_state()["ion_site"]
    np.testing.assert_array_equal(io.read_run(path).inputs["initial_ion_sites"], start)


def test_load_gives_the_result_back(net, tmp_path, same_run):
    path = tmp_path / "run.h5"
    res = _sim(net, field_V_per_angstrom=(0.002, 0, 0)).run(50_000, blocks=10, output=path)
    back = kmc.load(path)
    assert back.to_dict() == res.to_dict()  # wall times included: they are stored
    same_run(back, res)
    assert back.field_V_per_angstrom == res.field_V_per_angstrom
    assert io.read_run(path).network().n_hops == net.n_hops


@pytest.mark.parametrize(
    "steps, blocks, stop_at",
    [
        (40_000, 10, 2_000),     # during equilibration
        (200_000, 8, 120_000),   # in the middle of a block
        (20_000, 100, 9_000),    # blocks shorter than a chunk: stops exactly at a block end
    ],
)
def test_interrupt_and_resume_is_bit_identical(net, tmp_path, steps, blocks, stop_at,
                                                same_run, stopped_run):
    whole = _sim(net).run(steps, blocks=blocks, output=tmp_path / "whole.h5")
    path = tmp_path / "cut.h5"
    part = stopped_run(_sim(net), path, stop_at, steps=steps, blocks=blocks)
    assert part is None or part.n_blocks < blocks
    with pytest.raises(kmc.ConfigError, match="resume"):
        kmc.load(path)
    resumed = kmc.resume(path)
    assert not resumed.interrupted
    same_run(resumed, whole)
    assert kmc.load(path).to_dict() == resumed.to_dict()
    a, b = _engine_state(path), _engine_state(tmp_path / "whole.h5")
    for key in ("ion_site", "displacement", "jump_sq", "ion_hops", "type_counts", "rng"):
        np.testing.assert_array_equal(a[key], b[key])
    assert a["time_s"] == b["time_s"] and a["steps"] == b["steps"]


@pytest.mark.parametrize("stop_at", [3_000, 200_000, 2_500_000])
def test_a_run_to_a_precision_resumes_bit_identically(net, tmp_path, stop_at, same_run,
                                                      stopped_run):
    """Stopped in equilibration, before the first look at the estimate and after several
    (the blocks merged in pairs, the snapshots thinned, the fine collective series grown),
    the resumed run to 5 % ends where the whole one does, with the same numbers."""
    whole = _sim(net).run(target_rel_err=0.05, output=tmp_path / "whole.h5")
    assert whole.converged and whole.stop_reason == "target" and whole.hops > 4 * stop_at / 5
    path = tmp_path / "cut.h5"
    part = stopped_run(_sim(net), path, stop_at, target_rel_err=0.05)
    assert part is None or (not part.converged and part.stop_reason == "interrupted")
    resumed = kmc.resume(path)
    assert resumed.converged and resumed.stop_reason == "target"
    same_run(resumed, whole)
    assert resumed.to_dict()["fit_range_s"] == whole.to_dict()["fit_range_s"]
    a, b = _engine_state(path), _engine_state(tmp_path / "whole.h5")
    for key in ("ion_site", "displacement", "rng"):
        np.testing.assert_array_equal(a[key], b[key])
    assert a["time_s"] == b["time_s"] and a["steps"] == b["steps"]


def test_interrupted_twice(net, tmp_path, same_run):
    whole = _sim(net).run(100_000, blocks=20)
    path = tmp_path / "cut.h5"

    def stop_after(hops):
        seen = [0]

        def progress(n):
            seen[0] += n
            if seen[0] >= hops:
                raise KeyboardInterrupt  # a progress callback may stop the run too

        return progress

    first = _sim(net).run(100_000, blocks=20, output=path, progress=stop_after(30_000))
    assert first.interrupted
    second = kmc.resume(path, progress=stop_after(30_000))
    assert second.interrupted and first.n_blocks < second.n_blocks < 20
    same_run(kmc.resume(path), whole)


def test_resume_of_a_complete_file_gives_its_result(net, tmp_path):
    path = tmp_path / "run.h5"
    res = _sim(net).run(20_000, blocks=5, output=path)
    assert kmc.resume(path).to_dict() == res.to_dict()


def test_output_is_never_overwritten_by_accident(net, tmp_path):
    path = tmp_path / "run.h5"
    _sim(net).run(20_000, blocks=5, output=path)
    with pytest.raises(kmc.ConfigError, match="exists and holds the results of a finished run"):
        _sim(net).run(20_000, blocks=5, output=path)
    _sim(net).run(20_000, blocks=5, output=path, overwrite=True)
    with pytest.raises(kmc.ConfigError, match="directory"):
        _sim(net).run(20_000, blocks=5, output=tmp_path / "missing" / "run.h5")
    with pytest.raises(kmc.ConfigError, match="checkpoint_interval_s"):
        _sim(net).run(20_000, blocks=5, output=tmp_path / "b.h5", checkpoint_interval_s=0)


def test_corrupt_truncated_and_foreign_files_are_clear_errors(net, tmp_path, capsys):
    path = tmp_path / "run.h5"
    _sim(net).run(20_000, blocks=5, output=path)
    size = path.stat().st_size
    cut = tmp_path / "cut.h5"
    cut.write_bytes(path.read_bytes()[: size // 2])
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all" * 100)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    for bad, match in ((cut, "not a readable HDF5 file"), (junk, "not a readable HDF5 file"),
                       (other, "not a kmc results file"),
                       (tmp_path / "none.h5", "does not exist")):
        with pytest.raises(kmc.ConfigError, match=match):
            kmc.load(bad)
        with pytest.raises(kmc.ConfigError, match=match):
            kmc.resume(bad)
        assert main(["run", "--resume", str(bad)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and match in err


def test_a_sweep_file_where_a_run_file_belongs_is_named_a_sweep(net, tmp_path, capsys):
    sweep = tmp_path / "sweep.h5"
    assert main(["sweep", "sc", "--size", "4", "-T", "400,500", "--steps", "2000", "--blocks",
                 "4", "--seed", "1", "--workers", "1", "--quiet", "--output", str(sweep)]) == 0
    capsys.readouterr()
    before = sweep.read_bytes()
    named = "holds a kmc sweep (2 runs)"
    assert io.describe_file(sweep) == "a kmc sweep (2 runs)"
    # as a run's output: refused, and named
    with pytest.raises(kmc.ConfigError, match=r"exists and holds a kmc sweep \(2 runs\); "
                                              r"choose another output file"):
        _sim(net).run(2_000, blocks=4, output=sweep)
    assert main(["run", "sc", "--size", "4", "--steps", "2000", "--quiet", "--output",
                 str(sweep)]) == 2
    err = capsys.readouterr().err
    assert named in err and "--overwrite" in err and "not a kmc run" not in err
    # to resume, or read as a run
    for call in (lambda: kmc.resume(sweep), lambda: io.read_run(sweep),
                 lambda: io.result_from_run(io.read_run(sweep))):
        with pytest.raises(kmc.ConfigError,
                           match=r"holds a kmc sweep \(2 runs\), not a single run"):
            call()
    assert main(["run", "--resume", str(sweep)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err
    assert sweep.read_bytes() == before  # nothing was written to it
    # where a sweep belongs it is read as one; a run file is still described as a run
    assert isinstance(kmc.load(sweep), kmc.SweepResult)
    run = tmp_path / "run.h5"
    _sim(net).run(2_000, blocks=4, output=run)
    assert io.describe_file(run) == "a kmc run (complete)"
    assert io.describe_file(tmp_path / "none.h5") == "a file that is not a kmc results file"


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "f.h5"
    io.atomic_h5(path, lambda f: f.create_dataset("x", data=[1, 2, 3]))

    def failing(f):
        f.create_dataset("x", data=[9])
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        io.atomic_h5(path, failing)
    with h5py.File(path, "r") as f:
        assert list(f["x"][()]) == [1, 2, 3]
    assert sorted(os.listdir(tmp_path)) == ["f.h5"]  # no temporary file left behind


# --------------------------------------------------------------------------- #
# the command line, real processes and real signals
# --------------------------------------------------------------------------- #
def _kmc():
    script = shutil.which("kmc", path=os.path.dirname(sys.executable)) or shutil.which("kmc")
    return [script] if script else [sys.executable, "-m", "kmc.cli"]


_LONG = ["run", "sc", "--size", "8", "--steps", "60000000", "--blocks", "60", "--seed", "5",
         "-T", "400", "--quiet"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals (SIGKILL, SIGTERM)")
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_cli_killed_run_resumes_bit_identically(tmp_path, capsys, sig):
    """A run killed by SIGKILL keeps its last checkpoint (a readable file); SIGTERM and
    SIGINT (Ctrl-C) write a checkpoint and exit 143 / 130; either way `kmc run --resume` finishes it with the numbers
    of the uninterrupted run."""
    sig = getattr(signal, sig)
    path = tmp_path / "run.h5"
    proc = subprocess.Popen([*_kmc(), *_LONG, "--output", str(path),
                             "--checkpoint-interval", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait for a checkpoint with finished blocks
        time.sleep(0.1)
        try:
            if io.read_run(path).n_blocks >= 3:
                break
        except kmc.ConfigError:
            pass
    else:
        proc.kill()
        pytest.fail("no checkpoint with blocks appeared")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        assert io.read_run(path).status == "running"
    else:  # SIGTERM, or SIGINT (Ctrl-C): a clean stop with a resumable checkpoint
        assert proc.returncode == 128 + sig, err
        assert io.read_run(path).status == "interrupted"
        assert "kmc run --resume" in err and "Traceback" not in err
        assert "interrupted:" in out  # the finished blocks are printed
    done = subprocess.run([*_kmc(), "run", "--resume", str(path), "--json", "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    resumed = json.loads(done.stdout)
    assert main([*_LONG, "--json"]) == 0
    whole = json.loads(capsys.readouterr().out)
    for d in (resumed, whole):
        for k in WALL:
            d.pop(k)
    assert resumed == whole


def test_cli_resume_rules_and_summary_json(tmp_path, capsys):
    path = tmp_path / "run.h5"
    assert main(["run", "sc", "--size", "5", "--steps", "20000", "--blocks", "5", "--seed", "2",
                 "--output", str(path), "--summary-json", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert json.loads((tmp_path / "run.json").read_text()) == first
    assert main(["run", "--resume", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == first
    assert main(["run", "--resume", str(path), "-T", "500"]) == 2
    assert "drop --temperature" in capsys.readouterr().err
    assert main(["run", "sc", "--output", str(path)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["run", "sc", "--summary-json"]) == 2
    assert "needs --output" in capsys.readouterr().err


def test_cli_plot_draws_the_msd(tmp_path, capsys):
    path = tmp_path / "run.h5"
    assert main(["run", "sc", "--size", "5", "--steps", "20000", "--blocks", "10", "--seed", "2",
                 "--output", str(path), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["plot", str(path)]) == 0
    figure = tmp_path / "run.msd.png"
    assert capsys.readouterr().out.strip() == str(figure)
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_plot_of_a_run_draws_the_fit(tmp_path, capsys, monkeypatch):
    """kmc plot of a run: log axes, the fitted lags shaded and labelled with the tracer's
    log-log slope, the collective MSD on the lags of its fit (the fine series) and both
    fitted lines 2 d D t + c with the run's D* and D_sigma."""
    import kmc.cli
    from kmc.arrhenius import plot_msd

    path = tmp_path / "run.h5"
    assert main(["run", "sc", "--size", "5", "--seed", "2", "--output", str(path),
                 "--quiet"]) == 0
    figures = []

    def keep(*args, **kwargs):
        figures.append(plot_msd(*args[:2], None, **kwargs))  # the Figure, not the file

    monkeypatch.setattr(kmc.cli, "plot_msd", keep)
    assert main(["plot", str(path), "--to", str(tmp_path / "m.png")]) == 0
    res = kmc.load(path)
    t = res.transport
    (ax,) = figures[0].axes
    assert ax.get_xscale() == ax.get_yscale() == "log"
    labels = [x.get_text() for x in ax.get_legend().get_texts()]
    c_tr, c_co = res.msd["intercepts_A2"]

    def shift(c):
        return f" {'+' if c > 0 else '-'} {abs(c):.3g} A^2" if c else ""

    assert labels == [
        "tracer MSD", "collective MSD (per ion)",
        f"fitted lags: tracer MSD ~ tau^{t.alpha_tracer:.3f} +/- {t.alpha_tracer_err:.2g}",
        f"2 d D* t{shift(c_tr)}, D* = {res.D_tracer_cm2_s:.3g} cm^2/s",
        f"2 d D_sigma t{shift(c_co)}, D_sigma = {res.D_sigma_cm2_s:.3g} cm^2/s"]
    tracer, coll = ax.get_lines()[:2]
    np.testing.assert_array_equal(coll.get_xdata(), res.msd["collective_fine_time_s"])
    np.testing.assert_array_equal(tracer.get_xdata(), res.msd["time_s"])
    patch = ax.patches[0]  # the shaded fitted range (a Rectangle, or a Polygon before
    xs = ([patch.get_x(), patch.get_x() + patch.get_width()]  # matplotlib 3.9)
          if hasattr(patch, "get_width") else [p[0] for p in patch.get_xy()])
    np.testing.assert_allclose([min(xs), max(xs)], t.fit_range_s)
    assert ax.get_title() == f"sc, {res.n_ions} ions, T = 300 K"


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_progress_bar_on_a_terminal_never_on_stdout(tmp_path):
    """With stderr on a terminal a long run shows a tqdm bar there; --json stdout stays one
    JSON object; --quiet turns the bar off."""
    import fcntl
    import pty
    import struct
    import termios

    def run(extra):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 cols
        proc = subprocess.Popen([*_kmc(), "run", "sc", "--size", "8", "--steps", "60000000",
                                 "--seed", "1", "--json", *extra],
                                stdout=subprocess.PIPE, stderr=slave, cwd=tmp_path)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        out, _ = proc.communicate(timeout=120)
        os.close(master)
        assert proc.returncode == 0
        json.loads(out)  # stdout is exactly one JSON object
        return b"".join(chunks).decode(errors="replace")

    shown = run([])
    assert "kmc run" in shown and "hop" in shown
    assert run(["--quiet"]) == ""


def test_one_writer_per_file(net, tmp_path):
    """A second process (here: a second run) cannot write a file that is being written."""
    path = tmp_path / "run.h5"
    with io.exclusive(path):
        with pytest.raises(kmc.ConfigError, match="being written by another kmc process"):
            _sim(net).run(20_000, blocks=5, output=path)
        with pytest.raises(kmc.ConfigError, match="being written by another kmc process"):
            kmc.resume(path)
    _sim(net).run(20_000, blocks=5, output=path)  # free again
    assert not (tmp_path / "run.h5.lock").exists()


@pytest.mark.parametrize("keep_hops", [True, False])
def test_generated_events_are_stored_by_rows_and_resume_bit_identically(tmp_path, same_run,
                                                                         keep_hops, stopped_run):
    """A network whose events keep their move vectors as hop indices is stored as the table
    and the index (format version 2; no per-move vectors written), read back to the same
    network, and an interrupted run on it resumes bit-identically."""
    from kmc.mechanisms import concerted_events
    base = build_lattice("sc", size=5)
    net = base.with_events(concerted_events(base, 2, 0.25, max_turn_deg=90),
                           keep_hops=keep_hops)
    table, index = net.events.vector_rows()
    assert index is not None

    def sim():
        return kmc.Simulation(net, 500, occupancy=0.3, seed=3)

    whole = sim().run(60_000, blocks=6, output=tmp_path / "whole.h5")
    with h5py.File(tmp_path / "whole.h5", "r") as f:
        g = f["inputs/network"]
        assert f.attrs["format_version"] == 3 and "event_vectors" not in g
        np.testing.assert_array_equal(g["event_vector_index"][()], index)
        np.testing.assert_array_equal(g["event_vector_table"][()], table)
    back = io.read_run(tmp_path / "whole.h5").network()
    for f in ("event_ptr", "event_src", "event_dst", "event_barriers_eV", "event_types",
              "hop_src", "hop_dst", "hop_vectors"):
        np.testing.assert_array_equal(getattr(back, f), getattr(net, f))
    np.testing.assert_array_equal(back.event_vectors.view(np.int64),
                                  net.event_vectors.view(np.int64))
    assert back.event_type_names == net.event_type_names
    path = tmp_path / "cut.h5"
    stopped_run(sim(), path, 25_000, steps=60_000, blocks=6)
    same_run(kmc.resume(path), whole)


def test_a_network_without_rows_is_stored_as_before(net, tmp_path):
    """Networks without events (or with per-move vectors) keep format version 1, readable
    by every kmc that reads run files."""
    _sim(net).run(20_000, blocks=4, output=tmp_path / "run.h5")
    with h5py.File(tmp_path / "run.h5", "r") as f:
        assert f.attrs["format_version"] == 1
        assert "event_vector_table" not in f["inputs/network"]


def test_inconsistent_stored_event_rows_are_a_clear_error(tmp_path):
    from kmc.mechanisms import concerted_events
    base = build_lattice("sc", size=4)
    net = base.with_events(concerted_events(base, 2, 0.25))
    path = tmp_path / "run.h5"
    kmc.Simulation(net, 500, occupancy=0.3, seed=3).run(5_000, blocks=2, output=path)
    with h5py.File(path, "r+") as f:
        g = f["inputs/network"]
        bad = g["event_vector_index"][()]
        bad[0] = len(g["event_vector_table"])  # beyond the table
        del g["event_vector_index"]
        g.create_dataset("event_vector_index", data=bad)
    with pytest.raises(kmc.ConfigError, match="event_vector_table and event_vector_index"):
        io.read_run(path).network()


def test_arrays_of_one_value_are_stored_as_a_fill_value(tmp_path):
    """A generator's barriers (a broadcast) and its event types (all 0) are stored as
    HDF5 datasets of one fill value (no data written) and read back as the full arrays."""
    from kmc.mechanisms import concerted_events
    base = build_lattice("sc", size=14)
    net = base.with_events(concerted_events(base, 2, 0.25, max_turn_deg=90))
    assert net.n_events >= 1 << 16
    path = tmp_path / "run.h5"
    kmc.Simulation(net, 500, occupancy=0.3, seed=3).run(5_000, blocks=2, output=path)
    with h5py.File(path, "r") as f:
        g = f["inputs/network"]
        for name in ("event_barriers_eV", "event_types"):
            assert g[name].id.get_storage_size() == 0  # nothing written
    back = io.read_run(path).network()
    np.testing.assert_array_equal(back.event_barriers_eV, net.event_barriers_eV)
    np.testing.assert_array_equal(back.event_types, net.event_types)
    np.testing.assert_array_equal(back.event_src, net.event_src)


def _network_files(path):
    return sorted(p.name for p in path.parent.glob(path.name + ".network-*.h5"))


def test_a_large_network_is_written_once_per_run_not_per_checkpoint(net, tmp_path, same_run,
                                                                   monkeypatch, stopped_run):
    """A network at or above NETWORK_FILE_MIN_BYTES (here: any) goes to a network file once;
    the checkpoints link to it (plain h5py follows the link), a resumed run goes on with it,
    and the complete run file holds the network itself, with the network file gone."""
    whole = _sim(net).run(200_000, blocks=8, output=tmp_path / "whole.h5")
    monkeypatch.setattr(io, "NETWORK_FILE_MIN_BYTES", 0)
    writes = []
    real = io.write_network_file
    monkeypatch.setattr(io, "write_network_file",
                        lambda *a, **k: writes.append(a[0]) or real(*a, **k))
    path = tmp_path / "cut.h5"
    stopped_run(_sim(net), path, 120_000, steps=200_000, blocks=8)
    assert len(writes) == 1  # one network file for the many checkpoints (interval 1 ms)
    names = _network_files(path)
    assert names == [writes[0].name]
    rec = io.read_run(path)
    assert rec.network_file == names[0]
    with h5py.File(path, "r") as f:
        link = f["inputs"].get("network", getlink=True)
        assert isinstance(link, h5py.ExternalLink) and link.filename == names[0]
        np.testing.assert_array_equal(f["inputs/network/hop_dst"][()], net.hop_dst)
    np.testing.assert_array_equal(rec.network().hop_dst, net.hop_dst)
    # the run file is read from another working directory too
    monkeypatch.chdir(tmp_path.parent)
    written = []
    real_write = io.write_network
    monkeypatch.setattr(io, "write_network", lambda *a: written.append(1) or real_write(*a))
    resumed = kmc.resume(path)
    assert len(writes) == 1  # the resumed run went on with the same network file
    assert written == []  # and its last write copied the network from it
    same_run(resumed, whole)
    assert _network_files(path) == []
    with h5py.File(path, "r") as f:
        assert isinstance(f["inputs"].get("network", getlink=True), h5py.HardLink)
    assert io.read_run(path).network_file is None
    np.testing.assert_array_equal(io.read_run(path).network().hop_vectors, net.hop_vectors)
    assert kmc.load(path).to_dict() == resumed.to_dict()


def test_a_missing_or_foreign_network_file_is_a_clear_error(net, tmp_path, monkeypatch,
                                                            stopped_run):
    monkeypatch.setattr(io, "NETWORK_FILE_MIN_BYTES", 0)
    path = tmp_path / "cut.h5"
    stopped_run(_sim(net), path, 20_000, steps=100_000, blocks=8)
    (side,) = tmp_path.glob("cut.h5.network-*.h5")
    moved = tmp_path / "elsewhere.h5"
    side.rename(moved)
    with pytest.raises(kmc.ConfigError, match=r"network-.*\.h5.*which is missing"):
        kmc.resume(path)
    assert main(["run", "--resume", str(path)]) == 2
    # another run's network file under this name: named, not read
    other = _sim(net)
    io.write_network_file(side, other.network, "0123456789abcdef")
    with pytest.raises(kmc.ConfigError, match="is not the network file of"):
        kmc.resume(path)
    moved.replace(side)
    # the network file itself given where a run file belongs: named
    for call in (lambda: kmc.load(side), lambda: kmc.resume(side), lambda: io.read_run(side)):
        with pytest.raises(kmc.ConfigError, match="network file of an unfinished run"):
            call()
    assert not kmc.resume(path).interrupted


def test_overwriting_a_run_removes_its_network_file(net, tmp_path, monkeypatch, stopped_run):
    monkeypatch.setattr(io, "NETWORK_FILE_MIN_BYTES", 0)
    path = tmp_path / "run.h5"
    stopped_run(_sim(net), path, 20_000, steps=100_000, blocks=8)
    assert len(_network_files(path)) == 1
    monkeypatch.setattr(io, "NETWORK_FILE_MIN_BYTES", 1 << 60)  # a small network now
    _sim(net).run(20_000, blocks=4, output=path, overwrite=True)
    assert _network_files(path) == []
    assert io.read_run(path).status == "complete"


def test_network_nbytes_counts_what_is_written(tmp_path):
    from kmc.mechanisms import concerted_events
    sc = build_lattice("sc", size=4)
    ev = sc.with_events(concerted_events(sc, 2, 0.3))
    n = io.network_nbytes(ev)
    assert n > io.network_nbytes(sc) > 0
    # no per-move vectors: the table and the index
    assert n < io.network_nbytes(sc) + ev.events.n_moves * (4 + 4 + 4) + ev.n_events * 16 + 4096
    assert "vectors" not in ev.events.__dict__


def test_stored_events_are_read_back_without_validating_again(tmp_path, monkeypatch):
    """Generated events stored with their digest come back as written: table rows kept (no
    per-move vectors), the reverse index as known, no search; a changed array (here the
    stored reverse index) fails the digest and everything is validated and searched anew."""
    from kmc import events as events_mod
    from kmc.mechanisms import concerted_events
    base = build_lattice("sc", size=5)
    net = base.with_events(concerted_events(base, 2, 0.25, max_turn_deg=90))
    path = tmp_path / "run.h5"
    kmc.Simulation(net, 500, occupancy=0.3, seed=3).run(5_000, blocks=2, output=path)
    with h5py.File(path, "r") as f:
        assert len(f["inputs/network"].attrs["events_digest"]) == 64
    searched = []
    real = events_mod.EventSet._search_reverse
    monkeypatch.setattr(events_mod.EventSet, "_search_reverse",
                        lambda self: searched.append(1) or real(self))
    back = io.read_run(path).network()
    assert searched == []
    ev = back.events
    assert "_vec_index" in ev.__dict__ and "vectors" not in ev.__dict__
    np.testing.assert_array_equal(ev.reverse_index(), net.events.reverse_index())
    for f in ("ptr", "src", "dst", "vectors", "barriers_eV", "types"):
        np.testing.assert_array_equal(getattr(ev, f), getattr(net.events, f))
    assert ev.type_names == net.events.type_names
    np.testing.assert_array_equal(back.hop_dst, net.hop_dst)
    # a run on the network read back is the run on the original
    a = kmc.Simulation(net, 500, occupancy=0.3, seed=4).engine
    b = kmc.Simulation(back, 500, occupancy=0.3, seed=4).engine
    a.run(3_000)
    b.run(3_000)
    np.testing.assert_array_equal(a.get_state()["ion_site"], b.get_state()["ion_site"])
    assert a.time_s == b.time_s
    # a wrong stored reverse fails the digest: the reverses are searched, the right ones
    with h5py.File(path, "r+") as f:
        g = f["inputs/network"]
        bad = g["event_reverse"][()]
        bad[[0, 1]] = bad[[1, 0]]
        g["event_reverse"][...] = bad
    back = io.read_run(path).network()
    assert searched == [1]
    np.testing.assert_array_equal(back.events.reverse_index(), net.events.reverse_index())


def test_a_version_2_file_without_reverse_and_digest_still_reads(tmp_path):
    """Files of the table form written before the reverse index and digest (format version
    2) read as before: every check made and the reverses searched, the same network."""
    from kmc.mechanisms import concerted_events
    base = build_lattice("sc", size=4)
    net = base.with_events(concerted_events(base, 2, 0.25))
    path = tmp_path / "run.h5"
    kmc.Simulation(net, 500, occupancy=0.3, seed=3).run(5_000, blocks=2, output=path)
    with h5py.File(path, "r+") as f:
        assert f.attrs["format_version"] == 3
        g = f["inputs/network"]
        del g["event_reverse"]
        del g.attrs["events_digest"]
        f.attrs["format_version"] = 2
    back = io.read_run(path).network()
    np.testing.assert_array_equal(back.events.reverse_index(), net.events.reverse_index())
    np.testing.assert_array_equal(back.event_vectors, net.event_vectors)
    np.testing.assert_array_equal(back.event_src, net.event_src)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = io.FORMAT_VERSION + 1
    with pytest.raises(kmc.ConfigError, match=f"format version {io.FORMAT_VERSION + 1}; "
                       f"this kmc reads up to {io.FORMAT_VERSION}"):
        io.read_run(path)
