import math

import pytest
import torch

from ssllib.evaluate.frozen import knn_accuracy, knn_predict
from ssllib.evaluate.linear import linear_probe


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
    from ssllib.evaluate.linear import _fit_logistic
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 6, generator=g), torch.randint(0, 3, (50,), generator=g)
    w, b = _fit_logistic(x, y, 3, 0.1, max_iter=200)
    # at the optimum the autograd gradient of the same objective vanishes
    w, b = w.clone().requires_grad_(), b.clone().requires_grad_()
    loss = torch.nn.functional.cross_entropy(x @ w + b, y) + 0.05 * w.pow(2).sum()
    loss.backward()
    assert w.grad.abs().max() < 1e-4 and b.grad.abs().max() < 1e-4


def test_sgd_probe_separable_and_chance():
    from ssllib.evaluate.linear import sgd_linear_probe
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (600,), generator=g)
    centres = torch.tensor([[4.0, 0, 0], [0, 4.0, 0], [0, 0, 4.0]])
    x = centres[y] + torch.randn(600, 3, generator=g)
    for protocol in ("sgd", "sgd_moby"):
        acc, described = sgd_linear_probe(x[:400], y[:400], x[400:], y[400:], 3, epochs=10, lr=0.1, batch_size=32,
                                          protocol=protocol)
        assert acc > 95 and described["protocol"] == "linear" and described["batch_size"] == 32
    noise = torch.randn(600, 3, generator=g)
    acc, _ = sgd_linear_probe(noise[:400], y[:400], noise[400:], y[400:], 3, epochs=10, lr=0.1, batch_size=32)
    assert acc < 50


def test_sgd_probe_rates_follow_the_published_schedules():
    from ssllib.evaluate.linear import SGD_PROTOCOLS, sgd_rate
    moco, moby = SGD_PROTOCOLS["sgd"], SGD_PROTOCOLS["sgd_moby"]
    # MoCo: 30 until epoch 60 of 100, 3 until 80, then 0.3
    assert [sgd_rate(moco, 30, e, 100) for e in (0, 59.9, 60, 79.5, 80, 99.9)] == pytest.approx([30, 30, 3, 3, .3, .3])
    # MoBY: linear warm-up over 5 epochs, then a cosine from the peak to 0
    assert [sgd_rate(moby, 1.0, e, 100) for e in (0, 2.5, 5, 52.5, 100)] == pytest.approx([0, .5, 1, .5, 0], abs=1e-12)


def test_sgd_probe_divergence_names_the_setting():
    from ssllib.evaluate.linear import ProbeDiverged, sgd_linear_probe
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 4, generator=g) * 1e30, torch.randint(0, 2, (64,), generator=g)
    with pytest.raises(ProbeDiverged, match="lower probe_lr \\(now 1e\\+10\\)"):
        sgd_linear_probe(x, y, x, y, 2, epochs=2, lr=1e10, batch_size=16)


def test_sgd_probe_is_what_a_run_with_probe_sgd_records():
    from ssllib.selfsup.config import RunConfig
    from ssllib.selfsup.trainer import evaluate_features
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (300,), generator=g)
    x = torch.eye(3)[y] * 4 + torch.randn(300, 3, generator=g)
    cfg = RunConfig.from_dict({"lr": 0.1, "probe": "sgd", "probe_epochs": 3, "probe_lr": 0.1, "probe_batch_size": 50})
    metrics = evaluate_features(x[:200], y[:200], x[200:], y[200:], 3, cfg)
    protocol = metrics["linear_top1"]["protocol"]
    assert protocol["solver"].startswith("mini-batch SGD") and protocol["epochs"] == 3 and protocol["batch_size"] == 50
    lbfgs = evaluate_features(x[:200], y[:200], x[200:], y[200:], 3, cfg.replace(probe="lbfgs"))
    assert lbfgs["linear_top1"]["protocol"]["solver"].startswith("L-BFGS")


def test_the_probe_fields_leave_earlier_runs_identities_alone():
    """Fields added after runs were recorded stay out of a run's identity at the value that
    computes what those runs did (the L-BFGS probe), so the runs are re-keyed, not retrained;
    any other value is part of it."""
    from ssllib.selfsup.config import RunConfig
    cfg = RunConfig.from_dict({"lr": 0.1})
    assert not {"probe", "probe_epochs", "probe_lr", "probe_batch_size"} & set(cfg.identity())
    assert cfg.replace(probe="sgd").identity()["probe"] == "sgd"
    assert cfg.replace(probe_lr=0.5).identity()["probe_lr"] == 0.5
