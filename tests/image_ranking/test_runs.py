"""The ranking-run service (``runs.py``) without the command: the summary dict,
resume after an interruption, leases shared by concurrent runs, crashed runs taken over,
outages. Clocks are injected; nothing sleeps."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from cities.models import City, PoiList, PointOfInterest
from image_ranking import leases, runs
from image_ranking.commons.client import CommonsClient
from image_ranking.models import RankingLease, RankingRun, RankingState
from image_ranking.runs import (
    RankingRunner,
    RunError,
    RunOptions,
    summary_keys,
)
from tests.image_ranking.ranking_helpers import BrightnessScorer, add_photo, grey

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("commit_immediately")]

NAMES = ["Arc", "Bridge", "Castle", "Dome", "Elm"]


@pytest.fixture
def replica(commons_settings):
    for name in NAMES:
        add_photo(commons_settings, f"File:{name}.jpg", grey(200))
        commons_settings.set_search(name, [f"File:{name}.jpg"])
    return commons_settings


@pytest.fixture
def commons(replica):
    """The real client on the replica. Its retries of a failing search do not wait (nor
    move the runs' clock, which would age the leases)."""
    return CommonsClient(sleep=lambda seconds: None)


@pytest.fixture
def pois():
    city = City.objects.create(name="Paris", slug="paris")
    plist = PoiList.objects.create(city=city, name="Best")
    made = [PointOfInterest.objects.create(city=city, name=n, category="see") for n in NAMES]
    plist.pois.add(*made)
    return made


class Clock:
    """The runs' clock, and their sleep: sleeping advances it (and runs ``on_sleep``)."""

    def __init__(self) -> None:
        self.now = timezone.now()
        self.slept = 0.0
        self.on_sleep = None

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept += seconds
        self.advance(max(seconds, 0.001))
        if self.on_sleep is not None:
            self.on_sleep()


@pytest.fixture
def clock():
    return Clock()


def runner(commons, clock, owner="test:1", **options):
    return RankingRunner(
        RunOptions(**options),
        client=commons,
        scorer=BrightnessScorer(),
        clock=clock,
        sleep=clock.sleep,
        lease_seconds=60,
        owner=owner,
    )


def hold(run, pois, clock, seconds=60):
    """``run`` claims ``pois`` (it is ranking them) and beats now."""
    ids = [p.pk for p in pois]
    until = clock.now + timedelta(seconds=seconds)
    assert leases.claim(ids, run, now=clock.now, until=until) == ids
    leases.renew(run, ids, now=clock.now, until=until)


def ranked_names():
    return sorted(RankingState.objects.values_list("poi__name", flat=True))


def gone_pid() -> int:
    """The pid of a process of this host that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_summary_dict(pois, commons, replica, clock):
    replica.failing_searches.add("Castle")
    result = runner(commons, clock, batch_size=2).run()
    assert tuple(result) == summary_keys()
    assert result["status"] == "success"
    assert (result["processed_count"], result["updated_count"], result["failed_count"]) == (5, 4, 1)
    assert result["request_count"] == commons.request_count > 0
    run = RankingRun.objects.get()
    assert run.status == "success" and run.total_count == 5 and run.owner == "test:1"
    assert run.counts["updated"] == 4 and run.counts["requests"] == commons.request_count
    assert not RankingLease.objects.filter(run=run).exists()  # every lease given back


def test_progress_callback_after_each_poi(pois, commons, clock):
    seen = []
    runner(commons, clock, batch_size=2).run(seen.append)
    assert [p.done for p in seen] == [1, 2, 3, 4, 5]
    assert [p.batch_done for p in seen] == [False, True, False, True, True]
    assert seen[-1].counts["updated"] == 5 and seen[0].result.poi_name == "Arc"


def test_stop_after_the_current_poi_then_resume(pois, commons, clock):
    first = runner(commons, clock, batch_size=2)

    def stop_after_two(progress):
        if progress.done == 2:
            first.request_stop()

    result = first.run(stop_after_two)
    assert result["status"] == "interrupted" and result["processed_count"] == 2
    assert RankingRun.objects.get().status == "interrupted"
    assert not RankingLease.objects.filter(expires_at__gt=clock.now).exists()

    clock.advance(5)
    second = runner(commons, clock, batch_size=2)
    plan = second.prepare()
    assert plan.resumed == RankingRun.objects.get(status="resumed")
    assert plan.joined is None and plan.total == 3
    result = second.run()
    assert result["status"] == "success" and result["processed_count"] == 3
    assert RankingState.objects.filter(outcome="updated").count() == 5


def test_keyboard_interrupt_mid_poi_gives_its_leases_back(pois, commons, clock):
    search = commons.search

    def boom(query, *args, **kwargs):
        if query == "Castle":
            raise KeyboardInterrupt
        return search(query, *args, **kwargs)

    commons.search = boom
    result = runner(commons, clock, batch_size=1).run()
    assert result["status"] == "interrupted" and result["processed_count"] == 2
    assert not RankingLease.objects.filter(expires_at__gt=clock.now).exists()


def test_restart_does_not_resume(pois, commons, clock):
    first = runner(commons, clock, batch_size=1)
    first.run(lambda p: first.request_stop())
    plan = runner(commons, clock, restart=True, missing_only=False).prepare()
    assert plan.resumed is None and plan.since is None and plan.total == 5


def test_claims_are_disjoint_and_expire(pois, clock):
    ids = [p.pk for p in pois]
    now = clock.now
    a = RankingRun.objects.create(started_at=now)
    b = RankingRun.objects.create(started_at=now)
    until = now + timedelta(seconds=60)
    assert leases.claim(ids[:3], a, now=now, until=until) == ids[:3]
    assert leases.claim(ids, b, now=now, until=until) == ids[3:]
    assert leases.claim(ids[:3], a, now=now, until=until) == ids[:3]  # still a's
    leases.release(ids[:1], b, now=now)  # not b's to give back
    assert leases.claim(ids[:1], b, now=now, until=until) == []
    leases.release(ids[:1], a, now=now)
    assert leases.claim(ids[:1], b, now=now, until=until) == ids[:1]
    later = until + timedelta(seconds=1)  # a crashed: its leases ran out
    assert leases.claim(ids[1:3], b, now=later, until=later) == ids[1:3]


def test_a_live_run_is_joined_and_waited_for(pois, commons, clock):
    live = runner(commons, clock, owner="elsewhere:1", batch_size=5)
    live.prepare()
    hold(live.record, pois[:2], clock)  # the live run is ranking Arc and Bridge
    clock.advance(10)
    other = runner(commons, clock, batch_size=5)
    plan = other.prepare()
    assert plan.joined == live.record and plan.resumed is None
    assert other.record.joined == live.record and other.record.resumed_from is None

    def live_ranks_its_pois():  # while the other run waits
        clock.on_sleep = None
        live.run()

    clock.on_sleep = live_ranks_its_pois
    result = other.run()

    assert result["status"] == "success" and result["left_count"] == 0
    assert (result["processed_count"], result["shared_count"]) == (3, 2)
    assert 0 < clock.slept <= 5  # one poll: it did not wait for the lease to expire
    live.record.refresh_from_db()
    assert live.record.status == "success"  # never marked "resumed"
    assert ranked_names() == sorted(NAMES)
    assert RankingState.objects.count() == 5  # each POI ranked once


def test_a_run_waits_for_a_silent_runs_leases_then_ranks_its_pois(pois, commons, clock):
    """A run on another host holds two POIs and stops beating (killed): the other run
    ranks the rest, waits until the silent run's leases expire, then ranks those two."""
    silent = RankingRun.objects.create(
        started_at=clock.now, owner="elsewhere:7", selection={"other": "selection"}
    )
    hold(silent, pois[3:], clock)
    clock.advance(1)
    seen = []
    result = runner(commons, clock, batch_size=2).run(seen.append)

    assert result["status"] == "success" and result["left_count"] == 0
    assert result["processed_count"] == 5 and result["shared_count"] == 0
    assert 58 <= clock.slept <= 61  # until the leases expired, not a whole lease more
    assert [p.result.poi_name for p in seen][-2:] == ["Dome", "Elm"]
    silent.refresh_from_db()
    assert silent.status == "interrupted" and "no heartbeat since" in silent.message
    assert ranked_names() == sorted(NAMES)


def test_a_run_whose_process_is_gone_is_taken_over_at_once(pois, commons, clock):
    dead = runner(commons, clock, owner=f"{socket.gethostname()}:{gone_pid()}", batch_size=5)
    dead.prepare()
    hold(dead.record, pois[:2], clock)  # killed while ranking Arc and Bridge: fresh beat
    clock.advance(1)
    assert leases.process_gone(dead.record.owner)
    assert not leases.process_gone(f"{socket.gethostname()}:{os.getpid()}")
    assert not leases.process_gone("elsewhere:1")  # another host: its heartbeat tells

    other = runner(commons, clock, batch_size=5)
    plan = other.prepare()
    assert plan.resumed == dead.record and plan.joined is None  # never joins a dead run
    result = other.run()

    assert result["status"] == "success" and result["processed_count"] == 5
    assert clock.slept == 0  # no wait for the leases to expire
    assert RankingRun.objects.get(pk=dead.record.pk).status == "resumed"


def test_a_stopped_run_says_how_many_pois_are_left(pois, commons, clock):
    holder = RankingRun.objects.create(started_at=clock.now, owner="elsewhere:2")
    hold(holder, pois[:2], clock)
    mine = runner(commons, clock, batch_size=5)
    clock.on_sleep = mine.request_stop  # Ctrl-C while waiting for the held POIs
    result = mine.run()
    assert result["status"] == "interrupted"
    assert (result["processed_count"], result["left_count"]) == (3, 2)
    run = RankingRun.objects.get(pk=mine.record.pk)
    assert run.status == "interrupted" and run.counts["left"] == 2
    assert "2 POI(s) of the selection left undone" in run.message


def test_heartbeats_during_a_long_poi(pois, commons, replica, clock):
    """A POI with many thumbnails takes longer than the lease: its lease is renewed
    before each download, so no other run takes it for crashed."""
    titles = [f"File:Arc {k}.jpg" for k in range(4)]
    for title in titles:
        add_photo(replica, title, grey(150))
    replica.set_search("Arc", titles)
    mine = runner(commons, clock, batch_size=1, limit=1)
    download = commons.download_image
    held_while_downloading = []

    def slow_download(url, **kwargs):
        lease = RankingLease.objects.get(poi=pois[0])
        held_while_downloading.append(
            lease.run_id == mine.record.pk and lease.expires_at > clock.now
        )
        clock.advance(25)  # four thumbnails: 100 s, longer than the 60 s lease
        return download(url, **kwargs)

    commons.download_image = slow_download
    assert mine.run()["updated_count"] == 1
    assert len(held_while_downloading) == 4 and all(held_while_downloading)
    assert RankingRun.objects.get(pk=mine.record.pk).heartbeat_at >= clock.now - timedelta(
        seconds=30
    )


def test_a_crashed_run_is_taken_over(pois, commons, clock):
    crashed = runner(commons, clock, batch_size=5)
    crashed.prepare()
    ids = [p.pk for p in pois]
    leases.claim(ids[:2], crashed.record, now=clock.now, until=clock.now + timedelta(seconds=60))
    clock.advance(61)  # no heartbeat for longer than the lease
    other = runner(commons, clock, batch_size=5)
    plan = other.prepare()
    assert plan.resumed == crashed.record and plan.joined is None
    assert other.record.resumed_from == crashed.record
    assert other.run()["processed_count"] == 5
    assert RankingRun.objects.get(pk=crashed.record.pk).status == "resumed"


def test_pois_ranked_by_another_run_meanwhile_are_skipped(pois, commons, clock):
    mine = runner(commons, clock, batch_size=1, missing_only=False)
    mine.prepare()
    # Another process ranks Arc after this run started, and gives its lease back.
    runner(commons, clock, missing_only=False, limit=1, restart=True).run()
    assert mine.run()["processed_count"] == 4


def test_limit_counts_ranked_pois_past_claimed_ones(pois, commons, clock):
    other = RankingRun.objects.create(started_at=clock.now, owner="elsewhere:3")
    leases.claim([pois[0].pk], other, now=clock.now, until=clock.now + timedelta(seconds=60))
    result = runner(commons, clock, batch_size=1, limit=2).run()
    assert result["processed_count"] == 2
    assert set(RankingState.objects.values_list("poi__name", flat=True)) == {"Bridge", "Castle"}


def test_outage_when_every_poi_failed_for_commons(pois, commons, replica, clock):
    replica.failing_searches.update(NAMES)
    result = runner(commons, clock).run()
    assert result["status"] == "outage" and result["failed_count"] == 5
    run = RankingRun.objects.get()
    assert run.status == "failed" and "Commons could not be queried" in run.message


def test_an_outage_stops_the_run_early_and_the_next_run_carries_on(
    pois, commons, replica, clock, monkeypatch
):
    monkeypatch.setattr(runs, "OUTAGE_STREAK", 2)
    replica.failing_searches.update(NAMES)
    result = runner(commons, clock, batch_size=5).run()
    assert result["status"] == "outage" and result["processed_count"] == 2
    first = RankingRun.objects.get()
    assert first.status == "interrupted" and "the last 2 in a row failed" in first.message
    replica.failing_searches.clear()  # Commons is back
    clock.advance(1)
    result = runner(commons, clock, batch_size=5).run()
    assert result["status"] == "success" and result["updated_count"] == 5
    assert RankingRun.objects.get(pk=first.pk).status == "resumed"


def test_every_poi_failing_for_another_reason_is_a_failed_run(pois, commons, clock, monkeypatch):
    from image_ranking.pipeline.store import Storer

    def broken(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(Storer, "store_winner", broken)  # the pipeline's store stage
    result = runner(commons, clock).run()
    assert result["status"] == "failed" and result["failed_count"] == 5


def test_dry_run_claims_and_records_nothing(pois, commons, clock):
    result = runner(commons, clock, dry_run=True).run()
    assert result["updated_count"] == 5 and result["dry_run"] is True
    assert not RankingLease.objects.exists() and not RankingRun.objects.exists()


def test_missing_model_fails_the_run_record(pois, commons, clock):
    run = RankingRunner(
        RunOptions(), client=commons, scorer=BrightnessScorer(missing_weights=True), clock=clock
    )
    with pytest.raises(RunError, match="download_models"):
        run.run()
    assert commons.request_count == 0
    assert RankingRun.objects.get().status == "failed"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": 0}, "--limit must be a positive number"),
        ({"batch_size": "x"}, "--batch-size must be a number"),
        ({"threshold": 12}, "--threshold must be between 0 and 10"),
        ({"city": "  "}, "--city needs a city slug"),
        ({"all": True, "missing_only": True}, "not both"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(RunError, match=message):
        RunOptions.from_options(options)


def test_two_processes_split_the_list(commons_replica, tmp_path):
    """Two real rank_poi_images processes on one database (SQLite here; PostgreSQL when the
    suite runs on it) rank disjoint POIs, with the requests of one process."""
    from django.db import connection

    from tests.image_ranking import concurrent_runs as cr

    replica, count = commons_replica, 12
    for slug in ("warm", "solo", "duo"):
        cr.add_photos(replica, slug, count)
    with cr.fresh_database(tmp_path, connection.vendor, connection.settings_dict) as url:
        env = cr.environment(url, replica, tmp_path)
        cr.prepare(env, {"warm": count, "solo": count, "duo": count})
        # Downloads stop by the scores kept so far (pipeline/promise.py): both runs below
        # start from the same ones.
        cr.run_together(env, 1, "--city", "warm", "--batch-size", "2")
        before = len(replica.requests)
        (solo,) = cr.run_together(env, 1, "--city", "solo", "--batch-size", "2")
        one = len(replica.requests) - before
        pair = cr.run_together(env, 2, "--city", "duo", "--batch-size", "2")
        two = len(replica.requests) - before - one

    assert solo["processed_count"] == solo["updated_count"] == count
    first, second = (set(r["ranked"]) for r in pair)
    assert not first & second, "a POI was ranked by both processes"
    assert first | second == {f"duo POI {k}" for k in range(count)}
    assert sum(r["processed_count"] for r in pair) == count
    assert all(r["status"] == "success" for r in pair)
    assert all(r["processed_count"] > 0 for r in pair), "both processes ranked some"
    assert two == one == sum(r["request_count"] for r in pair)


def test_a_run_first_sweeps_old_orphan_files(pois, commons, clock, settings):
    # A file a killed process wrote but never committed, older than ORPHAN_MIN_AGE.
    folder = settings.MEDIA_ROOT / "cities" / "images" / "paris"
    folder.mkdir(parents=True)
    orphan = folder / "99-lost-abc.jpg"
    orphan.write_bytes(b"half a jpeg")
    old = clock.now.timestamp() - 2 * 86400
    os.utime(orphan, (old, old))
    runner(commons, clock, batch_size=5, dry_run=True).run()
    assert orphan.exists()  # a dry run changes nothing on disk
    runner(commons, clock, batch_size=5).run()
    assert not orphan.exists()
    stored = [PointOfInterest.objects.get(pk=p.pk).image_file for p in pois]
    assert all(f and f.storage.exists(f.name) for f in stored)  # the run's own files stay


def test_progress_carries_the_requests_made_so_far(commons, pois, clock):
    """The time left is estimated from them (``management/progress.py``)."""
    seen = []
    result = runner(commons, clock, batch_size=2).run(lambda p: seen.append(p.requests))
    assert len(seen) == len(NAMES)
    assert seen == sorted(seen) and seen[0] > 0  # cumulative, counted from the first batch
    assert seen[-1] == result["request_count"] == commons.request_count


class FakeTorch:
    def __init__(self, threads: int) -> None:
        self.threads = threads

    def get_num_threads(self) -> int:
        return self.threads

    def set_num_threads(self, threads: int) -> None:
        self.threads = threads


def test_torch_threads_are_the_runs_share_of_the_cores(pois, commons, clock, monkeypatch, settings):
    torch = FakeTorch(threads=4)  # torch's own default: every core
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setattr(runs, "available_cores", lambda: 4)
    here = f"{socket.gethostname()}:{os.getpid()}"
    other = RankingRun.objects.create(started_at=clock.now, heartbeat_at=clock.now, owner=here)
    RankingRun.objects.create(started_at=clock.now, heartbeat_at=clock.now, owner="elsewhere:1")
    gone = f"{socket.gethostname()}:{gone_pid()}"
    RankingRun.objects.create(started_at=clock.now, heartbeat_at=clock.now, owner=gone)
    mine = runner(commons, clock, owner=here, batch_size=5)
    mine.run()
    # Two live runs on this host (another host's and a dead process's do not count).
    assert torch.threads == 2
    other.status = "success"
    other.save()
    clock.advance(3600)  # past the real time the first run stored its POIs at
    assert (
        runner(commons, clock, owner=here, missing_only=False, restart=True).run()[
            "processed_count"
        ]
        == 5
    )
    assert torch.threads == 4  # alone again

    settings.IMAGE_RANKING_TORCH_THREADS = 1  # set by hand: left to the scorer
    torch.threads = 3
    clock.advance(3600)
    runner(commons, clock, owner=here, missing_only=False, restart=True).run()
    assert torch.threads == 3


@pytest.mark.parametrize(
    ("cores", "runs_", "threads"), [(2, 1, 2), (2, 2, 1), (2, 3, 1), (8, 3, 2)]
)
def test_threads_per_run(cores, runs_, threads):
    assert runs.threads_per_run(cores, runs_) == threads
    assert runs.available_cores() >= 1
