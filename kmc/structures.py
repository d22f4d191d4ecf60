"""Site networks of one mobile species from crystal structures.

A structure is a file that ASE reads (CIF, POSCAR/CONTCAR, extxyz, ...), an ASE ``Atoms`` or
a pymatgen ``Structure``. :func:`structure_model` keeps the sites of the mobile species,
repeats the cell into the smallest supercell that satisfies the minimum-image condition for
the cutoff along every axis at once (unless a size is given), and joins every pair of sites
within the cutoff by a hop. Hops are grouped into types by the pair of site labels (the
symmetry orbits of the sites, ``Li1``, ``Li2``, ...) and their length, and each type gets a
KRA barrier. :func:`from_structure` returns just the network; ``kmc run FILE --species Li
--cutoff 3.7`` and ``kmc lattices show FILE --species Li --cutoff 3.7`` use the same code.

Partial occupancies and mixed sites: a site is a site of the mobile species when the species
has a nonzero occupancy on it (``_atom_site_occupancy`` of a CIF, the species of a
disordered pymatgen site). The file's composition is the sum of those occupancies over the
supercell (rounded to whole ions); a structure whose species sites are all fully occupied
has no vacancy, so a run on it needs a composition (``--vacancies N``, ``--occupancy C``).

Hop-type names are ``"<label1>-<label2> <d> A"`` (labels sorted, d the mean length in
Angstrom, 3 decimals). Barriers may be given by that name, by the name without " A", or by
the label pair alone (``"Li1-Li2"``, either order) when one type has that pair.

Units: Angstrom, eV, e.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import _checks
from .constants import DEFAULT_BARRIER_EV
from .errors import ConfigError
from .lattice import SiteNetwork
from .materials import (
    HopRule,
    Material,
    _check_width,
    _pairs_within,
    _supercell,
    minimum_image_size,
    network_from_sites,
)

__all__ = ["read_structure", "as_atoms", "structure_model", "from_structure", "from_cif",
           "describe_structure", "is_structure_file", "StructureSites",
           "resolve_hop_type"]

#: Ion charge (e) by element when not given: +2 for the alkaline earths and Zn, else +1.
_DIVALENT = ("Mg", "Ca", "Zn", "Sr", "Ba")


# --------------------------------------------------------------------------- reading
def is_structure_file(target: Any) -> bool:
    """True if `target` names an existing file that is not a TOML config (a structure for
    ASE to read)."""
    if not isinstance(target, (str, os.PathLike)):
        return False
    p = Path(target)
    return p.is_file() and p.suffix.lower() != ".toml"


def read_structure(path: str | os.PathLike[str]) -> Any:
    """Read a structure file with ASE (the format from the file's extension and contents).

    Raises
    ------
    ConfigError
        One line naming the file and the parser's complaint: a missing file, a file ASE
        cannot read, a file with no atoms or without a periodic cell.
    """
    from ase.io import read

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"structure file {str(p)!r} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ASE warns about CIF details it repairs
            atoms = read(str(p))
    except Exception as exc:  # ASE raises many kinds on malformed files
        why = " ".join(str(exc).split())
        if not why:
            why = ("it is not a structure ASE can read as "
                   f"{p.suffix.lstrip('.') or 'this format'}")
        raise ConfigError(f"cannot read {p.name}: {type(exc).__name__}: {why}") from None
    if isinstance(atoms, list):  # some readers give every image
        if not atoms:
            raise ConfigError(f"cannot read {p.name}: it holds no structure")
        atoms = atoms[-1]
    _check_periodic(atoms, p.name)
    return atoms


def _check_periodic(atoms: Any, where: str) -> None:
    if len(atoms) == 0:
        raise ConfigError(f"{where} holds no atoms")
    cell = np.asarray(atoms.cell.array, dtype=float)
    if not np.all(np.isfinite(cell)) or abs(np.linalg.det(cell)) < 1e-6:
        raise ConfigError(f"{where} has no periodic cell (3 lattice vectors); a network needs "
                          "one")


def as_atoms(structure: Any) -> Any:
    """An ASE ``Atoms`` of a structure: a file path, an ``Atoms`` (copied) or a pymatgen
    ``Structure``/``IStructure`` (read through its public attributes; pymatgen itself is not
    needed to call this). A disordered pymatgen site becomes one atom of its majority species,
    with every species' occupancy kept (``atoms.info["occupancy"]``, as ASE's CIF reader
    keeps them).

    Raises
    ------
    ConfigError
        Anything else, or a structure without atoms or a periodic cell.
    """
    from ase import Atoms

    if isinstance(structure, (str, os.PathLike)):
        return read_structure(structure)
    if isinstance(structure, Atoms):
        atoms = structure.copy()
        _check_periodic(atoms, "the Atoms")
        return atoms
    if hasattr(structure, "lattice") and hasattr(structure, "frac_coords") \
            and hasattr(structure, "sites"):  # a pymatgen Structure
        occupancy: dict[str, dict[str, float]] = {}
        symbols = []
        for k, site in enumerate(structure.sites):
            occ = {_element_symbol(sp): float(x) for sp, x in site.species.items()}
            occupancy[str(k)] = occ
            symbols.append(max(occ, key=lambda s: occ[s]))
        atoms = Atoms(symbols=symbols, cell=np.asarray(structure.lattice.matrix, dtype=float),
                      scaled_positions=np.asarray(structure.frac_coords, dtype=float),
                      pbc=True)
        atoms.arrays["spacegroup_kinds"] = np.arange(len(atoms))
        atoms.info["occupancy"] = occupancy
        _check_periodic(atoms, "the Structure")
        return atoms
    raise ConfigError(f"structure must be a file path, an ase.Atoms or a pymatgen Structure, "
                      f"got {type(structure).__name__}")


def _element_symbol(species: Any) -> str:
    """The element symbol of a pymatgen Element, Species (ion) or DummySpecies."""
    for attr in ("element", "symbol"):
        v = getattr(species, attr, None)
        if v is not None:
            return v if isinstance(v, str) else _element_symbol(v)
    return str(species)


# --------------------------------------------------------------------------- the sites
@dataclass(frozen=True)
class StructureSites:
    """The mobile species' sites of a structure, in its own cell.

    Attributes
    ----------
    cell_A : ndarray, shape (3, 3)
    frac : ndarray, shape (n, 3)
        Fractional coordinates of the species sites.
    labels : list of str
        Site label of each (its symmetry orbit: ``Li1``, ``Li2``, ...).
    occupancy : ndarray, shape (n,)
        The species' occupancy of each site (1 for an ordered site).
    formula : str
        The chemical formula of the whole structure (as read).
    """

    cell_A: np.ndarray
    frac: np.ndarray
    labels: list[str]
    occupancy: np.ndarray
    formula: str


def _occupancies(atoms: Any) -> list[dict[str, float]]:
    """The occupancy of every atom by element (ASE's CIF reader and :func:`as_atoms` keep
    them in ``info["occupancy"]`` by site kind; else every atom is its own symbol, fully)."""
    sym = atoms.get_chemical_symbols()
    info = atoms.info.get("occupancy")
    kinds = atoms.arrays.get("spacegroup_kinds")
    if not info or kinds is None:
        return [{s: 1.0} for s in sym]
    out = []
    for k, s in zip(kinds, sym):
        occ = info.get(str(int(k)), info.get(int(k)))
        out.append({str(e): float(x) for e, x in occ.items()} if occ else {s: 1.0})
    return out


def _orbit_labels(atoms: Any, keep: np.ndarray, species: str) -> list[str]:
    """Site label of each kept atom: its symmetry orbit in the whole structure (spglib),
    named by the species and the orbit's rank (``Li1``, ``Li2``, ...)."""
    import spglib

    cell = (atoms.cell.array, atoms.get_scaled_positions(wrap=True), atoms.numbers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # spglib's error-handling notice
        data = spglib.get_symmetry_dataset(cell, symprec=1e-3)
    if data is None:  # no symmetry found: every site its own orbit
        orbit = np.arange(len(atoms))
    else:
        orbit = np.asarray(data.equivalent_atoms if hasattr(data, "equivalent_atoms")
                           else data["equivalent_atoms"])
    reps = list(dict.fromkeys(int(orbit[k]) for k in keep))
    return [f"{species}{reps.index(int(orbit[k])) + 1}" for k in keep]


def species_sites(structure: Any, species: str, where: str = "the structure") -> StructureSites:
    """The sites of `species` in a structure (those where its occupancy is nonzero).

    Raises
    ------
    ConfigError
        If the structure has no such site (naming the elements it has).
    """
    atoms = as_atoms(structure)
    species = _checks.name(species, "species")
    occ = _occupancies(atoms)
    x = np.array([o.get(species, 0.0) for o in occ])
    keep = np.flatnonzero(x > 0)
    if keep.size == 0:
        found = ", ".join(sorted({e for o in occ for e in o}))
        raise ConfigError(f"{where} has no {species!r} sites (it has {found})")
    return StructureSites(cell_A=np.array(atoms.cell.array, dtype=float),
                          frac=atoms.get_scaled_positions(wrap=True)[keep],
                          labels=_orbit_labels(atoms, keep, species),
                          occupancy=np.minimum(x[keep], 1.0),
                          formula=atoms.get_chemical_formula())


# --------------------------------------------------------------------------- hop types
def resolve_hop_type(key: str, names: list[str]) -> str:
    """The hop-type name that `key` means: a full name (``"Li1-Li2 3.478 A"``), the name
    without " A", or a label pair (``"Li1-Li2"`` or ``"Li2-Li1"``) that one type has.

    Raises
    ------
    ConfigError
        An unknown key (listing the types), or a label pair that several types share
        (listing them).
    """
    if key in names:
        return key
    if key + " A" in names:
        return key + " A"
    pair = key.strip()
    if "-" in pair and " " not in pair:
        a, b = pair.split("-", 1)
        want = {f"{a}-{b}", f"{b}-{a}"}
        hits = [n for n in names if n.split(" ")[0] in want]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise ConfigError(f"hop type {key!r} is ambiguous: {'; '.join(hits)} (give the "
                              "full name, with its distance)")
    raise ConfigError(f"unknown hop type {key!r}; the hop types are: {'; '.join(names)}")


def _with_barriers(rules: list[HopRule], barriers_eV: Any,
                   default_barrier_eV: float | None) -> list[HopRule]:
    """The hop rules with their barriers: one value for all, a sequence in type order, or a
    mapping by hop-type key (:func:`resolve_hop_type`), the rest taking
    `default_barrier_eV`."""
    names = [r.name for r in rules]
    n = len(rules)
    if isinstance(barriers_eV, dict):
        values: list[Any] = [default_barrier_eV] * n
        given: dict[str, str] = {}
        for key, v in barriers_eV.items():
            full = resolve_hop_type(str(key), names)
            if full in given:
                raise ConfigError(f"barriers_eV gives hop type {full!r} twice ({given[full]!r} "
                                  f"and {key!r})")
            given[full] = str(key)
            values[names.index(full)] = v
        missing = [names[k] for k in range(n) if values[k] is None]
        if missing:
            raise ConfigError(f"barriers_eV has no barrier for hop type {missing[0]!r} (give "
                              "it, or a barrier for all the others: --barrier EV)")
    elif np.ndim(barriers_eV) == 0:
        values = [barriers_eV] * n
    else:
        values = list(barriers_eV)
        if len(values) != n:
            raise ConfigError(f"barriers_eV has {len(values)} values but there are {n} hop "
                              "types: " + "; ".join(names))
    return [HopRule(r.name, r.a, r.b, r.lo, r.hi,
                    _checks.real(v, f"barrier of hop type {r.name!r}", lo=0.0))
            for r, v in zip(rules, values)]


def _hop_rules(positions: np.ndarray, kinds: np.ndarray, labels: list[str], cell: np.ndarray,
               cutoff_A: float, distance_tol_A: float, where: str,
               species: str) -> list[HopRule]:
    """Hop types: the site pairs within the cutoff, by label pair and clustered length."""
    i, j, D = _pairs_within(positions, cell, cutoff_A * (1 + 1e-9))
    if i.size == 0:
        raise ConfigError(f"no {species}-{species} pair in {where} is within cutoff = "
                          f"{cutoff_A:g} A")
    d = np.linalg.norm(D, axis=1)
    rules: list[HopRule] = []
    for ka in range(len(labels)):
        for kb in range(ka, len(labels)):
            m = ((kinds[i] == ka) & (kinds[j] == kb)) | ((kinds[i] == kb) & (kinds[j] == ka))
            ds = np.sort(np.unique(np.round(d[m], 6)))
            if ds.size == 0:
                continue
            for g in np.split(ds, np.flatnonzero(np.diff(ds) > distance_tol_A) + 1):
                rules.append(HopRule(f"{labels[ka]}-{labels[kb]} {g.mean():.3f} A",
                                     labels[ka], labels[kb], float(g[0]), float(g[-1]), 0.0))
    rules.sort(key=lambda r: (r.lo, r.name))
    return rules


# --------------------------------------------------------------------------- the model
def structure_model(structure: Any, species: str, cutoff_A: float, *,
                    barriers_eV: Any = DEFAULT_BARRIER_EV,
                    default_barrier_eV: float | None = None, size: Any = None,
                    distance_tol_A: float = 0.01, charge_e: float | None = None,
                    name: str | None = None) -> Material:
    """The site network of one species of a structure, with its composition.

    Parameters
    ----------
    structure : path, ase.Atoms or pymatgen Structure
    species : str
        Chemical symbol of the mobile ion ("Li", "Na", ...).
    cutoff_A : float
        Longest hop, Angstrom.
    barriers_eV : float, sequence or mapping, optional
        KRA barrier of each hop type, eV: one value for all, a sequence in hop-type order, or
        a mapping by hop-type key (full name, or the label pair when unambiguous); default
        0.3 for all.
    default_barrier_eV : float, optional
        With a mapping: the barrier of the hop types it does not name (default: every type
        must be named).
    size : int or 3 ints, optional
        Supercell of the structure's cell. Default: the smallest one wider than twice the
        cutoff along every axis (the minimum-image condition).
    distance_tol_A : float, optional
        Hops between the same labels whose lengths differ by less than this form one type.
    charge_e : float, optional
        Ion charge, e (default +2 for Mg, Ca, Zn, Sr, Ba, else +1).
    name : str, optional
        Network name (default: the file stem, or the formula).

    Returns
    -------
    Material
        ``network``; ``n_ions``, the structure's own composition (the species' occupancies
        summed over the supercell, rounded); ``size``; ``info`` with the source, the formula,
        the site labels with their occupancies and whether the size was chosen automatically.
    """
    where = Path(structure).name if isinstance(structure, (str, os.PathLike)) else \
        "the structure"
    cutoff = _checks.real(cutoff_A, "cutoff_A", lo=0.0, lo_open=True)
    tol = _checks.real(distance_tol_A, "distance_tol_A", lo=0.0)
    sites = species_sites(structure, species, where)
    auto = size is None
    size3 = minimum_image_size(sites.cell_A, cutoff) if auto else _checks.size3(size)
    uniq = sorted(set(sites.labels))
    kinds = np.array([uniq.index(s) for s in sites.labels], dtype=np.int64)
    positions, kinds_all, sc = _supercell(sites.frac, kinds, sites.cell_A, size3)
    _check_width(sc, cutoff, size3)
    rules = _hop_rules(positions, kinds_all, uniq, sc, cutoff, tol, where, species)
    if default_barrier_eV is not None:
        default_barrier_eV = _checks.real(default_barrier_eV, "default_barrier_eV", lo=0.0)
    rules = _with_barriers(rules, barriers_eV, default_barrier_eV)
    q = (2.0 if species in _DIVALENT else 1.0) if charge_e is None else charge_e
    if name is None:
        name = Path(structure).stem if isinstance(structure, (str, os.PathLike)) \
            else sites.formula
    net = network_from_sites(sc, positions, uniq, kinds_all, rules, charge_e=q, name=name,
                             unit=(sites.frac, sites.cell_A, size3))
    n_cells = int(np.prod(size3))
    ions = float(sites.occupancy.sum()) * n_cells
    label_occ: dict[str, float] = {}
    for lab, x in zip(sites.labels, sites.occupancy):
        label_occ.setdefault(lab, float(x))
    info = {"source": str(structure) if isinstance(structure, (str, os.PathLike)) else
            type(structure).__name__, "formula": sites.formula, "species": species,
            "cutoff_A": cutoff, "auto_size": auto, "site_occupancy": label_occ,
            "ions_from_occupancy": ions}
    return Material(name=name, network=net, n_ions=int(round(ions)),
                    options={"species": species, "cutoff_A": cutoff}, size=size3, info=info)


def from_structure(structure: Any, species: str, cutoff: float, *,
                   barriers_eV: Any = DEFAULT_BARRIER_EV, size: Any = None,
                   distance_tol_A: float = 0.01, charge_e: float | None = None,
                   name: str | None = None,
                   default_barrier_eV: float | None = None) -> SiteNetwork:
    """A SiteNetwork of one species' sites of a structure (a file path, an ase.Atoms or a
    pymatgen Structure), with hops within `cutoff` (Angstrom); see :func:`structure_model`
    for the parameters (its ``network``)."""
    return structure_model(structure, species, cutoff, barriers_eV=barriers_eV, size=size,
                           distance_tol_A=distance_tol_A, charge_e=charge_e, name=name,
                           default_barrier_eV=default_barrier_eV).network


def from_cif(path: Any, species: str, cutoff: float, *, barriers_eV: Any = DEFAULT_BARRIER_EV,
             distance_tol_A: float = 0.01, charge_e: float | None = None,
             size: Any = None, name: str | None = None) -> SiteNetwork:
    """A SiteNetwork of one species' sites of a structure file (CIF or any format ASE
    reads); :func:`from_structure` of a path. The supercell is chosen automatically (the
    minimum-image condition for `cutoff`) unless `size` is given."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"structure file {str(p)!r} does not exist")
    return from_structure(p, species, cutoff, barriers_eV=barriers_eV, size=size,
                          distance_tol_A=distance_tol_A, charge_e=charge_e, name=name)


# --------------------------------------------------------------------------- describing
def describe_structure(structure: Any, species: str, cutoff_A: float, *,
                       size: Any = None) -> str:
    """What ``kmc lattices show FILE --species X --cutoff R`` prints: the species' sites with
    their occupancies, the supercell (and why), and every hop type with its distance range
    and how many hops of it start at a site."""
    m = structure_model(structure, species, cutoff_A, size=size)
    net = m.network
    info = m.info
    lines = [f"{net.name}: {info['formula']} (source {info['source']})",
             f"  mobile species {species}, charge {net.charge_e:g} e; cutoff {cutoff_A:g} A",
             f"  supercell {m.size[0]} x {m.size[1]} x {m.size[2]} "
             + ("(the smallest wider than twice the cutoff along every axis)" if info["auto_size"]
                else "(as given)")
             + f": {net.n_sites} sites",
             "  sites (label: occupancy, sites in the supercell):"]
    counts = np.bincount(net.site_types, minlength=len(net.site_type_names))
    for k, lab in enumerate(net.site_type_names):
        lines.append(f"    {lab:<8s} {info['site_occupancy'][lab]:.3g}  {int(counts[k])}")
    n_ions = info["ions_from_occupancy"]
    lines.append(f"  composition from the occupancies: {n_ions:.6g} ions on {net.n_sites} sites"
                 + ("" if m.n_ions < net.n_sites else
                    " (no vacancy: give --vacancies N or --occupancy C to run it)"))
    lines.append("  hop types (use the name or, when unique, the label pair in --barriers):")
    lengths = net.hop_lengths_A
    for t, tname in enumerate(net.hop_type_names):
        sel = net.hop_types == t
        lo, hi = float(lengths[sel].min()), float(lengths[sel].max())
        src_types = net.site_types[net.hop_src[sel]]
        per_site = ", ".join(
            f"{net.site_type_names[s]} {np.count_nonzero(src_types == s) / counts[s]:.3g}"
            for s in np.unique(src_types))
        lines.append(f"    {tname:<24s} {lo:.3f}-{hi:.3f} A  per site: {per_site}  "
                     f"barrier {float(net.hop_barriers_eV[sel][0]):g} eV")
    return "\n".join(lines)
