"""Tests of kmc.lattice.SiteNetwork: conversion, validation, derived arrays, topology."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from kmc import lattice as lattice_mod
from kmc.builders import periodic_network, sc, square
from kmc.errors import ConfigError, KMCError
from kmc.lattice import MAX_HOPS_PER_SITE, SiteNetwork

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def ring_kwargs(n: int = 4, a: float = 1.5) -> dict:
    """A periodic ring of n sites along x (spacing a Angstrom) in a cell (n a, 3, 3)."""
    cell = np.diag([n * a, 3.0, 3.0])
    pos = np.column_stack([np.arange(n) * a, np.zeros(n), np.zeros(n)])
    src = np.concatenate([np.arange(n), np.arange(n)])
    dst = np.concatenate([(np.arange(n) + 1) % n, (np.arange(n) - 1) % n])
    vec = np.concatenate([np.tile([a, 0.0, 0.0], (n, 1)), np.tile([-a, 0.0, 0.0], (n, 1))])
    return dict(cell=cell, positions=pos, hop_src=src, hop_dst=dst, hop_vectors=vec,
                hop_barriers_eV=0.25)


def ring(**changes) -> SiteNetwork:
    kw = ring_kwargs()
    kw.update(changes)
    return SiteNetwork(**kw)


def bad(match: str, **changes) -> ConfigError:
    """Assert that ring(**changes) raises ConfigError (a ValueError) matching `match`."""
    with pytest.raises(ConfigError, match=match) as info:
        ring(**changes)
    assert isinstance(info.value, ValueError)
    return info.value


def network_from_unit_hops(cell, positions, unit_hops, barrier=0.3) -> SiteNetwork:
    """Network from undirected hops (i, j, image): adds both directions."""
    cell = np.asarray(cell, float)
    positions = np.asarray(positions, float)
    src, dst, vec = [], [], []
    for i, j, img in unit_hops:
        v = positions[j] - positions[i] + np.asarray(img) @ cell
        src += [i, j]
        dst += [j, i]
        vec += [v, -v]
    return SiteNetwork(cell=cell, positions=positions, hop_src=src, hop_dst=dst,
                       hop_vectors=np.reshape(vec, (-1, 3)), hop_barriers_eV=barrier)


def reference_dimensionality(net: SiteNetwork) -> int:
    """Slow reference: networkx BFS per component and rank of cycle translations."""
    g = nx.MultiGraph()
    g.add_nodes_from(range(net.n_sites))
    for h in range(net.n_hops):
        g.add_edge(int(net.hop_src[h]), int(net.hop_dst[h]), key=h)
    best = 0
    for comp in nx.connected_components(g):
        root = next(iter(comp))
        off = {root: np.zeros(3, dtype=np.int64)}
        queue = [root]
        while queue:
            u = queue.pop()
            for h in range(net.hop_ptr[u], net.hop_ptr[u + 1]):
                v = int(net.hop_dst[h])
                if v not in off:
                    off[v] = off[u] + net.hop_images[h]
                    queue.append(v)
        vecs = [off[int(net.hop_src[h])] + net.hop_images[h] - off[int(net.hop_dst[h])]
                for h in range(net.n_hops) if int(net.hop_src[h]) in comp]
        if vecs:
            best = max(best, int(np.linalg.matrix_rank(np.array(vecs, dtype=float))))
    return best


# --------------------------------------------------------------------------------------------
# errors module
# --------------------------------------------------------------------------------------------


def test_error_classes():
    assert issubclass(ConfigError, ValueError)
    assert issubclass(KMCError, RuntimeError)
    assert not issubclass(ConfigError, KMCError)


# --------------------------------------------------------------------------------------------
# conversion, defaults, canonical order
# --------------------------------------------------------------------------------------------


def test_ring_basic_and_dtypes():
    net = ring()
    assert net.n_sites == 4 and net.n_hops == 8 and net.n_pairs == 0
    expected = {
        "cell": (np.float64, (3, 3)),
        "positions": (np.float64, (4, 3)),
        "hop_src": (np.int32, (8,)),
        "hop_dst": (np.int32, (8,)),
        "hop_vectors": (np.float64, (8, 3)),
        "hop_barriers_eV": (np.float64, (8,)),
        "site_types": (np.int32, (4,)),
        "site_energies_eV": (np.float64, (4,)),
        "hop_types": (np.int32, (8,)),
        "pair_i": (np.int32, (0,)),
        "pair_j": (np.int32, (0,)),
        "pair_energies_eV": (np.float64, (0,)),
    }
    for name, (dtype, shape) in expected.items():
        arr = getattr(net, name)
        assert arr.dtype == dtype, name
        assert arr.shape == shape, name
        assert arr.flags.c_contiguous, name
    assert net.site_type_names == ("A",)
    assert net.hop_type_names == ("hop",)
    assert net.charge_e == 1.0 and isinstance(net.charge_e, float)
    assert net.name == "network"
    np.testing.assert_array_equal(net.hop_barriers_eV, 0.25)
    np.testing.assert_array_equal(net.site_energies_eV, 0.0)
    assert net.volume_A3 == pytest.approx(6.0 * 9.0)


def test_canonical_order_is_stable_sort_by_source():
    kw = ring_kwargs()
    # hop k (k -> k+1) has reverse 4 + (k+1) % 4 (k+1 -> k): equal barriers
    barriers = np.array([0.1, 0.2, 0.3, 0.4, 0.4, 0.1, 0.2, 0.3])
    net = SiteNetwork(**{**kw, "hop_barriers_eV": barriers})
    # input order: forward hops 0..3 then backward hops 0..3: sorted by src, stable
    np.testing.assert_array_equal(net.hop_src, [0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(net.hop_dst, [1, 3, 2, 0, 3, 1, 0, 2])
    np.testing.assert_array_equal(net.hop_barriers_eV, [0.1, 0.4, 0.2, 0.1, 0.3, 0.2, 0.4, 0.3])
    # arrays permuted consistently: vectors still match (src, dst)
    np.testing.assert_allclose(net.hop_vectors[:, 0], [1.5, -1.5] * 4)
    np.testing.assert_array_equal(net.hop_ptr, [0, 2, 4, 6, 8])


def test_shuffled_hops_give_same_network():
    net = sc(size=3)
    rng = np.random.default_rng(1)
    perm = rng.permutation(net.n_hops)
    other = SiteNetwork(cell=net.cell, positions=net.positions, hop_src=net.hop_src[perm],
                        hop_dst=net.hop_dst[perm], hop_vectors=net.hop_vectors[perm],
                        hop_barriers_eV=net.hop_barriers_eV[perm])
    assert np.all(np.diff(other.hop_src) >= 0)
    key = lambda n: sorted(zip(n.hop_src.tolist(), n.hop_dst.tolist(),  # noqa: E731
                               map(tuple, n.hop_images.tolist())))
    assert key(net) == key(other)
    h = np.arange(other.n_hops)
    np.testing.assert_array_equal(other.hop_rev[other.hop_rev], h)
    np.testing.assert_array_equal(other.hop_vectors[other.hop_rev], -other.hop_vectors)


def test_inputs_are_copied_not_aliased():
    kw = ring_kwargs()
    pos = np.ascontiguousarray(kw["positions"])
    src = kw["hop_src"].astype(np.int32)
    net = SiteNetwork(**{**kw, "positions": pos, "hop_src": src})
    pos[0, 0] = 99.0
    src[0] = 3
    assert net.positions[0, 0] == 0.0
    assert net.hop_src[0] == 0


def test_integer_valued_floats_and_lists_accepted():
    kw = ring_kwargs()
    net = SiteNetwork(**{**kw, "hop_src": kw["hop_src"].astype(float),
                         "hop_dst": kw["hop_dst"].tolist(), "positions": kw["positions"].tolist()})
    assert net.hop_src.dtype == np.int32 and net.hop_dst.dtype == np.int32


def test_scalar_broadcast_and_charge():
    net = ring(site_energies_eV=-0.1, charge_e=2)
    np.testing.assert_array_equal(net.site_energies_eV, [-0.1] * 4)
    assert net.charge_e == 2.0


def test_network_without_hops():
    net = SiteNetwork(cell=np.eye(3) * 5, positions=[[0, 0, 0]], hop_src=[], hop_dst=[],
                      hop_vectors=[], hop_barriers_eV=0.3)
    assert net.n_hops == 0
    assert net.hop_vectors.shape == (0, 3)
    assert net.dimensionality == 0
    np.testing.assert_array_equal(net.hop_ptr, [0, 0])
    assert net.hop_rev.shape == (0,) and net.hop_images.shape == (0, 3)


def test_frozen():
    net = ring()
    with pytest.raises(AttributeError):
        net.name = "x"


def test_replace_revalidates():
    net = ring()
    other = net.replace(name="renamed", site_energies_eV=[0.0, 0.1, 0.2, 0.3])
    assert other.name == "renamed" and net.name == "network"
    np.testing.assert_allclose(other.site_energies_eV, [0.0, 0.1, 0.2, 0.3])
    np.testing.assert_array_equal(other.hop_rev, net.hop_rev)
    with pytest.raises(ConfigError, match=r"hop_barriers_eV\[1\] is -1"):
        net.replace(hop_barriers_eV=[0.2, -1.0, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2])


def test_repr_is_short():
    text = repr(ring(name="myring"))
    assert text == "SiteNetwork(name='myring', n_sites=4, n_hops=8, dimensionality=1)"


# --------------------------------------------------------------------------------------------
# validation: one test per bad input
# --------------------------------------------------------------------------------------------


def test_cell_wrong_shape():
    bad(r"cell must have shape \(3, 3\), got shape \(2, 3\)", cell=np.eye(3)[:2])


def test_cell_not_finite():
    cell = np.diag([6.0, 3.0, 3.0])
    cell[1, 2] = np.nan
    bad(r"cell\[1, 2\] is nan", cell=cell)


def test_cell_singular():
    cell = np.array([[6.0, 0, 0], [0, 3.0, 0], [6.0, 3.0, 0]])
    bad(r"cell is singular \(det = ", cell=cell)


def test_positions_not_finite():
    pos = ring_kwargs()["positions"].copy()
    pos[2, 1] = np.inf
    bad(r"positions\[2, 1\] is inf", positions=pos)


def test_positions_wrong_shape_and_empty():
    bad(r"positions must have shape \(n, 3\), got shape \(4, 2\)",
        positions=np.zeros((4, 2)))
    with pytest.raises(ConfigError, match="positions is empty"):
        SiteNetwork(cell=np.eye(3), positions=np.zeros((0, 3)), hop_src=[], hop_dst=[],
                    hop_vectors=[], hop_barriers_eV=0.3)


def test_string_instead_of_array_is_type_error():
    with pytest.raises(TypeError, match="positions"):
        ring(positions="0 0 0")
    with pytest.raises(TypeError, match="hop_src"):
        ring(hop_src=["a"] * 8)


def test_fractional_index_rejected():
    src = ring_kwargs()["hop_src"].astype(float)
    src[1] = 1.5
    bad(r"hop_src\[1\] = 1.5 is not an integer", hop_src=src)


def test_hop_length_mismatch():
    bad(r"hop_dst has 7 entries but hop_src has 8", hop_dst=ring_kwargs()["hop_dst"][:7])
    bad(r"hop_vectors must have shape \(8, 3\)", hop_vectors=np.ones((7, 3)))
    bad(r"hop_barriers_eV must be a scalar or have shape \(8,\)", hop_barriers_eV=[0.2] * 3)


def test_hop_destination_out_of_range():
    dst = ring_kwargs()["hop_dst"].copy()
    dst[5] = 12
    bad(r"hop 5 goes to site 12, but the network has only 4 sites \(0..3\)", hop_dst=dst)


def test_hop_source_out_of_range():
    src = ring_kwargs()["hop_src"].copy()
    src[0] = -1
    bad(r"hop 0 starts at site -1, but the network has only 4 sites \(0..3\)", hop_src=src)


def test_hop_index_beyond_int32_is_not_wrapped():
    dst = ring_kwargs()["hop_dst"].astype(np.int64)
    dst[2] = 2**32 + 1  # would wrap to 1 if cast to int32 first
    bad(r"hop 2 goes to site 4294967297", hop_dst=dst)


def test_self_hop_supercell_too_small():
    # a single site hopping to its own image: the supercell is too small
    with pytest.raises(ConfigError, match=r"hop 0 goes from site 0 to itself.*too small") as e:
        SiteNetwork(cell=np.eye(3) * 2, positions=[[0, 0, 0]], hop_src=[0, 0], hop_dst=[0, 0],
                    hop_vectors=[[2, 0, 0], [-2, 0, 0]], hop_barriers_eV=0.3)
    assert "self-hop" in str(e.value)


def test_zero_length_hop_vector():
    vec = ring_kwargs()["hop_vectors"].copy()
    vec[3] = 0.0
    bad(r"hop 3 \(site 3 -> 0\) has a zero-length vector", hop_vectors=vec)


def test_hop_vector_inconsistent_with_positions():
    vec = ring_kwargs()["hop_vectors"].copy()
    vec[6] = [-1.2, 0.0, 0.0]
    bad(r"hop 6 \(site 2 -> 1\): hop_vectors\[6\] = \(-1.2, 0, 0\) A is not positions\[1\] - "
        r"positions\[2\] plus a lattice vector", hop_vectors=vec)


def test_hop_vector_with_lattice_translation_is_consistent():
    # hop 3 -> 0 crosses the boundary: vector +a, image (1, 0, 0)
    net = ring()
    h = int(np.flatnonzero((net.hop_src == 3) & (net.hop_dst == 0))[0])
    np.testing.assert_array_equal(net.hop_images[h], [1, 0, 0])


def test_hop_vector_not_finite():
    vec = ring_kwargs()["hop_vectors"].copy()
    vec[2, 0] = np.nan
    bad(r"hop_vectors\[2, 0\] is nan", hop_vectors=vec)


def test_duplicate_hops():
    kw = ring_kwargs()
    src = np.concatenate([kw["hop_src"], [0, 1]])
    dst = np.concatenate([kw["hop_dst"], [1, 0]])
    vec = np.concatenate([kw["hop_vectors"], [[1.5, 0, 0], [-1.5, 0, 0]]])
    bad(r"hops 0 and 8 are duplicates: both go from site 0 to site 1 with image \(0, 0, 0\)",
        hop_src=src, hop_dst=dst, hop_vectors=vec)


def test_same_pair_different_images_is_not_duplicate():
    # two sites in a cell of length 2: 0 -> 1 to the right and to the left are distinct hops
    net = network_from_unit_hops(np.diag([2.0, 5, 5]), [[0, 0, 0], [1, 0, 0]],
                                 [(0, 1, (0, 0, 0)), (0, 1, (-1, 0, 0))])
    assert net.n_hops == 4
    assert net.dimensionality == 1
    np.testing.assert_array_equal(net.hop_vectors[net.hop_rev], -net.hop_vectors)


def test_missing_reverse_hop():
    kw = ring_kwargs()
    keep = np.arange(8) != 5  # drop hop 1 -> 0
    bad(r"hop 0 \(site 0 -> 1, image \(0, 0, 0\)\) has no reverse hop \(site 1 -> 0",
        hop_src=kw["hop_src"][keep], hop_dst=kw["hop_dst"][keep],
        hop_vectors=kw["hop_vectors"][keep])


def test_reverse_with_wrong_image_is_missing():
    # 3 -> 0 crosses the boundary (+x); make its "reverse" 0 -> 3 a hop of the wrong image
    kw = ring_kwargs(n=4)
    vec = kw["hop_vectors"].copy()
    vec[4] = [4.5, 0, 0]  # 0 -> 3 going right (image 0) instead of left (image -1)
    bad(r"has no reverse hop", hop_vectors=vec)


def test_reverse_barrier_must_match():
    b = np.full(8, 0.3)
    b[1] = 0.35  # hop 1 -> 2; its reverse is hop 6 (2 -> 1)
    bad(r"hop 1 \(site 1 -> 2\) has barrier hop_barriers_eV\[1\] = 0.35 eV but its reverse "
        r"hop 6 has 0.3 eV", hop_barriers_eV=b)
    b[6] = 0.35 * (1 + 1e-12)  # within tolerance
    ring(hop_barriers_eV=b)


def test_barrier_nan():
    b = np.full(8, 0.3)
    b[3] = np.nan
    bad(r"hop_barriers_eV\[3\] is nan; barriers must be finite and >= 0", hop_barriers_eV=b)


def test_barrier_negative():
    b = np.full(8, 0.3)
    b[2] = -0.1
    bad(r"hop_barriers_eV\[2\] is -0.1; barriers must be finite and >= 0", hop_barriers_eV=b)
    bad(r"hop_barriers_eV is inf", hop_barriers_eV=np.inf)


def test_site_energy_not_finite():
    bad(r"site_energies_eV\[1\] is nan", site_energies_eV=[0.0, np.nan, 0.0, 0.0])
    bad(r"site_energies_eV must be a scalar or have shape \(4,\)", site_energies_eV=[0.0])


def test_charge_invalid():
    bad(r"charge_e is 0.0", charge_e=0)
    bad(r"charge_e is nan", charge_e=float("nan"))
    with pytest.raises(TypeError, match="charge_e"):
        ring(charge_e="1")


def test_site_types_out_of_range():
    bad(r"site_types\[2\] = 3 is out of range; site_type_names has 2 names \(0..1\)",
        site_types=[0, 1, 3, 0], site_type_names=("Li", "Na"))
    bad(r"site_types\[0\] = -1 is out of range", site_types=[-1, 0, 0, 0])
    net = ring(site_types=[0, 1, 1, 0], site_type_names=["Li", "Na"])
    assert net.site_type_names == ("Li", "Na")


def test_hop_types_out_of_range():
    bad(r"hop_types\[7\] = 1 is out of range; hop_type_names has 1 names \(0..0\)",
        hop_types=[0] * 7 + [1])


def test_type_names_invalid():
    bad(r"site_type_names\[2\] = 'A' repeats site_type_names\[0\]; names must be unique",
        site_type_names=("A", "B", "A"))
    bad(r"hop_type_names must contain at least one name", hop_type_names=())
    bad(r"hop_type_names\[1\] is an empty string", hop_type_names=("x", ""))
    with pytest.raises(TypeError, match=r"site_type_names\[1\] must be a string"):
        ring(site_type_names=("A", 1))
    with pytest.raises(TypeError, match="site_type_names must be a tuple of strings"):
        ring(site_type_names="AB")


def test_pair_index_out_of_range():
    bad(r"pair_j\[1\] = 9 is out of range; the network has only 4 sites \(0..3\)",
        pair_i=[0, 1], pair_j=[1, 9], pair_energies_eV=0.1)


def test_pair_same_site():
    bad(r"pair 1 joins site 2 to itself", pair_i=[0, 2], pair_j=[1, 2], pair_energies_eV=0.1)


def test_pair_energy_not_finite():
    bad(r"pair_energies_eV\[1\] is nan", pair_i=[0, 1], pair_j=[1, 2],
        pair_energies_eV=[0.1, np.nan])


def test_pair_duplicate_unordered():
    bad(r"pairs 0 and 2 are duplicates: both join sites 1 and 2",
        pair_i=[1, 0, 2], pair_j=[2, 3, 1], pair_energies_eV=0.1)


def test_pair_arrays_incomplete():
    bad(r"pair_i is given but pair_j is not", pair_i=[0])
    bad(r"pair_j has 1 entries but pair_i has 2", pair_i=[0, 1], pair_j=[2],
        pair_energies_eV=0.1)
    bad(r"pair_energies_eV is not", pair_i=[0], pair_j=[2])


def test_out_degree_limit():
    # a star: site 0 hops to 65 others (and back)
    k = MAX_HOPS_PER_SITE + 1
    pos = np.zeros((k + 1, 3))
    pos[1:, 0] = 1.0 + np.arange(k)
    pos[1:, 1] = 1.0
    hops = [(0, j, (0, 0, 0)) for j in range(1, k + 1)]
    with pytest.raises(ConfigError, match=r"site 0 has 65 outgoing hops; the engine supports "
                                          r"at most 64 per site"):
        network_from_unit_hops(np.diag([200.0, 10, 10]), pos, hops)
    network_from_unit_hops(np.diag([200.0, 10, 10]), pos, hops[:-1])  # 64 is fine


def test_size_limits(monkeypatch):
    monkeypatch.setattr(lattice_mod, "_INDEX_LIMIT", 4)
    with pytest.raises(ConfigError, match="the network has 4 sites; at most 3"):
        ring()
    monkeypatch.setattr(lattice_mod, "_INDEX_LIMIT", 6)
    with pytest.raises(ConfigError, match="the network has 8 hops; at most 5"):
        ring()


def test_name_must_be_string():
    with pytest.raises(TypeError, match="name must be a string"):
        ring(name=3)


# --------------------------------------------------------------------------------------------
# derived arrays
# --------------------------------------------------------------------------------------------


def test_derived_hop_arrays():
    net = ring()
    np.testing.assert_array_equal(net.coordination, [2, 2, 2, 2])
    assert net.coordination.dtype == np.int32
    assert net.hop_ptr.dtype == np.int32 and net.hop_ptr.shape == (5,)
    for s in range(4):
        assert np.all(net.hop_src[net.hop_ptr[s]:net.hop_ptr[s + 1]] == s)
    np.testing.assert_allclose(net.hop_lengths_A, 1.5)
    assert net.hop_images.dtype == np.int32
    assert net.hop_rev.dtype == np.int32
    h = np.arange(net.n_hops)
    np.testing.assert_array_equal(net.hop_rev[net.hop_rev], h)
    np.testing.assert_array_equal(net.hop_src[net.hop_rev], net.hop_dst)
    np.testing.assert_array_equal(net.hop_images[net.hop_rev], -net.hop_images)
    # images: two boundary crossings (3 -> 0 and 0 -> 3)
    assert sorted(map(tuple, net.hop_images[np.any(net.hop_images != 0, axis=1)].tolist())) == [
        (-1, 0, 0), (1, 0, 0)]


def test_cached_properties_are_cached():
    net = ring()
    assert net.hop_ptr is net.hop_ptr
    assert net.hop_pair_energies_eV is net.hop_pair_energies_eV
    assert net.dimensionality == 1
    assert "dimensionality" in net.__dict__


def test_interaction_csr_and_hop_pair_energies():
    net = ring(pair_i=[0, 2, 2], pair_j=[1, 1, 0], pair_energies_eV=[0.1, -0.05, 0.2])
    assert net.n_pairs == 3 and net.has_interactions
    ptr, nbr, J = net.interaction_csr()
    assert ptr.dtype == np.int32 and nbr.dtype == np.int32 and J.dtype == np.float64
    np.testing.assert_array_equal(ptr, [0, 2, 4, 6, 6])
    np.testing.assert_array_equal(nbr, [1, 2, 0, 2, 0, 1])
    np.testing.assert_allclose(J, [0.1, 0.2, 0.1, -0.05, 0.2, -0.05])
    expected = {(0, 1): 0.1, (1, 0): 0.1, (1, 2): -0.05, (2, 1): -0.05}
    for h in range(net.n_hops):
        key = (int(net.hop_src[h]), int(net.hop_dst[h]))
        assert net.hop_pair_energies_eV[h] == pytest.approx(expected.get(key, 0.0)), key
    # (0, 2) is a pair but not a hop: it does not appear in hop_pair_energies_eV
    assert net.hop_pair_energies_eV.shape == (8,)


def test_no_interactions():
    net = ring()
    assert not net.has_interactions
    ptr, nbr, J = net.interaction_csr()
    np.testing.assert_array_equal(ptr, [0, 0, 0, 0, 0])
    assert nbr.size == 0 and J.size == 0
    np.testing.assert_array_equal(net.hop_pair_energies_eV, 0.0)
    assert not ring(pair_i=[0], pair_j=[1], pair_energies_eV=0.0).has_interactions


# --------------------------------------------------------------------------------------------
# dimensionality
# --------------------------------------------------------------------------------------------


def test_dimensionality_finite_clusters_is_0():
    # dimers, one of them straddling the periodic boundary
    cell = np.diag([10.0, 10.0, 10.0])
    pos = [[1, 1, 1], [2, 1, 1], [9.5, 5, 5], [0.5, 5, 5], [5, 5, 5], [5, 6, 5], [5, 6, 6]]
    hops = [(0, 1, (0, 0, 0)), (2, 3, (1, 0, 0)), (4, 5, (0, 0, 0)), (5, 6, (0, 0, 0)),
            (4, 6, (0, 0, 0))]
    net = network_from_unit_hops(cell, pos, hops)
    assert net.dimensionality == 0


def test_dimensionality_stacked_layers_is_2():
    net = square(a=2.0, size=(4, 4, 3))
    assert net.n_sites == 48
    assert net.dimensionality == 2
    # layers of a 3D cell stacked along x instead of z
    net = periodic_network(np.eye(3) * 2.0, [[0, 0, 0]], (3, 4, 4), hop_axes=(False, True, True))
    assert net.dimensionality == 2


def test_dimensionality_ladders_percolating_in_1d():
    # sc grid 4 x 4 x 4: chains along x everywhere, y-rungs only between y = 0-1 and y = 2-3,
    # and z-rungs nowhere: components are ladders that percolate along x only
    L = 4
    idx = lambda i, j, k: (i * L + j) * L + k  # noqa: E731
    pos = np.array([[i, j, k] for i in range(L) for j in range(L) for k in range(L)], float)
    hops = []
    for i, j, k in itertools.product(range(L), repeat=3):
        hops.append((idx(i, j, k), idx((i + 1) % L, j, k), (1 if i == L - 1 else 0, 0, 0)))
        if j % 2 == 0:
            hops.append((idx(i, j, k), idx(i, j + 1, k), (0, 0, 0)))
    net = network_from_unit_hops(np.eye(3) * L, pos, hops)
    assert net.dimensionality == 1
    assert reference_dimensionality(net) == 1


def test_dimensionality_is_max_over_components_not_union():
    # two separate chains, one along x and one along y: each component is 1D
    cell = np.diag([3.0, 3.0, 3.0])
    pos = [[0, 0, 0], [1.5, 0, 0], [0, 1.5, 1.5], [0, 0, 1.5]]
    hops = [(0, 1, (0, 0, 0)), (1, 0, (1, 0, 0)), (3, 2, (0, 0, 0)), (2, 3, (0, 1, 0))]
    net = network_from_unit_hops(cell, pos, hops)
    assert net.dimensionality == 1


def test_dimensionality_diagonal_lines():
    # only [110] hops on a 4 x 4 x 1 grid: lines that wrap along (1, 1, 0)
    L = 4
    pos = np.array([[i, j, 0] for i in range(L) for j in range(L)], float)
    hops = [(i * L + j, ((i + 1) % L) * L + (j + 1) % L,
             (1 if i == L - 1 else 0, 1 if j == L - 1 else 0, 0))
            for i in range(L) for j in range(L)]
    net = network_from_unit_hops(np.diag([L, L, 1.0]), pos, hops)
    assert net.dimensionality == 1


def test_dimensionality_of_standard_lattices():
    assert sc(size=3).dimensionality == 3
    assert sc(size=2).dimensionality == 3
    assert periodic_network(np.eye(3), [[0, 0, 0]], 3, hop_axes=(True, False, False)) \
        .dimensionality == 1


def test_dimensionality_matches_reference_on_random_subnetworks():
    rng = np.random.default_rng(12345)
    full = sc(size=(3, 3, 2))
    fwd = np.flatnonzero(np.arange(full.n_hops) < full.hop_rev)
    for _ in range(40):
        keep_fwd = fwd[rng.random(fwd.size) < rng.uniform(0.2, 0.8)]
        keep = np.sort(np.concatenate([keep_fwd, full.hop_rev[keep_fwd]]))
        net = full.replace(hop_src=full.hop_src[keep], hop_dst=full.hop_dst[keep],
                           hop_vectors=full.hop_vectors[keep],
                           hop_barriers_eV=full.hop_barriers_eV[keep],
                           hop_types=full.hop_types[keep])
        assert net.dimensionality == reference_dimensionality(net)


def test_dimensionality_fast_for_1e5_sites():
    net = sc(size=(50, 50, 40))
    assert net.n_sites == 100_000
    assert net.dimensionality == 3


# --------------------------------------------------------------------------------------------
# networkx export
# --------------------------------------------------------------------------------------------


def test_to_networkx():
    net = ring(site_types=[0, 1, 0, 1], site_type_names=("Li", "Na"),
               site_energies_eV=[0.0, 0.1, 0.0, 0.1], hop_types=[0, 1, 0, 1, 1, 0, 1, 0],
               hop_type_names=("a", "b"), name="ring")
    g = net.to_networkx()
    assert isinstance(g, nx.MultiDiGraph)
    assert g.number_of_nodes() == 4 and g.number_of_edges() == 8
    assert g.graph["name"] == "ring"
    np.testing.assert_allclose(g.nodes[2]["position"], [3.0, 0, 0])
    assert g.nodes[1]["type"] == "Na" and g.nodes[1]["energy_eV"] == pytest.approx(0.1)
    for h in range(net.n_hops):
        s, d = int(net.hop_src[h]), int(net.hop_dst[h])
        data = g.edges[s, d, h]
        np.testing.assert_allclose(data["vector"], net.hop_vectors[h])
        np.testing.assert_array_equal(data["image"], net.hop_images[h])
        assert data["hop_type"] == net.hop_type_names[net.hop_types[h]]
        assert data["barrier_eV"] == pytest.approx(0.25)


def test_huge_images_use_general_code_paths():
    # images of 10^6 cells: the hop keys no longer fit one int64 radix, and the cycle vectors
    # are too large for the vectorised rank; both fall back to general code
    big = 10**6
    net = network_from_unit_hops(np.eye(3), [[0, 0, 0], [0.5, 0, 0]],
                                 [(0, 1, (0, 0, 0)), (0, 1, (big, 0, 0)),
                                  (0, 1, (0, big, 1))])
    assert net.n_hops == 6
    np.testing.assert_array_equal(net.hop_rev[net.hop_rev], np.arange(6))
    np.testing.assert_array_equal(net.hop_vectors[net.hop_rev], -net.hop_vectors)
    assert net.dimensionality == 2
    assert net.dimensionality == reference_dimensionality(net)
    with pytest.raises(ConfigError, match="duplicates"):
        network_from_unit_hops(np.eye(3), [[0, 0, 0], [0.5, 0, 0]],
                               [(0, 1, (big, 0, 0)), (0, 1, (big, 0, 0))])


@pytest.mark.parametrize("name", ["chain", "honeycomb", "sc", "bcc", "fcc", "diamond"])
@pytest.mark.parametrize("size", [3, (3, 4, 5)])
def test_trusted_to_site_network_equals_the_validated_network(name, size):
    """PeriodicNetwork.to_site_network passes the images and reverses it knows from the unit
    cell instead of SiteNetwork finding them again: the same arrays as full validation."""
    import dataclasses

    from kmc.builders import build_lattice
    from kmc.lattice import SiteNetwork

    t = build_lattice(name, size=size, compact=True).to_site_network()
    ref = SiteNetwork(**{f.name: getattr(t, f.name) for f in dataclasses.fields(t)})
    for a in ("hop_images", "hop_rev", "coordination", "hop_src", "hop_dst", "hop_vectors",
              "hop_barriers_eV", "hop_types"):
        assert getattr(t, a).dtype == getattr(ref, a).dtype, a
        assert np.array_equal(getattr(t, a), getattr(ref, a)), a
