"""A loopback Wikimedia replica for tests: Commons' action API, Wikidata, image bytes.

A real threaded HTTP server on 127.0.0.1 (nothing else is ever contacted) that speaks:

- ``/w/api.php?action=query&generator=search&gsrsearch=...&prop=imageinfo...`` with
  CirrusSearch semantics (``tests/replica_search.py``: words over title, description and
  categories; ``incategory:``, ``haswbstatement:P180=``, ``nearcoord:``, ``filetype:``,
  ``-word``), ``generator=categorymembers`` (``gcmtitle``, ``gcmtype=file``),
  ``generator=geosearch`` (``ggscoord``, ``ggsradius`` <= 10000, ``ggsnamespace=6``) and
  ``action=query&titles=A|B``, in ``formatversion`` 1 or 2, with ``thumburl`` at the
  standard width at or above ``iiurlwidth`` (as Commons does) and HTML ``extmetadata``
  (only the fields ``iiextmetadatafilter`` names, when given);
- by default, the shapes Commons really gives (``tests/data/commons_real/``):
  ``extmetadata.Categories`` holds hidden tracking and licence categories too ("Pages
  with maps" and "Media with locations" on every geotagged file, the licence, "Self-
  published work"), ``prop=categories`` answers with ``clshow=!hidden`` or
  ``clprop=hidden``; thumbnails are on a second host name (``localhost``, as
  ``thumb.wikimedia.org`` beside ``upload.wikimedia.org``) and every URL carries
  ``utm_`` query strings; ``thumbwidth``/``thumbheight`` echo the asked width (also for
  files narrower than it, served unscaled); descriptions may be in several languages;
- ``/wikidata/api.php?action=wbgetentities&ids=Q1|Q2`` with P18, P373 and P625 claims,
  labels and the ``commonswiki`` sitelink (``props`` honoured); unknown ids answer
  ``missing``, ``redirect_item`` makes an id a redirect (the answer's key is the asked id,
  ``id`` the target, with a ``redirects`` object);
- thumbnails and originals under ``/wikipedia/commons/...``: real JPEG/PNG bytes.

Scriptable::

    replica.add_file("File:Tour Eiffel.jpg", size=(4000, 3000), color=(200, 180, 90),
                     categories=["Eiffel Tower", "Paris"], description="<i>The</i> tower",
                     object_name="Tour Eiffel", gps=(48.8583, 2.2945),
                     assessments=["quality"], depicts=["Q243"])
    replica.set_search("Tour Eiffel", ["File:Tour Eiffel.jpg", ...])  # overrides a query
    replica.set_wikidata("Q243", "File:Tour Eiffel.jpg", category="Eiffel Tower",
                         coordinates=(48.8583, 2.2945), label="Eiffel Tower")
    replica.answer_next("/w/api.php", {"query": "oops"})  # odd JSON, once
    replica.fail_next("/w/api.php", status=429, headers={"Retry-After": "3"})  # once
    replica.maxlag_next(2)                       # the next two API calls: maxlag error
    replica.failing_searches.add("Castle")       # that search: HTTP 500 until removed
    replica.redirect("/elsewhere.jpg", "http://10.0.0.1/x.jpg")
    replica.truncate_next("/wikipedia/", keep=100)  # the next download stops short, once
    replica.redirect_item("Q1", "Q2")            # Q1 was merged into Q2
    replica.host_headers                         # the Host header of every request
    replica.requests                             # [(path, {param: value}), ...]
    replica.api_requests, replica.download_requests

Fixtures: ``commons_replica`` (a fresh server per test) and ``commons_settings`` (points
``IMAGE_RANKING_COMMONS_API_URL``/``WIKIDATA_API_URL`` at it, allows downloads from
127.0.0.1 and raises the rate limit so tests never wait; returns the replica).
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
from PIL import Image

from tests import replica_search

STANDARD_WIDTHS = (20, 40, 60, 120, 250, 330, 500, 960, 1280, 1920, 3840)


@dataclass
class ReplicaFile:
    title: str
    width: int
    height: int
    mime: str = "image/jpeg"
    color: tuple[int, int, int] = (128, 128, 128)
    data: bytes | None = None  # the original's bytes (generated when None)
    # Every scaled thumbnail's bytes (generated when None): a test that scores exact
    # pixels (tests/image_ranking/ranking_helpers.add_photo) serves these.
    thumb_data: bytes | None = None
    author_html: str = '<a href="//commons.wikimedia.org/wiki/User:Jane">Jane &amp; Doe</a>'
    license_name: str = "CC BY-SA 4.0"
    license_url: str = "https://creativecommons.org/licenses/by-sa/4.0"
    attribution_required: str = "true"
    thumbs: dict[int, bytes] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)  # without "Category:"
    # Hidden tracking categories (None: what Commons adds by itself, see ``hidden``).
    hidden_categories: list[str] | None = None
    # HTML, as Commons gives ImageDescription; {language: HTML} when in several languages.
    description: str | dict[str, str] = ""
    object_name: str = ""
    gps: tuple[float, float] | None = None
    assessments: list[str] = field(default_factory=list)  # "featured", "quality"...
    depicts: list[str] = field(default_factory=list)  # Wikidata ids (structured data P180)
    used_in: list[str] = field(default_factory=list)  # wiki articles showing it (globalusage)
    date: str = ""  # DateTimeOriginal

    @property
    def name(self) -> str:
        return self.title.removeprefix("File:").replace(" ", "_")

    @property
    def sha1(self) -> str:
        served = self.thumb_data or b""  # other thumbnail bytes: a re-uploaded file
        return hashlib.sha1(self.title.encode() + repr(self.color).encode() + served).hexdigest()

    @property
    def hidden(self) -> list[str]:
        """Hidden categories, as Commons' templates add them: the licence's, "Self-published
        work", and on every geotagged file "Media with locations" and "Pages with maps"."""
        if self.hidden_categories is not None:
            return list(self.hidden_categories)
        hidden = [self.license_name.replace(" ", "-") or "License migration redundant"]
        hidden.append("Self-published work")
        if self.gps is not None:
            hidden += ["Media with locations", "Pages with maps"]
        return hidden

    def description_in(self, language: str = "en") -> str:
        """The description as Commons gives it without ``iiextmetadatamultilang``: the
        asked language, else English, else the first one."""
        if isinstance(self.description, str):
            return self.description
        texts = self.description
        return texts.get(language) or texts.get("en") or next(iter(texts.values()), "")


