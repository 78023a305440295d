from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from cities.models import City, PoiList, PointOfInterest

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
