"""Two-dimensional classification data of graded intricacy, and a measure of it.

Every generator is seeded and returns ``(X, y)``: float64 points (n, 2) and integer labels
(n,), classes balanced. From simple to intricate:

* :func:`moons` (two interleaving half circles), :func:`circles` (a disk inside a ring),
  :func:`gaussian_quantiles` (a Gaussian cut into classes by its radius quantiles);
* :func:`spirals` with more ``turns``, :func:`checkerboard` of rising ``frequency``;
* :func:`random_labels`: the same points with labels drawn at random.

:func:`intricacy` measures how intricate the labelling is: N1, the fraction of points with
a neighbour of another class on the Euclidean minimum spanning tree (Ho & Basu, 2002;
exact, :func:`exactnet.n1`). :func:`make_dataset` builds any of them by name.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DATASETS",
    "checkerboard",
    "circles",
    "gaussian_quantiles",
    "intricacy",
    "make_dataset",
    "moons",
    "random_labels",
    "spirals",
]

DATASETS = ("moons", "circles", "quantiles", "spirals", "checker", "random")


def _check(n: int, noise: float) -> None:
    if not isinstance(n, (int, np.integer)) or n < 4:
        raise ValueError(f"n={n!r}; ask for at least 4 points")
    if not noise >= 0:
        raise ValueError(f"noise={noise!r}; the noise is a standard deviation >= 0")


def moons(n: int = 400, *, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (as scikit-learn's make_moons), Gaussian noise of
    standard deviation ``noise``."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n - n0)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1), np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)])
    y = np.r_[np.zeros(n0, int), np.ones(n - n0, int)]
    return X + rng.normal(0, noise, X.shape), y


def circles(n: int = 400, *, noise: float = 0.05, factor: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A circle of radius ``factor`` (class 1) inside one of radius 1 (class 0)."""
    _check(n, noise)
    if not 0 < factor < 1:
        raise ValueError(f"factor={factor!r}; the inner circle's radius is in (0, 1)")
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.r_[np.ones(n0), np.full(n - n0, factor)]
    X = np.stack([r * np.cos(t), r * np.sin(t)], 1)
    y = np.r_[np.zeros(n0, int), np.ones(n - n0, int)]
    return X + rng.normal(0, noise, X.shape), y


def gaussian_quantiles(n: int = 400, *, classes: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Standard Gaussian points labelled by the quantile of their radius (``classes``
    rings of equal counts, as scikit-learn's make_gaussian_quantiles)."""
    _check(n, 0.0)
    if classes < 2:
        raise ValueError(f"classes={classes!r}; at least 2")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    order = np.argsort(np.hypot(X[:, 0], X[:, 1]), kind="stable")
    y = np.empty(n, int)
    y[order] = np.arange(n) * classes // n
    return X, y


def spirals(n: int = 400, *, turns: float = 1.0, noise: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals of ``turns`` turns each (radius growing from 0.1 to 1)."""
    _check(n, noise)
    if not turns > 0:
        raise ValueError(f"turns={turns!r}; a spiral makes a positive number of turns")
    rng = np.random.default_rng(seed)
    n0 = n // 2
    s = np.sqrt(rng.uniform(0.01, 1, n))  # uniform along the arc length, roughly
    angle = 2 * np.pi * turns * s + np.r_[np.zeros(n0), np.full(n - n0, np.pi)]
    r = 0.1 + 0.9 * s
    X = np.stack([r * np.cos(angle), r * np.sin(angle)], 1)
    y = np.r_[np.zeros(n0, int), np.ones(n - n0, int)]
    return X + rng.normal(0, noise, X.shape), y


def checkerboard(n: int = 400, *, frequency: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points of [-1, 1]^2 coloured as a ``frequency`` x ``frequency``
    checkerboard."""
    _check(n, 0.0)
    if not isinstance(frequency, (int, np.integer)) or frequency < 1:
        raise ValueError(f"frequency={frequency!r}; the board has a positive integer number of squares per side")
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    cells = np.floor((X + 1) / 2 * frequency).clip(0, frequency - 1).astype(int)
    return X, (cells.sum(axis=1) % 2).astype(int)


def random_labels(n: int = 400, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points of [-1, 1]^2 with balanced labels drawn at random."""
    _check(n, 0.0)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    return X, rng.permutation(np.arange(n) % 2)


def make_dataset(
    name: str, n: int = 400, *, level: float | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The data set ``name`` (one of :data:`DATASETS`); ``level``: its intricacy knob
    where it has one (the spirals' turns, the checkerboard's frequency, the quantiles'
    classes; the noise of moons and circles)."""
    if name == "moons":
        return moons(n, seed=seed) if level is None else moons(n, noise=level, seed=seed)
    if name == "circles":
        return circles(n, seed=seed) if level is None else circles(n, noise=level, seed=seed)
    if name == "quantiles":
        return gaussian_quantiles(n, classes=2 if level is None else int(level), seed=seed)
    if name == "spirals":
        return spirals(n, turns=1.0 if level is None else level, seed=seed)
    if name == "checker":
        return checkerboard(n, frequency=2 if level is None else int(level), seed=seed)
    if name == "random":
        return random_labels(n, seed=seed)
    raise ValueError(f"name={name!r}; use one of {', '.join(DATASETS)}")


def intricacy(X: np.ndarray, y: np.ndarray) -> float:
    """N1 of the labelled points: the fraction of points joined to a point of another
    class on a Euclidean minimum spanning tree (Ho & Basu 2002), computed exactly
    (:func:`exactnet.n1`). 0 for classes apart, about 1/2 or more for random labels."""
    from ..probe.separability import n1

    return float(n1(np.asarray(X, dtype=float), np.asarray(y)).value)
