import dataclasses
import json

import numpy as np
import pytest
import skimage.color

from colorstudio.color import AB_SCALE
from colorstudio.engine.hints import Hint, load_hints, parse_hints, rasterize_hints, save_hints
from colorstudio.errors import ColorStudioError


def test_hint_canonical_color_and_ab_match_skimage():
    hint = Hint(x=1, y=2.5, radius=3, color="#1F3A93")
    assert hint.color == "#1f3a93" and hint.x == 1.0 and isinstance(hint.x, float)
    assert Hint(0, 0, 1, "#AbC").color == "#aabbcc"
    expected = skimage.color.rgb2lab(np.array([0x1F, 0x3A, 0x93]) / 255.0)
    np.testing.assert_allclose(hint.ab(), expected[1:], atol=1e-6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        hint.x = 3.0


@pytest.mark.parametrize(
    "kwargs, problem",
    [(dict(radius=0), "radius"), (dict(color="navy"), "color"), (dict(x=float("nan")), "finite"), (dict(y="1"), "number")],
)
def test_hint_constructor_rejects_bad_values(kwargs, problem):
    with pytest.raises(ColorStudioError, match=problem):
        Hint(**{**dict(x=1.0, y=1.0, radius=1.0, color="#123456"), **kwargs})


def test_save_load_round_trip(tmp_path):
    hints = [Hint(412.5, 230.0, 3, "#1f3a93"), Hint(0, 0, 0.5, "#FFF")]
    path = save_hints(tmp_path / "a.hints.json", hints)
    assert load_hints(path, image_size=(500, 300)) == hints
    data = json.loads(path.read_text())
    assert data == {"version": 1, "hints": [
        {"x": 412.5, "y": 230.0, "radius": 3.0, "color": "#1f3a93"},
        {"x": 0.0, "y": 0.0, "radius": 0.5, "color": "#ffffff"},
    ]}
    assert [p.name for p in tmp_path.iterdir()] == ["a.hints.json"]  # no temporary file left behind
    save_hints(path, [])  # overwrite in place
    assert load_hints(path) == []


def _doc(**hint) -> str:
    base = {"x": 10, "y": 20, "radius": 2, "color": "#abcdef"}
    base.update(hint)
    return json.dumps({"version": 1, "hints": [{k: v for k, v in base.items() if v is not ...}]})


@pytest.mark.parametrize(
    "text, problem",
    [
        ('{"version": 1, "hints": [\n  {"x": 1,,}]}',
         "not valid JSON: Expecting property name enclosed in double quotes at line 2, column 11"),
        ("", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"hints": []}', "missing 'version'"),
        ('{"version": 2, "hints": []}', "unsupported hints version 2"),
        ('{"version": "1", "hints": []}', 'unsupported hints version "1"'),
        ('{"version": 1}', "missing 'hints'"),
        ('{"version": 1, "hints": {}}', "'hints' must be a list"),
        ('{"version": 1, "hints": [5]}', "hint 0: must be an object"),
        (_doc(radius=...), "hint 0: missing field 'radius'"),
        (_doc(x=..., color=...), "hint 0: missing fields 'x', 'color'"),
        (_doc(x="12"), "hint 0: 'x' must be a number"),
        (_doc(y=True), "hint 0: 'y' must be a number"),
        (_doc(y=None), "hint 0: 'y' must be a number"),
        ('{"version": 1, "hints": [{"x": NaN, "y": 1, "radius": 1, "color": "#fff"}]}', "'x' must be finite"),
        (_doc(radius=0), "'radius' must be > 0"),
        (_doc(radius=-2.5), "'radius' must be > 0"),
        (_doc(color="#12345"), "'color' must be '#rrggbb' or '#rgb'"),
        (_doc(color="red"), "'color'"),
        (_doc(color="#ggg"), "'color'"),
        (_doc(color=123), "'color'"),
        (_doc(x=100.5), "position (100.5, 20) is outside the 100x50 image"),
        (_doc(y=-1), "outside the 100x50 image"),
        ("[" * 100_000, "not valid JSON: nested too deeply"),
        ('{"version": 1, "hints": [' * 50_000, "not valid JSON: nested too deeply"),
        ('{"version": 1, "hints": [{"x": ' + "9" * 5000 + "}]}", "not valid JSON: Exceeds the limit"),
        (_doc(color="#" + "a" * 10_000), '\'color\' must be \'#rrggbb\' or \'#rgb\', got "#aaaa'),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, text, problem):
    path = tmp_path / "bad.hints.json"
    path.write_text(text)
    with pytest.raises(ColorStudioError) as info:
        load_hints(path, image_size=(100, 50))
    assert str(path) in str(info.value)
    assert problem in str(info.value)
    assert info.value.path == path
    assert len(str(info.value)) < 300 and "\n" not in str(info.value)  # one readable line, whatever the value


def test_second_hint_is_named(tmp_path):
    good = {"x": 1, "y": 1, "radius": 1, "color": "#000"}
    with pytest.raises(ColorStudioError, match=r"hint 1: 'radius' must be > 0"):
        parse_hints({"version": 1, "hints": [good, {**good, "radius": 0}]}, source="session.colorstudio.json")


def test_missing_and_undecodable_files(tmp_path):
    with pytest.raises(ColorStudioError, match="not found"):
        load_hints(tmp_path / "nope.json")
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ColorStudioError, match="UTF-8"):
        load_hints(binary)


def test_edges_of_the_image_are_inside():
    hints = parse_hints({"version": 1, "hints": [{"x": 0, "y": 50, "radius": 1, "color": "#000"},
                                                 {"x": 100, "y": 0, "radius": 1, "color": "#000"}]},
                        image_size=(100, 50))
    assert len(hints) == 2
    assert parse_hints({"version": 1, "hints": [], "comment": "unknown keys are ignored"}) == []


def test_rasterize_small_hint_lands_on_its_cell():
    hint = Hint(x=21.0, y=11.0, radius=0.1, color="#c03020")
    ab, mask = rasterize_hints([hint], source_size=(100, 80), work_size=(50, 40))
    assert ab.shape == (2, 40, 50) and mask.shape == (1, 40, 50)
    assert ab.dtype == np.float32 and mask.dtype == np.float32
    assert set(np.unique(mask)) == {0.0, 1.0}
    assert np.argwhere(mask[0]).tolist() == [[5, 10]]  # source (21, 11) -> work (10.5, 5.5)
    np.testing.assert_allclose(ab[:, 5, 10], np.array(hint.ab()) / AB_SCALE, rtol=1e-6)
    assert np.count_nonzero(ab) == 2


def test_rasterize_disc_scales_with_the_grid():
    hint = Hint(x=40.0, y=40.0, radius=8.0, color="#00ff00")
    _, mask_full = rasterize_hints([hint], source_size=(80, 80), work_size=(80, 80))
    _, mask_half = rasterize_hints([hint], source_size=(80, 80), work_size=(40, 40))
    yy, xx = np.mgrid[0:80, 0:80] + 0.5
    np.testing.assert_array_equal(mask_full[0], ((xx - 40) ** 2 + (yy - 40) ** 2 <= 64).astype(np.float32))
    yy, xx = np.mgrid[0:40, 0:40] + 0.5
    np.testing.assert_array_equal(mask_half[0], ((xx - 20) ** 2 + (yy - 20) ** 2 <= 16).astype(np.float32))
    # Unequal axis scales give an ellipse: 8 px of a 160-wide source is 4 cells across, 2 cells down.
    _, mask_ellipse = rasterize_hints([hint], source_size=(160, 80), work_size=(80, 20))
    rows, cols = np.nonzero(mask_ellipse[0])
    assert cols.max() - cols.min() + 1 == 8 and rows.max() - rows.min() + 1 == 4


def test_rasterize_later_hints_override_and_outside_hints_are_ignored():
    first = Hint(10.0, 10.0, 4.0, "#ff0000")
    second = Hint(13.0, 10.0, 4.0, "#0000ff")
    ab, mask = rasterize_hints([first, second, Hint(-5.0, 3.0, 2.0, "#00ff00")], (32, 24), (32, 24))
    np.testing.assert_allclose(ab[:, 10, 12], np.array(second.ab()) / AB_SCALE, rtol=1e-6)
    np.testing.assert_allclose(ab[:, 10, 7], np.array(first.ab()) / AB_SCALE, rtol=1e-6)
    assert mask[0, :, :4].sum() == 0  # the green hint off the left edge paints nothing
    assert rasterize_hints([], (32, 24), (8, 6))[1].sum() == 0


def test_rasterize_hint_on_the_far_edge_uses_the_last_cell():
    ab, mask = rasterize_hints([Hint(64.0, 48.0, 0.01, "#ffff00")], (64, 48), (16, 12))
    assert np.argwhere(mask[0]).tolist() == [[11, 15]]
