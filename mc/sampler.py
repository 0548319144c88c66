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

With ``tempering="adaptive"`` (non-reversible parallel tempering: Syed, Bouchard-Cote,
Deligiannidis & Doucet, "Non-reversible parallel tempering: a scalable highly parallel MCMC
scheme", J. R. Stat. Soc. B 84, 321 (2022); as in Pigeons.jl) every replica tunes its own
Hamiltonian ladder during burn-in so that the rejection rates of neighbour swaps become equal
(:func:`equal_barrier_ladder`), then keeps it fixed for production; see :func:`sample`.

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
from .kernels import draws as kd
from .kernels import lattice as kl
from .kernels import points as kp
from .kernels import sphere as ksp
from .kernels import spins as ks
from .kernels import tempering as kt
from .kernels.rng import normal_spares, seed_states
from .posterior import Posterior

__all__ = ["Ladder", "SampleResult", "sample", "METHODS", "continuous_prior", "communication_barrier",
           "equal_barrier_ladder", "adaptive_rung_count", "tuning_schedule"]

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
#: 4: exchange attempts carry the round-trip bookkeeping (``mc.kernels.tempering``); adaptive ladders.
_CHECKPOINT_VERSION = 4
#: Default number of rungs and lowest inverse temperature of a Hamiltonian ladder.
_DEFAULT_RUNGS, _DEFAULT_LOWEST_BETA = 8, 0.05
#: Adaptive ladders: exchange rounds of the first tuning round (each next round doubles), the
#: share of the burn-in the tuning rounds may use (the rest equilibrates with the final ladder),
#: the fewest and the most rungs the barrier rule may choose, and the floor put under a measured
#: rejection rate so that the barrier increases strictly (a pair that accepted every swap of a
#: short round still counts, a little).
_TUNE_FIRST_ROUND = 4
_TUNE_SHARE = 0.75
_MIN_ADAPTIVE_RUNGS, _MAX_ADAPTIVE_RUNGS = 4, 64
#: Most rungs an adaptive ladder may choose (public: memory estimates use it).
MAX_ADAPTIVE_RUNGS = _MAX_ADAPTIVE_RUNGS
_MIN_REJECTION = 1e-6
#: Most records of the projections of every configuration of a ladder (``mode_changes``).
_CHAIN_RECORDS = 8192
#: Sweeps per probe row between records of every configuration's projections (see ``sample``).
_CHAIN_RECORD_SWEEPS = 4
#: Target wall time of one compiled call of production draws (``mc.kernels.draws``).
_DRAWS_CALL_SECONDS = 0.25


# ---------------------------------------------------------------------------------------------
# tempering ladder
@dataclass(frozen=True)
class Ladder:
    """A tempering ladder: rung ``k`` has ``theta_k = (theta_prior, theta_lik)``.

    ``kind`` is ``"none"`` (one rung, the posterior), ``"hamiltonian"`` (``theta_k = (beta_k,
    beta_k)``, i.e. ``exp(-beta_k H)``), ``"likelihood"`` (``theta_k = (1, l_k)``, from the posterior
    ``l = 1`` towards the prior ``l = 0``) or ``"adaptive"`` (Hamiltonian rungs whose ``beta_k``
    each replica tunes during burn-in, see :func:`sample`). ``values`` is ``beta_k`` or ``l_k``,
    starting at 1 and decreasing; for ``"adaptive"`` it is the geometric ladder the tuning starts
    from, and the tuned ladders are ``SampleResult.betas``. A ladder in the diffusion time t is not
    a tempering scheme (x_t is quenched), and is not offered.
    """

    kind: str
    values: tuple
    prior_values: tuple = ()

    @classmethod
    def make(cls, kind=None, n_rungs=None, values=None, minimum=None, extend_prior=False):
        """Build and check a ladder (geometric in beta from 1 to ``minimum`` = 0.05 by default
        for ``"hamiltonian"`` and, as the start of its tuning, ``"adaptive"``, which takes no
        ``values``; ``l_k = (1 - k / (K - 1))^2`` down to the prior for ``"likelihood"``).

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
        if kind not in ("hamiltonian", "likelihood", "adaptive"):
            raise ValueError(f"tempering: expected None, 'hamiltonian', 'likelihood' or 'adaptive', got {kind!r}")
        if kind == "adaptive" and values is not None:
            raise ValueError("temperatures: tempering='adaptive' tunes its own ladder; give n_temperatures and "
                             "lowest_beta (or nothing), or use tempering='hamiltonian' for a fixed list")
        if values is None:
            k = _DEFAULT_RUNGS if n_rungs is None else as_positive_int(n_rungs, "n_temperatures", minimum=2)
            if kind in ("hamiltonian", "adaptive"):
                lo = _DEFAULT_LOWEST_BETA if minimum is None else as_scalar(minimum, "lowest_beta", positive=True)
                if lo >= 1:
                    raise ValueError(f"lowest_beta: must be < 1, got {lo}")
                vals = np.geomspace(1.0, lo, k)
            elif extend_prior:
                lo = _DEFAULT_LOWEST_BETA if minimum is None else as_scalar(minimum, "lowest_beta", positive=True)
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
        Acceptance rate (spins: flip rate) per rung over the production sweeps (NaN past the
        last rung of a replica whose adaptive ladder has fewer than ``K`` rungs).
    exchange_rate : ndarray (R, K - 1)
        Accepted fraction of swaps between rungs k and k+1 in production (NaN past the last pair
        of a replica with fewer rungs).
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
    betas : ndarray (R, K) or None
        The inverse temperatures ``beta_k`` of each replica's ladder in production, rung 0 (the
        posterior, 1) first: tuned per replica for ``"adaptive"`` (NaN past the last rung of a
        replica with fewer than ``K`` rungs), the fixed ladder on every row for ``"hamiltonian"``;
        None for likelihood ladders and without a ladder.
    rejection_rate : ndarray (R, K - 1)
        ``r_k = 1 - exchange_rate``: rejected fraction of the swaps between rungs k and k+1 in
        production. A tuned ladder makes them equal (up to their statistical error).
    barrier : ndarray (R,)
        Global communication barrier ``Lambda = sum_k r_k`` of each replica's ladder in production
        (Syed et al. 2022; the sum tends to the barrier of the path as the rungs get dense); NaN
        without a ladder.
    round_trips : ndarray (R,) int
        Completed round trips in production: a configuration, followed through its rung labels,
        visits rung 0, then the top rung, then rung 0 again (counted over all configurations of
        the replica's ladder; ``mc.kernels.tempering``). Zero without a ladder; -1, with a
        RuntimeWarning, when stale compiled kernels from Numba's cache could not count them.
    round_trip_rate : ndarray (R,)
        ``round_trips / n_sweeps``: round trips per production sweep (NaN where not counted). When
        every sweep decorrelates the energies, non-reversible (even-odd) swaps with rejection rates
        ``r_k`` give ``1 / (2 + 2 sum_k r_k / (1 - r_k))`` round trips per exchange round (Syed et al.
        2022, section 3), about ``1 / (2 + 2 Lambda)`` for a fine ladder; slower local moves give
        fewer.
    tuning : dict or None
        Adaptive ladders: the tuning rounds of the burn-in, ``"sweeps"`` (int list, the sweep at
        which each round ended), ``"barrier"`` (list per round of the ``Lambda`` each replica
        measured in it) and ``"n_rungs"`` (list per round of the rung count each replica chose
        for the next round); None for the other ladders.
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
    betas: np.ndarray | None = None
    rejection_rate: np.ndarray | None = None
    barrier: np.ndarray | None = None
    round_trips: np.ndarray | None = None
    round_trip_rate: np.ndarray | None = None
    tuning: dict | None = None

    @property
    def n_draws(self):
        return self.energies.shape[1]

    @property
    def n_rungs(self):
        """Rungs of each replica's ladder, shape (R,) int (adaptive ladders may differ by replica)."""
        if self.betas is not None:
            return np.isfinite(self.betas).sum(axis=1)
        return np.full(self.n_replicas, self.ladder.n_rungs)

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
        if self.ladder.kind == "adaptive":
            lines.append(f"adaptive ladders: rungs {self.n_rungs.tolist()}, barrier Lambda "
                         f"{np.round(self.barrier, 2).tolist()}; replica 0: {np.round(self.betas[0], 3).tolist()}")
        elif self.ladder.n_rungs > 1:
            lines.append(f"{self.ladder.kind} ladder {np.round(self.ladder.values, 3).tolist()}")
        if self.ladder.n_rungs > 1:
            lines.append(f"exchange rates (mean over replicas): "
                         f"{np.round(np.nanmean(self.exchange_rate, axis=0), 3).tolist()}")
            if self.round_trips is not None:
                per_1000 = np.round(1000 * self.round_trip_rate, 2).tolist()
                lines.append(f"round trips: {self.round_trips.tolist()} ({per_1000} per 1000 sweeps)")
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
    """Common bookkeeping of the chains of all replicas (R replicas x K rungs).

    With one ladder for all replicas (``rungs is None``) a kernel call runs every replica. With a
    ladder per replica (adaptive tempering, :meth:`set_ladders`) replica r has ``rungs[r]`` rungs
    with parameters ``thetas[r]``; the arrays keep ``K = max(rungs)`` slots (the slots past a
    replica's last rung are never run) and every kernel call runs one replica on views of its
    rows, which is the same computation, since a kernel's replicas share nothing.
    """

    uses_step = False
    #: Arrays indexed by rung on axis 1 (the others that have that axis are indexed by chain).
    _PER_RUNG = ("acc", "att", "eps")
    #: Arrays of one entry per replica.
    _PER_REPLICA = ("normal_spare",)

    def __init__(self, post, ladder, n_rep):
        self.post = post
        self.n = post.n_dim
        self.theta = np.ascontiguousarray(ladder.theta)
        self.k = ladder.n_rungs
        self.n_rep = n_rep
        self.rungs = None
        self.thetas = None
        k = self.k
        self.arrays = {
            "rung_of": np.tile(np.arange(k, dtype=np.int64), (n_rep, 1)),
            "chain_at": np.tile(np.arange(k, dtype=np.int64), (n_rep, 1)),
            "acc": np.zeros((n_rep, k), dtype=np.int64),
            "att": np.zeros((n_rep, k), dtype=np.int64),
            # exchange attempts, then the round-trip bookkeeping (mc.kernels.tempering)
            "ex_att": np.zeros((n_rep, kt.round_trip_columns(k)), dtype=np.int64),
            "ex_acc": np.zeros((n_rep, max(k - 1, 0)), dtype=np.int64),
            "eps": np.ones((n_rep, k)),
        }
        self.phi = np.zeros((n_rep, k, 2))
        kt.reset_round_trips(self.arrays["chain_at"], self.arrays["ex_att"])

    def _kernel(self, a, phi, theta, rng, n_sweeps, exchange_every, sweep0, replica):
        """Run the kernel on the arrays ``a`` (all replicas, or the views of one: ``replica``)."""
        raise NotImplementedError

    def run(self, n_sweeps, exchange_every, sweep0, rng):
        if self.rungs is None:
            self._kernel(self.arrays, self.phi, self.theta, rng, n_sweeps, exchange_every, sweep0, None)
            return
        for r in range(self.n_rep):
            k = int(self.rungs[r])
            self._kernel(self.replica_arrays(r), self.phi[r : r + 1, :k], self.thetas[r], rng[r : r + 1],
                         n_sweeps, exchange_every, sweep0, r)

    def replica_arrays(self, r):
        """Views of replica r's rows, cut to its own rungs (adaptive ladders): what a kernel call
        with one replica of ``rungs[r]`` rungs expects. Rows of C-contiguous arrays stay
        C-contiguous, so the kernels see the same types."""
        k = int(self.rungs[r])
        out = {}
        for name, arr in self.arrays.items():
            if name in self._PER_REPLICA:
                out[name] = arr[r : r + 1]
            elif name == "ex_att":
                out[name] = arr[r : r + 1, : kt.round_trip_columns(k)]
            elif name == "ex_acc":
                out[name] = arr[r : r + 1, : k - 1]
            else:
                out[name] = arr[r : r + 1, :k]
        return out

    def reset_counters(self):
        """Zero the acceptance and exchange counters and start counting round trips afresh."""
        self.arrays["acc"][...] = 0
        self.arrays["att"][...] = 0
        self.arrays["ex_acc"][...] = 0
        if self.rungs is None:
            kt.reset_round_trips(self.arrays["chain_at"], self.arrays["ex_att"])
        else:
            self.arrays["ex_att"][...] = 0
            for r in range(self.n_rep):
                a = self.replica_arrays(r)
                kt.reset_round_trips(a["chain_at"], a["ex_att"])

    def exchange_counts(self):
        """Exchange attempts, acceptances (R, K - 1; NaN past a replica's last pair) and round trips
        (R,; -1 where the compiled sweep kernel did not count them, see ``mc.kernels.tempering``)."""
        k = self.k
        att = np.full((self.n_rep, max(k - 1, 0)), np.nan)
        acc = np.full_like(att, np.nan)
        trips = np.zeros(self.n_rep, dtype=np.int64)
        for r in range(self.n_rep):
            kr = k if self.rungs is None else int(self.rungs[r])
            if kr < 2:
                continue
            row = self.arrays["ex_att"][r : r + 1, : kt.round_trip_columns(kr)]
            att[r, : kr - 1] = row[0, : kr - 1]
            acc[r, : kr - 1] = self.arrays["ex_acc"][r, : kr - 1]
            trips[r] = row[0, 2 * kr - 1] if kt.round_trips_counted(row, kr) else -1
        return att, acc, trips

    def set_ladders(self, betas, sources=None):
        """Give replica r the Hamiltonian ladder ``betas[r]`` (decreasing from 1), with its own
        number of rungs (adaptive tempering).

        ``sources[r][j]`` is the rung of replica r's current ladder whose configuration (and step
        size) its new rung j starts from; rung labels restart in order and the counters at zero.
        ``sources=None`` keeps the arrays when their shapes stay (the first call) and otherwise
        only allocates them (before a checkpoint's arrays are loaded into them).
        """
        rungs = np.array([len(b) for b in betas], dtype=np.int64)
        kmax = int(rungs.max())
        n_rep = self.n_rep
        if sources is None and kmax == self.k and (self.rungs is None or np.array_equal(rungs, self.rungs)):
            remap = None
        else:
            remap = []
            for r in range(n_rep):
                src = np.arange(rungs[r]) if sources is None else np.asarray(sources[r], dtype=np.int64)
                src = np.minimum(src, self.k - 1)
                # the slots past the last rung hold a copy of its configuration (never run)
                remap.append(np.concatenate([src, np.full(kmax - rungs[r], src[-1], dtype=np.int64)]))
            remap = np.array(remap)
        if remap is not None:
            rows = np.arange(n_rep)[:, None]
            chains = self.arrays["chain_at"][rows, remap]
            new = {}
            for name, arr in self.arrays.items():
                if name in self._PER_REPLICA:
                    new[name] = arr
                elif name in ("rung_of", "chain_at"):
                    new[name] = np.tile(np.arange(kmax, dtype=np.int64), (n_rep, 1))
                elif name == "ex_att":
                    new[name] = np.zeros((n_rep, kt.round_trip_columns(kmax)), dtype=np.int64)
                elif name == "ex_acc":
                    new[name] = np.zeros((n_rep, kmax - 1), dtype=np.int64)
                elif name in ("acc", "att"):
                    new[name] = np.zeros((n_rep, kmax), dtype=arr.dtype)
                elif name in self._PER_RUNG:
                    new[name] = np.ascontiguousarray(arr[rows, remap])
                else:
                    new[name] = np.ascontiguousarray(arr[rows, chains])
            self.arrays = new
            self.phi = np.ascontiguousarray(self.phi[rows, chains])
        self.k = kmax
        self.rungs = rungs
        self.thetas = [np.ascontiguousarray(np.stack([b, b], axis=1), dtype=np.float64) for b in betas]
        self.reset_counters()
        self.ladders_changed()

    def ladders_changed(self):
        """Hook: rebuild what depends on the ladders (acceptance tables)."""

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
                self.replica_tables = None
        elif spec.kind == "dense":
            # float32 couplings are the model's own numbers (couplings_dtype="float32"): the kernel
            # reads half the bytes and keeps the local fields in float64 (mc.kernels.spins.run_dense)
            self.kind = "dense"
            w = spec.couplings
            self.w = np.ascontiguousarray(w, dtype=w.dtype if w.dtype in (np.float32, np.float64) else np.float64)
            self.arrays["lf"] = np.zeros(spins.shape)
            ks.local_fields_dense(spins, self.w, self.arrays["lf"])
        else:
            raise ValueError(
                f"model: {type(prior).__name__}.spin_kernel() returned the unknown kind {spec.kind!r} "
                "(expected 'dense', 'mean_field' or 'sparse')"
            )

    def ladders_changed(self):
        if self.kind == "tabulated":
            # per replica; a ladder whose field table would be too large runs on the generic kernel
            self.replica_tables = [kl.acceptance_tables(theta, self.g, len(self.nbrs), self.b, self.h,
                                                        self.heat_bath) for theta in self.thetas]

    def _kernel(self, a, phi, theta, rng, n_sweeps, exchange_every, sweep0, replica):
        common = (theta, a["rung_of"], a["chain_at"], n_sweeps, self.heat_bath, self.random_order,
                  exchange_every, sweep0, rng, a["acc"], a["att"], phi, a["ex_att"], a["ex_acc"])
        tables = None
        if self.kind == "tabulated":
            tables = (self.table, self.thresholds, self.ftab) if replica is None else self.replica_tables[replica]
        if self.kind == "mean_field":
            ks.run_curie_weiss(a["spins"], a["mag"], self.jn, self.b, self.h, *common)
        elif tables is not None:
            kl.run_lattice(a["spins"], self.nbrs, self.sgns, self.g, self.b, self.h, *tables, *common)
        elif self.kind in ("sparse", "tabulated"):
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

    def run_draws(self, n_draws, thin, exchange_every, sweep0, rng, d0, rec):
        """``n_draws`` draws of ``thin`` sweeps, each recorded by ``mc.kernels.draws.record_draw``
        into the buffers of ``rec``, in one compiled call (one ladder for all replicas)."""
        a = self.arrays
        common = (self.theta, a["rung_of"], a["chain_at"], thin, self.heat_bath, self.random_order, exchange_every,
                  sweep0, rng, a["acc"], a["att"], self.phi, a["ex_att"], a["ex_acc"], n_draws, d0, rec)
        if self.kind == "mean_field":
            kd.draws_curie_weiss(a["spins"], a["mag"], self.jn, self.b, self.h, *common)
        elif self.kind == "tabulated":
            kd.draws_lattice(a["spins"], self.nbrs, self.sgns, self.g, self.b, self.h, self.table, self.thresholds,
                             self.ftab, *common)
        elif self.kind == "sparse":
            kd.draws_sparse(a["spins"], self.indptr, self.indices, self.weights, self.b, self.h, *common)
        else:
            kd.draws_dense(a["spins"], a["lf"], self.w, self.b, self.h, *common)


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

    def _kernel(self, a, phi, theta, rng, n_sweeps, exchange_every, sweep0, replica):
        kc.run_continuous(a["x"], a["lp"], a["gp"], self.f, self.params, self.y, self.inv_s, theta,
                          a["rung_of"], a["chain_at"], self.method, a["eps"], self.n_leapfrog, n_sweeps,
                          exchange_every, sweep0, rng, a["normal_spare"], a["acc"], a["att"], phi,
                          a["ex_att"], a["ex_acc"])

    def run_draws(self, n_draws, thin, exchange_every, sweep0, rng, d0, rec):
        """As :meth:`_SpinFamily.run_draws` (``mc.kernels.continuous.draws_continuous``)."""
        a = self.arrays
        kc.draws_continuous(a["x"], a["lp"], a["gp"], self.f, self.params, self.y, self.inv_s, self.theta,
                            a["rung_of"], a["chain_at"], self.method, a["eps"], self.n_leapfrog, thin, exchange_every,
                            sweep0, rng, a["normal_spare"], a["acc"], a["att"], self.phi, a["ex_att"], a["ex_acc"],
                            n_draws, d0, rec)

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

    def _kernel(self, a, phi, theta, rng, n_sweeps, exchange_every, sweep0, replica):
        ksp.run_sphere(a["w"], self.g, theta, a["rung_of"], a["chain_at"], a["eps"], n_sweeps,
                       exchange_every, sweep0, rng, a["normal_spare"], a["acc"], a["att"], phi, a["ex_att"],
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

    def _kernel(self, a, phi, theta, rng, n_sweeps, exchange_every, sweep0, replica):
        kp.run_points(a["idx"], self.log_w, self.lik, theta, a["rung_of"], a["chain_at"], n_sweeps,
                      exchange_every, sweep0, rng, a["acc"], a["att"], phi, a["ex_att"], a["ex_acc"])

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
# adaptive ladders (non-reversible parallel tempering, Syed et al. 2022)
def tuning_schedule(burn_in, exchange_every=1):
    """Sweeps (counted from the start of the run) at which the tuning rounds of an adaptive
    ladder end.

    Round ``j = 0, 1, ...`` lasts ``4 * 2**j`` exchange rounds of ``exchange_every`` sweeps (rounds
    of doubling length as in Syed et al. 2022, Algorithm 4, and Pigeons.jl), as long as it ends within
    the first ``3/4`` of the burn-in; the last round is stretched to end there (at a whole
    exchange round), and the rest of the burn-in equilibrates with the final ladder. Empty when
    not even the first round fits.

    >>> tuning_schedule(100)
    [4, 12, 28, 75]
    """
    burn_in = as_positive_int(burn_in, "burn_in", minimum=0)
    exchange_every = as_positive_int(exchange_every, "exchange_every")
    limit = int(_TUNE_SHARE * burn_in) // exchange_every * exchange_every
    ends, end, length = [], 0, _TUNE_FIRST_ROUND * exchange_every
    while end + length <= limit:
        end += length
        ends.append(end)
        length *= 2
    if ends:
        ends[-1] = limit
    return ends


def communication_barrier(rejection):
    """Cumulative communication barrier at the rungs: ``Lambda(beta_0) = 0`` and
    ``Lambda(beta_k) = sum_{i < k} r_i`` with ``r_i`` the rejection rate of swaps between rungs i
    and i + 1 (Syed et al. 2022: ``r(beta, beta') ~ |Lambda(beta') - Lambda(beta)|`` for close
    rungs, so the sum estimates the barrier ``Lambda(beta)`` of the path from the posterior to
    ``beta``; its last entry is the global barrier ``Lambda``). Returns shape ``(K,)``."""
    r = np.asarray(rejection, dtype=np.float64)
    if r.ndim != 1 or np.any(~np.isfinite(r)) or np.any((r < 0) | (r > 1)):
        raise ValueError(f"rejection: expected rates in [0, 1] between neighbouring rungs, got {rejection!r}")
    return np.concatenate([[0.0], np.cumsum(r)])


def equal_barrier_ladder(betas, rejection, n_rungs):
    """A ladder of ``n_rungs`` rungs at equal increments of the communication barrier.

    ``Lambda(beta)`` is interpolated linearly in ``beta`` between the rungs, through
    ``Lambda(beta_k) = sum_{i < k} r_i`` (:func:`communication_barrier`, each ``r_i`` floored at
    1e-6 so that ``Lambda`` increases strictly), and the new rungs solve
    ``Lambda(beta'_j) = j Lambda / (n_rungs - 1)``, ``j = 0 .. n_rungs - 1``: the ends stay where they
    are and every pair gets the same share ``Lambda / (n_rungs - 1)`` of the barrier, hence the same
    rejection rate as the rungs get dense (Syed et al. 2022, Algorithm 4; Pigeons.jl). The map
    is monotone, so the new ``beta'`` decrease strictly.

    Parameters
    ----------
    betas : array (K,)
        The current ladder, decreasing from 1.
    rejection : array (K - 1,)
        Measured rejection rates of swaps between rungs k and k + 1.
    n_rungs : int
        Rungs of the new ladder (>= 2).

    >>> equal_barrier_ladder([1.0, 0.5, 0.25], [0.6, 0.2], 3).round(4).tolist()
    [1.0, 0.6667, 0.25]
    """
    b = np.asarray(betas, dtype=np.float64)
    r = np.asarray(rejection, dtype=np.float64)
    if b.ndim != 1 or b.size < 2 or np.any(np.diff(b) >= 0):
        raise ValueError(f"betas: expected a strictly decreasing ladder of at least two rungs, got {betas!r}")
    if r.shape != (b.size - 1,):
        raise ValueError(f"rejection: expected {b.size - 1} rates, got shape {r.shape}")
    n_rungs = as_positive_int(n_rungs, "n_rungs", minimum=2)
    lam = communication_barrier(np.maximum(r, _MIN_REJECTION))
    out = np.interp(np.linspace(0.0, lam[-1], n_rungs), lam, b)
    out[0], out[-1] = b[0], b[-1]
    return out


def adaptive_rung_count(barrier):
    """Rungs for a global barrier ``Lambda``: ``max(4, ceil(2 Lambda) + 1)``, at most 64.

    About twice as many rungs as the barrier, the rule of thumb of Syed et al. (2022) for
    non-reversible tempering: the ``2 Lambda`` pairs then reject about half of their swaps, and
    the round-trip rate ``1 / (2 + 2 sum_k r_k / (1 - r_k))`` is about ``1 / (2 + 4 Lambda)``, half its
    limit ``1 / (2 + 2 Lambda)`` for infinitely many rungs, at a cost per sweep that grows only
    linearly in the number of rungs; at least 4 rungs, and at most 64 (a barrier above 31 means
    the ladder's cost explodes; the run then reports its low round-trip rate).
    """
    lam = float(barrier)
    return int(min(_MAX_ADAPTIVE_RUNGS, max(_MIN_ADAPTIVE_RUNGS, int(np.ceil(2.0 * lam)) + 1)))


def _retune(fam, fixed_rungs):
    """One update of every replica's ladder from its own exchange counts of the round that ended;
    returns the barrier each replica measured and the rung count each chose."""
    att, acc, _ = fam.exchange_counts()
    ladders, sources, barriers, counts = [], [], [], []
    for r in range(fam.n_rep):
        k = int(fam.rungs[r])
        betas = fam.thetas[r][:, 0]
        rej = 1.0 - acc[r, : k - 1] / np.maximum(att[r, : k - 1], 1.0)
        lam = communication_barrier(rej)
        n_new = fixed_rungs if fixed_rungs is not None else adaptive_rung_count(lam[-1])
        ladders.append(equal_barrier_ladder(betas, rej, n_new))
        if n_new == k:
            src = np.arange(k)  # every configuration stays at its rung (its beta moves)
        else:
            # a new rung starts from the configuration of the old rung nearest in barrier
            floored = communication_barrier(np.maximum(rej, _MIN_REJECTION))
            targets = np.linspace(0.0, floored[-1], n_new)
            src = np.argmin(np.abs(floored[:, None] - targets[None, :]), axis=0)
        sources.append(src)
        barriers.append(float(lam[-1]))
        counts.append(int(n_new))
    fam.set_ladders(ladders, sources)
    return barriers, counts


# ---------------------------------------------------------------------------------------------
# checkpoints
def _fingerprint(post, method, ladder, n_rep, n_sweeps, burn_in, thin, seed, key, store, adaptive=None):
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(post.x_t).tobytes())
    items = [type(post.model).__name__, repr(post.model.params()), repr(post.process), post.t,
             method, ladder.kind, list(ladder.values), list(ladder.prior_values), n_rep, n_sweeps, burn_in, thin, seed,
             list(key), store]
    if adaptive is not None:  # how an adaptive ladder is tuned
        items.append(adaptive)
    h.update(json.dumps(items).encode())
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


def draw_buffers(posterior, n_rep, n_draws, thin, store):
    """The recording buffers of :func:`sample` (and of ``mc.sample_distributed``) for ``n_draws``
    draws of ``n_rep`` replicas, as the tuple ``(samples, energies, overlaps, projections,
    indices, sum_x, sum_x2, u, directions, probe, order_proj, chain_stride)``: the draws
    (``store == "samples"``; int8 for spins, else None), energy, overlap (NaN until recorded),
    projection on the unit field direction ``u`` and the point indices of a data set (else None)
    per draw; running moments; the model's order directions (or None), the ``probe`` rows
    ``[u, directions]`` and the order projections per draw (or None); and the stride of the
    records of every chain's projections on ``probe`` (``mode_changes``)."""
    model = posterior.model
    space = model.state_space
    n = posterior.n_dim
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
    # modes is a slow event, and the buffer stays small for long ladders and long runs; and at
    # most one probe row per _CHAIN_RECORD_SWEEPS sweeps, so that the record (K N per probe row)
    # costs a small fraction of the sweeps (K N attempts each) also with many order directions)
    chain_stride = max(-(-n_draws // _CHAIN_RECORDS), -(-_CHAIN_RECORD_SWEEPS * probe.shape[0] // thin))
    return (samples, energies, overlaps, projections, indices, sum_x, sum_x2, u, directions, probe, order_proj,
            chain_stride)


def check_run_arguments(n_replicas, n_sweeps, burn_in, thin, seed, key, exchange_every, n_leapfrog, order, store):
    """The run-length, seeding and layout arguments of :func:`sample` (and of
    ``mc.sample_distributed``), checked and normalised: returns ``(n_replicas, n_sweeps, burn_in,
    thin, seed, key, exchange_every, n_leapfrog)`` (``burn_in`` defaults to ``n_sweeps // 4``);
    a bad value raises ValueError naming its argument."""
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
    return n_rep, n_sweeps, burn_in, thin, seed, key, exchange_every, n_leapfrog


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
    tempering : "auto", None, "hamiltonian", "likelihood" or "adaptive"
        Parallel tempering ladder (see :class:`Ladder`); ``temperatures`` gives its values
        explicitly (first 1, decreasing), otherwise ``n_temperatures`` rungs down to ``lowest_beta``.
        ``"adaptive"``: non-reversible parallel tempering with a tuned ladder (Syed,
        Bouchard-Cote, Deligiannidis & Doucet, J. R. Stat. Soc. B 84, 321 (2022), Algorithm 4;
        Pigeons.jl). Hamiltonian rungs ``theta_k = (beta_k, beta_k)`` from ``beta = 1`` (the
        posterior) down to ``lowest_beta`` (0.05 by default), which every replica tunes during
        burn-in from its own swap statistics (so replica r's chain still depends on ``(seed, key,
        r)`` only): rounds of 4, 8, 16, ... exchange rounds (:func:`tuning_schedule`) within the first
        3/4 of the burn-in; after each round the rejection rates ``r_k`` of its swaps give the
        cumulative barrier ``Lambda(beta_k) = sum_{i<k} r_i`` (:func:`communication_barrier`) and the
        new ``beta_k`` sit at equal increments of it (:func:`equal_barrier_ladder`), so that the
        rejection rates become equal. The number of rungs is ``n_temperatures`` when given, else
        it is chosen after every round from the measured global barrier ``Lambda``:
        ``max(4, ceil(2 Lambda) + 1)``, at most 64 (:func:`adaptive_rung_count`; Syed et al.
        suggest about ``2 Lambda`` rungs for non-reversible tempering); a new rung starts from the
        configuration of the old rung nearest in barrier. The last quarter of the burn-in and the
        production run use the final ladder, fixed, so production is an exact MCMC for the
        posterior (rung 0). Swaps alternate deterministically between even and odd pairs, one
        round every ``exchange_every`` sweeps (the non-reversible scheme, as for every ladder here).
        Needs ``burn_in >= 16 exchange_every / 3``; explicit ``temperatures`` are refused. The tuned
        ladders, production rejection rates, barriers and round trips are in the result
        (``betas``, ``rejection_rate``, ``barrier``, ``round_trips``, ``tuning``).
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
        Sweeps between rounds of neighbour exchanges (even pairs, then odd pairs, alternately).
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
    n_rep, n_sweeps, burn_in, thin, seed, key, exchange_every, n_leapfrog = check_run_arguments(
        n_replicas, n_sweeps, burn_in, thin, seed, key, exchange_every, n_leapfrog, order, store)
    model = posterior.model
    space = model.state_space
    method = _choose_method(space, method, model)
    ladder_given = temperatures is not None or n_temperatures is not None or lowest_beta is not None
    if tempering in (None, "none", "auto") and ladder_given:
        raise ValueError("tempering: temperatures / n_temperatures / lowest_beta need tempering='hamiltonian', "
                         "'likelihood' or 'adaptive'")
    multimodal = bool(model.may_be_multimodal)
    if isinstance(tempering, str) and tempering == "auto":
        tempering = "hamiltonian" if multimodal else None
    ladder = Ladder.make(tempering, n_temperatures, temperatures, lowest_beta,
                         extend_prior=multimodal and tempering == "likelihood" and temperatures is None)
    k = ladder.n_rungs
    adaptive = ladder.kind == "adaptive"
    tune_ends = tuning_schedule(burn_in, exchange_every) if adaptive else []
    if adaptive and not tune_ends:
        need = -(-_TUNE_FIRST_ROUND * exchange_every * 4 // 3)
        raise ValueError(f"burn_in: tempering='adaptive' tunes its ladders during burn-in, which needs at least "
                         f"{need} sweeps with exchange_every = {exchange_every}; got {burn_in}")
    fixed_rungs = None if n_temperatures is None else k
    n = posterior.n_dim
    n_draws = n_sweeps // thin
    if store == "auto":
        store = "samples" if 8.0 * n_rep * n_draws * n <= max_bytes else "summary"
    if checkpoint is not None:
        checkpoint = run_control.check_checkpoint_path(checkpoint)
    checkpoint_every = as_scalar(checkpoint_every, "checkpoint_every", positive=True)

    if (space == "spins" and method == "metropolis" and order == "sequential"
            and not np.any(posterior.field) and not np.any(model.field)):
        # a flip that leaves the energy unchanged is always accepted: in a fixed site order at zero
        # field some configurations flip back and forth every sweep and are never reached from the
        # others (exact on a 3 x 3 torus: 8 stripe and checkerboard states, 0.16% of the mass at
        # beta = 0.45; tests/test_kernels_lattice.py)
        warnings.warn("order: sequential Metropolis sweeps at zero field are not ergodic (zero-energy flips are "
                      "always accepted, so some configurations cycle and are never reached); on small systems "
                      "use order='random' or method='heat_bath'", diagnostics.MixingWarning, stacklevel=2)
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
    if adaptive:
        fam.set_ladders([np.asarray(ladder.values)] * n_rep)
    rng = seed_states([seed_sequence(seed, *key, r, _STREAM_CHAIN) for r in range(n_rep)])

    # energy offset: H(x) = const - (phi_prior + phi_lik) at rung 0 (checked on the initial state)
    x_init = fam.current()
    phi0 = fam.rung0_phi()
    e_init = posterior.energy(x_init)
    if not np.all(np.isfinite(e_init)):
        raise ValueError("init: an initial state lies outside the support of the prior")
    const = float(e_init[0] + phi0[0].sum())

    # recording buffers
    (samples, energies, overlaps, projections, indices, sum_x, sum_x2, u, directions, probe, order_proj,
     chain_stride) = draw_buffers(posterior, n_rep, n_draws, thin, store)

    def chain_buffer():
        return np.empty((n_rep, fam.k, -(-n_draws // chain_stride), probe.shape[0]), dtype=np.float32)

    # (adaptive ladders: allocated when production starts, once the number of rungs is fixed)
    chain_proj = chain_buffer() if k > 1 and not adaptive else None
    sweeps_done, draws_done, n_adapt = 0, 0, 0
    tuning = {"sweeps": [], "barrier": [], "n_rungs": []} if adaptive else None
    next_replica = (np.arange(n_rep) + 1) % n_rep

    fingerprint = _fingerprint(posterior, method, ladder, n_rep, n_sweeps, burn_in, thin, seed, key, store,
                               adaptive=[fixed_rungs, exchange_every, _TUNE_FIRST_ROUND, _TUNE_SHARE,
                                         _MIN_ADAPTIVE_RUNGS, _MAX_ADAPTIVE_RUNGS] if adaptive else None)
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
        if adaptive:
            arrays["ladders"] = _padded([t[:, 0] for t in fam.thetas])
        arrays["meta"] = np.array(json.dumps({
            "version": _CHECKPOINT_VERSION, "fingerprint": fingerprint, "sweeps_done": sweeps_done,
            "draws_done": draws_done, "n_adapt": n_adapt, "tuning": tuning}))
        run_control.save_checkpoint(checkpoint, arrays)

    if resume and checkpoint is not None and os.path.exists(checkpoint):
        data = run_control.load_checkpoint(checkpoint)
        meta = json.loads(str(data["meta"]))
        if meta.get("version") != _CHECKPOINT_VERSION or meta.get("fingerprint") != fingerprint:
            raise ValueError(
                f"checkpoint: {checkpoint!r} belongs to a different run (posterior, method, ladder, "
                "sizes or seed differ); remove it or pass another path"
            )
        sweeps_done, draws_done, n_adapt = meta["sweeps_done"], meta["draws_done"], meta["n_adapt"]
        if adaptive:
            fam.set_ladders([row[np.isfinite(row)] for row in data["ladders"]])  # shapes, then contents
            tuning = meta["tuning"]
            if sweeps_done >= burn_in:
                chain_proj = chain_buffer()
        for name in fam.arrays:
            fam.arrays[name][...] = data[f"state_{name}"]
        rng[...] = data["rng"]
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

    # production draws in compiled calls that also record them (spin and continuous families, one
    # ladder for all replicas)
    compiled_draws = hasattr(fam, "run_draws") and fam.rungs is None
    draws_per_call = 1
    # the recording arrays of mc.kernels.draws.record_draw (absent buffers as arrays with no room);
    # fixed for the whole run, since ladders that change (adaptive) are not run this way
    draw_record = (
        const, u, directions if directions is not None else np.zeros((0, n)), next_replica, energies, overlaps,
        projections, order_proj if order_proj is not None else np.zeros((n_rep, 0, 0)), sum_x, sum_x2,
        samples if samples is not None else np.zeros((n_rep, 0, n), dtype=np.int8 if space == "spins" else np.float64),
        probe, chain_proj if chain_proj is not None else np.zeros((n_rep, fam.k, 0, probe.shape[0]), dtype=np.float32),
        chain_stride,
    ) if compiled_draws else None

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
                    rounds_done = len(tuning["sweeps"]) if adaptive else 0
                    if rounds_done < len(tune_ends):  # a tuning round ends at a chunk boundary
                        chunk = min(chunk, tune_ends[rounds_done] - sweeps_done)
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
                    if rounds_done < len(tune_ends) and sweeps_done == tune_ends[rounds_done]:
                        barriers, counts = _retune(fam, fixed_rungs)
                        tuning["sweeps"].append(sweeps_done)
                        tuning["barrier"].append(barriers)
                        tuning["n_rungs"].append(counts)
                    if sweeps_done == burn_in:
                        fam.reset_counters()
                        if adaptive and fam.k > 1:
                            chain_proj = chain_buffer()
                elif compiled_draws:
                    # several draws per call, measured in the same compiled loop (mc.kernels.draws);
                    # the number per call grows until a call takes about _DRAWS_CALL_SECONDS, so that
                    # signals, checkpoints and the progress bar are still served (the numbers do not
                    # depend on it: each draw is the same thin sweeps from the same state)
                    m = min(draws_per_call, n_draws - draws_done)
                    t_call = time.perf_counter()
                    fam.run_draws(m, thin, exchange_every, sweeps_done, rng, draws_done, draw_record)
                    if time.perf_counter() - t_call < _DRAWS_CALL_SECONDS / 2:
                        draws_per_call *= 2
                    sweeps_done += m * thin
                    draws_done += m
                    chunk = m * thin
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
    k = fam.k
    # slots of each replica's ladder (adaptive ladders may have fewer rungs than the widest)
    rungs = np.full(n_rep, k) if fam.rungs is None else fam.rungs
    live = np.arange(k)[None, :] < rungs[:, None]
    per_sweep = fam.attempts_per_sweep()
    acceptance = np.where(live, a["acc"] / np.maximum(a["att"] * per_sweep, 1), np.nan)
    step_sizes = np.where(live, a["eps"], np.nan)
    ex_att, ex_acc, round_trips = fam.exchange_counts()
    if np.any(round_trips < 0):
        warnings.warn(
            "round trips were not counted: the compiled sweep kernels in Numba's cache predate "
            "mc/kernels/tempering.py (Numba does not see changes in the modules a cached kernel calls); "
            "delete the cached files (mc/kernels/__pycache__/*.nbi and *.nbc, or those in NUMBA_CACHE_DIR) "
            "and rerun; the samples themselves are unaffected",
            RuntimeWarning,
            stacklevel=2,
        )
    exchange_rate = ex_acc / np.maximum(ex_att, 1)
    rejection_rate = 1.0 - exchange_rate
    barrier = np.nansum(rejection_rate, axis=1) if k > 1 else np.full(n_rep, np.nan)
    if adaptive:
        betas = _padded([t[:, 0] for t in fam.thetas])
    elif ladder.kind == "hamiltonian":
        betas = np.tile(np.asarray(ladder.values), (n_rep, 1))
    else:
        betas = None
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
            ch, both = diagnostics.mode_changes(chain_proj[:, :, :, j][live])
            full = np.zeros((n_rep, k), dtype=ch.dtype)
            full[live] = ch
            if changes is None:
                changes = full
            if both and ch.sum() == 0:
                frozen, changes = j, full
                break
        if frozen is not None:
            name = "the field direction" if frozen == 0 else f"order direction {frozen - 1}"
            flags.append(
                f"the {ladder.kind} ladder does not connect the modes: along {name} the {int(live.sum())} "
                "configurations sit in different modes and none crossed between them during the run, so exchanges "
                "only reshuffle a fixed set of modes; use more rungs, a lower lowest_beta, or tempering='hamiltonian'"
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
        step_size=step_sizes,
        tau_int=tau,
        rhat=rhat,
        wall_time=time.perf_counter() - t_start,
        order_projections=order_proj,
        mode_changes=changes,
        init=init if isinstance(init, str) else "array",
        flags=flags,
        betas=betas,
        rejection_rate=rejection_rate,
        barrier=barrier,
        round_trips=round_trips,
        round_trip_rate=np.where(round_trips >= 0, round_trips / n_sweeps, np.nan),
        tuning=tuning,
    )


def _mixing_advice(ladder):
    if ladder.n_rungs == 1:
        return ("replicas started apart stay in different states: the posterior has several modes that "
                "local moves do not cross; use tempering='hamiltonian' and check R-hat again")
    return "run longer, or add rungs to the ladder"


def _padded(rows):
    """Rows of different lengths as one array, NaN past the end of each."""
    out = np.full((len(rows), max(len(row) for row in rows)), np.nan)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def _recorded(name, arr, draws_done, chain_stride):
    """The part of a recording buffer filled so far (running sums whole)."""
    if name in ("sum_x", "sum_x2"):
        return arr
    if name == "chain_proj":
        return arr[:, :, : -(-draws_done // chain_stride)]
    return arr[:, :draws_done]
