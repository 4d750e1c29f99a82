"""One report for a whole network: :func:`report` writes a self-contained HTML file with
every analysis that applies (exact regions, bounds, region graph, decision boundary,
sampling coverage; per-layer affinity, SMP and separability), each number with its
definition. :mod:`~exactnet.reporting.page` builds the page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..extras import lazy_exports

_EXPORTS = {"DEFINITIONS": ".build", "Report": ".build", "report": ".build"}

__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .build import DEFINITIONS, Report, report
