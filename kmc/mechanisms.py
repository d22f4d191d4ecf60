"""Multi-ion event families: concerted string moves and interstitialcy (knock-on) mechanisms.

Units: Angstrom (lengths), eV (energies).

The generators :func:`concerted_events`, :func:`interstitialcy_events` and
:func:`split_interstitialcy_events` build an :class:`~kmc.events.EventSet` from a
:class:`~kmc.lattice.SiteNetwork` (vectorised; an event's moves, its reverse and what is known
about them, see :mod:`kmc.events`).

:data:`FAMILIES` is the registry of the mechanism families that a run configuration can name
(``mechanisms = ["hop", "concerted2"]`` with ``barrier_concerted2``): one entry per family,
registered with :func:`family`. Adding a family is one generator plus one decorated builder
here; the configuration options, the command line and the assembly follow from the registry.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _checks
from .errors import ConfigError
from .events import (  # noqa: F401  (EventSet re-exported: its home until 0.x)
    _CHUNK,
    _INDEX_LIMIT,
    _MIN_MOVES,
    MAX_MOVES_PER_EVENT,
    EventSet,
    PeriodicEvents,
    _check_n_moves,
    _Facts,
    _freeze,
    _take_rows,
    _vector_defects,
)
from .lattice import PeriodicNetwork, SiteNetwork, as_site_network

__all__ = ["MAX_MOVES_PER_EVENT", "EventSet", "FAMILIES", "Family", "family",
           "concerted_events", "interstitialcy_events", "split_interstitialcy_events"]

_ANGLE_TOL_DEG = 1e-6


def _check_network(network: Any) -> SiteNetwork:
    return as_site_network(network)


def _site_mask(network: SiteNetwork, names: Any, what: str) -> tuple[np.ndarray, set[int]]:
    """Mask over sites whose type name is in `names` (str or sequence), and the type ids."""
    known = network.site_type_names
    names = (names,) if isinstance(names, str) else names
    if not isinstance(names, (tuple, list, set, frozenset)) or not names:
        raise ConfigError(f"{what} must be a site type name or a non-empty sequence of names, "
                          f"got {names!r}")
    idx = []
    for nm in names:
        if nm not in known:
            raise ConfigError(f"{what}: unknown site type {nm!r} (known: "
                              f"{', '.join(map(repr, known))})")
        idx.append(known.index(nm))
    return np.isin(network.site_types, idx), set(idx)


def _sym_vectors(network: SiteNetwork) -> np.ndarray:
    """Hop vectors symmetrised so that a hop and its reverse have exactly opposite vectors:
    ``(v_h - v_rev(h)) / 2`` in Angstrom, shape (m, 3), read-only; one array per network,
    so that the events of several generators keep their vectors as rows of one table."""
    return network._sym_hop_vectors


def _angle_deg(v1: np.ndarray, v2: np.ndarray) -> np.ndarray:
    """Angle between rows of v1 and v2 in degrees (0 = parallel), accurate near 0.

    ``atan2(|v1 x v2|, v1 . v2)`` with elementwise arithmetic only (a row's angle does not
    depend on the other rows).
    """
    a0, a1, a2 = v1[:, 0], v1[:, 1], v1[:, 2]
    b0, b1, b2 = v2[:, 0], v2[:, 1], v2[:, 2]
    c0 = a1 * b2 - a2 * b1
    c1 = a2 * b0 - a0 * b2
    c2 = a0 * b1 - a1 * b0
    cross = np.sqrt(c0 * c0 + c1 * c1 + c2 * c2)
    return np.degrees(np.arctan2(cross, a0 * b0 + a1 * b1 + a2 * b2))


def _candidates(starts: np.ndarray, counts: np.ndarray, first: np.ndarray, total: int,
                it: Any) -> tuple[np.ndarray, np.ndarray]:
    """The hops ``starts[i] .. starts[i] + counts[i] - 1`` of every i, in order: (i, hop),
    each of dtype `it`, `total` of them; `first` holds the exclusive cumulative counts."""
    n = counts.size
    if n and counts.min() == counts.max():  # every site has the same degree (lattices)
        c = int(counts[0])
        parent = np.empty((n, c), dtype=it)
        parent[:] = np.arange(n, dtype=it)[:, None]
        nxt = starts.astype(it)[:, None] + np.arange(c, dtype=it)
        return parent.reshape(-1), nxt.reshape(-1)
    parent = np.repeat(np.arange(n, dtype=it), counts)
    nxt = np.repeat((starts - first).astype(it), counts)
    nxt += np.arange(total, dtype=it)
    return parent, nxt


#: at most this many distinct hop vectors for the table of turn angles (U^2 entries)
_MAX_VECTOR_CLASSES = 1024


def _row_keys(bits: np.ndarray) -> np.ndarray:
    """64-bit hash of the bits of each row of `bits` (uint64, shape (m, 3))."""
    with np.errstate(over="ignore"):
        key = (bits[:, 0] * np.uint64(0x9E3779B97F4A7C15)
               ^ (bits[:, 1] * np.uint64(0xC2B2AE3D27D4EB4F) + np.uint64(0x165667B19E3779F9))
               ^ (bits[:, 2] * np.uint64(0xBF58476D1CE4E5B9) + np.uint64(0x94D049BB133111EB)))
        key ^= key >> np.uint64(31)
    return key


def _vector_classes(vec: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The distinct rows of `vec` (bit for bit) if there are at most `_MAX_VECTOR_CLASSES`:
    the class of each row, shape (m,) int32, and one representative row index per class;
    None if there are more (or hashing cannot tell them apart).

    Lattices have few distinct hop vectors; they are found from a 64-bit hash of the bits
    of each row (the classes of the first 4096 rows, all rows if some row is not among
    them) and verified exactly. The rows are hashed and checked in blocks of `_CHUNK`, so
    the temporaries stay cache-sized (10^6-site lattices have 6 million hops).
    """
    m = vec.shape[0]
    if m == 0:
        return None
    bits = np.ascontiguousarray(vec).view(np.uint64)
    uk = np.unique(_row_keys(bits[:4096]))
    cls = np.empty(m, dtype=np.int32)
    for attempt in range(2):
        if uk.size > _MAX_VECTOR_CLASSES:
            return None
        for a in range(0, m, _CHUNK):
            key = _row_keys(bits[a:a + _CHUNK])
            c = np.searchsorted(uk, key)
            np.minimum(c, uk.size - 1, out=c)
            if not np.array_equal(uk[c], key):
                break  # a row outside the sample's classes
            cls[a:a + _CHUNK] = c
        else:
            break
        if attempt:  # pragma: no cover - the full key set always covers every row
            return None
        # some row is not among the sample's classes: the keys of all rows
        uk = np.unique(np.concatenate([np.unique(_row_keys(bits[a:a + _CHUNK]))
                                       for a in range(0, m, _CHUNK)]))
    rep = np.zeros(uk.size, dtype=np.int64)
    for a in range(0, m, _CHUNK):
        c = cls[a:a + _CHUNK]
        rep[c] = np.arange(a, a + c.size)
    for a in range(0, m, _CHUNK):  # every row equals its class's representative
        if not np.array_equal(bits[a:a + _CHUNK], bits[rep[cls[a:a + _CHUNK]]]):
            return None  # a hash collision between different vectors
    return cls, rep


