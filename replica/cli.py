"""Command line interface: ``replica SUBCOMMAND ...``.

Subcommands: ``demo`` (a built-in exact example), ``scan SPEC.toml`` (a parameter scan, serial or
under ``mpiexec -n K``), ``merge DIR`` (merged tables from per-task files), ``report DIR``
(summary, located transitions, plots).

Exit codes, the same on every MPI rank: 0 success; 1 failure (for ``scan``: some tasks failed,
the others finished); 2 bad input (arguments, spec, an output directory that cannot be written),
nothing run; 3 interrupted by SIGINT / SIGTERM, or stopped by a full disk, before all tasks
finished (continue with ``--resume``); 4 (``report``) a Monte Carlo row disagrees with the exact
row of the same task by more than 5 standard errors; 141 (128 + SIGPIPE, as other command-line
tools) when the reader of the standard output went away (``replica report DIR | head``).
Under MPI an error is printed once, by rank 0.

Heavy modules (numpy, numba, mpi4py) are imported inside the subcommands, after ``scan`` has set
its per-rank thread and cache defaults (``replica._environment.pin_threads``). The exit codes
below are the ones every driver module returns.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import sys

from .exit_codes import (  # noqa: F401  (re-exported: the command's statuses)
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_DISAGREEMENT,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
)


def demo_table(n_dim=100, times=(0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0), seed=0, disorder=0, process="VP"):
    """Posterior of the symmetric two-class Gaussian mixture ``+-mu`` (``mu = 1``, ``|mu|^2 = N``,
    unit variance) along one planted quenched trajectory x_t (same x0 and noise at every t).

    Columns: ``t``, ``s`` (= D_t / a_t^2), ``p_plus`` (posterior weight of the class of +mu),
    ``class_magnetisation`` (m . mu / |mu|^2), ``q_self`` (|m|^2 / N, the replica overlap
    E[q_ab]), ``susceptibility`` (tr Cov[x0 | x_t] / N) and ``chi_xt`` ((a_t / D_t) tr Cov / N,
    the response of m to x_t). Speciation (Biroli et al. 2024) is expected near the time
    :func:`mixture_speciation_time` at which ``s_t = D_t / a_t^2`` reaches ``|mu|^2`` (VP:
    ``t_S = (1/2) log(|mu|^2 + 1)``; VE: ``t_S = |mu|^2``).
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


def time_at_s(process, s):
    """The forward time ``t`` at which ``process`` reaches ``s_t = D_t / a_t^2 = s``.

    The posterior depends on ``(x_t, t)`` only through ``y = x_t / a_t`` and ``s_t``, so a
    statement made in terms of ``s`` holds for every process at its own ``t``. ``s_t`` increases
    strictly with ``t``; the root is bracketed by doubling and refined by Brent's method
    (relative tolerance ``1e-14``).

    Parameters
    ----------
    process : mc.ForwardProcess
        The forward process (its ``s`` method is the map used).
    s : float > 0
        The effective noise variance to reach.

    Returns
    -------
    float
        ``t > 0`` with ``process.s(t) = s``.
    """
    import math

    from scipy.optimize import brentq

    s = float(s)
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"s: must be finite and > 0, got {s}")
    lo, hi = 1.0, 1.0
    while process.s(lo) > s:
        lo /= 2.0
        if lo < 1e-300:
            raise ValueError(f"s: {s} is below the range of {process!r}")
    while process.s(hi) < s:  # raises ValueError naming t when s_t overflows first
        hi *= 2.0
    if lo == hi:  # s_1 == s exactly
        return lo
    return float(brentq(lambda t: process.s(t) - s, lo, hi, xtol=1e-300, rtol=1e-14, maxiter=500))


def mixture_speciation_time(process, mu_norm2, variance=1.0):
    """Speciation time of the symmetric two-class mixture ``+-mu`` under ``process``.

    Biroli et al. (2024), VP: ``t_S = (1/2) log Lambda`` with ``Lambda = |mu|^2 + variance`` the
    largest eigenvalue of the data covariance; in terms of the effective noise variance this is
    ``s_t = e^{2 t} - 1 = Lambda - 1``. The same ``s`` is used for every process (the posterior
    depends on t only through ``s_t``) and mapped to the process's own time by
    :func:`time_at_s`: with unit variance ``s_S = |mu|^2``, so VE (``s_t = sigma^2 t``) gives
    ``t_S = |mu|^2 / sigma^2``.

    Parameters
    ----------
    process : mc.ForwardProcess
    mu_norm2 : float >= 0
        ``|mu|^2``.
    variance : float > 0
        Variance per coordinate of each class.

    Returns
    -------
    float
        ``t_S``, or ``nan`` when ``Lambda <= 1`` (the criterion is never met for ``t > 0``).
    """
    lam = float(mu_norm2) + float(variance)
    return time_at_s(process, lam - 1.0) if lam > 1.0 else float("nan")


