"""Certified float64 partition of a convex polygon by a network (numba kernel).

A planar subdivision in half-edge form is refined neuron by neuron, layer by layer.
Every vertex carries the current layer's pre-activations z(v) (one matrix product per
layer, z = W h + b, with h = relu(z_prev) at the vertex). Along every edge of the current
subdivision each pre-activation of the layer is affine (the edge lies in one region of
the earlier layers), so neuron j's zero crossings on edges are found by the signs of z_j
at the endpoints, the new vertex interpolates the whole column z (and its position), and
every face whose vertices have both signs is cut by the segment joining its two zero
vertices. The region graph comes with it: a face is a region, a half-edge pair an
adjacency.

Certification: each vertex carries, for every unit k of the layer, a bound EZ[k, v] on
|z~_k(v) - z_k(v)|, z_k(v) being the exact pre-activation at the exact vertex (the
intersection of the exact lines that made it). A sign is used only when |z~| exceeds
the bound. Otherwise the kernel stops and reports the vertex; the caller decides that
sign exactly (:class:`ExactLines`) and runs the neuron again with it, so degenerate
arrangements (lines through vertices, concurrent lines, lines along edges) are handled
with exact zeros rather than guessed. Bounds (Higham 2002, Sec. 3.1; u = 2^-53):
z = W h + b in float64 with |h~ - h| <= EH: EZ_k <= |W_k|_1 (EH (1 + 2u) + gamma |h~|_inf)
+ gamma |b_k|, gamma = gamma_{n+1} + 2u; interpolation z_c = z_a + t (z_b - z_a) with
t = z_aj / (z_aj - z_bj): |t~ - t| <= (e_aj + e_bj) / (|dz| - e_aj - e_bj) + 2u and
e_ck <= (1 - t) e_ak + t e_bk + |t~ - t| (|z~_bk - z~_ak| + e_ak + e_bk) + 4u (|z_ak| + |z_bk|).
The results of the subdivision (faces, maps, same-map edges, pieces) are in
:mod:`._float_results`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .._common import RegionLimitError
from .._flat import engine_data

U = 2.0**-53


INFLATE = 1.0 + 1e-12


TINY = 2.0**-1000


OK = 0


DECIDE = 1  # a sign needs an exact decision: vertex in out[0]


GROW = 2


BROKEN = 3  # inconsistent topology (a bug or an exact zero mishandled): never silently ignored


NO_SIGN = 2  # forced-sign sentinel


BLOCK = 16  # units whose columns are kept contiguous at a time


@njit(cache=True, nogil=True, inline="always")
def _prev(he_next, h):
    p = h
    while he_next[p] != h:
        p = he_next[p]
    return p


class LayerUnits(NamedTuple):
    """The layer whose units cut the subdivision: their pattern bits and vertex values."""

    # each unit's bit in the pattern (-1: a linear unit), uint64 words of a pattern
    neuron_bit: np.ndarray
    nwords: int
    # pre-activations and their bounds, (vertex capacity, units), vertex-major, and copies
    # of B consecutive units' columns, (B, vertex capacity)
    Z: np.ndarray
    EZ: np.ndarray
    ZB: np.ndarray
    EZB: np.ndarray


class HalfEdges(NamedTuple):
    """The subdivision in half-edge form (the arrays of :class:`FloatPlane`)."""

    # vertices: position (u, v), a half-edge leaving it, how it was made, sign of the current unit
    vx: np.ndarray
    v_he: np.ndarray
    v_info: np.ndarray
    vsign: np.ndarray
    # half-edges: origin, twin (-1 on the domain's boundary), next around its face, face,
    # label (the neuron bit of its line, -(i + 1) on domain edge i)
    he_org: np.ndarray
    he_twin: np.ndarray
    he_next: np.ndarray
    he_face: np.ndarray
    he_label: np.ndarray
    # faces: a half-edge, packed pattern; counts = [vertices, half-edges, faces]
    f_he: np.ndarray
    f_pat: np.ndarray
    counts: np.ndarray
    # scratch: the faces a unit's splits touched, and the last unit that marked each face
    touched: np.ndarray
    f_mark: np.ndarray


@njit(cache=True, nogil=True)
def _neurons(first, stop, units, mesh, forced, forced_j, out):
    """Cut the subdivision ``mesh`` (:class:`HalfEdges`) by the zero lines of units
    first..stop-1 of the layer ``units`` (:class:`LayerUnits`).

    Z, EZ: (vertex capacity, units), vertex-major so that a new vertex writes one row;
    ZB, EZB: (B, vertex capacity) copies of B consecutive units' columns, so that the
    per-unit scans read contiguous memory. counts = [vertices, half-edges, faces]. ``forced``
    holds exact signs (NO_SIGN elsewhere) for unit ``forced_j``. Returns (next unit, code):
    GROW when the arrays may be too small for the next unit, DECIDE when a sign needs an
    exact decision (vertex in out[0]), BROKEN on an impossible face."""
    (neuron_bit, nwords, Z, EZ, ZB, EZB) = units
    (vx, v_he, v_info, vsign, he_org, he_twin, he_next, he_face, he_label, f_he, f_pat, counts, touched, f_mark) = mesh
    filled = -1  # the first unit of the block now in ZB, EZB
    for j in range(first, stop):
        g = neuron_bit[j]
        if g < 0:
            continue  # a linear unit: no kink
        nv, nh, nf = counts[0], counts[1], counts[2]
        cap_v, cap_h, cap_f = vx.shape[0], he_org.shape[0], f_he.shape[0]
        nb = ZB.shape[0]
        b0 = (j // nb) * nb
        if b0 != filled:
            # (re)fill the block buffer with the columns of units b0 .. b0 + nb - 1 (a
            # block's first units may be linear ones, skipped above)
            filled = b0
            n_units = Z.shape[1]
            for v in range(nv):
                for q in range(nb):
                    if b0 + q < n_units:
                        ZB[q, v] = Z[v, b0 + q]
                        EZB[q, v] = EZ[v, b0 + q]
        zj = ZB[j - b0]
        ej = EZB[j - b0]
        # certified (or exactly decided) sign of z_j at every vertex
        for v in range(nv):
            if forced_j == j and forced[v] != NO_SIGN:
                vsign[v] = forced[v]
                continue
            z = zj[v]
            e = ej[v]
            if e > 0.0:
                e = e * INFLATE + TINY
            if z > e:
                vsign[v] = 1
            elif z < -e:
                vsign[v] = -1
            elif e == 0.0 and z == 0.0:
                vsign[v] = 0  # computed without any rounding: exactly zero
                if v_info[v, 2] != g:
                    out[1] = 1  # an existing vertex on the zero line: a degenerate arrangement
            else:
                out[0] = v
                return j, DECIDE
        n_units = Z.shape[1]
        n_touched = 0
        # split every edge whose ends have strictly opposite signs
        for h in range(nh):
            t_he = he_twin[h]
            if t_he >= 0 and t_he < h:
                continue  # each undirected edge once
            a = he_org[h]
            b = he_org[he_next[h]]
            if vsign[a] * vsign[b] >= 0:
                continue
            if counts[0] + 1 > cap_v or counts[1] + 2 > cap_h:
                return j, GROW  # resumable: the zero vertices made so far are exact
            za = zj[a]
            zb = zj[b]
            dz = za - zb
            eab = (ej[a] + ej[b]) * INFLATE + 2 * TINY
            coarse = 0
            if abs(dz) > eab and (za > 0.0) == (vsign[a] > 0) and (zb > 0.0) == (vsign[b] > 0):
                t = za / dz
                dt = (eab / (abs(dz) - eab) + 2.0 * U) * INFLATE
            else:
                # an end's sign was decided exactly while its float value is within its
                # bound: t is only known to lie in [0, 1] (the caller solves this vertex's
                # coordinates exactly afterwards)
                t = za / dz if dz != 0.0 else 0.5
                t = min(1.0, max(0.0, t))
                dt = 1.0 + 2.0 * U
                coarse = 1
            c = counts[0]
            counts[0] += 1
            vx[c, 0] = vx[a, 0] + t * (vx[b, 0] - vx[a, 0])
            vx[c, 1] = vx[a, 1] + t * (vx[b, 1] - vx[a, 1])
            s = 1.0 - t
            for k in range(n_units):
                zak = Z[a, k]
                zbk = Z[b, k]
                d = zbk - zak
                Z[c, k] = zak + t * d
                ec = (
                    s * EZ[a, k] + t * EZ[b, k] + dt * (abs(d) + EZ[a, k] + EZ[b, k]) + 4.0 * U * (abs(zak) + abs(zbk))
                ) * INFLATE
                if EZ[a, k] > 0.0 or EZ[b, k] > 0.0:
                    ec += TINY  # a positive bound must not underflow to an exact zero
                EZ[c, k] = ec
            Z[c, j] = 0.0  # exactly on the zero line by construction
            EZ[c, j] = 0.0
            for q in range(nb):
                if b0 + q < n_units:
                    ZB[q, c] = Z[c, b0 + q]
                    EZB[q, c] = EZ[c, b0 + q]
            vsign[c] = 0
            # how the vertex was made, for exact decisions later
            v_info[c, 0] = he_label[h]
            v_info[c, 1] = he_face[h]
            v_info[c, 2] = g
            v_info[c, 3] = he_face[h]
            v_info[c, 4] = coarse
            # topology: h = a -> b becomes a -> c -> b; its twin b -> a becomes b -> c -> a
            h2 = counts[1]
            counts[1] += 1
            he_org[h2] = c
            he_next[h2] = he_next[h]
            he_face[h2] = he_face[h]
            he_label[h2] = he_label[h]
            he_next[h] = h2
            v_he[c] = h2
            if f_mark[he_face[h]] != g:
                f_mark[he_face[h]] = g
                touched[n_touched] = he_face[h]
                n_touched += 1
            if t_he >= 0:
                t2 = counts[1]
                counts[1] += 1
                he_org[t2] = c
                he_next[t2] = he_next[t_he]
                he_face[t2] = he_face[t_he]
                he_label[t2] = he_label[t_he]
                he_next[t_he] = t2
                he_twin[h] = t2
                he_twin[t2] = h
                he_twin[h2] = t_he
                he_twin[t_he] = h2
                if f_mark[he_face[t_he]] != g:
                    f_mark[he_face[t_he]] = g
                    touched[n_touched] = he_face[t_he]
                    n_touched += 1
            else:
                he_twin[h2] = -1
        # pattern bit of neuron j for every face: the sign of any nonzero vertex; a face
        # with both signs is cut between its two zero vertices
        w_word = g // 64
        w_bit = np.uint64(1) << np.uint64(g % 64)
        for f in range(nf):
            h = f_he[f]
            start = h
            s = 0
            while True:
                s = vsign[he_org[h]]
                if s != 0:
                    break
                h = he_next[h]
                if h == start:
                    break
            if s > 0:
                f_pat[f, w_word] |= w_bit
        # faces with a zero vertex may need a cut: those touched by a split, and, when
        # exact signs were forced or the neuron is resumed after growing, any face
        if forced_j == j:
            n_touched = 0
            for f in range(counts[2]):
                touched[n_touched] = f
                n_touched += 1
        for q in range(n_touched):
            f = touched[q]
            start = f_he[f]
            h = start
            pos = False
            neg = False
            z0 = -1
            z1 = -1
            nz = 0
            while True:
                sv = vsign[he_org[h]]
                if sv > 0:
                    pos = True
                elif sv < 0:
                    neg = True
                else:
                    nz += 1
                    if z0 < 0:
                        z0 = h
                    elif z1 < 0:
                        z1 = h
                h = he_next[h]
                if h == start:
                    break
            if not (pos and neg):
                continue
            if nz != 2:
                return j, BROKEN
            if counts[1] + 2 > cap_h or counts[2] + 1 > cap_f:
                return j, GROW
            # new edge between the zero vertices A = org(z0) and B = org(z1)
            n1 = counts[1]
            n2 = n1 + 1
            counts[1] += 2
            pa = _prev(he_next, z0)
            pb = _prev(he_next, z1)
            he_org[n1] = he_org[z0]
            he_org[n2] = he_org[z1]
            he_twin[n1] = n2
            he_twin[n2] = n1
            he_label[n1] = g
            he_label[n2] = g
            he_next[pa] = n1
            he_next[n1] = z1
            he_next[pb] = n2
            he_next[n2] = z0
            nf2 = counts[2]
            counts[2] += 1
            f_he[f] = n1
            f_he[nf2] = n2
            h = n1
            while True:
                he_face[h] = f
                h = he_next[h]
                if h == n1:
                    break
            side = 0
            h = n2
            while True:
                he_face[h] = nf2
                if vsign[he_org[h]] != 0:
                    side = vsign[he_org[h]]
                h = he_next[h]
                if h == n2:
                    break
            # the pattern bit was set from one vertex of the uncut face; set both anew
            for w in range(nwords):
                f_pat[nf2, w] = f_pat[f, w]
            if side > 0:
                f_pat[nf2, w_word] |= w_bit
                f_pat[f, w_word] &= ~w_bit
            else:
                f_pat[f, w_word] |= w_bit
                f_pat[nf2, w_word] &= ~w_bit
    return stop, OK


@njit(cache=True, nogil=True)
def _activate(Z, EZ, nv, slope):
    """In place h = max(z, 0) + s min(z, 0) on the first nv rows of Z; returns the
    per-vertex bounds |h~ - h|_inf (relu_s is max(1, |s|)-Lipschitz, plus the rounding
    of s z) and |h~|_inf."""
    n = Z.shape[1]
    EH = np.zeros(nv)
    mag = np.zeros(nv)
    for v in range(nv):
        e = 0.0
        m = 0.0
        for k in range(n):
            z = Z[v, k]
            s = slope[k]
            lip = max(1.0, abs(s))
            ek = EZ[v, k] * lip
            if z <= 0.0 and s != 1.0:
                z = s * z
                ek += 2.0 * U * abs(z)
                Z[v, k] = z
            if ek > e:
                e = ek
            if abs(z) > m:
                m = abs(z)
        EH[v] = e * INFLATE
        mag[v] = m
    return EH, mag


@njit(cache=True, nogil=True)
def _layer_values(H, EH, mag, nv, W, b, gamma):
    """z = W h + b at the first nv vertices and its bounds (see run_plane)."""
    n_out, n_in = W.shape
    Z = np.empty((nv, n_out))
    EZ = np.empty((nv, n_out))
    ra = np.zeros(n_out)
    for k in range(n_out):
        for i in range(n_in):
            ra[k] += abs(W[k, i])
    for v in range(nv):
        base = EH[v] * (1.0 + 2.0 * U) + gamma * mag[v]
        for k in range(n_out):
            z = b[k]
            for i in range(n_in):
                z += W[k, i] * H[v, i]
            Z[v, k] = z
            e = (base * ra[k] + gamma * abs(b[k])) * INFLATE
            if ra[k] > 0.0 or b[k] != 0.0 or EH[v] > 0.0:
                e += TINY
            EZ[v, k] = e
    return Z, EZ


class FloatPlane:
    """The subdivision arrays, their growth, and the per-vertex layer values."""

    def __init__(self, verts_uv: np.ndarray, nwords: int, cap: int = 512):
        n = len(verts_uv)
        cap = max(cap, 4 * n)
        self.nwords = nwords
        self.vx = np.zeros((cap, 2))
        self.v_he = np.full(cap, -1, np.int64)
        # per vertex: the edge's label and face, the cutting neuron and its face, and 1 when
        # the float position is only known to lie on its edge (solved exactly afterwards)
        self.v_info = np.full((cap, 5), -1, np.int64)
        self.vsign = np.zeros(cap, np.int64)
        self.forced = np.full(cap, NO_SIGN, np.int64)
        hcap = 4 * cap
        self.he_org = np.full(hcap, -1, np.int64)
        self.he_twin = np.full(hcap, -1, np.int64)
        self.he_next = np.full(hcap, -1, np.int64)
        self.he_face = np.full(hcap, -1, np.int64)
        self.he_label = np.full(hcap, -1, np.int64)
        self.f_he = np.full(2 * cap, -1, np.int64)
        self.f_pat = np.zeros((2 * cap, nwords), np.uint64)
        self.touched = np.zeros(2 * cap, np.int64)
        self.f_mark = np.full(2 * cap, -1, np.int64)
        self.counts = np.array([n, n, 1], np.int64)
        self.Z = np.zeros((cap, 1))
        self.EZ = np.zeros((cap, 1))
        self.ZB = np.zeros((BLOCK, cap))
        self.EZB = np.zeros((BLOCK, cap))
        # set by run_plane: a degenerate arrangement met, a hidden value near overflow, and
        # the outputs at the vertices
        self.exact_zero = False
        self.overflow = False
        self.out_values = np.zeros((0, 0))
        self.vx[:n] = verts_uv
        for i in range(n):
            self.he_org[i] = i
            self.he_next[i] = (i + 1) % n
            self.he_face[i] = 0
            self.he_label[i] = -(i + 1)  # domain edge i
            self.v_he[i] = i
        self.f_he[0] = 0

    def grow(self, min_vertices: int = 0):
        """Enlarge every array to hold at least ``min_vertices`` vertices (at least double)."""
        factor = max(2, -(-int(min_vertices) // self.vx.shape[0]))

        def g(a, fill=None, axis=0):
            shape = list(a.shape)
            used = shape[axis]
            shape[axis] *= factor
            b = np.empty(shape, a.dtype)
            if axis == 0:
                b[:used] = a
                if fill is not None:
                    b[used:] = fill
            else:
                b[:, :used] = a
            return b

        self.vx, self.v_he, self.v_info = g(self.vx), g(self.v_he, -1), g(self.v_info, -1)
        self.vsign, self.forced = g(self.vsign, 0), g(self.forced, NO_SIGN)
        self.Z, self.EZ = g(self.Z), g(self.EZ)
        self.ZB, self.EZB = g(self.ZB, axis=1), g(self.EZB, axis=1)
        for name in ("he_org", "he_twin", "he_next", "he_face", "he_label", "f_he"):
            setattr(self, name, g(getattr(self, name), -1))
        self.f_pat = g(self.f_pat, 0)
        self.touched = g(self.touched, 0)
        self.f_mark = g(self.f_mark, -1)

    def half_edges(self) -> HalfEdges:
        """The subdivision's arrays as the kernel takes them (new ones after :meth:`grow`)."""
        return HalfEdges(
            vx=self.vx,
            v_he=self.v_he,
            v_info=self.v_info,
            vsign=self.vsign,
            he_org=self.he_org,
            he_twin=self.he_twin,
            he_next=self.he_next,
            he_face=self.he_face,
            he_label=self.he_label,
            f_he=self.f_he,
            f_pat=self.f_pat,
            counts=self.counts,
            touched=self.touched,
            f_mark=self.f_mark,
        )

    def set_layer_values(self, Zv: np.ndarray, EZ: np.ndarray):
        """New per-vertex values (vertices, units) and bounds for the next layer."""
        nv = self.counts[0]
        cap = self.vx.shape[0]
        self.Z = np.empty((cap, Zv.shape[1]))
        self.Z[:nv] = Zv
        self.EZ = np.empty((cap, Zv.shape[1]))
        self.EZ[:nv] = EZ


