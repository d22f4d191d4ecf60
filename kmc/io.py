"""HDF5 results and checkpoints (h5py), JSON summaries.

One HDF5 file per run or per sweep, readable with plain h5py. A run file::

    /                       attrs: format = "kmc-run", format_version, status
                            ("running", "interrupted", "failed", "complete"), kmc_version
    /provenance             attrs: kmc, python, numpy, h5py versions, platform, created and
                            updated (UTC, ISO 8601), command line
    /config                 attrs: the configuration keys the run was made from (each, and
                            all_json: all of them as JSON)
    /inputs                 attrs: temperature_K, attempt_frequency_Hz, seed, n_ions, charge_e,
                            volume_A3, dimensionality, field_V_per_angstrom (absent: no field),
                            engine_mode (absent: "auto"), rate_law (absent: "kra")
                            initial_ion_sites: (n_ions,) the random (seeded) placement
    /inputs/network         every SiteNetwork field: arrays as datasets (Angstrom, eV),
                            names as string datasets, scalars (charge_e, name) as attrs;
                            events whose move vectors are rows of a table (the event
                            generators': rows = hop vectors) store event_vector_table
                            (rows, 3) and event_vector_index (n_moves,) instead of
                            event_vectors (event_vectors = table[index]), with
                            event_reverse (n_events,) and the attr events_digest
                            (SHA-256 of the events as validated, so that they are
                            read back without validating again): format_version 3
                            (version 2 files have the table and index only). While
                            a run with a large network runs (status "running" or
                            "interrupted"), this is an HDF5 external link to the
                            group /network of its network file (below); complete
                            and failed runs hold the network itself. A
                            PeriodicNetwork with string events kept per basis site
                            stores how they were generated (attr periodic_events,
                            JSON) and makes them again when read: format_version 4.
                            A PeriodicNetwork with pair interactions stores its
                            unit-cell pairs (pair_basis_i, pair_basis_j,
                            pair_cell_offsets, pair_energies_eV): format_version 5
    /plan                   attrs: steps, equilibration, blocks, production_time_s (nan: none)
    /blocks                 per-block observables, one row per finished block:
                            duration_s (B,), tracer_sq_A2 (B,3,3), collective_A (B,3),
                            jump_sq_A2 (B,), hops (B,)
    /msd                    the MSD over lag times (:func:`kmc.msd.msd_record`): time_s,
                            tracer_A2, collective_A2 (per ion, Angstrom^2), fit_range_s,
                            intercepts_A2, alpha_tracer (files written before kmc fitted
                            lag times: the MSD since production's start at each block end)
    /checkpoint/run/snap_*  the displacement snapshots (:class:`kmc.msd.SnapshotBuffer`)
    /checkpoint/engine      the engine state: ion_site, displacement, jump_sq, ion_hops,
                            type_counts, total_displacement, rng (+ attrs time_s, steps)
    /checkpoint/run         the driver's state: phase, block accumulators, wall time
    /summary                (complete runs) attrs: every scalar of RunResult.to_dict();
                            datasets: the tensors; attrs all_json: the whole dict as JSON

A run with a trajectory (:meth:`kmc.Simulation.run` ``trajectory=FILE``; ``kmc run
--trajectory FILE``) has in ``/plan`` also: trajectory (the file's absolute path),
trajectory_every_hops, trajectory_max_frames, trajectory_species, trajectory_vacancies;
and in ``/checkpoint/run``: traj_frames and traj_bytes, the frames written and the file's
size at the checkpoint (a resumed run cuts the file to that size and goes on from there).
The trajectory itself is extended XYZ, see :class:`TrajectoryWriter`.

A network of at least :data:`NETWORK_FILE_MIN_BYTES` is written once per run, not at every
checkpoint: to the network file ``<run file name>.network-<id>.h5`` next to the run file
(its root attrs: format = "kmc-network", format_version, network_id; its group /network as
/inputs/network above), which the run file's ``/inputs/network`` links to; the run file's
root attrs network_file and network_id name it. The run's last write (complete or failed)
puts the network into the run file and removes the network file, so a finished run is one
file; an unfinished one is the two files together.

A sweep file holds ``/sweep`` (its configuration) and ``/runs/<run id>``, each a run
file's layout. Every write goes to a temporary file that is flushed, fsynced and
renamed over the old one, so a killed process leaves either the old or the new file,
never a torn one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import math
import os
import platform
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .analysis import BlockData, transport
from .errors import ConfigError
from .events import PeriodicEvents
from .lattice import PeriodicNetwork, SiteNetwork
from .msd import SnapshotBuffer, fit_diffusion, lag_msd, msd_record
from .results import RunResult, SweepResult

__all__ = ["RunFile", "read_run", "write_run", "load", "read_sweep", "read_sweep_record",
           "write_sweep", "write_json", "json_path", "provenance", "atomic_h5", "exclusive",
           "file_format", "describe_file", "result_from_run", "FORMAT_VERSION", "RUN_FORMAT",
           "SWEEP_FORMAT", "TrajectoryWriter", "NETWORK_FILE_MIN_BYTES", "network_nbytes",
           "write_network_file", "network_file_path", "network_file_version"]

FORMAT_VERSION = 5  # the newest this kmc reads; a file is written as 1 unless it needs more
RUN_FORMAT = "kmc-run"
SWEEP_FORMAT = "kmc-sweep"
STATUSES = ("running", "interrupted", "failed", "complete")


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - a dependency
        raise ConfigError(f"HDF5 output needs h5py ({exc}); pip install h5py") from None
    return h5py


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def provenance(created: str | None = None) -> dict[str, str]:
    """Versions, platform and times of a file (no git: works from any install).

    Parameters
    ----------
    created : str or None
        Creation time to keep (ISO 8601); None for now.
    """
    h5py = _h5py()
    return {
        "kmc_version": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "h5py": h5py.__version__,
        "platform": platform.platform(),
        "created": created or _now(),
        "updated": _now(),
        "command": " ".join(sys.argv),
    }


# --------------------------------------------------------------------------- #
# atomic files, and one writer per file
# --------------------------------------------------------------------------- #
@contextlib.contextmanager
def exclusive(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the write lock of a results file (``FILE.lock`` beside it) while inside.

    Two processes writing the same run or sweep file would overwrite each other's
    checkpoints; the second one gets a ConfigError instead. The lock is an advisory
    ``flock``, released by the operating system if the holder dies. Without ``fcntl``
    (Windows) there is no lock.

    Raises
    ------
    ConfigError
        If another process holds the lock.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    lock = Path(path).with_name(Path(path).name + ".lock")
    if str(lock.parent) and not lock.parent.is_dir():
        raise ConfigError(f"the directory of {str(path)!r} does not exist")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            raise ConfigError(f"{str(path)!r} is being written by another kmc process "
                              f"(pid {holder}); wait for it or stop it first") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def atomic_h5(path: str | os.PathLike[str], fill: Callable[[Any], None]) -> None:
    """Write an HDF5 file atomically: `fill(h5file)` into a temporary file, then rename.

    The temporary file is fsynced before it replaces `path`, so after a crash (or a full
    disk) `path` holds either its previous contents or the complete new ones.
    """
    h5py = _h5py()
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            fill(f)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename durable (POSIX)
        fd = os.open(target.parent if str(target.parent) else ".", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _open(path: str | os.PathLike[str]) -> Any:
    """Open an HDF5 file for reading, with a clear error if it is missing or corrupt."""
    h5py = _h5py()
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"file {str(p)!r} does not exist")
    try:
        return h5py.File(p, "r")
    except OSError as exc:
        raise ConfigError(f"{str(p)!r} is not a readable HDF5 file (truncated or corrupt?): "
                          f"{exc}") from None


def file_format(path: str | os.PathLike[str]) -> str:
    """The kind of a kmc file: "kmc-run" or "kmc-sweep" (ConfigError for anything else)."""
    with _open(path) as f:
        return _check_format(f, str(path))


def _sweep_phrase(group: Any) -> str:
    """"a kmc sweep (N runs)" for the root group of a sweep file."""
    n = len(group["runs"]) if "runs" in group else 0
    return f"a kmc sweep ({n} run{'' if n == 1 else 's'})"


def describe_file(path: str | os.PathLike[str]) -> str:
    """What a file holds, for messages: "a kmc sweep (3 runs)", "a kmc run (complete)", or
    "a file that is not a kmc results file" (missing, unreadable or foreign)."""
    try:
        with _open(path) as f:
            if _check_format(f, repr(str(path))) == SWEEP_FORMAT:
                return _sweep_phrase(f)
            status = f.attrs.get("status")
            status = status.decode() if isinstance(status, bytes) else status
            return f"a kmc run ({status})"
    except ConfigError:
        return "a file that is not a kmc results file"


def _check_format(group: Any, where: str) -> str:
    fmt = group.attrs.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt == NETWORK_FORMAT:
        raise ConfigError(f"{where} is the network file of an unfinished run, not a results "
                          "file: use the run file it is named after (the name before "
                          "'.network-')")
    if fmt not in (RUN_FORMAT, SWEEP_FORMAT):
        raise ConfigError(f"{where} is not a kmc results file (format attribute {fmt!r})")
    _check_version(group, where)
    return str(fmt)


def _check_version(group: Any, where: str) -> None:
    """The group's format_version is one this kmc reads (ConfigError naming it otherwise)."""
    version = int(group.attrs.get("format_version", -1))
    if not 1 <= version <= FORMAT_VERSION:
        raise ConfigError(f"{where} has format version {version}; this kmc reads up to "
                          f"{FORMAT_VERSION}")


