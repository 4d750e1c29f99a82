"""Neuron thresholds for 1-D functions: PiecewiseLinear1D, minimal networks, sawtooth nets.

The tests that use the exact 1-D region engine import it inside the test, so the rest of
this module runs without it.
"""

import itertools
from fractions import Fraction as F
from math import prod

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from exactnet.theory import (
    PiecewiseLinear1D,
    depth_threshold_ok,
    min_width_for_depth,
    minimal_network,
    minimal_neurons,
    right_oriented_subset,
    sawtooth_network,
    sawtooth_segment,
    serra_thm1_upper,
    subset_with_sum,
    zigzag,
)

PL = PiecewiseLinear1D

# ---------------------------------------------------------------------------- strategies
small_rationals = st.one_of(
    st.integers(-3, 3).map(F),
    st.fractions(min_value=-4, max_value=4, max_denominator=4),
)
nonzero = small_rationals.filter(lambda q: q != 0)


@st.composite
def functions(draw, bounded=None, max_n=6):
    """Random exact CPWL functions, on R or on an interval around their breakpoints."""
    n = draw(st.integers(0, max_n))
    xs = sorted(draw(st.sets(st.fractions(min_value=-5, max_value=5, max_denominator=6), min_size=n, max_size=n)))
    s0 = draw(small_rationals)
    slopes = [s0]
    for _ in range(n):
        slopes.append(slopes[-1] + draw(nonzero))
    value = draw(small_rationals)
    if bounded is None:
        bounded = draw(st.booleans())
    domain = None
    if bounded:
        lo = xs[0] if xs else draw(small_rationals)
        hi = xs[-1] if xs else lo
        domain = (lo - draw(st.sampled_from([F(1, 3), F(1), F(5, 2)])), hi + draw(st.sampled_from([F(1, 7), F(2)])))
    return PL.from_slopes(xs, slopes, value, domain)


def probe_points(f):
    xs = list(f.breakpoints)
    mids = [(p + q) / 2 for p, q in zip(xs, xs[1:])]
    if f.domain is not None:
        a, b = f.domain
        return [a, b, (a + (xs[0] if xs else b)) / 2, ((xs[-1] if xs else a) + b) / 2] + xs + mids
    if not xs:
        return [F(-9), F(0), F(7, 2)]
    return [xs[0] - 10, xs[0] - F(1, 2)] + xs + mids + [xs[-1] + F(1, 2), xs[-1] + 10]


# ---------------------------------------------------------------------------- the function
def test_construction_and_exact_evaluation():
    f = PL.from_breakpoints([0, 1], [0, 1], left_slope=0, right_slope=0)  # a clipped ramp
    assert f.slopes == (0, 1, 0) and f.slope_jumps == (1, -1)
    assert f(F(1, 3)) == F(1, 3) and f(-5) == 0 and f(7) == 1
    assert f(0.1) == F(0.1)  # floats convert exactly (0.1 is a dyadic rational)
    assert all(isinstance(q, F) for q in f.breakpoints + f.values + (f.left_slope, f.right_slope))
    g = PL.affine(slope=2, intercept=-1)
    assert g(3) == 5 and g.num_breakpoints == 0 and g.num_pieces == 1
    h = PL.from_slopes([0, 2], [1, -1, 3], value=4, domain=(-1, 5))
    assert h(2) == 2 and h(5) == 11 and h(-1) == 3
    with pytest.raises(ValueError, match="outside the domain"):
        h(6)


