import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The host's POI model is a setting (like AUTH_USER_MODEL), so the migration follows it.
POI_MODEL = getattr(settings, "IMAGE_RANKING_POI_MODEL", "cities.PointOfInterest")


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(POI_MODEL),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("image_ranking", "0004_leases"),
    ]

    operations = [
        migrations.AddField(
            model_name="selectedimage",
            name="chosen_by_user",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.CreateModel(
            name="ReviewClaim",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("expires_at", models.DateTimeField(db_index=True)),
                (
                    "curator",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "poi",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="review_claim",
                        to=POI_MODEL,
                    ),
                ),
            ],
        ),
    ]
