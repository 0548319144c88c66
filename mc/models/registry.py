"""Registered models: the one place that says how a model name in a scan spec becomes a model.

Every model a spec can name is a :class:`ModelEntry`, declared in the module of the model it
builds and registered with :func:`register` (third-party packages: an entry point in the group
``diffusion_replicas.models`` naming a :class:`ModelEntry` subclass). An entry owns everything the
scan machinery needs to know about its model, so that no other module tests model names or
classes:

* ``name``, ``space`` (the state space: ``"points"``, ``"continuous"``, ``"sphere"``,
  ``"spins"``) and ``doc``;
* ``Parameters``: a frozen, strict pydantic schema of the spec keys (``n_dim`` always comes from
  the grid); types, bounds and defaults live there, and :func:`parse_parameters` turns its errors
  into messages that start with the dotted key (``model.mu: ...``);
* ``build(p, n_dim, seed=..., max_bytes=...)``: the model at dimension N for one disorder sample
  (``seed`` drives whatever the model draws: points, couplings, patterns);
* ``exact_max_n(p)``: the largest N at which the posterior is exact (``None``: any N);
  ``prior_draw_max_n``: the largest N at which x0 is drawn exactly from the prior;
* ``provides``: the extra inputs the model offers to observables (``"points"``, ``"labels"``,
  ``"class_axis"``, see ``replica.scan.observables``);
* ``check(p, n_dims, max_gib)``: refusals that depend on the grid (raise :class:`ModelSpecError`
  naming the spec key);
* ``n_points(p, n)``, ``memory(p, n)``, ``exact_cost(p, n)``, ``site_cost(p, n)``: the task's
  size, memory and cost estimates;
* ``columns``: the parameter columns its models write into result tables (``model.params()``),
  each named in :data:`PARAMETER_COLUMNS`, the package's one vocabulary of parameter names, so
  that one column never means two things in two models.

Built-in entries are found by importing every module of the :mod:`mc.models` package, so a new
model is one new module; plug-ins are loaded once, on the first call of :func:`models`.
"""
from __future__ import annotations

import importlib
import math
import pkgutil
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from ..plugins import Registry

__all__ = [
    "ModelEntry",
    "ModelSpecError",
    "Parameters",
    "PARAMETER_COLUMNS",
    "SPACES",
    "LENGTH_RANGE",
    "ENTRY_POINT_GROUP",
    "register",
    "models",
    "get",
    "parse_parameters",
    "PositiveFloat",
    "NonNegativeFloat",
    "Float",
    "PositiveInt",
    "Probability",
    "Length",
    "Variance",
    "VarianceOrZero",
]

#: Entry-point group through which installed packages add models.
ENTRY_POINT_GROUP = "diffusion_replicas.models"
#: State spaces a model may have (``mc.models.base.DataModel.state_space``).
SPACES = ("points", "continuous", "sphere", "spins")
#: Magnitude window of a length per coordinate: model scales (``mu``, ``v``, ``radius``; a
#: ``variance`` within its square). The estimators take fourth moments of overlaps, a length to
#: the eighth power, which stays a normal float64 (1e-240 to 1e240) inside this window and
#: overflows or underflows well outside it (measured: mu = 1e60 or v = 1e60 fail every task).
LENGTH_RANGE = (1e-30, 1e30)

