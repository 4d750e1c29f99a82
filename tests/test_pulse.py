"""The pulse / disk radius task: data, analytic networks, and the exact verifier."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from exactnet import Layer, Network, UnsupportedLayerError
from exactnet.cli import main
from exactnet.pulse import (
    GlobalSumPool,
    all_constructions,
    disk_image,
    disk_network,
    disk_real_radii,
    disks,
    float_errors,
    lattice_count,
    lemma1_instance,
    lemma1_network,
    lemma1_readout,
    lemma2_clamp,
    lemma2_relu,
    pulse_signal,
    pulses,
    verify,
)
from exactnet.theory.thresholds import minimal_neurons


# ----------------------------------------------------------------- data
def test_exact_signals():
    assert pulse_signal(3, 1, Fraction(1, 3)) == [0, 0, Fraction(1, 3), Fraction(1, 3), Fraction(1, 3), 0, 0]
    assert pulse_signal(2, 0) == [0, 0, 1, 0, 0]
    img = np.array(disk_image(3, 1, 2), dtype=object).reshape(7, 7)
    assert img.sum() == 2 * 5 and img[3, 3] == 2 and img[2, 2] == 0 and img[3, 4] == 2


def test_lattice_count_is_the_gauss_circle_count():
    for r in [0, 1, 2, 3, 5, 8, Fraction(3, 2), Fraction(7, 3), 2.5]:
        k = int(float(r)) + 1
        brute = sum(1 for i in range(-k, k + 1) for j in range(-k, k + 1) if i * i + j * j <= Fraction(r) ** 2)
        assert lattice_count(r) == brute
    assert [lattice_count(r) for r in range(5)] == [1, 5, 13, 29, 49]
    with pytest.raises(ValueError, match="r must be >= 0"):
        lattice_count(-1)


def test_torch_generators():
    x, r = pulses(5, 4, amplitude=2.0)
    assert x.shape == (5, 1, 11) and r.tolist() == [0, 1, 2, 3, 4]
    assert torch.equal(x.sum(dim=(1, 2)), 2.0 * (2 * r + 1))
    x, r = pulses(6, 5, n=200, r_min=1, amplitude=(1.0, 3.0), seed=1)
    assert x.shape == (200, 1, 13) and r.min() >= 1 and r.max() <= 5
    amps = x.amax(dim=(1, 2))
    assert ((amps >= 1.0) & (amps <= 3.0)).all() and amps.std() > 0.1
    xn, _ = pulses(6, 5, n=200, r_min=1, amplitude=(1.0, 3.0), seed=1, noise=0.1)
    assert 0.05 < (xn - x).std() < 0.15
    x, r = disks(4, 3, amplitude=1.0)
    assert x.shape == (4, 1, 9, 9)
    assert x.sum(dim=(1, 2, 3)).tolist() == [lattice_count(int(v)) for v in r]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: pulses(0, 0), "M must be an integer >= 1"),
        (lambda: pulses(3, 4), "radius 4 too large"),
        (lambda: disks(3, 3), "disk must fit"),
        (lambda: pulses(3, 2, amplitude=0.0), "amplitude must be > 0"),
        (lambda: pulses(3, 2, amplitude=(2.0, 1.0)), "a_min <= a_max"),
        (lambda: pulses(3, 2, noise=-1.0), "noise must be >= 0"),
        (lambda: pulses(3, 2, r_min=3), "r_min <= r_max"),
    ],
)
def test_generator_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------- Lemma 1
def _window_sum(w, b, M, r):
    """S(r) by direct convolution over the pulse (no formula)."""
    x = pulse_signal(M, r)
    k = len(w)
    return sum(max(sum(wi * xi for wi, xi in zip(w, x[p : p + k])) + b, 0) for p in range(len(x) - k + 1))


rationals = st.fractions(min_value=-2, max_value=2, max_denominator=4)


@settings(max_examples=80, deadline=None)
@given(st.lists(rationals, min_size=1, max_size=4), rationals, st.integers(5, 9))
def test_lemma1_family_is_exact_for_any_filter(w, b, M):
    k = len(w)
    slope = 2 * (max(sum(w) + b, 0) - max(b, 0))
    if slope == 0:
        with pytest.raises(ValueError, match="does not depend on r"):
            lemma1_readout(w, b, M)
        return
    alpha, beta, (lo, hi) = lemma1_readout(w, b, M)
    assert alpha * slope == 1
    # the window count of Lemma 1 against a direct convolution, on every admissible radius
    for r in range(lo, hi + 1):
        assert alpha * _window_sum(w, b, M, r) + beta == r
    c = lemma1_network(w, b, M)
    assert c.radii == (lo, hi) == ((k) // 2, M - k + 1)
    v = verify(c)
    assert v.exact and v.worst_error == 0 and not v.failures


def test_lemma1_instance_and_its_failure_at_zero():
    c = lemma1_instance(7)
    assert verify(c).exact and c.radii == (1, 7)
    v = verify(c, radii=(0, 7))
    assert not v.exact and v.worst_error == Fraction(1, 2) and v.worst_input == (0, 1)
    assert [(f.r, f.y) for f in v.failures] == [(0, Fraction(1, 2))]
    assert "NOT exact" in str(v)
    # the torch module is the same network (dyadic weights)
    assert verify(c.module, kind="pulse", M=7, radii=(1, 7), amplitude=1).exact


def test_perturbed_readout_is_reported_with_its_failing_inputs():
    c = lemma1_instance(6)
    with torch.no_grad():
        c.module[3].weight += 2.0**-10
    v = verify(c.module, kind="pulse", M=6, radii=(1, 6), amplitude=1, name="perturbed")
    assert not v.exact and len(v.failures) == 6
    # S = 2r - 1 at radius r, so the error is 2^-10 (2r - 1), largest at r = 6
    assert v.worst_input == (6, 1) and v.worst_error == Fraction(11, 1024)
    assert all(f.error == Fraction(2 * f.r - 1, 1024) for f in v.failures)


def test_lemma1_errors():
    with pytest.raises(ValueError, match="leaves no radius"):
        lemma1_readout([1, 1, 1, 1, 1], -1, 4)
    with pytest.raises(ValueError, match="M >= 2"):
        lemma1_instance(1)


# ----------------------------------------------------------------- Lemma 2
@pytest.mark.parametrize("a_min", [Fraction(1), Fraction(1, 2), Fraction(1, 3), Fraction(7, 5)])
@pytest.mark.parametrize("make", [lemma2_relu, lemma2_clamp])
def test_lemma2_is_exact_on_the_whole_amplitude_range(make, a_min):
    c = make(6, a_min, 10 * a_min)
    v = verify(c)
    assert v.exact and set(v.pieces) == set(range(7))
    assert all(n == 1 for n in v.pieces.values())  # one constant piece along every amplitude segment
    if a_min.denominator in (1, 2):  # float weights: the torch module is the same network
        assert verify(c.module, kind="pulse", M=6, radii=(0, 6), amplitude=(a_min, 10 * a_min)).exact


def test_lemma2_below_a_min_fails_on_an_interval_of_amplitudes():
    # built for a_min = 2, checked on [1, 4]: below 2 the clamp is not yet 1
    c = lemma2_clamp(5, 2, 4)
    v = verify(c, amplitude=(1, 4))
    assert not v.exact
    assert {f.r for f in v.failures} == set(range(6))
    for f in v.failures:
        assert (f.a_lo, f.a_hi) == (1, 2) and f.a == 1
        # at a = 1 each sample gives 1/2: S = (2r + 1)/2, y = (S - 1)/2
        assert f.y == (Fraction(2 * f.r + 1, 2) - 1) / 2
    assert v.worst_input[1] == 1


def test_smooth_activations_do_not_lower_and_are_measured_in_float():
    m = torch.nn.Sequential(torch.nn.Conv1d(1, 1, 1), torch.nn.Sigmoid(), GlobalSumPool((-1,)), torch.nn.Linear(1, 1))
    with pytest.raises(UnsupportedLayerError, match="Sigmoid"):
        verify(m, kind="pulse", M=4, radii=(0, 4), amplitude=(1, 4))
    res = float_errors(m, kind="pulse", M=4, radii=(0, 4), amplitude=(1, 4))
    assert res["max_error"] > 0.01 and set(res["per_radius"]) == set(range(5))
    exact = lemma2_clamp(4)
    assert float_errors(exact.module, kind="pulse", M=4, radii=(0, 4), amplitude=(1, 4))["max_error"] < 1e-12


# ----------------------------------------------------------------- the disk
@pytest.mark.parametrize("M", [2, 3, 5, 7])
def test_disk_network_is_exact_with_the_minimal_readout(M):
    c = disk_network(M)
    v = verify(c)
    assert v.exact and v.radii == (0, M - 1)
    f = c.info["readout"]
    assert c.info["readout_neurons"] == minimal_neurons(f)
    assert c.info["lattice_counts"] == [lattice_count(r) for r in range(M)]
    hidden = list(c.network.layers[1:-1])
    assert sum(layer.out_features for layer in hidden) == c.info["readout_neurons"]


def test_disk_real_radii_errors_are_exact_per_interval():
    c = disk_network(5)
    res = disk_real_radii(c, M=5, R=4)
    sums = sorted({i * i + j * j for i in range(5) for j in range(5) if i * i + j * j <= 16})
    assert [n for n, _, _ in res["intervals"]] == sums
    # on integer radii the output is r; between them the image does not change
    for n_lo, _, y in res["intervals"]:
        if int(n_lo**0.5) ** 2 == n_lo:
            assert y == int(n_lo**0.5)
    assert 0.5 <= res["sup_error"] <= 1.0


def test_wrong_disk_readout_is_reported():
    c = disk_network(4)
    layers = list(c.network.layers)
    out = layers[-1]
    layers[-1] = Layer(out.weight_exact, out.bias_exact + Fraction(1, 100), 1)
    v = verify(Network(layers, name="shifted"), kind="disk", M=4, radii=(0, 3), amplitude=(1, 4))
    assert not v.exact and v.worst_error == Fraction(1, 100) and len(v.failures) == 4


def test_verify_errors():
    c = lemma2_relu(4)
    with pytest.raises(ValueError, match="kind"):
        verify(c.network, kind="ring", M=4, radii=(0, 4), amplitude=1)
    with pytest.raises(ValueError, match="pass kind"):
        verify(c.network)
    with pytest.raises(ValueError, match="inputs"):
        verify(c.network, kind="pulse", M=5, radii=(0, 4), amplitude=1)
    with pytest.raises(ValueError, match="r_lo <= r_hi"):
        verify(c, radii=(3, 1))
    with pytest.raises(ValueError, match="too large"):
        verify(c, radii=(0, 9))
    with pytest.raises(TypeError, match="Construction"):
        verify("net", kind="pulse", M=4, radii=(0, 4), amplitude=1)


# ----------------------------------------------------------------- command line
def test_cli_pulse_verify_json(capsys):
    assert main(["pulse", "verify", "--json", "--sizes", "3,4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verified"] == {
        "lemma1_instance": True,
        "lemma2_relu": True,
        "lemma2_clamp": True,
        "disk": True,
        "lemma1_family": True,
    }
    assert len(out["constructions"]) == len(all_constructions(3)) + len(all_constructions(4))
    assert all(c["verified"] for c in out["constructions"])
    assert [k["worst_input"] for k in out["known_failures"]] == [{"r": 0, "a": "1"}] * 2


def test_cli_pulse_verify_text(capsys):
    assert main(["pulse", "verify", "--sizes", "3", "--a-min", "1/2", "--a-max", "3"]) == 0
    text = capsys.readouterr().out
    assert "lemma2_clamp: pulse, M = 3, r = 0..3, a in [1/2, 3]: EXACT" in text
    assert "NOT exact: worst error 1/2" in text


def test_amplitude_range_as_a_list_or_a_tuple():
    from exactnet.pulse import disks, pulses

    for gen in (pulses, disks):
        x_list, r_list = gen(4, 3, 20, amplitude=[1, 4], seed=2)
        x_tuple, r_tuple = gen(4, 3, 20, amplitude=(1, 4), seed=2)
        assert torch.equal(x_list, x_tuple) and torch.equal(r_list, r_tuple)
        assert len({round(float(v), 6) for v in x_list.amax(dim=tuple(range(1, x_list.dim())))}) > 1
