"""Helpers shared by the command modules: error handling and common options."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

#: exceptions that mean "bad input": printed as one line and exit code 2, never a traceback
INPUT_ERRORS: tuple[type[BaseException], ...] = (ValueError, KeyError, FileNotFoundError, NotADirectoryError)


class InputError(click.ClickException):
    """Bad input named in one line; exit code 2 like every other bad-input error of the CLI."""

    exit_code = 2


def fail(message: str) -> None:
    """Print ``error: message`` to stderr and exit with code 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@contextmanager
def fail_on(*errors: type[BaseException]) -> Iterator[None]:
    """Print ``error: <message>`` on stderr and exit with status 2 when one of ``errors`` is raised."""
    try:
        yield
    except errors as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        fail(str(message))


def input_errors_exit_2(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn bad-input exceptions raised by the library (:data:`INPUT_ERRORS`) into exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with fail_on(*INPUT_ERRORS):
            return func(*args, **kwargs)

    return wrapper


data_root_option = click.option(
    "--data-root",
    type=click.Path(file_okay=False, path_type=str),
    envvar="DBDBENCH_DATA",
    show_envvar=True,
    help="Root folder of the datasets (default ~/.cache/dbdbench/data).",
)
