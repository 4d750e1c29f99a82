"""Sampled estimates of linear regions, checked against the exact partition.

Sampling is what most studies do: evaluate the network on a grid or on random points
and count the distinct activation patterns. It misses every region that no sample falls
in (anchors.md: a 1000 x 1000 grid finds 98% of the regions of 2-32-32-1 and 91% of
2-128-128-1). :func:`sample_patterns` is the estimator (vectorised forward passes with
pattern hashing, in chunks); :meth:`SampleEstimate.compare` measures it against a
:class:`~exactnet.regions.plane.Partition`: coverage (regions found / regions), the
regions missed and their areas.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..net.network import Network
from ._patterns import pack, pack_rows
from .plane import Partition, Plane, parse_domain

if TYPE_CHECKING:
    from .plane.domain import DomainLike

__all__ = ["SampleEstimate", "sample_patterns"]


@dataclass
class SampleEstimate:
    """Distinct activation patterns found at sample points of a polygon.

    ``patterns``: the set of patterns (bytes of the packed bits, in ``net.neurons``
    order); ``num_points``; ``seconds``; ``points_per_second``."""

    network: Network
    patterns: set
    num_points: int
    seconds: float
    method: str
    counts: dict = field(default_factory=dict)

    @property
    def num_patterns(self) -> int:
        return len(self.patterns)

    @property
    def points_per_second(self) -> float:
        return self.num_points / self.seconds if self.seconds > 0 else math.inf

    def compare(self, part: Partition) -> dict:
        """Coverage of the exact partition: ``coverage`` (found regions / regions),
        ``found``, ``regions``, ``missed`` (indices of the regions no sample fell in),
        ``missed_area`` (their total area) and ``missed_area_fraction``,
        ``other_patterns`` (sampled patterns that are not a region's: points exactly on
        a boundary)."""
        keys = {pack(r.pattern): r for r in part.regions}
        found = [r for k, r in keys.items() if k in self.patterns]
        missed = [r for k, r in keys.items() if k not in self.patterns]
        missed_area = sum(float(r.area) for r in missed)
        return {
            "regions": part.num_regions,
            "found": len(found),
            "coverage": len(found) / part.num_regions,
            "missed": sorted(r.index for r in missed),
            "missed_area": missed_area,
            "missed_area_fraction": missed_area / float(part.area),
            "smallest_missed_area": min((float(r.area) for r in missed), default=0.0),
            "other_patterns": len(self.patterns - set(keys)),
        }


def _points(domain, n: int, method: str, rng) -> np.ndarray:
    verts = np.array([[float(u), float(v)] for u, v in parse_domain(domain)])
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    if method == "grid":
        k = max(2, int(round(math.sqrt(n))))
        gu, gv = np.meshgrid(np.linspace(lo[0], hi[0], k), np.linspace(lo[1], hi[1], k))
        pts = np.stack([gu.ravel(), gv.ravel()], axis=1)
    elif method == "random":
        pts = rng.uniform(lo, hi, size=(n, 2))
    else:
        raise ValueError(f"method must be 'grid' or 'random', got {method!r}")
    # keep the points in the (convex, CCW) polygon
    inside = np.ones(len(pts), dtype=bool)
    for a, b in zip(verts, np.roll(verts, -1, axis=0)):
        inside &= (b[0] - a[0]) * (pts[:, 1] - a[1]) - (b[1] - a[1]) * (pts[:, 0] - a[0]) >= 0
    return pts[inside]


def sample_patterns(
    net: Network,
    domain: DomainLike = None,
    *,
    plane: Plane | None = None,
    n: int = 10**6,
    method: str = "grid",
    seed: int = 0,
    chunk: int = 1 << 16,
    precision: str = "float64",
) -> SampleEstimate:
    """Distinct activation patterns at ``n`` sample points of a convex polygon
    (``"grid"``: a sqrt(n) x sqrt(n) grid over its bounding box; ``"random"``: uniform
    points), kept inside the polygon, by forward passes in chunks of ``chunk``.

    ``precision``: ``"float64"`` (default) or ``"float32"``, about twice as fast on wide
    networks and what sampling studies usually run (torch's default); a point within
    float32 rounding of a boundary may then get a neighbouring region's pattern. Patterns
    are grouped by a 64-bit hash of their packed bits, each group checked bit for bit
    against its first member (a collision falls back to sorting the chunk)."""
    if not isinstance(net, Network):
        raise TypeError(f"net must be an exactnet.Network, got {type(net).__name__}")
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    if precision not in ("float64", "float32"):
        raise ValueError(f"precision must be 'float64' or 'float32', got {precision!r}")
    dtype = np.float64 if precision == "float64" else np.float32
    if plane is None:
        if net.input_dim != 2:
            raise ValueError(f"the network takes {net.input_dim} inputs: pass plane=Plane(...) to sample a slice")
        plane = Plane.identity()
    origin, directions = plane.float_arrays
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    uv = _points(domain, n, method, rng)
    # buffers reused across chunks (fresh memory is slow to touch)
    chunk = min(chunk, max(len(uv), 1))
    bufs = [np.empty((chunk, layer.out_features), dtype=dtype) for layer in net.layers]
    weights = [np.ascontiguousarray(layer.weight.T, dtype=dtype) for layer in net.layers]
    biases = [layer.bias.astype(dtype) for layer in net.layers]
    slopes = [layer.negative_slope.astype(dtype) for layer in net.layers]
    nbits = net.num_neurons
    bits = np.empty((chunk, max(nbits, 1)), dtype=bool)
    found: set = set()
    counts: dict = {}
    for start in range(0, len(uv), chunk):
        m = min(chunk, len(uv) - start)
        h = (origin + uv[start : start + m] @ directions.T).astype(dtype, copy=False)
        col = 0
        for layer, WT, bias, slope, z in zip(net.layers, weights, biases, slopes, bufs):
            z = z[:m]
            np.matmul(h, WT, out=z)
            z += bias
            if not layer.is_linear:
                k = int(layer.is_neuron.sum())
                if k == layer.out_features:  # (boolean column indexing copies slowly)
                    np.greater(z, 0, out=bits[:m, col : col + k])
                else:
                    bits[:m, col : col + k] = (z > 0)[:, np.flatnonzero(layer.is_neuron)]
                col += k
                if np.all(layer.negative_slope == 0):
                    np.maximum(z, 0, out=z)
                else:
                    neg = z <= 0
                    z[neg] *= np.broadcast_to(slope, z.shape)[neg]
            h = z
        if nbits == 0:
            found.add(b"")
            counts[b""] = counts.get(b"", 0) + m
            continue
        _count_patterns(pack_rows(bits[:m]), found, counts)
    return SampleEstimate(net, found, len(uv), time.perf_counter() - t0, method, counts)


_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)


def _count_patterns(packed: np.ndarray, found: set, counts: dict) -> None:
    """Add the rows of ``packed`` (m, nbytes) to the set of patterns and their counts,
    grouping equal rows by a 64-bit hash, checked bit for bit."""
    m, nbytes = packed.shape
    words = -(-nbytes // 8)
    buf = np.zeros((m, 8 * words), dtype=np.uint8)
    buf[:, :nbytes] = packed
    w = buf.view(np.uint64)
    h = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(words):
            h = (h ^ w[:, k]) * _HASH_MULT
            h ^= h >> np.uint64(29)
    _, first, inverse, cnt = np.unique(h, return_index=True, return_inverse=True, return_counts=True)
    if np.array_equal(w[first[inverse]], w):
        rows = list(packed[first])
    else:  # a hash collision: group by the bytes themselves
        unique, cnt = np.unique(
            np.ascontiguousarray(packed).view(np.dtype((np.void, nbytes))).ravel(), return_counts=True
        )
        rows = [bytes(r) for r in unique]
    for r, c in zip(rows, cnt.tolist()):
        key = bytes(r)
        counts[key] = counts.get(key, 0) + c
        found.add(key)
