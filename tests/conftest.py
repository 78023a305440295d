"""Shared fixtures. Nothing in the suite may reach the network: hubs are offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before anything imports huggingface_hub / open_clip, so no test hangs on a download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Fixtures shared across test folders (``tiny_clip``...).
pytest_plugins = ["tests.commons_replica", "tests.scorers"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("IMAGE_RANKING_SHARED_DIR", REPO_ROOT.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason when it is absent."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (real data from ../shared beside the checkout), absent here")
    return path


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Each test stores files in its own folder, never in the project's media/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGE_RANKING_CACHE_DIR = str(tmp_path / "cache")
    settings.IMAGE_RANKING_USER_AGENT = "image_ranking-tests/0.1 (test suite; nobody@example.org)"
    return settings.MEDIA_ROOT


@pytest.fixture
def city(db):
    """Paris (``tests/factories.py``)."""
    from tests.factories import make_city

    return make_city()


@pytest.fixture
def poi(city):
    """The Eiffel Tower, a sight in Paris on no list."""
    from tests.factories import make_poi

    return make_poi(city)


@pytest.fixture
def commit_immediately(django_capture_on_commit_callbacks):
    """Run on_commit callbacks (old files deleted after a change) inside the test transaction,
    as the real code would after its commit."""
    with django_capture_on_commit_callbacks(execute=True):
        yield
