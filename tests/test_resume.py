"""A run killed with SIGKILL part-way and resumed ends exactly where an uninterrupted run ends."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ssllib.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ssllib.selfsup.config import RunConfig
from ssllib.selfsup.trainer import run_id_for

CONFIG = dict(dataset="digits", width=8, image_size=24, epochs=4, batch_size=64, queue_size=256,
              lr=0.05, ema_momentum=0.9, temperature=0.2, bn_splits=2, blur_p=0.5, crop_min_scale=0.3,
              monitor_every=1, monitor_size=0, knn_k=20, seed=3, log_every=5, num_workers=0)


def _launch(tmp: Path, name: str) -> subprocess.Popen:
    cfg_path = tmp / "run.json"
    cfg_path.write_text(json.dumps(CONFIG))
    env = {**os.environ, "SSLLIB_PROGRESS": "off", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "ssllib.train", str(cfg_path), "--runs-dir", str(tmp / name),
                             "--ledger-dir", str(tmp / f"ledger-{name}")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _final(tmp: Path, name: str):
    run_dir = tmp / name / run_id_for(RunConfig.from_dict(CONFIG))
    state = load_checkpoint(run_dir / "checkpoint.pt")
    record = json.loads((run_dir / "record.json").read_text())
    return state, record


@pytest.mark.timeout(300)
def test_resume_after_sigkill_equals_uninterrupted(tmp_path):
    whole = _launch(tmp_path, "whole")   # beside the victim: one thread each, so both fit on two cores
    victim = _launch(tmp_path, "killed")
    ckpt = tmp_path / "killed" / run_id_for(RunConfig.from_dict(CONFIG)) / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert ckpt.exists(), "no checkpoint appeared"
    first = time.time()
    while load_checkpoint(ckpt)["epoch"] < 2 and time.time() < deadline:
        time.sleep(0.05)
    epoch_seconds = time.time() - first
    time.sleep(epoch_seconds / 2)  # part-way through epoch 3
    assert victim.poll() is None, "the run finished before it could be interrupted; make it longer"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    interrupted_at = load_checkpoint(ckpt)["epoch"]
    assert 2 <= interrupted_at < CONFIG["epochs"]
    out, err = whole.communicate(timeout=240)
    assert whole.returncode == 0, err

    resumed = _launch(tmp_path, "killed")
    out, err = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, err

    (s1, r1), (s2, r2) = _final(tmp_path, "whole"), _final(tmp_path, "killed")
    assert s1["epoch"] == s2["epoch"] == CONFIG["epochs"]
    for key in s1["model"]:
        assert torch.equal(s1["model"][key], s2["model"][key]), key
    strip = lambda hist: [{k: v for k, v in h.items() if k != "seconds"} for h in hist]
    assert strip(r1["history"]) == strip(r2["history"])
    assert r1["metrics"] == r2["metrics"]


def test_truncated_checkpoint_is_reported_and_kept(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"model": {"w": torch.ones(1000)}, "epoch": 3}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        load_checkpoint(path)
    assert path.stat().st_size == len(data) // 2  # left where it is for the user to inspect


def test_trainer_refuses_a_truncated_checkpoint_without_destroying_it(tmp_path):
    from ssllib.selfsup.trainer import train

    cfg = RunConfig.from_dict({**CONFIG, "epochs": 1, "width": 4, "image_size": 8})
    run_dir = tmp_path / "runs" / run_id_for(cfg)
    run_dir.mkdir(parents=True)
    (run_dir / "checkpoint.pt").write_bytes(b"PK\x03\x04 not really a checkpoint")
    with pytest.raises(CheckpointError, match="move it aside"):
        train(cfg, runs_dir=tmp_path / "runs", ledger_dir=tmp_path / "ledger")
    assert (run_dir / "checkpoint.pt").read_bytes() == b"PK\x03\x04 not really a checkpoint"


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"epoch": 1}, path)

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", explode)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"epoch": 2}, path)
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary left behind
