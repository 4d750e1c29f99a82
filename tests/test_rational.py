"""Exact conversion of user numbers (exactnet.net.rational)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from exactnet import Layer, Network
from exactnet.net.rational import float_or_inf, to_fraction


def test_float_or_inf_rounds_every_rational_to_a_float():
    assert float_or_inf(Fraction(1, 3), 2) == 1 / 6 and type(float_or_inf(Fraction(1, 3), 2)) is float
    assert float_or_inf(10**400, 3) == math.inf and float_or_inf(-(10**400), 3) == -math.inf
    assert float_or_inf(Fraction(10**400, 7), -1) == -math.inf
    assert float_or_inf(Fraction(2**-1080)) == 0.0  # below the subnormals: rounds to zero
    assert float_or_inf(7, 2) == 3.5


def test_zero_dimensional_arrays_and_tensors_are_numbers():
    assert to_fraction(np.array(0.1)) == Fraction(0.1)
    assert to_fraction(torch.tensor(0.25)) == Fraction(1, 4)
    with pytest.raises(TypeError, match="complex"):
        to_fraction(torch.tensor(1 + 1j), "slope")
    layer = Layer([[1.0, 2.0]], [0.0], np.array(0.1))
    assert layer.negative_slope_exact[0] == Fraction(0.1)
    net = Network.from_arrays([[[1.0]], [[1.0]]], [[0.0], [0.0]], negative_slope=torch.tensor(0.5))
    assert net.layers[0].negative_slope_exact[0] == Fraction(1, 2)