def test_canonical_form_and_simplify():
    # a collinear point is not a breakpoint: rejected by default, dropped on request
    with pytest.raises(ValueError, match="slope jump 0"):
        PL.from_breakpoints([0, 1, 2], [0, 1, 2], left_slope=0, right_slope=1)
    f = PL.from_breakpoints([0, 1, 2], [0, 1, 2], left_slope=0, right_slope=1, simplify=True)
    assert f == PL.from_breakpoints([0], [0], 0, 1)
    assert PL.from_points([-1, 0, 1, 2, 3], [0, 0, 1, 2, 3], domain=None) == f
    assert PL.from_points([0, 1, 2], [1, 3, 5], domain=(0, 2)) == PL.affine(2, 1, domain=(0, 2))
    assert PL.from_points([0, 2], [0, 2]).domain == (0, 2)
    assert hash(f) == hash(PL.from_slopes([0], [0, 1]))
    assert PL.from_slopes([0, 1], [1, 1, 1], value=3, simplify=True) == PL.affine(1, 3)
    assert "breakpoints=[0]" in repr(f)


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: PL([1, 0], [0, 0], 1, 2), ValueError, "strictly increasing"),
        (lambda: PL([0, 0], [0, 0], 1, 2), ValueError, "merge duplicates"),
        (lambda: PL([0, 1], [0], 1, 2), ValueError, "values has 1 entries"),
        (lambda: PL([], [0], 1, 2), ValueError, "left_slope = 1 != right_slope = 2"),
        (lambda: PL([], [], 1, 1), ValueError, "exactly one entry"),
        (lambda: PL([0], [0], 1, 2, domain=(1, 0)), ValueError, "is empty"),
        (lambda: PL([0], [0], 1, 2, domain=(0, 1)), ValueError, "strictly inside"),
        (lambda: PL([0], [0], 1, 2, domain=5), TypeError, "domain"),
        (lambda: PL([0], [float("nan")], 1, 2), ValueError, "values[0]"),
        (lambda: PL.from_slopes([0, 1], [1, 2]), ValueError, "need 3"),
        (lambda: PL.from_points([0], [1]), ValueError, "at least two points"),
        (lambda: PL.from_points([0, 1, 2], [1, 2]), ValueError, "xs has 3 entries"),
        (lambda: PL.from_points([0, 1, 2], [1, 2, 0], domain=(0, 1)), ValueError, "must contain every point"),
        (lambda: PL.from_points([0, 1], [1, 2], domain="R"), ValueError, "'hull'"),
        (lambda: minimal_neurons([1, 2, 3]), TypeError, "PiecewiseLinear1D"),
    ],
)
def test_errors_name_the_argument(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)


def test_restrict():
    f = PL.from_slopes([-2, 0, 2], [1, -1, 2, 0], value=0)
    g = f.restrict(-1, 1)
    assert g.breakpoints == (0,) and g.slopes == (-1, 2) and g.domain == (-1, 1)
    for x in (-1, F(-1, 3), 0, F(1, 2), 1):
        assert g(x) == f(x)
    h = f.restrict(F(1, 2), F(3, 2))
    assert h.num_breakpoints == 0 and h(1) == f(1) and h.left_slope == 2
    with pytest.raises(ValueError, match="not inside"):
        h.restrict(0, 1)


@settings(max_examples=150, deadline=None)
@given(functions())
def test_slope_bookkeeping(f):
    assert sum(f.slope_jumps, F(0)) == f.right_slope - f.left_slope
    assert all(d != 0 for d in f.slope_jumps)
    assert len(f.slopes) == f.num_pieces == f.num_breakpoints + 1
    for x, y in zip(f.breakpoints, f.values):
        assert f(x) == y


# ---------------------------------------------------------------------------- subset sum
def test_subset_sum_hand_cases():
    assert sorted(subset_with_sum([1, 2, -3], 3)) == [0, 1]
    assert subset_with_sum([2, 2], 1) is None
    assert subset_with_sum([F(1, 3), F(1, 6), F(5, 7)], F(1, 2)) == (0, 1)
    assert subset_with_sum([], 0) == () and subset_with_sum([], 1) is None
    assert subset_with_sum([1] * 100, 0) == () and subset_with_sum([1] * 100, 100) == tuple(range(100))
    with pytest.raises(ValueError, match="max_size = 40"):
        subset_with_sum([2**k for k in range(41)], 3)
    with pytest.raises(ValueError, match="max_size = 10"):
        subset_with_sum([2**k for k in range(12)], 3, max_size=10)
    assert subset_with_sum([2**k for k in range(12)], 3, max_size=12) == (0, 1)


