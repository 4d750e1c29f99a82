"""The results of the 1-D engines: regions and pieces along a segment (:class:`SegmentRegions`)
and batches of segments (:class:`SegmentBatch` in float mode, :class:`ExactSegmentBatch`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from ...net.network import Network
from ...net.rational import float_or_inf, format_fraction
from .._patterns import unpack_int, unpack_words
from ._exact import ExactLine
from ._exact_pooled import PooledLine

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Region1D:
    """One region: the open interval (t_lo, t_hi), its activation pattern, and the affine
    map of every output, output_k(t) = intercept[k] + slope[k] * t on [t_lo, t_hi]."""

    t_lo: Fraction | float
    t_hi: Fraction | float
    pattern: np.ndarray
    intercept: tuple
    slope: tuple

    def output(self, t: Fraction | float) -> tuple[Fraction | float, ...]:
        """The outputs at parameter t (exact if t and the region are exact)."""
        return tuple(a + b * t for a, b in zip(self.intercept, self.slope))


@dataclass(frozen=True)
class Piece1D:
    """A linear piece: regions ``first..last`` (indices) sharing one affine map."""

    t_lo: Fraction | float
    t_hi: Fraction | float
    intercept: tuple
    slope: tuple
    first: int
    last: int


class SegmentRegions:
    """The regions of a network along one segment (see the module docstring).

    Attributes: ``start``, ``end``, ``exact`` (values are Fractions), ``breakpoints``,
    ``breakpoint_errors`` (certified bound on |float - exact| per breakpoint; zeros in
    exact mode), ``regions``, ``pieces``, ``num_regions``, ``num_pieces``,
    ``num_patterns``, ``kinks`` (per output), ``smp`` (per output, per unit of t),
    ``length`` (Euclidean length of the segment), ``decided_exactly`` (float mode: the
    kernel could not certify a decision and the exact engine answered).
    """

    def __init__(
        self,
        net: Network,
        start: Sequence[Fraction | float],
        end: Sequence[Fraction | float],
        *,
        exact: bool,
        source: _ExactSource | _BatchSource,
        decided_exactly: bool,
    ):
        self.network = net
        self.start = start
        self.end = end
        self.exact = exact
        self.decided_exactly = decided_exactly
        self._src = source

    # ---- counts and numbers, from the source
    @property
    def num_regions(self) -> int:
        return self._src.num_regions

    @property
    def num_pieces(self) -> int:
        return self._src.num_pieces

    @property
    def num_patterns(self) -> int:
        return self._src.num_patterns

    @cached_property
    def breakpoints(self) -> tuple:
        return self._src.breakpoints(self.exact)

    @cached_property
    def breakpoint_errors(self) -> tuple[float, ...]:
        return self._src.breakpoint_errors()

    @cached_property
    def regions(self) -> tuple[Region1D, ...]:
        return self._src.regions(self.exact)

    @cached_property
    def kinks(self) -> tuple[tuple, ...]:
        """Per output, the breakpoints where its slope changes."""
        bps = self.breakpoints
        return tuple(tuple(t for t, is_kink in zip(bps, mask) if is_kink) for mask in self._src.kink_masks())

    @cached_property
    def smp(self) -> tuple:
        """Per output, the exact SMP: the sum of |slope jump| over its kinks (per unit t)."""
        return self._src.smp(self.exact)

    @cached_property
    def length(self) -> float:
        return float(math.sqrt(sum((float(b) - float(a)) ** 2 for a, b in zip(self.start, self.end))))

    @cached_property
    def pieces(self) -> tuple[Piece1D, ...]:
        regs = self.regions
        starts = self._src.piece_starts()
        out = []
        first = 0
        for i in range(1, len(regs) + 1):
            if i == len(regs) or starts[i]:
                r0, r1 = regs[first], regs[i - 1]
                out.append(Piece1D(r0.t_lo, r1.t_hi, r0.intercept, r0.slope, first, i - 1))
                first = i
        return tuple(out)

    def point(self, t: Fraction | float) -> tuple[Fraction | float, ...]:
        """x(t) = start + t (end - start)."""
        return tuple(a + t * (b - a) for a, b in zip(self.start, self.end))

    def __repr__(self) -> str:
        mode = "exact" if self.exact else "float"
        return (
            f"SegmentRegions({mode}, regions={self.num_regions}, pieces={self.num_pieces}, "
            f"patterns={self.num_patterns})"
        )

    def to_dict(self) -> dict:
        """A JSON-ready dict; exact values are strings ``"p/q"``."""
        fmt: Callable[[Any], Any] = format_fraction if self.exact else float
        return {
            "mode": "exact" if self.exact else "float",
            "regions": self.num_regions,
            "pieces": self.num_pieces,
            "patterns": self.num_patterns,
            "breakpoints": [fmt(t) for t in self.breakpoints],
            "smp": [fmt(v) for v in self.smp],
            "kinks": [[fmt(t) for t in ks] for ks in self.kinks],
            "length": self.length,
            "start": [fmt(v) for v in self.start],
            "end": [fmt(v) for v in self.end],
        }

    def table(self, max_rows: int = 40) -> str:
        """A plain-text table of the regions: t interval, active neurons, slopes.

        Values are shown to 8 significant digits (exact ones too: ``to_dict`` has them
        exactly); long tables show the first and last ``max_rows // 2`` regions.
        """
        regs = self.regions
        n_out = len(self.smp)
        head = f"{'region':>6}  {'t_lo':>12}  {'t_hi':>12}  {'active':>6}  " + "  ".join(
            f"{'slope ' + str(k):>13}" for k in range(n_out)
        )
        lines = [head]
        keep = (
            range(len(regs))
            if len(regs) <= max_rows
            else [*range(max_rows // 2), *range(len(regs) - max_rows // 2, len(regs))]
        )
        prev = -1
        for i in keep:
            if i != prev + 1:
                lines.append(f"{'...':>6}  ({i - prev - 1} regions not shown)")
            r = regs[i]
            slopes = "  ".join(f"{float_or_inf(b):>13.8g}" for b in r.slope)
            lines.append(f"{i:>6}  {float(r.t_lo):>12.8g}  {float(r.t_hi):>12.8g}  {int(r.pattern.sum()):>6}  {slopes}")
            prev = i
        return "\n".join(lines)


class _ExactSource:
    """Fields of one segment from the exact engine's integers."""

    def __init__(self, raw: ExactLine | PooledLine, num_neurons: int):
        self.raw = raw
        self.n = num_neurons
        self.num_regions = raw.num_regions
        self.num_pieces = raw.num_pieces
        self.num_patterns = raw.num_patterns

    def _t(self, exact):
        pts = self.raw.points
        return [Fraction(n, d) if exact else n / d for n, d in pts]

    def breakpoints(self, exact):
        return tuple(self._t(exact)[1:-1])

    def breakpoint_errors(self):
        # num / den (int true division) is correctly rounded: |error| <= half an ulp;
        # a whole ulp keeps the bound nonzero for subnormal results
        return tuple(math.ulp(n / d) for n, d in self.raw.points[1:-1])

    def regions(self, exact):
        ts = self._t(exact)
        S = self.raw.out_scale
        conv = (lambda v: Fraction(v, S)) if exact else (lambda v: float_or_inf(v, S))
        return tuple(
            Region1D(
                ts[i],
                ts[i + 1],
                unpack_int(p, self.n),
                tuple(conv(a) for a in self.raw.out_alpha[i]),
                tuple(conv(b) for b in self.raw.out_beta[i]),
            )
            for i, p in enumerate(self.raw.patterns)
        )

    def kink_masks(self):
        n_out = len(self.raw.out_beta[0])
        return [[j != 0 for j in self.raw.slope_jumps(k)] for k in range(n_out)]

    def smp(self, exact):
        S = self.raw.out_scale
        n_out = len(self.raw.out_beta[0])
        sums = [sum(abs(j) for j in self.raw.slope_jumps(k)) for k in range(n_out)]
        return tuple(Fraction(v, S) if exact else float_or_inf(v, S) for v in sums)

    def piece_starts(self):
        return self.raw.piece_starts()


