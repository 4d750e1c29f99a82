"""The synthetic inputs of exactnet.probe.data (smooth signals and images)."""

from __future__ import annotations

import pytest
import torch


def test_smooth_signals_and_images():
    """Seeded, float64, unit variance per sample, correlated over about the smoothing
    width (neighbours close, far samples not), and clear errors."""
    from exactnet.probe.data import smooth_images, smooth_signals

    x = smooth_signals(400, 64, width=3.0, seed=1)
    assert x.shape == (400, 1, 64) and x.dtype == torch.float64
    assert torch.equal(x, smooth_signals(400, 64, width=3.0, seed=1)) and not torch.equal(x, smooth_signals(400, 64))
    assert 0.9 < float(x.var()) < 1.1
    near = float(torch.corrcoef(torch.stack([x[:, 0, 30], x[:, 0, 31]]))[0, 1])
    far = float(torch.corrcoef(torch.stack([x[:, 0, 10], x[:, 0, 40]]))[0, 1])
    assert near > 0.9 and abs(far) < 0.2  # Gaussian kernel: exp(-1 / (4 w^2)) for neighbours
    im = smooth_images(300, 24, width=2.0, channels=2, seed=2)
    assert im.shape == (300, 2, 24, 24) and 0.85 < float(im.var()) < 1.15
    with pytest.raises(ValueError, match="width"):
        smooth_signals(2, 8, width=0)
    with pytest.raises(ValueError, match="at least one"):
        smooth_images(0, 8)
