"""Solid-electrolyte materials: site networks built from crystal data in ``lattices/*.toml``.

Each material file (installed as the package data ``kmc.lattices``) gives the space group,
the cell, the mobile-ion Wyckoff sites, the framework sites that carry disorder, the hop and
event types (site pair, distance window, KRA barrier), site energies, pair interactions and
the mobile ion's charge, every number with its literature source. :func:`build_material`
expands the Wyckoff sites with ASE's space-group operations, tiles the supercell, finds the
hops by their distance windows, and applies the composition and the seeded disorder of the
material's model (Si/P arrangement in NASICON, X/S2- site exchange in argyrodites, excess
Na in beta-alumina).

Units: Angstrom, eV, e.
"""

from __future__ import annotations

import difflib
import math
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Callable

import numpy as np

from . import _checks
from ._compat import moved_names
from .constants import DEFAULT_ATTEMPT_FREQUENCY_HZ, RATE_LAWS
from .errors import ConfigError
from .lattice import PeriodicNetwork, SiteNetwork
from .mechanisms import interstitialcy_events, split_interstitialcy_events

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Material", "describe_material", "ARGYRODITE_AIMD_500K", "ARGYRODITE_FRAME_S",
           "ARGYRODITE_T5_MOVES", "argyrodite_cages", "argyrodite_exclusion_pairs",
           "argyrodite_face_pairs", "argyrodite_li_pairs", "argyrodite_network",
           "argyrodite_anion_sites_A",
           "argyrodite_t5_move_classifier", "is_material", "MODEL_OPTIONS", "MaterialSpec",
           "build_material", "material_spec", "list_materials", "MATERIAL_OPTIONS",
           "network_from_sites", "minimum_image_size", "plane_spacings_A"]

#: Material options of the command line / config files: key -> (type, help).
MATERIAL_OPTIONS: dict[str, tuple[str, str]] = {
    "x": ("float", "NASICON composition x of Na(1+x)Zr2Si(x)P(3-x)O12, 0 <= x <= 3"),
    "halogen": ("str", "argyrodite halogen X of Li6PS5X: Cl, Br or I"),
    "site_exchange": ("float", "argyrodite X/S2- site exchange: fraction of the 4d sites holding X "
                      "(and of the 4a sites holding S2-), 0..1, 0.5 random (default: the "
                      "measured value of the halogen)"),
    "excess": ("float", "beta-alumina excess Na x of Na(1+x)Al11O(17+x/2), 0 <= x <= 0.5"),
    "disorder_seed": ("int", "seed of the quenched disorder (Si/P, anion exchange, ...; "
                      "default 0)"),
}

_EXCLUSION_TOL_A = 1e-6


def _lattice_files() -> dict[str, Any]:
    base = resources.files("kmc.lattices")
    return {p.name[:-5]: p for p in base.iterdir() if p.name.endswith(".toml")}


@dataclass(frozen=True)
class MaterialSpec:
    """A parsed material file (see ``lattices/README.md`` for the keys).

    Attributes
    ----------
    name : str
        Material name (the file stem, e.g. "lgps").
    data : dict
        The whole TOML document.
    """

    name: str
    data: dict[str, Any]

    @property
    def formula(self) -> str:
        return str(self.data["formula"])

    @property
    def spacegroup(self) -> str:
        sg = self.data["spacegroup"]
        return f"{sg['symbol']} (No. {sg['number']})"

    @property
    def attempt_frequency_Hz(self) -> float:
        """The material's attempt frequency (``[attempt_frequency]``), Hz; the package
        default where the file gives none."""
        return float(self.data.get("attempt_frequency", {}).get(
            "value_Hz", DEFAULT_ATTEMPT_FREQUENCY_HZ))

    @property
    def rate_law(self) -> str:
        """The rate law the material's barriers are meant for (``rate_law``, default kra)."""
        return str(self.data.get("rate_law", "kra"))

    @property
    def references(self) -> dict[str, dict[str, str]]:
        return self.data.get("references", {})

    def cite(self, key: str) -> str:
        """'Authors, journal (year), doi' of a reference key (or several, comma-separated)."""
        out = []
        for k in (s.strip() for s in str(key).split(",")):
            ref = self.references.get(k)
            if ref is None:
                out.append(k)
            else:
                out.append(ref["citation"] + (f", doi:{ref['doi']}" if ref.get("doi") else ""))
        return "; ".join(out)

    @property
    def main_source(self) -> str:
        return self.cite(self.data["structure"]["source"])

    def short_cite(self, key: str) -> str:
        """'First author et al., year' of a reference key."""
        import re

        ref = self.references.get(key.split(",")[0].strip())
        if ref is None:
            return key
        if ref.get("short"):
            return str(ref["short"])
        first = ref["citation"].split(",")[0].strip()
        years = re.findall(r"\((\d{4})\)", ref["citation"])
        return f"{first} et al." + (f" ({years[0]})" if years else "")


@lru_cache(maxsize=None)
def _load_spec(name: str) -> MaterialSpec:
    files = _lattice_files()
    path = files[name]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - shipped files are tested
        raise ConfigError(f"material file {path.name}: invalid TOML: {exc}") from None
    spec = MaterialSpec(name, data)
    _check_spec(spec)
    return spec


def _check_spec(spec: MaterialSpec) -> None:
    """Every number that the builder uses carries a known reference key."""
    d = spec.data
    for key in ("formula", "spacegroup", "cell", "structure", "sites", "hops", "model",
                "charge_e", "references"):
        if key not in d:
            raise ConfigError(f"material file {spec.name}.toml has no {key!r}")
    refs = spec.references
    entries = [("cell", d["cell"]), ("structure", d["structure"])]
    entries += [(f"sites.{s['label']}", s) for s in d["sites"]]
    entries += [(f"hops.{h['name']}", h) for h in d["hops"]]
    entries += [(f"interactions.{i['name']}", i) for i in d.get("interactions", [])]
    entries += [(f"events.{e['name']}", e) for e in d.get("events", [])]
    entries += [(f"parameters.{k}", v) for k, v in d.get("parameters", {}).items()]
    for name in ("attempt_frequency", "energy_model", "li_pairs"):
        if name in d:
            entries.append((name, d[name]))
    entries += [(f"validation[{k}]", v) for k, v in enumerate(d.get("validation", []))]
    for where, table in entries:
        for k in (s.strip() for s in str(table.get("source", "")).split(",")):
            if k not in refs:
                raise ConfigError(f"material file {spec.name}.toml: {where} cites unknown "
                                  f"reference {k!r}")
    for h in d["hops"]:
        model = h.get("barrier_model")
        if "barrier_eV" not in h and not ((model == "energy_model" and "energy_model" in d)
                                          or (model == "halogen_tables" and "halogens" in d)):
            raise ConfigError(f"material file {spec.name}.toml: hop {h['name']!r} has no "
                              "barrier_eV (or barrier_model = \"energy_model\" with an "
                              "[energy_model] table, or \"halogen_tables\" with [halogens])")
    nu = d.get("attempt_frequency", {}).get("value_Hz")
    if nu is not None and not (isinstance(nu, (int, float)) and math.isfinite(nu) and nu > 0):
        raise ConfigError(f"material file {spec.name}.toml: attempt_frequency.value_Hz = "
                          f"{nu!r} must be a positive number")
    if d.get("rate_law", "kra") not in RATE_LAWS:
        raise ConfigError(f"material file {spec.name}.toml: rate_law = {d['rate_law']!r} "
                          f"(known: {', '.join(RATE_LAWS)})")


def list_materials() -> list[str]:
    """Names of the shipped materials."""
    return sorted(_lattice_files())


