"""Computing the regions of segments: one (:func:`segment_regions`) or many at once
(:func:`segment_regions_batch`), by the certified float kernel with the exact engines for
what it cannot certify, or exactly (Python integers, or the compiled big-integer kernel
for batches).
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

import numpy as np

from ...net.network import Network
from ...net.rational import float_or_inf, real_tensor_to_numpy, to_fraction
from .._common import RegionLimitError, check_max_regions, warn_beyond_float64
from .._flat import FlatNetwork, engine_data
from .._patterns import int_to_words
from ._exact import _segment_integers, exact_line
from ._exact_kernel import ExactNetData
from ._exact_pooled import run_exact
from ._float_kernel import OK, run_kernel
from .results import ExactSegmentBatch, SegmentBatch, SegmentRegions, _ExactSource

if TYPE_CHECKING:
    from .._common import PointLike, PointsLike


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


def _one_point(x, name: str, dim: int):
    """One point of input space: ``x`` as given when it is a flat vector of ``dim``
    numbers; an input in the model's own shape (an image (1, 8, 8) for 64 inputs)
    flattened; anything else refused naming ``name``."""
    x = real_tensor_to_numpy(x, name)
    arr = x if isinstance(x, np.ndarray) else np.asarray(x, dtype=object)
    if arr.ndim == 1 and arr.shape[0] == dim:
        return x
    if arr.ndim > 1 and arr.size == dim:
        return arr.reshape(-1)
    raise ValueError(
        f"{name} has shape {arr.shape} ({arr.size} numbers) but the network's input dimension is {dim}; pass one "
        f"point: {dim} numbers, or one input in the model's shape (it is flattened)"
    )


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


def _float_data(net: Network) -> FlatNetwork:
    return engine_data(net, "float")


def _exact_data(net: Network) -> ExactNetData:
    return engine_data(net, "exact")


#: below this many segments the Python engine answers (no kernel compilation needed)
KERNEL_MIN_SEGMENTS = 32


_CHUNK = 512


def _exact_lines(net: Network, starts, ends, progress: bool = False, max_regions: int | None = None) -> list:
    """Exact results (ExactLine or PooledLine) of many segments, in order.

    Uses the compiled big-integer kernel for batches of at least KERNEL_MIN_SEGMENTS
    segments, in chunks (a tqdm bar with ``progress``); segments whose integers outgrow
    the kernel's capacity, and small batches, go to the Python engine (which stops at
    ``max_regions``; the caller checks every count)."""
    n = len(starts)
    if n < KERNEL_MIN_SEGMENTS:
        return [exact_line(net, s, e, max_regions) for s, e in zip(starts, ends)]
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
            chunk[k] = exact_line(net, starts[c0 + k], ends[c0 + k], max_regions)
        lines.extend(chunk)
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return lines


def segment_regions(
    net: Network, start: PointLike, end: PointLike, *, exact: bool = False, max_regions: int | None = None
) -> SegmentRegions:
    """The regions of ``net`` along the segment from ``start`` to ``end`` as a
    :class:`SegmentRegions` (the 1-D engine's own result: breakpoints, kinks, SMP), a
    front-end of :func:`exactnet.regions`: ``regions(net, Segment(start, end),
    exact=exact, max_regions=max_regions).engine_result``, with the same checks and cap
    (see :func:`compute_segment_regions` for the arguments)."""
    from ..api import Segment, regions

    res: SegmentRegions = regions(net, Segment(start, end), exact=exact, max_regions=max_regions).engine_result
    return res


def compute_segment_regions(
    net: Network, start: PointLike, end: PointLike, *, exact: bool = False, max_regions: int | None = None
) -> SegmentRegions:
    """The 1-D engine: the regions of ``net`` along the segment from ``start`` to ``end``.

    ``exact=True``: integer arithmetic, values are ``fractions.Fraction`` (``start`` and
    ``end`` may be rationals). Default: the certified float64 engine (same regions, values
    rounded; output maps and SMP beyond float64's range are +-inf, with a
    ``RuntimeWarning``); see the module docstring for the definitions. ``max_regions``:
    more regions raise :class:`~exactnet.regions.RegionLimitError` with the count reached
    (the engines stop as soon as a layer passes it).
    """
    max_regions = check_max_regions(max_regions)
    if not isinstance(net, Network):
        raise TypeError(
            f"net must be an exactnet.Network, got {type(net).__name__}; lower torch models with exactnet.from_torch"
        )
    start, end = _one_point(start, "start", net.input_dim), _one_point(end, "end", net.input_dim)
    if exact:
        # (start and end may be arrays, which exact_line and enumerate take like sequences)
        raw = exact_line(net, start, end, max_regions)  # type: ignore[arg-type]
        s = tuple(to_fraction(v, f"start[{i}]") for i, v in enumerate(start))  # type: ignore[arg-type]
        e = tuple(to_fraction(v, f"end[{i}]") for i, v in enumerate(end))  # type: ignore[arg-type]
        return SegmentRegions(net, s, e, exact=True, source=_ExactSource(raw, net.num_neurons), decided_exactly=True)
    return segment_regions_batch(net, [start], [end], max_regions=max_regions)[0]


def segment_regions_batch(
    net: Network,
    starts: PointsLike,
    ends: PointsLike,
    *,
    exact: bool = False,
    threads: int | None = None,
    progress: bool = False,
    max_regions: int | None = None,
) -> SegmentBatch | ExactSegmentBatch:
    """Regions of many segments ``starts[i] -> ends[i]`` at once.

    Float mode (default): the certified numba kernel handles every segment whose
    decisions it can certify; the others (degenerate arrangements) are decided by the
    exact engine, and ``decided_exactly`` marks them. ``threads`` defaults to the number
    of CPU cores. ``exact=True``: every segment in exact integer arithmetic (rational
    ``starts``/``ends`` allowed), returning an :class:`ExactSegmentBatch`; ``progress``
    shows a tqdm bar. ``max_regions``: a segment with more regions raises
    :class:`~exactnet.regions.RegionLimitError` with the count reached.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be an exactnet.Network, got {type(net).__name__}")
    max_regions = check_max_regions(max_regions)
    if exact:
        given_s = [list(s) for s in real_tensor_to_numpy(starts, "starts")]
        given_e = [list(e) for e in real_tensor_to_numpy(ends, "ends")]
        if len(given_s) != len(given_e):
            raise ValueError(f"starts has {len(given_s)} points but ends has {len(given_e)}; pass one end per start")
        S = [tuple(to_fraction(v, f"starts[{i}][{k}]") for k, v in enumerate(s)) for i, s in enumerate(given_s)]
        E = [tuple(to_fraction(v, f"ends[{i}][{k}]") for k, v in enumerate(e)) for i, e in enumerate(given_e)]
        lines = _exact_lines(net, S, E, progress, max_regions)
        _check_counts([line.num_regions for line in lines], max_regions)
        return ExactSegmentBatch(net, S, E, lines)
    P, Q = _check_segments(net, starts, ends)
    data = _float_data(net)
    threads = threads or os.cpu_count() or 1
    status, count, t_hi, t_err, packed, out_a, out_b = run_kernel(data, P, Q, threads=threads, max_regions=max_regions)
    _check_counts(count, max_regions)
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
        raws = _exact_lines(net, P[uncertain].tolist(), Q[uncertain].tolist(), progress, max_regions)
        _check_counts([raw.num_regions for raw in raws], max_regions)
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


def _check_counts(counts, max_regions: int | None) -> None:
    """RegionLimitError for the first segment with more than ``max_regions`` regions."""
    if max_regions is None:
        return
    for c in counts:
        if int(c) > max_regions:
            raise RegionLimitError(int(c), max_regions)


def _float_rows(raw, nwords: int) -> dict:
    """An exact segment result as the float rows of a SegmentBatch."""
    S = raw.out_scale
    n = raw.num_regions
    pts = raw.points
    words = np.zeros((n, nwords), np.uint64)
    for r, bits in enumerate(raw.patterns):
        words[r] = int_to_words(bits, nwords)
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
