"""Tests of kmc.mechanisms: EventSet, concerted string moves and interstitialcy events."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

from kmc import mechanisms
from kmc.builders import build_lattice, periodic_network
from kmc.errors import ConfigError
from kmc.mechanisms import (EventSet, concerted_events, interstitialcy_events,
                            split_interstitialcy_events)


@pytest.fixture(scope="module")
def sc4():
    return build_lattice("sc", size=4)


@pytest.fixture(scope="module")
def interstitial_net():
    """Square lattice (a = 3 A, type "L") with an interstitial ("I") at each cell centre;
    nearest-neighbour hops (3/sqrt(2) A) join only L and I sites."""
    return periodic_network(
        3.0 * np.eye(3), [[0, 0, 0], [0.5, 0.5, 0]], 4, hop_axes=(True, True, False),
        site_type_names=("L", "I"), basis_types=[0, 1], name="LI",
    )


def _key(es: EventSet, e: int, reverse: bool = False) -> tuple:
    """Canonical set of the moves of event e (or of its reversed moves)."""
    s, d, v = es.moves(int(e))
    if reverse:
        s, d, v = d, s, -v
    return tuple(sorted(zip(s.tolist(), d.tolist(), map(tuple, np.round(v, 6).tolist()))))


def _check_closed(es: EventSet, net) -> np.ndarray:
    """validate_for passes; reverse_index is an involution mapping to the reversed moves."""
    es.validate_for(net)
    rev = es.reverse_index()
    assert rev.dtype == np.int32 and rev.shape == (es.n_events,)
    np.testing.assert_array_equal(rev[rev], np.arange(es.n_events))
    if es.n_events <= 2000:
        assert len({_key(es, e) for e in range(es.n_events)}) == es.n_events  # no duplicates
    for e in range(0, es.n_events, max(1, es.n_events // 50)):
        assert _key(es, rev[e]) == _key(es, e, reverse=True)
    np.testing.assert_array_equal(es.barriers_eV[rev], es.barriers_eV)
    return rev


def _hop_index(net, s, d, v):
    """Index of the network hop s -> d with vector v (or -1)."""
    for h in range(net.hop_ptr[s], net.hop_ptr[s + 1]):
        if net.hop_dst[h] == d and np.allclose(net.hop_vectors[h], v, atol=1e-9):
            return h
    return -1


def _brute_strings(net, k, max_turn_deg):
    """Reference enumeration of concerted strings with plain Python loops."""
    out = set()

    def angle(v1, v2):
        c = np.dot(v1, v2) / np.linalg.norm(v1) / np.linalg.norm(v2)
        return np.degrees(np.arccos(np.clip(c, -1, 1)))

    def walk(path):  # path: list of hop indices
        if len(path) == k:
            out.add(tuple(path))
            return
        last = path[-1]
        seen = {int(net.hop_src[path[0]])} | {int(net.hop_dst[h]) for h in path}
        for h in range(net.hop_ptr[net.hop_dst[last]], net.hop_ptr[net.hop_dst[last] + 1]):
            if int(net.hop_dst[h]) in seen:
                continue
            if angle(net.hop_vectors[last], net.hop_vectors[h]) <= max_turn_deg + 1e-6:
                walk(path + [h])

    for h in range(net.n_hops):
        walk([h])
    return out


# ------------------------------------------------------------------------------ concerted


@pytest.mark.parametrize("k, turn, expected", [
    (2, 0.0, 64 * 6), (2, 90.0, 64 * 6 * 5), (3, 0.0, 64 * 6), (3, 90.0, 64 * 150),
    (4, 0.0, 0),  # s_4 = s_0 after 4 straight hops on a 4^3 torus: not distinct sites
    (4, 90.0, 64 * (6 * 5 * 5 * 5 - 24 - 6)),  # minus square loops and wrapped lines
])
def test_concerted_counts_sc(sc4, k, turn, expected):
    es = concerted_events(sc4, k, 0.25, max_turn_deg=turn)
    assert es.n_events == expected
    assert es.n_moves == k * expected
    np.testing.assert_array_equal(np.diff(es.ptr), k)
    assert es.type_names == (f"concerted{k}",)
    np.testing.assert_array_equal(es.barriers_eV, 0.25)
    if expected:
        _check_closed(es, sc4)


def test_concerted4_straight_larger_cell():
    net = build_lattice("sc", size=5)
    es = concerted_events(net, 4, 0.3, max_turn_deg=0)
    assert es.n_events == 125 * 6
    _check_closed(es, net)


def test_concerted_moves_chain_and_use_hop_vectors(sc4):
    es = concerted_events(sc4, 3, 0.3, max_turn_deg=90)
    for e in range(0, es.n_events, 97):
        s, d, v = es.moves(e)
        np.testing.assert_array_equal(d[:-1], s[1:])  # ion on s_{i-1} moves to s_i
        assert len({int(s[0]), *d.tolist()}) == 4  # k + 1 distinct sites
        for m in range(3):
            assert _hop_index(sc4, s[m], d[m], v[m]) >= 0
    # straight strings: all vectors of an event equal
    st = concerted_events(sc4, 3, 0.3, max_turn_deg=0)
    v = st.vectors.reshape(-1, 3, 3)
    np.testing.assert_allclose(v, np.repeat(v[:, :1], 3, axis=1), atol=1e-12)
    # deterministic, canonical order
    again = concerted_events(sc4, 3, 0.3, max_turn_deg=90)
    np.testing.assert_array_equal(again.src, es.src)
    np.testing.assert_array_equal(again.dst, es.dst)


@pytest.mark.parametrize("k, turn, expected", [
    (2, 0.0, 16 * 4), (3, 0.0, 16 * 4), (4, 0.0, 0), (2, 90.0, 16 * 4 * 3),
    (3, 90.0, 16 * 4 * 9), (4, 90.0, 16 * (4 * 27 - 8 - 4)),
])
def test_concerted_counts_square(k, turn, expected):
    net = build_lattice("square", size=4)
    es = concerted_events(net, k, 0.3, max_turn_deg=turn)
    assert es.n_events == expected
    if expected:
        _check_closed(es, net)


@pytest.mark.parametrize("lattice, size, k, turn", [
    ("square", 3, 3, 90.0), ("triangular", 3, 2, 60.0), ("bcc", 2, 2, 180.0),
    ("chain", 3, 2, 0.0), ("honeycomb", 2, 3, 120.0),
])
def test_concerted_matches_brute_force(lattice, size, k, turn):
    net = build_lattice(lattice, size=size)
    es = concerted_events(net, k, 0.3, max_turn_deg=turn)
    got = {tuple(_hop_index(net, s, d, v) for s, d, v in zip(*es.moves(e)))
           for e in range(es.n_events)}
    assert got == _brute_strings(net, k, turn)
    assert len(got) == es.n_events
    if es.n_events:
        _check_closed(es, net)


def test_concerted_site_types_and_name(interstitial_net):
    net = interstitial_net
    assert concerted_events(net, 2, 0.3, site_types="L").n_events == 0  # no L-L hops
    es = concerted_events(net, 2, 0.3, site_types=("L", "I"), name="str2", max_turn_deg=180)
    assert es.type_names == ("str2",) and es.n_events == 32 * 4 * 3


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 1}, "k = 1"), ({"k": 5}, "k = 5"), ({"k": 2.0}, "k = 2.0"),
    ({"barrier_eV": -0.1}, "-0.1"), ({"barrier_eV": float("nan")}, "nan"),
    ({"max_turn_deg": 200.0}, "200"), ({"max_turn_deg": -1}, "-1"),
    ({"site_types": ("A", "Q")}, "'Q'.*known: 'A'"), ({"name": ""}, "name"),
])
def test_concerted_bad_parameters(sc4, kwargs, match):
    args = {"k": 2, "barrier_eV": 0.3} | kwargs
    with pytest.raises(ConfigError, match=match):
        concerted_events(sc4, args.pop("k"), args.pop("barrier_eV"), **args)


# ------------------------------------------------------------------------------ interstitialcy


@pytest.mark.parametrize("collinear, expected", [(None, 192), (True, 64), (False, 128)])
def test_interstitialcy_counts(interstitial_net, collinear, expected):
    net = interstitial_net
    es = interstitialcy_events(net, "I", ("L",), 0.4, collinear=collinear)
    assert es.n_events == expected  # 16 I sites x 4 L neighbours x (1 straight + 2 turns)
    assert es.type_names == ("interstitialcy",)
    names = np.array(net.site_type_names)[net.site_types]
    s, d = es.src.reshape(-1, 2), es.dst.reshape(-1, 2)
    assert (names[s[:, 0]] == "I").all() and (names[d[:, 0]] == "L").all()
    np.testing.assert_array_equal(d[:, 0], s[:, 1])  # I -> L, L -> I2
    assert (names[d[:, 1]] == "I").all() and (d[:, 1] != s[:, 0]).all()
    v = es.vectors.reshape(-1, 2, 3)
    cos = np.einsum("ij,ij->i", v[:, 0], v[:, 1]) / np.linalg.norm(v[:, 0], axis=1) \
        / np.linalg.norm(v[:, 1], axis=1)
    if collinear is True:
        np.testing.assert_allclose(cos, 1.0)
    elif collinear is False:
        np.testing.assert_allclose(cos, 0.0, atol=1e-12)
    _check_closed(es, net)


def test_interstitialcy_angle_threshold(interstitial_net):
    es = interstitialcy_events(interstitial_net, "I", "L", 0.4, collinear=True,
                               max_angle_deg=90.0)
    assert es.n_events == 192


@pytest.mark.parametrize("kwargs, match", [
    ({"interstitial_types": "X"}, "'X'.*known: 'L', 'I'"), ({"lattice_types": ()}, "lattice"),
    ({"lattice_types": ("L", "I")}, "'I' is in both"), ({"barrier_eV": -1.0}, "-1.0"),
    ({"collinear": "yes"}, "'yes'"), ({"max_angle_deg": -5}, "-5"),
])
def test_interstitialcy_bad_parameters(interstitial_net, kwargs, match):
    args = {"interstitial_types": "I", "lattice_types": "L", "barrier_eV": 0.3} | kwargs
    with pytest.raises(ConfigError, match=match):
        interstitialcy_events(interstitial_net, args.pop("interstitial_types"),
                              args.pop("lattice_types"), args.pop("barrier_eV"), **args)


# ------------------------------------------------------------------------ split interstitialcy


@pytest.fixture(scope="module")
def split_net():
    """A beta-alumina-like conduction plane: honeycomb of L ("BR") and I ("aBR") sites on a
    triangular lattice (a = 3 A) with a split site S ("mO") half-way along every L-I bond;
    hops join S to its L and its I only."""
    a = 3.0
    cell = np.array([[a, 0, 0], [a / 2, a * np.sqrt(3) / 2, 0], [0, 0, 10.0]])
    third = np.array([1 / 3, 1 / 3, 0.0])
    frac_l, frac_i = 2 * third, np.zeros(3)
    # the three I neighbours of L at 2/3 (a1 + a2) sit at a1, a2 and a1 + a2
    mids = [(frac_l + np.array(img)) / 2 for img in ([1, 0, 0], [0, 1, 0], [1, 1, 0])]
    return periodic_network(cell, [frac_l, frac_i, *mids], 4, hop_axes=(True, True, False),
                            site_type_names=("L", "I", "S"), basis_types=[0, 1, 2, 2, 2],
                            name="split")


def test_split_interstitialcy_events_form_pairs(split_net):
    net = split_net
    es = split_interstitialcy_events(net, "I", "L", "S", 0.2)
    n_i = int(np.sum(net.site_types == 1))
    # each I: 3 S neighbours, each next to one L with 2 other S sites; and the reverses
    assert es.n_events == 2 * n_i * 3 * 2
    assert es.type_names == ("interstitialcy",)
    names = np.array(net.site_type_names)[net.site_types]
    s, d = es.src.reshape(-1, 2), es.dst.reshape(-1, 2)
    half = es.n_events // 2
    fs, fd = s[:half], d[:half]
    assert (names[fs[:, 0]] == "I").all() and (names[fd[:, 0]] == "S").all()
    assert (names[fs[:, 1]] == "L").all() and (names[fd[:, 1]] == "S").all()
    assert (fd[:, 0] != fd[:, 1]).all()
    # the two S sites of a pair are both split sites of the pushed L (a hop away from it)
    hop_pairs = set(zip(net.hop_src.tolist(), net.hop_dst.tolist()))
    assert all((int(x), int(l_)) in hop_pairs and (int(y), int(l_)) in hop_pairs
               for x, y, l_ in zip(fd[:, 0], fd[:, 1], fs[:, 1]))
    # each move is one half bond; the charge moves from I to the pair's centre
    np.testing.assert_allclose(np.linalg.norm(es.vectors, axis=1), 3.0 / np.sqrt(3) / 2)
    np.testing.assert_array_equal(s[half:], d[:half])  # the reverses dissociate the pairs
    _check_closed(es, net)


def test_split_interstitialcy_bad_parameters(split_net):
    with pytest.raises(ConfigError, match="'L' is in both lattice_types and split_types"):
        split_interstitialcy_events(split_net, "I", "L", ("S", "L"), 0.2)
    with pytest.raises(ConfigError, match="'Q'"):
        split_interstitialcy_events(split_net, "I", "L", "Q", 0.2)
    with pytest.raises(ConfigError, match="-0.5"):
        split_interstitialcy_events(split_net, "I", "L", "S", -0.5)
    assert split_interstitialcy_events(split_net, "I", "S", "L", 0.2).n_events == 0


# ------------------------------------------------------------------------------ EventSet

Z = (0.0, 0.0, 3.0)  # sc a = 3: site s + 1 is one step along z (sites 0, 1, 2 on a line)
NZ = (0.0, 0.0, -3.0)
FWD = [(0, 1, Z), (1, 2, Z)]
REV = [(2, 1, NZ), (1, 0, NZ)]


def test_from_lists_concatenate_and_access(sc4):
    turn = [[(0, 1, Z), (1, 5, (0, 3, 0))], [(1, 0, NZ), (5, 1, (0, -3, 0))]]  # site 5: y + z
    a = EventSet.from_lists(turn, "explicit", 0.5)  # move order within an event is irrelevant
    assert (a.n_events, a.n_moves) == (2, 4)
    np.testing.assert_array_equal(a.reverse_index(), [1, 0])
    a.validate_for(sc4)
    c2 = concerted_events(sc4, 2, 0.3, max_turn_deg=0)
    c3 = concerted_events(sc4, 3, 0.3, max_turn_deg=0)
    again = EventSet.from_lists([[(5, 6, Z), (6, 7, Z)]], "concerted3", 0.3)
    cat = EventSet.concatenate(c2, a, c3, again)
    assert cat.type_names == ("concerted2", "explicit", "concerted3")
    assert cat.n_events == 384 + 2 + 384 + 1
    np.testing.assert_array_equal(np.bincount(cat.types), [384, 2, 385])
    assert cat.types[-1] == 2
    s, d, v = cat.moves(384)
    np.testing.assert_array_equal(s, [0, 1])
    np.testing.assert_array_equal(d, [1, 5])
    np.testing.assert_allclose(v, [Z, (0, 3, 0)])
    with pytest.raises(ConfigError, match="duplicates"):  # c3 already has the last event
        cat.validate_for(sc4)
    ok = EventSet.concatenate(c2, a, c3)
    ok.validate_for(sc4)
    np.testing.assert_array_equal(ok.reverse_index()[384:386], [385, 384])
    assert EventSet.concatenate().n_events == 0
    empty = EventSet.empty()
    assert (empty.n_events, empty.n_moves, empty.type_names) == (0, 0, ())
    empty.validate_for(sc4)
    assert empty.reverse_index().shape == (0,)
    with pytest.raises(IndexError, match="event index 2 is out of range"):
        a.moves(2)


def test_arrays_read_only_and_owned(sc4):
    src = np.array([0, 1, 2, 1], dtype=np.int32)
    es = EventSet([0, 2, 4], src, [1, 2, 1, 0], [Z, Z, NZ, NZ], [0.3, 0.3], [0, 0], ("x",))
    src[0] = 7
    assert es.src[0] == 0
    for arr in (es.ptr, es.src, es.dst, es.vectors, es.barriers_eV, es.types):
        assert not arr.flags.writeable
    with pytest.raises(ValueError):
        es.src[0] = 3
    assert es.ptr.dtype == es.src.dtype == es.types.dtype == np.int32
    assert es.vectors.dtype == es.barriers_eV.dtype == np.float64
    es.validate_for(sc4)


def test_swap_is_its_own_reverse(sc4):
    es = EventSet.from_lists([[(0, 1, Z), (1, 0, NZ)]], "swap", 0.2)
    es.validate_for(sc4)
    np.testing.assert_array_equal(es.reverse_index(), [0])


@pytest.mark.parametrize("events, barrier, match", [
    ([FWD], 0.3, r"event 0 .*has no reverse"),
    ([FWD, REV], [0.3, 0.4], r"barriers_eV\[0\] = 0.3 eV but its reverse event 1 has 0.4"),
    ([[(0, 1, Z), (2, 1, NZ)]], 0.3, "event 0: target site 1 appears twice"),
    ([[(0, 1, Z), (0, 4, (0, 3, 0))], [(1, 0, NZ), (4, 0, (0, -3, 0))]], 0.3,
     "event 0: source site 0 appears"),
    ([[(0, 1, (0, 0, 2.9)), (1, 2, Z)], [(2, 1, NZ), (1, 0, (0, 0, -2.9))]], 0.3,
     r"event 0 move 0 \(0 -> 1\): vector \(0, 0, 2.9\)"),
    ([[(0, 1, Z), (1, 64, Z)], [(64, 1, NZ), (1, 0, NZ)]], 0.3,
     r"event 1 move 0 \(64 -> 1\): source site 64 is out of range"),
    ([[(-1, 1, Z), (1, 2, Z)], REV], 0.3, "source site -1 is out of range"),
    ([[(0, 0, (0, 0, 12)), (1, 2, Z)], REV], 0.3, "event 0 move 0 .* from site 0 to itself"),
    ([FWD, [(0, 1, Z)]], 0.3, "event 1 has 1 moves"),
    ([FWD, FWD + REV + [(3, 4, Z)]], 0.3, "event 1 has 5 moves"),
    ([FWD, REV], -0.3, "-0.3"),
    ([FWD, REV], [0.3, float("inf")], "inf"),
    ([[(0, 1, (0, 0))] + FWD[1:], REV], 0.3, r"events\[0\]\[0\] vector"),
    ([[(0, 1), (1, 2, Z)], REV], 0.3, r"events\[0\]\[0\] = \(0, 1\)"),
    ([[(0, 1, "abc"), (1, 2, Z)], REV], 0.3, r"events\[0\]\[0\] vector 'abc'"),
    ([[(0, 1, [1, "x", 2]), (1, 2, Z)], REV], 0.3, r"events\[0\]\[0\] vector \[1, 'x', 2\]"),
    ([[(0.5, 1, Z), (1, 2, Z)], REV], 0.3, r"src\[0\] = 0.5 is not an integer"),
])
def test_bad_events_raise(sc4, events, barrier, match):
    with pytest.raises(ConfigError, match=match):
        EventSet.from_lists(events, "bad", barrier).validate_for(sc4)


@pytest.mark.parametrize("ptr, match", [
    ([1, 2, 4], r"ptr\[0\] is 1"), ([0, 3, 2], "event 1 has -1 moves"),
    ([0, 2, 5], r"src has 4 entries but ptr\[-1\] = 5"), ([], r"ptr\[0\] is missing"),
])
def test_bad_ptr(ptr, match):
    with pytest.raises(ConfigError, match=match):
        EventSet(ptr, [0, 1, 2, 1], [1, 2, 1, 0], [Z, Z, NZ, NZ], [0.3] * (max(len(ptr), 1) - 1),
                 [0] * (max(len(ptr), 1) - 1), ("x",))


@pytest.mark.parametrize("types, names, match", [
    ([0, 1], ("x",), r"types\[1\] = 1 is out of range"), ([0, 0], ("x", "x"), "repeats"),
    ([0, 0], ("",), "empty string"), ([0, 0], "x", "tuple of strings"),
])
def test_bad_types(types, names, match):
    with pytest.raises((ConfigError, TypeError), match=match):
        EventSet([0, 2, 4], [0, 1, 2, 1], [1, 2, 1, 0], [Z, Z, NZ, NZ], [0.3, 0.3], types, names)


def test_generators_close_with_noisy_hop_vectors():
    """Hop vectors with float noise (within the image tolerance): events still close, because
    the generators symmetrise v_h and v_rev(h)."""
    net = build_lattice("bcc", size=3)
    rng = np.random.default_rng(3)
    noisy = net.replace(hop_vectors=net.hop_vectors + rng.normal(0, 1e-7, net.hop_vectors.shape))
    es = concerted_events(noisy, 3, 0.3, max_turn_deg=75.0)
    assert es.n_events == concerted_events(net, 3, 0.3, max_turn_deg=75.0).n_events > 0
    _check_closed(es, noisy)


# ------------------------------------------------------------- reference enumeration, reverses


def _sym(net, h):
    """Symmetrised vector of hop h (A), as the generators use it."""
    return 0.5 * (net.hop_vectors[h] - net.hop_vectors[net.hop_rev[h]])


def _turn_deg(v1, v2):
    c = np.cross(v1, v2)
    return math.degrees(math.atan2(math.sqrt(float(c @ c)), float(v1 @ v2)))


def _out_hops(net, s):
    return range(int(net.hop_ptr[s]), int(net.hop_ptr[s + 1]))


def _ref_strings(net, k, turn, ok=None):
    """Concerted strings by plain loops, in the documented order (lexicographic in the hop
    indices of the path): a list of hop paths."""
    ok = np.ones(net.n_sites, bool) if ok is None else ok
    out = []

    def walk(path, sites):
        if len(path) == k:
            out.append(tuple(path))
            return
        for h in _out_hops(net, sites[-1]):
            d = int(net.hop_dst[h])
            if ok[d] and d not in sites and \
                    _turn_deg(_sym(net, path[-1]), _sym(net, h)) <= turn + 1e-6:
                walk(path + [h], sites + [d])

    for h in range(net.n_hops):
        s, d = int(net.hop_src[h]), int(net.hop_dst[h])
        if ok[s] and ok[d]:
            walk([h], [s, d])
    return out


def _ref_interstitialcy(net, itype, ltype, collinear, max_angle):
    names = np.array(net.site_type_names)[net.site_types]
    out = []
    for h1 in range(net.n_hops):
        i, lat = int(net.hop_src[h1]), int(net.hop_dst[h1])
        if names[i] != itype or names[lat] != ltype:
            continue
        for h2 in _out_hops(net, lat):
            i2 = int(net.hop_dst[h2])
            if names[i2] != itype or i2 == i:
                continue
            straight = _turn_deg(_sym(net, h1), _sym(net, h2)) <= max_angle + 1e-6
            if collinear is None or straight == collinear:
                out.append((h1, h2))
    return out


def _ref_split(net):
    names = np.array(net.site_type_names)[net.site_types]
    pairs = set()
    for h1 in range(net.n_hops):
        if names[net.hop_src[h1]] != "I" or names[net.hop_dst[h1]] != "S":
            continue
        s1 = int(net.hop_dst[h1])
        for to_l in _out_hops(net, s1):
            lat = int(net.hop_dst[to_l])
            if names[lat] != "L":
                continue
            for h2 in _out_hops(net, lat):
                if names[net.hop_dst[h2]] == "S" and int(net.hop_dst[h2]) != s1:
                    pairs.add((h1, h2))
    return sorted(pairs)


def _assert_events_are_paths(es, net, paths, reverse_too=False):
    """es holds exactly the events with the moves of the hop paths, in this order (and then
    their reverses, for split interstitialcy), bit for bit."""
    paths = np.array(paths, dtype=np.int64).reshape(len(paths), -1)
    vec = np.array([_sym(net, h) for h in range(net.n_hops)]).reshape(-1, 3)
    src, dst, v = net.hop_src[paths], net.hop_dst[paths], vec[paths]
    if reverse_too:
        src, dst, v = np.concatenate([src, dst]), np.concatenate([dst, src]), \
            np.concatenate([v, -v])
    k = paths.shape[1]
    np.testing.assert_array_equal(es.ptr, np.arange(src.shape[0] + 1) * k)
    np.testing.assert_array_equal(es.src, src.ravel())
    np.testing.assert_array_equal(es.dst, dst.ravel())
    assert es.vectors.tobytes() == np.ascontiguousarray(v.reshape(-1, 3)).tobytes()


def _assert_known_reverse_is_the_searched_one(es, net):
    assert es._facts.reverse is not None and es._facts.unique  # built, not searched
    searched = es._search_reverse()
    np.testing.assert_array_equal(es.reverse_index(), searched)
    assert es._facts.valid_for(net)
    es._check_moves(net)  # the checks that validate_for skips pass
    again = EventSet(*(np.array(getattr(es, f)) for f in
                       ("ptr", "src", "dst", "vectors", "barriers_eV", "types")), es.type_names)
    assert again._facts.reverse is None  # a user-given copy: searched, the same result
    again.validate_for(net)
    np.testing.assert_array_equal(again.reverse_index(), searched)


@pytest.mark.parametrize("lattice, size, k, turn", [
    ("sc", 4, 2, 0.0), ("sc", 4, 2, 90.0), ("sc", 4, 3, 90.0), ("sc", 5, 4, 0.0),
    ("bcc", 2, 2, 75.0), ("fcc", 2, 2, 60.0), ("triangular", 3, 3, 60.0),
    ("honeycomb", 2, 3, 120.0), ("square", 3, 4, 90.0), ("chain", 5, 2, 0.0),
])
def test_concerted_equals_reference_enumeration(lattice, size, k, turn):
    net = build_lattice(lattice, size=size)
    es = concerted_events(net, k, 0.3, max_turn_deg=turn)
    _assert_events_are_paths(es, net, _ref_strings(net, k, turn))
    if es.n_events:
        _assert_known_reverse_is_the_searched_one(es, net)


def test_concerted_reference_site_types_and_noisy_vectors(interstitial_net):
    net = interstitial_net
    es = concerted_events(net, 3, 0.3, site_types=("I",), max_turn_deg=180)
    assert es.n_events == 0
    es = concerted_events(net, 3, 0.3, site_types=("L", "I"), max_turn_deg=90)
    _assert_events_are_paths(es, net, _ref_strings(net, 3, 90.0))
    _assert_known_reverse_is_the_searched_one(es, net)
    bcc = build_lattice("bcc", size=2)
    rng = np.random.default_rng(5)
    noisy = bcc.replace(hop_vectors=bcc.hop_vectors + rng.normal(0, 1e-7, (bcc.n_hops, 3)))
    es = concerted_events(noisy, 2, 0.3, max_turn_deg=75.0)
    _assert_events_are_paths(es, noisy, _ref_strings(noisy, 2, 75.0))
    _assert_known_reverse_is_the_searched_one(es, noisy)


def test_turns_without_the_vector_table(monkeypatch):
    """Networks with many distinct hop vectors compute every turn angle directly: the same
    events."""
    net = build_lattice("sc", size=4)
    table = concerted_events(net, 3, 0.3, max_turn_deg=90)
    inter_net = periodic_network(3.0 * np.eye(3), [[0, 0, 0], [0.5, 0.5, 0]], 3,
                                 hop_axes=(True, True, False), site_type_names=("L", "I"),
                                 basis_types=[0, 1])
    inter = interstitialcy_events(inter_net, "I", "L", 0.4, collinear=True)
    monkeypatch.setattr(mechanisms, "_MAX_VECTOR_CLASSES", 0)
    assert mechanisms._vector_classes(net.hop_vectors) is None
    direct = concerted_events(net, 3, 0.3, max_turn_deg=90)
    for f in ("ptr", "src", "dst", "vectors"):
        np.testing.assert_array_equal(getattr(direct, f), getattr(table, f))
    np.testing.assert_array_equal(direct.reverse_index(), table.reverse_index())
    again = interstitialcy_events(inter_net, "I", "L", 0.4, collinear=True)
    np.testing.assert_array_equal(again.src, inter.src)
    np.testing.assert_array_equal(again.dst, inter.dst)


@pytest.mark.parametrize("collinear, max_angle", [(None, 20.0), (True, 20.0), (False, 20.0),
                                                  (True, 90.0)])
def test_interstitialcy_equals_reference_enumeration(interstitial_net, collinear, max_angle):
    net = interstitial_net
    es = interstitialcy_events(net, "I", "L", 0.4, collinear=collinear,
                               max_angle_deg=max_angle)
    _assert_events_are_paths(es, net, _ref_interstitialcy(net, "I", "L", collinear, max_angle))
    _assert_known_reverse_is_the_searched_one(es, net)


def test_split_interstitialcy_equals_reference_enumeration(split_net):
    es = split_interstitialcy_events(split_net, "I", "L", "S", 0.2)
    _assert_events_are_paths(es, split_net, _ref_split(split_net), reverse_too=True)
    _assert_known_reverse_is_the_searched_one(es, split_net)


def test_with_events_neither_searches_nor_revalidates(sc4, monkeypatch):
    """A generated set passed through SiteNetwork.with_events keeps its reverse index and
    its validity: the network's EventSet shares the arrays, nothing is searched or checked
    again."""
    es = concerted_events(sc4, 2, 0.3, max_turn_deg=90)
    rev = es.reverse_index()

    def fail(*args):
        raise AssertionError("searched or validated again")

    monkeypatch.setattr(EventSet, "_search_reverse", fail)
    monkeypatch.setattr(EventSet, "_check_moves", fail)
    net = sc4.with_events(es)
    assert net.events.src is not es.src and np.shares_memory(net.events.src, es.src)
    assert net.event_src is net.events.src
    np.testing.assert_array_equal(net.events.reverse_index(), rev)
    again = EventSet(net.event_ptr, net.event_src, net.event_dst, net.event_vectors,
                     net.event_barriers_eV, net.event_types, list(net.event_type_names))
    assert again._facts is net.events._facts
    monkeypatch.undo()
    # different arrays or type names: a new, checked set
    other = EventSet(net.event_ptr, net.event_src, net.event_dst, net.event_vectors,
                     net.event_barriers_eV, net.event_types, ("renamed",))
    assert other._facts is not net.events._facts and other._facts.reverse is None
    assert not np.shares_memory(other.src, net.event_src)
    np.testing.assert_array_equal(other.reverse_index(), rev)


def test_known_facts_are_checked_where_they_do_not_apply(sc4):
    """Events generated on one network are still checked against another, and concatenated
    generated sets are still checked for duplicates."""
    es = concerted_events(sc4, 2, 0.3, max_turn_deg=0)
    wider = build_lattice("sc", size=4, a=3.5)
    with pytest.raises(ConfigError, match="is not positions"):
        es.validate_for(wider)
    with pytest.raises(ConfigError, match="duplicates"):
        EventSet.concatenate(es, es).validate_for(sc4)
    c3 = concerted_events(sc4, 3, 0.3, max_turn_deg=0)
    cat = EventSet.concatenate(es, c3)  # known reverses, shifted; no duplicates
    assert cat._facts.reverse is not None and not cat._facts.unique
    cat.validate_for(sc4)
    np.testing.assert_array_equal(cat.reverse_index(), cat._search_reverse())
    np.testing.assert_array_equal(cat.reverse_index()[es.n_events:],
                                  c3.reverse_index() + es.n_events)


def test_frozen_arrays_stay_read_only(sc4):
    es = concerted_events(sc4, 2, 0.3)
    for f in ("ptr", "src", "dst", "vectors", "barriers_eV", "types"):
        arr = getattr(es, f)
        with pytest.raises(ValueError):
            arr.flags.writeable = True
    assert es.ptr.dtype == es.src.dtype == es.dst.dtype == es.types.dtype == np.int32
    assert es._move_event.dtype == np.int32
    # pickling (process pools) and copies keep them read-only, with the known reverses
    net = pickle.loads(pickle.dumps(sc4.with_events(es)))
    for f in ("ptr", "src", "dst", "vectors", "barriers_eV", "types"):
        assert not getattr(net.events, f).flags.writeable
    assert net.event_src is net.events.src
    np.testing.assert_array_equal(net.events.reverse_index(), es.reverse_index())
    assert not copy.deepcopy(es).vectors.flags.writeable