class _BatchSource:
    """Fields of segment i of a float SegmentBatch."""

    def __init__(self, batch: SegmentBatch, i: int):
        self.b = batch
        self.i = i
        self.lo, self.hi = int(batch.offsets[i]), int(batch.offsets[i + 1])
        self.num_regions = int(batch.num_regions[i])
        self.num_pieces = int(batch.num_pieces[i])
        self.num_patterns = int(batch.num_patterns[i])

    def breakpoints(self, exact):
        return tuple(float(t) for t in self.b.t_hi[self.lo : self.hi - 1])

    def breakpoint_errors(self):
        return tuple(float(e) for e in self.b.t_err[self.lo : self.hi - 1])

    def regions(self, exact):
        b, lo, hi = self.b, self.lo, self.hi
        pats = b.patterns_of(self.i)
        out = []
        for r in range(lo, hi):
            t0 = 0.0 if r == lo else float(b.t_hi[r - 1])
            out.append(
                Region1D(
                    t0, float(b.t_hi[r]), pats[r - lo], tuple(b.intercepts[r].tolist()), tuple(b.slopes[r].tolist())
                )
            )
        return tuple(out)

    def kink_masks(self):
        km = self.b.kink_mask[self.lo + 1 : self.hi]
        return [km[:, k].tolist() for k in range(km.shape[1])]

    def smp(self, exact):
        return tuple(float(v) for v in self.b.smp[self.i])

    def piece_starts(self):
        return self.b.piece_start[self.lo : self.hi].tolist()


