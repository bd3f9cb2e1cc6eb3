"""Tests for colorstudio.evaluation.protocol: data loading, baselines, evaluate, reports."""

from __future__ import annotations

import json
import math
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2lab

from colorstudio.color import lab_to_rgb, to_uint
from colorstudio.errors import CancelledError, ColorStudioError
from colorstudio.evaluation import metrics as m, protocol as p
from colorstudio.io.sources import ImageSource


def smooth_rgb(seed: int, size: int = 32, width: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    width = width or size
    y, x = np.mgrid[0:size, 0:width] / max(size, width)
    phase = rng.uniform(0, 2 * np.pi, 3)
    base = np.stack([0.5 + 0.4 * np.sin(5 * x + 2 * y + ph) for ph in phase], axis=-1)
    return np.clip(base * 255, 0, 255).astype(np.uint8)


def gray_from_lightness(L: np.ndarray) -> np.ndarray:
    lab = np.stack([L.astype(np.float64), np.zeros_like(L, np.float64), np.zeros_like(L, np.float64)], -1)
    return np.repeat(to_uint(lab_to_rgb(lab).mean(-1), 8)[..., None], 3, axis=-1)


# -------------------------------------------------------------------------------------- baselines


def test_gray_baseline_is_gray_with_the_truth_lightness():
    gt = smooth_rgb(0, 48)
    gray = p.gray_baseline(gt)
    assert gray.dtype == np.uint8 and gray.shape == gt.shape
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2])
    assert m.colorfulness(gray) == 0.0
    # uint8 quantization moves L* by < 0.3 (worst near black); skimage is the reference Lab.
    assert np.abs(rgb2lab(gray)[..., 0] - rgb2lab(gt)[..., 0]).max() < 0.5


def test_constant_tint_baseline():
    gt = smooth_rgb(1, 48)
    untinted = p.constant_tint_baseline(gt, (0.0, 0.0)).astype(int)
    assert np.abs(untinted - p.gray_baseline(gt)).max() <= 1  # the gray baseline averages float noise away
    tinted = p.constant_tint_baseline(gt, (6.0, 12.0))
    lab = rgb2lab(tinted)
    assert np.abs(lab[..., 0] - rgb2lab(gt)[..., 0]).max() < 1.0
    assert np.median(lab[..., 1]) == pytest.approx(6.0, abs=0.6)
    assert np.median(lab[..., 2]) == pytest.approx(12.0, abs=0.6)


# ------------------------------------------------------------------------------------------- data


def write_images(folder: Path, sizes: dict[str, tuple[int, int]]) -> dict[str, np.ndarray]:
    arrays = {}
    for i, (name, (w, h)) in enumerate(sizes.items()):
        arrays[name] = smooth_rgb(i, h, w)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arrays[name]).save(folder / name)
    return arrays


def make_tar(folder: Path, target: Path, mode: str) -> Path:
    with tarfile.open(target, mode) as tar:
        for path in sorted(folder.rglob("*.png"), reverse=True):  # storage order differs from sorted order
            tar.add(path, arcname=path.relative_to(folder).as_posix())
    return target


@pytest.fixture()
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "imgs"
    write_images(folder, {"b/2.png": (40, 20), "a/1.png": (20, 30), "c.png": (16, 16), "d.png": (24, 16), "e.png": (16, 17)})
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_load_eval_set_folder_and_tars_agree(image_folder: Path, tmp_path: Path):
    from_folder = p.load_eval_set(image_folder, size=16)
    assert [name for name, _ in from_folder] == ["a/1.png", "b/2.png", "c.png", "d.png", "e.png"]
    assert all(img.shape == (16, 16, 3) and img.dtype == np.uint8 for _, img in from_folder)
    for mode, suffix in (("w", ".tar"), ("w:gz", ".tar.gz")):
        archive = make_tar(image_folder, tmp_path / f"set{suffix}", mode)
        from_tar = p.load_eval_set(archive, size=16)
        assert [n for n, _ in from_tar] == [n for n, _ in from_folder]
        assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(from_tar, from_folder, strict=True))


def test_load_eval_set_crops_centre_without_resizing_when_short_side_fits(image_folder: Path):
    original = np.asarray(Image.open(image_folder / "b/2.png"))  # 40 wide, 20 high
    (name, img), = [item for item in p.load_eval_set(image_folder, size=20) if item[0] == "b/2.png"]
    assert np.array_equal(img, original[:, 10:30])


