"""What a scan says while it runs: one progress bar, a few summary lines, or a line per task.

Progress is measured in estimated cost (``replica.scan.tasks.task_cost``, core-seconds), not in
tasks: a rank runs its largest tasks first, so a count of tasks would make the first minutes look
slow and the estimated time left too long. The estimated time left is
``elapsed * (cost left) / (cost done)``.

Modes, as ``run_scan(progress=...)`` takes them:

* ``False`` (``replica scan --quiet``): nothing.
* ``True`` (the default): rank 0 reports on its own share of the tasks (under MPI the static
  assignment balances the estimated cost over the ranks, so its share stands for the whole
  scan). On a terminal it draws one bar (tqdm) with the time left; otherwise (a log file, a
  batch job) it prints a line each time another 10 % of its share is done. A failed task is
  reported by the rank that ran it, one line each.
* ``"verbose"`` (``replica scan --verbose``): every rank prints a line per task,
  ``[rank r/K] k/n TASK (N=.., t=.., disorder d) 0.12 s, ETA h:mm:ss``.
"""
from __future__ import annotations

import math
import sys
import time

__all__ = ["Progress", "format_duration"]

#: Without a terminal, a summary line each time this fraction more of the share is done.
SUMMARY_STEP = 0.1


def format_duration(seconds):
    """``h:mm:ss`` (``?`` for an unknown duration)."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(round(max(seconds, 0.0)))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _is_terminal(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """Progress output of one rank's share of a scan (see the module's description).

    Parameters
    ----------
    mode : bool or "verbose"
        ``False`` nothing, ``True`` a bar or summary lines (rank 0), ``"verbose"`` a line per task.
    name : str
        The scan's name (``[scan] name``).
    costs : sequence of float
        Estimated cost of each task of this rank's share.
    rank, size : int
        This rank and the number of ranks.
    stream : file, optional
        Where to write (default ``sys.stderr``).
    clock : callable, optional
        Seconds as a float (default ``time.perf_counter``); tests pass their own.
    """

    def __init__(self, mode, *, name, costs, rank=0, size=1, stream=None, clock=None):
        if mode not in (False, True, "verbose"):
            raise ValueError(f"progress: expected False, True or 'verbose', got {mode!r}")
        self.mode, self.name, self.rank, self.size = mode, name, rank, size
        self.stream = sys.stderr if stream is None else stream
        self.clock = time.perf_counter if clock is None else clock
        self.n_tasks = len(costs)
        self.total_cost = float(sum(costs))
        self.done_cost = 0.0
        self.finished = 0  # run, skipped or failed
        self.n_failed = 0
        self.t_start = self.clock()
        self._next_summary = SUMMARY_STEP
        self._bar = None
        self.summary_lines = mode is True and rank == 0 and not _is_terminal(self.stream)
        if mode is True and rank == 0 and not self.summary_lines and self.n_tasks:
            from tqdm import tqdm

            label = name if size == 1 else f"{name} (rank 0 of {size})"
            self._bar = tqdm(
                total=max(self.total_cost, 1e-12), file=self.stream, desc=label, smoothing=0.0, mininterval=0.5,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
                dynamic_ncols=True, leave=True,
            )
            self._bar.set_postfix_str(self._count(), refresh=False)

    # ------------------------------------------------------------------ helpers
    def _count(self):
        failed = f", {self.n_failed} failed" if self.n_failed else ""
        return f"{self.finished}/{self.n_tasks} tasks{failed}"

    def eta(self):
        """Estimated seconds left for this rank's share (``nan`` before the first task is done)."""
        if self.done_cost <= 0:
            return math.nan
        elapsed = self.clock() - self.t_start
        return elapsed / self.done_cost * max(self.total_cost - self.done_cost, 0.0)

    def fraction(self):
        """Fraction of the share's estimated cost done (1 when every task is finished)."""
        if self.finished >= self.n_tasks or self.total_cost <= 0:
            return 1.0
        return min(self.done_cost / self.total_cost, 1.0)

    def _print(self, msg):
        if self._bar is not None:
            self._bar.write(msg, file=self.stream)
        else:
            print(msg, file=self.stream, flush=True)

    def _advance(self, cost):
        if self._bar is not None:
            self._bar.total = max(self.total_cost, 1e-12)
            self._bar.set_postfix_str(self._count(), refresh=False)
            self._bar.update(cost)
        elif self.summary_lines:
            if self.fraction() + 1e-12 >= self._next_summary or self.finished == self.n_tasks:
                whose = "" if self.size == 1 else f", rank 0 of {self.size}"
                print(f"replica scan {self.name}{whose}: {100 * self.fraction():3.0f}% ({self._count()}), "
                      f"{format_duration(self.clock() - self.t_start)} elapsed, ETA {format_duration(self.eta())}",
                      file=self.stream, flush=True)
                while self._next_summary <= self.fraction() + 1e-12:
                    self._next_summary += SUMMARY_STEP

    # ------------------------------------------------------------------ events
    def skipped(self, cost):
        """A task found complete on resume: its cost leaves the share."""
        self.finished += 1
        self.total_cost -= cost
        if self.mode is True:
            self._advance(0.0)

    def done(self, task, wall_time, cost):
        """A task ran and wrote its files in ``wall_time`` seconds."""
        self.finished += 1
        self.done_cost += cost
        if self.mode == "verbose":
            print(f"[rank {self.rank}/{self.size}] {self.finished}/{self.n_tasks} {task.name} "
                  f"(N={task.n_dim}{'' if task.n_points is None else f', n={task.n_points}'}, t={task.t:.4g}, "
                  f"disorder {task.disorder}) {wall_time:.2f} s, "
                  f"ETA {format_duration(self.eta())}", file=self.stream, flush=True)
        elif self.mode is True:
            self._advance(cost)

    def failed(self, name, exc, cost):
        """A task raised ``exc``: one line from the rank that ran it (unless quiet)."""
        self.finished += 1
        self.n_failed += 1
        self.done_cost += cost
        if self.mode:
            self._print(f"[rank {self.rank}/{self.size}] {name} FAILED: {type(exc).__name__}: {exc}")
        if self.mode is True:
            self._advance(cost)

    def note(self, msg):
        """A line about this rank's run (an abandoned task): every rank when verbose, else rank 0."""
        if self.mode == "verbose" or (self.mode is True and self.rank == 0):
            self._print(f"[rank {self.rank}/{self.size}] {msg}")

    def close(self):
        """End the bar (if any); safe to call twice."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