#: The one vocabulary of model parameter columns in result tables: name -> meaning. A model's
#: ``params()`` may only use these names (``tests/test_model_registry.py`` checks every
#: registered model), so that a column means one thing whichever model wrote it.
PARAMETER_COLUMNS = {
    "n_points": "number of training points of a data set",
    "alpha": "data-set size exponent: n_points = round(exp(alpha N)) (REM scaling)",
    "loading": "Hopfield loading P / N (number of patterns per spin)",
    "n_patterns": "number of stored patterns P of a Hopfield prior",
    "variance": "variance per coordinate of a Gaussian component or of the points drawn from it",
    "mu": "class mean per coordinate: the means are +-mu (1, ..., 1)",
    "mu_norm2": "squared norm |mu|^2 of a class mean",
    "v_norm": "norm |v| of the two deltas +-v",
    "weight": "prior weight of the first class (+mu or +v)",
    "n_components": "number of components of a Gaussian mixture",
    "radius": "radius of a hypersphere",
    "subspace_dim": "dimension of the subspace that carries a hypersphere",
    "beta": "inverse temperature of a spin prior",
    "field": "uniform external field b of a spin prior (log p0 has + b sum s)",
    "field_mean": "mean of a non-uniform external field of a spin prior",
    "J": "coupling scale of a spin prior",
    "J0": "ferromagnetic mean coupling of a Sherrington-Kirkpatrick prior (J0 / N)",
    "disorder_seed": "seed of the quenched couplings or patterns of a spin prior",
    "couplings_dtype": "float32 when a dense spin prior is defined by float32 couplings beta W (absent: float64)",
    "side": "side length L of a lattice (N = L^lattice_dim)",
    "lattice_dim": "dimension d of a hypercubic lattice",
    "periodic": "periodic boundary conditions of a lattice",
    "bonds": "law of the Edwards-Anderson bonds: gaussian or bimodal (+-J)",
    "n_bonds": "number of nearest-neighbour bonds of a lattice",
    # data-derived theory inputs of a data file (replica.scan.compute.data_theory_columns)
    "cov_top_eigenvalue": "largest eigenvalue Lambda of the covariance of a data file's points (speciation)",
    "collapse_s_information": ("s = D_t / a_t^2 where (1/2) sum_k log(1 + lambda_k / s) = log n_points over the "
                               "covariance spectrum of a data file (Gaussian mutual-information collapse)"),
    "collapse_s_entropy": ("s = D_t / a_t^2 of the planted excess-entropy collapse of n_points of a data file's "
                           "points (replica.theory.collapse_time_entropy)"),
}


class ModelSpecError(ValueError):
    """A model's parameters or grid are invalid; the message starts with the dotted spec key."""


# ------------------------------------------------------------------------ parameter types
def _finite(value):
    if not math.isfinite(value):
        raise ValueError("must be finite")
    return value


def _length(power):
    lo, hi = LENGTH_RANGE[0] ** power, LENGTH_RANGE[1] ** power
    what = "a squared length" if power == 2 else "a length per coordinate"

    def check(value):
        if value and not lo <= abs(value) <= hi:  # 0 means "none" (variance) or "default" (radius)
            raise ValueError(f"must lie within [{lo:g}, {hi:g}] ({what}: the fourth moments of overlaps of states "
                             f"of that scale leave float64 outside it, see mc.models.registry.LENGTH_RANGE)")
        return value

    return check


#: A finite float (TOML integers are accepted and converted).
Float = Annotated[float, Field(allow_inf_nan=False)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(ge=1, le=2**63 - 1)]
Probability = Annotated[float, Field(gt=0, lt=1)]
#: A length per coordinate (> 0, within :data:`LENGTH_RANGE`); ``LengthOrZero`` also takes 0.
Length = Annotated[float, Field(gt=0, allow_inf_nan=False), AfterValidator(_length(1))]
LengthOrZero = Annotated[float, Field(ge=0, allow_inf_nan=False), AfterValidator(_length(1))]
#: A variance per coordinate (> 0, within the square of :data:`LENGTH_RANGE`).
Variance = Annotated[float, Field(gt=0, allow_inf_nan=False), AfterValidator(_length(2))]
VarianceOrZero = Annotated[float, Field(ge=0, allow_inf_nan=False), AfterValidator(_length(2))]


class Parameters(BaseModel):
    """Base of a model's parameter schema: frozen, strict types (no string to number, no boolean
    for a number; an integer is a valid float), unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
               dict: "a table"}
_EXPECTED = {"int": "an integer", "float": "a number", "bool": "true or false", "string": "a string"}


def _describe(error):
    """One pydantic error in the spec's wording (``must be > 0, got -1.0``; ``expected a number,
    got a string ('one')``)."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown key"
    for prefix, word in _EXPECTED.items():
        if kind in (f"{prefix}_type", f"{prefix}_parsing", f"{prefix}_from_float"):
            return f"expected {word}, got {_TYPE_NAMES.get(type(value), type(value).__name__)} ({value!r})"
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"must be {bounds[kind]} {limit}, got {value!r}"
    if kind == "finite_number":
        return f"must be finite, got {value!r}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '')}, got {value!r}"
    msg = error["msg"].removeprefix("Value error, ")
    return f"{msg[:1].lower()}{msg[1:]}, got {value!r}"


