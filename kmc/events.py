"""Multi-ion events as data: :class:`EventSet` (flat CSR arrays, validated and read-only).

Units: Angstrom (lengths), eV (energies).

An event is a set of k = 2..4 simultaneous moves ``a_1 -> b_1, ..., a_k -> b_k`` with one
KRA barrier. It is allowed when every source ``a_m`` is occupied and every target ``b_m`` is
empty or one of the event's own sources (vacated by the same event). Each move carries its
real displacement vector through the periodic boundary (Angstrom). Every event needs its
reverse (the moves ``b_m -> a_m`` with negated vectors, as a set) with the same barrier, for
detailed balance. Single hops are the network's hops, not events.

:class:`EventSet` holds events as flat CSR arrays; the generators of :mod:`kmc.mechanisms`
(:func:`~kmc.mechanisms.concerted_events`, :func:`~kmc.mechanisms.interstitialcy_events`,
...) build them from a :class:`~kmc.lattice.SiteNetwork`, :meth:`EventSet.from_lists` takes
explicit lists. This module knows no network class: :meth:`EventSet.validate_for` reads a
network's ``n_sites``, ``cell`` and ``positions`` only, so :mod:`kmc.lattice` can hold
EventSets without an import loop.

Set-up cost at 10^5..10^6 sites: the generators know what they built: the reverse of every
event (looked up, not searched), that there are no duplicates, and that the moves pass the
per-move checks of :meth:`EventSet.validate_for` for the network they came from. An EventSet
keeps these facts, :meth:`EventSet.concatenate` combines them, and an EventSet rebuilt from
another one's (immutable) arrays -- as :meth:`~kmc.lattice.SiteNetwork.with_events` does --
shares them instead of validating and searching again. Events given by the user
(:meth:`EventSet.from_lists`, raw arrays) are validated and their reverses searched (hash
keys, exact verification).
"""

from __future__ import annotations

import numbers
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _checks
from .constants import IMAGE_TOL as _IMAGE_TOL
from .constants import INDEX_LIMIT as _INDEX_LIMIT
from .constants import MAX_EVENT_MOVES
from .constants import ZERO_HOP_A as _ZERO_HOP_A
from .errors import ConfigError, ConfigTypeError

if TYPE_CHECKING:  # annotations only: lattice imports this module
    from .lattice import SiteNetwork

__all__ = ["MAX_MOVES_PER_EVENT", "EventSet"]

#: Maximum number of simultaneous moves of one event (the engine's KMC_MAX_EVENT_MOVES).
MAX_MOVES_PER_EVENT = MAX_EVENT_MOVES
_MIN_MOVES = 2
_VEC_QUANTUM_A = 1e-6  # Angstrom: vectors are rounded to this grid to match reverses
_CHUNK = 1 << 20  # rows per block of float64 temporaries (about 24 MB per (n, 3) array)
_ARRAY_FIELDS = ("ptr", "src", "dst", "vectors", "barriers_eV", "types")


def _ints(value: Any, name: str, length: int | None = None) -> np.ndarray:
    """An owned 1-D int32 array (floats must hold integers)."""
    arr = _checks.int_array(value, name, length)
    if arr.size and (arr.min() < -_INDEX_LIMIT or arr.max() > _INDEX_LIMIT):
        i = int(np.argmax(np.abs(arr.astype(np.float64))))
        raise ConfigError(f"{name}[{i}] = {arr[i]} does not fit in int32")
    return _checks.owned(arr, value, np.int32)


