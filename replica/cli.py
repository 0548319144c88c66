"""Command line interface: ``replica SUBCOMMAND ...``.

Exit codes: 0 success, 2 bad input (invalid arguments or parameters), 1 any other failure.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import mc

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


def demo_table(n_dim=100, times=(0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0), seed=0, disorder=0, process="VP"):
    """Posterior of the symmetric two-class Gaussian mixture ``+-mu`` (``mu = 1``, ``|mu|^2 = N``,
    unit variance) along one planted quenched trajectory x_t (same x0 and noise at every t).

    Columns: ``t``, ``s`` (= D_t / a_t^2), ``p_plus`` (posterior weight of the class of +mu),
    ``class_magnetisation`` (m . mu / |mu|^2), ``q_self`` (|m|^2 / N, the replica overlap
    E[q_ab]), ``susceptibility`` (tr Cov[x0 | x_t] / N) and ``chi_xt`` ((a_t / D_t) tr Cov / N,
    the response of m to x_t). Speciation (Biroli et al. 2024) is expected near
    ``t_S = (1/2) log(|mu|^2 + 1)``, the largest eigenvalue of the data covariance.
    """
    import pandas as pd

    model = mc.GaussianMixture.two_class(1.0, variance=1.0, n_dim=n_dim)
    proc = {"VP": mc.VP(), "VE": mc.VE()}[process]
    state = mc.draw_quenched(model, proc, np.asarray(times, dtype=float), seed=seed, disorder=disorder)
    mu = model.means[0]
    rows = []
    for t, x_t in zip(np.atleast_1d(state.t), state.x_t):
        post = mc.Posterior(model, proc, x_t, t)
        m = post.mean()
        tr = post.cov_trace()
        rows.append(
            {
                "t": t,
                "s": post.s,
                "p_plus": post.weights[0],
                "class_magnetisation": float(m @ mu) / float(mu @ mu),
                "q_self": float(m @ m) / n_dim,
                "susceptibility": tr / n_dim,
                "chi_xt": post.a / post.D * tr / n_dim,
            }
        )
    return pd.DataFrame(rows)


def _cmd_demo(args):
    if args.n_dim < 1:
        raise ValueError(f"--n-dim: must be >= 1, got {args.n_dim}")
    table = demo_table(args.n_dim, args.times, args.seed, args.disorder, args.process)
    t_s = 0.5 * np.log(args.n_dim + 1.0)
    print(
        f"two-class Gaussian mixture, N = {args.n_dim}, |mu|^2 = N, variance 1, {args.process} process, "
        f"planted disorder {args.disorder}, seed {args.seed}"
    )
    print(f"speciation time t_S = (1/2) log(|mu|^2 + 1) = {t_s:.4f}")
    with np.printoptions(precision=4):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    return EXIT_OK


def build_parser():
    parser = argparse.ArgumentParser(
        prog="replica", description="Replica statistical physics of diffusion-model posteriors."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {mc.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="posterior magnetisation and susceptibility of a two-class Gaussian mixture",
        description=demo_table.__doc__.split("\n\n")[0],
    )
    demo.add_argument("--n-dim", type=int, default=100, help="dimension N (default 100)")
    demo.add_argument(
        "--times", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0], help="forward times t > 0"
    )
    demo.add_argument("--process", choices=["VP", "VE"], default="VP")
    demo.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    demo.add_argument("--disorder", type=int, default=0, help="disorder index (default 0)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"replica {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
