"""Hostile inputs (issue 16): nothing a user gives ColorStudio is ever overwritten or crashes it.

Each case feeds the command line (in-process, and a few in a real process), the session loader or a
models folder something wrong, and checks what the user sees: exit code 2 (or a ColorStudioError) with
one line that names the file or flag, no traceback, and no file created or changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import colorstudio
from colorstudio.cli import main
from colorstudio.engine.session_file import read_session
from colorstudio.errors import ColorStudioError

REPO_MODELS = Path(colorstudio.__file__).resolve().parents[1] / "models"
CHEAP_MODEL = "pic-cifar"  # the smallest trained model (32 x 32 working size)


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file and folder under ``folder`` (hidden ones too): mtime and content hash."""
    state = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or path.is_dir():
            state[str(path.relative_to(folder))] = (0, "link" if path.is_symlink() else "dir")
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            state[str(path.relative_to(folder))] = (path.stat().st_mtime_ns, digest)
    return state


def assert_one_line_error(err: str, *names: str) -> None:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "error" in lines[0], err
    for name in names:
        assert name in lines[0], err


# --- session files (item 2; values from item 4) --------------------------------------------------------------
def _session_payload() -> dict:
    return {
        "format": "colorstudio-session", "version": 1, "app": "ColorStudio test",
        "source": {"path": "/nowhere/p.png", "relative_path": "p.png", "sha256": "0" * 64},
        "model": {"name": "pixcolor", "temperature": 0.9, "sample_count": 2, "base_seed": 0},
        "seeds": [0, 1], "chosen": 0, "hints": [],
        "hue_bias": {"angle_deg": 0.0, "strength": 0.0},
        "reference": {"path": None, "sha256": None, "strength": 1.0, "method": "energy", "relative_path": None},
        "export": {"fmt": "png", "bit_depth": 8, "all_samples": False, "uncertainty": False},
    }


def _with(path: tuple[str, ...], value: object) -> dict:
    payload = _session_payload()
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return payload


