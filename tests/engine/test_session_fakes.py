"""Test doubles for the session and GUI tests (no tests here). NOT a model: never shipped or registered.

``FakeHistogramColorizerForTests`` follows the pipeline's Colorizer protocol: deterministic per seed,
predicts hue/chroma histograms (so hue bias, energy transfer and uncertainty can be exercised) and
honours hints exactly where the mask is set. It can be slowed down to test responsiveness and cancel.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import torch
from PIL import Image

from colorstudio.color import denormalize_ab
from colorstudio.engine.jobs import ColorizerCache
from colorstudio.engine.pipeline import Capabilities, HistogramPrediction, Prediction, check_cancel, fit_working_size
from colorstudio.engine.session import ModelChoice, Session
from colorstudio.families import REGISTRY, load_colorizer
from colorstudio.models.decoding import decode_ab

FAKE_MODEL = "fake-for-tests"
RANKING_MODEL = "fake-ranking-for-tests"
BINS = 32


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=0, keepdims=True))
    return (e / e.sum(axis=0, keepdims=True)).astype(np.float32)


class FakeHistogramColorizerForTests:
    name = FAKE_MODEL
    card = {"name": FAKE_MODEL, "family": "test-double"}
    capabilities = Capabilities(samples=True, histograms=True)

    def __init__(self, long_side: int = 32, delay_s: float = 0.0) -> None:
        self.long_side = long_side
        self.delay_s = delay_s
        self.calls = 0

    def working_size(self, source_size):
        return fit_working_size(source_size, self.long_side)

    def predict(self, lightness, hint_ab, hint_mask, *, samples=1, seed=0, temperature=1.0, sampler="fast", progress=None,
                cancel=None):
        self.calls += 1
        h, w = lightness.shape
        ab_samples, hists = [], None
        for k in range(samples):
            rng = np.random.default_rng(seed + k)
            # Confident where the image is bright, uncertain where dark: gives the uncertainty map structure.
            sharpness = 0.5 + 4.0 * (np.asarray(lightness, np.float32) / 100.0)
            hue_logits = rng.normal(0, 1.0, (BINS, 1, 1)) * sharpness[None] + 0.3 * rng.normal(0, 1, (BINS, h, w))
            chroma_logits = (-np.abs(np.arange(BINS)[:, None, None] - rng.integers(3, 12)) * 0.8
                             + 0.1 * rng.normal(0, 1, (BINS, h, w)))
            hue, chroma = _softmax(hue_logits / temperature), _softmax(chroma_logits)
            ab = decode_ab(hue, chroma).astype(np.float32)
            mask = np.asarray(hint_mask).reshape(h, w) > 0
            ab[mask] = np.moveaxis(denormalize_ab(np.asarray(hint_ab)), 0, -1)[mask]
            ab_samples.append(ab)
            hists = HistogramPrediction(hue=hue, chroma=chroma)
            steps = 10
            for step in range(steps):
                check_cancel(cancel)
                if self.delay_s:
                    time.sleep(self.delay_s / steps)
                if progress is not None:
                    progress((k + (step + 1) / steps) / samples, "fake sampling")
        return Prediction(ab_samples=ab_samples, seeds=[seed + k for k in range(samples)], work_size=(w, h), histograms=hists)


def fake_score(seed: int) -> float:
    """The fake ranking sampler's plausibility of seed's sample: fixed per seed, not in seed order."""
    return -float((seed * 5) % 7)


class FakeRankingSamplerForTests(FakeHistogramColorizerForTests):
    """A sampler that ranks its samples and drafts, like PixColor and PIC on a histogram network
    (``Capabilities.ranked``, ``draft``): no histograms, each sample scored :func:`fake_score`, a plain
    blue draft. ``gate``: when set to an Event, samples wait for it (cancel still works), so a test can
    see the draft before any sample arrives."""

    name = RANKING_MODEL
    card = {"name": RANKING_MODEL, "family": "test-double"}
    capabilities = Capabilities(samples=True, ranked=True, draft=True)
    DRAFT_AB = (5.0, -30.0)

    def __init__(self, long_side: int = 32, delay_s: float = 0.0) -> None:
        super().__init__(long_side, delay_s)
        self.gate: threading.Event | None = None
        self.drafts = 0

    def predict(self, lightness, hint_ab, hint_mask, *, samples=1, seed=0, temperature=1.0, sampler="fast",
                progress=None, cancel=None):
        while self.gate is not None and not self.gate.wait(0.02):
            check_cancel(cancel)
        pred = super().predict(lightness, hint_ab, hint_mask, samples=samples, seed=seed, temperature=temperature,
                               sampler=sampler, progress=progress, cancel=cancel)
        return dataclasses.replace(pred, histograms=None, scores=[fake_score(seed + k) for k in range(samples)])

    def draft(self, lightness, hint_ab, hint_mask):
        self.drafts += 1
        h, w = lightness.shape
        return Prediction(ab_samples=[np.full((h, w, 2), self.DRAFT_AB, np.float32)], seeds=[0], work_size=(w, h))


def fake_ranking_session(delay_s: float = 0.0) -> Session:
    """A session over :class:`FakeRankingSamplerForTests` (``session.fake``)."""
    fake = FakeRankingSamplerForTests(delay_s=delay_s)
    cache = ColorizerCache(loader=lambda name, device: fake if name == fake.name else load_colorizer(name, device))
    choice = ModelChoice(fake.name, "ranking test double", True, samples=True)
    session = Session(device=torch.device("cpu"), catalog=REGISTRY, colorizers=cache, model=fake.name,
                      extra_models=[choice])
    session.fake = fake
    return session


def fake_session(delay_s: float = 0.0, samples: bool = True) -> Session:
    """A session over the fake colorizer; ``samples=False`` makes it a single-sample model (like histogram)."""
    fake = FakeHistogramColorizerForTests(delay_s=delay_s)
    fake.capabilities = Capabilities(samples=samples, histograms=True)
    cache = ColorizerCache(loader=lambda name, device: fake if name == FAKE_MODEL else load_colorizer(name, device))
    choice = ModelChoice(FAKE_MODEL, "test double", True, samples=samples, histograms=True)
    session = Session(device=torch.device("cpu"), catalog=REGISTRY, colorizers=cache, model=FAKE_MODEL,
                      extra_models=[choice])
    session.fake = fake
    return session


def write_gray_image(path, size=(64, 48), seed=0):
    """A small 8-bit gray PNG with structure (gradient + disc), like a scanned photo."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    values = 40 + 150 * xx / max(w - 1, 1) + 50 * (((xx - w * 0.6) ** 2 + (yy - h * 0.5) ** 2) < (h / 4) ** 2)
    values = values + np.random.default_rng(seed).normal(0, 3, values.shape)
    Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), mode="L").save(path)
    return path


def write_color_image(path, size=(40, 30)):
    w, h = size
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[..., 1] = np.linspace(40, 120, w)[None, :].astype(np.uint8)
    rgb[..., 2] = 60
    Image.fromarray(rgb, mode="RGB").save(path)
    return path
