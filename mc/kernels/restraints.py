"""Log priors with a harmonic restraint on an order parameter (umbrella sampling; Numba).

Umbrella window ``k`` adds the restraint ``R_k(x) = (kappa N / 2) (q(x) - q_k)^2`` to the
posterior energy; for the continuous kernels (``continuous.py``) that is a log prior
``log p0(x) - R_k(x)`` with gradient ``grad log p0(x) - grad R_k(x)``. Two order parameters:

* linear, ``q = x . u / N + c0``: ``grad R_k = kappa (q - q_k) u``;
* squared distance, ``Q = |x - r|^2 / N``: ``grad R_k = 2 kappa (Q - Q_k) (x - r)``.

Every function has the signature of ``priors.py``, ``f(x, params, grad_out) -> log p0(x) - R(x)``,
so the sampler runs them as user priors. ``params = (inner_params, v, restraint)`` with
``inner_params`` the parameter tuple of the unrestrained prior, ``v`` the direction ``u`` (linear)
or the reference ``r`` (distance), and ``restraint = [kappa, q_k, c0]`` (``c0`` unused for the
distance). The wrappers of the built-in mixture priors are module-level functions (compiled once
and cached on disk); :func:`restrained_prior` builds the same wrapper around any other ``@njit``
prior (compiled in each process, not cached).

Replica exchange between windows (``replica.umbrella``, ``window_exchange=True``):
:func:`run_window_exchange` moves one configuration per window and replica (MALA, HMC or RWM, as
``continuous.py``), and every ``exchange_every`` sweeps swaps the configurations of neighbouring
windows (:func:`exchange_slots`; Sugita, Kitao & Okamoto 2000, J. Chem. Phys. 113, 6042): for two
windows on the same posterior the posterior energy cancels and the swap is accepted with
``min(1, exp(-[R_k(x_{k+1}) + R_{k+1}(x_k) - R_k(x_k) - R_{k+1}(x_{k+1})]))``, which needs only the
two values of q. Windows may carry a ladder of further slots (target ``p0^tp exp(tl (phi_lik -
R_k))``, Hamiltonian ``tp = tl = beta`` or likelihood ``tp = 1``, ``tl = l``) whose rungs swap
by the same rule with the full reduced potentials; a rung at the prior (``tl = 0``) can take a fresh
prior draw at every sweep (an exact, independent move on that rung's target).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .priors import gaussian_mixture_diagonal, gaussian_mixture_full
from .rng import load_state, normal_local, store_state, uniform_local

__all__ = [
    "linear_restraint",
    "distance_restraint",
    "linear_gaussian_mixture_diagonal",
    "linear_gaussian_mixture_full",
    "distance_gaussian_mixture_diagonal",
    "distance_gaussian_mixture_full",
    "restrained_prior",
    "LINEAR",
    "DISTANCE",
    "order_values",
    "exchange_slots",
    "track_round_trips",
    "run_window_exchange",
]


@njit(cache=True, inline="always")
def linear_restraint(x, grad_out, u, restraint):
    """Subtract ``kappa (q - q_k) u`` from ``grad_out``; return ``-R = -(kappa N / 2)(q - q_k)^2``
    with ``q = x . u / N + c0`` and ``restraint = [kappa, q_k, c0]``."""
    n = x.size
    acc = 0.0
    for i in range(n):
        acc += x[i] * u[i]
    d = acc / n + restraint[2] - restraint[1]
    kd = restraint[0] * d
    for i in range(n):
        grad_out[i] -= kd * u[i]
    return -0.5 * n * kd * d


@njit(cache=True, inline="always")
def distance_restraint(x, grad_out, r, restraint):
    """Subtract ``2 kappa (Q - Q_k)(x - r)`` from ``grad_out``; return ``-(kappa N / 2)(Q - Q_k)^2``
    with ``Q = |x - r|^2 / N`` and ``restraint = [kappa, Q_k, unused]``."""
    n = x.size
    acc = 0.0
    for i in range(n):
        di = x[i] - r[i]
        acc += di * di
    d = acc / n - restraint[1]
    kd = restraint[0] * d
    for i in range(n):
        grad_out[i] -= 2.0 * kd * (x[i] - r[i])
    return -0.5 * n * kd * d


@njit(cache=True)
def linear_gaussian_mixture_diagonal(x, params, grad_out):
    """``priors.gaussian_mixture_diagonal`` with a linear restraint."""
    inner, u, restraint = params
    lp = gaussian_mixture_diagonal(x, inner, grad_out)
    return lp + linear_restraint(x, grad_out, u, restraint)


@njit(cache=True)
def linear_gaussian_mixture_full(x, params, grad_out):
    """``priors.gaussian_mixture_full`` with a linear restraint."""
    inner, u, restraint = params
    lp = gaussian_mixture_full(x, inner, grad_out)
    return lp + linear_restraint(x, grad_out, u, restraint)


@njit(cache=True)
def distance_gaussian_mixture_diagonal(x, params, grad_out):
    """``priors.gaussian_mixture_diagonal`` with a squared-distance restraint."""
    inner, r, restraint = params
    lp = gaussian_mixture_diagonal(x, inner, grad_out)
    return lp + distance_restraint(x, grad_out, r, restraint)


@njit(cache=True)
def distance_gaussian_mixture_full(x, params, grad_out):
    """``priors.gaussian_mixture_full`` with a squared-distance restraint."""
    inner, r, restraint = params
    lp = gaussian_mixture_full(x, inner, grad_out)
    return lp + distance_restraint(x, grad_out, r, restraint)


_BUILT = {
    (gaussian_mixture_diagonal, "linear"): linear_gaussian_mixture_diagonal,
    (gaussian_mixture_full, "linear"): linear_gaussian_mixture_full,
    (gaussian_mixture_diagonal, "distance"): distance_gaussian_mixture_diagonal,
    (gaussian_mixture_full, "distance"): distance_gaussian_mixture_full,
}


def restrained_prior(log_prior_grad, kind):
    """The restrained version of ``log_prior_grad`` (``kind`` ``"linear"`` or ``"distance"``).

    The built-in mixture priors map to the cached module-level wrappers; any other ``@njit``
    prior gets a wrapper made here (one per prior and kind, kept for the life of the process).
    """
    if kind not in ("linear", "distance"):
        raise ValueError(f"kind: expected 'linear' or 'distance', got {kind!r}")
    key = (log_prior_grad, kind)
    if key not in _BUILT:
        f = log_prior_grad
        if kind == "linear":

            @njit
            def wrapped(x, params, grad_out):
                inner, u, restraint = params
                lp = f(x, inner, grad_out)
                return lp + linear_restraint(x, grad_out, u, restraint)

        else:

            @njit
            def wrapped(x, params, grad_out):
                inner, r, restraint = params
                lp = f(x, inner, grad_out)
                return lp + distance_restraint(x, grad_out, r, restraint)

        _BUILT[key] = wrapped
    return _BUILT[key]


# ---------------------------------------------------------------------------------------------
# replica exchange between umbrella windows (and tempered rungs of some windows)
LINEAR, DISTANCE = 0, 1
RWM, MALA, HMC = 0, 1, 2  # the method codes of ``continuous.py``


@njit(cache=True, inline="always")
def _slot_target(lp, gp, x, y, inv_s, v, kind, c0, tp, tl, kappa, centre, g):
    """``tp log p0 + tl (phi_lik - R)`` of one slot at ``x`` (gradient into ``g``), ``q(x)`` and the
    posterior energy ``H = -log p0 + |y - x|^2 / (2 s)`` (``phi_lik = -|y - x|^2 / (2 s)``)."""
    n = x.size
    lik = 0.0
    acc = 0.0
    if kind == LINEAR:
        for i in range(n):
            d = y[i] - x[i]
            lik += d * d
            acc += x[i] * v[i]
        q = acc / n + c0
    else:
        for i in range(n):
            d = y[i] - x[i]
            lik += d * d
            e = x[i] - v[i]
            acc += e * e
        q = acc / n
    kd = kappa * (q - centre)
    if kind == LINEAR:
        for i in range(n):
            g[i] = tp * gp[i] + tl * ((y[i] - x[i]) * inv_s - kd * v[i])
    else:
        for i in range(n):
            g[i] = tp * gp[i] + tl * ((y[i] - x[i]) * inv_s - 2.0 * kd * (x[i] - v[i]))
    h = -lp + 0.5 * inv_s * lik
    return tp * lp - tl * (0.5 * inv_s * lik + 0.5 * n * kd * (q - centre)), q, h


@njit(cache=True)
def order_values(x, v, kind, c0, out):
    """``out[r, c] = q(x[r, c])``: ``x . v / N + c0`` (LINEAR) or ``|x - v|^2 / N`` (DISTANCE)."""
    n_rep, n_chain, n = x.shape
    for r in range(n_rep):
        for c in range(n_chain):
            acc = 0.0
            for i in range(n):
                if kind == LINEAR:
                    acc += x[r, c, i] * v[i]
                else:
                    e = x[r, c, i] - v[i]
                    acc += e * e
            out[r, c] = acc / n + (c0 if kind == LINEAR else 0.0)


@njit(cache=True)
def exchange_slots(qc, hc, lp, n, slot_window, slot_theta, kappas, centres, pair_a, pair_b, pair_parity, parity,
                   chain_at, slot_of, rng, ex_att, ex_acc):
    """One round of swaps between the pairs of slots ``(pair_a[p], pair_b[p])`` whose
    ``pair_parity[p] == parity``, in the order of ``p``, each accepted with probability
    ``min(1, exp(-Delta))``, ``Delta = u_a(x_b) + u_b(x_a) - u_a(x_a) - u_b(x_b)`` with the reduced
    potential ``u_s(x) = -(tp_s log p0(x) + tl_s (phi_lik(x) - R_k(s)(q(x))))`` of slot ``s``
    (``slot_theta[s] = (tp_s, tl_s)``; ``phi_lik = -H - log p0`` from the caches ``hc`` and ``lp``).
    Between two windows at the same ``theta`` the posterior energy cancels and only the restraints
    of the two ``q`` enter (Sugita, Kitao & Okamoto 2000)."""
    n_rep = chain_at.shape[0]
    for r in range(n_rep):
        st = load_state(rng[r])
        for p in range(pair_a.size):
            if pair_parity[p] != parity:
                continue
            sa = pair_a[p]
            sb = pair_b[p]
            a = chain_at[r, sa]
            b = chain_at[r, sb]
            ka = slot_window[sa]
            kb = slot_window[sb]
            tla = slot_theta[sa, 1]
            tlb = slot_theta[sb, 1]
            daa = qc[r, a] - centres[ka]
            dab = qc[r, b] - centres[ka]
            dba = qc[r, a] - centres[kb]
            dbb = qc[r, b] - centres[kb]
            delta = 0.5 * n * (tla * kappas[ka] * (dab * dab - daa * daa) + tlb * kappas[kb] * (dba * dba - dbb * dbb))
            dtp = slot_theta[sa, 0] - slot_theta[sb, 0]
            dtl = tla - tlb
            if dtp != 0.0:
                delta -= dtp * (lp[r, b] - lp[r, a])
            if dtl != 0.0:  # phi_lik(x_b) - phi_lik(x_a)
                delta -= dtl * ((-hc[r, b] - lp[r, b]) - (-hc[r, a] - lp[r, a]))
            ex_att[r, p] += 1
            accept = delta <= 0.0
            if not accept:
                u, st = uniform_local(st)
                accept = u < np.exp(-delta)
            if accept:
                chain_at[r, sa] = b
                chain_at[r, sb] = a
                slot_of[r, a] = sb
                slot_of[r, b] = sa
                ex_acc[r, p] += 1
        store_state(rng[r], st)


@njit(cache=True)
def track_round_trips(chain_at, bottom, top, trip_state, trips):
    """Round trips of the configurations between the slots ``bottom`` and ``top``: ``trip_state[r, c]``
    is -1 before chain ``c``'s first visit to ``bottom``, 0 after a visit to ``bottom``, 1 after a
    later visit to ``top``; a visit to ``bottom`` in state 1 completes a round trip (``trips[r]``)."""
    for r in range(chain_at.shape[0]):
        c = chain_at[r, top]
        if trip_state[r, c] == 0:
            trip_state[r, c] = 1
        c = chain_at[r, bottom]
        if trip_state[r, c] == 1:
            trips[r] += 1
        trip_state[r, c] = 0


# Not cached on disk (a function argument; see ``continuous.run_continuous``).
@njit
def run_window_exchange(x, lp, gp, qc, hc, log_prior_grad, params, v, kind, c0, y, inv_s, slot_window, slot_theta,
                        slot_fresh, fresh, kappas, centres, method, eps, n_leapfrog, n_sweeps, sweep0, rng, spare,
                        chain_at, slot_of, acc, att, exchange_every, pair_a, pair_b, pair_parity, ex_att, ex_acc,
                        bottom, top, trip_state, trips, thin, rec_phase, directions, q_out, e_out, p_out, rec0):
    """``n_sweeps`` sweeps of replica-exchange umbrella sampling of a continuous posterior.

    Replica ``r`` holds one configuration (chain) ``x[r, c]`` per slot; slot ``s`` is window
    ``k = slot_window[s]`` (windows sorted by centre) with ``slot_theta[s] = (tp, tl)`` and target
    ``tp log p0(x) + tl (-|y - x|^2 / (2 s) - (kappas[k] N / 2)(q(x) - centres[k])^2)``, ``q``
    linear (``x . v / N + c0``) or the squared distance to ``v`` (``kind``); slots ``k < K`` are
    the windows on the posterior, ``theta = (1, 1)``. ``slot_of[r, c]`` is the slot of chain ``c``
    and ``chain_at[r, s]`` its inverse (configurations never move in memory). Each sweep moves
    every chain once with ``method`` (RWM, MALA or HMC, as ``continuous.run_continuous``) at the
    slot's fixed step ``eps[r, s]``, except that a chain in a slot with ``slot_fresh[s] = j >= 0``
    (a prior rung, ``theta = (1, 0)``) is replaced by the draw ``fresh[r, j, sweep]`` of the prior.
    After every ``exchange_every``-th sweep (counted from the start of the run, ``sweep0`` done
    before) the pairs of slots of the round's parity swap (:func:`exchange_slots`, alternating
    parity) and the round trips between the slots ``bottom`` and ``top`` are updated
    (:func:`track_round_trips`). Caches per chain: ``lp`` ``log p0``, ``gp`` its gradient, ``qc``
    q, ``hc`` the posterior energy ``H = -log p0 + |y - x|^2 / (2 s)``. Counters: ``acc`` /
    ``att`` (R, S) moves per slot, ``ex_att`` / ``ex_acc`` (R, P) swaps per pair. After every
    sweep with ``(sweep0 + sweep + 1 - rec_phase) % thin == 0`` the chain in slot ``k < K`` is
    recorded at draw ``rec0 + j``: ``q_out`` (R, K, D) its q, ``e_out`` (R, K, D) its energy
    ``H + R_k``, ``p_out`` (R, K, D, M) its projections on the rows of ``directions`` (M, N);
    ``q_out`` with no room (D = 0) records nothing. Returns the index of the next draw.
    """
    n_rep, n_slot, n = x.shape
    n_win = centres.size
    n_dir = directions.shape[0]
    record = q_out.shape[2] > 0
    xn = np.empty(n)
    gpn = np.empty(n)
    g0 = np.empty(n)
    g1 = np.empty(n)
    mom = np.empty(n)
    rec = rec0
    for sweep in range(n_sweeps):
        for r in range(n_rep):
            st = load_state(rng[r])
            sp = spare[r]
            for c in range(n_slot):
                s = slot_of[r, c]
                k = slot_window[s]
                tp = slot_theta[s, 0]
                tl = slot_theta[s, 1]
                kap = kappas[k]
                cen = centres[k]
                e = eps[r, s]
                xc = x[r, c]
                gpc = gp[r, c]
                j = slot_fresh[s]
                if j >= 0:
                    # the slot's target is the prior (tl = 0, tp = 1): a fresh independent draw
                    for i in range(n):
                        xc[i] = fresh[r, j, sweep, i]
                    lp[r, c] = log_prior_grad(xc, params, gpc)
                    _, qc[r, c], hc[r, c] = _slot_target(lp[r, c], gpc, xc, y, inv_s, v, kind, c0, tp, tl, kap, cen,
                                                         g0)
                    att[r, s] += 1
                    acc[r, s] += 1
                    continue
                logp0, q0, h0 = _slot_target(lp[r, c], gpc, xc, y, inv_s, v, kind, c0, tp, tl, kap, cen, g0)
                log_ratio = 0.0
                lpn = lp[r, c]
                qn = q0
                hn = h0
                if method == HMC:
                    kin0 = 0.0
                    for i in range(n):
                        zi, st, sp = normal_local(st, sp)
                        mom[i] = zi
                        kin0 += zi * zi
                        xn[i] = xc[i]
                        g1[i] = g0[i]
                    logpn = logp0
                    for step in range(n_leapfrog):
                        for i in range(n):
                            mom[i] += 0.5 * e * g1[i]
                            xn[i] += e * mom[i]
                        lpn = log_prior_grad(xn, params, gpn)
                        if not np.isfinite(lpn):
                            break
                        logpn, qn, hn = _slot_target(lpn, gpn, xn, y, inv_s, v, kind, c0, tp, tl, kap, cen, g1)
                        for i in range(n):
                            mom[i] += 0.5 * e * g1[i]
                    if not np.isfinite(lpn):
                        log_ratio = -np.inf
                    else:
                        kin1 = 0.0
                        for i in range(n):
                            kin1 += mom[i] * mom[i]
                        log_ratio = logpn - logp0 - 0.5 * (kin1 - kin0)
                else:
                    fwd = 0.0
                    for i in range(n):
                        xi, st, sp = normal_local(st, sp)
                        fwd += xi * xi
                        xn[i] = xc[i] + e * xi
                        if method == MALA:
                            xn[i] += 0.5 * e * e * g0[i]
                    lpn = log_prior_grad(xn, params, gpn)
                    if not np.isfinite(lpn):
                        log_ratio = -np.inf
                    else:
                        logpn, qn, hn = _slot_target(lpn, gpn, xn, y, inv_s, v, kind, c0, tp, tl, kap, cen, g1)
                        log_ratio = logpn - logp0
                        if method == MALA:
                            bwd = 0.0
                            for i in range(n):
                                d = xc[i] - xn[i] - 0.5 * e * e * g1[i]
                                bwd += d * d
                            log_ratio += 0.5 * fwd - 0.5 * bwd / (e * e)
                att[r, s] += 1
                accept = log_ratio >= 0.0
                if not accept:
                    u, st = uniform_local(st)
                    accept = u < np.exp(log_ratio)
                if accept:
                    for i in range(n):
                        xc[i] = xn[i]
                        gpc[i] = gpn[i]
                    lp[r, c] = lpn
                    qc[r, c] = qn
                    hc[r, c] = hn
                    acc[r, s] += 1
            store_state(rng[r], st)
            spare[r] = sp
        done = sweep0 + sweep + 1
        if pair_a.size > 0 and done % exchange_every == 0:
            exchange_slots(qc, hc, lp, n, slot_window, slot_theta, kappas, centres, pair_a, pair_b, pair_parity,
                           (done // exchange_every) % 2, chain_at, slot_of, rng, ex_att, ex_acc)
            if top != bottom:
                track_round_trips(chain_at, bottom, top, trip_state, trips)
        if record and (done - rec_phase) % thin == 0:
            for r in range(n_rep):
                for k in range(n_win):
                    c = chain_at[r, k]
                    xc = x[r, c]
                    dq = qc[r, c] - centres[k]
                    q_out[r, k, rec] = qc[r, c]
                    e_out[r, k, rec] = hc[r, c] + 0.5 * n * kappas[k] * dq * dq
                    for m in range(n_dir):
                        acc_p = 0.0
                        for i in range(n):
                            acc_p += xc[i] * directions[m, i]
                        p_out[r, k, rec, m] = acc_p
            rec += 1
    return rec
