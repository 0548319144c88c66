"""Franz-Parisi potentials ``V(q)`` of diffusion posteriors and a fragmentation verdict.

Definition (``physics.md``; Franz & Parisi, J. Phys. I 5, 1401 (1995)): for one quenched
``x_t`` and a reference ``x_ref`` drawn from the posterior (or the planted ``x0``, an exact
posterior sample),

    V(q) = -(1/N) E_{x_ref} log P(q | x_ref),

with ``P(q | x_ref)`` the posterior law of the order parameter ``q(x, x_ref)``
(:mod:`replica.order_parameters`: overlap, centred or projected overlap, squared distance, all
per coordinate). This is the constrained free energy ``-(1/N) log Z(q | x_ref)`` of
``physics.md`` with the unconstrained ``(1/N) log Z`` added, i.e. normalised so that
``int dq exp(-N V) = 1`` per reference. The quenched average over disorder
(:func:`franz_parisi_quenched`) averages ``V``, i.e. ``log P``, not ``P``.

What ``P`` is, per exact route:

* Gaussian mixtures (``mc.GaussianMixture``): the exact density at each grid point. A linear
  order parameter ``q = x . u / N + c0`` is, within posterior component ``k``, Gaussian with
  mean ``m_k . u / N + c0`` and variance ``u^T C_k u / N^2``; the squared distance with an
  isotropic within-component covariance ``v_k I`` is ``v_k / N`` times a noncentral chi-square
  with N degrees of freedom and noncentrality ``|m_k - x_ref|^2 / v_k`` (derived; components
  with zero variance along ``u`` make the density bin-averaged, as below).
* Data sets (``mc.Dataset``, ``mc.TwoDeltas``): the posterior mass of the points whose ``q``
  falls in the bin around each grid point, divided by the bin width (a density). Bins have
  edges at the midpoints between grid points (the outer ones half a spacing out). With the
  overlap and points that are not normalised, the self-overlap of the reference is
  ``|x_ref|^2 / N`` (1 for points on the sphere of radius sqrt(N), ~ variance x 1 for Gaussian
  points), which is where the condensed posterior's minimum sits.
* Spin priors with ``N <= 20`` (``mc.IsingPrior``, enumeration): the posterior mass of each bin,
  *not* divided by the width: on the default grid (the ``N + 1`` attainable values of the
  overlap ``1 - 2k/N``, or of the distance ``4k/N``) that is the mass of each value of q.

Uncovered bins: where ``P(q | x_ref) = 0`` for some reference, ``V = +inf`` for that reference
and the quenched average is ``+inf``; such grid points are reported with ``V = NaN``,
``stderr = NaN`` and ``covered = False``, and ``n_references`` counts the references (or
disorder samples) for which the point is covered. Minimum searches treat them as infinite walls.

Errors: ``stderr`` is the standard error of the mean over references (``sd / sqrt(n)``); for one
given reference ``V`` is exact for that reference and ``stderr = 0``; for one drawn reference it
is NaN. Over disorder, the error is over disorder samples. References are drawn from the exact
posterior with ``numpy.random.SeedSequence(seed, spawn_key=key)``.

``method="umbrella"`` computes ``V`` for each reference with
``replica.umbrella.umbrella_potential`` (umbrella sampling with MBAR) and averages over references
the same way. Every window of every run must pass its convergence criteria (``replica.umbrella``:
50 tau, R-hat < 1.01 across dispersed replicas, overlap with its neighbours) or the run raises
``replica.umbrella.ConvergenceError`` naming the reference and the windows; with
``allow_unconverged=True`` the curve is returned and ``df.attrs["converged"]`` is False. The
per-run records are in ``df.attrs["umbrella"]`` and ``FranzParisiSamples.diagnostics``.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp, ndtr

from mc._validation import as_float_array, as_positive_int, as_scalar
from mc.disorder import draw_quenched, seed_sequence
from mc.posterior import Posterior

from ..order_parameters import Overlap, SquaredDistance, as_order_parameter
from ..stats import Estimate, jackknife
from .kernels import log_ncx2_pdf, log_normal_pdf

__all__ = [
    "METHODS",
    "FranzParisiSamples",
    "franz_parisi",
    "franz_parisi_quenched",
    "franz_parisi_samples",
    "SecondaryMinimum",
    "FranzParisi",
]

#: Routes of :func:`franz_parisi`.
METHODS = ("exact", "umbrella")
#: Grid points of the default grids of continuous routes.
DEFAULT_GRID_POINTS = 101
#: Rows of states / points processed at a time.
_CHUNK_ROWS = 1 << 15
#: Relative spread below which a within-component covariance counts as isotropic.
_ISOTROPY_RTOL = 1e-10
#: Spawn-key stream of the references of each disorder sample (draw_quenched uses 0 and 1).
_REFERENCE_STREAM = 2
#: Above this many units the jackknife leaves out blocks instead of single units.
_MAX_JACKKNIFE_BLOCKS = 100
#: Gauss-Legendre nodes and weights on [-1, 1] for bin averages of mixture densities.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)


# -- input checks --------------------------------------------------------------------------------
def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    return method


def _check_grid(q_grid):
    if q_grid is None:
        return None
    grid = as_float_array(q_grid, "q_grid")
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError(f"q_grid: expected a 1-D array of at least 2 points, got shape {grid.shape}")
    if np.any(np.diff(grid) <= 0):
        i = int(np.flatnonzero(np.diff(grid) <= 0)[0])
        raise ValueError(f"q_grid: must be strictly increasing (q_grid[{i + 1}] = {grid[i + 1]} <= {grid[i]})")
    return grid


def _check_references(reference, n_dim):
    """``(references (m, N), given)`` or ``(None, False)``."""
    if reference is None:
        return None, False
    ref = as_float_array(reference, "reference")
    if ref.ndim == 1:
        ref = ref[None, :]
    if ref.ndim != 2 or ref.shape[0] == 0:
        raise ValueError(f"reference: expected shape (N,) or (n_references, N), got {np.shape(reference)}")
    if ref.shape[1] != n_dim:
        raise ValueError(f"reference: dimension {ref.shape[1]} does not match the posterior's N = {n_dim}")
    return ref, True


def _check_seed(seed, key):
    if seed is None:
        raise ValueError("seed: required to draw references from the posterior (an int root seed)")
    return seed_sequence(seed, *tuple(key))


def _edges(grid):
    mid = 0.5 * (grid[1:] + grid[:-1])
    return np.concatenate([[grid[0] - (grid[1] - grid[0]) / 2], mid, [grid[-1] + (grid[-1] - grid[-2]) / 2]])


# -- exact routes ----------------------------------------------------------------------------------
def _route(posterior):
    """The exact route of a posterior: ``"spins"``, ``"points"`` or ``"mixture"``, as its exact
    posterior declares it (``ExactPosterior.franz_parisi_route``)."""
    try:
        ex = posterior.exact
    except NotImplementedError:
        raise ValueError(
            f"method: no exact Franz-Parisi route for {type(posterior.model).__name__} "
            f"(N = {posterior.n_dim}, no exact posterior); use method='umbrella'"
        ) from None
    route = getattr(ex, "franz_parisi_route", None)
    if route in ("spins", "points", "mixture"):
        return route
    raise ValueError(
        f"method: no exact Franz-Parisi route for {type(ex).__name__} (exact routes: data sets, Gaussian "
        "mixtures, enumerated spin priors); use method='umbrella'"
    )


def _states_and_probs(ex):
    states, probs = ex.enumerate()
    probs = np.asarray(probs, dtype=np.float64)
    keep = np.flatnonzero(probs > 0)
    return states, probs, keep


def _values(states, idx, op, ref):
    """``q(states[idx], ref)`` in chunks (float64)."""
    out = np.empty(idx.size)
    for start in range(0, idx.size, _CHUNK_ROWS):
        sl = idx[start:start + _CHUNK_ROWS]
        out[start:start + sl.size] = op.value(np.asarray(states[sl], dtype=np.float64), ref)
    return out


def _discrete_log_p(states, probs, keep, op, ref, edges, density):
    values = _values(states, keep, op, ref)
    n_bins = edges.size - 1
    which = np.searchsorted(edges, values, side="right") - 1
    which[values == edges[-1]] = n_bins - 1
    inside = (which >= 0) & (which < n_bins)
    mass = np.bincount(which[inside], weights=probs[keep][inside], minlength=n_bins)
    if density:
        mass = mass / np.diff(edges)
    with np.errstate(divide="ignore"):
        return np.log(mass)


def _mixture_components(ex):
    """Posterior component weights, means, eigenvalues (K, N) and the model (for eigenbases)."""
    keep = np.flatnonzero(ex.weights > 0)
    return ex.model, keep, np.log(ex.weights[keep])


def _bin_nodes(edges):
    """Gauss-Legendre nodes of every bin, shape (bins, 16); the weights ``_GL_W / 2`` average over a bin."""
    return edges[:-1, None] + 0.5 * (_GL_X + 1.0)[None, :] * np.diff(edges)[:, None]


def _bin_average(log_density, edges):
    nodes = _bin_nodes(edges)
    log_f = log_density(nodes.ravel()).reshape(nodes.shape)
    return logsumexp(log_f + np.log(0.5 * _GL_W)[None, :], axis=1)


def _mixture_log_p(ex, op, ref, grid, edges, bin_average=False):
    """``log P(q | ref)`` at the grid points, or its bin average (16-node Gauss-Legendre per bin)."""
    model, keep, log_w = _mixture_components(ex)
    n = ex.n_dim
    if op.linear:
        u, c0 = op.linear_form(ref)
        means = np.array([ex.component_means[k] @ u / n + c0 for k in keep])
        var = np.array([float(ex.component_eigenvalues[k] @ model._to_eigenbasis(k, u) ** 2) / n**2 for k in keep])
        if np.all(var > 0):
            def log_density(points):
                return logsumexp(log_w[:, None] + log_normal_pdf(points[None, :], means[:, None], var[:, None]),
                                 axis=0)
            return _bin_average(log_density, edges) if bin_average else log_density(grid)
        # components without variance along u: bin-averaged density (mass in the bin / width)
        sd = np.sqrt(var)
        mass = np.zeros(grid.size)
        for lw, m, s in zip(log_w, means, sd):
            cdf = ndtr((edges - m) / s) if s > 0 else (edges >= m).astype(np.float64)
            mass += math.exp(lw) * np.diff(cdf)
        with np.errstate(divide="ignore"):
            return np.log(mass / np.diff(edges))
    if isinstance(op, SquaredDistance):
        v = ex.component_eigenvalues[keep]
        v_iso = v[:, 0]
        if np.any(np.ptp(v, axis=1) > _ISOTROPY_RTOL * np.maximum(v.max(axis=1), 1e-300)):
            raise ValueError(
                "order_parameter: the squared distance has a closed form only for isotropic within-component "
                "posterior covariances (isotropic or equal prior variances); use a linear order parameter or "
                "method='umbrella'"
            )
        if np.any(v_iso <= 0):
            raise ValueError(
                "posterior: a component has zero within-component variance (a delta), so Q is an atom; model "
                "deltas with mc.Dataset / mc.TwoDeltas instead"
            )
        d = ex.component_means[keep] - ref
        lam = np.einsum("ki,ki->k", d, d) / v_iso

        def log_density(points):
            out = np.full(points.size, -np.inf)
            ok = points >= 0
            x = n * points[None, ok] / v_iso[:, None]
            terms = log_w[:, None] + np.log(n / v_iso)[:, None] + log_ncx2_pdf(x, n, lam[:, None])
            out[ok] = logsumexp(terms, axis=0)
            return out
        return _bin_average(log_density, edges) if bin_average else log_density(grid)
    raise ValueError(
        f"order_parameter: {op!r} has no closed-form law under a Gaussian mixture (linear order parameters and "
        "the squared distance do); use method='umbrella'"
    )


def _default_grid(route, ex, op, refs):
    n = ex.n_dim
    if route == "spins" and np.all(np.abs(refs) == 1.0):
        if type(op) is Overlap:
            return np.linspace(-1.0, 1.0, n + 1)
        if type(op) is SquaredDistance:
            return np.linspace(0.0, 4.0, n + 1)
    if route == "spins":
        states, probs, keep = _states_and_probs(ex)
        vals = np.concatenate([_values(states, keep, op, r) for r in refs])
        lo, hi = float(vals.min()), float(vals.max())
        # about as many bins as the overlap has values, so that bins are not emptier than the lattice
        return np.linspace(lo, hi, n + 1) if hi > lo else np.array([lo - 0.5, lo, lo + 0.5])
    if route == "points":
        # bins over the bulk of the points' q (0.5% - 99.5% quantiles, unweighted, pooled over the
        # references) and up to the references' self-values; about 2 n^(1/3) bins
        states, probs, keep = _states_and_probs(ex)
        vals = np.concatenate([_values(states, np.arange(states.shape[0]), op, r) for r in refs])
        lo, hi = (float(v) for v in np.quantile(vals, [0.005, 0.995]))
        hi = max(hi, max(float(op.value(r, r)) for r in refs))
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        m = int(np.clip(round(2.0 * states.shape[0] ** (1.0 / 3.0)), 11, DEFAULT_GRID_POINTS))
        return np.linspace(lo, hi, m)
    model, keep, _ = _mixture_components(ex)
    lo, hi = math.inf, -math.inf
    for r in refs:
        if op.linear:
            u, c0 = op.linear_form(r)
            for k in keep:
                m = ex.component_means[k] @ u / n + c0
                sd = math.sqrt(float(ex.component_eigenvalues[k] @ model._to_eigenbasis(k, u) ** 2)) / n
                lo, hi = min(lo, m - 6 * sd), max(hi, m + 6 * sd)
        else:
            for k in keep:
                v = float(ex.component_eigenvalues[k].mean())
                d = ex.component_means[k] - r
                lam = float(d @ d) / max(v, 1e-300)
                mean, sd = v * (n + lam) / n, v * math.sqrt(2.0 * (n + 2.0 * lam)) / n
                lo, hi = min(lo, max(mean - 6 * sd, 0.0)), max(hi, mean + 6 * sd)
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    if isinstance(op, SquaredDistance) and lo <= 0:
        lo = hi / (10.0 * DEFAULT_GRID_POINTS)
    return np.linspace(lo, hi, DEFAULT_GRID_POINTS)


def _draw_references(posterior, n, seq, reference_sweeps):
    gen = np.random.default_rng(seq)
    if posterior.is_exact:
        return np.asarray(posterior.sample_exact(n, gen), dtype=np.float64)
    from mc.sampler import sample

    state = gen.integers(0, 2**31 - 1)
    res = sample(posterior, n_replicas=n, n_sweeps=reference_sweeps, seed=int(state), store="samples",
                 progress=False)
    return np.asarray(res.samples[:, -1, :], dtype=np.float64)


# -- results -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FranzParisiSamples:
    """Per-unit potentials behind a Franz-Parisi curve (what :class:`FranzParisi` jackknifes).

    Attributes
    ----------
    q : ndarray (M,)
        Grid.
    units : ndarray (n_units, M)
        ``-(1/N) log P(q | x_ref)`` per reference (one posterior) or the per-sample ``V`` (one
        row per disorder sample); ``+inf`` / NaN where a unit does not cover the point.
    n_dim : int
    exact : bool
        The units are exact values given the reference(s) supplied by the caller (then one unit
        has ``stderr = 0``).
    method, order_parameter : str
    unit_stderr : ndarray (M,) or None
        For a single unit, its own standard error (umbrella sampling), else None.
    diagnostics : list of dict or None
        Umbrella sampling: one entry per umbrella run (per reference, and per disorder sample for
        a quenched average) with ``unit`` (and ``disorder``), ``reference`` (its index),
        ``converged``, ``unconverged_windows``, ``info`` (the run's ``UmbrellaResult.info``) and
        ``windows`` (its per-window diagnostics as lists: centre, tau, rhat_q, n_sweeps,
        converged, ...); None for the exact routes.
    """

    q: np.ndarray
    units: np.ndarray
    n_dim: int
    exact: bool
    method: str
    order_parameter: str
    unit_stderr: np.ndarray | None = None
    diagnostics: list | None = None

    @property
    def n_units(self):
        return self.units.shape[0]

    @property
    def converged(self):
        """Exact routes: True. Umbrella sampling: True when every run's windows passed their
        convergence criteria (``replica.umbrella``), False when one did not, None when the runs
        did not say."""
        if self.diagnostics is None:
            return True if self.method == "exact" else None
        flags = [d.get("converged") for d in self.diagnostics]
        if any(f is False for f in flags):
            return False
        return True if flags and all(f is True for f in flags) else None

    def covered(self):
        return np.isfinite(self.units).all(axis=0)

    def frame(self):
        """The DataFrame ``q, V, stderr, n_references, covered, n_dim``."""
        import pandas as pd

        units = self.units
        n = units.shape[0]
        finite = np.isfinite(units)
        covered = finite.all(axis=0)
        safe = np.where(finite, units, 0.0)
        mean = safe.mean(axis=0)
        if n > 1:
            err = safe.std(axis=0, ddof=1) / math.sqrt(n)
        elif self.unit_stderr is not None:
            err = np.asarray(self.unit_stderr, dtype=np.float64)
        else:
            err = np.zeros(units.shape[1]) if self.exact else np.full(units.shape[1], np.nan)
        frame = pd.DataFrame({
            "q": self.q,
            "V": np.where(covered, mean, np.nan),
            "stderr": np.where(covered, err, np.nan),
            "n_references": finite.sum(axis=0).astype(np.int64),
            "covered": covered,
            "n_dim": int(self.n_dim),
        })
        if self.method == "umbrella":
            # plain Python values (JSON-able), so that the attrs survive writing and concatenation
            frame.attrs["converged"] = self.converged
            frame.attrs["umbrella"] = list(self.diagnostics or [])
        return frame


def franz_parisi_samples(posterior, q_grid=None, method="exact", order_parameter="overlap", reference=None,
                         n_references=16, seed=None, key=(), *, reference_sweeps=2000, bin_average=False,
                         **umbrella_options):
    """The per-reference potentials of :func:`franz_parisi` (same arguments) as a
    :class:`FranzParisiSamples`, before averaging over references."""
    if not isinstance(posterior, Posterior):
        raise ValueError(f"posterior: expected an mc.Posterior, got {type(posterior).__name__}")
    method = _check_method(method)
    op = as_order_parameter(order_parameter)
    grid = _check_grid(q_grid)
    n_references = as_positive_int(n_references, "n_references")
    key = tuple(key)
    refs, given = _check_references(reference, posterior.n_dim)
    route = _route(posterior) if method == "exact" else None
    if method == "exact" and umbrella_options:
        raise ValueError(f"umbrella_options: {sorted(umbrella_options)} only apply to method='umbrella'")
    if refs is None:
        seq = _check_seed(seed, key)
        refs = _draw_references(posterior, n_references, seq, as_positive_int(reference_sweeps, "reference_sweeps"))
    n = posterior.n_dim
    if method == "umbrella":
        return _umbrella_samples(posterior, refs, given, grid, op, seed, key, umbrella_options)
    ex = posterior.exact
    if grid is None:
        grid = _default_grid(route, ex, op, refs)
    edges = _edges(grid)
    units = np.empty((refs.shape[0], grid.size))
    if route in ("spins", "points"):
        states, probs, keep = _states_and_probs(ex)
        for i, r in enumerate(refs):
            units[i] = -_discrete_log_p(states, probs, keep, op, r, edges, density=route == "points") / n
    else:
        for i, r in enumerate(refs):
            units[i] = -_mixture_log_p(ex, op, r, grid, edges, bool(bin_average)) / n
    return FranzParisiSamples(grid, units, n, exact=given, method="exact", order_parameter=op.name)


def _umbrella_diagnostics(frame, i):
    """The convergence record of one umbrella run from its DataFrame's attrs (empty if absent)."""
    info = dict(frame.attrs.get("umbrella", {}))
    return {"unit": i, "reference": i, "converged": info.get("converged"),
            "unconverged_windows": list(info.get("unconverged_windows", [])), "info": info,
            "windows": dict(frame.attrs.get("windows", {}))}


def _umbrella_samples(posterior, refs, given, grid, op, seed, key, options):
    from ..umbrella import umbrella_potential

    try:
        from ..umbrella import ConvergenceError
    except ImportError:  # a stand-in module without it
        ConvergenceError = None
    if seed is None:
        raise ValueError("seed: required by method='umbrella' (an int root seed)")
    rows, errs, diagnostics = [], [], []
    defaulted = grid is None
    for i, r in enumerate(refs):
        if defaulted and i == 1:
            # The grid is the first reference's default, trimmed to what its windows reached; the
            # other references may not reach its end bins, which are then walls (uncovered), as
            # in the exact routes, instead of an error.
            options = {"allow_uncovered": True, **options}
        try:
            frame = umbrella_potential(posterior, r, grid, order_parameter=op, seed=seed, key=(*key, i), **options)
        except Exception as err:
            if ConvergenceError is None or not isinstance(err, ConvergenceError):
                raise
            raise ConvergenceError(f"reference {i} of {len(refs)} (key {(*key, i)}): {err}",
                                   windows=err.windows, diagnostics=err.diagnostics) from err
        diagnostics.append(_umbrella_diagnostics(frame, i))
        q = np.asarray(frame["q"], dtype=np.float64)
        if grid is None:
            grid = q
        elif q.shape != grid.shape or not np.allclose(q, grid):
            raise ValueError("q_grid: umbrella_potential returned a different grid for another reference")
        v = np.asarray(frame["V"], dtype=np.float64)
        rows.append(np.where(np.isfinite(v), v, np.inf))
        errs.append(np.asarray(frame["stderr"], dtype=np.float64))
    unit_err = errs[0] if len(rows) == 1 else None
    return FranzParisiSamples(grid, np.array(rows), posterior.n_dim, exact=False, method="umbrella",
                              order_parameter=op.name, unit_stderr=unit_err, diagnostics=diagnostics)


def franz_parisi(posterior, q_grid=None, method="exact", order_parameter="overlap", reference=None,
                 n_references=16, seed=None, key=(), *, reference_sweeps=2000, bin_average=False,
                 **umbrella_options):
    """Franz-Parisi potential ``V(q) = -(1/N) E_ref log P(q | x_ref)`` of one posterior.

    Parameters
    ----------
    posterior : mc.Posterior
        One quenched ``x_t``.
    q_grid : array, optional
        Strictly increasing points where ``V`` is reported (bin centres for the discrete routes;
        module docstring). Default: for spins the ``N + 1`` attainable values of the overlap or
        distance with a +-1 reference (``N + 1`` points over the range of q otherwise); for data
        sets about ``2 n^(1/3)`` points from the 0.5% quantile of the points' q to the 99.5%
        quantile or the reference's self-value; for mixtures 101 points over 6 standard
        deviations of every component. Bins narrower than the spacing of the points' q leave
        gaps (uncovered points), which separate minima by infinite barriers: choose bins wide
        enough for the resolution wanted.
    method : {"exact", "umbrella"}
    order_parameter : str or OrderParameter
        ``"overlap"``, ``"distance"`` or an instance (``CentredOverlap``, ``ProjectedOverlap``).
    reference : array (N,) or (m, N), optional
        Given reference(s), e.g. the planted ``x0``. One given reference: exact ``V`` for it,
        ``stderr = 0``. None: ``n_references`` references drawn from the exact posterior
        (``SeedSequence(seed, spawn_key=key)``; without an exact posterior, the last draws of
        independent Monte Carlo chains of ``reference_sweeps`` sweeps).
    n_references : int
        References drawn when ``reference`` is None.
    seed : int
        Root seed (required when references are drawn or with ``method="umbrella"``).
    key : tuple of int
        Task identifiers (``design.md``); umbrella runs of reference ``i`` use ``(*key, i)``.
    reference_sweeps : int
        Sweeps of the chains that draw references from a posterior without an exact sampler.
    bin_average : bool
        Gaussian mixtures: report the density averaged over each bin (mass / width, the
        convention of the other routes and of umbrella sampling; 16-node Gauss-Legendre per bin)
        instead of its value at the grid point.
    **umbrella_options
        Passed to ``replica.umbrella.umbrella_potential``.

    Returns
    -------
    DataFrame with columns ``q``, ``V``, ``stderr``, ``n_references`` (units covering the point),
    ``covered`` (bool) and ``n_dim``; conventions for ``P``, uncovered points and errors in the
    module docstring. With ``method="umbrella"``, ``df.attrs["converged"]`` says whether every
    umbrella run passed its convergence criteria (``replica.umbrella``; a run that does not raises
    ``replica.umbrella.ConvergenceError`` naming the reference and the windows, unless
    ``allow_unconverged=True`` is passed, which returns the curve with ``converged = False``), and
    ``df.attrs["umbrella"]`` holds one record per reference: ``converged``,
    ``unconverged_windows``, ``info`` and the per-window diagnostics ``windows`` (tau, R-hat,
    sweeps used, flags), as plain Python values.

    >>> import numpy as np, mc
    >>> model = mc.GaussianMixture.two_class(np.ones(20), variance=0.2)
    >>> post = mc.Posterior(model, mc.VP(), model.means[0], t=1.0)
    >>> fp = franz_parisi(post, reference=model.means[0])
    >>> bool(fp["covered"].all() and (fp["stderr"] == 0).all())
    True
    """
    return franz_parisi_samples(posterior, q_grid, method, order_parameter, reference, n_references, seed, key,
                                reference_sweeps=reference_sweeps, bin_average=bin_average,
                                **umbrella_options).frame()


def _quenched_samples(posteriors, references, q_grid, method, order_parameter, n_references, seed, key,
                      reference_sweeps, umbrella_options, bin_average=False):
    grid = _check_grid(q_grid)
    rows, n_dim, exact, name, diagnostics = [], None, True, None, None
    for d, (post, ref) in enumerate(zip(posteriors, references)):
        s = franz_parisi_samples(post, grid, method, order_parameter, ref, n_references, seed,
                                 (*key, d, _REFERENCE_STREAM), reference_sweeps=reference_sweeps,
                                 bin_average=bin_average, **umbrella_options)
        if grid is None:
            grid = s.q
        if n_dim is None:
            n_dim = s.n_dim
        elif s.n_dim != n_dim:
            raise ValueError(f"posterior: sample {d} has N = {s.n_dim}, sample 0 has N = {n_dim}")
        finite = np.isfinite(s.units).all(axis=0)
        rows.append(np.where(finite, s.units.mean(axis=0), np.inf))
        exact = exact and s.exact
        name = s.order_parameter
        if s.diagnostics is not None:
            diagnostics = (diagnostics or []) + [{**entry, "unit": d, "disorder": d} for entry in s.diagnostics]
    return FranzParisiSamples(grid, np.array(rows), n_dim, exact=exact and len(rows) == 1, method=method,
                              order_parameter=name, diagnostics=diagnostics)


def franz_parisi_quenched(model, process, t, *, n_disorder, seed, key=(), source="prior", reference=None,
                          q_grid=None, method="exact", order_parameter="overlap", n_references=16,
                          reference_sweeps=2000, bin_average=False, return_samples=False, **umbrella_options):
    """Disorder-averaged (quenched) Franz-Parisi potential ``E_{x_t} V(q)``.

    Disorder sample ``d`` is ``mc.draw_quenched(model, process, t, seed=seed, disorder=d,
    key=key, source=source)``; its potential is :func:`franz_parisi` with references drawn with
    ``spawn_key = (*key, d, 2)`` (or, with ``reference="planted"``, the ``x0`` that generated
    ``x_t``: Yu & Huang's choice, an exact posterior sample when the disorder is planted). The
    quenched potential is the mean of the per-sample ``V`` (an average of ``log P``), its error
    ``sd / sqrt(n_disorder)`` over disorder samples. Without ``q_grid`` the default grid of
    sample 0 is used for all samples. A point not covered by every sample is reported as
    uncovered.

    Returns the DataFrame of :func:`franz_parisi` (``n_references`` counts disorder samples), or
    with ``return_samples=True`` a :class:`FranzParisiSamples` with one row per disorder sample.
    """
    n_disorder = as_positive_int(n_disorder, "n_disorder")
    if reference is not None and not (isinstance(reference, str) and reference == "planted"):
        raise ValueError(f"reference: expected None or 'planted', got {reference!r}")
    as_scalar(t, "t", positive=True)
    key = tuple(key)
    _check_method(method)
    as_order_parameter(order_parameter)
    _check_grid(q_grid)
    as_positive_int(n_references, "n_references")
    posteriors, refs = [], []
    for d in range(n_disorder):
        state = draw_quenched(model, process, t, seed=seed, disorder=d, key=key, source=source)
        posteriors.append(Posterior(model, process, state.x_t, t))
        refs.append(state.x0 if reference == "planted" else None)
    samples = _quenched_samples(posteriors, refs, q_grid, method, order_parameter, n_references, seed, key,
                                reference_sweeps, umbrella_options, bin_average)
    return samples if return_samples else samples.frame()


# -- minima, barrier and the fragmentation verdict ------------------------------------------------------
@dataclass(frozen=True)
class SecondaryMinimum:
    """The secondary minimum of a Franz-Parisi potential (extensive units: ``N V``).

    Attributes
    ----------
    q : Estimate
        Location (parabolic vertex through the three grid points around the grid minimum).
    depth : Estimate
        ``N (V_secondary - V_global)``: how far the metastable state lies above the global minimum.
    barrier : Estimate
        ``N (V_top - V_secondary)``, ``V_top`` the highest point between it and the global minimum.
    V : Estimate
        ``V`` at the minimum (per coordinate).
    q_barrier : float
        Location of the barrier top.
    """

    q: Estimate
    depth: Estimate
    barrier: Estimate
    V: Estimate
    q_barrier: float


def _local_minima(v):
    """Indices of local minima of a curve with NaN as infinite walls (boundaries count)."""
    w = np.where(np.isfinite(v), v, np.inf)
    out = []
    for i in range(w.size):
        if not np.isfinite(w[i]):
            continue
        left = w[i - 1] if i > 0 else np.inf
        right = w[i + 1] if i < w.size - 1 else np.inf
        if w[i] < left and w[i] <= right:
            out.append(i)
    return out


def _vertex(q, v, i, kind):
    """Parabolic vertex ``(q*, v*)`` through points ``i - 1, i, i + 1`` (the grid point if not available)."""
    if i == 0 or i == q.size - 1 or not np.isfinite(v[i - 1:i + 2]).all():
        return float(q[i]), float(v[i])
    x0, x1, x2 = q[i - 1:i + 2]
    y0, y1, y2 = v[i - 1:i + 2]
    d01, d12 = (y1 - y0) / (x1 - x0), (y2 - y1) / (x2 - x1)
    c = (d12 - d01) / (x2 - x0)
    if (kind == "min" and not c > 0) or (kind == "max" and not c < 0):
        return float(q[i]), float(v[i])
    b = d01 - c * (x0 + x1)
    xs = min(max(-b / (2.0 * c), x0), x2)
    return float(xs), float(y1 + d01 * (xs - x1) + c * (xs - x0) * (xs - x1))


class FranzParisi:
    """Franz-Parisi potential of a posterior (or of many disorder samples) and a fragmentation verdict.

    scikit-learn style: the constructor stores parameters, :meth:`fit` computes; results end in ``_``.

    Parameters
    ----------
    method, order_parameter, q_grid, n_references, seed, key, reference, reference_sweeps, bin_average :
        As in :func:`franz_parisi`.
    n_se : float
        Significance: a barrier must exceed ``n_se`` standard errors (default 4).
    min_barrier : float
        Minimum barrier in units of ``N V`` (i.e. of ``kT``; default 0.5): on exact curves
        (``stderr = 0``) this keeps grid-level dips from counting as states.
    umbrella_options : dict, optional
        Passed to ``replica.umbrella.umbrella_potential``.

    Criterion (stated, statistical)
    -------------------------------
    Local minima are found on the mean curve (uncovered points are infinite walls; the grid
    ends count). The lowest is the global minimum. For each other minimum the barrier is
    ``B = N (max V on the grid between it and the global minimum - V_min)``, with both ends
    refined by a parabola through three grid points. A minimum is a metastable state when
    ``B > n_se * SE(B)`` and ``B >= min_barrier``; ``SE(B)`` is the delete-one jackknife over
    units (references of one posterior, or disorder samples; blocks of units beyond 100) via
    :func:`replica.stats.jackknife`; for a precomputed DataFrame, ``N sqrt(se_top^2 + se_min^2)``.
    An infinite barrier (an uncovered gap) is significant. Without an error estimate (one drawn
    reference) no minimum is significant. The secondary minimum is the lowest significant one;
    ``fragmented_`` is whether one exists. Its location, depth and barrier carry jackknife errors.

    Attributes (after ``fit``)
    --------------------------
    potential_ : DataFrame
        ``q, V, stderr, n_references, covered, n_dim`` plus ``NV``, ``NV_stderr`` (extensive).
    minima_ : DataFrame
        One row per local minimum: ``q, V, stderr, NV, kind`` (``"global"``, ``"secondary"``,
        ``"local"``), ``barrier``, ``barrier_stderr`` (``N V`` units), ``significant``.
    barrier_ : Estimate or None
        Barrier of the secondary minimum (``N V`` units).
    secondary_minimum_ : SecondaryMinimum or None
    fragmented_ : bool
    evidence_ : dict
        The criterion, thresholds, error method and, per candidate minimum, the numbers and the reason.
    samples_ : FranzParisiSamples or None
        The per-unit curves (None for a DataFrame input).
    converged_ : bool or None
        Whether the curve comes from converged runs: True for the exact routes; for umbrella
        sampling whether every run's windows passed their convergence criteria
        (``samples_.diagnostics`` has the per-window records; ``replica.umbrella``); for a
        DataFrame input its ``attrs["converged"]`` (None when absent). Also in ``evidence_``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from replica import FranzParisi, yu_huang_potential
    >>> q = np.linspace(0.05, 8.0, 160)
    >>> curve = pd.DataFrame({"q": q, "V": yu_huang_potential(q, 1.0), "stderr": 0.0, "n_dim": 1})
    >>> FranzParisi().fit(curve).fragmented_
    True
    """

    def __init__(self, method="exact", order_parameter="overlap", q_grid=None, n_references=16, seed=None, key=(),
                 reference=None, reference_sweeps=2000, bin_average=False, n_se=4.0, min_barrier=0.5,
                 umbrella_options=None):
        self.method = method
        self.order_parameter = order_parameter
        self.q_grid = q_grid
        self.n_references = n_references
        self.seed = seed
        self.key = key
        self.reference = reference
        self.reference_sweeps = reference_sweeps
        self.bin_average = bin_average
        self.n_se = n_se
        self.min_barrier = min_barrier
        self.umbrella_options = umbrella_options

    def _samples(self, X):
        opts = dict(self.umbrella_options or {})
        common = dict(method=self.method, order_parameter=self.order_parameter, n_references=self.n_references,
                      seed=self.seed, key=tuple(self.key), reference_sweeps=self.reference_sweeps,
                      bin_average=self.bin_average)
        if isinstance(X, FranzParisiSamples):
            return X
        if isinstance(X, Posterior):
            return franz_parisi_samples(X, self.q_grid, reference=self.reference, **common, **opts)
        if isinstance(X, (list, tuple)) and X and all(isinstance(p, Posterior) for p in X):
            refs = self.reference if isinstance(self.reference, (list, tuple)) else [self.reference] * len(X)
            if len(refs) != len(X):
                raise ValueError(f"reference: {len(refs)} references for {len(X)} posteriors")
            return _quenched_samples(X, refs, self.q_grid, common["method"], common["order_parameter"],
                                     common["n_references"], common["seed"], common["key"],
                                     common["reference_sweeps"], opts, common["bin_average"])
        raise ValueError(
            "X: expected an mc.Posterior, a non-empty list of them, a DataFrame with columns q, V, stderr, n_dim, "
            f"or FranzParisiSamples; got {type(X).__name__}"
        )

    def fit(self, X):
        """Compute the potential of ``X`` and the verdict; returns ``self``.

        ``X``: an ``mc.Posterior`` (average over references), a list of posteriors (quenched
        average, one unit per posterior; ``reference`` is then one array used for all of them or
        a list with one entry per posterior), a :class:`FranzParisiSamples`, or a DataFrame with
        columns ``q, V, stderr, n_dim`` (a precomputed curve, e.g. Yu & Huang's).
        """
        n_se = as_scalar(self.n_se, "n_se", positive=True)
        min_barrier = as_scalar(self.min_barrier, "min_barrier", nonnegative=True)
        pandas = sys.modules.get("pandas")  # a DataFrame input implies pandas is imported
        if pandas is not None and isinstance(X, pandas.DataFrame):
            missing = {"q", "V", "stderr", "n_dim"} - set(X.columns)
            if missing:
                raise ValueError(f"X: the DataFrame lacks columns {sorted(missing)}")
            frame = X.reset_index(drop=True).copy()
            q = _check_grid(frame["q"].to_numpy(dtype=np.float64))
            samples, n_dim = None, as_positive_int(int(frame["n_dim"].iloc[0]), "n_dim")
            if "covered" not in frame.columns:
                frame["covered"] = np.isfinite(frame["V"].to_numpy(dtype=np.float64))
            converged = X.attrs.get("converged")
        else:
            samples = self._samples(X)
            frame, q, n_dim = samples.frame(), samples.q, samples.n_dim
            converged = samples.converged
        v = frame["V"].to_numpy(dtype=np.float64)
        se = frame["stderr"].to_numpy(dtype=np.float64)
        frame["NV"] = n_dim * v
        frame["NV_stderr"] = n_dim * se
        self.potential_, self.samples_, self.n_dim_ = frame, samples, n_dim
        self.converged_ = converged
        self._verdict(q, v, se, n_dim, samples, n_se, min_barrier)
        self.evidence_["converged"] = converged
        return self

    # -- the verdict ----------------------------------------------------------------------------------
    def _errors(self, samples, stats):
        """Jackknife standard errors of ``stats`` (functions of a mean curve) over units."""
        units = samples.units
        n = units.shape[0]
        finite = np.isfinite(units).all(axis=0)
        safe = np.where(finite, units, np.inf)
        g = min(n, _MAX_JACKKNIFE_BLOCKS)
        edges = np.linspace(0, n, g + 1).astype(int)
        sums = np.array([safe[edges[b]:edges[b + 1]].sum(axis=0) for b in range(g)])
        counts = np.diff(edges).astype(np.float64)
        out = []
        for stat in stats:
            def func(ids, stat=stat):
                ids = ids.astype(int)
                return stat(sums[ids].sum(axis=0) / counts[ids].sum())
            out.append(jackknife(np.arange(g, dtype=np.float64), func).stderr)
        return out

    def _verdict(self, q, v, se, n_dim, samples, n_se, min_barrier):
        import pandas as pd

        minima = _local_minima(v)
        crit = (f"a local minimum other than the global one is a metastable state when its barrier "
                f"B = N (V_top - V_min) exceeds {n_se:g} standard errors and {min_barrier:g} (units of N V)")
        n_units = samples.n_units if samples is not None else 1
        if samples is not None and n_units >= 2:
            err_method = "jackknife over units" + (" (blocks)" if n_units > _MAX_JACKKNIFE_BLOCKS else "")
        elif samples is not None and samples.exact:
            err_method = "exact (given reference)"
        else:
            err_method = "frame stderr"
        self.evidence_ = {"criterion": crit, "n_se": n_se, "min_barrier": min_barrier, "n_units": n_units,
                          "error_method": err_method, "candidates": []}
        self.barrier_ = None
        self.secondary_minimum_ = None
        self.fragmented_ = False
        if not minima:
            self.minima_ = pd.DataFrame(columns=["q", "V", "stderr", "NV", "kind", "barrier", "barrier_stderr",
                                                 "significant"])
            self.evidence_["reason"] = "no covered point: no minimum"
            return
        g = minima[int(np.argmin(v[minima]))]
        wall = np.where(np.isfinite(v), v, np.inf)

        def top_index(i, curve):
            lo, hi = sorted((i, g))
            inner = curve[lo + 1:hi]
            if inner.size == 0:
                return None
            return lo + 1 + int(np.argmax(np.where(np.isfinite(inner), inner, np.inf)))

        def stats_for(i):
            """Functions of a mean curve: q*, V*, depth, barrier of minimum i."""
            j = top_index(i, wall)

            def qstar(c):
                return _vertex(q, c, i, "min")[0]

            def vstar(c):
                return _vertex(q, c, i, "min")[1]

            def depth(c):
                return n_dim * (_vertex(q, c, i, "min")[1] - _vertex(q, c, g, "min")[1])

            def barrier(c):
                if j is None:
                    return 0.0
                if not np.isfinite(c[j]):
                    return math.inf
                return n_dim * (_vertex(q, c, j, "max")[1] - _vertex(q, c, i, "min")[1])
            return j, (qstar, vstar, depth, barrier)

        rows = []
        best = None
        for i in minima:
            j, fns = stats_for(i)
            qs, vs = _vertex(q, v, i, "min")
            if i == g:
                se_v = self._errors(samples, [fns[1]])[0] if (samples is not None and n_units >= 2) else se[i]
                rows.append({"q": qs, "V": vs, "stderr": se_v, "NV": n_dim * vs, "kind": "global",
                             "barrier": math.nan, "barrier_stderr": math.nan, "significant": True})
                continue
            b = fns[3](v)
            if samples is not None and n_units >= 2:
                errs = self._errors(samples, fns) if np.isfinite(b) else self._errors(samples, fns[:3]) + [0.0]
            else:
                se_b = 0.0 if not np.isfinite(b) else n_dim * math.hypot(se[j] if j is not None else 0.0, se[i])
                errs = [0.0 if se[i] == 0 else math.nan, se[i], n_dim * math.hypot(se[i], se[g]), se_b]
            se_b = errs[3]
            if not np.isfinite(se_b):
                significant, reason = False, "no error estimate for the barrier"
            elif b < min_barrier:
                significant, reason = False, f"barrier {b:.4g} below min_barrier {min_barrier:g}"
            elif not b > n_se * se_b:
                significant, reason = False, f"barrier {b:.4g} within {n_se:g} standard errors ({se_b:.3g})"
            else:
                significant, reason = True, f"barrier {b:.4g} > {n_se:g} x {se_b:.3g} and >= {min_barrier:g}"
            row = {"q": qs, "V": vs, "stderr": errs[1], "NV": n_dim * vs, "kind": "local", "barrier": b,
                   "barrier_stderr": se_b, "significant": significant}
            rows.append(row)
            self.evidence_["candidates"].append({"q": qs, "NV": n_dim * vs, "barrier": b, "barrier_stderr": se_b,
                                                 "significant": significant, "reason": reason})
            if significant and (best is None or vs < best[1]["V"]):
                q_top = float(q[j]) if j is not None and np.isfinite(v[j]) else math.nan
                if j is not None and np.isfinite(v[j]):
                    q_top = _vertex(q, v, j, "max")[0]
                best = (i, row, errs, fns, q_top)
        self.minima_ = pd.DataFrame(rows)
        if best is None:
            self.evidence_["reason"] = ("one minimum" if len(minima) == 1 else
                                        "no local minimum besides the global one passes the criterion")
            return
        i, row, errs, fns, q_top = best
        self.minima_.loc[self.minima_["q"] == row["q"], "kind"] = "secondary"
        method = "jackknife" if samples is not None and n_units >= 2 else "exact" if err_method.startswith("exact") \
            else "frame"
        self.secondary_minimum_ = SecondaryMinimum(
            q=Estimate(row["q"], errs[0], n=n_units, method=method),
            depth=Estimate(fns[2](v), errs[2], n=n_units, method=method),
            barrier=Estimate(row["barrier"], errs[3], n=n_units, method=method),
            V=Estimate(row["V"], errs[1], n=n_units, method=method),
            q_barrier=q_top,
        )
        self.barrier_ = self.secondary_minimum_.barrier
        self.fragmented_ = True
        self.evidence_["reason"] = (f"secondary minimum at q = {row['q']:.4g}, N V above the global minimum by "
                                    f"{self.secondary_minimum_.depth.value:.4g}, barrier {row['barrier']:.4g}")

    def __repr__(self):
        return (f"FranzParisi(method={self.method!r}, order_parameter={self.order_parameter!r}, "
                f"n_references={self.n_references!r}, n_se={self.n_se!r}, min_barrier={self.min_barrier!r})")
