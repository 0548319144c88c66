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
combined by MBAR (Shirts & Chodera 2008, J. Chem. Phys. 129, 124105; :mod:`replica.mbar`, checked
against the ``pymbar`` package) with the reduced potentials ``u_kn = R_k(q_n)``: the common
posterior energy cancels between states.

How each model is restrained (derived):

* Spins, linear q (``q = x . u / N + c0``; on the hypercube also the squared distance,
  ``Q = (N + |r|^2 - 2 x . r) / N``): since ``R_k = (kappa / (2N)) (x . u)^2 + kappa (c0 - q_k) x . u +
  const``, the restrained posterior is the posterior of the Ising prior with couplings
  ``beta W - (kappa / N) u u^T`` (inverse temperature 1) and field ``b + kappa (q_k - c0) u``, in the
  same noisy state; every spin kernel samples it (dense couplings).
* Continuous models: the restraint is added to the model's Numba log prior
  (``mc.kernels.restraints``), for linear order parameters and the squared distance.

Errors: each window's q series is thinned by its integrated autocorrelation time (Sokal window,
``c = 5``, ``mc.diagnostics.tau_int``; stride ``ceil(tau)``, or more so that a window gives MBAR at
most ``MBAR_SAMPLES_PER_WINDOW`` = 4000 samples, which keeps its time bounded), so that MBAR's asymptotic
covariance, which assumes independent samples, applies. ``tau`` is the larger of the times of q
and of the indicator ``1[q > median q]`` (autocorrelations averaged over replicas): a window that
holds two states (e.g. at the crossing of two classes) switches between them on the slow time
scale of that indicator, which q's own tau averages down with the fast motion within each state
(derived: ``rho_q = (B rho_state + W rho_within) / (B + W)`` with ``B``, ``W`` the between- and
within-state variances), so thinning by it alone would understate the error of the states'
relative weight. The probability of bin ``b`` is the
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
(``windows["exchange_rate"]``; for the two-class mixture with ``|mu|^2 = N`` at N = 50, t = 2,
the windows where the two classes' branches cross pass the criteria below with 16 rungs and up
to 2e4 sweeps (tau ~ 130 draws there), not with the default 8 rungs, whose exchanges are
accepted 13% of the time; 16 are also needed at N = 100); where the windows of interest lie
inside the reference's state, ``init="reference"`` starts every chain there.

Convergence: every window must pass these criteria before its data go into MBAR.

(a) Length: its q series has at least ``MIN_TAUS`` = 50 integrated autocorrelation times per
    replica, ``n_draws >= 50 tau`` (``tau = 1 + 2 sum_k rho(k)``, Sokal's window with ``c = 5``:
    ``mc.diagnostics.tau_int``; Sokal 1997; ``tau`` as under "Errors" above, and at least the
    autocorrelation time of the state indicators of (b)).
(b) Agreement of the replicas: the rank-normalised split R-hat (Vehtari, Gelman, Simpson,
    Carpenter & Buerkner 2021, Bayesian Analysis 16, 667; ``mc.diagnostics.rhat``, the larger of
    the bulk and the folded value) of the per-replica q series is below ``RHAT_MAX`` = 1.01. The
    replicas start dispersed (``init="dispersed"``, the default): at the reference, at the prior
    draw farthest from it in q (of ``DISPERSED_POOL`` = 64 draws; uniformly random spins when the
    prior cannot be sampled), at the observation, then at prior draws at evenly spaced quantiles
    of that distance, so that replicas that cannot cross between states disagree instead of
    agreeing on the state they started in. (With one replica R-hat only sees drift within the
    chain.) Where the model declares ``order_directions()`` (class axes, patterns), the state
    indicators ``sign(x . d_j)`` (which of the symmetric states along ``d_j`` a replica is in)
    must agree too: R-hat below ``RHAT_MAX`` for each indicator that changes during the run. A
    window at a q that states on both sides reach holds both, and q does not see the switches
    between them: with q's criteria alone, the N = 100 two-class mixture of
    ``benchmarks/bench_franz_parisi.py`` passed every window with 16 rungs while V was 11
    standard errors off (the replicas of the windows near q = 0 had not switched class often
    enough); with the indicators its windows there run until they switch (tau up to 2000 draws)
    and V agrees with the exact one. The R-hat of the energy (posterior plus restraint) and of
    the projections on the field direction ``x . y / (|y| sqrt(N))`` and on the order directions
    themselves are reported too, as diagnostics: the projections drift within a state, which
    does not bias V, so they are not criteria.
(c) Overlap (after MBAR): the window's q samples overlap those of its neighbours in centre order,
    ``O_{k, k +- 1} >= MIN_NEIGHBOUR_OVERLAP`` = 0.03 with ``O`` MBAR's overlap matrix
    (Shirts & Chodera 2008; the threshold of Klimovich, Shirts & Mobley 2015, J. Comput. Aided
    Mol. Des. 29, 397).

A window that fails (a) or (b) is extended: its chains continue from their last states
(``mc.sample`` with ``init`` the last draws, ``min(burn_in, 100)`` sweeps of burn-in that
re-adapt step sizes and refill the tempering rungs, key ``(*key, k, j)`` for its ``j``-th
extension, so the result is fixed by ``seed`` and ``key``), each extension doubling its
production sweeps, up to ``max_sweeps`` production sweeps per replica (default ``4 n_sweeps``).
A window that still fails, or fails (c), makes :func:`umbrella_sampling` raise
:class:`ConvergenceError` naming each such window (index, centre ``q_k``, tau, its length in
tau, R-hat, overlaps) and the budget, with the remedies; with ``allow_unconverged=True`` it
returns the curve with ``info["converged"] = False`` and per-window flags instead, and emits a
:class:`ConvergenceWarning`. A result with ``info["converged"] = True`` had every window pass.
An R-hat far above 1 after the whole budget means a barrier that the windows' local moves do not
cross at any affordable length: temper the windows (``tempering="hamiltonian"``, more rungs
``n_temperatures`` or a lower ``lowest_beta`` when exchanges are rare), or use more windows / a
larger ``kappa`` so that each window holds one state.

Exchange between windows (``window_exchange=True``; continuous models). Replica-exchange umbrella
sampling (Hamiltonian exchange between the windows; Sugita, Kitao & Okamoto 2000, J. Chem. Phys.
113, 6042, "Multidimensional replica-exchange method for free-energy calculations"): each of the
``n_replicas`` replicas (independent, its own seed stream ``(seed, *key, 2^20 + 2, r)``) holds one
configuration per window, all started at row ``r`` of ``init``; every sweep moves each of them
in its window (MALA, HMC or RWM, as ``mc.sample``; one Numba kernel,
``mc.kernels.restraints.run_window_exchange``), and every ``exchange_every`` sweeps the
configurations of neighbouring windows (in centre order, even and odd pairs alternating) swap
with probability ``min(1, exp(-[R_k(x_{k+1}) + R_{k+1}(x_k) - R_k(x_k) - R_{k+1}(x_{k+1})]))``:
the posterior energy cancels and only the two values of q enter. The swaps are Metropolis moves
on the product of the windows' laws and the step sizes are fixed after the burn-in, so each
window's record (the q of whichever configuration sits in it) samples that window's law, and
the windows go into MBAR as above, with the same criteria (a)-(c) (tau and R-hat of each
window's series across replicas). Extensions continue every window together (no new burn-in).

Swaps move configurations along q; they do not move one across a barrier in a direction that q
does not see (derived and measured, e.g. for the two-class mixture): each replica's windows sort
themselves by class, with the classes meeting at one window, and the number of windows holding
each class changes only when a configuration changes class inside a window. So the windows where
the branches of V cross still need a ladder, but only they: with ``tempering="likelihood"`` or
``"hamiltonian"`` a ladder (the rungs of ``mc.sample``'s ladder of that kind; ``n_temperatures``,
``temperatures``, ``lowest_beta``) is attached to the windows of ``tempered_windows``; rung ``j`` of
window ``k`` targets ``p0^tp exp(tl (phi_lik - R_k))`` (likelihood: ``tp = 1``, ``tl = l_j``, the
restraint tempered with the likelihood down to the prior; Hamiltonian: ``tp = tl = beta_j``) and
swaps with its neighbouring rungs by the same rule with the full reduced potentials. A likelihood
ladder that ends at the prior of a model that can draw from it (``"sample"`` capability, e.g.
Gaussian mixtures) takes a fresh prior draw on its last rung at every sweep: that rung mixes
between the prior's modes at once (the reference end of Syed, Bouchard-Cote, Deligiannidis &
Doucet 2022), where a Hamiltonian ladder's hottest rung still crosses its barrier by diffusion.
Otherwise the last rung is moved like the others. ``tempered_windows="auto"`` (default) picks
the windows from the data: a pilot burn-in without ladders, after which the windows whose
replicas (started dispersed, so in different states) still disagree (R-hat of any recorded
series >= 1.1 over the pilot's second half) get ladders, plus ``TEMPERED_MARGIN`` = 2 windows on
each side, for a second burn-in and the production run. These windows span the q range between
the replicas' class boundaries, which contains the crossing (where both states have weight, each
is metastable: a replica started in one state keeps it there); with ``init="reference"`` the
pilot cannot see other states (as for R-hat). Each burn-in phase has ``burn_in`` sweeps and
adapts the step sizes (per replica, window and rung, as ``mc.sample``). ``info`` reports the
swap rates between neighbouring windows, the round trips of configurations between the first
and the last window, the tempered windows and the phases.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

