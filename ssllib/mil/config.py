"""The run configuration of the whole-slide family: one MIL model trained on bags (a base model,
an expert, or the Divide-and-Distill student)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ssllib.engine.config import Configuration
from ssllib.engine.params import ParameterError, dataclass_params
from ssllib.engine.params import param_field as _p


@dataclass(frozen=True)
class MILConfig(Configuration):
    NOT_IDENTITY = ("device", "log_every")

    method: str = _p("abmil", "the aggregator trained with cross-entropy (mean, max, abmil, transmil), or dnd: "
                              "the Divide-and-Distill student (its aggregator is an option)")
    role: str = _p("base", "base (all training slides), expert (one cluster's slides) or student (distilled)",
                   choices=("base", "expert", "student"))
    hidden: int = _p(128, "width of the instance embedding", min=1)
    dropout: float = _p(0.25, "dropout after the instance embedding (below 1: at 1 every embedding is zeroed)",
                        min=0.0, below=1.0)
    class_weighted: bool = _p(False, "weight cross-entropy by inverse class frequency")
    epochs: int = _p(200, "training epochs (the best on validation is kept)", min=1)
    batch_size: int = _p(1, "bags per step", min=1)
    optimizer: str = _p("adam", "adam (base, experts) or sgd (the student)", choices=("adam", "sgd"))
    lr: float | None = _p(1e-4, "learning rate", min=0.0, nullable=True)
    weight_decay: float = _p(1e-5, "weight decay", min=0.0)
    lr_schedule: str = _p("constant", "learning-rate schedule", choices=("constant", "cosine", "step"))
    data: str = _p("", "what the bags are (dataset, fold, part), for records and labels")
    seed: int = _p(0, "random seed", min=0)
    device: str = _p("auto", "training device", choices=("auto", "cuda", "mps", "cpu"))
    log_every: int = _p(50, "steps between synchronised loss checks", min=1)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "MILConfig":
        spec, cfg = cls.checked(values, MIL_PARAMS, "mil", "abmil", "a MIL run configuration")
        if cfg.optimizer == "sgd" and cfg.lr is None:
            raise ParameterError("lr needs a value for the sgd optimiser")
        if spec.check is not None:
            spec.check(cfg)
        return cfg

    @property
    def aggregator(self) -> str:
        """The MIL model the run trains: its method, or the D&D student's ``aggregator`` option."""
        return self.options.get("aggregator", self.method)


MIL_PARAMS = dataclass_params(MILConfig, skip=("options",))
