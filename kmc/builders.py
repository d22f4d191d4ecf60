"""Standard lattices and periodic site networks built from a unit cell.

Units: Angstrom (lengths), eV (energies).

:func:`periodic_network` tiles a unit cell (lattice vectors + basis sites in fractional
coordinates) into a supercell and connects the sites by nearest-neighbour hops (or all hops up
to a cutoff), with vectorised integer arithmetic, so a network of 10^6 sites builds in seconds.
The lattice functions (:func:`chain`, :func:`square`, :func:`triangular`, :func:`honeycomb`,
:func:`sc`, :func:`bcc`, :func:`fcc`, :func:`diamond`) are thin wrappers over it, collected in
:data:`LATTICES` and reachable by name through :func:`build_lattice`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _checks
from .constants import DEFAULT_BARRIER_EV, DEFAULT_LATTICE_CONSTANT_A
from .errors import ConfigError
from .lattice import PeriodicNetwork, SiteNetwork

__all__ = [
    "periodic_network",
    "chain",
    "square",
    "triangular",
    "honeycomb",
    "sc",
    "bcc",
    "fcc",
    "diamond",
    "LATTICES",
    "build_lattice",
]


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# generic builder
# --------------------------------------------------------------------------------------------


def _unit_cell_hops(
    cell: np.ndarray,
    basis: np.ndarray,
    hop_axes: tuple[bool, bool, bool],
    cutoff_A: float | None,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hops (b, b', dn) of the unit cell: from basis site b to basis site b' in cell dn.

    Returns int arrays ``b`` (h,), ``b2`` (h,) and ``dn`` (h, 3), sorted by ``b``.
    """
    nb = basis.shape[0]
    allowed = np.array(hop_axes, dtype=bool)
    recip = np.linalg.norm(np.linalg.inv(cell), axis=0)  # |d frac_k / d r|, 1/Angstrom
    spread = basis.max(axis=0) - basis.min(axis=0)
    scale = float(np.linalg.norm(cell, axis=1).max())

    # same-cell pairs first: coinciding basis sites are an input error
    diff0 = (basis[None, :, :] - basis[:, None, :]) @ cell  # (nb, nb, 3)
    d0 = np.linalg.norm(diff0, axis=2)
    iu = np.triu_indices(nb, 1)
    close = np.flatnonzero(d0[iu] < 1e-8 * scale)
    if close.size:
        i, j = iu[0][close[0]], iu[1][close[0]]
        raise ConfigError(f"basis sites {i} and {j} coincide (basis_frac rows {i} and {j})")

    if cutoff_A is None:
        # an upper bound of the nearest-neighbour distance: any nonzero candidate distance
        cands = [float(np.linalg.norm(cell[k])) for k in range(3) if hop_axes[k]]
        if nb > 1:
            cands.append(float(d0[iu].min()))
        if not cands:
            raise ConfigError(
                "no hops possible: hop_axes is (False, False, False) and there is only one "
                "basis site"
            )
        reach = min(cands) * (1.0 + tolerance)
    else:
        reach = cutoff_A
    reach *= 1.0 + 1e-9
    rng = np.where(allowed, np.ceil(reach * recip + spread).astype(np.int64), 0)
    if np.prod(2 * rng + 1) * nb * nb > 1e7:
        raise ConfigError(
            f"cutoff_A = {_checks.show(cutoff_A)} is too large for this cell: it reaches "
            f"{tuple(int(r) for r in rng)} cells along the cell vectors"
        )
    grids = np.meshgrid(*(np.arange(-r, r + 1) for r in rng), indexing="ij")
    dns = np.stack([g.ravel() for g in grids], axis=1)  # (k, 3)
    # frac vector b' + dn - b for all (b, b', dn)
    frac = basis[None, :, None, :] + dns[None, None, :, :] - basis[:, None, None, :]
    dist = np.linalg.norm(frac @ cell, axis=3)  # (nb, nb, k)
    zero_img = np.all(dns == 0, axis=1)
    self_mask = (np.eye(nb, dtype=bool)[:, :, None]) & zero_img[None, None, :]
    dist[self_mask] = np.inf
    if cutoff_A is None:
        dmin = float(dist.min())
        if not np.isfinite(dmin):  # pragma: no cover - excluded above
            raise ConfigError("no hops found")
        limit = dmin * (1.0 + tolerance)
    else:
        limit = cutoff_A * (1.0 + 1e-9)
    b, b2, k = np.nonzero(dist <= limit)  # sorted by b (C order)
    if b.size == 0:
        raise ConfigError(
            f"cutoff_A = {_checks.show(cutoff_A)} A is shorter than every site distance; no hops"
        )
    return b.astype(np.int64), b2.astype(np.int64), dns[k]


