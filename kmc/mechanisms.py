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

Set-up cost at 10^5..10^6 sites: the generators build the events from network hops in a few
numpy passes (int32 indices, bounded float64 temporaries) and know what they built: the
reverse of every event (looked up, not searched), that there are no duplicates, and that the
moves pass the per-move checks of :meth:`EventSet.validate_for` for the network they came
from. An EventSet keeps these facts, :meth:`EventSet.concatenate` combines them, and an
EventSet rebuilt from another one's (immutable) arrays -- as
:meth:`~kmc.lattice.SiteNetwork.with_events` does -- shares them instead of validating and
searching again. Events given by the user (:meth:`EventSet.from_lists`, raw arrays) are
validated and their reverses searched (hash keys, exact verification).
"""

from __future__ import annotations

import math
import numbers
import weakref
from collections.abc import Callable, Sequence
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
_CHUNK = 1 << 20  # rows per block of float64 temporaries (about 24 MB per (n, 3) array)
_ARRAY_FIELDS = ("ptr", "src", "dst", "vectors", "barriers_eV", "types")


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
    """A read-only view of `arr` (contiguous) whose base is read-only too, so that the
    WRITEABLE flag cannot be set again: the data of an EventSet never changes."""
    base = np.ascontiguousarray(arr)
    root = base
    while isinstance(root.base, np.ndarray):  # views of our own fresh arrays: freeze the owner
        root = root.base
    root.flags.writeable = False
    base.flags.writeable = False
    out = base.view()
    out.flags.writeable = False
    return out


def _take_rows(arr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``arr[idx]`` for a C-contiguous 2-D `arr` and 1-D `idx`, shape (idx.size, arr.shape[1]):
    the rows taken as opaque records, several times faster than fancy indexing of rows."""
    arr = np.ascontiguousarray(arr)
    rec = arr.view(np.dtype((np.void, arr.shape[1] * arr.itemsize))).reshape(-1)
    return np.take(rec, idx).view(arr.dtype).reshape(-1, arr.shape[1])


def _check_n_moves(n_moves: int) -> None:
    if n_moves > _INDEX_LIMIT:
        raise ConfigError(f"the events have {n_moves} moves; at most {_INDEX_LIMIT} fit in the "
                          "int32 offsets ptr")


def _mix(a: np.ndarray, b: np.ndarray, v: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each move (a, b, v): sites a, b (int) and quantised vector v (int64,
    shape (..., 3)). Sums of these over an event's moves are order-independent keys."""
    with np.errstate(over="ignore"):
        h = (a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
             ^ b.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F))
        for k in range(3):
            h = (h ^ (v[..., k].astype(np.uint64) + np.uint64(0x165667B19E3779F9)
                      * np.uint64(k + 1))) * np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(29)
    return h


def _vector_defects(pos: np.ndarray, cell: np.ndarray, src: np.ndarray, dst: np.ndarray,
                    vec: np.ndarray) -> tuple[int, int]:
    """First move with a vector shorter than 1e-8 A and first move whose vector is not
    ``pos[dst] - pos[src]`` plus a lattice vector (1e-5 in cell units); -1 if none.

    Row by row with elementwise arithmetic only, in blocks of `_CHUNK` rows, so the result of
    a move does not depend on where it sits in the arrays (the generators check each hop
    once, :meth:`EventSet.validate_for` each move: the same numbers).
    """
    inv = np.linalg.inv(cell)
    short = image = -1
    for a in range(0, src.shape[0], _CHUNK):
        b = min(src.shape[0], a + _CHUNK)
        v = vec[a:b]
        v0, v1, v2 = v[:, 0], v[:, 1], v[:, 2]
        if short < 0:
            bad = np.flatnonzero(v0 * v0 + v1 * v1 + v2 * v2 < _ZERO_HOP_A**2)
            if bad.size:
                short = a + int(bad[0])
        if image < 0:
            d = v - (_take_rows(pos, dst[a:b]) - _take_rows(pos, src[a:b]))
            worst = None
            for k in range(3):
                f = d[:, 0] * inv[0, k] + d[:, 1] * inv[1, k] + d[:, 2] * inv[2, k]
                f = np.abs(f - np.rint(f))
                worst = f if worst is None else np.maximum(worst, f)
            bad = np.flatnonzero(worst > _IMAGE_TOL)
            if bad.size:
                image = a + int(bad[0])
        if short >= 0 and image >= 0:
            break
    return short, image


