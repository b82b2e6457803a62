"""Helpers shared by the command modules: the one error path and the common options.

Bad input ends every command the same way: ``error: <message>`` on stderr and exit code 2, by raising
:class:`InputError` (directly, through :func:`fail`, or from a library error under :func:`fail_on`). So does a
file that cannot be written (:class:`dbdbench.results.WriteError`, a full disk met anywhere): every command,
plug-ins included, runs under :func:`write_errors_exit_2`.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

#: exceptions that mean "bad input": printed as one line and exit code 2, never a traceback
INPUT_ERRORS: tuple[type[BaseException], ...] = (ValueError, KeyError, FileNotFoundError, NotADirectoryError)


class InputError(click.ClickException):
    """Bad input named in one line: ``error: <message>`` on stderr, exit code 2."""

    exit_code = 2

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class RegistryChoice(click.Choice):
    """A :class:`click.Choice` whose values a registry gives when the command runs, not when it is defined,
    so that names registered after import (plug-ins, ``register_protocol``) are accepted and listed."""

    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        self._names = names
        super().__init__(list(names()))

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self._names())

    @choices.setter
    def choices(self, value: Any) -> None:  # click.Choice.__init__ assigns; the registry stays the source
        pass


def fail(message: str) -> NoReturn:
    """End the command with ``error: message`` on stderr and exit code 2."""
    raise InputError(message)


@contextmanager
def fail_on(*errors: type[BaseException]) -> Iterator[None]:
    """Turn one of ``errors`` raised inside the block into :class:`InputError` (its message, exit code 2)."""
    try:
        yield
    except errors as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise InputError(str(message)) from exc


#: errors of a full or read-only file system, met by a writer that is not :func:`dbdbench.results.atomic_path`
_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


@contextmanager
def write_errors_exit_2() -> Iterator[None]:
    """Turn a failed write into ``error: cannot write FILE: REASON`` and exit code 2, never a traceback."""
    from dbdbench.io import WriteError

    try:
        yield
    except WriteError as exc:
        raise InputError(str(exc)) from exc
    except OSError as exc:
        if exc.errno not in _DISK_ERRNOS:
            raise
        raise InputError(f"cannot write {exc.filename or 'a file'}: {exc.strerror}") from exc


def input_errors_exit_2(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn bad-input exceptions raised by the library (:data:`INPUT_ERRORS`) into exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with fail_on(*INPUT_ERRORS):
            return func(*args, **kwargs)

    return wrapper


data_root_option = click.option(
    "--data-root",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="DBDBENCH_DATA",
    show_envvar=True,
    help="Root folder of the datasets (default ~/.cache/dbdbench/data).",
)
"""The one ``--data-root`` option of every command that reads datasets (``$DBDBENCH_DATA`` when not given)."""