import mc
from mc._validation import as_float_array, as_positive_int, as_scalar
from mc import diagnostics as mcd
from mc import run_control
from mc.diagnostics import MIN_TAUS, ShortChainWarning, rhat, tau_int
from mc.disorder import seed_sequence
from mc.kernels import restraints as kr
from mc.kernels.rng import normal_spares, seed_states
from mc.models.ising import IsingPrior

from .mbar import error_of_differences, mbar_harmonic
from .order_parameters import OrderParameter, SquaredDistance, as_order_parameter

__all__ = [
    "KAPPA_SCALE",
    "RHAT_MAX",
    "MIN_NEIGHBOUR_OVERLAP",
    "ConvergenceError",
    "ConvergenceWarning",
    "Restraint",
    "RestrainedPosterior",
    "UmbrellaResult",
    "restrained_posterior",
    "draw_reference",
    "dispersed_starts",
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
#: Key tag of the prior draws behind ``init="dispersed"``.
_DISPERSED_TAG = (1 << 20) + 1
#: A window's replicas agree when the R-hat of their q series is below this (Vehtari et al. 2021).
RHAT_MAX = 1.01
#: Smallest MBAR overlap-matrix element with each neighbouring window (Klimovich et al. 2015).
MIN_NEIGHBOUR_OVERLAP = 0.03
#: Default budget: ``max_sweeps = MAX_SWEEPS_FACTOR * n_sweeps`` production sweeps per replica.
MAX_SWEEPS_FACTOR = 4
#: Burn-in sweeps (at most ``burn_in``) of each extension of a window's chains.
EXTENSION_BURN_IN = 100
#: Prior draws from which ``init="dispersed"`` picks its starts.
DISPERSED_POOL = 64
#: R-hat above which a window that used its whole budget is taken to sit on a barrier.
_BARRIER_RHAT = 1.1
#: Most thinned samples of one window that go into MBAR (a window's stride grows beyond ceil(tau)
#: when its run is longer): MBAR's time grows as windows x samples (``replica.mbar``: about 1 s for 103
#: windows at this cap), and the samples beyond it, thinned by tau alone, would add little.
MBAR_SAMPLES_PER_WINDOW = 4000
#: Key tag of the replica-exchange ladders (``window_exchange=True``): replica r uses (*key, 2^20 + 2, r).
_EXCHANGE_TAG = (1 << 20) + 2
#: ``tempered_windows="auto"``: windows added on each side of those that need a ladder.
TEMPERED_MARGIN = 2
#: Sweeps per step-size adaptation round of the exchange ladders' burn-in (as ``mc.sample``).
_ADAPT_EVERY = 20
#: Sweeps per kernel call when the top rungs take fresh prior draws (the draws are made per call).
_FRESH_CHUNK = 64


class ConvergenceError(ValueError):
    """Umbrella windows failed their convergence criteria within the sweep budget.

    The message names every failing window (index, centre, tau, R-hat, overlaps), the budget and
    the remedies. Attributes: ``windows`` (DataFrame of the failing windows' diagnostics) and
    ``diagnostics`` (all windows).
    """

    def __init__(self, message, windows=None, diagnostics=None):
        super().__init__(message)
        self.windows = windows
        self.diagnostics = diagnostics


class ConvergenceWarning(UserWarning):
    """Umbrella windows did not converge and ``allow_unconverged=True`` returned their curve anyway."""


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


def _observation_state(posterior):
    """The rescaled observation ``y = x_t / a_t`` as a state (spins: its signs)."""
    y = np.asarray(posterior.y, dtype=np.float64)
    if posterior.model.state_space == "spins":
        return np.where(y >= 0, 1.0, -1.0)
    return y.copy()


def _prior_pool(posterior, size, gen):
    """``size`` prior draws, uniformly random spins when the prior cannot be sampled, or None."""
    model = posterior.model
    if "sample" in model.capabilities:
        try:
            return np.asarray(model.sample(size, gen), dtype=np.float64).reshape(size, posterior.n_dim)
        except NotImplementedError:
            pass
    if model.state_space == "spins":
        return 2.0 * gen.integers(0, 2, size=(size, posterior.n_dim)) - 1.0
    return None


def dispersed_starts(posterior, reference, n_replicas, order_parameter="overlap", *, seed=0, key=()):
    """Initial states of a window's replicas spread over the posterior's states, shape (R, N).

    In this order: the reference; the prior draw farthest from it in the order parameter, i.e.
    with the largest ``|q(x, x_ref) - q(x_ref, x_ref)|`` among ``DISPERSED_POOL`` draws (generator
    seeded by ``SeedSequence(seed, spawn_key=(*key, 2^20 + 1))``; uniformly random spins when a
    spin prior cannot be sampled); the observation ``y = x_t / a_t`` (spins: its signs); then
    prior draws at evenly spaced quantiles of that distance. Without prior draws (a continuous
    model with a user prior) the reference and the observation alternate. Chains started there
    that cannot cross between states disagree, which R-hat detects (Gelman & Rubin 1992 start
    chains over-dispersed for the same reason).
    """
    post = _check_posterior(posterior)
    op = as_order_parameter(order_parameter)
    ref = _check_reference(reference, post.n_dim)
    n_replicas = as_positive_int(n_replicas, "n_replicas")
    key = tuple(as_positive_int(k, "key", minimum=0) for k in key)
    obs = _observation_state(post)
    gen = np.random.default_rng(seed_sequence(seed, *key, _DISPERSED_TAG))
    pool = _prior_pool(post, DISPERSED_POOL, gen)
    if pool is None:
        starts = [ref if r % 2 == 0 else obs for r in range(n_replicas)]
    else:
        q_self = float(op.value(ref, ref))
        far = np.argsort(-np.abs(op.value(pool, ref) - q_self), kind="stable")
        extra = max(n_replicas - 3, 0)
        picks = far[np.rint(np.linspace(0, pool.shape[0] - 1, extra + 2)[1:-1]).astype(int)] if extra else []
        starts = ([ref, pool[far[0]], obs] + [pool[i] for i in picks])[:n_replicas]
    return np.ascontiguousarray(np.stack(starts), dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# MBAR
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
        bins (``log p_b - log sum_b' p_b'``); ``log_p_cov`` and ``log_p_grid_cov`` (B, B) their
        covariance matrices, from MBAR's uncertainties of the differences (``Cov(a, b) = (Var a +
        Var b - Var(a - b)) / 2``; NaN rows for empty bins); ``counts`` (B,) samples
        per bin; ``f`` (K,) window free energies relative to window 0; ``overlap``,
        MBAR's overlap scalar (one minus the second eigenvalue of the overlap matrix; 0 means
        disconnected windows); ``overlap_matrix`` (K, K), ``O = W^T W diag(N_k)`` (Shirts &
        Chodera 2008): ``O_ij`` is the mean weight a sample of window ``i`` gives window ``j``;
        ``iterations``, Newton steps of :func:`replica.mbar.mbar_harmonic` on the full data.
    """
    solved = mbar_harmonic(q_by_window, centres, kappas, n_dim)
    q_all, n_k = solved.q, solved.n_k
    n_bins = len(edges) - 1
    idx = np.digitize(q_all, edges) - 1
    inside = (idx >= 0) & (idx < n_bins)
    counts = np.bincount(idx[inside], minlength=n_bins)
    occupied = np.flatnonzero(counts > 0)
    # extra states: 0 unbiased, 1 unbiased restricted to the grid, 2 + j restricted to occupied bin j
    rank = np.full(n_bins, -1, dtype=np.int64)
    rank[occupied] = np.arange(occupied.size)
    members = np.full((q_all.size, 3), -1, dtype=np.int64)
    members[:, 0] = 0
    members[inside, 1] = 1
    members[inside, 2] = 2 + rank[idx[inside]]
    n_states = n_k.size
    f_all, theta, gram = solved.covariance(members, 2 + occupied.size)
    # overlap matrix O = W^T W diag(N_k) (Shirts & Chodera 2008): O_ij is the chance that a
    # sample of state i is attributed to state j; rows sum to 1
    overlap_matrix = gram[:n_states, :n_states] * n_k[None, :]
    overlap = 1.0
    if n_states > 1:
        eig = np.sort(np.real(np.linalg.eigvals(overlap_matrix)))[::-1]
        overlap = float(1.0 - eig[1])
    f_extra = f_all[n_states:]
    d_ij = error_of_differences(theta[n_states:, n_states:])  # stderr of f_i - f_j, extra states
    out = {}
    for name, ref_state in (("", 0), ("_grid", 1)):
        log_p = np.full(n_bins, np.nan)
        log_p_err = np.full(n_bins, np.nan)
        log_p[occupied] = f_extra[ref_state] - f_extra[2:]
        log_p_err[occupied] = d_ij[ref_state, 2:]
        # Cov(f_i - f_r, f_j - f_r) = (Var(f_i - f_r) + Var(f_j - f_r) - Var(f_i - f_j)) / 2
        d_r = d_ij[ref_state, 2:]
        cov = np.full((n_bins, n_bins), np.nan)
        cov[np.ix_(occupied, occupied)] = 0.5 * (d_r[:, None] ** 2 + d_r[None, :] ** 2 - d_ij[2:, 2:] ** 2)
        out["log_p" + name] = log_p
        out["log_p" + name + "_stderr"] = log_p_err
        out["log_p" + name + "_cov"] = cov
    return {
        **out,
        "counts": counts,
        "f": solved.f,  # gauge f_0 = 0
        "iterations": solved.iterations,
        "overlap": overlap,
        "overlap_matrix": overlap_matrix,
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
        posterior rung), ``tau`` (integrated autocorrelation time, in draws: the largest of
        ``tau_q``, that of q, ``tau_median``, that of ``1[q > median q]``, and ``tau_state``), ``stride``
        (thinning), ``n_draws`` (per replica, extensions included), ``n_samples`` (thinned, all
        replicas), ``q_mean``, ``q_std``, ``f`` (MBAR reduced free energy relative to window 0),
        with tempering ``exchange_rate`` (mean over pairs and replicas), and the convergence
        diagnostics (module docstring): ``n_sweeps`` (production sweeps per replica used),
        ``n_extensions``, ``n_taus`` (``n_draws / tau``), ``rhat_q`` (the criterion), the
        diagnostics ``rhat_energy``, ``rhat_projection`` and, when the model declares order
        directions, ``rhat_order`` with the criteria ``tau_state`` and ``rhat_state`` of the state
        indicators (module docstring), ``rhat`` (the largest of the R-hats of the series) and ``rhat_worst`` (which
        series it is); ``overlap_prev`` / ``overlap_next`` (MBAR
        overlap-matrix elements with the neighbouring windows in centre order, NaN at the ends);
        the flags ``long_enough`` (a), ``mixed`` (b), ``overlapping`` (c) and ``converged`` (all
        three). With ``window_exchange=True`` also ``tempered`` (the window has a ladder; then
        ``exchange_rate`` is its ladder's mean swap rate, NaN without) and ``exchange_next`` (swap
        rate with the next window in centre order, NaN for the last).
    reference : ndarray (N,)
    info : dict
        Scalars: ``n_dim``, ``order_parameter``, ``reference_source`` (``"given"``, ``"exact"`` or
        ``"chain"``), ``density``, ``normalisation``, ``mbar_overlap``, ``method``, ``tempering``,
        ``init``, ``n_replicas``, ``n_sweeps``, ``burn_in``, ``max_sweeps``, ``total_sweeps``
        (replica sweeps over all windows, extensions and the reference chain, burn-in included,
        tempering rungs not counted), ``n_extensions`` (over all windows), ``converged`` (every
        window passed every criterion), ``unconverged_windows`` (their indices), the criteria
        ``min_taus``, ``rhat_max``, ``min_overlap``, ``trimmed`` (end bins of a default grid
        dropped for lack of samples), ``seed``, ``key``, ``wall_time``, ``window_exchange``. With
        ``window_exchange=True`` (``total_sweeps`` then counts every burn-in phase, ladder rungs
        not counted; ``n_extensions`` those of the whole exchange): ``window_exchange_rates``
        (K - 1 swap rates between neighbouring windows in centre order, means over replicas),
        ``round_trips`` (per replica: configurations that went from the first window to the
        last and back), ``round_trips_per_1000_sweeps``, ``tempered_windows`` (indices),
        ``n_slots`` (configurations per replica), ``ladder_theta`` (``(tp, tl)`` per rung),
        ``exact_prior_top`` (the last rung takes fresh prior draws), ``phases`` (the burn-in
        phases: name, sweeps, tempered windows), ``burn_in_sweeps`` and ``exchange_every``.
    covariance : ndarray (B, B)
        Covariance matrix of ``V`` over the bins of ``potential`` (MBAR's asymptotic covariance
        divided by ``N^2``; its diagonal is ``stderr^2``; NaN rows for uncovered bins). The bins'
        errors are correlated through the window free energies (a whole branch of V moves with
        the relative weight of two states), so a calibration check against an exact curve should
        use ``d^T C^+ d`` over the eigen-directions of ``C`` that the normalisation leaves free
        (with the grid holding nearly all the mass, ``sum_b p_b ~ 1`` fixes one to within
        rounding), a chi-square with that many degrees of freedom, rather than the sum of
        ``z_b^2``.
    """

    potential: object
    windows: object
    reference: np.ndarray
    info: dict = field(default_factory=dict)
    covariance: np.ndarray | None = None

    @property
    def converged(self):
        """Whether every window passed every convergence criterion (``info["converged"]``)."""
        return bool(self.info.get("converged", False))

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


