"""The physics of one scan task: build the model and the quenched state, sample, estimate.

``run_task(spec, task)`` returns the task's tables (result rows and, when asked, the overlap
histograms) as DataFrames; it touches no file, no MPI and no signal, so it can be called from a
notebook to reproduce any single task of a scan bit for bit.

Routes (``[sampler] method``):

* ``"exact"``: every observable from the exact posterior (``method = "exact"`` rows, standard
  error 0); with ``draws > 0`` also from that many independent exact draws per replica
  (``method = "samples"`` rows), which checks the estimators' errors against the exact values.
* ``"clones"``: replicas made by the generative process of the spec's ``[score]``
  (``mc.clone_replicas``: ``n_replicas x draws`` reverse trajectories from the task's x_t with
  the task's key), observables from their end states as from Monte Carlo samples, the rows
  ``clone_step_bias_ratio``, ``clone_step_error`` and ``mixed`` (1 when the half-step check
  accepts the step count; timings stay out of the tables, which are the same on every run), and with ``exact_reference = true`` the exact
  posterior's rows beside (method ``exact``): the learned model's posterior next to the exact
  one of the same training set. ``z_exact`` rows only for a score whose clones sample that exact
  posterior (``ScoreEntry.exact_posterior``, the empirical score): for other scores a difference
  is the result, not an error.
* a Monte Carlo method: ``mc.sample`` with the task's key, observables from the replicas'
  samples with errors that see every replica as a chain (``replica.stats.replica_mean``), the
  sampler's diagnostics as rows (``acceptance``, ``tau_int_energy``, ``exchange_rate_min``, the
  R-hats ``rhat_energy``, ``rhat_projection``, ``rhat_overlap``, ``rhat_order`` (largest over the
  model's order directions), ``rhat_max``, and ``mixed``: 1 when no diagnostic flagged the run, 0 when one did, see
  ``mc.SampleResult.flags``), and, with ``exact_reference = true`` and a model that has them,
  the exact values beside with the z-score of each Monte Carlo row against its exact row,
  ``z_exact:<observable> = (value_MC - value_exact) / stderr_MC`` (:func:`z_score`; ``replica
  report`` lists the tasks where ``|z| > 5`` and exits with status 4).
"""
from __future__ import annotations

import dataclasses

import numpy as np

import mc
from mc.disorder import seed_sequence

from ..overlaps import overlap_distribution
from ..samples import exact_samples
from ..stats import Estimate
from ..table import TaskInfo, histogram_frame, potential_frame, result_frame
from . import observables as _observables
from .spec import CLONES, MODELS
from .tasks import EXACT_STREAM, FP_STREAM, HISTOGRAM_STREAM, MODEL_STREAM, PRIOR_DRAW_STREAM

__all__ = ["build_model", "build_process", "quenched_state", "run_task", "data_theory_columns"]


def _model_seed(spec, n_dim, disorder):
    d = disorder if spec.model.realisation == "per_disorder" else 0
    ss = seed_sequence(spec.scan.seed, spec.scan.id, spec.model.id, n_dim, d, MODEL_STREAM)
    return int(ss.generate_state(1, np.uint32)[0])


def build_model(spec, n_dim, disorder=0, n_points=None):
    """The data model of the spec at dimension ``n_dim`` for one disorder sample (built by its
    registry entry, ``MODELS[name].build``, from the seed of ``(N, disorder)``; ``n_points``:
    the training-set size of a scan over sizes, whose subsets share that seed and are nested)."""
    entry = MODELS[spec.model.name]
    return entry.build(spec.model.task_parameters(n_points), n_dim, seed=_model_seed(spec, n_dim, disorder),
                       max_bytes=spec.model.max_gib * 2**30)


def build_process(spec):
    """The forward process of the spec."""
    return {"VP": mc.VP, "VE": mc.VE, "VPLinear": mc.VPLinear}[spec.process.name](**spec.process.params)


