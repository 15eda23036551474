# Thin wrappers; README.md explains each target.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: book test setup data mathjax browser clean-book

book: setup        ## build the book: run stale chapters on the cpu profile, then Jupyter Book
	$(PY) -m ssllib.book build

test: setup        ## unit tests and nbval of every chapter at the smoke profile
	$(PY) -m pytest

setup: $(STAMP) data mathjax browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

data: $(STAMP)     ## Fashion-MNIST: the Debian package where apt works, torchvision's download elsewhere
	sh scripts/get-data.sh $(PY)

mathjax:           ## MathJax 3 from npm into _static/mathjax/: the book's formulas render offline
	sh scripts/get-mathjax.sh

browser:           ## Debian's Chromium for the browser test, where apt works (skipped elsewhere)
	sh scripts/get-browser.sh

clean-book:
	rm -rf _build
