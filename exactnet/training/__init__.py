"""Linear regions through training: exact snapshots of a classifier's partition, data of
graded intricacy and a small trainer.

* :mod:`~exactnet.training.tracking`: :func:`track` (a tracker a training loop calls),
  :class:`Snapshot`, :class:`TrainingRun` (saved to one ``.npz``), :func:`load_run`;
* :mod:`~exactnet.training.datasets`: moons, circles, Gaussian quantiles, spirals,
  checkerboards, random labels, and :func:`intricacy` (exact N1);
* :mod:`~exactnet.training.trainer`: :func:`train_classifier`, :func:`mlp`.

Names are imported from their submodules on first use (torch only where needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..extras import lazy_exports

_EXPORTS = {
    "Snapshot": ".tracking",
    "Tracker": ".tracking",
    "TrainingRun": ".tracking",
    "load_run": ".tracking",
    "track": ".tracking",
    "DATASETS": ".datasets",
    "intricacy": ".datasets",
    "make_dataset": ".datasets",
    "mlp": ".trainer",
    "snapshot_epochs": ".trainer",
    "train_classifier": ".trainer",
    "fit_classifier": ".trainer",
    "trained_digits_cnn": ".trainer",
}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .datasets import DATASETS, intricacy, make_dataset
    from .tracking import Snapshot, Tracker, TrainingRun, load_run, track
    from .trainer import fit_classifier, mlp, snapshot_epochs, train_classifier, trained_digits_cnn
