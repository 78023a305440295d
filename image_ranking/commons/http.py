"""HTTP transport for Wikimedia: counted, rate-limited, retried GETs and safe downloads.

Every request takes a token from the shared ``RateLimiter`` first (or, for a web request
that must answer at once, raises ``BudgetExhaustedError`` instead of waiting), carries
the session's User-Agent and is counted. Transient failures (network errors, timeouts,
5xx, 429, truncated bodies) are retried a bounded number of times with tenacity's waits:
exponential, or longer when the server sent ``Retry-After``; never longer than
``IMAGE_RANKING_MAX_BACKOFF``. ``Retry-After`` is parsed strictly (delay-seconds or an
HTTP date; ``inf``, ``1e300``, negative or garbage values are ignored).

Downloads go only to ``IMAGE_RANKING_DOWNLOAD_HOSTS``. ``check_download_url`` reads a
URL exactly as requests will send it (the prepared URL, parsed by both parsers requests
and urllib3 use), refuses userinfo, backslashes, control characters and any URL the two
read differently, resolves the host once, refuses internal addresses that are not
themselves listed, and returns the checked address; ``PinnedAdapter`` then connects to
that very address (Host header, TLS SNI and certificate check keep the name), so DNS
rebinding between check and connect cannot redirect the request. Every redirect hop is
checked the same way. Bodies are streamed under a byte cap.

Download failures say whether they are worth trying again later (``exc.transient``):
404/410, an HTML page or an empty body instead of an image (``DownloadUnavailableError``)
and truncated bodies (``TruncatedDownloadError``) are transient; refused hosts and files
over the cap are permanent.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)
from tenacity.wait import wait_base
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from image_ranking.commons.ratelimit import RateLimiter, max_backoff
from image_ranking.conf import conf
from image_ranking.exceptions import (
    BudgetExhaustedError,
    CommonsError,
    CommonsUnreachableError,
    DisallowedHostError,
    DownloadTooLargeError,
    DownloadUnavailableError,
    HostNotAllowedError,
    TransientCommonsError,
    TruncatedDownloadError,
)

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
# Exponential backoff between retries: 1, 2, 4, ... seconds, at most this.
MAX_EXPONENTIAL_WAIT = 30.0
# Characters no URL we download may contain: urllib.parse and urllib3 disagree on
# backslashes (``http://a\@b/`` is host b to one, host a to the other), and whitespace
# or control characters are stripped or refused differently by each layer.
_AMBIGUOUS = re.compile(r"[\\\x00-\x20\x7f]")
_DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_HTML_START = (b"<!doctype html", b"<html", b"<head", b"<body")

Resolver = Callable[[str, int], list[str]]


# ------------------------------------------------------------------ Retry-After


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` (RFC 9110: delay-seconds or an HTTP date) as seconds to wait.

    Capped at ``IMAGE_RANKING_MAX_BACKOFF``; a date in the past is 0. None when absent or
    not strictly one of those forms (``inf``, ``1e300``, ``-5``, garbage): the caller
    falls back to its own backoff.
    """
    if not value:
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    if _DELAY_SECONDS.fullmatch(text):
        seconds = float(text)
    else:
        seconds = _seconds_until(text, time.time() if now is None else now)
        if seconds is None:
            return None
    cap = max_backoff()
    if seconds > cap:
        logger.warning("Retry-After %r is over IMAGE_RANKING_MAX_BACKOFF: waiting %g s", text, cap)
    return min(max(0.0, seconds), cap)


def _seconds_until(http_date: str, now: float) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 5322's "UTC, origin unknown"
        when = when.replace(tzinfo=UTC)
    seconds = when.timestamp() - now
    return seconds if math.isfinite(seconds) else None


# ------------------------------------------------------------------ download allow-list


@dataclass(frozen=True)
class CheckedUrl:
    """A download URL that passed the check, and the address it must be fetched from."""

    url: str  # exactly as requests sends it (prepared)
    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: int
    address: str  # the checked IP address: the only one connected to

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to now (TCP), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def allowed_hosts() -> set[str]:
    """IMAGE_RANKING_DOWNLOAD_HOSTS, normalised (lower case, IPv6 without brackets)."""
    return {h.strip().lower().strip("[]") for h in conf.DOWNLOAD_HOSTS}


