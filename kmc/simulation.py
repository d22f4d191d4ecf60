"""One KMC run: a site network, a temperature and a composition, through the C engine.

A run places the ions at random (seeded), equilibrates for a number of hops, then
runs a production phase split into blocks of equal simulated time. Each block's
displacement moments go to :func:`kmc.analysis.transport`, which gives D*, D_sigma,
the correlation factor, the Haven ratio and the Nernst-Einstein conductivity with
standard errors. With a trajectory file it also writes the ions' positions every N
production hops (extended XYZ, :class:`kmc.io.TrajectoryWriter`).

Units: Angstrom, s, eV, K, e; D in cm^2/s, sigma in S/cm.
"""

from __future__ import annotations

import contextlib
import glob
import math
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks
from . import io as _io
from ._engine import CONFIG_MEMO_MAX_BYTES, CONFIG_MEMO_MAX_SITES, Engine
from .analysis import DRIFT_CHI2_LIMIT, BlockData, transport, zero_field_drift
from .constants import (
    DEFAULT_ATTEMPT_FREQUENCY_HZ,
    DEFAULT_BLOCKS,
    DEFAULT_MAX_STEPS,
    DEFAULT_MAX_WALL_S,
    DEFAULT_TARGET_REL_ERR,
    DEFAULT_TRAJECTORY_FRAMES,
    DEFAULT_TRAJECTORY_MAX_FRAMES,
    DEFAULT_TRAJECTORY_SPECIES,
    ENGINE_MODES,
    FIRST_CHECK_HOPS_PER_ION,
    KB_EV_PER_K,
    LOOK_MARGIN,
    MAX_ATTEMPT_FREQUENCY_HZ,
    MAX_COLLECTIVE,
    MAX_FIELD_PARAMETER,
    MAX_LINEAR_RESPONSE_PARAMETER,
    MAX_LOOK_GROWTH,
    MAX_SNAPSHOTS,
    MAX_TRACKED_IONS,
    MIN_FIRST_CHECK_HOPS,
    MIN_HOPS_PER_COLLECTIVE_POINT,
    MIN_LOOK_GROWTH,
    MIN_MAX_STEPS,
    MIN_MAX_WALL_S,
    RATE_LAWS,
    SEED_LIMIT,
    TARGETS,
    TRAJECTORY_MAX_BYTES,
    TRAJECTORY_MAX_BYTES_ENV,
    default_equilibration,
    default_target_equilibration,
)
from .errors import ConfigError, ConfigTypeError, KMCError, RunInterrupted
from .lattice import Network, is_network
from .msd import DiffusionFit, SnapshotBuffer, fit_diffusion, lag_msd, msd_record
from .resources import format_bytes, require_memory
from .results import RunResult

__all__ = ["Simulation", "RunResult", "resume", "occupancy_statistics", "engine_for",
           "mean_jump_length_A", "DEFAULT_ATTEMPT_FREQUENCY_HZ"]
# Events per engine call are tuned to about _CHUNK_WALL_S of wall time, so that Ctrl-C,
# progress bars and checkpoints stay responsive; chunking never changes the trajectory.
_CHUNK_WALL_S = 0.1
_MIN_CHUNK = 1 << 10
_MAX_CHUNK = 1 << 22


def _number(value: Any, name: str) -> float:
    """A real number (its range is checked by the caller, which says the whole rule)."""
    return _checks.real(value, name, finite=False)


def _count(value: Any, name: str, minimum: int = 0) -> int:
    return _checks.integer(value, name, lo=minimum, whole_floats=True)


def engine_for(network: Network, ion_sites: ArrayLike, *,
               temperature_K: float, attempt_frequency_Hz: float = DEFAULT_ATTEMPT_FREQUENCY_HZ,
               field_V_per_angstrom: ArrayLike | None = None, seed: int = 0,
               mode: str = "auto", rate_law: str = "kra", config_memo: bool | str = True) -> Engine:
    """The C engine of a network with ions on `ion_sites` (what :class:`Simulation` runs).

    Parameters
    ----------
    network : Network
        A :class:`~kmc.lattice.SiteNetwork` or :class:`~kmc.lattice.PeriodicNetwork` (what
        it gives the engine: :meth:`~kmc.lattice.Network.engine_arrays`).
    ion_sites : array_like of int
        Distinct initial sites of the ions (may be empty).
    temperature_K, attempt_frequency_Hz : float
        K and Hz.
    field_V_per_angstrom : 3 floats or None
        Uniform field, V/Angstrom.
    seed : int
        The engine's 64-bit seed.
    mode : str
        The engine's algorithm (see :class:`Simulation`).
    rate_law : str
        The engine's rate law (:data:`kmc.constants.RATE_LAWS`).
    config_memo : bool or "walk"
        Whether the engine may remember whole configurations of a small interacting system
        (see :class:`kmc._engine.Engine`; the same trajectory either way).
    """
    sites = np.asarray(ion_sites, dtype=np.int32)
    return Engine(ion_sites=sites, **network.engine_arrays(), temperature_K=temperature_K,
                  attempt_frequency_Hz=attempt_frequency_Hz,
                  field_V_per_A=(0.0, 0.0, 0.0) if field_V_per_angstrom is None
                  else field_V_per_angstrom,
                  seed=seed, mode=mode, rate_law=rate_law, config_memo=config_memo)


def mean_jump_length_A(network: Network) -> float:
    """The mean jump length of a network, known before it runs: its rms hop length, Angstrom.

    The length ``a`` of the linear-response parameter ``x = |q| |E| a / (kB T)`` of a field.
    Every directed hop of the network counts once (a periodic network's unit-cell hops stand
    for those of every cell): ``a = sqrt(sum_types n_t <l^2>_t / sum_types n_t)`` from
    :meth:`~kmc.lattice.Network.hop_type_mean_sq_A2`. Why this mean: after a run,
    :func:`kmc.analysis.transport` would measure the rms length of the jumps made, which weights
    each hop by its rate; the rates are not known before the run, so the hops are weighted by
    their number instead. The two agree on a lattice with one hop length (the textbook
    lattices) and whenever the hops are equally frequent. The shortest hop type instead would
    understate x in materials whose transport runs through longer jumps, and the longest would
    let one rare jump refuse a field the others carry linearly.

    A network without hops (only multi-ion events) takes the rms over its event types of the
    summed squared move length of an event. nan if nothing can move.

    Parameters
    ----------
    network : Network

    Returns
    -------
    float
        a, Angstrom.
    """
    msq = np.asarray(network.hop_type_mean_sq_A2(), dtype=float)
    counts = np.bincount(np.asarray(network.hop_types, dtype=np.int64).ravel(),
                         minlength=msq.size)[:msq.size].astype(float)
    if counts.sum() > 0:
        return math.sqrt(float(counts @ msq) / float(counts.sum()))
    ev = np.asarray(network.event_type_mean_sq_A2(), dtype=float)
    ev = ev[ev > 0]
    return math.sqrt(float(ev.mean())) if ev.size else math.nan


def _check_field(network: Network, field_V_per_angstrom: tuple[float, float, float],
                 temperature_K: float) -> float:
    """The jump length a (Angstrom) of a field's linear-response parameter; ConfigError if
    ``x = |q| |E| a / (kB T)`` is above :data:`kmc.constants.MAX_FIELD_PARAMETER`."""
    a = mean_jump_length_A(network)
    e_norm = float(np.linalg.norm(field_V_per_angstrom))
    kt_eV = KB_EV_PER_K * temperature_K
    q = abs(float(network.charge_e))
    if not (math.isfinite(a) and a > 0 and q > 0):
        return a
    x = q * e_norm * a / kt_eV
    if x > MAX_FIELD_PARAMETER:
        e_lin = MAX_LINEAR_RESPONSE_PARAMETER * kt_eV / (q * a)
        raise ConfigError(
            f"field_V_per_angstrom = {list(field_V_per_angstrom)} (|E| = {e_norm:.3g} "
            f"V/Angstrom) is far outside linear response: q |E| a / (kB T) = {x:.3g} for the "
            f"mean jump length a = {a:.3g} Angstrom at {temperature_K:g} K, above the limit "
            f"{MAX_FIELD_PARAMETER:g} (q E a > kB T: the drift dominates the hops); the "
            f"largest field that stays linear (x <= {MAX_LINEAR_RESPONSE_PARAMETER:g}) is "
            f"|E| = {e_lin:.3g} V/Angstrom")
    return a


