"""Read kMCpy's input files into plain numpy data, in kMCpy's own site order.

kMCpy (https://github.com/caneparesearch/kMCpy, MIT licence) describes a simulation with a
structure file (CIF), a composite local-cluster-expansion model (``model.json``), an event
library (``events.json``) and an initial state (``initial_state.json``). :func:`read_kmcpy`
reads the four files without kMCpy (pymatgen only: ``pip install 'kmc-ion[kmcpy]'``) and
returns :class:`KmcpyInputs`: the mobile-ion sites, the hops, the local environments and the
two LCE models as arrays. Turning them into a network and energy models is the engine side's
job, not this module's.

The references below are to kMCpy at commit 7761fdd2c0506763816d5b0b42226b224f60dc70.

How kMCpy orders its sites
--------------------------
Every index in ``events.json`` and ``initial_state.json`` is an *active-site* index, so the
order has to be rebuilt exactly:

1. The CIF is read by kMCpy's own parser (``kmcpy/io/cif.py``, ``_LabeledCifParser``), not
   pymatgen's: the ``_atom_site`` rows are taken in file order (a row at the position of an
   earlier row is merged into it, cif.py:129-142), and the images of each row are generated
   by applying the file's symmetry operations *in the order listed*, keeping an image unless
   it coincides (``in_coord_list_pbc``, tolerance 1e-4) with an earlier image of the same
   row (``_unique_coords``, cif.py:201-218, 398-406; coordinates wrapped with
   ``x - floor(x)``). So the order of the symmetry operations in the CIF is part of the
   site order: a CIF with a space-group symbol only gets pymatgen's list of operations and
   another order.
2. The structure is sorted by electronegativity with pymatgen's stable
   ``get_sorted_structure()`` (cif.py:292) and, when ``convert_to_primitive_cell`` is true
   (the NASICON example), reduced with ``get_primitive_structure()`` and
   ``get_reduced_structure()`` (cif.py:296-298). These are the "primitive sites".
3. A primitive site is *active* when the site mapping allows more than one species on it
   (``ActiveSiteOrder.from_structure_and_mapping``, kmcpy/structure/active_site_order.py:
   71-75); the NASICON mapping ``{"Na": ["Na", "X"], "Si": ["Si", "P"], "Zr": "Zr",
   "O": "O"}`` makes the Na and the Si sites active. ``events.json`` carries the mapping
   per primitive site in ``index_metadata.allowed_species_by_primitive_site``, which is
   what this reader uses (the mapping itself lives in kMCpy's ``kmc_input.json``).
4. The supercell is built site-major, image-minor (``make_kmc_supercell``,
   kmcpy/structure/sites.py:116-148): for each primitive site, the lattice points of
   ``lattice_points_in_supercell(diag(supercell))`` in pymatgen's order, each position
   wrapped into the supercell.
5. The active order is the supercell order restricted to active sites
   (active_site_order.py:94-100): active index ``k`` is ``active_to_original[k]``.
   ``index_metadata`` in ``events.json`` stores this order and its sha256 ``fingerprint``
   (active_site_order.py:401-403); the reader recomputes both and refuses a file that
   disagrees. The fingerprint covers indices and species, not positions: a CIF with the
   right atoms but another order of symmetry operations passes it with the Na2 sites
   permuted, which is why the tests also compare positions with kMCpy's.

The network sites of :class:`KmcpyInputs` are the active sites that allow the mobile
species (Na), numbered 0..n_sites-1 in active order (``kmcpy_index`` keeps the active
index). Active sites that are not mobile-ion sites (Si/P) are static: no event changes
them, so they enter only the local environments, with their initial state.

Occupations, the basis and kmc's n
----------------------------------
kMCpy stores on each active site the index of its species in the site's allowed list
(state 0 = first species: Na, or Si; state 1 = X (vacancy), or P; kmcpy/simulator/state.py,
kmcpy/structure/basis.py ``ChebyshevBasis``). A composite LCE model evaluates, for one
event (kmcpy/models/local_cluster_expansion.py:659-664, 850-873)::

    E = empty_cluster + sum_f keci[f] * sum_{cluster c in feature f}
                                         prod_{p in c} site_basis_values[p, s_p, 0]

where ``s_p`` is the state of ``local_env_indices[p]`` and ``site_basis_values[p]`` is
``[[-1], [+1]]`` for a binary site (Chebyshev, state 0 -> -1, state 1 -> +1), in meV.
kmc's convention is n = 1 when the mobile ion is present; :class:`LceSpec` gives the basis
value as ``phi(n)``: ``phi_occupied`` is the value of the mobile-ion state (Na, state 0:
-1), ``phi_empty`` that of the vacancy (X, state 1: +1). A static site gets the n whose
``phi`` is its basis value: Si (state 0, -1) -> n = 1, P (state 1, +1) -> n = 0. A model
whose local sites do not share one (phi_empty, phi_occupied) pair, or with more than two
states on a site, is refused.

What an event means in kMCpy
----------------------------
- ``mobile_ion_indices = (i, j)`` is the hop i -> j when i holds the mobile ion and j is
  vacant (direction +1), j -> i in the opposite case (-1), and no hop otherwise
  (kmcpy/event/hop.py:57-90). One event stands for both directions; ``hops`` here is
  kMCpy's forward direction (i, j).
- ``E_kra`` is the kra LCE evaluated on the *current* occupations of
  ``local_env_indices`` (composite_lce_model.py:218). In the NASICON events the local
  environment contains the endpoint j (but not i), so E_kra for i -> j (j empty) and for
  j -> i (j occupied) differ in general.
- The site LCE gives the site-energy difference of the forward direction; kMCpy uses
  ``direction * value`` (composite_lce_model.py:136-145), also evaluated on the current
  occupations, and the barrier ``E_kra + direction * value / 2`` (line 227).
- Everything in kMCpy's model file is in meV; :class:`LceSpec` holds eV (divided by 1000).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import show
from ..errors import ConfigError

__all__ = ["KmcpyInputs", "LceSpec", "read_kmcpy", "evaluate_lce", "local_model", "to_network",
           "kmcpy_material", "nasicon_environments", "nasicon_inputs"]

KMCPY_MODEL_FILETYPE = "kmcpy.model_file"
KMCPY_MODEL_TYPE = "composite_lce"
KMCPY_ORDER_FORMAT = "kmcpy.active_site_order.v1"
KMCPY_VACANCY_LABELS = frozenset({"X", "Vacancy", "vacancy", "Va", "VA"})
#: kMCpy's CIF parser's tolerance for coinciding images (pymatgen CifParser's default)
CIF_SITE_TOLERANCE = 1e-4
MEV_PER_EV = 1000.0
_BASIS_TOL = 1e-12


# --------------------------------------------------------------------------------------------
# the records
# --------------------------------------------------------------------------------------------
def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr)  # own copy
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class LceSpec:
    """One local cluster expansion of a kMCpy composite model, in eV and kmc's n.

    Attributes
    ----------
    name : str
        ``"kra"`` or ``"site"`` (the role in kMCpy's composite model).
    e0_eV : float
        The empty-cluster term, ``empty_cluster / 1000``.
    clusters : tuple of tuple of int
        Every cluster of every orbit (feature), expanded; each a tuple of positions in the
        event's local environment (indices into ``KmcpyInputs.env_sites`` columns).
    coefficients_eV : numpy.ndarray
        One coefficient per cluster: the ``keci`` of its orbit / 1000.
    phi_empty, phi_occupied : float
        The basis value of a local site with n = 0 and n = 1.
    """

    name: str
    e0_eV: float
    clusters: tuple[tuple[int, ...], ...]
    coefficients_eV: np.ndarray
    phi_empty: float
    phi_occupied: float


@dataclass(frozen=True)
class KmcpyInputs:
    """kMCpy's inputs as plain arrays (see the module docstring for the conventions).

    Attributes
    ----------
    lattice_A : numpy.ndarray, (3, 3)
        Supercell lattice vectors (rows), Angstrom.
    positions_A : numpy.ndarray, (n_sites, 3)
        Cartesian positions of the mobile-ion sites (the network sites), Angstrom, in
        kMCpy's active order.
    site_labels : numpy.ndarray of str, (n_sites,)
        CIF labels of the network sites (e.g. ``Na1``, ``Na2``).
    kmcpy_index : numpy.ndarray of int, (n_sites,)
        Each network site's index in kMCpy's active-site order.
    hops : numpy.ndarray of int, (n_events, 2)
        Network sites of ``mobile_ion_indices[0]`` and ``[1]`` of each event (kMCpy's
        forward direction: the ion on the first moves to the empty second).
    hop_vectors_A : numpy.ndarray, (n_events, 3)
        Displacement from ``hops[:, 0]`` to ``hops[:, 1]`` (minimum image), Angstrom.
    env_sites : numpy.ndarray of int, (n_events, n_env)
        For each ``local_env_indices`` entry its network site, or -1 for a static site.
    env_static_n : numpy.ndarray of int8, (n_events, n_env)
        For static sites their fixed n (0 or 1, see the module docstring); 0 where
        ``env_sites >= 0``.
    kra, site : LceSpec, LceSpec or None
        The composite model's kra and site LCEs.
    occupied : numpy.ndarray of bool, (n_sites,)
        Initial occupation of the network sites.
    source : dict
        Paths, sha256 of each file, the model's ``filetype``/``model_type``, the event
        file's ``index_metadata`` format and fingerprint, supercell and options.
    static_positions_A : numpy.ndarray, (n_static, 3)
        Cartesian positions of the active sites that are not mobile-ion sites (Si/P), in
        kMCpy's active order, Angstrom.
    env_static_index : numpy.ndarray of int, (n_events, n_env)
        For static environment entries their row of ``static_positions_A``; -1 elsewhere.
    """

    lattice_A: np.ndarray
    positions_A: np.ndarray
    site_labels: np.ndarray
    kmcpy_index: np.ndarray
    hops: np.ndarray
    hop_vectors_A: np.ndarray
    env_sites: np.ndarray
    env_static_n: np.ndarray
    kra: LceSpec
    site: LceSpec | None
    occupied: np.ndarray
    source: dict = field(default_factory=dict)
    static_positions_A: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    env_static_index: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))

    @property
    def n_sites(self) -> int:
        """Number of network (mobile-ion) sites."""
        return int(self.positions_A.shape[0])

    @property
    def n_events(self) -> int:
        """Number of kMCpy events (each stands for both directions of one hop)."""
        return int(self.hops.shape[0])

    def env_n(self, occupied: np.ndarray | None = None) -> np.ndarray:
        """The n of every local-environment entry, (n_events, n_env) int8.

        Parameters
        ----------
        occupied : numpy.ndarray of bool, (n_sites,), optional
            Occupation of the network sites; the initial one (``self.occupied``) if omitted.
        """
        occ = self.occupied if occupied is None else np.asarray(occupied, dtype=bool)
        mobile = self.env_sites >= 0
        n = self.env_static_n.copy()
        n[mobile] = occ[self.env_sites[mobile]]
        return n


def evaluate_lce(spec: LceSpec, n_env: Any) -> float | np.ndarray:
    """Value of an LCE in eV: ``e0 + sum_k coef_k prod_{p in cluster_k} phi(n_env[p])``.

    Parameters
    ----------
    spec : LceSpec
        The expansion.
    n_env : array_like of 0/1, (n_env,) or (..., n_env)
        kmc's n of the local-environment entries (``KmcpyInputs.env_n()``).

    Returns
    -------
    float or numpy.ndarray
        One value per row of `n_env`.
    """
    n = np.asarray(n_env)
    phi = np.where(n != 0, spec.phi_occupied, spec.phi_empty)
    total = np.full(n.shape[:-1], spec.e0_eV, dtype=float)
    for coef, cluster in zip(spec.coefficients_eV, spec.clusters, strict=True):
        total = total + coef * np.prod(phi[..., list(cluster)], axis=-1)
    return float(total) if total.ndim == 0 else total


# --------------------------------------------------------------------------------------------
# messages
# --------------------------------------------------------------------------------------------
def _bad(path: Any, key: str, value: Any, why: str) -> ConfigError:
    text = show(value)
    if len(text) > 200:
        text = text[:200] + "...)"
    return ConfigError(f"{path}: {key} = {text}: {why}")


def _get(data: Any, path: Any, key: str, dotted: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        have = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"{path}: key {dotted!r} is missing (present: {show(have)})")
    return data[key]


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a JSON file ({exc})") from None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _int_list(value: Any, path: Any, key: str) -> list[int]:
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _bad(path, key, value, "expected a list of integers")
    return [int(v) for v in value]


# --------------------------------------------------------------------------------------------
# the structure, as kMCpy reads it
# --------------------------------------------------------------------------------------------
def _import_pymatgen():
    try:
        import pymatgen.core  # noqa: F401
        import pymatgen.io.cif  # noqa: F401
    except ImportError as exc:
        raise ImportError("kmc.interop.kmcpy needs pymatgen to read kMCpy's structure file: "
                          "pip install 'kmc-ion[kmcpy]'") from exc


def _cif_float(text: str) -> float:
    # kMCpy's str2float (kmcpy/io/cif.py): drop a standard uncertainty "(n)"
    return float(re.sub(r"\(.+\)*", "", text))


def _kmcpy_structure(path: Path, primitive: bool):
    """The template structure of kmcpy.io.cif.load_labeled_structure_from_cif(path,
    primitive), with the CIF label of each site in the site property ``label``."""
    import warnings

    from pymatgen.core import Structure
    from pymatgen.io.cif import CifParser
    from pymatgen.util.coord import find_in_coord_list_pbc, in_coord_list_pbc

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parser = CifParser(str(path), site_tolerance=CIF_SITE_TOLERANCE)
            blocks = list(parser._cif.data.values())  # what kMCpy's parser iterates
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except Exception as exc:  # pymatgen's CIF errors have no common class
        raise ConfigError(f"{path}: not a CIF file pymatgen can read ({exc})") from None
    if not blocks:
        raise ConfigError(f"{path}: no data block")
    data = blocks[0]  # kMCpy uses the first structure of the file
    for key in ("_atom_site_label", "_atom_site_fract_x", "_atom_site_fract_y",
                "_atom_site_fract_z"):
        if key not in data.data:
            raise ConfigError(f"{path}: key {key!r} is missing")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lattice = parser.get_lattice(data)
        symops = parser.get_symops(data)

    rows: list[tuple[tuple[float, float, float], Any, str]] = []
    for i, label in enumerate(data["_atom_site_label"]):
        symbol_text = (data["_atom_site_type_symbol"][i]
                       if "_atom_site_type_symbol" in data.data else label)
        symbol = parser._parse_symbol(symbol_text)  # the parser kMCpy uses
        if not symbol:
            continue  # kMCpy skips rows without an element
        try:
            xyz = tuple(_cif_float(data[f"_atom_site_fract_{c}"][i]) for c in "xyz")
        except ValueError:
            raise _bad(path, f"_atom_site_fract_xyz[{label}]",
                       [data[f"_atom_site_fract_{c}"][i] for c in "xyz"],
                       "not numbers") from None
        try:
            occu = _cif_float(data["_atom_site_occupancy"][i])
        except (KeyError, ValueError):
            occu = 1.0
        if occu <= 0:
            continue  # kMCpy skips empty rows
        if abs(occu - 1.0) > 1e-6:
            raise _bad(path, f"_atom_site_occupancy[{label}]", occu,
                       "a kMCpy template structure must be ordered (occupancy 1)")
        if rows:
            known = np.array([r[0] for r in rows])
            for op in symops:
                if len(find_in_coord_list_pbc(known, op.operate(xyz),
                                              atol=CIF_SITE_TOLERANCE)):
                    raise _bad(path, f"_atom_site_label[{i}]", label,
                               "shares its position with another row (a disordered "
                               "site); a kMCpy template structure must be ordered")
        rows.append((xyz, symbol, label))

    species, coords, labels = [], [], []
    for xyz, symbol, label in rows:  # kmcpy/io/cif.py:201-252
        images: list[np.ndarray] = []
        for op in symops:
            c = np.asarray(op.operate(xyz), dtype=float)
            c = c - np.floor(c)
            if not in_coord_list_pbc(images, c, atol=CIF_SITE_TOLERANCE):
                images.append(c)
        species += [symbol] * len(images)
        coords += images
        labels += [label] * len(images)
    if not coords:
        raise ConfigError(f"{path}: no atoms")
    struct = Structure(lattice, species, coords, site_properties={"label": labels})
    struct = struct.get_sorted_structure()
    if primitive:
        struct = struct.get_primitive_structure()
        struct = struct.get_reduced_structure()
    return struct


def _kmcpy_supercell(struct, shape: tuple[int, int, int]):
    """Sites of kmcpy.structure.sites.make_kmc_supercell(struct, shape): (lattice,
    primitive index of each supercell site, fractional coordinates in the supercell)."""
    from pymatgen.core.lattice import Lattice
    from pymatgen.core.sites import PeriodicSite
    from pymatgen.util.coord import lattice_points_in_supercell

    scale = np.diag(shape).astype(int)
    new_lattice = Lattice(scale @ struct.lattice.matrix)
    translations = lattice_points_in_supercell(scale)
    prim, frac = [], []
    for index, site in enumerate(struct):
        for t in translations:
            s = PeriodicSite(site.species, site.coords + new_lattice.get_cartesian_coords(t),
                             new_lattice, coords_are_cartesian=True, to_unit_cell=True,
                             skip_checks=True)
            s = s.to_unit_cell()  # kMCpy wraps a second time (sites.py:146-148)
            prim.append(index)
            frac.append(s.frac_coords)
    return new_lattice, np.array(prim, dtype=np.int64), np.array(frac, dtype=float)


def _kmcpy_fingerprint(payload: dict) -> str:
    # kmcpy/structure/active_site_order.py _fingerprint
    canonical = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------
def _read_lce_payload(path: Path, role: str, payload: Any, n_env: int) -> dict:
    """The arrays of one LCE submodel of a composite model file, checked."""
    lce = _get(payload, path, "lce", f"{role}.lce")
    params = _get(payload, path, "parameters", f"{role}.parameters")
    keci = _get(params, path, "keci", f"{role}.parameters.keci")
    empty = _get(params, path, "empty_cluster", f"{role}.parameters.empty_cluster")
    csi = _get(lce, path, "cluster_site_indices", f"{role}.lce.cluster_site_indices")
    key = f"{role}.lce.site_basis_values"
    if lce.get("site_basis_values") is None or lce.get("correlation_basis_indices") is None:
        raise _bad(path, f"{role}.lce.basis", lce.get("basis"),
                   "only models with site_basis_values and correlation_basis_indices "
                   "(kMCpy's Chebyshev site basis) are supported")
    sbv = np.asarray(lce["site_basis_values"], dtype=float)
    if sbv.ndim != 3 or sbv.shape[0] != n_env or sbv.shape[1] < 2:
        raise _bad(path, key, f"array of shape {sbv.shape}",
                   f"expected ({n_env}, 2, 1): one row of two states per local-environment "
                   f"site of the events")
    counts = lce.get("basis_site_state_counts", [2] * n_env)
    if list(counts) != [2] * n_env:
        raise _bad(path, f"{role}.lce.basis_site_state_counts", counts,
                   "only binary sites (two states each) are supported")
    if not isinstance(keci, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in keci):
        raise _bad(path, f"{role}.parameters.keci", keci, "expected a list of numbers")
    if not isinstance(empty, (int, float)) or isinstance(empty, bool) \
            or not np.isfinite(empty):
        raise _bad(path, f"{role}.parameters.empty_cluster", empty, "expected a number")
    if not isinstance(csi, list) or not all(
            isinstance(orbit, list) and all(isinstance(c, list) and c for c in orbit)
            for orbit in csi):
        raise _bad(path, f"{role}.lce.cluster_site_indices", csi,
                   "expected a list (orbits) of lists (clusters) of site lists")
    if len(keci) != len(csi):
        raise _bad(path, f"{role}.parameters.keci", f"{len(keci)} values",
                   f"the model has {len(csi)} orbits ({role}.lce.cluster_site_indices); "
                   f"one keci per orbit is needed")
    orbits = lce.get("orbits")
    if orbits is not None and len(orbits) != len(csi):
        raise _bad(path, f"{role}.lce.orbits", f"{len(orbits)} orbits",
                   f"{role}.lce.cluster_site_indices has {len(csi)}")
    cbi = lce["correlation_basis_indices"]
    flat_cbi = [int(b) for orbit in cbi for cluster in orbit for b in cluster]
    if len(cbi) != len(csi) or any(b != 0 for b in flat_cbi):
        raise _bad(path, f"{role}.lce.correlation_basis_indices", cbi,
                   "expected one orbit per cluster_site_indices orbit, basis function 0 "
                   "only (binary sites)")
    clusters, coefs = [], []
    for f, orbit in enumerate(csi):
        for c, cluster in enumerate(orbit):
            key = f"{role}.lce.cluster_site_indices[{f}][{c}]"
            ints = _int_list(cluster, path, key)
            if min(ints) < 0 or max(ints) >= n_env:
                raise _bad(path, key, ints,
                           f"a cluster names a local-environment position outside "
                           f"0..{n_env - 1} (the events have {n_env} local sites)")
            clusters.append(tuple(ints))
            coefs.append(float(keci[f]) / MEV_PER_EV)
    return {"name": role, "e0_eV": float(empty) / MEV_PER_EV, "clusters": tuple(clusters),
            "coefficients_eV": _frozen(np.array(coefs, dtype=float)), "phi": sbv[:, :, 0]}


def _phi_pair(path: Path, role: str, phi: np.ndarray, env_active: np.ndarray,
              mobile_state: np.ndarray, vacancy_state: np.ndarray) -> tuple[float, float]:
    """(phi_empty, phi_occupied) of an LCE: the basis values of the vacancy and of the
    mobile-ion state over every (event, position) whose site is a mobile-ion site."""
    n_events, n_env = env_active.shape
    pos = np.broadcast_to(np.arange(n_env), (n_events, n_env))
    mob = mobile_state[env_active] >= 0
    if not mob.any():
        raise ConfigError(f"{path}: no local-environment site of any event is a mobile-ion "
                          f"site; kmc's n cannot be defined for {role!r}")
    occ_vals = phi[pos[mob], mobile_state[env_active][mob]]
    emp_vals = phi[pos[mob], vacancy_state[env_active][mob]]
    for vals, what in ((occ_vals, "mobile-ion"), (emp_vals, "vacancy")):
        if np.ptp(vals) > _BASIS_TOL:
            raise _bad(path, f"{role}.lce.site_basis_values", phi.tolist(),
                       f"the {what} state has basis values {sorted(set(vals.tolist()))} on "
                       f"different local sites; one (phi_empty, phi_occupied) pair cannot "
                       f"represent them")
    phi_occ, phi_emp = float(occ_vals[0]), float(emp_vals[0])
    if abs(phi_occ - phi_emp) <= _BASIS_TOL:
        raise _bad(path, f"{role}.lce.site_basis_values", phi.tolist(),
                   "the mobile-ion and the vacancy state have the same basis value")
    return phi_emp, phi_occ


# --------------------------------------------------------------------------------------------
# the reader
# --------------------------------------------------------------------------------------------
#: Largest difference (Angstrom) between an environment site's distance from the event's
#: centre and the same position's in the model's migration unit (CIF rounding is far below).
ENV_DISTANCE_TOL_A = 0.05


_IMAGES = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])


def _min_image(d: np.ndarray, L: np.ndarray) -> np.ndarray:
    """The shortest periodic images of the displacements d (..., 3) in the cell L (rows),
    Angstrom: rounded in fractional coordinates, then the shortest of the 27 neighbouring
    images (rounding alone can miss it in a skewed cell)."""
    f = d @ np.linalg.inv(L)
    cand = ((f - np.rint(f))[..., None, :] + _IMAGES) @ L
    best = np.argmin(np.einsum("...ij,...ij->...i", cand, cand), axis=-1)
    return np.take_along_axis(cand, best[..., None, None], axis=-2)[..., 0, :]


def _migration_unit_distances(mo_data: Any) -> np.ndarray | None:
    """Distances (Angstrom) of the model's environment positions from the centre, from its
    ``MigrationUnit_structure`` (centred on the origin); None if the file has none."""
    try:
        sites = mo_data["kra"]["lce"]["MigrationUnit_structure"]["sites"]
        return np.linalg.norm(np.array([st["xyz"] for st in sites], dtype=float), axis=1)
    except (KeyError, TypeError, ValueError):
        return None


def _env_geometry_mismatch(ref: np.ndarray | None, L: np.ndarray, centres_A: np.ndarray,
                           env_A: np.ndarray) -> tuple[int, int, float] | None:
    """The first (event, position, distance A) whose environment site is not at the model's
    distance from its centre (centres_A (E, 3), env_A (E, k, 3)), or None."""
    if ref is None or ref.shape[0] != env_A.shape[1]:
        return None
    d = np.linalg.norm(_min_image(env_A - centres_A[:, None, :], L), axis=-1)
    bad = np.argwhere(np.abs(d - ref) > ENV_DISTANCE_TOL_A)
    if not bad.size:
        return None
    e, p = (int(v) for v in bad[0])
    return e, p, float(d[e, p])


def _check_event_geometry(ev_path: Path, mo_data: dict, L: np.ndarray, active_A: np.ndarray,
                          mobile_idx: np.ndarray, env_active: np.ndarray) -> None:
    """Every event's environment must have the model's geometry: the distance of
    local_env_indices[p] from the event's centre (mobile_ion_indices[0]) equals that of
    position p in the model's ``MigrationUnit_structure`` (centred on the origin). The site
    order is only fixed by index lists (the fingerprint holds no positions), and kMCpy's
    order of the same CIF changes with the pymatgen version: an event file made with another
    order points at other sites, and this is where it shows."""
    ref = _migration_unit_distances(mo_data)
    bad = _env_geometry_mismatch(ref, L, active_A[mobile_idx[:, 0]], active_A[env_active])
    if bad is not None:
        e, p_, d = bad
        raise _bad(ev_path, f"events[{e}].local_env_indices[{p_}]", int(env_active[e, p_]),
                   f"is {d:.3f} A from the event's centre (active site "
                   f"{int(mobile_idx[e, 0])}), but the model's environment has "
                   f"position {p_} at {ref[p_]:.3f} A: the event file does not fit "
                   "this structure's site order (kMCpy's order of a CIF depends on "
                   "the pymatgen version; regenerate the events with kMCpy for this "
                   "structure)")


def _supercell_shape(supercell: Any) -> tuple[int, int, int]:
    ok = isinstance(supercell, (tuple, list, np.ndarray)) and len(supercell) == 3 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v > 0
        for v in supercell)
    if not ok:
        raise ConfigError(f"read_kmcpy: supercell = {show(supercell)}: expected 3 positive "
                          f"integers (kMCpy's supercell_shape)")
    return tuple(int(v) for v in supercell)


def read_kmcpy(structure, model, events, initial_state, supercell, *, mobile_species="Na",
               convert_to_primitive=True) -> KmcpyInputs:
    """Read a kMCpy simulation's input files in kMCpy's site order.

    Parameters
    ----------
    structure : str or path
        kMCpy's structure file (CIF), read as kMCpy reads it (module docstring).
    model : str or path
        A kMCpy composite LCE model file (``filetype = "kmcpy.model_file"``,
        ``model_type = "composite_lce"``) with a kra and an optional site LCE.
    events : str or path
        kMCpy's event library (``events``, ``index_metadata``).
    initial_state : str or path
        kMCpy's initial state (``occupation`` or ``occupations``, species-state indices of
        the active sites or of every supercell site).
    supercell : tuple of 3 int
        kMCpy's ``supercell_shape``; must match the event file's.
    mobile_species : str, optional
        The hopping species (kMCpy's ``mobile_ion_specie``), ``"Na"`` by default.
    convert_to_primitive : bool, optional
        kMCpy's ``convert_to_primitive_cell`` (true in its NASICON example).

    Returns
    -------
    KmcpyInputs

    Raises
    ------
    ImportError
        pymatgen is not installed (``pip install 'kmc-ion[kmcpy]'``).
    ConfigError
        (a ValueError) A file of another kind or format, a missing key, or values that do
        not fit together; the message names the file, the key and the value.
    """
    _import_pymatgen()
    shape = _supercell_shape(supercell)
    if not isinstance(mobile_species, str) or not mobile_species:
        raise ConfigError(f"read_kmcpy: mobile_species = {show(mobile_species)}: expected a "
                          f"species symbol such as 'Na'")
    paths = {"structure": Path(structure), "model": Path(model), "events": Path(events),
             "initial_state": Path(initial_state)}
    for p in paths.values():
        if not p.is_file():
            raise ConfigError(f"{p}: no such file")

    # ---- events and their index metadata -------------------------------------------------
    ev_path = paths["events"]
    ev_data = _load_json(ev_path)
    if not isinstance(ev_data, dict):
        raise _bad(ev_path, "(top level)", type(ev_data).__name__,
                   "expected an object with 'events' and 'index_metadata' (a kMCpy event "
                   "library; legacy list files are refused by kMCpy too)")
    meta = _get(ev_data, ev_path, "index_metadata", "index_metadata")
    if meta is None:
        raise _bad(ev_path, "index_metadata", None, "kMCpy event libraries need active-site "
                   "metadata (regenerate the events with a site_mapping)")
    fmt = _get(meta, ev_path, "format", "index_metadata.format")
    if fmt != KMCPY_ORDER_FORMAT:
        raise _bad(ev_path, "index_metadata.format", fmt, f"expected {KMCPY_ORDER_FORMAT!r}")
    meta_shape = _get(meta, ev_path, "supercell_shape", "index_metadata.supercell_shape")
    if list(meta_shape) != list(shape):
        raise _bad(ev_path, "index_metadata.supercell_shape", meta_shape,
                   f"the events were made for this supercell, not for supercell = {shape}")
    allowed_meta = _get(meta, ev_path, "allowed_species_by_primitive_site",
                        "index_metadata.allowed_species_by_primitive_site")
    species_meta = _get(meta, ev_path, "species_by_primitive_site",
                        "index_metadata.species_by_primitive_site")
    fingerprint = _get(meta, ev_path, "fingerprint", "index_metadata.fingerprint")
    allowed = [tuple(str(s) for s in a) for a in allowed_meta]

    # ---- the structure, the supercell and the active order -------------------------------
    st_path = paths["structure"]
    prim = _kmcpy_structure(st_path, bool(convert_to_primitive))
    prim_species = [str(site.specie.symbol) for site in prim]
    if prim_species != [str(s) for s in species_meta] or len(allowed) != len(prim):
        raise _bad(ev_path, "index_metadata.species_by_primitive_site", species_meta,
                   f"{st_path} gives {len(prim)} primitive sites {show(prim_species)} "
                   f"(convert_to_primitive = {bool(convert_to_primitive)})")
    lattice, sc_prim, sc_frac = _kmcpy_supercell(prim, shape)
    prim_active = [i for i, a in enumerate(allowed) if len(a) > 1]
    is_active = np.isin(sc_prim, prim_active)
    active_to_original = np.flatnonzero(is_active)
    fixed = np.flatnonzero(~is_active)
    active_to_primitive = sc_prim[active_to_original]
    mine = {
        "format": KMCPY_ORDER_FORMAT,
        "primitive_site_count": len(prim),
        "original_site_count": int(len(sc_prim)),
        "primitive_active_indices": tuple(int(i) for i in prim_active),
        "active_to_original": [int(i) for i in active_to_original],
        "active_to_primitive": [int(i) for i in active_to_primitive],
        "supercell_shape": shape,
        "species_by_primitive_site": tuple(prim_species),
        "allowed_species_by_primitive_site": tuple(allowed),
    }
    for key in ("primitive_site_count", "original_site_count", "primitive_active_indices",
                "active_to_original", "active_to_primitive"):
        if key in meta and list(np.atleast_1d(meta[key])) != list(np.atleast_1d(mine[key])):
            raise _bad(ev_path, f"index_metadata.{key}", meta[key],
                       f"{st_path} in supercell {shape} gives {show(mine[key])}")
    if "fixed_original_indices" in meta and \
            [int(i) for i in meta["fixed_original_indices"]] != fixed.tolist():
        raise _bad(ev_path, "index_metadata.fixed_original_indices",
                   meta["fixed_original_indices"], f"{st_path} gives {fixed.tolist()}")
    my_fingerprint = _kmcpy_fingerprint(mine)
    if fingerprint != my_fingerprint:
        raise _bad(ev_path, "index_metadata.fingerprint", fingerprint,
                   f"the active-site order rebuilt from {st_path} has fingerprint "
                   f"{my_fingerprint}")
    n_active = len(active_to_original)

    # per active site: the state of the mobile ion and of the vacancy (-1: not a mobile site)
    mobile_state = np.full(n_active, -1, dtype=np.int64)
    vacancy_state = np.full(n_active, -1, dtype=np.int64)
    for k, p in enumerate(active_to_primitive):
        names = allowed[p]
        if mobile_species in names:
            vac = [s for s, name in enumerate(names) if name in KMCPY_VACANCY_LABELS]
            if len(names) != 2 or len(vac) != 1:
                raise _bad(ev_path, f"index_metadata.allowed_species_by_primitive_site[{p}]",
                           list(names), f"a {mobile_species} site must allow exactly the "
                           f"mobile ion and a vacancy")
            mobile_state[k] = names.index(mobile_species)
            vacancy_state[k] = vac[0]
    network = np.flatnonzero(mobile_state >= 0)  # active index of each network site
    if network.size == 0:
        raise ConfigError(f"read_kmcpy: mobile_species = {mobile_species!r}: no active site "
                          f"of {ev_path} allows it (allowed species: "
                          f"{sorted({s for a in allowed for s in a})})")
    active_to_network = np.full(n_active, -1, dtype=np.int64)
    active_to_network[network] = np.arange(network.size)

    # ---- the event list ------------------------------------------------------------------
    ev_list = _get(ev_data, ev_path, "events", "events")
    if not isinstance(ev_list, list) or not ev_list:
        raise _bad(ev_path, "events", ev_list, "expected a non-empty list of events")
    mobile_idx, env_idx = [], []
    for e, item in enumerate(ev_list):
        mi = _int_list(_get(item, ev_path, "mobile_ion_indices",
                            f"events[{e}].mobile_ion_indices"),
                       ev_path, f"events[{e}].mobile_ion_indices")
        le = _int_list(_get(item, ev_path, "local_env_indices",
                            f"events[{e}].local_env_indices"),
                       ev_path, f"events[{e}].local_env_indices")
        for key, vals in ((f"events[{e}].mobile_ion_indices", mi),
                          (f"events[{e}].local_env_indices", le)):
            if any(v < 0 or v >= n_active for v in vals):
                raise _bad(ev_path, key, vals, f"indices must be in 0..{n_active - 1} "
                           f"({n_active} active sites in {st_path}, supercell {shape})")
        if len(mi) != 2 or mi[0] == mi[1]:
            raise _bad(ev_path, f"events[{e}].mobile_ion_indices", mi,
                       "expected two different sites")
        if (mobile_state[mi] < 0).any():
            raise _bad(ev_path, f"events[{e}].mobile_ion_indices", mi,
                       f"both must be {mobile_species} sites")
        if env_idx and len(le) != len(env_idx[0]):
            raise _bad(ev_path, f"events[{e}].local_env_indices", le,
                       f"has {len(le)} sites, events[0] has {len(env_idx[0])}")
        mobile_idx.append(mi)
        env_idx.append(le)
    mobile_idx = np.array(mobile_idx, dtype=np.int64)
    env_active = np.array(env_idx, dtype=np.int64)
    n_env = env_active.shape[1]

    # ---- the initial state ---------------------------------------------------------------
    is_path = paths["initial_state"]
    st_data = _load_json(is_path)
    if not isinstance(st_data, dict) or not ({"occupation", "occupations"} & set(st_data)):
        raise _bad(is_path, "(top level)", sorted(st_data) if isinstance(st_data, dict)
                   else type(st_data).__name__,
                   "expected a kMCpy state with key 'occupation' or 'occupations'")
    occ_key = "occupations" if "occupations" in st_data else "occupation"
    raw = _int_list(st_data[occ_key], is_path, occ_key)
    if len(raw) == n_active:
        states = np.array(raw, dtype=np.int64)
    elif len(raw) == len(sc_prim):
        states = np.array(raw, dtype=np.int64)[active_to_original]
    else:
        raise _bad(is_path, occ_key, f"{len(raw)} values",
                   f"expected {n_active} (active sites) or {len(sc_prim)} (all sites of "
                   f"the supercell)")
    n_states = np.array([len(allowed[p]) for p in active_to_primitive])
    bad = np.flatnonzero((states < 0) | (states >= n_states))
    if bad.size:
        raise _bad(is_path, occ_key, states.tolist(),
                   f"active site {int(bad[0])} has state {int(states[bad[0]])}; its allowed "
                   f"species are {list(allowed[active_to_primitive[bad[0]]])}")
    occupied = states[network] == mobile_state[network]

    # ---- the model -----------------------------------------------------------------------
    mo_path = paths["model"]
    mo_data = _load_json(mo_path)
    if not isinstance(mo_data, dict):
        raise _bad(mo_path, "(top level)", type(mo_data).__name__, "expected an object")
    filetype = _get(mo_data, mo_path, "filetype", "filetype")
    if filetype != KMCPY_MODEL_FILETYPE:
        raise _bad(mo_path, "filetype", filetype, f"expected {KMCPY_MODEL_FILETYPE!r} "
                   f"(a kMCpy model file)")
    model_type = _get(mo_data, mo_path, "model_type", "model_type")
    if model_type != KMCPY_MODEL_TYPE:
        raise _bad(mo_path, "model_type", model_type, f"expected {KMCPY_MODEL_TYPE!r} (only "
                   f"kMCpy's composite LCE models are read)")
    raw_specs = {"kra": _read_lce_payload(mo_path, "kra",
                                          _get(mo_data, mo_path, "kra", "kra"), n_env)}
    if mo_data.get("site") is not None:
        if "lce" not in mo_data["site"]:
            raise _bad(mo_path, "site.model_type", mo_data["site"].get("model_type"),
                       "only an LCE site model is supported")
        raw_specs["site"] = _read_lce_payload(mo_path, "site", mo_data["site"], n_env)

    # ---- kmc's n of the static environment sites ------------------------------------------
    static = mobile_state[env_active] < 0
    env_sites = np.where(static, -1, active_to_network[env_active])
    env_static_n = np.zeros(env_active.shape, dtype=np.int8)
    specs: dict[str, LceSpec] = {}
    pos = np.broadcast_to(np.arange(n_env), env_active.shape)
    for role, r in raw_specs.items():
        phi = r.pop("phi")
        phi_emp, phi_occ = _phi_pair(mo_path, role, phi, env_active, mobile_state,
                                     vacancy_state)
        vals = phi[pos[static], states[env_active][static]]
        n_role = np.full(vals.shape, -1, dtype=np.int8)
        n_role[np.abs(vals - phi_occ) <= _BASIS_TOL] = 1
        n_role[np.abs(vals - phi_emp) <= _BASIS_TOL] = 0
        if (n_role < 0).any():
            raise _bad(mo_path, f"{role}.lce.site_basis_values", phi.tolist(),
                       f"a static site's basis value {vals[n_role < 0][0]} is neither "
                       f"phi_occupied = {phi_occ} nor phi_empty = {phi_emp}")
        if specs and not np.array_equal(env_static_n[static], n_role):
            raise _bad(mo_path, f"{role}.lce.site_basis_values", phi.tolist(),
                       "gives the static sites another n than the kra model")
        env_static_n[static] = n_role
        specs[role] = LceSpec(phi_empty=phi_emp, phi_occupied=phi_occ, **r)

    # ---- geometry ------------------------------------------------------------------------
    frac = sc_frac[active_to_original[network]]
    positions = lattice.get_cartesian_coords(frac)
    hops = active_to_network[mobile_idx]
    vectors = np.empty((len(hops), 3))
    for e, (a, b) in enumerate(hops):
        _, image = lattice.get_distance_and_image(frac[a], frac[b])
        vectors[e] = lattice.get_cartesian_coords(frac[b] + image - frac[a])
    labels = np.array([prim[int(p)].properties["label"]
                       for p in active_to_primitive[network]], dtype=str)
    _check_event_geometry(ev_path, mo_data, np.asarray(lattice.matrix),
                          lattice.get_cartesian_coords(sc_frac[active_to_original]),
                          mobile_idx, env_active)

    source = {
        "paths": {k: str(p) for k, p in paths.items()},
        "sha256": {k: _sha256(p) for k, p in paths.items()},
        "model_filetype": filetype,
        "model_type": model_type,
        "index_metadata_format": fmt,
        "kmcpy_fingerprint": fingerprint,
        "supercell": list(shape),
        "mobile_species": mobile_species,
        "convert_to_primitive": bool(convert_to_primitive),
        "units": "kMCpy meV converted to eV (/1000); Angstrom",
    }
    static_active = np.flatnonzero(mobile_state < 0)
    active_to_static = np.full(n_active, -1, dtype=np.int64)
    active_to_static[static_active] = np.arange(static_active.size)
    static_positions = lattice.get_cartesian_coords(sc_frac[active_to_original[static_active]]) \
        if static_active.size else np.zeros((0, 3))
    return KmcpyInputs(
        static_positions_A=_frozen(np.asarray(static_positions, dtype=float).reshape(-1, 3)),
        env_static_index=_frozen(np.where(static, active_to_static[env_active], -1)),
        lattice_A=_frozen(lattice.matrix), positions_A=_frozen(positions),
        site_labels=_frozen(labels), kmcpy_index=_frozen(network.astype(np.int64)),
        hops=_frozen(hops), hop_vectors_A=_frozen(vectors), env_sites=_frozen(env_sites),
        env_static_n=_frozen(env_static_n), kra=specs["kra"], site=specs.get("site"),
        occupied=_frozen(occupied), source=source)


# --------------------------------------------------------------------------------------------
# kMCpy's model as a kmc network
# --------------------------------------------------------------------------------------------
def local_model(spec: LceSpec) -> Any:
    """A :class:`kmc.energy.LocalClusterExpansion` of a kMCpy LCE (eV, kmc's n)."""
    from ..energy import LocalClusterExpansion

    n_env = 1 + max((max(c) for c in spec.clusters), default=-1)
    return LocalClusterExpansion(spec.e0_eV, spec.clusters, spec.coefficients_eV,
                                 basis=(spec.phi_empty, spec.phi_occupied), n_env=n_env,
                                 name=f"kMCpy {spec.name}")


def to_network(inputs: KmcpyInputs, *, name: str = "kmcpy", charge_e: float = 1.0) -> Any:
    """kMCpy's model as a :class:`kmc.lattice.SiteNetwork` with its local models attached.

    Every kMCpy event (i, j) becomes the hop i -> j (kMCpy's direction +1) and its reverse
    j -> i (-1), both with the event's local environment in kMCpy's order: E_kra is the kra
    LCE on the environment in the configuration in which the hop is allowed (as kMCpy
    evaluates it; the environment holds j, so the two directions may differ), and the site
    LCE times the direction is added to dE. Run it with the "kmcpy" rate law
    (Ea = E_kra + dE / 2, unclamped) to reproduce kMCpy's rates exactly.

    Parameters
    ----------
    inputs : KmcpyInputs
    name : str
    charge_e : float
        Charge of the mobile ion, e (kMCpy's ``mobile_ion_charge``).

    Returns
    -------
    SiteNetwork
    """
    from ..energy import attach
    from ..lattice import SiteNetwork

    E = inputs.n_events
    i, j = inputs.hops[:, 0], inputs.hops[:, 1]
    labels = sorted(set(inputs.site_labels.tolist()))
    net = SiteNetwork(
        cell=inputs.lattice_A, positions=inputs.positions_A,
        hop_src=np.concatenate([i, j]), hop_dst=np.concatenate([j, i]),
        hop_vectors=np.concatenate([inputs.hop_vectors_A, -inputs.hop_vectors_A]),
        hop_barriers_eV=max(inputs.kra.e0_eV, 0.0),
        site_types=np.array([labels.index(s) for s in inputs.site_labels], dtype=np.int32),
        site_type_names=tuple(labels),
        hop_types=np.concatenate([np.zeros(E, np.int32), np.ones(E, np.int32)]),
        hop_type_names=("forward", "backward"), charge_e=charge_e, name=name)
    # the hops are now in canonical order: find each one's event and direction
    order = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(net.hop_src, net.hop_dst, strict=True))}
    if len(order) != net.n_hops:
        raise ConfigError("kMCpy's events join some pair of sites twice; kmc needs one hop per "
                          "ordered pair of sites")
    env = np.empty((net.n_hops, inputs.env_sites.shape[1]), np.int64)
    static_n = np.zeros(env.shape, np.int8)
    sign = np.empty(net.n_hops)
    for e in range(E):
        for a, b, s in ((i[e], j[e], 1.0), (j[e], i[e], -1.0)):
            h = order[(int(a), int(b))]
            env[h] = inputs.env_sites[e]
            static_n[h] = inputs.env_static_n[e]
            sign[h] = s
    return attach(net, environments=env, static_n=static_n, kra=local_model(inputs.kra),
                  de=None if inputs.site is None else local_model(inputs.site), de_sign=sign)


