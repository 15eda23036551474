"""SynCo's six kinds of synthetic hard negatives (Giakoumoglou & Stathaki 2024,
arXiv:2410.02401; the generators as the authors' code, giakoumoglou/synco, builds them).

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

from ssllib.engine.distributed import draw_rows

TYPES = ("interpolation", "extrapolation", "mixup", "noise", "gradient", "adversarial")


def hard_set(q: torch.Tensor, queue: torch.Tensor, n_hard: int, similarities: torch.Tensor | None = None
             ) -> torch.Tensor:
    """Indices (N, min(n_hard, K)) of the queue entries most similar to each query, in no
    particular order.

    Similarities are raw cosines q·Qᵀ, detached (pass them as ``similarities`` where they are
    already computed); the queue is the one from *before* this batch's keys were added, so a
    query's own key is never a candidate.
    """
    if similarities is None:
        similarities = q.detach().float() @ queue.detach().float().t()   # (N, K)
    return similarities.detach().topk(min(n_hard, queue.shape[0]), dim=1, sorted=False).indices


def rows(queue: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """queue[index] for an (N, n) index: (N, n, D). ``index_select`` on the flattened index is
    several times faster than advanced indexing on CPU."""
    return queue.index_select(0, index.flatten()).view(*index.shape, queue.shape[1])


def draw(hard: torch.Tensor, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Queue indices (N, count) drawn uniformly **with replacement** from each query's hard set."""
    slots = draw_rows(lambda rows: torch.randint(hard.shape[1], (rows, count), device=hard.device, generator=generator),
                      hard.shape[0])
    return hard.gather(1, slots)


