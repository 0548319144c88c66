"""Overlaps between configurations, their distribution P(q), its moments, q_EA and the Binder cumulant.

Convention (``design.md``): the overlap of two configurations is ``q(x, y) = x . y / N``; the
normalised overlap is ``x . y / (|x| |y|)`` (the cosine; equal to ``q`` on the hypercube, where
``|x|^2 = N``). Replica-replica overlaps ``q_ab`` use the ``R (R - 1) / 2`` pairs ``a < b`` of
replicas at the same draw; replica-reference overlaps ``q(x^a, x_ref)`` use every replica, with
``x_ref`` e.g. the clean ``x0`` that generated ``x_t`` (replica-truth overlap).

Exact distributions, where the posterior is a finite list (data sets, enumerated spins)
(``physics.md``): ``P(q) = sum_{mu, nu} w_mu w_nu delta(q - q(y^mu, y^nu))`` and, for a reference,
``P(q) = sum_mu w_mu delta(q - q(y^mu, x_ref))``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from mc._validation import as_float_array, as_positive_int, as_scalar

from .samples import CHUNK_ELEMENTS, as_samples, draw_chunks, exact_of, pair_indices, pairs_within, source_kind
from .states import state_labels
from .stats import Estimate, ShortChainWarning, jackknife, replica_mean, replica_means, tau_int

__all__ = [
    "overlap",
    "replica_overlaps",
    "reference_overlaps",
    "OverlapDistribution",
    "overlap_distribution",
    "average_distribution",
    "overlap_moments",
    "q_ea",
    "binder_cumulant",
]

#: Default mass neglected when an exact P(q) keeps only the most probable points.
MASS_TOL = 1e-15
#: Largest number of points kept for an exact pair distribution (a K x K Gram matrix).
MAX_SUPPORT = 4096


# overlaps of configurations -------------------------------------------------------------------
def overlap(x, y=None, *, normalised=False):
    """Overlap ``q(x, y) = x . y / N`` (or ``x . y / (|x| |y|)`` with ``normalised=True``).

    ``x`` and ``y`` broadcast over leading axes, e.g. samples ``(R, T, N)`` with a reference
    ``(N,)`` give ``(R, T)``. With ``y`` omitted, ``x`` must be samples ``(R, T, N)`` and the
    result is :func:`replica_overlaps` (shape ``(T, R (R - 1) / 2)``).

    >>> overlap(np.array([1.0, -1.0, 1.0, 1.0]), np.ones(4))
    0.5
    """
    if y is None:
        return replica_overlaps(x, normalised=normalised)
    x = as_float_array(x, "x")
    y = as_float_array(y, "y")
    if x.ndim == 0 or y.ndim == 0 or x.shape[-1] != y.shape[-1]:
        raise ValueError(f"y: shape {y.shape} does not match x {x.shape} in the last axis (N)")
    dots = np.einsum("...i,...i->...", x, y)
    if normalised:
        nx = np.sqrt(np.einsum("...i,...i->...", x, x))
        ny = np.sqrt(np.einsum("...i,...i->...", y, y))
        if np.any(nx == 0) or np.any(ny == 0):
            raise ValueError("x, y: the normalised overlap of a zero vector is undefined")
        out = dots / (nx * ny)
    else:
        out = dots / x.shape[-1]
    return float(out) if np.ndim(out) == 0 else out


def replica_overlaps(samples, *, normalised=False):
    """Overlaps ``q_ab`` of all replica pairs ``a < b`` at each draw: shape ``(T, R (R - 1) / 2)``.

    Pairs are in the order of ``numpy.triu_indices(R, 1)``. Needs ``R >= 2``.
    """
    x = as_samples(samples, min_replicas=2)
    r, t, n = x.shape
    ia, ib = pair_indices(r)
    out = np.empty((t, ia.size))
    for sl in draw_chunks(x, extra=r):
        block = np.swapaxes(x[:, sl], 0, 1)  # (chunk, R, N)
        gram = block @ np.swapaxes(block, 1, 2)  # (chunk, R, R)
        if normalised:
            norms = np.sqrt(np.einsum("trr->tr", gram))
            if np.any(norms == 0):
                raise ValueError("samples: the normalised overlap of a zero configuration is undefined")
            out[sl] = gram[:, ia, ib] / (norms[:, ia] * norms[:, ib])
        else:
            out[sl] = gram[:, ia, ib] / n
    return out


def reference_overlaps(samples, reference, *, normalised=False):
    """Overlaps ``q(x^a, x_ref)`` of every replica with a reference at each draw: shape ``(T, R)``."""
    x = as_samples(samples)
    ref = as_float_array(reference, "reference", shape=(x.shape[2],))
    return np.asarray(overlap(x, ref, normalised=normalised)).T


def _pair_mean_of_products(v):
    """Mean over pairs a < b of ``v_a . v_b`` for ``v`` of shape (R, T, ...): shape (T,).

    Uses ``sum_{a<b} v_a v_b = (|sum_a v_a|^2 - sum_a |v_a|^2) / 2`` (O(R) instead of O(R^2)).
    """
    r = v.shape[0]
    total = v.sum(axis=0)
    sq_total = total * total
    sq_each = (v * v).sum(axis=0)
    if v.ndim > 2:
        sq_total = sq_total.reshape(sq_total.shape[0], -1).sum(axis=1)
        sq_each = sq_each.reshape(sq_each.shape[0], -1).sum(axis=1)
    return (sq_total - sq_each) / (r * (r - 1))


# exact distributions -------------------------------------------------------------------------
def _enumerated(ex):
    try:
        states, probs = ex.enumerate()
    except NotImplementedError:
        raise ValueError(
            f"source: {type(ex).__name__} is not a finite list of states; its P(q) is available from samples only"
        ) from None
    return states, np.asarray(probs, dtype=np.float64)


def _support(probs, mass_tol, max_support):
    """Indices of the most probable states holding all but ``mass_tol`` of the mass."""
    order = np.argsort(probs, kind="stable")[::-1]
    cum = np.cumsum(probs[order])
    keep = int(np.searchsorted(cum, cum[-1] * (1.0 - mass_tol))) + 1
    idx = order[: min(keep, order.size)]
    idx = idx[probs[idx] > 0]
    if idx.size > max_support:
        raise ValueError(
            f"source: the posterior spreads over {idx.size} states (more than max_support = {max_support}); "
            "estimate P(q) from samples, or raise max_support"
        )
    return idx


def _merge_atoms(values, masses):
    q, inverse = np.unique(values, return_inverse=True)
    return q, np.bincount(inverse.ravel(), weights=masses.ravel(), minlength=q.size)


def _fwht(a):
    """Fast Walsh-Hadamard transform (unnormalised) of a vector of length 2^N."""
    a = a.copy()
    h = 1
    n = a.size
    while h < n:
        a = a.reshape(-1, 2, h)
        a = np.stack([a[:, 0] + a[:, 1], a[:, 0] - a[:, 1]], axis=1).reshape(n)
        h *= 2
    return a


def _spin_pair_atoms(states, probs):
    """Exact replica P(q) of a full spin enumeration by XOR convolution (derived).

    With states indexed by bit masks ``k`` (bit ``i`` set where ``sigma_i = +1``), two states
    differ where ``k XOR l`` has bits set, so ``q = 1 - 2 popcount(k XOR l) / N``. The law of
    ``k XOR l`` for independent ``k, l ~ p`` is the XOR convolution of ``p`` with itself, which
    the Walsh-Hadamard transform diagonalises: ``p * p = H((H p)^2) / 2^N``. Cost ``O(N 2^N)``.
    """
    n_dim = states.shape[1]
    bits = (np.asarray(states) > 0).astype(np.int64)
    index = bits @ (np.int64(1) << np.arange(n_dim, dtype=np.int64))
    p = np.zeros(1 << n_dim)
    p[index] = probs
    f = _fwht(p)
    conv = _fwht(f * f) / p.size
    np.maximum(conv, 0.0, out=conv)
    distance = np.bitwise_count(np.arange(p.size, dtype=np.uint64)).astype(np.int64)
    masses = np.bincount(distance, weights=conv, minlength=n_dim + 1)
    q = 1.0 - 2.0 * np.arange(n_dim + 1) / n_dim
    order = np.argsort(q)
    return q[order], masses[order]


def _is_full_spin_enumeration(states):
    states = np.asarray(states)
    return (
        states.dtype == np.int8
        and states.ndim == 2
        and states.shape[0] == 1 << states.shape[1]
        and states.shape[1] <= 30
    )


def _exact_atoms(ex, reference, normalised, mass_tol, max_support):
    """Atoms ``(q, mass)`` of the exact P(q) of a finite-list posterior."""
    states, probs = _enumerated(ex)
    if reference is not None:
        ref = as_float_array(reference, "reference", shape=(states.shape[1],))
        idx = np.flatnonzero(probs > 0)
        values = np.empty(idx.size)
        rows = max(1, CHUNK_ELEMENTS // states.shape[1])
        for start in range(0, idx.size, rows):
            block = np.asarray(states[idx[start : start + rows]], dtype=np.float64)
            values[start : start + rows] = overlap(block, ref, normalised=normalised)
        return _merge_atoms(values, probs[idx])
    if _is_full_spin_enumeration(states):
        return _spin_pair_atoms(states, probs)  # |sigma|^2 = N: normalised and plain q coincide
    idx = _support(probs, mass_tol, max_support)
    pts = np.asarray(states[idx], dtype=np.float64)
    w = probs[idx]
    gram = pts @ pts.T
    if normalised:
        norms = np.sqrt(np.diag(gram))
        if np.any(norms == 0):
            raise ValueError("source: the normalised overlap of a zero configuration is undefined")
        gram = gram / np.outer(norms, norms)
    else:
        gram = gram / pts.shape[1]
    iu = np.triu_indices(idx.size)
    masses = np.outer(w, w)[iu] * np.where(iu[0] == iu[1], 1.0, 2.0)
    return _merge_atoms(gram[iu], masses)


# distributions ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OverlapDistribution:
    """An overlap distribution: exact atoms, or probability masses in bins with errors.

    Attributes
    ----------
    q : array
        Atom positions (``edges is None``) or bin centres.
    prob : array
        Probability mass of each atom or bin (values outside the bins are not counted, so the
        masses of a binned distribution sum to at most one).
    stderr : array
        Standard error of each mass (0 for exact).
    edges : array or None
        Bin edges (``len(q) + 1``), None for atoms.
    n : int
        Configurations used (samples), disorder samples (averages), 0 (exact).
    tau : float
        Largest integrated autocorrelation time over the bins' per-draw series (samples).
    method : str
        ``"exact"``, ``"samples"`` or ``"disorder_mean"``.
    kind : str
        ``"replica"`` (pairs of replicas) or ``"reference"`` (replica with a reference).
    normalised : bool
        Whether ``q`` is the normalised overlap.
    """

    q: np.ndarray
    prob: np.ndarray
    stderr: np.ndarray
    edges: np.ndarray | None = None
    n: int = 0
    tau: float = math.nan
    method: str = "exact"
    kind: str = "replica"
    normalised: bool = False

    @property
    def widths(self):
        if self.edges is None:
            raise ValueError("edges: an atomic distribution has no bin widths")
        return np.diff(self.edges)

    @property
    def density(self):
        """Probability density ``prob / width`` of a binned distribution."""
        return self.prob / self.widths

    def moment(self, k):
        """``sum prob q^k`` (exact for atoms; bin centres for a histogram)."""
        k = as_positive_int(k, "k", minimum=0)
        return float(np.sum(self.prob * self.q**k))

    def binned(self, edges):
        """The atoms' masses summed into bins (exact distributions only)."""
        if self.edges is not None:
            raise ValueError("edges: this distribution is already binned")
        e = _check_edges(edges)
        prob, _ = np.histogram(self.q, bins=e, weights=self.prob)
        return OverlapDistribution(
            q=0.5 * (e[1:] + e[:-1]), prob=prob, stderr=np.zeros(prob.size), edges=e, n=self.n,
            tau=self.tau, method=self.method, kind=self.kind, normalised=self.normalised,
        )


