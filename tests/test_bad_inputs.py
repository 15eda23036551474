"""Every case of the bad-input catalogue (ssllib/chapters/troubleshooting.py) in every chapter it
names: one sentence of the documented kind, before any training, and every file already under
results/ byte-identical afterwards (checked by hash). The README's table is the catalogue's."""
from __future__ import annotations

import errno
import hashlib
import os
import re
from pathlib import Path

import pytest
import torch

from ssllib.chapters import chapter_specs
from ssllib.chapters.spec import resolve
from ssllib.chapters.troubleshooting import CASES, markdown_table

ROOT = Path(__file__).resolve().parent.parent
SPECS = chapter_specs()
PAIRS = [(chapter, case) for case in CASES for chapter in case.chapters]


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def results(tmp_path, monkeypatch):
    folder = tmp_path / "results"
    monkeypatch.setenv("SSLLIB_RESULTS", str(folder))
    earlier = folder / "runs" / "an-earlier-run" / "record.json"  # what a failure must never touch
    earlier.parent.mkdir(parents=True)
    earlier.write_text('{"metrics": {}}\n')
    return folder


_DATA: dict = {}


def _cached(load, cfg):
    """The smoke data of a chapter, loaded once for all its cases (they only read it)."""
    key = (load.__name__, cfg.dataset, cfg.train_subset, getattr(cfg, "validation_size", 0), cfg.image_size)
    if key not in _DATA:
        _DATA[key] = load(cfg)
    return _DATA[key]


def _first_run(chapter: str, settings, student: bool = False):
    """The configuration, trainer and data of the first run the chapter trains (of its student
    trained alone, with ``student``: the teacher keeps the benchmark's learning rate)."""
    if chapter in ("foundations", "synco", "synco_vit", "cueco", "cdir", "wsi"):
        from ssllib.selfsup.trainer import load_run_data, run_id_for, train

        if chapter == "synco_vit":
            cfg = settings.run_config(method="moby", backbone=settings.vit_backbone,
                                      options=settings.method_options("moby"))
        else:
            cfg = settings.run_config(method="mocov2") if chapter in ("synco", "cueco", "cdir", "wsi") else settings.run_config()
        return cfg, run_id_for(cfg), lambda: train(cfg, data=_cached(load_run_data, cfg))
    from ssllib.distill.trainer import load_distill_data, run_id_for, train_distill

    cfg = settings.distill_config("ce") if student else settings.distill_config("kd").teacher_config()
    return cfg, run_id_for(cfg), lambda: train_distill(cfg, data=_cached(load_distill_data, cfg))