# --------------------------------------------------------------------------- #
# small helpers
# --------------------------------------------------------------------------- #
def _attr(value: Any) -> Any:
    """A value HDF5 can hold as an attribute (None -> nan for numbers is the caller's job)."""
    if isinstance(value, (bool, np.bool_)):
        return np.bool_(value)
    if isinstance(value, Mapping):  # e.g. barriers by hop type: as JSON text
        return json.dumps(dict(value))
    if isinstance(value, (list, tuple)):
        if any(isinstance(v, str) for v in value):  # names: as JSON text
            return json.dumps(list(value))
        return np.asarray(value)
    return value


def _read_attrs(obj: Any) -> dict[str, Any]:
    out = {}
    for k, v in obj.attrs.items():
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def _json_attr(obj: Any, name: str) -> Any:
    raw = obj.attrs.get(name)
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode()
    return json.loads(raw)


def _write_arrays(group: Any, arrays: Mapping[str, Any]) -> None:
    for name, value in arrays.items():
        group.create_dataset(name, data=np.asarray(value))


def _read_arrays(group: Any) -> dict[str, np.ndarray]:
    return {name: group[name][()] for name in group if not hasattr(group[name], "keys")}


# --------------------------------------------------------------------------- #
# networks
# --------------------------------------------------------------------------- #
def _network_items(network: Any, digest: bool = True) -> Iterator[tuple[str, Any]]:
    """The (name, value) pairs :func:`write_network` stores: every init field of the
    network that is given, with ``event_vectors`` of events whose move vectors are rows of
    a table (:meth:`kmc.events.EventSet.vector_rows`) replaced by ``event_vector_table``
    and ``event_vector_index`` (no per-move vectors are gathered)."""
    rows = None
    events = network.events if network.n_events else None
    if isinstance(events, PeriodicEvents):  # how they were made (their spec), not them
        yield "periodic_events", json.dumps(list(events.spec))
    elif events is not None:
        table, index = events.vector_rows()
        if index is not None:
            rows = table, index
    for f in dataclasses.fields(network):
        if not f.init:
            continue
        if f.name == "event_vectors" and rows is not None:
            ev = events  # (an EventSet here)
            reverse = ev.reverse_index()  # (known: the network's events are validated)
            yield "event_vector_table", np.asarray(rows[0])
            yield "event_vector_index", np.asarray(rows[1])
            yield "event_reverse", reverse
            if digest:
                yield "events_digest", _events_digest(
                    network.cell, network.positions, ev.ptr, ev.src, ev.dst, rows[0],
                    rows[1], ev.barriers_eV, ev.types, ev.type_names, reverse)
            continue
        value = getattr(network, f.name)
        if value is not None:  # (an optional field not given reads back as its default)
            yield f.name, value