class _Turns:
    """Test of pairs of hops: the angle between their vectors at most `max_deg` (+ 1e-6)
    degrees, by :func:`_angle_deg`. With few distinct hop vectors (lattices) the angles of
    all pairs of distinct vectors are tabulated once and looked up (the same numbers)."""

    def __init__(self, vec: np.ndarray, max_deg: float) -> None:
        self.vec, self.limit = vec, max_deg + _ANGLE_TOL_DEG
        self.cls: np.ndarray | None = None
        classes = _vector_classes(vec)
        if classes is not None:
            self.cls, rep = classes
            u = rep.size
            reps = vec[rep]
            self.u = np.int32(u)
            self.table = _angle_deg(np.repeat(reps, u, axis=0), np.tile(reps, (u, 1))) \
                <= self.limit

    def __call__(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        if self.cls is None:
            return _angle_deg(_take_rows(self.vec, h1), _take_rows(self.vec, h2)) <= self.limit
        return self.table[np.take(self.cls, h1) * self.u + np.take(self.cls, h2)]


#: accept(cols, sites, parent, nxt) -> bool mask over candidate continuations (_Paths)
_Accept = Callable[[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray], np.ndarray]


class _Paths:
    """Paths of k network hops grown from a sorted set of first hops, in lexicographic
    order of their hop indices, with the tables to find the index of any path.

    Level 1 are the first hops; each further level continues every path by the hops out of
    its last site (the candidates, in hop order) that ``accept(cols, sites, parent, nxt)``
    keeps: `cols` and `sites` are the hops and the sites (``s_0 .. s_j``) of the paths so
    far, `parent` the path each candidate continues and `nxt` its next hop. Memory: int32
    indices; the candidates are filtered in blocks of `_CHUNK`.

    Attributes
    ----------
    hops : ndarray of int32, shape (n_paths, k)
        Hop index of step j of every path in column j (C order: the events' move hops).
    cols : list of ndarray of int32
        The columns of `hops` (views).
    """

    def __init__(self, network: SiteNetwork, first: np.ndarray, k: int,
                 accept: _Accept) -> None:
        self.network = network
        self._slots: np.ndarray | None = None
        hptr, hsrc, hdst = network.hop_ptr, network.hop_src, network.hop_dst
        first = np.ascontiguousarray(first, dtype=np.int32)
        # first hops are all hops in order (the path index of a first hop is the hop)
        self.identity_first = (first.size == network.n_hops
                               and (first.size == 0 or (first[0] == 0 and first[-1] ==
                                                         first.size - 1)))
        if not self.identity_first:
            index = np.full(network.n_hops, -1, dtype=np.int32)
            index[first] = np.arange(first.size, dtype=np.int32)
            self.first_index = index  # path index of each first hop, -1 if none
        self.levels: list[tuple[np.ndarray, np.ndarray]] = []
        cols = [first]
        sites = [np.take(hsrc, first), np.take(hdst, first)]
        self.hops = first[:, None]  # k = 1; the last level replaces it
        for level in range(2, k + 1):
            mid = sites[-1]
            starts = np.take(hptr, mid)
            counts = np.take(hptr, mid + 1) - starts
            cfirst = np.cumsum(counts, dtype=np.int64)
            total = int(cfirst[-1]) if cfirst.size else 0
            cfirst -= counts  # first candidate of each path
            it = np.int32 if total < _INDEX_LIMIT else np.int64
            # Blocks of whole paths of about _CHUNK candidates: the candidates of a block,
            # the ones kept written straight to the (upper-bound sized) outputs. The pages
            # of the outputs beyond the kept ones are never touched.
            new_index = np.empty(total, dtype=it)  # path index of each candidate, -1 if dropped
            last = level == k
            if last:  # the paths' hops go straight into the rows of the events' hop table
                hops = np.empty((total, k), dtype=np.int32)
            else:
                parent = np.empty(total, dtype=it)
                nxt = np.empty(total, dtype=np.int32)
            n_kept, p0, n_paths = 0, 0, counts.size
            while p0 < n_paths:
                a = int(cfirst[p0])
                p1 = max(p0 + 1, int(np.searchsorted(cfirst, a + _CHUNK, side="left")))
                b = int(cfirst[p1]) if p1 < n_paths else total
                par, nx = _candidates(starts[p0:p1], counts[p0:p1], cfirst[p0:p1] - a, b - a,
                                      it)
                par += it(p0)
                keep = accept(cols, sites, par, nx)
                ni = new_index[a:b]
                np.cumsum(keep, dtype=it, out=ni)
                m = int(ni[-1]) if b > a else 0
                ni += it(n_kept - 1)
                ni[~keep] = -1
                if last:
                    pk = par[keep]
                    rows = hops[n_kept:n_kept + m]
                    for j, c in enumerate(cols):
                        # first[pk] = pk when the first hops are all hops in order
                        rows[:, j] = pk if j == 0 and level == 2 and self.identity_first \
                            else np.take(c, pk)
                    rows[:, k - 1] = nx[keep]
                else:
                    parent[n_kept:n_kept + m] = par[keep]
                    nxt[n_kept:n_kept + m] = nx[keep]
                n_kept += m
                p0 = p1
            self.levels.append((cfirst.astype(it), new_index))
            if last:  # rows beyond n_kept were never touched (no memory)
                self.hops = hops[:n_kept]
                cols = [self.hops[:, j] for j in range(k)]
                break
            parent, nxt = parent[:n_kept], nxt[:n_kept]
            if level == 2 and self.identity_first:
                cols = [parent.astype(np.int32, copy=False), nxt]  # first[parent] = parent
            else:
                cols = [np.take(c, parent) for c in cols] + [nxt]
            if level < k:
                sites = [np.take(x, parent) for x in sites] + [np.take(hdst, nxt)]
        self.cols = cols

    def _slot(self) -> np.ndarray:
        """Position of every hop in its source's hop list, shape (n_hops,) int32 (made
        once)."""
        if self._slots is None:
            net = self.network
            self._slots = (np.arange(net.n_hops, dtype=np.int32)
                           - np.take(net.hop_ptr, net.hop_src)).astype(np.int32, copy=False)
        return self._slots

    def index(self, hops: list[np.ndarray]) -> np.ndarray:
        """Index of the path with steps `hops` (one int array per step), -1 if none.

        Each step must start where the one before ends (a chain of hops), as reversed
        paths do; then a step's candidate is the hop itself, and a path found is exactly
        the path `hops`.
        """
        if self.identity_first:
            idx = np.asarray(hops[0], dtype=np.int32)  # first hops: all hops, in order
        else:
            idx = np.take(self.first_index, hops[0])
        slot = self._slot() if self.levels else None
        for (cfirst, new_index), h in zip(self.levels, hops[1:], strict=True):
            if new_index.size == 0:
                return np.full(idx.shape, -1, dtype=np.int32)
            gone = np.flatnonzero(idx < 0) if idx.size and idx.min() < 0 else None
            if gone is not None:
                idx = idx.copy()
                idx[gone] = 0
            pos = np.take(cfirst, idx)  # the candidate of h among path idx's continuations
            pos += np.take(slot, h)
            if gone is not None:
                np.clip(pos, 0, new_index.size - 1, out=pos)
            idx = np.take(new_index, pos)
            if gone is not None:
                idx[gone] = -1
        return idx

    def reverse(self) -> np.ndarray | None:
        """Index of the reversed path (hops ``rev(h_k), ..., rev(h_1)``) of every path, if
        every path's reverse is a path, else None. (A reversed path is a chain of hops, so
        a path found for it by :meth:`index` is the reversed path itself.)"""
        rev = self.network.hop_rev
        n = self.cols[0].size
        out = np.empty(n, dtype=np.int32)
        for a in range(0, n, _CHUNK):  # in blocks: the index temporaries stay in the cache
            b = min(n, a + _CHUNK)
            idx = self.index([np.take(rev, c[a:b].astype(np.intp)) for c in reversed(self.cols)])
            if idx.size and idx.min() < 0:
                return None
            out[a:b] = idx
        return out

    def events(self, vec: np.ndarray, barrier: float, name: str,
               reverse: np.ndarray | None) -> EventSet:
        """EventSet whose event e has the moves of path e (hop sources, targets and the
        vectors `vec` of its hops, Angstrom), with the reverses if known."""
        hops, self.hops, self.cols = self.hops, None, []
        return _hop_events(self.network, hops, vec, barrier, name, reverse)


def _hop_events(network: SiteNetwork, hops: np.ndarray, vec: np.ndarray, barrier: float,
                name: str, reverse: np.ndarray | None,
                move_vectors: np.ndarray | None = None) -> EventSet:
    """EventSet whose event e has the moves ``hops[e, :]`` (network hops with vectors `vec`
    in Angstrom), shape (n, k); no duplicates. `move_vectors` (n * k, 3), if given, are the
    move vectors (equal to ``vec[hops]`` but for the sign of zeros).

    It carries `reverse` (the reverse of each event, if known) and, if every hop vector
    passes the per-move checks (length, image), that the events are valid for `network`
    (the generators keep the sources and the targets of an event distinct).
    """
    n, k = hops.shape
    _check_n_moves(n * k)
    facts = _Facts(reverse=None if reverse is None else _freeze(reverse), unique=True)
    short, image = _vector_defects(network.positions, network.cell, network.hop_src,
                                   network.hop_dst, vec)
    if short < 0 and image < 0:
        facts.cell, facts.positions = network.cell.copy(), network.positions.copy()
    flat = np.ascontiguousarray(hops, dtype=np.int32).reshape(-1)  # the hop of every move
    del hops
    src = np.empty(flat.size, dtype=np.int32)
    dst = np.empty(flat.size, dtype=np.int32)
    for a in range(0, flat.size, _CHUNK):  # intp indices a block at a time (cache-sized)
        idx = flat[a:a + _CHUNK].astype(np.intp)
        np.take(network.hop_src, idx, out=src[a:a + _CHUNK])
        np.take(network.hop_dst, idx, out=dst[a:a + _CHUNK])
    ptr = np.arange(0, (n + 1) * k, k, dtype=np.int32)
    # one barrier for all: a read-only broadcast of one value (the engine reads it so too)
    barriers = np.broadcast_to(np.array([barrier], dtype=np.float64), (n,))
    if move_vectors is not None:
        return EventSet._trusted(ptr, src, dst, move_vectors, barriers,
                                 np.zeros(n, np.int32), (name,), facts)
    # the move vectors stay rows of `vec` (one per hop): no per-move vectors
    return EventSet._trusted(ptr, src, dst, None, barriers, np.zeros(n, np.int32),
                             (name,), facts, vector_rows=(vec, flat))


def concerted_events(network: SiteNetwork | PeriodicNetwork, k: int, barrier_eV: float, *,
                     max_turn_deg: float = 90.0, site_types: Any = None,
                     name: str | None = None) -> EventSet | PeriodicEvents:
    """Concerted k-ion string moves along paths of k network hops.

    Every path ``s_0 -> s_1 -> ... -> s_k`` of k hops through k + 1 distinct sites gives one
    event: the ion on ``s_{i-1}`` moves to ``s_i`` (i = 1..k) by the hop vector. The reverse
    string (the reversed path) is also enumerated, so the set is closed under reversal; the
    reverse index is built with the events (no search).

    Parameters
    ----------
    network : SiteNetwork or PeriodicNetwork
        On a :class:`~kmc.lattice.PeriodicNetwork` the events are kept per basis site
        (:class:`~kmc.events.PeriodicEvents`: the same events, in the same order, as on its
        :meth:`~kmc.lattice.PeriodicNetwork.to_site_network`, without per-event arrays);
        its repeats must then exceed k times the longest hop's cell offset along each axis.
    k : int
        Number of ions moving together, 2, 3 or 4.
    barrier_eV : float
        KRA barrier of every event in eV (>= 0).
    max_turn_deg : float, optional
        Largest angle between consecutive hop vectors in degrees, in [0, 180] (0 = straight
        strings only; default 90, which excludes sharper turns).
    site_types : str or sequence of str, optional
        Site type names all sites of the string must have (default: any).
    name : str, optional
        Event type name (default ``f"concerted{k}"``).

    Returns
    -------
    EventSet or PeriodicEvents
        Sorted by the hop indices of the path (first hop first); move vectors are the hop
        vectors (symmetrised: ``(v_h - v_rev(h)) / 2``) in Angstrom. PeriodicEvents for a
        PeriodicNetwork.
    """
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) \
            or not _MIN_MOVES <= k <= MAX_MOVES_PER_EVENT:
        raise ConfigError(f"k = {k!r} must be an integer in {_MIN_MOVES}..{MAX_MOVES_PER_EVENT}")
    k = int(k)
    barrier = _checks.real(barrier_eV, "barrier_eV", lo=0.0)
    max_turn = _checks.real(max_turn_deg, "max_turn_deg", lo=0.0, hi=180.0)
    name = f"concerted{k}" if name is None else _checks.name(name, "name")
    if isinstance(network, PeriodicNetwork):
        spec_types = list(site_types) if isinstance(site_types, (tuple, list, set,
                                                                 frozenset)) else site_types
        return _periodic_strings(network, k, barrier, max_turn, site_types, name,
                                 ("concerted", k, barrier, max_turn, spec_types, name))
    network = _check_network(network)
    hsrc, hdst = network.hop_src, network.hop_dst
    if site_types is None:
        ok_hop = None
        first = np.arange(network.n_hops, dtype=np.int32)
    else:
        ok, _ = _site_mask(network, site_types, "site_types")
        ok_hop = ok[hsrc] & ok[hdst]
        first = np.flatnonzero(ok_hop).astype(np.int32)
    vec = _sym_vectors(network)

    turn_ok = _Turns(vec, max_turn)

    def accept(cols: list[np.ndarray], sites: list[np.ndarray], parent: np.ndarray,
               nxt: np.ndarray) -> np.ndarray:
        new = np.take(hdst, nxt)
        keep = new != np.take(sites[0], parent)  # k + 1 distinct sites (a hop never ends
        for s in sites[1:-1]:                    # where it starts: not sites[-1])
            keep &= new != np.take(s, parent)
        if ok_hop is not None:
            keep &= np.take(ok_hop, nxt)
        i = np.flatnonzero(keep)
        keep[i] = turn_ok(np.take(cols[-1], np.take(parent, i)), np.take(nxt, i))
        return keep

    paths = _Paths(network, first, k, accept)
    return paths.events(vec, barrier, name, paths.reverse())