def check_download_url(url: str, *, resolve: Resolver | None = None) -> CheckedUrl:
    """The URL, checked: http(s), no userinfo or ambiguous characters, read alike by every
    parser requests uses, on an allowed host, resolving only to allowed addresses.

    Raises ``DisallowedHostError`` (permanent) or, when the name cannot be resolved now,
    ``TransientCommonsError``.
    """
    scheme, host, port, prepared = _parse_unambiguously(url)
    allowed = allowed_hosts()
    if host not in allowed:
        raise HostNotAllowedError(
            f"Refusing to download from {host}: it is not in IMAGE_RANKING_DOWNLOAD_HOSTS "
            f"({', '.join(sorted(allowed)) or 'empty'}). Add {host} to the setting if it "
            "is a Wikimedia host, then run again: no candidate was given up.",
            host=host,
        )
    addresses = _resolve(host, port, resolve or system_resolve)
    for address in addresses:
        if _is_internal(address) and str(address) not in allowed:
            raise DisallowedHostError(
                f"Refusing to download from {host}: it resolves to the internal address "
                f"{address}, which is not itself in IMAGE_RANKING_DOWNLOAD_HOSTS."
            )
    return CheckedUrl(prepared, scheme, host, port, str(addresses[0]))


def _parse_unambiguously(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, prepared URL)``, or DisallowedHostError."""

    if not isinstance(url, str):
        raise DisallowedHostError(f"Refusing to download {url!r}: not a URL.")

    def refuse(why: str) -> DisallowedHostError:
        return DisallowedHostError(f"Refusing to download {_short_url(url)!r}: {why}.")

    if _AMBIGUOUS.search(url):
        raise refuse("it contains a backslash, whitespace or a control character")
    try:
        prepared = requests.Request("GET", url).prepare().url or ""
        ours, theirs = urlsplit(prepared), parse_url(prepared)
        port = ours.port
    except (requests.RequestException, LocationParseError, ValueError):
        raise refuse("not a valid URL") from None
    scheme = ours.scheme.lower()
    if scheme not in ("http", "https") or not ours.hostname:
        raise refuse("not an http(s) URL")
    if "@" in ours.netloc or theirs.auth:
        raise refuse("it carries a user name or password")
    host = ours.hostname.lower()
    # requests picks the connection's host with urllib.parse, urllib3 with its own
    # parser: both must see the same host and port.
    if (theirs.host or "").lower().strip("[]") != host or theirs.port != port:
        raise refuse("its host is read differently by the HTTP client's parsers")
    return scheme, host, port or (443 if scheme == "https" else 80), prepared


def _resolve(
    host: str, port: int, resolve: Resolver
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = resolve(host, port)
    except OSError as exc:  # socket.gaierror: no DNS, no network
        raise CommonsUnreachableError(f"Cannot resolve {host}: {exc} ({NO_DNS})") from None
    try:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in found]
    except ValueError as exc:
        raise TransientCommonsError(f"Cannot resolve {host}: {exc}") from None
    if not addresses:
        raise TransientCommonsError(f"Cannot resolve {host}: no address")
    return addresses


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        # IPv6 forms that reach an IPv4 host (::ffff:10.0.0.1, 2002:a00:1::, a NAT64
        # gateway's 64:ff9b::a00:1) are judged by that host.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and _is_internal(embedded):
            return True
    return not address.is_global or address.is_multicast


# ------------------------------------------------------------------ pinned connections


PIN_ATTRIBUTE = "image_ranking_checked_url"


class PinnedAdapter(HTTPAdapter):
    """Sends a request carrying a ``CheckedUrl`` (attribute ``PIN_ATTRIBUTE``) to that
    checked address, never to what the name resolves to by then, without any proxy.
    The Host header, TLS SNI and certificate check keep the host name. Requests without
    one (API calls to the configured endpoints) go out as usual."""

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: Any,
        proxies: Any = None,
        cert: Any = None,
    ) -> Any:
        checked: CheckedUrl | None = getattr(request, PIN_ATTRIBUTE, None)
        if checked is None:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        host_params.update(scheme=checked.scheme, host=checked.address, port=checked.port)
        if checked.scheme == "https":
            pool_kwargs.update(server_hostname=checked.host, assert_hostname=checked.host)
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        checked: CheckedUrl | None = getattr(request, PIN_ATTRIBUTE, None)
        if checked is not None:
            if request.url != checked.url:
                raise DisallowedHostError(f"{_short_url(request.url or '')} was not checked.")
            request.headers["Host"] = checked.host_header
            kwargs["proxies"] = {}  # a proxy would resolve the name itself
        return super().send(request, *args, **kwargs)


# ------------------------------------------------------------------ retries


class wait_retry_after(wait_base):
    """The fallback wait, or the server's ``Retry-After`` when longer; at most
    ``IMAGE_RANKING_MAX_BACKOFF``."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        hint = getattr(exc, "retry_after", None) or 0.0
        return min(max_backoff(), max(self.fallback(retry_state), hint))


BACKOFF = wait_retry_after(wait_exponential(multiplier=1, exp_base=2, max=MAX_EXPONENTIAL_WAIT))


def _retry_now(exc: BaseException) -> bool:
    # An exhausted budget in non-blocking mode must reach the caller at once; a name that
    # does not resolve will not resolve in a few seconds either.
    return isinstance(exc, TransientCommonsError) and not isinstance(
        exc, (BudgetExhaustedError, CommonsUnreachableError)
    )


