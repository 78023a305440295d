"""Learned heads: list, register, preview, activate (and apply), roll back.

    manage.py heads list
    manage.py heads register FILE
    manage.py heads preview ID [--city SLUG] [--limit N]
    manage.py heads activate ID [--force] [--apply [--city SLUG]]
    manage.py heads apply ID [--city SLUG]
    manage.py heads rollback

The ``learned`` scorer uses the active head from its next use on (no restart).
``preview`` re-decides POIs whose candidates are cached with the head, as a dry run that
sends no request, prints the POIs whose image would change and keeps them for review on
the review page's heads view; ``apply`` stores those changes (same code). A head whose
cross-validated figure is below its prior's is not activated unless ``--force``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from image_ranking import get_poi_model
from image_ranking.exceptions import ImageRankingError
from image_ranking.learning import heads, preview
from image_ranking.models import LearnedHead
from image_ranking.poi import get_poi_adapter

SHOWN = 50  # changes printed by preview (all are recorded)


def city_pois(slug: str | None) -> list[Any]:
    """The POIs of a city (all POIs without ``slug``)."""
    adapter = get_poi_adapter()
    queryset = get_poi_model()._default_manager.all().order_by("pk")
    if slug:
        if not adapter.has("city_slug"):
            raise CommandError("--city needs a POI model with a city (IMAGE_RANKING_POI_FIELDS).")
        queryset = queryset.filter(**{adapter.path("city_slug"): slug})
    return list(queryset)


def describe(head: LearnedHead) -> str:
    figures = f"cv {head.cv:.3f}" if head.cv is not None else "cv ?"
    if head.prior_cv is not None:
        figures += f" vs prior {head.prior_cv:.3f}"
    return (
        f"{head.pk:>4}  {head.state:<9} {head.created_at:%Y-%m-%d %H:%M}  {head.version}  "
        f"{head.label_count} labels, {head.pair_count} pairs, {figures}; favours {head.summary}"
    )


class Command(BaseCommand):
    help = "List, register, preview, activate, apply and roll back learned heads."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="Every head, newest first.")
        register = sub.add_parser("register", help="Record a head file written by train_ranker.")
        register.add_argument("file")
        for name, text in (
            ("preview", "What the head would change, kept for review."),
            ("apply", "Store every change the head would make (no activation)."),
            ("activate", "Make the head the one the learned scorer uses."),
        ):
            action = sub.add_parser(name, help=text)
            action.add_argument("head", type=int, help="The head's id (see 'heads list').")
            action.add_argument("--city", help="Only this city's POIs (slug).")
            if name == "activate":
                force = "Even if it ranks labels worse than its prior."
                action.add_argument("--force", action="store_true", help=force)
                also = "Also store the changes it makes (see 'preview')."
                action.add_argument("--apply", action="store_true", help=also)
        sub.add_parser("rollback", help="Go back to the head active before the current one.")
        parser.add_argument("--user", help="Username recorded as who did it.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._user(options.get("user"))
        action = options["action"]
        try:
            if action == "list":
                self._list()
            elif action == "register":
                head = heads.register(options["file"], user=user)
                self.stdout.write(self.style.SUCCESS(f"Registered: {describe(head)}"))
            elif action == "rollback":
                self._rollback(user)
            else:
                head = self._head(options["head"])
                pois = city_pois(options.get("city"))
                getattr(self, f"_{action}")(head, pois, user, options)
        except ImageRankingError as exc:
            raise CommandError(str(exc))

    def _user(self, username: str | None) -> Any:
        if not username:
            return None
        try:
            return get_user_model()._default_manager.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"--user {username}: no such user.")

    def _head(self, pk: int) -> LearnedHead:
        head = LearnedHead.objects.filter(pk=pk).first()
        if head is None:
            raise CommandError(f"No head {pk}; 'manage.py heads list' shows them.")
        return head

    def _list(self) -> None:
        rows = list(LearnedHead.objects.all())
        if not rows:
            self.stdout.write("No heads yet: train one with 'manage.py train_ranker'.")
        for head in rows:
            self.stdout.write(describe(head))

    def _preview(self, head: LearnedHead, pois: list, user: Any, options: dict) -> None:
        planned = preview.plan(head, pois)
        preview.record(planned)
        considered = len(pois) - sum(1 for _pk, why in planned.skipped if "never" in why)
        self.stdout.write(
            f"Head {head.pk}: {len(planned.changes)} of {considered} POIs would change "
            f"({planned.requests} requests; {len(planned.skipped)} skipped). Kept for review."
        )
        for change in planned.changes[:SHOWN]:
            old = (
                f"{change.old_title or '(no image)'} (stored {_score(change.old_score)}, "
                f"this head {_score(change.old_new_score)})"
            )
            new = f"{change.new.title} (this head {_score(change.new_score)})"
            self.stdout.write(f"  {preview.poi_label(change.poi)}: {old} -> {new}")
        if len(planned.changes) > SHOWN:
            self.stdout.write(f"  ... and {len(planned.changes) - SHOWN} more")

    def _apply(self, head: LearnedHead, pois: list, user: Any, options: dict) -> None:
        applied = preview.apply(head, pois)
        self.stdout.write(
            self.style.SUCCESS(
                f"Head {head.pk}: stored {len(applied.changes)} new images "
                f"({applied.requests} requests)."
            )
        )

    def _activate(self, head: LearnedHead, pois: list, user: Any, options: dict) -> None:
        heads.activate(head, user=user, force=options["force"])
        self.stdout.write(self.style.SUCCESS(f"Active: {describe(head)}"))
        if options["apply"]:
            self._apply(head, pois, user, options)

    def _rollback(self, user: Any) -> None:
        back = heads.rollback(user=user)
        if back is None:
            self.stdout.write(
                "No head is active now (the learned scorer needs one, or the setting)."
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Active again: {describe(back)}"))


def _score(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"
