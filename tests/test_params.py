"""Every parameter-validation error is one clear sentence, raised before any work."""
import pytest

from ssllib.selfsup.config import RunConfig
from ssllib.data import DatasetNotFound
from ssllib.engine.params import ParameterError
from ssllib.chapters.foundations import FOUNDATIONS
from ssllib.chapters.spec import resolve


def _error(given, check_data=False):
    with pytest.raises((ParameterError, DatasetNotFound)) as err:
        resolve(FOUNDATIONS, given, check_data=check_data)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_defaults_to_cpu_profile(monkeypatch):
    monkeypatch.delenv("SSLLIB_PROFILE", raising=False)
    s = resolve(FOUNDATIONS, {}, check_data=False)
    assert s.profile == "cpu" and s.dataset == "fashion_mnist" and s.seeds >= 2


def test_precedence_explicit_over_profile_over_environment(monkeypatch):
    monkeypatch.setenv("SSLLIB_PROFILE", "smoke")
    assert resolve(FOUNDATIONS, {}, check_data=False).profile == "smoke"
    s = resolve(FOUNDATIONS, {"profile": "paper", "epochs": 5}, check_data=False)
    assert s.profile == "paper" and s.epochs == 5 and s.backbone == "resnet50"
    assert resolve(FOUNDATIONS, {"profile": None, "epochs": None}, check_data=False).epochs == \
        FOUNDATIONS.profiles["smoke"]["epochs"]  # None means "not given"


def test_paper_profile_dataset_overlay():
    s = resolve(FOUNDATIONS, {"profile": "paper", "dataset": "cifar10"}, check_data=False)
    assert (s.backbone, s.stem, s.queue_size, s.ema_momentum, s.temperature, s.batch_size, s.lr) == \
        ("resnet18", "cifar", 4096, 0.99, 0.1, 512, 0.06)
    p = resolve(FOUNDATIONS, {"profile": "paper"}, check_data=False)
    assert (p.backbone, p.queue_size, p.ema_momentum, p.temperature, p.lr, p.epochs) == \
        ("resnet50", 65536, 0.999, 0.2, 0.03, 200)


def test_unknown_dataset_lists_choices():
    msg = _error({"dataset": "cifar"})
    assert "dataset='cifar'" in msg and "cifar10" in msg and "did you mean" in msg


def test_negative_epochs():
    assert "epochs=-3 is out of range: it must be at least 1" in _error({"epochs": -3})


def test_misspelt_parameter_name():
    msg = _error({"epoch": 3})
    assert "no parameter 'epoch'" in msg and "did you mean 'epochs'" in msg


def test_wrong_types():
    assert "expected float, got str" in _error({"lr": "abc"})
    assert "expected int, got float" in _error({"epochs": 2.5})
    assert "expected bool" in _error({"download": "yes"})
    assert "expected int, got bool" in _error({"seeds": True})


def test_unknown_profile(monkeypatch):
    assert "not one of the valid choices smoke, cpu, paper" in _error({"profile": "fast"})
    monkeypatch.setenv("SSLLIB_PROFILE", "gpu")
    assert "SSLLIB_PROFILE='gpu' is not a profile" in _error({})


def test_cross_field_checks():
    assert "queue_size=64 is smaller than batch_size=256" in _error({"queue_size": 64, "batch_size": 256})
    assert "does not split into bn_splits=3" in _error({"bn_splits": 3, "batch_size": 256})


def test_missing_cifar_folder_is_reported_before_any_work(tmp_path):
    msg = _error({"dataset": "cifar10", "data_root": str(tmp_path)}, check_data=True)
    assert "CIFAR-10 is not on disk" in msg and "cifar-10-batches-py" in msg and "download" in msg


def test_run_config_rejects_unknown_method_option_names():
    with pytest.raises(ParameterError, match="no parameter 'epoch'"):
        RunConfig.from_dict({"epoch": 1})


@pytest.mark.parametrize("name, value", [("lr", float("nan")), ("lr", float("inf")), ("temperature", float("nan")),
                                         ("blur_sigma", [0.1, float("nan")]), ("weight_decay", float("-inf"))])
def test_non_finite_values_are_refused_before_any_work(name, value):
    """NaN passes every range comparison (nan < 0 and nan > 1 are both false), so a range check
    alone let it through: a run trained on it and failed, or worse, recorded a result."""
    with pytest.raises(ParameterError, match=f"{name}=.* is not a finite number: give a number"):
        RunConfig.from_dict({"lr": 0.1, name: value})


def test_a_non_finite_chapter_setting_is_refused_with_the_others():
    from ssllib.chapters.cueco import CUECO
    with pytest.raises(ParameterError) as err:
        resolve(CUECO, {"profile": "smoke", "cluster_weight": float("nan"), "lr": float("inf")}, check_data=False)
    assert "cluster_weight=nan is not a finite number" in str(err.value) and "lr=inf" in str(err.value)


def test_a_dropout_of_one_is_refused():
    """At 1 every instance embedding is zeroed: the run trains on nothing and records chance."""
    from ssllib.chapters.wsi import WSI
    from ssllib.mil.config import MILConfig
    with pytest.raises(ParameterError, match=r"dropout=1.0 is out of range: it must be below 1"):
        resolve(WSI, {"profile": "smoke", "dropout": 1.0}, check_data=False)
    with pytest.raises(ParameterError, match=r"dropout=nan is not a finite number: give a number at least 0 and below 1"):
        MILConfig.from_dict({"dropout": float("nan")})