def log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    logger.warning(
        "Wikimedia request failed (%s); retry %d in %.0f s",
        exc,
        state.attempt_number,
        state.next_action.sleep if state.next_action else 0,
    )


# ------------------------------------------------------------------ transport


@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Transport:
    """Counted, rate-limited GETs with retries, and checked, pinned downloads.

    ``wait_for_budget=False`` (web requests): never sleep, neither for the shared budget
    (``BudgetExhaustedError``) nor between retries (a transient failure is raised at
    once). ``resolve`` (host, port) -> addresses is injectable for tests.
    """

    def __init__(
        self,
        *,
        session: requests.Session | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        wait_for_budget: bool = True,
        resolve: Resolver | None = None,
    ) -> None:
        self.session = session or requests.Session()
        self.session.mount("http://", PinnedAdapter())
        self.session.mount("https://", PinnedAdapter())
        self.limiter = limiter or RateLimiter()
        self.sleep = sleep
        self.wait_for_budget = wait_for_budget
        self.resolve = resolve or system_resolve
        self.request_count = 0

    def get(
        self,
        url: str,
        params: dict[str, str] | None,
        *,
        cap: int,
        checked: CheckedUrl | None = None,
    ) -> _Response:
        """One counted, rate-limited GET; transient failures raise TransientCommonsError.

        With ``checked``, the request goes to ``checked.address`` (see ``PinnedAdapter``).
        """
        self.limiter.acquire(block=self.wait_for_budget)
        self.request_count += 1
        try:
            with self._open(url, params, checked) as response:
                headers = {k.lower(): v for k, v in response.headers.items()}
                status = response.status_code
                if status in TRANSIENT_STATUS:
                    wait = retry_after_seconds(headers.get("retry-after"))
                    if wait:
                        self.limiter.defer(wait)
                    raise TransientCommonsError(f"HTTP {status} from {_short_url(url)}", wait)
                if status != 200:
                    return _Response(status, headers, b"")
                return _Response(status, headers, _read_capped(response, headers, url, cap))
        except (requests.ConnectionError, requests.Timeout) as exc:
            reason = network_reason(exc)
            error = CommonsUnreachableError if reason in UNREACHABLE else TransientCommonsError
            raise error(f"Network error for {_short_url(url)}: {reason}") from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            raise TruncatedDownloadError(
                f"{_short_url(url)}: the connection ended before the whole body arrived"
            ) from None
        except requests.RequestException as exc:
            raise CommonsError(f"Request to {_short_url(url)} failed: {exc}") from None

    def head(self, url: str) -> _Response:
        """One counted, rate-limited HEAD of a download URL (allowed hosts only, sent to
        the checked address, no redirect followed): what ``check_commons`` asks."""
        checked = check_download_url(url, resolve=self.resolve)
        self.limiter.acquire(block=self.wait_for_budget)
        self.request_count += 1
        try:
            with self._open(checked.url, None, checked, method="HEAD") as response:
                headers = {k.lower(): v for k, v in response.headers.items()}
                return _Response(response.status_code, headers, b"")
        except (requests.ConnectionError, requests.Timeout) as exc:
            reason = network_reason(exc)
            error = CommonsUnreachableError if reason in UNREACHABLE else TransientCommonsError
            raise error(f"Network error for {_short_url(url)}: {reason}") from None

    def _open(
        self,
        url: str,
        params: dict[str, str] | None,
        checked: CheckedUrl | None,
        method: str = "GET",
    ) -> requests.Response:
        options: dict[str, Any] = {
            "timeout": conf.REQUEST_TIMEOUT,
            "stream": True,
            "allow_redirects": False,
        }
        if checked is None:
            return self.session.get(url, params=params, **options)
        prepared = self.session.prepare_request(requests.Request(method, checked.url))
        setattr(prepared, PIN_ATTRIBUTE, checked)
        # What session.get would add (a CA bundle from REQUESTS_CA_BUNDLE...), but no proxy.
        env = self.session.merge_environment_settings(prepared.url, {}, None, None, None)
        return self.session.send(
            prepared, proxies={}, verify=env["verify"], cert=env["cert"], **options
        )

    def with_retries(self, call: Callable[[], Any]) -> Any:
        """``call()``, retried on transient failures (not at all when not waiting)."""
        attempts = max(0, conf.MAX_RETRIES) + 1 if self.wait_for_budget else 1
        retrying = Retrying(
            retry=retry_if_exception(_retry_now),
            stop=stop_after_attempt(attempts),
            wait=BACKOFF,
            sleep=self.sleep,
            reraise=True,
            before_sleep=log_retry,
        )
        return retrying(call)

    def download(self, url: str, *, max_bytes: int | None = None) -> bytes:
        """The bytes at ``url``: allowed hosts only, every redirect hop checked and pinned,
        capped; an answer that is not a file raises ``DownloadUnavailableError``."""
        cap = int(max_bytes or conf.MAX_DOWNLOAD_BYTES)
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            checked = check_download_url(current, resolve=self.resolve)
            response = self.with_retries(
                lambda c=checked: self.get(c.url, None, cap=cap, checked=c)
            )
            if response.status in REDIRECT_STATUS:
                current = _next_hop(checked, response)
                continue
            if response.status != 200:
                raise _unavailable(current, response.status, f"HTTP {response.status}")
            _check_is_a_file(current, response)
            return response.body
        raise CommonsError(f"{_short_url(url)}: more than {MAX_REDIRECTS} redirects")


