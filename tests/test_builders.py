"""Tests of kmc.builders: the standard lattices and the generic periodic builder."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kmc import builders
from kmc.builders import LATTICES, build_lattice, periodic_network
from kmc.errors import ConfigError
from kmc.lattice import SiteNetwork

S2, S3 = math.sqrt(2.0), math.sqrt(3.0)

# name: (size used in the test, expected n_sites, coordination, NN distance / a, dimensionality)
TABLE = {
    "chain": (7, 7, 2, 1.0, 1),
    "square": (4, 16, 4, 1.0, 2),
    "triangular": (4, 16, 6, 1.0, 2),
    "honeycomb": (4, 32, 3, 1 / S3, 2),
    "sc": (3, 27, 6, 1.0, 3),
    "bcc": (3, 54, 8, S3 / 2, 3),
    "fcc": (2, 32, 12, 1 / S2, 3),
    "diamond": (2, 64, 4, S3 / 4, 3),
}
DEFAULT_SITES = {"chain": 64, "square": 256, "triangular": 256, "honeycomb": 512,
                 "sc": 1000, "bcc": 1024, "fcc": 864, "diamond": 1000}


def check_invariants(net: SiteNetwork) -> None:
    """Structural invariants every network must satisfy."""
    n, m = net.n_sites, net.n_hops
    h = np.arange(m)
    rev = net.hop_rev
    np.testing.assert_array_equal(rev[rev], h)  # involution
    assert np.all(rev != h)
    np.testing.assert_array_equal(net.hop_vectors[rev], -net.hop_vectors)
    np.testing.assert_array_equal(net.hop_src[rev], net.hop_dst)
    np.testing.assert_array_equal(net.hop_barriers_eV[rev], net.hop_barriers_eV)
    # CSR offsets
    ptr = net.hop_ptr
    assert ptr[0] == 0 and ptr[-1] == m and np.all(np.diff(ptr) >= 0)
    np.testing.assert_array_equal(np.diff(ptr), net.coordination)
    np.testing.assert_array_equal(np.repeat(np.arange(n), np.diff(ptr)), net.hop_src)
    # unwrapped positions: pos[dst] - pos[src] - vec is a lattice vector of the supercell
    d = net.positions[net.hop_dst] - net.positions[net.hop_src] - net.hop_vectors
    frac = d @ np.linalg.inv(net.cell)
    np.testing.assert_allclose(frac, np.rint(frac), atol=1e-8)
    np.testing.assert_array_equal(-np.rint(frac).astype(int), net.hop_images)


@pytest.mark.parametrize("name", list(TABLE))
def test_lattice_geometry(name):
    size, n_sites, z, nn, dim = TABLE[name]
    a = 2.7
    net = LATTICES[name](a=a, size=size)
    assert net.name == name
    assert net.n_sites == n_sites
    assert net.n_hops == n_sites * z
    np.testing.assert_array_equal(net.coordination, z)
    np.testing.assert_allclose(net.hop_lengths_A, nn * a, rtol=1e-12)
    assert net.dimensionality == dim
    np.testing.assert_array_equal(net.hop_barriers_eV, 0.3)
    check_invariants(net)


@pytest.mark.parametrize("name", list(TABLE))
def test_default_sizes(name):
    net = build_lattice(name)
    assert net.n_sites == DEFAULT_SITES[name]
    assert net.hop_lengths_A.min() == pytest.approx(TABLE[name][3] * 3.0)


def test_lattices_registry():
    assert list(LATTICES) == ["chain", "square", "honeycomb", "triangular",
                              "sc", "bcc", "fcc", "diamond"]
    for name, f in LATTICES.items():
        assert f is getattr(builders, name)


def test_cells_and_site_order():
    net = builders.bcc(a=2.0, size=(2, 3, 4))
    np.testing.assert_allclose(net.cell, np.diag([4.0, 6.0, 8.0]))
    assert net.volume_A3 == pytest.approx(4 * 6 * 8)
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0.5]])
    for i0 in range(2):
        for i1 in range(3):
            for i2 in range(4):
                for b in range(2):
                    s = ((i0 * 3 + i1) * 4 + i2) * 2 + b
                    np.testing.assert_allclose(net.positions[s], 2.0 * (np.array([i0, i1, i2])
                                                                        + basis[b]))
    tri = builders.triangular(a=2.0, size=3)
    np.testing.assert_allclose(tri.cell, [[6, 0, 0], [3, 3 * S3, 0], [0, 0, 2]])
    chain = builders.chain(a=2.5, size=5)
    np.testing.assert_allclose(chain.cell, np.diag([12.5, 2.5, 2.5]))
    np.testing.assert_allclose(np.abs(chain.hop_vectors), [[2.5, 0, 0]] * 10)


def test_hop_vectors_independent_of_supercell():
    def unique_vectors(net):
        return {tuple(np.round(v, 9)) for v in net.hop_vectors}

    for name in ("fcc", "honeycomb", "diamond"):
        assert unique_vectors(LATTICES[name](size=2)) == unique_vectors(LATTICES[name](size=3))
    assert len(unique_vectors(builders.fcc(size=2))) == 12


def test_tuple_size_and_hop_axes():
    net = builders.square(a=1.0, size=(3, 4, 2))
    assert net.n_sites == 24
    assert np.all(net.hop_vectors[:, 2] == 0)
    assert net.dimensionality == 2
    chain = builders.chain(size=6)
    assert net.cell.shape == (3, 3) and chain.n_sites == 6
    np.testing.assert_allclose(chain.cell, np.diag([18.0, 3.0, 3.0]))


def test_cutoff_and_tolerance():
    net = builders.sc(a=1.0, size=4, cutoff_A=S2 * 1.0001)
    np.testing.assert_array_equal(net.coordination, 18)
    net = builders.bcc(a=1.0, size=3, cutoff_A=1.0001)
    np.testing.assert_array_equal(net.coordination, 14)
    # a slightly distorted cubic cell: tolerance decides whether the longer axis counts as NN
    cell = np.diag([1.0, 1.0, 1.005])
    assert np.all(periodic_network(cell, [0, 0, 0], 3).coordination == 4)
    assert np.all(periodic_network(cell, [0, 0, 0], 3, tolerance=1e-2).coordination == 6)


def test_basis_types_and_names():
    net = periodic_network(np.eye(3) * 2.0, [[0, 0, 0], [0.5, 0.5, 0.5]], 2,
                           basis_types=[0, 1], barrier_eV=0.5, name="cscl")
    assert net.site_type_names == ("A", "B")
    np.testing.assert_array_equal(net.site_types, [0, 1] * 8)
    np.testing.assert_array_equal(net.hop_barriers_eV, 0.5)
    assert net.name == "cscl"
    net = periodic_network(np.eye(3) * 2.0, [[0, 0, 0], [0.5, 0.5, 0.5]], 2,
                           basis_types=[1, 0], site_type_names=("Li", "Na"))
    np.testing.assert_array_equal(net.site_types[:2], [1, 0])
    assert net.site_type_names == ("Li", "Na")


def test_kwargs_pass_through_and_name_override():
    net = build_lattice("FCC", a=4.0, size=2, barrier_eV=0.2, name="my fcc")
    assert net.name == "my fcc"
    np.testing.assert_array_equal(net.hop_barriers_eV, 0.2)
    np.testing.assert_allclose(net.hop_lengths_A, 4.0 / S2)
    with pytest.raises(TypeError):
        build_lattice("sc", colour="red")


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


def test_unknown_lattice_suggests():
    with pytest.raises(ConfigError, match=r"unknown lattice 'scc'; did you mean 'sc'\? "
                                          r"\(known: chain, square, honeycomb, triangular, sc, "
                                          r"bcc, fcc, diamond\)"):
        build_lattice("scc")
    with pytest.raises(ConfigError, match=r"unknown lattice 'qwerty' \(known: chain"):
        build_lattice("qwerty")


@pytest.mark.parametrize("a", [0, -1.0, float("nan"), float("inf"), "3", None, True])
def test_bad_lattice_constant(a):
    with pytest.raises(ConfigError, match=r"\ba\b") as e:
        builders.sc(a=a, size=2)
    assert isinstance(e.value, ValueError)
    assert repr(a) in str(e.value)


@pytest.mark.parametrize("size, match", [
    (0, r"size = 0 must be >= 1"),
    (-2, r"size = -2 must be >= 1"),
    (2.5, r"size = 2.5 is not an integer"),
    ((2, 2), r"size = \(2, 2\) must have 3 entries"),
    ((2, 0, 2), r"size\[1\] = 0 must be >= 1"),
    ((2, 2.0, 2), r"size\[1\] = 2.0 is not an integer"),
    ("4", r"size = '4' must be an integer"),
])
def test_bad_size(size, match):
    with pytest.raises(ConfigError, match=match):
        builders.sc(size=size)


@pytest.mark.parametrize("barrier, match", [
    (-0.1, r"barrier_eV = -0.1 must be >= 0"),
    (float("nan"), r"barrier_eV = nan must be finite"),
    (float("inf"), r"barrier_eV = inf must be finite"),
    ("x", r"barrier_eV must be a real number, got str 'x'"),
])
def test_bad_barrier(barrier, match):
    with pytest.raises(ConfigError, match=match):
        builders.fcc(size=2, barrier_eV=barrier)


@pytest.mark.parametrize("name", ["sc", "chain", "square", "triangular"])
def test_supercell_too_small(name):
    with pytest.raises(ConfigError, match=r"supercell is too small.*own periodic image"):
        LATTICES[name](size=1)


def test_single_cell_without_self_hops_is_valid():
    # bcc size 1: two sites, each hopping to 8 images of the other
    net = builders.bcc(size=1)
    assert net.n_sites == 2
    np.testing.assert_array_equal(net.coordination, 8)
    check_invariants(net)


def test_too_small_also_caught_by_site_network():
    with pytest.raises(ConfigError, match=r"to itself.*supercell is too small"):
        SiteNetwork(cell=np.eye(3), positions=[[0, 0, 0]], hop_src=[0, 0], hop_dst=[0, 0],
                    hop_vectors=[[1, 0, 0], [-1, 0, 0]], hop_barriers_eV=0.3)


def test_bad_periodic_network_inputs():
    with pytest.raises(ConfigError, match=r"basis sites 0 and 2 coincide"):
        periodic_network(np.eye(3), [[0, 0, 0], [0.5, 0, 0], [0, 0, 0]], 2)
    with pytest.raises(ConfigError, match=r"cell_A is singular"):
        periodic_network([[1, 0, 0], [0, 1, 0], [1, 1, 0]], [[0, 0, 0]], 2)
    with pytest.raises(ConfigError, match=r"cell_A\[0, 0\] is nan"):
        periodic_network([[np.nan, 0, 0], [0, 1, 0], [0, 0, 1]], [[0, 0, 0]], 2)
    with pytest.raises(ConfigError, match=r"basis_frac must have shape"):
        periodic_network(np.eye(3), [[0, 0]], 2)
    with pytest.raises(ConfigError, match=r"cutoff_A = -1.0 must be > 0"):
        periodic_network(np.eye(3), [[0, 0, 0]], 3, cutoff_A=-1.0)
    with pytest.raises(ConfigError, match=r"cutoff_A = 0.5 A is shorter than every site"):
        periodic_network(np.eye(3), [[0, 0, 0]], 3, cutoff_A=0.5)
    with pytest.raises(ConfigError, match=r"no hops possible"):
        periodic_network(np.eye(3), [[0, 0, 0]], 3, hop_axes=(False, False, False))
    with pytest.raises(ConfigError, match=r"basis_types"):
        periodic_network(np.eye(3), [[0, 0, 0]], 3, basis_types=[0, 1])
    with pytest.raises(ConfigError, match=r"basis_types\[0\] = 2 is out of range"):
        periodic_network(np.eye(3), [[0, 0, 0]], 3, basis_types=[2], site_type_names=("A",))


def test_isolated_clusters_from_basis_only():
    # two basis sites, no hops across cells: dimers, dimensionality 0
    net = periodic_network(np.eye(3) * 5, [[0, 0, 0], [0.2, 0, 0]], (2, 2, 2),
                           hop_axes=(False, False, False))
    assert net.n_sites == 16 and net.n_hops == 16
    assert net.dimensionality == 0


# --------------------------------------------------------------------------------------------
# properties and scale
# --------------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(sorted(TABLE)), n0=st.integers(2, 4), n1=st.integers(2, 4),
       n2=st.integers(2, 4), a=st.floats(0.5, 10.0))
def test_invariants_random_sizes(name, n0, n1, n2, a):
    net = LATTICES[name](a=a, size=(n0, n1, n2))
    check_invariants(net)
    z = TABLE[name][2]
    np.testing.assert_array_equal(net.coordination, z)
    np.testing.assert_allclose(net.hop_lengths_A, TABLE[name][3] * a, rtol=1e-12)


@pytest.mark.slow
def test_million_site_sc():
    net = builders.sc(size=100)
    assert net.n_sites == 10**6 and net.n_hops == 6 * 10**6
    assert net.coordination.min() == 6 and net.coordination.max() == 6
    h = np.arange(net.n_hops)
    assert np.array_equal(net.hop_rev[net.hop_rev], h)
    assert net.dimensionality == 3
