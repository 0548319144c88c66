"""Forward (noising) processes of diffusion models.

Every process maps a clean microstate ``x0`` to ``x_t = a_t x0 + sqrt(D_t) z`` with ``z`` a
standard normal vector. Posterior quantities depend on ``(x_t, t)`` only through the rescaled
state ``y = x_t / a_t`` and the effective noise variance ``s_t = D_t / a_t**2`` (see
``physics.md``), so each process exposes ``a``, ``D`` and ``s``.

Conventions (Biroli, Bonnaire, de Bortoli & Mezard 2024; Yu & Huang 2024):

* ``VE(sigma)``: Brownian motion ``dx = sigma dW``; ``a_t = 1``, ``D_t = sigma**2 t``.
* ``VP()``: Ornstein-Uhlenbeck ``dx = -x dt + sqrt(2) dW``; ``a_t = exp(-t)``,
  ``D_t = 1 - exp(-2 t)``, ``s_t = exp(2 t) - 1``.
* ``VPLinear(beta_min, beta_max)``: the VP-SDE of Song et al. (2021),
  ``dx = -beta(t) x / 2 dt + sqrt(beta(t)) dW`` with ``beta`` linear on ``[0, 1]``;
  ``a_t = exp(-B(t) / 2)``, ``B(t) = beta_min t + (beta_max - beta_min) t**2 / 2``.

Times must be finite and strictly positive; at ``t = 0`` the posterior is a delta and no
Boltzmann measure exists.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_float_array, as_generator, as_scalar

__all__ = ["ForwardProcess", "VE", "VP", "VPLinear", "check_time", "ddpm_time"]


def check_time(t, name="t"):
    """Return ``t`` as a float64 array after checking it is finite and > 0."""
    arr = np.asarray(t, dtype=np.float64) if not isinstance(t, np.ndarray) else t.astype(np.float64)
    if arr.size == 0:
        raise ValueError(f"{name}: empty")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: must be finite, got {arr[~np.isfinite(arr)].ravel()[0]}")
    if (arr <= 0).any():
        raise ValueError(f"{name}: must be > 0 (forward-process time), got {arr[arr <= 0].ravel()[0]}")
    return arr


def ddpm_time(alpha_bar):
    """Ornstein-Uhlenbeck time equivalent to a DDPM step with cumulative ``alpha_bar``.

    DDPM writes ``x_k = sqrt(alpha_bar_k) x0 + sqrt(1 - alpha_bar_k) z``; the VP process here
    has ``a_t = exp(-t)``, so ``t = -(1/2) log(alpha_bar_k)``.
    """
    ab = np.asarray(alpha_bar, dtype=np.float64)
    if not np.isfinite(ab).all() or ((ab <= 0) | (ab >= 1)).any():
        raise ValueError("alpha_bar: must lie in the open interval (0, 1)")
    return -0.5 * np.log(ab)


class ForwardProcess:
    """Base class: subclasses implement ``_a``, ``_D`` and ``_s`` on validated float arrays."""

    name = "process"

    def a(self, t):
        """Signal scale a_t."""
        return self._out(self._a(check_time(t)), t)

    def D(self, t):
        """Noise variance D_t per coordinate."""
        return self._out(self._D(check_time(t)), t)

    def s(self, t):
        """Effective noise variance s_t = D_t / a_t**2 of the rescaled state y = x_t / a_t."""
        tt = check_time(t)
        s = self._s(tt)
        if not np.isfinite(s).all():
            raise ValueError(f"t: too large for {self!r} (s_t = D_t / a_t^2 overflows)")
        return self._out(s, t)

    def representable(self, t):
        """Whether ``a_t``, ``D_t`` and ``s_t`` are finite, normal (so nonzero) positive float64 numbers.

        Parameters
        ----------
        t : float or array
            Times (finite, > 0).

        Returns
        -------
        ok : bool or bool array of the shape of ``t``
            False where a coefficient overflows to inf, underflows to zero or to a subnormal (whose
            reciprocal ``1 / D_t`` or ``1 / s_t`` overflows), or is NaN: e.g. ``VP`` beyond
            ``t = 354.89`` (``s_t = e^{2t} - 1`` overflows) or below ``t = 1.1e-308`` (``D_t``
            subnormal).
        """
        tt = check_time(t)
        tiny = np.finfo(np.float64).tiny
        with np.errstate(all="ignore"):
            try:
                values = [np.asarray(f(tt), dtype=np.float64) for f in (self._a, self._D, self._s)]
            except (OverflowError, ZeroDivisionError):  # Python-float parameters (sigma**2)
                values = [np.full(tt.shape, np.nan)]
            ok = np.ones(tt.shape, dtype=bool)
            for v in values:
                ok &= np.isfinite(v) & (v >= tiny)
        return bool(ok) if np.ndim(t) == 0 else ok

    def time_range(self):
        """The interval ``(t_min, t_max)`` of times that are :meth:`representable`, or ``None``.

        Found by bisection on ``log t`` over the positive float64 numbers, which assumes (as for
        every process here) that ``a_t`` decreases and ``D_t``, ``s_t`` increase with ``t``, so
        that the representable times form one interval. Bounds are within a relative ``1e-12``
        on the inside of the interval.
        """
        smallest, largest = np.nextafter(0.0, 1.0), np.finfo(np.float64).max

        def time(log_t):
            with np.errstate(over="ignore"):
                return np.clip(np.exp(log_t), smallest, largest)

        lo, hi = np.log(smallest), np.log(largest)
        grid = time(np.linspace(lo, hi, 2049))
        ok = self.representable(grid)
        if not ok.any():
            return None
        inside = np.flatnonzero(ok)

        def edge(good, bad):
            while abs(bad - good) > 1e-12 * abs(good):
                mid = 0.5 * (good + bad)
                good, bad = (mid, bad) if self.representable(float(time(mid))) else (good, mid)
            return float(time(good))

        i, j = inside[0], inside[-1]
        t_min = float(grid[0]) if i == 0 else edge(np.log(grid[i]), np.log(grid[i - 1]))
        t_max = float(grid[-1]) if j == grid.size - 1 else edge(np.log(grid[j]), np.log(grid[j + 1]))
        return t_min, t_max

    def coefficients(self, t):
        """Return ``(a_t, D_t, s_t)`` for a scalar time, validated."""
        tt = as_scalar(t, "t")
        check_time(tt)
        return float(self.a(tt)), float(self.D(tt)), float(self.s(tt))

    def sample_xt(self, x0, t, rng):
        """Draw ``x_t = a_t x0 + sqrt(D_t) z`` for a batch.

        Parameters
        ----------
        x0 : array, shape (..., N)
            Clean states.
        t : float or array broadcastable to ``x0.shape[:-1]``
            Times (> 0).
        rng : numpy.random.Generator, int or SeedSequence

        Returns
        -------
        x_t : array with the shape of ``x0``.
        """
        x0 = as_float_array(x0, "x0")
        if x0.ndim == 0:
            raise ValueError("x0: expected shape (..., N), got a scalar")
        tt = check_time(t)
        try:
            tt = np.broadcast_to(tt, x0.shape[:-1])
        except ValueError:
            raise ValueError(
                f"t: shape {np.shape(t)} does not broadcast to the batch shape {x0.shape[:-1]} of x0"
            ) from None
        gen = as_generator(rng)
        a = self._a(tt)[..., None]
        D = self._D(tt)[..., None]
        return a * x0 + np.sqrt(D) * gen.standard_normal(x0.shape)

    @staticmethod
    def _out(val, t):
        return float(val) if np.ndim(t) == 0 else val


@dataclass(frozen=True)
class VE(ForwardProcess):
    """Variance-exploding (Brownian) process: ``a_t = 1``, ``D_t = sigma**2 t``."""

    sigma: float = 1.0
    name = "VE"

    def __post_init__(self):
        object.__setattr__(self, "sigma", as_scalar(self.sigma, "sigma", positive=True))

    def _a(self, t):
        return np.ones_like(t)

    def _D(self, t):
        return self.sigma**2 * t

    def _s(self, t):
        return self.sigma**2 * t


@dataclass(frozen=True)
class VP(ForwardProcess):
    """Variance-preserving Ornstein-Uhlenbeck process ``dx = -x dt + sqrt(2) dW``.

    ``a_t = exp(-t)``, ``D_t = 1 - exp(-2t)`` (computed with ``expm1`` so that small ``t`` keeps
    full relative precision), ``s_t = exp(2t) - 1``.
    """

    name = "VP"

    def _a(self, t):
        return np.exp(-t)

    def _D(self, t):
        return -np.expm1(-2.0 * t)

    def _s(self, t):
        with np.errstate(over="ignore"):
            return np.expm1(2.0 * t)


@dataclass(frozen=True)
class VPLinear(ForwardProcess):
    """VP-SDE of Song et al. (2021) with ``beta(t) = beta_min + (beta_max - beta_min) t``.

    ``a_t = exp(-B(t)/2)``, ``D_t = 1 - a_t**2``, ``B(t) = beta_min t + (beta_max - beta_min) t**2 / 2``.
    It equals ``VP()`` at the Ornstein-Uhlenbeck time ``ou_time(t) = B(t) / 2``.
    """

    beta_min: float = 0.1
    beta_max: float = 20.0
    name = "VPLinear"

    def __post_init__(self):
        bmin = as_scalar(self.beta_min, "beta_min", nonnegative=True)
        bmax = as_scalar(self.beta_max, "beta_max", positive=True)
        if bmax < bmin:
            raise ValueError(f"beta_max: must be >= beta_min ({bmin}), got {bmax}")
        object.__setattr__(self, "beta_min", bmin)
        object.__setattr__(self, "beta_max", bmax)

    def _B(self, t):
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2

    def ou_time(self, t):
        """Equivalent time of ``VP()`` (same ``a_t`` and ``D_t``)."""
        return self._out(0.5 * self._B(check_time(t)), t)

    def _a(self, t):
        return np.exp(-0.5 * self._B(t))

    def _D(self, t):
        return -np.expm1(-self._B(t))

    def _s(self, t):
        with np.errstate(over="ignore"):
            return np.expm1(self._B(t))
