"""What the certified float 2-D kernel's half-edge subdivision gives: faces as vertex lists
with their areas and the region graph's edges, each face's output map from three of its
vertices, the certified same-map test of every edge, and the linear pieces (connected
components over same-map edges).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._float_kernel import INFLATE, TINY


@njit(cache=True, nogil=True)
def _extract(counts, vx, he_org, he_next, he_twin, he_face, f_he):
    """Faces as vertex lists (offsets into verts), their float areas, and the graph's
    edges as (face a, face b, half-edge) with a < b, one per half-edge pair."""
    nf = counts[2]
    nh = counts[1]
    offsets = np.zeros(nf + 1, np.int64)
    for f in range(nf):
        n = 0
        h = f_he[f]
        start = h
        while True:
            n += 1
            h = he_next[h]
            if h == start:
                break
        offsets[f + 1] = offsets[f] + n
    verts = np.empty(offsets[nf], np.int64)
    area = np.zeros(nf)
    for f in range(nf):
        h = f_he[f]
        start = h
        q = offsets[f]
        a2 = 0.0
        while True:
            v = he_org[h]
            w = he_org[he_next[h]]
            verts[q] = v
            q += 1
            a2 += vx[v, 0] * vx[w, 1] - vx[w, 0] * vx[v, 1]
            h = he_next[h]
            if h == start:
                break
        area[f] = 0.5 * a2
    n_e = 0
    for h in range(nh):
        t = he_twin[h]
        if t >= 0 and he_face[h] < he_face[t]:
            n_e += 1
    edges = np.empty((n_e, 3), np.int64)
    q = 0
    for h in range(nh):
        t = he_twin[h]
        if t >= 0 and he_face[h] < he_face[t]:
            edges[q, 0] = he_face[h]
            edges[q, 1] = he_face[t]
            edges[q, 2] = h
            q += 1
    return offsets, verts, area, edges


@njit(cache=True, nogil=True)
def _face_maps(offsets, verts, vx, values):
    """Affine map of every output on every face, from the outputs at three of its
    vertices (the first, the farthest from it, the farthest from their line)."""
    nf = offsets.shape[0] - 1
    n_out = values.shape[1]
    intercept = np.zeros((nf, n_out))
    grad = np.zeros((nf, n_out, 2))
    bad = np.zeros(nf, np.bool_)
    for f in range(nf):
        o0, o1 = offsets[f], offsets[f + 1]
        a = verts[o0]
        b = a
        best = -1.0
        for q in range(o0, o1):
            v = verts[q]
            d = (vx[v, 0] - vx[a, 0]) ** 2 + (vx[v, 1] - vx[a, 1]) ** 2
            if d > best:
                best = d
                b = v
        c = a
        best = -1.0
        for q in range(o0, o1):
            v = verts[q]
            cr = abs((vx[b, 0] - vx[a, 0]) * (vx[v, 1] - vx[a, 1]) - (vx[b, 1] - vx[a, 1]) * (vx[v, 0] - vx[a, 0]))
            if cr > best:
                best = cr
                c = v
        m00 = vx[b, 0] - vx[a, 0]
        m01 = vx[b, 1] - vx[a, 1]
        m10 = vx[c, 0] - vx[a, 0]
        m11 = vx[c, 1] - vx[a, 1]
        det = m00 * m11 - m01 * m10
        base2 = m00 * m00 + m01 * m01
        # |det| / base^2 is the triangle's height over its base (the face's aspect), and
        # |det| / base its height: a value's rounding over that height is the gradient's
        # error, so a thin face, or a tiny one (height under 1e-6), is left to the caller,
        # which composes the layers instead
        if abs(det) <= 1e-3 * base2 or abs(det) <= 1e-6 * np.sqrt(base2):
            bad[f] = True
            continue
        for k in range(n_out):
            r0 = values[b, k] - values[a, k]
            r1 = values[c, k] - values[a, k]
            gu = (r0 * m11 - m01 * r1) / det
            gv = (m00 * r1 - r0 * m10) / det
            grad[f, k, 0] = gu
            grad[f, k, 1] = gv
            intercept[f, k] = values[a, k] - gu * vx[a, 0] - gv * vx[a, 1]
        # the map must reproduce the outputs at every vertex of the face, else compose
        for q in range(o0, o1):
            v = verts[q]
            for k in range(n_out):
                pred = intercept[f, k] + grad[f, k, 0] * vx[v, 0] + grad[f, k, 1] * vx[v, 1]
                if abs(pred - values[v, k]) > 1e-10 * (1.0 + abs(values[v, k])):
                    bad[f] = True
    return intercept, grad, bad


@njit(cache=True, nogil=True)
def _same_maps(
    edge_face, edge_bit, bit_layer, bit_unit, f_pat, layer_rows, layer_cols, w_off, weights, slopes, s_off, nbit, gammas
):
    """Certified test, per edge, that the outputs' affine map is the same on both sides.

    The edge flips one neuron (l, k); the map changes by (d out / d h_{l,k}) grad z_{l,k},
    so it is the same iff d = W_L S_{L-1} ... S_{l+1} W_{l+1}[:, k] is zero (S_m: the
    activation slopes of layer m on the face). Returns (same, ok): ok False when |d~|
    cannot be told from zero (every path blocked, a = 0, certifies an exact zero)."""
    n_e = edge_face.shape[0]
    n_layers = layer_rows.shape[0]
    maxw = 0
    for m in range(n_layers):
        maxw = max(maxw, layer_rows[m])
    same = np.zeros(n_e, np.bool_)
    v = np.empty(maxw)
    a = np.empty(maxw)
    v2 = np.empty(maxw)
    a2 = np.empty(maxw)
    nz = np.empty(maxw, np.bool_)  # some path of nonzero factors reaches the unit
    nz2 = np.empty(maxw, np.bool_)
    for e in range(n_e):
        g = edge_bit[e]
        l = bit_layer[g]
        k = bit_unit[g]
        f = edge_face[e]
        # column k of W_{l+1}
        rows = layer_rows[l + 1]
        cols = layer_cols[l + 1]
        for i in range(rows):
            w = weights[w_off[l + 1] + i * cols + k]
            v[i] = w
            a[i] = abs(w)
            nz[i] = w != 0.0
        gamma = 0.0
        for m in range(l + 1, n_layers - 1):
            n = layer_rows[m]
            for i in range(n):
                s = slopes[s_off[m] + i]
                nb = nbit[s_off[m] + i]  # the unit's bit, or -1 for a linear unit
                if nb >= 0:
                    wd = nb // 64
                    on = (f_pat[f, wd] >> np.uint64(nb % 64)) & np.uint64(1)
                    if on:
                        s = 1.0
                v[i] *= s
                a[i] *= abs(s)
                nz[i] = nz[i] and s != 0.0
            rows2 = layer_rows[m + 1]
            for o in range(rows2):
                sv = 0.0
                sa = 0.0
                reach = False
                base = w_off[m + 1] + o * n
                for i in range(n):
                    w = weights[base + i]
                    sv += w * v[i]
                    sa += abs(w) * a[i]
                    reach = reach or (nz[i] and w != 0.0)
                v2[o] = sv
                a2[o] = sa
                nz2[o] = reach
            for o in range(rows2):
                v[o] = v2[o]
                a[o] = a2[o]
                nz[o] = nz2[o]
            gamma += gammas[m]
        n_out = layer_rows[n_layers - 1]
        nonzero = False
        blocked = True
        for o in range(n_out):
            if nz[o]:
                blocked = False
            # the absolute term covers underflow of products and sums
            if abs(v[o]) > gamma * a[o] * INFLATE + TINY:
                nonzero = True
        if blocked:
            same[e] = True  # every path holds an exactly zero weight or slope
        elif not nonzero:
            return same, False
    return same, True


@njit(cache=True, nogil=True)
def _count_components(n, pairs, use):
    """Connected components of the graph on n nodes with the edges pairs[use]."""
    parent = np.arange(n)
    for e in range(pairs.shape[0]):
        if not use[e]:
            continue
        a = pairs[e, 0]
        b = pairs[e, 1]
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a != b:
            parent[a] = b
    count = 0
    for i in range(n):
        if parent[i] == i:
            count += 1
    return count