def quenched_state(spec, model, process, task, x0=None):
    """The task's quenched x_t (same x0 and noise at every t of one disorder sample); ``x0``: a
    planted x0 drawn elsewhere (:func:`planted_by_monte_carlo`)."""
    extra = {"noise_variance": spec.grid.noise_variance} if spec.grid.source == "noise" else {}
    if x0 is not None:
        extra["x0"] = x0
    return mc.draw_quenched(
        model, process, task.t, seed=spec.scan.seed, disorder=task.disorder,
        key=(spec.scan.id, spec.model.id, task.n_dim), source=spec.grid.source, **extra,
    )


def needs_monte_carlo_prior_draw(spec, n_dim):
    """Whether a planted x0 at this N must be drawn from the prior by Monte Carlo: planted
    disorder (``grid.source = "prior"``) beyond the N up to which the model's prior is drawn
    exactly (``ModelEntry.prior_draw_max_n``: enumeration of 2^N spins)."""
    limit = spec.model.entry.prior_draw_max_n
    return spec.grid.source == "prior" and limit is not None and n_dim > limit


def planted_by_monte_carlo(spec, model, n_dim, disorder):
    """A planted x0 drawn from the prior p0 by Monte Carlo, and the rows of its diagnostics.

    The posterior of the noisy state ``x_t = 0`` is the prior itself (the field
    ``h = a_t x_t / D_t`` vanishes at any t), so the spec's sampler (its method, sweeps,
    burn-in, thinning and tempering ladder) samples p0 with ``max(2, n_replicas)`` replicas
    started at uniform random spins (``init = "prior"``); x0 is the last recorded configuration
    of replica 0. Seeded by ``(root seed, scan id, model id, N, disorder, PRIOR_DRAW_STREAM)``,
    so the same x0 serves every t of a disorder sample (and every rank). The rows
    ``prior_draw_rhat_max`` and ``prior_draw_mixed`` record the draw's own equilibration check
    (R-hat over its replicas; the run warns with ``MixingWarning`` when it did not mix); the
    task's ``mixed`` row is 1 only when this draw and the posterior run both mixed.
    """
    key = (spec.hash, n_dim, disorder)
    if key in _PRIOR_DRAWS:  # the same draw for every t of a disorder sample: made once per process
        return _PRIOR_DRAWS[key]
    s = spec.sampler
    process = build_process(spec)
    prior = mc.Posterior(model, process, np.zeros(n_dim), 1.0)
    res = mc.sample(
        prior, n_replicas=max(2, s.n_replicas), n_sweeps=s.n_sweeps, burn_in=s.burn_in, thin=s.thin,
        method=s.method, seed=spec.scan.seed,
        key=(spec.scan.id, spec.model.id, n_dim, disorder, PRIOR_DRAW_STREAM),
        tempering=None if s.tempering == "none" else s.tempering, n_temperatures=s.n_temperatures,
        lowest_beta=s.lowest_beta, init="prior", store="samples", progress=False,
    )
    n = res.n_replicas * res.n_draws
    rows = {"prior_draw_rhat_max": [Estimate(float(res.rhat_max), 0.0, n=n, method=s.method)],
            "prior_draw_mixed": [Estimate(float(res.mixed), 0.0, n=n, method=s.method)]}
    out = (np.array(res.samples[0, -1], dtype=np.float64), rows, bool(res.mixed))
    _PRIOR_DRAWS[key] = out
    while len(_PRIOR_DRAWS) > _PRIOR_DRAWS_KEPT:
        _PRIOR_DRAWS.pop(next(iter(_PRIOR_DRAWS)))
    return out


#: Planted x0 drawn by Monte Carlo in this process, by (spec hash, N, disorder); the last few kept.
_PRIOR_DRAWS = {}
_PRIOR_DRAWS_KEPT = 64


#: Planted draws and the size cap of the ``collapse_s_entropy`` column (cost ``200 n N``).
ENTROPY_DRAWS = 200
ENTROPY_MAX_POINTS = 20_000


