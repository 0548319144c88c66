"""Single-core speed of the 2D Ising chain: the lattice kernel and ``mc.sample`` against mcising and PeaPods.

Model: the posterior of the 2D Ising ferromagnet prior (``mc.IsingPrior.lattice(128, 2, beta=1/T)``,
periodic, J = 1) given ``x_t = 0``. Its field ``h = a_t x_t / D_t`` vanishes exactly at every t,
so ``P(sigma | x_t = 0)`` is the Ising law ``exp((1/T) sum_<ij> sigma_i sigma_j)`` (each bond
once), the law that the other codes sample:

* mcising (optional, ``pip install mcising``; the ``bench`` extra):
  ``IsingSimulation(L, 1.0, 0.0, 0.0, 0.0, seed, "metropolis", "square")``, whose Hamiltonian is
  ``H = -J1 sum_<ij> s_i s_j``, swept by ``sweep(n, temperature=T)`` (a sequential scan);
* PeaPods (optional, ``pip install peapods``): ``Ising((L, L), couplings="ferro",
  temperatures=[T])`` swept by ``sample(n, sweep_mode="metropolis", sequential=True,
  warmup_ratio=1.0)`` (sweeps only, no measurement), its Rayon pool on one thread
  (``RAYON_NUM_THREADS=1``).

T = 2.0 (ordered), 2.27 (near T_c = 2.269) and 3.0 (disordered); single-spin Metropolis, one core,
one chain, L = 128 (N = 16384). Contenders, per temperature, timed in alternation (one call of
each per round, ``timing.interleaved_best``), each from an equilibrated state (untimed sweeps from
all spins up first):

* ``run_lattice``: the kernel ``mc.sample`` runs for this model (``mc.kernels.lattice``), on one
  chain, sites in typewriter order and at random;
* ``mc.sample`` through the public API with its defaults (random sites, thin = 1, store =
  "summary", and for this prior the default ladder of 8 Hamiltonian rungs for 4 replicas, with an
  exchange round every sweep) and with ``order="sequential", thin=100``; every attempt of every
  rung and replica (burn-in included) counts, and the call's fixed costs are in the time;
* mcising and PeaPods (skipped, with a note, when not installed).

Times are process CPU seconds (``time.process_time``; on a shared machine the wall time also
counts the time spent waiting for the core), reported as ns per spin-flip attempt, with the ratio
to mcising. The first call of the kernel and of ``mc.sample`` in this process (Numba loading
its on-disk cache, or compiling) is reported separately, and without ``--quick`` also the
kernel's compile time in a fresh process with an empty cache.

Checks that the codes sample the same law: the flip rate, and the energy per spin
``u = -(1/N) sum_<ij> s_i s_j`` averaged over the autocorrelation run (ours and mcising's;
PeaPods' over a short measured run), next to Onsager's ``u`` of the infinite lattice (finite-size
corrections at L = 128 are small away from T_c). PeaPods cannot be given a configuration, so it
starts from random spins: below T_c its ``u`` still carries domain walls of that quench. The
integrated autocorrelation time ``tau`` (sweeps) of ``|m|``, with its standard error, comes from a
series of single sweeps (ours and mcising's); ``ns x tau`` is the cost per spin of an effectively
independent sweep. Near T_c tau is of order 10^4 sweeps at this L, beyond such series: it is then
flagged as a lower bound.

    python benchmarks/bench_lattice.py [--quick] [--repeat 5]

The default run takes under a minute on a 2-core machine (most of it in the ``mc.sample`` calls,
the autocorrelation series and the cold compile), ``--quick`` about 10 s (fewer sweeps, no cold
compile).
"""
from __future__ import annotations

import argparse
import importlib
import os
import platform
import subprocess
import sys
import time
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # PeaPods: read when its thread pool starts

import numpy as np  # noqa: E402
from scipy.special import ellipk  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SIDE = 128
TEMPERATURES = (2.0, 2.27, 3.0)
#: Per mode: untimed sweeps first, sweeps per timed call (kernel / mcising / PeaPods), n_sweeps of
#: the two mc.sample calls (defaults, sequential thin=100), sweeps of the autocorrelation series.
SIZES = {
    False: {"warm": 400, "sweeps": 50, "api_default": 40, "api_thin": 200, "series": 8000, "repeat": 5},
    True: {"warm": 100, "sweeps": 20, "api_default": 8, "api_thin": 100, "series": 600, "repeat": 3},
}
#: A tau estimate from fewer than this many tau is flagged as a lower bound (as mc.diagnostics).
MIN_TAUS = 50