NAN, INF = float("nan"), float("inf")
SESSION_CASES = [
    pytest.param(_with(("hue_bias",), [1, 2]), "hue_bias", id="hue_bias-list"),
    pytest.param(_with(("hue_bias",), "north"), "hue_bias", id="hue_bias-string"),
    pytest.param(_with(("reference",), ["r.png"]), "reference", id="reference-list"),
    pytest.param(_with(("reference",), 3), "reference", id="reference-number"),
    pytest.param(_with(("export",), "png"), "export", id="export-string"),
    pytest.param(_with(("export",), [8]), "export", id="export-list"),
    pytest.param(_with(("seeds",), [INF]), "seeds", id="seed-infinity"),
    pytest.param(_with(("seeds",), [NAN]), "seeds", id="seed-nan"),
    pytest.param(_with(("seeds",), [1.5]), "seeds", id="seed-fraction"),
    pytest.param(_with(("seeds",), [-1]), "seeds", id="seed-negative"),
    pytest.param(_with(("seeds",), [2**64]), "seeds", id="seed-over-64-bits"),
    pytest.param(_with(("seeds",), [True]), "seeds", id="seed-bool"),
    pytest.param(_with(("chosen",), True), "chosen", id="chosen-bool"),
    pytest.param(_with(("chosen",), 7), "chosen", id="chosen-out-of-range"),
    pytest.param(_with(("model", "temperature"), NAN), "model.temperature", id="temperature-nan"),
    pytest.param(_with(("model", "temperature"), INF), "model.temperature", id="temperature-inf"),
    pytest.param(_with(("model", "temperature"), 0), "model.temperature", id="temperature-zero"),
    pytest.param(_with(("model", "temperature"), "hot"), "model.temperature", id="temperature-string"),
    pytest.param(_with(("model", "sample_count"), 0), "model.sample_count", id="sample_count-zero"),
    pytest.param(_with(("model", "sample_count"), 1e9), "model.sample_count", id="sample_count-1e9-float"),
    pytest.param(_with(("model", "sample_count"), 10**9), "model.sample_count", id="sample_count-1e9"),
    pytest.param(_with(("model", "base_seed"), 10**30), "model.base_seed", id="base_seed-huge"),
    pytest.param(_with(("model", "name"), ["pixcolor"]), "model.name", id="model-name-list"),
    pytest.param(_with(("hue_bias", "angle_deg"), NAN), "hue_bias.angle_deg", id="hue-angle-nan"),
    pytest.param(_with(("hue_bias", "strength"), NAN), "strength", id="hue-strength-nan"),
    pytest.param(_with(("hue_bias", "strength"), 11), "strength", id="hue-strength-11"),
    pytest.param(_with(("reference", "strength"), NAN), "reference", id="reference-strength-nan"),
    pytest.param(_with(("reference", "strength"), -1), "reference", id="reference-strength-negative"),
    pytest.param(_with(("reference", "method"), "magic"), "magic", id="reference-method-unknown"),
    pytest.param(_with(("reference", "path"), 5), "reference.path", id="reference-path-number"),
    pytest.param(_with(("reference", "sha256"), [1]), "reference.sha256", id="reference-sha-list"),
    pytest.param(_with(("export", "bit_depth"), 8.5), "export.bit_depth", id="bit-depth-fraction"),
    pytest.param(_with(("export", "bit_depth"), 12), "bit depth", id="bit-depth-12"),
    pytest.param(_with(("export", "fmt"), "jpg"), "jpg", id="export-format-jpg"),
    pytest.param(_with(("export", "all_samples"), "yes"), "export.all_samples", id="all-samples-string"),
    pytest.param(_with(("source",), None), "source", id="source-null"),
    pytest.param(_with(("source", "path"), 5), "source.path", id="source-path-number"),
    pytest.param(_with(("source", "relative_path"), {"a": 1}), "source.relative_path", id="relative-path-object"),
    pytest.param(_with(("source", "relative_path"), "bad\x00name"), "invalid", id="relative-path-nul"),
    pytest.param(_with(("hints",), [{"x": NAN, "y": 1, "radius": 2, "color": "#ffffff"}]), "hint 0", id="hint-nan"),
    pytest.param(_with(("hints",), [{"x": [[[[1]]]], "y": 1, "radius": 2, "color": "#fff"}]), "hint 0", id="hint-list"),
    pytest.param(_with(("version",), True), "version", id="version-bool"),
    pytest.param("[" * 100_000, "nested", id="deep-array"),
    pytest.param('{"a": ' * 100_000, "nested", id="deep-object"),
    pytest.param('{"format": "colorstudio-session", "version": 1, "seeds": [' + "9" * 5000 + "]}", "invalid JSON",
                 id="5000-digit-integer"),
    pytest.param(b"\xff\xfe{}", "cannot read", id="not-utf8"),
    pytest.param("", "invalid JSON", id="empty"),
    pytest.param("null", "not a ColorStudio session", id="null"),
]


@pytest.mark.parametrize(("content", "reason"), SESSION_CASES)
def test_malformed_session_file_is_a_clean_error(tmp_path, content, reason):
    path = tmp_path / "bad.colorstudio.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    before = snapshot(tmp_path)
    with pytest.raises(ColorStudioError) as err:
        read_session(path)
    message = str(err.value)
    assert "bad.colorstudio.json" in message and reason in message, message
    assert "\n" not in message
    assert snapshot(tmp_path) == before


def test_unmodified_session_payload_reads(tmp_path):
    """The cases above fail because of their one change, not because the template is wrong."""
    path = tmp_path / "good.colorstudio.json"
    path.write_text(json.dumps(_session_payload()))
    document = read_session(path)
    assert document.seeds == (0, 1) and document.sample_count == 2 and document.temperature == 0.9


# --- models folders (item 3) ------------------------------------------------------------------------
BROKEN_CARDS = {
    "deep": "[" * 100_000,
    "deep-object": '{"name": ' * 100_000,
    "not-utf8": b"\xff\xfe\x00garbage",
    "family-list": json.dumps({"name": "x", "family": ["histogram"]}),
    "steps-object": json.dumps({"name": "x", "family": "histogram", "steps": {"n": 1}}),
    "resolution-text": json.dumps({"name": "x", "family": "histogram", "working_resolution": "big"}),
    "resolution-huge": json.dumps({"name": "x", "family": "histogram", "working_resolution": 10**9}),
    "not-an-object": "[1, 2, 3]",
    "huge-int": '{"name": "x", "family": "gan", "steps": ' + "9" * 5000 + "}",
}


