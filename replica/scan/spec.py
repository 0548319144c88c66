"""Scan specifications: a TOML file validated into frozen dataclasses before any work.

A spec names the model and its parameters, the forward process, the grid of dimensions ``n_dim``,
times ``t`` and disorder samples, the sampler and the observables, the root seed and the output
directory (``design.md``: scan specification). Every section and key is checked; an unknown key,
a wrong type, an empty range or an impossible combination (a Monte Carlo method the model has no
kernel for, exact enumeration of 100 spins, an observable the model does not define) raises a
``SpecError`` (a ``ValueError``) whose message starts with the dotted key, e.g.
``grid.t.num: must be >= 1, got 0``. So does what every task would hit (the limits below): an
integer beyond int64, more than :data:`MAX_TASKS` tasks, a time at which the process's a_t, D_t or
s_t leaves float64, a model scale outside :data:`LENGTH_RANGE`, a Monte Carlo run that records
fewer than two draws, or a task whose estimated memory (:func:`task_memory`) exceeds
``model.max_gib``. Validation is cheap and deterministic, so every MPI rank
runs it before any sampling and all ranks agree.

Example (``jobs/demo.toml``)::

    [scan]
    name = "demo"
    seed = 0

    [model]
    name = "two_class_mixture"   # +-mu, |mu|^2 = N mu^2
    mu = 1.0

    [process]
    name = "VP"

    [grid]
    n_dim = [20, 50]
    t = {start = 0.5, stop = 4.0, num = 8, spacing = "linear"}
    disorder = 4

    [sampler]
    method = "exact"
    n_replicas = 4
    draws = 100

Sections and keys are documented on the dataclasses below; :data:`MODELS` lists the models and
their parameters.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from mc.models import registry as _registry
from mc.data_files import file_sha256 as _file_sha256
from mc.models.registry import LENGTH_RANGE
from mc.processes import VE, VP, VPLinear
from mc.sampler import MAX_ADAPTIVE_RUNGS as _MAX_ADAPTIVE_RUNGS
from mc.sampler import METHODS as _MC_METHODS
from mc.scores import registry as _scores

__all__ = [
    "SpecError",
    "MODELS",
    "ScanSection",
    "ModelSection",
    "ProcessSection",
    "GridSection",
    "SamplerSection",
    "ObservablesSection",
    "ScanSpec",
    "load_spec",
    "parse_spec",
    "OBSERVABLES",
    "FranzParisiSection",
    "ScoreSection",
    "CLONES",
    "INT64_MAX",
    "MAX_TASKS",
    "MAX_GIB",
    "LENGTH_RANGE",
    "MIN_STEP_SIZE",
    "MAX_Q_POINTS",
    "task_memory",
]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


class SpecError(ValueError):
    """A scan specification is invalid; the message starts with the offending key."""


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# ------------------------------------------------------------------------------------ limits
# What every task of a scan would hit is refused here, before any work: values that float64,
# int64 or the memory of one task cannot hold.

#: Largest integer a spec may hold: TOML integers are signed 64-bit (``tomllib`` reads larger
#: ones, other TOML tools do not), the seed is written to the int64 ``seed`` column of every
#: result table, and the ids go into seed keys and manifests.
INT64_MAX = 2**63 - 1
#: Most tasks one spec may make (``len(grid.n_dim) x len(grid.t) x grid.disorder``). Every task
#: writes its own files (result tables and a manifest: millions of files in one directory), and
#: every rank computes the cost of each task and the static assignment before its first task; at
#: this count that already takes about 20 s and 400 MB per rank (measured with ``--dry-run``),
#: and ten times more for ten times the tasks. A range's ``num`` is capped by the same number
#: before its times are built, so that validation itself stays cheap.
MAX_TASKS = 1_000_000
#: Largest ``model.max_gib`` (1 PiB): more than any node holds; beyond it the memory estimate of
#: a task would no longer stop what cannot be allocated.
MAX_GIB = 2.0**20
#: Magnitude window of a length per coordinate (``mc.models.registry.LENGTH_RANGE``): the model
#: scales, and for continuous Monte Carlo started at the observation, the scale ``sqrt(s_t)`` of
#: ``y = x_t / a_t``.
#: Smallest ``sampler.step_size``: the proposal variance ``step_size**2`` must be a normal float64
#: (below about 1.5e-154 it underflows to zero, and MALA divides by it).
MIN_STEP_SIZE = 1e-150
#: Most points of a Franz-Parisi ``q`` grid: one row per point per task in the potentials table.
MAX_Q_POINTS = 100_000


# ------------------------------------------------------------------------------------ checks
def _type_name(value):
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def _int(value, key, minimum=None, maximum=INT64_MAX, why="2^63 - 1: TOML integers are signed 64-bit"):
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{key}: expected an integer, got {_type_name(value)} ({value!r})")
    if minimum is not None and value < minimum:
        raise SpecError(f"{key}: must be >= {minimum}, got {value}")
    if value > maximum:
        raise SpecError(f"{key}: must be <= {maximum} ({why}), got {value}")
    return int(value)


def _float(value, key, *, positive=False, nonnegative=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{key}: expected a number, got {_type_name(value)} ({value!r})")
    value = float(value)
    if not math.isfinite(value):
        raise SpecError(f"{key}: must be finite, got {value}")
    if positive and not value > 0:
        raise SpecError(f"{key}: must be > 0, got {value}")
    if nonnegative and not value >= 0:
        raise SpecError(f"{key}: must be >= 0, got {value}")
    return value


def _str(value, key, choices=None):
    if not isinstance(value, str):
        raise SpecError(f"{key}: expected a string, got {_type_name(value)} ({value!r})")
    if choices is not None and value not in choices:
        raise SpecError(f"{key}: expected one of {list(choices)}, got {value!r}")
    return value


def _bool(value, key):
    if not isinstance(value, bool):
        raise SpecError(f"{key}: expected true or false, got {_type_name(value)} ({value!r})")
    return value


def _table(value, key):
    if not isinstance(value, dict):
        raise SpecError(f"{key}: expected a table, got {_type_name(value)} ({value!r})")
    return value


def _check_keys(table, allowed, key):
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        where = f"{key}." if key else ""
        raise SpecError(f"{where}{unknown[0]}: unknown key (allowed: {', '.join(sorted(allowed))})")


def _require(table, name, key):
    if name not in table:
        raise SpecError(f"{key}.{name}: required")
    return table[name]


# ------------------------------------------------------------------------------------ models
class _Models(Mapping):
    """The registered models, name -> ``mc.models.registry.ModelEntry`` (built-in ones and
    plug-ins of the entry-point group ``diffusion_replicas.models``), read from the registry on
    every access so that a plug-in installed after import is seen."""

    def __getitem__(self, name):
        return _registry.models()[name]

    def __iter__(self):
        return iter(_registry.models())

    def __len__(self):
        return len(_registry.models())

    def __repr__(self):
        return f"MODELS({sorted(self)})"


#: Models a spec can name (``n_dim`` always comes from the grid); each entry owns its parameter
#: schema, builder, exactness, costs and checks (``mc.models.registry``).
MODELS = _Models()


def _model_exact(spec, n_dim):
    """Whether the model's posterior is exact at this N."""
    return spec.model.entry.is_exact(spec.model.parameters, n_dim)


# -------------------------------------------------------------------------------- observables
class _Observables(Mapping):
    """The registered observables, name -> ``(state spaces, description)`` (each one's full
    description is its ``replica.scan.observables.Observable``)."""

    def __getitem__(self, name):
        obs = _observable_registry().observables()[name]
        return obs.spaces, obs.doc

    def __iter__(self):
        return iter(_observable_registry().observables())

    def __len__(self):
        return len(_observable_registry().observables())


def _observable_registry():
    from . import observables  # it imports the estimators, which import nothing from here

    return observables


