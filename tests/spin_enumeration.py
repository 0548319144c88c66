"""Shared by the tests that compare spin draws with the enumerated law of a small posterior."""
import numpy as np
from scipy import stats

#: Bins of about equal exact probability for the chi-square test of draws.
N_BINS = 24


def state_index(spins):
    """Index of +-1 configurations (..., N) in the enumeration order (bit i set where s_i = +1)."""
    bits = (spins > 0).astype(np.int64)
    return bits @ (1 << np.arange(spins.shape[-1], dtype=np.int64))


def chi2_pvalue(samples, probs):
    """Chi-square p-value of draws (any shape (..., N)) against enumerated state probabilities,
    states grouped into ``N_BINS`` bins of about equal exact probability; also the smallest
    expected count of a bin."""
    idx = state_index(samples.reshape(-1, samples.shape[-1]))
    order = np.argsort(probs)
    cum = np.cumsum(probs[order])
    group = np.empty(probs.size, dtype=np.int64)
    group[order] = np.minimum((cum * N_BINS).astype(np.int64), N_BINS - 1)
    expected = np.bincount(group, weights=probs, minlength=N_BINS) * idx.size
    observed = np.bincount(group[idx], minlength=N_BINS)
    keep = expected > 0
    chi2 = float(np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep]))
    return float(stats.chi2.sf(chi2, keep.sum() - 1)), expected[keep].min()


def thinned(res):
    """Draws of an ``mc.sample`` result thinned by twice the largest tau of its energy and
    projection series (nearly independent draws), and that step."""
    taus = [np.nanmax(res.tau_int[k]) for k in ("energy", "projection")]
    step = int(np.ceil(2 * max(taus)))
    return res.samples[:, ::step], step
