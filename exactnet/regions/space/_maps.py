"""The local affine maps of a network on a region, exactly (integers) and in float64 with
rigorous error bounds, and the exact solution of a vertex from its tight constraints.

On a region every pre-activation of layer l is an affine function of the input,
z_l(x) = A x + c, fixed by the activation pattern of the layers before l. The exact map is
kept as integers over one denominator, ``(A_num x + c_num) / den``; signs at a vertex
given in homogeneous integer coordinates (N, d), d > 0, are signs of ``A_num N + c_num d``.
The float map carries entrywise bounds on its distance to the exact one, so a float sign
is used only when the value is farther from zero than the bound (a filter, as in robust
geometry kernels); otherwise the sign is decided exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...net.network import Layer, Network
from .._patterns import pack

__all__ = ["ExactMap", "FloatMap", "ExactMaps", "float_first_map", "float_next_map", "solve_vertex", "UNIT_ROUNDOFF"]

#: float64 unit roundoff
UNIT_ROUNDOFF = 2.0**-53
_TINY = 1e-290  # covers underflow of every product and sum (each at most 2^-1074)


@dataclass(frozen=True, eq=False)
class ExactMap:
    """z(x) = (num @ x + const) / den over the input, integers (object arrays of ``int``)."""

    num: np.ndarray  # (units, m)
    const: np.ndarray  # (units,)
    den: int

    def row(self, j: int) -> np.ndarray:
        """The homogeneous integer row (num_j, const_j) of unit j (a positive multiple of z_j)."""
        return np.append(self.num[j], self.const[j])


def _int_array(rows) -> np.ndarray:
    arr = np.empty((len(rows), len(rows[0])), dtype=object)
    for i, r in enumerate(rows):
        for k, v in enumerate(r):
            arr[i, k] = int(v)
    return arr


class ExactMaps:
    """Exact local maps of every layer, cached by the activation bits of the layers before it.

    The cache belongs to this object (the caller holds it for one enumeration), never to
    the network."""

    def __init__(self, net: Network):
        self.net = net
        self._int = []
        for layer in net.layers:
            il = layer.integer
            w = _int_array(il.weight_num)
            b = np.array([int(v) for v in il.bias_num], dtype=object)
            self._int.append((w, b, il.den, il.slope_num, il.slope_den))
        self._cache: dict[tuple, ExactMap] = {}

    def first(self) -> ExactMap:
        w, b, den, _, _ = self._int[0]
        return ExactMap(w, b, den)

    def layer(self, l: int, bits: tuple[np.ndarray, ...]) -> ExactMap:
        """The map of layer ``l`` given the on-bits (``z > 0``) of every unit of layers < l."""
        if l == 0:
            return self.first()
        key = (l,) + tuple(pack(b) for b in bits[:l])
        got = self._cache.get(key)
        if got is None:
            prev = self.layer(l - 1, bits)
            got = next_exact_map(prev, bits[l - 1], self._int[l - 1], self._int[l])
            self._cache[key] = got
        return got


def next_exact_map(prev: ExactMap, on: np.ndarray, prev_layer, layer) -> ExactMap:
    """Compose: h = slope-scaled z_{l-1} (slope 1 where on or linear), z_l = W h + b."""
    _, _, _, snum, sden = prev_layer
    w, b, wden, _, _ = layer
    scale = np.array([sden if on[j] else int(snum[j]) for j in range(len(on))], dtype=object)
    hnum = prev.num * scale[:, None]
    hconst = prev.const * scale
    hden = prev.den * sden
    num = w.dot(hnum)
    const = w.dot(hconst) + b * hden
    den = wden * hden
    g = den
    for v in num.flat:
        if g == 1:
            break
        g = math.gcd(g, int(v))
    for v in const:
        if g == 1:
            break
        g = math.gcd(g, int(v))
    if g > 1:
        num = num // g
        const = const // g
        den //= g
    return ExactMap(num, const, den)


@dataclass(frozen=True, eq=False)
class FloatMap:
    """z(x) ~= A x + c in float64 with |A - A*| <= eA and |c - c*| <= ec entrywise."""

    A: np.ndarray
    c: np.ndarray
    eA: np.ndarray
    ec: np.ndarray


def _gamma(k: int) -> float:
    ku = (k + 2) * UNIT_ROUNDOFF
    return ku / (1 - ku)


def _rounding_bound(values: np.ndarray, exact: bool) -> np.ndarray:
    """Bound on |fl(q) - q| for the rationals q behind float64 values (0 when they are exact)."""
    if exact:
        return np.zeros_like(values)
    return np.abs(values) * (2 * UNIT_ROUNDOFF) + _TINY


def float_first_map(layer: Layer) -> FloatMap:
    exact = layer.float_is_exact
    A, c = layer.weight, layer.bias
    return FloatMap(A, c, _rounding_bound(A, exact), _rounding_bound(c, exact))


def float_next_map(prev: FloatMap, on: np.ndarray, prev_layer: Layer, layer: Layer) -> FloatMap:
    """The float map of ``layer`` from the previous layer's map and its on-bits, with bounds:
    for h = d * z (d the slope of each unit) and z' = W h + b,
    |z' - z'*| <= |W| e_h + e_W (|h| + e_h) + gamma_k |W| |h| + e_b (gamma_k from Higham,
    Accuracy and Stability of Numerical Algorithms, 2nd ed., Sec. 3.1)."""
    slopes = np.where(on | ~prev_layer.is_neuron, 1.0, prev_layer.negative_slope)
    e_slope = np.where(
        on | ~prev_layer.is_neuron, 0.0, _rounding_bound(prev_layer.negative_slope, prev_layer.float_is_exact)
    )
    H = slopes[:, None] * prev.A
    hc = slopes * prev.c
    eH = np.abs(slopes)[:, None] * prev.eA + e_slope[:, None] * (np.abs(prev.A) + prev.eA) + UNIT_ROUNDOFF * np.abs(H)
    ehc = np.abs(slopes) * prev.ec + e_slope * (np.abs(prev.c) + prev.ec) + UNIT_ROUNDOFF * np.abs(hc)
    W, b = layer.weight, layer.bias
    eW = _rounding_bound(W, layer.float_is_exact)
    eb = _rounding_bound(b, layer.float_is_exact)
    absW = np.abs(W)
    g = _gamma(W.shape[1] + 1)
    A = W @ H
    c = W @ hc + b
    eA = absW @ eH + eW @ (np.abs(H) + eH) + g * (absW @ np.abs(H))
    ec = absW @ ehc + eW @ (np.abs(hc) + ehc) + g * (absW @ np.abs(hc) + np.abs(b)) + eb
    inflate = 1 + 16 * UNIT_ROUNDOFF  # the bound's own rounding
    return FloatMap(A, c, eA * inflate + _TINY, ec * inflate + _TINY)


def solve_vertex(rows: list[np.ndarray], m: int) -> tuple[np.ndarray, int]:
    """The point x with ``r[:m] . x + r[m] = 0`` for every integer row r (the rows have rank
    m), as homogeneous integers (N, d) with d > 0 and gcd 1: x = N / d. Exact: fraction-free
    Gauss-Jordan elimination (Bareiss 1968; every entry stays an integer minor of the
    matrix, so each division by the previous pivot is exact), x_i = -c_i / D with D the
    last pivot."""
    work = [[int(v) for v in r] for r in rows]
    used = [False] * len(work)
    pivot_rows: list[int] = []
    prev = 1
    for col in range(m):
        k = next((i for i, r in enumerate(work) if not used[i] and r[col]), None)
        if k is None:
            raise ArithmeticError("the tight constraints of a vertex do not determine it")
        used[k] = True
        pivot_rows.append(k)
        pk = work[k]
        p = pk[col]
        for i, r in enumerate(work):
            if i == k:
                continue
            f = r[col]
            work[i] = [(p * a - f * b) // prev for a, b in zip(r, pk)]
        prev = p
    for i, r in enumerate(work):
        if not used[i] and r[m]:  # a row dependent on the others in x but not in its constant
            raise ArithmeticError("the tight constraints of a vertex are inconsistent")
    D = prev  # every pivot row reads D x_col + c = 0
    N = [-work[k][m] for k in pivot_rows]
    if D < 0:
        D = -D
        N = [-v for v in N]
    g = math.gcd(D, *N)
    return np.array([v // g for v in N], dtype=object), D // g
