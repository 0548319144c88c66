"""Replicas of the posterior a score model implies: clones of the generative process.

Started at a quenched noisy state ``x_t``, the generative (reverse) SDE run down to ``t -> 0``
with the exact score samples the posterior ``P(x0 | x_t)`` exactly (the reverse process of
Anderson 1982 has the forward process's conditional laws); with a learned score it samples that
model's own posterior. So R independent reverse trajectories from one ``x_t`` are R replicas
(the "clones" of Biroli et al.'s cloning experiments), and every replica estimator applies.

In the reverse time ``tau`` the SDE is (``mc.dynamics``; ``c``, ``g2`` from ``dx = -c x dt +
sqrt(g2) dW``)

    dx = [c_t x + g2_t s(x, t)] dtau + sqrt(g2_t) dW,

integrated on a grid ``t = t_0 > t_1 > ... > t_K = t_stop`` (geometric by default: the score
of peaked data varies on the scale ``D_t``) by

* ``"euler"``: Euler-Maruyama, ``x' = x + h b(x, t_k) + sqrt(G_k) z``;
* ``"heun"``: stochastic Heun, the predictor ``xp = x + h b(x, t_k) + sqrt(G_k) z``, then
  ``x' = x + (h / 2) [b(x, t_k) + b(xp, t_{k+1})] + sqrt(G_k) z`` with the same ``z`` (additive
  noise: strong order 1, weak order 2 in the drift);

with ``h = t_k - t_{k+1}``, ``b(x, t) = c_t x + g2_t s(x, t)`` and ``G_k = int g2 dt`` over the
step (midpoint rule). The states at ``t_stop`` are then denoised, ``x0 = E[x0 | x_{t_stop}]``
(the model's own denoiser, Tweedie), so that with the exact score of a training set the clones
are its points; ``denoise=False`` keeps ``x_{t_stop}``.

Step-count check: the same Brownian paths are integrated on every other grid point as well (the
coarse increment is the sum of the two fine ones). For the clones' statistics what matters is the
weak (bias) error: the per-coordinate first and second moments of the clones, ``f = (x, x^2)``,
are averaged over the fine and over the coarse end states, and

    step_bias_ratio = sqrt(max(0, mean_f [d_f^2 - se(d_f)^2])) / rms_f(stderr of mean_fine f),
    d_f = mean_fine f - mean_coarse f,

the difference of the two estimates in units of the fine estimate's own standard error, with
the noise of the difference itself (``se(d_f)``, from the paired differences: the same paths
give both ends) subtracted, so that the ratio estimates the bias rather than the number of
paths that ended at another point. A scheme of weak order p has a coarse bias 2^p times the
fine one, so the fine run's bias is at most this difference: ``converged`` is ``step_bias_ratio <= STEP_TOLERANCE``, else a
:class:`DiscretisationWarning`. The strong (pathwise) distance, ``step_error``, is recorded too;
it is not a convergence criterion, since near a decision between training points a path of the
coarse grid may end at another point than its fine twin without any bias in the law.

Seeding (``design.md``): clone ``(r, d)`` (replica r, draw d) draws its noise from xoshiro256**
state row ``d`` of ``SeedSequence(seed, spawn_key=(*key, CLONE_STREAM, r)).generate_state(4 *
n_draws)``; a SeedSequence's words do not depend on how many are generated, so a clone depends
only on ``(seed, key, r, d)``: not on the batch size, the number of clones or the rank.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from ._validation import as_float_array, as_positive_int, as_scalar
from .disorder import seed_sequence
from .dynamics import process_coefficients, time_grid
from .kernels import rng as _rng
from .scores.base import ScoreModel

__all__ = ["CloneResult", "DiscretisationWarning", "clone_replicas", "CLONE_STREAM", "STEP_TOLERANCE", "SCHEMES",
           "step_bias_ratio", "clone_states"]

#: Seed stream of the clones' noise (after the task key).
CLONE_STREAM = 7
#: Largest ``step_bias_ratio`` of a run whose step count is accepted (module docstring).
STEP_TOLERANCE = 0.5
#: Integration schemes.
SCHEMES = ("euler", "heun")
#: Default ``t_stop / t``.
T_STOP_FRACTION = 1e-3


class DiscretisationWarning(UserWarning):
    """The coarse and fine integrations of the same Brownian paths end too far apart."""


@dataclass(frozen=True)
class CloneResult:
    """Clones of one quenched state and what the integration measured.

    Attributes
    ----------
    samples : (n_replicas, n_draws, N) the clones' end states (denoised unless ``denoise=False``).
    t, t_stop : start and end times; times : (K + 1,) the grid; scheme, n_steps.
    step_bias_ratio : difference of the clones' moments between the half-step and the fine
        integration, in units of their standard errors (module docstring; NaN without the check).
    step_error : RMS distance per coordinate between the fine and the half-step end states.
    spread : RMS standard deviation per coordinate of the clones.
    converged : ``step_bias_ratio <= STEP_TOLERANCE``.
    seconds, score_seconds, score_calls : wall time of the whole run, of the score calls, and
        the number of batched score calls (one call evaluates one batch of paths at one time).
    path_steps : the number of fine path steps made (clones x K, the coarse check not counted).
    """

    samples: np.ndarray
    t: float
    t_stop: float
    times: np.ndarray
    scheme: str
    n_steps: int
    step_bias_ratio: float
    step_error: float
    spread: float
    converged: bool
    seconds: float
    score_seconds: float
    score_calls: int
    path_steps: int

    @property
    def n_replicas(self):
        return self.samples.shape[0]

    @property
    def n_draws(self):
        return self.samples.shape[1]

    @property
    def score_share(self):
        """Fraction of the wall time spent in the score model."""
        return self.score_seconds / self.seconds if self.seconds > 0 else float("nan")


def clone_states(seed, key, n_replicas, n_draws):
    """The xoshiro states of the clones, replica-major: row ``r * n_draws + d`` (module docstring)."""
    rows = [seed_sequence(seed, *key, CLONE_STREAM, r).generate_state(4 * n_draws, dtype=np.uint64).reshape(n_draws, 4)
            for r in range(n_replicas)]
    states = np.ascontiguousarray(np.concatenate(rows))
    if not states.any(axis=1).all():
        raise ValueError("seed: produced an all-zero xoshiro state; use another seed")
    return states


def step_bias_ratio(fine, coarse):
    """The noise-corrected difference of the moments ``f = (x, x^2)`` per coordinate of paired
    fine and half-step end states, in units of the fine means' standard errors (module
    docstring); 0 when the two agree within their paired noise, ``inf`` when they differ and the
    fine ones have no spread."""
    n = fine.shape[0]
    f_fine, f_coarse = np.concatenate([fine, fine**2], axis=1), np.concatenate([coarse, coarse**2], axis=1)
    diff = f_fine.mean(0) - f_coarse.mean(0)
    if n < 2:
        return 0.0 if not diff.any() else float("inf")
    noise2 = (f_fine - f_coarse).var(0, ddof=1) / n
    se2 = f_fine.var(0, ddof=1) / n
    bias2 = max(0.0, float(np.mean(diff**2 - noise2)))
    if bias2 == 0.0:
        return 0.0
    den = float(np.sqrt(np.mean(se2)))
    return float(np.sqrt(bias2)) / den if den > 0 else float("inf")


class _Timed:
    """The score model's ``score`` and ``denoise``, timed (seconds and number of calls)."""

    def __init__(self, score_model):
        self.model, self.seconds, self.calls = score_model, 0.0, 0

    def _call(self, method, x, t):
        start = time.perf_counter()
        out = method(x, t)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return out

    def score(self, x, t):
        return self._call(self.model.score, x, t)

    def denoise(self, x, t):
        return self._call(self.model.denoise, x, t)


