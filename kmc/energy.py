"""Energy models: cluster expansions and local cluster expansions of a hop's environment.

Two kinds of model change a hop's rate beyond site energies, pair energies and one fixed
KRA barrier per hop:

* :class:`ClusterExpansion` -- a lattice Hamiltonian ``E = sum_c V_c prod_{i in c} n_i``
  over clusters of up to 4 sites in the occupation basis (``n_i = 1`` when site ``i`` holds
  an ion). Static species (Si/P on their sites, dopants) are "static sites", fixed 0 or 1,
  and are folded into lower-order terms when the model is attached: a cluster with a
  static site of n = 0 vanishes, one with n = 1 loses that site. Points become site
  energies, pairs become the network's pair energies (so a model of pairs only runs the
  engine's pair path, bit for bit), triplets and quadruplets the engine's clusters, whose
  energy change per hop the engine computes exactly and locally.
* :class:`LocalClusterExpansion` -- a function of the ordered environment of a hop (a list
  of sites around it), ``e0 + sum_k K_k prod_{p in cluster k} b(n_{env[p]})``, with the
  basis ``b`` either the occupation basis (b(0), b(1)) = (0, 1) or kMCpy's +-1 basis
  (b(0), b(1)) = (+1, -1) (kMCpy: occupied -1, vacant +1). As ``kra`` it gives the hop's
  E_kra (as kMCpy and CASM fit it); as ``de`` it is added to the hop's energy change
  (kMCpy's "site" model: the hop in kMCpy's backward direction gets the opposite sign).
  Environment entries that are not network sites are static with a fixed n; they are
  folded in, so that the engine sees only the dynamic positions.

:func:`attach` writes the folded models into a :class:`~kmc.lattice.SiteNetwork` (the
arrays the engine reads, stored in run files with the network, so a resumed run is bit
for bit the same) together with the models' own description (``model_info``), which
:func:`summary` prints. :func:`hop_energetics` evaluates the (E_kra, dE) of hops in a
configuration in plain numpy (the reference the engine is tested against), and
:func:`check_detailed_balance` tests Kolmogorov's criterion on short cycles: a model whose
dE does not derive from an energy function (kMCpy's local "site" expansion, or an E_kra
that depends on the hop's own end sites) can violate detailed balance, and a run of such a
model says so.

Energies are in eV throughout (kMCpy's files are in meV; :mod:`kmc.interop.kmcpy`
converts).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .constants import KB_EV_PER_K, MAX_CLUSTER_SITES
from .errors import ConfigError

__all__ = ["ClusterExpansion", "LocalClusterExpansion", "BASES", "attach", "summary",
           "hop_energetics", "check_detailed_balance", "DetailedBalanceReport"]

#: Named bases of a local cluster expansion: (b(n=0), b(n=1)).
BASES: dict[str, tuple[float, float]] = {"occupation": (0.0, 1.0), "spin": (1.0, -1.0)}

#: A violation of Kolmogorov's criterion below this (eV) is rounding.
DETAILED_BALANCE_TOL_EV = 1e-9


def _clusters(value: Any, what: str, *, allow_negative: bool) -> tuple[tuple[int, ...], ...]:
    """Validated tuple of clusters (tuples of 1..MAX_CLUSTER_SITES distinct ints)."""
    try:
        out = tuple(tuple(int(x) for x in c) for c in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a sequence of tuples of integers, got "
                          f"{value!r:.80}") from None
    for k, c in enumerate(out):
        if not 1 <= len(c) <= MAX_CLUSTER_SITES:
            raise ConfigError(f"{what}[{k}] = {c} has {len(c)} sites; 1..{MAX_CLUSTER_SITES} "
                              "are supported")
        if len(set(c)) != len(c):
            raise ConfigError(f"{what}[{k}] = {c} names a site twice")
        if not allow_negative and min(c) < 0:
            raise ConfigError(f"{what}[{k}] = {c} names a negative position")
    return out


def _coefficients(value: Any, what: str, n: int, clusters_what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ConfigError(f"{what} has {arr.size} values but there are {n} {clusters_what}; "
                          "give one per cluster")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{what} must be finite")
    return arr


#: Padding of the (n_clusters, 4) site array of a ClusterExpansion (never a site).
_PAD = np.iinfo(np.int64).min
#: A ClusterExpansion with more clusters than this is described by counts in run files
#: (its folded clusters are stored in full as the network's arrays).
MAX_DESCRIBED_CLUSTERS = 10_000


def _cluster_array(value: Any) -> np.ndarray:
    """Clusters as an (n, 4) int64 array padded with _PAD (from tuples or an int array)."""
    if isinstance(value, np.ndarray) and value.ndim == 2 and value.dtype.kind in "iu":
        if not 1 <= value.shape[1] <= MAX_CLUSTER_SITES:
            raise ConfigError(f"clusters has {value.shape[1]} sites per cluster; 1.."
                              f"{MAX_CLUSTER_SITES} are supported")
        out = np.full((value.shape[0], MAX_CLUSTER_SITES), _PAD, np.int64)
        out[:, :value.shape[1]] = value
        return out
    rows = _clusters(value, "clusters", allow_negative=True)
    out = np.full((len(rows), MAX_CLUSTER_SITES), _PAD, np.int64)
    for k, c in enumerate(rows):
        out[k, :len(c)] = c
    return out


@dataclass(frozen=True, eq=False)
class ClusterExpansion:
    """A cluster expansion ``E = sum_c V_c prod_{i in c} n_i`` (occupation basis), eV.

    Parameters
    ----------
    clusters : sequence of tuples of int, or int array of shape (n_clusters, k)
        The clusters, 1..4 distinct sites each. A site ``i >= 0`` is network site ``i``; a
        site ``-1 - k`` is static site ``k``, whose occupation is ``static_occupation[k]``.
        An array (all clusters of k sites) is the fast form for large lattices.
    eci_eV : array_like of float
        The effective cluster interaction V of each cluster, eV.
    static_occupation : array_like of int, optional
        Fixed occupation (0 or 1) of each static site (default: none).
    name : str
        A name for summaries and run files.
    """

    clusters: Any
    eci_eV: np.ndarray
    static_occupation: np.ndarray = field(default=None)  # type: ignore[assignment]
    name: str = "cluster expansion"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        pad = _cluster_array(self.clusters)
        set_(self, "_pad", pad)
        n = pad.shape[0]
        set_(self, "eci_eV", _coefficients(self.eci_eV, "eci_eV", n, "clusters"))
        st = np.zeros(0, np.int8) if self.static_occupation is None else np.asarray(
            self.static_occupation)
        if st.ndim != 1 or (st.size and not np.all((st == 0) | (st == 1))):
            raise ConfigError("static_occupation must be a 1-d array of 0 and 1")
        set_(self, "static_occupation", st.astype(np.int8))
        used = pad != _PAD
        if n and not used[:, 0].all():
            raise ConfigError(f"clusters[{int(np.argmin(used[:, 0]))}] is empty")
        srt = np.sort(np.where(used, pad, np.iinfo(np.int64).max), axis=1)
        twice = np.flatnonzero(np.any((srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] != np.iinfo(
            np.int64).max), axis=1))
        if twice.size:
            k = int(twice[0])
            raise ConfigError(f"clusters[{k}] = {self._row(k)} names a site twice")
        bad = np.argwhere(used & (pad < 0) & (-1 - pad >= st.size))
        if bad.size:
            k, p = (int(x) for x in bad[0])
            raise ConfigError(f"clusters[{k}] = {self._row(k)} names static site "
                              f"{-1 - int(pad[k, p])}, but static_occupation has {st.size} "
                              "entries")

    def _row(self, k: int) -> tuple[int, ...]:
        return tuple(int(x) for x in self._pad[k] if x != _PAD)

    @property
    def n_clusters(self) -> int:
        """Number of clusters."""
        return int(self._pad.shape[0])

    @property
    def orders(self) -> np.ndarray:
        """Number of sites of each cluster."""
        return np.count_nonzero(self._pad != _PAD, axis=1)

    def _occupations(self, occupied: Any) -> np.ndarray:
        """n of every cluster position (1 for padding), (n_clusters, 4)."""
        occ = np.asarray(occupied, dtype=bool)
        pad = self._pad
        out = np.ones(pad.shape, dtype=bool)
        dyn = pad >= 0
        if dyn.any() and pad[dyn].max() >= occ.shape[0]:
            raise ConfigError(f"a cluster names site {int(pad[dyn].max())}, but the "
                              f"configuration has {occ.shape[0]} sites")
        out[dyn] = occ[pad[dyn]]
        stat = (pad < 0) & (pad != _PAD)
        out[stat] = self.static_occupation[-1 - pad[stat]].astype(bool)
        return out

    def energy_eV(self, occupied: Any) -> float:
        """The energy of a configuration, eV, summed over the clusters (a reference).

        Parameters
        ----------
        occupied : array_like of bool
            Occupation of the network sites.
        """
        return float(self.eci_eV[self._occupations(occupied).all(axis=1)].sum())

    def folded(self, n_sites: int) -> tuple[float, np.ndarray, tuple[np.ndarray, ...],
                                             tuple[np.ndarray, ...]]:
        """The model with the static sites folded in, equal site sets merged.

        Returns
        -------
        constant_eV : float
        site_energies_eV : (n_sites,) array
        pairs : (i, j, J_eV) arrays, i < j
        clusters : (ptr, sites, V_eV) of the clusters of 3..4 sites (CSR, sites sorted)
        """
        pad, V = self._pad, self.eci_eV
        stat = (pad < 0) & (pad != _PAD)
        svals = np.zeros(pad.shape, np.int8)
        svals[stat] = self.static_occupation[-1 - pad[stat]]
        keep = ~np.any(stat & (svals == 0), axis=1)  # a static site of n = 0: no energy
        big = np.iinfo(np.int64).max
        dyn = np.sort(np.where(pad >= 0, pad, big)[keep], axis=1)  # the network sites first
        V = V[keep]
        order = np.count_nonzero(dyn != big, axis=1)
        if dyn.size and (dyn[dyn != big] >= n_sites).any():
            k = int(np.flatnonzero(keep)[np.flatnonzero((dyn != big) & (dyn >= n_sites))[0]
                                         // MAX_CLUSTER_SITES])
            bad_site = max(x for x in self._row(k) if x >= 0)
            raise ConfigError(f"clusters[{k}] = {self._row(k)} names site {bad_site}, but the "
                              f"network has {n_sites} sites (0..{n_sites - 1})")
        const = float(V[order == 0].sum())
        site_e = np.bincount(dyn[order == 1, 0], weights=V[order == 1], minlength=n_sites)

        def merged(rows: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            if rows.shape[0] == 0:
                return rows, vals
            u, inv = np.unique(rows, axis=0, return_inverse=True)
            return u, np.bincount(inv.ravel(), weights=vals, minlength=u.shape[0])

        pu, pJ = merged(dyn[order == 2, :2], V[order == 2])
        hi = order >= 3
        hu, hV = merged(dyn[hi], V[hi])
        sizes = np.count_nonzero(hu != big, axis=1) if hu.size else np.zeros(0, np.int64)
        ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        sites = hu[hu != big] if hu.size else np.zeros(0, np.int64)
        return (const, site_e, (pu[:, 0] if pu.size else np.zeros(0, np.int64),
                                pu[:, 1] if pu.size else np.zeros(0, np.int64), pJ),
                (ptr, sites, hV))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description: the clusters and ECIs in eV (up to
        MAX_DESCRIBED_CLUSTERS clusters; a larger model by its counts per order)."""
        orders = self.orders
        d: dict[str, Any] = {
            "kind": "ClusterExpansion", "name": self.name, "n_clusters": self.n_clusters,
            "order_counts": {str(k): int((orders == k).sum()) for k in range(1, 5)},
            "max_abs_eci_eV": {str(k): float(np.abs(self.eci_eV[orders == k]).max(initial=0))
                               for k in range(1, 5)},
            "static_occupation": self.static_occupation.tolist()}
        if self.n_clusters <= MAX_DESCRIBED_CLUSTERS:
            d["clusters"] = [list(self._row(k)) for k in range(self.n_clusters)]
            d["eci_eV"] = self.eci_eV.tolist()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ClusterExpansion:
        """The inverse of :meth:`to_dict` (of a model described in full)."""
        if "clusters" not in d:
            raise ConfigError(f"the description of {d.get('name')!r} holds counts only "
                              f"({d.get('n_clusters')} clusters); its folded clusters are the "
                              "network's arrays")
        return cls([tuple(c) for c in d["clusters"]], d["eci_eV"],
                   d.get("static_occupation"), d.get("name", "cluster expansion"))

    def __str__(self) -> str:
        return _describe(self.to_dict())


