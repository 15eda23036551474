"""Author-year references, the same in the text and in the reference lists.

- Distinct labels: two entries that would both read "Chen et al., 2020" become 2020a and 2020b
  (in the order of their keys), in the citations and in the reference lists alike.
  sphinxcontrib-bibtex formats the year from the entry's ``year`` field and does not disambiguate,
  so this extension adds the letter to that field as the bibliography files are parsed.
- The reference lists use the pybtex style ``authoryear`` registered here: each entry is labelled
  with the text its citations show ("Chen et al., 2020a"; the default ``alpha`` style printed
  "[CFGH0a]", cut from the lettered year), sorted by that label, with titles as written in the
  .bib file (not lower-cased) and a link for every entry: its arXiv identifier (``eprint``), its
  ``url`` or its ``doi``, as pybtex's unsrt style writes them.
"""
from __future__ import annotations

import string
from collections import defaultdict

import sphinxcontrib.bibtex.bibfile as bibfile
from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle
from pybtex.style.template import field, sentence


def _plain(latex: str) -> str:
    """``{van den Oord}`` or ``J{\\'e}gou`` as a reader sees it."""
    return Text.from_latex(latex).render_as("text")


def author_text(entry) -> tuple[str, ...]:
    """The surnames an author-year citation shows: one or two authors by name, else the first
    and "et al." (the rule of sphinxcontrib-bibtex's default person style, which keeps the
    "van den" of a surname)."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    surnames = tuple(_plain(" ".join(p.prelast_names + p.last_names)) for p in people)
    return surnames if len(surnames) <= 2 else (surnames[0], "et al.")


def label_text(entry) -> str:
    """"Chen et al., 2020a", "Giakoumoglou and Stathaki, 2024c", "Hinton et al., 2015": the
    text of the entry's citations."""
    names = author_text(entry)
    who = f"{names[0]} {names[1]}" if names[-1] == "et al." else " and ".join(names)
    year = entry.fields.get("year", "")
    return f"{who}, {year}" if who and year else who or year or entry.key


def disambiguate(entries) -> dict[str, str]:
    """key → year with a letter, for every entry whose (authors, year) label another one shares."""
    groups: dict[tuple, list[str]] = defaultdict(list)
    for key, entry in entries.items():
        groups[(author_text(entry), entry.fields.get("year", ""))].append(key)
    years = {}
    for (_, year), keys in groups.items():
        if len(keys) > 1 and year:
            for letter, key in zip(string.ascii_lowercase, sorted(keys)):
                years[key] = f"{year}{letter}"
    return years


class AuthorYearLabels(BaseLabelStyle):
    """Each entry's label is the text of its citations."""

    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield label_text(entry)


class ByLabel(BaseSortingStyle):
    """Alphabetical by label, so that a reader finds "van den Oord et al., 2018" under v."""

    def sorting_key(self, entry):
        return label_text(entry).lower(), entry.fields.get("title", "")


class AuthorYearStyle(UnsrtStyle):
    default_label_style = AuthorYearLabels
    default_sorting_style = ByLabel

    def format_title(self, e, which_field, as_sentence=True):
        """The title as the .bib file writes it (unsrt lower-cases all but its first letter)."""
        title = field(which_field)
        return sentence[title] if as_sentence else title


_parse = bibfile.parse_bibdata


def parse_with_distinct_years(*args, **kwargs):
    bibdata = _parse(*args, **kwargs)
    entries = bibdata.data.entries
    for key, year in disambiguate(entries).items():
        entries[key].fields["year"] = year
    return bibdata


def setup(app):
    bibfile.parse_bibdata = parse_with_distinct_years
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
