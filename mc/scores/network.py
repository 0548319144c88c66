"""The package's small denoiser network, its training, and the ``network`` score of scan specs.

The network is an EDM-preconditioned MLP (Karras et al. 2022, table 1): in the ``"sigma"``
conditioning of :class:`~mc.scores.torch_adapter.TorchScore`, for ``y = x0 + sigma eps``,

    D(y, sigma) = c_skip y + c_out F(c_in y, c_noise),
    c_skip = sd^2 / (sigma^2 + sd^2),   c_out = sigma sd / sqrt(sigma^2 + sd^2),
    c_in = 1 / sqrt(sigma^2 + sd^2),     c_noise = log(sigma) / 4,

with ``sd`` (``sigma_data``) the root mean square of the training coordinates, a buffer of the
module (the weights file carries it). ``F`` is an MLP with SiLU activations whose input is
``c_in y`` concatenated with the noise features ``[c_noise, sin(w_k c_noise), cos(w_k c_noise)]``,
``w_k = (pi / 4) 2^k``, ``k < N_FOURIER``, and which has ``depth`` hidden layers of width
``hidden``.

:func:`train_denoiser` fits it to training points by the EDM loss

    L = E_{sigma, x0, eps} [ lambda(sigma) |D(x0 + sigma eps, sigma) - x0|^2 ] / N,
    lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2,   log sigma ~ U(log sigma_min, log sigma_max),

(``lambda = 1 / c_out^2``: the target of ``F`` has unit scale at every sigma) with Adam and a
cosine learning-rate decay, in float32 on the CPU, from a fixed seed.

The registered score ``network`` reads such a network from a weights file (``[score] weights``,
tensors only) and wraps it as a ``TorchScore(output="denoiser", conditioning="sigma")``.
torch is imported only when a network is made, trained or built: the entry registers without it.
``mc.scores.network.DenoiserMLP`` is the module class (its access imports torch).
"""
from __future__ import annotations

import functools
import math
from typing import Annotated

import numpy as np
from pydantic import Field

from . import registry as _registry
from .._validation import as_float_array, probability_vector
from .torch_adapter import TorchScore, _torch, load_weights

__all__ = ["make_denoiser_mlp", "train_denoiser", "denoiser_mlp_class", "N_FOURIER"]

#: Number of Fourier frequencies of the noise features.
N_FOURIER = 4


@functools.lru_cache(maxsize=None)
def denoiser_mlp_class():
    """The ``DenoiserMLP`` class (a ``torch.nn.Module``), defined on first use so that importing
    this module does not import torch."""
    torch = _torch()
    nn = torch.nn

    class DenoiserMLP(nn.Module):
        """EDM-preconditioned MLP denoiser ``D(y, sigma)`` (``mc.scores.network`` docstring).

        Parameters
        ----------
        n_dim : int
            Dimension N of the states.
        hidden : int
            Width of the hidden layers.
        depth : int
            Number of hidden layers (``depth + 1`` linear maps).
        sigma_data : float
            ``sd`` of the preconditioning, a buffer saved with the weights.
        """

        def __init__(self, n_dim, hidden=256, depth=3, sigma_data=1.0):
            super().__init__()
            self.n_dim, self.hidden, self.depth = int(n_dim), int(hidden), int(depth)
            self.register_buffer("sigma_data", torch.tensor(float(sigma_data), dtype=torch.float32))
            freqs = (math.pi / 4) * 2.0 ** torch.arange(N_FOURIER, dtype=torch.float32)
            self.register_buffer("frequencies", freqs, persistent=False)
            width = self.n_dim + 1 + 2 * N_FOURIER
            layers = []
            for _ in range(self.depth):
                layers += [nn.Linear(width, self.hidden), nn.SiLU()]
                width = self.hidden
            layers.append(nn.Linear(width, self.n_dim))
            self.net = nn.Sequential(*layers)

        def forward(self, y, sigma):
            """``D(y, sigma)`` for ``y`` of shape (m, N) and ``sigma`` of shape (m,) (or a scalar)."""
            sigma = torch.as_tensor(sigma, dtype=y.dtype, device=y.device).reshape(-1, 1).expand(y.shape[0], 1)
            sd = self.sigma_data.to(y.dtype)
            s2 = sigma * sigma + sd * sd
            c_skip = sd * sd / s2
            c_out = sigma * sd / s2.sqrt()
            c_in = s2.rsqrt()
            c_noise = sigma.log() / 4
            phase = c_noise * self.frequencies.to(y.dtype)
            features = torch.cat([c_in * y, c_noise, phase.sin(), phase.cos()], dim=1)
            return c_skip * y + c_out * self.net(features)

        def extra_repr(self):
            return f"n_dim={self.n_dim}, hidden={self.hidden}, depth={self.depth}"

    DenoiserMLP.__qualname__ = "DenoiserMLP"  # reachable as mc.scores.network.DenoiserMLP
    return DenoiserMLP


def __getattr__(name):
    if name == "DenoiserMLP":
        return denoiser_mlp_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    return int(value)


def make_denoiser_mlp(n_dim, hidden=256, depth=3, sigma_data=1.0):
    """A new ``DenoiserMLP(n_dim, hidden, depth, sigma_data)`` (float32, CPU, torch's default
    initialisation), called as ``module(y, sigma)`` and returning ``D(y, sigma)``."""
    n_dim, hidden, depth = (_positive_int(v, k) for v, k in ((n_dim, "n_dim"), (hidden, "hidden"), (depth, "depth")))
    if not (isinstance(sigma_data, (int, float, np.floating)) and math.isfinite(sigma_data) and sigma_data > 0):
        raise ValueError(f"sigma_data: must be a finite number > 0, got {sigma_data!r}")
    return denoiser_mlp_class()(n_dim, hidden, depth, float(sigma_data))


