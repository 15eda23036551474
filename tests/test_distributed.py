"""Two processes under torchrun (gloo, CPU) train what one process trains with the same global
batch, up to the order of floating-point sums: after a whole epoch every tensor of the model's
state (weights, momentum weights, queue, batch-norm running statistics and counters) agrees,
for MoCo-v2 and SynCo.

Batch norm is made comparable the way the library defines the split: process r owns rows
r, r + 2, … of each global batch, which is the grouping of SplitBatchNorm, so the one-process
run uses ``bn_splits=2`` and each of the two processes plain batch norm over its half.
"""
import json
from pathlib import Path

import pytest
import torch

from ssllib.engine.checkpoint import load_checkpoint
from ssllib.selfsup.config import RunConfig
from ssllib.engine.distributed import draw_rows, gather_global, own_rows
from ssllib.selfsup.momentum import Queue
from ssllib.engine.launch import torchrun_command, train_on_processes
from ssllib.selfsup.trainer import train

BASE = dict(dataset="digits", train_subset=128, width=8, image_size=16, embed_dim=16, epochs=1, batch_size=32,
            queue_size=96, lr=0.02, ema_momentum=0.9, seed=5, log_every=2, monitor_every=0, num_workers=0,
            channels_last=False, knn_k=16)   # a run's kNN must fit its bank (64 images), evaluated or not
SYNCO_OPTIONS = dict(n_hard=16, n1=3, n2=3, n3=3, n4=2, n5=2, n6=2, warmup_epochs=0)


def _state(runs: Path, run_id: str) -> dict:
    return load_checkpoint(runs / run_id / "checkpoint.pt")["model"]


@pytest.mark.timeout(300)
# SynCo for two steps only: its hard set is a top-k, so once rounding differences of 1e-6 (sums
# taken in another order) reach two nearly tied queue entries, a later step picks another one.
@pytest.mark.parametrize("method, options, steps", [("mocov2", {}, 4), ("synco", SYNCO_OPTIONS, 2)])
def test_two_processes_equal_one(tmp_path, method, options, steps):
    two = RunConfig.from_dict({**BASE, "method": method, "options": options, "train_subset": 32 * steps})
    record = train_on_processes(two, 2, runs_dir=tmp_path / "two", ledger_dir=tmp_path / "ledger", evaluate=False,
                                echo=False)
    assert record["environment"]["processes"] == 2
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the arithmetic of each launched process (OMP_NUM_THREADS=1)
    try:
        one = train(two.replace(bn_splits=2), evaluate=False, runs_dir=tmp_path / "one",
                    ledger_dir=tmp_path / "ledger")
    finally:
        torch.set_num_threads(threads)
    assert one.run_id != record["run_id"]  # the process count is part of a run's identity

    a, b = one.model.state_dict(), _state(tmp_path / "two", record["run_id"])
    assert int(a["queue.ptr"]) == int(b["queue.ptr"]) == steps * 32 % 96
    torch.testing.assert_close(b["queue.keys"], a["queue.keys"], atol=2e-5, rtol=1e-4)
    # the batches' keys replaced the random initial keys
    initial = Queue(96, 16, torch.Generator().manual_seed(BASE["seed"])).keys
    moved = (b["queue.keys"] - initial).abs().amax(dim=1) > 1e-3
    assert moved.sum() == min(96, steps * 32)
    assert set(a) == set(b)
    for name in a:  # every parameter and buffer, the batch-norm running statistics included
        if a[name].is_floating_point():
            torch.testing.assert_close(b[name], a[name], atol=2e-5, rtol=1e-4, msg=lambda m: f"{name}: {m}")
        else:
            assert torch.equal(b[name], a[name]), name
    assert any("running_var" in name for name in a) and any("momentum_encoder" in name for name in a)
    losses = [h["loss"] for h in one.history[0]["trace"]], [h["loss"] for h in record["history"][0]["trace"]]
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)


def test_one_process_helpers_are_identities():
    x = torch.arange(12.0).view(6, 2)
    assert own_rows(x) is x and gather_global(x) is x
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.equal(draw_rows(lambda n: torch.rand(n, 3, generator=g1), 6), torch.rand(6, 3, generator=g2))


