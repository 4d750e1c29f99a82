"""Linear regions of a network along a segment (the 1-D engine).

The segment from ``start`` to ``end`` in input space is parametrised by
x(t) = start + t (end - start), t in [0, 1]. Along it the network is a continuous
piecewise-linear function of t. Definitions (Serra, Tjandraatmadja, Ramalingam, ICML 2018;
spec regions.md):

* **region**: a maximal open interval of t on which the full activation pattern (``z > 0``
  of every neuron) is constant; a neuron identically zero on an interval does not split it;
* **breakpoint**: a point of (0, 1) where the pattern changes (several neurons switching
  at the same t make one breakpoint);
* **linear piece**: a maximal run of adjacent regions on which every output has one
  affine map (pieces <= regions);
* **non-empty patterns**: the patterns realised by at least one point of the closed
  segment, including those realised only at a breakpoint or an end;
* **kink** of output k: a breakpoint where the slope of output k changes;
* **exact SMP** of output k (smp.md, our formulation): the sum over its kinks of
  |slope jump|, with slopes taken per unit of t (multiply by 1 / ``length`` for slopes
  per unit of Euclidean path length).

Two modes give the same answer: ``exact=True`` computes in integers and returns
``fractions.Fraction`` values; the default float mode runs a certified float64 kernel on a
batch of segments and decides exactly (with the exact engine) every segment where a float
decision could not be certified, so its counts and patterns are the exact ones and its
numbers are the exact ones rounded (breakpoints within ``breakpoint_errors``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from ..net.network import Network
from ..net.rational import float_or_inf, format_fraction, real_tensor_to_numpy, to_fraction
from ._common import warn_beyond_float64
from ._line_exact import ExactLine, _segment_integers, exact_line
from ._line_exact_kernel import ExactNetData, PooledLine, run_exact
from ._line_float import OK, FloatNetData, run_kernel

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    #: a point of input space: an array (numpy, torch) or a sequence of numbers, which
    #: may be Fractions (sympy Rationals and strings like "3/4" are accepted too)
    PointLike: TypeAlias = ArrayLike | Sequence[Fraction | float]
    #: several points, one a row
    PointsLike: TypeAlias = ArrayLike | Sequence[PointLike]

__all__ = [
    "Region1D",
    "Piece1D",
    "SegmentRegions",
    "SegmentBatch",
    "ExactSegmentBatch",
    "segment_regions",
    "segment_regions_batch",
]


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


# --------------------------------------------------------------------------- sources
def _unpack_pattern(bits: int, n: int) -> np.ndarray:
    return np.array([(bits >> k) & 1 for k in range(n)], dtype=bool)


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
                _unpack_pattern(p, self.n),
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


# --------------------------------------------------------------------------- batch
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
        return _unpack_rows(rows, self.network.num_neurons)

    @property
    def patterns(self) -> np.ndarray:
        """Boolean patterns of all regions (total_regions, num_neurons)."""
        return _unpack_rows(self._packed, self.network.num_neurons)

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


def _unpack_rows(rows: np.ndarray, n: int) -> np.ndarray:
    as_bytes = rows.astype("<u8").view(np.uint8).reshape(rows.shape[0], -1)
    return np.unpackbits(as_bytes, axis=1, bitorder="little")[:, :n].astype(bool)


# --------------------------------------------------------------------------- API
def _check_segments(net: Network, starts, ends) -> tuple[np.ndarray, np.ndarray]:
    P = _as_float_points(starts, "starts", net.input_dim)
    Q = _as_float_points(ends, "ends", net.input_dim)
    if P.shape != Q.shape:
        raise ValueError(f"starts has shape {P.shape} but ends has {Q.shape}; pass one end per start")
    zero = ~(P != Q).any(axis=1)
    if zero.any():
        i = int(np.flatnonzero(zero)[0])
        raise ValueError(f"segment {i} has zero length (starts[{i}] == ends[{i}]); pass two distinct points")
    return P, Q


def _as_float_points(x, name: str, dim: int) -> np.ndarray:
    x = real_tensor_to_numpy(x, name)
    if np.iscomplexobj(x):
        raise TypeError(f"{name} holds complex numbers; segment ends are real points")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of numbers of shape (n_segments, {dim})") from err
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(
            f"{name} must have shape (n_segments, {dim}) (the network's input dimension is {dim}); got {np.shape(x)}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite coordinates")
    return np.ascontiguousarray(arr)


def _cached(net: Network, key: str, build):
    """Per-network data for the kernels, built once (the network is immutable)."""
    data = net.__dict__.get(key)
    if data is None:
        data = build(net)
        net.__dict__[key] = data
    return data


def _float_data(net: Network) -> FloatNetData:
    return _cached(net, "_exactnet_float_data", FloatNetData)


def _exact_data(net: Network) -> ExactNetData:
    return _cached(net, "_exactnet_exact_data", ExactNetData)


#: below this many segments the Python engine answers (no kernel compilation needed)
KERNEL_MIN_SEGMENTS = 32
_CHUNK = 512


def _exact_lines(net: Network, starts, ends, progress: bool = False) -> list:
    """Exact results (ExactLine or PooledLine) of many segments, in order.

    Uses the compiled big-integer kernel for batches of at least KERNEL_MIN_SEGMENTS
    segments, in chunks (a tqdm bar with ``progress``); segments whose integers outgrow
    the kernel's capacity, and small batches, go to the Python engine."""
    n = len(starts)
    if n < KERNEL_MIN_SEGMENTS:
        return [exact_line(net, s, e) for s, e in zip(starts, ends)]
    segs = [_segment_integers(s, e, net.input_dim) for s, e in zip(starts, ends)]
    data = _exact_data(net)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc="exact segments", unit="seg")
    lines: list = []
    for c0 in range(0, n, _CHUNK):
        chunk, overflowed = run_exact(net, segs[c0 : c0 + _CHUNK], data)
        for k in overflowed:
            chunk[k] = exact_line(net, starts[c0 + k], ends[c0 + k])
        lines.extend(chunk)
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return lines


