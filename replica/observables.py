"""Observables of one posterior: weights, classes, responses, from exact weights or from samples.

Every function takes ``source``: an exact posterior (``mc.Posterior``), a weight vector where
that suffices, or samples ``(replicas, draws, N)`` (``replica.samples``), and returns an
:class:`~replica.stats.Estimate` (exact: ``stderr = 0``, ``method = "exact"``; samples: the
larger of the error from the integrated autocorrelation time of the per-draw series and the
jackknife over replicas, :func:`replica.stats.replica_mean`, ``method = "samples"``). The
same name for both lets a test compare them.

Sample estimators of pair quantities average over the ``R (R - 1) / 2`` replica pairs at each
draw; they are unbiased for independent replicas of the same posterior (e.g.
``E[x^a . x^b] = |m|^2``), which is why they need ``R >= 2`` and no subtraction of a sample mean.
"""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

from mc._validation import as_float_array, as_scalar, probability_vector
from mc.models.dataset import first_copies
from mc.posterior import Posterior

from .overlaps import _pair_mean_of_products
from .samples import (
    CHUNK_ELEMENTS,
    as_samples,
    draw_chunks,
    exact_of,
    pair_dots,
    pair_indices,
    pairs_within,
    source_kind,
)
from .states import class_responsibilities, nearest_point, state_labels
from .stats import Estimate, ShortChainWarning, correlated_mean, jackknife, replica_mean

__all__ = [
    "participation_ratio",
    "weight_entropy",
    "cloning_probability",
    "nearest_point_overlap",
    "class_magnetisation",
    "class_magnetisation_variance",
    "susceptibility",
    "spin_glass_susceptibility",
    "score_divergence",
    "memorised_fraction",
    "denoiser_nearest_distance",
    "denoiser_origin_distance",
]


def _exact(value):
    return Estimate(float(value), 0.0, n=0, method="exact")


def _weights(source, name="weights"):
    w = as_float_array(source, name, ndim=1)
    return probability_vector(w, name, w.size)


def _agreement_series(labels):
    """Per-draw fraction of replica pairs with equal labels; labels (R, T) -> (T,)."""
    ia, ib = pair_indices(labels.shape[0])
    return np.mean(labels[ia] == labels[ib], axis=0)


def _agreement(labels, warn, n):
    """Mean fraction of replica pairs with equal labels (R, T), errors over draws and replicas."""
    return replica_mean(lambda keep: _agreement_series(labels[keep]), labels.shape[0], min_replicas=2,
                        warn=warn, n=n)


def _replica_average(values, warn, n=None):
    """Mean of a one-replica quantity ``values`` (R, T), errors over draws and replicas."""
    return replica_mean(lambda keep: values[keep].mean(axis=0), values.shape[0], warn=warn,
                        n=values.size if n is None else n)


def _pair_average(self_terms, pair_terms, warn, n, sign=-1.0):
    """Mean of ``mean_a s_a + sign mean_{a<b} p_ab`` per draw (``self_terms`` (R, T) or None,
    ``pair_terms`` (T, pairs)), errors over draws and replicas."""
    r = int(round(0.5 + math.sqrt(0.25 + 2 * pair_terms.shape[1])))  # pairs = R (R - 1) / 2

    def series(keep):
        out = sign * pair_terms[:, pairs_within(r, keep)].mean(axis=1)
        if self_terms is not None:
            out = out + self_terms[keep].mean(axis=0)
        return out

    return replica_mean(series, r, min_replicas=2, warn=warn, n=n)


def _enumerated_probs(ex, what):
    try:
        _, probs = ex.enumerate()
    except NotImplementedError:
        raise ValueError(
            f"source: {type(ex).__name__} is not a finite list of states, so it has no {what}; "
            "for classes of a mixture use cloning_probability"
        ) from None
    return np.asarray(probs, dtype=np.float64)


def _state_classes(labels, n_states):
    """Class labels, one per state: integers >= 0 of shape ``(n_states,)``."""
    lab = np.asarray(labels)
    if lab.shape != (n_states,) or lab.dtype.kind not in "iu":
        raise ValueError(
            f"labels: expected integers of shape ({n_states},), one per state, got {lab.dtype} {lab.shape}"
        )
    if n_states and lab.min() < 0:
        raise ValueError(f"labels: must be >= 0, got {int(lab.min())}")
    return lab


def _class_probs(source, labels, what):
    """Class weights ``P_c = sum_{alpha: labels[alpha] = c} w_alpha`` of an exact finite-list
    posterior or a weight vector (index c = label)."""
    if source_kind(source) == "exact":
        p = _enumerated_probs(exact_of(source), what)
    else:
        p = _weights(source)
    return np.bincount(_state_classes(labels, p.size), weights=p)


def _sample_classes(x, points, labels):
    """Class of each sample ``(R, T)``: the label of its nearest point (``labels`` one per point),
    or ``labels`` themselves when no points are given (then of shape ``(R, T)``)."""
    if points is None:
        return state_labels(x, labels=labels)
    pts = as_float_array(points, "points", ndim=2)
    return _state_classes(labels, pts.shape[0])[nearest_point(x, pts)]


# weights -------------------------------------------------------------------------------------
def participation_ratio(source, *, points=None, labels=None, warn=True):
    """Participation ratio ``Y = sum_alpha w_alpha^2``: the probability that two replicas sit in the
    same state (``physics.md``; Mezard, Parisi & Virasoro 1987).

    ``source``:

    * an exact posterior whose states form a finite list (data sets: the training points;
      enumerated spins: the ``2^N`` configurations);
    * a weight vector ``w`` (non-negative, summing to one);
    * samples ``(R, T, N)``: the fraction of replica pairs at the same draw that share a state,
      states named by the nearest of ``points`` (exact for exact draws from a data set), given
      ``labels`` ``(R, T)``, or else by identical configurations (spins).

    ``Y -> 1`` when the posterior condenses on one state (collapse onto a training point) and
    ``Y ~ 1 / n`` when it spreads evenly over ``n`` states.
    """
    kind = source_kind(source)
    if kind == "exact":
        p = _enumerated_probs(exact_of(source), "participation ratio")
        return _exact(p @ p)
    if kind == "weights":
        w = _weights(source)
        return _exact(w @ w)
    x = as_samples(source, min_replicas=2, min_draws=2)
    lab = state_labels(x, points=points, labels=labels)
    return _agreement(lab, warn, x.shape[0] * x.shape[1])


