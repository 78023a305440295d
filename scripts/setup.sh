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

# Reinstall only when the dependency list changed or an extra is asked that is not
# installed yet: installed extras are kept (the union is installed), so main.sh and test.sh,
# which ask different sets, do not reinstall each other's.
stamp=".venv/.image-ranking-installed"
hash="$(sha256sum pyproject.toml | cut -d' ' -f1)"
had_hash="" had_extras=""
[ -f "$stamp" ] && read -r had_hash had_extras < "$stamp"
[ "$had_hash" = "$hash" ] || had_extras=""
missing=""
for extra in ${EXTRAS//,/ }; do
    case ",$had_extras," in *",$extra,"*) ;; *) missing="$missing $extra" ;; esac
done
if [ "$had_hash" != "$hash" ] || [ -n "$missing" ]; then
    union="$(printf '%s\n' ${had_extras//,/ } ${EXTRAS//,/ } | sort -u | paste -sd, -)"
    echo "==> Installing dependencies (extras: $union); the first run takes a few minutes"
    # torch/torchvision pinned together: other pairs fail to import (see README).
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet "torch==2.14.1" "torchvision==0.29.1" -e ".[$union]"
    echo "$hash $union" > "$stamp"
else
    echo "==> Dependencies already installed in .venv"
fi
