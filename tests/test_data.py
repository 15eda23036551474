"""Every loader on a fixture it writes in the dataset's own format."""
import os

import numpy as np
import pytest
import torch

from fixtures import (labels_for, make_cifar10, make_cifar100, make_fashion_mnist, make_imagenet_folders,
                      make_stl10, make_tiny_imagenet, pattern)
from ssllib.data import DatasetNotFound, load_dataset, require_dataset
from ssllib.data.registry import to_memory


def _same(images: torch.Tensor, expected: np.ndarray):
    assert images.dtype == torch.uint8
    assert torch.equal(images, torch.from_numpy(expected))


def test_fashion_mnist_idx(tmp_path):
    make_fashion_mnist(tmp_path)
    train = load_dataset("fashion_mnist", "train", tmp_path)
    test = load_dataset("fashion_mnist", "test", tmp_path)
    _same(train.images, pattern(30, 1, 28))
    _same(test.images, pattern(10, 1, 28, 1000))
    assert train.labels.tolist() == labels_for(30, 10).tolist()
    assert train.num_classes == 10 and train.channels == 1 and train.image_size == 28
    assert train.classes[0] == "T-shirt/top"


def test_fashion_mnist_truncated_file_is_reported(tmp_path):
    folder = make_fashion_mnist(tmp_path)
    import gzip
    path = folder / "train-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[: len(data) // 2]))
    with pytest.raises(ValueError, match="truncated"):
        load_dataset("fashion_mnist", "train", tmp_path)


def test_cifar10_pickles(tmp_path):
    make_cifar10(tmp_path)
    train = load_dataset("cifar10", "train", tmp_path)
    test = load_dataset("cifar10", "test", tmp_path)
    _same(train.images, pattern(20, 3, 32))
    _same(test.images, pattern(4, 3, 32, 500))
    assert train.labels.tolist() == labels_for(20, 10).tolist()
    assert train.classes == [f"class{i}" for i in range(10)]


def test_cifar100_fine_labels(tmp_path):
    make_cifar100(tmp_path)
    train = load_dataset("cifar100", "train", tmp_path)
    _same(train.images, pattern(12, 3, 32))
    assert train.labels.tolist() == labels_for(12, 100).tolist()
    assert train.num_classes == 100 and train.classes[5] == "fine5"


def test_stl10_column_major_binaries(tmp_path):
    make_stl10(tmp_path)
    train = load_dataset("stl10", "train", tmp_path)
    _same(train.images, pattern(5, 3, 96))
    assert train.labels.tolist() == labels_for(5, 10).tolist()  # stored 1–10, loaded 0–9
    unlabeled = load_dataset("stl10", "unlabeled", tmp_path)
    assert unlabeled.labels.tolist() == [-1] * 4
    both = load_dataset("stl10", "train+unlabeled", tmp_path)
    assert len(both) == 9
    _same(both.images[5:], pattern(4, 3, 96, 200))


@pytest.mark.parametrize("name,classes", [("imagenet100", 100), ("imagenet", 1000)])
def test_imagenet_style_folders(tmp_path, name, classes):
    make_imagenet_folders(tmp_path, name, classes, per_class=1, size=8)
    train = load_dataset(name, "train", tmp_path)
    val = load_dataset(name, "test", tmp_path)
    assert len(train) == classes and len(val) == classes and train.num_classes == classes
    image, label = train[3]
    assert label == 3 and image.shape == (3, 8, 8)
    _same(image, pattern(1, 3, 8, 3)[0])  # PNG is lossless


def test_imagenet_folder_with_the_wrong_number_of_classes(tmp_path):
    make_imagenet_folders(tmp_path, "imagenet100", 3, size=8)
    with pytest.raises(ValueError, match="holds 3 class folders but ImageNet-100 has 100"):
        load_dataset("imagenet100", "train", tmp_path)


