"""Replica analysis of diffusion posteriors: from samples (exact or Monte Carlo) to physics.

The estimator layer (overlaps, P(q), Binder cumulants, participation ratios, Franz-Parisi
potentials, transition detection) and the drivers (scan runner, command line) live here; the
sampling layer is the ``mc`` package.
"""
from mc import __version__

__all__ = ["__version__"]
