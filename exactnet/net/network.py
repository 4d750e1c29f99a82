"""The canonical piecewise-linear network.

Every model exactnet analyses is lowered to one object: a :class:`Network`, a sequence of
affine layers ``z_l = W_l h_{l-1} + b_l`` each followed by a per-unit piecewise-linear
activation

    h_l[j] = max(z_l[j], 0) + s_l[j] * min(z_l[j], 0),

with ``s = 0`` for ReLU, ``0 < s != 1`` for leaky ReLU, and ``s = 1`` for a *linear*
unit (no activation at all: identity layers, skip connections, the output layer).

A unit with ``s != 1`` is a **neuron**: its sign ``z > 0`` is one bit of the activation
pattern (Serra, Tjandraatmadja, Ramalingam, ICML 2018, Sec. 2). Linear units never split
a region. The last layer is all linear, so the network's output is ``z_L``.

The network is stored twice: exactly, as rationals (``fractions.Fraction``; a float64
weight converts without rounding since float64 numbers are dyadic rationals), and as the
float64 arrays nearest to those rationals. The rationals are the definition; when a user
gives rationals that float64 cannot hold (``1/3``), the float arrays are rounded and the
fast engines account for that rounding in their error bounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..extras import require
from .rational import fraction_array, fraction_to_float, real_tensor_to_numpy, to_fraction

if TYPE_CHECKING:
    import torch

    from .rational import RealArrayLike, RealLike

__all__ = ["Layer", "Network", "IntegerLayer"]


@dataclass(frozen=True, eq=False)
class IntegerLayer:
    """A layer scaled to integers for the exact engines.

    ``W = weight_num / den`` and ``b = bias_num / den``; the activation slope of unit j is
    ``slope_num[j] / slope_den`` (one denominator per layer).
    """

    weight_num: tuple[tuple[int, ...], ...]  # rows, shape (out, in)
    weight_num_cols: tuple[tuple[int, ...], ...]  # columns, shape (in, out)
    bias_num: tuple[int, ...]
    den: int
    slope_num: tuple[int, ...]
    slope_den: int
    is_neuron: tuple[bool, ...]
    neuron_units: tuple[int, ...]  # indices j with is_neuron[j]
    linear_units: tuple[int, ...]
    plain_relu: bool  # every neuron is a ReLU (slope 0) and slope_den == 1


class Layer:
    """One affine map followed by a per-unit activation; immutable.

    Parameters
    ----------
    weight : (out, in) array-like of reals (torch's convention)
    bias : (out,) array-like of reals
    negative_slope : scalar or (out,) array-like; 0 for ReLU (default), 1 for a linear unit.
    """

    __slots__ = ("_weight_q", "_bias_q", "_slope_q", "weight", "bias", "negative_slope", "__dict__")

    def __init__(
        self,
        weight: RealArrayLike,
        bias: RealArrayLike,
        negative_slope: RealLike | RealArrayLike = 0,
        *,
        name: str = "layer",
    ):
        wq = fraction_array(weight, f"{name}.weight", ndim=2)
        bq = fraction_array(bias, f"{name}.bias", ndim=1)
        if wq.shape[0] != bq.shape[0]:
            raise ValueError(
                f"{name}: weight has shape {wq.shape} (out, in) but bias has {bq.shape[0]} entries; "
                f"bias needs {wq.shape[0]}"
            )
        if wq.shape[0] == 0 or wq.shape[1] == 0:
            raise ValueError(f"{name}: weight has shape {wq.shape}; a layer needs at least one input and one output")
        # np.ndim takes any object at run time (numpy's stubs say ArrayLike, which has no Fraction);
        # ndim 0: one slope for every unit (a number, or a 0-d array or tensor)
        if np.ndim(negative_slope) == 0:  # type: ignore[arg-type]
            sq = np.empty(wq.shape[0], dtype=object)
            s = to_fraction(negative_slope, f"{name}.negative_slope")  # type: ignore[arg-type]
            for j in range(wq.shape[0]):
                sq[j] = s
        else:
            sq = fraction_array(negative_slope, f"{name}.negative_slope", ndim=1)
            if sq.shape[0] != wq.shape[0]:
                raise ValueError(f"{name}.negative_slope has {sq.shape[0]} entries, expected {wq.shape[0]}")
        self._weight_q, self._bias_q, self._slope_q = wq, bq, sq
        self.weight = _readonly(np.vectorize(lambda q: fraction_to_float(q, f"{name}.weight"), otypes=[float])(wq))
        self.bias = _readonly(np.array([fraction_to_float(q, f"{name}.bias") for q in bq], dtype=float))
        self.negative_slope = _readonly(np.array([float(q) for q in sq], dtype=float))

    # ----------------------------------------------------------------- exact views
    @property
    def weight_exact(self) -> np.ndarray:
        """(out, in) object array of ``Fraction``."""
        return self._weight_q

    @property
    def bias_exact(self) -> np.ndarray:
        return self._bias_q

    @property
    def sparse_rows(self) -> list[tuple[tuple[int, ...], tuple[Fraction, ...]]]:
        """Per output unit, the columns of its nonzero weights and those weights (cached)."""
        rows = self.__dict__.get("_sparse_rows")
        if rows is None:
            rows = []
            for row in self._weight_q:
                cols = tuple(k for k, w in enumerate(row) if w)
                rows.append((cols, tuple(row[k] for k in cols)))
            self.__dict__["_sparse_rows"] = rows
        return rows

    @property
    def negative_slope_exact(self) -> np.ndarray:
        return self._slope_q

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    @cached_property
    def is_neuron(self) -> np.ndarray:
        """Boolean mask of the units that have a kink (slope != 1)."""
        return _readonly(np.array([s != 1 for s in self._slope_q], dtype=bool))

    @cached_property
    def is_linear(self) -> bool:
        return not self.is_neuron.any()

    @cached_property
    def float_is_exact(self) -> bool:
        """True when the float64 arrays hold the rationals without rounding."""
        return all(
            Fraction(float(q)) == q for arr in (self._weight_q, self._bias_q, self._slope_q) for q in arr.reshape(-1)
        )

    @cached_property
    def integer(self) -> IntegerLayer:
        """The layer scaled to integers (see :class:`IntegerLayer`)."""
        den = 1
        for q in self._weight_q.reshape(-1):
            den = math.lcm(den, q.denominator)
        for q in self._bias_q:
            den = math.lcm(den, q.denominator)
        rows = tuple(tuple(int(q.numerator * (den // q.denominator)) for q in row) for row in self._weight_q)
        cols = tuple(zip(*rows))
        bias = tuple(int(q.numerator * (den // q.denominator)) for q in self._bias_q)
        sden = 1
        for q in self._slope_q:
            sden = math.lcm(sden, q.denominator)
        snum = tuple(int(q.numerator * (sden // q.denominator)) for q in self._slope_q)
        is_neuron = tuple(bool(x) for x in self.is_neuron)
        units = tuple(j for j, isn in enumerate(is_neuron) if isn)
        linear = tuple(j for j, isn in enumerate(is_neuron) if not isn)
        plain = sden == 1 and all(snum[j] == 0 for j in units)
        return IntegerLayer(rows, cols, bias, den, snum, sden, is_neuron, units, linear, plain)

    def __repr__(self) -> str:
        kinds = {0.0: "relu", 1.0: "linear"}
        s = np.unique(self.negative_slope)
        act = kinds.get(float(s[0]), f"leaky({s[0]:g})") if len(s) == 1 else "mixed"
        return f"Layer({self.in_features} -> {self.out_features}, {act})"


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


class Network:
    """A piecewise-linear network ``x -> z_L`` (see the module docstring).

    Build one with :meth:`from_arrays`, :func:`exactnet.from_torch` or
    :func:`exactnet.load_network`. The network is immutable.
    """

    def __init__(self, layers: Sequence[Layer], *, name: str | None = None):
        layers = tuple(layers)
        if not layers:
            raise ValueError("layers is empty; a Network needs at least one Layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}] is {type(layer).__name__}, expected exactnet.Layer")
            if i and layer.in_features != layers[i - 1].out_features:
                raise ValueError(
                    f"layers[{i}] takes {layer.in_features} inputs but layers[{i - 1}] "
                    f"produces {layers[i - 1].out_features}"
                )
        if not layers[-1].is_linear:
            # the output of the network is z_L: add an identity read-out after a final activation
            n = layers[-1].out_features
            eye = np.eye(n)
            layers = layers + (Layer(eye, np.zeros(n), 1, name=f"layers[{len(layers)}]"),)
        self.layers = layers
        self.name = name

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_arrays(
        cls,
        weights: Sequence[RealArrayLike],
        biases: Sequence[RealArrayLike],
        *,
        negative_slope: RealLike | RealArrayLike = 0,
        name: str | None = None,
    ) -> Network:
        """A network from weight matrices ``W_l`` of shape (out, in) and biases ``b_l``.

        ReLU (or leaky ReLU with ``negative_slope``) follows every layer but the last.
        Entries may be floats (converted exactly), ints, ``Fraction`` or sympy rationals.
        """
        weights, biases = list(weights), list(biases)
        if len(weights) != len(biases):
            raise ValueError(
                f"got {len(weights)} weight matrices but {len(biases)} bias vectors; pass one bias per layer"
            )
        if not weights:
            raise ValueError("weights is empty; pass at least one (out, in) matrix")
        layers = []
        for i, (w, b) in enumerate(zip(weights, biases)):
            last = i == len(weights) - 1
            layers.append(Layer(w, b, 1 if last else negative_slope, name=f"W{i}/b{i}"))
        return cls(layers, name=name)

    # ------------------------------------------------------------------ shape
    @property
    def input_dim(self) -> int:
        return self.layers[0].in_features

    @property
    def output_dim(self) -> int:
        return self.layers[-1].out_features

    @property
    def widths(self) -> tuple[int, ...]:
        """``(n_0, n_1, ..., n_L)``: input dimension then every layer's width."""
        return (self.input_dim,) + tuple(layer.out_features for layer in self.layers)

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        """Number of neurons of each layer that has any (the n_1..n_L of the bounds)."""
        return tuple(int(layer.is_neuron.sum()) for layer in self.layers if not layer.is_linear)

    @cached_property
    def neurons(self) -> tuple[tuple[int, int], ...]:
        """``(layer, unit)`` of every neuron, in pattern order (layer by layer)."""
        return tuple((l, int(j)) for l, layer in enumerate(self.layers) for j in np.flatnonzero(layer.is_neuron))

    @property
    def num_neurons(self) -> int:
        return len(self.neurons)

    @cached_property
    def float_is_exact(self) -> bool:
        return all(layer.float_is_exact for layer in self.layers)

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"Network({label}{'-'.join(map(str, self.widths))}, {self.num_neurons} neurons)"

    # ------------------------------------------------------------------ evaluation
    def _check_points(self, x, name="x") -> tuple[np.ndarray, bool]:
        x = real_tensor_to_numpy(x, name)
        if np.iscomplexobj(x):
            raise TypeError(f"{name} holds complex numbers; the network's inputs are real")
        arr = np.asarray(x, dtype=float)
        single = arr.ndim == 1
        arr2 = arr[None, :] if single else arr
        if arr2.ndim != 2 or arr2.shape[1] != self.input_dim:
            raise ValueError(
                f"{name} must have shape ({self.input_dim},) or (batch, {self.input_dim}); got {arr.shape}"
            )
        if not np.isfinite(arr2).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        return arr2, single

    def preactivations(self, x: RealArrayLike) -> list[np.ndarray]:
        """Float64 pre-activations ``z_l`` of every layer, each of shape (batch, width_l)."""
        h, single = self._check_points(x)
        zs = []
        for layer in self.layers:
            z = h @ layer.weight.T + layer.bias
            zs.append(z[0] if single else z)
            h = np.where(z > 0, z, layer.negative_slope * z)
        return zs

    def forward(self, x: RealArrayLike) -> np.ndarray:
        """Float64 output for a point (n_0,) or a batch (batch, n_0)."""
        return self.preactivations(x)[-1]

    __call__ = forward

    def pattern(self, x: RealArrayLike) -> np.ndarray:
        """Activation pattern ``z > 0`` of every neuron (float64), shape (N,) or (batch, N)."""
        zs = self.preactivations(x)
        parts = [z[..., layer.is_neuron] > 0 for z, layer in zip(zs, self.layers)]
        return np.concatenate(parts, axis=-1)

    def preactivations_exact(self, x: RealArrayLike) -> list[list[Fraction]]:
        """Exact rational pre-activations at one point ``x`` (any real or rational entries)."""
        xs = fraction_array(x, "x", ndim=1)
        if xs.shape[0] != self.input_dim:
            raise ValueError(f"x must have {self.input_dim} entries, got {xs.shape[0]}")
        h = list(xs)
        zs = []
        for layer in self.layers:
            nonzero = [k for k, v in enumerate(h) if v]  # conv-lowered layers are sparse: skip zeros
            z = []
            for (cols, ws), b in zip(layer.sparse_rows, layer.bias_exact):
                if len(nonzero) < len(cols):
                    row = dict(zip(cols, ws))
                    z.append(sum((row[k] * h[k] for k in nonzero if k in row), b))
                else:
                    z.append(sum((w * h[k] for k, w in zip(cols, ws) if h[k]), b))
            zs.append(z)
            h = [v if v > 0 else s * v for v, s in zip(z, layer.negative_slope_exact)]
        return zs

    def forward_exact(self, x: RealArrayLike) -> tuple[Fraction, ...]:
        """Exact rational output at one point."""
        return tuple(self.preactivations_exact(x)[-1])

    def pattern_exact(self, x: RealArrayLike) -> np.ndarray:
        """Exact activation pattern (bool array of length N) at one point."""
        zs = self.preactivations_exact(x)
        return np.array(
            [zs[l][j] > 0 for l, j in self.neurons],
            dtype=bool,
        )

    # ------------------------------------------------------------------ export
    def to_torch(self, dtype: torch.dtype | None = None) -> torch.nn.Sequential:
        """An equivalent ``torch.nn.Sequential`` (float64 by default).

        Layers whose units all share one activation become ``Linear`` + ``ReLU`` /
        ``LeakyReLU``; mixed layers raise, since torch has no per-unit activation module.
        """
        require("torch", "Network.to_torch")
        import torch
        from torch import nn

        dtype = dtype or torch.float64
        mods: list = []
        for i, layer in enumerate(self.layers):
            lin = nn.Linear(layer.in_features, layer.out_features, dtype=dtype)
            with torch.no_grad():
                # copies: the layer's arrays are read-only, which torch will not wrap
                lin.weight.copy_(torch.tensor(np.array(layer.weight), dtype=dtype))
                lin.bias.copy_(torch.tensor(np.array(layer.bias), dtype=dtype))
            mods.append(lin)
            slopes = np.unique(layer.negative_slope)
            if len(slopes) != 1:
                raise ValueError(f"layers[{i}] mixes activation slopes {slopes}; torch has no per-unit activation")
            s = float(slopes[0])
            if s == 0:
                mods.append(nn.ReLU())
            elif s != 1:
                mods.append(nn.LeakyReLU(s))
        return nn.Sequential(*mods)

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """``{"W0": ..., "b0": ..., ...}`` for :func:`numpy.savez` (ReLU networks only)."""
        out = {}
        for i, layer in enumerate(self.layers):
            last = i == len(self.layers) - 1
            expected = 1.0 if last else 0.0
            if not np.all(layer.negative_slope == expected):
                raise ValueError("the .npz format holds plain ReLU networks (ReLU after every layer but the last)")
            out[f"W{i}"] = np.array(layer.weight)
            out[f"b{i}"] = np.array(layer.bias)
        return out
