"""Indexes a 10,000-POI city needs (issue 24, ``bench/bench_scale.py``): one photo, one POI
asks ``SelectedImage`` by sha1 for every ranked POI; the admin lists every candidate in
search order (by the POI's id: ordering by the relation sorted 100,000 rows by the POI's
city and name) and every label newest first; the promise rule reads a scorer's newest
scores, and how many wiki articles use each file."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("image_ranking", "0006_drop_reason"),
    ]

    operations = [
        # What the promise order reads beside assessments (pipeline/promise.py).
        migrations.AddField(
            model_name="imagecandidate",
            name="article_uses",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Wiki articles that show it (Commons globalusage, namespace 0).",
            ),
        ),
        migrations.AlterModelOptions(
            name="imagecandidate",
            options={"ordering": ["poi_id", "search_rank", "id"]},
        ),
        migrations.AddIndex(
            model_name="imagecandidate",
            index=models.Index(
                fields=["scorer_name", "scorer_version", "-scored_at"],
                name="image_cand_scorer_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="imagecandidate",
            index=models.Index(fields=["poi", "search_rank", "id"], name="image_cand_poi_rank_idx"),
        ),
        migrations.AddIndex(
            model_name="imagetrainingdata",
            index=models.Index(fields=["-created_at", "-id"], name="image_train_newest_idx"),
        ),
        migrations.AddIndex(
            model_name="selectedimage",
            index=models.Index(fields=["sha1"], name="image_sel_sha1_idx"),
        ),
    ]
