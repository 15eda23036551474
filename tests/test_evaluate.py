import math

import torch

from ssllib.evaluate.frozen import knn_accuracy, knn_predict, linear_probe


def test_weighted_knn_hand_worked():
    # Bank on the unit circle: class 0 at 0° and 10°, class 1 at 60°; the query at 40°.
    # Cosines: 0.7660 (0°), 0.8660 (10°), 0.9397 (60°).
    # k = 3, T = 1:   class 0 gets e^0.766 + e^0.866 = 4.53, class 1 gets e^0.940 = 2.56  → class 0.
    # k = 3, T = 0.1: class 0 gets e^7.66 + e^8.66 = 7889,   class 1 gets e^9.40 = 12053 → class 1.
    # k = 1: only the nearest (60°) votes → class 1.
    angles = torch.tensor([0.0, 10.0, 60.0]) * math.pi / 180
    bank = torch.stack([angles.cos(), angles.sin()], 1)
    labels = torch.tensor([0, 0, 1])
    q = torch.tensor([[math.cos(math.radians(40)), math.sin(math.radians(40))]])
    assert knn_predict(bank, labels, q, 2, k=3, temperature=1.0).item() == 0
    assert knn_predict(bank, labels, q, 2, k=3, temperature=0.1).item() == 1
    assert knn_predict(bank, labels, q, 2, k=1, temperature=0.1).item() == 1


def test_knn_ignores_unlabelled_bank_rows_and_scales():
    bank = torch.tensor([[1.0, 0.0], [0.0, 5.0], [0.0, -1.0]])
    labels = torch.tensor([0, 1, -1])
    test = torch.tensor([[0.0, 0.3], [2.0, 0.1]])
    assert knn_accuracy(bank, labels, test, torch.tensor([1, 0]), 2, k=1) == 100.0


def test_linear_probe_separable_and_chance():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (600,), generator=g)
    centres = torch.tensor([[4.0, 0, 0], [0, 4.0, 0], [0, 0, 4.0]])
    x = centres[y] + torch.randn(600, 3, generator=g)
    acc, protocol = linear_probe(x[:400], y[:400], x[400:], y[400:], 3)
    assert acc > 95 and protocol["l2"] in (1e-5, 1e-4, 1e-3, 1e-2) and protocol["protocol"] == "linear"
    noise = torch.randn(600, 3, generator=g)
    acc, _ = linear_probe(noise[:400], y[:400], noise[400:], y[400:], 3, l2=1e-3)
    assert acc < 50  # no signal, near chance (33%)


def test_logistic_gradient_matches_autograd():
    from ssllib.evaluate.frozen import _fit_logistic
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 6, generator=g), torch.randint(0, 3, (50,), generator=g)
    w, b = _fit_logistic(x, y, 3, 0.1, max_iter=200)
    # at the optimum the autograd gradient of the same objective vanishes
    w, b = w.clone().requires_grad_(), b.clone().requires_grad_()
    loss = torch.nn.functional.cross_entropy(x @ w + b, y) + 0.05 * w.pow(2).sum()
    loss.backward()
    assert w.grad.abs().max() < 1e-4 and b.grad.abs().max() < 1e-4
