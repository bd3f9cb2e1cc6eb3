"""Model registry: cards, save/load round trip, SHA-256 checks, pickles refused, checkpoint export."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from colorstudio.engine.pipeline import NetworkColorizer
from colorstudio.errors import ColorStudioError, ColorStudioWarning
from colorstudio.families import Family, families, load_model, register, unregister
from colorstudio.models import registry
from colorstudio.models.registry import (
    ModelCard,
    default_models_dir,
    list_models,
    save_model,
    sha256_file,
)
from colorstudio.training.checkpoint import export_checkpoint_to_model, save_checkpoint


class _TinyNet(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3)
        self.head = nn.Conv2d(width, 2, 1)


@dataclass(frozen=True)
class _TinyConfig:
    width: int

    @classmethod
    def from_dict(cls, data: dict) -> _TinyConfig:
        return cls(**data)


def _tiny_family(name: str = "tiny-test") -> Family:
    return Family(name=name, description="a test double", colorizer=NetworkColorizer, config=_TinyConfig,
                  network=lambda config: _TinyNet(config.width))


@pytest.fixture(autouse=True)
def _tiny_family_registered():
    register(_tiny_family())
    yield
    unregister("tiny-test")


def _card(name: str = "tiny", **kw) -> ModelCard:
    return ModelCard(name=name, family="tiny-test", config={"width": 4}, working_resolution=64, steps=10, **kw)


def _saved(tmp_path: Path, name: str = "tiny") -> tuple[nn.Module, ModelCard]:
    torch.manual_seed(0)
    model = _TinyNet(4)
    return model, save_model(model, _card(name, license_note="research only"), tmp_path / name)


def test_card_json_round_trip_keeps_unknown_keys():
    card = ModelCard.from_json(json.dumps({"name": "a", "family": "f", "steps": 3, "future_field": [1, 2]}))
    assert card.steps == 3 and card.extra == {"future_field": [1, 2]}
    again = ModelCard.from_json(card.to_json())
    assert again == card and json.loads(card.to_json())["future_field"] == [1, 2]
    with pytest.raises(ColorStudioError, match="lacks family"):
        ModelCard.from_dict({"name": "a"})
    with pytest.raises(ColorStudioError, match="not valid JSON"):
        ModelCard.from_json("{nope", source="x/card.json")


def test_save_load_round_trip(tmp_path):
    model, card = _saved(tmp_path)
    folder = tmp_path / "tiny"
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "weights.safetensors"]
    assert card.weights_sha256 == sha256_file(folder / "weights.safetensors")
    loaded, loaded_card = load_model("tiny", torch.device("cpu"), models_dir=tmp_path)
    assert loaded_card == card and not loaded.training
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)
    assert [c.name for c in list_models(tmp_path)] == ["tiny"]
    assert load_model(folder, "cpu")[1].name == "tiny"  # a folder path works too


def test_sha_mismatch_names_the_file(tmp_path):
    _saved(tmp_path)
    card_path = tmp_path / "tiny" / "card.json"
    data = json.loads(card_path.read_text())
    data["weights_sha256"] = "0" * 64
    card_path.write_text(json.dumps(data))
    with pytest.raises(ColorStudioError, match="SHA-256") as err:
        load_model("tiny", "cpu", models_dir=tmp_path)
    assert err.value.path == tmp_path / "tiny" / "weights.safetensors"


def test_pickles_refused_and_missing_files(tmp_path):
    _saved(tmp_path)
    folder = tmp_path / "tiny"
    (folder / "weights.safetensors").unlink()
    with pytest.raises(ColorStudioError, match="weights missing"):
        load_model("tiny", "cpu", models_dir=tmp_path)
    torch.save(_TinyNet(4).state_dict(), folder / "model.pt")
    with pytest.raises(ColorStudioError, match="refusing to load pickled"):
        load_model("tiny", "cpu", models_dir=tmp_path)
    with pytest.raises(ColorStudioError, match="not found"):
        load_model("nothing-here", "cpu", models_dir=tmp_path)


def test_bad_card_json_unknown_family_and_wrong_architecture(tmp_path):
    _saved(tmp_path)
    card_path = tmp_path / "tiny" / "card.json"
    good = card_path.read_text()
    card_path.write_text("{broken")
    with pytest.raises(ColorStudioError, match="not valid JSON") as err:
        load_model("tiny", "cpu", models_dir=tmp_path)
    assert err.value.path == card_path
    with pytest.warns(ColorStudioWarning, match="skipping model"):
        assert list_models(tmp_path) == []
    card_path.write_text(good.replace('"tiny-test"', '"no-such-family"'))
    with pytest.raises(ColorStudioError, match="unknown model family 'no-such-family'"):
        load_model("tiny", "cpu", models_dir=tmp_path)
    card_path.write_text(good.replace('"width": 4', '"width": 5'))
    with pytest.raises(ColorStudioError, match="do not fit"):
        load_model("tiny", "cpu", models_dir=tmp_path)


@pytest.mark.parametrize(("content", "reason"), [
    ("[" * 100_000, "nested too deeply"),
    (b"\xff\xfe not text", "not UTF-8"),
    ('{"name": "tiny", "family": "tiny-test", "steps": "many"}', "'steps' has the wrong type"),
    ('{"name": "tiny", "family": "tiny-test", "working_resolution": -3}', "working_resolution"),
    (lambda good: good.replace('"tiny-test"', '"a.b"'), None),  # readable; refused when loaded
], ids=["deep", "not-utf8", "steps-text", "resolution-negative", "family-not-a-module"])
def test_one_broken_card_spoils_no_other_model(tmp_path, content, reason):
    _saved(tmp_path, "good")
    _saved(tmp_path, "bad")
    card_path = tmp_path / "bad" / "card.json"
    if callable(content):
        content = content(card_path.read_text())
    card_path.write_bytes(content) if isinstance(content, bytes) else card_path.write_text(content)
    cards, broken = registry.scan_models(tmp_path)
    if reason is None:
        assert sorted(c.name for c in cards) == ["bad", "good"] and broken == {}
    else:
        assert [c.name for c in cards] == ["good"]
        assert reason in broken["bad"].reason and broken["bad"].path == card_path
    with pytest.raises(ColorStudioError) as err:
        load_model("bad", "cpu", models_dir=tmp_path)
    assert "\n" not in str(err.value) and "card.json" in str(err.value)
    assert reason is not None or "unknown model family 'a.b'" in str(err.value)
    module, card = load_model("good", "cpu", models_dir=tmp_path)
    assert card.name == "good" and isinstance(module, _TinyNet)


def test_register_family_plain_call_and_default_dir(monkeypatch, tmp_path):
    family = _tiny_family("tiny-test-2")
    try:
        assert register(family) is family and "tiny-test-2" in [f.name for f in families()]
    finally:
        unregister("tiny-test-2")
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(tmp_path))
    assert default_models_dir() == tmp_path
    monkeypatch.delenv("COLORSTUDIO_MODELS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_models_dir() == tmp_path / "data" / "colorstudio" / "models"


def test_user_models_are_listed_beside_the_bundled_ones_and_win_a_name(monkeypatch, tmp_path):
    user, bundled = tmp_path / "user", tmp_path / "bundled"
    save_model(_TinyNet(4), _card("mine"), user / "mine")
    save_model(_TinyNet(4), _card("shared"), user / "shared")
    save_model(_TinyNet(4), _card("shipped"), bundled / "shipped")
    save_model(_TinyNet(5), _card("shared").updated(config={"width": 5}), bundled / "shared")
    monkeypatch.setattr(registry, "user_models_dir", lambda: user)
    monkeypatch.setattr(registry, "bundled_models_dir", lambda: bundled)
    monkeypatch.delenv("COLORSTUDIO_MODELS", raising=False)
    assert registry.models_dirs() == [user, bundled]
    assert [c.name for c in list_models()] == ["mine", "shared", "shipped"]
    assert next(c for c in list_models() if c.name == "shared").config == {"width": 4}
    assert registry.find_model_dir("shipped") == bundled / "shipped"
    assert registry.find_model_dir("shared") == user / "shared"
    # the variable still replaces both, and may name several folders
    monkeypatch.setenv("COLORSTUDIO_MODELS", os.pathsep.join([str(bundled), str(user)]))
    assert registry.find_model_dir("shared") == bundled / "shared"
    assert [c.name for c in list_models()] == ["mine", "shared", "shipped"]
    with pytest.raises(ColorStudioError, match="not found in .*bundled or .*user"):
        registry.find_model_dir("nothing-here")


def test_export_checkpoint_uses_ema_weights(tmp_path):
    model = _TinyNet(4)
    ema = {k: v + 1.0 for k, v in model.state_dict().items()}
    save_checkpoint(tmp_path / "run", step=42, model_state=model.state_dict(), ema_state=ema, optimizer=None,
                    state={"wall_time_s": 12.5, "hardware": "CPU (2 threads)"})
    card = export_checkpoint_to_model(
        tmp_path / "run", tmp_path / "models" / "tiny", {"family": "tiny-test", "config": {"width": 4}}
    )
    assert (card.name, card.steps, card.wall_time_s, card.hardware) == ("tiny", 42, 12.5, "CPU (2 threads)")
    loaded, _ = load_model("tiny", "cpu", models_dir=tmp_path / "models")
    torch.testing.assert_close(loaded.state_dict()["conv.weight"], ema["conv.weight"])
    # exporting again keeps the existing card and only updates what changed
    card2 = export_checkpoint_to_model(tmp_path / "run", tmp_path / "models" / "tiny", {"evaluation": {"psnr": 23.1}})
    assert card2.family == "tiny-test" and card2.evaluation == {"psnr": 23.1} and card2.steps == 42


def test_default_temperature_comes_from_the_card():
    from colorstudio.models.registry import ModelCard, default_temperature

    assert default_temperature(None) == 1.0
    assert default_temperature(ModelCard(name="m", family="pixcolor")) == 1.0
    card = ModelCard.from_dict({"name": "m", "family": "pixcolor", "sampling": {"temperature": 0.8}})
    assert default_temperature(card) == 0.8
    assert default_temperature({"sampling": {"temperature": -1}}) == 1.0  # nonsense falls back to 1
