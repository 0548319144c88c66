"""Cost of a scan task on a user's data file (model ``dataset_file``) against the memory bandwidth.

For random float64 points (n, N) written to a temporary ``.npy`` (n = 1e3, 1e4, 1e5 at
N = 64 and N = 784; a size whose array exceeds ``--max-gib`` is skipped), it times

* ``load``: ``parse_spec`` of a spec naming the file, which validates it: SHA-256 of the file,
  reading, checking, preprocessing and the search for duplicated rows, once per process (the
  data are then cached);
* ``first task``: the first ``replica.scan.compute.run_task`` of the process: the model built
  from the cached points plus the data-derived theory columns (covariance spectrum, planted
  entropy collapse up to ``ENTROPY_MAX_POINTS``), cached per process afterwards;
* ``s / task``: ``run_task(spec, task)`` once everything is cached (``method = "exact"``,
  ``draws = 0``, ``source = "point"``, the model's default observables plus the memorisation
  ones where registered: ``memorised_fraction``, ``denoiser_nearest_distance``,
  ``denoiser_origin_distance``), at each time of ``--t``;
* ``s / posterior``: ``mc.Posterior(model, process, x_t, t)`` and ``post.exact.weights`` alone
  (one matrix-vector product over the points and a log-sum-exp), on the task's model and x_t.

In the same run it measures the memory bandwidth of this machine on a ``--bandwidth-gib``
float64 array: a reduction ``a.sum()`` and a matrix-vector pass ``a @ v`` (GB/s). The table
gives, per (N, n, t), the bytes of the points, the times, the bandwidth bound ``bytes /
bandwidth`` (the least time to read the points once, at the matrix-vector bandwidth) and the
ratios time / bound: how many passes over the points a task costs. Timings are the best of
``--repeat`` calls (``timing.best_of``), one BLAS thread as in a scan rank (``replica scan``
pins the threads the same way).

    python benchmarks/bench_dataset_file.py [--quick] [--repeat 3] [--t 0.1 1.0]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread, as in a scan rank; before NumPy starts BLAS

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import mc  # noqa: E402
from replica.scan import make_tasks, parse_spec  # noqa: E402
from replica.scan.compute import build_model, build_process, quenched_state, run_task  # noqa: E402
from replica.scan.observables import observables  # noqa: E402
from timing import best_of  # noqa: E402

#: Observables added to the model's defaults when they are registered.
MEMORISATION = ("memorised_fraction", "denoiser_nearest_distance", "denoiser_origin_distance")

SPEC = """
[scan]
name = "bench_dataset_file"
seed = 1
[model]
name = "dataset_file"
path = "{path}"
max_gib = {max_gib}
[process]
name = "VP"
[grid]
t = [{times}]
disorder = 1
source = "point"
[sampler]
method = "exact"
draws = 0
{observables}
"""


def bandwidth(gib, repeat):
    """``(GB/s of a.sum(), GB/s of a @ v)`` over a float64 array of ``gib`` GiB (best of ``repeat``)."""
    n_rows = int(gib * 2**30 / 8 / 784)
    a = np.random.default_rng(0).standard_normal((n_rows, 784))
    v = np.ones(784)
    a.sum(), a @ v  # warm-up: pages touched
    nbytes = a.nbytes
    t_sum = best_of(lambda: a.sum(), repeat)
    t_mv = best_of(lambda: a @ v, repeat)
    return nbytes / t_sum / 1e9, nbytes / t_mv / 1e9


def spec_text(path, times, max_gib, names=None):
    obs = "" if names is None else "[observables]\nnames = [" + ", ".join(f'"{n}"' for n in names) + "]"
    return SPEC.format(path=path, times=", ".join(repr(float(t)) for t in times), max_gib=max_gib, observables=obs)


def case(directory, n, n_dim, times, repeat):
    """Rows ``{t: {...}}`` of one data size (the file is written to ``directory`` and removed)."""
    # a new name per size, so that each is read afresh (load_data caches the data per process)
    name = f"points_{n_dim}x{n}.npy"
    path = os.path.join(directory, name)
    np.save(path, np.random.default_rng(n * n_dim).standard_normal((n, n_dim)))
    max_gib = max(2.0, 4.0 * n * n_dim * 8 / 2**30)  # the file, a subset and temporaries
    try:
        t0 = time.perf_counter()
        defaults = parse_spec(spec_text(name, times, max_gib), base_dir=directory).observables.names
        load = time.perf_counter() - t0
        registered = observables()
        names = list(defaults) + [obs for obs in MEMORISATION if obs in registered and obs not in defaults]
        spec = parse_spec(spec_text(name, times, max_gib, names), base_dir=directory)
        tasks = list(make_tasks(spec))
        t0 = time.perf_counter()
        run_task(spec, tasks[0])
        first = time.perf_counter() - t0
        process = build_process(spec)
        out = {}
        for task in tasks:
            per_task = best_of(lambda: run_task(spec, task), repeat)
            model = build_model(spec, task.n_dim, task.disorder, task.n_points)
            state = quenched_state(spec, model, process, task)

            def posterior():
                post = mc.Posterior(model, process, state.x_t, task.t)
                return post.exact.weights

            posterior()
            per_post = best_of(posterior, max(repeat, 5))
            out[task.t] = {"task": per_task, "posterior": per_post}
        return {"load": load, "first": first, "times": out, "names": names}
    finally:
        os.unlink(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="n up to 1e4 only")
    parser.add_argument("--repeat", type=int, default=3, help="timings are the best of this many calls")
    parser.add_argument("--t", type=float, nargs="+", default=[0.1, 1.0],
                        help="times of the tasks (VP); small t: the posterior sits on one point, large t: spread")
    parser.add_argument("--max-gib", type=float, default=1.0, help="skip a data size whose points exceed this")
    parser.add_argument("--bandwidth-gib", type=float, default=1.0, help="size of the bandwidth test array")
    args = parser.parse_args()

    bw_sum, bw_mv = bandwidth(args.bandwidth_gib, args.repeat)
    print(f"memory bandwidth ({args.bandwidth_gib:g} GiB float64, one thread): a.sum() {bw_sum:.1f} GB/s, "
          f"a @ v {bw_mv:.1f} GB/s; bound = bytes / {bw_mv:.1f} GB/s")
    sizes = [(n_dim, n) for n_dim in (64, 784) for n in (1_000, 10_000, 100_000) if not (args.quick and n > 10_000)]
    header = (f"{'N':>4s} {'n':>7s} {'MB':>7s} {'t':>5s} {'load s':>7s} {'first s':>8s} {'s / task':>9s} "
              f"{'s / post':>9s} {'bound s':>9s} {'task/bnd':>8s} {'post/bnd':>8s}")
    names = None
    with tempfile.TemporaryDirectory(prefix="bench_dataset_file-") as directory:
        for n_dim, n in sizes:
            nbytes = 8 * n * n_dim
            if nbytes > args.max_gib * 2**30:
                print(f"skip N = {n_dim}, n = {n}: {nbytes / 2**30:.2f} GiB > --max-gib {args.max_gib:g}")
                continue
            res = case(directory, n, n_dim, args.t, args.repeat)
            if names is None:
                names = res["names"]
                print(f"observables: {', '.join(names)}")
                print(header)
            bound = nbytes / (bw_mv * 1e9)
            for t, tt in res["times"].items():
                row = (f"{n_dim:4d} {n:7d} {nbytes / 1e6:7.1f} {t:5.2g} {res['load']:7.3f} {res['first']:8.3f} "
                       f"{tt['task']:9.4f} {tt['posterior']:9.5f} {bound:9.5f} {tt['task'] / bound:8.1f} "
                       f"{tt['posterior'] / bound:8.1f}")
                print(row, flush=True)


if __name__ == "__main__":
    main()
