"""Order parameters q(x, x_ref) between a configuration and a reference, for Franz-Parisi potentials.

The Franz-Parisi potential (``physics.md``) constrains the measure to a value of an order
parameter measured against a reference configuration ``x_ref``. The choice is pluggable; every
order parameter here is per coordinate (divided by N) so that restraints
``(kappa N / 2) (q - q_k)^2`` and potentials ``V = -(1/N) log P(q | x_ref)`` are extensive in
the same way for every choice:

* :class:`Overlap`: ``q = x . x_ref / N`` (the spin-glass overlap; ``design.md`` convention).
* :class:`CentredOverlap`: ``q = (x - c) . (x_ref - c) / N`` about a centre ``c`` (e.g. the
  posterior mean, so that q measures shared fluctuations rather than shared magnetisation).
* :class:`ProjectedOverlap`: ``q = (B x) . (B x_ref) / N`` with ``B`` the orthonormal rows
  spanning class means or patterns: the overlap within the class / pattern subspace.
* :class:`SquaredDistance`: ``Q = |x - x_ref|^2 / N`` (Yu & Huang's choice, natural in low
  dimension; in 1D it is their ``Q = (x0 - x_ref)^2``). On spins ``Q = 2 - 2 q``.

The first three are linear in ``x``: ``q = x . u / N + c0`` with ``u``, ``c0`` from
:meth:`OrderParameter.linear_form`, so a quadratic restraint on them is a rank-one quadratic plus a
linear term in ``x`` (an extra coupling ``-(kappa / N) u u^T`` and field ``kappa q_k u`` for
spins). All of them give ``value`` on batches and ``gradient`` for gradient-based samplers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mc._validation import as_float_array

__all__ = [
    "OrderParameter",
    "Overlap",
    "CentredOverlap",
    "ProjectedOverlap",
    "SquaredDistance",
    "ORDER_PARAMETERS",
    "as_order_parameter",
]


class OrderParameter:
    """Base class: ``q(x, x_ref)`` per coordinate, on single configurations or batches.

    Subclasses implement :meth:`value` and :meth:`gradient`; linear ones also
    :meth:`linear_form`. ``name`` is the column-friendly name used in tables.
    """

    name = "order_parameter"
    #: Whether q is linear in x (q = x . u / N + c0).
    linear = False

    def _check(self, x, reference):
        x = as_float_array(x, "x")
        reference = as_float_array(reference, "reference")
        if reference.ndim != 1:
            raise ValueError(f"reference: expected one configuration (shape (N,)), got shape {reference.shape}")
        if x.shape[-1] != reference.shape[0]:
            raise ValueError(
                f"reference: dimension {reference.shape[0]} does not match the configurations' dimension {x.shape[-1]}"
            )
        return x, reference

    def value(self, x, reference):
        """q for each configuration: ``x`` of shape ``(..., N)`` gives shape ``(...)``."""
        raise NotImplementedError

    def gradient(self, x, reference):
        """dq/dx, same shape as ``x``."""
        raise NotImplementedError

    def linear_form(self, reference):
        """``(u, c0)`` with ``q = x . u / N + c0`` (linear order parameters only)."""
        raise ValueError(f"order_parameter: {self.name!r} is not linear in x")

    def __call__(self, x, reference):
        return self.value(x, reference)

    def __repr__(self):
        return f"{type(self).__name__}()"


class _Linear(OrderParameter):
    linear = True

    def value(self, x, reference):
        x, reference = self._check(x, reference)
        u, c0 = self.linear_form(reference)
        return x @ u / reference.shape[0] + c0

    def gradient(self, x, reference):
        x, reference = self._check(x, reference)
        u, _ = self.linear_form(reference)
        return np.broadcast_to(u / reference.shape[0], x.shape).copy()


@dataclass(frozen=True, repr=False)
class Overlap(_Linear):
    """``q = x . x_ref / N`` (``design.md``)."""

    name = "overlap"

    def linear_form(self, reference):
        reference = as_float_array(reference, "reference")
        return reference, 0.0


class CentredOverlap(_Linear):
    """``q = (x - c) . (x_ref - c) / N`` about a fixed centre ``c`` (shape ``(N,)``)."""

    name = "centred_overlap"

    def __init__(self, centre):
        centre = as_float_array(centre, "centre")
        if centre.ndim != 1:
            raise ValueError(f"centre: expected shape (N,), got {centre.shape}")
        self.centre = centre

    def linear_form(self, reference):
        reference = as_float_array(reference, "reference")
        if reference.shape != self.centre.shape:
            raise ValueError(
                f"reference: dimension {reference.shape} does not match the centre's {self.centre.shape}"
            )
        u = reference - self.centre
        return u, -float(self.centre @ u) / reference.shape[0]

    def __repr__(self):
        return f"CentredOverlap(N={self.centre.size})"


class ProjectedOverlap(_Linear):
    """``q = (B x) . (B x_ref) / N`` with ``B`` the orthonormalised rows of ``basis`` (``(k, N)``),
    e.g. the class means of a mixture or the patterns of a Hopfield prior."""

    name = "projected_overlap"

    def __init__(self, basis):
        basis = as_float_array(basis, "basis")
        if basis.ndim == 1:
            basis = basis[None, :]
        if basis.ndim != 2 or basis.shape[0] == 0:
            raise ValueError(f"basis: expected shape (k, N) with k >= 1, got {basis.shape}")
        q, r = np.linalg.qr(basis.T)
        keep = np.abs(np.diag(r)) > 1e-12 * max(1.0, float(np.abs(r).max()))
        if not keep.any():
            raise ValueError("basis: the rows span nothing (all zero)")
        self.basis = np.ascontiguousarray(q[:, keep].T)

    def linear_form(self, reference):
        reference = as_float_array(reference, "reference")
        if reference.shape[0] != self.basis.shape[1]:
            raise ValueError(
                f"reference: dimension {reference.shape[0]} does not match the basis dimension {self.basis.shape[1]}"
            )
        return self.basis.T @ (self.basis @ reference), 0.0

    def __repr__(self):
        return f"ProjectedOverlap(k={self.basis.shape[0]}, N={self.basis.shape[1]})"


@dataclass(frozen=True, repr=False)
class SquaredDistance(OrderParameter):
    """``Q = |x - x_ref|^2 / N`` (Yu & Huang's order parameter, per coordinate)."""

    name = "distance"

    def value(self, x, reference):
        x, reference = self._check(x, reference)
        d = x - reference
        return np.einsum("...i,...i->...", d, d) / reference.shape[0]

    def gradient(self, x, reference):
        x, reference = self._check(x, reference)
        return 2.0 * (x - reference) / reference.shape[0]


#: Order parameters that need no extra data, by name.
ORDER_PARAMETERS = {"overlap": Overlap, "distance": SquaredDistance}


def as_order_parameter(order_parameter):
    """An :class:`OrderParameter` from an instance or a name in :data:`ORDER_PARAMETERS`."""
    if isinstance(order_parameter, OrderParameter):
        return order_parameter
    if isinstance(order_parameter, str) and order_parameter in ORDER_PARAMETERS:
        return ORDER_PARAMETERS[order_parameter]()
    raise ValueError(
        f"order_parameter: expected one of {sorted(ORDER_PARAMETERS)} or an OrderParameter "
        f"(CentredOverlap(centre), ProjectedOverlap(basis)), got {order_parameter!r}"
    )
