"""Class separability of a representation: N1, the fraction of points on the class boundary
of a minimum spanning tree, computed exactly; F1, the maximum Fisher's discriminant ratio
(:func:`f1`); and all of them with the companions of :mod:`exactnet.probe.companions` at
every layer of a network (:class:`SeparabilityScore`, :func:`layerwise_separability`).

N1 (Ho & Basu, "Complexity measures of supervised classification problems", IEEE TPAMI
24(3), 2002; Lorena et al., "How Complex is your Classification Problem?", ACM Computing
Surveys 52(5), 2019, measure N1): build a minimum spanning tree (MST) over all n points
(all classes together); a point is a *boundary point* when one of its MST edges joins two
different labels; N1 = (number of distinct boundary points) / n.

Exact, and the same on every run:

* distances are compared exactly: float64 values with a rigorous error bound, and every
  comparison the bound cannot settle is decided in rationals (the inputs' exact values);
* ties follow one rule (our formulation): edges are ordered by (distance, smaller index,
  larger index), so the MST is the unique minimum tree of that total order, the one
  Kruskal's algorithm finds when it sorts the edges that way;
* a group of identical points with mixed labels is all boundary, whichever of its
  zero-length edges the tree uses.

The tree (:mod:`exactnet.probe._mst`) is found by Borůvka's rounds over certified
nearest-neighbour lists from blocked matrix products (float32 with a rigorous error bound,
float64 and rationals where that bound cannot decide), on the CPU or a CUDA device:
O(n^2 p) time in a few passes, O(n (p + k)) memory, never the n x n matrix. On 2 CPU cores,
20,000 points in 512 dimensions take about 15 s and 1.2 GiB.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import torch

    from .recording import ModuleSelection
    from .reductions import ReductionLike
    from .runner import LayerData, LayerwiseResult

__all__ = ["MEASURES", "N1Result", "SeparabilityScore", "f1", "layerwise_separability", "mst_edges", "n1"]

TIE_RULE = "edges ordered by (distance, smaller index, larger index)"


@dataclass(frozen=True)
class N1Result:
    """N1 and what it was computed from. ``value`` = ``boundary`` / ``n`` (a Fraction in
    ``exact_value``); in pairwise mode ``value`` is the mean over class pairs and
    ``pairwise[a, b]`` the N1 of classes a and b (NaN on the diagonal). ``range``: with
    ``tie_range=True``, N1's least and greatest value over every MST (every tie-break),
    exact when ``range_exact``, else bounds on them."""

    value: float
    exact_value: Fraction
    boundary: int
    n: int
    d: int
    metric: str
    multiclass: str
    tie_rule: str
    classes: tuple
    mst_weight: float
    pairwise: np.ndarray | None = None
    range: tuple[Fraction, Fraction] | None = None
    range_exact: bool | None = None


def _check(X: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    try:
        Xa = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"X must be a numeric array of shape (n, d); got {type(X).__name__}") from err
    if Xa.ndim != 2:
        raise ValueError(f"X must have shape (n, d) (one row per point); got shape {Xa.shape}")
    if not np.isfinite(Xa).all():
        raise ValueError("X has NaN or infinite values; remove or impute them before computing N1")
    ya = np.asarray(y)
    if ya.ndim != 1 or len(ya) != len(Xa):
        raise ValueError(f"y must be one label per row of X: X has {len(Xa)} rows, y has shape {ya.shape}")
    if len(Xa) < 2:
        raise ValueError(f"N1 needs at least 2 points; got {len(Xa)}")
    if len(np.unique(ya)) < 2:
        raise ValueError("y has one class only: N1 compares classes, pass labels of at least two classes")
    return Xa, ya


def mst_edges(X: ArrayLike, metric: Literal["euclidean", "gower"] = "euclidean", *, device: Any = None) -> np.ndarray:
    """The minimum spanning tree of the rows of X under the tie rule (module docstring):
    (n - 1, 2) index pairs (i < j), sorted. ``device``: a CUDA torch device for the
    Euclidean matrix products (``None``: the CPU)."""
    Xa = np.asarray(X, dtype=np.float64)
    if Xa.ndim != 2 or len(Xa) < 1:
        raise ValueError(f"X must have shape (n, d) with n >= 1; got {Xa.shape}")
    if not np.isfinite(Xa).all():
        raise ValueError("X has NaN or infinite values; remove or impute them first")
    from ._mst import minimum_spanning_tree  # numba and scipy on first use

    return minimum_spanning_tree(Xa, metric, device=_device(device)).edges


def _device(device: Any) -> Any:
    if device is None:
        return None
    from ._device import checked_device

    dev = checked_device(device)
    return None if dev.type == "cpu" else dev


def _n1_of(
    X: np.ndarray, y: np.ndarray, metric: str, device: Any, progress: bool, tie_range: bool
) -> tuple[int, float, Any]:
    """(boundary points, tree length, the range over tie-breaks or None) of one MST over
    the rows of X."""
    from ._mst import distinct_tree, expand  # numba and scipy on first use

    dt = distinct_tree(X, metric, device=device, progress=progress)
    tree = expand(dt)
    edges = tree.edges
    cross = y[edges[:, 0]] != y[edges[:, 1]]
    boundary = np.zeros(len(X), dtype=bool)
    boundary[edges[cross, 0]] = True
    boundary[edges[cross, 1]] = True
    # identical points with mixed labels: all on the boundary, whichever zero-length edges
    # the tree uses among them
    group = dt.group
    for g in np.flatnonzero(np.bincount(group) > 1):
        members = group == g
        if len(np.unique(y[members])) > 1:
            boundary[members] = True
    ties = None
    if tie_range:
        from ._ties import n1_range

        ties = n1_range(dt, y)
    return int(boundary.sum()), tree.weight, ties


def n1(
    X: ArrayLike,
    y: ArrayLike,
    *,
    metric: Literal["euclidean", "gower"] = "euclidean",
    multiclass: Literal["global", "pairwise"] = "global",
    tie_range: bool = False,
    device: Any = None,
    progress: bool = False,
) -> N1Result:
    """N1 of the labelled points (rows of X, labels y): the fraction of points that an MST
    edge joins to a point of another label (Ho & Basu 2002; Lorena et al. 2019, N1).

    ``metric``: ``"euclidean"`` on the raw features (default), or ``"gower"``: the mean
    over features of |x_f - y_f| / range_f (ECoL's and pymfe's convention; constant
    features add 0). ``multiclass``: ``"global"``, one MST over all classes (default), or
    ``"pairwise"``, the mean over class pairs of the N1 of each pair's own MST (the matrix
    in ``pairwise``). Exact: distances compared in rationals where float64 cannot settle
    them, ties by (distance, smaller index, larger index), identical points with mixed
    labels all on the boundary (module docstring). ``tie_range=True`` adds N1's least and
    greatest value over every MST (every tie-break; ``range``, exact when ``range_exact``,
    else bounds; one more O(n^2 p) pass, :mod:`exactnet.probe._ties`). ``device``: ``"cuda"`` (or a torch
    device) runs the Euclidean matrix products there; ``progress``: tqdm bars.
    """
    Xa, ya = _check(X, y)
    if multiclass not in ("global", "pairwise"):
        raise ValueError(f"multiclass must be 'global' or 'pairwise'; got {multiclass!r}")
    if metric not in ("euclidean", "gower"):
        raise ValueError(f"metric must be 'euclidean' or 'gower'; got {metric!r}")
    dev = _device(device)
    classes = tuple(np.unique(ya).tolist())
    n, d = Xa.shape
    if multiclass == "global":
        b, total, ties = _n1_of(Xa, ya, metric, dev, progress, tie_range)
        q = Fraction(b, n)
        if ties is None:
            return N1Result(float(q), q, b, n, d, metric, multiclass, TIE_RULE, classes, total)
        span = (Fraction(ties.low, n), Fraction(ties.high, n))
        return N1Result(float(q), q, b, n, d, metric, multiclass, TIE_RULE, classes, total, None, span, ties.exact)
    if tie_range:
        raise ValueError("tie_range=True needs multiclass='global' (one tree); call n1 on each pair for theirs")
    k = len(classes)
    mat = np.full((k, k), np.nan)
    fracs = []
    bsum = 0
    for a, c in combinations(range(k), 2):
        mask = (ya == classes[a]) | (ya == classes[c])
        b, _, _ = _n1_of(Xa[mask], ya[mask], metric, dev, progress, False)
        q = Fraction(b, int(mask.sum()))
        mat[a, c] = mat[c, a] = float(q)
        fracs.append(q)
        bsum += b
    mean = sum(fracs, Fraction(0)) / len(fracs)
    return N1Result(float(mean), mean, bsum, n, d, metric, multiclass, TIE_RULE, classes, float("nan"), mat)


def f1(X: ArrayLike, y: ArrayLike) -> float:
    """F1 as ECoL reports it: 1 / (1 + max_f r_f), with Fisher's discriminant ratio of
    feature f over the classes c (Lorena et al. 2019, measure F1, Eq. 1 and 2)

        r_f = sum_c n_c (mu_{c,f} - mu_f)^2 / sum_c sum_{i in c} (x_{i,f} - mu_{c,f})^2,

    mu_f the feature's mean and mu_{c,f} its mean over class c. Low values: some feature
    separates the classes. A feature constant within every class and varying across them
    has r_f = inf (F1 = 0); a constant feature has r_f = 0."""
    Xa, ya = _check(X, y)
    mu = Xa.mean(axis=0)
    between = np.zeros(Xa.shape[1])
    within = np.zeros(Xa.shape[1])
    for c in np.unique(ya):
        Xc = Xa[ya == c]
        mc = Xc.mean(axis=0)
        between += len(Xc) * (mc - mu) ** 2
        within += ((Xc - mc) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(within > 0, between / within, np.where(between > 0, np.inf, 0.0))
    return float(1.0 / (1.0 + ratio.max()))


#: the measures of :class:`SeparabilityScore`, in their order
MEASURES = ("n1", "f1", "n2", "n3", "probe", "gdv")


@dataclass(frozen=True)
class SeparabilityScore:
    """Class separability of a layer's output rows, as a score for
    :func:`~exactnet.probe.layerwise`: any of N1 (:func:`n1`, exact), F1 (:func:`f1`),
    N2 and N3 (:func:`~exactnet.probe.companions.n2`, :func:`~exactnet.probe.companions.n3`),
    the linear-probe accuracy (``probe``, :func:`~exactnet.probe.companions.linear_probe`)
    and GDV (:func:`~exactnet.probe.companions.gdv`), after Ho, "Complexity of
    Representations in Deep Learning", ICPR 2022 (arXiv 2209.00525), and Lorena et al.,
    ACM Computing Surveys 52(5), 2019. The first measure is the primary value.

    A measure that cannot be computed on a layer (a class with one row in the sample for
    N2 and the probe, every feature constant for GDV) is NaN, flagged ``skipped``, with
    a warning that says why. N1's tree runs on the layer's device when it is CUDA."""

    measures: tuple[str, ...] = MEASURES
    metric: Literal["euclidean", "gower"] = "euclidean"

    name = "separability"
    needs = ("output", "labels")
    legend = {
        "skipped": "a measure could not be computed on this layer (a class with one row, or every feature "
        "constant); it is NaN and a warning said why"
    }

    def __post_init__(self) -> None:
        if isinstance(self.measures, str) or not self.measures:
            raise ValueError(f"measures={self.measures!r}; pass a non-empty tuple of {MEASURES}")
        bad = [m for m in self.measures if m not in MEASURES]
        if bad:
            raise ValueError(f"measures: unknown {bad}; choose from {MEASURES}")
        if self.metric not in ("euclidean", "gower"):
            raise ValueError(f"metric must be 'euclidean' or 'gower'; got {self.metric!r}")

    @property
    def primary(self) -> str:
        return self.measures[0]

    @property
    def options(self) -> dict[str, Any]:
        return {"measures": list(self.measures), "metric": self.metric}

    def __call__(self, layer: LayerData) -> dict[str, Any]:
        assert layer.output is not None and layer.labels is not None  # needs output and labels
        return self.measure(layer.output.numpy(), layer.labels.numpy(), name=layer.name, device=layer.device)

    def measure(self, X: np.ndarray, y: np.ndarray, *, name: str = "", device: Any = None) -> dict[str, Any]:
        """The measures of rows X with labels y (``name``: the layer, for warnings)."""
        import functools
        import warnings

        from . import companions

        on_cuda = getattr(device, "type", "cpu") == "cuda"

        @functools.cache
        def shared() -> companions.Neighbours:  # one nearest-neighbour search for N2 and N3
            return companions.nearest_neighbours(X, y, metric=self.metric)

        compute = {
            "n1": lambda: n1(X, y, metric=self.metric, device=device if on_cuda else None).value,
            "f1": lambda: f1(X, y),
            "n2": lambda: companions.n2(X, y, metric=self.metric, neighbours=shared()),
            "n3": lambda: companions.n3(X, y, metric=self.metric, neighbours=shared()),
            "probe": lambda: companions.linear_probe(X, y),
            "gdv": lambda: companions.gdv(X, y),
        }
        out: dict[str, Any] = {}
        skipped = False
        for m in self.measures:
            try:
                out[m] = float(compute[m]())
            except ValueError as err:
                warnings.warn(f"layer {name}: {m} skipped: {err}", stacklevel=3)
                out[m] = float("nan")
                skipped = True
        out["skipped"] = skipped
        return out


def layerwise_separability(
    model: torch.nn.Module,
    data: torch.Tensor | Iterable[Any],
    *,
    labels: ArrayLike | None = None,
    measures: Sequence[str] = MEASURES,
    metric: Literal["euclidean", "gower"] = "euclidean",
    layers: ModuleSelection | None = None,
    reduction: ReductionLike = "channel_mean",
    samples: int | None = 2048,
    batch_size: int = 256,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    name: str | None = None,
    include_input: bool = True,
) -> LayerwiseResult:
    """Class separability of every layer's representation: :func:`~exactnet.probe.layerwise`
    with :class:`SeparabilityScore` (Ho, ICPR 2022, arXiv 2209.00525: complexity through
    the layers). ``data``: inputs with ``labels``, or batches ``(inputs, labels)``;
    ``reduction``: how an activation becomes a row (``"flatten"`` keeps every feature,
    ``"channel_mean"``, the default, one per channel; N1 is exact on the rows as reduced).
    Returns a :class:`~exactnet.probe.LayerwiseResult` with a value per measure per layer
    (``table()``, ``to_json()``, ``plot(key)``). With ``include_input`` (and ``data`` a
    tensor with ``labels``) the first row, ``input``, measures the flattened inputs
    themselves (the same sampled rows), the baseline the layers are compared with."""
    import dataclasses
    import time

    from .runner import LayerRow, layerwise

    score = SeparabilityScore(measures=tuple(measures), metric=metric)
    res = layerwise(
        model,
        data,
        score,
        layers=layers,
        reduction=reduction,
        samples=samples,
        batch_size=batch_size,
        labels=labels,
        seed=seed,
        device=device,
        progress=progress,
        name=name,
    )
    import torch

    if not include_input or labels is None or not isinstance(data, torch.Tensor):
        return res
    from .sampling import bottom_k, sample_priorities

    index = np.arange(len(data))
    keep = bottom_k(sample_priorities(seed, index), index, None, samples) if samples is not None else index
    t0 = time.perf_counter()
    X = data[torch.from_numpy(keep)].reshape(len(keep), -1).double().cpu().numpy()
    y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)[keep]
    values = score.measure(X, y, name="input")
    row = LayerRow("input", "input", X.shape[1], X.shape[0], values, time.perf_counter() - t0)
    return dataclasses.replace(res, layers=(row, *res.layers))
