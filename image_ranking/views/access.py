"""Who may use the review page, and where a logged-out curator is sent.

An htmx request from a page whose session expired must not get the login page swapped
into an image tile: the browser is sent to log in (HX-Redirect) and brought back to the
page it was on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect


def _page_path(request: HttpRequest) -> str:
    """The page the curator is on: htmx sends it in HX-Current-URL (same host only)."""
    current = getattr(request, "htmx", None) and request.htmx.current_url
    if current and url_has_allowed_host_and_scheme(current, allowed_hosts={request.get_host()}):
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.get_full_path()


def login_redirect(request: HttpRequest) -> HttpResponse:
    login_url = resolve_url(settings.LOGIN_URL)
    if getattr(request, "htmx", None):
        # A full-page redirect (a 302 would be followed by XHR and swapped in).
        target = redirect_to_login(_page_path(request), login_url)["Location"]
        return HttpResponseClientRedirect(target)
    return redirect_to_login(request.get_full_path(), login_url)


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous users are sent to log in; logged-in users who are not staff get a 403.

    No review response is kept by the browser (``no-store``): Back after a label must
    ask the server again, not show the page as it was before the label.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            response = login_redirect(request)
        elif not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied("The image review page is for staff only.")
        else:
            response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    return wrapper
