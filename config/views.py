"""The project's own views: the CSRF failure page (plain and under htmx)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme

CSRF_MESSAGE = (
    "Your session changed (you signed in or out in another tab); nothing was saved. "
    "Reload the page, then try again."
)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A stale token after a login/logout elsewhere: say so, offer a reload (403)."""
    if request.headers.get("HX-Request"):
        # review.js shows this text in the page with a Reload button (X-Reload-Needed).
        response = HttpResponse(CSRF_MESSAGE, status=403, content_type="text/plain; charset=utf-8")
        response["X-Reload-Needed"] = "1"
        return response
    back = request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = "/"
    return TemplateResponse(request, "403_csrf.html", {"back": back}, status=403)
