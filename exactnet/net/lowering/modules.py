"""Lowering rules of torch modules: Linear, convolutions, batch norm, average and max
pooling, and the activations (ReLU, LeakyReLU, clamp) with the max tournaments they need;
the dense matrices of convolutions and pooling windows."""

from __future__ import annotations

import functools
import itertools
import math
from fractions import Fraction

import numpy as np

from ..rational import fraction_array, real_tensor_to_numpy
from .state import _State
from .tracing import UnsupportedLayerError
from .values import _ONE, _ZERO, _Val, _zeros


def _ntuple(v, d: int) -> tuple:
    return (v,) * d if v is None or isinstance(v, (int, np.integer)) else tuple(v)


def _sliding_windows(n, k, stride, pad, dil, ceil_mode):
    """Torch's pooling windows along one axis: positions (n_out, k), in-range mask, padded size."""
    n_out = (n + 2 * pad - dil * (k - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (n_out - 1) * stride >= n + pad:
        n_out -= 1  # the last window would start in the right padding
    start = np.arange(n_out) * stride - pad
    pos = start[:, None] + dil * np.arange(k)
    return pos, (pos >= 0) & (pos < n), np.minimum(start + k, n + pad) - start


def _adaptive_windows(n, n_out):
    """Adaptive pooling windows ``[floor(t n / o), ceil((t + 1) n / o))`` along one axis."""
    t = np.arange(n_out)
    start, end = t * n // n_out, -(-(t + 1) * n // n_out)
    pos = start[:, None] + np.arange(int((end - start).max()))
    return pos, pos < end[:, None], end - start


def _conv_matrix(w, groups, spatial, stride, dil, pads):
    """Dense matrix of a zero-padded cross-correlation on ``(C_in, *spatial)``; returns it and the output size.

    It is ``sum over taps j`` of ``kron(channel matrix of w[..., j], kron over axes of shift(j_a))``,
    where ``shift(j_a)[t, i] = 1`` iff ``i = t * stride - pad_lo + j_a * dilation``.
    """
    c_out, c_grp, *ks = w.shape
    shifts, out = [], []
    for n, k, s, d, (lo, hi) in zip(spatial, ks, stride, dil, pads):
        n_out = (n + lo + hi - d * (k - 1) - 1) // s + 1
        t = np.arange(n_out)
        mats = []
        for j in range(k):
            i = t * s - lo + j * d
            ok = (i >= 0) & (i < n)
            m = np.zeros((n_out, n))
            m[t[ok], i[ok]] = 1.0
            mats.append(m)
        shifts.append(mats)
        out.append(n_out)
    mask = np.kron(np.eye(groups), np.ones((c_out // groups, c_grp)))  # channel o reads its group only
    dense = 0.0
    for taps in itertools.product(*map(range, ks)):
        chan = np.tile(w[(slice(None), slice(None)) + taps], (1, groups)) * mask
        dense = dense + np.kron(chan, functools.reduce(np.kron, [shifts[a][j] for a, j in enumerate(taps)]))
    return dense, tuple(out)


def _check_module(label: str, m, kind: str) -> None:
    if kind.startswith(("Dropout", "BatchNorm")) and m.training:
        raise ValueError(
            f"{label} is in training mode, where its output depends on the batch or on randomness; "
            f"call model.eval() before from_torch"
        )
    if kind.startswith("BatchNorm") and m.running_mean is None:
        raise UnsupportedLayerError(
            f"{label} has track_running_stats=False, so it normalises with batch statistics even in eval mode; "
            f"only batch norm with running statistics is supported"
        )
    if kind.startswith("Conv") and m.padding_mode != "zeros":
        raise UnsupportedLayerError(
            f"{label} has padding_mode={m.padding_mode!r}; only padding_mode='zeros' is supported"
        )
    if getattr(m, "return_indices", False):
        raise UnsupportedLayerError(f"{label} has return_indices=True; only the pooled values are supported")


def _param(label: str, m, pname: str) -> np.ndarray:
    """A parameter or buffer of ``m`` as float64 (exact for float16/32/64), checked finite."""
    a = real_tensor_to_numpy(getattr(m, pname), f"{label}: {pname}")
    bad = ~np.isfinite(a)
    if bad.any():
        idx = [int(i) for i in np.argwhere(bad)[0]]
        raise ValueError(f"{label}: {pname}{idx} is {float(a[tuple(idx)])}; only finite weights can be lowered")
    return a


def _torch_shape(label: str, m, shape) -> tuple[int, ...]:
    """Per-sample output shape of ``m`` on an input of per-sample ``shape``, as torch computes it."""
    import torch

    try:
        with torch.no_grad():
            y = m(torch.zeros((1,) + tuple(shape), dtype=torch.float64))
    except Exception as err:
        raise ValueError(f"{label} cannot take per-sample shape {tuple(shape)}: torch raises: {err}") from None
    return tuple(y.shape[1:])


class _ModuleRules(_State):
    """Lowering rules of torch modules (and of the activations and maxima they need)."""

    def _module(self, label, m, kind, x: _Val):
        if kind == "Linear":
            b = _param(label, m, "bias") if m.bias is not None else np.zeros(m.out_features)
            return self._linear(label, x, _param(label, m, "weight"), b)
        if kind.startswith("Conv"):
            return self._conv(label, m, x, int(kind[-2]))
        if kind.startswith("BatchNorm"):
            return self._batchnorm(label, m, x, int(kind[-2]))
        if "Pool" in kind:
            return self._pool(label, m, kind, x, int(kind[-2]))
        if kind == "ReLU":
            return self._act(label, x, _ZERO)
        if kind == "LeakyReLU":
            return self._act(label, x, Fraction(float(m.negative_slope)))
        if kind == "Hardtanh":
            return self._clamp(label, x, m.min_val, m.max_val)
        if kind in ("Flatten", "Unflatten"):
            return self._rearrange(label, m, (x,), {})
        return x  # Identity, Dropout in eval mode

    def _linear(self, label, x: _Val, w, b) -> _Val:
        """``x @ w.T + b`` on the last axis: the block-diagonal ``I (x) w``."""
        if x.shape[-1] != w.shape[1]:
            raise self._mismatch(label, f"last axis of size in_features={w.shape[1]}", x.shape)
        lead = x.size // x.shape[-1]
        W = np.kron(np.eye(lead), w) if lead > 1 else w
        return self._affine(label, x, W, np.tile(b, lead), x.shape[:-1] + (w.shape[0],))

    def _conv(self, label, m, x: _Val, d: int) -> _Val:
        if len(x.shape) != d + 1 or x.shape[0] != m.in_channels:
            dims = "length" if d == 1 else "height, width"
            raise self._mismatch(label, f"per-sample shape (in_channels={m.in_channels}, {dims})", x.shape)
        w = _param(label, m, "weight")  # (out, in / groups, *kernel)
        ks = w.shape[2:]
        if m.padding == "valid":
            pads = [(0, 0)] * d
        elif m.padding == "same":
            pads = [(dl * (k - 1) // 2, dl * (k - 1) - dl * (k - 1) // 2) for k, dl in zip(ks, m.dilation)]
        else:
            pads = [(p, p) for p in m.padding]
        need = [dl * (k - 1) + 1 - lo - hi for k, dl, (lo, hi) in zip(ks, m.dilation, pads)]
        if any(n < r for n, r in zip(x.shape[1:], need)):
            least = f"an input length of at least {need[0]}" if d == 1 else f"an input size of at least {tuple(need)}"
            raise self._mismatch(label, least, x.shape)
        dense, out = _conv_matrix(w, m.groups, x.shape[1:], m.stride, m.dilation, pads)
        b = _param(label, m, "bias") if m.bias is not None else np.zeros(m.out_channels)
        return self._affine(label, x, dense, np.repeat(b, math.prod(out)), (m.out_channels,) + out)

    def _batchnorm(self, label, m, x: _Val, d: int) -> _Val:
        """``a (x - mean) + beta`` per channel (axis 0 of the per-sample shape): no layer of its own."""
        c = m.num_features
        if len(x.shape) not in ((1, 2) if d == 1 else (3,)) or x.shape[0] != c:
            raise self._mismatch(label, f"num_features={c} channels (axis 1 of the batched input)", x.shape)
        var, mean = _param(label, m, "running_var"), _param(label, m, "running_mean")
        gamma = _param(label, m, "weight") if m.weight is not None else np.ones(c)
        beta = _param(label, m, "bias") if m.bias is not None else np.zeros(c)
        scale = gamma / np.sqrt(var + m.eps)  # float64, then exact
        if not np.isfinite(scale).all():
            raise ValueError(f"{label}: gamma / sqrt(running_var + eps) is not finite")
        rep = x.size // c
        a = fraction_array(np.repeat(scale, rep), f"{label}.scale")
        mean_q = fraction_array(np.repeat(mean, rep), f"{label}.running_mean")
        shift = fraction_array(np.repeat(beta, rep), f"{label}.bias") - a * mean_q
        return x.affine(a, shift)

    def _pool(self, label, m, kind, x: _Val, d: int) -> _Val:
        """Average pools become one layer of exact weights; max pools a tournament (module docstring)."""
        if len(x.shape) not in (d, d + 1):
            dims = "length" if d == 1 else "height, width"
            raise self._mismatch(label, f"per-sample shape ([channels,] {dims})", x.shape)
        expected = _torch_shape(label, m, x.shape)  # torch's own checks (padding at most half the kernel, ...)
        spatial = x.shape[-d:]
        chans = x.size // math.prod(spatial)
        if kind.startswith("Adaptive"):
            sizes = _ntuple(m.output_size, d)
            wins = [_adaptive_windows(n, n if o is None else o) for n, o in zip(spatial, sizes)]
        else:
            k, s, p = (_ntuple(v, d) for v in (m.kernel_size, m.stride, m.padding))
            dil = _ntuple(getattr(m, "dilation", 1), d)
            wins = [_sliding_windows(*a, m.ceil_mode) for a in zip(spatial, k, s, p, dil)]
        shape = x.shape[:-d] + tuple(len(w[0]) for w in wins)
        assert shape == expected, (shape, expected)
        if "Avg" in kind:
            override = getattr(m, "divisor_override", None)
            mats = []
            for (pos, ok, padded), n in zip(wins, spatial):
                if override:
                    div = np.ones(len(pos), dtype=int)
                else:
                    div = padded if getattr(m, "count_include_pad", False) else ok.sum(1)
                t, j = np.nonzero(ok)
                P = _zeros((len(pos), n))
                P[t, pos[t, j]] = [Fraction(1, int(div[i])) for i in t]
                mats.append(P)
            dense = functools.reduce(np.kron, mats)
            if chans > 1:
                dense = np.kron(np.eye(chans, dtype=np.int64).astype(object), dense)
            if override:
                dense = dense * Fraction(1, int(override))
            return self._affine(label, x, dense, np.zeros(len(dense)), shape)
        idx, ok = (np.arange(chans) * math.prod(spatial))[:, None], np.ones((chans, 1), dtype=bool)
        stride = math.prod(spatial)
        for (pos, ok_a, _), n in zip(wins, spatial):  # element index and mask of every (output, window slot)
            stride //= n
            slots = idx.shape[1] * pos.shape[1]
            idx = (idx[:, None, :, None] + (np.where(ok_a, pos, 0) * stride)[None, :, None, :]).reshape(-1, slots)
            ok = (ok[:, None, :, None] & ok_a[None, :, None, :]).reshape(idx.shape)
        return self._max_windows(label, x, idx, ok, shape, 1)

    def _act(self, label, x: _Val, slope: Fraction) -> _Val:
        """``max(x, 0) + slope * min(x, 0)``: one unit per element."""
        return self._emit(label, [(x, slope)])[0]

    def _clamp(self, label, x: _Val, lo, hi) -> _Val:
        """``min(max(x, lo), hi) = lo + relu(x - lo) - relu(x - hi)`` (one bound: ``lo + relu(x - lo)``
        or ``hi - relu(hi - x)``); bounds are constants."""
        bounds = [v for v in (lo, hi) if v is not None]
        if not bounds:
            return x
        if any(isinstance(v, _Val) for v in bounds):
            raise UnsupportedLayerError(
                f"{label}: clamp bounds must be constants; use torch.maximum/minimum for tensors"
            )
        _, (x, *bq) = self._broadcast(label, [x] + bounds)
        lo_q, hi_q = (bq[0] if lo is not None else None), (bq[-1] if hi is not None else None)
        if lo_q is not None and hi_q is not None:
            if any(a > b for a, b in zip(lo_q, hi_q)):
                raise ValueError(f"{label}: the lower bound exceeds the upper bound")
            under, over = self._emit(label, [(x.affine(_ONE, -lo_q), _ZERO), (x.affine(_ONE, -hi_q), _ZERO)])
            return under.plus(over, -1).affine(_ONE, lo_q)
        if lo_q is not None:
            return self._emit(label, [(x.affine(_ONE, -lo_q), _ZERO)])[0].affine(_ONE, lo_q)
        return self._emit(label, [(x.affine(-_ONE, hi_q), _ZERO)])[0].affine(-_ONE, hi_q)

    def _max_windows(self, label, x: _Val, idx, ok, shape, sign: int) -> _Val:
        """Output ``o`` is the max (``sign=-1``: min) of the elements ``idx[o, j]`` of ``x`` with ``ok[o, j]``."""
        counts = ok.sum(1)
        if (counts == 0).any():
            raise ValueError(f"{label}: a pooling window lies entirely in the padding")
        idx = np.take_along_axis(idx, np.argsort(~ok, axis=1, kind="stable"), axis=1)  # real elements first
        x = x if sign > 0 else x.affine(-_ONE)
        best = self._tournament(label, [x.take(idx[:, j]) for j in range(counts.max())], counts)
        return (best if sign > 0 else best.affine(-_ONE)).reshape(shape)

    def _tournament(self, label, cols: list[_Val], counts) -> _Val:
        """``max_j cols[j][o]`` over ``j < counts[o]``, by rounds of ``max(a, b) = a + relu(b - a)``."""
        n = len(counts)
        while len(cols) > 1:
            blocks, plan = [], []
            for i in range(0, len(cols), 2):
                keep = np.flatnonzero(counts > i)
                blocks.append((cols[i].take(keep), _ONE))  # a: linear
                both = np.flatnonzero(counts > i + 1) if i + 1 < len(cols) else None
                if both is not None:
                    blocks.append((cols[i + 1].take(both).plus(cols[i].take(both), -1), _ZERO))  # relu(b - a)
                plan.append((keep, both))
            units = iter(self._emit(label, blocks))
            cols = []
            for keep, both in plan:
                col = next(units).scatter(keep, n)
                cols.append(col if both is None else col.plus(next(units).scatter(both, n)))
            counts = (counts + 1) // 2
        return cols[0]

    def _reduce_max(self, label, x: _Val, dims, keepdim, sign) -> _Val:
        dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
        axes = sorted({self._axis(label, dim, x) for dim in dims})
        rest = [a for a in range(len(x.shape)) if a not in axes]
        k = math.prod(x.shape[a] for a in axes)
        idx = np.arange(x.size).reshape(x.shape).transpose(rest + axes).reshape(-1, k)
        if keepdim:
            shape = tuple(1 if a in axes else s for a, s in enumerate(x.shape))
        else:
            shape = tuple(x.shape[a] for a in rest)
        return self._max_windows(label, x, idx, np.ones(idx.shape, dtype=bool), shape, sign)

    def _maximum(self, label, a, b, sign) -> _Val:
        if not isinstance(a, _Val):
            a, b = b, a
        if not isinstance(b, _Val):  # max(x, c) = clamp(x, min=c)
            return self._clamp(label, a, b, None) if sign > 0 else self._clamp(label, a, None, b)
        shape, (a, b) = self._broadcast(label, [a, b])
        n = math.prod(shape)
        pairs = np.c_[np.arange(n), n + np.arange(n)]
        return self._max_windows(label, _Val.concat([a, b]), pairs, np.ones((n, 2), dtype=bool), shape, sign)

    @staticmethod
    def _axis(label, dim, x: _Val) -> int:
        """The per-sample axis of the batched dimension ``dim``."""
        ndim = len(x.shape) + 1
        d = dim + ndim if dim < 0 else dim
        if not 1 <= d < ndim:
            raise UnsupportedLayerError(
                f"{label}: dim={dim} is the batch axis or out of range for per-sample shape {x.shape}"
            )
        return d - 1
