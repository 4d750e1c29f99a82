"""The 1-D region engines: exact engine against first principles, float against exact."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exactnet import Layer, Network, segment_regions, segment_regions_batch
from exactnet.strategies import (
    degenerate_networks,
    generic_networks,
    relu_networks,
    segments_for,
)
from exactnet.theory.bounds import serra_thm1_upper

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _x(start, end, t):
    return [a + t * (b - a) for a, b in zip(start, end)]


def _check_exact_from_first_principles(net: Network, start, end):
    """Check an exact result using only Network.forward_exact / pattern_exact."""
    res = segment_regions(net, start, end, exact=True)
    regs = res.regions
    ts = [Fraction(0)] + list(res.breakpoints) + [Fraction(1)]
    assert len(regs) == res.num_regions == len(ts) - 1
    assert all(a < b for a, b in zip(ts, ts[1:]))
    realised = set()
    slopes = []
    for r, lo, hi in zip(regs, ts, ts[1:]):
        assert (r.t_lo, r.t_hi) == (lo, hi)
        # the pattern is constant inside the region (checked at three interior points)
        for frac in (Fraction(1, 3), Fraction(1, 2), Fraction(5, 7)):
            t = lo + frac * (hi - lo)
            pat = net.pattern_exact(_x(start, end, t))
            assert np.array_equal(pat, r.pattern)
            assert tuple(net.forward_exact(_x(start, end, t))) == r.output(t)
        # the affine map holds on the closed region (continuity)
        for t in (lo, hi):
            assert tuple(net.forward_exact(_x(start, end, t))) == r.output(t)
        realised.add(r.pattern.tobytes())
        y_lo = net.forward_exact(_x(start, end, lo))
        y_hi = net.forward_exact(_x(start, end, hi))
        slopes.append(tuple((b - a) / (hi - lo) for a, b in zip(y_lo, y_hi)))
    # consecutive regions differ in pattern
    for a, b in zip(regs, regs[1:]):
        assert not np.array_equal(a.pattern, b.pattern)
    # non-empty patterns: those of regions, breakpoints and ends
    for t in ts:
        realised.add(net.pattern_exact(_x(start, end, t)).tobytes())
    assert res.num_patterns == len(realised)
    # pieces and SMP from independently measured slopes
    pieces = 1 + sum(s0 != s1 for s0, s1 in zip(slopes, slopes[1:]))
    assert res.num_pieces == pieces
    for k in range(net.output_dim):
        jumps = [abs(s1[k] - s0[k]) for s0, s1 in zip(slopes, slopes[1:])]
        assert res.smp[k] == sum(jumps, Fraction(0))
        assert res.kinks[k] == tuple(t for t, j in zip(res.breakpoints, jumps) if j)
    return res


def _check_float_equals_exact(net: Network, start, end, fres=None):
    ex = segment_regions(net, start, end, exact=True)
    fl = fres if fres is not None else segment_regions(net, [float(v) for v in start], [float(v) for v in end])
    assert (fl.num_regions, fl.num_pieces, fl.num_patterns) == (ex.num_regions, ex.num_pieces, ex.num_patterns)
    assert len(fl.breakpoints) == len(ex.breakpoints)
    for tf, te, err in zip(fl.breakpoints, ex.breakpoints, fl.breakpoint_errors):
        assert abs(Fraction(tf) - te) <= Fraction(err)
    for rf, re_ in zip(fl.regions, ex.regions):
        assert np.array_equal(rf.pattern, re_.pattern)
        for a, b in zip(rf.slope + rf.intercept, re_.slope + re_.intercept):
            assert math.isclose(a, float(b), rel_tol=1e-9, abs_tol=1e-9 * (1 + abs(float(b))))
    for k in range(net.output_dim):
        assert len(fl.kinks[k]) == len(ex.kinks[k])
        assert math.isclose(fl.smp[k], float(ex.smp[k]), rel_tol=1e-9, abs_tol=1e-12)
    return ex, fl


# ----------------------------------------------------------------- exact engine
@SETTINGS
@given(st.data())
def test_exact_engine_from_first_principles(data):
    net = data.draw(relu_networks(max_hidden_layers=3, max_width=5))
    start, end = data.draw(segments_for(net))
    _check_exact_from_first_principles(net, start, end)


@SETTINGS
@given(st.data())
def test_exact_engine_leaky(data):
    net = data.draw(relu_networks(max_hidden_layers=2, max_width=4, leaky=True))
    start, end = data.draw(segments_for(net))
    _check_exact_from_first_principles(net, start, end)


@SETTINGS
@given(st.data())
def test_exact_engine_with_linear_hidden_layers(data):
    # all-linear hidden layers (unmerged affine layers, residual blocks) and linear units
    # among ReLUs: regression for stale incremental-update state after a linear layer
    net = data.draw(relu_networks(max_hidden_layers=4, max_width=4, linear_units=True))
    start, end = data.draw(segments_for(net))
    _check_exact_from_first_principles(net, start, end)
    _check_float_equals_exact(net, start, end)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_compiled_exact_batch_with_linear_hidden_layers(data):
    # 32+ segments take the compiled exact kernel; it must match the Python engine
    net = data.draw(relu_networks(max_hidden_layers=4, max_width=4, linear_units=True))
    segs = [data.draw(segments_for(net)) for _ in range(32)]
    batch = segment_regions_batch(net, [s for s, _ in segs], [e for _, e in segs], exact=True)
    for i, (s, e) in enumerate(segs):
        one = segment_regions(net, s, e, exact=True)
        assert batch[i].breakpoints == one.breakpoints
        assert [r.pattern.tobytes() for r in batch[i].regions] == [r.pattern.tobytes() for r in one.regions]


# ----------------------------------------------------------------- float == exact
@SETTINGS
@given(st.data())
def test_float_equals_exact_generic(data):
    net = data.draw(generic_networks(max_hidden_layers=3, max_width=8))
    start, end = data.draw(segments_for(net, kind="float"))
    _check_float_equals_exact(net, start, end)


@SETTINGS
@given(st.data())
def test_float_equals_exact_degenerate(data):
    net = data.draw(degenerate_networks(max_hidden_layers=3, max_width=6))
    start, end = data.draw(segments_for(net))
    _check_float_equals_exact(net, start, end)


@SETTINGS
@given(st.data())
def test_float_equals_exact_leaky(data):
    net = data.draw(relu_networks(max_hidden_layers=2, max_width=5, leaky=True))
    start, end = data.draw(segments_for(net))
    _check_float_equals_exact(net, start, end)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_batch_equals_exact_per_segment(data):
    net = data.draw(relu_networks(max_hidden_layers=2, max_width=6))
    segs = [data.draw(segments_for(net)) for _ in range(data.draw(st.integers(1, 12)))]
    starts = [[float(v) for v in s] for s, _ in segs]
    ends = [[float(v) for v in e] for _, e in segs]
    batch = segment_regions_batch(net, starts, ends, threads=2)
    assert len(batch) == len(segs)
    for i, (s, e) in enumerate(segs):
        _check_float_equals_exact(net, s, e, fres=batch[i])
    assert batch.num_regions.sum() == len(batch.t_hi)


def test_rational_weights_not_representable_in_float():
    # 1/3 and 1/7 are rounded in the float arrays; the float mode still returns the
    # exact network's regions (its error bounds include the rounding of the weights)
    rng = np.random.default_rng(3)
    W1 = np.array([[Fraction(int(rng.integers(-5, 6)), 3) for _ in range(2)] for _ in range(6)], dtype=object)
    b1 = np.array([Fraction(int(rng.integers(-5, 6)), 7) for _ in range(6)], dtype=object)
    W2 = np.array([[Fraction(1, 3)] * 6], dtype=object)
    net = Network([Layer(W1, b1), Layer(W2, [Fraction(1, 5)], 1)])
    assert not net.float_is_exact
    for start, end in [((-1, -1), (1, 1)), ((-2, 0.5), (1.5, -0.75)), ((0, -3), (0, 3))]:
        _check_float_equals_exact(net, start, end)


# ----------------------------------------------------------------- bounds and known counts
@SETTINGS
@given(st.data())
def test_counts_never_exceed_bounds(data):
    net = data.draw(relu_networks(max_hidden_layers=3, max_width=6))
    start, end = data.draw(segments_for(net))
    res = segment_regions(net, start, end, exact=True)
    # along a line the network is a network with one input (compose with t -> x(t))
    assert res.num_regions <= serra_thm1_upper(1, net.hidden_widths)
    assert 1 <= res.num_pieces <= res.num_regions <= res.num_patterns
    assert res.num_patterns <= 2 * res.num_regions + 1
    if len(net.hidden_widths) == 1:
        assert res.num_regions <= net.hidden_widths[0] + 1


@SETTINGS
@given(st.integers(1, 12), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_generic_one_hidden_layer_has_m_plus_one_regions(m, n0, seed):
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(m, n0)), rng.normal(size=m)
    net = Network.from_arrays([W, rng.normal(size=(1, m))], [b, rng.normal(size=1)])
    p, d = rng.normal(size=n0), rng.normal(size=n0)
    s = -(W @ p + b) / (W @ d)  # where each hyperplane meets the line p + s d
    lo, hi = s.min() - 1.0, s.max() + 1.0
    start, end = p + lo * d, p + hi * d
    for exact in (True, False):
        res = segment_regions(net, start, end, exact=exact)
        assert res.num_regions == m + 1
        assert res.num_patterns == m + 1


# ----------------------------------------------------------------- named degenerate cases
def _net(W1, b1, W2=None, b2=None, extra=None):
    W1 = np.array(W1, dtype=float)
    W2 = np.ones((1, W1.shape[0])) if W2 is None else np.array(W2, dtype=float)
    b2 = np.zeros(W2.shape[0]) if b2 is None else b2
    Ws, bs = [W1, W2], [b1, b2]
    if extra:
        Ws.append(np.array(extra[0], dtype=float))
        bs.append(extra[1])
    return Network.from_arrays(Ws, bs)


@pytest.mark.parametrize("exact", [True, False])
def test_sixteen_neurons_switching_at_one_point(exact):
    angles = np.arange(16) * np.pi / 16
    W = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    net = _net(W, np.zeros(16), W2=np.arange(1, 17)[None, :])
    res = segment_regions(net, [-1.0, -0.25], [1.0, 0.25], exact=exact)
    assert res.num_regions == 2
    assert res.num_patterns == 3  # at the origin every neuron is zero: a pattern of its own
    assert res.breakpoints == ((Fraction(1, 2),) if exact else (0.5,))
    if not exact:
        assert res.decided_exactly


@pytest.mark.parametrize("exact", [True, False])
def test_neurons_identically_zero_on_the_segment(exact):
    # neuron 0 has a zero row, neuron 1's zero set contains the segment (y = 0)
    net = _net([[0, 0], [0, 1], [1, 0]], [0, 0, 0])
    res = segment_regions(net, [-1, 0], [1, 0], exact=exact)
    # x switches on at 0, where it is zero (inactive), like on the left: no new pattern
    assert res.num_regions == 2 and res.num_patterns == 2
    for r in res.regions:
        assert not r.pattern[0] and not r.pattern[1]


@pytest.mark.parametrize("exact", [True, False])
def test_breakpoints_at_the_segment_ends(exact):
    # x and 1 - x vanish exactly at the ends: no breakpoint inside, but the end patterns
    # (neuron zero there) differ from the region's
    net = _net([[1], [-1]], [0, 1])
    res = segment_regions(net, [0], [1], exact=exact)
    assert res.num_regions == 1 and res.breakpoints == ()
    assert res.num_patterns == 3


@pytest.mark.parametrize("exact", [True, False])
def test_second_layer_switches_at_first_layer_breakpoint(exact):
    # z2 = relu(x) - relu(-x) = x vanishes at x = 0, the first layer's breakpoint
    net = _net([[1], [-1]], [0, 0], W2=[[1, -1]], b2=[0], extra=([[1]], [0]))
    res = segment_regions(net, [-1], [1], exact=exact)
    assert res.num_regions == 2
    assert res.num_patterns == 3  # (0,1,0) | (0,0,0) at x = 0 | (1,0,1)
    # z2 = relu(x) + relu(-x) = |x| touches zero at x = 0 without changing sign
    net = _net([[1], [-1]], [0, 0], W2=[[1, 1]], b2=[0], extra=([[1]], [0]))
    res = segment_regions(net, [-1], [1], exact=exact)
    assert res.num_regions == 2 and res.num_patterns == 3
    assert all(r.pattern[2] for r in res.regions)


@pytest.mark.parametrize("exact", [True, False])
def test_duplicated_and_negated_rows(exact):
    net = _net([[1, 2], [1, 2], [-1, -2], [2, 4]], [0.5, 0.5, -0.5, 1.0])
    res = segment_regions(net, [-1, -1], [1, 1], exact=exact)
    assert res.num_regions == 2 and res.num_patterns == 3


@pytest.mark.parametrize("exact", [True, False])
def test_pieces_differ_from_regions_when_downstream_is_dead(exact):
    # the second neuron feeds nothing: its switch is a breakpoint but not a kink
    net = _net([[1], [1]], [0, -0.5], W2=[[1, 0]], b2=[0])
    res = segment_regions(net, [-1], [1], exact=exact)
    assert (res.num_regions, res.num_pieces) == (3, 2)
    assert len(res.kinks[0]) == 1
    assert res.smp[0] == 2  # slope 0 -> 2 (per unit t, the segment has length 2)


# ----------------------------------------------------------------- errors and API
def test_bad_input_errors():
    net = _net([[1, 0]], [0])
    with pytest.raises(ValueError, match="zero length"):
        segment_regions(net, [0, 0], [0, 0])
    with pytest.raises(ValueError, match="zero length"):
        segment_regions(net, [0, 0], [0, 0], exact=True)
    with pytest.raises(ValueError, match="input dimension"):
        segment_regions(net, [0, 0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match="NaN or infinite"):
        segment_regions(net, [0, float("nan")], [1, 1])
    with pytest.raises(ValueError, match="finite"):
        segment_regions(net, [0, float("inf")], [1, 1], exact=True)
    with pytest.raises(TypeError, match="Network"):
        segment_regions("net", [0, 0], [1, 1])
    with pytest.raises(ValueError, match="one end per start"):
        segment_regions_batch(net, [[0, 0], [1, 1]], [[1, 0]])


def test_nan_weights_raise():
    with pytest.raises(ValueError, match=r"W0/b0\.weight\[0, 1\]|weight"):
        Network.from_arrays([np.array([[1.0, np.nan]]), np.ones((1, 1))], [np.zeros(1), np.zeros(1)])


def test_json_and_table():
    net = _net([[1], [-1]], [Fraction(1, 3), Fraction(1, 5)])
    res = segment_regions(net, [-1], [1], exact=True)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["regions"] == 3 and d["pieces"] == 3 and d["patterns"] == 3
    assert d["breakpoints"] == ["1/3", "3/5"]  # x = -1/3 and x = 1/5
    assert d["smp"] == ["4"]  # jumps of 2 (per unit t) at each kink
    assert "t_lo" in res.table()
    fl = segment_regions(net, [-1], [1])
    assert json.loads(json.dumps(fl.to_dict()))["breakpoints"] == pytest.approx([1 / 3, 0.6])
    assert fl.point(0.5) == (0.0,)
    assert len(res.pieces) == 3 and res.pieces[0].first == 0


# ----------------------------------------------------------------- random-init statistics
def test_mean_region_count_at_he_init_is_about_one_plus_neurons():
    """Hanin & Rolnick (ICML 2019); Kogan, Jananthan, Kepner (arXiv 2512.08091): with He
    initialisation (weights N(0, 2 / fan_in)) and nonzero biases (here N(0, 0.1)), a
    1-input network has on average about 1 + N regions on a long segment, N the number of
    neurons, far below prod(n_l + 1). Stated tolerance: the mean over 40 seeds lies within
    10% of 1 + N; the standard error of that mean is about 2.3% (1.1 regions), so this is
    a margin of four standard errors."""
    widths = [16, 16, 16]
    expected = 1 + sum(widths)
    counts = []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        Ws, bs = [], []
        fan_in = 1
        for w in widths + [1]:
            Ws.append(rng.normal(0, math.sqrt(2 / fan_in), size=(w, fan_in)))
            bs.append(rng.normal(0, math.sqrt(0.1), size=w))
            fan_in = w
        net = Network.from_arrays(Ws, bs)
        counts.append(segment_regions(net, [-50.0], [50.0]).num_regions)
    mean = float(np.mean(counts))
    assert abs(mean - expected) <= 0.10 * expected, (mean, expected)
    assert mean < 0.05 * math.prod(w + 1 for w in widths)


# ----------------------------------------------------------------- values beyond float64's range
def _rounded(q):
    """The IEEE rounding of an exact rational: +-inf beyond float64's range."""
    try:
        return float(q)
    except OverflowError:
        return math.inf if q > 0 else -math.inf