def train_denoiser(points, *, hidden, depth, sigma_min, sigma_max, steps, batch_size, lr, seed, weights=None,
                   progress=False):
    """Train a :func:`make_denoiser_mlp` network on training points (module docstring: the loss).

    Parameters
    ----------
    points : array (n, N)
        Training points (float64; trained in float32).
    hidden, depth : int
        Width and number of hidden layers.
    sigma_min, sigma_max : float
        Range of the noise levels, ``0 < sigma_min <= sigma_max``; ``log sigma`` is uniform.
    steps : int
        Optimiser steps; the learning rate decays as ``lr (1 + cos(pi k / steps)) / 2``.
    batch_size : int
        Points per step, drawn with replacement (by ``weights`` if given), each with its own
        sigma and noise.
    lr : float
        Initial Adam learning rate.
    seed : int
        Seeds the initialisation and the draws (torch's global random state is left as it was).
    weights : array (n,), optional
        Probabilities of the points (a data file's merged repeated rows); uniform by default.
        ``sd`` is the weighted root mean square coordinate, ``sqrt(sum_mu w_mu |y_mu|^2 / N)``
        (1 if every point is at the origin).
    progress : bool
        Show a progress bar with the running loss.

    Returns
    -------
    torch.nn.Module
        The trained ``DenoiserMLP`` in eval mode (float32, CPU), with ``loss_history``, the
        loss of every step (numpy float64 array).
    """
    torch = _torch()
    pts = as_float_array(points, "points", ndim=2)
    if pts.shape[0] < 1 or pts.shape[1] < 1:
        raise ValueError(f"points: expected at least one point of dimension >= 1, got shape {pts.shape}")
    n, n_dim = pts.shape
    hidden, depth = _positive_int(hidden, "hidden"), _positive_int(depth, "depth")
    steps, batch_size = _positive_int(steps, "steps"), _positive_int(batch_size, "batch_size")
    for value, key in ((sigma_min, "sigma_min"), (sigma_max, "sigma_max"), (lr, "lr")):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not (
                math.isfinite(value) and value > 0):
            raise ValueError(f"{key}: must be a finite number > 0, got {value!r}")
    if sigma_max < sigma_min:
        raise ValueError(f"sigma_max: must be >= sigma_min ({sigma_min}), got {sigma_max}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected an integer >= 0, got {seed!r}")
    w = np.full(n, 1.0 / n) if weights is None else probability_vector(weights, "weights", n)
    sd = math.sqrt(float(w @ np.einsum("ij,ij->i", pts, pts)) / n_dim) or 1.0

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        module = make_denoiser_mlp(n_dim, hidden, depth, sd)
    gen = torch.Generator().manual_seed(int(seed))
    data = torch.as_tensor(pts, dtype=torch.float32)
    probs = None if weights is None else torch.as_tensor(w, dtype=torch.float64)
    log_lo, log_span = math.log(sigma_min), math.log(sigma_max) - math.log(sigma_min)
    sd2 = sd * sd

    opt = torch.optim.Adam(module.parameters(), lr=float(lr))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    losses = np.empty(steps)
    from tqdm.auto import tqdm

    bar = tqdm(range(steps), disable=not progress, desc="train denoiser", unit="step")
    module.train()
    for k in bar:
        if probs is None:
            idx = torch.randint(n, (batch_size,), generator=gen)
        else:
            idx = torch.multinomial(probs, batch_size, replacement=True, generator=gen)
        x0 = data[idx]
        sigma = torch.exp(log_lo + log_span * torch.rand(batch_size, generator=gen))
        y = x0 + sigma[:, None] * torch.randn(x0.shape, generator=gen)
        weight = (sigma * sigma + sd2) / (sigma * sigma * sd2)
        loss = (weight[:, None] * (module(y, sigma) - x0) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses[k] = float(loss.detach())
        if progress and (k % 50 == 0 or k == steps - 1):
            bar.set_postfix(loss=f"{losses[max(0, k - 49):k + 1].mean():.4g}")
    bar.close()
    module.eval()
    module.loss_history = losses
    return module


# registry entry --------------------------------------------------------------------------------
@_registry.register
class _NetworkEntry(_registry.ScoreEntry):
    name = "network"
    doc = ("learned EDM denoiser MLP read from a weights file: D(y, sigma) = c_skip y + c_out F(c_in y, "
           "log(sigma)/4), y = x / a, sigma = sqrt(D) / a")

    class Parameters(_registry.Parameters):
        weights: Annotated[str, Field(min_length=1)]
        hidden: Annotated[int, Field(ge=1)] = 256
        depth: Annotated[int, Field(ge=1)] = 3
        batch_size: Annotated[int, Field(ge=1)] = 4096

    files = ("weights",)
    learned = True

    def build(self, p, model, process):
        points = getattr(model, "points", None)
        n_dim = np.shape(points)[1] if points is not None else getattr(model, "n_dim", None)
        if n_dim is None:
            raise ValueError(f"score: a network needs a model with a dimension, got {type(model).__name__}")
        module = make_denoiser_mlp(int(n_dim), p.hidden, p.depth)  # sigma_data: the file's buffer replaces it
        load_weights(module, p.weights)
        score = TorchScore(module, int(n_dim), process, output="denoiser", conditioning="sigma",
                           batch_size=p.batch_size)
        score.name = self.name
        return score