def _resolve(name: str) -> str:
    if not isinstance(name, str):
        raise ConfigError(f"material name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    known = list_materials()
    if key not in known:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown material {name!r}{hint} (known: {', '.join(known)})")
    return key


def material_spec(name: str) -> MaterialSpec:
    """The parsed material file of `name` (case-insensitive; '-' = '_')."""
    return _load_spec(_resolve(name))


def is_material(name: Any) -> bool:
    """True if `name` names a shipped material."""
    if not isinstance(name, str):
        return False
    return name.strip().lower().replace("-", "_") in _lattice_files()


# --------------------------------------------------------------------------- #
# generic construction
# --------------------------------------------------------------------------- #
def _expand_wyckoff(spec: MaterialSpec, sites: list[dict[str, Any]]
                    ) -> tuple[np.ndarray, np.ndarray, Any]:
    """Fractional positions and basis index of every site of the unit cell (ASE)."""
    from ase.spacegroup import crystal

    sg = spec.data["spacegroup"]
    cellpar = spec.data["cell"]["cellpar"]
    basis = [tuple(float(v) for v in s["frac"]) for s in sites]
    atoms = crystal(["X"] * len(basis), basis=basis, spacegroup=int(sg["number"]),
                    setting=int(sg.get("setting", 1)), cellpar=cellpar,
                    symprec=1e-3, onduplicates="error")
    kinds = np.asarray(atoms.get_array("spacegroup_kinds"), dtype=np.int64)
    frac = atoms.get_scaled_positions(wrap=True)
    order = np.lexsort((frac[:, 2], frac[:, 1], frac[:, 0], kinds))
    return frac[order], kinds[order], atoms.cell.array.copy()


def _supercell(frac: np.ndarray, kinds: np.ndarray, cell: np.ndarray,
               size: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cartesian positions, kinds and cell of the `size` supercell (cell index outer)."""
    grid = np.stack(np.meshgrid(*(np.arange(n) for n in size), indexing="ij"),
                    axis=-1).reshape(-1, 3)
    allf = (grid[:, None, :] + frac[None, :, :]).reshape(-1, 3)
    sc = np.diag(np.array(size, dtype=float)) @ cell
    return allf @ cell, np.tile(kinds, grid.shape[0]), sc


def _pairs_within(positions: np.ndarray, cell: np.ndarray, cutoff_A: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All directed pairs (i, j, D) closer than `cutoff_A` (ASE neighbour list), sorted by
    i, then j, then D, with the vectors D made exactly periodic (:func:`canonical_vectors`).
    With sites numbered cell by cell, every site away from the box's faces then lists its
    hops and interactions in the same order relative to itself as its periodic images do,
    so the engine's site classes share them."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    atoms = Atoms(numbers=np.ones(len(positions), dtype=int), positions=positions, cell=cell,
                  pbc=True)
    i, j, D = neighbor_list("ijD", atoms, float(cutoff_A), self_interaction=False)
    D = canonical_vectors(np.asarray(D, dtype=float))
    key = np.rint(D / 1e-6).astype(np.int64)
    order = np.lexsort((key[:, 2], key[:, 1], key[:, 0], j, i))
    return i[order].astype(np.int64), j[order].astype(np.int64), D[order]


def unit_cell_pairs(frac: np.ndarray, cell: np.ndarray, cutoff_A: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All directed pairs of a periodic crystal closer than `cutoff_A`, as unit-cell pairs:
    basis site ``b`` to basis site ``b2`` in the unit cell shifted by ``shift`` (integers),
    with the vector ``D = (shift + frac[b2] - frac[b]) @ cell`` (Angstrom), sorted by ``b``,
    then ``b2``, then shift; the pair of a site with itself (zero shift) excluded.

    Returns
    -------
    b, b2 : ndarray of int64, shape (p,)
    shift : ndarray of int64, shape (p, 3)
    D : ndarray, shape (p, 3)
    """
    frac = np.asarray(frac, dtype=float)
    m = [int(math.ceil(cutoff_A / w)) + 1 for w in plane_spacings_A(cell)]
    shifts = np.stack(np.meshgrid(*(np.arange(-k, k + 1) for k in m), indexing="ij"),
                      axis=-1).reshape(-1, 3)
    # D[b, b2, t] = (t + frac[b2] - frac[b]) @ cell: one vector per template
    fd = shifts[None, None, :, :] + (frac[None, :, None, :] - frac[:, None, None, :])
    D = fd @ cell
    d2 = np.einsum("...k,...k->...", D, D)
    b, b2, t = np.nonzero(d2 < cutoff_A * cutoff_A)
    keep = ~((b == b2) & np.all(shifts[t] == 0, axis=1))
    b, b2, t = b[keep], b2[keep], t[keep]
    tv = D[b, b2, t]
    order = np.lexsort((t, b2, b))  # a source's pairs by basis site, then cell shift
    return (b[order].astype(np.int64), b2[order].astype(np.int64),
            shifts[t[order]].astype(np.int64), tv[order])


def periodic_pairs(frac: np.ndarray, cell: np.ndarray, size: tuple[int, int, int],
                   cutoff_A: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All directed pairs (i, j, D) closer than `cutoff_A` in the `size` supercell of the
    unit cell (`frac`: fractional basis, `cell`: rows, Angstrom), numbered as
    :func:`_supercell` numbers its sites (cell index outer, basis inner).

    The pairs are found once in the unit cell (basis site, basis site, cell shift) and
    repeated over the cells, so the work is O(N) and every copy of a pair has the same
    vector, bit for bit, and the same place in its source's list: each site of a periodic
    lattice lists its hops and interactions as its images do (the engine's site classes then
    share them). The supercell must be wider than twice `cutoff_A` (minimum image), which
    the material builders check; a pair is then found once.
    """
    nb = len(frac)
    size_a = np.asarray(size, dtype=np.int64)
    b, b2, tsh, tv = unit_cell_pairs(frac, cell, cutoff_A)
    grid = np.stack(np.meshgrid(*(np.arange(n) for n in size), indexing="ij"),
                    axis=-1).reshape(-1, 3)
    n_cells = len(grid)

    def cell_index(g: np.ndarray) -> np.ndarray:
        g = g % size_a
        return (g[..., 0] * size_a[1] + g[..., 1]) * size_a[2] + g[..., 2]

    i = (np.arange(n_cells)[:, None] * nb + b[None, :]).reshape(-1)
    j = (cell_index(grid[:, None, :] + tsh[None, :, :]) * nb + b2[None, :]).reshape(-1)
    D_all = np.broadcast_to(tv, (n_cells, len(tv), 3)).reshape(-1, 3)
    return i.astype(np.int64), j.astype(np.int64), np.ascontiguousarray(D_all)


def canonical_vectors(D: np.ndarray, grid_A: float = 1e-6) -> np.ndarray:
    """Vectors equal to within `grid_A` (Angstrom) made equal bit for bit, and opposite ones
    exact negatives.

    Differences of positions in a supercell carry rounding errors of a few 1e-15 A that
    depend on where in the box the pair sits, so translation-equivalent hops get vectors
    that differ in their last bits. The engine shares the hop data of sites whose hops are
    the same bit for bit (its site classes: a periodic lattice has a few dozen), so each
    group of vectors on the same `grid_A` cell is given one member's vector (and its
    opposite group the negative of it). A vector moves by at most a few ulp.
    """
    D = np.asarray(D, dtype=float)
    if D.size == 0:
        return D.reshape(-1, 3)
    key = np.rint(D / grid_A).astype(np.int64)
    # orientation: the sign of the first non-zero component of the key
    nz = key != 0
    first = np.argmax(nz, axis=1)
    sign = np.where(key[np.arange(len(key)), first] < 0, -1, 1)
    sign[~nz.any(axis=1)] = 1
    _, rep, inv = np.unique(key * sign[:, None], axis=0, return_index=True,
                            return_inverse=True)
    canon = D[rep] * sign[rep][:, None]
    return canon[inv.reshape(-1)] * sign[:, None]


def plane_spacings_A(cell: np.ndarray) -> np.ndarray:
    """Distances between the lattice planes spanned by each pair of cell vectors, Angstrom:
    the widths of the cell along its three axes."""
    vol = abs(float(np.linalg.det(cell)))
    return np.array([vol / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3]))
                     for k in range(3)])


def minimum_image_size(cell: np.ndarray, reach_A: float) -> tuple[int, int, int]:
    """The smallest supercell of `cell` wider than twice `reach_A` along every axis at once
    (the minimum-image condition: no site reaches its own periodic image)."""
    widths = plane_spacings_A(cell)
    return tuple(int(math.floor(2.0 * reach_A / w)) + 1 for w in widths)  # type: ignore


def _check_width(cell: np.ndarray, reach_A: float, size: tuple[int, int, int]) -> None:
    """The supercell must be wider than twice the longest hop or interaction."""
    widths = plane_spacings_A(cell)
    narrow = [k for k in range(3) if widths[k] <= 2 * reach_A]
    if narrow:
        unit = np.diag(1.0 / np.array(size, dtype=float)) @ cell  # the unit cell
        need = tuple(max(int(n), int(m)) for n, m in zip(size, minimum_image_size(unit, reach_A)))
        k = narrow[0]
        raise ConfigError(
            f"size {size} is too small: the supercell is {widths[k]:.3f} A wide along axis {k}, "
            f"not more than twice the longest hop/interaction ({reach_A:.3f} A); use a "
            f"size of at least {need}")


@dataclass(frozen=True)
class HopRule:
    """Hops between sites of types `a` and `b` with lengths in [lo, hi] Angstrom."""

    name: str
    a: str
    b: str
    lo: float
    hi: float
    barrier_eV: float


def _rules_cutoff_A(hop_rules: list[HopRule],
                    pair_rules: list[tuple[str, str, float, float, float]]) -> float:
    """The neighbour search's cutoff (Angstrom) that finds every hop and pair of the rules."""
    reach = max([r.hi for r in hop_rules] + [p[3] for p in pair_rules])
    return reach * (1 + 1e-9) + 2 * _EXCLUSION_TOL_A


def _match_rules(ti: np.ndarray, tj: np.ndarray, d: np.ndarray, type_names: list[str],
                 hop_rules: list[HopRule],
                 pair_rules: list[tuple[str, str, float, float, float]], name: str
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Which hop rule each directed pair (site types ti, tj, distance d in Angstrom) matches
    (-1: none) and, per pair rule, which pairs it matches; ConfigError for unknown site
    types, a pair matching two hop rules, or no hop at all."""
    idx = {n: k for k, n in enumerate(type_names)}

    def match(a: str, b: str, lo: float, hi: float) -> np.ndarray:
        for t in (a, b):
            if t not in idx:
                raise ConfigError(f"hop/interaction rule names site type {t!r}, not one of "
                                  f"{', '.join(type_names)}")
        ka, kb = idx[a], idx[b]
        pair = ((ti == ka) & (tj == kb)) | ((ti == kb) & (tj == ka))
        return pair & (d >= lo - _EXCLUSION_TOL_A) & (d <= hi + _EXCLUSION_TOL_A)

    rule_of = np.full(ti.size, -1, dtype=np.int64)
    for k, r in enumerate(hop_rules):
        m = match(r.a, r.b, r.lo, r.hi)
        clash = m & (rule_of >= 0)
        if clash.any():
            other = hop_rules[int(rule_of[np.flatnonzero(clash)[0]])].name
            raise ConfigError(f"hop types {other!r} and {r.name!r} both match a {r.a}-{r.b} "
                              f"pair at {d[np.flatnonzero(clash)[0]]:.4f} A; make their "
                              "distance windows disjoint")
        rule_of[m] = k
    if not np.any(rule_of >= 0):
        raise ConfigError(f"no hops found in {name!r}: no site pair matches a hop window")
    return rule_of, [match(a, b, lo, hi) for a, b, lo, hi, _ in pair_rules]


def periodic_network_from_unit(unit_cell_A: np.ndarray, frac: np.ndarray,
                               size: tuple[int, int, int], type_names: list[str],
                               basis_types: np.ndarray, hop_rules: list[HopRule], *,
                               basis_energies_eV: Any = 0.0,
                               pair_rules: list[tuple[str, str, float, float, float]] = (),
                               charge_e: float = 1.0, name: str = "network"
                               ) -> PeriodicNetwork:
    """The :class:`kmc.lattice.PeriodicNetwork` of a crystal whose hops and pair energies
    follow from distance windows (as :func:`network_from_sites` with ``unit``): the same
    network, its unit cell's hops and pairs kept once instead of in every cell.

    Parameters
    ----------
    unit_cell_A : (3, 3) array
        Unit cell in Angstrom (rows).
    frac : (nb, 3) array
        Basis sites, fractional coordinates of the unit cell.
    size : 3 ints
        Repeats of the unit cell (the supercell must be wider than twice the longest hop
        or pair: the material builders check).
    type_names, basis_types :
        Site type names and each basis site's type index.
    hop_rules, pair_rules, charge_e, name :
        As :func:`network_from_sites`.
    basis_energies_eV : float or (nb,) array
        Site energy of each basis site, eV.
    """
    b, b2, shift, D = unit_cell_pairs(frac, unit_cell_A,
                                      _rules_cutoff_A(hop_rules, pair_rules))
    basis_types = np.asarray(basis_types)
    rule_of, pair_masks = _match_rules(basis_types[b], basis_types[b2],
                                       np.linalg.norm(D, axis=1), type_names, hop_rules,
                                       pair_rules, name)
    sel = np.flatnonzero(rule_of >= 0)
    kw: dict[str, Any] = {}
    if pair_rules:
        # each unordered pair once: from the lower basis site, or along +shift
        s0, s1, s2 = shift.T
        along = (s0 > 0) | ((s0 == 0) & ((s1 > 0) | ((s1 == 0) & (s2 > 0))))
        first = (b < b2) | ((b == b2) & along)
        # a pair two rules match keeps the first rule's energy (as network_from_sites)
        taken = np.zeros(b.size, dtype=bool)
        m = []
        for mk in pair_masks:
            m.append(np.flatnonzero(mk & first & ~taken))
            taken[m[-1]] = True
        kw = dict(pair_basis_i=np.concatenate([b[x] for x in m]),
                  pair_basis_j=np.concatenate([b2[x] for x in m]),
                  pair_cell_offsets=np.concatenate([shift[x] for x in m]),
                  pair_energies_eV=np.concatenate([np.full(x.size, float(r[4]))
                                                   for x, r in zip(m, pair_rules)]))
    return PeriodicNetwork(
        unit_cell=unit_cell_A, basis_frac=frac, size=tuple(size),
        hop_basis_src=b[sel], hop_basis_dst=b2[sel], hop_cell_offsets=shift[sel],
        hop_barriers_eV=np.array([r.barrier_eV for r in hop_rules], dtype=float)[rule_of[sel]],
        basis_types=basis_types, site_type_names=tuple(type_names),
        basis_energies_eV=basis_energies_eV, hop_types=rule_of[sel],
        hop_type_names=tuple(r.name for r in hop_rules), charge_e=charge_e, name=name, **kw)


def network_from_sites(cell_A: np.ndarray, positions_A: np.ndarray, type_names: list[str],
                       site_types: np.ndarray, hop_rules: list[HopRule], *,
                       site_energies_eV: Any = 0.0,
                       pair_rules: list[tuple[str, str, float, float, float]] = (),
                       charge_e: float = 1.0, name: str = "network",
                       unit: tuple[np.ndarray, np.ndarray, tuple[int, int, int]] | None = None
                       ) -> SiteNetwork:
    """A SiteNetwork of the given sites with hops and pair energies found by distance windows.

    Parameters
    ----------
    cell_A : (3, 3) array
        Periodic cell in Angstrom (rows).
    positions_A : (n, 3) array
        Cartesian site positions in Angstrom.
    type_names, site_types :
        Site type names and each site's type index.
    hop_rules : list of HopRule
        Each pair of sites whose types are (a, b) in either order and whose distance lies in
        [lo, hi] Angstrom gets a hop (both directions) of that rule's name and barrier. A pair
        that matches two rules is an error.
    pair_rules : list of (a, b, lo_A, hi_A, J_eV)
        Pair interactions by type pair and distance window.
    unit : (frac, unit_cell_A, size), optional
        When the sites are the `size` supercell of a unit cell as :func:`_supercell` makes
        it, its fractional basis and cell: the pairs are then found in the unit cell and
        repeated (:func:`periodic_pairs`; O(N), exactly periodic), else by a neighbour list
        over the whole box.
    """
    cut = _rules_cutoff_A(hop_rules, pair_rules)
    if unit is not None:
        i, j, D = periodic_pairs(unit[0], unit[1], unit[2], cut)
    else:
        i, j, D = _pairs_within(positions_A, cell_A, cut)
    d = np.linalg.norm(D, axis=1)
    rule_of, pair_masks = _match_rules(site_types[i], site_types[j], d, type_names,
                                       hop_rules, pair_rules, name)
    sel = np.flatnonzero(rule_of >= 0)
    barriers = np.array([r.barrier_eV for r in hop_rules], dtype=float)[rule_of[sel]]

    pi: list[np.ndarray] = []
    pj: list[np.ndarray] = []
    pe: list[np.ndarray] = []
    for m_rule, (_, _, _, _, J) in zip(pair_masks, pair_rules):
        m = np.flatnonzero(m_rule & (i < j))
        pi.append(i[m])
        pj.append(j[m])
        pe.append(np.full(m.size, float(J)))
    kw: dict[str, Any] = {}
    if pi:
        pi_a, pj_a, pe_a = np.concatenate(pi), np.concatenate(pj), np.concatenate(pe)
        # one entry per unordered pair (a small supercell may list two images)
        key = pi_a * len(positions_A) + pj_a
        _, first = np.unique(key, return_index=True)
        kw = dict(pair_i=pi_a[first], pair_j=pj_a[first], pair_energies_eV=pe_a[first])
    return SiteNetwork(
        cell=cell_A, positions=positions_A, hop_src=i[sel], hop_dst=j[sel], hop_vectors=D[sel],
        hop_barriers_eV=barriers, site_types=site_types, site_type_names=tuple(type_names),
        site_energies_eV=site_energies_eV, hop_types=rule_of[sel],
        hop_type_names=tuple(r.name for r in hop_rules), charge_e=charge_e, name=name, **kw)


# --------------------------------------------------------------------------- #
# materials
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Material:
    """A built material model: the network and the number of mobile ions.

    Attributes
    ----------
    name : str
        Material name.
    network : SiteNetwork or PeriodicNetwork
        Sites, hops (and events), energies and interactions of the supercell.
    n_ions : int
        Mobile ions in the supercell (from the formula and the composition options).
    options : dict
        The material options used (with defaults filled in).
    size : tuple of int
        Unit cells of the supercell along the cell vectors.
    info : dict
        What the model derived (e.g. the Si count, exchanged anion sites), JSON-ready.
    attempt_frequency_Hz : float
        The material's attempt frequency (its file's ``[attempt_frequency]``), Hz: what
        ``kmc run MATERIAL`` uses unless ``--attempt-frequency`` is given; pass it to
        :class:`kmc.Simulation` yourself in Python.
    rate_law : str
        The rate law the material's barriers are meant for ("kra" or "kmcpy").
    """

    name: str
    network: SiteNetwork | PeriodicNetwork
    n_ions: int
    options: dict[str, Any]
    size: tuple[int, int, int]
    info: dict[str, Any] = field(default_factory=dict)
    attempt_frequency_Hz: float = DEFAULT_ATTEMPT_FREQUENCY_HZ
    rate_law: str = "kra"

    @property
    def n_cells(self) -> int:
        return int(np.prod(self.size))


def _size3(size: Any, default: Any) -> tuple[int, int, int]:
    """Unit cells along the three cell vectors: an integer (along all three) or 3."""
    return _checks.size3(default if size is None else size)


def _option(options: dict[str, Any], key: str, default: Any, lo: float | None = None,
            hi: float | None = None, choices: tuple[str, ...] | None = None) -> Any:
    v = options.pop(key, None)
    if v is None:
        return default
    if choices is not None:
        return _checks.choice(v, key, choices, fold_case=True)
    return _checks.real(v, key, lo=-math.inf if lo is None else lo,
                        hi=math.inf if hi is None else hi)


class _Build:
    """Working state of one material build (shared by the model functions)."""

    def __init__(self, spec: MaterialSpec, size: tuple[int, int, int],
                 params: dict[str, Any], cell_override: list[float] | None = None) -> None:
        self.spec = spec
        self.size = size
        self.params = params
        d = spec.data
        self.site_specs = list(d["sites"])
        self.labels = [s["label"] for s in self.site_specs]
        spec_cell = dict(d["cell"])
        if cell_override is not None:
            spec = MaterialSpec(spec.name, {**d, "cell": {**spec_cell, "cellpar": cell_override}})
        frac, kinds, cell = _expand_wyckoff(spec, self.site_specs)
        self.unit_cell = cell
        self.frac_unit, self.kinds_unit = frac, kinds
        self.positions, self.kinds, self.cell = _supercell(frac, kinds, cell, size)
        self.kind_energies = np.array([float(s.get("energy_eV", 0.0)) for s in self.site_specs])
        self.energies = self.kind_energies[self.kinds]
        #: build the network as a PeriodicNetwork (build_material(..., compact=True))
        self.compact = False
        # a hop with `barrier_model = "energy_model"` (or "halogen_tables", the argyrodite's
        # per-class tables) gets its barrier from the material's energy model or tables (set
        # by the model function); 0 until then
        self.hop_rules = [HopRule(h["name"], h["sites"][0], h["sites"][1],
                                  float(h["window_A"][0]), float(h["window_A"][1]),
                                  float(h.get("barrier_eV", 0.0))) for h in d["hops"]]
        self.pair_rules = [(p["sites"][0], p["sites"][1], float(p["window_A"][0]),
                            float(p["window_A"][1]), float(p["energy_eV"]))
                           for p in d.get("interactions", [])]
        reach = max([r.hi for r in self.hop_rules] + [p[3] for p in self.pair_rules])
        _check_width(self.cell, reach, size)
        self.framework: dict[str, np.ndarray] = {}  # label -> Cartesian positions
        for fw in d.get("framework", []):
            f, _, _ = _expand_wyckoff(spec, [fw])
            pos, _, _ = _supercell(f, np.zeros(len(f), dtype=np.int64), self.unit_cell, size)
            self.framework[fw["label"]] = pos
        self.info: dict[str, Any] = {}

    def network(self, name: str) -> SiteNetwork:
        return network_from_sites(self.cell, self.positions, self.labels, self.kinds,
                                  self.hop_rules, site_energies_eV=self.energies,
                                  pair_rules=self.pair_rules,
                                  charge_e=float(self.spec.data["charge_e"]), name=name,
                                  unit=(self.frac_unit, self.unit_cell, self.size))

    def periodic_network(self, name: str) -> PeriodicNetwork:
        """The network of :meth:`network` as a PeriodicNetwork (no quenched disorder)."""
        return periodic_network_from_unit(
            self.unit_cell, self.frac_unit, self.size, self.labels, self.kinds_unit,
            self.hop_rules, basis_energies_eV=self.kind_energies[self.kinds_unit],
            pair_rules=self.pair_rules, charge_e=float(self.spec.data["charge_e"]), name=name)

    def near(self, points: np.ndarray, targets: np.ndarray, cutoff_A: float) -> np.ndarray:
        """(n_points, n_targets) boolean: minimum-image distance <= cutoff_A."""
        inv = np.linalg.inv(self.cell)
        out = np.zeros((len(points), len(targets)), dtype=bool)
        for k in range(0, len(points), 512):
            diff = targets[None, :, :] - points[k:k + 512, None, :]
            f = diff @ inv
            f -= np.rint(f)
            dist = np.linalg.norm(f @ self.cell, axis=2)
            out[k:k + 512] = dist <= cutoff_A
        return out


def _param(spec: MaterialSpec, key: str) -> float:
    return float(spec.data["parameters"][key]["value"])


# ---- LGPS ----------------------------------------------------------------- #
def _model_lgps(b: _Build, options: dict[str, Any], rng: np.random.Generator
                ) -> tuple[SiteNetwork | PeriodicNetwork, int]:
    ions = int(round(float(b.spec.data["composition"]["ions_per_cell"]) * np.prod(b.size)))
    return (b.periodic_network("lgps") if b.compact else b.network("lgps")), ions


# ---- argyrodite ------------------------------------------------------------ #
def _nearest_image(cell: np.ndarray, points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Index of the nearest target (minimum image in `cell`) of every point."""
    inv = np.linalg.inv(cell)
    out = np.empty(len(points), dtype=np.int64)
    for k in range(0, len(points), 512):
        f = (targets[None, :, :] - points[k:k + 512, None, :]) @ inv
        f -= np.rint(f)
        out[k:k + 512] = np.argmin(np.linalg.norm(f @ cell, axis=2), axis=1)
    return out


def _argyrodite_classes(b: _Build, net: SiteNetwork, x_on_4d: np.ndarray,
                        s_on_4a: np.ndarray) -> np.ndarray:
    """Class of every Li site: its type and the species (S or X) on its 4a and 4d anion
    vertices, e.g. "T5:XS" (the ordered environment); a T4 site has a 4a vertex only."""
    ia = _nearest_image(b.cell, net.positions, b.framework["X"])
    idd = _nearest_image(b.cell, net.positions, b.framework["S_free"])
    names = np.array(net.site_type_names)[net.site_types]
    sp_a = np.where(s_on_4a[ia], "S", "X")
    sp_d = np.where(x_on_4d[idd], "X", "S")
    return np.array([f"{t}:{a}" + ("" if t == "T4" else d)
                     for t, a, d in zip(names, sp_a, sp_d)])


def _model_argyrodite(b: _Build, options: dict[str, Any], rng: np.random.Generator
                      ) -> tuple[SiteNetwork, int]:
    halogens = b.spec.data["halogens"]
    x = _option(options, "halogen", "Cl", choices=tuple(halogens))
    hal = halogens[x]
    exch = _option(options, "site_exchange", float(hal["site_exchange"]), 0.0, 1.0)
    # X/S2- exchange: a fraction `exch` of the 4d sites (the free S2-, cage centres) hold X
    # and as many 4a sites hold S2- (the formula is kept)
    n4a, n4d = len(b.framework["X"]), len(b.framework["S_free"])
    n_swap = int(round(exch * n4d))
    x_on_4d = np.zeros(n4d, dtype=bool)
    x_on_4d[rng.choice(n4d, size=n_swap, replace=False)] = True
    s_on_4a = np.zeros(n4a, dtype=bool)
    s_on_4a[rng.choice(n4a, size=n_swap, replace=False)] = True
    net, cls = _argyrodite_assemble(b, x, s_on_4a, x_on_4d, None)
    kinds, counts = np.unique(cls, return_counts=True)
    # the initial state: the diffraction structure, one Li on a random T5 of every 48h
    # doublet, so six per cage (what the AIMD starts from). Random placement would crowd some
    # cages, and in the ordered compounds no intercage jump relaxes that within a run.
    dbl = net.hop_types == net.hop_type_names.index("doublet")
    a_, b_ = net.hop_src[dbl], net.hop_dst[dbl]
    first, second = a_[a_ < b_], b_[a_ < b_]
    ion_sites = np.sort(np.where(rng.random(len(first)) < 0.5, first, second))
    b.info.update(halogen=x, site_exchange=exch, exchanged_sites=n_swap, anion_sites_4d=n4d,
                  a_A=float(hal["a_A"]), params_from=str(hal.get("params_from", x)),
                  site_classes={str(k): int(c) for k, c in zip(kinds, counts)})
    options.setdefault("halogen", x)
    ions = int(round(float(b.spec.data["composition"]["ions_per_cell"]) * np.prod(b.size)))
    if len(ion_sites) != ions:  # pragma: no cover - 24 doublets and 24 Li per cell
        raise ConfigError(f"argyrodite: {len(ion_sites)} doublets for {ions} Li")
    b.info["ion_sites"] = ion_sites.tolist()
    return net, ions


def _argyrodite_assemble(b: _Build, x: str, s_on_4a: np.ndarray, x_on_4d: np.ndarray,
                         tables: dict[str, Any] | None) -> tuple[SiteNetwork, np.ndarray]:
    """The network of halogen `x` with the given anion arrangement: site classes, their
    energies, the barriers per hop and end classes, the Li-Li pair energies per pair kind and
    the optional cage term from `tables` (keys ``site_energy_eV``, ``kra_eV``,
    ``pair_energy_eV``, ``cage_energy_eV``; default the file's tables of the halogen's
    ``params_from``)."""
    hal = b.spec.data["halogens"][x]
    src = str(hal.get("params_from", x))
    if tables is None:
        tables = b.spec.data["halogens"][src]
    site_energy, kra = tables["site_energy_eV"], tables["kra_eV"]
    net = b.network(f"argyrodite-{x}")
    cls = _argyrodite_classes(b, net, x_on_4d, s_on_4a)
    missing = sorted(str(c) for c in set(cls) - set(site_energy))
    if missing:
        raise ConfigError(f"material file {b.spec.name}.toml: [halogens.{src}.site_energy_eV] "
                          f"has no energy for site class {missing[0]!r}")
    energies = np.array([float(site_energy[c]) for c in cls])
    hop_names = np.array(net.hop_type_names)[net.hop_types]
    barriers = np.empty(net.n_hops)
    for h, (name, i, j) in enumerate(zip(hop_names, net.hop_src, net.hop_dst)):
        c1, c2 = sorted((cls[i], cls[j]))
        key = f"{name}|{c1}|{c2}"
        if key not in kra:
            raise ConfigError(f"material file {b.spec.name}.toml: [halogens.{src}.kra_eV] has "
                              f"no barrier for {key!r}")
        barriers[h] = _kra_value(kra[key])
    kw: dict[str, Any] = {}
    extra = [(np.asarray(net.pair_i), np.asarray(net.pair_j),
              np.asarray(net.pair_energies_eV, dtype=float))]
    pair_J = {k: float(v) for k, v in tables.get("pair_energy_eV", {}).items()}
    kinds = [k["name"] for k in b.spec.data["li_pairs"]["kinds"]]
    for key in pair_J:
        if key not in kinds:
            raise ConfigError(f"material file {b.spec.name}.toml: [halogens.{src}."
                              f"pair_energy_eV] has {key!r}; the keys are the names of "
                              f"[[li_pairs.kinds]]: {', '.join(kinds)}")
    if any(pair_J.values()):
        pi, pj, pk = argyrodite_li_pairs(net, _argyrodite_cellpar(b.spec, x)[0])
        J = np.array([pair_J.get(k, 0.0) for k in kinds])[pk]
        extra.append((pi[J != 0], pj[J != 0], J[J != 0]))
    cage_U = {k: float(v) for k, v in tables.get("cage_energy_eV", {}).items()}
    for key in cage_U:
        if key not in ("S", "X"):
            raise ConfigError(f"material file {b.spec.name}.toml: [halogens.{src}."
                              f"cage_energy_eV] has {key!r}; the keys are the species on the "
                              "cage centre (4d), 'S' or 'X'")
    if any(cage_U.values()):
        extra.append(_argyrodite_cage_pairs(b, net, cls, cage_U))
    if len(extra) > 1:
        kw = dict(pair_i=np.concatenate([e[0] for e in extra]),
                  pair_j=np.concatenate([e[1] for e in extra]),
                  pair_energies_eV=np.concatenate([e[2] for e in extra]))
    return net.replace(hop_barriers_eV=barriers, site_energies_eV=energies, **kw), cls


def _kra_value(entry: Any) -> float:
    """A KRA barrier of an argyrodite ``kra_eV`` table, eV: ``E`` or ``[E, AIMD hops]``."""
    return float(entry[0]) if isinstance(entry, list) else float(entry)


def argyrodite_li_pairs(network: SiteNetwork, a_A: float
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Li-Li pairs of the argyrodite's pair kinds (``[[li_pairs.kinds]]`` of
    lattices/argyrodite.toml: site types and a distance window at Li6PS5Cl's lattice
    constant ``li_pairs.window_a_A``): the pairs that ``pair_energy_eV`` tables act on.

    Parameters
    ----------
    network : SiteNetwork or PeriodicNetwork
        An argyrodite network (any supercell).
    a_A : float
        Its lattice constant, Angstrom: distances are compared with the windows after
        scaling by ``window_a_A / a_A`` (the fractional coordinates do not depend on X).

    Returns
    -------
    (ndarray, ndarray, ndarray) of int64
        Sites ``i < j`` of every pair (each unordered pair once) and the index of its kind
        in ``[[li_pairs.kinds]]``.
    """
    spec = _load_spec("argyrodite")
    lp = spec.data["li_pairs"]
    scale = float(lp["window_a_A"]) / _checks.real(a_A, "a_A", lo=1.0)
    kinds = lp["kinds"]
    reach = max(float(k["window_A"][1]) for k in kinds) / scale + 1e-3
    i, j, D = _pairs_within(np.asarray(network.positions), np.asarray(network.cell), reach)
    keep = i < j
    i, j = i[keep], j[keep]
    d = np.linalg.norm(D[keep], axis=1) * scale
    names = np.array(network.site_type_names)[network.site_types]
    ti, tj = names[i], names[j]
    kind = np.full(len(i), -1, dtype=np.int64)
    for k, rule in enumerate(kinds):
        a, b = rule["sites"]
        lo, hi = (float(v) for v in rule["window_A"])
        m = (((ti == a) & (tj == b)) | ((ti == b) & (tj == a))) & (d >= lo) & (d <= hi)
        if np.any(m & (kind >= 0)):  # pragma: no cover - the shipped windows are disjoint
            raise ConfigError(f"argyrodite.toml: li_pairs kind {rule['name']!r} overlaps "
                              "another kind's window")
        kind[m] = k
    sel = kind >= 0
    i, j, kind = i[sel], j[sel], kind[sel]
    # one entry per unordered pair (a small supercell may list two images)
    _, first = np.unique(i * network.n_sites + j, return_index=True)
    return i[first], j[first], kind[first]


def _argyrodite_site_cages(network: SiteNetwork, centres_A: np.ndarray) -> np.ndarray:
    """The cage of every Li site: the index of its nearest cage centre (4d site) among
    `centres_A` (Angstrom), -1 for T4 sites (shared by three cages)."""
    cage = _nearest_image(np.asarray(network.cell), network.positions, centres_A)
    cage[network.site_types == network.site_type_names.index("T4")] = -1
    return cage


def _argyrodite_cage_pairs(b: _Build, net: SiteNetwork, cls: np.ndarray,
                           cage_U: dict[str, float]
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cage term: every pair of T5/T2 sites of one cage that is not a hard core gets
    ``cage_U[species on the cage centre]``. With n Li in a cage that is U n(n - 1)/2 (hard
    pairs are never both occupied), so with the site energies a cage costs
    (U/2)(n - n0)^2 + const: it holds the Li count of a cage near n0."""
    cage = _argyrodite_site_cages(net, b.framework["S_free"])
    n = net.n_sites
    hard = (np.minimum(net.pair_i, net.pair_j).astype(np.int64) * n
            + np.maximum(net.pair_i, net.pair_j))
    out_i, out_j, out_U = [], [], []
    order = np.argsort(cage, kind="stable")
    order = order[cage[order] >= 0]
    for members in np.split(order, np.flatnonzero(np.diff(cage[order])) + 1):
        U = cage_U.get(str(cls[members[0]])[4], 0.0)  # class "T5:ad": d, the centre
        if U == 0.0:
            continue
        u, v = np.triu_indices(len(members), 1)
        pi, pj = np.minimum(members[u], members[v]), np.maximum(members[u], members[v])
        keep = ~np.isin(pi.astype(np.int64) * n + pj, hard)
        out_i.append(pi[keep]), out_j.append(pj[keep]), out_U.append(np.full(keep.sum(), U))
    if not out_i:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_U)


def argyrodite_anion_sites_A(halogen: str = "Cl", size: Any = None
                             ) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian positions (Angstrom) of the 4a and the 4d anion sites of an argyrodite
    supercell, in the order that :func:`argyrodite_network`'s arrangements follow.

    Parameters
    ----------
    halogen : str
        "Cl", "Br" or "I" (sets the lattice constant).
    size : int or 3 ints, optional
        Unit cells along the cell vectors (default: the file's ``default_size``).
    """
    b, _ = _argyrodite_build(halogen, size)
    return b.framework["X"].copy(), b.framework["S_free"].copy()


def _argyrodite_cellpar(spec: MaterialSpec, halogen: str) -> list[float]:
    """The cubic cell of a halogen: its lattice constant sets it."""
    a = float(spec.data["halogens"][halogen]["a_A"])
    return [a, a, a, 90.0, 90.0, 90.0]


def _argyrodite_build(halogen: str, size: Any) -> tuple[_Build, str]:
    spec = _load_spec("argyrodite")
    x = _checks.choice(halogen, "halogen", tuple(spec.data["halogens"]), fold_case=True)
    return _Build(spec, _size3(size, spec.data["structure"].get("default_size", 2)), {},
                  cell_override=_argyrodite_cellpar(spec, x)), x


def argyrodite_network(halogen: str, s_on_4a: Any, x_on_4d: Any, *, size: Any = None,
                       tables: dict[str, Any] | None = None
                       ) -> tuple[SiteNetwork, np.ndarray]:
    """The argyrodite model for a given X/S2- arrangement, optionally with trial tables.

    What :func:`build_material` builds with a random arrangement; for comparing the model
    with a simulation of a known arrangement (an AIMD cell) and for fitting the tables. It
    has no initial state: give :class:`kmc.Simulation` ``ion_sites`` (e.g. one Li per 48h
    doublet, as ``build_material(...).info["ion_sites"]``) or ``n_ions``.

    Parameters
    ----------
    halogen : str
        "Cl", "Br" or "I".
    s_on_4a, x_on_4d : array_like of bool
        Per 4a site (S2- instead of X) and per 4d site (X instead of S2-), in the order of
        :func:`argyrodite_anion_sites_A`.
    size : int or 3 ints, optional
        Unit cells along the cell vectors (default: the file's ``default_size``).
    tables : dict, optional
        ``site_energy_eV`` (class -> eV) and ``kra_eV`` ("hop|class|class" -> eV or [eV,
        n]); optionally ``pair_energy_eV`` ({kind: J}: a pair energy J between the two
        sites of every pair of that kind, :func:`argyrodite_li_pairs`) and
        ``cage_energy_eV`` ({"S": U, "X": U} by the species on the cage centre: a pair
        energy U between every two T5/T2 sites of one cage that are not a hard core);
        default the material file's tables.

    Returns
    -------
    (SiteNetwork, ndarray of str)
        The network and every site's class ("T5:XS": type, species on its 4a and 4d
        vertices).
    """
    b, x = _argyrodite_build(halogen, size)
    n4a, n4d = len(b.framework["X"]), len(b.framework["S_free"])
    s4a = np.asarray(s_on_4a, dtype=bool)
    x4d = np.asarray(x_on_4d, dtype=bool)
    if s4a.shape != (n4a,) or x4d.shape != (n4d,):
        raise ConfigError(f"s_on_4a and x_on_4d need {n4a} and {n4d} entries (the 4a and 4d "
                          f"sites of the supercell), got {s4a.shape} and {x4d.shape}")
    return _argyrodite_assemble(b, x, s4a, x4d, tables)


#: Pair energies of an argyrodite at or above this (eV) are its hard cores (2.0 eV,
#: ``[[interactions]]``); the cage term's pair energies lie far below it.
ARGYRODITE_HARD_CORE_MIN_EV = 1.0

#: Simulated time between the frames of Morgan's argyrodite AIMD (inherent structures every
#: 100 fs), s: the interval at which the model is sampled to compare jump counts with it.
ARGYRODITE_FRAME_S = 100e-15

#: De Klerk's classes of a T5 -> T5 move of a Li (Chem. Mater. 28, 7955 (2016)), in the order
#: of the class indices of :func:`argyrodite_t5_move_classifier`: to the other T5 of its
#: doublet, to a T5 of another doublet of the same cage, to a T5 of another cage.
ARGYRODITE_T5_MOVES = ("doublet", "intracage", "intercage")

#: Morgan's Li6PS5Cl and Li6PS5I AIMD at 500 K (B. J. Morgan, Chem. Mater. 33, 2004 (2021);
#: data at github.com/bjmorgan/data_argyrodite_disorder), our counts
#: (benchmarks/argyrodite_aimd_jumps.py) per (halogen, X/S2- exchange): Li-seconds observed
#: (``li_time_s``, s), open hops per hop type of the model (``hops``, both directions; open:
#: into a site with no Li on a site of an exclusion pair with it,
#: :func:`argyrodite_exclusion_pairs`), T5 -> T5 moves per :data:`ARGYRODITE_T5_MOVES`
#: (``t5_moves``, counted along each Li's sequence of T5 sites in frames 100 fs apart) and
#: site populations per type (``populations``, fractions; ``populations_se``: the standard
#: error of the mean over the 5-7 runs of a configuration, from the runs' own fractions).
#: 192 Li x 69-70 ps per entry; a count N has the Poisson error sqrt(N).
ARGYRODITE_AIMD_500K: dict[tuple[str, float], dict[str, Any]] = {
    ("Cl", 0.0): dict(li_time_s=1.3344e-08,
                      hops={"doublet": 13089, "T5-T2": 10814, "T5-T4": 1,
                            "T2-T2_intracage": 45, "T2-T2_intercage": 0},
                      t5_moves={"doublet": 13325, "intracage": 1885, "intercage": 2},
                      populations={"T5": 0.8023, "T2": 0.1976, "T4": 0.0000},
                      populations_se={"T5": 0.0034, "T2": 0.0034, "T4": 0.0},
                      pairs_both={"T2-T2_intracage": 0.00010, "T5-T5_cage": 0.11917,
                                  "T2-T4": 0.00000, "T2-T5_cage1": 0.05944, "T2-T5_cage2": 0.01154,
                                  "T2-T2_cage2": 0.00074, "T5-T5_intercage": 0.14122,
                                  "T2-T5_intercage": 0.02975, "T4-T4": 0.00000, "T4-T5": 0.00000},
                      pairs_both_se={"T2-T2_intracage": 0.00002, "T5-T5_cage": 0.00124,
                                     "T2-T4": 0.00000, "T2-T5_cage1": 0.00106,
                                     "T2-T5_cage2": 0.00020, "T2-T2_cage2": 0.00009,
                                     "T5-T5_intercage": 0.00258, "T2-T5_intercage": 0.00048,
                                     "T4-T4": 0.00000, "T4-T5": 0.00000}),
    ("Cl", 0.5): dict(li_time_s=1.33248e-08,
                      hops={"doublet": 2641, "T5-T2": 13863, "T5-T4": 1280,
                            "T2-T2_intracage": 136, "T2-T2_intercage": 813},
                      t5_moves={"doublet": 2849, "intracage": 2249, "intercage": 535},
                      populations={"T5": 0.6608, "T2": 0.3114, "T4": 0.0277},
                      populations_se={"T5": 0.0066, "T2": 0.0055, "T4": 0.0018},
                      pairs_both={"T2-T2_intracage": 0.00325, "T5-T5_cage": 0.07651,
                                  "T2-T4": 0.00116, "T2-T5_cage1": 0.08834, "T2-T5_cage2": 0.04549,
                                  "T2-T2_cage2": 0.01476, "T5-T5_intercage": 0.08884,
                                  "T2-T5_intercage": 0.03515, "T4-T4": 0.00192, "T4-T5": 0.01473},
                      pairs_both_se={"T2-T2_intracage": 0.00039, "T5-T5_cage": 0.00208,
                                     "T2-T4": 0.00007, "T2-T5_cage1": 0.00092,
                                     "T2-T5_cage2": 0.00091, "T2-T2_cage2": 0.00068,
                                     "T5-T5_intercage": 0.00117, "T2-T5_intercage": 0.00099,
                                     "T4-T4": 0.00045, "T4-T5": 0.00112}),
    ("Cl", 1.0): dict(li_time_s=1.33248e-08,
                      hops={"doublet": 9, "T5-T2": 11844, "T5-T4": 3152,
                            "T2-T2_intracage": 69, "T2-T2_intercage": 3808},
                      t5_moves={"doublet": 12, "intracage": 1820, "intercage": 1289},
                      populations={"T5": 0.5522, "T2": 0.3740, "T4": 0.0737},
                      populations_se={"T5": 0.0038, "T2": 0.0037, "T4": 0.0021},
                      pairs_both={"T2-T2_intracage": 0.00780, "T5-T5_cage": 0.01048,
                                  "T2-T4": 0.00289, "T2-T5_cage1": 0.11342, "T2-T5_cage2": 0.05011,
                                  "T2-T2_cage2": 0.02084, "T5-T5_intercage": 0.02958,
                                  "T2-T5_intercage": 0.01883, "T4-T4": 0.00870, "T4-T5": 0.04193},
                      pairs_both_se={"T2-T2_intracage": 0.00060, "T5-T5_cage": 0.00048,
                                     "T2-T4": 0.00009, "T2-T5_cage1": 0.00105,
                                     "T2-T5_cage2": 0.00056, "T2-T2_cage2": 0.00119,
                                     "T5-T5_intercage": 0.00094, "T2-T5_intercage": 0.00048,
                                     "T4-T4": 0.00037, "T4-T5": 0.00179}),
    ("I", 0.0): dict(li_time_s=1.33248e-08,
                     hops={"doublet": 21854, "T5-T2": 1923, "T5-T4": 0,
                           "T2-T2_intracage": 0, "T2-T2_intercage": 0},
                     t5_moves={"doublet": 21856, "intracage": 287, "intercage": 0},
                     populations={"T5": 0.9732, "T2": 0.0268, "T4": 0.0},
                     populations_se={"T5": 0.0027, "T2": 0.0027, "T4": 0.0},
                     pairs_both={"T2-T2_intracage": 0.00001, "T5-T5_cage": 0.16210,
                                 "T2-T4": 0.00000, "T2-T5_cage1": 0.00808, "T2-T5_cage2": 0.00086,
                                 "T2-T2_cage2": 0.00001, "T5-T5_intercage": 0.19183,
                                 "T2-T5_intercage": 0.00360, "T4-T4": 0.00000, "T4-T5": 0.00000},
                     pairs_both_se={"T2-T2_intracage": 0.00001, "T5-T5_cage": 0.00072,
                                    "T2-T4": 0.00000, "T2-T5_cage1": 0.00068,
                                    "T2-T5_cage2": 0.00004, "T2-T2_cage2": 0.00001,
                                    "T5-T5_intercage": 0.00176, "T2-T5_intercage": 0.00035,
                                    "T4-T4": 0.00000, "T4-T5": 0.00000}),
    ("I", 0.5): dict(li_time_s=1.33056e-08,
                     hops={"doublet": 3055, "T5-T2": 8697, "T5-T4": 435,
                           "T2-T2_intracage": 17, "T2-T2_intercage": 1341},
                     t5_moves={"doublet": 3143, "intracage": 925, "intercage": 335},
                     populations={"T5": 0.7073, "T2": 0.2868, "T4": 0.0060},
                     populations_se={"T5": 0.0047, "T2": 0.0044, "T4": 0.0005},
                     pairs_both={"T2-T2_intracage": 0.00785, "T5-T5_cage": 0.08343,
                                 "T2-T4": 0.00009, "T2-T5_cage1": 0.08477, "T2-T5_cage2": 0.03746,
                                 "T2-T2_cage2": 0.01450, "T5-T5_intercage": 0.08358,
                                 "T2-T5_intercage": 0.02172, "T4-T4": 0.00001, "T4-T5": 0.00408},
                     pairs_both_se={"T2-T2_intracage": 0.00080, "T5-T5_cage": 0.00080,
                                    "T2-T4": 0.00002, "T2-T5_cage1": 0.00096,
                                    "T2-T5_cage2": 0.00046, "T2-T2_cage2": 0.00082,
                                    "T5-T5_intercage": 0.00140, "T2-T5_intercage": 0.00065,
                                    "T4-T4": 0.00001, "T4-T5": 0.00047}),
    ("I", 1.0): dict(li_time_s=1.33056e-08,
                     hops={"doublet": 0, "T5-T2": 6101, "T5-T4": 391,
                           "T2-T2_intracage": 3, "T2-T2_intercage": 6716},
                     t5_moves={"doublet": 0, "intracage": 468, "intercage": 608},
                     populations={"T5": 0.5253, "T2": 0.4692, "T4": 0.0055},
                     populations_se={"T5": 0.0052, "T2": 0.005, "T4": 0.0003},
                     pairs_both={"T2-T2_intracage": 0.02952, "T5-T5_cage": 0.00352,
                                 "T2-T4": 0.00025, "T2-T5_cage1": 0.13134, "T2-T5_cage2": 0.04629,
                                 "T2-T2_cage2": 0.04722, "T5-T5_intercage": 0.00282,
                                 "T2-T5_intercage": 0.00494, "T4-T4": 0.00000, "T4-T5": 0.00367},
                     pairs_both_se={"T2-T2_intracage": 0.00117, "T5-T5_cage": 0.00032,
                                    "T2-T4": 0.00004, "T2-T5_cage1": 0.00133,
                                    "T2-T5_cage2": 0.00051, "T2-T2_cage2": 0.00168,
                                    "T5-T5_intercage": 0.00015, "T2-T5_intercage": 0.00019,
                                    "T4-T4": 0.00000, "T4-T5": 0.00024}),
}


def _argyrodite_network(material: Material) -> SiteNetwork:
    if material_spec(material.name).data.get("model") != "argyrodite":
        raise ConfigError(f"material {material.name!r} is not an argyrodite")
    return material.network


def argyrodite_cages(material: Material) -> np.ndarray:
    """The cage of every Li site of an argyrodite: its nearest 4d anion site.

    The Li sites surround the 4d anions (the free S2- of the ordered compound); each T5 and
    T2 site belongs to the cage of its 4d vertex. A T4 site is equidistant from the centres
    of the three cages it joins and belongs to none: -1.

    Parameters
    ----------
    material : Material
        Built by ``build_material("argyrodite", ...)``.

    Returns
    -------
    ndarray of int64, shape (n_sites,)
        Index of the cage (of its 4d site, in the model's order of the 4d sites: the ones
        ``site_exchange`` draws from) of every site, -1 for T4 sites; 4 cages per unit cell.

    Raises
    ------
    ConfigError
        If the material is not an argyrodite.
    """
    net = _argyrodite_network(material)
    spec = material_spec(material.name)
    fw = [f for f in spec.data["framework"] if f["label"] == "S_free"]
    frac, _, _ = _expand_wyckoff(spec, fw)  # the fractions do not depend on the cell
    size = np.array(material.size)
    grid = np.stack(np.meshgrid(*(np.arange(n) for n in size), indexing="ij"),
                    axis=-1).reshape(-1, 3)
    centres_A = (((grid[:, None, :] + frac[None]) / size).reshape(-1, 3)) @ net.cell
    return _argyrodite_site_cages(net, centres_A)


def argyrodite_exclusion_pairs(material: Material) -> tuple[np.ndarray, np.ndarray]:
    """The Li site pairs of an argyrodite's hard-core exclusion (one Li per pair), as the
    network lists them: the face-sharing pairs (T5-T5 doublet, T5-T2, T5-T4) and the two T2
    sites of each intercage T2-T2 hop (pair energies >= ARGYRODITE_HARD_CORE_MIN_EV; not the
    soft pairs of the cage term).

    Returns
    -------
    (ndarray, ndarray) of int64
        Site indices ``pair_i``, ``pair_j`` (the network's pair interactions).
    """
    net = _argyrodite_network(material)
    hard = np.asarray(net.pair_energies_eV) >= ARGYRODITE_HARD_CORE_MIN_EV
    return (np.asarray(net.pair_i, dtype=np.int64)[hard],
            np.asarray(net.pair_j, dtype=np.int64)[hard])


#: the former name of :func:`argyrodite_exclusion_pairs` (from before the T2-T2 pairs joined
#: the exclusion)
argyrodite_face_pairs = argyrodite_exclusion_pairs


def argyrodite_t5_move_classifier(material: Material
                                  ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Classifier of T5 -> T5 moves of an argyrodite in de Klerk's terms.

    For use with :func:`kmc.jumps.count_moves` (tracked sites: the T5 sites; labels:
    :data:`ARGYRODITE_T5_MOVES`).

    Parameters
    ----------
    material : Material
        Built by ``build_material("argyrodite", ...)``.

    Returns
    -------
    callable
        ``classify(src, dst)`` -> int64 array: for each move between two different T5 sites,
        0 (doublet: dst is the other T5 of src's doublet), 1 (intracage: another T5 of the
        same cage, :func:`argyrodite_cages`) or 2 (intercage: a T5 of another cage).
    """
    net = _argyrodite_network(material)
    cage = argyrodite_cages(material)
    partner = np.full(net.n_sites, -1, dtype=np.int64)
    sel = net.hop_types == net.hop_type_names.index("doublet")
    partner[net.hop_src[sel]] = net.hop_dst[sel]

    def classify(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
        return np.where(partner[src] == dst, 0, np.where(cage[src] == cage[dst], 1, 2))

    return classify


# ---- NASICON --------------------------------------------------------------- #
#: Largest difference (Angstrom) between a distance in a hop's 13-site environment (its Na1
#: and the 12 sites within 4 A) and the same distance in the LCE's unit.
NASICON_UNIT_TOL_A = 0.05


@lru_cache(maxsize=None)
def nasicon_lce_data(name: str = "nasicon_deng2022.json") -> dict[str, Any]:
    """The NASICON local cluster expansions shipped in ``kmc/data`` (read once).

    The file holds the 12-site unit around a Na1 (positions relative to it, Angstrom, in
    kMCpy's order), the 24 orbits as position tuples, the fits (``fits[fit][role]`` with
    ``empty_meV`` and one ``eci_meV`` per orbit, roles ``kra`` and ``site``) and the 15
    training environments with their NEB energies. See the file's ``about``.
    """
    import json

    text = resources.files("kmc.data").joinpath(name).read_text("utf-8")
    return json.loads(text)


def nasicon_lce(fit: str = "deng2022", role: str = "kra") -> Any:
    """One of the shipped NASICON LCEs as a :class:`kmc.energy.LocalClusterExpansion`.

    Parameters
    ----------
    fit : str
        "deng2022" (the authors' fits in the code released with the paper, kMCpy commit
        da89950), "kmcpy_example" (kMCpy's example keci.txt) or "kmcpy_2022" (kMCpy's 2022
        fit).
    role : str
        "kra" (E_KRA of a Na1-Na2 hop) or "site" (kMCpy's site term E_site).

    Returns
    -------
    LocalClusterExpansion
        eV, over the 12 unit positions with kMCpy's Chebyshev basis (n = 0 -> +1,
        n = 1 -> -1; n = 1 is Na on a Na site and Si on a Si/P site).
    """
    from .energy import LocalClusterExpansion

    data = nasicon_lce_data()
    fits = data["fits"]
    fit = _checks.choice(fit, "lce_fit", tuple(fits))
    role = _checks.choice(role, "role", ("kra", "site"))
    f = fits[fit][role]
    clusters = [tuple(int(i) for i in c) for orbit in data["orbits"] for c in orbit]
    coefs = [float(e) / 1000.0 for orbit, e in zip(data["orbits"], f["eci_meV"], strict=True)
             for _ in orbit]
    return LocalClusterExpansion(float(f["empty_meV"]) / 1000.0, clusters, np.array(coefs),
                                 basis=(1.0, -1.0), n_env=len(data["unit"]),
                                 name=f"Deng et al. 2022 NASICON {role} ({fit})")


def _nasicon_unit_check(cell: np.ndarray, centres_A: np.ndarray, env_A: np.ndarray,
                        unit_A: np.ndarray) -> None:
    """Every environment (the centre and its 12 sites in the LCE's order) must be congruent
    with the LCE's unit: all 78 distances within NASICON_UNIT_TOL_A, so each position of the
    expansion's clusters is the same site of the geometry the LCE was fitted on."""
    from .interop.kmcpy import _min_image

    rel = _min_image(env_A - centres_A[:, None, :], cell)            # (E, 12, 3)
    pts = np.concatenate([np.zeros((len(rel), 1, 3)), rel], axis=1)  # centre first
    ref = np.concatenate([np.zeros((1, 3)), unit_A], axis=0)
    d = np.linalg.norm(pts[:, :, None, :] - pts[:, None, :, :], axis=-1)
    d_ref = np.linalg.norm(ref[:, None, :] - ref[None, :, :], axis=-1)
    dev = np.abs(d - d_ref[None])
    if dev.max() > NASICON_UNIT_TOL_A:
        e, p, q = np.unravel_index(int(np.argmax(dev)), dev.shape)
        raise ConfigError(f"NASICON energy model: hop environment {e} is not the LCE's unit "
                          f"(distance {p}-{q} is {d[e, p, q]:.3f} A, the unit's "
                          f"{d_ref[p, q]:.3f} A); the structure is not the one the model was "
                          "fitted on")


def _model_nasicon(b: _Build, options: dict[str, Any], rng: np.random.Generator
                   ) -> tuple[SiteNetwork, int]:
    """NASICON with the LCE energetics of Deng et al. 2022 (kMCpy's NASICON model).

    Every Na1 is the centre of its 6 Na1 -> Na2 hops; the 12 sites within 4 A of it (6 Na2,
    6 Si/P) form the environment of those hops and of their reverses, ordered as kMCpy
    orders them (:func:`kmc.interop.kmcpy.nasicon_environments`) and checked against the
    LCE's unit. The Si/P sites are static (seeded random arrangement of round(x n_fu) Si).
    E_KRA is the kra LCE, dE the site LCE times the direction (+1 Na1 -> Na2), for the
    "kmcpy" rate law: E_b = E_KRA + dE / 2.
    """
    from .interop.kmcpy import KmcpyInputs, LceSpec, _min_image, nasicon_environments, to_network

    x = _option(options, "x", 2.0, 0.0, 3.0)
    em = b.spec.data["energy_model"]
    fit = _option(options, "lce_fit", str(em["fit"]), choices=tuple(nasicon_lce_data()["fits"]))
    tet = b.framework["Si/P"]
    n_fu = len(tet) // 3
    n_ions = int(round((1.0 + x) * n_fu))
    n_sites = len(b.positions)
    if n_ions >= n_sites:
        raise ConfigError(f"x = {x:g} fills all {n_sites} Na sites: no vacancy, no "
                          "transport; use x < 3")
    n_si = int(round(x * n_fu))
    is_si = np.zeros(len(tet), dtype=bool)
    is_si[rng.choice(len(tet), size=n_si, replace=False)] = True
    labels = np.array(b.labels)[b.kinds]
    centres = np.flatnonzero(labels == "Na1")
    hops, env, est = nasicon_environments(b.cell, b.positions, tet, centres,
                                          cutoff_A=float(em["environment_cutoff_A"]))
    data = nasicon_lce_data()
    unit = np.array([u["xyz_A"] for u in data["unit"]], dtype=float)
    if env.shape[1] != len(unit):
        raise ConfigError(f"NASICON energy model: {env.shape[1]} sites within "
                          f"{em['environment_cutoff_A']} A of a Na1, the LCE's unit has "
                          f"{len(unit)}")
    env_A = np.where((env >= 0)[..., None], b.positions[np.maximum(env, 0)],
                     tet[np.maximum(est, 0)])
    first = np.unique(hops[:, 0], return_index=True)[1]  # a centre's hops share its environment
    _nasicon_unit_check(b.cell, b.positions[hops[first, 0]], env_A[first], unit)

    def spec(role: str) -> LceSpec:
        m = nasicon_lce(fit, role)
        return LceSpec(name=role, e0_eV=m.e0_eV, clusters=m.clusters,
                       coefficients_eV=m.coefficients_eV, phi_empty=1.0, phi_occupied=-1.0)

    static_n = np.where(est >= 0, is_si[np.maximum(est, 0)], 0).astype(np.int8)
    inputs = KmcpyInputs(
        lattice_A=b.cell, positions_A=b.positions, site_labels=labels,
        kmcpy_index=np.arange(n_sites), hops=hops,
        hop_vectors_A=canonical_vectors(_min_image(b.positions[hops[:, 1]] - b.positions[hops[:, 0]],
                                                   b.cell)),
        env_sites=env, env_static_n=static_n, kra=spec("kra"), site=spec("site"),
        occupied=np.zeros(n_sites, dtype=bool))
    net = to_network(inputs, name="nasicon", charge_e=float(b.spec.data["charge_e"]))
    net = net.replace(hop_type_names=("Na1->Na2", "Na2->Na1"))
    b.info.update(x=x, lce_fit=fit, si_sites=n_si, tetrahedral_sites=len(tet),
                  formula_units=n_fu)
    options.setdefault("lce_fit", fit)
    return net, n_ions


# ---- beta-alumina ---------------------------------------------------------- #
def _model_beta_alumina(b: _Build, options: dict[str, Any], rng: np.random.Generator
                        ) -> tuple[SiteNetwork, int]:
    """Na beta-alumina with Roth-type compensation of the excess Na.

    Each conduction plane of each cell holds 1 + x Na and x/2 interstitial oxygen ions (the
    formula Na(1+x)Al11O(17+x/2) with one conduction plane per formula unit): every O_i
    compensates two excess Na. The O_i sit on mid-oxygen (mO) positions of the plane, chosen
    at random (seeded) per plane, no two closer than ``oi_min_separation_A``; an mO site that
    holds an O_i leaves the Na network with every hop and interstitialcy event through it
    (an O2- on the site, not an Na+: the Na-Na pair energies of the site are dropped, not
    turned into offsets of its neighbours).
    """
    x = _option(options, "excess", 0.2, 0.0, 0.5)
    net = b.network("beta-alumina")
    net = net.with_events(*_event_sets(b.spec, net), keep_hops=True)
    planes = int(b.spec.data["composition"]["planes_per_cell"])
    n_cells = int(np.prod(b.size))
    oi_sites = _beta_alumina_oxygen_interstitials(b, net, x, rng)
    n_oi = int(oi_sites.size)
    if n_oi:
        pair_touch = np.isin(net.pair_i, oi_sites) | np.isin(net.pair_j, oi_sites)
        J = np.where(pair_touch, 0.0, net.pair_energies_eV)
        positions = net.positions[oi_sites]
        net = net.replace(pair_energies_eV=J).block_sites(oi_sites, name="beta-alumina")
    else:
        positions = np.zeros((0, 3))
    n_excess = 2 * n_oi  # charge balance: one O2- per two excess Na+
    n_ions = planes * n_cells + n_excess
    # the planes exchange no Na: start every plane charge-balanced (one Na on each BR site,
    # two per O_i of the plane on random aBR sites of that plane), or a random start would
    # leave planes with too many or too few excess Na for the whole run
    types = np.asarray(net.site_type_names)[net.site_types]
    plane_of = _beta_alumina_plane(b, net.cell, net.positions)
    oi_plane = _beta_alumina_plane(b, net.cell, positions)
    sites = list(np.flatnonzero(types == "BR"))
    for p in np.unique(plane_of):
        abr = np.flatnonzero((types == "aBR") & (plane_of == p))
        k = 2 * int(np.sum(oi_plane == p))
        sites += list(rng.choice(abr, size=k, replace=False))
    if len(sites) != n_ions:  # pragma: no cover - the counts above are the model's
        raise ConfigError(f"beta-alumina: {len(sites)} balanced ion sites for {n_ions} ions")
    b.info.update(excess=x, excess_ions=n_excess, oxygen_interstitials=n_oi,
                  oxygen_interstitial_positions_A=np.round(positions, 6).tolist(),
                  ion_sites=sorted(int(v) for v in sites))
    return net, n_ions


def _beta_alumina_plane(b: _Build, cell: np.ndarray, points_A: np.ndarray) -> np.ndarray:
    """Index of the conduction plane (z = 1/4, 3/4 of each cell: 4 z-quarters per cell) of
    each point (Cartesian, Angstrom) of the supercell `cell`."""
    frac_z = (np.asarray(points_A).reshape(-1, 3) @ np.linalg.inv(cell))[:, 2]
    return np.round(frac_z * 4.0 * b.size[2]).astype(np.int64)


def _beta_alumina_oxygen_interstitials(b: _Build, net: SiteNetwork, x: float,
                                       rng: np.random.Generator) -> np.ndarray:
    """Indices of the mO sites that hold an interstitial oxygen (seeded, per plane).

    Each plane gets round(x * cells_per_plane / 2) O_i; candidates are drawn in a seeded
    random order and one is kept if it is farther than ``oi_min_separation_A`` (minimum
    image) from every O_i already kept.
    """
    per_na = _param(b.spec, "oi_per_excess_na")
    min_sep = _param(b.spec, "oi_min_separation_A")
    types = np.asarray(net.site_type_names)[net.site_types]
    mo = np.flatnonzero(types == "mO")
    plane_of = _beta_alumina_plane(b, net.cell, net.positions[mo])
    cells_per_plane = b.size[0] * b.size[1]
    want = int(round(per_na * x * cells_per_plane))
    chosen: list[int] = []
    for plane in np.unique(plane_of):
        cand = mo[plane_of == plane]
        kept: list[int] = []
        for s in cand[rng.permutation(cand.size)]:
            if len(kept) == want:
                break
            if kept and b.near(net.positions[[s]], net.positions[kept], min_sep).any():
                continue
            kept.append(int(s))
        if len(kept) < want:
            raise ConfigError(f"excess = {x:g}: only {len(kept)} of {want} interstitial oxygen "
                              f"ions fit into a conduction plane of the {b.size} supercell "
                              f"more than {min_sep:g} A apart; use a larger supercell")
        chosen += kept
    return np.array(sorted(chosen), dtype=np.int64)


def _event_sets(spec: MaterialSpec, net: SiteNetwork) -> list[Any]:
    """The multi-ion events of a material file's ``[[events]]`` tables."""
    sets = []
    for ev in spec.data.get("events", []):
        if ev["kind"] == "interstitialcy":
            sets.append(interstitialcy_events(net, ev["interstitial"], ev["lattice"],
                                              float(ev["barrier_eV"]), name=ev["name"]))
        elif ev["kind"] == "split_interstitialcy":
            sets.append(split_interstitialcy_events(net, ev["interstitial"], ev["lattice"],
                                                    ev["split"], float(ev["barrier_eV"]),
                                                    name=ev["name"]))
        else:
            raise ConfigError(f"material file {spec.name}.toml: event {ev['name']!r} has "
                              f"unknown kind {ev['kind']!r} (known: interstitialcy, "
                              "split_interstitialcy)")
    return sets


_MODELS: dict[str, Callable[..., tuple[SiteNetwork, int]]] = {
    "lgps": _model_lgps,
    "argyrodite": _model_argyrodite,
    "nasicon": _model_nasicon,
    "beta_alumina": _model_beta_alumina,
}

#: Material options each model accepts.
MODEL_OPTIONS: dict[str, tuple[str, ...]] = {
    "lgps": (),
    "argyrodite": ("halogen", "site_exchange"),
    "nasicon": ("x", "lce_fit"),
    "beta_alumina": ("excess",),
}


#: the material models whose network is a periodic lattice without quenched disorder, which
#: build_material(..., compact=True) keeps as a PeriodicNetwork
COMPACT_MODELS = ("lgps",)


def has_compact_network(name: str) -> bool:
    """Whether :func:`build_material` can keep material `name`'s network compact."""
    return _load_spec(_resolve(name)).data["model"] in COMPACT_MODELS


def build_material(name: str, *, size: Any = None, disorder_seed: int = 0,
                   compact: bool = False, **options: Any) -> Material:
    """Build a material's site network.

    Parameters
    ----------
    name : str
        A shipped material (:func:`list_materials`): "lgps", "argyrodite", "nasicon",
        "beta_alumina" ("beta-alumina" works too).
    size : int or 3 ints, optional
        Unit cells along the cell vectors (default: the file's ``default_size``).
    disorder_seed : int, optional
        Seed of the quenched disorder (Si/P arrangement, anion exchange); default 0.
    compact : bool, optional
        Keep the network as a :class:`kmc.lattice.PeriodicNetwork` (its unit cell's hops
        and pairs once, not per cell: the same network and, in a simulation, bit-identical
        trajectories, in far less memory). Only for materials without quenched disorder
        (:data:`COMPACT_MODELS`: LGPS).
    **options
        Composition and disorder options of the material (``x`` for NASICON; ``halogen``,
        ``site_exchange`` for argyrodites; ``excess`` for beta-alumina). None = default.

    Returns
    -------
    Material

    Raises
    ------
    ConfigError
        Unknown material (with a "did you mean"), an option the material does not take, a
        value out of range, or `compact` for a material with quenched disorder.
    """
    key = _resolve(name)
    spec = _load_spec(key)
    model = spec.data["model"]
    allowed = MODEL_OPTIONS[model]
    given = {k: v for k, v in options.items() if v is not None}
    for k in given:
        if k not in allowed:
            takes = ", ".join(allowed) if allowed else "no options"
            raise ConfigError(f"material {key!r} does not take {k!r} (it takes: {takes})")
    disorder_seed = _checks.integer(disorder_seed, "disorder_seed", lo=0)
    size3 = _size3(size, spec.data["structure"].get("default_size", 2))
    rng = np.random.default_rng(int(disorder_seed))
    cell = None
    if model == "argyrodite":  # the halogen sets the lattice constant
        hal = _option(dict(given), "halogen", "Cl", choices=tuple(spec.data["halogens"]))
        cell = _argyrodite_cellpar(spec, hal)
    b = _Build(spec, size3, {}, cell_override=cell)
    if compact:
        if model not in COMPACT_MODELS:
            raise ConfigError(f"material {key!r} cannot be compact (its network carries "
                              "quenched disorder or per-site structure); compact networks: "
                              f"{', '.join(COMPACT_MODELS)}")
        b.compact = True
    opts = dict(given)
    net, n_ions = _MODELS[model](b, opts, rng)
    used = {k: given.get(k) for k in allowed}
    used.update({k: v for k, v in b.info.items() if k in allowed})
    return Material(key, net, n_ions, used, size3, dict(b.info),
                    attempt_frequency_Hz=spec.attempt_frequency_Hz, rate_law=spec.rate_law)


# --------------------------------------------------------------------------- #
# CIF import
# --------------------------------------------------------------------------- #
# --------------------------------------------------------------------------- #
# description
# --------------------------------------------------------------------------- #
def describe_material(name: str) -> str:
    """A readable account of a material file: cell, sites, hop types, barriers, sources.

    The hop lengths are those of the built network (default options), so what is printed is
    what is simulated.
    """
    spec = material_spec(name)
    d = spec.data
    m = build_material(spec.name)
    net = m.network
    lines = [f"{spec.name}: {spec.formula}, {spec.spacegroup}, Z = {d['structure']['Z']}",
             "  " + " ".join(str(d.get("description", "")).split()),
             f"  cell (a, b, c / A; alpha, beta, gamma / deg): "
             f"{', '.join(f'{v:g}' for v in d['cell']['cellpar'])}   [{d['cell']['source']}]",
             f"  mobile ion {d['mobile_ion']} (charge {d['charge_e']:+g} e); default supercell "
             f"{m.size}: {net.n_sites} sites, {m.n_ions} ions, d = {net.dimensionality}",
             "  options: " + (", ".join(f"{k} = {v}" for k, v in m.options.items())
                              if m.options else "none"),
             "  sites:"]
    # per cell on average (a model may remove sites: beta-alumina's interstitial oxygen)
    counts = [f"{c:.4g}" for c in
              np.bincount(net.site_types, minlength=len(net.site_type_names)) / m.n_cells]
    for s, c in zip(d["sites"], counts):
        occ = f", occupancy {s['occupancy']:g}" if "occupancy" in s else ""
        e = s.get("energy_eV")
        en = f", E = {e:+.3f} eV" if e is not None else ""
        lines.append(f"    {s['label']:<6s} {s.get('wyckoff', ''):<4s} "
                     f"({', '.join(f'{v:.5g}' for v in s['frac'])}) {c} per cell{occ}{en}"
                     f"   [{s['source']}]")
    for fw in d.get("framework", []):
        lines.append(f"    {fw['label']:<6s} {fw.get('wyckoff', ''):<4s} "
                     f"({', '.join(f'{v:.5g}' for v in fw['frac'])}) framework "
                     f"{'/'.join(fw.get('species', []))}   [{fw['source']}]")
    lines.append("  hop types (length in the built network; KRA barrier):")
    lengths = net.hop_lengths_A
    for k, h in enumerate(d["hops"]):
        sel = net.hop_types == k
        got = f"{lengths[sel].min():.3f}-{lengths[sel].max():.3f} A" if sel.any() else "none"
        if "barrier_eV" in h:
            kra = f"E_KRA = {h['barrier_eV']:.3f} eV"
            per = int(sel.sum()) // m.n_cells
        elif h.get("barrier_model") == "halogen_tables":
            kra = "E_KRA per end classes (halogens, below)"
            per = int(sel.sum()) // m.n_cells
        else:  # both directions of each hop are hop types of the energy model's network
            kra = "E_KRA from the energy model"
            per = int(net.n_hops) // m.n_cells
        lines.append(f"    {h['name']:<12s} {'-'.join(h['sites']):<10s} {got:<16s} "
                     f"{kra}, {per} per cell   [{h['source']}]")
    for e in d.get("events", []):
        i_, l_ = "/".join(e["interstitial"]), "/".join(e["lattice"])
        moves = (f"{i_} -> {'/'.join(e['split'])} and {l_} -> {'/'.join(e['split'])}"
                 if e["kind"] == "split_interstitialcy" else f"{i_} -> {l_} and {l_} -> {i_}")
        n_ev = int(np.sum(net.event_types == net.event_type_names.index(e["name"])))
        lines.append(f"    {e['name']:<12s} {e['kind']}: {moves} at once, "
                     f"{n_ev // m.n_cells} per cell, E_KRA = {e['barrier_eV']:.3f} eV   "
                     f"[{e['source']}]")
    if d.get("interactions"):
        lines.append("  interactions:")
        for p in d["interactions"]:
            lines.append(f"    {p['name']:<12s} {'-'.join(p['sites']):<10s} "
                         f"{p['window_A'][0]:g}-{p['window_A'][1]:g} A  J = "
                         f"{p['energy_eV']:+.3f} eV   [{p['source']}]")
    lp = d.get("li_pairs")
    if lp:
        lines.append(f"  pair kinds (soft pair energies per halogen, below; windows at a = "
                     f"{lp['window_a_A']:g} A, scaled with a)   [{lp['source']}]:")
        for k in lp["kinds"]:
            lines.append(f"    {k['name']:<16s} {'-'.join(k['sites']):<6s} "
                         f"{k['window_A'][0]:g}-{k['window_A'][1]:g} A")
    em = d.get("energy_model")
    if em:
        data = nasicon_lce_data(em["data"])
        lines.append(f"  energy model: {em['kind']} ({em['data']}), fit {em['fit']} (option "
                     f"lce_fit: {', '.join(data['fits'])}); environment {len(data['unit'])} "
                     f"sites within {em['environment_cutoff_A']:g} A, {len(data['orbits'])} "
                     f"orbits   [{em['source']}]")
        for fit, f in data["fits"].items():
            lines.append(f"    {fit}: E_KRA = {f['kra']['empty_meV']:.2f} meV + ECIs "
                         f"(RMSE {f['kra']['rmse_meV']:.1f}, LOOCV {f['kra']['loocv_meV']:.0f} "
                         f"meV); E_site = {f['site']['empty_meV']:.2f} meV + ECIs (RMSE "
                         f"{f['site']['rmse_meV']:.1f}, LOOCV {f['site']['loocv_meV']:.0f} meV)")
        t = data["training"]["E_kra_meV"]
        lines.append(f"    fitted to {len(t)} NEB E_KRA values, {min(t):.0f}-{max(t):.0f} meV")
    af = d.get("attempt_frequency")
    lines.append("  attempt frequency: " + (
        f"{af['value_Hz']:g} Hz ({af.get('where', '')})   [{af['source']}]" if af else
        f"{spec.attempt_frequency_Hz:g} Hz (kmc's default; the file gives none)")
        + f"; rate law {spec.rate_law}")
    if d.get("parameters"):
        lines.append("  model parameters:")
        for k, p in d["parameters"].items():
            lines.append(f"    {k:<32s} {p['value']:g}   [{p['source']}]")
    if d.get("halogens"):
        lines.append("  halogens:")
        for x, h in d["halogens"].items():
            vals = ", ".join(f"{k} = {v:g}" for k, v in h.items() if isinstance(v, float))
            lines.append(f"    {x}: {vals}   [{h['source']}]")
            src = str(h.get("params_from", x))
            if src != x:
                lines.append(f"       tables: those of {src}")
                continue
            e = [float(v) for v in h.get("site_energy_eV", {}).values()]
            k = [_kra_value(v) for v in h.get("kra_eV", {}).values()]
            if e and k:
                lines.append(f"       {len(e)} site energies {min(e):+.3f}..{max(e):+.3f} eV, "
                             f"{len(k)} KRA barriers {min(k):.3f}..{max(k):.3f} eV")
            if h.get("pair_energy_eV"):
                lines.append("       pair energies: " + ", ".join(
                    f"{n} {v:+.3f}" for n, v in h["pair_energy_eV"].items()) + " eV")
    if d.get("validation"):
        lines.append("  computed references (kmc validate):")
        for v in d["validation"]:
            opts = ", ".join(f"{k} = {w}" for k, w in v.get("options", {}).items())
            flag = spec.references.get(str(v["source"]).split(",")[0].strip(), {}).get("flag")
            lines.append(f"    {v['quantity']} = {v['value']:.3g} at {v['T_K']:g} K"
                         + (f" ({opts})" if opts else "") + f": {v.get('method', '')}, "
                         f"{v.get('where', '')}   [{v['source']}]"
                         + (f" ({flag})" if flag else ""))
    lines.append("  references:")
    for k, r in spec.references.items():
        flag = f" ({r['flag']})" if r.get("flag") else ""
        lines.append(f"    [{k}]{flag} {r['citation']}"
                     + (f", doi:{r['doi']}" if r.get("doi") else ""))
    lines.append("  flags: V = seen in a stored copy of the source, F = read off a figure of the "
                 "source, S = from a review, U = recalled, to verify; estimate = kmc's own "
                 "physical estimate")
    return "\n".join(lines)


#: kmc.materials.from_cif moved to kmc.structures (also kmc.from_cif); importable, with a warning
__getattr__ = moved_names("kmc.materials", {"from_cif": "kmc.structures"})
