"""The system a run drives: a stack this harness starts (on a scratch database, or on the one
this process uses), or a running one it attaches to. Whatever it started is stopped on the
way out, Ctrl-C included; a scratch database is dropped unless the run asks to keep it."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
from django.conf import settings
from django.db import connections

from common.progress import Progress
from lab.stack import database
from lab.stack.clients import Session
from lab.stack.processes import Stack, StackConfig
from lab.stack.seed import Catalogue, seed_catalogue, seed_customers


@dataclass
class Target:
    base_url: str
    tokens: list[str]
    catalogue: Catalogue
    redis_url: str
    log_dir: Path | None
    stack: Stack | None = None
    scratch: database.ScratchDatabase | None = None
    keep: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def database_name(self) -> str:
        return connections["default"].settings_dict["NAME"]


def flush_broker(redis_url: str) -> None:
    """Empty the broker's database (ours alone): no stale message of an earlier run."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


@contextmanager
def target(*, label: str, ui: Progress, config: StackConfig, customers: int,
           scarce_stock: int = 0, attach: str | None = None, tokens: list[str] | None = None,
           scratch: bool = True, keep: bool = False,
           faults: bool = False) -> Iterator[Target]:
    """Yield the system to drive. `attach`: the URL of a running stack (with customers'
    `tokens`); else a stack started here, on a scratch database when `scratch`, else on
    this process's database. The scratch database and the logs are removed afterwards unless
    the caller sets `keep` on the yielded target (a failed run does)."""
    redis_url = settings.CELERY_BROKER_URL
    if attach:
        if not tokens:
            raise ValueError("--attach needs --tokens (customers' API tokens)")
        yield Target(attach.rstrip("/"), tokens, _catalogue_of(attach, tokens[0]), redis_url,
                     None, notes=["attached: process faults and fault settings of the "
                                  "attached stack are not under the harness's control"])
        return
    log_dir = Path(tempfile.mkdtemp(prefix=f"saga-{label}-"))
    scratch_db = database.ScratchDatabase(label) if scratch else None
    stack = Stack(scratch_db.url if scratch_db else database.current_url(), redis_url, config,
                  log_dir)
    run = Target(stack.base_url, [], Catalogue([], None), redis_url, log_dir, stack=stack,
                 scratch=scratch_db, keep=keep)
    crashed = False
    try:
        if scratch_db:
            ui.say(f"creating and migrating scratch database {scratch_db.name} ...")
            scratch_db.create(stack.env("migrate"))
            database.use(scratch_db.name)
        run.catalogue = seed_catalogue(scarce_stock=scarce_stock)
        run.tokens = seed_customers(customers)
        flush_broker(redis_url)
        ui.say(f"starting gunicorn, {len(stack.workers)} workers and beat ...")
        stack.start(faults=faults)
        yield run
    except BaseException:
        crashed = True
        raise
    finally:
        ui.say("stopping the stack ...")
        stack.stop()
        flush_broker(redis_url)
        if scratch_db and scratch_db.created:
            if run.keep:
                ui.say(f"kept database {scratch_db.name} for inspection")
            else:
                scratch_db.drop()
            database.use(database.name_of(scratch_db.base_url))
        if run.keep or crashed:
            ui.say(f"kept the processes' logs in {log_dir}")
        else:
            shutil.rmtree(log_dir, ignore_errors=True)


def _catalogue_of(base_url: str, token: str) -> Catalogue:
    """The attached stack's products that have stock."""
    session = Session(base_url, token)
    try:
        status, _, body = session.request("GET", "/api/products/?page_size=100")
    finally:
        session.close()
    if status != 200:
        raise RuntimeError(f"GET /api/products/ answered {status}: {body[:300]!r}")
    data = json.loads(body)
    products = data["results"] if isinstance(data, dict) else data
    skus = [p["sku"] for p in products if int(p.get("available") or 0) >= 1000]
    if not skus:
        raise RuntimeError("the attached stack has no product with 1,000 or more in stock")
    return Catalogue(skus, None)