class _Facts:
    """What is known about an EventSet's (immutable) arrays, shared by the EventSets that
    hold the same arrays: the reverse index, that there are no duplicate events, and the
    (cell, positions) of a network for which the per-move checks of validate_for pass."""

    __slots__ = ("reverse", "unique", "cell", "positions")

    def __init__(self, reverse: np.ndarray | None = None, unique: bool = False,
                 cell: np.ndarray | None = None, positions: np.ndarray | None = None) -> None:
        self.reverse, self.unique = reverse, unique
        self.cell, self.positions = cell, positions

    def valid_for(self, network: SiteNetwork) -> bool:
        """The per-move checks are known to pass for `network` (same cell and positions)."""
        return (self.positions is not None
                and self.positions.shape == network.positions.shape
                and np.array_equal(self.cell, network.cell)
                and np.array_equal(self.positions, network.positions))

    def same_network(self, other: _Facts) -> bool:
        return (self.positions is not None and other.positions is not None
                and self.positions.shape == other.positions.shape
                and np.array_equal(self.cell, other.cell)
                and np.array_equal(self.positions, other.positions))


#: The EventSet holding each frozen ``src`` array (by id), to recognise its arrays when they
#: come back (SiteNetwork.with_events passes an EventSet's arrays to a new network, which
#: builds an EventSet from them again).
_HOLDERS: weakref.WeakValueDictionary[int, EventSet] = weakref.WeakValueDictionary()


