"""GPUs for evaluation slots: which exist, which slot owns which, and what a slot's sandbox and
trusted code see of them.

A campaign with `[parallel] gpus_per_evaluation = k` (or a task's `[limits] gpus`) gives each
of its evaluation slots its own k GPUs: no two slots share one, and a slot without GPUs sees
none. Inside the slot's bubblewrap sandbox only its `/dev/nvidia<N>` nodes (and the driver's
control nodes) exist and `CUDA_VISIBLE_DEVICES` names them; the trusted code of a case (the
RL task's trainer) runs on the slot's first GPU (`torch_device()`), else on the CPU.

Discovery reads the machine (nvidia-smi, the driver's /proc files, the device nodes); the
environment variable DISCOVERY_GPUS overrides it with a list of CUDA indices ("0,1", "" for
none), whose nodes are taken to be /dev/nvidia<index>: how the plumbing is tested on a machine
without GPUs, and how a user keeps a campaign off some GPUs.
"""

import contextlib
import contextvars
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ENV = "DISCOVERY_GPUS"
CONTROL_NODES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools")
"""The driver's shared nodes a CUDA process needs besides its GPUs' own (bound when present)."""


class DeviceError(Exception):
    """A campaign asks for GPUs this machine cannot give; the message is one line with the
    fix."""


@dataclass(frozen=True)
class Gpu:
    index: int
    """The GPU's CUDA index in PCI bus order (nvidia-smi's index)."""
    node: str
    """Its device node, /dev/nvidia<minor>."""
    uuid: str | None = None
    """nvidia-smi's GPU-... id: what CUDA_VISIBLE_DEVICES names, whatever the order."""


def discover() -> list[Gpu]:
    """This machine's GPUs: DISCOVERY_GPUS if set, else nvidia-smi's list (none without it)."""
    listed = os.environ.get(ENV)
    if listed is not None:
        try:
            indices = [int(part) for part in listed.replace(" ", "").split(",") if part]
        except ValueError:
            raise DeviceError(f"{ENV}={listed!r} is not a list of GPU indices: give e.g. "
                              f"{ENV}=0,1 (or {ENV}= for none)") from None
        return [Gpu(i, f"/dev/nvidia{i}") for i in indices]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        done = subprocess.run([smi, "--query-gpu=index,uuid,pci.bus_id",
                               "--format=csv,noheader"], capture_output=True, text=True,
                              timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in done.stdout.splitlines():
        index, uuid, bus = (part.strip() for part in line.split(","))
        gpus.append(Gpu(int(index), f"/dev/nvidia{_minor(bus, int(index))}", uuid))
    return gpus


def _minor(bus: str, index: int) -> int:
    """The device node's minor number of the GPU at PCI address `bus`, from the driver's
    /proc file; its index where the file cannot be read (they agree on most machines)."""
    info = Path("/proc/driver/nvidia/gpus") / bus.lower()[-12:] / "information"
    with contextlib.suppress(OSError):
        found = re.search(r"Device Minor:\s*(\d+)", info.read_text())
        if found:
            return int(found.group(1))
    return index


def split(gpus: list[Gpu], slots: int, per_slot: int) -> list[tuple[Gpu, ...]]:
    """`slots` disjoint sets of `per_slot` GPUs each, in order; a DeviceError (one line with
    the fix) if the machine has too few."""
    if slots * per_slot > len(gpus):
        raise DeviceError(f"{slots} evaluation slot(s) x {per_slot} GPU(s) each need "
                          f"{slots * per_slot} GPUs and this machine has {len(gpus)}: lower "
                          "[parallel] evaluations or gpus_per_evaluation (${ENV} lists the "
                          "GPUs a campaign may use, e.g. 0,1)")
    return [tuple(gpus[i * per_slot:(i + 1) * per_slot]) for i in range(slots)]


def nodes(gpus: tuple[Gpu, ...]) -> list[str]:
    """The device nodes a sandbox with `gpus` binds: theirs, and the control nodes present
    (none at all without GPUs)."""
    if not gpus:
        return []
    return [gpu.node for gpu in gpus] + [n for n in CONTROL_NODES if os.path.exists(n)]


def visible(gpus: tuple[Gpu, ...]) -> str:
    """CUDA_VISIBLE_DEVICES for a process that may use `gpus` (uuids where known)."""
    return ",".join(gpu.uuid or str(gpu.index) for gpu in gpus)


_SLOT: contextvars.ContextVar[tuple[Gpu, ...]] = contextvars.ContextVar("slot_gpus",
                                                                          default=())


@contextlib.contextmanager
def using(gpus: tuple[Gpu, ...]) -> Iterator[None]:
    """Within the block (this thread), trusted code runs on `gpus` (the slot's)."""
    token = _SLOT.set(gpus)
    try:
        yield
    finally:
        _SLOT.reset(token)


def slot_gpus() -> tuple[Gpu, ...]:
    return _SLOT.get()


def torch_device() -> str:
    """Where trusted code of the current slot computes: its first GPU as torch names it in
    this process (matched by uuid, else by index), or "cpu" for a slot without GPUs (never a
    GPU another slot owns)."""
    gpus = slot_gpus()
    if not gpus:
        return "cpu"
    import torch

    first = gpus[0]
    for i in range(torch.cuda.device_count()):
        uuid = str(torch.cuda.get_device_properties(i).uuid)
        if first.uuid and first.uuid.removeprefix("GPU-") == uuid.removeprefix("GPU-"):
            return f"cuda:{i}"
    return f"cuda:{first.index}"
