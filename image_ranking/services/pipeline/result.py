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

    @property
    def failed(self) -> bool:
        return self.outcome == Outcome.FAILED

    def as_dict(self) -> dict[str, Any]:
        return {
            "poi_id": self.poi_id,
            "poi_name": self.poi_name,
            "outcome": str(self.outcome),
            "message": self.message,
            "best_score": self.best_score,
            "chosen": self.chosen.title if self.chosen is not None else None,
            "requests": self.requests,
        }
