"""Two CPU processes under torchrun (gloo) run the same training loop and end with identical weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

WORKER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import torch
    from torch import nn
    from safetensors.torch import save_file
    from colorstudio.training.data import ColorDataset
    from colorstudio.training.loop import TrainSettings, train

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 2, 3, padding=1))

        def training_loss(self, batch):
            loss = nn.functional.mse_loss(self.net(batch["L"]), batch["ab"])
            return loss, {"rank": float(os.environ["RANK"])}

    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    rank = int(os.environ["RANK"])
    torch.manual_seed(100 + rank)  # different inits: DDP must broadcast rank 0's weights
    model = Tiny()
    dataset = ColorDataset([data], 12, cache_dir=out / "cache")  # both ranks share one cache build
    result = train(model, dataset, TrainSettings(steps=6, batch_size=3, lr=1e-2, warmup=1, log_every=2,
                                               out_dir=out / "run", threads=1, device="cpu"))
    assert result.step == 6
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / f"rank{rank}.safetensors"))
    """
)


@pytest.mark.timeout(120)
def test_two_process_gloo_ddp_keeps_ranks_identical(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(16):
        Image.fromarray(rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)).save(data / f"{i:02d}.png")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(script), str(data), str(tmp_path)],
        capture_output=True, text=True, timeout=100, env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    w0, w1 = (load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1))
    assert w0.keys() == w1.keys()
    for key in w0:
        torch.testing.assert_close(w0[key], w1[key], rtol=0, atol=0)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4, 6]  # written once, by rank 0
    assert all(r["rank"] == 0.0 for r in log)
    state = json.loads((tmp_path / "run" / "checkpoints" / "step-00000006" / "state.json").read_text())
    assert state["world_size"] == 2
