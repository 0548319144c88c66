"""Time to a converged Franz-Parisi potential by umbrella sampling and MBAR (``replica.umbrella``).

For each case and method, ``umbrella_sampling`` is run with ``n_sweeps`` per window doubled from a
starting value until V(q) counts as converged: the largest standard error of ``V(q) = -(1/N) log P(q |
x_ref)`` over the (default) grid is below the target (0.01 by default; V is already per unit N)
and every window's q series is at least 50 integrated autocorrelation times long (so that the
thinning and the error bars can be trusted; ``ShortChainWarning`` otherwise). One row per
attempt: N, the number of windows K, kappa, sweeps per window (burn-in included), total replica
sweeps (all windows and the reference chain; tempering rungs not counted), the wall time of the
attempt, the cumulative wall time, the largest standard error, the largest tau (in draws) over
windows, the number of bins, MBAR's overlap scalar and, for the mixture, the largest deviation
from the exact V in standard errors (oracle: given the class, q is Gaussian). The last row of a
case is the time to a converged V(q). Methods, run one after the other in the same process (the
same machine conditions), with the same criteria and the same doubling of the sweeps:

* ``independent``: every window is its own ``mc.sample`` run (with the case's ladder per window);
* ``exchange`` (``window_exchange=True``, the mixture only: continuous models): the windows swap
  configurations with their neighbours (replica-exchange umbrella sampling), and the case's
  ladder is attached only to the windows that need it (``tempered_windows="auto"``); the row also
  gives the mean swap rate between neighbouring windows and the number of tempered windows.

A summary per case and method ends the run: windows, sweeps per window of the converged
attempt, wall time to convergence (cumulative over the attempts), largest standard error, largest
deviation from the exact V in standard errors, swap rates (between windows; of the ladders) and
the speed-up of the exchange over the independent windows.

Cases (VP process, defaults of ``umbrella_sampling``: 4 replicas, default grid, windows and
kappa, burn-in n_sweeps / 4):

1. two-class Gaussian mixture ``+-mu``, ``|mu|^2 / N = 1``, unit variances, N = 100, t = 2,
   x_t drawn from the model (planted), reference drawn exactly, overlap ``x . x_ref / N``,
   MALA with Hamiltonian tempering (16 rungs down to beta = 0.05: windows near q = 0 hold both
   classes, separated by a barrier across which only the ladder moves them; with the default 8
   rungs exchanges are accepted 3% of the time at this N and those windows do not equilibrate),
   kappa = 10 instead of the default 10 / H^2 = 1.6 (V has a cusp between the classes, whose top
   the weaker default windows leave unsampled at this N), grid of 33 bins on [-1.6, 1.6] (V up
   to about 0.15 above its minimum; the default grid reaches 0.6);
2. Sherrington-Kirkpatrick prior, N = 256, beta = 1.5, t = 1, in the field of a planted x_t
   (x0 is the last state of a tempered chain on the prior, which has no exact sampler), reference
   from an independent equilibrated chain, overlap, heat bath without tempering.

The first attempt of each case and method includes the Numba compilation of its kernels.
``--quick``: N = 32 mixture and N = 64 SK, a looser target (0.02), at most 400 sweeps per
window (under a minute); ``--methods`` picks the methods and ``--cases`` the cases. ``--extend``
replaces the restarts by one call per method that extends its windows' chains itself (doubling
the sweeps of the windows that fail, up to ``--max-sweeps``), as a user calling
``umbrella_sampling(n_sweeps=..., max_sweeps=...)`` gets; its row is that call.

    python benchmarks/bench_franz_parisi.py [--quick] [--target 0.01] [--start 200] [--methods independent exchange]
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mc  # noqa: E402
from mc.diagnostics import MIN_TAUS, ShortChainWarning  # noqa: E402
from scipy.special import logsumexp  # noqa: E402
from scipy.stats import norm  # noqa: E402
from replica import umbrella as um  # noqa: E402

PROCESS = mc.VP()


def mixture_case(n, t=2.0, seed=1, kappa=10.0, n_temperatures=16):
    model = mc.GaussianMixture.two_class(1.0, 1.0, n_dim=n)
    state = mc.draw_quenched(model, PROCESS, t, seed=seed)
    post = mc.Posterior(model, PROCESS, state.x_t, t)
    options = {"tempering": "hamiltonian", "n_temperatures": n_temperatures, "kappa": kappa,
               "q_grid": np.linspace(-1.6, 1.6, 33)}
    return post, options, f"mixture t={t:g} w={post.weights.max():.3f}"


def mixture_exact_v(post, ref, grid):
    """Exact -(1/N) log(bin mass / width): given the class, q = x . x_ref / N is Gaussian."""
    n, ex = post.n_dim, post.exact
    edges = um._bin_edges(np.asarray(grid))
    logs = []
    for c in range(post.model.n_components):
        z = (edges - ex.component_means[c] @ ref / n) / (np.sqrt(ex.component_eigenvalues[c] @ ref**2) / n)
        lo, hi = z[:-1], z[1:]
        # log(Phi(hi) - Phi(lo)) from the tail on the far side of the mean (no cancellation)
        upper = np.where(lo > 0, norm.logsf(lo), norm.logcdf(hi))
        lower = np.where(lo > 0, norm.logsf(hi), norm.logcdf(lo))
        logs.append(np.log(ex.weights[c]) + upper + np.log1p(-np.exp(lower - upper)))
    return -(logsumexp(logs, axis=0) - np.log(np.diff(edges))) / n


def sk_case(n, beta=1.5, t=1.0, seed=1):
    prior = mc.IsingPrior.sherrington_kirkpatrick(n, beta=beta, seed=seed)
    # a planted x0: equilibrated prior configuration (the posterior at t = 30 has field ~ e^-30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortChainWarning)
        chain = mc.sample(mc.Posterior(prior, PROCESS, np.zeros(n), 30.0), n_replicas=1, n_sweeps=2000,
                          tempering="hamiltonian", seed=seed, key=(1,), progress=False)
    x0 = chain.samples[0, -1]
    a, d, _ = PROCESS.coefficients(t)
    noise = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,))).standard_normal(n)
    post = mc.Posterior(prior, PROCESS, a * x0 + np.sqrt(d) * noise, t)
    return post, {}, f"SK beta={beta:g} t={t:g}"


def converge(post, options, target, start, max_sweeps, seed=0, extend=False):
    """Attempts with n_sweeps = start, 2 start, ... until max stderr < target; yields rows. With
    ``extend``: one call that extends its own chains up to ``max_sweeps`` (what a user gets from
    ``umbrella_sampling(n_sweeps=start, max_sweeps=...)``)."""
    n_sweeps, total_time = start, 0.0
    while True:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortChainWarning)
            warnings.simplefilter("ignore", um.ConvergenceWarning)
            # without extend no extension inside: this loop doubles the sweeps itself
            res = um.umbrella_sampling(post, n_sweeps=n_sweeps, max_sweeps=max_sweeps if extend else n_sweeps,
                                       allow_unconverged=True, seed=seed, progress=False, **options)
        wall = time.perf_counter() - t0
        total_time += wall
        info, pot, wins = res.info, res.potential, res.windows
        max_se = float(np.nanmax(pot["stderr"]))
        max_tau = float(wins["tau"].max())
        max_z = np.nan
        if post.is_exact and post.model.state_space == "continuous":
            z = (pot["V"] - mixture_exact_v(post, res.reference, pot["q"])) / pot["stderr"]
            max_z = float(np.nanmax(np.abs(z)))
        exchanged = info.get("window_exchange", False)
        burn = info["burn_in_sweeps"] if exchanged else info["burn_in"]
        yield {
            "N": info["n_dim"], "K": info["n_windows"], "kappa": float(wins["kappa"].iloc[0]),
            "sweeps": int(wins["n_sweeps"].max()) + burn, "total": info["total_sweeps"], "wall": wall,
            "cumulative": total_time, "max_se": max_se, "max_tau": max_tau, "bins": len(pot),
            "overlap": info["mbar_overlap"], "max_z": max_z, "converged": res.converged,
            "swap": float(np.mean(info["window_exchange_rates"])) if exchanged else np.nan,
            "ladder": float(np.nanmean(wins["exchange_rate"])) if "exchange_rate" in wins else np.nan,
            "tempered": len(info["tempered_windows"]) if exchanged else
            (info["n_windows"] if info["tempering"] != "none" else 0),
            "round_trips": int(np.sum(info["round_trips"])) if exchanged else 0,
        }
        long_enough = int(wins["n_sweeps"].min()) // options.get("thin", 1) >= MIN_TAUS * max_tau
        if (max_se < target and long_enough and res.converged) or 2 * n_sweeps > max_sweeps or extend:
            return
        n_sweeps *= 2


#: The exchange variant's ladders run to the prior, which the mixture draws exactly (its top rung
#: takes a fresh prior draw every sweep), with the case's number of rungs.
METHODS = {"independent": {}, "exchange": {"window_exchange": True, "tempering": "likelihood"}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small N (32 and 64), a looser target, at most 400 sweeps per window")
    parser.add_argument("--target", type=float, default=None, help="largest stderr of V (default 0.01)")
    parser.add_argument("--start", type=int, default=200, help="sweeps per window of the first attempt")
    parser.add_argument("--max-sweeps", type=int, default=64000)
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--cases", nargs="+", choices=["mixture", "sk"], default=["mixture", "sk"])
    parser.add_argument("--extend", action="store_true",
                        help="one call per method that extends its own chains up to --max-sweeps, instead of "
                             "restarts with doubled sweeps")
    parser.add_argument("--exchange-rungs", type=int, default=None,
                        help="rungs of the exchange variant's ladders (default: the case's, 16 for the mixture)")
    args = parser.parse_args()
    target = args.target if args.target is not None else (0.02 if args.quick else 0.01)
    sizes = (32, 64) if args.quick else (100, 256)
    start, max_sweeps = (min(args.start, 100), 400) if args.quick else (args.start, args.max_sweeps)
    cases = {"mixture": lambda: mixture_case(sizes[0]), "sk": lambda: sk_case(sizes[1])}
    print(f"target: max stderr of V below {target:g}")
    head = (f"{'case':26s} {'method':11s} {'N':>4s} {'K':>4s} {'kappa':>6s} {'sweeps/win':>10s} {'total sweeps':>12s} "
            f"{'wall s':>8s} {'cum. s':>8s} {'max se':>9s} {'max tau':>8s} {'bins':>4s} {'overlap':>8s} "
            f"{'max|z|':>7s} {'swap':>5s} {'ladder':>6s} {'temp.':>5s} {'conv.':>5s}")
    print(head)
    summary = []
    for name in args.cases:
        post, options, label = cases[name]()
        for method in args.methods:
            if method == "exchange" and post.model.state_space != "continuous":
                continue  # swaps between windows: continuous models
            last = None
            opts = {**options, **METHODS[method]}
            if method == "exchange" and args.exchange_rungs is not None:
                opts["n_temperatures"] = args.exchange_rungs
            for row in converge(post, opts, target, start, max_sweeps, extend=args.extend):
                last = row
                print(f"{label:26s} {method:11s} {row['N']:4d} {row['K']:4d} {row['kappa']:6.3g} {row['sweeps']:10d} "
                      f"{row['total']:12d} {row['wall']:8.2f} {row['cumulative']:8.2f} {row['max_se']:9.2e} "
                      f"{row['max_tau']:8.3g} {row['bins']:4d} {row['overlap']:8.2g} {row['max_z']:7.2f} "
                      f"{row['swap']:5.2f} {row['ladder']:6.2f} {row['tempered']:5d} "
                      f"{'yes' if row['converged'] else 'no':>5s}", flush=True)
            summary.append((label, method, last))
    print()
    print("time to a converged V(q) (the last attempt of each case and method):")
    print(f"{'case':26s} {'method':11s} {'windows':>7s} {'tempered':>8s} {'sweeps/win':>10s} {'wall s':>8s} "
          f"{'max se':>9s} {'max|z|':>7s} {'swap':>5s} {'ladder':>6s} {'conv.':>5s} {'speed-up':>8s}")
    reference = {label: row for label, method, row in summary if method == "independent"}
    for label, method, row in summary:
        ref = reference.get(label)
        if ref is None or not row["converged"]:
            speed = "n/a"
        else:  # a reference that did not converge within the budget gives a lower bound
            speed = ("" if ref["converged"] else ">=") + f"{ref['cumulative'] / row['cumulative']:.1f}"
        print(f"{label:26s} {method:11s} {row['K']:7d} {row['tempered']:8d} {row['sweeps']:10d} "
              f"{row['cumulative']:8.1f} {row['max_se']:9.2e} {row['max_z']:7.2f} {row['swap']:5.2f} "
              f"{row['ladder']:6.2f} {'yes' if row['converged'] else 'no':>5s} {speed:>8s}")


if __name__ == "__main__":
    main()
