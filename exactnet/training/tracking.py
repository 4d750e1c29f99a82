"""Exact snapshots of a classifier's linear regions through training.

:func:`track` wraps a torch model with 2-D inputs; a training loop calls the returned
:class:`Tracker` at the steps or epochs it chooses. Each call lowers the model as it is
(:func:`~exactnet.from_torch`), partitions the domain exactly (``exactnet.regions``,
float64 with exact decisions: the same regions as rational arithmetic) and records a
:class:`Snapshot`:

* the number of linear regions in the domain, split into those **near the data** (within
  ``radius`` of a training point, or meeting the training points' convex hull) and
  **elsewhere** (near + elsewhere = total);
* the **decision boundary**: its pieces (one per region it crosses, where the top two
  outputs tie) and its length;
* the train and test accuracy, and the lowered weights, so that every snapshot can be
  recomputed (:meth:`Snapshot.regions`).

The snapshots of one run form a :class:`TrainingRun`, saved to one ``.npz`` file (no
pickles) and read back with :func:`load_run`. These are the measurements of the
"training dynamics" experiments of the linear-regions paper (docs/definitions.md, "Linear
regions"): fewer regions for intricate inputs, and a decision boundary refined step by
step.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from ..net.network import Network
    from ..regions.result import Regions

__all__ = ["Snapshot", "Tracker", "TrainingRun", "load_run", "track"]

NEAR_MODES = ("radius", "hull")


@dataclass(frozen=True)
class Snapshot:
    """The exact partition of the domain at one point of training (module docstring).

    ``layers``: the lowered network's (weight, bias, negative slopes) per layer, float64
    arrays, from which :meth:`regions` recomputes the partition."""

    step: int
    epoch: float | None
    num_regions: int
    near: int
    elsewhere: int
    boundary_pieces: int
    boundary_length: float
    train_accuracy: float | None
    test_accuracy: float | None
    seconds: float
    layers: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...] = field(repr=False)
    domain: tuple[float, float, float, float] = field(repr=False)
    _regions: Any = field(default=None, repr=False, compare=False)

    def network(self) -> Network:
        """The network of this snapshot (from the saved weights)."""
        from ..net.network import Layer, Network

        return Network([Layer(w, b, s, name=f"layers[{i}]") for i, (w, b, s) in enumerate(self.layers)])

    def regions(self) -> Regions:
        """The partition of the domain (the one measured, or recomputed from the weights
        for a snapshot read from a file)."""
        if self._regions is not None:
            return self._regions
        return _partition(self.network(), self.domain)

    def values(self) -> dict[str, Any]:
        """The measurements as a JSON-ready dict (no weights)."""
        keys = (
            "step", "epoch", "num_regions", "near", "elsewhere", "boundary_pieces", "boundary_length",
            "train_accuracy", "test_accuracy", "seconds",
        )  # fmt: skip
        return {k: getattr(self, k) for k in keys}


def _partition(net: Network, domain: tuple[float, float, float, float]) -> Regions:
    from ..regions.api import regions as partition
    from ..regions.space.domain import Box

    u0, u1, v0, v1 = domain
    return partition(net, Box([u0, v0], [u1, v1]))


def _region_polygons(reg: Regions) -> Any:
    """The regions as shapely polygons (one vectorised construction)."""
    import shapely

    verts = [np.asarray(r.vertices, dtype=float) for r in reg.regions]
    rings = [np.vstack([v, v[:1]]) for v in verts]
    coords = np.concatenate(rings)
    ring_offsets = np.concatenate([[0], np.cumsum([len(r) for r in rings])])
    poly_offsets = np.arange(len(rings) + 1)
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords, (ring_offsets, poly_offsets))


def _boundary(reg: Regions) -> tuple[int, float]:
    pieces = reg.decision_boundary
    length = 0.0
    for _, _, verts in pieces:
        pts = np.asarray(verts, dtype=float)
        if len(pts) == 2:
            length += float(np.hypot(*(pts[1] - pts[0])))
    return len(pieces), length


def _as_data(data: Any, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    if data is None:
        return None
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(f"{name} must be a pair (X, y) of inputs (n, 2) and integer labels (n,)")
    X = np.asarray(data[0].detach().cpu() if hasattr(data[0], "detach") else data[0], dtype=float)
    y = np.asarray(data[1].detach().cpu() if hasattr(data[1], "detach") else data[1])
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"{name}: X has shape {X.shape}; the tracker partitions 2-D inputs, give X of shape (n, 2)")
    if y.shape != (len(X),):
        raise ValueError(f"{name}: y has shape {y.shape} for {len(X)} inputs; give one label per input")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name}: X holds NaN or infinite values")
    if len(X) == 0:
        raise ValueError(f"{name} is empty; give at least one point")
    return X, y


class Tracker:
    """Exact snapshots of a torch classifier with 2-D inputs (made by :func:`track`).
    Call it (or :meth:`snapshot`) from a training loop; ``snapshots`` holds them in
    order; :meth:`run` gives them as a :class:`TrainingRun` to save."""

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        domain: Sequence[float] | None = None,
        train: Any = None,
        test: Any = None,
        radius: float | None = None,
        near: str = "radius",
        name: str | None = None,
    ):
        self.model = model
        self.train = _as_data(train, "train")
        self.test = _as_data(test, "test")
        if near not in NEAR_MODES:
            raise ValueError(f"near={near!r}; use 'radius' (within radius of a training point) or 'hull'")
        if self.train is None and (domain is None or radius is not None or near == "hull"):
            raise ValueError("train=(X, y) is needed to place the domain and to tell regions near the data")
        X = self.train[0] if self.train is not None else None
        if domain is None:
            assert X is not None
            lo, hi = X.min(axis=0), X.max(axis=0)
            pad = 0.25 * np.maximum(hi - lo, 1e-9)
            domain = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
        domain = tuple(float(v) for v in domain)
        if len(domain) != 4 or not (domain[0] < domain[1] and domain[2] < domain[3]):
            raise ValueError(f"domain={domain}; give (u0, u1, v0, v1) with u0 < u1 and v0 < v1")
        self.domain: tuple[float, float, float, float] = domain
        self.near = near
        self.radius = None
        self._near_geometry: Any = None
        if X is not None:
            import shapely

            if near == "radius":
                if radius is None:  # twice the median distance from a training point to its nearest neighbour
                    from scipy.spatial import cKDTree

                    dist, _ = cKDTree(X).query(X, k=2)
                    radius = 2.0 * float(np.median(dist[:, 1])) if len(X) > 1 else 0.0
                if not radius >= 0:
                    raise ValueError(f"radius={radius!r}; give a distance >= 0")
                self.radius = float(radius)
                self._near_geometry = shapely.STRtree(shapely.points(X))
            else:
                self._near_geometry = shapely.MultiPoint(X).convex_hull
        self.name = name or type(model).__name__
        self.snapshots: list[Snapshot] = []

    def _near(self, reg: Regions) -> int:
        import shapely

        polys = _region_polygons(reg)
        if self.near == "radius":
            pairs = self._near_geometry.query(polys, predicate="dwithin", distance=self.radius)
            return int(len(np.unique(pairs[0])))
        hull = self._near_geometry
        inter = shapely.intersection(polys, hull)
        return int(np.count_nonzero(shapely.area(inter) > 0))

    def _accuracy(self, data: tuple[np.ndarray, np.ndarray] | None) -> float | None:
        if data is None:
            return None
        import torch

        X, y = data
        param = next(self.model.parameters(), None)
        dtype = param.dtype if param is not None else torch.float32
        device = param.device if param is not None else torch.device("cpu")
        was = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                out = self.model(torch.as_tensor(X, dtype=dtype, device=device)).cpu().numpy()
        finally:
            self.model.train(was)
        pred = out.argmax(axis=1) if out.ndim == 2 and out.shape[1] > 1 else (out.reshape(len(X)) > 0).astype(int)
        return float(np.mean(pred == y))

    def snapshot(self, step: int | None = None, *, epoch: float | None = None) -> Snapshot:
        """Record the model as it is now: lowered, partitioned exactly, measured (module
        docstring). ``step``: any increasing number of the training loop (default: the
        number of snapshots so far); ``epoch``: recorded alongside."""
        from ..net.lowering import from_torch

        t0 = time.perf_counter()
        net = from_torch(self.model)
        if net.input_dim != 2:
            raise ValueError(f"the model has {net.input_dim} inputs; the tracker partitions 2-D input domains")
        reg = _partition(net, self.domain)
        near = self._near(reg) if self._near_geometry is not None else 0
        pieces, length = _boundary(reg)
        layers = tuple(
            (np.array(layer.weight, dtype=float), np.array(layer.bias, dtype=float), np.array(layer.negative_slope))
            for layer in net.layers
        )
        snap = Snapshot(
            step=len(self.snapshots) if step is None else int(step),
            epoch=None if epoch is None else float(epoch),
            num_regions=reg.num_regions,
            near=near,
            elsewhere=reg.num_regions - near,
            boundary_pieces=pieces,
            boundary_length=length,
            train_accuracy=self._accuracy(self.train),
            test_accuracy=self._accuracy(self.test),
            seconds=0.0,
            layers=layers,
            domain=self.domain,
            _regions=reg,
        )
        snap = _with_seconds(snap, time.perf_counter() - t0)
        self.snapshots.append(snap)
        return snap

    __call__ = snapshot

    def run(self) -> TrainingRun:
        """The snapshots so far as a :class:`TrainingRun`."""
        return TrainingRun(
            name=self.name,
            domain=self.domain,
            near=self.near,
            radius=self.radius,
            train=self.train,
            test=self.test,
            snapshots=tuple(self.snapshots),
        )


def _with_seconds(snap: Snapshot, seconds: float) -> Snapshot:
    from dataclasses import replace

    return replace(snap, seconds=seconds)


def track(
    model: torch.nn.Module,
    *,
    domain: Sequence[float] | None = None,
    train: Any = None,
    test: Any = None,
    radius: float | None = None,
    near: str = "radius",
    name: str | None = None,
) -> Tracker:
    """A :class:`Tracker` for ``model`` (a torch classifier with 2 inputs, lowered by
    :func:`~exactnet.from_torch`): call it from the training loop to record a snapshot.

    ``train``, ``test``: ``(X, y)`` pairs (arrays or tensors) for the accuracies; the
    training points also place the default ``domain`` (their bounding box grown by a
    quarter on each side; else give ``(u0, u1, v0, v1)``) and tell the regions near the
    data: ``near="radius"`` (default), regions within ``radius`` of a training point
    (default: twice the median distance from a training point to its nearest one);
    ``near="hull"``, regions meeting the interior of the points' convex hull.

    >>> tracker = track(model, train=(X, y), test=(Xt, yt))  # doctest: +SKIP
    >>> for epoch in range(100):  # doctest: +SKIP
    ...     train_one_epoch(model)
    ...     tracker(epoch=epoch)
    >>> tracker.run().save("run.npz")  # doctest: +SKIP
    """
    return Tracker(model, domain=domain, train=train, test=test, radius=radius, near=near, name=name)


@dataclass(frozen=True)
class TrainingRun:
    """The snapshots of one training run, with its settings and data; :meth:`save` writes
    one ``.npz`` file (no pickles), :func:`load_run` reads it."""

    name: str
    domain: tuple[float, float, float, float]
    near: str
    radius: float | None
    train: tuple[np.ndarray, np.ndarray] | None
    test: tuple[np.ndarray, np.ndarray] | None
    snapshots: tuple[Snapshot, ...]

    def curves(self) -> dict[str, np.ndarray]:
        """Every measurement as an array over the snapshots (``step``, ``num_regions``,
        ``near``, ``elsewhere``, ``boundary_pieces``, ``boundary_length``, accuracies,
        ``seconds``; missing values as NaN)."""
        rows = [s.values() for s in self.snapshots]
        keys = rows[0].keys() if rows else Snapshot.__dataclass_fields__.keys()
        return {k: np.array([np.nan if r[k] is None else r[k] for r in rows], dtype=float) for k in keys if rows}

    def table(self) -> str:
        """One line per snapshot."""
        head = (
            f"{'step':>6} {'epoch':>6} {'regions':>8} {'near':>6} {'elsewhere':>9} {'bd pieces':>9} "
            f"{'bd length':>9} {'train':>6} {'test':>6} {'ms':>6}"
        )
        lines = [f"{self.name}: domain {self.domain}, near = {self.near}", head]

        def acc(v: float | None) -> str:
            return f"{v:>6.3f}" if v is not None else f"{'-':>6}"

        for s in self.snapshots:
            ep = f"{s.epoch:>6g}" if s.epoch is not None else f"{'-':>6}"
            lines.append(
                f"{s.step:>6} {ep} {s.num_regions:>8} {s.near:>6} {s.elsewhere:>9} {s.boundary_pieces:>9} "
                f"{s.boundary_length:>9.3f} {acc(s.train_accuracy)} {acc(s.test_accuracy)} {1e3 * s.seconds:>6.1f}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def plot_grid(self, *, count: int | None = 8, ncols: int = 4, path: str | Path | None = None) -> Any:
        """A grid of snapshots (:func:`~exactnet.training.pictures.plot_grid`)."""
        from .pictures import plot_grid

        return plot_grid(self, count=count, ncols=ncols, path=path)

    def plot_curves(self, *, path: str | Path | None = None) -> Any:
        """The counts, the boundary and the accuracies over training
        (:func:`~exactnet.training.pictures.plot_curves`)."""
        from .pictures import plot_curves

        return plot_curves(self, path=path)

    def animate(self, path: str | Path, *, fps: float = 2.0) -> Path:
        """A GIF of every snapshot (:func:`~exactnet.training.pictures.animate`)."""
        from .pictures import animate

        return animate(self, path, fps=fps)

    def save(self, path: str | Path) -> Path:
        """Write the run to one ``.npz`` file: the measurements and settings as JSON, the
        data and every snapshot's weights as arrays."""
        path = Path(path)
        meta = {
            "format": "exactnet.training.run/1",
            "name": self.name,
            "domain": list(self.domain),
            "near": self.near,
            "radius": self.radius,
            "snapshots": [dict(s.values(), layers=len(s.layers)) for s in self.snapshots],
        }
        arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
        for key, data in (("train", self.train), ("test", self.test)):
            if data is not None:
                arrays[f"{key}_X"], arrays[f"{key}_y"] = data
        for k, s in enumerate(self.snapshots):
            for i, (w, b, slope) in enumerate(s.layers):
                arrays[f"s{k}_W{i}"], arrays[f"s{k}_b{i}"], arrays[f"s{k}_s{i}"] = w, b, slope
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as its options
        return path


