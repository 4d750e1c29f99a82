"""The domain of a 2-D partition: a plane of input space (:class:`Plane`) and a convex polygon
in its (u, v) coordinates (:func:`parse_domain`), checked exactly: convex, traversed once,
no spikes; boxes with their bounds in order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from ...net.rational import format_fraction, real_tensor_to_numpy, to_fraction

if TYPE_CHECKING:
    from shapely.geometry import Polygon

    from .._common import PointLike

    #: a convex polygon of the plane (see :func:`parse_domain`): None ([-1, 1]^2), a box
    #: (u0, u1, v0, v1), a sequence (or an (n, 2) array) of (u, v) vertices, or a shapely
    #: Polygon; numbers may be Fractions (sympy Rationals and strings like "3/4" too)
    DomainLike: TypeAlias = (
        np.ndarray | Sequence[Fraction | float] | Sequence[Sequence[Fraction | float] | np.ndarray] | Polygon | None
    )


_IDENTITY = None


@dataclass(frozen=True)
class Plane:
    """The affine plane x(u, v) = origin + u d1 + v d2 of input space (rational entries)."""

    origin: tuple
    d1: tuple
    d2: tuple

    def __post_init__(self):
        for name in ("origin", "d1", "d2"):
            vals = tuple(to_fraction(v, f"{name}[{i}]") for i, v in enumerate(getattr(self, name)))
            object.__setattr__(self, name, vals)
        n = len(self.origin)
        if not (len(self.d1) == len(self.d2) == n) or n == 0:
            raise ValueError(f"origin, d1 and d2 must have the same length; got {n}, {len(self.d1)}, {len(self.d2)}")
        # d1, d2 linearly independent: some 2x2 minor is nonzero
        if all(self.d1[i] * self.d2[k] == self.d1[k] * self.d2[i] for i in range(n) for k in range(i + 1, n)) and n > 1:
            raise ValueError("d1 and d2 are parallel (or zero): they must span a plane")
        if n == 1:
            raise ValueError("a plane needs an input space of dimension >= 2")

    @classmethod
    def identity(cls) -> Plane:
        """The input plane of a 2-input network: u = x_0, v = x_1."""
        global _IDENTITY
        if _IDENTITY is None:
            _IDENTITY = cls((0, 0), (1, 0), (0, 1))
        return _IDENTITY

    @property
    def float_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(origin, directions (n, 2)) in float64, computed once."""
        arrs = self.__dict__.get("_float_arrays")
        if arrs is None:
            arrs = (
                np.array([float(q) for q in self.origin]),
                np.array([[float(a), float(b)] for a, b in zip(self.d1, self.d2)]),
            )
            object.__setattr__(self, "_float_arrays", arrs)
        return arrs

    @classmethod
    def through(cls, a: PointLike, b: PointLike, c: PointLike) -> Plane:
        """The plane through three inputs: a at (u, v) = (0, 0), b at (1, 0), c at (0, 1)."""
        a = [to_fraction(v, f"a[{i}]") for i, v in enumerate(_flat(a, "a"))]
        b = [to_fraction(v, f"b[{i}]") for i, v in enumerate(_flat(b, "b"))]
        c = [to_fraction(v, f"c[{i}]") for i, v in enumerate(_flat(c, "c"))]
        if not len(a) == len(b) == len(c):
            raise ValueError("the three points must have the same number of coordinates")
        return cls(tuple(a), tuple(x - y for x, y in zip(b, a)), tuple(x - y for x, y in zip(c, a)))

    def point(self, u: Fraction | float, v: Fraction | float) -> tuple[Fraction | float, ...]:
        """x(u, v) (exact when u, v are)."""
        return tuple(o + u * a + v * b for o, a, b in zip(self.origin, self.d1, self.d2))

    def integers(self) -> tuple[list[int], list[int], list[int], int]:
        """(P0, P1, P2, S) with x(u, v) = (P0 + P1 u + P2 v) / S, all integers."""
        vals = self.origin + self.d1 + self.d2
        S = 1
        for q in vals:
            S = S * q.denominator // math.gcd(S, q.denominator)
        ints = [int(q * S) for q in vals]
        n = len(self.origin)
        return ints[:n], ints[n : 2 * n], ints[2 * n :], S


def _flat(x, name: str):
    x = real_tensor_to_numpy(x, name)
    return list(np.asarray(x, dtype=object).reshape(-1))


_DEFAULT_DOMAIN: list | None = None


