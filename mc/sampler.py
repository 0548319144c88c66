"""Monte Carlo driver: replicas, burn-in, thinning, tempering ladders, diagnostics, checkpoints.

``sample(posterior, n_replicas, n_sweeps, ...)`` runs ``n_replicas`` independent replicas of the
posterior ``P(x0 | x_t)`` of one quenched noisy state, each with its own xoshiro256** stream
seeded from ``SeedSequence(seed, spawn_key=(*key, replica, stream))`` (``design.md``: seeding), so
replica ``r`` gives the same chain whatever the number of replicas, threads or MPI ranks. With a
tempering ladder every replica carries ``K`` chains (rung 0 is the posterior) that exchange
configurations (``mc.kernels.tempering``). The loops run in Numba kernels (``mc.kernels``); this
module only initialises, calls them in chunks, records and adapts step sizes during burn-in;
checkpoint files, stop signals and the progress bar are the driver-side helpers of
``mc.run_control``.

Methods by state space of the model:

=============  =============================================  ====================
state space    methods                                        default
=============  =============================================  ====================
spins          ``"metropolis"``, ``"heat_bath"``               ``"heat_bath"``
continuous     ``"mala"``, ``"hmc"``, ``"rwm"``                ``"mala"``
sphere         ``"sphere"`` (normalised random walk)           ``"sphere"``
points         ``"points"`` (independence Metropolis)          ``"points"``
=============  =============================================  ====================

A "sweep" is N single-spin attempts for spins, and one move of each chain otherwise.

Diagnostics (``mc.diagnostics``): per replica, the integrated autocorrelation time (Sokal window,
``c = 5``) of the energy, of the overlap ``q_{r, r+1} = x^r . x^{r+1} / N`` with the next replica
(cyclically) and of the projection ``x . u / sqrt(N)`` on the direction ``u`` of the field
``y = x_t / a_t``; R-hat across replicas of the energy and of the projection; acceptance per rung
and exchange rates per neighbour pair.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import diagnostics, run_control
from ._validation import as_positive_int, as_scalar
from .disorder import seed_sequence
from .kernels import continuous as kc
from .kernels import lattice as kl
from .kernels import points as kp
from .kernels import sphere as ksp
from .kernels import spins as ks
from .kernels.rng import normal_spares, seed_states
from .posterior import Posterior

__all__ = ["Ladder", "SampleResult", "sample", "METHODS", "continuous_prior"]

#: Methods available for each state space, the first being the default.
METHODS = {
    "spins": ("heat_bath", "metropolis"),
    "continuous": ("mala", "hmc", "rwm"),
    "sphere": ("sphere",),
    "points": ("points",),
}
#: Target acceptance rates of the step-size adaptation (Roberts & Rosenthal 2001; Neal 2011).
TARGET_ACCEPTANCE = {"mala": 0.574, "hmc": 0.7, "rwm": 0.234, "sphere": 0.234}
#: Stream tags after (key..., replica): the chain's xoshiro stream and the initial state.
_STREAM_CHAIN, _STREAM_INIT = 2, 3
#: Sweeps per adaptation round during burn-in.
_ADAPT_EVERY = 20
_CHECKPOINT_VERSION = 3
#: Most records of the projections of every configuration of a ladder (``mode_changes``).
_CHAIN_RECORDS = 8192


# ---------------------------------------------------------------------------------------------
# tempering ladder
@dataclass(frozen=True)
class Ladder:
    """A tempering ladder: rung ``k`` has ``theta_k = (theta_prior, theta_lik)``.

    ``kind`` is ``"none"`` (one rung, the posterior), ``"hamiltonian"`` (``theta_k = (beta_k,
    beta_k)``, i.e. ``exp(-beta_k H)``) or ``"likelihood"`` (``theta_k = (1, l_k)``, from the posterior
    ``l = 1`` towards the prior ``l = 0``). ``values`` is ``beta_k`` or ``l_k``, starting at 1 and
    decreasing. A ladder in the diffusion time t is not a tempering scheme (x_t is quenched), and
    is not offered.
    """

    kind: str
    values: tuple
    prior_values: tuple = ()

    @classmethod
    def make(cls, kind=None, n_rungs=None, values=None, minimum=None, extend_prior=False):
        """Build and check a ladder (geometric in beta from 1 to ``minimum`` = 0.05 by default
        for ``"hamiltonian"``; ``l_k = (1 - k / (K - 1))^2`` down to the prior for ``"likelihood"``).

        ``extend_prior`` (likelihood ladders built from ``n_rungs``): a prior with several modes
        does not mix at the prior end ``l = 0`` either, so the ladder goes on in the prior's own
        inverse temperature: ``K1 = K // 2 + 1`` likelihood rungs ``l_k = (1 - k / (K1 - 1))^2``
        down to the prior, then ``K - K1`` rungs ``theta = (b_j, 0)`` with ``b_j`` geometric from 1
        to ``minimum`` (0.05 by default), i.e. ``p0^{b_j}``.
        """
        if kind in (None, "none"):
            if values is not None or (n_rungs not in (None, 1)):
                raise ValueError("tempering: give tempering='hamiltonian' or 'likelihood' to use a ladder")
            return cls("none", (1.0,))
        if kind not in ("hamiltonian", "likelihood"):
            raise ValueError(f"tempering: expected None, 'hamiltonian' or 'likelihood', got {kind!r}")
        if values is None:
            k = 8 if n_rungs is None else as_positive_int(n_rungs, "n_temperatures", minimum=2)
            if kind == "hamiltonian":
                lo = 0.05 if minimum is None else as_scalar(minimum, "lowest_beta", positive=True)
                if lo >= 1:
                    raise ValueError(f"lowest_beta: must be < 1, got {lo}")
                vals = np.geomspace(1.0, lo, k)
            elif extend_prior:
                lo = 0.05 if minimum is None else as_scalar(minimum, "lowest_beta", positive=True)
                if lo >= 1:
                    raise ValueError(f"lowest_beta: must be < 1, got {lo}")
                k1 = k // 2 + 1
                lik = (1.0 - np.arange(k1) / (k1 - 1)) ** 2
                prior = np.geomspace(1.0, lo, k - k1 + 1)[1:]
                return cls(kind, tuple(float(v) for v in np.concatenate([lik, np.zeros(k - k1)])),
                           tuple(float(v) for v in np.concatenate([np.ones(k1), prior])))
            else:
                lo = 0.0 if minimum is None else as_scalar(minimum, "l_min", nonnegative=True)
                vals = lo + (1.0 - lo) * (1.0 - np.arange(k) / (k - 1)) ** 2
        else:
            vals = np.asarray(values, dtype=np.float64)
            if vals.ndim != 1 or vals.size < 2:
                raise ValueError(f"temperatures: expected at least two values, got {values!r}")
            if not np.isfinite(vals).all():
                raise ValueError("temperatures: contains non-finite values")
            if vals[0] != 1.0:
                raise ValueError(f"temperatures: the first rung must be the posterior (1.0), got {vals[0]}")
            if np.any(np.diff(vals) >= 0):
                raise ValueError("temperatures: values must decrease strictly from 1")
            if vals[-1] < 0 or (kind == "hamiltonian" and vals[-1] <= 0):
                raise ValueError(f"temperatures: values must be {'> 0' if kind == 'hamiltonian' else '>= 0'}, got {vals[-1]}")
        return cls(kind, tuple(float(v) for v in vals))

    @property
    def n_rungs(self):
        return len(self.values)

    @property
    def extends_prior(self):
        """Whether the ladder continues past the prior into the prior's own temperature."""
        return bool(self.prior_values) and any(b != 1.0 for b in self.prior_values)

    @property
    def theta(self):
        v = np.asarray(self.values, dtype=np.float64)
        if self.kind == "likelihood":
            b = np.asarray(self.prior_values, dtype=np.float64) if self.prior_values else np.ones_like(v)
            return np.stack([b, v], axis=1)
        return np.stack([v, v], axis=1)


