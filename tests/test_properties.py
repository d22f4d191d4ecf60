"""Property-based tests (hypothesis): the engine on random small networks.

Random site networks -- random graphs of 2..40 sites in a (possibly sheared) periodic cell,
and random subsets of the hops of small chain/square/triangular/honeycomb/sc/bcc/fcc/
diamond lattices, including supercells of 2 where several hops join the same two sites --
with random site energies and symmetric barriers (sometimes from a palette of two values,
so that the integer count mode applies), random hop types, optional random pair
interactions, optional multi-ion events (concerted strings, or random explicit events:
exchanges, shifts, arbitrary 2..4-ion moves, each with its reverse), an optional field,
0..n_sites ions and every engine mode valid for the network.

Every property is checked against an independent Python model of the process (which hops
and events are allowed, their KRA rates, the energies of configurations):

* after each engine.run chunk: engine.check() passes; the ions stay distinct, in range and
  as many; time never decreases, increases when events were made and stops exactly at
  t_stop; the stop reason is right ("frozen" exactly when the model has no allowed move);
  the engine's total rate is the model's; total_displacement is the sum of the ions'
  displacements, each of which is a hop-vector sum (site + displacement is a lattice image
  of the start); the counters add up; a checkpoint restored into an engine with another
  seed replays the rest bit for bit;
* event by event on tiny systems: every step is one allowed hop or event of the model
  (identified by its sites and displacement vectors), and the per-ion displacements, jump
  sums, hop counts, type and event counters are the sums over the moves actually made;
* frozen configurations (all ions blocked, no hops, empty networks) stop at once with
  "frozen" -- without hanging, also in the uniformization mode -- unless the model still
  has a move (an exchange event in a full network);
* detailed balance: on random connected networks of 4..8 sites with 1..3 ions, the exact
  time-averaged occupation of every site and of every likely configuration matches the
  Boltzmann distribution over the configurations reachable from the start (enumerated),
  within a max-|t| test on 20 block averages, Bonferroni-corrected;
* through kmc.Simulation: an empty event set with a type name changes nothing.

Found by these properties: the empty named event set above (run() failed after the whole
run; fixed in Simulation), and
the automatic mode choosing uniformization for an ion that starts caged by slow hops, so
that one hop took seconds to minutes (fixed in the engine meanwhile; a regression test at
the end). Uniformization stays slow wherever the ions sit behind slow hops, by design, so
"uniform" and "auto" are only tested where the hop rates span at most MAX_UNIFORM_SPREAD.

The example budget comes from the hypothesis profile (tests/conftest.py: "ci" by default,
derandomized; HYPOTHESIS_PROFILE=dev or thorough for more).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import (HealthCheck, Phase, assume, currently_in_test_context, event,
                        given, note, settings)
from hypothesis import strategies as st
from scipy import stats
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

import kmc
from kmc._engine import STOP_REASONS, Engine
from kmc.builders import build_lattice
from kmc.lattice import SiteNetwork
from kmc.mechanisms import EventSet, concerted_events
from kmc.simulation import engine_for

KB_EV = 8.617333262e-5  # the engine's kB (csrc/kmc_engine.h)
NU = 1e13
IMAGES = tuple(itertools.product((-1, 0, 1), repeat=3))
ZERO_FIELD = (0.0, 0.0, 0.0)
_FLOATS = dict(allow_nan=False, allow_infinity=False, allow_subnormal=False)
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]


def _label(text: str) -> None:
    """A hypothesis event (statistics: pytest --hypothesis-show-statistics), if in a test."""
    if currently_in_test_context():
        event(text)


def _note(text: str) -> None:
    """A hypothesis note (printed with a failing example), if in a test."""
    if currently_in_test_context():
        note(text)


def _examples(fraction: float, minimum: int) -> int:
    """A share of the loaded profile's example budget (tests/conftest.py)."""
    return max(minimum, round(settings.default.max_examples * fraction))


# ======================================================================================
# random networks
# ======================================================================================
def _neg(im: tuple[int, int, int]) -> tuple[int, int, int]:
    return (-im[0], -im[1], -im[2])


def _vector(pos: np.ndarray, cell: np.ndarray, s: int, d: int, im) -> np.ndarray:
    """positions[d] - positions[s] + image @ cell, computed so that (d, s, -im) gives
    exactly the negated vector."""
    if s > d:
        return -_vector(pos, cell, d, s, _neg(im))
    return pos[d] - pos[s] + np.asarray(im, dtype=float) @ cell


def _values(draw, n: int, lo: float, hi: float, palette: bool) -> np.ndarray:
    """n floats in [lo, hi]; from a palette of at most two values if `palette`."""
    if n == 0:
        return np.zeros(0)
    if palette:
        pal = draw(st.lists(st.floats(lo, hi, **_FLOATS), min_size=1, max_size=2))
        return np.array(draw(st.lists(st.sampled_from(pal), min_size=n, max_size=n)))
    return np.array(draw(st.lists(st.floats(lo, hi, **_FLOATS), min_size=n, max_size=n)))


def _type_names(n_types: int) -> tuple[str, ...]:
    return ("hop", "hop_b", "hop_c")[:n_types]


