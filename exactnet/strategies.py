"""Hypothesis strategies for property tests of piecewise-linear networks.

Use them in your own tests::

    from hypothesis import given
    from exactnet.strategies import relu_networks, segments_for

    @given(relu_networks(input_dim=2), st.data())
    def test_my_claim(net, data):
        start, end = data.draw(segments_for(net))
        ...

``relu_networks`` draws small networks, either generic (random float64 weights) or
deliberately degenerate: small integer or dyadic weights (so that many neurons switch at
the same point), duplicated rows, negated rows, rows that are positive multiples of others
(the same hyperplane twice), zero rows, zero biases, and dead neurons. Every network is an
:class:`exactnet.Network`; its rational weights are exact.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from .extras import require

require("hypothesis", "exactnet.strategies")

from hypothesis import strategies as st  # noqa: E402

from .net.network import Layer, Network  # noqa: E402

__all__ = [
    "weights_kind",
    "relu_networks",
    "generic_networks",
    "degenerate_networks",
    "points",
    "segments_for",
]

#: kinds of weight entries: small integers and dyadic rationals create coincidences,
#: floats are generic
WEIGHT_KINDS = ("int", "dyadic", "float")


def weights_kind(kind: str) -> st.SearchStrategy[Fraction]:
    """A strategy for one weight entry of the given kind."""
    if kind == "int":
        return st.integers(-3, 3).map(Fraction)
    if kind == "dyadic":
        return st.integers(-8, 8).map(lambda k: Fraction(k, 4))
    if kind == "float":
        return st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False, width=64).map(Fraction)
    raise ValueError(f"kind must be one of {WEIGHT_KINDS}, got {kind!r}")


@st.composite
def _matrix(draw, rows: int, cols: int, kind: str):
    elem = weights_kind(kind)
    return [[draw(elem) for _ in range(cols)] for _ in range(rows)]


_DEGENERACIES = ("duplicate", "negate", "scale", "zero_row", "dead", "zero_bias")


@st.composite
def _degenerate_layer(draw, W: list, b: list, kind: str):
    """Apply a few degeneracies to a layer (W rows, b) in place and return it."""
    n = len(W)
    ops = draw(st.lists(st.sampled_from(_DEGENERACIES), min_size=1, max_size=3))
    for op in ops:
        i = draw(st.integers(0, n - 1))
        j = draw(st.integers(0, n - 1))
        if op == "duplicate" and n > 1:
            W[j], b[j] = list(W[i]), b[i]
        elif op == "negate" and n > 1:
            W[j], b[j] = [-w for w in W[i]], -b[i]
        elif op == "scale" and n > 1:
            c = draw(st.sampled_from([Fraction(1, 2), Fraction(2), Fraction(3)]))
            W[j], b[j] = [c * w for w in W[i]], c * b[i]
        elif op == "zero_row":
            W[j], b[j] = [Fraction(0)] * len(W[j]), draw(st.sampled_from([Fraction(0), Fraction(-1), Fraction(1)]))
        elif op == "dead":
            # a neuron that is negative on the whole box [-4, 4]^n0 (for n0-input layers)
            # or on any non-negative input (deeper layers): zero weights or all-negative row
            W[j] = [-abs(w) for w in W[j]]
            b[j] = -Fraction(1) - sum(4 * abs(w) for w in W[j])
        elif op == "zero_bias":
            b[:] = [Fraction(0)] * n
    return W, b


@st.composite
def relu_networks(
    draw: st.DrawFn,
    *,
    input_dim: int | None = None,
    output_dim: int | None = None,
    max_hidden_layers: int = 3,
    max_width: int = 6,
    degenerate: bool | None = None,
    kind: str | None = None,
    leaky: bool = False,
    linear_units: bool = False,
) -> Network:
    """Small ReLU (or leaky ReLU) networks, generic or degenerate.

    Parameters fix the shape when given; otherwise they are drawn (input dimension 1-3,
    1-``max_hidden_layers`` hidden layers of width 1-``max_width``, 1-2 outputs).
    ``degenerate=None`` draws it; ``kind`` chooses the weight entries (``"int"``,
    ``"dyadic"``, ``"float"``); ``leaky=True`` draws a negative slope from {1/4, 1/2, 0.01}.
    ``linear_units=True`` makes each hidden layer, with probability 1/3 each, all linear
    (slope 1, as a residual block or an un-merged affine layer lowers), part linear (the
    pass-through units of a skip connection), or unchanged.
    """
    n0 = input_dim if input_dim is not None else draw(st.integers(1, 3))
    n_out = output_dim if output_dim is not None else draw(st.integers(1, 2))
    depth = draw(st.integers(1, max_hidden_layers))
    widths = [draw(st.integers(1, max_width)) for _ in range(depth)]
    if degenerate is None:
        degenerate = draw(st.booleans())
    kind = kind or draw(st.sampled_from(WEIGHT_KINDS))
    slope = draw(st.sampled_from([Fraction(1, 4), Fraction(1, 2), Fraction(0.01)])) if leaky else 0
    layers: list[Layer] = []
    fan_in = n0
    for width in widths + [n_out]:
        W = draw(_matrix(width, fan_in, kind))
        b = [draw(weights_kind(kind)) for _ in range(width)]
        hidden = len(layers) < depth
        if degenerate and hidden:
            W, b = draw(_degenerate_layer(W, b, kind))
        slopes = [slope if hidden else 1] * width
        if linear_units and hidden:
            mode = draw(st.sampled_from(["all", "some", "none"]))
            if mode != "none":
                slopes = [1 if mode == "all" or draw(st.booleans()) else s for s in slopes]
        layers.append(Layer(np.array(W, dtype=object), np.array(b, dtype=object), np.array(slopes, dtype=object)))
        fan_in = width
    return Network(layers)


def generic_networks(**kwargs: Any) -> st.SearchStrategy[Network]:
    """:func:`relu_networks` with random float weights and no forced degeneracy."""
    return relu_networks(degenerate=False, kind="float", **kwargs)


def degenerate_networks(**kwargs: Any) -> st.SearchStrategy[Network]:
    """:func:`relu_networks` with small integer or dyadic weights and forced degeneracies."""
    kind = kwargs.pop("kind", None)
    return (
        relu_networks(degenerate=True, kind=kind, **kwargs)
        if kind
        else st.sampled_from(["int", "dyadic"]).flatmap(lambda k: relu_networks(degenerate=True, kind=k, **kwargs))
    )


def points(dim: int, *, kind: str = "dyadic", bound: int = 2) -> st.SearchStrategy[tuple[Fraction, ...]]:
    """Points of R^dim with coordinates in [-bound, bound]: dyadic (k/4), int or float."""
    if kind == "dyadic":
        coord = st.integers(-4 * bound, 4 * bound).map(lambda k: Fraction(k, 4))
    elif kind == "int":
        coord = st.integers(-bound, bound).map(Fraction)
    elif kind == "float":
        coord = st.floats(-bound, bound, allow_nan=False, width=64).map(Fraction)
    else:
        raise ValueError(f"kind must be 'dyadic', 'int' or 'float', got {kind!r}")
    return st.tuples(*[coord] * dim)


@st.composite
def segments_for(
    draw: st.DrawFn, net: Network, *, kind: str | None = None, bound: int = 2
) -> tuple[tuple[Fraction, ...], tuple[Fraction, ...]]:
    """(start, end): two distinct points of the network's input space, as Fractions.

    Dyadic and integer coordinates make segments whose ends or interior points sit
    exactly on neurons' zero sets, the degenerate cases a 1-D engine must handle.
    """
    kind = kind or draw(st.sampled_from(["dyadic", "int", "float"]))
    pts = points(net.input_dim, kind=kind, bound=bound)
    start = draw(pts)
    end = draw(pts.filter(lambda q: q != start))
    return start, end
