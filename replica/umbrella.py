"""Franz-Parisi potentials by umbrella sampling and MBAR, for one posterior and one reference.

For a posterior ``P(x | x_t)`` (``mc.Posterior``), a reference configuration ``x_ref`` and an order
parameter ``q(x, x_ref)`` (``replica.order_parameters``), the potential of one reference is

    V(q) = -(1/N) log P(q | x_ref),

with ``P`` the law of ``q`` under the posterior (``physics.md``, "Franz-Parisi potential"; the
quenched potential averages this over references and noisy states, which is the caller's job).
It is computed on a grid of q bins by umbrella sampling (Torrie & Valleau 1977, J. Comput. Phys.
23, 187): window ``k = 0..K-1`` adds the restraint

    R_k(x) = (kappa_k N / 2) (q(x, x_ref) - q_k)^2

to the posterior energy and is sampled by the Monte Carlo engine (``mc.sample``); the windows are
combined by MBAR (Shirts & Chodera 2008, J. Chem. Phys. 129, 124105; the ``pymbar`` package) with
the reduced potentials ``u_kn = R_k(q_n)``: the common posterior energy cancels between states.

How each model is restrained (derived):

* Spins, linear q (``q = x . u / N + c0``; on the hypercube also the squared distance,
  ``Q = (N + |r|^2 - 2 x . r) / N``): since ``R_k = (kappa / (2N)) (x . u)^2 + kappa (c0 - q_k) x . u +
  const``, the restrained posterior is the posterior of the Ising prior with couplings
  ``beta W - (kappa / N) u u^T`` (inverse temperature 1) and field ``b + kappa (q_k - c0) u``, in the
  same noisy state; every spin kernel samples it (dense couplings).
* Continuous models: the restraint is added to the model's Numba log prior
  (``mc.kernels.restraints``), for linear order parameters and the squared distance.

Errors: each window's q series is thinned by its integrated autocorrelation time (Sokal window,
``c = 5``, ``mc.diagnostics.tau_int``; stride ``ceil(tau)``), so that MBAR's asymptotic
covariance, which assumes independent samples, applies. The probability of bin ``b`` is the
free energy difference ``f_b - f_0 = -log p_b`` between the unbiased state restricted to the bin
and the unbiased state (MBAR perturbed free energies), so ``stderr(V) = stderr(log p_b) / N``
comes from the same covariance matrix and includes the uncertainty of the window free energies.

Normalisation (``normalise=``): by default ``p_b`` is normalised over all pooled samples (the
unbiased MBAR state), i.e. it is the probability of the bin among all q the windows visited. When
the windows span the q range that carries the posterior's mass this is ``P(q)`` normalised over
all q, as in the exact routes; when they miss part of it (e.g. a class that no window reaches),
V is shifted by the log of the missed mass over N. ``normalise="grid"`` normalises over the bins
of the grid instead, which is exact whatever lies outside it.
For continuous models ``P = p_b / width_b`` is a density; for spin models ``P = p_b`` is the mass of
the bin, which on the default grid is the mass of one overlap value ``q = -1 + 2 j / N``
(``density=`` overrides either choice).

Hidden barriers: a window restrains q only. Where several states (classes, patterns) reach the
same q, a window's chains must move between them, or the window weighs them by where its chains
started and V is wrong (with error bars that do not show it). Use parallel tempering
(``tempering="hamiltonian"``) for such posteriors, with enough rungs that exchanges are accepted
(``windows["exchange_rate"]``; for the two-class mixture with ``|mu|^2 = N`` the default 8 rungs
suffice at N = 50, 16 are needed at N = 100); where the windows of interest lie inside the
reference's state, ``init="reference"`` starts every chain there. Windows whose q series
decorrelate slowly (often these) are reported in a ``ShortChainWarning`` and in ``tau``.
"""
from __future__ import annotations

import contextlib
import io
import logging
import math
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

import mc
from mc._validation import as_float_array, as_positive_int, as_scalar
from mc.diagnostics import MIN_TAUS, ShortChainWarning, tau_int
from mc.disorder import seed_sequence
from mc.kernels import restraints as kr
from mc.models.ising import IsingPrior

from .order_parameters import OrderParameter, SquaredDistance, as_order_parameter

__all__ = [
    "KAPPA_SCALE",
    "Restraint",
    "RestrainedPosterior",
    "UmbrellaResult",
    "restrained_posterior",
    "draw_reference",
    "default_q_grid",
    "default_kappa",
    "default_windows",
    "umbrella_sampling",
    "umbrella_potential",
]

#: Default kappa in units of the squared half-width H of the q range: ``kappa = KAPPA_SCALE / H^2``.
KAPPA_SCALE = 10.0
#: A window must reach the q grid within this many restraint widths ``1 / sqrt(kappa N)``.
COVERAGE_WIDTHS = 3.0
#: Default grid for spins: every overlap value when there are at most this many, else groups of them.
MAX_SPIN_VALUES = 201
#: Bins of the default grid for continuous order parameters.
CONTINUOUS_BINS = 51
#: End bins of a default grid with fewer (thinned) samples than this are dropped after sampling.
MIN_EDGE_SAMPLES = 10
#: Key tag of the reference chain: window k uses key (*key, k), k < _REFERENCE_TAG.
_REFERENCE_TAG = 1 << 20


