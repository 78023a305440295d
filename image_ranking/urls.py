from __future__ import annotations

from django.urls import path

from image_ranking import views

app_name = "image_ranking"

urlpatterns = [
    path("", views.review, name="review"),
    path("mark/", views.mark, name="mark"),
    path("undo/", views.undo, name="undo"),
    path("use/", views.use_image, name="use"),
    path("mark-page-good/", views.mark_page_good, name="mark_page_good"),
    path("fetch-alternatives/<int:poi_id>/", views.fetch_alternatives, name="fetch_alternatives"),
]
