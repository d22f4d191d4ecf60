"""Effective-medium predictions beside the KMC runs of microstructures: what a polycrystal or
a composite *should* conduct, from the bulk and the geometry.

* :func:`effective_sigma_S_cm`: the effective conductivity of a microstructure run (the
  bulk's dimensionality in the trace), :func:`tortuosity` of a composite;
* :func:`bond_conductances_S`: the mean-field conductance of every hop (the engine's rate law,
  :func:`kmc._engine.rate_Hz`, at Fermi-Dirac occupations), exact for a lattice gas;
* :func:`resistor_network`: the coarse resistor network of a polycrystal's grains (networkx
  graph, solved with scipy.sparse) and :func:`brick_layer_S_cm`, the analytic brick layer;
* :func:`compare_with_bulk`: a microstructure run beside its bulk run with these predictions;
* :func:`percolation_threshold`: the site-percolation threshold of a network's hop graph.

The geometry (grains, particles, boundaries) lives in :mod:`kmc.microstructure`; this module
only reads it.

Units: Angstrom and nm (``_nm`` names; 1 nm = 10 A), eV, K, S/cm, Ohm cm^2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import brentq
from scipy.sparse import csgraph
from scipy.sparse.linalg import spsolve
from scipy.spatial import Voronoi

from . import _engine
from .constants import CM_PER_A as _CM_PER_A
from .constants import DEFAULT_ATTEMPT_FREQUENCY_HZ, E_CHARGE_C, KB_EV_PER_K, KB_J_PER_K
from .errors import ConfigError
from .lattice import SiteNetwork, wrapping_dimension
from .microstructure import DEPRECATED_KEYS as _MICROSTRUCTURE_DEPRECATED_KEYS
from .microstructure import (
    _CENTRAL,
    _SHIFTS,
    Microstructure,
    _cell_widths,
    _check_network,
    _images,
    _int,
    _nearest_seed,
    _real,
    _wrapped,
)

__all__ = ["effective_sigma_S_cm", "tortuosity", "brick_layer_S_cm", "bond_conductances_S",
           "NetworkPrediction", "resistor_network", "compare_with_bulk",
           "PercolationEstimate", "percolation_threshold"]


# --------------------------------------------------------------------------- observables
def _travel_nm(result: Any) -> tuple[float, str] | None:
    """How far the ions move over the shortest time the estimate rests on (the root tracer
    MSD), nm, and that time in words: the first fitted lag of the lag-time MSD fit, or a
    block (block estimates); None when the run has neither."""
    msd = result.msd or {}
    fit = msd.get("fit_range_s")
    if fit is not None and np.size(fit) == 2 and np.isfinite(fit).all() \
            and np.size(msd.get("time_s", [])) > 0:
        msd_A2 = float(np.interp(float(fit[0]), msd["time_s"], msd["tracer_A2"]))
        return math.sqrt(max(msd_A2, 0.0)) / 10.0, "over the first lag of the MSD fit"
    if result.blocks is not None and result.blocks.n_blocks > 0:
        tr = result.blocks.tracer_sq_A2
        msd_A2 = float(np.mean(np.trace(tr, axis1=1, axis2=2))) / result.n_ions
        return math.sqrt(msd_A2) / 10.0, "per block (sqrt of the tracer MSD per block)"
    return None


def effective_sigma_S_cm(result: Any, bulk_dimensionality: int) -> tuple[float, float]:
    """Effective conductivity of a microstructure run and its standard error, S/cm.

    The trace of the Nernst-Einstein conductivity tensor divided by the dimensionality of the
    *bulk* (so a composite whose conducting phase percolates in fewer directions is not
    credited with the bulk's dimensionality). Zero, exactly, when the run's network does not
    percolate (dimensionality 0): the long-time conductivity of finite clusters vanishes.

    Parameters
    ----------
    result : RunResult
        A run of a microstructure network.
    bulk_dimensionality : int
        Dimensionality of the bulk network (1, 2 or 3).
    """
    d_bulk = _int(bulk_dimensionality, "bulk_dimensionality", 1)
    d = int(result.dimensionality)
    if d == 0:
        return 0.0, 0.0
    scale = d / d_bulk
    return float(result.sigma_S_cm) * scale, float(result.sigma_S_cm_err) * scale


def tortuosity(fraction: float, sigma_bulk_S_cm: float, sigma_eff_S_cm: float,
               sigma_bulk_err_S_cm: float = 0.0, sigma_eff_err_S_cm: float = 0.0
               ) -> tuple[float, float]:
    """Tortuosity factor tau = phi sigma_bulk / sigma_eff and its propagated error.

    Returns (inf, nan) when sigma_eff is zero (no percolating conducting path).
    """
    phi = _real(fraction, "fraction", 0.0, 1.0, strict_lo=True)
    if sigma_eff_S_cm <= 0:
        return math.inf, math.nan
    tau = phi * sigma_bulk_S_cm / sigma_eff_S_cm
    rel = math.hypot(sigma_bulk_err_S_cm / sigma_bulk_S_cm if sigma_bulk_S_cm else 0.0,
                     sigma_eff_err_S_cm / sigma_eff_S_cm)
    return tau, tau * rel


def brick_layer_S_cm(sigma_bulk_S_cm: float, grain_size_nm: float,
                     boundary_resistance_ohm_cm2: float) -> float:
    """Brick-layer conductivity of cubic grains with thin, uniform boundaries, S/cm.

    Current crosses one boundary per grain size d in series with the grain:
    ``1 / sigma_eff = 1 / sigma_bulk + r_gb / d``, with r_gb the specific (area) resistance
    of one boundary (for a layer of thickness delta and conductivity sigma_gb,
    r_gb = delta (1 / sigma_gb - 1 / sigma_bulk)). The parallel path along the boundaries is
    neglected, as it is when boundaries are thin and slower than the bulk.
    """
    sb = _real(sigma_bulk_S_cm, "sigma_bulk_S_cm", 0.0, strict_lo=True)
    d_cm = _real(grain_size_nm, "grain_size_nm", 0.0, strict_lo=True) * 1e-7
    r = _real(boundary_resistance_ohm_cm2, "boundary_resistance_ohm_cm2")
    return 1.0 / (1.0 / sb + r / d_cm)


def bond_conductances_S(network: SiteNetwork, temperature_K: float, n_ions: int, *,
                        attempt_frequency_Hz: float = DEFAULT_ATTEMPT_FREQUENCY_HZ,
                        rate_law: str = "kra"
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean-field conductance of every hop and the equilibrium occupations.

    Each site is occupied with the Fermi-Dirac probability p of its energy at the chemical
    potential that holds `n_ions` on average (pair interactions are ignored); a hop i -> j
    with rate k carries the equilibrium flux k p_i (1 - p_j), which detailed balance makes
    equal in both directions, and conducts ``g = q^2 k p_i (1 - p_j) / (kB T)``. For a lattice
    gas without interactions these bond conductances make a resistor network whose effective
    conductivity is the collective (charge) conductivity.

    Returns
    -------
    g_S : ndarray, shape (n_hops,)
        Conductance of every (directed) hop, S.
    occupation : ndarray, shape (n_sites,)
        Mean occupation of every site.
    """
    net = _check_network(network)
    T = _real(temperature_K, "temperature_K", 0.0, strict_lo=True)
    nu = _real(attempt_frequency_Hz, "attempt_frequency_Hz", 0.0, strict_lo=True)
    n_ions = _int(n_ions, "n_ions", 1)
    if n_ions >= net.n_sites:
        raise ConfigError(f"n_ions = {n_ions} leaves no vacancy on {net.n_sites} sites")
    kT = KB_EV_PER_K * T
    E = net.site_energies_eV

    def fermi(mu: float) -> NDArray:
        return 0.5 * (1.0 - np.tanh((E - mu) / (2 * kT)))

    lo, hi = float(E.min()) - 60 * kT, float(E.max()) + 60 * kT
    mu = brentq(lambda m: float(fermi(m).sum()) - n_ions, lo, hi, xtol=1e-12 * max(kT, 1e-9))
    p = fermi(mu)
    s, d = net.hop_src, net.hop_dst
    rate = _engine.rate_Hz(net.hop_barriers_eV, E[d] - E[s], T, nu, rate_law)  # the engine's
    q = net.charge_e * E_CHARGE_C
    g = q * q / (KB_J_PER_K * T) * rate * p[s] * (1.0 - p[d])
    return g, p


def _mean_field_sigma(network: SiteNetwork, g: NDArray) -> NDArray:
    """Conductivity tensor (S/cm) of the bond network: (1 / 2V) sum_h g_h r_h r_h^T."""
    r_cm = network.hop_vectors * _CM_PER_A
    vol_cm3 = network.volume_A3 * _CM_PER_A**3
    return np.einsum("h,hi,hj->ij", g, r_cm, r_cm) / (2.0 * vol_cm3)


# --------------------------------------------------------------------------- coarse model
@dataclass(frozen=True)
class NetworkPrediction:
    """Effective conductivity of a polycrystal from the coarse resistor network of grains.

    Attributes
    ----------
    sigma_S_cm : float
        Effective conductivity: trace of the tensor over the bulk's dimensionality, S/cm.
    sigma_tensor_S_cm : ndarray, shape (3, 3)
    sigma_bulk_S_cm : float
        The bulk conductivity the network was built with (scalar), S/cm.
    ratio : float
        sigma_S_cm / sigma_bulk_S_cm.
    brick_layer_S_cm : float
        The brick-layer value for the same grain size and mean boundary resistance, S/cm.
    boundary_resistance_ohm_cm2 : float
        Area-weighted mean specific resistance of the grain boundaries, Ohm cm^2.
    grain_size_nm : float
        Mean grain size (edge of the cube of the mean grain volume), nm.
    n_grains, n_faces : int
        Nodes and boundary faces (edges) of the coarse network.
    unmatched_crossing_fraction : float
        Share of the boundary-crossing bond conductance that joins grains without a common
        face (at an edge or corner) and is left out of the coarse network.
    mesh_factor : float
        Conductivity of the same network without boundary resistances over the bulk value:
        the error of the two-point flux between irregular Voronoi cells (1 for bricks),
        divided out of the prediction.
    graph : networkx.MultiGraph
        The coarse network: grains as nodes (``centre_A``), faces as edges (``area_A2``,
        ``vector_A``, ``bulk_resistance_ohm``, ``boundary_resistance_ohm``,
        ``conductance_S``).
    """

    sigma_S_cm: float
    sigma_tensor_S_cm: NDArray[np.float64]
    sigma_bulk_S_cm: float
    ratio: float
    brick_layer_S_cm: float
    boundary_resistance_ohm_cm2: float
    grain_size_nm: float
    n_grains: int
    n_faces: int
    unmatched_crossing_fraction: float
    mesh_factor: float = 1.0
    graph: Any = field(repr=False, default=None)
    _coarse: Any = field(repr=False, default=None)

    def at_grain_size(self, grain_size_nm: Any) -> NDArray[np.float64]:
        """Effective conductivity (S/cm) of the same tessellation scaled to other grain sizes.

        Every length of the grain network is multiplied by ``grain_size_nm / grain_size_nm``
        of this prediction, with the same bulk conductivity and the same specific boundary
        resistance: how the microstructure would conduct with micrometre grains, which no
        atomistic box holds.

        Parameters
        ----------
        grain_size_nm : float or array_like
            Mean grain sizes (edge of the cube of the mean grain volume), nm, > 0.

        Returns
        -------
        ndarray
            sigma_eff, S/cm, one per grain size (the trace over the bulk's dimensionality).
        """
        sizes = np.atleast_1d(np.asarray(grain_size_nm, dtype=float))
        if sizes.size == 0 or not np.all(np.isfinite(sizes)) or np.any(sizes <= 0):
            raise ConfigError(f"grain_size_nm = {grain_size_nm!r} must be finite and > 0")
        if self._coarse is None:  # pragma: no cover - built by resistor_network
            raise ConfigError("this prediction has no grain network to scale")
        c = self._coarse
        return np.array([float(np.trace(c.sigma(d / self.grain_size_nm))) / c.d_bulk
                         for d in sizes]) / self.mesh_factor

    def brick_layer_at(self, grain_size_nm: Any) -> NDArray[np.float64]:
        """Brick-layer conductivity (S/cm) at other grain sizes (same boundaries)."""
        sizes = np.atleast_1d(np.asarray(grain_size_nm, dtype=float))
        return np.array([brick_layer_S_cm(self.sigma_bulk_S_cm, d,
                                          self.boundary_resistance_ohm_cm2) for d in sizes])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the graph left out)."""
        return {"sigma_network_S_cm": self.sigma_S_cm,
                "sigma_network_tensor_S_cm": self.sigma_tensor_S_cm.tolist(),
                "sigma_bulk_used_S_cm": self.sigma_bulk_S_cm, "network_ratio": self.ratio,
                "sigma_brick_layer_S_cm": self.brick_layer_S_cm,
                "boundary_resistance_ohm_cm2": self.boundary_resistance_ohm_cm2,
                "network_faces": self.n_faces, "network_mesh_factor": self.mesh_factor,
                "unmatched_crossing_fraction": self.unmatched_crossing_fraction}


@dataclass(frozen=True, eq=False)
class _Coarse:
    """The coarse network's edges, to be solved at any scale of the tessellation."""

    n_nodes: int
    ei: NDArray[np.int64]
    ej: NDArray[np.int64]
    r_bulk: NDArray[np.float64]      # Ohm; inf for a face no current crosses
    r_gb: NDArray[np.float64]        # Ohm
    vec_cm: NDArray[np.float64]
    volume_cm3: float
    d_bulk: int

    def sigma(self, scale: float, boundaries: bool = True) -> NDArray[np.float64]:
        """Conductivity tensor (S/cm) with every length multiplied by `scale`: the bulk
        resistance of a face goes as 1 / scale, its boundary resistance as 1 / scale^2."""
        with np.errstate(divide="ignore"):
            r = self.r_bulk / scale + (self.r_gb / scale**2 if boundaries else 0.0)
            g = np.where(np.isfinite(r), 1.0 / r, 0.0)
        return _solve_network(self.n_nodes, self.ei, self.ej, g, self.vec_cm * scale,
                              self.volume_cm3 * scale**3)


