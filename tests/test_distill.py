"""The distillation engine: the benchmark's networks, KD, CRD, RRD, the run configuration and
the training loop."""
import math

import pytest
import torch
import torch.nn.functional as F

from ssllib.engine.checkpoint import CheckpointError, save_checkpoint
from ssllib.distill.config import DistillConfig
from ssllib.distill.crd import CRD, other_class_sampler
from ssllib.distill.losses import kd_loss, nce_loss, rrd_loss
from ssllib.distill.model import Distillation
from ssllib.distill.rrd import RRD
from ssllib.nets.zoo import ZOO, build_network
from ssllib.data.loader import TrainBatches
from ssllib.nets.resnet import count_parameters
from ssllib.engine.params import ParameterError
from tests.fixtures import tiny_dataset

# Sizes (millions of parameters, CIFAR-100 heads) as the distillation papers tabulate them.
PUBLISHED_SIZES = {"resnet20": 0.28, "resnet32": 0.47, "resnet56": 0.86, "resnet110": 1.74, "resnet8x4": 1.23,
                   "resnet32x4": 7.43, "wrn_16_2": 0.70, "wrn_40_1": 0.57, "wrn_40_2": 2.26, "vgg8": 3.96,
                   "vgg13": 9.46, "ResNet50": 23.71, "MobileNetV2": 0.81, "ShuffleV1": 0.95, "ShuffleV2": 1.36}
FEATURE_DIMS = {"resnet20": 64, "resnet110": 64, "resnet8x4": 256, "resnet32x4": 256, "wrn_16_2": 128,
                "wrn_40_1": 64, "wrn_40_2": 128, "vgg8": 512, "vgg13": 512, "ResNet50": 2048, "MobileNetV2": 1280,
                "ShuffleV1": 960, "ShuffleV2": 1024}


@pytest.mark.parametrize("name", sorted(PUBLISHED_SIZES))
def test_parameter_counts_match_the_published_sizes(name):
    count = count_parameters(build_network(name, num_classes=100)) / 1e6
    assert abs(count - PUBLISHED_SIZES[name]) <= 0.02 * PUBLISHED_SIZES[name], count


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_network_returns_its_features_and_logits(name):
    net = build_network(name, num_classes=7, in_channels=1).eval()
    feats, logits = net(torch.randn(2, 1, 16, 16))
    assert logits.shape == (2, 7)
    assert feats[-1].shape == (2, net.feature_dim)
    assert all(f.shape[0] == 2 for f in feats)
    if name in FEATURE_DIMS:
        assert net.feature_dim == FEATURE_DIMS[name]
    assert (feats[-1] >= 0).all()  # pooled after the final ReLU


def test_unknown_network_names_the_choices():
    with pytest.raises(ValueError, match="unknown network 'resnet9'.*resnet8"):
        build_network("resnet9")


# ----------------------------------------------------------------------------- KD


def test_kd_against_a_hand_worked_value():
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[math.log(3.0), 0.0]])
    # p_t = (3/4, 1/4), p_s = (1/2, 1/2): KL = 3/4·ln(3/2) + 1/4·ln(1/2)
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert kd_loss(student, teacher, 1.0).item() == pytest.approx(expected, abs=1e-6)
    # at T = 2 the logits are halved and the KL is scaled by T² = 4
    p = torch.tensor([math.sqrt(3.0), 1.0]) / (math.sqrt(3.0) + 1)
    expected_t2 = 4 * float((p * (p / 0.5).log()).sum())
    assert kd_loss(student, teacher, 2.0).item() == pytest.approx(expected_t2, abs=1e-6)
    assert kd_loss(teacher, teacher, 4.0).item() == pytest.approx(0.0, abs=1e-7)


# ----------------------------------------------------------------------------- CRD


def test_nce_against_a_hand_worked_value():
    scores = torch.tensor([[0.5, 0.1, 0.2]])  # positive, then m = 2 negatives; n_data = 4 -> m·P_n = 0.5
    expected = -(math.log(0.5 / 1.0) + math.log(0.5 / 0.6) + math.log(0.5 / 0.7))
    assert nce_loss(scores, n_data=4).item() == pytest.approx(expected, abs=1e-5)