def _next_hop(checked: CheckedUrl, response: _Response) -> str:
    """Where a redirect points; checked like any URL when it is fetched."""
    location = response.headers.get("location")
    if not location:
        raise _unavailable(checked.url, response.status, "a redirect without Location")
    # Refused before joining: urljoin could normalise a backslash out of sight.
    if _AMBIGUOUS.search(location):
        raise DisallowedHostError(
            f"Refusing the redirect from {_short_url(checked.url)}: its Location "
            "contains a backslash, whitespace or a control character."
        )
    target = urljoin(checked.url, location)
    if checked.scheme == "https" and not target.lower().startswith("https:"):
        raise DisallowedHostError(
            f"Refusing the redirect from {_short_url(checked.url)} to plain http: "
            "a download that started encrypted stays encrypted."
        )
    return target


def _read_capped(response: requests.Response, headers: dict[str, str], url: str, cap: int) -> bytes:
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > cap:
        raise DownloadTooLargeError(
            f"{_short_url(url)} is {int(length)} bytes, over the limit of {cap} "
            "(IMAGE_RANKING_MAX_DOWNLOAD_BYTES)."
        )
    body = bytearray()
    for chunk in response.iter_content(64 * 1024):
        body.extend(chunk)
        if len(body) > cap:
            raise DownloadTooLargeError(
                f"{_short_url(url)} is over the limit of {cap} bytes "
                "(IMAGE_RANKING_MAX_DOWNLOAD_BYTES); download aborted."
            )
    # urllib3 enforces Content-Length, but not under every transfer encoding.
    if length.isdigit() and len(body) < int(length) and not headers.get("content-encoding"):
        raise TruncatedDownloadError(
            f"{_short_url(url)}: {len(body)} of {int(length)} bytes arrived"
        )
    return bytes(body)


def _check_is_a_file(url: str, response: _Response) -> None:
    """An error page served with status 200 (HTML, empty) is not the image."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not response.body:
        raise _unavailable(url, response.status, "an empty body")
    head = response.body[:64].lstrip().lower()
    if content_type in ("text/html", "application/xhtml+xml") or head.startswith(_HTML_START):
        raise _unavailable(url, response.status, "an HTML page instead of an image")
    if content_type.startswith("text/"):  # an error message served as a page
        raise _unavailable(url, response.status, f"a {content_type} page instead of an image")


def _unavailable(url: str, status: int, reason: str) -> DownloadUnavailableError:
    return DownloadUnavailableError(
        f"{reason} for {_short_url(url)} (transient: tried again on a later run)",
        status=status,
        reason=reason,
    )


NO_DNS = "cannot resolve the host name (no network or DNS?)"
NO_NETWORK = "network unreachable"
# Reasons that mean Wikimedia cannot be reached at all (CommonsUnreachableError).
UNREACHABLE = (NO_DNS, NO_NETWORK)


def network_reason(exc: BaseException) -> str:
    """A short reason for a failed connection ("cannot resolve the host name", "timed out"),
    not urllib3's nested repr with the full query string; the whole error goes to the log."""
    logger.debug("Network error detail: %r", exc)
    text = str(exc)
    mismatch = re.search(r"hostname '[^']*' doesn't match '[^']*'", text)
    if mismatch:
        return f"TLS certificate refused: {mismatch.group(0)}"
    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(exc, requests.exceptions.SSLError):
        return "TLS certificate verification failed"
    for needle, reason in (
        ("NameResolutionError", NO_DNS),
        ("Failed to resolve", NO_DNS),
        ("Name or service not known", NO_DNS),
        ("Temporary failure in name resolution", NO_DNS),
        ("Connection refused", "connection refused"),
        ("Network is unreachable", NO_NETWORK),
        ("timed out", "timed out"),
        ("Connection reset", "connection reset by the server"),
        ("RemoteDisconnected", "the server closed the connection"),
    ):
        if needle in text:
            return reason
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return type(exc).__name__


def _short_url(url: str) -> str:
    """The URL for messages: no query, and no userinfo (it may hold a password)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
