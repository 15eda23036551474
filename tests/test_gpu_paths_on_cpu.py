"""What a GPU run switches on, exercised on the CPU where it can be: a whole run under bf16
autocast, one with torch.compile, and channels-last with autocast. (NCCL and SyncBatchNorm need
CUDA and several processes: ``benchmarks/gpu-checks.sh`` runs them when a GPU is lent.)"""
import math

import pytest

from ssllib.engine.devices import uses_channels_last
from ssllib.selfsup.config import RunConfig
from ssllib.selfsup.trainer import train

RUN = dict(dataset="digits", width=16, image_size=16, epochs=1, batch_size=64, queue_size=128, lr=0.05,
           ema_momentum=0.9, temperature=0.2, bn_splits=2, blur_p=0.0, monitor_every=1, monitor_size=0, knn_k=10,
           seed=0, log_every=4, num_workers=0, device="cpu", train_subset=256)


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLLIB_PROGRESS", "off")
    return {"runs_dir": tmp_path / "runs", "ledger_dir": tmp_path / "ledger"}


def _finished(result) -> None:
    assert result.trained_now
    assert all(math.isfinite(h["loss"]) for h in result.history)
    assert 0 <= result.metric("knn_top1") <= 100 and 0 <= result.metric("linear_top1") <= 100


def test_a_whole_run_under_bf16_autocast_with_channels_last(dirs):
    result = train(RunConfig.from_dict({**RUN, "precision": "bf16", "channels_last": True}), **dirs)
    _finished(result)
    assert uses_channels_last(result.model)  # width 16: channels-last is safe on the CPU, and in use
    fp32 = train(RunConfig.from_dict({**RUN, "precision": "fp32", "channels_last": True}), **dirs)
    assert fp32.run_id != result.run_id  # the precision is part of what a run computes
    assert abs(result.history[0]["loss"] - fp32.history[0]["loss"]) < 0.5  # bf16 rounding, not another loss


@pytest.mark.timeout(600)
def test_a_whole_run_with_torch_compile(dirs):
    eager = train(RunConfig.from_dict(RUN), **dirs)
    compiled = train(RunConfig.from_dict({**RUN, "compile": True}), **dirs)
    assert compiled.run_id == eager.run_id  # compile changes how, not what: the same run
    assert not compiled.trained_now  # so it is read, not trained again: train it on its own
    from torch._dynamo.utils import counters

    counters.clear()
    compiled = train(RunConfig.from_dict({**RUN, "compile": True, "seed": 1}), **dirs)
    _finished(compiled)
    assert any(getattr(m, "_compiled_call_impl", None) is not None for m in compiled.model.modules())
    assert counters["stats"]["unique_graphs"] > 0  # dynamo traced and inductor compiled the step
