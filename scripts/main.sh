#!/usr/bin/env bash
# The main job: set up, migrate, load the sample city, rank images of POIs that have none.
# Extra arguments go to rank_poi_images, e.g.: bash scripts/main.sh --limit 5 --dry-run
set -euo pipefail
cd "$(dirname "$0")/.."

# The same extras as scripts/test.sh: setup.sh keeps what is installed either way.
bash scripts/setup.sh "dev,prefect,postgres"
# The system checks (a default user agent, a missing setting) run once, with the ranking
# command below, rather than three times.
echo "==> Migrating the database (${DATABASE_URL:-SQLite db.sqlite3})"
.venv/bin/python manage.py migrate --no-input --skip-checks
echo "==> Loading the sample city"
.venv/bin/python manage.py load_city cities/data/paris.json --skip-checks
echo "==> Ranking images for POIs in lists that have no image yet"
exec .venv/bin/python manage.py rank_poi_images --missing-only "$@"