class Simulation:
    """One KMC run on a site network.

    Parameters
    ----------
    network : Network or Material
        A :class:`~kmc.lattice.SiteNetwork` or :class:`~kmc.lattice.PeriodicNetwork`: sites, hops (with KRA barriers, eV), site energies and interactions; or a built material
        (:func:`kmc.build_material`), which brings its network, its ions (unless a
        composition is given), its attempt frequency and its rate law.
    temperature_K : float
        Temperature, K (> 0).
    n_ions, n_vacancies, occupancy, ion_sites :
        The composition; give exactly one: a number of ions, a number of empty
        sites, a fraction of occupied sites (0 < c <= 1; rounded to the nearest ion
        count), or the explicit initial sites of the ions.
    seed : int or None
        Seeds ion placement and the engine. None draws one from the OS; the seed
        used is recorded in the result, so every run can be repeated.
    attempt_frequency_Hz : float or None
        Attempt frequency nu of every hop, Hz (default: a material's own, else 1e13).
    field_V_per_angstrom : array_like of 3 floats or None
        Uniform electric field, V/Angstrom. The drift it causes gives an
        independent conductivity (``sigma_drift_S_cm``); keep q |E| a << kB T for
        linear response. The parameter ``x = |q| |E| a / (kB T)``, with a the network's
        rms hop length (:func:`mean_jump_length_A`), is computed here: above
        :data:`kmc.constants.MAX_FIELD_PARAMETER` (1) the field is refused, above
        :data:`kmc.constants.MAX_LINEAR_RESPONSE_PARAMETER` (0.1) the result warns; the
        result carries it as ``linear_response_parameter``.
    engine_mode : str
        The engine's algorithm: "auto" (default) picks uniformization (null events) for a
        network without pair interactions and multi-ion events whose hop attempts are
        mostly accepted (e.g. a lattice gas), else integer count trees when the hop rates
        take at most 16 values, else the float sum tree; "uniform", "count" or "tree"
        force one. All sample the same process; a seed reproduces a trajectory within one
        mode.
    rate_law : str or None
        How a hop's barrier and energy change make its rate (:data:`kmc.constants.RATE_LAWS`),
        ``k = nu exp(-Ea / kB T)`` (default: a material's own, else "kra"): "kra",
        ``Ea = max(E_kra + dE/2, 0, dE)``;
        "kmcpy", ``Ea = E_kra + dE/2`` unclamped, as kMCpy computes it (a hop far downhill
        is faster than nu). Both obey detailed balance exactly.

    Raises
    ------
    ConfigError
        On any invalid value (named in the message), and on a field beyond linear
        response (``x`` above :data:`kmc.constants.MAX_FIELD_PARAMETER`).
    """

    def __init__(
        self,
        network: Network,
        temperature_K: float,
        *,
        n_ions: int | None = None,
        n_vacancies: int | None = None,
        occupancy: float | None = None,
        ion_sites: ArrayLike | None = None,
        seed: int | None = None,
        attempt_frequency_Hz: float | None = None,
        field_V_per_angstrom: ArrayLike | None = None,
        engine_mode: str = "auto",
        rate_law: str | None = None,
    ) -> None:
        from .materials import Material

        if isinstance(network, Material):  # its network, ions, attempt frequency, rate law
            m = network
            network = m.network
            attempt_frequency_Hz = (m.attempt_frequency_Hz if attempt_frequency_Hz is None
                                    else attempt_frequency_Hz)
            rate_law = m.rate_law if rate_law is None else rate_law
            if all(v is None for v in (n_ions, n_vacancies, occupancy, ion_sites)):
                if m.info.get("ion_sites") is not None:
                    ion_sites = np.asarray(m.info["ion_sites"], dtype=np.int64)
                else:
                    n_ions = m.n_ions
        attempt_frequency_Hz = (DEFAULT_ATTEMPT_FREQUENCY_HZ if attempt_frequency_Hz is None
                                else attempt_frequency_Hz)
        rate_law = "kra" if rate_law is None else rate_law
        if not is_network(network):
            raise ConfigTypeError(f"network must be a SiteNetwork, PeriodicNetwork or built "
                                  f"material, got {type(network).__name__}")
        self.network = network
        n = network.n_sites
        T = _number(temperature_K, "temperature_K")
        if not (math.isfinite(T) and T > 0):
            raise ConfigError(f"temperature_K = {temperature_K!r} must be finite and > 0")
        self.temperature_K = T
        nu = _number(attempt_frequency_Hz, "attempt_frequency_Hz")
        if not (math.isfinite(nu) and 0 < nu <= MAX_ATTEMPT_FREQUENCY_HZ):
            raise ConfigError(f"attempt_frequency_Hz = {attempt_frequency_Hz!r} must be > 0 "
                              f"and at most {MAX_ATTEMPT_FREQUENCY_HZ:g}")
        self.attempt_frequency_Hz = nu
        self.engine_mode = _checks.choice(engine_mode, "engine_mode", ENGINE_MODES)
        self.rate_law = _checks.choice(rate_law, "rate_law", RATE_LAWS)

        if field_V_per_angstrom is None:
            self.field_V_per_angstrom = None
        else:
            f = np.asarray(field_V_per_angstrom, dtype=float)
            if f.shape != (3,) or not np.all(np.isfinite(f)):
                raise ConfigError(
                    f"field_V_per_angstrom = {field_V_per_angstrom!r} must be 3 finite numbers")
            self.field_V_per_angstrom = tuple(float(x) for x in f) if np.any(f) else None
        #: The jump length a of the field's linear-response parameter, Angstrom (None
        #: without a field).
        self.jump_length_A: float | None = None
        if self.field_V_per_angstrom is not None:
            a = _check_field(network, self.field_V_per_angstrom, T)
            self.jump_length_A = a if math.isfinite(a) and a > 0 else None

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
            seed = int(np.random.SeedSequence().entropy % SEED_LIMIT)
        self.seed = _checks.integer(seed, "seed", lo=0, hi=SEED_LIMIT - 1, whole_floats=True)
        self._engine: Engine | None = None
        self._initial_sites: NDArray[np.int32] | None = None
        self._stop_signal: int | None = None
        self._chunk = 1 << 16
        self._frames: _Frames | None = None  # the trajectory of the run under way

    @classmethod
    def from_material(cls, material: Any, temperature_K: float, *, seed: int | None = None,
                      **kwargs: Any) -> Simulation:
        """A run of a built material (:func:`kmc.build_material`) as ``kmc run`` makes it:
        its network, its ion count, its attempt frequency and its rate law.

        Parameters
        ----------
        material : kmc.materials.Material
        temperature_K : float
        seed : int or None
        **kwargs
            Any other :class:`Simulation` argument; ``attempt_frequency_Hz`` and
            ``rate_law`` given here replace the material's.
        """
        from .materials import Material

        if not isinstance(material, Material):
            raise ConfigTypeError(f"material must be a built material (kmc.build_material), "
                                  f"got {type(material).__name__}")
        return cls(material, temperature_K, seed=seed, **kwargs)

    # ------------------------------------------------------------------ engine
    def _engine_memory_estimate_bytes(self) -> float:
        """Peak memory of creating the engine, bytes (an upper estimate: site records, sum
        trees and fields, per-ion records, what the network's engine input and the engine's
        copies of it take, :meth:`~kmc.lattice.Network.engine_input_bytes`, and a small
        interacting system's configuration memo as large as it may grow)."""
        net = self.network
        est = 64.0 * net.n_sites + 96.0 * self.n_ions + net.engine_input_bytes()
        if net.has_interactions and net.n_sites <= CONFIG_MEMO_MAX_SITES:
            est += CONFIG_MEMO_MAX_BYTES  # the tree solver's configuration memo, at most
        return est

    def _make_engine(self) -> Engine:
        net = self.network
        require_memory(self._engine_memory_estimate_bytes(),
                       f"the engine for {net.n_sites} sites and {self.n_ions} ions",
                       "simulate a smaller system")
        ss = np.random.SeedSequence(self.seed)
        place, eng = ss.spawn(2)
        if self._ion_sites is not None:
            sites = self._ion_sites
        else:
            sites = np.random.default_rng(place).choice(
                net.n_sites, size=self.n_ions, replace=False).astype(np.int32)
        self._initial_sites = np.array(sites, dtype=np.int32)
        return engine_for(net, sites, temperature_K=self.temperature_K,
                          attempt_frequency_Hz=self.attempt_frequency_Hz,
                          field_V_per_angstrom=self.field_V_per_angstrom,
                          seed=int(eng.generate_state(1, np.uint64)[0]),
                          mode=self.engine_mode, rate_law=self.rate_law)

    @property
    def engine(self) -> Engine:
        """The C engine (created on first use, placing the ions)."""
        if self._engine is None:
            self._engine = self._make_engine()
        return self._engine

    # ------------------------------------------------------------ stopping
    def request_stop(self, signum: int = signal.SIGINT) -> None:
        """Ask a running :meth:`run` to stop at the next chunk boundary (about 0.1 s).

        Safe from a signal handler, a progress callback or another thread. The run then
        writes a checkpoint (if it has an output file) and returns the finished blocks
        (``interrupted=True``), or raises :class:`~kmc.errors.RunInterrupted` if fewer
        than two blocks are finished.

        Parameters
        ----------
        signum : int
            The signal recorded as the reason (default SIGINT).
        """
        self._stop_signal = int(signum)

    def _advance(self, steps: int | None, t_stop: float | None,
                 progress: Callable[[int], None] | None,
                 frames: _Frames | None = None,
                 points: _CollectivePoints | None = None) -> str:
        """Run until `steps` events or simulated time `t_stop`; return why it stopped.

        The engine runs in chunks of about 0.1 s of wall time; `progress` is called with the
        events done after each chunk. Chunking does not change the trajectory (the engine
        gives the same events however a run is cut into calls), so a chunk also ends at
        each frame of `frames`, which is written there, before `progress` is called. With
        `points`, the engine also records the fine collective series on the way (stopping
        at each of its points, as a stop here would).
        """
        eng = self.engine
        left = steps
        while True:
            if t_stop is not None and eng.time_s >= t_stop:
                return "time"  # already there (a block end restored from a checkpoint)
            chunk = self._chunk if left is None else min(left, self._chunk)
            if chunk == 0:
                return "steps"
            due = None
            if frames is not None:
                if frames.hops_to_next() == 0:  # (a frame is written when reached, below)
                    frames.write()
                due = frames.hops_to_next()
            cut = due is not None and due < chunk
            if due is not None and cut:
                chunk = due
            w0 = time.perf_counter()
            if points is None:
                done, reason = eng.run(chunk, t_stop)
            else:
                done, reason = points.run(chunk, t_stop)
            wall = time.perf_counter() - w0
            if done == chunk and wall > 0 and not cut:
                self._chunk = int(min(max(chunk * _CHUNK_WALL_S / wall, _MIN_CHUNK),
                                      _MAX_CHUNK))
            if frames is not None and frames.hops_to_next() == 0:
                frames.write()
            if progress is not None:
                progress(done)
            if left is not None:
                left -= done
            if left is not None and left == 0:
                return "steps" if reason == "points" else reason
            if reason not in ("steps", "points"):
                return reason

    def _frozen_error(self) -> ConfigError:
        return ConfigError(
            f"no hop is possible: the total rate is 0 with {self.n_ions} ions on "
            f"{self.network.n_sites} sites at {self.temperature_K:g} K (every ion is blocked, "
            "or every rate underflows at this temperature)")

    # ------------------------------------------------------------------- run
    def run(
        self,
        steps: int | None = None,
        *,
        target_rel_err: float | None = None,
        target: str = "sigma",
        max_steps: int | None = None,
        max_wall_s: float | None = None,
        equilibration: int | None = None,
        blocks: int = DEFAULT_BLOCKS,
        production_time_s: float | None = None,
        progress: Callable[[int], None] | None = None,
        output: str | os.PathLike[str] | None = None,
        checkpoint_interval_s: float = 60.0,
        overwrite: bool = False,
        config: Mapping[str, Any] | None = None,
        trajectory: str | os.PathLike[str] | None = None,
        trajectory_every_hops: int | None = None,
        trajectory_max_frames: int = DEFAULT_TRAJECTORY_MAX_FRAMES,
        trajectory_species: str = DEFAULT_TRAJECTORY_SPECIES,
        trajectory_vacancies: bool | None = None,
    ) -> RunResult:
        """Equilibrate, then run the production phase in blocks and analyse it.

        A second call continues the same trajectory (the ions stay where the first
        left them), with its own equilibration and production phases.

        While it runs, SIGINT (Ctrl-C) and SIGTERM stop it cleanly at the next chunk
        boundary (when called from the main thread): it writes a checkpoint and returns
        the finished blocks, see :meth:`request_stop`.

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
            Called with the number of hops done after each engine chunk. If it raises
            KeyboardInterrupt the run stops as on Ctrl-C.
        output : path or None
            HDF5 file for the inputs, the blocks, the results and checkpoints (see
            :mod:`kmc.io`); continue an interrupted run with :func:`kmc.resume`.
        checkpoint_interval_s : float
            Wall-clock seconds between checkpoints into `output` (> 0; default 60).
        overwrite : bool
            Replace an existing `output` (and `trajectory`) file (otherwise that is an
            error).
        config : mapping or None
            Configuration keys to store with the results (the command line's).
        trajectory : path or None
            Extended XYZ file of the production phase (not the equilibration): a frame at
            its start and one every `trajectory_every_hops` hops, each with the simulated
            time; see :class:`kmc.io.TrajectoryWriter` for what a frame holds. With
            `output`, a resumed run (:func:`kmc.resume`) continues it without a missing or
            repeated frame. Refused if it would exceed ``KMC_TRAJECTORY_MAX_BYTES`` (default
            2 GB) or the free space of its disk.
        trajectory_every_hops : int or None
            Production hops between frames (>= 1; default ``steps // 100``; required with
            `production_time_s`).
        trajectory_max_frames : int
            Most frames written (>= 1; default 1000); at the bound writing stops and the
            result carries a warning.
        trajectory_species : str
            Chemical symbol of the ions in the file (default "Li"; a network has no
            element names).
        trajectory_vacancies : bool or None
            Also write the empty sites, as particles "X" (None, the default: only when they
            are fewer than the ions).

        Returns
        -------
        RunResult

        Raises
        ------
        ConfigError
            On invalid values, an existing output or trajectory file, a trajectory that
            would not fit, or when no hop is possible.
        RunInterrupted
            If stopped before two blocks were finished.
        """
        blocks = _count(blocks, "blocks", 2)
        aim = _Aim.checked(steps, production_time_s, target_rel_err, target, max_steps,
                           max_wall_s)
        steps = None if steps is None else _count(steps, "steps", 1)
        if equilibration is not None:
            equilibration = _count(equilibration, "equilibration", 0)
        elif steps is not None:
            equilibration = default_equilibration(steps)
        else:
            equilibration = default_target_equilibration(self.n_ions)
        tp = None
        if production_time_s is not None:
            tp = _number(production_time_s, "production_time_s")
            if not (math.isfinite(tp) and tp > 0):
                raise ConfigError(f"production_time_s = {production_time_s!r} must be > 0")
        elif steps is not None and blocks > steps:
            raise ConfigError(f"blocks = {blocks} is more than steps = {steps}: every block "
                              "needs events (use fewer blocks or more steps)")
        writer = None
        if output is not None:
            writer = _Checkpointer(self, output, checkpoint_interval_s, config)
        traj = None
        if trajectory is not None:
            traj = _TrajectoryPlan.checked(
                self, trajectory, every_hops=trajectory_every_hops,
                max_frames=trajectory_max_frames, species=trajectory_species,
                vacancies=trajectory_vacancies, steps=None if tp is not None else steps,
                output=output, overwrite=overwrite)
        with contextlib.ExitStack() as files:
            if writer is not None:
                files.enter_context(_io.exclusive(writer.path))
                writer.check_target(overwrite)
            if traj is not None:
                files.enter_context(_io.exclusive(traj.path))
            eng = self.engine
            if not eng.total_rate_Hz > 0:
                raise self._frozen_error()
            st = _RunState(steps=None if tp is not None else steps,
                           equilibration=equilibration, blocks=blocks, production_time_s=tp,
                           start_steps=eng.steps, start_time_s=eng.time_s, trajectory=traj,
                           aim=aim)
            if traj is not None:
                frames = _Frames(self, st)
                frames.check_size()
                frames.writer.open()
                files.callback(self._close_frames)
                self._frames = frames
            return self._execute(st, progress, writer)

    def _close_frames(self) -> None:
        if self._frames is not None:
            self._frames.writer.close()
            self._frames = None

    def _execute(self, st: _RunState, progress: Callable[[int], None] | None,
                 writer: _Checkpointer | None) -> RunResult:
        """Run (or continue) the plan held in `st` to its end or to a stop request."""
        eng = self.engine
        self._stop_signal = None
        mark = [time.perf_counter()]
        last_write = [time.monotonic()]

        def tick() -> None:  # wall-time bookkeeping, kept in the state across sessions
            now = time.perf_counter()
            st.wall_s += now - mark[0]
            if st.phase == "production":
                st.prod_wall_s += now - mark[0]
            mark[0] = now

        def on_chunk(done: int) -> None:
            try:
                if progress is not None:
                    progress(done)
            except KeyboardInterrupt:
                self._stop_signal = signal.SIGINT
            tick()
            if self._stop_signal is not None:
                raise _Stop
            if writer is not None and time.monotonic() - last_write[0] >= writer.interval_s:
                writer.write(st, "running")
                last_write[0] = time.monotonic()

        if writer is not None:
            writer.write(st, "running")
        stopped = False
        try:
            with _stop_on_signals(self):
                if st.phase == "equilibration":
                    left = st.start_steps + st.equilibration - eng.steps
                    if self._advance(left, None, on_chunk) == "frozen":
                        raise self._frozen_error()
                    self._begin_production(st)
                self._produce(st, on_chunk)
                st.phase = "done"
        except _Stop:
            stopped = True
        except BaseException as exc:
            tick()
            if writer is not None and isinstance(exc, Exception):
                writer.write(st, "failed", error=" ".join(str(exc).split()))
            raise
        tick()
        signum = self._stop_signal or signal.SIGINT
        n_done = len(st.rows["duration_s"])
        if stopped and n_done < 2:
            if writer is not None:
                writer.write(st, "interrupted")
            where = f"; continue it with kmc.resume({str(writer.path)!r})" if writer else ""
            raise RunInterrupted(f"run stopped before 2 blocks were finished{where}",
                                 path=None if writer is None else str(writer.path),
                                 signum=signum)
        result = self._result(st, interrupted=stopped, signum=signum if stopped else None)
        if writer is not None:
            writer.write(st, "interrupted" if stopped else "complete",
                         result=None if stopped else result)
        return result

    def _produce(self, st: _RunState, on_chunk: Callable[[int], None]) -> None:
        """The production phase: blocks, displacement snapshots, and (for a run to a
        precision) the looks at the estimate, until its end (st.stop_reason says which)."""
        eng = self.engine
        aim = st.aim
        snap = st.snap
        assert snap is not None
        # (the points of the fine collective series, among which the snapshots' times are,
        # are recorded on the way)
        points = _CollectivePoints(eng, st)
        while True:
            n_rows = len(st.rows["duration_s"])
            t_snap = st.t_start_s + snap.next_time_s
            if aim.fixed and n_rows >= st.blocks and snap.next_time_s > st.blocks * st.tau_s \
                    * (1.0 + 1e-9):  # every block and every snapshot of the plan: done
                st.stop_reason = "time" if st.production_time_s is not None else "steps"
                return
            t_block = st.t_start_s + (n_rows + 1) * st.tau_s
            t_next = min(t_block, t_snap) if not (aim.fixed and n_rows >= st.blocks) \
                else t_snap
            if not aim.fixed:
                t_next = min(t_next, st.t_start_s + st.next_check_s)
            if t_next <= st.t_block0_s and t_next < t_snap:  # below the clock's resolution
                raise ConfigError(
                    f"block length {st.tau_s:.3g} s is too short to resolve at time "
                    f"{eng.time_s:.3g} s; use more steps per block")
            # a run to a precision stops exactly at its hop cap
            cap = None if aim.fixed else aim.max_steps - (eng.steps - st.start_steps
                                                          - st.eq_steps)
            if self._advance(cap, t_next, on_chunk, self._frames, points) == "frozen":
                raise self._frozen_error()
            if eng.time_s >= t_snap:
                self._record_snapshot(st)
            if eng.time_s >= t_block and not (aim.fixed and n_rows >= st.blocks):
                self._end_block(st)
                if not aim.fixed and len(st.rows["duration_s"]) >= 2 * st.blocks:
                    _merge_block_pairs(st)
            if aim.fixed:
                continue
            if eng.time_s >= st.t_start_s + st.next_check_s:
                fit = self._fit(st)
                err = _rel_err(fit, aim.target)
                if fit.diffusive and err <= aim.target_rel_err:
                    st.stop_reason = "target"
                    return
                st.next_check_s = (eng.time_s - st.t_start_s) * _look_growth(
                    err if fit.diffusive else math.inf, aim.target_rel_err)
            if eng.steps - st.start_steps - st.eq_steps >= aim.max_steps:
                st.stop_reason = "max_steps"
                return
            if st.prod_wall_s >= aim.max_wall_s:
                st.stop_reason = "max_wall_s"
                return

    def _record_snapshot(self, st: _RunState) -> None:
        """The ions' displacements since the start of production, at a snapshot time."""
        eng = self.engine
        disp, _ = eng.displacements()
        total = disp - st.disp0
        # (the engine's own numbers at the due time: stored without record()'s checks)
        st.snap._store(total, np.einsum("ij->j", total),  # type: ignore[union-attr]
                       np.array([eng.steps - st.start_steps - st.eq_steps], dtype=np.int64))

    def _fit(self, st: _RunState, lm: Any = None,
             counts: tuple[NDArray, NDArray] | None = None) -> DiffusionFit:
        """The lag-time MSD fit of the production so far (drift removed under a field), with
        how often the rate-limiting hop type fired (`lm` and `counts`, from
        :meth:`_lag_msd` and :meth:`_production_counts`, when the caller has them)."""
        hops, events = self._production_counts(st) if counts is None else counts
        return fit_diffusion(self._lag_msd(st) if lm is None else lm,
                             dimensionality=max(self.network.dimensionality, 1),
                             rate_limiting_hops=rate_limiting_count(
                                 self.network, _event_counts(self.network, hops, events)))

    def _lag_msd(self, st: _RunState) -> Any:
        """The production's MSD over lag times, about the mean drift under a field."""
        return lag_msd(st.snap, remove_drift=self.field_V_per_angstrom is not None)

    def _production_counts(self, st: _RunState) -> tuple[NDArray, NDArray]:
        """Events fired in production so far: per hop type, and per named event type."""
        state = self.engine.get_state()
        return (state["type_counts"] - st.counts0,
                _padded_event_counts(self.network, state["event_counts"] - (
                    st.ev_counts0 if st.ev_counts0 is not None else 0)))

    def _begin_production(self, st: _RunState) -> None:
        eng = self.engine
        st.eq_steps = eng.steps - st.start_steps
        eq_time = eng.time_s - st.start_time_s
        # mean event rate of the equilibration (or the current total rate)
        rate = (st.eq_steps / eq_time if st.eq_steps >= 1000 and eq_time > 0
                else eng.total_rate_Hz)
        if st.production_time_s is not None:
            st.tau_s = st.production_time_s / st.blocks
            planned_s = st.production_time_s
        elif st.steps is not None:
            st.tau_s = st.steps / st.blocks / rate
            planned_s = st.tau_s * st.blocks
        else:  # a run to a precision: a first look, then where the target should be met
            first_hops = max(MIN_FIRST_CHECK_HOPS, FIRST_CHECK_HOPS_PER_ION * self.n_ions)
            planned_s = first_hops / rate
            st.tau_s = planned_s / st.blocks
            st.next_check_s = planned_s
        # the fine collective series: a power of 2 points per snapshot, each at least
        # MIN_HOPS_PER_COLLECTIVE_POINT hops (at the planned rate) after the last
        hops_per_snapshot = planned_s * rate / (MAX_SNAPSHOTS - 1)
        per = 1
        while per * 2 * MIN_HOPS_PER_COLLECTIVE_POINT <= hops_per_snapshot \
                and per * 2 * (MAX_SNAPSHOTS - 1) <= MAX_COLLECTIVE:
            per *= 2
        # snapshot 0 is the start of production; the last of a fixed-length run comes at its
        # end, one short of the buffer's thinning (which would halve the lag resolution)
        st.snap = SnapshotBuffer(self.n_ions, interval_s=planned_s / (MAX_SNAPSHOTS - 1),
                                 max_snapshots=MAX_SNAPSHOTS,
                                 max_tracked_ions=MAX_TRACKED_IONS,
                                 seed=self.seed % (2**32), collective_per_snapshot=per,
                                 max_collective=MAX_COLLECTIVE)
        state = eng.get_state()
        st.disp0 = state["displacement"]
        st.disp_prev = st.disp0
        st.jsq_prev = state["jump_sq"]
        st.counts0 = state["type_counts"].copy()
        st.total0 = eng.total_displacement_A
        st.ev_counts0 = state["event_counts"].copy()
        st.steps_prev = eng.steps
        st.t_start_s = st.t_block0_s = eng.time_s
        st.phase = "production"
        if self._frames is not None:
            self._frames.write()  # the first frame: the start of production

    def _end_block(self, st: _RunState) -> None:
        eng = self.engine
        disp, jsq = eng.displacements()
        dr = disp - st.disp_prev
        rows = st.rows
        rows["duration_s"].append(eng.time_s - st.t_block0_s)
        rows["tracer_sq_A2"].append(dr.T @ dr)
        # einsum: numpy's sum over axis 0 of an (N, 3) array is 4x slower
        rows["collective_A"].append(np.einsum("ij->j", dr))
        rows["jump_sq_A2"].append(float((jsq - st.jsq_prev).sum()))
        rows["hops"].append(eng.steps - st.steps_prev)
        total = disp - st.disp0  # since the start of production
        col = st.collective_total_A()  # = total summed over the ions
        st.msd["time_s"].append(eng.time_s - st.t_start_s)
        st.msd["tracer_A2"].append(float(np.einsum("ij,ij->", total, total)) / self.n_ions)
        st.msd["collective_A2"].append(float(col @ col) / self.n_ions)
        st.disp_prev, st.jsq_prev, st.steps_prev = disp, jsq, eng.steps
        st.t_block0_s = eng.time_s

    def _result(self, st: _RunState, *, interrupted: bool, signum: int | None) -> RunResult:
        data = BlockData(**st.block_arrays())
        counts, ev_counts = self._production_counts(st)
        lm = self._lag_msd(st)
        fit = self._fit(st, lm, (counts, ev_counts))
        limiting = fit.rate_limiting_hops
        est = transport(
            data, n_ions=self.n_ions, volume_A3=self.network.volume_A3,
            temperature_K=self.temperature_K, charge_e=self.network.charge_e,
            dimensionality=self.network.dimensionality,
            field_V_per_angstrom=self.field_V_per_angstrom, jump_length_A=self.jump_length_A,
            fit=fit, rate_limiting_hops=limiting)
        hops = int(data.hops.sum())
        notes: list[str] = []
        if interrupted:
            notes.append(f"interrupted: {data.n_blocks} blocks finished")
        aim = st.aim
        converged = bool(fit.diffusive)
        if not aim.fixed:
            # a cap can end production between two looks at the estimate: the final
            # estimate is one more look, and a run whose final estimate meets the target
            # has converged whatever stopped it (stop_reason still says what did)
            converged = converged and (st.stop_reason == "target"
                                       or _rel_err(fit, aim.target) <= aim.target_rel_err)
            if st.stop_reason in ("max_steps", "max_wall_s") and not converged:
                cap = (f"{aim.max_steps} production hops" if st.stop_reason == "max_steps"
                       else f"{aim.max_wall_s:g} s of wall time")
                notes.append(f"not converged: stopped at the cap of {cap} with the relative "
                             f"error of {aim.target} at {_rel_err(fit, aim.target):.2g} "
                             f"(target {aim.target_rel_err:g}); allow more (--max-steps, "
                             "--max-wall-s)")
        db = self.detailed_balance
        if db is not None and not db.holds:
            notes.append(f"the model violates detailed balance (Kolmogorov's criterion fails by "
                         f"up to {db.max_violation_eV:.3g} eV around {db.worst_cycle}): its "
                         "rates have no equilibrium Boltzmann distribution, as kMCpy's local "
                         "site expansion need not (kmc.check_detailed_balance)")
            if self.field_V_per_angstrom is None:
                v, chi2 = zero_field_drift(data)
                if chi2 > DRIFT_CHI2_LIMIT:
                    notes.append(
                        f"the ions drift without a field: their summed displacement moves at "
                        f"({v[0]:.3g}, {v[1]:.3g}, {v[2]:.3g}) A/s (chi^2 = {chi2:.3g} against "
                        f"no drift, 3 dof): a current the rates drive by themselves in this "
                        f"periodic cell, as a model without detailed balance can; D_sigma, H_R "
                        f"and sigma include it (they grow with the block length) and are not "
                        f"linear-response transport coefficients; D* is the tracer's "
                        f"(kmc.analysis.zero_field_drift); measure sigma as the response to "
                        f"+-E instead (kmc run --response, kmc.field_response, kmc validate)")
        traj = st.trajectory
        if traj is not None and st.phase != "equilibration":
            prod_hops = self.engine.steps - st.start_steps - st.eq_steps
            if prod_hops >= traj.max_frames * traj.every_hops:  # a frame was due, not written
                notes.append(
                    f"trajectory stopped at {traj.max_frames} frames (trajectory_max_frames): "
                    f"{traj.path} holds production hops 0 to "
                    f"{(traj.max_frames - 1) * traj.every_hops} of {prod_hops}; write fewer "
                    "frames (a larger --every) or allow more (--trajectory-max-frames)")
        return RunResult(
            transport=est,
            network_name=self.network.name,
            n_sites=self.network.n_sites,
            n_ions=self.n_ions,
            temperature_K=self.temperature_K,
            attempt_frequency_Hz=self.attempt_frequency_Hz,
            dimensionality=self.network.dimensionality,
            seed=self.seed,
            equilibration_steps=int(st.eq_steps),
            hops=hops,
            simulated_time_s=float(data.duration_s.sum()),
            wall_s=st.wall_s,
            hops_per_s=hops / st.prod_wall_s if st.prod_wall_s > 0 else float("nan"),
            hop_type_counts={name: int(c) for name, c in
                             zip(self.network.hop_type_names, counts, strict=True)},
            event_counts=_event_counts(self.network, counts, ev_counts),
            displacement_share=_displacement_share(self.network, counts, ev_counts),
            field_V_per_angstrom=self.field_V_per_angstrom,
            interrupted=interrupted,
            blocks=data,
            warnings=tuple(notes),
            msd=msd_record(lm, fit),
            stop_signal=signum,
            engine_mode=self.engine.mode,
            rate_law=self.rate_law,
            converged=converged,
            stop_reason="interrupted" if interrupted else st.stop_reason,
            detailed_balance_violation_eV=0.0 if db is None else db.max_violation_eV,
        )

    @property
    def detailed_balance(self) -> Any:
        """Kolmogorov's criterion on the network's short cycles under this run's rate law
        (:func:`kmc.energy.check_detailed_balance`, seeded), for a network with local models;
        None without (site, pair and cluster energies obey detailed balance by construction).
        Computed once."""
        if "_detailed_balance" not in self.__dict__:
            net = self.network
            rep = None
            if getattr(net, "n_local_models", 0):
                from .energy import check_detailed_balance
                rep = check_detailed_balance(net, rate_law=self.rate_law, n_configurations=4,
                                             n_pairs=32, seed=0)
            self.__dict__["_detailed_balance"] = rep
        return self.__dict__["_detailed_balance"]

    # ---------------------------------------------------------------- resume
    @classmethod
    def resume(cls, path: str | os.PathLike[str], *,
               progress: Callable[[int], None] | None = None,
               checkpoint_interval_s: float | None = None) -> RunResult:
        """Continue the run checkpointed in `path` and finish it; see :func:`resume`."""
        return resume(path, progress=progress, checkpoint_interval_s=checkpoint_interval_s)


