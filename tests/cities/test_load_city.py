from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection

from cities.loader import SQLITE_CHUNK_PAUSE, load_city_file
from cities.models import City, PoiList, PointOfInterest
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "cities" / "data" / "paris.json"


def write(tmp_path, data, name="city.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def minimal(**overrides):
    data = {
        "city": {"name": "Lisbon", "slug": "lisbon", "country": "Portugal"},
        "pois": [
            {"name": "Belém Tower", "category": "see", "latitude": 38.6916, "longitude": -9.216},
            {"name": "Time Out Market", "category": "eat"},
        ],
        "lists": [{"name": "Top", "pois": ["Belém Tower"]}],
    }
    data.update(overrides)
    return data


def test_sample_city_loads_and_is_idempotent(capsys):
    call_command("load_city", str(SAMPLE))
    counts = (City.objects.count(), PointOfInterest.objects.count(), PoiList.objects.count())
    assert counts[0] == 1 and 25 <= counts[1] <= 40 and 3 <= counts[2] <= 4
    assert PointOfInterest.objects.exclude(wikidata_id="").exists()
    memberships = sum(pl.pois.count() for pl in PoiList.objects.all())
    call_command("load_city", str(SAMPLE))
    assert (
        City.objects.count(),
        PointOfInterest.objects.count(),
        PoiList.objects.count(),
    ) == counts
    assert sum(pl.pois.count() for pl in PoiList.objects.all()) == memberships
    assert "0 POIs created, 0 updated" in capsys.readouterr().out


def test_reload_updates_changed_fields(tmp_path):
    call_command("load_city", str(write(tmp_path, minimal())))
    data = minimal()
    data["pois"][1]["category"] = "drink"
    call_command("load_city", str(write(tmp_path, data)))
    assert PointOfInterest.objects.get(name="Time Out Market").category == "drink"
    assert PointOfInterest.objects.count() == 2


def test_bad_json_names_file_and_position(tmp_path):
    path = write(tmp_path, '{"city": {"name": "X",}')
    with pytest.raises(CommandError, match=r"city\.json: invalid JSON at line 1"):
        call_command("load_city", str(path))
    assert not City.objects.exists()


def test_missing_file():
    with pytest.raises(CommandError, match="no such file"):
        call_command("load_city", "/nonexistent/city.json")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["pois"][1].update(category="food"),
            r"pois\[1\] \('Time Out Market'\): category",
        ),
        (lambda d: d["pois"][0].update(wikidata_id="243"), r"pois\[0\].*wikidata_id"),
        (lambda d: d["pois"][0].update(latitude=123), r"pois\[0\].*latitude"),
        (lambda d: d["pois"][0].pop("name"), r"pois\[0\]\.name is required"),
        (lambda d: d["pois"][0].update(colour="red"), r"unknown field\(s\) colour"),
        (lambda d: d["lists"][0]["pois"].append("Nowhere"), r"lists\[0\] \('Top'\): unknown POI"),
        (lambda d: d.pop("city"), r"city must be an object"),
    ],
)
def test_bad_fields_raise_command_error_and_load_nothing(tmp_path, mutate, message):
    data = minimal()
    mutate(data)
    with pytest.raises(CommandError, match=message):
        call_command("load_city", str(write(tmp_path, data)))
    assert not City.objects.exists()
    assert not PointOfInterest.objects.exists()
    assert not PoiList.objects.exists()


def test_error_in_late_entry_rolls_back_earlier_ones(tmp_path):
    call_command("load_city", str(write(tmp_path, minimal())))
    data = minimal()
    data["pois"].insert(0, {"name": "New place", "category": "see"})
    data["pois"].append({"name": "Broken", "category": "nope"})
    with pytest.raises(CommandError):
        call_command("load_city", str(write(tmp_path, data)))
    assert not PointOfInterest.objects.filter(name="New place").exists()


# ------------------------------------------------------------- malformed files (issue 13.8)


def entry_with(**fields):
    data = minimal()
    data["pois"][0].update(fields)
    return data


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            minimal(lists=[{"name": "Top", "pois": [{"name": "Belém Tower"}]}]),
            r"lists\[0\] \('Top'\): pois\[0\]: Input should be a valid string, "
            r"got an object with 1 key",
        ),
        (
            entry_with(name={"en": "A"}),
            r"pois\[0\]: name: Input should be a valid string, got an object",
        ),
        (
            entry_with(latitude=True),
            r"pois\[0\] \('Belém Tower'\): latitude: Input should be a valid number, got true",
        ),
        (entry_with(latitude="48.1"), r"pois\[0\] \('Belém Tower'\): latitude: .*valid number"),
        (entry_with(name="Bel\x00em"), r"pois\[0\].*: name: contains a NUL character"),
        (entry_with(category="see\x00"), r"category: contains a NUL character"),
        (minimal(pois={"name": "x"}), r"pois: Input should be a valid list"),
        (minimal(pois=["Belém Tower"]), r"pois\[0\] must be an object, got 'Belém Tower'"),
        (minimal(city="Lisbon"), r"city must be an object"),
        (minimal(city={"name": " "}), r"city: name: must not be empty"),
    ],
)
def test_schema_errors_name_file_entry_and_field(tmp_path, document, message):
    path = write(tmp_path, document)
    with pytest.raises(CommandError, match=message) as info:
        call_command("load_city", str(path))
    assert str(info.value).startswith(f"{path}: ")
    assert str(info.value).endswith("Nothing was loaded.")
    assert not City.objects.exists() and not PointOfInterest.objects.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # A lone surrogate is valid JSON but no database can store it.
        (
            '{"city": {"name": "Lisbon"}, "pois": [{"name": "Bel\\ud800m", "category": "see"}]}',
            r"pois\[0\] \('Bel\\ud800m'\): name: contains a lone surrogate",
        ),
        ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
        (
            '{"city": {"name": "L"}, "pois": [{"name": "x", "\\ud800\\u0000": 1}]}',
            r"pois\[0\] \('x'\): .*unable to parse raw data as a unicode string, "
            r"got '\\ud800\\x00'",
        ),
        ('{"city": {"name": "L"}, "pois": [{"name": "x", "latitude": NaN}]}', "finite number"),
        ('{"city": {"name": "L"}, "pois": [{"name": "x", "latitude": ' + "9" * 5000 + "}]}",
         "invalid JSON: Exceeds the limit"),
    ],
)  # fmt: skip
def test_hostile_json_gets_a_clear_error(tmp_path, text, message):
    with pytest.raises(CommandError, match=message):
        call_command("load_city", str(write(tmp_path, text)))
    assert not City.objects.exists()