def _events_digest(cell: Any, positions: Any, ptr: Any, src: Any, dst: Any, table: Any,
                   index: Any, barriers: Any, types: Any, type_names: Any,
                   reverse: Any) -> str:
    """SHA-256 of a network's events as kmc validated them (with the cell and positions the
    per-move checks depend on, and the reverse index): :func:`read_network` trusts stored
    events whose digest it finds again, instead of validating and searching their reverses
    anew (tens of seconds for 10^7 events). An array of one value (:func:`_one_value`)
    counts by its shape and value, so a broadcast and its stored fill value agree."""
    h = hashlib.sha256(b"kmc events v1")
    h.update(json.dumps(list(type_names)).encode())
    for a, dt in ((cell, np.float64), (positions, np.float64), (ptr, np.int32),
                  (src, np.int32), (dst, np.int32), (table, np.float64), (index, np.int32),
                  (barriers, np.float64), (types, np.int32), (reverse, np.int32)):
        a = np.asarray(a)
        h.update(repr((a.shape, np.dtype(dt).str)).encode())
        if a.dtype != dt:
            a = a.astype(dt)
        if _one_value(a):
            h.update(b"one" + a.reshape(-1)[:1].tobytes())
        else:
            h.update(memoryview(np.ascontiguousarray(a)).cast("B"))
    return h.hexdigest()


def network_nbytes(network: Any) -> int:
    """Bytes of the arrays :func:`write_network` would write for `network` (a broadcast of
    one value counts nothing; other arrays of one value are counted, though they are stored
    as fill values)."""
    return sum(v.nbytes for _, v in _network_items(network, digest=False)
               if isinstance(v, np.ndarray) and not all(st == 0 for st in v.strides))


def write_network(group: Any, network: Any) -> int:
    """Store every field of a SiteNetwork or PeriodicNetwork in an HDF5 group (its class
    in the attribute ``network_class``). Events that keep their move vectors as rows of a
    table (:meth:`kmc.events.EventSet.vector_rows`) are stored so, as
    ``event_vector_table`` and ``event_vector_index``: no per-move vectors are made or
    written; with them the reverse index of the events and their digest
    (:func:`_events_digest`). A PeriodicNetwork's string events are stored as the JSON of
    their generator and options (attribute ``periodic_events``) and made again on reading.
    Returns the format version the group needs (1; 3 for events as table rows, version 2
    being the same without the reverse index and digest, as written before; 4 for a
    PeriodicNetwork with events; 5 for a PeriodicNetwork with pair interactions)."""
    h5py = _h5py()
    group.attrs["network_class"] = type(network).__name__
    version = 1
    for name, value in _network_items(network):
        if name == "event_vector_index":
            version = max(version, 2)
        elif name == "event_reverse":
            version = max(version, 3)
        elif name == "periodic_events":
            version = max(version, 4)
        elif name == "pair_basis_i":  # (a PeriodicNetwork's unit-cell pairs)
            version = 5
        if isinstance(value, np.ndarray) and _one_value(value):
            # one value throughout (e.g. a generator's barriers, a broadcast): a dataset of
            # that fill value, no data written (it reads back as the full array)
            group.create_dataset(name, shape=value.shape, dtype=value.dtype,
                                 fillvalue=value.reshape(-1)[0])
        elif isinstance(value, np.ndarray) or (
                isinstance(value, tuple) and value and all(isinstance(x, int) for x in value)):
            group.create_dataset(name, data=np.asarray(value))
        elif isinstance(value, tuple):
            group.create_dataset(name, data=np.array(value, dtype=object),
                                 dtype=h5py.string_dtype())
        else:
            group.attrs[name] = value
    return version


#: networks whose arrays (:func:`network_nbytes`) take at least this many bytes are written
#: once per run to a network file instead of into every checkpoint (module docstring)
NETWORK_FILE_MIN_BYTES = 64 << 20
NETWORK_FORMAT = "kmc-network"


def network_file_path(run_path: str | os.PathLike[str], network_id: str) -> Path:
    """The network file of the run file `run_path` with network id `network_id`."""
    p = Path(run_path)
    return p.with_name(f"{p.name}.network-{network_id}.h5")


def network_file_version(path: str | os.PathLike[str]) -> int:
    """The format version of a network file (:func:`write_network_file`)."""
    with _open(path) as f:
        return int(f.attrs.get("format_version", 1))


def write_network_file(path: str | os.PathLike[str], network: Any, network_id: str) -> int:
    """Write `network` to its own HDF5 file atomically (group /network, root attrs format,
    format_version, network_id); returns the format version (as :func:`write_network`)."""
    version = [1]

    def fill(f: Any) -> None:
        f.attrs["format"] = NETWORK_FORMAT
        f.attrs["network_id"] = network_id
        version[0] = write_network(f.create_group("network"), network)
        f.attrs["format_version"] = version[0]

    atomic_h5(path, fill)
    return version[0]


def _one_value(a: np.ndarray, min_size: int = 1 << 16) -> bool:
    """A large numeric array whose entries all have the bits of its first one."""
    if a.size < min_size or a.dtype.kind not in "biuf":
        return False
    if all(st == 0 for st in a.strides):  # a broadcast of one value
        return True
    if not a.flags.c_contiguous:
        return False
    bits = a.reshape(-1).view(f"u{a.dtype.itemsize}")
    block = 1 << 20
    return all(np.all(bits[i:i + block] == bits[0]) for i in range(0, bits.size, block))


