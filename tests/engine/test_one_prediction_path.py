"""One prediction path: `colorstudio colorize` and the GUI's session, given the same request (model, seed,
hints, hue bias, reference), write the same pixels, for every kind of model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from colorstudio.cli import main
from colorstudio.engine.hints import Hint, save_hints
from colorstudio.engine.jobs import ExportJob, HueBias
from colorstudio.engine.session import Session
from colorstudio.families import REGISTRY
from colorstudio.models.histogram import HistogramColorizer, HistogramConfig
from colorstudio.models.pixcolor import PixColor, PixColorConfig
from colorstudio.models.registry import ModelCard, save_model

HISTOGRAM = HistogramConfig(width=8, stage_mults=(1, 2), stage_blocks=(0, 1), hypercolumn_channels=16, norm="group")
PIXCOLOR = PixColorConfig(grid=4, cond_width=4, cond_channels=4, pixelcnn_channels=4, pixelcnn_blocks=1,
                          head_channels=4, refine_width=4, refine_blocks=1)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    models = tmp_path / "models"
    torch.manual_seed(0)
    save_model(HistogramColorizer(HISTOGRAM), ModelCard(name="tiny-hist", family="histogram",
                                                        config=HISTOGRAM.to_dict(), working_resolution=64),
               models / "tiny-hist")
    save_model(PixColor(PIXCOLOR), ModelCard(name="tiny-pixcolor", family="pixcolor", config=PIXCOLOR.to_dict()),
               models / "tiny-pixcolor")
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(models))
    gray = tmp_path / "gray.png"
    Image.fromarray(data.astronaut()).convert("L").resize((90, 70)).save(gray)
    reference = tmp_path / "reference.png"
    Image.fromarray(data.coffee()).resize((120, 80)).save(reference)
    hints = save_hints(tmp_path / "gray.hints.json", [Hint(x=30.0, y=20.0, radius=4.0, color="#1f3a93"),
                                                      Hint(x=60.5, y=50.0, radius=3.0, color="#d46a30")])
    return {"gray": gray, "reference": reference, "hints": hints}


@pytest.mark.parametrize(("model", "hue_bias"), [
    ("tiny-hist", HueBias(75.0, 0.6)),  # histograms: hue bias and energy-minimization reference transfer
    ("tiny-pixcolor", None),  # a sampler: the reference by quantile matching, its default
    ("propagation", None),  # the built-in method
])
def test_the_cli_and_the_session_write_the_same_pixels(files, tmp_path, model, hue_bias):
    cli_out = tmp_path / "cli.png"
    hue_options = [] if hue_bias is None else ["--hue-shift", str(hue_bias.angle_deg),
                                              "--hue-strength", str(hue_bias.strength)]
    assert main(["colorize", str(files["gray"]), "-o", str(cli_out), "--model", model, "--seed", "0",
                 "--hints", str(files["hints"]), "--reference", str(files["reference"]), *hue_options]) == 0

    session = Session(catalog=REGISTRY, device=torch.device("cpu"))
    session.set_model(model)
    session.set_sample_count(1)
    session.open_image(files["gray"])
    session.load_hints(files["hints"])
    session.load_reference(files["reference"])
    if hue_bias is not None:
        session.set_hue_bias(hue_bias)
    session.colorize()
    gui_out = tmp_path / "gui.png"
    ExportJob().run(session.export_request(gui_out))

    cli_pixels, gui_pixels = np.asarray(Image.open(cli_out)), np.asarray(Image.open(gui_out))
    assert cli_pixels.shape == (70, 90, 3)
    np.testing.assert_array_equal(cli_pixels, gui_pixels)
    assert np.ptp(cli_pixels.astype(int), axis=(0, 1)).max() > 0  # coloured, not a blank image
