"""The task list of a scan: (N, t, disorder) units, their seed keys, costs and rank assignment.

A task is one disorder sample at one dimension and one time (and, for a data file with an
``n_points`` list, one training-set size). Its seed key is the tuple
``(scan id, model id, N, t index, disorder)`` (``design.md``: seeding): the quenched state is drawn
from ``(root seed, scan id, model id, N)`` and the disorder index (so the same x0 and noise are
used at every t: curves against t are coupled), the model's own randomness (training points,
couplings, patterns) from ``(root seed, scan id, model id, N, disorder, MODEL_STREAM)``, and the
sampler's streams from the full key. Nothing depends on the rank that runs the task, so a scan
gives the same numbers on any number of ranks.

The task list is never built: :func:`make_tasks` returns a :class:`TaskList`, a sequence that
makes each task from its index, :func:`count_tasks` the count and :func:`iter_tasks` the tasks
in order. Validation caps the count at :data:`replica.scan.spec.MAX_TASKS`.

Assignment is static: tasks sorted by estimated cost (largest first) are dealt to the rank with
the least accumulated cost (longest-processing-time rule), ties to the lowest rank; every rank
computes the same assignment without communicating.
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .spec import CLONES, MAX_TASKS, MODELS, ScanSpec

__all__ = ["Task", "TaskList", "make_tasks", "count_tasks", "iter_tasks", "task_cost", "assign", "MAX_TASKS",
           "MODEL_STREAM", "PRIOR_DRAW_STREAM", "EXACT_STREAM"]

#: Stream tag (after the disorder index) of a model realisation's random numbers; the quenched
#: state uses tags 0 (x0) and 1 (noise) at the same position (``mc.disorder``).
MODEL_STREAM = 2
#: Stream tag (after the disorder index) of the Monte Carlo draw of a planted x0 from a prior
#: that cannot be drawn exactly (``replica.scan.compute.planted_by_monte_carlo``).
PRIOR_DRAW_STREAM = 3
#: Stream tag (after the full task key) of the exact sampler's draws.
EXACT_STREAM = 1000
#: Stream tag (after the full task key) of the Franz-Parisi references and umbrella windows.
FP_STREAM = 1001
#: Stream tag (after the full task key) of the exact draws behind a P(q) too costly to sum exactly.
HISTOGRAM_STREAM = 1002


@dataclass(frozen=True, order=True)
class Task:
    """One (N, t, disorder) unit of a scan; ``n_points`` is the training-set size of a scan
    over sizes (a data file's ``model.n_points`` list), ``None`` otherwise."""

    n_dim: int
    t_index: int
    disorder: int
    t: float
    n_points: int | None = None

    @property
    def name(self):
        """File-name stem: ``N<n>_t<index>_d<disorder>``, ``N<n>_n<size>_t<index>_d<disorder>``
        in a scan over training-set sizes."""
        size = "" if self.n_points is None else f"_n{self.n_points}"
        return f"N{self.n_dim}{size}_t{self.t_index:03d}_d{self.disorder:04d}"

    def key(self, spec):
        """Seed key ``(scan id, model id, N, t index, disorder)``, with the training-set size
        after N in a scan over sizes. (The model's points and the quenched x0 and noise do not
        depend on the size: at one disorder sample the subsets are nested and x_t is shared.)"""
        size = () if self.n_points is None else (self.n_points,)
        return (spec.scan.id, spec.model.id, self.n_dim, *size, self.t_index, self.disorder)


def _check_spec(spec):
    if not isinstance(spec, ScanSpec):
        raise ValueError(f"spec: expected a ScanSpec, got {type(spec).__name__}")
    return spec


def count_tasks(spec):
    """Number of tasks of a spec, ``len(grid.n_dim) x (training-set sizes) x len(grid.t) x
    grid.disorder``, without making them."""
    grid = _check_spec(spec).grid
    return len(grid.n_dim) * len(spec.model.axis_values) * len(grid.t) * grid.disorder


def iter_tasks(spec):
    """The tasks of a spec one by one, ordered by N, then training-set size, then t, then disorder."""
    grid = _check_spec(spec).grid
    for n in grid.n_dim:
        for size in spec.model.axis_values:
            for i, t in enumerate(grid.t):
                for d in range(grid.disorder):
                    yield Task(n_dim=n, t_index=i, disorder=d, t=t, n_points=size)


class TaskList(Sequence):
    """The tasks of a spec as a read-only sequence that makes each task from its index.

    Ordered by N, then t, then disorder, as :func:`iter_tasks`; ``len`` is :func:`count_tasks`.
    Indexing (negative indices too) costs O(1) and holds nothing, so a spec's task count costs no
    memory; a slice gives a list.
    """

    def __init__(self, spec):
        self._grid = _check_spec(spec).grid
        self._sizes = spec.model.axis_values
        self._spec = spec
        self._len = count_tasks(spec)

    def __len__(self):
        return self._len

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._len))]
        if isinstance(index, bool) or not isinstance(index, int):
            try:
                index = index.__index__()
            except AttributeError:
                raise TypeError(f"task index: expected an integer or a slice, got {type(index).__name__}") from None
        i = index + self._len if index < 0 else index
        if not 0 <= i < self._len:
            raise IndexError(f"task index {index} out of range for {self._len} tasks")
        grid, sizes = self._grid, self._sizes
        i_n, rest = divmod(i, len(sizes) * len(grid.t) * grid.disorder)
        i_s, rest = divmod(rest, len(grid.t) * grid.disorder)
        i_t, d = divmod(rest, grid.disorder)
        return Task(n_dim=grid.n_dim[i_n], t_index=i_t, disorder=d, t=grid.t[i_t], n_points=sizes[i_s])

    def __iter__(self):
        return iter_tasks(self._spec)

    def __eq__(self, other):
        if isinstance(other, TaskList):
            return self._grid == other._grid and self._sizes == other._sizes
        if isinstance(other, (list, tuple)):
            return len(other) == self._len and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return f"TaskList({self._len} tasks of scan {self._spec.scan.name!r})"


