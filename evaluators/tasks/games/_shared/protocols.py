"""The two scoring protocols of the games tasks (trusted side), shared by the CFR and PSRO
scorers. A case's `protocol` secret picks one; every case of a stage must use the same, so that
a stage's mean compares like with like.

- `checkpoints` (the default): the mean of -log10(exploitability) over the case's checkpoints,
  so a rule that looks good only at the last one does not win.
- `paper`: the protocol of the paper these tasks reproduce (Li et al. 2026, arXiv 2602.16928):
  the exploitability after the last iteration only, scored as its log-ratio to the task's
  seed (CFR+ for CFR, Uniform for PSRO) on the same game and horizon, log10(seed's / yours),
  with no cap: both are floored at the game's float resolution (`resolution`), so a game where
  a rule reaches zero counts log10(seed's / resolution), what the arithmetic can tell apart,
  not 15 or an arbitrary cap. A rule that averages nothing early, as VAD-CFR before iteration
  500, is not penalised for it. (A cap of 3 orders saturated: the listing's VAD-CFR, PCFR+ and
  DPCFR+ all scored 3 on 4-card Goofspiel, where they are 12, 4 and 8 orders below CFR+, and
  a strong rule was ranked by the other games alone.)

Both read what a trusted oracle measured (an `Oracle`: CFR's or PSRO's), through `measured`,
which checks it right before it is scored: the run reached the case's horizon without a failure
on the trusted side, and every exploitability is a finite number no lower than rounding allows.
"""

import contextlib
import functools
import importlib.util
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from cfr_games import cached_figure
from wire import Shared

from evaluators.devices import torch_device
from evaluators.scoring import InvalidOutput, Metrics, log_checkpoints, log_ratio

PROTOCOLS = ("checkpoints", "paper")


def check_protocols(stages) -> None:
    """Every case's protocol is known, and the same within each stage (a ValueError naming the
    case, for the task's prepare step)."""
    for stage in stages:
        chosen = {case.secret.get("protocol", "checkpoints") for case in stage.cases}
        for protocol in chosen - set(PROTOCOLS):
            raise ValueError(f"stage {stage.name!r} has protocol {protocol!r}: use one of "
                             f"{', '.join(PROTOCOLS)}")
        if len(chosen) > 1:
            raise ValueError(f"stage {stage.name!r} mixes the protocols {sorted(chosen)}: its "
                             "mean would compare unlike scores; give every case the same")


ROUNDING = 1e-9
"""How far below zero a measured exploitability may be (rounding: VAD-CFR's average on
3-player Kuhn measures -1.17e-16); further below, the measurement is broken, not good."""