def _order_directions(model):
    """The model's order directions ``(k, N)`` (class axes, patterns) or None (the hook may be absent)."""
    hook = getattr(model, "order_directions", None)
    if hook is None:
        return None
    try:
        dirs = hook()
    except NotImplementedError:
        return None
    if dirs is None:
        return None
    dirs = np.asarray(dirs, dtype=np.float64)
    return dirs.reshape(-1, model.n_dim) if dirs.size else None


def _rhat(series):
    """R-hat of (R, draws) chains; infinite when there are too few draws to split."""
    if series.shape[1] < 4:
        return math.inf
    return float(rhat(series))


class _Window:
    """The recorded series of one window over its runs (the first and its extensions)."""

    def __init__(self, post, rp, op, ref, u, directions):
        self.post, self.rp, self.op, self.ref, self.u, self.directions = post, rp, op, ref, u, directions
        self.q, self.energy, self.projection, self.order = [], [], [], []
        self.energy_ok = True
        self.acc, self.exch, self.weights = [], [], []
        self.last = None
        self.n_sweeps = 0
        self.n_extensions = 0
        self.total_sweeps = 0
        self.method = None

    def add(self, res, n_sweeps, burn_in):
        x = res.samples  # (R, draws, N)
        n = x.shape[-1]
        self.q.append(self.op.value(x, self.ref))
        flat = x.reshape(-1, n)
        if self.energy_ok:
            try:
                e = self.post.energy(flat) + self.rp.restraint.energy(flat)
                self.energy.append(np.asarray(e, dtype=np.float64).reshape(x.shape[:2]))
            except NotImplementedError:
                self.energy_ok = False
            if self.energy_ok and not np.isfinite(self.energy[-1]).all():
                self.energy_ok = False
        self.projection.append(x @ self.u / math.sqrt(n))
        if self.directions is not None:
            self.order.append(x @ self.directions.T)  # (R, draws, k)
        self.acc.append(float(res.acceptance[:, 0].mean()))
        if res.ladder.n_rungs > 1:
            self.exch.append(float(np.nanmean(res.exchange_rate)))
        self.weights.append(x.shape[1])
        self.last = np.ascontiguousarray(x[:, -1])
        self.n_sweeps += n_sweeps
        self.total_sweeps += (n_sweeps + burn_in) * x.shape[0]
        self.method = res.method

    def add_series(self, q, energy, projection, order, acceptance, exchange_rate, n_sweeps, method):
        """Append series recorded elsewhere (the exchange ladders): ``q``, ``energy``, ``projection``
        (R, draws), ``order`` (R, draws, k) or None; ``acceptance`` and ``exchange_rate`` (None
        without a ladder) are the run's means. Sweep totals are kept by the caller."""
        self.q.append(q)
        if self.energy_ok:
            self.energy.append(energy)
            if not np.isfinite(energy).all():
                self.energy_ok = False
        self.projection.append(projection)
        if order is not None:
            self.order.append(order)
        self.acc.append(float(acceptance))
        if exchange_rate is not None:
            self.exch.append(float(exchange_rate))
        self.weights.append(q.shape[1])
        self.n_sweeps += n_sweeps
        self.method = method

    def series(self):
        q = np.concatenate(self.q, axis=1)
        out = {"q": q, "projection": np.concatenate(self.projection, axis=1)}
        if self.energy_ok:
            out["energy"] = np.concatenate(self.energy, axis=1)
        if self.order:
            order = np.concatenate(self.order, axis=1)
            out.update({f"order_{j}": order[:, :, j] for j in range(order.shape[2])})
        return out

    def diagnose(self):
        """tau, R-hat of every series, and the flags (a) long enough and (b) mixed.

        Criteria: q and, where the model has order directions (class axes, patterns), the state
        indicators ``sign(x . d_j)``: which of the symmetric states along ``d_j`` a replica is in.
        A window at a q that states on both sides reach (two classes at the same overlap with the
        reference) holds both; q does not see the switches between them, so its tau and R-hat
        pass while the replicas sit in one state, and the window's law of q is that of one state
        (a potential many standard errors off with small errors). ``tau`` is the largest of the
        autocorrelation times of q, of its median indicator and of the state indicators; (b) needs
        R-hat below ``RHAT_MAX`` for q and for every state indicator that changes. The R-hat of
        the other series (energy, the projections themselves, which drift within a state) are
        diagnostics, not criteria."""
        series = self.series()
        q = series["q"]
        tau_q = tau_int(q, warn=False)
        tau_median = tau_int((q > np.median(q)).astype(np.float64), warn=False)
        rh = {name: _rhat(ser) for name, ser in series.items()}
        tau_state, rhat_state = 0.0, 1.0
        for name, ser in series.items():
            if name.startswith("order_"):
                state = (ser > 0).astype(np.float64)
                if 0.0 < state.mean() < 1.0:  # a state indicator that never changes has nothing to mix
                    tau_state = max(tau_state, tau_int(state, warn=False))
                    rhat_state = max(rhat_state, _rhat(state))
        tau = max(1.0, tau_q, tau_median, tau_state)
        d = {"tau": tau, "tau_q": tau_q, "tau_median": tau_median, "n_draws": int(q.shape[1]),
             "n_taus": q.shape[1] / tau, "rhat": max(rh.values()),
             "rhat_q": rh["q"], "rhat_energy": rh.get("energy", math.nan), "rhat_projection": rh["projection"]}
        orders = [v for name, v in rh.items() if name.startswith("order_")]
        if orders:
            d["rhat_order"] = max(orders)
            d["tau_state"], d["rhat_state"] = tau_state, rhat_state
        d["rhat_worst"] = max(rh, key=rh.get)
        d["long_enough"] = bool(q.shape[1] >= MIN_TAUS * tau)
        d["mixed"] = bool(rh["q"] < RHAT_MAX and rhat_state < RHAT_MAX)
        return d, q