@dataclass(frozen=True, eq=False)
class LocalClusterExpansion:
    """A local cluster expansion of a hop's environment (kMCpy's and CASM's local models).

    ``value = e0_eV + sum_k coefficients_eV[k] prod_{p in clusters[k]} b(n_{env[p]})``, eV,
    for an ordered environment ``env`` of the hop.

    Parameters
    ----------
    e0_eV : float
        The constant (kMCpy's ``empty_cluster``), eV.
    clusters : sequence of tuples of int
        Environment positions (0-based) of each cluster, 1..4 distinct positions.
    coefficients_eV : array_like of float
        One coefficient per cluster, eV (kMCpy: the orbit's ECI, repeated for every cluster
        of the orbit).
    basis : str or (float, float)
        "occupation" (b(0), b(1)) = (0, 1), "spin" (kMCpy's: (+1, -1)) or the pair of values
        of b for a vacant (n = 0) and an occupied (n = 1) position.
    n_env : int, optional
        The number of environment positions (default: the largest position used + 1).
    name : str
        A name for summaries and run files.
    """

    e0_eV: float
    clusters: tuple[tuple[int, ...], ...]
    coefficients_eV: np.ndarray
    basis: tuple[float, float] = (0.0, 1.0)
    n_env: int = -1
    name: str = "local cluster expansion"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        e0 = float(self.e0_eV)
        if not np.isfinite(e0):
            raise ConfigError(f"e0_eV = {self.e0_eV!r} must be finite")
        set_(self, "e0_eV", e0)
        cl = _clusters(self.clusters, "clusters", allow_negative=False)
        set_(self, "clusters", cl)
        set_(self, "coefficients_eV",
             _coefficients(self.coefficients_eV, "coefficients_eV", len(cl), "clusters"))
        basis = BASES.get(self.basis) if isinstance(self.basis, str) else self.basis
        if basis is None:
            raise ConfigError(f"basis = {self.basis!r} is not one of {', '.join(BASES)} or a "
                              "pair of floats")
        try:
            b = (float(basis[0]), float(basis[1]))
        except (TypeError, ValueError, IndexError):
            raise ConfigError(f"basis = {self.basis!r} must be a name or (b(0), b(1))") from None
        if not all(np.isfinite(b)):
            raise ConfigError(f"basis = {self.basis!r} must be finite")
        set_(self, "basis", b)
        used = 1 + max((max(c) for c in cl), default=-1)
        n_env = used if int(self.n_env) < 0 else int(self.n_env)
        if n_env < used:
            raise ConfigError(f"a cluster names environment position {used - 1}, but n_env = "
                              f"{n_env}")
        set_(self, "n_env", n_env)

    def evaluate_eV(self, n_env: Any) -> np.ndarray:
        """The model on environments given by their occupations, eV.

        Parameters
        ----------
        n_env : array_like of int, shape (..., n_env)
            Occupation (0 or 1) of every environment position.
        """
        n = np.asarray(n_env)
        if n.shape[-1] != self.n_env:
            raise ConfigError(f"an environment has {n.shape[-1]} positions, the model "
                              f"{self.name!r} has {self.n_env}")
        b = np.where(n.astype(bool), self.basis[1], self.basis[0])
        out = np.full(n.shape[:-1], self.e0_eV)
        for c, k in zip(self.clusters, self.coefficients_eV, strict=True):
            out = out + k * np.prod(b[..., list(c)], axis=-1)
        return out

    def folded(self, static: np.ndarray, static_n: np.ndarray
               ) -> tuple[float, list[tuple[tuple[int, ...], float]]]:
        """The model with the static positions (mask `static`, occupations `static_n`)
        folded in: (constant eV, [(dynamic positions renumbered, coefficient eV)]), in the
        order of the clusters; a cluster of static positions only adds to the constant."""
        new_index = np.cumsum(~static) - 1
        e0 = self.e0_eV
        terms: list[tuple[tuple[int, ...], float]] = []
        for c, k in zip(self.clusters, self.coefficients_eV, strict=True):
            coef = float(k)
            dyn = []
            for p in c:
                if static[p]:
                    coef *= self.basis[1] if static_n[p] else self.basis[0]
                else:
                    dyn.append(int(new_index[p]))
            if not dyn:
                e0 += coef
            elif coef != 0.0:
                terms.append((tuple(dyn), coef))
        return e0, terms

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description."""
        return {"kind": "LocalClusterExpansion", "name": self.name, "e0_eV": self.e0_eV,
                "clusters": [list(c) for c in self.clusters],
                "coefficients_eV": self.coefficients_eV.tolist(), "basis": list(self.basis),
                "n_env": self.n_env}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LocalClusterExpansion:
        """The inverse of :meth:`to_dict`."""
        return cls(d["e0_eV"], [tuple(c) for c in d["clusters"]], d["coefficients_eV"],
                   tuple(d["basis"]), d.get("n_env", -1), d.get("name", "local cluster expansion"))

    def __str__(self) -> str:
        return _describe(self.to_dict())


def _describe(d: Mapping[str, Any]) -> str:
    """One readable paragraph about a model's description (to_dict)."""
    if d.get("kind") == "ClusterExpansion":
        counts = d.get("order_counts", {})
        top = d.get("max_abs_eci_eV", {})
        parts = [f"{counts[str(k)]} {word} (|V| <= {top[str(k)]:.4g} eV)"
                 for k, word in ((1, "points"), (2, "pairs"), (3, "triplets"),
                                 (4, "quadruplets")) if counts.get(str(k))]
        n_static = len(d.get("static_occupation", []))
        return (f"ClusterExpansion {d.get('name')!r}: " + ", ".join(parts or ["no clusters"])
                + (f"; {n_static} static sites folded in" if n_static else ""))
    if d.get("kind") == "LocalClusterExpansion":
        orders = np.array([len(c) for c in d["clusters"]], dtype=int)
        coef = np.asarray(d["coefficients_eV"], dtype=float)
        counts = ", ".join(f"{int((orders == k).sum())} of order {k}" for k in range(1, 5)
                           if (orders == k).any())
        role = f" as {d['role']}" if "role" in d else ""
        return (f"LocalClusterExpansion {d.get('name')!r}{role}: e0 = {d['e0_eV']:.6g} eV, "
                f"{len(coef)} clusters ({counts or 'none'}) on {d.get('n_env')} environment "
                f"positions, {int(np.count_nonzero(coef))} nonzero (|K| <= "
                f"{np.abs(coef).max(initial=0.0):.4g} eV), basis b(0), b(1) = "
                f"{tuple(d['basis'])}")
    return json.dumps(d)[:200]


