"""``manage.py rank_poi_images``: selection, arguments, output, result dict, resume."""

from __future__ import annotations

import io
import os
import signal

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from cities.models import City, PointOfInterest, Validation
from image_ranking import scoring
from image_ranking.commons import client as wikimedia
from image_ranking.management.commands.rank_poi_images import Command
from image_ranking.models import ImageCandidate, RankingRun, RankingState, SelectedImage
from tests import factories
from tests.image_ranking.ranking_helpers import (
    BrightnessScorer,
    ReplicaClients,
    add_photo,
    grey,
    jpeg,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("commit_immediately")]


@pytest.fixture
def commons(commons_settings):
    """The real clients the command builds, on the loopback replica."""
    return ReplicaClients()


@pytest.fixture
def replica(commons_settings):
    return commons_settings


@pytest.fixture
def scorer():
    return BrightnessScorer()


@pytest.fixture(autouse=True)
def collaborators(monkeypatch, commons, scorer):
    """The command builds its client and scorer by the public names: real clients on the
    replica, the brightness scorer."""
    monkeypatch.setattr(wikimedia, "CommonsClient", commons, raising=False)
    monkeypatch.setattr(scoring, "get_scorer", lambda name=None: scorer, raising=False)


@pytest.fixture
def paris():
    return City.objects.create(name="Paris", slug="paris")


def make_poi(city, name, *, listed=True, image=False):
    """A POI on the city's list unless ``listed=False``; ``image``: it has one already."""
    return factories.make_poi(city, name, listed=listed, image=jpeg((400, 300)) if image else None)


def run(*args, **kwargs):
    """The run's summary (also for a run that ended in a CommandError), stdout, stderr
    (with the CommandError's message, as ``manage.py`` prints it)."""
    command, out, err = Command(), io.StringIO(), io.StringIO()
    try:
        call_command(command, *args, stdout=out, stderr=err, **kwargs)
    except CommandError as exc:
        if command.summary is None:  # refused before the run began
            raise
        err.write(f"CommandError: {exc}\n")
    return command.summary, out.getvalue(), err.getvalue()


@pytest.fixture
def three(paris, replica):
    """Three listed POIs without images (one has no candidates) and one unlisted."""
    pois = [make_poi(paris, n) for n in ("Arc de Triomphe", "Bistro Nowhere", "Louvre")]
    add_photo(replica, "File:Arc.jpg", grey(220))
    add_photo(replica, "File:Louvre.jpg", grey(200))
    replica.set_search("Arc de Triomphe", ["File:Arc.jpg"])
    replica.set_search("Louvre", ["File:Louvre.jpg"])
    replica.set_search("Bistro Nowhere", [])
    make_poi(paris, "Unlisted Cafe", listed=False)
    replica.set_search("Unlisted Cafe", ["File:Arc.jpg"])
    return pois


def test_result_dict_and_summary(three, commons):
    result, out, err = run()
    assert result == {
        "status": "success",
        "processed_count": 3,
        "updated_count": 2,
        "failed_count": 0,
        "no_image_count": 1,
        "unchanged_count": 0,
        "fallback_count": 0,
        "request_count": commons.request_count,
        "shared_count": 0,
        "left_count": 0,
        "dry_run": False,
    }
    assert "Processed 3/3 POIs" in out
    assert "2 updated" in out and "1 without a suitable image" in out
    assert "{" not in out  # the dict is returned, not printed
    assert err == ""
    assert RankingRun.objects.get().status == "success"


def test_pois_in_no_list_are_untouched(three, paris):
    run("--all")
    unlisted = PointOfInterest.objects.get(name="Unlisted Cafe")
    assert not unlisted.image_file
    assert not ImageCandidate.objects.filter(poi=unlisted).exists()
    assert not RankingState.objects.filter(poi=unlisted).exists()
    assert not Validation.objects.filter(poi=unlisted).exists()


def test_missing_only_is_default_and_all_reranks(paris, replica):
    with_image = make_poi(paris, "Has Image", image=True)
    add_photo(replica, "File:Better.jpg", grey(240))
    replica.set_search("Has Image", ["File:Better.jpg"])
    result, *_ = run()
    assert result["processed_count"] == 0
    result, *_ = run("--all")
    assert result["updated_count"] == 1
    assert SelectedImage.objects.get(poi=with_image).title == "File:Better.jpg"


