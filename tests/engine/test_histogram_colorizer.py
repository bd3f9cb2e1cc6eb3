"""The histogram network wired into the engine and the CLI, with a tiny untrained model."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorstudio.cli import main
from colorstudio.engine.pipeline import ColorizeRequest, colorize_source
from colorstudio.errors import ColorStudioError
from colorstudio.families import load_colorizer
from colorstudio.models.histogram import HistogramColorizer, HistogramConfig
from colorstudio.models.registry import ModelCard, save_model

TINY = HistogramConfig(width=8, stage_mults=(1, 2), stage_blocks=(0, 1), hypercolumn_channels=16, norm="group")


@pytest.fixture()
def models_dir(tmp_path: Path, monkeypatch) -> Path:
    torch.manual_seed(0)
    network = HistogramColorizer(TINY)
    folder = tmp_path / "models"
    save_model(network, ModelCard(name="tiny-hist", family="histogram", config=TINY.to_dict(), working_resolution=64),
               folder / "tiny-hist")
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(folder))
    return folder


@pytest.fixture()
def gray_png(tmp_path: Path) -> Path:
    from skimage import data

    path = tmp_path / "gray.png"
    Image.fromarray(data.astronaut()).convert("L").resize((90, 70)).save(path)
    return path


def test_prediction_carries_distributions_at_quarter_resolution(models_dir):
    colorizer = load_colorizer("tiny-hist", torch.device("cpu"))
    assert colorizer.working_size((200, 100)) == (64, 32)
    lightness = np.linspace(0, 100, 64 * 32, dtype=np.float32).reshape(32, 64)
    pred = colorizer.predict(lightness, np.zeros((2, 32, 64), np.float32), np.zeros((1, 32, 64), np.float32))
    assert pred.histograms.hue.shape == (32, 8, 16) and pred.histograms.chroma.shape == (32, 8, 16)
    np.testing.assert_allclose(pred.histograms.hue.sum(0), 1.0, atol=1e-5)
    assert pred.ab_samples[0].shape == (8, 16, 2)


def test_hints_reach_the_network(models_dir):
    colorizer = load_colorizer("tiny-hist", torch.device("cpu"))
    lightness = np.full((32, 32), 50.0, np.float32)
    hint_ab, mask = np.zeros((2, 32, 32), np.float32), np.zeros((1, 32, 32), np.float32)
    plain = colorizer.predict(lightness, hint_ab, mask).histograms.hue
    hint_ab[:, 8:16, 8:16] = 0.5
    mask[:, 8:16, 8:16] = 1
    hinted = colorizer.predict(lightness, hint_ab, mask).histograms.hue
    assert np.abs(plain - hinted).max() > 1e-4


def test_several_samples_is_a_clear_error(models_dir):
    colorizer = load_colorizer("tiny-hist", torch.device("cpu"))
    with pytest.raises(ColorStudioError, match="one colorization"):
        colorizer.predict(np.zeros((8, 8), np.float32), np.zeros((2, 8, 8)), np.zeros((1, 8, 8)), samples=3)


def test_full_resolution_result_with_uncertainty(models_dir):
    colorizer = load_colorizer("tiny-hist", torch.device("cpu"))
    lightness = np.tile(np.linspace(10, 90, 150, dtype=np.float32), (120, 1))
    result = colorize_source(lightness, colorizer, ColorizeRequest(model="tiny-hist"))
    assert result.rgb_samples[0].shape == (120, 150, 3)
    assert result.uncertainty.shape == (120, 150)
    assert 0.0 <= result.uncertainty.min() and result.uncertainty.max() <= 1.0


def test_cli_hue_shift_reference_and_uncertainty(models_dir, gray_png, tmp_path):
    reference = tmp_path / "ref.png"
    Image.fromarray(np.full((20, 20, 3), (200, 40, 40), np.uint8)).save(reference)
    plain, shifted, referenced = tmp_path / "plain.png", tmp_path / "shift.png", tmp_path / "ref_out.png"
    umap = tmp_path / "u.png"
    assert main(["colorize", str(gray_png), "-o", str(plain), "--model", "tiny-hist", "--uncertainty", str(umap)]) == 0
    assert main(["colorize", str(gray_png), "-o", str(shifted), "--model", "tiny-hist",
                 "--hue-shift", "180", "--hue-strength", "3"]) == 0
    assert main(["colorize", str(gray_png), "-o", str(referenced), "--model", "tiny-hist",
                 "--reference", str(reference), "--reference-strength", "5"]) == 0
    images = [np.asarray(Image.open(p)).astype(int) for p in (plain, shifted, referenced)]
    assert all(img.shape == (70, 90, 3) for img in images)
    assert np.abs(images[0] - images[1]).max() > 0  # the hue bias changed the colours
    assert np.abs(images[0] - images[2]).max() > 0  # so did the reference
    assert Image.open(umap).size == (90, 70)


def test_hue_shift_needs_a_histogram_model(models_dir, gray_png, tmp_path, capsys):
    out = tmp_path / "o.png"
    assert main(["colorize", str(gray_png), "-o", str(out), "--model", "propagation", "--hue-shift", "90"]) == 2
    assert "histogram" in capsys.readouterr().err
    assert not out.exists()


def test_card_decoding_decodes_every_path_alike(models_dir, tmp_path):
    from colorstudio.engine import histogram_edit as he
    from colorstudio.engine.pipeline import Edits, HueBias, apply_edits

    L = np.linspace(20, 80, 32 * 32, dtype=np.float32).reshape(32, 32)
    no_ab, no_mask = np.zeros((2, 32, 32), np.float32), np.zeros((1, 32, 32), np.float32)
    paper = load_colorizer("tiny-hist", torch.device("cpu"))
    card = dict(paper.card, decoding={"fading_threshold": 0.6, "chroma_quantile": 0.4})
    damped = type(paper)("tiny-hist", paper.network, card, torch.device("cpu"))
    ab_paper = paper.predict(L, no_ab, no_mask).ab_samples[0]
    pred = damped.predict(L, no_ab, no_mask)
    assert pred.histograms.decoding == he.Decoding(fading_threshold=0.6, chroma_quantile=0.4)
    # a larger threshold fades undecided hues more, a lower quantile takes less chroma: never more than the paper
    assert np.all(np.hypot(*np.moveaxis(pred.ab_samples[0], -1, 0)) <= np.hypot(*np.moveaxis(ab_paper, -1, 0)) + 1e-4)
    edited = apply_edits(pred.ab_samples, pred.histograms, Edits(hue_bias=HueBias(30.0, 1.0)))
    hue = he.hue_bias(pred.histograms.hue, 30.0, 1.0)
    expected = he.decode_ab(hue, pred.histograms.chroma, decoding=pred.histograms.decoding)
    assert not np.allclose(expected, he.decode_ab(hue, pred.histograms.chroma), atol=1e-3)
    np.testing.assert_allclose(edited.ab_samples[0], expected, atol=1e-4)
    for decoding, field in (({"fading_threshold": 0}, "fading_threshold"), ({"chroma_quantile": 1.0}, "chroma_quantile"),
                            ({"chroma_quantile": "high"}, "chroma_quantile"), ({"gamma": 2}, "unknown")):
        bad = type(paper)("tiny-hist", paper.network, dict(paper.card, decoding=decoding), torch.device("cpu"))
        with pytest.raises(ColorStudioError, match=field):
            bad.predict(L, no_ab, no_mask)
