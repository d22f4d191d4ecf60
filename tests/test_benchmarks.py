"""The benchmark programs still build and agree with themselves (no timings are asserted).

benchmarks/ is not part of the package: these tests need the source tree and a C compiler
and skip without them (e.g. on Windows wheels' test runs).
"""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"

pytestmark = pytest.mark.skipif(
    not (BENCH / "bench_roofline.py").exists() or shutil.which("cc") is None,
    reason="needs the source tree's benchmarks/ and a C compiler (cc)")


def _load(name):
    """A benchmark script as a module."""
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench_roofline():
    return _load("bench_roofline")


def _run(exe, *args):
    out = subprocess.run([exe, *map(str, args)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("c", [0.5, 0.05])
def test_roofline_variants_simulate_the_same_trajectory(bench_roofline, tmp_path, c):
    """The two prefetch variants differ only in what they fetch ahead: same draws, same
    hops, same tracer displacement, bit for bit."""
    exes = bench_roofline.compile_roofline(str(tmp_path))
    assert len(exes) == 2
    runs = [_run(exe, 12, c, 200_000, 5) for exe in exes]
    for r in runs:
        assert r["sites"] == 12**3
        assert r["ions"] == round(c * 12**3)
        assert r["hops"] == 200_000 <= r["attempts"]
        assert r["bytes_per_site"] == pytest.approx(1 + 20 * r["ions"] / r["sites"], abs=0.006)
    keys = ("attempts", "hops", "D_tracer_per_Gamma_a2")
    assert [runs[0][k] for k in keys] == [runs[1][k] for k in keys]


def test_roofline_refuses_missing_arguments(bench_roofline, tmp_path):
    exe = bench_roofline.compile_roofline(str(tmp_path))[0]
    r = subprocess.run([exe, "10"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr


def test_memprobe_reports_every_size(tmp_path):
    exe = tmp_path / "memprobe"
    subprocess.run(["cc", "-O2", "-std=c99", str(BENCH / "roofline" / "memprobe.c"), "-o",
                    str(exe)], check=True)
    out = subprocess.run([str(exe), str(128 << 10)], check=True, capture_output=True,
                         text=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["bytes"] for r in rows] == [32 << 10, 64 << 10, 128 << 10]
    assert all(r["latency_ns"] > 0 and r["throughput_ns"] > 0 for r in rows)


def test_kmc_side_of_the_roofline_benchmark(bench_roofline):
    """One kmc row as bench_roofline measures it (a PeriodicNetwork, uniformization)."""
    r = bench_roofline.engine_here(10, 0.5, 50_000, True)
    assert r["sites"] == 1000 and r["mode"] == "uniform" and r["network"] == "PeriodicNetwork"
    assert r["hops_per_s"] > 0 and r["engine_B_per_site"] > 0


@pytest.mark.parametrize("case", ["uniform", "disordered"])
def test_interacting_benchmark_runs_the_tree(case):
    mod = _load("bench_interacting")
    net = mod.network(6, case)
    assert net.has_interactions and net.n_sites == 216
    r = mod.measure(6, case, hops=20_000)
    assert r["mode"] == "tree" and r["Mhops_s"] > 0


def test_engine_comparison_worker_measures_every_case():
    """What bench_engine.py --against runs in each worker process, on a tiny lattice."""
    mod = _load("bench_engine")
    kinds = {c["kind"] for c in mod.comparison_cases(1_000, 1000)}
    assert kinds == {"c = 0.5", "1 vacancy", "tree disordered", "interacting uniform",
                     "interacting disordered", "events"}
    modes = {}
    for kind in sorted(kinds):
        r = mod.measure_case({"kind": kind, "L": 5, "hops": 2000})
        assert r["hops_per_s"] > 0 and r["sites"] == 125 and len(r["state_sha"]) == 16
        assert r == {**r, "state_sha": mod.measure_case({"kind": kind, "L": 5, "hops": 2000})
                     ["state_sha"]}  # the same trajectory again
        modes[kind] = r["mode"]
    assert modes["1 vacancy"] == "count" and modes["tree disordered"] == "tree"
    assert modes["events"] == modes["interacting uniform"] == "tree"
