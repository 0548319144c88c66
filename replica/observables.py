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

import math

import numpy as np

from mc._validation import as_float_array, as_scalar, probability_vector
from mc.posterior import Posterior

from .overlaps import _pair_mean_of_products
from .samples import as_samples, draw_chunks, exact_of, pair_dots, pair_indices, pairs_within, source_kind
from .states import class_responsibilities, nearest_point, state_labels
from .stats import Estimate, correlated_mean, jackknife, replica_mean

__all__ = [
    "participation_ratio",
    "weight_entropy",
    "cloning_probability",
    "nearest_point_overlap",
    "class_magnetisation",
    "class_magnetisation_variance",
    "susceptibility",
    "score_divergence",
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
