"""Domains of the n-D engine: a box, a convex polytope {x : A x <= b}, or the whole input
space, each checked exactly (bounded, full-dimensional) and turned into the engine's
starting polytope.

The whole space R^n is handled by homogenisation: the network is rewritten on (x, t) with
every bias multiplied by t (ReLU is positively homogeneous, so the pattern at (x, t), t > 0,
is the pattern at x / t), and the engine cuts the box [-1, 1]^n x [0, 1]. Every region R of
R^n is the cone over R cut by that box, so regions correspond one to one; a region is
bounded iff its cone meets t = 0 only at the origin.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from ...net.network import Layer, Network
from ...net.rational import real_tensor_to_numpy, to_fraction
from ._engine import Polytope0, _edges, _reduce

if TYPE_CHECKING:
    pass

__all__ = ["Box", "Polytope", "SpaceDomainLike", "parse_space_domain", "homogenize", "start_polytope"]


def _vector(values, name: str, n: int | None = None) -> tuple[Fraction, ...]:
    values = real_tensor_to_numpy(values, name)
    arr = np.asarray(values, dtype=object)
    if arr.ndim == 0:
        if n is None:
            raise ValueError(f"{name} is a number; pass one entry per input dimension")
        arr = np.array([values] * n, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of numbers; got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} entries; the network takes {n} inputs")
    return tuple(to_fraction(v, f"{name}[{i}]") for i, v in enumerate(arr))


@dataclass(frozen=True)
class Box:
    """The box lo <= x <= hi (every lo_i < hi_i); a scalar bound applies to every axis."""

    lo: object
    hi: object

    def resolved(self, n: int) -> tuple[tuple[Fraction, ...], tuple[Fraction, ...]]:
        lo, hi = _vector(self.lo, "Box.lo", n), _vector(self.hi, "Box.hi", n)
        for i, (a, b) in enumerate(zip(lo, hi)):
            if not a < b:
                raise ValueError(
                    f"Box: lo[{i}] = {a} is not below hi[{i}] = {b}; a box needs lo < hi on every axis "
                    f"(it is not reordered)"
                )
        return lo, hi


@dataclass(frozen=True)
class Polytope:
    """The convex polytope {x : A x <= b} (bounded, with nonempty interior)."""

    A: object
    b: object

    def resolved(self, n: int) -> tuple[list[tuple[Fraction, ...]], list[Fraction]]:
        A = real_tensor_to_numpy(self.A, "Polytope.A")
        arr = np.asarray(A, dtype=object)
        if arr.ndim != 2 or arr.shape[1] != n or arr.shape[0] == 0:
            raise ValueError(f"Polytope.A must have shape (constraints, {n}); got {arr.shape}")
        rows = [tuple(to_fraction(v, f"Polytope.A[{i}, {k}]") for k, v in enumerate(r)) for i, r in enumerate(arr)]
        b = _vector(self.b, "Polytope.b", len(rows))
        return rows, list(b)


#: a domain of the n-D engine: a :class:`Box`, a :class:`Polytope`, or None (all of R^n)
SpaceDomainLike: TypeAlias = "Box | Polytope | None"


def parse_space_domain(domain: Box | Polytope | None, n: int) -> tuple:
    """Check a domain and give its exact description: ("box", lo, hi), ("polytope", rows,
    b) or ("space",)."""
    if domain is None:
        return ("space",)
    if isinstance(domain, Box):
        return ("box",) + domain.resolved(n)
    if isinstance(domain, Polytope):
        return ("polytope",) + domain.resolved(n)
    raise TypeError(
        f"domain must be exactnet.Box(lo, hi), exactnet.Polytope(A, b) or None (the whole space); "
        f"got {type(domain).__name__}"
    )


def _int_row(coeffs: Sequence[Fraction], const: Fraction) -> np.ndarray:
    """Integer row r with r . (x, 1) = L * (coeffs . x + const), L > 0 the lcm of denominators."""
    L = 1
    for q in list(coeffs) + [const]:
        L = math.lcm(L, q.denominator)
    return np.array([int(q * L) for q in coeffs] + [int(const * L)], dtype=object)


def _box_start(lo: Sequence[Fraction], hi: Sequence[Fraction]) -> Polytope0:
    m = len(lo)
    rows = []
    for i in range(m):
        e = [Fraction(0)] * m
        e[i] = Fraction(1)
        rows.append(_int_row(e, -hi[i]))  # x_i - hi_i <= 0
        e = [Fraction(0)] * m
        e[i] = Fraction(-1)
        rows.append(_int_row(e, lo[i]))  # lo_i - x_i <= 0
    corners = list(itertools.product((0, 1), repeat=m))
    k = len(corners)
    N = np.empty((k, m), dtype=object)
    d = np.empty(k, dtype=object)
    inc = np.zeros((k, 2 * m), dtype=bool)
    for r, corner in enumerate(corners):
        pt = [hi[i] if c else lo[i] for i, c in enumerate(corner)]
        den = 1
        for q in pt:
            den = math.lcm(den, q.denominator)
        N[r] = [int(q * den) for q in pt]
        d[r] = den
        for i, c in enumerate(corner):
            inc[r, 2 * i + (0 if c else 1)] = True
    return Polytope0(N, d, inc, rows)


def _cut_exact(P: Polytope0, row: np.ndarray) -> Polytope0 | None:
    """P cut by r . (x, 1) <= 0 (None when the cut leaves no interior); exact."""
    m = P.N.shape[1]
    H = P.N.dot(row[:m]) + P.d * row[m]
    S = (H > 0).astype(np.int8) - (H < 0).astype(np.int8)
    if not (S > 0).any():
        return P
    if not (S < 0).any():
        return None
    pos, neg, zero = np.flatnonzero(S > 0), np.flatnonzero(S < 0), np.flatnonzero(S == 0)
    us, ws = _edges(P.inc, pos, neg, m)
    hu, hw = H[us], H[ws]
    Nn = P.N[ws] * hu[:, None] - P.N[us] * hw[:, None]
    dn = P.d[ws] * hu - P.d[us] * hw
    Nn, dn = _reduce(Nn, dn)
    keep = np.concatenate([neg, zero])
    inc = np.zeros((len(keep) + len(us), P.inc.shape[1] + 1), dtype=bool)
    inc[: len(keep), :-1] = P.inc[keep]
    inc[len(keep) :, :-1] = P.inc[us] & P.inc[ws]
    inc[len(neg) :, -1] = True
    return Polytope0(np.concatenate([P.N[keep], Nn]), np.concatenate([P.d[keep], dn]), inc, P.rows + [row])


def _polytope_start(rows: list[tuple[Fraction, ...]], b: list[Fraction]) -> Polytope0:
    from scipy.optimize import linprog

    n = len(rows[0])
    A = np.array([[float(v) for v in r] for r in rows])
    bb = np.array([float(v) for v in b])
    lo, hi = [], []
    for i in range(n):
        bounds = []
        for sgn in (1.0, -1.0):
            c = np.zeros(n)
            c[i] = sgn
            res = linprog(c, A_ub=A, b_ub=bb, bounds=[(None, None)] * n, method="highs")
            if res.status == 3:
                raise ValueError(
                    "the polytope {x : A x <= b} is unbounded; pass domain=None for the whole input space "
                    "or add constraints"
                )
            if res.status == 2:
                raise ValueError("the polytope {x : A x <= b} is empty; check the signs of A and b")
            if res.status != 0:
                raise ValueError(f"could not bound the polytope {{x : A x <= b}}: {res.message}")
            bounds.append(sgn * res.fun)
        lo_i, hi_i = bounds[0], bounds[1]
        pad = 1.0 + abs(lo_i) + abs(hi_i)
        lo.append(Fraction(math.floor(lo_i - pad)))
        hi.append(Fraction(math.ceil(hi_i + pad)))
    P = _box_start(lo, hi)
    box_rows = len(P.rows)
    for r, bi in zip(rows, b):
        cut = _cut_exact(P, _int_row(r, -bi))
        if cut is None:
            raise ValueError(
                "the polytope {x : A x <= b} has no interior (it is empty or lies in a hyperplane); "
                "a domain needs a nonempty interior"
            )
        P = cut
    # the padding box's faces do not touch the polytope: drop them
    used = P.inc[:, :box_rows].any(axis=0)
    if used.any():  # cannot happen: the box is strictly larger than the polytope
        raise AssertionError("internal error: the bounding box touches the polytope")
    return Polytope0(P.N, P.d, P.inc[:, box_rows:], P.rows[box_rows:])


def homogenize(net: Network) -> Network:
    """The network on (x, t): z_l = W_l h + b_l t, with t carried by a linear unit; at t = 1
    it is ``net``, and its pattern at (x, t), t > 0, is ``net``'s pattern at x / t."""
    layers = []
    for layer in net.layers:
        W, b = layer.weight_exact, layer.bias_exact
        out, inp = W.shape
        W2 = np.empty((out + 1, inp + 1), dtype=object)
        W2[:out, :inp] = W
        W2[:out, inp] = b
        W2[out, :] = Fraction(0)
        W2[out, inp] = Fraction(1)
        slopes = np.empty(out + 1, dtype=object)
        slopes[:out] = layer.negative_slope_exact
        slopes[out] = Fraction(1)
        layers.append(Layer(W2, np.array([Fraction(0)] * (out + 1), dtype=object), slopes))
    return Network(layers)


def start_polytope(parsed: tuple, n: int) -> Polytope0:
    """The engine's starting polytope for a parsed domain (the box of the homogenised
    network for the whole space)."""
    kind = parsed[0]
    if kind == "box":
        return _box_start(parsed[1], parsed[2])
    if kind == "polytope":
        return _polytope_start(parsed[1], parsed[2])
    return _box_start([Fraction(-1)] * n + [Fraction(0)], [Fraction(1)] * (n + 1))
