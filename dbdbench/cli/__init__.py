"""The ``dbdbench`` command line: a click group whose commands live in one module each.

Commands are imported lazily so that ``dbdbench --help`` stays fast and never imports torch; each command
module is a thin layer over the library.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

from dbdbench import __version__

#: command name -> (module, attribute, one-line help shown in ``dbdbench --help``)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "evaluate": ("dbdbench.cli.evaluate", "evaluate", "Score a folder of predicted blur maps against a dataset."),
    "compare": ("dbdbench.cli.compare", "compare", "Paired intervals and tests: is B really better than A?"),
    "datasets": ("dbdbench.cli.datasets", "datasets", "List the registered datasets and check them on disk."),
    "protocols": ("dbdbench.cli.protocols", "protocols", "List the named evaluation protocols."),
    "synth": ("dbdbench.cli.synth", "synth", "Write a synthetic defocus dataset with exact masks."),
    "demo": ("dbdbench.cli.demo", "demo", "Build the demo dataset, predict, evaluate and print the table."),
    "table": ("dbdbench.cli.report", "table", "Write a LaTeX/Markdown/CSV table from result files."),
    "plot": ("dbdbench.cli.report", "plot", "Plot PR / F-measure / ROC curves from result files."),
    "leaderboard": ("dbdbench.cli.leaderboard", "leaderboard", "Regenerate reports/ from submissions/."),
    "sensitivity": ("dbdbench.cli.report", "sensitivity", "Score the same maps under every protocol."),
    "check": ("dbdbench.cli.check", "check", "Validate submissions (schema, safety, reproducibility)."),
    "predict": ("dbdbench.cli.predict", "predict", "Run a baseline method on images and write blur maps."),
    "train": ("dbdbench.cli.train", "train", "Train a deep baseline on a registered dataset."),
}


def _available(name: str) -> bool:
    module = COMMANDS[name][0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if _available(n))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module, attr, _ = COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, COMMANDS[n][2]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dbdbench")
def main() -> None:
    """dbdbench: benchmark and leaderboard toolkit for defocus blur detection.

    Maps are P(blur) internally; every score carries the protocol that produced it
    (see `dbdbench protocols`). Start with `dbdbench demo`.
    """