def _padded_event_counts(net: Network, ev_counts: NDArray) -> NDArray:
    """Event counts with one per named event type: an event set may be empty but named (a
    generator that found no event); the engine then has no events and returns no counts;
    those types fired 0 times."""
    missing = len(net.event_type_names) - ev_counts.shape[0]
    if missing > 0:
        ev_counts = np.concatenate([ev_counts, np.zeros(missing, dtype=ev_counts.dtype)])
    return ev_counts


def rate_limiting_count(net: Network, counts: Mapping[str, int]) -> int | None:
    """How often the rate-limiting hop (or event) type fired: adding the types from the most
    to the least fired, the type that makes the network percolate (reach its full
    dimensionality) is the rate-limiting one. None for a network that does not percolate.

    Parameters
    ----------
    net : Network
    counts : mapping
        Events fired per hop and event type name (RunResult.event_counts).
    """
    full = int(net.dimensionality)
    if full == 0:
        return None
    kept: list[str] = []
    for name, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        kept.append(name)
        if net.type_dimensionality(kept) >= full:
            return int(count)
    return None  # (not reached: all types together percolate)


def _rel_err(fit: DiffusionFit, target: str) -> float:
    """Relative standard error of the quantity a run to a precision aims at."""
    if target == "sigma":
        value, err = fit.D_sigma_cm2_s, fit.D_sigma_cm2_s_err
    else:
        value, err = fit.D_tracer_cm2_s, fit.D_tracer_cm2_s_err
    return abs(err / value) if value and math.isfinite(err / value) else math.inf


