"""A ``torch.nn.Module`` as a score model, and its weights files (extra ``torch``).

:class:`TorchScore` evaluates a network on batches of states and converts what it returns into
the denoiser or the score of the package's convention (``mc.scores.base``): the forward process
``x_t = a x0 + sqrt(D) eps``, ``eps ~ N(0, I)``, the denoiser ``E[x0 | x_t = x]`` and the score
``s(x, t) = grad_x log p_t(x)``, tied by Tweedie's formula ``E[x0 | x] = (x + D s) / a``.

A network is called in one of two conditionings:

* ``"sigma"`` (EDM, Karras et al. 2022): ``module(y, sigma)`` with the rescaled state and the
  noise level

      y = x / a = x0 + sigma eps,        sigma = sqrt(D) / a,

  so the network does not depend on the forward process (one network serves VP, VE, ...);
* ``"time"``: ``module(x, t)``, a network trained on one forward process at its times.

and returns one of three outputs:

* ``"denoiser"``: ``E[x0 | y]`` = ``E[x0 | x]`` (y is a function of x), used as it is;
* ``"score"``: in ``"time"`` conditioning ``s(x, t)`` itself; in ``"sigma"`` conditioning the
  score of y, ``grad_y log p(y)``, and since ``p_x(x) = p_y(x / a) / a^N``,
  ``s(x, t) = grad_y log p(y) / a``;
* ``"noise"``: the noise prediction ``eps_hat = E[eps | x]`` (the same eps in both
  conditionings, as ``a y = x``), so ``s(x, t) = -eps_hat / sqrt(D)`` and
  ``E[x0 | x] = (x - sqrt(D) eps_hat) / a = y - sigma eps_hat``.

Weights files are data, never code: :func:`load_weights` reads ``.safetensors`` files, or
``.pt`` / ``.pth`` files through ``torch.load(weights_only=True)`` (tensors only, nothing
unpickled runs), into a module whose architecture is this package's code; :func:`save_weights`
writes ``.safetensors`` atomically. ``import mc.scores`` never imports torch: it is imported by
the functions and constructors that need it.
"""
from __future__ import annotations

import math
import os
import uuid
from pathlib import Path

import numpy as np

from .base import ScoreModel

__all__ = ["TorchScore", "load_weights", "save_weights", "OUTPUTS", "CONDITIONINGS", "WEIGHT_SUFFIXES"]

#: What a wrapped network may return.
OUTPUTS = ("denoiser", "score", "noise")
#: How a wrapped network is called: ``module(x / a, sqrt(D) / a)`` or ``module(x, t)``.
CONDITIONINGS = ("sigma", "time")
#: Weights-file suffixes :func:`load_weights` reads.
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")

_INSTALL = "pip install 'diffusion-replicas[torch]'"


def _torch():
    """The ``torch`` module, or an ImportError saying how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"torch is needed for learned score networks: {_INSTALL} ({exc})") from None
    return torch


def _safetensors_torch():
    _torch()
    try:
        import safetensors.torch as st
    except ImportError as exc:
        raise ImportError(f"safetensors is needed for network weights files: {_INSTALL} ({exc})") from None
    return st


def _module_name(module):
    return type(module).__name__


def _default_dtype(torch, module):
    """The dtype of the module's first floating parameter (or buffer), else float32."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _as_dtype(torch, dtype):
    if isinstance(dtype, torch.dtype):
        out = dtype
    elif isinstance(dtype, str) and isinstance(getattr(torch, dtype, None), torch.dtype):
        out = getattr(torch, dtype)
    else:
        raise ValueError(f"dtype: expected a torch floating dtype such as torch.float32, got {dtype!r}")
    if not out.is_floating_point:
        raise ValueError(f"dtype: expected a floating dtype, got {out}")
    return out


