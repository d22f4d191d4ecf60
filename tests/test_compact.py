"""The compact form of periodic lattices (PeriodicNetwork, engine templates).

A PeriodicNetwork must be exactly the SiteNetwork it stands for: the same sites and hops,
and in the engine bit-identical trajectories in every mode; and it must never hold arrays
per hop (the point of it).
"""

from __future__ import annotations

import numpy as np
import pytest

import kmc
from kmc import assemble, builders
from kmc._engine import Engine
from kmc.config import run_config
from kmc.errors import ConfigError
from kmc.io import read_network, write_network
from kmc.lattice import PeriodicNetwork, SiteNetwork

LATTICES = ["chain", "square", "triangular", "honeycomb", "sc", "bcc", "fcc", "diamond"]


def _state(net, mode, *, field=None, steps=20_000):
    sim = kmc.Simulation(net, 600.0, occupancy=0.3, seed=11, engine_mode=mode,
                         field_V_per_angstrom=field)
    sim.engine.run(steps)
    sim.engine.check()
    return sim.engine.get_state()


@pytest.mark.parametrize("name", LATTICES)
def test_to_site_network_is_the_builders_network(name):
    pn = builders.build_lattice(name, compact=True)
    ref = builders.build_lattice(name)
    assert isinstance(pn, PeriodicNetwork) and isinstance(ref, SiteNetwork)
    sn = pn.to_site_network()
    for f in ("cell", "positions", "hop_src", "hop_dst", "hop_vectors", "hop_barriers_eV",
              "site_types", "site_energies_eV", "hop_types"):
        np.testing.assert_array_equal(getattr(sn, f), getattr(ref, f), err_msg=f)
    assert (pn.n_sites, pn.n_hops, pn.dimensionality) == \
        (ref.n_sites, ref.n_hops, ref.dimensionality)
    assert pn.volume_A3 == pytest.approx(ref.volume_A3, rel=1e-12)
    np.testing.assert_array_equal(pn.positions, ref.positions)
    np.testing.assert_allclose(pn.hop_type_mean_sq_A2(), ref.hop_type_mean_sq_A2(),
                               rtol=1e-12)


@pytest.mark.parametrize("name", LATTICES)
@pytest.mark.parametrize("mode", ["tree", "count", "uniform"])
def test_trajectories_are_bit_identical(name, mode, same_state):
    pn = builders.build_lattice(name, compact=True)
    same_state(_state(pn, mode), _state(pn.to_site_network(), mode))


def test_site_energies_field_and_hop_types_carry_over(same_state):
    # two basis sites with different energies, two hop types with different barriers:
    # every ingredient of the rates goes through the templates
    pn = builders.build_lattice("bcc", size=4, compact=True)
    pn = PeriodicNetwork(
        unit_cell=pn.unit_cell, basis_frac=pn.basis_frac, size=pn.size,
        hop_basis_src=pn.hop_basis_src, hop_basis_dst=pn.hop_basis_dst,
        hop_cell_offsets=pn.hop_cell_offsets,
        hop_barriers_eV=np.where(pn.hop_basis_src == 0, 0.25, 0.25),
        basis_types=[0, 1], site_type_names=("corner", "centre"),
        basis_energies_eV=[0.0, 0.05],
        hop_types=(pn.hop_cell_offsets[:, 2] != 0).astype(int),
        hop_type_names=("in-plane", "out-of-plane"), name="bcc2")
    sn = pn.to_site_network()
    for mode in ("tree", "count", "uniform"):
        same_state(_state(pn, mode, field=(0.01, 0.0, 0.0)),
                    _state(sn, mode, field=(0.01, 0.0, 0.0)))