def _look_growth(rel_err: float, target: float) -> float:
    """By how much a run to a precision extends its production before its next look: to
    where its relative error, falling as 1 / sqrt(time), should reach the target, with
    LOOK_MARGIN to spare, within [MIN_LOOK_GROWTH, MAX_LOOK_GROWTH]; 2 without an error to
    go by (no diffusive regime yet)."""
    if not math.isfinite(rel_err):
        return 2.0
    return min(MAX_LOOK_GROWTH, max(MIN_LOOK_GROWTH, LOOK_MARGIN * (rel_err / target) ** 2))


def _merge_block_pairs(st: _RunState) -> None:
    """Merge the blocks of a run to a precision in pairs (block length doubled), so that it
    keeps between `blocks` and 2 `blocks` of them however long it runs."""
    rows = st.rows
    for k in _RUN_ROWS:
        pairs = rows[k]
        rows[k] = [pairs[i] + pairs[i + 1] for i in range(0, len(pairs) - 1, 2)]
    for k in _MSD_ROWS:  # the MSD at the ends of the merged blocks
        st.msd[k] = st.msd[k][1::2]
    st.tau_s *= 2.0
    st._col_sum, st._col_rows = np.zeros(3), 0


def _event_counts(net: Network, hop_counts: NDArray, ev_counts: NDArray) -> dict[str, int]:
    """Events fired per hop type and per multi-ion event type (names are distinct)."""
    out = {name: int(c) for name, c in zip(net.hop_type_names, hop_counts, strict=True)}
    out.update({name: int(c) for name, c in zip(net.event_type_names, ev_counts, strict=True)})
    return out


