"""Analytic and semi-analytic predictions for speciation, fragmentation and collapse.

What the samplers and the detectors of this package are checked against. Independent of them:
this package imports numpy and scipy only. Every public name is importable from
``replica.theory`` itself; the modules group them by topic:

* :mod:`~replica.theory._common`: input checks and the time conversions :func:`s_from_time`,
  :func:`time_from_s`;
* :mod:`~replica.theory.collapse`: collapse times (:func:`collapse_time`,
  :func:`collapse_time_gaussian`, :func:`collapse_time_entropy`) and the random energy model of
  unplanted data-set disorder (:func:`rem_kl`, :func:`rem_parisi_m`,
  :func:`rem_condensation_time`, :func:`poisson_dirichlet_y`);
* :mod:`~replica.theory.speciation`: three speciation criteria (:func:`speciation_time`,
  :func:`speciation_time_potential`, :func:`bimodality_time`), the cloning probability and the
  two-class mixture's density and posterior mean (:func:`cloning_probability`,
  :func:`mixture_log_density`, :func:`mixture_posterior_mean`);
* :mod:`~replica.theory.fixed_points`: posterior means of two deltas and of the hypersphere,
  fixed points of the reverse drift and their branching, the two-deltas self-consistency and
  fitted critical exponents;
* :mod:`~replica.theory.curie_weiss`: the Curie-Weiss posterior in a random field;
* :mod:`~replica.theory.sherrington_kirkpatrick`: the Sherrington-Kirkpatrick posterior in the
  random field of an unplanted noisy state: replica-symmetric overlap, replicon, the
  de Almeida-Thouless line and the fragmentation time where the field crosses it
  (:func:`sk_rs_overlap`, :func:`sk_replicon`, :func:`sk_at_field_variance`,
  :func:`sk_field_variance`, :func:`sk_fragmentation_time`, :func:`sk_rs_overlap_at_time`,
  :func:`sk_rs_spin_glass_susceptibility`, :func:`sk_rs_spin_glass_susceptibility_at_time`);
* :mod:`~replica.theory.hopfield`: the Hopfield posterior planted on a stored pattern, the
  replica-symmetric AGS theory in the aligned noisy field ``g = 1 / s_t``: all RS fixed points
  and the retrieval overlap in diffusion time (:class:`HopfieldRSSolution`,
  :func:`hopfield_rs_solutions`, :func:`hopfield_retrieval_overlap`), its replicon and the
  fragmentation time where it changes sign (:func:`hopfield_replicon`,
  :func:`hopfield_fragmentation_time`).

Conventions (``physics.md``). Forward process ``x_t = a_t x0 + sqrt(D_t) z``; every posterior
quantity depends on ``(x_t, t)`` only through ``y = x_t / a_t`` and the effective noise
variance ``s = D_t / a_t^2``:

* ``process="vp"`` (``mc.VP``, Ornstein-Uhlenbeck ``dx = -x dt + sqrt(2) dW``, the convention of
  Biroli et al. and of Yu & Huang): ``a = e^{-t}``, ``D = 1 - e^{-2t}``, ``s = e^{2t} - 1``;
* ``process="ve"`` (``mc.VE(sigma)``, Brownian): ``a = 1``, ``D = sigma^2 t``, ``s = sigma^2 t``.

Names of parameters, as in the models and scan specs: ``variance`` is the variance per
coordinate of the data or of each class; ``mu`` is a class mean itself (a vector, or a float in
one dimension), ``mu_norm2 = |mu|^2`` its squared norm (``N mu^2`` for the per-coordinate ``mu``
of ``mc.GaussianMixture.two_class(mu, n_dim=N)``); ``sigma`` is the standard deviation parameter
of ``mc.VE(sigma)``, keyword-only, ignored for VP. Functions that return a time take
``process`` and ``sigma``. Times and ``s`` are >= 0; where a criterion is never met at a
positive time, the functions that return a time return ``nan`` (documented per function).

Sources (per function in the docstrings)
----------------------------------------
* Biroli, Bonnaire, de Bortoli & Mezard (2024), "Dynamical regimes of diffusion models",
  Nat. Commun. 15, 9957, arXiv:2402.18491: speciation time ``t_S = (1/2) log Lambda``, collapse
  time of Gaussian data ``t_C`` and the excess-entropy criterion, the cloning probability.
* Yu & Huang (2025), "Nonequilibrium physics of generative diffusion models", Phys. Rev. E 111,
  014111, arXiv:2405.11932: speciation as the vanishing curvature of the reverse-SDE potential,
  ``t_s = (1/2) log(|mu|^2 + sqrt(|mu|^4 + (variance - 1)^2))``.
* Sherrington & Kirkpatrick (1975), Phys. Rev. Lett. 35, 1792; de Almeida & Thouless (1978),
  J. Phys. A 11, 983: the SK model, its replica-symmetric solution and the replicon (AT line).
* Amit, Gutfreund & Sompolinsky (1985), Phys. Rev. Lett. 55, 1530; (1987), Ann. Phys. 173, 30:
  the replica-symmetric theory of the Hopfield model at finite loading (``alpha_c = 0.138``).
* Derrida (1981), Phys. Rev. B 24, 2613 (random energy model); Mezard, Parisi & Virasoro (1987),
  "Spin glass theory and beyond" (Poisson-Dirichlet weights, ``E Y = 1 - m``,
  ``Var Y = m (1 - m) / 3``).
* "derived": worked out for this package; the derivation is in the docstring.

>>> from replica import theory
>>> round(theory.collapse_time(0.2), 6), round(theory.speciation_time_potential(1.0, 0.1), 6)
(0.554816, 0.42622)
"""
from ._common import s_from_time, time_from_s
from .collapse import (CollapseEstimate, collapse_time, collapse_time_entropy, collapse_time_gaussian,
                       poisson_dirichlet_y, rem_condensation_time, rem_kl, rem_parisi_m)