def data_theory_columns(model):
    """The theory columns of a model read from a data file (``model.data_file``, see
    ``mc.models.data_file``), the same for every disorder sample, from the whole preprocessed file:

    * ``cov_top_eigenvalue``: the largest eigenvalue ``Lambda`` of the points' covariance
      (``ddof = 0``): speciation at ``t_S = (1/2) log Lambda`` (VP; Biroli et al. 2024,
      ``replica.theory.speciation_time``);
    * ``collapse_s_information``: ``s = D_t / a_t^2`` where the Gaussian mutual information of
      that covariance spectrum, ``(1/2) sum_k log(1 + lambda_k / s)``, equals ``log n``, n the
      training-set size (``replica.theory.collapse_time_gaussian``);
    * ``collapse_s_entropy``: ``s`` of the planted excess-entropy collapse of n of the file's
      points (``replica.theory.collapse_time_entropy(method="planted")``, :data:`ENTROPY_DRAWS`
      draws on a fixed subset, seed 0), ``nan`` above :data:`ENTROPY_MAX_POINTS` points.

    Empty for other models. Cached per process with the data.
    """
    from ..theory.collapse import _solve_information, collapse_time_entropy

    data = getattr(model, "data_file", None)
    if data is None:
        return {}
    n = int(model.n_points)
    cache = data.derived.setdefault("theory_columns", {})
    if n not in cache:
        lam = data.covariance_eigenvalues
        out = {"cov_top_eigenvalue": float(lam.max()), "collapse_s_information": np.nan,
               "collapse_s_entropy": np.nan}
        if n > 1 and lam.max() > 0:
            out["collapse_s_information"] = float(_solve_information(lam[lam > 0], np.log(n)))
        if 3 <= n <= ENTROPY_MAX_POINTS:
            try:
                est = collapse_time_entropy(data.reference_subset(n), "vp", method="planted", n_draws=ENTROPY_DRAWS,
                                            seed=0)
                out["collapse_s_entropy"] = float(est.s)
            except ValueError:  # duplicated points: the planted point never dominates
                pass
        cache[n] = out
    return cache[n]


# ----------------------------------------------------------------------------- observables
def _estimates(names, source, inputs):
    """Observable name -> Estimate(s) from one source (exact posterior or samples), each by its
    registered ``Observable`` (``replica.scan.observables``)."""
    out = {}
    for name in names:
        out.update(_observables.get(name).compute(source, inputs))
    return out


def _histogram(source, space, bins, is_samples):
    """P(q) on ``bins`` equal bins of [-1, 1] of the normalised overlap (the plain overlap for
    spins, where the two coincide; spins keep the exact atoms -1 + 2k/N). Exact sources give the
    exact binned masses; a data-set posterior spread over more than
    ``replica.overlaps.MAX_SUPPORT`` points raises ValueError (the pair sum would cost
    O(S^2 N)), and the caller then uses exact draws instead."""
    normalised = space != "spins"
    edges = np.linspace(-1.0, 1.0, bins + 1)
    if not is_samples:
        dist = overlap_distribution(source, normalised=normalised)
        return dist if space == "spins" else dist.binned(edges)
    if space == "spins":  # centre the bins on the atoms -1 + 2k/N when they are fine enough
        edges[0], edges[-1] = -1.0 - 1e-9, 1.0 + 1e-9
    return overlap_distribution(source, edges, normalised=normalised, warn=False)


#: Exact draws (replicas x draws) used for P(q) when the exact pair sum is too large.
HISTOGRAM_DRAWS = (4, 250)