# ---------------------------------------------------------------------------------------------
# result
@dataclass
class SampleResult:
    """Output of :func:`sample`.

    Attributes
    ----------
    samples : ndarray (R, draws, N) float64, or None with ``store="summary"``
        Recorded configurations of the posterior rung of each replica.
    energies : ndarray (R, draws)
        ``H(x0) = |x_t - a_t x0|^2 / (2 D_t) - log p0(x0)``, the same as ``posterior.energy``.
    overlaps : ndarray (R, draws)
        ``q_{r, r+1} = x^r . x^{r+1} / N`` (next replica cyclically; NaN for one replica).
    projections : ndarray (R, draws)
        ``x . u / sqrt(N)`` with ``u`` the unit vector along ``y = x_t / a_t``.
    indices : ndarray (R, draws) int64 or None
        Training-point index of each draw (data-set models).
    mean, second_moment : ndarray (R, N)
        Running per-replica averages of ``x`` and ``x**2`` over all recorded draws.
    acceptance : ndarray (R, K)
        Acceptance rate (spins: flip rate) per rung over the production sweeps.
    exchange_rate : ndarray (R, K - 1)
        Accepted fraction of swaps between rungs k and k+1.
    order_projections : ndarray (R, draws, k) or None
        ``x . e_j`` on the model's ``order_directions()`` ``e_j`` (class axes, magnetisation,
        patterns), which tell its modes apart; ``None`` when the model has none.
    tau_int : dict of ndarray (R,)
        Integrated autocorrelation time, in recorded draws, of ``"energy"``, ``"overlap"``,
        ``"projection"`` and ``"order_j"``.
    rhat : dict of float
        Rank-normalised split R-hat (Vehtari et al. 2021) across replicas of ``"energy"``,
        ``"projection"``, ``"overlap"`` (the series ``q_{r, r+1}``, three replicas or more) and
        ``"order_j"``.
    mode_changes : ndarray (R, K) int or None
        With a ladder: how often each configuration (followed whatever rung it sits at) crossed
        the middle of the range of the projection that best separates the modes
        (:func:`mc.diagnostics.mode_changes`; recorded at most 8192 times per run, every
        ``ceil(draws / 8192)``-th draw). Configurations on both sides that never cross
        mean the ladder does not connect the modes, even when exchanges look perfect: every
        configuration keeps its mode and exchanges only reshuffle them (flagged).
    step_size : ndarray (R, K)
        Step sizes after adaptation, per replica and rung (continuous and sphere methods).
    init : str
        How the chains started: ``"auto"`` (even replicas at the observation, odd ones at prior
        draws), ``"prior"``, ``"observation"`` or ``"array"``.
    flags : list of str
        What the diagnostics found wrong, one sentence each (empty when nothing): an R-hat above
        :data:`mc.diagnostics.RHAT_MAX`, a likelihood ladder ending at a multimodal prior. The
        same sentences are emitted as :class:`mc.diagnostics.MixingWarning`.
    """

    method: str
    ladder: Ladder
    n_replicas: int
    n_sweeps: int
    burn_in: int
    thin: int
    seed: int
    key: tuple
    samples: np.ndarray | None
    energies: np.ndarray
    overlaps: np.ndarray
    projections: np.ndarray
    indices: np.ndarray | None
    mean: np.ndarray
    second_moment: np.ndarray
    acceptance: np.ndarray
    exchange_rate: np.ndarray
    step_size: np.ndarray
    tau_int: dict = field(default_factory=dict)
    rhat: dict = field(default_factory=dict)
    wall_time: float = 0.0
    order_projections: np.ndarray | None = None
    mode_changes: np.ndarray | None = None
    init: str = "auto"
    flags: list = field(default_factory=list)

    @property
    def n_draws(self):
        return self.energies.shape[1]

    @property
    def mixed(self):
        """``True`` when no diagnostic flagged the run (``flags`` is empty)."""
        return not self.flags

    @property
    def rhat_max(self):
        """The largest R-hat recorded (NaN when none could be computed)."""
        vals = [v for v in self.rhat.values() if np.isfinite(v)]
        return float(max(vals)) if vals else float("nan")

    def summary(self):
        """A few lines: method, ladder, acceptance, exchange rates, tau and R-hat."""
        lines = [
            f"{self.method}: {self.n_replicas} replicas x {self.n_draws} draws "
            f"(burn-in {self.burn_in}, thin {self.thin}, {self.wall_time:.2f} s)",
            f"acceptance (rung 0): {np.round(self.acceptance[:, 0], 3).tolist()}",
        ]
        if self.ladder.n_rungs > 1:
            lines.append(f"{self.ladder.kind} ladder {np.round(self.ladder.values, 3).tolist()}")
            lines.append(f"exchange rates (mean over replicas): {np.round(self.exchange_rate.mean(axis=0), 3).tolist()}")
        for name, tau in self.tau_int.items():
            lines.append(f"tau_int[{name}] = {np.round(tau, 2).tolist()}")
        for name, value in self.rhat.items():
            lines.append(f"rhat[{name}] = {value:.4f}")
        lines.extend(f"FLAG: {flag}" for flag in self.flags)
        return "\n".join(lines)

    def __repr__(self):
        return f"SampleResult({self.method}, replicas={self.n_replicas}, draws={self.n_draws})"


