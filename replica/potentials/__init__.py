"""Franz-Parisi potentials: the constrained free energy of a posterior against the overlap with a
reference configuration, and the fragmentation verdict read from it.

* :mod:`.franz_parisi`: ``V(q) = -(1/N) E_ref log P(q | x_ref)`` by the exact routes (Gaussian
  mixtures, data sets, enumerated spins) or umbrella sampling (:mod:`replica.umbrella`),
  quenched averages, and :class:`FranzParisi`, which finds the minima and decides
  fragmentation;
* :mod:`.yu_huang`: Yu & Huang's one-dimensional construction and its N-dimensional version
  (closed-form potentials, extrema, the time where the secondary minimum disappears);
* :mod:`.kernels`: the array kernels both use (quadrature nodes, log densities).
"""
from .franz_parisi import (
    METHODS,
    FranzParisi,
    FranzParisiSamples,
    SecondaryMinimum,
    franz_parisi,
    franz_parisi_quenched,
    franz_parisi_samples,
)
from .yu_huang import (
    YU_HUANG_MU,
    YU_HUANG_VARIANCE,
    Spinodal,
    yu_huang_disappearance_time,
    yu_huang_extrema,
    yu_huang_potential,
    yu_huang_potential_derivatives,
    yu_huang_potential_nd,
)

__all__ = [
    "METHODS",
    "FranzParisi",
    "FranzParisiSamples",
    "SecondaryMinimum",
    "franz_parisi",
    "franz_parisi_quenched",
    "franz_parisi_samples",
    "YU_HUANG_MU",
    "YU_HUANG_VARIANCE",
    "Spinodal",
    "yu_huang_disappearance_time",
    "yu_huang_extrema",
    "yu_huang_potential",
    "yu_huang_potential_derivatives",
    "yu_huang_potential_nd",
]
