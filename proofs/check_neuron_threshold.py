"""Machine check of proofs/neuron_threshold.md (run by pytest; exact arithmetic only).

1. Exhaustive enumeration: every one-hidden-layer network with m <= 3 neurons whose
   (w, beta, v) come from a small grid of rationals. For the function f it computes (on R
   and restricted to an interval) we check the slope bookkeeping, the lower bound n <= m,
   minimal_neurons(f) <= m, the subset rule when m = n, the n = 0 cases, and that
   minimal_network(f) computes f with minimal_neurons(f) neurons.
2. sympy: the identities of the proof with symbolic slopes, jumps and weights.
3. The depth threshold: sawtooth networks have exactly prod(n_l + 1) regions and pieces,
   counted by an exact, engine-independent refinement along the line.
"""

from __future__ import annotations

import itertools
from fractions import Fraction as F
from math import prod

import sympy as sp

from exactnet.theory import (
    PiecewiseLinear1D,
    minimal_network,
    minimal_neurons,
    right_oriented_subset,
    sawtooth_network,
    sawtooth_segment,
    serra_thm1_upper,
    serra_thm5_1d,
    zigzag,
)

W_GRID = (F(-1), F(-1, 2), F(0), F(1, 2), F(1))
B_GRID = (F(-1), F(0), F(1))
V_GRID = (F(-1), F(1), F(2))
INTERVAL = (F(-3, 2), F(3, 2))  # kinks at +-2 (from w = +-1/2) fall outside it


def _relu(z):
    return z if z > 0 else F(0)


def _value(neurons, x):
    return sum((v * _relu(w * x + b) for w, b, v in neurons), F(0))


def _function(neurons) -> PiecewiseLinear1D:
    """The exact function on R, from values only: kink candidates plus a point beyond each end."""
    kinks = sorted({-b / w for w, b, _ in neurons if w != 0} | {F(0)})
    xs = [kinks[0] - 1] + kinks + [kinks[-1] + 1]
    return PiecewiseLinear1D.from_points(xs, [_value(neurons, x) for x in xs], domain=None)


def _probe_points(f: PiecewiseLinear1D):
    xs = list(f.breakpoints)
    if f.domain is not None:
        return [f.domain[0], (f.domain[0] + f.domain[1]) / 2, f.domain[1]] + xs
    if not xs:
        return [F(-7), F(0), F(5, 3)]
    mids = [(p + q) / 2 for p, q in zip(xs, xs[1:])]
    return [xs[0] - 3, xs[0] - F(1, 3)] + xs + mids + [xs[-1] + F(1, 3), xs[-1] + 3]


def _check_minimal_network(f: PiecewiseLinear1D) -> None:
    net = minimal_network(f)
    assert net.num_neurons == minimal_neurons(f)
    for x in _probe_points(f):
        assert net.forward_exact([x])[0] == f(x), (f, x)


def test_exhaustive_small_networks():
    units = list(itertools.product(W_GRID, B_GRID, V_GRID))
    best: dict[PiecewiseLinear1D, int] = {}  # fewest grid neurons seen for each function
    best_interval: dict[PiecewiseLinear1D, int] = {}
    witnessed_n_plus_1 = witnessed_interval_affine = False
    for m in range(4):
        for neurons in itertools.combinations_with_replacement(units, m):
            f = _function(neurons)
            n = f.num_breakpoints
            # slope bookkeeping: right-oriented neurons give s_n, left-oriented ones s_0
            assert sum((v * w for w, _, v in neurons if w > 0), F(0)) == f.right_slope
            assert sum((v * w for w, _, v in neurons if w < 0), F(0)) == f.left_slope
            k = minimal_neurons(f)
            assert n <= m and k <= m  # lower bound n; the theorem never asks for more than m
            if n >= 1:
                assert k in (n, n + 1)
            if m == n >= 1:  # one neuron per kink: its right-oriented ones form the subset
                assert k == n and right_oriented_subset(f) is not None
            if n == 0 and f.left_slope != 0:
                assert m >= 2 and k == 2  # a nonconstant affine map needs two neurons on R
            witnessed_n_plus_1 |= n >= 1 and k == n + 1 == m
            best[f] = min(best.get(f, m), m)
            g = f.restrict(*INTERVAL)
            kg = minimal_neurons(g)
            assert g.num_breakpoints <= kg <= m
            witnessed_interval_affine |= g.num_breakpoints == 0 and g.left_slope != 0 and m == 1
            best_interval[g] = min(best_interval.get(g, m), m)
    assert witnessed_n_plus_1 and witnessed_interval_affine
    for table in (best, best_interval):
        for f, m in table.items():
            assert minimal_neurons(f) <= m
    for f in itertools.chain(best, best_interval):
        _check_minimal_network(f)


def test_subset_rule_is_sharp_on_small_jump_lists():
    """For every jump list over a grid (n <= 3) and every s_n, the rule holds both ways:
    n neurons exist iff the subset exists (checked against a network search over all
    orientations, i.e. all 2^n ways to orient one neuron per kink)."""
    grid = (F(-2), F(-1), F(1, 2), F(1), F(3))
    for n in range(1, 4):
        xs = [F(k) for k in range(n)]
        for ds in itertools.product(grid, repeat=n):
            for sn in (F(-1), F(0), F(1, 2), F(1), F(5)):
                slopes = [sn - sum(ds, F(0))]
                for d in ds:
                    slopes.append(slopes[-1] + d)
                f = PiecewiseLinear1D.from_slopes(xs, slopes, value=F(1, 3))
                orientable = any(
                    sum((d for d, r in zip(ds, rights) if r), F(0)) == sn
                    for rights in itertools.product((False, True), repeat=n)
                )
                assert (minimal_neurons(f) == n) == orientable
                _check_minimal_network(f)


