"""Faults (RELIABILITY.md): a system too large for memory, a full disk while checkpointing.
Killed workers, signals and corrupt files are tested in test_sweep.py and test_io.py."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

import kmc
from kmc import io
from kmc.builders import build_lattice
from kmc.cli import main
from kmc.resources import available_memory_bytes, format_bytes, require_memory


# ----------------------------------------------------------------------- memory
def test_available_memory_is_known_and_can_be_limited(monkeypatch):
    monkeypatch.delenv("KMC_MEMORY_LIMIT_BYTES", raising=False)
    avail = available_memory_bytes()
    assert avail is None or avail > 0
    monkeypatch.setenv("KMC_MEMORY_LIMIT_BYTES", "123456789")
    assert available_memory_bytes() == 123456789
    monkeypatch.setenv("KMC_MEMORY_LIMIT_BYTES", "lots")
    with pytest.raises(kmc.ConfigError, match="KMC_MEMORY_LIMIT_BYTES = 'lots'"):
        available_memory_bytes()
    assert format_bytes(3.2e9) == "3.2 GB" and format_bytes(512) == "512 B"


def test_too_large_site_network_is_refused_up_front(monkeypatch):
    """The estimate is checked before any per-hop array is allocated."""
    monkeypatch.setenv("KMC_MEMORY_LIMIT_BYTES", str(50 * 2**20))
    with pytest.raises(kmc.ConfigError, match=r"a SiteNetwork of 1000000 sites and 6000000 "
                                              r"hops needs about 1.6 GB of memory, but only "
                                              r"52.4 MB is available; keep the lattice compact"):
        build_lattice("sc", size=100)
    net = build_lattice("sc", size=100, compact=True)  # the compact form fits
    with pytest.raises(kmc.ConfigError, match=r"the engine for 1000000 sites and 500000 ions "
                                              r"needs about 116 MB"):
        kmc.Simulation(net, 300, occupancy=0.5, seed=1).engine
    monkeypatch.setenv("KMC_MEMORY_LIMIT_BYTES", str(2**30))
    assert kmc.Simulation(net, 300, occupancy=0.5, seed=1).engine.n_sites == 10**6


def test_engine_estimate_bounds_the_engine():
    """The up-front estimate is an upper bound of what the engine allocates, in every
    mode and with interactions and events."""
    from kmc.mechanisms import concerted_events

    cases = [build_lattice("sc", size=12), build_lattice("sc", size=12, compact=True),
             build_lattice("bcc", size=6)]
    net = build_lattice("sc", size=8)
    fwd = net.hop_src < net.hop_dst
    cases.append(net.replace(pair_i=net.hop_src[fwd], pair_j=net.hop_dst[fwd],
                             pair_energies_eV=0.05))
    cases.append(net.with_events(concerted_events(net, 2, 0.25)))
    cases.append(cases[3].with_events(concerted_events(cases[3], 3, 0.25)))  # interacting
    # displaced sites: every event has its own move vectors (as many event classes as events)
    noise = np.random.default_rng(2).normal(0.0, 0.05, net.positions.shape)
    jit = net.replace(positions=net.positions + noise,
                      hop_vectors=net.hop_vectors + noise[net.hop_dst] - noise[net.hop_src])
    cases.append(jit.with_events(concerted_events(jit, 2, 0.25)))
    # pairs on the compact form; a small interacting system with the configuration memo
    from kmc.materials import build_material

    cases.append(build_material("lgps", size=(3, 3, 3), compact=True).network)
    small = build_lattice("sc", size=3)
    fwd = small.hop_src < small.hop_dst
    cases.append(small.replace(pair_i=small.hop_src[fwd], pair_j=small.hop_dst[fwd],
                               pair_energies_eV=0.05))
    for n in cases:
        for occ in (0.05, 0.5, 0.95):
            sim = kmc.Simulation(n, 500, occupancy=occ, seed=1)
            assert sim.engine.memory_bytes <= sim._engine_memory_estimate_bytes(), (n, occ)


def test_cli_refuses_a_system_too_large(monkeypatch, capsys):
    monkeypatch.setenv("KMC_MEMORY_LIMIT_BYTES", str(10 * 2**20))
    assert main(["run", "sc", "--size", "100", "--steps", "1000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs about" in err[0] and "available" in err[0], err


def test_require_memory_passes_when_unknown(monkeypatch):
    monkeypatch.setattr("kmc.resources.available_memory_bytes", lambda: None)
    require_memory(1e30, "anything")  # no estimate of the machine: nothing to refuse


# ----------------------------------------------------------------------- disk full
def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    """A checkpoint write that fails (ENOSPC) leaves the previous checkpoint intact; the run
    stops with the OS error, and resuming from that checkpoint gives the numbers of the
    undisturbed run."""
    net = build_lattice("sc", size=6)
    sim_kw = dict(occupancy=0.4, seed=11)
    whole = kmc.Simulation(net, 350, **sim_kw).run(200_000, blocks=20)
    path = tmp_path / "run.h5"
    real_fsync = os.fsync
    calls = [0]

    def fsync(fd):
        calls[0] += 1
        if calls[0] > 3:  # the first checkpoints land, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(io.os, "fsync", fsync)
    with pytest.raises(OSError, match="No space left"):
        kmc.Simulation(net, 350, **sim_kw).run(200_000, blocks=20, output=path,
                                               checkpoint_interval_s=1e-6)
    monkeypatch.setattr(io.os, "fsync", real_fsync)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary left"
    saved = io.read_run(path)  # the last complete checkpoint, readable
    assert saved.status == "running" and saved.checkpoint is not None
    resumed = kmc.resume(path)
    for name in ("duration_s", "tracer_sq_A2", "collective_A", "hops"):
        np.testing.assert_array_equal(getattr(resumed.blocks, name),
                                      getattr(whole.blocks, name))
    assert resumed.D_tracer_cm2_s == whole.D_tracer_cm2_s
