"""SynCo's synthetic negatives and the SynCo/MoCHI methods, against hand-worked values."""
import math

import pytest
import torch
import torch.nn.functional as F

from ssllib.selfsup import synthetic_negatives as sn
from ssllib.selfsup.config import RunConfig
from ssllib.selfsup import synco as synco_module
from ssllib.selfsup.mocov2 import MoCoV2
from ssllib.selfsup.synco import SynCo, negative_weight_shares
from ssllib.engine.params import ParameterError
from tests.fixtures import assert_same_step, flat_momentum_method as _method, two_views as _views

Q = torch.tensor([[1.0, 0.0]])               # one query, D = 2
N = torch.tensor([[[0.0, 1.0]]])             # one hard negative for it: (N, n, D)


# ------------------------------------------------------------------ each type, worked by hand

def test_interpolation_hand_worked():
    # 0.25·(1, 0) + 0.75·(0, 1)
    assert torch.allclose(sn.interpolation(Q, N, torch.tensor([[0.25]])), torch.tensor([[[0.25, 0.75]]]))


def test_extrapolation_hand_worked():
    # (1, 0) + 1.2·((0, 1) − (1, 0)) = (−0.2, 1.2): beyond n, away from q
    assert torch.allclose(sn.extrapolation(Q, N, torch.tensor([[1.2]])), torch.tensor([[[-0.2, 1.2]]]))


def test_mixup_hand_worked():
    a, b = torch.tensor([[[1.0, 0.0]]]), torch.tensor([[[0.0, 1.0]]])
    assert torch.allclose(sn.mixup(a, b, torch.tensor([[0.3]])), torch.tensor([[[0.3, 0.7]]]))


def test_noise_hand_worked():
    eps = torch.tensor([[[1.0, -2.0]]])
    assert torch.allclose(sn.noise(N, eps, 0.1), torch.tensor([[[0.1, 0.8]]]))


def test_gradient_step_is_the_exact_gradient_of_q_dot_n():
    q = F.normalize(torch.randn(3, 5, generator=torch.Generator().manual_seed(0)), dim=1)
    n = F.normalize(torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(1)), dim=-1).requires_grad_()
    (q.unsqueeze(1) * n).sum().backward()                      # ∇ₙ(q·n) by autograd
    expected = n.detach() + 0.5 * n.grad
    assert torch.allclose(sn.gradient_step(q, n.detach(), 0.5), expected)
    assert torch.allclose(sn.gradient_step(Q, N, 0.5), torch.tensor([[[0.5, 1.0]]]))


def test_adversarial_hand_worked():
    q = torch.tensor([[0.6, -0.8]])
    assert torch.allclose(sn.adversarial(q, N, 0.1), torch.tensor([[[0.1, 0.9]]]))


def test_generators_take_one_query_and_numeric_coefficients():
    """Unbatched inputs (q (D,), neg (n, D)) give the batch's first row; a number as the
    coefficient acts as that value for every vector; so does a trailing dimension of 1."""
    q, neg, neg_b, z = _unit(3, 5, seed=0), _unit(3, 4, 5, seed=1), _unit(3, 4, 5, seed=2), _unit(3, 4, 5, seed=3)
    c = torch.rand(3, 4, generator=torch.Generator().manual_seed(4))
    batched = {"interpolation": sn.interpolation(q, neg, c), "extrapolation": sn.extrapolation(q, neg, 1 + c),
               "mixup": sn.mixup(neg, neg_b, c), "gradient": sn.gradient_step(q, neg, 0.3),
               "adversarial": sn.adversarial(q, neg, 0.3),
               "finite": sn.finite_difference_step(q, neg, z, 0.3, signed=True)}
    single = {"interpolation": sn.interpolation(q[0], neg[0], c[0]),
              "extrapolation": sn.extrapolation(q[0], neg[0], 1 + c[0]),
              "mixup": sn.mixup(neg[0], neg_b[0], c[0]), "gradient": sn.gradient_step(q[0], neg[0], 0.3),
              "adversarial": sn.adversarial(q[0], neg[0], 0.3),
              "finite": sn.finite_difference_step(q[0], neg[0], z[0], 0.3, signed=True)}
    for name in batched:
        assert single[name].shape == (4, 5), name
        assert torch.allclose(single[name], batched[name][0]), name
    assert torch.allclose(sn.interpolation(q, neg, 0.25), sn.interpolation(q, neg, torch.full((3, 4), 0.25)))
    assert torch.allclose(sn.mixup(neg, neg_b, c.unsqueeze(-1)), batched["mixup"])
    assert torch.allclose(sn.interpolation(Q[0], N[0], 0.25), torch.tensor([[0.25, 0.75]]))


