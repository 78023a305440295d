"""What every flow of the project needs in its process: Django set up, and the app's log
records in the flow run's log.

The app logs its progress (``Processed n/N POIs`` per batch, each failed POI, the run's
summary, POIs taken over from a dead run) on the ``image_ranking`` logger. Prefect's
``PREFECT_LOGGING_EXTRA_LOGGERS`` is no way to get them to the run's log: the handler it
adds when Prefect sets its logging up is removed by ``django.setup()`` (the project's
``LOGGING`` configures that logger), and a process worker runs each flow in a temporary
folder, where no ``pyproject.toml`` is read. So ``setup_django`` adds Prefect's API
handler itself, once Django's logging is in place, whatever the folder or the order.
"""

from __future__ import annotations

import logging
import os

from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler

APP_LOGGER = "image_ranking"


class RunLogHandler(APILogHandler):
    """Prefect's API log handler for records made within a flow or task run; others (a
    management command run in the same process) are for the console only."""

    def emit(self, record: logging.LogRecord) -> None:
        if FlowRunContext.get() is None and TaskRunContext.get() is None:
            return
        super().emit(record)


def setup_django() -> None:
    """Set Django up once (``config.settings`` unless ``DJANGO_SETTINGS_MODULE`` says
    otherwise; left alone where it already is: pytest-django, ``manage.py shell``), then
    send the app's records to the run's log."""
    import django
    from django.apps import apps

    if not apps.ready:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
    send_app_logs_to_prefect()


def send_app_logs_to_prefect() -> None:
    """Put Prefect's API handler on the app's logger unless one is there already."""
    logger = logging.getLogger(APP_LOGGER)
    if not any(isinstance(handler, APILogHandler) for handler in logger.handlers):
        logger.addHandler(RunLogHandler())
