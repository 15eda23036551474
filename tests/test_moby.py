"""MoBY and MoBY + synthetic negatives (ssllib.selfsup.moby), the pieces of the ViT recipe they
rely on, and the ViT chapter's checks."""
import math

import pytest
import torch
import torch.nn as nn

from fixtures import flat_momentum_method, two_views
from ssllib.engine.optim import parameter_groups
from ssllib.engine.params import ParameterError
from ssllib.selfsup.config import RunConfig
from ssllib.selfsup.mocov2 import MoCoV2
from ssllib.selfsup.momentum import momentum_at
from ssllib.selfsup.synco import SynCo

SMALL = dict(dataset="digits", image_size=16, embed_dim=16, queue_size=64, batch_size=16, epochs=3,
             shuffle_keys=False, lr=1e-3, optimizer="adamw")


def _build(method, backbone="vit_micro_small_image", **options):
    from ssllib.data.registry import load_dataset
    from ssllib.engine.registry import method as find_method

    cfg = RunConfig.from_dict({**SMALL, "method": method, "backbone": backbone, "drop_path": 0.2,
                               "options": {"head_hidden_dim": 32, **options}})
    return find_method(method).build(cfg, load_dataset("digits"), 16)


def test_the_symmetric_loss_by_hand():
    """Identity networks on 2-D inputs, one image, hand-placed queues (T = 0.5):
    q₁ = (1, 0), k₂ = (0, 1), queue₂ = {(1, 0), (−1, 0)}: logits 0 | 2, −2, so ℓ₁₂ = log(1 + e² + e⁻²);
    q₂ = (0, 1), k₁ = (1, 0), queue₁ = {(0, 1), (0, −1)}: the same. MoBY sums the two terms."""
    backbone, head = nn.Linear(2, 2, bias=False), nn.Linear(2, 2, bias=False)
    for layer in (backbone, head):
        nn.init.eye_(layer.weight)
    backbone.feature_dim = 2
    model = MoCoV2(backbone, head, 2, 2, momentum=0.99, temperature=0.5, shuffle_keys=False,
                   predictor=nn.Identity(), symmetric=True)
    model.queue.keys.copy_(torch.tensor([[0.0, 1.0], [0.0, -1.0]]))
    model.queue_2.keys.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    loss, metrics = model(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]))
    assert loss.item() == pytest.approx(2 * math.log(1 + math.exp(2) + math.exp(-2)), rel=1e-6)
    assert metrics["contrastive_acc"].item() == 0.0               # a negative beats the positive in both terms
    assert torch.equal(model.queue.keys[0], torch.tensor([1.0, 0.0]))   # k₁ → queue₁, k₂ → queue₂
    assert torch.equal(model.queue_2.keys[0], torch.tensor([0.0, 1.0]))


def test_the_momentum_rises_from_099_to_1_on_a_half_cosine_per_step():
    total = 1000
    values = {k: momentum_at(0.99, k / total, "cosine") for k in (0, 250, 500, 750, 1000)}
    assert values[0] == pytest.approx(0.99) and values[1000] == pytest.approx(1.0)
    assert values[250] == pytest.approx(1 - 0.01 * (math.cos(math.pi / 4) + 1) / 2)   # 0.991464…
    assert values[500] == pytest.approx(0.995)
    assert values[750] == pytest.approx(1 - 0.01 * (math.cos(3 * math.pi / 4) + 1) / 2)  # 0.998536…


def test_moby_is_a_predictor_on_the_online_branch_and_a_queue_per_view():
    model = _build("moby")
    assert model.symmetric and model.queue_2 is not None and model.predictor is not None
    projector, predictor = model.encoder[1], model.predictor
    assert [type(m) for m in projector] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert projector[0].in_features == 96 and projector[0].out_features == 32 and projector[3].out_features == 16
    assert predictor[0].in_features == 16 and predictor[3].out_features == 16
    assert not any(p is q for p in model.momentum_encoder.parameters() for q in predictor.parameters())


