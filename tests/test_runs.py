"""Runs travel with the book: a run is found in the committed store (record and artifacts)
without training; a run whose code changed but whose computation did not is re-keyed after a
bit-for-bit check of its first epoch; a run whose computation changed is trained; artifacts are
written once and read back byte for byte."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ssllib.engine import artifacts, runs
from ssllib.review import curate
from ssllib.selfsup import trainer
from ssllib.selfsup.config import RunConfig

TINY = dict(dataset="digits", width=4, image_size=8, epochs=3, batch_size=64, queue_size=128, lr=0.05,
            ema_momentum=0.9, temperature=0.2, bn_splits=2, blur_p=0.0, monitor_every=1, monitor_size=0,
            knn_k=10, seed=0, log_every=4, num_workers=0)


@pytest.fixture
def places(tmp_path, monkeypatch):
    """A committed store and two machines' results folders (the second a fresh clone's)."""
    monkeypatch.setenv("SSLLIB_PAPERS", str(tmp_path / "papers"))
    monkeypatch.setenv("SSLLIB_PROGRESS", "off")
    monkeypatch.setenv("SSLLIB_QUIET", "1")
    return {"papers": tmp_path / "papers", "first": tmp_path / "first" / "runs", "second": tmp_path / "second" / "runs",
            "book": tmp_path / "book", "ledger": tmp_path / "ledger"}


def _train(cfg, runs_dir, ledger):
    return trainer.train(cfg, paper="foundations", profile="cpu", runs_dir=runs_dir, ledger_dir=ledger)


def _features_sum(result) -> dict:
    """A diagnostic that needs the weights: the summed features of a few images."""
    data = trainer.load_run_data(result.config)
    x = trainer.backbone_features(result.model.backbone, data.test.subset(torch.arange(16)), data.size, result.config)
    return {"sum": float(x.sum()), "first": x[0].cpu()}


def _commit(places, used: list[str]) -> None:
    """What the book builder does after executing a chapter: list what it used, curate it."""
    places["book"].mkdir(exist_ok=True)
    (places["book"] / "foundations.ipynb").write_text(json.dumps(
        {"cells": [], "metadata": {"ssllib": {"profile": "cpu", "runs": sorted(used)}}}))
    curate.curate("cpu", places["book"], places["first"], places["papers"])


def _used(monkeypatch) -> list[str]:
    noted: list[str] = []
    monkeypatch.setattr(runs, "note_run", noted.append)
    return noted


def test_a_fresh_clone_reads_committed_runs_and_their_artifacts_and_trains_nothing(places, monkeypatch):
    cfg = RunConfig.from_dict(TINY)
    noted = _used(monkeypatch)
    first = _train(cfg, places["first"], places["ledger"])
    value = first.derived("features-sum", lambda: _features_sum(first), key={"images": 16})
    assert first.source == "trained" and first.record["prefix"]["epochs"] == 1
    _commit(places, [n for n in noted if not n.startswith(runs.OUTCOMES)])
    folder = places["papers"] / "foundations" / "runs" / "cpu" / first.run_id
    assert (folder / "record.json").exists() and len(list((folder / "artifacts").glob("features-sum-*.npz"))) == 1

    monkeypatch.setattr(runs, "fit", lambda *a, **k: pytest.fail("a committed run was trained"))
    second = _train(cfg, places["second"], places["ledger"])
    assert second.source == "committed" and not second.trained_now
    assert second.record == json.loads((folder / "record.json").read_text())
    again = second.derived("features-sum", lambda: pytest.fail("a committed artifact was computed again"),
                           key={"images": 16})
    assert again["sum"] == value["sum"] and torch.equal(again["first"], value["first"])
    assert not places["second"].exists()          # nothing was written on the fresh clone


def test_a_refactor_is_rekeyed_by_its_first_epoch_and_a_change_of_numbers_is_trained(places, monkeypatch):
    cfg = RunConfig.from_dict(TINY)
    noted = _used(monkeypatch)
    first = _train(cfg, places["first"], places["ledger"])
    first.derived("features-sum", lambda: _features_sum(first), key={"images": 16})
    _commit(places, [n for n in noted if not n.startswith(runs.OUTCOMES)])
    epochs = []
    real_epoch = trainer.SelfSupervisedTask.after_epoch
    monkeypatch.setattr(trainer.SelfSupervisedTask, "after_epoch",
                        lambda self, epoch, entry: epochs.append(epoch) or real_epoch(self, epoch, entry))

    # the code's identity changes (as a refactor changes it), what it computes does not
    real = trainer.run_code_fingerprint
    monkeypatch.setattr(trainer, "run_code_fingerprint", lambda *a: "refactored" + real(*a))
    rekeyed = _train(cfg, places["first"], places["ledger"])
    assert rekeyed.source == "re-keyed" and rekeyed.run_id != first.run_id and epochs == [0]
    entry = rekeyed.record["rekeyed"][-1]
    assert entry["from"] == first.run_id and "final metrics recomputed" in entry["checked"]
    assert rekeyed.record["metrics"] == first.record["metrics"]
    kept = rekeyed.derived("features-sum", lambda: pytest.fail("a re-keyed run's artifact was computed again"),
                           key={"images": 16})
    assert isinstance(kept["sum"], float)

    # on a fresh clone (no checkpoint of the predecessor) the check is the first epoch alone
    epochs.clear()
    monkeypatch.setattr(trainer, "run_code_fingerprint", lambda *a: "moved" + real(*a))
    fresh = _train(cfg, places["second"], places["ledger"])
    assert fresh.source == "re-keyed" and epochs == [0]
    assert "final metrics" not in fresh.record["rekeyed"][-1]["checked"]

    # a change of what the loss computes: the first epoch differs and the run trains
    epochs.clear()
    import ssllib.selfsup.mocov2 as mocov2
    nce = mocov2.info_nce
    monkeypatch.setattr(mocov2, "info_nce", lambda logits, t: nce(logits, t) * 1.001)
    monkeypatch.setattr(trainer, "run_code_fingerprint", lambda *a: "changed" + real(*a))
    changed = _train(cfg, places["first"], places["ledger"])
    assert changed.source == "trained" and epochs == [0, 0, 1, 2]   # the failed check, then the whole run
    assert "rekeyed" not in changed.record
    assert changed.record["history"][0]["loss"] != first.record["history"][0]["loss"]


def test_a_change_of_the_final_evaluation_is_caught_where_the_checkpoint_is_here(places, monkeypatch):
    cfg = RunConfig.from_dict(TINY)
    first = _train(cfg, places["first"], places["ledger"])
    real_knn = trainer.knn_accuracy
    monkeypatch.setattr(trainer, "knn_accuracy", lambda *a, **k: real_knn(*a, **k) + 0.5)   # not in epoch 1's monitor
    real = trainer.run_code_fingerprint
    monkeypatch.setattr(trainer, "run_code_fingerprint", lambda *a: "evaluation changed" + real(*a))
    again = _train(cfg, places["first"], places["ledger"])
    assert again.source == "trained"
    assert again.record["metrics"]["knn_top1"]["value"] != first.record["metrics"]["knn_top1"]["value"]


def test_weights_asked_for_on_a_clone_without_them_train_the_run_and_replace_its_record(places, monkeypatch):
    cfg = RunConfig.from_dict(TINY)
    noted = _used(monkeypatch)
    first = _train(cfg, places["first"], places["ledger"])
    _commit(places, [n for n in noted if not n.startswith(runs.OUTCOMES)])
    noted.clear()
    second = _train(cfg, places["second"], places["ledger"])
    assert second.source == "committed"
    value = second.derived("features-sum", lambda: _features_sum(second), key={"images": 16})   # needs the weights
    assert second.source == "retrained" and f"{runs.REPLACED}{second.run_id}" in noted
    assert (places["second"] / second.run_id / "record.json").exists()
    assert second.record["state_sha256"] == first.record["state_sha256"]   # same machine, same threads: same run
    assert isinstance(value["sum"], float)


def test_a_checkpoint_that_is_not_the_recorded_run_is_not_used_for_its_weights(places, monkeypatch):
    cfg = RunConfig.from_dict(TINY)
    first = _train(cfg, places["first"], places["ledger"])
    state = torch.load(first.run.checkpoint_path, weights_only=True)
    state["model"] = {k: v + 1 if v.is_floating_point() else v for k, v in state["model"].items()}
    torch.save(state, first.run.checkpoint_path)
    found = _train(cfg, places["first"], places["ledger"])
    assert found.source == "local"
    found.model   # the digest differs from the record's: the run is trained again rather than mislabelled
    assert found.source == "retrained"


def test_artifacts_round_trip_and_give_the_same_bytes_each_time(tmp_path):
    value = {"points": np.arange(6, dtype=np.float32).reshape(3, 2), "labels": torch.tensor([1, 2, 3]),
             "name": "x", "n": 3, "nan": float("nan"), "nested": [{"a": 1.5}, None]}
    artifacts.write_artifact(value, tmp_path / "a" / "v")
    first = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    artifacts.write_artifact(value, tmp_path / "a" / "v")
    assert {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()} == first
    back = artifacts.read_artifact(tmp_path / "a" / "v")
    assert np.array_equal(back["points"], value["points"]) and torch.equal(back["labels"], value["labels"])
    assert back["name"] == "x" and back["n"] == 3 and np.isnan(back["nan"]) and back["nested"] == [{"a": 1.5}, None]
    with pytest.raises(TypeError, match="cannot hold a"):
        artifacts.write_artifact({"f": object()}, tmp_path / "b")


def test_an_edited_unsealed_or_damaged_artifact_is_refused(tmp_path):
    """An artifact (what a chapter draws of a run) is sealed with the SHA-256 of its tree and its
    arrays: an edited number, an edited array, a removed seal or garbage is one sentence naming
    the file and how to restore it; an artifact written before sealing can be sealed as it is."""
    import json
    value = {"points": np.arange(6, dtype=np.float32).reshape(3, 2), "top1": 53.93}
    stem = tmp_path / "a" / "v"
    artifacts.write_artifact(value, stem)
    text, npz = stem.with_suffix(".json"), stem.with_suffix(".npz")
    sealed = json.loads(text.read_text())
    cases = {"edited number": lambda: text.write_text(json.dumps({**sealed, "value": {**sealed["value"], "top1": 79.18}})),
             "edited array": lambda: npz.write_bytes(artifacts._npz_bytes({"a0": np.zeros((3, 2), np.float32)})),
             "no seal": lambda: text.write_text(json.dumps(sealed["value"])),
             "garbage": lambda: text.write_text("{ not json")}
    messages = {"edited number": "does not match its seal", "edited array": "does not match its seal",
                "no seal": "carries no seal", "garbage": "is not a readable artifact"}
    for name, damage in cases.items():
        artifacts.write_artifact(value, stem)
        damage()
        with pytest.raises(artifacts.ArtifactError, match=f"{messages[name]}.*git checkout -- .*delete the run's "
                                                          f"artifacts/ folder"):
            artifacts.read_artifact(stem)
    artifacts.write_artifact(value, stem)
    assert artifacts.read_artifact(stem)["top1"] == 53.93


@pytest.mark.parametrize("damage, message", [
    (lambda r: {**r, "metrics": {**r["metrics"], "knn_top1": {**r["metrics"]["knn_top1"], "value": 79.18}}},
     "does not match its digest: it was changed after the run wrote it"),
    (lambda r: {k: v for k, v in r.items() if k != "digest"}, "carries no digest"),
    (lambda r: "{ not json", "is not a readable run record"),
])
def test_an_edited_or_damaged_record_is_never_reused(places, monkeypatch, damage, message):
    """A finished run's record is sealed with the SHA-256 of its content: an edited metric, a
    removed digest or garbage is one sentence naming the file and how to restore it, and the
    number in it is never shown as the run's."""
    from ssllib.engine.checkpoint import CheckpointError
    cfg = RunConfig.from_dict({**TINY, "epochs": 1})
    first = _train(cfg, places["first"], places["ledger"])
    path = places["first"] / first.run_id / "record.json"
    on_disk = json.loads(path.read_text())
    assert on_disk["digest"] and on_disk["metrics"] == json.loads(json.dumps(first.record["metrics"]))
    damaged = damage(on_disk)
    path.write_text(damaged if isinstance(damaged, str) else json.dumps(damaged))
    monkeypatch.setattr(runs, "fit", lambda *a, **k: pytest.fail("a damaged record led to training"))
    with pytest.raises(CheckpointError, match=f"{path}.*{message}.*git checkout -- .*delete the run's folder"):
        _train(cfg, places["first"], places["ledger"])


