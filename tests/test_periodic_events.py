"""String events of a PeriodicNetwork, kept per basis site (PeriodicEvents, et_* templates).

They must be exactly the events the same generator gives on the lattice's SiteNetwork, in
the same order: the engine then gives bit-identical trajectories on both forms (the
template path shares no code with the lists' path beyond the sum tree). And they must keep
nothing per event but the engine's sum tree (the point of them).
"""

from __future__ import annotations

import numpy as np
import pytest

import kmc
from kmc import builders
from kmc._engine import Engine
from kmc.errors import ConfigError
from kmc.events import PeriodicEvents
from kmc.lattice import PeriodicNetwork
from kmc.mechanisms import concerted_events


def _state(net, *, field=None, steps=20_000, seed=5):
    sim = kmc.Simulation(net, 600.0, occupancy=0.3, seed=seed, field_V_per_angstrom=field)
    sim.engine.run(steps)
    sim.engine.check()
    return sim.engine.get_state()


def _expanded(pn, ev):
    """Every event of the templates as (src, dst) per move, site by site (test-side)."""
    nb, n0, n1, n2 = pn.n_basis, *pn.size
    deg = np.bincount(pn.hop_basis_src, minlength=nb)
    start = np.concatenate([[0], np.cumsum(deg)])
    basis = np.repeat(np.arange(nb), ev.counts())
    src, dst = [], []
    for s in range(pn.n_sites):
        b = s % nb
        for q in np.flatnonzero(basis == b):
            i = np.array(np.unravel_index(s // nb, (n0, n1, n2)))
            here, x = b, s
            for slot in ev.slots[q]:
                u = start[here] + slot
                i = (i + pn.hop_cell_offsets[u]) % (n0, n1, n2)
                here = pn.hop_basis_dst[u]
                y = int(np.ravel_multi_index(tuple(i), (n0, n1, n2))) * nb + here
                src.append(x)
                dst.append(y)
                x = y
    return np.array(src), np.array(dst)


@pytest.mark.parametrize(("name", "size", "k", "turn"), [
    ("sc", 5, 2, 90.0), ("sc", 5, 2, 0.0), ("sc", 7, 3, 90.0), ("bcc", 5, 2, 90.0),
    ("fcc", 5, 2, 60.0), ("diamond", 5, 2, 120.0)])
def test_the_events_of_the_site_network(name, size, k, turn):
    pn = builders.build_lattice(name, size=size, compact=True)
    ev = concerted_events(pn, k, 0.25, max_turn_deg=turn)
    assert isinstance(ev, PeriodicEvents)
    listed = concerted_events(pn.to_site_network(), k, 0.25, max_turn_deg=turn)
    pe = pn.with_events(ev)
    assert pe.n_events == listed.n_events > 0
    src, dst = _expanded(pn, ev)
    np.testing.assert_array_equal(src, listed.src)
    np.testing.assert_array_equal(dst, listed.dst)
    np.testing.assert_allclose(pe.event_type_mean_sq_A2(),
                               pn.to_site_network().with_events(listed).event_type_mean_sq_A2(),
                               rtol=1e-12)
    # the reverse template of every template is its string backwards
    table = np.array(listed.reverse_index())
    m = ev.counts()
    per_cell = int(m.sum())
    q_of = np.arange(listed.n_events) % per_cell  # site by site, cell by cell
    np.testing.assert_array_equal(ev.reverse[q_of], table % per_cell)


@pytest.mark.parametrize(("name", "size", "k", "turn"), [
    ("sc", 6, 2, 90.0), ("sc", 7, 3, 90.0), ("sc", 5, 2, 0.0), ("bcc", 5, 2, 90.0),
    ("fcc", 5, 2, 60.0), ("sc", 9, 4, 0.0)])
def test_trajectories_are_bit_identical(name, size, k, turn, same_state):
    pn = builders.build_lattice(name, size=size, barrier_eV=0.3, compact=True)
    pe = pn.with_events(concerted_events(pn, k, 0.25, max_turn_deg=turn))
    a, b = _state(pe), _state(pe.to_site_network())
    same_state(a, b)
    assert a["event_counts"][0] > 1000  # the events fired, not only hops


def test_energies_field_and_site_types(same_state):
    # two basis sites with different energies, a field, strings of one site type only
    base = builders.build_lattice("bcc", size=5, compact=True)
    pn = PeriodicNetwork(
        unit_cell=base.unit_cell, basis_frac=base.basis_frac, size=base.size,
        hop_basis_src=base.hop_basis_src, hop_basis_dst=base.hop_basis_dst,
        hop_cell_offsets=base.hop_cell_offsets, hop_barriers_eV=base.hop_barriers_eV,
        basis_types=[0, 1], site_type_names=("corner", "centre"),
        basis_energies_eV=[0.0, 0.05], name="bcc2")
    for kw in ({}, {"site_types": ("corner", "centre")}):
        pe = pn.with_events(concerted_events(pn, 2, 0.2, max_turn_deg=180.0, **kw))
        field = (0.002, 0.0, 0.001)
        same_state(_state(pe, field=field), _state(pe.to_site_network(), field=field))
    # corner-only strings do not exist (bcc hops join corners to centres): none, as listed
    none = concerted_events(pn, 2, 0.2, site_types="corner")
    assert none.n_templates == 0 and pn.with_events(none).n_events == 0
    assert concerted_events(pn.to_site_network(), 2, 0.2, site_types="corner").n_events == 0
    with pytest.raises(ConfigError, match="unknown site type 'edge'"):
        concerted_events(pn, 2, 0.2, site_types="edge")


def test_nothing_per_event_but_the_sum_tree():
    pn = builders.build_lattice("sc", size=12, compact=True)
    ev = concerted_events(pn, 2, 0.25)
    pe = pn.with_events(ev)
    sn = pe.to_site_network()
    eng_t = kmc.Simulation(pe, 600.0, occupancy=0.3, seed=1).engine
    eng_l = kmc.Simulation(sn, 600.0, occupancy=0.3, seed=1).engine
    per_event_t = eng_t.memory_bytes / pe.n_events
    # the event sum tree holds 8-byte leaves and 1/7 of that in inner nodes (8-ary tree),
    # plus per site the event class and first event (8 bytes) and the network's classes
    assert per_event_t < 9.2 + (8.0 + 150.0) * pe.n_sites / pe.n_events
    assert eng_l.memory_bytes > 2 * eng_t.memory_bytes
    # the PeriodicEvents hold the unit cell's templates, not the lattice's events
    assert ev.slots.nbytes + ev.vectors.nbytes < 2000


def test_bad_periodic_events():
    small = builders.build_lattice("sc", size=3, compact=True)
    with pytest.raises(ConfigError, match=r"more than 3 repeats along axis 0.*to_site_network"):
        concerted_events(small, 3, 0.25)
    pn = builders.build_lattice("sc", size=4, compact=True)
    ev = concerted_events(pn, 2, 0.25)
    pe = pn.with_events(ev)
    with pytest.raises(ConfigError, match="events already"):
        pe.with_events(ev)
    with pytest.raises(ConfigError, match="takes PeriodicEvents"):
        pn.with_events(concerted_events(pn.to_site_network(), 2, 0.25))
    other = builders.build_lattice("bcc", size=4, compact=True)
    with pytest.raises(ConfigError, match="another unit cell"):
        other.with_events(ev)


def test_engine_rejects_bad_event_templates():
    pn = builders.build_lattice("sc", size=5, compact=True)
    pe = pn.with_events(concerted_events(pn, 2, 0.25))
    arrays = pe.engine_arrays()
    kw = {"temperature_K": 600.0, "attempt_frequency_Hz": 1e13, "seed": 1,
          "ion_sites": np.array([0, 1, 7], dtype=np.int32)}
    Engine(**arrays, **kw).check()  # valid
    slots = arrays["et_slot"].copy()
    slots[-1, 1] = 6  # a site of the simple-cubic lattice has 6 hops: slots 0..5
    with pytest.raises(ConfigError, match=r"hop slot 6, but the site has 6 hops"):
        Engine(**dict(arrays, et_slot=slots), **kw)
    back = arrays["et_slot"].copy()
    back[0, 1] = pn.templates()["tp_rev"][back[0, 0]]  # a string that returns to its start
    with pytest.raises(ConfigError, match=r"visits site .* twice|not sorted"):
        Engine(**dict(arrays, et_slot=back), **kw)
    with pytest.raises(ConfigError, match=r"not sorted by their slot paths"):
        Engine(**dict(arrays, et_slot=arrays["et_slot"][::-1].copy()), **kw)
    with pytest.raises(ConfigError, match=r"et_k = 5"):
        Engine(**dict(arrays, et_k=5), **kw)
    energies = pe.site_energies_eV.copy()
    energies[17] = 0.1  # no longer periodic: a template's events would differ in dE
    with pytest.raises(ConfigError, match=r"the same dE at every site"):
        Engine(**dict(arrays, site_energy=energies), **kw)
    with pytest.raises(ConfigError, match=r"ev_class\[0\] = 3 outside 0\.\.0"):
        Engine(**dict(arrays, ev_class=np.full(pn.n_sites, 3, dtype=np.int32)), **kw)


def test_run_configs_keep_string_events_per_cell():
    from kmc import assemble
    from kmc.config import run_config
    from kmc.lattice import SiteNetwork

    def net(**kw):
        cfg = run_config("sc", {"occupancy": 0.3, "temperature": 500, "seed": 1, **kw})
        return assemble.network(cfg.model)

    pe = net(size=6, mechanisms=("hop", "concerted2"), barrier_concerted2=0.2)
    assert isinstance(pe, PeriodicNetwork) and pe.event_type_names == ("concerted2",)
    # too small for strings of 3 per cell, two families, no single hops: the lists
    assert isinstance(net(size=3, mechanisms=("hop", "concerted3"), barrier_concerted3=0.2),
                      SiteNetwork)
    # strings of 3 per cell from COMPACT_STRINGS_MIN_SITES sites on (faster as lists below)
    small3 = net(size=8, mechanisms=("hop", "concerted3"), barrier_concerted3=0.2)
    assert isinstance(small3, SiteNetwork) and small3.n_events > 0
    big = round(assemble.COMPACT_STRINGS_MIN_SITES ** (1 / 3)) + 1
    assert isinstance(net(size=big, mechanisms=("hop", "concerted3"), barrier_concerted3=0.2),
                      PeriodicNetwork)
    assert isinstance(net(size=6, mechanisms=("hop", "concerted2", "concerted3"),
                          barrier_concerted2=0.2, barrier_concerted3=0.2), SiteNetwork)
    # the same results as the lists, from the run's fits to the rate-limiting type
    sn = pe.to_site_network()
    a = kmc.Simulation(pe, 500, occupancy=0.3, seed=4).run(steps=30_000, blocks=5)
    b = kmc.Simulation(sn, 500, occupancy=0.3, seed=4).run(steps=30_000, blocks=5)
    assert a.event_counts == b.event_counts and a.event_counts["concerted2"] > 0
    assert (a.D_tracer_cm2_s, a.D_sigma_cm2_s, a.correlation_factor) == \
        (b.D_tracer_cm2_s, b.D_sigma_cm2_s, b.correlation_factor)
    assert a.displacement_share == b.displacement_share
    for types in (["hop"], ["concerted2"], ["hop", "concerted2"]):
        assert pe.type_dimensionality(types) == sn.type_dimensionality(types) == 3


def test_file_round_trip(tmp_path):
    h5py = pytest.importorskip("h5py")
    from kmc.io import read_network, write_network

    pn = builders.build_lattice("bcc", size=5, compact=True)
    pe = pn.with_events(concerted_events(pn, 2, 0.2, max_turn_deg=120.0,
                                         site_types=("A",), name="pairs"))
    with h5py.File(tmp_path / "n.h5", "w") as f:
        assert write_network(f.create_group("net"), pe) == 4
        assert f["net"].attrs["network_class"] == "PeriodicNetwork"
        back = read_network(f["net"])
    assert isinstance(back, PeriodicNetwork) and back.n_events == pe.n_events
    for name in ("ptr", "slots", "vectors", "barriers_eV", "types", "reverse"):
        np.testing.assert_array_equal(getattr(back.events, name), getattr(pe.events, name))
    assert back.event_type_names == ("pairs",)
    # a whole run file, and its resume, with the events per cell
    path = tmp_path / "run.h5"
    full = kmc.Simulation(pe, 500, occupancy=0.3, seed=2).run(steps=20_000, blocks=4)
    kmc.Simulation(pe, 500, occupancy=0.3, seed=2).run(steps=20_000, blocks=4,
                                                       output=str(path))
    f = kmc.io.read_run(str(path))
    assert f.network().n_events == pe.n_events
    assert f.summary["D_tracer_cm2_s"] == full.D_tracer_cm2_s


def test_interrupted_run_resumes_bit_identically(tmp_path, same_run, stopped_run):
    pn = builders.build_lattice("sc", size=6, compact=True)
    pe = pn.with_events(concerted_events(pn, 2, 0.2))
    whole = kmc.Simulation(pe, 500, occupancy=0.3, seed=4).run(40_000, blocks=10)
    part = stopped_run(kmc.Simulation(pe, 500, occupancy=0.3, seed=4), tmp_path / "r.h5",
                       20_000, steps=40_000, blocks=10)
    assert part is not None
    back = kmc.resume(tmp_path / "r.h5")
    same_run(back, whole)
    assert back.event_counts["concerted2"] > 0
    net = kmc.io.read_run(tmp_path / "r.h5").network()
    assert isinstance(net, PeriodicNetwork) and net.n_events == pe.n_events


def test_one_event_class_per_site_gives_the_same_trajectory(same_state):
    # above 16 131 event classes the engine finds a template's first slot by a search
    # instead of a table: the same events either way
    pn = builders.build_lattice("sc", size=26, barrier_eV=0.3, compact=True)
    pe = pn.with_events(concerted_events(pn, 2, 0.25))
    arrays = pe.engine_arrays()
    n, q = pn.n_sites, pe.events.n_templates
    per_site = dict(arrays, ev_class=np.arange(n, dtype=np.int32),
                    et_ptr=np.arange(0, (n + 1) * q, q, dtype=np.int32),
                    et_slot=np.tile(arrays["et_slot"], (n, 1)),
                    et_vec=np.tile(arrays["et_vec"], (n, 1, 1)),
                    et_ekra=np.tile(arrays["et_ekra"], n), et_type=np.tile(arrays["et_type"], n))
    ions = np.random.default_rng(3).choice(n, n // 3, replace=False).astype(np.int32)
    kw = {"temperature_K": 600.0, "attempt_frequency_Hz": 1e13, "seed": 9, "ion_sites": ions}
    states = []
    for a in (arrays, per_site):
        eng = Engine(**a, **kw)
        eng.run(20_000)
        eng.check()
        states.append(eng.get_state())
    same_state(*states)
    assert states[0]["event_counts"][0] > 1000
