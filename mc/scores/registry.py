"""Registered score models: how ``[score] name`` in a scan spec becomes a :class:`ScoreModel`.

A score a spec can name is a :class:`ScoreEntry`, declared next to the score it builds and
registered with :func:`register`; an installed package adds one through an entry point in the
group ``diffusion_replicas.scores`` naming a :class:`ScoreEntry` subclass (loaded by the same
``mc.plugins.Registry`` as models and observables). An entry owns:

* ``name`` and ``doc``; ``Parameters``, a frozen strict pydantic schema of its spec keys (errors
  name the key: ``score.bandwidth: must be >= 0, got -1.0``);
* ``files``: the parameters that name files (a trained network's ``weights``), read relative to
  the spec, fingerprinted (SHA-256) into the spec hash and each task's manifest; a file name may
  hold ``{n_points}``, replaced by the training-set size of the task (one network per size);
* ``build(p, model, process)``: the score model for one task, given the task's data model (its
  training points: ``model.points``, ``model.prior_weights``) and forward process, with the
  ``files`` parameters already resolved to absolute paths.

Scores read from files are data, never code: weights load as tensors only (``safetensors`` or
``torch.load(weights_only=True)``), and the architecture is the entry's own code, installed as a
package, never named by a spec.
"""
from __future__ import annotations

import importlib
from typing import ClassVar

from ..models.registry import ModelSpecError, Parameters, parse_parameters
from ..plugins import Registry

__all__ = ["ScoreEntry", "ScoreSpecError", "ENTRY_POINT_GROUP", "register", "scores", "get", "parse",
           "N_POINTS_FIELD", "expand_file"]

#: Entry-point group through which installed packages add score models.
ENTRY_POINT_GROUP = "diffusion_replicas.scores"
#: Placeholder in a file parameter replaced by the task's training-set size.
N_POINTS_FIELD = "{n_points}"


class ScoreSpecError(ModelSpecError):
    """A score's parameters are invalid; the message starts with the dotted spec key."""


class ScoreEntry:
    """How a score name in a spec maps onto a :class:`~mc.scores.ScoreModel` (module docstring)."""

    #: Name in specs and in the ``score`` column.
    name: ClassVar[str] = ""
    #: One line: what the score is, with its formula or architecture.
    doc: ClassVar[str] = ""
    #: Parameter schema (a :class:`mc.models.registry.Parameters` subclass).
    Parameters: ClassVar[type[Parameters]] = Parameters
    #: Parameters that name files (resolved against the spec's directory and fingerprinted).
    files: ClassVar[tuple] = ()
    #: Whether the score is learned (a trained network) rather than a closed form of the data.
    learned: ClassVar[bool] = False
    #: Whether it is built from the task model's training points (``model.points``).
    needs_points: ClassVar[bool] = True
    #: Whether its clones sample the task model's own exact posterior (the exact empirical score
    #: of a data set), so that they are checked against the exact values (``z_exact`` rows).
    exact_posterior: ClassVar[bool] = False

    def build(self, p, model, process):
        """The score model of one task (``model``: its data model; ``process``: the forward process)."""
        raise NotImplementedError

    def __repr__(self):
        return f"<score {self.name!r}>"


def _entries(obj, origin):
    entry = obj() if isinstance(obj, type) else obj
    if not isinstance(entry, ScoreEntry):
        raise TypeError(f"{origin}: expected a ScoreEntry subclass or instance, got {type(entry).__name__}")
    if not entry.name or not isinstance(entry.name, str):
        raise ValueError(f"{origin}: a score entry needs a name")
    unknown = [f for f in entry.files if f not in entry.Parameters.model_fields]
    if unknown:
        raise ValueError(f"{origin}: score {entry.name!r} lists files {unknown} that are not among its parameters")
    return [entry]


def _import_builtins():
    for module in ("exact", "network"):
        importlib.import_module(f"{__package__}.{module}")


_REGISTRY = Registry(ENTRY_POINT_GROUP, "score", _entries, builtins=_import_builtins)


def register(cls):
    """Class decorator: register a built-in :class:`ScoreEntry` subclass under its ``name``."""
    _REGISTRY.register(cls, cls.__module__)
    return cls


def scores(reload=False):
    """All registered scores, name -> :class:`ScoreEntry` (built-in ones, then plug-ins)."""
    return _REGISTRY.all(reload)


def get(name):
    """The entry of a score name; ``KeyError`` naming the known ones otherwise."""
    return _REGISTRY.get(name)


def parse(entry, table):
    """Validate the ``[score]`` keys (without ``name``) against the entry's schema; errors start
    with ``score.<key>``."""
    try:
        return parse_parameters(entry, table, prefix="score")
    except ModelSpecError as exc:
        raise ScoreSpecError(str(exc).replace(f"for model {entry.name!r}", f"for score {entry.name!r}")) from None


def expand_file(path, n_points):
    """A file parameter for one task: :data:`N_POINTS_FIELD` replaced by the training-set size
    (plain text replacement, no formatting language)."""
    if N_POINTS_FIELD in path:
        if n_points is None:
            raise ScoreSpecError(f"score: a file name with {N_POINTS_FIELD} needs a model with an n_points axis")
        return path.replace(N_POINTS_FIELD, str(int(n_points)))
    return path