def parse_parameters(entry, table, prefix="model"):
    """Validate the spec keys ``table`` (a dict) against ``entry.Parameters``.

    Returns the frozen parameters object. Raises :class:`ModelSpecError` whose message starts
    with the dotted key of the first offending field, in the wording of the rest of the spec
    (``model.mu: must be > 0.0, got -1.0``), then says what the model takes."""
    try:
        return entry.Parameters(**table)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "name"
        what = _describe(error)
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(entry.Parameters.model_fields) or "no parameters"
            what += f" for model {entry.name!r} (its parameters: {allowed})"
        elif error["type"] == "missing":
            what += f" for model {entry.name!r}"
        raise ModelSpecError(f"{prefix}.{field}: {what}") from None


# --------------------------------------------------------------------------- entries
class ModelEntry:
    """How a model name in a spec maps onto a model (see the module docstring).

    Subclass it next to the model, set the class attributes, define ``Parameters`` and
    :meth:`build`, override the estimates that differ from the defaults, and decorate the class
    with :func:`register`.
    """

    #: Name in specs and in the ``model`` column.
    name: ClassVar[str] = ""
    #: State space of the models it builds (one of :data:`SPACES`).
    space: ClassVar[str] = ""
    #: One line: what the model is, with its formula.
    doc: ClassVar[str] = ""
    #: Parameter schema (a :class:`Parameters` subclass).
    Parameters: ClassVar[type[Parameters]] = Parameters
    #: Whether building the model draws random numbers (points, couplings, patterns).
    random: ClassVar[bool] = False
    #: Extra inputs its models offer to observables: ``"points"`` (training points, ``.points``),
    #: ``"labels"`` (class labels of the points, ``.labels``), ``"class_axis"`` (``.means[0]``
    #: of a two-class mixture).
    provides: ClassVar[frozenset] = frozenset()
    #: Parameter columns of its models' ``params()``: names from :data:`PARAMETER_COLUMNS`, or a
    #: dict ``{name: meaning}`` that may also add new names (a name already in the vocabulary
    #: must keep its meaning there: registration adds new names and refuses none).
    columns: ClassVar[tuple | dict] = ()
    #: Largest N at which x0 is drawn exactly from the prior (planted disorder); ``None``: any N.
    prior_draw_max_n: ClassVar[int | None] = None
    #: Why, when there is a limit.
    prior_draw_limit: ClassVar[str] = ""
    #: Whether its models know the law their points were drawn from (``model.population``), so
    #: that ``grid.source = "population"`` draws unplanted x0 from it.
    population: ClassVar[bool] = False
    #: Parameters that name data files: paths relative to the spec file, resolved by the spec
    #: (:meth:`describe_files` then checks and fingerprints them before any work).
    files: ClassVar[tuple] = ()
    #: A parameter that a spec may give as a list: every value makes its own tasks, like a
    #: point of the grid (``n_points`` of a data file: the training-set size axis).
    axis: ClassVar[str | None] = None

    def provided(self, p):
        """Inputs its models offer with parameters ``p`` (default :attr:`provides`; a data file
        offers labels only when given a labels file)."""
        return self.provides

    def data_dimension(self, p):
        """The dimension N fixed by the model's data (``None``: N comes from ``grid.n_dim``)."""
        return None

    def describe_files(self, p, max_gib):
        """Check the data files named by ``p`` (already resolved to absolute paths) and return
        what identifies them for the spec hash and the task manifests (SHA-256, shape,
        preprocessing), as a JSON-serialisable dict; raise :class:`ModelSpecError` naming the
        key. Called once per spec, before any task."""
        return {}

    def build(self, p, n_dim, *, seed, max_bytes):
        """The model at dimension ``n_dim`` for one disorder sample (``seed``: its own randomness)."""
        raise NotImplementedError

    def exact_max_n(self, p):
        """Largest N whose posterior is exact (``None``: any N)."""
        return None

    def is_exact(self, p, n_dim):
        limit = self.exact_max_n(p)
        return limit is None or n_dim <= limit

    def check(self, p, n_dims, max_gib):
        """Refuse parameters that fail at some N of the grid (raise :class:`ModelSpecError`)."""

    def n_points(self, p, n_dim):
        """Number of states an exact data-set posterior sums over (``None`` for other models)."""
        return None

    def memory(self, p, n_dim):
        """The model's own arrays at dimension N: a list of ``(spec key, description, bytes)``."""
        points = self.n_points(p, n_dim)
        if points is None:
            return []
        key = {"n_points": "model.n_points", "alpha": "model.alpha"}
        key = next((v for k, v in key.items() if k in type(p).model_fields), "grid.n_dim")
        return [(key, f"{points:.3g} training points", 8.0 * points * n_dim)]

    def exact_cost(self, p, n_dim):
        """Work units (about 2e-8 s each) of the exact route at dimension N: ``n N`` for a data
        set of n points, ``10 N^2`` for Gaussians and spheres by default."""
        points = self.n_points(p, n_dim)
        if points is not None:
            return points * n_dim
        return 10.0 * n_dim * n_dim

    def site_cost(self, p, n_dim):
        """Relative cost of one Monte Carlo site update (1 for local interactions)."""
        return 1.0

    def __repr__(self):
        return f"<model {self.name!r} ({self.space})>"


