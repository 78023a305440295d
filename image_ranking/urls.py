from __future__ import annotations

from django.urls import path

from image_ranking import views

app_name = "image_ranking"

urlpatterns = [
    path("", views.review, name="review"),
]