def _freeze(arr: np.ndarray) -> np.ndarray:
    """A read-only view of `arr` (contiguous) whose base is read-only too, so that the
    WRITEABLE flag cannot be set again: the data of an EventSet never changes."""
    if arr.ndim == 1 and arr.shape[0] > 1 and arr.strides == (0,):
        base = arr  # one value broadcast (np.broadcast_to): kept so, not copied
    else:
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


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    """`a` and `b` are views of the same memory with the same layout (for read-only
    arrays: the same values)."""
    return (a is b or (a.dtype == b.dtype and a.shape == b.shape and a.strides == b.strides
                       and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]))


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

    The generators keep the move vectors as rows of a table: per move the index of its
    network hop (4 bytes) into the network's hop vectors, instead of an (n_moves, 3) array
    (24 bytes per move: 1.44 GB for the 60 million moves of 10^6 sites with bent 2-ion
    strings). :meth:`vector_rows` gives that form, which the engine reads directly;
    ``vectors`` is then gathered (bit for bit ``table[index]``) on first access and kept.

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
            first = _checks.fmt(ptr[0]) if ptr.size else "missing"
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
        vec = _checks.float_array(self.vectors, "vectors", (n_m, 3))
        bar = _checks.float_array(self.barriers_eV, "barriers_eV", (n_e,))
        if n_e and bar.min() < 0:
            e = int(np.flatnonzero(bar < 0)[0])
            raise ConfigError(f"barriers_eV[{e}] is {_checks.fmt(bar[e])}; barriers must be >= 0")
        tn = self.type_names
        names = () if isinstance(tn, (tuple, list)) and not tn else _checks.names(tn, "type_names")
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
        arrays = [state[f] for f in (*_ARRAY_FIELDS, "_vec_table", "_vec_index")
                  if f in state]
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
        mine, theirs = self.__dict__, other.__dict__
        return (all(theirs.get(f) is mine.get(f) for f in _ARRAY_FIELDS)
                and isinstance(tn, (tuple, list)) and tuple(tn) == self.type_names)

    @classmethod
    def _trusted(cls, ptr: np.ndarray, src: np.ndarray, dst: np.ndarray,
                 vectors: np.ndarray | None, barriers_eV: np.ndarray, types: np.ndarray,
                 type_names: tuple[str, ...], facts: _Facts | None = None,
                 vector_rows: tuple[np.ndarray, np.ndarray] | None = None) -> EventSet:
        """An EventSet from arrays known to be structurally valid, without checks or copies
        (internal: the generators and :meth:`concatenate`; the arrays must not be used
        elsewhere, or be read-only arrays of another EventSet). With `vector_rows` = (table
        (r, 3) float64, index (n_moves,) int32 in 0..r-1), `vectors` is None: the move
        vectors are ``table[index]``, gathered only when ``vectors`` is read."""
        self = object.__new__(cls)
        set_ = object.__setattr__
        for field, arr, dt in zip(_ARRAY_FIELDS, (ptr, src, dst, vectors, barriers_eV, types),
                                  (np.int32, np.int32, np.int32, np.float64, np.float64,
                                   np.int32), strict=True):
            if arr is None and field == "vectors" and vector_rows is not None:
                table, index = vector_rows
                set_(self, "_vec_table", _freeze(np.asarray(table, dtype=np.float64)))
                set_(self, "_vec_index", _freeze(np.asarray(index, dtype=np.int32)))
                continue
            set_(self, field, _freeze(np.asarray(arr, dtype=dt)))
        set_(self, "type_names", tuple(type_names))
        set_(self, "_facts", _Facts() if facts is None else facts)
        _HOLDERS[id(self.src)] = self
        return self

    def __getattr__(self, name: str) -> Any:
        """``vectors`` of a set that holds its move vectors as table rows: gathered once
        (``table[index]``, bit for bit) and kept. Called only for attributes not found."""
        d = self.__dict__
        if name != "vectors" or "_vec_index" not in d:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        table, index = d["_vec_table"], d["_vec_index"]
        out = np.empty((index.shape[0], 3), dtype=np.float64)
        for a in range(0, index.shape[0], _CHUNK):
            out[a:a + _CHUNK] = _take_rows(table, index[a:a + _CHUNK])
        vec = _freeze(out)
        object.__setattr__(self, "vectors", vec)
        return vec

    def vector_rows(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The move vectors as rows of a table: ``(table, index)`` with ``vectors ==
        table[index]`` (read-only; Angstrom); index is None when the set holds one row per
        move (then table is ``vectors``). Reads no per-move vectors that do not exist."""
        d = self.__dict__
        if "_vec_index" in d:
            return d["_vec_table"], d["_vec_index"]
        return self.vectors, None

    def _move_vectors(self, a: int, b: int) -> np.ndarray:
        """The vectors of moves a..b-1, shape (b - a, 3)."""
        table, index = self.vector_rows()
        return table[a:b] if index is None else table[index[a:b]]

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
            table, index = s.vector_rows()
            if index is not None:
                return cls._trusted(s.ptr, s.src, s.dst, None, s.barriers_eV, s.types,
                                    tuple(names), s._facts, (table, index))
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
        rows = [s.vector_rows() for s, _ in parts]
        if parts and all(ix is not None and _same_array(t, rows[0][0]) for t, ix in rows):
            # every part's vectors are rows of one table (the same network's hops)
            vectors, vector_rows = None, (rows[0][0], np.concatenate([ix for _, ix in rows]))
        else:
            vectors, vector_rows = cat("vectors", (0, 3), np.float64), None
        return cls._trusted(
            np.concatenate(ptrs), cat("src", (0,), np.int32), cat("dst", (0,), np.int32),
            vectors, cat("barriers_eV", (0,), np.float64),
            np.concatenate(types) if types else np.zeros(0, np.int32), tuple(names), facts,
            vector_rows)

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
        name = _checks.name(type_name, "type_name")
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
            bar = np.full(n_e, _checks.real(barrier_eV, "barrier_eV", lo=0.0))
        else:
            bar = _checks.float_array(barrier_eV, "barrier_eV", (n_e,))
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
        vec = self._move_vectors(a, b)
        vec.flags.writeable = False
        return self.src[a:b], self.dst[a:b], vec

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
        mv = ", ".join(f"{a} -> {b} by {_checks.fmt(np.round(x, 6))} A" for a, b, x in zip(s, d, v))
        return (f"event {int(e)} ({self.type_names[self.types[e]]!r}: {mv}; barrier "
                f"{float(self.barriers_eV[e])!r} eV)")

    # ---------------------------------------------------------------- reverses
    def _quantised(self) -> np.ndarray:
        """Move vectors on the 1e-6 Angstrom grid, shape (n_moves, 3) int64."""
        table, index = self.vector_rows()
        q = np.rint(table / _VEC_QUANTUM_A).astype(np.int64)
        return q if index is None else _take_rows(q, index)

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
        if not all(hasattr(network, a) for a in ("n_sites", "cell", "positions")):
            raise ConfigTypeError(f"network must be a SiteNetwork, got "
                                  f"{type(network).__name__}")
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
            raise ConfigError(f"{where(short)} has a zero-length vector "
                              f"{_checks.fmt(vec[short])} A")
        if image >= 0:
            i = image
            frac = (vec[i] - (pos[dst[i]] - pos[src[i]])) @ np.linalg.inv(cell)
            raise ConfigError(
                f"{where(i)}: vector {_checks.fmt(vec[i])} A is not positions[{dst[i]}] - "
                f"positions[{src[i]}] plus a lattice vector (image in cell units "
                f"{_checks.fmt(np.round(frac, 6))} is not integer)"
            )

    def __repr__(self) -> str:
        return (f"EventSet(n_events={self.n_events}, n_moves={self.n_moves}, "
                f"type_names={self.type_names})")


# --------------------------------------------------------------------------------------------
# PeriodicEvents: string events of a periodic lattice, kept per basis site
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PeriodicEvents:
    """Multi-ion string events of a :class:`kmc.lattice.PeriodicNetwork`, kept per basis site.

    Every site of basis site ``b`` has the events ``ptr[b]:ptr[b + 1]`` (*templates*), the
    same relative to the site in every cell: template ``q`` moves ``k`` ions along a string
    of hops, move 0 from the site by its hop ``slots[q, 0]`` (the position in the site's hop
    list, that is in its basis site's unit-cell hops), move i from the previous move's
    destination by its hop ``slots[q, i]``. The events of the whole lattice are numbered site
    by site, each site's in template order, which is the order of the
    :class:`~kmc.events.EventSet` the same generator gives on
    :meth:`~kmc.lattice.PeriodicNetwork.to_site_network` (:meth:`materialize` makes it).
    Memory: nothing per site or event (the engine keeps 8 bytes per site and its sum tree,
    about 9 bytes per event).

    Made by the generators (:func:`kmc.mechanisms.concerted_events` on a PeriodicNetwork),
    not by hand.

    Parameters
    ----------
    k : int
        Moves per event (2..4).
    ptr : ndarray of int32, shape (nb + 1,)
        Templates of each basis site (CSR).
    slots : ndarray of int32, shape (n_templates, k)
        Hop slots of each template; within a basis site sorted lexicographically.
    vectors : ndarray of float64, shape (n_templates, k, 3)
        Move vectors, Angstrom (the symmetrised hop vectors).
    barriers_eV : ndarray, shape (n_templates,)
        KRA barrier of each template, eV.
    types : ndarray of int32, shape (n_templates,)
        Event type of each template, into `type_names`.
    type_names : tuple of str
    reverse : ndarray of int32, shape (n_templates,)
        The template of each template's reverse string (at the site where it ends).
    spec : tuple
        How the generator made them (name and options), to make the same events on the
        :class:`~kmc.lattice.SiteNetwork` of the lattice.
    """

    k: int
    ptr: np.ndarray
    slots: np.ndarray
    vectors: np.ndarray
    barriers_eV: np.ndarray
    types: np.ndarray
    type_names: tuple[str, ...]
    reverse: np.ndarray
    spec: tuple = ()

    def __post_init__(self) -> None:
        for name in ("ptr", "slots", "vectors", "barriers_eV", "types", "reverse"):
            object.__setattr__(self, name, _freeze(np.ascontiguousarray(getattr(self, name))))

    @property
    def n_templates(self) -> int:
        """Number of templates (events per unit cell)."""
        return int(self.slots.shape[0])

    def counts(self) -> np.ndarray:
        """Events per site of each basis site, int64, shape (nb,)."""
        return np.diff(self.ptr.astype(np.int64))

    def mean_sq_A2(self) -> np.ndarray:
        """Mean over the events of each type of the summed squared move lengths,
        Angstrom^2 (every cell holds each template once: the templates' mean is the
        lattice's)."""
        per = np.einsum("qmd,qmd->q", self.vectors, self.vectors)
        out = np.zeros(len(self.type_names))
        for t in range(len(self.type_names)):
            sel = self.types == t
            if sel.any():
                out[t] = per[sel].mean()
        return out
