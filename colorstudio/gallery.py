"""A picture of what the models do: photos from scikit-image in gray, colorized automatically and with
sweep hints (the evaluation protocol's, drawn from the photo's own colours), beside the original.

    python -m colorstudio.gallery --models histogram,gan --output resources/screenshots/gallery.png

Only ``skimage.data`` photos are used, so the picture can be published with the code. Without ``--models``
it shows every installed model that gives one colorization per image.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from colorstudio.color import normalize_ab, rgb_to_lab, to_uint
from colorstudio.engine.pipeline import predict_full_resolution
from colorstudio.evaluation.protocol import gray_baseline
from colorstudio.families import REGISTRY, load_colorizer
from colorstudio.io import save_image
from colorstudio.io.sources import resize_short_side_and_crop
from colorstudio.models.hint_sim import sweep_hints

__all__ = ["PHOTOS", "render_gallery", "main"]

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
TILE = 256
LABEL_H = 22


def _square(rgb: np.ndarray, side: int) -> np.ndarray:
    """Short side to ``side``, centre crop: the evaluation protocol's framing."""
    return np.asarray(resize_short_side_and_crop(Image.fromarray(rgb), side).convert("RGB"))


def _photo(name: str) -> np.ndarray:
    import skimage.data

    return _square(np.asarray(getattr(skimage.data, name)())[..., :3], TILE)


def _hint_outline(tile: Image.Image, mask: np.ndarray) -> None:
    from scipy import ndimage

    draw = ImageDraw.Draw(tile)
    labels, _ = ndimage.label(mask > 0)
    for ys, xs in ndimage.find_objects(labels):
        draw.rectangle([xs.start - 1, ys.start - 1, xs.stop, ys.stop], outline=(255, 255, 255))


def render_gallery(models: list[str], hints: int, device: str = "cpu") -> Image.Image:
    """Rows: photos; columns: gray, then per model automatic and with ``hints`` hints, then the original."""
    colorizers = [load_colorizer(name, torch.device(device)) for name in models]
    columns = ["gray"] + [f"{m} {kind}" for m in models for kind in ("automatic", f"{hints} hints")] + ["original"]
    sheet = Image.new("RGB", (TILE * len(columns), (TILE + LABEL_H) * len(PHOTOS)), (32, 32, 36))
    draw = ImageDraw.Draw(sheet)
    for row, name in enumerate(PHOTOS):
        gt = _photo(name)
        lab = rgb_to_lab(gt.astype(np.float32) / 255.0)
        L = lab[..., 0]
        hint_ab, mask = sweep_hints(np.moveaxis(normalize_ab(lab[..., 1:]), -1, 0), hints, seed=row)
        no_ab, no_mask = np.zeros_like(hint_ab), np.zeros_like(mask)
        tiles = [gray_baseline(gt)]
        for colorizer in colorizers:
            for ab, m in ((no_ab, no_mask), (hint_ab, mask)):
                tiles.append(to_uint(predict_full_resolution(L, ab, m, colorizer)[0], 8))
        tiles.append(gt)
        top = row * (TILE + LABEL_H)
        for col, (tile, label) in enumerate(zip(tiles, columns)):
            image = Image.fromarray(tile)
            if "hints" in label:
                _hint_outline(image, mask[0])
            sheet.paste(image, (col * TILE, top + LABEL_H))
            draw.text((col * TILE + 6, top + 5), label if row == 0 or label != "gray" else name, fill=(230, 230, 230))
    return sheet


def _single_result_models() -> list[str]:
    return [c.name for c in REGISTRY.model_choices() if c.available and not c.samples and not c.builtin]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m colorstudio.gallery", description=__doc__.split("\n")[0])
    p.add_argument("--models", default=None,
                   help="comma-separated installed models (default: those that give one colorization per image)")
    p.add_argument("--hints", type=int, default=10, help="sweep hints per photo for the hinted columns")
    p.add_argument("--output", type=Path, required=True, help="PNG to write")
    args = p.parse_args(argv)
    if args.output.suffix.lower() != ".png":
        p.error(f"--output {args.output}: must be a .png file")
    models = args.models.split(",") if args.models else _single_result_models()
    sheet = render_gallery([m for m in models if m], args.hints)
    save_image(args.output, np.asarray(sheet, dtype=np.float32) / 255.0)
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
