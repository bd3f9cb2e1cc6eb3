"""cGAN trainer: builds on the installed histogram model, resumes with it, exports a loadable model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from colorstudio.families import load_model
from colorstudio.models.gan import CGANColorizer, GANConfig
from colorstudio.models.histogram import HistogramColorizer, HistogramConfig
from colorstudio.models.registry import ModelCard, save_model
from colorstudio.training.train_gan import GANTrainSettings, export_gan_model, load_checkpoint_model, main, train_gan

SETTINGS = GANTrainSettings(steps=1, batch_size=2, crop=32, warmup=1, checkpoint_every_s=1e9, log_every=1, threads=1)


@pytest.fixture
def photos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from skimage import data

    monkeypatch.setenv("COLORSTUDIO_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, image in enumerate((data.astronaut(), data.coffee(), data.chelsea())):
        Image.fromarray(image).resize((48, 48)).save(folder / f"p{i}.png")
    return folder


def _install_histogram(models: Path) -> ModelCard:
    torch.manual_seed(0)
    net = HistogramColorizer(HistogramConfig(width=4, stage_mults=(1, 2, 4), stage_blocks=(0, 1, 1),
                                             hypercolumn_channels=8, norm="group"))
    return save_model(net, ModelCard(name="histogram", family="histogram", config=net.config.to_dict()), models / "histogram")


def test_builds_on_the_installed_histogram_model_resumes_and_exports(tmp_path, photos, monkeypatch):
    models = tmp_path / "models"
    source = _install_histogram(models)
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(models))
    run = tmp_path / "run"
    first = train_gan([photos], run, steps=1, settings=SETTINGS)
    assert math.isfinite(first.loss)
    info = json.loads((run / "run_info.json").read_text())
    assert info["conditioned_on"]["weights_sha256"] == source.weights_sha256
    assert json.loads((run / "model_config.json").read_text())["histogram"] is not None
    assert train_gan([photos], run, steps=2, resume=True, settings=SETTINGS).step == 2
    assert json.loads((run / "run_info.json").read_text())["conditioned_on"] == info["conditioned_on"]
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if '"step"' in line]
    assert {"l1", "adv", "critic", "critic_accuracy"} <= set(records[-1])

    card = export_gan_model(run, models / "gan")
    assert card.family == "gan" and card.steps == 2 and "histogram" in card.to_dict()["architecture_note"]
    loaded, _ = load_model("gan")
    L = torch.rand(1, 1, 24, 36) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded(L), load_checkpoint_model(run)(L))


def _train_tiny_on_the_command_line(tmp_path: Path, photos: Path, monkeypatch, option: str) -> tuple[Path, GANConfig]:
    """One step of a width-4 cGAN on a tiny installed histogram model, with ``option``; the run and its config."""
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(tmp_path / "models"))
    _install_histogram(tmp_path / "models")
    run = tmp_path / "run"
    assert main(["--data", str(photos), "--run-dir", str(run), "--steps", "1", "--batch-size", "2", "--crop", "32",
                 "--width", "4", "--threads", "1", option]) == 0
    return run, GANConfig.from_dict(json.loads((run / "model_config.json").read_text()))


def test_from_scratch_on_the_command_line(tmp_path, photos, monkeypatch):
    run, config = _train_tiny_on_the_command_line(tmp_path, photos, monkeypatch, "--from-scratch")
    assert config.histogram is None and config.width == 4
    assert "conditioned_on" not in json.loads((run / "run_info.json").read_text())
    assert isinstance(load_checkpoint_model(run), CGANColorizer)


def test_histogram_residual_on_the_command_line(tmp_path, photos, monkeypatch, capsys):
    _, config = _train_tiny_on_the_command_line(tmp_path, photos, monkeypatch, "--histogram-residual")
    assert config.histogram_residual and config.histogram is not None
    capsys.readouterr()
    assert main(["--data", str(photos), "--run-dir", str(tmp_path / "run2"), "--steps", "1", "--from-scratch",
                 "--histogram-residual"]) != 0
    assert "--histogram-residual: needs a histogram network" in capsys.readouterr().err
    assert not (tmp_path / "run2" / "model_config.json").exists()


def test_a_warm_start_keeps_the_init_models_residual_mode(tmp_path, photos, monkeypatch):
    run, config = _train_tiny_on_the_command_line(tmp_path, photos, monkeypatch, "--histogram-residual")
    export_gan_model(run, tmp_path / "models" / "gan")
    assert main(["--data", str(photos), "--run-dir", str(tmp_path / "run2"), "--steps", "1", "--batch-size", "2",
                 "--crop", "32", "--threads", "1", "--init", "gan", "--histogram-model", "histogram"]) == 0
    continued = GANConfig.from_dict(json.loads((tmp_path / "run2" / "model_config.json").read_text()))
    assert continued == config
