"""``manage.py check_commons`` against the loopback replica: what it prints and its exit
codes (0 fine, 1 a problem to fix, 75 Wikimedia out of reach)."""

from __future__ import annotations

import io
import socket

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def replica(commons_settings):
    r = commons_settings
    r.add_file("File:Eiffel Tower at dusk.jpg", size=(4000, 3000), categories=["Eiffel Tower"])
    r.add_file("File:Eiffel Tower small.jpg", size=(500, 400), color=(90, 90, 90))
    return r


def check(*args: str) -> str:
    out = io.StringIO()
    call_command("check_commons", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_healthy_service_in_three_requests(replica):
    out = check()
    assert "accepted (HTTP 200)" in out
    assert f"Thumbnail host: {replica.thumb_host} (allowed)" in out
    assert "visible categories: yes" in out and "Rate-limit headers: none" in out
    assert "Thumbnail HEAD: HTTP 200, image/jpeg" in out
    assert "Requests made: 3" in out and "answers as the app expects" in out
    api, heads = replica.api_requests, [q for _p, q in replica.requests if "method" in q]
    assert len(api) == 2 and len(heads) == 1
    assert api[0]["clshow"] == "!hidden" and api[0]["prop"] == "imageinfo|categories"


def test_a_thumbnail_host_the_settings_refuse_is_a_problem_to_fix(replica, settings):
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["127.0.0.1"]
    with pytest.raises(CommandError) as problem:
        check()
    assert problem.value.returncode == 1
    assert f"Thumbnails are on {replica.thumb_host}" in str(problem.value)
    assert "IMAGE_RANKING_DOWNLOAD_HOSTS" in str(problem.value)


def test_a_refused_user_agent_is_a_problem_to_fix(replica):
    replica.fail_next("/w/api.php", status=403, body=b"Please set a user-agent")
    with pytest.raises(CommandError) as problem:
        check()
    assert problem.value.returncode == 1 and "IMAGE_RANKING_USER_AGENT" in str(problem.value)


def test_offline_says_so_in_one_line(replica, monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(CommandError) as unreachable:
        check()
    assert unreachable.value.returncode == 75
    message = str(unreachable.value)
    assert "cannot be reached" in message and "\n" not in message
