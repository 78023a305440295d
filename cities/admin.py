from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from cities.models import City, PoiList, PointOfInterest, Validation


class PoiListInline(admin.TabularInline):
    model = PoiList
    extra = 0
    fields = ["name"]
    show_change_link = True


@admin.register(City)
class CityAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "country", "poi_count"]
    search_fields = ["name", "slug", "country"]
    list_filter = ["country"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PoiListInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Counted in the list's query, not one query per row.
        return super().get_queryset(request).annotate(poi_total=Count("pois"))

    @admin.display(description="POIs", ordering="poi_total")
    def poi_count(self, obj: City) -> int:
        return obj.poi_total if hasattr(obj, "poi_total") else obj.pois.count()


@admin.register(PointOfInterest)
class PointOfInterestAdmin(admin.ModelAdmin):
    list_display = ["name", "city", "category", "wikidata_id", "has_image", "thumbnail"]
    list_filter = ["city", "category", ("image_file", admin.EmptyFieldListFilter), "lists"]
    search_fields = ["name", "wikidata_id", "city__name"]
    list_select_related = ["city"]
    autocomplete_fields = ["city"]
    readonly_fields = ["thumbnail"]

    @admin.display(boolean=True, description="Image")
    def has_image(self, obj: PointOfInterest) -> bool:
        return bool(obj.image_file)

    @admin.display(description="Preview")
    def thumbnail(self, obj: PointOfInterest) -> str:
        if not obj.image_file:
            return "-"
        return format_html(
            # An attribute, not an inline style: the Content-Security-Policy refuses those.
            '<img src="{}" alt="{}" height="60">',
            obj.image_file.url,
            obj.name,
        )


@admin.register(PoiList)
class PoiListAdmin(admin.ModelAdmin):
    list_display = ["name", "city", "size"]
    list_filter = ["city"]
    search_fields = ["name", "city__name"]
    filter_horizontal = ["pois"]
    list_select_related = ["city"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(poi_total=Count("pois"))

    @admin.display(description="POIs", ordering="poi_total")
    def size(self, obj: PoiList) -> int:
        return obj.poi_total if hasattr(obj, "poi_total") else obj.pois.count()


@admin.register(Validation)
class ValidationAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "context",
        "aggregate",
        "city",
        "poi",
        "short_description",
        "resolved",
    ]
    list_filter = ["resolved", "context", "aggregate", "city"]
    search_fields = ["description", "poi__name", "city__name"]
    # A POI's name names its city: without poi__city, one query per row.
    list_select_related = ["city", "poi__city"]
    list_editable = ["resolved"]
    raw_id_fields = ["poi"]
    date_hierarchy = "created_at"
    actions = ["mark_resolved"]

    @admin.display(description="Description")
    def short_description(self, obj: Validation) -> str:
        return obj.description[:100]

    @admin.action(description="Mark selected validations resolved")
    def mark_resolved(self, request, queryset) -> None:
        updated = queryset.update(resolved=True)
        self.message_user(request, f"{updated} validation(s) marked resolved.")
