#!/bin/sh
# Debian's Chromium for the browser test (tests/test_browser.py drives it with Playwright), where
# apt is available as root or with password-less sudo. Elsewhere nothing is installed and the
# browser test is skipped with a sentence saying why.
set -eu
for candidate in /usr/bin/chromium /usr/bin/chromium-browser; do
    [ -x "$candidate" ] && exit 0
done
command -v apt-get >/dev/null 2>&1 || { echo "get-browser: no apt-get here, so the browser test will be skipped" >&2; exit 0; }
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "get-browser: apt needs root or password-less sudo, so the browser test will be skipped" >&2; exit 0
fi
echo "Installing Chromium from Debian (for the browser test)"
$SUDO apt-get install -y -qq chromium >/dev/null 2>&1 || \
    { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq chromium >/dev/null 2>&1; } || \
    echo "get-browser: apt could not install chromium, so the browser test will be skipped" >&2