def _damaged(path: Path, damage: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if damage == "truncated":
        torch.save({"model": {"w": torch.zeros(1000)}}, path)
        path.write_bytes(path.read_bytes()[:300])
    elif damage == "tensor":
        torch.save(torch.zeros(3), path)
    elif damage == "pickle":
        class Executes:
            def __reduce__(self):
                return (os.system, ("echo this ran",))
        torch.save({"model": Executes()}, path)
    elif damage == "foreign":
        torch.save({"identity": {"another": "run"}, "config": {}, "epoch": 1}, path)
    elif damage == "architecture":
        from ssllib.nets.registry import build_classifier
        torch.save({"network": build_classifier("resnet20", 10, 1).state_dict(), "network_name": "resnet20"}, path)


def _crafted_cifar10(root: Path) -> Path:
    """CIFAR-10 in its own format, its first training batch replaced by a pickle that runs a command."""
    import pickle

    from fixtures import make_cifar10

    make_cifar10(root)

    class Executes:
        def __reduce__(self):
            return (os.system, (f"touch {root / 'it-ran'}",))
    (root / "cifar-10-batches-py" / "data_batch_1").write_bytes(pickle.dumps({"data": Executes(), "labels": []}))
    return root


def _live_lock(folder: Path):
    """Another live process holding the run folder's lock (as a second `papermill` would)."""
    import json
    import socket
    import subprocess

    other = subprocess.Popen(["sleep", "60"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".lock").write_text(json.dumps({"pid": other.pid, "host": socket.gethostname(),
                                              "since": "2026-12-06 09:00:00"}))
    return other


def _small_disk(folder: Path, request) -> bool:
    """Mount a 64 kB filesystem on the run's folder, so its checkpoint fills it (root on Linux);
    False where that cannot be done."""
    import subprocess

    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        return False
    request.addfinalizer(lambda: subprocess.run(["umount", str(folder)], check=False))
    return True


def _resolve(chapter: str, given: dict):
    if chapter in ("cdir", "wsi"):  # these need their encoders' dataset only where they use them
        import importlib
        return importlib.import_module(f"ssllib.chapters.{chapter}").resolve_settings(given)
    return resolve(SPECS[chapter], given)


def _clam_fixture(root: Path, damage: str) -> dict:
    """Two slides in CLAM's layout, one of them damaged; the chapter's parameters naming them."""
    (root / "features").mkdir()
    torch.save(torch.randn(3, 4), root / "features" / "slide_0.pt")
    torch.save({"empty_bag": torch.zeros(0, 4), "wrong_dim": torch.zeros(3, 6)}.get(damage, torch.randn(2, 4)),
               root / "features" / "slide_1.pt")
    (root / "labels.csv").write_text("slide_id,label\nslide_0,0\nslide_1,1\n")
    (root / "splits").mkdir()
    val = "slide_9" if damage == "missing_slide" else "slide_1"
    (root / "splits" / "splits_0.csv").write_text(f",train,val,test\n0,slide_0,{val},slide_1\n")
    return {"benchmark": "clam", "features_dir": str(root / "features"), "labels_csv": str(root / "labels.csv"),
            "splits_dir": str(root / "splits")}


@pytest.mark.parametrize("chapter,case", PAIRS, ids=[f"{ch}-{i}" for i, (ch, _) in enumerate(PAIRS)])
def test_bad_input(chapter, case, results, tmp_path, monkeypatch, request):
    spec = SPECS[chapter]
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "notes.txt").write_text("not a folder")
    folders = {"{empty}": str(tmp_path / "empty"), "{existing}": str(tmp_path), "{empty folder}": str(tmp_path / "empty-folder"),
               "{missing}": str(tmp_path / "no" / "such" / "folder"), "{file}": str(tmp_path / "notes.txt")}
    params = {k: folders.get(v, v) if isinstance(v, str) else v for k, v in case.params.items()}
    if params.pop("__read_only__", False):
        from ssllib.engine import ledger
        monkeypatch.setattr(ledger.os, "access", lambda path, mode: False)
    if case.kind == "parameters" and params.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    before = _hashes(results)
    with pytest.raises(Exception) as caught:
        if case.kind == "parameters":
            settings = _resolve(chapter, {"profile": "smoke", **params})
            if chapter == "dcd":
                from ssllib.chapters.distill_experiments import check_transfer
                check_transfer(settings)
        elif case.kind == "slides":
            from ssllib.chapters.wsi_experiments import load_slides
            load_slides(_resolve(chapter, {"profile": "smoke", **_clam_fixture(tmp_path, case.damage)}))
        elif case.kind in ("data", "dataset file"):
            if case.kind == "dataset file":
                params["data_root"] = str(_crafted_cifar10(tmp_path / "crafted"))
            settings = _resolve(chapter, {"profile": "smoke", **params})
            _, _, run = _first_run(chapter, settings)
            monkeypatch.setattr("ssllib.engine.runs.fit", lambda *a, **k: pytest.fail("a run trained on bad input"))
            run()
        elif case.kind == "benchmark":
            from ssllib.chapters.retrieval_experiments import load_benchmark
            load_benchmark(_resolve(chapter, {"profile": "smoke", **params}))
        else:
            # cases that train a little do it on a few batches
            small = {"train_subset": 128, "batch_size": 32} if case.kind in ("disk", "divergence", "run record") \
                else {}
            if small and spec.family != "distillation":
                small.update(monitor_every=0, queue_size=64)
                if "bn_splits" in spec.params:
                    small["bn_splits"] = 1
            settings = _resolve(chapter, {"profile": "smoke", **small})
            if case.kind == "teacher checkpoint":
                from ssllib.chapters.distill_experiments import train_students
                from ssllib.distill.trainer import load_distill_data

                path = tmp_path / "teacher.pt"
                _damaged(path, "architecture" if case.damage == "architecture" else "truncated")
                settings = resolve(spec, {"profile": "smoke", "teacher_checkpoint": str(path)})
                data = _cached(load_distill_data, settings.distill_config("kd"))
                monkeypatch.setattr("ssllib.chapters.distill_experiments.train_distill",
                                    lambda *a, **k: pytest.fail("a run trained before the bad teacher was found"))
                before = _hashes(results)
                train_students(settings, ("ce", "kd"), [0], data=data)
            else:
                if case.kind == "divergence":
                    settings = _resolve(chapter, {"profile": "smoke", **small, "lr": 1e12})
                cfg, run_id, run = _first_run(chapter, settings, student=case.kind == "divergence")
                if case.kind == "run checkpoint":
                    _damaged(results / "runs" / run_id / "checkpoint.pt", case.damage)
                    before = _hashes(results)
                if case.kind == "run record":   # a finished run, its record then damaged
                    run()
                    record = results / "runs" / run_id / "record.json"
                    record.write_text(record.read_text().replace('"value": ', '"value": 1', 1)
                                      if case.damage == "edited" else "{ not json")
                    monkeypatch.setattr("ssllib.engine.runs.fit", lambda *a, **k: pytest.fail("a damaged record led "
                                                                                              "to training"))
                    before = _hashes(results)
                if case.kind == "busy":
                    other = _live_lock(results / "runs" / run_id)
                    request.addfinalizer(other.kill)
                    before = _hashes(results)
                if case.kind == "disk" and not _small_disk(results / "runs" / run_id, request):
                    from ssllib.engine import checkpoint

                    def full(*args):   # where no small filesystem can be mounted: the call a full disk fails
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    monkeypatch.setattr(checkpoint.os, "fsync", full)
                run()
    err = caught.value
    assert type(err).__name__ == case.error, f"{type(err).__name__}: {err}"
    message = str(err)
    assert re.search(case.message, message), message
    assert "\n" not in message.strip() and len(message) < 600, "one sentence, not a report"
    after = _hashes(results)
    assert {k: v for k, v in after.items() if k in before} == before, "an earlier result was changed"
    assert not [k for k in after if k.endswith(".tmp")], "a temporary file was left behind"


def test_every_chapter_has_at_least_twelve_cases():
    for chapter in SPECS:  # the review trains nothing: only its parameters can go wrong
        assert len([c for c in CASES if chapter in c.chapters]) >= (5 if chapter == "review" else 12), chapter


def test_the_readme_troubleshooting_table_is_the_catalogue():
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme, "run `python -m ssllib.chapters.troubleshooting` and paste it into README.md"
