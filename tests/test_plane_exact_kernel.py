"""The compiled exact 2-D engine returns exactly what the Python engine (the definition) does."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exactnet.builtin import benchmark_net
from exactnet.regions.plane import Plane, parse_domain
from exactnet.regions.plane._exact import exact_plane, vertex_point, zero_mask_at
from exactnet.regions.plane._exact_kernel import run_plane_exact
from exactnet.regions.plane.domain import _domain_integers
from exactnet.regions.plane.sources import _ExactSource
from exactnet.strategies import relu_networks


def _canon(raw, net):
    out = {}
    for r in raw:
        S = r.out_scale
        maps = tuple((Fraction(z, S), Fraction(a, S), Fraction(b, S)) for z, a, b in zip(*r.out))
        zms = r.zero_masks if r.zero_masks is not None else [zero_mask_at(r, v, net) for v in r.vertices]
        out[r.pattern] = (
            frozenset(vertex_point(v) for v in r.vertices),
            maps,
            frozenset((vertex_point(v), z) for v, z in zip(r.vertices, zms)),
        )
    return out


def assert_kernel_equals_definition(net, domain=None, plane=None, **kernel_options):
    plane = plane or Plane.identity()
    hv, lines = _domain_integers(parse_domain(domain))
    ints = plane.integers()
    got = run_plane_exact(net, *ints, hv, lines, **kernel_options)
    ref = exact_plane(net, *ints, hv, lines)
    assert got is not None
    assert len(got) == len(ref)
    assert _canon(got, net) == _canon(ref, net)  # polygons, exact maps, zero masks
    assert _ExactSource(net, got).num_patterns() == _ExactSource(net, ref).num_patterns()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_kernel_equals_definition_random_and_degenerate(data):
    net = data.draw(
        relu_networks(
            input_dim=2,
            max_hidden_layers=3,
            max_width=6,
            leaky=data.draw(st.booleans()),
            linear_units=data.draw(st.booleans()),
        )
    )
    domain = data.draw(st.sampled_from([None, (0, 1, 0, 1), [(-2, -1), (2, -1), (0, 3)]]))
    assert_kernel_equals_definition(net, domain)


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_kernel_equals_definition_on_slices(data):
    net = data.draw(relu_networks(input_dim=3, max_hidden_layers=2, max_width=5))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    a, b, c = (tuple(Fraction(int(k), 2) for k in rng.integers(-3, 4, size=3)) for _ in range(3))
    try:
        plane = Plane.through(a, b, c)
    except ValueError:
        return
    assert_kernel_equals_definition(net, (0, 1, 0, 1), plane)


@pytest.mark.parametrize("spec", ["2-16-16-1", "2-32-32-1", "2-8-8-8-8-3"])
def test_kernel_on_benchmark_nets(spec):
    assert_kernel_equals_definition(benchmark_net(spec, 0))


def test_sixteen_concurrent_lines():
    angles = np.arange(16) * np.pi / 16
    W = np.stack([np.cos(angles), np.sin(angles)], 1)
    from exactnet import Network

    net = Network.from_arrays([W, np.ones((1, 16))], [np.zeros(16), [0.0]])
    assert_kernel_equals_definition(net)


# ----------------------------------------------------------------- lazy exact maps
# The kernel decides signs from certified float maps and makes exact maps only where a
# decision needs them (whole layers, single rows composed from an exact ancestor, outputs
# composed from the output side). Deep narrow networks exercise every path.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_kernel_equals_definition_deep_networks(data):
    net = data.draw(
        relu_networks(
            input_dim=2,
            output_dim=data.draw(st.integers(1, 3)),
            max_hidden_layers=7,
            max_width=5,
            leaky=data.draw(st.booleans()),
            linear_units=data.draw(st.booleans()),
        )
    )
    domain = data.draw(st.sampled_from([None, (0, 1, 0, 1), [(-2, -1), (2, -1), (0, 3)]]))
    assert_kernel_equals_definition(net, domain)


@pytest.mark.parametrize("backward", [True, False])
def test_every_exact_path_is_taken_and_agrees(backward):
    net = benchmark_net("2-8-8-8-8-8-8-1", 0)
    stats: dict = {}
    assert_kernel_equals_definition(net, backward=backward, stats=stats)
    assert stats["float maps"] > 0 and stats["full exact"] > 0 and stats["incremental exact"] > 0
    assert stats["cut retries"] > 0 and stats["exact rows"] > 0
    assert (stats["backward outputs"] > 0) == backward


def test_float_maps_decide_most_signs_on_deep_nets():
    # the point of the lazy maps: on a deep benchmark net most depth-region pairs never
    # need exact maps (full layers made are far fewer than float maps)
    net = benchmark_net("2-16-16-16-16-16-16-1", 0)
    stats: dict = {}
    assert_kernel_equals_definition(net, (-0.5, 0.5, -0.5, 0.5), stats=stats)
    assert stats["full exact"] + stats["incremental exact"] < stats["float maps"]


@pytest.mark.parametrize("scale", [Fraction(10**6), Fraction(1, 10**6), Fraction(1, 3)])
def test_float_certificates_with_inexact_rational_weights(scale):
    # weights k/7 * scale are not floats: the float maps carry the rounding of every
    # weight in their bounds, and the result must still equal the definition exactly
    from exactnet import Layer, Network

    rng = np.random.default_rng(7)
    widths = [2, 5, 5, 5, 5, 1]
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        W = np.array(
            [[Fraction(int(k), 7) * scale for k in row] for row in rng.integers(-9, 10, size=(b, a))], dtype=object
        )
        bias = np.array([Fraction(int(k), 3) * scale for k in rng.integers(-5, 6, size=b)], dtype=object)
        layers.append(Layer(W, bias, 0 if b > 1 else 1))
    net = Network(layers)
    assert_kernel_equals_definition(net, [(-2, -1), (2, -1), (0, 3)])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_float_map_bounds_hold(data):
    # the certificate itself: for a layer with rational weights and float input maps within
    # their bounds of the exact ones, the exact output maps lie within the output bounds
    import exactnet.regions.plane._exact_numbers as K

    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n_in, n_out = data.draw(st.integers(1, 12)), data.draw(st.integers(1, 6))
    mag = data.draw(st.sampled_from([1e-6, 1.0, 1e6]))
    Wq = [
        [Fraction(int(k), int(q)) * Fraction(mag) for k, q in zip(r, qr)]
        for r, qr in zip(rng.integers(-50, 51, (n_out, n_in)), rng.integers(1, 12, (n_out, n_in)))
    ]
    bq = [Fraction(int(k), 3) * Fraction(mag) for k in rng.integers(-50, 51, n_out)]
    slope = [Fraction(int(k), 7) for k in rng.integers(0, 7, n_in)]
    on = rng.integers(0, 2, n_in).astype(bool)
    # exact input maps, and float ones off by up to their bounds ezp
    zq = [[Fraction(float(v)) for v in row] for row in rng.normal(0, 1e3, (n_in, 3))]
    ezp = np.abs(rng.normal(0, 1e-9, (n_in, 3)))
    zfp = np.array([[float(zq[k][m]) + ezp[k, m] * rng.uniform(-1, 1) for m in range(3)] for k in range(n_in)])
    WF = np.array([float(w) for row in Wq for w in row])
    BF = np.array([float(b) for b in bq])
    SF = np.array([float(s) for s in slope])
    is_neuron = np.ones(n_in, np.bool_)
    neuron_bit = np.arange(n_in, dtype=np.int64)
    pat = np.zeros(1, np.uint64)
    for k in range(n_in):
        if on[k]:
            pat[0] |= np.uint64(1) << np.uint64(k)
    zf, ez = np.zeros((n_out, 3)), np.zeros((n_out, 3))
    K._float_preact(
        WF,
        0,
        BF,
        0,
        SF,
        0,
        n_in,
        n_out,
        zfp,
        ezp,
        is_neuron,
        neuron_bit,
        pat,
        np.zeros((n_in, 3)),
        np.zeros((n_in, 3)),
        zf,
        ez,
    )
    for j in range(n_out):
        for m in range(3):
            h = [(1 if on[k] else slope[k]) * zq[k][m] for k in range(n_in)]
            exact = sum((Wq[j][k] * h[k] for k in range(n_in)), bq[j] if m == 0 else Fraction(0))
            assert abs(exact - Fraction(float(zf[j, m]))) <= Fraction(float(ez[j, m]))