def _canonical(i: NDArray, j: NDArray, s: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    """One key per physical face: (i, j, s) and (j, i, -s) are the same face."""
    lexpos = (s[:, 0] > 0) | ((s[:, 0] == 0) & ((s[:, 1] > 0) | ((s[:, 1] == 0) & (s[:, 2] > 0))))
    flip = (i > j) | ((i == j) & ~lexpos)
    return np.where(flip, j, i), np.where(flip, i, j), np.where(flip[:, None], -s, s)


def _polygon_area(points: NDArray, normal: NDArray) -> float:
    """Area of a planar convex polygon given by its vertices (any order)."""
    c = points.mean(axis=0)
    u = points[0] - c
    if np.linalg.norm(u) == 0:
        return 0.0
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    ang = np.arctan2((points - c) @ v, (points - c) @ u)
    p = points[np.argsort(ang)] - c
    return 0.5 * float(np.linalg.norm(np.cross(p, np.roll(p, -1, axis=0)).sum(axis=0)))


def _voronoi_faces(seeds_A: NDArray, cell: NDArray) -> dict[tuple[int, int, tuple[int, ...]],
                                                             tuple[float, NDArray, float]]:
    """Faces of the periodic Voronoi tessellation: key (i, j, image of j) -> (area A^2,
    vector from seed i to that image of seed j (A), distance between the seeds (A))."""
    g = seeds_A.shape[0]
    pts = _images(seeds_A, cell)
    vor = Voronoi(pts)
    rp = vor.ridge_points
    img_p, img_q = rp[:, 0] // g, rp[:, 1] // g
    keep = (img_p == _CENTRAL) | (img_q == _CENTRAL)
    faces: dict[tuple[int, int, tuple[int, ...]], tuple[float, NDArray, float]] = {}
    for r in np.flatnonzero(keep):
        p, q = int(rp[r, 0]), int(rp[r, 1])
        verts = vor.ridge_vertices[r]
        if -1 in verts:  # pragma: no cover - central faces are bounded
            continue
        s = (_SHIFTS[q // g] - _SHIFTS[p // g])[None, :]
        i, j, s = _canonical(np.array([p % g]), np.array([q % g]), s)
        key = (int(i[0]), int(j[0]), tuple(int(x) for x in s[0]))
        if key in faces:
            continue
        vec = seeds_A[key[1]] + np.array(key[2]) @ cell - seeds_A[key[0]]
        dist = float(np.linalg.norm(vec))
        area = _polygon_area(vor.vertices[verts], vec / dist)
        if area > 1e-9 * dist * dist:
            faces[key] = (area, vec, dist)
    return faces


def _brick_faces(bricks: tuple[int, int, int], cell: NDArray
                 ) -> dict[tuple[int, int, tuple[int, ...]], tuple[float, NDArray, float]]:
    """Faces of a k1 x k2 x k3 grid of parallelepiped bricks (as :func:`_voronoi_faces`)."""
    b = np.array(bricks)
    widths = _cell_widths(cell)
    vol = abs(np.linalg.det(cell)) / b.prod()
    faces = {}
    for idx in np.ndindex(*bricks):
        i = (idx[0] * bricks[1] + idx[1]) * bricks[2] + idx[2]
        for ax in range(3):
            nb = list(idx)
            nb[ax] += 1
            shift = [0, 0, 0]
            if nb[ax] == bricks[ax]:
                nb[ax], shift[ax] = 0, 1
            j = (nb[0] * bricks[1] + nb[1]) * bricks[2] + nb[2]
            ci, cj, cs = _canonical(np.array([i]), np.array([j]), np.array([shift]))
            key = (int(ci[0]), int(cj[0]), tuple(int(x) for x in cs[0]))
            h = widths[ax] / b[ax]          # distance between the brick's two faces
            vec = cell[ax] / b[ax] * (1 if key[0] == i and key[1] == j and list(key[2]) ==
                                      shift else -1)
            faces[key] = (vol / h, vec, h)
    return faces


def _solve_network(n_nodes: int, ei: NDArray, ej: NDArray, conductance_S: NDArray,
                   vec_cm: NDArray, volume_cm3: float) -> NDArray:
    """Conductivity tensor (S/cm) of a periodic resistor network under a uniform field.

    Edge e joins node ei to the image of node ej at ``vec_cm`` from it. With a periodic
    potential phi and a unit field E, the edge current is ``G (phi_i - phi_j + E . r)``;
    Kirchhoff's current law at every node (one node grounded per connected component) fixes
    phi, and the macroscopic current density ``(1 / V) sum_e I_e r_e`` gives sigma.
    """
    gl = conductance_S
    sel = (ei != ej) & (gl > 0)
    lap = sp.coo_matrix((np.concatenate([gl[sel], gl[sel], -gl[sel], -gl[sel]]),
                         (np.concatenate([ei[sel], ej[sel], ei[sel], ej[sel]]),
                          np.concatenate([ei[sel], ej[sel], ej[sel], ei[sel]]))),
                        shape=(n_nodes, n_nodes)).tocsr()
    _, labels = csgraph.connected_components(lap, directed=False)
    ground = np.unique(labels, return_index=True)[1]
    free = np.setdiff1d(np.arange(n_nodes), ground)
    phi = np.zeros((n_nodes, 3))
    drive = gl[:, None] * vec_cm                     # G (E . r) for E along x, y, z
    rhs = np.zeros((n_nodes, 3))
    np.add.at(rhs, ei, -drive)
    np.add.at(rhs, ej, drive)
    if free.size:
        sol = spsolve(lap[free][:, free].tocsc(), rhs[free])
        phi[free] = np.asarray(sol).reshape(free.size, 3)
    current = gl[:, None] * (phi[ei] - phi[ej] + vec_cm)      # (edges, field axis)
    sigma = np.einsum("ea,eb->ab", current, vec_cm) / volume_cm3
    return 0.5 * (sigma + sigma.T)


def resistor_network(structure: Microstructure, temperature_K: float, n_ions: int, *,
                     sigma_bulk_S_cm: Any = None,
                     attempt_frequency_Hz: float = DEFAULT_ATTEMPT_FREQUENCY_HZ,
                     rate_law: str = "kra") -> NetworkPrediction:
    """Effective conductivity of a polycrystal from a coarse resistor network of its grains.

    Every grain is a node; every face between two grains (or between a grain and its own
    periodic image) is an edge whose resistance is the bulk path between the two grain
    centres, ``L / (sigma_n A)`` (A the face area, L the distance between the centres,
    sigma_n the bulk conductivity along the face normal), in series with the extra
    resistance of the boundary. That boundary resistance comes from the bonds that cross the
    face in the atomistic network: with their mean-field conductances
    (:func:`bond_conductances_S`) G without and G' with the boundary offsets, it is
    ``1 / G' - 1 / G``, scaled so that the same bonds make the given bulk conductivity.
    Kirchhoff's laws with a periodic potential and a uniform field are solved with
    scipy.sparse; the macroscopic current gives the conductivity tensor, divided by that of
    the same network without boundary resistances over the bulk value (``mesh_factor``, the
    error of the two-point flux on irregular cells, a few per cent). Multi-ion events and pair
    interactions are not in the bond conductances: for materials whose transport they carry,
    the prediction is only a guide.

    Parameters
    ----------
    structure : Microstructure
        A polycrystal (:func:`polycrystal`).
    temperature_K : float
    n_ions : int
        Mobile ions in the box (sets the occupations of the bond conductances).
    sigma_bulk_S_cm : float, (3, 3) array or None, optional
        The bulk conductivity, e.g. from a KMC run of ``structure.bulk`` (a scalar scales the
        mean-field tensor, keeping its anisotropy). Default: the mean-field value of the bulk
        bonds, exact for a lattice gas without interactions.
    attempt_frequency_Hz : float, optional
    rate_law : str, optional
        The rate law of the bond conductances (:data:`kmc.constants.RATE_LAWS`).

    Returns
    -------
    NetworkPrediction
    """
    if not isinstance(structure, Microstructure) or structure.kind != "polycrystal":
        raise ConfigError("resistor_network needs a polycrystal (kmc.microstructure."
                          "polycrystal)")
    bulk, net = structure.bulk, structure.network
    g0, _ = bond_conductances_S(bulk, temperature_K, n_ions,
                                attempt_frequency_Hz=attempt_frequency_Hz, rate_law=rate_law)
    g1, _ = bond_conductances_S(net, temperature_K, n_ions,
                                attempt_frequency_Hz=attempt_frequency_Hz, rate_law=rate_law)
    mf = _mean_field_sigma(bulk, g0)
    d_bulk = max(bulk.dimensionality, 1)
    mf_scalar = float(np.trace(mf)) / d_bulk
    if sigma_bulk_S_cm is None:
        sb = mf
    elif np.ndim(sigma_bulk_S_cm) == 0:
        s_val = _real(sigma_bulk_S_cm, "sigma_bulk_S_cm", 0.0, strict_lo=True)
        sb = mf * (s_val / mf_scalar)
    else:
        sb = np.asarray(sigma_bulk_S_cm, dtype=float)
        if sb.shape != (3, 3) or not np.all(np.isfinite(sb)):
            raise ConfigError("sigma_bulk_S_cm must be a number or a finite 3x3 tensor")
    sb_scalar = float(np.trace(sb)) / d_bulk
    if sigma_bulk_S_cm is not None and np.ndim(sigma_bulk_S_cm) == 0:
        sb_scalar = float(sigma_bulk_S_cm)  # the given value itself, not its rounded trace
    cell = bulk.cell
    g = structure.n_regions
    bricks = structure.arrangement == "bricks" and structure.bricks is not None
    faces = (_brick_faces(structure.bricks, cell) if bricks  # type: ignore[arg-type]
             else _voronoi_faces(structure.seeds_A, cell))
    # crossing bonds -> faces: the image of the far grain's centre, seen from the near one
    region = structure.region
    cross = np.flatnonzero(structure.boundary_hop)
    pos = _wrapped(bulk.positions, cell)
    if bricks:  # the bricks tile the cell: every site's grain centre is in the same cell
        img_site = np.zeros((bulk.n_sites, 3), dtype=np.int64)
    else:
        img_site = _SHIFTS[_nearest_seed(pos, structure.seeds_A, cell, 1)[1]]
    end = pos[bulk.hop_src[cross]] + bulk.hop_vectors[cross]
    wrap = np.rint((end - pos[bulk.hop_dst[cross]]) @ np.linalg.inv(cell)).astype(np.int64)
    img_hop = img_site[bulk.hop_dst[cross]] + wrap
    s_face = img_hop - img_site[bulk.hop_src[cross]]
    fi, fj, fs = _canonical(region[bulk.hop_src[cross]], region[bulk.hop_dst[cross]], s_face)
    # sum the bond conductances per face; each undirected bond appears twice (both
    # directions map to the same canonical face), hence the factor 1/2
    keys, inv = np.unique(np.column_stack([fi, fj, fs]), axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    s0 = 0.5 * np.bincount(inv, weights=g0[cross], minlength=len(keys))
    s1 = 0.5 * np.bincount(inv, weights=g1[cross], minlength=len(keys))
    key_list = [(int(k[0]), int(k[1]), (int(k[2]), int(k[3]), int(k[4]))) for k in keys]
    sum0 = dict(zip(key_list, s0.tolist()))
    sum1 = dict(zip(key_list, s1.tolist()))
    total_cross = float(s0.sum())
    unmatched = sum(v for k, v in sum0.items() if k not in faces)
    graph = nx.MultiGraph()
    for k in range(g):
        graph.add_node(k, centre_A=structure.seeds_A[k])
    ei, ej, r_bulk, r_gb, vecs, areas = [], [], [], [], [], []
    for (i, j, s), (area, vec, dist) in faces.items():
        n_hat = vec / np.linalg.norm(vec)
        sig_n = float(n_hat @ sb @ n_hat)
        mf_n = float(n_hat @ mf @ n_hat)
        area_cm2 = area * _CM_PER_A**2
        R_bulk = dist * _CM_PER_A / (sig_n * area_cm2) if sig_n > 0 else math.inf
        R_gb = 0.0
        if i != j and math.isfinite(R_bulk):
            b0, b1 = sum0.get((i, j, s), 0.0), sum1.get((i, j, s), 0.0)
            if b0 <= 0 or b1 <= 0:
                R_bulk = math.inf  # no bond crosses this face: no current through it
            else:
                # bond conductances scaled to the bulk: g_abs = g sigma_n / mf_n
                R_gb = (mf_n / sig_n) * (1.0 / b1 - 1.0 / b0)
        ei.append(i)
        ej.append(j)
        r_bulk.append(R_bulk)
        r_gb.append(R_gb)
        vecs.append(vec * _CM_PER_A)
        areas.append(area_cm2)
        graph.add_edge(i, j, area_A2=area, vector_A=vec, bulk_resistance_ohm=R_bulk,
                       boundary_resistance_ohm=R_gb,
                       conductance_S=0.0 if not math.isfinite(R_bulk) else 1 / (R_bulk + R_gb))
    # a field along a direction in which the bulk does not conduct (e.g. across the planes
    # of a 2D conductor) drives no current: only the part of the centre-to-centre vectors
    # in the bulk's conducting subspace couples to the field and carries current
    w, v = np.linalg.eigh(0.5 * (sb + sb.T))
    span = v[:, w > 1e-9 * max(float(w.max()), 0.0)]
    coarse = _Coarse(n_nodes=g, ei=np.array(ei, dtype=np.int64), ej=np.array(ej, dtype=np.int64),
                     r_bulk=np.array(r_bulk), r_gb=np.array(r_gb),
                     vec_cm=np.array(vecs).reshape(-1, 3) @ (span @ span.T),
                     volume_cm3=bulk.volume_A3 * _CM_PER_A**3, d_bulk=d_bulk)
    # the two-point flux between Voronoi centres is exact on regular cells only: the same
    # network without boundary resistances measures that mesh error, which is divided out
    flat_scalar = float(np.trace(coarse.sigma(1.0, boundaries=False))) / d_bulk
    mesh_factor = flat_scalar / sb_scalar if sb_scalar > 0 and flat_scalar > 0 else 1.0
    sigma = coarse.sigma(1.0) / mesh_factor
    sig_scalar = float(np.trace(sigma)) / d_bulk
    a = np.array(areas)
    gb_faces = (coarse.ei != coarse.ej) & np.isfinite(coarse.r_bulk)
    r_mean = float(np.sum(a[gb_faces] * (coarse.r_gb * a)[gb_faces]) / a[gb_faces].sum()) \
        if gb_faces.any() else 0.0
    d_nm = structure.grain_size_nm
    return NetworkPrediction(
        sigma_S_cm=sig_scalar, sigma_tensor_S_cm=sigma, sigma_bulk_S_cm=sb_scalar,
        ratio=sig_scalar / sb_scalar if sb_scalar > 0 else math.nan,
        brick_layer_S_cm=brick_layer_S_cm(sb_scalar, d_nm, r_mean) if sb_scalar > 0
        else 0.0,
        boundary_resistance_ohm_cm2=r_mean, grain_size_nm=d_nm, n_grains=g,
        n_faces=len(faces), mesh_factor=mesh_factor,
        unmatched_crossing_fraction=unmatched / total_cross if total_cross > 0 else 0.0,
        graph=graph, _coarse=coarse)


def compare_with_bulk(ms: Microstructure, result: Any, bulk_result: Any) -> dict[str, Any]:
    """The JSON-ready comparison of a microstructure run with its bulk run.

    Parameters
    ----------
    ms : Microstructure
        The polycrystal or composite.
    result, bulk_result : RunResult
        Runs of ``ms.network`` and of ``ms.bulk`` (same temperature and ion density).

    Returns
    -------
    dict
        ``result.to_dict()`` with everything of ``ms.info()`` (its seed as
        ``microstructure_seed``), ``sigma_bulk_S_cm`` (+ ``_err``) from the bulk run,
        ``sigma_eff_S_cm`` (+ ``_err``: :func:`kmc.microstructure.effective_sigma_S_cm` with
        the bulk's dimensionality); for a polycrystal the resistor-network prediction built
        with the KMC bulk sigma (``sigma_network_S_cm``, ``sigma_brick_layer_S_cm``, ...);
        for a composite ``tortuosity`` (+ ``_err``), ``conducting_fraction`` and
        ``percolates``; ``warnings``; and ``bulk``: ``bulk_result.to_dict()``. Old keys
        of the microstructure's parameters still written this version are listed, old ->
        new, under ``deprecated_keys``.
    """
    def finite(x: Any) -> Any:
        return x if not isinstance(x, float) or math.isfinite(x) else None

    out = result.to_dict()
    info = ms.info()
    info["microstructure_seed"] = info.pop("seed")
    out.update(info)
    sigma_eff, sigma_eff_err = effective_sigma_S_cm(result, bulk_result.dimensionality)
    sb, sb_err = float(bulk_result.sigma_S_cm), float(bulk_result.sigma_S_cm_err)
    out.update(sigma_bulk_S_cm=sb, sigma_bulk_S_cm_err=sb_err, sigma_eff_S_cm=sigma_eff,
               sigma_eff_S_cm_err=sigma_eff_err)
    warnings = list(out["warnings"])
    if ms.kind == "polycrystal":
        use = sb if math.isfinite(sb) and sb > 0 else None
        if use is None:
            warnings.append(f"the bulk run's sigma ({sb:g} S/cm) is not positive: the "
                            "resistor network uses the mean-field bulk conductivity")
        pred = resistor_network(ms, result.temperature_K, result.n_ions, sigma_bulk_S_cm=use,
                                attempt_frequency_Hz=result.attempt_frequency_Hz,
                                rate_law=result.rate_law)
        out.update(pred.to_dict())
        travel = _travel_nm(result)
        if ms.n_grains > 1 and travel is not None and travel[0] < 2.0 * ms.grain_size_nm:
            warnings.append(
                f"the ions move about {travel[0]:.3g} nm {travel[1]}, less than twice the "
                f"mean grain size ({ms.grain_size_nm:.3g} nm): too short to average over "
                "grains, sigma_eff is overestimated; run longer (--steps, or a smaller "
                "--target-rel-err)")
    else:
        tau, tau_err = tortuosity(ms.conducting_fraction, sb, sigma_eff, sb_err, sigma_eff_err)
        out.update(tortuosity=tau, tortuosity_err=tau_err,
                   conducting_fraction=ms.conducting_fraction,
                   percolates=ms.network.dimensionality > 0,
                   bulk_dimensionality=bulk_result.dimensionality)
    out["warnings"] = warnings
    out["bulk"] = bulk_result.to_dict()
    deprecated = {k: v for k, v in _MICROSTRUCTURE_DEPRECATED_KEYS.items() if k in out}
    if deprecated:
        out["deprecated_keys"] = deprecated
    return {k: finite(v) for k, v in out.items()}


# --------------------------------------------------------------------------- percolation
@dataclass(frozen=True)
class PercolationEstimate:
    """Site-percolation threshold of a network from random filling orders.

    Attributes
    ----------
    threshold : float
        Mean over the samples of the conducting site fraction at which a cluster first wraps
        around the periodic box (in any direction).
    stderr : float
        Standard error of that mean.
    width : float
        Standard deviation of the per-sample thresholds: the finite-size width of the
        transition, which also bounds the finite-size shift of the mean.
    samples : ndarray
        The per-sample thresholds.
    """

    threshold: float
    stderr: float
    width: float
    samples: NDArray[np.float64]


def percolation_threshold(network: SiteNetwork, *, samples: int = 32,
                          seed: int = 0) -> PercolationEstimate:
    """Estimate the site-percolation threshold of a network's hop graph.

    Each sample fills the sites in a random (seeded) order; bisection finds the smallest
    number of filled sites at which the filled sites' hops contain a cluster that wraps
    around the periodic box (:func:`kmc.lattice.wrapping_dimension` >= 1).

    Parameters
    ----------
    network : SiteNetwork
    samples : int, optional
        Random filling orders (default 32).
    seed : int, optional
    """
    net = _check_network(network)
    samples = _int(samples, "samples", 2)
    seed = _int(seed, "seed", 0)
    if net.dimensionality == 0:
        raise ConfigError(f"network {net.name!r} does not percolate even when full")
    rng = np.random.default_rng(seed)
    n = net.n_sites
    src, dst, img = net.hop_src, net.hop_dst, net.hop_images
    out = np.empty(samples)
    for k in range(samples):
        rank = np.empty(n, dtype=np.int64)
        rank[rng.permutation(n)] = np.arange(n)
        hop_rank = np.maximum(rank[src], rank[dst])   # the hop exists once both ends are in
        lo, hi = 0, n                                  # wraps with hi sites, not with lo
        while hi - lo > 1:
            mid = (lo + hi) // 2
            h = hop_rank < mid
            if wrapping_dimension(n, src[h], dst[h], img[h], symmetric=True) >= 1:
                hi = mid
            else:
                lo = mid
        out[k] = hi / n
    sd = float(np.std(out, ddof=1))
    return PercolationEstimate(threshold=float(out.mean()), stderr=sd / math.sqrt(samples),
                               width=sd, samples=out)
