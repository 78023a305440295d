"""Retraining on its own: waits for enough new labels, trains and previews, never
activates a head below its prior."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from image_ranking.learning import heads, retrain, trainer
from image_ranking.models import HeadChange, ImageTrainingData
from image_ranking.scoring import heads as head_files
from tests.image_ranking import test_heads
from tests.image_ranking.heads_helpers import NAME, colour_head
from tests.image_ranking.ranking_helpers import jpeg

# The heads tests' fixtures: a colour backbone, red and blue heads, three ranked POIs.
_commit_immediately, _learned = test_heads._commit_immediately, test_heads._learned
colour_backbone, red, blue = test_heads.colour_backbone, test_heads.red, test_heads.blue
city_pois, rank_all = test_heads.city_pois, test_heads.rank_all

pytestmark = pytest.mark.django_db


def label_blue_good(pois, count=24):
    """``count`` labels on generated photos: blue ones good, red ones bad; their bytes."""
    data = {}
    for n in range(count):
        colour = (40, 40 + n, 200) if n % 2 else (200, 40 + n, 40)
        url = f"http://127.0.0.1:1/thumb/label-{n}.jpg"
        data[url] = jpeg((320, 240), colour)
        ImageTrainingData.objects.create(
            poi=pois[n % len(pois)], image_url=url, image_label="good" if n % 2 else "bad"
        )
    return lambda: data.__getitem__


def test_waits_for_enough_new_labels(red, city_pois):
    commons, pois = city_pois
    fetch = label_blue_good(pois, count=6)
    outcome = retrain.retrain(pois=pois, min_new_labels=20, backbone=NAME, make_fetch=fetch)
    assert outcome.status == retrain.Status.WAITING and outcome.new_labels == 6
    assert outcome.head is None and "6 new labels, 20 needed" in outcome.message


def test_trains_registers_and_previews_without_activating(red, city_pois):
    commons, pois = city_pois
    heads.activate(red)
    rank_all(commons, pois)
    fetch = label_blue_good(pois)
    assert retrain.new_labels() == 24  # all made after the red head was trained
    outcome = retrain.retrain(pois=pois, backbone=NAME, make_fetch=fetch)
    assert outcome.status == retrain.Status.PREVIEWED and outcome.changes == 3
    assert outcome.head.label_count == 24 and outcome.head.backbone == NAME
    assert heads.active() == red  # left for review
    assert HeadChange.objects.filter(head=outcome.head, decision="pending").count() == 3
    # The labels are now older than the newest head: nothing due.
    assert retrain.new_labels() == 0
    again = retrain.retrain(pois=pois, backbone=NAME, make_fetch=fetch)
    assert again.status == retrain.Status.WAITING


def test_never_activates_a_head_below_its_prior(red, city_pois, tmp_path):
    commons, pois = city_pois
    heads.activate(red)
    label_blue_good(pois)
    weak = colour_head(tmp_path / "weak.json", (-4.0, 0.0, 4.0), cv=0.61, prior_cv=0.7)

    def train(data, backbone, options, make_fetch, say):
        head, sha256 = head_files.load_head(weak)
        return trainer.TrainingReport(head, sha256, weak, {}, {})

    outcome = retrain.retrain(pois=pois, backbone=NAME, activate=True, train=train)
    assert outcome.status == retrain.Status.BELOW_PRIOR
    assert heads.active() == red and outcome.head.state == "candidate"
    assert not HeadChange.objects.exists()  # not previewed either


def test_activates_when_asked_and_not_worse(red, city_pois):
    commons, pois = city_pois
    heads.activate(red)
    rank_all(commons, pois)
    outcome = retrain.retrain(
        pois=pois, backbone=NAME, activate=True, make_fetch=label_blue_good(pois),
        now=dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC),
    )  # fmt: skip
    assert outcome.status == retrain.Status.ACTIVATED and heads.active() == outcome.head
    assert outcome.head.previous == red


def test_retrain_command_says_what_it_did(red, city_pois, capsys):
    commons, pois = city_pois
    label_blue_good(pois, count=3)
    call_command("retrain_ranker", "--backbone", NAME, "--city", "paris")
    assert "waiting: 3 new labels, 20 needed." in capsys.readouterr().out
