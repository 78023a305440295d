"""Prefect flow ``retrain_ranker``: retrain when enough new labels arrived, preview,
leave the changes for review (``image_ranking.learning.retrain``, the same code as
``manage.py retrain_ranker``). It never activates a head below its prior; by default it
activates none (a curator does, on the heads view, after reviewing the changes).

Run locally (Prefect's ephemeral mode)::

    python -m workflow.retrain [--min-new-labels 20] [--city SLUG] [--activate]

Schedule it (e.g. nightly) with a deployment; importing this module has no side effect.
"""

from __future__ import annotations

import argparse
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from workflow.city_import import _run_logger, setup_django


@task(cache_policy=NO_CACHE)
def retrain_if_due(
    min_new_labels: int, city: str | None, activate: bool, backbone: str | None = None
) -> dict[str, Any]:
    setup_django()
    from image_ranking.learning import retrain
    from image_ranking.management.commands.heads import city_pois
    from image_ranking.priors import PRIOR_BACKBONE

    log = _run_logger()
    outcome = retrain.retrain(
        pois=city_pois(city),
        min_new_labels=min_new_labels,
        backbone=backbone or PRIOR_BACKBONE,
        activate=activate,
        say=log.info,
    )
    log.info("%s: %s", outcome.status, outcome.message)
    return {
        "status": outcome.status,
        "new_labels": outcome.new_labels,
        "head": outcome.head.pk if outcome.head else None,
        "changes": outcome.changes,
        "message": outcome.message,
    }


# image_ranking.learning.retrain.MIN_NEW_LABELS (not imported here: no Django at import).
MIN_NEW_LABELS = 20


@flow(name="retrain_ranker")
def retrain_ranker(
    min_new_labels: int = MIN_NEW_LABELS,
    city: str | None = None,
    activate: bool = False,
    backbone: str | None = None,
) -> dict[str, Any]:
    """Retrain if due; returns what was done (status, head id, changes kept for review)."""
    return retrain_if_due(min_new_labels, city, activate, backbone)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-new-labels", type=int, default=MIN_NEW_LABELS)
    parser.add_argument("--city")
    parser.add_argument("--activate", action="store_true")
    args = parser.parse_args(argv)
    setup_django()
    print(retrain_ranker(args.min_new_labels, args.city, args.activate))


if __name__ == "__main__":
    main()