def weight_entropy(source, *, log_weights=None, points=None, labels=None, warn=True):
    """Entropy of the posterior weights ``S = -sum_alpha w_alpha log w_alpha`` (nats).

    ``exp(S)`` is the effective number of states; ``S = 0`` when condensed, ``log n`` for ``n``
    equal weights. Exact: from an exact finite-list posterior (its normalised log weights where
    available, so that underflowed weights cost nothing) or a weight vector. From samples:
    ``S = -E[log w_alpha(x)]``, the mean over samples of ``-log_weights[label]`` (states named by
    the nearest of ``points`` or by ``labels``); ``log_weights`` (normalised) is required because
    the plug-in entropy of visit frequencies is biased by about ``(K - 1) / (2 n)`` (Miller 1955).
    """
    kind = source_kind(source)
    if kind in ("exact", "weights"):
        if kind == "exact":
            ex = exact_of(source)
            p = _enumerated_probs(ex, "weight entropy")
            logp = getattr(ex, "log_weights", getattr(ex, "log_probs", None))
        else:
            p = _weights(source)
            logp = None
        if logp is None:
            with np.errstate(divide="ignore"):
                logp = np.log(p)
        logp = np.asarray(logp, dtype=np.float64)
        pos = p > 0
        return _exact(-float(p[pos] @ logp[pos]))
    x = as_samples(source, min_draws=2)
    if log_weights is None:
        raise ValueError("log_weights: required with samples (normalised log weights of the states)")
    logw = as_float_array(log_weights, "log_weights", ndim=1, allow_nonfinite=True)
    if points is None and labels is None:
        raise ValueError("points, labels: give one to name the state of each sample")
    lab = state_labels(x, points=points, labels=labels)
    if lab.max() >= logw.size or lab.min() < 0:
        raise ValueError(f"log_weights: {logw.size} entries, but a label is {int(lab.max())}")
    vals = -logw[lab]
    if not np.isfinite(vals).all():
        raise ValueError("log_weights: a sampled state has log weight -inf (zero weight)")
    return _replica_average(vals, warn)


def cloning_probability(source, *, classes=None, points=None, labels=None, hard=False, warn=True):
    """Cloning probability: the chance that two replicas land in the same class or on the same point.

    ``phi = sum_c P(c | x_t)^2`` (Biroli et al. 2024; ``physics.md``): classes of a Gaussian
    mixture or of a labelled data set (speciation) or points of a data set (collapse, where
    ``phi = Y``). ``phi(t)`` is its disorder average at time ``t``
    (:func:`replica.stats.disorder_average`).

    ``source``: an exact posterior with weights (mixture components or data-set points), a weight
    vector, or samples ``(R, T, N)``.

    * Exact posterior or weights: ``phi = sum_c P_c^2`` with ``P_c`` the weights themselves, or,
      with ``labels`` (one class label per state, e.g. ``Dataset.labels``), the class weights
      ``P_c = sum_{mu: labels[mu] = c} w_mu`` (derived: a class holds its points' weight).
    * Samples with ``classes`` (the prior ``GaussianMixture``): mean over pairs of
      ``r(x^a) . r(x^b)`` with ``r(x) = P(. | x0 = x)`` the Rao-Blackwellised responsibilities
      (unbiased, since ``E[r(x) | x_t] = P(. | x_t)`` and the replicas are independent), or with
      ``hard=True`` the fraction of pairs with equal ``argmax`` labels;
    * samples with ``points`` and ``labels`` of the points (shape ``(n_points,)``): the fraction of
      replica pairs whose nearest points carry the same label (exact draws from a data set sit
      on its points, so this estimates the class ``phi`` without bias);
    * samples with ``points`` or ``labels`` ``(R, T)`` alone: the fraction of pairs that share a
      nearest point / label.
    """
    kind = source_kind(source)
    if kind in ("exact", "weights") and labels is not None:
        p = _class_probs(source, labels, "cloning probability")
        return _exact(p @ p)
    if kind == "exact":
        ex = exact_of(source)
        try:
            w = np.asarray(ex.weights, dtype=np.float64)
        except AttributeError:
            raise ValueError(f"source: {type(ex).__name__} has no class or point weights") from None
        return _exact(w @ w)
    if kind == "weights":
        w = _weights(source)
        return _exact(w @ w)
    x = as_samples(source, min_replicas=2, min_draws=2)
    n = x.shape[0] * x.shape[1]
    if classes is not None and not hard:
        if points is not None or labels is not None:
            raise ValueError("classes: give only one of classes, points and labels")
        ia, ib = pair_indices(x.shape[0])
        products = np.empty((x.shape[1], ia.size))
        for sl in draw_chunks(x, extra=x.shape[2]):
            resp = class_responsibilities(x[:, sl], classes)  # (R, chunk, K)
            products[sl] = np.einsum("ptk,ptk->tp", resp[ia], resp[ib])
        return _pair_average(None, products, warn, n, sign=1.0)
    if classes is None and points is None and labels is None:
        raise ValueError("classes, points, labels: give one to name the class of each sample")
    if points is not None and labels is not None and classes is None:
        lab = _sample_classes(x, points, labels)
    else:
        lab = state_labels(x, points=points, classes=classes, labels=labels)
    return _agreement(lab, warn, n)


