"""The HTTP transport: the download allow-list (one parser, pinned address), strict
Retry-After, tenacity's waits, the non-blocking budget and which failures are transient.

Everything runs against the loopback replica (127.0.0.1); names such as ``images.test``
are only ever resolved by an injected resolver, so nothing leaves the machine.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urlsplit

import pytest
import requests

from image_ranking.commons import http
from image_ranking.commons.client import CommonsClient
from image_ranking.commons.http import (
    PIN_ATTRIBUTE,
    CheckedUrl,
    PinnedAdapter,
    check_download_url,
    retry_after_seconds,
)
from image_ranking.commons.ratelimit import RateLimiter
from image_ranking.exceptions import (
    BudgetExhaustedError,
    CommonsError,
    DisallowedHostError,
    DownloadTooLargeError,
    DownloadUnavailableError,
    TransientCommonsError,
    TruncatedDownloadError,
)
from image_ranking.models import RateLimitBucket
from tests.image_ranking.ranking_helpers import FakeTime

pytestmark = pytest.mark.django_db

TITLE = "File:Tour Eiffel.jpg"


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def replica(commons_settings):
    commons_settings.add_file(TITLE, size=(2000, 1500), color=(200, 170, 90))
    return commons_settings


@pytest.fixture
def port(replica):
    return urlsplit(replica.base_url).port


def make_client(fake_time, **kwargs):
    limiter = RateLimiter(clock=fake_time.clock, sleep=fake_time.sleep)
    return CommonsClient(limiter=limiter, sleep=fake_time.sleep, **kwargs)


@pytest.fixture
def client(replica, fake_time):
    return make_client(fake_time)


class Resolver:
    """A DNS stand-in: ``answers[host]`` is a list of answers, one per look-up."""

    def __init__(self, **answers):
        self.answers = {h.replace("_", "."): list(a) for h, a in answers.items()}
        self.calls: list[str] = []

    def __call__(self, host, port):
        self.calls.append(host)
        answers = self.answers[host]
        return answers.pop(0) if len(answers) > 1 else answers[0]


# ------------------------------------------------------------------ one URL check


def test_the_backslash_bypass_is_real_and_refused(settings):
    """The issue's bypass: urllib.parse reads host 127.0.0.1, requests connects to .2."""
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["127.0.0.1"]
    url = "http://127.0.0.2:8080\\@127.0.0.1/x.jpg"
    assert urlsplit(url).hostname == "127.0.0.1"
    assert urlsplit(requests.Request("GET", url).prepare().url).hostname == "127.0.0.2"
    with pytest.raises(DisallowedHostError, match="backslash"):
        check_download_url(url)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://user:secret@127.0.0.1/x.jpg", "user name or password"),
        ("http://127.0.0.1@127.0.0.1/x.jpg", "user name or password"),
        ("http://127.0.0.1:80%5C@127.0.0.2/x.jpg", "not a valid URL|user name"),
        ("http://127.0.0.1\t/x.jpg", "whitespace"),
        (" http://127.0.0.1/x.jpg", "whitespace"),
        ("http://127.0.0.1/x\x00.jpg", "control character"),
        ("http://127.0.0.1:99999/x.jpg", "not a valid URL"),
        ("ftp://127.0.0.1/x.jpg", "not an http"),
        ("file:///etc/passwd", "not an http|not a valid"),
        ("http:///x.jpg", "not a valid URL|not an http"),
        ("http://2130706433/x.jpg", "not in IMAGE_RANKING_DOWNLOAD_HOSTS"),  # 127.0.0.1
        ("http://127.1/x.jpg", "not in IMAGE_RANKING_DOWNLOAD_HOSTS"),
        ("http://[::ffff:127.0.0.1]/x.jpg", "not in IMAGE_RANKING_DOWNLOAD_HOSTS"),
        ("http://127.0.0.1./x.jpg", "not in IMAGE_RANKING_DOWNLOAD_HOSTS"),
    ],
)
def test_urls_read_differently_or_not_allowed_are_refused(settings, url, why):
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["127.0.0.1"]
    with pytest.raises(DisallowedHostError, match=why) as caught:
        check_download_url(url, resolve=Resolver())
    assert "secret" not in str(caught.value)  # a password never reaches a log


