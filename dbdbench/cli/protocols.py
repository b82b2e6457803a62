"""``dbdbench protocols``: list the named evaluation protocols."""

from __future__ import annotations

import click


@click.command()
@click.argument("name", required=False)
def protocols(name: str | None) -> None:
    """List the protocols, or show every setting of NAME (see docs/protocols.md)."""
    from dbdbench.cli._common import fail
    from dbdbench.metrics import PROTOCOLS, get_protocol

    if name is None:
        for proto in PROTOCOLS.values():
            click.echo(f"{proto.name:10s} {proto.description}")
        return
    try:
        proto = get_protocol(name)
    except KeyError as exc:
        fail(str(exc.args[0]))
    for key, value in proto.settings().items():
        if key == "thresholds" and value is not None and len(value) > 8:
            value = f"{len(value)} values from {value[0]} to {value[-1]}"
        click.echo(f"{key:18s} {value}")
    # how results are presented: leaderboard order, a table's default columns, the checkpoint-selection score
    for key in ("primary", "columns", "headline"):
        value = getattr(proto, key)
        click.echo(f"{key:18s} {list(value) if isinstance(value, tuple) else value}")
