"""Sweeps: temperatures x compositions x replicas as independent runs.

The composition axis is one key (:data:`kmc.config.AXIS_KEYS`): an occupancy, ion or
vacancy count, or for a microstructure its grain size, number of grains or conducting
fraction. Each run of a microstructure sweep is a run of the microstructure's network (no
bulk run); its effective conductivity ``sigma_eff_S_cm`` (with the bulk's dimensionality,
:func:`kmc.microstructure.effective_sigma_S_cm`) is tabulated beside the others.

Every run of a sweep has its own seed, derived from the sweep's master seed and the
run's point (temperature, composition, replica), so a run's numbers do not depend on
which other runs the sweep holds, on their order, or on where it ran: a local process
pool (the default) or a dask.distributed cluster (``scheduler=ADDRESS``).

While the sweep runs, each run lives in its own run file in ``OUTPUT.parts/`` (written
and checkpointed by the worker); finished runs are gathered into the sweep file
``OUTPUT`` (atomically, at least every 30 s and at the end), after which their part
files are removed. Restarting the same sweep recomputes nothing that finished and
continues unfinished runs from their checkpoints. A run whose worker died is retried.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import assemble
from . import io as _io
from .config import RunConfig, SweepConfig
from .constants import SEED_LIMIT
from .errors import ConfigError, KMCError, RunInterrupted
from .simulation import resume
from .results import SweepResult

__all__ = ["RunSpec", "SweepResult", "run_sweep", "plan_runs", "derive_seed", "cpu_count"]

#: Attempts per run before a sweep gives up on it (a worker killed, an unexpected error).
MAX_ATTEMPTS = 3
#: Wall seconds between rewrites of the sweep file while runs finish.
GATHER_INTERVAL_S = 30.0


def cpu_count() -> int:
    """Cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def derive_seed(master_seed: int, temperature_K: float, composition_key: str,
                composition: Any, replica: int) -> int:
    """The seed of one run: a hash of its point mixed with the master seed.

    Order-independent (adding a temperature to a sweep leaves the other runs' seeds
    alone) and statistically independent between points (numpy's SeedSequence).

    Returns
    -------
    int
        A seed in [0, 2**63).
    """
    point = json.dumps([float(temperature_K), composition_key, composition, int(replica)])
    words = np.frombuffer(hashlib.sha256(point.encode()).digest()[:16], dtype=np.uint32)
    ss = np.random.SeedSequence(entropy=int(master_seed), spawn_key=tuple(int(w) for w in words))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def _fmt(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its point, its seed and its full configuration."""

    run_id: str
    temperature_K: float
    composition_key: str
    composition: Any
    replica: int
    seed: int
    config: dict[str, Any] = field(repr=False)


def plan_runs(cfg: SweepConfig, master_seed: int) -> list[RunSpec]:
    """All runs of a sweep (temperature-major, then composition, then replica)."""
    specs = []
    for T in cfg.temperatures_K:
        for comp in cfg.compositions:
            for r in range(cfg.replicas):
                seed = derive_seed(master_seed, T, cfg.composition_key, comp, r)
                run = cfg.run_config(T, comp, seed)
                run_id = f"T{_fmt(T)}K_{cfg.composition_key}{_fmt(comp)}_r{r}"
                specs.append(RunSpec(run_id, float(T), cfg.composition_key, comp, r, seed,
                                     run.model_keys()))
    return specs


# --------------------------------------------------------------------------- #
# one run, in a worker
# --------------------------------------------------------------------------- #
#: In a pool worker: the coordinator's stop request (a multiprocessing Event), or None.
_STOP: Any = None


def _worker_init(stop: Any = None) -> None:
    """Pool worker set-up: Ctrl-C reaches every process of the terminal's group, so a worker
    ignores it and stops when the coordinator sets `stop` instead (a run in progress then
    checkpoints at its next chunk and returns "interrupted"). No signal is sent to workers,
    so a worker that is still starting up is never killed half-way (which would break the
    pool and take the others down with it)."""
    global _STOP
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _STOP = stop


def _stop_requested(done: int) -> None:
    """Progress callback of a worker's run: stop (as Ctrl-C would) once the coordinator asks."""
    if _STOP is not None and _STOP.is_set():
        raise KeyboardInterrupt


def execute_run(config: dict[str, Any], part_path: str | None,
                checkpoint_interval_s: float) -> dict[str, Any]:
    """Run (or continue) one run of a sweep; the function the workers call.

    Parameters
    ----------
    config : dict
        The run's configuration keys (:meth:`kmc.config.RunConfig.model_keys`).
    part_path : str or None
        The run's own file: continued from its checkpoint if it holds one. None (a
        worker without the sweep's file system, e.g. on a dask cluster): the run is made
        in a temporary file whose bytes are returned.
    checkpoint_interval_s : float
        Wall seconds between checkpoints.

    Returns
    -------
    dict
        ``status`` ("complete" or "interrupted") and, without `part_path`, ``data``: the
        bytes of the run file.
    """
    tmpdir = None
    if part_path is None:
        tmpdir = tempfile.mkdtemp(prefix="kmc-run-")
        path = os.path.join(tmpdir, "run.h5")
    else:
        path = part_path
    try:
        status = None
        if os.path.exists(path):
            try:
                status = _io.read_run(path).status
            except ConfigError:  # a torn or foreign file: start the run again
                status = None
        try:
            if status in ("running", "interrupted"):
                result = resume(path, checkpoint_interval_s=checkpoint_interval_s,
                                progress=_stop_requested)
            elif status == "complete":
                return {"status": "complete"}
            else:
                run = RunConfig.from_dict(config, where="sweep run")
                result = assemble.simulation(run).run(
                    **run.plan.run_kwargs(), output=path, overwrite=True,
                    checkpoint_interval_s=checkpoint_interval_s, config=config,
                    progress=_stop_requested)
        except RunInterrupted:
            return {"status": "interrupted"}
        out: dict[str, Any] = {"status": "interrupted" if result.interrupted else "complete"}
        if tmpdir is not None and out["status"] == "complete":
            out["data"] = Path(path).read_bytes()
        return out
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


# --------------------------------------------------------------------------- #
# the sweep file
# --------------------------------------------------------------------------- #
def _sweep_record(cfg: SweepConfig) -> dict[str, Any]:
    record = {"base": cfg.base, "temperatures_K": list(cfg.temperatures_K),
              "composition_key": cfg.composition_key, "compositions": list(cfg.compositions),
              "replicas": cfg.replicas}
    probe = cfg.run_config(cfg.temperatures_K[0], cfg.compositions[0], 0)
    if probe.model.microstructure_kind is not None:  # sigma_eff needs the bulk's dimension
        record["bulk_dimensionality"] = int(assemble.bulk_network(probe.model).dimensionality)
    return record


def _gather(output: Path, record: dict[str, Any], master_seed: int,
            sources: dict[str, tuple[str, str]], points: dict[str, dict[str, Any]]) -> None:
    """Rewrite the sweep file atomically with the finished runs.

    `sources` maps run id -> (file, group) holding the run now (the old sweep file or a
    part file).
    """
    _io.write_sweep(output, record, master_seed, sources, points)


def _point(spec: RunSpec) -> dict[str, Any]:
    return {"temperature_K": spec.temperature_K, "composition_key": spec.composition_key,
            "composition": spec.composition, "replica": spec.replica, "seed": spec.seed}


def _existing(output: Path, cfg: SweepConfig) -> tuple[int | None, dict[str, dict[str, Any]]]:
    """Master seed and finished runs (id -> point) of an existing sweep file, checked
    against the new configuration."""
    if not output.exists():
        return None, {}
    try:
        record, master, done = _io.read_sweep_record(output)
    except ConfigError as exc:
        if "is a run file" not in str(exc):
            raise
        raise ConfigError(f"output {str(output)!r} is a run file, not a sweep; choose "
                          "another output file") from None
    if record["base"] != json.loads(json.dumps(cfg.base)):
        old, new = record["base"], cfg.base
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        k = diff[0] if diff else "?"
        raise ConfigError(
            f"{str(output)!r} holds a sweep with other settings ({k} = {old.get(k)!r} there, "
            f"{new.get(k)!r} now); use another output file, or --overwrite")
    if cfg.seed is not None and cfg.seed != master:
        raise ConfigError(f"{str(output)!r} holds a sweep with master seed {master}, not "
                          f"{cfg.seed}; use another output file, or --overwrite")
    return master, done


# --------------------------------------------------------------------------- #
# running
# --------------------------------------------------------------------------- #
def _progress_bar(total: int, initial: int, quiet: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="run", desc="kmc sweep",
                disable=True if quiet else None, dynamic_ncols=True, leave=False)


@dataclass
class _Book:
    """The sweep's bookkeeping in the coordinating process."""

    output: Path
    parts: Path
    record: dict[str, Any]
    master_seed: int
    sources: dict[str, tuple[str, str]]
    points: dict[str, dict[str, Any]]
    bar: Any
    failures: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    last_gather: float = field(default_factory=time.monotonic)
    new_parts: list[Path] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)

    def finished(self, spec: RunSpec, part: Path) -> None:
        self.executed.append(spec.run_id)
        self.sources[spec.run_id] = (str(part), "/")
        self.points[spec.run_id] = _point(spec)
        self.new_parts.append(part)
        self.bar.update(1)
        if time.monotonic() - self.last_gather >= GATHER_INTERVAL_S:
            self.gather()

    def failed(self, spec: RunSpec, exc: BaseException, retry: bool) -> bool:
        """Record a failure; True if the run should be tried again."""
        n = self.attempts.get(spec.run_id, 0) + 1
        self.attempts[spec.run_id] = n
        if retry and n < MAX_ATTEMPTS:
            return True
        self.failures[spec.run_id] = " ".join(f"{type(exc).__name__}: {exc}".split())
        return False

    def gather(self) -> None:
        _gather(self.output, self.record, self.master_seed, self.sources, self.points)
        for run_id in list(self.sources):
            self.sources[run_id] = (str(self.output), f"/runs/{run_id}")
        for part in self.new_parts:
            part.unlink(missing_ok=True)
        self.new_parts.clear()
        self.last_gather = time.monotonic()


