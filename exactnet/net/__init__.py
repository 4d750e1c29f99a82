"""Lowering: every supported model becomes one canonical :class:`Network`."""

from .io import load_network, save_npz
from .lowering import UnsupportedLayerError, from_torch
from .network import IntegerLayer, Layer, Network

__all__ = ["Layer", "Network", "IntegerLayer", "from_torch", "UnsupportedLayerError", "load_network", "save_npz"]
