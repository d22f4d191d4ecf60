"""Multi-ion events: concerted string moves and interstitialcy (knock-on) mechanisms.

Units: Angstrom (lengths), eV (energies).

An event is a set of k = 2..4 simultaneous moves ``a_1 -> b_1, ..., a_k -> b_k`` with one
KRA barrier. It is allowed when every source ``a_m`` is occupied and every target ``b_m`` is
empty or one of the event's own sources (vacated by the same event). Each move carries its
real displacement vector through the periodic boundary (Angstrom). Every event needs its
reverse (the moves ``b_m -> a_m`` with negated vectors, as a set) with the same barrier, for
detailed balance. Single hops are the network's hops, not events.

:class:`EventSet` holds events as flat CSR arrays; :func:`concerted_events`,
:func:`interstitialcy_events` and :func:`split_interstitialcy_events` generate them from a
:class:`~kmc.lattice.SiteNetwork` (vectorised), :meth:`EventSet.from_lists` takes explicit
lists.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .errors import ConfigError
from .lattice import (
    _IMAGE_TOL,
    _INDEX_LIMIT,
    _ZERO_HOP_A,
    SiteNetwork,
    _float_array,
    _fmt,
    _int_array,
    _names,
    _owned,
)

__all__ = ["MAX_MOVES_PER_EVENT", "EventSet", "concerted_events", "interstitialcy_events",
           "split_interstitialcy_events"]

#: Maximum number of simultaneous moves of one event.
MAX_MOVES_PER_EVENT = 4
_MIN_MOVES = 2
_VEC_QUANTUM_A = 1e-6  # Angstrom: vectors are rounded to this grid to match reverses
_ANGLE_TOL_DEG = 1e-6


def _ints(value: Any, name: str, length: int | None = None) -> np.ndarray:
    """An owned 1-D int32 array (floats must hold integers)."""
    arr = _int_array(value, name, length)
    if arr.size and (arr.min() < -_INDEX_LIMIT or arr.max() > _INDEX_LIMIT):
        i = int(np.argmax(np.abs(arr.astype(np.float64))))
        raise ConfigError(f"{name}[{i}] = {arr[i]} does not fit in int32")
    return _owned(arr, value, np.int32)


def _real(value: Any, name: str, lo: float = 0.0, hi: float = math.inf) -> float:
    """A finite real number in [lo, hi] (ConfigError naming the value otherwise)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    x = float(value)
    if not (math.isfinite(x) and lo <= x <= hi):
        rng = f">= {lo:g}" if hi == math.inf else f"in [{lo:g}, {hi:g}]"
        raise ConfigError(f"{name} = {value!r} must be finite and {rng}")
    return x


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _freeze(arr: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(arr)
    arr.flags.writeable = False
    return arr


# --------------------------------------------------------------------------------------------
# EventSet
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EventSet:
    """Multi-ion events as flat CSR arrays (validated, copied and made read-only).

    The moves of event ``e`` are ``ptr[e]:ptr[e + 1]``. Structural checks happen on
    construction; checks against a network (site range, vectors, reverses) in
    :meth:`validate_for`. Every problem raises :class:`~kmc.errors.ConfigError`.

    Parameters
    ----------
    ptr : array_like of int, shape (n_events + 1,)
        CSR offsets: ``ptr[0] = 0``, non-decreasing, ``ptr[-1] = n_moves``; every event has
        2..4 moves.
    src, dst : array_like of int, shape (n_moves,)
        Source and target site of each move.
    vectors : array_like, shape (n_moves, 3)
        Real displacement of each move in Angstrom (through the periodic boundary).
    barriers_eV : array_like, shape (n_events,)
        KRA barrier of each event in eV, finite and ``>= 0``.
    types : array_like of int, shape (n_events,)
        Event type index into `type_names`.
    type_names : tuple of str
        Unique non-empty names of the event types.
    """

    ptr: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    vectors: np.ndarray
    barriers_eV: np.ndarray
    types: np.ndarray
    type_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        ptr = _ints(self.ptr, "ptr")
        if ptr.shape[0] < 1 or ptr[0] != 0:
            first = _fmt(ptr[0]) if ptr.size else "missing"
            raise ConfigError(f"ptr[0] is {first}; ptr must start with 0")
        n_e = ptr.shape[0] - 1
        counts = np.diff(ptr.astype(np.int64))
        bad = (counts < _MIN_MOVES) | (counts > MAX_MOVES_PER_EVENT)
        if bad.any():
            e = int(np.flatnonzero(bad)[0])
            raise ConfigError(
                f"event {e} has {int(counts[e])} moves (ptr[{e}] = {ptr[e]}, ptr[{e + 1}] = "
                f"{ptr[e + 1]}); an event has {_MIN_MOVES}..{MAX_MOVES_PER_EVENT} moves (single "
                "hops are the network's hops, not events)"
            )
        n_m = int(ptr[-1])
        src = _ints(self.src, "src")
        if src.shape[0] != n_m:
            raise ConfigError(f"src has {src.shape[0]} entries but ptr[-1] = {n_m}; must match")
        dst = _ints(self.dst, "dst", n_m)
        vec = _float_array(self.vectors, "vectors", (n_m, 3))
        bar = _float_array(self.barriers_eV, "barriers_eV", (n_e,))
        if n_e and bar.min() < 0:
            e = int(np.flatnonzero(bar < 0)[0])
            raise ConfigError(f"barriers_eV[{e}] is {_fmt(bar[e])}; barriers must be >= 0")
        tn = self.type_names
        names = () if isinstance(tn, (tuple, list)) and not tn else _names(tn, "type_names")
        types = _ints(self.types, "types", n_e)
        bad = (types < 0) | (types >= len(names))
        if bad.any():
            e = int(np.flatnonzero(bad)[0])
            raise ConfigError(
                f"types[{e}] = {types[e]} is out of range; type_names has {len(names)} names"
            )
        for field, arr in (("ptr", ptr), ("src", src), ("dst", dst), ("vectors", vec),
                           ("barriers_eV", bar), ("types", types)):
            set_(self, field, _freeze(arr))
        set_(self, "type_names", names)

    # ---------------------------------------------------------------- constructors
    @classmethod
    def empty(cls) -> EventSet:
        """An event set without events."""
        z = np.zeros(0, dtype=np.int32)
        return cls(np.zeros(1, np.int32), z, z, np.zeros((0, 3)), np.zeros(0), z, ())

    @classmethod
    def concatenate(cls, *sets: EventSet) -> EventSet:
        """All events of `sets` in order; type names are merged by name (first seen first)."""
        for k, s in enumerate(sets):
            if not isinstance(s, EventSet):
                raise ConfigError(f"argument {k} is a {type(s).__name__}, not an EventSet")
        if not sets:
            return cls.empty()
        names: list[str] = []
        types, ptrs, off = [], [np.zeros(1, np.int64)], 0
        for s in sets:
            for nm in s.type_names:
                if nm not in names:
                    names.append(nm)
            remap = np.array([names.index(nm) for nm in s.type_names], dtype=np.int32)
            types.append(remap[s.types] if s.n_events else np.zeros(0, np.int32))
            ptrs.append(s.ptr[1:].astype(np.int64) + off)
            off += s.n_moves
        return cls(
            np.concatenate(ptrs), np.concatenate([s.src for s in sets]),
            np.concatenate([s.dst for s in sets]), np.concatenate([s.vectors for s in sets]),
            np.concatenate([s.barriers_eV for s in sets]), np.concatenate(types), tuple(names),
        )

    @classmethod
    def from_lists(cls, events: Sequence[Sequence[tuple[int, int, Any]]], type_name: str,
                   barrier_eV: float | Sequence[float]) -> EventSet:
        """Events from explicit lists.

        Parameters
        ----------
        events : sequence of sequences of (src, dst, vector)
            Each event is a list of 2..4 moves ``(src site, dst site, vector (3,) Angstrom)``.
        type_name : str
            Type name of all these events.
        barrier_eV : float or sequence of float
            KRA barrier in eV, one for all or one per event.

        Returns
        -------
        EventSet
            Not yet checked against a network: call :meth:`validate_for`.
        """
        name = _name(type_name, "type_name")
        ptr, src, dst, vec = [0], [], [], []
        for e, ev in enumerate(events):
            for j, mv in enumerate(ev):
                if isinstance(mv, str) or not isinstance(mv, Sequence) or len(mv) != 3:
                    raise ConfigError(f"events[{e}][{j}] = {mv!r} must be (src, dst, vector)")
                try:
                    v = None if isinstance(mv[2], str) else np.asarray(mv[2], dtype=np.float64)
                except (TypeError, ValueError):
                    v = None
                if v is None or v.shape != (3,):
                    raise ConfigError(f"events[{e}][{j}] vector {mv[2]!r} must have 3 entries")
                src.append(mv[0])
                dst.append(mv[1])
                vec.append(v)
            ptr.append(ptr[-1] + len(ev))
        n_e = len(ptr) - 1
        if np.ndim(barrier_eV) == 0:
            bar = np.full(n_e, _real(barrier_eV, "barrier_eV"))
        else:
            bar = _float_array(barrier_eV, "barrier_eV", (n_e,))
        return cls(ptr, src, dst, np.reshape(vec, (len(vec), 3)), bar,
                   np.zeros(n_e, np.int32), (name,))

    # ---------------------------------------------------------------- sizes and access
    @property
    def n_events(self) -> int:
        """Number of events."""
        return int(self.ptr.shape[0] - 1)

    @property
    def n_moves(self) -> int:
        """Total number of moves of all events."""
        return int(self.src.shape[0])

    def moves(self, e: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The moves of event `e`: read-only views ``(src, dst, vectors)`` (vectors in A)."""
        if isinstance(e, (bool, np.bool_)) or not isinstance(e, numbers.Integral) \
                or not 0 <= e < self.n_events:
            raise IndexError(f"event index {e!r} is out of range (0..{self.n_events - 1})")
        a, b = int(self.ptr[e]), int(self.ptr[e + 1])
        return self.src[a:b], self.dst[a:b], self.vectors[a:b]

    @cached_property
    def _move_event(self) -> np.ndarray:
        """Event index of each move, shape (n_moves,) int64."""
        return np.repeat(np.arange(self.n_events), np.diff(self.ptr))

    def _describe(self, e: int) -> str:
        s, d, v = self.moves(int(e))
        mv = ", ".join(f"{a} -> {b} by {_fmt(np.round(x, 6))} A" for a, b, x in zip(s, d, v))
        return (f"event {int(e)} ({self.type_names[self.types[e]]!r}: {mv}; barrier "
                f"{float(self.barriers_eV[e])!r} eV)")

    # ---------------------------------------------------------------- reverses
    @cached_property
    def _canonical_moves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Moves of every event in a unique order (the sources of an event are distinct, so
        sorted by source), padded to (n_events, MAX_MOVES_PER_EVENT): src, dst and the
        quantised vectors; -1 / 0 in the padding. Also the move count of every event."""
        n_e = self.n_events
        ev = self._move_event
        order = np.lexsort((self.src, ev))
        slot = np.arange(self.n_moves) - self.ptr[ev[order]]
        src = np.full((n_e, MAX_MOVES_PER_EVENT), -1, dtype=np.int64)
        dst = np.full((n_e, MAX_MOVES_PER_EVENT), -1, dtype=np.int64)
        q = np.zeros((n_e, MAX_MOVES_PER_EVENT, 3), dtype=np.int64)
        src[ev[order], slot] = self.src[order]
        dst[ev[order], slot] = self.dst[order]
        q[ev[order], slot] = np.rint(self.vectors[order] / _VEC_QUANTUM_A).astype(np.int64)
        return src, dst, q, np.diff(self.ptr).astype(np.int64)

    @cached_property
    def _reverse(self) -> np.ndarray:
        n_e = self.n_events
        if n_e == 0:
            return _freeze(np.zeros(0, np.int32))
        src, dst, q, count = self._canonical_moves
        # an order-independent 64-bit key of each event's set of moves (src, dst, vector) and
        # of its reversed set (dst, src, -vector): a sum of mixed move hashes
        def mix(a: np.ndarray, b: np.ndarray, v: np.ndarray) -> np.ndarray:
            with np.errstate(over="ignore"):
                h = (a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
                     ^ b.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F))
                for k in range(3):
                    h = (h ^ (v[..., k].astype(np.uint64) + np.uint64(0x165667B19E3779F9) * np.uint64(k + 1))) \
                        * np.uint64(0xBF58476D1CE4E5B9)
                    h ^= h >> np.uint64(29)
            return h

        used = src >= 0
        with np.errstate(over="ignore"):
            fwd = np.where(used, mix(src, dst, q), np.uint64(0)).sum(axis=1, dtype=np.uint64)
            rvs = np.where(used, mix(dst, src, -q), np.uint64(0)).sum(axis=1, dtype=np.uint64)
        order = np.argsort(fwd, kind="stable")
        sf = fwd[order]

        def same(e1: np.ndarray, e2: np.ndarray, reversed_: bool) -> np.ndarray:
            """Event e1's moves equal e2's (reversed_: e2's reversed moves), exactly."""
            if not reversed_:
                return (np.all(src[e1] == src[e2], axis=1) & np.all(dst[e1] == dst[e2], axis=1)
                        & np.all(q[e1] == q[e2], axis=(1, 2)) & (count[e1] == count[e2]))
            # e2 reversed, re-sorted by its new sources (e2's destinations, also distinct)
            o = np.argsort(np.where(dst[e2] >= 0, dst[e2], np.iinfo(np.int64).max), axis=1)
            r_src = np.take_along_axis(dst[e2], o, axis=1)
            r_dst = np.take_along_axis(src[e2], o, axis=1)
            r_q = -np.take_along_axis(q[e2], o[..., None], axis=1)
            return (np.all(src[e1] == r_src, axis=1) & np.all(dst[e1] == r_dst, axis=1)
                    & np.all(q[e1] == r_q, axis=(1, 2)) & (count[e1] == count[e2]))

        eq = np.flatnonzero(sf[1:] == sf[:-1])
        if eq.size:
            dup = same(order[eq], order[eq + 1], False)
            if dup.any():
                k = int(np.flatnonzero(dup)[0])
                e1, e2 = sorted((int(order[eq[k]]), int(order[eq[k] + 1])))
                raise ConfigError(f"events {e1} and {e2} are duplicates: {self._describe(e1)}")
        pos = np.minimum(np.searchsorted(sf, rvs), n_e - 1)
        rev = order[pos]
        ok = (sf[pos] == rvs) & same(np.arange(n_e), rev, True)
        bad = np.flatnonzero(~ok)
        if bad.size:  # a hash collision among candidates, or a missing reverse: look closer
            for e in bad.tolist():
                lo, hi = np.searchsorted(sf, rvs[e], "left"), np.searchsorted(sf, rvs[e], "right")
                cands = order[lo:hi]
                hit = cands[same(np.full(cands.size, e), cands, True)] if cands.size else cands
                if hit.size == 0:
                    raise ConfigError(
                        f"{self._describe(e)} has no reverse event (the moves dst -> src with "
                        "negated vectors); every event needs its reverse for detailed balance")
                rev[e] = hit[0]
        b, br = self.barriers_eV, self.barriers_eV[rev]
        asym = np.abs(b - br) > 1e-12 + 1e-9 * np.maximum(np.abs(b), np.abs(br))
        if asym.any():
            e = int(np.flatnonzero(asym)[0])
            raise ConfigError(
                f"{self._describe(e)} has barrier barriers_eV[{e}] = {float(b[e])!r} eV but its "
                f"reverse event {int(rev[e])} has {float(br[e])!r} eV; they must be equal"
            )
        return _freeze(rev.astype(np.int32))

    def reverse_index(self) -> np.ndarray:
        """Index of the reverse of each event, shape (n_events,) int32 (read-only).

        Events are matched by their canonical (sorted) tuple of moves ``(src, dst, vector)``
        with vectors rounded to 1e-6 Angstrom.

        Raises
        ------
        ConfigError
            Naming the event if its reverse is missing, has a different barrier, or if two
            events are duplicates.
        """
        return self._reverse

    # ---------------------------------------------------------------- validation
    def validate_for(self, network: SiteNetwork) -> None:
        """Check the events against `network`; raise ConfigError naming the first problem.

        Checks: site indices in ``0..n_sites-1``; no move from a site to itself; distinct
        sources and distinct targets within each event; every vector at least 1e-8 A long
        and equal to ``positions[dst] - positions[src]`` plus an integer combination of cell
        rows (1e-5 in cell units); every event has its reverse with the same barrier.
        """
        _check_network(network)
        n = network.n_sites
        ev, ptr = self._move_event, self.ptr
        src, dst, vec = self.src, self.dst, self.vectors

        def where(i: int) -> str:
            e = int(ev[i])
            return f"event {e} move {i - int(ptr[e])} ({src[i]} -> {dst[i]})"

        for arr, what in ((src, "source"), (dst, "target")):
            bad = np.flatnonzero((arr < 0) | (arr >= n))
            if bad.size:
                i = int(bad[0])
                raise ConfigError(f"{where(i)}: {what} site {arr[i]} is out of range; the "
                                  f"network has {n} sites (0..{n - 1})")
        same = np.flatnonzero(src == dst)
        if same.size:
            raise ConfigError(f"{where(int(same[0]))} goes from site {src[same[0]]} to itself")
        for arr, what in ((src, "source"), (dst, "target")):
            order = np.lexsort((arr, ev))
            a, e_s = arr[order], ev[order]
            dup = np.flatnonzero((a[1:] == a[:-1]) & (e_s[1:] == e_s[:-1]))
            if dup.size:
                i = int(order[dup[0]])
                raise ConfigError(f"event {int(ev[i])}: {what} site {arr[i]} appears twice; "
                                  f"the {what}s of an event must be distinct")
        short = np.flatnonzero(np.einsum("ij,ij->i", vec, vec) < _ZERO_HOP_A**2)
        if short.size:
            i = int(short[0])
            raise ConfigError(f"{where(i)} has a zero-length vector {_fmt(vec[i])} A")
        pos = network.positions
        frac = (vec - (pos[dst] - pos[src])) @ np.linalg.inv(network.cell)
        off = np.abs(frac - np.rint(frac)).max(axis=1) if self.n_moves else frac
        bad = np.flatnonzero(off > _IMAGE_TOL)
        if bad.size:
            i = int(bad[0])
            raise ConfigError(
                f"{where(i)}: vector {_fmt(vec[i])} A is not positions[{dst[i]}] - "
                f"positions[{src[i]}] plus a lattice vector (image in cell units "
                f"{_fmt(np.round(frac[i], 6))} is not integer)"
            )
        self.reverse_index()

    def __repr__(self) -> str:
        return (f"EventSet(n_events={self.n_events}, n_moves={self.n_moves}, "
                f"type_names={self.type_names})")


# --------------------------------------------------------------------------------------------
# generators
# --------------------------------------------------------------------------------------------


def _check_network(network: Any) -> None:
    if not isinstance(network, SiteNetwork):
        raise ConfigError(f"network must be a SiteNetwork, got {type(network).__name__}")


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
    """Hop vectors symmetrised so that a hop and its reverse have exactly opposite vectors."""
    v = network.hop_vectors
    return 0.5 * (v - v[network.hop_rev])


def _expand(network: SiteNetwork, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All continuations of hops `last`: (parent index into `last`, next hop), in order."""
    hptr = network.hop_ptr.astype(np.int64)
    mid = network.hop_dst[last]
    starts = hptr[mid]
    counts = hptr[mid + 1] - starts
    parent = np.repeat(np.arange(last.size), counts)
    first = np.cumsum(counts) - counts
    nxt = np.repeat(starts - first, counts) + np.arange(int(counts.sum()))
    return parent, nxt


def _angle_deg(v1: np.ndarray, v2: np.ndarray) -> np.ndarray:
    """Angle between rows of v1 and v2 in degrees (0 = parallel), accurate near 0."""
    cross = np.linalg.norm(np.cross(v1, v2), axis=1)
    return np.degrees(np.arctan2(cross, np.einsum("ij,ij->i", v1, v2)))


def _from_hop_paths(network: SiteNetwork, hops: np.ndarray, vec: np.ndarray,
                    barrier: float, name: str) -> EventSet:
    """EventSet whose event e has the moves hops[e, :] (network hops), shape (n, k)."""
    n, k = hops.shape
    return EventSet(
        ptr=np.arange(n + 1, dtype=np.int64) * k, src=network.hop_src[hops].ravel(),
        dst=network.hop_dst[hops].ravel(), vectors=vec[hops].reshape(-1, 3),
        barriers_eV=np.full(n, barrier), types=np.zeros(n, np.int32), type_names=(name,),
    )


def concerted_events(network: SiteNetwork, k: int, barrier_eV: float, *,
                     max_turn_deg: float = 90.0, site_types: Any = None,
                     name: str | None = None) -> EventSet:
    """Concerted k-ion string moves along paths of k network hops.

    Every path ``s_0 -> s_1 -> ... -> s_k`` of k hops through k + 1 distinct sites gives one
    event: the ion on ``s_{i-1}`` moves to ``s_i`` (i = 1..k) by the hop vector. The reverse
    string (the reversed path) is also enumerated, so the set is closed under reversal.

    Parameters
    ----------
    network : SiteNetwork
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
    EventSet
        Sorted by the hop indices of the path (first hop first); move vectors are the hop
        vectors (symmetrised: ``(v_h - v_rev(h)) / 2``) in Angstrom.
    """
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) \
            or not _MIN_MOVES <= k <= MAX_MOVES_PER_EVENT:
        raise ConfigError(f"k = {k!r} must be an integer in {_MIN_MOVES}..{MAX_MOVES_PER_EVENT}")
    k = int(k)
    barrier = _real(barrier_eV, "barrier_eV")
    max_turn = _real(max_turn_deg, "max_turn_deg", 0.0, 180.0)
    name = f"concerted{k}" if name is None else _name(name, "name")
    _check_network(network)
    hsrc, hdst = network.hop_src, network.hop_dst
    if site_types is None:
        ok_hop = np.ones(network.n_hops, dtype=bool)
    else:
        ok, _ = _site_mask(network, site_types, "site_types")
        ok_hop = ok[hsrc] & ok[hdst]
    vec = _sym_vectors(network)
    paths = np.flatnonzero(ok_hop)[:, None]
    sites = np.column_stack([hsrc[paths[:, 0]], hdst[paths[:, 0]]])
    for _ in range(k - 1):
        parent, nxt = _expand(network, paths[:, -1])
        keep = ok_hop[nxt]
        parent, nxt = parent[keep], nxt[keep]
        new = hdst[nxt]
        keep = np.all(sites[parent] != new[:, None], axis=1)
        keep &= _angle_deg(vec[paths[parent, -1]], vec[nxt]) <= max_turn + _ANGLE_TOL_DEG
        parent, nxt = parent[keep], nxt[keep]
        paths = np.column_stack([paths[parent], nxt])
        sites = np.column_stack([sites[parent], new[keep]])
    return _from_hop_paths(network, paths, vec, barrier, name)


def interstitialcy_events(network: SiteNetwork, interstitial_types: Any, lattice_types: Any,
                          barrier_eV: float, *, collinear: bool | None = None,
                          max_angle_deg: float = 20.0,
                          name: str = "interstitialcy") -> EventSet:
    """Interstitialcy (knock-on) events: I -> L and L -> I2 at the same time.

    The interstitial ion on site I pushes the lattice ion on L into another interstitial
    site I2 != I and takes L's place; both moves are network hops. The reverse (I2 -> L,
    L -> I) is also enumerated, so the set is closed under reversal.

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
    barrier = _real(barrier_eV, "barrier_eV")
    max_angle = _real(max_angle_deg, "max_angle_deg", 0.0, 180.0)
    name = _name(name, "name")
    if collinear is not None and not isinstance(collinear, (bool, np.bool_)):
        raise ConfigError(f"collinear = {collinear!r} must be True, False or None")
    _check_network(network)
    is_i, i_ids = _site_mask(network, interstitial_types, "interstitial_types")
    is_l, l_ids = _site_mask(network, lattice_types, "lattice_types")
    if i_ids & l_ids:
        raise ConfigError(f"site type {network.site_type_names[min(i_ids & l_ids)]!r} is in "
                          "both interstitial_types and lattice_types; they must be disjoint")
    hsrc, hdst = network.hop_src, network.hop_dst
    vec = _sym_vectors(network)
    h1 = np.flatnonzero(is_i[hsrc] & is_l[hdst])
    parent, h2 = _expand(network, h1)
    first = h1[parent]
    keep = is_i[hdst[h2]] & (hdst[h2] != hsrc[first])
    if collinear is not None:
        straight = _angle_deg(vec[first], vec[h2]) <= max_angle + _ANGLE_TOL_DEG
        keep &= straight if collinear else ~straight
    return _from_hop_paths(network, np.column_stack([first[keep], h2[keep]]), vec, barrier,
                           name)


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
        reverses in the same order; vectors are the (symmetrised) hop vectors in Angstrom.
    """
    barrier = _real(barrier_eV, "barrier_eV")
    name = _name(name, "name")
    _check_network(network)
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
    h1 = np.flatnonzero(is_i[hsrc] & is_s[hdst])              # I -> S1
    parent, to_l = _expand(network, h1)                        # S1 -> L
    keep = is_l[hdst[to_l]]
    first, to_l = h1[parent[keep]], to_l[keep]
    parent, h2 = _expand(network, to_l)                        # L -> S2
    keep = is_s[hdst[h2]] & (hdst[h2] != hdst[first[parent]])
    pairs = np.unique(np.column_stack([first[parent[keep]], h2[keep]]), axis=0)
    if pairs.size == 0:
        return EventSet.empty()
    fwd = _from_hop_paths(network, pairs, vec, barrier, name)
    k = pairs.shape[0]
    return EventSet(
        ptr=np.arange(2 * k + 1, dtype=np.int64) * 2,
        src=np.concatenate([fwd.src, fwd.dst]), dst=np.concatenate([fwd.dst, fwd.src]),
        vectors=np.concatenate([fwd.vectors, -fwd.vectors]),
        barriers_eV=np.full(2 * k, barrier), types=np.zeros(2 * k, np.int32),
        type_names=(name,))
