"""The compiled Jonker-Volgenant assignment against scipy's solver, with its optimality
certificate, on random, tied and degenerate cost matrices."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from exactnet.probe import _assignment
from exactnet.probe._assignment import dual_gap, matched_squared_distances, optimal_matching, solve_assignment


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


# --------------------------------------------------------------------------- mixed precision
def _optimal_w2(P, Q):
    C = ((P[:, None, :] - Q[None, :, :]) ** 2).sum(-1)
    r, col = scipy.optimize.linear_sum_assignment(C)
    return C[r, col].sum(), C.max()


def _matched(P, Q, cols):
    assert sorted(np.asarray(cols).tolist()) == list(range(len(P)))
    return ((P - Q[cols]) ** 2).sum()


def _mixed_from_two():
    """Let the mixed-precision path run on small problems too."""
    return mock.patch.object(_assignment, "_MIXED_MIN_N", 2)


def _clouds(data, n, d):
    kind = data.draw(st.sampled_from(["gaussian", "lattice", "near copies", "scaled", "duplicates", "shifted"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    P, Q = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    if kind == "lattice":  # many exact ties
        P, Q = np.round(P), np.round(Q)
    elif kind == "near copies":  # differences far below float32 resolution
        Q = P[rng.permutation(n)] + 1e-9 * rng.standard_normal((n, d))
    elif kind == "scaled":
        s = 10.0 ** data.draw(st.sampled_from([-30, -8, 8, 30]))
        P, Q = P * s, Q * s
    elif kind == "duplicates":
        P = P[rng.integers(0, max(1, n // 4), n)]
        Q = Q[rng.integers(0, max(1, n // 4), n)]
    elif kind == "shifted":  # a large common offset: float32 sees only the offset without the shift
        P, Q = P + 1e4, Q + 1e4
    return P, Q


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mixed_precision_matching_is_optimal(data):
    n = data.draw(st.integers(2, 70))
    d = data.draw(st.integers(2, 12))
    P, Q = _clouds(data, n, d)
    with _mixed_from_two():
        cols, info = optimal_matching(P, Q, return_info=True)
    best, cmax = _optimal_w2(P, Q)
    assert info["path"] in ("mixed", "float64 (fallback)")
    assert abs(_matched(P, Q, cols) - best) <= 1e-9 * cmax * n
    # the float64 path agrees
    assert abs(_matched(P, Q, optimal_matching(P, Q, mixed=False)) - best) <= 1e-9 * cmax * n


def _near_tie_pairs(pairs=40, d=6, eps=3e-6, seed=0):
    """Pairs of points 3e-6 apart on both sides: swapping a pair's partners changes the
    cost by about 1e-11, far below float32's rounding of the costs (1e-6)."""
    rng = np.random.default_rng(seed)
    base_p, base_q = rng.standard_normal((pairs, d)), rng.standard_normal((pairs, d))
    dp, dq = rng.standard_normal((pairs, d)), rng.standard_normal((pairs, d))
    P = np.concatenate([base_p, base_p + eps * dp])
    Q = np.concatenate([base_q, base_q + eps * dq])
    return P, Q


def test_mixed_precision_repairs_what_float32_gets_wrong():
    P, Q = _near_tie_pairs()
    best, cmax = _optimal_w2(P, Q)
    # precondition: the float32 costs alone give a suboptimal matching
    shift = Q.mean(0)
    Ps, Qs = P - shift, Q - shift
    h = 0.5 * (Ps * Ps).sum(1)
    c32 = _assignment._augmented_product(Ps, Qs, h, np.float32, _assignment._no_limit).copy()
    x32, _ = _assignment._lapjv(c32)
    assert _matched(P, Q, x32) > best + 1e-14
    # the certified matching is optimal, and got there by re-augmenting rows
    cols, info = optimal_matching(P, Q, return_info=True)
    assert info["path"] == "mixed" and info["freed_rows"] > 0 and info["passes"] >= 2
    assert abs(_matched(P, Q, cols) - best) <= 1e-12 * cmax


def test_mixed_precision_falls_back_on_massive_ties():
    rng = np.random.default_rng(5)
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    P, Q = corners[rng.integers(0, 4, 400)], corners[rng.integers(0, 4, 400)] + 0.5
    cols, info = optimal_matching(P, Q, return_info=True)
    assert info["path"] == "float64 (fallback)"
    assert _matched(P, Q, cols) == pytest.approx(_optimal_w2(P, Q)[0], rel=1e-12)


def test_matching_of_identical_points_and_small_problems():
    P = np.ones((100, 3))
    cols, info = optimal_matching(P, P.copy(), return_info=True)
    assert sorted(cols.tolist()) == list(range(100)) and info["path"] == "float64"
    rng = np.random.default_rng(2)
    P, Q = rng.standard_normal((10, 3)), rng.standard_normal((10, 3))  # below _MIXED_MIN_N: float64
    cols, info = optimal_matching(P, Q, return_info=True)
    assert info["path"] == "float64" and _matched(P, Q, cols) == pytest.approx(_optimal_w2(P, Q)[0], rel=1e-12)


def test_a_float32_product_that_breaks_its_bound_is_not_trusted(monkeypatch):
    """A BLAS that rounds float32 products more coarsely than IEEE float32 (simulated by
    claiming a far smaller unit roundoff) is caught on the assigned entries: the float64
    path runs instead, and the matching is still optimal."""
    rng = np.random.default_rng(9)
    P, Q = rng.standard_normal((120, 5)), rng.standard_normal((120, 5))
    assert optimal_matching(P, Q, return_info=True)[1]["path"] == "mixed"
    monkeypatch.setattr(_assignment, "_U32", 2.0**-60)
    cols, info = optimal_matching(P, Q, return_info=True)
    assert info["path"] == "float64 (float32 bound failed)"
    assert _matched(P, Q, cols) == pytest.approx(_optimal_w2(P, Q)[0], rel=1e-12)
