"""The engine: a method declared outside ssllib trains through ``python -m ssllib.train``;
optimisers and schedules give the documented learning rate; parameter groups; gradient
clipping; no run reads the test split before its last epoch; validation splits."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from ssllib.engine.optim import Optimisation, build_optimizer, clip_gradients, learning_rate, parameter_groups
from ssllib.engine.params import Param, ParameterError
from ssllib.engine.registry import Method, register_method

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- a toy method


class ToyMethod(nn.Module):
    """Pulls the embeddings of two noisy copies of an image together (no negatives): enough to
    have a loss, a backbone and an option."""

    def __init__(self, backbone: nn.Module, noise: float):
        super().__init__()
        self.backbone, self.noise = backbone, noise

    def compiled_parts(self):
        return (self.backbone,)

    def make_inputs(self, images, labels, generator=None):
        x = images.float() / 255
        return (x + self.noise * torch.randn(x.shape, generator=generator),
                x + self.noise * torch.randn(x.shape, generator=generator))

    def forward(self, a, b, epoch=0, progress=0.0, generator=None):
        za, zb = F.normalize(self.backbone(a), dim=1), F.normalize(self.backbone(b), dim=1)
        loss = (2 - 2 * (za * zb).sum(1)).mean()
        return loss, {"loss": loss.detach(), "cosine": (za * zb).sum(1).mean().detach()}


def build_toy(cfg, dataset, size):
    from ssllib.nets.registry import build_backbone

    return ToyMethod(build_backbone(cfg.backbone, cfg.stem, cfg.width, dataset.channels, cfg.bn_splits, size),
                     cfg.options["noise"])


def check_toy(cfg):
    if cfg.options["noise"] > 1 and cfg.epochs > 1:
        raise ParameterError("toy: noise above 1 trains for one epoch only")


register_method(Method("toy_pull", "selfsup", build_toy, title="toy", help="a test method",
                       options={"noise": (Param("noise", float, "noise std of each copy", min=0.0), 0.1)},
                       check=check_toy, code=(__name__,)))


def test_a_method_declared_in_a_test_file_trains_through_the_command_line(tmp_path):
    run = {"method": "toy_pull", "dataset": "digits", "width": 4, "image_size": 8, "epochs": 2, "batch_size": 64,
           "monitor_every": 1, "monitor_size": 0, "knn_k": 10, "log_every": 4, "num_workers": 0,
           "options": {"noise": 0.05}}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run))
    command = [sys.executable, "-m", "ssllib.train", str(path), "--plugin", __file__,
               "--runs-dir", str(tmp_path / "runs"), "--ledger-dir", str(tmp_path / "ledger")]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    record = json.loads(Path(out.stdout.strip().splitlines()[-1]).read_text())
    assert record["method"] == "toy_pull" and record["config"]["options"] == {"noise": 0.05}
    assert len(record["history"]) == 2 and "cosine" in record["history"][-1]
    assert 0 <= record["metrics"]["knn_top1"]["value"] <= 100
    # its option is checked like any other, and its own cross-field check runs
    path.write_text(json.dumps({**run, "options": {"noise": -1}}))
    bad = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "noise=-1" in bad.stderr and "at least 0.0" in bad.stderr
    path.write_text(json.dumps({**run, "options": {"noise": 2.0}}))
    bad = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "trains for one epoch only" in bad.stderr


def test_the_toy_method_is_fingerprinted_by_its_own_module_only():
    from ssllib.engine.fingerprint import run_code_fingerprint

    assert run_code_fingerprint("toy_pull") != run_code_fingerprint("mocov2")


def test_an_unknown_method_gets_the_valid_names(tmp_path, capsys):
    from ssllib.train import main

    path = tmp_path / "run.json"
    path.write_text(json.dumps({"method": "moco_v2"}))
    with pytest.raises(SystemExit):
        main([str(path)])
    err = capsys.readouterr().err
    assert "method='moco_v2' is not a known method" in err and "did you mean 'mocov2'" in err


# ----------------------------------------------------------------------------- optimisers and schedules


def _recipe(**changes) -> Optimisation:
    return Optimisation(**{"epochs": 10, "lr": 0.4, **changes})


def test_cosine_with_warmup_gives_the_documented_rates():
    cfg = _recipe(lr_warmup_epochs=2, lr_min=0.04)
    steps = 5  # per epoch: 50 steps, 10 of warm-up
    assert learning_rate(cfg, 0, steps) == pytest.approx(0.4 / 10)          # (step + 1) / warm-up steps
    assert learning_rate(cfg, 9, steps) == pytest.approx(0.4)               # the end of warm-up is the peak
    assert learning_rate(cfg, 10, steps) == pytest.approx(0.4)              # cosine starts at the peak
    assert learning_rate(cfg, 30, steps) == pytest.approx(0.04 + 0.36 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert learning_rate(cfg, 50, steps) == pytest.approx(0.04)             # and ends at lr_min
    rates = [learning_rate(cfg, s, steps) for s in range(10, 50)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_step_schedule_drops_inside_an_epoch_and_constant_stays():
    cfg = _recipe(lr_schedule="step", lr_milestones=(2.5, 4.0), lr_decay=0.1)
    steps = 4
    assert [learning_rate(cfg, s, steps) for s in (0, 9, 10, 15, 16, 39)] == pytest.approx(
        [0.4, 0.4, 0.04, 0.04, 0.004, 0.004])
    flat = _recipe(lr_schedule="constant", lr_warmup_epochs=1)
    assert [learning_rate(flat, s, 4) for s in (0, 1, 3, 4, 39)] == pytest.approx([0.1, 0.2, 0.4, 0.4, 0.4])


def test_optimisers_and_the_no_decay_rule():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    scale = nn.Parameter(torch.tensor(1.0))  # a learnt scalar, as DCD's θ
    holder = nn.Module()
    holder.net, holder.scale = net, scale
    groups = parameter_groups([holder], 0.05, decay_norms_and_biases=False)
    decayed, plain = groups
    assert decayed["weight_decay"] == 0.05 and plain["weight_decay"] == 0.0
    assert {id(p) for p in decayed["params"]} == {id(net[0].weight), id(net[3].weight)}
    one_d = [p for p in holder.parameters() if p.dim() <= 1]
    assert {id(p) for p in plain["params"]} == {id(p) for p in one_d} and len(one_d) == 5  # conv bias, BN scale and shift, linear bias, the scalar
    assert len(parameter_groups([holder], 0.05)) == 1
    for name, kind in (("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)):
        opt = build_optimizer(_recipe(optimizer=name, decay_norms_and_biases=False, weight_decay=0.05), [holder])
        assert isinstance(opt, kind) and [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0]
    adamw = build_optimizer(_recipe(optimizer="adamw", adam_betas=(0.9, 0.95)), [holder])
    assert adamw.param_groups[0]["betas"] == (0.9, 0.95)
    # Weight decay through the gradient (adam) or decoupled (adamw): one step from w = 1 with no loss
    # gradient, lr 0.1, wd 0.1. Adam: g = 0.1, m̂ = 0.1, v̂ = 0.01, w − 0.1·0.1/√0.01 = 0.9. AdamW: w·(1 − 0.01) = 0.99.
    for name, expected in (("adam", 0.9), ("adamw", 0.99)):
        weight = nn.Linear(1, 1, bias=False)
        nn.init.ones_(weight.weight)
        step = build_optimizer(_recipe(optimizer=name, lr=0.1, weight_decay=0.1), [weight])
        weight.weight.grad = torch.zeros_like(weight.weight)
        step.step()
        assert weight.weight.item() == pytest.approx(expected, abs=1e-6), name
    nesterov = build_optimizer(_recipe(nesterov=True), [holder])
    assert nesterov.param_groups[0]["nesterov"] is True
    lars = build_optimizer(_recipe(optimizer="lars", weight_decay=1e-6, decay_norms_and_biases=False), [holder])
    assert type(lars).__name__ == "Lars" and lars.param_groups[1]["weight_decay"] == 0.0
    loss = net(torch.randn(2, 1, 8, 8)).sum() * scale
    loss.backward()
    lars.step()  # runs


def test_lars_scales_the_step_by_the_trust_ratio():
    w = nn.Parameter(torch.full((4, 4), 2.0))
    holder = nn.Module()
    holder.w = w
    lars = build_optimizer(_recipe(optimizer="lars", lr=1.0, sgd_momentum=0.0, weight_decay=1e-4), [holder])
    w.grad = torch.full((4, 4), 1.0)
    before = w.detach().clone()
    lars.step()
    # trust ratio 0.001·‖w‖/(‖g + wd·w‖) with ‖w‖ = 8, g + wd·w = 1.0002 everywhere
    ratio = 0.001 * 8.0 / (4 * 1.0002)
    assert torch.allclose(before - w.detach(), torch.full((4, 4), ratio * 1.0002), rtol=1e-4)


def test_gradient_clipping_bounds_the_global_norm():
    a, b = nn.Parameter(torch.zeros(3)), nn.Parameter(torch.zeros(4))
    holder = nn.Module()
    holder.a, holder.b = a, b
    opt = build_optimizer(_recipe(), [holder])
    a.grad, b.grad = torch.full((3,), 3.0), torch.full((4,), 4.0)
    norm = math.sqrt(9 * 3 + 16 * 4)
    clip_gradients(opt, 1.0)
    assert torch.cat([a.grad, b.grad]).norm().item() == pytest.approx(1.0, rel=1e-5)
    assert a.grad[0].item() == pytest.approx(3.0 / norm, rel=1e-5)
    clip_gradients(opt, 0.0)  # 0: untouched
    assert torch.cat([a.grad, b.grad]).norm().item() == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("changes,message", [
    ({"lr_schedule": "step"}, "needs lr_milestones"),
    ({"lr_milestones": (3.0, 1.0), "lr_schedule": "step"}, "increasing order"),
    ({"lr_warmup_epochs": 10}, "leaves no epochs after warm-up"),
])
def test_bad_schedules_get_one_sentence(changes, message):
    with pytest.raises(ParameterError, match=message):
        _recipe(**changes).check_optimisation()


def test_the_optimiser_settings_reach_a_run():
    from ssllib.selfsup.config import RunConfig

    cfg = RunConfig.from_dict({"optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.05, "grad_clip": 3.0,
                               "decay_norms_and_biases": False, "lr_warmup_epochs": 0.5})
    assert (cfg.optimizer, cfg.grad_clip, cfg.lr_warmup_epochs) == ("adamw", 3.0, 0.5)
    with pytest.raises(ParameterError, match="optimizer='adamx' is not one of the valid choices.*did you mean"):
        RunConfig.from_dict({"optimizer": "adamx"})


# ----------------------------------------------------------------------------- the test split


class _Watched:
    """Wraps a dataset; records, at every read of its images, how many epochs had finished."""

    def __init__(self, dataset, finished: list):
        self._dataset, self._finished, self.reads = dataset, finished, []

    def __getattr__(self, name):
        if name == "images":
            self.reads.append(len(self._finished))
        return getattr(self._dataset, name)

    def __len__(self):
        return len(self._dataset)


@pytest.mark.parametrize("family", ["selfsup", "distill"])
def test_no_run_reads_the_test_split_before_its_last_epoch(tmp_path, monkeypatch, family):
    from ssllib.engine import loop
    from tests.fixtures import tiny_dataset

    finished = []
    real_save = loop.save_checkpoint

    def save(state, path):
        finished.append(state["epoch"])
        real_save(state, path)
    monkeypatch.setattr(loop, "save_checkpoint", save)
    test = _Watched(tiny_dataset(n=32, size=8, channels=1, classes=3, seed=5), finished)
    dirs = dict(runs_dir=tmp_path / "runs", ledger_dir=tmp_path / "ledger")
    if family == "selfsup":
        from ssllib.selfsup.config import RunConfig
        from ssllib.selfsup.trainer import RunData, train

        train_set = tiny_dataset(n=128, size=8, channels=1, classes=3)
        cfg = RunConfig.from_dict(dict(dataset="digits", width=4, image_size=8, epochs=3, batch_size=32,
                                       queue_size=64, monitor_every=1, monitor_size=0, knn_k=5, log_every=2,
                                       num_workers=0, bn_splits=1))
        train(cfg, data=RunData(train_set, train_set, test, 8), **dirs)
        epochs = 3
    else:
        from ssllib.distill.config import DistillConfig
        from ssllib.distill.trainer import DistillData, train_distill

        data = DistillData(tiny_dataset(n=64, size=8, channels=1, classes=3), test, 8,
                           tiny_dataset(n=16, size=8, channels=1, classes=3, seed=2))
        cfg = DistillConfig.from_dict(dict(method="kd", network="resnet8", teacher="resnet8", epochs=3,
                                           batch_size=16, lr_milestones=[2.0], log_every=2, device="cpu"))
        train_distill(cfg, data=data, **dirs)
        epochs = 3 + 3  # the teacher's run, then the student's
    assert test.reads, "the test split was never read"
    assert finished[-1] == 3 and len(finished) == epochs
    # every read came after a run's last epoch: 3 epochs finished (and for distillation, 3 or 6)
    assert all(n in (3, 6) for n in test.reads), test.reads


# ----------------------------------------------------------------------------- splits


def test_validation_follows_the_training_subset_in_the_same_shuffle():
    from ssllib.data.splits import fixed_subset, train_and_validation
    from tests.fixtures import tiny_dataset

    data = tiny_dataset(n=100, size=4, channels=1, classes=5)
    train, val = train_and_validation(data, 60, 25)
    assert torch.equal(train.images, fixed_subset(data, 60).images)  # holding out never changes the training set
    key = lambda d: {bytes(img.numpy()) for img in d.images}  # noqa: E731
    assert len(val) == 25 and not key(train) & key(val)
    whole, val = train_and_validation(data, 0, 10)
    assert len(whole) == 90 and not key(whole) & key(val)
    assert train_and_validation(data, 60, 0)[1] is None
    with pytest.raises(ParameterError, match=r"train_subset=100 is larger than the 100 images of tiny's train split "
                                             r"less the validation_size=10 held out; give at most 90"):
        train_and_validation(data, 100, 10)


def test_the_repository_root_is_found_from_the_engine():
    """Records, results and published tables are found relative to the checkout."""
    from ssllib.chapters.notebook import paper_file
    from ssllib.engine.ledger import REPO_ROOT

    assert (REPO_ROOT / "pyproject.toml").exists() and (REPO_ROOT / "ssllib").is_dir()
    assert paper_file("synco", "reported.csv").exists()
