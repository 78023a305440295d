#!/usr/bin/env bash
# Create the project venv at .venv and install the project into it (idempotent).
# Usage: bash scripts/setup.sh [extras]   (default extras: dev,prefect,postgres)
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${1:-dev,prefect,postgres}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

if [ ! -x .venv/bin/python ]; then
    echo "==> Creating virtual environment .venv ($("$PYTHON" --version))"
    "$PYTHON" -m venv .venv
fi

# Reinstall only when the dependency list or the requested extras changed.
stamp=".venv/.image-ranking-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $EXTRAS"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> Installing dependencies (extras: $EXTRAS); the first run takes a few minutes"
    # torch/torchvision pinned together: other pairs fail to import (see README).
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet "torch==2.14.1" "torchvision==0.29.1" -e ".[$EXTRAS]"
    echo "$want" > "$stamp"
else
    echo "==> Dependencies already installed in .venv"
fi
