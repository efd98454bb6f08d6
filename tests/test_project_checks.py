"""Project-wide checks that must keep passing: layering rules, deploy checks, migrations."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=300)


def test_the_layering_contracts_of_the_design_hold():
    # Contexts talk only through events, the outbox imports no context, nobody imports the
    # saga, domain modules are plain Python (pyproject.toml, [tool.importlinter]).
    result = run([str(BIN / "lint-imports"), "--no-cache"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# Production as it is configured: DEBUG off, a secret from the environment, a real mail
# backend (the console one is an error under --deploy), the HTTPS redirect on behind the proxy;
# secure cookies and HSTS are the defaults with DEBUG off. Nothing silenced.
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "DJANGO_SECURE_SSL_REDIRECT": "1", "DJANGO_SILENCED_SYSTEM_CHECKS": "",
}


def test_the_deploy_checks_find_no_issue_on_production_settings():
    result = run([sys.executable, "manage.py", "check", "--deploy"], **PRODUCTION)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output.strip() == "System check identified no issues (0 silenced).", output


def test_the_deploy_checks_fail_loudly_without_an_email_backend():
    result = run([sys.executable, "manage.py", "check", "--deploy"],
                 **{**PRODUCTION, "DJANGO_EMAIL_BACKEND": ""})
    assert result.returncode != 0
    assert "orders.E001" in result.stderr and "No e-mail backend" in result.stderr


def test_the_deploy_checks_refuse_a_backend_that_delivers_nothing():
    console = "django.core.mail.backends.console.EmailBackend"
    result = run([sys.executable, "manage.py", "check", "--deploy"],
                 **{**PRODUCTION, "DJANGO_EMAIL_BACKEND": console})
    assert result.returncode != 0
    assert "orders.E002" in result.stderr
    development = run([sys.executable, "manage.py", "check", "--deploy"],
                      **{**PRODUCTION, "DJANGO_EMAIL_BACKEND": "", "DJANGO_DEBUG": "1"})
    assert "orders.E00" not in development.stdout + development.stderr


def test_production_refuses_to_start_without_a_secret_from_the_environment():
    env = {**PRODUCTION, "DJANGO_SECRET_KEY": "", "DJANGO_ALLOW_DEV_SECRET": "0"}
    result = run([sys.executable, "manage.py", "check", "--deploy"], **env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_no_model_change_is_missing_its_migration():
    result = run([sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
                 DJANGO_SETTINGS_MODULE="tests.settings")
    assert result.returncode == 0, result.stdout + result.stderr
