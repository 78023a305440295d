"""The import flow's tasks, called through ``.fn()`` (no Prefect engine needed).

The flow itself runs under the engine in ``test_city_import_flow.py``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError

from cities.loader import CityDataError
from cities.models import City, PoiList, PointOfInterest
from image_ranking import scoring
from image_ranking.commons import client as wikimedia
from image_ranking.models import RankingState
from image_ranking.run_options import RunError, RunOptions
from tests.image_ranking.ranking_helpers import BrightnessScorer, ReplicaClients, add_photo, grey
from workflow import city_import
from workflow.city_import import (
    RankingFailed,
    auto_merge_duplicates,
    load_city_data,
    rank_poi_images_for_lists,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "cities" / "data" / "paris.json"


@pytest.fixture
def doubles(monkeypatch, commons_settings):
    """The command builds its client and scorer by these public names: real clients on the
    loopback replica (returned, to script), the brightness scorer."""
    scorer = BrightnessScorer()
    monkeypatch.setattr(wikimedia, "CommonsClient", ReplicaClients(), raising=False)
    monkeypatch.setattr(scoring, "get_scorer", lambda name=None: scorer, raising=False)
    return commons_settings


@pytest.fixture
def _commit(django_capture_on_commit_callbacks):
    # Stored files are cleaned up on commit; a test transaction never commits.
    with django_capture_on_commit_callbacks(execute=True):
        yield


def city_doc(names, listed=None):
    return {
        "city": {"name": "Lyon", "slug": "lyon"},
        "pois": [{"name": n, "category": "see"} for n in names],
        "lists": [{"name": "Best", "pois": list(names if listed is None else listed)}],
    }


@pytest.mark.django_db
def test_load_task_reuses_the_loader(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="workflow.city_import")
    counts = load_city_data.fn(str(SAMPLE))
    assert counts["city"] == "paris" and counts["created_pois"] == PointOfInterest.objects.count()
    assert set(counts) == {"city", "created_pois", "updated_pois", "unchanged_pois", "lists"}
    assert "Loaded Paris (paris)" in caplog.text
    # A parsed document works as well (what a deployment can pass as a parameter).
    assert load_city_data.fn(city_doc(["Fourvière"]))["created_pois"] == 1


@pytest.mark.django_db
def test_load_task_reports_bad_data_and_loads_nothing(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"city": {"name": "X"}, "pois": [{"name": "A", "category": "nope"}]}')
    with pytest.raises(CityDataError, match=r"bad\.json: pois\[0\]"):
        load_city_data.fn(str(bad))
    assert not City.objects.exists()


@pytest.mark.django_db
def test_merge_task_returns_counts():
    load_city_data.fn(
        {
            "city": {"name": "Lyon", "slug": "lyon"},
            "pois": [
                {"name": "Basilique de Fourvière", "category": "see", "wikidata_id": "Q1"},
                {"name": "Fourviere Basilica", "category": "see", "wikidata_id": "Q1"},
                {"name": "Parc de la Tête d'Or", "category": "play"},
            ],
            "lists": [{"name": "Best", "pois": ["Fourviere Basilica"]}],
        }
    )
    result = auto_merge_duplicates.fn("lyon")
    assert (result["merged"], result["uncertain"], result["skipped"]) == (1, 0, 0)
    assert PointOfInterest.objects.count() == 2
    assert PoiList.objects.get().pois.get().wikidata_id == "Q1"


@pytest.mark.django_db
def test_rank_task_runs_the_command_for_listed_pois_in_batches(doubles, caplog, _commit):
    names = ["Arc", "Bridge", "Castle", "Dome", "Elm"]
    load_city_data.fn(city_doc([*names, "Unlisted"], listed=names))
    for n in [*names, "Unlisted"]:
        add_photo(doubles, f"File:{n}.jpg", grey(200))
        doubles.set_search(n, [f"File:{n}.jpg"])
    doubles.failing_searches.add("Castle")
    caplog.set_level(logging.INFO)

    result = rank_poi_images_for_lists.fn(RunOptions(city="lyon", batch_size=2, threshold=1.0))

    assert result["status"] == "success"
    assert (result["processed_count"], result["updated_count"], result["failed_count"]) == (
        5,
        4,
        1,
    )
    assert not PointOfInterest.objects.get(name="Unlisted").image_file
    assert not RankingState.objects.filter(poi__name="Unlisted").exists()
    assert type(result) is dict  # plain: Prefect stores it as JSON
    # The options reached the command as options: one progress record per 2 POIs, from the
    # app's logger (what workflow.runtime sends to the run's log).
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("image_ranking")]
    progress = [m for m in messages if m.startswith("Processed ") and "/5 POIs (" in m]
    assert [p.split()[1] for p in progress] == ["2/5", "4/5", "5/5"]
    # The failure shows as a warning (the ranker's log record, the task's own).
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Castle" in r.getMessage() for r in warnings)
    assert any("1 POI(s) failed to rank" in r.getMessage() for r in warnings)


@pytest.mark.django_db
def test_rank_task_fails_with_the_commands_message():
    with pytest.raises(CommandError, match="No POIs in a city with slug 'lyon'"):
        rank_poi_images_for_lists.fn(RunOptions(city="lyon"))
    with pytest.raises(RunError, match="--batch-size must be at least 1"):
        RunOptions(city="lyon", batch_size=0)  # what a flow's bad parameter gives


def test_run_options_round_trip_through_the_command_line():
    from django.core.management import load_command_class

    parser = load_command_class("image_ranking", "rank_poi_images").create_parser("m", "r")
    options = RunOptions(missing_only=False, city="lyon", limit=3, fallback=False, refresh=True)
    argv = ["--all", "--city", "lyon", "--limit", "3", "--no-fallback", "--refresh"]
    assert RunOptions.from_options(vars(parser.parse_args(argv))) == options
    assert RunOptions.from_options(options.as_command_options()) == options


@pytest.mark.django_db
def test_rank_task_fails_when_commons_is_down(doubles, _commit):
    names = ["Arc", "Bridge", "Castle"]
    load_city_data.fn(city_doc(names))
    doubles.failing_searches.update(names)
    with pytest.raises(RankingFailed, match="Commons could not be queried") as caught:
        rank_poi_images_for_lists.fn(RunOptions(city="lyon", missing_only=False))
    summary = caught.value.summary
    assert summary["status"] == "outage"
    assert (summary["processed_count"], summary["failed_count"]) == (3, 3)


def test_importing_the_flow_module_does_not_set_django_up():
    code = """
