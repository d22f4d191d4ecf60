"""The data model: :class:`SiteNetwork`, a periodic network of sites and directed hops.

Units: Angstrom (lengths), eV (energies), e (charge).

A :class:`SiteNetwork` holds everything the engine needs as flat, contiguous numpy arrays:
site positions, types and energies; directed hops ``i -> j`` with their real displacement
vectors through the periodic boundary, types and KRA barriers; and optional pair interaction
energies between occupied sites. Construction validates every array (vectorised, so networks
of millions of sites build in seconds) and puts the hops in canonical order (stably sorted by
source site), so that the hops of site ``s`` are ``hop_ptr[s]:hop_ptr[s + 1]``.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import numbers
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from . import _checks
from .constants import IMAGE_TOL, INDEX_LIMIT, MAX_CLUSTER_SITES, MAX_DEGREE, ZERO_HOP_A
from .errors import ConfigError
from .errors import ConfigTypeError as _ConfigTypeError
from .events import EventSet
from .resources import require_memory

__all__ = ["Network", "as_site_network", "SiteNetwork", "PeriodicNetwork", "MAX_HOPS_PER_SITE",
           "wrapping_dimension"]

#: Maximum number of outgoing hops of one site (engine limit).
MAX_HOPS_PER_SITE = MAX_DEGREE
#: Site and hop counts must be below this (indices are stored as int32).
_INDEX_LIMIT = INDEX_LIMIT
_ZERO_HOP_A = ZERO_HOP_A  # Angstrom: shorter hop vectors are rejected
_IMAGE_TOL = IMAGE_TOL  # fractional (cell units): tolerance of hop images to integers
_EVENT_BLOCK = 1 << 20  # events per block of per-move temporaries


def _hop_keys(
    n: int, src: np.ndarray, dst: np.ndarray, images: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Integer keys of the hops (src, dst, image) and of their reverses (dst, src, -image).

    Equal keys mean equal hops. Returns two int64 arrays of length m.
    """
    m = src.shape[0]
    big = int(np.abs(images).max()) if m else 0
    width = 2 * big + 1
    radix = width**3
    if n * n * radix < 2**62:
        s = src.astype(np.int64)
        d = dst.astype(np.int64)
        # code of the image in base `width` with digits im_k + big; the reverse image -im has
        # digits (width - 1) - (im_k + big), hence code (radix - 1) - code
        code = images[:, 0].astype(np.int64)
        code *= width
        code += images[:, 1]
        code *= width
        code += images[:, 2]
        code += big * (width * width + width + 1)
        fwd = s * n
        fwd += d
        fwd *= radix
        fwd += code
        rev = d
        rev *= n
        rev += s
        rev *= radix
        rev += radix - 1
        rev -= code
        return fwd, rev
    # general (rare) fallback: dense ids of the rows (src, dst, image)
    rows_f = np.column_stack([src, dst, images]).astype(np.int64)
    rows_r = np.column_stack([dst, src, -images]).astype(np.int64)
    _, inv = np.unique(np.concatenate([rows_f, rows_r]), axis=0, return_inverse=True)
    inv = inv.reshape(-1).astype(np.int64)
    return inv[:m], inv[m:]


def _cycle_rank(labels: np.ndarray, vecs: np.ndarray) -> int:
    """Maximum over groups (`labels`) of the rank of the group's nonzero integer vectors."""
    if vecs.shape[0] == 0:
        return 0
    if np.abs(vecs).max() > 10**5:  # products below could overflow int64: do it slowly
        best = 0
        order = np.argsort(labels, kind="stable")
        lab_s = labels[order]
        starts = np.flatnonzero(np.r_[True, lab_s[1:] != lab_s[:-1]])
        for a, b in zip(starts, np.r_[starts[1:], lab_s.size]):
            best = max(best, int(np.linalg.matrix_rank(vecs[order[a:b]].astype(np.float64))))
            if best == 3:
                break
        return best
    order = np.argsort(labels, kind="stable")
    lab = labels[order]
    v = vecs[order]
    first = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    group = np.cumsum(np.r_[True, lab[1:] != lab[:-1]]) - 1  # group index of each row
    ref = v[first][group]  # a nonzero reference vector per group
    cr = np.cross(ref, v)
    nz2 = np.any(cr != 0, axis=1)
    if not nz2.any():
        return 1
    # groups with rank >= 2: the normal of the plane spanned by ref and the first independent v
    n_groups = first.size
    idx2 = np.full(n_groups, -1, dtype=np.int64)
    rows2 = np.flatnonzero(nz2)
    # first independent row of each group (rows are sorted by group)
    g2, pos = np.unique(group[rows2], return_index=True)
    idx2[g2] = rows2[pos]
    has2 = idx2[group] >= 0
    normal = cr[np.where(idx2 >= 0, idx2, 0)][group]
    dots = np.einsum("ij,ij->i", normal, v)
    if np.any(has2 & (dots != 0)):
        return 3
    return 2


def wrapping_dimension(n_sites: int, src: Any, dst: Any, images: Any, *,
                       symmetric: bool = False) -> int:
    """Dimensionality (0..3) of the percolating network of the edges ``src -> dst``.

    Parameters
    ----------
    n_sites : int
        Number of sites (nodes ``0..n_sites-1``).
    src, dst : array_like of int, shape (m,)
        Edge ends (the direction does not matter).
    images : array_like of int, shape (m, 3)
        Periodic image (in cell rows) that each edge crosses into.
    symmetric : bool, optional
        True if the reverse of every edge is already in the lists (as for the hops of a
        SiteNetwork); otherwise the reverses are added.

    For each connected component, every site is given an unwrapped image offset along a
    spanning tree; each remaining edge closes a cycle whose net translation (in cell units)
    is ``off[src] + image - off[dst]``. The rank of these translations is the component's
    dimensionality (the number of independent directions in which it wraps around the
    periodic box); the network's is the maximum over its components (0 without edges).
    """
    n = int(n_sites)
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    images = np.asarray(images, dtype=np.int64).reshape(-1, 3)
    if not symmetric:  # every edge in both directions, so the tree can use either
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
        images = np.concatenate([images, -images])
    m = src.shape[0]
    if m == 0:
        return 0
    ones = np.ones(m, dtype=np.int32)
    graph = sp.csr_matrix((ones, (src, dst)), shape=(n, n))
    n_comp, labels = csgraph.connected_components(graph, directed=False)
    # a virtual root (node n) joined to one site of every component: a single BFS
    roots = np.unique(labels, return_index=True)[1].astype(np.int64)
    rr = np.full(roots.size, n, dtype=np.int64)
    rows = np.concatenate([src, dst, rr, roots])
    cols = np.concatenate([dst, src, roots, rr])
    big = sp.csr_matrix(
        (np.ones(rows.size, dtype=np.int32), (rows, cols)), shape=(n + 1, n + 1)
    )
    _, pred = csgraph.breadth_first_order(big, n, directed=True, return_predecessors=True)
    pred = pred.astype(np.int64)
    # image of the tree edge pred[v] -> v (any hop with that (src, dst))
    key = src * n + dst
    order = np.argsort(key, kind="stable")
    sk = key[order]
    real = np.flatnonzero((pred[:n] >= 0) & (pred[:n] < n))  # sites whose parent is a real site
    want = pred[real] * n + real
    hit = order[np.minimum(np.searchsorted(sk, want), m - 1)]
    step = np.zeros((n + 1, 3), dtype=np.int64)
    step[real] = images[hit]
    anc = pred.copy()
    anc[anc < 0] = n
    anc[roots] = n
    anc[n] = n
    # pointer jumping: off[v] = sum of tree images from the root to v
    off = step
    while True:
        nxt = anc[anc]
        off = off + off[anc]
        if np.array_equal(nxt, anc):
            break
        anc = nxt
    off[n] = 0
    cyc = off[src] + images - off[dst]
    nz = np.flatnonzero(np.any(cyc != 0, axis=1))
    if nz.size == 0:
        return 0
    return _cycle_rank(labels[src[nz]], cyc[nz])


def _moves_have_ends(index: np.ndarray, end_src: np.ndarray, end_dst: np.ndarray,
                     src: np.ndarray, dst: np.ndarray, block: int = 1 << 20) -> bool:
    """Move m goes from ``end_src[index[m]]`` to ``end_dst[index[m]]``, i.e. ``src[m]`` and
    ``dst[m]``, for every move (read in blocks)."""
    for a in range(0, index.size, block):
        h = index[a:a + block]
        if not (np.array_equal(np.take(end_src, h), src[a:a + block])
                and np.array_equal(np.take(end_dst, h), dst[a:a + block])):
            return False
    return True


def _mean_by_type(types: np.ndarray, values: np.ndarray, n_types: int) -> np.ndarray:
    """Mean of `values` over the entries of each type (0 for an unused type)."""
    n = np.bincount(types, minlength=n_types)
    return np.bincount(types, weights=values, minlength=n_types) / np.maximum(n, 1)


def _mean_sq_by_type(types: np.ndarray, vectors: np.ndarray, n_types: int) -> np.ndarray:
    """Mean of |vector|^2 (Angstrom^2) over the rows of each type (0 for an unused type)."""
    return _mean_by_type(types, np.einsum("ij,ij->i", vectors, vectors), n_types)


def _check_name_and_charge(name: Any, charge: Any) -> float:
    """A network's name must be a str; returns its ion charge (e) as a finite nonzero float."""
    if not isinstance(name, str):
        raise _ConfigTypeError(f"name must be a string, got {type(name).__name__}")
    if isinstance(charge, bool) or not isinstance(charge, numbers.Real):
        raise _ConfigTypeError(f"charge_e must be a real number, got {type(charge).__name__} "
                               f"{charge!r}")
    q = float(charge)
    if not np.isfinite(q) or q == 0.0:
        raise ConfigError(f"charge_e is {q!r}; the ion charge must be finite and nonzero")
    return q


def _check_cell(value: Any, name: str) -> np.ndarray:
    """A (3, 3) cell in Angstrom with linearly independent rows."""
    cell = _checks.float_array(value, name, (3, 3))
    norms = np.linalg.norm(cell, axis=1)
    det = float(np.linalg.det(cell))
    if abs(det) <= 1e-8 * float(np.prod(norms)):
        raise ConfigError(
            f"{name} is singular (det = {det:.6g} A^3); its rows must be 3 linearly "
            "independent lattice vectors"
        )
    return cell


#: What PeriodicNetwork.to_site_network knows of the hops of the SiteNetwork it is about to
#: construct (``hops`` = (images, reverses)); SiteNetwork.__post_init__ takes it (and clears
#: it) first thing, so it applies to that one construction only.
_TRUSTED = threading.local()


# --------------------------------------------------------------------------------------------
# the network protocol
# --------------------------------------------------------------------------------------------
@runtime_checkable
class Network(Protocol):
    """What the drivers (:class:`kmc.Simulation`, the observables, the files) use of a
    network; :class:`SiteNetwork` and :class:`PeriodicNetwork` both implement it, so no
    driver asks which class it holds.

    Attributes
    ----------
    name : str
    charge_e : float
        Charge of the mobile ion, e.
    n_sites : int
    volume_A3 : float
        Volume of the periodic cell, Angstrom^3.
    dimensionality : int
        Dimensionality (0-3) of the percolating hop network.
    site_energies_eV : ndarray
    hop_type_names, event_type_names : tuple of str
    n_events : int
    has_interactions : bool
    """

    name: str
    charge_e: float
    hop_type_names: tuple[str, ...]
    event_type_names: tuple[str, ...]

    @property
    def n_sites(self) -> int: ...

    @property
    def volume_A3(self) -> float: ...

    @property
    def dimensionality(self) -> int: ...

    @property
    def site_energies_eV(self) -> np.ndarray: ...

    @property
    def n_events(self) -> int: ...

    @property
    def has_interactions(self) -> bool: ...

    def engine_arrays(self) -> dict[str, Any]:
        """Keyword arguments of :class:`kmc._engine.Engine` that describe the network."""
        ...

    def engine_input_bytes(self) -> float:
        """An upper estimate, bytes, of what creating the engine for this network needs
        beyond its per-site and per-ion records: the arrays :meth:`engine_arrays` makes and
        the engine's own copies of per-hop, per-pair and per-event data."""
        ...

    def hop_type_mean_sq_A2(self) -> np.ndarray:
        """Mean squared hop length per hop type, Angstrom^2."""
        ...

    def event_type_mean_sq_A2(self) -> np.ndarray:
        """Mean summed squared move length per multi-ion event type, Angstrom^2."""
        ...

    def to_site_network(self) -> SiteNetwork:
        """The same network with per-hop arrays (itself for a SiteNetwork)."""
        ...

    def type_dimensionality(self, types: Any) -> int:
        """Dimensionality (0-3) of the network of the hops and multi-ion events of the named
        types only (hop and event type names)."""
        ...