def nearest_point_overlap(source, points, *, normalised=False, mass_tol=1e-15, warn=True):
    """Overlap of a configuration with its nearest training point, ``q(x, y^{nn(x)})``, averaged.

    Collapse (memorisation) shows as a nearest-point (normalised) overlap going to one.
    Exact: ``sum_alpha w_alpha q(s_alpha, nn(s_alpha))`` over the states of a finite-list
    posterior (keeping the most probable states up to ``mass_tol`` of neglected mass). From
    samples: the mean over replicas and draws.
    """
    kind = source_kind(source)
    if kind == "exact":
        ex = exact_of(source)
        probs = _enumerated_probs(ex, "nearest-point overlap")
        states, _ = ex.enumerate()
        pts = as_float_array(points, "points", ndim=2)
        order = np.argsort(probs)[::-1]
        cum = np.cumsum(probs[order])
        keep = order[: int(np.searchsorted(cum, cum[-1] * (1.0 - mass_tol))) + 1]
        keep = keep[probs[keep] > 0]
        s = np.asarray(states[keep], dtype=np.float64)
        nn = nearest_point(s, pts)
        q = np.asarray(_overlap_rows(s, pts[nn], normalised))
        return _exact(float(probs[keep] @ q) / float(probs[keep].sum()))
    if kind != "samples":
        raise ValueError("source: expected an exact posterior or samples (replicas, draws, N)")
    x = as_samples(source, min_draws=2)
    pts = as_float_array(points, "points", ndim=2)
    nn = nearest_point(x, pts)
    q = np.asarray(_overlap_rows(x, pts[nn], normalised))
    return _replica_average(q, warn)


def _overlap_rows(x, y, normalised):
    dots = np.einsum("...i,...i->...", x, y)
    if not normalised:
        return dots / x.shape[-1]
    return dots / np.sqrt(np.einsum("...i,...i->...", x, x) * np.einsum("...i,...i->...", y, y))


# classes -------------------------------------------------------------------------------------
def _direction(mu, n_dim, name="mu"):
    v = as_float_array(mu, name, shape=(n_dim,))
    norm2 = float(v @ v)
    if norm2 == 0:
        raise ValueError(f"{name}: must be non-zero")
    return v, norm2


def _quadratic_form(ex, u):
    """``u^T Cov u`` of an exact posterior, without forming Cov where the structure allows."""
    if hasattr(ex, "component_means") and hasattr(ex, "component_eigenvalues"):
        model = ex.model
        w = ex.weights
        proj_means = ex.component_means @ u
        m_u = float(w @ proj_means)
        total = 0.0
        for k in range(model.n_components):
            uk = u if model.eigenvectors is None else model.eigenvectors[k].T @ u
            total += w[k] * (float(ex.component_eigenvalues[k] @ (uk * uk)) + (proj_means[k] - m_u) ** 2)
        return total
    try:
        states, probs = ex.enumerate()
    except NotImplementedError:
        return float(u @ ex.cov() @ u)
    probs = np.asarray(probs, dtype=np.float64)
    keep = np.flatnonzero(probs > 0)
    proj = np.asarray(states[keep], dtype=np.float64) @ u
    p = probs[keep]
    mean = float(p @ proj)
    return float(p @ (proj - mean) ** 2)


def class_magnetisation(source, mu, *, warn=True):
    """Class magnetisation ``M = x . mu / |mu|^2`` averaged over the posterior.

    For the two-class mixture ``+-mu`` (``physics.md``: class overlaps) ``M`` is close to the
    class spin ``+-1`` (exactly so as ``|mu|^2 / N`` grows). Exact: ``m . mu / |mu|^2``. Samples:
    the mean over replicas and draws.
    """
    kind = source_kind(source)
    if kind == "exact":
        ex = exact_of(source)
        v, norm2 = _direction(mu, ex.n_dim)
        return _exact(float(ex.mean() @ v) / norm2)
    if kind != "samples":
        raise ValueError("source: expected an exact posterior or samples (replicas, draws, N)")
    x = as_samples(source, min_draws=2)
    v, norm2 = _direction(mu, x.shape[2])
    m = x @ v / norm2
    return _replica_average(m, warn)


def class_magnetisation_variance(source, mu=None, *, points=None, labels=None, warn=True):
    """Posterior variance of the class: of the magnetisation ``x . mu / |mu|^2`` (given ``mu``) or of
    the two-class label spin ``c = +-1`` (given ``labels``).

    The speciation indicator (``physics.md``): about ``1`` while the posterior still holds both
    classes and about ``0`` once it has committed to one.

    * ``mu``: ``Var[x . mu / |mu|^2 | x_t]``; for the two-class mixture ``4 P(+) P(-)`` plus the
      within-class spread ``mu^T V mu / |mu|^4``. Exact: ``mu^T Cov mu / |mu|^4`` (derived:
      ``M`` is linear in ``x``). Samples: per draw ``mean_a M_a^2 - mean_{a<b} M_a M_b``
      (unbiased for independent replicas).
    * ``labels`` in {0, 1} (class 0 is ``c = +1``, class 1 is ``c = -1``, as in
      ``Dataset.two_class_alpha``): ``1 - E[c | x_t]^2 = 4 P_0 P_1`` (derived: ``c^2 = 1``),
      with ``P_c`` the summed weight of the states of class c. Exact (posterior or weight
      vector; ``labels`` one per state): ``4 P_0 P_1``, which keeps its relative precision when
      one class weight underflows ``1 - (P_0 - P_1)^2``. Samples (``labels`` one per point
      together with ``points``, the class of a sample being that of its nearest point; or
      ``labels`` of shape ``(R, T)``): per draw ``1 - mean_{a<b} c_a c_b`` (unbiased for
      independent replicas).
    """
    if (mu is None) == (labels is None):
        raise ValueError("mu, labels: give exactly one of them (a class direction or class labels)")
    kind = source_kind(source)
    if labels is not None:
        if kind in ("exact", "weights"):
            p = _class_probs(source, labels, "class label variance")
            if p.size > 2:
                raise ValueError(f"labels: the label spin needs two classes (0 and 1), got labels up to {p.size - 1}")
            p = np.pad(p, (0, 2 - p.size))
            return _exact(4.0 * p[0] * p[1])
        x = as_samples(source, min_replicas=2, min_draws=2)
        lab = _sample_classes(x, points, labels)
        if lab.size and (lab.max() > 1 or lab.min() < 0):
            raise ValueError("labels: the label spin needs two classes (0 and 1)")
        c = 1.0 - 2.0 * lab
        est = _pair_average(None, pair_dots(c), warn, c.size, sign=1.0)
        return Estimate(1.0 - est.value, est.stderr, n=est.n, tau=est.tau, method=est.method)
    if kind == "exact":
        ex = exact_of(source)
        v, norm2 = _direction(mu, ex.n_dim)
        return _exact(_quadratic_form(ex, v) / norm2**2)
    if kind != "samples":
        raise ValueError("source: expected an exact posterior or samples (replicas, draws, N)")
    x = as_samples(source, min_replicas=2, min_draws=2)
    v, norm2 = _direction(mu, x.shape[2])
    m = x @ v / norm2  # (R, T)
    return _pair_average(m * m, pair_dots(m), warn, m.size)


