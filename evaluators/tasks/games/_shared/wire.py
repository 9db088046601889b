"""How arrays cross the harness channel between a candidate's process and a games task's
trusted oracle (shipped next to the candidate, and imported by the oracles).

Two ways, the same float64 values either way (so the same scores):

- Shared memory, where the executor hands the oracle's memory to the candidate's process (the
  sandbox and warm workers do: the harness gives the candidate's side `oracle.fds`). The oracle
  creates it (`Shared`: a memfd sealed against shrinking and growing, so the candidate can
  neither truncate it under our mapping nor make it larger); arrays are written into it in
  place and only a small control message per step travels on the channel. The oracle copies
  what it reads out of the region *before* it checks anything (`Shared.read`): a candidate that
  writes into the region after answering changes nothing the oracle checked or uses.
- The channel itself (in-process runs, or an executor that hands over no descriptors): an
  array travels as base64 text of its little-endian float64 bytes in a JSON line: exact, and
  parsed far faster than JSON numbers. The shape is not sent: both sides know it.

Through the sandbox the shared path is what makes CFR fast: two channel round trips per
iteration carry a few bytes each instead of ~20 KB of base64 (Leduc) to ~1 MB (3-player Leduc).
"""

import base64
import fcntl
import mmap
import os
import weakref

import numpy as np

_SEALS = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL


def pack(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode()


def unpack(text: str) -> np.ndarray:
    """The flat float64 array `pack` sent; read-only (it is a view of the decoded bytes).
    Any value may arrive from a candidate: what is not base64 text of whole float64s raises
    TypeError or ValueError (a refusal), and the values may be anything (NaN, inf): the
    receiver checks them."""
    return np.frombuffer(base64.b64decode(text), dtype="<f8")


class Shared:
    """The trusted side's shared region: `size` float64s in a sealed memfd, mapped here.
    `fds` is what an executor hands to the candidate's process; the descriptor closes when
    this object is collected (the candidate's copy is its own)."""

    def __init__(self, size: int):
        fd = os.memfd_create("games-shared", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        weakref.finalize(self, os.close, fd)
        os.ftruncate(fd, max(size, 1) * 8)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
        self.fds = (fd,)
        self.array = np.frombuffer(mmap.mmap(fd, max(size, 1) * 8), dtype="<f8")

    def read(self, start: int, count: int) -> np.ndarray:
        """A private copy of `count` values from `start`: what the oracle checks and uses,
        out of the candidate's reach from now on."""
        return self.array[start:start + count].copy()

    def write(self, start: int, values: np.ndarray) -> None:
        """`values` (in C order) from `start` on."""
        self.array[start:start + values.size] = values.ravel()


def attach(oracle) -> np.ndarray | None:
    """The candidate's side: the region the executor handed over with `oracle` (the harness's
    `oracle.fds`), mapped read-write; None where none was (an in-process run)."""
    fds = getattr(oracle, "fds", ())
    if not fds:
        return None
    return np.frombuffer(mmap.mmap(fds[0], os.fstat(fds[0]).st_size), dtype="<f8")
