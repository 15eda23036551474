"""Which code a run's cache key depends on: its own method's modules and the shared engine,
not other methods or the chapter helpers around runs; and only what that code computes, not its
documentation."""
import shutil

import pytest

from ssllib.engine import fingerprint


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    copy = tmp_path / "ssllib"
    shutil.copytree(fingerprint.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprint, "PACKAGE", copy)
    fingerprint.run_code_fingerprint.cache_clear()
    fingerprint.code_fingerprint.cache_clear()
    fingerprint.shared_code_fingerprint.cache_clear()
    yield copy
    fingerprint.run_code_fingerprint.cache_clear()
    fingerprint.code_fingerprint.cache_clear()
    fingerprint.shared_code_fingerprint.cache_clear()


def _clear():
    fingerprint.run_code_fingerprint.cache_clear()
    fingerprint.code_fingerprint.cache_clear()
    fingerprint.shared_code_fingerprint.cache_clear()


def _edit(path):
    """A change of what the module computes (a new module-level value)."""
    path.write_text(path.read_text() + "\n_EDITED = 1\n")
    _clear()


def _document(path):
    """A documentation-only edit: a comment, a sentence in the module's docstring and in every
    help text of a parameter (``help=…`` and ``_p(default, "help", …)``)."""
    import re

    text = path.read_text()
    text = text.replace('"""', '"""Edited. ', 1)
    text = re.sub(r'help="', 'help="reworded: ', text)
    text = re.sub(r'(_p\([^,\n]+, )"', r'\1"reworded: ', text)
    path.write_text("# a new comment\n" + text + "\n# another comment\n")
    _clear()


def test_run_keys_follow_only_the_code_a_run_uses(package_copy):
    before = {m: fingerprint.run_code_fingerprint(m) for m in ("mocov2", "synco", "supervised")}
    chapter_before = fingerprint.code_fingerprint()

    _edit(package_copy / "selfsup" / "synco.py")           # another method's module
    assert fingerprint.run_code_fingerprint("mocov2") == before["mocov2"]
    assert fingerprint.run_code_fingerprint("synco") != before["synco"]
    assert fingerprint.code_fingerprint() != chapter_before  # a chapter depends on everything

    synco_now = fingerprint.run_code_fingerprint("synco")
    _edit(package_copy / "chapters" / "plots.py")            # presentation only
    _edit(package_copy / "chapters" / "notebook.py")         # around runs
    _edit(package_copy / "distill" / "trainer.py")           # another family
    assert fingerprint.run_code_fingerprint("synco") == synco_now

    _edit(package_copy / "engine" / "loop.py")               # the shared engine
    assert all(fingerprint.run_code_fingerprint(m) != before[m] for m in before)


def test_distillation_modules_count_only_for_distillation_runs(package_copy):
    methods = ("mocov2", "supervised", "ce", "crd", "rrd")
    before = {m: fingerprint.run_code_fingerprint(m) for m in methods}
    _edit(package_copy / "distill" / "rrd.py")
    after = {m: fingerprint.run_code_fingerprint(m) for m in methods}
    assert [m for m in methods if after[m] != before[m]] == ["rrd"]
    _edit(package_copy / "distill" / "model.py")  # shared by every distillation run
    now = {m: fingerprint.run_code_fingerprint(m) for m in methods}
    assert [m for m in methods if now[m] != after[m]] == ["ce", "crd", "rrd"]
    _edit(package_copy / "data" / "augment.py")  # the augmentation both families use
    assert all(fingerprint.run_code_fingerprint(m) != now[m] for m in methods)


def test_a_backbone_module_counts_only_for_runs_that_use_it(package_copy):
    resnet_run, vit_run = fingerprint.run_code_fingerprint("mocov2"), \
        fingerprint.run_code_fingerprint("mocov2", "ssllib.nets.vit")
    _edit(package_copy / "nets" / "vit.py")
    assert fingerprint.run_code_fingerprint("mocov2") == resnet_run
    assert fingerprint.run_code_fingerprint("mocov2", "ssllib.nets.vit") != vit_run
    probe = fingerprint.shared_code_fingerprint("ssllib.evaluate.transfer")
    _edit(package_copy / "evaluate" / "transfer.py")
    assert fingerprint.shared_code_fingerprint("ssllib.evaluate.transfer") != probe