def _displacement_share(net: Network, hop_counts: NDArray,
                        ev_counts: NDArray) -> dict[str, float]:
    """Share of the summed squared ion displacements (sum over moves of |move|^2) made by each
    hop and event type: counts times the mean squared move length of the type (exact when the
    members of a type have equal move lengths, as for types grouped by distance)."""
    hop_sq = net.hop_type_mean_sq_A2()
    w = {name: float(c) * float(q) for name, c, q in
         zip(net.hop_type_names, hop_counts, hop_sq, strict=True)}
    w.update({name: float(c) * float(q) for name, c, q in
              zip(net.event_type_names, ev_counts, net.event_type_mean_sq_A2(), strict=True)})
    total = sum(w.values())
    return {k: (v / total if total > 0 else 0.0) for k, v in w.items()}


class _Stop(Exception):
    """Raised at a chunk boundary when a stop was requested."""


@dataclass(frozen=True)
class _TrajectoryPlan:
    """What a run's trajectory is: its file (absolute path), the production hops between
    frames, the most frames, the ions' chemical symbol and whether empty sites are written.
    Stored in the run file's plan (so :func:`resume` continues it)."""

    path: str
    every_hops: int
    max_frames: int
    species: str
    vacancies: bool

    @classmethod
    def checked(cls, sim: Simulation, path: str | os.PathLike[str], *,
                every_hops: int | None, max_frames: int, species: str,
                vacancies: bool | None, steps: int | None,
                output: str | os.PathLike[str] | None, overwrite: bool) -> _TrajectoryPlan:
        """Validate the trajectory arguments of :meth:`Simulation.run`; the defaults filled
        in (`steps`: production hops, None for a production time)."""
        p = Path(path)
        if p.is_dir():
            raise ConfigError(f"trajectory {str(p)!r} is a directory")
        if str(p.parent) and not p.parent.is_dir():
            raise ConfigError(f"the directory of trajectory {str(p)!r} does not exist")
        if output is not None and p.resolve() == Path(output).resolve():
            raise ConfigError(f"trajectory {str(p)!r} is the output file too; give it its "
                              "own name (e.g. run.xyz beside run.h5)")
        if p.exists() and not overwrite:
            raise ConfigError(f"trajectory {str(p)!r} exists; choose another file or pass "
                              "overwrite=True (--overwrite)")
        if every_hops is None:
            if steps is None:
                raise ConfigError("trajectory_every_hops must be given for a run without a "
                                  "fixed number of steps (a production time, or a run to a "
                                  "precision): its hops are not known in advance")
            every = max(1, steps // DEFAULT_TRAJECTORY_FRAMES)
        else:
            every = _count(every_hops, "trajectory_every_hops", 1)
        frames = _count(max_frames, "trajectory_max_frames", 1)
        if not isinstance(species, str):
            raise ConfigTypeError(f"trajectory_species = {species!r} must be a chemical "
                                  "symbol (a string)")
        n_empty = sim.network.n_sites - sim.n_ions
        vac = n_empty < sim.n_ions if vacancies is None else vacancies
        if not isinstance(vac, (bool, np.bool_)):
            raise ConfigTypeError(f"trajectory_vacancies = {vacancies!r} must be True, False "
                                  "or None")
        return cls(str(p.resolve()), every, frames, species, bool(vac))

    def to_plan(self) -> dict[str, Any]:
        """The run file's plan entries."""
        return {"trajectory": self.path, "trajectory_every_hops": self.every_hops,
                "trajectory_max_frames": self.max_frames, "trajectory_species": self.species,
                "trajectory_vacancies": self.vacancies}

    @classmethod
    def from_plan(cls, plan: Mapping[str, Any]) -> _TrajectoryPlan | None:
        """The trajectory of a run file's plan (None: the run writes none)."""
        if plan.get("trajectory") is None:
            return None
        return cls(str(plan["trajectory"]), int(plan["trajectory_every_hops"]),
                   int(plan["trajectory_max_frames"]), str(plan["trajectory_species"]),
                   bool(plan["trajectory_vacancies"]))


class _Frames:
    """Writes a run's trajectory: frame k at production hop k * every_hops, k < max_frames.

    Which frames are written follows from the production hops alone, so a run cut into
    sessions (checkpoint, resume) writes the same frames as one made in one go; the count
    and the file size are in the run state (`traj_frames`, `traj_bytes`).
    """

    def __init__(self, sim: Simulation, st: _RunState) -> None:
        plan = st.trajectory
        assert plan is not None
        self.sim, self.st, self.plan = sim, st, plan
        # both network classes have `cell` and `positions`; they are not in the Network
        # protocol, whose isinstance check would compute a PeriodicNetwork's positions
        net: Any = sim.network
        self.writer = _io.TrajectoryWriter(
            plan.path, cell_A=net.cell, site_positions_A=net.positions, n_ions=sim.n_ions,
            species=plan.species, vacancies=plan.vacancies)

    def hops_to_next(self) -> int | None:
        """Hops until the next frame (0: due now), None when no frame is left to write (or
        production has not started)."""
        st = self.st
        if st.phase != "production" or st.traj_frames >= self.plan.max_frames:
            return None
        eng = self.sim.engine
        return st.start_steps + st.eq_steps + st.traj_frames * self.plan.every_hops - eng.steps

    def write(self) -> None:
        """Write the frame of the engine's present state."""
        st, eng = self.st, self.sim.engine
        disp, _ = eng.displacements()
        self.writer.write(eng.get_state()["ion_site"], disp - st.disp0,
                          eng.time_s - st.t_start_s, eng.steps - st.start_steps - st.eq_steps)
        st.traj_frames += 1
        st.traj_bytes = self.writer.bytes

    def check_size(self) -> None:
        """Refuse a trajectory that would exceed the size limit or its disk's free space.

        The estimate is (frames) x (bytes of a frame of the present state, plus 64 for the
        longer numbers of later frames), with min(max_frames, 1 + steps // every_hops)
        frames (max_frames for a production time).
        """
        st, plan, eng = self.st, self.plan, self.sim.engine
        frame_bytes = self.writer.frame_bytes(eng.get_state()["ion_site"]) + 64
        frames = plan.max_frames if st.steps is None else min(
            plan.max_frames, 1 + st.steps // plan.every_hops)
        estimate = frames * frame_bytes
        env = os.environ.get(TRAJECTORY_MAX_BYTES_ENV)
        try:
            limit = int(float(env)) if env else TRAJECTORY_MAX_BYTES
        except ValueError:
            raise ConfigError(f"{TRAJECTORY_MAX_BYTES_ENV} = {env!r} must be a number of "
                              "bytes") from None
        what = (f"trajectory {plan.path!r} would hold about {format_bytes(estimate)} "
                f"({frames} frames of {self.writer.n_particles} particles, "
                f"{format_bytes(frame_bytes)} each)")
        hint = ("; write fewer frames (a larger --every / trajectory_every_hops, or "
                "--trajectory-max-frames)"
                + (" or no empty sites (--no-trajectory-vacancies)" if plan.vacancies else ""))
        if estimate > limit:
            raise ConfigError(f"{what}, more than the limit of {format_bytes(limit)} "
                              f"({TRAJECTORY_MAX_BYTES_ENV} sets it){hint}")
        free = shutil.disk_usage(Path(plan.path).parent).free
        if estimate > free:
            raise ConfigError(f"{what}, but its disk has only {format_bytes(free)} free{hint}")


_RUN_ROWS = ("duration_s", "tracer_sq_A2", "collective_A", "jump_sq_A2", "hops")
_MSD_ROWS = ("time_s", "tracer_A2", "collective_A2")
_ROW_SHAPES = {"duration_s": (0,), "tracer_sq_A2": (0, 3, 3), "collective_A": (0, 3),
               "jump_sq_A2": (0,), "hops": (0,)}


@dataclass(frozen=True)
class _Aim:
    """How production ends: at a fixed length (hops or simulated time: `target_rel_err`
    None), or once the relative standard error of `target` is at most `target_rel_err` and
    the transport is diffusive, or at a cap (production hops, wall seconds)."""

    target_rel_err: float | None
    target: str = "sigma"
    max_steps: int = DEFAULT_MAX_STEPS
    max_wall_s: float = DEFAULT_MAX_WALL_S

    @property
    def fixed(self) -> bool:
        return self.target_rel_err is None

    @classmethod
    def checked(cls, steps: Any, production_time_s: Any, target_rel_err: Any, target: Any,
                max_steps: Any, max_wall_s: Any) -> _Aim:
        given = [name for name, v in (("target_rel_err", target_rel_err),
                                      ("max_steps", max_steps), ("max_wall_s", max_wall_s))
                 if v is not None]
        if steps is not None or production_time_s is not None:
            if given:
                what = "steps" if steps is not None else "production_time_s"
                raise ConfigError(f"{given[0]} is for a run to a precision, and {what} fixes "
                                  "the length; give one of them")
            return cls(None)
        return cls(
            target_rel_err=_checks.real(
                DEFAULT_TARGET_REL_ERR if target_rel_err is None else target_rel_err,
                "target_rel_err", lo=0.0, hi=1.0, lo_open=True, hi_open=True),
            target=_checks.choice(target, "target", TARGETS),
            max_steps=_checks.integer(DEFAULT_MAX_STEPS if max_steps is None else max_steps,
                                      "max_steps", lo=MIN_MAX_STEPS, whole_floats=True),
            max_wall_s=_checks.real(DEFAULT_MAX_WALL_S if max_wall_s is None else max_wall_s,
                                    "max_wall_s", lo=MIN_MAX_WALL_S))

    def to_plan(self) -> dict[str, Any]:
        """The plan's keys of a run to a precision (none for a fixed length)."""
        if self.fixed:
            return {}
        return {"target_rel_err": self.target_rel_err, "target": self.target,
                "max_steps": self.max_steps, "max_wall_s": self.max_wall_s}

    def to_record(self) -> dict[str, Any]:
        return {"target_rel_err": math.nan if self.fixed else self.target_rel_err,
                "target": self.target, "max_steps": self.max_steps,
                "max_wall_s": self.max_wall_s}

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> _Aim:
        r = float(rec.get("target_rel_err", math.nan))
        if math.isnan(r):
            return cls(None)
        return cls(r, str(rec["target"]), int(rec["max_steps"]), float(rec["max_wall_s"]))


class _CollectivePoints:
    """The engine's calls of a production stretch, recording the fine collective series on
    the way (:meth:`Engine.run_points`): the engine stops at each of its points, as if the
    run loop had stopped it there, and returns to Python only when its buffer is full, the
    series must thin (its points closer than MIN_HOPS_PER_COLLECTIVE_POINT hops on average,
    or its buffer full), or the call's own stop comes. The same events and the same series
    as one engine call per point, without a Python round trip per point (about 3 us each;
    on a small fast model a point comes every 50-100 us of engine time)."""

    BUFFER = 512  # points per engine call at most

    def __init__(self, eng: Engine, st: _RunState) -> None:
        self.eng, self.st = eng, st
        self.total = np.empty((self.BUFFER, 3))
        self.steps = np.empty(self.BUFFER, np.uint64)

    def run(self, max_steps: int, t_stop: float | None) -> tuple[int, str]:
        st, snap = self.st, self.st.snap
        assert snap is not None and st.total0 is not None
        k0 = snap.n_collective
        interval = snap.collective_interval_s
        m = min(self.BUFFER, snap.collective_room)
        if m < 1:  # (the series thins itself when full: never here, but a 0 would loop)
            raise KMCError(f"the fine collective series has no room ({snap!r})")
        steps0 = st.start_steps + st.eq_steps
        # (at the coarsest interval, the snapshots', the series no longer thins on density)
        min_hops = MIN_HOPS_PER_COLLECTIVE_POINT if interval < snap.interval_s else 0
        done, reason, n = self.eng.run_points(max_steps, t_stop, st.t_start_s, interval, k0,
                                              self.total[:m], self.steps[:m],
                                              min_hops=min_hops, steps0=steps0)
        for j in range(n):
            snap._append_collective(self.total[j] - st.total0)
            # points closer than MIN_HOPS_PER_COLLECTIVE_POINT hops (at the mean rate so
            # far) cost more in engine stops than they add: thin them (the engine returned
            # at the first such point: it is the last one here)
            t = st.t_start_s + (k0 + j) * interval  # (where the engine stopped for it)
            prod_hops = int(self.steps[j])
            while snap.collective_interval_s * prod_hops \
                    < MIN_HOPS_PER_COLLECTIVE_POINT * (t - st.t_start_s) \
                    and snap.collective_interval_s < snap.interval_s:
                snap.thin_collective()
        return done, reason


@dataclass
class _RunState:
    """Everything beyond the engine's own state that a run needs to continue.

    Times in s, displacements in Angstrom. Checkpointed with the engine state.
    """

    steps: int | None
    equilibration: int
    blocks: int
    production_time_s: float | None
    start_steps: int
    start_time_s: float
    phase: str = "equilibration"
    eq_steps: int = 0
    tau_s: float = math.nan
    t_start_s: float = math.nan
    t_block0_s: float = math.nan
    steps_prev: int = 0
    counts0: NDArray[np.uint64] | None = None
    ev_counts0: NDArray[np.uint64] | None = None
    disp0: NDArray[np.float64] | None = None
    disp_prev: NDArray[np.float64] | None = None
    jsq_prev: NDArray[np.float64] | None = None
    total0: NDArray[np.float64] | None = None  # summed displacement at production's start
    wall_s: float = 0.0
    prod_wall_s: float = 0.0
    trajectory: _TrajectoryPlan | None = None
    traj_frames: int = 0  # frames written so far
    traj_bytes: int = 0  # and the trajectory file's size after them
    aim: _Aim = field(default_factory=lambda: _Aim(None))
    snap: SnapshotBuffer | None = None  # the production's displacement snapshots
    next_check_s: float = math.nan  # a run to a precision: production time of its next look
    stop_reason: str = ""  # why production ended: "steps", "time", "target", "max_steps", ...
    rows: dict[str, list[Any]] = field(default_factory=lambda: {k: [] for k in _RUN_ROWS})
    msd: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in _MSD_ROWS})
    # running sum of rows["collective_A"] over its first _col_rows rows (not checkpointed:
    # redone from the rows after a restore, in the same order, so with the same bits)
    _col_sum: NDArray[np.float64] = field(default_factory=lambda: np.zeros(3), repr=False)
    _col_rows: int = field(default=0, repr=False)

    _ARRAYS = ("counts0", "ev_counts0", "disp0", "disp_prev", "jsq_prev", "total0")
    _SCALARS = ("steps", "equilibration", "blocks", "production_time_s", "start_steps",
                "start_time_s", "phase", "eq_steps", "tau_s", "t_start_s", "t_block0_s",
                "steps_prev", "wall_s", "prod_wall_s", "traj_frames", "traj_bytes",
                "next_check_s", "stop_reason")
    _SNAP = "snap_"  # prefix of the snapshot buffer's state in the checkpoint
    _AIM = "aim_"  # and of the stopping rule's

    def collective_total_A(self) -> NDArray[np.float64]:
        """Sum of the blocks' collective displacements so far, Angstrom (O(1) per block)."""
        rows = self.rows["collective_A"]
        if self._col_rows > len(rows):  # rows replaced: start again
            self._col_sum, self._col_rows = np.zeros(3), 0
        for row in rows[self._col_rows:]:
            self._col_sum = self._col_sum + row
        self._col_rows = len(rows)
        return self._col_sum

    def plan(self) -> dict[str, Any]:
        out = {"steps": self.steps, "equilibration": self.equilibration,
               "blocks": self.blocks, "production_time_s": self.production_time_s,
               **self.aim.to_plan()}
        if self.trajectory is not None:
            out.update(self.trajectory.to_plan())
        return out

    def block_arrays(self) -> dict[str, NDArray]:
        out = {}
        for k in _RUN_ROWS:
            arr = np.asarray(self.rows[k], dtype=np.int64 if k == "hops" else np.float64)
            out[k] = arr.reshape(_ROW_SHAPES[k]) if arr.size == 0 else arr
        return out

    def msd_arrays(self) -> dict[str, NDArray]:
        return {k: np.asarray(v, dtype=np.float64) for k, v in self.msd.items()}

    def to_record(self) -> dict[str, Any]:
        """Scalars (None -> -1 / nan) and arrays for the checkpoint."""
        rec: dict[str, Any] = {}
        for k in self._SCALARS:
            v = getattr(self, k)
            rec[k] = (-1 if k == "steps" else math.nan) if v is None else v
        for k in self._ARRAYS:
            v = getattr(self, k)
            if v is not None:
                rec[k] = v
        rec.update({self._AIM + k: v for k, v in self.aim.to_record().items()})
        if self.snap is not None:
            rec.update({self._SNAP + k: v for k, v in self.snap.state().items()})
        return rec

    @classmethod
    def from_record(cls, rec: Mapping[str, Any], blocks: Mapping[str, Any],
                    msd: Mapping[str, Any]) -> _RunState:
        kw: dict[str, Any] = {k: rec[k] for k in cls._SCALARS if k in rec}
        kw["steps"] = None if int(kw["steps"]) < 0 else int(kw["steps"])
        tp = float(kw["production_time_s"])
        kw["production_time_s"] = None if math.isnan(tp) else tp
        for k in ("equilibration", "blocks", "start_steps", "eq_steps", "steps_prev",
                  "traj_frames", "traj_bytes"):
            if k in kw:  # (files written before trajectories have no traj_*)
                kw[k] = int(kw[k])
        kw["phase"] = str(kw["phase"])
        kw["stop_reason"] = str(kw.get("stop_reason", ""))
        kw["aim"] = _Aim.from_record({k[len(cls._AIM):]: v for k, v in rec.items()
                                      if k.startswith(cls._AIM)})
        st = cls(**kw)
        snap = {k[len(cls._SNAP):]: v for k, v in rec.items() if k.startswith(cls._SNAP)}
        if snap:
            st.snap = SnapshotBuffer.from_state(snap)
        for k in cls._ARRAYS:
            if k in rec:
                setattr(st, k, np.asarray(rec[k]))
        st.rows = {k: list(np.asarray(blocks[k])) for k in _RUN_ROWS}
        st.rows["jump_sq_A2"] = [float(x) for x in st.rows["jump_sq_A2"]]
        st.rows["hops"] = [int(x) for x in st.rows["hops"]]
        st.msd = {k: [float(x) for x in np.asarray(msd[k])] for k in _MSD_ROWS}
        return st