def test_load_eval_set_limit_is_evenly_spaced(image_folder: Path):
    assert [n for n, _ in p.load_eval_set(image_folder, limit=2, size=16)] == ["a/1.png", "c.png"]


def test_load_eval_set_errors(tmp_path: Path):
    with pytest.raises(ColorStudioError, match="not found"):
        p.load_eval_set(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ColorStudioError, match="no images"):
        p.load_eval_set(empty)
    (empty / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ColorStudioError, match="broken.jpg"):
        p.load_eval_set(empty)


def test_median_training_ab_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "train"
    folder.mkdir()
    colors = [(200, 30, 30), (30, 160, 40), (60, 80, 200)]
    for i, color in enumerate(colors):
        Image.fromarray(np.full((8, 8, 3), color, np.uint8)).save(folder / f"{i}.png")
    archive = make_tar(folder, tmp_path / "train.tar", "w")
    ab = rgb2lab(np.array([colors], np.uint8))[0, :, 1:]
    expected = np.median(ab, axis=0)  # three equal-sized solid images: the middle color per channel
    cache = tmp_path / "cache"
    result = p.median_training_ab([archive], cache_dir=cache)
    assert result == pytest.approx(tuple(expected), abs=0.01)
    assert (cache / "median_training_ab.json").is_file()

    def fail(*args, **kwargs):
        raise AssertionError("cache not used")

    monkeypatch.setattr(ImageSource, "iter_bytes", fail)
    assert p.median_training_ab([archive], cache_dir=cache) == result


# -------------------------------------------------------------------------------------- evaluate


def gray_predict(L, hint_ab, hint_mask, samples, seed):
    assert L.shape == hint_ab.shape[1:] == hint_mask.shape[1:]
    assert hint_ab.shape[0] == 2 and hint_mask.shape[0] == 1
    return [gray_from_lightness(L)] * samples


@pytest.fixture()
def tiny_set() -> list[tuple[str, np.ndarray]]:
    return [(f"img{i}", smooth_rgb(10 + i)) for i in range(3)]


def test_evaluate_gray_model_reproduces_gray_baseline(tiny_set):
    report = p.evaluate(gray_predict, tiny_set)
    model, gray, tint = report.row("model"), report.row("gray"), report.row("constant tint")
    assert model.n_images == gray.n_images == tint.n_images == 3
    assert model.metrics == pytest.approx(gray.metrics)
    expected_psnr = np.mean([m.psnr(gt, p.gray_baseline(gt)) for _, gt in tiny_set])
    assert gray.metrics["psnr"] == pytest.approx(expected_psnr)
    assert gray.metrics["colorfulness_ratio"] == 0.0
    assert gray.metrics["rmse_ab"] > 0 and "psnr_best" not in gray.metrics
    assert len(report.per_image) == 9
    assert report.settings["n_images"] == 3 and report.settings["samples"] == 1


def test_evaluate_several_samples(tiny_set):
    def two_samples(L, hint_ab, hint_mask, samples, seed):
        gray = gray_from_lightness(L)
        tinted = gray.copy()
        tinted[..., 0] = np.clip(tinted[..., 0].astype(int) + 40, 0, 255).astype(np.uint8)
        return [gray, tinted]

    report = p.evaluate(two_samples, tiny_set, samples=2)
    model = report.row("model")
    assert model.metrics["psnr_best"] >= model.metrics["psnr"]
    assert 0.0 < model.metrics["diversity_ms_ssim"] < 1.0
    per_image = [r["diversity_ms_ssim"] for r in report.per_image if r["method"] == model.method and r["hints"] == model.hints]
    assert model.metrics["diversity_ms_ssim_median"] == pytest.approx(float(np.median(per_image)))
    assert "diversity_ms_ssim" not in report.row("gray").metrics
    rows = [r for r in report.per_image if r["method"] == model.method]
    assert model.metrics["psnr_mean"] == pytest.approx(float(np.mean([r["psnr_mean"] for r in rows])))
    assert model.metrics["spread_skill_median"] == pytest.approx(float(np.median([r["spread_skill"] for r in rows])))
    assert "Spread/skill" in p.format_table(report) and "spread_skill_median" not in report.row("gray").metrics
    # the mean sample PSNR: what a sample picked at random scores, the baseline a ranking must beat
    for row, (_name, gt) in zip(rows, tiny_set, strict=True):
        outputs = two_samples(p._lab_of(gt)[..., 0], None, None, 2, 0)
        assert row["psnr_samples_mean"] == pytest.approx(float(np.mean([m.psnr(gt, out) for out in outputs])))
    assert model.metrics["psnr_samples_mean"] == pytest.approx(float(np.mean([r["psnr_samples_mean"] for r in rows])))
    assert "PSNR avg" in p.format_table(report) and "psnr_samples_mean" not in report.row("gray").metrics
    assert model.metrics["psnr_worst"] <= model.metrics["psnr_samples_mean"] <= model.metrics["psnr_best"]


