"""Curators' review page: compare each POI's image with its Commons alternatives, label
images good or bad (training data for the learned ranker), pick a better one.

Every view works as a plain form/link (no JavaScript) and, under htmx, answers with just
the partial that changed (``request.htmx``). Staff only; every POST is CSRF-protected
(the token travels in ``hx-headers`` on ``<body>``). A label may only name an image the
POI really has: its current image or one of its known candidates.

Modules: ``grid`` (the page), ``queue`` (one POI at a time), ``labels``, ``choose``,
``cards``/``tiles`` (what a card shows), ``selection`` (filters and order), ``access``,
``failures`` (errors worded for curators), ``media`` (stored images when DEBUG is off).
"""

from __future__ import annotations

from image_ranking.views.choose import use_image
from image_ranking.views.grid import fetch_alternatives, review
from image_ranking.views.labels import mark, mark_page_good, undo
from image_ranking.views.queue import queue, queue_act, queue_choose, queue_undo

__all__ = [
    "fetch_alternatives",
    "mark",
    "mark_page_good",
    "queue",
    "queue_act",
    "queue_choose",
    "queue_undo",
    "review",
    "undo",
    "use_image",
]
