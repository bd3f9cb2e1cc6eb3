import numpy as np

from colorstudio.models.propagation import propagate_hints


def _two_regions(h: int = 40, w: int = 60) -> np.ndarray:
    lightness = np.full((h, w), 30.0)
    lightness[:, w // 2 :] = 75.0
    return lightness


def test_no_hints_gives_zero_chroma():
    out = propagate_hints(_two_regions(), np.zeros((2, 40, 60)), np.zeros((1, 40, 60)))
    assert out.shape == (40, 60, 2)
    assert np.all(out == 0)


def test_hinted_pixels_keep_their_colour():
    ab = np.zeros((2, 40, 60))
    mask = np.zeros((1, 40, 60))
    ab[:, 5, 5] = (40.0, 20.0)
    mask[0, 5, 5] = 1
    out = propagate_hints(_two_regions(), ab, mask)
    np.testing.assert_allclose(out[5, 5], (40.0, 20.0), atol=1e-4)


def test_colour_stays_inside_its_luminance_region():
    ab = np.zeros((2, 40, 60))
    mask = np.zeros((1, 40, 60))
    for y in (5, 20, 35):
        ab[:, y, 5] = (40.0, 20.0)
        mask[0, y, 5] = 1
        ab[:, y, 55] = (-30.0, -40.0)
        mask[0, y, 55] = 1
    out = propagate_hints(_two_regions(), ab, mask)
    left, right = out[:, :30].reshape(-1, 2).mean(0), out[:, 30:].reshape(-1, 2).mean(0)
    # each half takes the colour of its own hints, not a blend across the edge
    assert np.linalg.norm(left - (40.0, 20.0)) < 8
    assert np.linalg.norm(right - (-30.0, -40.0)) < 8