#: The members of :class:`Network` (its annotated attributes, properties and methods).
_NETWORK_MEMBERS = tuple(sorted(
    set(Network.__annotations__)
    | {a for a, v in vars(Network).items()
       if not a.startswith("_") and (callable(v) or isinstance(v, property))}))


def is_network(obj: Any) -> bool:
    """``isinstance(obj, Network)`` without computing anything.

    Python 3.11's check of a runtime protocol calls ``hasattr`` for each member, which
    evaluates properties: a cached ``dimensionality`` (a graph search over every hop and
    event move, seconds and gigabytes at 10^6 sites with events) was computed just to test
    the type. Members are looked up with :func:`inspect.getattr_static` here (as Python
    3.12 does).
    """
    for a in _NETWORK_MEMBERS:
        try:
            inspect.getattr_static(obj, a)
        except AttributeError:
            return False
    return True


def as_site_network(network: Any, what: str = "network") -> SiteNetwork:
    """The :class:`SiteNetwork` form of any :class:`Network` (a :class:`PeriodicNetwork` is
    expanded), for code that needs per-hop arrays: event generators, microstructures.

    Raises
    ------
    ConfigTypeError
        If `network` is not a network.
    """
    if not is_network(network):
        raise _ConfigTypeError(f"{what} must be a SiteNetwork or PeriodicNetwork, got "
                               f"{type(network).__name__}")
    return network.to_site_network()


