"""Throughput of the Monte Carlo kernels against plain C, NumPy and PeaPods.

Prints one table (best of ``--repeat`` timings; all ratios come from the same run, because
speeds on a shared machine drift between runs):

1. ns per spin-flip attempt of ``mc.kernels.spins.run_curie_weiss`` and ``run_dense`` (SK) at
   N = 1000 and 10000, Metropolis and heat bath, 1 and 4 replicas, one rung, on the posterior
   of a beta = 1 prior given a quenched x_t of the VP process at t = 1 (field ``h = a x_t / D``),
   with the flip rate of the same run (``exp`` is evaluated on uphill moves only, so the cost
   depends on it);
2. the Curie-Weiss Metropolis kernel against a straightforward NumPy implementation (Python loop
   over sites, sites and uniforms drawn per sweep by ``numpy.random.Generator``);
3. the same kernel against ``cw_metropolis.c``, compiled into a temporary directory with
   ``cc -O3 -march=native`` (skipped without a compiler): same N, fields, beta, initial spins,
   xoshiro256** state and number of sweeps, so both run the same chain (checked: same number of
   flips and final magnetisation);
4. ns per gradient per coordinate of MALA and HMC (``run_continuous``, built-in mixture prior)
   on the posterior of the two-class Gaussian mixture, and of a vectorised NumPy MALA step;
5. the 2D lattice ferromagnet at zero field, L = 128, single-spin Metropolis on one core: the
   kernel the sampler picks for it, ``mc.kernels.lattice.run_lattice`` (fixed-degree neighbour
   tables, integer local sums, tabulated acceptances), and the generic ``run_sparse`` (CSR
   neighbour lists, one ``exp`` per uphill move), against PeaPods (optional:
   ``pip install peapods``, skipped when absent), ``Ising((L, L), couplings="ferro",
   temperatures=[T], n_replicas=1)`` swept by ``sample(n, sweep_mode="metropolis",
   sequential=True, warmup_ratio=1.0)`` (sweeps only, no measurement) with
   ``RAYON_NUM_THREADS=1``. PeaPods visits the sites in typewriter order, so ours is compared in
   that order too (``run_lattice`` is also shown with random sites); all start from the same
   number of sweeps after a random configuration, and the bond energies are printed as a check
   that they sample the same law;
6. the same lattice as a diffusion posterior (field ``h`` from a planted x_t, VP, t = 1), the
   ferromagnet at T = 2.27 and a +-J Edwards-Anderson glass at T = 1.5, Metropolis and heat bath:
   ``run_lattice`` (field table) against ``run_sparse``.

Contenders of a comparison are timed in alternation (one run of each per round).

    python benchmarks/bench_kernels.py [--quick] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mc  # noqa: E402
from mc.kernels import continuous as kc  # noqa: E402
from mc.kernels import lattice as kl  # noqa: E402
from mc.kernels import spins as ks  # noqa: E402
from mc.kernels.rng import normal_spares, seed_states  # noqa: E402
from mc.models.lattice import LatticeIsingPrior  # noqa: E402
from mc.sampler import Ladder, _builtin_prior, _SpinFamily  # noqa: E402
from timing import best_of, interleaved_best  # noqa: E402

HERE = Path(__file__).resolve().parent
PROCESS = mc.VP()
T_DIFFUSION = 1.0
#: Target duration of one timed run (seconds), normal and --quick.
BUDGET = {False: 0.4, True: 0.04}


# ---------------------------------------------------------------------------------------------
# timing helpers
def calibrate(run, budget, minimum=1):
    """Call ``run(1)`` (compiles and warms up), then the number of units filling ``budget`` s."""
    run(1)
    t0 = time.perf_counter()
    run(1)
    one = max(time.perf_counter() - t0, 1e-9)
    return max(minimum, int(budget / one))


def chain_arrays(n_rep, n_rung=1, seed=0):
    """Bookkeeping arrays of the kernels for ``n_rep`` replicas of one rung (theta = (1, 1))."""
    return {
        "theta": np.ones((n_rung, 2)),
        "rung_of": np.zeros((n_rep, n_rung), dtype=np.int64),
        "chain_at": np.zeros((n_rep, n_rung), dtype=np.int64),
        "rng": seed_states([np.random.SeedSequence(seed, spawn_key=(r,)) for r in range(n_rep)]),
        "acc": np.zeros((n_rep, n_rung), dtype=np.int64),
        "att": np.zeros((n_rep, n_rung), dtype=np.int64),
        "phi": np.zeros((n_rep, n_rung, 2)),
        "ex_att": np.zeros((n_rep, n_rung - 1), dtype=np.int64),
        "ex_acc": np.zeros((n_rep, n_rung - 1), dtype=np.int64),
    }


# ---------------------------------------------------------------------------------------------
# spin posteriors (arrays built as mc.sampler._SpinFamily builds them)
def spin_posterior(kind, n):
    """Posterior of a beta = 1 Curie-Weiss or SK prior given a quenched x_t at t = 1.

    Curie-Weiss: x0 drawn from the prior (planted). SK: x0 uniform in {-1, 1}^N (the SK prior has
    no exact sampler at these N).
    """
    if kind == "cw":
        prior = mc.IsingPrior.curie_weiss(n, J=1.0, beta=1.0)
        source = "prior"
    else:
        prior = mc.IsingPrior.sherrington_kirkpatrick(n, beta=1.0, seed=0)
        source = mc.IsingPrior.curie_weiss(n, beta=0.0)  # x0 uniform in {-1, 1}^N
    state = mc.draw_quenched(prior, PROCESS, T_DIFFUSION, seed=1, source=source)
    return mc.Posterior(prior, PROCESS, state.x_t, T_DIFFUSION)


class SpinRun:
    """One spin kernel with its arrays; ``run(n_sweeps)`` sweeps every replica."""

    def __init__(self, post, kind, n_rep, heat_bath, random_order=True, w=None, seed=0):
        prior = post.model
        n = post.n_dim
        self.kind, self.n, self.n_rep = kind, n, n_rep
        self.heat_bath, self.random_order = heat_bath, random_order
        self.b = np.ascontiguousarray(prior.field, dtype=np.float64)
        self.h = np.ascontiguousarray(post.field, dtype=np.float64)
        self.a = chain_arrays(n_rep, seed=seed)
        # start from the signs of the observation (the sampler's init="observation")
        s0 = np.where(self.h >= 0, 1, -1).astype(np.int8)
        self.spins = np.tile(s0, (n_rep, 1, 1))
        if kind == "cw":
            self.jn = prior.beta * prior.J / n
            self.mag = self.spins.sum(axis=2, dtype=np.int64)
        elif kind in ("sparse", "lattice"):
            mat = prior.sparse_couplings
            self.indptr = np.ascontiguousarray(mat.indptr, dtype=np.int64)
            self.indices = np.ascontiguousarray(mat.indices, dtype=np.int64)
            self.weights = np.ascontiguousarray(mat.data * prior.beta, dtype=np.float64)
            if kind == "lattice":
                self.nbrs, self.sgns, self.g = kl.neighbour_table(self.indptr, self.indices, self.weights)
                self.table, self.thresholds, self.ftab = kl.acceptance_tables(
                    self.a["theta"], self.g, len(self.nbrs), self.b, self.h, heat_bath)
        else:
            self.w = w if w is not None else np.ascontiguousarray(prior.couplings * prior.beta, dtype=np.float64)
            self.lf = np.zeros(self.spins.shape)
            ks.local_fields_dense(self.spins, self.w, self.lf)

    def run(self, n_sweeps):
        a = self.a
        common = (a["theta"], a["rung_of"], a["chain_at"], n_sweeps, self.heat_bath, self.random_order, 1, 0,
                  a["rng"], a["acc"], a["att"], a["phi"], a["ex_att"], a["ex_acc"])
        if self.kind == "cw":
            ks.run_curie_weiss(self.spins, self.mag, self.jn, self.b, self.h, *common)
        elif self.kind == "sparse":
            ks.run_sparse(self.spins, self.indptr, self.indices, self.weights, self.b, self.h, *common)
        elif self.kind == "lattice":
            kl.run_lattice(self.spins, self.nbrs, self.sgns, self.g, self.b, self.h, self.table, self.thresholds,
                           self.ftab, *common)
        else:
            ks.run_dense(self.spins, self.lf, self.w, self.b, self.h, *common)

    def flip_rate(self):
        """Flipped fraction of the attempts counted since the last reset."""
        return self.a["acc"].sum() / max(self.a["att"].sum() * self.n, 1)

    def reset_counters(self):
        self.a["acc"][...] = 0
        self.a["att"][...] = 0


def time_spin(runner, budget, repeat):
    """ns per attempt (best of ``repeat``) and the flip rate over the timed sweeps."""
    n_sweeps = calibrate(runner.run, budget)
    runner.run(n_sweeps)  # equilibrate the flip rate from the initial state
    runner.reset_counters()
    sec = best_of(lambda: runner.run(n_sweeps), repeat)
    return 1e9 * sec / (n_sweeps * runner.n * runner.n_rep), runner.flip_rate()


# ---------------------------------------------------------------------------------------------
# Curie-Weiss Metropolis references: NumPy loop and plain C
class NumpyCurieWeiss:
    """Curie-Weiss Metropolis in Python/NumPy: the rule of ``run_curie_weiss`` (one rung), with a
    Python loop over sites and the N sites and N uniforms of a sweep drawn by a NumPy Generator."""

    def __init__(self, spins, jn, b, h, seed=0):
        self.spins = np.array(spins, dtype=np.int8)
        self.m = int(self.spins.sum(dtype=np.int64))
        self.jn, self.b, self.h = jn, b, h
        self.gen = np.random.default_rng(seed)
        self.flips = self.attempts = 0

    def run(self, n_sweeps):
        spins, b, h, jn, gen = self.spins, self.b, self.h, self.jn, self.gen
        n = spins.size
        m = self.m
        for _ in range(n_sweeps):
            sites = gen.integers(0, n, size=n)
            u = gen.random(n)
            for k in range(n):
                i = sites[k]
                si = int(spins[i])
                f = jn * (m - si) + b[i] + h[i]
                d = -2.0 * si * f
                if d >= 0.0 or u[k] < np.exp(d):
                    spins[i] = -si
                    m -= 2 * si
                    self.flips += 1
        self.m = m
        self.attempts += n_sweeps * n


def compile_c(workdir):
    """Compile ``cw_metropolis.c``; return (executable, description) or (None, reason)."""
    found = [shutil.which(c) for c in (os.environ.get("CC"), "cc", "gcc", "clang") if c]
    cc = next((c for c in found if c), None)
    if cc is None:
        return None, "no C compiler found (cc, gcc, clang or $CC)"
    exe = os.path.join(workdir, "cw_metropolis")
    # -ffp-contract=off: no fused multiply-add, so the C chain rounds as the Numba one does
    for flags in (["-O3", "-march=native", "-ffp-contract=off"], ["-O3", "-ffp-contract=off"], ["-O3"]):
        proc = subprocess.run([cc, *flags, "-o", exe, str(HERE / "cw_metropolis.c"), "-lm"],
                              capture_output=True, text=True)
        if proc.returncode == 0:
            version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
            return exe, f"{' '.join([os.path.basename(cc), *flags])} ({version.strip()})"
    return None, f"compilation failed: {proc.stderr.strip()[:200]}"


class SameChain:
    """The Numba kernel and the C loop on the same chain: same fields, jn, initial spins,
    xoshiro256** state and number of sweeps (one replica, one rung, random sites, Metropolis)."""

    def __init__(self, post, n_sweeps, exe=None, workdir=None):
        self.runner = SpinRun(post, "cw", 1, heat_bath=False, seed=7)
        self.n_sweeps = n_sweeps
        self.s0 = self.runner.spins[0, 0].copy()
        self.state0 = self.runner.a["rng"][0].copy()
        self.runner.run(1)  # compile
        self.c_out = None
        if exe is not None:
            r = self.runner
            path = os.path.join(workdir, f"cw_{r.n}.bin")
            with open(path, "wb") as fh:
                fh.write(r.b.tobytes() + r.h.tobytes() + self.s0.tobytes())
            self.cmd = [exe, path, str(r.n), str(n_sweeps), repr(r.jn), "1.0", "1.0",
                        *[str(int(v)) for v in self.state0]]

    def numba(self):
        r = self.runner
        r.spins[0, 0] = self.s0
        r.mag[...] = int(self.s0.sum())
        r.a["rng"][0] = self.state0
        r.reset_counters()
        t0 = time.perf_counter()
        r.run(self.n_sweeps)
        return time.perf_counter() - t0

    def c(self):
        """Seconds measured inside the C program (process start-up excluded)."""
        self.c_out = subprocess.run(self.cmd, capture_output=True, text=True, check=True).stdout.split()
        return float(self.c_out[0]) * 1e-9 * self.n_sweeps * self.runner.n

    def same(self):
        """Whether the last C run made the same flips and ended at the same magnetisation."""
        r = self.runner
        return int(self.c_out[1]) == int(r.a["acc"].sum()) and int(self.c_out[2]) == int(r.mag[0, 0])


# ---------------------------------------------------------------------------------------------
# continuous posteriors: MALA / HMC
class ContinuousRun:
    """``run_continuous`` on the two-class Gaussian-mixture posterior, one replica, one rung."""

    TARGET = {kc.MALA: 0.574, kc.HMC: 0.7}

    def __init__(self, n, method, n_leapfrog=10):
        model = mc.GaussianMixture.two_class(1.0, 1.0, n_dim=n)
        state = mc.draw_quenched(model, PROCESS, T_DIFFUSION, seed=1)
        post = mc.Posterior(model, PROCESS, state.x_t, T_DIFFUSION)
        self.post, self.n, self.method, self.n_leapfrog = post, n, method, n_leapfrog
        self.f, self.params = _builtin_prior(model)
        self.y = np.ascontiguousarray(post.y, dtype=np.float64)
        self.inv_s = 1.0 / post.s
        self.a = chain_arrays(1)
        self.spare = normal_spares(1)
        self.x = np.tile(post.y / (1.0 + post.s), (1, 1, 1))
        self.lp = np.zeros((1, 1))
        self.gp = np.zeros((1, 1, n))
        kc.init_prior_terms(self.f, self.params, self.x, self.lp, self.gp)
        # the sampler's initial step size
        scale = np.sqrt(post.s / (1.0 + post.s)) * (1.0 if method == kc.HMC else n ** (-1.0 / 6.0))
        self.eps = np.full((1, 1), 0.5 * scale)  # (R, K)

    def run(self, n_sweeps):
        a = self.a
        kc.run_continuous(self.x, self.lp, self.gp, self.f, self.params, self.y, self.inv_s, a["theta"],
                          a["rung_of"], a["chain_at"], self.method, self.eps, self.n_leapfrog, n_sweeps, 1, 0,
                          a["rng"], self.spare, a["acc"], a["att"], a["phi"], a["ex_att"], a["ex_acc"])

    def adapt(self, rounds=30, chunk=20):
        """Burn-in with the sampler's step-size rule towards its target acceptance."""
        target = self.TARGET[self.method]
        for k in range(1, rounds + 1):
            self.reset_counters()
            self.run(chunk)
            rate = self.acceptance()
            self.eps *= np.exp(np.clip((rate - target) * 2.0 / np.sqrt(k), -1.0, 1.0))
        self.reset_counters()

    def acceptance(self):
        return self.a["acc"].sum() / max(self.a["att"].sum(), 1)

    def reset_counters(self):
        self.a["acc"][...] = 0
        self.a["att"][...] = 0

    @property
    def grads_per_sweep(self):
        return self.n_leapfrog if self.method == kc.HMC else 1