def _brute_force(values, target):
    return any(sum(c, F(0)) == target for r in range(len(values) + 1) for c in itertools.combinations(values, r))


@settings(max_examples=300, deadline=None)
@given(st.lists(small_rationals, max_size=10), small_rationals, st.booleans())
def test_subset_sum_matches_exhaustive_enumeration(values, target, reachable):
    if reachable and values:  # half of the cases ask for a sum that exists
        target = sum(values[::2], F(0))
    found = subset_with_sum(values, target)
    assert (found is not None) == _brute_force(values, target)
    if found is not None:
        assert len(set(found)) == len(found)
        assert sum((F(values[i]) for i in found), F(0)) == target


def test_subset_sum_forty_values_is_practical():
    values = [3**k % 1000003 for k in range(40)]
    target = sum(values[::3])
    found = subset_with_sum(values, target)
    assert found is not None and sum(values[i] for i in found) == target


# ---------------------------------------------------------------------------- minimal neurons
def _from_jumps(jumps, right_slope, domain=None):
    xs = list(range(len(jumps)))
    slopes = [right_slope - sum(jumps, F(0))]
    for d in jumps:
        slopes.append(slopes[-1] + d)
    return PL.from_slopes(xs, slopes, value=F(1, 2), domain=domain)


@pytest.mark.parametrize(
    "jumps, right_slope, expected",
    [
        ([1, 2, -3], 3, 3),  # {1, 2} sums to 3
        ([1, 2, -3], 0, 3),  # the empty set (all neurons left-oriented)
        ([1, 2, -3], -2, 3),  # {1, -3}
        ([1, 2, -3], 4, 4),  # no subset of {1, 2, -3} sums to 4
        ([2, 2], 1, 3),  # subset sums 0, 2, 4: never 1
        ([2], 1, 2),  # |x| = relu(x) + relu(-x) needs both neurons
        ([1], 1, 1),  # relu(x)
        ([1], 0, 1),  # relu(-x)
        ([1, -1], 0, 2),  # a clipped ramp (all right- or all left-oriented)
        ([1, -2, 1], 0, 3),  # the hat function
        ([F(1, 3), F(1, 6), F(-5, 7)], F(1, 2), 3),
        ([F(1, 3), F(1, 6), F(-5, 7)], F(1, 4), 4),
    ],
)
def test_minimal_neurons_hand_checked(jumps, right_slope, expected):
    jumps = [F(d) for d in jumps]
    for domain in (None, (-1, len(jumps))):
        f = _from_jumps(jumps, F(right_slope), domain)
        assert f.slope_jumps == tuple(jumps)
        assert minimal_neurons(f) == expected
        net = minimal_network(f)
        assert net.num_neurons == expected and net.hidden_widths == (expected,)


def test_minimal_neurons_affine_cases():
    assert minimal_neurons(PL.affine(0, 5)) == 0
    assert minimal_neurons(PL.affine(0, 5, domain=(0, 1))) == 0
    assert minimal_neurons(PL.affine(F(-2, 3), 5)) == 2  # s relu(x) - s relu(-x)
    assert minimal_neurons(PL.affine(F(-2, 3), 5, domain=(0, 1))) == 1  # kink outside [0, 1]
    for f in (PL.affine(0, 5), PL.affine(3, 1), PL.affine(3, 1, domain=(2, 9))):
        net = minimal_network(f)
        assert net.num_neurons == minimal_neurons(f)
        for x in probe_points(f):
            assert net.forward_exact([x]) == (f(x),)


def test_right_oriented_subset_is_a_valid_orientation():
    f = _from_jumps([F(1), F(2), F(-3)], F(3))
    assert sorted(right_oriented_subset(f)) == [0, 1]


