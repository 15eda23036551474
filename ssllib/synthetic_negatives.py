"""SynCo's six kinds of synthetic hard negatives (Giakoumoglou & Stathaki 2024; spec §2).

Every function is pure and batched. Shapes: N queries, K queue entries, D embedding size,
n synthetic vectors of one type per query. ``q`` is the (detached) unit query, ``neg`` are
hard negatives drawn from the query's hard set; each generator returns the vectors *before*
normalisation, and :func:`synthesize` normalises and detaches them.

Type  vector before normalising           random coefficient per vector
1     α·q + (1 − α)·n                      α ~ U[0, 0.5)     interpolation (MoCHI's query mixing)
2     q + β·(n − q)                        β ~ U[1, 1.5)     extrapolation
3     γ·n_a + (1 − γ)·n_b                  γ ~ U[0, 1)       mixup of two hard negatives (MoCHI)
4     n + σ·ε,  ε ~ N(0, I)                 —                 noise injection
5     n + δ·∇ₙ(q·n) = n + δ·q              —                 gradient-based perturbation
6     n + η·sign(∇ₙ(q·n)) = n + η·sign(q)  —                 adversarial (FGSM-like)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

TYPES = ("interpolation", "extrapolation", "mixup", "noise", "gradient", "adversarial")


def hard_set(q: torch.Tensor, queue: torch.Tensor, n_hard: int) -> torch.Tensor:
    """Indices (N, min(n_hard, K)) of the queue entries most similar to each query.

    Similarities are raw cosines q·Qᵀ, detached; the queue is the one from *before* this
    batch's keys were added, so a query's own key is never a candidate.
    """
    similarities = q.detach().float() @ queue.detach().float().t()       # (N, K)
    return similarities.topk(min(n_hard, queue.shape[0]), dim=1).indices


def draw(hard: torch.Tensor, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Queue indices (N, count) drawn uniformly **with replacement** from each query's hard set."""
    slots = torch.randint(hard.shape[1], (hard.shape[0], count), device=hard.device, generator=generator)
    return hard.gather(1, slots)