class SegmentBatch:
    """Float-mode regions of many segments, stored as flat arrays.

    Regions of segment i are rows ``offsets[i]:offsets[i+1]`` of: ``t_hi`` (right end;
    the left end is the previous row's, or 0), ``t_err`` (certified bound on |t_hi - exact|),
    ``intercepts``/``slopes`` (n_regions, n_outputs), ``kink_mask`` (whether each output's
    slope changes at the region's left end), ``piece_start``. Per segment:
    ``num_regions``, ``num_pieces``, ``num_patterns``, ``smp`` (n_segments, n_outputs),
    ``decided_exactly``. ``batch[i]`` is a :class:`SegmentRegions`.
    """

    def __init__(
        self,
        net: Network,
        starts: np.ndarray,
        ends: np.ndarray,
        offsets: np.ndarray,
        t_hi: np.ndarray,
        t_err: np.ndarray,
        packed: np.ndarray,
        intercepts: np.ndarray,
        slopes: np.ndarray,
        kink_mask: np.ndarray,
        piece_start: np.ndarray,
        num_pieces: np.ndarray,
        num_patterns: np.ndarray,
        smp: np.ndarray,
        decided_exactly: np.ndarray,
    ):
        self.network = net
        self.starts = starts
        self.ends = ends
        self.offsets = offsets
        self.t_hi = t_hi
        self.t_err = t_err
        self._packed = packed
        self.intercepts = intercepts
        self.slopes = slopes
        self.kink_mask = kink_mask
        self.piece_start = piece_start
        self.num_regions = np.diff(offsets)
        self.num_pieces = num_pieces
        self.num_patterns = num_patterns
        self.smp = smp
        self.decided_exactly = decided_exactly

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def breakpoints(self, i: int) -> np.ndarray:
        return self.t_hi[self.offsets[i] : self.offsets[i + 1] - 1]

    def patterns_of(self, i: int) -> np.ndarray:
        """Boolean patterns (n_regions_i, num_neurons) of segment i."""
        rows = self._packed[self.offsets[i] : self.offsets[i + 1]]
        return unpack_words(rows, self.network.num_neurons)

    @property
    def patterns(self) -> np.ndarray:
        """Boolean patterns of all regions (total_regions, num_neurons)."""
        return unpack_words(self._packed, self.network.num_neurons)

    def __getitem__(self, i: int) -> SegmentRegions:
        if not -len(self) <= i < len(self):
            raise IndexError(f"segment index {i} out of range for {len(self)} segments")
        i %= len(self)
        return SegmentRegions(
            self.network,
            tuple(self.starts[i].tolist()),
            tuple(self.ends[i].tolist()),
            exact=False,
            source=_BatchSource(self, i),
            decided_exactly=bool(self.decided_exactly[i]),
        )

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"SegmentBatch({len(self)} segments, {int(self.num_regions.sum())} regions)"


class ExactSegmentBatch:
    """Exact-mode regions of many segments: ``batch[i]`` is an exact :class:`SegmentRegions`.

    ``num_regions``, ``num_pieces``, ``num_patterns`` are integer arrays; ``smp`` and
    ``breakpoints(i)`` give Fractions (built on first use)."""

    def __init__(
        self,
        net: Network,
        starts: Sequence[tuple[Fraction, ...]],
        ends: Sequence[tuple[Fraction, ...]],
        lines: Sequence[ExactLine | PooledLine],
    ):
        self.network = net
        self.starts = starts
        self.ends = ends
        self._lines = lines
        self.num_regions = np.array([ln.num_regions for ln in lines], dtype=np.int64)
        self.num_pieces = np.array([ln.num_pieces for ln in lines], dtype=np.int64)
        self.num_patterns = np.array([ln.num_patterns for ln in lines], dtype=np.int64)
        self.decided_exactly = np.ones(len(lines), dtype=bool)

    def __len__(self) -> int:
        return len(self._lines)

    def __getitem__(self, i: int) -> SegmentRegions:
        if not -len(self) <= i < len(self):
            raise IndexError(f"segment index {i} out of range for {len(self)} segments")
        i %= len(self)
        return SegmentRegions(
            self.network,
            self.starts[i],
            self.ends[i],
            exact=True,
            source=_ExactSource(self._lines[i], self.network.num_neurons),
            decided_exactly=True,
        )

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def breakpoints(self, i: int) -> tuple:
        return self[i].breakpoints

    @property
    def smp(self) -> list[tuple]:
        return [self[i].smp for i in range(len(self))]

    def __repr__(self) -> str:
        return f"ExactSegmentBatch({len(self)} segments, {int(self.num_regions.sum())} regions)"