def _check_edges(bins):
    if bins is None or np.ndim(bins) == 0:
        raise ValueError(
            f"bins: expected increasing bin edges (e.g. np.linspace(-1, 1, 41)), got {bins!r}"
        )
    e = as_float_array(bins, "bins", ndim=1)
    if e.size < 2 or np.any(np.diff(e) <= 0):
        raise ValueError("bins: expected at least two strictly increasing edges")
    return e


def overlap_distribution(source, bins=None, *, reference=None, normalised=False, mass_tol=MASS_TOL,
                         max_support=MAX_SUPPORT, warn=True):
    """Overlap distribution P(q) of one posterior (one disorder sample), exact or from samples.

    Parameters
    ----------
    source : mc.Posterior or samples (R, T, N)
        Exact posterior whose states form a finite list (data sets, enumerated spins), or samples.
    bins : array of edges, optional
        Required for samples; for an exact source, None returns the atoms.
    reference : array (N,), optional
        Distribution of ``q(x, reference)`` (e.g. the clean ``x0``: replica-truth) instead of the
        replica-replica ``q_ab``.
    normalised : bool
        Use ``x . y / (|x| |y|)`` instead of ``x . y / N``.
    mass_tol, max_support :
        Exact pair distributions keep the most probable states holding all but ``mass_tol`` of
        the mass, at most ``max_support`` of them (a full spin enumeration is done exactly by a
        Walsh-Hadamard transform instead).

    From samples: at each draw, the fraction of the pair (or replica) overlaps that fall in each
    bin; each bin's mass is the mean of that per-draw series, with the larger of its ``tau``-based
    error and the jackknife over replicas (:func:`replica.stats.replica_means`). A bin
    that no value reached reports as its error the mass one value would have carried,
    ``1 / (values per draw x draws)``, instead of a misleading 0.
    """
    kind = "reference" if reference is not None else "replica"
    if source_kind(source) == "exact":
        ex = exact_of(source)
        q, mass = _exact_atoms(ex, reference, normalised, as_scalar(mass_tol, "mass_tol", nonnegative=True),
                               as_positive_int(max_support, "max_support"))
        out = OverlapDistribution(q=q, prob=mass, stderr=np.zeros(q.size), kind=kind, normalised=normalised)
        return out if bins is None else out.binned(bins)
    if source_kind(source) != "samples":
        raise ValueError("source: P(q) needs an exact posterior or samples (replicas, draws, N)")
    edges = _check_edges(bins)
    x = as_samples(source, min_replicas=1 if reference is not None else 2, min_draws=2)
    values = reference_overlaps(x, reference, normalised=normalised) if reference is not None \
        else replica_overlaps(x, normalised=normalised)
    n_bins = edges.size - 1
    which = np.searchsorted(edges, values, side="right") - 1
    which[values == edges[-1]] = n_bins - 1  # the last bin is closed, as in numpy.histogram
    t = values.shape[0]

    def fractions(keep):
        cols = _columns_within(x.shape[0], keep, reference is not None)
        w = which[:, cols]
        inside = (w >= 0) & (w < n_bins)
        frac = np.zeros((t, n_bins))
        rows = np.broadcast_to(np.arange(t)[:, None], w.shape)
        np.add.at(frac, (rows[inside], w[inside]), 1.0)
        return frac / w.shape[1]

    prob, err, taus = replica_means(fractions, x.shape[0], min_replicas=1 if reference is not None else 2,
                                    warn=False)
    err = np.array(err, dtype=np.float64)
    empty = prob == 0
    err[empty] = 1.0 / values.size
    tau = float(taus.max())
    if warn and t < 50.0 * tau:
        warnings.warn(
            f"{t} draws are fewer than 50 tau (tau = {tau:.3g}): the P(q) error bars are unreliable",
            ShortChainWarning, stacklevel=2,
        )
    return OverlapDistribution(
        q=0.5 * (edges[1:] + edges[:-1]), prob=prob, stderr=err, edges=edges, n=x.shape[0] * t, tau=tau,
        method="samples", kind=kind, normalised=normalised,
    )


