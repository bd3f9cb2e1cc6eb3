"""A family is one object, registered once: a toy family declared here, in the test, appears in
`colorstudio models`, `colorize --model`, `colorstudio train` and the GUI's model list, and no other file
of the project changes for it."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from colorstudio.cli import main
from colorstudio.engine.pipeline import Capabilities, NetworkColorizer, Prediction
from colorstudio.families import REGISTRY, Family, register, unregister
from colorstudio.training.command import Trainer, settings_from_args
from colorstudio.training.family import export_run, open_run, prepare_run_dir, run_card, start_training, training_dataset
from colorstudio.training.loop import TrainSettings

TOY = "toy"


@dataclass(frozen=True)
class ToyConfig:
    width: int = 4

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToyConfig:
        return cls(**data)


class ToyNet(nn.Module):
    """L -> a*b* through one hidden layer: the smallest network the shared loop can train."""

    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.config = config
        self.train_with_hints = False
        self.body = nn.Sequential(nn.Conv2d(1, config.width, 3, padding=1), nn.ReLU(), nn.Conv2d(config.width, 2, 1))

    def forward(self, L_norm: torch.Tensor) -> torch.Tensor:
        return self.body(L_norm)

    def training_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        loss = (self(batch["L"]) - batch["ab"]).abs().mean()
        return loss, {"loss": float(loss.detach())}


class ToyColorizer(NetworkColorizer):
    capabilities = Capabilities(samples=False, hints=False)
    default_long_side = 32

    def predict(self, lightness, hint_ab, hint_mask, *, samples=1, seed=0, temperature=1.0, sampler="fast",
                progress=None, cancel=None) -> Prediction:
        L_norm = torch.from_numpy((np.asarray(lightness, np.float32) - 50.0) / 50.0)[None, None]
        with torch.inference_mode():
            ab = self.network(L_norm)[0].permute(1, 2, 0).numpy() * 110.0
        h, w = lightness.shape
        return Prediction(ab_samples=[np.ascontiguousarray(ab, np.float32)], seeds=[seed], work_size=(w, h))


def _add_options(parser: Any) -> None:
    parser.add_argument("--toy-width", type=int, default=ToyConfig.width, help="hidden channels")


def _train(args: argparse.Namespace):
    settings = settings_from_args(TOY_SETTINGS, args)
    config = ToyConfig(width=args.toy_width)
    out_dir = prepare_run_dir(args.run_dir)
    dataset = training_dataset(args.data, settings, args.limit)
    return start_training(ToyNet(config), dataset, config, settings, args.data, out_dir, args.resume)


def _export(run_dir: Path, out_dir: Path):
    run = open_run(run_dir)
    return export_run(run, out_dir, run_card(run, TOY, 32))


TOY_SETTINGS = TrainSettings(steps=1, batch_size=2, crop=32, warmup=0, checkpoint_every_s=1e9, log_every=1, threads=1)
TOY_FAMILY = Family(name=TOY, description="a toy family declared in a test", colorizer=ToyColorizer, config=ToyConfig,
                    network=ToyNet, trainer=Trainer(TOY_SETTINGS, _add_options, _train, _export))


@pytest.fixture
def toy_family(tmp_path, monkeypatch):
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("COLORSTUDIO_CACHE", str(tmp_path / "cache"))
    register(TOY_FAMILY)
    yield TOY_FAMILY
    unregister(TOY)


@pytest.fixture
def photos(tmp_path):
    from skimage import data

    folder = tmp_path / "photos"
    folder.mkdir()
    for i, image in enumerate((data.astronaut(), data.coffee())):
        Image.fromarray(image).resize((48, 48)).save(folder / f"p{i}.png")
    return folder


def _trained_toy(tmp_path: Path, photos: Path) -> Path:
    """`colorstudio train toy` into a run folder, exported as the installed model ``toy``."""
    out = tmp_path / "models" / TOY
    assert main(["train", TOY, "--data", str(photos), "--run-dir", str(tmp_path / "run"), "--toy-width", "3",
                 "--out", str(out)]) == 0
    return out


def test_a_toy_family_appears_in_models_colorize_and_train(toy_family, tmp_path, photos, capsys):
    with pytest.raises(SystemExit) as done:
        main(["train", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert TOY in text and "--toy-width" in text
    with pytest.raises(SystemExit):
        main(["train", TOY, "--help"])
    assert "--toy-width" in capsys.readouterr().out

    out = _trained_toy(tmp_path, photos)
    card = json.loads((out / "card.json").read_text())
    assert card["family"] == TOY and card["config"] == {"width": 3} and card["steps"] == 1

    capsys.readouterr()
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert f"  {TOY} " in listing and "a toy family declared in a test" in listing

    gray = tmp_path / "gray.png"
    Image.fromarray(np.full((40, 56), 120, np.uint8)).save(gray)
    result = tmp_path / "toy.png"
    assert main(["colorize", str(gray), "-o", str(result), "--model", TOY]) == 0
    assert Image.open(result).size == (56, 40)
    # what the family declares it cannot do is refused up front, in its words
    assert main(["colorize", str(gray), "-o", str(tmp_path / "n.png"), "--model", TOY, "--samples", "2"]) == 2


def test_a_toy_family_appears_in_the_session_and_the_gui_model_list(toy_family, tmp_path, photos, qtbot):
    from PySide6.QtCore import QSettings

    from colorstudio.engine.session import Session
    from colorstudio.gui.main_window import MainWindow

    choices = {c.name: c for c in Session(catalog=REGISTRY).model_choices}
    assert not choices[TOY].available and "not installed" in choices[TOY].reason  # known before it is trained
    _trained_toy(tmp_path, photos)
    window = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                        state_dir=tmp_path / "state", confirm_close=False)
    qtbot.addWidget(window)
    combo = window.samples_panel.model_combo
    items = {combo.itemData(row): combo.model().item(row) for row in range(combo.count())}
    assert TOY in items and items[TOY].isEnabled()
    assert window.session.choice(TOY).samples is False  # what the family declared
