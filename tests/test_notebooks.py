"""The chapters' parameter cells agree with ssllib's parameter specs, and the book builder
detects stale chapters and strips run-to-run noise."""
import ast
from pathlib import Path

import nbformat
import pytest

from ssllib import book
from ssllib.engine.params import annotation_of
from ssllib.chapters import chapter_specs
from ssllib.chapters.spec import schema

CHAPTERS = chapter_specs()

ROOT = Path(__file__).resolve().parent.parent


def _parameters_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "a chapter needs exactly one cell tagged 'parameters'"
    return cells[0]


@pytest.mark.parametrize("name", sorted(CHAPTERS))
def test_parameters_cell_matches_the_chapter_spec(name):
    nb = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4)
    tree = ast.parse(_parameters_cell(nb).source)
    declared = {}
    for node in tree.body:
        assert isinstance(node, ast.AnnAssign), "the parameters cell holds only annotated assignments"
        assert isinstance(node.value, ast.Constant) and node.value.value is None, \
            f"{node.target.id} must default to None (the profile decides)"
        declared[node.target.id] = ast.unparse(node.annotation)
    spec = schema(CHAPTERS[name])
    assert list(declared) == list(spec)
    for pname, annotation in declared.items():
        expected = spec[pname].annotation
        expected = expected if expected.startswith("Optional[") else f"Optional[{expected}]"
        assert annotation == expected, pname


def test_every_chapter_in_the_toc_exists():
    assert [p.stem for p in book.chapters()][:1] == ["foundations"]


def test_normalise_drops_widgets_and_timestamps():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1")
    cell.metadata["execution"] = {"iopub.execute_input": "2026-01-01"}
    cell.outputs = [nbformat.v4.new_output("display_data", data={book.WIDGET_MIME: {"model_id": "x"}}),
                    nbformat.v4.new_output("stream", text="kept\n")]
    nb.cells = [cell]
    nb.metadata["widgets"] = {"state": {}}
    book.normalise(nb)
    assert "widgets" not in nb.metadata and "execution" not in cell.metadata
    assert [o.output_type for o in cell.outputs] == ["stream"]


def test_fingerprint_changes_with_cells_and_detects_staleness(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    fp = book.fingerprint(nb)
    nb.cells[0].source = "x = 2"
    assert book.fingerprint(nb) != fp
    path = tmp_path / "c.ipynb"
    nbformat.write(nb, path)
    assert book.stale_reason(path) == "never executed by the build"
    nb.metadata["ssllib"] = {"fingerprint": book.fingerprint(nb), "profile": "cpu"}
    nbformat.write(nb, path)
    assert book.stale_reason(path) is None
    nb.cells[0].source = "x = 3"
    nbformat.write(nb, path)
    assert book.stale_reason(path) == "its cells changed since it was executed"


def test_a_chapter_is_keyed_by_the_modules_its_kernel_imported(tmp_path, monkeypatch):
    """The build records the ssllib modules a chapter's kernel imported: an edit to one of them
    makes it stale, an edit elsewhere in ssllib (another family, another chapter) does not."""
    import shutil

    path = tmp_path / "c.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from ssllib.evaluate.retrieval import precision_at_k")]), path)
    book.execute(path)
    nb = nbformat.read(path, as_version=4)
    modules = nb.metadata["ssllib"]["modules"]
    assert {"__init__.py", "evaluate/__init__.py", "evaluate/retrieval.py"} <= set(modules)
    assert "retrieval/text.py" not in modules and "book.py" not in modules
    assert len(nb.cells) == 1 and "ssllib-modules" not in str(nb.cells[0].outputs)  # the probe is gone
    copy = tmp_path / "ssllib"
    shutil.copytree(book.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(book, "PACKAGE", copy)
    assert book.stale_reason(path) is None
    (copy / "retrieval" / "text.py").write_text("X = 1  # another family's module changed\n")
    assert book.stale_reason(path) is None
    imported = copy / "evaluate" / "retrieval.py"
    source = imported.read_text()
    imported.write_text("# a comment\n" + source.replace('"""', '"""Reworded. ', 1))   # documentation only
    assert book.stale_reason(path) is None
    imported.write_text(source + "\nX = 1\n")                                       # what it computes
    assert book.stale_reason(path) == "what evaluate/retrieval.py compute changed since it was executed"


def test_a_chapter_that_reads_repository_files_is_stale_when_they_change(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "ROOT", tmp_path)
    (tmp_path / "papers" / "a").mkdir(parents=True)
    table = tmp_path / "papers" / "a" / "reported.csv"
    table.write_text("method,value\nX,1\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb.metadata["ssllib_inputs"] = ["papers/*/reported.csv"]
    path = tmp_path / "c.ipynb"
    nbformat.write(nb, path)
    book.execute(path)
    assert book.stale_reason(path) is None
    table.write_text("method,value\nX,2\n")
    assert book.stale_reason(path) == "the files it reads (papers/*/reported.csv) changed since it was executed"
    table.write_text("method,value\nX,1\n")
    assert book.stale_reason(path) is None
    (tmp_path / "papers" / "b").mkdir()
    (tmp_path / "papers" / "b" / "reported.csv").write_text("method,value\n")   # a new file counts too
    assert book.stale_reason(path) is not None


def test_the_build_lists_the_runs_a_chapter_used(tmp_path, monkeypatch):
    """Every run the kernel (or a process it starts) finds, trains or measures, every artifact it
    reads, and every record it writes to the ledger, names itself in the metadata, each once,
    sorted: what ``ssllib.review.curate`` commits. What happened to a run (trained, re-keyed,
    measured) is reported by the build, not kept in the chapter."""
    import glob
    import tempfile

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))   # where the list is made, this test's own
    child = ("from ssllib.engine.checkpoint import note_run; note_run('run-a'); note_run('run-a/artifacts/x-1'); "
             "note_run('trained:run-a')")
    code = (f"import subprocess, sys\n"
            f"from ssllib.engine.checkpoint import note_run\n"
            f"from ssllib.engine.ledger import write_record\n"
            f"write_record({{'run_id': 'eval-c'}}, {str(tmp_path / 'ledger')!r})  # an evaluation: a record only\n"
            f"for _ in range(2):\n"
            f"    note_run('run-b')\n"
            f"subprocess.run([sys.executable, '-c', {child!r}], cwd={str(tmp_path)!r}, check=True)\n")
    path = tmp_path / "c.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), path)
    execution = book.execute(path)
    assert nbformat.read(path, as_version=4).metadata["ssllib"]["runs"] == ["eval-c", "run-a", "run-a/artifacts/x-1",
                                                                             "run-b"]
    assert execution.count("trained") == 1
    assert not glob.glob(str(tmp_path / "tmp" / "ssllib-runs-used-*"))   # the list is not left behind