def test_crd_negatives_never_share_the_anchor_class_and_cover_the_others():
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 2, 0, 1, 0])
    sample = other_class_sampler(labels)
    batch = torch.tensor([0, 1, 2, 2])
    idx = sample(batch, 2000, torch.Generator().manual_seed(0))
    assert idx.shape == (4, 2000)
    assert (labels[idx] != batch[:, None]).all()
    for row, c in zip(idx, batch):
        assert set(row.tolist()) == set((labels != c).nonzero().flatten().tolist())
    counts = torch.bincount(idx[2], minlength=10)[labels != 2].float()  # uniform over the 7 others
    assert (counts / counts.sum() - 1 / 7).abs().max() < 0.04


def test_crd_positive_is_the_own_slot_and_banks_update_by_momentum():
    torch.manual_seed(0)
    labels = torch.tensor([0, 1, 0, 1, 2, 2])
    crd = CRD(5, 3, labels, embed_dim=4, negatives=3, temperature=0.07, momentum=0.5,
              generator=torch.Generator().manual_seed(0))
    old_s, old_t = crd.memory_s.clone(), crd.memory_t.clone()
    h_s, h_t, index = torch.randn(2, 5), torch.randn(2, 3), torch.tensor([4, 1])
    loss, _ = crd(h_s, h_t, index, labels[index])
    assert torch.isfinite(loss) and crd.z_s > 0 and crd.z_t > 0
    v_s = F.normalize(crd.embed_s(h_s), dim=1)
    assert torch.allclose(crd.memory_s[index], F.normalize(0.5 * old_s[index] + 0.5 * v_s, dim=1), atol=1e-6)
    untouched = torch.tensor([0, 2, 3, 5])
    assert torch.equal(crd.memory_t[untouched], old_t[untouched])
    idx = torch.tensor([[4, 0, 1, 2], [1, 0, 4, 5]])
    direct = torch.exp(torch.bmm(old_t[idx], v_s.unsqueeze(2)).squeeze(2) / 0.07)
    crd._z_known = False
    crd.z_s.fill_(-1.0)
    assert torch.allclose(crd._scores(v_s, old_t, idx, crd.z_s), direct / (direct.mean() * 6), rtol=1e-5)
    z_s = crd.z_s.clone()
    crd(h_s, h_t, index, labels[index])
    assert torch.equal(crd.z_s, z_s)  # fixed after the first batch


# ----------------------------------------------------------------------------- RRD


def test_rrd_loss_equals_a_direct_cross_entropy_of_the_two_relations():
    g = torch.Generator().manual_seed(0)
    z_s, z_t = F.normalize(torch.randn(3, 4, generator=g), dim=1), F.normalize(torch.randn(3, 4, generator=g), dim=1)
    memory = F.normalize(torch.randn(6, 4, generator=g), dim=1)
    total = 0.0
    for i in range(3):
        a = [float(z_s[i] @ memory[k]) / 0.04 for k in range(6)]
        c = [float(z_t[i] @ memory[k]) / 0.10 for k in range(6)]
        p_t = [math.exp(v) / sum(math.exp(w) for w in c) for v in c]
        log_p_s = [v - math.log(sum(math.exp(w) for w in a)) for v in a]
        total += -sum(p * q for p, q in zip(p_t, log_p_s))
    assert rrd_loss(z_s, z_t, memory, 0.04, 0.10).item() == pytest.approx(total / 3, rel=1e-5)


