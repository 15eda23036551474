#!/bin/sh
# MathJax 3 for the rendered book, served by the book itself from _static/mathjax/ (git-ignored),
# so that no page asks another host for anything. Called by `make setup`; safe to re-run.
set -eu
cd "$(dirname "$0")/.."
dest=_static/mathjax
version=3.2.2
# What is copied (below); a copy of another layout is replaced.
layout="startup tex chtml assistive-mml"
if [ -f "$dest/startup.js" ] && grep -qx "$version $layout" "$dest/VERSION" 2>/dev/null; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "get-mathjax: npm is not installed, so the book's formulas would show as raw TeX;" \
         "install Node.js and npm (apt-get install npm) and run 'make setup' again" >&2
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$dest.tmp"' EXIT
if ! npm install --silent --no-audit --no-fund --prefix "$tmp" "mathjax@$version"; then
    echo "get-mathjax: npm could not fetch mathjax@$version, so the book's formulas would show as raw TeX;" \
         "run 'make mathjax' again where the npm registry can be reached" >&2
    exit 0
fi
src="$tmp/node_modules/mathjax/es5"
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp/input" "$dest.tmp/output" "$dest.tmp/a11y"
# The loader (startup.js, the page's one MathJax script) and the components _config.yml's
# mathjax3_config has it load: the core, TeX input with the TeX packages it fetches on demand,
# CommonHTML output with its fonts, and the hidden MathML for screen readers. Nothing else: no
# combined builds, no SVG or MathML input, no menu, no explorer or speech engine.
cp "$src/startup.js" "$src/core.js" "$dest.tmp/"
cp -r "$src/input/tex.js" "$src/input/tex" "$dest.tmp/input/"
cp -r "$src/output/chtml.js" "$src/output/chtml" "$dest.tmp/output/"
cp "$src/a11y/assistive-mml.js" "$dest.tmp/a11y/"
echo "$version $layout" > "$dest.tmp/VERSION"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
echo "get-mathjax: MathJax $version in $dest ($(du -sh "$dest" | cut -f1))"
