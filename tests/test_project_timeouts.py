"""Nothing waits for ever on the database: a statement past DATABASE_STATEMENT_TIMEOUT_MS is
cancelled by the server, and a transaction left idle past
DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS is ended (its locks released). Each runs in a process of
its own, started with the settings from the environment as web and worker are."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import ROOT

_SLOW_STATEMENT = textwrap.dedent("""
    import django
    django.setup()
    from django.db import connection
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(60)")
        print("finished")
    except Exception as exc:
        print("failed:", type(exc.__cause__ or exc).__name__, exc)
""")

_IDLE_TRANSACTION = textwrap.dedent("""
    import time
    import django
    django.setup()
    from django.db import connection, transaction
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            time.sleep(3)  # a process stuck between two statements, holding its transaction
            cursor.execute("SELECT 1")
        print("finished")
    except Exception as exc:
        print("failed:", type(exc.__cause__ or exc).__name__, exc)
""")


def run_with(script: str, env: dict[str, str]) -> str:
    # A hang fails the test here (TimeoutExpired) instead of hanging the suite.
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    return result.stdout + result.stderr


def test_a_statement_past_the_statement_timeout_is_cancelled(process_env):
    output = run_with(_SLOW_STATEMENT, {**process_env, "DATABASE_STATEMENT_TIMEOUT_MS": "300"})
    assert "failed: QueryCanceled" in output, output
    assert "statement timeout" in output


def test_a_transaction_left_idle_is_ended_by_the_server(process_env):
    output = run_with(_IDLE_TRANSACTION,
                      {**process_env, "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS": "500"})
    assert "failed:" in output and "idle-in-transaction timeout" in output, output