def periodic_network(
    cell_A: Any,
    basis_frac: Any,
    size: int | Sequence[int],
    *,
    hop_axes: Sequence[bool] = (True, True, True),
    cutoff_A: float | None = None,
    tolerance: float = 1e-3,
    barrier_eV: float = DEFAULT_BARRIER_EV,
    site_type_names: Sequence[str] | None = None,
    basis_types: Any = None,
    name: str = "network",
    compact: bool = False,
) -> SiteNetwork | PeriodicNetwork:
    """Tile a unit cell into a periodic supercell network with neighbour hops.

    Parameters
    ----------
    cell_A : array_like, shape (3, 3)
        Unit cell in Angstrom; rows are the lattice vectors.
    basis_frac : array_like, shape (nb, 3)
        Basis sites in fractional coordinates of `cell_A` (a single (3,) row is accepted).
    size : int or sequence of 3 int
        Repeats of the unit cell along its 3 vectors. An int L means L along every hop axis
        and 1 along the others.
    hop_axes : sequence of 3 bool, optional
        Axes along which hops may cross into neighbouring unit cells (default all). Along the
        others the network is disconnected (e.g. stacked layers of a 2D lattice).
    cutoff_A : float, optional
        Connect every pair of sites closer than this distance in Angstrom. Default: nearest
        neighbours only, i.e. all pairs within ``(1 + tolerance)`` times the shortest distance.
    tolerance : float, optional
        Relative tolerance on the nearest-neighbour distance (default 1e-3).
    barrier_eV : float, optional
        KRA barrier of every hop in eV (default 0.3).
    site_type_names : sequence of str, optional
        Names of the site types (default "A", "B", ... as many as `basis_types` needs).
    basis_types : array_like of int, shape (nb,), optional
        Site type index of each basis site (default all 0).
    name : str, optional
        Name of the network.
    compact : bool, optional
        Return a :class:`~kmc.lattice.PeriodicNetwork` (the unit cell and repeat counts,
        about 4 bytes per site in a simulation) instead of a :class:`SiteNetwork` (about 50
        bytes per hop). Same sites, hops and trajectories; use it for very large lattice
        gases. Default False.

    Returns
    -------
    SiteNetwork or PeriodicNetwork
        ``prod(size) * nb`` sites with index ``((i0 * n1 + i1) * n2 + i2) * nb + b`` (basis
        innermost), positions ``(i + basis_frac[b]) @ cell_A``, supercell
        ``diag(size) @ cell_A``; hop vectors ``(basis_frac[b'] + dn - basis_frac[b]) @ cell_A``
        in Angstrom, independent of the supercell.

    Raises
    ------
    ConfigError
        On invalid input, or when the supercell is too small, so that a site would hop to its
        own periodic image.
    """
    cell = _checks.float_array(cell_A, "cell_A", (3, 3))
    norms = np.linalg.norm(cell, axis=1)
    det = float(np.linalg.det(cell))
    if abs(det) <= 1e-8 * float(np.prod(norms)):
        raise ConfigError(f"cell_A is singular (det = {det:.6g} A^3)")
    basis_arr = np.asarray(basis_frac) if not isinstance(basis_frac, str) else basis_frac
    if np.ndim(basis_arr) == 1:
        basis_arr = np.reshape(basis_arr, (1, -1))
    nb = int(np.shape(basis_arr)[0]) if np.ndim(basis_arr) == 2 else -1
    if nb < 1:
        raise ConfigError(f"basis_frac must have shape (nb, 3) with nb >= 1, got {basis_frac!r}")
    basis = _checks.float_array(basis_arr, "basis_frac", (nb, 3))
    if isinstance(hop_axes, (str, bytes)) or len(hop_axes) != 3:
        raise ConfigError(f"hop_axes = {_checks.show(hop_axes)} must be 3 booleans")
    axes = tuple(bool(h) for h in hop_axes)
    n_rep = _checks.size3(size, axes)  # type: ignore[arg-type]
    if cutoff_A is not None:
        cutoff_A = _checks.real(cutoff_A, "cutoff_A", lo=0.0, lo_open=True)
    tolerance = _checks.real(tolerance, "tolerance", lo=0.0)
    barrier = _checks.real(barrier_eV, "barrier_eV", lo=0.0)

    if basis_types is None:
        types = np.zeros(nb, dtype=np.int64)
    else:
        types = np.asarray(basis_types)
        if types.shape != (nb,) or types.dtype.kind not in "iu":
            raise ConfigError(
                f"basis_types = {_checks.show(basis_types)} must be {nb} integers (one per "
                "basis site)"
            )
        types = types.astype(np.int64)
    if site_type_names is None:
        n_types = int(types.max()) + 1 if types.size else 1
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        site_type_names = tuple(letters[k] if n_types <= 26 else f"T{k}" for k in range(n_types))

    b, b2, dn = _unit_cell_hops(cell, basis, axes, cutoff_A, tolerance)
    net = PeriodicNetwork(
        unit_cell=cell, basis_frac=basis, size=n_rep, hop_basis_src=b, hop_basis_dst=b2,
        hop_cell_offsets=dn, hop_barriers_eV=barrier, basis_types=types,
        site_type_names=tuple(site_type_names), name=name,
    )
    return net if compact else net.to_site_network()