@pytest.mark.parametrize(
    "answers",
    [
        ["10.0.0.5"],
        ["93.184.216.34", "10.0.0.5"],  # one internal answer among public ones
        ["::ffff:10.0.0.5"],  # IPv4-mapped
        ["64:ff9b::a00:5"],  # NAT64 of 10.0.0.5
        ["2002:a00:5::1"],  # 6to4 of 10.0.0.5
        ["100.64.0.1"],  # carrier-grade NAT: not global, though not "private"
        ["169.254.169.254"],  # cloud metadata
        ["fe80::1%eth0"],
    ],
)
def test_a_name_resolving_to_an_internal_address_is_refused(settings, answers):
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["images.test"]
    resolver = Resolver(images_test=[answers])
    with pytest.raises(DisallowedHostError, match="internal address"):
        check_download_url("https://images.test/x.jpg", resolve=resolver)
    assert resolver.calls == ["images.test"]


def test_a_public_answer_is_checked_and_returned_for_pinning(settings):
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["Images.Test"]
    resolver = Resolver(images_test=[["93.184.216.34", "2606:2800:220:1::1"]])
    checked = check_download_url("https://IMAGES.test/café.jpg", resolve=resolver)
    assert checked == CheckedUrl(  # the URL as requests sends it
        "https://images.test/caf%C3%A9.jpg", "https", "images.test", 443, "93.184.216.34"
    )
    assert checked.host_header == "images.test"


def test_a_name_that_does_not_resolve_is_transient(settings):
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["images.test"]

    def broken(host, port):
        raise socket.gaierror("Temporary failure in name resolution")

    with pytest.raises(TransientCommonsError, match="Cannot resolve") as caught:
        check_download_url("https://images.test/x.jpg", resolve=broken)
    assert caught.value.transient


def test_backslash_userinfo_redirect_is_refused(client, replica, port):
    replica.redirect("/go.jpg", f"http://127.0.0.2:{port}\\@127.0.0.1/x.jpg")
    with pytest.raises(DisallowedHostError, match="backslash") as caught:
        client.download_image(replica.base_url + "/go.jpg")
    assert not caught.value.transient
    assert client.request_count == 1 and replica.download_requests == ["/go.jpg"]


def test_userinfo_redirect_is_refused(client, replica, port):
    replica.redirect("/go.jpg", f"http://evil@127.0.0.1:{port}/x.jpg")
    with pytest.raises(DisallowedHostError, match="user name"):
        client.download_image(replica.base_url + "/go.jpg")
    assert client.request_count == 1


# ------------------------------------------------------------------ pinning


def test_the_connection_goes_to_the_checked_address(
    settings, replica, port, fake_time, monkeypatch
):
    """``images.test`` resolves (once, by the check) to the replica's 127.0.0.1; the
    HTTP library never looks the name up itself, and the server sees the name."""
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["images.test", "127.0.0.1"]
    resolver = Resolver(images_test=[["127.0.0.1"]])
    looked_up: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: looked_up.append(host) or real_getaddrinfo(host, *a, **k),
    )
    client = make_client(fake_time, resolve=resolver)
    path = urlsplit(replica.original_url(TITLE)).path
    data = client.download_image(f"http://images.test:{port}{path}")
    assert data[:2] == b"\xff\xd8"
    assert resolver.calls == ["images.test"]
    assert "images.test" not in looked_up and "127.0.0.1" in looked_up
    assert replica.host_headers[-1] == f"images.test:{port}"


def test_a_retry_reuses_the_checked_address_dns_rebinding_has_no_second_chance(
    settings, replica, port, fake_time
):
    """The second answer (an internal address) is never asked for: retries are pinned."""
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["images.test", "127.0.0.1"]
    resolver = Resolver(images_test=[["127.0.0.1"], ["10.9.9.9"]])
    client = make_client(fake_time, resolve=resolver)
    path = urlsplit(replica.original_url(TITLE)).path
    replica.fail_next(path, 503)
    assert client.download_image(f"http://images.test:{port}{path}")[:2] == b"\xff\xd8"
    assert client.request_count == 2 and resolver.calls == ["images.test"]


def test_every_redirect_hop_is_resolved_and_checked_again(settings, replica, port, fake_time):
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["images.test", "127.0.0.1"]
    resolver = Resolver(images_test=[["127.0.0.1"], ["10.9.9.9"]])
    client = make_client(fake_time, resolve=resolver)
    replica.redirect("/go.jpg", f"http://images.test:{port}/x.jpg")
    with pytest.raises(DisallowedHostError, match="10.9.9.9"):
        client.download_image(f"http://images.test:{port}/go.jpg")
    assert client.request_count == 1 and resolver.calls == ["images.test", "images.test"]


