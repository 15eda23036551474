"""Re-running with other settings, a user's own teacher, and bad inputs caught up front with one
sentence, leaving earlier results untouched."""
from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
import torch

from ssllib.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, write_json
from ssllib.engine.params import ParameterError
from tests.fixtures import tiny_dataset

TINY = dict(dataset="digits", width=4, image_size=8, epochs=2, batch_size=64, queue_size=128, lr=0.05,
            ema_momentum=0.9, temperature=0.2, bn_splits=2, blur_p=0.0, monitor_every=1, monitor_size=0,
            knn_k=10, seed=0, log_every=4, num_workers=0)


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_settings_outside_a_runs_identity_may_change_between_runs(tmp_path):
    from ssllib.selfsup.config import RunConfig
    from ssllib.selfsup.trainer import train

    dirs = dict(runs_dir=tmp_path / "runs", ledger_dir=tmp_path / "ledger")
    first = train(RunConfig.from_dict(TINY), **dirs)
    again = train(RunConfig.from_dict({**TINY, "log_every": 3, "device": "cpu", "num_workers": 2}), **dirs)
    assert first.trained_now and not again.trained_now and again.run_id == first.run_id
    changed = train(RunConfig.from_dict({**TINY, "lr": 0.04}), **dirs)  # an identity field: another run
    assert changed.trained_now and changed.run_id != first.run_id


def test_a_resumed_run_may_change_its_log_interval(tmp_path):
    from ssllib.selfsup.config import RunConfig
    from ssllib.selfsup.trainer import train

    dirs = dict(runs_dir=tmp_path / "runs", ledger_dir=tmp_path / "ledger")
    one = train(RunConfig.from_dict({**TINY, "epochs": 1}), **dirs)
    state = load_checkpoint(one.run_dir / "checkpoint.pt")
    # pretend the 1-epoch run was the first epoch of a 2-epoch run, interrupted
    cfg = RunConfig.from_dict({**TINY, "log_every": 2})
    from ssllib.selfsup.trainer import run_id_for
    folder = tmp_path / "runs" / run_id_for(cfg)
    folder.mkdir(parents=True)
    save_checkpoint({**state, "config": {**state["config"], "epochs": 2, "log_every": 4},
                     "identity": cfg.identity()}, folder / "checkpoint.pt")
    resumed = train(cfg, **dirs)
    assert resumed.trained_now and len(resumed.history) == 2


@pytest.mark.parametrize("content,message", [
    (torch.zeros(3), "holds a Tensor, not a dict of weights"),
    ([1, 2], "holds a list, not a dict of weights"),
])
def test_a_checkpoint_that_is_not_a_dict_gets_one_sentence(tmp_path, content, message):
    path = tmp_path / "c.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_a_code_executing_pickle_is_refused_and_the_hint_fits_the_file(tmp_path):
    from ssllib.distill.trainer import load_network

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo owned",))
    path = tmp_path / "teacher.pt"
    torch.save({"network": Evil()}, path)
    with pytest.raises(CheckpointError, match="only running its code could rebuild.*give the checkpoint of a "
                                              "trained resnet8") as err:
        load_network(path, "resnet8", 10, 1)
    assert "start the run again" not in str(err.value)
    path.write_bytes(b"\x80\x02garbage")
    with pytest.raises(CheckpointError, match="damaged or truncated.*give the checkpoint of a trained resnet8"):
        load_network(path, "resnet8", 10, 1)


def test_writes_leave_no_temporary_file_and_ordinary_permissions(tmp_path):
    target = tmp_path / "record.json"
    stale = tmp_path / ".record.json.abc123.tmp"  # what a killed writer leaves
    stale.write_bytes(b"")
    old = os.umask(0o022)
    try:
        write_json({"a": 1}, target)
    finally:
        os.umask(old)
    assert not stale.exists() and [p.name for p in tmp_path.iterdir()] == ["record.json"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_read_only_results_folder_is_reported_before_any_work(tmp_path, monkeypatch):
    from ssllib.chapters.foundations import FOUNDATIONS
    from ssllib.chapters.spec import resolve

    folder = tmp_path / "results"
    folder.mkdir()
    folder.chmod(0o500)
    monkeypatch.setenv("SSLLIB_RESULTS", str(folder / "inner"))
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere (permissions are not enforced)")
        with pytest.raises(ParameterError, match="results folder .* is not writable; set SSLLIB_RESULTS"):
            resolve(FOUNDATIONS, {"profile": "smoke"})
    finally:
        folder.chmod(0o700)


def test_a_missing_device_is_reported_before_any_work():
    from ssllib.chapters.foundations import FOUNDATIONS
    from ssllib.chapters.spec import resolve

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ParameterError, match="device='cuda' was requested but is not available here"):
        resolve(FOUNDATIONS, {"profile": "smoke", "device": "cuda"})