# --------------------------------------------------------------------------------------------
# standard lattices
# --------------------------------------------------------------------------------------------

_S3 = math.sqrt(3.0)


def _lattice(
    lattice: str,
    cell_unit: np.ndarray,
    basis: np.ndarray,
    hop_axes: tuple[bool, bool, bool],
    a: Any,
    size: Any,
    barrier_eV: Any,
    kw: dict[str, Any],
) -> SiteNetwork | PeriodicNetwork:
    a_f = _checks.real(a, "a", lo=0.0, lo_open=True)
    params: dict[str, Any] = {"hop_axes": hop_axes, "name": lattice, "barrier_eV": barrier_eV}
    params.update(kw)
    return periodic_network(a_f * cell_unit, basis, size, **params)


_CUBIC = np.eye(3)
_HEX = np.array([[1.0, 0.0, 0.0], [0.5, _S3 / 2, 0.0], [0.0, 0.0, 1.0]])
_FCC_BASIS = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])


_ONE_SITE = np.zeros((1, 3))
_HONEYCOMB_BASIS = np.array([[0.0, 0.0, 0.0], [1 / 3, 1 / 3, 0.0]])
_BCC_BASIS = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
_DIAMOND_BASIS = np.concatenate([_FCC_BASIS, _FCC_BASIS + 0.25])


def chain(a: float = DEFAULT_LATTICE_CONSTANT_A, size: Any = 64,
          barrier_eV: float = DEFAULT_BARRIER_EV, **kw: Any) -> SiteNetwork | PeriodicNetwork:
    """1D chain: sites at x = k a, hops along x only; coordination 2, hop length a.

    Cubic cell of edge `a` with one site; hops only along x (the chains are stacked a apart
    along y and z without hops between them).

    Parameters
    ----------
    a : float
        Lattice constant in Angstrom (default 3.0).
    size : int or sequence of 3 int
        Number of sites along the chain (default 64), or 3 repeats of the cell.
    barrier_eV : float
        KRA barrier of every hop in eV (default 0.3).
    **kw
        Passed to :func:`periodic_network` (e.g. ``name``, ``site_type_names``).

    Returns
    -------
    SiteNetwork
        Named ``"chain"`` unless ``name`` is given; nearest-neighbour hops only.
    """
    return _lattice("chain", _CUBIC, _ONE_SITE, (True, False, False), a, size, barrier_eV, kw)


def square(a: float = DEFAULT_LATTICE_CONSTANT_A, size: Any = 16,
           barrier_eV: float = DEFAULT_BARRIER_EV, **kw: Any) -> SiteNetwork | PeriodicNetwork:
    """2D square lattice in the xy plane; coordination 4, hop length a.

    Cubic cell of edge `a` with one site; layers are stacked a apart along z without hops
    between them.

    Parameters
    ----------
    a : float
        Lattice constant in Angstrom (default 3.0).
    size : int or sequence of 3 int
        L gives L x L sites (default 16), or 3 repeats of the cell.
    barrier_eV : float
        KRA barrier of every hop in eV (default 0.3).
    **kw
        Passed to :func:`periodic_network` (e.g. ``name``, ``site_type_names``).

    Returns
    -------
    SiteNetwork
        Named ``"square"`` unless ``name`` is given; nearest-neighbour hops only.
    """
    return _lattice("square", _CUBIC, _ONE_SITE, (True, True, False), a, size, barrier_eV, kw)


