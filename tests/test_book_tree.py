"""A page states the commit it was built from, so the book is built from a clean tree: `build`,
`verify` and `run` refuse a modified one before any work, unless given --allow-modified (then the
page says '+dirty'); each executed chapter's metadata names its commit and whether the tree was
clean, and the committed chapters were built from a clean tree at a commit of this repository."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from ssllib import book
from ssllib.engine import ledger

ROOT = Path(__file__).resolve().parent.parent
BUILT_FROM_ENV = "SSLLIB_BUILT_FROM"
PRINTED_COMMIT = re.compile(r"· git ([0-9a-f]{40})(\+dirty)? ")


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A committed checkout of a one-chapter book (the chapter prints its provenance line), which
    the builder works on; the chapter's runs are not curated into the real papers/."""
    root = tmp_path / "project"
    (root / "book").mkdir(parents=True)
    (root / "ssllib").mkdir()
    (root / "papers" / "a" / "runs" / "cpu" / "r1").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n- file: book/c\n")
    (root / "ssllib" / "x.py").write_text("X = 1\n")
    (root / "papers" / "a" / "reported.csv").write_text("method,value\nX,1\n")
    (root / "papers" / "a" / "runs" / "cpu" / "r1" / "record.json").write_text("{}\n")
    (root / ".gitignore").write_text("results/\n")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from ssllib.chapters import notebook as chapter\nprint(chapter.provenance())")]), root / "book" / "c.ipynb")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one chapter")
    monkeypatch.setattr(book, "ROOT", root)
    monkeypatch.setattr("ssllib.review.curate.curate", lambda *a, **k: {})
    monkeypatch.delenv(BUILT_FROM_ENV, raising=False)
    return root


def _spy_on_execution(monkeypatch) -> list[Path]:
    executed = []
    monkeypatch.setattr(book, "execute", lambda path, *a, **k: executed.append(path) or book.Execution(0, [], []))
    return executed


def test_a_build_from_a_modified_tree_is_refused_before_any_work(project, monkeypatch):
    executed = _spy_on_execution(monkeypatch)
    chapter = (project / "book" / "c.ipynb").read_bytes()
    (project / "ssllib" / "x.py").write_text("X = 2\n")                       # tracked, modified
    (project / "papers" / "a" / "field.csv").write_text("method\n")           # untracked, where pages read
    (project / "papers" / "a" / "runs" / "cpu" / "r2").mkdir()                # a run not committed
    (project / "papers" / "a" / "runs" / "cpu" / "r2" / "record.json").write_text("{}\n")
    (project / "notes.txt").write_text("an untracked note reaches no page\n")
    (project / "results").mkdir()
    (project / "results" / "ignored.json").write_text("{}\n")                # ignored
    for command in (["build", "--no-render"], ["verify"], ["run", "c", str(project.parent / "copy.ipynb")]):
        with pytest.raises(SystemExit) as refused:
            book.main(command)
        message = str(refused.value)
        assert message.startswith(f"python -m ssllib.book {command[0]} refused: 3 files differ from commit "
                                  f"{_git(project, 'rev-parse', 'HEAD')[:12]} (")
        assert "papers/a/field.csv (untracked), papers/a/runs/cpu/r2/ (untracked), ssllib/x.py)" in message
        assert "notes.txt" not in message and "results" not in message
        assert "would state a commit that does not hold the code" in message and "--allow-modified" in message
        assert message.count(". ") == 0, "one sentence"
    assert executed == [] and (project / "book" / "c.ipynb").read_bytes() == chapter
    assert not (project.parent / "copy.ipynb").exists()


def test_the_refusal_lists_ten_paths_then_a_count(project, monkeypatch):
    _spy_on_execution(monkeypatch)
    for i in range(13):
        (project / "ssllib" / f"new{i:02d}.py").write_text("")
    with pytest.raises(SystemExit) as refused:
        book.main(["build", "--no-render"])
    assert "ssllib/new09.py (untracked) and 3 more)" in str(refused.value)
    assert "new10" not in str(refused.value)


def test_an_executed_chapter_blocks_only_when_its_code_changed(project, monkeypatch):
    """The executed chapters are what a build writes: new outputs or metadata (a build's own,
    not yet committed) or prose do not block; a changed code cell is what executes, so it does."""
    executed = _spy_on_execution(monkeypatch)
    path = project / "book" / "c.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="printed\n")]
    nb.metadata["ssllib"] = {"profile": "cpu"}
    nb.cells.append(nbformat.v4.new_markdown_cell("Some prose."))
    nbformat.write(nb, path)
    assert book.tree_state().modified == []
    book.main(["build", "--no-render"])
    assert executed == [path]
    nb.cells[0].source += "\nx = 1"
    nbformat.write(nb, path)
    assert book.tree_state().modified == ["book/c.ipynb"]
    _git(project, "add", "book/c.ipynb")                                         # staged counts the same
    assert book.tree_state().modified == ["book/c.ipynb"]


