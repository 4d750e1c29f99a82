"""Where a :class:`~exactnet.regions.plane.Partition` gets its regions from: the exact engines'
regions (:class:`_ExactSource`, also the float mode's answer for a degenerate arrangement)
or the certified float kernel's subdivision (:class:`_FloatSource`), with the certified
same-map test of its edges and output maps recomputed exactly where floats overflowed.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ...net.network import Network
from ...net.rational import float_or_inf
from .._common import warn_beyond_float64
from .._flat import engine_data
from .._patterns import pack, unpack_int, unpack_words, words_to_int
from ._exact import (
    ExactMaps,
    ExactPlaneRegion,
    _cross,
    line_key,
    vertex_point,
    zero_mask_at,
)
from .domain import Plane, _domain_integers
from .region import Region2D, _point_on, area2

if TYPE_CHECKING:
    pass


class _ExactSource:
    """Partition data from the exact engine's regions (as floats when ``exact=False``:
    the float mode's answer for a degenerate arrangement, decided exactly)."""

    def __init__(self, net: Network, raw: list[ExactPlaneRegion], exact: bool = True):
        self.net = net
        self.raw = raw
        self.exact = exact
        self.num_regions = len(raw)

    def region(self, i: int) -> Region2D:
        r = self.raw[i]
        pts = [vertex_point(v) for v in r.vertices]
        Z, DU, DV = r.out
        S = r.out_scale
        centroid = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
        reg = Region2D(
            i,
            tuple(pts),
            unpack_int(r.pattern, self.net.num_neurons),
            tuple(Fraction(z, S) for z in Z),
            tuple((Fraction(a, S), Fraction(b, S)) for a, b in zip(DU, DV)),
            area2(pts) / 2,
            centroid,
        )
        if self.exact:
            return reg
        reg = _float_region(reg)
        if not all(map(math.isfinite, reg.intercept + sum(reg.gradient, ()))):
            warn_beyond_float64("output maps", stacklevel=5)
        return reg

    def edges(self):
        if not hasattr(self, "_edges"):
            self._edges = self._compute_edges()
        return self._edges

    def _compute_edges(self):
        groups: dict = {}
        for r, reg in enumerate(self.raw):
            pts = [vertex_point(v) for v in reg.vertices]
            n = len(pts)
            for i in range(n):
                key = line_key(reg.lines[i])
                a, b, _ = key
                p, q = pts[i], pts[(i + 1) % n]
                tp, tq = -b * p[0] + a * p[1], -b * q[0] + a * q[1]
                groups.setdefault(key, []).append((min(tp, tq), max(tp, tq), r))
        pairs: dict = {}
        for key, items in groups.items():
            items.sort()
            # sweep: overlaps of positive length between segments of different regions
            for k, (t0, t1, r) in enumerate(items):
                for t0b, t1b, rb in items[k + 1 :]:
                    if t0b >= t1:
                        break
                    if rb != r and min(t1, t1b) > max(t0, t0b):
                        pairs.setdefault((min(r, rb), max(r, rb)), (key, max(t0, t0b), min(t1, t1b)))
        neurons = self.net.neurons
        out = []
        for (a, b), (key, lo, hi) in sorted(pairs.items()):
            flip = self.raw[a].pattern ^ self.raw[b].pattern
            labels = tuple(neurons[k] for k in range(len(neurons)) if (flip >> k) & 1)
            seg = (_point_on(key, lo), _point_on(key, hi))
            if not self.exact:
                seg = tuple((float(p[0]), float(p[1])) for p in seg)
            out.append((a, b, seg, labels))
        return out

    def same_map_edges(self):
        if not hasattr(self, "_same"):
            self._same = [self._same_map(a, b) for a, b, _, _ in self.edges()]
        return self._same

    def _same_map(self, a: int, b: int) -> bool:
        ra, rb = self.raw[a], self.raw[b]
        Sa, Sb = ra.out_scale, rb.out_scale
        return all(x * Sb == y * Sa for xs, ys in zip(ra.out, rb.out) for x, y in zip(xs, ys))

    def _pattern_ints(self) -> set:
        if not hasattr(self, "_pats"):
            pats = set()
            for reg in self.raw:
                pats.add(reg.pattern)
                zms = reg.zero_masks or [zero_mask_at(reg, v, self.net) for v in reg.vertices]
                n = len(zms)
                for i in range(n):
                    pats.add(reg.pattern & ~zms[i])  # the vertex
                    pats.add(reg.pattern & ~(zms[i] & zms[(i + 1) % n]))  # the open edge
            self._pats = pats
        return self._pats

    def num_patterns(self) -> int:
        if hasattr(self.raw, "num_patterns"):  # the compiled engine's pooled result
            return self.raw.num_patterns()
        return len(self._pattern_ints())

    def pattern_set(self) -> set:
        """The non-empty patterns as bytes of packed bits (little bit order)."""
        n = self.net.num_neurons
        return {pack(unpack_int(p, n)) for p in self._pattern_ints()}


class _NeedsExact(Exception):
    """A piece decision the float bound cannot certify: the caller recomputes exactly."""


