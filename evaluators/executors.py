"""The one place that builds an executor from what a user names: `fresh` (a new sandboxed
process per run), `warm` (a pool of fork servers with the heavy imports loaded) or `ray` (Ray
slots, each owning a warm worker). The CLI and campaigns both come here."""

import contextlib
from collections.abc import Iterator

from evaluators.devices import DeviceError
from evaluators.sandbox import LEVELS, Executor, Sandbox
from evaluators.task import TaskError
from evaluators.workers import WorkerPool

KINDS = ("fresh", "warm", "ray")


def check_isolation(isolation: str | None) -> None:
    if isolation is not None and isolation not in LEVELS:
        raise TaskError(f"unknown isolation level {isolation!r}: use one of {', '.join(LEVELS)}")


@contextlib.contextmanager
def open_executor(kind: str, *, size: int = 1, isolation: str | None = None,
                  address: str | None = None, preload: tuple[str, ...] = (),
                  gpus: int = 0) -> Iterator[Executor]:
    """An executor of `size` slots, closed (workers stopped, Ray left) on exit. `preload`: the
    modules a task's warm workers import once, besides numpy (a task's `preload` key). `gpus`:
    GPUs each slot owns (`[parallel] gpus_per_evaluation`, else the task's `gpus`); a TaskError
    of one line if the machine has too few."""
    check_isolation(isolation)
    preload = tuple(dict.fromkeys(("numpy", *preload)))
    if kind in ("fresh", "warm") and (gpus or kind == "warm"):
        try:  # fresh with GPUs: a fresh sandbox per slot, each holding its own GPUs
            pool = WorkerPool(size=size, level=isolation, preload=preload, gpus_per_slot=gpus,
                              warm=kind == "warm")
        except DeviceError as exc:
            raise TaskError(str(exc)) from None
        with pool:
            yield pool
    elif kind == "fresh":
        yield Sandbox(isolation)
    elif kind == "ray":
        from evaluators.ray_executor import RayExecutor

        ray_executor = RayExecutor(slots=size, address=address, preload=preload,
                                   num_gpus_per_slot=gpus)
        try:
            yield ray_executor
        finally:
            ray_executor.close()
    else:
        raise TaskError(f"unknown executor {kind!r}: use one of {', '.join(KINDS)}")