def triangular(a: float = DEFAULT_LATTICE_CONSTANT_A, size: Any = 16,
               barrier_eV: float = DEFAULT_BARRIER_EV, **kw: Any) -> SiteNetwork | PeriodicNetwork:
    """2D triangular (hexagonal Bravais) lattice; coordination 6, hop length a.

    Primitive vectors a (1, 0, 0) and a (1/2, sqrt(3)/2, 0), one site per cell; layers are
    stacked a apart along z without hops between them.

    Parameters
    ----------
    a : float
        Lattice constant in Angstrom (default 3.0).
    size : int or sequence of 3 int
        L gives L x L sites (default 16), or 3 repeats of the cell.
    barrier_eV : float
        KRA barrier of every hop in eV (default 0.3).
    **kw
        Passed to :func:`periodic_network` (e.g. ``name``, ``site_type_names``).

    Returns
    -------
    SiteNetwork
        Named ``"triangular"`` unless ``name`` is given; nearest-neighbour hops only.
    """
    return _lattice("triangular", _HEX, np.zeros((1, 3)), (True, True, False), a, size, barrier_eV,
                    kw)


def honeycomb(a: float = DEFAULT_LATTICE_CONSTANT_A, size: Any = 16,
              barrier_eV: float = DEFAULT_BARRIER_EV, **kw: Any) -> SiteNetwork | PeriodicNetwork:
    """2D honeycomb (graphene-like) lattice; coordination 3, hop length a / sqrt(3).

    Hexagonal cell of lattice constant `a` (vectors a (1, 0, 0), a (1/2, sqrt(3)/2, 0)) with
    2 basis sites at fractional (0, 0, 0) and (1/3, 1/3, 0); layers are stacked a apart along z
    without hops between them.

    Parameters
    ----------
    a : float
        Lattice constant in Angstrom (default 3.0).
    size : int or sequence of 3 int
        L gives L x L cells, 2 L^2 sites (default 16), or 3 repeats of the cell.
    barrier_eV : float
        KRA barrier of every hop in eV (default 0.3).
    **kw
        Passed to :func:`periodic_network` (e.g. ``name``, ``site_type_names``).

    Returns
    -------
    SiteNetwork
        Named ``"honeycomb"`` unless ``name`` is given; nearest-neighbour hops only.
    """
    return _lattice("honeycomb", _HEX, _HONEYCOMB_BASIS, (True, True, False), a, size, barrier_eV,
                    kw)


def sc(a: float = DEFAULT_LATTICE_CONSTANT_A, size: Any = 10,
       barrier_eV: float = DEFAULT_BARRIER_EV, **kw: Any) -> SiteNetwork | PeriodicNetwork:
    """Simple cubic lattice; coordination 6, hop length a.

    Cubic cell of edge `a` with one site.

    Parameters
    ----------
    a : float
        Lattice constant in Angstrom (default 3.0).
    size : int or sequence of 3 int
        L gives L^3 cells (default 10), or 3 repeats of the cell.
    barrier_eV : float
        KRA barrier of every hop in eV (default 0.3).
    **kw
        Passed to :func:`periodic_network` (e.g. ``name``, ``site_type_names``).

    Returns
    -------
    SiteNetwork
        Named ``"sc"`` unless ``name`` is given; nearest-neighbour hops only.
    """
    return _lattice("sc", _CUBIC, np.zeros((1, 3)), (True, True, True), a, size, barrier_eV, kw)


