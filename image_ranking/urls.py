from __future__ import annotations

from django.urls import path

from image_ranking import views
from image_ranking.views import heads

app_name = "image_ranking"

urlpatterns = [
    path("", views.review, name="review"),
    path("queue/", views.queue, name="queue"),
    path("queue/act/", views.queue_act, name="queue_act"),
    path("queue/choose/", views.queue_choose, name="queue_choose"),
    path("queue/undo/", views.queue_undo, name="queue_undo"),
    path("mark/", views.mark, name="mark"),
    path("undo/", views.undo, name="undo"),
    path("use/", views.use_image, name="use"),
    path("mark-page-good/", views.mark_page_good, name="mark_page_good"),
    path("fetch-alternatives/<int:poi_id>/", views.fetch_alternatives, name="fetch_alternatives"),
    # Learned heads (views/heads.py): activate, roll back, preview, review changes.
    path("heads/", heads.heads_page, name="heads"),
    path("heads/rollback/", heads.head_rollback, name="head_rollback"),
    path("heads/<int:head_id>/activate/", heads.head_activate, name="head_activate"),
    path("heads/<int:head_id>/preview/", heads.head_preview, name="head_preview"),
    path(
        "heads/changes/<int:change_id>/accept/",
        heads.change_decide,
        {"decision": "accept"},
        name="head_change_accept",
    ),
    path(
        "heads/changes/<int:change_id>/reject/",
        heads.change_decide,
        {"decision": "reject"},
        name="head_change_reject",
    ),
]