# responses -----------------------------------------------------------------------------------
def _coefficients(source, a_t, D_t):
    if isinstance(source, Posterior):
        if a_t is not None or D_t is not None:
            raise ValueError("a_t, D_t: taken from the posterior; do not pass them with an mc.Posterior")
        return source.a, source.D
    if a_t is None or D_t is None:
        raise ValueError("a_t, D_t: required (the process coefficients at t) unless source is an mc.Posterior")
    return as_scalar(a_t, "a_t", positive=True), as_scalar(D_t, "D_t", positive=True)


def _replica_trace(x, warn, n):
    """Mean over draws of ``mean_a |x_a|^2 / N - mean_{a<b} x_a . x_b / N`` (unbiased for
    ``tr Cov / N``), errors over draws and replicas."""
    n_dim = x.shape[2]
    return _pair_average(np.einsum("rti,rti->rt", x, x) / n_dim, pair_dots(x) / n_dim, warn, n)


def _replica_trace_series(x):
    """Per draw ``mean_a |x_a|^2 / N - mean_{a<b} x_a . x_b / N``: unbiased for ``tr Cov / N``."""
    r, t, n = x.shape
    out = np.empty(t)
    for sl in draw_chunks(x):
        block = x[:, sl]
        self_q = np.einsum("rti,rti->t", block, block) / (r * n)
        out[sl] = self_q - _pair_mean_of_products(block) / n
    return out


def _top_eigenvalue_samples(x, blocks):
    """Largest eigenvalue of the pooled sample covariance, jackknifed over blocks of draws."""
    r, t, n = x.shape
    edges = np.linspace(0, t, blocks + 1).astype(int)
    sums = np.empty((blocks, n))
    outer = np.empty((blocks, n, n))
    counts = np.empty(blocks)
    for b in range(blocks):
        block = x[:, edges[b] : edges[b + 1]].reshape(-1, n)
        sums[b] = block.sum(axis=0)
        outer[b] = block.T @ block
        counts[b] = block.shape[0]

    def top(s, o, c):
        total = c.sum()
        mean = s.sum(axis=0) / total
        cov = (o.sum(axis=0) - total * np.outer(mean, mean)) / (total - 1.0)
        return np.linalg.eigvalsh(cov)[-1]

    return jackknife((sums, outer, counts), top)


