"""Convergence diagnostics of Markov chains: autocorrelation, integrated time, R-hat.

Conventions (stated once, used by the sampler and by ``replica.stats``):

* Normalised autocorrelation ``rho(k) = C(k) / C(0)`` with ``C(k)`` the biased estimator
  ``(1/n) sum_{i < n-k} (x_i - xbar)(x_{i+k} - xbar)``, computed by FFT; with several chains the
  autocovariances are averaged over chains before normalising (each chain centred on its own
  mean).
* Integrated autocorrelation time ``tau = 1 + 2 sum_{k=1}^{M} rho(k)`` with Sokal's automatic
  window: the smallest ``M`` with ``M >= c tau(M)``, ``c = 5`` (Sokal 1997, "Monte Carlo methods
  in statistical mechanics", section 3; Madras & Sokal 1988). The variance of a chain mean is
  ``tau Var(x) / n``; ``tau = 1`` for independent draws.
* A chain shorter than ``50 tau`` gives an unreliable ``tau`` (Sokal 1997): a
  :class:`ShortChainWarning` says so.
* R-hat: rank-normalised split R-hat (Vehtari, Gelman, Simpson, Carpenter & Buerkner 2021,
  Bayesian Analysis 16, 667), the larger of the bulk and the folded value. Values above about
  1.01 mean the chains have not mixed (e.g. replicas stuck in different states).
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

__all__ = [
    "RHAT_MAX",
    "mode_changes",
    "MixingWarning",
    "ShortChainWarning",
    "as_chains",
    "autocorrelation",
    "tau_int",
    "tau_int_per_chain",
    "tau_int_rows",
    "effective_sample_size",
    "rhat",
]

#: Sokal's window constant.
SOKAL_C = 5.0
#: A chain should be at least this many tau long for tau to be trusted.
MIN_TAUS = 50.0


#: R-hat above which replicas are declared not mixed (Vehtari et al. 2021 recommend 1.01).
RHAT_MAX = 1.01


class ShortChainWarning(UserWarning):
    """The chain is shorter than ``MIN_TAUS`` integrated autocorrelation times."""


class MixingWarning(UserWarning):
    """Replicas have not mixed (an R-hat above ``RHAT_MAX``, or a tempering ladder whose far end
    cannot mix): estimates from them may be wrong by far more than their error bars."""


def as_chains(x, name="x"):
    """``x`` as a float array of shape (n_chains, n_steps), checked: at least 2 steps, finite."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected shape (n_steps,) or (n_chains, n_steps), got {np.shape(x)}")
    if arr.shape[1] < 2:
        raise ValueError(f"{name}: need at least 2 steps per chain, got {arr.shape[1]}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains non-finite values")
    return arr


