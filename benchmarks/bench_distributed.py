"""One SK posterior over 1 and 2 MPI ranks: speed and parallel efficiency of ``mc.sample_distributed``.

The posterior: Sherrington-Kirkpatrick prior, beta J = 1.5, N = 512 (dense couplings), VP at
t = 1 with x_t from a random spin configuration; a Hamiltonian ladder of 16 rungs geometric down
to beta = 0.05, heat-bath sweeps in random site order, one even-odd exchange round per sweep and
a draw every sweep (the most communication per sweep), one replica: 16 chains, 8 per rank on 2
ranks. Every run's wall time is that of the ``sample_distributed`` call after a barrier (kernels
loaded by a short run before), the slowest rank's; runs on 1 and 2 ranks alternate (``--repeat``
rounds, the best of each kept), so that the drifts of a shared machine fall on both.

Columns: ranks P; sweeps per second of the whole ladder (burn-in included); wall time; parallel
efficiency ``t1 / (P tP)``; time share in collectives (the mean over ranks of the seconds spent in
``Allgatherv``, waiting for the other ranks included, over the wall time) and in the sweep
kernels; balance, the mean over ranks of the kernel seconds over the largest (1: every rank
had the same work); core share, the CPU seconds of a rank over the wall time (mean over ranks:
below 1 when other processes share the cores; MPICH's collectives spin while they wait, so
waiting counts as CPU time). The 1-rank row also gives ``mc.sample`` on the same ladder (one process, one stream per
replica: a different chain, the same work) for the cost of driving each chain on its own.

    python benchmarks/bench_distributed.py [--sweeps 2000] [--repeat 3] [--n-dim 512] [--rungs 16]

The script launches ``mpiexec -n 1`` and ``mpiexec -n 2`` itself (the ``mpiexec`` next to the
interpreter, from the ``mpich`` wheel); ``--worker`` is the part that runs under MPI.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import time
import warnings


def posterior(n_dim):
    import numpy as np

    import mc

    prior = mc.IsingPrior.sherrington_kirkpatrick(n_dim, beta=1.5, seed=1)
    x0 = np.where(np.random.default_rng(2).random(n_dim) < 0.5, 1.0, -1.0)
    state = mc.draw_quenched(prior, mc.VP(), 1.0, seed=3, x0=x0)
    return mc.Posterior(prior, mc.VP(), state.x_t, 1.0)


def worker(args):
    """Under MPI: a warm-up run, then the timed run; rank 0 prints one JSON line."""
    from mpi4py import MPI

    import mc

    warnings.simplefilter("ignore")
    comm = MPI.COMM_WORLD
    post = posterior(args.n_dim)
    kw = dict(n_replicas=1, tempering="hamiltonian", n_temperatures=args.rungs, seed=4, store="summary",
              exchange_every=args.every, thin=args.every)
    mc.sample_distributed(post, comm, n_sweeps=20, **kw)  # load the kernels
    comm.Barrier()
    t0, c0 = time.perf_counter(), time.process_time()
    res = mc.sample_distributed(post, comm, n_sweeps=args.sweeps, **kw)
    cpu = comm.allreduce(time.process_time() - c0) / comm.size
    wall = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    comm_s = comm.allreduce(res.comm_time) / comm.size
    compute = comm.allgather(res.compute_time)
    serial = None
    if comm.size == 1:
        mc.sample(post, n_sweeps=20, **kw)
        t0 = time.perf_counter()
        mc.sample(post, n_sweeps=args.sweeps, **kw)
        serial = time.perf_counter() - t0
    if comm.rank == 0:
        print(json.dumps({"ranks": comm.size, "wall": wall, "comm": comm_s, "compute": sum(compute) / len(compute), "balance": sum(compute) / len(compute) / max(compute),
                          "cpu": cpu,
                          "sweeps": res.burn_in + res.n_sweeps, "serial": serial,
                          "exchange": float(res.exchange_rate.mean()), "round_trips": int(res.round_trips.sum())}))


def launch(n_ranks, args):
    mpiexec = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    env = dict(os.environ, OMP_NUM_THREADS="1", MPIR_CVAR_CH4_PROGRESS_THROTTLE="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    cmd = [mpiexec, "-n", str(n_ranks), sys.executable, os.path.abspath(__file__), "--worker",
           "--sweeps", str(args.sweeps), "--every", str(args.every), "--n-dim", str(args.n_dim), "--rungs", str(args.rungs)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"mpiexec -n {n_ranks} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--every", type=int, default=1, help="sweeps between exchange rounds (and draws)")
    parser.add_argument("--n-dim", type=int, default=512)
    parser.add_argument("--rungs", type=int, default=16)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    best = {}
    for _ in range(args.repeat):
        for p in (1, 2):
            row = launch(p, args)
            if p not in best or row["wall"] < best[p]["wall"]:
                best[p] = row
    t1 = best[1]["wall"]
    print(f"SK posterior, N = {args.n_dim}, {args.rungs} rungs (Hamiltonian, one replica), "
          f"{best[1]['sweeps']} sweeps, exchange and draw every {args.every} sweep(s); best of {args.repeat}; "
          f"exchange rate {best[1]['exchange']:.2f}, {best[1]['round_trips']} round trips")
    print(f"{'ranks':>5} {'sweeps/s':>9} {'wall s':>8} {'efficiency':>10} {'comm share':>10} {'kernel share':>12} "
          f"{'balance':>8} {'core share':>10}")
    for p in (1, 2):
        row = best[p]
        print(f"{p:>5} {row['sweeps'] / row['wall']:>9.1f} {row['wall']:>8.2f} {t1 / (p * row['wall']):>10.2f} "
              f"{row['comm'] / row['wall']:>10.1%} {row['compute'] / row['wall']:>12.1%} {row['balance']:>8.2f} "
              f"{row['cpu'] / row['wall']:>10.2f}")
    serial = best[1]["serial"]
    print(f"mc.sample on one process, same ladder: {best[1]['sweeps'] / serial:.1f} sweeps/s ({serial:.2f} s)")
    print(f"load average of the machine at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
