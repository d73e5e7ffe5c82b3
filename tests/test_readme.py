"""Every shell command in README.md runs: ``chainrule`` commands here, ``make`` targets exist.

CI runs ``make docs``, ``make test``, ``make demo``, ``make lint`` and ``make bench`` for real (.ci/run); this
test runs each ``chainrule`` line of the README as written, in a temporary directory, and checks
that every ``make`` target the README names is defined.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import needs_dot

from chainrule_cli.main import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def shell_lines() -> list[str]:
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            command = line.split("#")[0].strip()
            if command:
                lines.append(command)
    return lines


def test_the_readme_is_short():  # a front door: the rest is on the documentation site (docs/)
    assert len(README.splitlines()) <= 150


def test_the_readme_links_to_files_that_exist():
    links = [link.split("#")[0] for link in re.findall(r"\]\(([^)]+)\)", README) if "://" not in link]
    assert links and [link for link in links if not (ROOT / link).exists()] == []


def test_images_in_readme_exist():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert images and all((ROOT / image).is_file() for image in images)


def test_readme_has_the_two_setup_commands():
    assert shell_lines()[:2] == ["make demo", "make test"]


# commands in sh blocks and in inline code; `chainrule graph` alone names the subcommand in prose
CHAINRULE_COMMANDS = sorted(({c for c in shell_lines() if c.startswith("chainrule")}
                             | set(re.findall(r"`(chainrule [^`]+)`", README))) - {"chainrule graph"})


@needs_dot
@pytest.mark.slow
@pytest.mark.parametrize("command", CHAINRULE_COMMANDS)
def test_chainrule_commands_in_readme_run(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = shlex.split(command)[1:]
    for i, arg in enumerate(args[:-1]):  # an output file's folder exists in the repository
        if arg == "-o":
            (tmp_path / args[i + 1]).parent.mkdir(parents=True, exist_ok=True)
    if args == ["--help"]:  # main returns argparse's exit status instead of raising SystemExit
        assert main(args) == 0 and "train" in capsys.readouterr().out
        return
    assert main(args + (["--no-progress"] if args[0] == "train" else [])) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "d out / d" in out or "test accuracy" in out


MAKE_TARGETS = sorted({c for c in shell_lines() if c.startswith("make")} | set(re.findall(r"`(make \w+)`", README)))


def test_the_readme_names_its_make_targets():
    assert {"make demo", "make test", "make setup", "make notebooks", "make docs", "make bench",
            "make lint"} <= set(MAKE_TARGETS)


@pytest.mark.parametrize("command", MAKE_TARGETS)
def test_make_targets_in_readme_exist(command):
    result = subprocess.run(["make", "-n", *shlex.split(command)[1:]], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# each ratio the README states, with the row of bench/RESULTS.md (written by make bench) it comes from
STATED_RATIOS = [("1", r"about ([\d.]+)× faster than micrograd's"), ("5", r"about ([\d.]+)× slower than PyTorch's"),
                 ("1d", r"about ([\d.]+)× faster than PyTorch float32")]


@pytest.mark.parametrize(("row", "pattern"), STATED_RATIOS)
def test_the_ratios_the_readme_states_are_the_benchmarks(row, pattern):
    results = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    measured = re.search(rf"^\| {re.escape(row)}\. .*\| ([\d.,]+)× (?:faster|slower) \|$", results, flags=re.M)
    stated = re.search(pattern, README)
    assert measured and stated, (row, pattern)
    ratio = float(measured.group(1).replace(",", ""))
    assert abs(float(stated.group(1)) - ratio) <= 0.2 * ratio, f"README says {stated.group(0)}; bench row {row}: {ratio}×"
