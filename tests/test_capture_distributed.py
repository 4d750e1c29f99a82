"""Distributed capture: two CPU processes (gloo) give exactly the single-process result.

The test starts this file twice as a script (ranks 0 and 1, ``init_method=file://``); each
rank captures with the batches sharded over the ranks and, for comparison, once more
without sharding (``distributed=False``), and saves both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch import nn

from exactnet.probe import capture

REPO = Path(__file__).resolve().parents[1]
REDUCTIONS = {"channel_mean": "channel_mean", "positions": "positions", "project": ("project", 8)}
FIELDS = ("input", "output", "index", "position", "seen", "shape", "channel_axis", "module", "call")


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)  # called twice per forward
        self.conv2 = nn.Conv2d(6, 4, 3, stride=2)
        self.gelu = nn.GELU()
        self.fc = nn.Linear(4 * 3 * 3, 5)
        self.tanh = nn.Tanh()

    def forward(self, x):
        h = self.relu(self.conv1(x))
        h = self.gelu(self.conv2(h))
        h = self.relu(h - 0.1)
        return self.tanh(self.fc(h.flatten(1)))


def setup():
    torch.manual_seed(0)
    model = SmallCNN().eval()
    data = torch.randn(43, 3, 8, 8, generator=torch.Generator().manual_seed(1))  # 9 batches of 5 (last: 3)
    return model, data


def run_all(distributed: bool) -> dict:
    model, data = setup()
    calls = []
    h = model.register_forward_pre_hook(lambda m, a: calls.append(a[0].shape[0]))
    out = {}
    for key, red in REDUCTIONS.items():
        caps = capture(
            model, data, reduction=red, batch_size=5, max_samples=12, seed=3, progress=False, distributed=distributed
        )
        out[key] = {n: {f: getattr(c, f) for f in FIELDS} for n, c in caps.items()}
    caps = capture(
        model, data, batch_size=5, max_samples=7, max_inputs=31, seed=4, progress=False, distributed=distributed
    )
    out["max_inputs"] = {n: {f: getattr(c, f) for f in FIELDS} for n, c in caps.items()}
    h.remove()
    out["calls"] = calls
    return out


def worker(rank: int, world: int, init_file: str, out_file: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        sharded = run_all(distributed=True)
        dist.barrier()
        single = run_all(distributed=False)
        torch.save({"sharded": sharded, "single": single}, out_file)
    finally:
        dist.destroy_process_group()


def same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    return a == b


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_two_gloo_ranks_equal_single_process(tmp_path):
    world = 2
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), OMP_NUM_THREADS="1"
    )
    init = tmp_path / "init"
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, str(r), str(world), str(init), str(tmp_path / f"rank{r}.pt")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in range(world)
    ]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=180)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for r, p in enumerate(procs):
        assert p.returncode == 0, f"rank {r} failed:\n{logs[r]}"
    res = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(world)]
    single = res[0]["single"]
    # each rank ran the model only on its own batches (b % world == rank), single ran all
    assert res[0]["sharded"]["calls"] == [5, 5, 5, 5, 3] * 3 + [5, 5, 5, 1]  # 3 reductions, then max_inputs=31
    assert res[1]["sharded"]["calls"] == [5, 5, 5, 5] * 3 + [5, 5, 5]
    assert single["calls"] == ([5] * 8 + [3]) * 3 + [5] * 6 + [1]
    for key in (*REDUCTIONS, "max_inputs"):
        layers = single[key]
        assert list(layers) == ["relu#0", "gelu", "relu#1", "tanh"]
        for r in range(world):
            got = res[r]["sharded"][key]
            assert list(got) == list(layers)
            for name in layers:
                for f in FIELDS:
                    assert same(got[name][f], layers[name][f]), (r, key, name, f)
        for c in layers.values():
            budget = 7 if key == "max_inputs" else 12
            assert c["index"].shape[0] == budget < c["seen"]  # sampling kicked in
    assert single["max_inputs"]["tanh"]["seen"] == 31
    assert single["positions"]["relu#0"]["seen"] == 43 * 64
    # the workers' single-process result is the one computed here (up to threads)
    model, data = setup()
    here = capture(model, data, reduction="positions", batch_size=5, max_samples=12, seed=3, progress=False)
    for name, c in here.items():
        assert torch.equal(c.index, single["positions"][name]["index"])
        assert torch.allclose(c.input, single["positions"][name]["input"], atol=1e-6)


if __name__ == "__main__":
    worker(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
