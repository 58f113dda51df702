#!/usr/bin/env bash
# Make sure Fashion-MNIST is present: Debian package when apt is usable as root, else a torchvision download.
set -euo pipefail
AQ4SVIT=${1:-aq4svit}
if "$AQ4SVIT" data >/dev/null 2>&1; then
    "$AQ4SVIT" data
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian package dataset-fashion-mnist ..."
    if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) >/dev/null; then
        "$AQ4SVIT" data && exit 0
    fi
    echo "apt-get could not install it; trying a torchvision download."
fi
"$AQ4SVIT" data --download