def _autocovariance(chains):
    """Biased autocovariance of each chain (rows), shape (n_chains, n_steps), by FFT."""
    n = chains.shape[1]
    centred = chains - chains.mean(axis=1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(centred, n=size, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=size, axis=1)[:, :n]
    return acov / n


def autocorrelation(x):
    """Normalised autocorrelation ``rho(k)``, ``k = 0..n-1``, averaged over chains.

    ``x`` has shape ``(n_steps,)`` or ``(n_chains, n_steps)``. A constant series has no defined
    autocorrelation: ``rho = [1, 0, 0, ...]`` is returned (it behaves as independent draws).
    """
    chains = as_chains(x)
    acov = _autocovariance(chains).mean(axis=0)
    out = np.zeros_like(acov)
    out[0] = 1.0
    if acov[0] > 0:
        out = acov / acov[0]
    return out


def _sokal(rho, c):
    taus = 2.0 * np.cumsum(rho) - 1.0  # tau(M) = 1 + 2 sum_{k=1}^{M} rho(k)
    m = np.arange(taus.size)
    ok = m >= c * taus
    if ok.any():
        return float(taus[int(np.argmax(ok))])
    return float(taus[-1])


def tau_int(x, c=SOKAL_C, warn=True):
    """Integrated autocorrelation time ``tau = 1 + 2 sum_k rho(k)`` (Sokal window, ``c = 5``).

    Parameters
    ----------
    x : array, shape (n_steps,) or (n_chains, n_steps)
        One or several chains of a scalar observable; with several chains the autocorrelation
        is averaged over them (one tau for all).
    c : float
        Window constant: the sum stops at the first ``M >= c tau(M)``.
    warn : bool
        Emit :class:`ShortChainWarning` when ``n_steps < 50 tau``.

    >>> rng = np.random.default_rng(0)
    >>> round(tau_int(rng.standard_normal(10000)), 1)
    1.0
    """
    chains = as_chains(x)
    tau = max(_sokal(autocorrelation(chains), float(c)), 1e-12)
    n = chains.shape[1]
    if warn and n < MIN_TAUS * tau:
        warnings.warn(
            f"chain of {n} steps is shorter than {MIN_TAUS:g} tau (tau = {tau:.3g}): the "
            "autocorrelation time and the error bars built on it are unreliable; run longer",
            ShortChainWarning,
            stacklevel=2,
        )
    return tau


def tau_int_per_chain(x, c=SOKAL_C, warn=True):
    """``tau_int`` of each chain separately, shape ``(n_chains,)``."""
    chains = as_chains(x)
    out = np.empty(chains.shape[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ShortChainWarning)
        for i, row in enumerate(chains):
            out[i] = tau_int(row, c=c, warn=warn)
    if caught:
        warnings.warn(
            f"{len(caught)} of {chains.shape[0]} chains are shorter than {MIN_TAUS:g} tau "
            f"(largest tau {out.max():.3g} for {chains.shape[1]} steps)",
            ShortChainWarning,
            stacklevel=2,
        )
    return out


def tau_int_rows(x, c=SOKAL_C):
    """``tau_int`` of every row of ``x`` (shape ``(n_rows, n_steps)``), each row a chain of its own:
    the same numbers as ``[tau_int(row, warn=False) for row in x]``, with one FFT for all rows."""
    chains = as_chains(x)
    acov = _autocovariance(chains)
    var = acov[:, :1]
    rho = np.zeros_like(acov)
    rho[:, 0] = 1.0
    live = var[:, 0] > 0
    rho[live] = acov[live] / var[live]
    taus = 2.0 * np.cumsum(rho, axis=1) - 1.0
    ok = np.arange(taus.shape[1])[None, :] >= float(c) * taus
    first = np.where(ok.any(axis=1), np.argmax(ok, axis=1), taus.shape[1] - 1)
    return np.maximum(taus[np.arange(taus.shape[0]), first], 1e-12)


def effective_sample_size(x, c=SOKAL_C):
    """``n_chains * n_steps / tau``: the number of independent draws the chains are worth."""
    chains = as_chains(x)
    return chains.size / tau_int(chains, c=c, warn=False)


def mode_changes(x):
    """How often each chain crossed between the two sides of a gap, and whether the chains sit on
    both sides.

    ``x`` has shape ``(n_chains, n_steps)`` (e.g. a projection that tells two modes apart,
    followed along each configuration of a tempering ladder). The sides are ``x > mid`` and
    ``x <= mid`` with ``mid = (max + min) / 2`` over all chains and steps. Returns
    ``(changes, both_sides)``: the number of side changes of each chain, shape ``(n_chains,)``,
    and whether some chains spend most of their steps on one side and others on the other.
    Chains on both sides with no change at all are frozen in their modes (``both_sides`` and
    ``changes.sum() == 0``); within one mode the middle of the range is crossed all the time.
    """
    chains = as_chains(x)
    mid = 0.5 * (chains.max() + chains.min())
    side = chains > mid
    changes = np.count_nonzero(side[:, 1:] != side[:, :-1], axis=1)
    majority = side.mean(axis=1) > 0.5
    return changes, bool(majority.any() and not majority.all())


def _split(chains):
    half = chains.shape[1] // 2
    if half < 2:
        raise ValueError(f"x: R-hat needs at least 4 steps per chain, got {chains.shape[1]}")
    return np.concatenate([chains[:, :half], chains[:, chains.shape[1] - half :]], axis=0)


def _rhat_basic(chains):
    n = chains.shape[1]
    means = chains.mean(axis=1)
    w = chains.var(axis=1, ddof=1).mean()
    b = n * means.var(ddof=1)
    if w <= 0:
        return 1.0 if b <= 0 else np.inf
    return float(np.sqrt(((n - 1) / n * w + b / n) / w))


def _rank_normalise(chains):
    ranks = rankdata(chains, method="average").reshape(chains.shape)
    return ndtri((ranks - 3.0 / 8.0) / (chains.size + 1.0 / 4.0))


def rhat(x):
    """Rank-normalised split R-hat of several chains (Vehtari et al. 2021).

    ``x`` has shape ``(n_chains, n_steps)``; each chain is split in halves. Returns
    ``max(bulk R-hat, folded R-hat)``; 1 for perfectly mixed chains. A single chain is split in
    two, so it still detects drift.
    """
    chains = as_chains(x)
    split = _split(chains)
    if np.ptp(split) == 0:
        return 1.0
    bulk = _rhat_basic(_rank_normalise(split))
    folded_raw = np.abs(split - np.median(split))
    folded = _rhat_basic(_rank_normalise(folded_raw)) if np.ptp(folded_raw) > 0 else 1.0
    return float(max(bulk, folded))