def _periodic_strings(network: PeriodicNetwork, k: int, barrier: float, max_turn: float,
                      site_types: Any, name: str, spec: tuple) -> PeriodicEvents:
    """The string events of :func:`concerted_events` on a PeriodicNetwork, per basis site.

    The paths of k unit-cell hops from each basis site, in slot order (so lexicographic),
    with k + 1 distinct sites and every turn at most `max_turn` degrees: the same tests as
    on the SiteNetwork (the same symmetrised vectors and angle function), which give the
    same events at every cell when no string can wrap around the supercell onto itself.
    """
    b_src, b_dst = network.hop_basis_src, network.hop_basis_dst
    dn = network.hop_cell_offsets.astype(np.int64)
    nb, h = network.n_basis, b_src.shape[0]
    reach = k * (np.abs(dn).max(axis=0) if h else np.zeros(3, np.int64))
    small = [a for a in range(3) if reach[a] and network.size[a] <= reach[a]]
    if small:
        a = small[0]
        raise ConfigError(
            f"concerted_events on a PeriodicNetwork needs more than {int(reach[a])} repeats "
            f"along axis {a} (strings of {k} hops reach that far), got size "
            f"{tuple(network.size)}; use network.to_site_network() for a box this small")
    if site_types is None:
        ok_basis = np.ones(nb, dtype=bool)
    else:
        names = (site_types,) if isinstance(site_types, str) else site_types
        if not isinstance(names, (tuple, list, set, frozenset)) or not names:
            raise ConfigError("site_types must be a site type name or a non-empty sequence "
                              f"of names, got {site_types!r}")
        for nm in names:
            if nm not in network.site_type_names:
                raise ConfigError(f"site_types: unknown site type {nm!r} (known: "
                                  f"{', '.join(map(repr, network.site_type_names))})")
        ids = [network.site_type_names.index(nm) for nm in names]
        ok_basis = np.isin(network.basis_types, ids)
    rev = network._rev  # type: ignore[attr-defined]
    sym = network._sym_unit_vectors()  # as SiteNetwork._sym_hop_vectors, bit for bit
    start = network._basis_hop_start
    limit = max_turn + _ANGLE_TOL_DEG
    per_basis: list[list[tuple[int, ...]]] = [[] for _ in range(nb)]

    def grow(b0: int, path: list[int], sites: list[tuple[int, int, int, int]]) -> None:
        if len(path) == k:
            per_basis[b0].append(tuple(path))
            return
        here = sites[-1][3]
        for u in range(int(start[here]), int(start[here + 1])):
            b2 = int(b_dst[u])
            if not ok_basis[b2]:
                continue
            c = sites[-1][:3]
            new = (c[0] + int(dn[u, 0]), c[1] + int(dn[u, 1]), c[2] + int(dn[u, 2]), b2)
            if new in sites:
                continue
            if path and not _angle_deg(sym[path[-1]][None], sym[u][None])[0] <= limit:
                continue
            grow(b0, [*path, u], [*sites, new])

    for b0 in range(nb):
        if ok_basis[b0]:
            grow(b0, [], [(0, 0, 0, b0)])
    ptr = np.zeros(nb + 1, dtype=np.int32)
    ptr[1:] = np.cumsum([len(p) for p in per_basis])
    paths = np.array([p for ps in per_basis for p in ps], dtype=np.int64).reshape(-1, k)
    n_t = paths.shape[0]
    slots = (paths - start[b_src[paths]]).astype(np.int32)
    # the reverse string starts where the string ends: its hops are the reverses, backwards
    index = {(int(b_src[p[0]]), tuple(p.tolist())): q for q, p in enumerate(paths)}
    reverse = np.array([index[(int(b_dst[p[-1]]), tuple(rev[p[::-1]].tolist()))]
                        for p in paths], dtype=np.int32)
    return PeriodicEvents(k=k, ptr=ptr, slots=slots.reshape(n_t, k),
                          vectors=sym[paths].reshape(n_t, k, 3),
                          barriers_eV=np.full(n_t, barrier), types=np.zeros(n_t, np.int32),
                          type_names=(name,), reverse=reverse, spec=spec)