def test_max_breakpoints_is_enforced():
    n = 45
    f = PL.from_slopes(range(n), [(-1) ** k * (k + 1) for k in range(n + 1)])
    assert f.left_slope != 0 and f.right_slope != 0
    with pytest.raises(ValueError, match="max_size"):
        minimal_neurons(f)
    assert minimal_neurons(PL.from_slopes(range(n), [0] + [(-1) ** k for k in range(n)])) == n  # s_0 = 0: trivial


@settings(max_examples=200, deadline=None)
@given(functions())
def test_minimal_network_computes_f_exactly(f):
    net = minimal_network(f)
    k = minimal_neurons(f)
    assert net.input_dim == 1 and net.output_dim == 1
    assert net.num_neurons == k
    assert net.hidden_widths == ((k,) if k else ())
    n = f.num_breakpoints
    assert k in ((n, n + 1) if n else (0, 1, 2))
    if n:
        assert (k == n) == (right_oriented_subset(f) is not None)
    for x in probe_points(f):
        assert net.forward_exact([x]) == (f(x),)
    for layer in net.layers:
        assert all(isinstance(q, F) for q in layer.weight_exact.reshape(-1))


@settings(max_examples=100, deadline=None)
@given(functions(bounded=False, max_n=4))
def test_minimal_is_minimal_against_all_orientations(f):
    # n neurons exist iff one orientation per kink reproduces the far-right slope
    n = f.num_breakpoints
    assume(n > 0)
    ds = f.slope_jumps
    exists = any(
        sum((d for d, r in zip(ds, rights) if r), F(0)) == f.right_slope
        for rights in itertools.product((False, True), repeat=n)
    )
    assert minimal_neurons(f) == (n if exists else n + 1)


# ---------------------------------------------------------------------------- depth
def test_depth_threshold():
    assert depth_threshold_ok([3, 3], 16) and not depth_threshold_ok([3, 3], 17)
    assert depth_threshold_ok([1], 2) and not depth_threshold_ok([1], 3)
    assert min_width_for_depth(2, 16) == 3
    assert min_width_for_depth(2, 17) == 4
    assert min_width_for_depth(1, 10, at_least=1) == 9
    assert min_width_for_depth(3, 1, at_least=1) == 1
    assert min_width_for_depth(3, 8) == 3  # (1 + 1)^3 = 8 suffices to count, Thm 5 wants 3
    assert min_width_for_depth(3, 8, at_least=1) == 1
    assert min_width_for_depth(4, 10**40, at_least=1) == 10**10 - 1
    with pytest.raises(ValueError, match="pieces = 0"):
        depth_threshold_ok([3], 0)
    with pytest.raises(ValueError, match="depth = 0"):
        min_width_for_depth(0, 5)
    with pytest.raises(ValueError, match="widths is empty"):
        depth_threshold_ok([], 3)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), st.integers(1, 10**6), st.integers(1, 4))
def test_min_width_for_depth_is_smallest(depth, pieces, at_least):
    w = min_width_for_depth(depth, pieces, at_least=at_least)
    assert w >= at_least and depth_threshold_ok([w] * depth, pieces)
    if w > at_least:
        assert not depth_threshold_ok([w - 1] * depth, pieces)


# ---------------------------------------------------------------------------- sawtooth
@pytest.mark.parametrize("n", [3, 4, 5, 6, 11, 12])
def test_zigzag_layer(n):
    g = zigzag(n)
    assert g.num_breakpoints == n and all(0 < x < 1 for x in g.breakpoints)
    assert g.values == tuple(F(k % 2) for k in range(n))  # 0, 1, 0, ... at the kinks
    assert g(0) == 1 and g(1) in (0, 1)
    assert minimal_neurons(g) == n