# ---------------------------------------------------------------------------------------------
# restraints and restrained posteriors
@dataclass(frozen=True)
class Restraint:
    """The harmonic restraint ``R(x) = (kappa N / 2) (q(x, reference) - centre)^2``."""

    order_parameter: OrderParameter
    reference: np.ndarray
    centre: float
    kappa: float

    def energy(self, x):
        """``R(x)`` for a batch ``(..., N)``."""
        n = self.reference.shape[0]
        d = self.order_parameter.value(x, self.reference) - self.centre
        return 0.5 * self.kappa * n * d * d

    def gradient(self, x):
        """``grad R(x) = kappa N (q - centre) grad q``."""
        n = self.reference.shape[0]
        d = self.order_parameter.value(x, self.reference) - self.centre
        return self.kappa * n * np.asarray(d)[..., None] * self.order_parameter.gradient(x, self.reference)


@dataclass(frozen=True)
class RestrainedPosterior:
    """A posterior with a restraint, ready for ``mc.sample(posterior, ..., **sampler_kwargs)``.

    For spins ``posterior`` is a new ``mc.Posterior`` of the restrained Ising prior and
    ``sampler_kwargs`` is empty; for continuous models ``posterior`` is the original one and
    ``sampler_kwargs`` holds the restrained Numba prior (``log_prior_grad``, ``prior_params``).
    """

    posterior: mc.Posterior
    sampler_kwargs: dict
    restraint: Restraint


def _spin_linear_form(op, reference):
    """``(u, c0)`` with ``q = x . u / N + c0`` on the hypercube (also for the squared distance)."""
    if op.linear:
        u, c0 = op.linear_form(reference)
        return np.asarray(u, dtype=np.float64), float(c0)
    if isinstance(op, SquaredDistance):
        n = reference.shape[0]
        return -2.0 * reference, 1.0 + float(reference @ reference) / n
    raise ValueError(
        f"order_parameter: umbrella sampling of spins needs a linear order parameter or the squared "
        f"distance, got {op!r}"
    )


def restrained_posterior(posterior, reference, centre, kappa, order_parameter="overlap", *,
                         log_prior_grad=None, prior_params=None):
    """The posterior with the restraint ``(kappa N / 2)(q(x, reference) - centre)^2`` added to its energy.

    Parameters
    ----------
    posterior : mc.Posterior
        Spin model (any ``mc.IsingPrior``) or continuous model (a built-in Numba prior, i.e. a
        ``mc.GaussianMixture``, or ``log_prior_grad`` / ``prior_params`` as for ``mc.sample``).
    reference : array (N,)
    centre, kappa : float
        Window centre ``q_k`` and stiffness ``kappa > 0``.
    order_parameter : str or OrderParameter
        Linear ones (overlap, centred, projected) or the squared distance.

    Returns
    -------
    RestrainedPosterior
        Spins: the posterior of ``IsingPrior(beta W - (kappa / N) u u^T, beta=1, field=b + kappa (q_k -
        c0) u)`` in the same noisy state, whose energy is the original energy plus the restraint
        plus a constant (derived; see the module docstring). Continuous: the original posterior
        and the restrained prior function.
    """
    op = as_order_parameter(order_parameter)
    post = _check_posterior(posterior)
    reference = _check_reference(reference, post.n_dim)
    centre = as_scalar(centre, "centre")
    kappa = as_scalar(kappa, "kappa", positive=True)
    restraint = Restraint(op, reference, centre, kappa)
    n = post.n_dim
    model = post.model
    if model.state_space == "spins":
        u, c0 = _spin_linear_form(op, reference)
        couplings = model.beta * np.asarray(model.couplings) - (kappa / n) * np.outer(u, u)
        np.fill_diagonal(couplings, 0.0)  # sigma_i^2 = 1: the diagonal is a constant
        couplings = 0.5 * (couplings + couplings.T)
        prior = IsingPrior(couplings, beta=1.0, field=np.asarray(model.field) + kappa * (centre - c0) * u)
        return RestrainedPosterior(mc.Posterior(prior, post.process, post.x_t, post.t), {}, restraint)
    from mc.sampler import continuous_prior

    log_prior_grad, prior_params = continuous_prior(model, log_prior_grad, prior_params)
    if op.linear:
        u, c0 = op.linear_form(reference)
        v, kind = np.ascontiguousarray(u, dtype=np.float64), "linear"
    elif isinstance(op, SquaredDistance):
        v, c0, kind = np.ascontiguousarray(reference), 0.0, "distance"
    else:
        raise ValueError(
            f"order_parameter: umbrella sampling needs a linear order parameter or the squared distance, got {op!r}"
        )
    f = kr.restrained_prior(log_prior_grad, kind)
    params = (tuple(prior_params), v, np.array([kappa, centre, float(c0)]))
    return RestrainedPosterior(post, {"log_prior_grad": f, "prior_params": params}, restraint)


