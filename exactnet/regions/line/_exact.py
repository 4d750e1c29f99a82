"""Exact linear regions of a network along a segment, in integer arithmetic.

This is the definition the fast engine is tested against. No tolerance anywhere: every
quantity is a Python integer, and rationals are kept as integer numerators over a
positive common scale.

Algorithm (layer-by-layer interval refinement). Parametrise the segment as
x(t) = p + t (q - p), t in [0, 1]. On an interval of t where the activation pattern of
layers < l is constant, every pre-activation of layer l is affine in t,
z_j(t) = (alpha_j + beta_j t) / S_l. Processing layer l:

* evaluate every neuron at the current points (interval ends); by continuity of z_j the
  value at a point is the same from both neighbouring intervals, so one evaluation per
  point suffices: sign(alpha_j den + beta_j num) for t = num/den;
* a neuron with strictly opposite signs at the two ends of an interval has exactly one
  root -alpha_j/beta_j inside it: the interval splits there (equal roots of several
  neurons give one point); zero at both ends means identically zero on the interval
  (inactive, no split: docs/definitions.md); zero at one end only means the root is that end;
* on each sub-interval the sign of every neuron is constant, so the post-activation
  h_j = max(z_j, 0) + s_j min(z_j, 0) is again affine in t.

After the last (linear) layer every interval is a region: consecutive intervals differ in
at least one neuron's sign by construction. A neuron that is zero at a point is inactive
there (pattern bit ``z > 0``); the pattern *at* a point equals the pattern on either side
with the neurons that vanish there switched off, so it is a pattern of its own exactly when
some vanishing neuron is active on the left and some (possibly other) one on the right.
Realisation sets of patterns are convex (Serra et al. 2018), so this is the only way a
point adds a pattern.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from operator import mul

import numpy as np

from ...net.network import Network
from ...net.rational import to_fraction
from .._common import RegionLimitError

__all__ = ["ExactLine", "exact_line"]


class ExactLine:
    """Raw exact result for one segment.

    points: list of (num, den), den > 0, the interval ends t = num/den, from 0 to 1;
    patterns: list of int bitmasks (bit k = neuron k of ``net.neurons`` is active), one per
    region; out_alpha/out_beta: per region, the output numerators, output_k(t) =
    (out_alpha[k] + out_beta[k] t) / out_scale; zero_masks: per point, the neurons that
    vanish there.
    """

    __slots__ = ("points", "patterns", "out_alpha", "out_beta", "out_scale", "zero_masks")

    def __init__(self, points, patterns, out_alpha, out_beta, out_scale, zero_masks):
        self.points = points
        self.patterns = patterns
        self.out_alpha = out_alpha
        self.out_beta = out_beta
        self.out_scale = out_scale
        self.zero_masks = zero_masks

    @property
    def num_regions(self) -> int:
        return len(self.patterns)

    def piece_starts(self) -> list[bool]:
        """For each region: does it start a new linear piece (affine map differs from the left)."""
        a, b = self.out_alpha, self.out_beta
        return [True] + [a[i] != a[i - 1] or b[i] != b[i - 1] for i in range(1, len(a))]

    @property
    def num_pieces(self) -> int:
        return sum(self.piece_starts())

    @property
    def num_patterns(self) -> int:
        pats, zm = self.patterns, self.zero_masks
        count = len(pats)
        last = len(zm) - 1
        for p, z in enumerate(zm):
            if not z:
                continue
            if p == 0:
                count += bool(z & pats[0])
            elif p == last:
                count += bool(z & pats[-1])
            else:
                count += bool(z & pats[p - 1]) and bool(z & pats[p])
        return count

    def breakpoints(self) -> tuple[Fraction, ...]:
        return tuple(Fraction(n, d) for n, d in self.points[1:-1])

    def slope_jumps(self, k: int) -> list[int]:
        """Numerators (over out_scale) of the slope jump of output k at every breakpoint."""
        b = self.out_beta
        return [b[i][k] - b[i - 1][k] for i in range(1, len(b))]


def _segment_integers(start: Sequence, end: Sequence, n_in: int):
    """Integers (alpha, beta, scale) with x(t) = (alpha + beta t) / scale exactly."""
    if len(start) != n_in or len(end) != n_in:
        raise ValueError(
            f"start and end must have {n_in} coordinates (the network's input dimension); "
            f"got {len(start)} and {len(end)}"
        )
    ratios = []
    for name, pts in (("start", start), ("end", end)):
        for i, v in enumerate(pts):
            if isinstance(v, (float, np.floating)):
                if not math.isfinite(v):
                    raise ValueError(f"{name}[{i}] is {float(v)!r}; points must be finite")
                ratios.append(float(v).as_integer_ratio())
            else:
                q = to_fraction(v, f"{name}[{i}]")
                ratios.append((q.numerator, q.denominator))
    scale = 1
    for _, den in ratios:
        if scale % den:
            scale = scale * den // math.gcd(scale, den)
    ints = [num * (scale // den) for num, den in ratios]
    alpha = ints[:n_in]
    beta = [b - a for a, b in zip(alpha, ints[n_in:])]
    if not any(beta):
        raise ValueError("start and end coincide: the segment has zero length; pass two distinct points")
    return alpha, beta, scale


def exact_line(net: Network, start: Sequence, end: Sequence, max_regions: int | None = None) -> ExactLine:
    """Exact regions of ``net`` along the segment from ``start`` to ``end``;
    :class:`RegionLimitError` once a layer leaves more than ``max_regions`` intervals."""
    alpha0, beta0, scale = _segment_integers(start, end, net.input_dim)
    points: list[tuple[int, int]] = [(0, 1), (1, 1)]
    zero_masks = [0, 0]
    # per interval: numerators of the post-activation h(t) = (A + B t) / scale, and the
    # units in which it differs from its left neighbour (None: recompute from scratch)
    A_list: list[list[int]] = [alpha0]
    B_list: list[list[int]] = [beta0]
    flips: list = [None]
    pats: list[int] = [0]
    bit = 0  # global index of the first neuron of the current layer

    for layer in net.layers:
        il = layer.integer
        rows, cols = il.weight_num, il.weight_num_cols
        bias_scaled = [b * scale for b in il.bias_num]
        # ---- pre-activations on every interval
        Z_list: list[list[int]] = []
        DZ_list: list[list[int]] = []
        Z: list[int] = []
        DZ: list[int] = []
        prevA: list[int] = []
        prevB: list[int] = []
        for A, B, flip in zip(A_list, B_list, flips):
            if flip is None:
                Z = [sum(map(mul, row, A), bs) for row, bs in zip(rows, bias_scaled)]
                DZ = [sum(map(mul, row, B)) for row in rows]
            else:  # z_i = z_{i-1} + W[:, k] (h_i[k] - h_{i-1}[k]) for the flipped units k
                for k in flip:
                    col = cols[k]
                    da, db = A[k] - prevA[k], B[k] - prevB[k]
                    if da:
                        Z = [z + w * da for z, w in zip(Z, col)]
                    if db:
                        DZ = [z + w * db for z, w in zip(DZ, col)]
            Z_list.append(Z)
            DZ_list.append(DZ)
            prevA, prevB = A, B
        scale = scale * il.den

        if layer.is_linear:  # every interval gets a fresh map: the next layer recomputes it
            A_list, B_list, flips = Z_list, DZ_list, [None] * len(Z_list)
            continue

        sden, snum = il.slope_den, il.slope_num
        plain_relu, units, linear_units = il.plain_relu, il.neuron_units, il.linear_units
        ubit = [0] * len(il.is_neuron)
        for i, j in enumerate(units):
            ubit[j] = 1 << (bit + i)
        bit += len(units)

        new_points: list[tuple[int, int]] = [points[0]]
        new_zero: list[int] = [zero_masks[0]]
        new_A: list[list[int]] = []
        new_B: list[list[int]] = []
        new_flips: list = []
        new_pats: list[int] = []
        n_iv = len(Z_list)
        width = len(il.is_neuron)
        # sign of every neuron at the current interval's left end: at t = 0 it is sign(z);
        # further right it is the sign found at the left neighbour's right end (z is
        # continuous, so both neighbours' maps give the same value there)
        Z = Z_list[0]
        sign_lo = [(Z[j] > 0) - (Z[j] < 0) for j in units]
        for iv in range(n_iv):
            Z, DZ = Z_list[iv], DZ_list[iv]
            hi_num, hi_den = points[iv + 1]
            at_one = hi_num == 1 and hi_den == 1
            active = pats[iv]
            crossings = []
            zmask_lo = zmask_hi = 0
            sign_hi = []
            # post-activation on the first sub-interval, filled in as signs are decided
            if plain_relu:
                A = [0] * width
                B = [0] * width
                for j in linear_units:
                    A[j] = Z[j]
                    B[j] = DZ[j]
            else:
                A = [z * sden for z in Z]
                B = [z * sden for z in DZ]
            for j, a in zip(units, sign_lo):
                z = Z[j]
                dz = DZ[j]
                # cheap exact test first: z + dz t keeps the sign of z on [0, 1] when dz
                # does not oppose z or |dz| < |z|; otherwise evaluate at the right end
                if z > 0 and (dz >= 0 or z > -dz):
                    b = 1
                elif z < 0 and (dz <= 0 or -z > dz):
                    b = -1
                elif not z and not dz:
                    b = 0
                else:
                    v = z + dz if at_one else z * hi_den + dz * hi_num
                    b = (v > 0) - (v < 0)
                sign_hi.append(b)
                if a > 0 or (not a and b > 0):
                    active |= ubit[j]
                    if plain_relu:
                        A[j] = z
                        B[j] = dz
                    if b < 0:
                        crossings.append((-z, dz, j) if dz > 0 else (z, -dz, j))
                else:
                    if a < 0 and b > 0:
                        crossings.append((-z, dz, j) if dz > 0 else (z, -dz, j))
                    if not plain_relu:
                        A[j] = z * snum[j]
                        B[j] = dz * snum[j]
                if not a:
                    zmask_lo |= ubit[j]
                if not b:
                    zmask_hi |= ubit[j]
            sign_lo = sign_hi
            new_zero[-1] |= zmask_lo
            new_A.append(A)
            new_B.append(B)
            new_flips.append(None)
            new_pats.append(active)
            if crossings:
                for group in _sorted_root_groups(crossings):
                    flipped = []
                    A = list(A)
                    B = list(B)
                    flipbits = 0
                    for _, _, j in group:
                        flipbits |= ubit[j]
                        f = snum[j] if active & ubit[j] else sden
                        A[j] = Z[j] * f
                        B[j] = DZ[j] * f
                        flipped.append(j)
                    active ^= flipbits
                    new_points.append(group[0][:2])
                    new_zero.append(flipbits)
                    new_A.append(A)
                    new_B.append(B)
                    new_flips.append(flipped)
                    new_pats.append(active)
            new_points.append(points[iv + 1])
            new_zero.append(zero_masks[iv + 1] | zmask_hi)
        points, zero_masks = new_points, new_zero
        A_list, B_list, flips, pats = new_A, new_B, new_flips, new_pats
        scale *= sden
        if max_regions is not None and len(points) - 1 > max_regions:
            raise RegionLimitError(len(points) - 1, max_regions)

    return ExactLine(points, pats, A_list, B_list, scale, zero_masks)


def _sorted_root_groups(crossings):
    """Sort roots (num, den, unit), den > 0, exactly and group equal ones.

    Sorting uses the correctly rounded float num/den as key (Python's int true division
    rounds correctly, and correct rounding is monotone), then resolves runs of equal keys
    by exact cross-multiplication: no tolerance is involved.
    """
    if len(crossings) == 1:
        return [crossings]
    keyed = sorted(crossings, key=lambda c: c[0] / c[1])
    # exact order inside runs of equal float keys
    out = []
    i = 0
    n = len(keyed)
    while i < n:
        k = i + 1
        fi = keyed[i][0] / keyed[i][1]
        while k < n and keyed[k][0] / keyed[k][1] == fi:
            k += 1
        run = keyed[i:k]
        if len(run) > 1:
            run.sort(key=lambda c: Fraction(c[0], c[1]))
        out.extend(run)
        i = k
    groups = [[out[0]]]
    for c in out[1:]:
        g = groups[-1][0]
        if c[0] * g[1] == g[0] * c[1]:
            groups[-1].append(c)
        else:
            groups.append([c])
    return groups
