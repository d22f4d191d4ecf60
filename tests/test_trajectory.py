"""Trajectories (Simulation.run(trajectory=...), kmc run --trajectory): extended XYZ frames
read back by ASE, the engine's states at the frame hops, no effect on the results, the
bounds on frames and size, resume without a missing or repeated frame, the command line."""

import filecmp
import json

import ase.io
import numpy as np
import pytest

import kmc
from kmc import io
from kmc.assemble import trajectory_species
from kmc.builders import build_lattice
from kmc.cli import main
from kmc.config import run_config

#: columns of a particle line: species, pos (3), id, disp (3), site
PROPERTIES = "species:S:1:pos:R:3:id:I:1:disp:R:3:site:I:1"


@pytest.fixture(scope="module")
def net():
    return build_lattice("sc", size=4, compact=True)  # 64 sites, a PeriodicNetwork


def _sim(net, occupancy=0.3, seed=3, **kw):
    return kmc.Simulation(net, 400, occupancy=occupancy, seed=seed, **kw)


def _wrapped(net, sites):
    frac = net.positions[sites] @ np.linalg.inv(net.cell)
    frac -= np.floor(frac)
    frac[frac >= 1.0] = 0.0
    return frac @ net.cell


class _FrameRecorder:
    """An engine stand-in that runs the real engine, cut also at every frame hop (cutting a
    run by hop counts does not change its trajectory) and records the state there."""

    def __init__(self, engine, first, every):
        self._eng, self._next, self._every, self.states = engine, first, every, []
        self._t0 = self._s0 = self._d0 = None

    def __getattr__(self, name):
        return getattr(self._eng, name)

    def _record(self):
        eng = self._eng
        if self._t0 is None:  # production starts at the first frame
            self._t0, self._s0, self._d0 = eng.time_s, eng.steps, eng.displacements()[0]
        self.states.append((eng.time_s - self._t0, eng.steps - self._s0,
                            eng.get_state()["ion_site"], eng.displacements()[0] - self._d0))
        self._next += self._every

    def run(self, max_steps, t_stop=None):
        done, why = 0, "steps"
        while done < max_steps:
            if self._eng.steps == self._next:
                self._record()
            n, why = self._eng.run(min(max_steps - done, self._next - self._eng.steps), t_stop)
            done += n
            if why != "steps":
                break
        if self._eng.steps == self._next:
            self._record()
        return done, why

    def run_points(self, max_steps, t_stop, t0_s, interval_s, k0, total_out, steps_out,
                   min_hops=0.0, steps0=0):
        """`run` with the fine collective series recorded on the way, cut the same way."""
        done, n, why = 0, 0, "steps"
        while done < max_steps:
            if self._eng.steps == self._next:
                self._record()
            d, why, m = self._eng.run_points(
                min(max_steps - done, self._next - self._eng.steps), t_stop, t0_s,
                interval_s, k0 + n, total_out[n:], steps_out[n:], min_hops, steps0)
            done, n = done + d, n + m
            if why != "steps":
                break
        if self._eng.steps == self._next:
            self._record()
        return done, why, n


