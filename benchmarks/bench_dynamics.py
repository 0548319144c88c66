"""Cost of Langevin trajectories with exact scores (``mc.dynamics``).

Prints nanoseconds per trajectory and step (best of ``--repeat``) for the forward SDE (exact
transitions), the generative SDE (Euler and Heun) and the probability-flow ODE, for two deltas,
a two-class mixture and a data set of 100 points, in N = 1, 8 and 64 dimensions. The first call of
each mode compiles the kernel (or loads it from the Numba cache) and is not timed.

    python benchmarks/bench_dynamics.py [--quick] [--repeat 3]
"""
from __future__ import annotations

import argparse

import numpy as np

import mc
from mc import dynamics as dyn
from timing import best_of


RUNS = [
    ("forward_sde", "exact", (0.05, 2.0)),
    ("reverse_sde", "euler", (2.0, 0.05)),
    ("reverse_sde", "heun", (2.0, 0.05)),
    ("reverse_ode", "heun", (2.0, 0.05)),
]


def models(n_dim, rng):
    yield "two_deltas", mc.TwoDeltas(np.ones(n_dim))
    yield "mixture", mc.GaussianMixture.two_class(np.ones(n_dim), variance=0.5)
    yield "dataset_100", mc.Dataset(rng.standard_normal((100, n_dim)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trajectories and dimensions")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    n_traj, n_steps = (2000, 100) if args.quick else (10000, 200)
    dims = (1, 8) if args.quick else (1, 8, 64)
    rng = np.random.default_rng(0)
    proc = mc.VP()
    print(f"{'model':>12} {'N':>4} {'mode':>12} {'scheme':>6} {'ns/traj/step':>13}")
    for n_dim in dims:
        for name, model in models(n_dim, rng):
            for mode, scheme, (t0, t1) in RUNS:
                times = dyn.time_grid(t0, t1, n_steps, spacing="log")
                run = lambda n: dyn.simulate(model, proc, times, mode=mode, scheme=scheme, n_trajectories=n, seed=1)  # noqa: E731
                run(2)
                sec = best_of(lambda: run(n_traj), args.repeat)
                print(f"{name:>12} {n_dim:>4} {mode:>12} {scheme:>6} {sec / (n_traj * n_steps) * 1e9:>13.1f}")


if __name__ == "__main__":
    main()
