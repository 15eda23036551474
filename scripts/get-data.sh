#!/bin/sh
# Put Fashion-MNIST where ssllib finds it: Debian's dataset-fashion-mnist package where apt
# is available (as root or with password-less sudo), otherwise torchvision's download into
# $SSLLIB_DATA (default ~/.cache/ssllib/data).
set -eu
PY=${1:-python3}
if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="none"; fi
    if [ "$SUDO" != none ]; then
        echo "Installing Fashion-MNIST from Debian (dataset-fashion-mnist)"
        $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
            { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1; } || true
        [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && exit 0
    fi
fi
echo "Fetching Fashion-MNIST with torchvision"
"$PY" -c "from ssllib.data import require_dataset; print(require_dataset('fashion_mnist', download=True))"
