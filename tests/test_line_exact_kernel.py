"""The compiled exact kernel returns exactly what the Python engine (the definition) does."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exactnet import segment_regions, segment_regions_batch
from exactnet.regions.line._exact import _segment_integers, exact_line
from exactnet.regions.line._exact_kernel import ExactNetData
from exactnet.regions.line._exact_pooled import run_exact
from exactnet.strategies import relu_networks, segments_for


def _same(kernel_line, python_line):
    k, p = kernel_line, python_line
    assert (k.num_regions, k.num_pieces, k.num_patterns) == (p.num_regions, p.num_pieces, p.num_patterns)
    assert k.points == p.points
    assert k.patterns == p.patterns
    assert k.zero_masks == p.zero_masks
    assert k.out_alpha == p.out_alpha and k.out_beta == p.out_beta and k.out_scale == p.out_scale
    assert k.piece_starts() == p.piece_starts()
    for j in range(len(p.out_beta[0])):
        assert k.smp_numerator(j) == sum(abs(d) for d in p.slope_jumps(j))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.booleans())
def test_kernel_equals_python_engine(data, leaky):
    net = data.draw(relu_networks(max_hidden_layers=3, max_width=6, leaky=leaky))
    segs = [data.draw(segments_for(net)) for _ in range(data.draw(st.integers(1, 6)))]
    ints = [_segment_integers(s, e, net.input_dim) for s, e in segs]
    lines, overflowed = run_exact(net, ints, ExactNetData(net))
    assert overflowed == []
    for (s, e), line in zip(segs, lines):
        _same(line, exact_line(net, s, e))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_overflow_is_reported_never_wrong(data):
    # with 3 limbs (72 bits) many segments overflow; those that do not must be exact
    net = data.draw(relu_networks(max_hidden_layers=2, max_width=5, kind="float"))
    segs = [data.draw(segments_for(net, kind="float")) for _ in range(4)]
    ints = [_segment_integers(s, e, net.input_dim) for s, e in segs]
    try:
        lines, overflowed = run_exact(net, ints, ExactNetData(net), limbs=3)
    except OverflowError:  # the inputs themselves do not fit: also a clear report
        return
    for i, ((s, e), line) in enumerate(zip(segs, lines)):
        if i in overflowed:
            assert line is None
        else:
            _same(line, exact_line(net, s, e))


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_exact_batch_equals_single_segments(data):
    net = data.draw(relu_networks(max_hidden_layers=2, max_width=5))
    segs = [data.draw(segments_for(net)) for _ in range(40)]  # above KERNEL_MIN_SEGMENTS
    batch = segment_regions_batch(net, [s for s, _ in segs], [e for _, e in segs], exact=True)
    for i, (s, e) in enumerate(segs):
        single = segment_regions(net, s, e, exact=True)
        got = batch[i]
        assert (got.num_regions, got.num_pieces, got.num_patterns) == (
            single.num_regions,
            single.num_pieces,
            single.num_patterns,
        )
        assert got.breakpoints == single.breakpoints
        assert got.smp == single.smp and got.kinks == single.kinks
        assert [r.pattern.tolist() for r in got.regions] == [r.pattern.tolist() for r in single.regions]
