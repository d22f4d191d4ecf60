"""One KMC run: a site network, a temperature and a composition, through the C engine.

A run places the ions at random (seeded), equilibrates for a number of hops, then
runs a production phase split into blocks of equal simulated time. Each block's
displacement moments go to :func:`kmc.analysis.transport`, which gives D*, D_sigma,
the correlation factor, the Haven ratio and the Nernst-Einstein conductivity with
standard errors.

Units: Angstrom, s, eV, K, e; D in cm^2/s, sigma in S/cm.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._engine import Engine
from .analysis import BlockData, TransportEstimate, transport
from .errors import ConfigError
from .lattice import SiteNetwork

__all__ = ["Simulation", "RunResult", "occupancy_statistics", "DEFAULT_ATTEMPT_FREQUENCY_HZ"]

DEFAULT_ATTEMPT_FREQUENCY_HZ = 1e13
_CHUNK_STEPS = 1 << 20  # events per engine call: keeps Ctrl-C and progress responsive


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return float(value)


def _count(value: Any, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} = {value} must be >= {minimum}")
    return int(value)


@dataclass(frozen=True, eq=False)
class RunResult:
    """Result of one run: transport coefficients with errors, and how they were obtained.

    Every field of :class:`kmc.analysis.TransportEstimate` (``D_tracer_cm2_s``,
    ``D_sigma_cm2_s``, ``correlation_factor``, ``haven_ratio``, ``sigma_S_cm``, the
    tensors, each with an ``_err`` twin) is available as an attribute of the result.

    Attributes
    ----------
    transport : TransportEstimate
        The estimates.
    network_name : str
    n_sites, n_ions : int
    temperature_K : float
    attempt_frequency_Hz : float
    dimensionality : int
        Dimensionality of the percolating hop network, used in the formulas.
    seed : int
        The seed that reproduces this run.
    equilibration_steps, hops : int
        Events executed in equilibration and in production.
    simulated_time_s : float
        Production simulated time, s.
    wall_s : float
        Wall-clock time of the whole run (set-up, equilibration, production), s.
    hops_per_s : float
        Production events per wall-clock second of engine time.
    hop_type_counts : dict[str, int]
        Production events per hop type.
    interrupted : bool
        True if the run was stopped (Ctrl-C) and this result holds the blocks finished so far.
    warnings : tuple of str
    """

    transport: TransportEstimate
    network_name: str
    n_sites: int
    n_ions: int
    temperature_K: float
    attempt_frequency_Hz: float
    dimensionality: int
    seed: int
    equilibration_steps: int
    hops: int
    simulated_time_s: float
    wall_s: float
    hops_per_s: float
    hop_type_counts: dict[str, int]
    field_V_per_angstrom: tuple[float, float, float] | None = None
    interrupted: bool = False
    blocks: BlockData | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        # only reached for names that are not fields: delegate to the estimates
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return getattr(self.__dict__["transport"], name)
        except (KeyError, AttributeError):
            raise AttributeError(f"RunResult has no attribute {name!r}") from None

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-serialisable dict (floats, lists; nan -> None)."""
        out = self.transport.to_dict()
        for key in ("network_name", "n_sites", "n_ions", "temperature_K", "attempt_frequency_Hz",
                    "dimensionality", "seed", "equilibration_steps", "hops",
                    "simulated_time_s", "wall_s", "hops_per_s", "hop_type_counts",
                    "interrupted"):
            out[key] = getattr(self, key)
        out["field_V_per_angstrom"] = (None if self.field_V_per_angstrom is None
                                       else list(self.field_V_per_angstrom))
        out["warnings"] = list(self.warnings) + [
            w for w in self.transport.warnings if w not in self.warnings]
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        return out

    def summary(self) -> str:
        """A readable table of the results."""
        def row(label: str, value: float, err: float | None, unit: str) -> str:
            if err is None:
                return f"  {label:<28s} {value:>12.5g}              {unit}"
            return f"  {label:<28s} {value:>12.5g} +/- {err:<9.2g} {unit}"

        t = self.transport
        lines = [
            f"kmc run: {self.network_name}, {self.n_ions} ions on {self.n_sites} sites "
            f"(d = {self.dimensionality}), T = {self.temperature_K:g} K, seed {self.seed}",
            row("tracer diffusivity D*", t.D_tracer_cm2_s, t.D_tracer_cm2_s_err, "cm^2/s"),
            row("collective diffusivity D_s", t.D_sigma_cm2_s, t.D_sigma_cm2_s_err, "cm^2/s"),
            row("correlation factor f", t.correlation_factor, t.correlation_factor_err, ""),
            row("Haven ratio D*/D_s", t.haven_ratio, t.haven_ratio_err, ""),
            row("conductivity (N-E)", t.sigma_S_cm, t.sigma_S_cm_err, "S/cm"),
        ]
        if self.field_V_per_angstrom is not None:
            lines.append(row("conductivity (drift)", t.sigma_drift_S_cm, t.sigma_drift_S_cm_err,
                             "S/cm"))
        lines += [
            f"  {self.hops} hops in {t.n_blocks} blocks, simulated {self.simulated_time_s:.4g} s, "
            f"wall {self.wall_s:.3g} s ({self.hops_per_s:.3g} hops/s)",
        ]
        for w in self.to_dict()["warnings"]:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)


