"""Settings for flow runs started by a Prefect process worker in the tests: the
project's, with the brightness scorer (``tests.workflow.apps`` registers it)."""

from __future__ import annotations

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.workflow.apps.WorkerTestsConfig"]
IMAGE_RANKING_SCORER = "test-brightness"