# --------------------------------------------------------------------------------------------
# SiteNetwork
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SiteNetwork:
    """A periodic network of sites connected by directed hops (the engine's data model).

    All arrays are converted to contiguous numpy arrays of the stated dtype and validated on
    construction (every problem raises :class:`~kmc.errors.ConfigError`, a ``ValueError``,
    naming the bad value). Hops are put in canonical order: stably sorted by source site, all
    hop arrays permuted together. Treat the arrays as read-only: derived properties are cached.

    Parameters
    ----------
    cell : array_like, shape (3, 3)
        Periodic cell in Angstrom; rows are the lattice vectors. Periodic in all 3 directions
        (a 1D or 2D network simply has no hops across the other boundaries).
    positions : array_like, shape (n, 3)
        Cartesian site positions in Angstrom, ``n >= 1``.
    hop_src, hop_dst : array_like of int, shape (m,)
        Source and destination site of each directed hop ``i -> j``.
    hop_vectors : array_like, shape (m, 3)
        Real displacement of each hop in Angstrom through the periodic boundary:
        ``positions[dst] - positions[src]`` plus an integer combination of cell rows.
    hop_barriers_eV : float or array_like, shape (m,)
        Kinetically resolved activation (KRA) barrier of each hop in eV, finite and ``>= 0``;
        a hop and its reverse must have the same barrier. A scalar is broadcast.
    site_types : array_like of int, shape (n,), optional
        Type index of each site into `site_type_names` (default all 0).
    site_type_names : tuple of str
        Unique names of the site types (default ``("A",)``).
    site_energies_eV : float or array_like, shape (n,), optional
        Site energy of an ion on each site in eV (default 0). A scalar is broadcast.
    hop_types : array_like of int, shape (m,), optional
        Type index of each hop into `hop_type_names` (default all 0).
    hop_type_names : tuple of str
        Unique names of the hop types (default ``("hop",)``).
    pair_i, pair_j : array_like of int, shape (p,), optional
        Unordered pairs of interacting sites, each pair stored once (default: none).
    pair_energies_eV : float or array_like, shape (p,), optional
        Interaction energy J in eV added when both sites of the pair are occupied.
    charge_e : float
        Charge of the mobile ion in units of the elementary charge e (finite, nonzero).
    name : str
        Name of the network.
    event_ptr, event_src, event_dst, event_vectors, event_barriers_eV, event_types,
    event_type_names : optional
        Multi-ion events (interstitialcy, concerted string moves, ...): the fields of a
        :class:`kmc.events.EventSet` (``ptr``, ``src``, ``dst``, ``vectors`` in Angstrom,
        ``barriers_eV``, ``types``, ``type_names``). Every event moves 2..4 ions at once with
        one KRA barrier and must have its reverse. Give all or none; see :meth:`with_events`.
        Event type names must differ from the hop type names.

    Attributes
    ----------
    n_sites, n_hops, n_pairs : int
        Numbers of sites, directed hops and interacting pairs.
    volume_A3 : float
        Cell volume in Angstrom^3.
    hop_ptr : ndarray of int32, shape (n + 1,)
        CSR offsets: the hops of site ``s`` are ``hop_ptr[s]:hop_ptr[s + 1]``.
    hop_images : ndarray of int32, shape (m, 3)
        Integer periodic image of each hop (in cell rows).
    hop_rev : ndarray of int32, shape (m,)
        Index of the reverse hop of each hop.
    hop_lengths_A : ndarray of float64, shape (m,)
        Hop lengths in Angstrom.
    coordination : ndarray of int32, shape (n,)
        Number of outgoing hops of each site.
    hop_pair_energies_eV : ndarray of float64, shape (m,)
        Pair interaction J (eV) between the two ends of each hop (0 if not a pair).
    has_interactions : bool
        True if there is any nonzero pair interaction.
    dimensionality : int
        Dimensionality (0..3) of the percolating hop network across the periodic boundaries.
    """

    cell: np.ndarray
    positions: np.ndarray
    hop_src: np.ndarray
    hop_dst: np.ndarray
    hop_vectors: np.ndarray
    hop_barriers_eV: np.ndarray
    site_types: np.ndarray = field(default=None)  # type: ignore[assignment]
    site_type_names: tuple[str, ...] = ("A",)
    site_energies_eV: np.ndarray = field(default=None)  # type: ignore[assignment]
    hop_types: np.ndarray = field(default=None)  # type: ignore[assignment]
    hop_type_names: tuple[str, ...] = ("hop",)
    pair_i: np.ndarray = field(default=None)  # type: ignore[assignment]
    pair_j: np.ndarray = field(default=None)  # type: ignore[assignment]
    pair_energies_eV: np.ndarray = field(default=None)  # type: ignore[assignment]
    charge_e: float = 1.0
    name: str = "network"
    event_ptr: np.ndarray = field(default=None)  # type: ignore[assignment]
    event_src: np.ndarray = field(default=None)  # type: ignore[assignment]
    event_dst: np.ndarray = field(default=None)  # type: ignore[assignment]
    event_vectors: np.ndarray = field(default=None)  # type: ignore[assignment]
    event_barriers_eV: np.ndarray = field(default=None)  # type: ignore[assignment]
    event_types: np.ndarray = field(default=None)  # type: ignore[assignment]
    event_type_names: tuple[str, ...] = ()
    cluster_ptr: np.ndarray = field(default=None)  # type: ignore[assignment]
    cluster_sites: np.ndarray = field(default=None)  # type: ignore[assignment]
    cluster_energies_eV: np.ndarray = field(default=None)  # type: ignore[assignment]
    env_ptr: np.ndarray = field(default=None)  # type: ignore[assignment]
    env_sites: np.ndarray = field(default=None)  # type: ignore[assignment]
    local_model_e0_eV: np.ndarray = field(default=None)  # type: ignore[assignment]
    local_model_basis: np.ndarray = field(default=None)  # type: ignore[assignment]
    local_model_term_ptr: np.ndarray = field(default=None)  # type: ignore[assignment]
    local_model_term_pos: np.ndarray = field(default=None)  # type: ignore[assignment]
    local_model_term_eV: np.ndarray = field(default=None)  # type: ignore[assignment]
    hop_kra_model: np.ndarray = field(default=None)  # type: ignore[assignment]
    hop_de_model: np.ndarray = field(default=None)  # type: ignore[assignment]
    model_info: tuple[str, ...] = ()

    # ---------------------------------------------------------------- validation
    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen dataclass
        trusted, _TRUSTED.hops = getattr(_TRUSTED, "hops", None), None

        set_(self, "charge_e", _check_name_and_charge(self.name, self.charge_e))
        set_(self, "cell", _check_cell(self.cell, "cell"))

        # sites
        pos = _checks.float_array(self.positions, "positions", (None, 3))
        n = pos.shape[0]
        if n < 1:
            raise ConfigError("positions is empty; a network needs at least one site")
        if n >= _INDEX_LIMIT:
            raise ConfigError(
                f"the network has {n} sites; at most {_INDEX_LIMIT - 1} are supported"
            )
        set_(self, "positions", pos)

        site_type_names = _checks.names(self.site_type_names, "site_type_names")
        set_(self, "site_type_names", site_type_names)
        if self.site_types is None:
            site_types = np.zeros(n, dtype=np.int32)
        else:
            st = _checks.int_array(self.site_types, "site_types", n)
            _checks.check_int_range(
                st, "site_types", len(site_type_names),
                f"site_type_names has {len(site_type_names)} names "
                f"(0..{len(site_type_names) - 1})",
            )
            site_types = _checks.owned(st, self.site_types, np.int32)
        set_(self, "site_types", site_types)
        energies = 0.0 if self.site_energies_eV is None else self.site_energies_eV
        set_(self, "site_energies_eV",
             _checks.broadcast_float(energies, "site_energies_eV", n, "site energies must be finite"))

        # hops
        if trusted is not None:  # from PeriodicNetwork.to_site_network (see _TrustedHops)
            src, dst, vec, barriers, hop_types, images, rev = self._trusted_hops(trusted)
            m = src.shape[0]
        else:
            src = _checks.int_array(self.hop_src, "hop_src", None)
            m = src.shape[0]
            if m >= _INDEX_LIMIT:
                raise ConfigError(f"the network has {m} hops; at most {_INDEX_LIMIT - 1} are supported")
            dst = _checks.int_array(self.hop_dst, "hop_dst", None)
            if dst.shape[0] != m:
                raise ConfigError(
                    f"hop_dst has {dst.shape[0]} entries but hop_src has {m}; they must match"
                )
            for arr, what in ((src, "starts at"), (dst, "goes to")):
                if m == 0 or (arr.min() >= 0 and arr.max() < n):
                    continue
                bad = (arr < 0) | (arr >= n)
                if bad.any():
                    h = int(np.flatnonzero(bad)[0])
                    raise ConfigError(
                        f"hop {h} {what} site {arr[h]}, but the network has only {n} sites "
                        f"(0..{n - 1})"
                    )
            src = _checks.owned(src, self.hop_src, np.int32)
            dst = _checks.owned(dst, self.hop_dst, np.int32)

            vec = _checks.float_array(self.hop_vectors, "hop_vectors", (m, 3))
            barriers = _checks.broadcast_float(
                self.hop_barriers_eV, "hop_barriers_eV", m, "barriers must be finite and >= 0"
            )
            if m and barriers.min() < 0:
                h = int(np.flatnonzero(barriers < 0)[0])
                raise ConfigError(
                    f"hop_barriers_eV[{h}] is {_checks.fmt(barriers[h])}; barriers must be finite and >= 0"
                )

            hop_type_names = _checks.names(self.hop_type_names, "hop_type_names")
            set_(self, "hop_type_names", hop_type_names)
            if self.hop_types is None:
                hop_types = np.zeros(m, dtype=np.int32)
            else:
                ht = _checks.int_array(self.hop_types, "hop_types", m)
                _checks.check_int_range(
                    ht, "hop_types", len(hop_type_names),
                    f"hop_type_names has {len(hop_type_names)} names (0..{len(hop_type_names) - 1})",
                )
                hop_types = _checks.owned(ht, self.hop_types, np.int32)

            # self hops, zero-length hops, images
            self_hop = src == dst
            if self_hop.any():
                h = int(np.flatnonzero(self_hop)[0])
                raise ConfigError(
                    f"hop {h} goes from site {src[h]} to itself (vector {_checks.fmt(vec[h])} A): the "
                    "supercell is too small, so the site would hop to its own periodic image "
                    "(self-hop); use a larger supercell"
                )
            len2 = np.einsum("ij,ij->i", vec, vec)
            if m and len2.min() < _ZERO_HOP_A**2:
                h = int(np.flatnonzero(len2 < _ZERO_HOP_A**2)[0])
                raise ConfigError(
                    f"hop {h} (site {src[h]} -> {dst[h]}) has a zero-length vector "
                    f"hop_vectors[{h}] = {_checks.fmt(vec[h])} A"
                )
            images = self._images(self.cell, pos, src, dst, vec)

            # duplicates, reverses, symmetric barriers
            rev = np.zeros(0, dtype=np.int64)
            if m:
                fwd_key, rev_key = _hop_keys(n, src, dst, images)
                order = np.argsort(fwd_key, kind="stable")
                sk = fwd_key[order]
                dup = np.flatnonzero(sk[1:] == sk[:-1])
                if dup.size:
                    h1, h2 = int(order[dup[0]]), int(order[dup[0] + 1])
                    raise ConfigError(
                        f"hops {h1} and {h2} are duplicates: both go from site {src[h1]} to site "
                        f"{dst[h1]} with image {_checks.fmt(images[h1])}"
                    )
                pos_r = np.minimum(np.searchsorted(sk, rev_key), m - 1)
                missing = np.flatnonzero(sk[pos_r] != rev_key)
                if missing.size:
                    h = int(missing[0])
                    raise ConfigError(
                        f"hop {h} (site {src[h]} -> {dst[h]}, image {_checks.fmt(images[h])}) has no "
                        f"reverse hop (site {dst[h]} -> {src[h]}, image {_checks.fmt(-images[h])}); every "
                        "hop needs its reverse for detailed balance"
                    )
                rev = order[pos_r]
                if barriers.min() == barriers.max():
                    asym = np.zeros(1, dtype=bool)  # all equal: trivially symmetric
                else:
                    b_rev = barriers[rev]
                    asym = np.abs(barriers - b_rev) > 1e-12 + 1e-9 * np.maximum(
                        np.abs(barriers), np.abs(b_rev)
                    )
                if asym.any():
                    b_rev = barriers[rev]
                    h = int(np.flatnonzero(asym)[0])
                    raise ConfigError(
                        f"hop {h} (site {src[h]} -> {dst[h]}) has barrier hop_barriers_eV[{h}] = "
                        f"{float(barriers[h])!r} eV but its reverse hop {int(rev[h])} has "
                        f"{float(b_rev[h])!r} eV; the KRA barriers of a hop and its reverse must be "
                        "equal"
                    )

        # engine limit on the out-degree
        degree = np.bincount(src, minlength=n)
        if m and degree.max() > MAX_HOPS_PER_SITE:
            s = int(np.argmax(degree))
            raise ConfigError(
                f"site {s} has {int(degree[s])} outgoing hops; the engine supports at most "
                f"{MAX_HOPS_PER_SITE} per site"
            )

        # pair interactions
        self._set_pairs(n)

        # canonical order: stably sorted by source site
        if m and np.any(src[1:] < src[:-1]):
            perm = np.argsort(src, kind="stable")
            inv = np.empty(m, dtype=np.int64)
            inv[perm] = np.arange(m)
            src, dst, vec = src[perm], dst[perm], vec[perm]
            barriers, hop_types, images = barriers[perm], hop_types[perm], images[perm]
            rev = inv[rev[perm]]
        set_(self, "hop_src", src)
        set_(self, "hop_dst", dst)
        set_(self, "hop_vectors", np.ascontiguousarray(vec))
        set_(self, "hop_barriers_eV", np.ascontiguousarray(barriers))
        set_(self, "hop_types", np.ascontiguousarray(hop_types))

        # prime the cached properties that validation has computed anyway
        self.__dict__["hop_images"] = np.ascontiguousarray(images, dtype=np.int32)
        self.__dict__["hop_rev"] = np.ascontiguousarray(rev, dtype=np.int32)
        self.__dict__["coordination"] = degree.astype(np.int32)

        self._set_events()
        self._set_models(n, m)

    _CLUSTER_FIELDS = ("cluster_ptr", "cluster_sites", "cluster_energies_eV")
    _LOCAL_FIELDS = ("env_ptr", "env_sites", "local_model_e0_eV", "local_model_basis",
                     "local_model_term_ptr", "local_model_term_pos", "local_model_term_eV",
                     "hop_kra_model", "hop_de_model")

    def _set_models(self, n: int, m: int) -> None:
        """Validate the clusters and local models (the engine-level arrays that
        :func:`kmc.energy.attach` writes) and make them contiguous."""
        set_ = object.__setattr__
        given = [f for f in self._CLUSTER_FIELDS if getattr(self, f) is not None]
        if given and len(given) < 3:
            missing = [f for f in self._CLUSTER_FIELDS if f not in given]
            raise ConfigError(f"{', '.join(given)} given but {', '.join(missing)} not; give "
                              "every cluster array or none")
        if given:
            ptr = _checks.int_array(self.cluster_ptr, "cluster_ptr", None).astype(np.int32)
            if ptr.shape[0] < 1 or ptr[0] != 0 or np.any(np.diff(ptr) < 2) or np.any(
                    np.diff(ptr) > MAX_CLUSTER_SITES):
                raise ConfigError("cluster_ptr must start at 0 and every cluster must have "
                                  f"2..{MAX_CLUSTER_SITES} sites")
            cs = _checks.int_array(self.cluster_sites, "cluster_sites", int(ptr[-1]))
            _checks.check_int_range(cs, "cluster_sites", n,
                                    f"the network has only {n} sites (0..{n - 1})")
            V = _checks.broadcast_float(self.cluster_energies_eV, "cluster_energies_eV",
                                        ptr.shape[0] - 1, "cluster energies must be finite")
            set_(self, "cluster_ptr", ptr)
            set_(self, "cluster_sites", np.ascontiguousarray(cs, dtype=np.int32))
            set_(self, "cluster_energies_eV", V)
        given = [f for f in self._LOCAL_FIELDS if getattr(self, f) is not None]
        if given and len(given) < len(self._LOCAL_FIELDS):
            missing = [f for f in self._LOCAL_FIELDS if f not in given]
            raise ConfigError(f"{', '.join(given)} given but {', '.join(missing)} not; give "
                              "every local-model array or none")
        if given:
            if self.n_events:
                raise ConfigError("local models are not supported together with multi-ion "
                                  "events")
            eptr = _checks.int_array(self.env_ptr, "env_ptr", m + 1).astype(np.int32)
            if eptr[0] != 0 or np.any(np.diff(eptr) < 0):
                raise ConfigError("env_ptr must start at 0 and be non-decreasing")
            es = _checks.int_array(self.env_sites, "env_sites", int(eptr[-1]))
            _checks.check_int_range(es, "env_sites", n,
                                    f"the network has only {n} sites (0..{n - 1})")
            e0 = _checks.float_array(self.local_model_e0_eV, "local_model_e0_eV", (None,))
            q = e0.shape[0]
            basis = _checks.float_array(self.local_model_basis, "local_model_basis", (q, 2))
            tptr = _checks.int_array(self.local_model_term_ptr, "local_model_term_ptr",
                                     q + 1).astype(np.int32)
            if tptr[0] != 0 or np.any(np.diff(tptr) < 0):
                raise ConfigError("local_model_term_ptr must start at 0 and be non-decreasing")
            nt = int(tptr[-1])
            tpos = np.asarray(self.local_model_term_pos)
            if tpos.shape != (nt, MAX_CLUSTER_SITES) or tpos.dtype.kind not in "iu":
                raise ConfigError(f"local_model_term_pos must be integers of shape "
                                  f"({nt}, {MAX_CLUSTER_SITES}), got {tpos.dtype} "
                                  f"{tpos.shape}")
            K = _checks.float_array(self.local_model_term_eV, "local_model_term_eV", (nt,))
            km = _checks.int_array(self.hop_kra_model, "hop_kra_model", m)
            dm = _checks.int_array(self.hop_de_model, "hop_de_model", m)
            for arr, name in ((km, "hop_kra_model"), (dm, "hop_de_model")):
                bad = np.flatnonzero((arr < -1) | (arr >= q))
                if bad.size:
                    raise ConfigError(f"{name}[{bad[0]}] = {arr[bad[0]]} is outside -1..{q - 1} "
                                      f"(the network has {q} local models)")
            set_(self, "env_ptr", eptr)
            set_(self, "env_sites", np.ascontiguousarray(es, dtype=np.int32))
            set_(self, "local_model_e0_eV", e0)
            set_(self, "local_model_basis", np.ascontiguousarray(basis))
            set_(self, "local_model_term_ptr", tptr)
            set_(self, "local_model_term_pos", np.ascontiguousarray(tpos, dtype=np.int32))
            set_(self, "local_model_term_eV", K)
            set_(self, "hop_kra_model", np.ascontiguousarray(km, dtype=np.int32))
            set_(self, "hop_de_model", np.ascontiguousarray(dm, dtype=np.int32))
        set_(self, "model_info", tuple(str(x) for x in self.model_info))

    @property
    def n_clusters(self) -> int:
        """Number of clusters (of 2..4 sites) beyond the pairs."""
        return 0 if self.cluster_ptr is None else int(self.cluster_ptr.shape[0] - 1)

    @property
    def n_local_models(self) -> int:
        """Number of local models (environment-dependent barriers and dE terms)."""
        return 0 if self.local_model_e0_eV is None else int(self.local_model_e0_eV.shape[0])

    @property
    def has_energy_models(self) -> bool:
        """True with clusters or local models (see :mod:`kmc.energy`)."""
        return self.n_clusters > 0 or self.n_local_models > 0

    _EVENT_FIELDS = ("event_ptr", "event_src", "event_dst", "event_vectors",
                     "event_barriers_eV", "event_types")

    def _set_events(self, events: EventSet | None = None) -> None:
        """Validate the event fields (or `events`, an EventSet whose arrays become them) for
        this network and keep the EventSet as :attr:`events`."""
        if events is not None:
            self._adopt_events(events)
            return
        given = [f for f in self._EVENT_FIELDS if getattr(self, f) is not None]
        if not given:
            if self.event_type_names:
                raise ConfigError("event_type_names is given but the event arrays are not")
            events = EventSet.empty()
        elif len(given) < len(self._EVENT_FIELDS):
            missing = [f for f in self._EVENT_FIELDS if f not in given]
            raise ConfigError(f"{', '.join(given)} given but {', '.join(missing)} not; give "
                              "every event array or none")
        else:
            events = EventSet(self.event_ptr, self.event_src, self.event_dst,
                              self.event_vectors, self.event_barriers_eV, self.event_types,
                              tuple(self.event_type_names))
        self._adopt_events(events)

    def _adopt_events(self, events: EventSet) -> None:
        clash = sorted(set(events.type_names) & set(self.hop_type_names))
        if clash:
            raise ConfigError(f"event type {clash[0]!r} is also a hop type name; the names of "
                              "hop and event types must differ")
        if events.n_events:
            events.validate_for(self)
        for f, value in zip(self._EVENT_FIELDS,
                            (events.ptr, events.src, events.dst, None,
                             events.barriers_eV, events.types), strict=True):
            object.__setattr__(self, f, value)
        object.__setattr__(self, "event_type_names", events.type_names)
        self.__dict__["events"] = events
        # event_vectors is read through the EventSet (_EventVectors): the events may keep
        # their move vectors as hop indices, gathered only when asked for
        del self.__dict__["event_vectors"]


    @cached_property
    def events(self) -> Any:
        """The multi-ion events as a :class:`kmc.events.EventSet`."""
        return EventSet(self.event_ptr, self.event_src, self.event_dst, self.event_vectors,
                        self.event_barriers_eV, self.event_types, self.event_type_names)

    @property
    def n_events(self) -> int:
        """Number of multi-ion events."""
        return int(self.event_ptr.shape[0] - 1)

    def block_sites(self, sites: Any, *, name: str | None = None) -> SiteNetwork:
        """This network with some sites taken by an immobile species or removed.

        The blocked sites, and every hop, multi-ion event and pair interaction that touches
        them, leave the network; the other sites are renumbered in order. A pair energy J
        between a blocked site (an immobile ion that is always there, e.g. a dopant) and a
        remaining site becomes a site-energy offset J of the remaining site, which is exact.

        Parameters
        ----------
        sites : array_like of int or of bool
            Indices of the blocked sites, or a boolean mask of length n_sites.
        name : str or None
            Name of the new network (default: this name + "-blocked").

        Returns
        -------
        SiteNetwork

        Raises
        ------
        ConfigError
            If an index is out of range or every site would be blocked, or the network has
            energy models (block the sites first, then attach the models).
        """
        if self.has_energy_models:
            raise ConfigError(f"network {self.name!r} has energy models (clusters or local "
                              "models) attached; block the sites first, then attach them")
        n = self.n_sites
        arr = np.asarray(sites)
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise ConfigError(f"the blocked-site mask has shape {arr.shape}, expected ({n},)")
            blocked = arr.copy()
        else:
            idx = _checks.int_array(arr.reshape(-1), "sites", None)
            _checks.check_int_range(idx, "sites", n, f"the network has only {n} sites (0..{n - 1})")
            blocked = np.zeros(n, dtype=bool)
            blocked[idx] = True
        keep = ~blocked
        if not keep.any():
            raise ConfigError(f"blocking all {n} sites leaves no network")
        new = np.cumsum(keep) - 1  # new index of every kept site
        energies = self.site_energies_eV.copy()
        pi, pj, J = self.pair_i, self.pair_j, self.pair_energies_eV
        # an immobile neighbour's interaction is a constant offset of the mobile site
        np.add.at(energies, pj[blocked[pi] & keep[pj]], J[blocked[pi] & keep[pj]])
        np.add.at(energies, pi[blocked[pj] & keep[pi]], J[blocked[pj] & keep[pi]])
        both = keep[pi] & keep[pj]
        hop = keep[self.hop_src] & keep[self.hop_dst]
        changes: dict[str, Any] = dict(
            positions=self.positions[keep], site_types=self.site_types[keep],
            site_energies_eV=energies[keep], hop_src=new[self.hop_src[hop]],
            hop_dst=new[self.hop_dst[hop]], hop_vectors=self.hop_vectors[hop],
            hop_barriers_eV=self.hop_barriers_eV[hop], hop_types=self.hop_types[hop],
            pair_i=new[pi[both]], pair_j=new[pj[both]], pair_energies_eV=J[both],
            name=f"{self.name}-blocked" if name is None else name)
        if self.n_events:
            ev_of_move = np.repeat(np.arange(self.n_events), np.diff(self.event_ptr))
            bad = np.zeros(self.n_events, dtype=bool)
            np.logical_or.at(bad, ev_of_move, blocked[self.event_src] | blocked[self.event_dst])
            good_move = ~bad[ev_of_move]
            counts = np.diff(self.event_ptr)[~bad]
            changes.update(
                event_ptr=np.concatenate([[0], np.cumsum(counts)]),
                event_src=new[self.event_src[good_move]],
                event_dst=new[self.event_dst[good_move]],
                event_vectors=self.event_vectors[good_move],
                event_barriers_eV=self.event_barriers_eV[~bad],
                event_types=self.event_types[~bad])
        return self.replace(**changes)

    def with_events(self, *event_sets: Any, keep_hops: bool = True) -> SiteNetwork:
        """This network with more multi-ion events (and, optionally, without its hops).

        Parameters
        ----------
        *event_sets : EventSet
            Added after the network's own events (type names merged by name).
        keep_hops : bool
            False removes the single hops, so ions move only by the events.

        Returns
        -------
        SiteNetwork
        """
        ev = EventSet.concatenate(self.events, *event_sets)
        if not keep_hops:
            # the sites without hops or events, then the events validated for them as an
            # EventSet: moves kept as hop indices stay so (no per-move vectors)
            z = np.zeros(0, dtype=np.int32)
            new = self.replace(
                event_ptr=None, event_src=None, event_dst=None, event_vectors=None,
                event_barriers_eV=None, event_types=None, event_type_names=(), hop_src=z,
                hop_dst=z, hop_vectors=np.zeros((0, 3)), hop_barriers_eV=np.zeros(0),
                hop_types=z)
            new._set_events(ev)
            return new
        # the hops are unchanged and already validated: share them (and their cached
        # derived arrays) and validate only the events, instead of rebuilding everything
        new = copy.copy(self)
        for stale in ("events", "dimensionality"):  # the cached values that depend on events
            new.__dict__.pop(stale, None)
        new._set_events(ev)
        return new

    def _trusted_hops(self, known: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, ...]:
        """The hop arrays of a network built by :meth:`PeriodicNetwork.to_site_network`
        without the checks it has made on the unit cell (site range, self hops, zero
        lengths, images, duplicates, reverses, symmetric barriers, degree): the arrays as
        given (fresh, not shared with anyone), and the known images and reverses."""
        set_ = object.__setattr__
        images, rev = known
        src = np.ascontiguousarray(self.hop_src, dtype=np.int32)
        m = src.shape[0]
        set_(self, "hop_type_names", _checks.names(self.hop_type_names, "hop_type_names"))
        barriers = _checks.broadcast_float(
            self.hop_barriers_eV, "hop_barriers_eV", m, "barriers must be finite and >= 0")
        return (src, np.ascontiguousarray(self.hop_dst, dtype=np.int32),
                np.ascontiguousarray(self.hop_vectors, dtype=np.float64), barriers,
                np.ascontiguousarray(self.hop_types, dtype=np.int32), images, rev)

    @staticmethod
    def _images(
        cell: np.ndarray, pos: np.ndarray, src: np.ndarray, dst: np.ndarray, vec: np.ndarray
    ) -> np.ndarray:
        """Integer images of the hops; raise if a hop vector is inconsistent with positions."""
        m = src.shape[0]
        if m == 0:
            return np.zeros((0, 3), dtype=np.int32)
        inv = np.linalg.inv(cell)
        d = np.take(pos, dst, axis=0)
        if m > 1 and (src[1:] >= src[:-1]).all():  # sorted by source: no gather needed
            d -= np.repeat(pos[: int(src[-1]) + 1], np.bincount(src), axis=0)
        else:
            d -= np.take(pos, src, axis=0)
        np.subtract(vec, d, out=d)
        frac = np.einsum("ij,jk->ik", d, inv)
        del d
        images = np.rint(frac)
        frac -= images
        np.abs(frac, out=frac)
        if not frac.max() <= _IMAGE_TOL:
            h = int(np.flatnonzero(~np.all(frac <= _IMAGE_TOL, axis=1))[0])
            f_h = (vec[h] - (pos[dst[h]] - pos[src[h]])) @ inv
            raise ConfigError(
                f"hop {h} (site {src[h]} -> {dst[h]}): hop_vectors[{h}] = {_checks.fmt(vec[h])} A is "
                f"not positions[{dst[h]}] - positions[{src[h]}] plus a lattice vector "
                f"(image in cell units {_checks.fmt(np.round(f_h, 6))} is not integer)"
            )
        del frac
        if max(images.max(), -images.min()) >= _INDEX_LIMIT:  # pragma: no cover - absurd input
            h = int(np.argmax(np.abs(images).max(axis=1)))
            raise ConfigError(f"hop {h} crosses {_checks.fmt(images[h])} cells; the image is too large")
        return images.astype(np.int32)

    def _set_pairs(self, n: int) -> None:
        set_ = object.__setattr__
        if self.pair_i is None and self.pair_j is None:
            if self.pair_energies_eV is not None and np.size(self.pair_energies_eV) != 0:
                raise ConfigError("pair_energies_eV is given but pair_i and pair_j are not")
            pi = np.zeros(0, dtype=np.int64)
            pj = np.zeros(0, dtype=np.int64)
        elif self.pair_i is None or self.pair_j is None:
            given, missing = ("pair_i", "pair_j") if self.pair_j is None else ("pair_j", "pair_i")
            raise ConfigError(f"{given} is given but {missing} is not; give both or neither")
        else:
            pi = _checks.int_array(self.pair_i, "pair_i", None)
            pj = _checks.int_array(self.pair_j, "pair_j", None)
            if pj.shape[0] != pi.shape[0]:
                raise ConfigError(
                    f"pair_j has {pj.shape[0]} entries but pair_i has {pi.shape[0]}; they must "
                    "match"
                )
        p = pi.shape[0]
        if self.pair_energies_eV is None:
            if p:
                raise ConfigError("pair_i and pair_j are given but pair_energies_eV is not")
            J = np.zeros(0, dtype=np.float64)
        else:
            J = _checks.broadcast_float(
                self.pair_energies_eV, "pair_energies_eV", p, "pair energies must be finite"
            )
        for arr, nm in ((pi, "pair_i"), (pj, "pair_j")):
            _checks.check_int_range(arr, nm, n, f"the network has only {n} sites (0..{n - 1})")
        same = np.flatnonzero(pi == pj)
        if same.size:
            k = int(same[0])
            raise ConfigError(
                f"pair {k} joins site {pi[k]} to itself (pair_i[{k}] == pair_j[{k}]); a pair "
                "interaction needs two different sites"
            )
        if p:
            lo = np.minimum(pi, pj).astype(np.int64)
            hi = np.maximum(pi, pj).astype(np.int64)
            key = lo * n + hi
            order = np.argsort(key, kind="stable")
            sk = key[order]
            dup = np.flatnonzero(sk[1:] == sk[:-1])
            if dup.size:
                k1, k2 = int(order[dup[0]]), int(order[dup[0] + 1])
                raise ConfigError(
                    f"pairs {k1} and {k2} are duplicates: both join sites {lo[k1]} and "
                    f"{hi[k1]}; store each unordered pair once"
                )
        set_(self, "pair_i", _checks.owned(pi, self.pair_i, np.int32))
        set_(self, "pair_j", _checks.owned(pj, self.pair_j, np.int32))
        set_(self, "pair_energies_eV", J)

    # ---------------------------------------------------------------- sizes
    @property
    def n_sites(self) -> int:
        """Number of sites."""
        return int(self.positions.shape[0])

    @property
    def n_hops(self) -> int:
        """Number of directed hops."""
        return int(self.hop_src.shape[0])

    @property
    def n_pairs(self) -> int:
        """Number of interacting (unordered) site pairs."""
        return int(self.pair_i.shape[0])

    @cached_property
    def volume_A3(self) -> float:
        """Cell volume in Angstrom^3."""
        return float(abs(np.linalg.det(self.cell)))

    # ---------------------------------------------------------------- derived hop arrays
    @cached_property
    def hop_ptr(self) -> np.ndarray:
        """CSR offsets, shape (n + 1,) int32: hops of site s are ``hop_ptr[s]:hop_ptr[s+1]``."""
        ptr = np.zeros(self.n_sites + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.hop_src, minlength=self.n_sites), out=ptr[1:])
        return ptr.astype(np.int32)

    @cached_property
    def hop_images(self) -> np.ndarray:
        """Integer periodic image of each hop in cell rows, shape (m, 3) int32."""
        return self._images(self.cell, self.positions, self.hop_src, self.hop_dst,
                            self.hop_vectors)

    @cached_property
    def hop_rev(self) -> np.ndarray:
        """Index of the reverse hop (dst -> src, negated image) of each hop, shape (m,) int32."""
        fwd, rev = _hop_keys(self.n_sites, self.hop_src, self.hop_dst, self.hop_images)
        order = np.argsort(fwd, kind="stable")
        pos = np.minimum(np.searchsorted(fwd[order], rev), max(self.n_hops - 1, 0))
        return order[pos].astype(np.int32)

    @cached_property
    def hop_lengths_A(self) -> np.ndarray:
        """Hop lengths in Angstrom, shape (m,) float64."""
        v = self.hop_vectors
        return np.sqrt(np.einsum("ij,ij->i", v, v))

    @cached_property
    def coordination(self) -> np.ndarray:
        """Out-degree (number of outgoing hops) of each site, shape (n,) int32."""
        return np.bincount(self.hop_src, minlength=self.n_sites).astype(np.int32)

    # ---------------------------------------------------------------- interactions
    @cached_property
    def _interaction_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self.n_sites
        i = np.concatenate([self.pair_i, self.pair_j])
        j = np.concatenate([self.pair_j, self.pair_i])
        J = np.concatenate([self.pair_energies_eV, self.pair_energies_eV])
        order = np.lexsort((j, i))
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(i, minlength=n), out=ptr[1:])
        return (
            ptr.astype(np.int32),
            np.ascontiguousarray(j[order], dtype=np.int32),
            np.ascontiguousarray(J[order], dtype=np.float64),
        )

    def interaction_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Symmetric neighbour lists of the pair interactions.

        Returns
        -------
        ptr : ndarray of int32, shape (n + 1,)
            The interaction neighbours of site s are ``nbr[ptr[s]:ptr[s + 1]]``.
        nbr : ndarray of int32, shape (2 p,)
            Neighbour sites; every pair appears in both directions, sorted by site and then
            by neighbour.
        J : ndarray of float64, shape (2 p,)
            Interaction energy of each entry in eV.
        """
        return self._interaction_arrays

    @cached_property
    def _sym_hop_vectors(self) -> np.ndarray:
        """Hop vectors symmetrised so that a hop and its reverse have exactly opposite
        vectors: ``(v_h - v_rev(h)) / 2`` in Angstrom, shape (m, 3), read-only. Made once
        per network and shared by the event generators (:mod:`kmc.mechanisms`), whose
        events keep their move vectors as rows of it."""
        v, rev, block = self.hop_vectors, self.hop_rev, 1 << 18
        # most networks (the builders', the materials') have exactly opposite vectors
        # already: then (v - v_rev) / 2 has the bits of v, and the table is the hop vectors
        # themselves (checked in blocks, bit for bit, without a second (m, 3) array)
        if v.flags.c_contiguous and all(
                np.array_equal(((v[a:a + block] - np.take(v, rev[a:a + block], axis=0))
                                * 0.5).view(np.int64), v[a:a + block].view(np.int64))
                for a in range(0, v.shape[0], block)):
            out = v.view()
        else:
            out = v - v[rev]
            out *= 0.5
        out.flags.writeable = False
        return out

    @cached_property
    def hop_pair_energies_eV(self) -> np.ndarray:
        """Pair interaction J (eV) between the ends of each hop, 0 if not a pair; shape (m,)."""
        m, n = self.n_hops, self.n_sites
        out = np.zeros(m, dtype=np.float64)
        if self.n_pairs == 0 or m == 0:
            return out
        pkey = (np.minimum(self.pair_i, self.pair_j).astype(np.int64) * n
                + np.maximum(self.pair_i, self.pair_j))
        order = np.argsort(pkey)
        sk = pkey[order]
        hkey = (np.minimum(self.hop_src, self.hop_dst).astype(np.int64) * n
                + np.maximum(self.hop_src, self.hop_dst))
        pos = np.minimum(np.searchsorted(sk, hkey), sk.size - 1)
        found = sk[pos] == hkey
        out[found] = self.pair_energies_eV[order[pos[found]]]
        return out

    @cached_property
    def has_interactions(self) -> bool:
        """True if there is at least one pair with nonzero interaction energy."""
        return bool(self.n_pairs > 0 and np.any(self.pair_energies_eV != 0))

    # ---------------------------------------------------------------- topology
    @cached_property
    def dimensionality(self) -> int:
        """Dimensionality (0, 1, 2 or 3) of the percolating network of hops and event moves.

        For each connected component of the (undirected) hop graph, every site is given an
        unwrapped image offset along a spanning tree; each remaining hop closes a cycle whose
        net translation (in cell units) is ``off[src] + image - off[dst]``. The rank of these
        translations is the component's dimensionality; the network's is the maximum over its
        components (0 without hops). Event moves that are network hops (those of the event
        generators, :meth:`_event_move_hops`) add no edge and are not gathered.
        """
        src = self.hop_src.astype(np.int64)
        dst = self.hop_dst.astype(np.int64)
        images = self.hop_images.astype(np.int64)
        if self.n_events and self._event_move_hops() is None:  # moves connect sites too
            edges = self._event_edges()
            src = np.concatenate([src, edges[0]])
            dst = np.concatenate([dst, edges[1]])
            images = np.concatenate([images, edges[2]])
        return wrapping_dimension(self.n_sites, src, dst, images, symmetric=True)

    def type_dimensionality(self, types: Any) -> int:
        """Dimensionality (0-3) of the network of the hops and multi-ion event moves of the
        named types only (hop-type and event-type names): which mechanisms the long-range
        transport needs."""
        names = set(types)
        hop = np.isin(self.hop_types, [k for k, n in enumerate(self.hop_type_names)
                                       if n in names])
        kinds = [k for k, n in enumerate(self.event_type_names) if n in names]
        if hop.all() and (not self.n_events or np.isin(self.event_types, kinds).all()):
            return self.dimensionality  # every hop and event: the whole network's (cached)
        edges = None
        if self.n_events and kinds:
            mv = np.repeat(np.isin(self.event_types, kinds), np.diff(self.event_ptr))
            move_hops = self._event_move_hops()
            if move_hops is None:
                edges = self._event_edges(mv)
            else:
                # every move is a network hop: the selected events' moves select their
                # hops (and the reverses, so that the edge list stays symmetric)
                used = np.zeros(self.n_hops, dtype=bool)
                used[move_hops[mv]] = True
                used[self.hop_rev[used]] = True
                hop |= used
        src = self.hop_src[hop].astype(np.int64)
        dst = self.hop_dst[hop].astype(np.int64)
        images = self.hop_images[hop].astype(np.int64)
        if edges is not None:
            src = np.concatenate([src, edges[0]])
            dst = np.concatenate([dst, edges[1]])
            images = np.concatenate([images, edges[2]])
        return wrapping_dimension(self.n_sites, src, dst, images, symmetric=True)

    def _event_edges(self, moves: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The edges ``(src, dst, image)`` (int64) of the event moves of the boolean mask
        `moves` (default all): one per row of the events' vector table where
        :meth:`_event_row_edges` can tell, else one per move (its vector gathered)."""
        edges = self._event_row_edges(moves)
        if edges is not None:
            return edges
        sel = slice(None) if moves is None else moves
        esrc = self.event_src[sel].astype(np.int64)
        edst = self.event_dst[sel].astype(np.int64)
        frac = (self.event_vectors[sel] - (self.positions[edst] - self.positions[esrc])) \
            @ np.linalg.inv(self.cell)
        return esrc, edst, np.rint(frac).astype(np.int64)

    def _event_row_edges(self, moves: np.ndarray | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The edges ``(src, dst, image)`` of the event moves (those of the boolean mask
        `moves`, default all), one per row of the events' vector table, int64, when the
        events keep their vectors as rows (:meth:`kmc.events.EventSet.vector_rows`) and all
        moves of a row have the same source and target (so the same image): the
        generators' events, whose rows are hops, without a network hop to stand for them
        (``with_events(..., keep_hops=False)``). Else None. Reads the moves in blocks; no
        per-move vectors or images.
        """
        table, index = self.events.vector_rows()
        if index is None:
            return None
        src, dst, block = self.event_src, self.event_dst, 1 << 20
        row_src = np.full(table.shape[0], -1, dtype=np.int32)
        row_dst = np.full(table.shape[0], -1, dtype=np.int32)
        for a in range(0, index.size, block):
            row_src[index[a:a + block]] = src[a:a + block]
            row_dst[index[a:a + block]] = dst[a:a + block]
        if not _moves_have_ends(index, row_src, row_dst, src, dst):  # a row, one pair of ends
            return None
        if moves is None:
            rows = np.flatnonzero(row_src >= 0)
        else:
            used = np.zeros(table.shape[0], dtype=bool)
            for a in range(0, index.size, block):
                used[index[a:a + block][moves[a:a + block]]] = True
            rows = np.flatnonzero(used)
        s, d = row_src[rows].astype(np.int64), row_dst[rows].astype(np.int64)
        frac = (table[rows] - (self.positions[d] - self.positions[s])) @ np.linalg.inv(self.cell)
        return s, d, np.rint(frac).astype(np.int64)

    def _event_move_hops(self) -> np.ndarray | None:
        """The network hop of every event move, shape (n_moves,) int32, when every move is
        one (same source, target and vector as the hop, so the same image), else None.

        That is so for the events of the generators (:mod:`kmc.mechanisms`) made on this
        network or on one with the same hops: they keep their move vectors as hop indices
        into the symmetrised hop vectors (:meth:`kmc.events.EventSet.vector_rows`). The
        check reads the indices, sources and targets in blocks and gathers no vectors.
        """
        table, index = self.events.vector_rows()
        if index is None or table.shape != (self.n_hops, 3) or index.size == 0:
            return None
        if table is not self.__dict__.get("_sym_hop_vectors") \
                and not np.array_equal(table, self._sym_hop_vectors):
            return None
        if int(index.min()) < 0 or int(index.max()) >= self.n_hops:
            return None
        if not _moves_have_ends(index, self.hop_src, self.hop_dst, self.event_src,
                                self.event_dst):
            return None
        return index

    # ---------------------------------------------------------------- conversions
    def to_networkx(self) -> nx.MultiDiGraph:
        """The network as a :class:`networkx.MultiDiGraph`.

        Returns
        -------
        networkx.MultiDiGraph
            Nodes ``0..n-1`` with attributes ``position`` (ndarray (3,), Angstrom), ``type``
            (site type name) and ``energy_eV``; one edge per hop, with key = hop index and
            attributes ``vector`` (ndarray (3,), Angstrom), ``image`` (ndarray (3,) int),
            ``hop_type`` (hop type name) and ``barrier_eV``. Graph attributes: ``name``,
            ``cell`` (Angstrom) and ``charge_e``.
        """
        g = nx.MultiDiGraph(name=self.name, cell=self.cell.copy(), charge_e=self.charge_e)
        tnames = self.site_type_names
        g.add_nodes_from(
            (i, {"position": self.positions[i].copy(), "type": tnames[t], "energy_eV": float(e)})
            for i, (t, e) in enumerate(zip(self.site_types.tolist(),
                                           self.site_energies_eV.tolist()))
        )
        hnames = self.hop_type_names
        images = self.hop_images
        g.add_edges_from(
            (s, d, h, {"vector": self.hop_vectors[h].copy(), "image": images[h].copy(),
                       "hop_type": hnames[t], "barrier_eV": b})
            for h, (s, d, t, b) in enumerate(zip(self.hop_src.tolist(), self.hop_dst.tolist(),
                                                 self.hop_types.tolist(),
                                                 self.hop_barriers_eV.tolist()))
        )
        return g

    def hop_type_mean_sq_A2(self) -> np.ndarray:
        """Mean squared hop length of each hop type, Angstrom^2 (0 for an unused type)."""
        return _mean_sq_by_type(self.hop_types, self.hop_vectors, len(self.hop_type_names))

    def to_site_network(self) -> SiteNetwork:
        """Itself (the :class:`Network` protocol; a PeriodicNetwork expands)."""
        return self

    def event_type_mean_sq_A2(self) -> np.ndarray:
        """Mean over the events of each multi-ion event type of the summed squared move
        lengths, Angstrom^2 (0 for an unused type; empty without events)."""
        if not self.n_events:
            return np.zeros(len(self.event_type_names))
        table, index = self.events.vector_rows()
        move_sq = np.einsum("ij,ij->i", table, table)
        ptr = self.event_ptr
        if index is None:
            per_event = np.add.reduceat(move_sq, ptr[:-1])
        else:  # the vectors are rows of a table (hops): no per-move array, events in blocks
            per_event = np.empty(self.n_events, dtype=np.float64)
            for a in range(0, self.n_events, _EVENT_BLOCK):
                b = min(self.n_events, a + _EVENT_BLOCK)
                m0, m1 = int(ptr[a]), int(ptr[b])
                per_event[a:b] = np.add.reduceat(np.take(move_sq, index[m0:m1]),
                                                 ptr[a:b] - m0)
        return _mean_by_type(self.event_types, per_event, len(self.event_type_names))

    def engine_input_bytes(self) -> float:
        """An upper estimate, bytes, of what creating the engine for this network needs
        beyond its per-site and per-ion records (the :class:`Network` protocol): with
        interactions the pair lists and per-hop J handed over and, a disordered network
        having a site class per site, the classes' copies of the hops' data; with events
        their per-move and per-event data (sites, class, rate, site -> event lists, sum
        tree, and the move vectors of the event classes, which on a periodic lattice are a
        few dozen, but at most one per event)."""
        est = 0.0
        if self.has_interactions:
            est += 48.0 * self.n_hops + 24.0 * 2 * self.n_pairs
        if self.n_events:
            est += 48.0 * float(self.event_ptr[-1]) + 64.0 * self.n_events
        return est

    def engine_arrays(self) -> dict[str, Any]:
        """What the engine needs of this network (the :class:`Network` protocol).

        Returns
        -------
        dict
            Keyword arguments of :class:`kmc._engine.Engine`: the hops in CSR form by
            source site (``hop_ptr``, ``hop_dst``, ``hop_rev``, ``hop_type``, ``hop_vec`` in
            Angstrom, ``hop_ekra`` in eV), ``site_energy`` (eV), ``n_hop_types``,
            ``charge_e``; with pair interactions ``int_ptr``, ``int_nbr``, ``int_J`` and
            ``hop_J`` (eV); with multi-ion events ``ev_ptr``, ``ev_src``, ``ev_dst``,
            ``ev_vec`` (Angstrom), ``ev_ekra`` (eV), ``ev_type`` and ``n_event_types``,
            and ``ev_vidx`` when the events keep their move vectors as hop indices (then
            ``ev_vec`` is the table of vectors, see :meth:`kmc.events.EventSet.vector_rows`).
            The engine copies what it keeps, except the EventSet's read-only ``ev_ptr``,
            ``ev_src`` and ``ev_dst``, which it borrows (the Engine object holds them).
        """
        out: dict[str, Any] = {
            "hop_ptr": self.hop_ptr, "hop_dst": self.hop_dst, "hop_rev": self.hop_rev,
            "hop_type": self.hop_types, "hop_vec": self.hop_vectors,
            "hop_ekra": self.hop_barriers_eV, "site_energy": self.site_energies_eV,
            "n_hop_types": len(self.hop_type_names), "charge_e": self.charge_e}
        if self.has_interactions:
            ptr, nbr, J = self.interaction_csr()
            out.update(int_ptr=ptr, int_nbr=nbr, int_J=J, hop_J=self.hop_pair_energies_eV)
        if self.n_events:
            table, index = self.events.vector_rows()
            out.update(ev_ptr=self.event_ptr, ev_src=self.event_src, ev_dst=self.event_dst,
                       ev_vec=table, ev_ekra=self.event_barriers_eV,
                       ev_type=self.event_types, n_event_types=len(self.event_type_names))
            if index is not None:
                out["ev_vidx"] = index
        if self.n_clusters:
            out.update(cl_ptr=self.cluster_ptr, cl_site=self.cluster_sites,
                       cl_V=self.cluster_energies_eV)
        if self.n_local_models:
            out.update(lm_e0=self.local_model_e0_eV, lm_phi=self.local_model_basis,
                       lm_tptr=self.local_model_term_ptr, lm_tpos=self.local_model_term_pos,
                       lm_K=self.local_model_term_eV, env_ptr=self.env_ptr,
                       env_site=self.env_sites, hop_kra_model=self.hop_kra_model,
                       hop_de_model=self.hop_de_model)
        return out

    def replace(self, **changes: Any) -> SiteNetwork:
        """A new, validated network with some fields replaced (see :func:`dataclasses.replace`).

        Parameters
        ----------
        **changes
            Field values to change, in the units of the constructor (Angstrom, eV, e).

        Returns
        -------
        SiteNetwork
        """
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        return (
            f"SiteNetwork(name={self.name!r}, n_sites={self.n_sites}, n_hops={self.n_hops}, "
            f"dimensionality={self.dimensionality})"
        )


class _EventVectors:
    """``SiteNetwork.event_vectors``: the move vectors of the network's :attr:`events`, an
    (n_moves, 3) array made on first access when the events keep their vectors as hop
    indices (:meth:`kmc.events.EventSet.vector_rows`). A non-data descriptor set on the
    class after the dataclass is made (the field's default stays None): the constructor's
    value, in the instance's ``__dict__``, comes first; a validated network drops it and
    reads its EventSet."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return None  # the field's default
        events = obj.__dict__.get("events")
        return None if events is None else events.vectors


SiteNetwork.event_vectors = _EventVectors()  # type: ignore[assignment]


# --------------------------------------------------------------------------------------------
# PeriodicNetwork: a periodic lattice kept as its unit cell
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PeriodicNetwork:
    """A periodic lattice stored as its unit cell and repeat counts, never per site or hop.

    The same network as :meth:`to_site_network` (identical site numbering, hop order and, in
    a :class:`kmc.Simulation`, bit-identical trajectories), for lattice gases far larger than
    a :class:`SiteNetwork` can hold: the engine receives per-site *templates* (a site's hop
    list relative to itself), so building and simulating it costs about 4 bytes per site
    beyond the engine's own memory, where a :class:`SiteNetwork` holds about 50 bytes per
    hop. Build one with ``periodic_network(..., compact=True)`` or any lattice builder's
    ``compact=True``. Its pair interactions are unit-cell pairs repeated over the cells
    (like its hops); its multi-ion events can only be string moves kept per basis site
    (:meth:`with_events` of :func:`kmc.mechanisms.concerted_events` on it: nothing per
    event; without interactions). Use :meth:`to_site_network` for anything beyond (other
    events, clusters, local models, blocking sites, microstructures).

    Parameters
    ----------
    unit_cell : array_like, shape (3, 3)
        Unit cell in Angstrom; rows are the lattice vectors.
    basis_frac : array_like, shape (nb, 3)
        Basis sites in fractional coordinates of `unit_cell`.
    size : sequence of 3 int
        Repeats of the unit cell along its vectors (each >= 1).
    hop_basis_src, hop_basis_dst : array_like of int, shape (h,)
        Unit-cell hops: from basis site ``hop_basis_src[u]`` to basis site
        ``hop_basis_dst[u]`` in the unit cell displaced by ``hop_cell_offsets[u]``; sorted by
        source basis site, every hop's reverse present.
    hop_cell_offsets : array_like of int, shape (h, 3)
    hop_barriers_eV : array_like, shape (h,)
        KRA barrier of each unit-cell hop, eV (equal for a hop and its reverse).
    basis_types : array_like of int, shape (nb,), optional
        Site type of each basis site (default 0).
    site_type_names : tuple of str
    basis_energies_eV : array_like, shape (nb,), optional
        Site energy of each basis site, eV (default 0).
    hop_types : array_like of int, shape (h,), optional
        Hop type of each unit-cell hop (default 0).
    hop_type_names : tuple of str
    charge_e : float
        Ion charge in e.
    name : str
    pair_basis_i, pair_basis_j : array_like of int, shape (p,), optional
        Unit-cell pair interactions: basis site ``pair_basis_i[u]`` interacts with basis site
        ``pair_basis_j[u]`` in the unit cell displaced by ``pair_cell_offsets[u]``, with
        energy ``pair_energies_eV[u]`` when both hold an ion. Each pair once (not also its
        reverse); in the supercell no two may join the same two sites.
    pair_cell_offsets : array_like of int, shape (p, 3), optional
    pair_energies_eV : array_like, shape (p,) or scalar, optional
        eV.

    Site ``((i0 * n1 + i1) * n2 + i2) * nb + b`` is basis site b of cell (i0, i1, i2); site
    s's hops are the unit-cell hops of its basis site, in order.
    """

    unit_cell: np.ndarray
    basis_frac: np.ndarray
    size: tuple[int, int, int]
    hop_basis_src: np.ndarray
    hop_basis_dst: np.ndarray
    hop_cell_offsets: np.ndarray
    hop_barriers_eV: np.ndarray
    basis_types: np.ndarray = field(default=None)  # type: ignore[assignment]
    site_type_names: tuple[str, ...] = ("A",)
    basis_energies_eV: np.ndarray = field(default=None)  # type: ignore[assignment]
    hop_types: np.ndarray = field(default=None)  # type: ignore[assignment]
    hop_type_names: tuple[str, ...] = ("hop",)
    charge_e: float = 1.0
    name: str = "network"
    pair_basis_i: np.ndarray = field(default=None)  # type: ignore[assignment]
    pair_basis_j: np.ndarray = field(default=None)  # type: ignore[assignment]
    pair_cell_offsets: np.ndarray = field(default=None)  # type: ignore[assignment]
    pair_energies_eV: np.ndarray = field(default=None)  # type: ignore[assignment]

    #: the multi-ion event types (empty without events; see :meth:`with_events`)
    event_type_names: tuple[str, ...] = field(default=(), init=False)
    #: number of multi-ion events (0 without)
    n_events: int = field(default=0, init=False)
    #: the multi-ion events kept per basis site (:class:`kmc.events.PeriodicEvents`), or None
    events: Any = field(default=None, init=False, repr=False)
    has_interactions: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen dataclass
        set_(self, "charge_e", _check_name_and_charge(self.name, self.charge_e))
        set_(self, "unit_cell", _check_cell(self.unit_cell, "unit_cell"))
        basis = _checks.float_array(self.basis_frac, "basis_frac", (None, 3))
        nb = basis.shape[0]
        if nb < 1:
            raise ConfigError("basis_frac is empty; a network needs at least one site")
        set_(self, "basis_frac", basis)
        size = np.asarray(self.size)
        if size.shape != (3,) or size.dtype.kind not in "iu" or np.any(size < 1):
            raise ConfigError(f"size = {_checks.fmt(self.size)} must be 3 integers >= 1")
        set_(self, "size", tuple(int(k) for k in size))
        b = _checks.int_array(self.hop_basis_src, "hop_basis_src", None)
        h = b.shape[0]
        b2 = _checks.int_array(self.hop_basis_dst, "hop_basis_dst", h)
        _checks.check_int_range(b, "hop_basis_src", nb, "basis site")
        _checks.check_int_range(b2, "hop_basis_dst", nb, "basis site")
        if h and np.any(np.diff(b) < 0):
            raise ConfigError("hop_basis_src must be sorted (the hops of basis site 0 first)")
        dn = _checks.as_numeric(self.hop_cell_offsets, "hop_cell_offsets")
        if dn.dtype.kind not in "iu":
            raise ConfigError("hop_cell_offsets must be integers (unit cells)")
        _checks.check_shape(dn, "hop_cell_offsets", (h, 3))
        dn = np.ascontiguousarray(dn, dtype=np.int64)
        for name, arr in (("hop_basis_src", b), ("hop_basis_dst", b2),
                          ("hop_cell_offsets", dn)):
            arr.setflags(write=False)
            set_(self, name, arr)
        set_(self, "hop_barriers_eV", _checks.broadcast_float(
            self.hop_barriers_eV, "hop_barriers_eV", h, "barriers must be finite and >= 0"))
        if np.any(self.hop_barriers_eV < 0):
            raise ConfigError("hop_barriers_eV must be >= 0")
        self.hop_barriers_eV.setflags(write=False)
        site_names = _checks.names(self.site_type_names, "site_type_names")
        set_(self, "site_type_names", site_names)
        bt = np.zeros(nb, dtype=np.int32) if self.basis_types is None else \
            _checks.int_array(self.basis_types, "basis_types", nb)
        _checks.check_int_range(bt, "basis_types", len(site_names), "site type")
        bt.setflags(write=False)
        set_(self, "basis_types", bt)
        be = _checks.broadcast_float(0.0 if self.basis_energies_eV is None else self.basis_energies_eV,
                              "basis_energies_eV", nb, "values must be finite")
        be.setflags(write=False)
        set_(self, "basis_energies_eV", be)
        hop_names = _checks.names(self.hop_type_names, "hop_type_names")
        set_(self, "hop_type_names", hop_names)
        ht = np.zeros(h, dtype=np.int32) if self.hop_types is None else \
            _checks.int_array(self.hop_types, "hop_types", h)
        _checks.check_int_range(ht, "hop_types", len(hop_names), "hop type")
        ht.setflags(write=False)
        set_(self, "hop_types", ht)

        reps = np.array(self.size, dtype=np.int64)
        self_img = (b == b2) & np.all(dn % reps == 0, axis=1)
        if self_img.any():
            u = int(np.flatnonzero(self_img)[0])
            need = np.abs(dn).max(axis=0) + 1  # 1 along axes without hops
            raise ConfigError(
                f"the supercell is too small: with size {self.size} basis site {b[u]} would "
                f"hop to its own periodic image (unit-cell image {tuple(dn[u].tolist())}); "
                f"use a size of at least {tuple(int(x) for x in need)}")
        n_cells = int(np.prod(reps))
        if n_cells * nb >= _INDEX_LIMIT:
            raise ConfigError(f"size {self.size} gives {n_cells * nb} sites; at most "
                              f"{_INDEX_LIMIT - 1} are supported")
        deg = np.bincount(b, minlength=nb)
        if deg.max(initial=0) > MAX_HOPS_PER_SITE:
            raise ConfigError(f"basis site {int(deg.argmax())} has {int(deg.max())} hops; at "
                              f"most {MAX_HOPS_PER_SITE} per site are supported")
        if n_cells * h >= _INDEX_LIMIT:
            raise ConfigError(f"size {self.size} gives {n_cells * h} hops; at most "
                              f"{_INDEX_LIMIT - 1} are supported")
        # the reverse of every unit-cell hop: (b2 -> b, -dn) with the same barrier
        key = np.column_stack([b, b2, dn])
        rkey = np.column_stack([b2, b, -dn])
        _, inv = np.unique(np.concatenate([key, rkey]), axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        first = np.full(2 * h + 1, -1, dtype=np.int64)
        first[inv[:h][::-1]] = np.arange(h)[::-1]  # first hop with each key
        rev = first[inv[h:]]
        missing = np.flatnonzero(rev < 0)
        if missing.size:
            u = int(missing[0])
            raise ConfigError(f"unit-cell hop {u} ({b[u]} -> {b2[u]}, offset "
                              f"{tuple(dn[u].tolist())}) has no reverse hop")
        if np.unique(inv[:h]).size != h:  # two hops with one key
            raise ConfigError("two unit-cell hops have the same ends and offset")
        if np.any(self.hop_barriers_eV[rev] != self.hop_barriers_eV):
            u = int(np.flatnonzero(self.hop_barriers_eV[rev] != self.hop_barriers_eV)[0])
            raise ConfigError(f"unit-cell hop {u} and its reverse {int(rev[u])} have different "
                              "barriers")
        set_(self, "_rev", rev)
        self._set_pairs(nb, reps)

    def _set_pairs(self, nb: int, reps: np.ndarray) -> None:
        """Check the unit-cell pairs (none when all four pair fields are None)."""
        set_ = object.__setattr__
        given = [f for f in ("pair_basis_i", "pair_basis_j", "pair_cell_offsets",
                             "pair_energies_eV") if getattr(self, f) is not None]
        if given and len(given) < 4:
            missing = sorted({"pair_basis_i", "pair_basis_j", "pair_cell_offsets",
                              "pair_energies_eV"} - set(given))
            raise ConfigError(f"{', '.join(given)} given without {', '.join(missing)}; give "
                              "all four pair fields or none")
        if not given:
            set_(self, "has_interactions", False)
            return
        pi = _checks.int_array(self.pair_basis_i, "pair_basis_i", None)
        p = pi.shape[0]
        pj = _checks.int_array(self.pair_basis_j, "pair_basis_j", p)
        _checks.check_int_range(pi, "pair_basis_i", nb, "basis site")
        _checks.check_int_range(pj, "pair_basis_j", nb, "basis site")
        po = _checks.as_numeric(self.pair_cell_offsets, "pair_cell_offsets")
        if po.dtype.kind not in "iu" and po.size:
            raise ConfigError("pair_cell_offsets must be integers (unit cells)")
        _checks.check_shape(po, "pair_cell_offsets", (p, 3))
        po = np.ascontiguousarray(po, dtype=np.int64)
        J = _checks.broadcast_float(self.pair_energies_eV, "pair_energies_eV", p,
                                    "pair energies must be finite")
        # in the supercell: no pair of a site with itself, no two pairs (either way round)
        # joining the same two sites
        fwd = np.column_stack([pi, pj, po % reps])
        bwd = np.column_stack([pj, pi, -po % reps])
        self_pair = (pi == pj) & np.all(fwd[:, 2:] == 0, axis=1)
        if self_pair.any():
            u = int(np.flatnonzero(self_pair)[0])
            raise ConfigError(f"pair {u} joins basis site {pi[u]} to its own periodic image "
                              f"(offset {tuple(po[u].tolist())}) at size {self.size}; use a "
                              "larger size")
        keys = np.concatenate([fwd, bwd])
        _, inv, cnt = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
        inv = inv.reshape(-1)
        # a pair that is its own reverse (same basis site, offset = -offset in the box) lists
        # one neighbour twice; two pairs with one key join the same sites
        twice = np.flatnonzero((cnt[inv[:p]] > 1) | np.all(fwd == bwd, axis=1))
        if twice.size:
            u = int(twice[0])
            others = np.flatnonzero((inv[:p] == inv[u]) | (inv[p:] == inv[u]))
            if np.any(others != u):
                v = int(others[others != u][0])
                why = f"pairs {u} and {v} join the same two sites"
            else:
                why = (f"pair {u} (offset {tuple(po[u].tolist())}) joins each site to one "
                       "neighbour from both sides")
            raise ConfigError(f"{why} at size {self.size}: the supercell is too small for the "
                              "pairs' offsets; use a larger size")
        for name, arr in (("pair_basis_i", pi), ("pair_basis_j", pj),
                          ("pair_cell_offsets", po), ("pair_energies_eV", J)):
            arr.setflags(write=False)
            set_(self, name, arr)
        n_cells = int(np.prod(reps))
        if n_cells * 2 * p >= _INDEX_LIMIT:
            raise ConfigError(f"size {self.size} gives {n_cells * 2 * p} interaction entries; "
                              f"at most {_INDEX_LIMIT - 1} are supported")
        set_(self, "has_interactions", bool(p and np.any(J != 0)))

    # ---------------------------------------------------------------- sizes and geometry
    @property
    def n_basis(self) -> int:
        """Sites per unit cell."""
        return int(self.basis_frac.shape[0])

    @property
    def n_cells(self) -> int:
        """Unit cells in the supercell."""
        return int(np.prod(self.size))

    @property
    def n_sites(self) -> int:
        """Number of sites."""
        return self.n_cells * self.n_basis

    @property
    def n_hops(self) -> int:
        """Number of directed hops."""
        return self.n_cells * int(self.hop_basis_src.shape[0])

    @property
    def n_pairs(self) -> int:
        """Number of pair interactions (unordered pairs of sites)."""
        return 0 if self.pair_basis_i is None else self.n_cells * int(self.pair_basis_i.shape[0])

    @cached_property
    def cell(self) -> np.ndarray:
        """Supercell, Angstrom: ``diag(size) @ unit_cell``."""
        return np.diag(np.array(self.size, dtype=np.float64)) @ self.unit_cell

    @cached_property
    def volume_A3(self) -> float:
        """Supercell volume in Angstrom^3."""
        return float(abs(np.linalg.det(self.cell)))

    @cached_property
    def unit_hop_vectors(self) -> np.ndarray:
        """Displacement of each unit-cell hop, Angstrom, shape (h, 3)."""
        b, b2, dn = self.hop_basis_src, self.hop_basis_dst, self.hop_cell_offsets
        return (self.basis_frac[b2] + dn - self.basis_frac[b]) @ self.unit_cell

    @property
    def positions(self) -> np.ndarray:
        """Site positions, Angstrom, shape (n_sites, 3) (computed on each access)."""
        ar0, ar1, ar2 = (np.arange(k, dtype=np.float64) for k in self.size)
        cell = self.unit_cell
        return (
            (ar0[:, None, None, None, None] * cell[0])
            + (ar1[None, :, None, None, None] * cell[1])
            + (ar2[None, None, :, None, None] * cell[2])
            + (self.basis_frac @ cell)[None, None, None, :, :]
        ).reshape(self.n_sites, 3)

    @property
    def site_types(self) -> np.ndarray:
        """Site type of every site, int32 (computed on each access)."""
        return np.tile(self.basis_types, self.n_cells)

    @property
    def site_energies_eV(self) -> np.ndarray:
        """Site energy of every site, eV (computed on each access)."""
        return np.tile(self.basis_energies_eV, self.n_cells)

    @cached_property
    def dimensionality(self) -> int:
        """Dimensionality (0..3) of the percolating hop network: the rank of the net
        translations of the cycles of the unit-cell graph, which is that of the supercell."""
        return wrapping_dimension(self.n_basis, self.hop_basis_src, self.hop_basis_dst,
                                  self.hop_cell_offsets, symmetric=True)

    def type_dimensionality(self, types: Any) -> int:
        """Dimensionality (0-3) of the network of the hops and multi-ion events of the named
        types only (hop and event type names; an event's moves are hops)."""
        names = set(types)
        keep = np.isin(self.hop_types, [k for k, n in enumerate(self.hop_type_names)
                                        if n in names])
        ev = self.events
        if ev is not None and ev.n_templates:
            sel = np.isin(ev.types, [k for k, n in enumerate(ev.type_names) if n in names])
            start = self._basis_hop_start
            b = np.repeat(np.arange(self.n_basis), ev.counts())[sel]
            for i in range(ev.k):  # the unit hops along the selected strings
                u = start[b] + ev.slots[sel, i]
                keep[u] = True
                b = self.hop_basis_dst[u]
        return wrapping_dimension(self.n_basis, self.hop_basis_src[keep],
                                  self.hop_basis_dst[keep], self.hop_cell_offsets[keep],
                                  symmetric=True)

    def hop_type_mean_sq_A2(self) -> np.ndarray:
        """Mean squared hop length of each hop type, Angstrom^2 (0 for an unused type)."""
        # every cell holds each unit-cell hop once: the unit-cell mean is the network's
        return _mean_sq_by_type(self.hop_types, self.unit_hop_vectors, len(self.hop_type_names))

    def event_type_mean_sq_A2(self) -> np.ndarray:
        """Mean over the events of each multi-ion event type of the summed squared move
        lengths, Angstrom^2 (empty without events)."""
        return np.zeros(0) if self.events is None else self.events.mean_sq_A2()

    def with_events(self, events: Any) -> PeriodicNetwork:
        """The same lattice with multi-ion events kept per basis site.

        Parameters
        ----------
        events : kmc.events.PeriodicEvents
            Made for this lattice by :func:`kmc.mechanisms.concerted_events` (on this
            network or one with the same unit cell and hops).

        Returns
        -------
        PeriodicNetwork
            A new network; this one is unchanged. One set of events per network: a second
            call raises (use :meth:`to_site_network` to combine event families).

        Raises
        ------
        ConfigError
            If `events` are not PeriodicEvents for this unit cell's basis, or the network
            has events already.
        """
        from .events import PeriodicEvents

        if not isinstance(events, PeriodicEvents):
            raise ConfigError(f"a PeriodicNetwork takes PeriodicEvents (concerted_events on the "
                              f"PeriodicNetwork), got {type(events).__name__}; for an EventSet "
                              "use network.to_site_network().with_events(...)")
        if self.events is not None:
            raise ConfigError("this PeriodicNetwork has multi-ion events already; one family "
                              "per compact network (combine families on to_site_network())")
        if self.has_interactions:
            raise ConfigError("string events kept per basis site need a network without pair "
                              "interactions; list them on network.to_site_network() instead")
        start = self._basis_hop_start
        deg = np.diff(start)
        ok = events.ptr.shape[0] == self.n_basis + 1
        if ok and events.n_templates:  # the hops along each string exist, with its vectors
            hops = np.empty(events.slots.shape, dtype=np.int64)
            b = np.repeat(np.arange(self.n_basis), events.counts())
            for i in range(events.k):
                ok = bool(np.all(events.slots[:, i] < deg[b]))
                if not ok:
                    break
                hops[:, i] = start[b] + events.slots[:, i]
                b = self.hop_basis_dst[hops[:, i]]
            ok = ok and np.array_equal(events.vectors, self._sym_unit_vectors()[hops])
        if not ok:
            raise ConfigError("these PeriodicEvents were made for another unit cell (their "
                              "basis sites, hop slots or vectors differ from this network's)")
        out = copy.copy(self)
        set_ = object.__setattr__
        set_(out, "events", events)
        set_(out, "event_type_names", tuple(events.type_names))
        set_(out, "n_events", int(events.counts().sum()) * self.n_cells)
        return out

    @cached_property
    def _basis_hop_start(self) -> np.ndarray:
        """Index of each basis site's first unit-cell hop (hops are sorted by source basis
        site), int64, shape (nb + 1,): basis site b's hop slot k is unit hop start[b] + k."""
        return np.concatenate([[0], np.cumsum(np.bincount(self.hop_basis_src,
                                                          minlength=self.n_basis))])

    def _sym_unit_vectors(self) -> np.ndarray:
        """The unit-cell hops' symmetrised vectors, as SiteNetwork's (Angstrom)."""
        uv = self.unit_hop_vectors
        return (uv - uv[self._rev]) * 0.5  # type: ignore[attr-defined]

    def engine_input_bytes(self) -> float:
        """An upper estimate, bytes, of what creating the engine for this network needs
        beyond its per-site and per-ion records (the :class:`Network` protocol): the
        per-site template indices and the templates (nothing per hop or per pair: the
        engine's classes are at most the templates), and with string events their class per
        site and their sum tree."""
        nb, h = self.n_basis, int(self.hop_basis_src.shape[0])
        offsets = self.hop_cell_offsets
        p = 0
        if self.pair_basis_i is not None:
            p = int(self.pair_basis_i.shape[0])
            offsets = np.concatenate([offsets, self.pair_cell_offsets])
        # the wrap patterns along axis k: at most 2 max|offset_k| + 1 (and n_k)
        reach = np.abs(offsets).max(axis=0) if len(offsets) else np.zeros(3, dtype=np.int64)
        cells = float(np.prod(np.minimum(2 * reach + 1, self.size)))
        est = 4.0 * self.n_sites + cells * (48.0 * h + 48.0 * p + 200.0 * nb)
        if self.n_events:
            est += 8.0 * self.n_sites + 9.0 * self.n_events
        return est

    def engine_arrays(self) -> dict[str, Any]:
        """What the engine needs of this network (the :class:`Network` protocol): the
        per-site templates (:meth:`templates`) instead of per-hop arrays, ``site_energy``
        (eV), ``n_hop_types`` and ``charge_e``; keyword arguments of
        :class:`kmc._engine.Engine`."""
        out = {"hop_ptr": None, "hop_dst": None, "hop_rev": None, "hop_type": None,
               "hop_vec": None, "hop_ekra": None, "site_energy": self.site_energies_eV,
               "n_hop_types": len(self.hop_type_names), "charge_e": self.charge_e,
               **self.templates()}
        ev = self.events
        if ev is not None and self.n_events:  # the events per basis site (et_*)
            out.update(ev_class=np.tile(np.arange(self.n_basis, dtype=np.int32), self.n_cells),
                       et_ptr=ev.ptr, et_k=ev.k, et_slot=ev.slots, et_vec=ev.vectors,
                       et_ekra=ev.barriers_eV, et_type=ev.types,
                       n_event_types=len(ev.type_names))
        return out

    # ---------------------------------------------------------------- the engine's input
    def templates(self) -> dict[str, np.ndarray]:
        """The engine's template form (see :class:`kmc._engine.Engine`).

        A site's hop list relative to itself depends only on its basis site and, per axis,
        on which of the hops' cell offsets wrap around the supercell at its cell
        coordinate. Per axis k the distinct wrap patterns over the coordinates
        ``0..n_k - 1`` are found (at most a few), and a template is a (basis site, pattern
        along each axis) combination.

        Returns
        -------
        dict
            ``site_template`` (n_sites,) int32 and ``tp_ptr``, ``tp_doff``, ``tp_rev``,
            ``tp_type``, ``tp_vec`` (Angstrom), ``tp_ekra`` (eV).
        """
        nb = self.n_basis
        b, b2, dn = self.hop_basis_src, self.hop_basis_dst, self.hop_cell_offsets
        h = b.shape[0]
        n0, n1, n2 = self.size
        strides = (n1 * n2 * nb, n2 * nb, nb)
        # the interactions' directed entries (each pair from both ends), sorted by source
        # basis site: their offsets wrap too
        pb = pb2 = np.zeros(0, dtype=np.int64)
        po = np.zeros((0, 3), dtype=np.int64)
        pJ = np.zeros(0)
        if self.has_interactions:
            pb = np.concatenate([self.pair_basis_i, self.pair_basis_j]).astype(np.int64)
            pb2 = np.concatenate([self.pair_basis_j, self.pair_basis_i]).astype(np.int64)
            po = np.concatenate([self.pair_cell_offsets, -self.pair_cell_offsets])
            pJ = np.concatenate([self.pair_energies_eV, self.pair_energies_eV])
        offsets = np.concatenate([dn, po])
        pats, ids = [], []
        for k, nk in enumerate(self.size):
            i = np.arange(nk, dtype=np.int64)[:, None]
            # (nk, h + entries) supercell images crossed
            wrap = np.floor_divide(i + offsets[None, :, k], nk)
            uniq, idx = np.unique(wrap, axis=0, return_inverse=True)
            pats.append(uniq)
            ids.append(idx.reshape(-1).astype(np.int32))
        p0, p1, p2 = (p.shape[0] for p in pats)
        # site template = ((pattern0 * p1 + pattern1) * p2 + pattern2) * nb + basis site
        cell_t = (ids[0][:, None, None] * np.int32(p1) + ids[1][None, :, None]) * np.int32(p2)
        cell_t = cell_t + ids[2][None, None, :]
        site_template = (cell_t.reshape(-1, 1) * np.int32(nb)
                         + np.arange(nb, dtype=np.int32)[None, :]).reshape(-1)
        # every template's hop list: the unit-cell hops of its basis site, in order
        start = self._basis_hop_start
        deg = np.diff(start)
        slot = np.arange(h) - start[b]  # position of each unit hop in its basis site's list
        g0, g1, g2, gb = np.meshgrid(np.arange(p0), np.arange(p1), np.arange(p2),
                                     np.arange(nb), indexing="ij")
        t_basis = gb.reshape(-1)
        n_t = t_basis.size
        tp_ptr = np.zeros(n_t + 1, dtype=np.int64)
        np.cumsum(deg[t_basis], out=tp_ptr[1:])
        # template hop rows: (template, unit hop) for every unit hop of the template's basis
        t_of = np.repeat(np.arange(n_t), deg[t_basis])
        u_of = (start[t_basis][t_of] + (np.arange(tp_ptr[-1]) - tp_ptr[:-1][t_of]))
        pat_idx = (g0.reshape(-1)[t_of], g1.reshape(-1)[t_of], g2.reshape(-1)[t_of])
        doff = (b2[u_of] - b[u_of]).astype(np.int64)
        for k in range(3):
            wrap_k = pats[k][pat_idx[k], u_of]
            doff += (dn[u_of, k] - wrap_k * self.size[k]) * strides[k]
        out = {
            "site_template": site_template,
            "tp_ptr": tp_ptr.astype(np.int32),
            "tp_doff": doff.astype(np.int32),
            "tp_rev": slot[self._rev[u_of]].astype(np.int32),  # type: ignore[attr-defined]
            "tp_type": self.hop_types[u_of].astype(np.int32),
            "tp_vec": np.ascontiguousarray(self.unit_hop_vectors[u_of]),
            "tp_ekra": np.ascontiguousarray(self.hop_barriers_eV[u_of]),
        }
        if self.has_interactions:
            out.update(self._interaction_templates(pats, (g0, g1, g2), t_basis, pb, pb2, po,
                                                   pJ, h, strides, t_of, doff))
        return out

    def _interaction_templates(self, pats: list[np.ndarray], grids: tuple[np.ndarray, ...],
                               t_basis: np.ndarray, pb: np.ndarray, pb2: np.ndarray,
                               po: np.ndarray, pJ: np.ndarray, h: int, strides: tuple[int, ...],
                               t_of: np.ndarray, hop_doff: np.ndarray) -> dict[str, np.ndarray]:
        """The template form of the pair interactions (``ti_ptr``, ``ti_doff``, ``ti_J``,
        ``tp_J``): each template's entries sorted by neighbour offset, which is the order
        of a :class:`SiteNetwork`'s neighbour lists (by neighbour index), so that the
        engine sums a site's field in the same order either way."""
        n_t = t_basis.size
        order = np.argsort(pb, kind="stable")
        pb, pb2, po, pJ = pb[order], pb2[order], po[order], pJ[order]
        start = np.searchsorted(pb, np.arange(self.n_basis + 1))
        cnt = np.diff(start)
        ti_ptr = np.zeros(n_t + 1, dtype=np.int64)
        np.cumsum(cnt[t_basis], out=ti_ptr[1:])
        tt = np.repeat(np.arange(n_t), cnt[t_basis])
        e_of = start[t_basis][tt] + (np.arange(ti_ptr[-1]) - ti_ptr[:-1][tt])
        ti_doff = (pb2[e_of] - pb[e_of]).astype(np.int64)
        for k in range(3):
            wrap_k = pats[k][grids[k].reshape(-1)[tt], h + order[e_of]]
            ti_doff += (po[e_of, k] - wrap_k * self.size[k]) * strides[k]
        srt = np.lexsort((ti_doff, tt))  # within each template by offset
        ti_doff, ti_J = ti_doff[srt], pJ[e_of][srt]
        # J of each template hop's ends: the template's entry with the hop's offset (there
        # are entries: a network with interactions has pairs)
        key = tt[srt] * (4 * np.int64(self.n_sites) + 1) + ti_doff
        hkey = t_of * (4 * np.int64(self.n_sites) + 1) + hop_doff
        pos = np.minimum(np.searchsorted(key, hkey), key.size - 1)
        tp_J = np.where(key[pos] == hkey, ti_J[pos], 0.0)
        return {"ti_ptr": ti_ptr.astype(np.int32), "ti_doff": ti_doff.astype(np.int32),
                "ti_J": np.ascontiguousarray(ti_J), "tp_J": np.ascontiguousarray(tp_J)}

    # ---------------------------------------------------------------- conversions
    def to_site_network(self) -> SiteNetwork:
        """The same network as a :class:`SiteNetwork` (per-site and per-hop arrays).

        Raises
        ------
        ConfigError
            If it would not fit in the available memory (about 250 bytes per hop and 100
            per site at the peak of construction; see :mod:`kmc.resources`).
        """
        require_memory(250.0 * self.n_hops + 100.0 * self.n_sites,
                       f"a SiteNetwork of {self.n_sites} sites and {self.n_hops} hops",
                       "keep the lattice compact (compact=True: a PeriodicNetwork, about 50 "
                       "bytes per site in a simulation) or use a smaller size")
        nb = self.n_basis
        b, b2, dn = self.hop_basis_src, self.hop_basis_dst, self.hop_cell_offsets
        n_rep = self.size
        n0, n1, n2 = n_rep
        n_cells = self.n_cells
        h = b.size
        n_hops = n_cells * h
        # for every cell, the unit-cell hops in order (sorted by b), so src is sorted
        src = (np.arange(n_cells, dtype=np.int32)[:, None] * np.int32(nb)
               + b.astype(np.int32)[None, :]).reshape(n_hops)
        strides = (n1 * n2 * nb, n2 * nb, nb)
        # destination offset contributed by axis k: ((i_k + dn_k) mod n_k) * stride_k, (n_k, h)
        t0, t1, t2 = (
            (((np.arange(nk)[:, None] + dn[None, :, k]) % nk) * strides[k]).astype(np.int32)
            for k, nk in enumerate(n_rep)
        )
        dst = t0[:, None, None, :] + t1[None, :, None, :]
        dst = dst + t2[None, None, :, :]
        dst += b2.astype(np.int32)
        dst = dst.reshape(n_hops)
        vectors = np.broadcast_to(self.unit_hop_vectors, (n_cells, h, 3)).reshape(n_hops, 3)

        def per_hop(a: np.ndarray) -> np.ndarray:
            return np.broadcast_to(a, (n_cells, h)).reshape(n_hops)

        barriers = self.hop_barriers_eV
        # What the unit cell's checks (__post_init__) give for every hop of the supercell,
        # so that SiteNetwork need not find it again: hop c * h + u (cell c, unit hop u)
        # crosses image floor((i_k + dn_k) / n_k) along axis k (positions are the unwrapped
        # i_k + basis) and its reverse is hop c' * h + rev[u] of the destination cell c'.
        # Unit hops of zero length go through the full checks (their error message).
        known = None
        uv = self.unit_hop_vectors
        if h and np.einsum("ij,ij->i", uv, uv).min() >= ZERO_HOP_A**2:
            images = np.empty((n0, n1, n2, h, 3), dtype=np.int32)
            rev = np.zeros((n0, n1, n2, h), dtype=np.int32)
            rev += self._rev.astype(np.int32)  # type: ignore[attr-defined]
            for k, nk in enumerate(n_rep):
                i_dn = np.arange(nk)[:, None] + dn[None, :, k]
                images[..., k] = (i_dn // nk).astype(np.int32).reshape(
                    [nk if a == k else 1 for a in range(3)] + [h])
                rev += ((i_dn % nk) * (strides[k] // nb * h)).astype(np.int32).reshape(
                    [nk if a == k else 1 for a in range(3)] + [h])
            known = (images.reshape(n_hops, 3), rev.reshape(n_hops))
        _TRUSTED.hops = known
        try:
            net = self._site_network(src, dst, vectors, barriers, h, n_hops, n_cells, per_hop)
        finally:
            _TRUSTED.hops = None
        if self.events is not None:  # the same events as lists: their generator again
            from .mechanisms import concerted_events

            _, k, barrier, max_turn_deg, site_types, name = self.events.spec  # "concerted"
            net = net.with_events(concerted_events(net, k, barrier, max_turn_deg=max_turn_deg,
                                                   site_types=site_types, name=name))
        return net

    def _site_pairs(self) -> dict[str, np.ndarray]:
        """The pair interactions of every cell as a SiteNetwork takes them (empty dict
        without)."""
        if self.pair_basis_i is None:
            return {}
        nb, reps = self.n_basis, np.array(self.size, dtype=np.int64)
        grid = np.stack(np.meshgrid(*(np.arange(k) for k in self.size), indexing="ij"),
                        axis=-1).reshape(-1, 3)
        c2 = (grid[:, None, :] + self.pair_cell_offsets[None, :, :]) % reps
        cell_j = (c2[..., 0] * reps[1] + c2[..., 1]) * reps[2] + c2[..., 2]
        pi = (np.arange(len(grid))[:, None] * nb + self.pair_basis_i[None, :]).reshape(-1)
        pj = (cell_j * nb + self.pair_basis_j[None, :]).reshape(-1)
        J = np.broadcast_to(self.pair_energies_eV, (len(grid), len(self.pair_energies_eV)))
        return {"pair_i": pi.astype(np.int32), "pair_j": pj.astype(np.int32),
                "pair_energies_eV": J.reshape(-1)}

    def _site_network(self, src: np.ndarray, dst: np.ndarray, vectors: np.ndarray,
                      barriers: np.ndarray, h: int, n_hops: int, n_cells: int,
                      per_hop: Any) -> SiteNetwork:
        return SiteNetwork(
            **self._site_pairs(),
            cell=self.cell,
            positions=self.positions,
            hop_src=src,
            hop_dst=dst,
            hop_vectors=vectors,
            hop_barriers_eV=float(barriers[0]) if h and np.all(barriers == barriers[0])
            else per_hop(barriers),
            site_types=self.site_types,
            site_type_names=self.site_type_names,
            site_energies_eV=self.site_energies_eV,
            hop_types=per_hop(self.hop_types),
            hop_type_names=self.hop_type_names,
            charge_e=self.charge_e,
            name=self.name,
        )

    def __repr__(self) -> str:
        return (f"PeriodicNetwork(name={self.name!r}, size={self.size}, "
                f"n_sites={self.n_sites}, n_hops={self.n_hops}, "
                f"dimensionality={self.dimensionality})")
