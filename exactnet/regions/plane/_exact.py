"""Exact linear regions of a network on a convex polygon of a plane, in integer arithmetic.

The definition the fast 2-D engines are tested against. The plane is parametrised by
(u, v): x(u, v) = (P0 + P1 u + P2 v) / Sx with integer vectors (a slice of input space,
or the input plane itself when n_0 = 2). Everything is an integer:

* a *line* is a triple (a, b, c) meaning a u + b v + c = 0;
* a *vertex* is a homogeneous triple (X, Y, W) with W > 0 meaning (X / W, Y / W), the
  intersection of two lines (their cross product), so vertex sizes never accumulate;
* on a region every pre-activation is (Z + DU u + DV v) / S with integers Z, DU, DV and a
  positive scale S shared by the layer, so the zero line of neuron j is (DU_j, DV_j, Z_j)
  and its sign at a vertex is sign(DU_j X + DV_j Y + Z_j W).

Algorithm (layer by layer, like the 1-D engine): for every region of the previous layer,
compute the layer's pre-activations; the neurons whose zero line has strictly positive
and strictly negative vertices cross the region and cut it, one after the other, into
convex pieces (a cut only happens where a piece has vertices strictly on both sides, so
every piece has positive area); a neuron zero at every vertex is identically zero on the
region (inactive, no cut: docs/definitions.md). Each final piece is a region: pieces of one
parent differ in the side of some cutting line, pieces of different parents in an earlier
layer, and patterns' realisation sets are convex (Serra et al. 2018).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from math import gcd
from operator import mul

from ...net.network import Network
from .._common import RegionLimitError

__all__ = ["ExactPlaneRegion", "exact_plane", "line_key", "vertex_point"]


def _cross(l1, l2):
    """Homogeneous intersection of lines l1, l2 (None if parallel), with W > 0."""
    a1, b1, c1 = l1
    a2, b2, c2 = l2
    W = a1 * b2 - a2 * b1
    if W == 0:
        return None
    X = b1 * c2 - b2 * c1
    Y = c1 * a2 - c2 * a1
    return (X, Y, W) if W > 0 else (-X, -Y, -W)


def line_key(line) -> tuple[int, int, int]:
    """Canonical form of a line: divided by the gcd, first nonzero of (a, b) positive."""
    a, b, c = line
    g = gcd(gcd(a, b), c) or 1
    a, b, c = a // g, b // g, c // g
    if a < 0 or (a == 0 and b < 0):
        a, b, c = -a, -b, -c
    return (a, b, c)


def vertex_point(v) -> tuple[Fraction, Fraction]:
    X, Y, W = v
    return Fraction(X, W), Fraction(Y, W)


class ExactPlaneRegion:
    """One region: the polygon (vertices CCW, edge i from vertex i to i + 1 on lines[i]),
    its pattern (int bitmask over ``net.neurons``), the pre-activation maps of every layer
    (for zero sets at vertices), and the output maps (Z, DU, DV) over ``out_scale``."""

    __slots__ = ("vertices", "lines", "pattern", "layer_maps", "out", "out_scale", "zero_masks")

    def __init__(self, vertices, lines, pattern, layer_maps, out, out_scale):
        self.vertices = vertices
        self.lines = lines
        self.pattern = pattern
        self.layer_maps = layer_maps  # per layer: (Z, DU, DV, scale) of the pre-activations
        self.out = out
        self.out_scale = out_scale
        self.zero_masks = None  # per vertex, when the engine recorded them


def _split(vertices, lines, line, signs):
    """Cut a convex polygon by ``line`` given the signs of ``line`` at its vertices.

    Returns (positive piece, negative piece), each as (vertices, lines). Vertices where
    the line vanishes belong to both pieces; a new vertex is made where an edge has
    strictly opposite signs at its ends.
    """
    n = len(vertices)
    pos_v, pos_l, neg_v, neg_l = [], [], [], []
    for i in range(n):
        s, s_next = signs[i], signs[(i + 1) % n]
        v, edge = vertices[i], lines[i]
        if s >= 0:
            pos_v.append(v)
            pos_l.append(line if s == 0 and s_next < 0 else edge)
        if s <= 0:
            neg_v.append(v)
            neg_l.append(line if s == 0 and s_next > 0 else edge)
        if s * s_next < 0:
            x = _cross(edge, line)
            if s > 0:  # leaving the positive side: the new vertex starts the cut edge there
                pos_v.append(x)
                pos_l.append(line)
                neg_v.append(x)
                neg_l.append(edge)
            else:
                neg_v.append(x)
                neg_l.append(line)
                pos_v.append(x)
                pos_l.append(edge)
    return (pos_v, pos_l), (neg_v, neg_l)


def _sign_at(line, v):
    a, b, c = line
    X, Y, W = v
    s = a * X + b * Y + c * W
    return (s > 0) - (s < 0)


def exact_plane(
    net: Network,
    P0: Sequence[int],
    P1: Sequence[int],
    P2: Sequence[int],
    Sx: int,
    domain_vertices: Sequence[tuple[int, int, int]],
    domain_lines: Sequence[tuple[int, int, int]],
    max_regions: int | None = None,
) -> list[ExactPlaneRegion]:
    """Exact regions of ``net`` on the convex polygon (domain_vertices, domain_lines), CCW,
    of the plane x(u, v) = (P0 + P1 u + P2 v) / Sx.

    ``max_regions``: raise :class:`~exactnet.regions.RegionLimitError` when the partition would exceed it (a cap never
    silently truncates)."""
    # per region: vertices, lines, pattern, maps of the current post-activation
    # h = (A + B u + C v) / scale, and the pre-activation maps of past layers
    regions: list[tuple] = [(list(domain_vertices), list(domain_lines), 0, list(P0), list(P1), list(P2), [])]
    scale = Sx
    bit = 0
    for layer in net.layers:
        il = layer.integer
        rows = il.weight_num
        bias_scaled = [b * scale for b in il.bias_num]
        scale_z = scale * il.den
        units = il.neuron_units
        ubit = {j: 1 << (bit + i) for i, j in enumerate(units)}
        bit += len(units)
        sden, snum = il.slope_den, il.slope_num
        new_regions = []
        for verts, lines, pat, A, B, C, past in regions:
            Z = [sum(map(mul, row, A), bs) for row, bs in zip(rows, bias_scaled)]
            DU = [sum(map(mul, row, B)) for row in rows]
            DV = [sum(map(mul, row, C)) for row in rows]
            maps = past + [(Z, DU, DV, scale_z)]
            if layer.is_linear:
                new_regions.append((verts, lines, pat, Z, DU, DV, maps))
                continue
            # neurons crossing the region cut it; the others have one sign on all of it
            sign_of = {}
            crossing = []
            for j in units:
                line = (DU[j], DV[j], Z[j])
                signs = [_sign_at(line, v) for v in verts]
                if 1 in signs and -1 in signs:
                    crossing.append(j)
                else:
                    sign_of[j] = 1 if 1 in signs else -1  # all zero: identically zero, inactive
            pieces: list[tuple[list, list, dict[int, int]]] = [(verts, lines, {})]
            for j in crossing:
                line = (DU[j], DV[j], Z[j])
                cut = []
                for pv, pl, sides in pieces:
                    signs = [_sign_at(line, v) for v in pv]
                    if 1 in signs and -1 in signs:
                        (a_v, a_l), (b_v, b_l) = _split(pv, pl, line, signs)
                        cut.append((a_v, a_l, {**sides, j: 1}))
                        cut.append((b_v, b_l, {**sides, j: -1}))
                    else:
                        cut.append((pv, pl, {**sides, j: 1 if 1 in signs else -1}))
                pieces = cut
                if max_regions is not None and len(new_regions) + len(pieces) > max_regions:
                    raise RegionLimitError(len(new_regions) + len(pieces), max_regions)
            for pv, pl, sides in pieces:
                bits = pat
                A2, B2, C2 = [], [], []
                for j in range(len(Z)):
                    if not il.is_neuron[j]:
                        f = sden
                    else:
                        on = (sides.get(j) or sign_of[j]) > 0
                        if on:
                            bits |= ubit[j]
                        f = sden if on else snum[j]
                    A2.append(Z[j] * f)
                    B2.append(DU[j] * f)
                    C2.append(DV[j] * f)
                new_regions.append((pv, pl, bits, A2, B2, C2, maps))
        regions = new_regions
        scale = scale_z if layer.is_linear else scale_z * sden
        if max_regions is not None and len(regions) > max_regions:
            raise RegionLimitError(len(regions), max_regions)
    out = []
    for verts, lines, pat, Z, DU, DV, maps in regions:
        out.append(ExactPlaneRegion(verts, lines, pat, maps, (Z, DU, DV), maps[-1][3]))
    return out


def zero_mask_at(region: ExactPlaneRegion, vertex, net: Network) -> int:
    """Bitmask of the neurons that vanish at ``vertex`` (a vertex of ``region``)."""
    mask = 0
    bit = 0
    X, Y, W = vertex
    for layer, (Z, DU, DV, _) in zip(net.layers, region.layer_maps):
        for j in layer.integer.neuron_units:
            if DU[j] * X + DV[j] * Y + Z[j] * W == 0:
                mask |= 1 << bit
            bit += 1
    return mask


class ExactMaps:
    """Exact pre-activation maps on the region with a given activation pattern.

    ``layer_maps(l, bits)`` returns integer lists (Z, DU, DV): layer l's pre-activations
    are (Z + DU u + DV v) / S on any region whose pattern (an int over ``net.neurons``)
    agrees with ``bits`` on the layers before l (positive scale S, irrelevant to signs).
    Cached per (layer, pattern of the earlier layers)."""

    def __init__(self, net: Network, P0, P1, P2, Sx):
        self.net = net
        self.start = (list(P0), list(P1), list(P2), Sx)
        self.offsets = []
        bit = 0
        for layer in net.layers:
            self.offsets.append(bit)
            bit += len(layer.integer.neuron_units)
        self._cache: dict = {}

    def layer_maps(self, target: int, bits: int):
        return self._scaled_maps(target, bits)[:3]

    def output_map(self, bits: int) -> tuple[tuple[Fraction, ...], tuple[tuple[Fraction, Fraction], ...]]:
        """The outputs' exact affine map on the region with pattern ``bits``:
        (intercepts, gradients), output_k(u, v) = intercepts[k] + gradients[k] . (u, v)."""
        Z, DU, DV, S = self._scaled_maps(len(self.net.layers) - 1, bits)
        return tuple(Fraction(z, S) for z in Z), tuple((Fraction(a, S), Fraction(b, S)) for a, b in zip(DU, DV))

    def _scaled_maps(self, target: int, bits: int):
        """(Z, DU, DV, S): layer ``target``'s pre-activations are (Z + DU u + DV v) / S."""
        prefix = bits & ((1 << self.offsets[target]) - 1)
        key = (target, prefix)
        if key in self._cache:
            return self._cache[key]
        A, B, C, scale = self.start
        for l, layer in enumerate(self.net.layers[: target + 1]):
            il = layer.integer
            Z = [sum(map(mul, row, A), b * scale) for row, b in zip(il.weight_num, il.bias_num)]
            DU = [sum(map(mul, row, B)) for row in il.weight_num]
            DV = [sum(map(mul, row, C)) for row in il.weight_num]
            if l == target:
                self._cache[key] = (Z, DU, DV, scale * il.den)
                return self._cache[key]
            off = self.offsets[l]
            fac = []
            for j in range(len(Z)):
                if not il.is_neuron[j]:
                    fac.append(il.slope_den)
                else:
                    rank = il.neuron_units.index(j)
                    on = (bits >> (off + rank)) & 1
                    fac.append(il.slope_den if on else il.slope_num[j])
            A = [z * f for z, f in zip(Z, fac)]
            B = [z * f for z, f in zip(DU, fac)]
            C = [z * f for z, f in zip(DV, fac)]
            scale = scale * il.den * il.slope_den
        raise IndexError(target)

    def neuron_line(self, bit: int, bits: int):
        """The exact zero line (a, b, c) of neuron ``bit`` on a region with pattern ``bits``."""
        layer, unit = self.net.neurons[bit]
        Z, DU, DV = self.layer_maps(layer, bits)
        return (DU[unit], DV[unit], Z[unit])

    def sign_at(self, layer: int, unit: int, bits: int, vertex) -> int:
        Z, DU, DV = self.layer_maps(layer, bits)
        X, Y, W = vertex
        s = DU[unit] * X + DV[unit] * Y + Z[unit] * W
        return (s > 0) - (s < 0)
