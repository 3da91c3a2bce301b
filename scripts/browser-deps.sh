#!/usr/bin/env bash
# Installs what the browser tests (Tests/browser/check_pages.py) need, only when missing:
# Debian's chromium + chromium-driver (and a CJK font for the screenshots), and Selenium 4 +
# requests for python3.
# Idempotent and quiet; when everything is already there it only runs a few `command -v` and one
# python3 import, and exits.
set -euo pipefail

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "browser-deps: run as root or install chromium and chromium-driver yourself" >&2; exit 1; }
    sudo="sudo"
fi

debs=()
if ! command -v chromium >/dev/null 2>&1 || ! { command -v chromedriver >/dev/null 2>&1 || [ -x /usr/bin/chromedriver ]; }; then
    debs+=(chromium chromium-driver)
fi
# The demo region's names are Chinese: without a CJK font the screenshots show empty boxes.
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    debs+=(fonts-wqy-microhei)
fi
if [ ${#debs[@]} -gt 0 ]; then
    echo "browser-deps: installing Debian's ${debs[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null
    $sudo apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
fi

if ! python3 -c 'import selenium, requests' >/dev/null 2>&1; then
    echo "browser-deps: installing selenium and requests for $(command -v python3)" >&2
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check 'selenium>=4.15,<5' requests
fi

command -v chromium >/dev/null
python3 -c 'import selenium, requests' >/dev/null
