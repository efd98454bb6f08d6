"""`manage.py reconcile [--order ID] [--dry-run]`: one reconciler pass, or one saga now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from saga import reconciler
from saga.models import ReconciliationAction


class Command(BaseCommand):
    help = ("Run one reconciler pass over the due sagas, or reconcile one order now "
            "(--order); --dry-run shows what would be done and changes nothing.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--order", help="reconcile this order's saga now, due or not")
        parser.add_argument("--dry-run", action="store_true",
                            help="decide and print, but record and send nothing")

    def handle(self, *args: Any, order: str | None, dry_run: bool, **options: Any) -> None:
        if order:
            outcome = reconciler.reconcile_order(order, dry_run=dry_run)
            if outcome is None:
                raise CommandError(f"no saga for order {order}")
            outcomes = [outcome]
        else:
            report = reconciler.run_pass(dry_run=dry_run)
            outcomes = report.outcomes
            self.stdout.write(f"{report.examined} saga(s) due, examined in "
                              f"{report.seconds:.3f}s")
        verb = "would" if dry_run else "did"
        for outcome in outcomes:
            verdict = outcome.verdict
            self.stdout.write(f"order {outcome.order_id}: gap {verdict.gap}"
                              + (", converged" if verdict.converged else ""))
            for action in outcome.actions:
                self.stdout.write(f"  {verb} {action.kind} ({self._status(action)}): "
                                  f"{action.reason}")
            if verdict.attention:
                self.stdout.write(f"  needs attention: {verdict.attention}")

    @staticmethod
    def _status(action: ReconciliationAction) -> str:
        return "dry run" if action.pk is None else action.status
