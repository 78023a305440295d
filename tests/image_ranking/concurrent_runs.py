"""Real ``rank_poi_images`` processes sharing one database and the loopback replica.

Used by ``test_runs.py`` (two processes split a list; requests ~ one process's) and by
``bench/bench_concurrent_runs.py``. The database is a fresh SQLite file, or a fresh
PostgreSQL database beside the one the suite runs on (``DATABASE_URL``); processes start
ranking together (each says ``ready``, then all get a line on stdin).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.commons_replica import CommonsReplica

REPO = Path(__file__).resolve().parents[2]
WORKER = "tests.image_ranking.run_worker"


@contextmanager
def fresh_database(folder: Path, vendor: str, settings_dict: dict[str, Any]) -> Iterator[str]:
    """A DATABASE_URL for a new, empty database of the suite's kind; dropped afterwards."""
    if vendor == "sqlite":
        yield f"sqlite:///{folder / 'shared.sqlite3'}"
        return
    import psycopg

    name = f"runs_{uuid.uuid4().hex[:12]}"
    params = {
        "host": settings_dict.get("HOST") or "127.0.0.1",
        "port": settings_dict.get("PORT") or 5432,
        "user": settings_dict.get("USER") or "postgres",
        "password": settings_dict.get("PASSWORD") or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    auth = params["user"] + (f":{params['password']}" if params["password"] else "")
    try:
        yield f"postgres://{auth}@{params['host']}:{params['port']}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environment(database_url: str, replica: CommonsReplica, folder: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(folder / "media"),
        "IMAGE_RANKING_CACHE_DIR": str(folder / "cache"),
        "IMAGE_RANKING_COMMONS_API_URL": replica.api_url,
        "IMAGE_RANKING_WIKIDATA_API_URL": replica.wikidata_url,
        "IMAGE_RANKING_DOWNLOAD_HOSTS": f"127.0.0.1,{replica.thumb_host}",
        "IMAGE_RANKING_RATE_LIMIT_PER_HOUR": "3600000",
        "IMAGE_RANKING_RATE_LIMIT_BURST": "1000",
        "IMAGE_RANKING_MAX_RETRIES": "0",
        "IMAGE_RANKING_USER_AGENT": "image_ranking-tests/0.1 (concurrency; nobody@example.org)",
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("PYTHONSTARTUP", None)
    return env


def prepare(env: dict[str, str], cities: dict[str, int]) -> None:
    """Migrate the database and create each city with its number of listed POIs."""
    _check(subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], **_opts(env)))
    for slug, count in cities.items():
        _check(
            subprocess.run([sys.executable, "-m", WORKER, "setup", slug, str(count)], **_opts(env))
        )


def add_photos(replica: CommonsReplica, slug: str, count: int) -> None:
    """Three photos per POI (one bright): every POI gets an image."""
    for k in range(count):
        name = f"{slug} POI {k}"
        titles = [f"File:{name} {n}.jpg" for n in ("a", "b", "c")]
        for level, title in zip((90, 220, 140), titles, strict=True):
            replica.add_file(title, size=(2000, 1500), color=(level, level, level))
        replica.set_search(name, titles)


def run_together(env: dict[str, str], processes: int, *args: str) -> list[dict[str, Any]]:
    """``processes`` rank_poi_images runs started at the same moment; their summaries."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", WORKER, "rank", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        for _ in range(processes)
    ]
    try:
        for worker in workers:
            line = worker.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"worker did not start: {line}{worker.stderr.read()[-3000:]}")
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=300)
            if worker.returncode != 0:
                raise RuntimeError(f"worker failed ({worker.returncode}): {err[-3000:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()


def _opts(env: dict[str, str]) -> dict[str, Any]:
    return {"cwd": REPO, "env": env, "capture_output": True, "text": True, "timeout": 300}


def _check(done: subprocess.CompletedProcess) -> None:
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(done.args)} failed: {done.stderr[-3000:]}")