class Oracle:
    """What the games oracles share: a run of `iterations` iterations (`t` done so far) that
    records `exploitability[t]` at its checkpoints, and that a failure on the trusted side
    ends for good.

    A request is checked before it changes anything (a refusal then leaves the run as it was,
    and the candidate may send a better one); what runs after the checks (an update, a
    measurement) runs inside `committing`. An error there leaves the state half-changed, so it
    ends the run: every later request is refused with the same reason, and the scorer reports it
    as the program's InvalidOutput (through `measured`). Without this, a candidate that catches
    the refusal could go on from the half-updated state to a score, or to a checkpoint with no
    measurement (a KeyError in the scorer: a TaskError)."""

    name: str
    """The algorithm, as the reasons name it (CFR, PSRO)."""
    iterations: int
    t: int
    exploitability: dict[int, float]
    failure: str | None = None
    """Why the run ended early, if it did."""
    sharing = False
    """Whether the arrays travel through the region shared with the candidate's process
    (wire.py: the candidate asked for it when it started), not packed over the channel."""

    def shared_size(self) -> int:
        """How many float64s the shared region needs at most."""
        raise NotImplementedError

    @functools.cached_property
    def shared(self) -> Shared:
        """The region shared with the candidate's process, made when an executor asks for
        its descriptor (an in-process run never does)."""
        return Shared(self.shared_size())

    @property
    def fds(self) -> tuple[int, ...]:
        """What an executor hands to the candidate's process (sandbox.Oracle)."""
        return self.shared.fds

    @property
    def done(self) -> bool:
        return self.t == self.iterations

    def refuse_if_failed(self) -> None:
        if self.failure is not None:
            raise ValueError(self.failure)

    @contextlib.contextmanager
    def committing(self, what: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            self.failure = f"{self.name} failed {what} ({type(exc).__name__}: {exc})"
            raise


def on_slot(game):
    """The game as this evaluation slot's oracle computes on it: on the slot's GPU where it has
    one and the game is large (cfr_torch.on_device), else the CPU engine itself. torch is
    imported only in a slot with a GPU."""
    device = torch_device()
    if device == "cpu":
        return game
    from cfr_torch import on_device

    return on_device(game, device)


def measured(oracle: Oracle, checkpoints: list[int]) -> dict[int, float]:
    """The exploitability the oracle recorded at each checkpoint, checked right before it is
    scored, or the program's InvalidOutput: the run ended without a failure, reached its last
    iteration, and every value is finite and not below -ROUNDING (NaN fails both)."""
    if oracle.failure is not None:
        raise InvalidOutput(oracle.failure)
    if not oracle.done:
        raise InvalidOutput(f"the program stopped {oracle.name} after {oracle.t} of "
                            f"{oracle.iterations} iterations")
    losses = {t: oracle.exploitability[t] for t in checkpoints}
    for t, loss in losses.items():
        if not (math.isfinite(loss) and loss >= -ROUNDING):
            raise InvalidOutput(f"the exploitability measured at iteration {t} is {loss!r}")
    return losses


def resolution(game) -> float:
    """The float resolution of an exploitability on `game` (a cfr_engine.Game): float64's
    epsilon times the largest sum of absolute terms that a player's expected utility adds up
    (sum over terminals of |chance x utility|; every reach is at most 1). Exploitabilities below
    it are rounding, not measurement (the listing's VAD-CFR measures 1.5e-15 on 3-player Kuhn
    after 1000 iterations, where the resolution is 5.6e-15, and exactly 0 on 3-card Goofspiel)."""
    return float(np.finfo(float).eps * np.abs(game.terminal_payoff).sum(axis=0).max())


def paper_score(loss: float, reference: float, floor: float) -> float:
    """The paper protocol's score of one game: log10(reference / loss), both floored at the
    game's resolution (`floor`), uncapped."""
    return log_ratio(loss, reference, math.inf, floor)


def protocol_metrics(case, losses: dict[int, float], reference: Callable[[], float],
                     reference_name: str, game) -> Metrics:
    """The case's metrics under its protocol: `losses` is the exploitability at each of its
    checkpoints (all public, so the report draws curves under either protocol); `reference`
    computes the seed's exploitability at the last one (called under `paper` only) on `game`
    (its cfr_engine.Game, for its resolution). Assumes `losses` passed `measured`; the
    reference is the trusted seed's, so a non-finite one is the task's error (a ValueError: a
    TaskError), not the candidate's."""
    if case.secret.get("protocol", "checkpoints") == "checkpoints":
        return log_checkpoints(losses, "exploitability")
    final = reference()
    if not (math.isfinite(final) and final >= -ROUNDING):
        raise ValueError(f"the seed's reference exploitability is {final!r}: clear the figures "
                         "cache (~/.cache/discovery/figures) and check the seed")
    return Metrics(paper_score(losses[max(losses)], final, resolution(game)),
                   {**{f"exploitability_{t}": v for t, v in losses.items()},
                    f"{reference_name}_exploitability": final})


def reference_figure(key: str, seed: Path, sources: list[Path],
                     compute: Callable[[Any], float]) -> float:
    """`compute(seed_module)`, cached on disk for this key and these sources (the seed's file
    among them): the seed's exploitability on a game, run once per code version."""
    def run() -> float:
        spec = importlib.util.spec_from_file_location("games_reference_seed", seed)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return compute(module)

    return cached_figure(key, [seed, *sources, Path(__file__)], run)