# --------------------------------------------------------------------------------------------
# attaching models to a network
# --------------------------------------------------------------------------------------------
def _per_hop_models(model: Any, network: Any, role: str) -> tuple[list[Any], np.ndarray]:
    """(distinct models, index of each hop's model or -1) for a model or {hop type: model}."""
    m = network.n_hops
    if model is None:
        return [], np.full(m, -1, np.int64)
    if isinstance(model, LocalClusterExpansion):
        return [model], np.zeros(m, np.int64)
    if isinstance(model, Mapping):
        models, idx = [], np.full(m, -1, np.int64)
        for name, mod in model.items():
            if name not in network.hop_type_names:
                raise ConfigError(f"{role}: hop type {name!r} is not one of the network's "
                                  f"({', '.join(network.hop_type_names)})")
            if not isinstance(mod, LocalClusterExpansion):
                raise ConfigError(f"{role}[{name!r}] must be a LocalClusterExpansion")
            idx[network.hop_types == network.hop_type_names.index(name)] = len(models)
            models.append(mod)
        return models, idx
    raise ConfigError(f"{role} must be a LocalClusterExpansion or a mapping from hop type "
                      f"names to them, got {type(model).__name__}")


def attach(network: Any, *, cluster_expansion: ClusterExpansion | None = None,
           environments: Any = None, static_n: Any = None, kra: Any = None, de: Any = None,
           de_sign: Any = None, check_reversal: bool = True) -> Any:
    """A network with energy models attached (a new :class:`~kmc.lattice.SiteNetwork`).

    Parameters
    ----------
    network : SiteNetwork
        The network (its hop order is the canonical one: index hops as ``network.hop_src``).
    cluster_expansion : ClusterExpansion, optional
        Folded and added: points to the site energies, pairs to the pair energies (merged
        with the network's), triplets and quadruplets as the engine's clusters.
    environments : array_like of int, shape (n_hops, k), optional
        The ordered environment of every hop: a network site, or -1 for a static position
        whose occupation is ``static_n`` there. Required with `kra` or `de`.
    static_n : array_like of int, shape (n_hops, k), optional
        Occupation (0 or 1) of the static positions (ignored elsewhere; default 0).
    kra : LocalClusterExpansion or {hop type name: LocalClusterExpansion}, optional
        E_kra of the hops (of the named types; the others keep their fixed barrier), eV.
    de : LocalClusterExpansion or {hop type name: ...}, optional
        A term added to the hops' energy change, eV, times `de_sign`.
    de_sign : array_like of float, shape (n_hops,), optional
        +1 or -1 per hop (default +1): kMCpy's "site" model enters with -1 for a hop in the
        backward direction of its event.
    check_reversal : bool
        Require every hop's environment to hold the same sites and static occupations as
        its reverse's (as a set): the hop and its reverse see one environment.

    Returns
    -------
    SiteNetwork

    Raises
    ------
    ConfigError
        Naming the bad value: a model of the wrong size for the environments, an
        environment that is not its reverse's, a site outside the network, ...
    """
    from .lattice import as_site_network

    net = as_site_network(network, "network")
    if net.n_events and (kra is not None or de is not None):
        raise ConfigError("local models are not supported together with multi-ion events")
    if net.has_energy_models:
        raise ConfigError(f"network {net.name!r} already has energy models attached; attach "
                          "all models in one call")
    changes: dict[str, Any] = {}
    info: list[str] = list(net.model_info)
    n, m = net.n_sites, net.n_hops

    if cluster_expansion is not None:
        if not isinstance(cluster_expansion, ClusterExpansion):
            raise ConfigError("cluster_expansion must be a ClusterExpansion, got "
                              f"{type(cluster_expansion).__name__}")
        const, site_e, (pi, pj, pJ), (hptr, hsites, hV) = cluster_expansion.folded(n)
        changes["site_energies_eV"] = net.site_energies_eV + site_e
        # the network's pairs and the model's, equal pairs merged
        ai = np.concatenate([np.minimum(net.pair_i, net.pair_j), pi]).astype(np.int64)
        aj = np.concatenate([np.maximum(net.pair_i, net.pair_j), pj]).astype(np.int64)
        aJ = np.concatenate([net.pair_energies_eV, pJ])
        key, inv = np.unique(ai * n + aj, return_inverse=True)
        changes["pair_i"] = key // n
        changes["pair_j"] = key % n
        changes["pair_energies_eV"] = np.bincount(inv.ravel(), weights=aJ,
                                                  minlength=key.shape[0])
        if hV.size:
            changes["cluster_ptr"] = hptr
            changes["cluster_sites"] = hsites
            changes["cluster_energies_eV"] = hV
        d = cluster_expansion.to_dict()
        d["constant_eV"] = const
        info.append(json.dumps(d))

    if kra is not None or de is not None:
        if environments is None:
            raise ConfigError("kra and de models need the hops' environments")
        env = np.asarray(environments)
        if env.ndim != 2 or env.shape[0] != m or env.dtype.kind not in "iu":
            raise ConfigError(f"environments must be integers of shape (n_hops = {m}, k), got "
                              f"{env.dtype} {env.shape}")
        k = env.shape[1]
        bad = np.argwhere((env < -1) | (env >= n))
        if bad.size:
            h, p = bad[0]
            raise ConfigError(f"environments[{h}, {p}] = {env[h, p]} is not a site of the "
                              f"network (0..{n - 1}) or -1 (static)")
        static = env < 0
        sn = np.zeros(env.shape, np.int8) if static_n is None else np.asarray(static_n)
        if sn.shape != env.shape or not np.all((sn == 0) | (sn == 1)):
            raise ConfigError(f"static_n must be 0 or 1 of shape {env.shape}")
        sn = np.where(static, sn, 0).astype(np.int8)
        if check_reversal:
            rev = net.hop_rev
            key = np.where(static, -2 - sn, env)  # a static position by its occupation
            a = np.sort(key, axis=1)
            bad_h = np.flatnonzero(np.any(a != a[rev], axis=1))
            if bad_h.size:
                h = int(bad_h[0])
                raise ConfigError(
                    f"the environment of hop {h} ({net.hop_src[h]} -> {net.hop_dst[h]}) is "
                    f"not that of its reverse hop {int(rev[h])}: {sorted(key[h].tolist())} vs "
                    f"{sorted(key[rev[h]].tolist())} (sites; -2 and -3 are static n = 0 and "
                    "1); a hop and its reverse must see one environment")
        sign = np.ones(m) if de_sign is None else np.asarray(de_sign, dtype=np.float64)
        if sign.shape != (m,) or not np.all(np.abs(sign) == 1.0):
            raise ConfigError(f"de_sign must be +1 or -1 for each of the {m} hops")
        roles = []
        for role, model in (("kra", kra), ("de", de)):
            models, idx = _per_hop_models(model, net, role)
            for mod in models:
                if mod.n_env != k:
                    raise ConfigError(f"{role} model {mod.name!r} has {mod.n_env} environment "
                                      f"positions, but environments has {k} per hop")
                dd = mod.to_dict()
                dd["role"] = role
                info.append(json.dumps(dd))
            roles.append((role, models, idx))
        # one engine model per distinct (role, model, sign, static pattern): fold each once
        e0s: list[float] = []
        bases: list[tuple[float, float]] = []
        tptr = [0]
        tpos: list[list[int]] = []
        tK: list[float] = []
        hop_model = {}
        for role, models, idx in roles:
            s = sign if role == "de" else np.ones(m)
            # hops with one model, sign and static pattern share one folded model
            cols = [idx, (s > 0).astype(np.int64)]
            for b in range(0, k, 62):  # the static mask and occupations as bit words
                w = 1 << np.arange(min(62, k - b), dtype=np.int64)
                cols += [static[:, b:b + 62].astype(np.int64) @ w, sn[:, b:b + 62].astype(np.int64) @ w]
            keys = np.column_stack(cols)
            uniq, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
            inv = inv.ravel()
            of_group = np.full(len(uniq), -1, np.int64)
            for u, row in enumerate(uniq):
                q = int(row[0])
                if q < 0:
                    continue
                mod = models[q]
                h0 = int(first[u])
                e0, terms = mod.folded(static[h0], sn[h0])
                sg = 1.0 if row[1] else -1.0
                of_group[u] = len(e0s)
                e0s.append(sg * e0)
                bases.append(mod.basis)
                for pos, coef in terms:
                    tpos.append(list(pos) + [-1] * (MAX_CLUSTER_SITES - len(pos)))
                    tK.append(sg * coef)
                tptr.append(len(tK))
            hop_model[role] = of_group[inv]
        dyn = ~static
        changes["env_ptr"] = np.concatenate([[0], np.cumsum(dyn.sum(axis=1))])
        changes["env_sites"] = env[dyn]  # row-major: each hop's dynamic positions in order
        changes["local_model_e0_eV"] = np.array(e0s, dtype=np.float64)
        changes["local_model_basis"] = np.array(bases, dtype=np.float64).reshape(-1, 2)
        changes["local_model_term_ptr"] = np.array(tptr, dtype=np.int64)
        changes["local_model_term_pos"] = np.array(tpos, dtype=np.int32).reshape(-1,
                                                                                 MAX_CLUSTER_SITES)
        changes["local_model_term_eV"] = np.array(tK, dtype=np.float64)
        changes["hop_kra_model"] = hop_model["kra"]
        changes["hop_de_model"] = hop_model["de"]
    elif environments is not None:
        raise ConfigError("environments given without a kra or de model")
    changes["model_info"] = tuple(info)
    return net.replace(**changes)