def test_sawtooth_validation():
    for bad in ([3, 2], [1], []):
        with pytest.raises(ValueError):
            sawtooth_network(bad)
    with pytest.raises(ValueError, match="Thm 5"):
        sawtooth_network([4, 2, 5])
    with pytest.raises(ValueError, match="Thm 5"):
        sawtooth_segment([2])
    with pytest.raises(ValueError, match="Thm 5"):
        zigzag(2)


@pytest.mark.parametrize("widths", [[3], [3, 3], [4, 3], [3, 4, 5], [5, 5]])
def test_sawtooth_shape_and_range(widths):
    net = sawtooth_network(widths)
    assert net.input_dim == 1 and net.output_dim == 1 and net.hidden_widths == tuple(widths)
    a, b = sawtooth_segment(widths)
    assert a < 0 and 1 < b
    # [0, 1] maps into [0, 1]; outside it the output stays outside [0, 1]
    for x in np.linspace(0, 1, 41):
        assert 0 <= net.forward_exact([F(x)])[0] <= 1
    for x in (F(-1, 10), F(-3), F(11, 10), F(5)):
        y = net.forward_exact([x])[0]
        assert y < 0 or y > 1


# ---------------------------------------------------------------------------- with the 1-D engine
def _pieces(res):
    """Merge adjacent regions with the same affine map: [(t_lo, t_hi, intercept, slope)]."""
    pieces = []
    for r in res.regions:
        m = (F(r.intercept[0]), F(r.slope[0]))
        if pieces and tuple(pieces[-1][2:]) == m and pieces[-1][1] == r.t_lo:
            pieces[-1][1] = r.t_hi
        else:
            pieces.append([r.t_lo, r.t_hi, *m])
    return pieces


@settings(max_examples=60, deadline=None)
@given(functions(max_n=5))
def test_minimal_network_pieces_match_f_on_the_engine(f):
    from exactnet.regions.line import segment_regions

    if f.domain is not None:
        a, b = f.domain
    elif f.breakpoints:
        a, b = f.breakpoints[0] - 2, f.breakpoints[-1] + F(3, 2)
    else:
        a, b = F(-2), F(3)
    net = minimal_network(f)
    res = segment_regions(net, [a], [b], exact=True)
    pieces = _pieces(res)
    assert res.num_pieces == len(pieces) == f.num_pieces
    assert tuple(a + p[0] * (b - a) for p in pieces[1:]) == f.breakpoints
    for (t_lo, t_hi, c, s), slope in zip(pieces, f.slopes):
        assert s / (b - a) == slope  # d/dx of c + s (x - a) / (b - a)
        for t in (t_lo, (t_lo + t_hi) / 2, t_hi):
            assert c + s * t == f(a + t * (b - a))
    if f.breakpoints:  # every neuron sits at a true kink: regions = pieces
        assert res.num_regions == f.num_pieces
        assert tuple(a + t * (b - a) for t in res.breakpoints) == f.breakpoints


def test_affine_minimal_network_has_two_regions_one_piece_on_the_engine():
    from exactnet.regions.line import segment_regions

    net = minimal_network(PL.affine(F(3, 2), -1))  # 3/2 relu(x) - 3/2 relu(-x): both flip at 0
    res = segment_regions(net, [F(-2)], [F(2)], exact=True)
    assert res.num_regions == 2 and res.num_pieces == 1
    assert res.breakpoints == (F(1, 2),)


@pytest.mark.parametrize("widths", [[3], [3, 3], [4, 3], [3, 4, 5], [5, 5]])
def test_sawtooth_region_count_on_the_engine(widths):
    from exactnet.regions.line import segment_regions

    net = sawtooth_network(widths)
    a, b = sawtooth_segment(widths)
    res = segment_regions(net, [a], [b], exact=True)
    expected = prod(w + 1 for w in widths)
    assert res.num_regions == expected
    assert res.num_pieces == expected
    assert res.num_regions <= serra_thm1_upper(1, widths)
    wide = segment_regions(net, [a - 100], [b + 100], exact=True)
    assert wide.num_regions == expected  # the segment holds every breakpoint
