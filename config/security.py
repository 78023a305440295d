"""Production security settings: the secret key rule and the Content-Security-Policy.

Kept out of ``settings.py`` so the rules can be tested without re-importing settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

# Only for a local checkout with DEBUG on; refused when DEBUG is false.
DEVELOPMENT_SECRET_KEY = "django-insecure-local-development-only-change-me"  # noqa: S105

# htmx 2 injects one <style> for its request indicators when it loads; this is the hash
# of that exact text, so style-src needs no 'unsafe-inline'. A new htmx version that
# changes the text shows as a CSP violation in tests/config/test_csp_browser.py.
HTMX_INDICATOR_STYLE_HASH = "'sha256-faU7yAF8NxuMTNEwVmBz+VcYeIoBQ2EMHW3WaVxCvnk='"


def secret_key(value: str, debug: bool) -> str:
    """The SECRET_KEY to use: ``value``, or the development key while DEBUG is on."""
    if value and not (not debug and value == DEVELOPMENT_SECRET_KEY):
        return value
    if debug:
        return DEVELOPMENT_SECRET_KEY
    raise ImproperlyConfigured(
        "SECRET_KEY must be set in the environment when DEBUG is false (the development "
        "key is refused). Generate one with: python -c 'from django.core.management.utils "
        "import get_random_secret_key; print(get_random_secret_key())'"
    )


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def content_security_policy(
    image_hosts: Iterable[str],
    media_url: str = "",
    static_url: str = "",
    extra_img: Iterable[str] = (),
) -> dict[str, dict[str, list[str]]]:
    """django-csp's ``CONTENT_SECURITY_POLICY``: same-origin scripts and styles only.

    Images may also come from the download hosts (the review page shows Commons
    thumbnails straight from there) and from MEDIA_URL/STATIC_URL when they are absolute
    (a CDN). No inline script or eval is allowed: htmx and the review page's script are
    static files.
    """
    img = [SELF, "data:"]
    img += [f"https://{host}" for host in image_hosts if host]
    img += [o for o in (_origin(media_url), _origin(static_url)) if o]
    img += list(extra_img)
    assets = [SELF] + [o for o in (_origin(static_url),) if o]
    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": assets,
            "style-src": assets + [HTMX_INDICATOR_STYLE_HASH],
            "img-src": list(dict.fromkeys(img)),
            "connect-src": [SELF],
            "font-src": assets,
            "object-src": [NONE],
            "base-uri": [SELF],
            "form-action": [SELF],
            "frame-ancestors": [NONE],
        }
    }
