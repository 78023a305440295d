"""Check, with three cheap requests, that Wikimedia answers as the app expects.

One search (the app's own request: imageinfo, visible categories, a thumbnail width), one
imageinfo by title, one HEAD of a thumbnail. Prints whether the user agent is accepted,
which hosts the thumbnails are on and whether ``IMAGE_RANKING_DOWNLOAD_HOSTS`` admits
them, which fields the answers carry, and the rate-limit headers. When Wikimedia changes
something again (as when thumbnails moved to thumb.wikimedia.org in 2025), this is how an
operator finds out in a minute instead of after a night's run.

Exit codes: 0 all fine, 1 a problem to fix (printed), 75 Wikimedia cannot be reached.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from image_ranking.commons import client as wikimedia
from image_ranking.commons.http import allowed_hosts
from image_ranking.conf import conf
from image_ranking.exceptions import (
    CommonsError,
    CommonsUnreachableError,
    DisallowedHostError,
    TransientCommonsError,
)

UNREACHABLE = 75
# What the client reads from an answer (imageinfo and extmetadata).
EXPECTED_FIELDS = ("url", "thumburl", "thumbwidth", "width", "height", "mime", "sha1")
EXPECTED_META = ("LicenseShortName", "Artist", "Categories")
RATE_HEADERS = ("retry-after", "x-ratelimit", "ratelimit")


class Command(BaseCommand):
    help = (
        "Make three cheap requests to Wikimedia (a search, an imageinfo, a thumbnail HEAD) "
        "and report what the app depends on. Exit 0: fine; 1: a problem to fix; 75: "
        "Wikimedia cannot be reached."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--query", default="Eiffel Tower", help="What to search for (default: %(default)s)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        client = wikimedia.CommonsClient(thumb_width=conf.RANKING_THUMBNAIL_WIDTH)
        problems: list[str] = []
        try:
            search = self._search(client, options["query"], problems)
            if search:
                self._imageinfo(client, search[0]["title"], problems)
                self._thumbnail(client, search, problems)
        except CommonsUnreachableError as exc:
            raise CommandError(
                f"Wikimedia cannot be reached: {exc}. No network, or no DNS?",
                returncode=UNREACHABLE,
            ) from None
        except TransientCommonsError as exc:
            raise CommandError(
                f"Wikimedia did not answer usefully: {exc}", returncode=UNREACHABLE
            ) from None
        self.stdout.write(f"Requests made: {client.request_count}")
        if problems:
            raise CommandError(
                f"{len(problems)} problem(s) to fix:\n" + "\n".join(f"- {p}" for p in problems),
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS("Wikimedia answers as the app expects."))

    # -- the three requests ------------------------------------------------------------

    def _search(self, client: Any, query: str, problems: list[str]) -> list[dict[str, Any]]:
        params = {
            "action": "query",
            "generator": "search",
            "gsrnamespace": "6",
            "gsrsearch": query,
            "gsrlimit": "3",
            **client._imageinfo_params(),
            "format": "json",
            "formatversion": "2",
        }
        response = client.http.with_retries(
            lambda: client.http.get(client.api_url, params, cap=conf.MAX_DOWNLOAD_BYTES)
        )
        agent = conf.USER_AGENT
        if response.status == 403:
            problems.append(
                f"The user agent was refused (HTTP 403): set IMAGE_RANKING_USER_AGENT to name "
                f"your project and a contact (now {agent!r})."
            )
            self.stdout.write(f"User agent: {agent!r}: refused (HTTP 403)")
            return []
        note = " (the default: set IMAGE_RANKING_USER_AGENT)" if conf.user_agent_is_default else ""
        self.stdout.write(f"User agent: {agent!r}: accepted (HTTP {response.status}){note}")
        self._rate_headers(response.headers)
        try:
            payload = json.loads(response.body)
            pages = wikimedia.query_pages(payload)
        except (ValueError, CommonsError) as exc:
            problems.append(f"The search answer could not be read: {exc}")
            return []
        if not pages:
            problems.append(f"The search for {query!r} found no file (try --query).")
            return []
        self.stdout.write(f"Search {query!r}: {len(pages)} file(s)")
        self._fields(pages, problems)
        return pages

    def _imageinfo(self, client: Any, title: str, problems: list[str]) -> None:
        found = client.image_info([title])
        if title in found:
            self.stdout.write(f"Imageinfo by title: {title} read")
        else:
            problems.append(f"Imageinfo for {title} came back without the file.")

    def _thumbnail(self, client: Any, pages: list[dict[str, Any]], problems: list[str]) -> None:
        urls = [
            str(info.get("thumburl"))
            for page in pages
            for info in (page.get("imageinfo") or [])[:1]
            if info.get("thumburl")
        ]
        hosts = sorted({urlsplit(u).hostname or "" for u in urls})
        allowed = allowed_hosts()
        for host in hosts:
            verdict = "allowed" if host in allowed else "NOT in IMAGE_RANKING_DOWNLOAD_HOSTS"
            self.stdout.write(f"Thumbnail host: {host} ({verdict})")
            if host not in allowed:
                problems.append(
                    f"Thumbnails are on {host}, which IMAGE_RANKING_DOWNLOAD_HOSTS does not "
                    f"list ({', '.join(sorted(allowed)) or 'empty'}): add it, or every "
                    "ranking run stops at its first download."
                )
        if not urls:
            problems.append("The search answer carried no thumbnail URL (thumburl).")
            return
        try:
            head = client.http.head(urls[0])
        except DisallowedHostError:
            return  # reported above
        except CommonsUnreachableError:
            raise
        except CommonsError as exc:
            problems.append(f"HEAD of a thumbnail failed: {exc}")
            return
        kind = head.headers.get("content-type", "?")
        size = head.headers.get("content-length", "?")
        self.stdout.write(f"Thumbnail HEAD: HTTP {head.status}, {kind}, {size} bytes")
        if head.status != 200 or not kind.startswith("image/"):
            problems.append(f"A thumbnail answered HTTP {head.status} ({kind}).")

    # -- what the answers carry --------------------------------------------------------

    def _fields(self, pages: list[dict[str, Any]], problems: list[str]) -> None:
        infos = [(page, (page.get("imageinfo") or [{}])[0]) for page in pages]
        present = [f for f in EXPECTED_FIELDS if any(f in info for _, info in infos)]
        missing = [f for f in EXPECTED_FIELDS if f not in present]
        meta = {k for _, info in infos for k in (info.get("extmetadata") or {})}
        categories = any("categories" in page for page, _ in infos)
        self.stdout.write(
            f"Fields: {', '.join(present) or 'none'}; extmetadata: "
            f"{', '.join(sorted(meta)) or 'none'}; visible categories: "
            f"{'yes' if categories else 'no'}"
        )
        if missing:
            problems.append(f"The answers lack {', '.join(missing)}.")
        if not set(EXPECTED_META) & meta:
            problems.append("The answers carry no extmetadata (licence, author, categories).")
        widths = {info.get("thumbwidth") for _, info in infos if "thumbwidth" in info}
        if widths and widths != {conf.RANKING_THUMBNAIL_WIDTH}:
            self.stdout.write(
                f"  thumbwidth {sorted(widths)} (the app reads the real size from the bytes)"
            )

    def _rate_headers(self, headers: dict[str, str]) -> None:
        found = {k: v for k, v in headers.items() if k.lower().startswith(RATE_HEADERS)}
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(found.items())) or "none"
        self.stdout.write(f"Rate-limit headers: {shown}")
