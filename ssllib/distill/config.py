"""The configuration of one distillation run (teacher training, a student alone, or a student
distilled by KD, CRD, RRD, DCD or their sums with KD), as plain values.

The benchmark's loss is r·CE + a·KD + b·L_method. Weights and the learning rate left unset
(None) take the benchmark's value for the method and network, filled in when the configuration
is made, so two runs that differ only by leaving a default implicit share one fingerprint.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import DATASETS
from ..params import ParameterError, check_all, dataclass_params
from ..params import param_field as _p
from .zoo import LOW_LR_NETWORKS, ZOO

# (r, a, b): the weights of CE, KD and the method's own loss in the benchmark.
METHOD_WEIGHTS = {
    "ce": (1.0, 0.0, 0.0), "kd": (0.1, 0.9, 0.0),
    "crd": (1.0, 0.0, 0.8), "crd_kd": (1.0, 1.0, 0.8),
    "rrd": (1.0, 0.0, 1.0), "rrd_kd": (1.0, 1.0, 1.0),
    "dcd": (1.0, 0.0, 1.0), "dcd_kd": (1.0, 1.0, 1.0),
}
METHOD_TITLES = {"ce": "cross-entropy", "kd": "KD", "crd": "CRD", "crd_kd": "CRD+KD", "rrd": "RRD",
                 "rrd_kd": "RRD+KD", "dcd": "DCD", "dcd_kd": "DCD+KD"}


@dataclass(frozen=True)
class DistillConfig:
    # what is trained, on what
    method: str = _p("rrd", "loss besides cross-entropy: ce (no teacher), kd, crd, crd_kd, rrd, rrd_kd, dcd, dcd_kd",
                     choices=tuple(METHOD_WEIGHTS))
    network: str = _p("resnet8x4", "the network trained (the student; the teacher itself for method ce)",
                      choices=tuple(ZOO))
    teacher: str | None = _p("resnet32x4", "the teacher network (None for method ce)", choices=tuple(ZOO),
                             nullable=True)
    teacher_checkpoint: str | None = _p(None, "a teacher checkpoint to use instead of training the teacher",
                                        nullable=True)
    teacher_seed: int = _p(0, "seed of the teacher run (trained once, reused by every student)", min=0)
    dataset: str = _p("cifar100", "dataset", choices=tuple(DATASETS))
    data_root: str | None = _p(None, "folder holding the datasets (default $SSLLIB_DATA or ~/.cache/ssllib/data)",
                               nullable=True)
    download: bool = _p(False, "fetch the dataset with torchvision if it is not on disk")
    train_subset: int = _p(0, "train on the first N images of a fixed shuffle (0: all)", min=0)
    image_size: int = _p(0, "side of the network's input in pixels (0: the dataset's own size)", min=0)
    # the loss
    ce_weight: float | None = _p(None, "r: weight of cross-entropy (None: the benchmark's for the method)",
                                 min=0.0, nullable=True)
    kd_weight: float | None = _p(None, "a: weight of KD (None: the benchmark's for the method)", min=0.0,
                                 nullable=True)
    distill_weight: float | None = _p(None, "b: weight of the method's own loss (None: the benchmark's)", min=0.0,
                                      nullable=True)
    kd_temperature: float = _p(4.0, "T of KD's softened softmax", min=1e-3)
    embed_dim: int = _p(128, "size of the projected embeddings of CRD, RRD and DCD", min=1)
    crd_negatives: int = _p(16384, "CRD: negatives per sample, drawn from other classes", min=1)
    crd_temperature: float = _p(0.07, "CRD: temperature of the scores", min=1e-4)
    crd_momentum: float = _p(0.5, "CRD: memory-bank update m in normalize(m·old + (1−m)·new)", min=0.0, max=1.0)
    rrd_queue: int = _p(16384, "RRD: length of the FIFO queue of teacher embeddings", min=1)
    rrd_tau_s: float = _p(0.04, "RRD: student temperature τ_s (2024 code 0.04; 2025 code 0.1)", min=1e-4)
    rrd_tau_t: float = _p(0.10, "RRD: teacher temperature τ_t (2024 code 0.10; 2025 code 0.02)", min=1e-6)
    rrd_enqueue: str = _p("after", "RRD: enqueue the batch's teacher embeddings after the loss (2024 code) or "
                          "before scoring (2025 code)", choices=("after", "before"))
    dcd_alpha: float = _p(0.5, "DCD: weight α of the consistency term", min=0.0)
    # optimisation
    epochs: int = _p(240, "training epochs", min=1)
    batch_size: int = _p(64, "images per step (the last partial batch is dropped)", min=2)
    lr: float | None = _p(None, "learning rate (None: 0.05, or 0.01 for MobileNetV2 and ShuffleNets)", min=0.0,
                          nullable=True)
    lr_milestones: tuple = _p((150.0, 180.0, 210.0), "epochs after which the learning rate is multiplied by "
                              "lr_decay", min=0.0)
    lr_decay: float = _p(0.1, "factor applied to the learning rate at each milestone", min=0.0, max=1.0)
    weight_decay: float = _p(5e-4, "SGD weight decay", min=0.0)
    sgd_momentum: float = _p(0.9, "SGD momentum", min=0.0, max=1.0)
    # system
    seed: int = _p(0, "random seed", min=0)
    device: str = _p("auto", "training device", choices=("auto", "cuda", "mps", "cpu"))
    precision: str = _p("auto", "autocast precision (auto: bf16 on CUDA, fp32 elsewhere)",
                        choices=("auto", "bf16", "fp32"))
    channels_last: bool = _p(True, "channels-last memory format for convolutions")
    log_every: int = _p(50, "steps between synchronised loss checks and progress updates", min=1)

    @property
    def weights(self) -> tuple[float, float, float]:
        return self.ce_weight, self.kd_weight, self.distill_weight

    @property
    def title(self) -> str:
        return METHOD_TITLES[self.method]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["lr_milestones"] = list(self.lr_milestones)
        return d

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DistillConfig":
        """Checked values with the benchmark's defaults filled in (weights, learning rate)."""
        checked = check_all(DISTILL_PARAMS, dict(values), "a distillation configuration")
        cfg = cls(**checked)
        method, network = cfg.method, cfg.network
        fill = dict(zip(("ce_weight", "kd_weight", "distill_weight"), METHOD_WEIGHTS[method]))
        fill = {k: v for k, v in fill.items() if getattr(cfg, k) is None}
        if cfg.lr is None:
            fill["lr"] = 0.01 if network in LOW_LR_NETWORKS else 0.05
        if method == "ce":
            fill.update(teacher=None, teacher_checkpoint=None, teacher_seed=0)
        cfg = dataclasses.replace(cfg, **fill)
        cfg.validate()
        return cfg

    def replace(self, **changes) -> "DistillConfig":
        """A copy with ``changes``; a change of method or network re-derives the defaults the
        benchmark ties to them (weights, learning rate) unless they are given."""
        values = self.to_dict()
        if "method" in changes:
            values.update(ce_weight=None, kd_weight=None, distill_weight=None)
        if "network" in changes:
            values["lr"] = None
        return DistillConfig.from_dict({**values, **changes})

    def teacher_config(self) -> "DistillConfig":
        """The run that trains this configuration's teacher: the same recipe and data, seed
        ``teacher_seed``, cross-entropy only."""
        if self.teacher is None:
            raise ParameterError(f"method {self.method!r} has no teacher")
        return self.replace(method="ce", network=self.teacher, seed=self.teacher_seed)

    def validate(self) -> None:
        if self.method != "ce" and self.teacher is None:
            raise ParameterError(f"method {self.method!r} distils from a teacher; set teacher to one of the "
                                 f"networks ({', '.join(ZOO)})")
        if self.method.startswith("rrd") and self.rrd_queue % self.batch_size:
            raise ParameterError(f"rrd_queue={self.rrd_queue} is not a multiple of batch_size={self.batch_size}; "
                                 f"the FIFO queue must take whole batches (e.g. rrd_queue="
                                 f"{max(1, round(self.rrd_queue / self.batch_size)) * self.batch_size})")
        if self.teacher_checkpoint and not Path(self.teacher_checkpoint).expanduser().is_file():
            raise ParameterError(f"teacher_checkpoint={self.teacher_checkpoint!r} is not a file; give the path of a "
                                 f"checkpoint of a trained {self.teacher}, or None to train the teacher")
        if list(self.lr_milestones) != sorted(self.lr_milestones):
            raise ParameterError(f"lr_milestones={list(self.lr_milestones)} must be in increasing order")

    def fingerprint(self, code: str = "") -> str:
        """A short hash of everything that determines the result (not device or logging)."""
        d = self.to_dict()
        for k in ("device", "log_every", "data_root", "download"):
            d.pop(k)
        blob = json.dumps(d, sort_keys=True) + code
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


DISTILL_PARAMS = dataclass_params(DistillConfig)