def _run_pool(book: _Book, todo: list[RunSpec], workers: int, interval_s: float) -> None:
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()  # set: the workers' runs checkpoint and stop
    idle_breaks = 0  # pools that broke before any run got going
    while todo:
        retry: list[RunSpec] = []
        progress_before = len(book.sources) + sum(
            (book.parts / f"{s.run_id}.h5").exists() for s in todo)
        with cf.ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx,
                                    initializer=_worker_init, initargs=(stop,)) as pool:
            futures = {}
            for spec in todo:
                part = book.parts / f"{spec.run_id}.h5"
                futures[pool.submit(execute_run, spec.config, str(part), interval_s)] = spec
            try:
                for fut in cf.as_completed(futures):
                    spec = futures[fut]
                    part = book.parts / f"{spec.run_id}.h5"
                    try:
                        out = fut.result()
                    except cf.process.BrokenProcessPool as exc:
                        # a worker died (killed, out of memory): the runs it took are tried
                        # again, continuing from their checkpoints; a run that never started
                        # (no part file yet) is not charged an attempt
                        if not part.exists() or book.failed(spec, exc, retry=True):
                            retry.append(spec)
                        continue
                    except ConfigError as exc:  # deterministic: the same input fails again
                        book.failed(spec, exc, retry=False)
                        continue
                    except Exception as exc:
                        if book.failed(spec, exc, retry=True):
                            retry.append(spec)
                        continue
                    if out["status"] == "complete":
                        book.finished(spec, part)
                    else:
                        raise KeyboardInterrupt  # the run was stopped by a signal
            except BaseException:
                # let the runs in progress checkpoint and stop (at their next chunk, about
                # 0.1 s); runs not started are cancelled
                stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        progress_after = len(book.sources) + sum(
            (book.parts / f"{s.run_id}.h5").exists() for s in retry)
        idle_breaks = idle_breaks + 1 if retry and progress_after <= progress_before else 0
        if idle_breaks >= MAX_ATTEMPTS:
            for spec in retry:
                book.failures[spec.run_id] = "worker processes died before the run started"
            raise KMCError(f"the worker processes died {idle_breaks} times before starting "
                           f"a run; {len(retry)} runs were not made (a worker is a fresh "
                           f"Python process that imports the calling script: a script that "
                           f"starts a sweep at its top level needs `if __name__ == "
                           f"'__main__':`; or the workers ran out of memory)")
        todo = retry


