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
