#!/usr/bin/env bash
# Debian's headless Chromium and its chromedriver, for tests/test_report_browser.py (the HTML report in a
# real browser). Idempotent and quiet when both are installed; installs them with apt otherwise (about a
# minute on a fresh machine). selenium itself comes with the test extras (pip install -e '.[test]').
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "browser: chromium/chromedriver missing and not root; install them with: sudo apt-get install chromium chromium-driver" >&2
    # CI must run the browser test; by hand, the test skips and says the same
    [ "${CI:-}" = "true" ] && exit 1
    exit 0
fi
echo "browser: installing Debian's chromium and chromium-driver with apt" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
command -v chromedriver >/dev/null 2>&1 || { echo "browser: no chromedriver after apt-get install" >&2; exit 1; }