def test_the_page_and_its_metadata_state_the_commit_and_whether_the_tree_was_clean(project, monkeypatch):
    """Clean: the build proceeds and the page names the full commit. Modified, with
    --allow-modified: it proceeds and the page says '+dirty'. Runs the chapter in a kernel."""
    head = _git(project, "rev-parse", "HEAD")
    path = project / "book" / "c.ipynb"
    book.main(["build", "--no-render", "--force"])
    nb = nbformat.read(path, as_version=4)
    assert (nb.metadata["ssllib"]["commit"], nb.metadata["ssllib"]["clean"]) == (head, True)
    assert f"· git {head} ·" in nb.cells[0].outputs[0]["text"]
    _git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "executed")  # the build's output
    head = _git(project, "rev-parse", "HEAD")

    (project / "ssllib" / "x.py").write_text("X = 2\n")
    book.main(["build", "--no-render", "--force", "--allow-modified"])
    nb = nbformat.read(path, as_version=4)
    assert (nb.metadata["ssllib"]["commit"], nb.metadata["ssllib"]["clean"]) == (head, False)
    assert f"· git {head}+dirty (files differed from this commit) ·" in nb.cells[0].outputs[0]["text"]


def test_what_the_build_writes_after_its_check_does_not_make_it_dirty(project, monkeypatch):
    """A build commits each chapter's runs under papers/*/runs/ and writes the chapters: the next
    chapter it executes is still built from the clean commit it checked (before, one chapter's
    curated runs made every later chapter say '+dirty'), while any other change does show."""
    head = _git(project, "rev-parse", "HEAD")
    monkeypatch.setattr(ledger, "REPO_ROOT", project)
    monkeypatch.setenv(BUILT_FROM_ENV, json.dumps({"commit": head, "clean": True, "root": str(project)}))
    (project / "papers" / "a" / "runs" / "cpu" / "r1" / "record.json").write_text('{"replaced": 1}\n')
    (project / "book" / "c.ipynb").write_text((project / "book" / "c.ipynb").read_text() + "\n")
    assert ledger.git_commit() == head
    (project / "papers" / "a" / "reported.csv").write_text("method,value\nX,2\n")
    assert ledger.git_commit() == head + "+dirty"


def test_outside_a_git_checkout_the_build_proceeds_and_says_so(tmp_path, monkeypatch, capsys):
    """A tarball (or a copy inside another repository) has no commit to compare with: nothing is
    refused, and the pages say they were built from no commit."""
    executed = _spy_on_execution(monkeypatch)
    outer = tmp_path / "outer"
    root = outer / "ssllib-1.0"
    (root / "book").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n- file: book/c\n")
    nbformat.write(nbformat.v4.new_notebook(), root / "book" / "c.ipynb")
    _git(outer, "init", "-q")                                  # the copy sits inside another repository
    monkeypatch.setattr(book, "ROOT", root)
    assert book.tree_state() == book.Tree(None, [])
    book.main(["build", "--no-render"])
    assert executed == [root / "book" / "c.ipynb"]
    assert "is not a git checkout" in capsys.readouterr().out
    assert ledger.built_from({"commit": None, "clean": None, "root": str(root)}) == (None, None)


def _git_checkout_with_history() -> None:
    if ledger.git_head(ROOT) is None:
        pytest.skip("not a git checkout (a tarball): no commit to check the chapters against")
    if _git(ROOT, "rev-parse", "--is-shallow-repository") == "true":
        pytest.skip("a shallow clone: the commits the chapters were built from may not be fetched")


@pytest.mark.parametrize("path", book.chapters(), ids=lambda p: p.stem)
def test_committed_chapters_were_built_from_a_clean_tree_at_a_commit_of_this_repository(path):
    """The commit in the chapter's metadata (``ssllib.commit``) is in this branch's history, and
    the tree held nothing else. When this fails, commit (or stash) what differs and run
    `python -m ssllib.book build --force --only <chapter>` again."""
    _git_checkout_with_history()
    meta = nbformat.read(path, as_version=4).metadata.get("ssllib", {})
    assert "commit" in meta, f"{path.stem} names no commit it was built from (executed before builds recorded it)"
    commit, clean = meta["commit"], meta["clean"]
    assert commit, f"{path.stem} was not built from a git checkout"
    assert clean, f"{path.stem} was built from a tree that differed from {commit} (+dirty)"
    assert subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT).returncode == 0, \
        f"{path.stem} was built from {commit}, which is not a commit of this repository"
    assert subprocess.run(["git", "merge-base", "--is-ancestor", commit, "HEAD"], cwd=ROOT).returncode == 0, \
        f"{path.stem} was built from {commit}, which is not in this branch's history (amended or rebased away?)"


def test_the_provenance_line_and_the_metadata_name_the_same_commit():
    """Where a committed chapter records its commit, the line its page prints names the same one."""
    for path in book.chapters():
        nb = nbformat.read(path, as_version=4)
        commit = nb.metadata.get("ssllib", {}).get("commit")
        printed = {m[0] for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
                   for m in PRINTED_COMMIT.findall(out.get("text", ""))}
        assert printed == {commit}, f"{path.stem} prints {sorted(printed)}, its metadata names {commit}"
