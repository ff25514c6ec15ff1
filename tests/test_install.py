"""Install as a mail host would: build the wheel, install it into a fresh venv, run tlsc."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from compiler import __version__

REPO = Path(__file__).resolve().parent.parent


def test_wheel_installs_into_a_fresh_venv_and_reports_its_version(tmp_path: Path) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONPATH": ""}
    dist = tmp_path / "dist"
    # setuptools writes build/ and tlsc.egg-info/ next to pyproject.toml: build a copy
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(
        REPO / "compiler", src / "compiler", ignore=shutil.ignore_patterns("__pycache__")
    )
    # pip builds in an isolated environment (setuptools from pyproject's build-system)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
        check=True,
        env=env,
        timeout=240,
    )
    (wheel,) = dist.glob("tlsc-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(zf.read(meta).decode("utf-8"))
    assert metadata["Name"] == "tlsc"
    assert metadata["Version"] == __version__

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # --version needs click alone (cli.py imports each command lazily)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            str(wheel),
            "click",
        ],
        check=True,
        env=env,
        timeout=240,
    )
    out = subprocess.run(
        [str(venv / "bin" / "tlsc"), "--version"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.stdout.strip() == f"tlsc, version {__version__}"
