"""README's two commands stay true: CI runs exactly the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [b.strip() for b in blocks[:2]]


def test_ci_runs_the_readme_test_command():
    install_and_demo, tests = _readme_commands()
    assert "dbdbench demo" in install_and_demo
    test_cmd = tests.split("&&")[-1].strip()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in [line.strip() for line in ci]


def test_commands_named_in_readme_exist():
    from click.testing import CliRunner

    from dbdbench.cli import main

    text = (ROOT / "README.md").read_text()
    for name in sorted(set(re.findall(r"^dbdbench (\w+)", text, flags=re.M))):
        res = CliRunner().invoke(main, [name, "--help"])
        assert res.exit_code == 0, f"`dbdbench {name}` from README.md: {res.output}"
