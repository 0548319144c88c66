"""One posterior over many MPI ranks: the chains of a tempering ladder spread over a communicator.

``sample_distributed(posterior, comm, n_replicas, n_sweeps, ...)`` samples ``P(x0 | x_t)`` like
:func:`mc.sample`, with ``R`` replicas of ``K`` rungs each, but the ``R K`` chains (configurations)
are dealt to the ranks of ``comm`` (``G = R K`` chains over ``P`` ranks), so that one posterior uses
several cores. The design is that of Pigeons.jl (Surjanovic, Biron-Lattes, Tiede, Syed, Campbell &
Bouchard-Cote, "Pigeons.jl: distributed sampling from intractable distributions", 2023):

* chain ``g = r K + c`` (rung ``c`` of replica ``r`` at the start) runs on rank ``g mod P``: dealt
  round robin, so every rank starts with rungs from the whole ladder (a hot chain flips more
  spins per sweep than a cold one, and with dense couplings costs more);
* every chain has its own xoshiro256** stream, seeded from
  ``SeedSequence(seed, spawn_key=(*key, r, 4, c))``, so its moves do not depend on the rank that
  runs it; a rank advances its chains between exchange rounds with the sampler's own Numba kernels
  (each chain as a one-rung "replica" whose rung label is its current temperature);
* at an exchange round every rank gathers the energy terms ``phi`` of all chains (two floats a
  chain), and every rank makes the same swap decisions: deterministic even-odd (non-reversible)
  neighbour swaps, with the uniform numbers drawn from one stream per replica,
  ``SeedSequence(seed, spawn_key=(*key, r, 5))``, the same on every rank. Only the temperature
  labels move (the permutation ``rung_of`` / ``chain_at``); no configuration is sent for a swap;
* at a draw the configurations at rung 0 (one a replica) travel with the same message, and every
  rank records the same series (energy, overlaps, projections, moments, samples).

Hence the result (draws, energies, overlaps, acceptance and exchange counts, round trips) is the
same bit for bit for 1, 2, ... ``R K`` ranks and for ``comm=None`` (Pigeons.jl's "parallelism
invariance"), and every rank returns it. It is not the same chain as :func:`mc.sample` with the
same seed, whose streams are per replica (one stream drives all the rungs of a replica there).

An exchange round or a draw is one collective (``Allgatherv`` of bytes): 16 bytes a chain, and
at a draw the configurations that can sit at rung 0 after the swaps (at most ``2 R``), so a rank
is worth adding while the sweeps of its chains between two rounds take much longer than a
collective: ``G / P`` chains of ``N`` sites each per rank. Sizing: ``P`` should divide ``G = R K``
(otherwise some ranks hold one chain more and the others wait for them); see the README. The
temperatures a rank's chains sit at change with the swaps, and with them its share of the work
(cold chains of dense couplings are cheaper); the time a rank waits for the others at the
collectives is counted in ``comm_time``.

Not here: adaptive ladders (``tempering="adaptive"``), checkpoints, progress bars.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

from . import diagnostics
from ._validation import as_positive_int, as_scalar
from .disorder import seed_sequence
from .kernels import tempering as kt
from .kernels.rng import seed_states
from .posterior import Posterior
from .sampler import (
    TARGET_ACCEPTANCE,
    Ladder,
    SampleResult,
    _ContinuousFamily,
    _init_states,
    _PointsFamily,
    _SphereFamily,
    _SpinFamily,
    _choose_method,
    _mixing_advice,
    check_run_arguments,
    continuous_prior,
    draw_buffers,
)

__all__ = ["sample_distributed", "DistributedResult", "chain_owners"]

#: Stream tags after (key..., replica): a chain's moves (then the chain index) and the swap
#: decisions of the replica's ladder (``mc.sampler`` uses 2 and 3).
_STREAM_CHAIN, _STREAM_SWAP = 4, 5
#: Sweeps per step-size adaptation round during burn-in (as ``mc.sampler``).
_ADAPT_EVERY = 20
#: Name of the state array of each state space in the families of ``mc.sampler``.
_STATE_ARRAY = {"spins": "spins", "continuous": "x", "sphere": "w", "points": "idx"}


@dataclass
class DistributedResult(SampleResult):
    """:class:`mc.SampleResult` of :func:`sample_distributed`, plus how the run was spread.

    ``n_ranks`` ranks ran ``n_chains = R K`` chains; ``comm_time`` and ``compute_time`` are this
    rank's seconds in collectives (waiting included) and in the sweep kernels. Every other
    field is the same on every rank and for every number of ranks.
    """

    n_ranks: int = 1
    n_chains: int = 0
    comm_time: float = 0.0
    compute_time: float = 0.0


def chain_owners(n_chains, n_ranks):
    """The rank of each chain, ``g mod n_ranks`` (round robin: the counts differ by at most one),
    shape ``(n_chains,)``."""
    n_chains = as_positive_int(n_chains, "n_chains")
    n_ranks = as_positive_int(n_ranks, "n_ranks")
    if n_ranks > n_chains:
        raise ValueError(f"comm: {n_ranks} ranks for {n_chains} chains; every rank needs a chain")
    return np.arange(n_chains, dtype=np.int64) % n_ranks


class _Collectives:
    """Allgather of per-chain rows over ``comm`` (or locally without one), timed."""

    def __init__(self, comm):
        self.comm = comm if comm is not None and comm.Get_size() > 1 else None
        self.seconds = 0.0

    def allgather_rows(self, local, counts, out):
        """``out`` (rows of every rank, in rank order) from this rank's rows ``local``;
        ``counts[p]`` rows come from rank ``p``. Rows are contiguous arrays of one dtype."""
        if self.comm is None:
            out[...] = local
            return out
        t0 = time.perf_counter()
        width = int(np.prod(out.shape[1:], dtype=np.int64))
        sizes = np.asarray(counts, dtype=np.int64) * width
        displs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        send = np.ascontiguousarray(local).reshape(-1)
        self.comm.Allgatherv(send, [out.reshape(-1), (sizes.tolist(), displs.tolist())])
        self.seconds += time.perf_counter() - t0
        return out


def _family(posterior, space, ladder, states, method, order, log_prior_grad, prior_params, n_leapfrog):
    """A family of ``mc.sampler`` holding one chain per row (``states``: (n, 1, N), points (n, 1)),
    with per-rung counters and step sizes for all ``K`` rungs of ``ladder`` and acceptance tables
    built for them; each row's rung label ``rung_of[i, 0]`` selects its temperature."""
    n_local = states.shape[0]
    if space == "spins":
        fam = _SpinFamily(posterior, ladder, n_local, method, order, states)
    elif space == "continuous":
        f, params = continuous_prior(posterior.model, log_prior_grad, prior_params)
        fam = _ContinuousFamily(posterior, ladder, n_local, method, states, f, params, n_leapfrog)
    elif space == "sphere":
        fam = _SphereFamily(posterior, ladder, n_local, states)
    else:
        fam = _PointsFamily(posterior, ladder, n_local, states)
    a = fam.arrays
    a["rung_of"] = np.zeros((n_local, 1), dtype=np.int64)
    a["chain_at"] = np.zeros((n_local, 1), dtype=np.int64)
    # a single chain per row never exchanges inside a kernel; the counters stay empty
    a["ex_att"] = np.zeros((n_local, 0), dtype=np.int64)
    a["ex_acc"] = np.zeros((n_local, 0), dtype=np.int64)
    fam.phi = np.zeros((n_local, 1, 2))
    return fam