def load_run(path: str | Path) -> TrainingRun:
    """Read a :class:`TrainingRun` written by :meth:`TrainingRun.save` (``allow_pickle``
    off: the file holds only numbers and one JSON string)."""
    with np.load(Path(path), allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        if meta.get("format") != "exactnet.training.run/1":
            raise ValueError(f"{path}: not an exactnet training run (format {meta.get('format')!r})")
        data = {k: f[k] for k in f.files}

    def pair(key: str) -> tuple[np.ndarray, np.ndarray] | None:
        return (data[f"{key}_X"], data[f"{key}_y"]) if f"{key}_X" in data else None

    domain = tuple(float(v) for v in meta["domain"])
    snaps = []
    for k, s in enumerate(meta["snapshots"]):
        count = s.pop("layers")
        layers = tuple((data[f"s{k}_W{i}"], data[f"s{k}_b{i}"], data[f"s{k}_s{i}"]) for i in range(count))
        snaps.append(Snapshot(**s, layers=layers, domain=domain))  # type: ignore[arg-type]
    return TrainingRun(
        name=meta["name"],
        domain=domain,  # type: ignore[arg-type]
        near=meta["near"],
        radius=meta["radius"],
        train=pair("train"),
        test=pair("test"),
        snapshots=tuple(snaps),
    )