def test_a_family_still_being_written_and_the_retrieval_metrics_are_in_no_other_runs(package_copy):
    methods = ("mocov2", "moby_synco", "rrd")
    before = {m: fingerprint.run_code_fingerprint(m) for m in methods}
    shared = fingerprint.shared_code_fingerprint()
    _edit(package_copy / "retrieval" / "captions.py")         # a family folder nobody registered yet
    (package_copy / "mil").mkdir(exist_ok=True)
    (package_copy / "mil" / "bags.py").write_text("x = 1\n")
    _edit(package_copy / "evaluate" / "retrieval.py")          # only the retrieval family's evaluations name it
    assert {m: fingerprint.run_code_fingerprint(m) for m in methods} == before
    assert fingerprint.shared_code_fingerprint() == shared
    assert fingerprint.shared_code_fingerprint("ssllib.evaluate.retrieval") != shared


def test_the_review_of_finished_runs_is_in_no_run(package_copy):
    methods = ("mocov2", "synco", "rrd", "moby_synco")
    before = {m: fingerprint.run_code_fingerprint(m) for m in methods}
    shared = fingerprint.shared_code_fingerprint()
    _edit(package_copy / "review" / "summary.py")
    _edit(package_copy / "review" / "records.py")
    assert {m: fingerprint.run_code_fingerprint(m) for m in methods} == before
    assert fingerprint.shared_code_fingerprint() == shared


def test_every_folder_of_the_package_is_placed():
    """A new folder would otherwise count, unnoticed, as code every run depends on."""
    from ssllib.engine.registry import families
    folders = {p.name + "/" for p in fingerprint.PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    placed = {*fingerprint.AROUND_RUNS_FOLDERS, *fingerprint.FAMILY_FOLDERS, *(f.folder for f in families().values())}
    assert folders - placed == {"data/", "engine/", "evaluate/", "nets/"}


def test_documentation_edits_change_no_run_and_no_chapter(package_copy):
    """Docstrings, comments and parameters' help texts are not what a run computes: editing them
    in the loop, a family's trainer, a method and its configuration changes no run's key, and no
    chapter's; the same files with a change of code do."""
    methods = ("mocov2", "synco", "rrd", "dcd", "abmil", "dnd")
    before = {m: fingerprint.run_code_fingerprint(m) for m in methods}
    chapters = fingerprint.code_fingerprint()
    edited = [package_copy / "engine" / "loop.py", package_copy / "distill" / "dcd.py",
              package_copy / "selfsup" / "config.py", package_copy / "distill" / "config.py",
              package_copy / "mil" / "dnd.py", package_copy / "engine" / "params.py"]
    originals = {p: p.read_text() for p in edited}
    for path in edited:
        _document(path)
        assert path.read_text() != originals[path]
    assert {m: fingerprint.run_code_fingerprint(m) for m in methods} == before
    assert fingerprint.code_fingerprint() == chapters
    _edit(package_copy / "distill" / "dcd.py")
    assert fingerprint.run_code_fingerprint("dcd") != before["dcd"]
    assert fingerprint.run_code_fingerprint("rrd") == before["rrd"]
    assert fingerprint.code_fingerprint() != chapters


def test_the_normalised_code_keeps_every_change_of_computation():
    base = 'def f(x, y=2):\n    """Doc."""\n    return x * y  # times\n'
    same = 'def f(x, y=2):\n    """Other doc."""\n    # a comment\n    return x * y\n'
    for changed in ('def f(x, y=3):\n    return x * y\n', 'def f(x, y=2):\n    return y * x\n',
                    'def f(x, y=2):\n    return x * y\nZ = 1\n', 'def f(x, y=2):\n    return x * y + 0\n'):
        assert fingerprint.normalised_code(changed) != fingerprint.normalised_code(base), changed
    assert fingerprint.normalised_code(same) == fingerprint.normalised_code(base)
    # an error message is what the code says, not documentation
    assert fingerprint.normalised_code('raise ValueError("a")') != fingerprint.normalised_code('raise ValueError("b")')
