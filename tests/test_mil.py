"""The whole-slide family: bags on disk and generated, the aggregators, the D&D loss and partition,
the folds, and training with the best epoch chosen on validation only."""
import csv
import math

import pytest
import torch

from ssllib.data.base import DatasetNotFound
from ssllib.mil.bags import Bags, pad, read_clam, read_split
from ssllib.mil.dnd import dnd_loss, partition, soft_kl
from ssllib.mil.fashion_bags import POPULATIONS, make_bags
from ssllib.mil.folds import stratified_folds
from ssllib.mil.config import MILConfig
from ssllib.mil.models import aggregators, build_mil_model

MIL_MODELS = aggregators()


def _bags(n=5, d=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(int(torch.randint(3, 9, (1,), generator=gen)), d, generator=gen) for _ in range(n)]


@pytest.mark.parametrize("name", MIL_MODELS)
def test_each_model_gives_one_row_per_bag_and_ignores_padding(name):
    torch.manual_seed(0)
    model = build_mil_model(name, 6, 3, hidden=16).eval()
    bags = _bags()
    x, mask = pad(bags)
    out = model(x, mask)
    assert out["logits"].shape == (5, 3) and out["embedding"].shape == (5, 16)
    for i, bag in enumerate(bags):                       # alone, unpadded: the same numbers
        alone = model(bag[None], torch.ones(1, len(bag), dtype=torch.bool))["logits"][0]
        torch.testing.assert_close(out["logits"][i], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["mean", "max", "abmil"])
def test_pooling_models_do_not_depend_on_instance_order(name):
    torch.manual_seed(0)
    model = build_mil_model(name, 6, 2, hidden=16).eval()
    bag = _bags(1)[0]
    ones = torch.ones(1, len(bag), dtype=torch.bool)
    shuffled = bag[torch.randperm(len(bag), generator=torch.Generator().manual_seed(3))]
    torch.testing.assert_close(model(bag[None], ones)["logits"], model(shuffled[None], ones)["logits"], atol=1e-6,
                               rtol=1e-6)


def test_attention_sums_to_one_over_real_instances_only():
    torch.manual_seed(0)
    model = build_mil_model("abmil", 6, 2, hidden=16).eval()
    x, mask = pad(_bags())
    a = model(x, mask)["attention"]
    torch.testing.assert_close(a.sum(1), torch.ones(5))
    assert (a[~mask] == 0).all() and (a[mask] > 0).all()


def test_the_dnd_loss_by_hand():
    s = torch.tensor([[2.0, 0.0]])
    base, experts, y, t = torch.tensor([[0.0, 0.0]]), torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]]), torch.tensor([0]), 0.5
    # CE = log(1 + e^-2); p_T(s) = softmax(4, 0); base uniform; experts softmax(2, 0) and softmax(0, 2)
    ps = torch.tensor([math.exp(4), 1.0]) / (math.exp(4) + 1)

    def kl(p):
        return float((p * (p.log() - ps.log())).sum())
    e1 = torch.tensor([math.exp(2), 1.0]) / (math.exp(2) + 1)
    expected = math.log(1 + math.exp(-2)) + t * t * kl(torch.tensor([0.5, 0.5])) + t * t * (kl(e1) + kl(e1.flip(0))) / 2
    loss, parts = dnd_loss(s, y, base, experts, temperature=t)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert parts["kl_base"].item() == pytest.approx(kl(torch.tensor([0.5, 0.5])), rel=1e-5)
    assert soft_kl(s, s, t).item() == pytest.approx(0.0, abs=1e-7)
    only_ce, _ = dnd_loss(s, y, base, experts, temperature=t, base_weight=0, expert_weight=0)
    assert only_ce.item() == pytest.approx(math.log(1 + math.exp(-2)), rel=1e-6)


@pytest.mark.parametrize("method", ["kmeans", "size_constrained", "fairlets"])
def test_the_partition_assigns_every_slide_once(method):
    gen = torch.Generator().manual_seed(0)
    points = torch.cat([torch.randn(30, 2, generator=gen) + 4, torch.randn(10, 2, generator=gen) - 4])
    labels = torch.arange(40) % 2
    parts = partition(points, 4, seed=1, method=method, labels=labels)
    assert parts.shape == (40,) and set(parts.tolist()) == {0, 1, 2, 3}
    sizes = torch.bincount(parts, minlength=4)
    if method == "size_constrained":                      # N/K ± N/20 = 10 ± 2
        assert sizes.min() >= 8 and sizes.max() <= 12
    if method == "fairlets":                               # each cluster holds the classes half and half
        for k in range(4):
            assert torch.bincount(labels[parts == k], minlength=2).tolist()[0] == sizes[k] // 2
    torch.testing.assert_close(parts, partition(points, 4, seed=1, method=method, labels=labels))  # seeded


