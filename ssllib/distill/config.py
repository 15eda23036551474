"""The configuration of one distillation run (a teacher trained with cross-entropy, a student
alone, or a student distilled by one of the family's methods), as plain values.

The benchmark's loss is r·CE + a·KD + b·L_method. Weights and the learning rate left unset
(None) take the value the method declares (its ``defaults``) and the benchmark's learning rate
for the network, filled in when the configuration is made, so two runs that differ only by
leaving a default implicit share one fingerprint. A method's own settings (queue length,
temperatures, …) are its ``options``, declared beside it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssllib.data import DATASETS
from ssllib.data.splits import check_sizes
from ssllib.engine.config import Configuration
from ssllib.engine.params import ParameterError, dataclass_params
from ssllib.engine.params import param_field as _p
from ssllib.engine.registry import method as find_method
from ssllib.nets.zoo import LOW_LR_NETWORKS, ZOO

WEIGHTS = ("ce_weight", "kd_weight", "distill_weight")


@dataclass(frozen=True)
class DistillConfig(Configuration):
    NOT_IDENTITY = ("device", "log_every", "data_root", "download")

    # what is trained, on what
    method: str = _p("rrd", "loss besides cross-entropy: ce (no teacher), or a distillation method")
    network: str = _p("resnet8x4", "the network trained (the student; the teacher itself for method ce)",
                      choices=tuple(ZOO))
    teacher: str | None = _p("resnet32x4", "the teacher network (None for method ce)", choices=tuple(ZOO),
                             nullable=True)
    teacher_checkpoint: str | None = _p(None, "a teacher checkpoint to use instead of training the teacher",
                                        nullable=True)
    teacher_seed: int = _p(0, "seed of the teacher run (trained once, reused by every student)", min=0)
    teacher_epochs: int | None = _p(None, "epochs of the teacher run, its milestones scaled to match (None: epochs)",
                                    min=1, nullable=True)
    dataset: str = _p("cifar100", "dataset", choices=tuple(DATASETS))
    data_root: str | None = _p(None, "folder holding the datasets (default $SSLLIB_DATA or ~/.cache/ssllib/data)",
                               nullable=True)
    download: bool = _p(False, "fetch the dataset with torchvision if it is not on disk")
    train_subset: int = _p(0, "train on the first N images of a fixed shuffle (0: all)", min=0)
    validation_size: int = _p(0, "training images held out (after the subset, in the same shuffle) to choose the "
                                 "best epoch on; 0: none held out, no best epoch", min=0)
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
    # optimisation: the benchmark's recipe
    epochs: int = _p(240, "training epochs", min=1)
    batch_size: int = _p(64, "images per step (the last partial batch is dropped)", min=2)
    lr: float | None = _p(None, "learning rate (None: 0.05, or 0.01 for MobileNetV2 and ShuffleNets)", min=0.0,
                          nullable=True)
    weight_decay: float = _p(5e-4, "weight decay", min=0.0)
    lr_schedule: str = _p("step", "learning-rate schedule: step (× lr_decay at each milestone), cosine or constant",
                          choices=("step", "cosine", "constant"))
    lr_milestones: tuple = _p((150.0, 180.0, 210.0), "epochs after which the learning rate is multiplied by "
                              "lr_decay", min=0.0)
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
        return find_method(self.method).label

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DistillConfig":
        """Checked values with the benchmark's defaults filled in (weights, learning rate)."""
        spec, cfg = cls.checked(values, DISTILL_PARAMS, "distill", "rrd", "a distillation configuration")
        network = cfg.network
        fill = {k: v for k, v in spec.defaults.items() if getattr(cfg, k) is None}
        if cfg.lr is None:
            fill["lr"] = 0.01 if network in LOW_LR_NETWORKS else 0.05
        if not needs_teacher(spec):
            fill.update(teacher=None, teacher_checkpoint=None, teacher_seed=0, teacher_epochs=None)
        cfg = dataclasses.replace(cfg, **fill)
        cfg.validate()
        if spec.check is not None:
            spec.check(cfg)
        return cfg

    def replace(self, **changes) -> "DistillConfig":
        """A copy with ``changes``; a change of method or network re-derives the defaults the
        benchmark ties to them (weights, learning rate) unless they are given."""
        values = self.to_dict()
        if "method" in changes and changes["method"] != self.method:
            values.update(ce_weight=None, kd_weight=None, distill_weight=None)
            if "options" not in changes:
                values["options"] = {}
        if "network" in changes:
            values["lr"] = None
        return DistillConfig.from_dict({**values, **changes})

    def teacher_config(self) -> "DistillConfig":
        """The run that trains this configuration's teacher: the same recipe and data, seed
        ``teacher_seed``, cross-entropy only; with ``teacher_epochs`` the schedule is stretched
        to that many epochs (milestones at the same fractions of training)."""
        if self.teacher is None:
            raise ParameterError(f"method {self.method!r} has no teacher")
        from ssllib.distill.kd import TEACHER_METHOD

        epochs = self.teacher_epochs or self.epochs
        stretch = epochs / self.epochs
        return self.replace(method=TEACHER_METHOD, network=self.teacher, seed=self.teacher_seed, epochs=epochs,
                            lr_milestones=tuple(m * stretch for m in self.lr_milestones),
                            lr_warmup_epochs=self.lr_warmup_epochs * stretch)

    def validate(self) -> None:
        self.check_optimisation()
        check_sizes(self.train_subset, self.batch_size, self.image_size)
        if needs_teacher(find_method(self.method)) and self.teacher is None:
            raise ParameterError(f"method {self.method!r} distils from a teacher; set teacher to one of the "
                                 f"networks ({', '.join(ZOO)})")
        if self.teacher_checkpoint and not Path(self.teacher_checkpoint).expanduser().is_file():
            raise ParameterError(f"teacher_checkpoint={self.teacher_checkpoint!r} is not a file; give the path of a "
                                 f"checkpoint of a trained {self.teacher}, or None to train the teacher")


def needs_teacher(spec) -> bool:
    """Whether a method learns from a teacher (every method but one that fixes teacher=None)."""
    return spec.fixed.get("teacher", "") is not None


DISTILL_PARAMS = dataclass_params(DistillConfig, skip=("options",))