def average_distribution(distributions):
    """Disorder average of binned distributions sharing their edges: mean mass and ``sd / sqrt(n)``."""
    dists = list(distributions)
    if not dists:
        raise ValueError("distributions: empty")
    first = dists[0]
    for i, d in enumerate(dists):
        if not isinstance(d, OverlapDistribution):
            raise ValueError(f"distributions: element {i} is not an OverlapDistribution")
        if d.edges is None:
            raise ValueError(f"distributions: element {i} is atomic; bin it first (.binned(edges))")
        if d.edges.shape != first.edges.shape or not np.array_equal(d.edges, first.edges):
            raise ValueError(f"distributions: element {i} has different bin edges")
        if d.kind != first.kind or d.normalised != first.normalised:
            raise ValueError(f"distributions: element {i} is of a different kind of overlap")
    probs = np.stack([d.prob for d in dists])
    n = probs.shape[0]
    err = probs.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.full(probs.shape[1], math.nan)
    return OverlapDistribution(
        q=first.q, prob=probs.mean(axis=0), stderr=err, edges=first.edges, n=n, tau=math.nan,
        method="disorder_mean", kind=first.kind, normalised=first.normalised,
    )


# moments --------------------------------------------------------------------------------------
def _check_orders(orders):
    out = tuple(as_positive_int(k, "orders") for k in np.atleast_1d(orders))
    if not out:
        raise ValueError("orders: empty")
    return out


