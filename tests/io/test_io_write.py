"""colorstudio.io.write: exact round trips, metadata, atomic writes, and the source is never overwritten."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

import colorstudio.io.write as write
from colorstudio import __version__
from colorstudio.color import to_uint
from colorstudio.errors import CancelledError, ColorStudioError
from colorstudio.io import load_image, save_gray_map, save_image

H, W = 9, 14


@pytest.fixture
def rgb(rng) -> np.ndarray:
    values = rng.random((H, W, 3), dtype=np.float32)
    values[0, 0] = (0.0, 0.5, 1.0)
    return values


def _read_back(path, fmt: str) -> np.ndarray:
    """Read with the reference libraries, not with our own loader."""
    if fmt == "png":
        return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1]
    return tifffile.imread(path)


def _folder_listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- round trips -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bit_depth", [8, 16])
@pytest.mark.parametrize(("suffix", "fmt"), [(".png", "png"), (".tif", "tiff"), (".tiff", "tiff")])
def test_round_trip_is_exact(tmp_path, rgb, suffix, fmt, bit_depth):
    path = tmp_path / f"out{suffix}"
    assert save_image(path, rgb, bit_depth=bit_depth) == path

    stored = _read_back(path, fmt)
    expected = to_uint(rgb, bit_depth)
    assert stored.dtype == expected.dtype and stored.shape == (H, W, 3)
    np.testing.assert_array_equal(stored, expected)

    src = load_image(path)
    assert src.bit_depth == bit_depth
    np.testing.assert_array_equal(src.rgb, expected / np.float32(2**bit_depth - 1))
    assert _folder_listing(tmp_path) == [path.name]  # no temporary file left


def test_png16_is_a_valid_png(tmp_path, rgb, srgb_icc):
    path = tmp_path / "out.png"
    save_image(path, rgb, bit_depth=16, icc_profile=srgb_icc)
    with Image.open(path) as image:
        image.verify()  # chunk order and CRCs of the chunks we inserted


def test_fmt_overrides_suffix(tmp_path, rgb):
    path = tmp_path / "result.data"
    save_image(path, rgb, fmt="tiff", bit_depth=16)
    np.testing.assert_array_equal(tifffile.imread(path), to_uint(rgb, 16))


def test_values_outside_range_are_clipped(tmp_path):
    rgb = np.array([[[-0.5, 0.5, 1.5]]], dtype=np.float64)
    path = tmp_path / "clip.png"
    save_image(path, rgb)
    np.testing.assert_array_equal(_read_back(path, "png")[0, 0], [0, 128, 255])


@pytest.mark.parametrize(("suffix", "bit_depth"), [(".png", 8), (".png", 16), (".tif", 8), (".tif", 16)])
def test_same_input_same_bytes(tmp_path, rgb, srgb_icc, suffix, bit_depth):
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    save_image(first, rgb, bit_depth=bit_depth, icc_profile=srgb_icc)
    save_image(second, rgb, bit_depth=bit_depth, icc_profile=srgb_icc)
    assert first.read_bytes() == second.read_bytes()


# --- metadata --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_png_keeps_icc_profile_and_software(tmp_path, rgb, srgb_icc, bit_depth):
    path = tmp_path / "profiled.png"
    save_image(path, rgb, bit_depth=bit_depth, icc_profile=srgb_icc)
    with Image.open(path) as image:
        assert image.info["icc_profile"] == srgb_icc
        assert image.text["Software"] == f"ColorStudio {__version__}"
    assert load_image(path).icc_profile == srgb_icc


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_tiff_keeps_icc_profile_and_software(tmp_path, rgb, srgb_icc, bit_depth):
    path = tmp_path / "profiled.tif"
    save_image(path, rgb, bit_depth=bit_depth, icc_profile=srgb_icc)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        assert page.tags[34675].value == srgb_icc
        assert page.tags["Software"].value == f"ColorStudio {__version__}"
        assert page.photometric == tifffile.PHOTOMETRIC.RGB
        assert page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE
        assert page.bitspersample == bit_depth
    assert load_image(path).icc_profile == srgb_icc


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_gray_profile_is_not_embedded_in_rgb_output(tmp_path, rgb, gray_icc, suffix):
    path = tmp_path / f"from_gray_scan{suffix}"
    save_image(path, rgb, icc_profile=gray_icc)
    assert load_image(path).icc_profile is None


def test_progress_reaches_one(tmp_path, rgb):
    reports: list[tuple[float, str]] = []
    save_image(tmp_path / "p.tif", rgb, progress=lambda f, m: reports.append((f, m)))
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in reports)


def test_output_gets_ordinary_permissions(tmp_path, rgb):
    path = tmp_path / "perm.png"
    save_image(path, rgb)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# --- bad requests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs", "words"),
    [
        ("out.jpg", {}, ("format", ".jpg")),
        ("out", {}, ("format",)),
        ("out.png", {"fmt": "webp"}, ("format", "webp")),
        ("out.png", {"bit_depth": 12}, ("bit depth", "12")),
        ("out.tif", {"bit_depth": 32}, ("bit depth",)),
    ],
)
def test_unknown_format_or_depth(tmp_path, rgb, name, kwargs, words):
    path = tmp_path / name
    with pytest.raises(ColorStudioError) as excinfo:
        save_image(path, rgb, **kwargs)
    assert str(path) in str(excinfo.value)
    for word in words:
        assert word in str(excinfo.value)
    assert _folder_listing(tmp_path) == []


def test_missing_folder_and_folder_destination(tmp_path, rgb):
    missing = tmp_path / "nowhere" / "out.png"
    with pytest.raises(ColorStudioError) as excinfo:
        save_image(missing, rgb)
    assert str(missing) in str(excinfo.value) and "does not exist" in str(excinfo.value)

    folder = tmp_path / "folder.png"
    folder.mkdir()
    with pytest.raises(ColorStudioError) as excinfo:
        save_image(folder, rgb)
    assert str(folder) in str(excinfo.value) and "folder" in str(excinfo.value)


@pytest.mark.parametrize(
    "bad", [np.zeros((H, W)), np.zeros((H, W, 4)), np.zeros((H, W, 3), np.uint8), np.full((2, 2, 3), np.nan)]
)
def test_bad_arrays_are_programming_errors(tmp_path, bad):
    with pytest.raises(ValueError):
        save_image(tmp_path / "bad.png", bad)
    assert _folder_listing(tmp_path) == []


# --- never overwrite the source --------------------------------------------------------------------


def _make_source(tmp_path, suffix=".png"):
    source = tmp_path / f"scan{suffix}"
    Image.fromarray(np.full((H, W), 77, np.uint8)).save(source)
    return source, source.read_bytes()


@pytest.mark.parametrize("spelling", ["same", "relative", "dotdot", "hardlink"])
def test_source_is_never_overwritten(tmp_path, rgb, monkeypatch, spelling):
    source, original = _make_source(tmp_path)
    if spelling == "same":
        dest = source
    elif spelling == "relative":
        monkeypatch.chdir(tmp_path)
        dest = source.relative_to(tmp_path)
    elif spelling == "dotdot":
        (tmp_path / "sub").mkdir()
        dest = tmp_path / "sub" / ".." / source.name
    else:
        dest = tmp_path / "link.png"
        os.link(source, dest)
    with pytest.raises(ColorStudioError) as excinfo:
        save_image(dest, rgb, source_path=source)
    assert str(dest) in str(excinfo.value) and "source" in str(excinfo.value)
    assert source.read_bytes() == original


def test_other_destination_beside_source_is_fine(tmp_path, rgb):
    source, original = _make_source(tmp_path)
    save_image(tmp_path / "scan_color.png", rgb, source_path=source)
    assert source.read_bytes() == original


# --- failed exports leave nothing ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "tiff"])
@pytest.mark.parametrize("cancel_on_check", [1, 2, 3])
def test_cancel_leaves_no_file(tmp_path, rgb, fmt, cancel_on_check):
    checks = []

    def cancel() -> bool:
        checks.append(1)
        return len(checks) >= cancel_on_check

    with pytest.raises(CancelledError):
        save_image(tmp_path / f"out.{fmt}", rgb, fmt=fmt, bit_depth=16, cancel=cancel)
    assert len(checks) == cancel_on_check
    assert _folder_listing(tmp_path) == []


def test_quantization_in_row_chunks_is_exact_and_cancellable(tmp_path, rgb, monkeypatch):
    monkeypatch.setattr(write, "_QUANTIZE_CHUNK_PIXELS", W * 2)  # 2 rows per chunk, 5 chunks
    path = tmp_path / "chunked.tif"
    save_image(path, rgb, bit_depth=16)
    np.testing.assert_array_equal(tifffile.imread(path), to_uint(rgb, 16))

    checks = []
    with pytest.raises(CancelledError):
        save_image(tmp_path / "cancelled.tif", rgb, cancel=lambda: checks.append(1) or len(checks) == 4)
    assert _folder_listing(tmp_path) == ["chunked.tif"]


def test_cancel_keeps_existing_destination(tmp_path, rgb):
    dest = tmp_path / "previous.png"
    dest.write_bytes(b"previous export")
    calls = []
    with pytest.raises(CancelledError):
        save_image(dest, rgb, cancel=lambda: calls.append(1) or len(calls) == 3)
    assert dest.read_bytes() == b"previous export"
    assert _folder_listing(tmp_path) == ["previous.png"]


@pytest.mark.parametrize(("encoder", "fmt", "bit_depth"), [("_write_tiff", "tiff", 16), ("_write_png", "png", 8)])
def test_encoder_io_error_becomes_clear_error_and_leaves_nothing(tmp_path, rgb, monkeypatch, encoder, fmt, bit_depth):
    def failing_encoder(fh, samples, icc):
        fh.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(write, encoder, failing_encoder)
    dest = tmp_path / f"out.{fmt}"
    with pytest.raises(ColorStudioError) as excinfo:
        save_image(dest, rgb, fmt=fmt, bit_depth=bit_depth)
    assert str(dest) in str(excinfo.value) and "No space left" in str(excinfo.value)
    assert _folder_listing(tmp_path) == []


def test_encoder_bug_propagates_and_leaves_nothing(tmp_path, rgb, monkeypatch):
    def broken(samples, icc):
        raise RuntimeError("encoder bug")

    monkeypatch.setattr(write, "_encode_png16", broken)
    dest = tmp_path / "out.png"
    dest.write_bytes(b"older")
    with pytest.raises(RuntimeError, match="encoder bug"):
        save_image(dest, rgb, bit_depth=16)
    assert _folder_listing(tmp_path) == ["out.png"] and dest.read_bytes() == b"older"


def test_failed_rename_leaves_nothing(tmp_path, rgb, monkeypatch):
    def failing_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(write.os, "replace", failing_replace)
    dest = tmp_path / "out.tif"
    with pytest.raises(ColorStudioError) as excinfo:
        save_image(dest, rgb)
    assert str(dest) in str(excinfo.value)
    assert _folder_listing(tmp_path) == []


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


@pytest.mark.skipif(os.name != "posix", reason="PIDs of writers are asked about on POSIX only")
def test_temporaries_of_killed_runs_are_removed_when_their_output_is_written(tmp_path, rgb):
    old = 7200.0  # seconds: beyond the age at which a temporary without a PID counts as abandoned
    dead = tmp_path / f".out.png.{_dead_pid()}-abcd_123.tmp"  # what a killed run of this version leaves
    legacy_old = tmp_path / ".out.png.k2x9_q0a.tmp"  # an earlier version's name, from long ago
    legacy_new = tmp_path / ".out.png.zz11yy22.tmp"  # ... and a recent one: its writer may still run
    alive = tmp_path / f".out.png.{os.getpid()}-live0000.tmp"  # a writer that is still running
    unrelated = [tmp_path / ".other.png.abcdefgh.tmp", tmp_path / ".out.png.notes.txt", tmp_path / "out.png.1-abcdefgh.tmp"]
    for path in (dead, legacy_old, legacy_new, alive, *unrelated):
        path.write_bytes(b"partial")
    os.utime(legacy_old, (os.path.getmtime(legacy_old) - old,) * 2)
    os.utime(unrelated[0], (os.path.getmtime(unrelated[0]) - old,) * 2)
    save_image(tmp_path / "out.png", rgb)
    assert _folder_listing(tmp_path) == sorted(p.name for p in (tmp_path / "out.png", legacy_new, alive, *unrelated))


# --- gray maps -------------------------------------------------------------------------------------


def test_gray_map_plain(tmp_path, rng):
    values = rng.random((H, W))
    path = save_gray_map(tmp_path / "map.png", values)
    with Image.open(path) as image:
        assert image.mode == "L"
        np.testing.assert_array_equal(np.asarray(image), to_uint(values, 8))
    assert _folder_listing(tmp_path) == ["map.png"]


@pytest.mark.parametrize("colormap", ["inferno", "Magma"])
def test_gray_map_with_colormap(tmp_path, rng, colormap):
    values = rng.random((H, W)).astype(np.float32)
    path = save_gray_map(tmp_path / "map.png", values, colormap)
    expected = cv2.applyColorMap(to_uint(values, 8), getattr(cv2, f"COLORMAP_{colormap.upper()}"))[..., ::-1]
    with Image.open(path) as image:
        assert image.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(image), expected)


def test_gray_map_errors(tmp_path, rng):
    path = tmp_path / "map.png"
    with pytest.raises(ColorStudioError) as excinfo:
        save_gray_map(path, rng.random((H, W)), "no-such-map")
    assert str(path) in str(excinfo.value) and "inferno" in str(excinfo.value)
    with pytest.raises(ValueError):
        save_gray_map(path, rng.random((H, W, 3)))
    source, original = _make_source(tmp_path)
    with pytest.raises(ColorStudioError):
        save_gray_map(source, rng.random((H, W)), source_path=source)
    assert source.read_bytes() == original
    assert _folder_listing(tmp_path) == [source.name]
