"""Dense couplings at large N: float64 vs float32 couplings, chains one at a time vs in lockstep.

At large N the dense kernel ``mc.kernels.spins.run_dense`` is bound by memory: an accepted flip
of spin i adds ``2 sigma_i w[i, :]`` to the N local fields, reading one row of ``w = beta W``
(8 N bytes in float64, 4 N in float32) that is rarely in cache, while the K rows of local fields
(8 N K bytes) stay in cache. This script measures the two ways of moving fewer bytes per flip:

* float32 couplings (``IsingPrior(couplings_dtype="float32")``: the model is defined by the
  float32 numbers, so nothing is approximated in the sampled law);
* lockstep: the K rungs of a replica attempt the same site at each step, so one row read serves
  every rung that flips that site.

Model: the posterior of an SK prior (beta = 1, J = 1, ``seed=0``) given a quenched x_t of the VP
process at t = 1 from a uniform x0 (as ``bench_kernels.py``), from the signs of the observation.
Contenders, per N and update rule (Metropolis, heat bath), random sites, one core, one replica:

* K = 8 rungs of a Hamiltonian ladder from 1 down to 0.3 (geometric), exchanges off so that only
  sweeps are timed: "chain by chain" runs ``run_dense`` on each rung's chain alone (K calls
  with one rung: the memory traffic of the kernel before lockstep, every accepted flip reading
  its row), "lockstep" the K chains in one call; float64 and float32 couplings;
* K = 1 (no ladder): float64 and float32 (lockstep changes nothing there).

Columns: process CPU ns per spin-flip attempt (best of ``--repeat`` rounds of alternating calls,
``timing.interleaved_best``), speed-up against the float64 chain-by-chain row, flip rate
(accepted / attempted, all rungs), and coupling bytes read from memory per accepted flip: the row
size for chains one at a time; in lockstep the row size times ``P(some rung flips) / sum_k a_k``
for flip rates ``a_k`` of the rungs at a site, estimated as if the rungs flipped independently
(marked ``~``). The local fields are recomputed every ``DENSE_REFRESH_SWEEPS`` = 1000 sweeps,
outside the timed runs here (under 1% of 1000 sweeps).

    python benchmarks/bench_dense.py [--quick] [--repeat 3]

The full run (N = 1000, 4000, 10000) takes under 2 minutes on a 2-core machine and 2.8 GB of
memory at its peak (building the N = 10^4 couplings); ``--quick`` (N = 500, 1000, 2000) about
20 s.

Result (N = 10^4, 8 rungs, this machine: 4 MiB L2 per core): float64 chain by chain 4394 ns
per attempt (Metropolis) and 3440 (heat bath); float32 alone 1.23x and 1.34x faster, lockstep
alone 2.33x and 2.14x, both 3.13x and 3.15x (1404 and 1091 ns). One rung: float32 1.38x and
1.36x. Coupling bytes per accepted flip fall 8.6-fold with both, time only 3.1-fold: the
read-modify-write of the local fields (16 N bytes per flip, in cache) is then a large part.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import mc  # noqa: E402
from mc.kernels import spins as ks  # noqa: E402
from mc.kernels.rng import seed_states  # noqa: E402
from timing import cpu_timed, interleaved_best  # noqa: E402

SIZES = {False: (1000, 4000, 10_000), True: (500, 1000, 2000)}
#: Target CPU seconds of one timed call, normal and --quick.
BUDGET = {False: 0.4, True: 0.05}
RUNGS = 8
LOWEST_BETA = 0.3
WARM_SWEEPS = 3


def couplings(n):
    """Field arrays and the float64 / float32 kernel couplings of the SK posterior at dimension n."""
    prior = mc.IsingPrior.sherrington_kirkpatrick(n, beta=1.0, seed=0)
    state = mc.draw_quenched(prior, mc.VP(), 1.0, seed=1, source=mc.IsingPrior.curie_weiss(n, beta=0.0))
    post = mc.Posterior(prior, mc.VP(), state.x_t, 1.0)
    b = np.ascontiguousarray(prior.field, dtype=np.float64)
    h = np.ascontiguousarray(post.field, dtype=np.float64)
    w64 = prior.spin_kernel().couplings
    del prior, post, state
    w32 = mc.IsingPrior(w64, beta=1.0, couplings_dtype="float32").spin_kernel().couplings
    return b, h, w64, w32


class Chains:
    """``run_dense`` on one replica of the given rungs (``betas``), exchanges off."""

    def __init__(self, w, b, h, betas, heat_bath, seed):
        n, k = w.shape[0], len(betas)
        self.w, self.b, self.h, self.heat_bath, self.n, self.k = w, b, h, heat_bath, n, k
        self.theta = np.ascontiguousarray(np.stack([betas, betas], axis=1), dtype=np.float64)
        self.spins = np.tile(np.where(h >= 0, 1, -1).astype(np.int8), (1, k, 1))
        self.lf = np.zeros(self.spins.shape)
        ks.local_fields_dense(self.spins, w, self.lf)
        self.rung_of = np.arange(k, dtype=np.int64)[None, :].copy()
        self.chain_at = self.rung_of.copy()
        self.rng = seed_states([np.random.SeedSequence(seed)])
        self.flips = np.zeros((1, k), dtype=np.int64)
        self.sweeps = np.zeros((1, k), dtype=np.int64)
        self.phi = np.zeros((1, k, 2))
        self.ex_att = np.zeros((1, 2 * k + 2), dtype=np.int64)
        self.ex_acc = np.zeros((1, max(k - 1, 0)), dtype=np.int64)

    def run(self, n_sweeps):
        # sweep0 = 1 and a period of 10^9: neither an exchange round nor a recomputation is timed
        ks.run_dense(self.spins, self.lf, self.w, self.b, self.h, self.theta, self.rung_of, self.chain_at, n_sweeps,
                     self.heat_bath, True, 10**9, 1, self.rng, self.flips, self.sweeps, self.phi, self.ex_att,
                     self.ex_acc, 10**9)

    def reset(self):
        self.flips[...] = 0
        self.sweeps[...] = 0

    def rates(self):
        return self.flips[0] / np.maximum(self.sweeps[0] * self.n, 1)


class Contender:
    """K rungs either in one lockstep call or as K one-rung runs (``chain_by_chain``)."""

    def __init__(self, w, b, h, betas, heat_bath, chain_by_chain):
        if chain_by_chain:
            self.parts = [Chains(w, b, h, betas[k : k + 1], heat_bath, seed=k) for k in range(len(betas))]
        else:
            self.parts = [Chains(w, b, h, betas, heat_bath, seed=0)]
        self.lockstep = not chain_by_chain and len(betas) > 1
        self.row_bytes = w.shape[0] * w.itemsize
        self.attempts_per_sweep = w.shape[0] * len(betas)

    def run(self, n_sweeps):
        for part in self.parts:
            part.run(n_sweeps)

    def reset(self):
        for part in self.parts:
            part.reset()

    def rates(self):
        return np.concatenate([part.rates() for part in self.parts])

    def bytes_per_flip(self):
        """Coupling bytes per accepted flip (lockstep: estimated as if the rungs flipped independently)."""
        a = self.rates()
        if not self.lockstep or a.sum() == 0:
            return float(self.row_bytes), False
        return self.row_bytes * (1.0 - np.prod(1.0 - a)) / a.sum(), True


def calibrate(contender, budget):
    """Sweeps per timed call filling about ``budget`` CPU seconds (after one sweep that compiles or
    loads the kernel, timed over the warm-up sweeps)."""
    contender.run(1)
    t0 = time.process_time()
    contender.run(WARM_SWEEPS)
    one = max((time.process_time() - t0) / WARM_SWEEPS, 1e-9)
    return max(1, int(round(budget / one)))


HEAD = (f"{'N':>6s} {'update':>10s}  {'K':>2s} {'couplings':9s} {'chains':13s} {'ns/attempt':>10s} {'speed-up':>8s} "
        f"{'flips':>6s} {'B/flip':>8s}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 500, 1000, 2000 (under a minute)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of alternating calls (default 3)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numba {version('numba')}, numpy {np.__version__}")
    print(f"# SK posterior (beta = 1, VP t = 1), random sites, 1 core; process CPU ns per spin-flip attempt, best of "
          f"{args.repeat}; K = {RUNGS}: Hamiltonian ladder 1 .. {LOWEST_BETA}, exchanges off; speed-up against "
          "float64 chain by chain (same N, update, K); B/flip = coupling bytes read per accepted flip "
          "(~: estimated for lockstep)")
    betas = np.geomspace(1.0, LOWEST_BETA, RUNGS)
    for n in SIZES[args.quick]:
        b, h, w64, w32 = couplings(n)
        print(f"# N = {n}: couplings {w64.nbytes / 2**20:.0f} MiB in float64, {w32.nbytes / 2**20:.0f} MiB in "
              f"float32; local fields {8 * n * RUNGS / 2**10:.0f} KiB for {RUNGS} chains")
        print(HEAD)
        for method in ("metropolis", "heat_bath"):
            hb = method == "heat_bath"
            contenders = {}
            for k, ladder in ((RUNGS, betas), (1, betas[:1])):
                for dtype, w in (("float64", w64), ("float32", w32)):
                    for by_chain in ((True, False) if k > 1 else (True,)):
                        contenders[(k, dtype, by_chain)] = Contender(w, b, h, ladder, hb, by_chain)
            sweeps = {}
            for key, con in contenders.items():
                sweeps[key] = calibrate(con, BUDGET[args.quick])
                con.reset()
            best = interleaved_best({key: cpu_timed(lambda c=con, s=sweeps[key]: c.run(s))
                                     for key, con in contenders.items()}, args.repeat)
            for key, con in contenders.items():
                k, dtype, by_chain = key
                ns = 1e9 * best[key] / (sweeps[key] * con.attempts_per_sweep)
                ref = 1e9 * best[(k, "float64", True)] / (sweeps[(k, "float64", True)] * con.attempts_per_sweep)
                bpf, est = con.bytes_per_flip()
                chains = "one" if k == 1 else ("chain by chain" if by_chain else "lockstep")
                bpf_s = f"{'~' if est else ''}{bpf:.0f}"
                print(f"{n:6d} {method:>10s}  {k:2d} {dtype:9s} {chains:13s} {ns:10.1f} {ref / ns:8.2f} "
                      f"{con.rates().mean():6.3f} {bpf_s:>8s}")
                sys.stdout.flush()
        del b, h, w64, w32, contenders
    print(f"# total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