def _series_name(name):
    if name.startswith("order_"):
        return f"the projection on order direction {name[6:]}"
    return {"projection": "the projection on the field"}.get(name, name)


def _failure_message(bad, budget, n_replicas, init_name, tempering, n_windows, thin, window_exchange=False):
    """The ConvergenceError / ConvergenceWarning text naming the failing windows and the remedies."""
    parts = []
    for row in bad.itertuples(index=False):
        what = []
        if not row.long_enough:
            what.append(f"only {row.n_taus:.3g} tau long (needs {MIN_TAUS:g})")
        if not row.mixed:
            state = getattr(row, "rhat_state", math.nan)
            if state >= RHAT_MAX and not row.rhat_q >= RHAT_MAX:
                what.append(f"replicas disagree on their state along the order directions (R-hat of the state "
                            f"indicators {state:.4g} >= {RHAT_MAX:g})")
            else:
                what.append(f"replicas disagree (R-hat of q {row.rhat_q:.4g} >= {RHAT_MAX:g})")
        if not row.overlapping:
            what.append(f"overlaps its neighbours by {min(row.overlap_prev, row.overlap_next):.3g} < "
                        f"{MIN_NEIGHBOUR_OVERLAP:g}")
        parts.append(f"window {row.window} (q_k = {row.centre:.4g}: tau = {row.tau:.3g} draws, R-hat = "
                     f"{row.rhat_q:.4g}, {row.n_sweeps} sweeps per replica; " + ", ".join(what) + ")")
    head = (f"umbrella sampling did not converge: {len(bad)} of {n_windows} windows failed their criteria "
            f"(at least {MIN_TAUS:g} tau of q and of the state indicators, R-hat < {RHAT_MAX:g} across {n_replicas} "
            f"replicas started "
            f"{init_name!r}, neighbour overlap >= {MIN_NEIGHBOUR_OVERLAP:g}) with a budget of max_sweeps = "
            f"{budget} production sweeps per replica and window (thin = {thin}): ")
    advice = []
    stuck = bad[(~bad["mixed"]) & (bad["rhat"] > _BARRIER_RHAT)]  # the largest R-hat of all series
    if len(stuck):
        ladder = ("more rungs (n_temperatures) or a lower lowest_beta, since exchanges do not carry states "
                  "across" if tempering not in (None, "none") else
                  "parallel tempering of the windows (tempering='hamiltonian', with n_temperatures rungs)")
        if window_exchange:
            ladder += (" (with window_exchange=True: ladders on those windows, tempered_windows='all' or their "
                       "indices; swaps between windows alone do not carry a configuration between states that "
                       "reach the same q)")
        advice.append(
            f"in windows {stuck['window'].tolist()} the replicas stay in different states at the same "
            f"q: a barrier (e.g. between classes or patterns) that local moves do not cross at any affordable "
            f"length; use {ladder}, or more windows and a larger kappa so that each window holds one state")
    slow = bad[((~bad["long_enough"]) | (~bad["mixed"])) & ~bad["window"].isin(stuck["window"])]
    if len(slow):
        more = "or add rungs to the ladder" if tempering not in (None, "none") else "or temper them"
        advice.append(f"windows {slow['window'].tolist()} decorrelate slowly: raise max_sweeps (or n_sweeps), {more}")
    apart = bad[~bad["overlapping"]]
    if len(apart):
        advice.append(f"windows {apart['window'].tolist()} barely overlap their neighbours: add windows between "
                      "them, or lower kappa there")
    advice.append("allow_unconverged=True returns the curve flagged converged = False")
    return head + "; ".join(parts) + ". Remedies: " + "; ".join(advice) + "."


# ---------------------------------------------------------------------------------------------
# replica exchange between windows
def _widen(mask, margin):
    """``mask`` (K,) bool with every True spread to ``margin`` neighbours on each side."""
    out = mask.copy()
    for shift in range(1, margin + 1):
        out[shift:] |= mask[:-shift]
        out[:-shift] |= mask[shift:]
    return out


def _check_window_exchange(post, method, tempering, temperatures, n_temperatures, lowest_beta, exchange_every,
                           tempered_windows, n_windows):
    """Checks of the ``window_exchange=True`` options before any sampling. Returns the ladder as
    ``theta`` (M, 2) (rung 0 the posterior, ``(1, 1)``; one row without a ladder), whether its last
    rung is the prior drawn exactly, and the method."""
    if post.model.state_space != "continuous":
        raise ValueError(
            f"window_exchange: swaps between windows are available for continuous models; "
            f"{type(post.model).__name__} has {post.model.state_space} states (use window_exchange=False, "
            "with tempering='hamiltonian' where windows hold several states)"
        )
    if method == "auto":
        method = "mala"
    if method not in ("mala", "hmc", "rwm"):
        raise ValueError(f"method: window_exchange=True runs 'mala', 'hmc' or 'rwm', got {method!r}")
    as_positive_int(exchange_every, "exchange_every")
    if tempering in (None, "none"):
        if temperatures is not None or n_temperatures is not None or lowest_beta is not None:
            raise ValueError("tempering: temperatures / n_temperatures / lowest_beta need tempering='likelihood' or "
                             "'hamiltonian'")
        if tempered_windows is not None:
            raise ValueError("tempered_windows: ladders need tempering='likelihood' or 'hamiltonian'")
        return np.ones((1, 2)), False, method
    if tempering not in ("hamiltonian", "likelihood"):
        raise ValueError(
            f"tempering: with window_exchange=True the ladders of tempered windows are 'likelihood' (to the prior, "
            f"drawn exactly when the model can) or 'hamiltonian'; got {tempering!r}"
        )
    from mc.sampler import Ladder

    values = np.asarray(Ladder.make(tempering, n_temperatures, temperatures, lowest_beta).values, dtype=np.float64)
    if tempering == "hamiltonian":
        theta = np.stack([values, values], axis=1)
    else:
        theta = np.stack([np.ones_like(values), values], axis=1)
    exact_top = bool(tempering == "likelihood" and values[-1] == 0.0 and "sample" in post.model.capabilities)
    if not (tempered_windows is None or (isinstance(tempered_windows, str) and tempered_windows in ("auto", "all"))):
        if isinstance(tempered_windows, str):
            raise ValueError(f"tempered_windows: expected 'auto', 'all' or window indices, got {tempered_windows!r}")
        _check_tempered_indices(tempered_windows, n_windows)
    return theta, exact_top, method