#: Observables a task can compute: name -> (state spaces where defined, description).
OBSERVABLES = _Observables()


# ------------------------------------------------------------------------------- sections
@dataclass(frozen=True)
class ScanSection:
    """``[scan]``: ``name`` (file-name safe, required), ``seed`` (root seed >= 0, required),
    ``id`` (integer scan id in every task's seed key, default 0), ``output`` (directory,
    default ``results/<name>``; the command line's ``--out`` overrides it)."""

    name: str
    seed: int
    id: int = 0
    output: str | None = None


@dataclass(frozen=True)
class ModelSection:
    """``[model]``: ``name`` (a registered model, :data:`MODELS`), ``id`` (integer model id in the seed
    key, default 0), ``realisation`` (``"per_disorder"``: every disorder sample draws its own
    training set / couplings / patterns, the usual quenched average; ``"fixed"``: one
    realisation per N), ``max_gib`` (memory cap of one task in GiB, default 2, at most
    :data:`MAX_GIB`: a data set's points are built within it, and validation refuses a spec whose
    estimated peak memory of a task, :func:`task_memory`, exceeds it), then the model's
    parameters, validated by the model's own schema (``MODELS[name].Parameters``; lengths
    ``mu``, ``v``, ``radius`` within :data:`LENGTH_RANGE`, ``variance`` within its square)."""

    name: str
    params: dict
    id: int = 0
    realisation: str = "per_disorder"
    max_gib: float = 2.0
    #: What identifies the model's data files (SHA-256, shape, preprocessing; the entry's
    #: ``describe_files``): part of the spec hash, so a changed file is a changed scan.
    data: dict = field(default_factory=dict)
    #: The data-file parameters resolved to absolute paths (relative ones are relative to the
    #: spec file); not part of the hash, so a scan may move with its data.
    resolved: dict = field(default_factory=dict, compare=False)

    @property
    def entry(self):
        """The registered model (``mc.models.registry.ModelEntry``)."""
        return MODELS[self.name]

    @functools.cached_property
    def parameters(self):
        """The validated parameters as the model's frozen schema object, data-file paths resolved
        (built once: the task list asks for it once per task). A list-valued axis parameter
        (``entry.axis``) keeps its whole list: estimates made from it are for the largest value."""
        return self.entry.Parameters(**self.params).model_copy(update=self.resolved)

    @property
    def axis_values(self):
        """The values of the entry's axis parameter (``n_points`` of a data file), one set of
        tasks each; ``(None,)`` when the model has no axis or the spec gives none."""
        axis = self.entry.axis
        values = None if axis is None else getattr(self.parameters, axis)
        return (None,) if values is None else tuple(values)

    def task_parameters(self, value):
        """The parameters of the tasks at one value of the axis (``None``: the model's own)."""
        if value is None:
            return self.parameters
        return self.parameters.model_copy(update={self.entry.axis: [value]})


@dataclass(frozen=True)
class ProcessSection:
    """``[process]``: ``name`` ``"VP"`` (Ornstein-Uhlenbeck), ``"VE"`` (Brownian; ``sigma``) or
    ``"VPLinear"`` (``beta_min``, ``beta_max``)."""

    name: str
    params: dict


#: Where the quenched x0 comes from (``grid.source``).
SOURCES = ("prior", "point", "population", "heldout", "pattern", "noise")


@dataclass(frozen=True)
class GridSection:
    """``[grid]``: ``n_dim`` (integer or list), ``t`` (list of times > 0 or a range table
    ``{start, stop, num, spacing = "linear" | "log"}``), ``disorder`` (number of disorder
    samples), ``source`` (``"prior"``: planted; ``"point"``: x0 a training point drawn from the
    prior weights (memorisation); ``"population"``: x0 from the law a generated data set was
    drawn from, unplanted; ``"heldout"``: x0 a held-out point of a data file's ``heldout`` file,
    unplanted (generalisation); ``"pattern"``: x0 a stored pattern of a Hopfield prior, drawn
    uniformly per disorder sample (retrieval: the generative process regenerating a stored
    pattern; not a draw of the prior, so unplanted); ``"noise"``: no x0,
    ``x_t ~ N(0, noise_variance I)`` with the same draw at every t, unplanted disorder
    independent of the prior, ``noise_variance`` default 1). A model whose data fix N (a data
    file) takes N from them: ``n_dim`` is then left out, and its ``n_points`` list is the size
    axis instead."""

    n_dim: tuple
    t: tuple
    disorder: int
    source: str = "prior"
    noise_variance: float | None = None


@dataclass(frozen=True)
class SamplerSection:
    """``[sampler]``: ``method`` (``"exact"`` or a Monte Carlo method of the model's state
    space: spins ``heat_bath`` / ``metropolis``, continuous ``mala`` / ``hmc`` / ``rwm``,
    sphere ``sphere``, data sets ``points``; or ``"clones"``: replicas made by the generative
    process of the ``[score]`` section, see :class:`ScoreSection`), ``n_replicas`` (>= 2 for
    overlaps), ``draws`` (exact route: independent exact draws per replica for sampled estimates
    and histograms, 0 for exact values only; clones: reverse trajectories per replica, >= 1),
    ``n_sweeps``, ``burn_in``, ``thin``, ``tempering`` (``"auto"``, the
    default: a Hamiltonian ladder where the model's prior may have several modes, as
    ``mc.sample``; ``"none"``, ``"hamiltonian"``, ``"likelihood"``, ``"adaptive"``: a Hamiltonian
    ladder each replica tunes during burn-in, non-reversible tempering as ``mc.sample``), ``n_temperatures``,
    ``lowest_beta``, ``step_size``, ``n_leapfrog``, ``init`` (``"auto"``, the default: even replicas at
    the observation, odd ones at prior draws; ``"prior"`` or ``"observation"``),
    ``exact_reference`` (with Monte Carlo, also record the exact values where the model has them,
    and the z-score of each Monte Carlo row against them), ``driver`` (``"replicas"``, the default:
    ``mc.sample``, one random stream per replica; ``"chains"``: ``mc.sample_distributed``, one
    stream per chain of every ladder, whose results do not depend on how many ranks run them) and
    ``ranks_per_task`` (default 1; above 1, needs ``driver = "chains"``: the ranks of the run form
    groups of that many, which must divide their number, and each group runs its tasks together,
    the chains of a task spread over the group's ranks; the results are those of
    ``ranks_per_task = 1``, and it is not part of the spec's hash)."""

    method: str = "exact"
    n_replicas: int = 4
    draws: int = 0
    n_sweeps: int = 1000
    burn_in: int | None = None
    thin: int = 1
    tempering: str = "auto"
    n_temperatures: int | None = None
    lowest_beta: float | None = None
    step_size: float | None = None
    n_leapfrog: int = 10
    init: str = "auto"
    exact_reference: bool = True
    driver: str = "replicas"
    ranks_per_task: int = 1


@dataclass(frozen=True)
class ObservablesSection:
    """``[observables]``: ``names`` (list; default: all that the model defines) and ``bins``
    (number of overlap-histogram bins on [-q_max, q_max] for sampled P(q), default 41)."""

    names: tuple
    bins: int = 41


