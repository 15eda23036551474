"""CueCo: the spherical k-means, the two clustering losses against hand-worked values, λ = 0 as
MoCo-v2 exactly, the pull towards the key's centroid, refreshes at the configured steps, and
the checks on its options."""
import math

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import normalized_mutual_info_score

from ssllib.engine.params import ParameterError
from ssllib.selfsup import clustering
from ssllib.selfsup.config import RunConfig
from ssllib.selfsup.cueco import CueCo
from ssllib.selfsup.mocov2 import MoCoV2
from tests.fixtures import assert_same_step, flat_momentum_method as _method, two_views as _views


def _separated(per_cluster=40, clusters=5, dim=16, spread=0.05, seed=0):
    """Points around ``clusters`` orthogonal directions, labels in blocks."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.eye(dim)[:clusters]
    labels = torch.arange(clusters).repeat_interleave(per_cluster)
    points = F.normalize(centres[labels] + spread * torch.randn(len(labels), dim, generator=g), dim=1)
    order = torch.randperm(len(labels), generator=g)
    return points[order], labels[order]


# ------------------------------------------------------------------ k-means

def test_kmeans_recovers_well_separated_clusters():
    x, y = _separated()
    centroids, a = clustering.spherical_kmeans(x, 5, iters=10, generator=torch.Generator().manual_seed(3))
    assert clustering.purity(a, y) == 1.0
    assert len(a.unique()) == 5
    assert math.isclose(clustering.normalised_mutual_information(a, y), 1.0, abs_tol=1e-9)
    assert torch.allclose(centroids.norm(dim=1), torch.ones(5))


def test_kmeans_is_deterministic_under_a_seed_and_moves_with_it():
    x, _ = _separated(spread=0.6)
    runs = [clustering.spherical_kmeans(x, 7, generator=torch.Generator().manual_seed(s)) for s in (1, 1, 2)]
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    assert not torch.equal(runs[0][0], runs[2][0])


def test_kmeans_refuses_more_clusters_than_points():
    with pytest.raises(ValueError, match="cannot make 11 clusters of 10 points"):
        clustering.spherical_kmeans(torch.randn(10, 4), 11)


def test_purity_and_nmi_against_hand_worked_and_sklearn_values():
    a = torch.tensor([0, 0, 0, 1, 1, 1])
    y = torch.tensor([0, 0, 1, 1, 1, 1])
    assert clustering.purity(a, y) == pytest.approx(5 / 6)
    g = torch.Generator().manual_seed(0)
    a, y = torch.randint(6, (300,), generator=g), torch.randint(4, (300,), generator=g)
    assert clustering.normalised_mutual_information(a, y) == pytest.approx(normalized_mutual_info_score(y, a), abs=1e-10)


# ------------------------------------------------------------------ the losses, by hand

C = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
QUERY = torch.tensor([[0.6, 0.8]])


def test_proto_loss_hand_worked():
    # logits (0.6, 0.8)/0.5 = (1.2, 1.6); target cluster 0: −log e^1.2 / (e^1.2 + e^1.6)
    expected = -math.log(math.exp(1.2) / (math.exp(1.2) + math.exp(1.6)))
    assert clustering.proto_loss(QUERY, C, torch.tensor([0]), 0.5).item() == pytest.approx(expected, rel=1e-6)


def test_align_loss_hand_worked():
    assert clustering.align_loss(QUERY, C, torch.tensor([1])).item() == pytest.approx(1 - 0.8, rel=1e-6)
    assert clustering.align_loss(C, C, torch.tensor([0, 1])).item() == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("form", ["proto", "align"])
def test_the_clustering_term_pulls_a_query_towards_its_keys_centroid(form):
    q = F.normalize(torch.tensor([[1.0, 1.0]]), dim=1).requires_grad_()
    target = torch.tensor([1])                                 # the key's cluster: centroid (0, 1)
    loss = clustering.proto_loss(q, C, target, 0.1) if form == "proto" else clustering.align_loss(q, C, target)
    loss.backward()
    stepped = F.normalize(q.detach() - 0.1 * q.grad, dim=1)
    assert stepped @ C[1] > q.detach() @ C[1]                 # closer to its key's centroid
    assert stepped @ C[0] < q.detach() @ C[0]                 # and further from the other


# ------------------------------------------------------------------ the method

def _step(model, seed, epoch=1, labels=None):
    images = torch.randn(4, 3, 4, 4, generator=torch.Generator().manual_seed(100 + seed))
    model._labels = torch.arange(4) if labels is None else labels
    return model(images, images.flip(-1), epoch=epoch, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("form", ["proto", "align"])
def test_with_lambda_zero_the_loss_and_gradients_equal_mocov2_exactly(form):
    cueco, moco = _method(CueCo, cluster_loss=form, cluster_weight=0.0, cluster_warmup_epochs=0, num_clusters=4), \
        _method(MoCoV2)
    moco.load_state_dict({k: v for k, v in cueco.state_dict().items() if k in moco.state_dict()})
    assert_same_step(cueco, moco)
    assert cueco.last_refresh.item() == -1                    # the clusters were never computed


def test_with_lambda_positive_the_loss_adds_the_weighted_clustering_term():
    cueco = _method(CueCo, cluster_weight=2.0, cluster_warmup_epochs=0, num_clusters=4)
    moco = _method(MoCoV2)
    moco.load_state_dict({k: v for k, v in cueco.state_dict().items() if k in moco.state_dict()})
    xq, xk = _views()
    loss, metrics = cueco(xq, xk, epoch=0, generator=torch.Generator().manual_seed(5))
    base, _ = moco(xq, xk, epoch=0, generator=torch.Generator().manual_seed(5))
    assert metrics["cluster_loss"] > 0
    assert loss.item() == pytest.approx(base.item() + 2.0 * metrics["cluster_loss"].item(), rel=1e-6)


def test_refreshes_happen_exactly_at_the_configured_steps():
    model = _method(CueCo, refresh_every=3, cluster_warmup_epochs=1, num_clusters=4)
    refreshed = []
    original = model.refresh

    def spy(queue):
        refreshed.append(int(model.step))
        original(queue)
    model.refresh = spy
    for step in range(10):
        _step(model, step, epoch=0 if step < 2 else 1)         # the clustering phase starts at step 2
    assert refreshed == [2, 5, 8]


def test_the_monitor_labels_follow_the_queue_and_never_reach_the_loss():
    model = _method(CueCo, refresh_every=1, cluster_warmup_epochs=0, num_clusters=4)
    a = _step(model, 0, labels=torch.tensor([1, 2, 3, 4]))[0]
    assert model.queue_labels[:4].tolist() == [1, 2, 3, 4] and (model.queue_labels[4:] == -1).all()
    other = _method(CueCo, refresh_every=1, cluster_warmup_epochs=0, num_clusters=4)
    b = _step(other, 0, labels=torch.tensor([0, 0, 0, 0]))[0]
    assert torch.equal(a, b)                                    # other labels, same loss


def test_the_state_resumes_exactly():
    model = _method(CueCo, refresh_every=2, cluster_warmup_epochs=0, num_clusters=4)
    for step in range(3):
        _step(model, step)
    copy = _method(CueCo, refresh_every=2, cluster_warmup_epochs=0, num_clusters=4)
    copy.load_state_dict(model.state_dict())
    a, b = _step(model, 7)[0], _step(copy, 7)[0]
    assert torch.equal(a, b) and int(copy.step) == 4


def test_a_loaded_state_replaces_the_host_counters_too():
    """The step counters live on the host between loads; loading a state into a model that has
    already trained must take the loaded counters, or the refreshes fall on other steps."""
    options = dict(refresh_every=2, cluster_warmup_epochs=0, num_clusters=4)
    model, used = _method(CueCo, **options), _method(CueCo, **options)
    for step in range(3):
        _step(model, step)
    for step in range(5):                                       # its host counters now say step 5
        _step(used, 20 + step)
    used.load_state_dict(model.state_dict())
    assert used.counters() == [3, 2] == [int(used.step), int(used.last_refresh)]
    for step in range(4):
        assert torch.equal(_step(model, 7 + step)[0], _step(used, 7 + step)[0])
    assert model.counters() == used.counters() == [7, 6]


@pytest.mark.parametrize("options, message", [
    ({"num_clusters": 0}, "num_clusters=0 is out of range"),
    ({"cluster_weight": -0.5}, "cluster_weight=-0.5 is out of range"),
    ({"refresh_every": 0}, "refresh_every=0 is out of range"),
    ({"num_clusters": 5000}, "num_clusters=5000 is more than the 4096 queued keys"),
    ({"cluster_loss": "scatter"}, "is not one of the valid choices proto, align"),
    ({"cluster_warmup_epochs": 5}, "leaves no epoch with the clustering term"),
])
def test_bad_options_are_one_clear_sentence(options, message):
    with pytest.raises(ParameterError, match=message.replace("(", r"\(")):
        RunConfig.from_dict(dict(method="cueco", epochs=5, batch_size=64, queue_size=4096, options=options))


def test_defaults_are_filled_and_lambda_zero_needs_no_clustering_epoch():
    cfg = RunConfig.from_dict(dict(method="cueco", epochs=5, queue_size=4096))
    assert cfg.options == {"cluster_loss": "proto", "cluster_weight": 1.0, "cluster_temperature": 0.1,
                           "num_clusters": 100, "refresh_every": 100, "cluster_warmup_epochs": 1, "kmeans_iters": 10}
    RunConfig.from_dict(dict(method="cueco", epochs=1, options={"cluster_weight": 0.0}))
