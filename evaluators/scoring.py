"""What a task's trusted scorer returns, and the checks every scorer needs on untrusted outputs.

Every check is written so that NaN fails it: `not (x <= limit)` rather than `x > limit`, because
any comparison with NaN is false and a validator that only looks for violations lets NaN through
(OpenEvolve's circle-packing validator accepted NaN coordinates exactly that way).
"""

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class InvalidOutput(Exception):
    """The candidate's outputs break the task's contract; the message is the reason recorded."""


@dataclass(frozen=True)
class Metrics:
    score: float
    public: dict[str, Any] = field(default_factory=dict)
    """Shown to models in later prompts."""
    private: dict[str, Any] = field(default_factory=dict)
    """For reports only (held-out results, hidden tests)."""


def finite_array(value: Any, name: str, shape: tuple[int | None, ...]) -> np.ndarray:
    """The value as a float array of the given shape (None matches any length), all finite."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:  # JSON allows any integer
        raise InvalidOutput(f"{name} is not an array of numbers ({exc})") from exc
    if array.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape, strict=True)
    ):
        want_text = "x".join("?" if s is None else str(s) for s in shape)
        raise InvalidOutput(f"{name} has shape {array.shape}, expected ({want_text})")
    if not np.isfinite(array).all():
        raise InvalidOutput(f"{name} contains non-finite values (NaN or infinity)")
    return array


def finite_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidOutput(f"{name} is not a number")
    if not math.isfinite(value):
        raise InvalidOutput(f"{name} is not finite ({value})")
    return float(value)


def log_checkpoints(losses: dict[int, float], name: str, floor: float = 1e-15) -> Metrics:
    """Score = mean over checkpoints of -log10(loss), each loss public as `<name>_<t>`.

    A mean over several checkpoints, not the last one alone, so that a rule that shines only at
    the final checkpoint (e.g. by averaging late) does not win; losses under `floor` count as
    the floor, where float64 stops telling them apart. A loss that is not a finite number is
    the program's InvalidOutput: a NaN would otherwise become a NaN score, an infinity -inf."""
    logs = [-math.log10(max(finite_number(value, f"{name} at {t}"), floor))
            for t, value in losses.items()]
    return Metrics(sum(logs) / len(logs), {f"{name}_{t}": v for t, v in losses.items()})


def log_ratio(loss: float, reference: float, cap: float, floor: float = 1e-15) -> float:
    """log10(reference / loss), clipped to [-cap, cap]: how many orders of magnitude a loss
    beats a reference loss measured on the same problem.

    A robust per-problem score for a mean over problems of very different difficulty: on a
    mean of -log10(loss), a problem where losses reach the float floor adds 15 per case and
    drowns the rest (PDCFR+ led CFR+ on the CFR task's train score through 4-card Goofspiel and
    3-player Kuhn while worse on Leduc and Liar's Dice); here each problem counts at most `cap`
    orders of magnitude either way, measured from the reference, so easy problems cannot
    dominate. Losses under `floor` count as the floor. A loss that is not a finite number is
    the program's InvalidOutput (a NaN would quietly clip to -cap, its reason lost); a
    reference that is not is the task's own bug, a ValueError."""
    if not math.isfinite(reference):
        raise ValueError(f"the reference loss {reference!r} is not finite")
    loss = finite_number(loss, "the loss")
    ratio = math.log10(max(reference, floor)) - math.log10(max(loss, floor))
    return min(cap, max(-cap, ratio))