# ---------------------------------------------------------------------------------------------
# state-space families: initialise arrays, run the kernel, read the posterior rung
class _Family:
    """Common bookkeeping of the chains of all replicas (R replicas x K rungs)."""

    uses_step = False

    def __init__(self, post, ladder, n_rep):
        self.post = post
        self.n = post.n_dim
        self.theta = np.ascontiguousarray(ladder.theta)
        self.k = ladder.n_rungs
        self.n_rep = n_rep
        k = self.k
        self.arrays = {
            "rung_of": np.tile(np.arange(k, dtype=np.int64), (n_rep, 1)),
            "chain_at": np.tile(np.arange(k, dtype=np.int64), (n_rep, 1)),
            "acc": np.zeros((n_rep, k), dtype=np.int64),
            "att": np.zeros((n_rep, k), dtype=np.int64),
            "ex_att": np.zeros((n_rep, max(k - 1, 0)), dtype=np.int64),
            "ex_acc": np.zeros((n_rep, max(k - 1, 0)), dtype=np.int64),
            "eps": np.ones((n_rep, k)),
        }
        self.phi = np.zeros((n_rep, k, 2))

    def current(self):
        """Configurations at rung 0, shape (R, N), float64."""
        raise NotImplementedError

    def features(self):
        raise NotImplementedError

    def rung0_phi(self, fresh=False):
        """Features of the rung-0 chains; ``fresh`` when the kernel has just computed them for its
        last exchange round (an exchange only relabels rungs, so they are still current)."""
        if not fresh:
            self.features()
        at = self.arrays["chain_at"][:, 0]
        return self.phi[np.arange(self.n_rep), at]

    def point_indices(self):
        return None


class _SpinFamily(_Family):
    def __init__(self, post, ladder, n_rep, method, order, init_states):
        super().__init__(post, ladder, n_rep)
        prior = post.model
        self.heat_bath = method == "heat_bath"
        self.random_order = order == "random"
        self.b = np.ascontiguousarray(prior.field, dtype=np.float64)
        self.h = np.ascontiguousarray(post.field, dtype=np.float64)
        spins = np.ascontiguousarray(np.where(init_states >= 0, 1, -1).astype(np.int8))
        self.arrays["spins"] = spins
        # the prior names its kernel family and the arrays it needs (mc.models.ising.SpinKernel)
        spec = prior.spin_kernel()
        if spec.kind == "mean_field":
            self.kind = "mean_field"
            self.jn = spec.coupling
            self.arrays["mag"] = spins.sum(axis=2, dtype=np.int64)
        elif spec.kind == "sparse":
            # bonds of one magnitude (ferromagnet, +-J): tabulated acceptances (mc.kernels.lattice);
            # otherwise (Gaussian bonds, or tables out of range) the generic neighbour-list kernel
            self.kind = "sparse"
            self.indptr = spec.indptr
            self.indices = spec.indices
            self.weights = spec.data
            nb = kl.neighbour_table(self.indptr, self.indices, self.weights)
            tables = None
            if nb is not None:
                tables = kl.acceptance_tables(self.theta, nb[2], len(nb[0]), self.b, self.h, self.heat_bath)
            if tables is not None:
                self.kind = "tabulated"
                self.nbrs, self.sgns, self.g = nb
                self.table, self.thresholds, self.ftab = tables
        elif spec.kind == "dense":
            self.kind = "dense"
            self.w = spec.couplings
            self.arrays["lf"] = np.zeros(spins.shape)
            ks.local_fields_dense(spins, self.w, self.arrays["lf"])
        else:
            raise ValueError(
                f"model: {type(prior).__name__}.spin_kernel() returned the unknown kind {spec.kind!r} "
                "(expected 'dense', 'mean_field' or 'sparse')"
            )

    def run(self, n_sweeps, exchange_every, sweep0, rng):
        a = self.arrays
        common = (self.theta, a["rung_of"], a["chain_at"], n_sweeps, self.heat_bath, self.random_order,
                  exchange_every, sweep0, rng, a["acc"], a["att"], self.phi, a["ex_att"], a["ex_acc"])
        if self.kind == "mean_field":
            ks.run_curie_weiss(a["spins"], a["mag"], self.jn, self.b, self.h, *common)
        elif self.kind == "tabulated":
            kl.run_lattice(a["spins"], self.nbrs, self.sgns, self.g, self.b, self.h, self.table, self.thresholds,
                           self.ftab, *common)
        elif self.kind == "sparse":
            ks.run_sparse(a["spins"], self.indptr, self.indices, self.weights, self.b, self.h, *common)
        else:
            ks.run_dense(a["spins"], a["lf"], self.w, self.b, self.h, *common)

    def features(self):
        a = self.arrays
        if self.kind == "mean_field":
            ks.features_curie_weiss(a["spins"], a["mag"], self.jn, self.b, self.h, self.phi)
        elif self.kind == "tabulated":
            kl.features_lattice(a["spins"], self.nbrs, self.sgns, self.g, self.b, self.h, self.phi)
        elif self.kind == "sparse":
            ks.features_sparse(a["spins"], self.indptr, self.indices, self.weights, self.b, self.h, self.phi)
        else:
            ks.features_dense(a["spins"], a["lf"], self.b, self.h, self.phi)

    def current(self):
        at = self.arrays["chain_at"][:, 0]
        return self.arrays["spins"][np.arange(self.n_rep), at].astype(np.float64)

    def chains(self):
        return self.arrays["spins"]

    def attempts_per_sweep(self):
        return self.n


