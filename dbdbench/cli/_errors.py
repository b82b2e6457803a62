"""Turn the library's expected errors into a one-line message and exit code 2 (bad input)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click


@contextmanager
def fail_on(*errors: type[BaseException]) -> Iterator[None]:
    """Print ``error: <message>`` on stderr and exit with status 2 when one of ``errors`` is raised."""
    try:
        yield
    except errors as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        click.echo(f"error: {message}", err=True)
        raise SystemExit(2) from None
