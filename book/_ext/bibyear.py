"""Distinct author-year labels: two entries that would both read "Chen et al., 2020" become
2020a and 2020b (in the order of their keys), in the citations and in the reference lists alike.

sphinxcontrib-bibtex formats the year from the entry's ``year`` field and does not disambiguate,
so this extension adds the letter to that field as the bibliography files are parsed.
"""
from __future__ import annotations

import string
from collections import defaultdict

import sphinxcontrib.bibtex.bibfile as bibfile


def author_text(entry) -> tuple[str, ...]:
    """The surnames an author-year citation shows: one or two authors by name, else the first
    and "et al." (the rule of sphinxcontrib-bibtex's default person style)."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    surnames = tuple(" ".join(p.last_names) for p in people)
    return surnames if len(surnames) <= 2 else (surnames[0], "et al.")


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


_parse = bibfile.parse_bibdata


def parse_with_distinct_years(*args, **kwargs):
    bibdata = _parse(*args, **kwargs)
    entries = bibdata.data.entries
    for key, year in disambiguate(entries).items():
        entries[key].fields["year"] = year
    return bibdata


def setup(app):
    bibfile.parse_bibdata = parse_with_distinct_years
    return {"parallel_read_safe": True, "parallel_write_safe": True}
