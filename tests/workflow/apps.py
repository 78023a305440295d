"""An app for ``worker_settings``: registers the brightness scorer in flow-run processes."""

from __future__ import annotations

from django.apps import AppConfig


class WorkerTestsConfig(AppConfig):
    name = "tests.workflow"
    label = "workflow_tests"

    def ready(self) -> None:
        from image_ranking.scoring import register
        from tests.image_ranking.ranking_helpers import BrightnessScorer

        register("test-brightness")(BrightnessScorer)
