from __future__ import annotations

import pytest

from image_ranking.learning import examples as training_data
from image_ranking.learning.fitting import TrainingError

pytestmark = pytest.mark.django_db


@pytest.fixture
def pois():
    from cities.models import City, PointOfInterest

    city = City.objects.create(name="Paris", slug="paris")
    return [
        PointOfInterest.objects.create(city=city, name=name, category="see")
        for name in ("Louvre", "Orsay")
    ]


def label(poi, name, kind):
    from image_ranking.models import ImageTrainingData

    return ImageTrainingData.objects.create(
        poi=poi,
        image_url=f"https://upload.wikimedia.org/{name}.jpg",
        thumbnail_url=f"https://upload.wikimedia.org/thumb/{name}.jpg",
        image_label=kind,
    )


def candidate(poi, name, score=None, drop=""):
    from image_ranking.models import ImageCandidate

    return ImageCandidate.objects.create(
        poi=poi,
        title=f"File:{name}.jpg",
        image_url=f"https://upload.wikimedia.org/{name}.jpg",
        thumbnail_url=f"https://upload.wikimedia.org/thumb/{name}.jpg",
        score=score,
        drop=drop,
    )


def names(data, pairs=None):
    return sorted(
        (data.examples[w].url.rsplit("/", 1)[1], data.examples[lo].url.rsplit("/", 1)[1])
        for w, lo in (pairs if pairs is not None else data.pairs)
    )


def test_good_beats_bad_within_a_poi_only(pois):
    louvre, orsay = pois
    label(louvre, "current", "bad")
    label(louvre, "alt1", "good")
    label(louvre, "alt2", "good")
    label(orsay, "other", "bad")
    data = training_data.read_database()
    assert data.target == "label" and data.source == "database"
    assert [e.target for e in data.examples].count("good") == 2
    # The bad current image loses to both good alternatives; Orsay's bad image is in no pair.
    assert names(data) == [("alt1.jpg", "current.jpg"), ("alt2.jpg", "current.jpg")]
    assert {e.group for e in data.examples} == {louvre.pk, orsay.pk}


def test_a_curators_choice_beats_the_alternatives_shown(pois):
    from image_ranking.models import SelectedImage

    louvre, _ = pois
    chosen = candidate(louvre, "chosen", score=4.0)
    for i in range(training_data.SHOWN_ALTERNATIVES + 2):
        candidate(louvre, f"alt{i:02d}", score=float(i))
    candidate(louvre, "tiny", score=99.0, drop="too_small")
    label(louvre, "alt09", "bad")  # labelled and shown: one example, not two
    SelectedImage.objects.create(
        poi=louvre, candidate=chosen, chosen_by=SelectedImage.ChosenBy.CURATOR, file_name="x"
    )
    data = training_data.read_database()
    # The best-scored unfiltered others (scores 9..2), as the review page shows them.
    assert names(data) == [("chosen.jpg", f"alt{i:02d}.jpg") for i in range(2, 10)]
    urls = [e.url for e in data.examples]
    assert len(urls) == len(set(urls))
    chosen_example = next(e for e in data.examples if e.url.endswith("chosen.jpg"))
    assert chosen_example.target is None  # known only through the preference


def test_ranker_choices_are_not_preferences(pois):
    from image_ranking.models import SelectedImage

    louvre, _ = pois
    chosen = candidate(louvre, "chosen", score=4.0)
    candidate(louvre, "other", score=3.0)
    SelectedImage.objects.create(
        poi=louvre, candidate=chosen, chosen_by=SelectedImage.ChosenBy.RANKER, file_name="x"
    )
    assert training_data.read_database().pairs == []


def test_csv_reading_errors_are_training_errors(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("file,label\na.jpg,maybe\n")
    with pytest.raises(TrainingError, match="line 2: label 'maybe' is not 'good' or 'bad'"):
        training_data.read_csv(path, tmp_path)
    with pytest.raises(TrainingError, match="is not a folder"):
        training_data.read_csv(path, tmp_path / "nope")
