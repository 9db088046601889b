"""Trusted scorer for the PSRO task. The oracle (psro_oracle.PSRO) runs PSRO in this process,
driven by the meta-strategies the candidate sends; the score is read from the exploitabilities
it recorded, so the candidate never scores itself. Each case's game and checkpoints are its
secret: the candidate is not told which game it plays or for how long."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`: the engine
sys.path.insert(0, str(Path(__file__).parent))

from cfr_games import flatten
from psro_oracle import PSRO

from evaluators.scoring import InvalidOutput, log_checkpoints


def prepare(stages) -> None:
    """Load and flatten every game now: a bad game string is a clear error before a campaign
    starts, not a failed evaluation later."""
    for stage in stages:
        for case in stage.cases:
            flatten(case.secret["game"])


def oracle(stage, case) -> PSRO:
    return PSRO(flatten(case.secret["game"]).game, max(case.secret["checkpoints"]))


def score(stage, case, outputs, oracle):
    want = max(case.secret["checkpoints"])
    if oracle.t < want:
        raise InvalidOutput(f"the program stopped PSRO after {oracle.t} of {want} iterations")
    return log_checkpoints({t: oracle.exploitability[t] for t in case.secret["checkpoints"]},
                           "exploitability")