def _engine_frames(net, *, steps, blocks, every, **kw):
    """The states at production hops 0, every, 2 every, ...: the same run made again without
    a trajectory, its engine cut at each frame hop, as (time since production s, hops, ion
    sites, displacement A)."""
    sim = _sim(net, **kw)
    rec = _FrameRecorder(sim.engine, steps // 10, every)  # after the default equilibration
    sim._engine = rec
    sim.run(steps, blocks=blocks)
    return rec.states


# --------------------------------------------------------------------------- #
# frames
# --------------------------------------------------------------------------- #
def test_frames_are_the_engine_states_at_the_frame_hops(net, tmp_path):
    path, h5 = tmp_path / "t.xyz", tmp_path / "run.h5"
    res = _sim(net).run(20_000, blocks=10, output=h5, trajectory=path,
                        trajectory_every_hops=1000)
    frames = ase.io.read(path, index=":", format="extxyz")
    assert len(frames) == 1 + res.hops // 1000
    assert not res.warnings
    expected = _engine_frames(net, steps=20_000, blocks=10, every=1000)
    assert len(expected) == len(frames)
    n = res.n_ions
    for k, (atoms, (t, hops, sites, disp)) in enumerate(zip(frames, expected, strict=True)):
        assert atoms.info["Step"] == hops == 1000 * k
        assert atoms.info["Time"] == t  # written with full precision
        assert len(atoms) == n  # 19 ions on 64 sites: no vacancies by default
        assert atoms.get_chemical_symbols() == ["Li"] * n
        np.testing.assert_array_equal(atoms.arrays["id"], np.arange(n))  # stable ids
        np.testing.assert_array_equal(atoms.arrays["site"], sites)
        np.testing.assert_allclose(atoms.positions, _wrapped(net, sites), atol=1e-8)
        np.testing.assert_allclose(atoms.arrays["disp"], disp, atol=1e-8)
        np.testing.assert_allclose(atoms.cell.array, net.cell)
        assert atoms.pbc.all()
    times = [a.info["Time"] for a in frames]
    assert times[0] == 0.0 and np.all(np.diff(times) > 0)
    # the positions are the unwrapped displacements folded back into the cell
    first, last = frames[0], frames[-1]
    moved = first.positions + last.arrays["disp"]
    frac = np.linalg.solve(net.cell.T, (moved - last.positions).T).T
    np.testing.assert_allclose(frac, np.round(frac), atol=1e-6)


def test_the_file_is_valid_extended_xyz(net, tmp_path):
    path = tmp_path / "t.xyz"
    _sim(net, occupancy=0.8).run(5_000, blocks=4, trajectory=path, trajectory_every_hops=500)
    lines = path.read_text(encoding="ascii").splitlines()
    i, n_frames = 0, 0
    while i < len(lines):
        n = int(lines[i])
        header = lines[i + 1]
        assert header.startswith('Lattice="12.0 0.0 0.0 0.0 12.0 0.0 0.0 0.0 12.0" ')
        assert f"Properties={PROPERTIES} " in header and header.endswith('pbc="T T T"')
        assert f"Step={500 * n_frames} " in header and " Time=" in header
        for line in lines[i + 2:i + 2 + n]:
            cols = line.split()
            assert len(cols) == 9 and len(line) == 122  # 123 bytes with the newline
            float(cols[1]), int(cols[4]), int(cols[8])
        i += 2 + n
        n_frames += 1
    assert i == len(lines) and n_frames > 5


def test_vacancies_are_written_when_fewer_than_the_ions(net, tmp_path):
    n_sites = net.n_sites
    dense = tmp_path / "dense.xyz"
    _sim(net, occupancy=0.8).run(5_000, blocks=4, trajectory=dense, trajectory_every_hops=500)
    frames = ase.io.read(dense, index=":")
    n_ions = round(0.8 * n_sites)
    for atoms in frames:
        assert len(atoms) == n_sites  # every site: the ions, then the empty sites
        sym = np.array(atoms.get_chemical_symbols())
        assert (sym[:n_ions] == "Li").all() and (sym[n_ions:] == "X").all()
        sites = atoms.arrays["site"]
        assert sorted(sites) == list(range(n_sites))  # each site once
        assert np.all(np.diff(sites[n_ions:]) > 0)
        np.testing.assert_array_equal(atoms.arrays["id"][n_ions:], n_ions + sites[n_ions:])
        assert not atoms.arrays["disp"][n_ions:].any()
        np.testing.assert_allclose(atoms.positions, _wrapped(net, sites), atol=1e-8)
    assert len(set(map(tuple, (a.arrays["site"][n_ions:] for a in frames)))) > 1  # they move
    # explicit choices win over the default
    for occupancy, vacancies, count in ((0.8, False, n_ions), (0.3, True, n_sites)):
        p = tmp_path / f"{occupancy}-{vacancies}.xyz"
        _sim(net, occupancy=occupancy).run(2_000, blocks=2, trajectory=p,
                                           trajectory_every_hops=500,
                                           trajectory_vacancies=vacancies)
        assert {len(a) for a in ase.io.read(p, index=":")} == {count}


def test_displacements_match_the_blocks_at_their_ends(tmp_path):
    """With a frame after every hop, the last frame of each block is the state at its end:
    the ions' summed displacement is the sum of the blocks' collective displacements."""
    small = build_lattice("sc", size=3, compact=True)
    path = tmp_path / "t.xyz"
    res = kmc.Simulation(small, 400, n_ions=6, seed=2).run(
        2_000, blocks=4, trajectory=path, trajectory_every_hops=1, trajectory_max_frames=10**4)
    frames = ase.io.read(path, index=":")
    assert len(frames) == res.hops + 1
    times = np.array([a.info["Time"] for a in frames])
    ends = np.cumsum(res.blocks.duration_s)
    sums = np.cumsum(res.blocks.collective_A, axis=0)
    assert len(ends) == 4
    for t_end, total in zip(ends, sums, strict=True):
        last = frames[np.searchsorted(times, t_end * (1 + 1e-12), side="right") - 1]
        np.testing.assert_allclose(last.arrays["disp"].sum(axis=0), total, atol=1e-7)


def test_a_2d_network_is_written_in_its_3d_cell(tmp_path):
    square = build_lattice("square", size=5, compact=True)
    path = tmp_path / "t.xyz"
    kmc.Simulation(square, 400, occupancy=0.5, seed=1).run(
        2_000, blocks=2, trajectory=path, trajectory_every_hops=500, trajectory_species="Na")
    atoms = ase.io.read(path, index=0)
    assert atoms.pbc.all() and abs(np.linalg.det(atoms.cell.array)) > 0
    np.testing.assert_allclose(atoms.cell.array, square.cell)
    assert set(atoms.get_chemical_symbols()) == {"Na"}


# --------------------------------------------------------------------------- #
# no effect on the run; chunking has no effect on the trajectory
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("mode", ["uniform", "count", "tree"])
def test_results_are_bit_identical_with_and_without_a_trajectory(random_network, tmp_path,
                                                                 mode, same_run):
    # tree: with pair interactions; count and uniform: one hop rate
    network = random_network(5) if mode == "tree" else build_lattice("sc", size=5)
    kw = {"occupancy": 0.4, "seed": 9, "engine_mode": mode}
    plain = kmc.Simulation(network, 500, **kw).run(30_000, blocks=10,
                                                   output=tmp_path / "a.h5")
    traced = kmc.Simulation(network, 500, **kw).run(
        30_000, blocks=10, output=tmp_path / "b.h5", trajectory=tmp_path / "t.xyz",
        trajectory_every_hops=777)
    same_run(plain, traced)
    a = io.read_run(tmp_path / "a.h5").checkpoint["engine"]
    b = io.read_run(tmp_path / "b.h5").checkpoint["engine"]
    for key in ("ion_site", "displacement", "rng", "type_counts"):
        np.testing.assert_array_equal(a[key], b[key])
    assert a["time_s"] == b["time_s"] and a["steps"] == b["steps"]


def test_chunk_sizes_do_not_change_the_trajectory(net, tmp_path, monkeypatch):
    kw = {"trajectory_every_hops": 250}
    _sim(net).run(10_000, blocks=5, trajectory=tmp_path / "a.xyz", **kw)
    monkeypatch.setattr(kmc.simulation, "_MIN_CHUNK", 37)
    monkeypatch.setattr(kmc.simulation, "_MAX_CHUNK", 37)
    sim = _sim(net)
    sim._chunk = 37  # engine calls of 37 hops: frames fall inside chunks
    sim.run(10_000, blocks=5, trajectory=tmp_path / "b.xyz", **kw)
    assert filecmp.cmp(tmp_path / "a.xyz", tmp_path / "b.xyz", shallow=False)


# --------------------------------------------------------------------------- #
# bounds
# --------------------------------------------------------------------------- #
def test_max_frames_stops_the_file_with_a_warning(net, tmp_path):
    path = tmp_path / "t.xyz"
    res = _sim(net).run(20_000, blocks=10, output=tmp_path / "r.h5", trajectory=path,
                        trajectory_every_hops=1000, trajectory_max_frames=5)
    frames = ase.io.read(path, index=":")
    assert [a.info["Step"] for a in frames] == [0, 1000, 2000, 3000, 4000]
    (warning,) = [w for w in res.warnings if "trajectory" in w]
    assert "trajectory stopped at 5 frames" in warning and "--every" in warning
    assert warning in kmc.load(tmp_path / "r.h5").warnings  # kept in the run file
    # enough frames: no warning
    enough = _sim(net).run(20_000, blocks=10, trajectory=tmp_path / "u.xyz",
                           trajectory_every_hops=1000, trajectory_max_frames=1000)
    assert not [w for w in enough.warnings if "trajectory" in w]


def test_a_trajectory_too_large_is_refused_with_the_estimate(net, tmp_path, monkeypatch):
    path = tmp_path / "t.xyz"
    monkeypatch.setenv("KMC_TRAJECTORY_MAX_BYTES", "100000")
    with pytest.raises(kmc.ConfigError) as exc:
        _sim(net).run(20_000, blocks=10, trajectory=path, trajectory_every_hops=100)
    msg = str(exc.value)
    # 201 frames of 19 particles: 19 x 123 bytes, the header (~150) and 64 spare: 2.54 kB
    assert "would hold about 510 kB (201 frames of 19 particles, 2.54 kB each)" in msg
    assert "100 kB" in msg and "KMC_TRAJECTORY_MAX_BYTES" in msg
    assert "--every" in msg and "--trajectory-max-frames" in msg
    assert not path.exists()
    # fewer frames fit: a larger interval, or a bound on the frames
    _sim(net).run(20_000, blocks=10, trajectory=path, trajectory_every_hops=1000)
    _sim(net).run(20_000, blocks=10, trajectory=path, trajectory_every_hops=100,
                  trajectory_max_frames=20, overwrite=True)
    monkeypatch.setenv("KMC_TRAJECTORY_MAX_BYTES", "lots")
    with pytest.raises(kmc.ConfigError, match="KMC_TRAJECTORY_MAX_BYTES = 'lots'"):
        _sim(net).run(20_000, blocks=10, trajectory=path, overwrite=True)


def test_a_trajectory_larger_than_the_free_disk_is_refused(net, tmp_path, monkeypatch):
    import collections

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(kmc.simulation.shutil, "disk_usage", lambda p: usage(1, 1, 5000))
    with pytest.raises(kmc.ConfigError, match=r"its disk has only 5 kB free; write fewer"):
        _sim(net).run(20_000, blocks=10, trajectory=tmp_path / "t.xyz",
                      trajectory_every_hops=1000)


# --------------------------------------------------------------------------- #
# checkpoints and resume
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("stop_at, crash", [
    (1_000, False),     # during equilibration: no frame yet
    (120_000, False),   # in production
    (120_000, True),    # in production, then frames written after the checkpoint (a kill)
])
def test_resume_continues_the_trajectory_byte_for_byte(tmp_path, stop_at, crash,
                                                       same_run):
    net6 = build_lattice("sc", size=6, compact=True)
    kw = {"blocks": 8, "trajectory_every_hops": 5_000}
    whole = _sim(net6, 0.4, 11).run(200_000, output=tmp_path / "whole.h5",
                                    trajectory=tmp_path / "whole.xyz", **kw)
    sim = _sim(net6, 0.4, 11)
    seen = [0]

    def progress(n):
        seen[0] += n
        if seen[0] >= stop_at:
            sim.request_stop()

    path, traj = tmp_path / "cut.h5", tmp_path / "cut.xyz"
    try:
        part = sim.run(200_000, output=path, trajectory=traj, progress=progress,
                       checkpoint_interval_s=1e-3, **kw)
        assert part.interrupted
    except kmc.RunInterrupted:
        pass
    written = traj.stat().st_size
    assert written < (tmp_path / "whole.xyz").stat().st_size
    rec = io.read_run(path)
    assert rec.plan["trajectory"] == str(traj.resolve())
    assert rec.plan["trajectory_every_hops"] == 5_000 and rec.plan["trajectory_vacancies"] is False
    assert int(rec.checkpoint["run"]["traj_bytes"]) == written
    if crash:  # a killed process leaves frames its last checkpoint does not count
        with open(traj, "ab") as f:
            f.write(traj.read_bytes()[:5000])
    resumed = kmc.resume(path)
    same_run(resumed, whole)
    assert filecmp.cmp(traj, tmp_path / "whole.xyz", shallow=False)


def test_resume_without_the_trajectory_file_is_refused(net, tmp_path):
    path, traj = tmp_path / "run.h5", tmp_path / "t.xyz"
    sim = _sim(net)

    def stop(n):
        if sim.engine.steps > 30_000:
            sim.request_stop()

    res = sim.run(40_000, blocks=4, output=path, trajectory=traj, trajectory_every_hops=1000,
                  progress=stop)
    assert res.interrupted
    traj.unlink()
    with pytest.raises(kmc.ConfigError, match=r"t.xyz' is missing, but the run had written"):
        kmc.resume(path)


# --------------------------------------------------------------------------- #
# arguments
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("kwargs, match", [
    ({"trajectory_every_hops": 0}, r"trajectory_every_hops = 0 must be >= 1"),
    ({"trajectory_max_frames": 0}, r"trajectory_max_frames = 0 must be >= 1"),
    ({"trajectory_species": "Qq"}, r"trajectory species 'Qq' is not a chemical symbol"),
    ({"trajectory_species": "X"}, r"trajectory species 'X' is not a chemical symbol"),
    ({"production_time_s": 1e-6}, r"trajectory_every_hops must be given for a run without "
                                  r"a fixed number of steps \(a production time"),
])
def test_bad_trajectory_arguments_name_the_value(net, tmp_path, kwargs, match):
    with pytest.raises(kmc.ConfigError, match=match):
        _sim(net).run(10_000, blocks=4, trajectory=tmp_path / "t.xyz", **kwargs)
    assert not (tmp_path / "t.xyz").exists()


def test_trajectory_file_rules(net, tmp_path):
    with pytest.raises(kmc.ConfigError, match="the directory of trajectory .* does not exist"):
        _sim(net).run(10_000, blocks=4, trajectory=tmp_path / "no" / "t.xyz")
    with pytest.raises(kmc.ConfigError, match="is a directory"):
        _sim(net).run(10_000, blocks=4, trajectory=tmp_path)
    with pytest.raises(kmc.ConfigError, match="is the output file too"):
        _sim(net).run(10_000, blocks=4, trajectory=tmp_path / "r.h5", output=tmp_path / "r.h5")
    (tmp_path / "old.xyz").write_text("keep me")
    with pytest.raises(kmc.ConfigError, match="exists; choose another file"):
        _sim(net).run(10_000, blocks=4, trajectory=tmp_path / "old.xyz")
    assert (tmp_path / "old.xyz").read_text() == "keep me"
    res = _sim(net).run(10_000, blocks=4, trajectory=tmp_path / "old.xyz", overwrite=True)
    frames = ase.io.read(tmp_path / "old.xyz", index=":")
    assert len(frames) == 1 + res.hops // 100  # the default: every steps // 100 hops
    assert frames[1].info["Step"] == 100


def test_trajectory_production_time_run(net, tmp_path):
    path = tmp_path / "t.xyz"
    res = _sim(net).run(10_000, blocks=4, production_time_s=2e-7, trajectory=path,
                        trajectory_every_hops=2_000)
    frames = ase.io.read(path, index=":")
    assert len(frames) == 1 + res.hops // 2_000
    assert frames[-1].info["Time"] <= res.simulated_time_s


# --------------------------------------------------------------------------- #
# configuration and command line
# --------------------------------------------------------------------------- #
def test_the_ions_species_comes_from_the_material():
    assert trajectory_species(run_config("sc", {})) == "Li"
    assert trajectory_species(run_config("nasicon", {})) == "Na"
    assert trajectory_species(run_config("lgps", {})) == "Li"
    micro = run_config("polycrystal", {"material": "beta_alumina", "n_grains": 2})
    assert trajectory_species(micro) == "Na"


def test_config_keys_and_the_bulk_run():
    cfg = run_config("polycrystal", {"material": "sc", "size": 8, "n_grains": 2,
                                     "trajectory": "t.xyz", "trajectory_every": 100,
                                     "trajectory_max_frames": 7})
    out = cfg.output
    assert (out.trajectory, out.trajectory_every, out.trajectory_max_frames) == ("t.xyz", 100, 7)
    assert out.trajectory_kwargs("Li") == {
        "trajectory": "t.xyz", "trajectory_every_hops": 100, "trajectory_max_frames": 7,
        "trajectory_species": "Li", "trajectory_vacancies": None}
    assert kmc.config.RunConfig.from_dict(cfg.to_dict()) == cfg
    bulk = kmc.assemble.bulk_config(cfg)  # the trajectory is the microstructure run's only
    assert bulk.output.trajectory is None and bulk.output.trajectory_every is None
    assert run_config("sc", {}).output.trajectory_kwargs("Li") == {}
    with pytest.raises(kmc.ConfigError, match=r"--trajectory-every = 10 is an option of a "
                                              r"trajectory; give --trajectory"):
        run_config("sc", {"trajectory_every": 10})


def test_cli_writes_a_trajectory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "sc", "--size", "4", "--steps", "20000", "--trajectory", "t.xyz",
                 "--every", "1000", "--seed", "1", "--quiet", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    frames = ase.io.read(tmp_path / "t.xyz", index=":")
    assert len(frames) == 1 + res["hops"] // 1000
    assert frames[0].get_chemical_symbols()[0] == "Li"


def test_cli_resume_continues_the_trajectory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["run", "sc", "--size", "5", "--steps", "100000", "--blocks", "10", "--seed", "4",
            "--trajectory-max-frames", "50", "--quiet", "--json"]
    assert main([*argv, "--output", "a.h5", "--trajectory", "a.xyz"]) == 0
    capsys.readouterr()
    stops = [0]

    def stop_soon(self, n):  # Ctrl-C a third of the way
        stops[0] += n
        if stops[0] > 40_000:
            raise KeyboardInterrupt

    monkeypatch.setattr(kmc.cli._HopBar, "__call__", stop_soon)
    assert main([*argv, "--output", "b.h5", "--trajectory", "b.xyz",
                 "--checkpoint-interval", "0.001"]) == 130
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--resume", "b.h5", "--quiet", "--json"]) == 0
    capsys.readouterr()
    assert filecmp.cmp(tmp_path / "a.xyz", tmp_path / "b.xyz", shallow=False)
    assert main(["run", "--resume", "b.h5", "--trajectory", "c.xyz"]) == 2
    assert "drop --trajectory" in capsys.readouterr().err


@pytest.mark.parametrize("argv, match", [
    (["run", "sc", "--trajectory", "t.xyz", "--every", "0"], "--trajectory-every = 0 must be >= 1"),
    (["run", "sc", "--trajectory", "t.xyz", "--trajectory-max-frames", "-3"],
     "--trajectory-max-frames = -3 must be >= 1"),
    (["run", "sc", "--steps", "2000", "--trajectory", "missing/t.xyz"],
     "the directory of trajectory 'missing/t.xyz' does not exist"),
    (["run", "sc", "--every", "10"], "give --trajectory FILE.xyz too"),
    (["sweep", "sc", "-T", "300,400", "--trajectory", "t.xyz"],
     "unrecognized arguments: --trajectory"),
])
def test_cli_bad_trajectory_values_are_one_line_exit_2(tmp_path, capsys, monkeypatch, argv,
                                                       match):
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kmc: error: ") and match in err
