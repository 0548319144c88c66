"""Registries of named parts that third-party packages extend through entry points.

A :class:`Registry` holds the built-in entries (registered by the package's own modules) and,
on first use, the plug-ins of one entry-point group (``diffusion_replicas.models``,
``diffusion_replicas.observables``, ``diffusion_replicas.criteria``). A plug-in is named by a
package's metadata, never by a spec: specs stay data. Whatever fails in a plug-in (it does not
import, has the wrong type, takes a name already used) raises an error that names the entry
point, so a user knows which installed package to blame.
"""
from __future__ import annotations

from importlib.metadata import entry_points

__all__ = ["Registry"]


class Registry:
    """Named entries of one kind: built-in ones, then the plug-ins of an entry-point group.

    Parameters
    ----------
    group : str
        Entry-point group of the plug-ins.
    what : str
        What an entry is, for messages (``"model"``, ``"observable"``).
    check : callable
        ``check(obj, origin) -> list of entries``: validates what an entry point (or a built-in
        registration) provides and returns the entries (each with a ``name``), raising
        ``TypeError`` / ``ValueError`` that start with ``origin``.
    builtins : callable, optional
        Imports the modules that register the built-in entries (called before each load).
    key : callable, optional
        The key of an entry in the table (default: its ``name``).
    """

    def __init__(self, group, what, check, builtins=None, key=None):
        self.group, self.what = group, what
        self._check, self._builtins = check, builtins
        self._key = key or (lambda entry: entry.name)
        self._own = {}
        self._all = None

    def register(self, obj, origin):
        """Register built-in entries (``check(obj, origin)``); returns them."""
        entries = self._check(obj, origin)
        for entry in entries:
            known = self._own.get(self._key(entry))
            if known is not None and type(known) is not type(entry):
                raise ValueError(f"{origin}: {self.what} name {entry.name!r} is already registered by "
                                 f"{type(known).__module__}")
            self._own[self._key(entry)] = entry
        self._all = None
        return entries

    def _plugins(self, out):
        for ep in entry_points(group=self.group):
            origin = f"entry point {ep.name!r} ({ep.value}) of group {self.group!r}"
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plug-in must say which one it is
                raise ImportError(f"{origin}: cannot be loaded ({type(exc).__name__}: {exc})") from exc
            for entry in self._check(obj, origin):
                if self._key(entry) in out:
                    raise ValueError(f"{origin}: {self.what} name {entry.name!r} is already taken; choose another "
                                     f"name")
                out[self._key(entry)] = entry

    def all(self, reload=False):
        """Every entry, name -> entry: built-in ones in registration order, then plug-ins
        (looked up once; ``reload=True`` looks again, e.g. after installing a plug-in)."""
        if self._all is None or reload:
            if self._builtins is not None:
                self._builtins()
            out = dict(self._own)
            self._plugins(out)
            self._all = out
        return self._all

    def get(self, name):
        """The entry of key ``name``; ``KeyError`` naming the known ones otherwise."""
        table = self.all()
        try:
            return table[name]
        except KeyError:
            raise KeyError(f"unknown {self.what} {name!r}; known: {sorted(table)}") from None