def test_drop_path_is_on_the_online_encoder_only():
    from timm.layers import DropPath

    model = _build("moby")
    online = [m.drop_prob for m in model.encoder.modules() if isinstance(m, DropPath)]
    target = [m.drop_prob for m in model.momentum_encoder.modules() if isinstance(m, DropPath)]
    assert len(online) == len(target) > 0 and max(online) == pytest.approx(0.2) and set(target) == {0.0}
    x = torch.randn(4, 1, 16, 16)
    model.train()
    with torch.no_grad():                                        # the target is deterministic in training mode
        assert torch.equal(model.momentum_encoder(x), model.momentum_encoder(x))


@pytest.mark.parametrize("backbone", ["vit_micro_small_image", "swin_micro_small_image"])
def test_no_decay_groups_hold_exactly_the_1d_parameters_and_biases(backbone):
    model = _build("moby", backbone)
    decay, plain = parameter_groups([model.encoder, model.predictor], 0.05, decay_norms_and_biases=False)
    names = {id(p): n for n, p in [*model.encoder.named_parameters(), *model.predictor.named_parameters()]}
    plain_names = {names[id(p)] for p in plain["params"]}
    decay_names = {names[id(p)] for p in decay["params"]}
    expected = {n for n, p in [*model.encoder.named_parameters(), *model.predictor.named_parameters()]
                if p.requires_grad and p.dim() <= 1}
    assert plain_names == expected and plain["weight_decay"] == 0.0 and decay["weight_decay"] == 0.05
    assert all(n.endswith(".bias") or "norm" in n or n.split(".")[-2].isdigit() for n in plain_names)
    assert any(n.endswith(".bias") for n in plain_names) and any("norm" in n for n in plain_names)
    assert all(names[id(p)] not in plain_names and p.dim() > 1 for p in decay["params"])
    assert not plain_names & decay_names


def test_the_negatives_are_active_exactly_inside_the_window():
    model = flat_momentum_method(SynCo, n_hard=8, n1=2, n2=2, n3=2, n4=1, n5=1, n6=1, warmup_epochs=2,
                                 cooldown_epochs=4, predictor=nn.Linear(8, 8), symmetric=True)
    assert [model.synthetic_active(e) for e in range(7)] == [False, False, True, True, True, False, False]
    xq, xk = two_views()
    widths = []
    for epoch in range(7):
        _, metrics = model(xq, xk, epoch=epoch, generator=torch.Generator().manual_seed(epoch))
        widths.append(metrics["synthetic_share"].item() > 0)
    assert widths == [False, False, True, True, True, False, False]


@pytest.mark.parametrize("given, message", [
    (dict(warmup_epochs=3, cooldown_epochs=2), "closes the window of synthetic negatives before warmup_epochs=3"),
    (dict(warmup_epochs=5), "leaves no epoch with synthetic negatives"),
])
def test_a_window_that_cannot_open_is_refused(given, message):
    with pytest.raises(ParameterError, match=message):
        RunConfig.from_dict({**SMALL, "epochs": 5, "method": "moby_synco", "backbone": "vit_micro_small_image",
                             "options": {"n_hard": 32, **given}})


def test_a_patch_that_does_not_divide_the_image_and_an_unknown_backbone_are_refused():
    with pytest.raises(ParameterError, match=r"4×4 patch grid.*does not divide image size 18.*16 or 20"):
        RunConfig.from_dict({**SMALL, "image_size": 18, "method": "moby", "backbone": "vit_micro_small_image"})
    with pytest.raises(ParameterError, match="patch size 16.*does not divide image size 8"):
        RunConfig.from_dict({**SMALL, "image_size": 0, "method": "moby", "backbone": "vit_small"})  # digits: 8 px
    with pytest.raises(ParameterError, match="backbone='vit_huge' is not one of the valid choices"):
        RunConfig.from_dict({**SMALL, "method": "moby", "backbone": "vit_huge"})
    with pytest.raises(ParameterError, match="drop_path=0.1 is stochastic depth for transformer backbones"):
        RunConfig.from_dict({**SMALL, "method": "moby", "backbone": "resnet18", "drop_path": 0.1})


