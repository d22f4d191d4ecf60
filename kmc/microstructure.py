"""Microstructure: polycrystals with grain boundaries, composites with blocking particles.

In a pellet or a composite electrode the grain boundaries and the mixture of electrolyte and
active material, not the bulk lattice, often decide the measured conductivity. This module
turns a bulk :class:`~kmc.lattice.SiteNetwork` (a standard lattice or a material) into

* a **polycrystal** (:func:`polycrystal`): the periodic box split into grains by a periodic
  Voronoi tessellation of seeded random centres (or into a regular grid of bricks); hops that
  cross a boundary get a barrier offset, sites within a boundary width a site-energy offset
  (a space-charge-like layer);
* a **composite** (:func:`composite`): conducting and blocking regions (electrolyte and
  active-material particles) at a volume fraction, with an optional interface barrier.

Both are ordinary SiteNetworks, so every driver and observable works on them unchanged.
This module is the geometry only. The predictions beside the KMC result (the coarse resistor
network of the grains, the brick layer, the tortuosity, the percolation threshold, the
comparison of a microstructure run with its bulk run) are in :mod:`kmc.effective_medium`;
their old names here (``kmc.microstructure.resistor_network``, ...) still work and warn.

Units: Angstrom and nm (``_nm`` names; 1 nm = 10 A), eV, K, S/cm, Ohm cm^2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _checks
from ._compat import moved_names
from .constants import A_PER_NM
from .errors import ConfigError
from .lattice import SiteNetwork, as_site_network

__all__ = ["Microstructure", "polycrystal", "composite", "ARRANGEMENTS", "A_PER_NM",
           "DEPRECATED_KEYS"]

#: Names that moved to :mod:`kmc.effective_medium` (importable from here, with a warning).
_MOVED = ("NetworkPrediction", "resistor_network", "brick_layer_S_cm", "bond_conductances_S",
          "PercolationEstimate", "percolation_threshold", "effective_sigma_S_cm", "tortuosity",
          "compare_with_bulk")
#: Grain arrangements of :func:`polycrystal`.
ARRANGEMENTS = ("voronoi", "bricks")
#: Old keys of :attr:`Microstructure.parameters` (and so of ``info()`` and the JSON of
#: ``kmc run polycrystal``), old -> new: written beside the new key this version only.
DEPRECATED_KEYS = {"grain_size_nm_requested": "grain_size_requested_nm"}
_CANDIDATES = 16               # nearest seed images examined for the boundary distance
_SHIFTS = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)],
                   dtype=np.int64)
_CENTRAL = 13                  # index of (0, 0, 0) in _SHIFTS


# --------------------------------------------------------------------------- checks
def _real(value: Any, name: str, lo: float = -math.inf, hi: float = math.inf, *,
          strict_lo: bool = False) -> float:
    return _checks.real(value, name, lo=lo, hi=hi, lo_open=strict_lo)


def _int(value: Any, name: str, lo: int) -> int:
    return _checks.integer(value, name, lo=lo)


def _check_network(network: Any) -> SiteNetwork:
    return as_site_network(network)


# --------------------------------------------------------------------------- the result
@dataclass(frozen=True, eq=False)
class Microstructure:
    """A polycrystal or composite built from a bulk network.

    Attributes
    ----------
    network : SiteNetwork
        The network to simulate: the bulk with the boundary offsets applied (polycrystal), or
        the conducting sites only with the interface offsets (composite).
    bulk : SiteNetwork
        The bulk network it was made from.
    kind : str
        "polycrystal" or "composite".
    region : ndarray of int, shape (bulk.n_sites,)
        Grain (polycrystal) or particle (composite) index of every bulk site.
    seeds_A : ndarray, shape (n_regions, 3)
        Centres of the grains / particles, Cartesian Angstrom inside the cell.
    site_index : ndarray of int, shape (bulk.n_sites,)
        Index in `network` of every bulk site; -1 for a removed (blocking) site.
    boundary_site : ndarray of bool, shape (bulk.n_sites,)
        Sites in a boundary layer (polycrystal) or at an interface (composite).
    boundary_hop : ndarray of bool, shape (bulk.n_hops,)
        Hops that got the barrier offset.
    parameters : dict
        The parameters it was built with (units in the names), JSON-ready.
    arrangement : str
        "voronoi" or "bricks" (polycrystal), "sites" or "voronoi" (composite).
    """

    network: SiteNetwork
    bulk: SiteNetwork
    kind: str
    region: NDArray[np.int64]
    seeds_A: NDArray[np.float64]
    site_index: NDArray[np.int64]
    boundary_site: NDArray[np.bool_]
    boundary_hop: NDArray[np.bool_]
    parameters: dict[str, Any]
    arrangement: str
    bricks: tuple[int, int, int] | None = None
    _blocked_region: NDArray[np.bool_] | None = field(default=None, repr=False)

    @property
    def n_regions(self) -> int:
        """Number of grains (polycrystal) or particles (composite)."""
        return int(self.seeds_A.shape[0])

    @property
    def n_grains(self) -> int:
        """Number of grains (polycrystal); of particles (composite)."""
        return self.n_regions

    @property
    def volume_A3(self) -> float:
        """Volume of the periodic box, Angstrom^3."""
        return float(self.bulk.volume_A3)

    @property
    def grain_size_nm(self) -> float:
        """Mean grain size: edge of the cube of the mean grain volume, (V / n)^(1/3), nm."""
        return (self.volume_A3 / self.n_regions) ** (1.0 / 3.0) / A_PER_NM

    @property
    def gb_site_fraction(self) -> float:
        """Fraction of the bulk sites in a boundary layer (or at an interface)."""
        return float(np.mean(self.boundary_site)) if self.boundary_site.size else 0.0

    @property
    def conducting_fraction(self) -> float:
        """Fraction of the bulk sites kept as conducting (1 for a polycrystal)."""
        return float(np.mean(self.site_index >= 0))

    def info(self) -> dict[str, Any]:
        """What the microstructure is, JSON-ready (counts, fractions, parameters)."""
        out: dict[str, Any] = {"microstructure": self.kind, "arrangement": self.arrangement,
                               **self.parameters}
        if self.kind == "polycrystal":
            out.update(n_grains=self.n_grains, grain_size_nm=self.grain_size_nm,
                       gb_site_fraction=self.gb_site_fraction,
                       gb_hop_fraction=float(np.mean(self.boundary_hop))
                       if self.boundary_hop.size else 0.0)
        else:
            out.update(n_particles=self.n_regions, conducting_fraction=self.conducting_fraction,
                       interface_site_fraction=self.gb_site_fraction,
                       conducting_dimensionality=self.network.dimensionality)
        return out

    def slice_image(self, axis: int = 2, position: float = 0.5, pixels: int = 200
                    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """The region index on a planar slice of the box (for pictures).

        Parameters
        ----------
        axis : int
            Cell axis normal to the slice (0, 1 or 2).
        position : float
            Fractional coordinate of the slice along `axis`, in [0, 1).
        pixels : int
            Pixels along each of the two in-plane cell axes.

        Returns
        -------
        image : ndarray of int, shape (pixels, pixels)
            Region of every pixel (grain index; for a composite, -1 = blocking particle).
        extent_A : ndarray, shape (2,)
            Lengths of the two in-plane cell vectors, Angstrom.
        """
        axis = _int(axis, "axis", 0)
        if axis > 2:
            raise ConfigError(f"axis = {axis} must be 0, 1 or 2")
        position = _real(position, "position", 0.0, 1.0)
        pixels = _int(pixels, "pixels", 2)
        other = [k for k in range(3) if k != axis]
        u = (np.arange(pixels) + 0.5) / pixels
        frac = np.zeros((pixels, pixels, 3))
        frac[..., other[0]] = u[:, None]
        frac[..., other[1]] = u[None, :]
        frac[..., axis] = position
        cell = self.bulk.cell
        points = frac.reshape(-1, 3) @ cell
        if self.arrangement == "bricks" and self.bricks is not None:
            region = _brick_index(frac.reshape(-1, 3), self.bricks)
        elif self.arrangement == "sites":  # nearest site's region
            from scipy.spatial import cKDTree

            pos = _wrapped(self.bulk.positions, cell)
            tree = cKDTree(_images(pos, cell))
            _, idx = tree.query(points)
            region = self.region[idx % self.bulk.n_sites]
        else:
            region, *_ = _nearest_seed(points, self.seeds_A, cell, k=1)
        if self._blocked_region is not None:
            region = np.where(self._blocked_region[region], -1, region)
        lengths = np.linalg.norm(cell[other], axis=1)
        return region.reshape(pixels, pixels), lengths


# --------------------------------------------------------------------------- geometry
def _wrapped(positions_A: NDArray, cell: NDArray) -> NDArray:
    frac = positions_A @ np.linalg.inv(cell)
    return (frac - np.floor(frac)) @ cell


def _images(points_A: NDArray, cell: NDArray) -> NDArray:
    """The points in the 27 cells around the central one, image-major ((27 n, 3))."""
    shifts = _SHIFTS @ cell
    return (shifts[:, None, :] + points_A[None, :, :]).reshape(-1, 3)


def _nearest_seed(points_A: NDArray, seeds_A: NDArray, cell: NDArray, k: int
                  ) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """Region (nearest seed), the image of that seed, and the k nearest seed images."""
    from scipy.spatial import cKDTree

    g = seeds_A.shape[0]
    tree = cKDTree(_images(seeds_A, cell))
    k = min(k, 27 * g)
    dist, idx = tree.query(points_A, k=k)
    if k == 1:
        dist, idx = dist[:, None], idx[:, None]
    return idx[:, 0] % g, idx[:, 0] // g, dist, idx


def _boundary_distance(points_A: NDArray, seeds_A: NDArray, cell: NDArray
                       ) -> tuple[NDArray, NDArray, NDArray]:
    """Region, its seed image and the distance (A) of each point to its grain's boundary
    (the nearest bisector plane to a seed of another grain; inf if none is near)."""
    g = seeds_A.shape[0]
    region, img, dist, idx = _nearest_seed(points_A, seeds_A, cell, _CANDIDATES)
    all_seeds = _images(seeds_A, cell)
    own = all_seeds[idx[:, 0]]
    out = np.full(points_A.shape[0], np.inf)
    for c in range(1, idx.shape[1]):
        other = idx[:, c]
        diff_grain = (other % g) != region
        sep = np.linalg.norm(all_seeds[other] - own, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = (dist[:, c] ** 2 - dist[:, 0] ** 2) / (2.0 * sep)
        d = np.where(diff_grain & (sep > 0), d, np.inf)
        out = np.minimum(out, d)
    return region, img, out


def _brick_index(frac: NDArray, bricks: tuple[int, int, int]) -> NDArray:
    f = frac - np.floor(frac)
    k = np.minimum((f * np.array(bricks)).astype(np.int64), np.array(bricks) - 1)
    return (k[:, 0] * bricks[1] + k[:, 1]) * bricks[2] + k[:, 2]


def _cell_widths(cell: NDArray) -> NDArray:
    """Distance between opposite faces of the cell along each axis, Angstrom."""
    vol = abs(np.linalg.det(cell))
    return np.array([vol / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3]))
                     for k in range(3)])


def _hop_crossing(network: SiteNetwork, region: NDArray) -> NDArray:
    return region[network.hop_src] != region[network.hop_dst]


def _event_crossing(network: SiteNetwork, region: NDArray) -> NDArray:
    """Events with at least one move between two regions."""
    if not network.n_events:
        return np.zeros(0, dtype=bool)
    move_event = network.events._move_event
    cross = region[network.event_src] != region[network.event_dst]
    out = np.zeros(network.n_events, dtype=bool)
    np.logical_or.at(out, move_event, cross)
    return out


def _event_sites(network: SiteNetwork, events: NDArray) -> NDArray:
    """Sites moved by the given events."""
    if not network.n_events or not events.any():
        return np.zeros(0, dtype=np.int64)
    move_event = network.events._move_event
    sel = events[move_event]
    return np.concatenate([network.event_src[sel], network.event_dst[sel]]).astype(np.int64)


def _offset(values: NDArray, mask: NDArray, offset_eV: float, what: str,
            name: str) -> NDArray:
    """`values` with `offset_eV` added where `mask` (unchanged arrays when the offset is 0)."""
    if offset_eV == 0.0 or not mask.any():
        return values
    out = values.copy()
    out[mask] += offset_eV
    if what == "barrier" and out.min() < 0:
        lowest = float(values[mask].min())
        raise ConfigError(f"{name} = {offset_eV!r} eV makes a barrier negative (the lowest "
                          f"boundary barrier is {lowest:g} eV); use an offset >= {-lowest:g}")
    return out


# --------------------------------------------------------------------------- polycrystal
def polycrystal(network: SiteNetwork, *, grain_size_nm: float | None = None,
                n_grains: int | None = None, gb_barrier_offset_eV: float = 0.0,
                gb_energy_offset_eV: float = 0.0, gb_width_nm: float = 0.0,
                arrangement: str = "voronoi", seed: int = 0,
                name: str | None = None) -> Microstructure:
    """Split the periodic box of `network` into grains with their own boundary properties.

    Parameters
    ----------
    network : SiteNetwork
        The bulk: any standard lattice or material network (its supercell is the box).
    grain_size_nm, n_grains : float or int
        Give one: the mean grain size in nm (the edge of the cube of the mean grain volume,
        so ``n_grains = round(V / size^3)``) or the number of grains.
    gb_barrier_offset_eV : float, optional
        Added to the KRA barrier of every hop (and multi-ion event) that crosses a grain
        boundary, eV (default 0; negative values make boundaries faster, down to a zero
        barrier).
    gb_energy_offset_eV : float, optional
        Added to the site energy of every boundary site, eV (default 0): a space-charge-like
        layer that depletes (> 0) or accumulates (< 0) ions.
    gb_width_nm : float, optional
        Thickness of the boundary layer, nm (default 0). Boundary sites are the sites within
        half of it of a boundary plane, and always the two end sites of a crossing hop.
    arrangement : str, optional
        "voronoi" (default): a periodic Voronoi tessellation of random grain centres;
        "bricks": a regular grid of ``k x k x k`` parallelepiped grains of the cell (the
        brick-layer geometry; `n_grains` must then be a cube, or the grain size sets k along
        each axis).
    seed : int, optional
        Seed of the grain centres (default 0).
    name : str, optional
        Name of the new network (default: the bulk's name + "-polycrystal").

    Returns
    -------
    Microstructure
        With ``network`` the bulk network with the offsets applied: same sites, hops and
        order, so zero offsets (or one grain) give the bulk arrays unchanged.

    Raises
    ------
    ConfigError
        A missing or doubled size argument, a grain larger than the box, a barrier made
        negative, or any value out of range (named in the message).
    """
    net = _check_network(network)
    if (grain_size_nm is None) == (n_grains is None):
        raise ConfigError("give one of grain_size_nm and n_grains")
    if arrangement not in ARRANGEMENTS:
        raise ConfigError(f"arrangement = {arrangement!r} must be one of "
                          f"{', '.join(ARRANGEMENTS)}")
    db = _real(gb_barrier_offset_eV, "gb_barrier_offset_eV")
    de = _real(gb_energy_offset_eV, "gb_energy_offset_eV")
    width_A = _real(gb_width_nm, "gb_width_nm", 0.0) * A_PER_NM
    seed = _int(seed, "seed", 0)
    cell = net.cell
    vol = net.volume_A3
    widths = _cell_widths(cell)
    bricks: tuple[int, int, int] | None = None
    if grain_size_nm is not None:
        size_A = _real(grain_size_nm, "grain_size_nm", 0.0, strict_lo=True) * A_PER_NM
        if arrangement == "bricks":
            bricks = tuple(max(1, int(round(w / size_A))) for w in widths)  # type: ignore
            g = int(np.prod(bricks))
        else:
            g = int(round(vol / size_A**3))
        if g < 1 or size_A > 1.0001 * widths.max():
            raise ConfigError(
                f"grain_size_nm = {grain_size_nm!r} is larger than the box ({widths.min() / 10:.3g}"
                f"-{widths.max() / 10:.3g} nm across): use a larger supercell (--size) or "
                "smaller grains; resistor_network() predicts larger grains")
    else:
        g = _int(n_grains, "n_grains", 1)
        if arrangement == "bricks":
            k = int(round(g ** (1.0 / 3.0)))
            if k**3 != g:
                raise ConfigError(f"n_grains = {g} must be a cube (k^3) for arrangement "
                                  "'bricks'")
            bricks = (k, k, k)
    if g > net.n_sites:
        raise ConfigError(f"{g} grains is more than the {net.n_sites} sites of the network")

    pos = _wrapped(net.positions, cell)
    frac = pos @ np.linalg.inv(cell)
    if arrangement == "bricks":
        assert bricks is not None
        b = np.array(bricks)
        idx = np.stack(np.meshgrid(*(np.arange(k) for k in bricks), indexing="ij"),
                       axis=-1).reshape(-1, 3)
        seeds = ((idx + 0.5) / b) @ cell
        region = _brick_index(frac, bricks)
        u = frac * b - np.floor(frac * b)
        face = np.minimum(u, 1.0 - u) / b * widths       # A to the brick faces per axis
        face[:, b == 1] = np.inf                         # one brick along an axis: no face
        dist = face.min(axis=1)
    else:
        rng = np.random.default_rng(seed)
        seeds = rng.random((g, 3)) @ cell
        if g == 1:
            region = np.zeros(net.n_sites, dtype=np.int64)
            dist = np.full(net.n_sites, np.inf)
        else:
            region, _, dist = _boundary_distance(pos, seeds, cell)
    region = region.astype(np.int64)
    cross = _hop_crossing(net, region)
    ev_cross = _event_crossing(net, region)
    boundary_site = dist <= 0.5 * width_A if width_A > 0 else np.zeros(net.n_sites, bool)
    boundary_site[net.hop_src[cross]] = True
    boundary_site[net.hop_dst[cross]] = True
    boundary_site[_event_sites(net, ev_cross)] = True
    changes: dict[str, Any] = {
        "hop_barriers_eV": _offset(net.hop_barriers_eV, cross, db, "barrier",
                                   "gb_barrier_offset_eV"),
        "site_energies_eV": _offset(net.site_energies_eV, boundary_site, de, "energy",
                                    "gb_energy_offset_eV"),
        "name": f"{net.name}-polycrystal" if name is None else str(name),
    }
    if net.n_events:
        changes["event_barriers_eV"] = _offset(net.event_barriers_eV, ev_cross, db, "barrier",
                                               "gb_barrier_offset_eV")
    params = {"grain_size_requested_nm": None if grain_size_nm is None else float(grain_size_nm),
              "n_grains_requested": None if n_grains is None else int(n_grains),
              "gb_barrier_offset_eV": db, "gb_energy_offset_eV": de,
              "gb_width_nm": width_A / A_PER_NM, "seed": seed}
    params["grain_size_nm_requested"] = params["grain_size_requested_nm"]  # deprecated
    return Microstructure(
        network=net.replace(**changes), bulk=net, kind="polycrystal", region=region,
        seeds_A=seeds, site_index=np.arange(net.n_sites, dtype=np.int64),
        boundary_site=boundary_site, boundary_hop=cross, parameters=params,
        arrangement=arrangement, bricks=bricks)


# --------------------------------------------------------------------------- composite
def composite(network: SiteNetwork, *, fraction: float, particle_size_nm: float | None = None,
              interface_barrier_offset_eV: float = 0.0, seed: int = 0,
              name: str | None = None) -> Microstructure:
    """Mix conducting (electrolyte) and blocking (active-material) regions.

    Parameters
    ----------
    network : SiteNetwork
        The bulk electrolyte.
    fraction : float
        Volume (site) fraction of the conducting phase, 0 < fraction <= 1.
    particle_size_nm : float or None, optional
        Size of the regions, nm: the box is tiled into periodic Voronoi regions of this mean
        size (edge of the cube of the mean volume), and regions are made blocking in a seeded
        random order until the blocking site fraction is as close to 1 - fraction as the
        regions allow. None (default): every site is its own region, a random site mixture
        with exactly round((1 - fraction) n) blocking sites.
    interface_barrier_offset_eV : float, optional
        Added to the barrier of every hop and event that touches an interface site (a
        conducting site with a hop to a blocking site), eV (default 0).
    seed : int, optional
        Seed of the regions and of the blocking choice (default 0).
    name : str, optional
        Name of the new network (default: the bulk's name + "-composite").

    Returns
    -------
    Microstructure
        ``network`` holds the conducting sites only (blocking sites, their hops, events and
        pair interactions removed). ``network.dimensionality == 0`` means the conducting
        phase does not percolate: its long-time conductivity is zero.
    """
    net = _check_network(network)
    if net.has_energy_models:
        # an environment holding a blocked site would need its own (refolded) model
        raise ConfigError(f"composite: network {net.name!r} has an environment-dependent "
                          "energy model (clusters or local models, e.g. the nasicon material's "
                          "cluster expansions); blocking sites of such a network is not "
                          "supported yet: use a polycrystal, or a bulk without one")
    phi = _real(fraction, "fraction", 0.0, 1.0, strict_lo=True)
    dE = _real(interface_barrier_offset_eV, "interface_barrier_offset_eV")
    seed = _int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    n = net.n_sites
    cell = net.cell
    target = int(round((1.0 - phi) * n))
    if particle_size_nm is None:
        region = np.arange(n, dtype=np.int64)
        seeds = _wrapped(net.positions, cell)
        blocked_region = np.zeros(n, dtype=bool)
        blocked_region[rng.permutation(n)[:target]] = True
        arrangement = "sites"
    else:
        size_A = _real(particle_size_nm, "particle_size_nm", 0.0, strict_lo=True) * A_PER_NM
        g = int(round(net.volume_A3 / size_A**3))
        if g < 1:
            raise ConfigError(f"particle_size_nm = {particle_size_nm!r} is larger than the box")
        seeds = rng.random((g, 3)) @ cell
        region = (np.zeros(n, dtype=np.int64) if g == 1 else
                  _nearest_seed(_wrapped(net.positions, cell), seeds, cell, 1)[0].astype(
                      np.int64))
        counts = np.bincount(region, minlength=g)
        order = rng.permutation(g)
        cum = np.cumsum(counts[order])
        # the number of regions whose blocked site count is nearest the target
        k = int(np.argmin(np.abs(np.r_[0, cum] - target)))
        blocked_region = np.zeros(g, dtype=bool)
        blocked_region[order[:k]] = True
        arrangement = "voronoi"
    blocked = blocked_region[region]
    if blocked.all():
        raise ConfigError(f"fraction = {fraction!r} leaves no conducting site")
    # interface: conducting sites with a hop to a blocking site
    touch = blocked[net.hop_dst] & ~blocked[net.hop_src]
    interface = np.zeros(n, dtype=bool)
    interface[net.hop_src[touch]] = True
    hop_mask = interface[net.hop_src] | interface[net.hop_dst]
    changes: dict[str, Any] = {
        "hop_barriers_eV": _offset(net.hop_barriers_eV, hop_mask, dE, "barrier",
                                   "interface_barrier_offset_eV")}
    if net.n_events:
        move_event = net.events._move_event
        ev = np.zeros(net.n_events, dtype=bool)
        np.logical_or.at(ev, move_event, interface[net.event_src] | interface[net.event_dst])
        changes["event_barriers_eV"] = _offset(net.event_barriers_eV, ev, dE, "barrier",
                                               "interface_barrier_offset_eV")
    if net.n_pairs:  # blocking sites hold no mobile ion: their pair energies go
        pair_keep = ~(blocked[net.pair_i] | blocked[net.pair_j])
        changes.update(pair_i=net.pair_i[pair_keep], pair_j=net.pair_j[pair_keep],
                       pair_energies_eV=net.pair_energies_eV[pair_keep])
    sub = net.replace(**changes).block_sites(
        blocked, name=f"{net.name}-composite" if name is None else str(name))
    site_index = np.where(blocked, -1, np.cumsum(~blocked) - 1).astype(np.int64)
    params = {"fraction_requested": phi,
              "particle_size_nm": None if particle_size_nm is None else float(particle_size_nm),
              "interface_barrier_offset_eV": dE, "seed": seed}
    return Microstructure(
        network=sub, bulk=net, kind="composite", region=region, seeds_A=seeds,
        site_index=site_index, boundary_site=interface, boundary_hop=hop_mask,
        parameters=params, arrangement=arrangement, _blocked_region=blocked_region)


#: the effective-medium names moved to kmc.effective_medium; importable, with a warning
__getattr__ = moved_names("kmc.microstructure", {name: "kmc.effective_medium"
                                                  for name in _MOVED})
