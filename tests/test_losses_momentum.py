"""InfoNCE, the queue and the EMA update, against values worked out by hand."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from ssllib.selfsup.losses import contrastive_logits, info_nce
from ssllib.selfsup.mocov2 import MoCoV2
from ssllib.selfsup.momentum import Queue, ema_update, momentum_at


def test_info_nce_hand_worked():
    # q = (1, 0), k = (0.6, 0.8): q·k = 0.6; negatives (0, 1) and (-1, 0): q·n = 0, -1; τ = 0.5.
    # L = −log(e^{1.2} / (e^{1.2} + e^{0} + e^{−2})) = log(1 + e^{−1.2} + e^{−3.2}) = 0.2941285…
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[0.6, 0.8]])
    negatives = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
    logits = contrastive_logits(q, k, negatives)
    assert torch.allclose(logits, torch.tensor([[0.6, 0.0, -1.0]]))
    assert info_nce(logits, 0.5).item() == pytest.approx(0.2941285610, abs=1e-6)


def test_info_nce_averages_over_the_batch():
    q = F.normalize(torch.randn(5, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    k = F.normalize(torch.randn(5, 8, generator=torch.Generator().manual_seed(1)), dim=1)
    bank = F.normalize(torch.randn(7, 8, generator=torch.Generator().manual_seed(2)), dim=1)
    logits = contrastive_logits(q, k, bank)
    per_row = [-(torch.log_softmax(logits[i] / 0.2, 0)[0]).item() for i in range(5)]
    assert info_nce(logits, 0.2).item() == pytest.approx(sum(per_row) / 5, rel=1e-6)


def test_queue_starts_unit_norm_and_wraps_in_order():
    queue = Queue(size=5, dim=3, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(queue.keys.norm(dim=1), torch.ones(5))
    batches = [torch.full((2, 3), float(i)) for i in range(1, 5)]  # rows filled with 1, 2, 3, 4
    for b in batches:
        queue.enqueue(b)
    # 8 keys through a ring of 5: slots 0..4 got 1,1,2,2,3 then 3,4,4 overwrote slots 0,1,2.
    assert queue.keys[:, 0].tolist() == [3.0, 4.0, 4.0, 2.0, 3.0]
    assert queue.ptr.item() == 8 % 5


def test_queue_rejects_more_keys_than_it_holds():
    with pytest.raises(ValueError, match="queue"):
        Queue(4, 2).enqueue(torch.zeros(5, 2))


def test_ema_update_hand_worked():
    target, source = nn.Linear(1, 1), nn.Linear(1, 1)
    with torch.no_grad():
        target.weight.fill_(1.0), target.bias.fill_(0.0)
        source.weight.fill_(3.0), source.bias.fill_(2.0)
    ema_update(target, source, 0.9)
    assert target.weight.item() == pytest.approx(0.9 * 1 + 0.1 * 3)
    assert target.bias.item() == pytest.approx(0.1 * 2)
    assert source.weight.item() == 3.0  # the source is untouched


def test_momentum_schedules():
    assert momentum_at(0.99, 0.5, "constant") == 0.99
    assert momentum_at(0.99, 0.0, "cosine") == pytest.approx(0.99)
    assert momentum_at(0.99, 1.0, "cosine") == pytest.approx(1.0)
    assert momentum_at(0.99, 0.5, "cosine") == pytest.approx(0.995)


class _Flat(nn.Module):
    def __init__(self):
        super().__init__()
        self.feature_dim = 6
        self.net = nn.Linear(12, 6)

    def forward(self, x):
        return self.net(x.flatten(1))


def _moco(queue_size=8, momentum=0.5):
    torch.manual_seed(0)
    return MoCoV2(_Flat(), nn.Linear(6, 4), dim=4, queue_size=queue_size, momentum=momentum,
                  temperature=0.2, shuffle_keys=False, generator=torch.Generator().manual_seed(0))


def test_moco_step_order_old_queue_then_enqueue_and_ema_first():
    model = _moco()
    x_q, x_k = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    old_queue = model.queue.keys.clone()
    old_key_weight = model.momentum_encoder[0].net.weight.clone()
    query_weight = model.encoder[0].net.weight.clone()
    out = model(x_q, x_k)
    # EMA before the key forward: the momentum encoder moved half-way to the query encoder.
    assert torch.allclose(model.momentum_encoder[0].net.weight, 0.5 * old_key_weight + 0.5 * query_weight)
    with torch.no_grad():
        q = F.normalize(model.encoder(x_q), dim=1)
        k = F.normalize(model.momentum_encoder(x_k), dim=1)
    expected = info_nce(contrastive_logits(q, k, old_queue), 0.2)
    assert out[0].item() == pytest.approx(expected.item(), rel=1e-5)
    assert torch.allclose(model.queue.keys[:4], k, atol=1e-6)  # the batch's keys went in after the loss
    assert torch.equal(model.queue.keys[4:], old_queue[4:])


def test_no_gradient_reaches_the_key_encoder_or_queue():
    model = _moco()
    out = model(torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2))
    out[0].backward()
    assert all(p.grad is None for p in model.momentum_encoder.parameters())
    assert all(p.grad is not None for p in model.encoder.parameters())
    assert not model.queue.keys.requires_grad


def test_key_shuffle_is_undone():
    model = _moco()
    model.momentum_encoder.eval()
    x = torch.randn(6, 3, 2, 2)
    plain = F.normalize(model.momentum_encoder(x), dim=1)
    model.shuffle_keys = True
    assert torch.allclose(model.encode_keys(x, torch.Generator().manual_seed(3)), plain, atol=1e-6)


def test_symmetric_step_with_a_predictor_and_a_queue_per_view():
    """L = ℓ(q₁, k₂, queue₂) + ℓ(q₂, k₁, queue₁), queries through the predictor, keys without
    it; then k₁ joins queue 1 and k₂ queue 2. The predictor learns; the key encoder does not."""
    torch.manual_seed(0)
    predictor = nn.Linear(4, 4)
    model = MoCoV2(_Flat(), nn.Linear(6, 4), dim=4, queue_size=8, momentum=0.5, temperature=0.2,
                   shuffle_keys=False, generator=torch.Generator().manual_seed(0), predictor=predictor,
                   symmetric=True)
    x1, x2 = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    queue_1, queue_2 = model.queue.keys.clone(), model.queue_2.keys.clone()
    assert not torch.equal(queue_1, queue_2)  # two queues, drawn one after the other
    loss, metrics = model(x1, x2)
    with torch.no_grad():
        q1 = F.normalize(predictor(model.encoder(x1)), dim=1)
        q2 = F.normalize(predictor(model.encoder(x2)), dim=1)
        k1 = F.normalize(model.momentum_encoder(x1), dim=1)
        k2 = F.normalize(model.momentum_encoder(x2), dim=1)
    expected = (info_nce(contrastive_logits(q1, k2, queue_2), 0.2)
                + info_nce(contrastive_logits(q2, k1, queue_1), 0.2))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert torch.allclose(model.queue.keys[:4], k1, atol=1e-6) and torch.allclose(model.queue_2.keys[:4], k2, atol=1e-6)
    loss.backward()
    assert predictor.weight.grad is not None
    assert all(p.grad is None for p in model.momentum_encoder.parameters())
    assert not any(p is predictor.weight for p in model.momentum_encoder.parameters())


def test_each_view_can_have_its_own_augmentation():
    model = _moco()
    model.views = (lambda x, g=None: x + 1, lambda x, g=None: x - 1)
    first, second = model.make_inputs(torch.zeros(2, 3, 2, 2), None)
    assert torch.equal(first, torch.ones(2, 3, 2, 2)) and torch.equal(second, -torch.ones(2, 3, 2, 2))