# Hidden values and bounds up to this magnitude keep every difference, interpolation and
# bound of the kernel finite (a difference of two such values is below 2^1021).
SAFE_MAGNITUDE = 2.0**1020


def _within_safe_range(Z, EZ) -> bool:
    """Every value and error bound finite and at most SAFE_MAGNITUDE in magnitude."""
    with np.errstate(invalid="ignore"):
        return bool((np.abs(Z) <= SAFE_MAGNITUDE).all() and (EZ <= SAFE_MAGNITUDE).all())


def run_plane(net, verts_uv: np.ndarray, origin: np.ndarray, directions: np.ndarray, decide, max_faces=None):
    """Certified float partition of the polygon ``verts_uv`` (CCW, float64) of the plane
    x = origin + directions @ (u, v). ``decide(fp, layer, unit, bit, vertex)`` returns
    the exact sign of that unit's pre-activation at that vertex. Returns the FloatPlane,
    with ``out_values`` (vertices, outputs) set, or with ``overflow``
    set (and no partition) when a hidden layer's values or bounds leave the range where
    the kernel's arithmetic cannot overflow: the caller then asks the exact engine."""
    layers = net.layers
    flat = engine_data(net, "float")
    nwords = flat.nwords
    # regions of random networks grow about like N^2 / 8 on a square (N neurons)
    cap = int(min(1 << 20, max(512, net.num_neurons**2 // 4)))
    fp = FloatPlane(np.asarray(verts_uv, dtype=np.float64), nwords, cap)
    n = fp.counts[0]
    uv = fp.vx[:n]
    H = origin[None, :] + uv @ directions.T
    # the inputs at the domain's vertices: rounding of the data and of the products and
    # sums (zero for the input plane of a 2-input network with float vertices)
    EH = 4 * U * (np.abs(origin)[None, :] + np.abs(uv) @ np.abs(directions).T).max(axis=1)
    out = np.zeros(2, np.int64)
    for li, layer in enumerate(layers):
        W, b = layer.weight, layer.bias
        n_in = W.shape[1]
        gamma = (n_in + 1) * U / (1 - (n_in + 1) * U) + 2 * U
        nv = fp.counts[0]
        if li == 0:
            mag = np.abs(H[:nv]).max(axis=1)
        if nv * W.size < 200_000:  # small: one compiled call beats several numpy calls
            Zv, EZ = _layer_values(H, EH, mag, nv, W, b, gamma)
        else:
            Zv = H[:nv] @ W.T + b
            ra = np.abs(W).sum(axis=1)
            # |z~_k - z_k| <= |W_k|_1 (EH (1 + 2u) + gamma |h~|_inf) + gamma |b_k|
            EZ = (np.outer(EH[:nv] * (1 + 2 * U) + gamma * mag, ra) + gamma * np.abs(b)[None, :]) * INFLATE
            # a bound is exactly zero only for a unit whose row and bias are exactly zero
            # and whose inputs are exact (then its value, 0, is exact); otherwise it is
            # >= TINY, so that underflow never passes for an exact zero
            EZ += TINY * ((ra > 0) | (b != 0) | (EH[:nv, None] > 0))
        if li == len(layers) - 1:
            fp.out_values = Zv  # may overflow to +-inf: the output maps handle it
            return fp
        if not _within_safe_range(Zv, EZ):
            fp.overflow = True
            return fp
        fp.set_layer_values(Zv, EZ)
        neuron_bit = flat.layer_neuron_bits(li)
        first, forced_j = 0, -1
        v_start = fp.counts[0]
        while first < W.shape[0]:
            # the arrays as they are now (FloatPlane.grow replaces them)
            units = LayerUnits(neuron_bit=neuron_bit, nwords=nwords, Z=fp.Z, EZ=fp.EZ, ZB=fp.ZB, EZB=fp.EZB)
            first, code = _neurons(first, W.shape[0], units, fp.half_edges(), fp.forced, forced_j, out)
            if code == GROW:
                # extrapolate this layer's vertex count from the units done so far
                done = max(first, 1)
                per_unit = (fp.counts[0] - v_start) / done
                fp.grow(int(fp.counts[0] + 1.3 * per_unit * (W.shape[0] - first) + 1024))
                if forced_j != first:  # resume this unit scanning every face
                    fp.forced[:] = NO_SIGN
                    forced_j = first
            elif code == DECIDE:
                if forced_j != first:
                    fp.forced[:] = NO_SIGN
                    forced_j = first
                v = int(out[0])
                fp.forced[v] = decide(fp, li, first, int(neuron_bit[first]), v)
            elif code == BROKEN:
                raise RuntimeError("the 2-D kernel met an inconsistent face; please report this network")
            if out[1]:
                fp.exact_zero = True
            if max_faces is not None and fp.counts[2] > max_faces:
                raise RegionLimitError(int(fp.counts[2]), max_faces)
        nv = fp.counts[0]
        EH, mag = _activate(fp.Z, fp.EZ, nv, np.ascontiguousarray(layer.negative_slope))
        H = fp.Z
    raise AssertionError("the last layer of a Network is linear")