# ---------------------------------------------------------------------------------------------
# checks and defaults
def _check_posterior(posterior):
    if not isinstance(posterior, mc.Posterior):
        raise ValueError(f"posterior: expected an mc.Posterior, got {type(posterior).__name__}")
    space = posterior.model.state_space
    if space not in ("spins", "continuous"):
        raise ValueError(
            f"posterior: umbrella sampling is available for spin and continuous models, not the {space!r} "
            f"state space of {type(posterior.model).__name__} (use the exact route)"
        )
    return posterior


def _check_reference(reference, n):
    ref = as_float_array(reference, "reference", allow_nonfinite=True)
    if ref.ndim != 1:
        raise ValueError(f"reference: expected one configuration of shape ({n},), got shape {ref.shape}")
    if ref.shape[0] != n:
        raise ValueError(f"reference: dimension {ref.shape[0]} does not match the posterior's dimension N = {n}")
    if not np.isfinite(ref).all():
        raise ValueError(f"reference: contains a non-finite value at index {int(np.flatnonzero(~np.isfinite(ref))[0])}")
    return np.ascontiguousarray(ref)


def _check_increasing(values, name, minimum):
    arr = as_float_array(values, name, ndim=1)
    if arr.size < minimum:
        raise ValueError(f"{name}: expected at least {minimum} values, got {arr.size}")
    if np.any(np.diff(arr) <= 0):
        i = int(np.flatnonzero(np.diff(arr) <= 0)[0])
        raise ValueError(f"{name}: must increase strictly, got {arr[i]} then {arr[i + 1]} at index {i}")
    return arr


def _bin_edges(grid):
    """Bin edges around the grid points: midpoints inside, half a spacing beyond the ends."""
    mid = 0.5 * (grid[1:] + grid[:-1])
    return np.concatenate([[grid[0] - (mid[0] - grid[0])], mid, [grid[-1] + (grid[-1] - mid[-1])]])


def _check_coverage(centres, kappas, edges, n):
    """Every window must reach the grid within ``COVERAGE_WIDTHS`` restraint widths."""
    reach = COVERAGE_WIDTHS / np.sqrt(kappas * n)
    reaches = (centres + reach >= edges[0]) & (centres - reach <= edges[-1])
    if not reaches.any():
        raise ValueError(
            f"windows: the windows (centres {centres.min():.4g} to {centres.max():.4g}, +- {COVERAGE_WIDTHS:g} "
            f"restraint widths) cover no part of q_grid [{edges[0]:.4g}, {edges[-1]:.4g}]"
        )
    if not reaches.all():
        bad = centres[~reaches]
        raise ValueError(
            f"windows: centres {np.round(bad, 4).tolist()} lie more than {COVERAGE_WIDTHS:g} restraint widths "
            f"outside q_grid [{edges[0]:.4g}, {edges[-1]:.4g}]"
        )


def _spin_lattice(op, reference):
    """``(a, c0)`` when q takes the values ``c0 + a (-1 + 2 j / N)`` on the hypercube (``|u_i| = a``)."""
    u, c0 = _spin_linear_form(op, reference)
    a = np.abs(u)
    if a[0] > 0 and np.allclose(a, a[0], rtol=1e-12, atol=0.0):
        return float(a[0]), c0
    return None


def default_q_grid(posterior, reference, order_parameter="overlap"):
    """The default q grid (bin centres) for a posterior, a reference and an order parameter.

    * Spins with ``|u_i|`` all equal (the overlap with a +-1 reference, the squared distance):
      the ``N + 1`` values ``c0 + a (-1 + 2 j / N)`` that q takes, or, for ``N + 1 >
      MAX_SPIN_VALUES``, the centres of groups of ``m = ceil((N + 1) / MAX_SPIN_VALUES)``
      consecutive values (the last group may hold fewer).
    * Otherwise ``CONTINUOUS_BINS`` bins over a range set by the reference's scale: for linear q
      with ``S = |u|^2 / N`` and ``q_ref = q(x_ref, x_ref)``, ``[q_ref - 2.25 S, q_ref + 0.25 S]``
      (for the overlap ``[-1.25, 1.25] |x_ref|^2 / N``), clipped for spins to the attainable
      ``c0 +- sum |u_i| / N``; for the squared distance ``[0, 4 |x_ref|^2 / N]`` (the distance
      to ``-x_ref``).
    """
    op = as_order_parameter(order_parameter)
    post = _check_posterior(posterior)
    reference = _check_reference(reference, post.n_dim)
    n = post.n_dim
    if post.model.state_space == "spins":
        lattice = _spin_lattice(op, reference)
        if lattice is not None:
            a, c0 = lattice
            m = math.ceil((n + 1) / MAX_SPIN_VALUES)
            n_bins = math.ceil((n + 1) / m)
            return c0 + a * (-1.0 + 2.0 * (m * np.arange(n_bins) + 0.5 * (m - 1)) / n)
    if op.linear or post.model.state_space == "spins":
        u, c0 = _spin_linear_form(op, reference) if post.model.state_space == "spins" else op.linear_form(reference)
        s = float(u @ u) / n
        if s <= 0:
            raise ValueError("q_grid: the order parameter does not depend on x for this reference; give q_grid")
        q_ref = float(op.value(reference, reference))
        lo, hi = q_ref - 2.25 * s, q_ref + 0.25 * s
        if post.model.state_space == "spins":
            bound = float(np.abs(u).sum()) / n
            lo, hi = max(lo, c0 - bound), min(hi, c0 + bound)
    else:
        r2 = float(reference @ reference) / n
        if r2 <= 0:
            raise ValueError("q_grid: the reference is zero, so it sets no scale; give q_grid")
        lo, hi = 0.0, 4.0 * r2
    width = (hi - lo) / CONTINUOUS_BINS
    return lo + width * (np.arange(CONTINUOUS_BINS) + 0.5)


