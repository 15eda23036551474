"""The training loop: records, reuse of finished runs, divergence handling, schedules."""
import json

import pytest
import torch

from ssllib.engine import schedule
from ssllib.engine.checkpoint import load_checkpoint
from ssllib.selfsup.config import RunConfig
from ssllib.selfsup.trainer import TrainingDiverged, run_id_for, train

TINY = dict(dataset="digits", width=4, image_size=8, epochs=2, batch_size=64, queue_size=128, lr=0.05,
            ema_momentum=0.9, temperature=0.2, bn_splits=2, blur_p=0.0, monitor_every=1, monitor_size=0,
            knn_k=10, seed=0, log_every=4, num_workers=0)


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLLIB_PROGRESS", "off")
    return {"runs_dir": tmp_path / "runs", "ledger_dir": tmp_path / "ledger"}


def test_record_has_everything_the_ledger_promises(dirs):
    result = train(RunConfig.from_dict(TINY), paper="foundations", profile="smoke", **dirs)
    record = json.loads((dirs["ledger_dir"] / f"{result.run_id}.json").read_text())
    for key in ("paper", "method", "dataset", "backbone", "profile", "epochs", "seed", "metrics", "config",
                "environment", "wall_time_s", "started", "run_id", "code"):
        assert key in record, key
    assert record["metrics"]["knn_top1"]["protocol"]["k"] == 10
    assert record["metrics"]["linear_top1"]["protocol"]["protocol"] == "linear"
    assert record["environment"]["torch"] == torch.__version__
    assert len(record["history"]) == 2 and record["history"][-1]["epoch"] == 2
    assert 0 <= record["metrics"]["knn_top1"]["value"] <= 100


def test_finished_run_is_loaded_not_retrained(dirs):
    cfg = RunConfig.from_dict(TINY)
    first = train(cfg, **dirs)
    second = train(cfg, **dirs)
    assert first.trained_now and not second.trained_now
    assert second.record["metrics"] == first.record["metrics"]
    for (k, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu()), k
    other = train(cfg.replace(seed=1), **dirs)  # another configuration is another run
    assert other.trained_now and other.run_id != first.run_id


def test_nan_loss_stops_with_one_sentence_and_keeps_the_last_good_checkpoint(dirs, monkeypatch):
    import ssllib.selfsup.mocov2 as mocov2

    real = mocov2.info_nce
    calls = {"n": 0}

    def poisoned(logits, temperature):
        calls["n"] += 1
        loss = real(logits, temperature)
        return loss * float("nan") if calls["n"] > 18 else loss  # digits: 18 steps per epoch

    monkeypatch.setattr(mocov2, "info_nce", poisoned)
    cfg = RunConfig.from_dict(TINY)
    with pytest.raises(TrainingDiverged) as err:
        train(cfg, **dirs)
    message = str(err.value)
    assert "at epoch 2" in message and "\n" not in message
    assert "the settings that could cause it: lr=0.05, weight_decay=0.0001, temperature=0.2, batch_size=64" in message
    assert "lower the learning rate first" in message
    state = load_checkpoint(dirs["runs_dir"] / run_id_for(cfg) / "checkpoint.pt")
    assert state["epoch"] == 1


def test_warmup_cosine_schedule():
    assert schedule.warmup_cosine(0, 100, 10, 1.0) == pytest.approx(0.1)
    assert schedule.warmup_cosine(9, 100, 10, 1.0) == pytest.approx(1.0)
    assert schedule.warmup_cosine(10, 100, 10, 1.0) == pytest.approx(1.0)
    assert schedule.warmup_cosine(55, 100, 10, 1.0) == pytest.approx(0.5)
    assert schedule.warmup_cosine(100, 100, 10, 1.0) == pytest.approx(0.0)
    values = [schedule.warmup_cosine(s, 100, 10, 1.0) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(values, values[1:]))  # non-increasing after warm-up
    assert schedule.step_decay(150, 0.05, (150, 180, 210)) == pytest.approx(0.005)
    assert schedule.step_decay(149.9, 0.05, (150, 180, 210)) == pytest.approx(0.05)


def test_supervised_method_trains_a_classifier(dirs):
    cfg = RunConfig.from_dict({**TINY, "method": "supervised", "epochs": 3, "lr": 0.1})
    result = train(cfg, **dirs)
    assert result.history[-1]["train_acc"] > result.history[0]["train_acc"]
    assert result.metric("linear_top1") > 50  # digits is easy for a trained classifier's features


def test_a_run_starts_from_its_seeds_random_init_and_the_baseline_measures_that_network(tmp_path, monkeypatch):
    """Epoch 0 of a chapter's budget curve is the random-init baseline of the same seed: the
    network a run of any method starts from (MoCo-v2 and SynCo alike), measured on the monitor."""
    from ssllib.chapters.selfsup_experiments import random_init
    from ssllib.selfsup.trainer import SelfSupervisedTask, backbone_features, load_run_data, monitor_accuracy

    monkeypatch.setenv("SSLLIB_RESULTS", str(tmp_path))
    options = {"n_hard": 16, "n1": 2, "n2": 2, "n3": 2, "n4": 2, "n5": 2, "n6": 2, "warmup_epochs": 1}
    cfg = RunConfig.from_dict({**TINY, "method": "synco", "options": options, "seed": 0})
    data = load_run_data(cfg)
    start = SelfSupervisedTask(cfg, data, torch.device("cpu"), evaluate=False).model
    reference = SelfSupervisedTask(cfg.replace(method="mocov2", options={}), data, torch.device("cpu"), False).model
    for (name, x), (_, y) in zip(start.backbone.state_dict().items(), reference.backbone.state_dict().items()):
        assert torch.equal(x, y), name
    other_seed = SelfSupervisedTask(cfg.replace(seed=1), data, torch.device("cpu"), evaluate=False).model
    assert not torch.equal(next(other_seed.backbone.parameters()), next(start.backbone.parameters()))
    start.eval()
    level = monitor_accuracy(lambda d: backbone_features(start.backbone, d, data.size, cfg),
                             data.monitor_split(cfg.monitor_size, cfg.monitor_test), cfg)
    baseline = random_init(cfg.replace(method="mocov2", options={}), [0], data, paper="foundations", profile="smoke")[0]
    assert baseline["knn_monitor_top1"]["value"] == pytest.approx(level)
