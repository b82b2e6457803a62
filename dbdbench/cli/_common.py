"""Helpers shared by the command modules: error handling and common options."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

#: exceptions that mean "bad input": printed as one line and exit code 2, never a traceback
INPUT_ERRORS: tuple[type[BaseException], ...] = (ValueError, KeyError, FileNotFoundError, NotADirectoryError)


def fail(message: str) -> None:
    """Print ``error: message`` to stderr and exit with code 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def input_errors_exit_2(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn bad-input exceptions raised by the library into ``error: ...`` and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except INPUT_ERRORS as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            fail(str(msg))

    return wrapper


data_root_option = click.option(
    "--data-root",
    type=click.Path(file_okay=False, path_type=str),
    envvar="DBDBENCH_DATA",
    show_envvar=True,
    help="Root folder of the datasets (default ~/.cache/dbdbench/data).",
)
