"""PixColor trainer: conditioning on the installed histogram model by default, resume keeps it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from colorstudio.models.histogram import HistogramColorizer, HistogramConfig
from colorstudio.models.registry import ModelCard, save_model
from colorstudio.training.train_pixcolor import PixColorTrainSettings, train_pixcolor


@pytest.fixture
def photos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from skimage import data

    monkeypatch.setenv("COLORSTUDIO_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, image in enumerate((data.astronaut(), data.coffee(), data.chelsea(), data.rocket())):
        Image.fromarray(image).resize((128, 128)).save(folder / f"p{i}.jpg")
    return folder


SETTINGS = PixColorTrainSettings(steps=1, batch_size=2, warmup=1, checkpoint_every_s=1e9, log_every=1, threads=1)


def test_trains_on_the_installed_histogram_model_and_resumes_with_it(tmp_path, photos, monkeypatch):
    torch.manual_seed(0)
    histogram = HistogramColorizer(HistogramConfig(width=4, stage_mults=(1, 2, 4), stage_blocks=(0, 1, 1),
                                                   hypercolumn_channels=8, norm="group"))
    models = tmp_path / "models"
    source = save_model(histogram, ModelCard(name="histogram", family="histogram", config=histogram.config.to_dict()),
                        models / "histogram")
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(models))
    run = tmp_path / "run"
    train_pixcolor([photos], run, steps=1, settings=SETTINGS)
    info = json.loads((run / "run_info.json").read_text())
    assert info["conditioned_on"] == {"name": "histogram", "steps": 0, "weights_sha256": source.weights_sha256}
    assert json.loads((run / "model_config.json").read_text())["conditioning"] == "histogram"

    train_pixcolor([photos], run, steps=2, resume=True, settings=SETTINGS)
    assert json.loads((run / "run_info.json").read_text())["conditioned_on"] == info["conditioned_on"]
    latest = (run / "checkpoints" / "latest").read_text().strip()
    weights = load_file(str(run / "checkpoints" / latest / "model.safetensors"))
    for name, value in histogram.state_dict().items():  # frozen: still the installed model's weights
        torch.testing.assert_close(weights[f"conditioning.encoder.{name}"], value)


def test_without_a_histogram_model_the_conditioning_trains_from_scratch(tmp_path, photos, monkeypatch):
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(tmp_path / "no-models"))
    run = tmp_path / "run"
    train_pixcolor([photos], run, steps=1, settings=SETTINGS)
    assert json.loads((run / "model_config.json").read_text())["conditioning"] == "own"
    assert "conditioned_on" not in json.loads((run / "run_info.json").read_text())


def test_init_starts_a_run_from_an_installed_model_on_a_newer_histogram_model(tmp_path, photos, monkeypatch):
    from colorstudio.training.train_pixcolor import export_pixcolor_model, main

    models = tmp_path / "models"
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(models))
    cards = {}
    for name, seed in (("histogram", 0), ("histogram-new", 1)):
        torch.manual_seed(seed)
        net = HistogramColorizer(HistogramConfig(width=4, stage_mults=(1, 2, 4), stage_blocks=(0, 1, 1),
                                                 hypercolumn_channels=8, norm="group"))
        cards[name] = save_model(net, ModelCard(name=name, family="histogram", config=net.config.to_dict()), models / name)
    train_pixcolor([photos], tmp_path / "first", steps=1, settings=SETTINGS)
    old = export_pixcolor_model(tmp_path / "first", models / "pixcolor")

    run = tmp_path / "run"
    args = ["--data", str(photos), "--run-dir", str(run), "--steps", "1", "--batch-size", "2", "--threads", "1",
            "--checkpoint-every", "1e9", "--init", "pixcolor", "--histogram-model", "histogram-new", "--p-no-hints", "0.2"]
    assert main(args) == 0
    assert json.loads((run / "model_config.json").read_text())["p_no_hints"] == 0.2  # init's was 0.5
    info = json.loads((run / "run_info.json").read_text())
    assert info["initialized_from"]["weights_sha256"] == old.weights_sha256
    assert info["conditioned_on"]["weights_sha256"] == cards["histogram-new"].weights_sha256
    assert main([*args[:5], "2", *args[6:], "--resume"]) == 0
    assert json.loads((run / "run_info.json").read_text())["initialized_from"] == info["initialized_from"]
    card = export_pixcolor_model(run, tmp_path / "exported")
    assert card.to_dict()["initialized_from"] == info["initialized_from"] and card.steps == 2