def interpolation(q: torch.Tensor, neg: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Type 1: α·q + (1 − α)·n. q (N, D), neg (N, n, D), alpha (N, n)."""
    a = alpha.unsqueeze(-1)
    return a * q.unsqueeze(1) + (1 - a) * neg


def extrapolation(q: torch.Tensor, neg: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Type 2: q + β·(n − q), beyond n as seen from q for β > 1."""
    q = q.unsqueeze(1)
    return q + beta.unsqueeze(-1) * (neg - q)


def mixup(neg_a: torch.Tensor, neg_b: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Type 3: γ·n_a + (1 − γ)·n_b for two independent draws from the hard set."""
    g = gamma.unsqueeze(-1)
    return g * neg_a + (1 - g) * neg_b


def noise(neg: torch.Tensor, eps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Type 4: n + σ·ε with ε ~ N(0, I) of the shape of ``neg``."""
    return neg + sigma * eps


def gradient_step(q: torch.Tensor, neg: torch.Tensor, delta: float) -> torch.Tensor:
    """Type 5: n + δ·∇ₙ(q·n). The gradient of q·n with respect to n is q itself."""
    return neg + delta * q.unsqueeze(1)


def adversarial(q: torch.Tensor, neg: torch.Tensor, eta: float) -> torch.Tensor:
    """Type 6: n + η·sign(∇ₙ(q·n)) = n + η·sign(q), the FGSM step that raises q·n."""
    return neg + eta * torch.sign(q).unsqueeze(1)


def finite_difference_step(q: torch.Tensor, neg: torch.Tensor, z: torch.Tensor, step: float,
                           signed: bool, eps: float = 1e-5) -> torch.Tensor:
    """Types 5 (``signed=False``) and 6 (``signed=True``) as the reference computed them before
    October 2024, kept as an option for comparison with checkpoints of that time.

    With a random direction r = ε·z (z ~ N(0, I), ε = 1e-5) the central difference
    g = [q·(n + r) − q·(n − r)] / (2ε) = q·z is one number per vector (a directional
    derivative), and the vector is n + step·g·r (type 5) or n + step·sign(g)·r (type 6).
    The move has length about step·ε·√D ≈ 1e-6, so after normalising these are copies of
    hard negatives to within float precision. q (N, D), neg and z (N, n, D).
    """
    r = eps * z
    qb = q.unsqueeze(1)
    g = ((qb * (neg + r)).sum(-1) - (qb * (neg - r)).sum(-1)) / (2 * eps)       # (N, n)
    scale = torch.sign(g) if signed else g
    return neg + step * scale.unsqueeze(-1) * r


@dataclass(frozen=True)
class SyntheticSettings:
    """How many vectors of each type (in type order 1…6) and the perturbation sizes."""
    counts: tuple[int, int, int, int, int, int] = (256, 256, 256, 64, 64, 64)
    n_hard: int = 1024
    sigma: float = 0.01
    delta: float = 0.01
    eta: float = 0.01
    finite_difference: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts)


def synthesize(q: torch.Tensor, queue: torch.Tensor, settings: SyntheticSettings,
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The synthetic negatives of every type with a non-zero count, in type order 1…6.

    q: (N, D) unit queries; queue: (K, D), before this batch. Returns ``{type: (N, n_t, D)}``
    of unit vectors with no gradient. Runs in fp32 whatever the autocast context: steps of
    0.01 on unit vectors are close to bf16's resolution.
    """
    with torch.autocast(q.device.type, enabled=False), torch.no_grad():
        q = q.detach().float()
        queue = queue.detach().float()
        hard = hard_set(q, queue, settings.n_hard)                        # (N, n_hard)
        n, dev = q.shape[0], q.device

        def negatives(count: int) -> torch.Tensor:                         # (N, count, D)
            return queue[draw(hard, count, generator)]

        def uniform(count: int, low: float, high: float) -> torch.Tensor:  # (N, count)
            return low + (high - low) * torch.rand(n, count, device=dev, generator=generator)

        out: dict[str, torch.Tensor] = {}
        c1, c2, c3, c4, c5, c6 = settings.counts
        if c1:
            out["interpolation"] = interpolation(q, negatives(c1), uniform(c1, 0.0, 0.5))
        if c2:
            out["extrapolation"] = extrapolation(q, negatives(c2), uniform(c2, 1.0, 1.5))
        if c3:
            out["mixup"] = mixup(negatives(c3), negatives(c3), uniform(c3, 0.0, 1.0))
        if c4:
            neg = negatives(c4)
            out["noise"] = noise(neg, torch.randn(neg.shape, device=dev, generator=generator), settings.sigma)
        for name, count, step, closed_form in (("gradient", c5, settings.delta, gradient_step),
                                               ("adversarial", c6, settings.eta, adversarial)):
            if not count:
                continue
            neg = negatives(count)
            if settings.finite_difference:
                z = torch.randn(neg.shape, device=dev, generator=generator)
                out[name] = finite_difference_step(q, neg, z, step, signed=name == "adversarial")
            else:
                out[name] = closed_form(q, neg, step)
        return {name: F.normalize(v, dim=-1) for name, v in out.items()}


def synthetic_logits(q: torch.Tensor, synthetic: dict[str, torch.Tensor]) -> torch.Tensor:
    """q·s for every synthetic vector, (N, Σ n_t), columns in type order. The gradient flows
    through q only (the synthetic vectors are detached); computed in fp32."""
    if not synthetic:
        return q.new_zeros(q.shape[0], 0, dtype=torch.float32)
    s = torch.cat(list(synthetic.values()), dim=1)                          # (N, Σn, D)
    with torch.autocast(q.device.type, enabled=False):
        return torch.bmm(s, q.float().unsqueeze(-1)).squeeze(-1)