def make_tasks(spec):
    """All tasks of a spec, ordered by N, then t, then disorder, as a :class:`TaskList` (indexed
    lazily: nothing is built until a task is asked for)."""
    return TaskList(spec)


#: Rough seconds per unit of work on one core, for the ``--dry-run`` estimate only.
_SECONDS_PER_UNIT = 2e-8


def task_cost(spec, task):
    """Estimated cost of a task in seconds on one core (order of magnitude; used to sort tasks
    and for ``--dry-run``). The exact route costs what the model's registry entry says
    (``exact_cost``: data sets ``n N``, Gaussians ``10 N^2``, exact spins ``2^N N``, Curie-Weiss
    ``100 N sqrt(N)``) plus, for a data set's overlap histogram, the pair sum over its supported
    points; Monte Carlo ``(burn_in + sweeps) x replicas x rungs x N x site cost`` (the entry's
    ``site_cost``: ``1 + N / 64`` for dense couplings; twice for continuous moves), plus exact
    draws; clones ``replicas x draws x steps x score calls per step x the exact cost`` (one score
    call of a closed-form score costs about one exact posterior; a network, whatever it costs, is
    not known here), with 1.5x for the half-step check."""
    n = task.n_dim
    entry = MODELS[spec.model.name]
    space, p = entry.space, spec.model.task_parameters(task.n_points)
    s = spec.sampler
    exact = entry.exact_cost(p, n)
    if space == "points" and "overlap_histogram" in spec.observables.names:  # exact pair sum over the support
        points = entry.n_points(p, n) or 2.0
        exact += min(points, 4096) ** 2 * n * 0.05
    units = (exact if s.method == "exact" else 0.0) + 1e5
    if s.method == "exact":
        units += 20.0 * s.n_replicas * s.draws * n
    elif s.method == CLONES:
        sc = spec.score
        calls = sc.n_steps * (2 if sc.scheme == "heun" else 1) * (1.5 if sc.check_steps else 1.0)
        units += s.n_replicas * s.draws * calls * min(exact, 1e9)
        if s.exact_reference and math.isfinite(exact):
            units += exact
    else:
        rungs = s.n_temperatures or (1 if s.tempering == "none" else 8)
        per_site = entry.site_cost(p, n) * (2 if space != "spins" else 1)
        # burn-in too (mc.sample's default: sweeps // 4, where 1.2 x 1.25 sweeps is the former 1.5 x sweeps)
        burn_in = s.n_sweeps // 4 if s.burn_in is None else s.burn_in
        units += (burn_in + s.n_sweeps) * s.n_replicas * rungs * n * max(1, per_site) * 1.2
        if s.exact_reference and math.isfinite(exact):
            units += exact
    if not math.isfinite(units):
        units = 1e18
    return units * _SECONDS_PER_UNIT


def assign(costs, n_ranks):
    """Static assignment of task indices to ranks (longest-processing-time rule).

    Returns a list of ``n_ranks`` lists of task indices; each list is in decreasing cost, so a
    rank runs its largest tasks first.
    """
    if n_ranks < 1:
        raise ValueError(f"n_ranks: must be >= 1, got {n_ranks}")
    order = sorted(range(len(costs)), key=lambda i: (-costs[i], i))
    heap = [(0.0, r) for r in range(n_ranks)]  # (load, rank): the least loaded, then the lowest rank
    out = [[] for _ in range(n_ranks)]
    for i in order:
        load, r = heap[0]
        out[r].append(i)
        heapq.heapreplace(heap, (load + costs[i], r))
    return out