def test_https_keeps_the_name_for_sni_and_the_certificate():
    prepared = requests.Request("GET", "https://upload.wikimedia.org/x.jpg").prepare()
    setattr(
        prepared,
        PIN_ATTRIBUTE,
        CheckedUrl(prepared.url, "https", "upload.wikimedia.org", 443, "198.51.100.7"),
    )
    pool = PinnedAdapter().get_connection_with_tls_context(prepared, True)
    assert (pool.host, pool.port) == ("198.51.100.7", 443)
    assert pool.conn_kw["server_hostname"] == "upload.wikimedia.org"
    assert pool.assert_hostname == "upload.wikimedia.org"


def test_a_pinned_request_whose_url_changed_is_refused():
    prepared = requests.Request("GET", "http://127.0.0.1/other.jpg").prepare()
    checked = CheckedUrl("http://127.0.0.1/x.jpg", "http", "127.0.0.1", 80, "127.0.0.1")
    setattr(prepared, PIN_ATTRIBUTE, checked)
    with pytest.raises(DisallowedHostError, match="not checked"):
        PinnedAdapter().send(prepared)


# ------------------------------------------------------------------ Retry-After


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 30.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("86400", 600.0),  # a day is capped at IMAGE_RANKING_MAX_BACKOFF
        ("9" * 60, 600.0),
        ("inf", None),
        ("Infinity", None),
        ("NaN", None),
        ("1e300", None),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("3" * 100, None),  # absurdly long header
        (format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True), 90.0),
        (format_datetime(datetime.fromtimestamp(NOW - 90, UTC), usegmt=True), 0.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 600.0),
        ("Tue, 14 Nov 2023 22:14:20 -0000", 60.0),  # NOW is 22:13:20; -0000 read as UTC
        ("Mon, 99 Foo 2023 99:99:99 GMT", None),
    ],
)
def test_retry_after_is_parsed_strictly_and_capped(value, seconds):
    assert retry_after_seconds(value, now=NOW) == seconds


def test_the_cap_is_a_setting(settings):
    settings.IMAGE_RANKING_MAX_BACKOFF = 60
    assert retry_after_seconds("86400", now=NOW) == 60.0


@pytest.mark.parametrize("value", ["inf", "1e300", "-5", "garbage"])
def test_a_nonsense_retry_after_falls_back_to_backoff_and_poisons_nothing(
    client, replica, fake_time, value
):
    replica.fail_next("/w/api.php", 429, {"Retry-After": value})
    # The retry got through (the replica's search finds the file by its title words).
    assert [c.title for c in client.search("Tour Eiffel")] == ["File:Tour Eiffel.jpg"]
    assert fake_time.sleeps == [1.0]  # tenacity's exponential wait
    bucket = RateLimitBucket.objects.get(name="wikimedia")
    assert bucket.blocked_until <= fake_time.now
    client.search("Tour Eiffel")  # and the next request is not stuck
    assert client.request_count == 3


def test_a_huge_retry_after_waits_the_cap_not_a_day(client, replica, fake_time, settings):
    settings.IMAGE_RANKING_MAX_BACKOFF = 120
    replica.fail_next("/w/api.php", 503, {"Retry-After": "86400"})
    client.search("Tour Eiffel")
    assert sum(fake_time.sleeps) == pytest.approx(120)
    assert RateLimitBucket.objects.get(name="wikimedia").blocked_until <= fake_time.now


def test_an_http_date_retry_after_is_honoured(client, replica, fake_time):
    when = datetime.now(UTC) + timedelta(seconds=90)
    replica.fail_next("/w/api.php", 429, {"Retry-After": format_datetime(when, usegmt=True)})
    client.search("Tour Eiffel")
    assert 85 <= sum(fake_time.sleeps) <= 91


def test_maxlag_with_a_nonsense_retry_after_waits_the_default(client, replica, fake_time):
    error = {"error": {"code": "maxlag", "info": "Waiting for a replica: 7 seconds lagged."}}
    headers = {"Retry-After": "inf", "Content-Type": "application/json"}
    replica.fail_next("/w/api.php", 200, headers, json.dumps(error).encode())
    client.search("Tour Eiffel")
    assert fake_time.sleeps == [5.0] and client.request_count == 2


def test_backoff_is_exponential_and_capped(client, replica, fake_time, settings):
    settings.IMAGE_RANKING_MAX_BACKOFF = 3
    for _ in range(4):
        replica.fail_next("/w/api.php", 503)
    client.search("Tour Eiffel")
    assert fake_time.sleeps == [1.0, 2.0, 3.0, 3.0]


# ------------------------------------------------------------------ never sleeping