class _Checkpointer:
    """Writes a run's file: inputs, blocks so far, the full state, and at the end the result.

    A large network (:data:`kmc.io.NETWORK_FILE_MIN_BYTES`) is written once, to a network
    file next to the run file that the checkpoints link to (a resumed run goes on with the
    one it was read from); the run's last write (complete or failed) copies it into the run
    file and removes the network file. After each write, the network files of this run
    file that it no longer names (an earlier run's, replaced) are removed.
    """

    def __init__(self, sim: Simulation, path: str | os.PathLike[str], interval_s: float,
                 config: Mapping[str, Any] | None, created: str | None = None,
                 network_file: tuple[str, str, int] | None = None) -> None:
        interval = _number(interval_s, "checkpoint_interval_s")
        if not (math.isfinite(interval) and interval > 0):
            raise ConfigError(f"checkpoint_interval_s = {interval_s!r} must be finite and > 0")
        self.sim = sim
        self.path = Path(path)
        self.interval_s = interval
        self.config = None if config is None else dict(config)
        self.created = created
        self._network_file = network_file  # (file name, network id, format version)
        self._large: bool | None = None

    def _network_link(self) -> tuple[str, str, int] | None:
        """The network file the checkpoints link to (written on the first call), or None:
        the network is small enough to go into every checkpoint."""
        if self._network_file is None:
            if self._large is None:
                self._large = _io.network_nbytes(self.sim.network) >= _io.NETWORK_FILE_MIN_BYTES
            if self._large:
                network_id = uuid.uuid4().hex[:16]
                side = _io.network_file_path(self.path, network_id)
                version = _io.write_network_file(side, self.sim.network, network_id)
                self._network_file = (side.name, network_id, version)
        return self._network_file

    def _remove_network_files(self, keep: str | None) -> None:
        """Remove this run file's network files other than `keep` (a file name)."""
        pattern = glob.escape(self.path.name) + ".network-*.h5"
        for side in self.path.parent.glob(pattern):
            if side.name != keep:
                side.unlink(missing_ok=True)

    def check_target(self, overwrite: bool) -> None:
        """Refuse to replace an existing file (its results would be lost) unless asked."""
        if self.path.is_dir():
            raise ConfigError(f"output {str(self.path)!r} is a directory")
        if not self.path.parent.is_dir() and str(self.path.parent):
            raise ConfigError(f"the directory of output {str(self.path)!r} does not exist")
        if self.path.exists() and not overwrite:
            try:
                status = _io.read_run(self.path).status
                what = {"complete": "the results of a finished run",
                        "failed": "a failed run"}.get(
                    status, f"an unfinished run (continue it with kmc run --resume "
                            f"{self.path})")
            except ConfigError:  # a sweep file, or not a kmc file: say which
                what = _io.describe_file(self.path)
            raise ConfigError(f"output {str(self.path)!r} exists and holds {what}; choose "
                              "another output file or pass overwrite=True (--overwrite)")

    def write(self, st: _RunState, status: str, *, result: RunResult | None = None,
              error: str | None = None) -> None:
        sim = self.sim
        net = sim.network
        eng = sim.engine
        prov = _io.provenance(self.created)
        self.created = prov["created"]
        inputs = {"temperature_K": sim.temperature_K,
                  "attempt_frequency_Hz": sim.attempt_frequency_Hz, "seed": sim.seed,
                  "n_ions": sim.n_ions, "n_sites": net.n_sites, "charge_e": net.charge_e,
                  "volume_A3": net.volume_A3, "dimensionality": net.dimensionality,
                  "field_V_per_angstrom": sim.field_V_per_angstrom,
                  "engine_mode": sim.engine_mode, "rate_law": sim.rate_law,
                  "initial_ion_sites": sim._initial_sites}
        engine_state = {k: (np.asarray(v) if isinstance(v, np.ndarray) else v)
                        for k, v in eng.get_state().items()}
        if sim._frames is not None:  # the frames the checkpoint counts are on disk first
            sim._frames.writer.sync()
        final = status in ("complete", "failed")
        link = self._network_file if final else self._network_link()
        _io.write_run(self.path, network=net, inputs=inputs, plan=st.plan(), status=status,
                      blocks=st.block_arrays(), msd=st.msd_arrays(),
                      checkpoint={"engine": engine_state, "run": st.to_record()},
                      summary=None if result is None else result.to_dict(),
                      config=self.config, prov=prov, error=error, network_file=link,
                      embed_network=final)
        self._remove_network_files(None if final or link is None else link[0])