class NumpyMala:
    """Vectorised NumPy MALA on the diagonal Gaussian-mixture posterior (rung theta = (1, 1))."""

    def __init__(self, post, x, eps, seed=0):
        model = post.model
        self.means = model.means
        self.inv_var = 1.0 / model.eigenvalues
        self.log_coef = np.log(model.weights) - 0.5 * np.sum(np.log(2.0 * np.pi * model.eigenvalues), axis=1)
        self.y, self.inv_s = post.y, 1.0 / post.s
        self.eps = eps
        self.gen = np.random.default_rng(seed)
        self.x = np.array(x, dtype=np.float64)
        self.lp, self.g = self.log_target_grad(self.x)
        self.accepted = self.attempts = 0

    def log_target_grad(self, z):
        """``log pi(z)`` (up to a constant) and its gradient."""
        d = z - self.means
        logs = self.log_coef - 0.5 * np.einsum("ki,ki->k", d * d, self.inv_var)
        top = logs.max()
        w = np.exp(logs - top)
        total = w.sum()
        r = self.y - z
        grad = -((w / total) @ (d * self.inv_var)) + r * self.inv_s
        return top + np.log(total) - 0.5 * self.inv_s * np.dot(r, r), grad

    def run(self, n_steps):
        eps, gen = self.eps, self.gen
        x, lp, g = self.x, self.lp, self.g
        for _ in range(n_steps):
            xi = gen.standard_normal(x.size)
            xn = x + 0.5 * eps * eps * g + eps * xi
            lpn, gn = self.log_target_grad(xn)
            back = x - xn - 0.5 * eps * eps * gn
            log_ratio = lpn - lp + 0.5 * np.dot(xi, xi) - 0.5 * np.dot(back, back) / (eps * eps)
            if log_ratio >= 0.0 or gen.random() < np.exp(log_ratio):
                x, lp, g = xn, lpn, gn
                self.accepted += 1
        self.x, self.lp, self.g = x, lp, g
        self.attempts += n_steps