def summary(network: Any) -> str:
    """A readable summary of a network's energy models (several lines; "" without)."""
    lines = []
    for s in getattr(network, "model_info", ()):
        try:
            lines.append(_describe(json.loads(s)))
        except ValueError:
            lines.append(str(s)[:200])
    nc = getattr(network, "n_clusters", 0)
    if nc:
        orders = np.diff(network.cluster_ptr)
        lines.append(f"engine: {nc} clusters beyond pairs ("
                     + ", ".join(f"{int((orders == k).sum())} of {k} sites" for k in (2, 3, 4)
                                 if (orders == k).any()) + ")")
    nl = getattr(network, "n_local_models", 0)
    if nl:
        lines.append(f"engine: {nl} folded local models, "
                     f"{int(network.local_model_term_ptr[-1])} terms; "
                     f"{int(np.count_nonzero(network.hop_kra_model >= 0))} hops with an E_kra "
                     f"model, {int(np.count_nonzero(network.hop_de_model >= 0))} with a dE model")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# reference evaluation and detailed balance
# --------------------------------------------------------------------------------------------
def _local_value(net: Any, q: int, h: int, occ: np.ndarray) -> float:
    b0, b1 = net.local_model_basis[q]
    env = net.env_sites[net.env_ptr[h]:net.env_ptr[h + 1]]
    v = float(net.local_model_e0_eV[q])
    for t in range(net.local_model_term_ptr[q], net.local_model_term_ptr[q + 1]):
        x = float(net.local_model_term_eV[t])
        for p in net.local_model_term_pos[t]:
            if p < 0:
                break
            x *= b1 if occ[env[p]] else b0
        v += x
    return v