def segment_regions(net: Network, start: PointLike, end: PointLike, *, exact: bool = False) -> SegmentRegions:
    """The regions of ``net`` along the segment from ``start`` to ``end``.

    ``exact=True``: integer arithmetic, values are ``fractions.Fraction`` (``start`` and
    ``end`` may be rationals). Default: the certified float64 engine (same regions, values
    rounded; output maps and SMP beyond float64's range are +-inf, with a
    ``RuntimeWarning``); see the module docstring for the definitions.
    """
    if not isinstance(net, Network):
        raise TypeError(
            f"net must be an exactnet.Network, got {type(net).__name__}; lower torch models with exactnet.from_torch"
        )
    if exact:
        start, end = real_tensor_to_numpy(start, "start"), real_tensor_to_numpy(end, "end")
        # (start and end may be arrays, which exact_line and enumerate take like sequences)
        raw = exact_line(net, start, end)  # type: ignore[arg-type]
        s = tuple(to_fraction(v, f"start[{i}]") for i, v in enumerate(start))  # type: ignore[arg-type]
        e = tuple(to_fraction(v, f"end[{i}]") for i, v in enumerate(end))  # type: ignore[arg-type]
        return SegmentRegions(net, s, e, exact=True, source=_ExactSource(raw, net.num_neurons), decided_exactly=True)
    return segment_regions_batch(net, [start], [end])[0]