@pytest.mark.parametrize("size", [(3, 4, 5), 10, 23])
def test_templates_hold_no_array_per_hop(size):
    """The engine input is one int32 per site plus tables whose size does not grow with
    the lattice: at most 3 wrap patterns per axis for nearest-neighbour hops."""
    pn = builders.sc(size=size, compact=True)
    t = pn.templates()
    per_site = t["site_template"]
    assert per_site.dtype == np.int32 and per_site.shape == (pn.n_sites,)
    n_templates = t["tp_ptr"].size - 1
    assert n_templates <= 27 * pn.n_basis
    table_bytes = sum(v.nbytes for k, v in t.items() if k != "site_template")
    assert table_bytes <= n_templates * 6 * (4 * 4 + 4 * 8) + 4 * (n_templates + 1)
    # each site's hops, read through its template, are the SiteNetwork's hops in order
    sn = pn.to_site_network()
    tp = t["site_template"]
    deg = np.diff(t["tp_ptr"])[tp]
    np.testing.assert_array_equal(deg, np.diff(sn.hop_ptr))
    rows = t["tp_ptr"][tp][:, None] + np.arange(6)[None, :]
    dst = np.arange(pn.n_sites)[:, None] + t["tp_doff"][rows]
    np.testing.assert_array_equal(dst.reshape(-1), sn.hop_dst)
    rev = sn.hop_ptr[sn.hop_dst] + t["tp_rev"][rows].reshape(-1)
    np.testing.assert_array_equal(rev, sn.hop_rev)


def test_engine_memory_does_not_depend_on_the_form():
    pn = builders.sc(size=20, compact=True)
    a = kmc.Simulation(pn, 300, occupancy=0.5, seed=1).engine
    b = kmc.Simulation(pn.to_site_network(), 300, occupancy=0.5, seed=1).engine
    assert a.memory_bytes == b.memory_bytes and a.mode == b.mode == "uniform"


def test_run_file_round_trip_and_resume(tmp_path):
    pn = builders.build_lattice("honeycomb", size=8, compact=True)
    path = tmp_path / "run.h5"
    full = kmc.Simulation(pn, 500, occupancy=0.4, seed=2).run(steps=40_000, blocks=8)
    sim = kmc.Simulation(pn, 500, occupancy=0.4, seed=2)
    sim.run(steps=40_000, blocks=8, output=str(path))
    f = kmc.io.read_run(str(path))
    back = f.network()
    assert isinstance(back, PeriodicNetwork)
    for fld in ("unit_cell", "basis_frac", "hop_basis_src", "hop_basis_dst",
                "hop_cell_offsets", "hop_barriers_eV", "basis_types", "basis_energies_eV",
                "hop_types"):
        np.testing.assert_array_equal(getattr(back, fld), getattr(pn, fld), err_msg=fld)
    assert (back.size, back.site_type_names, back.hop_type_names, back.name) == \
        (pn.size, pn.site_type_names, pn.hop_type_names, pn.name)
    assert f.summary["D_tracer_cm2_s"] == full.D_tracer_cm2_s


def test_write_read_network_without_run(tmp_path):
    h5py = pytest.importorskip("h5py")
    pn = builders.fcc(size=3, compact=True)
    with h5py.File(tmp_path / "n.h5", "w") as f:
        write_network(f.create_group("net"), pn)
        assert f["net"].attrs["network_class"] == "PeriodicNetwork"
        back = read_network(f["net"])
    assert back.size == pn.size and back.n_hops == pn.n_hops


def test_plain_lattice_configs_run_compact():
    cfg = run_config("sc", {"size": 6, "occupancy": 0.2, "temperature": 500, "seed": 1})
    assert isinstance(assemble.network(cfg.model), PeriodicNetwork)
    # one family of string events: kept per basis site (tests/test_periodic_events.py);
    # events without single hops, or an interstitialcy family, need the lists
    with_events = run_config("sc", {"size": 6, "occupancy": 0.2, "temperature": 500,
                                    "mechanisms": ("hop", "concerted2"),
                                    "barrier_concerted2": 0.2})
    net = assemble.network(with_events.model)
    assert isinstance(net, PeriodicNetwork) and net.n_events == 30 * 216
    only = run_config("sc", {"size": 6, "occupancy": 0.2, "temperature": 500,
                             "mechanisms": ("concerted2",), "barrier_concerted2": 0.2})
    assert isinstance(assemble.network(only.model), SiteNetwork)


