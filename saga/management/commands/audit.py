"""`manage.py audit [--json] [--strict] [--correct-stock]`: check DESIGN.md's six invariants
against the data; exits 1 on any violation. `--correct-stock` sends a repair to inventory for
every stock row that disagrees with its events (or says why it cannot)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from common.progress import Progress
from saga.audit.run import run_audit
from saga.stock_drift import correct_stock_drift

SHOWN = 10


class Command(BaseCommand):
    help = ("Check the six invariants (deliveries, stock, money, shipments, sagas, read "
            "models) and print a report; exit status 1 on any violation.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--strict", action="store_true",
                            help="a saga still in flight is a violation (a system at rest)")
        parser.add_argument("--correct-stock", action="store_true",
                            help="rewrite each stock row that disagrees with its events (a "
                                 "command to inventory), or say why it cannot be")

    def handle(self, *args: Any, **options: Any) -> None:
        # On stderr: --json's stdout stays one JSON document.
        progress = Progress(self.stderr._out)
        checks = run_audit(strict=options["strict"], progress=progress.counter("audit", "checks"))
        progress.close()
        ok = all(check.ok for check in checks)
        if options["correct_stock"]:
            for correction in correct_stock_drift(actor="operator:audit"):
                mark = "sent" if correction.sent else "cannot"
                self.stderr.write(f"stock {correction.sku}: {mark}: {correction.reason}")
        if options["json"]:
            self.stdout.write(json.dumps({"ok": ok, "checks": [c.as_json() for c in checks]},
                                         indent=2))
        else:
            for check in checks:
                mark = self.style.SUCCESS("ok  ") if check.ok else self.style.ERROR("FAIL")
                self.stdout.write(f"{mark} {check.number}. {check.name} "
                                  f"({check.checked} checked)")
                for violation in check.violations[:SHOWN]:
                    self.stdout.write(f"       - {violation}")
                if len(check.violations) > SHOWN:
                    self.stdout.write(f"       ... and {len(check.violations) - SHOWN} more")
                for note in check.notes:
                    self.stdout.write(f"       note: {note}")
            total = sum(len(c.violations) for c in checks)
            self.stdout.write(self.style.SUCCESS("all invariants hold") if ok else
                              self.style.ERROR(f"{total} violation(s)"))
        if not ok:
            raise SystemExit(1)
