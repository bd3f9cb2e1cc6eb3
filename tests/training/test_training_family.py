"""Shared run-folder helpers of the family trainers: config on resume, run info, finding the run folder."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from colorstudio.models.pic import PICConfig
from colorstudio.training.family import (
    MODEL_CONFIG_JSON,
    RUN_INFO_JSON,
    build_run_info,
    open_run,
    prepare_run_dir,
    resolve_config_on_resume,
    run_card,
    run_dir_of,
    write_run_files,
)
from colorstudio.training.train_pic import PICTrainSettings


@dataclass(frozen=True)
class _Settings:
    crop: int = 16
    betas: tuple[float, float] = (0.9, 0.99)


class _Dataset(list):
    dropped = 2


def test_run_files_round_trip_and_resume(tmp_path: Path, capsys) -> None:
    run = prepare_run_dir(tmp_path / "a" / "run")
    stored, other = PICConfig(decoder_channels=8), PICConfig(decoder_channels=16)
    info = build_run_info([tmp_path / "photos"], _Dataset([0, 1, 2]), True, _Settings(), preset="pic")
    assert list(info)[:2] == ["preset", "data"]
    assert info["settings"] == {"crop": 16, "betas": [0.9, 0.99]} and info["dropped_images"] == 2
    write_run_files(run, stored, info, resume=False)
    assert json.loads((run / RUN_INFO_JSON).read_text()) == info
    assert json.loads(capsys.readouterr().out) == {"event": "start", "resume": False, **info}

    assert resolve_config_on_resume(run, other, PICConfig, resume=True) == stored
    assert resolve_config_on_resume(run, other, PICConfig, resume=False) == other
    assert resolve_config_on_resume(tmp_path, other, PICConfig, resume=True) == other  # nothing stored

    step = run / "checkpoints" / "step-00000001"
    step.mkdir(parents=True)
    assert run_dir_of(step) == run
    opened = open_run(step)
    assert opened.path == run and opened.info == info and opened.config == stored.to_dict()
    card = run_card(opened, "pic", 32, hints_enabled=True)
    sets = ["/".join(Path(p).parts[-2:]) for p in info["data"]]  # what the set was, not this machine's path
    assert sets == [f"{tmp_path.name}/photos"]
    assert card["training_data"] == {"sets": sets, "images": 3, "held_out": "val/ (never trained on)",
                                     "crop": 16, "hints_enabled": True}


def test_run_dir_of_without_config_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=MODEL_CONFIG_JSON):
        run_dir_of(tmp_path)


def test_a_family_s_settings_are_the_loop_s(tmp_path: Path) -> None:
    s = PICTrainSettings(steps=7, warmup=3, min_lr_fraction=0.1, threads=1, device="cpu")
    cfg = replace(s, out_dir=tmp_path, resume=True)  # what start_training hands the loop: one settings class
    assert (cfg.steps, cfg.warmup, cfg.min_lr_fraction, cfg.schedule, cfg.resume, cfg.num_workers) == (
        7, 3, 0.1, "cosine", True, 0)
    assert cfg.out_dir == tmp_path and cfg.threads == 1 and cfg.device == "cpu"