def test_more_clusters_than_slides_is_refused():
    with pytest.raises(ValueError, match="K=12 clusters of 10 training slides"):
        partition(torch.randn(10, 2), 12)


def test_folds_never_share_a_bag_and_test_each_bag_once():
    bags = Bags([torch.ones(2, 3)] * 50, torch.arange(50) % 2, [f"s{i}" for i in range(50)], ["a", "b"])
    folds = stratified_folds(bags, 5, seed=0)
    tested = [s for f in folds for s in f["test"]]
    assert sorted(tested) == sorted(bags.ids)
    for f in folds:
        assert not (set(f["train"]) & set(f["val"]) or set(f["train"]) & set(f["test"]) or set(f["val"]) & set(f["test"]))
        assert len(f["train"]) + len(f["val"]) + len(f["test"]) == 50
        assert abs(sum(int(s[1:]) % 2 for s in f["test"]) - 5) <= 1      # stratified: half of 10 are class 1


def test_generated_bags_follow_their_population_rules():
    labels = torch.arange(5000) % 10
    features = torch.nn.functional.one_hot(labels, 10).float()
    g = make_bags(features, labels, bags_per_population=20, bag_sizes=(5, 9), seed=0)
    assert len(g.bags) == 60 and g.bags.labels.float().mean() == 0.5
    for i, (classes, y) in enumerate(zip(g.instance_labels, g.bags.labels.tolist())):
        name, background, witness = POPULATIONS[int(g.population[i])]
        assert 5 <= len(classes) <= 9 and torch.equal(g.bags.features[i].argmax(1), classes)
        assert (witness in classes.tolist()) == bool(y)
        assert set(classes.tolist()) <= set(background) | {witness}
    picked = torch.cat([f.argmax(1) for f in g.bags.features])
    assert len(picked) == sum(len(c) for c in g.instance_labels)


def _write_clam(root, sizes, dim=4):
    (root / "features").mkdir()
    for i, n in enumerate(sizes):
        torch.save(torch.randn(n, dim), root / "features" / f"slide_{i}.pt")
    with (root / "labels.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case_id", "slide_id", "label"])
        for i in range(len(sizes)):
            w.writerow([f"c{i}", f"slide_{i}", ["normal", "tumor"][i % 2]])


def test_clam_features_labels_and_splits(tmp_path):
    _write_clam(tmp_path, [3, 5, 2, 7])
    bags = read_clam(tmp_path / "features", tmp_path / "labels.csv")
    assert bags.classes == ["normal", "tumor"] and bags.labels.tolist() == [0, 1, 0, 1] and bags.dim == 4
    (tmp_path / "splits_0.csv").write_text(",train,val,test\n0,slide_0,slide_1,slide_2\n1,slide_3,,\n")
    split = read_split(tmp_path / "splits_0.csv")
    assert split == {"train": ["slide_0", "slide_3"], "val": ["slide_1"], "test": ["slide_2"]}
    assert bags.index_of(split["train"]).tolist() == [0, 3]
    (tmp_path / "splits_1.csv").write_text(",train,val,test\n0,slide_0,slide_9,slide_2\n")
    with pytest.raises(ValueError, match="names slide 'slide_9'"):
        bags.index_of(read_split(tmp_path / "splits_1.csv")["val"])
    (tmp_path / "splits_2.csv").write_text(",train,val,test\n0,slide_0,slide_0,slide_2\n")
    with pytest.raises(ValueError, match="slide 'slide_0' is in both train and val"):
        read_split(tmp_path / "splits_2.csv")


def test_bad_bags_get_one_sentence(tmp_path):
    _write_clam(tmp_path, [3, 5])
    torch.save(torch.zeros(0, 4), tmp_path / "features" / "slide_1.pt")
    with pytest.raises(ValueError, match="bag 'slide_1' has no instance"):
        read_clam(tmp_path / "features", tmp_path / "labels.csv")
    torch.save(torch.zeros(3, 6), tmp_path / "features" / "slide_1.pt")
    with pytest.raises(ValueError, match="bag 'slide_1' has features of dimension 6, the first bag 4"):
        read_clam(tmp_path / "features", tmp_path / "labels.csv")
    (tmp_path / "features" / "slide_1.pt").unlink()
    with pytest.raises(DatasetNotFound, match="slide 'slide_1' of .* has no feature file"):
        read_clam(tmp_path / "features", tmp_path / "labels.csv")
    with pytest.raises(DatasetNotFound, match="the feature folder .* is not there"):
        read_clam(tmp_path / "nowhere", tmp_path / "labels.csv")


