"""Trusted scorer for the PSRO task. The oracle (psro_oracle.PSRO) runs PSRO in this process,
driven by the meta-strategies the candidate sends; the score is read from the exploitabilities
it recorded, so the candidate never scores itself. Each case's game and checkpoints are its
secret: the candidate is not told which game it plays or for how long. A case's `protocol`
secret chooses how its exploitabilities are scored (`_shared/protocols.py`: `checkpoints`, the
default, or the paper's, against the Uniform seed).

What is scored is checked right before it is (protocols.measured): the run reached the last
checkpoint without a failure on the trusted side (among them, a joint policy that is not a
distribution at every information set: Game.best_responses refuses to measure it), and every
exploitability is finite and non-negative up to rounding; anything else is the program's
InvalidOutput."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`: the engine
sys.path.insert(0, str(Path(__file__).parent))

import psro_loop
import psro_oracle
from cfr_games import flatten
from protocols import check_protocols, measured, protocol_metrics, reference_figure
from psro_oracle import PSRO


def prepare(stages) -> None:
    """Load and flatten every game now, and check the protocols: a bad game string or
    protocol is a clear error before a campaign starts, not a failed evaluation later."""
    check_protocols(stages)
    for stage in stages:
        for case in stage.cases:
            flatten(case.secret["game"])


def oracle(stage, case) -> PSRO:
    return PSRO(flatten(case.secret["game"]).game, max(case.secret["checkpoints"]))


def score(stage, case, outputs, oracle):
    """The case's metrics from what the oracle measured, checked first (protocols.measured);
    `outputs`, the candidate's return value, is not read."""
    return protocol_metrics(case, measured(oracle, case.secret["checkpoints"]),
                            lambda: uniform(case.secret["game"], oracle.iterations), "uniform")


def uniform(game: str, iterations: int) -> float:
    """The seed's (Uniform's) exploitability on `game` at PSRO iteration `iterations`, run here
    by the trusted oracle with the seed's solvers called in-process: the paper protocol's
    yardstick."""
    def compute(seed) -> float:
        psro = PSRO(flatten(game).game, iterations)
        psro_loop.run(seed.meta_solver, lambda *args: psro(list(args)),
                      getattr(seed, "eval_solver", None))
        return psro.exploitability[iterations]

    return reference_figure(f"psro uniform\0{game}\0{iterations}",
                            Path(__file__).with_name("seed.py"),
                            [Path(psro_loop.__file__), Path(psro_oracle.__file__)], compute)