def interstitialcy_events(network: SiteNetwork, interstitial_types: Any, lattice_types: Any,
                          barrier_eV: float, *, collinear: bool | None = None,
                          max_angle_deg: float = 20.0,
                          name: str = "interstitialcy") -> EventSet:
    """Interstitialcy (knock-on) events: I -> L and L -> I2 at the same time.

    The interstitial ion on site I pushes the lattice ion on L into another interstitial
    site I2 != I and takes L's place; both moves are network hops. The reverse (I2 -> L,
    L -> I) is also enumerated, so the set is closed under reversal; the reverse index is
    built with the events (no search).

    Parameters
    ----------
    network : SiteNetwork
    interstitial_types, lattice_types : str or sequence of str
        Site type names of the interstitial sites (I, I2) and lattice sites (L); disjoint.
    barrier_eV : float
        KRA barrier of every event in eV (>= 0).
    collinear : bool or None, optional
        True: only events whose two hop vectors make an angle <= `max_angle_deg` (I, L, I2
        nearly collinear); False: only the others; None (default): all.
    max_angle_deg : float, optional
        Collinearity threshold in degrees, in [0, 180] (default 20).
    name : str, optional
        Event type name (default "interstitialcy").

    Returns
    -------
    EventSet
        Events of 2 moves ``(I -> L, L -> I2)``, sorted by the two hop indices; vectors are
        the (symmetrised) hop vectors in Angstrom.
    """
    barrier = _checks.real(barrier_eV, "barrier_eV", lo=0.0)
    max_angle = _checks.real(max_angle_deg, "max_angle_deg", lo=0.0, hi=180.0)
    name = _checks.name(name, "name")
    if collinear is not None and not isinstance(collinear, (bool, np.bool_)):
        raise ConfigError(f"collinear = {collinear!r} must be True, False or None")
    network = _check_network(network)
    is_i, i_ids = _site_mask(network, interstitial_types, "interstitial_types")
    is_l, l_ids = _site_mask(network, lattice_types, "lattice_types")
    if i_ids & l_ids:
        raise ConfigError(f"site type {network.site_type_names[min(i_ids & l_ids)]!r} is in "
                          "both interstitial_types and lattice_types; they must be disjoint")
    hsrc, hdst = network.hop_src, network.hop_dst
    vec = _sym_vectors(network)

    straight = None if collinear is None else _Turns(vec, max_angle)

    def accept(cols: list[np.ndarray], sites: list[np.ndarray], parent: np.ndarray,
               nxt: np.ndarray) -> np.ndarray:
        new = np.take(hdst, nxt)
        keep = np.take(is_i, new) & (new != np.take(sites[0], parent))
        if straight is not None:
            i = np.flatnonzero(keep)
            ok = straight(np.take(cols[0], np.take(parent, i)), np.take(nxt, i))
            keep[i] = ok if collinear else ~ok
        return keep

    paths = _Paths(network, np.flatnonzero(is_i[hsrc] & is_l[hdst]), 2, accept)
    return paths.events(vec, barrier, name, paths.reverse())