@pytest.mark.parametrize("changes,message", [
    ({"train_subset": 32, "batch_size": 64}, "train_subset=32 is smaller than one batch"),
    ({"image_size": 2}, "image_size=2 is too small"),
    ({"method": "synco", "queue_size": 128, "options": {"n_hard": 500}, "epochs": 20},
     "n_hard=500 is larger than the queue"),
])
def test_sizes_that_cannot_work_are_refused(changes, message):
    from ssllib.selfsup.config import RunConfig

    with pytest.raises(ParameterError, match=message):
        RunConfig.from_dict({**TINY, **changes})


def _teacher_file(tmp_path, name="resnet8", zero_last_layer=False) -> Path:
    from ssllib.nets.registry import build_classifier

    torch.manual_seed(0)
    net = build_classifier(name, 3, 1)
    if zero_last_layer:
        last = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
        torch.nn.init.zeros_(last.weight)
        torch.nn.init.zeros_(last.bias)
    path = tmp_path / f"{name}.pt"
    save_checkpoint({"network": net.state_dict(), "network_name": name}, path)
    return path


def _distill_settings(tmp_path, teacher_checkpoint, teacher="resnet8"):
    from ssllib.chapters.spec import Settings

    return Settings(dataset="fashion_mnist", network="resnet8", student="resnet8", teacher=teacher,
                    teacher_checkpoint=str(teacher_checkpoint), epochs=1, batch_size=16, lr_milestones=(0.5,),
                    device="cpu", log_every=2, embed_dim=8, profile="smoke")


def test_a_given_teacher_is_used_for_the_teacher_too_and_checked_before_training(tmp_path, monkeypatch):
    from ssllib.chapters import distill_experiments as experiments
    from ssllib.distill import trainer
    from ssllib.distill.trainer import DistillData

    monkeypatch.setenv("SSLLIB_RESULTS", str(tmp_path / "results"))
    data = DistillData(tiny_dataset(n=64, size=8, channels=1, classes=3),
                       tiny_dataset(n=30, size=8, channels=1, classes=3, seed=1), 8)
    path = _teacher_file(tmp_path, zero_last_layer=True)
    settings = _distill_settings(tmp_path, path)
    trained = []
    real = trainer.train_distill
    monkeypatch.setattr(experiments, "train_distill", lambda cfg, **kw: trained.append(cfg.method) or real(cfg, **kw))
    teacher, students = experiments.train_students(settings, ("ce", "kd"), [0], data=data)
    assert "ce" in trained and trained.count("ce") == 1  # the student alone; no teacher was trained
    # a zeroed classifier predicts class 0 for everything: 10 of 30 test images
    assert teacher.metric() == pytest.approx(100 * 10 / 30)
    assert students["kd"][0].record["metrics"]["teacher_top1"]["value"] == pytest.approx(teacher.metric())
    from ssllib.chapters.report import training_summary
    assert "given as the checkpoint" in training_summary("teacher", [teacher])

    wrong = _teacher_file(tmp_path, name="resnet14")
    before = _hashes(tmp_path / "results")
    trained.clear()
    with pytest.raises(CheckpointError, match="holds a resnet14, not the resnet8"):
        experiments.train_students(_distill_settings(tmp_path, wrong), ("ce", "kd"), [0], data=data)
    assert trained == [] and _hashes(tmp_path / "results") == before