def _check_tempered_indices(tempered_windows, n_windows):
    idx = np.asarray(tempered_windows)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ValueError(
            f"tempered_windows: expected 'auto', 'all' or a list of window indices, got {tempered_windows!r}"
        )
    if n_windows is not None and idx.size and (idx.min() < 0 or idx.max() >= n_windows):
        raise ValueError(f"tempered_windows: indices must lie in [0, {n_windows}), got {idx.tolist()}")
    if np.unique(idx).size != idx.size:
        raise ValueError(f"tempered_windows: repeated indices in {idx.tolist()}")


def _exchange_init(post, init, init_name, n_replicas, seed, key):
    """Initial states (R, N) of the exchange ladders: every slot of replica r starts at row r."""
    n = post.n_dim
    if init_name == "observation":
        return np.tile(_observation_state(post), (n_replicas, 1))
    if init_name == "prior":
        gen = np.random.default_rng(seed_sequence(seed, *key, _EXCHANGE_TAG, n_replicas))
        pool = _prior_pool(post, n_replicas, gen)
        if pool is None:
            raise ValueError(f"init: {type(post.model).__name__} cannot draw from its prior; give init as an array")
        return np.ascontiguousarray(pool)
    arr = as_float_array(init, "init", allow_nonfinite=True)
    if arr.shape != (n_replicas, n):
        raise ValueError(f"init: expected an array of shape ({n_replicas}, {n}), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("init: contains non-finite values")
    return np.ascontiguousarray(arr, dtype=np.float64)


class _ExchangeLadders:
    """Replica-exchange umbrella sampling of a continuous posterior (``window_exchange=True``).

    Replica ``r`` (of ``R``, each with its own xoshiro stream seeded by ``(seed, *key, 2^20 + 2,
    r)``) holds one configuration per slot: slot ``k < K`` is window ``k`` (windows in centre
    order) on the posterior, and every tempered window has ``M - 1`` further slots at the rungs
    ``theta[1:]`` of its ladder, target ``p0^tp exp(tl (phi_lik - R_k))``. When the last rung is the
    prior (``exact_top``) its slots take a fresh prior draw every sweep (generator of replica ``r``
    seeded by ``(seed, *key, 2^20 + 2, r, 1)``). Sweeps, swaps and records are the Numba kernel
    ``mc.kernels.restraints.run_window_exchange``; this class keeps its arrays, adapts step sizes
    during burn-in (per replica and slot, the rule of ``mc.sample``) and rebuilds the slots when
    the set of tempered windows changes.
    """

    def __init__(self, post, op, ref, centres, kappas, init, method, f, params, seed, key, directions,
                 exchange_every, theta, exact_top):
        n = post.n_dim
        self.post = post
        self.n, self.n_rep, self.n_win = n, init.shape[0], centres.size
        self.centres = np.ascontiguousarray(centres, dtype=np.float64)
        self.kappas = np.ascontiguousarray(kappas, dtype=np.float64)
        if op.linear:
            v, c0 = op.linear_form(ref)
            self.v, self.kind, self.c0 = np.ascontiguousarray(v, dtype=np.float64), kr.LINEAR, float(c0)
        else:
            self.v, self.kind, self.c0 = np.ascontiguousarray(ref, dtype=np.float64), kr.DISTANCE, 0.0
        self.method = {"rwm": kr.RWM, "mala": kr.MALA, "hmc": kr.HMC}[method]
        from mc.sampler import TARGET_ACCEPTANCE

        self.target = TARGET_ACCEPTANCE[method]
        self.f, self.params = f, params
        self.y = np.ascontiguousarray(post.y, dtype=np.float64)
        self.inv_s = 1.0 / float(post.s)
        self.directions = np.ascontiguousarray(directions, dtype=np.float64)
        self.exchange_every = exchange_every
        self.theta = np.asarray(theta, dtype=np.float64)
        self.exact_top = bool(exact_top)
        self.rng = seed_states([seed_sequence(seed, *key, _EXCHANGE_TAG, r) for r in range(self.n_rep)])
        self.prior_rng = [np.random.default_rng(seed_sequence(seed, *key, _EXCHANGE_TAG, r, 1))
                          for r in range(self.n_rep)] if self.exact_top else None
        self.spare = normal_spares(self.n_rep)
        self.sweeps_done = 0
        k = self.n_win
        x = np.ascontiguousarray(np.repeat(init[:, None, :], k, axis=1), dtype=np.float64)
        lp, gp, qc, hc = self._caches(x)
        bad = ~np.isfinite(lp)
        if bad.any():
            r = int(np.argwhere(bad)[0][0])
            raise ValueError(f"init: initial state of replica {r} has log p0 = {lp[r, 0]}")
        scale = math.sqrt(post.s / (1.0 + post.s)) * (1.0 if method == "hmc" else 1.0 / n ** (1.0 / 6.0))
        self.x, self.lp, self.gp, self.qc, self.hc = x, lp, gp, qc, hc
        self.eps = np.full((self.n_rep, k), 0.5 * scale)
        self.n_adapt = np.zeros(k)
        self.tempered = np.zeros(k, dtype=bool)
        self._layout()

    def _caches(self, x):
        n_rep, n_slot, n = x.shape
        lp = np.zeros((n_rep, n_slot))
        gp = np.zeros((n_rep, n_slot, n))
        from mc.kernels.continuous import init_prior_terms

        init_prior_terms(self.f, self.params, x, lp, gp)
        qc = np.zeros((n_rep, n_slot))
        kr.order_values(x, self.v, self.kind, self.c0, qc)
        hc = -lp + 0.5 * self.inv_s * np.sum((self.y - x) ** 2, axis=2)
        return lp, gp, qc, hc

    def _layout(self):
        """Slots, exchange pairs and counters for the current ``tempered`` set (chains in slot order)."""
        k, m = self.n_win, self.theta.shape[0]
        windows, rungs = list(range(k)), [0] * k
        pairs = [(w, w + 1, w % 2) for w in range(k - 1)]
        for w in np.flatnonzero(self.tempered):
            below = w
            for j in range(1, m):
                pairs.append((below, len(windows), (j - 1) % 2))
                below = len(windows)
                windows.append(int(w))
                rungs.append(j)
        self.slot_window = np.array(windows, dtype=np.int64)
        self.slot_rung = np.array(rungs, dtype=np.int64)
        self.slot_theta = np.ascontiguousarray(self.theta[self.slot_rung])
        top = (self.slot_rung == m - 1) & (self.slot_rung > 0) & self.exact_top
        self.slot_fresh = np.where(top, np.cumsum(top) - 1, -1).astype(np.int64)
        self.n_fresh = int(top.sum())
        self.pair_a = np.array([p[0] for p in pairs], dtype=np.int64)
        self.pair_b = np.array([p[1] for p in pairs], dtype=np.int64)
        self.pair_parity = np.array([p[2] for p in pairs], dtype=np.int64)
        n_slot = self.slot_window.size
        self.chain_at = np.tile(np.arange(n_slot, dtype=np.int64), (self.n_rep, 1))
        self.slot_of = self.chain_at.copy()
        self.reset_counters()

    def reset_counters(self):
        n_slot, n_pair = self.slot_window.size, self.pair_a.size
        self.acc = np.zeros((self.n_rep, n_slot), dtype=np.int64)
        self.att = np.zeros((self.n_rep, n_slot), dtype=np.int64)
        self.ex_att = np.zeros((self.n_rep, n_pair), dtype=np.int64)
        self.ex_acc = np.zeros((self.n_rep, n_pair), dtype=np.int64)
        self.trips = np.zeros(self.n_rep, dtype=np.int64)
        self.trip_state = np.full((self.n_rep, n_slot), -1, dtype=np.int64)
        self.trip_state[np.arange(self.n_rep), self.chain_at[:, 0]] = 0

    def set_tempered(self, tempered):
        """Attach ladders to the windows of ``tempered`` (K,) bool and remove the others: a slot that
        stays keeps its chain and step size; a new one starts from the configuration of its window
        on the posterior, with that slot's step size times ``tl^(-1/2)`` (at most 10 times)."""
        tempered = np.asarray(tempered, dtype=bool)
        if np.array_equal(tempered, self.tempered):
            return
        old = {(int(w), int(j)): s for s, (w, j) in enumerate(zip(self.slot_window, self.slot_rung))}
        chain_at = self.chain_at
        self.tempered = tempered.copy()
        old_eps, old_adapt = self.eps, self.n_adapt
        self._layout()
        rows = np.arange(self.n_rep)[:, None]
        source = np.empty((self.n_rep, self.slot_window.size), dtype=np.int64)
        eps = np.empty((self.n_rep, self.slot_window.size))
        n_adapt = np.zeros(self.slot_window.size)
        for s, (w, j) in enumerate(zip(self.slot_window, self.slot_rung)):
            was = old.get((int(w), int(j)))
            if was is None:
                source[:, s] = chain_at[:, int(w)]
                eps[:, s] = old_eps[:, int(w)] / math.sqrt(max(self.slot_theta[s, 1], 0.01))
            else:
                source[:, s] = chain_at[:, was]
                eps[:, s] = old_eps[:, was]
                n_adapt[s] = old_adapt[was]
        self.x = np.ascontiguousarray(self.x[rows, source])
        self.lp = np.ascontiguousarray(self.lp[rows, source])
        self.gp = np.ascontiguousarray(self.gp[rows, source])
        self.qc = np.ascontiguousarray(self.qc[rows, source])
        self.hc = np.ascontiguousarray(self.hc[rows, source])
        self.eps, self.n_adapt = eps, n_adapt

    def _fresh(self, n_sweeps):
        """Prior draws for the exact top slots, (R, n_fresh, n_sweeps, N) (a placeholder without)."""
        if not self.n_fresh:
            return np.zeros((self.n_rep, 1, 1, self.n))
        size = self.n_fresh * n_sweeps
        draws = [np.asarray(self.post.model.sample(size, g), dtype=np.float64).reshape(self.n_fresh, n_sweeps, self.n)
                 for g in self.prior_rng]
        return np.ascontiguousarray(np.stack(draws))

    def _kernel(self, n_sweeps, thin=1, q=None, e=None, p=None, rec0=0, rec_phase=0):
        if q is None:
            q = np.empty((self.n_rep, self.n_win, 0))
            e = q
            p = np.empty((self.n_rep, self.n_win, 0, self.directions.shape[0]))
        rec = rec0
        done = 0
        while done < n_sweeps:  # in chunks, so that the fresh prior draws stay small
            chunk = min(n_sweeps - done, _FRESH_CHUNK) if self.n_fresh else n_sweeps - done
            rec = kr.run_window_exchange(
                self.x, self.lp, self.gp, self.qc, self.hc, self.f, self.params, self.v, self.kind, self.c0, self.y,
                self.inv_s, self.slot_window, self.slot_theta, self.slot_fresh, self._fresh(chunk), self.kappas,
                self.centres, self.method, self.eps, 10, chunk, self.sweeps_done, self.rng, self.spare,
                self.chain_at, self.slot_of, self.acc, self.att, self.exchange_every, self.pair_a, self.pair_b,
                self.pair_parity, self.ex_att, self.ex_acc, 0, self.n_win - 1, self.trip_state, self.trips, thin,
                rec_phase, self.directions, q, e, p, rec)
            self.sweeps_done += chunk
            done += chunk
        return rec

    def burn(self, n_sweeps, record=0):
        """``n_sweeps`` sweeps that adapt the step sizes every ``_ADAPT_EVERY`` sweeps towards the
        method's target acceptance; the last ``record`` of them are recorded and returned as
        :meth:`run` does (``None`` when ``record = 0``)."""
        done, out = 0, None
        while done < n_sweeps:
            chunk = min(_ADAPT_EVERY, n_sweeps - done)
            acc0, att0 = self.acc.copy(), self.att.copy()
            if record and done + chunk > n_sweeps - record:
                part = self.run(chunk, 1)
                out = part if out is None else tuple(np.concatenate([a, b], axis=2) for a, b in zip(out, part))
            else:
                self._kernel(chunk)
            done += chunk
            rate = (self.acc - acc0) / np.maximum(self.att - att0, 1)
            self.n_adapt += 1
            gain = 1.0 / np.sqrt(self.n_adapt)
            self.eps *= np.exp(np.clip(gain * (rate - self.target) * 2.0, -1.0, 1.0))
        return out

    def run(self, n_sweeps, thin):
        """``n_sweeps`` sweeps at fixed step sizes, recording every ``thin``-th: ``(q, energy,
        projections)`` of shapes (R, K, D), (R, K, D), (R, K, D, M), windows in centre order."""
        draws = n_sweeps // thin
        q = np.empty((self.n_rep, self.n_win, draws))
        e = np.empty((self.n_rep, self.n_win, draws))
        p = np.empty((self.n_rep, self.n_win, draws, self.directions.shape[0]))
        rec = self._kernel(n_sweeps, thin, q, e, p, 0, self.sweeps_done)
        return q[:, :, :rec], e[:, :, :rec], p[:, :, :rec]

    def counters(self):
        return self.acc.copy(), self.att.copy(), self.ex_acc.copy(), self.ex_att.copy()

    def rates(self, since=None):
        """Per window (centre order): acceptance on the posterior and the mean swap rate of its
        ladder (NaN untempered); per neighbour pair of windows (K - 1,) the swap rate; means over
        replicas of the counts since the :meth:`counters` snapshot ``since`` (default: the last reset)."""
        acc, att, ex_acc, ex_att = self.counters()
        if since is not None:
            acc, att, ex_acc, ex_att = acc - since[0], att - since[1], ex_acc - since[2], ex_att - since[3]
        k = self.n_win
        acceptance = (acc[:, :k] / np.maximum(att[:, :k], 1)).mean(axis=0)
        rate = ex_acc / np.maximum(ex_att, 1)
        window_pairs = rate[:, : k - 1].mean(axis=0)
        ladder = np.full(k, np.nan)
        if rate.shape[1] > k - 1:
            owner = self.slot_window[self.pair_b[k - 1:]]
            for w in np.flatnonzero(self.tempered):
                ladder[w] = float(rate[:, k - 1:][:, owner == w].mean())
        return acceptance, ladder, window_pairs


def _exchange_diagnostics(post, op, ref, u, directions, record, method):
    """Per-window diagnostics (``_Window.diagnose``) of series recorded by the exchange ladders."""
    q, e, p = record
    out = []
    for w in range(q.shape[1]):
        win = _Window(post, None, op, ref, u, directions)
        win.add_series(q[:, w], e[:, w], p[:, w, :, 0], p[:, w, :, 1:] if p.shape[3] > 1 else None, math.nan, None,
                       0, method)
        out.append(win.diagnose()[0])
    return out


def _run_window_exchange(post, op, ref, centres, kappas, init, *, n_sweeps, burn, budget, thin, method, theta,
                         exact_top, tempered_windows, exchange_every, log_prior_grad, prior_params, seed, key, u,
                         directions, bar):
    """Replica-exchange umbrella sampling (module docstring, "Exchange between windows").

    Returns the windows' ``_Window`` records (in the order of ``centres``), the exchange
    summary for ``info`` and per-window arrays (tempered flag, swap rate with the next window
    in centre order, ladder swap rate)."""
    from mc.sampler import continuous_prior

    n = post.n_dim
    k = centres.size
    order = np.argsort(centres, kind="stable")
    f, params = continuous_prior(post.model, log_prior_grad, prior_params)
    dirs = u[None, :] / math.sqrt(n)
    if directions is not None:
        dirs = np.vstack([dirs, directions])
    lad = _ExchangeLadders(post, op, ref, centres[order], kappas[order], init, method, f, params, seed, key, dirs,
                           exchange_every, theta, exact_top)
    n_rep = init.shape[0]
    phases = []
    diagnose = lambda rec: _exchange_diagnostics(post, op, ref, u, directions, rec, method)  # noqa: E731
    laddered = theta.shape[0] > 1
    if laddered and isinstance(tempered_windows, str) and tempered_windows == "auto":
        # pilot without ladders: the windows whose dispersed replicas still disagree get ladders
        half = max(burn // 2, min(burn, 4))
        diag = diagnose(lad.burn(burn, record=half)) if burn else []
        phases.append({"phase": "pilot", "sweeps": burn, "tempered": 0})
        stuck = np.array([d["rhat"] >= _BARRIER_RHAT for d in diag], dtype=bool) if diag else np.zeros(k, bool)
        first = _widen(stuck, TEMPERED_MARGIN)
        if first.any():
            lad.set_tempered(first)
            lad.burn(burn)
            phases.append({"phase": "tempered", "sweeps": burn, "tempered": int(first.sum())})
    else:
        if laddered:
            mask = np.zeros(k, dtype=bool)
            if isinstance(tempered_windows, str):  # "all"
                mask[:] = True
            else:
                mask[np.argsort(order)[np.asarray(tempered_windows, dtype=np.int64)]] = True
            lad.set_tempered(mask)
        lad.burn(burn)
        phases.append({"phase": "burn_in", "sweeps": burn, "tempered": int(lad.tempered.sum())})
    burn_total = sum(ph["sweeps"] for ph in phases)

    # production at fixed step sizes, extended (doubling) while windows fail (a) or (b)
    lad.reset_counters()
    wins = [_Window(post, None, op, ref, u, directions) for _ in range(k)]
    done, segment, n_extensions = 0, n_sweeps, 0
    while True:
        before = lad.counters()
        q, e, p = lad.run(segment, thin)
        acceptance, ladder, _ = lad.rates(since=before)
        for w in range(k):
            wins[w].add_series(q[:, w], e[:, w], p[:, w, :, 0], p[:, w, :, 1:] if p.shape[3] > 1 else None,
                               acceptance[w], ladder[w] if lad.tempered[w] else None, segment, method)
        done += segment
        bar.update(segment)
        diags = [win.diagnose()[0] for win in wins]
        if all(d["long_enough"] and d["mixed"] for d in diags) or done >= budget:
            break
        extra = min(done, budget - done)
        extra -= extra % thin
        if extra < thin:
            break
        segment = extra
        n_extensions += 1
    _, ladder, window_pairs = lad.rates()
    for win in wins:
        win.n_extensions = n_extensions
        win.total_sweeps = (burn_total + done) * n_rep
    inverse = np.argsort(order)
    swap_next = np.append(window_pairs, np.nan)  # with the next window in centre order
    summary = {
        "window_exchange_rates": [float(v) for v in window_pairs],
        "round_trips": [int(v) for v in lad.trips],
        "round_trips_per_1000_sweeps": float(lad.trips.mean() * 1000.0 / max(done, 1)),
        "tempered_windows": sorted(int(order[w]) for w in np.flatnonzero(lad.tempered)),
        "n_slots": int(lad.slot_window.size),
        "ladder_theta": lad.theta.tolist(),
        "exact_prior_top": bool(lad.exact_top and lad.tempered.any()),
        "phases": phases,
        "burn_in_sweeps": int(burn_total),
        "exchange_every": int(exchange_every),
    }
    per_window = {"tempered": lad.tempered[inverse], "exchange_next": swap_next[inverse],
                  "ladder_rate": ladder[inverse]}
    return [wins[i] for i in inverse], summary, per_window


def umbrella_sampling(posterior, reference=None, q_grid=None, *, order_parameter="overlap", windows=None, kappa=None,
                      n_sweeps=2000, burn_in=None, n_replicas=4, thin=1, method="auto", tempering=None,
                      temperatures=None, n_temperatures=None, lowest_beta=None, exchange_every=1, init="dispersed",
                      max_sweeps=None, allow_unconverged=False, log_prior_grad=None, prior_params=None,
                      density=None, normalise="samples", allow_uncovered=False, seed=0, key=(), progress=None,
                      window_exchange=False, tempered_windows=None):
    """Umbrella sampling of ``P(q | x_ref)`` combined by MBAR; returns an :class:`UmbrellaResult`.

    ``V(q) = -(1/N) log P(q | x_ref)`` on the bins of ``q_grid``, with the conventions of the
    module docstring (restraints, thinning, errors, normalisation over all pooled samples, density
    for continuous models and mass for spins, convergence criteria).

    Every window must converge before its data go into MBAR (module docstring): (a) its q series
    is at least ``MIN_TAUS`` = 50 integrated autocorrelation times long per replica (Sokal window,
    ``c = 5``); (b) its replicas, started dispersed, agree: the rank-normalised split R-hat
    (Vehtari et al. 2021) of their q series is below ``RHAT_MAX`` = 1.01; (c) after MBAR, its
    overlap-matrix elements with its
    neighbours are at least ``MIN_NEIGHBOUR_OVERLAP`` = 0.03. A window failing (a) or (b) is
    extended (its chains continue, doubling its sweeps) up to ``max_sweeps``; what still fails
    raises :class:`ConvergenceError` naming the windows, unless ``allow_unconverged=True``.

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
    n_sweeps : int
        Production sweeps per replica of every window's first run (default 2000), as for
        ``mc.sample``; windows that fail (a) or (b) are extended beyond it.
    burn_in, n_replicas, thin, method : as for ``mc.sample``, per window.
        ``n_replicas`` (default 4) replicas per window, the chains that R-hat compares.
    init : "dispersed", "prior", "observation", "reference" or array (R, N)
        Initial state of every window's chains. ``"dispersed"`` (default):
        :func:`dispersed_starts` (the reference, a prior draw far from it in q, the observation,
        further prior draws), so that criterion (b) sees replicas that cannot cross between
        states. ``"prior"`` / ``"observation"`` / an array as for ``mc.sample``; ``"reference"``
        starts all chains at ``x_ref`` (for windows known to lie inside the reference's state;
        then R-hat cannot see other states).
    max_sweeps : int, optional
        Budget: the most production sweeps per replica a window may use, extensions included
        (default ``MAX_SWEEPS_FACTOR * n_sweeps`` = ``4 n_sweeps``; at least ``n_sweeps``).
        Extensions double a window's sweeps (the last one is cut to the budget).
    allow_unconverged : bool
        False (default): windows that fail their criteria within the budget raise
        :class:`ConvergenceError`. True: the curve is returned with ``info["converged"] = False``,
        the per-window flags in ``windows`` and a :class:`ConvergenceWarning`.
    tempering, temperatures, n_temperatures, lowest_beta, exchange_every : optional
        Parallel tempering of every window (``mc.sample``); the restraint is part of the tempered
        energy, the posterior rung keeps it in full. Default: no ladder (``tempering=None``). With
        ``window_exchange=True``: the ladders of the tempered windows (``"likelihood"`` or
        ``"hamiltonian"``), and ``exchange_every`` the sweeps between rounds of swaps of both
        kinds (between windows and between rungs).
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
        Window ``k`` is ``mc.sample(..., seed=seed, key=(*key, k))``, its ``j``-th extension
        ``key=(*key, k, j)``: reproducible from them.
    progress : bool, optional
        Progress bar over windows on stderr (default: when stderr is a terminal).
    window_exchange : bool
        False (default): every window is its own ``mc.sample`` run. True: replica-exchange
        umbrella sampling (module docstring, "Exchange between windows"; continuous models, method
        MALA, HMC or RWM): the windows of each replica swap configurations with their neighbours
        every ``exchange_every`` sweeps; ``tempering`` is then None (swaps only), ``"likelihood"``
        (ladders to the prior, drawn exactly when the model can) or ``"hamiltonian"``, attached to
        the windows of ``tempered_windows`` only; seeds ``(seed, *key, 2^20 + 2, r)``.
    tempered_windows : "auto", "all" or list of int, optional
        With ``window_exchange=True`` and a ladder: the windows (indices into ``windows``) that get
        one. ``None`` or ``"auto"``: chosen by pilot burn-ins (module docstring); ``"all"``: every
        window (Sugita et al.'s two-dimensional exchange).

    Raises
    ------
    ConvergenceError
        (a ``ValueError``) when windows fail their criteria within ``max_sweeps`` and
        ``allow_unconverged`` is False; it names them and the remedies.
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
    if max_sweeps is None:
        budget = MAX_SWEEPS_FACTOR * n_sweeps
    else:
        budget = as_positive_int(max_sweeps, "max_sweeps")
        if budget < n_sweeps:
            raise ValueError(f"max_sweeps: {budget} is below n_sweeps = {n_sweeps} (the budget includes the first run)")
    if not isinstance(allow_unconverged, (bool, np.bool_)):
        raise ValueError(f"allow_unconverged: expected True or False, got {allow_unconverged!r}")
    if isinstance(init, str):
        if init not in ("dispersed", "prior", "observation", "reference"):
            raise ValueError(
                f"init: expected 'dispersed', 'prior', 'observation', 'reference' or an array of shape "
                f"({n_replicas}, {n}), got {init!r}"
            )
        init_name = init
    else:
        init_name = "array"
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
    if not isinstance(window_exchange, (bool, np.bool_)):
        raise ValueError(f"window_exchange: expected True or False, got {window_exchange!r}")
    if window_exchange:
        theta, exact_top, method_name = _check_window_exchange(post, method, tempering, temperatures, n_temperatures,
                                                    lowest_beta, exchange_every, tempered_windows,
                                                    None if windows is None else centres.size)
    elif tempered_windows is not None:
        raise ValueError("tempered_windows: only with window_exchange=True (ladders on some windows of the exchange)")
    sampler_kwargs = {"tempering": tempering, "temperatures": temperatures, "n_temperatures": n_temperatures,
                      "lowest_beta": lowest_beta, "exchange_every": exchange_every}
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

    if init_name == "reference":
        init = np.tile(ref, (n_replicas, 1))
    elif init_name == "dispersed":
        init = dispersed_starts(post, ref, n_replicas, op, seed=seed, key=key)
    if window_exchange:
        init = _exchange_init(post, init, init_name, n_replicas, seed, key)

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
    if window_exchange and tempered_windows is not None and not isinstance(tempered_windows, str):
        _check_tempered_indices(tempered_windows, centres.size)

    # windows: a first run, then extensions until (a) and (b) hold or the budget is spent
    burn = n_sweeps // 4 if burn_in is None else burn_in
    extension_burn_in = min(burn, EXTENSION_BURN_IN)
    y_norm = float(np.linalg.norm(post.y))
    u = post.y / y_norm if y_norm > 0 else np.full(n, 1.0 / math.sqrt(n))
    directions = _order_directions(post.model)
    quiet = tuple({ShortChainWarning, getattr(mcd, "MixingWarning", ShortChainWarning)})

    def run(rp, sweeps, burn_sweeps, start, run_key):
        with warnings.catch_warnings():
            for category in quiet:  # the windows' own criteria below replace the sampler's warnings
                warnings.simplefilter("ignore", category)
            return mc.sample(rp.posterior, n_replicas=n_replicas, n_sweeps=sweeps, burn_in=burn_sweeps, thin=thin,
                             method=method, seed=seed, key=run_key, init=start, store="samples", progress=False,
                             **sampler_kwargs, **rp.sampler_kwargs)

    q_thinned, rows = [], []
    total_sweeps, n_extensions, sampler_method = ref_sweeps, 0, None
    exchange_summary, exchange_windows = None, None
    if window_exchange:
        bar = run_control.progress_bar(progress, total=budget, unit="sweep", desc="umbrella exchange")
        try:
            exchanged, exchange_summary, exchange_windows = _run_window_exchange(
                post, op, ref, centres, kappas, init, n_sweeps=n_sweeps, burn=burn, budget=budget, thin=thin,
                method=method_name, theta=theta, exact_top=exact_top,
                tempered_windows="auto" if tempered_windows is None else tempered_windows,
                exchange_every=exchange_every, log_prior_grad=log_prior_grad, prior_params=prior_params, seed=seed,
                key=key, u=u, directions=directions, bar=bar)
        finally:
            bar.close()
        bar = run_control.progress_bar(False, total=centres.size, unit="window", desc="umbrella")
    else:
        bar = run_control.progress_bar(progress, total=centres.size, unit="window", desc="umbrella")
    try:
        for k, (centre, kap_k) in enumerate(zip(centres, kappas)):
            if window_exchange:
                win = exchanged[k]
                diag, q = win.diagnose()
            else:
                rp = restrained_posterior(post, ref, centre, kap_k, op, log_prior_grad=log_prior_grad,
                                          prior_params=prior_params)
                win = _Window(post, rp, op, ref, u, directions)
                win.add(run(rp, n_sweeps, burn_in, init, (*key, k)), n_sweeps, burn)
            while not window_exchange:
                diag, q = win.diagnose()
                if (diag["long_enough"] and diag["mixed"]) or win.n_sweeps >= budget:
                    break
                extra = min(win.n_sweeps, budget - win.n_sweeps)
                extra -= extra % thin
                if extra < thin:
                    break
                win.n_extensions += 1
                win.add(run(rp, extra, extension_burn_in, win.last, (*key, k, win.n_extensions)), extra,
                        extension_burn_in)
            total_sweeps += win.total_sweeps
            n_extensions += win.n_extensions
            sampler_method = win.method
            # thinned by tau, and to at most MBAR_SAMPLES_PER_WINDOW samples (MBAR's time grows as
            # windows x samples)
            stride = max(int(math.ceil(diag["tau"])), -(-q.size // MBAR_SAMPLES_PER_WINDOW))
            q_k = q[:, ::stride].ravel()
            q_thinned.append(q_k)
            row = {"window": k, "centre": float(centre), "kappa": float(kap_k),
                   "acceptance": float(np.average(win.acc, weights=win.weights)), "tau": diag["tau"],
                   "tau_q": diag["tau_q"], "tau_median": diag["tau_median"], "stride": stride,
                   "n_draws": diag["n_draws"], "n_samples": int(q_k.size), "q_mean": float(q.mean()),
                   "q_std": float(q.std())}
            if win.exch:
                row["exchange_rate"] = float(np.average(win.exch, weights=win.weights[-len(win.exch):]))
            elif window_exchange and exchange_windows["tempered"].any():
                row["exchange_rate"] = math.nan
            if window_exchange:
                row["tempered"] = bool(exchange_windows["tempered"][k])
                row["exchange_next"] = float(exchange_windows["exchange_next"][k])
            row.update({"n_sweeps": int(win.n_sweeps), "n_extensions": int(win.n_extensions),
                        **{name: diag[name] for name in ("n_taus", "rhat", "rhat_q", "rhat_energy",
                                                         "rhat_projection")}})
            for name in ("rhat_order", "tau_state", "rhat_state"):
                if name in diag:
                    row[name] = diag[name]
            row.update({"rhat_worst": diag["rhat_worst"], "long_enough": diag["long_enough"],
                        "mixed": diag["mixed"]})
            rows.append(row)
            bar.update(1)
    finally:
        bar.close()
    win_frame = pd.DataFrame(rows)
    win_frame["overlap_prev"] = np.nan
    win_frame["overlap_next"] = np.nan
    win_frame["overlapping"] = True
    win_frame["converged"] = win_frame["long_enough"] & win_frame["mixed"]

    def fail(frame):
        bad = frame[~frame["converged"]]
        return _failure_message(bad, budget, n_replicas, init_name, tempering, len(frame), thin,
                                window_exchange), bad

    if not win_frame["converged"].all() and not allow_unconverged:
        message, bad = fail(win_frame)
        raise ConvergenceError(message, windows=bad.reset_index(drop=True), diagnostics=win_frame)

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

    # (c) overlap with the neighbouring windows (in centre order)
    overlap = out["overlap_matrix"]
    order = np.argsort(centres, kind="stable")
    for i, k in enumerate(order):
        if i > 0:
            win_frame.loc[k, "overlap_prev"] = float(overlap[k, order[i - 1]])
        if i < order.size - 1:
            win_frame.loc[k, "overlap_next"] = float(overlap[k, order[i + 1]])
    worst = win_frame[["overlap_prev", "overlap_next"]].min(axis=1, skipna=True).fillna(1.0)
    win_frame["overlapping"] = worst >= MIN_NEIGHBOUR_OVERLAP
    win_frame["converged"] = win_frame["long_enough"] & win_frame["mixed"] & win_frame["overlapping"]
    win_frame["f"] = out["f"]
    converged = bool(win_frame["converged"].all())
    if not converged:
        message, bad = fail(win_frame)
        if not allow_unconverged:
            raise ConvergenceError(message, windows=bad.reset_index(drop=True), diagnostics=win_frame)
        warnings.warn(message, ConvergenceWarning, stacklevel=2)

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
    info = {
        "n_dim": n,
        "order_parameter": op.name,
        "reference_source": source,
        "density": bool(density),
        "normalisation": normalise,
        "mbar_overlap": out["overlap"],
        "method": sampler_method,
        "tempering": "none" if tempering is None else str(tempering),
        "init": init_name,
        "n_windows": int(centres.size),
        "n_replicas": n_replicas,
        "n_sweeps": n_sweeps,
        "burn_in": burn,
        "max_sweeps": int(budget),
        "total_sweeps": int(total_sweeps),
        "n_extensions": int(n_extensions),
        "converged": converged,
        "unconverged_windows": [int(k) for k in win_frame.loc[~win_frame["converged"], "window"]],
        "min_taus": float(MIN_TAUS),
        "rhat_max": float(RHAT_MAX),
        "min_overlap": float(MIN_NEIGHBOUR_OVERLAP),
        "trimmed": trimmed,
        "seed": seed,
        "key": list(key),
        "window_exchange": bool(window_exchange),
        "wall_time": time.perf_counter() - t_start,
    }
    if window_exchange:
        info["n_extensions"] = int(exchanged[0].n_extensions) if exchanged else 0
        info.update(exchange_summary)
    return UmbrellaResult(potential=potential, windows=win_frame, reference=ref, info=info,
                          covariance=out["log_p" + suffix + "_cov"] / n**2)


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
