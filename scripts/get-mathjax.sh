#!/bin/sh
# MathJax 3 for the rendered book, served by the book itself from _static/mathjax/ (git-ignored),
# so that no page asks another host for anything. Called by `make setup`; safe to re-run.
set -eu
cd "$(dirname "$0")/.."
dest=_static/mathjax
version=3.2.2
if [ -f "$dest/tex-mml-chtml.js" ] && grep -q "$version" "$dest/VERSION" 2>/dev/null; then
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
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
# The TeX+MathML→CommonHTML build, what it loads on demand (TeX extensions, fonts, menu, a11y),
# and nothing else (no SVG output, no speech rule engine).
cp -r "$src/tex-mml-chtml.js" "$src/input" "$src/output" "$src/a11y" "$src/ui" "$src/adaptors" "$dest.tmp/"
echo "$version" > "$dest.tmp/VERSION"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
echo "get-mathjax: MathJax $version in $dest ($(du -sh "$dest" | cut -f1))"