def run_task(spec, task, comm=None):
    """Compute one task. Returns ``{"results": DataFrame, "histograms": DataFrame or None}``.

    ``comm``: the ranks that run the task together (``sampler.ranks_per_task``), over which
    ``sampler.driver = "chains"`` spreads the Monte Carlo chains; everything else (the quenched
    state, exact values, a planted draw by Monte Carlo, Franz-Parisi curves) every rank computes
    alike. ``None``: one rank."""
    space = MODELS[spec.model.name].space
    s = spec.sampler
    model = build_model(spec, task.n_dim, task.disorder, task.n_points)
    process = build_process(spec)
    x0, prior_rows, prior_mixed = None, {}, True
    if needs_monte_carlo_prior_draw(spec, task.n_dim):
        x0, prior_rows, prior_mixed = planted_by_monte_carlo(spec, model, task.n_dim, task.disorder)
    state = quenched_state(spec, model, process, task, x0)
    post = mc.Posterior(model, process, state.x_t, task.t)
    info = TaskInfo.from_state(model, process, state, scan=spec.scan.name, seed=spec.scan.seed)
    extra = dict(data_theory_columns(model))
    if spec.score is not None:
        extra["score"] = spec.score.name
    if spec.grid.source == "noise":  # the variance v of the unplanted x_t ~ N(0, v I)
        extra["noise_variance"] = spec.grid.noise_variance
    if extra:
        info = dataclasses.replace(info, params={**info.params, **extra})
    inputs = _observables.Inputs(model=model, posterior=post, state=state, space=space)
    names = [n for n in spec.observables.names if _observables.get(n).table == "results"]
    want_hist = "overlap_histogram" in spec.observables.names
    key = task.key(spec)

    estimates, hists = {}, {}
    exact_ok = s.method == "exact" or (s.exact_reference and post.is_exact)
    if exact_ok:
        for name, est in _estimates(names, post, inputs).items():
            estimates.setdefault(name, []).append(est)
        if want_hist:
            try:
                hists["P(q)"] = _histogram(post, space, spec.observables.bins, False)
            except (ValueError, NotImplementedError):
                # continuous posteriors have no finite list of states, and a data set whose weight
                # spreads over too many points is too costly: P(q) then comes from (exact) draws
                if s.method == "exact" and s.draws == 0 and post.is_exact:
                    rng = np.random.default_rng(seed_sequence(spec.scan.seed, *key, HISTOGRAM_STREAM))
                    draws = exact_samples(post, *HISTOGRAM_DRAWS, rng)
                    hists["P(q)"] = _histogram(draws, space, spec.observables.bins, True)

    samples = None
    if s.method == "exact" and s.draws > 0:
        rng = np.random.default_rng(seed_sequence(spec.scan.seed, *key, EXACT_STREAM))
        samples = exact_samples(post, s.n_replicas, s.draws, rng)
    elif s.method == CLONES:
        samples, rows = _clones(spec, model, process, state, task, key)
        estimates.update(rows)
    elif s.method != "exact":
        common = dict(n_replicas=s.n_replicas, n_sweeps=s.n_sweeps, burn_in=s.burn_in, thin=s.thin, method=s.method,
                      seed=spec.scan.seed, key=key, n_temperatures=s.n_temperatures, lowest_beta=s.lowest_beta,
                      step_size=s.step_size, n_leapfrog=s.n_leapfrog, init=s.init, store="samples")
        tempering = None if s.tempering == "none" else s.tempering
        if s.driver == "chains":
            if tempering == "auto":  # as mc.sample: a ladder where the prior may have several modes
                tempering = "hamiltonian" if model.may_be_multimodal else None
            res = mc.sample_distributed(post, comm, tempering=tempering, **common)
        else:
            res = mc.sample(post, tempering=tempering, progress=False, **common)
        samples = res.samples
        estimates.update(_diagnostics(res, s.method))
        if prior_rows:  # the planted x0's own draw: its check, and mixed only if both mixed
            estimates.update(prior_rows)
            if not prior_mixed:
                estimates["mixed"] = [Estimate(0.0, 0.0, n=estimates["mixed"][0].n, method=s.method)]
    if samples is not None:
        # sampled rows are checked against the exact ones when both estimate the same posterior
        checked = s.method != CLONES or spec.score.entry.exact_posterior
        sampled = [n for n in names if checked or not _observables.get(n).samples_read_posterior]
        for name, est in _estimates(sampled, samples, inputs).items():
            if s.method != "exact":
                est = Estimate(est.value, est.stderr, n=est.n, tau=est.tau, method=s.method)
                exact = [e for e in estimates.get(name, ()) if e.method == "exact"]
                if exact and checked:
                    estimates[f"z_exact:{name}"] = [Estimate(z_score(est, exact[0].value), 0.0, n=est.n,
                                                             method=s.method)]
            estimates.setdefault(name, []).append(est)
        if want_hist:
            dist = _histogram(samples, space, spec.observables.bins, True)
            hists["P(q) sampled" if "P(q)" in hists else "P(q)"] = dist

    potentials = None
    if spec.franz_parisi is not None:
        curve, fit_rows = _franz_parisi(spec, post, state, key)
        estimates.update(fit_rows)
        fp = spec.franz_parisi
        potentials = potential_frame(info, {"V(q)": curve}, order_parameter=fp.order_parameter, method=fp.method)

    results = result_frame(info, estimates)
    histograms = histogram_frame(info, hists) if hists else None
    return {"results": results, "histograms": histograms, "potentials": potentials}


