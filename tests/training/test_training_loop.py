"""The shared training loop: learning, logs, checkpoints (no pickles), exact resume, signals, EMA."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from torch import nn

from colorstudio.errors import ColorStudioError
from colorstudio.training.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    optimizer_state_from_tensors,
    optimizer_state_to_tensors,
)
from colorstudio.training.data import ColorDataset
from colorstudio.training.loop import LOG_NAME, TrainSettings, lr_at, train


class TinyColorizer(nn.Module):
    """L -> ab with two convolutions; dropout so that resuming must restore the RNG state too."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Dropout(0.1), nn.Conv2d(8, 2, 3, padding=1))

    def training_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        loss = nn.functional.mse_loss(self.net(batch["L"]), batch["ab"])
        return loss, {"mse": float(loss.detach())}


def _tiny_model(seed: int = 0) -> TinyColorizer:
    torch.manual_seed(seed)
    return TinyColorizer()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> ColorDataset:
    root = tmp_path_factory.mktemp("loopdata")
    rng = np.random.default_rng(0)
    for i in range(18):
        yy, xx = np.mgrid[0:16, 0:16] / 16
        img = np.stack([yy * rng.uniform(), xx * rng.uniform(), np.full_like(xx, rng.uniform())], -1)
        Image.fromarray((img * 255).astype(np.uint8)).save(root / f"{i:02d}.png")
    return ColorDataset([root], 12, cache_dir=root / "cache", seed=0)


def _cfg(out: Path, **kw) -> TrainSettings:
    base = dict(steps=20, batch_size=4, lr=1e-2, warmup=3, ema_decay=0.9, log_every=5, out_dir=out, threads=1)
    return TrainSettings(**{**base, **kw})


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / LOG_NAME).read_text().splitlines()]


def test_learns_logs_and_checkpoints(dataset, tmp_path):
    model = _tiny_model()
    seen = []
    result = train(model, dataset, _cfg(tmp_path, steps=30), on_checkpoint=seen.append)
    assert result.step == 30 and not result.interrupted and result.wall_time_s > 0
    log = _log(tmp_path)
    assert [r["step"] for r in log] == [5, 10, 15, 20, 25, 30]
    assert {"loss", "mse", "grad_norm", "lr", "images_per_s", "elapsed_s", "epoch"} <= set(log[0])
    assert log[-1]["loss"] < 0.7 * log[0]["loss"]
    ckpt = latest_checkpoint(tmp_path)
    assert seen == [ckpt] == [result.checkpoint]
    assert sorted(p.name for p in ckpt.iterdir()) == [
        "ema.safetensors", "model.safetensors", "optimizer.safetensors", "state.json"]
    state = json.loads((ckpt / "state.json").read_text())
    assert state["step"] == 30 and state["config"]["batch_size"] == 4 and state["wall_time_s"] > 0
    raw = load_file(str(ckpt / "model.safetensors"))
    torch.testing.assert_close(raw["net.0.weight"], model.net[0].weight.detach())
    ema = load_file(str(ckpt / "ema.safetensors"))
    assert not torch.allclose(ema["net.0.weight"], raw["net.0.weight"])  # the EMA lags the raw weights
    torch.testing.assert_close(result.ema["net.3.bias"], ema["net.3.bias"])


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(dataset, tmp_path):
    whole = _tiny_model()
    train(whole, dataset, _cfg(tmp_path / "whole"))

    calls = {"n": 0}

    def cancel_at_step_11() -> bool:  # 11 steps = mid-epoch (4 batches per epoch)
        calls["n"] += 1
        return calls["n"] == 11

    first = train(_tiny_model(), dataset, _cfg(tmp_path / "split"), cancel=cancel_at_step_11)
    assert first.interrupted and first.step == 11 and latest_checkpoint(tmp_path / "split").name == "step-00000011"
    stored = json.loads((latest_checkpoint(tmp_path / "split") / "state.json").read_text())
    resumed_model = _tiny_model(seed=123)  # a different init: the checkpoint must overwrite it
    second = train(resumed_model, dataset, _cfg(tmp_path / "split", resume=True))
    assert second.step == 20 and not second.interrupted
    # the count continues from the checkpoint's (the interrupted run's own total also holds its last write)
    assert second.wall_time_s > stored["wall_time_s"]

    for key, value in whole.state_dict().items():
        torch.testing.assert_close(resumed_model.state_dict()[key], value, rtol=0, atol=0)
    a, b = load_checkpoint(tmp_path / "whole"), load_checkpoint(tmp_path / "split")
    for key in a.ema:
        torch.testing.assert_close(b.ema[key], a.ema[key], rtol=0, atol=0)
    assert [r["step"] for r in _log(tmp_path / "split")] == [5, 10, 11, 15, 20]  # 11: the interrupted window


def test_refuses_to_overwrite_a_run_and_resume_without_checkpoint_starts_fresh(dataset, tmp_path):
    train(_tiny_model(), dataset, _cfg(tmp_path / "a", steps=2))
    with pytest.raises(ColorStudioError, match="already holds a training run"):
        train(_tiny_model(), dataset, _cfg(tmp_path / "a", steps=4))
    assert train(_tiny_model(), dataset, _cfg(tmp_path / "b", steps=2, resume=True)).step == 2


def test_sigterm_checkpoints_then_stops(dataset, tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    steps = {"n": 0}

    def send_sigterm_at_step_3() -> bool:
        steps["n"] += 1
        if steps["n"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return False

    result = train(_tiny_model(), dataset, _cfg(tmp_path), cancel=send_sigterm_at_step_3)
    assert result.interrupted and result.step == 3
    assert load_checkpoint(tmp_path).step == 3
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored


def test_time_based_checkpoints(dataset, tmp_path):
    seen = []
    train(_tiny_model(), dataset, _cfg(tmp_path, steps=4, checkpoint_every_s=0.0, keep_checkpoints=2), on_checkpoint=seen.append)
    assert [p.name for p in seen] == [f"step-{s:08d}" for s in (1, 2, 3, 4)]
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*")) == ["step-00000003", "step-00000004"]


def test_learning_rate_schedule():
    cfg = TrainSettings(steps=110, lr=1.0, warmup=10, min_lr_fraction=0.1)
    assert lr_at(0, cfg) == pytest.approx(0.1) and lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(60, cfg) == pytest.approx(0.55)  # half way down the cosine
    assert lr_at(110, cfg) == pytest.approx(0.1)
    assert lr_at(50, TrainSettings(steps=110, lr=1.0, warmup=10, schedule="constant")) == 1.0
    with pytest.raises(ColorStudioError, match="schedule"):
        TrainSettings(schedule="linear")


def test_optimizer_state_round_trip():
    model = _tiny_model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.8, 0.9))
    model.training_loss({"L": torch.randn(2, 1, 8, 8), "ab": torch.randn(2, 2, 8, 8)})[0].backward()
    opt.step()
    tensors, meta = optimizer_state_to_tensors(opt)
    restored = torch.optim.AdamW(model.parameters(), lr=1.0)
    restored.load_state_dict(optimizer_state_from_tensors(tensors, json.loads(json.dumps(meta))))
    assert restored.param_groups[0]["betas"] == (0.8, 0.9)
    for p in model.parameters():
        for name in ("exp_avg", "exp_avg_sq", "step"):
            torch.testing.assert_close(restored.state[p][name], opt.state[p][name])


def test_model_without_training_loss_is_rejected(dataset, tmp_path):
    with pytest.raises(ColorStudioError, match="training_loss"):
        train(nn.Conv2d(1, 2, 3), dataset, _cfg(tmp_path))
