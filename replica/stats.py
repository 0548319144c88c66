"""Error bars: correlated means, blocking, jackknife and bootstrap, and the ``Estimate`` they return.

Conventions
-----------
* Integrated autocorrelation time ``tau = 1 + 2 sum_{k>=1} rho(k)`` with Sokal's automatic window
  (``c = 5``): :func:`tau_int` is ``mc.diagnostics.tau_int`` (Sokal 1997), re-exported so that the
  sampler and the estimators share one definition. The variance of the mean of ``n`` correlated
  values is ``tau Var(x) / n``; ``tau = 1`` for independent draws.
* Within one chain (or one set of replicas) errors come from ``tau`` (:func:`correlated_mean`) or
  from blocking (:func:`blocking`); across disorder samples, which are independent, the mean of a
  linear quantity has error ``sd / sqrt(n)`` (:func:`disorder_average`) and non-linear functions
  (ratios, Binder cumulants) use the jackknife (:func:`jackknife`).
* Estimates from ``R`` replicas of one posterior (:func:`replica_mean`) see every replica as a
  chain: the error is the larger of the ``tau`` error of the replica-averaged series and the
  jackknife over replicas, so replicas that stay in different states widen the error bar
  instead of hiding behind a short within-state ``tau``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from mc._validation import as_generator, as_positive_int, as_scalar
from mc.diagnostics import SOKAL_C, ShortChainWarning, as_chains, rhat, tau_int, tau_int_rows

__all__ = [
    "Estimate",
    "ShortChainWarning",
    "tau_int",
    "rhat",
    "correlated_mean",
    "replica_mean",
    "replica_means",
    "blocking",
    "BlockingLevels",
    "blocking_levels",
    "jackknife",
    "bootstrap",
    "disorder_average",
]


@dataclass(frozen=True)
class Estimate:
    """A mean with its standard error.

    Attributes
    ----------
    value : float
        The estimate (for the jackknife: bias-corrected).
    stderr : float
        Its standard error; ``0`` for a value computed exactly, ``nan`` where no error can be
        formed (a single disorder sample).
    n : int
        How many samples it is built from: configurations (replicas x draws) for estimates from
        samples, disorder samples for averages over disorder, units for the jackknife and the
        bootstrap, ``0`` for exact values.
    tau : float
        Integrated autocorrelation time of the series behind a sample estimate (Sokal window,
        ``c = 5``, in units of draws); ``nan`` when not applicable.
    method : str
        How it was obtained: ``"exact"``, ``"samples"``, ``"blocking"``, ``"jackknife"``,
        ``"bootstrap"``, ``"disorder_mean"``, ...

    ``str(Estimate(0.43214, 0.00123))`` is ``"0.4321 ± 0.0012"``: the error with two significant
    digits and the value rounded to the same decimal place.
    """

    value: float
    stderr: float
    n: int = 0
    tau: float = math.nan
    method: str = ""

    def __post_init__(self):
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "stderr", float(self.stderr))
        object.__setattr__(self, "n", int(self.n))
        object.__setattr__(self, "tau", float(self.tau))

    def __float__(self):
        return self.value

    def __str__(self):
        return format_value_error(self.value, self.stderr)


def format_value_error(value, err):
    """``"value ± err"`` with ``err`` to two significant digits (scientific outside [1e-3, 1e6))."""
    value, err = float(value), float(err)
    if not math.isfinite(value) or not math.isfinite(err) or err <= 0:
        return f"{value:.6g} ± {err:.2g}" if err != 0 else f"{value:.10g} ± 0"
    scale = max(abs(value), err)
    exponent = int(math.floor(math.log10(scale)))
    if -3 <= exponent < 6:
        decimals = max(0, 1 - int(math.floor(math.log10(err))))
        return f"{value:.{decimals}f} ± {err:.{decimals}f}"
    v, e = value / 10.0**exponent, err / 10.0**exponent
    decimals = max(0, 1 - int(math.floor(math.log10(e))))
    return f"({v:.{decimals}f} ± {e:.{decimals}f})e{exponent:+03d}"


def _as_series(x, name="x"):
    """The checks of ``mc.diagnostics`` (shape, length >= 2, finite), keeping a 1-D series 1-D."""
    chains = as_chains(x, name)
    return chains[0] if np.ndim(x) == 1 else chains


def correlated_mean(x, *, c=SOKAL_C, warn=True, n=None, method="samples"):
    """Mean of a correlated series with the error ``sqrt(tau Var(x) / size)``.

    Parameters
    ----------
    x : array, shape (n_steps,) or (n_chains, n_steps)
        A time series (one row per chain). With several chains ``tau`` comes from the
        autocorrelation averaged over chains (:func:`tau_int`) and ``Var(x)`` is the variance of
        all values about the grand mean (``ddof = 1``), so a spread between chain means enlarges
        the error but does not replace a convergence check (use :func:`rhat`).
    c : float
        Sokal window constant.
    warn : bool
        Emit :class:`ShortChainWarning` when the chain is shorter than ``50 tau``.
    n : int, optional
        Sample count recorded in the result (default: ``x.size``).

    Returns
    -------
    Estimate
        ``value = mean(x)``, ``stderr = sqrt(tau Var(x) / x.size)``, ``tau``.
    """
    arr = _as_series(x)
    tau = tau_int(arr, c=c, warn=False)
    if warn and arr.shape[-1] < 50.0 * tau:
        warnings.warn(
            f"series of {arr.shape[-1]} steps is shorter than 50 tau (tau = {tau:.3g}): its error bar is unreliable",
            ShortChainWarning,
            stacklevel=2,
        )
    var = float(arr.var(ddof=1)) if arr.size > 1 else 0.0
    err = math.sqrt(max(tau, 0.0) * var / arr.size)
    return Estimate(float(arr.mean()), err, n=arr.size if n is None else n, tau=tau, method=method)


def replica_means(series_of, n_replicas, *, min_replicas=1, warn=True, c=SOKAL_C):
    """Means of per-draw statistics of ``R`` independent replicas, with errors that see the replicas.

    Parameters
    ----------
    series_of : callable
        ``series_of(keep)`` returns the per-draw values, shape ``(T,)`` or ``(T, B)``, of the
        statistics computed from the replicas ``keep`` (an int array): e.g. the mean over those
        replicas of ``x . mu``, or over their pairs of ``q_ab^2``.
    n_replicas : int
        ``R``.
    min_replicas : int
        Fewest replicas the statistic needs (1 for one-replica quantities, 2 for pairs).
    warn : bool
        Emit :class:`ShortChainWarning` when the series is shorter than ``50 tau``.

    Returns
    -------
    value, stderr, tau : ndarrays of shape ``(B,)`` (or scalars' shape ``()``)

    Notes
    -----
    ``value`` is the mean of ``s = series_of(all)`` over draws. Two errors are formed:

    * ``sigma_tau = sqrt(tau Var(s) / T)`` with ``tau`` the integrated autocorrelation time of
      ``s`` (Sokal window, ``c = 5``): consistent when every replica visits every state during
      the run, blind to replicas that stay in different states (``tau`` is then the short
      within-state time);
    * ``sigma_JK = sqrt((R - 1) / R sum_a (theta_(a) - theta_(.))^2)``, the jackknife over replicas
      (``theta_(a)`` the mean computed without replica ``a``; Quenouille 1956, Efron & Stein
      1981): the replicas are independent chains, so this is consistent whatever the mixing, but
      it has only ``R - 1`` degrees of freedom. It needs ``R > min_replicas``.

    The reported error is ``max(sigma_tau, sigma_JK)``: never smaller than either, i.e.
    conservative where the chains mix (by the jackknife's noise) and honest where they do not
    (the between-replica spread, which plays the role of the between-chain variance of R-hat and
    of the multi-chain effective sample size of Vehtari et al. 2021). Replicas that all sit in
    one state although the posterior has others are not visible to any error bar: R-hat from
    over-dispersed starts (``mc.sample``) is the check for that.
    """
    r = as_positive_int(n_replicas, "n_replicas")
    everyone = np.arange(r)
    full = np.asarray(series_of(everyone), dtype=np.float64)
    vector = full.ndim == 2
    cols = full if vector else full[:, None]
    t_steps = cols.shape[0]
    value = cols.mean(axis=0)
    if t_steps >= 2:
        taus = tau_int_rows(cols.T, c=c)
        se_tau = np.sqrt(taus * cols.var(axis=0, ddof=1) / t_steps)
    else:
        taus, se_tau = np.ones(cols.shape[1]), np.zeros(cols.shape[1])
    if warn and t_steps < 50.0 * float(np.max(taus)):
        warnings.warn(
            f"series of {t_steps} steps is shorter than 50 tau (tau = {float(np.max(taus)):.3g}): "
            "its error bar is unreliable",
            ShortChainWarning,
            stacklevel=3,
        )
    se = se_tau
    if r > min_replicas:
        thetas = np.empty((r, cols.shape[1]))
        for a in range(r):
            loo = np.asarray(series_of(np.delete(everyone, a)), dtype=np.float64)
            thetas[a] = (loo if vector else loo[:, None]).mean(axis=0)
        se_jk = np.sqrt((r - 1) / r * np.sum((thetas - thetas.mean(axis=0)) ** 2, axis=0))
        se = np.maximum(se_tau, se_jk)
    if not vector:
        return value[0], se[0], taus[0]
    return value, se, taus


def replica_mean(series_of, n_replicas, *, min_replicas=1, warn=True, n=None, method="samples", c=SOKAL_C):
    """:func:`replica_means` of one statistic as an :class:`Estimate` (``n`` the sample count to
    record, e.g. replicas x draws)."""
    value, err, tau = replica_means(series_of, n_replicas, min_replicas=min_replicas, warn=warn, c=c)
    return Estimate(float(value), float(err), n=0 if n is None else n, tau=float(tau), method=method)


@dataclass(frozen=True)
class BlockingLevels:
    """The blocking transformations of one series (Flyvbjerg & Petersen 1989).

    Level ``k`` averages ``2^k`` consecutive values. ``n_blocks[k]`` values remain;
    ``stderr[k] = sqrt(var_k / (n_blocks[k] - 1))`` (``var_k`` with ``ddof = 0``) is the naive
    error of the mean at that level, and ``stderr_err[k] = stderr[k] / sqrt(2 (n_blocks[k] - 1))``
    its own uncertainty. ``M[k]`` is Jonsson's statistic and ``chosen`` the level it selects.
    """

    block_size: np.ndarray
    n_blocks: np.ndarray
    stderr: np.ndarray
    stderr_err: np.ndarray
    M: np.ndarray
    chosen: int
    converged: bool


def blocking_levels(x, alpha=0.01):
    """All blocking levels of a series and the level chosen by Jonsson's test.

    Blocking (Flyvbjerg & Petersen, J. Chem. Phys. 91, 461 (1989)): replace the series by the
    means of consecutive pairs (dropping the last value of an odd-length series) until two values
    remain; the naive error of the mean grows with the level and levels off once blocks are
    longer than the correlation time.

    Automatic choice (Jonsson, Phys. Rev. E 98, 043304 (2018)): with ``n_k`` values at level k,
    ``gamma_k`` their lag-one autocovariance and ``s_k`` their variance (both about the overall
    mean, normalised by ``n_k``), ``M_j = sum_{k >= j} n_k (gamma_k / s_k)^2`` is approximately
    chi-square with ``d - j`` degrees of freedom (``d`` levels) when the blocks at level ``j`` are
    uncorrelated. The chosen level is the smallest ``j`` with ``M_j`` below the ``1 - alpha``
    quantile of that law. (Jonsson's published script indexes the quantiles by ``j + 1`` rather
    than ``d - j``; the degrees of freedom here are those of the paper's theorem.)
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"x: expected a 1-D series, got shape {arr.shape}")
    if arr.size < 4:
        raise ValueError(f"x: blocking needs at least 4 values, got {arr.size}")
    if not np.isfinite(arr).all():
        raise ValueError("x: contains non-finite values")
    alpha = as_scalar(alpha, "alpha", positive=True)
    if alpha >= 1:
        raise ValueError(f"alpha: must lie in (0, 1), got {alpha}")
    mu = float(arr.mean())
    sizes, counts, errs, ratios = [], [], [], []
    cur = arr
    size = 1
    while cur.size >= 2:
        n_k = cur.size
        d = cur - mu
        s = float(d @ d) / n_k
        gamma = float(d[:-1] @ d[1:]) / n_k
        sizes.append(size)
        counts.append(n_k)
        errs.append(math.sqrt(s / (n_k - 1)))
        ratios.append(n_k * (gamma / s) ** 2 if s > 0 else 0.0)
        if n_k % 2:
            cur = cur[:-1]
        cur = 0.5 * (cur[0::2] + cur[1::2])
        size *= 2
    counts = np.array(counts)
    errs = np.array(errs)
    n_levels = counts.size
    M = np.cumsum(np.array(ratios)[::-1])[::-1]
    quantiles = chi2.ppf(1.0 - alpha, n_levels - np.arange(n_levels))
    below = np.flatnonzero(M < quantiles)
    converged = below.size > 0 and below[0] < n_levels - 1
    chosen = int(below[0]) if below.size else n_levels - 1
    return BlockingLevels(
        block_size=np.array(sizes),
        n_blocks=counts,
        stderr=errs,
        stderr_err=errs / np.sqrt(2.0 * (counts - 1)),
        M=M,
        chosen=chosen,
        converged=bool(converged),
    )


def blocking(x, alpha=0.01, *, warn=True):
    """Standard error of the mean of a correlated series by automated blocking.

    Flyvbjerg & Petersen (1989) blocking with the level chosen by Jonsson's (2018) hypothesis
    test (details in :func:`blocking_levels`). ``x`` has shape ``(n_steps,)`` or
    ``(n_chains, n_steps)``; independent chains of equal length are first averaged step by step
    (the mean of that series is the grand mean and its error is the error of the grand mean).

    Returns an :class:`Estimate` with ``method = "blocking"`` and ``tau`` the implied
    integrated time ``n stderr^2 / Var(x)`` of the (chain-averaged) series.

    Emits :class:`ShortChainWarning` when no level passes the test (the largest level is then
    returned), or when the series is shorter than ``50 tau`` for the implied ``tau`` (the rule
    :func:`tau_int` applies): with few blocks the test has little power and can stop on a level
    whose blocks are still correlated.
    """
    arr = _as_series(x)
    series = arr.mean(axis=0) if arr.ndim == 2 else arr
    levels = blocking_levels(series, alpha)
    err = float(levels.stderr[levels.chosen])
    var = float(series.var(ddof=1))
    tau = series.size * err**2 / var if var > 0 else 1.0
    if warn and (not levels.converged or series.size < 50.0 * tau):
        warnings.warn(
            f"blocking did not reach a plateau in {series.size} steps (implied tau = {tau:.3g}): "
            "the error bar is unreliable; run longer",
            ShortChainWarning,
            stacklevel=2,
        )
    return Estimate(float(series.mean()), err, n=arr.size, tau=tau, method="blocking")


def _units(samples):
    """Split jackknife / bootstrap input into a tuple of arrays sharing their first axis."""
    arrays = samples if isinstance(samples, tuple) else (samples,)
    out = []
    for i, a in enumerate(arrays):
        arr = np.asarray(a, dtype=np.float64)
        if arr.ndim == 0:
            raise ValueError(f"samples: element {i} is a scalar; expected one value (or row) per unit")
        if not np.isfinite(arr).all():
            raise ValueError(f"samples: element {i} contains non-finite values")
        out.append(arr)
    n = out[0].shape[0]
    if any(a.shape[0] != n for a in out):
        raise ValueError(f"samples: arrays differ in length along axis 0: {[a.shape[0] for a in out]}")
    return tuple(out), n


def _call(func, arrays):
    val = func(*arrays)
    arr = np.asarray(val, dtype=np.float64)
    if arr.ndim != 0:
        raise ValueError(f"func: must return a scalar, got shape {arr.shape}")
    return float(arr)


def jackknife(samples, func, *, blocks=None):
    """Delete-one jackknife of a non-linear function of sample means (Quenouille 1956; Tukey 1958).

    Parameters
    ----------
    samples : array (n, ...) or tuple of arrays sharing their first axis
        One entry (row) per independent unit, e.g. per disorder sample.
    func : callable
        ``func(*arrays)`` returns a scalar; called on the full data and on each leave-one-out
        subset (e.g. ``lambda q2, q4: 0.5 * (3 - q4.mean() / q2.mean() ** 2)``).
    blocks : int, optional
        Group consecutive units into this many contiguous blocks and leave one block out at a
        time (for correlated series: blocks must be much longer than ``tau``).

    Returns
    -------
    Estimate
        ``value = n theta - (n - 1) mean_i theta_(i)`` (bias-corrected to O(1/n^2)) and
        ``stderr = sqrt((n - 1) / n sum_i (theta_(i) - mean theta_(.))^2)``, with ``n`` the number
        of units (or blocks); ``method = "jackknife"``.

    >>> x = np.arange(10.0)
    >>> est = jackknife(x, lambda v: v.var())   # bias-corrected -> the unbiased variance
    >>> bool(np.isclose(est.value, x.var(ddof=1)))
    True
    """
    if not callable(func):
        raise ValueError(f"func: expected a callable, got {func!r}")
    arrays, n = _units(samples)
    if blocks is not None:
        blocks = as_positive_int(blocks, "blocks", minimum=2)
        if blocks > n:
            raise ValueError(f"blocks: {blocks} blocks for only {n} units")
        edges = np.linspace(0, n, blocks + 1).astype(int)
        groups = [np.arange(edges[i], edges[i + 1]) for i in range(blocks)]
    else:
        if n < 2:
            raise ValueError(f"samples: the jackknife needs at least 2 units, got {n}")
        groups = [np.array([i]) for i in range(n)]
    g = len(groups)
    full = _call(func, arrays)
    mask = np.ones(n, dtype=bool)
    thetas = np.empty(g)
    for i, idx in enumerate(groups):
        mask[idx] = False
        thetas[i] = _call(func, tuple(a[mask] for a in arrays))
        mask[idx] = True
    mean_loo = float(thetas.mean())
    value = g * full - (g - 1) * mean_loo
    err = math.sqrt((g - 1) / g * float(np.sum((thetas - mean_loo) ** 2)))
    return Estimate(value, err, n=g, method="jackknife")


def bootstrap(samples, func, *, n_boot=2000, rng):
    """Non-parametric bootstrap (Efron 1979): resample units with replacement.

    ``samples`` and ``func`` as in :func:`jackknife`. Returns ``value = func(samples)`` (not bias
    corrected) and ``stderr`` the standard deviation (``ddof = 1``) of ``func`` over ``n_boot``
    resamples; ``rng`` (Generator, int seed or SeedSequence) is required.
    """
    if not callable(func):
        raise ValueError(f"func: expected a callable, got {func!r}")
    arrays, n = _units(samples)
    if n < 2:
        raise ValueError(f"samples: the bootstrap needs at least 2 units, got {n}")
    n_boot = as_positive_int(n_boot, "n_boot", minimum=2)
    gen = as_generator(rng)
    full = _call(func, arrays)
    reps = np.empty(n_boot)
    for b in range(n_boot):
        idx = gen.integers(0, n, size=n)
        reps[b] = _call(func, tuple(a[idx] for a in arrays))
    return Estimate(full, float(reps.std(ddof=1)), n=n, method="bootstrap")


def disorder_average(values):
    """Mean over independent disorder samples: ``mean ± sd / sqrt(n)`` (``ddof = 1``).

    ``values`` are numbers or :class:`Estimate` (their ``value`` is used: the spread over disorder
    already contains each sample's own statistical noise). With one sample the error is ``nan``.
    Non-linear functions of disorder averages need :func:`jackknife`.
    """
    vals = np.array([float(v) for v in values], dtype=np.float64)
    if vals.ndim != 1 or vals.size == 0:
        raise ValueError("values: expected a non-empty sequence of numbers or Estimates")
    if not np.isfinite(vals).all():
        raise ValueError("values: contains non-finite values")
    err = float(vals.std(ddof=1) / math.sqrt(vals.size)) if vals.size > 1 else math.nan
    return Estimate(float(vals.mean()), err, n=vals.size, method="disorder_mean")
