"""The command line drives the same engine calls as the GUI; these run it in-process."""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from colorstudio.cli import main
from colorstudio.color import rgb_to_lab
from colorstudio.io import load_image, luminance


@pytest.fixture()
def gray_png(tmp_path: Path) -> Path:
    from skimage import data

    gray = Image.fromarray(data.astronaut()).convert("L").resize((96, 80))
    path = tmp_path / "gray.png"
    gray.save(path)
    return path


@pytest.fixture()
def hints_json(tmp_path: Path) -> Path:
    path = tmp_path / "h.hints.json"
    path.write_text(json.dumps({"version": 1, "hints": [
        {"x": 30, "y": 20, "radius": 3, "color": "#c08060"},
        {"x": 70, "y": 60, "radius": 3, "color": "#2040a0"},
    ]}))
    return path


def test_colorize_16bit_tiff_keeps_size_and_lightness(gray_png, hints_json, tmp_path):
    out = tmp_path / "out.tiff"
    code = main(["colorize", str(gray_png), "-o", str(out), "--format", "tiff", "--bit-depth", "16",
                 "--hints", str(hints_json), "--model", "propagation"])
    assert code == 0
    result = tifffile.imread(out)
    assert result.dtype == np.uint16 and result.shape == (80, 96, 3)
    lightness_out = rgb_to_lab(result.astype(np.float32) / 65535.0)[..., 0]
    lightness_in = luminance(load_image(gray_png))
    assert np.abs(lightness_out - lightness_in).mean() <= 0.5
    # the hints were honoured: the hinted pixels carry colour
    lab = rgb_to_lab(result.astype(np.float32) / 65535.0)
    assert np.hypot(lab[20, 30, 1], lab[20, 30, 2]) > 5


