"""Exact rational conversion of user input.

Every float64 is a dyadic rational, so ``Fraction(x)`` of a finite float is exact: no
rounding happens anywhere in exactnet's exact paths. This module converts the kinds of
numbers users hand us (Python and numpy floats and ints, ``fractions.Fraction``, sympy
``Rational``, strings such as ``"3/4"``) to ``Fraction`` and rejects NaN and infinities
with an error that names the argument and the position.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, overload

import numpy as np

if TYPE_CHECKING:
    import torch

    class _SupportsArray(Protocol):
        def __array__(self) -> np.ndarray: ...

    #: A real number as exactnet's exact paths take it: Python and numpy ints and floats,
    #: ``Fraction``, a string such as ``"3/4"``, or any ``numbers.Real`` (sympy rationals).
    RealLike: TypeAlias = int | float | Fraction | str | np.integer | np.floating | numbers.Real
    #: Reals nested in sequences to any depth (numpy arrays allowed inside).
    NestedReals: TypeAlias = RealLike | np.ndarray | Sequence["NestedReals"]
    #: An array of reals (or a scalar, as in numpy's ``ArrayLike``): nested sequences of
    #: ``RealLike`` (lists mixing ``Fraction`` and ``int``), numpy arrays, torch tensors, or
    #: anything with ``__array__``. Not ``numpy.typing.ArrayLike``: it has no ``Fraction``, and
    #: its nested-sequence protocol keeps mypy from typing list literals that mix numbers.
    RealArrayLike: TypeAlias = NestedReals | torch.Tensor | _SupportsArray

__all__ = [
    "to_fraction",
    "fraction_array",
    "fraction_to_float",
    "format_fraction",
    "real_tensor_to_numpy",
    "float_or_inf",
]


def to_fraction(value: RealLike, name: str = "value") -> Fraction:
    """Return ``value`` as an exact :class:`fractions.Fraction`.

    Floats are converted exactly (float64 is dyadic); NaN and infinities raise
    ``ValueError`` naming ``name``.
    """
    if isinstance(value, Fraction):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:  # a 0-d array holds one number
        return to_fraction(value.item(), name)
    if hasattr(value, "detach") and hasattr(value, "is_complex"):  # a torch tensor
        return to_fraction(real_tensor_to_numpy(value, name), name)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} is a boolean ({value!r}); pass a number")
    if isinstance(value, (int, np.integer)):
        return Fraction(int(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if not math.isfinite(x):
            raise ValueError(f"{name} is {x!r}; weights and points must be finite numbers")
        return Fraction(x)
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError) as err:
            raise ValueError(f"{name} is the string {value!r}, not a rational like '3/4' or '0.5'") from err
    # sympy Rational / Integer (and anything exposing p, q)
    p, q = getattr(value, "p", None), getattr(value, "q", None)
    if isinstance(p, int) and isinstance(q, int):
        return Fraction(p, q)
    if isinstance(value, numbers.Rational):
        return Fraction(int(value.numerator), int(value.denominator))
    if isinstance(value, numbers.Real):
        x = float(value)
        if not math.isfinite(x):
            raise ValueError(f"{name} is {x!r}; weights and points must be finite numbers")
        return Fraction(x)
    raise TypeError(
        f"{name} has type {type(value).__name__}; expected a real number (float, int, Fraction, sympy Rational)"
    )


@overload
def real_tensor_to_numpy(values: torch.Tensor, name: str) -> np.ndarray: ...
@overload
def real_tensor_to_numpy(values: object, name: str) -> Any: ...  # ``values`` itself, unchanged
def real_tensor_to_numpy(values: object, name: str) -> Any:
    """A torch tensor's values as a numpy array (float64 for floating dtypes, which holds
    float16/bfloat16/float32 exactly); anything else is returned unchanged.

    A complex tensor is refused (``TypeError`` naming ``name``): torch's own conversion to
    a real dtype would silently keep only the real part."""
    if not (hasattr(values, "detach") and hasattr(values, "is_complex")):
        return values
    t = values.detach().cpu()
    if t.is_complex():
        raise TypeError(
            f"{name} is a complex tensor (dtype {t.dtype}); exactnet works with real numbers: "
            f"pass the tensor's real part (tensor.real) explicitly if that is what you mean"
        )
    return t.double().numpy() if t.is_floating_point() else t.numpy()


def fraction_array(values: RealArrayLike, name: str, ndim: int | None = None) -> np.ndarray:
    """Convert a (nested) sequence or array to a numpy object array of ``Fraction``.

    Raises ``ValueError`` naming ``name`` and the index of the first NaN/infinite entry,
    and for the wrong number of dimensions.
    """
    values = real_tensor_to_numpy(values, name)
    arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name}{list(idx)} is {arr[idx]!r}; weights and points must be finite numbers")
    out = np.empty(arr.shape, dtype=object)
    flat_out = out.reshape(-1)
    if arr.dtype.kind in "fiu":
        flat_out[:] = [Fraction(v) for v in arr.reshape(-1).tolist()]
        return out
    for i, v in enumerate(arr.reshape(-1)):
        try:
            flat_out[i] = to_fraction(v, name)
        except (TypeError, ValueError):
            where = [int(j) for j in np.unravel_index(i, arr.shape)] if arr.ndim else []
            flat_out[i] = to_fraction(v, f"{name}{where}" if where else name)
    return out


def fraction_to_float(q: Fraction, name: str = "value") -> float:
    """Correctly rounded float64 of a rational; raises if it overflows float64."""
    try:
        return float(q)
    except OverflowError as err:
        raise ValueError(f"{name} = {q} does not fit in float64; use exact mode") from err


def float_or_inf(num: float | Fraction, den: int = 1) -> float:
    """The float64 nearest to the rational ``num / den`` (``num`` an int or a Fraction,
    ``den`` a nonzero int; round to nearest even), and ``inf`` or ``-inf`` where it is
    beyond float64's range: what IEEE 754 rounding gives, where Python's ``float`` and
    integer division raise ``OverflowError`` instead."""
    try:
        return float(num if den == 1 else num / den)  # int / int and float(Fraction) round correctly
    except OverflowError:
        return math.inf if (num > 0) == (den > 0) else -math.inf


def format_fraction(q: Fraction) -> str:
    """``"p/q"`` (or ``"p"`` for integers), the project's JSON form of an exact rational."""
    return str(q) if q.denominator != 1 else str(q.numerator)