def parse_domain(domain: DomainLike) -> list[tuple[Fraction, Fraction]]:
    """A convex polygon as CCW exact vertices, from ``None`` ([-1, 1]^2), a box
    ``(u0, u1, v0, v1)`` with ``u0 < u1`` and ``v0 < v1`` (a box given as hi, lo is
    refused, not reordered), a sequence of (u, v) vertices in either orientation, or a
    shapely Polygon without holes.

    A vertex equal to the one before it (a closing copy of the first included) and a
    vertex in the middle of a straight edge are dropped. Everything else that is not the
    boundary of a convex polygon traversed once is refused with a ``ValueError``: a
    reflex vertex (non-convex), a spike (the boundary doubles back along a line), and a
    boundary that turns left everywhere but winds around more than once (a pentagram,
    whose every turn is convex but whose edges cross)."""
    global _DEFAULT_DOMAIN
    if domain is None:
        if _DEFAULT_DOMAIN is None:
            _DEFAULT_DOMAIN = parse_domain([(-1, -1), (1, -1), (1, 1), (-1, 1)])
        return list(_DEFAULT_DOMAIN)
    elif hasattr(domain, "exterior"):  # shapely Polygon
        if len(getattr(domain, "interiors", ())):
            raise ValueError(
                "the domain polygon has holes; exactnet partitions convex polygons (split yours into convex parts)"
            )
        pts = list(domain.exterior.coords)[:-1]
    else:
        seq = list(domain)
        if len(seq) == 4 and all(np.ndim(v) == 0 for v in seq):
            u0, u1, v0, v1 = (to_fraction(v, f"domain box {k}") for v, k in zip(seq, ("u0", "u1", "v0", "v1")))
            if not (u0 < u1 and v0 < v1):
                raise ValueError(
                    f"the domain box (u0, u1, v0, v1) = ({format_fraction(u0)}, {format_fraction(u1)}, "
                    f"{format_fraction(v0)}, {format_fraction(v1)}) needs u0 < u1 and v0 < v1 (lower bounds "
                    f"first); boxes given as hi, lo are not reordered"
                )
            return [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]  # convex and CCW: no test needed
        else:
            pts = seq
    try:
        if any(len(p) != 2 for p in pts):
            raise ValueError("domain vertices must be (u, v) pairs")
        verts = [
            (to_fraction(p[0], f"domain vertex {i}"), to_fraction(p[1], f"domain vertex {i}"))
            for i, p in enumerate(pts)
        ]
    except TypeError as err:
        raise ValueError(
            "domain must be None, a box (u0, u1, v0, v1), a list of (u, v) vertices or a shapely Polygon"
        ) from err
    return _convex_ccw(verts)


def _convex_ccw(verts: list[tuple[Fraction, Fraction]]) -> list[tuple[Fraction, Fraction]]:
    """The vertices of a convex polygon, CCW, without repeated or straight-through
    vertices; refuses any other closed polyline (exact arithmetic throughout).

    A closed polyline is the boundary of a convex polygon traversed once exactly when,
    after dropping consecutive repeats and straight-through vertices, every turn is to
    the same side (left after orienting CCW by the signed area) and the edge directions
    go round exactly once: their total turning is 2 pi. The turning is counted exactly as
    the number of times the direction angle, in [0, 2 pi), decreases from one edge to the
    next (each turn is strictly between 0 and pi, so it wraps past angle 0 at most once)."""
    dedup: list[tuple[Fraction, Fraction]] = []
    for p in verts:
        if not dedup or p != dedup[-1]:
            dedup.append(p)
    if len(dedup) > 1 and dedup[0] == dedup[-1]:
        dedup.pop()
    area2 = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(dedup, dedup[1:] + dedup[:1]))
    if area2 == 0:
        raise ValueError("the domain polygon is empty (zero area): give at least three non-collinear vertices")
    if area2 < 0:
        dedup.reverse()
    n = len(dedup)
    out = []
    for i in range(n):
        a, b, c = dedup[i - 1], dedup[i], dedup[(i + 1) % n]
        e1, e2 = (b[0] - a[0], b[1] - a[1]), (c[0] - b[0], c[1] - b[1])
        cross = e1[0] * e2[1] - e1[1] * e2[0]
        if cross < 0:
            raise ValueError(
                "the domain polygon is not convex; exactnet partitions convex polygons (split yours into convex parts)"
            )
        if cross > 0:
            out.append(b)
        elif e1[0] * e2[0] + e1[1] * e2[1] < 0:
            raise ValueError(
                f"the domain polygon doubles back on itself at vertex ({float(b[0]):g}, {float(b[1]):g}) "
                f"(a spike); give the vertices of a convex polygon in order"
            )
    if len(out) < 3:
        raise ValueError("the domain polygon is empty (zero area)")
    m = len(out)
    edges = [(out[(i + 1) % m][0] - out[i][0], out[(i + 1) % m][1] - out[i][1]) for i in range(m)]
    windings = sum(_angle_before(edges[(i + 1) % m], edges[i]) for i in range(m))
    if windings != 1:
        raise ValueError(
            f"the domain polygon's boundary winds around {windings} times (its edges cross, like a pentagram's), "
            f"so it is not a convex polygon; give the vertices of a convex polygon in order around it"
        )
    return out


def _angle_before(e, f) -> bool:
    """Whether the direction angle of ``e`` in [0, 2 pi) is smaller than that of ``f``
    (exact, for nonzero non-parallel vectors)."""
    half_e = e[1] < 0 or (e[1] == 0 and e[0] < 0)  # angle in [pi, 2 pi)
    half_f = f[1] < 0 or (f[1] == 0 and f[0] < 0)
    if half_e != half_f:
        return not half_e
    return e[0] * f[1] - e[1] * f[0] > 0  # f is counter-clockwise from e by less than pi


def _domain_integers(verts):
    """Homogeneous vertices and integer edge lines of a CCW polygon with rational vertices."""
    hv = []
    for u, v in verts:
        W = u.denominator * v.denominator // math.gcd(u.denominator, v.denominator)
        hv.append((int(u * W), int(v * W), W))
    lines = []
    n = len(verts)
    for i in range(n):
        (x1, y1), (x2, y2) = verts[i], verts[(i + 1) % n]
        a, b, c = y1 - y2, x2 - x1, x1 * y2 - x2 * y1
        D = 1
        for q in (a, b, c):
            D = D * q.denominator // math.gcd(D, q.denominator)
        lines.append((int(a * D), int(b * D), int(c * D)))
    return hv, lines