def read_network(group: Any) -> Any:
    """Rebuild the SiteNetwork or PeriodicNetwork stored by :func:`write_network`
    (validated again; events stored with their digest and found unchanged keep what was
    known of them when written: their reverses, and that they passed the checks)."""
    kwargs: dict[str, Any] = _read_attrs(group)
    kind = kwargs.pop("network_class", "SiteNetwork")
    classes = {"SiteNetwork": SiteNetwork, "PeriodicNetwork": PeriodicNetwork}
    if kind not in classes:
        raise ConfigError(f"the stored network has an unknown class {kind!r}")
    for name in group:
        data = group[name][()]
        if data.dtype.kind in "OS":
            kwargs[name] = tuple(x.decode() if isinstance(x, bytes) else str(x) for x in data)
        else:
            kwargs[name] = data
    reverse = kwargs.pop("event_reverse", None)
    digest = kwargs.pop("events_digest", None)
    spec = kwargs.pop("periodic_events", None)
    if spec is not None:
        return _with_periodic_events(classes[kind](**kwargs), spec)
    if "event_vector_table" in kwargs or "event_vector_index" in kwargs:
        table = kwargs.pop("event_vector_table", None)
        index = kwargs.pop("event_vector_index", None)
        if table is None or index is None or "event_vectors" in kwargs \
                or np.ndim(table) != 2 or np.ndim(index) != 1 \
                or (index.size and not 0 <= int(index.min()) <= int(index.max()) < len(table)):
            raise ConfigError("the stored network's event_vector_table and "
                              "event_vector_index do not make the events' vectors")
        trusted = _trusted_network(classes[kind], kwargs, table, index, reverse, digest)
        if trusted is not None:
            return trusted
        kwargs["event_vectors"] = np.asarray(table)[np.asarray(index, dtype=np.intp)]
    return classes[kind](**kwargs)


def _with_periodic_events(network: Any, spec: Any) -> Any:
    """A stored PeriodicNetwork with its string events made again from their generator's
    spec (:attr:`kmc.events.PeriodicEvents.spec`, JSON); ConfigError if it is not one."""
    from .mechanisms import concerted_events

    try:
        kind, k, barrier, max_turn_deg, site_types, name = json.loads(str(spec))
    except (ValueError, TypeError):
        raise ConfigError(f"the stored network's periodic_events {str(spec)!r} is not the "
                          "spec of a string-event generator") from None
    if kind != "concerted":
        raise ConfigError(f"the stored network's periodic_events name the generator {kind!r} "
                          "(known: 'concerted')")
    if isinstance(site_types, list):
        site_types = tuple(site_types)
    return network.with_events(concerted_events(network, k, barrier,
                                                max_turn_deg=max_turn_deg,
                                                site_types=site_types, name=name))


def _trusted_network(cls: Any, kwargs: dict[str, Any], table: np.ndarray, index: np.ndarray,
                     reverse: np.ndarray | None, digest: Any) -> Any:
    """The stored network with its events as kmc wrote them, if their digest
    (:func:`_events_digest`) is found again: the network built (its hops validated as
    always), then the events adopted with what was known of them when they were written
    (their reverse index, no duplicates, the per-move checks passed for this cell and these
    positions) and their vectors kept as table rows. None if anything differs (then the
    caller validates everything)."""
    from .events import EventSet, _Facts

    need = ("event_ptr", "event_src", "event_dst", "event_barriers_eV", "event_types",
            "cell", "positions")
    if reverse is None or digest is None or any(k not in kwargs for k in need):
        return None
    names = tuple(kwargs.get("event_type_names", ()))
    ptr, src, dst = (np.ascontiguousarray(kwargs[k], dtype=np.int32)
                     for k in ("event_ptr", "event_src", "event_dst"))
    barriers = np.asarray(kwargs["event_barriers_eV"], dtype=np.float64)
    types = np.ascontiguousarray(kwargs["event_types"], dtype=np.int32)
    table = np.ascontiguousarray(table, dtype=np.float64)
    index = np.ascontiguousarray(index, dtype=np.int32)
    reverse = np.ascontiguousarray(reverse, dtype=np.int32)
    cell = np.asarray(kwargs["cell"], dtype=np.float64)
    positions = np.asarray(kwargs["positions"], dtype=np.float64)
    if str(digest) != _events_digest(cell, positions, ptr, src, dst, table, index, barriers,
                                     types, names, reverse):
        return None
    if _one_value(barriers):  # one barrier for all, as the generators give it
        barriers = np.broadcast_to(barriers[:1], barriers.shape)
    rest = {k: v for k, v in kwargs.items()
            if k not in ("event_ptr", "event_src", "event_dst", "event_barriers_eV",
                         "event_types", "event_type_names")}
    net = cls(**rest)
    if not (np.array_equal(net.cell, cell) and np.array_equal(net.positions, positions)):
        return None  # (the network does not change them; checked all the same)
    facts = _Facts(reverse=reverse, unique=True, cell=cell.copy(), positions=positions.copy())
    events = EventSet._trusted(ptr, src, dst, None, barriers, types, names, facts,
                               vector_rows=(table, index))
    return net.with_events(events)


# --------------------------------------------------------------------------- #
# run files
# --------------------------------------------------------------------------- #
@dataclass
class RunFile:
    """The contents of a run file (or of one run of a sweep file).

    Attributes
    ----------
    status : str
        "running", "interrupted", "failed" or "complete".
    inputs, plan : dict
        See the module docstring (units in the names).
    config : dict or None
        The configuration keys the run was made from.
    blocks, msd : dict of ndarray
        The finished blocks so far.
    checkpoint : dict or None
        ``{"engine": {...}, "run": {...}}``: everything to continue the run.
    summary : dict or None
        ``RunResult.to_dict()`` of a complete run.
    provenance : dict
    error : str or None
        Why a failed run failed.
    """

    path: str
    status: str
    inputs: dict[str, Any]
    plan: dict[str, Any]
    config: dict[str, Any] | None
    blocks: dict[str, np.ndarray]
    msd: dict[str, np.ndarray]
    checkpoint: dict[str, Any] | None
    summary: dict[str, Any] | None
    provenance: dict[str, Any]
    error: str | None
    group: str = "/"
    network_file: str | None = None
    network_id: str | None = None

    def network(self) -> Any:
        """The run's SiteNetwork (read and validated on each call): from the run file, or
        from its network file while a run with a large network is unfinished."""
        if self.network_file is None:
            with _open(self.path) as f:
                return read_network(f[self.group]["inputs/network"])
        name = self.network_file
        if Path(name).name != name or not name:
            raise ConfigError(f"{self.path!r} names the network file {name!r}; a network "
                              "file is a plain file name next to the run file")
        side = Path(self.path).with_name(name)
        if not side.exists():
            raise ConfigError(
                f"the network of {self.path!r} is in {str(side)!r}, which is missing: an "
                "unfinished run's file and its network file belong together (keep or move "
                "them in one directory)")
        with _open(side) as f:
            attrs = _read_attrs(f)
            if (attrs.get("format") != NETWORK_FORMAT
                    or str(attrs.get("network_id")) != self.network_id or "network" not in f):
                raise ConfigError(f"{str(side)!r} is not the network file of {self.path!r} "
                                  f"(network_id {self.network_id!r})")
            _check_version(f, repr(str(side)))
            return read_network(f["network"])

    @property
    def n_blocks(self) -> int:
        """Blocks finished."""
        return int(len(self.blocks.get("duration_s", ())))

    @property
    def hops_planned(self) -> int | None:
        """Hops the run is to make, equilibration and production (None for a production
        phase set in simulated time)."""
        if self.plan.get("steps") is None:
            return None
        return int(self.plan["steps"]) + int(self.plan["equilibration"])

    @property
    def hops_done(self) -> int:
        """Hops (equilibration and production) made so far: all of them for a complete run,
        those up to the last checkpoint for an unfinished one, 0 without a checkpoint."""
        if self.status == "complete" and self.summary is not None:
            return int(self.summary["hops"]) + int(self.summary["equilibration_steps"])
        if self.checkpoint is None:
            return 0
        return int(self.checkpoint["engine"]["steps"]) - int(
            self.checkpoint["run"]["start_steps"])

    @property
    def resumable(self) -> bool:
        """True if ``kmc.resume`` can continue (or simply return) this run: it is complete
        or holds a checkpoint."""
        return self.status == "complete" or (self.status != "failed"
                                             and self.checkpoint is not None)