@st.composite
def graph_networks(draw, min_sites=2, max_sites=40, *, connected=None, max_extra=None,
                   energy=0.2, barrier=(0.0, 0.5), palette=None):
    """Random graphs: sites on a 1/8 grid of a (possibly sheared) periodic cell, hops
    between random sites through random images (-1..1)^3, each with its reverse (negated
    vector, same barrier and type); `connected` adds a ring through all sites."""
    n = draw(st.integers(min_sites, max_sites))
    if palette is None:
        palette = draw(st.booleans())
    a = draw(st.sampled_from([4.0, 7.5, 12.0]))
    shear = draw(st.sampled_from([0.0, 0.3]))
    cell = a * np.array([[1.0, 0.0, 0.0], [shear, 1.0, 0.0], [0.0, 0.0, 1.0]])
    gaps = draw(st.lists(st.integers(1, 12), min_size=n, max_size=n))
    grid = np.cumsum(gaps) - 1  # distinct points of the 8 x 8 x 8 grid (n <= 42)
    pos = (np.array([[g // 64, g // 8 % 8, g % 8] for g in grid]) / 8.0) @ cell
    image = st.sampled_from(IMAGES)
    if connected is None:
        connected = draw(st.booleans())
    raw = [(k, (k + 1) % n, draw(image)) for k in range(n if n > 2 else 1)] if connected \
        else []
    raw += draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), image),
                         max_size=2 * n if max_extra is None else max_extra))
    edges = list(dict.fromkeys((i, j, im) if i < j else (j, i, _neg(im))
                               for i, j, im in raw if i != j))
    bar = _values(draw, len(edges), *barrier, palette)
    n_types = draw(st.integers(1, 2))
    types = draw(st.lists(st.integers(0, n_types - 1), min_size=len(edges),
                          max_size=len(edges)))
    src, dst, vec = [], [], []
    for i, j, im in edges:
        v = _vector(pos, cell, i, j, im)
        src.append(i)
        dst.append(j)
        vec.append(v)
    src, dst = np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64)
    vec = np.reshape(vec, (-1, 3))
    return SiteNetwork(
        cell=cell, positions=pos,
        hop_src=np.concatenate([src, dst]), hop_dst=np.concatenate([dst, src]),
        hop_vectors=np.concatenate([vec, -vec]), hop_barriers_eV=np.concatenate([bar, bar]),
        hop_types=np.array(types + types, dtype=np.int64), hop_type_names=_type_names(n_types),
        site_energies_eV=_values(draw, n, -energy, energy, palette), name="random-graph")


#: lattice -> sizes (supercells of 2, and fcc/diamond 1, have several hops per site pair)
_LATTICE_SIZES = {"chain": (2, 10), "square": (2, 4), "triangular": (2, 3),
                  "honeycomb": (2, 3), "sc": (2, 3), "bcc": (2, 2), "fcc": (1, 1),
                  "diamond": (1, 1)}


@functools.lru_cache(maxsize=None)
def _lattice(name: str, size: int) -> SiteNetwork:
    return build_lattice(name, size=size)


@st.composite
def lattice_networks(draw, *, max_sites=40, energy=0.2, barrier=(0.0, 0.5), palette=None):
    """A random subset of the hop pairs of a small lattice (all of them half the time),
    random site energies, barriers (equal for a hop and its reverse) and hop types."""
    names = [k for k, (lo, _) in _LATTICE_SIZES.items()
             if _lattice(k, lo).n_sites <= max_sites]
    name = draw(st.sampled_from(names))
    lo, hi = _LATTICE_SIZES[name]
    sizes = [s for s in range(lo, hi + 1) if _lattice(name, s).n_sites <= max_sites]
    base = _lattice(name, draw(st.sampled_from(sizes)))
    if palette is None:
        palette = draw(st.booleans())
    rev = base.hop_rev
    pairs = np.flatnonzero(np.arange(base.n_hops) < rev)
    if draw(st.booleans()):
        keep = np.ones(pairs.size, dtype=bool)
    else:
        keep = np.array(draw(st.lists(st.booleans(), min_size=pairs.size,
                                      max_size=pairs.size)), dtype=bool)
    h = pairs[keep]
    bar = _values(draw, h.size, *barrier, palette)
    n_types = draw(st.integers(1, 2))
    types = np.array(draw(st.lists(st.integers(0, n_types - 1), min_size=h.size,
                                   max_size=h.size)), dtype=np.int64)
    hops = np.concatenate([h, rev[h]])
    return base.replace(
        hop_src=base.hop_src[hops], hop_dst=base.hop_dst[hops],
        hop_vectors=base.hop_vectors[hops], hop_barriers_eV=np.concatenate([bar, bar]),
        hop_types=np.concatenate([types, types]), hop_type_names=_type_names(n_types),
        site_energies_eV=_values(draw, base.n_sites, -energy, energy, palette),
        name=f"{name}-subset")


