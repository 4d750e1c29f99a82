"""Neuron thresholds for 1-D piecewise-linear functions, and sawtooth networks.

How many ReLU neurons does it take to write a given continuous piecewise-linear (CPWL)
function f: R -> R? Everything here is exact (``fractions.Fraction``); the statements and
proofs are in ``proofs/neuron_threshold.md`` and machine-checked by
``proofs/check_neuron_threshold.py``.

One hidden layer (refining Arora, Basu, Mianjy, Mukherjee, ICLR 2018, Thm 2.2: p pieces
need between p - 1 and p neurons). Write f(x) = c + sum_j v_j relu(w_j x + beta_j). A
neuron with w_j != 0 has one kink, at -beta_j / w_j, with slope jump v_j |w_j|; it is
*right-oriented* (w_j > 0: zero on the left, slope v_j w_j on the right) or *left-oriented*.
If f has n >= 1 breakpoints with slope jumps d_k and far-right slope s_n, then f needs
exactly n neurons when some subset of the d_k sums to s_n (the right-oriented neurons),
and n + 1 otherwise. An affine f needs 0 neurons if constant, else 2 on R and 1 on a
bounded interval. See :func:`minimal_neurons` and :func:`minimal_network`.

Depth (Serra, Tjandraatmadja, Ramalingam, ICML 2018, arXiv 1711.02114, Thm 5): a 1-input
network with hidden widths n_1..n_L has at most prod_l (n_l + 1) regions on R, so p pieces
need prod_l (n_l + 1) >= p; when every n_l >= 3 the bound is reached, e.g. by
:func:`sawtooth_network`.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from math import lcm, prod
from typing import TYPE_CHECKING, Literal, Self

from ..net.network import Network
from ..net.rational import to_fraction
from .bounds import _check_int, _check_widths

__all__ = [
    "PiecewiseLinear1D",
    "subset_with_sum",
    "right_oriented_subset",
    "minimal_neurons",
    "minimal_network",
    "depth_threshold_ok",
    "min_width_for_depth",
    "zigzag",
    "sawtooth_network",
    "sawtooth_segment",
]

DEFAULT_MAX_BREAKPOINTS = 40


# ============================================================================ the function
def _fractions(values, name: str) -> tuple[Fraction, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of numbers, got {type(values).__name__}")
    return tuple(to_fraction(v, f"{name}[{i}]") for i, v in enumerate(values))


def _check_increasing(xs: tuple[Fraction, ...], name: str) -> None:
    for k in range(1, len(xs)):
        if not xs[k - 1] < xs[k]:
            raise ValueError(
                f"{name} must be strictly increasing, but {name}[{k - 1}] = {xs[k - 1]} and {name}[{k}] = {xs[k]}; "
                "sort them and merge duplicates"
            )


def _check_domain(domain) -> tuple[Fraction, Fraction] | None:
    if domain is None:
        return None
    try:
        a, b = domain
    except (TypeError, ValueError):
        raise TypeError(f"domain must be None (the real line) or a pair (a, b) with a < b, got {domain!r}") from None
    a, b = to_fraction(a, "domain[0]"), to_fraction(b, "domain[1]")
    if not a < b:
        raise ValueError(f"domain = ({a}, {b}) is empty; pass (a, b) with a < b, or None for the real line")
    return (a, b)


def _all_slopes(xs, ys, s0, sn) -> tuple[Fraction, ...]:
    if not xs:
        return (s0,)
    inner = tuple((ys[k + 1] - ys[k]) / (xs[k + 1] - xs[k]) for k in range(len(xs) - 1))
    return (s0,) + inner + (sn,)


@dataclass(frozen=True)
class PiecewiseLinear1D:
    """An exact continuous piecewise-linear function of one variable; immutable.

    Fields (converted to ``Fraction`` on construction):

    - ``breakpoints``: x_1 < ... < x_n, each a true kink (nonzero slope jump);
    - ``values``: f(x_1), ..., f(x_n); when n = 0, the single value f(0);
    - ``left_slope`` s_0 (left of x_1) and ``right_slope`` s_n (right of x_n); when n = 0
      both equal the slope. Inner slopes follow from the values:
      s_k = (f(x_{k+1}) - f(x_k)) / (x_{k+1} - x_k);
    - ``domain``: ``None`` for R, or ``(a, b)`` with a < x_1 and x_n < b (the function is
      considered on [a, b]).

    Zero-jump breakpoints are **rejected**, so the representation is canonical: two
    instances are equal iff they are the same function on the same domain. To build from
    data that may contain collinear points, use ``from_breakpoints(..., simplify=True)``,
    ``from_slopes(..., simplify=True)`` or :meth:`from_points` (which always simplifies).
    """

    breakpoints: tuple[Fraction, ...]
    values: tuple[Fraction, ...]
    left_slope: Fraction
    right_slope: Fraction
    domain: tuple[Fraction, Fraction] | None = None

    if TYPE_CHECKING:
        # the constructor takes any rationals and floats (__post_init__ converts them to
        # Fraction); the fields above are the converted values
        def __init__(
            self,
            breakpoints: Sequence[Fraction | float],
            values: Sequence[Fraction | float],
            left_slope: Fraction | float,
            right_slope: Fraction | float,
            domain: tuple[Fraction | float, Fraction | float] | None = None,
        ) -> None: ...

    def __post_init__(self):
        xs = _fractions(self.breakpoints, "breakpoints")
        ys = _fractions(self.values, "values")
        s0 = to_fraction(self.left_slope, "left_slope")
        sn = to_fraction(self.right_slope, "right_slope")
        dom = _check_domain(self.domain)
        _check_increasing(xs, "breakpoints")
        if xs and len(ys) != len(xs):
            raise ValueError(
                f"values has {len(ys)} entries but breakpoints has {len(xs)}; pass f(x_k) for every breakpoint"
            )
        if not xs:
            if len(ys) != 1:
                raise ValueError(f"with no breakpoints, values must hold exactly one entry, f(0); got {len(ys)}")
            if s0 != sn:
                raise ValueError(
                    f"with no breakpoints the function is affine, but left_slope = {s0} != right_slope = {sn}; "
                    "add the breakpoint where the slope changes"
                )
        if dom is not None and xs and not (dom[0] < xs[0] and xs[-1] < dom[1]):
            raise ValueError(
                f"breakpoints must lie strictly inside domain = ({dom[0]}, {dom[1]}), but they span "
                f"[{xs[0]}, {xs[-1]}]; widen the domain or use restrict(a, b)"
            )
        slopes = _all_slopes(xs, ys, s0, sn)
        for k in range(len(xs)):
            if slopes[k + 1] == slopes[k]:
                raise ValueError(
                    f"breakpoints[{k}] = {xs[k]} has slope jump 0 (slope {slopes[k]} on both sides), so it is not a "
                    "kink; remove it, or build with from_breakpoints(..., simplify=True) to drop such points"
                )
        for name, val in (
            ("breakpoints", xs),
            ("values", ys),
            ("left_slope", s0),
            ("right_slope", sn),
            ("domain", dom),
        ):
            object.__setattr__(self, name, val)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_breakpoints(
        cls,
        breakpoints: Sequence[Fraction | float],
        values: Sequence[Fraction | float],
        left_slope: Fraction | float,
        right_slope: Fraction | float,
        domain: tuple[Fraction | float, Fraction | float] | None = None,
        *,
        simplify: bool = False,
    ) -> Self:
        """From breakpoints x_k, values f(x_k) and the two end slopes.

        ``simplify=True`` drops breakpoints whose slope jump is zero instead of raising.
        """
        if not simplify:
            return cls(breakpoints, values, left_slope, right_slope, domain)
        xs, ys = _fractions(breakpoints, "breakpoints"), _fractions(values, "values")
        s0, sn = to_fraction(left_slope, "left_slope"), to_fraction(right_slope, "right_slope")
        _check_increasing(xs, "breakpoints")
        if len(xs) != len(ys) or not xs:
            return cls(xs, ys, s0, sn, domain)  # let the constructor report the problem (or n = 0)
        slopes = _all_slopes(xs, ys, s0, sn)
        keep = [k for k in range(len(xs)) if slopes[k + 1] != slopes[k]]
        if not keep:
            return cls((), (ys[0] - s0 * xs[0],), s0, s0, domain)
        return cls(tuple(xs[k] for k in keep), tuple(ys[k] for k in keep), s0, sn, domain)

    @classmethod
    def from_slopes(
        cls,
        breakpoints: Sequence[Fraction | float],
        slopes: Sequence[Fraction | float],
        value: Fraction | float = 0,
        domain: tuple[Fraction | float, Fraction | float] | None = None,
        *,
        simplify: bool = False,
    ) -> Self:
        """From breakpoints x_1..x_n, all slopes s_0..s_n and ``value`` = f(x_1) (f(0) if n = 0)."""
        xs, ss = _fractions(breakpoints, "breakpoints"), _fractions(slopes, "slopes")
        if len(ss) != len(xs) + 1:
            raise ValueError(f"slopes has {len(ss)} entries; {len(xs)} breakpoints need {len(xs) + 1} (s_0..s_n)")
        _check_increasing(xs, "breakpoints")
        ys = [to_fraction(value, "value")]
        for k in range(1, len(xs)):
            ys.append(ys[-1] + ss[k] * (xs[k] - xs[k - 1]))
        return cls.from_breakpoints(xs, ys, ss[0], ss[-1], domain, simplify=simplify)

    @classmethod
    def affine(
        cls,
        slope: Fraction | float,
        intercept: Fraction | float = 0,
        domain: tuple[Fraction | float, Fraction | float] | None = None,
    ) -> Self:
        """The affine function x -> intercept + slope * x (no breakpoints)."""
        return cls((), (intercept,), slope, slope, domain)

    @classmethod
    def from_points(
        cls,
        xs: Sequence[Fraction | float],
        ys: Sequence[Fraction | float],
        domain: tuple[Fraction | float, Fraction | float] | Literal["hull"] | None = "hull",
    ) -> Self:
        """The function interpolating (xs[i], ys[i]) linearly, extended linearly beyond the ends.

        ``domain="hull"`` (default) gives [xs[0], xs[-1]]; ``None`` the real line; a pair
        (a, b) must contain [xs[0], xs[-1]]. Collinear interior points are dropped (only the
        true kinks among xs[1:-1] become breakpoints). Needs at least two points.
        """
        xs, ys = _fractions(xs, "xs"), _fractions(ys, "ys")
        if len(xs) != len(ys):
            raise ValueError(f"xs has {len(xs)} entries but ys has {len(ys)}; pass one value per point")
        if len(xs) < 2:
            raise ValueError(f"from_points needs at least two points to fix the slopes, got {len(xs)}")
        _check_increasing(xs, "xs")
        if isinstance(domain, str):
            if domain != "hull":
                raise ValueError(f"domain = {domain!r}; pass 'hull', None (the real line) or a pair (a, b)")
            dom: tuple[Fraction, Fraction] | None = (xs[0], xs[-1])
        else:
            dom = _check_domain(domain)
            if dom is not None and not (dom[0] <= xs[0] and xs[-1] <= dom[1]):
                raise ValueError(
                    f"domain = ({dom[0]}, {dom[1]}) must contain every point, but xs spans [{xs[0]}, {xs[-1]}]"
                )
        s0 = (ys[1] - ys[0]) / (xs[1] - xs[0])
        sn = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        if len(xs) == 2:
            return cls.affine(s0, ys[0] - s0 * xs[0], dom)
        return cls.from_breakpoints(xs[1:-1], ys[1:-1], s0, sn, dom, simplify=True)

    # ------------------------------------------------------------------ views
    @property
    def num_breakpoints(self) -> int:
        """n, the number of kinks."""
        return len(self.breakpoints)

    @property
    def num_pieces(self) -> int:
        """n + 1 affine pieces (on R, or on the domain: all breakpoints lie inside it)."""
        return len(self.breakpoints) + 1

    @cached_property
    def slopes(self) -> tuple[Fraction, ...]:
        """(s_0, ..., s_n): s_k is the slope between x_k and x_{k+1} (x_0 = -inf, x_{n+1} = +inf)."""
        return _all_slopes(self.breakpoints, self.values, self.left_slope, self.right_slope)

    @cached_property
    def slope_jumps(self) -> tuple[Fraction, ...]:
        """(d_1, ..., d_n) with d_k = s_k - s_{k-1} != 0; sum_k d_k = s_n - s_0."""
        s = self.slopes
        return tuple(s[k] - s[k - 1] for k in range(1, len(s)))

    def _eval(self, x: Fraction) -> Fraction:
        xs, ys = self.breakpoints, self.values
        if not xs:
            return ys[0] + self.left_slope * x
        k = bisect.bisect_right(xs, x)
        if k == 0:
            return ys[0] + self.left_slope * (x - xs[0])
        return ys[k - 1] + self.slopes[k] * (x - xs[k - 1])

    def __call__(self, x) -> Fraction:
        """Exact value f(x) for x in the domain (int, float, Fraction; floats convert exactly)."""
        q = to_fraction(x, "x")
        if self.domain is not None and not (self.domain[0] <= q <= self.domain[1]):
            raise ValueError(f"x = {q} lies outside the domain [{self.domain[0]}, {self.domain[1]}]")
        return self._eval(q)

    def restrict(self, a: Fraction | float, b: Fraction | float) -> PiecewiseLinear1D:
        """The same function on the interval [a, b] (which must lie inside the current domain)."""
        dom = _check_domain((a, b))
        assert dom is not None  # a pair was given
        a, b = dom
        if self.domain is not None and not (self.domain[0] <= a and b <= self.domain[1]):
            raise ValueError(f"[{a}, {b}] is not inside the domain [{self.domain[0]}, {self.domain[1]}]")
        xs = self.breakpoints
        lo, hi = bisect.bisect_right(xs, a), bisect.bisect_left(xs, b)
        if lo >= hi:
            s = self.slopes[lo]
            return type(self).affine(s, self._eval(a) - s * a, dom)
        return type(self)(xs[lo:hi], self.values[lo:hi], self.slopes[lo], self.slopes[hi], dom)

    def __repr__(self) -> str:
        f = lambda seq: "[" + ", ".join(map(str, seq)) + "]"  # noqa: E731
        dom = "R" if self.domain is None else f"[{self.domain[0]}, {self.domain[1]}]"
        if not self.breakpoints:
            return f"PiecewiseLinear1D(affine: {self.values[0]} + {self.left_slope} x on {dom})"
        return (
            f"PiecewiseLinear1D(breakpoints={f(self.breakpoints)}, values={f(self.values)}, "
            f"slopes={f(self.slopes)}, on {dom})"
        )


def _check_function(f) -> PiecewiseLinear1D:
    if not isinstance(f, PiecewiseLinear1D):
        raise TypeError(
            f"f must be a PiecewiseLinear1D, got {type(f).__name__}; build one with "
            "PiecewiseLinear1D.from_points(xs, ys) or PiecewiseLinear1D.from_breakpoints(...)"
        )
    return f


# ============================================================================ subset sum
def subset_with_sum(
    values: Sequence[Fraction | float], target: Fraction | float, *, max_size: int = DEFAULT_MAX_BREAKPOINTS
) -> tuple[int, ...] | None:
    """Indices of a subset of ``values`` summing exactly to ``target``, or ``None``.

    Exact on rationals (everything is scaled to integers by the lcm of the denominators).
    Meet in the middle (Horowitz-Sahni): all subset sums of the first half are stored in a
    dict, the second half is walked in Gray-code order and each sum looked up: time
    O(2^(n/2)) dictionary operations, memory O(2^(n/2)); n = 40 takes a few seconds.
    Subset sum is NP-hard, so above ``max_size`` values this raises ``ValueError`` instead
    of running for hours (the trivial answers, target 0 or the total, are returned first).
    """
    vals = _fractions(values, "values")
    t = to_fraction(target, "target")
    n = len(vals)
    if t == 0:
        return ()
    if sum(vals) == t:
        return tuple(range(n))
    max_size = _check_int(max_size, "max_size", 0)
    if n > max_size:
        raise ValueError(
            f"subset sum over {n} values exceeds max_size = {max_size}: the exact search costs about "
            f"2^{n // 2} steps; pass a larger max_size (max_breakpoints) if you accept that"
        )
    den = lcm(t.denominator, *(q.denominator for q in vals))
    ints = [int(q * den) for q in vals]
    goal = int(t * den)
    half = n // 2
    left: dict[int, int] = {0: 0}
    for i, v in enumerate(ints[:half]):
        step = {s + v: m | (1 << i) for s, m in left.items()}
        step.update(left)
        left = step
    right = ints[half:]
    s, mask = 0, 0
    for g in range(1 << len(right)):
        if g:
            i = (g & -g).bit_length() - 1
            mask ^= 1 << i
            s += right[i] if mask >> i & 1 else -right[i]
        m = left.get(goal - s)
        if m is not None:
            return tuple(i for i in range(half) if m >> i & 1) + tuple(
                half + i for i in range(len(right)) if mask >> i & 1
            )
    return None


def right_oriented_subset(
    f: PiecewiseLinear1D, *, max_breakpoints: int = DEFAULT_MAX_BREAKPOINTS
) -> tuple[int, ...] | None:
    """Indices k of breakpoints whose slope jumps sum to the far-right slope s_n, or ``None``.

    Such a subset is exactly a valid choice of right-oriented neurons for a network with one
    neuron per breakpoint (see :func:`minimal_neurons`). Raises for n > ``max_breakpoints``.
    """
    f = _check_function(f)
    return subset_with_sum(f.slope_jumps, f.right_slope, max_size=max_breakpoints)


# ============================================================================ one hidden layer
def minimal_neurons(f: PiecewiseLinear1D, *, max_breakpoints: int = DEFAULT_MAX_BREAKPOINTS) -> int:
    """Exact minimal number of hidden ReLU neurons of c + sum_j v_j relu(w_j x + beta_j) = f.

    With n breakpoints, jumps d_k = s_k - s_{k-1} and far-right slope s_n
    (``proofs/neuron_threshold.md``, refining Arora et al., ICLR 2018, Thm 2.2):

    - n >= 1: n if some subset S of {1..n} has sum_{k in S} d_k = s_n (S = the
      right-oriented neurons), else n + 1; the same rule on a bounded domain;
    - n = 0: 0 if f is constant; else 2 on R (s relu(x) - s relu(-x)) and 1 on a bounded
      domain (one neuron whose kink lies outside it).

    The subset test is exact and costs O(2^(n/2)) (see :func:`subset_with_sum`); above
    ``max_breakpoints`` breakpoints it raises ``ValueError`` unless s_0 = 0 or s_n = 0
    (then the answer is n at once).
    """
    f = _check_function(f)
    n = f.num_breakpoints
    if n == 0:
        if f.left_slope == 0:
            return 0
        return 2 if f.domain is None else 1
    return n if right_oriented_subset(f, max_breakpoints=max_breakpoints) is not None else n + 1


def _relu(z: Fraction) -> Fraction:
    return z if z > 0 else Fraction(0)


def _neurons(f: PiecewiseLinear1D, right) -> list[tuple[Fraction, Fraction, Fraction]]:
    """Neurons (w, beta, v) whose sum has f's kinks and far-right slope (up to a constant).

    ``right`` is a set of breakpoint indices (the right-oriented ones) or ``None`` for the
    n + 1 construction that splits the first jump between both orientations.
    """
    xs, ds = f.breakpoints, f.slope_jumps
    one = Fraction(1)
    if not xs:
        s = f.left_slope
        if s == 0:
            return []
        if f.domain is None:
            return [(one, Fraction(0), s), (-one, Fraction(0), -s)]
        return [(one, one - f.domain[0], s)]  # kink at a - 1, outside [a, b]
    if right is not None:
        return [(one, -x, d) if k in right else (-one, x, d) for k, (x, d) in enumerate(zip(xs, ds))]
    a = f.right_slope - sum(ds[1:], Fraction(0))
    return [(one, -xs[0], a), (-one, xs[0], ds[0] - a)] + [(one, -x, d) for x, d in zip(xs[1:], ds[1:])]


def _output_constant(f: PiecewiseLinear1D, neurons) -> Fraction:
    x = f.breakpoints[0] if f.breakpoints else (f.domain[0] if f.domain else Fraction(0))
    return f._eval(x) - sum((v * _relu(w * x + b) for w, b, v in neurons), Fraction(0))


def minimal_network(f: PiecewiseLinear1D, *, max_breakpoints: int = DEFAULT_MAX_BREAKPOINTS) -> Network:
    """A 1-input, 1-output network with one hidden layer of exactly ``minimal_neurons(f)``
    ReLU neurons computing f exactly on its domain (on R when ``domain`` is None).

    Construction (``proofs/neuron_threshold.md``): a right-oriented subset S gives
    d_k relu(x - x_k) for k in S and d_k relu(x_k - x) otherwise; without one, the first
    jump is split as a relu(x - x_1) + (d_1 - a) relu(x_1 - x) with a = s_n - sum_{k>=2} d_k
    and the other neurons are right-oriented. A constant f gives a network with no hidden
    layer (a single linear layer). Weights are exact ``Fraction``.
    """
    f = _check_function(f)
    right = right_oriented_subset(f, max_breakpoints=max_breakpoints) if f.breakpoints else ()
    neurons = _neurons(f, None if right is None else set(right))
    c = _output_constant(f, neurons)
    if not neurons:
        return Network.from_arrays([[[0]]], [[c]], name="minimal_network")
    w0 = [[w] for w, _, _ in neurons]
    b0 = [b for _, b, _ in neurons]
    w1 = [[v for _, _, v in neurons]]
    return Network.from_arrays([w0, w1], [b0, [c]], name="minimal_network")


# ============================================================================ depth
def depth_threshold_ok(widths: Sequence[int], pieces: int) -> bool:
    """Whether prod_l (n_l + 1) >= pieces: the necessary condition for a 1-input ReLU network
    with hidden widths n_1..n_L to compute a function with ``pieces`` affine pieces on R.

    Each region of layer l-1 is cut at most n_l times by layer l, so there are at most
    prod_l (n_l + 1) regions (Serra et al. 2018, arXiv 1711.02114, Thm 1 with n_0 = 1), and
    pieces <= regions. Serra Thm 5: with every n_l >= 3 this many pieces is attained
    (:func:`sawtooth_network`). The condition is necessary, not sufficient, for a *given* f.
    """
    ws = _check_widths(widths)
    p = _check_int(pieces, "pieces", 1)
    return prod(w + 1 for w in ws) >= p


def _iroot_ceil(p: int, k: int) -> int:
    """Smallest integer r >= 1 with r**k >= p."""
    lo, hi = 1, 1
    while hi**k < p:
        hi *= 2
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if mid**k < p else (lo, mid)
    return lo


def min_width_for_depth(depth: int, pieces: int, *, at_least: int = 3) -> int:
    """Smallest uniform width w with (w + 1)^depth >= pieces, and w >= ``at_least``.

    (w + 1)^depth >= p is necessary for ``depth`` hidden layers of width w to produce p
    pieces on R (:func:`depth_threshold_ok`). The default ``at_least=3`` keeps the
    hypothesis of Serra et al. (2018, Thm 5), under which (w + 1)^depth >= p pieces are
    actually attained (by ``sawtooth_network([w] * depth)``); pass ``at_least=1`` for the
    bare counting bound.
    """
    L = _check_int(depth, "depth", 1)
    p = _check_int(pieces, "pieces", 1)
    at_least = _check_int(at_least, "at_least", 1)
    return max(_iroot_ceil(p, L) - 1, at_least)


# ============================================================================ sawtooth
def _check_sawtooth_widths(widths) -> tuple[int, ...]:
    ws = _check_widths(widths)
    bad = [i for i, w in enumerate(ws) if w < 3]
    if bad:
        raise ValueError(
            f"widths[{bad[0]}] = {ws[bad[0]]}: the sawtooth construction needs every hidden width >= 3 "
            "(the hypothesis of Serra et al. 2018, Thm 5; with 2 neurons no zig-zag has both outer "
            "pieces unbounded, see proofs/neuron_threshold.md)"
        )
    return ws


def _zigzag_right_set(n: int) -> set[int]:
    return set(range(n - 1)) if n % 2 else {0, n - 1}


def zigzag(n: int) -> PiecewiseLinear1D:
    """The zig-zag on R used by one sawtooth layer of n >= 3 neurons.

    Points 0 = tau_0 < tau_1 < ... < tau_n < tau_{n+1} = 1 with values 1, 0, 1, 0, ...
    (f(tau_k) = 1 for even k), linear in between and extended linearly beyond 0 and 1, so
    each of its n + 1 pieces maps onto a set containing [0, 1] and its n kinks lie in (0, 1).
    Slope magnitudes are proportional to a_0..a_n, all 1 except a_0 = 2 (n odd) or
    a_{n-1} = 2 (n even); this makes the jumps of breakpoints {1..n-1} (n odd) or {1, n}
    (n even) sum to s_n, so n neurons suffice (:func:`minimal_neurons`).
    """
    n = _check_int(n, "n", 1)
    if n < 3:
        _check_sawtooth_widths([n])
    a = [1] * (n + 1)
    a[0 if n % 2 else n - 1] = 2
    total = sum(Fraction(1, ak) for ak in a)
    xs = [Fraction(0)]
    for ak in a:
        xs.append(xs[-1] + Fraction(1, ak) / total)
    return PiecewiseLinear1D.from_points(xs, [1 - k % 2 for k in range(n + 2)], domain=None)


def sawtooth_network(widths: Sequence[int]) -> Network:
    """A 1-input, 1-output ReLU network with hidden widths ``widths`` (each >= 3) that has
    exactly prod_l (n_l + 1) regions (and as many affine pieces) on R.

    This is the tightness half of Serra et al. (ICML 2018, arXiv 1711.02114, Thm 5). Layer
    l computes u_l = g_l(u_{l-1}) with g_l = :func:`zigzag` (n_l): each region of u_{l-1}
    is mapped monotonically onto a set containing [0, 1], which holds all n_l kinks of g_l in
    its interior, so every region splits into n_l + 1 regions that again map onto sets
    containing [0, 1]. Weight matrices are rank one, W_l = w_l v_{l-1}^T; entries are exact
    ``Fraction``. All breakpoints lie in (0, 1); see :func:`sawtooth_segment`.
    """
    ws = _check_sawtooth_widths(widths)
    weights: list[list[list[Fraction]]] = []
    biases: list[list[Fraction]] = []
    # the previous layer's read-out u = prev_v . h + prev_c (the input itself at first)
    prev_v: list[Fraction] = [Fraction(1)]
    prev_c = Fraction(0)
    for n in ws:
        g = zigzag(n)
        neurons = _neurons(g, _zigzag_right_set(n))
        c = _output_constant(g, neurons)
        weights.append([[w * v for v in prev_v] for w, _, _ in neurons])
        biases.append([w * prev_c + b for w, b, _ in neurons])
        prev_v, prev_c = [v for _, _, v in neurons], c
    weights.append([prev_v])
    biases.append([prev_c])
    return Network.from_arrays(weights, biases, name=f"sawtooth{list(ws)}")


def sawtooth_segment(widths: Sequence[int]) -> tuple[Fraction, Fraction]:
    """A bounded input interval (a, b) = (-1, 2) containing every breakpoint of
    ``sawtooth_network(widths)``.

    All breakpoints lie in the open interval (0, 1): the first layer's kinks do, deeper
    neurons switch where u_{l-1}(x) is in (0, 1), and every zig-zag maps R \\ [0, 1] outside
    [0, 1]. The margin of 1 on each side shows the unbounded outer pieces.
    """
    _check_sawtooth_widths(widths)
    return (Fraction(-1), Fraction(2))
