"""The step benchmark runs end to end and writes what it prints."""
import json


def test_bench_writes_throughput_and_the_synco_ratio(tmp_path, monkeypatch, capsys):
    from ssllib import bench

    monkeypatch.setenv("SSLLIB_RESULTS", str(tmp_path))
    bench.main(["--profile", "smoke", "--steps", "2", "--synco-rounds", "2"])
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "bench" / "step-smoke.json").read_text())
    assert record["full_img_per_s"] > 0 and record["bare_img_per_s"] > 0
    assert abs(record["full_over_bare"] - record["full_img_per_s"] / record["bare_img_per_s"]) < 1e-9
    ratio = record["synco_over_mocov2"]
    assert ratio["method"] == "synco" and ratio["baseline"] == "mocov2" and ratio["rounds"] == 2
    assert ratio["ratio_range"][0] <= ratio["ratio"] <= ratio["ratio_range"][1]
    assert f"{ratio['ratio']:.3f}" in out