def _cmd_demo(args):
    import numpy as np

    import mc

    if args.n_dim < 1:
        raise ValueError(f"--n-dim: must be >= 1, got {args.n_dim}")
    table = demo_table(args.n_dim, args.times, args.seed, args.disorder, args.process)
    proc = {"VP": mc.VP(), "VE": mc.VE()}[args.process]
    t_s = mixture_speciation_time(proc, float(args.n_dim))
    print(
        f"two-class Gaussian mixture, N = {args.n_dim}, |mu|^2 = N, variance 1, {args.process} process, "
        f"planted disorder {args.disorder}, seed {args.seed}"
    )
    rule = {"VP": "(1/2) log(|mu|^2 + 1)", "VE": "|mu|^2"}[args.process]
    print(f"speciation time t_S = {rule} = {t_s:.4f} (where s_t = D_t / a_t^2 reaches |mu|^2 = Lambda - 1)")
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


def _first_error(comm, error):
    """The first error message of any rank (in rank order), the same on every rank; ``None``
    when no rank has one. Serial: ``error`` itself."""
    if comm is None:
        return error
    return next((e for e in comm.allgather(error) if e is not None), None)


def _scan_error(message, rank):
    """Print ``replica scan: error: MESSAGE`` on rank 0 only; the bad-input exit status."""
    if rank == 0:
        print(f"replica scan: error: {message}", file=sys.stderr, flush=True)
    return EXIT_BAD_INPUT


def check_output_dir(out, key="--out"):
    """Whether a scan can write into ``out``: create it (and its parents), write, fsync and remove
    a small probe file. Nothing else is touched; the directory is left in place.

    Parameters
    ----------
    out : str or path
        The output directory.
    key : str
        How the user gave it (``"--out"`` or ``"scan.output"``): the message starts with it.

    Returns
    -------
    str or None
        ``None`` when the directory is writable, else a one-line message naming ``key``, the
        directory and the cause (the operating system's, e.g. "Permission denied",
        "Read-only file system", "File name too long", "No space left on device").
    """
    out = os.fspath(out)
    try:
        os.makedirs(out, exist_ok=True)
    except FileExistsError:
        return f"{key}: {out!r} exists and is not a directory"
    except OSError as exc:
        return f"{key}: cannot create the directory {out!r}: {exc.strerror or exc}"
    probe = os.path.join(out, f".replica-write-probe.{socket.gethostname()}.{os.getpid()}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"replica scan: write probe\n")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return f"{key}: cannot write in the directory {out!r}: {exc.strerror or exc}"
    finally:
        try:
            os.unlink(probe)
        except OSError:
            pass
    return None


def _cmd_scan(args):
    from replica.scan import load_spec
    from replica.scan.runner import dry_run

    comm = _communicator()
    rank = 0 if comm is None else comm.Get_rank()
    try:
        spec, error = load_spec(args.spec), None  # every rank validates before any work
    except ValueError as exc:
        spec, error = None, str(exc)
    error = _first_error(comm, error)
    if error is not None:
        return _scan_error(error, rank)
    if args.out:
        out, key = args.out, "--out"
    elif spec.scan.output:
        out, key = spec.scan.output, "scan.output"
    else:
        out, key = os.path.join("results", spec.scan.name), "--out (default results/<scan.name>)"
    if args.dry_run:
        if rank == 0:
            dry_run(spec, n_ranks=1 if comm is None else comm.Get_size(), out=out, out_key=key, resume=args.resume)
        return EXIT_OK
    error = check_output_dir(out, key) if rank == 0 else None
    if comm is not None:
        error = comm.bcast(error, root=0)
    if error is not None:
        return _scan_error(error, rank)
    # A signal after the task loop (during the exit-code reduction or the merge; SLURM's warning
    # can come late) is ignored: every rank still reaches the reduction, and the tasks are all
    # written. During the loop the runner's own handler takes over. As the command itself (not
    # called in-process) the signals stay ignored until the process has exited: Python restores
    # the default action of a signal with a Python handler while it shuts down, and a SIGTERM in
    # that window would turn the exit status 3 into 143 (killed), which job scripts do not resume.
    ignore = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in ignore}
    try:
        return _scan_and_merge(spec, out, args, comm, rank)
    finally:
        if not getattr(args, "process_entry", False):
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _scan_and_merge(spec, out, args, comm, rank):
    from replica.scan import make_tasks
    from replica.scan.runner import ScanSummary, merge, reduce_exit_code, run_scan

    progress = False if args.quiet else ("verbose" if args.verbose else True)
    try:
        summary = run_scan(spec, out, resume=args.resume, force=args.force, comm=comm, progress=progress)
    except KeyboardInterrupt:  # a second signal outside the task loop: nothing is half written
        summary = ScanSummary(n_tasks=len(make_tasks(spec)), interrupted=True)
    except ValueError as exc:  # the same on every rank (rank 0's verdict is broadcast)
        return _scan_error(exc, rank)
    code = reduce_exit_code(summary, comm)
    counts = (summary.done, summary.skipped, len(summary.failed))
    no_space = getattr(summary, "no_space", None)
    if comm is not None:
        counts = tuple(comm.allreduce(c) for c in counts)
        no_space = _first_error(comm, no_space)
    if rank == 0:
        if no_space:
            print(f"replica scan: error: {no_space}; finished tasks are kept: free space, then continue with "
                  f"--resume --out {out}", file=sys.stderr, flush=True)
        merged = merge(out) if code != EXIT_INTERRUPTED else None
        print(
            f"replica scan {spec.scan.name}: {summary.n_tasks} tasks, {counts[0]} run, {counts[1]} already done, "
            f"{counts[2]} failed" + (" (see tasks/*.error.json)" if counts[2] else "")
            + ("; interrupted: continue with --resume" if code == EXIT_INTERRUPTED else "")
            + (f"; merged {merged['tasks']} tasks into {os.path.join(out, 'merged')}" if merged else ""),
            file=sys.stderr, flush=True,
        )
    return code


