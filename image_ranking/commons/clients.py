"""The one place that builds the Commons client a ranking run, a view or a command uses."""

from __future__ import annotations

from typing import Any

from image_ranking.commons import client as wikimedia
from image_ranking.conf import conf


def build_commons_client(*, interactive: bool = False) -> Any:
    """A ``CommonsClient`` fetching thumbnails at ``IMAGE_RANKING_RANKING_THUMBNAIL_WIDTH``.

    At a standard width >= the stored size the winner is stored from the very bytes that
    were scored. ``interactive`` (a page request): it never sleeps, an exhausted budget
    raises ``BudgetExhaustedError`` instead. The class is looked up at call time, so tests
    can replace it by name.
    """
    return wikimedia.CommonsClient(
        thumb_width=conf.RANKING_THUMBNAIL_WIDTH, wait_for_budget=not interactive
    )