def kmcpy_material(structure: Any, model: Any, events: Any, initial_state: Any, supercell: Any,
                   *, mobile_species: str = "Na", charge_e: float = 1.0) -> Any:
    """kMCpy's inputs as a :class:`kmc.materials.Material` (what ``kmc run kmcpy`` runs):
    its network (:func:`to_network`), its ion count, and in ``info`` the initial ion sites
    of kMCpy's initial state and the provenance of the files."""
    from ..materials import Material

    inp = read_kmcpy(structure, model, events, initial_state, supercell,
                     mobile_species=mobile_species)
    net = to_network(inp, name="kmcpy", charge_e=charge_e)
    sites = np.flatnonzero(inp.occupied)
    if sites.size == 0 or sites.size == net.n_sites:
        raise ConfigError(f"{initial_state}: the initial state puts {sites.size} ions on "
                          f"{net.n_sites} {mobile_species} sites; nothing can move")
    info = {"ion_sites": sites.tolist(), "source": {k: str(v) for k, v in inp.source.items()}}
    return Material(name="kmcpy", network=net, n_ions=int(sites.size),
                    options={"supercell": list(_supercell_shape(supercell))},
                    size=_supercell_shape(supercell), info=info, rate_law="kmcpy")


# --------------------------------------------------------------------------------------------
# kMCpy's NASICON environments built from positions (any supercell, no event file)
# --------------------------------------------------------------------------------------------
def nasicon_environments(lattice_A: Any, mobile_positions_A: Any, static_positions_A: Any,
                         centres: Any, *, cutoff_A: float = 4.0) -> tuple[np.ndarray, ...]:
    """The local environments of kMCpy's NASICON model, from the sites' positions.

    kMCpy's order ``nasicon_nat_commun_2022`` (kmcpy/structure/local_site_order.py:24-27 at
    7761fdd): the sites within `cutoff_A` of the centre, the centre excluded, sorted by
    species (pymatgen orders elements by electronegativity: Na before Si) and then by the
    Cartesian x coordinate of the site's image next to the centre. Here the mobile-ion sites
    come first and the static ones (Si/P) after, each by x. kMCpy's events of a centre are its
    hops to the mobile sites of its environment, all with the centre's environment.

    Parameters
    ----------
    lattice_A : (3, 3) array
        Cell rows, Angstrom (periodic in all three directions).
    mobile_positions_A, static_positions_A : (n, 3) arrays
        Cartesian positions of the mobile-ion sites (the network's) and of the static sites.
    centres : array_like of int
        The mobile sites that are event centres (kMCpy: Na1).
    cutoff_A : float
        The environment's radius (kMCpy's local_env_cutoff, 4.0 A for NASICON).

    Returns
    -------
    hops : (n_events, 2) int
        (centre, mobile environment site) of every event.
    env_sites : (n_events, n_env) int
        Network site of each environment entry, -1 for a static one.
    env_static_index : (n_events, n_env) int
        Row of `static_positions_A` of each static entry, -1 for a mobile one.

    Raises
    ------
    ConfigError
        If the cell is too small for one image of each site within the cutoff, or the
        centres' environments differ in size.
    """
    L = np.asarray(lattice_A, dtype=float)
    mob = np.asarray(mobile_positions_A, dtype=float).reshape(-1, 3)
    sta = np.asarray(static_positions_A, dtype=float).reshape(-1, 3)
    # the images of the shortest lattice translations: a site may have one within the cutoff
    shifts = _IMAGES[np.any(_IMAGES != 0, axis=1)] @ L
    if np.linalg.norm(shifts, axis=1).min() <= 2 * cutoff_A:
        raise ConfigError(f"nasicon_environments: the cell's shortest translation is "
                          f"{np.linalg.norm(shifts, axis=1).min():.3f} A, not more than twice "
                          f"the cutoff {cutoff_A} A: a site could have two images in one "
                          "environment; use a larger supercell")
    from scipy.spatial import cKDTree

    # every site's 27 images around the cell, in a k-d tree per kind: a centre's neighbours
    # within the cutoff in O(log N) (the cell admits at most one image of each within it)
    inv = np.linalg.inv(L)

    def wrapped(pos: np.ndarray) -> np.ndarray:
        f = pos @ inv
        return (f - np.floor(f)) @ L

    image_shifts = _IMAGES @ L
    trees = []
    for pos in (mob, sta):
        tiled = (wrapped(pos)[None, :, :] + image_shifts[:, None, :]).reshape(-1, 3)
        trees.append((cKDTree(tiled), tiled, np.tile(np.arange(len(pos)), len(_IMAGES))))
    centre_list = np.atleast_1d(np.asarray(centres, dtype=np.int64))
    if len(centre_list) == 0:
        return (np.zeros((0, 2), np.int64), np.zeros((0, 0), np.int64),
                np.zeros((0, 0), np.int64))
    centre_pos = wrapped(mob[centre_list])
    # all centres at once: each kind's neighbours within the cutoff, excluding the centre
    found = []
    for kind, (tree, tiled, index) in enumerate(trees):
        k_query = 24
        while True:
            dist, nb = tree.query(centre_pos, k=k_query, distance_upper_bound=cutoff_A)
            if not np.isfinite(dist[:, -1]).any() or k_query >= len(tiled):
                break
            k_query *= 2
        nb = np.minimum(nb, len(tiled) - 1)  # the missing neighbours' index is len(tiled)
        valid = np.isfinite(dist) & (dist < cutoff_A)
        if kind == 0:
            valid &= index[nb] != centre_list[:, None]
        found.append((tiled, index, nb, valid))
    counts = np.array([v.sum(axis=1) for _, _, _, v in found])  # (kind, centre)
    total = counts.sum(axis=0)
    odd = np.flatnonzero((counts != counts[:, :1]).any(axis=0))
    if len(odd):
        c = int(odd[0])
        raise ConfigError(f"nasicon_environments: centre {int(centre_list[c])} has "
                          f"{int(total[c])} sites within {cutoff_A} A, the first centre "
                          f"{int(total[0])}" + ("" if total[c] != total[0] else
                                                f" (mobile: {int(counts[0, c])} and "
                                                f"{int(counts[0, 0])})"))
    parts = []
    for (tiled, index, nb, valid), n in zip(found, counts[:, 0]):
        rows = np.nonzero(valid)  # row-major: per centre, in query order
        k = index[nb[rows]].reshape(len(centre_list), int(n))
        dx = (tiled[nb[rows]][:, 0] - centre_pos[rows[0], 0]).reshape(len(centre_list), int(n))
        # kMCpy's order: by x (ties by site index, as a stable sort of ascending indices)
        parts.append(np.take_along_axis(k, np.lexsort((k, dx), axis=-1), axis=-1))
    mob_k, sta_k = parts
    n_mob, n_sta = mob_k.shape[1], sta_k.shape[1]
    env = np.concatenate([mob_k, np.full((len(centre_list), n_sta), -1, np.int64)], axis=1)
    st = np.concatenate([np.full((len(centre_list), n_mob), -1, np.int64), sta_k], axis=1)
    hops = np.column_stack([np.repeat(centre_list, n_mob), mob_k.ravel()]).astype(np.int64)
    return hops, np.repeat(env, n_mob, axis=0), np.repeat(st, n_mob, axis=0)


