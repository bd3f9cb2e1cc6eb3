"""Fixtures for the colorstudio.io tests: small images built in tmp_path, a real ICC profile."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageCms


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def srgb_icc() -> bytes:
    """A genuine RGB ICC profile (littleCMS's built-in sRGB)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture(scope="session")
def gray_icc(srgb_icc: bytes) -> bytes:
    """Bytes that look like a gray ICC profile (data color space 'GRAY' in the header)."""
    return srgb_icc[:16] + b"GRAY" + srgb_icc[20:]