class Simulation:
    """One KMC run on a site network.

    Parameters
    ----------
    network : SiteNetwork
        Sites, hops (with KRA barriers, eV), site energies and interactions.
    temperature_K : float
        Temperature, K (> 0).
    n_ions, n_vacancies, occupancy, ion_sites :
        The composition; give exactly one: a number of ions, a number of empty
        sites, a fraction of occupied sites (0 < c <= 1; rounded to the nearest ion
        count), or the explicit initial sites of the ions.
    seed : int or None
        Seeds ion placement and the engine. None draws one from the OS; the seed
        used is recorded in the result, so every run can be repeated.
    attempt_frequency_Hz : float
        Attempt frequency nu of every hop, Hz (default 1e13).
    field_V_per_angstrom : array_like of 3 floats or None
        Uniform electric field, V/Angstrom. The drift it causes gives an
        independent conductivity (``sigma_drift_S_cm``); keep q |E| a << kB T for
        linear response.

    Raises
    ------
    ConfigError
        On any invalid value (named in the message).
    """

    def __init__(
        self,
        network: SiteNetwork,
        temperature_K: float,
        *,
        n_ions: int | None = None,
        n_vacancies: int | None = None,
        occupancy: float | None = None,
        ion_sites: ArrayLike | None = None,
        seed: int | None = None,
        attempt_frequency_Hz: float = DEFAULT_ATTEMPT_FREQUENCY_HZ,
        field_V_per_angstrom: ArrayLike | None = None,
    ) -> None:
        if not isinstance(network, SiteNetwork):
            raise TypeError(f"network must be a SiteNetwork, got {type(network).__name__}")
        self.network = network
        n = network.n_sites
        T = _number(temperature_K, "temperature_K")
        if not (math.isfinite(T) and T > 0):
            raise ConfigError(f"temperature_K = {temperature_K!r} must be finite and > 0")
        self.temperature_K = T
        nu = _number(attempt_frequency_Hz, "attempt_frequency_Hz")
        if not (math.isfinite(nu) and nu > 0):
            raise ConfigError(
                f"attempt_frequency_Hz = {attempt_frequency_Hz!r} must be finite and > 0")
        self.attempt_frequency_Hz = nu

        if field_V_per_angstrom is None:
            self.field_V_per_angstrom = None
        else:
            f = np.asarray(field_V_per_angstrom, dtype=float)
            if f.shape != (3,) or not np.all(np.isfinite(f)):
                raise ConfigError(
                    f"field_V_per_angstrom = {field_V_per_angstrom!r} must be 3 finite numbers")
            self.field_V_per_angstrom = tuple(float(x) for x in f) if np.any(f) else None

        given = [k for k, v in (("n_ions", n_ions), ("n_vacancies", n_vacancies),
                                ("occupancy", occupancy), ("ion_sites", ion_sites))
                 if v is not None]
        if len(given) != 1:
            raise ConfigError("give exactly one of n_ions, n_vacancies, occupancy, ion_sites"
                              + (f" (got {', '.join(given)})" if given else ""))
        if n_ions is not None:
            count = _count(n_ions, "n_ions", 1)
            if count > n:
                raise ConfigError(f"n_ions = {count} is more than the {n} sites of the network")
        elif n_vacancies is not None:
            vac = _count(n_vacancies, "n_vacancies", 0)
            if vac >= n:
                raise ConfigError(
                    f"n_vacancies = {vac} leaves no ion on the {n} sites of the network")
            count = n - vac
        elif occupancy is not None:
            c = _number(occupancy, "occupancy")
            if not (math.isfinite(c) and 0 < c <= 1):
                raise ConfigError(f"occupancy = {occupancy!r} must be in (0, 1]")
            count = int(round(c * n))
            if count < 1:
                raise ConfigError(f"occupancy = {occupancy!r} of {n} sites rounds to no ion")
        else:
            sites = np.asarray(ion_sites)
            if sites.ndim != 1 or sites.size == 0 or sites.dtype.kind not in "iu":
                raise ConfigError("ion_sites must be a non-empty 1-D array of site indices")
            if sites.min() < 0 or sites.max() >= n:
                raise ConfigError(f"ion_sites holds a site outside 0..{n - 1}")
            if np.unique(sites).size != sites.size:
                raise ConfigError("ion_sites holds a site twice")
            count = sites.size
        self.n_ions = count
        self._ion_sites = None if ion_sites is None else np.asarray(ion_sites, dtype=np.int32)

        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        self.seed = _count(seed, "seed", 0)
        if self.seed >= 2**63:
            raise ConfigError(f"seed = {seed} must be < 2**63")
        self._engine: Engine | None = None

    # ------------------------------------------------------------------ engine
    def _make_engine(self) -> Engine:
        net = self.network
        ss = np.random.SeedSequence(self.seed)
        place, eng = ss.spawn(2)
        if self._ion_sites is not None:
            sites = self._ion_sites
        else:
            sites = np.random.default_rng(place).choice(
                net.n_sites, size=self.n_ions, replace=False).astype(np.int32)
        kwargs: dict[str, Any] = {}
        if net.has_interactions:
            ptr, nbr, J = net.interaction_csr()
            kwargs = {"int_ptr": ptr, "int_nbr": nbr, "int_J": J,
                      "hop_J": net.hop_pair_energies_eV}
        return Engine(
            net.hop_ptr, net.hop_dst, net.hop_rev, net.hop_types, net.hop_vectors,
            net.hop_barriers_eV, net.site_energies_eV, sites,
            n_hop_types=len(net.hop_type_names),
            temperature_K=self.temperature_K,
            attempt_frequency_Hz=self.attempt_frequency_Hz,
            charge_e=net.charge_e,
            field_V_per_A=(0.0, 0.0, 0.0) if self.field_V_per_angstrom is None
            else self.field_V_per_angstrom,
            seed=int(eng.generate_state(1, np.uint64)[0]),
            **kwargs,
        )

    @property
    def engine(self) -> Engine:
        """The C engine (created on first use, placing the ions)."""
        if self._engine is None:
            self._engine = self._make_engine()
        return self._engine

    def _advance(self, steps: int | None, t_stop: float | None,
                 progress: Callable[[int], None] | None) -> str:
        """Run until `steps` events or simulated time `t_stop`; return why it stopped."""
        eng = self.engine
        left = steps
        while True:
            chunk = _CHUNK_STEPS if left is None else min(left, _CHUNK_STEPS)
            if chunk == 0:
                return "steps"
            done, reason = eng.run(chunk, t_stop)
            if progress is not None:
                progress(done)
            if left is not None:
                left -= done
            if reason != "steps" or (left is not None and left == 0):
                return reason

    def _frozen_error(self) -> ConfigError:
        return ConfigError(
            f"no hop is possible: the total rate is 0 with {self.n_ions} ions on "
            f"{self.network.n_sites} sites at {self.temperature_K:g} K (every ion is blocked, "
            "or every rate underflows at this temperature)")

    # ------------------------------------------------------------------- run
    def run(
        self,
        steps: int = 1_000_000,
        *,
        equilibration: int | None = None,
        blocks: int = 100,
        production_time_s: float | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> RunResult:
        """Equilibrate, then run the production phase in blocks and analyse it.

        A second call continues the same trajectory (the ions stay where the first
        left them), with its own equilibration and production phases.

        Parameters
        ----------
        steps : int
            Target number of production hops (events). Blocks have equal simulated
            time, chosen from the mean event rate of the equilibration so that the
            production phase holds about this many hops.
        equilibration : int or None
            Hops before production (default: steps // 10). Displacements made
            during equilibration are not counted.
        blocks : int
            Number of production blocks B >= 2: standard errors come from the
            block-to-block scatter; D_sigma needs many blocks, the tracer
            estimates need blocks with tens of hops per ion.
        production_time_s : float or None
            Production length in simulated seconds, instead of `steps`.
        progress : callable or None
            Called with the number of hops done after each engine chunk.

        Returns
        -------
        RunResult

        Raises
        ------
        ConfigError
            On invalid values, or when no hop is possible (total rate 0).
        """
        steps = _count(steps, "steps", 1)
        blocks = _count(blocks, "blocks", 2)
        equilibration = steps // 10 if equilibration is None else _count(
            equilibration, "equilibration", 0)
        if production_time_s is not None:
            tp = _number(production_time_s, "production_time_s")
            if not (math.isfinite(tp) and tp > 0):
                raise ConfigError(f"production_time_s = {production_time_s!r} must be > 0")

        wall0 = time.perf_counter()
        eng = self.engine
        if not eng.total_rate_Hz > 0:
            raise self._frozen_error()
        t0, s0 = eng.time_s, eng.steps
        if self._advance(equilibration, None, progress) == "frozen":
            raise self._frozen_error()
        eq_steps = eng.steps - s0
        eq_time = eng.time_s - t0
        if production_time_s is not None:
            tau = float(production_time_s) / blocks
        else:
            # mean event rate of the equilibration (or the current total rate)
            rate = eq_steps / eq_time if eq_steps >= 1000 and eq_time > 0 else eng.total_rate_Hz
            tau = steps / blocks / rate

        state = eng.get_state()
        disp_prev, jsq_prev = state["displacement"], state["jump_sq"]
        counts0 = state["type_counts"].copy()
        steps_prev, t_start = eng.steps, eng.time_s
        rows: dict[str, list[Any]] = {k: [] for k in
                                      ("duration_s", "tracer_sq_A2", "collective_A",
                                       "jump_sq_A2", "hops")}
        prod_wall0 = time.perf_counter()
        interrupted = False
        try:
            for b in range(blocks):
                t_end = t_start + (b + 1) * tau
                if t_end <= eng.time_s:  # tau below the resolution of the clock
                    raise ConfigError(
                        f"block length {tau:.3g} s is too short to resolve at time "
                        f"{eng.time_s:.3g} s; use more steps per block")
                t_block0 = eng.time_s
                if self._advance(None, t_end, progress) == "frozen":
                    raise self._frozen_error()
                disp, jsq = eng.displacements()
                dr = disp - disp_prev
                rows["duration_s"].append(eng.time_s - t_block0)
                rows["tracer_sq_A2"].append(dr.T @ dr)
                rows["collective_A"].append(dr.sum(axis=0))
                rows["jump_sq_A2"].append(float((jsq - jsq_prev).sum()))
                rows["hops"].append(eng.steps - steps_prev)
                disp_prev, jsq_prev, steps_prev = disp, jsq, eng.steps
        except KeyboardInterrupt:
            # keep what is computed: return the finished blocks if they can be analysed
            if len(rows["duration_s"]) < 2:
                raise
            interrupted = True
        prod_wall = time.perf_counter() - prod_wall0

        data = BlockData(**{k: np.asarray(v) for k, v in rows.items()})
        est = transport(
            data, n_ions=self.n_ions, volume_A3=self.network.volume_A3,
            temperature_K=self.temperature_K, charge_e=self.network.charge_e,
            dimensionality=self.network.dimensionality,
            field_V_per_angstrom=self.field_V_per_angstrom)
        counts = eng.get_state()["type_counts"] - counts0
        hops = int(data.hops.sum())
        notes: list[str] = []
        if interrupted:
            notes.append(f"interrupted: {data.n_blocks} of {blocks} blocks finished")
        return RunResult(
            transport=est,
            network_name=self.network.name,
            n_sites=self.network.n_sites,
            n_ions=self.n_ions,
            temperature_K=self.temperature_K,
            attempt_frequency_Hz=self.attempt_frequency_Hz,
            dimensionality=self.network.dimensionality,
            seed=self.seed,
            equilibration_steps=int(eq_steps),
            hops=hops,
            simulated_time_s=float(data.duration_s.sum()),
            wall_s=time.perf_counter() - wall0,
            hops_per_s=hops / prod_wall if prod_wall > 0 else float("nan"),
            hop_type_counts={name: int(c) for name, c in
                             zip(self.network.hop_type_names, counts)},
            field_V_per_angstrom=self.field_V_per_angstrom,
            interrupted=interrupted,
            blocks=data,
            warnings=tuple(notes),
        )


