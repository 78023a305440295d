"""The retrain flow's task runs ``learning.retrain`` and reports what it did."""

from __future__ import annotations

import pytest

from image_ranking.models import ImageTrainingData, LearnedHead
from workflow.retrain import retrain_if_due

pytestmark = pytest.mark.django_db


def test_the_flow_waits_for_enough_new_labels_and_trains_nothing(settings, tmp_path):
    from cities.models import City, PointOfInterest

    poi = PointOfInterest.objects.create(
        city=City.objects.create(name="Paris", slug="paris"), name="Louvre", category="see"
    )
    ImageTrainingData.objects.create(poi=poi, image_url="https://x.org/a.jpg", image_label="good")
    result = retrain_if_due.fn(20, "paris", False)
    assert result == {
        "status": "waiting",
        "new_labels": 1,
        "head": None,
        "changes": 0,
        "message": "1 new labels, 20 needed.",
    }
    assert not LearnedHead.objects.exists()


def test_the_flow_and_the_command_wait_for_the_same_number_of_labels():
    from image_ranking.learning import retrain
    from workflow import retrain as flow_module

    assert flow_module.MIN_NEW_LABELS == retrain.MIN_NEW_LABELS