# ---------------------------------------------------------------------------------------------
def onsager_energy(temperature):
    """Energy per spin of the infinite square-lattice ferromagnet (J = 1; Onsager 1944)."""
    b = 1.0 / temperature
    k = 2.0 * np.sinh(2.0 * b) / np.cosh(2.0 * b) ** 2
    return float(-1.0 / np.tanh(2.0 * b) * (1.0 + 2.0 / np.pi * (2.0 * np.tanh(2.0 * b) ** 2 - 1.0) * ellipk(k * k)))


def bond_energy(spins, side):
    """``-(1/N) sum_<ij> s_i s_j`` of a periodic (L, L) configuration."""
    s = spins.reshape(side, side).astype(np.int64)
    return -float((s * np.roll(s, 1, 0) + s * np.roll(s, 1, 1)).sum()) / s.size


def package_version(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def tau_of(series):
    """``tau_int`` (``mc.diagnostics``, Sokal's window ``M >= 5 tau``), its standard error
    ``tau sqrt(2 (2 M + 1) / n)`` (Sokal 1997) and whether the series is shorter than 50 tau."""
    from mc.diagnostics import SOKAL_C, tau_int

    tau = float(tau_int(np.asarray(series, dtype=np.float64), warn=False))
    err = tau * np.sqrt(2.0 * (2.0 * SOKAL_C * tau + 1.0) / len(series))
    return tau, err, len(series) < MIN_TAUS * tau


# ---------------------------------------------------------------------------------------------
class Kernel:
    """``mc.kernels.lattice.run_lattice`` on one chain of the zero-field posterior, with the arrays
    built as ``mc.sampler`` builds them."""

    def __init__(self, temperature, random_order, seed=1, side=SIDE):
        import mc
        from mc.kernels import lattice as kl
        from mc.kernels.rng import seed_states

        self.kl = kl
        self.side = side
        prior = mc.IsingPrior.lattice(side, 2, beta=1.0 / temperature)
        n = prior.n_dim
        post = mc.Posterior(prior, mc.VP(), np.zeros(n), 1.0)
        mat = prior.sparse_couplings
        self.n = n
        self.b = np.ascontiguousarray(prior.field, dtype=np.float64)
        self.h = np.ascontiguousarray(post.field, dtype=np.float64)
        self.theta = np.ones((1, 2))
        self.nbrs, self.sgns, self.g = kl.neighbour_table(mat.indptr, mat.indices, mat.data * prior.beta)
        tables = kl.acceptance_tables(self.theta, self.g, len(self.nbrs), self.b, self.h, False)
        self.table, self.thresholds, self.ftab = tables
        assert self.ftab is None and self.sgns is None  # zero field: integer decisions
        self.spins = np.ones((1, 1, n), dtype=np.int8)
        self.rng = seed_states([np.random.SeedSequence(seed)])
        self.random_order = random_order
        self.flips = np.zeros((1, 1), dtype=np.int64)
        self.sweeps = np.zeros((1, 1), dtype=np.int64)

    def run(self, n_sweeps):
        zero = np.zeros((1, 1), dtype=np.int64)
        none = np.zeros((1, 0), dtype=np.int64)
        self.kl.run_lattice(self.spins, self.nbrs, self.sgns, self.g, self.b, self.h, self.table, self.thresholds,
                            self.ftab, self.theta, zero, zero.copy(), n_sweeps, False, self.random_order, 1, 0,
                            self.rng, self.flips, self.sweeps, np.zeros((1, 1, 2)), none, none.copy())

    def reset(self):
        self.flips[...] = 0
        self.sweeps[...] = 0

    def flip_rate(self):
        return float(self.flips.sum()) / max(float(self.sweeps.sum()) * self.n, 1.0)

    def series(self, n_sweeps):
        """|m| after each of ``n_sweeps`` single sweeps, and u after every 10th."""
        mags, energies = np.empty(n_sweeps), []
        for k in range(n_sweeps):
            self.run(1)
            s = self.spins[0, 0]
            mags[k] = abs(int(s.sum(dtype=np.int64))) / self.n
            if k % 10 == 0:
                energies.append(bond_energy(s, self.side))
        return mags, np.array(energies)


class McIsing:
    def __init__(self, temperature, seed=1):
        from mcising._core import IsingSimulation

        self.t = temperature
        self.sim = IsingSimulation(SIDE, 1.0, 0.0, 0.0, 0.0, seed, "metropolis", "square")
        self.sim.set_spins(np.ones(SIDE * SIDE, dtype=np.int8))
        self.accepted = 0
        self.attempted = 0

    def run(self, n_sweeps):
        acc, att, _ = self.sim.sweep(n_sweeps, temperature=self.t)
        self.accepted += acc
        self.attempted += att

    def reset(self):
        self.accepted = self.attempted = 0

    def flip_rate(self):
        return self.accepted / max(self.attempted, 1)

    def series(self, n_sweeps):
        mags, energies = np.empty(n_sweeps), np.empty(n_sweeps)
        for k in range(n_sweeps):
            self.sim.sweep(1, temperature=self.t)
            mags[k] = abs(self.sim.magnetization())
            energies[k] = self.sim.energy()
        return mags, energies


class PeaPods:
    def __init__(self, temperature):
        from peapods import Ising

        self.model = Ising((SIDE, SIDE), couplings="ferro", temperatures=np.array([temperature]), n_replicas=1)

    def run(self, n_sweeps, measure=False):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            self.model.sample(n_sweeps, sweep_mode="metropolis", sequential=True,
                              warmup_ratio=0.0 if measure else 1.0)

    def energy(self, n_sweeps):
        """u averaged over ``n_sweeps`` measured sweeps (PeaPods records +sum s_i s_j / N)."""
        self.run(n_sweeps, measure=True)
        return -float(np.asarray(self.model.energies_avg)[0])


class Api:
    """``mc.sample`` on the zero-field posterior; ``kwargs`` on top of its defaults."""

    def __init__(self, temperature, n_sweeps, side=SIDE, **kwargs):
        import mc

        prior = mc.IsingPrior.lattice(side, 2, beta=1.0 / temperature)
        self.post = mc.Posterior(prior, mc.VP(), np.zeros(prior.n_dim), 1.0)
        self.n_sweeps = n_sweeps
        self.kwargs = dict(store="summary", seed=0, **kwargs)
        self.result = None
        self.calls = 0

    def run(self):
        import mc

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.result = mc.sample(self.post, n_sweeps=self.n_sweeps, key=(self.calls,), **self.kwargs)
        self.calls += 1

    def attempts(self):
        res = self.result
        return res.n_replicas * res.ladder.n_rungs * (res.burn_in + res.n_sweeps) * self.post.n_dim

    def describe(self):
        res = self.result
        return (f"{res.n_replicas} replicas x {res.ladder.n_rungs} rung{'s' if res.ladder.n_rungs > 1 else ''}, "
                f"{res.burn_in}+{res.n_sweeps} sweeps, flips at rung 0")

    def flip_rate(self):
        return float(np.mean(self.result.acceptance[:, 0]))


# ---------------------------------------------------------------------------------------------
def first_calls():
    """Seconds of the first kernel call and the first mc.sample call in this process."""
    t0 = time.perf_counter()
    importlib.import_module("mc")
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    Kernel(2.27, False, side=8).run(1)
    t_kernel = time.perf_counter() - t0
    t0 = time.perf_counter()
    Api(2.27, 8, side=8).run()
    t_api = time.perf_counter() - t0
    return t_import, t_kernel, t_api


COLD_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {here!r})
import bench_lattice as b
t0 = time.perf_counter(); b.Kernel(2.27, False, side=8).run(1); print(time.perf_counter() - t0)
"""


def cold_compile():
    """Seconds of the first kernel call in a fresh process with an empty Numba cache (compiling)."""
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        code = COLD_SCRIPT.format(root=str(ROOT), here=str(Path(__file__).resolve().parent))
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        return None, out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"
    return float(out.stdout.strip().splitlines()[-1]), ""


# ---------------------------------------------------------------------------------------------
HEAD = (f"{'T':>5s}  {'contender':38s} {'ns/attempt':>10s} {'/mcising':>8s} {'flips':>6s} {'u':>8s} "
        f"{'tau |m|':>10s} {'ns x tau':>9s}  notes")


def row(temp, name, ns, ref, flips=None, u=None, tau=None, note=""):
    ratio = f"{ns / ref:8.2f}" if ref else f"{'-':>8s}"
    flips_s = f"{flips:6.3f}" if flips is not None else f"{'':6s}"
    u_s = f"{u:8.4f}" if u is not None else f"{'':8s}"
    if tau is not None:
        tau, err, lower = tau
        tau_s = f">={tau:.0f}" if lower else f"{tau:.1f}+-{err:.1f}"
        cost = f"{'>=' if lower else ''}{ns * tau:.0f}"
    else:
        tau_s = cost = ""
    ns_s = f"{ns:10.2f}" if ns == ns else f"{'skipped':>10s}"
    print(f"{temp:5.2f}  {name:38s} {ns_s} {ratio} {flips_s} {u_s} {tau_s:>10s} {cost:>9s}  {note}".rstrip())
    sys.stdout.flush()


def main(argv=None):
    from timing import cpu_timed, interleaved_best

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sweeps, no cold compile (under 30 s)")
    parser.add_argument("--repeat", type=int, default=None, help="rounds of alternating calls (default 5, quick 3)")
    args = parser.parse_args(argv)
    size = SIZES[args.quick]
    repeat = args.repeat or size["repeat"]
    started = time.perf_counter()

    t_import, t_kernel, t_api = first_calls()
    have_mcising = package_version("mcising") is not None
    have_peapods = package_version("peapods") is not None
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numba {version('numba')}, "
          f"mcising {package_version('mcising') or 'not installed'}, "
          f"PeaPods {package_version('peapods') or 'not installed'}")
    print(f"# 2D Ising L = {SIDE} (N = {SIDE * SIDE}), zero field, single-spin Metropolis, 1 core; process CPU ns "
          f"per spin-flip attempt, best of {repeat} rounds of alternating calls; u = energy per spin")
    print(f"# first call in this process: import mc {t_import:.2f} s, run_lattice {t_kernel:.2f} s, "
          f"mc.sample {t_api:.2f} s (Numba loads its on-disk cache, or compiles when it is empty or stale)")
    if not args.quick:
        sec, why = cold_compile()
        print(f"# run_lattice compiled from scratch (fresh process, empty cache): "
              f"{f'{sec:.1f} s' if sec is not None else 'failed: ' + why}")
    if not have_mcising:
        print("# mcising not installed (pip install mcising, or the bench extra): its rows are skipped")
    if not have_peapods:
        print("# PeaPods not installed (pip install peapods): its rows are skipped")
    print(HEAD)

    summary = []
    for temp in TEMPERATURES:
        n = SIDE * SIDE
        seq, rnd = Kernel(temp, False), Kernel(temp, True)
        chains = {"seq": seq, "rnd": rnd}
        if have_mcising:
            chains["mcising"] = McIsing(temp)
        pea = PeaPods(temp) if have_peapods else None
        for chain in chains.values():
            chain.run(size["warm"])
            chain.reset()
        if pea is not None:
            pea.run(size["warm"])
        api_default = Api(temp, size["api_default"])
        api_thin = Api(temp, size["api_thin"], order="sequential", thin=100)
        k = size["sweeps"]
        contenders = {name: cpu_timed(lambda c=chain: c.run(k)) for name, chain in chains.items()}
        if pea is not None:
            contenders["peapods"] = cpu_timed(lambda: pea.run(k))
        contenders["api_default"] = cpu_timed(api_default.run)
        contenders["api_thin"] = cpu_timed(api_thin.run)
        best = interleaved_best(contenders, repeat)
        ns = {name: 1e9 * best[name] / (k * n) for name in chains}
        if pea is not None:
            ns["peapods"] = 1e9 * best["peapods"] / (k * n)
        ns["api_default"] = 1e9 * best["api_default"] / api_default.attempts()
        ns["api_thin"] = 1e9 * best["api_thin"] / api_thin.attempts()

        # autocorrelation of |m| and the energy check, after the timing (equilibrated)
        stats = {}
        for name in chains:
            mags, energies = chains[name].series(size["series"])
            stats[name] = (float(np.mean(energies)), tau_of(mags))
        ref = ns.get("mcising")
        row(temp, "ours run_lattice, typewriter order", ns["seq"], ref, seq.flip_rate(), *stats["seq"])
        row(temp, "ours run_lattice, random sites", ns["rnd"], ref, rnd.flip_rate(), *stats["rnd"])
        row(temp, "ours mc.sample, defaults", ns["api_default"], ref, api_default.flip_rate(),
            note=api_default.describe())
        row(temp, "ours mc.sample, sequential, thin=100", ns["api_thin"], ref, api_thin.flip_rate(),
            note=api_thin.describe())
        if have_mcising:
            row(temp, f"mcising {package_version('mcising')} metropolis, square", ns["mcising"], ref,
                chains["mcising"].flip_rate(), *stats["mcising"])
        else:
            row(temp, "mcising", float("nan"), None, note="not installed")
        if pea is not None:
            row(temp, f"PeaPods {package_version('peapods')} metropolis", ns["peapods"], ref,
                u=pea.energy(4 * k), note="random start" + (": domain walls left" if temp < 2.269 else ""))
        else:
            row(temp, "PeaPods", float("nan"), None, note="not installed")
        print(f"{'':5s}  Onsager u (L = infinity) = {onsager_energy(temp):.4f}")
        line = f"T={temp:g}: run_lattice typewriter {ns['seq']:.2f} ns"
        if ref:
            line += f" = {ns['seq'] / ref:.2f} x mcising ({ref:.2f} ns; target <= 1)"
        if pea is not None:
            line += f"; PeaPods / run_lattice = {ns['peapods'] / ns['seq']:.1f} (target >= 2)"
        summary.append(line)
    print("# summary")
    for line in summary:
        print(f"#   {line}")
    print(f"# total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