def test_tiny_imagenet_layout_and_memory_cache(tmp_path):
    make_tiny_imagenet(tmp_path)
    train = load_dataset("tiny_imagenet", "train", tmp_path)
    val = load_dataset("tiny_imagenet", "test", tmp_path)
    assert len(train) == 6 and train.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert val.labels.tolist() == [1, 2, 0]  # from val_annotations.txt
    _same(train[2][0], pattern(1, 3, 64, 2)[0])
    small = to_memory(val, 32, cache_dir=tmp_path / "cache")
    assert small.images.shape == (3, 3, 32, 32) and small.labels.tolist() == [1, 2, 0]
    again = to_memory(val, 32, cache_dir=tmp_path / "cache")  # from the cache file
    assert torch.equal(again.images, small.images)


def test_digits_ships_with_sklearn():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert len(train) + len(test) == 1797 and train.images.shape[1:] == (1, 8, 8)
    assert train.images.max() == 255 and set(train.labels.tolist()) == set(range(10))
    assert test.mean == train.mean  # normalised with the training split's statistics


@pytest.mark.parametrize("name,hint", [
    ("cifar10", "cifar-10-batches-py"), ("cifar100", "cifar-100-python"), ("stl10", "stl10_binary"),
    ("tiny_imagenet", "tiny-imagenet-200"), ("imagenet", "imagenet/train"), ("imagenet100", "imagenet100/train")])
def test_missing_dataset_says_how_to_get_it(tmp_path, name, hint):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFound) as err:
        require_dataset(name, tmp_path / "empty")
    message = str(err.value)
    assert hint in message and "is not on disk" in message and message.count("\n") == 0


def test_missing_fashion_mnist_names_the_debian_package(tmp_path, monkeypatch):
    import ssllib.data.registry as registry
    monkeypatch.setattr(registry, "DEBIAN_FASHION_MNIST", tmp_path / "absent")
    with pytest.raises(DatasetNotFound, match="apt-get install dataset-fashion-mnist"):
        require_dataset("fashion_mnist", tmp_path)


def test_incomplete_cifar_names_the_missing_file(tmp_path):
    folder = make_cifar10(tmp_path)
    (folder / "test_batch").unlink()
    with pytest.raises(DatasetNotFound, match="test_batch is missing"):
        load_dataset("cifar10", "test", tmp_path)


def test_unknown_dataset_and_split():
    with pytest.raises(ValueError, match="choose one of"):
        load_dataset("cifar1000")
    with pytest.raises(ValueError, match="no split 'val'"):
        load_dataset("digits", "val")


@pytest.mark.parametrize("method, views", [("supervised", 1), ("mocov2", 2)])
def test_folder_batches_decode_the_views_a_method_takes(tmp_path, method, views):
    """The loader's workers decode as many crops per image as the method declares: one for the
    supervised baseline (it used to get two and drop one), two for a contrastive method."""
    from ssllib.selfsup.config import RunConfig
    from ssllib.selfsup.trainer import SelfSupervisedTask, load_run_data

    make_imagenet_folders(tmp_path, "imagenet100", 100, per_class=1, size=8)
    cfg = RunConfig.from_dict({"method": method, "dataset": "imagenet100", "data_root": str(tmp_path), "lr": 0.1,
                               "backbone": "resnet18", "width": 4, "image_size": 8, "batch_size": 10,
                               "queue_size": 20, "knn_k": 5, "num_workers": 0, "monitor_every": 0, "device": "cpu"})
    task = SelfSupervisedTask(cfg, load_run_data(cfg), torch.device("cpu"), evaluate=False)
    images, labels = next(task.batches.epoch(torch.Generator().manual_seed(0)))
    assert images.shape == (10, views, 3, 8, 8) and labels.shape == (10,)


def test_a_crafted_cifar_batch_is_refused_and_runs_nothing(tmp_path):
    """A CIFAR batch is a pickle; loading one with pickle.load runs whatever function it names.
    The reader admits only what the format holds, so a crafted file gets one sentence."""
    import pickle

    from ssllib.data import DatasetDamaged

    make_cifar10(tmp_path)
    witness = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {witness}",))
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({"data": Payload(), "labels": []}))
    with pytest.raises(DatasetDamaged, match=r"test_batch is not a CIFAR batch file: it asks to load .*system, "
                                             r"which the format never holds"):
        load_dataset("cifar10", "test", tmp_path)
    assert not witness.exists()
    assert len(load_dataset("cifar10", "train", tmp_path)) > 0   # the genuine batches still read