def _clones(spec, model, process, state, task, key):
    """Clones of the task's x_t by the spec's score (module docstring): ``(samples, rows)``."""
    sc, s = spec.score, spec.sampler
    score_model = score_for_task(spec, model, process, task)
    res = mc.clone_replicas(
        score_model, state.x_t, task.t, n_replicas=s.n_replicas, n_draws=s.draws, seed=spec.scan.seed, key=key,
        n_steps=sc.n_steps, scheme=sc.scheme, t_stop=sc.t_stop * task.t, spacing=sc.spacing,
        check_steps=sc.check_steps, batch_size=sc.batch_size,
    )
    n = res.n_replicas * res.n_draws
    rows = {
        "clone_step_bias_ratio": Estimate(res.step_bias_ratio, 0.0, n=n, method=CLONES),
        "clone_step_error": Estimate(res.step_error, 0.0, n=n, method=CLONES),
        "mixed": Estimate(float(res.converged), 0.0, n=n, method=CLONES),
    }
    return res.samples, {name: [est] for name, est in rows.items()}


def score_for_task(spec, model, process, task):
    """The spec's score model for a task's training set (built once per training set and size in a
    process: a network's weights are read once, not per time and disorder sample)."""
    d = task.disorder if spec.model.realisation == "per_disorder" else 0
    cache_key = (spec.hash, task.n_dim, d, task.n_points)
    if cache_key not in _SCORES:
        _SCORES[cache_key] = spec.score.build(model, process, task.n_points)
        while len(_SCORES) > _SCORES_KEPT:
            _SCORES.pop(next(iter(_SCORES)))
    return _SCORES[cache_key]


#: Score models built in this process, by (spec hash, N, training-set realisation, size); the last few kept.
_SCORES = {}
_SCORES_KEPT = 8


#: Absolute resolution of :func:`z_score` for a series that never varied (zero error bar): it
#: cannot resolve smaller differences of O(1) observables. Example: a posterior with weight
#: 1 - 1e-6 on one point has weight entropy 1e-5; 128 draws that never left that point estimate
#: -E[log w] = 1e-6, and their zero error bar made the two 9 "standard errors" apart.
Z_RESOLUTION = 1e-4


def z_score(est, exact):
    """``(value - exact) / error`` of a Monte Carlo estimate against the exact value, with the error
    floored at the resolution of a mean of ``n`` samples, ``max(|value|, |exact|) / n``: a series
    that never varied (every replica in one state) has a zero error bar, and a difference from the
    exact value then counts in units of what one sample could have changed, instead of being
    infinite when the exact value is a hair away (``1`` against ``1 - 1e-9``) or skipped when it
    is far (a trapped run); for such a series, plus :data:`Z_RESOLUTION`."""
    floor = max(abs(est.value), abs(exact)) / max(est.n, 1)
    if est.stderr == 0.0:
        floor += Z_RESOLUTION
    err = max(est.stderr, floor)
    if err == 0.0:
        return 0.0
    return (est.value - exact) / err


