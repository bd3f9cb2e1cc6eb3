"""PIC trainer: a few steps on a tiny folder, resume, export to a model folder, bits/dim of the export."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorstudio.families import load_model
from colorstudio.models.pic import PIC, PICConfig
from colorstudio.training.data import evaluation_dataset
from colorstudio.training.train_pic import (
    PRESETS,
    choose_preset,
    evaluate_bpd,
    export_pic_model,
    load_checkpoint_model,
    train_pic,
)

TINY = PICConfig(chroma_stride=2, embed_width=8, embed_blocks=(1, 1), embed_channels=8, decoder_channels=8,
                 decoder_blocks=1, components=2)


@pytest.fixture()
def photos(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("COLORSTUDIO_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(6):
        gradient = np.linspace(0, 255, 24, dtype=np.float32)
        img = np.stack([np.add.outer(gradient, gradient) / 2, rng.uniform(0, 255, (24, 24)),
                        np.full((24, 24), 40.0 * k)], axis=-1)
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(folder / f"img{k}.png")
    return folder


def test_train_resume_export_and_bits_per_dim(photos: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    assert choose_preset([photos]) == "pic-cifar"  # 24 px images are CIFAR-sized
    settings = replace(PRESETS["pic-cifar"].settings, batch_size=2, crop=16, warmup=1, threads=1, log_every=1,
                       checkpoint_every_s=1e9)
    run = tmp_path / "run"
    first = train_pic([photos], run, 2, config=TINY, preset="pic-cifar", settings=settings)
    assert first.step == 2 and math.isfinite(first.loss)
    resumed = train_pic([photos], run, 3, resume=True, settings=settings)
    assert resumed.step == 3
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["bpd"]) for r in records)

    model = load_checkpoint_model(run)
    assert isinstance(model, PIC) and model.config == TINY
    card = export_pic_model(run, tmp_path / "models" / "pic-tiny")
    assert card.family == "pic" and card.working_resolution == 32 and card.steps == 3
    assert "comparability" in card.to_dict()
    assert card.to_dict()["for_photos"] is False  # a CIFAR-size model: the GUI does not offer it for photos
    loaded, _ = load_model("pic-tiny", "cpu", tmp_path / "models")
    report = evaluate_bpd(loaded, photos, working_resolution=16, batch_size=4)
    assert report["images"] == 6 and report["dims_per_image"] == 8 * 8 * 2 and 0 < report["bpd"] < 20

    from colorstudio.engine.pic_colorizer import PICColorizer

    colorizer = PICColorizer("pic-tiny", loaded, {"working_resolution": 16}, torch.device("cpu"))
    dataset = evaluation_dataset(photos, colorizer.long_side)
    assert colorizer.bits_per_dim(dataset, batch_size=4)["bpd"] == pytest.approx(report["bpd"], rel=1e-6)


def test_train_on_a_histogram_model_records_it_and_keeps_it_on_resume(photos: Path, tmp_path: Path) -> None:
    from colorstudio.models.histogram import HistogramColorizer, HistogramConfig
    from colorstudio.models.registry import ModelCard, save_model

    torch.manual_seed(0)
    histogram = HistogramColorizer(HistogramConfig(width=4, stage_mults=(1, 2, 4), stage_blocks=(0, 1, 1),
                                                   hypercolumn_channels=8, norm="group"))
    source = save_model(histogram, ModelCard(name="hist", family="histogram", config=histogram.config.to_dict()),
                        tmp_path / "hist")
    config = PICConfig(chroma_stride=4, embed_width=4, embed_blocks=(0, 1, 1), embed_channels=8, decoder_channels=8,
                       decoder_blocks=1, components=2)
    settings = replace(PRESETS["pic"].settings, batch_size=2, crop=32, warmup=1, threads=1, log_every=1,
                       checkpoint_every_s=1e9)
    run = tmp_path / "run"
    train_pic([photos], run, 1, config=config, preset="pic", settings=settings, histogram_model=tmp_path / "hist")
    info = json.loads((run / "run_info.json").read_text())
    assert info["conditioned_on"]["weights_sha256"] == source.weights_sha256
    train_pic([photos], run, 2, resume=True, settings=settings)
    assert json.loads((run / "run_info.json").read_text())["conditioned_on"] == info["conditioned_on"]
    model = load_checkpoint_model(run)
    for name, value in histogram.state_dict().items():  # the frozen copy is the histogram model's
        torch.testing.assert_close(model.embedding.encoder.state_dict()[name], value)


def test_init_continues_an_installed_model_on_another_histogram_model(photos: Path, tmp_path: Path) -> None:
    from colorstudio.models.histogram import HistogramColorizer, HistogramConfig
    from colorstudio.models.registry import ModelCard, save_model
    from colorstudio.training.train_pic import FROZEN_ENCODER_PREFIX

    for name, seed in (("hist", 0), ("hist-new", 1)):
        torch.manual_seed(seed)
        net = HistogramColorizer(HistogramConfig(width=4, stage_mults=(1, 2, 4), stage_blocks=(0, 1, 1),
                                                 hypercolumn_channels=8, norm="group"))
        save_model(net, ModelCard(name=name, family="histogram", config=net.config.to_dict()), tmp_path / name)
    config = PICConfig(chroma_stride=4, embed_width=4, embed_blocks=(0, 1, 1), embed_channels=8, decoder_channels=8,
                       decoder_blocks=1, components=2)
    settings = replace(PRESETS["pic"].settings, batch_size=2, crop=32, warmup=1, threads=1, log_every=1,
                       checkpoint_every_s=1e9, lr=0.0)
    train_pic([photos], tmp_path / "first", 1, config=config, preset="pic", settings=settings,
              histogram_model=tmp_path / "hist")
    old = export_pic_model(tmp_path / "first", tmp_path / "pic-old")
    run = tmp_path / "run"
    train_pic([photos], run, 1, preset="pic", settings=settings, histogram_model=tmp_path / "hist-new",
              init_model=tmp_path / "pic-old")
    assert json.loads((run / "run_info.json").read_text())["initialized_from"]["weights_sha256"] == old.weights_sha256
    before, _ = load_model(tmp_path / "pic-old")
    after = load_checkpoint_model(run)
    assert after.config.embed_width == 4  # the architecture of --init, not the preset's
    new_hist, _ = load_model(tmp_path / "hist-new")
    for name, value in after.state_dict().items():  # lr 0: the step leaves the started-from weights as they were
        if name.startswith(FROZEN_ENCODER_PREFIX):
            torch.testing.assert_close(value, new_hist.state_dict()[name[len(FROZEN_ENCODER_PREFIX):]])
        else:
            torch.testing.assert_close(value, before.state_dict()[name])
