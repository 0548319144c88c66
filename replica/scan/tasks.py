"""The task list of a scan: (N, t, disorder) units, their seed keys, costs and rank assignment.

A task is one disorder sample at one dimension and one time. Its seed key is the tuple
``(scan id, model id, N, t index, disorder)`` (``design.md``: seeding): the quenched state is drawn
from ``(root seed, scan id, model id, N)`` and the disorder index (so the same x0 and noise are
used at every t: curves against t are coupled), the model's own randomness (training points,
couplings, patterns) from ``(root seed, scan id, model id, N, disorder, MODEL_STREAM)``, and the
sampler's streams from the full key. Nothing depends on the rank that runs the task, so a scan
gives the same numbers on any number of ranks.

Assignment is static: tasks sorted by estimated cost (largest first) are dealt to the rank with
the least accumulated cost (longest-processing-time rule), ties to the lowest rank; every rank
computes the same assignment without communicating.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .spec import MODELS, ScanSpec

__all__ = ["Task", "make_tasks", "task_cost", "assign", "MODEL_STREAM", "EXACT_STREAM"]

#: Stream tag (after the disorder index) of a model realisation's random numbers; the quenched
#: state uses tags 0 (x0) and 1 (noise) at the same position (``mc.disorder``).
MODEL_STREAM = 2
#: Stream tag (after the full task key) of the exact sampler's draws.
EXACT_STREAM = 1000
#: Stream tag (after the full task key) of the Franz-Parisi references and umbrella windows.
FP_STREAM = 1001
#: Stream tag (after the full task key) of the exact draws behind a P(q) too costly to sum exactly.
HISTOGRAM_STREAM = 1002


@dataclass(frozen=True, order=True)
class Task:
    """One (N, t, disorder) unit of a scan."""

    n_dim: int
    t_index: int
    disorder: int
    t: float

    @property
    def name(self):
        """File-name stem: ``N<n>_t<index>_d<disorder>``."""
        return f"N{self.n_dim}_t{self.t_index:03d}_d{self.disorder:04d}"

    def key(self, spec):
        """Seed key ``(scan id, model id, N, t index, disorder)``."""
        return (spec.scan.id, spec.model.id, self.n_dim, self.t_index, self.disorder)


def make_tasks(spec):
    """All tasks of a spec, ordered by N, then t, then disorder."""
    if not isinstance(spec, ScanSpec):
        raise ValueError(f"spec: expected a ScanSpec, got {type(spec).__name__}")
    return [
        Task(n_dim=n, t_index=i, disorder=d, t=t)
        for n in spec.grid.n_dim
        for i, t in enumerate(spec.grid.t)
        for d in range(spec.grid.disorder)
    ]


#: Rough seconds per unit of work on one core, for the ``--dry-run`` estimate only.
_SECONDS_PER_UNIT = 2e-8


def task_cost(spec, task):
    """Estimated cost of a task in seconds on one core (order of magnitude; used to sort tasks
    and for ``--dry-run``). Per model: data sets ``n N``, Gaussians ``N`` (eigenbasis), exact
    spins ``2^N N``, Curie-Weiss ``N sqrt(N)`` (Hubbard-Stratonovich grid), Monte Carlo
    ``sweeps x replicas x rungs x N`` (times N for dense couplings), plus exact draws."""
    n = task.n_dim
    name, space = spec.model.name, MODELS[spec.model.name].space
    p = spec.model.params
    s = spec.sampler
    if name == "dataset_alpha":
        points = math.exp(min(p["alpha"] * n, 700.0))
    elif name == "dataset_gaussian":
        points = p["n_points"]
    else:
        points = 2
    if space == "points":
        exact = points * n
        if "overlap_histogram" in spec.observables.names:  # exact pair sum over the supported points
            exact += min(points, 4096) ** 2 * n * 0.05
    elif space == "spins":
        exact = n**1.5 * 100 if name == "curie_weiss" else (2.0**n) * n if n <= 20 else math.inf
    else:
        exact = 10.0 * n * n
    units = (exact if s.method == "exact" else 0.0) + 1e5
    if s.method == "exact":
        units += 20.0 * s.replicas * s.draws * n
    else:
        rungs = s.n_temperatures or (1 if s.tempering == "none" else 8)
        per_site = 1 + n / 64 if name in ("sherrington_kirkpatrick", "hopfield") else 1
        per_site = per_site * 2 if space != "spins" else per_site
        units += s.sweeps * s.replicas * rungs * n * max(1, per_site) * 1.5
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
    loads = [0.0] * n_ranks
    out = [[] for _ in range(n_ranks)]
    for i in order:
        r = min(range(n_ranks), key=lambda k: (loads[k], k))
        out[r].append(i)
        loads[r] += costs[i]
    return out
