"""The Makefile's commands as they would run here (``make -n``: printed, not run)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None or not hasattr(os, "geteuid"), reason="needs make on a POSIX system")
def test_make_notebooks_allows_root_only_as_root():
    result = subprocess.run(["make", "-n", "notebooks"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "jupyter lab" in line)
    assert line.split()[-1] == "notebooks"
    assert ("--allow-root" in line) == (os.geteuid() == 0), line


def test_the_readme_sends_people_to_make_notebooks_not_a_jupyter_that_may_be_missing():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make notebooks" in readme and ".venv/bin/jupyter lab" not in readme