def configuration_energy_eV(network: Any, occupied: Any) -> float:
    """The energy of a configuration from site, pair and cluster energies, eV (no field,
    no local models: those need not derive from an energy)."""
    net = network
    occ = np.asarray(occupied, dtype=bool)
    e = float(net.site_energies_eV[occ].sum())
    if net.n_pairs:
        e += float(net.pair_energies_eV[occ[net.pair_i] & occ[net.pair_j]].sum())
    if net.n_clusters:
        n_occ = np.add.reduceat(occ[net.cluster_sites].astype(np.int64), net.cluster_ptr[:-1])
        e += float(net.cluster_energies_eV[n_occ == np.diff(net.cluster_ptr)].sum())
    return e


class _Index:
    """Per-site lists of a network's pairs and clusters (built once per network)."""

    def __init__(self, net: Any) -> None:
        n = net.n_sites
        if net.n_pairs:
            self.pair_ptr, self.pair_nbr, self.pair_J = net.interaction_csr()
        else:
            self.pair_ptr = np.zeros(n + 1, np.int64)
            self.pair_nbr = np.zeros(0, np.int64)
            self.pair_J = np.zeros(0)
        if net.n_clusters:
            sizes = np.diff(net.cluster_ptr)
            owner = np.repeat(np.arange(net.n_clusters), sizes)
            order = np.argsort(net.cluster_sites, kind="stable")
            self.cl_of_site = owner[order]
            self.cl_ptr = np.concatenate([[0], np.cumsum(np.bincount(net.cluster_sites,
                                                                     minlength=n))])
        else:
            self.cl_of_site = np.zeros(0, np.int64)
            self.cl_ptr = np.zeros(n + 1, np.int64)

    def clusters_of(self, s: int) -> np.ndarray:
        return self.cl_of_site[self.cl_ptr[s]:self.cl_ptr[s + 1]]