def _expand(network: SiteNetwork, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All continuations of hops `last`: (parent index into `last`, next hop), in order;
    int32 (int64 if there are 2^31 or more)."""
    hptr = network.hop_ptr
    mid = network.hop_dst[last]
    starts = hptr[mid]
    counts = hptr[mid + 1] - starts
    first = np.cumsum(counts, dtype=np.int64)
    total = int(first[-1]) if first.size else 0
    first -= counts
    return _candidates(starts, counts, first, total,
                       np.int32 if total < _INDEX_LIMIT else np.int64)


def split_interstitialcy_events(network: SiteNetwork, interstitial_types: Any,
                                lattice_types: Any, split_types: Any, barrier_eV: float, *,
                                name: str = "interstitialcy") -> EventSet:
    """Interstitialcy into a split (dumbbell) pair: I -> S1 and L -> S2 at the same time.

    The interstitial ion on site I moves to a split site S1 next to the lattice site L and
    pushes the ion on L onto another split site S2 of L, so that the two ions share L as a
    split pair on S1 and S2 with L empty (the split-interstitial configuration of Na beta-
    alumina: two Na on mid-oxygen sites around an empty Beevers-Ross site). The reverse
    (S1 -> I, S2 -> L) dissociates the pair and is enumerated too, so the set is closed under
    reversal. Moves I -> S1 and L -> S2 are network hops, and S1 must have a hop to L.

    Parameters
    ----------
    network : SiteNetwork
    interstitial_types, lattice_types, split_types : str or sequence of str
        Site type names of the interstitial sites (I), lattice sites (L) and split sites
        (S1, S2); pairwise disjoint.
    barrier_eV : float
        KRA barrier of every event in eV (>= 0).
    name : str, optional
        Event type name (default "interstitialcy").

    Returns
    -------
    EventSet
        The forward events ``(I -> S1, L -> S2)`` sorted by their two hop indices, then their
        reverses in the same order (event e < K has the reverse e + K); vectors are the
        (symmetrised) hop vectors in Angstrom.
    """
    barrier = _checks.real(barrier_eV, "barrier_eV", lo=0.0)
    name = _checks.name(name, "name")
    network = _check_network(network)
    masks = {}
    for what, names in (("interstitial_types", interstitial_types),
                        ("lattice_types", lattice_types), ("split_types", split_types)):
        masks[what] = _site_mask(network, names, what)
    kinds = list(masks)
    for a in range(3):
        for b in range(a + 1, 3):
            common = masks[kinds[a]][1] & masks[kinds[b]][1]
            if common:
                raise ConfigError(
                    f"site type {network.site_type_names[min(common)]!r} is in both "
                    f"{kinds[a]} and {kinds[b]}; they must be disjoint")
    is_i, is_l, is_s = (masks[k][0] for k in kinds)
    hsrc, hdst = network.hop_src, network.hop_dst
    vec = _sym_vectors(network)
    h1 = np.flatnonzero(is_i[hsrc] & is_s[hdst]).astype(np.int32)  # I -> S1
    parent, to_l = _expand(network, h1)                               # S1 -> L
    keep = is_l[hdst[to_l]]
    first, to_l = h1[parent[keep]], to_l[keep]
    parent, h2 = _expand(network, to_l)                               # L -> S2
    keep = is_s[hdst[h2]] & (hdst[h2] != hdst[first[parent]])
    # the distinct (I -> S1, L -> S2) pairs (S1 may have several hops to L), sorted
    key = np.unique(first[parent[keep]].astype(np.int64) * network.n_hops + h2[keep])
    if key.size == 0:
        return EventSet.empty()
    pairs = np.column_stack([key // network.n_hops, key % network.n_hops])
    n = pairs.shape[0]
    hops = np.concatenate([pairs, network.hop_rev[pairs]])  # the reverses: S1 -> I, S2 -> L
    reverse = np.concatenate([np.arange(n, 2 * n), np.arange(n)]).astype(np.int32)
    fwd = vec[pairs].reshape(-1, 3)
    return _hop_events(network, hops, vec, barrier, name, reverse,
                       np.concatenate([fwd, -fwd]))  # -0.0 as ever


# --------------------------------------------------------------------------------------------
# the registry of mechanism families
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Family:
    """A family of multi-ion events that a run configuration can name.

    Attributes
    ----------
    name : str
        The name in ``mechanisms`` (and of the option ``barrier_<name>``).
    build : callable
        ``build(network, barrier_eV) -> EventSet``: the family's events on a SiteNetwork,
        every event with the KRA barrier `barrier_eV` (eV); ConfigError if the network
        cannot have them.
    help : str
        What the family's barrier option means (for ``--help`` and the docs).
    """

    name: str
    build: Callable[[SiteNetwork, float], EventSet]
    help: str


#: The registered mechanism families by name, in registration order (single hops, "hop", are
#: the network's own and not a family).
FAMILIES: dict[str, Family] = {}


def family(name: str, help: str) -> Callable[[Callable[[SiteNetwork, float], EventSet]],
                                             Callable[[SiteNetwork, float], EventSet]]:
    """Register ``build(network, barrier_eV) -> EventSet`` as the mechanism family `name`.

    Raises
    ------
    ValueError
        If `name` is "hop" or already registered (a programming error, not user input).
    """
    def register(build: Callable[[SiteNetwork, float], EventSet]
                 ) -> Callable[[SiteNetwork, float], EventSet]:
        if name == "hop" or name in FAMILIES or not name.isidentifier():
            raise ValueError(f"mechanism family {name!r} is reserved, taken or not a name")
        FAMILIES[name] = Family(name, build, help)
        return build
    return register


@family("interstitialcy", "KRA barrier of interstitialcy events, eV")
def _interstitialcy_family(network: SiteNetwork, barrier_eV: float) -> EventSet:
    """An ion on an "interstitial" site pushes a lattice-site ion on (every other site type
    is a lattice site)."""
    names = network.site_type_names
    if "interstitial" not in names:
        raise ConfigError(
            f"interstitialcy needs interstitial sites: network {network.name!r} has the site "
            f"types {', '.join(names)} (none named 'interstitial')")
    lattice = [t for t in names if t != "interstitial"]
    return interstitialcy_events(network, "interstitial", lattice, barrier_eV)


def _register_concerted(k: int) -> None:
    @family(f"concerted{k}", f"KRA barrier of concerted {k}-ion string moves, eV")
    def _concerted(network: SiteNetwork, barrier_eV: float) -> EventSet:
        return concerted_events(network, k, barrier_eV)


for _k in range(_MIN_MOVES, MAX_MOVES_PER_EVENT + 1):
    _register_concerted(_k)
del _k
