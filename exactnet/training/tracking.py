"""Exact snapshots of a classifier's linear regions through training.

:func:`track` wraps a torch classifier (2 inputs, or more: below); a training loop calls the returned
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

For a model with more than two inputs (an MLP on images, say) a snapshot looks along
``chords`` random segments between test inputs (the exact 1-D engine: regions per chord,
and how often the predicted class changes along it) and on ``slices`` 2-D slices, each
the plane through three test inputs a, b, c (a at (u, v) = (0, 0), b at (1, 0), c at
(0, 1)), partitioned exactly on the box [-0.25, 1.25]^2 of (u, v): its regions, those
meeting the triangle abc (near the data) and the rest, and its decision boundary (length
in (u, v) units). The counts are summed over the slices.

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


SLICE_BOX = (-0.25, 1.25, -0.25, 1.25)


@dataclass(frozen=True, eq=False)
class View:
    """Where the snapshots of a run look: ``domain``, the box (u0, u1, v0, v1) partitioned
    (the input box of a 2-input model, or the box of (u, v) in every slice); for a model
    with more inputs, ``slice_points`` (slices, 3, inputs): the three inputs spanning each
    slice (and their labels, ``slice_labels``), and the chords ``chord_starts`` ->
    ``chord_ends`` (chords, inputs)."""

    domain: tuple[float, float, float, float]
    slice_points: np.ndarray | None = None
    chord_starts: np.ndarray | None = None
    chord_ends: np.ndarray | None = None
    slice_labels: np.ndarray | None = None

    @property
    def planar(self) -> bool:
        """Whether the model has 2 inputs (the domain is its input box)."""
        return self.slice_points is None

    def partitions(self, net: Network) -> list[Regions]:
        """The exact partitions of the domain: one, or one per slice."""
        from ..regions.api import Polygon
        from ..regions.api import regions as partition
        from ..regions.plane.domain import Plane
        from ..regions.space.domain import Box

        u0, u1, v0, v1 = self.domain
        if self.slice_points is None:
            return [partition(net, Box([u0, v0], [u1, v1]))]
        return [
            partition(net, Polygon((u0, u1, v0, v1), plane=Plane.through(a, b, c))) for a, b, c in self.slice_points
        ]

    def chords(self, net: Network) -> Any:
        """The regions along every chord (a ``SegmentBatch``), or None without chords."""
        if self.chord_starts is None or self.chord_ends is None or not len(self.chord_starts):
            return None
        from ..regions.line import segment_regions_batch

        return segment_regions_batch(net, self.chord_starts, self.chord_ends, threads=1)


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
    view: View = field(repr=False)
    chord_regions: tuple[int, ...] = ()
    chord_crossings: tuple[int, ...] = ()
    _partitions: Any = field(default=None, repr=False, compare=False)

    @property
    def domain(self) -> tuple[float, float, float, float]:
        """The box partitioned (input coordinates, or (u, v) of each slice)."""
        return self.view.domain

    def network(self) -> Network:
        """The network of this snapshot (from the saved weights)."""
        from ..net.network import Layer, Network

        return Network([Layer(w, b, s, name=f"layers[{i}]") for i, (w, b, s) in enumerate(self.layers)])

    def partitions(self) -> list[Regions]:
        """The exact partitions (the domain, or every slice): those measured, or
        recomputed from the weights for a snapshot read from a file."""
        if self._partitions is not None:
            return list(self._partitions)
        return self.view.partitions(self.network())

    def regions(self, slice: int = 0) -> Regions:
        """The partition of the domain (of slice ``slice`` for a model with more than two
        inputs)."""
        return self.partitions()[slice]

    def values(self) -> dict[str, Any]:
        """The measurements as a JSON-ready dict (no weights)."""
        keys = (
            "step", "epoch", "num_regions", "near", "elsewhere", "boundary_pieces", "boundary_length",
            "train_accuracy", "test_accuracy", "seconds",
        )  # fmt: skip
        out = {k: getattr(self, k) for k in keys}
        out["chord_regions"] = list(self.chord_regions)
        out["chord_crossings"] = list(self.chord_crossings)
        return out


def _class_changes(batch: Any, i: int) -> int:
    """How often the predicted class (the largest output; for one output, its sign)
    changes along chord ``i`` of a ``SegmentBatch``: the maps of its regions evaluated
    between every pair of outputs' tie points (float64)."""
    lo, hi = int(batch.offsets[i]), int(batch.offsets[i + 1])
    a, b = np.asarray(batch.intercepts[lo:hi], dtype=float), np.asarray(batch.slopes[lo:hi], dtype=float)
    t_hi = np.asarray(batch.t_hi[lo:hi], dtype=float)
    t_lo = np.r_[0.0, t_hi[:-1]]
    classes = []
    for r in range(hi - lo):
        if a.shape[1] == 1:
            a_r, b_r = np.r_[0.0, a[r]], np.r_[0.0, b[r]]  # the sign of one output: against 0
        else:
            a_r, b_r = a[r], b[r]
        with np.errstate(divide="ignore", invalid="ignore"):
            ties = (a_r[:, None] - a_r[None, :]) / (b_r[None, :] - b_r[:, None])
        inside = ties[np.isfinite(ties) & (ties > t_lo[r]) & (ties < t_hi[r])]
        grid = np.unique(np.r_[t_lo[r], inside, t_hi[r]])
        mids = (grid[:-1] + grid[1:]) / 2
        classes.extend(np.argmax(a_r + b_r * mids[:, None], axis=1).tolist())
    return int(np.count_nonzero(np.diff(classes))) if classes else 0


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
    """The decision boundary's pieces and length."""
    return len(reg.decision_boundary), reg.decision_boundary_length


