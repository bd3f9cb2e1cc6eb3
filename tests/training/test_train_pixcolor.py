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
