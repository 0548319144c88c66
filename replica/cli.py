"""Command line interface: ``replica SUBCOMMAND ...``.

Subcommands: ``demo`` (a built-in exact example), ``scan SPEC.toml`` (a parameter scan, serial or
under ``mpiexec -n K``), ``merge DIR`` (merged tables from per-task files), ``report DIR``
(summary, located transitions, plots).

Exit codes, the same on every MPI rank: 0 success; 1 failure (for ``scan``: some tasks failed,
the others finished); 2 bad input (arguments, spec, directory), nothing run; 3 interrupted by
SIGINT / SIGTERM before all tasks finished (continue with ``--resume``); 4 (``report``) a Monte
Carlo row disagrees with the exact row of the same task by more than 5 standard errors.

Heavy modules (numpy, numba, mpi4py) are imported inside the subcommands, after ``scan`` has set
its per-rank thread and cache defaults (``replica._environment.pin_threads``). The exit codes
below are the ones every driver module returns.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_DISAGREEMENT = 0, 1, 2, 3, 4


def demo_table(n_dim=100, times=(0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0), seed=0, disorder=0, process="VP"):
    """Posterior of the symmetric two-class Gaussian mixture ``+-mu`` (``mu = 1``, ``|mu|^2 = N``,
    unit variance) along one planted quenched trajectory x_t (same x0 and noise at every t).

    Columns: ``t``, ``s`` (= D_t / a_t^2), ``p_plus`` (posterior weight of the class of +mu),
    ``class_magnetisation`` (m . mu / |mu|^2), ``q_self`` (|m|^2 / N, the replica overlap
    E[q_ab]), ``susceptibility`` (tr Cov[x0 | x_t] / N) and ``chi_xt`` ((a_t / D_t) tr Cov / N,
    the response of m to x_t). Speciation (Biroli et al. 2024) is expected near
    ``t_S = (1/2) log(|mu|^2 + 1)``, the largest eigenvalue of the data covariance.
    """
    import numpy as np
    import pandas as pd

    import mc

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
    import numpy as np

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


_MPI_ENV = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "HYDI_CONTROL_FD")


def _communicator():
    """COMM_WORLD when launched by an MPI launcher (mpiexec / srun), else None (serial, and mpi4py
    is not even imported)."""
    if not any(name in os.environ for name in _MPI_ENV):
        return None
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    return comm if comm.Get_size() > 1 else None


def _cmd_scan(args):
    from replica.scan import load_spec
    from replica.scan.runner import dry_run

    comm = _communicator()
    rank = 0 if comm is None else comm.Get_rank()
    spec = load_spec(args.spec)  # every rank validates before any work
    out = args.out or spec.scan.output or os.path.join("results", spec.scan.name)
    if args.dry_run:
        if rank == 0:
            dry_run(spec, n_ranks=1 if comm is None else comm.Get_size())
        return EXIT_OK
    # A signal after the task loop (during the exit-code reduction or the merge; SLURM's warning
    # can come late) is ignored: every rank still reaches the reduction, and the tasks are all
    # written. During the loop the runner's own handler takes over.
    previous = {sig: signal.signal(sig, lambda signum, frame: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _scan_and_merge(spec, out, args, comm, rank)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _scan_and_merge(spec, out, args, comm, rank):
    from replica.scan.runner import merge, reduce_exit_code, run_scan

    try:
        summary = run_scan(spec, out, resume=args.resume, force=args.force, comm=comm, progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"replica scan: interrupted; finished tasks are kept; continue with --resume --out {out}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    code = reduce_exit_code(summary, comm)
    counts = (summary.done, summary.skipped, len(summary.failed))
    if comm is not None:
        counts = tuple(comm.allreduce(c) for c in counts)
    if rank == 0:
        merged = merge(out) if code != EXIT_INTERRUPTED else None
        print(
            f"replica scan {spec.scan.name}: {summary.n_tasks} tasks, {counts[0]} run, {counts[1]} already done, "
            f"{counts[2]} failed" + (" (see tasks/*.error.json)" if counts[2] else "")
            + ("; interrupted: continue with --resume" if code == EXIT_INTERRUPTED else "")
            + (f"; merged {merged['tasks']} tasks into {os.path.join(out, 'merged')}" if merged else ""),
            file=sys.stderr,
        )
    return code


def _cmd_merge(args):
    from replica.scan.runner import merge

    info = merge(args.directory)
    print(f"merged {info['tasks']} complete tasks ({info['missing']} missing, {info['failed']} failed):")
    for path in info["paths"]:
        print(f"  {path}")
    return EXIT_OK if info["missing"] == 0 else EXIT_FAILURE


def _cmd_report(args):
    from replica.report import report

    return report(args.directory, plots=not args.no_plots, plot_dir=args.plot_dir)


def build_parser():
    from mc import __version__

    parser = argparse.ArgumentParser(
        prog="replica", description="Replica statistical physics of diffusion-model posteriors."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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

    scan = sub.add_parser(
        "scan", help="run a parameter scan from a TOML spec (serially, or over the ranks of mpiexec -n K)",
        description="Run the (N, t, disorder) tasks of a TOML scan spec, each written atomically to "
        "OUT/tasks/; under mpiexec the tasks are split over the ranks. Exit codes: 0 done, 1 some tasks "
        "failed, 2 bad spec or arguments (nothing run), 3 interrupted (resume with --resume).",
    )
    scan.add_argument("spec", help="the scan specification (TOML; see jobs/*.toml)")
    scan.add_argument("--out", help="output directory (default: [scan] output, else results/<name>)")
    scan.add_argument("--resume", action="store_true", help="continue a scan: skip complete tasks, rerun the rest")
    scan.add_argument("--force", action="store_true", help="with --resume: accept a spec that changed (reruns its tasks)")
    scan.add_argument("--dry-run", action="store_true", help="validate, print the task count, cost and configuration")
    scan.add_argument("--quiet", action="store_true", help="no per-task progress lines")
    scan.set_defaults(func=_cmd_scan)

    merge = sub.add_parser(
        "merge", help="merge the per-task files of a scan directory into merged/<table>.parquet",
        description="Merge complete tasks (verified by their checksummed manifests) into OUT/merged/. "
        "Exit codes: 0 all tasks merged, 1 some tasks missing or failed, 2 not a scan directory.",
    )
    merge.add_argument("directory", help="the scan's output directory")
    merge.set_defaults(func=_cmd_merge)

    rep = sub.add_parser(
        "report", help="summary table, located transitions and plots of a scan directory",
        description="Print the disorder-averaged observables and the located transitions of a scan, and "
        "write plots (needs the optional extra 'plot': pip install -e '.[plot]').",
    )
    rep.add_argument("directory", help="the scan's output directory")
    rep.add_argument("--no-plots", action="store_true", help="print the tables only")
    rep.add_argument("--plot-dir", help="where to write the figures (default DIR/plots)")
    rep.set_defaults(func=_cmd_report)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["scan"]:
        from replica._environment import pin_threads

        pin_threads()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"replica {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
