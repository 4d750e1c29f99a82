"""The encodings of activation patterns shared by the region engines (1-D, 2-D, tiling).

A pattern of a network with N neurons (in the order of ``Network.neurons``) is held in
one of four forms, bit k being neuron k (little bit order everywhere):

* a Python ``int`` bitmask (the exact engines): bit k set when neuron k is active;
* a row of uint64 words (the compiled kernels): bit k is bit ``k % 64`` of word ``k // 64``;
* ``bytes`` of packed bits (``np.packbits(..., bitorder="little")``): hashable keys, as
  the tiling and the pattern sets use them;
* a boolean array of shape (N,) (what results show).

The functions here convert between them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["int_to_words", "pack", "unpack_bytes", "unpack_int", "unpack_words", "words_to_int"]

_WORD = (1 << 64) - 1


def unpack_int(bits: int, n: int) -> np.ndarray:
    """The boolean pattern (n,) of an ``int`` bitmask (bit k is neuron k; bits from n on
    are ignored)."""
    bits = int(bits) & ((1 << n) - 1)
    raw = np.frombuffer(bits.to_bytes((n + 7) // 8, "little"), dtype=np.uint8)
    return np.unpackbits(raw, count=n, bitorder="little").astype(bool)


def pack(pattern: ArrayLike) -> bytes:
    """A boolean pattern (n,) as bytes of packed bits (little bit order): a hashable key."""
    return np.packbits(np.asarray(pattern, dtype=bool), bitorder="little").tobytes()


def pack_rows(patterns: np.ndarray) -> np.ndarray:
    """Each row of a (k, n) bool array packed as :func:`pack` does: a (k, ceil(n / 8)) uint8 array."""
    return np.packbits(np.asarray(patterns, dtype=bool), axis=1, bitorder="little")


def unpack_bytes(data: bytes, n: int) -> np.ndarray:
    """The boolean pattern (n,) of bytes made by :func:`pack`."""
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=n, bitorder="little").astype(bool)


def unpack_words(words: np.ndarray, n: int) -> np.ndarray:
    """Boolean patterns (..., n) of uint64 word rows (..., nwords) (one row or many)."""
    w = np.ascontiguousarray(words).astype("<u8")
    as_bytes = w.view(np.uint8).reshape(w.shape[:-1] + (8 * w.shape[-1],))
    return np.unpackbits(as_bytes, axis=-1, count=n, bitorder="little").astype(bool)


def words_to_int(words: ArrayLike) -> int:
    """The ``int`` bitmask of one row of uint64 words."""
    return sum(int(x) << (64 * w) for w, x in enumerate(np.asarray(words).tolist()))


def int_to_words(bits: int, nwords: int) -> np.ndarray:
    """The row of ``nwords`` uint64 words of an ``int`` bitmask (bits beyond are dropped)."""
    return np.array([(int(bits) >> (64 * w)) & _WORD for w in range(nwords)], dtype=np.uint64)
