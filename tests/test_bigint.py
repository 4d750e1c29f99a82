"""The numba big integers against Python ints."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exactnet.regions import _bigint as B

ints = st.one_of(
    st.integers(-(2**300), 2**300),
    st.integers(-(2**40), 2**40),
    st.sampled_from([0, 1, -1, 2**24 - 1, 2**24, -(2**24), 2**48, -(2**48), 2**62 - 1, 2**155 - 1, -(2**155)]),
)
LIMBS = 16  # 384 bits


def _fits(v, limbs=LIMBS):
    return abs(v).bit_length() <= B.LIMB_BITS * limbs


def _acc(limbs=LIMBS):
    return np.zeros((2, 2 * limbs + 4), np.int64)


@settings(max_examples=400, deadline=None)
@given(ints, ints, st.booleans())
def test_add_sub_mul_cmp(a, b, neg):
    if not (_fits(a) and _fits(b)):
        return
    X = B.to_pool([a, b, 0, 0], LIMBS)
    ACC = _acc()
    ok = B.bi_add(X, 0, X, 1, X, 2, neg, ACC, 0)
    c = a - b if neg else a + b
    assert ok == _fits(c)
    if ok:
        assert B.get(X, 2) == c
    ok = B.bi_mul(X, 0, X, 1, X, 3, ACC, 0)
    assert ok == _fits(a * b)
    if ok:
        assert B.get(X, 3) == a * b
    assert not ACC.any()  # the accumulator is left clean
    assert B.bi_cmp_mag(X, 0, X, 1) == (abs(a) > abs(b)) - (abs(a) < abs(b))
    if _fits(a + b):  # in place: X[0] += X[1]
        assert B.bi_add(X, 0, X, 1, X, 0, False, ACC, 0)
        assert B.get(X, 0) == a + b


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(ints, ints), min_size=1, max_size=40))
def test_accumulated_dot_product(terms):
    terms = [(a, b) for a, b in terms if _fits(a, 8) and _fits(b, 8)]
    if not terms:
        return
    X = B.to_pool([a for a, _ in terms] + [b for _, b in terms] + [0], 8)
    ACC = _acc(16)
    n = 0
    for k in range(len(terms)):
        n = max(n, B.acc_add_mul(ACC, 0, X, k, X, len(terms) + k))
        if k % 7 == 6:
            n = B.acc_settle(ACC, 0, n)
    Z = np.zeros((1, 2 + 20), np.int64)
    assert B.acc_store(ACC, 0, n, Z, 0)
    assert B.get(Z, 0) == sum(a * b for a, b in terms)


@given(st.integers(-(2**61), 2**61))
def test_set_small(v):
    X = np.zeros((1, 5), np.int64)
    B.bi_set_small(X, 0, v)
    assert B.get(X, 0) == v


def test_negative_powers_of_the_base_and_overflow():
    ACC = _acc(4)
    for v in (-(2**24), -(2**48), -(2**72)):
        X = B.to_pool([v, 1, 0], 4)
        assert B.bi_mul(X, 0, X, 1, X, 2, ACC, 0) and B.get(X, 2) == v
    with pytest.raises(OverflowError):
        B.to_pool([2**100], 2)
    X = B.to_pool([2**40, 2**40, 0], 2)
    assert not B.bi_mul(X, 0, X, 1, X, 2, _acc(2), 0)
    X = B.to_pool([2**48 - 1, 1, 0], 2)
    assert not B.bi_add(X, 0, X, 1, X, 2, False, _acc(2), 0)
