"""colorstudio.io.read: every supported source kind loads with the right values, and bad files fail clearly."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps
from skimage.color import rgb2lab

from colorstudio.errors import ColorStudioError
from colorstudio.io import DEFAULT_MAX_PIXELS, SourceImage, load_image, luminance
from colorstudio.io.read import _apply_orientation

H, W = 12, 17  # odd, non-square: catches transposed axes


def _rgb8(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


def _rgb16(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 65536, (H, W, 3), dtype=np.uint16)


def _assert_error_names(excinfo: pytest.ExceptionInfo, path, *words: str) -> None:
    message = str(excinfo.value)
    assert str(path) in message
    for word in words:
        assert word in message.lower()


# --- values per format -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "options"),
    [(".png", {}), (".tif", {}), (".bmp", {}), (".webp", {"lossless": True}), (".ppm", {})],
)
def test_lossless_8bit_rgb_formats_load_exactly(tmp_path, rng, suffix, options):
    pixels = _rgb8(rng)
    path = tmp_path / f"rgb{suffix}"
    Image.fromarray(pixels).save(path, **options)

    src = load_image(path)

    assert isinstance(src, SourceImage)
    assert src.rgb.dtype == np.float32 and src.rgb.shape == (H, W, 3)
    np.testing.assert_array_equal(src.rgb, pixels.astype(np.float32) / np.float32(255))
    assert src.size == (W, H)
    assert src.bit_depth == 8
    assert not src.is_gray
    assert src.path == path.resolve()
    assert src.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_source_pixels_are_read_only(tmp_path, rng):
    path = tmp_path / "rgb.png"
    Image.fromarray(_rgb8(rng)).save(path)
    src = load_image(path)
    with pytest.raises(ValueError):
        src.rgb[0, 0, 0] = 0.5


def test_jpeg_loads_close_to_pillow(tmp_path, rng):
    path = tmp_path / "photo.jpg"
    Image.fromarray(_rgb8(rng)).save(path, quality=90)
    src = load_image(path)
    expected = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    np.testing.assert_array_equal(src.rgb, expected)
    assert src.bit_depth == 8


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_gray_8bit_is_repeated_to_three_channels(tmp_path, rng, suffix):
    gray = rng.integers(0, 256, (H, W), dtype=np.uint8)
    path = tmp_path / f"gray{suffix}"
    Image.fromarray(gray).save(path)
    src = load_image(path)
    assert src.is_gray and src.bit_depth == 8 and src.rgb.shape == (H, W, 3)
    np.testing.assert_array_equal(src.rgb[..., 0], src.rgb[..., 2])
    if suffix != ".jpg":
        np.testing.assert_array_equal(src.rgb[..., 1], gray / np.float32(255))


def test_rgb_file_with_equal_channels_is_gray(tmp_path, rng):
    gray = rng.integers(0, 256, (H, W, 1), dtype=np.uint8)
    path = tmp_path / "gray_as_rgb.png"
    Image.fromarray(np.repeat(gray, 3, axis=2)).save(path)
    assert load_image(path).is_gray


def test_one_bit_image(tmp_path):
    bits = np.zeros((H, W), dtype=bool)
    bits[:, :5] = True
    path = tmp_path / "bits.png"
    Image.fromarray(bits).save(path)
    src = load_image(path)
    assert src.is_gray
    np.testing.assert_array_equal(src.rgb[:, :5], 1.0)
    np.testing.assert_array_equal(src.rgb[:, 5:], 0.0)


def test_rgba_is_composited_over_white(tmp_path):
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[..., 0] = 200  # red-ish everywhere
    rgba[0, 0, 3] = 0  # fully transparent -> white
    rgba[0, 1, 3] = 255  # opaque -> its color
    rgba[0, 2, 3] = 51  # 20 % opaque -> 0.2 * color + 0.8 * white
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, mode="RGBA").save(path)

    src = load_image(path)

    np.testing.assert_allclose(src.rgb[0, 0], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(src.rgb[0, 1], [200 / 255, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(src.rgb[0, 2], [0.2 * 200 / 255 + 0.8, 0.8, 0.8], atol=1e-6)
    assert not src.is_gray


def test_la_is_gray_and_composited(tmp_path):
    la = np.zeros((H, W, 2), dtype=np.uint8)
    la[..., 0] = 100
    la[..., 1] = 255
    la[0, 0, 1] = 0
    path = tmp_path / "la.png"
    Image.fromarray(la, mode="LA").save(path)
    src = load_image(path)
    assert src.is_gray and src.rgb.shape == (H, W, 3)
    np.testing.assert_allclose(src.rgb[0, 0], 1.0)
    np.testing.assert_allclose(src.rgb[1, 1], 100 / 255, atol=1e-6)


def test_palette_image_takes_palette_colors(tmp_path, rng):
    palette = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    indices = rng.integers(0, 16, (H, W), dtype=np.uint8)
    image = Image.fromarray(indices, mode="P")
    image.putpalette(palette.ravel().tolist())
    path = tmp_path / "palette.png"
    image.save(path)

    src = load_image(path)

    np.testing.assert_array_equal(src.rgb, palette[indices] / np.float32(255))
    assert src.bit_depth == 8 and not src.is_gray


def test_palette_with_transparency_composites_over_white(tmp_path):
    indices = np.array([[0, 1]], dtype=np.uint8)
    image = Image.fromarray(indices, mode="P")
    image.putpalette([10, 20, 30, 0, 0, 0])
    path = tmp_path / "palette_alpha.png"
    image.save(path, transparency=1)
    src = load_image(path)
    np.testing.assert_allclose(src.rgb[0, 0], np.array([10, 20, 30]) / 255, atol=1e-6)
    np.testing.assert_allclose(src.rgb[0, 1], [1.0, 1.0, 1.0])


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_cmyk_without_profile_uses_naive_conversion(tmp_path, rng, suffix):
    cmyk = Image.fromarray(rng.integers(0, 256, (H, W, 4), dtype=np.uint8), mode="CMYK")
    path = tmp_path / f"cmyk{suffix}"
    cmyk.save(path)
    src = load_image(path)
    expected = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    np.testing.assert_array_equal(src.rgb, expected)
    assert src.icc_profile is None and src.rgb.shape == (H, W, 3)


def test_cmyk_with_profile_converts_through_it(tmp_path, rng, srgb_icc, monkeypatch):
    """No CMYK profile ships with the test environment, so the color transform is observed, not run."""
    path = tmp_path / "cmyk_icc.tif"
    Image.fromarray(rng.integers(0, 256, (H, W, 4), dtype=np.uint8), mode="CMYK").save(path, icc_profile=srgb_icc)
    calls = []

    def fake_profile_to_profile(image, input_profile, output_profile, outputMode):
        calls.append((image.mode, input_profile.tobytes(), outputMode))
        return Image.new("RGB", image.size, (0, 128, 255))

    monkeypatch.setattr(ImageCms, "profileToProfile", fake_profile_to_profile)
    src = load_image(path)
    assert calls == [("CMYK", srgb_icc, "RGB")]
    np.testing.assert_allclose(src.rgb[3, 4], np.array([0, 128, 255]) / 255, atol=1e-6)
    assert src.icc_profile is None  # the pixels are sRGB now


def test_cmyk_with_unusable_profile_falls_back_to_naive(tmp_path, rng, srgb_icc):
    path = tmp_path / "cmyk_rgb_profile.jpg"  # an RGB profile cannot drive a CMYK transform
    Image.fromarray(rng.integers(0, 256, (H, W, 4), dtype=np.uint8), mode="CMYK").save(path, icc_profile=srgb_icc)
    src = load_image(path)
    expected = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    np.testing.assert_array_equal(src.rgb, expected)


# --- 16 bits ---------------------------------------------------------------------------------------


def test_gray_16bit_png(tmp_path, rng):
    gray = rng.integers(0, 65536, (H, W), dtype=np.uint16)
    path = tmp_path / "gray16.png"
    Image.fromarray(gray).save(path)  # Pillow mode I;16
    src = load_image(path)
    assert src.bit_depth == 16 and src.is_gray
    np.testing.assert_array_equal(src.rgb[..., 1], gray / np.float32(65535))


def test_rgb_16bit_png_keeps_16_bits_and_channel_order(tmp_path, rng, srgb_icc):
    rgb = _rgb16(rng)
    rgb[0, 0] = (65535, 0, 0)
    path = tmp_path / "rgb16.png"
    cv2.imwrite(str(path), rgb[..., ::-1])
    src = load_image(path)
    assert src.bit_depth == 16 and not src.is_gray
    np.testing.assert_array_equal(src.rgb, rgb / np.float32(65535))
    np.testing.assert_array_equal(src.rgb[0, 0], [1.0, 0.0, 0.0])


def test_rgba_16bit_png_is_composited(tmp_path, rng):
    rgba = np.zeros((2, 2, 4), dtype=np.uint16)
    rgba[..., 2] = 65535  # blue
    rgba[..., 3] = 65535
    rgba[0, 0, 3] = 0
    path = tmp_path / "rgba16.png"
    cv2.imwrite(str(path), rgba[..., [2, 1, 0, 3]])
    src = load_image(path)
    assert src.bit_depth == 16
    np.testing.assert_array_equal(src.rgb[0, 0], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(src.rgb[1, 1], [0.0, 0.0, 1.0])


@pytest.mark.parametrize("planarconfig", ["contig", "separate"])
def test_rgb_16bit_tiff(tmp_path, rng, srgb_icc, planarconfig):
    rgb = _rgb16(rng)
    data = rgb if planarconfig == "contig" else np.moveaxis(rgb, -1, 0)
    path = tmp_path / "rgb16.tif"
    tifffile.imwrite(path, data, photometric="rgb", planarconfig=planarconfig, iccprofile=srgb_icc, metadata=None)
    src = load_image(path)
    assert src.bit_depth == 16 and not src.is_gray
    np.testing.assert_array_equal(src.rgb, rgb / np.float32(65535))
    assert src.icc_profile == srgb_icc


def test_rgba_16bit_tiff_unassociated_alpha(tmp_path):
    rgba = np.full((2, 2, 4), 65535, dtype=np.uint16)
    rgba[..., :3] = 0
    rgba[0, 0, 3] = 0
    path = tmp_path / "rgba16.tif"
    tifffile.imwrite(path, rgba, photometric="rgb", extrasamples=["unassalpha"], metadata=None)
    src = load_image(path)
    np.testing.assert_array_equal(src.rgb[0, 0], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(src.rgb[1, 1], [0.0, 0.0, 0.0])


def test_gray_16bit_and_float_tiff(tmp_path, rng):
    gray16 = rng.integers(0, 65536, (H, W), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "gray16.tif", gray16, photometric="minisblack")
    src = load_image(tmp_path / "gray16.tif")
    assert src.is_gray and src.bit_depth == 16
    np.testing.assert_array_equal(src.rgb[..., 0], gray16 / np.float32(65535))

    values = rng.random((H, W, 3), dtype=np.float32) * 1.2 - 0.1  # out-of-range values are clipped
    tifffile.imwrite(tmp_path / "float.tif", values, photometric="rgb")
    src = load_image(tmp_path / "float.tif")
    assert src.bit_depth == 16
    np.testing.assert_array_equal(src.rgb, np.clip(values, 0, 1))


def test_16bit_tiff_orientation_tag_is_applied(tmp_path, rng):
    rgb = _rgb16(rng)
    path = tmp_path / "rotated.tif"
    tifffile.imwrite(path, rgb, photometric="rgb", extratags=[(274, "H", 1, 6, True)])
    src = load_image(path)
    assert src.size == (H, W)
    np.testing.assert_array_equal(src.rgb, np.rot90(rgb, k=-1) / np.float32(65535))


# --- orientation and ICC ---------------------------------------------------------------------------


def test_jpeg_exif_orientation_6_is_applied(tmp_path):
    pixels = np.zeros((40, 64, 3), dtype=np.uint8)
    pixels[:, 32:] = 255  # stored: left half black, right half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "portrait.jpg"
    Image.fromarray(pixels).save(path, exif=exif, quality=95)

    src = load_image(path)

    assert src.size == (40, 64)  # width and height swapped
    assert src.rgb[:32].mean() < 0.1 and src.rgb[32:].mean() > 0.9  # left half became the top half


@pytest.mark.parametrize("orientation", range(1, 9))
def test_array_orientation_matches_pillow(rng, orientation):
    pixels = _rgb8(rng)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(image))
    np.testing.assert_array_equal(_apply_orientation(pixels, orientation), expected)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
def test_icc_profile_is_kept(tmp_path, rng, srgb_icc, suffix):
    path = tmp_path / f"profiled{suffix}"
    Image.fromarray(_rgb8(rng)).save(path, icc_profile=srgb_icc)
    assert load_image(path).icc_profile == srgb_icc


def test_no_icc_profile_is_none(tmp_path, rng):
    path = tmp_path / "plain.png"
    Image.fromarray(_rgb8(rng)).save(path)
    assert load_image(path).icc_profile is None


# --- luminance -------------------------------------------------------------------------------------


def test_luminance_matches_skimage(tmp_path, rng):
    path = tmp_path / "rgb.png"
    Image.fromarray(_rgb8(rng)).save(path)
    src = load_image(path)
    L = luminance(src)
    assert L.dtype == np.float32 and L.shape == (H, W)
    np.testing.assert_allclose(L, rgb2lab(src.rgb.astype(np.float64))[..., 0], atol=1e-3)
    assert 0.0 <= L.min() and L.max() <= 100.0


def test_luminance_in_row_chunks(tmp_path, rng, monkeypatch):
    import colorstudio.io.read as read

    monkeypatch.setattr(read, "_LUMINANCE_CHUNK_PIXELS", W * 5)  # 5 rows per chunk, last chunk partial
    path = tmp_path / "rgb.png"
    Image.fromarray(_rgb8(rng)).save(path)
    src = load_image(path)
    np.testing.assert_allclose(luminance(src), rgb2lab(src.rgb.astype(np.float64))[..., 0], atol=1e-3)


# --- errors ----------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(ColorStudioError) as excinfo:
        load_image(path)
    _assert_error_names(excinfo, path, "not found")


def test_directory(tmp_path):
    with pytest.raises(ColorStudioError) as excinfo:
        load_image(tmp_path)
    _assert_error_names(excinfo, tmp_path, "folder")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ColorStudioError) as excinfo:
        load_image(path)
    _assert_error_names(excinfo, path, "empty")


@pytest.mark.parametrize("content", [b"hello, this is a text file\n" * 20, bytes(range(256)) * 8])
def test_not_an_image(tmp_path, content):
    path = tmp_path / "data.png"
    path.write_bytes(content)
    with pytest.raises(ColorStudioError) as excinfo:
        load_image(path)
    _assert_error_names(excinfo, path, "not an image")


def _write_truncated(path, rng, writer) -> None:
    writer(path, rng)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


_WRITERS = {
    "png8": lambda p, rng: Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(p, format="PNG"),
    "jpeg": lambda p, rng: Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(p, format="JPEG"),
    "png16_rgb": lambda p, rng: p.write_bytes(
        cv2.imencode(".png", rng.integers(0, 65536, (64, 64, 3), dtype=np.uint16))[1].tobytes()
    ),
    "tiff16_zlib": lambda p, rng: tifffile.imwrite(
        p, rng.integers(0, 65536, (64, 64, 3), dtype=np.uint16), photometric="rgb", compression="zlib"
    ),
    "tiff16_raw": lambda p, rng: tifffile.imwrite(
        p, rng.integers(0, 65536, (64, 64, 3), dtype=np.uint16), photometric="rgb"
    ),
    "tiff8": lambda p, rng: Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(p, format="TIFF"),
}


@pytest.mark.parametrize("kind", sorted(_WRITERS))
def test_truncated_file(tmp_path, rng, kind):
    path = tmp_path / f"cut_{kind}.img"
    _write_truncated(path, rng, _WRITERS[kind])
    with pytest.raises(ColorStudioError) as excinfo:
        load_image(path)
    _assert_error_names(excinfo, path, "truncated")


def test_header_only(tmp_path):
    path = tmp_path / "header.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    with pytest.raises(ColorStudioError) as excinfo:
        load_image(path)
    assert str(path) in str(excinfo.value)


def test_pixel_limit_is_checked_before_decoding(tmp_path, rng, monkeypatch):
    path = tmp_path / "big.png"
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(path)
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded an image over the limit"))
    with pytest.raises(ColorStudioError) as excinfo:
        load_image(path, max_pixels=599)
    _assert_error_names(excinfo, path, "too large", "600")


def test_pixel_limit_allows_exact_size(tmp_path, rng):
    path = tmp_path / "ok.png"
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(path)
    assert load_image(path, max_pixels=600).size == (30, 20)
    assert DEFAULT_MAX_PIXELS >= 100_000_000


def test_pixel_limit_for_tifffile_path(tmp_path, rng):
    path = tmp_path / "big16.tif"
    tifffile.imwrite(path, rng.integers(0, 65536, (20, 30, 3), dtype=np.uint16), photometric="rgb")
    with pytest.raises(ColorStudioError) as excinfo:
        load_image(path, max_pixels=100)
    _assert_error_names(excinfo, path, "too large")


def test_pillow_decompression_bomb_error_is_reported(tmp_path, rng, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow errors above 2x its limit
    with pytest.raises(ColorStudioError) as excinfo:
        load_image(path, max_pixels=50)
    _assert_error_names(excinfo, path, "too large")
    assert Image.MAX_IMAGE_PIXELS == 100  # restored


def test_larger_max_pixels_overrides_pillow_limit(tmp_path, rng, monkeypatch):
    path = tmp_path / "wide.png"
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert load_image(path, max_pixels=1000).size == (30, 20)
    assert Image.MAX_IMAGE_PIXELS == 100


def test_unsupported_pillow_mode(tmp_path, rng):
    path = tmp_path / "lab.tif"
    Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8), mode="RGB").convert("LAB").save(path)
    with pytest.raises(ColorStudioError) as excinfo:
        load_image(path)
    _assert_error_names(excinfo, path, "unsupported", "lab")


def test_unsupported_multichannel_tiff(tmp_path, rng):
    path = tmp_path / "five.tif"
    samples = rng.integers(0, 65536, (H, W, 5), dtype=np.uint16)
    tifffile.imwrite(path, samples, photometric="minisblack", planarconfig="contig")
    with pytest.raises(ColorStudioError) as excinfo:
        load_image(path)
    _assert_error_names(excinfo, path, "unsupported")


def test_unsupported_sample_format(tmp_path, rng):
    path = tmp_path / "signed.tif"
    tifffile.imwrite(path, rng.integers(-1000, 1000, (H, W), dtype=np.int32), photometric="minisblack")
    with pytest.raises(ColorStudioError) as excinfo:
        load_image(path)
    _assert_error_names(excinfo, path, "unsupported")


def test_bad_max_pixels(tmp_path):
    with pytest.raises(ValueError):
        load_image(tmp_path / "x.png", max_pixels=0)
