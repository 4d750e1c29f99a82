"""The network as the region engines' kernels read it, and the one cache that holds it.

:class:`FlatNetwork` is the one float64 flattening of a :class:`~exactnet.net.network.Network`
(every array the 1-D and 2-D float kernels and the float maps of the exact 2-D kernel
read); the exact one is :class:`~exactnet.regions.line._exact_kernel.ExactNetData`.
:func:`engine_data` builds either once per network and keeps it in a module-level table
keyed by the network's identity, never in the network object: the entry goes away when
the network is garbage collected (``weakref.finalize``), and pickling a network (process
pools, tiling) never carries engine data.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from ..net.network import Network

if TYPE_CHECKING:
    from .line._exact_kernel import ExactNetData

__all__ = ["FlatNetwork", "cached_kinds", "engine_data"]

#: unit roundoff of float64 (round to nearest)
U = 2.0**-53


def _i64(values) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(values, dtype=np.int64).reshape(-1))


def _f64(values) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(values, dtype=np.float64).reshape(-1))


@dataclass(frozen=True, eq=False)
class FlatNetwork:
    """The network's float64 layers flattened into contiguous arrays (L layers, U units).

    Units are numbered layer by layer (unit j of layer l is ``u_off[l] + j``); the weights
    of layer l start at ``w_off[l]``, in ``weights`` row by row (W_l, shape (out, in)) and
    in ``wt`` column by column (W_l transposed)."""

    dims: np.ndarray  # (L + 1,) int64: input dimension, then every layer's width
    layer_rows: np.ndarray  # (L,) int64: out features of each layer (dims[1:])
    layer_cols: np.ndarray  # (L,) int64: in features of each layer (dims[:-1])
    w_off: np.ndarray  # (L + 1,) int64: offsets of each layer's weights (last: the total)
    u_off: np.ndarray  # (L + 1,) int64: offsets of each layer's units (last: the total)
    weights: np.ndarray  # float64: every W_l row-major, concatenated
    wt: np.ndarray  # float64: every W_l transposed (column-major W_l), concatenated
    bias: np.ndarray  # (U,) float64
    slope: np.ndarray  # (U,) float64: negative slope of every unit (1: a linear unit)
    rowabs: np.ndarray  # (U,) float64: |W_l[j, :]|_1 of every unit (inf when it overflows)
    is_neuron: np.ndarray  # (U,) bool
    neuron_bit: np.ndarray  # (U,) int64: the unit's bit in the pattern, -1 for linear units
    bit_layer: np.ndarray  # (N,) int64: layer of each neuron (pattern order)
    bit_unit: np.ndarray  # (N,) int64: unit of each neuron in its layer
    gammas: np.ndarray  # (L,) float64: gamma_{n_l + 1} + 4u, n_l the width of layer l
    num_neurons: int
    nwords: int  # uint64 words of a packed pattern (at least 1)
    n_out: int
    max_width: int

    @classmethod
    def of(cls, net: Network) -> FlatNetwork:
        """Flatten ``net`` (uncached: :func:`engine_data` ``(net, "float")`` caches it)."""
        layers = net.layers
        dims = [net.input_dim] + [layer.out_features for layer in layers]
        sizes = [layer.weight.size for layer in layers]
        rowabs, nbit = [], []
        bit = 0
        for layer in layers:
            with np.errstate(over="ignore"):  # an inf row sum makes its bounds inf: decided exactly
                rowabs.append(np.abs(layer.weight).sum(axis=1))
            idx = np.full(layer.out_features, -1, dtype=np.int64)
            k = int(layer.is_neuron.sum())
            idx[layer.is_neuron] = np.arange(bit, bit + k)
            bit += k
            nbit.append(idx)
        neurons = np.array(net.neurons, dtype=np.int64).reshape(-1, 2)
        rows = np.array(dims[1:], dtype=np.float64)
        return cls(
            dims=_i64(dims),
            layer_rows=_i64(dims[1:]),
            layer_cols=_i64(dims[:-1]),
            w_off=_i64(np.concatenate([[0], np.cumsum(sizes)])),
            u_off=_i64(np.concatenate([[0], np.cumsum(dims[1:])])),
            weights=_f64(np.concatenate([layer.weight.reshape(-1) for layer in layers])),
            wt=_f64(np.concatenate([np.ascontiguousarray(layer.weight.T).reshape(-1) for layer in layers])),
            bias=_f64(np.concatenate([layer.bias for layer in layers])),
            slope=_f64(np.concatenate([layer.negative_slope for layer in layers])),
            rowabs=_f64(np.concatenate(rowabs)),
            is_neuron=np.ascontiguousarray(np.concatenate([layer.is_neuron for layer in layers]), dtype=np.bool_),
            neuron_bit=_i64(np.concatenate(nbit)),
            bit_layer=_i64(neurons[:, 0]),
            bit_unit=_i64(neurons[:, 1]),
            # per layer m: the rounding of applying slopes and W_{m+1}
            gammas=_f64((rows + 1) * U / (1 - (rows + 1) * U) + 4 * U),
            num_neurons=bit,
            nwords=max(1, (bit + 63) // 64),
            n_out=net.output_dim,
            max_width=int(max(dims)),
        )

    def layer_neuron_bits(self, layer: int) -> np.ndarray:
        """``neuron_bit`` of the units of one layer (a contiguous view)."""
        return self.neuron_bit[self.u_off[layer] : self.u_off[layer + 1]]


def _build_float(net: Network) -> FlatNetwork:
    return FlatNetwork.of(net)


def _build_exact(net: Network) -> ExactNetData:
    from .line._exact_kernel import ExactNetData  # imports numba: only when an engine needs it

    return ExactNetData(net)


_BUILDERS: dict[str, Callable[[Network], Any]] = {"float": _build_float, "exact": _build_exact}

# id(net) -> {kind: data}; an entry is removed by a finalizer when its network is collected
# (before its id can be reused). The data never refers to the network.
_CACHE: dict[int, dict[str, Any]] = {}
_LOCK = threading.RLock()


@overload
def engine_data(net: Network, kind: Literal["float"]) -> FlatNetwork: ...
@overload
def engine_data(net: Network, kind: Literal["exact"]) -> ExactNetData: ...
def engine_data(net: Network, kind: str) -> Any:
    """The per-network data of the engines, built on first use and cached outside ``net``:
    ``"float"`` its :class:`FlatNetwork`, ``"exact"`` its ``ExactNetData`` (integers in one
    pool). The network is immutable, so the data stays valid for its lifetime."""
    if kind not in _BUILDERS:
        raise ValueError(f"unknown engine data kind {kind!r}; expected one of {sorted(_BUILDERS)}")
    key = id(net)
    with _LOCK:
        entry = _CACHE.get(key)
        if entry is not None and kind in entry:
            return entry[kind]
    data = _BUILDERS[kind](net)  # outside the lock: building may take a while
    with _LOCK:
        entry = _CACHE.get(key)
        if entry is None:
            entry = _CACHE[key] = {}
            weakref.finalize(net, _CACHE.pop, key, None)
        return entry.setdefault(kind, data)


def cached_kinds(net: Network) -> frozenset[str]:
    """The kinds of engine data cached for ``net`` so far (empty when none)."""
    with _LOCK:
        return frozenset(_CACHE.get(id(net), ()))
