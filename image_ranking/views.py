"""Curators' review page. Built out in the review-page issue."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse


@staff_member_required
def review(request: HttpRequest) -> HttpResponse:
    return HttpResponse("The review page is not built yet.", content_type="text/plain")
