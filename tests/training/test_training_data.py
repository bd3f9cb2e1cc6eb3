"""ColorDataset / the evaluation loader over folders, tar and tar.gz; cache reuse; determinism; crops."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import rgb2lab

from colorstudio.errors import ColorStudioError, ColorStudioWarning
from colorstudio.evaluation.protocol import load_eval_set
from colorstudio.training import data as data_mod
from colorstudio.training.data import ColorDataset, ImageSource, colorfulness_of

N_COLOR = 18  # colorful images in the fixture; plus one gray one that must be dropped


def _colorful(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = rng.uniform(0, 1, size=(3, 2))
    img = np.stack([base[c, 0] * yy + base[c, 1] * xx for c in range(3)], axis=-1)
    img = img + rng.uniform(0, 0.2, size=3) + rng.normal(0, 0.03, size=(h, w, 3))
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def image_sources(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("imgs")
    folder = root / "photos"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(N_COLOR):
        img = Image.fromarray(_colorful(rng, 20 + i % 5, 24))  # not square: short side resize + centre crop
        sub = folder / ("sub" if i % 3 == 0 else "")
        if i % 2:
            img.save(sub / f"img{i:02d}.png")
        else:
            img.save(sub / f"img{i:02d}.jpg", quality=95)
    gray = np.repeat(np.linspace(0, 255, 24 * 24).reshape(24, 24, 1), 3, axis=-1).astype(np.uint8)
    Image.fromarray(gray).save(folder / "gray.png")
    (folder / "notes.txt").write_text("not an image")
    tar_path, tgz_path = root / "photos.tar", root / "photos.tar.gz"
    for path, mode in ((tar_path, "w"), (tgz_path, "w:gz")):
        with tarfile.open(path, mode) as tf:
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    tf.add(p, arcname=p.relative_to(folder).as_posix())
    return {"folder": folder, "tar": tar_path, "tgz": tgz_path}


@pytest.mark.parametrize("kind", ["folder", "tar", "tgz"])
def test_dataset_items_and_gray_dropped(image_sources, kind, tmp_path):
    ds = ColorDataset([image_sources[kind]], 16, cache_dir=tmp_path, store_size=20)
    assert len(ds) == N_COLOR and ds.dropped == 1
    assert not any(ds.name(i).endswith("gray.png") for i in range(len(ds)))
    item = ds[3]
    assert item["L"].shape == (1, 16, 16) and item["ab"].shape == (2, 16, 16) and item["rgb"].shape == (3, 16, 16)
    assert all(item[k].dtype == torch.float32 for k in ("L", "ab", "rgb"))
    assert -1.0 <= item["L"].min() and item["L"].max() <= 1.0
    assert 0.0 <= item["rgb"].min() and item["rgb"].max() <= 1.0
    # L and ab are the normalized Lab of the rgb crop (same convention as skimage).
    lab = rgb2lab(item["rgb"].permute(1, 2, 0).numpy().astype(np.float64))
    np.testing.assert_allclose(item["L"][0].numpy(), (lab[..., 0] - 50) / 50, atol=2e-3)
    np.testing.assert_allclose(item["ab"].permute(1, 2, 0).numpy(), lab[..., 1:] / 110, atol=2e-3)


def test_folder_tar_and_tgz_decode_alike(image_sources, tmp_path):
    datasets = [ColorDataset([image_sources[k]], 20, cache_dir=tmp_path, train=False, store_size=20)
                for k in ("folder", "tar", "tgz")]
    arrays = [np.stack([ds.image_uint8(i) for i in range(len(ds))]) for ds in datasets]
    np.testing.assert_array_equal(arrays[0], arrays[1])
    np.testing.assert_array_equal(arrays[0], arrays[2])
    assert arrays[0].shape == (N_COLOR, 20, 20, 3) and arrays[0].dtype == np.uint8


def test_deterministic_under_seed_and_epoch(image_sources, tmp_path):
    a = ColorDataset([image_sources["tar"]], 12, cache_dir=tmp_path, seed=5, store_size=20)
    b = ColorDataset([image_sources["tar"]], 12, cache_dir=tmp_path, seed=5, store_size=20)
    for i in range(4):
        torch.testing.assert_close(a[i]["rgb"], b[i]["rgb"], rtol=0, atol=0)
    before = torch.stack([a[i]["rgb"] for i in range(len(a))])
    a.set_epoch(1)
    after = torch.stack([a[i]["rgb"] for i in range(len(a))])
    assert not torch.equal(before, after)  # a new epoch draws new crops / flips


def test_dataloader_workers_give_same_batches(image_sources, tmp_path):
    ds = ColorDataset([image_sources["tar"]], 12, cache_dir=tmp_path, seed=1, store_size=20)
    batches = []
    for workers in (0, 2):
        loader = torch.utils.data.DataLoader(ds, batch_size=6, num_workers=workers)
        batches.append(torch.cat([b["ab"] for b in loader]))
    torch.testing.assert_close(batches[0], batches[1], rtol=0, atol=0)


def test_cache_is_reused_without_decoding(image_sources, tmp_path, monkeypatch):
    first = ColorDataset([image_sources["tgz"], image_sources["folder"]], 16, cache_dir=tmp_path, store_size=20)
    assert len(list(tmp_path.glob("*.npy"))) == 2

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the cache exists")

    monkeypatch.setattr(data_mod, "decode_square", no_decoding)
    second = ColorDataset([image_sources["tgz"], image_sources["folder"]], 16, cache_dir=tmp_path, store_size=20)
    assert len(second) == len(first) == 2 * N_COLOR
    np.testing.assert_array_equal(second.image_uint8(5), first.image_uint8(5))
    with pytest.raises(AssertionError, match="decoded again"):  # another store size is another cache
        ColorDataset([image_sources["tgz"]], 16, cache_dir=tmp_path, store_size=18)


def test_crop_sizes_and_centre_crop(image_sources, tmp_path):
    for size, scale in ((8, None), (20, None), (10, (0.5, 1.0))):
        ds = ColorDataset([image_sources["folder"]], size, cache_dir=tmp_path, store_size=20, crop_scale=scale)
        assert ds[0]["rgb"].shape == (3, size, size)
    ev = ColorDataset([image_sources["folder"]], 8, cache_dir=tmp_path, store_size=20, train=False)
    stored = ev.image_uint8(2)
    np.testing.assert_allclose(ev[2]["rgb"].permute(1, 2, 0).numpy(), stored[6:14, 6:14] / 255.0, atol=1e-6)
    torch.testing.assert_close(ev[2]["rgb"], ev[2]["rgb"])  # no randomness when not training
    with pytest.raises(ColorStudioError, match="smaller than the crop"):
        ColorDataset([image_sources["folder"]], 32, cache_dir=tmp_path, store_size=20)
    with pytest.raises(ColorStudioError, match="crop_scale"):
        ColorDataset([image_sources["folder"]], 8, cache_dir=tmp_path, crop_scale=(0.0, 1.0))


def test_default_store_size_is_native_and_limit_is_spread(image_sources, tmp_path):
    ds = ColorDataset([image_sources["tar"]], 8, cache_dir=tmp_path)
    assert ds.image_uint8(0).shape == (24, 24, 3)  # short side of the first image in the archive (gray.png)
    few = ColorDataset([image_sources["tar"]], 8, cache_dir=tmp_path, limit=4)
    assert len(few) == 4 and few.name(3) == ds.name(len(ds) - 1)


def test_min_colorfulness_threshold(image_sources, tmp_path):
    everything = ColorDataset([image_sources["folder"]], 8, cache_dir=tmp_path, store_size=20, min_colorfulness=0.0)
    assert len(everything) == N_COLOR + 1
    gray = np.full((4, 4, 3), 77, np.uint8)
    assert colorfulness_of(gray) == 0.0
    assert colorfulness_of(np.array([[[255, 0, 0]]], np.uint8)) == pytest.approx(1.0)


def test_bad_sources_and_unreadable_images(tmp_path):
    with pytest.raises(ColorStudioError, match="not found"):
        ColorDataset([tmp_path / "missing"], 8, cache_dir=tmp_path)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ColorStudioError, match="folder or a .tar"):
        ImageSource(tmp_path / "file.txt")
    folder = tmp_path / "mixed"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        Image.fromarray(_colorful(rng, 12, 12)).save(folder / f"ok{i}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.warns(ColorStudioWarning, match="unreadable"):
        ds = ColorDataset([folder], 8, cache_dir=tmp_path / "c", store_size=12)
    assert len(ds) == 3


def test_training_refuses_validation_folders_but_evaluation_reads_them(tmp_path):
    val = tmp_path / "data" / "val"
    val.mkdir(parents=True)
    rng = np.random.default_rng(2)
    for i in range(2):
        Image.fromarray(_colorful(rng, 12, 12)).save(val / f"v{i}.png")
    with pytest.raises(ColorStudioError, match="validation") as err:
        ColorDataset([val], 8, cache_dir=tmp_path / "c", store_size=12)
    assert str(val) in str(err.value)
    assert len(ColorDataset([val], 8, cache_dir=tmp_path / "c", store_size=12, train=False)) == 2


def test_load_eval_set_protocol(image_sources, tmp_path):
    rng = np.random.default_rng(2)
    big = _colorful(rng, 60, 90)
    folder = tmp_path / "val"
    folder.mkdir()
    Image.fromarray(big).save(folder / "a.png")
    Image.fromarray(big[:, :50]).save(folder / "b.png")
    out = load_eval_set(folder, size=32)
    assert [n for n, _ in out] == ["a.png", "b.png"]
    ref = Image.fromarray(big).resize((48, 32), Image.Resampling.LANCZOS)
    expected = np.asarray(ref)[:, 8:40]
    for _, img in out:
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    assert np.abs(out[0][1].astype(int) - expected.astype(int)).max() <= 1
    assert len(load_eval_set(image_sources["tgz"], size=16, limit=5)) == 5
