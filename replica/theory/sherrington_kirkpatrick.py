"""The Sherrington-Kirkpatrick posterior: the de Almeida-Thouless line in diffusion time.

Prior (``mc.IsingPrior.sherrington_kirkpatrick``): ``p0(s) ~ exp(beta sum_{i<j} J_ij s_i s_j)``
on ``s in {-1, +1}^N``, ``J_ij ~ N(0, J^2 / N)``. Given a noisy state
``x_t = a_t s + sqrt(D_t) z``, the likelihood ``exp(-|x_t - a_t s|^2 / (2 D_t))`` is, since
``|s|^2 = N``, ``exp(sum_i h_i s_i)`` up to an s-independent factor, with

    h_i = a_t x_{t,i} / D_t                       (physics.md; not multiplied by beta),

so the posterior is the SK model at inverse temperature ``beta`` in the external field ``h``:
``p(s | x_t) ~ exp(beta sum_{i<j} J_ij s_i s_j + sum_i h_i s_i)``. For an unplanted state
``x_t ~ N(0, v I)`` drawn independently of the couplings, the ``h_i`` are independent
``N(0, H^2)`` with ``H^2 = a_t^2 v / D_t^2`` (:func:`sk_field_variance`). Caveat: a state drawn
by diffusing the SK prior itself (planted) is correlated with ``J`` and is not covered here.

Replica-symmetric (RS) theory in a Gaussian random field (derived, following de Almeida &
Thouless 1978 and Mezard, Parisi & Virasoro 1987). Write ``b = (beta J)^2``.

* Replica route. After the average over couplings the replicated single-site measure is
  ``exp(b sum_{a<c} q_ac s^a s^c + sum_a h s^a)``; the average over ``h ~ N(0, H^2)`` gives
  ``E_h exp(h sum_a s^a) = exp(H^2 sum_{a<c} s^a s^c + n H^2 / 2)``. A Gaussian random field of
  variance ``H^2`` is therefore exactly a constant shift ``b q_ac -> b q_ac + H^2`` of every
  off-diagonal overlap coupling. In the RS ansatz the single-site field is Gaussian with
  variance ``b q + H^2``: ``H^2`` enters additively inside the square root.
* Cavity route (same result). The cavity field on spin i is
  ``beta sum_j J_ij <s_j>_(i) + h_i``: the first term is Gaussian of variance ``b q`` (the
  ``J_ij`` are independent of the cavity magnetisations, ``q = (1/N) sum_j <s_j>^2``), the
  second is ``N(0, H^2)`` and independent of it (``h_i`` is independent of ``J`` and acts on
  site i only); the sum of independent centred Gaussians has variance ``b q + H^2``.

Hence, with ``z ~ N(0, 1)`` and ``Xi = sqrt(b q + H^2) z``,

    q         = E_z tanh^2(Xi)                                    (sk_rs_overlap),
    lambda_AT = 1 - b E_z sech^4(Xi)        (> 0: RS stable; < 0: RSB)   (sk_replicon).

The Hessian of the replicated free energy in ``q_ac`` is that of zero-field SK evaluated at the
shifted overlap (the shift is constant in ``q_ac``), so the replicon is the AT eigenvalue with
the Gaussian field variance folded into ``Xi``. The RS solution is unique for ``H^2 > 0`` and,
at ``H^2 = 0``, for ``b > 1`` besides ``q = 0`` (``q -> E tanh^2(sqrt(b q) z + h) / q`` is
strictly decreasing for any random h independent of z: the Latala-Guerra lemma, Talagrand
2011, "Mean field models for spin glasses" vol. I, Prop. A.14.1).

AT line (derived). ``E_z[1 - sech^4(sigma z)]`` increases from 0 to 1 with ``sigma``, so
``lambda_AT = 0`` fixes the effective field scale ``sigma_*`` by
``E_z[1 - sech^4(sigma_* z)] = 1 - 1/b`` (only for ``b > 1``); then ``q_* = E tanh^2(sigma_* z)``
and ``H^2_AT = sigma_*^2 - b q_*`` (:func:`sk_at_field_variance`). Since ``q(H^2)`` increases
with ``H^2`` (the RS map increases with ``H^2``), so does ``sigma^2 = b q + H^2``, and
``lambda_AT`` has the sign of ``H^2 - H^2_AT``. Near ``T_c``, with ``x = sigma_*^2``:
``E tanh^2 = x - 2 x^2 + (17/3) x^3``, ``E sech^4 = 1 - 2 x + 7 x^2 - (94/3) x^3``, giving
``H^2_AT = (4/3) x^3 + O(x^4)`` and ``1 - 1/b = 2 x + O(x^2)``, i.e.

    H^2_AT = (4/3) (beta J - 1)^3 (1 + O(beta J - 1)),

the cubic law of de Almeida & Thouless (their ``(h/J)^2 = (4/3)(1 - T/J)^3`` for a uniform
field; the Gaussian field has the same moments to this order). At zero field
``q = (beta J - 1) + O((beta J - 1)^2)``. At low temperature the Gaussian field, unlike a
uniform one, keeps a density of weak fields: ``E sech^4(sigma z) = (4/3) phi(0) / sigma
(1 + O(sigma^-2))`` (``int sech^4 = 4/3``), so ``sigma_* = (4/3) phi(0) (beta J)^2`` and

    H^2_AT = (8 / (9 pi)) (beta J)^4 (1 - O((beta J)^-2)),

the correction being ``b q_* / sigma_*^2``, between 0 and ``9 pi / (8 b)``.

In diffusion time. ``H^2(t) = v a_t^2 / D_t^2`` decreases with ``t`` (VP:
``v / (4 sinh^2 t)``; VE: ``v / (sigma^4 t^2)``), so the posterior of a low-temperature prior
(``beta J > 1``) is replica-symmetric for ``t < t_F`` and replica-symmetry broken (fragmented)
for ``t > t_F``, with ``H^2(t_F) = H^2_AT`` (:func:`sk_fragmentation_time`). A paramagnetic
prior (``beta J <= 1``) is RS at every field and never fragments.

Numerics. ``E_z f(sigma z)`` for ``f = tanh^2, sech^2, sech^4`` by the trapezoidal rule on the
real line (401 nodes, spacing ``0.2`` in ``z`` for ``sigma < 1`` and ``0.2`` in
``y = sigma z`` for ``sigma >= 1``, truncated at 40 units where the integrand is below
``1e-34``). The integrands are analytic in the strip ``|Im y| < pi/2`` (poles of tanh, sech),
so the error is ``~ exp(-2 pi 1.4 / 0.2) ~ 1e-19`` times a pole factor, at any ``sigma``.
Gauss-Hermite quadrature in ``z`` is not used: its nodes do not resolve the scale ``1/sigma``
of ``tanh(sigma z)`` (200 nodes: error ``3e-7`` at ``sigma = 2``, ``1e-4`` at ``sigma = 3``).

Notation: ``sigma`` is the standard deviation parameter of ``mc.VE(sigma)`` (``D_t = sigma^2 t``,
keyword-only, ignored for VP); ``v`` the variance per coordinate of the unplanted ``x_t``.

Sources
-------
* Sherrington & Kirkpatrick (1975), Phys. Rev. Lett. 35, 1792 (the model, RS equations).
* de Almeida & Thouless (1978), J. Phys. A 11, 983 (the replicon; the AT line, cubic near T_c).
* Mezard, Parisi & Virasoro (1987), "Spin glass theory and beyond" (cavity method, fields).
* Talagrand (2011), "Mean field models for spin glasses", vol. I (Latala-Guerra lemma).
* "derived": the random-field shift, the AT-line parametrisation by ``sigma_*``, the near-T_c
  prefactor and the times, worked out for this package above.

>>> round(sk_at_field_variance(2.0), 6), round(sk_fragmentation_time(2.0), 6)
(1.635957, 0.381588)
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from ._common import _RTOL, _array, _coefficients, _out, _process, _scalar, _sech2, _sigma

__all__ = [
    "sk_rs_overlap",
    "sk_replicon",
    "sk_at_field_variance",
    "sk_field_variance",
    "sk_fragmentation_time",
    "sk_rs_overlap_at_time",
]

#: Trapezoidal rule: half-width in nodes, node spacing, truncation (see the module docstring).
_HALF = 200
_STEP = 0.2
_K = np.arange(-_HALF, _HALF + 1, dtype=np.float64)
_PHI = np.exp(-0.5 * (_K * _STEP) ** 2) / math.sqrt(2.0 * math.pi)  # phi(z_k), sigma < 1


def _moments(sigma):
    """``(E tanh^2(sigma z), E[1 - sech^4(sigma z)], E sech^4(sigma z))``, ``z ~ N(0, 1)``.

    Trapezoidal rule with 401 nodes: for ``sigma < 1`` in ``z`` (spacing 0.2, ``|z| <= 40``), the
    small quantities ``tanh^2`` and ``1 - sech^4 = tanh^2 (1 + sech^2)`` summed directly (full
    relative precision as ``sigma -> 0``); for ``sigma >= 1`` in ``y = sigma z`` (spacing 0.2,
    ``|y| <= 40``, weights ``0.2 phi(y / sigma) / sigma``), ``E tanh^2 = 1 - E sech^2``.
    """
    if sigma == 0.0:
        return 0.0, 0.0, 1.0
    if sigma < 1.0:
        y = sigma * _STEP * _K
        w = _STEP * _PHI
        th2 = np.tanh(y) ** 2
        s2 = _sech2(y)
        e_th2 = float(np.dot(w, th2))
        e_one_minus_s4 = float(np.dot(w, th2 * (1.0 + s2)))
        return e_th2, e_one_minus_s4, float(np.dot(w, s2 * s2))
    y = _STEP * _K
    w = (_STEP / sigma) * np.exp(-0.5 * (y / sigma) ** 2) / math.sqrt(2.0 * math.pi)
    s2 = _sech2(y)
    e_s4 = float(np.dot(w, s2 * s2))
    return 1.0 - float(np.dot(w, s2)), 1.0 - e_s4, e_s4


def _bj(beta, J):
    beta = _scalar(beta, "beta", positive=True)
    J = _scalar(J, "J", positive=True)
    return beta * J


def _rs_overlap(bj, h2):
    """RS overlap for ``beta J = bj`` and field variance ``h2`` (checked inputs)."""
    b = bj * bj
    if h2 == 0.0:
        if bj <= 1.0:
            return 0.0

        def ratio(log_q):  # 1 - E tanh^2(sigma z) / q, sigma^2 = b q: increasing, -> 1 - b at q -> 0
            q = math.exp(log_q)
            sig = math.sqrt(b * q)
            if sig < 1.0:
                y = sig * _STEP * _K
                with np.errstate(invalid="ignore", divide="ignore"):
                    r = np.where(y == 0.0, 1.0, np.tanh(y) / np.where(y == 0.0, 1.0, y))
                return 1.0 - b * float(np.dot(_STEP * _PHI, (_STEP * _K) ** 2 * r * r))
            return 1.0 - _moments(sig)[0] / q

        lo = math.log(1e-300)
        return math.exp(brentq(ratio, lo, 0.0, xtol=1e-15, rtol=_RTOL, maxiter=500))

    def gap(log_q):  # q - F(q): negative below the root, positive above
        q = math.exp(log_q)
        return 1.0 - _moments(math.sqrt(b * q + h2))[0] / q

    q_lo = _moments(math.sqrt(h2))[0]  # F(0) <= q* since F increases
    if q_lo >= 1.0:
        return 1.0
    lo = math.log(q_lo)
    if gap(lo) >= 0.0:
        return q_lo
    if gap(0.0) <= 0.0:
        return 1.0
    return math.exp(brentq(gap, lo, 0.0, xtol=1e-15, rtol=_RTOL, maxiter=500))


def _replicon(bj, q, h2):
    b = bj * bj
    u = (bj - 1.0) * (bj + 1.0) / b  # 1 - 1/b
    return b * (_moments(math.sqrt(b * q + h2))[1] - u)


def sk_rs_overlap(beta, J=1.0, field_variance=0.0):
    """Replica-symmetric overlap ``q`` of SK in a Gaussian random field (derived; module docstring).

    Solves ``q = E_z tanh^2(sqrt((beta J)^2 q + H^2) z)``, ``H^2 = field_variance``, on the stable
    branch: ``q = 0`` for ``H^2 = 0`` and ``beta J <= 1``; otherwise the unique positive root
    (Latala-Guerra lemma), by Brent's method in ``log q`` on ``[log F(0), 0]`` (at ``H^2 = 0``:
    on ``1 - F(q) / q``, whose limit at ``q -> 0`` is ``1 - (beta J)^2 < 0``). Relative accuracy
    about ``1e-15``; at zero field, ``1e-16 / (beta J - 1)`` just above ``T_c``.

    ``H^2`` is the variance of the field in units of the Boltzmann weight (the field enters as
    ``sum_i h_i s_i``, not ``beta sum_i h_i s_i``). Near ``T_c`` at zero field,
    ``q = (beta J - 1) + O((beta J - 1)^2)``.

    Parameters
    ----------
    beta : float > 0
    J : float > 0
        Standard deviation of the couplings times ``sqrt(N)``.
    field_variance : float >= 0

    Returns
    -------
    float
    """
    bj = _bj(beta, J)
    h2 = _scalar(field_variance, "field_variance", nonnegative=True)
    return _rs_overlap(bj, h2)


def sk_replicon(beta, J=1.0, field_variance=0.0):
    """Replicon eigenvalue ``lambda_AT = 1 - (beta J)^2 E_z sech^4(sqrt((beta J)^2 q + H^2) z)``.

    At the RS overlap ``q`` of :func:`sk_rs_overlap` (de Almeida & Thouless 1978, with the
    Gaussian field variance ``H^2`` folded into the effective field: module docstring). Positive:
    the RS solution is stable; negative: replica symmetry is broken. Computed as
    ``b (E[1 - sech^4] - (1 - 1/b))``, ``b = (beta J)^2``, which keeps full precision near ``T_c``.
    At zero field it is ``1 - (beta J)^2`` for ``beta J <= 1`` and negative for every
    ``beta J > 1``.

    Parameters
    ----------
    beta : float > 0
    J : float > 0
    field_variance : float >= 0

    Returns
    -------
    float
    """
    bj = _bj(beta, J)
    h2 = _scalar(field_variance, "field_variance", nonnegative=True)
    return _replicon(bj, _rs_overlap(bj, h2), h2)


def _rs_spin_glass_susceptibility(bj, h2):
    q = _rs_overlap(bj, h2)
    e_s4 = _moments(math.sqrt(bj * bj * q + h2))[2]
    lam = _replicon(bj, q, h2)
    return e_s4 / lam if lam > 0.0 else math.nan


def sk_rs_spin_glass_susceptibility(beta, J=1.0, field_variance=0.0):
    """RS spin-glass susceptibility ``chi_SG = (1/N) sum_ij (<s_i s_j> - <s_i><s_j>)^2`` as N -> inf.

        chi_SG = E_z sech^4(Xi) / lambda_AT,    Xi = sqrt((beta J)^2 q + H^2) z,

    with ``q`` of :func:`sk_rs_overlap` and ``lambda_AT`` of :func:`sk_replicon`. Derivation
    (cavity, e.g. Binder & Young 1986, Sec. 4; Fischer & Hertz 1991, Ch. 3): the connected
    correlation ``C_ij`` (i != j) propagates from j to i through the neighbours of i,
    ``C_ij = (1 - m_i^2) sum_k beta J_ik C_kj``, and the ``J_ik`` are independent of the cavity
    correlations; squaring and averaging, ``chi_SG = E(1 - m^2)^2 + (beta J)^2 E(1 - m^2)^2 chi_SG``
    with ``1 - m^2 = sech^2(Xi)``. It diverges on the de Almeida-Thouless line, where
    ``lambda_AT = 0``; where the RS solution is unstable (``lambda_AT <= 0``) it returns NaN.
    At zero field and ``beta J < 1``: ``1 / (1 - (beta J)^2)``.

    Parameters
    ----------
    beta : float > 0
    J : float > 0
    field_variance : float >= 0

    Returns
    -------
    float
    """
    bj = _bj(beta, J)
    h2 = _scalar(field_variance, "field_variance", nonnegative=True)
    return _rs_spin_glass_susceptibility(bj, h2)


def sk_at_field_variance(beta, J=1.0):
    """Field variance ``H^2_AT`` on the de Almeida-Thouless line (derived; module docstring).

    For ``b = (beta J)^2 > 1``: solve ``E_z[1 - sech^4(sigma z)] = 1 - 1/b`` for ``sigma_*``
    (Brent's method in ``log sigma^2``; the left side increases with ``sigma``), then
    ``H^2_AT = sigma_*^2 - b E_z tanh^2(sigma_* z)``. For ``H^2 > H^2_AT`` the RS solution is stable
    (``lambda_AT > 0``), for ``H^2 < H^2_AT`` replica symmetry is broken. Near ``T_c``,
    ``H^2_AT = (4/3) (beta J - 1)^3 (1 + O(beta J - 1))``; the difference above cancels to a
    relative ``(beta J - 1)^2``, so the relative accuracy is about ``1e-16 / (beta J - 1)^2``.

    Returns ``nan`` for ``beta J <= 1``: the paramagnet is RS at any field.

    Parameters
    ----------
    beta : float > 0
    J : float > 0

    Returns
    -------
    float
    """
    bj = _bj(beta, J)
    if bj <= 1.0:
        return math.nan
    b = bj * bj
    u = (bj - 1.0) * (bj + 1.0) / b

    def excess(log_x):
        return _moments(math.sqrt(math.exp(log_x)))[1] - u

    lo = math.log(u / 4.0)  # E[1 - sech^4] <= 2 sigma^2 = u / 2 < u there
    hi = math.log(4.0 * b * b + 4.0)
    while excess(hi) <= 0.0:
        hi += math.log(4.0)
    x = math.exp(brentq(excess, lo, hi, xtol=1e-15, rtol=_RTOL, maxiter=500))
    return max(x - b * _moments(math.sqrt(x))[0], 0.0)


def sk_field_variance(t, v, process="vp", *, sigma=1.0):
    """Variance ``H^2 = a_t^2 v / D_t^2`` of the random field ``h = a_t x_t / D_t`` (physics.md).

    For an unplanted ``x_t ~ N(0, v I)`` independent of the couplings. VP:
    ``H^2 = v e^{-2t} / (1 - e^{-2t})^2 = v / (4 sinh^2 t)``; VE: ``H^2 = v / (sigma^4 t^2)``;
    both decrease with ``t``. In terms of the rescaled state ``y = x_t / a_t`` (variance
    ``v / a_t^2``) and ``s = D_t / a_t^2``: ``H^2 = (v / a_t^2) / s^2`` for both processes.

    Parameters
    ----------
    t : float or array, > 0
    v : float or array, > 0
        Variance per coordinate of ``x_t`` (broadcast against ``t``).
    process : {"vp", "ve"}
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)`` (ignored for VP).

    Returns
    -------
    float or array
    """
    proc = _process(process)
    sd = _sigma(sigma)
    tt = _array(t, "t", positive=True)
    vv = _array(v, "v", positive=True)
    with np.errstate(over="ignore", under="ignore"):
        a, D, _ = _coefficients(tt, proc, sd)
        out = vv * (a / D) ** 2
    return float(out) if out.ndim == 0 else out


def sk_fragmentation_time(beta, J=1.0, v=1.0, process="vp", *, sigma=1.0):
    """Time ``t_F`` at which the field variance ``H^2(t)`` crosses the AT line (derived).

    ``H^2(t_F) = H^2_AT`` (:func:`sk_field_variance`, :func:`sk_at_field_variance`). Since
    ``H^2(t)`` decreases with ``t``, the posterior is replica-symmetric for ``t < t_F`` and
    replica-symmetry broken (fragmented) for ``t > t_F``. Closed forms:

        VP: t_F = arcsinh( sqrt(v / H^2_AT) / 2 ),     VE: t_F = sqrt(v / H^2_AT) / sigma^2.

    ``t_F`` increases with ``v`` (a stronger field at a given ``t``) and decreases with ``beta J``