def _exact_continuous_moments(ex, orders, reference):
    """Orders 1 and 2 of ``q_ab`` or ``q(x, ref)`` from the mean and covariance (derived).

    With ``S = Cov + m m^T`` (second moment) and independent replicas:
    ``E[q_ab] = |m|^2 / N``, ``E[q_ab^2] = tr(S^2) / N^2``; ``E[q(x, r)] = m . r / N``,
    ``E[q(x, r)^2] = r^T S r / N^2``.
    """
    m = ex.mean()
    n = m.size
    out = {}
    for k in orders:
        if k == 1:
            out[k] = float(m @ m) / n if reference is None else float(m @ reference) / n
        elif k == 2:
            s = ex.cov() + np.outer(m, m)
            out[k] = float(np.sum(s * s)) / n**2 if reference is None else float(reference @ s @ reference) / n**2
        else:
            raise ValueError(
                f"orders: the exact moment of order {k} needs a posterior with a finite list of states; "
                "use samples"
            )
    return out


def overlap_moments(source, orders=(1, 2, 4), *, reference=None, normalised=False, warn=True):
    """Moments ``<q^k>`` of the replica overlap (or of the overlap with a reference).

    Exact: from the exact P(q) for finite-list posteriors; orders 1 and 2 (plain overlap) for any
    exact posterior from its mean and covariance (``E[q_ab] = |m|^2 / N``). From samples: the
    per-draw mean over pairs (or replicas) of ``q^k``, with the larger of its ``tau``-based error
    and the jackknife over replicas (:func:`replica.stats.replica_mean`).

    Returns ``{k: Estimate}``.
    """
    orders = _check_orders(orders)
    kind = source_kind(source)
    if kind == "exact":
        ex = exact_of(source)
        try:
            ex.enumerate()
            discrete = True
        except NotImplementedError:
            discrete = False
        if discrete:
            try:
                dist = overlap_distribution(ex, reference=reference, normalised=normalised)
                return {k: Estimate(dist.moment(k), 0.0, method="exact") for k in orders}
            except ValueError:
                # weight spread over more than max_support states: orders 1 and 2 of the plain
                # overlap still follow from the mean and the covariance (O(N^2), no pair sum)
                if normalised or max(orders) > 2:
                    raise
        if normalised:
            raise ValueError("normalised: exact moments of the normalised overlap need a finite-list posterior; use samples")
        ref = None if reference is None else as_float_array(reference, "reference", shape=(ex.n_dim,))
        vals = _exact_continuous_moments(ex, orders, ref)
        return {k: Estimate(v, 0.0, method="exact") for k, v in vals.items()}
    if kind != "samples":
        raise ValueError("source: overlap moments need an exact posterior or samples (replicas, draws, N)")
    x = as_samples(source, min_replicas=1 if reference is not None else 2, min_draws=2)
    values = reference_overlaps(x, reference, normalised=normalised) if reference is not None \
        else replica_overlaps(x, normalised=normalised)
    n = x.shape[0] * x.shape[1]
    single = reference is not None
    return {
        k: replica_mean(lambda keep, k=k: np.mean(values[:, _columns_within(x.shape[0], keep, single)] ** k, axis=1),
                        x.shape[0], min_replicas=1 if single else 2, warn=warn, n=n)
        for k in orders
    }


