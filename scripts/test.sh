#!/usr/bin/env bash
# Set up and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh "dev,prefect,postgres"

# The browser test drives Debian's Chromium (Playwright's own browser download cannot
# be used here); install it when we may, otherwise that test skips with the reason.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> Installing Chromium for the browser test"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "    Chromium could not be installed; the browser test will be skipped."
fi

export HF_HUB_OFFLINE=1
echo "==> Running the test suite"
exec .venv/bin/python -m pytest "$@"
