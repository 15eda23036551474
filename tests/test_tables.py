"""The book's table helper: numbered, captioned, index folded into the header, no nan/<NA>,
whole numbers without '.0'."""
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd

from ssllib.chapters import tables


def test_the_index_becomes_a_column_and_missing_values_a_dash():
    frame = pd.DataFrame({"method": ["MoCo-v2", "SynCo"], "epochs": [15.0, np.nan], "top-1": [73.48, 65.1],
                          "note": [None, pd.NA], "runs": pd.array([3, None], dtype="Int64")}).set_index("method")
    shown = tables.framed(frame)
    assert list(shown.columns) == ["method", "epochs", "top-1", "note", "runs"]
    assert shown.values.tolist() == [["MoCo-v2", "15", "73.48", "—", "3"], ["SynCo", "—", "65.10", "—", "—"]]
    page = tables.to_html(shown, "Top-1 (%) <of> the test set", 4)
    assert "<caption><span class=\"caption-box\"><span class=\"caption-number\">Table 4 </span>" in page
    assert "&lt;of&gt;" in page
    assert page.count("<tr>") == 3, "one header row: no row of its own for the index's name"
    assert "nan" not in page and "NA" not in page and "None" not in page
    assert '<th scope="row">MoCo-v2</th>' in page


def test_a_pivot_loses_its_corner_name_and_a_styler_keeps_its_hidden_index():
    pivot = pd.DataFrame({"method": ["a", "a"], "dataset": ["C10", "C100"], "v": [1.5, 2.25]}).pivot_table(
        index="method", columns="dataset", values="v")
    assert list(tables.framed(pivot).columns) == ["method", "C10", "C100"]
    styled = pd.DataFrame({"x": [1.0, 2.0]}, index=["p", "q"]).style.hide(axis="index")
    assert tables.framed(styled).values.tolist() == [["1"], ["2"]]
    assert tables.framed(pd.DataFrame({"x": [1]})).columns.tolist() == ["x"], "pandas' own 0, 1, 2 is not shown"


def test_tables_are_numbered_in_the_order_shown(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda data, raw=False: shown.append(data))
    tables.restart()
    tables.show(pd.DataFrame({"a": [1]}), "first")
    tables.show(pd.DataFrame({"a": [2]}), "second")
    assert [s["text/plain"].splitlines()[0] for s in shown] == ["Table 1. first", "Table 2. second"]
    tables.restart()
    tables.show(pd.DataFrame({"a": [3]}), "again")
    assert shown[-1]["text/plain"].startswith("Table 1. again")


def test_whole_numbers_lose_their_point_only_when_the_whole_column_is_whole():
    assert tables.formatted_column(pd.Series([200.0, 800.0, np.nan])) == ["200", "800", "—"]
    assert tables.formatted_column(pd.Series([67.5, 71.0])) == ["67.5", "71.0"]
    assert tables.formatted_column(pd.Series([15.0, "n/a", None], dtype=object)) == ["15", "n/a", "—"]
    assert tables.whole(15.0) == "15" and tables.whole(0.03) == "0.03" and tables.whole("<NA>") == "—"


def test_the_settings_appendix_says_where_each_value_came_from_and_what_it_was():
    from ssllib.chapters import chapter_specs
    from ssllib.chapters.notebook import settings_frame
    from ssllib.chapters.spec import resolve

    spec = chapter_specs()["rrd"]
    settings = resolve(spec, {"seeds": 2}, check_data=False)
    frame = settings_frame(spec, settings)
    assert list(frame.columns) == ["value", "from", "meaning"]
    assert frame.loc["seeds", "from"] == "given" and frame.loc["epochs", "from"] == f"{settings.profile} profile"
    assert frame.loc["lr", "from"] == "derived" and frame.loc["lr", "value"] == "0.05"  # not None: the value used
    assert frame.loc["data_root", "from"] == "default" and frame.loc["data_root", "value"] != "None"
    assert frame.loc["teacher_checkpoint", "value"] == "not set"
    assert (frame["meaning"] == [spec.params[n].help + (f" (choices: {', '.join(map(str, spec.params[n].choices))})"
                                                        if spec.params[n].choices else "") for n in frame.index]).all()
    assert "None" not in set(frame["value"]) and "nan" not in set(frame["value"])


CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "book").glob("*.ipynb"))


def test_every_chapter_shows_its_tables_through_the_helper_and_ends_with_a_summary():
    for path in CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        bare = [line.strip() for line in code.splitlines() if "display(" in line and "display(Markdown(" not in line]
        assert not bare, f"{path.name}: a table not shown through chapter.table: {bare}"
        markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert not re.search(r"^\|.*\|\s*$", markdown, re.M), f"{path.name}: a Markdown table (unnumbered)"
        headings = re.findall(r"^## (.+)$", markdown, re.M)
        assert headings.count("Summary") == 1, (path.name, headings)
        assert not {"Takeaways", "What to take away"} & set(headings), path.name