def _diagnostics(res, method):
    """Rows of the sampler's diagnostics (see the module docstring)."""
    n = res.n_replicas * res.n_draws
    tau_e = np.asarray(res.tau_int.get("energy", [np.nan]), dtype=float)
    rows = {
        "acceptance": Estimate(float(np.mean(res.acceptance[:, 0])),
                               float(np.std(res.acceptance[:, 0]) / np.sqrt(res.n_replicas)), n=res.n_replicas,
                               method=method),
        "tau_int_energy": Estimate(float(np.max(tau_e)), 0.0, n=n, method=method),
    }
    if res.exchange_rate.size:  # NaN pads the ladders of replicas that tuned fewer rungs (adaptive)
        rows["exchange_rate_min"] = Estimate(float(np.nanmin(np.nanmean(res.exchange_rate, axis=0))), 0.0,
                                             n=res.n_replicas, method=method)
    rhat = dict(res.rhat)
    order = [v for name, v in rhat.items() if name.startswith("order_")]
    named = {"energy": rhat.get("energy"), "projection": rhat.get("projection"), "overlap": rhat.get("overlap"),
             "order": max(order) if order else None}
    for name, value in named.items():
        if value is not None or name == "energy":
            rows[f"rhat_{name}"] = Estimate(float(np.nan if value is None else value), 0.0, n=n, method=method)
    rows["rhat_max"] = Estimate(res.rhat_max, 0.0, n=n, method=method)
    rows["mixed"] = Estimate(float(res.mixed), 0.0, n=n, method=method)
    return {name: [est] for name, est in rows.items()}


def _franz_parisi(spec, post, state, key):
    """The task's Franz-Parisi potential (quenched over references) and its fit:
    ``fp_fragmented`` (1 or 0, by ``FranzParisi``'s stated criterion), ``fp_converged`` for
    umbrella sampling (a run whose windows do not meet their criteria raises
    ``replica.umbrella.ConvergenceError`` naming them, and the task fails with that message), and
    when a secondary minimum is found ``fp_barrier``, ``fp_depth`` (``N V`` units) and
    ``fp_secondary_q``."""
    from ..potentials.franz_parisi import FranzParisi

    fp = spec.franz_parisi
    umbrella = fp.umbrella_options() if fp.method == "umbrella" else {}
    planted = fp.reference == "planted"
    model = FranzParisi(
        method=fp.method, order_parameter=fp.order_parameter, q_grid=None if fp.q is None else np.asarray(fp.q),
        n_references=fp.n_references, seed=spec.scan.seed, key=(*key, FP_STREAM),
        reference=state.x0 if planted else None, bin_average=fp.bin_average, umbrella_options=umbrella,
    ).fit(post)
    curve = model.potential_[["q", "V", "stderr", "n_references"]]
    n_units = int(model.potential_["n_references"].max())
    rows = {"fp_fragmented": [Estimate(float(model.fragmented_), 0.0, n=n_units, method=f"franz_parisi_{fp.method}")]}
    if fp.method == "umbrella":  # 1: every window met its criteria (an unconverged run raises instead)
        rows["fp_converged"] = [Estimate(float(model.converged_), 0.0, n=n_units, method="franz_parisi_umbrella")]
    sec = model.secondary_minimum_
    if sec is not None:
        for name, est in (("fp_barrier", sec.barrier), ("fp_depth", sec.depth), ("fp_secondary_q", sec.q)):
            rows[name] = [Estimate(est.value, est.stderr, n=n_units, method=f"franz_parisi_{fp.method}")]
    return curve, rows
