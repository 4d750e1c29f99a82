"""Fixed-capacity signed big integers for numba kernels.

Exact engines need integers of a few hundred bits; Python ints are exact but every
operation costs an allocation and an interpreter round trip. Here a big integer is one row
of a 2-D ``int64`` array (a "pool"):

    X[r, 0]        sign: -1, 0 or +1
    X[r, 1]        number of limbs in use n (0 for zero)
    X[r, 2:2+n]    magnitude, base 2^24, least significant limb first

so a pool of shape (rows, 2 + L) holds ``rows`` integers of up to 24 L bits.

Arithmetic goes through a *signed-digit accumulator*: a row of int64 digits, each any
signed value, meaning sum_i acc[i] 2^(24 i). A limb product is below 2^48, so an
accumulator digit can take 2^14 signed products before it could leave int64: products and
sums are added digit by digit without carries, and one normalisation (carry propagation
with floor division, then sign-magnitude) stores the result. A dot product of k terms of
n-limb integers costs about k n^2 multiply-adds and a single normalisation.

Every store reports overflow (the result needs more than L limbs) by returning False,
leaving the destination unspecified but well-formed; callers then retry with a larger
capacity or fall back to Python integers. Nothing is ever rounded.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["LIMB_BITS", "to_pool", "pool_ints", "from_pool", "put", "get", "capacity_for_bits"]

LIMB_BITS = 24
MASK = (1 << LIMB_BITS) - 1
ACC_SAFE_PRODUCTS = 1 << 14  # signed products an accumulator digit can take safely


def capacity_for_bits(bits: int) -> int:
    """Number of limbs for integers of up to ``bits`` bits."""
    return max(1, -(-int(bits) // LIMB_BITS))


def to_pool(values, limbs: int) -> np.ndarray:
    """A pool holding the Python ints ``values`` (OverflowError if one is too big)."""
    values = [int(v) for v in values]
    n = len(values)
    X = np.zeros((n, 2 + limbs), dtype=np.int64)
    if not n:
        return X
    nbytes = 3 * limbs  # 24-bit limbs are 3 bytes each
    try:
        blob = b"".join(abs(v).to_bytes(nbytes, "little") for v in values)
    except OverflowError:
        big = max(values, key=lambda v: abs(v))
        raise OverflowError(
            f"{abs(big).bit_length()}-bit integer does not fit in {limbs} limbs of {LIMB_BITS} bits"
        ) from None
    b = np.frombuffer(blob, dtype=np.uint8).reshape(n, limbs, 3).astype(np.int64)
    mag = b[:, :, 0] | (b[:, :, 1] << 8) | (b[:, :, 2] << 16)
    X[:, 2:] = mag
    X[:, 0] = np.sign(np.array([(v > 0) - (v < 0) for v in values], dtype=np.int64))
    used = mag != 0
    X[:, 1] = np.where(used.any(axis=1), limbs - np.argmax(used[:, ::-1], axis=1), 0)
    return X


def pool_ints(X: np.ndarray, rows=None) -> list[int]:
    """Python ints of the given rows of a pool (all rows by default), vectorised."""
    X = X if rows is None else X[np.asarray(rows, dtype=np.int64)]
    if len(X) == 0:
        return []
    limbs = X[:, 2:]
    b = np.stack([limbs & 0xFF, (limbs >> 8) & 0xFF, (limbs >> 16) & 0xFF], axis=2).astype(np.uint8)
    b = b.reshape(len(X), -1)
    return [
        (-1 if sg < 0 else 1) * int.from_bytes(row.tobytes(), "little") if sg else 0
        for sg, row in zip(X[:, 0].tolist(), b)
    ]


def put(X: np.ndarray, r: int, v: int) -> None:
    """Store the Python int v in row r of pool X."""
    limbs = X.shape[1] - 2
    mag = -v if v < 0 else v
    n = 0
    X[r, :] = 0
    while mag:
        if n >= limbs:
            raise OverflowError(f"{v.bit_length()}-bit integer does not fit in {limbs} limbs of {LIMB_BITS} bits")
        X[r, 2 + n] = mag & MASK
        mag >>= LIMB_BITS
        n += 1
    X[r, 0] = (v > 0) - (v < 0)
    X[r, 1] = n


def get(X: np.ndarray, r: int) -> int:
    """The Python int in row r of pool X."""
    mag = 0
    for k in range(int(X[r, 1]) - 1, -1, -1):
        mag = (mag << LIMB_BITS) | int(X[r, 2 + k])
    return -mag if X[r, 0] < 0 else mag


def from_pool(X: np.ndarray) -> list[int]:
    return [get(X, r) for r in range(X.shape[0])]


# accumulator primitives are inlined into the few routines that loop over them; the
# operations below them are ordinary calls (inlining everything makes kernels slow to compile)
_inline = njit(cache=True, nogil=True, inline="always")
_jit = njit(cache=True, nogil=True)


# --------------------------------------------------------------------------- accumulator


@_inline
def acc_add(ACC, a, X, r, negate):
    """acc += X[r] (or -X[r]); returns the number of digits touched.

    An accumulator row too short for the operand is left untouched and the returned
    length exceeds the row, which makes the following acc_store report overflow."""
    s = X[r, 0]
    if negate:
        s = -s
    n = X[r, 1]
    if n > ACC.shape[1]:
        return ACC.shape[1] + 1
    if s > 0:
        for i in range(n):
            ACC[a, i] += X[r, 2 + i]
    elif s < 0:
        for i in range(n):
            ACC[a, i] -= X[r, 2 + i]
    return n


@_inline
def acc_add_mul(ACC, a, X, r, Y, s):
    """acc += X[r] * Y[s]; returns the number of digits touched (0 if a factor is 0)."""
    return _acc_mul(ACC, a, X, r, Y, s, X[r, 0] * Y[s, 0])


@_inline
def acc_sub_mul(ACC, a, X, r, Y, s):
    """acc -= X[r] * Y[s]; returns the number of digits touched (0 if a factor is 0)."""
    return _acc_mul(ACC, a, X, r, Y, s, -X[r, 0] * Y[s, 0])


@_inline
def _acc_mul(ACC, a, X, r, Y, s, sg):
    if sg == 0:
        return 0
    nx = X[r, 1]
    ny = Y[s, 1]
    if nx + ny - 1 > ACC.shape[1]:
        return ACC.shape[1] + 1  # too long for the row: nothing written, store will fail
    if sg > 0:
        for i in range(nx):
            xi = X[r, 2 + i]
            for j in range(ny):
                ACC[a, i + j] += xi * Y[s, 2 + j]
    else:
        for i in range(nx):
            xi = X[r, 2 + i]
            for j in range(ny):
                ACC[a, i + j] -= xi * Y[s, 2 + j]
    return nx + ny - 1


@_inline
def acc_settle(ACC, a, n):
    """Propagate carries in place (same value; digits in [0, 2^24) below a signed top
    digit) so that more products can be added; returns the new digit count, -1 if the
    accumulator row is too short."""
    c = 0
    for i in range(n):
        v = ACC[a, i] + c
        ACC[a, i] = v & MASK
        c = v >> LIMB_BITS
    if n > ACC.shape[1]:
        return -1
    if c != 0:
        if n >= ACC.shape[1]:
            return -1
        ACC[a, n] = c
        n += 1
    return n


@_inline
def acc_store(ACC, a, n, Z, q):
    """Z[q] = the accumulator's value (its first n digits); False on overflow.

    The accumulator is left zeroed on its first n digits (ready for reuse)."""
    if n > ACC.shape[1]:  # an operand did not fit the row (see acc_add): overflow
        for i in range(ACC.shape[1]):
            ACC[a, i] = 0
        return False
    c = 0
    for i in range(n):
        v = ACC[a, i] + c
        ACC[a, i] = v & MASK
        c = v >> LIMB_BITS
    while c != 0 and c != -1:
        if n >= ACC.shape[1]:
            for i in range(n):
                ACC[a, i] = 0
            return False
        ACC[a, n] = c & MASK
        c >>= LIMB_BITS
        n += 1
    cap = Z.shape[1] - 2
    if c == -1:
        # value = sum d_i B^i - B^n < 0: magnitude = B^n - sum d_i B^i (two's complement)
        borrow = 1
        for i in range(n):
            v = (MASK - ACC[a, i]) + borrow
            ACC[a, i] = v & MASK
            borrow = v >> LIMB_BITS
        if borrow:  # the value was exactly -2^(24 n)
            if n >= ACC.shape[1]:
                for i in range(n):
                    ACC[a, i] = 0
                return False
            ACC[a, n] = borrow
            n += 1
        sign = -1
    else:
        sign = 1
    top = n
    while top > 0 and ACC[a, top - 1] == 0:
        top -= 1
    ok = top <= cap
    if ok:
        for i in range(top):
            Z[q, 2 + i] = ACC[a, i]
        Z[q, 1] = top
        Z[q, 0] = sign if top > 0 else 0
    for i in range(n):
        ACC[a, i] = 0
    return ok


# --------------------------------------------------------------------------- operations
@_inline
def bi_zero(X, r):
    X[r, 0] = 0
    X[r, 1] = 0


@_inline
def bi_copy(X, r, Y, s):
    """Y[s] = X[r] (Y must have room for X[r]'s limbs)."""
    n = X[r, 1]
    for k in range(n + 2):
        Y[s, k] = X[r, k]


@_jit
def bi_set_small(X, r, v):
    """X[r] = v for |v| < 2^62."""
    m = -v if v < 0 else v
    n = 0
    while m:
        X[r, 2 + n] = m & MASK
        m >>= LIMB_BITS
        n += 1
    X[r, 1] = n
    X[r, 0] = 1 if v > 0 else (-1 if v < 0 else 0)


@_inline
def bi_cmp_mag(X, r, Y, s):
    """Compare |X[r]| with |Y[s]|: -1, 0 or 1."""
    nx = X[r, 1]
    ny = Y[s, 1]
    if nx != ny:
        return 1 if nx > ny else -1
    for k in range(nx + 1, 1, -1):
        a = X[r, k]
        b = Y[s, k]
        if a != b:
            return 1 if a > b else -1
    return 0


@_jit
def bi_add(X, r, Y, s, Z, q, negate_y, ACC, a):
    """Z[q] = X[r] + Y[s] (or - Y[s]); ACC row a is scratch. False on overflow."""
    n1 = acc_add(ACC, a, X, r, False)
    n2 = acc_add(ACC, a, Y, s, negate_y)
    return acc_store(ACC, a, max(n1, n2), Z, q)


@_jit
def bi_mul(X, r, Y, s, Z, q, ACC, a):
    """Z[q] = X[r] * Y[s]; ACC row a is scratch. False on overflow."""
    n = acc_add_mul(ACC, a, X, r, Y, s)
    return acc_store(ACC, a, n, Z, q)