# ---------------------------------------------------------------------------------------------
# PeaPods (optional)
def peapods_model(side, temperature):
    """A PeaPods 2D ferromagnet at one temperature, or None when PeaPods is not installed."""
    os.environ["RAYON_NUM_THREADS"] = "1"  # read when its thread pool starts: one core
    try:
        from peapods import Ising
    except ImportError:
        return None
    return Ising((side, side), couplings="ferro", temperatures=np.array([temperature]), n_replicas=1)


def peapods_sweeps(model, n_sweeps, measure=False):
    """Single-spin Metropolis sweeps in typewriter order; ``measure`` records the energy."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        model.sample(n_sweeps, sweep_mode="metropolis", sequential=True, warmup_ratio=0.0 if measure else 1.0)


# ---------------------------------------------------------------------------------------------
class Table:
    HEAD = f"{'kernel':28s} {'N':>6s} {'R':>2s} {'update':>11s} {'ns':>9s} {'acc':>6s}  comparison"

    def __init__(self):
        print(self.HEAD)

    def section(self, title):
        print(f"-- {title}")
        sys.stdout.flush()

    def row(self, kernel, n, r, update, ns, acc, comparison=""):
        acc_s = f"{acc:6.3f}" if acc is not None else f"{'':6s}"
        print(f"{kernel:28s} {n:6d} {r:2d} {update:>11s} {ns:9.2f} {acc_s}  {comparison}".rstrip())
        sys.stdout.flush()


def bench_spins(tab, quick, budget, repeat):
    """Section 1: every spin kernel, update rule and replica count."""
    tab.section(f"spin sweeps, ns per attempt; beta = 1 prior, field h from x_t (VP, t = {T_DIFFUSION:g}), "
                "random sites, 1 rung; acc = flip rate")
    for kind, label, sizes in [("cw", "Curie-Weiss run_curie_weiss", [1000, 10_000]),
                               ("dense", "SK run_dense", [1000] if quick else [1000, 10_000])]:
        for n in sizes:
            post = spin_posterior(kind, n)
            w = None
            if kind == "dense":
                w = np.ascontiguousarray(post.model.couplings * post.model.beta, dtype=np.float64)
            for method in ("metropolis", "heat_bath"):
                for n_rep in (1, 4):
                    runner = SpinRun(post, kind, n_rep, heat_bath=method == "heat_bath", w=w)
                    ns, acc = time_spin(runner, budget, repeat)
                    tab.row(label, n, n_rep, method, ns, acc)
            del post, w


def bench_cw_references(tab, quick, repeat, summary):
    """Sections 2-3: Curie-Weiss Metropolis, Numba vs plain C (same chain) and a NumPy loop."""
    tab.section("Curie-Weiss Metropolis, 1 replica, random sites, N sweeps from sign(h): Numba kernel vs "
                "C (same chain) and a NumPy loop (timed in alternation)")
    with tempfile.TemporaryDirectory() as workdir:
        exe, how = compile_c(workdir)
        print(f"   C: {how}" if exe is not None else f"   C reference skipped: {how}")
        if exe is None:
            summary.append(f"C reference skipped: {how}")
        for n in (1000, 10_000):
            post = spin_posterior("cw", n)
            n_sweeps = max(1, int((2e5 if quick else 2e7) / n))
            pair = SameChain(post, n_sweeps, exe, workdir)
            contenders = {"numba": pair.numba}
            if exe is not None:
                contenders["c"] = pair.c
            np_sweeps = 0
            if n == 1000:
                pair.numba()  # its final state is an equilibrated start for the NumPy loop
                r = pair.runner
                ref = NumpyCurieWeiss(r.spins[0, 0], r.jn, r.b, r.h)
                np_sweeps = 2 if quick else 10
                contenders["numpy"] = lambda: ref.run(np_sweeps)
            best = interleaved_best(contenders, repeat)
            ns_numba = 1e9 * best["numba"] / (n_sweeps * n)
            acc = pair.runner.flip_rate()
            tab.row("Numba run_curie_weiss", n, 1, "metropolis", ns_numba, acc)
            if exe is not None:
                ns_c = 1e9 * best["c"] / (n_sweeps * n)
                tab.row("C cw_metropolis.c", n, 1, "metropolis", ns_c, acc,
                        f"Numba/C = {ns_numba / ns_c:.2f}; same chain: {'yes' if pair.same() else 'NO'}")
                summary.append(f"Curie-Weiss Metropolis N={n}: Numba/C = {ns_numba / ns_c:.2f} (target <= 1.2)")
            if np_sweeps:
                ns_np = 1e9 * best["numpy"] / (np_sweeps * n)
                tab.row("NumPy loop over sites", n, 1, "metropolis", ns_np, ref.flips / ref.attempts,
                        f"Numba speed-up = {ns_np / ns_numba:.0f}x")
                summary.append(f"Curie-Weiss Metropolis N={n}: Numba speed-up over the NumPy loop = "
                               f"{ns_np / ns_numba:.0f}x")


def bench_continuous(tab, quick, budget, repeat, summary):
    """Section 4: MALA and HMC kernels and a vectorised NumPy MALA (timed in alternation)."""
    tab.section("gradient moves, ns per gradient per coordinate; two-class Gaussian mixture (mu = 1, var = 1), "
                f"x_t at VP t = {T_DIFFUSION:g}, 1 chain, step sizes adapted; acc = acceptance")
    for n in (50, 1000):
        mala = ContinuousRun(n, kc.MALA)
        hmc = ContinuousRun(n, kc.HMC)
        contenders, units = {}, {}
        for name, run in (("mala", mala), ("hmc", hmc)):
            run.adapt()
            n_sweeps = calibrate(run.run, budget)
            run.reset_counters()
            contenders[name] = (lambda run=run, k=n_sweeps: run.run(k))
            units[name] = n_sweeps * run.grads_per_sweep * n
        ref = NumpyMala(mala.post, mala.x[0, 0], float(mala.eps[0, 0]))
        np_steps = 200 if quick else 2000
        contenders["numpy"] = lambda: ref.run(np_steps)
        units["numpy"] = np_steps * n
        best = interleaved_best(contenders, repeat)
        ns = {name: 1e9 * best[name] / units[name] for name in best}
        tab.row("Numba run_continuous", n, 1, "mala", ns["mala"], mala.acceptance())
        tab.row("Numba run_continuous", n, 1, "hmc L=10", ns["hmc"], hmc.acceptance())
        tab.row("NumPy vectorised MALA", n, 1, "mala", ns["numpy"], ref.accepted / ref.attempts,
                f"Numba MALA speed-up = {ns['numpy'] / ns['mala']:.1f}x")
        summary.append(f"MALA N={n}: Numba speed-up over vectorised NumPy = {ns['numpy'] / ns['mala']:.1f}x")


def sampler_kernel(post, method="metropolis"):
    """The spin kernel ``mc.sample`` would run on ``post`` (``_SpinFamily.kind``)."""
    init = np.ones((1, 1, post.n_dim))
    return _SpinFamily(post, Ladder.make(), 1, method, "sequential", init).kind


def bench_lattice(tab, quick, repeat, summary):
    """Section 5: 2D ferromagnet at zero field, ours (run_lattice, run_sparse) vs PeaPods, in alternation."""
    side = 128
    n = side * side
    warm = 50 if quick else 300
    n_sweeps = 20 if quick else 200
    tab.section(f"2D Ising ferromagnet L = {side}, h = 0, single-spin Metropolis, 1 core, ns per attempt; "
                f"{warm} untimed sweeps from a random start first")
    for temp in (2.0, 2.27, 3.0):
        prior = LatticeIsingPrior.ferromagnet(side, 2, beta=1.0 / temp)
        post = mc.Posterior(prior, PROCESS, np.zeros(n), T_DIFFUSION)  # x_t = 0: field h = 0
        assert sampler_kernel(post) == "tabulated"
        start = np.where(np.random.default_rng(3).random(n) < 0.5, 1, -1).astype(np.int8)
        contenders, runners = {}, {}
        for name, kind, order in (("lattice", "lattice", "typewriter"), ("lattice random", "lattice", "random"),
                                  ("sparse", "sparse", "typewriter")):
            runner = SpinRun(post, kind, 1, heat_bath=False, random_order=order == "random")
            runner.spins[...] = start
            runner.run(warm)
            runner.reset_counters()
            runners[name] = (runner, order)
            contenders[name] = (lambda runner=runner: runner.run(n_sweeps))
        model = peapods_model(side, temp)
        if model is not None:
            peapods_sweeps(model, warm)
            contenders["peapods"] = lambda: peapods_sweeps(model, n_sweeps)
        best = interleaved_best(contenders, repeat)
        ns = {name: 1e9 * best[name] / (n_sweeps * n) for name in best}
        bonds = {}
        for name, (runner, order) in runners.items():
            phi = np.zeros((1, 1, 2))
            ks.features_sparse(runner.spins, runner.indptr, runner.indices, runner.weights, runner.b, runner.h, phi)
            bonds[name] = phi[0, 0, 0] * temp / n
            kernel = "run_sparse" if runner.kind == "sparse" else "run_lattice"
            note = f"run_sparse/run_lattice = {ns['sparse'] / ns['lattice']:.2f}" if name == "sparse" else ""
            tab.row(f"Numba {kernel} T={temp:g}", n, 1, order, ns[name], runner.flip_rate(), note)
        if model is None:
            tab.row(f"PeaPods T={temp:g}", n, 1, "typewriter", float("nan"), None,
                    "skipped: PeaPods not installed (pip install peapods)")
            if temp == 2.0:
                summary.append("PeaPods comparison skipped: PeaPods not installed (pip install peapods)")
            continue
        peapods_sweeps(model, 20, measure=True)
        e_pp = float(np.asarray(model.energies_avg)[0])
        ratio = ns["peapods"] / ns["lattice"]
        tab.row(f"PeaPods {version('peapods')} T={temp:g}", n, 1, "typewriter", ns["peapods"], None,
                f"PeaPods/run_lattice = {ratio:.2f}, PeaPods/run_sparse = {ns['peapods'] / ns['sparse']:.2f}; "
                f"bonds per spin: ours {bonds['lattice']:.3f}, {bonds['sparse']:.3f}, PeaPods {e_pp:.3f}")
        summary.append(f"2D Ising T={temp:g}: PeaPods/ours (run_lattice, the sampler's kernel, typewriter order) = "
                       f"{ratio:.2f} (target >= 2); PeaPods/run_sparse = {ns['peapods'] / ns['sparse']:.2f}")


def bench_lattice_posterior(tab, quick, repeat, summary):
    """Section 6: the lattice as a diffusion posterior (field from x_t): run_lattice vs run_sparse."""
    side = 128
    n = side * side
    warm = 50 if quick else 200
    n_sweeps = 20 if quick else 100
    tab.section(f"2D lattice posteriors L = {side}, field h from x_t (VP, t = {T_DIFFUSION:g}), 1 core, "
                "typewriter order, ns per attempt; run_lattice (field table) vs run_sparse")
    cases = [("ferro T=2.27", LatticeIsingPrior.ferromagnet(side, 2, beta=1.0 / 2.27)),
             ("+-J EA T=1.5", LatticeIsingPrior.edwards_anderson(side, 2, beta=1.0 / 1.5, bonds="bimodal", seed=1))]
    for label, prior in cases:
        source = mc.IsingPrior.curie_weiss(n, beta=0.0)  # x0 uniform in {-1, 1}^N
        state = mc.draw_quenched(prior, PROCESS, T_DIFFUSION, seed=1, source=source)
        post = mc.Posterior(prior, PROCESS, state.x_t, T_DIFFUSION)
        for method in ("metropolis", "heat_bath"):
            assert sampler_kernel(post, method) == "tabulated"
            contenders, runners = {}, {}
            for kind in ("lattice", "sparse"):
                runner = SpinRun(post, kind, 1, heat_bath=method == "heat_bath", random_order=False)
                runner.run(warm)
                runner.reset_counters()
                runners[kind] = runner
                contenders[kind] = (lambda runner=runner: runner.run(n_sweeps))
            best = interleaved_best(contenders, repeat)
            ns = {kind: 1e9 * best[kind] / (n_sweeps * n) for kind in best}
            tab.row(f"Numba run_lattice {label}", n, 1, method, ns["lattice"], runners["lattice"].flip_rate())
            tab.row(f"Numba run_sparse {label}", n, 1, method, ns["sparse"], runners["sparse"].flip_rate(),
                    f"run_sparse/run_lattice = {ns['sparse'] / ns['lattice']:.2f}")
            summary.append(f"2D {label} posterior, {method}: run_sparse/run_lattice = "
                           f"{ns['sparse'] / ns['lattice']:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few sweeps (< 1 minute)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    quick, repeat = args.quick, max(1, args.repeat)
    budget = BUDGET[quick]
    summary = []
    print(f"numpy {np.__version__}, numba {version('numba')}, Python {platform.python_version()}, "
          f"{platform.machine()}; best of {repeat} runs")
    tab = Table()
    bench_spins(tab, quick, budget, repeat)
    bench_cw_references(tab, quick, repeat, summary)
    bench_continuous(tab, quick, budget, repeat, summary)
    bench_lattice(tab, quick, repeat, summary)
    bench_lattice_posterior(tab, quick, repeat, summary)
    print()
    for line in summary:
        print(line)


if __name__ == "__main__":
    main()
