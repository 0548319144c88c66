"""Reports of a scan directory: disorder averages, located transitions, figures.

``report(DIR)`` (the command ``replica report DIR``) reads the tables of a scan written by
``replica scan`` (layout in :mod:`replica.scan.runner`), prints the task counts, the disorder
averages of every observable and the transitions the data locate, and writes figures to
``DIR/plots/`` when matplotlib (the optional extra ``plot``) is installed. The pieces are public
so that a notebook can use them on the same tables:

* :func:`load_scan`: the result, histogram and potential tables (merged or per task), read by
  :mod:`replica.scan.directory`, the reader ``replica merge`` uses too;
* :func:`disorder_summary`: mean over disorder samples with its standard error, per
  (model, process, parameters, N, t, observable, method);
* :func:`located_transitions`: speciation, collapse and fragmentation located by every criterion
  registered in :mod:`replica.criteria` that the tables support (per N, between sizes, and
  extrapolated to N -> infinity; :func:`replica.transitions.locate`), with the theory beside
  (:func:`replica.transitions.with_theory`);
* :func:`monte_carlo_checks`: the Monte Carlo tasks whose replicas did not mix (``mixed = 0``)
  and those whose rows disagree with the exact rows of the same task by more than
  :data:`Z_LIMIT` standard errors (``z_exact:<observable>`` rows);
* :func:`make_plots`: the figures (P(q) tables, which exact atoms of large data sets make
  large, are read piece by piece for them). What the figures show of a criterion comes from its
  registry entry too: its level on an observable's panel, which panels carry which transition's
  theory line, and its role (:data:`CRITERION_ROLES`).

Conventions: the error of a disorder average is the standard error of the mean over the
independent disorder samples, ``sd / sqrt(n)`` (``ddof = 1``; ``replica.stats.disorder_average``),
which already contains each sample's own statistical noise. With a single disorder sample the
within-task error is reported instead (column ``stderr_kind``). Non-linear functions of disorder
averages use the jackknife (the Binder cumulant ``binder_disorder``).

The package is split by job: :mod:`.reading` (P(q) tables piece by piece), :mod:`.printing`
(tables, checks, located transitions) and :mod:`.plots` (figures); this module runs them.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..cli import REPORT_DIRECTORY_HELP, REPORT_PLOT_DIR_HELP
from ..exit_codes import EXIT_BAD_INPUT, EXIT_DISAGREEMENT, EXIT_OK
from ..scan.directory import TABLES, ScanStatus, load_scan, scan_status, table_files
from ..scan.pooling import pool_scans
from ..summary import disorder_summary
from ..transitions import locate_transitions
from . import reading
from .plots import (
    CRITERION_ROLES,
    OBSERVABLE_LABELS,
    PLOT_INSTALL,
    PROCESS_LABELS,
    _matplotlib_available,
    make_plots,
    observable_label,
)
from .printing import Z_LIMIT, _print_checks, _print_transitions, format_summary, located_transitions, monte_carlo_checks

__all__ = [
    "EXIT_OK",
    "EXIT_BAD_INPUT",
    "EXIT_DISAGREEMENT",
    "Z_LIMIT",
    "monte_carlo_checks",
    "PLOT_INSTALL",
    "TABLES",
    "ScanStatus",
    "scan_status",
    "load_scan",
    "disorder_summary",
    "locate_transitions",
    "located_transitions",
    "format_summary",
    "make_plots",
    "OBSERVABLE_LABELS",
    "PROCESS_LABELS",
    "CRITERION_ROLES",
    "observable_label",
    "report",
    "main",
]


def report(directory, *, plots=True, plot_dir=None, stream=None, line_width=120):
    """Print the report of a scan directory and write its figures; return an exit code.

    Prints the scan name, the task counts (done, failed from ``tasks/*.error.json``, missing
    against the task count of ``scan.json``), which tables were read (merged or per task), the
    disorder averages (:func:`disorder_summary`, :func:`format_summary`), the located
    transitions with the theory beside (:func:`located_transitions`) and the paths of the figures written to
    ``plot_dir`` (default ``DIR/plots``; :func:`make_plots`). Without matplotlib one line says
    that the plots were skipped and how to install them. Everything goes to ``stream`` (default
    standard output; error messages to standard error unless ``stream`` is given).

    ``directory`` may be a list of scan directories of one ensemble: their disorder samples are
    pooled (:func:`replica.scan.pooling.pool_scans`, which names what keeps them apart when they
    cannot be), and the figures go to ``plots_pooled`` in the first directory unless
    ``plot_dir`` is given.

    Monte Carlo scans also get their checks (:func:`monte_carlo_checks`): tasks whose replicas
    did not mix are listed with a warning, and rows more than :data:`Z_LIMIT` standard errors
    from the exact row of the same task are listed as errors.

    Returns 0 (``EXIT_OK``); 4 (``EXIT_DISAGREEMENT``) when a Monte Carlo row disagrees with its
    exact row by more than ``Z_LIMIT`` standard errors (after printing and plotting everything);
    or 2 (``EXIT_BAD_INPUT``) with a message naming ``directory`` when it does not exist, holds no
    scan, or holds no results yet, or naming what keeps several directories from being pooled.
    """
    errors = sys.stderr if stream is None else stream
    stream = sys.stdout if stream is None else stream
    directories = [directory] if isinstance(directory, (str, bytes, os.PathLike)) else list(directory)
    pooled = None
    try:
        if len(directories) == 1:
            statuses = [scan_status(directories[0])]
            tables = load_scan(statuses[0].directory, statuses[0], tables=("results", "potentials"))
        else:
            pooled = pool_scans(directories)
            statuses = pooled.statuses
            tables = pooled.load(("results", "potentials"))
    except ValueError as exc:
        print(f"replica report: error: {exc}", file=errors)
        return EXIT_BAD_INPUT
    path = statuses[0].directory
    if pooled is None:
        print(f"scan: {statuses[0].name} ({path})", file=stream)
    else:
        print(f"scans pooled: {len(statuses)}, disorder labels shifted to stay distinct", file=stream)
        print(pooled.describe(), file=stream)
    for status in statuses:
        if pooled is not None:
            print(f"{status.name}:", file=stream)
        print(status.describe(), file=stream)
        for task, line in list(status.errors.items())[:10]:
            print(f"  failed {task}: {line}", file=stream)
        if len(status.errors) > 10:
            print(f"  ... and {len(status.errors) - 10} more (see "
                  f"{os.path.join(status.directory, 'tasks')}/*.error.json)", file=stream)
    results = tables["results"]
    print(f"tables: {results.attrs.get('note', '')}", file=stream)
    if results.empty:
        print(f"replica report: error: directory: {path!r} holds no results yet", file=errors)
        return EXIT_BAD_INPUT
    checks = monte_carlo_checks(results)
    n_checked = int((results["observable"].astype(str) == "mixed").sum())
    code = EXIT_DISAGREEMENT if not checks["disagree"].empty else EXIT_OK
    results = results[~results["observable"].astype(str).str.startswith("z_exact:")]
    summary = disorder_summary(results)
    transitions = located_transitions(results, summary)
    print(f"results: {len(results)} rows; N = {sorted(int(n) for n in results['n_dim'].unique())}; "
          f"{results['t'].nunique()} times in [{results['t'].min():.4g}, {results['t'].max():.4g}]; "
          f"up to {int(summary['n_disorder'].max())} disorder samples", file=stream)
    print("disorder averages: value ± standard error over disorder samples "
          "(where n_dis = 1: the within-task error)", file=stream)
    for title, table in format_summary(summary):
        print(f"\n[{title}]", file=stream)
        print(table.to_string(line_width=line_width), file=stream)
    print(file=stream)
    if n_checked:
        _print_checks(checks, n_checked, stream, line_width)
        print(file=stream)
    _print_transitions(transitions, stream)
    if not plots:
        return code
    if not _matplotlib_available():
        print(f"plots: skipped (matplotlib is not installed; install the 'plot' extra: {PLOT_INSTALL})", file=stream)
        return code
    default = "plots" if pooled is None else "plots_pooled"
    target = os.path.join(path, default) if plot_dir is None else os.fspath(plot_dir)
    if pooled is None:
        files = table_files(path, statuses[0])[0]["histograms"]
        densities = reading.histogram_densities(lambda: reading.batches(files, reading.HISTOGRAM_READ))
    else:
        densities = reading.histogram_densities(
            lambda: pooled.batches("histograms", reading.HISTOGRAM_READ, reading.batches))
    written = make_plots(tables, summary, transitions, target, histogram_densities=densities)
    print(f"plots: {len(written)} files in {target}", file=stream)
    for p in written:
        print(f"  {p}", file=stream)
    return code


def main(argv=None):
    """``python -m replica.report DIR [DIR ...] [--no-plots] [--plot-dir D]`` (same as ``replica report``)."""
    parser = argparse.ArgumentParser(prog="python -m replica.report", description=report.__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="+", help=REPORT_DIRECTORY_HELP)
    parser.add_argument("--no-plots", action="store_true", help="print the tables only")
    parser.add_argument("--plot-dir", help=REPORT_PLOT_DIR_HELP)
    args = parser.parse_args(argv)
    return report(args.directory, plots=not args.no_plots, plot_dir=args.plot_dir)
