"""The two methods without a criterion module: cross-entropy alone (a teacher, or the student
trained alone) and Hinton et al.'s knowledge distillation (loss: :func:`~ssllib.distill.losses.kd_loss`)."""
from __future__ import annotations

from ssllib.engine.registry import Method, register_method

TEACHER_METHOD = "ce"  # how a teacher is trained: cross-entropy alone


def no_criterion(cfg, student_dim: int, teacher_dim: int, labels, generator):
    return None


register_method(Method(TEACHER_METHOD, "distill", no_criterion, title="cross-entropy", fixed={"teacher": None},
                       defaults={"ce_weight": 1.0, "kd_weight": 0.0, "distill_weight": 0.0}, uses_labels=True,
                       help="cross-entropy only: a teacher, or the student trained alone", code=("ssllib.distill.kd",)))
register_method(Method("kd", "distill", no_criterion, title="KD",
                       defaults={"ce_weight": 0.1, "kd_weight": 0.9, "distill_weight": 0.0},
                       help="knowledge distillation: KL between softened teacher and student outputs",
                       code=("ssllib.distill.kd",)))
