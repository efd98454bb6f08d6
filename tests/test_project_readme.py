"""README stays true to the code: every variable the project reads is in its configuration
table, and the commands it names exist."""

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()

# env("X"), env.bool("X"), env.db_url("X") ... in settings; os.environ.get("X") in gunicorn.conf.
SETTINGS_READ = re.compile(r"""\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]+)["']""")
ENVIRON_READ = re.compile(r"""os\.environ\.get\(\s*["']([A-Z][A-Z0-9_]+)["']""")
# Set for the test run only (tests/settings.py), not configuration.
TEST_ONLY = {"SAGA_TEST_APPS"}


def documented() -> set[str]:
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", README, flags=re.MULTILINE))


def test_every_setting_read_from_the_environment_is_in_the_readme():
    read = set(SETTINGS_READ.findall((ROOT / "config" / "settings.py").read_text()))
    read |= set(ENVIRON_READ.findall((ROOT / "gunicorn.conf.py").read_text()))
    missing = read - TEST_ONLY - documented()
    assert not missing, f"add these to README's configuration table: {sorted(missing)}"


def test_the_readme_commands_exist_and_are_executable():
    for command in ("scripts/run", "scripts/test", "scripts/bootstrap", "scripts/services",
                    ".ci/run"):
        assert f"`{command}" in README
        assert os.access(ROOT / command, os.X_OK), f"{command} is not executable"


def test_the_layout_section_names_every_top_level_folder():
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.splitlines()
    folders = {path.split("/")[0] for path in tracked if "/" in path and path[0] != "."}
    layout = README.split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^([a-z_]+)/ ", layout, flags=re.MULTILINE))
    assert folders <= listed, f"add to README's layout: {sorted(folders - listed)}"
