"""The lock files are the install: a fresh virtualenv gets every dependency from
requirements/lock-deploy.txt (hash-checked), the project on top without dependencies of its
own, `pip check` finds every declared requirement met (no --no-deps anywhere), and Django
starts with every installed app imported. Slow (a real install, from pip's cache when warm)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from django.conf import settings
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("lock.txt", "lock-deploy.txt")
PINNED = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", re.MULTILINE)


def locked(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / name).read_text()
    return {pkg.lower().replace("_", "-"): version for pkg, version in PINNED.findall(text)}


def declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in extras:
        names += project["optional-dependencies"][extra]
    return [Requirement(name) for name in names]


@pytest.mark.parametrize(("lock", "extras"), [("lock.txt", ("dev",)), ("lock-deploy.txt", ())])
def test_the_locks_pin_what_pyproject_declares(lock, extras):
    pins = locked(lock)
    for requirement in declared(*extras):
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in requirements/{lock}: run scripts/lock"
        assert requirement.specifier.contains(pins[name]), (
            f"requirements/{lock} has {name}=={pins[name]}, pyproject.toml says "
            f"{requirement.specifier}: run scripts/lock"
        )


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_package_carries_its_hashes(lock):
    text = (ROOT / "requirements" / lock).read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert entries
    for entry in entries:
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_bootstrap_installs_from_the_lock_and_reinstalls_when_it_changes():
    bootstrap = (ROOT / "scripts" / "bootstrap").read_text()
    assert "pip install --quiet --require-hashes -r requirements/lock.txt" in bootstrap
    assert "pip install --quiet --no-deps -e ." in bootstrap
    fingerprint = next(line for line in bootstrap.splitlines() if line.startswith("fingerprint="))
    assert "requirements/lock.txt" in fingerprint and "pyproject.toml" in fingerprint


def test_nothing_installs_around_the_resolver():
    for path in ("scripts/bootstrap", "Dockerfile", "scripts/test", ".ci/run"):
        text = (ROOT / path).read_text()
        assert "--no-deps -r" not in text, path
    assert not (ROOT / "requirements" / "no-deps.txt").exists()


@pytest.mark.install
def test_a_fresh_venv_from_the_deploy_lock_runs_every_installed_app(tmp_path):
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    env = {key: value for key, value in os.environ.items()
           if key not in {"VIRTUAL_ENV", "PYTHONPATH", "DJANGO_SETTINGS_MODULE", "SAGA_TEST_APPS"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def run(*argv: str | Path, cwd: Path = tmp_path) -> str:
        result = subprocess.run([str(arg) for arg in argv], cwd=cwd, env=env,
                                capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"{argv}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        return result.stdout

    run(sys.executable, "-m", "venv", venv)
    run(python, "-m", "pip", "install", "--quiet", "--require-hashes", "-r",
        ROOT / "requirements" / "lock-deploy.txt")
    # A copy of the source, so the build leaves nothing behind in the checkout.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".*", "__pycache__", "build", "*.egg-info", "staticfiles", "bench-results"))
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", source)
    run(python, "-m", "pip", "check")

    # From outside the source tree, so every import comes from the installed package.
    started = run(python, "-c", (
        "import importlib, json, os\n"
        "os.environ.update(DJANGO_SETTINGS_MODULE='config.settings', DJANGO_DEBUG='0',"
        " DJANGO_ALLOW_DEV_SECRET='1')\n"
        "import django\n"
        "django.setup()\n"
        "from django.apps import apps\n"
        "names = [app.name for app in apps.get_app_configs()]\n"
        "files = {name: importlib.import_module(name).__file__ for name in names}\n"
        "print(json.dumps(files))\n"
    ))
    files = json.loads(started.splitlines()[-1])
    # The lab and the tests' probe app are not shipped: only a clone installs them.
    expected = [app for app in settings.INSTALLED_APPS
                if not app.startswith("tests.") and app != "lab"]
    assert sorted(files) == sorted(expected)
    for name, file in files.items():
        assert str(venv) in file, f"{name} imported from {file}, not from the fresh venv"