from .curie_weiss import (CurieWeissSolutions, curie_weiss_critical_beta, curie_weiss_field,
                          curie_weiss_magnetisation)
from .fixed_points import (CriticalExponents, ExponentFit, FixedPoints, branching_s, branching_time,
                           critical_exponents, hypersphere_mean, reverse_drift_fixed_points, two_deltas_critical_s,
                           two_deltas_fixed_points, two_deltas_mean)
from .hopfield import (HopfieldRSSolution, hopfield_fragmentation_time, hopfield_replicon, hopfield_replicon_at_time,
                       hopfield_retrieval_overlap, hopfield_retrieval_time, hopfield_rs_solutions)
from .sherrington_kirkpatrick import (sk_at_field_variance, sk_field_variance, sk_fragmentation_time, sk_replicon,
                                      sk_rs_overlap, sk_rs_overlap_at_time, sk_rs_spin_glass_susceptibility,
                                      sk_rs_spin_glass_susceptibility_at_time)
from .speciation import (bimodality_time, cloning_probability, mixture_log_density, mixture_posterior_mean,
                         speciation_time, speciation_time_potential)

__all__ = [
    "s_from_time",
    "time_from_s",
    "collapse_time",
    "collapse_time_gaussian",
    "CollapseEstimate",
    "collapse_time_entropy",
    "speciation_time",
    "speciation_time_potential",
    "bimodality_time",
    "mixture_log_density",
    "mixture_posterior_mean",
    "cloning_probability",
    "two_deltas_mean",
    "hypersphere_mean",
    "FixedPoints",
    "reverse_drift_fixed_points",
    "branching_s",
    "branching_time",
    "two_deltas_fixed_points",
    "two_deltas_critical_s",
    "ExponentFit",
    "CriticalExponents",
    "critical_exponents",
    "CurieWeissSolutions",
    "curie_weiss_field",
    "curie_weiss_magnetisation",
    "curie_weiss_critical_beta",
    "sk_rs_overlap",
    "sk_replicon",
    "sk_at_field_variance",
    "sk_field_variance",
    "sk_fragmentation_time",
    "sk_rs_overlap_at_time",
    "sk_rs_spin_glass_susceptibility",
    "sk_rs_spin_glass_susceptibility_at_time",
    "HopfieldRSSolution",
    "hopfield_rs_solutions",
    "hopfield_retrieval_overlap",
    "hopfield_retrieval_time",
    "hopfield_replicon",
    "hopfield_replicon_at_time",
    "hopfield_fragmentation_time",
    "rem_kl",
    "rem_parisi_m",
    "rem_condensation_time",
    "poisson_dirichlet_y",
]
