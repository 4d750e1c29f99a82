"""Exact region bounds: test vectors, a brute-force check of Serra Thm 1, and properties."""

import itertools
from math import comb, prod

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exactnet.theory import (
    all_bounds,
    montufar2014_lower,
    montufar2017_upper,
    serra_thm1_upper,
    serra_thm5_1d,
    serra_thm6_lower,
    zaslavsky,
    zaslavsky_rank,
)


@pytest.mark.parametrize(
    "n0, widths, expected",
    [(1, [4, 5, 6], 210), (2, [2, 2, 2], 30), (2, [6, 6, 6], 10648), (2, [16, 16, 16], 2571353), (3, [3, 3], 42)],
)
def test_serra_thm1_vectors(n0, widths, expected):
    assert serra_thm1_upper(n0, widths) == expected


@pytest.mark.parametrize("m, d, expected", [(8, 2, 37), (16, 2, 137), (10, 3, 176), (0, 0, 1), (3, 5, 8)])
def test_zaslavsky_vectors(m, d, expected):
    assert zaslavsky(m, d) == expected


def test_small_hand_values():
    assert montufar2014_lower(2, [4, 4, 6]) == 4 * 4 * zaslavsky(6, 2)
    assert montufar2017_upper(3, [5, 2, 4]) == zaslavsky(5, 3) * zaslavsky(2, 2) * zaslavsky(4, 2)
    assert serra_thm5_1d([3, 4, 5]) == 120
    assert serra_thm6_lower(2, [6, 7, 8]) == 4**2 * 4**2 * zaslavsky(8, 2)
    assert zaslavsky_rank(16, 2) == 137
    assert isinstance(serra_thm1_upper(2, [16, 16, 16]), int)


def test_serra_thm1_is_fast_on_wide_nets():
    # 100 layers of width 1000 would be hopeless by enumerating J; the DP is instant
    assert serra_thm1_upper(3, [1000] * 100) > 10**300


def _serra_brute_force(n0, widths):
    total = 0
    for js in itertools.product(*(range(w + 1) for w in widths)):
        bound, ok = n0, True
        for j, w in zip(js, widths):
            if j > min(bound, w):
                ok = False
                break
            bound = min(bound, w - j)
        if ok:
            total += prod(comb(w, j) for j, w in zip(js, widths))
    return total


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.lists(st.integers(1, 6), min_size=1, max_size=4))
def test_serra_thm1_matches_enumeration_of_J(n0, widths):
    assert serra_thm1_upper(n0, widths) == _serra_brute_force(n0, widths)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 5), st.lists(st.integers(1, 24), min_size=1, max_size=5))
def test_lower_bounds_below_upper_bounds(n0, widths):
    b = all_bounds(n0, widths)
    lowers = [
        b[k] for k in ("zaslavsky", "montufar2014_lower", "serra_thm6_lower", "serra_thm5_1d") if b[k] is not None
    ]
    assert b["serra_thm1_upper"] <= b["montufar2017_upper"]
    for low in lowers:
        assert low <= b["serra_thm1_upper"]
    if len(widths) == 1:  # one layer: every bound is Zaslavsky's exact count
        assert serra_thm1_upper(n0, widths) == montufar2017_upper(n0, widths) == zaslavsky(widths[0], n0)
    if n0 == 1:  # a width-1 layer can use up the single dimension, so only <= in general
        assert b["serra_thm1_upper"] <= prod(w + 1 for w in widths)
        if min(widths) >= 2:
            assert b["serra_thm1_upper"] == prod(w + 1 for w in widths)
    if b["serra_thm5_1d"] is not None:
        assert b["serra_thm5_1d"] == b["serra_thm1_upper"] == b["serra_thm6_lower"]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 30), st.integers(0, 30))
def test_zaslavsky_properties(m, d):
    r = zaslavsky(m, d)
    assert r == (2**m if d >= m else sum(comb(m, j) for j in range(d + 1)))
    if m >= 1 and d >= 1:  # Pascal-type recursion r(m, d) = r(m-1, d) + r(m-1, d-1)
        assert r == zaslavsky(m - 1, d) + zaslavsky(m - 1, d - 1)


def test_all_bounds_marks_failed_hypotheses_none():
    b = all_bounds(2, [3, 8])
    assert b["serra_thm6_lower"] is None and b["zaslavsky"] is None and b["serra_thm5_1d"] is None
    assert b["montufar2014_lower"] == 1**2 * zaslavsky(8, 2)
    assert all_bounds(2, [1, 8])["montufar2014_lower"] is None
    assert set(all_bounds(1, [3])) == {
        "zaslavsky",
        "montufar2014_lower",
        "serra_thm6_lower",
        "serra_thm5_1d",
        "serra_thm1_upper",
        "montufar2017_upper",
    }


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: serra_thm1_upper(2, []), ValueError, "widths is empty"),
        (lambda: serra_thm1_upper(2, [3, -1]), ValueError, "widths[1] = -1"),
        (lambda: serra_thm1_upper(0, [3]), ValueError, "n0 = 0"),
        (lambda: serra_thm1_upper(2, 3), TypeError, "pass a list"),
        (lambda: serra_thm1_upper(2, [3.0]), TypeError, "widths[0]"),
        (lambda: serra_thm1_upper(True, [3]), TypeError, "n0"),
        (lambda: montufar2017_upper(-1, [3]), ValueError, "n0"),
        (lambda: zaslavsky(-1, 2), ValueError, "m = -1"),
        (lambda: zaslavsky(3, -2), ValueError, "d = -2"),
        (lambda: zaslavsky_rank(3, 4), ValueError, "rank = 4"),
        (lambda: serra_thm5_1d([3, 2]), ValueError, "n_l >= 3"),
        (lambda: serra_thm6_lower(2, [6, 5]), ValueError, "3 * n0 = 6"),
        (lambda: montufar2014_lower(3, [2, 4]), ValueError, ">= n0 = 3"),
    ],
)
def test_errors_name_the_argument(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)
