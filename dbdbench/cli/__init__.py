"""The ``dbdbench`` command line: a click group whose commands live in one module each.

Commands are imported lazily so that ``dbdbench --help`` stays fast and never imports torch; each command
module is a thin layer over the library. Packages that extend dbdbench add commands through the
``dbdbench.commands`` entry point (:mod:`dbdbench.plugins`); ``baselines`` adds ``predict`` and ``train``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

import click

from dbdbench import __version__
from dbdbench.cli._common import INPUT_ERRORS, fail_on, write_errors_exit_2
from dbdbench.datasets import register_toml_files
from dbdbench.plugins import COMMANDS_GROUP, registered

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
    "cache": ("dbdbench.cli.cache", "cache", "Show or clear the cache of decoded GT masks."),
    "inspect": ("dbdbench.cli.inspect", "inspect", "Write an offline HTML page to look at every image of results."),
    "submit": ("dbdbench.cli.submit", "submit", "Make a leaderboard entry in submissions/ from result files."),
}


def _available(name: str) -> bool:
    module = COMMANDS[name][0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _plugin_help(command: click.Command) -> str:
    return command.short_help or command.get_short_help_str(limit=80)


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command runs (plug-ins when listed)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        builtin = {n for n in COMMANDS if _available(n)}
        return sorted(builtin | set(registered(COMMANDS_GROUP)))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and _available(cmd_name):
            module, attr, _ = COMMANDS[cmd_name]
            return getattr(importlib.import_module(module), attr)
        plugin = registered(COMMANDS_GROUP).get(cmd_name)
        return None if plugin is None else plugin.load()

    def invoke(self, ctx: click.Context) -> object:
        with write_errors_exit_2():  # the one place a failed write becomes a one-line error (plug-ins too)
            return super().invoke(ctx)

    def _help_line(self, ctx: click.Context, name: str) -> str:
        if name in COMMANDS:
            return COMMANDS[name][2]
        command = self.get_command(ctx, name)
        return "" if command is None else _plugin_help(command)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, self._help_line(ctx, n)) for n in self.list_commands(ctx)]
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
    # the edge: environment settings are read here and passed down (DBDBENCH_DATA by --data-root)
    with fail_on(*INPUT_ERRORS):
        register_toml_files(os.environ.get("DBDBENCH_DATASETS", "").split(os.pathsep))