def _cmd_merge(args):
    from replica.scan.runner import merge

    info = merge(args.directory)
    print(f"merged {info['tasks']} complete tasks ({info['missing']} missing, {info['failed']} failed):")
    for path in info["paths"]:
        print(f"  {path}")
    return EXIT_OK if info["missing"] == 0 else EXIT_FAILURE


#: Help of the directory argument of ``replica report``.
REPORT_DIRECTORY_HELP = (
    "the scan's output directory; several directories of one ensemble (specs that differ only in scan.name, "
    "scan.seed, scan.id, grid.n_dim, grid.disorder) pool their disorder samples")
#: Help of its ``--plot-dir`` option.
REPORT_PLOT_DIR_HELP = "where to write the figures (default DIR/plots; several DIR: the first DIR/plots_pooled)"


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
    scan.add_argument("--dry-run", action="store_true",
                      help="validate, print the task count, the output directory, the estimated cost (compute and "
                      "writes) and the configuration; nothing is run")
    noise = scan.add_mutually_exclusive_group()
    noise.add_argument("--quiet", action="store_true",
                       help="no progress output (errors and the final line only); by default one progress bar "
                       "with the time left on a terminal, a line every 10%% otherwise (rank 0)")
    noise.add_argument("--verbose", action="store_true",
                       help="a line per finished task from every rank, instead of the progress bar")
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
    rep.add_argument("directory", nargs="+", help=REPORT_DIRECTORY_HELP)
    rep.add_argument("--no-plots", action="store_true", help="print the tables only")
    rep.add_argument("--plot-dir", help=REPORT_PLOT_DIR_HELP)
    rep.set_defaults(func=_cmd_report)
    return parser


def main(argv=None):
    """Run ``replica ARGV...``; returns the exit status.

    Without ``argv`` (the ``replica`` command: arguments from ``sys.argv``) ``scan`` leaves
    SIGINT and SIGTERM ignored after its task loop until the process exits; with ``argv`` (a call
    from Python) it restores the previous handlers. A reader of the standard output that goes
    away early (``replica report DIR | head``) ends the command quietly with status 141.
    """
    process_entry = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["scan"]:
        from replica._environment import pin_threads

        pin_threads()
    parser = build_parser()
    args = parser.parse_args(argv)
    args.process_entry = process_entry
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"replica {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The standard way (Python's signal documentation): point stdout at devnull so that the
        # flush at exit does not raise again, and end quietly.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