def _problem(n_per_class=24, seed=0, shift=0.3):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(2 * n_per_class) % 2
    feats = [torch.randn(6, 4, generator=gen) + shift * y for y in labels.tolist()]
    return Bags(feats, labels, [f"b{i}" for i in range(len(labels))], ["neg", "pos"])


def test_the_best_epoch_is_chosen_on_validation_only(tmp_path, monkeypatch):
    from ssllib.mil.trainer import MILConfig, train_mil

    monkeypatch.setenv("SSLLIB_RESULTS", str(tmp_path))
    bags = _problem()
    train, val, test = (bags.subset(torch.arange(a, b)) for a, b in ((0, 28), (28, 38), (38, 48)))
    cfg = MILConfig.from_dict(dict(method="mean", epochs=8, lr=0.05, hidden=8, data="toy", device="cpu",
                                   batch_size=4))
    first = train_mil(cfg, train, val, test)
    accuracies = [h["val_accuracy"] for h in first.history]
    assert len(set(accuracies)) > 2                               # a choice to make: the accuracy moves
    assert first.record["best_epoch"] == accuracies.index(max(accuracies)) + 1
    # The same run with the test labels flipped: the same epoch and weights are chosen; only the test score moves.
    flipped = Bags(test.features, 1 - test.labels, [f"x{i}" for i in range(len(test))], test.classes)
    second = train_mil(cfg, train, val, flipped)
    assert second.trained_now and second.record["best_epoch"] == first.record["best_epoch"]
    for a, b in zip(first.model.net.state_dict().values(), second.model.net.state_dict().values()):
        torch.testing.assert_close(a, b)
    best = first.history[first.record["best_epoch"] - 1]["val_accuracy"]
    assert first.record["metrics"]["val_accuracy"]["value"] == best   # the result carries the best epoch's weights
    assert second.record["metrics"]["test_accuracy"]["value"] == pytest.approx(
        100 - first.record["metrics"]["test_accuracy"]["value"])
    again = train_mil(cfg, train, val, test)                       # a finished run is loaded, not retrained
    assert not again.trained_now and again.record["best_epoch"] == first.record["best_epoch"]


def test_a_student_needs_its_teachers():
    from ssllib.engine.params import ParameterError
    from ssllib.mil.trainer import MILConfig, train_mil

    bags = _problem(4)
    with pytest.raises(ParameterError, match="a D&D student needs"):
        train_mil(MILConfig.from_dict(dict(method="dnd", role="student", optimizer="sgd", device="cpu")), bags, bags,
                  bags)


def test_divide_and_distill_trains_k_experts_and_a_student_from_the_base(tmp_path, monkeypatch):
    from ssllib.mil.divide_and_distill import divide_and_distill
    from ssllib.mil.trainer import MILConfig

    monkeypatch.setenv("SSLLIB_RESULTS", str(tmp_path))
    bags = _problem(shift=1.0)
    train, val, test = (bags.subset(torch.arange(a, b)) for a, b in ((0, 28), (28, 38), (38, 48)))
    base = MILConfig.from_dict(dict(method="abmil", epochs=3, lr=0.01, hidden=8, data="toy", device="cpu",
                                    batch_size=4))
    student = base.replace(method="dnd", optimizer="sgd", lr=0.01, epochs=2, options={"aggregator": "abmil"})
    result = divide_and_distill(base, student, train, val, test, k=3)
    assert len(result.experts) == 3 and result.clusters.shape == (28,)
    assert sum(len(e.record["history"]) and 1 for e in result.experts) == 3
    assert [e.config.role for e in result.experts] == ["expert"] * 3 and result.student.config.role == "student"
    assert set(result.seconds) == {"base", "experts", "student"}
    assert "kl_base" in result.student.history[0] and "kl_experts" in result.student.history[0]
    assert result.student.record["inputs"]["start"] == result.base.run_id
    assert [result.student.record["inputs"][f"teacher{i}"] for i in range(4)] == \
        [result.base.run_id, *(e.run_id for e in result.experts)]
    with pytest.raises(ValueError, match="K=40 experts for 28 training slides"):
        divide_and_distill(base, student, train, val, test, k=40)