def test_city_filter_and_limit(three, commons):
    berlin = City.objects.create(name="Berlin", slug="berlin")
    make_poi(berlin, "Reichstag")
    result, *_ = run("--city", "berlin")
    assert result["processed_count"] == 1
    result, *_ = run("--city", "paris", "--limit", "1")
    assert result["processed_count"] == 1
    assert RankingState.objects.filter(poi__city__slug="paris").count() == 1


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (["--limit", "-1"], {}, "--limit must be a positive number"),
        (["--limit", "0"], {}, "--limit must be a positive number"),
        (["--batch-size", "0"], {}, "--batch-size must be at least 1"),
        (["--threshold", "11"], {}, "--threshold must be between 0 and 10"),
        (["--threshold", "-0.5"], {}, "--threshold must be between 0 and 10"),
        (["--city", "atlantis"], {}, "No POIs in a city with slug 'atlantis'. Known cities: paris"),
        (["--missing-only", "--all"], {}, "not allowed with argument|not both"),
        ([], {"missing_only": True, "all": True}, "either --missing-only or --all"),
        ([], {"threshold": "high"}, "--threshold must be a number"),
        (["--limit", "many"], {}, "invalid int value"),
    ],
)
def test_bad_arguments_raise_command_error(three, commons, args, kwargs, message):
    with pytest.raises(CommandError, match=message):
        run(*args, **kwargs)
    assert commons.request_count == 0


def test_dry_run_changes_nothing(three, commons, settings, tmp_path):
    result, out, _ = run("--dry-run", "--all")
    assert result["status"] == "success" and result["dry_run"] is True
    assert result["updated_count"] == 2 and result["no_image_count"] == 1
    assert "Dry run" in out and "would be updated" in out
    for model in (ImageCandidate, SelectedImage, RankingState, RankingRun, Validation):
        assert not model.objects.exists(), model
    assert not any(p.image_file for p in PointOfInterest.objects.all())
    assert not any(f.is_file() for f in tmp_path.rglob("*") if "media" in f.parts)


def test_failing_poi_does_not_stop_the_batch(three, replica):
    replica.failing_searches.add("Arc de Triomphe")
    result, out, err = run("--batch-size", "2")
    assert result["failed_count"] == 1 and result["updated_count"] == 1
    assert result["processed_count"] == 3 and result["status"] == "success"
    assert "Arc de Triomphe" in err and "HTTP 500" in err
    assert "1 POI(s) failed" in err


def test_progress_line_per_batch_when_not_a_terminal(three, caplog):
    caplog.set_level("INFO", logger="image_ranking")
    result, out, _ = run("--batch-size", "2")
    assert "Processed 2/3 POIs" in out and "Processed 3/3 POIs" in out
    assert "Processed 1/3 POIs" not in out
    assert any("Processed 2/3 POIs" in r.getMessage() for r in caplog.records)
    # The runner hands its requests so far to the progress: the time left is estimated.
    assert "left" in out.split("Processed 2/3 POIs")[1].splitlines()[0]
    assert out.split("Processed 3/3 POIs")[1].splitlines()[0].endswith("; done")


def test_verbose_prints_each_poi(three):
    _, out, _ = run("-v", "2")
    assert "Bistro Nowhere (id" in out and "no_image" in out


def test_no_image_validation_once_per_poi(three):
    run()
    run("--all")
    run()
    report = Validation.objects.get()
    assert report.poi.name == "Bistro Nowhere" and not report.resolved
    assert "Bistro Nowhere (Paris)" in report.description


def test_fallback_flags(three, settings):
    from django.core.files.storage import default_storage

    default_storage.save("cities/images/fallbacks/see.jpg", ContentFile(jpeg((300, 200))))
    result, *_ = run("--no-fallback")
    assert result["fallback_count"] == 0
    result, *_ = run("--fallback")
    assert result["fallback_count"] == 1 and result["no_image_count"] == 1
    poi = PointOfInterest.objects.get(name="Bistro Nowhere")
    assert poi.image_file and poi.selected_image.chosen_by == "fallback"
    settings.IMAGE_RANKING_FALLBACK_ENABLED = True
    result, *_ = run()  # a fallback image still counts as missing a photo
    assert result["processed_count"] == 1 and result["fallback_count"] == 1


def test_rerun_with_all_costs_no_requests_when_nothing_changed(three, commons):
    run()
    before = commons.request_count
    result, out, _ = run("--all")
    assert result["unchanged_count"] == 2 and result["no_image_count"] == 1
    assert commons.request_count == before
    assert result["request_count"] == 0