class TorchScore(ScoreModel):
    """A ``torch.nn.Module`` as a :class:`~mc.scores.ScoreModel` (module docstring for the
    conditionings and the conversions of the outputs).

    Parameters
    ----------
    module : torch.nn.Module
        The network, called as ``module(y, sigma)`` (``conditioning="sigma"``) or
        ``module(x, t)`` (``"time"``) on a batch of shape (m, N) and a condition of shape (m,)
        (all entries equal), returning a tensor of shape (m, N). It is moved to ``device`` and
        ``dtype`` and put in eval mode (in place).
    n_dim : int
        Dimension N of the states.
    process : ForwardProcess
        The forward process of the states (``a_t``, ``D_t``).
    output : {"denoiser", "score", "noise"}
        What the module returns:

        * ``"denoiser"``: ``E[x0 | x]``;
        * ``"score"``: ``s(x, t)`` (``"time"``) or ``grad_y log p(y)``, and then
          ``s(x, t) = grad_y log p(y) / a`` (``"sigma"``);
        * ``"noise"``: ``eps_hat`` with ``x = a x0 + sqrt(D) eps`` (equivalently
          ``y = x0 + sigma eps``): ``s(x, t) = -eps_hat / sqrt(D)``,
          ``E[x0 | x] = (x - sqrt(D) eps_hat) / a``.
    conditioning : {"sigma", "time"}
        ``"sigma"``: ``module(x / a, sqrt(D) / a)`` (EDM); ``"time"``: ``module(x, t)``.
    batch_size : int
        Rows evaluated per call of the module.
    device : str or torch.device, optional
        Default ``"cuda"`` if available, else ``"cpu"``.
    dtype : torch.dtype or str, optional
        Dtype of the evaluation; default the dtype of the module's parameters (float32 usually).
        Results are float64 numpy arrays whatever it is.
    """

    name = "torch"

    def __init__(self, module, n_dim, process, *, output="denoiser", conditioning="sigma", batch_size=4096,
                 device=None, dtype=None):
        torch = _torch()
        super().__init__(n_dim, process)
        if not isinstance(module, torch.nn.Module):
            raise ValueError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
        if output not in OUTPUTS:
            raise ValueError(f"output: expected one of {OUTPUTS}, got {output!r}")
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning: expected one of {CONDITIONINGS}, got {conditioning!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
        if self.n_dim < 1:
            raise ValueError(f"n_dim: must be >= 1, got {self.n_dim}")
        try:
            self.device = torch.device(device if device is not None
                                       else ("cuda" if torch.cuda.is_available() else "cpu"))
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device: {exc}") from None
        self.dtype = _default_dtype(torch, module) if dtype is None else _as_dtype(torch, dtype)
        self.module = module.to(device=self.device, dtype=self.dtype).eval()
        self.output, self.conditioning, self.batch_size = output, conditioning, int(batch_size)

    # evaluation -------------------------------------------------------------------------------
    def _evaluate(self, x, a, D, t):
        """The raw output of the module on the batch x (float64 numpy, shape of x)."""
        torch = _torch()
        if self.conditioning == "sigma":
            inputs, condition = x / a, math.sqrt(D) / a
        else:
            inputs, condition = x, t
        out = np.empty_like(x)
        what = f"{'sigma' if self.conditioning == 'sigma' else 't'} = {condition:.6g}"
        with torch.inference_mode():
            self.module.eval()
            for start in range(0, x.shape[0], self.batch_size):
                rows = slice(start, min(start + self.batch_size, x.shape[0]))
                block = torch.from_numpy(np.ascontiguousarray(inputs[rows])).to(device=self.device, dtype=self.dtype)
                cond = torch.full((block.shape[0],), condition, device=self.device, dtype=self.dtype)
                res = self.module(block, cond)
                if not isinstance(res, torch.Tensor) or tuple(res.shape) != tuple(block.shape):
                    got = tuple(res.shape) if isinstance(res, torch.Tensor) else type(res).__name__
                    raise ValueError(f"module: {_module_name(self.module)} returned {got} for a batch of shape "
                                     f"{tuple(block.shape)} at {what}; expected a tensor of the batch's shape")
                out[rows] = res.detach().to(device="cpu", dtype=torch.float64).numpy()
        if not np.isfinite(out).all():
            bad = np.unravel_index(int(np.flatnonzero(~np.isfinite(out))[0]), out.shape)
            raise ValueError(f"module: {_module_name(self.module)} returned a non-finite value "
                             f"({out[bad]}) at index {tuple(map(int, bad))}, {what}")
        return out

    def _denoise(self, x, a, D, t):
        out = self._evaluate(x, a, D, t)
        if self.output == "denoiser":
            return out
        if self.output == "noise":  # E[x0 | x] = (x - sqrt(D) eps_hat) / a
            return (x - math.sqrt(D) * out) / a
        score = out / a if self.conditioning == "sigma" else out  # s_x = s_y / a
        return (x + D * score) / a

    def _score(self, x, a, D, t):
        out = self._evaluate(x, a, D, t)
        if self.output == "denoiser":
            return (a * out - x) / D
        if self.output == "noise":  # s = -eps_hat / sqrt(D)
            return out * (-1.0 / math.sqrt(D))
        return out / a if self.conditioning == "sigma" else out

    def __repr__(self):
        return (f"<score {self.name!r} {_module_name(self.module)} N={self.n_dim} "
                f"{getattr(self.process, 'name', self.process)!r} output={self.output!r} "
                f"conditioning={self.conditioning!r} {self.device} {self.dtype}>")


# weights files ----------------------------------------------------------------------------------
def _read_state(torch, path, suffix):
    """The tensors of a weights file (ValueError starting ``score.weights:`` otherwise)."""
    if suffix == ".safetensors":
        st = _safetensors_torch()
        try:
            return st.load_file(path, device="cpu")
        except Exception as exc:  # a corrupt or foreign file: SafetensorError, OSError, ...
            raise ValueError(f"score.weights: {path}: not a readable safetensors file ({exc})") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for anything that is not tensors, RuntimeError, EOFError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"score.weights: {path}: not a file of tensors (read with torch.load(weights_only=True), "
                         f"which refuses code and arbitrary objects): {first}") from None
    if not isinstance(state, dict):
        raise ValueError(f"score.weights: {path}: expected a state dict (name -> tensor), got {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ValueError(f"score.weights: {path}: expected a flat state dict (name -> tensor), got key {key!r} "
                             f"holding {type(value).__name__}")
    return state


