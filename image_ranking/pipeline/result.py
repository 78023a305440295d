"""``RankResult``: what ranking did (or, in a dry run, would do) for one POI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from image_ranking.models import ImageCandidate, RankingState, SelectedImage

Outcome = RankingState.Outcome


@dataclass
class RankResult:
    """What ranking did (or, in a dry run, would do) for one POI."""

    poi_id: Any
    poi_name: str
    outcome: str  # a RankingState.Outcome value
    message: str
    best_score: float | None = None
    chosen: ImageCandidate | None = None
    selected: SelectedImage | None = None
    candidate_count: int = 0
    kept_count: int = 0
    scored_count: int = 0
    requests: int = 0
    dry_run: bool = False
    # A failure because Commons could not be queried (network, 5xx, bad answers): an
    # outage when every POI of a run fails so, not a problem with the POI.
    commons_failure: bool = False

    @property
    def failed(self) -> bool:
        return self.outcome == Outcome.FAILED