def _with_pairs(draw, net: SiteNetwork, J=(-0.05, 0.1)) -> SiteNetwork:
    """Random pair interactions between random site pairs (not only hop neighbours)."""
    n = net.n_sites
    if n < 2:
        return net
    chosen = draw(st.lists(st.sampled_from(list(itertools.combinations(range(n), 2))),
                           min_size=1, max_size=min(n * (n - 1) // 2, 2 * n), unique=True))
    values = _values(draw, len(chosen), *J, False)
    if not values.any():  # at least one nonzero interaction
        values[0] = J[1]
    return net.replace(pair_i=[p[0] for p in chosen], pair_j=[p[1] for p in chosen],
                       pair_energies_eV=values)


def _random_events(draw, net: SiteNetwork, max_events=6, barrier=(0.0, 0.5)) -> EventSet:
    """Explicit random events (EventSet.from_lists), each with its reverse: exchanges of
    two sites (their own reverse, possible in a full network), and k = 2..4 moves between
    random sites through random images (shifts a -> b -> c included)."""
    n, pos, cell = net.n_sites, net.positions, net.cell
    image = st.sampled_from(IMAGES)
    site = st.integers(0, n - 1)
    events, barriers, seen = [], [], set()
    for _ in range(draw(st.integers(1, max_events))):
        if draw(st.booleans()):
            i, j = draw(st.lists(site, min_size=2, max_size=2, unique=True))
            im = draw(image)
            moves = [(i, j, im), (j, i, _neg(im))]
        else:
            k = draw(st.integers(2, min(4, n)))
            srcs = draw(st.lists(site, min_size=k, max_size=k, unique=True))
            dsts = draw(st.lists(site, min_size=k, max_size=k, unique=True))
            if any(s == d for s, d in zip(srcs, dsts)):
                continue
            moves = [(s, d, draw(image)) for s, d in zip(srcs, dsts)]
        key = frozenset(moves)
        back = [(d, s, _neg(im)) for s, d, im in moves]
        if key in seen:
            continue
        b = draw(st.floats(*barrier, **_FLOATS))
        for mv in [moves] if frozenset(back) == key else [moves, back]:
            events.append([(s, d, _vector(pos, cell, s, d, im)) for s, d, im in mv])
            barriers.append(b)
        seen |= {key, frozenset(back)}
    if not events:
        return EventSet.empty()
    return EventSet.from_lists(events, "ev", barriers)


def _with_events(draw, net: SiteNetwork, kind: str) -> SiteNetwork:
    if kind == "concerted":
        k = draw(st.sampled_from([2, 3] if net.n_hops <= 100 else [2]))
        ev = concerted_events(net, k, draw(st.floats(0.0, 0.5, **_FLOATS)),
                              max_turn_deg=draw(st.sampled_from([0.0, 90.0, 180.0])))
    else:
        ev = _random_events(draw, net)
    return net.with_events(ev)


@st.composite
def networks(draw, *, max_sites=40, interactions=None, events=None, **kw):
    """A random graph or lattice subset, optionally with pair interactions and events."""
    if max_sites >= 4 and draw(st.booleans()):
        net = draw(lattice_networks(max_sites=max_sites, **kw))
    else:
        net = draw(graph_networks(max_sites=max_sites, **kw))
    if interactions is None:
        interactions = draw(st.booleans())
    if interactions:
        net = _with_pairs(draw, net)
    if events is None:
        events = draw(st.sampled_from(["none", "none", "concerted", "random"]))
    elif events == "any":
        events = draw(st.sampled_from(["concerted", "random"]))
    if events != "none" and net.n_sites >= 2:
        net = _with_events(draw, net, events)
    return net


#: what the networks of a test carry beyond their hops (each test runs every kind, so that
#: every kind gets its share of the examples)
EXTRAS = {"plain": dict(interactions=False, events="none"),
          "pairs": dict(interactions=True, events="none"),
          "concerted": dict(interactions=False, events="concerted"),
          "explicit": dict(interactions=False, events="random"),
          "pairs+events": dict(interactions=True, events="any")}


# ======================================================================================
# the engine, and an independent model of the process
# ======================================================================================
def _hop_rates(net: SiteNetwork, T: float, fld) -> list[float]:
    """Every hop's rate nu exp(-max(E_kra + dE/2, 0, dE) / kB T) without interactions,
    computed with the engine's operations in its order (the same IEEE arithmetic and libm
    exp), so that equal rates are equal bits here too."""
    f = [float(x) for x in fld]
    E, q = net.site_energies_eV.tolist(), net.charge_e
    beta = 1.0 / (KB_EV * T)
    rates = []
    for s, d, v, b in zip(net.hop_src.tolist(), net.hop_dst.tolist(),
                          net.hop_vectors.tolist(), net.hop_barriers_eV.tolist()):
        fd = 0.0
        for k in range(3):
            fd += f[k] * v[k]
        de = (E[d] - E[s]) - q * fd
        ea = b + 0.5 * de
        if ea < 0.0:
            ea = 0.0
        if ea < de:
            ea = de
        rates.append(NU * math.exp(-beta * ea))
    return rates


#: Uniformization attempts every hop at the fastest rate: a hop r times slower needs about
#: 1/r attempts. Beyond this spread of hop rates the "uniform" mode (and "auto", which may
#: choose it) is left out of the property tests: an ion caged by slow hops among fast ones
#: takes seconds to minutes per hop (correct, but a run looks hung; "auto" still chooses
#: uniformization when the ions start outside deep traps that they then fall into).
MAX_UNIFORM_SPREAD = 1e3


def valid_modes(net: SiteNetwork, T: float, fld) -> list[str]:
    """The engine modes that must work for this network (see kmc._engine.Engine): "count"
    needs at most 16 distinct hop rates, "count" and "uniform" no pair interactions and no
    events; "uniform" and "auto" only up to MAX_UNIFORM_SPREAD (run time, see there)."""
    if net.has_interactions or net.n_events:
        return ["tree", "auto"]
    rates = _hop_rates(net, T, fld)
    moderate = not rates or max(rates) <= MAX_UNIFORM_SPREAD * min(rates)
    modes = ["tree"]
    if moderate:
        modes.append("uniform")
    if rates and len(set(rates)) <= 16:
        modes.append("count")
    return modes + (["auto"] if moderate else [])


def make_engine(net: SiteNetwork, ions, *, T: float, fld=ZERO_FIELD, mode="tree",
                seed=1) -> Engine:
    """The engine with the arguments kmc.Simulation gives it (also for 0 ions)."""
    return engine_for(net, np.asarray(ions, np.int32), temperature_K=T,
                      attempt_frequency_Hz=NU, field_V_per_angstrom=fld, seed=seed, mode=mode)


class Model:
    """The process in plain numpy: E(c) = sum_s E_s n_s + sum_pairs J n_i n_j; a hop or
    event is allowed when its sources are occupied and its targets empty or vacated by it;
    its rate is nu exp(-max(E_kra + dE/2, 0, dE) / kB T) with dE = E(after) - E(before)
    - q F . (sum of its vectors)."""

    def __init__(self, net: SiteNetwork, T: float, fld=ZERO_FIELD):
        n = self.n = net.n_sites
        self.net = net
        self.E = net.site_energies_eV
        self.J = np.zeros((n, n))
        self.J[net.pair_i, net.pair_j] = net.pair_energies_eV
        self.J[net.pair_j, net.pair_i] = net.pair_energies_eV
        self.beta = 1.0 / (KB_EV * T)
        f, q = np.asarray(fld, dtype=float), net.charge_e
        self.src, self.dst, self.vec = net.hop_src, net.hop_dst, net.hop_vectors
        self.ekra, self.types = net.hop_barriers_eV, net.hop_types
        self.hop_de0 = self.E[self.dst] - self.E[self.src] - q * (self.vec @ f)
        ev = net.events
        self.n_events = ev.n_events
        self.ev_moves = [ev.moves(e) for e in range(ev.n_events)]
        self.ev_ekra, self.ev_types = ev.barriers_eV, ev.types
        self.ev_delta = np.zeros((ev.n_events, n), dtype=np.int64)  # occupation change
        self.ev_srcmask = np.zeros((ev.n_events, n), dtype=bool)
        self.ev_field = np.zeros(ev.n_events)
        for e, (s, d, v) in enumerate(self.ev_moves):
            self.ev_delta[e, s] -= 1
            self.ev_delta[e, d] += 1
            self.ev_srcmask[e, s] = True
            self.ev_field[e] = q * (v.sum(axis=0) @ f)
        # lookups to identify a step: hops by (src, dst), events by their set of (src, dst)
        self.hops_of = {}
        for h, (s, d) in enumerate(zip(self.src.tolist(), self.dst.tolist())):
            self.hops_of.setdefault((s, d), []).append(h)
        self.events_of = {}
        for e, (s, d, _) in enumerate(self.ev_moves):
            self.events_of.setdefault(frozenset(zip(s.tolist(), d.tolist())), []).append(e)

    def occupation(self, sites) -> np.ndarray:
        occ = np.zeros(self.n, dtype=np.int64)
        occ[np.asarray(sites)] = 1
        return occ

    def energy(self, occ) -> np.ndarray:
        occ = np.asarray(occ, dtype=float)
        return occ @ self.E + 0.5 * np.einsum("...i,ij,...j->...", occ, self.J, occ)

    def _rate(self, ekra, de):
        ea = np.maximum(np.maximum(ekra + 0.5 * de, 0.0), de)
        return NU * np.exp(-self.beta * ea)

    def hop_rates(self, occ) -> np.ndarray:
        phi = self.J @ occ
        allowed = (occ[self.src] == 1) & (occ[self.dst] == 0)
        de = (self.hop_de0 + phi[self.dst] - self.J[self.src, self.dst] - phi[self.src])
        return np.where(allowed, self._rate(self.ekra, de), 0.0)

    def event_allowed(self, occ) -> np.ndarray:
        if not self.n_events:
            return np.zeros(0, dtype=bool)
        after = occ[None, :] + self.ev_delta
        return np.all(occ[None, :] >= self.ev_srcmask, axis=1) & (after.max(axis=1) <= 1)

    def event_rates(self, occ) -> np.ndarray:
        if not self.n_events:
            return np.zeros(0)
        ok = self.event_allowed(occ)
        after = np.clip(occ[None, :] + self.ev_delta, 0, 1)
        de = self.energy(after) - self.energy(occ) - self.ev_field
        return np.where(ok, self._rate(self.ev_ekra, de), 0.0)

    def total_rate(self, occ) -> float:
        return float(self.hop_rates(occ).sum() + self.event_rates(occ).sum())

    def n_allowed(self, occ) -> int:
        hops = int(np.count_nonzero((occ[self.src] == 1) & (occ[self.dst] == 0)))
        return hops + int(np.count_nonzero(self.event_allowed(occ)))

    def neighbours(self, occ):
        """Configurations one allowed hop or event away."""
        for h in np.flatnonzero((occ[self.src] == 1) & (occ[self.dst] == 0)):
            new = occ.copy()
            new[self.src[h]], new[self.dst[h]] = 0, 1
            yield new
        for e in np.flatnonzero(self.event_allowed(occ)):
            yield occ + self.ev_delta[e]


def _fractional(net: SiteNetwork, x: np.ndarray) -> np.ndarray:
    return np.linalg.solve(net.cell.T, np.asarray(x).T).T


@dataclass
class Case:
    """A network with ions, temperature, field, engine mode and seed."""

    net: SiteNetwork
    ions: np.ndarray
    T: float
    fld: tuple
    mode: str
    seed: int

    def __repr__(self) -> str:
        net = self.net
        return (f"Case({net!r}, n_hops={net.n_hops}, n_events={net.n_events}, "
                f"n_pairs={net.n_pairs}, ions={self.ions.tolist()}, T={self.T!r}, "
                f"field={self.fld!r}, mode={self.mode!r}, seed={self.seed})")

    def engine(self) -> Engine:
        net, k = self.net, self.ions.size
        _label(f"mode {self.mode}")
        _label("events: " + ("none" if not net.n_events else "explicit"
                             if net.event_type_names == ("ev",) else "concerted"))
        _label(f"interactions: {net.has_interactions}")
        _label("sites: " + ("2-4" if net.n_sites <= 4 else "5-12" if net.n_sites <= 12
                            else "13+"))
        _label("ions: " + ("none" if k == 0 else "full" if k == net.n_sites else "some"))
        eng = make_engine(self.net, self.ions, T=self.T, fld=self.fld, mode=self.mode,
                          seed=self.seed)
        if self.mode != "auto":
            assert eng.mode == self.mode
        else:  # the automatic choice never takes a mode the network cannot use
            assert eng.mode in valid_modes(self.net, self.T, self.fld)
        return eng


@st.composite
def cases(draw, net_strategy, *, min_ions=0, max_ions=None, T=(250.0, 1500.0),
          with_field=True, seed=None):
    net = draw(net_strategy)
    n = net.n_sites
    lo, hi = min(min_ions, n), n if max_ions is None else min(n, max_ions)
    # the ends (no ion, one, one vacancy, full) and, more often, anything between
    k = draw(st.one_of(st.integers(lo, hi), st.integers(lo, hi),
                       st.sampled_from(sorted({lo, min(lo + 1, hi), max(hi - 1, lo), hi}))))
    ions = np.array(draw(st.permutations(range(n)))[:k], dtype=np.int32)
    fld = ZERO_FIELD
    if with_field and draw(st.booleans()):
        fld = tuple(draw(st.lists(st.floats(-0.01, 0.01, **_FLOATS), min_size=3,
                                  max_size=3)))
    temperature = draw(st.floats(*T, **_FLOATS))
    mode = draw(st.sampled_from(valid_modes(net, temperature, fld)))
    if seed is None:
        seed = draw(st.integers(0, 2**64 - 1))
    return Case(net, ions, temperature, fld, mode, seed)


# ======================================================================================
# invariants after every run chunk
# ======================================================================================
def check_chunk(case: Case, model: Model, eng: Engine, prev: dict, start_sites: np.ndarray,
                max_steps: int, t_stop: float | None, done: int, reason: str) -> dict:
    """Every invariant after eng.run(max_steps, t_stop) returned (done, reason); `prev`
    is the state before. Returns the new state."""
    net = case.net
    eng.check()  # every derived quantity recomputed from scratch
    st_ = eng.get_state()
    sites = st_["ion_site"]
    n_ions = case.ions.size
    # ions: as many, distinct, in range
    assert sites.shape == (n_ions,) and eng.n_ions == n_ions
    assert np.unique(sites).size == n_ions
    assert n_ions == 0 or (sites.min() >= 0 and sites.max() < net.n_sites)
    # steps and stop reason
    assert reason in STOP_REASONS and 0 <= done <= max_steps
    assert st_["steps"] == prev["steps"] + done == eng.steps
    occ = model.occupation(sites)
    if reason == "steps":
        assert done == max_steps
    elif reason == "time":
        assert t_stop is not None and st_["time_s"] == t_stop
    else:  # frozen: the model agrees that nothing can move
        assert model.n_allowed(occ) == 0, "engine says frozen but the model has moves"
        # every move has its reverse, allowed right after it: only a start can be frozen
        assert done == 0 and prev["steps"] == 0
    # time
    assert st_["time_s"] >= prev["time_s"]
    if done:
        assert st_["time_s"] > prev["time_s"]
    if t_stop is not None:
        assert st_["time_s"] <= t_stop
    if reason == "frozen":
        assert st_["time_s"] == prev["time_s"]
    assert eng.time_s == st_["time_s"]
    # the total rate is the model's; zero exactly when nothing can move
    rate = model.total_rate(occ)
    if model.n_allowed(occ) == 0:
        assert eng.total_rate_Hz == 0.0
    else:
        assert eng.total_rate_Hz == pytest.approx(rate, rel=1e-9)
    # displacements: total = sum over ions; each a sum of hop vectors (a lattice image)
    disp = st_["displacement"]
    scale = 1.0 + np.abs(disp).sum()
    np.testing.assert_allclose(disp.sum(axis=0), st_["total_displacement"],
                               atol=1e-9 * scale, rtol=0)
    if n_ions:
        frac = _fractional(net, net.positions[sites] - net.positions[start_sites] - disp)
        np.testing.assert_allclose(frac, np.rint(frac), atol=1e-6)
    d2, jsq = eng.displacements()
    np.testing.assert_array_equal(d2, disp)
    np.testing.assert_array_equal(jsq, st_["jump_sq"])
    # counters
    hops, types, events = st_["ion_hops"], st_["type_counts"], st_["event_counts"]
    assert types.shape == (len(net.hop_type_names),)
    # the engine gets events (and their types) only if there are any (as from Simulation)
    assert events.shape == (len(net.event_type_names) if net.n_events else 0,)
    assert int(types.sum()) + int(events.sum()) == st_["steps"]
    assert int(hops.sum()) >= st_["steps"]
    if not net.n_events:
        assert int(hops.sum()) == st_["steps"]
    assert np.all((st_["jump_sq"] > 0) == (hops > 0))
    return st_


def _stop_time(eng: Engine, factor: float) -> float:
    """A t_stop about `factor` mean waiting times ahead (1 s ahead if frozen)."""
    r = eng.total_rate_Hz
    return eng.time_s + (factor / r if r > 0 else 1.0)


def run_chunks(case: Case, plan, eng: Engine | None = None) -> tuple[Engine, list]:
    """Run the chunks of `plan` ((max_steps, t_stop factor or None), ...) on `eng` (a new
    engine by default), checking every invariant after each; returns the engine and the
    states after each chunk."""
    model = Model(case.net, case.T, case.fld)
    eng = case.engine() if eng is None else eng
    prev = eng.get_state()
    states = []
    for max_steps, factor in plan:
        t_stop = None if factor is None else _stop_time(eng, factor)
        done, reason = eng.run(max_steps, t_stop)
        _label(f"stop: {reason}")
        prev = check_chunk(case, model, eng, prev, case.ions, max_steps, t_stop, done, reason)
        states.append(prev)
    return eng, states


_PLAN = st.lists(st.tuples(st.integers(1, 3000),
                           st.one_of(st.none(), st.floats(0.1, 300.0, **_FLOATS))),
                 min_size=2, max_size=8)


@pytest.mark.parametrize("extras", EXTRAS)
@settings(max_examples=_examples(0.3, 5), suppress_health_check=_SLOW_OK)
@given(data=st.data())
def test_invariants_after_every_chunk(extras, data):
    """Random network, ions, field, chunks (some ended by t_stop), in every valid engine
    mode: after every chunk of engine.run the engine's state passes check() and agrees
    with the model."""
    case = data.draw(cases(networks(**EXTRAS[extras])), label="case")
    plan = data.draw(_PLAN, label="plan")
    for mode in valid_modes(case.net, case.T, case.fld):
        run_chunks(dataclasses.replace(case, mode=mode), plan)


@settings(max_examples=_examples(0.5, 8), suppress_health_check=_SLOW_OK)
@given(case=cases(networks(max_sites=16)), plan=_PLAN, cut=st.integers(0, 7),
       seed2=st.integers(0, 2**64 - 1))
def test_checkpoint_restore_replays_bit_identically(case, plan, cut, seed2):
    """get_state after some chunks, set_state into an engine made with another seed:
    the remaining chunks give bit-identical states (every valid mode; events and
    interactions too)."""
    cut = min(cut, len(plan) - 1)
    for mode in valid_modes(case.net, case.T, case.fld):
        c = dataclasses.replace(case, mode=mode)
        eng, _ = run_chunks(c, plan[:cut])
        saved = eng.get_state()
        _, ref = run_chunks(c, plan[cut:], eng)
        eng2 = dataclasses.replace(c, seed=seed2).engine()
        eng2.set_state(saved)
        eng2.check()
        # t_stop factors become absolute times through the engine's total rate: same bits
        _, got = run_chunks(c, plan[cut:], eng2)
        for a, b in zip(ref, got, strict=True):
            for key in a:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{mode}: {key}")


# ======================================================================================
# event by event: every step is an allowed move of the model; displacements add up
# ======================================================================================
def _identify_step(model: Model, occ: np.ndarray, before: dict, after: dict):
    """The hop or event the engine just made, from the ions that moved and their
    displacement changes; asserts that it was allowed. Returns (kind, index, moved ions,
    their vectors)."""
    s0, s1 = before["ion_site"], after["ion_site"]
    d0, d1 = before["displacement"], after["displacement"]
    moved = np.flatnonzero(s0 != s1)
    still = np.setdiff1d(np.arange(s0.size), moved)
    np.testing.assert_array_equal(d1[still], d0[still])  # nobody else moved
    delta = d1[moved] - d0[moved]
    assert moved.size >= 1
    if moved.size == 1:
        (i,) = moved
        cands = model.hops_of.get((int(s0[i]), int(s1[i])), [])
        match = [h for h in cands if np.allclose(model.vec[h], delta[0], rtol=0, atol=1e-9)]
        assert len(match) == 1, f"ion {i} moved {s0[i]} -> {s1[i]} by {delta[0]}: no hop"
        h = match[0]
        assert occ[model.src[h]] == 1 and occ[model.dst[h]] == 0, "a blocked hop was made"
        return "hop", h, moved, model.vec[h][None, :]
    key = frozenset(zip(s0[moved].tolist(), s1[moved].tolist()))
    for e in model.events_of.get(key, []):
        src, dst, vec = model.ev_moves[e]
        want = {(int(a), int(b)): v for a, b, v in zip(src, dst, vec)}
        vecs = np.array([want[(int(s0[i]), int(s1[i]))] for i in moved])
        if np.allclose(vecs, delta, rtol=0, atol=1e-9):
            assert model.event_allowed(occ)[e], "a blocked event was made"
            return "event", e, moved, vecs
    raise AssertionError(f"ions {moved.tolist()} moved {s0[moved].tolist()} -> "
                         f"{s1[moved].tolist()} by {delta.tolist()}: no such event")


@pytest.mark.parametrize("extras", EXTRAS)
@settings(max_examples=_examples(0.3, 5), suppress_health_check=_SLOW_OK)
@given(data=st.data())
def test_every_step_is_an_allowed_move_and_displacements_add_up(extras, data):
    """engine.run(1) at a time on tiny systems: each step is one allowed hop (matched by
    its sites and vector, also where several hops join the same two sites) or one allowed
    event of the model; the per-ion displacements, jump sums and hop counts, and the type
    and event counters, are the sums over these moves. Every valid engine mode."""
    case = data.draw(cases(networks(max_sites=12, **EXTRAS[extras])), label="case")
    n_steps = data.draw(st.integers(1, 400), label="n_steps")
    for mode in valid_modes(case.net, case.T, case.fld):
        _check_steps(dataclasses.replace(case, mode=mode), n_steps)


def _check_steps(case: Case, n_steps: int) -> None:
    net = case.net
    model = Model(net, case.T, case.fld)
    eng = case.engine()
    before = eng.get_state()
    n_ions = case.ions.size
    disp = np.zeros((n_ions, 3))
    jsq = np.zeros(n_ions)
    hops = np.zeros(n_ions, dtype=np.int64)
    types = np.zeros(len(net.hop_type_names), dtype=np.int64)
    events = np.zeros(len(net.event_type_names) if net.n_events else 0, dtype=np.int64)
    for step in range(n_steps):
        occ = model.occupation(before["ion_site"])
        frozen = model.n_allowed(occ) == 0
        done, reason = eng.run(1)
        after = eng.get_state()
        if frozen:
            assert (done, reason) == (0, "frozen")
            assert after["time_s"] == before["time_s"]
            break
        assert (done, reason) == (1, "steps")
        assert after["time_s"] > before["time_s"]
        kind, idx, moved, vecs = _identify_step(model, occ, before, after)
        disp[moved] += vecs
        jsq[moved] += np.einsum("ij,ij->i", vecs, vecs)
        hops[moved] += 1
        if kind == "hop":
            types[model.types[idx]] += 1
        else:
            events[model.ev_types[idx]] += 1
        if step % 50 == 0:
            eng.check()
        before = after
    eng.check()
    st_ = eng.get_state()
    np.testing.assert_allclose(st_["displacement"], disp, rtol=0, atol=1e-9)
    np.testing.assert_allclose(st_["jump_sq"], jsq, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(st_["ion_hops"], hops)
    np.testing.assert_array_equal(st_["type_counts"], types)
    np.testing.assert_array_equal(st_["event_counts"], events)
    np.testing.assert_allclose(st_["total_displacement"], disp.sum(axis=0), rtol=0,
                               atol=1e-9 * (1 + np.abs(disp).sum()))


# ======================================================================================
# frozen configurations
# ======================================================================================
def _components(net: SiteNetwork) -> np.ndarray:
    """Component label of every site in the graph of hops and event moves."""
    src = np.concatenate([net.hop_src, net.event_src]).astype(np.int64)
    dst = np.concatenate([net.hop_dst, net.event_dst]).astype(np.int64)
    g = coo_matrix((np.ones(src.size), (src, dst)), shape=(net.n_sites, net.n_sites))
    return connected_components(g, directed=False)[1]


@st.composite
def frozen_cases(draw, extras):
    """Networks (sometimes without hops) whose ions fill whole components: every hop is
    blocked; events may still move them (an exchange of two occupied sites)."""
    net = draw(networks(max_sites=24, **extras))
    if draw(st.booleans()):  # no hops (events too, sometimes)
        z = np.zeros(0, dtype=np.int64)
        net = net.replace(hop_src=z, hop_dst=z, hop_vectors=np.zeros((0, 3)),
                          hop_barriers_eV=np.zeros(0), hop_types=z)
    labels = _components(net)
    comps = np.unique(labels)
    fill = draw(st.lists(st.sampled_from(comps.tolist()), unique=True,
                         max_size=comps.size))
    ions = np.flatnonzero(np.isin(labels, fill)).astype(np.int32)
    ions = ions[np.array(draw(st.permutations(range(ions.size))), dtype=np.int64)]
    return Case(net, ions, draw(st.floats(250.0, 1500.0, **_FLOATS)), ZERO_FIELD, "tree",
                draw(st.integers(0, 2**64 - 1)))


@pytest.mark.parametrize("extras", EXTRAS)
@settings(max_examples=_examples(0.25, 5), suppress_health_check=_SLOW_OK)
@given(data=st.data())
def test_frozen_configurations_stop_at_once(extras, data):
    """Ions filling whole components, no hops, no ions: run() returns (0, "frozen") at
    once, time unchanged, total rate 0 -- unless the model still has an allowed move.
    Every valid engine mode."""
    case = data.draw(frozen_cases(EXTRAS[extras]), label="case")
    for mode in valid_modes(case.net, case.T, case.fld):
        _check_frozen(dataclasses.replace(case, mode=mode))


def _check_frozen(case: Case) -> None:
    model = Model(case.net, case.T, case.fld)
    occ = model.occupation(case.ions)
    eng = case.engine()
    moves = model.n_allowed(occ)
    _note(f"allowed moves: {moves}, engine mode {eng.mode}")
    if moves:  # only events can be allowed here
        assert case.net.n_events and model.hop_rates(occ).sum() == 0
        assert eng.total_rate_Hz == pytest.approx(model.total_rate(occ), rel=1e-9)
        run_chunks(case, [(50, None), (50, 10.0)])
        return
    assert eng.total_rate_Hz == 0.0
    for t_stop in (None, None, 100.0):
        assert eng.run(10**6, t_stop) == (0, "frozen")
        assert eng.time_s == 0.0 and eng.steps == 0
    # a t_stop closer than the uniformization mode's patience (64 rejected attempts per
    # ion and hop slot before it looks at the total rate): that mode may reach it first,
    # and stops with "time" there (nothing happens until then either); the others stop
    # with "frozen" at once
    done, reason = eng.run(10**6, 1e-12)
    _label(f"frozen, t_stop 1e-12 ahead, {eng.mode} mode: {reason}")
    assert done == 0 and reason in (("frozen", "time") if eng.mode == "uniform"
                                    else ("frozen",))
    assert eng.time_s == (1e-12 if reason == "time" else 0.0)
    eng.check()
    st_ = eng.get_state()
    np.testing.assert_array_equal(st_["ion_site"], case.ions)
    assert not st_["displacement"].any() and not st_["type_counts"].any()


# ======================================================================================
# detailed balance: time averages are Boltzmann averages
# ======================================================================================
def reachable(model: Model, occ0: np.ndarray) -> list[tuple[int, ...]]:
    """Every configuration reachable from occ0 by allowed hops and events (the ergodic
    class: every move has its reverse), as occupation tuples."""
    seen = {tuple(occ0.tolist())}
    todo = [occ0]
    while todo:
        occ = todo.pop()
        for new in model.neighbours(occ):
            key = tuple(new.tolist())
            if key not in seen:
                seen.add(key)
                todo.append(new)
    return sorted(seen)


def time_averages(eng: Engine, n_steps: int, n_blocks: int):
    """Run n_steps single events; return the sites at each step (n_steps + 1, n_ions),
    the times, and per block of equal simulated time the residence time of each step's
    configuration within the block, as (block, step, time) triples."""
    n_ions = eng.n_ions
    sites = np.empty((n_steps + 1, n_ions), dtype=np.int64)
    times = np.empty(n_steps + 1)
    sites[0], times[0] = eng.get_state()["ion_site"], eng.time_s
    for k in range(1, n_steps + 1):
        done, reason = eng.run(1)
        assert (done, reason) == (1, "steps")
        sites[k], times[k] = eng.get_state()["ion_site"], eng.time_s
    # split the residence intervals [t_k, t_k+1) at the block boundaries
    t0, t1 = times[0], times[-1]
    bounds = t0 + (t1 - t0) * np.arange(1, n_blocks) / n_blocks
    cuts = np.sort(np.concatenate([times, bounds]))
    lo, hi = cuts[:-1], cuts[1:]
    step = np.clip(np.searchsorted(times, lo, side="right") - 1, 0, n_steps - 1)
    block = np.clip(np.searchsorted(bounds, lo, side="right"), 0, n_blocks - 1)
    return sites, times, block, step, hi - lo


@st.composite
def balance_cases(draw, pairs: bool, events: bool):
    """Connected random graphs of 4..8 sites (a ring and a few more hops), site energies
    within 0.1 eV, barriers 0.15..0.3 eV, 1..3 ions (at least one vacancy), T = 500..1000
    K, no field; the engine seed is fixed."""
    net = draw(graph_networks(4, 8, connected=True, max_extra=6, energy=0.1,
                              barrier=(0.15, 0.3)))
    if pairs:
        net = _with_pairs(draw, net, J=(-0.05, 0.05))
    if events:
        if draw(st.booleans()):
            ev = _random_events(draw, net, max_events=3, barrier=(0.15, 0.3))
        else:
            ev = concerted_events(net, 2, draw(st.floats(0.15, 0.3, **_FLOATS)))
        net = net.with_events(ev)
    return draw(cases(st.just(net), min_ions=1, max_ions=min(3, net.n_sites - 1),
                      T=(500.0, 1000.0), with_field=False, seed=2024))


N_BLOCKS = 20
FAMILY_ALPHA = 1e-3  # false-alarm rate of one example's whole family of tests


@pytest.mark.parametrize("pairs, events", [(False, False), (True, False), (False, True),
                                           (True, True)],
                         ids=["plain", "pairs", "events", "pairs+events"])
@settings(max_examples=_examples(0.05, 2), suppress_health_check=_SLOW_OK)
@given(data=st.data())
def test_detailed_balance_time_averages_are_boltzmann(pairs, events, data):
    """Random connected networks of 4..8 sites, 1..3 ions, site energies within 0.1 eV,
    T = 500..1000 K, with or without pair interactions and random multi-ion events, in
    every valid mode: the exact time average (residence-time weighted, event by event) of
    each site's occupation, and of each configuration with probability >= 1 %, over 20
    blocks of equal simulated time (the rarer configurations together), matches the Boltzmann average over the configurations
    reachable from the start; max |t| with a Bonferroni threshold (Student t, 19 dof) for a
    family-wise false-alarm rate of 1e-3. Only networks whose site occupations differ by at
    least 0.05 (more than 10 error bars) count, so that the test can fail. The engine seed
    is fixed."""
    case = data.draw(balance_cases(pairs, events), label="case")
    model = Model(case.net, case.T, case.fld)
    confs = np.array(reachable(model, model.occupation(case.ions)), dtype=np.int64)
    assert len(confs) >= 2  # connected, with a vacancy: something moves
    w = np.exp(-model.beta * (model.energy(confs) - model.energy(confs).min()))
    p_exact = w / w.sum()
    assume(np.ptp(p_exact @ confs) >= 0.05)  # the energies matter
    for mode in valid_modes(case.net, case.T, case.fld)[:-1]:  # all but "auto"
        _check_balance(dataclasses.replace(case, mode=mode), confs, p_exact)


def _check_balance(case: Case, confs: np.ndarray, p_exact: np.ndarray) -> None:
    """Time averages of one run against the exact distribution p_exact over confs."""
    net = case.net
    occ_exact = p_exact @ confs
    eng = case.engine()
    eng.run(3000)  # equilibration
    sites, _, block, step, dt = time_averages(eng, 120_000, N_BLOCKS)
    eng.check()
    masks = (np.int64(1) << sites).sum(axis=1)  # distinct sites: the sum is the bitmask
    conf_masks = confs @ (np.int64(1) << np.arange(net.n_sites))
    order = np.argsort(conf_masks)
    idx = np.searchsorted(conf_masks[order], masks)
    idx = np.minimum(idx, len(confs) - 1)
    visited_ok = conf_masks[order][idx] == masks
    assert visited_ok.all(), "the engine reached a configuration outside the ergodic class"
    conf_of_step = order[idx]
    resid = np.zeros((N_BLOCKS, len(confs)))
    np.add.at(resid, (block, conf_of_step[step]), dt)
    p_blocks = resid / resid.sum(axis=1, keepdims=True)  # (blocks, configurations)
    occ_blocks = p_blocks @ confs

    # the observables: every site's occupation, every configuration with probability >= 1 %
    # and all the rarer ones together. The t test needs values that are not (almost) always
    # 0 or 1: the rest, rarely seen in a run, are checked to 0.01 absolute.
    rare = p_exact < 0.01
    blocks = np.column_stack([occ_blocks, p_blocks[:, ~rare], p_blocks[:, rare].sum(axis=1)])
    exact = np.concatenate([occ_exact, p_exact[~rare], [p_exact[rare].sum()]])
    names = ([f"site {s}" for s in range(net.n_sites)]
             + [f"configuration {confs[c].tolist()}" for c in np.flatnonzero(~rare)]
             + ["the rare configurations"])
    mean = blocks.mean(axis=0)
    se = blocks.std(axis=0, ddof=1) / math.sqrt(N_BLOCKS)
    tested = np.minimum(exact, 1.0 - exact) >= 0.01
    crit = stats.t.ppf(1.0 - FAMILY_ALPHA / (2 * tested.sum()), N_BLOCKS - 1)
    t = (mean - exact) / np.where(tested, np.maximum(se, 1e-300), 1.0)
    _note(f"{len(confs)} configurations; per-site exact {np.round(occ_exact, 4).tolist()}, "
          f"measured {np.round(mean[:net.n_sites], 4).tolist()} "
          f"+/- {np.round(se[:net.n_sites], 4).tolist()}; threshold |t| <= {crit:.2f}")
    bad = [f"{names[k]}: {mean[k]:.4f} +/- {se[k]:.2g}, exact {exact[k]:.4f}, t = {t[k]:.1f}"
           for k in np.flatnonzero(tested & (np.abs(t) > crit))]
    bad += [f"{names[k]}: {mean[k]:.4f}, exact {exact[k]:.4f}"
            for k in np.flatnonzero(~tested & (np.abs(mean - exact) > 0.01))]
    assert not bad, f"{case.mode} mode: time averages off the Boltzmann distribution: {bad}"


# ======================================================================================
# through kmc.Simulation
# ======================================================================================
@st.composite
def full_lattice_cases(draw):
    """A whole small lattice (connected) with random site energies, 1..n-1 ions: never
    frozen, so Simulation.run must finish."""
    name = draw(st.sampled_from(sorted(_LATTICE_SIZES)))
    base = _lattice(name, draw(st.integers(*_LATTICE_SIZES[name])))
    net = base.replace(site_energies_eV=_values(draw, base.n_sites, -0.1, 0.1, False))
    return draw(cases(st.just(net), min_ions=1, max_ions=net.n_sites - 1, with_field=False))


@settings(max_examples=_examples(0.05, 2), suppress_health_check=_SLOW_OK,
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(case=full_lattice_cases())
def test_simulation_runs_with_an_empty_named_event_set(case):
    """An empty event set with a type name (what a generator returns when no event fits)
    changes nothing: the run is the one without it, and its event count is 0."""
    net = case.net.with_events(EventSet.from_lists([], "ev", 0.2))
    assert net.n_events == 0 and net.event_type_names == ("ev",)
    seed = case.seed % 2**63
    runs = [kmc.Simulation(n, case.T, ion_sites=case.ions, seed=seed,
                           engine_mode=case.mode).run(400, equilibration=0, blocks=4)
            for n in (case.net, net)]
    assert runs[1].event_counts == {**runs[0].event_counts, "ev": 0}
    # the same numbers (nan alike: 400 hops may give no diffusive regime, only a bound)
    for key in ("D_tracer_cm2_s", "D_tracer_cm2_s_upper", "D_tracer_blocks_cm2_s"):
        np.testing.assert_equal(getattr(runs[1].transport, key),
                                getattr(runs[0].transport, key))


# ======================================================================================
# a slowdown found by the properties above
# ======================================================================================
def test_auto_mode_is_not_slowed_down_by_a_caged_start():
    """A random-profile run of these properties hung (no progress for 25 min) before
    "uniform" and "auto" were limited to moderate spreads of hop rates: uniformization
    needs ~1/acceptance attempts per hop, and the automatic mode chose it from the
    network-average acceptance, also for an ion that starts caged by slow hops among fast
    ones -- ~1e8 attempts (2 s) for the first hop here, minutes at 250 K. The engine has
    checked the start's acceptance too since f56d935. The first hop, in automatic mode,
    takes at most 1000 times the float sum tree's wall time (0.01 s); the seed is fixed,
    so the work is too."""
    import time

    net = build_lattice("chain", size=20, barrier_eV=0.0)
    cage = (net.hop_src == 0) | (net.hop_dst == 0)
    net = net.replace(hop_barriers_eV=np.where(cage, 0.45, 0.0))  # site 0: a cage
    wall = {}
    for mode in ("tree", "auto"):
        eng = make_engine(net, [0], T=280.0, mode=mode, seed=1)
        w0 = time.perf_counter()
        assert eng.run(1) == (1, "steps")
        wall[f"{mode} -> {eng.mode}"] = time.perf_counter() - w0
    assert max(wall.values()) < 0.01, f"one hop took {wall} s of wall time"