def test_finite_difference_variant_hand_worked():
    # r = ε·z; g = [q·(n+r) − q·(n−r)]/(2ε) = q·z = 2; type 5: n + δ·g·r; type 6: n + η·sign(g)·r
    z = torch.tensor([[[2.0, 3.0]]])
    eps = 1e-5
    five = sn.finite_difference_step(Q.double(), N.double(), z.double(), 0.5, signed=False, eps=eps)
    six = sn.finite_difference_step(Q.double(), N.double(), z.double(), 0.5, signed=True, eps=eps)
    assert torch.allclose(five, torch.tensor([[[0.0, 1.0]]]).double() + 0.5 * 2 * eps * z.double())
    assert torch.allclose(six, torch.tensor([[[0.0, 1.0]]]).double() + 0.5 * 1 * eps * z.double())


# ------------------------------------------------------------------ the hard set and sampling

def _unit(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_hard_set_is_the_top_n_hard_of_the_queue():
    q, queue = _unit(6, 16), _unit(50, 16, seed=1)
    hard = sn.hard_set(q, queue, 7)
    expected = (q @ queue.t()).argsort(dim=1, descending=True)[:, :7]
    assert torch.equal(hard.sort(dim=1).values, expected.sort(dim=1).values)
    assert sn.hard_set(q, queue, 500).shape == (6, 50)          # n_hard above K: the whole queue


def test_draws_are_with_replacement_from_the_hard_set():
    hard = torch.tensor([[3, 9], [4, 1]])
    drawn = sn.draw(hard, 64, torch.Generator().manual_seed(0))   # 64 draws from 2 candidates
    assert drawn.shape == (2, 64)
    assert set(drawn[0].tolist()) == {3, 9} and set(drawn[1].tolist()) == {4, 1}


def test_with_zero_perturbation_types_4_to_6_are_hard_negatives():
    q, queue = _unit(5, 8), _unit(40, 8, seed=1)
    settings = sn.SyntheticSettings((0, 0, 0, 6, 6, 6), n_hard=4, sigma=0.0, delta=0.0, eta=0.0)
    out = sn.synthesize(q, queue, settings, torch.Generator().manual_seed(2))
    hard = sn.hard_set(q, queue, 4)
    for name in ("noise", "gradient", "adversarial"):
        for i in range(5):
            # every synthetic vector is (exactly) one of the query's four hardest queue entries
            dist = torch.cdist(out[name][i], queue[hard[i]])
            assert dist.min(dim=1).values.max() < 1e-6


def test_finite_difference_types_are_near_copies_of_hard_negatives():
    q, queue = _unit(5, 8), _unit(40, 8, seed=1)
    settings = sn.SyntheticSettings((0, 0, 0, 0, 8, 8), n_hard=4, finite_difference=True)
    out = sn.synthesize(q, queue, settings, torch.Generator().manual_seed(2))
    hard = sn.hard_set(q, queue, 4)
    for name in ("gradient", "adversarial"):
        dist = torch.stack([torch.cdist(out[name][i], queue[hard[i]]).min(dim=1).values for i in range(5)])
        assert dist.max() < 1e-5


def test_coefficients_lie_in_their_ranges():
    # q ⟂ n with unit vectors: before normalising, type 1 is α·q + (1−α)·n, so after it
    # tan(angle to n) = α/(1−α) with α < 0.5; type 2 has q-component 1 − β ∈ (−0.5, 0].
    q = torch.tensor([[1.0, 0.0, 0.0]])
    queue = torch.tensor([[0.0, 1.0, 0.0]])
    out = sn.synthesize(q, queue, sn.SyntheticSettings((200, 200, 0, 0, 0, 0), n_hard=1),
                        torch.Generator().manual_seed(0))
    s1, s2 = out["interpolation"][0], out["extrapolation"][0]
    alpha = s1[:, 0] / (s1[:, 0] + s1[:, 1])
    assert alpha.min() >= 0 and alpha.max() < 0.5 and alpha.std() > 0.1
    beta = s2[:, 1] / (s2[:, 0] + s2[:, 1])                    # n-component β, q-component 1 − β
    assert beta.min() >= 1 - 1e-6 and beta.max() < 1.5 and beta.std() > 0.1


def test_every_synthetic_vector_is_unit_norm_detached_and_fp32():
    q = _unit(4, 16).requires_grad_()
    queue = _unit(64, 16, seed=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = sn.synthesize(q.bfloat16(), queue.bfloat16(), sn.SyntheticSettings((3, 3, 3, 3, 3, 3), n_hard=8),
                            torch.Generator().manual_seed(0))
    assert list(out) == list(sn.TYPES)                        # appended in type order 1…6
    for v in out.values():
        assert v.dtype == torch.float32 and not v.requires_grad
        assert torch.allclose(v.norm(dim=-1), torch.ones(v.shape[:2]), atol=1e-6)


# ------------------------------------------------------------------ the method on the momentum base

def test_with_all_counts_zero_the_loss_equals_mocov2_exactly():
    zero = dict(n1=0, n2=0, n3=0, n4=0, n5=0, n6=0, warmup_epochs=0)
    synco, moco = _method(SynCo, **zero), _method(MoCoV2)
    moco.load_state_dict(synco.state_dict())
    assert_same_step(synco, moco)


def _capture(monkeypatch):
    seen = {}
    original = synco_module.draw_all

    def spy(q, queue, settings, generator=None, similarities=None):
        seen["queue"] = queue.clone()
        seen["draws"] = original(q, queue, settings, generator, similarities)
        seen["out"] = sn.build(q, queue, seen["draws"], settings)
        return seen["draws"]
    monkeypatch.setattr(synco_module, "draw_all", spy)
    return seen


@pytest.mark.parametrize("finite_difference", [False, True])
def test_fast_logits_equal_the_built_vectors_in_value_and_gradient(finite_difference):
    settings = sn.SyntheticSettings((5, 4, 6, 3, 2, 7), n_hard=9, sigma=0.1, delta=0.2, eta=0.05,
                                    finite_difference=finite_difference)
    queue = _unit(40, 16, seed=1)
    raw = torch.randn(6, 16, generator=torch.Generator().manual_seed(0), requires_grad=True)
    q = F.normalize(raw, dim=1)
    draws = sn.draw_all(q.detach(), queue, settings, torch.Generator().manual_seed(3))
    weights = torch.randn(6, settings.total, generator=torch.Generator().manual_seed(4))

    fast = sn.logits_from_draws(q, q @ queue.t(), queue, draws, settings)
    (grad_fast,) = torch.autograd.grad((fast * weights).sum(), raw, retain_graph=True)
    slow = sn.synthetic_logits(q, sn.build(q, queue, draws, settings))
    (grad_slow,) = torch.autograd.grad((slow * weights).sum(), raw)
    assert fast.shape == (6, settings.total)
    assert torch.allclose(fast, slow, atol=1e-5)
    assert torch.allclose(grad_fast, grad_slow, atol=1e-5)
    # and synthesize() is build() of the same draws
    same = sn.synthesize(q, queue, settings, torch.Generator().manual_seed(3))
    assert all(torch.equal(same[k], v) for k, v in sn.build(q, queue, draws, settings).items())


def test_logit_columns_warmup_and_old_queue(monkeypatch):
    counts = dict(n1=3, n2=2, n3=4, n4=1, n5=2, n6=5, n_hard=6, warmup_epochs=2)
    model = _method(SynCo, **counts)
    seen = _capture(monkeypatch)
    xq, xk = _views()
    widths = []
    for epoch in range(4):
        before = model.queue.keys.clone()
        q = F.normalize(model.encoder(xq), dim=1)
        loss, logits, _ = model.contrastive_loss(q, q.detach(), before, epoch, torch.Generator().manual_seed(0))
        widths.append(logits.shape[1])
    assert widths == [1 + 32, 1 + 32, 1 + 32 + 17, 1 + 32 + 17]   # off for epochs 0, 1; on from epoch 2

    # In a full step the generators see the queue from before this batch's keys went in.
    before = model.queue.keys.clone()
    out = model(xq, xk, epoch=2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(seen["queue"], before)
    assert not torch.equal(model.queue.keys, before)             # the keys went in afterwards
    assert set(out[1]) >= {"synthetic_share", "share_interpolation", "share_adversarial"}


def test_no_gradient_reaches_synthetic_vectors_or_queue(monkeypatch):
    model = _method(SynCo, n1=2, n2=2, n3=2, n4=2, n5=2, n6=2, n_hard=4, warmup_epochs=0)
    seen = _capture(monkeypatch)
    xq, xk = _views()
    out = model(xq, xk, epoch=0, generator=torch.Generator().manual_seed(0))
    out[0].backward()
    assert all(not v.requires_grad for v in seen["out"].values())
    assert model.queue.keys.grad is None and not model.queue.keys.requires_grad
    assert all(p.grad is None for p in model.momentum_encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())


def test_gradient_of_synthetic_logits_flows_through_q_only():
    q = _unit(3, 6).requires_grad_()
    synthetic = {"noise": _unit(3, 5, 6, seed=1)}
    sn.synthetic_logits(q, synthetic).sum().backward()
    assert torch.allclose(q.grad, synthetic["noise"].sum(dim=1))     # d(Σ q·s)/dq = Σ s


def test_negative_weight_shares_hand_worked():
    # τ = 1; logits: positive 0, two queue columns log 1 = 0, one synthetic column log 2:
    # negative weights 1, 1, 2 → synthetic share 2/4.
    logits = torch.tensor([[0.0, 0.0, 0.0, math.log(2.0)]])
    shares = negative_weight_shares(logits, 1.0, queue_size=2, counts=(1, 0, 0, 0, 0, 0))
    assert shares["synthetic_share"].item() == pytest.approx(0.5)
    assert shares["share_interpolation"].item() == pytest.approx(0.5)


# ------------------------------------------------------------------ options

def test_options_are_checked_and_defaults_filled():
    cfg = RunConfig.from_dict(dict(method="synco", epochs=20))
    assert cfg.options["n_hard"] == 1024 and cfg.options["n5"] == 64 and cfg.options["warmup_epochs"] == 10
    assert RunConfig.from_dict(dict(method="mochi", epochs=20)).options == \
        {"n_hard": 1024, "n1": 128, "n3": 1024, "warmup_epochs": 10}
    # a count above the hard set is fine (sampling with replacement); a negative one is not
    assert RunConfig.from_dict(dict(method="synco", epochs=20, options={"n_hard": 10, "n1": 64})).options["n1"] == 64
    with pytest.raises(ParameterError, match="n1=-3 is out of range"):
        RunConfig.from_dict(dict(method="synco", epochs=20, options={"n1": -3}))
    with pytest.raises(ParameterError, match="sigma='abc' has the wrong type"):
        RunConfig.from_dict(dict(method="synco", epochs=20, options={"sigma": "abc"}))
    with pytest.raises(ParameterError, match="no parameter 'n7'"):
        RunConfig.from_dict(dict(method="synco", epochs=20, options={"n7": 1}))
    with pytest.raises(ParameterError, match="no parameter 'n2'"):
        RunConfig.from_dict(dict(method="mochi", epochs=20, options={"n2": 1}))
    with pytest.raises(ParameterError, match="leaves no epoch with synthetic negatives"):
        RunConfig.from_dict(dict(method="synco", epochs=10))
    with pytest.raises(ParameterError, match="takes no options"):
        RunConfig.from_dict(dict(method="mocov2", options={"n1": 3}))
    assert cfg.replace(method="mocov2").options == {}


# ------------------------------------------------------------------ the chapter's parameters

def test_chapter_parameters_are_checked_before_any_work():
    from ssllib.chapters.spec import resolve
    from ssllib.chapters.synco import SYNCO
    with pytest.raises(ParameterError, match="n1=-3 is out of range"):
        resolve(SYNCO, {"profile": "smoke", "n1": -3})
    with pytest.raises(ParameterError, match="sigma='abc' has the wrong type"):
        resolve(SYNCO, {"profile": "smoke", "sigma": "abc"})
    with pytest.raises(ParameterError, match="leaves no epoch with synthetic negatives"):
        resolve(SYNCO, {"profile": "smoke", "warmup_epochs": 2})
    with pytest.raises(ParameterError, match="did you mean 'n_hard'"):
        resolve(SYNCO, {"profile": "smoke", "n_hrad": 5})
    settings = resolve(SYNCO, {"profile": "smoke", "n_hard": 10, "n1": 64})   # with replacement: allowed
    cfg = settings.run_config(method="synco", options=settings.method_options("synco"))
    assert cfg.options["n_hard"] == 10 and cfg.options["n1"] == 64


def test_paper_profile_is_the_spec_recipe():
    from ssllib.chapters.spec import resolve
    from ssllib.chapters.synco import SYNCO
    s = resolve(SYNCO, {"profile": "paper"}, check_data=False)
    cfg = s.run_config(method="synco", options=s.method_options("synco"))
    assert (cfg.backbone, cfg.queue_size, cfg.ema_momentum, cfg.temperature, cfg.lr, cfg.epochs, cfg.batch_size) == \
        ("resnet50", 65536, 0.999, 0.2, 0.03, 200, 256)
    assert cfg.options == {"n_hard": 1024, "n1": 256, "n2": 256, "n3": 256, "n4": 64, "n5": 64, "n6": 64,
                           "sigma": 0.01, "delta": 0.01, "eta": 0.01, "warmup_epochs": 10,
                           "finite_difference": False}


def test_paper_params_file_resolves_to_the_paper_profile():
    from pathlib import Path

    import yaml

    from ssllib.chapters.spec import resolve
    from ssllib.chapters.synco import SYNCO
    values = yaml.safe_load((Path(__file__).parent.parent / "papers" / "synco" / "paper.yaml").read_text())
    s = resolve(SYNCO, values, check_data=False)
    assert s.profile == "paper" and s.dataset == "imagenet" and s.warmup_epochs == 10


def test_reported_numbers_name_their_source():
    from pathlib import Path

    import pandas as pd
    reported = pd.read_csv(Path(__file__).parent.parent / "papers" / "synco" / "reported.csv")
    assert reported.source.notna().all() and (reported.source.str.len() > 10).all()
    linear = reported[reported.task == "linear classification"].set_index(["method", "pretrain_epochs"]).value
    assert linear[("MoCo-v2", 200)] == 67.5 and linear[("SynCo", 200)] == 68.1


def test_under_bf16_autocast_the_generators_see_the_fp32_queue(monkeypatch):
    model = _method(SynCo, n1=2, n2=2, n3=2, n4=2, n5=2, n6=2, n_hard=4, warmup_epochs=0)
    seen = _capture(monkeypatch)
    xq, xk = _views()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(xq, xk, epoch=0, generator=torch.Generator().manual_seed(0))
    assert seen["queue"].dtype == torch.float32 and out[0].dtype == torch.float32
    assert torch.isfinite(out[0])


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_gathered_dot_products_are_the_same_whatever_the_group_size(chunk):
    queue = _unit(50, 8, seed=2)
    gen = torch.Generator().manual_seed(1)
    index_a, index_b = torch.randint(50, (5, 3), generator=gen), torch.randint(50, (5, 3), generator=gen)
    expected = (queue[index_a] * queue[index_b]).sum(-1)
    # groups of 1, 2 (the last one short) or all 5 queries
    got = sn.reduce_gathered(queue, (index_a, index_b), lambda a, b, i, j: a.mul_(b).sum(-1), chunk=chunk)
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.allclose(sn.pair_dots(queue, index_a, index_b), expected, atol=1e-6)
    # the rows handed to ``reduce`` are those of queries i…j−1
    signs = torch.sign(torch.randn(5, 8, generator=gen))
    got = sn.reduce_gathered(queue, (index_a,), lambda n, i, j: n.mul_(signs[i:j].unsqueeze(1)).sum(-1), chunk=chunk)
    assert torch.allclose(got, (queue[index_a] * signs.unsqueeze(1)).sum(-1), atol=1e-6)


def test_a_synthetic_vector_that_cancels_to_zero_gets_logit_zero_not_nan():
    queue = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    q = F.normalize(torch.tensor([[0.6, 0.8]]), dim=1).requires_grad_()
    draws = sn.Draws(index={"mixup": torch.tensor([[0]]), "mixup_b": torch.tensor([[1]])},
                     coefficient={"mixup": torch.tensor([[0.5]])})
    settings = sn.SyntheticSettings((0, 0, 1, 0, 0, 0), n_hard=3)
    fast = sn.logits_from_draws(q, q @ queue.t(), queue, draws, settings)
    slow = sn.synthetic_logits(q, sn.build(q, queue, draws, settings))   # F.normalize of a zero vector: 0
    assert torch.equal(fast, torch.zeros(1, 1)) and torch.equal(slow, torch.zeros(1, 1))
    fast.sum().backward()
    assert torch.isfinite(q.grad).all()