def susceptibility(source, *, kind="trace", wrt="x_t", direction=None, a_t=None, D_t=None, blocks=None,
                   warn=True):
    """Susceptibility: the posterior covariance, the linear response of the magnetisation.

    ``dm/dh = Cov[x0 | x_t]`` (field ``h = a_t x_t / D_t``) and ``dm/dx_t = (a_t / D_t) Cov``
    (``physics.md``: fluctuation-dissipation). Reported, per ``kind``,

    * ``"trace"``: ``c tr Cov / N``;
    * ``"top"``: ``c lambda_max(Cov)`` (the most susceptible direction);
    * ``"direction"``: ``c u^T Cov u / |u|^2`` along ``direction = u``;

    with ``c = a_t / D_t`` for ``wrt="x_t"`` (default) and ``c = 1`` for ``wrt="h"``. ``a_t``,
    ``D_t`` come from an ``mc.Posterior`` or are given with samples.

    Samples: trace and direction use the replica estimator ``mean_a |x_a|^2 - mean_{a<b} x_a . x_b``
    per draw (unbiased, no sample-mean subtraction); the top eigenvalue uses the pooled sample
    covariance with a jackknife over ``blocks`` contiguous blocks of draws (default: blocks of
    about ``5 tau`` of the trace series, between 2 and 32), which also removes the leading
    ``O(1/n)`` upward bias of the top sample eigenvalue.
    """
    if kind not in ("trace", "top", "direction"):
        raise ValueError(f"kind: expected 'trace', 'top' or 'direction', got {kind!r}")
    if wrt not in ("x_t", "h"):
        raise ValueError(f"wrt: expected 'x_t' or 'h', got {wrt!r}")
    if (direction is None) == (kind == "direction"):
        raise ValueError("direction: give it exactly when kind='direction'")
    src = source_kind(source)
    if wrt == "x_t":
        a, D = _coefficients(source, a_t, D_t)
        scale = a / D
    else:
        scale = 1.0
    if src == "exact":
        ex = exact_of(source)
        if kind == "trace":
            return _exact(scale * ex.cov_trace() / ex.n_dim)
        if kind == "top":
            return _exact(scale * float(np.linalg.eigvalsh(ex.cov())[-1]))
        u, norm2 = _direction(direction, ex.n_dim, "direction")
        return _exact(scale * _quadratic_form(ex, u) / norm2)
    if src != "samples":
        raise ValueError("source: expected an exact posterior or samples (replicas, draws, N)")
    x = as_samples(source, min_replicas=2, min_draws=2)
    n = x.shape[0] * x.shape[1]
    if kind == "direction":
        u, norm2 = _direction(direction, x.shape[2], "direction")
        proj = x @ u / math.sqrt(norm2)
        est = _pair_average(proj * proj, pair_dots(proj), warn, n)
    elif kind == "trace":
        est = _replica_trace(x, warn, n)
    else:
        est = correlated_mean(_replica_trace_series(x), warn=False, n=n)
    if kind == "top":
        if blocks is None:
            blocks = int(np.clip(x.shape[1] // max(1, math.ceil(5.0 * est.tau)), 2, 32))
        jk = _top_eigenvalue_samples(x, blocks)
        return Estimate(scale * jk.value, scale * jk.stderr, n=n, tau=est.tau, method="samples")
    return Estimate(scale * est.value, scale * est.stderr, n=n, tau=est.tau, method="samples")


#: Memory for the per-block second-moment matrices of :func:`spin_glass_susceptibility`
#: (replicas x blocks x N^2 doubles); beyond it the blocks are fewer, and below two blocks the
#: estimator falls back to products of overlaps at equal draws.
SPIN_GLASS_MEMORY = 1 << 28
#: Most blocks of draws for the jackknife of :func:`spin_glass_susceptibility`. The error of
#: a delete-one jackknife over B blocks has B - 1 degrees of freedom, so the deviation of an
#: estimate in units of its error follows Student's t with B - 1 degrees of freedom: with 8
#: blocks its standard deviation was 1.18 and |z| > 4 came 100 times as often as for a normal
#: variable, as the exact rows of the 2-core SK checks showed; with 32, 1.03.
SPIN_GLASS_BLOCKS = 32


def _distinct_tuples(keep, k):
    """Ordered k-tuples of distinct entries of ``keep``, shape (count, k)."""
    return np.array(list(itertools.permutations(keep, k)), dtype=np.intp).reshape(-1, k)


def _connected_from_moments(M, m, keep):
    """``chi_SG`` from the replicas ``keep`` of thermal averages ``M[a] = <x x^T>_a``,
    ``m[a] = <x>_a`` (each from one replica's own draws)::

        (1/N) [ mean_{a != b} tr(M_a M_b) - 2 mean_{a,b,c} m_b . M_a m_c
                + mean_{a,b,c,d} (m_a . m_c)(m_b . m_d) ]

    over ordered tuples of distinct replicas: every product pairs averages of independent
    replicas, so each term is unbiased for its thermal expectation."""
    n_dim = m.shape[1]
    mk, Mk = m[keep], M[keep]
    flat = Mk.reshape(len(keep), -1)
    F = flat @ flat.T  # tr(M_a M_b), M symmetric
    Y = np.einsum("aij,cj->aic", Mk, mk)  # M_a m_c
    V = np.einsum("bi,aic->abc", mk, Y)  # m_b . M_a m_c
    G = mk @ mk.T
    idx = np.arange(len(keep))
    p2, p3, p4 = (_distinct_tuples(idx, k) for k in (2, 3, 4))
    t1 = F[p2[:, 0], p2[:, 1]].mean()
    t2 = V[p3[:, 0], p3[:, 1], p3[:, 2]].mean()
    t3 = (G[p4[:, 0], p4[:, 2]] * G[p4[:, 1], p4[:, 3]]).mean()
    return (t1 - 2.0 * t2 + t3) / n_dim


def _connected_overlap_series(x):
    """Per draw ``N [q_ab^2 - 2 q_ab q_ac + q_ab q_cd]`` averaged over ordered tuples of distinct
    replicas of ``x`` (k, T, N), ``k >= 4``: the fallback estimator of
    :func:`spin_glass_susceptibility` from overlaps at equal draws (unbiased, but each term
    fluctuates like ``N q^2``). From the pair overlaps (:func:`replica.samples.pair_dots`), with
    ``Q`` the overlap matrix without its diagonal, row sums ``r_a``, ``S1 = sum Q``,
    ``S2 = sum Q^2``: ``sum_{abc} Q_ab Q_ac = sum_a r_a^2 - S2`` and
    ``sum_{abcd} Q_ab Q_cd = S1^2 - 2 S2 - 4 (sum_a r_a^2 - S2)``."""
    k, _, n_dim = x.shape
    ia, ib = pair_indices(k)
    q = pair_dots(x) / n_dim  # (T, pairs): each unordered pair once
    incidence = np.zeros((ia.size, k))
    incidence[np.arange(ia.size), ia] = 1.0
    incidence[np.arange(ia.size), ib] = 1.0
    s2 = 2.0 * np.einsum("tp,tp->t", q, q)
    rows = q @ incidence
    s1 = rows.sum(axis=1)
    p3 = np.einsum("ta,ta->t", rows, rows) - s2
    p4 = s1 * s1 - 2.0 * s2 - 4.0 * p3
    pairs = k * (k - 1.0)
    return n_dim * (s2 / pairs - 2.0 * p3 / (pairs * (k - 2.0)) + p4 / (pairs * (k - 2.0) * (k - 3.0)))


def spin_glass_susceptibility(source, *, blocks=None, warn=True):
    """Connected spin-glass susceptibility ``chi_SG = (1/N) sum_ij C_ij^2 = tr(C^2) / N``,
    ``C = Cov[x0 | x_t]`` (``C_ij = <s_i s_j> - <s_i><s_j>`` for spins).

    It is finite where the posterior is replica-symmetric and diverges where replica symmetry
    breaks (in mean-field spin glasses ``chi_SG = E(1 - m^2)^2 / lambda_AT``, with the replicon
    ``lambda_AT``: :func:`replica.theory.sk_rs_spin_glass_susceptibility`). In a field it is not
    the overlap variance ``N (<q^2> - <q>^2) = chi_SG + (2/N) sum_ij C_ij m_i m_j``, whose second
    term stays finite at the transition but shifts finite-size crossings.

    Exact: from the posterior covariance. Samples: ``sum_ij C_ij^2`` expands into
    ``sum_ij <x_i x_j>^2 - 2 sum_ij <x_i x_j> m_i m_j + |m|^4``; each product of thermal averages is
    estimated with the averages taken from different, independent replicas (Katzgraber, Larson &
    Young 2009, for spin glasses in a field), so the estimate is unbiased without subtracting a
    sample mean. The averages are each replica's own means over its draws (see
    ``_connected_from_moments``); it needs ``R >= 4`` replicas. Error: the larger of the
    delete-one jackknife over ``blocks`` contiguous blocks of draws (default: blocks of at least
    ``5 tau`` of the mean pair overlap, at most :data:`SPIN_GLASS_BLOCKS`) and, for ``R >= 5``, the
    jackknife over replicas. When the per-block ``N x N`` matrices exceed
    :data:`SPIN_GLASS_MEMORY` even for two blocks, it falls back to products of overlaps at equal
    draws (unbiased, noisier).
    """
    src = source_kind(source)
    if src == "exact":
        ex = exact_of(source)
        c = np.asarray(ex.cov(), dtype=np.float64)
        return _exact(float(np.sum(c * c)) / ex.n_dim)
    if src != "samples":
        raise ValueError("source: expected an exact posterior or samples (replicas, draws, N)")
    x = as_samples(source, min_replicas=4, min_draws=2)
    r, t, n_dim = x.shape
    overlap = correlated_mean(pair_dots(x).mean(axis=1) / n_dim, warn=False)
    if warn and t < 50.0 * overlap.tau:
        warnings.warn(f"draws per replica ({t}) shorter than 50 tau of the overlap (tau = {overlap.tau:.3g}): "
                      "the error bar of spin_glass_susceptibility is unreliable", ShortChainWarning, stacklevel=2)
    if blocks is None:
        blocks = int(np.clip(t // max(1, math.ceil(5.0 * overlap.tau)), 2, SPIN_GLASS_BLOCKS))
    blocks = int(min(blocks, t, SPIN_GLASS_MEMORY // max(1, 8 * r * n_dim * n_dim)))
    if blocks < 2:
        return replica_mean(lambda keep: _connected_overlap_series(x[keep]), r, min_replicas=4, warn=False,
                            n=r * t)
    edges = np.linspace(0, t, blocks + 1).astype(int)
    counts = np.diff(edges).astype(np.float64)
    sums = np.empty((blocks, r, n_dim))
    seconds = np.empty((blocks, r, n_dim, n_dim))
    for b in range(blocks):
        part = x[:, edges[b] : edges[b + 1]]
        sums[b] = part.sum(axis=1)
        seconds[b] = np.matmul(part.transpose(0, 2, 1), part)
    everyone = np.arange(r)

    total_seconds, total_sums, total = seconds.sum(axis=0), sums.sum(axis=0), counts.sum()

    def estimate(keep, drop=None):
        """From every block but ``drop`` (the totals less one block), replicas ``keep``."""
        if drop is None:
            return _connected_from_moments(total_seconds / total, total_sums / total, keep)
        n = total - counts[drop]
        return _connected_from_moments((total_seconds - seconds[drop]) / n, (total_sums - sums[drop]) / n, keep)

    value = estimate(everyone)
    leave = np.array([estimate(everyone, b) for b in range(blocks)])
    err = math.sqrt((blocks - 1) / blocks * np.sum((leave - leave.mean()) ** 2))
    if r > 4:
        leave = np.array([estimate(np.delete(everyone, a)) for a in range(r)])
        err = max(err, math.sqrt((r - 1) / r * np.sum((leave - leave.mean()) ** 2)))
    return Estimate(float(value), float(err), n=r * t, tau=float(overlap.tau), method="samples")


def score_divergence(source, *, a_t=None, D_t=None, warn=True):
    """Divergence of the score ``div grad log p_t(x_t) = -N / D_t + (a_t^2 / D_t^2) tr Cov[x0 | x_t]``.

    (``physics.md``: Tweedie; the trace of the Hessian of ``log p_t``.) Its disorder average
    gives the information rate ``dH(x0 | x_s) / ds``. Samples: ``tr Cov`` from the replica
    estimator (see :func:`susceptibility`).
    """
    a, D = _coefficients(source, a_t, D_t)
    src = source_kind(source)
    if src == "exact":
        ex = exact_of(source)
        return _exact(-ex.n_dim / D + (a / D) ** 2 * ex.cov_trace())
    if src != "samples":
        raise ValueError("source: expected an exact posterior or samples (replicas, draws, N)")
    x = as_samples(source, min_replicas=2, min_draws=2)
    n_dim = x.shape[2]
    est = _replica_trace(x, warn, x.shape[0] * x.shape[1])
    c = (a / D) ** 2 * n_dim
    return Estimate(-n_dim / D + c * est.value, c * est.stderr, n=est.n, tau=est.tau, method="samples")


# memorisation ----------------------------------------------------------------------------------
def _training_points(points, n_dim=None):
    pts = as_float_array(points, "points", ndim=2)
    if pts.shape[0] < 1:
        raise ValueError("points: expected at least one training point")
    if n_dim is not None and pts.shape[1] != n_dim:
        raise ValueError(f"points: expected points of dimension {n_dim}, got shape {pts.shape}")
    return pts


def _two_nearest(x, pts):
    """Distances to the nearest and second-nearest of ``pts`` and the index of the nearest, for
    each row of ``x`` ``(M, N)``: ``(d1, d2, i1)``, each of shape ``(M,)``.

    The two candidates are ranked by ``|y^mu|^2 - 2 x . y^mu`` (``|x - y^mu|^2`` less the
    constant ``|x|^2``) from one matrix product per chunk of rows (temporaries of at most about
    ``CHUNK_ELEMENTS`` elements, never ``(M, n, N)``); their distances are then recomputed from
    the differences ``x - y^mu``, so that a configuration equal to a training point is at
    distance exactly 0 (the expansion would leave a rounding residue of order
    ``eps |y^mu|^2``, clipped or not). With a single point ``d2 = inf``.
    """
    m, n_dim = x.shape
    n = pts.shape[0]
    k = min(2, n)
    sq_pts = np.einsum("ij,ij->i", pts, pts)
    d1 = np.empty(m)
    d2 = np.full(m, np.inf)
    i1 = np.empty(m, dtype=np.int64)
    rows = max(1, CHUNK_ELEMENTS // max(n, k * n_dim))
    for start in range(0, m, rows):
        block = x[start : start + rows]
        score = block @ pts.T
        score *= -2.0
        score += sq_pts
        idx = np.argpartition(score, k - 1, axis=1)[:, :k]  # the k nearest, in any order
        diff = block[:, None, :] - pts[idx]
        dist = np.sqrt(np.einsum("bkn,bkn->bk", diff, diff))
        order = np.argsort(dist, axis=1, kind="stable")
        dist = np.take_along_axis(dist, order, axis=1)
        sl = slice(start, start + block.shape[0])
        d1[sl] = dist[:, 0]
        i1[sl] = np.take_along_axis(idx, order[:, :1], axis=1)[:, 0]
        if k == 2:
            d2[sl] = dist[:, 1]
    return d1, d2, i1


def _duplicated(pts):
    """Whether each point has an exact copy (another row equal to it) among ``pts``
    (``mc.models.dataset.first_copies``: a random projection, then exact comparisons)."""
    first = first_copies(pts)
    return np.bincount(first, minlength=first.size)[first] > 1


def _memorised(x, pts, ratio):
    """``d1(x) < ratio d2(x)`` for each row of ``x`` ``(M, N)``."""
    d1, d2, _ = _two_nearest(x, pts)
    return d1 < ratio * d2


def memorised_fraction(source, points, *, ratio=1.0 / 3.0, warn=True):
    """Fraction of configurations that are copies of a training point: ``d1(x) < ratio d2(x)``.

    ``d1(x)`` and ``d2(x)`` are the Euclidean distances from ``x`` to its nearest and
    second-nearest training point ``y^mu``. With ``ratio = 1/3`` this is the memorisation
    criterion of Yoon et al. 2023 ("Diffusion probabilistic models generalize when they fail to
    memorize") and Gu et al. 2023 ("On memorization in diffusion models"), used by Bonnaire,
    Urfin, Biroli & Mezard 2025 ("Why diffusion models don't memorize"). ``ratio`` lies in
    ``(0, 1]``; with a single training point ``d2 = inf`` and every configuration counts.

    ``source``:

    * samples ``(R, T, N)`` (exact draws, Monte Carlo, or the output of any other generator,
      e.g. a learned score): per draw the indicator ``1[d1 < ratio d2]``, averaged over replicas
      and draws, with the error of :func:`replica.stats.replica_mean` (each replica a chain).
      Distances in chunks, see :func:`_two_nearest`.
    * an exact posterior over the training points (``Dataset``): ``sum_mu w_mu 1[memorised(y^mu)]``
      where for the training point itself ``d1 = 0`` and ``d2`` is the distance to the nearest
      *other* point, so a point is memorised unless it has an exact duplicate (``d2 = 0``, and
      ``0 < 0`` is false). Every draw of the exact empirical posterior is a training point, so
      the value is ``1 - `` (posterior mass on duplicated points), whatever ``ratio``: the
      observable is informative for samples of other generators, for which the exact value is
      the reference of perfect memorisation. An exact posterior whose states are not the
      training points: ``sum_alpha w_alpha 1[memorised(s_alpha)]`` over its states.
    * a weight vector over ``points``: as for the exact posterior.
    """
    ratio = as_scalar(ratio, "ratio", positive=True)
    if ratio > 1:
        raise ValueError(f"ratio: must lie in (0, 1] (d1 <= d2 always), got {ratio}")
    kind = source_kind(source)
    if kind in ("exact", "weights"):
        if kind == "exact":
            ex = exact_of(source)
            probs = _enumerated_probs(ex, "memorised fraction")
            states, _ = ex.enumerate()
            pts = _training_points(points, ex.n_dim)
            states = np.asarray(states, dtype=np.float64)
            on_points = states is pts or (states.shape == pts.shape and np.array_equal(states, pts))
        else:
            probs = _weights(source)
            pts = _training_points(points)
            if probs.size != pts.shape[0]:
                raise ValueError(f"source: {probs.size} weights for {pts.shape[0]} points")
            on_points = True
        if on_points:  # d1 = 0: memorised iff no other point is at distance 0
            return _exact(float(probs[~_duplicated(pts)].sum()))
        keep = np.flatnonzero(probs > 0)
        hit = _memorised(states[keep], pts, ratio)
        return _exact(float(probs[keep] @ hit))
    x = as_samples(source, min_draws=2)
    pts = _training_points(points, x.shape[2])
    r, t, n_dim = x.shape
    hit = _memorised(x.reshape(r * t, n_dim), pts, ratio).reshape(r, t).astype(np.float64)
    return _replica_average(hit, warn)


# the optimal (empirical) denoiser ---------------------------------------------------------------
def _denoiser_distance(source, distance_rows, n_dim_of, warn):
    """Value and error of ``f(m)`` with ``m = E[x0 | x_t]``; ``distance_rows(rows)`` returns, for
    posterior means ``rows`` ``(K, N)``, ``f`` per row and the point it is measured from ``(K, N)``."""
    kind = source_kind(source)
    if kind == "exact":
        m = np.asarray(exact_of(source).mean(), dtype=np.float64)
        n_dim_of(m.size)
        dist, _ = distance_rows(m[None, :])
        return _exact(dist[0])
    if kind != "samples":
        raise ValueError("source: expected an exact posterior or samples (replicas, draws, N)")
    x = as_samples(source, min_draws=2)
    r, t, n_dim = x.shape
    n_dim_of(n_dim)
    sums = x.sum(axis=1)  # (R, N)
    total = sums.sum(axis=0)
    m = total / (r * t)
    dist, ref = distance_rows(m[None, :])
    value = float(dist[0])
    # error of the linearised statistic g . m (g the gradient of f at m) from the
    # autocorrelation of its per-draw series; the jackknife over replicas is done on f itself
    gap = m - ref[0]
    norm = math.sqrt(float(gap @ gap))
    g = gap / (norm * math.sqrt(n_dim)) if norm > 0 else np.zeros(n_dim)
    proj = x @ g  # (R, T)
    lin = replica_mean(lambda keep: proj[keep].mean(axis=0), r, min_replicas=r, warn=warn)
    se = lin.stderr
    if r >= 2:
        loo = (total[None, :] - sums) / ((r - 1) * t)
        thetas, _ = distance_rows(loo)
        se_jk = math.sqrt((r - 1) / r * float(np.sum((thetas - thetas.mean()) ** 2)))
        se = max(se, se_jk)
    return Estimate(value, se, n=r * t, tau=lin.tau, method="samples")


def _check_dim(expected, name):
    def check(n_dim):
        if n_dim != expected:
            raise ValueError(f"{name}: dimension {expected}, but the source has N = {n_dim}")
    return check


def denoiser_nearest_distance(source, points, *, warn=True):
    """Distance of the optimal denoiser's output to the nearest training point, per coordinate:
    ``min_mu |m - y^mu| / sqrt(N)`` with ``m = E[x0 | x_t]``.

    For the empirical prior ``m = sum_mu w_mu y^mu`` is the output of the optimal (empirical)
    denoiser, Tweedie's formula ``m = (x_t + D_t grad log p_t(x_t)) / a_t`` (Efron 2011); it
    reaches a training point when the posterior collapses onto it (memorisation: Biroli,
    Bonnaire, de Bortoli & Mezard 2024; Bonnaire, Urfin, Biroli & Mezard 2025). The nearest
    point is found by the chunked ranking of :func:`memorised_fraction` and its distance
    computed from the difference ``m - y^mu``.

    ``source``:

    * an exact posterior: ``m`` from its ``mean()``;
    * a weight vector over ``points``: ``m = sum_mu w_mu y^mu``;
    * samples ``(R, T, N)``: ``m`` estimated by the mean over all replicas and draws and the
      plug-in value ``f(m_hat)``. Error: the larger of the jackknife over replicas
      (``theta_(a)`` from the mean without replica ``a``,
      ``stderr = sqrt((R - 1) / R sum_a (theta_(a) - theta_(.))^2)``, needs ``R >= 2``) and the
      autocorrelation error of the linearised statistic ``g . x`` per draw (``g`` the gradient of
      ``f`` at ``m_hat``), as :func:`replica.stats.replica_means` does for means. The plug-in
      value is biased by the finite sample: ``E|m_hat - c|^2 = |m - c|^2 + tr Cov[m_hat]`` with
      ``tr Cov[m_hat] ~ tau tr Cov[x0 | x_t] / (R T)``, so the squared distance per coordinate
      is biased upward by ``O(tr Cov / (R T N))``; the distance itself by about that over
      ``2 f`` while the nearest point does not change, and at most by ``E|m_hat - m| / sqrt(N)``
      (``f`` is 1-Lipschitz), which is ``O(sqrt(tr Cov / (R T N)))`` where ``f -> 0``.
    """
    kind = source_kind(source)
    if kind == "weights":
        w = _weights(source)
        pts = _training_points(points)
        if w.size != pts.shape[0]:
            raise ValueError(f"source: {w.size} weights for {pts.shape[0]} points")
        m = w @ pts
        d1, _, _ = _two_nearest(m[None, :], pts)
        return _exact(d1[0] / math.sqrt(pts.shape[1]))
    pts = _training_points(points)

    def rows(ms):
        d1, _, i1 = _two_nearest(ms, pts)
        return d1 / math.sqrt(pts.shape[1]), pts[i1]

    return _denoiser_distance(source, rows, _check_dim(pts.shape[1], "points"), warn)


def denoiser_origin_distance(source, x0, *, warn=True):
    """Distance of the optimal denoiser's output to the clean point that generated ``x_t``, per
    coordinate: ``|m - x0| / sqrt(N)`` with ``m = E[x0 | x_t]``.

    ``x0`` is the quenched state's clean point (``QuenchedState.x0``): a training point for
    planted disorder, or a held-out point (``grid.source = "population"``), for which this is
    the generalisation error of the empirical denoiser (it tends to the distance from ``x0`` to
    the training point the posterior collapses onto, as ``t -> 0``). Its square is the
    per-coordinate error of the posterior mean, not the MMSE ``E|x - x0|^2 / N`` (which adds
    ``tr Cov / N``).

    ``source``: an exact posterior (``m`` from its ``mean()``) or samples ``(R, T, N)``
    (the plug-in estimate with its errors and finite-sample bias as in
    :func:`denoiser_nearest_distance`).
    """
    x0 = as_float_array(x0, "x0", ndim=1)

    def rows(ms):
        gap = ms - x0
        return np.sqrt(np.einsum("kn,kn->k", gap, gap)) / math.sqrt(x0.size), np.broadcast_to(x0, ms.shape)

    return _denoiser_distance(source, rows, _check_dim(x0.size, "x0"), warn)