def _as_data(data: Any, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    if data is None:
        return None
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(f"{name} must be a pair (X, y) of inputs (n, d) and integer labels (n,)")
    X = np.asarray(data[0].detach().cpu() if hasattr(data[0], "detach") else data[0], dtype=float)
    y = np.asarray(data[1].detach().cpu() if hasattr(data[1], "detach") else data[1])
    if X.ndim != 2 or X.shape[1] < 2:
        raise ValueError(f"{name}: X has shape {X.shape}; give inputs of shape (n, d) with d >= 2 (flatten images)")
    if y.shape != (len(X),):
        raise ValueError(f"{name}: y has shape {y.shape} for {len(X)} inputs; give one label per input")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name}: X holds NaN or infinite values")
    if len(X) == 0:
        raise ValueError(f"{name} is empty; give at least one point")
    return X, y


class Tracker:
    """Exact snapshots of a torch classifier (made by :func:`track`). Call it (or
    :meth:`snapshot`) from a training loop; ``snapshots`` holds them in order;
    :meth:`run` gives them as a :class:`TrainingRun` to save."""

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        domain: Sequence[float] | None = None,
        train: Any = None,
        test: Any = None,
        radius: float | None = None,
        near: str = "radius",
        chords: int = 32,
        slices: int = 2,
        seed: int = 0,
        name: str | None = None,
    ):
        self.model = model
        self.train = _as_data(train, "train")
        self.test = _as_data(test, "test")
        if near not in NEAR_MODES:
            raise ValueError(f"near={near!r}; use 'radius' (within radius of a training point) or 'hull'")
        if self.train is not None and self.test is not None and self.train[0].shape[1] != self.test[0].shape[1]:
            raise ValueError(
                f"train has {self.train[0].shape[1]} inputs per point but test has {self.test[0].shape[1]}"
            )
        self.name = name or type(model).__name__
        self.snapshots: list[Snapshot] = []
        self.near = near
        self.radius: float | None = None
        self._near_geometry: Any = None
        dim = self.train[0].shape[1] if self.train is not None else 2
        if dim > 2:
            if radius is not None or near != "radius":
                raise ValueError(
                    f"radius and near apply to models with 2 inputs; with {dim} inputs a slice's regions near the "
                    "data are those meeting the triangle of its three inputs: leave them out"
                )
            self.view = self._nd_view(chords, slices, seed, domain)
            return
        if self.train is None and (domain is None or radius is not None or near == "hull"):
            raise ValueError("train=(X, y) is needed to place the domain and to tell regions near the data")
        X = self.train[0] if self.train is not None else None
        if domain is None:
            assert X is not None
            lo, hi = X.min(axis=0), X.max(axis=0)
            pad = 0.25 * np.maximum(hi - lo, 1e-9)
            domain = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
        self.view = View(_checked_box(domain))
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

    def _nd_view(self, chords: int, slices: int, seed: int, domain: Sequence[float] | None) -> View:
        """Chords and slices through the test inputs (else the training inputs), seeded."""
        import shapely

        assert self.train is not None
        X, y = self.test or self.train
        if chords < 0 or slices < 0 or chords + slices == 0:
            raise ValueError(f"chords={chords}, slices={slices}; a model with {X.shape[1]} inputs needs some of either")
        if len(X) < 3:
            raise ValueError(f"{len(X)} inputs; chords and slices need at least 3 distinct inputs")
        rng = np.random.default_rng(seed)
        pairs = np.array([rng.choice(len(X), 2, replace=False) for _ in range(chords)], dtype=int).reshape(-1, 2)
        triples = np.array([rng.choice(len(X), 3, replace=False) for _ in range(slices)], dtype=int).reshape(-1, 3)
        self._near_geometry = shapely.Polygon([(0, 0), (1, 0), (0, 1)])  # the triangle abc of each slice
        return View(
            _checked_box(SLICE_BOX if domain is None else domain),
            slice_points=X[triples] if slices else None,
            slice_labels=y[triples] if slices else None,
            chord_starts=X[pairs[:, 0]],
            chord_ends=X[pairs[:, 1]],
        )

    def _near(self, reg: Regions) -> int:
        import shapely

        polys = _region_polygons(reg)
        if self.near == "radius" and self.view.planar:
            pairs = self._near_geometry.query(polys, predicate="dwithin", distance=self.radius)
            return int(len(np.unique(pairs[0])))
        inter = shapely.intersection(polys, self._near_geometry)
        return int(np.count_nonzero(shapely.area(inter) > 0))

    def _accuracy(self, data: tuple[np.ndarray, np.ndarray] | None) -> float | None:
        if data is None:
            return None
        from ..probe._device import eval_forward

        X, y = data
        out = eval_forward(self.model, X).cpu().numpy()
        pred = out.argmax(axis=1) if out.ndim == 2 and out.shape[1] > 1 else (out.reshape(len(X)) > 0).astype(int)
        return float(np.mean(pred == y))

    def snapshot(self, step: int | None = None, *, epoch: float | None = None) -> Snapshot:
        """Record the model as it is now: lowered, partitioned exactly (the domain, or the
        slices and chords), measured (module docstring). ``step``: any increasing number
        of the training loop (default: the number of snapshots so far); ``epoch``:
        recorded alongside."""
        from ..net.lowering import from_torch

        t0 = time.perf_counter()
        net = from_torch(self.model)
        expected = self.train[0].shape[1] if self.train is not None else 2
        if net.input_dim != expected:
            raise ValueError(
                f"the model has {net.input_dim} inputs but the tracker was set up for {expected} "
                f"({'the data' if self.train is not None else 'a 2-D domain'})"
            )
        parts = self.view.partitions(net) if self.view.planar or self.view.slice_points is not None else []
        near = sum(self._near(reg) for reg in parts) if self._near_geometry is not None else 0
        bounds = [_boundary(reg) for reg in parts]
        batch = self.view.chords(net) if not self.view.planar else None
        layers = tuple(
            (np.array(layer.weight, dtype=float), np.array(layer.bias, dtype=float), np.array(layer.negative_slope))
            for layer in net.layers
        )
        total = sum(reg.num_regions for reg in parts)
        snap = Snapshot(
            step=len(self.snapshots) if step is None else int(step),
            epoch=None if epoch is None else float(epoch),
            num_regions=total,
            near=near,
            elsewhere=total - near,
            boundary_pieces=sum(p for p, _ in bounds),
            boundary_length=float(sum(length for _, length in bounds)),
            train_accuracy=self._accuracy(self.train),
            test_accuracy=self._accuracy(self.test),
            seconds=0.0,
            layers=layers,
            view=self.view,
            chord_regions=() if batch is None else tuple(int(v) for v in batch.num_regions),
            chord_crossings=() if batch is None else tuple(_class_changes(batch, i) for i in range(len(batch))),
            _partitions=tuple(parts),
        )
        snap = _with_seconds(snap, time.perf_counter() - t0)
        self.snapshots.append(snap)
        return snap

    __call__ = snapshot

    def run(self) -> TrainingRun:
        """The snapshots so far as a :class:`TrainingRun`."""
        return TrainingRun(
            name=self.name,
            view=self.view,
            near=self.near,
            radius=self.radius,
            train=self.train,
            test=self.test,
            snapshots=tuple(self.snapshots),
        )