def test_launch_refuses_a_bad_process_count(tmp_path):
    with pytest.raises(ValueError, match="positive whole number"):
        torchrun_command(tmp_path / "run.json", 0)
    command = torchrun_command(tmp_path / "run.json", 2, runs_dir=tmp_path, evaluate=False)
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert "--no-eval" in command and str(tmp_path) in command


@pytest.mark.timeout(300)
def test_two_process_distillation_trains_the_teacher_once_and_updates_every_bank_slot(tmp_path):
    """CRD+KD on two processes: the teacher run is trained once (by both processes together),
    and each step's bank update covers the global batch, so after one epoch of 128 images every
    slot of both banks holds an update (unit length; the random initial rows are not)."""
    from ssllib.distill.config import DistillConfig

    cfg = DistillConfig.from_dict(dict(method="crd_kd", network="resnet8", teacher="resnet8", dataset="digits",
                                       train_subset=128, image_size=16, epochs=1, batch_size=32, options={"crd_negatives": 64},
                                       lr_milestones=[0.5], log_every=2))
    record = train_on_processes(cfg, 2, runs_dir=tmp_path / "runs", ledger_dir=tmp_path / "ledger", echo=False)
    assert record["environment"]["processes"] == 2 and record["method"] == "crd_kd"
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "runs").iterdir()) == ["ce", "crd_kd"]
    criterion = load_checkpoint(tmp_path / "runs" / record["run_id"] / "checkpoint.pt")["criterion"]
    for bank in ("memory_s", "memory_t"):
        norms = criterion[bank].norm(dim=1)
        assert len(norms) == 128
        torch.testing.assert_close(norms, torch.ones(128), atol=1e-5, rtol=0)


class _SplitBatchNorm1d(torch.nn.BatchNorm1d):
    """Batch norm over two interleaved halves of the batch (rows r, r + 2, …): what each of two
    processes computes over its own rows. Same parameters and buffers as BatchNorm1d."""

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        n, c = x.shape
        mean, var = self.running_mean.repeat(2), self.running_var.repeat(2)
        out = torch.nn.functional.batch_norm(x.reshape(n // 2, 2 * c), mean, var, self.weight.repeat(2),
                                             self.bias.repeat(2), True, self.momentum, self.eps)
        with torch.no_grad():  # as the per-epoch average over processes leaves them
            self.running_mean.copy_(mean.view(2, c).mean(0))
            self.running_var.copy_(var.view(2, c).mean(0))
            self.num_batches_tracked.add_(1)
        return out.view(n, c)


@pytest.mark.timeout(300)
def test_the_vit_path_on_two_processes_equals_one(tmp_path, monkeypatch):
    """MoBY (a queue per view, predictor, BN-MLP heads) on the micro ViT: two gloo processes
    train what one process trains when the heads' batch norm takes the same two halves. SGD, not
    MoBY's AdamW: Adam's first steps move each weight by about ±lr whatever the gradient's size,
    so a gradient that is 0 up to rounding can step either way, and the comparison would measure
    that rather than the distributed path."""
    import ssllib.selfsup.build as build
    from ssllib.nets.heads import bn_mlp_head

    vit = RunConfig.from_dict({**BASE, "method": "moby", "backbone": "vit_micro_small_image", "shuffle_keys": False,
                               "drop_path": 0.0, "train_subset": 64,
                               "options": {"head_hidden_dim": 32}})
    record = train_on_processes(vit, 2, runs_dir=tmp_path / "two", ledger_dir=tmp_path / "ledger", evaluate=False,
                                echo=False)

    def split_head(*dims):
        head = bn_mlp_head(*dims)
        split = _SplitBatchNorm1d(dims[1])
        split.load_state_dict(head[1].state_dict())
        head[1] = split
        return head
    monkeypatch.setattr(build, "bn_mlp_head", split_head)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = train(vit, evaluate=False, runs_dir=tmp_path / "one", ledger_dir=tmp_path / "ledger")
    finally:
        torch.set_num_threads(threads)
    a, b = one.model.state_dict(), _state(tmp_path / "two", record["run_id"])
    assert set(a) == set(b) and any("queue_2" in name for name in a) and any("predictor" in name for name in a)
    for name in a:
        if a[name].is_floating_point():
            torch.testing.assert_close(b[name], a[name], atol=5e-5, rtol=1e-4, msg=lambda m: f"{name}: {m}")
        else:
            assert torch.equal(b[name], a[name]), name
