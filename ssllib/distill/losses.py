"""The distillation losses as pure functions (the stateful parts, memory banks and queues,
live in :mod:`~ssllib.distill.crd` and :mod:`~ssllib.distill.rrd`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 4.0) -> torch.Tensor:
    """Hinton et al.'s knowledge distillation:

        L_KD = T² · (1/N) Σ_i KL(softmax(t_i / T) ‖ softmax(s_i / T))

    with the KL divergence summed over classes. The T² keeps the gradient's scale independent
    of T. Teacher logits are treated as constants.
    """
    log_p_s = F.log_softmax(student_logits.float() / temperature, dim=1)
    log_p_t = F.log_softmax(teacher_logits.detach().float() / temperature, dim=1)
    return (log_p_t.exp() * (log_p_t - log_p_s)).sum(1).mean() * temperature ** 2


def nce_loss(scores: torch.Tensor, n_data: int, eps: float = 1e-7) -> torch.Tensor:
    """CRD's noise-contrastive estimation loss for one side.

    ``scores`` (N, 1 + m): normalised scores P = exp(⟨anchor, memory⟩/τ)/Z, the positive in
    column 0 and m negatives after it. With the noise distribution P_n = 1/n_data,

        L = −(1/N) Σ_i [ log P_i0/(P_i0 + m·P_n) + Σ_j log m·P_n/(P_ij + m·P_n) ]

    (each fraction's denominator gets ``eps``).
    """
    m = scores.shape[1] - 1
    noise = m / n_data
    positive = torch.log(scores[:, 0] / (scores[:, 0] + noise + eps))
    negative = torch.log(noise / (scores[:, 1:] + noise + eps))
    return -(positive.sum() + negative.sum()) / scores.shape[0]


def rrd_loss(student: torch.Tensor, teacher: torch.Tensor, memory: torch.Tensor, tau_s: float,
             tau_t: float) -> torch.Tensor:
    """Relational representation distillation.

    ``student`` z_s and ``teacher`` z_t (N, D) and the ``memory`` Q (K, D) of teacher embeddings
    are unit vectors. Each sample's relation to the memory is a distribution over its K entries:

        p_T(i) = softmax(z_t,i·Qᵀ / τ_t)    (the target, no gradient)
        p_S(i) = softmax(z_s,i·Qᵀ / τ_s)
        L = (1/N) Σ_i H(p_T(i), p_S(i)) = −(1/N) Σ_i Σ_k p_T(i)_k log p_S(i)_k

    As τ_t → 0 the target becomes one-hot on the entry closest to z_t,i; when that entry is
    z_t,i itself (enqueued before scoring) L is InfoNCE with the teacher's own embedding as the
    positive.
    """
    memory = memory.detach().float()
    target = F.softmax(teacher.detach().float() @ memory.t() / tau_t, dim=1)
    log_prediction = F.log_softmax(student.float() @ memory.t() / tau_s, dim=1)
    return -(target * log_prediction).sum(1).mean()
