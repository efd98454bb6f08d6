"""Project-wide checks that must keep passing: layering rules, deploy checks, migrations."""

import os
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


def test_the_deploy_checks_run_on_production_settings():
    # As production is configured: a real secret and a real mail backend (the console one is
    # an error under --deploy). Warnings are allowed here; errors and crashes are not.
    result = run([sys.executable, "manage.py", "check", "--deploy"],
                 DJANGO_SETTINGS_MODULE="config.settings", DJANGO_DEBUG="0",
                 DJANGO_SECRET_KEY="deploy-check-" + "k" * 50,
                 DJANGO_EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified" in output and "Traceback" not in output


def test_no_model_change_is_missing_its_migration():
    result = run([sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
                 DJANGO_SETTINGS_MODULE="tests.settings")
    assert result.returncode == 0, result.stdout + result.stderr