def continuous_prior(model, log_prior_grad=None, prior_params=None):
    """The Numba log prior of a continuous model and its parameter tuple: the user's
    ``log_prior_grad`` (with ``prior_params``, a placeholder tuple when None), or the model's
    built-in one (Gaussian mixtures); a model with neither is an error naming ``log_prior_grad``."""
    if log_prior_grad is not None:
        return log_prior_grad, ((np.zeros(1),) if prior_params is None else prior_params)
    built = _builtin_prior(model)
    if built is None:
        raise ValueError(
            f"log_prior_grad: {type(model).__name__} has no built-in Numba prior; pass "
            "log_prior_grad=f (an @njit f(x, params, grad_out) -> log p0) and prior_params"
        )
    return built


def _builtin_prior(model):
    """Numba log-prior function and its parameter tuple for the models that have one (the
    model's hook ``numba_log_prior()``), else ``None``."""
    return model.numba_log_prior()


class _ContinuousFamily(_Family):
    uses_step = True

    def __init__(self, post, ladder, n_rep, method, init_states, log_prior_grad, prior_params, n_leapfrog):
        super().__init__(post, ladder, n_rep)
        self.method = {"rwm": kc.RWM, "mala": kc.MALA, "hmc": kc.HMC}[method]
        self.n_leapfrog = n_leapfrog
        self.f, self.params = log_prior_grad, prior_params
        self.y = np.ascontiguousarray(post.y, dtype=np.float64)
        self.inv_s = 1.0 / post.s
        x = np.ascontiguousarray(init_states, dtype=np.float64)
        self.arrays["x"] = x
        self.arrays["normal_spare"] = normal_spares(n_rep)  # second polar normal, per replica
        self.arrays["lp"] = np.zeros(x.shape[:2])
        self.arrays["gp"] = np.zeros(x.shape)
        self.refresh()
        bad = ~np.isfinite(self.arrays["lp"])
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise ValueError(f"init: initial state of replica {r} (rung {c}) has log p0 = {self.arrays['lp'][r, c]}")
        # initial step: a fraction of the posterior scale sqrt(s) per coordinate, shrunk with N
        scale = np.sqrt(post.s / (1.0 + post.s)) * (1.0 if self.method == kc.HMC else 1.0 / self.n ** (1.0 / 6.0))
        self.arrays["eps"] = np.full((n_rep, self.k), 0.5 * scale)

    def refresh(self):
        a = self.arrays
        kc.init_prior_terms(self.f, self.params, a["x"], a["lp"], a["gp"])

    def run(self, n_sweeps, exchange_every, sweep0, rng):
        a = self.arrays
        kc.run_continuous(a["x"], a["lp"], a["gp"], self.f, self.params, self.y, self.inv_s, self.theta,
                          a["rung_of"], a["chain_at"], self.method, a["eps"], self.n_leapfrog, n_sweeps,
                          exchange_every, sweep0, rng, a["normal_spare"], a["acc"], a["att"], self.phi,
                          a["ex_att"], a["ex_acc"])

    def features(self):
        kc.features_continuous(self.arrays["x"], self.arrays["lp"], self.y, self.inv_s, self.phi)

    def current(self):
        at = self.arrays["chain_at"][:, 0]
        return self.arrays["x"][np.arange(self.n_rep), at].copy()

    def chains(self):
        return self.arrays["x"]

    def attempts_per_sweep(self):
        return 1


class _SphereFamily(_Family):
    uses_step = True

    def __init__(self, post, ladder, n_rep, init_states):
        super().__init__(post, ladder, n_rep)
        model = post.model
        self.model = model
        self.g = np.ascontiguousarray(model.radius * model.project(post.y) / post.s, dtype=np.float64)
        w = model.project(init_states) / model.radius
        w = w / np.linalg.norm(w, axis=-1, keepdims=True)
        self.arrays["w"] = np.ascontiguousarray(w)
        self.arrays["normal_spare"] = normal_spares(n_rep)  # second polar normal, per replica
        d = model.subspace_dim
        kappa = float(np.linalg.norm(self.g))
        # angular width of the vMF law ~ min(1, sqrt(d) / kappa) spread over d coordinates
        self.arrays["eps"] = np.full((n_rep, self.k), 0.5 * min(1.0, np.sqrt(d) / max(kappa, 1e-300)) * 2.0 / np.sqrt(d))

    def run(self, n_sweeps, exchange_every, sweep0, rng):
        a = self.arrays
        ksp.run_sphere(a["w"], self.g, self.theta, a["rung_of"], a["chain_at"], a["eps"], n_sweeps,
                       exchange_every, sweep0, rng, a["normal_spare"], a["acc"], a["att"], self.phi, a["ex_att"],
                       a["ex_acc"])

    def features(self):
        ksp.features_sphere(self.arrays["w"], self.g, self.phi)

    def current(self):
        at = self.arrays["chain_at"][:, 0]
        return self.model.radius * self.model.embed(self.arrays["w"][np.arange(self.n_rep), at])

    def chains(self):
        return self.model.radius * self.model.embed(self.arrays["w"])

    def attempts_per_sweep(self):
        return 1


class _PointsFamily(_Family):
    def __init__(self, post, ladder, n_rep, init_states):
        super().__init__(post, ladder, n_rep)
        model = post.model
        self.points = model.points
        self.log_w = np.ascontiguousarray(model._log_weights, dtype=np.float64)
        diff_sq = model.sq_norms - 2.0 * (model.points @ post.y) + float(post.y @ post.y)
        self.lik = np.ascontiguousarray(-0.5 * diff_sq / post.s)
        self.arrays["idx"] = np.ascontiguousarray(init_states.astype(np.int64))

    def run(self, n_sweeps, exchange_every, sweep0, rng):
        a = self.arrays
        kp.run_points(a["idx"], self.log_w, self.lik, self.theta, a["rung_of"], a["chain_at"], n_sweeps,
                      exchange_every, sweep0, rng, a["acc"], a["att"], self.phi, a["ex_att"], a["ex_acc"])

    def features(self):
        kp.features_points(self.arrays["idx"], self.log_w, self.lik, self.phi)

    def point_indices(self):
        at = self.arrays["chain_at"][:, 0]
        return self.arrays["idx"][np.arange(self.n_rep), at].copy()

    def current(self):
        return self.points[self.point_indices()].astype(np.float64)

    def chains(self):
        return self.points[self.arrays["idx"]]

    def attempts_per_sweep(self):
        return 1