def _columns_within(n_replicas, keep, single):
    """Columns of a per-draw table of replica values (``single``) or pair values (pairs of
    :func:`replica.samples.pair_indices`) that involve only the replicas ``keep``."""
    return keep if single else pairs_within(n_replicas, keep)


def q_ea(source, *, points=None, classes=None, labels=None, blocks=None):
    """Edwards-Anderson overlap: the overlap of two replicas that sit in the same state.

    ``q_EA = E[q_ab | a, b in the same state] = sum_alpha w_alpha^2 q_alpha / sum_alpha w_alpha^2``
    with ``q_alpha`` the overlap of two independent configurations of state ``alpha`` (derived
    from ``P(q) = sum_{alpha, beta} w_alpha w_beta delta(q - q_{alpha beta})``, Mezard, Parisi &
    Virasoro 1987). Compared with ``<q> = E[q_ab]``, a difference signals several states.

    Exact: states are the training points of a data set (``q_mu = |y^mu|^2 / N``) or the
    components of a Gaussian mixture (``q_c = |m_c|^2 / N``, ``m_c`` the posterior mean within
    the component), as the exact posterior's ``pure_states()`` gives them. From samples: states
    named by ``points`` (nearest point), ``classes`` (hard mixture class) or ``labels``; the ratio
    of the per-draw means of ``q_ab 1[same]`` and ``1[same]``, with a jackknife over ``blocks``
    contiguous blocks of draws (default: blocks of about ``5 tau`` draws, between 2 and 64 blocks).
    """
    kind = source_kind(source)
    if kind == "exact":
        ex = exact_of(source)
        try:
            w, self_q = ex.pure_states()  # (weights, self-overlaps q_alpha) of its states
        except NotImplementedError:
            raise ValueError(
                f"source: {type(ex).__name__} has no decomposition into states; use samples with labels"
            ) from None
        w2 = w * w
        return Estimate(float(w2 @ self_q / w2.sum()), 0.0, method="exact")
    if kind != "samples":
        raise ValueError("source: q_EA needs an exact posterior or samples (replicas, draws, N)")
    x = as_samples(source, min_replicas=2, min_draws=4)
    lab = state_labels(x, points=points, classes=classes, labels=labels)
    ia, ib = pair_indices(x.shape[0])
    same = (lab[ia] == lab[ib]).T.astype(np.float64)  # (T, P)
    q = replica_overlaps(x)
    num = np.mean(q * same, axis=1)
    den = np.mean(same, axis=1)
    if den.sum() == 0:
        raise ValueError("samples: no two replicas ever share a state; q_EA cannot be estimated")
    if blocks is None:
        tau = max(tau_int(num, warn=False), tau_int(den, warn=False))
        blocks = int(np.clip(num.size // max(1, math.ceil(5.0 * tau)), 2, 64))
    est = jackknife((num, den), lambda a, b: a.mean() / b.mean(), blocks=blocks)
    tau = max(tau_int(num, warn=False), tau_int(den, warn=False))
    return Estimate(est.value, est.stderr, n=x.shape[0] * x.shape[1], tau=tau, method="samples")


def binder_cumulant(q2, q4, *, bias_corrected=True):
    """Binder cumulant ``g = (1/2) (3 - [<q^4>] / [<q^2>]^2)`` with a jackknife over disorder.

    ``q2`` and ``q4`` hold the thermal moments ``<q^2>`` and ``<q^4>`` of each disorder sample
    (brackets: disorder average inside the ratio, as in ``physics.md``; Binder 1981). ``g = 1``
    when ``|q|`` does not fluctuate (ordered), ``g = 0`` for a Gaussian ``q`` centred at zero;
    curves for several N cross at a continuous transition. Works for any order parameter (e.g.
    the class magnetisation). With one disorder sample the error is ``nan``.

    Value returned: with ``bias_corrected=True`` (default) the jackknife bias-corrected estimate
    ``n g - (n - 1) mean_i g_(i)`` over the ``n`` disorder samples (``g_(i)`` the formula above
    without sample ``i``), which removes the ``O(1/n)`` bias of the ratio of disorder means; with
    ``bias_corrected=False`` the plain formula above evaluated on all samples. The error is the
    jackknife standard error in both cases.
    """
    a = as_float_array(q2, "q2")
    b = as_float_array(q4, "q4")
    a, b = np.atleast_1d(a), np.atleast_1d(b)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"q4: expected the shape of q2 {a.shape}, got {b.shape}")
    if a.mean() <= 0:
        raise ValueError("q2: the disorder mean of <q^2> must be > 0")

    def g(u, v):
        return 0.5 * (3.0 - v.mean() / u.mean() ** 2)

    if a.size == 1:
        return Estimate(g(a, b), math.nan, n=1, method="single")
    est = jackknife((a, b), g)
    if bias_corrected:
        return est
    return Estimate(g(a, b), est.stderr, n=est.n, tau=est.tau, method=est.method)