def _step(model, scheme, x, t0, t1, h, c0, c1, g0, g1, noise):
    """One step of the reverse SDE from forward time ``t0`` down to ``t1`` (module docstring)."""
    drift0 = c0 * x + g0 * model.score(x, t0)
    pred = x + h * drift0 + noise
    if scheme == "euler":
        return pred
    drift1 = c1 * pred + g1 * model.score(pred, t1)
    return x + (0.5 * h) * (drift0 + drift1) + noise


def clone_replicas(
    score_model,
    x_t,
    t,
    *,
    n_replicas,
    n_draws=1,
    seed,
    key=(),
    n_steps=200,
    scheme="heun",
    t_stop=None,
    spacing="log",
    denoise=True,
    check_steps=True,
    batch_size=1024,
    warn=True,
):
    """R x M clones of the generative process from one quenched state (module docstring).

    Parameters
    ----------
    score_model : mc.scores.ScoreModel
        The score driving the reverse SDE (its forward process is used).
    x_t : array (N,)
        The quenched noisy state; t : float > 0, its time.
    n_replicas, n_draws : int
        Clones come as ``samples`` of shape ``(n_replicas, n_draws, N)``, all independent.
    seed : int; key : tuple of int
        Streams (module docstring).
    n_steps : int
        Steps of the grid from ``t`` to ``t_stop`` (even when ``check_steps``).
    scheme : {"euler", "heun"}
    t_stop : float, optional
        End time, ``0 < t_stop < t`` (default ``T_STOP_FRACTION * t``).
    spacing : {"log", "linear"}
    denoise : bool
        Return ``E[x0 | x_{t_stop}]`` of each clone (default) instead of ``x_{t_stop}``.
    check_steps : bool
        Integrate the half-step grid with the same noise too (about 1.5x the cost) and measure
        ``step_error``; otherwise it is NaN and ``converged`` is True.
    batch_size : int
        Paths integrated together (memory: a few arrays of ``batch_size x N`` floats, and the
        score model's own); the clones do not depend on it.
    warn : bool
        Warn (:class:`DiscretisationWarning`) when the step check fails.

    Returns
    -------
    CloneResult
    """
    if not isinstance(score_model, ScoreModel):
        raise ValueError(f"score_model: expected an mc.scores.ScoreModel, got {type(score_model).__name__}")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: expected one of {SCHEMES}, got {scheme!r}")
    t = as_scalar(t, "t", positive=True)
    t_stop = T_STOP_FRACTION * t if t_stop is None else as_scalar(t_stop, "t_stop", positive=True)
    if not t_stop < t:
        raise ValueError(f"t_stop: must be < t = {t:g}, got {t_stop:g}")
    n_dim = score_model.n_dim
    x_t = as_float_array(x_t, "x_t", shape=(n_dim,))
    n_replicas = as_positive_int(n_replicas, "n_replicas")
    n_draws = as_positive_int(n_draws, "n_draws")
    n_steps = as_positive_int(n_steps, "n_steps")
    batch_size = as_positive_int(batch_size, "batch_size")
    if check_steps and n_steps % 2:
        raise ValueError(f"n_steps: must be even for the half-step check (check_steps=True), got {n_steps}")
    seed = as_positive_int(seed, "seed", minimum=0)
    key = tuple(as_positive_int(k, "key", minimum=0) for k in key)

    start = time.perf_counter()
    times = time_grid(t, t_stop, n_steps, spacing)
    _, _, c, g2 = process_coefficients(score_model.process, times)
    mid = 0.5 * (times[1:] + times[:-1])
    _, _, _, g2_mid = process_coefficients(score_model.process, mid)
    h = times[:-1] - times[1:]
    amp = np.sqrt(g2_mid * h)  # sqrt of int g2 dt over each fine step
    if not (g2 > 0).all():
        raise ValueError("t_stop: the noise amplitude g2_t vanishes on the grid")
    states = clone_states(seed, key, n_replicas, n_draws)
    n_paths = states.shape[0]
    model = _Timed(score_model)
    fine = np.empty((n_paths, n_dim))
    coarse = np.empty((n_paths, n_dim)) if check_steps else None
    for lo in range(0, n_paths, batch_size):
        rows = slice(lo, min(lo + batch_size, n_paths))
        st = np.ascontiguousarray(states[rows])
        spare = _rng.normal_spares(st.shape[0])
        x = np.repeat(x_t[None, :], st.shape[0], axis=0)
        xc = x.copy() if check_steps else None
        z = np.empty_like(x)
        zc = np.zeros_like(x) if check_steps else None
        for k in range(n_steps):
            _rng.normal_rows(st, spare, z)
            dw = amp[k] * z
            x = _step(model, scheme, x, times[k], times[k + 1], h[k], c[k], c[k + 1], g2[k], g2[k + 1], dw)
            if check_steps:
                zc += dw
                if k % 2 == 1:
                    k0 = k - 1
                    xc = _step(model, scheme, xc, times[k0], times[k + 1], h[k0] + h[k], c[k0], c[k + 1], g2[k0],
                               g2[k + 1], zc)
                    zc[:] = 0.0
        if denoise:
            x = model.denoise(x, t_stop)
            if check_steps:
                xc = model.denoise(xc, t_stop)
        fine[rows] = x
        if check_steps:
            coarse[rows] = xc
    if not np.isfinite(fine).all():
        bad = int(np.flatnonzero(~np.isfinite(fine).all(axis=1))[0])
        raise FloatingPointError(f"clones: path {bad} (replica {bad // n_draws}, draw {bad % n_draws}) diverged with "
                                 f"{scheme} at n_steps = {n_steps}; use more steps or another scheme")
    spread = float(np.sqrt(np.mean(fine.var(axis=0)))) if n_paths > 1 else 0.0
    if check_steps:
        step_error = float(np.sqrt(np.mean((fine - coarse) ** 2)))
        ratio = step_bias_ratio(fine, coarse)
        converged = bool(ratio <= STEP_TOLERANCE)
    else:
        step_error, ratio, converged = float("nan"), float("nan"), True
    if warn and not converged:
        warnings.warn(f"clones: the moments of the half-step integration differ from the {n_steps}-step ones by "
                      f"{ratio:.2f} standard errors (tolerance {STEP_TOLERANCE}): the discretisation bias may not be "
                      f"below the statistical error; use more steps", DiscretisationWarning, stacklevel=2)
    return CloneResult(
        samples=fine.reshape(n_replicas, n_draws, n_dim), t=t, t_stop=t_stop, times=times, scheme=scheme,
        n_steps=n_steps, step_bias_ratio=ratio, step_error=step_error, spread=spread, converged=converged,
        seconds=time.perf_counter() - start, score_seconds=model.seconds, score_calls=model.calls,
        path_steps=n_paths * n_steps,
    )