def write_run_group(group: Any, *, network: Any, inputs: Mapping[str, Any],
                    plan: Mapping[str, Any], status: str, blocks: Mapping[str, Any],
                    msd: Mapping[str, Any], checkpoint: Mapping[str, Any] | None = None,
                    summary: Mapping[str, Any] | None = None,
                    config: Mapping[str, Any] | None = None,
                    prov: Mapping[str, Any] | None = None, error: str | None = None,
                    network_file: tuple[str, str, int] | None = None,
                    embed_network: bool = False) -> None:
    """Fill an HDF5 group with one run (the layout of the module docstring).

    `network_file` = (file name, network id, format version) of the network file written by
    :func:`write_network_file` next to the run file: /inputs/network is then a link to it
    instead of the network itself, or with `embed_network` a copy of it (HDF5's object
    copy: the stored bytes, 3-4 times faster than writing the network again)."""
    if status not in STATUSES:
        raise ValueError(f"status {status!r} not in {STATUSES}")
    group.attrs["format"] = RUN_FORMAT
    group.attrs["format_version"] = 1  # the network's version (below)
    group.attrs["status"] = status
    group.attrs["kmc_version"] = __version__
    if error:
        group.attrs["error"] = error
    pg = group.create_group("provenance")
    for k, v in (prov or provenance()).items():
        pg.attrs[k] = v
    cg = group.create_group("config")
    if config is not None:
        cg.attrs["all_json"] = json.dumps(config)
        for k, v in config.items():
            if v is not None:
                cg.attrs[k] = _attr(v)
    ig = group.create_group("inputs")
    for k, v in inputs.items():
        if k == "initial_ion_sites":
            ig.create_dataset(k, data=np.asarray(v, dtype=np.int32))
        elif v is not None:
            ig.attrs[k] = _attr(v)
    side, version = None, 1
    if network_file is not None:
        name, network_id, version = network_file
        side = Path(group.file.filename).with_name(name)
    if side is not None and not embed_network:
        # the network is in its network file (written once per run): a link to it
        ig["network"] = _h5py().ExternalLink(name, "/network")
        group.attrs["network_file"] = name
        group.attrs["network_id"] = network_id
    elif side is None or not _copy_network(side, network_id, ig):
        version = write_network(ig.create_group("network"), network)
    # (else the network itself, copied from its network file as it is: its version)
    group.attrs["format_version"] = version
    plg = group.create_group("plan")
    for k, v in plan.items():
        plg.attrs[k] = np.nan if v is None else v
    _write_arrays(group.create_group("blocks"), blocks)
    _write_arrays(group.create_group("msd"), msd)
    if checkpoint is not None:
        ck = group.create_group("checkpoint")
        for part in ("engine", "run"):
            sub = ck.create_group(part)
            for k, v in checkpoint[part].items():
                if isinstance(v, np.ndarray):
                    sub.create_dataset(k, data=v)
                else:
                    sub.attrs[k] = v
    if summary is not None:
        _write_summary(group.create_group("summary"), summary)


def _copy_network(side: Path, network_id: str, group: Any) -> bool:
    """Copy the group /network of the network file `side` into `group` as "network" if the
    file is there with this network id; False (nothing copied) otherwise."""
    h5py = _h5py()
    try:
        with h5py.File(side, "r") as f:
            if str(_read_attrs(f).get("network_id")) != network_id or "network" not in f:
                return False
            f.copy(f["network"], group, name="network")
    except OSError:
        if "network" in group:  # a copy cut short: the caller writes the network instead
            del group["network"]
        return False
    return True


def _nan_for_none(x: Any) -> Any:
    if isinstance(x, list):
        return [_nan_for_none(v) for v in x]
    return np.nan if x is None else x


def _write_summary(sg: Any, summary: Mapping[str, Any]) -> None:
    """A to_dict() as attributes (scalars), datasets (tensors) and one JSON attribute."""
    h5py = _h5py()
    sg.attrs["all_json"] = json.dumps(summary)
    for k, v in summary.items():
        if isinstance(v, dict):
            sub = sg.create_group(k)
            for kk, vv in v.items():
                sub.attrs[kk] = vv
        elif isinstance(v, list):
            if v and all(isinstance(x, str) for x in v):
                sg.create_dataset(k, data=np.array(v, dtype=object), dtype=h5py.string_dtype())
            elif v:
                sg.create_dataset(k, data=np.asarray(_nan_for_none(v), dtype=float))
        else:
            sg.attrs[k] = np.nan if v is None else v


def write_run(path: str | os.PathLike[str], **parts: Any) -> None:
    """Write a run file atomically (see :func:`write_run_group` for the parts)."""
    atomic_h5(path, lambda f: write_run_group(f, **parts))