@pytest.fixture()
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models folder: one intact model (a link to the shipped one) beside many broken folders."""
    root = tmp_path / "models"
    root.mkdir()
    (root / CHEAP_MODEL).symlink_to(REPO_MODELS / CHEAP_MODEL, target_is_directory=True)
    for name, text in BROKEN_CARDS.items():
        (root / name).mkdir()
        card = root / name / "card.json"
        card.write_bytes(text) if isinstance(text, bytes) else card.write_text(text)
    (root / "card-is-a-folder" / "card.json").mkdir(parents=True)
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(root))
    return root


def test_models_command_lists_broken_models_with_their_reason(models_dir, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert CHEAP_MODEL in lines and "BROKEN" not in lines[CHEAP_MODEL]
    for name in [*BROKEN_CARDS, "card-is-a-folder"]:
        assert "BROKEN" in lines[name] and "card.json" in lines[name], out
    assert "nested too deeply" in lines["deep"] and "UTF-8" in lines["not-utf8"]


def test_intact_model_still_colorizes_beside_broken_ones(models_dir, tmp_path, capsys):
    out = tmp_path / "o.png"
    image = tmp_path / "p.png"
    Image.fromarray(np.full((32, 32), 128, np.uint8)).save(image)
    assert main(["colorize", str(image), "-o", str(out), "--model", CHEAP_MODEL]) == 0, capsys.readouterr().err
    assert Image.open(out).size == (32, 32)
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("name", [*BROKEN_CARDS, "card-is-a-folder"])
def test_colorize_with_a_broken_model_names_its_card(models_dir, tmp_path, capsys, name):
    image = tmp_path / "p.png"
    Image.fromarray(np.full((32, 32), 128, np.uint8)).save(image)
    before = snapshot(tmp_path)
    assert main(["colorize", str(image), "-o", str(tmp_path / "o.png"), "--model", name]) == 2
    assert_one_line_error(capsys.readouterr().err, name, "card.json")
    assert snapshot(tmp_path) == before


def test_default_model_and_gui_choices_survive_broken_models(models_dir):
    from colorstudio.cli import _default_model
    from colorstudio.families import REGISTRY

    assert _default_model(None) == CHEAP_MODEL  # no histogram here; the first intact model
    choices = {choice.name: choice for choice in REGISTRY.model_choices(models_dir)}
    assert choices[CHEAP_MODEL].available
    for name in BROKEN_CARDS:
        assert not choices[name].available and "card.json" in choices[name].reason


def test_card_with_a_non_finite_recommended_temperature_is_ignored():
    from colorstudio.models.registry import ModelCard, default_temperature

    for value in ("Infinity", "NaN", "-1", "true", '"hot"'):
        card = ModelCard.from_json(f'{{"name": "m", "family": "pixcolor", "sampling": {{"temperature": {value}}}}}')
        assert default_temperature(card) == 1.0


# --- the command line ------------------------------------------------------------------------------
@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with tiny images and a hints file, as the current folder (arguments stay short)."""
    rng = np.random.default_rng(0)
    gray = Image.fromarray((rng.random((32, 32)) * 255).astype(np.uint8))
    gray.save(tmp_path / "p.png")
    Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(tmp_path / "r.png")
    (tmp_path / "d").mkdir()
    gray.save(tmp_path / "d" / "a.png")
    gray.save(tmp_path / "d" / "a_s0.png")
    (tmp_path / "h.hints.json").write_text(json.dumps({"version": 1, "hints": [
        {"x": 10, "y": 10, "radius": 2, "color": "#2040a0"}]}))
    (tmp_path / "hints.png").write_text((tmp_path / "h.hints.json").read_text())  # a hints file named like an image
    (tmp_path / "deep.hints.json").write_text("[" * 100_000)
    os.link(tmp_path / "p.png", tmp_path / "hard.png")
    os.symlink("p.png", tmp_path / "link.png")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(REPO_MODELS))
    return tmp_path