def test_same_options_give_same_bytes(gray_png, hints_json, tmp_path):
    outs = [tmp_path / "a.png", tmp_path / "b.png"]
    for out in outs:
        assert main(["colorize", str(gray_png), "-o", str(out), "--hints", str(hints_json), "--model", "propagation"]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()


def test_output_in_a_missing_folder_creates_it(gray_png, tmp_path):
    out = tmp_path / "new" / "deeper" / "out.png"
    assert main(["colorize", str(gray_png), "-o", str(out), "--model", "propagation"]) == 0
    assert Image.open(out).size == (96, 80)


def test_output_folder_that_cannot_exist_fails_before_colorizing(gray_png, tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    assert main(["colorize", str(gray_png), "-o", str(blocker / "out.png"), "--model", "propagation"]) != 0
    err = capsys.readouterr().err
    assert "cannot create the output folder" in err and "file.txt" in err
    assert blocker.read_text() == "not a folder"


def test_folder_of_inputs_writes_one_file_per_stem(gray_png, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for stem in ("one", "two"):
        (folder / f"{stem}.png").write_bytes(gray_png.read_bytes())
    out = tmp_path / "out"
    assert main(["colorize", str(folder), "-o", str(out), "--model", "propagation"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["one.png", "two.png"]


def test_hints_folder_matches_inputs_by_stem(gray_png, hints_json, tmp_path):
    folder, hints = tmp_path / "in", tmp_path / "hints"
    folder.mkdir(), hints.mkdir()
    for stem in ("one", "two"):
        (folder / f"{stem}.png").write_bytes(gray_png.read_bytes())
    (hints / "one.hints.json").write_text(hints_json.read_text())
    out = tmp_path / "out"
    assert main(["colorize", str(folder), "-o", str(out), "--hints", str(hints), "--model", "propagation"]) == 0
    hinted = np.asarray(Image.open(out / "one.png")).astype(int)
    unhinted = np.asarray(Image.open(out / "two.png")).astype(int)
    assert np.abs(hinted[..., 0] - hinted[..., 2]).max() > 10  # colour where hints were given
    assert np.abs(unhinted[..., 0] - unhinted[..., 2]).max() <= 1  # none without


@pytest.mark.parametrize("content", [b"", b"this is not an image", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, capsys, content):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    out = tmp_path / "out.png"
    assert main(["colorize", str(bad), "-o", str(out), "--model", "propagation"]) == 2
    err = capsys.readouterr().err
    assert "bad.png" in err and "error" in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.png"]


def test_bad_hints_file_names_the_file(gray_png, tmp_path, capsys):
    hints = tmp_path / "broken.hints.json"
    hints.write_text('{"version": 1, "hints": [{"x": 1}')
    out = tmp_path / "out.png"
    assert main(["colorize", str(gray_png), "-o", str(out), "--hints", str(hints), "--model", "propagation"]) == 2
    assert "broken.hints.json" in capsys.readouterr().err
    assert not out.exists()


def test_refuses_to_overwrite_the_source(gray_png, capsys):
    before = gray_png.read_bytes()
    assert main(["colorize", str(gray_png), "-o", str(gray_png), "--model", "propagation"]) == 2
    assert "gray.png" in capsys.readouterr().err
    assert gray_png.read_bytes() == before


def test_unknown_model_lists_the_installed_ones(gray_png, tmp_path, capsys):
    assert main(["colorize", str(gray_png), "-o", str(tmp_path / "o.png"), "--model", "nope"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "propagation" in err


def test_models_command_lists_the_baseline(capsys):
    assert main(["models"]) == 0
    assert "propagation" in capsys.readouterr().out


def test_evaluate_writes_rows_for_baselines_sweep_and_reference(tmp_path):
    from skimage import data

    folder = tmp_path / "gt"
    folder.mkdir()
    for i, image in enumerate((data.astronaut(), data.coffee())):
        Image.fromarray(image).resize((64, 48)).save(folder / f"img{i}.png")
    report_path = tmp_path / "report.json"
    assert main(["evaluate", str(folder), "--model", "propagation", "--hints-sweep", "0,3", "--size", "32",
                 "--reference-gt", "--reference-method", "quantile", "--json", str(report_path)]) == 0
    rows = {(r["method"], r["hints"]): r for r in json.loads(report_path.read_text())["rows"]}
    assert set(rows) == {("gray", 0), ("constant tint", 0), ("propagation", 0), ("propagation", 3),
                         ("propagation + GT reference", 0)}
    assert all(r["n_images"] == 2 for r in rows.values())
    # without hints the baseline gives the gray image back; hints add colour
    assert rows[("propagation", 0)]["metrics"]["psnr"] == pytest.approx(rows[("gray", 0)]["metrics"]["psnr"], abs=0.05)
    assert rows[("propagation", 3)]["metrics"]["colorfulness_ratio"] > rows[("propagation", 0)]["metrics"]["colorfulness_ratio"]


def test_evaluate_in_two_processes_equals_one(tmp_path):
    from skimage import data

    folder = tmp_path / "gt"
    folder.mkdir()
    for i, image in enumerate((data.astronaut(), data.coffee(), data.chelsea())):
        Image.fromarray(image).resize((48, 40)).save(folder / f"img{i}.png")
    reports = {}
    for jobs in (1, 2):
        path = tmp_path / f"report{jobs}.json"
        assert main(["evaluate", str(folder), "--model", "propagation", "--hints-sweep", "0,4", "--size", "32",
                     "--jobs", str(jobs), "--json", str(path)]) == 0
        reports[jobs] = json.loads(path.read_text())
    one, two = reports[1], reports[2]
    assert [r["index"] for r in two["per_image"]] == [r["index"] for r in one["per_image"]]
    assert two["rows"] == one["rows"]  # shards keep each image's hint seed, so the numbers are the same
    assert two["settings"]["n_images"] == 3


def test_evaluate_rejects_a_bad_sweep(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), "--model", "propagation", "--hints-sweep", "1,x"]) == 2
    assert "--hints-sweep" in capsys.readouterr().err


def test_train_runs_resumes_and_exports_a_loadable_model(tmp_path, monkeypatch):
    import torch
    from skimage import data

    from colorstudio.families import load_colorizer

    monkeypatch.setenv("COLORSTUDIO_CACHE", str(tmp_path / "cache"))
    photos = tmp_path / "photos"
    photos.mkdir()
    sources = (data.astronaut(), data.coffee(), data.chelsea())
    for i in range(32):  # one batch of distinct crops
        image = sources[i % 3]
        Image.fromarray(image[4 * i :, 2 * i :]).resize((128, 128)).save(photos / f"p{i}.jpg")
    run, out = tmp_path / "run", tmp_path / "models" / "histogram"
    args = ["train", "histogram", "--data", str(photos), "--steps", "1", "--run-dir", str(run)]
    assert main(args) == 0
    assert main([*args[:-4], "--steps", "2", "--run-dir", str(run), "--resume", "--out", str(out)]) == 0
    card = json.loads((out / "card.json").read_text())
    assert card["family"] == "histogram" and card["steps"] == 2
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(out.parent))
    colorizer = load_colorizer("histogram", torch.device("cpu"))
    pred = colorizer.predict(np.full((32, 32), 50.0, np.float32), np.zeros((2, 32, 32)), np.zeros((1, 32, 32)))
    assert pred.histograms is not None


def test_train_refuses_validation_data(tmp_path, capsys):
    val = tmp_path / "val"
    val.mkdir()
    assert main(["train", "histogram", "--data", str(val), "--steps", "1", "--run-dir", str(tmp_path / "r")]) == 2
    assert "validation" in capsys.readouterr().err


def test_colorize_help_explains_every_option(capsys):
    from colorstudio.cli import build_parser

    parser = build_parser()
    colorize = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["colorize"]
    undocumented = [a.option_strings or a.dest for a in colorize._actions if not a.help]
    assert undocumented == []
    with pytest.raises(SystemExit) as done:
        main(["help", "colorize"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for words in ("1 to 16", "0 or more", "from 0 to 10", "fast", "naive", "png or tiff", "refused", "cuda:N", "mps"):
        assert words in text, words


def test_without_format_the_extension_decides_and_a_bare_name_gets_one(gray_png, tmp_path):
    assert main(["colorize", str(gray_png), "-o", str(tmp_path / "a.TIF"), "--model", "propagation"]) == 0
    assert tifffile.imread(tmp_path / "a.TIF").shape == (80, 96, 3)
    assert main(["colorize", str(gray_png), "-o", str(tmp_path / "b"), "--format", "tiff", "--model", "propagation"]) == 0
    assert tifffile.imread(tmp_path / "b.tiff").shape == (80, 96, 3)


def test_hue_shift_help_says_it_biases_toward_a_hue(capsys):
    """--hue-shift pulls uncertain pixels toward a hue (90 moved the median hue 61 -> 82), it does not rotate."""
    with pytest.raises(SystemExit):
        main(["colorize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--hue-shift DEG" in text and "bias toward hue DEG" in text and "not a rotation" in text


def test_train_help_lists_every_option_of_every_family(capsys):
    from colorstudio.families import REGISTRY
    from colorstudio.training.command import add_train_arguments

    every = set()
    for family in REGISTRY.trainable():
        parser = argparse.ArgumentParser(add_help=False)
        add_train_arguments(parser, family.trainer)
        assert [a.option_strings for a in parser._actions if not a.help] == []  # each option explains itself
        options = {o for a in parser._actions for o in a.option_strings}
        every |= options
        with pytest.raises(SystemExit) as done:
            main(["train", family.name, "--help"])
        assert done.value.code == 0
        text = capsys.readouterr().out
        assert {o for o in options if o not in text} == set(), family.name
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert {o for o in every if o not in text} == set()
