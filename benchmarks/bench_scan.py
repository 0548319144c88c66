"""Scan driver: overhead per task and parallel efficiency on 1 vs 2 MPI ranks.

* Overhead per task: ``run_scan`` over a few hundred tasks whose physics is replaced by a
  precomputed result table, so what is timed is the driver alone: the task list, the checks, the
  atomic parquet write with fsync, the SHA-256 manifest and the progress bookkeeping. Target:
  under 50 ms.
* Parallel efficiency: the same CPU-bound scan (Curie-Weiss heat bath, N = 256, a few tenths of a
  second per task) run by ``replica scan`` alone and under ``mpiexec -n 2``;
  efficiency = T(1) / (2 T(2)) from the wall time of the whole command (start-up included) and
  from the wall time of the task loops (the slowest rank's sum of task times from the manifests).
  Target: >= 0.9.

    python benchmarks/bench_scan.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from replica.scan import make_tasks, parse_spec  # noqa: E402
from replica.scan.compute import run_task  # noqa: E402
from replica.scan.runner import run_scan  # noqa: E402

OVERHEAD_SPEC = """
[scan]
name = "overhead"
seed = 1
[model]
name = "dataset_gaussian"
n_points = 20
[process]
name = "VP"
[grid]
n_dim = [4]
t = {{start = 0.1, stop = 3.0, num = 10}}
disorder = {disorder}
[sampler]
method = "exact"
[observables]
names = ["participation_ratio", "q_self", "overlap_truth", "overlap_histogram"]
"""

PARALLEL_SPEC = """
[scan]
name = "parallel"
seed = 1
[model]
name = "curie_weiss"
beta = 1.2
[process]
name = "VP"
[grid]
n_dim = [256]
t = {{start = 0.5, stop = 3.0, num = {num}}}
disorder = 4
[sampler]
method = "heat_bath"
n_replicas = 4
n_sweeps = {sweeps}
burn_in = 200
exact_reference = false
[observables]
names = ["q_self", "overlap_truth", "susceptibility", "overlap_histogram"]
"""


def driver_overhead(n_disorder):
    spec = parse_spec(OVERHEAD_SPEC.format(disorder=n_disorder))
    tasks = make_tasks(spec)
    frames = run_task(spec, tasks[0])  # one real result, reused: the physics is not timed

    def canned(spec_, task):
        return frames

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = run_scan(spec, os.path.join(tmp, "out"), compute=canned, progress=False)
        wall = time.perf_counter() - t0
    assert summary.done == len(tasks)
    return len(tasks), wall / len(tasks)


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", MPIR_CVAR_CH4_PROGRESS_THROTTLE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    return env


def _run(cmd, out):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, cwd=ROOT, timeout=3600)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    per_rank = {}
    task_dir = os.path.join(out, "tasks")
    for name in os.listdir(task_dir):
        if name.endswith(".meta.json"):
            with open(os.path.join(task_dir, name)) as fh:
                meta = json.load(fh)
            per_rank[meta["rank"]] = per_rank.get(meta["rank"], 0.0) + meta["wall_time"]
    return wall, max(per_rank.values()), len(per_rank), sum(per_rank.values())


def parallel_efficiency(num, sweeps):
    mpiexec = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = os.path.join(tmp, "spec.toml")
        with open(spec_path, "w") as fh:
            fh.write(PARALLEL_SPEC.format(num=num, sweeps=sweeps))
        n_tasks = len(make_tasks(parse_spec(PARALLEL_SPEC.format(num=num, sweeps=sweeps))))
        # warm the Numba cache so that neither run pays the compilation
        _run([sys.executable, "-m", "replica.cli", "scan", spec_path, "--out", os.path.join(tmp, "warm"),
              "--quiet"], os.path.join(tmp, "warm"))
        one = _run([sys.executable, "-m", "replica.cli", "scan", spec_path, "--out", os.path.join(tmp, "one"),
                    "--quiet"], os.path.join(tmp, "one"))
        two = _run([mpiexec, "-n", "2", sys.executable, "-m", "replica.cli", "scan", spec_path, "--out",
                    os.path.join(tmp, "two"), "--quiet"], os.path.join(tmp, "two"))
    return n_tasks, one, two


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter tasks")
    parser.add_argument("--sweeps", type=int, default=3000, help="sweeps per task of the parallel scan")
    args = parser.parse_args()

    n, per_task = driver_overhead(10 if args.quick else 40)
    print("driver overhead (physics replaced by a precomputed table)")
    print(f"| tasks | ms per task | target |\n|---|---|---|\n| {n} | {1e3 * per_task:.1f} | < 50 |")
    print()
    num, sweeps = (6, 1000) if args.quick else (10, args.sweeps)
    n_tasks, (w1, loop1, _, cpu1), (w2, loop2, ranks, cpu2) = parallel_efficiency(num, sweeps)
    print(f"parallel efficiency: Curie-Weiss heat bath N = 256, {n_tasks} tasks, 4 replicas x {sweeps} sweeps each")
    print("| ranks | wall of the command (s) | slowest rank's task time (s) | sum of task times (s) |")
    print("|---|---|---|---|")
    print(f"| 1 | {w1:.2f} | {loop1:.2f} | {cpu1:.2f} |")
    print(f"| 2 | {w2:.2f} | {loop2:.2f} | {cpu2:.2f} |")
    print(f"efficiency T1 / (2 T2): whole command {w1 / (2 * w2):.3f}, task loops {loop1 / (2 * loop2):.3f} "
          f"(target >= 0.9; ranks that ran tasks: {ranks})")
    print(f"  of which load balance (sum / (2 x slowest)) {cpu2 / (2 * loop2):.3f} and the cores' own scaling "
          f"(task time on 1 rank / on 2 ranks) {cpu1 / cpu2:.3f}")


if __name__ == "__main__":
    main()