@pytest.mark.parametrize("scales", [(1e200, 1e200), (1e308, 1.0), (1.0, 1e308), (1e300, 1e10, 1e-20), (1e-200, 1e-200)])
def test_huge_and_tiny_weights_fast_equals_exact(scales):
    """Weights of 1e200 in two consecutive layers (or 1e308 in one) used to raise
    OverflowError inside the float rows of the fast mode; its segments are now decided by
    the exact engine, with the counts and patterns of the exact mode and its output maps
    rounded to float64 (+-inf beyond its range, with a warning)."""
    rng = np.random.default_rng(len(scales))
    widths = [2] + [3] * (len(scales) - 1) + [1]
    ws = [
        rng.choice([-1.0, 1.0], (o, i)) * rng.uniform(0.5, 1.7, (o, i)) * s
        for i, o, s in zip(widths[:-1], widths[1:], scales)
    ]
    net = Network.from_arrays(ws, [rng.standard_normal(o) for o in widths[1:]])
    start, end = [-1.0, -0.5], [1.0, 0.75]
    ex = segment_regions(net, start, end, exact=True)
    overflow = any(abs(_rounded(v)) == math.inf for r in ex.regions for v in r.intercept + r.slope)
    if overflow:
        with pytest.warns(RuntimeWarning, match="beyond float64's range"):
            fl = segment_regions(net, start, end)
    else:
        fl = segment_regions(net, start, end)
    assert (fl.num_regions, fl.num_pieces, fl.num_patterns) == (ex.num_regions, ex.num_pieces, ex.num_patterns)
    for f, e in zip(fl.regions, ex.regions):
        assert (f.pattern == e.pattern).all()
        for got, exact in zip(f.intercept + f.slope, e.intercept + e.slope):
            if fl.decided_exactly or math.isinf(_rounded(exact)):
                assert got == _rounded(exact)
            else:
                assert got == pytest.approx(_rounded(exact), rel=1e-9, abs=1e-300)
    for t, err, te in zip(fl.breakpoints, fl.breakpoint_errors, ex.breakpoints):
        assert abs(t - te) <= err
    assert [_rounded(v) for v in ex.smp] == pytest.approx(list(fl.smp), rel=1e-9)
    assert overflow or scales[0] != 1e200  # 1e200 x 1e200: outputs near 1e400 at least somewhere
