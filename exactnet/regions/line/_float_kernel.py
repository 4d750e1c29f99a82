"""Certified float64 regions along many segments (numba kernel).

The same layer-by-layer interval refinement as :mod:`._exact`, in float64, with a
rigorous forward error bound carried for every quantity (a *filter*, as robust geometry
kernels do). Every decision the algorithm makes (the sign of a neuron at an interval end,
whether a root lies inside an interval, the order of two roots, whether an output's slope
changes at a breakpoint) is taken only when the computed value is farther from zero than
its error bound. When a segment needs any decision the bound cannot certify (two neurons
switching at the same t, a neuron vanishing at an interval end or identically on an
interval, a breakpoint where an output keeps its slope), the kernel marks the segment and
the caller decides it with the exact engine. The float result of a certified segment is
therefore the exact result rounded: same regions, same patterns, same counts, and
breakpoints within their stated error bounds.

Error bounds (u = 2^-53, gamma_k = k u / (1 - k u), Higham, *Accuracy and Stability of
Numerical Algorithms*, 2nd ed., Sec. 3.1): for h = A + B t on an interval with
|A~ - A|_inf <= EA, and z = W h + b computed in float64 from float64 W~, b~ that are
within u of the exact rationals,

    |z~_j - z_j| <= (gamma_{n+1} + 2u) (|W_j|_1 |A~|_inf + |b_j|) + (1 + 2u) |W_j|_1 EA,

and likewise for the slope B. A value f = Z + DZ t at an interval end t~ (itself within
e_t of the exact end) is within EZ + |t~| EDZ + (|DZ~| + EDZ) e_t + gamma_2 (|Z~| + |DZ~ t~|).
A root -Z/DZ in [0, 1] is within (EZ + EDZ) / (|DZ~| - EDZ) + 2u of the float quotient.
All bounds are inflated by (1 + 1e-12) and a tiny absolute term to cover the rounding of
the bound computations themselves and underflow.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .._common import RegionLimitError
from .._flat import FlatNetwork

__all__ = ["run_kernel"]

U = 2.0**-53
TINY = 2.0**-1000  # absolute slack: covers underflow of products (far below any real value here)
INFLATE = 1.0 + 1e-12

# status codes per segment
OK = 0
UNCERTAIN = 1  # a decision could not be certified: decide this segment exactly


class FloatLineSegments(NamedTuple):
    """The segments P[s] -> P[s] + D[s] and what :func:`_run` reports per segment."""

    # starts, directions, and the error bound of each direction
    P: np.ndarray
    D: np.ndarray
    ED: np.ndarray
    # per segment: OK or UNCERTAIN, and its number of regions
    status: np.ndarray
    n_regions: np.ndarray


class FloatLineNet(NamedTuple):
    """The flattened network (:class:`FlatNetwork`) as :func:`_run` takes it."""

    # widths, weight and unit offsets per layer, weights (every W_l transposed), biases,
    # negative slopes, row norms |W_l[j, :]|_1, which units are neurons, their pattern bits
    dims: np.ndarray
    w_off: np.ndarray
    u_off: np.ndarray
    wt: np.ndarray
    bias: np.ndarray
    slope: np.ndarray
    rowabs: np.ndarray
    is_neuron: np.ndarray
    neuron_bit: np.ndarray
    nwords: int


class FloatLineWork(NamedTuple):
    """The workspaces of :func:`_run` (one slot per interval, grown when too small)."""

    # per interval (first index 0/1 alternates per layer): its ends, their bounds and the
    # flipped unit; its affine maps h = A + B t and their bounds; its packed pattern
    ws_f: np.ndarray
    ws_m: np.ndarray
    ws_p: np.ndarray
    # per-unit scratch: floats, ints, bools
    scratch: np.ndarray
    iscratch: np.ndarray
    bscratch: np.ndarray


class FloatLineOut(NamedTuple):
    """The regions :func:`_run` writes (one row each, grown when full)."""

    # right end and its error bound, packed pattern, output intercepts and slopes
    out_t: np.ndarray
    out_terr: np.ndarray
    out_pat: np.ndarray
    out_a: np.ndarray
    out_b: np.ndarray


def _net_args(data: FlatNetwork) -> FloatLineNet:
    """The arrays of the flattened network that :func:`_run` takes."""
    return FloatLineNet(
        dims=data.dims,
        w_off=data.w_off,
        u_off=data.u_off,
        wt=data.wt,
        bias=data.bias,
        slope=data.slope,
        rowabs=data.rowabs,
        is_neuron=data.is_neuron,
        neuron_bit=data.neuron_bit,
        nwords=data.nwords,
    )


@njit(cache=True, nogil=True)
def _gamma(n):
    return n * U / (1.0 - n * U)


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"})
def _run(segs, first, stop, net, work, out, out_pos):
    """Refine segments first..stop-1 (P[s] -> P[s] + D[s]); their regions go to out_* from out_pos.

    ``segs`` (:class:`FloatLineSegments`): the segments, their status and region counts;
    ``net`` (:class:`FloatLineNet`): the network; ``work`` (:class:`FloatLineWork`): the
    workspaces; ``out`` (:class:`FloatLineOut`): the regions.

    Returns (next segment, next output position, code): code 0 when done, -1 when the
    output arrays are full, -2 when the workspace is too small (the caller grows them
    and calls again from the returned segment). status[s] is OK or UNCERTAIN.

    Workspaces (first index 0/1 alternates per layer): ws_f[., cap, 5] the interval ends,
    their error bounds and the flipped unit (lo, hi, elo, ehi, k or -1); ws_m[., cap, 2 maxw + 2] the affine maps
    h = A + B t on each interval and their bounds EA, EB; ws_p[., cap, nwords] packed
    activation patterns.
    """
    (P, D, ED, status, n_regions) = segs
    (dims, w_off, u_off, wt, bias, slope, rowabs, is_neuron, neuron_bit, nwords) = net
    (ws_f, ws_m, ws_p, scratch, iscratch, bscratch) = work
    (out_t, out_terr, out_pat, out_a, out_b) = out
    n_layers = dims.shape[0] - 1
    maxw = (ws_m.shape[2] - 2) // 2
    cap = ws_f.shape[1]
    Z = scratch[0]
    DZ = scratch[1]
    EZ = scratch[2]
    EDZ = scratch[3]
    cr_t = scratch[4]
    cr_e = scratch[5]
    prev_edz = scratch[6]
    F0 = scratch[7]
    F1 = scratch[8]
    BND = scratch[9]
    cr_j = iscratch[0]
    active = bscratch[0]
    SC = bscratch[1]
    g2 = _gamma(2)
    g3 = _gamma(3) + 2.0 * U
    EA_COL = 2 * maxw
    EB_COL = 2 * maxw + 1
    out_pos0 = out_pos
    for seg in range(first, stop):
        out_pos = out_pos0
        st = OK
        cur = 0
        m = 1
        ws_f[0, 0, 0] = 0.0
        ws_f[0, 0, 1] = 1.0
        ws_f[0, 0, 2] = 0.0
        ws_f[0, 0, 3] = 0.0
        ws_f[0, 0, 4] = -1.0
        for k in range(dims[0]):
            ws_m[0, 0, k] = P[seg, k]
            ws_m[0, 0, maxw + k] = D[seg, k]
        ws_m[0, 0, EA_COL] = 0.0
        ws_m[0, 0, EB_COL] = ED[seg]
        for w in range(nwords):
            ws_p[0, 0, w] = 0
        for layer in range(n_layers):
            n_in = dims[layer]
            n_out = dims[layer + 1]
            wo = w_off[layer]
            uo = u_off[layer]
            g1 = _gamma(n_in + 1) + 2.0 * U
            last = layer == n_layers - 1
            nxt = 1 - cur
            nm = 0
            for i in range(m):
                EAi = ws_m[cur, i, EA_COL]
                EBi = ws_m[cur, i, EB_COL]
                # ---- pre-activations z = W h + b. A sub-interval differs from its left
                #      sibling in one unit k only (recorded in column 4 when emitted), so
                #      z_i = z_{i-1} + W[:, k] (h_i[k] - h_{i-1}[k]) exactly.
                flip = int(ws_f[cur, i, 4])
                if flip >= 0:
                    EAp = ws_m[cur, i - 1, EA_COL]
                    EBp = ws_m[cur, i - 1, EB_COL]
                    da = ws_m[cur, i, flip] - ws_m[cur, i - 1, flip]
                    db = ws_m[cur, i, maxw + flip] - ws_m[cur, i - 1, maxw + flip]
                    base = wo + flip * n_out
                    for j in range(n_out):
                        w = wt[base + j]
                        wa = w * da
                        wb = w * db
                        Z[j] += wa
                        DZ[j] += wb
                        aw = abs(w)
                        EZ[j] = (
                            EZ[j] + aw * (EAi + EAp) * (1.0 + 2.0 * U) + g3 * (abs(wa) + abs(Z[j]))
                        ) * INFLATE + TINY
                        EDZ[j] = (
                            EDZ[j] + aw * (EBi + EBp) * (1.0 + 2.0 * U) + g3 * (abs(wb) + abs(DZ[j]))
                        ) * INFLATE + TINY
                else:
                    amax = 0.0
                    bmax = 0.0
                    for j in range(n_out):
                        Z[j] = bias[uo + j]
                        DZ[j] = 0.0
                    for k in range(n_in):
                        a = ws_m[cur, i, k]
                        b = ws_m[cur, i, maxw + k]
                        amax = max(amax, abs(a))
                        bmax = max(bmax, abs(b))
                        base = wo + k * n_out
                        for j in range(n_out):
                            w = wt[base + j]
                            Z[j] += a * w
                            DZ[j] += b * w
                    for j in range(n_out):
                        ra = rowabs[uo + j]
                        EZ[j] = (g1 * (ra * amax + abs(bias[uo + j])) + (1.0 + 2.0 * U) * ra * EAi) * INFLATE + TINY
                        EDZ[j] = (g1 * ra * bmax + (1.0 + 2.0 * U) * ra * EBi) * INFLATE + TINY
                t0 = ws_f[cur, i, 0]
                t1 = ws_f[cur, i, 1]
                e0 = ws_f[cur, i, 2]
                e1 = ws_f[cur, i, 3]
                if last:
                    # the output layer is linear: write the region
                    pos = out_pos + i
                    if pos >= out_t.shape[0]:
                        st = -1
                        break
                    out_t[pos] = t1
                    out_terr[pos] = e1
                    for w in range(nwords):
                        out_pat[pos, w] = ws_p[cur, i, w]
                    for j in range(n_out):
                        out_a[pos, j] = Z[j]
                        out_b[pos, j] = DZ[j]
                    # certify that every output's slope changes at the left end of this region
                    if i > 0:
                        for j in range(n_out):
                            jump = DZ[j] - out_b[pos - 1, j]
                            if abs(jump) <= (EDZ[j] + prev_edz[j]) * (1.0 + 2.0 * U) * INFLATE + TINY:
                                st = UNCERTAIN
                                break
                    for j in range(n_out):
                        prev_edz[j] = EDZ[j]
                    continue
                # ---- certified signs at both interval ends (|t| <= 1 gives one bound for both)
                emax = max(e0, e1)
                ea = 0.0
                eb = 0.0
                for j in range(n_out):
                    z = Z[j]
                    dz = DZ[j]
                    F0[j] = z + dz * t0
                    F1[j] = z + dz * t1
                    BND[j] = (EZ[j] + EDZ[j] + (abs(dz) + EDZ[j]) * emax + g2 * (abs(z) + abs(dz))) * INFLATE + TINY
                    sj = slope[uo + j]
                    sa = max(1.0, abs(sj))
                    ea = max(ea, sa * EZ[j] + 2.0 * U * abs(sj * z))
                    eb = max(eb, sa * EDZ[j] + 2.0 * U * abs(sj * dz))
                # branch-free classification; the rare outcomes branch below
                bad = 0
                ncross = 0
                for j in range(n_out):
                    bj = BND[j]
                    s0 = (F0[j] > bj) - (F0[j] < -bj)
                    s1 = (F1[j] > bj) - (F1[j] < -bj)
                    isn = is_neuron[uo + j]
                    bad += isn & ((s0 == 0) | (s1 == 0))
                    cross = isn & (s0 != s1)
                    SC[j] = cross
                    ncross += cross
                    active[j] = (not isn) | (s0 > 0)
                if bad:
                    st = UNCERTAIN
                    break
                nc = 0
                if ncross:
                    for j in range(n_out):
                        if not SC[j]:
                            continue
                        dz = DZ[j]
                        adz = abs(dz)
                        if adz <= EDZ[j]:
                            st = UNCERTAIN
                            break
                        r = -Z[j] / dz
                        er = ((EZ[j] + EDZ[j]) / (adz - EDZ[j]) + 2.0 * U * max(1.0, abs(r))) * INFLATE + TINY
                        if r < t0:
                            r = t0
                            er = max(er, e0)
                        elif r > t1:
                            r = t1
                            er = max(er, e1)
                        q = nc
                        while q > 0 and cr_t[q - 1] > r:
                            cr_t[q] = cr_t[q - 1]
                            cr_e[q] = cr_e[q - 1]
                            cr_j[q] = cr_j[q - 1]
                            q -= 1
                        cr_t[q] = r
                        cr_e[q] = er
                        cr_j[q] = j
                        nc += 1
                    if st != OK:
                        break
                for q in range(1, nc):
                    if cr_t[q] - cr_t[q - 1] <= (cr_e[q] + cr_e[q - 1]) * INFLATE + TINY:
                        st = UNCERTAIN
                if st != OK:
                    break
                if nm + nc + 1 > cap:
                    st = -2
                    break
                # ---- the nc + 1 sub-intervals, with one error bound for all of them:
                #      |h~_j - h_j| <= max(1, |s_j|) EZ_j + 2u |s_j z~_j|
                ea = ea * INFLATE + TINY
                eb = eb * INFLATE + TINY
                o = nm
                ws_f[nxt, o, 0] = t0
                ws_f[nxt, o, 2] = e0
                ws_f[nxt, o, 1] = t1 if nc == 0 else cr_t[0]
                ws_f[nxt, o, 3] = e1 if nc == 0 else cr_e[0]
                ws_f[nxt, o, 4] = -1.0
                for w in range(nwords):
                    ws_p[nxt, o, w] = ws_p[cur, i, w]
                for j in range(n_out):
                    if active[j]:
                        ws_m[nxt, o, j] = Z[j]
                        ws_m[nxt, o, maxw + j] = DZ[j]
                        nb = neuron_bit[uo + j]
                        if nb >= 0:
                            ws_p[nxt, o, nb // 64] |= np.uint64(1) << np.uint64(nb % 64)
                    else:
                        s = slope[uo + j]
                        ws_m[nxt, o, j] = s * Z[j]
                        ws_m[nxt, o, maxw + j] = s * DZ[j]
                ws_m[nxt, o, EA_COL] = ea
                ws_m[nxt, o, EB_COL] = eb
                nm += 1
                for q in range(1, nc + 1):
                    # copy the previous sub-interval and flip one neuron
                    o = nm
                    j = cr_j[q - 1]
                    ws_f[nxt, o, 0] = cr_t[q - 1]
                    ws_f[nxt, o, 2] = cr_e[q - 1]
                    ws_f[nxt, o, 1] = t1 if q == nc else cr_t[q]
                    ws_f[nxt, o, 3] = e1 if q == nc else cr_e[q]
                    ws_f[nxt, o, 4] = j
                    for w in range(nwords):
                        ws_p[nxt, o, w] = ws_p[nxt, o - 1, w]
                    for k in range(n_out):
                        ws_m[nxt, o, k] = ws_m[nxt, o - 1, k]
                        ws_m[nxt, o, maxw + k] = ws_m[nxt, o - 1, maxw + k]
                    nb = neuron_bit[uo + j]
                    ws_p[nxt, o, nb // 64] ^= np.uint64(1) << np.uint64(nb % 64)
                    if active[j]:  # was active, now inactive
                        s = slope[uo + j]
                        ws_m[nxt, o, j] = s * Z[j]
                        ws_m[nxt, o, maxw + j] = s * DZ[j]
                    else:
                        ws_m[nxt, o, j] = Z[j]
                        ws_m[nxt, o, maxw + j] = DZ[j]
                    active[j] = not active[j]
                    ws_m[nxt, o, EA_COL] = ea
                    ws_m[nxt, o, EB_COL] = eb
                    nm += 1
            if st != OK or last:
                break
            cur = nxt
            m = nm

        if st < 0:
            return seg, out_pos0, st
        status[seg] = st
        if st == OK:
            n_regions[seg] = m
            out_pos0 += m
        else:
            n_regions[seg] = 0
    return stop, out_pos0, 0


def run_kernel(data: FlatNetwork, P: np.ndarray, Q: np.ndarray, *, threads: int = 1, max_regions: int | None = None):
    """Certified float refinement of the segments P[s] -> Q[s].

    Returns (status, count, t_hi, t_err, patterns, out_a, out_b): the regions of certified
    segments, consecutive in segment order (t_hi is each region's right end, t_err its
    error bound); segments with status UNCERTAIN have no regions here. ``max_regions``:
    :class:`RegionLimitError` as soon as one segment has more intervals than that (its
    workspace, one slot per interval, would grow past it; the caller checks the final
    counts).
    """
    P = np.ascontiguousarray(P, dtype=np.float64)
    Q = np.ascontiguousarray(Q, dtype=np.float64)
    D = Q - P
    # |fl(q - p) - (q - p)| <= u |fl(q - p)| (round to nearest)
    ED = np.abs(D).max(axis=1) * U * INFLATE
    n_seg = P.shape[0]
    status = np.zeros(n_seg, np.int64)
    count = np.zeros(n_seg, np.int64)
    net_args = _net_args(data)
    segs = FloatLineSegments(P=P, D=D, ED=ED, status=status, n_regions=count)

    def work(rng):
        first, stop = rng
        bufs = _outputs(max(64, 16 * (stop - first)), data)
        ws = _workspace(64, data)
        pos = 0
        s = first
        while s < stop:
            s, pos, code = _run(segs, s, stop, net_args, ws, bufs, pos)
            if code == -1:
                bufs = _grow_outputs(bufs, 2 * bufs.out_t.shape[0])
            elif code == -2:  # the current segment has more intervals than the workspace holds
                if max_regions is not None and ws.ws_f.shape[1] > max_regions:
                    raise RegionLimitError(ws.ws_f.shape[1] + 1, max_regions)
                ws = _workspace(2 * ws.ws_f.shape[1], data)
        return tuple(b[:pos] for b in bufs)

    chunks = _chunks(n_seg, threads)
    if len(chunks) == 1:
        parts = [work(chunks[0])]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(chunks)) as ex:
            parts = list(ex.map(work, chunks))
    outs = tuple(np.concatenate([part[k] for part in parts]) for k in range(5))
    return (status, count) + _demote_overflowed(status, count, outs)


def _demote_overflowed(status, count, outs):
    """Mark UNCERTAIN (and drop the rows of) every certified segment with a value that
    overflowed float64 (inf or NaN in a breakpoint, a bound or an output map): its exact
    answer is then computed by the exact engine, whatever the kernel's bounds said."""
    t_hi, t_err, _, out_a, out_b = outs
    finite = np.isfinite(t_hi) & np.isfinite(t_err) & np.isfinite(out_a).all(1) & np.isfinite(out_b).all(1)
    if finite.all():
        return outs
    seg_of_row = np.repeat(np.arange(len(count)), count)
    bad = np.unique(seg_of_row[~finite])
    keep = ~np.isin(seg_of_row, bad)
    status[bad] = UNCERTAIN
    count[bad] = 0
    return tuple(o[keep] for o in outs)


def _chunks(n: int, threads: int):
    threads = max(1, min(threads, n // 256 + 1))
    edges = np.linspace(0, n, threads + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _workspace(cap: int, data: FlatNetwork) -> FloatLineWork:
    w = data.max_width
    return FloatLineWork(
        ws_f=np.empty((2, cap, 5)),
        ws_m=np.empty((2, cap, 2 * w + 2)),
        ws_p=np.zeros((2, cap, data.nwords), np.uint64),
        scratch=np.empty((10, w)),
        iscratch=np.empty((1, w), np.int64),
        bscratch=np.empty((2, w), np.bool_),
    )


def _outputs(cap: int, data: FlatNetwork) -> FloatLineOut:
    return FloatLineOut(
        out_t=np.empty(cap),
        out_terr=np.empty(cap),
        out_pat=np.empty((cap, data.nwords), np.uint64),
        out_a=np.empty((cap, data.n_out)),
        out_b=np.empty((cap, data.n_out)),
    )


def _grow_outputs(bufs: FloatLineOut, cap: int) -> FloatLineOut:
    new = []
    for b in bufs:
        nb = np.empty((cap,) + b.shape[1:], b.dtype)
        nb[: b.shape[0]] = b
        new.append(nb)
    return FloatLineOut(*new)