def test_rrd_gradients_reach_neither_the_teacher_nor_its_projection():
    torch.manual_seed(0)
    student, teacher = build_network("resnet8", 5, 1), build_network("resnet8", 5, 1)
    rrd = RRD(64, 64, embed_dim=8, queue_size=16, generator=torch.Generator().manual_seed(0))
    model = Distillation(student, teacher, rrd, (1.0, 0.0, 1.0), 4.0)
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    w_t = rrd.embed_t.weight.clone()
    optimizer = torch.optim.SGD(model.trainable_parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    assert not {id(p) for p in teacher.parameters()} & {id(p) for g in optimizer.param_groups for p in g["params"]}
    model.train()
    assert not teacher.training
    for _ in range(2):
        out = model(torch.randn(4, 1, 16, 16), torch.randint(0, 5, (4,)), torch.arange(4))
        optimizer.zero_grad()
        out[0].backward()
        assert all(p.grad is None for p in teacher.parameters()) and rrd.embed_t.weight.grad is None
        assert rrd.embed_s.weight.grad is not None
        optimizer.step()
    assert all(torch.equal(v, teacher_before[k]) for k, v in teacher.state_dict().items())  # BN stats too
    assert torch.equal(rrd.embed_t.weight, w_t)  # W_t keeps its random initialisation


def test_rrd_with_enqueue_before_and_a_cold_teacher_is_infonce_over_the_queue():
    torch.manual_seed(0)
    rrd = RRD(6, 6, embed_dim=5, queue_size=12, tau_s=0.1, tau_t=1e-4, enqueue="before",
              generator=torch.Generator().manual_seed(1))
    h_s, h_t = torch.randn(4, 6), torch.randn(4, 6)
    loss, _ = rrd(h_s, h_t)
    z_s = F.normalize(rrd.embed_s(h_s), dim=1)
    queue = rrd.queue.keys  # the batch's teacher embeddings are in rows 0..3
    infonce = F.cross_entropy(z_s @ queue.t() / 0.1, torch.arange(4))
    assert loss.item() == pytest.approx(infonce.item(), rel=1e-4)
    after = RRD(6, 6, embed_dim=5, queue_size=12, tau_s=0.1, tau_t=1e-4, enqueue="after",
                generator=torch.Generator().manual_seed(1))
    after.load_state_dict({**rrd.state_dict(), "queue.keys": after.queue.keys, "queue.ptr": after.queue.ptr})
    assert abs(after(h_s, h_t)[0].item() - infonce.item()) > 1e-3  # the 2024 order scores the old queue


def test_queue_wraps_around_with_drop_last_batches():
    data = tiny_dataset(n=10, size=8, channels=1)
    batches = TrainBatches(data, 4, torch.device("cpu"), 8, num_workers=0)
    steps = list(batches.epoch(torch.Generator().manual_seed(0), with_index=True))
    assert len(steps) == 2 and all(len(b[0]) == 4 == len(b[2]) for b in steps)  # the partial batch is dropped
    for images, labels, index in steps:
        assert torch.equal(images, data.images[index]) and torch.equal(labels, data.labels[index])
    rrd = RRD(3, 3, embed_dim=2, queue_size=8, generator=torch.Generator().manual_seed(0))
    batches_seen = [torch.randn(4, 3) for _ in range(3)]
    for h in batches_seen:
        rrd(torch.randn(4, 3), h)
    z = [F.normalize(rrd.embed_t(h), dim=1) for h in batches_seen]
    assert rrd.queue.ptr.item() == 4
    assert torch.allclose(rrd.queue.keys[:4], z[2]) and torch.allclose(rrd.queue.keys[4:], z[1])


# ----------------------------------------------------------------------------- configuration


def test_config_fills_the_benchmark_defaults():
    kd = DistillConfig.from_dict({"method": "kd"})
    assert kd.weights == (0.1, 0.9, 0.0) and kd.lr == 0.05
    assert DistillConfig.from_dict({"method": "crd_kd"}).weights == (1.0, 1.0, 0.8)
    assert DistillConfig.from_dict({"method": "rrd", "network": "ShuffleV1"}).lr == 0.01
    rrd = DistillConfig.from_dict({})
    assert rrd.options == {"rrd_queue": 16384, "rrd_tau_s": 0.04, "rrd_tau_t": 0.10, "rrd_enqueue": "after"}
    teacher = rrd.teacher_config()
    assert (teacher.method, teacher.network, teacher.teacher, teacher.weights) == ("ce", "resnet32x4", None,
                                                                                   (1.0, 0.0, 0.0))
    assert rrd.replace(method="kd").weights == (0.1, 0.9, 0.0) and rrd.replace(method="kd").options == {}


@pytest.mark.parametrize("values,message", [
    ({"network": "resnet9"}, "network='resnet9' is not one of the valid choices"),
    ({"teacher": "wrn_40_3"}, "teacher='wrn_40_3' is not one of the valid choices.*did you mean 'wrn_40_2'"),
    ({"options": {"rrd_queue": 1000}, "batch_size": 64}, "rrd_queue=1000 is not a multiple of batch_size=64"),
    ({"method": "kd", "teacher": None}, "method 'kd' distils from a teacher"),
    ({"options": {"rrd_tau": 0.1}}, "method 'rrd' has no parameter 'rrd_tau'; did you mean"),
    ({"method": "dcdd"}, "method='dcdd' is not a known distill method.*did you mean 'dcd'"),
    ({"teacher_checkpoint": "/nowhere/t.pt"}, "teacher_checkpoint='/nowhere/t.pt' is not a file"),
])
def test_bad_configurations_get_one_clear_sentence(values, message):
    with pytest.raises(ParameterError, match=message):
        DistillConfig.from_dict(values)


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path):
    from ssllib.distill.trainer import load_network

    path = tmp_path / "teacher.pt"
    save_checkpoint({"network": build_network("resnet8", 10, 1).state_dict(), "network_name": "resnet8"}, path)
    with pytest.raises(CheckpointError, match="holds a resnet8, not the resnet20"):
        load_network(path, "resnet20", 10, 1)
    save_checkpoint(build_network("resnet8", 10, 1).state_dict(), path)  # a bare state dict
    with pytest.raises(CheckpointError, match="does not fit this CifarResNet"):
        load_network(path, "resnet20", 10, 1)
    assert load_network(path, "resnet8", 10, 1) is not None