def read_run_group(group: Any, path: str, where: str) -> RunFile:
    """Read one run from an HDF5 group (a run file's root or a sweep's /runs/<id>)."""
    try:
        fmt = _check_format(group, where)
        if fmt == SWEEP_FORMAT:
            raise ConfigError(f"{where} holds {_sweep_phrase(group)}, not a single run "
                              "(kmc.load reads it; the same kmc sweep command continues it)")
        attrs = _read_attrs(group)
        inputs = _read_attrs(group["inputs"])
        if "initial_ion_sites" in group["inputs"]:
            inputs["initial_ion_sites"] = group["inputs/initial_ion_sites"][()]
        if "field_V_per_angstrom" in inputs:
            inputs["field_V_per_angstrom"] = tuple(
                float(x) for x in np.ravel(inputs["field_V_per_angstrom"]))
        plan = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in _read_attrs(group["plan"]).items()}
        checkpoint = None
        if "checkpoint" in group:
            checkpoint = {part: {**_read_attrs(group["checkpoint"][part]),
                                 **_read_arrays(group["checkpoint"][part])}
                          for part in ("engine", "run")}
        return RunFile(
            path=path, status=str(attrs["status"]), inputs=inputs, plan=plan,
            config=_json_attr(group["config"], "all_json"),
            blocks=_read_arrays(group["blocks"]), msd=_read_arrays(group["msd"]),
            checkpoint=checkpoint,
            summary=_json_attr(group["summary"], "all_json") if "summary" in group else None,
            provenance=_read_attrs(group["provenance"]), error=attrs.get("error"),
            group=group.name,
            network_file=None if "network_file" not in attrs else str(attrs["network_file"]),
            network_id=None if "network_id" not in attrs else str(attrs["network_id"]))
    except KeyError as exc:
        raise ConfigError(f"{where} is incomplete: missing {exc}") from None


def read_run(path: str | os.PathLike[str]) -> RunFile:
    """Read a run file.

    Raises
    ------
    ConfigError
        If the file is missing, not HDF5, truncated, not a kmc run file, or incomplete.
    """
    with _open(path) as f:
        return read_run_group(f, str(path), repr(str(path)))


# --------------------------------------------------------------------------- #
# results
# --------------------------------------------------------------------------- #
def result_from_run(run: RunFile) -> Any:
    """Rebuild the :class:`kmc.RunResult` of a complete run from its file contents.

    The transport estimates are recomputed from the stored blocks and displacement
    snapshots with :func:`kmc.msd.fit_diffusion` and :func:`kmc.analysis.transport`, so they
    are the very numbers the run printed. (A file written before kmc kept snapshots gives
    the block estimates.)
    """
    if run.status != "complete" or run.summary is None:
        n = run.n_blocks
        hint = ("; continue it with `kmc run --resume FILE` or kmc.resume(path)"
                if run.status in ("running", "interrupted") else
                f": {run.error}" if run.error else "")
        raise ConfigError(f"{run.path!r}: the run is {run.status} ({n} of "
                          f"{run.plan.get('blocks')} blocks finished){hint}")
    s = run.summary
    inp = run.inputs
    data = BlockData(**run.blocks)
    field = inp.get("field_V_per_angstrom")
    snap = _snapshots(run)
    fit, msd = None, dict(run.msd)
    if snap is not None:
        lm = lag_msd(snap, remove_drift=field is not None and bool(np.any(field)))
        fit = fit_diffusion(lm, dimensionality=max(int(inp["dimensionality"]), 1),
                            rate_limiting_hops=s.get("rate_limiting_hops"))
        msd = msd_record(lm, fit)
    est = transport(data, n_ions=int(inp["n_ions"]), volume_A3=float(inp["volume_A3"]),
                    temperature_K=float(inp["temperature_K"]), charge_e=float(inp["charge_e"]),
                    dimensionality=int(inp["dimensionality"]), field_V_per_angstrom=field,
                    jump_length_A=s.get("jump_length_A") if field is not None else None,
                    fit=fit, rate_limiting_hops=s.get("rate_limiting_hops"))
    own = [w for w in s.get("warnings", []) if w not in est.warnings]

    def num(key: str) -> float:
        v = s.get(key)
        return float("nan") if v is None else float(v)

    return RunResult(
        transport=est, network_name=str(s["network_name"]), n_sites=int(s["n_sites"]),
        n_ions=int(s["n_ions"]), temperature_K=float(s["temperature_K"]),
        attempt_frequency_Hz=float(s["attempt_frequency_Hz"]),
        dimensionality=int(s["dimensionality"]), seed=int(s["seed"]),
        equilibration_steps=int(s["equilibration_steps"]), hops=int(s["hops"]),
        simulated_time_s=float(s["simulated_time_s"]), wall_s=num("wall_s"),
        hops_per_s=num("hops_per_s"), hop_type_counts=dict(s["hop_type_counts"]),
        event_counts=dict(s.get("event_counts", s["hop_type_counts"])),
        displacement_share=dict(s.get("displacement_share", {})),
        field_V_per_angstrom=None if field is None else tuple(field),
        interrupted=bool(s["interrupted"]), blocks=data,
        warnings=tuple(own), msd=msd, engine_mode=str(s.get("engine_mode", "")),
        rate_law=str(s.get("rate_law", "kra")), converged=bool(s.get("converged", True)),
        stop_reason=str(s.get("stop_reason", "")),
        detailed_balance_violation_eV=float(s.get("detailed_balance_violation_eV") or 0.0))


def _snapshots(run: RunFile) -> Any:
    """The displacement snapshots of a run (kept with its checkpoint), or None."""
    rec = (run.checkpoint or {}).get("run", {})
    state = {k[len("snap_"):]: v for k, v in rec.items() if k.startswith("snap_")}
    return SnapshotBuffer.from_state(state) if state else None


def load(path: str | os.PathLike[str]) -> Any:
    """Load the results of a run file or a sweep file.

    Returns
    -------
    RunResult or SweepResult
        A :class:`kmc.RunResult` for a run file, a :class:`kmc.sweep.SweepResult` for a
        sweep file.

    Raises
    ------
    ConfigError
        If the file cannot be read, is not a kmc file, or holds an unfinished run.
    """
    if file_format(path) == SWEEP_FORMAT:
        return read_sweep(path)
    return result_from_run(read_run(path))


