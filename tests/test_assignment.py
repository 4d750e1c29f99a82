"""The compiled Jonker-Volgenant assignment against scipy's solver, with its optimality
certificate, on random, tied and degenerate cost matrices."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from exactnet.probe._assignment import dual_gap, matched_squared_distances, solve_assignment


def _optimum(c):
    r, col = scipy.optimize.linear_sum_assignment(c)
    return c[r, col].sum()


def _check(c):
    col, prices = solve_assignment(c)
    n = len(c)
    assert sorted(col.tolist()) == list(range(n))
    scale = np.abs(c).max() + 1 if n else 1
    assert c[np.arange(n), col].sum() == pytest.approx(_optimum(c), abs=1e-9 * scale * max(n, 1))
    gap, cmax = dual_gap(c, col, prices)
    assert gap <= 1e-9 * scale and cmax == (np.abs(c).max() if n else 0.0)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_equals_scipy_on_random_and_tied_costs(data):
    n = data.draw(st.integers(1, 25))
    kind = data.draw(st.sampled_from(["float", "small ints", "rank two", "constant rows"]))
    if kind == "float":
        c = data.draw(arrays(np.float64, (n, n), elements=st.floats(-1e3, 1e3, allow_nan=False)))
    elif kind == "small ints":
        c = data.draw(arrays(np.int64, (n, n), elements=st.integers(0, 2))).astype(float)
    elif kind == "rank two":  # an inner-product cost with many ties, as in W2 of lattice points
        P = data.draw(arrays(np.int64, (n, 2), elements=st.integers(-2, 2))).astype(float)
        Q = data.draw(arrays(np.int64, (n, 2), elements=st.integers(-2, 2))).astype(float)
        c = -(P @ Q.T)
    else:
        c = np.repeat(data.draw(arrays(np.float64, (n, 1), elements=st.floats(-5, 5))), n, axis=1)
    _check(c)


@pytest.mark.parametrize("n", [1, 2, 300])
def test_degenerate_matrices(n):
    _check(np.zeros((n, n)))
    _check(np.ones((n, n)) * 1e12)
    rng = np.random.default_rng(n)
    _check(rng.standard_normal((n, n)) * 1e-12)
    _check(np.round(rng.standard_normal((n, n)), 1))


def test_dense_random_instance():
    rng = np.random.default_rng(0)
    P, Q = rng.standard_normal((600, 16)), rng.standard_normal((600, 16))
    _check(-(P @ Q.T))


def test_certificate_detects_a_suboptimal_assignment():
    c = np.array([[0.0, 1.0], [1.0, 0.0]])
    col, prices = solve_assignment(c)
    assert col.tolist() == [0, 1]
    assert dual_gap(c, [1, 0], prices)[0] > 0.5


def test_errors():
    with pytest.raises(ValueError, match="square"):
        solve_assignment(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        solve_assignment(np.array([[np.nan]]))
    with pytest.raises(ValueError, match="permutation"):
        dual_gap(np.zeros((2, 2)), [0, 0], np.zeros(2))
    assert solve_assignment(np.zeros((0, 0)))[0].shape == (0,)


def test_matched_squared_distances():
    rng = np.random.default_rng(1)
    P, Q = rng.standard_normal((50, 7)), rng.standard_normal((50, 7))
    cols = rng.permutation(50)
    assert np.allclose(matched_squared_distances(P, Q, cols), ((P - Q[cols]) ** 2).sum(1), rtol=1e-14, atol=0)
