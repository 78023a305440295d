"""Forms of the review page: every GET filter and POST body is validated here, not by hand.

The POI and candidate fields are plain integers; the views resolve them (a POI through
the host's model, a candidate only among that POI's own), so a form never imports the host.
"""

from __future__ import annotations

from typing import Any

from django import forms

from image_ranking.models import ImageTrainingData

SORTS = {
    "name": "Name",
    "score": "Score, lowest first",
    "-score": "Score, highest first",
    "-ranked": "Last ranked, newest first",
    "ranked": "Last ranked, oldest first",
    "labels": "Unlabelled first",
    "work": "Work first (no image, unlabelled, low score)",
}
LABEL_STATES = {"": "All", "no": "Unlabelled", "yes": "Labelled"}


class FilterForm(forms.Form):
    """The page's filters; an invalid value is ignored (a bookmarked URL still opens)."""

    q = forms.CharField(required=False, max_length=100, label="Name")
    city = forms.CharField(required=False, max_length=100)
    list = forms.IntegerField(required=False, min_value=1)
    category = forms.CharField(required=False, max_length=50)
    labelled = forms.ChoiceField(required=False, choices=LABEL_STATES.items(), label="Labels")
    sort = forms.ChoiceField(required=False, choices=SORTS.items())
    needs_image = forms.BooleanField(required=False, label="Needs an image")
    poi = forms.IntegerField(required=False, min_value=1)

    @classmethod
    def from_query(cls, data: Any) -> FilterForm:
        form = cls(data)
        if not form.is_valid():
            # Keep the fields that are valid, drop the rest.
            for name in list(form.errors):
                form.cleaned_data.pop(name, None)
        return form

    def value(self, name: str) -> Any:
        return self.cleaned_data.get(name) or (False if name == "needs_image" else "")


# The POI's image as the page showed it (views/stale.py): a stale one is refused.
VERSION = {"required": False, "max_length": 64}


class LabelForm(forms.Form):
    poi = forms.IntegerField(min_value=1, error_messages={"required": "A label needs 'poi'."})
    version = forms.CharField(**VERSION)
    # Any text: the view accepts only this POI's own image URLs (media URLs included).
    image_url = forms.CharField(
        max_length=1000, error_messages={"required": "'image_url' is required."}
    )
    label = forms.ChoiceField(
        choices=ImageTrainingData.Label.choices,
        error_messages={"invalid_choice": "'label' must be 'good' or 'bad'."},
    )


class UndoForm(forms.Form):
    """Undo one label (``label_id``) or, without it, the curator's latest label."""

    label_id = forms.IntegerField(required=False, min_value=1)


class UseImageForm(forms.Form):
    poi = forms.IntegerField(min_value=1)
    candidate = forms.IntegerField(min_value=1)
    version = forms.CharField(**VERSION)


class BulkGoodForm(forms.Form):
    """The page's POIs, each with the ``version`` of its image as shown (same order)."""

    poi = forms.TypedMultipleChoiceField(coerce=int, choices=(), required=True)

    def versions(self) -> dict[int, str]:
        given = self.data.getlist("version") if hasattr(self.data, "getlist") else []
        return dict(zip(self.cleaned_data["poi"], given, strict=False))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any integers: which of them are real POIs with an image is the view's query.
        values = self.data.getlist("poi") if hasattr(self.data, "getlist") else []
        self.fields["poi"].choices = [(v, v) for v in values if str(v).isdigit()]


class QueueActionForm(forms.Form):
    """A queue step on one POI: label one of its images (the current one unless
    ``image_url`` names a candidate), or skip it."""

    ACTIONS = (("good", "Good"), ("bad", "Bad"), ("skip", "Skip"))

    poi = forms.IntegerField(min_value=1)
    action = forms.ChoiceField(choices=ACTIONS)
    image_url = forms.CharField(required=False, max_length=1000)
    version = forms.CharField(**VERSION)


def error_text(form: forms.Form) -> str:
    """The form's errors as one short line for a 400 response."""
    parts = []
    for name, errors in form.errors.items():
        prefix = "" if name == "__all__" else f"{name}: "
        parts.append(prefix + " ".join(str(e) for e in errors))
    return "; ".join(parts)