# ----------------------------------------------------------------------------- training


def test_students_reuse_one_teacher_and_record_last_and_best(tmp_path, monkeypatch):
    from ssllib.distill import trainer

    data = trainer.DistillData(tiny_dataset(n=96, size=8, channels=1, classes=3),
                               tiny_dataset(n=32, size=8, channels=1, classes=3, seed=1), 8,
                               tiny_dataset(n=24, size=8, channels=1, classes=3, seed=2))
    base = DistillConfig.from_dict(dict(method="crd", network="resnet8", teacher="resnet14", dataset="fashion_mnist",
                                        epochs=3, batch_size=16, lr_milestones=[1.0], options={"crd_negatives": 20},
                                        log_every=2, device="cpu"))
    kw = dict(data=data, runs_dir=tmp_path / "runs", ledger_dir=tmp_path / "ledger")
    crd = trainer.train_distill(base, **kw)
    trained = []
    real = trainer.train_distill

    def spy(cfg, **k):
        result = real(cfg, **k)
        trained.append((cfg.method, result.trained_now))
        return result
    monkeypatch.setattr(trainer, "train_distill", spy)
    rrd_cfg = base.replace(method="rrd_kd", options={"rrd_queue": 32})
    rrd = trainer.train_distill(rrd_cfg, **kw)
    assert trained == [("ce", False), ("rrd_kd", True)]  # the teacher came from its checkpoint
    teacher_top1 = crd.record["metrics"]["teacher_top1"]["value"]
    assert rrd.record["metrics"]["teacher_top1"]["value"] == teacher_top1
    assert crd.record["inputs"]["teacher"] == rrd.record["inputs"]["teacher"]   # one teacher run, named
    for result in (crd, rrd):
        metrics = result.record["metrics"]
        assert metrics["test_top1"]["protocol"]["epoch"] == "last"
        assert all("test_top1" not in h for h in result.history)  # the test split is read once, at the end
        best = max(result.history, key=lambda h: h["val_top1"])     # the first of equal ones
        assert metrics["test_top1_best"]["protocol"]["best_epoch"] == best["epoch"]
        assert "validation" in metrics["test_top1_best"]["protocol"]["chosen_on"]
        assert [h["lr"] for h in result.history] == pytest.approx([0.05, 0.005, 0.005])
    assert {"ce", "kd", "distill"} <= set(rrd.history[-1])
    again = real(rrd_cfg, **kw)
    assert not again.trained_now and again.metric("test_top1") == rrd.metric("test_top1")


# ----------------------------------------------------------------------------- DCD


def _softmax(values):
    e = [math.exp(v) for v in values]
    return [x / sum(e) for x in e]


