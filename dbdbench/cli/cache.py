"""``dbdbench cache info|clear``: the decoded-GT cache (:mod:`dbdbench.gt.cache`)."""

from __future__ import annotations

import click

from dbdbench.cli._common import fail_on


def _size(n: float) -> str:
    """``n`` bytes in binary units, e.g. ``3.8 MiB``."""
    units = ["B", "KiB", "MiB", "GiB"]
    while n >= 1024 and len(units) > 1:
        n /= 1024
        units.pop(0)
    return f"{n:.0f} B" if units[0] == "B" else f"{n:.1f} {units[0]}"


@click.group("cache")
def cache() -> None:
    """The cache of decoded GT masks ($DBDBENCH_CACHE, bounded by $DBDBENCH_CACHE_MAX)."""


@cache.command("info")
def info() -> None:
    """Where the cache is, how many entries and bytes it holds and its bound."""
    from dbdbench.gt.cache import cache_dir, cache_info, cache_max

    folder = cache_dir()
    if folder is None:
        click.echo("the GT cache is off (DBDBENCH_CACHE=off)")
        return
    with fail_on(ValueError):
        bound = cache_max()
    n, size = cache_info(folder)
    click.echo(f"folder:  {folder}\nentries: {n} ({_size(size)})\nbound:   {_size(bound)} (DBDBENCH_CACHE_MAX; "
               "least recently used entries are removed beyond it)")  # fmt: skip


@cache.command("clear")
def clear() -> None:
    """Remove every entry (the cache only saves time: entries are rebuilt when needed)."""
    from dbdbench.gt.cache import cache_dir
    from dbdbench.gt.cache import clear as clear_folder

    folder = cache_dir()
    if folder is None:
        click.echo("the GT cache is off (DBDBENCH_CACHE=off): nothing to clear")
        return
    n, size = clear_folder(folder)
    click.echo(f"removed {n} entries ({_size(size)}) from {folder}")
