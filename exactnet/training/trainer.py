"""A small built-in trainer for the training-dynamics experiments: a ReLU MLP classifier
on 2-D data, trained with Adam on mini-batches, with exact snapshots (:func:`track`) at
chosen epochs. Seeded and single-threaded, so a run is repeatable on one machine.

The defaults follow the linear-regions paper's setting (its authors' code: 2 -> [16, 16,
16] MLPs, Adam, learning rate 1e-3, 100 epochs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from .tracking import TrainingRun

__all__ = ["fit_classifier", "mlp", "snapshot_epochs", "train_classifier", "trained_digits_cnn"]


def mlp(widths: Sequence[int], *, inputs: int = 2, classes: int = 2, seed: int = 0) -> torch.nn.Sequential:
    """A ReLU MLP inputs -> widths -> classes, float32, PyTorch's default initialisation
    under ``seed``."""
    import torch
    from torch import nn

    widths = [int(w) for w in widths]
    if not widths or min(widths) < 1:
        raise ValueError(f"widths={widths}; give one or more positive hidden widths, e.g. (16, 16, 16)")
    layers: list[nn.Module] = []
    prev = inputs
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for w in widths:
            layers += [nn.Linear(prev, w), nn.ReLU()]
            prev = w
        layers.append(nn.Linear(prev, classes))
        return nn.Sequential(*layers)


def snapshot_epochs(epochs: int, snapshots: int) -> list[int]:
    """``snapshots`` epochs from 0 (before training) to ``epochs``, evenly spaced, distinct."""
    if epochs < 0 or snapshots < 1:
        raise ValueError(f"epochs={epochs}, snapshots={snapshots}; need epochs >= 0 and at least one snapshot")
    if snapshots == 1:
        return [epochs]
    return sorted({int(round(v)) for v in np.linspace(0, epochs, snapshots)})


def train_classifier(
    train: tuple[Any, Any],
    *,
    test: tuple[Any, Any] | None = None,
    widths: Sequence[int] = (16, 16, 16),
    epochs: int = 100,
    lr: float = 1e-3,
    batch_size: int = 32,
    snapshots: int | Sequence[int] = 11,
    seed: int = 0,
    domain: Sequence[float] | None = None,
    near: str = "radius",
    radius: float | None = None,
    name: str | None = None,
    progress: bool = False,
) -> tuple[torch.nn.Sequential, TrainingRun]:
    """Train :func:`mlp` (``widths``) on ``train = (X, y)`` with Adam (``lr``) over
    mini-batches of ``batch_size`` (a seeded shuffle per epoch), taking an exact snapshot
    (:func:`~exactnet.training.track`) at the epochs ``snapshots`` (a list, or a count
    spread from 0 to ``epochs``; epoch 0 is before any step). Returns the model and the
    :class:`~exactnet.training.TrainingRun`."""
    import torch

    from .tracking import track

    X = torch.as_tensor(np.asarray(train[0], dtype=np.float32))
    y = torch.as_tensor(np.asarray(train[1]), dtype=torch.long)
    classes = int(y.max()) + 1 if len(y) else 0
    if classes < 2 or len(torch.unique(y)) < 2:
        raise ValueError("train holds one class only; a classifier needs labels of at least two classes")
    if batch_size < 1 or epochs < 0 or not lr > 0:
        raise ValueError(f"batch_size={batch_size}, epochs={epochs}, lr={lr}; need positive values")
    at = snapshot_epochs(epochs, snapshots) if isinstance(snapshots, (int, np.integer)) else sorted(set(snapshots))
    if at and (min(at) < 0 or max(at) > epochs):
        raise ValueError(f"snapshots at {at}; epochs must lie in 0..{epochs}")
    model = mlp(widths, inputs=X.shape[1], classes=classes, seed=seed)
    tracker = track(model, domain=domain, train=train, test=test, radius=radius, near=near, name=name)

    def snapshot(epoch: int) -> None:
        if epoch in at:
            tracker(step=epoch, epoch=epoch)

    fit_classifier(
        model, X, y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, on_epoch=snapshot, progress=progress,
        name=name,
    )  # fmt: skip
    return model, tracker.run()


def fit_classifier(
    model: torch.nn.Module,
    X: Any,
    y: Any,
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 32,
    seed: int = 0,
    on_epoch: Callable[[int], None] | None = None,
    progress: bool = False,
    name: str | None = None,
) -> torch.nn.Module:
    """Train ``model`` in place with Adam (``lr``) and the cross-entropy loss on ``(X, y)``
    (tensors or arrays; X cast to the model's dtype) over mini-batches of ``batch_size``
    in a seeded order, single-threaded (repeatable on one machine). ``on_epoch(e)`` is
    called before each epoch e = 0 .. epochs - 1 and after the last (e = epochs)."""
    import torch
    from torch import nn

    from ..probe._device import parameter_dtype_device

    dtype, _ = parameter_dtype_device(model)
    X = torch.as_tensor(np.asarray(X.detach().cpu() if hasattr(X, "detach") else X), dtype=dtype)
    y = torch.as_tensor(np.asarray(y.detach().cpu() if hasattr(y, "detach") else y), dtype=torch.long)
    if len(X) != len(y) or len(X) == 0:
        raise ValueError(f"X has {len(X)} inputs and y {len(y)} labels; give one label per input, at least one")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc=name or "training", unit="epoch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    was = model.training
    try:
        for epoch in range(epochs + 1):
            if on_epoch is not None:
                on_epoch(epoch)
            if epoch == epochs:
                break
            model.train()
            order = torch.randperm(len(X), generator=gen)
            for s in range(0, len(X), batch_size):
                idx = order[s : s + batch_size]
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
                loss.backward()
                opt.step()
            if bar is not None:
                bar.update(1)
    finally:
        torch.set_num_threads(threads)
        model.train(was)
        if bar is not None:
            bar.close()
    return model


def trained_digits_cnn(
    *, epochs: int = 8, seed: int = 0, test_size: int = 360
) -> tuple[torch.nn.Module, tuple[Any, Any], float]:
    """The small digits CNN (:func:`~exactnet.probe.data.digits_cnn`) trained on
    scikit-learn's bundled 8 x 8 digits (all but a seeded ``test_size`` of the 1,797;
    Adam, lr 1e-3, mini-batches of 32, ``epochs`` epochs): (the model in eval mode, the
    held-out ``(x, y)``, its accuracy on them). A few seconds on a CPU; the report's
    embedded default."""
    import torch

    from ..probe.data import digits_cnn, digits_data

    x, y = digits_data()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    test, train = order[:test_size], order[test_size:]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = digits_cnn()
    fit_classifier(model, x[train], y[train], epochs=epochs, seed=seed)
    model.eval()
    with torch.no_grad():
        accuracy = float((model(x[test]).argmax(dim=1) == y[test]).float().mean())
    return model, (x[test], y[test]), accuracy
