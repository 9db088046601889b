"""Trusted scorer for the CFR task: flattens each case's OpenSpiel game for the engine (cached,
sent as the case's inputs), then measures the exploitability (NashConv / players, exact) of
every average policy the candidate's run returned. The candidate never scores itself."""

import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # the games domain's engine

from cfr_engine import RuleError, check_policy
from cfr_games import flatten

from evaluators.scoring import InvalidOutput, finite_array, log_checkpoints


@functools.cache
def _arrays(name: str) -> dict:
    return flatten(name).game.to_arrays()


def prepare(stages) -> None:
    """Load and flatten every game of every stage now: a bad game string is a clear error
    before a campaign starts, not a failed evaluation later."""
    for stage in stages:
        for case in stage.cases:
            flatten(case.inputs["game"])


def inputs(stage, case) -> dict:
    return {**case.inputs, "game": _arrays(case.inputs["game"])}


def score(stage, case, outputs, oracle):
    name = case.inputs["game"]
    game = flatten(name).game
    policies = outputs.get("average_policies") if isinstance(outputs, dict) else None
    if not isinstance(policies, dict):
        raise InvalidOutput("solve must return the engine's {'average_policies': ...}")
    losses = {}
    for checkpoint in case.inputs["checkpoints"]:
        what = f"the average policy at iteration {checkpoint}"
        policy = finite_array(policies.get(str(checkpoint)), what, game.mask.shape)
        try:
            check_policy(policy, game.mask, what)
        except RuleError as exc:
            raise InvalidOutput(str(exc)) from exc
        losses[checkpoint] = game.nash_conv(policy) / game.num_players
    return log_checkpoints(losses, "exploitability")