def test_the_command_line_prints_one_sentence_for_a_damaged_checkpoint(tmp_path):
    import subprocess
    import sys

    from ssllib.selfsup.config import RunConfig
    from ssllib.selfsup.trainer import run_id_for

    cfg = RunConfig.from_dict(TINY)
    folder = tmp_path / "runs" / run_id_for(cfg)
    folder.mkdir(parents=True)
    (folder / "checkpoint.pt").write_bytes(b"not a checkpoint")
    before = _hashes(tmp_path / "runs")
    config = tmp_path / "run.json"
    config.write_text(json.dumps(TINY))
    out = subprocess.run([sys.executable, "-m", "ssllib.train", str(config), "--runs-dir", str(tmp_path / "runs"),
                          "--ledger-dir", str(tmp_path / "ledger")], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "CheckpointError" in out.stderr and "is damaged or truncated" in out.stderr
    assert _hashes(tmp_path / "runs") == before


@pytest.mark.parametrize("code,message", [(28, "the disk is full"), (30, "its folder is not writable")])
def test_a_full_or_read_only_disk_gets_one_sentence_and_keeps_the_old_file(tmp_path, monkeypatch, code, message):
    from ssllib.engine import checkpoint
    from ssllib.engine.checkpoint import WriteError

    target = tmp_path / "checkpoint.pt"
    save_checkpoint({"epoch": 1}, target)
    before = target.read_bytes()

    def full(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(checkpoint.os, "fsync", full)
    with pytest.raises(WriteError, match=f"cannot write .*checkpoint.pt: {message}.*unchanged"):
        save_checkpoint({"epoch": 2}, target)
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_a_results_folder_that_cannot_be_written_is_reported_before_any_work(tmp_path, monkeypatch):
    """As root, permissions do not stop writes, but a read-only file system does: access() says so."""
    from ssllib.chapters.foundations import FOUNDATIONS
    from ssllib.chapters.spec import resolve
    from ssllib.engine import ledger

    monkeypatch.setenv("SSLLIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(ledger.os, "access", lambda path, mode: False)
    with pytest.raises(ParameterError, match="results folder .* is not writable; set SSLLIB_RESULTS"):
        resolve(FOUNDATIONS, {"profile": "smoke"})


@pytest.fixture
def small_disk(tmp_path):
    """A real 256 KB filesystem (tmpfs), where the machine lets this process mount one (root on Linux)."""
    import subprocess
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
                                                   capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("mounting a small tmpfs needs root on Linux; the full-disk path is tested where it can be")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_a_really_full_disk_gets_one_sentence_and_keeps_the_old_checkpoint(small_disk):
    """torch.save on a full disk raises a bare RuntimeError ('[enforce fail at inline_container.cc]
    … unexpected pos'), with no errno; it is read as the full disk it is."""
    from ssllib.engine.checkpoint import WriteError
    path = small_disk / "checkpoint.pt"
    save_checkpoint({"epoch": 1}, path)
    before = path.read_bytes()
    with pytest.raises(WriteError, match="the disk is full; free some space or set SSLLIB_RESULTS"):
        save_checkpoint({"epoch": 2, "weights": torch.zeros(200_000)}, path)
    assert path.read_bytes() == before and sorted(p.name for p in small_disk.iterdir()) == ["checkpoint.pt"]


def test_a_writer_removes_only_the_temporary_files_of_writers_that_no_longer_run(tmp_path):
    import subprocess
    live = subprocess.Popen(["sleep", "30"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        others = tmp_path / f".checkpoint.pt.{live.pid}.abc123.tmp"
        stale = tmp_path / f".checkpoint.pt.{dead.pid}.def456.tmp"
        older = tmp_path / ".checkpoint.pt.ghi789.tmp"   # named before writers put their pid in the name
        for tmp in (others, stale, older):
            tmp.write_bytes(b"half a checkpoint")
        save_checkpoint({"epoch": 1}, tmp_path / "checkpoint.pt")
        assert others.exists() and not stale.exists() and not older.exists()
    finally:
        live.kill()


def test_an_image_size_no_machine_holds_is_refused_by_the_command_line(tmp_path):
    """python -m ssllib.train checks a step's activations against the device's free memory before
    anything is built (it used to end in the allocator's traceback asking for hundreds of GB)."""
    import subprocess
    import sys
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"method": "mocov2", "lr": 0.05, "image_size": 100_000, "device": "cpu"}))
    out = subprocess.run([sys.executable, "-m", "ssllib.train", str(path), "--runs-dir", str(tmp_path / "runs")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "this run needs about" in out.stderr and "lower width, batch_size or image_size" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "runs").exists()