def sample_distributed(posterior, comm=None, n_replicas=1, n_sweeps=1000, burn_in=None, thin=1, method="auto",
                       seed=0, key=(), *, tempering="hamiltonian", temperatures=None, n_temperatures=None,
                       lowest_beta=None, exchange_every=1, order="random", step_size=None, n_leapfrog=10,
                       adapt=True, init="auto", store="auto", max_bytes=2**30, log_prior_grad=None,
                       prior_params=None):
    """Sample ``P(x0 | x_t)`` with the ``R x K`` chains of a tempering ladder spread over ``comm``.

    The chains run as in :func:`mc.sample` (same kernels, moves, ladders, even-odd swaps, burn-in,
    thinning and diagnostics), but each chain has its own random stream and the swap decisions
    their own per-replica stream (module notes), so the result is identical for every number of
    ranks of ``comm``, and for ``comm=None`` (serial), and every rank returns it.

    Parameters
    ----------
    posterior : mc.Posterior
    comm : mpi4py communicator, optional
        Ranks sharing the work (``None`` or a communicator of size 1: serial). All its ranks must
        call with the same arguments. At most ``R K`` ranks (one chain each at least).
    n_replicas : int
        Independent replicas ``R`` (default 1: one ladder).
    tempering : "hamiltonian", "likelihood" or None
        The ladder (:class:`mc.Ladder`): ``temperatures``, or ``n_temperatures`` rungs down to
        ``lowest_beta``; default a Hamiltonian ladder of 8 rungs down to ``beta = 0.05``.
        ``"adaptive"`` is not available here. With ``None`` the ``R`` replicas alone are spread.
    seed, key : int and tuple of ints
        Chain ``c`` of replica ``r`` draws from ``SeedSequence(seed, spawn_key=(*key, r, 4, c))``,
        the swaps of replica ``r`` from ``(*key, r, 5)``, the initial states as in ``mc.sample``.
    n_sweeps, burn_in, thin, method, exchange_every, order, step_size, n_leapfrog, adapt, init,
    store, max_bytes, log_prior_grad, prior_params :
        As in :func:`mc.sample`. Step sizes adapt per chain and rung during burn-in, from that
        chain's acceptance at the rung.

    Returns
    -------
    DistributedResult
        The fields of :class:`mc.SampleResult` (``mode_changes`` too; ``tuning`` None), plus
        ``n_ranks``, ``n_chains``, and this rank's ``comm_time`` and ``compute_time``.

    Raises
    ------
    ValueError
        Naming the argument: more ranks than chains (``comm``), an adaptive ladder
        (``tempering``), and the checks of :func:`mc.sample`.
    """
    t_start = time.perf_counter()
    if not isinstance(posterior, Posterior):
        raise ValueError(f"posterior: expected an mc.Posterior, got {type(posterior).__name__}")
    if comm is not None and not (hasattr(comm, "Get_size") and hasattr(comm, "Allgatherv")):
        raise ValueError(f"comm: expected an mpi4py communicator or None, got {type(comm).__name__}")
    n_rep, n_sweeps, burn_in, thin, seed, key, exchange_every, n_leapfrog = check_run_arguments(
        n_replicas, n_sweeps, burn_in, thin, seed, key, exchange_every, n_leapfrog, order, store)
    if tempering == "adaptive":
        raise ValueError("tempering: 'adaptive' ladders are not available with sample_distributed; use "
                         "'hamiltonian' (with the ladder an adaptive mc.sample run tuned, as temperatures) or "
                         "'likelihood'")
    if tempering == "auto":
        raise ValueError("tempering: name the ladder ('hamiltonian', 'likelihood' or None)")
    model = posterior.model
    space = model.state_space
    method = _choose_method(space, method, model)
    multimodal = bool(model.may_be_multimodal)
    if tempering in (None, "none") and (temperatures is not None or n_temperatures is not None
                                        or lowest_beta is not None):
        raise ValueError("tempering: temperatures / n_temperatures / lowest_beta need tempering='hamiltonian' "
                         "or 'likelihood'")
    ladder = Ladder.make(tempering, n_temperatures, temperatures, lowest_beta,
                         extend_prior=multimodal and tempering == "likelihood" and temperatures is None)
    k = ladder.n_rungs
    theta = np.ascontiguousarray(ladder.theta)
    n_chains = n_rep * k
    n_ranks = 1 if comm is None else comm.Get_size()
    rank = 0 if comm is None else comm.Get_rank()
    if n_ranks > n_chains:
        raise ValueError(f"comm: {n_ranks} ranks for {n_chains} chains (n_replicas {n_rep} x {k} rungs); every rank "
                         f"needs a chain: use at most {n_chains} ranks, or more replicas or rungs")
    owner = chain_owners(n_chains, n_ranks)
    held = np.flatnonzero(owner == rank)  # this rank's chains, in increasing order
    counts = np.bincount(owner, minlength=n_ranks)
    by_rank = np.argsort(owner, kind="stable")  # chains in the order a gather returns them
    n = posterior.n_dim
    n_draws = n_sweeps // thin
    if store == "auto":
        store = "samples" if 8.0 * n_rep * n_draws * n <= max_bytes else "summary"

    states = _init_states(posterior, n_rep, k, init, seed, key, space)  # every rank, the same
    flat = states.reshape((n_chains, 1) + states.shape[2:])
    fam = _family(posterior, space, ladder, np.ascontiguousarray(flat[held]), method, order, log_prior_grad,
                  prior_params, n_leapfrog)
    if step_size is not None:
        if not fam.uses_step:
            raise ValueError(f"step_size: method {method!r} has no step size")
        fam.arrays["eps"][:] = as_scalar(step_size, "step_size", positive=True)
    local = [(g // k, g % k) for g in held]
    rng = seed_states([seed_sequence(seed, *key, r, _STREAM_CHAIN, c) for r, c in local])
    swap_rng = seed_states([seed_sequence(seed, *key, r, _STREAM_SWAP) for r in range(n_rep)])
    rung_of = np.tile(np.arange(k, dtype=np.int64), (n_rep, 1))
    chain_at = rung_of.copy()
    ex_att = np.zeros((n_rep, kt.round_trip_columns(k)), dtype=np.int64)
    ex_acc = np.zeros((n_rep, max(k - 1, 0)), dtype=np.int64)
    kt.reset_round_trips(chain_at, ex_att)
    fam.arrays["rung_of"][:, 0] = rung_of.reshape(-1)[held]
    net = _Collectives(comm)
    phi_all = np.zeros((n_chains, 2))
    chains_of = [np.flatnonzero(owner == p) for p in range(n_ranks)]

    def gather_rows(local_rows, out):
        """``out[g]`` = the row of chain ``g`` from the rank holding it."""
        buf = np.empty_like(out)
        net.allgather_rows(local_rows, counts, buf)
        out[by_rank] = buf
        return out

    state_local = fam.arrays[_STATE_ARRAY[space]]
    row_shape = state_local.shape[2:]
    row_bytes = state_local[0, 0].nbytes

    def gather_round(rungs, projections_too=False):
        """One collective: the features ``phi`` of every chain (returned (R, K, 2)), the
        configurations of the chains now at ``rungs`` of every replica (returned with their chain
        indices, increasing) and, with ``projections_too``, every chain's projections on the probe
        (into ``proj_all``). Each rank sends its part as bytes; every rank unpacks all of them."""
        fam.features()
        want = np.unique((np.arange(n_rep)[:, None] * k + chain_at[:, rungs]).ravel())
        want_owner = owner[want]
        n_want = np.bincount(want_owner, minlength=n_ranks)
        width = probe.shape[0] if projections_too else 0
        sizes = counts * 16 + n_want * row_bytes + counts * width * 4
        parts = [fam.phi, state_local[np.searchsorted(held, want[want_owner == rank]), 0]]
        if projections_too:
            parts.append((fam.chains()[:, 0] @ probe.T).astype(np.float32))
        send = np.concatenate([np.ascontiguousarray(a).reshape(-1).view(np.uint8) for a in parts])
        buf = np.empty(int(sizes.sum()), dtype=np.uint8)
        net.allgather_rows(send, sizes, buf)
        rows = np.empty((len(want),) + row_shape, dtype=state_local.dtype)
        off = 0
        for p in range(n_ranks):
            c, w = int(counts[p]), int(n_want[p])
            seg = buf[off : off + int(sizes[p])]
            off += int(sizes[p])
            a, b = 16 * c, 16 * c + w * row_bytes
            phi_all[chains_of[p]] = seg[:a].copy().view(np.float64).reshape(c, 2)
            rows[want_owner == p] = seg[a:b].copy().view(state_local.dtype).reshape((w,) + row_shape)
            if projections_too:
                proj_all[chains_of[p]] = seg[b:].copy().view(np.float32).reshape(c, width)
        return phi_all.reshape(n_rep, k, 2), want, rows

    def rung0_states(want, rows):
        """Raw configurations at rung 0 of every replica and their values as ``fam.current()``
        gives them (R, N), from the rows of a round."""
        raw = rows[np.searchsorted(want, np.arange(n_rep) * k + chain_at[:, 0])]
        if space == "spins":
            return raw, raw.astype(np.float64)
        if space == "sphere":
            return raw, model.radius * model.embed(raw)
        if space == "points":
            return raw, model.points[raw].astype(np.float64)
        return raw, raw

    # energy offset: H(x) = const - (phi_prior + phi_lik), checked on replica 0's rung-0 start
    phi, want, rows = gather_round([0])
    x_init = rung0_states(want, rows)[1]
    e_init = posterior.energy(x_init)
    if not np.all(np.isfinite(e_init)):
        raise ValueError("init: an initial state lies outside the support of the prior")
    const = float(e_init[0] + phi[0, 0].sum())

    (samples, energies, overlaps, projections, indices, sum_x, sum_x2, u, directions, probe, order_proj,
     chain_stride) = draw_buffers(posterior, n_rep, n_draws, thin, store)
    chain_proj = np.empty((n_rep, k, -(-n_draws // chain_stride), probe.shape[0]), dtype=np.float32) \
        if k > 1 else None
    proj_all = np.empty((n_chains, probe.shape[0]), dtype=np.float32)
    next_replica = (np.arange(n_rep) + 1) % n_rep
    target = TARGET_ACCEPTANCE.get(method)
    adapting = adapt and fam.uses_step and target is not None
    n_adapt = 0
    before_acc = fam.arrays["acc"].copy()
    before_att = fam.arrays["att"].copy()

    total = burn_in + n_sweeps
    sweep, draws_done = 0, 0
    compute_time = 0.0
    while sweep < total:
        stop = total
        if k > 1:
            stop = min(stop, (sweep // exchange_every + 1) * exchange_every)
        if sweep < burn_in:
            stop = min(stop, burn_in, (sweep // _ADAPT_EVERY + 1) * _ADAPT_EVERY)
        else:
            stop = min(stop, burn_in + ((sweep - burn_in) // thin + 1) * thin)
        t0 = time.perf_counter()
        fam._kernel(fam.arrays, fam.phi, theta, rng, stop - sweep, total + 1, sweep, None)
        compute_time += time.perf_counter() - t0
        sweep = stop
        exchanging = k > 1 and sweep % exchange_every == 0
        drawing = sweep > burn_in and (sweep - burn_in) % thin == 0 and draws_done < n_draws
        if exchanging or drawing:
            # one collective a round: features, and for a draw the configurations that can be at
            # rung 0 after the swaps (rung 1 too on even rounds) and, now and then, every chain's
            # projections
            parity = (sweep // exchange_every) % 2
            rungs = ([0, 1] if exchanging and parity == 0 else [0]) if drawing else []
            with_proj = drawing and chain_proj is not None and draws_done % chain_stride == 0
            phi, want, rows = gather_round(rungs, with_proj)
            if exchanging:
                kt.exchange(phi, theta, chain_at, rung_of, swap_rng, parity, ex_att, ex_acc)
                fam.arrays["rung_of"][:, 0] = rung_of.reshape(-1)[held]
        if sweep <= burn_in:
            if adapting and (sweep % _ADAPT_EVERY == 0 or sweep == burn_in):
                # per chain and rung (where the chain spent sweeps), from its own acceptance
                d_att = fam.arrays["att"] - before_att
                rate = (fam.arrays["acc"] - before_acc) / np.maximum(d_att, 1)
                n_adapt += 1
                step = np.exp(np.clip((rate - target) * 2.0 / np.sqrt(n_adapt), -1.0, 1.0))
                fam.arrays["eps"] *= np.where(d_att > 0, step, 1.0)
                before_acc = fam.arrays["acc"].copy()
                before_att = fam.arrays["att"].copy()
            if sweep == burn_in:
                fam.arrays["acc"][...] = 0
                fam.arrays["att"][...] = 0
                ex_acc[...] = 0
                kt.reset_round_trips(chain_at, ex_att)
            continue
        if not drawing:
            continue
        raw, x = rung0_states(want, rows)
        d = draws_done
        if samples is not None:
            samples[:, d] = x
        if indices is not None:
            indices[:, d] = raw
        energies[:, d] = const - phi[np.arange(n_rep), chain_at[:, 0]].sum(axis=1)
        if n_rep > 1:
            overlaps[:, d] = np.einsum("ri,ri->r", x, x[next_replica]) / n
        projections[:, d] = x @ u / np.sqrt(n)
        if order_proj is not None:
            order_proj[:, d] = x @ directions.T
        if with_proj:
            chain_proj[:, :, d // chain_stride] = proj_all.reshape(n_rep, k, -1)
        sum_x += x
        sum_x2 += x * x
        draws_done += 1

    # counters of every chain, summed per replica and rung
    per_chain = np.empty((n_chains, 3 * k))
    mine = np.concatenate([fam.arrays["acc"], fam.arrays["att"], fam.arrays["eps"]], axis=1).astype(np.float64)
    gather_rows(mine, per_chain)
    per_chain = per_chain.reshape(n_rep, k, 3, k)
    acc, att = per_chain[:, :, 0].sum(axis=1), per_chain[:, :, 1].sum(axis=1)
    per_sweep = fam.attempts_per_sweep()
    acceptance = acc / np.maximum(att * per_sweep, 1)
    step_sizes = per_chain[:, :, 2].mean(axis=1) if fam.uses_step else np.ones((n_rep, k))
    if k > 1:
        exchange_rate = ex_acc / np.maximum(ex_att[:, : k - 1], 1)
        rows_ok = [kt.round_trips_counted(ex_att[r : r + 1], k) for r in range(n_rep)]
        round_trips = np.array([ex_att[r, 2 * k - 1] if ok else -1 for r, ok in enumerate(rows_ok)], dtype=np.int64)
    else:
        exchange_rate = np.zeros((n_rep, 0))
        round_trips = np.zeros(n_rep, dtype=np.int64)
    rejection_rate = 1.0 - exchange_rate
    barrier = np.nansum(rejection_rate, axis=1) if k > 1 else np.full(n_rep, np.nan)
    betas = np.tile(np.asarray(ladder.values), (n_rep, 1)) if ladder.kind == "hamiltonian" else None

    tau, rhat, flags = _diagnose(energies, overlaps, projections, order_proj, n_rep, n_draws, ladder)
    changes = _mode_changes(chain_proj, ladder, flags)
    if ladder.kind == "likelihood" and multimodal and not ladder.extends_prior:
        flags.append(
            "the likelihood ladder ends at a prior that may have several modes (model.may_be_multimodal), "
            "where local moves do not cross either: every configuration keeps its mode and exchanges only "
            "reshuffle them; build the ladder from n_temperatures or use tempering='hamiltonian'"
        )
    for flag in flags:
        warnings.warn(flag, diagnostics.MixingWarning, stacklevel=2)
    out_samples = None
    if samples is not None:
        out_samples = samples.astype(np.float64) if samples.dtype != np.float64 else samples
    return DistributedResult(
        method=method, ladder=ladder, n_replicas=n_rep, n_sweeps=n_sweeps, burn_in=burn_in, thin=thin, seed=seed,
        key=key, samples=out_samples, energies=energies, overlaps=overlaps, projections=projections,
        indices=indices, mean=sum_x / max(draws_done, 1), second_moment=sum_x2 / max(draws_done, 1),
        acceptance=acceptance, exchange_rate=exchange_rate, step_size=step_sizes, tau_int=tau, rhat=rhat,
        wall_time=time.perf_counter() - t_start, order_projections=order_proj, mode_changes=changes,
        init=init if isinstance(init, str) else "array", flags=flags, betas=betas, rejection_rate=rejection_rate,
        barrier=barrier, round_trips=round_trips,
        round_trip_rate=np.where(round_trips >= 0, round_trips / n_sweeps, np.nan), tuning=None,
        n_ranks=n_ranks, n_chains=n_chains, comm_time=net.seconds, compute_time=compute_time,
    )


def _diagnose(energies, overlaps, projections, order_proj, n_rep, n_draws, ladder):
    """tau_int per replica, R-hat across replicas and the R-hat flag, as :func:`mc.sample`."""
    tau, rhat, flags = {}, {}, []
    series = {"energy": energies, "overlap": overlaps if n_rep > 1 else None, "projection": projections}
    if order_proj is not None:
        series.update({f"order_{j}": order_proj[:, :, j] for j in range(order_proj.shape[2])})
    short = []
    for name, ser in series.items():
        if ser is None or ser.shape[1] < 4:
            tau[name] = np.full(n_rep, np.nan)
            continue
        tau[name] = diagnostics.tau_int_per_chain(ser, warn=False)
        if np.any(ser.shape[1] < diagnostics.MIN_TAUS * tau[name]):
            short.append(f"{name} (max tau {np.nanmax(tau[name]):.3g})")
    if short:
        warnings.warn(f"draws per replica ({n_draws}) shorter than {diagnostics.MIN_TAUS:g} tau for "
                      + ", ".join(short) + "; error bars are unreliable: run longer",
                      diagnostics.ShortChainWarning, stacklevel=3)
    if n_draws >= 4:
        for name, ser in series.items():
            if ser is None or (name == "overlap" and n_rep < 3):
                continue
            rhat[name] = diagnostics.rhat(ser)
        bad = {name: v for name, v in rhat.items() if v > diagnostics.RHAT_MAX}
        if bad:
            flags.append("replicas have not mixed: R-hat " + ", ".join(f"{name} = {v:.4g}" for name, v in bad.items())
                         + f" > {diagnostics.RHAT_MAX} (" + _mixing_advice(ladder) + ")")
    return tau, rhat, flags


def _mode_changes(chain_proj, ladder, flags):
    """Crossings between modes of every configuration (``SampleResult.mode_changes``); appends
    the flag of a ladder whose configurations stay in their modes."""
    if chain_proj is None or chain_proj.shape[2] < 2:
        return None
    n_rep, k = chain_proj.shape[:2]
    changes, frozen = None, None
    for j in list(range(1, chain_proj.shape[3])) + [0]:
        ch, both = diagnostics.mode_changes(chain_proj[:, :, :, j].reshape(n_rep * k, -1))
        full = ch.reshape(n_rep, k)
        if changes is None:
            changes = full
        if both and ch.sum() == 0:
            frozen, changes = j, full
            break
    if frozen is not None:
        name = "the field direction" if frozen == 0 else f"order direction {frozen - 1}"
        flags.append(f"the {ladder.kind} ladder does not connect the modes: along {name} the {n_rep * k} "
                     "configurations sit in different modes and none crossed between them during the run, so "
                     "exchanges only reshuffle a fixed set of modes; use more rungs or a lower lowest_beta")
    return changes