# ---------------------------------------------------------------------------- sympy
def test_symbolic_identities():
    x, t, v = sp.symbols("x t v", real=True)
    p, h = sp.symbols("p h", positive=True)
    # a right-oriented neuron v relu(p (x - t)) and a left-oriented one v relu(-p (x - t))
    for sign, left, right in ((1, 0, v * p), (-1, -v * p, 0)):
        g = v * sp.Max(0, sign * p * (x - t))
        slope_right = sp.simplify((g.subs(x, t + 2 * h) - g.subs(x, t + h)) / h)
        slope_left = sp.simplify((g.subs(x, t - h) - g.subs(x, t - 2 * h)) / h)
        assert sp.simplify(slope_right - right) == 0 and sp.simplify(slope_left - left) == 0
        assert sp.simplify(slope_right - slope_left - v * p) == 0  # jump = v |w| either way
    for n in range(1, 6):
        s = sp.symbols(f"s0:{n + 1}", real=True)
        d = [s[k] - s[k - 1] for k in range(1, n + 1)]
        assert sp.expand(sum(d) - (s[n] - s[0])) == 0  # telescoping: sum of jumps = s_n - s_0
        # n+1 construction: split d_1 into a (right) + (d_1 - a) (left), others right
        a = s[n] - sum(d[1:])
        assert sp.expand(a + sum(d[1:]) - s[n]) == 0  # far-right slope
        assert sp.expand(-(d[0] - a) - s[0]) == 0  # far-left slope
        # one neuron per kink, right set R (0-based jump indices), left set L: the slope of
        # piece k is sum_{R, i<k} d_i - sum_{L, i>=k} d_i = s_k - (s_n - sum_R d), so every
        # piece has the right slope iff s_n = sum_R d (the subset condition)
        for mask in range(1 << n):
            R = {i for i in range(n) if mask >> i & 1}
            for k in range(n + 1):
                piece = sum(d[i] for i in R if i < k) - sum(d[i] for i in range(n) if i not in R and i >= k)
                assert sp.expand(piece - s[k] + (s[n] - sum(d[i] for i in R))) == 0, (n, R, k)


def test_symbolic_zigzag_subsets_and_width_two_impossible():
    for n in range(3, 10):
        a = sp.symbols(f"a0:{n + 1}", positive=True)
        s = [(-1) ** (k + 1) * a[k] for k in range(n + 1)]  # alternating slopes, s_0 < 0
        d = [s[k] - s[k - 1] for k in range(1, n + 1)]
        if n % 2:  # R = {1..n-1}: sum = s_{n-1} - s_0 = s_n iff a_n = a_0 - a_{n-1}
            assert sp.expand(sum(d[: n - 1]) - s[n]).subs(a[n], a[0] - a[n - 1]).expand() == 0
        else:  # R = {1, n}: d_1 + d_n = s_n iff a_{n-1} = a_0 + a_1
            assert sp.expand(d[0] + d[n - 1] - s[n]).subs(a[n - 1], a[0] + a[1]).expand() == 0
    # n = 2: no subset of the jumps of an alternating zig-zag sums to s_2, for any magnitudes
    a = sp.symbols("a0:3", positive=True)
    s = [-a[0], a[1], -a[2]]
    d = [s[1] - s[0], s[2] - s[1]]
    for R in ((), (0,), (1,), (0, 1)):
        expr = sp.expand(sum((d[i] for i in R), sp.Integer(0)) - s[2])
        assert expr.is_positive or expr.is_negative, R


# ---------------------------------------------------------------------------- depth
def _regions_and_pieces(net, lo, hi) -> tuple[int, int]:
    """Exact regions and pieces of a 1-input, 1-output network on [lo, hi]: refine the
    point set layer by layer at every sign change of every pre-activation (affine between
    consecutive points by induction), then compare patterns and slopes of the intervals."""
    pts = [F(lo), F(hi)]
    for l, layer in enumerate(net.layers):
        if layer.is_linear:
            continue
        zs = [net.preactivations_exact([q])[l] for q in pts]
        new = set(pts)
        for j in range(layer.out_features):
            for k in range(len(pts) - 1):
                za, zb = zs[k][j], zs[k + 1][j]
                if za * zb < 0:
                    new.add(pts[k] + (pts[k + 1] - pts[k]) * za / (za - zb))
        pts = sorted(new)
    pats = [tuple(net.pattern_exact([(p + q) / 2])) for p, q in zip(pts, pts[1:])]
    ys = [net.forward_exact([q])[0] for q in pts]
    slopes = [(yb - ya) / (qb - qa) for qa, qb, ya, yb in zip(pts, pts[1:], ys, ys[1:])]
    regions = 1 + sum(p != q for p, q in zip(pats, pats[1:]))
    pieces = 1 + sum(p != q for p, q in zip(slopes, slopes[1:]))
    return regions, pieces


def test_sawtooth_attains_depth_threshold():
    for widths in ([3], [4], [3, 3], [4, 3], [3, 5], [3, 4, 5], [5, 5], [6, 7], [3, 3, 3]):
        net = sawtooth_network(widths)
        a, b = sawtooth_segment(widths)
        expected = prod(w + 1 for w in widths)
        assert expected == serra_thm5_1d(widths) == serra_thm1_upper(1, widths)
        assert _regions_and_pieces(net, a, b) == (expected, expected)
        assert _regions_and_pieces(net, a - 50, b + 50) == (expected, expected)


def test_zigzag_needs_exactly_n_neurons():
    for n in range(3, 31):
        g = zigzag(n)
        assert g.num_breakpoints == n and all(0 < x < 1 for x in g.breakpoints)
        assert g(0) == 1 and g(1) == 1 - (n + 1) % 2
        assert minimal_neurons(g) == n
