from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.static import serve

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="image_ranking:review", permanent=False)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("image-ranking/", include("image_ranking.urls")),
]
if settings.DEBUG or getattr(settings, "SERVE_MEDIA", False):
    # Stored POI images. In production the web server should serve MEDIA_ROOT itself
    # (README: "Production media"); SERVE_MEDIA=true is for a single-host setup where
    # Django serves them (django.views.static.serve, fine for a curators' tool).
    prefix = settings.MEDIA_URL.lstrip("/")
    urlpatterns += [
        re_path(rf"^{prefix}(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    ]