@dataclass
class ReplicaItem:
    """A Wikidata item as the replica serves it."""

    qid: str
    image: str | None = None  # "File:..." (P18)
    category: str | None = None  # P373, without "Category:"
    coordinates: tuple[float, float] | None = None  # P625
    commonswiki: str | None = None  # sitelink title
    label: str | None = None  # English label
    labels: dict[str, str] = field(default_factory=dict)  # other languages


# The query strings Commons has appended to every imageinfo URL since 2025.
UTM = "utm_source=commons.wikimedia.org&utm_campaign=imageinfo&utm_content="


class CommonsReplica:
    def __init__(self, *, thumb_host: str = "localhost", real_shapes: bool = True) -> None:
        """``thumb_host``: the host name scaled thumbnails are served under (the same
        server); ``real_shapes=False`` answers as our replicas did before issue 21 (one
        host, no query strings, no hidden categories): for benchmarks of the old world."""
        self.real_shapes = real_shapes
        self.files: dict[str, ReplicaFile] = {}
        self.item_redirects: dict[str, str] = {}
        self.searches: dict[str, list[str]] = {}
        self.wikidata: dict[str, ReplicaItem] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.faults: list[tuple[str, int, dict[str, str], bytes]] = []
        self.maxlag_remaining = 0
        # ``gsrsearch`` strings answered HTTP 500 for as long as they are listed.
        self.failing_searches: set[str] = set()
        self.redirects: dict[str, str] = {}
        self.oversized: dict[str, int] = {}  # path -> bytes to stream
        self.truncations: list[tuple[str, int]] = []  # (path prefix, bytes sent), once each
        self.host_headers: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.thumb_base_url = f"http://{thumb_host}:{port}" if real_shapes else self.base_url
        self.thumb_host = urlsplit(self.thumb_base_url).hostname or "127.0.0.1"
        self.api_url = f"{self.base_url}/w/api.php"
        self.wikidata_url = f"{self.base_url}/wikidata/api.php"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- scripting ---------------------------------------------------------------------

    def add_file(
        self,
        title: str,
        *,
        size: tuple[int, int] = (1600, 1200),
        color: tuple[int, int, int] = (128, 128, 128),
        mime: str = "image/jpeg",
        categories=(),
        assessments=(),
        depicts=(),
        **extra,
    ) -> ReplicaFile:
        replica_file = ReplicaFile(
            title,
            size[0],
            size[1],
            mime=mime,
            color=color,
            categories=[c.removeprefix("Category:") for c in categories],
            assessments=list(assessments),
            depicts=[q.upper() for q in depicts],
            **extra,
        )
        self.files[title] = replica_file
        return replica_file

    def set_search(self, query: str, titles: list[str]) -> None:
        """What the exact ``gsrsearch`` string ``query`` returns (overrides CirrusSearch)."""
        self.searches[query] = list(titles)

    def set_wikidata(
        self,
        qid: str,
        title: str | None = None,
        *,
        category: str | None = None,
        coordinates: tuple[float, float] | None = None,
        commonswiki: str | None = None,
        label: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> ReplicaItem:
        item = ReplicaItem(
            qid.upper(),
            image=title,
            category=category.removeprefix("Category:") if category else None,
            coordinates=coordinates,
            commonswiki=commonswiki,
            label=label,
            labels=dict(labels or {}),
        )
        self.wikidata[item.qid] = item
        return item

    def redirect_item(self, old: str, new: str) -> None:
        """``old`` was merged into ``new``: asking for ``old`` answers ``new``'s entity."""
        self.item_redirects[old.upper()] = new.upper()

    def fail_next(self, path: str, status: int, headers=None, body: bytes = b"") -> None:
        """The next request whose path starts with ``path`` gets this response instead."""
        self.faults.append((path, status, dict(headers or {}), body))

    def maxlag_next(self, count: int = 1) -> None:
        self.maxlag_remaining = count

    def redirect(self, path: str, location: str) -> None:
        self.redirects[path] = location

    def truncate_next(self, path: str, keep: int = 100) -> None:
        """The next request under ``path`` announces the whole body but sends only
        ``keep`` bytes of it, then closes the connection (a dropped transfer)."""
        self.truncations.append((path, keep))

    def serve_oversized(self, path: str, size: int) -> str:
        self.oversized[path] = size
        return self.base_url + path

    def answer_next(self, path: str, payload, status: int = 200) -> None:
        """The next request to ``path`` gets this JSON (any shape: a list, a string...)."""
        body = json.dumps(payload).encode()
        self.fail_next(path, status, {"Content-Type": "application/json"}, body)

    def original_url(self, title: str) -> str:
        f = self.files[title]
        h = hashlib.md5(f.name.encode()).hexdigest()  # noqa: S324 (Commons' own layout)
        return f"{self.base_url}/wikipedia/commons/{h[0]}/{h[:2]}/{quote(f.name)}"

    def thumb_url(self, title: str, width: int) -> str:
        """The scaled thumbnail's URL (on the thumbnail host), without query string."""
        f = self.files[title]
        h = hashlib.md5(f.name.encode()).hexdigest()  # noqa: S324
        suffix = ".png" if f.mime in ("image/svg+xml",) else ""
        name = quote(f.name)
        folder = f"{self.thumb_base_url}/wikipedia/commons/thumb/{h[0]}/{h[:2]}/{name}"
        return f"{folder}/{width}px-{name}{suffix}"

    def _tagged(self, url: str, content: str) -> str:
        """``url`` with Commons' utm_ query string (real shapes only)."""
        return f"{url}?{UTM}{content}" if self.real_shapes else url

    # -- what was asked ------------------------------------------------------------------

    @property
    def api_requests(self) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p == "/w/api.php"]

    @property
    def wikidata_requests(self) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p == "/wikidata/api.php"]

    @property
    def download_requests(self) -> list[str]:
        return [p for p, _q in self.requests if not p.endswith("api.php")]

    # -- responses -----------------------------------------------------------------------

    def image_bytes(self, f: ReplicaFile, width: int | None) -> tuple[bytes, str]:
        if width is None and f.data is not None:
            return f.data, f.mime
        if width is not None and f.thumb_data is not None:
            return f.thumb_data, f.mime
        target = width or f.width
        if target not in f.thumbs:
            height = max(1, round(f.height * target / f.width))
            image = Image.new("RGB", (target, height), f.color)
            # A little structure, so scorers see an image rather than a flat colour.
            for x in range(0, target, max(8, target // 12)):
                image.paste(tuple(min(255, c + 40) for c in f.color), (x, 0, x + 3, height))
            out = io.BytesIO()
            if f.mime == "image/png" or f.mime == "image/svg+xml":
                image.save(out, format="PNG")
            else:
                image.save(out, format="JPEG", quality=85)
            f.thumbs[target] = out.getvalue()
        mime = "image/png" if f.mime in ("image/png", "image/svg+xml") else "image/jpeg"
        return f.thumbs[target], mime

    def extmetadata(self, f: ReplicaFile, wanted: str | None) -> dict:
        """extmetadata as Commons shapes it (HTML values), only ``wanted`` ones if given."""
        meta = {
            "Artist": {"value": f.author_html, "source": "commons-desc-page"},
            "LicenseShortName": {"value": f.license_name, "source": "commons-desc-page"},
            "LicenseUrl": {"value": f.license_url, "source": "commons-desc-page"},
            "AttributionRequired": {"value": f.attribution_required, "source": "commons-desc-page"},
        }
        every = sorted({*f.categories, *f.hidden}) if self.real_shapes else f.categories
        if every:
            meta["Categories"] = {"value": "|".join(every), "source": "commons-categories"}
        if f.assessments:
            meta["Assessments"] = {"value": "|".join(f.assessments), "source": "commons-categories"}
        if f.gps is not None:
            meta["GPSLatitude"] = {"value": f"{f.gps[0]:.6f}", "source": "commons-desc-page"}
            meta["GPSLongitude"] = {"value": f"{f.gps[1]:.6f}", "source": "commons-desc-page"}
        if f.description:
            text = f.description_in("en")
            meta["ImageDescription"] = {"value": text, "source": "commons-desc-page"}
        if f.object_name:
            meta["ObjectName"] = {"value": f.object_name, "source": "commons-desc-page"}
        if f.date:
            meta["DateTimeOriginal"] = {"value": f.date, "source": "commons-desc-page"}
        if wanted:
            keep = set(wanted.split("|"))
            meta = {k: v for k, v in meta.items() if k in keep}
        return meta

    def imageinfo(
        self, f: ReplicaFile, iiurlwidth: str | None, wanted_fields: str | None = None
    ) -> dict:
        page = quote(f.title.replace(" ", "_"), safe=":")
        info = {
            "url": self._tagged(self.original_url(f.title), "original"),
            "descriptionurl": f"https://commons.wikimedia.org/wiki/{page}",
            "width": f.width,
            "height": f.height,
            "mime": f.mime,
            "sha1": f.sha1,
            "size": f.width * f.height // 4,
            "extmetadata": self.extmetadata(f, wanted_fields),
        }
        if iiurlwidth:
            wanted = int(iiurlwidth)
            width = next((w for w in STANDARD_WIDTHS if w >= wanted), STANDARD_WIDTHS[-1])
            # Commons echoes the asked width, whatever it serves (a narrower file unscaled).
            echo = wanted if self.real_shapes else None
            if width >= f.width and f.mime in ("image/jpeg", "image/png", "image/gif"):
                unscaled = self._tagged(self.original_url(f.title), "thumbnail_unscaled")
                w = echo or f.width
                h = max(1, round(f.height * w / f.width))
                info.update(thumburl=unscaled, thumbwidth=w, thumbheight=h)
            else:
                w = echo or width
                info.update(
                    thumburl=self._tagged(self.thumb_url(f.title, width), "thumbnail"),
                    thumbwidth=w,
                    thumbheight=max(1, round(f.height * w / f.width)),
                )
        return info

    def categories_of(self, f: ReplicaFile, params: dict[str, str]) -> list[dict]:
        """``prop=categories`` for one file (``clshow``, ``clprop=hidden`` honoured)."""
        show = params.get("clshow", "")
        visible = [(c, False) for c in f.categories]
        hidden = [(c, True) for c in f.hidden] if self.real_shapes else []
        chosen = visible if show == "!hidden" else hidden if show == "hidden" else visible + hidden
        with_flag = "hidden" in params.get("clprop", "").split("|")
        result = []
        for name, is_hidden in sorted(chosen):
            entry: dict = {"ns": 14, "title": f"Category:{name}"}
            if with_flag and is_hidden:
                entry["hidden"] = True
            result.append(entry)
        return result

    @staticmethod
    def globalusage(page: dict, f: ReplicaFile, params: dict[str, str]) -> None:
        """``prop=globalusage``: the articles (``gunamespace=0``) that show the file."""
        if "globalusage" not in params.get("prop", "").split("|"):
            return
        if params.get("gunamespace", "0") != "0":
            return
        page["globalusage"] = [
            {"title": t, "wiki": "en.wikipedia.org", "url": f"https://en.wikipedia.org/wiki/{t}"}
            for t in f.used_in
        ]

    def api(self, params: dict[str, str]) -> tuple[int, dict[str, str], dict]:
        if self.maxlag_remaining > 0 and params.get("maxlag"):
            self.maxlag_remaining -= 1
            error = {"code": "maxlag", "info": "Waiting for 10.64.0.1: 7 seconds lagged."}
            return 200, {"Retry-After": "5"}, {"error": error}
        if params.get("gsrsearch") in self.failing_searches:
            return 500, {}, {"error": {"code": "internal_api_error", "info": "Search failed."}}
        if params.get("action") != "query":
            return 200, {}, {"error": {"code": "badvalue", "info": "Unrecognized action."}}
        version2 = params.get("formatversion") == "2"
        props = set(params.get("prop", "").split("|"))
        pages: list[dict] = []
        generated = self.generate(params)
        if isinstance(generated, dict):  # an API error
            return 200, {}, generated
        if generated is not None:
            # Search results carry their rank; other generators do not (as on Commons).
            ranked = params.get("generator") == "search"
            for index, f in enumerate(generated, start=1):
                page = {"pageid": 1000 + index, "ns": 6, "title": f.title}
                if ranked:
                    page["index"] = index
                page["imagerepository"] = "local"
                self._fill(page, f, params, props)
                self.globalusage(page, f, params)
                pages.append(page)
        elif "titles" in params:
            for n, title in enumerate(params["titles"].split("|")):
                f = self.files.get(title)
                if f is None:
                    pages.append({"ns": 6, "title": title, "missing": True if version2 else ""})
                else:
                    page = {"pageid": 2000 + n, "ns": 6, "title": title}
                    self._fill(page, f, params, props)
                    self.globalusage(page, f, params)
                    pages.append(page)
        if not pages:
            return 200, {}, {"batchcomplete": True}
        if not version2:
            pages = {str(p.get("pageid", -1 - i)): p for i, p in enumerate(pages)}
        return 200, {}, {"batchcomplete": True, "query": {"pages": pages}}

    def _fill(self, page: dict, f: ReplicaFile, params: dict[str, str], props: set[str]) -> None:
        """The asked ``prop`` modules of one page (imageinfo, categories)."""
        if "imageinfo" in props or not props - {""}:
            wanted = params.get("iiextmetadatafilter")
            page["imageinfo"] = [self.imageinfo(f, params.get("iiurlwidth"), wanted)]
        if "categories" in props:
            categories = self.categories_of(f, params)
            if categories:  # Commons leaves the key out for a page without any
                page["categories"] = categories

    def generate(self, params: dict[str, str]) -> list[ReplicaFile] | dict | None:
        """The files a ``generator=`` asks for (None: no generator; a dict: an API error)."""
        generator = params.get("generator")
        files = list(self.files.values())
        if generator == "search":
            limit = int(params.get("gsrlimit", "10"))
            query = params.get("gsrsearch", "")
            if query in self.searches:
                return [self.files[t] for t in self.searches[query][:limit]]
            return replica_search.search(files, query)[:limit]
        if generator == "categorymembers":
            if "file" not in params.get("gcmtype", "page|subcat|file").split("|"):
                return []
            limit = int(params.get("gcmlimit", "10"))
            return replica_search.in_category(files, params.get("gcmtitle", ""))[:limit]
        if generator == "geosearch":
            radius = int(params.get("ggsradius", "500"))
            if not 10 <= radius <= 10_000:
                info = "ggsradius must be between 10 and 10000."
                return {"error": {"code": "badvalue", "info": info}}
            if params.get("ggsnamespace", "0") != "6":
                return []
            lat, lon = (float(v) for v in params.get("ggscoord", "0|0").split("|"))
            limit = int(params.get("ggslimit", "10"))
            return replica_search.near(files, (lat, lon), radius / 1000)[:limit]
        return None

    def wbgetentities(self, params: dict[str, str]) -> dict:
        props = set(
            params.get("props", "info|sitelinks|aliases|labels|descriptions|claims").split("|")
        )
        entities = {}
        for qid in params.get("ids", "").split("|"):
            if not qid:
                continue
            target = self.item_redirects.get(qid.upper(), qid.upper())
            item = self.wikidata.get(target)
            if item is None and self.real_shapes:
                entities[qid] = {"id": qid, "missing": ""}
                continue
            item = item or ReplicaItem(qid.upper())
            entity: dict = {"type": "item", "id": target}
            if target != qid.upper():
                entity["redirects"] = {"from": qid.upper(), "to": target}
            if "claims" in props:
                entity["claims"] = self._claims(item)
            if "sitelinks" in props:
                sitelinks = {}
                if item.commonswiki:
                    sitelinks["commonswiki"] = {"site": "commonswiki", "title": item.commonswiki}
                entity["sitelinks"] = sitelinks
            if "labels" in props:
                texts = {**item.labels, **({"en": item.label} if item.label else {})}
                wanted = params.get("languages")
                if wanted:
                    texts = {k: v for k, v in texts.items() if k in wanted.split("|")}
                entity["labels"] = {k: {"language": k, "value": v} for k, v in texts.items()}
            entities[qid] = entity
        return {"entities": entities, "success": 1}

    @staticmethod
    def _claims(item: ReplicaItem) -> dict:
        def claim(prop: str, datatype: str, value) -> list[dict]:
            snak = {
                "snaktype": "value",
                "property": prop,
                "datavalue": {"value": value, "type": datatype},
            }
            return [{"mainsnak": snak, "type": "statement", "rank": "normal"}]

        claims = {}
        if item.image:
            claims["P18"] = claim("P18", "string", item.image.removeprefix("File:"))
        if item.category:
            claims["P373"] = claim("P373", "string", item.category)
        if item.coordinates:
            lat, lon = item.coordinates
            value = {
                "latitude": lat,
                "longitude": lon,
                "altitude": None,
                "precision": 0.0001,
                "globe": "http://www.wikidata.org/entity/Q2",
            }
            claims["P625"] = claim("P625", "globecoordinate", value)
        return claims

    def file_for_path(self, path: str) -> tuple[ReplicaFile, int | None] | None:
        parts = unquote(path).split("/")
        if "thumb" in parts:
            name, thumb = parts[-2], parts[-1]
            width = int(thumb.split("px-", 1)[0])
        else:
            name, width = parts[-1], None
        title = "File:" + name.replace("_", " ")
        f = self.files.get(title)
        return (f, width) if f is not None else None

    def _handler(self):
        replica = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body in one write: otherwise delayed ACKs add 40 ms per request.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _send_truncated(self, keep: int) -> None:
                found = replica.file_for_path(urlsplit(self.path).path)
                data = replica.image_bytes(*found)[0] if found else b"x" * 4096
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:keep])
                self.wfile.flush()
                self.close_connection = True

            def do_HEAD(self):  # noqa: N802 (http.server's name)
                """A file's headers, without its body (as Commons answers a HEAD)."""
                parts = urlsplit(self.path)
                with replica._lock:
                    replica.requests.append((parts.path, {"method": "HEAD"}))
                found = replica.file_for_path(parts.path)
                if found is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data, mime = replica.image_bytes(*found)
                self.send_response(200)
                self.send_header("Content-Type", mime)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()

            def do_GET(self):  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                with replica._lock:
                    replica.requests.append((parts.path, params))
                    fault = next((f for f in replica.faults if parts.path.startswith(f[0])), None)
                    if fault is not None:
                        replica.faults.remove(fault)
                    replica.host_headers.append(self.headers.get("Host", ""))
                    cuts = replica.truncations
                    cut = next((t for t in cuts if parts.path.startswith(t[0])), None)
                    if cut is not None:
                        replica.truncations.remove(cut)
                if fault is not None:
                    return self._send(fault[1], fault[2], fault[3])
                if cut is not None:
                    return self._send_truncated(cut[1])
                if parts.path in replica.redirects:
                    return self._send(302, {"Location": replica.redirects[parts.path]}, b"")
                if parts.path in replica.oversized:
                    size = replica.oversized[parts.path]
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.end_headers()  # no Content-Length: only the byte cap can stop it
                    self.close_connection = True
                    try:
                        chunk = b"\xff" * 65536
                        for _ in range(size // len(chunk) + 1):
                            self.wfile.write(chunk)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return None
                if parts.path == "/w/api.php":
                    status, headers, payload = replica.api(params)
                    body = json.dumps(payload).encode()
                    return self._send(status, {"Content-Type": "application/json", **headers}, body)
                if parts.path == "/wikidata/api.php":
                    body = json.dumps(replica.wbgetentities(params)).encode()
                    return self._send(200, {"Content-Type": "application/json"}, body)
                found = replica.file_for_path(parts.path)
                if found is None:
                    return self._send(404, {"Content-Type": "text/plain"}, b"Not found")
                data, mime = replica.image_bytes(*found)
                return self._send(200, {"Content-Type": mime}, data)

        return Handler


@pytest.fixture
def commons_replica():
    replica = CommonsReplica()
    yield replica
    replica.close()


@pytest.fixture
def commons_settings(settings, commons_replica):
    settings.IMAGE_RANKING_COMMONS_API_URL = commons_replica.api_url
    settings.IMAGE_RANKING_WIKIDATA_API_URL = commons_replica.wikidata_url
    # The API host and the thumbnail host, as the default list has both Wikimedia hosts.
    settings.IMAGE_RANKING_DOWNLOAD_HOSTS = ["127.0.0.1", commons_replica.thumb_host]
    settings.IMAGE_RANKING_RATE_LIMIT_PER_HOUR = 3_600_000.0
    settings.IMAGE_RANKING_RATE_LIMIT_BURST = 1000
    return commons_replica
