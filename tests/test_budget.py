"""A chapter's budget and its schedule: the tiny dry run scales every epoch-valued setting with
the epochs, conflicts between a schedule and its epochs are found before any work and reported
together, and a chapter's runs can be written as the JSON ``python -m ssllib.train`` takes."""
from __future__ import annotations

import json

import pytest

from ssllib.chapters import dcd, rrd, synco_vit, foundations
from ssllib.chapters.budget import schedule_conflicts, shrink
from ssllib.chapters.launch import main as launch
from ssllib.chapters.spec import describe, resolve
from ssllib.distill.config import DistillConfig
from ssllib.engine.params import ParameterError
from ssllib.selfsup.config import RunConfig


def test_tiny_scales_each_schedule_with_its_own_epochs_and_keeps_the_recipe():
    tiny = shrink(dcd.PAPER, "tiny")
    assert (tiny["epochs"], tiny["transfer_epochs"]) == (1, 1)
    assert tiny["lr_milestones"] == pytest.approx((150 / 240, 180 / 240, 210 / 240))
    assert tiny["transfer_milestones"] == pytest.approx((30 / 120, 60 / 120, 90 / 120))
    assert (tiny["batch_size"], tiny["train_subset"]) == (8, 16)
    unchanged = {k for k in dcd.PAPER if k not in ("epochs", "transfer_epochs", "lr_milestones", "transfer_milestones",
                                                   "batch_size", "train_subset", "log_every")}
    assert {k: tiny[k] for k in unchanged} == {k: dcd.PAPER[k] for k in unchanged}
    vit = shrink(synco_vit.PAPER, "tiny")
    assert (vit["lr_warmup_epochs"], vit["warmup_epochs"], vit["cooldown_epochs"]) == (0, 0, 0)  # whole epochs round down
    assert shrink(rrd.PAPER, "full") == rrd.PAPER and shrink(rrd.PAPER, None) == rrd.PAPER


def test_a_schedule_that_does_not_fit_its_epochs_is_found_before_any_work():
    assert schedule_conflicts(rrd.PAPER) == []
    with pytest.raises(ParameterError, match=r"lr_milestones=\[150.0, 180.0, 210.0\] holds 150, 180, 210, not before "
                                             r"the last of epochs=1, so the rate never drops"):
        resolve(rrd.RRD, {"profile": "paper", "epochs": 1}, check_data=False)
    resolve(rrd.RRD, {"profile": "paper", "budget": "tiny"}, check_data=False)  # scaled together: no conflict


def test_every_conflict_comes_in_one_message():
    with pytest.raises(ParameterError) as caught:
        resolve(synco_vit.SYNCO_VIT, {"profile": "paper", "epochs": 1}, check_data=False)
    message = str(caught.value)
    assert message.startswith("3 problems with the synco_vit chapter's settings: (1) lr_warmup_epochs=5.0 ")
    assert "(2) warmup_epochs=30 leaves no epoch" in message and "(3) cooldown_epochs=100 is after" in message
    with pytest.raises(ParameterError) as caught:  # a schedule and a dataset that is not there, together
        resolve(foundations.FOUNDATIONS, {"profile": "paper", "epochs": 2, "lr_warmup_epochs": 5,
                                          "data_root": "/nowhere"})
    assert "2 problems" in str(caught.value) and "data_root='/nowhere' does not exist" in str(caught.value)


def test_a_chapter_s_runs_become_launcher_files(tmp_path, capsys):
    assert launch(["rrd", "--profile", "paper", "-p", "teacher", "wrn_40_2", "-p", "student", "wrn_16_2",
                   "--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [f"rrd-{m}.json" for m in sorted(rrd.RRD.methods)]
    student = DistillConfig.from_dict(json.loads((tmp_path / "rrd-rrd.json").read_text()))
    assert (student.method, student.teacher, student.network, student.epochs) == ("rrd", "wrn_40_2", "wrn_16_2", 240)
    assert "python -m ssllib.train " in capsys.readouterr().out

    assert launch(["foundations", "--profile", "paper", "--out", str(tmp_path)]) == 0
    supervised = RunConfig.from_dict(json.loads((tmp_path / "foundations-supervised.json").read_text()))
    assert (supervised.method, supervised.epochs, supervised.lr) == ("supervised", 90, 0.1)
    assert launch(["rrd", "--profile", "paper", "-p", "epochs", "1", "--out", str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()
    assert "lr_milestones" in capsys.readouterr().err


def test_a_run_s_record_says_when_its_recipe_was_changed_and_the_settings_line_shows_what_was_given():
    where = {"profile": "paper", "device": "cpu", "data_root": "/data"}
    assert resolve(rrd.RRD, where, check_data=False).record_profile == "paper"
    assert resolve(rrd.RRD, {**where, "budget": "tiny"}, check_data=False).record_profile == "paper-tiny"
    changed = resolve(rrd.RRD, {**where, "seeds": 3}, check_data=False)
    assert changed.record_profile == "paper-custom" and changed.overrides == {"seeds": 3}
    line = describe(rrd.RRD, resolve(rrd.RRD, {**where, "budget": "tiny", "seeds": 3}, check_data=False))
    assert line.startswith("profile paper: the CIFAR-100 benchmark recipe")
    assert "\nbudget tiny (a dry run" in line and "given: device='cpu', data_root='/data', seeds=3" in line