def _checked_box(domain: Sequence[float]) -> tuple[float, float, float, float]:
    box = tuple(float(v) for v in domain)
    if len(box) != 4 or not (box[0] < box[1] and box[2] < box[3]):
        raise ValueError(f"domain={tuple(domain)}; give (u0, u1, v0, v1) with u0 < u1 and v0 < v1")
    return box


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
    chords: int = 32,
    slices: int = 2,
    seed: int = 0,
    name: str | None = None,
) -> Tracker:
    """A :class:`Tracker` for ``model`` (a torch classifier, lowered by
    :func:`~exactnet.from_torch`): call it from the training loop to record a snapshot.

    ``train``, ``test``: ``(X, y)`` pairs (arrays or tensors, inputs flattened) for the
    accuracies. With 2 inputs, the training points also place the default ``domain``
    (their bounding box grown by a quarter on each side; else give ``(u0, u1, v0, v1)``)
    and tell the regions near the data: ``near="radius"`` (default), regions within
    ``radius`` of a training point (default: twice the median distance from a training
    point to its nearest one); ``near="hull"``, regions meeting the interior of the
    points' convex hull. With more inputs: ``chords`` segments between random pairs and
    ``slices`` planes through random triples of the test inputs (else the training
    inputs), drawn with ``seed``; ``domain`` is then the (u, v) box of every slice
    (default [-0.25, 1.25]^2) and a slice's regions near the data are those meeting the
    triangle of its three inputs.

    >>> tracker = track(model, train=(X, y), test=(Xt, yt))  # doctest: +SKIP
    >>> for epoch in range(100):  # doctest: +SKIP
    ...     train_one_epoch(model)
    ...     tracker(epoch=epoch)
    >>> tracker.run().save("run.npz")  # doctest: +SKIP
    """
    return Tracker(
        model, domain=domain, train=train, test=test, radius=radius, near=near, chords=chords, slices=slices,
        seed=seed, name=name,
    )  # fmt: skip


