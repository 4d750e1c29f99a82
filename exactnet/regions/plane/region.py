"""One region of a 2-D partition (:class:`Region2D`) and the exact helpers on polygons,
patterns and lines that the sources and the partition share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

if TYPE_CHECKING:
    from shapely.geometry import Polygon


__all__ = ["Region2D", "area2", "clip_line", "clip_polygon"]

#: a coordinate: exact (a Fraction) or float, as the mode of the partition
Number: TypeAlias = Fraction | float
Point: TypeAlias = tuple[Number, Number]


@dataclass(frozen=True)
class Region2D:
    """A region: its polygon (CCW vertices in (u, v)), activation pattern, and the affine
    map of every output, output_k(u, v) = intercept[k] + gradient[k][0] u + gradient[k][1] v."""

    index: int
    vertices: tuple
    pattern: np.ndarray
    intercept: tuple
    gradient: tuple
    area: Fraction | float
    interior_point: tuple

    @property
    def polygon(self) -> Polygon:
        """The region as a shapely Polygon (float coordinates)."""
        from shapely.geometry import Polygon

        return Polygon([(float(u), float(v)) for u, v in self.vertices])

    def output(self, u: Fraction | float, v: Fraction | float) -> tuple[Fraction | float, ...]:
        return tuple(c + g[0] * u + g[1] * v for c, g in zip(self.intercept, self.gradient))


def area2(verts: Sequence[tuple[Fraction, Fraction]]) -> Fraction:
    """Twice the signed area of a polygon (exact for rational vertices; positive when CCW)."""
    pts = list(verts)
    return sum((a[0] * b[1] - b[0] * a[1] for a, b in zip(pts, pts[1:] + pts[:1])), Fraction(0))


def _point_on(key, t):
    """The point of line key (a, b, c) at parameter t = -b x + a y."""
    a, b, c = key
    # solve a x + b y = -c, -b x + a y = t
    d = Fraction(a * a + b * b)
    return ((-a * c - b * t) / d, (a * t - b * c) / d)


def clip_line(
    line: tuple[Number, Number, Number], vertices: Sequence[Point], halves: Sequence[tuple[Number, Number, Number]]
) -> tuple[Point, Point] | None:
    """The segment of the line a u + b v + c = 0 inside the convex polygon (CCW vertices)
    and the half-planes a' u + b' v + c' >= 0, or None if it has no positive length.
    Exact with Fractions, float with floats."""
    a, b, c = line
    # parametrise the line: a point p0 and the direction d = (-b, a)
    p0: Point
    if a != 0:
        p0 = (-c / a, 0 * c)
    else:
        p0 = (0 * c, -c / b)
    d = (-b, a)
    lo, hi = None, None  # interval of the parameter s, p = p0 + s d
    n = len(vertices)
    constraints = []
    for k in range(n):  # inside: left of every edge (CCW)
        (x1, y1), (x2, y2) = vertices[k], vertices[(k + 1) % n]
        ea, eb = -(y2 - y1), x2 - x1
        constraints.append((ea, eb, -(ea * x1 + eb * y1)))
    constraints.extend(halves)
    for ea, eb, ec in constraints:
        # ea (p0 + s d)_u + eb (p0 + s d)_v + ec >= 0  <=>  alpha s + beta >= 0
        alpha = ea * d[0] + eb * d[1]
        beta = ea * p0[0] + eb * p0[1] + ec
        if alpha == 0:
            if beta < 0:
                return None
            continue
        s = -beta / alpha
        if alpha > 0:
            lo = s if lo is None or s > lo else lo
        else:
            hi = s if hi is None or s < hi else hi
    if lo is None or hi is None or not hi > lo:
        return None
    return ((p0[0] + lo * d[0], p0[1] + lo * d[1]), (p0[0] + hi * d[0], p0[1] + hi * d[1]))


def clip_polygon(poly: Sequence[Point], half: tuple[Number, Number, Number]) -> list[Point]:
    """The part of a convex polygon (CCW vertices) where a u + b v + c >= 0."""
    a, b, c = half
    out = []
    n = len(poly)
    vals = [a * p[0] + b * p[1] + c for p in poly]
    for i in range(n):
        p, q = poly[i], poly[(i + 1) % n]
        vp, vq = vals[i], vals[(i + 1) % n]
        if vp >= 0:
            out.append(p)
        if (vp > 0 and vq < 0) or (vp < 0 and vq > 0):
            t = vp / (vp - vq)
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out if len(out) >= 3 else []