def test_a_web_client_does_not_wait_for_the_budget(replica, fake_time):
    client = make_client(fake_time, wait_for_budget=False)
    client.limiter.defer(300)
    with pytest.raises(BudgetExhaustedError) as caught:
        client.search("Tour Eiffel")
    assert caught.value.retry_at == pytest.approx(fake_time.now + 300)
    assert caught.value.retry_at_datetime == datetime.fromtimestamp(fake_time.now + 300, UTC)
    assert caught.value.transient
    assert fake_time.sleeps == [] and client.request_count == 0 and replica.requests == []


def test_a_web_client_does_not_sleep_between_retries(replica, fake_time):
    client = make_client(fake_time, wait_for_budget=False)
    replica.fail_next("/w/api.php", 503)
    with pytest.raises(TransientCommonsError, match="HTTP 503"):
        client.search("Tour Eiffel")
    assert fake_time.sleeps == [] and client.request_count == 1


def test_a_retry_after_seen_by_the_batch_stops_the_web_client_at_once(replica, fake_time):
    batch, web = make_client(fake_time), make_client(fake_time, wait_for_budget=False)
    replica.fail_next("/w/api.php", 429, {"Retry-After": "45"})
    replica.fail_next("/w/api.php", 429, {"Retry-After": "45"})
    with pytest.raises(TransientCommonsError):
        web.search("Tour Eiffel")  # told 429 itself: raised, not slept
    with pytest.raises(BudgetExhaustedError):
        web.search("Tour Eiffel")  # the bucket is blocked for every process
    assert fake_time.sleeps == []
    batch.search("Tour Eiffel")  # the batch waits it out
    assert sum(fake_time.sleeps) >= 45


# ------------------------------------------------------------------ transient or not


def thumb(replica):
    return replica.thumb_url(TITLE, 960)


def test_a_thumbnail_404_once_is_transient_and_not_retried_at_once(client, replica):
    replica.fail_next(urlsplit(thumb(replica)).path, 404, body=b"Not found")
    with pytest.raises(DownloadUnavailableError, match="HTTP 404") as caught:
        client.download_image(thumb(replica))
    assert caught.value.transient and caught.value.status == 404
    assert client.request_count == 1
    assert client.download_image(thumb(replica))[:2] == b"\xff\xd8"  # a later try works


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "text/html; charset=utf-8"}, b"<p>Error: upstream timed out</p>"),
        ({"Content-Type": "image/jpeg"}, b"\n<!DOCTYPE html><html><body>Error</body></html>"),
    ],
)
def test_an_html_page_instead_of_a_thumbnail_is_transient(client, replica, headers, body):
    replica.fail_next(urlsplit(thumb(replica)).path, 200, headers, body)
    with pytest.raises(DownloadUnavailableError, match="HTML page") as caught:
        client.download_image(thumb(replica))
    assert caught.value.transient and "HTML" in caught.value.reason


def test_a_text_error_instead_of_a_thumbnail_is_transient(client, replica):
    headers = {"Content-Type": "text/plain"}
    replica.fail_next(urlsplit(thumb(replica)).path, 200, headers, b"upstream connect error")
    with pytest.raises(DownloadUnavailableError, match="text/plain page") as caught:
        client.download_image(thumb(replica))
    assert caught.value.transient


def test_an_empty_body_is_transient(client, replica):
    replica.fail_next(urlsplit(thumb(replica)).path, 200, {"Content-Type": "image/jpeg"})
    with pytest.raises(DownloadUnavailableError, match="empty body") as caught:
        client.download_image(thumb(replica))
    assert caught.value.transient


def test_a_truncated_thumbnail_is_retried(client, replica, fake_time):
    replica.truncate_next(urlsplit(thumb(replica)).path, keep=100)
    data = client.download_image(thumb(replica))
    assert data[:2] == b"\xff\xd8" and len(data) > 100
    assert client.request_count == 2 and fake_time.sleeps == [1.0]


def test_a_truncated_thumbnail_that_stays_truncated_is_transient(client, replica, settings):
    settings.IMAGE_RANKING_MAX_RETRIES = 0
    replica.truncate_next(urlsplit(thumb(replica)).path, keep=100)
    with pytest.raises(TruncatedDownloadError) as caught:
        client.download_image(thumb(replica))
    assert caught.value.transient


def test_a_thumbnail_503_is_transient(client, replica, settings):
    settings.IMAGE_RANKING_MAX_RETRIES = 1
    for _ in range(2):
        replica.fail_next(urlsplit(thumb(replica)).path, 503)
    with pytest.raises(TransientCommonsError, match="HTTP 503") as caught:
        client.download_image(thumb(replica))
    assert caught.value.transient and client.request_count == 2