def test_annotation_rendering():
    from typing import Optional
    assert annotation_of(Optional[int]) == "Optional[int]"
    assert annotation_of(list) == "list"


@pytest.mark.parametrize("path", book.chapters(), ids=lambda p: p.stem)
def test_committed_chapters_are_fresh(path):
    """The outputs a reader sees were produced by the code and cells beside them (their
    normalised code: a documentation edit keeps them fresh), and every run and artifact they
    used is committed, so that a fresh clone re-executes them without training. When this fails,
    run `python -m ssllib.book build` (a run whose code changed is re-keyed after a one-epoch
    check when nothing it computes changed) and commit the chapters and papers/*/runs with the change."""
    reason = book.stale_reason(path)
    assert reason is None, f"{path.stem}: {reason}; run `python -m ssllib.book build` and commit the result"
    gaps = book.committed_gaps(path)
    assert not gaps, (f"{path.stem} used {len(gaps)} runs or artifacts that are not committed (e.g. {gaps[0]}); "
                      f"run `python -m ssllib.book build` (or `python -m ssllib.review.curate cpu`) and commit papers/")


@pytest.mark.parametrize("name", sorted(CHAPTERS))
def test_papermill_documents_every_parameter(name):
    """What `papermill --help-notebook` shows: every parameter, each with its help line."""
    import papermill

    inferred = papermill.inspect_notebook(str(ROOT / "book" / f"{name}.ipynb"))
    assert list(inferred) == list(schema(CHAPTERS[name]))
    for pname, info in inferred.items():
        assert info["help"].startswith(schema(CHAPTERS[name])[pname].help[:30]), pname


def test_status_names_what_a_chapter_used_that_is_not_committed(tmp_path, monkeypatch):
    """A chapter whose runs or artifacts are not all committed would train on a fresh clone:
    the status names them (what happened to a run is not a run)."""
    monkeypatch.setenv("SSLLIB_PAPERS", str(tmp_path / "papers"))
    run = tmp_path / "papers" / "foundations" / "runs" / "cpu" / "r1"
    (run / "artifacts").mkdir(parents=True)
    (run / "record.json").write_text("{}")
    nb = nbformat.v4.new_notebook()
    nb.metadata["ssllib"] = {"runs": ["r1", "r1/artifacts/a-1", "r2", "trained:r2"]}
    path = tmp_path / "c.ipynb"
    nbformat.write(nb, path)
    assert book.committed_gaps(path) == ["r1/artifacts/a-1", "r2"]
    (run / "artifacts" / "a-1.json").write_text("{}")
    assert book.committed_gaps(path) == ["r2"]


@pytest.mark.parametrize("name", sorted(CHAPTERS))
def test_the_parameters_cell_is_written_from_the_parameters_declarations(name):
    """Names, annotations, help texts and choices, exactly: a help text is written once, in
    ssllib, and `python -m ssllib.book build` writes it into the chapters."""
    from ssllib.chapters.spec import parameters_source

    nb = nbformat.read(ROOT / "book" / f"{name}.ipynb", as_version=4)
    assert _parameters_cell(nb).source == parameters_source(CHAPTERS[name]), \
        "run `python -m ssllib.book build` (it rewrites the parameters cells, executing nothing that is fresh)"


def test_prose_comments_and_help_texts_of_a_chapter_do_not_make_it_stale(tmp_path):
    """A chapter's outputs depend on what its code cells compute, not on its prose, its code's
    comments, or its parameters' help comments."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Some prose."),
                                         nbformat.v4.new_code_cell("x: int = None  # the help\ny = 2  # why")])
    fp = book.fingerprint(nb)
    nb.cells[0].source = "Other prose."
    nb.cells[1].source = "# a new comment\nx: int = None  # a better help\ny = 2"
    nb.cells[1].metadata["tags"] = ["hide-input"]
    assert book.fingerprint(nb) == fp
    nb.cells[1].source = "x: int = None\ny = 3"
    assert book.fingerprint(nb) != fp