def _case(command: str, *names: str, id: str):  # noqa: A002 - named as pytest.param's
    return pytest.param(command.split(), names, id=id)


CLI_CASES = [
    # issue 16 item 1: a write onto anything read, or one file written twice
    _case("colorize p.png -o o.png --uncertainty p.png", "p.png", "input image", id="uncertainty-over-source"),
    _case("colorize p.png --reference r.png -o r.png", "r.png", "reference", id="result-over-reference"),
    _case("colorize p.png -o x.png --uncertainty x.png", "x.png", id="uncertainty-over-result"),
    _case("colorize d/a.png d/a_s0.png -o d --model pixcolor --samples 2", "a_s0.png", id="sample-over-other-input"),
    _case("colorize p.png -o p.png", "p.png", id="result-over-source"),
    _case("colorize d -o d", "a", "input image", id="folder-onto-itself"),
    _case("colorize p.png -o hard.png", "hard.png", id="result-over-hard-link-of-source"),
    _case("colorize p.png -o link.png", "link.png", id="result-over-symlink-to-source"),
    _case("colorize p.png -o hints.png --hints hints.png", "hints.png", "hints file", id="result-over-hints"),
    _case("colorize p.png d/a.png -o d --uncertainty d", "a", id="batch-result-over-input"),
    # item 4: numbers that are no numbers, out-of-range counts and seeds
    _case("colorize p.png -o o.png --model pixcolor --temperature nan", "--temperature", id="temperature-nan"),
    _case("colorize p.png -o o.png --model pixcolor --temperature inf", "--temperature", id="temperature-inf"),
    _case("colorize p.png -o o.png --model pixcolor --temperature -1", "--temperature", id="temperature-negative"),
    _case("colorize p.png -o o.png --reference r.png --reference-strength nan", "--reference-strength",
          id="refstrength-nan"),
    _case("colorize p.png -o o.png --reference r.png --reference-strength -inf", "--reference-strength",
          id="refstrength-neg-inf"),
    _case("colorize p.png -o o.png --hue-shift nan", "--hue-shift", id="hue-angle-nan"),
    _case("colorize p.png -o o.png --hue-shift 30 --hue-strength nan", "--hue-strength", id="hue-strength-nan"),
    _case(f"colorize p.png -o o.png --model pixcolor --seed {10**30}", "--seed", id="seed-10e30"),
    _case("colorize p.png -o o.png --model pixcolor --seed -1", "--seed", id="seed-negative"),
    _case("colorize p.png -o o.png --model pixcolor --samples 17", "--samples", id="samples-over-cap"),
    _case("colorize p.png -o o.png --model pixcolor --samples 0", "--samples", id="samples-zero"),
    _case("colorize p.png -o o.png --model gan --samples 3", "--samples", "gan", id="samples-on-single-sample-model"),
    _case("colorize p.png -o o.png --samples abc", "--samples", id="samples-not-a-number"),
    pytest.param(["colorize", "p.png", "-o", "o.png", "--model", ""], ("--model",), id="model-empty"),
    # item 4: options that silently did something else
    _case("colorize p.png -o o.png --model pixcolor --uncertainty u.png", "u.png", "uncertainty",
          id="uncertainty-unavailable"),
    _case("colorize p.png -o o.png --model pixcolor --hue-shift 30", "--hue-shift", id="hue-shift-unavailable"),
    _case("colorize p.png -o out.jpg --format png", "out.jpg", id="png-bytes-into-jpg"),
    _case("colorize p.png -o out.tiff --format png", "out.tiff", "--format", id="format-contradicts-extension"),
    _case("colorize p.png -o o.png --uncertainty u.jpg", "u.jpg", id="uncertainty-not-png"),
    _case("colorize p.png -o o.png --device meta", "--device", id="device-unknown"),
    _case("colorize p.png -o o.png --device cuda:99", "cuda:99", id="device-missing"),
    # files that are not there or not what they claim
    _case("colorize missing.png -o o.png", "missing.png", id="input-missing"),
    _case("colorize p.png -o o.png --reference nope.png", "nope.png", id="reference-missing"),
    _case("colorize p.png -o o.png --hints deep.hints.json", "deep.hints.json", "nested", id="hints-deeply-nested"),
    _case("colorize p.png -o p.png/o.png", "p.png", id="output-folder-is-a-file"),
    # other commands and words
    _case("hlep", "hlep", "'help'", id="unknown-word"),
    _case("photo-that-is-not-here.png", "photo-that-is-not-here.png", "neither", id="missing-file-for-gui"),
    _case("evaluate . --limit 0", "--limit", id="evaluate-limit-zero"),
    _case("evaluate . --temperature nan", "--temperature", id="evaluate-temperature-nan"),
    _case("evaluate r.png --json r.png", "r.png", "evaluation data", id="evaluate-report-over-data"),
    _case("bench --repeats 0", "--repeats", id="bench-repeats-zero"),
]