@dataclass(frozen=True)
class FranzParisiSection:
    """``[franz_parisi]`` (optional; its presence adds the Franz-Parisi potential of every task to
    the ``potentials`` table and its fit to the results): ``method`` (``"exact"`` or
    ``"umbrella"``), ``order_parameter`` (``"overlap"`` or ``"distance"``), ``n_references``
    (references drawn from the posterior), ``reference`` (``"posterior"``: drawn; ``"planted"``:
    the x0 that generated x_t, an exact posterior sample when the disorder is planted), ``q``
    (grid ``{start, stop, num}``; default per route), ``bin_average`` (mixtures: density averaged
    over each bin, as umbrella sampling reports it), and for umbrella sampling ``n_sweeps``,
    ``n_replicas``, ``kappa`` per window, ``max_sweeps`` (windows that fail their criteria are
    extended up to it), ``tempering`` (``"hamiltonian"`` or ``"likelihood"``: a ladder in the
    windows, which glassy spin priors and windows between classes need) with ``n_temperatures``,
    and ``window_exchange`` (continuous models: neighbouring windows swap configurations, the
    ladder only where a pilot finds it needed)."""

    method: str = "exact"
    order_parameter: str = "overlap"
    n_references: int = 8
    reference: str = "posterior"
    q: tuple | None = None
    bin_average: bool = True
    n_sweeps: int = 2000
    n_replicas: int = 4
    kappa: float | None = None
    max_sweeps: int | None = None
    tempering: str | None = None
    n_temperatures: int | None = None
    window_exchange: bool = False

    def umbrella_options(self):
        """Keyword arguments of ``replica.umbrella.umbrella_sampling`` for each reference."""
        out = {"n_sweeps": self.n_sweeps, "n_replicas": self.n_replicas, "progress": False}
        for name in ("kappa", "max_sweeps", "tempering", "n_temperatures"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.window_exchange:
            out["window_exchange"] = True
            if self.tempering is not None:
                out["tempered_windows"] = "auto"
        return out


#: ``sampler.method`` of replicas made by cloning the generative process of a ``[score]``.
CLONES = "clones"
#: Spaces whose models a score's clones can sample (states are vectors of reals).
_CLONE_SPACES = ("points", "continuous")


@dataclass(frozen=True)
class ScoreSection:
    """``[score]`` (with ``sampler.method = "clones"``): the score model whose generative process
    makes the replicas (``mc.clones``: ``sampler.n_replicas`` x ``sampler.draws`` independent
    reverse trajectories from each task's x_t). ``name`` (a registered score,
    ``mc.scores.scores()``: ``"empirical"``, ``"gaussian"``, ``"smoothed"``, ``"network"`` or a
    plug-in) and its parameters, validated by its schema; file parameters (a network's
    ``weights``) are relative to the spec file, may hold ``{n_points}`` (one file per training-set
    size) and are fingerprinted (SHA-256) into the spec hash. The integration: ``n_steps`` (even,
    default 200), ``scheme`` (``"heun"``, the default, or ``"euler"``), ``t_stop`` (end time as a
    fraction of t, default 1e-3), ``spacing`` (``"log"``, the default, or ``"linear"``),
    ``check_steps`` (the half-step check of the discretisation bias, default true) and
    ``batch_size`` (paths integrated together, default 1024; the clones do not depend on it)."""

    name: str
    params: dict
    n_steps: int = 200
    scheme: str = "heun"
    t_stop: float = 1e-3
    spacing: str = "log"
    check_steps: bool = True
    batch_size: int = 1024
    #: SHA-256 and size of each file, by parameter and training-set size (part of the hash).
    data: dict = field(default_factory=dict)
    #: File parameters resolved to absolute paths, ``{n_points}`` kept (not hashed).
    resolved: dict = field(default_factory=dict, compare=False)

    @property
    def entry(self):
        """The registered score (``mc.scores.registry.ScoreEntry``)."""
        return _scores.get(self.name)

    def parameters(self, n_points=None):
        """The validated parameters with file paths resolved for a task of training-set size
        ``n_points`` (``{n_points}`` replaced)."""
        files = {k: _scores.expand_file(v, n_points) for k, v in self.resolved.items()}
        return self.entry.Parameters(**self.params).model_copy(update=files)

    def build(self, model, process, n_points=None):
        """The score model of one task (its data model and forward process)."""
        return self.entry.build(self.parameters(n_points), model, process)


@dataclass(frozen=True)
class ScanSpec:
    """A validated scan: its sections and the canonical text it was built from."""

    scan: ScanSection
    model: ModelSection
    process: ProcessSection
    grid: GridSection
    sampler: SamplerSection
    observables: ObservablesSection
    franz_parisi: FranzParisiSection | None = None
    score: ScoreSection | None = None
    source_text: str = field(default="", compare=False, repr=False)

    @property
    def space(self):
        return MODELS[self.model.name].space

    def canonical(self):
        """The validated configuration as a plain dict (output directory excluded)."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "source_text":
                continue
            value = getattr(self, f.name)
            out[f.name] = None if value is None else dataclasses.asdict(value)
        out["scan"].pop("output", None)
        out["model"].pop("resolved", None)
        if out["score"] is None:
            out.pop("score")
        else:
            out["score"].pop("resolved", None)
            out["score"].pop("batch_size", None)  # the clones do not depend on it
        # keys added later are left out when unused, so that a spec keeps its hash
        if not out["model"].get("data"):
            out["model"].pop("data", None)
        if out["sampler"].get("driver") == "replicas":
            out["sampler"].pop("driver")
        out["sampler"].pop("ranks_per_task", None)  # the results do not depend on it
        if out["grid"].get("noise_variance") is None:
            out["grid"].pop("noise_variance", None)
        if out["franz_parisi"] is not None:
            for name, unused in (("max_sweeps", None), ("tempering", None), ("n_temperatures", None),
                                 ("window_exchange", False)):
                if out["franz_parisi"].get(name) == unused:
                    out["franz_parisi"].pop(name)
        if (out["model"].get("params") or {}).get("couplings_dtype") == "float64":
            out["model"]["params"].pop("couplings_dtype")
        return out

    @property
    def hash(self):
        """SHA-256 of the canonical configuration: a resumed scan must have the same."""
        text = json.dumps(self.canonical(), sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self):
        """Multi-line human-readable summary of the configuration (for ``--dry-run``)."""
        return json.dumps(self.canonical(), indent=2, sort_keys=False, default=list)


# ------------------------------------------------------------------------------- parsing
_SECTIONS = ("scan", "model", "process", "grid", "sampler", "observables", "franz_parisi", "score")


def _parse_scan(table):
    key = "scan"
    table = _table(table, key)
    _check_keys(table, ("name", "seed", "id", "output"), key)
    name = _str(_require(table, "name", key), "scan.name")
    if not _NAME.match(name):
        raise SpecError(f"scan.name: use letters, digits, '_', '-', '.' only, got {name!r}")
    seed = _require(table, "seed", key)
    if isinstance(seed, int) and not isinstance(seed, bool) and seed > INT64_MAX:
        raise SpecError(f"scan.seed: must be < 2^63 = {INT64_MAX + 1} (every result table stores it in an int64 "
                        f"column, and TOML integers are signed 64-bit), got {seed}")
    seed = _int(seed, "scan.seed", minimum=0)
    scan_id = _int(table.get("id", 0), "scan.id", minimum=0)
    output = table.get("output")
    if output is not None:
        output = _str(output, "scan.output")
        if not output:
            raise SpecError("scan.output: must not be empty")
    return ScanSection(name=name, seed=seed, id=scan_id, output=output)


def _resolve_files(entry, params, base_dir):
    """Absolute paths of the entry's data-file parameters (relative ones against ``base_dir``)."""
    out = {}
    for key in entry.files:
        value = getattr(params, key, None)
        if value is not None:
            path = os.path.expanduser(value)
            out[key] = os.path.normpath(path if os.path.isabs(path) else os.path.join(base_dir, path))
    return out


def _parse_model(table, base_dir=None):
    table = _table(table, "model")
    name = _str(_require(table, "name", "model"), "model.name", choices=tuple(MODELS))
    entry = MODELS[name]
    own = ("name", "id", "realisation", "max_gib")
    try:
        params = _registry.parse_parameters(entry, {k: v for k, v in table.items() if k not in own})
    except _registry.ModelSpecError as exc:
        raise SpecError(str(exc)) from None
    model_id = _int(table.get("id", 0), "model.id", minimum=0)
    realisation = _str(table.get("realisation", "per_disorder"), "model.realisation", ("per_disorder", "fixed"))
    max_gib = _float(table.get("max_gib", 2.0), "model.max_gib", positive=True)
    if max_gib > MAX_GIB:
        raise SpecError(f"model.max_gib: must be <= {MAX_GIB:g} GiB (replica.scan.spec.MAX_GIB, more than any node "
                        f"holds), got {max_gib:g}")
    resolved, data = {}, {}
    if entry.files:
        resolved = _resolve_files(entry, params, os.getcwd() if base_dir is None else base_dir)
        try:
            data = entry.describe_files(params.model_copy(update=resolved), max_gib)
        except _registry.ModelSpecError as exc:
            raise SpecError(str(exc)) from None
    return ModelSection(name=name, params=params.model_dump(), id=model_id, realisation=realisation, max_gib=max_gib,
                        data=data, resolved=resolved)


def _parse_score(table, model, base_dir=None, score_files=True):
    """``[score]``: the score entry's own keys, its files checked and fingerprinted for every
    training-set size of the model's axis (before any task; ``score_files=False``: resolved only,
    for the script that writes them)."""
    if table is None:
        return None
    table = _table(table, "score")
    name = _str(_require(table, "name", "score"), "score.name", choices=tuple(_scores.scores()))
    entry = _scores.get(name)
    own = {f.name for f in dataclasses.fields(ScoreSection)} - {"params", "data", "resolved"}
    try:
        params = _scores.parse(entry, {k: v for k, v in table.items() if k not in own})
    except _scores.ScoreSpecError as exc:
        raise SpecError(str(exc)) from None
    kw = {}
    if "n_steps" in table:
        kw["n_steps"] = _int(table["n_steps"], "score.n_steps", minimum=1, maximum=10**7, why="10^7 steps")
    if "scheme" in table:
        kw["scheme"] = _str(table["scheme"], "score.scheme", ("heun", "euler"))
    if "t_stop" in table:
        kw["t_stop"] = _float(table["t_stop"], "score.t_stop", positive=True)
        if kw["t_stop"] >= 1:
            raise SpecError(f"score.t_stop: the end time as a fraction of t must be < 1, got {kw['t_stop']:g}")
    if "spacing" in table:
        kw["spacing"] = _str(table["spacing"], "score.spacing", ("log", "linear"))
    if "check_steps" in table:
        kw["check_steps"] = _bool(table["check_steps"], "score.check_steps")
    if "batch_size" in table:
        kw["batch_size"] = _int(table["batch_size"], "score.batch_size", minimum=1, maximum=2**31 - 1, why="2^31 - 1")
    if kw.get("check_steps", True) and kw.get("n_steps", 200) % 2:
        raise SpecError(f"score.n_steps: must be even for the half-step check (score.check_steps), got {kw['n_steps']}")
    resolved, data = {}, {}
    if entry.files:
        resolved = _resolve_files(entry, params, os.getcwd() if base_dir is None else base_dir)
        sizes = model.axis_values if score_files else ()
        for key, path in resolved.items():
            prints = {}
            if _scores.N_POINTS_FIELD in path and model.axis_values == (None,):
                raise SpecError(f"score.{key}: {_scores.N_POINTS_FIELD} in the file name needs a model with a "
                                f"training-set size axis (model.n_points), which model {model.name!r} does not have")
            for n in sizes:
                one = _scores.expand_file(path, n)
                if not os.path.isfile(one):
                    where = f" (for n_points = {n})" if n is not None and _scores.N_POINTS_FIELD in path else ""
                    raise SpecError(f"score.{key}: file {one!r}{where} does not exist")
                prints[str(n)] = {"sha256": _file_sha256(one), "bytes": os.path.getsize(one)}
                if _scores.N_POINTS_FIELD not in path:
                    break
            if score_files:
                data[f"score.{key}"] = prints
    return ScoreSection(name=name, params=params.model_dump(), data=data, resolved=resolved, **kw)


_PROCESS_PARAMS = {"VP": {}, "VE": {"sigma": 1.0}, "VPLinear": {"beta_min": 0.1, "beta_max": 20.0}}


def _parse_process(table):
    table = _table(table, "process")
    name = _str(_require(table, "name", "process"), "process.name", tuple(_PROCESS_PARAMS))
    allowed = _PROCESS_PARAMS[name]
    _check_keys(table, ("name", *allowed), "process")
    params = {k: _float(table.get(k, v), f"process.{k}", positive=True) for k, v in allowed.items()}
    if name == "VPLinear" and params["beta_max"] < params["beta_min"]:
        raise SpecError(f"process.beta_max: must be >= beta_min = {params['beta_min']}, got {params['beta_max']}")
    return ProcessSection(name=name, params=params)


def _parse_list(value, key, parse_item):
    if isinstance(value, list):
        if not value:
            raise SpecError(f"{key}: empty list")
        items = tuple(parse_item(v, f"{key}[{i}]") for i, v in enumerate(value))
    else:
        items = (parse_item(value, key),)
    if len(set(items)) != len(items):
        raise SpecError(f"{key}: repeated values {sorted(v for v in set(items) if items.count(v) > 1)}")
    return items


def _parse_times(value, key):
    if isinstance(value, dict):
        _check_keys(value, ("start", "stop", "num", "spacing"), key)
        start = _float(_require(value, "start", key), f"{key}.start", positive=True)
        stop = _float(_require(value, "stop", key), f"{key}.stop", positive=True)
        num = _int(_require(value, "num", key), f"{key}.num", minimum=1, maximum=MAX_TASKS,
                   why="replica.scan.spec.MAX_TASKS: each time is at least one task")
        spacing = _str(value.get("spacing", "linear"), f"{key}.spacing", ("linear", "log"))
        if stop < start or (num > 1 and stop == start):
            raise SpecError(f"{key}.stop: empty range, stop = {stop} must be > start = {start}")
        grid = np.geomspace(start, stop, num) if spacing == "log" else np.linspace(start, stop, num)
        return _increasing(grid, key)
    times = _parse_list(value, key, lambda v, k: _float(v, k, positive=True))
    return tuple(sorted(times))


def _increasing(grid, key):
    """The points of a range as floats, refusing repeats (more points than float64 resolves)."""
    grid = np.asarray(grid, dtype=np.float64)
    if grid.size > 1 and not (np.diff(grid) > 0).all():
        raise SpecError(f"{key}.num: {grid.size} points between {float(grid[0])!r} and {float(grid[-1])!r} repeat "
                        f"values (closer than float64 resolves); use fewer points or a wider range")
    return tuple(float(v) for v in grid)


def _parse_grid(table, model):
    table = _table(table, "grid")
    _check_keys(table, ("n_dim", "t", "disorder", "source", "noise_variance"), "grid")
    fixed = model.entry.data_dimension(model.parameters)
    if fixed is not None and "n_dim" not in table:
        n_dim = (fixed,)
    else:
        n_dim = _parse_list(_require(table, "n_dim", "grid"), "grid.n_dim", lambda v, k: _int(v, k, minimum=1))
        if fixed is not None and n_dim != (fixed,):
            raise SpecError(f"grid.n_dim: the data of model {model.name!r} have dimension N = {fixed}, got "
                            f"{list(n_dim)}; leave grid.n_dim out (N is the data's)")
    t = _parse_times(_require(table, "t", "grid"), "grid.t")
    disorder = _int(table.get("disorder", 1), "grid.disorder", minimum=1)
    source = _str(table.get("source", "prior"), "grid.source", SOURCES)
    noise_variance = None
    if source == "noise":
        noise_variance = _float(table.get("noise_variance", 1.0), "grid.noise_variance", positive=True)
        lo, hi = LENGTH_RANGE
        if not lo * lo <= noise_variance <= hi * hi:
            raise SpecError(f"grid.noise_variance: must lie within [{lo * lo:g}, {hi * hi:g}] (a variance per "
                            f"coordinate, see LENGTH_RANGE), got {noise_variance:g}")
    elif "noise_variance" in table:
        raise SpecError(f"grid.noise_variance: only used with grid.source = 'noise', not {source!r}")
    factors = {"grid.n_dim": len(n_dim), f"model.{model.entry.axis}": len(model.axis_values), "grid.t": len(t),
               "grid.disorder": disorder}
    if model.axis_values == (None,):
        factors.pop(f"model.{model.entry.axis}")
    n_tasks = math.prod(factors.values())
    if n_tasks > MAX_TASKS:
        key = max(factors, key=factors.get)
        raise SpecError(
            f"{key}: the grid makes {' x '.join(map(str, factors.values()))} = {n_tasks} tasks "
            f"({' x '.join(factors)}), more than the {MAX_TASKS} a spec may make (replica.scan.spec.MAX_TASKS: one "
            f"set of files per task, and every rank holds the task list); split the scan into several specs "
            f"(e.g. by grid.n_dim) or use fewer times or disorder samples"
        )
    return GridSection(n_dim=tuple(sorted(n_dim)), t=t, disorder=disorder, source=source,
                       noise_variance=noise_variance)


def _parse_sampler(table):
    table = _table(table, "sampler")
    names = [f.name for f in dataclasses.fields(SamplerSection)]
    _check_keys(table, names, "sampler")
    kw = {}
    if "method" in table:
        kw["method"] = _str(table["method"], "sampler.method")
    for k in ("n_replicas", "n_sweeps", "thin", "n_leapfrog", "ranks_per_task"):
        if k in table:
            kw[k] = _int(table[k], f"sampler.{k}", minimum=1)
    for k in ("draws", "burn_in"):
        if k in table:
            kw[k] = _int(table[k], f"sampler.{k}", minimum=0)
    if "n_temperatures" in table:
        kw["n_temperatures"] = _int(table["n_temperatures"], "sampler.n_temperatures", minimum=2)
    if "lowest_beta" in table:
        b = _float(table["lowest_beta"], "sampler.lowest_beta", positive=True)
        if b >= 1:
            raise SpecError(f"sampler.lowest_beta: must lie in (0, 1), got {b}")
        kw["lowest_beta"] = b
    if "step_size" in table:
        kw["step_size"] = _float(table["step_size"], "sampler.step_size", positive=True)
        if kw["step_size"] < MIN_STEP_SIZE:
            raise SpecError(f"sampler.step_size: must be >= {MIN_STEP_SIZE:g} (its square, the variance of a proposal, "
                            f"must be a normal float64: MALA divides by it), got {kw['step_size']:g}")
    if "tempering" in table:
        kw["tempering"] = _str(table["tempering"], "sampler.tempering",
                               ("auto", "none", "hamiltonian", "likelihood", "adaptive"))
    if "init" in table:
        kw["init"] = _str(table["init"], "sampler.init", ("auto", "prior", "observation"))
    if "exact_reference" in table:
        kw["exact_reference"] = _bool(table["exact_reference"], "sampler.exact_reference")
    if "driver" in table:
        kw["driver"] = _str(table["driver"], "sampler.driver", ("replicas", "chains"))
    return SamplerSection(**kw)


def _check_driver(s, method):
    """``sampler.driver`` and ``sampler.ranks_per_task`` against the method and the ladder."""
    if s.driver == "chains":
        if method in ("exact", CLONES):
            raise SpecError(f"sampler.driver: 'chains' drives Monte Carlo chains, not method {method!r}")
        if s.tempering == "adaptive":
            raise SpecError("sampler.tempering: 'adaptive' ladders are tuned per replica by the 'replicas' driver; "
                            "with sampler.driver = 'chains' use 'hamiltonian', 'likelihood', 'none' or 'auto'")
    if s.ranks_per_task > 1:
        if s.driver != "chains":
            raise SpecError(f"sampler.ranks_per_task: spreading a task over {s.ranks_per_task} ranks needs "
                            "sampler.driver = 'chains' (one random stream per chain, so the results do not "
                            "depend on the ranks)")
        rungs = s.n_temperatures or (8 if s.tempering in ("hamiltonian", "likelihood") else 1)
        if s.tempering != "auto" and s.ranks_per_task > s.n_replicas * rungs:
            raise SpecError(f"sampler.ranks_per_task: {s.ranks_per_task} ranks for the {s.n_replicas * rungs} chains "
                            f"of a task (sampler.n_replicas {s.n_replicas} x {rungs} rungs); every rank needs a "
                            "chain")


def _parse_observables(table, model, source="prior"):
    registry = _observable_registry()
    table = _table(table, "observables")
    _check_keys(table, ("names", "bins"), "observables")
    model_name, entry = model.name, model.entry
    provided = entry.provided(model.parameters)
    space = entry.space
    if "names" in table:
        names = _parse_list(table["names"], "observables.names",
                            lambda v, k: _str(v, k, tuple(registry.observables())))
    else:
        names = registry.defaults(entry, provided, origin=source != "noise")
    for name in names:
        obs = registry.get(name)
        if obs.needs_origin and source == "noise":
            raise SpecError(f"observables.names: {name!r} reads the clean x0 that made x_t, and grid.source = 'noise' "
                            f"has none (x_t is drawn directly)")
        if space not in obs.spaces:
            raise SpecError(
                f"observables.names: {name!r} is not defined for this model ({space} state space); "
                f"it is defined for {list(obs.spaces)}"
            )
        missing = registry.missing_inputs(obs, entry, provided)
        if missing:
            having = [m for m, e in MODELS.items() if e.space == space and not registry.missing_inputs(obs, e)]
            raise SpecError(
                f"observables.names: {name!r} needs {' and '.join(registry.NEEDS[t] for t in missing)}, which model "
                f"{model_name!r} does not have (models that have them: {having})"
            )
    bins = _int(table.get("bins", 41), "observables.bins", minimum=2)
    return ObservablesSection(names=tuple(names), bins=bins)


def _parse_franz_parisi(table):
    if table is None:
        return None
    key = "franz_parisi"
    table = _table(table, key)
    names = [f.name for f in dataclasses.fields(FranzParisiSection)]
    _check_keys(table, names, key)
    kw = {}
    if "method" in table:
        kw["method"] = _str(table["method"], f"{key}.method", ("exact", "umbrella"))
    if "order_parameter" in table:
        kw["order_parameter"] = _str(table["order_parameter"], f"{key}.order_parameter", ("overlap", "distance"))
    if "reference" in table:
        kw["reference"] = _str(table["reference"], f"{key}.reference", ("posterior", "planted"))
    for k, minimum in (("n_references", 1), ("n_sweeps", 2), ("n_replicas", 1)):
        if k in table:  # umbrella sampling records a draw per sweep and needs two for an error bar
            kw[k] = _int(table[k], f"{key}.{k}", minimum=minimum)
    if "bin_average" in table:
        kw["bin_average"] = _bool(table["bin_average"], f"{key}.bin_average")
    if "kappa" in table:
        kw["kappa"] = _float(table["kappa"], f"{key}.kappa", positive=True)
    if "tempering" in table:
        kw["tempering"] = _str(table["tempering"], f"{key}.tempering", ("hamiltonian", "likelihood"))
    if "n_temperatures" in table:
        if "tempering" not in table:
            raise SpecError(f"{key}.n_temperatures: a ladder needs {key}.tempering ('hamiltonian' or 'likelihood')")
        kw["n_temperatures"] = _int(table["n_temperatures"], f"{key}.n_temperatures", minimum=2)
    if "window_exchange" in table:
        kw["window_exchange"] = _bool(table["window_exchange"], f"{key}.window_exchange")
    if "max_sweeps" in table:
        kw["max_sweeps"] = _int(table["max_sweeps"], f"{key}.max_sweeps", minimum=2)
        n_sweeps = kw.get("n_sweeps", FranzParisiSection.n_sweeps)
        if kw["max_sweeps"] < n_sweeps:
            raise SpecError(f"{key}.max_sweeps: {kw['max_sweeps']} is below {key}.n_sweeps = {n_sweeps}")
    umbrella_only = [k for k in ("max_sweeps", "tempering", "n_temperatures", "window_exchange") if k in table]
    if umbrella_only and kw.get("method", FranzParisiSection.method) != "umbrella":
        raise SpecError(f"{key}.{umbrella_only[0]}: applies to umbrella sampling; set {key}.method = 'umbrella'")
    if "q" in table:
        q = _table(table["q"], f"{key}.q")
        _check_keys(q, ("start", "stop", "num"), f"{key}.q")
        start = _float(_require(q, "start", f"{key}.q"), f"{key}.q.start")
        stop = _float(_require(q, "stop", f"{key}.q"), f"{key}.q.stop")
        num = _int(_require(q, "num", f"{key}.q"), f"{key}.q.num", minimum=3, maximum=MAX_Q_POINTS,
                   why="replica.scan.spec.MAX_Q_POINTS: one row per point per task")
        if not stop > start:
            raise SpecError(f"{key}.q.stop: empty range, stop = {stop} must be > start = {start}")
        kw["q"] = _increasing(np.linspace(start, stop, num), f"{key}.q")
    return FranzParisiSection(**kw)


#: Sources of the quenched x0 that draw it from the model's own prior (planted disorder).
_PRIOR_DRAW_SOURCES = ("prior",)


def _check_prior_draws(spec):
    """Planted disorder needs a draw x0 from the prior at every N of the grid: exact up to the
    model's limit (:attr:`ModelEntry.prior_draw_max_n`, which agrees with ``"sample" in
    model.capabilities``), by Monte Carlo with the spec's sampler beyond it
    (``replica.scan.compute.planted_by_monte_carlo``). An exact-route spec beyond the limit has
    no sampler to draw with: refuse it here (nothing is built)."""
    entry = MODELS[spec.model.name]
    limit = entry.prior_draw_max_n
    if spec.grid.source not in _PRIOR_DRAW_SOURCES or limit is None or spec.sampler.method != "exact":
        return  # a Monte Carlo sampler draws the planted x0 beyond the limit (replica.scan.compute)
    too_big = [n for n in spec.grid.n_dim if n > limit]
    if not too_big:
        return
    fine = [n for n in spec.grid.n_dim if n <= limit]
    anywhere = [m for m, e in MODELS.items() if e.space == entry.space and e.prior_draw_max_n is None]
    raise SpecError(
        f"grid.source: {spec.grid.source!r} (planted disorder) draws x0 from the prior of model "
        f"{spec.model.name!r}, which can be drawn exactly only up to N = {limit} ({entry.prior_draw_limit}), not at "
        f"grid.n_dim = {too_big}, and sampler.method = 'exact' has no Monte Carlo to draw it with. Use a Monte Carlo "
        f"sampler (it draws the planted x0 too, with its own equilibration check), or grid.n_dim <= {limit}"
        + (f" (here {fine})" if fine else "")
        + (f", or a model whose prior is drawn exactly at any N ({', '.join(repr(m) for m in anywhere)})"
           if anywhere else "")
    )


def _check_clones(spec):
    """``sampler.method = "clones"`` and ``[score]`` come together; clones need draws and, for the
    scores built from a training set, a model with training points."""
    method, score = spec.sampler.method, spec.score
    if method == CLONES and score is None:
        raise SpecError(f"sampler.method: {CLONES!r} makes replicas with the generative process of a score model: add "
                        f"a [score] section naming one ({', '.join(repr(n) for n in _scores.scores())})")
    if score is None:
        return
    if method != CLONES:
        raise SpecError(f"score: the [score] section is used by sampler.method = {CLONES!r}, not {method!r}")
    if spec.sampler.draws < 1:
        raise SpecError("sampler.draws: clones per replica (sampler.n_replicas x sampler.draws reverse trajectories "
                        "per task) must be >= 1, got 0")
    if score.entry.needs_points and "points" not in spec.model.entry.provided(spec.model.parameters):
        having = [m for m, e in MODELS.items() if "points" in e.provides]
        raise SpecError(f"score.name: {score.name!r} is built from the training points of the model, which model "
                        f"{spec.model.name!r} does not have (models that have them: {having})")


def _check_combinations(spec):
    """Impossible combinations, named by the key to change."""
    name, space = spec.model.name, spec.space
    method = spec.sampler.method
    allowed = ("exact",) + _MC_METHODS[space] + ((CLONES,) if space in _CLONE_SPACES else ())
    if method not in allowed:
        raise SpecError(
            f"sampler.method: {method!r} is not available for model {name!r} ({space} state space); "
            f"choose one of {list(allowed)}"
        )
    if method == "exact":
        too_big = [n for n in spec.grid.n_dim if not _model_exact(spec, n)]
        if too_big:
            limit = spec.model.entry.exact_max_n(spec.model.parameters)
            raise SpecError(
                f"sampler.method: 'exact' is impossible for model {name!r} at grid.n_dim = {too_big}: its posterior "
                f"is exact up to N = {limit}"
                + (" (enumeration of the 2^N states)" if space == "spins" else "")
                + f"; use a Monte Carlo method ({', '.join(_MC_METHODS[space])})"
            )
    else:
        registered = _observable_registry().observables()
        for obs_name in spec.observables.names:
            need = registered[obs_name].min_replicas
            if spec.sampler.n_replicas < need:
                raise SpecError(f"sampler.n_replicas: observable {obs_name!r} needs at least {need} replicas from "
                                f"samples, got {spec.sampler.n_replicas}")
    _check_clones(spec)
    if spec.sampler.tempering not in ("none", "auto") and method in ("exact", CLONES):
        raise SpecError(f"sampler.tempering: only used with a Monte Carlo method, not {method!r}")
    _check_driver(spec.sampler, method)
    if spec.sampler.tempering in ("none", "auto") and (spec.sampler.n_temperatures is not None
                                                       or spec.sampler.lowest_beta is not None):
        key = "n_temperatures" if spec.sampler.n_temperatures is not None else "lowest_beta"
        raise SpecError(f"sampler.{key}: set sampler.tempering to 'hamiltonian', 'likelihood' or 'adaptive' to use "
                        f"a ladder")
    if spec.grid.source in ("point", "population", "heldout") and space != "points":
        raise SpecError(f"grid.source: {spec.grid.source!r} needs a data-set model, not {name!r}")
    if spec.grid.source == "population" and not spec.model.entry.population:
        having = [m for m, e in MODELS.items() if e.population]
        raise SpecError(f"grid.source: 'population' draws x0 from the law the data set was drawn from, which model "
                        f"{name!r} does not know (models that do: {having})"
                        + ("; for a data file use grid.source = 'heldout' with model.heldout" if spec.model.entry.files
                           else ""))
    if spec.grid.source == "pattern" and "patterns" not in spec.model.entry.provided(spec.model.parameters):
        having = [m for m, e in MODELS.items() if "patterns" in e.provides]
        raise SpecError(f"grid.source: 'pattern' sets x0 to a stored pattern, which model {name!r} does not have "
                        f"(models that have them: {having})")
    if spec.grid.source == "heldout" and "heldout" not in spec.model.entry.provided(spec.model.parameters):
        raise SpecError(f"grid.source: 'heldout' draws x0 from held-out points, which model {name!r} does not have"
                        + (" (give model.heldout, a file of held-out points)"
                           if "heldout" in spec.model.entry.Parameters.model_fields else ""))
    fp = spec.franz_parisi
    if fp is not None:
        if fp.method == "exact":
            too_big = [n for n in spec.grid.n_dim if not _model_exact(spec, n)]
            if too_big:
                raise SpecError(f"franz_parisi.method: 'exact' is impossible for model {name!r} at grid.n_dim = "
                                f"{too_big}; use 'umbrella'")
            if space == "sphere":
                raise SpecError("franz_parisi.method: no exact Franz-Parisi route for the hypersphere; use 'umbrella'")
        elif space not in ("spins", "continuous"):
            raise SpecError(f"franz_parisi.method: umbrella sampling needs a spin or continuous model, not {name!r} "
                            "(data sets have the exact route)")
        if fp.window_exchange and space != "continuous":
            raise SpecError(f"franz_parisi.window_exchange: swaps between windows are for continuous models, not "
                            f"{name!r} ({space}); use franz_parisi.tempering = 'hamiltonian' instead")
        if fp.reference == "planted" and spec.grid.source not in ("prior", "point"):
            raise SpecError("franz_parisi.reference: 'planted' needs planted disorder (grid.source = 'prior' or 'point')")
    try:
        spec.model.entry.check(spec.model.parameters, spec.grid.n_dim, spec.model.max_gib)
    except _registry.ModelSpecError as exc:
        raise SpecError(str(exc)) from None
    _check_prior_draws(spec)  # last: the errors above say how to fix the method first


# ------------------------------------------------------------------------- memory of a task
# Peak memory of one task, measured with tracemalloc on every model and route at N = 500 to 4000
# (numpy reports its allocations there); each constant is the largest seen, rounded up.
#: N x N float64 matrices that the exact ``q_self`` holds at once (the posterior's second moment and
#: its products, ``replica.overlaps``), per state space.
_EXACT_Q_SELF_MATRICES = {"continuous": 4.0, "sphere": 3.0, "spins": 4.0, "points": 2.0}
#: float64 N-vectors of a task's fixed state (x0, x_t, y, means, moments, gradients).
_FIXED_VECTORS = 32.0
#: Chunked working buffers of the exact routes (e.g. ``mc.models.ising``'s 16 MiB temporaries).
_FIXED_BYTES = 2.0**25
#: float64 N-vectors per replica and rung of a Monte Carlo state (position, gradient, proposal).
_VECTORS_PER_CHAIN = 4.0
#: float64 N-vectors per stored draw: exact draws (the draws and the estimators' copies) and
#: Monte Carlo samples (``mc.sample(store="samples")``).
_VECTORS_PER_EXACT_DRAW = 4.0
_VECTORS_PER_MC_DRAW = 2.0
#: Bytes per bin and per draw of a sampled overlap histogram (a draws x bins table).
_BYTES_PER_BIN_DRAW = 8.0
#: float64 N-vectors per path of a batch of clones (fine and half-step states, noise, drifts,
#: the score's output and its temporaries).
_VECTORS_PER_CLONE_PATH = 12.0
#: Bytes of the largest logits table of a closed-form score (``mc.scores.exact.MAX_LOGITS``).
MAX_LOGITS_BYTES = 8.0 * 2**22
#: float64 N-vectors per Franz-Parisi reference.
_VECTORS_PER_REFERENCE = 16.0

def task_memory(spec, n_dim):
    """Estimated peak memory of one task at dimension ``n_dim``, by part.

    An order-of-magnitude model, calibrated by measurement (see the constants above it): the
    fixed state (``32 N`` floats and Monte Carlo chains ``4 N`` per replica and rung), the
    ``N x N`` second moments of the exact ``q_self``, the model's own arrays (its registry entry's
    ``memory``: data-set points, dense couplings and patterns, the Curie-Weiss
    Hubbard-Stratonovich grid), the stored draws
    (exact: ``4 N`` per draw; Monte Carlo: ``2 N`` per recorded sweep), the draws x bins table
    of a sampled overlap histogram and the Franz-Parisi references.

    Parameters
    ----------
    spec : ScanSpec
    n_dim : int

    Returns
    -------
    parts : list of (key, description, bytes)
        ``key`` is the spec key that sets the part's size (``grid.n_dim`` for what N alone sets).
    """
    from .compute import HISTOGRAM_DRAWS  # compute imports this module

    space, s = spec.space, spec.sampler
    names, n = spec.observables.names, float(n_dim)
    clones = s.method == CLONES
    monte_carlo = s.method not in ("exact", CLONES)
    exact_route = (s.method == "exact" or s.exact_reference) and _model_exact(spec, n_dim)
    vectors = _FIXED_VECTORS
    if monte_carlo:
        # an adaptive ladder chooses its rungs from the barrier it measures: at most MAX_ADAPTIVE_RUNGS
        rungs = s.n_temperatures or (1 if s.tempering == "none" else
                                     _MAX_ADAPTIVE_RUNGS if s.tempering == "adaptive" else 8)
        vectors += _VECTORS_PER_CHAIN * s.n_replicas * rungs
    parts = [("grid.n_dim", f"the state ({vectors:.0f} vectors of N floats)", 8.0 * vectors * n + _FIXED_BYTES)]
    if exact_route and "q_self" in names:
        m = _EXACT_Q_SELF_MATRICES[space]
        parts.append(("grid.n_dim", f"the exact q_self's {m:.0f} N x N matrices", 8.0 * m * n * n))
    parts.extend(spec.model.entry.memory(spec.model.parameters, n_dim))  # the model's own arrays
    draws = 0
    if clones:
        draws = s.n_replicas * s.draws
        batch = min(spec.score.batch_size, draws)
        parts.append(("sampler.draws", f"sampler.n_replicas x sampler.draws = {draws} clones (fine and half-step ends)",
                      8.0 * 2 * draws * n))
        parts.append(("score.batch_size", f"{batch} paths integrated together ({_VECTORS_PER_CLONE_PATH:.0f} vectors "
                      f"each) and the score's logits ({MAX_LOGITS_BYTES / 2**20:.0f} MiB)",
                      8.0 * _VECTORS_PER_CLONE_PATH * batch * n + MAX_LOGITS_BYTES))
    elif not monte_carlo and s.draws:
        draws = s.n_replicas * s.draws
        parts.append(("sampler.draws", f"sampler.n_replicas x sampler.draws = {draws} exact draws",
                      8.0 * _VECTORS_PER_EXACT_DRAW * draws * n))
    elif not monte_carlo and "overlap_histogram" in names and space != "points":
        draws = math.prod(HISTOGRAM_DRAWS)
        parts.append(("observables.names", f"{draws} exact draws for the overlap histogram",
                      8.0 * _VECTORS_PER_EXACT_DRAW * draws * n))
    elif monte_carlo:
        draws = s.n_replicas * (s.n_sweeps // s.thin)
        parts.append(("sampler.n_sweeps", f"sampler.n_replicas x sampler.n_sweeps / sampler.thin = {draws} stored draws",
                      8.0 * _VECTORS_PER_MC_DRAW * draws * n))
    if "overlap_histogram" in names:
        bins = spec.observables.bins
        parts.append(("observables.bins", f"{bins} histogram bins x {max(draws, 1)} draws",
                      _BYTES_PER_BIN_DRAW * bins * max(draws, 1)))
    fp = spec.franz_parisi
    if fp is not None:
        parts.append(("franz_parisi.n_references", f"{fp.n_references} Franz-Parisi references",
                      8.0 * _VECTORS_PER_REFERENCE * fp.n_references * n))
        if fp.method == "umbrella" and fp.kappa is not None:
            # replica.umbrella.default_windows: (q extent) sqrt(kappa N) + 1 windows, each keeping its q series
            extent = fp.q[-1] - fp.q[0] if fp.q else 2.0
            windows = extent * math.sqrt(fp.kappa * n) + 2.0
            parts.append(("franz_parisi.kappa", f"the q series of {windows:.3g} umbrella windows ((q extent) "
                          f"sqrt(kappa N))", 8.0 * windows * fp.n_sweeps * fp.n_replicas))
    return parts


def _check_memory(spec):
    """Refuse N (or counts) whose task cannot be held in ``model.max_gib`` (:func:`task_memory`)."""
    budget = spec.model.max_gib * 2.0**30

    def total(n):
        return sum(b for _, _, b in task_memory(spec, n))

    too_big = [n for n in spec.grid.n_dim if total(n) > budget]
    if not too_big:
        return
    n = too_big[0]
    parts = sorted(task_memory(spec, n), key=lambda part: -part[2])
    by_n = sum(b for k, _, b in parts if k == "grid.n_dim")
    key = "grid.n_dim" if by_n > budget else parts[0][0]
    shown = "; ".join(f"{what} {b / 2**30:.3g} GiB ({k})" for k, what, b in parts if b >= 0.01 * parts[0][2])
    fits = ""
    if total(1) <= budget:
        lo, hi = 1, n  # largest N that fits, by bisection (the estimate grows with N)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if total(mid) <= budget else (lo, mid)
        fits = f"; at most N = {lo} fits"
    raise SpecError(
        f"{key}: a task at N = {n} needs about {total(n) / 2**30:.3g} GiB, more than model.max_gib = "
        f"{spec.model.max_gib:g} GiB (estimated: {shown}), so every task at grid.n_dim = {too_big} would fail{fits}. "
        f"Lower the keys named, or raise model.max_gib if one task may use that much memory"
    )


_PROCESSES = {"VP": VP, "VE": VE, "VPLinear": VPLinear}


def _coefficients(process, t):
    """``{"a_t": ..., "D_t": ..., "s_t": ...}`` at one time, inf where the process refuses."""
    out = {}
    for label, f in (("a_t", process.a), ("D_t", process.D), ("s_t", process.s)):
        try:
            with np.errstate(all="ignore"):
                out[label] = float(f(t))
        except (ValueError, OverflowError, ZeroDivisionError):
            out[label] = math.inf
    return out


def _few(values, limit=4):
    values = [float(v) for v in values]
    shown = ", ".join(f"{v:g}" for v in values[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}]"


def _check_times(spec):
    """Every time of the grid must give the process finite, positive, normal a_t, D_t and s_t
    (asked of the process itself). For a continuous model the observation ``y = x_t / a_t``
    (coordinates of size ``sqrt(s_t)``) must also be representable: ``N s_t``, about ``|y|^2``,
    finite, and ``sqrt(s_t)`` within :data:`LENGTH_RANGE` where Monte Carlo replicas start at it."""
    process = _PROCESSES[spec.process.name](**spec.process.params)
    t = np.asarray(spec.grid.t, dtype=np.float64)
    ok = process.representable(t)
    if not ok.all():
        span = process.time_range()
        bad = t[~ok]
        values = ", ".join(f"{k} = {v:.3g}" for k, v in _coefficients(process, float(bad[0])).items())
        if span is None:
            key = f"process.{next(iter(spec.process.params))}" if spec.process.params else "process.name"
            raise SpecError(f"{key}: {process!r} has no time t at which a_t, D_t and s_t = D_t / a_t^2 are finite, "
                            f"positive float64 numbers (at t = {bad[0]:g}: {values}); every task would fail")
        raise SpecError(
            f"grid.t: {process!r} has no finite, positive a_t, D_t and s_t = D_t / a_t^2 in float64 at t = "
            f"{_few(bad)} ({bad.size} of {t.size} times; at t = {bad[0]:g}: {values}), so every task there would "
            f"fail; for this process t must lie within [{span[0]:.6g}, {span[1]:.6g}]"
        )
    if spec.space != "continuous":
        return
    # the observation y = x_t / a_t of a continuous model: coordinates of size sqrt(s_t), squared norm about N s_t
    s_t = np.array([process.s(float(v)) for v in t])
    s = spec.sampler
    n_max = max(spec.grid.n_dim)
    if s.method not in ("exact", CLONES) and s.init in ("auto", "observation"):
        limit = LENGTH_RANGE[1] ** 2
        if (s_t > limit).any():
            raise SpecError(
                f"grid.t: {s.method} replicas start at the observation y = x_t / a_t (sampler.init = {s.init!r}), "
                f"whose coordinates have size sqrt(s_t) > {LENGTH_RANGE[1]:g} at t = {_few(t[s_t > limit])} under "
                f"{process!r}; the fourth moments of their overlaps overflow float64 and every such task would fail. "
                f"Use t <= {_largest_time(process, t, s_t, limit):.6g} (s_t <= {limit:g}), or sampler.init = 'prior'"
            )
    limit = np.finfo(np.float64).max / n_max
    if (s_t > limit).any():
        raise SpecError(
            f"grid.t: the observation y = x_t / a_t has squared norm about N s_t, which overflows float64 at t = "
            f"{_few(t[s_t > limit])} for N = {n_max} under {process!r} (the Gaussian posterior needs |y - mu|^2), so "
            f"every such task would fail; use t <= {_largest_time(process, t, s_t, limit):.6g} at grid.n_dim up to "
            f"{n_max}"
        )


def _largest_time(process, t, s_t, limit):
    """Largest time with ``s_t <= limit``, by bisection on ``log t`` (``s_t`` grows with ``t``)."""
    lo = float(np.log(t[s_t <= limit].max())) if (s_t <= limit).any() else math.log(np.nextafter(0.0, 1.0))
    hi = float(np.log(t[s_t > limit].min()))
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if process.s(math.exp(mid)) <= limit else (lo, mid)
    return math.exp(lo)


def _check_limits(spec):
    """What every task would hit: times the process cannot represent, Monte Carlo runs that
    record fewer than two draws, and tasks that do not fit in memory."""
    _check_times(spec)
    s = spec.sampler
    if s.method not in ("exact", CLONES) and s.n_sweeps // s.thin < 2:
        key = "sampler.thin" if s.thin > 1 else "sampler.n_sweeps"
        raise SpecError(f"{key}: a Monte Carlo run records sampler.n_sweeps // sampler.thin = {s.n_sweeps} // {s.thin} = "
                        f"{s.n_sweeps // s.thin} draws per replica; its error bars need at least 2")
    _check_memory(spec)


def parse_spec(text, base_dir=None, score_files=True):
    """Validate the text of a TOML spec into a :class:`ScanSpec` (raises :class:`SpecError`).

    ``base_dir``: the directory that relative data-file paths are relative to (the spec file's,
    for :func:`load_spec`; the working directory when None). ``score_files=False`` leaves the
    ``[score]`` files (a network's weights) unchecked and out of the hash: for the script that
    trains and writes them, never for a scan."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"spec: not valid TOML ({exc})") from None
    _check_keys(raw, _SECTIONS, "")
    for section in ("scan", "model", "process", "grid"):
        if section not in raw:
            raise SpecError(f"{section}: required section [{section}] is missing")
    model = _parse_model(raw["model"], base_dir)
    scan, process = _parse_scan(raw["scan"]), _parse_process(raw["process"])
    grid, sampler = _parse_grid(raw["grid"], model), _parse_sampler(raw.get("sampler", {}))
    spec = ScanSpec(
        scan=scan,
        model=model,
        process=process,
        grid=grid,
        sampler=sampler,
        observables=_parse_observables(raw.get("observables", {}), model, grid.source),
        franz_parisi=_parse_franz_parisi(raw.get("franz_parisi")),
        score=_parse_score(raw.get("score"), model, base_dir, score_files),
        source_text=text,
    )
    _check_combinations(spec)
    _check_limits(spec)
    return spec


def load_spec(path, score_files=True):
    """Read and validate a TOML spec file (``score_files``: see :func:`parse_spec`)."""
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8")
    except FileNotFoundError:
        raise SpecError(f"spec: file {str(path)!r} does not exist") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"spec: {str(path)!r} is not UTF-8 text ({exc})") from None
    except IsADirectoryError:
        raise SpecError(f"spec: {str(path)!r} is a directory, not a TOML file") from None
    return parse_spec(text, base_dir=os.path.dirname(os.path.abspath(path)), score_files=score_files)
