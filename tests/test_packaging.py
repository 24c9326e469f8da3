"""m2m_auth ships on its own, and its reference page lists every setting it reads."""

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from m2m_auth.conf import DEFAULTS, ENVIRONMENT

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "m2m_auth.md"


def documented_default(value) -> str:
    if isinstance(value, list):
        return json.dumps(value)
    return '""' if value == "" else str(value)


def test_reference_page_lists_every_setting_with_its_environment_variable_and_default():
    rows = {}
    for line in REFERENCE.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`[A-Z_]+`", cells[0]):
            rows[cells[0].strip("`")] = (cells[1].strip("`"), cells[2].split("`")[1])
    assert set(rows) == set(DEFAULTS)
    for name, (env, default) in rows.items():
        assert (env, default) == (ENVIRONMENT.get(name, "—"), documented_default(DEFAULTS[name])), name


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("django_m2m_auth-*.whl")
    return built


def test_the_distribution_holds_m2m_auth_and_nothing_else(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if not name.startswith("django_m2m_auth-")}
    assert packages == {"m2m_auth"}
    for module in ("authentication", "permissions", "tokens", "requests_auth", "jwks", "validation", "checks"):
        assert f"m2m_auth/{module}.py" in names
    assert "m2m_auth/management/commands/m2m_token.py" in names


def test_the_distribution_declares_its_runtime_dependencies(wheel):
    archive = zipfile.ZipFile(wheel)
    (metadata,) = [name for name in archive.namelist() if name.endswith("METADATA")]
    requires = [line for line in archive.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")]
    assert any("django" in line.lower() and "5.2" in line for line in requires)
    assert any("pyjwt[crypto]" in line.lower() and "2.15" in line for line in requires)
    assert any("djangorestframework" in line.lower() for line in requires)
    assert any("requests" in line.lower() for line in requires)