# ------------------------------------------------------------------ bad input
def _sc_fields(**changes):
    pn = builders.sc(size=4, compact=True)
    kw = {"unit_cell": pn.unit_cell, "basis_frac": pn.basis_frac, "size": pn.size,
          "hop_basis_src": pn.hop_basis_src, "hop_basis_dst": pn.hop_basis_dst,
          "hop_cell_offsets": pn.hop_cell_offsets, "hop_barriers_eV": pn.hop_barriers_eV}
    kw.update(changes)
    return kw


@pytest.mark.parametrize("changes, match", [
    ({"unit_cell": np.zeros((3, 3))}, r"unit_cell is singular"),
    ({"size": (4, 4, 0)}, r"size = .* must be 3 integers >= 1"),
    ({"size": (4, 4, 1)}, r"supercell is too small.*at least \(2, 2, 2\)"),
    ({"hop_barriers_eV": -0.1}, r"hop_barriers_eV"),
    ({"hop_barriers_eV": [0.3, 0.3, 0.3, 0.3, 0.3, 0.2]}, r"and its reverse .* different"),
    ({"hop_cell_offsets": np.array([[1, 0, 0]] * 6)}, r"has no reverse hop"),
    ({"hop_basis_dst": [0, 0, 0, 0, 0, 1]}, r"hop_basis_dst\[5\] = 1 is out of range"),
    ({"hop_cell_offsets": np.ones((6, 3)) * 0.5}, r"hop_cell_offsets must be integers"),
    ({"basis_energies_eV": [np.nan]}, r"basis_energies_eV"),
    ({"charge_e": 0.0}, r"charge_e"),
])
def test_bad_periodic_network(changes, match):
    with pytest.raises(ConfigError, match=match):
        PeriodicNetwork(**_sc_fields(**changes))


def test_engine_rejects_bad_templates():
    pn = builders.sc(size=4, compact=True)
    t = pn.templates()
    kw = dict(n_hop_types=1, temperature_K=300.0, attempt_frequency_Hz=1e13, charge_e=1.0,
              seed=1)
    e = np.zeros(pn.n_sites)
    ions = np.array([0, 5], dtype=np.int32)
    Engine(None, None, None, None, None, None, e, ions, **kw, **t).check()  # valid
    bad = dict(t, tp_rev=np.where(t["tp_rev"] == 0, 1, t["tp_rev"]).astype(np.int32))
    with pytest.raises(ConfigError, match=r"has no valid reverse hop"):
        Engine(None, None, None, None, None, None, e, ions, **kw, **bad)
    bad = dict(t, tp_doff=(t["tp_doff"] * 1000).astype(np.int32))
    with pytest.raises(ConfigError, match=r"outside 0\.\.63"):
        Engine(None, None, None, None, None, None, e, ions, **kw, **bad)
    bad = dict(t, site_template=np.full(pn.n_sites, 10**6, dtype=np.int32))
    with pytest.raises(ConfigError, match=r"site_template has values outside"):
        Engine(None, None, None, None, None, None, e, ions, **kw, **bad)
    sn = pn.to_site_network()
    with pytest.raises(ConfigError, match=r"not both"):
        Engine(sn.hop_ptr, None, None, None, None, None, e, ions, **kw, **t)
    with pytest.raises(ConfigError, match=r"pair interactions as templates .* not int_ptr"):
        Engine(None, None, None, None, None, None, e, ions, **kw, **t,
               int_ptr=np.zeros(pn.n_sites + 1, dtype=np.int32))
    with pytest.raises(ConfigError, match=r"neither clusters, local models"):
        Engine(None, None, None, None, None, None, e, ions, **kw, **t,
               cl_ptr=np.zeros(1, dtype=np.int32))