def test_dcd_against_a_hand_worked_case():
    from ssllib.distill.dcd import dcd_loss

    z_s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z_t = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    logits = [[1.0, 0.6], [0.0, 0.8]]  # κ = exp(0) = 1, b = 0
    rows = [_softmax(r) for r in logits]
    cols = [_softmax([logits[0][j], logits[1][j]]) for j in range(2)]
    contrastive = -(math.log(rows[0][0]) + math.log(rows[1][1])) / 2
    consistency = sum(sum(q * math.log(q / p) for q, p in zip(cols[i], rows[i])) for i in range(2)) / 2
    loss, parts = dcd_loss(z_s, z_t, torch.tensor(0.0), torch.tensor(0.0), alpha=0.5)
    assert parts["contrastive"].item() == pytest.approx(contrastive, abs=1e-6)
    assert parts["consistency"].item() == pytest.approx(consistency, abs=1e-6) and consistency > 0.01
    assert loss.item() == pytest.approx(contrastive + 0.5 * consistency, abs=1e-6)


def test_dcd_scale_clamps_bias_gets_no_gradient_and_symmetric_logits_are_consistent():
    from ssllib.distill.dcd import dcd_loss

    g = torch.Generator().manual_seed(0)
    z_s = F.normalize(torch.randn(6, 4, generator=g), dim=1)
    z_t = F.normalize(torch.randn(6, 4, generator=g), dim=1)
    theta, bias = torch.tensor(3.0, requires_grad=True), torch.tensor(0.7, requires_grad=True)
    loss, parts = dcd_loss(z_s, z_t, theta, bias)
    assert parts["scale"].item() == 10.0  # exp(3) ≈ 20 is clamped
    loss.backward()
    assert abs(bias.grad.item()) < 1e-6 and theta.grad.item() == 0.0  # past the clamp θ gets no gradient either
    assert parts["at_clamp"].item() == 1.0
    raised = torch.tensor(3.0, requires_grad=True)  # with the clamp raised past exp(3), θ learns again
    loss, parts = dcd_loss(z_s, z_t, raised, bias, max_scale=100.0)
    loss.backward()
    assert parts["scale"].item() == pytest.approx(math.exp(3.0), rel=1e-6) and parts["at_clamp"].item() == 0.0
    assert raised.grad.item() != 0.0
    for theta_value in (-1.0, 0.5, 2.0):  # identical embeddings: a symmetric logit matrix, whatever κ
        _, parts = dcd_loss(z_t, z_t, torch.tensor(theta_value), torch.tensor(0.3))
        assert parts["consistency"].item() == pytest.approx(0.0, abs=1e-6)


def test_command_line_reads_a_distillation_configuration(tmp_path, capsys):
    import json

    from ssllib.train import main

    path = tmp_path / "run.json"
    path.write_text(json.dumps({"method": "rrd", "teacher": "resnet33"}))
    with pytest.raises(SystemExit):
        main([str(path)])
    assert "teacher='resnet33' is not one of the valid choices" in capsys.readouterr().err


