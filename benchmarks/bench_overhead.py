"""Overhead of ``mc.sample`` over its bare sweep kernel, per spin-flip attempt (or move).

For each posterior, ``mc.sample`` runs with its defaults (4 replicas, the default ladder where the
model says its prior may have several modes, random site order, thin = 1, every draw measured:
energy, overlap between replicas, projection on the field, order projections, running moments,
and the projections of every configuration that detect crossings between modes), ``store =
"summary"``. Its cost per sweep is the marginal cost: the CPU time of a run of ``2 S`` production
sweeps minus that of ``S`` sweeps (burn-in ``n_sweeps / 4`` in both, so the difference is
``1.25 S`` sweeps), so that set-up and diagnostics (the fixed cost per call, given separately) do
not count. The bare kernel is the same family of chains (same replicas, rungs, exchange rounds),
built as ``mc.sample`` builds it and run for ``S`` sweeps in one kernel call, with no
measurement at all. Their ratio is what a user pays for the measurements (goal: at most 1.2).

Also per case: the fixed cost of one call in this process (set-up, the initial energies,
tau and R-hat of every series after the run) and the first call of the process (Numba loading
its on-disk cache, or compiling it). Times are process CPU seconds (``time.process_time``),
best of ``--repeat`` rounds with the contenders alternating.

    python benchmarks/bench_overhead.py [--quick] [--repeat 3]
"""
from __future__ import annotations

import argparse
import platform
import time
import warnings

import numba
import numpy as np

import mc
from mc import sampler as S
from mc.kernels.rng import seed_states
from timing import cpu_timed, interleaved_best


def cases(quick):
    rng = np.random.default_rng(0)
    big = 64 if quick else 128
    yield "2D Ising L=16, T=2.27, x_t=0", mc.Posterior(mc.IsingPrior.lattice(16, 2, beta=1 / 2.27), mc.VP(),
                                                         np.zeros(256), 1.0), 2000
    yield (f"2D Ising L={big}, T=2.27, x_t=0",
           mc.Posterior(mc.IsingPrior.lattice(big, 2, beta=1 / 2.27), mc.VP(), np.zeros(big * big), 1.0),
           100 if quick else 200)
    sk = mc.IsingPrior.sherrington_kirkpatrick(128, beta=1.5, seed=1)
    yield "SK N=128, beta J=1.5", mc.Posterior(sk, mc.VP(), rng.standard_normal(128), 1.0), 1000
    yield ("Curie-Weiss N=256, beta J=1.5",
           mc.Posterior(mc.IsingPrior.curie_weiss(256, beta=1.5), mc.VP(), 0.1 * rng.standard_normal(256), 1.0), 1000)
    hop = mc.IsingPrior.hopfield(rng.choice([-1.0, 1.0], size=(8, 128)), beta=2.0)
    yield "Hopfield N=128, P=8, beta=2", mc.Posterior(hop, mc.VP(), rng.standard_normal(128), 1.0), 1000
    gm = mc.GaussianMixture.two_class(1.0, variance=1.0, n_dim=64)
    yield "two-class mixture N=64 (MALA)", mc.Posterior(gm, mc.VP(), rng.standard_normal(64), 1.0), 2000


def family_of(post):
    """The chains ``mc.sample`` builds for ``post`` with its defaults (taken from a short call)."""
    seen = []
    original = S._Family.run

    def grab(self, *args):
        seen.append(self)
        return original(self, *args)

    S._Family.run = grab
    try:
        res = mc.sample(post, n_sweeps=8, burn_in=4, seed=0, progress=False, store="summary")
    finally:
        S._Family.run = original
    return seen[0], res


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller lattice, fewer sweeps")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # short runs: MixingWarning / ShortChainWarning are expected
    print(f"# {platform.machine()}, Python {platform.python_version()}, numba {numba.__version__}; "
          "process CPU time, best of alternating rounds")
    print(f"{'posterior':32s} {'method':>9s} {'R x K':>6s} {'N':>6s} {'bare ns':>8s} {'api ns':>8s} "
          f"{'api/bare':>8s} {'fixed ms':>9s} {'first s':>8s}")
    started = time.perf_counter()
    for name, post, sweeps in cases(args.quick):
        t0 = time.process_time()
        fam, res = family_of(post)
        first = time.process_time() - t0
        n_rep, k, n = res.n_replicas, res.ladder.n_rungs, post.n_dim
        attempts = n_rep * k * n
        rng = seed_states([np.random.SeedSequence(r) for r in range(n_rep)])

        def api(n_sweeps):
            return lambda: mc.sample(post, n_sweeps=n_sweeps, seed=0, progress=False, store="summary")

        best = interleaved_best({"bare": cpu_timed(lambda: fam.run(sweeps, 1, 0, rng)),
                                 "short": cpu_timed(api(sweeps)), "long": cpu_timed(api(2 * sweeps))}, args.repeat)
        per_sweep_api = (best["long"] - best["short"]) / (1.25 * sweeps)
        per_sweep_bare = best["bare"] / sweeps
        fixed = best["short"] - 1.25 * sweeps * per_sweep_api
        print(f"{name:32s} {res.method:>9s} {f'{n_rep}x{k}':>6s} {n:6d} {per_sweep_bare / attempts * 1e9:8.2f} "
              f"{per_sweep_api / attempts * 1e9:8.2f} {per_sweep_api / per_sweep_bare:8.2f} {fixed * 1e3:9.1f} "
              f"{first:8.2f}", flush=True)
    print("# ns per attempt: per spin-flip attempt; for a continuous posterior per chain move and coordinate. "
          "api/bare: marginal cost of mc.sample over its kernel (goal <= 1.2); fixed: per call; first: first "
          "call of the process")
    print(f"# total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