def test_one_writer_per_run_and_a_killed_writers_lock_is_taken_over(places, monkeypatch):
    """Two processes on one run used to both train it, each deleting the other's temporary
    checkpoints. The run folder's lock names its live holder; a lock left by a killed process is
    stale and taken over; the lock is gone once the run is written."""
    import socket
    import subprocess

    from ssllib.engine.checkpoint import RunBusy
    from ssllib.selfsup.trainer import run_key_for
    cfg = RunConfig.from_dict({**TINY, "epochs": 1})
    lock = places["first"] / run_key_for(cfg).run_id / ".lock"
    lock.parent.mkdir(parents=True)
    live, dead = subprocess.Popen(["sleep", "30"]), subprocess.Popen(["true"])
    dead.wait()
    try:
        lock.write_text(json.dumps({"pid": live.pid, "host": socket.gethostname(), "since": "2026-12-06 09:00:00"}))
        monkeypatch.setattr(runs, "fit", lambda *a, **k: pytest.fail("a run held by another process was trained"))
        with pytest.raises(RunBusy, match=f"is being trained by process {live.pid} .*wait for it to finish or stop it"):
            _train(cfg, places["first"], places["ledger"])
        monkeypatch.undo()
        monkeypatch.setenv("SSLLIB_PAPERS", str(places["papers"]))
        lock.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": "2026-12-06 09:00:00"}))
        result = _train(cfg, places["first"], places["ledger"])
        assert result.source == "trained" and not lock.exists()
    finally:
        live.kill()
