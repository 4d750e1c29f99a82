"""Centred pulses (1-D) and disks (2-D) of integer radius: exact signals and torch batches.

Our formulation (docs/definitions.md, after Dagès, Lindenbaum and Bruckstein,
arXiv 2303.06638, whose full text we could not consult): a signal of length N = 2M + 1
with centre index M holds x_i = a where |i - M| <= r and 0 elsewhere; an N x N image holds
x_ij = a where (i - M)^2 + (j - M)^2 <= r^2. The radius r is an integer, 0 <= r <= R < M;
the amplitude a is fixed (a = 1, "binary") or unknown in [a_min, a_max], a_min > 0
("contrast-invariant"). Noise is for training only: exactness is claimed without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from ..extras import require
from ..net.rational import to_fraction

if TYPE_CHECKING:
    import torch

__all__ = ["pulse_signal", "disk_image", "lattice_count", "pulses", "disks", "check_geometry"]


def check_geometry(M: int, r_max: int | None = None, *, kind: str = "pulse") -> None:
    """Validate a half-length M >= 1 and a largest radius 0 <= r_max <= M (pulses) or
    r_max < M (disks, which must fit in the image with a margin)."""
    if not isinstance(M, (int, np.integer)) or isinstance(M, bool) or M < 1:
        raise ValueError(f"M must be an integer >= 1 (the signal has N = 2M + 1 samples), got {M!r}")
    if r_max is None:
        return
    if not isinstance(r_max, (int, np.integer)) or isinstance(r_max, bool) or r_max < 0:
        raise ValueError(f"the radius must be an integer >= 0, got {r_max!r}")
    limit = M if kind == "pulse" else M - 1
    if r_max > limit:
        what = "r <= M" if kind == "pulse" else "r < M (the disk must fit in the image)"
        raise ValueError(f"radius {r_max} too large for M = {M}: a {kind} needs {what}")


def pulse_signal(M: int, r: int, a: Fraction | float = 1) -> list[Fraction]:
    """The exact pulse of radius r and amplitude a (a Fraction), as N = 2M + 1 Fractions."""
    check_geometry(M, r)
    a = to_fraction(a, "a")
    return [a if abs(i - M) <= r else Fraction(0) for i in range(2 * M + 1)]


def disk_image(M: int, r: int, a: Fraction | float = 1) -> list[Fraction]:
    """The exact disk of radius r and amplitude a, as the N * N Fractions of the image in
    row-major order (the flattening of a (1, N, N) torch tensor)."""
    check_geometry(M, r, kind="disk")
    a = to_fraction(a, "a")
    n = 2 * M + 1
    return [a if (i - M) ** 2 + (j - M) ** 2 <= r * r else Fraction(0) for i in range(n) for j in range(n)]


def lattice_count(r: Fraction | float) -> int:
    """L(r) = #{(i, j) in Z^2 : i^2 + j^2 <= r^2} (Gauss circle problem), for a real r >= 0."""
    r = to_fraction(r, "r")
    if r < 0:
        raise ValueError(f"r must be >= 0, got {r}")
    r2 = r * r
    k = int(r)  # floor for r >= 0
    total = 0
    for i in range(-k, k + 1):
        rest = r2 - i * i
        # the largest j >= 0 with j^2 <= rest
        j = _isqrt_fraction(rest)
        total += 2 * j + 1
    return total


def _isqrt_fraction(q: Fraction) -> int:
    """floor(sqrt(q)) for a Fraction q >= 0."""
    j = int(np.floor(np.sqrt(float(q))))
    while j * j > q:
        j -= 1
    while (j + 1) * (j + 1) <= q:
        j += 1
    return j


def _radii_and_amplitudes(n, r_min, r_max, amplitude, rng):
    if n is None:
        r = np.arange(r_min, r_max + 1)
    else:
        if n < 1:
            raise ValueError(f"n must be positive, got {n}")
        r = rng.integers(r_min, r_max + 1, size=n)
    if isinstance(amplitude, (tuple, list)):
        lo, hi = (float(v) for v in amplitude)
        if not 0 < lo <= hi:
            raise ValueError(f"amplitude range must satisfy 0 < a_min <= a_max, got {amplitude}")
        a = rng.uniform(lo, hi, size=len(r))
    else:
        if float(amplitude) <= 0:
            raise ValueError(f"amplitude must be > 0, got {amplitude}")
        a = np.full(len(r), float(amplitude))
    return r, a


def _batch(kind: str, M: int, r_max: int, n, r_min: int, amplitude, noise: float, seed: int, dtype):
    """Pulses (kind "pulse", grid (N,)) or disks ("disk", grid (N, N)): the samples whose
    squared distance to the centre is <= r^2 are a, the others 0 (plus noise)."""
    require("torch", "the pulse data generators")
    import torch

    check_geometry(M, r_max, kind=kind)
    if not 0 <= r_min <= r_max:
        raise ValueError(f"need 0 <= r_min <= r_max, got r_min={r_min}, r_max={r_max}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    r, a = _radii_and_amplitudes(n, r_min, r_max, amplitude, rng)
    g = np.arange(2 * M + 1) - M
    d2 = g**2 if kind == "pulse" else g[:, None] ** 2 + g[None, :] ** 2
    per_sample = (-1,) + (1,) * d2.ndim
    x = (d2[None] <= (r**2).reshape(per_sample)) * a.reshape(per_sample)
    if noise:
        x = x + rng.normal(0.0, noise, size=x.shape)
    dtype = dtype or torch.get_default_dtype()
    return torch.as_tensor(x[:, None], dtype=dtype), torch.as_tensor(r, dtype=dtype)


def pulses(
    M: int,
    r_max: int,
    n: int | None = None,
    *,
    r_min: int = 0,
    amplitude: Fraction | float | Sequence[Fraction | float] = 1.0,
    noise: float = 0.0,
    seed: int = 0,
    dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A torch batch of pulses: ``(x, r)`` with x of shape (n, 1, N) and r of shape (n,).

    ``n=None`` gives one pulse per radius r_min..r_max; otherwise radii are drawn
    uniformly. ``amplitude``: a number (fixed) or a pair (a_min, a_max) drawn uniformly
    per pulse (a tuple or a list). ``noise``: standard deviation of additive Gaussian noise."""
    return _batch("pulse", M, r_max, n, r_min, amplitude, noise, seed, dtype)


def disks(
    M: int,
    r_max: int,
    n: int | None = None,
    *,
    r_min: int = 0,
    amplitude: Fraction | float | Sequence[Fraction | float] = 1.0,
    noise: float = 0.0,
    seed: int = 0,
    dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A torch batch of disks: ``(x, r)`` with x of shape (n, 1, N, N); arguments as in :func:`pulses`."""
    return _batch("disk", M, r_max, n, r_min, amplitude, noise, seed, dtype)
