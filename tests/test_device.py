"""A requested device is checked once, with errors that name the argument and the fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from exactnet import affinity_score
from exactnet.probe import capture, signature
from exactnet.probe._device import checked_device


def test_not_a_device():
    with pytest.raises(ValueError, match="device='gpu' is not a torch device"):
        checked_device("gpu")
    assert checked_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_device_is_refused_everywhere():
    X = np.random.default_rng(0).standard_normal((50, 3))
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())
    calls = [
        lambda: affinity_score(X, np.maximum(X, 0), device="cuda"),
        lambda: capture(model, torch.randn(10, 3), device="cuda", progress=False),
        lambda: signature(model, torch.randn(10, 3), device="cuda", progress=False),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="torch sees no CUDA device.*use device='cpu'"):
            call()


def test_cuda_index_past_the_visible_devices(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert checked_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="sees 1 CUDA device.*index below 1"):
        checked_device("cuda:3", "device")