def _index(net: Any) -> _Index:
    idx = net.__dict__.get("_energy_index")
    if idx is None:
        idx = _Index(net)
        net.__dict__["_energy_index"] = idx
    return idx


def _local_de(net: Any, idx: _Index, occ: np.ndarray, i: int, j: int) -> float:
    """E(after) - E(before) of moving the ion on i to the empty j, from the terms that hold
    i or j (site energies, pairs, clusters), eV."""
    de = float(net.site_energies_eV[j] - net.site_energies_eV[i])
    for s, sign, other in ((j, 1.0, i), (i, -1.0, j)):
        nb = idx.pair_nbr[idx.pair_ptr[s]:idx.pair_ptr[s + 1]]
        J = idx.pair_J[idx.pair_ptr[s]:idx.pair_ptr[s + 1]]
        keep = occ[nb] & (nb != other)
        de += sign * float(J[keep].sum())
        for c in idx.clusters_of(s):
            sites = net.cluster_sites[net.cluster_ptr[c]:net.cluster_ptr[c + 1]]
            if other in sites:
                continue  # holds both ends: no energy before (n_j = 0) or after (n_i = 0)
            rest = sites[sites != s]
            if occ[rest].all():
                de += sign * float(net.cluster_energies_eV[c])
    return de


def hop_energetics(network: Any, occupied: Any, hops: Any, *, charge_e: float | None = None,
                   field_V_per_A: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """E_kra and dE (eV) of hops in a configuration, evaluated in plain numpy (a reference:
    the energy change from the site, pair and cluster terms that hold either end, the local
    models term by term).

    Parameters
    ----------
    network : SiteNetwork
    occupied : array_like of bool, shape (n_sites,)
        The configuration; every hop given must be allowed in it (source occupied,
        destination empty).
    hops : array_like of int
        Hop indices.
    charge_e, field_V_per_A : optional
        The field term -q F . d (default: none).
    """
    from .lattice import as_site_network

    net = as_site_network(network, "network")
    idx = _index(net)
    occ = np.asarray(occupied, dtype=bool)
    hops = np.atleast_1d(np.asarray(hops, dtype=np.int64))
    ekra = np.empty(hops.shape[0])
    de = np.empty(hops.shape[0])
    q = net.charge_e if charge_e is None else charge_e
    F = np.zeros(3) if field_V_per_A is None else np.asarray(field_V_per_A, dtype=float)
    for a, h in enumerate(hops):
        i, j = int(net.hop_src[h]), int(net.hop_dst[h])
        if not occ[i] or occ[j]:
            raise ConfigError(f"hop {h} ({i} -> {j}) is not allowed in the configuration")
        de[a] = _local_de(net, idx, occ, i, j) - q * float(F @ net.hop_vectors[h])
        ekra[a] = float(net.hop_barriers_eV[h])
        if net.n_local_models:
            if net.hop_kra_model[h] >= 0:
                ekra[a] = _local_value(net, int(net.hop_kra_model[h]), int(h), occ)
            if net.hop_de_model[h] >= 0:
                de[a] += _local_value(net, int(net.hop_de_model[h]), int(h), occ)
    return ekra, de


def _activation_eV(rate_law: str, ekra: np.ndarray, de: np.ndarray) -> np.ndarray:
    """Ea of the engine's rate law, from the engine's own rate function (ln of k / nu)."""
    from ._engine import rate_Hz

    T = 1000.0
    k = rate_Hz(ekra, de, T, 1.0, rate_law)
    return -KB_EV_PER_K * T * np.log(k)


@dataclass(frozen=True)
class DetailedBalanceReport:
    """What :func:`check_detailed_balance` found.

    Attributes
    ----------
    max_violation_eV : float
        The largest |sum of Ea forward - sum of Ea backward| over the cycles tested, eV
        (log of the ratio of the cycle's rate products times kB T): 0 for a model that obeys
        detailed balance.
    holds : bool
        max_violation_eV below DETAILED_BALANCE_TOL_EV.
    n_cycles : int
        Cycles tested.
    worst_cycle : str
        The cycle of the largest violation, in words.
    """

    max_violation_eV: float
    holds: bool
    n_cycles: int
    worst_cycle: str

    def __str__(self) -> str:
        verdict = "holds" if self.holds else "is VIOLATED"
        return (f"detailed balance {verdict}: largest violation {self.max_violation_eV:.3g} eV "
                f"over {self.n_cycles} cycles" + ("" if self.holds else
                                                  f" (worst: {self.worst_cycle})"))


def check_detailed_balance(network: Any, *, rate_law: str = "kra", fill: float = 0.5,
                           n_configurations: int = 8, n_pairs: int = 64, seed: int = 0,
                           max_ring: int = 6) -> DetailedBalanceReport:
    """Kolmogorov's criterion on short cycles of the hop graph.

    A Markov chain obeys detailed balance exactly when, around every cycle of
    configurations, the product of the rates forwards equals the product backwards, i.e.
    the sum of the activation energies Ea forwards equals the sum backwards. Tested here
    on random configurations (occupied fraction `fill`, seeded) for two kinds of short cycle:

    * commuting squares: two hops a -> b and c -> d near each other (sharing an
      environment, a cluster or a pair, or adjacent), made in either order; this is where
      a dE that is not an energy difference (kMCpy's local "site" expansion) fails;
    * rings: one ion around a shortest cycle of up to `max_ring` sites of the hop graph
      (the other ring sites vacant).

    Parameters
    ----------
    network : SiteNetwork (or a network convertible to one), or an object with a
        ``network`` (a :class:`~kmc.materials.Material`, a :class:`~kmc.Simulation`)
    rate_law : str
        The rate law the run would use (its Ea).
    fill : float
        Fraction of sites occupied in the random configurations.
    n_configurations, n_pairs : int
        Configurations, and hop pairs tested per configuration.
    seed : int
    max_ring : int
        Longest ring tested.

    Returns
    -------
    DetailedBalanceReport
    """
    import networkx as nx

    from .lattice import as_site_network

    if not hasattr(network, "n_sites") and hasattr(network, "network"):
        network = network.network  # a Material, a Simulation: its network
    net = as_site_network(network, "network")
    if not 0.0 < fill < 1.0:
        raise ConfigError(f"fill = {fill!r} must be in (0, 1)")
    rng = np.random.default_rng(seed)
    n = net.n_sites
    rev = net.hop_rev
    src, dst = net.hop_src, net.hop_dst
    hop_of = {(int(a), int(b)): h for h, (a, b) in enumerate(zip(src, dst, strict=True))}

    def ea(occ: np.ndarray, h: int) -> float:
        k, d = hop_energetics(net, occ, [h])
        return float(_activation_eV(rate_law, k, d)[0])

    def moved(occ: np.ndarray, h: int) -> np.ndarray:
        o = occ.copy()
        o[src[h]], o[dst[h]] = False, True
        return o

    idx = _index(net)
    hop_ptr = net.hop_ptr

    def near(h: int) -> set[int]:
        """The sites whose occupation the rate of hop h can depend on, and their ends."""
        out = {int(src[h]), int(dst[h])}
        for s in (int(src[h]), int(dst[h])):
            out.update(dst[hop_ptr[s]:hop_ptr[s + 1]].tolist())
            out.update(idx.pair_nbr[idx.pair_ptr[s]:idx.pair_ptr[s + 1]].tolist())
            for c in idx.clusters_of(s):
                out.update(net.cluster_sites[net.cluster_ptr[c]:net.cluster_ptr[c + 1]].tolist())
        if net.n_local_models:
            out.update(net.env_sites[net.env_ptr[h]:net.env_ptr[h + 1]].tolist())
        return out

    worst, worst_text, n_cycles = 0.0, "", 0
    for _ in range(n_configurations):
        occ = rng.random(n) < fill
        allowed = np.flatnonzero(occ[src] & ~occ[dst])
        if allowed.size == 0:
            continue
        for _ in range(n_pairs):
            h1 = int(rng.choice(allowed))
            ends = {int(src[h1]), int(dst[h1])}
            cand = []
            for x in near(h1):  # the hops from and into the sites near h1
                out_x = np.arange(hop_ptr[x], hop_ptr[x + 1])
                for h in np.concatenate([out_x, rev[out_x]]).tolist():
                    if occ[src[h]] and not occ[dst[h]] and not {int(src[h]), int(dst[h])} & ends:
                        cand.append(h)
            if not cand:
                continue
            h2 = int(cand[rng.integers(len(cand))])
            c1, c2 = moved(occ, h1), moved(occ, h2)
            c12 = moved(c1, h2)
            fwd = ea(occ, h1) + ea(c1, h2) + ea(c12, int(rev[h1])) + ea(c2, int(rev[h2]))
            bwd = ea(occ, h2) + ea(c2, h1) + ea(c12, int(rev[h2])) + ea(c1, int(rev[h1]))
            n_cycles += 1
            v = abs(fwd - bwd)
            if v > worst:
                worst = v
                worst_text = (f"hops {src[h1]}->{dst[h1]} and {src[h2]}->{dst[h2]} in either "
                              "order")
    # single-ion rings of the hop graph
    for start in rng.choice(n, size=min(n, max(4, n_configurations)), replace=False):
        ball, front = {int(start)}, [int(start)]  # the sites within max_ring // 2 hops
        for _ in range(max_ring // 2):
            front = [int(t) for s in front for t in dst[hop_ptr[s]:hop_ptr[s + 1]]
                     if int(t) not in ball]
            ball.update(front)
        g = nx.Graph()
        for s in ball:
            g.add_edges_from((s, int(t)) for t in dst[hop_ptr[s]:hop_ptr[s + 1]] if int(t) in ball)
        try:
            ring = nx.find_cycle(g, int(start))
        except nx.NetworkXNoCycle:
            continue
        sites = [int(u) for u, _ in ring]
        if len(sites) < 3 or len(sites) > max_ring:
            continue
        occ = rng.random(n) < fill
        occ[sites] = False
        occ[sites[0]] = True
        steps = [hop_of[(sites[t], sites[(t + 1) % len(sites)])] for t in range(len(sites))]
        fwd, o = 0.0, occ
        for h in steps:
            fwd += ea(o, h)
            o = moved(o, h)
        bwd, o = 0.0, occ
        for h in reversed(steps):
            bwd += ea(o, int(rev[h]))
            o = moved(o, int(rev[h]))
        n_cycles += 1
        v = abs(fwd - bwd)
        if v > worst:
            worst, worst_text = v, "one ion around the ring " + "->".join(map(str, sites))
    return DetailedBalanceReport(worst, worst <= DETAILED_BALANCE_TOL_EV, n_cycles, worst_text)
