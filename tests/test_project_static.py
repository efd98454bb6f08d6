"""With DEBUG off, web serves its own static files: the admin's CSS and Swagger UI's scripts
come from `collectstatic`'s output through WhiteNoise, never from a CDN. The real thing runs:
`manage.py collectstatic` and gunicorn on the production settings, as the image does."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def get(url: str) -> tuple[int, dict[str, str], str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, dict(response.headers), response.read().decode(errors="replace")


@pytest.fixture(scope="module")
def production_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "static-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "DJANGO_STATIC_ROOT": str(tmp_path_factory.mktemp("staticfiles")),
        "WEB_HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_WORKERS": "1",
        "LOG_FORMAT": "text",
    }
    collected = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert collected.returncode == 0, collected.stderr
    log = tmp_path_factory.mktemp("web") / "gunicorn.log"
    with log.open("wb") as out:
        web = subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi", "-c",
                                "gunicorn.conf.py"], cwd=ROOT, env=env, stdout=out,
                               stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _answers(port) or web.poll() is not None, timeout=60,
                 message="gunicorn to listen")
        assert web.poll() is None, log.read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        web.terminate()
        web.wait(timeout=30)


def test_the_admin_css_is_served_with_debug_off(production_web):
    status, _, page = get(f"{production_web}/admin/login/")
    assert status == 200
    # collectstatic's hashed name: cacheable for ever, as WhiteNoise says.
    css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
    assert css, "the admin login page links no hashed base.css"
    status, headers, body = get(production_web + css.group(1))
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert "immutable" in headers.get("Cache-Control", "")
    assert "body" in body


def test_swagger_ui_loads_its_scripts_from_the_app_not_a_cdn(production_web):
    status, _, page = get(f"{production_web}/api/schema/ui/")
    assert status == 200
    sources = re.findall(r'<script src="([^"]+)"', page)
    bundle = [src for src in sources if "swagger-ui-bundle" in src]
    assert bundle, sources
    assert all(src.startswith("/static/") for src in sources), sources
    assert "cdn" not in page.lower()
    status, headers, body = get(production_web + bundle[0])
    assert status == 200
    assert "javascript" in headers["Content-Type"]
    assert "SwaggerUIBundle" in body