def test_mil_predictions_run_on_the_device_of_the_network():
    """Every prediction of the whole-slide family (validation, test, the logits D&D clusters and
    distils from) runs where the network is. D&D used to predict with a device of its own (the
    CPU) while the networks trained on the picked device: with a GPU present, networks and inputs
    were on different devices. A network on the 'meta' device stands in for a GPU here: the inputs
    must follow it (on the earlier code, ``predict(net, bags, torch.device("cpu"))`` as D&D called
    it raised the device-mismatch error a GPU run would have hit)."""
    from ssllib.mil.trainer import predict_bags

    bags = _problem(3)
    net = build_mil_model("abmil", 4, 2, hidden=8).to("meta")
    out = predict_bags(net, bags)
    assert out["logits"].device.type == "meta" and out["logits"].shape == (6, 2)


def test_a_mil_run_is_keyed_by_where_its_bags_come_from(tmp_path, monkeypatch):
    """Bags with the same ids drawn from another encoder's features are other data: another run."""
    from ssllib.mil.trainer import run_key_for

    bags = _problem(4)
    other = Bags(bags.features, bags.labels, bags.ids, bags.classes, source="another encoder")
    cfg = MILConfig.from_dict(dict(method="mean", device="cpu"))
    assert run_key_for(cfg, bags, bags, bags).run_id != run_key_for(cfg, other, other, other).run_id


def test_the_distillation_temperature_is_not_the_encoders():
    """D&D's T (dnd_temperature) reaches the student only; temperature stays the MoCo-v2 encoder's τ."""
    from ssllib.chapters.spec import resolve
    from ssllib.chapters.wsi import WSI
    from ssllib.chapters.wsi_experiments import configs

    settings = resolve(WSI, {"profile": "cpu"}, check_data=False)
    assert settings.dnd_temperature == 0.2 and settings.temperature == 0.1
    base, student = configs(settings, "abmil", 0)
    assert student.options["temperature"] == 0.2 and settings.run_config(method="mocov2").temperature == 0.1
    assert "temperature" not in base.options
    settings = resolve(WSI, {"profile": "cpu", "dnd_temperature": 0.5}, check_data=False)
    assert configs(settings, "abmil", 0)[1].options["temperature"] == 0.5
    assert settings.run_config(method="mocov2").temperature == 0.1
    settings = resolve(WSI, {"profile": "cpu", "temperature": 0.3}, check_data=False)
    assert configs(settings, "abmil", 0)[1].options["temperature"] == 0.2
    assert settings.run_config(method="mocov2").temperature == 0.3


def test_departures_list_every_changed_dnd_setting_with_short_numbers():
    from ssllib.chapters.spec import resolve
    from ssllib.chapters.wsi import WSI, departures

    settings = resolve(WSI, {"profile": "cpu", "dnd_temperature": 0.5}, check_data=False)
    rows = {r["setting"]: r for r in departures(settings, WSI.profiles["paper"])}
    assert rows["dnd_temperature"]["reference"] == "0.2" and rows["dnd_temperature"]["this run"] == "0.5"
    assert rows["mil_lr"]["reference"] == "0.0001" and rows["mil_epochs"]["this run"] == "25"
    assert rows["benchmark"]["this run"] == "fashion_bags"
    assert "temperature" not in rows and "dataset" not in rows       # the encoder's settings
    assert "ce_weight" not in rows                                     # unchanged
    settings = resolve(WSI, {"profile": "cpu", "student_lr": 0.1 + 0.2}, check_data=False)
    rows = {r["setting"]: r for r in departures(settings, WSI.profiles["paper"])}
    assert rows["student_lr"]["this run"] == "0.3"                     # {:g}, not 0.30000000000000004


def test_cluster_purity_counts_the_largest_group_of_each_cluster():
    from ssllib.chapters.wsi import cluster_purity

    population = ["a", "a", "b", "b", "c", "c"]
    labels = [1, 0, 1, 0, 1, 0]
    by_label = cluster_purity(population, labels, [0, 1, 0, 1, 0, 1])
    assert by_label["label"] == 100.0 and abs(by_label["population"] - 100 / 3) < 1e-9
    by_population = cluster_purity(population, labels, [0, 0, 1, 1, 2, 2])
    assert by_population == {"population": 100.0, "label": 50.0}