def default_kappa(q_grid, n_dim, lattice_spacing=None):
    """``kappa = KAPPA_SCALE / H^2`` with ``H`` half the extent of the grid, and for spins at most
    ``1 / (N delta^2)`` with ``delta`` the spacing of the values q takes (so that a window's
    restraint width ``1 / sqrt(kappa N)`` spans at least one value)."""
    grid = np.asarray(q_grid, dtype=np.float64)
    half = 0.5 * float(grid[-1] - grid[0])
    kappa = KAPPA_SCALE / half**2
    if lattice_spacing is not None:
        kappa = min(kappa, 1.0 / (n_dim * lattice_spacing**2))
    return kappa


def default_windows(q_grid, n_dim, kappa):
    """Window centres evenly spaced from the first to the last grid point, one restraint width
    ``1 / sqrt(kappa N)`` apart: ``K = ceil((q_max - q_min) sqrt(kappa N)) + 1``."""
    grid = np.asarray(q_grid, dtype=np.float64)
    extent = float(grid[-1] - grid[0])
    k = int(math.ceil(extent * math.sqrt(kappa * n_dim))) + 1
    return np.linspace(grid[0], grid[-1], max(k, 2))


# ---------------------------------------------------------------------------------------------
# reference
def draw_reference(posterior, *, seed=0, key=(), n_sweeps=2000, burn_in=None, method="auto", sampler_kwargs=None):
    """One reference configuration drawn from the posterior, and how it was drawn.

    From the exact sampler when the posterior has one (``source = "exact"``, generator seeded by
    ``SeedSequence(seed, spawn_key=(*key, 2^20))``), otherwise the last state of an independent
    Monte Carlo chain (``source = "chain"``: ``mc.sample`` with one replica, ``burn_in + n_sweeps``
    sweeps and key ``(*key, 2^20)``).
    """
    post = _check_posterior(posterior)
    if post.is_exact:
        gen = np.random.default_rng(seed_sequence(seed, *key, _REFERENCE_TAG))
        return np.ascontiguousarray(post.sample_exact(1, gen)[0], dtype=np.float64), "exact"
    kwargs = dict(sampler_kwargs or {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortChainWarning)
        res = mc.sample(post, n_replicas=1, n_sweeps=n_sweeps, burn_in=burn_in, thin=n_sweeps, method=method,
                        seed=seed, key=(*key, _REFERENCE_TAG), store="samples", progress=False, **kwargs)
    return np.ascontiguousarray(res.samples[0, -1], dtype=np.float64), "chain"


# ---------------------------------------------------------------------------------------------
# MBAR
def _import_pymbar():
    """``pymbar`` imported quietly (it prints a banner about JAX and logs a warning on import)."""
    log = logging.getLogger("pymbar")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import pymbar
    finally:
        log.setLevel(level)
    return pymbar


@contextlib.contextmanager
def _quiet_pymbar():
    log = logging.getLogger("pymbar")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), np.errstate(divide="ignore", over="ignore", under="ignore"):
            yield
    finally:
        log.setLevel(level)