def test_an_interrupted_student_resumes_to_the_same_result(tmp_path, monkeypatch):
    from ssllib.distill import trainer

    data = trainer.DistillData(tiny_dataset(n=64, size=8, channels=1, classes=3),
                               tiny_dataset(n=16, size=8, channels=1, classes=3, seed=1), 8,
                               tiny_dataset(n=16, size=8, channels=1, classes=3, seed=2))
    cfg = DistillConfig.from_dict(dict(method="rrd_kd", network="resnet8", teacher="resnet8", dataset="fashion_mnist",
                                       epochs=2, batch_size=16, lr_milestones=[1.5], options={"rrd_queue": 32},
                                       embed_dim=8, device="cpu", log_every=2))
    whole = trainer.train_distill(cfg, data=data, runs_dir=tmp_path / "a", ledger_dir=tmp_path / "l")

    real, calls = trainer.classifier_accuracy, []

    def interrupt_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 6:  # the teacher's 2 validations and 2 tests (last, best), the student's 2nd validation
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(trainer, "classifier_accuracy", interrupt_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        trainer.train_distill(cfg, data=data, runs_dir=tmp_path / "b", ledger_dir=tmp_path / "l")
    monkeypatch.setattr(trainer, "classifier_accuracy", real)
    from ssllib.engine.checkpoint import load_checkpoint
    assert load_checkpoint(tmp_path / "b" / trainer.run_id_for(cfg) / "checkpoint.pt")["epoch"] == 1
    resumed = trainer.train_distill(cfg, data=data, runs_dir=tmp_path / "b", ledger_dir=tmp_path / "l")
    assert resumed.trained_now and len(resumed.history) == 2
    for key, value in whole.model.student.state_dict().items():
        assert torch.equal(value, resumed.model.student.state_dict()[key]), key
    assert torch.equal(whole.model.criterion.queue.keys, resumed.model.criterion.queue.keys)
    assert resumed.metric("test_top1") == whole.metric("test_top1")
    assert resumed.metric("test_top1_best") == whole.metric("test_top1_best")


# ----------------------------------------------------------------------------- transfer


@pytest.mark.parametrize("name", ["stl10", "tiny_imagenet"])
def test_transfer_probe_trains_only_a_new_head_on_the_real_loaders_at_32px(tmp_path, name):
    from ssllib.data import load_dataset
    from ssllib.data.registry import to_memory
    from ssllib.evaluate.transfer import TransferRecipe, transfer_probe
    from tests.fixtures import make_stl10, make_tiny_imagenet

    (make_stl10 if name == "stl10" else make_tiny_imagenet)(tmp_path)
    train, test = load_dataset(name, "train", tmp_path), load_dataset(name, "test", tmp_path)
    if not train.in_memory:
        train, test = to_memory(train, 32, tmp_path / "cache"), to_memory(test, 32, tmp_path / "cache")
    assert train.images.shape[-1] in (32, 96)
    from tests.fixtures import network_source

    net = build_network("resnet8", 100, 3).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    result = transfer_probe(network_source("resnet8"), lambda: net, train, test,
                            TransferRecipe(epochs=2, lr_milestones=(1.0,), batch_size=2, size=32),
                            runs_dir=tmp_path / "probe")
    assert len(result.history) == 2 and 0 <= result.metric("test_top1") <= 100
    assert [h["lr"] for h in result.history] == pytest.approx([0.05, 0.005])
    assert result.record["metrics"]["test_top1"]["protocol"]["epoch"] == "last"
    assert result.record["inputs"] == {"network": "resnet8"}
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())  # frozen, BN statistics too


def test_a_transfer_dataset_with_other_channels_is_refused_up_front():
    from ssllib.chapters.distill_experiments import check_transfer
    from ssllib.chapters.spec import Settings

    with pytest.raises(ParameterError, match="transfer_dataset='stl10' has 3 colour channel"):
        check_transfer(Settings(dataset="fashion_mnist", transfer_dataset="stl10"))
    check_transfer(Settings(dataset="fashion_mnist", transfer_dataset="digits"))


def test_chapter_helpers_depth_and_weights():
    from ssllib.chapters.distill_experiments import cifar_resnet_depth, loss_weights

    assert [cifar_resnet_depth(build_network(n)) for n in ("resnet8", "resnet20", "resnet110")] == [8, 20, 110]
    with pytest.raises(ValueError, match="no CIFAR ResNet blocks"):
        cifar_resnet_depth(build_network("vgg8"))
    weights = loss_weights(["kd", "crd", "rrd_kd"])
    assert weights.loc["KD"].tolist() == [0.1, 0.9, 0.0]
    assert weights.loc["CRD"].tolist() == [1.0, 0.0, 0.8]
    assert weights.loc["RRD+KD"].tolist() == [1.0, 1.0, 1.0]


def test_relation_agreement_against_hand_worked_cases():
    import numpy as np

    from ssllib.chapters.distill_experiments import relation_agreement

    p = np.array([[0.5, 0.25, 0.125, 0.125], [0.7, 0.1, 0.1, 0.1]])
    same = relation_agreement(p, p, k=1)
    assert same["kl median"] == pytest.approx(0.0, abs=1e-9) and same["top-k overlap"] == 1.0
    assert same["top-k chance"] == 0.25 and same["even p"] == 0.25
    assert same["largest p_T median"] == pytest.approx(0.6)
    # KL to uniform = log K − H(p): row 1 has H = 1.75 bits, row 2 H = −0.7 ln 0.7 − 0.3 ln 0.1
    h = [1.75 * np.log(2), -(0.7 * np.log(0.7) + 0.3 * np.log(0.1))]
    assert same["uniform kl median"] == pytest.approx(np.median([np.log(4) - x for x in h]))
    flipped = relation_agreement(p, p[:, ::-1].copy(), k=1)
    assert flipped["top-k overlap"] == 0.0 and flipped["kl median"] > 0
