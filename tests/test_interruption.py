"""Every training family, killed in the middle of a checkpoint write and started again, ends
exactly where an uninterrupted run ends (at the same thread count), and leaves no temporary
file behind. (A kill at a random point of an epoch: tests/test_resume.py.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ssllib.engine.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = Path(__file__).resolve().parent / "kill_during_write.py"

SELF_SUPERVISED = dict(method="mocov2", dataset="digits", width=4, image_size=8, epochs=3, batch_size=64,
                       queue_size=128, lr=0.05, ema_momentum=0.9, bn_splits=2, blur_p=0.0, monitor_every=1,
                       monitor_size=0, knn_k=10, seed=1, log_every=4, num_workers=0)
DISTILLATION = dict(method="kd", network="resnet8", teacher="resnet8", dataset="digits", image_size=8, epochs=3,
                    batch_size=64, lr_milestones=[2.0], train_subset=512, validation_size=128, seed=1, log_every=4)


def _start(tmp: Path, name: str, config: dict, kill_at: int = 0) -> subprocess.Popen:
    """``python -m ssllib.train`` on ``config`` into ``tmp/name``, one thread, started (two runs
    started together share the machine; a run's result does not depend on its speed)."""
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "SSLLIB_PROGRESS": "off", "OMP_NUM_THREADS": "1", "SSLLIB_KILL_AT_WRITE": str(kill_at)}
    return subprocess.Popen([sys.executable, "-m", "ssllib.train", str(path), "--plugin", str(PLUGIN),
                             "--runs-dir", str(tmp / name), "--ledger-dir", str(tmp / f"ledger-{name}")],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _train(tmp: Path, name: str, config: dict, kill_at: int = 0) -> subprocess.CompletedProcess:
    return _finish(_start(tmp, name, config, kill_at))


def _states(folder: Path) -> dict[str, dict]:
    return {p.parent.name: load_checkpoint(p) for p in sorted(folder.glob("*/checkpoint.pt"))}


def _same(a: dict, b: dict, path: str = "") -> None:
    assert a.keys() == b.keys(), path
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, dict):
            _same(x, y, f"{path}/{key}")
        elif isinstance(x, torch.Tensor):
            assert torch.equal(x, y), f"{path}/{key}"


def _same_runs(first: Path, second: Path) -> dict[str, dict]:
    """Every run folder's checkpoint under ``first`` equals the one under ``second``, tensor for
    tensor (weights, optimiser state, buffers, queues); returns ``first``'s checkpoints."""
    a, b = _states(first), _states(second)
    assert a.keys() == b.keys()
    for run in a:
        assert a[run]["epoch"] == b[run]["epoch"], run
        _same({k: v for k, v in a[run].items() if isinstance(v, dict)},
              {k: v for k, v in b[run].items() if isinstance(v, dict)}, run)
    return a


def _probe(tmp_path: Path):
    """(a function that runs the transfer probe of a fixed network into a folder, its
    uninterrupted result under tmp_path/whole)."""
    from ssllib.evaluate.transfer import TransferRecipe, transfer_probe
    from ssllib.nets.registry import build_classifier
    from tests.fixtures import tiny_dataset

    torch.manual_seed(0)
    net = build_classifier("resnet8", 3, 1)
    train = tiny_dataset(n=64, size=8, channels=1, classes=3)
    test = tiny_dataset(n=24, size=8, channels=1, classes=3, seed=1)
    recipe = TransferRecipe(epochs=3, lr_milestones=(2.0,), batch_size=16, size=8)

    from tests.fixtures import network_source

    def probe(folder: Path):
        return transfer_probe(network_source("resnet8"), lambda: net, train, test, recipe, runs_dir=folder)
    return probe, probe(tmp_path / "whole")


