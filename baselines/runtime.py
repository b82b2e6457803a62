"""The process's place in a (possibly distributed) training job: seeding, device, process group, stop signals.

Under ``torchrun`` the environment holds ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; the process joins the
default group with NCCL on CUDA devices and gloo on CPUs, one process per GPU (``cuda:LOCAL_RANK``).

References
----------
.. [1] PyTorch documentation, "torchrun (Elastic Launch)" and "Distributed communication package".
"""

from __future__ import annotations

import os
import random
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Runtime:
    """This process's place in the job: rank, world size and device."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (the legacy global generator third-party code may use)
    torch.manual_seed(seed)


def setup_runtime(device: str) -> Runtime:
    """Join the ``torchrun`` process group when ``WORLD_SIZE > 1``; pick the device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local if world > 1 else torch.cuda.current_device())
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
    set_cpu_threads(int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return Runtime(rank, world, dev)


def set_cpu_threads(local_processes: int) -> int:
    """Give each of this machine's ``local_processes`` training processes an equal share of its CPUs.

    PyTorch's default is one intra-op thread per core in every process, so ``k`` processes on one machine
    would run ``k`` times as many threads as cores. The share is the CPUs this process may run on
    (``os.sched_getaffinity``, which honours ``taskset`` and container limits) divided by the local process
    count, at least 1. An ``OMP_NUM_THREADS`` set in the environment (by the user, or by ``torchrun``, which
    sets 1 for several processes per machine) is left as it is. Returns the thread count in use.
    """
    if "OMP_NUM_THREADS" not in os.environ:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        torch.set_num_threads(max(1, cpus // max(1, local_processes)))
    return torch.get_num_threads()


def sync_buffers(model: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm statistics) to every rank: DDP syncs them only before each forward,
    so after the last step the replicas would otherwise differ in the statistics of their last local batch."""
    for buf in model.buffers():
        dist.broadcast(buf, 0)


def ignore_stop_signals(_worker_id: int = 0) -> None:
    """``worker_init_fn`` of the data loaders: workers ignore SIGINT and SIGTERM, which the main process handles
    (it saves a checkpoint, then ends the workers); a worker killed by them would abort the save."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class TrainingInterrupted(Exception):
    """SIGTERM or SIGINT stopped the run after ``step``; ``checkpoint`` holds that step (rank 0)."""

    def __init__(self, signum: int, step: int, checkpoint: Path | None) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"{name} received: stopped after step {step}, checkpoint {checkpoint}; continue with "
                         "--resume auto")
        self.signum, self.step, self.checkpoint = signum, step, checkpoint


class StopSignals:
    """SIGTERM and SIGINT (as schedulers send before killing a job, and Ctrl-C) mark the run to stop after the
    current step, once its checkpoint is saved; a second signal acts as usual. Under DDP every rank learns of a
    signal any rank received (one all-reduce per step), so all stop after the same step. Handlers are only
    installed in the main thread (elsewhere the signals act as usual)."""

    SIGNALS = ("SIGTERM", "SIGINT")

    def __init__(self, world: int, device: torch.device) -> None:
        self.world, self.device, self.received = world, device, 0
        self.previous: dict = {}

    def install(self) -> StopSignals:
        """Handle SIGTERM and SIGINT from now on (in the main thread; elsewhere nothing changes)."""
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                sig = getattr(signal, name)
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame) -> None:
        self.received = self.received or signum
        self.uninstall()  # a second signal is not deferred

    def uninstall(self) -> None:
        """Put the previous handlers back."""
        for sig, handler in self.previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
        self.previous = {}

    def requested(self) -> int:
        """The signal number to stop for (0 = none), agreed over the ranks."""
        if self.world == 1:
            return self.received
        flag = torch.tensor([self.received], dtype=torch.int64, device=self.device)  # NCCL reduces CUDA tensors
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return int(flag)