@pytest.mark.parametrize(("argv", "names"), CLI_CASES)
def test_cli_refuses_with_one_line_and_touches_nothing(workdir, capsys, monkeypatch, argv, names):
    import colorstudio.gui.app

    monkeypatch.setattr(colorstudio.gui.app, "run", lambda *_: pytest.fail("a typo must not open the GUI"))
    before = snapshot(workdir)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert_one_line_error(captured.err, *names)
    assert snapshot(workdir) == before


def test_writing_beside_the_inputs_is_still_allowed(workdir, capsys):
    """The control for the cases above: only the files the command writes change."""
    before = snapshot(workdir)
    assert main(["colorize", "p.png", "-o", "d", "--model", "propagation"]) == 0, capsys.readouterr().err
    assert main(["colorize", "d/a.png", "-o", "d/a_color.png", "--model", "propagation", "--hints", "hints.png"]) == 0
    after = snapshot(workdir)
    assert set(after) - set(before) == {"d/p.png", "d/a_color.png"}
    assert {k: v for k, v in after.items() if k in before} == before


def test_uncertainty_check_comes_before_any_result_is_written(workdir, capsys):
    # Before the fix the result was written first, then the missing map was an error.
    assert main(["colorize", "p.png", "-o", "o.png", "--model", "gan", "--uncertainty", "u.png"]) == 2
    assert_one_line_error(capsys.readouterr().err, "u.png", "gan")
    assert not Path("o.png").exists() and not Path("u.png").exists()


def test_cli_errors_in_a_real_process(workdir):
    """The exit code and stderr a shell sees (a couple of cases; the rest run in-process above)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(colorstudio.__file__).parents[1]),
                                                         os.environ.get("PYTHONPATH", "")])}
    before = snapshot(workdir)
    for argv, names in ((["colorize", "p.png", "-o", "o.png", "--uncertainty", "p.png"], ("p.png",)),
                        (["hlep"], ("hlep",))):
        proc = subprocess.run([sys.executable, "-m", "colorstudio", *argv], capture_output=True, text=True,
                              env=env, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert_one_line_error(proc.stderr, *names)
        assert proc.stdout == ""
    assert snapshot(workdir) == before


# --- SIGTERM during an export (item 5) --------------------------------------------------------------
_SLOW_EXPORT = textwrap.dedent("""
    import sys, time
    import colorstudio.io.write as write

    def slow_png(fh, samples, icc):
        fh.write(b"half a PNG")
        fh.flush()
        print("writing", flush=True)
        time.sleep(120)

    write._write_png = slow_png
    from colorstudio.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_sigterm_during_export_exits_cleanly_and_leaves_no_temporary(workdir):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(colorstudio.__file__).parents[1]),
                                                         os.environ.get("PYTHONPATH", "")])}
    before = snapshot(workdir)
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_EXPORT, "colorize", "p.png", "-o", "o.png", "--model",
                             "propagation"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "writing"
        assert any(name.startswith(".o.png.") for name in os.listdir(workdir))  # the temporary exists now
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == ["colorstudio: terminated; no partial output was left"]
    assert snapshot(workdir) == before