# --------------------------------------------------------------------------- #
# sweep files
# --------------------------------------------------------------------------- #
def read_sweep_record(path: str | os.PathLike[str]) -> tuple[dict[str, Any], int,
                                                            dict[str, dict[str, Any]]]:
    """The configuration record, master seed and finished runs (run id -> sweep point) of a
    sweep file.

    Raises
    ------
    ConfigError
        If the file is unreadable or a run file.
    """
    with _open(path) as f:
        if _check_format(f, repr(str(path))) != SWEEP_FORMAT:
            raise ConfigError(f"{str(path)!r} is a run file, not a sweep")
        record = json.loads(f["sweep"].attrs["json"])
        master = int(f["sweep"].attrs["master_seed"])
        done = {rid: json.loads(f["runs"][rid].attrs["sweep_point"]) for rid in f["runs"]}
    return record, master, done


def read_sweep(path: str | os.PathLike[str]) -> SweepResult:
    """Read a sweep file: its configuration and every finished run.

    Raises
    ------
    ConfigError
        If the file is unreadable, a run file, or a run in it is incomplete.
    """
    with _open(path) as f:
        if _check_format(f, repr(str(path))) != SWEEP_FORMAT:
            raise ConfigError(f"{str(path)!r} is a run file, not a sweep; use kmc.load")
        config = json.loads(f["sweep"].attrs["json"])
        master = int(f["sweep"].attrs["master_seed"])
        runs, specs = {}, {}
        for run_id in f["runs"]:
            g = f["runs"][run_id]
            rf = read_run_group(g, str(path), f"{str(path)!r} run {run_id}")
            runs[run_id] = result_from_run(rf)
            specs[run_id] = json.loads(g.attrs["sweep_point"])
    return SweepResult(str(path), config, master, runs, specs)


def write_sweep(path: str | os.PathLike[str], record: Mapping[str, Any], master_seed: int,
                sources: Mapping[str, tuple[str, str]],
                points: Mapping[str, Mapping[str, Any]]) -> None:
    """Write a sweep file atomically with its finished runs.

    Parameters
    ----------
    record : mapping
        The sweep's configuration (JSON-ready).
    master_seed : int
    sources : mapping of run id -> (file, group)
        Where each run is now: a run file ("/") or a group of a sweep file (the sweep file
        being replaced may be one of them: it is read while its replacement is written).
    points : mapping of run id -> dict
        Each run's sweep point (temperature, composition, replica, seed).
    """
    h5py = _h5py()

    def fill(f: Any) -> None:
        f.attrs["format"] = SWEEP_FORMAT
        f.attrs["format_version"] = 1  # (run groups inside say what they need)
        f.attrs["kmc_version"] = __version__
        pg = f.create_group("provenance")
        for k, v in provenance().items():
            pg.attrs[k] = v
        sg = f.create_group("sweep")
        sg.attrs["json"] = json.dumps(record)
        sg.attrs["master_seed"] = master_seed
        runs = f.create_group("runs")
        rows = []
        for run_id in sorted(sources):
            src_file, src_group = sources[run_id]
            with h5py.File(src_file, "r") as src:
                src.copy(src[src_group], runs, name=run_id)
            runs[run_id].attrs["sweep_point"] = json.dumps(points[run_id])
            rows.append(points[run_id])
        sg.attrs["runs_json"] = json.dumps(rows)

    atomic_h5(path, fill)


