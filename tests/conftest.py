"""Shared fixtures. Tests run against the installed package (--import-mode=importlib)."""

import numpy as np
import pytest

import kmc
from kmc.builders import build_lattice


@pytest.fixture
def sc_net():
    return build_lattice("sc", size=6)


def _random_network(seed: int, *, interactions: bool = True) -> kmc.SiteNetwork:
    """A small disordered network: sc lattice with random site energies, random symmetric
    barriers and (optionally) random nearest-neighbour pair interactions."""
    rng = np.random.default_rng(seed)
    net = build_lattice("sc", size=4)
    rev = net.hop_rev
    barrier = rng.uniform(0.05, 0.4, net.n_hops)
    barrier = np.minimum(barrier, barrier[rev])  # symmetric KRA barriers
    changes = dict(site_energies_eV=rng.uniform(-0.1, 0.1, net.n_sites),
                   hop_barriers_eV=barrier)
    if interactions:
        fwd = net.hop_src < net.hop_dst
        changes.update(pair_i=net.hop_src[fwd], pair_j=net.hop_dst[fwd],
                       pair_energies_eV=rng.uniform(-0.05, 0.1, int(fwd.sum())))
    return net.replace(**changes)


#: The numbers of a result that depend on the machine, not on the trajectory.
WALL = ("wall_s", "hops_per_s")


def _same_run(a, b):
    """Every number of two results but the wall-clock ones, and their block data and MSD."""
    da, db = a.to_dict(), b.to_dict()
    for k in WALL:
        da.pop(k), db.pop(k)
    assert da == db
    for name in ("duration_s", "tracer_sq_A2", "collective_A", "jump_sq_A2", "hops"):
        np.testing.assert_array_equal(getattr(a.blocks, name), getattr(b.blocks, name))
    for name in ("time_s", "tracer_A2", "collective_A2"):
        np.testing.assert_array_equal(a.msd[name], b.msd[name])


def _same_state(a, b):
    """Two engine states (Engine.get_state) equal bit for bit."""
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray):
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        else:
            assert a[k] == b[k], k


def _stopped_run(sim, path, stop_at, **run_kw):
    """`sim.run(**run_kw)` into `path`, stopped (request_stop) after `stop_at` hops: the
    interrupted result, or None when it stopped before two blocks (RunInterrupted)."""
    seen = [0]

    def progress(n):
        seen[0] += n
        if seen[0] >= stop_at:
            sim.request_stop()

    try:
        part = sim.run(output=path, progress=progress, checkpoint_interval_s=1e-3, **run_kw)
        assert part.interrupted
    except kmc.RunInterrupted as exc:
        assert exc.path == str(path)
        part = None
    assert kmc.io.read_run(path).status == "interrupted"
    return part


@pytest.fixture
def same_state():
    """same_state(a, b): assert two engine states are equal bit for bit."""
    return _same_state


@pytest.fixture
def stopped_run():
    """stopped_run(sim, path, stop_at, **run_kw): a run into `path` stopped after `stop_at`
    hops (the interrupted result, or None when it stopped before two blocks)."""
    return _stopped_run


@pytest.fixture
def same_run():
    """same_run(a, b): assert two RunResults hold the same numbers (not the wall-clock
    ones), blocks and MSD."""
    return _same_run


@pytest.fixture
def random_network():
    """Factory: random_network(seed, interactions=True) -> a small disordered SiteNetwork."""
    return _random_network


# ---- hypothesis profiles (tests/test_properties.py) ------------------------------------------
# "ci" (default): derandomized, a fixed example budget, no example database, so every run
# tries the same examples; a failure prints the blob that reproduces it. Choose another with
# HYPOTHESIS_PROFILE=dev (random examples, more of them) or thorough (many more).
# tests/test_properties.py sizes each test's examples as a share of the profile's budget.
try:
    from hypothesis import settings as _hyp_settings
except ImportError:  # a test extra; the tests that need it fail on their own import
    pass
else:
    import os as _os

    _hyp_settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None,
                                   database=None, print_blob=True)
    _hyp_settings.register_profile("dev", max_examples=100, deadline=None, print_blob=True)
    _hyp_settings.register_profile("thorough", max_examples=1000, deadline=None,
                                   print_blob=True)
    _hyp_settings.load_profile(_os.environ.get("HYPOTHESIS_PROFILE", "ci"))
