"""The compiled exact 2-D engine returns exactly what the Python engine (the definition) does."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exactnet.builtin import benchmark_net
from exactnet.regions._plane_exact import exact_plane, vertex_point, zero_mask_at
from exactnet.regions._plane_exact_kernel import run_plane_exact
from exactnet.regions.plane import Plane, _domain_integers, _ExactSource, parse_domain
from exactnet.strategies import relu_networks


def _canon(raw, net):
    out = {}
    for r in raw:
        S = r.out_scale
        maps = tuple((Fraction(z, S), Fraction(a, S), Fraction(b, S)) for z, a, b in zip(*r.out))
        zms = r.zero_masks if r.zero_masks is not None else [zero_mask_at(r, v, net) for v in r.vertices]
        out[r.pattern] = (frozenset(vertex_point(v) for v in r.vertices), maps,
                          frozenset((vertex_point(v), z) for v, z in zip(r.vertices, zms)))
    return out


def assert_kernel_equals_definition(net, domain=None, plane=None):
    plane = plane or Plane.identity()
    hv, lines = _domain_integers(parse_domain(domain))
    ints = plane.integers()
    got = run_plane_exact(net, *ints, hv, lines)
    ref = exact_plane(net, *ints, hv, lines)
    assert got is not None
    assert len(got) == len(ref)
    assert _canon(got, net) == _canon(ref, net)  # polygons, exact maps, zero masks
    assert _ExactSource(net, got).num_patterns() == _ExactSource(net, ref).num_patterns()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_kernel_equals_definition_random_and_degenerate(data):
    net = data.draw(relu_networks(input_dim=2, max_hidden_layers=3, max_width=6, leaky=data.draw(st.booleans()),
                                  linear_units=data.draw(st.booleans())))
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