def _run_dask(book: _Book, todo: list[RunSpec], address: Any, interval_s: float) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ConfigError("--scheduler needs dask.distributed: pip install "
                          "'kmc-ion[distributed]'") from None
    try:
        client = Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"cannot reach the dask scheduler at {address!r}: {exc}") from None
    with client:
        futures = {}
        for spec in todo:
            fut = client.submit(execute_run, spec.config, None, interval_s, pure=False,
                                retries=MAX_ATTEMPTS - 1, key=f"kmc-run-{spec.run_id}-"
                                f"{os.getpid()}-{time.time_ns()}")
            futures[fut] = spec
        try:
            for fut in as_completed(list(futures), loop=client.loop):
                spec = futures[fut]
                try:
                    out = fut.result()
                except ConfigError as exc:
                    book.failed(spec, exc, retry=False)
                    continue
                except Exception as exc:  # dask has retried it already
                    book.failed(spec, exc, retry=False)
                    continue
                if out["status"] != "complete":
                    raise KeyboardInterrupt
                part = book.parts / f"{spec.run_id}.h5"
                tmp = part.with_name(part.name + ".tmp")
                tmp.write_bytes(out["data"])
                os.replace(tmp, part)
                book.finished(spec, part)
        except BaseException:
            client.cancel(list(futures))
            raise


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """In the coordinating process, SIGTERM stops the sweep like Ctrl-C (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        exc = KeyboardInterrupt()
        exc.signum = signum  # type: ignore[attr-defined]
        raise exc

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_sweep(cfg: SweepConfig, *, quiet: bool | None = None) -> SweepResult:
    """Run every missing run of a sweep and gather them into the sweep file.

    Parameters
    ----------
    cfg : SweepConfig
        What to run (see :func:`kmc.config.sweep_config`) and where: ``cfg.scheduler``
        (a dask.distributed scheduler address) or a local pool of ``cfg.workers``
        processes (default: one per core). ``cfg.output.path`` is the sweep file; if it exists
        (and ``cfg.output.overwrite`` is false) the sweep continues it: finished runs are kept,
        unfinished ones continue from their checkpoints.
    quiet : bool or None
        No progress bar (default: ``cfg.output.quiet``).

    Returns
    -------
    SweepResult
        Every finished run of the file; ``failures`` names the runs that failed.

    Raises
    ------
    ConfigError
        On a bad configuration, or an output file from a different sweep.
    RunInterrupted
        If stopped by Ctrl-C or SIGTERM; what finished is in the sweep file and a new
        call continues.
    """
    cfg = assemble.resolve_composition(cfg)  # a material's own composition: its ion count
    if cfg.base.get("field") is not None:
        # a field beyond linear response is refused by every run: say so once, up front (the
        # lowest temperature has the largest q E a / kB T)
        assemble.simulation(cfg.run_config(min(cfg.temperatures_K), cfg.compositions[0], 0))
    output = Path(str(cfg.output.path))
    parts = output.with_name(output.name + ".parts")
    if output.is_dir():
        raise ConfigError(f"output {str(output)!r} is a directory")
    if str(output.parent) and not output.parent.is_dir():
        raise ConfigError(f"the directory of output {str(output)!r} does not exist")
    with _io.exclusive(output):
        return _sweep(cfg, output, parts, quiet)


def _sweep(cfg: SweepConfig, output: Path, parts: Path, quiet: bool | None) -> SweepResult:
    if cfg.output.overwrite:
        output.unlink(missing_ok=True)
        shutil.rmtree(parts, ignore_errors=True)
    master, done = _existing(output, cfg)
    if master is None:
        master = cfg.seed if cfg.seed is not None else int(
            np.random.SeedSequence().entropy % SEED_LIMIT)
    specs = plan_runs(cfg, master)
    record = _sweep_record(cfg)
    parts.mkdir(exist_ok=True)
    sources = {rid: (str(output), f"/runs/{rid}") for rid in done}
    points = dict(done)
    todo = []
    for spec in specs:
        if spec.run_id in sources:
            continue
        part = parts / f"{spec.run_id}.h5"
        try:
            if part.exists() and _io.read_run(part).status == "complete":
                sources[spec.run_id] = (str(part), "/")
                points[spec.run_id] = _point(spec)
                continue
        except ConfigError:
            part.unlink()  # torn: the run starts again
        todo.append(spec)
    n_done = sum(1 for s in specs if s.run_id in sources)
    bar = _progress_bar(len(specs), n_done, cfg.output.quiet if quiet is None else quiet)
    book = _Book(output, parts, record, master, sources, points, bar,
                 new_parts=[Path(src) for src, grp in sources.values() if grp == "/"])
    try:
        with _sigterm_as_interrupt():
            if cfg.scheduler is not None:
                _run_dask(book, todo, cfg.scheduler, cfg.output.checkpoint_interval)
            else:
                _run_pool(book, todo, cfg.workers or cpu_count(),
                          cfg.output.checkpoint_interval)
    except KeyboardInterrupt as exc:
        bar.close()
        book.gather()
        raise RunInterrupted(
            f"sweep interrupted: {len(book.sources)} of {len(specs)} runs finished and saved "
            f"in {str(output)!r}; run the same sweep again to continue", path=str(output),
            signum=getattr(exc, "signum", signal.SIGINT)) from None
    bar.close()
    book.gather()
    for lock in parts.glob("*.lock"):  # left by workers that were killed
        if not lock.with_suffix("").exists():
            lock.unlink(missing_ok=True)
    if not any(parts.iterdir()):
        parts.rmdir()
    result = _io.read_sweep(output)
    result.failures = book.failures
    result.executed = book.executed
    return result