def bcc(a: float = DEFAULT_LATTICE_CONSTANT_A, size: Any = 8,
        barrier_eV: float = DEFAULT_BARRIER_EV, **kw: Any) -> SiteNetwork | PeriodicNetwork:
    """Body-centred cubic lattice; coordination 8, hop length a sqrt(3) / 2.

    Conventional cubic cell of edge `a` with 2 sites (0, 0, 0) and (1/2, 1/2, 1/2).

    Parameters
    ----------
    a : float
        Lattice constant in Angstrom (default 3.0).
    size : int or sequence of 3 int
        L gives L^3 conventional cells, 2 L^3 sites (default 8), or 3 repeats of the cell.
    barrier_eV : float
        KRA barrier of every hop in eV (default 0.3).
    **kw
        Passed to :func:`periodic_network` (e.g. ``name``, ``site_type_names``).

    Returns
    -------
    SiteNetwork
        Named ``"bcc"`` unless ``name`` is given; nearest-neighbour hops only.
    """
    return _lattice("bcc", _CUBIC, _BCC_BASIS, (True, True, True), a, size, barrier_eV, kw)


def fcc(a: float = DEFAULT_LATTICE_CONSTANT_A, size: Any = 6,
        barrier_eV: float = DEFAULT_BARRIER_EV, **kw: Any) -> SiteNetwork | PeriodicNetwork:
    """Face-centred cubic lattice; coordination 12, hop length a / sqrt(2).

    Conventional cubic cell of edge `a` with 4 sites.

    Parameters
    ----------
    a : float
        Lattice constant in Angstrom (default 3.0).
    size : int or sequence of 3 int
        L gives L^3 conventional cells, 4 L^3 sites (default 6), or 3 repeats of the cell.
    barrier_eV : float
        KRA barrier of every hop in eV (default 0.3).
    **kw
        Passed to :func:`periodic_network` (e.g. ``name``, ``site_type_names``).

    Returns
    -------
    SiteNetwork
        Named ``"fcc"`` unless ``name`` is given; nearest-neighbour hops only.
    """
    return _lattice("fcc", _CUBIC, _FCC_BASIS, (True, True, True), a, size, barrier_eV, kw)


def diamond(a: float = DEFAULT_LATTICE_CONSTANT_A, size: Any = 5,
            barrier_eV: float = DEFAULT_BARRIER_EV, **kw: Any) -> SiteNetwork | PeriodicNetwork:
    """Diamond lattice; coordination 4, hop length a sqrt(3) / 4.

    Conventional cubic cell of edge `a` with 8 sites (fcc plus fcc shifted by (1/4, 1/4, 1/4)).

    Parameters
    ----------
    a : float
        Lattice constant in Angstrom (default 3.0).
    size : int or sequence of 3 int
        L gives L^3 conventional cells, 8 L^3 sites (default 5), or 3 repeats of the cell.
    barrier_eV : float
        KRA barrier of every hop in eV (default 0.3).
    **kw
        Passed to :func:`periodic_network` (e.g. ``name``, ``site_type_names``).

    Returns
    -------
    SiteNetwork
        Named ``"diamond"`` unless ``name`` is given; nearest-neighbour hops only.
    """
    return _lattice("diamond", _CUBIC, _DIAMOND_BASIS, (True, True, True), a, size, barrier_eV, kw)


#: The standard lattices by name.
LATTICES: dict[str, Callable[..., SiteNetwork]] = {
    "chain": chain,
    "square": square,
    "honeycomb": honeycomb,
    "triangular": triangular,
    "sc": sc,
    "bcc": bcc,
    "fcc": fcc,
    "diamond": diamond,
}


def build_lattice(name: str, /, **kwargs: Any) -> SiteNetwork | PeriodicNetwork:
    """Build a standard lattice by name.

    Parameters
    ----------
    name : str
        One of the keys of :data:`LATTICES` ("chain", "square", "honeycomb", "triangular",
        "sc", "bcc", "fcc", "diamond"), case-insensitive; positional-only.
    **kwargs
        Passed to the lattice function (``a`` in Angstrom, ``size``, ``barrier_eV`` in eV, ...,
        including ``name=`` to rename the network).

    Returns
    -------
    SiteNetwork

    Raises
    ------
    ConfigError
        For an unknown name (with the closest known names) or invalid parameters.
    """
    if not isinstance(name, str):
        raise ConfigError(f"lattice name must be a string, got {type(name).__name__} {name!r}")
    key = name.strip().lower()
    if key not in LATTICES:
        known = ", ".join(LATTICES)
        close = difflib.get_close_matches(key, list(LATTICES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown lattice {name!r}{hint} (known: {known})")
    return LATTICES[key](**kwargs)
