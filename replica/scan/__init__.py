"""Parameter scans: TOML specs, the task list, the per-task physics and the MPI driver.

``spec`` validates a TOML file into frozen dataclasses; ``tasks`` turns it into (N, t, disorder)
tasks with their seed keys, costs and static rank assignment; ``compute`` runs one task (no files,
no MPI); ``runner`` drives a scan over MPI ranks with atomic per-task files, resume and merge.
The command line is ``replica scan SPEC.toml``, ``replica merge DIR``, ``replica report DIR``.
"""
from .spec import MODELS, OBSERVABLES, ScanSpec, SpecError, load_spec, parse_spec
from .tasks import Task, assign, make_tasks, task_cost

__all__ = [
    "MODELS",
    "OBSERVABLES",
    "ScanSpec",
    "SpecError",
    "load_spec",
    "parse_spec",
    "Task",
    "make_tasks",
    "task_cost",
    "assign",
]