# --------------------------------------------------------------------------------------------
# EventSet
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EventSet:
    """Multi-ion events as flat CSR arrays (validated, copied and made read-only).

    The moves of event ``e`` are ``ptr[e]:ptr[e + 1]``. Structural checks happen on
    construction; checks against a network (site range, vectors, reverses) in
    :meth:`validate_for`. Every problem raises :class:`~kmc.errors.ConfigError`.

    An EventSet built from the very arrays of another one (the arrays of an EventSet are
    read-only and never change) shares them, and what is known about them, without checking
    or copying again.

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
        holder = _HOLDERS.get(id(self.src))
        if holder is not None and holder._holds(self):
            set_(self, "type_names", holder.type_names)
            set_(self, "_facts", holder._facts)
            _HOLDERS[id(self.src)] = self
            return
        ptr = _ints(self.ptr, "ptr")
        if ptr.shape[0] < 1 or ptr[0] != 0:
            first = _fmt(ptr[0]) if ptr.size else "missing"
            raise ConfigError(f"ptr[0] is {first}; ptr must start with 0")
        n_e = ptr.shape[0] - 1
        counts = np.diff(ptr.astype(np.int64))
        if n_e and (counts.min() < _MIN_MOVES or counts.max() > MAX_MOVES_PER_EVENT):
            bad = (counts < _MIN_MOVES) | (counts > MAX_MOVES_PER_EVENT)
            e = int(np.flatnonzero(bad)[0])
            raise ConfigError(
                f"event {e} has {int(ptr[e + 1]) - int(ptr[e])} moves (ptr[{e}] = {ptr[e]}, "
                f"ptr[{e + 1}] = {ptr[e + 1]}); an event has {_MIN_MOVES}..{MAX_MOVES_PER_EVENT}"
                " moves (single hops are the network's hops, not events)"
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
        if n_e and (types.min() < 0 or types.max() >= len(names)):
            e = int(np.flatnonzero((types < 0) | (types >= len(names)))[0])
            raise ConfigError(
                f"types[{e}] = {types[e]} is out of range; type_names has {len(names)} names"
            )
        for field, arr in zip(_ARRAY_FIELDS, (ptr, src, dst, vec, bar, types), strict=True):
            set_(self, field, _freeze(arr))
        set_(self, "type_names", names)
        set_(self, "_facts", _Facts())
        _HOLDERS[id(self.src)] = self

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickling (and copy): the arrays come back writeable; make them read-only again
        (in place, so that a network's event arrays stay the same objects)."""
        self.__dict__.update(state)
        facts = state.get("_facts")
        arrays = [getattr(self, f) for f in _ARRAY_FIELDS]
        arrays += [a for a in (getattr(facts, "reverse", None), state.get("_reverse"))
                   if isinstance(a, np.ndarray)]
        for arr in arrays:
            root = arr
            while isinstance(root.base, np.ndarray):
                root = root.base
            root.flags.writeable = False
            arr.flags.writeable = False
        _HOLDERS[id(self.src)] = self

    def _holds(self, other: EventSet) -> bool:
        """`other` was given exactly this set's arrays (the same objects) and type names."""
        tn = other.type_names
        return (all(getattr(other, f) is getattr(self, f) for f in _ARRAY_FIELDS)
                and isinstance(tn, (tuple, list)) and tuple(tn) == self.type_names)

    @classmethod
    def _trusted(cls, ptr: np.ndarray, src: np.ndarray, dst: np.ndarray, vectors: np.ndarray,
                 barriers_eV: np.ndarray, types: np.ndarray, type_names: tuple[str, ...],
                 facts: _Facts | None = None) -> EventSet:
        """An EventSet from arrays known to be structurally valid, without checks or copies
        (internal: the generators and :meth:`concatenate`; the arrays must not be used
        elsewhere, or be read-only arrays of another EventSet)."""
        self = object.__new__(cls)
        set_ = object.__setattr__
        for field, arr, dt in zip(_ARRAY_FIELDS, (ptr, src, dst, vectors, barriers_eV, types),
                                  (np.int32, np.int32, np.int32, np.float64, np.float64,
                                   np.int32), strict=True):
            set_(self, field, _freeze(np.asarray(arr, dtype=dt)))
        set_(self, "type_names", tuple(type_names))
        set_(self, "_facts", _Facts() if facts is None else facts)
        _HOLDERS[id(self.src)] = self
        return self

    # ---------------------------------------------------------------- constructors
    @classmethod
    def empty(cls) -> EventSet:
        """An event set without events."""
        z = np.zeros(0, dtype=np.int32)
        return cls(np.zeros(1, np.int32), z, z, np.zeros((0, 3)), np.zeros(0), z, ())

    @classmethod
    def concatenate(cls, *sets: EventSet) -> EventSet:
        """All events of `sets` in order; type names are merged by name (first seen first).

        What is known about the parts carries over: their reverse indices (shifted), and
        that the moves pass the checks against a network if they do so for all parts. The
        arrays of a single non-empty part whose type indices stay are shared, not copied.
        """
        for k, s in enumerate(sets):
            if not isinstance(s, EventSet):
                raise ConfigError(f"argument {k} is a {type(s).__name__}, not an EventSet")
        if not sets:
            return cls.empty()
        names: list[str] = []
        for s in sets:
            names.extend(nm for nm in s.type_names if nm not in names)
        remaps = [np.array([names.index(nm) for nm in s.type_names], dtype=np.int32)
                  for s in sets]
        parts = [(s, r) for s, r in zip(sets, remaps) if s.n_events]
        if len(parts) == 1 and np.array_equal(parts[0][1], np.arange(parts[0][1].size)):
            s = parts[0][0]
            return cls._trusted(s.ptr, s.src, s.dst, s.vectors, s.barriers_eV, s.types,
                                tuple(names), s._facts)
        n_moves = sum(s.n_moves for s, _ in parts)
        _check_n_moves(n_moves)
        ptrs, revs, off_m, off_e = [np.zeros(1, np.int32)], [], 0, 0
        for s, _ in parts:
            ptrs.append(s.ptr[1:] + np.int32(off_m))
            if s._facts.reverse is not None:
                revs.append(s._facts.reverse + np.int32(off_e))
            off_m += s.n_moves
            off_e += s.n_events
        facts = _Facts()
        if parts and len(revs) == len(parts):
            facts.reverse = _freeze(np.concatenate(revs))
            facts.unique = len(parts) == 1
        first = parts[0][0]._facts if parts else None
        if first is not None and all(first.same_network(s._facts) for s, _ in parts):
            facts.cell, facts.positions = first.cell, first.positions

        def cat(field: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
            arrs = [getattr(s, field) for s, _ in parts]
            return np.concatenate(arrs) if arrs else np.zeros(shape, dtype)

        types = [r[s.types] for s, r in parts]
        return cls._trusted(
            np.concatenate(ptrs), cat("src", (0,), np.int32), cat("dst", (0,), np.int32),
            cat("vectors", (0, 3), np.float64), cat("barriers_eV", (0,), np.float64),
            np.concatenate(types) if types else np.zeros(0, np.int32), tuple(names), facts)

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
        """Event index of each move, shape (n_moves,) int32."""
        return np.repeat(np.arange(self.n_events, dtype=np.int32), np.diff(self.ptr))

    @cached_property
    def _counts(self) -> np.ndarray:
        """Number of moves of each event, shape (n_events,) int32."""
        return np.diff(self.ptr)

    @cached_property
    def _uniform(self) -> int:
        """The move count if all events have the same number of moves, else 0."""
        c = self._counts
        return int(c[0]) if c.size and c.min() == c.max() else 0

    def _rows(self, arr: np.ndarray, events: np.ndarray | None, c: int) -> np.ndarray:
        """``arr`` (per move, shape (n_moves, ...)) of the moves of `events` (all with c
        moves; None = all events), shape (len(events), c, ...)."""
        if self._uniform == c:
            if events is None:
                return arr.reshape(-1, c, *arr.shape[1:])
            flat = arr.reshape(self.n_events, -1)
            return _take_rows(flat, events).reshape(-1, c, *arr.shape[1:])
        if events is None:
            events = np.flatnonzero(self._counts == c)
        idx = (self.ptr[events][:, None] + np.arange(c, dtype=np.int32)).ravel()
        rows = np.take(arr, idx) if arr.ndim == 1 else _take_rows(arr, idx)
        return rows.reshape(-1, c, *arr.shape[1:])

    def _event_of(self, i: int) -> int:
        """Event of move i."""
        return int(np.searchsorted(self.ptr, i, side="right")) - 1

    def _describe(self, e: int) -> str:
        s, d, v = self.moves(int(e))
        mv = ", ".join(f"{a} -> {b} by {_fmt(np.round(x, 6))} A" for a, b, x in zip(s, d, v))
        return (f"event {int(e)} ({self.type_names[self.types[e]]!r}: {mv}; barrier "
                f"{float(self.barriers_eV[e])!r} eV)")

    # ---------------------------------------------------------------- reverses
    def _quantised(self) -> np.ndarray:
        """Move vectors on the 1e-6 Angstrom grid, shape (n_moves, 3) int64."""
        return np.rint(self.vectors / _VEC_QUANTUM_A).astype(np.int64)

    def _same(self, e1: np.ndarray, e2: np.ndarray, q: np.ndarray,
              reversed_: bool) -> np.ndarray:
        """Event e1[i]'s moves equal e2[i]'s (reversed_: e2[i]'s reversed moves ``dst ->
        src``, negated vectors) as sets, exactly (sites and quantised vectors `q`), for each
        i; a bool array. Each move of one event is looked for among the other's, both ways."""
        out = np.zeros(e1.shape[0], dtype=bool)
        cnt = self._counts
        for lo in range(0, e1.shape[0], _CHUNK):
            a_all, b_all = e1[lo:lo + _CHUNK], e2[lo:lo + _CHUNK]
            c1, c2 = cnt[a_all], cnt[b_all]
            for c in range(_MIN_MOVES, MAX_MOVES_PER_EVENT + 1):
                sel = np.flatnonzero((c1 == c) & (c2 == c))
                if sel.size == 0:
                    continue
                a, b = a_all[sel], b_all[sel]
                s1, d1, q1 = (self._rows(x, a, c) for x in (self.src, self.dst, q))
                s2, d2, q2 = (self._rows(x, b, c) for x in (self.src, self.dst, q))
                if reversed_:
                    s2, d2, q2 = d2, s2, -q2
                eq = [[(s1[:, i] == s2[:, j]) & (d1[:, i] == d2[:, j])
                       & np.all(q1[:, i] == q2[:, j], axis=1) for j in range(c)]
                      for i in range(c)]
                ok = np.ones(sel.size, dtype=bool)
                for i in range(c):
                    ok &= np.logical_or.reduce([eq[i][j] for j in range(c)])
                    ok &= np.logical_or.reduce([eq[j][i] for j in range(c)])
                out[lo + sel] = ok
        return out

    def _sorted_keys(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Order of the events by their move-set keys, and the sorted keys; raise if two
        events are duplicates."""
        fwd = np.add.reduceat(_mix(self.src, self.dst, q), self.ptr[:-1])
        order = np.argsort(fwd, kind="stable")
        sf = fwd[order]
        eq = np.flatnonzero(sf[1:] == sf[:-1])
        if eq.size:
            dup = self._same(order[eq], order[eq + 1], q, False)
            if dup.any():
                k = int(np.flatnonzero(dup)[0])
                e1, e2 = sorted((int(order[eq[k]]), int(order[eq[k] + 1])))
                raise ConfigError(f"events {e1} and {e2} are duplicates: {self._describe(e1)}")
        return order, sf

    def _search_reverse(self) -> np.ndarray:
        """The reverse of every event by search (the general case): an order-independent
        64-bit key of each event's set of moves (src, dst, quantised vector) and of its
        reversed set (dst, src, -vector), one sort, exact verification of every match."""
        n_e = self.n_events
        q = self._quantised()
        order, sf = self._sorted_keys(q)
        rvs = np.add.reduceat(_mix(self.dst, self.src, -q), self.ptr[:-1])
        # searchsorted with sorted queries: a merge-like pass instead of n random descents
        by_key = np.argsort(rvs)
        pos = np.empty(n_e, dtype=np.int64)
        pos[by_key] = np.searchsorted(sf, rvs[by_key])
        del by_key
        np.minimum(pos, n_e - 1, out=pos)
        rev = order[pos]
        ok = sf[pos] == rvs
        hit = np.flatnonzero(ok)
        ok[hit] = self._same(hit, rev[hit], q, True)
        for e in np.flatnonzero(~ok).tolist():  # a hash collision, or a missing reverse
            lo, hi = np.searchsorted(sf, rvs[e], "left"), np.searchsorted(sf, rvs[e], "right")
            cands = order[lo:hi]
            match = cands[self._same(np.full(cands.size, e), cands, q, True)]
            if match.size == 0:
                raise ConfigError(
                    f"{self._describe(e)} has no reverse event (the moves dst -> src with "
                    "negated vectors); every event needs its reverse for detailed balance")
            rev[e] = match[0]
        return rev.astype(np.int32)

    @cached_property
    def _reverse(self) -> np.ndarray:
        n_e = self.n_events
        if n_e == 0:
            return _freeze(np.zeros(0, np.int32))
        facts = self._facts
        if facts.reverse is None:
            rev = _freeze(self._search_reverse())  # also rules out duplicates
        else:
            rev = facts.reverse  # known from the generators
            if not facts.unique:
                self._sorted_keys(self._quantised())
        facts.reverse, facts.unique = rev, True
        b = self.barriers_eV
        if b.min() != b.max():
            br = b[rev]
            asym = np.abs(b - br) > 1e-12 + 1e-9 * np.maximum(np.abs(b), np.abs(br))
            if asym.any():
                e = int(np.flatnonzero(asym)[0])
                raise ConfigError(
                    f"{self._describe(e)} has barrier barriers_eV[{e}] = {float(b[e])!r} eV but "
                    f"its reverse event {int(rev[e])} has {float(br[e])!r} eV; they must be "
                    "equal"
                )
        return rev

    def reverse_index(self) -> np.ndarray:
        """Index of the reverse of each event, shape (n_events,) int32 (read-only).

        Events are matched by their canonical (sorted) tuple of moves ``(src, dst, vector)``
        with vectors rounded to 1e-6 Angstrom. The generators of this module know the
        reverses of their events; other events are searched (the same result).

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

        The per-move checks depend only on the network's cell and positions; they are
        skipped when they are known to pass for equal ones (events from the generators of
        this module on such a network, or validated before).
        """
        _check_network(network)
        facts = self._facts
        if self.n_events and not facts.valid_for(network):
            self._check_moves(network)
            facts.cell, facts.positions = network.cell.copy(), network.positions.copy()
        self.reverse_index()

    def _first_repeat(self, arr: np.ndarray) -> int:
        """First event in which a value of `arr` (per move) appears twice, or -1."""
        first = -1
        for c in range(_MIN_MOVES, MAX_MOVES_PER_EVENT + 1):
            if self._uniform and c != self._uniform:
                continue
            events = None if self._uniform else np.flatnonzero(self._counts == c)
            if events is not None and events.size == 0:
                continue
            rows = self._rows(arr, events, c)
            bad = np.zeros(rows.shape[0], dtype=bool)
            for i in range(c):
                for j in range(i + 1, c):
                    bad |= rows[:, i] == rows[:, j]
            hit = np.flatnonzero(bad)
            if hit.size:
                e = int(hit[0]) if events is None else int(events[hit[0]])
                first = e if first < 0 else min(first, e)
        return first

    def _check_moves(self, network: SiteNetwork) -> None:
        """The per-move checks of :meth:`validate_for`."""
        n = network.n_sites
        ptr, src, dst, vec = self.ptr, self.src, self.dst, self.vectors

        def where(i: int) -> str:
            e = self._event_of(i)
            return f"event {e} move {i - int(ptr[e])} ({src[i]} -> {dst[i]})"

        for arr, what in ((src, "source"), (dst, "target")):
            if arr.min() < 0 or arr.max() >= n:
                i = int(np.flatnonzero((arr < 0) | (arr >= n))[0])
                raise ConfigError(f"{where(i)}: {what} site {arr[i]} is out of range; the "
                                  f"network has {n} sites (0..{n - 1})")
        same = np.flatnonzero(src == dst)
        if same.size:
            raise ConfigError(f"{where(int(same[0]))} goes from site {src[same[0]]} to itself")
        for arr, what in ((src, "source"), (dst, "target")):
            e = self._first_repeat(arr)
            if e >= 0:
                vals, reps = np.unique(arr[ptr[e]:ptr[e + 1]], return_counts=True)
                raise ConfigError(f"event {e}: {what} site {vals[reps > 1][0]} appears twice; "
                                  f"the {what}s of an event must be distinct")
        pos, cell = network.positions, network.cell
        short, image = _vector_defects(pos, cell, src, dst, vec)
        if short >= 0:
            raise ConfigError(f"{where(short)} has a zero-length vector {_fmt(vec[short])} A")
        if image >= 0:
            i = image
            frac = (vec[i] - (pos[dst[i]] - pos[src[i]])) @ np.linalg.inv(cell)
            raise ConfigError(
                f"{where(i)}: vector {_fmt(vec[i])} A is not positions[{dst[i]}] - "
                f"positions[{src[i]}] plus a lattice vector (image in cell units "
                f"{_fmt(np.round(frac, 6))} is not integer)"
            )

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
    """Hop vectors symmetrised so that a hop and its reverse have exactly opposite vectors:
    ``(v_h - v_rev(h)) / 2`` in Angstrom, shape (m, 3)."""
    v = network.hop_vectors
    out = v - v[network.hop_rev]
    out *= 0.5
    return out


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


def _vector_classes(vec: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The distinct rows of `vec` (bit for bit) if there are at most `_MAX_VECTOR_CLASSES`:
    the class of each row, shape (m,) int32, and one representative row index per class;
    None if there are more (or hashing cannot tell them apart).

    Lattices have few distinct hop vectors; they are found from a 64-bit hash of the bits
    of each row (the classes of the first 4096 rows, all rows if some row is not among
    them) and verified exactly.
    """
    m = vec.shape[0]
    if m == 0:
        return None
    bits = np.ascontiguousarray(vec).view(np.uint64)
    with np.errstate(over="ignore"):
        key = (bits[:, 0] * np.uint64(0x9E3779B97F4A7C15)
               ^ (bits[:, 1] * np.uint64(0xC2B2AE3D27D4EB4F) + np.uint64(0x165667B19E3779F9))
               ^ (bits[:, 2] * np.uint64(0xBF58476D1CE4E5B9) + np.uint64(0x94D049BB133111EB)))
        key ^= key >> np.uint64(31)
    for sample in (key[:4096], key):
        uk = np.unique(sample)
        if uk.size > _MAX_VECTOR_CLASSES:
            return None
        cls = np.searchsorted(uk, key).astype(np.int32)
        np.minimum(cls, uk.size - 1, out=cls)
        if np.array_equal(uk[cls], key):
            break
    else:  # pragma: no cover - the full key set always covers every row
        return None
    rep = np.zeros(uk.size, dtype=np.int64)
    rep[cls] = np.arange(m)
    if not np.array_equal(bits, _take_rows(bits, rep[cls])):
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
    cols : list of ndarray of int32
        Hop index of step j of every path, j = 0..k-1 (each shape (n_paths,)).
    """

    def __init__(self, network: SiteNetwork, first: np.ndarray, k: int,
                 accept: _Accept) -> None:
        self.network = network
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
                parent[n_kept:n_kept + m] = par[keep]
                nxt[n_kept:n_kept + m] = nx[keep]
                n_kept += m
                p0 = p1
            self.levels.append((cfirst.astype(it), new_index))
            parent, nxt = parent[:n_kept], nxt[:n_kept]
            if level == 2 and self.identity_first:
                cols = [parent.astype(np.int32, copy=False), nxt]  # first[parent] = parent
            else:
                cols = [np.take(c, parent) for c in cols] + [nxt]
            if level < k:
                sites = [np.take(x, parent) for x in sites] + [np.take(hdst, nxt)]
        self.cols = cols

    def _slot(self) -> np.ndarray:
        """Position of every hop in its source's hop list, shape (n_hops,) int32."""
        net = self.network
        return (np.arange(net.n_hops, dtype=np.int32)
                - np.take(net.hop_ptr, net.hop_src)).astype(np.int32, copy=False)

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
        hops = [np.take(rev, c) for c in reversed(self.cols)]
        idx = self.index(hops)
        if idx.size and idx.min() < 0:
            return None
        return idx.astype(np.int32, copy=False)

    def events(self, vec: np.ndarray, barrier: float, name: str,
               reverse: np.ndarray | None) -> EventSet:
        """EventSet whose event e has the moves of path e (hop sources, targets and the
        vectors `vec` of its hops, Angstrom), with the reverses if known."""
        k = len(self.cols)
        hops = np.empty((self.cols[0].size, k), dtype=np.int32)
        for j, c in enumerate(self.cols):
            hops[:, j] = c
        self.cols = []  # no longer needed: free them before the event arrays are made
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
    flat = hops.reshape(-1).astype(np.intp)  # take() would convert int32 indices each time
    del hops
    return EventSet._trusted(
        np.arange(n + 1, dtype=np.int32) * np.int32(k), np.take(network.hop_src, flat),
        np.take(network.hop_dst, flat),
        _take_rows(vec, flat) if move_vectors is None else move_vectors, np.full(n, barrier),
        np.zeros(n, np.int32), (name,), facts)


def concerted_events(network: SiteNetwork, k: int, barrier_eV: float, *,
                     max_turn_deg: float = 90.0, site_types: Any = None,
                     name: str | None = None) -> EventSet:
    """Concerted k-ion string moves along paths of k network hops.

    Every path ``s_0 -> s_1 -> ... -> s_k`` of k hops through k + 1 distinct sites gives one
    event: the ion on ``s_{i-1}`` moves to ``s_i`` (i = 1..k) by the hop vector. The reverse
    string (the reversed path) is also enumerated, so the set is closed under reversal; the
    reverse index is built with the events (no search).

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
