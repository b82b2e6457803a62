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


def test_commands_in_readme_exist_with_their_options():
    from click.testing import CliRunner

    from dbdbench.cli import main

    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    lines = [ln.split("#")[0].strip() for b in blocks for ln in b.splitlines()]
    commands = [ln.split() for ln in lines if ln.startswith("dbdbench ")]
    assert len(commands) >= 10
    for words in commands:
        res = CliRunner().invoke(main, [words[1], "--help"])
        assert res.exit_code == 0, f"`{' '.join(words)}` from README.md: {res.output}"
        for opt in (w for w in words[2:] if w.startswith("--")):
            assert opt in res.output, f"README.md uses `{opt}`, which `dbdbench {words[1]}` does not have"


def test_layout_shows_every_package_and_module():
    text = (ROOT / "README.md").read_text()
    layout = text[text.index("## Layout"):]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    for pkg in ("dbdbench", "baselines"):
        for path in sorted((ROOT / pkg).iterdir()):
            if path.is_dir() and (path / "__init__.py").is_file() or path.name == "data":
                assert f"{path.name}/" in layout, f"README.md Layout does not show {pkg}/{path.name}/"
            elif path.suffix == ".py" and not path.name.startswith("_"):
                assert path.name in layout, f"README.md Layout does not show {pkg}/{path.name}"
    assert "CONTRIBUTING.md" in text
