"""The step benchmark runs end to end and writes what it prints."""
import json

import pytest


def test_bench_writes_throughput_and_the_synco_ratio(tmp_path, monkeypatch, capsys):
    from ssllib.bench import step as bench

    monkeypatch.setenv("SSLLIB_RESULTS", str(tmp_path))
    bench.main(["--profile", "smoke", "--steps", "2", "--synco-rounds", "2", "--vit-rounds", "2", "--epoch",
                "--peer-workers", "0"])
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "bench" / "step-smoke.json").read_text())
    assert record["full_img_per_s"] > 0 and record["bare_img_per_s"] > 0
    assert abs(record["full_over_bare"] - record["full_img_per_s"] / record["bare_img_per_s"]) < 1e-9
    ratio = record["synco_over_mocov2"]
    assert ratio["method"] == "synco" and ratio["baseline"] == "mocov2" and ratio["rounds"] == 2
    assert ratio["ratio_range"][0] <= ratio["ratio"] <= ratio["ratio_range"][1]
    assert f"{ratio['ratio']:.3f}" in out
    vit = record["moby_synco_over_moby"]
    assert (vit["method"], vit["baseline"], vit["backbone"], vit["rounds"]) == \
        ("moby_synco", "moby", "vit_micro_small_image", 2)
    assert vit["epoch"] == 1 and vit["ratio_range"][0] <= vit["ratio"] <= vit["ratio_range"][1]
    assert f"{vit['ratio']:.3f}" in out
    assert record["epoch_steps"] == 1024 // 64 and record["epoch_images"] == 1024 and record["epoch_s"] > 0
    try:
        import lightly  # noqa: F401
    except ImportError:
        assert "peer skipped" in out and "pip install -e .[bench]" in out
    else:
        assert record["peer_img_per_s"] > 0 and record["workers"] == 0
        assert abs(record["full_over_peer"] - record["full_img_per_s"] / record["peer_img_per_s"]) < 1e-9
        assert f"ssllib ÷ peer: {record['full_over_peer']:.2f}" in out


def test_peer_refuses_a_dataset_read_from_files():
    pytest.importorskip("lightly")
    from types import SimpleNamespace

    from ssllib.bench.peer import peer_throughput
    from ssllib.selfsup.config import RunConfig

    data = SimpleNamespace(train=SimpleNamespace(in_memory=False))
    with pytest.raises(ValueError, match="in-memory dataset"):
        peer_throughput(RunConfig(dataset="imagenet"), data, None)


def test_the_jpeg_bench_reads_an_imagenet_layout_folder_as_training_does(tmp_path, monkeypatch, capsys):
    from ssllib.bench import jpeg

    root = jpeg.make_jpeg_folder(tmp_path / "folder", images=16, classes=4, height=60, width=80)
    assert len(list((root / "train").glob("n*/*.JPEG"))) == 16 and len(list((root / "val").glob("n*/*.JPEG"))) == 4
    rate = jpeg.loader_throughput(jpeg.folder_dataset(root), workers=0, size=32, batch=8, device="cpu")
    assert rate["images"] == 16 and rate["img_per_s"] > 0 and rate["img_per_s_per_worker"] == rate["img_per_s"]
    assert jpeg.workers_needed(1000, 300) == 4 and jpeg.workers_needed(900, 300) == 3
    monkeypatch.setenv("SSLLIB_RESULTS", str(tmp_path / "results"))
    jpeg.main(["--folder", str(root), "--workers", "0,1", "--size", "32", "--batch", "8", "--step-rate", "500",
               "--device", "cpu"])
    record = json.loads((tmp_path / "results" / "bench" / "jpeg-cpu.json").read_text())
    assert [r["workers"] for r in record["loaders"]] == [0, 1] and record["step_rate_measured"]
    assert set(record["decoders"]) == {"PIL (one core)", "torchvision.io.decode_jpeg (one core)"}
    assert "workers to feed the step's rates" in capsys.readouterr().out


def test_the_augmentation_bench_times_every_way_and_writes_it(tmp_path, monkeypatch):
    from ssllib.bench import augment

    monkeypatch.setenv("SSLLIB_RESULTS", str(tmp_path))
    result = augment.view_throughput(batch=8, source=20, size=16, rounds=1, device="cpu",
                                     ways=("ssllib eager", "ssllib eager, sync-free", "kornia", "torchvision v2"))
    assert set(result["views"]) == {"ssllib eager", "ssllib eager, sync-free", "kornia", "torchvision v2"}
    assert result["views"]["ssllib eager"]["over_ssllib_eager"] == 1.0
    assert all(v["img_per_s"] > 0 for v in result["views"].values())


def test_the_paper_scale_synco_ratio_keeps_the_recipe_and_names_what_it_shrank():
    from ssllib.bench.step import paper_scale_synco_ratio

    ratio = paper_scale_synco_ratio(rounds=1, steps=1, batch=16, image_size=16, queue=1024, device="cpu",
                                    backbone="resnet18", width=8)
    assert (ratio["method"], ratio["baseline"]) == ("synco", "mocov2") and ratio["ratio"] > 0
    assert ratio["recipe"]["options"]["n_hard"] == 1024 and ratio["recipe"]["options"]["n1"] == 256
    assert ratio["changed_from_the_recipe"] == ["backbone", "batch_size", "image_size", "queue_size", "width"]