def _checkpoint(folder: Path) -> dict:
    """The checkpoint of the one run under ``folder``."""
    (path,) = folder.glob("*/checkpoint.pt")
    return load_checkpoint(path)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("family,config,kill_at", [
    ("self-supervised", SELF_SUPERVISED, 2),   # in the write of epoch 2
    ("distillation", DISTILLATION, 2),         # in the teacher's epoch-2 write
    ("distillation", DISTILLATION, 5),         # in the student's epoch-2 write (after the teacher's 3)
])
def test_a_kill_during_a_checkpoint_write_resumes_to_the_uninterrupted_result(tmp_path, family, config, kill_at):
    whole, killed = _start(tmp_path, "whole", config), _start(tmp_path, "killed", config, kill_at=kill_at)
    whole, killed = _finish(whole), _finish(killed)
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert list((tmp_path / "killed").rglob("*.tmp")), "the kill should have left a half-written temporary file"
    resumed = _train(tmp_path, "killed", config)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not list((tmp_path / "killed").rglob("*.tmp"))
    a = _same_runs(tmp_path / "whole", tmp_path / "killed")
    assert len(a) == (2 if family == "distillation" else 1)
    for run in a:
        assert a[run]["epoch"] == config["epochs"]
        record_a = json.loads((tmp_path / "whole" / run / "record.json").read_text())
        record_b = json.loads((tmp_path / "killed" / run / "record.json").read_text())
        assert record_a["metrics"] == record_b["metrics"]


def test_an_interrupted_transfer_probe_resumes_to_the_same_head(tmp_path, monkeypatch):
    from ssllib.engine import loop

    probe, whole = _probe(tmp_path)
    real, calls = loop.save_checkpoint, []

    def interrupted(state, path):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # in the middle of the second epoch's write
        real(state, path)
    monkeypatch.setattr(loop, "save_checkpoint", interrupted)
    with pytest.raises(KeyboardInterrupt):
        probe(tmp_path / "cut")
    monkeypatch.setattr(loop, "save_checkpoint", real)
    assert _checkpoint(tmp_path / "cut")["epoch"] == 1
    resumed = probe(tmp_path / "cut")
    assert resumed.metric("test_top1") == whole.metric("test_top1")
    _same(_checkpoint(tmp_path / "whole")["head"], _checkpoint(tmp_path / "cut")["head"])


@pytest.mark.timeout(600)
def test_a_distillation_killed_at_a_random_point_of_the_students_epoch_resumes_exactly(tmp_path):
    import random
    import signal
    import time

    config = {**DISTILLATION, "train_subset": 0, "image_size": 16, "epochs": 4, "lr_milestones": [3.0]}
    whole = _start(tmp_path, "whole", config)
    path = tmp_path / "run.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "SSLLIB_PROGRESS": "off", "OMP_NUM_THREADS": "1"}
    victim = subprocess.Popen([sys.executable, "-m", "ssllib.train", str(path), "--runs-dir", str(tmp_path / "killed"),
                               "--ledger-dir", str(tmp_path / "ledger")], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    student = lambda: [p for p in (tmp_path / "killed").glob("kd-*/checkpoint.pt")]  # noqa: E731
    deadline = time.time() + 240
    while not student() and time.time() < deadline:
        time.sleep(0.02)
    assert student(), "the student never wrote a checkpoint"
    start = time.time()
    while load_checkpoint(student()[0])["epoch"] < 2 and time.time() < deadline:
        time.sleep(0.02)
    epoch_seconds = time.time() - start
    time.sleep(random.Random(7).uniform(0.1, 0.8) * epoch_seconds)  # somewhere inside epoch 3
    assert victim.poll() is None, "the run finished before it could be killed; make it longer"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert 2 <= load_checkpoint(student()[0])["epoch"] < config["epochs"]
    whole = _finish(whole)
    assert whole.returncode == 0, whole.stderr[-2000:]
    resumed = _train(tmp_path, "killed", config)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    _same_runs(tmp_path / "whole", tmp_path / "killed")


def test_a_transfer_probe_stopped_at_a_random_step_resumes_to_the_same_head(tmp_path, monkeypatch):
    import random

    from ssllib.evaluate import transfer

    probe, whole = _probe(tmp_path)
    stop_at = random.Random(3).randrange(4, 12)  # a step of epoch 2 or 3 (4 steps an epoch)
    real, steps = transfer.TransferTask.inputs, []

    def stopping(self, *args):
        steps.append(1)
        if len(steps) == stop_at:
            raise KeyboardInterrupt
        return real(self, *args)
    monkeypatch.setattr(transfer.TransferTask, "inputs", stopping)
    with pytest.raises(KeyboardInterrupt):
        probe(tmp_path / "cut")
    monkeypatch.setattr(transfer.TransferTask, "inputs", real)
    resumed = probe(tmp_path / "cut")
    assert resumed.metric("test_top1") == whole.metric("test_top1") and len(resumed.history) == 3
    _same(_checkpoint(tmp_path / "whole")["head"], _checkpoint(tmp_path / "cut")["head"])