def reduce_gathered(queue: torch.Tensor, indices: tuple[torch.Tensor, ...], reduce, chunk: int = 4096) -> torch.Tensor:
    """``reduce(rows…, start, stop)`` over queue rows gathered for a group of queries at a time:
    ``rows`` are ``queue[index[start:stop]]``, (g, n, D), one per index in ``indices`` (each
    (N, n)), and ``reduce`` returns (g, n) values, free to overwrite the rows. Returns (N, n).

    On the CPU the rows go into buffers of about ``chunk`` rows made once and reused: gathering
    all of them as one (N·n, D) tensor costs several times more there, where each new tensor of
    a few MB is memory the caches have never seen. Elsewhere (a GPU) all queries are one group,
    as a loop of small kernels would cost launches instead."""
    n, slots = indices[0].shape
    per = max(1, chunk // max(slots, 1)) if queue.device.type == "cpu" else n   # queries per group
    buffers = [queue.new_empty(min(per, n) * slots, queue.shape[1]) for _ in indices]
    out = queue.new_empty(n, slots)
    for start in range(0, n, per):
        stop = min(n, start + per)
        rows = [torch.index_select(queue, 0, index[start:stop].flatten(), out=buf[:(stop - start) * slots])
                .view(stop - start, slots, -1) for index, buf in zip(indices, buffers)]
        out[start:stop] = reduce(*rows, start, stop)
    return out


def pair_dots(queue: torch.Tensor, index_a: torch.Tensor, index_b: torch.Tensor) -> torch.Tensor:
    """``queue[index_a]·queue[index_b]`` slot by slot, (N, n) for two (N, n) indices."""
    return reduce_gathered(queue, (index_a, index_b), lambda a, b, i, j: a.mul_(b).sum(-1))


def _per_vector(coefficient, neg: torch.Tensor) -> torch.Tensor:
    """A coefficient per synthetic vector as a tensor that broadcasts over the embedding: a
    number, or one value per vector shaped like ``neg`` without its last dimension (a trailing
    dimension of 1 is accepted too)."""
    c = torch.as_tensor(coefficient, dtype=neg.dtype, device=neg.device)
    return c.unsqueeze(-1) if c.dim() == neg.dim() - 1 else c


def interpolation(q: torch.Tensor, neg: torch.Tensor, alpha) -> torch.Tensor:
    """Type 1: α·q + (1 − α)·n. Batched: q (N, D), neg (N, n, D), alpha (N, n) or a number;
    or one query: q (D,), neg (n, D), alpha (n,) or a number. The same holds for every
    generator below."""
    a = _per_vector(alpha, neg)
    return a * q.unsqueeze(-2) + (1 - a) * neg


def extrapolation(q: torch.Tensor, neg: torch.Tensor, beta) -> torch.Tensor:
    """Type 2: q + β·(n − q), beyond n as seen from q for β > 1."""
    q = q.unsqueeze(-2)
    return q + _per_vector(beta, neg) * (neg - q)


def mixup(neg_a: torch.Tensor, neg_b: torch.Tensor, gamma) -> torch.Tensor:
    """Type 3: γ·n_a + (1 − γ)·n_b for two independent draws from the hard set."""
    g = _per_vector(gamma, neg_a)
    return g * neg_a + (1 - g) * neg_b


def noise(neg: torch.Tensor, eps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Type 4: n + σ·ε with ε ~ N(0, I) of the shape of ``neg``."""
    return neg + sigma * eps


def gradient_step(q: torch.Tensor, neg: torch.Tensor, delta: float) -> torch.Tensor:
    """Type 5: n + δ·∇ₙ(q·n). The gradient of q·n with respect to n is q itself."""
    return neg + delta * q.unsqueeze(-2)


def adversarial(q: torch.Tensor, neg: torch.Tensor, eta: float) -> torch.Tensor:
    """Type 6: n + η·sign(∇ₙ(q·n)) = n + η·sign(q), the FGSM step that raises q·n."""
    return neg + eta * torch.sign(q).unsqueeze(-2)


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
    qb = q.unsqueeze(-2)
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


@dataclass
class Draws:
    """Everything random about one step's synthetic negatives, drawn once so that the vectors
    (:func:`build`) and the fast logits (:func:`logits_from_draws`) describe the same ones.
    ``index[t]``: (N, n_t) queue rows (type 3 has two, ``mixup_b`` is the second);
    ``coefficient[t]``: (N, n_t) α, β or γ; ``noise``: (N, n_4, D) ε; ``direction[t]``: (N, n_t, D)
    z of the finite-difference variant."""
    index: dict[str, torch.Tensor]
    coefficient: dict[str, torch.Tensor]
    noise: torch.Tensor | None = None
    direction: dict[str, torch.Tensor] | None = None


def draw_all(q: torch.Tensor, queue: torch.Tensor, settings: SyntheticSettings,
             generator: torch.Generator | None = None, similarities: torch.Tensor | None = None) -> Draws:
    """The hard set of each query and every random choice of one step, drawn in a fixed order:
    all queue rows at once (slots of types 1, 2, 3, 3's second draw, 4, 5, 6), then all of α, β,
    γ at once, then ε, then z where the finite-difference variant is on. ``similarities``:
    q·Qᵀ where already computed."""
    with torch.autocast(q.device.type, enabled=False), torch.no_grad():
        hard = hard_set(q, queue, settings.n_hard, similarities)          # (N, n_hard)
        n, dim, dev = q.shape[0], queue.shape[1], q.device
        c1, c2, c3, c4, c5, c6 = settings.counts
        slots = {"interpolation": c1, "extrapolation": c2, "mixup": c3, "mixup_b": c3, "noise": c4,
                 "gradient": c5, "adversarial": c6}
        slots = {name: count for name, count in slots.items() if count}
        index = dict(zip(slots, draw(hard, sum(slots.values()), generator).split(list(slots.values()), dim=1)))
        u = draw_rows(lambda rows: torch.rand(rows, c1 + c2 + c3, device=dev, generator=generator), n)
        u = u.split([c1, c2, c3], dim=1)
        coefficient = {name: low + (high - low) * values for name, values, (low, high) in
                       zip(("interpolation", "extrapolation", "mixup"), u, ((0.0, 0.5), (1.0, 1.5), (0.0, 1.0)))
                       if values.shape[1]}
        noise = draw_rows(lambda rows: torch.randn(rows, c4, dim, device=dev, generator=generator), n) if c4 else None
        direction = {name: draw_rows(lambda rows: torch.randn(rows, count, dim, device=dev, generator=generator), n)
                     for name, count in (("gradient", c5), ("adversarial", c6))
                     if count and settings.finite_difference}
        return Draws(index, coefficient, noise, direction)


def build(q: torch.Tensor, queue: torch.Tensor, draws: Draws, settings: SyntheticSettings) -> dict[str, torch.Tensor]:
    """The synthetic vectors themselves, ``{type: (N, n_t, D)}`` in type order, unit length,
    detached, fp32."""
    with torch.autocast(q.device.type, enabled=False), torch.no_grad():
        q, queue = q.detach().float(), queue.detach().float()
        neg = {name: rows(queue, index) for name, index in draws.index.items()}   # (N, n_t, D) each
        out: dict[str, torch.Tensor] = {}
        if "interpolation" in neg:
            out["interpolation"] = interpolation(q, neg["interpolation"], draws.coefficient["interpolation"])
        if "extrapolation" in neg:
            out["extrapolation"] = extrapolation(q, neg["extrapolation"], draws.coefficient["extrapolation"])
        if "mixup" in neg:
            out["mixup"] = mixup(neg["mixup"], neg["mixup_b"], draws.coefficient["mixup"])
        if "noise" in neg:
            out["noise"] = noise(neg["noise"], draws.noise, settings.sigma)
        for name, step, closed_form in (("gradient", settings.delta, gradient_step),
                                        ("adversarial", settings.eta, adversarial)):
            if name in neg:
                out[name] = finite_difference_step(q, neg[name], draws.direction[name], step, name == "adversarial") \
                    if settings.finite_difference else closed_form(q, neg[name], step)
        return {name: F.normalize(v, dim=-1) for name, v in out.items()}


def synthesize(q: torch.Tensor, queue: torch.Tensor, settings: SyntheticSettings,
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The synthetic negatives of every type with a non-zero count, in type order 1…6.

    q: (N, D) unit queries; queue: (K, D), before this batch. Returns ``{type: (N, n_t, D)}``
    of unit vectors with no gradient. Runs in fp32 whatever the autocast context: steps of
    0.01 on unit vectors are close to bf16's resolution.
    """
    q, queue = q.detach().float(), queue.detach().float()
    return build(q, queue, draw_all(q, queue, settings, generator), settings)


def synthetic_logits(q: torch.Tensor, synthetic: dict[str, torch.Tensor]) -> torch.Tensor:
    """q·s for every synthetic vector, (N, Σ n_t), columns in type order. The gradient flows
    through q only (the synthetic vectors are detached); computed in fp32."""
    if not synthetic:
        return q.new_zeros(q.shape[0], 0, dtype=torch.float32)
    s = torch.cat(list(synthetic.values()), dim=1)                          # (N, Σn, D)
    with torch.autocast(q.device.type, enabled=False):
        return torch.bmm(s, q.float().unsqueeze(-1)).squeeze(-1)


def _norm(squared: torch.Tensor) -> torch.Tensor:
    """‖s‖ from ‖s‖², at least 1e-6 as in ``F.normalize``: a vector that cancels to zero (γ = ½
    between opposite rows) gets logit 0, not 0/0."""
    return squared.clamp_min(1e-12).sqrt()


def logits_from_draws(q: torch.Tensor, queue_logits: torch.Tensor, queue: torch.Tensor, draws: Draws,
                      settings: SyntheticSettings) -> torch.Tensor:
    """The same (N, Σ n_t) logits as ``synthetic_logits(q, build(...))``, without building the
    vectors. Every type is s = a·q̂ + b·n (+ b'·n' for type 3, + t for types 4 and 6) with q̂ the
    detached query and n, n' unit queue rows, so

        q·s / ‖s‖  with  q·s = a·(q·q̂) + b·(q·n) + b'·(q·n') + q·t,
        ‖s‖² = a² + b² + b'² + 2ab·(q̂·n) + 2ab'·(q̂·n') + 2bb'·(n·n') + 2b·(n·t) + ‖t‖²,

    where q·n is the query's queue logit, gathered (one gather for every column of every type,
    so the backward pass is one scatter into the queue logits' gradient, whose product with the
    queue MoCo's own loss computes anyway). What is left are the few dot products the queue
    logits do not hold: n·n' for type 3, ε·(2n + σε) and q·ε for type 4, n·sign(q̂) for type 6.
    The gradient is exactly that of q·s with s detached. ``queue_logits``: q·Qᵀ, (N, K), fp32,
    with gradient. Assumes unit-norm queue rows and queries (as MoCo keeps them). The
    finite-difference variant falls back to building the vectors.
    """
    if settings.finite_difference:
        return synthetic_logits(q, build(q, queue, draws, settings))
    with torch.autocast(q.device.type, enabled=False):
        q = q.float()
        qd = q.detach()
        queue = queue.detach().float()
        index = draws.index
        if not index:
            return q.new_zeros(q.shape[0], 0)
        names = list(index)                                                   # draw order
        qn = dict(zip(names, queue_logits.gather(1, torch.cat([index[k] for k in names], dim=1))
                      .split([index[k].shape[1] for k in names], dim=1)))    # q·n, with gradient
        self_logit = (q * qd).sum(1, keepdim=True)                             # q·q̂ (= 1), gradient q̂
        columns: dict[str, torch.Tensor] = {}
        for name in ("interpolation", "extrapolation", "gradient"):           # a·q̂ + b·n
            if name in index:
                if name == "gradient":
                    a, b = settings.delta, 1.0                                  # n + δ·q̂
                else:
                    c = draws.coefficient[name]
                    a = c if name == "interpolation" else 1 - c               # α·q̂ + (1−α)·n or (1−β)·q̂ + β·n
                    b = 1 - a
                x = qn[name]
                columns[name] = (a * self_logit + b * x) / _norm(a * a + b * b + 2 * a * b * x.detach())
        if "mixup" in index:                                                   # γ·n_a + (1−γ)·n_b
            gamma = draws.coefficient["mixup"]
            pair = pair_dots(queue, index["mixup"], index["mixup_b"])
            norm = _norm(gamma * gamma + (1 - gamma) ** 2 + 2 * gamma * (1 - gamma) * pair)
            columns["mixup"] = (gamma * qn["mixup"] + (1 - gamma) * qn["mixup_b"]) / norm
        if "noise" in index:                                                   # n + σ·ε
            eps, sigma = draws.noise, settings.sigma
            norm2 = 1 + sigma * reduce_gathered(                                 # ‖n + σε‖² = 1 + σε·(2n + σε)
                queue, (index["noise"],), lambda n, i, j: n.mul_(2).add_(eps[i:j], alpha=sigma).mul_(eps[i:j]).sum(-1))
            q_eps = torch.linalg.vecdot(eps, q.unsqueeze(1))                      # q·ε, with gradient (bmm: 2× slower on CPU)
            columns["noise"] = (qn["noise"] + sigma * q_eps) / _norm(norm2)
        if "adversarial" in index:                                             # n + η·sign(q̂)
            eta, signs = settings.eta, torch.sign(qd)
            n_signs = reduce_gathered(queue, (index["adversarial"],),
                                      lambda n, i, j: n.mul_(signs[i:j].unsqueeze(1)).sum(-1))       # n·sign(q̂)
            norm2 = 1 + 2 * eta * n_signs + eta * eta * signs.abs().sum(1, keepdim=True)
            columns["adversarial"] = (qn["adversarial"] + eta * (q * signs).sum(1, keepdim=True)) / _norm(norm2)
        return torch.cat([columns[name] for name in TYPES if name in columns], dim=1)