def nasicon_inputs(model: Any, supercell: Any, *, x: float, seed: int = 0,
                   structure: Any = None, cutoff_A: float = 4.0) -> KmcpyInputs:
    """A kMCpy NASICON model (Na(1+x)Zr2Si(x)P(3-x)O12) on any supercell, without kMCpy.

    The supercell is built as kMCpy builds it (labelled CIF -> primitive cell -> supercell),
    its Na1 sites are the event centres, and the environments follow kMCpy's order
    (:func:`nasicon_environments`); the Si/P sites are static, a random arrangement of
    round(x n_fu) Si and the rest P, and round((1 + x) n_fu) Na ions are placed at random
    (n_fu = formula units = Si/P sites / 3), both from `seed`. kMCpy's NASICON site mapping
    is assumed: Na sites ["Na", "X"], Si sites ["Si", "P"] (state 0 the first).

    Parameters
    ----------
    model : path
        A kMCpy composite LCE model file (model.json) of a Na1-centred 12-site environment.
    supercell : 3 ints
        Repeats of the primitive cell.
    x : float
        Si content, 0 <= x <= 3.
    seed : int
        Seed of the Si/P arrangement and of the ions' sites.
    structure : path, optional
        The NASICON CIF (default: kmc's, ``kmc/data/structures/nasicon_Na4Zr2Si3O12_573K.cif``).
    cutoff_A : float
        Environment radius (kMCpy's 4.0 A).

    Returns
    -------
    KmcpyInputs
        As :func:`read_kmcpy` gives (``kmcpy_index``: kMCpy's active order of the Na sites,
        which is this order).
    """
    _import_pymatgen()
    from importlib import resources

    shape = _supercell_shape(supercell)
    if not 0.0 <= float(x) <= 3.0:
        raise ConfigError(f"nasicon_inputs: x = {x!r} must be in [0, 3]")
    path = Path(structure) if structure is not None else Path(
        str(resources.files("kmc.data").joinpath("structures/nasicon_Na4Zr2Si3O12_573K.cif")))
    mo_path = Path(model)
    if not mo_path.is_file():
        raise ConfigError(f"{mo_path}: no such file")
    prim = _kmcpy_structure(path, True)
    lattice, sc_prim, sc_frac = _kmcpy_supercell(prim, shape)
    species = np.array([prim[int(p)].specie.symbol for p in sc_prim])
    labels = np.array([prim[int(p)].properties["label"] for p in sc_prim])
    na, si = np.flatnonzero(species == "Na"), np.flatnonzero(species == "Si")
    if not na.size or not si.size or si.size % 3:
        raise ConfigError(f"{path}: {na.size} Na and {si.size} Si sites in supercell {shape}; "
                          "a NASICON structure has Na sites and 3 Si/P sites per formula unit")
    pos = np.asarray(lattice.get_cartesian_coords(sc_frac))
    L = np.asarray(lattice.matrix)
    centres = np.flatnonzero(labels[na] == "Na1")
    hops, env, est = nasicon_environments(L, pos[na], pos[si], centres, cutoff_A=cutoff_A)
    n_env = env.shape[1]
    mo_data = _load_json(mo_path)
    for key, want in (("filetype", KMCPY_MODEL_FILETYPE), ("model_type", KMCPY_MODEL_TYPE)):
        if mo_data.get(key) != want:
            raise _bad(mo_path, key, mo_data.get(key), f"expected {want!r}")
    raw = {"kra": _read_lce_payload(mo_path, "kra", _get(mo_data, mo_path, "kra", "kra"), n_env)}
    if mo_data.get("site") is not None:
        raw["site"] = _read_lce_payload(mo_path, "site", mo_data["site"], n_env)
    # the environment geometry must be the model's migration unit's
    ref = _migration_unit_distances(mo_data)
    env_A = np.where((env >= 0)[..., None], pos[na[np.maximum(env, 0)]],
                     pos[si[np.maximum(est, 0)]])
    bad = _env_geometry_mismatch(ref, L, pos[na[hops[:, 0]]], env_A)
    if bad is not None:
        e, p, d = bad
        raise _bad(mo_path, f"kra.lce.MigrationUnit_structure.sites[{p}]", f"{ref[p]:.3f} A",
                   f"environment position {p} of event {e} is {d:.3f} A from its centre in "
                   f"{path}: the model is not this structure's")
    specs = {}
    for role, r in raw.items():
        phi = r.pop("phi")
        specs[role] = LceSpec(phi_empty=float(phi[0, 1]), phi_occupied=float(phi[0, 0]), **r)
    rng = np.random.default_rng(seed)
    n_fu = si.size // 3
    n_si = int(round(float(x) * n_fu))
    is_si = np.zeros(si.size, bool)
    is_si[rng.choice(si.size, n_si, replace=False)] = True
    # Si is state 0 (basis phi[., 0] = phi_occupied): n = 1; P is state 1: n = 0
    static_n = np.where(est >= 0, is_si[np.maximum(est, 0)], 0).astype(np.int8)
    n_na = int(round((1.0 + float(x)) * n_fu))
    if not 0 < n_na < na.size:
        raise ConfigError(f"nasicon_inputs: x = {x} gives {n_na} Na on {na.size} sites; "
                          "nothing can move")
    occupied = np.zeros(na.size, bool)
    occupied[rng.choice(na.size, n_na, replace=False)] = True
    vectors = _min_image(pos[na[hops[:, 1]]] - pos[na[hops[:, 0]]], L)
    return KmcpyInputs(
        lattice_A=_frozen(L), positions_A=_frozen(pos[na]), site_labels=_frozen(labels[na]),
        kmcpy_index=_frozen(np.arange(na.size)), hops=_frozen(hops),
        hop_vectors_A=_frozen(vectors), env_sites=_frozen(env),
        env_static_n=_frozen(static_n), kra=specs["kra"], site=specs.get("site"),
        occupied=_frozen(occupied),
        source={"structure": str(path), "model": str(mo_path), "sha256_model": _sha256(mo_path),
                "supercell": list(shape), "x": float(x), "seed": int(seed),
                "n_si": n_si, "n_p": int(si.size - n_si), "n_na": n_na},
        static_positions_A=_frozen(pos[si]), env_static_index=_frozen(est))
