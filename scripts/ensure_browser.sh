#!/usr/bin/env bash
# Chromium and its driver for tests/test_browser.py (notebook 08 in JupyterLab, in a real browser): Debian packages,
# installed when apt is usable as root; otherwise the test says what to install.
set -euo pipefail
if command -v chromedriver >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium and chromium-driver (Debian) for the browser test ..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null || \
        echo "apt-get could not install them; tests/test_browser.py will say so."
fi
