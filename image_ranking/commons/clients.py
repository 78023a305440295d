"""The one place that builds the Commons client a ranking run or a view uses."""

from __future__ import annotations

from typing import Any

from image_ranking.conf import conf


def build_commons_client(*, thumb_width: int | None = None) -> Any:
    """A ``CommonsClient`` fetching thumbnails at ``thumb_width`` (default: the ranking width).

    At a standard width >= the stored size the winner is stored from the very bytes that
    were scored. The class is looked up at call time, so tests can replace it by name.
    """
    from image_ranking.commons import client as wikimedia

    width = conf.RANKING_THUMBNAIL_WIDTH if thumb_width is None else thumb_width
    return wikimedia.CommonsClient(thumb_width=width)