class _FloatSource:
    """Partition data from the certified float kernel (no degenerate decision was made:
    every edge flips exactly one neuron, and patterns equal regions)."""

    exact = False

    def __init__(self, net: Network, fp, plane: Plane, exact_maps):
        from ._float_results import _extract

        self.net = net
        self.fp = fp
        self.plane_float = plane.float_arrays  # (origin, directions) in float64
        self._exact_maps = exact_maps  # () -> ExactMaps of the plane, built on first use
        c = fp.counts
        self.offsets, self.verts, self.areas, E = _extract(
            c, fp.vx, fp.he_org, fp.he_next, fp.he_twin, fp.he_face, fp.f_he
        )
        self.edge_pairs = E
        self.num_regions = int(c[2])
        self.pat_words = fp.f_pat[: c[2]]

    @cached_property
    def same(self) -> np.ndarray:
        """Certified same-map flag per edge (computed on first use: pieces are derived)."""
        same = _certified_same_maps(self.net, self.fp, self.edge_pairs)
        if same is None:
            raise _NeedsExact
        return same

    @cached_property
    def _maps(self):
        from ._float_results import _face_maps

        icp, grad, bad = _face_maps(self.offsets, self.verts, self.fp.vx, self.fp.out_values)
        with np.errstate(over="ignore", invalid="ignore"):  # overflows are caught below
            thin = np.flatnonzero(bad)  # faces too thin for three float vertices
            if len(thin):
                icp[thin], grad[thin] = _chain_maps(self.net, self.plane_float, self.pat_words[thin])
        n = self.num_regions
        overflowed = ~(np.isfinite(icp[:n]).all(axis=1) & np.isfinite(grad[:n]).all(axis=(1, 2)))
        if overflowed.any():
            # a value beyond float64's range on the way: the exact map, rounded (+-inf where
            # the map itself is beyond float64's range)
            maps = self._exact_maps()
            for f in np.flatnonzero(overflowed):
                c, g = maps.output_map(words_to_int(self.pat_words[f]))
                icp[f] = [float_or_inf(q) for q in c]
                grad[f] = [[float_or_inf(a), float_or_inf(b)] for a, b in g]
            if not (np.isfinite(icp[:n]).all() and np.isfinite(grad[:n]).all()):
                warn_beyond_float64("output maps", stacklevel=5)
        return icp, grad

    def region(self, i: int) -> Region2D:
        vs = self.verts[self.offsets[i] : self.offsets[i + 1]]
        pts = tuple((float(self.fp.vx[v, 0]), float(self.fp.vx[v, 1])) for v in vs)
        icp, grad = self._maps
        pattern = unpack_words(self.pat_words[i], self.net.num_neurons)
        centroid = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
        return Region2D(
            i, pts, pattern, tuple(icp[i].tolist()), tuple(map(tuple, grad[i].tolist())), float(self.areas[i]), centroid
        )

    def region_values(self):
        """Per region, with array operations (the values of :meth:`region`): an iterator of
        (index, vertices, pattern, intercept, gradient, area, centroid)."""
        n = self.num_regions
        icp, grad = self._maps
        xy = self.fp.vx[self.verts, :2]
        pts = list(map(tuple, xy.tolist()))
        counts = np.diff(self.offsets)
        centroids = (np.add.reduceat(xy, self.offsets[:-1], axis=0) / counts[:, None]).tolist() if n else []
        patterns = unpack_words(self.pat_words[:n], self.net.num_neurons)
        icps, grads, areas = icp[:n].tolist(), grad[:n].tolist(), self.areas[:n].tolist()
        offs = self.offsets.tolist()
        return (
            (
                i,
                tuple(pts[offs[i] : offs[i + 1]]),
                patterns[i],
                tuple(icps[i]),
                tuple(map(tuple, grads[i])),
                areas[i],
                tuple(centroids[i]),
            )
            for i in range(n)
        )

    def all_regions(self) -> tuple[Region2D, ...]:
        """Every region, built with array operations (the same values as :meth:`region`)."""
        return tuple(Region2D(*values) for values in self.region_values())

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The edges without their segments, as arrays sorted by (a, b): pairs (a < b), the
        pattern index of the neuron flipping across each, and the order applied to the
        edges of :meth:`edges`."""
        E = self.edge_pairs
        order = np.lexsort((E[:, 1], E[:, 0]))
        return E[order, :2], self.fp.he_label[E[order, 2]], order

    def edges(self):
        fp = self.fp
        neurons = self.net.neurons
        if not len(self.edge_pairs):
            return []
        E = self.edge_pairs
        h = E[:, 2]
        p, q = fp.he_org[h], fp.he_org[fp.he_next[h]]
        P = list(map(tuple, fp.vx[p, :2].tolist()))
        Q = list(map(tuple, fp.vx[q, :2].tolist()))
        labels = [(neurons[k],) for k in fp.he_label[h].tolist()]
        return list(zip(E[:, 0].tolist(), E[:, 1].tolist(), zip(P, Q), labels))

    def same_map_edges(self):
        return self.same.tolist()

    def num_pieces(self) -> int:
        from ._float_results import _count_components

        return int(_count_components(self.num_regions, self.edge_pairs, self.same))

    def num_patterns(self) -> int:
        return self.num_regions


def _float_region(r: Region2D) -> Region2D:
    f = float_or_inf  # output maps beyond float64's range become +-inf
    return Region2D(
        r.index,
        tuple((f(u), f(v)) for u, v in r.vertices),
        r.pattern,
        tuple(map(f, r.intercept)),
        tuple((f(a), f(b)) for a, b in r.gradient),
        f(r.area),
        tuple(map(f, r.interior_point)),
    )


def _float_source(net, plane, verts, max_regions):
    """The certified float partition, or None when an exact zero (a degenerate
    arrangement) or a hidden value beyond the kernel's safe range (overflow) calls for
    the exact engine."""
    from ._float_kernel import run_plane

    n_dom = len(verts)
    state = {"zero": False}
    exact_data = {}

    def exact():  # built only if some sign needs an exact decision
        if not exact_data:
            exact_data["hv"], exact_data["lines"] = _domain_integers(verts)
            exact_data["maps"] = ExactMaps(net, *plane.integers())
        return exact_data["hv"], exact_data["lines"], exact_data["maps"]

    def vertex_exact(fp, v):
        hv, lines, maps = exact()
        if v < n_dom:
            return hv[v]
        edge_label, edge_face, cut_label, cut_face = (int(x) for x in fp.v_info[v, :4])
        if edge_label < 0:
            L1 = lines[-edge_label - 1]
        else:
            L1 = maps.neuron_line(edge_label, words_to_int(fp.f_pat[edge_face]))
        L2 = maps.neuron_line(cut_label, words_to_int(fp.f_pat[cut_face]))
        return _cross(L1, L2)

    def decide(fp, layer, unit, bit, v):
        maps = exact()[2]
        X = vertex_exact(fp, v)
        face = int(fp.he_face[fp.v_he[v]])
        sign = maps.sign_at(layer, unit, words_to_int(fp.f_pat[face]), X)
        if sign == 0:
            state["zero"] = True
        return sign

    uv = np.array([[float(u), float(v)] for u, v in verts])
    origin, directions = plane.float_arrays
    with np.errstate(over="ignore", invalid="ignore"):  # overflows end the float kernel: checked below
        fp = run_plane(net, uv, origin, directions, decide, max_faces=max_regions)
    if state["zero"] or fp.exact_zero or fp.overflow:
        return None
    # a vertex placed where the float values could not locate it on its edge (an end's
    # sign decided exactly): its coordinates solved exactly, then rounded
    coarse = np.flatnonzero(fp.v_info[: fp.counts[0], 4] == 1)
    for v in coarse:
        X, Y, W = vertex_exact(fp, int(v))
        fp.vx[v] = (float(Fraction(X, W)), float(Fraction(Y, W)))
    if len(coarse) and len(fp.out_values):  # and the outputs there (continuous, so any pattern's map)
        with np.errstate(over="ignore", invalid="ignore"):
            fp.out_values[coarse] = net.forward(origin + fp.vx[coarse] @ directions.T)
    return _FloatSource(net, fp, plane, lambda: exact()[2])


def _chain_maps(net: Network, plane_float, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float affine maps of the outputs on the regions with these pattern words (one row per
    region), by composing the layers, all regions at once: intercepts (k, n_out) and
    gradients (k, n_out, 2)."""
    origin, directions = plane_float
    patterns = unpack_words(words, net.num_neurons)  # (k, neurons)
    k = len(patterns)
    c = np.broadcast_to(origin, (k, len(origin))).copy()  # (k, width)
    J = np.broadcast_to(directions, (k,) + directions.shape).copy()  # (k, width, 2)
    bit = 0
    for layer in net.layers:
        c = c @ layer.weight.T + layer.bias
        J = np.einsum("ij,kjd->kid", layer.weight, J)
        if not layer.is_linear:
            s = np.broadcast_to(layer.negative_slope, (k, layer.out_features)).copy()
            n_on = int(layer.is_neuron.sum())
            s[:, layer.is_neuron] = np.where(patterns[:, bit : bit + n_on], 1.0, layer.negative_slope[layer.is_neuron])
            bit += n_on
            c, J = c * s, J * s[:, :, None]
    return c, J


def _certified_same_maps(net: Network, fp, edge_pairs: np.ndarray):
    """For every edge (one flipping neuron), whether the outputs' affine map is the same
    on both sides (see ``_float_results._same_maps``); None when not certified."""
    from ._float_results import _same_maps

    if len(edge_pairs) == 0:
        return np.zeros(0, dtype=bool)
    A = engine_data(net, "float")
    edge_bit = fp.he_label[edge_pairs[:, 2]]
    same, ok = _same_maps(
        np.ascontiguousarray(edge_pairs[:, 0]),
        edge_bit,
        A.bit_layer,
        A.bit_unit,
        fp.f_pat,
        A.layer_rows,
        A.layer_cols,
        A.w_off,
        A.weights,
        A.slope,
        A.u_off,
        A.neuron_bit,
        A.gammas,
    )
    return same if ok else None
