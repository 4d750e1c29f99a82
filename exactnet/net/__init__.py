"""Lowering: every supported model becomes one canonical :class:`Network`.

* :mod:`.network`: :class:`Network` and :class:`Layer` (exact rationals and float64);
* :mod:`.lowering`: :func:`from_torch`, torch models lowered exactly;
* :mod:`.io`: weight files (``.npz``, torch checkpoints read with ``weights_only=True``,
  ``.safetensors``);
* :mod:`.rational`: the exact conversion of user numbers (floats, ints, Fractions, sympy
  rationals, strings) that every engine uses, with errors naming the argument.
"""

from .io import load_network, save_npz
from .lowering import UnsupportedLayerError, from_torch
from .network import IntegerLayer, Layer, Network

__all__ = ["Layer", "Network", "IntegerLayer", "from_torch", "UnsupportedLayerError", "load_network", "save_npz"]
