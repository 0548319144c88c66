"""Timing shared by the benchmark scripts (imported from the scripts' own folder)."""
from __future__ import annotations

import time

import numpy as np


def best_of(fn, repeat):
    """Smallest wall time of ``repeat`` calls of ``fn()`` (its return value is ignored)."""

    def call():
        fn()

    return interleaved_best({"fn": call}, repeat)["fn"]


def interleaved_best(contenders, repeat):
    """Smallest time of each callable over ``repeat`` rounds that call every contender in turn.

    Alternating spreads the drifts of a shared machine over all contenders, so that their ratio
    is measured under the same conditions. A callable may return its own elapsed seconds (e.g. a
    time measured inside a subprocess); otherwise its wall time is used.
    """
    best = {name: np.inf for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            own = fn()
            elapsed = time.perf_counter() - t0 if own is None else own
            best[name] = min(best[name], elapsed)
    return best


def cpu_timed(fn):
    """``fn`` wrapped to return its process CPU seconds (:func:`interleaved_best` uses a returned time)."""

    def call():
        t0 = time.process_time()
        fn()
        return time.process_time() - t0

    return call
