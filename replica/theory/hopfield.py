"""The Hopfield posterior: retrieval of a stored pattern in diffusion time (AGS theory in a field).

Prior (``mc.IsingPrior.hopfield``): ``log p0(s) = (beta / 2) s^T W s`` on ``s in {-1, +1}^N``,
``W = (1/N) sum_mu xi^mu xi^mu^T`` with zero diagonal, ``P = alpha N`` i.i.d. uniform patterns
``xi^mu in {-1, +1}^N`` (``alpha`` = ``loading``). Given a noisy state ``x_t = a_t x0 + sqrt(D_t) z``
the likelihood is ``exp(sum_i h_i s_i)`` up to an s-independent factor (``|s|^2 = N``), with

    h_i = a_t x_{t,i} / D_t                       (physics.md; not multiplied by beta).

Planted on pattern 1 (``x0 = xi^1``, the generative process regenerating a stored pattern;
caveat: ``xi^1`` itself, not a sample of ``p0`` near it), ``x_t = a_t xi^1 + sqrt(D_t) z`` and

    h_i = g xi^1_i + sqrt(g) z_i,     g = a_t^2 / D_t = 1 / s_t,

a field aligned with pattern 1 of strength ``g`` plus independent Gaussian noise of variance
``g``. The posterior is the Hopfield model at inverse temperature ``beta`` in the field ``h``:
``p(s | x_t) ~ exp((beta / 2) s^T W s + sum_i h_i s_i)``.

Replica-symmetric theory (derived, following Amit, Gutfreund & Sompolinsky 1985, 1987). The
gauge transformation ``s_i -> xi^1_i s_i`` maps pattern 1 to ``(1, ..., 1)`` and, since ``z_i``
is symmetric and independent of the patterns, ``h_i`` to ``g + sqrt(g) z2_i``; the patterns
``mu >= 2`` stay i.i.d. uniform. The AGS calculation then goes through unchanged except for the
single-site trace:

* the condensed overlap ``m = (1/N) sum_i xi^1_i s_i`` contributes ``beta m sum_a s^a`` to the
  replicated single-site Hamiltonian, the field ``h_i sum_a s^a``: the two add;
* the ``P - 1`` non-condensed overlaps are Gaussian (``O(N^-1/2)`` each); integrating them out
  gives ``-(alpha / 2) Tr log[(1 - beta) I - beta Q]`` with ``Q`` the replica overlap matrix
  (off-diagonal ``q_ab``) and, through the conjugate ``r_ab``, the coupling
  ``(alpha beta^2 / 2) sum_{a != b} r_ab s^a s^b`` in the single-site Hamiltonian. This part does
  not involve the field (it is site-independent and the field is independent of
  ``xi^mu, mu >= 2``), so the saddle-point equation for ``r`` is that of AGS;
* in the RS ansatz the ``r`` coupling is a Gaussian noise ``beta sqrt(alpha r) z1`` on each
  site, independent of the field noise ``sqrt(g) z2``.

With ``z1, z2`` independent standard normals, the RS equations are

    m = E tanh(X),   q = E tanh^2(X),   r = q / (1 - beta (1 - q))^2,
    X = beta m + g + beta sqrt(alpha r) z1 + sqrt(g) z2 = beta m + g + sigma z,
    sigma^2 = alpha beta^2 r + g                     (z ~ N(0, 1): one Gaussian average).

At ``g = 0`` they are the AGS equations ``m = E tanh(beta (m + sqrt(alpha r) z))``; at
``alpha = 0`` (``r`` drops out) the Mattis / Curie-Weiss mean field ``m = E tanh(beta m + g +
sqrt(g) z)`` (``J = 1``: ``W`` has the normalisation ``1 / N`` of the Curie-Weiss couplings of
:func:`replica.theory.curie_weiss_magnetisation`). A solution with ``alpha > 0`` requires
``1 - beta (1 - q) > 0`` (the Gaussian integral over the non-condensed overlaps converges).

Free energy (derived; AGS 1987 form with the field added). ``beta`` times the RS free energy per
spin, up to a constant independent of ``(m, q, r)``:

    Phi = beta m^2 / 2 + (alpha / 2) [log(1 - beta p) - beta q / (1 - beta p)]
          + (alpha beta^2 / 2) r p - E log 2 cosh(X),            p = 1 - q.

Its stationarity in ``m, r, q`` gives the three equations above (in ``r`` by Stein's lemma,
``E[z f(sigma z)] = sigma E f'``). Among the solutions at given ``(beta, alpha, g)``, the one of
least ``Phi`` is the thermodynamic state in the RS approximation (AGS compare retrieval and
spin-glass states this way: at ``T -> 0`` retrieval is globally stable for ``alpha < 0.051`` and
metastable up to ``alpha_c = 0.138``). RS is only an approximation for the spin-glass states
(and, slightly, for retrieval at low temperature); replica-symmetry breaking is not treated.

In diffusion time. ``g = 1 / s_t`` decreases with ``t`` (VP: ``s = e^{2t} - 1``; VE:
``s = sigma^2 t``): at small ``t`` the field forces ``m -> 1``; as ``t`` grows the field fades
and the retrieval overlap decreases towards its ``g = 0`` (AGS) value if ``alpha < alpha_c(beta)``,
or falls at a spinodal to the low-overlap branch otherwise (:func:`hopfield_retrieval_overlap`).

Numerics. ``p = 1 - q`` is the unknown used throughout (full precision as ``q -> 1``).

* Gaussian averages of ``tanh`` and ``sech^2`` of ``mu + sigma z`` by the trapezoidal rule with
  node spacing 0.2 (that of :mod:`~replica.theory.sherrington_kirkpatrick`): for ``sigma < 1``
  in ``z`` over ``[-10, 10]`` (101 nodes; the integrand is analytic for
  ``|Im z| < pi / (2 sigma)``, the truncated Gaussian tail is below ``1e-22``); for
  ``sigma >= 1`` in ``u`` over ``[-25, 25]`` (251 nodes, ``sech^2 u < 1e-21`` beyond) with the
  identities
  ``E sech^2(Y) = int sech^2(u) phi_sigma(u - mu) du`` and, from
  ``tanh y = int_{-inf}^y sech^2 - 1``, ``E tanh(Y) = int sech^2(u) [Phi((mu - u) / sigma) - 1/2] du``
  (smooth integrands decaying like ``e^{-2|u|}``: no truncation error however large ``sigma``,
  which reaches ``sqrt(g) >> 1`` at small ``t``). Error ~ ``1e-16``. Likewise
  ``E log 2 cosh(Y) = int sech^2(u) E(Y - u)_+ du - mu`` for the free energy.
* ``q`` and ``r`` are eliminated: at fixed ``m`` the ``q`` equation, written as
  ``E sech^2(X(p)) - p = 0`` on ``p in [0, min(1, 1 / beta))``, changes sign on that interval
  (``> 0`` at ``p = 0``; ``sigma -> inf`` and the left side ``-> -1 / beta`` as ``beta p -> 1``)
  and is solved by Brent's method. The remaining function of ``m``, ``E tanh(X) - m``, is scanned
  on a grid of ``[-1, 1]`` (uniform, spacing 0.01, plus a geometric grid ``1e-8 .. 1e-2`` about 0)
  and its sign changes refined by Brent's method; every root is accepted only if both equations
  hold to ``1e-12``. Pairs of roots closer than the grid spacing (at a spinodal) can be missed;
  if the ``q`` equation had several roots at some ``m``, only the bracketed one is followed.

Sources
-------
* Hopfield (1982), PNAS 79, 2554 (the model).
* Amit, Gutfreund & Sompolinsky (1985), Phys. Rev. Lett. 55, 1530; (1987), Ann. Phys. 173, 30
  (RS theory at finite loading, the equations for ``m, q, r``, the free energy,
  ``alpha_c(T = 0) = 0.138``).
* ``physics.md`` and ``mc.models.ising``: the field ``h = a_t x_t / D_t`` and the prior's
  normalisation.
* "derived": the site-dependent field added to the AGS single-site problem, the reduction to one
  Gaussian average, the quadrature identities and the times, worked out for this package above.

>>> sol = hopfield_rs_solutions(10.0, 0.05, 0.0)
>>> round(sol[0].m, 6), round(sol[0].q, 6), round(sol[1].m, 6)
(0.999954, 0.999924, 0.0)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr

from ._common import _RTOL, _array, _coefficients, _process, _scalar, _sech2, _sigma
from .sherrington_kirkpatrick import _STEP

__all__ = [
    "HopfieldRSSolution",
    "hopfield_rs_solutions",
    "hopfield_retrieval_overlap",
    "hopfield_retrieval_time",
    "hopfield_replicon",
    "hopfield_replicon_at_time",
    "hopfield_fragmentation_time",
]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_Z = _STEP * np.arange(-50, 51, dtype=np.float64)  # nodes in z (sigma < 1), |z| <= 10
_W_Z = _STEP * _INV_SQRT_2PI * np.exp(-0.5 * _Z * _Z)  # trapezoidal weights of phi(z)
_U = _STEP * np.arange(-125, 126, dtype=np.float64)  # nodes in u (sigma >= 1), |u| <= 25
_S2_U = _sech2(_U)  # sech^2 at the u nodes
#: Grid of m on which E tanh(X) - m is scanned for sign changes.
_GEO = np.geomspace(1e-8, 1e-2, 13)
_M_GRID = np.unique(np.concatenate([np.linspace(-1.0, 1.0, 201), _GEO, -_GEO, [0.0]]))
#: Acceptance threshold of a fixed point (both equations).
_ACCEPT = 1e-12


@dataclass(frozen=True)
class HopfieldRSSolution:
    """One replica-symmetric fixed point of the Hopfield posterior (module docstring).

    Attributes
    ----------
    m : float
        Overlap with the planted pattern (the one the field is aligned with).
    q : float
        Edwards-Anderson overlap ``E tanh^2(X)``.
    r : float
        AGS noise parameter ``q / (1 - beta (1 - q))^2``; ``nan`` at ``loading = 0`` where the
        denominator is not positive (``r`` is then irrelevant).
    free_energy : float
        ``Phi``: ``beta`` times the RS free energy per spin, up to a constant common to all the
        solutions at the same ``(beta, loading, g)``; the least is the RS thermodynamic state.
    residual : float
        ``max(|E tanh(X) - m|, |E tanh^2(X) - q|)`` as computed here.
    """

    m: float
    q: float
    r: float
    free_energy: float
    residual: float


# ------------------------------------------------------------------------------------------
# Gaussian averages
# ------------------------------------------------------------------------------------------
def _averages(mu, sigma):
    """``(E tanh(Y), E sech^2(Y))`` for ``Y = mu + sigma z``, ``z ~ N(0, 1)`` (module docstring)."""
    if sigma < 1.0:
        y = mu + sigma * _Z
        e_tanh = 0.0 if mu == 0.0 else float(np.dot(_W_Z, np.tanh(y)))
        return e_tanh, float(np.dot(_W_Z, _sech2(y)))
    x = (mu - _U) / sigma
    w = _S2_U * (_STEP / sigma * _INV_SQRT_2PI) * np.exp(-0.5 * x * x)
    e_s2 = float(np.sum(w))
    e_tanh = 0.0 if mu == 0.0 else float(np.dot(_STEP * _S2_U, ndtr(x) - 0.5))
    return e_tanh, e_s2


def _e_log2cosh(mu, sigma):
    """``E log 2 cosh(mu + sigma z)`` (module docstring)."""
    if sigma < 1.0:
        y = np.abs(mu + sigma * _Z)
        return float(np.dot(_W_Z, y + np.log1p(np.exp(-2.0 * y))))
    x = (mu - _U) / sigma
    e_plus = (mu - _U) * ndtr(x) + sigma * _INV_SQRT_2PI * np.exp(-0.5 * x * x)  # E (Y - u)_+
    return float(np.dot(_STEP * _S2_U, e_plus)) - mu


def _e_sech4(mu, sigma):
    """``E sech^4(mu + sigma z)`` by the rules of :func:`_averages`."""
    if sigma < 1.0:
        s2 = _sech2(mu + sigma * _Z)
        return float(np.dot(_W_Z, s2 * s2))
    x = (mu - _U) / sigma
    return float(np.sum(_S2_U * _S2_U * (_STEP / sigma * _INV_SQRT_2PI) * np.exp(-0.5 * x * x)))


# ------------------------------------------------------------------------------------------
# RS equations
# ------------------------------------------------------------------------------------------
def _r_of_p(p, beta):
    d = 1.0 - beta * p
    q = 1.0 - p
    if q == 0.0:
        return 0.0 if d > 0.0 else math.nan
    return q / (d * d) if d > 0.0 else math.nan


def _sigma_of_p(p, beta, alpha, g):
    if alpha == 0.0:
        return math.sqrt(g)
    return math.sqrt(g + alpha * beta * beta * _r_of_p(p, beta))


def _solve_p(m, beta, alpha, g):
    """``p = 1 - q`` solving ``E sech^2(X) = p`` at fixed ``m`` (``q`` and ``r`` eliminated)."""
    mu = beta * m + g
    if alpha == 0.0:
        return _averages(mu, math.sqrt(g))[1]

    def gap(p):
        return _averages(mu, _sigma_of_p(p, beta, alpha, g))[1] - p

    if gap(0.0) <= 0.0:
        return 0.0
    if beta < 1.0:
        hi = 1.0
        if gap(hi) >= 0.0:
            return hi
    else:
        hi = (1.0 - 1e-13) / beta  # gap(hi) ~ -1 / beta: sigma ~ 1e13
    return brentq(gap, 0.0, hi, xtol=1e-300, rtol=_RTOL, maxiter=500)


def _m_gap(m, beta, alpha, g):
    """``E tanh(X) - m`` after eliminating ``q`` and ``r``; also returns ``p``."""
    p = _solve_p(m, beta, alpha, g)
    e_tanh = _averages(beta * m + g, _sigma_of_p(p, beta, alpha, g))[0]
    return e_tanh - m, p


def _solution(m, p, beta, alpha, g):
    """The :class:`HopfieldRSSolution` at ``(m, p)``, or None if the equations fail at ``_ACCEPT``."""
    sig = _sigma_of_p(p, beta, alpha, g)
    if not math.isfinite(sig):
        return None
    mu = beta * m + g
    e_tanh, e_s2 = _averages(mu, sig)
    res = max(abs(e_tanh - m), abs(e_s2 - p))
    if not res <= _ACCEPT:
        return None
    q = 1.0 - p
    r = _r_of_p(p, beta)
    phi = 0.5 * beta * m * m - _e_log2cosh(mu, sig)
    if alpha > 0.0:
        d = 1.0 - beta * p
        phi += 0.5 * alpha * (math.log(d) - beta * q / d) + 0.5 * alpha * beta * beta * r * p
    return HopfieldRSSolution(float(m), float(q), float(r), float(phi), float(res))


def _refine(lo, hi, beta, alpha, g):
    m = brentq(lambda x: _m_gap(x, beta, alpha, g)[0], lo, hi, xtol=1e-15, rtol=_RTOL, maxiter=500)
    return _solution(m, _m_gap(m, beta, alpha, g)[1], beta, alpha, g)


def _all_solutions(beta, alpha, g):
    vals = np.array([_m_gap(m, beta, alpha, g)[0] for m in _M_GRID])
    found = []
    for i, v in enumerate(vals):
        if v == 0.0:
            found.append(_solution(_M_GRID[i], _m_gap(_M_GRID[i], beta, alpha, g)[1], beta, alpha, g))
    for i in np.flatnonzero(vals[:-1] * vals[1:] < 0):
        found.append(_refine(_M_GRID[i], _M_GRID[i + 1], beta, alpha, g))
    out = []
    for s in sorted((s for s in found if s is not None), key=lambda s: -s.m):
        if not out or abs(out[-1].m - s.m) > 1e-9:
            out.append(s)
    return out


def _largest_solution(beta, alpha, g):
    """The solution of largest ``m``: scan the grid down from ``m = 1`` (``E tanh - 1 < 0``)."""
    upper, (v_up, p_up) = 1.0, _m_gap(1.0, beta, alpha, g)
    if v_up == 0.0:  # strong field: E tanh(X) = 1 in double precision
        return _solution(1.0, p_up, beta, alpha, g)
    for m in _M_GRID[-2::-1]:
        v = _m_gap(m, beta, alpha, g)[0]
        if v == 0.0:
            return _solution(m, _m_gap(m, beta, alpha, g)[1], beta, alpha, g)
        if v * v_up < 0.0:
            return _refine(m, upper, beta, alpha, g)
        upper, v_up = m, v
    return None


# ------------------------------------------------------------------------------------------
# public functions
# ------------------------------------------------------------------------------------------
def hopfield_rs_solutions(beta, loading, g):
    """All replica-symmetric fixed points ``(m, q, r)`` of the Hopfield posterior in the field ``g``.

    Solves (module docstring; derived from Amit, Gutfreund & Sompolinsky 1987)

        m = E tanh(X),  q = E tanh^2(X),  r = q / (1 - beta (1 - q))^2,
        X = beta m + g + sqrt(alpha beta^2 r + g) z,   z ~ N(0, 1),

    for the field ``h_i = g xi^1_i + sqrt(g) z_i`` planted on pattern 1 (``g = 1 / s_t``). At
    ``g = 0`` these are the AGS equations, at ``loading = 0`` the Curie-Weiss (Mattis) mean field.
    ``q`` and ``r`` are eliminated at fixed ``m`` (Brent's method on ``p = 1 - q``) and the
    remaining equation in ``m`` is scanned on ``[-1, 1]`` for sign changes, refined by Brent's
    method; unstable solutions are found too. Roots closer than the grid spacing ``0.01`` (near a
    spinodal) can be missed. Each solution satisfies both equations to ``1e-12``.

    Parameters
    ----------
    beta : float > 0
        Inverse temperature of the prior (``log p0 = (beta / 2) s^T W s``).
    loading : float >= 0
        ``alpha = P / N``.
    g : float >= 0
        Field strength ``a_t^2 / D_t = 1 / s_t`` (not multiplied by ``beta``).

    Returns
    -------
    list of HopfieldRSSolution
        By decreasing ``m``; the one of least ``free_energy`` is the RS thermodynamic state.
        Solutions with ``m < 0`` (states anti-aligned with the pattern) are included; at
        ``g = 0`` they mirror those with ``m > 0``.
    """
    beta = _scalar(beta, "beta", positive=True)
    alpha = _scalar(loading, "loading", nonnegative=True)
    g = _scalar(g, "g", nonnegative=True)
    return _all_solutions(beta, alpha, g)


def hopfield_retrieval_overlap(t, beta, loading, process="vp", *, sigma=1.0):
    """Retrieval overlap ``m(t)`` of the Hopfield posterior planted on a stored pattern (derived).

    The RS solution of largest ``m`` (:func:`hopfield_rs_solutions`) at the field strength
    ``g = a_t^2 / D_t = 1 / s_t``. At small ``t`` (strong field) it is the only solution and
    ``m -> 1``; as ``t`` grows it is the retrieval branch continued from small ``t``, which
    decreases with ``t``. If the retrieval branch ends at a spinodal (``loading`` above the
    ``g = 0`` capacity ``alpha_c(beta)``), the values beyond it are those of the next (lower)
    branch, the one a continuation falls to: ``m(t)`` then drops discontinuously. For VP,
    ``g -> 0`` and ``m(t)`` tends to the AGS retrieval overlap as ``t -> inf``. Whether the
    retrieval state is the global RS minimum is not checked here (compare ``free_energy`` in
    :func:`hopfield_rs_solutions`).

    Parameters
    ----------
    t : float or array, > 0
    beta : float > 0
    loading : float >= 0
    process : {"vp", "ve"}
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)`` (ignored for VP).

    Returns
    -------
    float or ndarray
        ``m(t)``, shaped like ``t``; ``nan`` where no solution was found.
    """
    proc = _process(process)
    sd = _sigma(sigma)
    tt = _array(t, "t", positive=True)
    beta = _scalar(beta, "beta", positive=True)
    alpha = _scalar(loading, "loading", nonnegative=True)
    with np.errstate(over="ignore"):
        _, _, s = _coefficients(tt, proc, sd)
    gg = 1.0 / np.asarray(s, dtype=np.float64)  # s = inf (VP, t > ~354): g = 0
    out = np.empty(gg.size)
    for i, g in enumerate(gg.ravel()):
        sol = _largest_solution(beta, alpha, float(g))
        out[i] = math.nan if sol is None else sol.m
    out = out.reshape(gg.shape)
    return float(out) if np.ndim(t) == 0 else out


#: Bisection steps in log t of :func:`hopfield_retrieval_time` (relative precision 2^-50 of the
#: bracket's log extent) and the largest time it looks at.
_RETRIEVAL_BISECTIONS = 50
RETRIEVAL_T_MAX = 50.0


def hopfield_retrieval_time(beta, loading, process="vp", *, level=0.5, sigma=1.0):
    """Time ``t_R`` at which the RS retrieval overlap ``m(t)`` (:func:`hopfield_retrieval_overlap`)
    falls through ``level`` (derived from the AGS equations in the field, module docstring).

    As t decreases the field ``g = 1 / s_t`` of a pattern-planted ``x_t`` grows and ``m(t)`` rises
    to 1: ``t_R`` is where the posterior retrieves the planted pattern (speciation onto it). Where
    the retrieval branch ends at a spinodal above ``level`` (loading above the capacity
    ``alpha_c(beta)`` of the prior), ``m`` jumps through ``level`` there and ``t_R`` is the
    spinodal. Found by bisection in ``log t`` on ``[1e-4, RETRIEVAL_T_MAX]`` with ``m`` decreasing in
    t; ``inf`` when ``m(RETRIEVAL_T_MAX) >= level`` (retrieval at every t: the prior alone
    retrieves, below its capacity), ``nan`` when ``m`` is below ``level`` already at ``t = 1e-4``.

    >>> round(hopfield_retrieval_time(2.0, 0.15), 3)       # m(t) drops smoothly through 1/2
    0.658
    >>> hopfield_retrieval_time(2.0, 0.03)                  # below capacity: retrieval at every t
    inf
    """
    level = _scalar(level, "level", positive=True)
    if level >= 1:
        raise ValueError(f"level: must lie in (0, 1), got {level}")

    def gap(t):
        return hopfield_retrieval_overlap(t, beta, loading, process, sigma=sigma) - level

    lo, hi = math.log(1e-4), math.log(RETRIEVAL_T_MAX)
    g_lo, g_hi = gap(math.exp(lo)), gap(math.exp(hi))
    if not (g_lo >= 0):
        return math.nan
    if g_hi >= 0:
        return math.inf
    for _ in range(_RETRIEVAL_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if gap(math.exp(mid)) >= 0:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))


# ------------------------------------------------------------------------------------------
# stability of the RS solution: replicon and fragmentation time
# ------------------------------------------------------------------------------------------
def hopfield_replicon(beta, loading, g, solution):
    """Replicon eigenvalue of an RS fixed point of the Hopfield posterior in the field ``g``:

        lambda_AT = 1 - alpha beta^2 E sech^4(X) / (1 - beta (1 - q))^2,
        X = beta m + g + sqrt(alpha beta^2 r + g) z.

    The de Almeida-Thouless condition of Amit, Gutfreund & Sompolinsky (1987, Sec. 4) for the
    retrieval and spin-glass states; derived here with the field in the single-site average, as
    for the RS equations (module docstring): the ``Tr log`` term of the non-condensed overlaps
    gives the factor ``alpha beta^2 / (1 - beta p)^2`` on the replicon subspace, independent of
    the field, and the single-site trace gives ``E sech^4(X)``. Positive: the RS solution is
    stable; negative: replica symmetry is broken (fragmented posterior). At the paramagnet
    (``m = q = 0``, ``g = 0``) it is ``1 - alpha beta^2 / (1 - beta)^2``, which vanishes at the AGS
    spin-glass temperature ``T_g = 1 + sqrt(alpha)``.

    Parameters
    ----------
    beta, loading, g : as in :func:`hopfield_rs_solutions`
    solution : HopfieldRSSolution
        A fixed point at these parameters.

    Returns
    -------
    float
    """
    beta = _scalar(beta, "beta", positive=True)
    alpha = _scalar(loading, "loading", nonnegative=True)
    g = _scalar(g, "g", nonnegative=True)
    if not isinstance(solution, HopfieldRSSolution):
        raise ValueError(f"solution: expected a HopfieldRSSolution, got {type(solution).__name__}")
    return _replicon(beta, alpha, g, solution)


def _replicon(beta, alpha, g, sol):
    if alpha == 0.0:
        return 1.0
    p = 1.0 - sol.q
    d = 1.0 - beta * p
    return 1.0 - alpha * beta * beta * _e_sech4(beta * sol.m + g, _sigma_of_p(p, beta, alpha, g)) / (d * d)


def _g_of_t(t, process, sigma):
    with np.errstate(over="ignore"):
        _, _, s = _coefficients(t, process, sigma)
    return 1.0 / np.asarray(s, dtype=np.float64)


def hopfield_replicon_at_time(t, beta, loading, process="vp", *, sigma=1.0):
    """Replicon ``lambda_AT(t)`` (:func:`hopfield_replicon`) on the branch of
    :func:`hopfield_retrieval_overlap` (the retrieval branch continued from small t, then the
    branch it falls to beyond a spinodal) at ``g = 1 / s_t``. ``nan`` where no solution was
    found. Parameters as in :func:`hopfield_retrieval_overlap`."""
    proc = _process(process)
    sd = _sigma(sigma)
    tt = _array(t, "t", positive=True)
    beta = _scalar(beta, "beta", positive=True)
    alpha = _scalar(loading, "loading", nonnegative=True)
    gg = _g_of_t(tt, proc, sd)
    out = np.empty(gg.size)
    for i, g in enumerate(gg.ravel()):
        sol = _largest_solution(beta, alpha, float(g))
        out[i] = math.nan if sol is None else _replicon(beta, alpha, float(g), sol)
    out = out.reshape(gg.shape)
    return float(out) if np.ndim(t) == 0 else out


#: Log-spaced times on which :func:`hopfield_fragmentation_time` looks for the first sign change.
_FRAGMENTATION_SCAN = 60


def hopfield_fragmentation_time(beta, loading, process="vp", *, sigma=1.0):
    """Time ``t_F`` beyond which the RS state of the pattern-planted Hopfield posterior is unstable.

    The smallest ``t`` where the replicon on the branch of :func:`hopfield_retrieval_overlap`
    (:func:`hopfield_replicon_at_time`) becomes negative: the posterior is replica-symmetric for
    ``t < t_F`` and fragmented (replica symmetry broken) beyond, until the large-t prior. Where the
    retrieval branch stays stable up to its spinodal and the branch it falls to is unstable
    (loading above the prior's capacity), ``t_F`` is that spinodal, equal to the ``t_R`` of
    :func:`hopfield_retrieval_time`. Found by a scan of ``_FRAGMENTATION_SCAN`` log-spaced times in
    ``[1e-3, RETRIEVAL_T_MAX]`` and bisection in ``log t`` (50 steps) on the first sign change;
    ``inf`` if the replicon stays positive (e.g. below capacity at high enough temperature), ``nan``
    if it is negative at ``t = 1e-3``.
    """
    def lam(t):
        return hopfield_replicon_at_time(t, beta, loading, process, sigma=sigma)

    grid = np.geomspace(1e-3, RETRIEVAL_T_MAX, _FRAGMENTATION_SCAN)
    values = np.array([lam(t) for t in grid])
    if not values[0] > 0:
        return math.nan
    negative = np.flatnonzero(~(values > 0))
    if negative.size == 0:
        return math.inf
    lo, hi = math.log(grid[negative[0] - 1]), math.log(grid[negative[0]])
    for _ in range(_RETRIEVAL_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if lam(math.exp(mid)) > 0:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))
