"""`manage.py bench_reconciler`: time a reconciler pass over drifted sagas alone, then among
many converged ones; prints the figures and writes them as JSON (run it on a scratch database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from lab.reconciler_bench.run import NotAScratchDatabase, run_benchmark


class Command(BaseCommand):
    help = ("Time a reconciler pass over N drifted sagas alone and among M converged ones "
            "(a partial index should make the two the same).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--converged", type=int, default=100_000)
        parser.add_argument("--drifted", type=int, default=100)
        parser.add_argument("--rounds", type=int, default=7, help="passes timed per phase")
        parser.add_argument("--output", default=str(Path(settings.BASE_DIR) / "bench-results"
                                                     / "reconciler.json"))

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            results = run_benchmark(converged=opts["converged"], drifted=opts["drifted"],
                                    rounds=opts["rounds"], say=self.stdout.write)
        except NotAScratchDatabase as exc:
            raise CommandError(str(exc)) from exc
        for phase in ("drifted_alone", "drifted_among_converged"):
            r = results[phase]
            self.stdout.write(f"{phase:>24}: pass median {r['pass_seconds']['median'] * 1000:.1f} "
                              f"ms (min {r['pass_seconds']['min'] * 1000:.1f}, max "
                              f"{r['pass_seconds']['max'] * 1000:.1f}), "
                              f"{r['queries_per_pass']:.0f} queries")
        self.stdout.write(f"ratio of medians: {results['ratio_of_medians']:.2f}")
        output = Path(opts["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n")
        self.stdout.write(f"written to {output}")
