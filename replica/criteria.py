"""Registered transition criteria: one object per way of locating a transition.

A :class:`Criterion` owns its description, and :func:`replica.transitions.locate`,
:func:`replica.transitions.with_theory`, the report and its figures (``replica.report``) all
read it from here:

* ``transition`` (``"speciation"``, ``"fragmentation"``, ``"collapse"``) and ``name`` (the
  ``criteria=`` name of ``locate``; unique within its transition);
* ``observables``: the curves it reads (the ``observable`` column), and name ``prefixes`` it
  also reads (the peak criterion reads every ``susceptibility_*``);
* ``rule``: how it locates t, ``rule(curves) -> [row, ...]`` on a
  :class:`replica.transitions.Curves` (the disorder-averaged curves of the observables it reads,
  with their disorder samples, the bootstrap settings and helpers that build rows of
  :data:`replica.transitions.COLUMNS`); :func:`replica.transitions.level_rule` makes the rule of
  a level crossing;
* ``statement``: the criterion in one line, for the report and the docs;
* ``theory``: ``theory(row) -> (t, criterion text)`` predicted for a located row from its
  parameter columns, ``(nan, "")`` where no closed form applies; ``None`` for none at all;
* for the figures: ``panels``, observables that see this transition only (their panels carry
  this transition's theory line and no other's; an observable a criterion reads may see others
  too: the trace susceptibility peaks near speciation and falls at collapse), ``levels``
  (``{observable: (level, text)}``, drawn on the observable's panel) and ``roles`` (``(start of
  a method text, role)``, see ``replica.report.CRITERION_ROLES``).

The built-in criteria are declared in :mod:`replica.transitions`, beside the curve kernels they
wrap (its module docstring tables them). Third-party packages add criteria through the
entry-point group ``diffusion_replicas.criteria`` (a :class:`Criterion` or a list of them);
:func:`register_criterion` adds one at run time. ``locate(df, transition)`` then runs them with
the built-in ones and ``criteria=`` accepts their names.

Some curves a criterion reads are not registered observables themselves but follow from one or
from a spec section: :data:`DERIVED_CURVES` says where they come from.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mc.plugins import Registry

__all__ = [
    "Criterion",
    "TRANSITIONS",
    "ENTRY_POINT_GROUP",
    "DERIVED_CURVES",
    "ROLES",
    "register_criterion",
    "unregister_criterion",
    "criteria",
    "get_criterion",
    "criterion_names",
    "criterion_for_row",
    "panel_transitions",
    "level_of",
    "criterion_roles",
]

#: The transitions a criterion may locate, in the order generation meets them.
TRANSITIONS = ("speciation", "fragmentation", "collapse")
#: Entry-point group through which installed packages add criteria.
ENTRY_POINT_GROUP = "diffusion_replicas.criteria"
#: Curves that criteria read and no registered observable is named after: name ->
#: ``(registered observable it follows from, or None, where it comes from)``.
DERIVED_CURVES = {
    "binder_disorder": ("q_self", "Binder cumulant of the disorder averages of the q2 and q4 rows of q_self "
                                  "(replica.summary.disorder_summary)"),
    "fp_fragmented": (None, "the [franz_parisi] section of a scan spec (replica.scan.compute)"),
    "spin_glass_susceptibility_scaled": ("spin_glass_susceptibility", "spin_glass_susceptibility / N^(1/3) per "
                                      "disorder sample, disorder-averaged (mean-field finite-size scaling; "
                                      "replica.summary.disorder_summary)"),
}
#: How the figures show a criterion's rows (``Criterion.roles``): "checked", compared with the
#: theory drawn beside it by the tests; "finite", finite-N estimates whose theory is the
#: N -> infinity limit; "trend", the theory beside it is another criterion's; every other row is
#: an "indicator".
ROLES = ("checked", "finite", "trend", "indicator")


@dataclass(frozen=True)
class Criterion:
    """One way of locating one transition (see the module docstring)."""

    transition: str
    name: str
    observables: tuple
    statement: str
    rule: Callable
    theory: Callable | None = None
    prefixes: tuple = ()
    panels: tuple = ()
    levels: Mapping = field(default_factory=dict)
    roles: tuple = ()
    #: Side of the located time where the broken phase lies: ``False`` (default) below it, as
    #: speciation, collapse and the fragmentation of data sets set in while generation runs
    #: down in t; ``True`` above it, as for a glassy prior whose posterior is replica symmetric
    #: once the field of x_t dominates (small t) and fragmented at large t.
    broken_above: bool = False

    def reads(self, observable, observables=None):
        """Whether it reads the curves of ``observable``; ``observables`` replaces its own list
        (not its ``prefixes``)."""
        observable = str(observable)
        own = self.observables if observables is None else tuple(observables)
        return observable in own or (bool(self.prefixes) and observable.startswith(tuple(self.prefixes)))

    def theory_for(self, row):
        """``(t, criterion text)`` predicted for a located row, ``(nan, "")`` without a theory."""
        if self.theory is None:
            return math.nan, ""
        out = self.theory(row)
        if not isinstance(out, tuple):  # a bare nan: no closed form for this row
            return math.nan, ""
        return float(out[0]), str(out[1])


_ADDED: dict = {}


def _check_one(c, origin):
    if not isinstance(c, Criterion):
        raise TypeError(f"{origin}: expected a Criterion, got {type(c).__name__}")
    if c.transition not in TRANSITIONS:
        raise ValueError(f"{origin}: criterion {c.name!r}: transition must be one of {TRANSITIONS}, got "
                         f"{c.transition!r}")
    if not isinstance(c.name, str) or not c.name:
        raise ValueError(f"{origin}: a criterion needs a name, got {c.name!r}")
    if isinstance(c.observables, str) or not (c.observables or c.prefixes):
        raise ValueError(f"{origin}: criterion {c.name!r}: observables must be a tuple of names (or give prefixes)")
    if not callable(c.rule) or (c.theory is not None and not callable(c.theory)):
        raise TypeError(f"{origin}: criterion {c.name!r}: rule (and theory, when given) must be callable")
    bad = [role for _, role in c.roles if role not in ROLES]
    if bad:
        raise ValueError(f"{origin}: criterion {c.name!r}: unknown roles {bad}; known: {ROLES}")
    return c


def _check(obj, origin):
    """The criteria an entry point provides (a :class:`Criterion` or a list of them), checked."""
    return [_check_one(c, origin) for c in (obj if isinstance(obj, (list, tuple)) else [obj])]


def _builtins():
    from . import transitions  # noqa: F401  (registers the built-in criteria)


_REGISTRY = Registry(ENTRY_POINT_GROUP, "criterion", _check, builtins=_builtins,
                     key=lambda c: (c.transition, c.name))


def _register_builtin(c):
    """Register a built-in :class:`Criterion` (``replica.transitions`` does; returns it)."""
    _REGISTRY.register(c, "built-in criterion")
    return c


def _table(reload=False):
    return {**_REGISTRY.all(reload), **_ADDED}


def register_criterion(criterion, *, replace=False):
    """Add a :class:`Criterion` at run time (returns it). A name already registered for its
    transition raises ``ValueError`` unless ``replace=True`` (the new one then takes the old one's
    place in the order); :func:`unregister_criterion` undoes it."""
    _check_one(criterion, "register_criterion")
    key = (criterion.transition, criterion.name)
    if key in _table() and not replace:
        raise ValueError(f"criterion: {criterion.name!r} of {criterion.transition} is already registered; pass "
                         "replace=True to replace it")
    _ADDED[key] = criterion
    return criterion


def unregister_criterion(transition, name):
    """Remove a criterion added by :func:`register_criterion` (a replaced built-in or plug-in
    criterion comes back); returns it."""
    try:
        return _ADDED.pop((transition, name))
    except KeyError:
        raise KeyError(f"criterion {name!r} of {transition!r} was not added by register_criterion") from None


def criteria(transition=None, *, reload=False):
    """Registered criteria: built-in ones, then plug-ins (loaded once), then those added by
    :func:`register_criterion`. With ``transition``: name -> :class:`Criterion` of that
    transition; without: ``(transition, name) -> Criterion``."""
    table = _table(reload)
    if transition is None:
        return dict(table)
    if transition not in TRANSITIONS:
        raise ValueError(f"transition: expected one of {sorted(TRANSITIONS)}, got {transition!r}")
    return {name: c for (kind, name), c in table.items() if kind == transition}


def get_criterion(transition, name):
    table = criteria(transition)
    try:
        return table[name]
    except KeyError:
        raise KeyError(f"unknown criterion {name!r} of {transition}; known: {list(table)}") from None


def criterion_names():
    """``{transition: (names, ...)}`` in registration order (``replica.transitions.CRITERIA``)."""
    out = {}
    for kind, name in _table():
        out[kind] = out.get(kind, ()) + (name,)
    return out


def criterion_for_row(row):
    """The criterion a located row belongs to: the one its ``criterion`` entry names when it has
    one, else the first criterion of its ``transition`` that reads its ``observable``, else the
    transition's first criterion; ``None`` for an unknown transition."""
    kind = row.get("transition")
    if kind not in TRANSITIONS:
        return None
    table = criteria(kind)
    named = row.get("criterion")
    if isinstance(named, str) and named in table:
        return table[named]
    observable = row.get("observable")
    if isinstance(observable, str):
        for c in table.values():
            if c.reads(observable):
                return c
    return next(iter(table.values()), None)


def panel_transitions():
    """``{observable: {transitions}}`` of the observables that criteria claim as ``panels``:
    the transitions those observables see (and no others)."""
    out = {}
    for c in criteria().values():
        for obs in c.panels:
            out.setdefault(obs, set()).add(c.transition)
    return out


def level_of(observable):
    """``(level, text)`` that a criterion draws on the panel of ``observable``, or ``None``."""
    for c in criteria().values():
        if observable in c.levels:
            return tuple(c.levels[observable])
    return None


def criterion_roles():
    """``((start of a method text, role), ...)`` of every criterion, longest start first (so
    that the first start a method text matches is its most specific one)."""
    pairs = [tuple(p) for c in criteria().values() for p in c.roles]
    return tuple(sorted(pairs, key=lambda p: -len(p[0])))