def test_missing_weights_stop_before_any_request(three, commons, monkeypatch):
    broken = BrightnessScorer(missing_weights=True)
    monkeypatch.setattr(scoring, "get_scorer", lambda name=None: broken, raising=False)
    with pytest.raises(CommandError, match="download_models"):
        run()
    assert commons.request_count == 0


def test_ctrl_c_stops_after_current_poi_and_rerun_resumes(three, commons):
    def interrupt(query):
        if query == "Bistro Nowhere":
            os.kill(os.getpid(), signal.SIGINT)

    commons.on_search = interrupt
    handler = signal.getsignal(signal.SIGINT)
    result, out, err = run("--batch-size", "1")
    assert signal.getsignal(signal.SIGINT) is handler  # restored
    assert result["status"] == "interrupted"
    # The POI being ranked when Ctrl-C came was finished, the next one not started.
    assert result["processed_count"] == 2
    assert "Stopping after the current POI" in err
    assert "Interrupted." in out
    assert "CommandError: Interrupted with 1 of 3 POIs left" in err and "carry on" in err
    assert RankingRun.objects.get().status == "interrupted"
    assert not RankingState.objects.filter(poi__name="Louvre").exists()

    commons.on_search = None
    result, out, _ = run("--batch-size", "1")
    assert "Resuming the run interrupted" in out
    assert result["status"] == "success" and result["processed_count"] == 1
    assert RankingState.objects.get(poi__name="Louvre").outcome == "updated"
    statuses = sorted(RankingRun.objects.values_list("status", flat=True))
    assert statuses == ["resumed", "success"]


def test_keyboard_interrupt_mid_poi_and_resume_of_all(three, commons):
    run()  # everything ranked once
    calls = []

    def boom(query):
        calls.append(query)
        if query == "Bistro Nowhere":
            raise KeyboardInterrupt

    commons.on_search = boom
    result, *_ = run("--all", "--refresh", "--batch-size", "1")
    assert result["status"] == "interrupted" and result["processed_count"] == 1
    commons.on_search = None
    result, *_ = run("--all", "--refresh", "--batch-size", "1")
    # Arc de Triomphe was done by the interrupted run; the other two are left.
    assert result["processed_count"] == 2
    result, *_ = run("--all", "--refresh", "--restart")
    assert result["processed_count"] == 3


def test_interrupted_run_is_not_resumed_by_a_different_selection(three, commons):
    commons.on_search = lambda query: (_ for _ in ()).throw(KeyboardInterrupt)
    run("--all")
    commons.on_search = None
    result, out, _ = run("--all", "--threshold", "3")
    assert "Resuming" not in out and result["processed_count"] == 3


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal(three):
    out, err = Terminal(), io.StringIO()
    call_command("rank_poi_images", "--batch-size", "1", stdout=out, stderr=err)
    text = out.getvalue()
    assert "3/3" in text and "POI" in text  # tqdm's bar, redrawn with \r
    assert "Processed 1/3 POIs (" not in text  # no line per batch on a terminal
    assert "Processed 3/3 POIs in" in text  # the summary


def test_outage_status_when_every_poi_fails_for_commons(three, replica):
    replica.failing_searches.update(["Arc de Triomphe", "Bistro Nowhere", "Louvre"])
    result, out, err = run()
    assert result["status"] == "outage" and result["failed_count"] == 3
    assert "Commons could not be queried" in err
    assert RankingRun.objects.get().status == "failed"


def _exit_code(*argv):
    try:
        Command().run_from_argv(["manage.py", "rank_poi_images", *argv])
    except SystemExit as exc:
        return exc.code
    return 0


def test_exit_codes(three, commons, replica, capsys, monkeypatch):
    from django.db import connections

    # run_from_argv closes the connections when done: that would end the test's transaction.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    replica.failing_searches.update(["Arc de Triomphe", "Bistro Nowhere", "Louvre"])
    assert _exit_code() == 75  # outage: nothing was done, try again later
    replica.failing_searches.clear()
    commons.on_search = lambda query: (_ for _ in ()).throw(KeyboardInterrupt)
    assert _exit_code("--batch-size", "1") == 130
    commons.on_search = None
    assert _exit_code() == 0
    assert _exit_code("--limit", "0") == 1
    assert "--limit must be a positive number" in capsys.readouterr().err
    # Django's own exit path (CommandError.returncode): no run_from_argv of its own.
    assert "run_from_argv" not in vars(Command)