@contextlib.contextmanager
def _stop_on_signals(sim: Simulation) -> Iterator[None]:
    """SIGINT and SIGTERM request a clean stop while the block runs (main thread only).

    A second SIGINT while a stop is pending raises KeyboardInterrupt at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if signum == signal.SIGINT and sim._stop_signal is not None:
            raise KeyboardInterrupt
        sim.request_stop(signum)

    previous = {}
    for s in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[s] = signal.signal(s, handler)
        except (ValueError, OSError):  # pragma: no cover - not allowed here
            pass
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def resume(path: str | os.PathLike[str], *, progress: Callable[[int], None] | None = None,
           checkpoint_interval_s: float | None = None) -> RunResult:
    """Continue an interrupted run from its file and finish it.

    The result is bit-identical to that of the same run made without interruption
    (every number but the wall-clock times): the engine state, its RNG state and the
    block accumulators all come back from the last checkpoint. A complete file just
    gives its result back.

    Parameters
    ----------
    path : path
        A run file written by :meth:`Simulation.run` with ``output=path``.
    progress : callable or None
        As for :meth:`Simulation.run`.
    checkpoint_interval_s : float or None
        Wall seconds between checkpoints (default: the interval of the first session,
        as stored in its config, else 60).

    Returns
    -------
    RunResult

    Raises
    ------
    ConfigError
        If the file is unreadable, not a kmc run, failed, or holds no checkpoint.
    RunInterrupted
        If stopped again before two blocks were finished.
    """
    with _io.exclusive(path):
        return _resume(path, progress, checkpoint_interval_s)


def _resume(path: str | os.PathLike[str], progress: Callable[[int], None] | None,
            checkpoint_interval_s: float | None) -> RunResult:
    rec = _io.read_run(path)
    if rec.status == "complete":
        return _io.result_from_run(rec)
    if rec.status == "failed":
        raise ConfigError(f"{str(path)!r}: the run failed and cannot be resumed: {rec.error}")
    if rec.checkpoint is None:
        raise ConfigError(f"{str(path)!r} holds no checkpoint to resume from")
    inp = rec.inputs
    engine_state = rec.checkpoint["engine"]
    sim = Simulation(rec.network(), float(inp["temperature_K"]),
                     ion_sites=np.asarray(engine_state["ion_site"], dtype=np.int32),
                     seed=int(inp["seed"]),
                     attempt_frequency_Hz=float(inp["attempt_frequency_Hz"]),
                     field_V_per_angstrom=inp.get("field_V_per_angstrom"),
                     engine_mode=str(inp.get("engine_mode", "auto")),
                     rate_law=str(inp.get("rate_law", "kra")))
    sim.engine.set_state(engine_state)
    sim._initial_sites = np.asarray(inp["initial_ion_sites"], dtype=np.int32)
    st = _RunState.from_record(rec.checkpoint["run"], rec.blocks, rec.msd)
    st.trajectory = _TrajectoryPlan.from_plan(rec.plan)
    if checkpoint_interval_s is None:
        checkpoint_interval_s = float((rec.config or {}).get("checkpoint_interval", 60.0))
    link = None
    if rec.network_file is not None:  # go on with the network file the network came from
        link = (rec.network_file, str(rec.network_id),
                _io.network_file_version(Path(path).with_name(rec.network_file)))
    writer = _Checkpointer(sim, path, checkpoint_interval_s, rec.config,
                           created=rec.provenance.get("created"), network_file=link)
    if st.trajectory is None:
        return sim._execute(st, progress, writer)
    with _io.exclusive(st.trajectory.path):
        frames = _Frames(sim, st)
        frames.writer.open(start_bytes=st.traj_bytes)  # drops frames after the checkpoint
        sim._frames = frames
        try:
            return sim._execute(st, progress, writer)
        finally:
            sim._close_frames()


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
    eq = default_equilibration(steps) if equilibration is None else _count(
        equilibration, "equilibration", 0)
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