def write_json(summary: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a JSON summary (a ``to_dict()``) atomically; return its path."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return p


def json_path(h5_path: str | os.PathLike[str]) -> Path:
    """The JSON summary's path beside an HDF5 file: FILE.h5 -> FILE.json."""
    return Path(h5_path).with_suffix(".json")


# --------------------------------------------------------------------------- #
# trajectories: extended XYZ through ASE
# --------------------------------------------------------------------------- #
def _ase() -> tuple[Any, Any]:
    """ase.Atoms and ase.io.write, imported on first use (ase.io takes ~0.5 s to import)."""
    try:
        from ase import Atoms
        from ase.io import write
    except ImportError as exc:  # pragma: no cover - a dependency
        raise ConfigError(f"trajectories need ASE ({exc}); pip install ase") from None
    return Atoms, write


class TrajectoryWriter:
    """Frames of a run's ions (and, if asked, its vacancies) in one extended XYZ file.

    Each frame is written by :func:`ase.io.write` (``format="extxyz"``), so ASE
    (``ase.io.read(path, index=":")``) and OVITO read it back. A frame::

        <number of particles>
        Lattice="..." Properties=species:S:1:pos:R:3:id:I:1:disp:R:3:site:I:1 Time=<s>
            Step=<hops> pbc="T T T"                          (this and the line above: one)
        Li  x y z  id  dx dy dz  site        one line per ion, by id
        X   x y z  id  0 0 0     site        one per empty site, by site (if vacancies)

    - ``Lattice``: the periodic cell (its rows, Angstrom); ``pbc="T T T"`` always (a 1D or 2D
      network is simulated in a 3D periodic cell).
    - ``Time``: simulated time since the first frame, s (full precision); ``Step``: hops
      since the first frame.
    - ``pos``: the site of the particle, wrapped into the cell, Angstrom.
    - ``id``: the ion's index (0 .. n_ions - 1, the order of the run's
      ``initial_ion_sites``), the same in every frame; OVITO reads it as the Particle
      Identifier. A vacancy's id is ``n_ions + site`` (unique, but tied to the site).
    - ``disp``: the ion's unwrapped displacement since the first frame, Angstrom (0 for
      vacancies); OVITO reads it as the Displacement.
    - ``site``: the site index in the network.

    Every frame holds the same number of particles (the ions, plus the empty sites when
    written). A particle's line is 123 bytes (the species padded to 2 characters, 6 reals
    as ``%16.8f`` and 2 integers as ``%8d``, space-separated, and the newline) while the
    numbers fit those widths; the two header lines add about 200 bytes.

    Parameters
    ----------
    path : path
        The file.
    cell_A : array_like, shape (3, 3)
        Periodic cell, rows are the lattice vectors, Angstrom.
    site_positions_A : array_like, shape (n_sites, 3)
        Site positions, Angstrom (wrapped into the cell here).
    n_ions : int
    species : str
        Chemical symbol of the ions (vacancies are ``X``).
    vacancies : bool
        Write the empty sites too.

    Notes
    -----
    The file is opened by :meth:`open`; :meth:`frame_text` works before that (to estimate
    a file's size).

    Raises
    ------
    ConfigError
        If `species` is not a chemical symbol.
    """

    def __init__(self, path: str | os.PathLike[str], *, cell_A: Any, site_positions_A: Any,
                 n_ions: int, species: str, vacancies: bool) -> None:
        from ase.data import atomic_numbers

        self.path = Path(path)
        self.cell_A = np.array(cell_A, dtype=float).reshape(3, 3)
        frac = np.asarray(site_positions_A, dtype=float) @ np.linalg.inv(self.cell_A)
        frac -= np.floor(frac)
        frac[frac >= 1.0] = 0.0  # -1e-17 - floor(-1e-17) rounds to 1.0
        self.positions_A = frac @ self.cell_A
        self.n_sites = int(self.positions_A.shape[0])
        self.n_ions = int(n_ions)
        if not isinstance(species, str) or species not in atomic_numbers or species == "X":
            raise ConfigError(f"trajectory species {species!r} is not a chemical symbol "
                              "(e.g. 'Li', 'Na')")
        self.species = species
        self.vacancies = bool(vacancies)
        self.n_particles = self.n_sites if self.vacancies else self.n_ions
        self._numbers = np.zeros(self.n_particles, dtype=int)
        self._numbers[:self.n_ions] = atomic_numbers[species]
        self._fh: Any = None
        self.bytes = 0

    def open(self, start_bytes: int | None = None) -> None:
        """Open the file for writing.

        Parameters
        ----------
        start_bytes : int or None
            None: create the file (replacing one). An integer: continue a file written
            before, cut to this many bytes (its size at a checkpoint), appending after it.

        Raises
        ------
        ConfigError
            If the file cannot be opened, or is missing or shorter than `start_bytes`.
        """
        try:
            if start_bytes is None:
                self._fh = open(self.path, "wb")
                self.bytes = 0
                return
            size = self.path.stat().st_size if self.path.exists() else None
            if size is None or size < start_bytes:
                have = "is missing" if size is None else f"holds {size} bytes"
                raise ConfigError(
                    f"trajectory {str(self.path)!r} {have}, but the run had written "
                    f"{start_bytes} bytes into it by its checkpoint; put the file back to "
                    "continue the run")
            self._fh = open(self.path, "r+b")
            self._fh.truncate(start_bytes)
            self._fh.seek(start_bytes)
            self.bytes = int(start_bytes)
        except OSError as exc:
            raise ConfigError(f"cannot write trajectory {str(self.path)!r}: "
                              f"{exc.strerror or exc}") from None

    def _atoms(self, ion_site: Any, displacement_A: Any, time_s: float, step: int) -> Any:
        """The ase.Atoms of one frame."""
        Atoms, _ = _ase()
        sites = np.asarray(ion_site, dtype=np.int64)
        n, n_ions = self.n_particles, self.n_ions
        site = np.empty(n, dtype=np.int64)
        site[:n_ions] = sites
        ids = np.arange(n, dtype=np.int64)
        disp = np.zeros((n, 3))
        disp[:n_ions] = np.asarray(displacement_A, dtype=float).reshape(n_ions, 3)
        if self.vacancies:
            empty = np.ones(self.n_sites, dtype=bool)
            empty[sites] = False
            site[n_ions:] = np.flatnonzero(empty)
            ids[n_ions:] = n_ions + site[n_ions:]
        atoms = Atoms(numbers=self._numbers, positions=self.positions_A[site],
                      cell=self.cell_A, pbc=True)
        atoms.new_array("id", ids)
        atoms.new_array("disp", disp)
        atoms.new_array("site", site)
        atoms.info["Time"] = float(time_s)
        atoms.info["Step"] = int(step)
        return atoms

    @staticmethod
    def _text(atoms: Any) -> str:
        import io as _stdio

        _, write = _ase()
        buf = _stdio.StringIO()
        write(buf, atoms, format="extxyz", parallel=False)
        return buf.getvalue()

    def frame_text(self, ion_site: Any, displacement_A: Any, time_s: float,
                   step: int) -> str:
        """One frame as extended XYZ text.

        Parameters
        ----------
        ion_site : array_like of int, shape (n_ions,)
            The site of each ion.
        displacement_A : array_like, shape (n_ions, 3)
            Each ion's unwrapped displacement since the first frame, Angstrom.
        time_s : float
            Simulated time since the first frame, s.
        step : int
            Hops since the first frame.
        """
        return self._text(self._atoms(ion_site, displacement_A, time_s, step))

    def frame_bytes(self, ion_site: Any) -> int:
        """Bytes of a frame of the ions on `ion_site` with no displacement, at time 0: its
        header and its longest particle line (of the first and the last particle, which
        have the smallest and the largest id) times the particles; cheap for any size."""
        atoms = self._atoms(ion_site, np.zeros((self.n_ions, 3)), 0.0, 0)
        n = len(atoms)
        lines = self._text(atoms[[0, n - 1]] if n > 2 else atoms).splitlines(keepends=True)
        return len(f"{n}\n") + len(lines[1]) + n * max(len(x) for x in lines[2:])

    def write(self, ion_site: Any, displacement_A: Any, time_s: float, step: int) -> int:
        """Append one frame (see :meth:`frame_text`); return the bytes written."""
        data = self.frame_text(ion_site, displacement_A, time_s, step).encode("ascii")
        try:
            self._fh.write(data)
        except OSError as exc:
            raise ConfigError(f"cannot write trajectory {str(self.path)!r}: "
                              f"{exc.strerror or exc}") from None
        self.bytes += len(data)
        return len(data)

    def sync(self) -> int:
        """Flush the file to disk (before a checkpoint records its size); return its size in
        bytes."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        return self.bytes

    def close(self) -> None:
        """Flush and close the file."""
        if self._fh is not None and not self._fh.closed:
            self._fh.flush()
            self._fh.close()