def mbar_bins(q_by_window, centres, kappas, n_dim, edges):
    """MBAR estimate of the unbiased bin probabilities from restrained windows.

    Parameters
    ----------
    q_by_window : list of 1-D arrays
        Uncorrelated q samples of each window.
    centres, kappas : arrays (K,)
        Window centres and stiffnesses: reduced potentials ``u_kn = (kappa_k N / 2)(q_n - q_k)^2``.
    n_dim : int
    edges : array (B + 1,)
        Bin edges.

    Returns
    -------
    dict
        ``log_p`` (B,) ``log p_b`` normalised over all samples (NaN for empty bins) and
        ``log_p_stderr``; ``log_p_grid`` and ``log_p_grid_stderr`` the same normalised over the
        bins (``log p_b - log sum_b' p_b'``); ``counts`` (B,) samples
        per bin; ``f`` (K,) window free energies relative to window 0; ``overlap``,
        MBAR's overlap scalar (one minus the second eigenvalue of the overlap matrix; 0 means
        disconnected windows).
    """
    pymbar = _import_pymbar()
    q_all = np.concatenate([np.asarray(q, dtype=np.float64) for q in q_by_window])
    n_k = np.array([len(q) for q in q_by_window], dtype=np.int64)
    centres = np.asarray(centres, dtype=np.float64)
    kappas = np.asarray(kappas, dtype=np.float64)
    u_kn = 0.5 * n_dim * kappas[:, None] * (q_all[None, :] - centres[:, None]) ** 2
    n_bins = len(edges) - 1
    idx = np.digitize(q_all, edges) - 1
    inside = (idx >= 0) & (idx < n_bins)
    counts = np.bincount(idx[inside], minlength=n_bins)
    occupied = np.flatnonzero(counts > 0)
    with _quiet_pymbar():
        mbar = pymbar.MBAR(u_kn, n_k, initialize="BAR" if len(n_k) > 1 else "zeros")
        # states: 0 unbiased, 1 unbiased restricted to the grid, 2 + j restricted to occupied bin j
        u_ln = np.full((2 + occupied.size, q_all.size), np.inf)
        u_ln[0] = 0.0
        u_ln[1, inside] = 0.0
        for j, b in enumerate(occupied):
            u_ln[2 + j, idx == b] = 0.0
        pert = mbar.compute_perturbed_free_energies(u_ln)
        f_k = np.asarray(mbar.f_k, dtype=np.float64)
        overlap = 1.0
        if len(n_k) > 1:
            # overlap matrix O = W^T W diag(N_k) (Shirts & Chodera 2008); 1 - second eigenvalue
            w = mbar.W_nk
            eig = np.sort(np.real(np.linalg.eigvals((w.T @ w) * n_k[None, :])))[::-1]
            overlap = float(1.0 - eig[1])
    out = {}
    for name, ref_state in (("", 0), ("_grid", 1)):
        log_p = np.full(n_bins, np.nan)
        log_p_err = np.full(n_bins, np.nan)
        log_p[occupied] = -pert["Delta_f"][ref_state, 2:]
        log_p_err[occupied] = pert["dDelta_f"][ref_state, 2:]
        out["log_p" + name] = log_p
        out["log_p" + name + "_stderr"] = log_p_err
    return {
        **out,
        "counts": counts,
        "f": f_k - f_k[0],
        "overlap": overlap,
    }


# ---------------------------------------------------------------------------------------------
# driver
@dataclass
class UmbrellaResult:
    """Output of :func:`umbrella_sampling`.

    Attributes
    ----------
    potential : pandas.DataFrame
        One row per q bin: ``q`` (bin centre), ``V = -(1/N) log P``, ``stderr`` (of V), ``P`` (density or
        mass, see ``density``), ``n_samples`` (thinned samples in the bin, all windows) and
        ``covered`` (False only with ``allow_uncovered=True``: V, stderr and P are NaN there).
    windows : pandas.DataFrame
        One row per window: ``window``, ``centre``, ``kappa``, ``acceptance`` (mean over replicas,
        posterior rung), ``tau`` (integrated autocorrelation time of q, in draws), ``stride``
        (thinning), ``n_draws`` (per replica), ``n_samples`` (thinned, all replicas), ``q_mean``,
        ``q_std``, ``f`` (MBAR reduced free energy relative to window 0), and with
        tempering ``exchange_rate`` (mean over pairs and replicas).
    reference : ndarray (N,)
    info : dict
        Scalars: ``n_dim``, ``order_parameter``, ``reference_source`` (``"given"``, ``"exact"`` or
        ``"chain"``), ``density``, ``normalisation``, ``mbar_overlap``, ``method``, ``tempering``,
        ``n_replicas``, ``n_sweeps``, ``burn_in``, ``total_sweeps`` (replica sweeps over all windows
        and the reference chain, tempering rungs not counted), ``trimmed`` (end bins of a default
        grid dropped for lack of samples), ``seed``, ``key``, ``wall_time``.
    """

    potential: object
    windows: object
    reference: np.ndarray
    info: dict = field(default_factory=dict)

    def attrs(self):
        """Plain-Python diagnostics (lists, numbers, strings) for ``DataFrame.attrs``."""
        windows = {c: [_plain(v) for v in self.windows[c].tolist()] for c in self.windows.columns}
        return {"umbrella": {k: _plain(v) for k, v in self.info.items()}, "windows": windows,
                "reference": self.reference.tolist()}


def _plain(v):
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    if isinstance(v, tuple):
        return list(v)
    return v


def _auto_progress(progress):
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(progress)


