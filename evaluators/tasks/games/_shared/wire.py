"""How arrays cross the harness channel between a candidate's process and a games task's
trusted oracle (shipped next to the candidate, and imported by the oracles).

The channel carries JSON lines. An array travels as base64 text of its little-endian float64
bytes: exact, and parsed far faster than JSON numbers (a 3-player PSRO meta-game gains ~90,000
entries per iteration; a CFR iteration on 3-player Leduc sends ~10^5 regrets per player). The
shape is not sent: both sides know it.
"""

import base64

import numpy as np


def pack(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode()


def unpack(text: str) -> np.ndarray:
    """The flat float64 array `pack` sent; read-only (it is a view of the decoded bytes).
    Any value may arrive from a candidate: what is not base64 text of whole float64s raises
    TypeError or ValueError (a refusal), and the values may be anything (NaN, inf): the
    receiver checks them."""
    return np.frombuffer(base64.b64decode(text), dtype="<f8")
