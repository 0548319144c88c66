"""Tempering ladders compared by cost times autocorrelation: hand-chosen, default and adaptive.

Two posteriors with modes that single-temperature moves do not cross:

* Curie-Weiss, beta J = 1.5, N = 128, VP, planted x_t at t = 2.5 (modes M ~ +-0.85 N with
  comparable weights; ``tests/test_sampler_spins.py``), all chains started at sigma = +1; the
  observable is the magnetisation m = sum_i sigma_i / N, whose mean weighs the two modes and has an
  exact value (Hubbard-Stratonovich integral);
* Sherrington-Kirkpatrick, beta J = 1.5, N = 64, VP, t = 1.5, x_t standard normal (weak field, a
  glassy posterior); the observable is q^2 with q = sigma^r . sigma^{r+1} / N between replicas.

Ladders: (a) the hand-chosen Hamiltonian ladder of the Curie-Weiss test, 12 rungs geometric down
to beta = 0.3; (b) the default Hamiltonian ladder, 8 rungs down to 0.05; (c) ``tempering=
"adaptive"`` (non-reversible tempering with the ladder tuned from the communication barrier,
Syed et al. 2022): down to the default 0.05 and (d) down to 0.3 as (a). Heat-bath sweeps,
one even-odd exchange round per sweep, 4 replicas, burn-in ``n_sweeps / 4``, a draw every 5
sweeps.

Columns: rungs K (per replica, mean); rejection-rate spread (max / min over the neighbour pairs,
mean over replicas); barrier Lambda = sum_k r_k; round trips (rung 0 -> top -> rung 0, following
each configuration) per 1000 sweeps per replica; cost of a round trip in sweeps x rungs; wall
time of the run (compiled kernels, not counting compilation); the observable's mean +- error
(from its integrated autocorrelation time, Sokal window, the largest over replicas), with the
z-score against the exact value where there is one; tau_int of the observable in sweeps; and
the cost that matters, K x tau_int: rung-sweeps per independent draw of the observable.

    python benchmarks/bench_tempering.py [--quick] [--sweeps 20000]
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import mc
from mc.diagnostics import tau_int_per_chain

LADDERS = [
    ("12 rungs to 0.3", dict(tempering="hamiltonian", n_temperatures=12, lowest_beta=0.3)),
    ("default 8 rungs", dict(tempering="hamiltonian")),
    ("adaptive", dict(tempering="adaptive")),
    ("adaptive to 0.3", dict(tempering="adaptive", lowest_beta=0.3)),
]
THIN = 5
N_REPLICAS = 4


def curie_weiss():
    n = 128
    prior = mc.IsingPrior.curie_weiss(n, beta=1.5)
    state = mc.draw_quenched(prior, mc.VP(), 2.5, seed=0)
    post = mc.Posterior(prior, mc.VP(), state.x_t, 2.5)
    observable = lambda res: res.samples.mean(axis=2)  # noqa: E731  (R, draws) magnetisation
    return "CW N=128 bJ=1.5", "m", post, np.ones((N_REPLICAS, n)), observable, float(post.mean().mean())


def sherrington_kirkpatrick():
    n = 64
    prior = mc.IsingPrior.sherrington_kirkpatrick(n, beta=1.5, seed=3)
    x_t = np.random.default_rng(1).standard_normal(n)
    post = mc.Posterior(prior, mc.VP(), x_t, 1.5)
    observable = lambda res: res.overlaps**2  # noqa: E731  (R, draws) q^2 with the next replica
    return "SK N=64 bJ=1.5", "q^2", post, "auto", observable, None


def mean_and_error(series):
    """Mean of (R, D) series, its standard error and tau_int (in draws, the largest over replicas)."""
    tau = max(1.0, float(np.max(tau_int_per_chain(series, warn=False))))
    return float(series.mean()), float(np.sqrt(series.var() * tau / series.size)), tau


def run(post, init, n_sweeps, ladder):
    kwargs = dict(n_replicas=N_REPLICAS, thin=THIN, seed=1, init=init, method="heat_bath", **ladder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mc.sample(post, n_sweeps=200, **kwargs)  # compile (or load) the kernels: not timed
        t0 = time.perf_counter()
        res = mc.sample(post, n_sweeps=n_sweeps, **kwargs)
    return res, time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4000 sweeps instead of 20000")
    parser.add_argument("--sweeps", type=int, default=None, help="production sweeps per run")
    args = parser.parse_args(argv)
    n_sweeps = args.sweeps or (4000 if args.quick else 20_000)
    print(f"{n_sweeps} sweeps (+ {n_sweeps // 4} burn-in), {N_REPLICAS} replicas, a draw every {THIN} sweeps")
    head = (f"{'case':<16} {'ladder':<16} {'K':>5} {'rej max/min':>11} {'Lambda':>6} {'RT/1000sw':>9} "
            f"{'sw*K/RT':>8} {'wall s':>6} {'observable':>22} {'z':>5} {'tau sw':>7} {'K*tau':>7}")
    print(head)
    print("-" * len(head))
    for case in (curie_weiss, sherrington_kirkpatrick):
        name, obs_name, post, init, observable, exact = case()
        for label, ladder in LADDERS:
            res, wall = run(post, init, n_sweeps, ladder)
            k = float(res.n_rungs.mean())
            rej = res.rejection_rate
            spread = float(np.mean(np.nanmax(rej, axis=1) / np.maximum(np.nanmin(rej, axis=1), 1e-12)))
            trips = res.round_trips.astype(float)
            per_1000 = 1000.0 * float(trips.mean()) / n_sweeps
            cost = n_sweeps * k / trips.mean() if trips.mean() > 0 else np.inf
            mean, err, tau = mean_and_error(observable(res))
            z = f"{(mean - exact) / err:5.1f}" if exact is not None else f"{'':>5}"
            tau_sweeps = tau * THIN
            flag = "" if res.mixed else "  (flagged: not mixed)"
            print(f"{name:<16} {label:<16} {k:>5.1f} {spread:>11.2f} {np.mean(res.barrier):>6.2f} {per_1000:>9.1f} "
                  f"{cost:>8.0f} {wall:>6.1f} {f'{obs_name} = {mean:.4f} +- {err:.4f}':>22} {z} {tau_sweeps:>7.1f} "
                  f"{k * tau_sweeps:>7.0f}{flag}")
        if exact is not None:
            print(f"{'':<16} exact {obs_name} = {exact:.4f}")


if __name__ == "__main__":
    main()
