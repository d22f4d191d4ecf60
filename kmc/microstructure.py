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
Beside the KMC result, :func:`resistor_network` predicts the effective conductivity of the
same polycrystal in milliseconds from a coarse network of grains (networkx graph, solved with
scipy.sparse), and :func:`brick_layer_S_cm` gives the analytic brick-layer value;
:func:`percolation_threshold` estimates the site-percolation threshold of a network.

Units: Angstrom and nm (``_nm`` names; 1 nm = 10 A), eV, K, S/cm, Ohm cm^2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ConfigError
from .lattice import SiteNetwork, wrapping_dimension

__all__ = ["Microstructure", "polycrystal", "composite", "NetworkPrediction",
           "resistor_network", "brick_layer_S_cm", "bond_conductances_S",
           "PercolationEstimate", "percolation_threshold", "effective_sigma_S_cm",
           "tortuosity", "compare_with_bulk", "ARRANGEMENTS"]

A_PER_NM = 10.0
_KB_EV = 8.617333262e-5        # Boltzmann constant, eV/K
_E_C = 1.602176634e-19         # elementary charge, C
_KB_J = 1.380649e-23           # Boltzmann constant, J/K
_CM_PER_A = 1e-8
#: Grain arrangements of :func:`polycrystal`.
ARRANGEMENTS = ("voronoi", "bricks")
_CANDIDATES = 16               # nearest seed images examined for the boundary distance
_SHIFTS = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)],
                   dtype=np.int64)
_CENTRAL = 13                  # index of (0, 0, 0) in _SHIFTS


# --------------------------------------------------------------------------- checks
def _real(value: Any, name: str, lo: float = -math.inf, hi: float = math.inf, *,
          strict_lo: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    x = float(value)
    bad = not math.isfinite(x) or x > hi or (x <= lo if strict_lo else x < lo)
    if bad:
        rel = ">" if strict_lo else ">="
        rng = f"{rel} {lo:g}" if hi == math.inf else f"in [{lo:g}, {hi:g}]"
        raise ConfigError(f"{name} = {value!r} must be finite and {rng}")
    return x


def _int(value: Any, name: str, lo: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < lo:
        raise ConfigError(f"{name} = {value!r} must be >= {lo}")
    return int(value)


def _check_network(network: Any) -> SiteNetwork:
    if not isinstance(network, SiteNetwork):
        raise ConfigError(f"network must be a SiteNetwork, got {type(network).__name__}")
    return network


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
    params = {"grain_size_nm_requested": None if grain_size_nm is None else float(grain_size_nm),
              "n_grains_requested": None if n_grains is None else int(n_grains),
              "gb_barrier_offset_eV": db, "gb_energy_offset_eV": de,
              "gb_width_nm": width_A / A_PER_NM, "seed": seed}
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


# --------------------------------------------------------------------------- observables
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
                        attempt_frequency_Hz: float = 1e13
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
    from scipy.optimize import brentq

    net = _check_network(network)
    T = _real(temperature_K, "temperature_K", 0.0, strict_lo=True)
    nu = _real(attempt_frequency_Hz, "attempt_frequency_Hz", 0.0, strict_lo=True)
    n_ions = _int(n_ions, "n_ions", 1)
    if n_ions >= net.n_sites:
        raise ConfigError(f"n_ions = {n_ions} leaves no vacancy on {net.n_sites} sites")
    kT = _KB_EV * T
    E = net.site_energies_eV

    def fermi(mu: float) -> NDArray:
        return 0.5 * (1.0 - np.tanh((E - mu) / (2 * kT)))

    lo, hi = float(E.min()) - 60 * kT, float(E.max()) + 60 * kT
    mu = brentq(lambda m: float(fermi(m).sum()) - n_ions, lo, hi, xtol=1e-12 * max(kT, 1e-9))
    p = fermi(mu)
    s, d = net.hop_src, net.hop_dst
    dE = E[d] - E[s]
    ea = np.maximum(np.maximum(net.hop_barriers_eV + 0.5 * dE, 0.0), dE)
    q = net.charge_e * _E_C
    g = q * q / (_KB_J * T) * nu * np.exp(-ea / kT) * p[s] * (1.0 - p[d])
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
    from scipy.spatial import Voronoi

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
    import scipy.sparse as sp
    from scipy.sparse import csgraph
    from scipy.sparse.linalg import spsolve

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
                     sigma_bulk_S_cm: Any = None, attempt_frequency_Hz: float = 1e13
                     ) -> NetworkPrediction:
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

    Returns
    -------
    NetworkPrediction
    """
    import networkx as nx

    if not isinstance(structure, Microstructure) or structure.kind != "polycrystal":
        raise ConfigError("resistor_network needs a polycrystal (kmc.microstructure."
                          "polycrystal)")
    bulk, net = structure.bulk, structure.network
    g0, _ = bond_conductances_S(bulk, temperature_K, n_ions,
                                attempt_frequency_Hz=attempt_frequency_Hz)
    g1, _ = bond_conductances_S(net, temperature_K, n_ions,
                                attempt_frequency_Hz=attempt_frequency_Hz)
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
        ``percolates``; ``warnings``; and ``bulk``: ``bulk_result.to_dict()``.
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
                                attempt_frequency_Hz=result.attempt_frequency_Hz)
        out.update(pred.to_dict())
        if ms.n_grains > 1 and result.blocks is not None:
            tr = result.blocks.tracer_sq_A2
            msd_block_A2 = float(np.mean(np.trace(tr, axis1=1, axis2=2))) / result.n_ions
            step_nm = math.sqrt(msd_block_A2) / 10.0
            if step_nm < 2.0 * ms.grain_size_nm:
                warnings.append(
                    f"the ions move about {step_nm:.3g} nm per block (sqrt of the tracer MSD "
                    f"per block), less than twice the mean grain size ({ms.grain_size_nm:.3g}"
                    " nm): the blocks are too short to average over grains and sigma_eff is "
                    "overestimated; use more steps per block (--steps, --blocks)")
    else:
        tau, tau_err = tortuosity(ms.conducting_fraction, sb, sigma_eff, sb_err, sigma_eff_err)
        out.update(tortuosity=tau, tortuosity_err=tau_err,
                   conducting_fraction=ms.conducting_fraction,
                   percolates=ms.network.dimensionality > 0,
                   bulk_dimensionality=bulk_result.dimensionality)
    out["warnings"] = warnings
    out["bulk"] = bulk_result.to_dict()
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
