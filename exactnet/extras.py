"""Optional dependencies, grouped by role into the package's extras, and lazy exports.

``import exactnet`` loads numpy and nothing heavy: the exact engines need numpy, scipy,
networkx, shapely and numba (the core dependencies), each imported where it is used.
Everything else is an extra of ``pyproject.toml``:

=========  ==========================================  ===================================
extra      packages                                    what needs them
=========  ==========================================  ===================================
torch      torch, safetensors                          lowering torch models, probes
plot       matplotlib                                  pictures
vision     torchvision, scikit-learn                   vision models, the digits data
proofs     sympy                                       the machine-checked proofs
test       pytest, hypothesis, and all of the above    tests, ``exactnet.strategies``
all        everything above
=========  ==========================================  ===================================

:func:`require` imports an optional package or raises :class:`MissingExtraError`, an
``ImportError`` that names the extra to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["EXTRA_OF", "MissingExtraError", "require", "lazy_exports"]

#: the extra that provides each optional top-level module
EXTRA_OF: dict[str, str] = {
    "torch": "torch",
    "safetensors": "torch",
    "matplotlib": "plot",
    "torchvision": "vision",
    "sklearn": "vision",
    "sympy": "proofs",
    "hypothesis": "test",
    "pytest": "test",
}

_PIP_NAME = {"sklearn": "scikit-learn"}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def require(module: str, feature: str | None = None) -> ModuleType:
    """Import the optional ``module`` (e.g. ``"torch"``, ``"matplotlib.pyplot"``) and return
    it, or raise :class:`MissingExtraError` naming the extra that provides it and the
    ``pip install`` command. ``feature`` says what needed it, for the message."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        extra = EXTRA_OF.get(top)
        if extra is None:
            raise
        what = f"{feature} needs" if feature else "this needs"
        raise MissingExtraError(
            f"{what} {_PIP_NAME.get(top, top)}, which is not installed ({err}); it comes with the "
            f"'{extra}' extra: pip install 'exactnet[{extra}]'"
        ) from err


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package whose public names live in submodules that
    are imported on first use (PEP 562): ``exports`` maps each name to its submodule,
    relative to ``package`` (e.g. ``{"Network": ".net"}``)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name], package), name)
        vars(importlib.import_module(package))[name] = value  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(importlib.import_module(package))) | set(exports))

    return __getattr__, __dir__
