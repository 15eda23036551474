"""Optimisers, parameter groups, learning-rate schedules and gradient clipping, as configuration.

Every run configuration inherits :class:`Optimisation`, so the self-supervised, distillation
and later families set them by the same names:

- ``optimizer``: ``sgd`` (momentum, optional Nesterov), ``lars`` (SGD with a layer-wise trust
  ratio, timm's implementation), ``adam`` (weight decay added to the gradient) or ``adamw``
  (decoupled weight decay);
- ``decay_norms_and_biases``: False puts every 1-D parameter (norm scales and shifts, biases,
  learnt temperatures) in a group without weight decay;
- ``lr_schedule``: ``cosine`` (to ``lr_min``), ``constant`` or ``step`` (× ``lr_decay`` at each
  of ``lr_milestones``, in epochs, which may fall inside an epoch), after ``lr_warmup_epochs``
  of linear warm-up; evaluated at every step;
- ``grad_clip``: the largest global gradient norm (0: no clipping).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ssllib.engine.params import ParameterError
from ssllib.engine.params import param_field as _p
from ssllib.engine.schedule import step_decay, warmup_constant, warmup_cosine

OPTIMIZERS = ("sgd", "lars", "adam", "adamw")
LR_SCHEDULES = ("cosine", "constant", "step")


@dataclass(frozen=True)
class Optimisation:
    """The optimisation fields every run configuration has (defaults: plain SGD, cosine)."""

    epochs: int = _p(200, "training epochs", min=1)
    batch_size: int = _p(256, "images per step (global, across all processes)", min=2)
    optimizer: str = _p("sgd", "optimiser: sgd, lars, adam or adamw", choices=OPTIMIZERS)
    lr: float | None = _p(0.03, "peak learning rate", min=0.0, nullable=True)
    weight_decay: float = _p(1e-4, "weight decay", min=0.0)
    decay_norms_and_biases: bool = _p(True, "apply weight decay to 1-D parameters (norms, biases) too; "
                                            "False: a group without decay for them")
    sgd_momentum: float = _p(0.9, "momentum of SGD and LARS", min=0.0, max=1.0)
    nesterov: bool = _p(False, "Nesterov momentum (SGD)")
    adam_betas: tuple = _p((0.9, 0.999), "Adam's and AdamW's β₁ and β₂", min=0.0, max=1.0)
    lr_schedule: str = _p("cosine", "learning-rate schedule after warm-up: cosine (to lr_min), constant, or "
                                    "step (× lr_decay at each milestone)", choices=LR_SCHEDULES)
    lr_warmup_epochs: float = _p(0, "epochs of linear learning-rate warm-up (per step)", min=0)
    lr_min: float = _p(0.0, "learning rate at the end of the cosine schedule", min=0.0)
    lr_milestones: tuple = _p((), "step schedule: epochs after which the learning rate is multiplied by "
                                  "lr_decay", min=0.0)
    lr_decay: float = _p(0.1, "step schedule: factor applied at each milestone", min=0.0, max=1.0)
    grad_clip: float = _p(0.0, "clip the global gradient norm to this value (0: no clipping)", min=0.0)

    def check_optimisation(self) -> None:
        """Checks between the optimisation fields."""
        if self.lr_warmup_epochs >= self.epochs:
            raise ParameterError(f"lr_warmup_epochs={self.lr_warmup_epochs} leaves no epochs after warm-up; "
                                 f"use fewer than epochs={self.epochs}")
        if list(self.lr_milestones) != sorted(self.lr_milestones):
            raise ParameterError(f"lr_milestones={list(self.lr_milestones)} must be in increasing order")
        if self.lr_schedule == "step" and not self.lr_milestones:
            raise ParameterError("lr_schedule='step' needs lr_milestones (epochs at which the learning rate "
                                 "drops), e.g. [150, 180, 210]")
        if len(self.adam_betas) != 2 or not all(0 <= b < 1 for b in self.adam_betas):
            raise ParameterError(f"adam_betas={list(self.adam_betas)} must be two numbers in [0, 1)")


def parameter_groups(modules: list[nn.Module], weight_decay: float, decay_norms_and_biases: bool = True
                     ) -> list[dict]:
    """The trainable parameters of ``modules`` as optimiser groups. With
    ``decay_norms_and_biases=False``, parameters of one dimension or none (norm weights and
    biases, layer biases, learnt scalars) form a second group with weight decay 0."""
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    if decay_norms_and_biases:
        return [{"params": params, "weight_decay": weight_decay}]
    decay = [p for p in params if p.dim() > 1]
    plain = [p for p in params if p.dim() <= 1]
    return [g for g in ({"params": decay, "weight_decay": weight_decay},
                        {"params": plain, "weight_decay": 0.0}) if g["params"]]


def build_optimizer(cfg: Optimisation, modules: list[nn.Module]) -> torch.optim.Optimizer:
    """The optimiser ``cfg`` names, over the trainable parameters of ``modules``."""
    groups = parameter_groups(modules, cfg.weight_decay, cfg.decay_norms_and_biases)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.sgd_momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, betas=tuple(cfg.adam_betas), weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.adam_betas), weight_decay=cfg.weight_decay)
    if cfg.optimizer == "lars":
        from timm.optim import Lars  # parameters without weight decay keep their plain step (always_adapt=False)

        return Lars(groups, lr=cfg.lr, momentum=cfg.sgd_momentum, weight_decay=cfg.weight_decay)
    raise ParameterError(f"unknown optimizer {cfg.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")


def learning_rate(cfg: Optimisation, step: int, steps_per_epoch: int) -> float:
    """The learning rate at global step ``step`` (0-based) of ``cfg.epochs × steps_per_epoch``."""
    total, warmup = cfg.epochs * steps_per_epoch, round(cfg.lr_warmup_epochs * steps_per_epoch)
    if cfg.lr_schedule == "cosine":
        return warmup_cosine(step, total, warmup, cfg.lr, cfg.lr_min)
    if cfg.lr_schedule == "constant":
        return warmup_constant(step, total, warmup, cfg.lr)
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    epoch, within = divmod(step, steps_per_epoch)
    return step_decay(epoch + within / steps_per_epoch, cfg.lr, cfg.lr_milestones, cfg.lr_decay)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def clip_gradients(optimizer: torch.optim.Optimizer, max_norm: float) -> None:
    """Scale the gradients so their global norm is at most ``max_norm`` (0: leave them)."""
    if max_norm:
        torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], max_norm)
