"""Exact single-vacancy tracer correlation factor f on kmc's finite periodic lattices.

One vacancy, every other site occupied, every hop at the same rate. After each jump of a
tagged atom the vacancy sits on the site the atom left; it then random-walks until it
exchanges with the atom again, and the neighbour it arrives from sets the atom's next jump.
So the atom's jump vectors form a Markov chain whose transition probabilities are the
vacancy's first-passage probabilities, found here by one sparse linear solve per site class
on the N-site periodic network (the method of Compaan & Haven, Trans. Faraday Soc. 52, 786
(1956), done exactly on the finite box instead of the infinite lattice). Then

    f = 1 + 2 sum_{m >= 1} <e_0 . e_m> / <e_0 . e_0>.

It reproduces the infinite-lattice values used by tests/test_physics.py and shows that the
periodic box raises f by about 1/N (0.75/N to 1.2/N, depending on the lattice); see
docs/references.md. Run from a checkout with kmc installed: python docs/single_vacancy_f.py
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spl

from kmc.builders import build_lattice


def single_vacancy_f(net) -> float:
    """Exact f of one vacancy on the periodic network `net` (all hops equally fast)."""
    n, ptr, dst = net.n_sites, net.hop_ptr, net.hop_dst
    vec = np.round(np.asarray(net.hop_vectors, dtype=float), 6)
    z = np.diff(ptr)

    def key(s):  # site class: sites with the same hop vectors are translation images
        return tuple(sorted(map(tuple, vec[ptr[s]:ptr[s + 1]])))

    reps = {}
    for s in range(n):
        reps.setdefault(key(s), s)

    first = {}  # rep r -> (probabilities of the next jump of an atom on r, by start site)
    for r in reps.values():
        pos = np.full(n, -1)
        others = np.array([s for s in range(n) if s != r])
        pos[others] = np.arange(n - 1)
        slot = {(dst[h], tuple(-vec[h])): h - ptr[r] for h in range(ptr[r], ptr[r + 1])}
        entries = []  # (row, column, value) of (1 - P) on the sites other than r
        rhs = np.zeros((n - 1, z[r]))
        for s in others:
            i = pos[s]
            entries.append((i, i, 1.0))
            for h in range(ptr[s], ptr[s + 1]):
                if dst[h] == r:  # the vacancy exchanges with the atom: it jumps to s
                    rhs[i, slot[(s, tuple(vec[h]))]] += 1.0 / z[s]
                else:
                    entries.append((i, pos[dst[h]], -1.0 / z[s]))
        rows, cols, vals = zip(*entries)
        a = sp.csc_matrix((vals, (rows, cols)), shape=(n - 1, n - 1))
        first[r] = (spl.splu(a).solve(rhs), pos)

    states = [(r, k) for r in reps.values() for k in range(z[r])]
    index = {st: i for i, st in enumerate(states)}
    jumps = np.array([vec[ptr[r] + k] for r, k in states])
    t = np.zeros((len(states), len(states)))
    for (r, k), i in index.items():
        h = ptr[r] + k
        q = reps[key(dst[h])]
        back = next(g for g in range(ptr[q], ptr[q + 1]) if np.array_equal(vec[g], -vec[h]))
        probs, pos = first[q]
        for k2, p in enumerate(probs[pos[dst[back]]]):
            t[i, index[(q, k2)]] += p
    w, v = np.linalg.eig(t.T)
    pi = np.real(v[:, np.argmin(abs(w - 1))])
    pi /= pi.sum()
    later, m = np.zeros_like(jumps), jumps.copy()
    for _ in range(100000):
        m = t @ m
        later += m
        if abs(m).max() < 1e-15:
            break
    a2 = (pi * (jumps * jumps).sum(1)).sum()
    return 1.0 + 2.0 * (pi * (jumps * later).sum(1)).sum() / a2


if __name__ == "__main__":
    exact = {"square": 0.46694, "sc": 0.65311, "fcc": 0.78145, "bcc": 0.72719,
             "triangular": 0.56006, "diamond": 0.5, "honeycomb": 1.0 / 3.0}
    print(f"{'lattice':10s} {'size':>4s} {'N':>5s} {'f(N)':>8s} {'f(inf)':>8s} "
          f"{'(f(N)-f(inf)) N':>16s}")
    for name, size in [("square", 40), ("sc", 6), ("sc", 12), ("sc", 16), ("fcc", 8),
                       ("bcc", 10), ("triangular", 40), ("diamond", 7), ("honeycomb", 28)]:
        net = build_lattice(name, size=size)
        f = single_vacancy_f(net)
        print(f"{name:10s} {size:4d} {net.n_sites:5d} {f:8.5f} {exact[name]:8.5f} "
              f"{(f - exact[name]) * net.n_sites:16.2f}")