def segment_regions_batch(
    net: Network,
    starts: PointsLike,
    ends: PointsLike,
    *,
    exact: bool = False,
    threads: int | None = None,
    progress: bool = False,
) -> SegmentBatch | ExactSegmentBatch:
    """Regions of many segments ``starts[i] -> ends[i]`` at once.

    Float mode (default): the certified numba kernel handles every segment whose
    decisions it can certify; the others (degenerate arrangements) are decided by the
    exact engine, and ``decided_exactly`` marks them. ``threads`` defaults to the number
    of CPU cores. ``exact=True``: every segment in exact integer arithmetic (rational
    ``starts``/``ends`` allowed), returning an :class:`ExactSegmentBatch`; ``progress``
    shows a tqdm bar.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be an exactnet.Network, got {type(net).__name__}")
    if exact:
        given_s = [list(s) for s in real_tensor_to_numpy(starts, "starts")]
        given_e = [list(e) for e in real_tensor_to_numpy(ends, "ends")]
        if len(given_s) != len(given_e):
            raise ValueError(f"starts has {len(given_s)} points but ends has {len(given_e)}; pass one end per start")
        S = [tuple(to_fraction(v, f"starts[{i}][{k}]") for k, v in enumerate(s)) for i, s in enumerate(given_s)]
        E = [tuple(to_fraction(v, f"ends[{i}][{k}]") for k, v in enumerate(e)) for i, e in enumerate(given_e)]
        return ExactSegmentBatch(net, S, E, _exact_lines(net, S, E, progress))
    P, Q = _check_segments(net, starts, ends)
    data = _float_data(net)
    threads = threads or os.cpu_count() or 1
    status, count, t_hi, t_err, packed, out_a, out_b = run_kernel(data, P, Q, threads=threads)
    n_seg = len(P)
    n_out = net.output_dim
    certified = status == OK
    # certified segments: every breakpoint is a kink of every output, regions = pieces = patterns
    num_pieces = count.copy()
    num_patterns = count.copy()
    smp = np.zeros((n_seg, n_out))
    kink = np.ones((len(t_hi), n_out), dtype=bool)
    piece_start = np.ones(len(t_hi), dtype=bool)
    offs = np.concatenate([[0], np.cumsum(count)])
    first_rows = offs[:-1][certified & (count > 0)]
    kink[first_rows] = False
    if len(t_hi):
        jumps = np.abs(np.diff(out_b, axis=0))
        jumps = np.concatenate([np.zeros((1, n_out)), jumps])
        jumps[first_rows] = 0.0
        seg_of_row = np.repeat(np.arange(n_seg), count)
        np.add.at(smp, seg_of_row, jumps)
    uncertain = np.flatnonzero(~certified)
    if len(uncertain):
        raws = _exact_lines(net, P[uncertain].tolist(), Q[uncertain].tolist(), progress)
        parts = [_float_rows(raw, data.nwords) for raw in raws]
        (t_hi, t_err, packed, out_a, out_b, kink, piece_start, count) = _splice(
            count, uncertain, parts, (t_hi, t_err, packed, out_a, out_b, kink, piece_start)
        )
        for s, part in zip(uncertain, parts):
            num_pieces[s] = part["pieces"]
            num_patterns[s] = part["patterns"]
            smp[s] = part["smp"]
        offs = np.concatenate([[0], np.cumsum(count)])
        if not (np.isfinite(out_a).all() and np.isfinite(out_b).all() and np.isfinite(smp).all()):
            warn_beyond_float64("output maps or SMP values")
    return SegmentBatch(
        net, P, Q, offs, t_hi, t_err, packed, out_a, out_b, kink, piece_start, num_pieces, num_patterns, smp, ~certified
    )


def _float_rows(raw, nwords: int) -> dict:
    """An exact segment result as the float rows of a SegmentBatch."""
    S = raw.out_scale
    n = raw.num_regions
    pts = raw.points
    words = np.zeros((n, nwords), np.uint64)
    for r, bits in enumerate(raw.patterns):
        for w in range(nwords):
            words[r, w] = (bits >> (64 * w)) & 0xFFFFFFFFFFFFFFFF
    beta = raw.out_beta
    n_out = len(beta[0])
    kink = np.zeros((n, n_out), dtype=bool)
    for k in range(n_out):
        kink[1:, k] = [j != 0 for j in raw.slope_jumps(k)]
    return {
        "t_hi": np.array([num / den for num, den in pts[1:]]),
        # int true division rounds correctly: within an ulp
        "t_err": np.array([math.ulp(num / den) for num, den in pts[1:]]),
        "packed": words,
        # output maps beyond float64's range are +-inf (their IEEE rounding)
        "a": np.array([[float_or_inf(v, S) for v in row] for row in raw.out_alpha]),
        "b": np.array([[float_or_inf(v, S) for v in row] for row in beta]),
        "kink": kink,
        "piece_start": np.array(raw.piece_starts(), dtype=bool),
        "pieces": raw.num_pieces,
        "patterns": raw.num_patterns,
        "smp": np.array([float_or_inf(sum(abs(j) for j in raw.slope_jumps(k)), S) for k in range(n_out)]),
    }


def _splice(count, segs, parts, arrays):
    """Insert the exact segments' rows into the certified rows, in segment order."""
    keys = ("t_hi", "t_err", "packed", "a", "b", "kink", "piece_start")
    count = count.copy()
    for s, part in zip(segs, parts):
        count[s] = len(part["t_hi"])
    offs = np.concatenate([[0], np.cumsum(count)])
    total = int(offs[-1])
    is_exact = np.zeros(len(count), dtype=bool)
    is_exact[segs] = True
    # destination rows of the certified segments, in order
    cert_rows = _rows_of(offs, count, ~is_exact)
    out = []
    for key, arr in zip(keys, arrays):
        new = np.empty((total,) + arr.shape[1:], arr.dtype)
        new[cert_rows] = arr
        for s, part in zip(segs, parts):
            new[offs[s] : offs[s + 1]] = part[key]
        out.append(new)
    return tuple(out) + (count,)


def _rows_of(offs: np.ndarray, count: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Concatenation of range(offs[s], offs[s] + count[s]) over the segments s in mask."""
    starts, lens = offs[:-1][mask], count[mask]
    if not len(lens):
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    return shift + np.arange(int(lens.sum()))
