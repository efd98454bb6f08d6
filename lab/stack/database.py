"""The database a harness run uses: a scratch one of its own (created, migrated, dropped), or
the one this process is already connected to (a test database, an attached stack's)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from django.conf import settings
from django.db import connections
from psycopg import sql

ALIASES = ("default", "providers")  # the providers' ledgers use a connection of their own


def current_url() -> str:
    """The URL of the database this process's default connection uses."""
    db = connections["default"].settings_dict
    user = quote(db.get("USER") or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def with_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def with_application_name(url: str, application_name: str) -> str:
    """The same URL with `application_name` set, so the process's backends can be told apart
    in pg_stat_activity (and terminated on purpose by a chaos run)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "application_name"]
    query.append(("application_name", application_name))
    return urlunsplit(parts._replace(query=urlencode(query)))


def name_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _maintenance(url: str) -> psycopg.Connection:
    parts = urlsplit(url)
    return psycopg.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                           user=parts.username or "postgres", password=parts.password,
                           dbname="postgres", autocommit=True, connect_timeout=5)


class ScratchDatabase:
    """A database named `<current name>_<label>_<random>`, created and migrated for one run."""

    def __init__(self, label: str, base_url: str | None = None) -> None:
        self.base_url = base_url or current_url()
        self.name = f"{name_of(self.base_url)}_{label}_{secrets.token_hex(3)}"[:63]
        self.url = with_name(self.base_url, self.name)
        self.created = False

    def create(self, env: dict[str, str]) -> None:
        """Create and migrate (with `env`, so beat's schedule gets the run's intervals)."""
        with _maintenance(self.base_url) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        self.created = True
        run_manage(["migrate", "--noinput", "-v", "0"], {**env, "DATABASE_URL": self.url})

    def drop(self) -> None:
        if not self.created:
            return
        for alias in ALIASES:
            connections[alias].close()
        with _maintenance(self.base_url) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(self.name)))
        self.created = False


def use(name: str) -> None:
    """Point this process's connections at database `name` (as Django's test runner does)."""
    for alias in ALIASES:
        connection = connections[alias]
        connection.close()
        connection.settings_dict["NAME"] = name
        settings.DATABASES[alias]["NAME"] = name


def run_manage(argv: list[str], env: dict[str, str], *, check: bool = True,
               timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`manage.py <argv>` in a child process with `env`; its output is returned."""
    result = subprocess.run([sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *argv],
                            cwd=settings.BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(argv)} failed ({result.returncode}):\n"
                           f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result