(a colder prior needs a stronger field to stay RS); ``t_F -> inf`` as ``beta J -> 1+``.

    Returns ``nan`` for ``beta J <= 1``: a paramagnetic prior never fragments.

    Parameters
    ----------
    beta : float > 0
    J : float > 0
    v : float > 0
        Variance per coordinate of the unplanted ``x_t``.
    process : {"vp", "ve"}
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)`` (ignored for VP).

    Returns
    -------
    float
    """
    proc = _process(process)
    sd = _sigma(sigma)
    vv = _scalar(v, "v", positive=True)
    h2 = sk_at_field_variance(beta, J)
    if math.isnan(h2):
        return math.nan
    if h2 == 0.0:
        return math.inf
    r = math.sqrt(vv / h2)
    return math.asinh(0.5 * r) if proc == "vp" else r / (sd * sd)


def sk_rs_overlap_at_time(t, beta, J=1.0, v=1.0, process="vp", *, sigma=1.0):
    """RS overlap ``q(t)`` of the SK posterior at field variance ``H^2(t) = a_t^2 v / D_t^2``.

    :func:`sk_rs_overlap` at :func:`sk_field_variance`. It is the physical overlap for
    ``t < t_F`` (:func:`sk_fragmentation_time`); for ``t > t_F`` it is the RS solution, which is
    unstable there (``lambda_AT < 0``: the true posterior is replica-symmetry broken and its
    overlap distribution is not a single ``q``). ``q -> 1`` as ``t -> 0``; for VP, ``q(t)`` tends to
    the zero-field value as ``t -> inf``.

    Parameters
    ----------
    t : float or array, > 0
    beta : float > 0
    J : float > 0
    v : float > 0
    process : {"vp", "ve"}
    sigma : float > 0, keyword-only
        Standard deviation parameter of ``mc.VE(sigma)`` (ignored for VP).

    Returns
    -------
    float or array
    """
    bj = _bj(beta, J)
    vv = _scalar(v, "v", positive=True)
    h2 = np.asarray(sk_field_variance(t, vv, process, sigma=sigma), dtype=np.float64)
    q = np.array([_rs_overlap(bj, float(x)) for x in h2.ravel()]).reshape(h2.shape)
    return _out(q, t)


def sk_rs_spin_glass_susceptibility_at_time(t, beta, J=1.0, v=1.0, process="vp", *, sigma=1.0):
    """RS spin-glass susceptibility of the SK posterior at ``H^2(t) = a_t^2 v / D_t^2``.

    :func:`sk_rs_spin_glass_susceptibility` at :func:`sk_field_variance`: finite for ``t < t_F``,
    diverging as ``t -> t_F`` from below (:func:`sk_fragmentation_time`), NaN for ``t >= t_F``.
    Parameters as in :func:`sk_rs_overlap_at_time`.
    """
    bj = _bj(beta, J)
    vv = _scalar(v, "v", positive=True)
    h2 = np.asarray(sk_field_variance(t, vv, process, sigma=sigma), dtype=np.float64)
    chi = np.array([_rs_spin_glass_susceptibility(bj, float(x)) for x in h2.ravel()]).reshape(h2.shape)
    return _out(chi, t)