def test_evaluate_passes_sweep_hints(tiny_set):
    masks = {}

    def record(L, hint_ab, hint_mask, samples, seed):
        masks.setdefault(int(hint_mask.sum() > 0), []).append(hint_mask.copy())
        return gray_predict(L, hint_ab, hint_mask, samples, seed)

    report = p.evaluate(record, tiny_set, hint_counts=(0, 2))
    assert report.row("model", 2).n_images == 3
    assert len(masks[0]) == 3 and len(masks[1]) == 3


def test_hint_error_is_small_for_a_sample_that_paints_the_hints_and_worst_names_the_one_that_ignores_them(tiny_set):
    def obey_then_ignore(L, hint_ab, hint_mask, samples, seed):
        lab = np.stack([L.astype(np.float64), *(hint_ab.astype(np.float64) * 110.0 * hint_mask[0])], -1)
        return [to_uint(lab_to_rgb(lab), 8), gray_from_lightness(L)]

    report = p.evaluate(obey_then_ignore, tiny_set, hint_counts=(0, 3), samples=2)
    hinted = report.row("model", 3).metrics
    assert hinted["hint_ab_error"] < 1.5  # only uint8 rounding and gamut clipping stand between
    per_image = [r for r in report.per_image if r["method"] == "model" and r["hints"] == 3]
    for record, (index, (_name, gt)) in zip(per_image, enumerate(tiny_set), strict=True):
        lab = p._lab_of(gt)
        hint_ab, mask = p._hint_inputs(np.ascontiguousarray(p.normalize_ab(lab[..., 1:]).transpose(2, 0, 1)), 3, index)
        chroma = np.hypot(*(hint_ab[:, mask[0] > 0.5] * 110.0))
        assert record["hint_ab_error_worst"] == pytest.approx(float(chroma.mean()), abs=1.0)  # the gray sample
    assert "hint_ab_error" not in report.row("model", 0).metrics
    assert "Hint err worst" in p.format_table(report)


def test_hint_ab_errors_needs_a_hint():
    with pytest.raises(ValueError, match="hinted pixel"):
        m.hint_ab_errors([np.zeros((4, 4, 3), np.uint8)], np.zeros((2, 4, 4)), np.zeros((1, 4, 4)))


def test_evaluate_checks_predictions_and_honours_cancel(tiny_set):
    with pytest.raises(ValueError, match="uint8"):
        p.evaluate(lambda L, *_: [np.zeros((4, 4, 3), np.uint8)], tiny_set)
    with pytest.raises(ValueError, match="samples"):
        p.evaluate(lambda L, *_: [], tiny_set)
    with pytest.raises(CancelledError):
        p.evaluate(gray_predict, tiny_set, cancel=lambda: True)
    seen = []
    p.evaluate(None, tiny_set[:1], progress=lambda f, msg: seen.append(f))
    assert seen[-1] == 1.0


def test_table_and_json(tiny_set, tmp_path: Path):
    report = p.evaluate(gray_predict, tiny_set, tint_ab=None)
    table = p.format_table(report)
    lines = table.splitlines()
    assert len(lines) == 2 + len(report.rows)
    assert lines[0].split()[:3] == ["Method", "Hints", "Images"] and "PSNR" in lines[0]
    assert lines[2].startswith("gray") and lines[3].startswith("model")
    assert "constant tint" not in table

    nan_report = p.EvalReport(
        rows=(p.EvalRow("x", 0, 1, {"psnr": math.inf, "colorfulness_ratio": math.nan}),), per_image=()
    )
    assert "-" in p.format_table(nan_report).splitlines()[-1]
    out = p.write_json(nan_report, tmp_path / "sub" / "report.json")
    data = json.loads(out.read_text())
    assert data["rows"][0]["metrics"] == {"psnr": None, "colorfulness_ratio": None}

    out = p.write_json(report, tmp_path / "report.json")
    data = json.loads(out.read_text())
    assert [r["method"] for r in data["rows"]] == ["gray", "model"]
    assert data["rows"][1]["metrics"]["psnr"] == pytest.approx(report.row("model").metrics["psnr"])
    assert sorted(x.name for x in tmp_path.iterdir()) == ["report.json", "sub"]  # no temp files left