def occupancy_statistics(sim: Simulation, steps: int, samples: int = 1000,
                         equilibration: int | None = None) -> NDArray[np.float64]:
    """Time-averaged occupation probability of every site.

    Runs `equilibration` hops (default: steps // 10), then about `steps` hops,
    recording the configuration at `samples` equally spaced simulated times.

    Notes
    -----
    The occupancy is sampled on a regular grid of simulated time (`samples`
    points over the production time), which is an unbiased estimate of the
    time average; sampling after every event would instead weight each
    configuration by its event count, not its residence time.

    Returns
    -------
    ndarray, shape (n_sites,)
        Mean occupation of each site (0..1).
    """
    steps = _count(steps, "steps", 1)
    samples = _count(samples, "samples", 1)
    eq = steps // 10 if equilibration is None else _count(equilibration, "equilibration", 0)
    eng = sim.engine
    if not eng.total_rate_Hz > 0:
        raise sim._frozen_error()
    sim._advance(eq, None, None)
    t0, s0 = eng.time_s, eng.steps
    sim._advance(max(1, steps // 20), None, None)  # estimate the event rate
    rate = (eng.steps - s0) / (eng.time_s - t0)
    dt = steps / rate / samples
    occ = np.zeros(sim.network.n_sites)
    t = eng.time_s
    for _ in range(samples):
        t += dt
        sim._advance(None, t, None)
        occ[eng.get_state()["ion_site"]] += 1.0
    return occ / samples

