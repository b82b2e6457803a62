"""Running tasks on a Dask cluster: connecting with a bounded wait, and giving up when every worker is gone.

``dbdbench evaluate --scheduler ADDRESS`` sends its chunks of images to the workers of an existing Dask
cluster (``docs/scale.md``). Two waits of ``distributed`` are unbounded or noisy by default: a scheduler that
does not answer ends in a traceback, and tasks whose workers all died stay pending forever. Here both end
in a :class:`ClusterError` (a ``ValueError``: exit code 2 on the command line) that names the scheduler.
A worker that dies while others live costs nothing but time: the scheduler runs its tasks again elsewhere,
and the results, gathered in input order, are the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

#: the longest wait for a scheduler to answer, in seconds (a shorter ``timeout`` wins)
CONNECT_TIMEOUT = 10.0
#: default seconds to wait for a worker when none is left (``--timeout``)
WORKER_TIMEOUT = 60.0
#: how often the run checks on its workers, in seconds
_POLL = 0.5


class ClusterError(ValueError):
    """The Dask cluster cannot run the evaluation (unreachable scheduler, no worker left); nothing was written."""


def connect(address: str, timeout: float = WORKER_TIMEOUT):
    """A ``distributed.Client`` of the scheduler at ``address``, waiting at most ``min(timeout, CONNECT_TIMEOUT)``.

    Raises
    ------
    ClusterError
        Naming the address, when the scheduler does not answer in time or refuses the connection.
    """
    from distributed import Client

    wait = min(timeout, CONNECT_TIMEOUT)
    try:
        return Client(address, timeout=wait)
    except Exception as exc:  # refused, timed out, a malformed address, or something else answering there
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0]}" if str(exc) else type(exc).__name__
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({reason}; connecting waits at most {wait:g} s); "
            "start it with `dask scheduler` and check the address (see docs/scale.md)"
        ) from None


def map_in_order(
    func: Callable[..., Any],
    items: Sequence[Any],
    *,
    timeout: float = WORKER_TIMEOUT,
    on_result: Callable[[Any], None] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """``[func(item, **kwargs) for item in items]`` on the cluster of the current ``distributed.Client``.

    Results come back in the order of ``items`` whatever the order the workers finish in. A task whose
    worker dies is run again by the scheduler on another worker. When no worker is connected for
    ``timeout`` seconds the pending tasks are cancelled and :class:`ClusterError` names the workers lost.
    An exception raised by ``func`` is raised here.
    """
    from distributed import get_client

    client = get_client()
    address = client.scheduler.address
    seen = _workers(client, address)  # before any task can kill one
    futures = client.map(func, list(items), pure=False, **kwargs)
    try:
        return _gather(client, address, futures, seen, timeout, on_result)
    finally:
        client.cancel([f for f in futures if f.status == "pending"])


def _gather(client, address: str, futures: list, seen: set[str], timeout: float, on_result) -> list[Any]:
    from distributed import KilledWorker, wait

    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    pending = set(futures)
    alone_since: float | None = None
    while pending:
        try:
            done, pending = wait(pending, timeout=_POLL, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        for fut in done:
            try:
                results[index[fut.key]] = out = fut.result()
            except KilledWorker as exc:
                raise ClusterError(f"the Dask workers of {address} kept dying on one task ({exc}); "
                                   "check their logs (memory limits?)") from None  # fmt: skip
            except (OSError, ValueError) as exc:
                if isinstance(exc, FileNotFoundError) or "No such file or directory" in str(exc):
                    raise ClusterError(f"a Dask worker of {address} cannot see a file this machine sees: {exc}; "
                                       "workers must see the files at the same absolute paths (a shared file "
                                       "system, see docs/scale.md)") from None  # fmt: skip
                raise
            if on_result is not None:
                on_result(out)
        workers = _workers(client, address)
        seen |= workers
        if workers or not pending:
            alone_since = None
        elif alone_since is None:
            alone_since = time.monotonic()
        elif time.monotonic() - alone_since > timeout:
            names = ", ".join(sorted(seen)) or "none had connected"
            raise ClusterError(
                f"no Dask worker left at {address} for {timeout:g} s (workers lost: {names}); gave up with "
                f"{len(pending)} of {len(futures)} task(s) unfinished and nothing written (see docs/scale.md)"
            )
    return results


def _workers(client, address: str) -> set[str]:
    """The addresses of the workers connected now (asked of the scheduler, not a cached list)."""
    try:
        return set(client.nthreads())
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"lost the connection to the Dask scheduler at {address} ({exc})") from None


def total_threads() -> int:
    """Threads of all workers of the current client's cluster (at least 1)."""
    from distributed import get_client

    return max(1, sum(get_client().nthreads().values()))