# ---------------------------------------------------------------------------------------------
# initial states
def _init_states(post, n_rep, k, init, seed, key, space):
    """Initial configurations, shape (R, K, N) (points: (R, K) indices)."""
    model = post.model
    n = post.n_dim
    if isinstance(init, str) and init == "auto":
        # over-dispersed starts (Gelman & Rubin 1992): the observation, where the posterior sits
        # once the field dominates, and prior draws, which land in the other modes of the
        # prior, so that replicas that cannot cross between modes disagree (R-hat) instead of
        # agreeing on one mode
        at_obs = _init_states(post, n_rep, k, "observation", seed, key, space)
        can_draw = space in ("points", "spins") or "sample" in model.capabilities
        if n_rep == 1 or not can_draw:
            return at_obs
        from_prior = _init_states(post, n_rep, k, "prior", seed, key, space)
        odd = np.arange(n_rep) % 2 == 1
        at_obs[odd] = from_prior[odd]
        return at_obs
    if isinstance(init, str):
        if init == "prior":
            out = []
            for r in range(n_rep):
                gen = np.random.default_rng(seed_sequence(seed, *key, r, _STREAM_INIT))
                if space == "points":
                    out.append(model.sample_indices(k, gen))
                elif "sample" in model.capabilities:
                    out.append(model.sample(k, gen))
                elif space == "spins":
                    out.append(2.0 * gen.integers(0, 2, size=(k, n)) - 1.0)
                else:
                    raise ValueError(f"init: {type(model).__name__} cannot draw from its prior; use init='observation' or an array")
            return np.stack(out)
        if init == "observation":
            y = post.y
            if space == "spins":
                one = np.where(y >= 0, 1.0, -1.0)
            elif space == "points":
                d2 = model.sq_norms - 2.0 * (model.points @ y)
                return np.full((n_rep, k), int(np.argmin(d2)), dtype=np.int64)
            elif space == "sphere":
                u = model.project(y)
                norm = np.linalg.norm(u)
                u = u / norm if norm > 0 else np.eye(1, model.subspace_dim)[0]
                one = model.radius * model.embed(u)
            else:
                one = np.array(y, dtype=np.float64)
            return np.broadcast_to(one, (n_rep, k, n)).copy()
        raise ValueError(
            f"init: expected 'auto', 'prior', 'observation' or an array of shape ({n_rep}, {n}), got {init!r}"
        )
    arr = np.asarray(init)
    if space == "points":
        if arr.shape != (n_rep,) or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"init: expected {n_rep} integer point indices, got shape {arr.shape}")
        if arr.min() < 0 or arr.max() >= model.n_points:
            raise ValueError(f"init: point indices must lie in [0, {model.n_points})")
        return np.repeat(arr[:, None], k, axis=1).astype(np.int64)
    arr = np.asarray(init, dtype=np.float64)
    if arr.shape != (n_rep, n):
        raise ValueError(f"init: expected shape ({n_rep}, {n}), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("init: contains non-finite values")
    if space == "spins" and not np.all(np.abs(arr) == 1.0):
        raise ValueError("init: spin configurations must have entries +-1")
    return np.repeat(arr[:, None, :], k, axis=1)


# ---------------------------------------------------------------------------------------------
# checkpoints
def _fingerprint(post, method, ladder, n_rep, n_sweeps, burn_in, thin, seed, key, store):
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(post.x_t).tobytes())
    h.update(json.dumps([type(post.model).__name__, repr(post.model.params()), repr(post.process), post.t,
                         method, ladder.kind, list(ladder.values), list(ladder.prior_values), n_rep, n_sweeps, burn_in, thin, seed,
                         list(key), store]).encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
def _choose_method(space, method, model):
    allowed = METHODS.get(space)
    if allowed is None:
        raise ValueError(f"posterior: no Monte Carlo method for state space {space!r} of {type(model).__name__}")
    if method == "auto":
        return allowed[0]
    if method not in allowed:
        raise ValueError(
            f"method: {method!r} is not available for {type(model).__name__} ({space} state space); "
            f"choose one of {list(allowed)}"
        )
    return method


def sample(posterior, n_replicas=4, n_sweeps=1000, burn_in=None, thin=1, method="auto", seed=0, key=(), *,
           tempering="auto", temperatures=None, n_temperatures=None, lowest_beta=None, exchange_every=1,
           order="random", step_size=None, n_leapfrog=10, adapt=True, init="auto", store="auto",
           max_bytes=2**30, log_prior_grad=None, prior_params=None, progress=None, checkpoint=None,
           checkpoint_every=60.0, resume=False):
    """Sample the posterior ``P(x0 | x_t)`` with ``n_replicas`` independent Monte Carlo replicas.

    Parameters
    ----------
    posterior : mc.Posterior
    n_replicas : int
        Independent replicas (each with its own stream and, with tempering, its own ladder).
    n_sweeps : int
        Production sweeps per replica (after burn-in); ``n_sweeps // thin`` draws are recorded.
    burn_in : int, optional
        Sweeps discarded first (default ``n_sweeps // 4``); step sizes adapt only here.
    thin : int
        Record every ``thin``-th sweep.
    method : str
        See the module table; ``"auto"`` picks the default for the model's state space.
    seed : int
        Root seed. With ``key`` (a tuple of ints identifying the task, e.g. ``(N, t_index,
        disorder)``) it fixes every random number: replica ``r`` uses
        ``SeedSequence(seed, spawn_key=(*key, r, stream))``.
    tempering : "auto", None, "hamiltonian" or "likelihood"
        Parallel tempering ladder (see :class:`Ladder`); ``temperatures`` gives its values
        explicitly (first 1, decreasing), otherwise ``n_temperatures`` rungs down to ``lowest_beta``.
        ``"auto"`` (default) is ``"hamiltonian"`` with the default ladder (8 rungs geometric down
        to ``beta = 0.05``) when the model says its prior may have several modes
        (``model.may_be_multimodal``: mixtures, ferromagnetic, Hopfield and spin-glass priors
        below their mean-field temperature), and no ladder otherwise; to set the ladder, name
        its kind. Local moves do not cross the barriers between such modes: without a
        ladder, replicas stay where they started and the diagnostics flag the run.
        A ``"likelihood"`` ladder ends at the prior; when the prior may have several modes its
        far end does not mix either, so a ladder built from ``n_temperatures`` then continues in
        the prior's own temperature (``Ladder.make(..., extend_prior=True)``), and an explicit
        ``temperatures`` list that ends at such a prior is flagged.
    exchange_every : int
        Sweeps between rounds of neighbour exchanges.
    order : "random" or "sequential"
        Site order of spin sweeps.
    step_size : float, optional
        Initial step size (continuous and sphere methods); adapted during burn-in if ``adapt``.
    n_leapfrog : int
        Leapfrog steps per HMC trajectory.
    init : "auto", "prior", "observation" or array (R, N) (data sets: R point indices)
        Initial state of every chain: prior draws, the rescaled observation ``y = x_t / a_t``
        (spins: its signs; sphere: its direction; data sets: the nearest point), or given states.
        ``"auto"`` (default) starts even replicas at the observation (where the posterior is once
        the field dominates) and odd ones at prior draws (over-dispersed starts, Gelman & Rubin
        1992), so that replicas that cannot leave the mode they started in disagree, and R-hat
        says so, instead of agreeing on one mode. Recorded as ``SampleResult.init``.
    store : "auto", "samples" or "summary"
        Keep all draws, or only per-replica running moments and scalar series. ``"auto"`` keeps
        the draws when they need at most ``max_bytes``.
    log_prior_grad, prior_params : Numba function and tuple, optional
        Prior of a continuous model without a built-in one: ``f(x, params, grad_out) -> log p0``.
    progress : bool, optional
        Progress bar on stderr (default: when stderr is a terminal).
    checkpoint : path, optional
        ``.npz`` file the full sampler state is written to (atomically) every
        ``checkpoint_every`` seconds, at the end, and on interruption: while a checkpointed run
        is going (in the main thread), SIGINT (Ctrl-C) and SIGTERM (SLURM's warning) stop it at
        the next chunk boundary, save the state and raise KeyboardInterrupt. With
        ``resume=True`` an existing checkpoint of the same run is continued; the continued run
        gives the same numbers as an uninterrupted one.

    Returns
    -------
    SampleResult

    Warns
    -----
    mc.diagnostics.MixingWarning
        When an R-hat across replicas (energy, projection on the field, overlaps, the model's
        order directions) exceeds :data:`mc.diagnostics.RHAT_MAX` = 1.01, when a ladder's
        configurations sit in different modes and none ever crosses (``mode_changes``), or when
        a likelihood ladder ends at a multimodal prior: the replicas have not mixed and estimates from them are not to be trusted, even
        with small error bars. Recorded in ``SampleResult.flags``.
    mc.diagnostics.ShortChainWarning
        When the draws per replica are fewer than 50 tau of a recorded series.

    Examples
    --------
    >>> import numpy as np, mc
    >>> prior = mc.IsingPrior.curie_weiss(64, beta=0.5)
    >>> post = mc.Posterior(prior, mc.VP(), np.zeros(64), t=1.0)
    >>> res = mc.sample(post, n_replicas=4, n_sweeps=2000, seed=1)
    >>> res.samples.shape
    (4, 2000, 64)
    >>> res.mixed, res.ladder.kind          # beta J = 0.5: one mode, no ladder needed
    (True, 'none')
    """
    t_start = time.perf_counter()
    if not isinstance(posterior, Posterior):
        raise ValueError(f"posterior: expected an mc.Posterior, got {type(posterior).__name__}")
    n_rep = as_positive_int(n_replicas, "n_replicas")
    n_sweeps = as_positive_int(n_sweeps, "n_sweeps")
    thin = as_positive_int(thin, "thin")
    burn_in = n_sweeps // 4 if burn_in is None else as_positive_int(burn_in, "burn_in", minimum=0)
    if thin > n_sweeps:
        raise ValueError(f"thin: {thin} exceeds n_sweeps = {n_sweeps}; no draw would be recorded")
    seed = as_positive_int(seed, "seed", minimum=0)
    key = tuple(as_positive_int(k, "key", minimum=0) for k in key)
    exchange_every = as_positive_int(exchange_every, "exchange_every")
    n_leapfrog = as_positive_int(n_leapfrog, "n_leapfrog")
    if order not in ("random", "sequential"):
        raise ValueError(f"order: expected 'random' or 'sequential', got {order!r}")
    if store not in ("auto", "samples", "summary"):
        raise ValueError(f"store: expected 'auto', 'samples' or 'summary', got {store!r}")
    model = posterior.model
    space = model.state_space
    method = _choose_method(space, method, model)
    ladder_given = temperatures is not None or n_temperatures is not None or lowest_beta is not None
    if tempering in (None, "none", "auto") and ladder_given:
        raise ValueError("tempering: temperatures / n_temperatures / lowest_beta need tempering='hamiltonian' or 'likelihood'")
    multimodal = bool(model.may_be_multimodal)
    if isinstance(tempering, str) and tempering == "auto":
        tempering = "hamiltonian" if multimodal else None
    ladder = Ladder.make(tempering, n_temperatures, temperatures, lowest_beta,
                         extend_prior=multimodal and tempering == "likelihood" and temperatures is None)
    k = ladder.n_rungs
    n = posterior.n_dim
    n_draws = n_sweeps // thin
    if store == "auto":
        store = "samples" if 8.0 * n_rep * n_draws * n <= max_bytes else "summary"
    if checkpoint is not None:
        checkpoint = run_control.check_checkpoint_path(checkpoint)
    checkpoint_every = as_scalar(checkpoint_every, "checkpoint_every", positive=True)

    states = _init_states(posterior, n_rep, k, init, seed, key, space)
    if space == "spins":
        fam = _SpinFamily(posterior, ladder, n_rep, method, order, states)
    elif space == "continuous":
        log_prior_grad, prior_params = continuous_prior(model, log_prior_grad, prior_params)
        fam = _ContinuousFamily(posterior, ladder, n_rep, method, states, log_prior_grad, prior_params, n_leapfrog)
    elif space == "sphere":
        fam = _SphereFamily(posterior, ladder, n_rep, states)
    else:
        fam = _PointsFamily(posterior, ladder, n_rep, states)
    if step_size is not None:
        if not fam.uses_step:
            raise ValueError(f"step_size: method {method!r} has no step size")
        fam.arrays["eps"][:] = as_scalar(step_size, "step_size", positive=True)
    rng = seed_states([seed_sequence(seed, *key, r, _STREAM_CHAIN) for r in range(n_rep)])

    # energy offset: H(x) = const - (phi_prior + phi_lik) at rung 0 (checked on the initial state)
    x_init = fam.current()
    phi0 = fam.rung0_phi()
    e_init = posterior.energy(x_init)
    if not np.all(np.isfinite(e_init)):
        raise ValueError("init: an initial state lies outside the support of the prior")
    const = float(e_init[0] + phi0[0].sum())

    # recording buffers
    samples = np.empty((n_rep, n_draws, n), dtype=np.int8 if space == "spins" else np.float64) if store == "samples" else None
    energies = np.empty((n_rep, n_draws))
    overlaps = np.full((n_rep, n_draws), np.nan)
    projections = np.empty((n_rep, n_draws))
    indices = np.empty((n_rep, n_draws), dtype=np.int64) if space == "points" else None
    sum_x = np.zeros((n_rep, n))
    sum_x2 = np.zeros((n_rep, n))
    y_norm = float(np.linalg.norm(posterior.y))
    u = posterior.y / y_norm if y_norm > 0 else np.full(n, 1.0 / np.sqrt(n))
    # projections that tell modes apart: on the field direction and the model's order directions;
    # with a ladder they are also followed along every configuration (chain), whatever its rung
    directions = model.order_directions()
    directions = None if directions is None else np.ascontiguousarray(directions, dtype=np.float64)
    probe = u[None, :] if directions is None else np.vstack([u, directions])
    order_proj = np.empty((n_rep, n_draws, probe.shape[0] - 1)) if directions is not None else None
    # (float32, every chain_stride-th draw, at most _CHAIN_RECORDS records: a crossing between
    # modes is a slow event, and the buffer stays small for long ladders and long runs)
    chain_stride = -(-n_draws // _CHAIN_RECORDS)
    chain_proj = np.empty((n_rep, k, -(-n_draws // chain_stride), probe.shape[0]), dtype=np.float32) if k > 1 else None
    sweeps_done, draws_done, n_adapt = 0, 0, 0
    next_replica = (np.arange(n_rep) + 1) % n_rep

    fingerprint = _fingerprint(posterior, method, ladder, n_rep, n_sweeps, burn_in, thin, seed, key, store)
    total = burn_in + n_sweeps

    def buffers():
        out = {"energies": energies, "overlaps": overlaps, "projections": projections, "sum_x": sum_x, "sum_x2": sum_x2}
        if order_proj is not None:
            out["order_proj"] = order_proj
        if chain_proj is not None:
            out["chain_proj"] = chain_proj
        if samples is not None:
            out["samples"] = samples
        if indices is not None:
            out["indices"] = indices
        return out

    def save_checkpoint():
        arrays = {f"state_{name}": arr for name, arr in fam.arrays.items()}
        arrays.update({f"buf_{name}": _recorded(name, arr, draws_done, chain_stride) for name, arr in buffers().items()})
        arrays["rng"] = rng
        arrays["meta"] = np.array(json.dumps({
            "version": _CHECKPOINT_VERSION, "fingerprint": fingerprint, "sweeps_done": sweeps_done,
            "draws_done": draws_done, "n_adapt": n_adapt}))
        run_control.save_checkpoint(checkpoint, arrays)

    if resume and checkpoint is not None and os.path.exists(checkpoint):
        data = run_control.load_checkpoint(checkpoint)
        meta = json.loads(str(data["meta"]))
        if meta.get("version") != _CHECKPOINT_VERSION or meta.get("fingerprint") != fingerprint:
            raise ValueError(
                f"checkpoint: {checkpoint!r} belongs to a different run (posterior, method, ladder, "
                "sizes or seed differ); remove it or pass another path"
            )
        for name in fam.arrays:
            fam.arrays[name][...] = data[f"state_{name}"]
        rng[...] = data["rng"]
        sweeps_done, draws_done, n_adapt = meta["sweeps_done"], meta["draws_done"], meta["n_adapt"]
        for name, arr in buffers().items():
            saved = data[f"buf_{name}"]
            if name in ("sum_x", "sum_x2"):
                arr[...] = saved
            elif name == "chain_proj":
                arr[:, :, : saved.shape[2]] = saved
            else:
                arr[:, :draws_done] = saved
        if space == "continuous":
            fam.refresh()

    bar = run_control.progress_bar(progress, total=total, initial=sweeps_done, unit="sweep",
                                   desc=f"{method} R={n_rep}")
    last_save = time.monotonic()
    target = TARGET_ACCEPTANCE.get(method)
    # With a checkpoint, SIGINT / SIGTERM (SLURM's warning) only raise a flag; the loop stops at
    # the next chunk boundary, where the state is consistent, saves it and raises KeyboardInterrupt.
    with run_control.StopSignals(enabled=checkpoint is not None) as stop:
        consistent = True
        try:
            while sweeps_done < total:
                if stop.received:
                    save_checkpoint()
                    raise KeyboardInterrupt(
                        f"signal {stop.received}: sampler state saved to {checkpoint}; rerun with resume=True to continue"
                    )
                consistent = False
                if sweeps_done < burn_in:
                    chunk = min(_ADAPT_EVERY, burn_in - sweeps_done)
                    before_acc = fam.arrays["acc"].copy()
                    before_att = fam.arrays["att"].copy()
                    fam.run(chunk, exchange_every, sweeps_done, rng)
                    sweeps_done += chunk
                    if adapt and fam.uses_step and target is not None:
                        # per replica and rung, so that a replica's chain does not depend on the others
                        rate = (fam.arrays["acc"] - before_acc) / np.maximum(fam.arrays["att"] - before_att, 1)
                        n_adapt += 1
                        gain = 1.0 / np.sqrt(n_adapt)
                        fam.arrays["eps"] *= np.exp(np.clip(gain * (rate - target) * 2.0, -1.0, 1.0))
                    if sweeps_done == burn_in:
                        for name in ("acc", "att", "ex_att", "ex_acc"):
                            fam.arrays[name][...] = 0
                else:
                    fam.run(thin, exchange_every, sweeps_done, rng)
                    sweeps_done += thin
                    x = fam.current()
                    phi = fam.rung0_phi(fresh=fam.k > 1 and sweeps_done % exchange_every == 0)
                    d = draws_done
                    if samples is not None:
                        samples[:, d] = x
                    if indices is not None:
                        indices[:, d] = fam.point_indices()
                    energies[:, d] = const - phi.sum(axis=1)
                    if n_rep > 1:
                        overlaps[:, d] = np.einsum("ri,ri->r", x, x[next_replica]) / n
                    projections[:, d] = x @ u / np.sqrt(n)
                    if order_proj is not None:
                        order_proj[:, d] = x @ directions.T
                    if chain_proj is not None and d % chain_stride == 0:
                        chain_proj[:, :, d // chain_stride] = fam.chains() @ probe.T
                    sum_x += x
                    sum_x2 += x * x
                    draws_done += 1
                    chunk = thin
                consistent = True
                bar.update(chunk)
                if checkpoint is not None and time.monotonic() - last_save >= checkpoint_every:
                    save_checkpoint()
                    last_save = time.monotonic()
        except KeyboardInterrupt:
            if checkpoint is not None and consistent and not stop.received:
                save_checkpoint()
            raise
        finally:
            bar.close()
    if checkpoint is not None:
        save_checkpoint()

    a = fam.arrays
    per_sweep = fam.attempts_per_sweep()
    acceptance = a["acc"] / np.maximum(a["att"] * per_sweep, 1)
    exchange_rate = a["ex_acc"] / np.maximum(a["ex_att"], 1)
    tau, rhat = {}, {}
    series = {"energy": energies, "overlap": overlaps if n_rep > 1 else None, "projection": projections}
    if order_proj is not None:
        series.update({f"order_{j}": order_proj[:, :, j] for j in range(order_proj.shape[2])})
    short = []
    for name, ser in series.items():
        if ser is None or ser.shape[1] < 4:
            tau[name] = np.full(n_rep, np.nan)
            continue
        tau[name] = diagnostics.tau_int_per_chain(ser, warn=False)
        if np.any(ser.shape[1] < diagnostics.MIN_TAUS * tau[name]):
            short.append(f"{name} (max tau {np.nanmax(tau[name]):.3g})")
    if short:
        warnings.warn(
            f"draws per replica ({n_draws}) shorter than {diagnostics.MIN_TAUS:g} tau for "
            + ", ".join(short) + "; error bars are unreliable: run longer",
            diagnostics.ShortChainWarning,
            stacklevel=2,
        )
    flags = []
    if n_draws >= 4:
        for name, ser in series.items():
            if ser is None or (name == "overlap" and n_rep < 3):
                continue  # with two replicas both overlap series are the same q_01
            rhat[name] = diagnostics.rhat(ser)
        bad = {name: v for name, v in rhat.items() if v > diagnostics.RHAT_MAX}
        if bad:
            flags.append(
                "replicas have not mixed: R-hat "
                + ", ".join(f"{name} = {v:.4g}" for name, v in bad.items())
                + f" > {diagnostics.RHAT_MAX} (" + _mixing_advice(ladder) + ")"
            )
    changes = None
    if chain_proj is not None and chain_proj.shape[2] >= 2:
        # the probe whose configurations are split most cleanly between two sides (order
        # directions first, then the field direction); frozen = both sides, no crossing
        frozen = None
        for j in list(range(1, chain_proj.shape[3])) + [0]:
            ch, both = diagnostics.mode_changes(chain_proj[:, :, :, j].reshape(n_rep * k, -1))
            if changes is None:
                changes = ch.reshape(n_rep, k)
            if both and ch.sum() == 0:
                frozen, changes = j, ch.reshape(n_rep, k)
                break
        if frozen is not None:
            name = "the field direction" if frozen == 0 else f"order direction {frozen - 1}"
            flags.append(
                f"the {ladder.kind} ladder does not connect the modes: along {name} the {n_rep * k} configurations "
                "sit in different modes and none crossed between them during the run, so exchanges only "
                "reshuffle a fixed set of modes; use more rungs, a lower lowest_beta, or tempering='hamiltonian'"
            )
    if ladder.kind == "likelihood" and multimodal and not ladder.extends_prior:
        flags.append(
            "the likelihood ladder ends at a prior that may have several modes (model.may_be_multimodal), "
            "where local moves do not cross either: every configuration keeps its mode and exchanges only "
            "reshuffle them; build the ladder from n_temperatures (it then continues in the prior's "
            "temperature) or use tempering='hamiltonian'"
        )
    for flag in flags:
        warnings.warn(flag, diagnostics.MixingWarning, stacklevel=2)
    out_samples = None
    if samples is not None:
        out_samples = samples.astype(np.float64) if samples.dtype != np.float64 else samples
    return SampleResult(
        method=method,
        ladder=ladder,
        n_replicas=n_rep,
        n_sweeps=n_sweeps,
        burn_in=burn_in,
        thin=thin,
        seed=seed,
        key=key,
        samples=out_samples,
        energies=energies,
        overlaps=overlaps,
        projections=projections,
        indices=indices,
        mean=sum_x / max(draws_done, 1),
        second_moment=sum_x2 / max(draws_done, 1),
        acceptance=acceptance,
        exchange_rate=exchange_rate,
        step_size=a["eps"].copy(),
        tau_int=tau,
        rhat=rhat,
        wall_time=time.perf_counter() - t_start,
        order_projections=order_proj,
        mode_changes=changes,
        init=init if isinstance(init, str) else "array",
        flags=flags,
    )


def _mixing_advice(ladder):
    if ladder.n_rungs == 1:
        return ("replicas started apart stay in different states: the posterior has several modes that "
                "local moves do not cross; use tempering='hamiltonian' and check R-hat again")
    return "run longer, or add rungs to the ladder"


def _recorded(name, arr, draws_done, chain_stride):
    """The part of a recording buffer filled so far (running sums whole)."""
    if name in ("sum_x", "sum_x2"):
        return arr
    if name == "chain_proj":
        return arr[:, :, : -(-draws_done // chain_stride)]
    return arr[:, :draws_done]
