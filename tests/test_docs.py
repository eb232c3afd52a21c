"""Docs are tested: every `alpr` subcommand is documented in the README."""

from pathlib import Path

from appliance.cli import build_parser

REPO = Path(__file__).resolve().parents[1]


def test_every_subcommand_is_in_the_readme():
    readme = (REPO / "README.md").read_text()
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    missing = [name for name in sub.choices if f"alpr {name}" not in readme]
    assert not missing, f"README.md does not document: {missing}"


def test_quick_start_is_two_commands():
    readme = (REPO / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = [line.strip() for line in quick.splitlines() if line.strip().startswith("make ")]
    assert commands == ["make demo", "make test"]


def test_ci_calls_the_readme_test_command():
    assert "make test" in (REPO / ".ci" / "run").read_text()
