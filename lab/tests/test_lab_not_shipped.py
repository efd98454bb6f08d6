"""The lab is a clone's tooling: installed as an app where it can be imported, left out of the
package (`pip install .`) and of the image (.dockerignore)."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def test_in_a_clone_the_lab_is_an_installed_app():
    assert "lab" in settings.INSTALLED_APPS


def test_the_package_leaves_the_lab_out_and_keeps_every_production_package():
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]

    def shipped(name: str) -> bool:
        return (any(fnmatch(name, p) for p in find["include"])
                and not any(fnmatch(name, p) for p in find.get("exclude", [])))

    assert not shipped("lab") and not shipped("lab.bench")
    for package in ("config", "common", "outbox", "saga", "orders", "inventory", "payments",
                    "shipping"):
        assert shipped(package), package


def test_the_image_leaves_the_lab_out():
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    assert "lab" in ignored
