"""Exact bounds on the number of linear regions of ReLU networks.

Every function returns a Python ``int`` computed exactly (no floats, no overflow).

Notation (as in docs/definitions.md): input dimension ``n0`` = n_0,
hidden widths ``widths`` = (n_1, ..., n_L). A *region* is a maximal set with nonempty
interior on which the activation pattern is constant.

Sources
-------
- T. Zaslavsky, "Facing up to arrangements", Mem. AMS 154 (1975): m hyperplanes in R^d
  cut it into at most r(m, d) = sum_{j=0..d} C(m, j) regions (equality in general position).
- G. Montufar, R. Pascanu, K. Cho, Y. Bengio, "On the number of linear regions of deep
  neural networks", NeurIPS 2014 (lower bound for rectifier networks).
- G. Montufar, "Notes on the number of linear regions of deep neural networks", 2017
  (upper bound).
- T. Serra, C. Tjandraatmadja, S. Ramalingam, "Bounding and counting linear regions of deep
  neural networks", ICML 2018, arXiv 1711.02114: Thm 1 (upper bound), Thm 5 (exact maximum
  in one dimension), Thm 6 (lower bound).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from math import comb, prod

__all__ = [
    "zaslavsky",
    "zaslavsky_rank",
    "montufar2014_lower",
    "montufar2017_upper",
    "serra_thm1_upper",
    "serra_thm5_1d",
    "serra_thm6_lower",
    "all_bounds",
]


# ---------------------------------------------------------------------------- validation
def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} = {value}; it must be an integer >= {minimum}")
    return value


def _check_n0(n0) -> int:
    if isinstance(n0, numbers.Integral) and not isinstance(n0, bool) and int(n0) < 1:
        raise ValueError(f"n0 = {int(n0)}; the input dimension n0 must be >= 1 (a network needs at least one input)")
    return _check_int(n0, "n0", 1)


def _check_widths(widths) -> tuple[int, ...]:
    """Validate hidden widths n_1..n_L: a non-empty sequence of ints >= 1."""
    if isinstance(widths, numbers.Integral) and not isinstance(widths, bool):
        raise TypeError(f"widths = {widths!r} is a single int; pass a list of hidden widths such as [{widths}]")
    try:
        ws = list(widths)
    except TypeError:
        raise TypeError(
            f"widths must be a sequence of hidden-layer widths (ints), got {type(widths).__name__}"
        ) from None
    if not ws:
        raise ValueError("widths is empty; pass the hidden widths n_1..n_L, e.g. [16, 16] (at least one hidden layer)")
    out = []
    for i, w in enumerate(ws):
        if isinstance(w, bool) or not isinstance(w, numbers.Integral):
            raise TypeError(f"widths[{i}] = {w!r} has type {type(w).__name__}; widths must be ints")
        if int(w) < 1:
            raise ValueError(f"widths[{i}] = {int(w)}; every hidden width must be >= 1 (drop empty layers)")
        out.append(int(w))
    return tuple(out)


# ---------------------------------------------------------------------------- Zaslavsky
def zaslavsky(m: int, d: int) -> int:
    """Maximal number of regions of ``m`` hyperplanes in R^d (Zaslavsky 1975).

    r(m, d) = sum_{j=0..d} C(m, j), with equality for hyperplanes in general position.
    One hidden layer of ``m`` neurons with generic weights has exactly r(m, n_0) regions on
    R^{n_0}. Examples: r(8, 2) = 37, r(16, 2) = 137, r(10, 3) = 176.
    """
    m = _check_int(m, "m", 0)
    d = _check_int(d, "d", 0)
    return sum(comb(m, j) for j in range(min(m, d) + 1))


def zaslavsky_rank(m: int, rank: int) -> int:
    """Regions of ``m`` hyperplanes whose normals span a space of dimension ``rank``.

    sum_{j=0..rank} C(m, j): the arrangement is a cylinder over an arrangement in R^rank, so
    Zaslavsky's bound holds with d = rank (Serra et al. 2018, arXiv 1711.02114, Sec. 3,
    bounding one layer by rank W). Requires 0 <= rank <= m.
    """
    m = _check_int(m, "m", 0)
    rank = _check_int(rank, "rank", 0)
    if rank > m:
        raise ValueError(f"rank = {rank} exceeds m = {m}; the rank of an (m, n0) weight matrix is at most m")
    return zaslavsky(m, rank)


# ---------------------------------------------------------------------------- deep bounds
def montufar2014_lower(n0: int, widths: Sequence[int]) -> int:
    """Lower bound on the maximal number of regions (Montufar et al., NeurIPS 2014).

    (prod_{l<L} floor(n_l / n_0)^{n_0}) * r(n_L, n_0), valid when every n_l >= n_0;
    ``widths`` = (n_1, ..., n_L) and its last entry plays n_L.
    """
    n0, ws = _check_n0(n0), _check_widths(widths)
    bad = [i for i, w in enumerate(ws) if w < n0]
    if bad:
        raise ValueError(
            f"montufar2014_lower needs every hidden width >= n0 = {n0}, but widths[{bad[0]}] = {ws[bad[0]]}; "
            "widen that layer or use serra_thm1_upper / montufar2017_upper, which have no such hypothesis"
        )
    return prod((w // n0) ** n0 for w in ws[:-1]) * zaslavsky(ws[-1], n0)


def montufar2017_upper(n0: int, widths: Sequence[int]) -> int:
    """Upper bound on the number of regions (Montufar 2017).

    prod_{l=1..L} r(n_l, d_l) with d_l = min(n_0, n_1, ..., n_l) and r Zaslavsky's count.
    """
    n0, ws = _check_n0(n0), _check_widths(widths)
    total, d = 1, n0
    for w in ws:
        d = min(d, w)
        total *= zaslavsky(w, d)
    return total


def serra_thm1_upper(n0: int, widths: Sequence[int]) -> int:
    """Upper bound of Serra, Tjandraatmadja, Ramalingam (ICML 2018, arXiv 1711.02114, Thm 1).

    sum over (j_1, ..., j_L) in J of prod_l C(n_l, j_l), where
    J = { 0 <= j_l <= min(n_0, n_1 - j_1, ..., n_{l-1} - j_{l-1}, n_l) for all l }.

    Computed by dynamic programming over the "remaining dimension"
    D_l = min(n_0, n_1 - j_1, ..., n_l - j_l): the constraint on j_{l+1} only depends on D_l,
    so ``weight[D]`` (the sum of prod C(n_i, j_i) over prefixes reaching D) is carried layer
    to layer: O(L * n_0 * max n_l) operations. Test vectors: n0=1, [4,5,6] -> 210;
    n0=2, [2,2,2] -> 30; n0=2, [6,6,6] -> 10648; n0=2, [16,16,16] -> 2571353; n0=3, [3,3] -> 42.
    """
    n0, ws = _check_n0(n0), _check_widths(widths)
    weight = {n0: 1}
    for w in ws:
        nxt: dict[int, int] = {}
        for d, acc in weight.items():
            for j in range(min(d, w) + 1):
                d2 = min(d, w - j)
                nxt[d2] = nxt.get(d2, 0) + acc * comb(w, j)
        weight = nxt
    return sum(weight.values())


def serra_thm5_1d(widths: Sequence[int]) -> int:
    """Exact maximal number of regions on R of a 1-input network (Serra et al. 2018, Thm 5).

    prod_l (n_l + 1), under the theorem's hypothesis n_0 = 1 and every n_l >= 3. The upper
    bound prod_l (n_l + 1) holds for all widths (each region of layer l-1 is cut at most n_l
    times); Thm 5 says it is reached when every n_l >= 3 (see
    :func:`exactnet.theory.thresholds.sawtooth_network` for a construction).
    """
    ws = _check_widths(widths)
    bad = [i for i, w in enumerate(ws) if w < 3]
    if bad:
        raise ValueError(
            f"serra_thm5_1d: Serra et al. (2018) Thm 5 assumes every hidden width n_l >= 3, but "
            f"widths[{bad[0]}] = {ws[bad[0]]}; prod(n_l + 1) is then only an upper bound "
            "(use serra_thm1_upper(1, widths))"
        )
    return prod(w + 1 for w in ws)


def serra_thm6_lower(n0: int, widths: Sequence[int]) -> int:
    """Lower bound on the maximal number of regions (Serra et al. 2018, Thm 6).

    (prod_{l<L} (floor(n_l / n_0) + 1)^{n_0}) * r(n_L, n_0), valid when every n_l >= 3 n_0.
    """
    n0, ws = _check_n0(n0), _check_widths(widths)
    bad = [i for i, w in enumerate(ws) if w < 3 * n0]
    if bad:
        raise ValueError(
            f"serra_thm6_lower needs every hidden width >= 3 * n0 = {3 * n0} (hypothesis of Serra et al. "
            f"2018, Thm 6), but widths[{bad[0]}] = {ws[bad[0]]}; use montufar2014_lower (needs n_l >= n0) instead"
        )
    return prod((w // n0 + 1) ** n0 for w in ws[:-1]) * zaslavsky(ws[-1], n0)


def all_bounds(n0: int, widths: Sequence[int]) -> dict[str, int | None]:
    """Every bound of this module for (n0, widths); ``None`` where a hypothesis fails.

    Keys: ``"zaslavsky"`` (one hidden layer only: the exact maximum r(n_1, n_0)),
    ``"montufar2014_lower"`` (n_l >= n_0), ``"serra_thm6_lower"`` (n_l >= 3 n_0),
    ``"serra_thm5_1d"`` (n_0 = 1, n_l >= 3: the exact maximum), ``"serra_thm1_upper"``,
    ``"montufar2017_upper"``.
    """
    n0, ws = _check_n0(n0), _check_widths(widths)
    return {
        "zaslavsky": zaslavsky(ws[0], n0) if len(ws) == 1 else None,
        "montufar2014_lower": montufar2014_lower(n0, ws) if min(ws) >= n0 else None,
        "serra_thm6_lower": serra_thm6_lower(n0, ws) if min(ws) >= 3 * n0 else None,
        "serra_thm5_1d": serra_thm5_1d(ws) if n0 == 1 and min(ws) >= 3 else None,
        "serra_thm1_upper": serra_thm1_upper(n0, ws),
        "montufar2017_upper": montufar2017_upper(n0, ws),
    }