def umbrella_sampling(posterior, reference=None, q_grid=None, *, order_parameter="overlap", windows=None, kappa=None,
                      n_sweeps=2000, burn_in=None, n_replicas=4, thin=1, method="auto", tempering=None,
                      temperatures=None, n_temperatures=None, beta_min=None, exchange_every=1, init="prior",
                      log_prior_grad=None, prior_params=None, density=None, normalise="samples",
                      allow_uncovered=False, seed=0,
                      key=(), progress=None):
    """Umbrella sampling of ``P(q | x_ref)`` combined by MBAR; returns an :class:`UmbrellaResult`.

    ``V(q) = -(1/N) log P(q | x_ref)`` on the bins of ``q_grid``, with the conventions of the
    module docstring (restraints, thinning, errors, normalisation over all pooled samples, density
    for continuous models and mass for spins).

    Parameters
    ----------
    posterior : mc.Posterior
        Spin model (``mc.IsingPrior`` and subclasses) or continuous model.
    reference : array (N,), optional
        ``x_ref``. ``None`` draws one (:func:`draw_reference`): from the exact sampler when the
        posterior has one, otherwise from an independent equilibrated chain with key
        ``(*key, 2^20)``; ``info["reference_source"]`` says which.
    q_grid : array, optional
        Strictly increasing bin centres (bins end midway between neighbours and half a spacing
        beyond the ends). Default :func:`default_q_grid`; end bins of the default grid with fewer
        than ``MIN_EDGE_SAMPLES`` thinned samples are dropped after sampling (``info["trimmed"]``):
        near the ends of the range entropic forces can exceed any finite restraint.
    order_parameter : str or OrderParameter
        ``"overlap"`` (``x . x_ref / N``), ``"distance"`` (``|x - x_ref|^2 / N``), or
        ``CentredOverlap`` / ``ProjectedOverlap`` instances.
    windows : array, optional
        Window centres ``q_k``. Default :func:`default_windows`: from the first to the last grid
        point, one restraint width ``1 / sqrt(kappa N)`` apart, so that neighbouring windows
        overlap wherever ``kappa`` dominates the curvature ``V''(q)``.
    kappa : float or array (K,), optional
        Stiffness ``> 0`` of the restraint ``(kappa N / 2)(q - q_k)^2``. Default: with ``windows``
        given, ``1 / (N Delta^2)`` with ``Delta`` their median spacing (one restraint width per
        spacing); otherwise :func:`default_kappa` (``KAPPA_SCALE / H^2`` with ``H`` half the grid
        extent, capped for spins so that a window spans at least one value of q). Where two
        states meet at a cusp of V (e.g. two Gaussian classes: the window at the crossing has its
        two modes about ``m / (1 + kappa c S)`` away, ``c`` the posterior variance along the
        reference, ``S = |x_ref|^2 / N``, and a width ``1 / sqrt(N (kappa + 1 / (c S)))``), sampling
        the top needs ``kappa`` growing like ``N`` (derived); with too weak windows the run stops
        with an error naming the bins there: raise ``kappa``.
    n_sweeps, burn_in, n_replicas, thin, method : as for ``mc.sample``, per window.
    init : "prior", "observation", "reference" or array (R, N)
        Initial state of every window's chains, as for ``mc.sample``; ``"reference"`` starts them
        at ``x_ref`` (useful when a hidden barrier, e.g. between classes, would otherwise trap
        chains started elsewhere in states that carry no weight in the window).
    tempering, temperatures, n_temperatures, beta_min, exchange_every : optional
        Parallel tempering of every window (``mc.sample``); the restraint is part of the tempered
        energy, the posterior rung keeps it in full.
    log_prior_grad, prior_params : optional
        Prior of a continuous model without a built-in Numba prior (as for ``mc.sample``).
    density : bool, optional
        ``P`` as bin mass / bin width (True) or bin mass (False). Default: True for continuous
        models, False for spins.
    normalise : "samples" or "grid"
        ``P`` normalised over all pooled samples (the unbiased MBAR state: equal to ``P(q)``
        normalised over all q when the windows span the q that carry the posterior's mass, as in
        the exact routes) or over the bins of the grid (exact whatever the windows miss outside
        the grid; then ``sum_b P_b width_b = 1`` for densities, ``sum_b P_b = 1`` for masses).
    allow_uncovered : bool
        Bins that no window sampled are an error naming them (False) or NaN rows with
        ``covered = False`` (True).
    seed, key : int and tuple of ints
        Window ``k`` is ``mc.sample(..., seed=seed, key=(*key, k))``: reproducible from them.
    progress : bool, optional
        Progress bar over windows on stderr (default: when stderr is a terminal).
    """
    t_start = time.perf_counter()
    import pandas as pd

    post = _check_posterior(posterior)
    op = as_order_parameter(order_parameter)
    n = post.n_dim
    spins = post.model.state_space == "spins"
    if not (op.linear or isinstance(op, SquaredDistance)):
        raise ValueError(
            f"order_parameter: umbrella sampling needs a linear order parameter or the squared distance, got {op!r}"
        )
    n_sweeps = as_positive_int(n_sweeps, "n_sweeps")
    n_replicas = as_positive_int(n_replicas, "n_replicas")
    thin = as_positive_int(thin, "thin")
    seed = as_positive_int(seed, "seed", minimum=0)
    key = tuple(as_positive_int(k, "key", minimum=0) for k in key)
    if burn_in is not None:
        burn_in = as_positive_int(burn_in, "burn_in", minimum=0)
    if n_sweeps // thin < 2:
        raise ValueError(f"n_sweeps: {n_sweeps} sweeps with thin = {thin} record fewer than 2 draws per replica")
    if normalise not in ("samples", "grid"):
        raise ValueError(f"normalise: expected 'samples' or 'grid', got {normalise!r}")
    if density is None:
        density = not spins
    elif not isinstance(density, (bool, np.bool_)):
        raise ValueError(f"density: expected True, False or None, got {density!r}")
    grid_given = q_grid is not None
    if grid_given:
        grid = _check_increasing(q_grid, "q_grid", 2)
    if windows is not None:
        centres = as_float_array(windows, "windows", ndim=1)
        if centres.size < 1:
            raise ValueError("windows: expected at least one window centre")
        if np.unique(centres).size != centres.size:
            raise ValueError("windows: centres must be distinct")
    if kappa is not None:
        kap = as_float_array(kappa, "kappa")
        if np.any(kap <= 0):
            raise ValueError(f"kappa: must be > 0, got {kap.min() if kap.ndim else float(kap)}")
        if kap.ndim > 1 or (kap.ndim == 1 and windows is None):
            raise ValueError("kappa: expected a scalar, or one value per window (shape (K,)) with windows given")
        if kap.ndim == 1 and kap.size != centres.size:
            raise ValueError(f"kappa: {kap.size} values for {centres.size} windows")
    sampler_kwargs = {"tempering": tempering, "temperatures": temperatures, "n_temperatures": n_temperatures,
                      "beta_min": beta_min, "exchange_every": exchange_every}
    if log_prior_grad is not None:
        if spins:
            raise ValueError("log_prior_grad: only for continuous models")
        sampler_kwargs_ref = dict(sampler_kwargs, log_prior_grad=log_prior_grad, prior_params=prior_params)
    else:
        sampler_kwargs_ref = dict(sampler_kwargs)

    if grid_given and windows is not None and kappa is not None:  # checked before any sampling
        _check_coverage(centres, np.broadcast_to(kap, centres.shape), _bin_edges(grid), n)

    # reference
    if reference is None:
        ref, source = draw_reference(post, seed=seed, key=key, n_sweeps=n_sweeps, burn_in=burn_in, method=method,
                                     sampler_kwargs=sampler_kwargs_ref)
        ref_sweeps = 0 if source == "exact" else n_sweeps + (n_sweeps // 4 if burn_in is None else burn_in)
    else:
        ref, source, ref_sweeps = _check_reference(reference, n), "given", 0
    if spins:
        _spin_linear_form(op, ref)  # checks the order parameter
    else:
        op.value(ref, ref)

    if isinstance(init, str) and init == "reference":
        init = np.tile(ref, (n_replicas, 1))

    # grid, kappa, windows
    lattice = _spin_lattice(op, ref) if spins else None
    if not grid_given:
        grid = default_q_grid(post, ref, op)
    if kappa is None:
        if windows is not None and centres.size > 1:
            kap = np.full(centres.size, 1.0 / (n * float(np.median(np.diff(np.sort(centres)))) ** 2))
        else:
            kap = default_kappa(grid, n, None if lattice is None else 2.0 * lattice[0] / n)
    if windows is None:
        centres = default_windows(grid, n, float(kap))
    kappas = np.broadcast_to(np.asarray(kap, dtype=np.float64), centres.shape).copy()
    edges = _bin_edges(grid)
    _check_coverage(centres, kappas, edges, n)

    # windows
    q_thinned, rows = [], []
    show = _auto_progress(progress)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=centres.size, unit="window", desc="umbrella", leave=False)
    short = []
    try:
        for k, (centre, kap_k) in enumerate(zip(centres, kappas)):
            rp = restrained_posterior(post, ref, centre, kap_k, op, log_prior_grad=log_prior_grad,
                                      prior_params=prior_params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ShortChainWarning)
                res = mc.sample(rp.posterior, n_replicas=n_replicas, n_sweeps=n_sweeps, burn_in=burn_in, thin=thin,
                                method=method, seed=seed, key=(*key, k), init=init, store="samples", progress=False,
                                **sampler_kwargs, **rp.sampler_kwargs)
            q = op.value(res.samples, ref)  # (R, draws)
            tau = max(1.0, tau_int(q, warn=False))
            if q.shape[1] < MIN_TAUS * tau:
                short.append((k, tau))
            stride = int(math.ceil(tau))
            q_k = q[:, ::stride].ravel()
            q_thinned.append(q_k)
            row = {"window": k, "centre": float(centre), "kappa": float(kap_k),
                   "acceptance": float(res.acceptance[:, 0].mean()), "tau": tau, "stride": stride,
                   "n_draws": int(q.shape[1]), "n_samples": int(q_k.size), "q_mean": float(q.mean()),
                   "q_std": float(q.std())}
            if res.ladder.n_rungs > 1:
                row["exchange_rate"] = float(res.exchange_rate.mean())
            rows.append(row)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if short:
        warnings.warn(
            f"umbrella windows {[k for k, _ in short]}: q series shorter than {MIN_TAUS:g} tau (max tau "
            f"{max(t for _, t in short):.3g} draws); error bars are unreliable: raise n_sweeps",
            ShortChainWarning,
            stacklevel=2,
        )

    # coverage (the end bins of a default grid with too few samples are dropped first), then MBAR
    q_all = np.concatenate(q_thinned)
    counts = np.histogram(q_all, edges)[0]
    trimmed = []
    if not grid_given:
        nz = np.flatnonzero(counts >= MIN_EDGE_SAMPLES)
        if nz.size == 0:
            raise ValueError(
                f"q_grid: no bin of the default grid received {MIN_EDGE_SAMPLES} samples; raise n_sweeps or give q_grid"
            )
        trimmed = grid[: nz[0]].tolist() + grid[nz[-1] + 1:].tolist()
        grid, edges, counts = grid[nz[0]: nz[-1] + 1], edges[nz[0]: nz[-1] + 2], counts[nz[0]: nz[-1] + 1]
    empty = counts == 0
    if empty.any() and not allow_uncovered:
        raise ValueError(
            f"q_grid: no window sampled the bins at q = {np.round(grid[empty], 6).tolist()}; add windows or raise "
            "kappa there, raise n_sweeps, or pass allow_uncovered=True to get them as NaN"
        )
    out = mbar_bins(q_thinned, centres, kappas, n, edges)
    width = np.diff(edges)
    suffix = "" if normalise == "samples" else "_grid"
    log_p = out["log_p" + suffix] - (np.log(width) if density else 0.0)
    potential = pd.DataFrame({
        "q": grid,
        "V": -log_p / n,
        "stderr": out["log_p" + suffix + "_stderr"] / n,
        "P": np.exp(log_p),
        "n_samples": out["counts"],
        "covered": out["counts"] > 0,
    })
    win = pd.DataFrame(rows)
    win["f"] = out["f"]
    sweeps_per_window = n_sweeps + (n_sweeps // 4 if burn_in is None else burn_in)
    info = {
        "n_dim": n,
        "order_parameter": op.name,
        "reference_source": source,
        "density": bool(density),
        "normalisation": normalise,
        "mbar_overlap": out["overlap"],
        "method": res.method,
        "tempering": "none" if tempering is None else str(tempering),
        "n_windows": int(centres.size),
        "n_replicas": n_replicas,
        "n_sweeps": n_sweeps,
        "burn_in": sweeps_per_window - n_sweeps,
        "total_sweeps": int(centres.size * n_replicas * sweeps_per_window + ref_sweeps),
        "trimmed": trimmed,
        "seed": seed,
        "key": list(key),
        "wall_time": time.perf_counter() - t_start,
    }
    return UmbrellaResult(potential=potential, windows=win, reference=ref, info=info)


def umbrella_potential(posterior, reference=None, q_grid=None, *, order_parameter="overlap", **kwargs):
    """``V(q) = -(1/N) log P(q | x_ref)`` by umbrella sampling and MBAR, as a DataFrame.

    Same arguments as :func:`umbrella_sampling`. Columns ``q``, ``V``, ``stderr``, ``P``,
    ``n_samples``, ``covered``; ``df.attrs`` holds the diagnostics as plain Python values:
    ``attrs["umbrella"]`` (the ``info`` dict), ``attrs["windows"]`` (the per-window columns as
    lists: centres, kappa, acceptance, tau, samples, MBAR free energies) and ``attrs["reference"]``.

    Examples
    --------
    >>> import numpy as np, mc, replica.umbrella as um
    >>> prior = mc.IsingPrior.curie_weiss(32, beta=0.5)
    >>> state = mc.draw_quenched(prior, mc.VP(), 1.0, seed=1)
    >>> post = mc.Posterior(prior, mc.VP(), state.x_t, 1.0)
    >>> df = um.umbrella_potential(post, n_sweeps=1000, seed=2)
    >>> list(df.columns[:3]), df.attrs["umbrella"]["reference_source"]
    (['q', 'V', 'stderr'], 'exact')
    >>> bool(df["q"].iloc[int(df["V"].idxmin())] > 0)  # the typical overlap with the reference
    True
    """
    result = umbrella_sampling(posterior, reference, q_grid, order_parameter=order_parameter, **kwargs)
    df = result.potential
    df.attrs.update(result.attrs())
    return df