def test_many_problems_are_listed_with_a_count(tmp_path):
    data = minimal(pois=[{"name": f"P{i}", "latitude": "x"} for i in range(8)])
    with pytest.raises(CommandError, match=r"pois\[4\] \('P4'\): latitude.*; and 3 more"):
        call_command("load_city", str(write(tmp_path, data)))


def test_not_utf8_and_not_a_regular_file(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"city": {"name": "Bogotá"}}'.encode("latin-1"))
    with pytest.raises(CommandError, match="latin1.json: not UTF-8 text"):
        call_command("load_city", str(path))
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)  # reading it would block forever
    with pytest.raises(CommandError, match="pipe.json: not a regular file"):
        call_command("load_city", str(fifo))
    with pytest.raises(CommandError, match="not a regular file"):
        call_command("load_city", str(tmp_path))


# ------------------------------------------------------------------ chunks (issue 13.5)


def many(count: int, category: str = "see") -> dict:
    pois = [{"name": f"Place {i:03d}", "category": category} for i in range(count)]
    return minimal(pois=pois, lists=[{"name": "All", "pois": [p["name"] for p in pois]}])


def test_large_files_commit_in_chunks_with_progress(tmp_path):
    err = io.StringIO()
    call_command("load_city", str(write(tmp_path, many(7))), chunk_size=3, verbosity=2, stderr=err)
    assert err.getvalue().splitlines() == ["Saved 3/7 POIs.", "Saved 6/7 POIs.", "Saved 7/7 POIs."]
    assert PoiList.objects.get(name="All").pois.count() == 7


def test_database_failure_half_way_says_so_and_a_reload_finishes(tmp_path, monkeypatch):
    path = write(tmp_path, many(7))
    real_save = PointOfInterest.save
    calls = []

    def failing_save(self, *args, **kwargs):
        calls.append(self.name)
        if len(calls) == 5:
            raise DatabaseError("disk I/O error")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(PointOfInterest, "save", failing_save)
    with pytest.raises(CommandError, match=r"after 3 of 7 POIs were saved .*disk I/O error.*again"):
        call_command("load_city", str(path), chunk_size=3)
    assert PointOfInterest.objects.count() == 3  # the first chunk; the second rolled back
    monkeypatch.setattr(PointOfInterest, "save", real_save)
    out = io.StringIO()
    call_command("load_city", str(path), chunk_size=3, stdout=out)
    assert "4 POIs created, 0 updated, 3 unchanged; 1 lists" in out.getvalue()


def test_reload_keeps_an_image_stored_while_it_ran(tmp_path):
    call_command("load_city", str(write(tmp_path, many(4))))
    target = PointOfInterest.objects.get(name="Place 003")

    def ranking_run_stores_an_image(done, total):
        if done == 2:  # between two chunks, after the file was read and planned
            PointOfInterest.objects.filter(pk=target.pk).update(image_file="cities/images/x.jpg")

    pauses = []
    load_city_file(
        write(tmp_path, many(4, "eat")),
        chunk_size=2,
        progress=ranking_run_stores_an_image,
        sleep=pauses.append,
    )
    target.refresh_from_db()
    assert (target.category, target.image_file.name) == ("eat", "cities/images/x.jpg")
    # Between the two chunks (not after the last), SQLite's other writers get their turn.
    assert pauses == ([SQLITE_CHUNK_PAUSE] if connection.vendor == "sqlite" else [])


def test_a_ranking_process_writes_to_sqlite_while_a_large_city_loads(tmp_path):
    """Two real processes on one SQLite file: the import's chunks leave room for writers."""
    db = tmp_path / "db.sqlite3"
    environ = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=REPO_ROOT, env=environ, check=True)
    total = 1200
    path = write(tmp_path, many(total))
    writer = sqlite3.connect(db, timeout=30, isolation_level=None)  # like settings.py's
    writer.execute("CREATE TABLE probe (seen INTEGER)")
    loader = subprocess.Popen(
        [*manage, "load_city", str(path), "--chunk-size", "100"],
        cwd=REPO_ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen, waits = [], []
    while loader.poll() is None:
        started = time.monotonic()
        writer.execute("BEGIN IMMEDIATE")  # what a ranking run's write transaction does
        count = writer.execute("SELECT count(*) FROM cities_pointofinterest").fetchone()[0]
        writer.execute("INSERT INTO probe VALUES (?)", (count,))
        writer.execute("COMMIT")
        waits.append(time.monotonic() - started)
        seen.append(count)
        time.sleep(0.01)
    out, err = loader.communicate()
    assert loader.returncode == 0, err
    assert f"{total} POIs created" in out
    # The writer got in between chunks and saw the import's committed progress.
    assert any(0 < count < total for count in seen), (len(seen), sorted(set(seen)), max(waits))
    assert max(waits) < 5  # a chunk of 100, never the whole import
