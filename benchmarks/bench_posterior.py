"""Cost of exact posteriors: one quenched x_t -> weights, mean, covariance trace, log Z.

Prints a table (best of ``--repeat`` timings, in milliseconds) for the tractable models at
sizes a scan meets: data sets up to 1e5 points in 1000 dimensions, Gaussian mixtures with
isotropic and full covariances, hyperspheres, spin priors by enumeration (N <= 20) and the
Curie-Weiss prior by its one-dimensional Hubbard-Stratonovich integral.

    python benchmarks/bench_posterior.py [--quick] [--repeat 3]
"""
from __future__ import annotations

import argparse

import numpy as np

import mc
from timing import best_of


def exact_pass(model, process, x_t, t):
    post = mc.Posterior(model, process, x_t, t)
    post.mean()
    post.cov_trace()
    post.log_partition()
    return post


def cases(quick):
    proc = mc.VP()
    data_sizes = [(10_000, 100), (100_000, 100)] + ([] if quick else [(100_000, 1000)])
    for n, N in data_sizes:
        yield f"Dataset n={n}", N, mc.Dataset.gaussian(n, N, seed=0), proc, [1e-4, 1.0]
    for N in [100, 1000] if quick else [100, 1000, 10_000]:
        yield "GaussianMixture two-class", N, mc.GaussianMixture.two_class(1.0, n_dim=N), proc, [0.1, 3.0]
    rng = np.random.default_rng(0)
    for N in [50, 200]:
        a = rng.standard_normal((N, N))
        covs = np.stack([a @ a.T / N + np.eye(N), np.eye(N)])
        yield "GaussianMixture full K=2", N, mc.GaussianMixture(rng.standard_normal((2, N)), covariances=covs), proc, [0.5]
    for N in [100, 5000]:
        yield "Hypersphere", N, mc.Hypersphere(N), proc, [0.1, 2.0]
    for N in [12, 16] if quick else [12, 16, 20]:
        yield "SK enumeration", N, mc.IsingPrior.sherrington_kirkpatrick(N, beta=1.0, seed=0), proc, [1.0]
    for N in [1000, 10_000] if quick else [1000, 10_000, 100_000]:
        yield "Curie-Weiss HS integral", N, mc.IsingPrior.curie_weiss(N, J=1.0, beta=1.2), proc, [0.5, 3.0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'model':28s} {'N':>7s} {'t':>8s} {'ms / posterior':>15s}")
    for label, N, model, proc, times in cases(args.quick):
        for t in times:
            state = mc.draw_quenched(model, proc, t, seed=1)
            exact_pass(model, proc, state.x_t, t)  # warm-up
            sec = best_of(lambda: exact_pass(model, proc, state.x_t, t), args.repeat)
            print(f"{label:28s} {N:7d} {t:8.2g} {1e3 * sec:15.3f}")


if __name__ == "__main__":
    main()
