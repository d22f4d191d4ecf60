"""Jump statistics of a run sampled in frames of fixed simulated time.

An AIMD trajectory is analysed frame by frame (inherent structures every 100 fs, say): each
ion is put on a site in each frame, and a jump is a change of site between frames. To
compare a kMC model with such data the model is sampled the same way:
:func:`record_site_frames` runs a :class:`kmc.Simulation` and records every ion's site at
fixed intervals of simulated time, together with the engine's own count of hops per hop
type over the same window. From the frames:

* :func:`count_moves`: moves along each ion's sequence of *tracked* sites (a change from
  the last tracked site an ion held to another tracked site, whatever untracked sites it
  visited in between), counted per class of site pair (the classifier is the model's);
* :func:`rates_per_ion_Hz`: counts per ion per second of simulated time, with Poisson
  errors sqrt(N);
* :func:`site_type_fractions`, :func:`max_pairs_both_occupied`: populations per site type
  and a check of a hard-core exclusion frame by frame.

The material-specific classification lives with the material's model (for argyrodites,
:func:`kmc.materials.argyrodite_t5_move_classifier`, :func:`kmc.materials.argyrodite_cages`).

Units: s, Hz (per ion).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks

__all__ = ["SiteFrames", "record_site_frames", "count_moves", "rates_per_ion_Hz",
           "site_type_fractions", "max_pairs_both_occupied"]

#: Event cap of one frame's engine call: a frame ends at its time, not at a number of events.
_FRAME_MAX_EVENTS = 10**12


@dataclass(frozen=True)
class SiteFrames:
    """Every ion's site in frames of fixed simulated time.

    Attributes
    ----------
    sites : ndarray of int64, shape (n_frames + 1, n_ions)
        Site of each ion in each frame; row 0 is the start (after equilibration), row k the
        state at ``k * interval_s`` after it.
    interval_s : float
        Simulated time between frames, s.
    duration_s : float
        Simulated time from row 0 to the end of the last frame (the engine's clock), s.
    hop_type_counts : dict[str, int]
        Hops per hop type name between row 0 and the last row, as counted by the engine.
    hops : int
        Events executed between row 0 and the last row.
    """

    sites: NDArray[np.int64]
    interval_s: float
    duration_s: float
    hop_type_counts: dict[str, int] = field(default_factory=dict)
    hops: int = 0

    @property
    def n_frames(self) -> int:
        """Frames after the start (rows of `sites` minus one)."""
        return int(self.sites.shape[0]) - 1

    @property
    def n_ions(self) -> int:
        return int(self.sites.shape[1])

    @property
    def ion_time_s(self) -> float:
        """Ion-seconds observed: n_ions x duration_s, s (the exposure of a per-ion rate)."""
        return self.n_ions * self.duration_s


def record_site_frames(simulation: Any, interval_s: float, n_frames: int, *,
                       equilibration_hops: int = 0) -> SiteFrames:
    """Run a simulation and record every ion's site every `interval_s` of simulated time.

    Parameters
    ----------
    simulation : kmc.Simulation
        The run; its engine is advanced in place (a second call continues from where the
        first stopped).
    interval_s : float
        Simulated time between frames, s (> 0).
    n_frames : int
        Frames to record after the start (>= 1).
    equilibration_hops : int, optional
        Hops run before the start (row 0), not recorded; default 0.

    Returns
    -------
    SiteFrames
        The frames, and the engine's per-hop-type counts and event count over them.

    Notes
    -----
    A frame ends at its time: the engine stops before the first event after it (with no cap
    on the number of events) and its clock stops there, so a frame is the state at that
    instant and `duration_s` is ``n_frames * interval_s``.
    """
    interval_s = _checks.real(interval_s, "interval_s", lo=0.0, lo_open=True)
    n_frames = _checks.integer(n_frames, "n_frames", lo=1)
    equilibration_hops = _checks.integer(equilibration_hops, "equilibration_hops", lo=0)
    eng = simulation.engine
    if equilibration_hops:
        eng.run(equilibration_hops, None)
    st = eng.get_state()
    counts0 = np.array(st["type_counts"], dtype=np.int64)
    t0 = float(st["time_s"])
    steps0 = eng.steps
    sites = np.empty((n_frames + 1, len(st["ion_site"])), dtype=np.int64)
    sites[0] = st["ion_site"]
    for k in range(n_frames):
        eng.run(_FRAME_MAX_EVENTS, t0 + (k + 1) * interval_s)
        sites[k + 1] = eng.get_state()["ion_site"]
    st = eng.get_state()
    counts = np.array(st["type_counts"], dtype=np.int64) - counts0
    names = simulation.network.hop_type_names
    return SiteFrames(sites=sites, interval_s=interval_s,
                      duration_s=float(st["time_s"]) - t0,
                      hop_type_counts={str(n): int(c) for n, c in zip(names, counts)},
                      hops=eng.steps - steps0)


def count_moves(sites: ArrayLike, tracked: ArrayLike,
                classify: Callable[[NDArray[np.int64], NDArray[np.int64]], ArrayLike],
                labels: Sequence[str]) -> dict[str, int]:
    """Moves along each ion's sequence of tracked sites, counted per class of site pair.

    An ion's tracked sequence is the tracked sites it holds in the frames, in order; a move
    is a change between consecutive entries (a hop out of a tracked site and back to it, or
    through untracked sites back to it, is no move). Frames on untracked sites keep the last
    tracked site; an ion enters the count at its first tracked site.

    Parameters
    ----------
    sites : array_like of int, shape (n_frames + 1, n_ions)
        Site of each ion in each frame (e.g. :attr:`SiteFrames.sites`).
    tracked : array_like of bool, shape (n_sites,)
        The sites whose sequence is followed.
    classify : callable
        ``classify(src, dst)`` -> index into `labels` of each move src -> dst (int arrays of
        equal length, tracked sites, src != dst); called once with all the moves.
    labels : sequence of str
        Names of the classes.

    Returns
    -------
    dict[str, int]
        Moves per class label (every label, 0 if none).
    """
    s = np.asarray(sites, dtype=np.int64)
    if s.ndim != 2:
        raise ValueError(f"sites must be (n_frames + 1, n_ions), got shape {s.shape}")
    tr = np.asarray(tracked, dtype=bool)
    last = np.where(tr[s[0]], s[0], -1)
    src, dst = [], []
    for row in s[1:]:
        on = tr[row]
        prev, now = last[on], row[on]
        moved = (prev >= 0) & (prev != now)
        src.append(prev[moved])
        dst.append(now[moved])
        last[on] = now
    p = np.concatenate(src) if src else np.empty(0, np.int64)
    q = np.concatenate(dst) if dst else np.empty(0, np.int64)
    cls = np.asarray(classify(p, q), dtype=np.int64) if len(p) else np.empty(0, np.int64)
    n = np.bincount(cls, minlength=len(labels))
    if len(n) > len(labels):
        raise ValueError(f"classify returned class {len(n) - 1}; there are {len(labels)} labels")
    return {str(lab): int(c) for lab, c in zip(labels, n)}


def rates_per_ion_Hz(counts: Mapping[str, int], ion_time_s: float
                     ) -> dict[str, tuple[float, float]]:
    """Counts as rates per ion per second, with their Poisson errors.

    Parameters
    ----------
    counts : mapping str -> int
        Events per class (hop types, move classes).
    ion_time_s : float
        Ion-seconds observed (:attr:`SiteFrames.ion_time_s`), s.

    Returns
    -------
    dict[str, (float, float)]
        Per class: rate N / ion_time_s and its error sqrt(N) / ion_time_s, Hz per ion. A
        count of 0 gives (0, 0); its one-event bound is 1 / ion_time_s.
    """
    t = _checks.real(ion_time_s, "ion_time_s", lo=0.0, lo_open=True)
    return {k: (int(n) / t, math.sqrt(int(n)) / t) for k, n in counts.items()}


def site_type_fractions(sites: ArrayLike, site_types: ArrayLike,
                        type_names: Sequence[str]) -> dict[str, float]:
    """Fraction of the ions on each site type, averaged over frames.

    Parameters
    ----------
    sites : array_like of int, shape (n_frames, n_ions)
        Site of each ion in each frame.
    site_types : array_like of int, shape (n_sites,)
        Type index of every site (``network.site_types``).
    type_names : sequence of str
        Name of each type index (``network.site_type_names``).

    Returns
    -------
    dict[str, float]
        Per type name, the fraction of ion-frames on that type (sums to 1).
    """
    t = np.asarray(site_types, dtype=np.int64)[np.asarray(sites, dtype=np.int64)]
    n = np.bincount(t.ravel(), minlength=len(type_names))
    return {str(name): float(c) / t.size for name, c in zip(type_names, n)}


def max_pairs_both_occupied(sites: ArrayLike, pair_i: ArrayLike, pair_j: ArrayLike,
                            n_sites: int) -> int:
    """Largest number of the given site pairs found with both sites occupied in one frame.

    0 means a hard-core exclusion between the pairs (e.g. face-sharing sites) held in every
    frame.

    Parameters
    ----------
    sites : array_like of int, shape (n_frames, n_ions)
        Site of each ion in each frame.
    pair_i, pair_j : array_like of int, shape (n_pairs,)
        The pairs (as listed; a pair listed in both directions counts twice).
    n_sites : int
        Sites of the network.
    """
    pi, pj = np.asarray(pair_i, dtype=np.int64), np.asarray(pair_j, dtype=np.int64)
    worst = 0
    occ = np.zeros(int(n_sites), dtype=bool)
    for row in np.asarray(sites, dtype=np.int64):
        occ[:] = False
        occ[row] = True
        worst = max(worst, int(np.sum(occ[pi] & occ[pj])))
    return worst
