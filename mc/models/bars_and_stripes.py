"""Bars and stripes: the binary-image data set of MacKay (2003), as an empirical prior.

An image is an ``L x L`` grid of pixels ``+-1`` (``N = L^2``, row-major). A *stripes* image is
constant along each row (each row all +1 or all -1: ``2^L`` images), a *bars* image constant
along each column (``2^L``). The two uniform images are both; they are left out, so that every
image has one class label (0 bars, 1 stripes) and the data set has ``n = 2^(L+1) - 4`` points
with equal prior weights. Its diffusion posterior is the exact data-set posterior of
:class:`~mc.models.dataset.Dataset`: weights ``w_mu ~ exp(-|y - x^mu|^2 / (2 s))``, so the
collapse onto one image and the speciation between bars and stripes come with it.

A classic benchmark of Boltzmann machines (MacKay, *Information Theory, Inference, and Learning
Algorithms*, 2003, ch. 43); here a small, structured, labelled binary data set. A scan names it
``bars_and_stripes`` (grid N a square ``L^2``, ``L >= 2``).
"""
from __future__ import annotations

import math

import numpy as np

from . import registry
from .dataset import Dataset

__all__ = ["bars_and_stripes", "BARS", "STRIPES"]

#: Class labels.
BARS, STRIPES = 0, 1


def bars_and_stripes(side):
    """The bars-and-stripes data set on a ``side x side`` grid (``side >= 2``), uniform images
    left out: ``2^(side + 1) - 4`` points in ``{-1, +1}^(side^2)``, labelled :data:`BARS` or
    :data:`STRIPES`."""
    if isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side < 2:
        raise ValueError(f"side: expected an integer >= 2, got {side!r}")
    side = int(side)
    if side > 24:
        raise ValueError(f"side: 2^(side + 1) images of side^2 pixels; side = {side} is beyond any memory (<= 24)")
    codes = np.arange(1, 2**side - 1)  # the non-uniform sign patterns of one line
    lines = 1.0 - 2.0 * ((codes[:, None] >> np.arange(side)) & 1)  # (2^L - 2, L) of +-1
    stripes = np.repeat(lines[:, :, None], side, axis=2)  # pixel (r, c) = line[r]
    bars = np.repeat(lines[:, None, :], side, axis=1)  # pixel (r, c) = line[c]
    points = np.concatenate([bars, stripes]).reshape(-1, side * side)
    labels = np.repeat([BARS, STRIPES], codes.size)
    out = Dataset(points, labels=labels)
    out.name = "bars_and_stripes"
    out._params = {"image_side": side}
    return out


def _side(n_dim):
    side = math.isqrt(n_dim)
    return side if side * side == n_dim else None


@registry.register
class _BarsAndStripesEntry(registry.ModelEntry):
    name = "bars_and_stripes"
    space = "points"
    doc = "bars and stripes: the 2^(L+1) - 4 non-uniform L x L binary images constant along rows or columns, labelled"
    provides = frozenset({"points", "labels", "two_classes"})
    columns = {"n_points": registry.PARAMETER_COLUMNS["n_points"],
               "image_side": "side L of a square binary image (N = L^2)"}

    class Parameters(registry.Parameters):
        pass

    def build(self, p, n_dim, *, seed, max_bytes):
        return bars_and_stripes(_side(n_dim))

    def n_points(self, p, n_dim):
        side = _side(n_dim) or 2
        return 2.0 ** (side + 1) - 4.0

    def check(self, p, n_dims, max_gib):
        for n in n_dims:
            side = _side(n)
            if side is None or side < 2:
                raise registry.ModelSpecError(f"grid.n_dim: bars_and_stripes needs square images, N = L^2 with L >= 2 "
                                              f"(4, 9, 16, 25, ...), got N = {n}")
            if side > 24 or 8.0 * self.n_points(p, n) * n > max_gib * 2**30:
                raise registry.ModelSpecError(f"grid.n_dim: bars_and_stripes at N = {n} has 2^{side + 1} - 4 images "
                                              f"of {n} pixels, more than model.max_gib = {max_gib} GiB")
