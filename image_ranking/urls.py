from __future__ import annotations

from django.urls import path

from image_ranking import views

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
]
