"""A database that restarts under the running system: while it is down every API answer is a
JSON 503 with `Retry-After` (never a 500), readiness names the database, liveness stays up; once
it is back, web, worker and beat recover by themselves and an order placed then completes.

The database is a throwaway PostgreSQL cluster the test creates, migrates, stops and starts
(tests/support/outages.py), never the machine's shared one.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.conftest import ROOT, Proc, wait_for
from tests.support.outages import OwnPostgres, Web

pytestmark = pytest.mark.e2e

ADDRESS = {"name": "Ada", "line1": "1 Lane", "city": "London", "postal_code": "N1",
           "country": "GB"}
ORDER = {"lines": [{"sku": "SKU-1", "quantity": 1}], "shipping_address": ADDRESS}
# Within DESIGN's 30 s of the database's return (the limit, not a measurement).
RECOVERY_SECONDS = 30

SET_UP = """
from decimal import Decimal
from django.contrib.auth import get_user_model
from accounts.tokens import issue_token
from inventory import services as inventory
inventory.add_product("SKU-1", "Kettle", Decimal("10.00"))
inventory.receive_goods("SKU-1", 50)
user = get_user_model().objects.create_user("ada", "ada@example.com", "pw")
print("TOKEN=" + issue_token(user))
"""


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _status(web: Web, order_id: str, auth: dict[str, str]) -> str | None:
    answer = web.request("GET", f"/api/orders/{order_id}/", headers=auth)
    return answer.json()["status"] if answer.status == 200 else None


def test_web_worker_and_beat_outlast_a_database_restart(
    own_postgres: OwnPostgres, process_env: dict[str, str], broker: object,
    start_web: Callable[[dict[str, str]], Web], start_worker: Callable[..., Proc],
    start_beat: Callable[..., Proc],
) -> None:
    own_postgres.create_database("saga")
    env = {**process_env, "DATABASE_URL": own_postgres.url("saga")}
    _manage(env, "migrate", "--noinput")
    token = _manage(env, "shell", "-c", SET_UP).split("TOKEN=")[1].strip()
    auth = {"Authorization": f"Token {token}"}
    worker = start_worker(DATABASE_URL=env["DATABASE_URL"])
    beat = start_beat(DATABASE_URL=env["DATABASE_URL"])
    # One thread: its one persistent connection is certainly the one the restart made stale.
    web = start_web({**env, "WEB_THREADS": "1"})

    first = web.request("POST", "/api/orders/", ORDER, auth)
    assert first.status == 202, first.body
    wait_for(lambda: _status(web, first.json()["id"], auth) == "confirmed", timeout=60,
             interval=0.5, message="an order before the restart")

    own_postgres.stop()
    for method, path, body in [("GET", "/api/orders/", None), ("POST", "/api/orders/", ORDER),
                               ("GET", "/api/products/", None),
                               ("GET", f"/api/orders/{first.json()['id']}/", None)]:
        answer = web.request(method, path, body, auth)
        assert answer.status == 503, (method, path, answer.body)
        assert answer.headers["Content-Type"].startswith("application/json")
        assert answer.json()["code"] == "database_unavailable"
        assert int(answer.headers["Retry-After"]) > 0
    ready = web.request("GET", "/healthz")
    assert ready.status == 503
    assert set(ready.json()["failed"]) == {"database"}
    assert web.request("GET", "/livez").status == 200
    time.sleep(3)  # worker and beat meet the outage too (beat ticks every second)

    own_postgres.start()
    wait_for(lambda: web.request("GET", "/api/orders/", headers=auth).status == 200,
             timeout=RECOVERY_SECONDS, interval=0.5, message="the API to answer again")
    after = web.request("POST", "/api/orders/", ORDER, auth)
    assert after.status == 202, after.body
    wait_for(lambda: _status(web, after.json()["id"], auth) == "confirmed", timeout=60,
             interval=0.5, message="an order placed after the restart to complete")

    # A restart nobody saw: the first request after it must not meet the dead connection
    # (CONN_HEALTH_CHECKS replaces it before use).
    own_postgres.stop()
    own_postgres.start()
    answer = web.request("GET", "/api/orders/", headers=auth)
    assert answer.status == 200, answer.body

    assert worker.popen.poll() is None, worker.output()[-3000:]
    assert beat.popen.poll() is None, beat.output()[-3000:]
    assert " 500" not in web.output()
