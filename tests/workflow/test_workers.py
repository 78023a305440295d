"""The flows as an operator runs them: ``prefect.yaml``'s deployment on a process work pool
of a real Prefect server (loopback), real ``prefect worker`` processes started in a
temporary folder (not the repository: no ``pyproject.toml`` there), one database file,
the Commons replica and the brightness scorer (``worker_settings``).

Slow (about a minute each): two tests that check a lot, marked ``prefect``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

import pytest
import yaml

from tests.image_ranking import concurrent_runs as cr

pytestmark = [pytest.mark.prefect]

REPO = Path(__file__).resolve().parents[2]
POOL = "test-workers"
DEPLOYMENT = "rank-poi-images"
TIMEOUT = 240  # seconds for a flow run to end, on 2 busy cores


def deployment_spec() -> dict:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    (deployment,) = [d for d in spec["deployments"] if d["name"] == DEPLOYMENT]
    return {**deployment, "pull": deployment.get("pull", spec.get("pull"))}


class Site:
    """A database with one city of listed POIs, the replica, and a worker's environment."""

    def __init__(self, tmp_path: Path, replica, api_url: str, slug: str, count: int) -> None:
        self.slug, self.count, self.replica = slug, count, replica
        self.folder = tmp_path / "worker"  # where workers start: not the repository
        self.folder.mkdir()
        self.env = cr.environment(f"sqlite:///{tmp_path / 'db.sqlite3'}", replica, tmp_path)
        self.env.update(
            {
                "PYTHONPATH": str(REPO),
                "PREFECT_API_URL": api_url,
                "PREFECT_WORKER_QUERY_SECONDS": "1",
                "PREFECT_WORKER_PREFETCH_SECONDS": "1",
                "IMAGE_RANKING_LEASE_SECONDS": "60",
            }
        )
        cr.add_photos(replica, slug, count)
        cr.prepare(self.env, {slug: count})
        self.workers: list[subprocess.Popen] = []

    def deploy(self) -> UUID:
        """``prefect.yaml``'s deployment (entrypoint, pull steps, parameters) on the test
        pool, with the test settings in place of the production ones."""
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.actions import WorkPoolCreate

        spec = deployment_spec()
        with get_client(sync_client=True) as client:
            client.create_work_pool(WorkPoolCreate(name=POOL, type="process"), overwrite=True)
            flow_id = client.create_flow_from_name(DEPLOYMENT)
            return client.create_deployment(
                flow_id=flow_id,
                name=f"{DEPLOYMENT}-{self.slug}",
                entrypoint=spec["entrypoint"],
                pull_steps=spec["pull"],
                parameters=spec["parameters"],
                work_pool_name=POOL,
                job_variables={"env": {"DJANGO_SETTINGS_MODULE": "tests.workflow.worker_settings"}},
            )

    def start_worker(self) -> None:
        command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL]
        self.workers.append(
            subprocess.Popen(
                [*command, "--limit", "1", "--type", "process"],
                cwd=self.folder,
                env={**self.env, "DJANGO_SETTINGS_MODULE": "config.settings"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()

    def db(self, sql: str) -> list[tuple]:
        import sqlite3

        with sqlite3.connect(self.env["DATABASE_URL"].removeprefix("sqlite:///")) as conn:
            return conn.execute(sql).fetchall()

    def runs(self) -> list[tuple[str, dict, str]]:
        """(status, counts, message) of every ranking run, oldest first."""
        rows = self.db("SELECT status, counts, message FROM image_ranking_rankingrun ORDER BY id")
        return [(status, json.loads(counts), message) for status, counts, message in rows]


@pytest.fixture
def site(prefect_server, commons_replica, tmp_path, request):
    from prefect.settings import PREFECT_API_URL

    slug, count = request.param
    site = Site(tmp_path, commons_replica, PREFECT_API_URL.value(), slug, count)
    yield site
    site.stop_workers()


def run_deployment(deployment_id: UUID, **ranking) -> UUID:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.create_flow_run_from_deployment(deployment_id, parameters={"ranking": ranking})
    return run.id


def wait_until(condition, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.25)  # polling real processes: there is no clock to inject
    raise AssertionError(f"timed out waiting for {what}")


def final_state(flow_run_id: UUID):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run_id).state
    return state if state is not None and state.is_final() else None


def final_logs(flow_run_id: UUID) -> list[str]:
    """The run's logs once its summary (``Processed n/N POIs in ...``, the last record of
    the ranking) is among them: a flow-run process sends its last records after its
    state turned final."""

    def with_summary():
        messages = run_logs(flow_run_id)
        done = any(m.startswith("Processed ") and " POIs in " in m for m in messages)
        return messages if done else None

    return wait_until(with_summary, "the run's summary in its log", timeout=60)


def run_logs(flow_run_id: UUID) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200
        )
    return [log.message for log in logs]


@pytest.mark.parametrize("site", [("logs", 6)], indirect=True)
def test_a_worker_runs_the_deployment_and_the_apps_progress_reaches_its_log(site):
    failing = "logs POI 3"
    original = site.replica.api
    site.replica.api = lambda p: (500, {}, {}) if p.get("gsrsearch") == failing else original(p)
    deployment = site.deploy()
    site.start_worker()

    flow_run = run_deployment(deployment, city=site.slug, batch_size=2, threshold=1.0)
    state = wait_until(lambda: final_state(flow_run), "the flow run to end")

    assert state.is_completed(), state.message
    ((status, counts, _),) = site.runs()
    assert status == "success"
    assert (counts["updated"], counts["failed"], counts["left"]) == (5, 1, 0)
    messages = final_logs(flow_run)
    progress = [m.split()[1] for m in messages if m.startswith("Processed ") and "POIs (" in m]
    assert progress == ["2/6", "4/6", "6/6"]  # the app's records, not Prefect's own
    assert any(m.startswith("Processed 6/6 POIs in") for m in messages)  # the summary
    assert any(failing in m and "failed" in m for m in messages)  # the failed POI


@pytest.mark.parametrize("site", [("kill", 24)], indirect=True)
def test_a_flow_run_killed_mid_run_leaves_nothing_undone(site):
    """Two workers, two flow runs sharing the list; one run's process is killed (-9)
    mid-run. The other one takes its POIs over and ends only when every POI is ranked."""
    original = site.replica.api

    def slow(params):  # Commons' latency, so that the runs overlap long enough
        time.sleep(0.1)
        return original(params)

    site.replica.api = slow
    deployment = site.deploy()
    site.start_worker()
    site.start_worker()
    options = {"city": site.slug, "batch_size": 2, "threshold": 1.0}
    runs = [run_deployment(deployment, **options) for _ in range(2)]

    def both_ranking():
        running = site.db("SELECT owner FROM image_ranking_rankingrun WHERE status = 'running'")
        holding = site.db(  # a run that holds POIs right now (it is ranking them)
            "SELECT DISTINCT r.owner FROM image_ranking_rankingrun r JOIN "
            "image_ranking_rankinglease l ON l.run_id = r.id WHERE r.status = 'running'"
        )
        (ranked,) = site.db("SELECT count(*) FROM image_ranking_rankingstate")[0]
        return holding if len(running) == 2 and holding and ranked >= 4 else None

    owners = wait_until(both_ranking, "both runs to be ranking")
    os.kill(int(owners[0][0].rpartition(":")[2]), signal.SIGKILL)
    states = [wait_until(lambda r=r: final_state(r), "the flow runs to end") for r in runs]

    completed = [(r, s) for r, s in zip(runs, states, strict=True) if s.is_completed()]
    assert len(completed) == 1, [s.name for s in states]  # the killed one crashed
    survivor, state = completed[0]
    runs_now = site.runs()
    statuses = sorted((status, counts.get("left"), text[:15]) for status, counts, text in runs_now)
    assert statuses == [("interrupted", None, "Taken for dead "), ("success", 0, "")]
    outcomes = dict(
        site.db("SELECT outcome, count(*) FROM image_ranking_rankingstate GROUP BY outcome")
    )
    ((stored,),) = site.db("SELECT count(*) FROM image_ranking_selectedimage")
    # Every POI has its image, without a re-run. A POI whose image the killed run stored
    # just before it died is found "unchanged" by the survivor: ranked once, not undone.
    assert stored == site.count, outcomes
    assert outcomes.get("updated", 0) + outcomes.get("unchanged", 0) == site.count, outcomes
    searches = Counter(p.get("gsrsearch") for p in site.replica.api_requests if "gsrsearch" in p)
    assert set(searches) == {f"kill POI {k}" for k in range(site.count)}
    redone = [name for name, n in searches.items() if n > 1]
    assert len(redone) <= 2, redone  # only the batch the killed run was ranking
    messages = final_logs(survivor)
    assert any(m.startswith("Processed ") and "POIs (" in m for m in messages)
    assert any("Took over" in m and "is gone" in m for m in messages)
