"""Issue 14 on real (tiny, untrained) networks: samplers built on a histogram network rank their samples
and draft with it; PIC truncates its logistic tails; a model for tiny images is not offered for photos."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from colorstudio.cli import main
from colorstudio.color import rgb_to_lab
from colorstudio.engine.hints import Hint, save_hints
from colorstudio.engine.pipeline import ColorizeRequest, colorize_source, predict_draft, predict_samples, rank_samples
from colorstudio.engine.session import Session
from colorstudio.errors import ColorStudioError
from colorstudio.families import REGISTRY
from colorstudio.models.histogram import HistogramConfig
from colorstudio.models.logistic_mixture import Truncation
from colorstudio.models.pic import PIC, PICConfig
from colorstudio.models.pixcolor import PixColor, PixColorConfig
from colorstudio.models.registry import ModelCard, default_truncation, for_photos, save_model

HISTOGRAM = HistogramConfig(width=8, stage_mults=(1, 2), stage_blocks=(0, 1), hypercolumn_channels=16, norm="group")
PIXCOLOR = PixColorConfig(grid=4, cond_width=4, cond_channels=4, pixelcnn_channels=4, pixelcnn_blocks=1,
                          head_channels=4, refine_width=4, refine_blocks=1, conditioning="histogram",
                          histogram=HISTOGRAM.to_dict(), adapt_width=8)
PIC_ON_HISTOGRAM = PICConfig(chroma_stride=4, embed_width=4, embed_blocks=(0, 0, 1), embed_dilations=(1,),
                             embed_channels=4, decoder_channels=4, decoder_blocks=1, components=3,
                             histogram=HISTOGRAM.to_dict())
PIC_OWN = PICConfig(chroma_stride=2, embed_width=4, embed_blocks=(1, 1), embed_channels=4, decoder_channels=4,
                    decoder_blocks=1, components=3)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    torch.manual_seed(0)
    # untrained networks give near-uniform distributions: sharpen the frozen network's heads so that the
    # scores of different samples differ clearly
    pixcolor, pic = PixColor(PIXCOLOR), PIC(PIC_ON_HISTOGRAM)
    for network in (pixcolor.histogram_network, pic.histogram_network):
        assert network is not None
        with torch.no_grad():
            for head in (network.hue_head, network.chroma_head):
                head.weight.mul_(40.0)
    save_model(pixcolor, ModelCard(name="tiny-pixcolor", family="pixcolor", config=PIXCOLOR.to_dict(),
                                   working_resolution=32), folder / "tiny-pixcolor")
    sampling = {"temperature": 1.0, "truncation": 0.05, "min_weight": 0.2}
    save_model(pic, ModelCard(name="tiny-pic", family="pic", config=PIC_ON_HISTOGRAM.to_dict(), working_resolution=32,
                              extra={"sampling": sampling}), folder / "tiny-pic")
    save_model(PIC(PIC_OWN), ModelCard(name="tiny-pic-cifar", family="pic", config=PIC_OWN.to_dict(), working_resolution=16,
                                       extra={"for_photos": False}), folder / "tiny-pic-cifar")
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(folder))
    return folder


def _lightness(size: tuple[int, int] = (40, 30)) -> np.ndarray:
    rgb = np.asarray(Image.fromarray(data.astronaut()).resize(size), np.float32) / 255.0
    return np.asarray(rgb_to_lab(rgb)[..., 0], np.float32)


def _colorizer(name: str):
    return REGISTRY.load_colorizer(name, torch.device("cpu"))


@pytest.mark.parametrize("name", ["tiny-pixcolor", "tiny-pic"])
def test_samplers_on_a_histogram_network_score_each_sample_and_the_score_travels_with_its_seed(models, name):
    colorizer = _colorizer(name)
    assert colorizer.capabilities.ranked and colorizer.capabilities.draft
    lightness = _lightness()
    request = ColorizeRequest(model=name, samples=3, seed=5)
    batch = predict_samples(colorizer, lightness, request)
    scores = [sample.score for sample in batch]
    assert all(score is not None and math.isfinite(score) and score <= 0 for score in scores)
    assert len(set(scores)) == 3  # different samples, different plausibility
    alone = predict_samples(colorizer, lightness, request, seeds=[6])[0]
    np.testing.assert_array_equal(alone.ab, batch[1].ab)
    assert alone.score == pytest.approx(batch[1].score, abs=1e-6)

    ranked = colorize_source(lightness, colorizer, request)
    in_seed_order = colorize_source(lightness, colorizer, ColorizeRequest(model=name, samples=3, seed=5, order="seed"))
    assert [s.seed for s in in_seed_order.samples] == [5, 6, 7]
    best_first = sorted(in_seed_order.samples, key=lambda s: -s.score)
    assert [s.seed for s in ranked.samples] == [s.seed for s in best_first]
    for sample, rgb in zip(ranked.samples, ranked.rgb_samples, strict=True):
        np.testing.assert_array_equal(rgb, in_seed_order.rgb_samples[sample.seed - 5])


def test_hints_count_in_the_score_and_the_draft_shows_them(models):
    colorizer = _colorizer("tiny-pic")
    lightness = _lightness()
    plain = ColorizeRequest(model="tiny-pic", samples=2)
    hinted = ColorizeRequest(model="tiny-pic", samples=2, hints=(Hint(x=12.0, y=10.0, radius=4.0, color="#1f3a93"),))
    draft = predict_draft(colorizer, lightness, hinted)
    assert draft is not None and draft.draft and draft.score is None and draft.histograms is None
    assert draft.work_size == colorizer.working_size((40, 30)) and draft.ab.shape[-1] == 2
    assert not np.array_equal(draft.ab, predict_draft(colorizer, lightness, plain).ab)  # the hint is in it
    assert [s.score for s in predict_samples(colorizer, lightness, hinted)] != \
        [s.score for s in predict_samples(colorizer, lightness, plain)]


def test_a_sampler_without_a_histogram_network_neither_ranks_nor_drafts(models):
    colorizer = _colorizer("tiny-pic-cifar")
    assert not colorizer.capabilities.ranked and not colorizer.capabilities.draft
    assert colorizer.capabilities.samples and colorizer.capabilities.truncation  # the family's other abilities stay
    lightness = _lightness((16, 16))
    samples = predict_samples(colorizer, lightness, ColorizeRequest(model="tiny-pic-cifar", samples=3, seed=2))
    assert all(sample.score is None for sample in samples)
    assert [s.seed for s in rank_samples(samples)] == [2, 3, 4]  # nothing to rank by: seed order
    assert predict_draft(colorizer, lightness, ColorizeRequest(model="tiny-pic-cifar")) is None


def test_the_cli_writes_the_most_plausible_first_as_the_gallery_shows_it(models, tmp_path, capsys):
    gray = tmp_path / "gray.png"
    Image.fromarray(data.astronaut()).convert("L").resize((48, 36)).save(gray)
    hints = save_hints(tmp_path / "gray.hints.json", [Hint(x=20.0, y=12.0, radius=3.0, color="#c03020")])
    ranked, by_seed = tmp_path / "ranked", tmp_path / "by_seed"
    common = ["--model", "tiny-pixcolor", "--samples", "3", "--seed", "4", "--hints", str(hints)]
    assert main(["colorize", str(gray), "-o", str(ranked / "x.png"), *common]) == 0
    log = capsys.readouterr().err
    assert main(["colorize", str(gray), "-o", str(by_seed / "x.png"), *common, "--order", "seed"]) == 0
    written = [part.split(" seed ") for part in log.split("result(s), ")[1].strip().split(", ")]
    names = [name for name, _ in written]
    seeds = [int(rest.split(" plausibility ")[0]) for _, rest in written]
    scores = [float(rest.split(" plausibility ")[1].split(";")[0]) for _, rest in written]
    assert names == ["x_s0.png", "x_s1.png", "x_s2.png"] and sorted(seeds) == [4, 5, 6]
    assert scores == sorted(scores, reverse=True)
    for k, seed in enumerate(seeds):  # _sK is the K-th most plausible; its pixels are its seed's
        assert (ranked / f"x_s{k}.png").read_bytes() == (by_seed / f"x_s{seed - 4}.png").read_bytes()

    session = Session(catalog=REGISTRY, device=torch.device("cpu"))
    session.set_model("tiny-pixcolor")
    session.set_sample_count(3)
    session.set_base_seed(4)
    session.open_image(gray)
    session.load_hints(hints)
    session.colorize()
    assert [slot.seed for slot in session.slots] == seeds  # the gallery's order is the files'


def test_truncation_is_a_pic_setting_from_the_card_or_the_request(models, tmp_path, capsys):
    pic = _colorizer("tiny-pic")
    assert pic.truncation == Truncation(tail=0.05, min_weight=0.2) == default_truncation(pic.card)
    lightness = _lightness()

    def first_sample(**settings):
        return predict_samples(pic, lightness, ColorizeRequest(model="tiny-pic", samples=2, **settings))[0].ab

    card_default = first_sample()
    np.testing.assert_array_equal(card_default, first_sample(truncation=0.05, min_weight=0.2))
    assert not np.array_equal(card_default, first_sample(truncation=0.0))
    assert not np.array_equal(card_default, first_sample(min_weight=0.0))
    for field, bad in [("truncation", 0.5), ("truncation", -0.1), ("truncation", math.nan), ("truncation", True),
                       ("min_weight", 1.0), ("min_weight", -0.1), ("min_weight", math.nan)]:
        with pytest.raises(ColorStudioError, match="--truncation" if field == "truncation" else "--min-weight"):
            ColorizeRequest(**{field: bad})
    for settings in ({"truncation": 0.1}, {"min_weight": 0.1}):
        with pytest.raises(ColorStudioError, match="truncation"):
            predict_samples(_colorizer("tiny-pixcolor"), lightness, ColorizeRequest(model="tiny-pixcolor", **settings))
    assert default_truncation({"name": "x"}) == Truncation()
    for sampling in ({"truncation": 0.7}, {"min_weight": "high"}):
        with pytest.raises(ColorStudioError, match="'x'"):
            default_truncation({"name": "x", "sampling": sampling})

    gray = tmp_path / "gray.png"
    Image.fromarray(data.astronaut()).convert("L").resize((40, 30)).save(gray)
    assert main(["colorize", str(gray), "-o", str(tmp_path / "p.png"), "--model", "tiny-pic", "--truncation", "0.1",
                 "--min-weight", "0.05"]) == 0
    for flag in ("--truncation", "--min-weight"):
        assert main(["colorize", str(gray), "-o", str(tmp_path / "q.png"), "--model", "tiny-pixcolor", flag, "0.1"]) == 2
        assert flag in capsys.readouterr().err


def test_a_model_for_tiny_images_runs_from_the_cli_but_is_not_offered_for_photos(models, tmp_path):
    choices = {choice.name: choice for choice in REGISTRY.model_choices()}
    assert choices["tiny-pic-cifar"].for_photos is False and choices["tiny-pic"].for_photos is True
    offered = [choice.name for choice in Session(catalog=REGISTRY).model_choices]
    assert "tiny-pic-cifar" not in offered and "tiny-pic" in offered
    with pytest.raises(ColorStudioError):
        Session(catalog=REGISTRY).set_model("tiny-pic-cifar")
    gray = tmp_path / "gray.png"
    Image.fromarray(np.full((16, 16), 120, np.uint8)).save(gray)
    assert main(["colorize", str(gray), "-o", str(tmp_path / "c.png"), "--model", "tiny-pic-cifar"]) == 0

    # a declared property of the card, checked like the card's other fields
    assert for_photos({"name": "x"}) is True
    card_path = models / "tiny-pic-cifar" / "card.json"
    card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({**card, "for_photos": "no"}))
    choices = {choice.name: choice for choice in REGISTRY.model_choices()}
    assert not choices["tiny-pic-cifar"].available and "for_photos" in choices["tiny-pic-cifar"].reason


def test_the_installed_pic_cifar_is_declared_not_for_photos():
    card = json.loads((Path(__file__).parents[2] / "models" / "pic-cifar" / "card.json").read_text())
    assert card["for_photos"] is False and card["evaluation"]["bits_per_dim"]["bpd"] < 3.0