def load_weights(module, path):
    """Load a weights file into ``module`` (``load_state_dict(strict=True)``) and return it.

    ``.safetensors`` files are read by ``safetensors.torch.load_file``; ``.pt`` / ``.pth``
    files by ``torch.load(path, map_location="cpu", weights_only=True)`` and must hold a flat
    dict name -> tensor. No other suffix is read, and nothing is ever unpickled as code.

    Raises
    ------
    ValueError
        Starting with ``score.weights:`` and naming the file: missing, unreadable, not tensors,
        or keys / shapes that do not fit the module.
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    path = os.fspath(path)
    suffix = Path(path).suffix.lower()
    if suffix not in WEIGHT_SUFFIXES:
        raise ValueError(f"score.weights: {path}: unsupported file type {suffix or '(no suffix)'!r}; "
                         f"expected one of {', '.join(WEIGHT_SUFFIXES)} (tensors only, never pickled code)")
    if not os.path.isfile(path):
        raise ValueError(f"score.weights: {path}: no such file")
    state = _read_state(torch, path, suffix)
    try:
        module.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split())
        raise ValueError(f"score.weights: {path} does not fit {_module_name(module)}: {detail}") from None
    return module


def save_weights(module, path, metadata=None):
    """Write the state dict of ``module`` to a ``.safetensors`` file, atomically.

    The tensors are written to a temporary file in the same directory, flushed to disk, then
    moved onto ``path`` (``os.replace``), so a reader never sees a partial file. ``metadata``
    is an optional dict str -> str stored in the file's header. Returns the path.
    """
    torch = _torch()
    st = _safetensors_torch()
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    path = Path(os.fspath(path))
    if path.suffix.lower() != ".safetensors":
        raise ValueError(f"path: weights are written as .safetensors, got {str(path)!r}")
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError("metadata: expected a dict of strings to strings")
    # own contiguous CPU copies: safetensors refuses tensors that share memory (tied weights)
    state = {key: value.detach().to("cpu").clone().contiguous() for key, value in module.state_dict().items()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        st.save_file(state, str(tmp), metadata=dict(metadata or {"format": "pt"}))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