def test_moby_synco_takes_the_reference_vit_values():
    cfg = RunConfig.from_dict({**SMALL, "queue_size": 4096, "epochs": 300, "method": "moby_synco", "backbone": "vit_small",
                               "image_size": 32})
    assert {k: cfg.options[k] for k in ("n_hard", "n1", "n4", "sigma", "warmup_epochs", "cooldown_epochs")} == \
        {"n_hard": 256, "n1": 128, "n4": 64, "sigma": 0.1, "warmup_epochs": 30, "cooldown_epochs": 100}


def test_one_step_of_each_method_on_each_micro_backbone_learns():
    for backbone in ("vit_micro_small_image", "swin_micro_small_image"):
        for method, options in (("moby", {}), ("moby_synco", dict(n_hard=16, n1=4, n2=4, n3=4, n4=2, n5=2, n6=2,
                                                                   warmup_epochs=0, cooldown_epochs=1))):
            model = _build(method, backbone, **options)
            images = torch.randint(0, 256, (16, 1, 8, 8), dtype=torch.uint8)
            views = model.make_inputs(images, None, torch.Generator().manual_seed(0))
            loss, metrics = model(*views, epoch=0, generator=torch.Generator().manual_seed(0))
            loss.backward()
            assert torch.isfinite(loss) and loss.item() > 0
            assert all(p.grad is not None for p in model.predictor.parameters())
            assert ("synthetic_share" in metrics) == (method == "moby_synco")


def test_the_chapter_profiles_and_the_papers_files():
    from pathlib import Path

    import pandas as pd
    import yaml

    from ssllib.chapters.spec import resolve
    from ssllib.chapters.synco_vit import SYNCO_VIT
    root = Path(__file__).parent.parent / "papers" / "synco-vit"
    paper = resolve(SYNCO_VIT, yaml.safe_load((root / "paper.yaml").read_text()), check_data=False)
    cfg = paper.run_config(method="moby_synco", backbone=paper.vit_backbone, options=paper.method_options("moby_synco"))
    assert (cfg.backbone, cfg.image_size, cfg.epochs, cfg.batch_size, cfg.optimizer, cfg.lr, cfg.weight_decay,
            cfg.decay_norms_and_biases, cfg.lr_warmup_epochs, cfg.lr_min, cfg.grad_clip, cfg.drop_path) == \
        ("vit_small", 224, 300, 512, "adamw", 1e-3, 0.05, False, 5, 5e-6, 5.0, 0.2)
    assert (cfg.ema_momentum, cfg.momentum_schedule, cfg.queue_size, cfg.embed_dim, cfg.temperature) == \
        (0.99, "cosine", 4096, 256, 0.2)
    assert (cfg.blur_p, cfg.view2_blur_p, cfg.solarize_p, cfg.view2_solarize_p, cfg.crop_min_scale) == \
        (1.0, 0.1, 0.0, 0.2, 0.08)
    assert (cfg.options["warmup_epochs"], cfg.options["cooldown_epochs"], cfg.options["head_hidden_dim"]) == \
        (30, 100, 4096)
    cifar = resolve(SYNCO_VIT, yaml.safe_load((root / "cifar.yaml").read_text()), check_data=False)
    assert (cifar.dataset, cifar.vit_backbone, cifar.image_size, cifar.seeds) == \
        ("cifar10", "vit_tiny_small_image", 32, 3)
    reported = pd.read_csv(root / "reported.csv")
    assert reported.source.notna().all() and (reported.source.str.len() > 10).all()
    table = reported[reported.kind == "the paper's table"].set_index(["method", "backbone", "task", "metric"]).value
    assert table[("MoBY + synthetic negatives", "DeiT-S", "kNN classification", "top-1 (%) k 10")] == 71.0
    assert table[("MoBY (authors' reproduction)", "Swin-T", "linear classification", "top-1 (%)")] == 74.7