def _check_entry(entry, origin):
    """Validate one model entry (a :class:`ModelEntry` instance); adds its new column names to
    :data:`PARAMETER_COLUMNS`."""
    if not isinstance(entry, ModelEntry):
        raise TypeError(f"{origin}: expected a ModelEntry subclass or instance, got {type(entry).__name__}")
    if not entry.name or not isinstance(entry.name, str):
        raise ValueError(f"{origin}: a model entry needs a name")
    if entry.space not in SPACES:
        raise ValueError(f"{origin}: model {entry.name!r} has state space {entry.space!r}, expected one of {SPACES}")
    new = dict(entry.columns) if isinstance(entry.columns, dict) else {}
    unknown = [c for c in entry.columns if c not in PARAMETER_COLUMNS and c not in new]
    if unknown:
        raise ValueError(f"{origin}: model {entry.name!r} declares columns {unknown} that are not in "
                         f"mc.models.registry.PARAMETER_COLUMNS; reuse a name there or declare it with its meaning "
                         f"(columns = {{name: meaning}})")
    clash = [c for c, meaning in new.items() if c in PARAMETER_COLUMNS and PARAMETER_COLUMNS[c] != meaning]
    if clash:
        raise ValueError(f"{origin}: model {entry.name!r} gives column(s) {clash} a new meaning, but "
                         + "; ".join(f"{c!r} already means {PARAMETER_COLUMNS[c]!r}" for c in clash)
                         + "; choose another name")
    PARAMETER_COLUMNS.update(new)
    return entry


def _entries(obj, origin):
    return [_check_entry(obj() if isinstance(obj, type) else obj, origin)]


def _import_builtins():
    import mc.models as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in ("registry", "base"):
            importlib.import_module(f"{package.__name__}.{info.name}")


_REGISTRY = Registry(ENTRY_POINT_GROUP, "model", _entries, builtins=_import_builtins)


def register(cls):
    """Class decorator: register a built-in :class:`ModelEntry` subclass under its ``name``."""
    _REGISTRY.register(cls, cls.__module__)
    return cls


def models(reload=False):
    """All registered models, name -> :class:`ModelEntry`: the built-in ones, then the plug-ins
    of the entry-point group :data:`ENTRY_POINT_GROUP` (loaded once; ``reload=True`` looks
    again, e.g. after installing a plug-in in a running process)."""
    return _REGISTRY.all(reload)


def get(name):
    """The entry of a model name; ``KeyError`` naming the known ones otherwise."""
    return _REGISTRY.get(name)