import os
os.environ.pop("DJANGO_SETTINGS_MODULE", None)
import workflow.city_import
from django.apps import apps
print(apps.ready, os.environ.get("DJANGO_SETTINGS_MODULE"))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "None"]


def test_cities_and_image_ranking_import_without_prefect():
    """Prefect is an optional extra: only ``workflow.city_import`` may import it."""
    code = """
import importlib, os, pkgutil, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
import django
django.setup()
import cities, image_ranking, workflow
names = []
for package in (cities, image_ranking):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if ".migrations." in info.name or info.name.endswith(".migrations"):
            continue
        importlib.import_module(info.name)
        names.append(info.name)
loaded = sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect."))
print(len(names), loaded[:3])
assert not loaded, loaded
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[0]) > 10  # the walk really imported the modules


def test_cli_parses_options_and_prints_the_result(monkeypatch, capsys):
    calls = []

    def fake_flow(**kwargs):
        calls.append(kwargs)
        return {"city": "paris", "image_ranking": {"status": "success"}}

    monkeypatch.setattr(city_import, "import_city", fake_flow)
    code = city_import.main(
        [str(SAMPLE), "--all", "--threshold", "4.5", "--batch-size", "10", "--no-fallback"]
    )
    assert code == 0
    assert calls == [
        {
            "source": str(SAMPLE.resolve()),
            "rank_images": True,
            "ranking": RunOptions(missing_only=False, threshold=4.5, batch_size=10, fallback=False),
        }
    ]
    assert json.loads(capsys.readouterr().out)["city"] == "paris"


def test_cli_names_a_missing_file(capsys):
    assert city_import.main(["nowhere/city.json"]) == 2
    assert "nowhere/city.json: no such file." in capsys.readouterr().err


def test_cli_reports_a_failed_import(monkeypatch, capsys):
    def failing(**kwargs):
        raise CityDataError("paris.json: pois[3] ('X'): category: bad")

    monkeypatch.setattr(city_import, "import_city", failing)
    assert city_import.main([str(SAMPLE)]) == 1
    assert "Import failed: paris.json: pois[3]" in capsys.readouterr().err


def test_cli_exit_code_says_outage(monkeypatch, capsys):
    def outage(**kwargs):
        summary = {"status": "outage", "processed_count": 4, "failed_count": 4}
        raise RankingFailed(summary, "every POI failed because Commons could not be queried")

    monkeypatch.setattr(city_import, "import_city", outage)
    assert city_import.main([str(SAMPLE)]) == 75
    captured = capsys.readouterr()
    assert "Commons could not be queried" in captured.err
    assert json.loads(captured.out)["status"] == "outage"


def test_prefect_yaml_deploys_both_flows_with_valid_parameters():
    """What `prefect deploy --all` reads: module entrypoints (no pull step, no path of the
    deploying machine), parameters the flows accept, no secret in the job variables."""
    import yaml
    from prefect.flows import load_flow_from_entrypoint

    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    assert spec["pull"] == [] and spec["build"] is None and spec["push"] is None
    deployments = {d["name"]: d for d in spec["deployments"]}
    assert set(deployments) == {"import-city", "rank-poi-images"}
    for deployment in deployments.values():
        flow = load_flow_from_entrypoint(deployment["entrypoint"])
        assert ":" not in deployment["entrypoint"]  # a module path, not a file
        validated = flow.validate_parameters(deployment["parameters"])
        assert isinstance(validated["ranking"], RunOptions)
        env = deployment["work_pool"]["job_variables"]["env"]
        assert not {"DATABASE_URL", "SECRET_KEY"} & set(env)
    assert deployments["rank-poi-images"]["concurrency_limit"] == 2
