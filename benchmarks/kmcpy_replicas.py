"""kMCpy against kmc over independent replicas: the means of f, D_J and D* of many short
`compare_peers.py --problems kmcpy-nasicon` runs, each with its own seed.

One `compare_peers.py` check compares one kMCpy run with one kmc run at the same block
lengths, with jackknife errors that short runs underestimate; and runs with the same seed
share their trajectories' beginnings (the budget is wall time, so only their lengths
differ). Many replicas with different seeds give each code's mean and its standard error
from the spread of the replicas themselves, which is what tells a systematic difference
between the codes from chance. Make the replicas, then aggregate them:

    for s in $(seq 101 130); do
        python benchmarks/compare_peers.py --quick --problems kmcpy-nasicon \\
            --codes kmc,kmcpy-src --kmcpy-python VENV-KMCPY/bin/python --kmcpy-src KMCPY \\
            --first-seed $s --json > replicas/seed_$s.json
    done
    python benchmarks/kmcpy_replicas.py replicas/seed_*.json

Each replica: 2x1x1 (16 Na sites), 873 K, 100 equilibration passes, 10 s of kMCpy's
production in 100 blocks; kmc's numbers are its engine recorded at kMCpy's block lengths
("kmc_matched" in the JSON). Prints per replica and the means (+- standard error of the
mean, from the replicas' standard deviation), the z of the difference of the means, and
the ratio of the replicas' standard deviation to their mean quoted (jackknife) error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

QUANTITIES = (("f", "f", "f_err"), ("D_J 1e-6 cm^2/s", "D_red", "D_red_err"),
              ("D* 1e-6 cm^2/s", "Dt_red", "Dt_red_err"))


def load(paths: list[str]) -> list[dict]:
    """One row per replica file: kMCpy's and kmc's matched observables and the seed."""
    rows = []
    for p in paths:
        try:
            with open(p) as fh:
                d = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            print(f"skipping {p}: {exc}", file=sys.stderr)
            continue
        for r in d.get("results", []):
            if r.get("code") != "kmcpy-src" or "check" not in r:
                continue
            obs, km = r["obs"], r["check"]["kmc_matched"]
            rows.append({"file": p, "seed": r["seed"], "size": r["size"], "T": r["T"],
                         "hops_per_ion_per_block": obs["hops_per_ion_per_block"],
                         "kmcpy": {k: obs[k] for k in ("f", "f_err", "D_red", "D_red_err",
                                                        "Dt_red", "Dt_red_err")},
                         "kmc": {k: km[k] for k in ("f", "f_err", "D_red", "D_red_err",
                                                     "Dt_red", "Dt_red_err")}})
    return rows


def summary(rows: list[dict]) -> dict:
    """Per code and quantity: mean, standard deviation, standard error of the mean, mean
    quoted error; per quantity the z of the difference of the means (kMCpy - kmc)."""
    out: dict = {"n": len(rows)}
    for label, key, err in QUANTITIES:
        q = {}
        for code in ("kmcpy", "kmc"):
            x = np.array([r[code][key] for r in rows], dtype=float)
            e = np.array([r[code][err] for r in rows], dtype=float)
            sd = float(np.std(x, ddof=1)) if x.size > 1 else math.nan
            q[code] = {"mean": float(np.mean(x)), "sd": sd,
                       "sem": sd / math.sqrt(x.size) if x.size > 1 else math.nan,
                       "mean_quoted_err": float(np.mean(e))}
        diff = q["kmcpy"]["mean"] - q["kmc"]["mean"]
        q["z"] = diff / math.hypot(q["kmcpy"]["sem"], q["kmc"]["sem"])
        q["ratio"] = q["kmcpy"]["mean"] / q["kmc"]["mean"]
        out[label] = q
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="compare_peers.py --json outputs, one per seed")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args()
    rows = load(args.files)
    if len(rows) < 2:
        sys.exit(f"need at least 2 replicas, found {len(rows)}")
    s = summary(rows)
    if args.json:
        print(json.dumps({"replicas": rows, "summary": s}, indent=1))
        return
    print(f"{'seed':>5} {'hops/ion/block':>14} " + " ".join(
        f"{code + ' ' + label.split()[0]:>14}" for label, _, _ in QUANTITIES
        for code in ("kMCpy", "kmc")))
    for r in sorted(rows, key=lambda r: r["seed"]):
        print(f"{r['seed']:>5} {r['hops_per_ion_per_block']:>14.1f} " + " ".join(
            f"{r[code][key]:>14.4g}" for _, key, _ in QUANTITIES for code in ("kmcpy", "kmc")))
    print(f"\n{s['n']} replicas; mean +- standard error of the mean (standard deviation; "
          "mean quoted error)")
    for label, _, _ in QUANTITIES:
        q = s[label]
        a, b = q["kmcpy"], q["kmc"]
        print(f"{label:<16} kMCpy {a['mean']:.4g} +- {a['sem']:.2g} ({a['sd']:.2g}; "
              f"{a['mean_quoted_err']:.2g})   kmc {b['mean']:.4g} +- {b['sem']:.2g} "
              f"({b['sd']:.2g}; {b['mean_quoted_err']:.2g})   kMCpy/kmc {q['ratio']:.3f}, "
              f"z {q['z']:.2f}")


if __name__ == "__main__":
    main()
