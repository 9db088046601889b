"""Trusted scorer for the CFR task. The oracle (cfr_oracle.CFR) runs CFR in this process, driven
by the policies and weights the candidate's update rule sends; the score is read from the
exploitabilities it recorded, so the candidate never scores itself. Each case's game,
checkpoints and update scheme are its secret: the candidate is not told which game it plays or
for how long."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`: the engine
sys.path.insert(0, str(Path(__file__).parent))

from cfr_games import flatten
from cfr_oracle import CFR

from evaluators.scoring import InvalidOutput, log_checkpoints


def prepare(stages) -> None:
    """Load and flatten every game of every stage now: a bad game string is a clear error
    before a campaign starts, not a failed evaluation later."""
    for stage in stages:
        for case in stage.cases:
            flatten(case.secret["game"])


def oracle(stage, case) -> CFR:
    return CFR(flatten(case.secret["game"]).game, case.secret["checkpoints"],
               case.secret["alternating"])


def score(stage, case, outputs, oracle):
    if not oracle.done:
        raise InvalidOutput(f"the program stopped CFR after {oracle.t} of {oracle.iterations} "
                            "iterations")
    return log_checkpoints({t: oracle.exploitability[t] for t in case.secret["checkpoints"]},
                           "exploitability")