@dataclass(frozen=True)
class TrainingRun:
    """The snapshots of one training run, with its settings and data; :meth:`save` writes
    one ``.npz`` file (no pickles), :func:`load_run` reads it."""

    name: str
    view: View
    near: str
    radius: float | None
    train: tuple[np.ndarray, np.ndarray] | None
    test: tuple[np.ndarray, np.ndarray] | None
    snapshots: tuple[Snapshot, ...]

    @property
    def domain(self) -> tuple[float, float, float, float]:
        """The box partitioned (input coordinates, or (u, v) of each slice)."""
        return self.view.domain

    def curves(self) -> dict[str, np.ndarray]:
        """Every measurement as an array over the snapshots (``step``, ``epoch``,
        ``num_regions``, ``near``, ``elsewhere``, ``boundary_pieces``,
        ``boundary_length``, accuracies, ``seconds``; with chords, their mean regions
        ``chord_regions_mean`` and class changes ``chord_crossings_mean``; missing values
        as NaN). Empty for a run without snapshots."""
        rows = [s.values() for s in self.snapshots]
        if not rows:
            return {}
        out = {
            k: np.array([np.nan if r[k] is None else r[k] for r in rows], dtype=float)
            for k in rows[0]
            if k not in ("chord_regions", "chord_crossings")
        }
        if self.snapshots[0].chord_regions:
            out["chord_regions_mean"] = np.array([np.mean(s.chord_regions) for s in self.snapshots])
            out["chord_crossings_mean"] = np.array([np.mean(s.chord_crossings) for s in self.snapshots])
        return out

    def table(self) -> str:
        """One line per snapshot."""
        chords = bool(self.snapshots and self.snapshots[0].chord_regions)
        head = (
            f"{'step':>6} {'epoch':>6} {'regions':>8} {'near':>6} {'elsewhere':>9} {'bd pieces':>9} "
            f"{'bd length':>9} {'train':>6} {'test':>6} {'ms':>6}"
            + ("  chord regions  class changes" if chords else "")
        )
        where = (
            f"domain {self.domain}, near = {self.near}"
            if self.view.planar
            else f"{0 if self.view.slice_points is None else len(self.view.slice_points)} slices (u, v in "
            f"{self.domain}; near = meeting the triangle of the three inputs), "
            f"{0 if self.view.chord_starts is None else len(self.view.chord_starts)} chords (mean per chord)"
        )
        lines = [f"{self.name}: {where}", head]

        def acc(v: float | None) -> str:
            return f"{v:>6.3f}" if v is not None else f"{'-':>6}"

        for s in self.snapshots:
            ep = f"{s.epoch:>6g}" if s.epoch is not None else f"{'-':>6}"
            lines.append(
                f"{s.step:>6} {ep} {s.num_regions:>8} {s.near:>6} {s.elsewhere:>9} {s.boundary_pieces:>9} "
                f"{s.boundary_length:>9.3f} {acc(s.train_accuracy)} {acc(s.test_accuracy)} {1e3 * s.seconds:>6.1f}"
                + (f"  {np.mean(s.chord_regions):>13.1f}  {np.mean(s.chord_crossings):>13.2f}" if chords else "")
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        """The notebook display: one row per snapshot, and the curves."""
        from .._html import figure_tag, table_html

        keys = ("step", "epoch", "num_regions", "near", "elsewhere", "boundary_pieces", "boundary_length")
        rows = [[s.values()[k] for k in keys] + [s.train_accuracy, s.test_accuracy] for s in self.snapshots]
        out = f"<b>training run {self.name}</b>" + table_html(rows, (*keys, "train acc", "test acc"))
        if self.snapshots:
            try:
                out += figure_tag(self.plot_curves(), "curves over training")
            except ImportError:  # no matplotlib: the table alone
                pass
        return out

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
        for key in ("slice_points", "chord_starts", "chord_ends", "slice_labels"):
            value = getattr(self.view, key)
            if value is not None:
                arrays[f"view_{key}"] = value
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

    view = View(
        _checked_box(meta["domain"]),
        **{key: data.get(f"view_{key}") for key in ("slice_points", "chord_starts", "chord_ends", "slice_labels")},
    )
    snaps = []
    for k, s in enumerate(meta["snapshots"]):
        count = s.pop("layers")
        s["chord_regions"] = tuple(s["chord_regions"])
        s["chord_crossings"] = tuple(s["chord_crossings"])
        layers = tuple((data[f"s{k}_W{i}"], data[f"s{k}_b{i}"], data[f"s{k}_s{i}"]) for i in range(count))
        snaps.append(Snapshot(**s, layers=layers, view=view))
    return TrainingRun(
        name=meta["name"],
        view=view,
        near=meta["near"],
        radius=meta["radius"],
        train=pair("train"),
        test=pair("test"),
        snapshots=tuple(snaps),
    )