def test_a_server_that_never_answers_times_out_as_transient(settings, fake_time):
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["127.0.0.1"]
    settings.IMAGE_RANKING_REQUEST_TIMEOUT = 0.2
    settings.IMAGE_RANKING_MAX_RETRIES = 0
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/x.jpg"
        with pytest.raises(TransientCommonsError, match="Network error") as caught:
            make_client(fake_time).download_image(url)
    assert caught.value.transient


def test_refused_and_oversized_downloads_are_permanent(client, replica):
    with pytest.raises(DisallowedHostError) as refused:
        client.download_image("http://10.0.0.1/x.jpg")
    url = replica.serve_oversized("/huge.jpg", 500_000)
    with pytest.raises(DownloadTooLargeError) as too_large:
        client.download_image(url, max_bytes=100_000)
    assert not refused.value.transient and not too_large.value.transient


def test_too_many_redirects_is_an_error(client, replica):
    replica.redirect("/loop.jpg", "/loop.jpg")
    with pytest.raises(CommonsError, match="redirects"):
        client.download_image(replica.base_url + "/loop.jpg")
    assert client.request_count == http.MAX_REDIRECTS + 1


# ------------------------------------------------------------------ TLS, pinned


def _certificate(name: str, issuer_name, issuer_key, key, *, ca: bool):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
        )
    return builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture
def tls_server(tmp_path, request):
    """An HTTPS server on 127.0.0.1 whose certificate names ``request.param``, issued by
    a throwaway CA (``ca_file``); it records the SNI name each handshake asked for."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = _certificate("Test CA", None, None, ca_key, ca=True)
    leaf = _certificate(request.param, ca.subject, ca_key, leaf_key, ca=False)
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (tmp_path / "leaf.key").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    sni: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    context.sni_callback = lambda sock, name, ctx: sni.append(name)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            if self.path == "/downgrade.jpg":  # to plain http on the same host
                self.send_response(302)
                self.send_header("Location", f"http://images.test:{self.server.server_port}/x")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b"\xff\xd8 pinned over TLS"
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield server.server_address[1], str(tmp_path / "ca.pem"), sni
    server.shutdown()
    server.server_close()


def tls_client(fake_time, ca_file, settings, monkeypatch):
    """A client trusting only the test CA, through REQUESTS_CA_BUNDLE as an operator
    would set it (requests lets that variable win over ``session.verify``)."""
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["images.test", "127.0.0.1"]
    settings.IMAGE_RANKING_RATE_LIMIT_PER_HOUR = 3_600_000.0
    settings.IMAGE_RANKING_MAX_RETRIES = 0
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_file)
    return make_client(fake_time, resolve=Resolver(images_test=[["127.0.0.1"]]))


@pytest.mark.parametrize("tls_server", ["images.test"], indirect=True)
def test_tls_to_the_pinned_address_verifies_the_name(tls_server, fake_time, settings, monkeypatch):
    port, ca_file, sni = tls_server
    client = tls_client(fake_time, ca_file, settings, monkeypatch)
    assert client.download_image(f"https://images.test:{port}/x.jpg") == b"\xff\xd8 pinned over TLS"
    assert sni == ["images.test"]  # SNI names the host, not 127.0.0.1


@pytest.mark.parametrize("tls_server", ["elsewhere.test"], indirect=True)
def test_tls_with_a_certificate_for_another_name_is_refused(
    tls_server, fake_time, settings, monkeypatch
):
    port, ca_file, sni = tls_server
    client = tls_client(fake_time, ca_file, settings, monkeypatch)
    with pytest.raises(CommonsError, match="hostname 'images.test' doesn't match"):
        client.download_image(f"https://images.test:{port}/x.jpg")
    assert client.request_count == 1


@pytest.mark.parametrize("tls_server", ["images.test"], indirect=True)
def test_a_redirect_from_https_to_http_is_refused(tls_server, fake_time, settings, monkeypatch):
    port, ca_file, sni = tls_server
    client = tls_client(fake_time, ca_file, settings, monkeypatch)
    with pytest.raises(DisallowedHostError, match="plain http"):
        client.download_image(f"https://images.test:{port}/downgrade.jpg")
    assert client.request_count == 1


def test_network_errors_are_worded_briefly(client, replica, fake_time, settings):
    settings.IMAGE_RANKING_MAX_RETRIES = 0
    replica.close()  # nothing listens on that port any more
    with pytest.raises(TransientCommonsError) as caught:
        client.search("Tour Eiffel")
    message = str(caught.value)
    assert message.endswith(": connection refused")
    assert "HTTPConnectionPool" not in message and "gsrsearch" not in message
