"""Trusted scorer for the CFR task. The oracle (cfr_oracle.CFR) runs CFR in this process, driven
by the policies and weights the candidate's update rule sends; the score is read from the
exploitabilities it recorded, so the candidate never scores itself. Each case's game,
checkpoints and update scheme are its secret: the candidate is not told which game it plays or
for how long. A case's `protocol` secret chooses how its exploitabilities are scored
(`_shared/protocols.py`: `checkpoints`, the default, or the paper's, against CFR+).

What is scored is checked right before it is (protocols.measured): the run reached the last
checkpoint without a failure on the trusted side (among them, an average policy that is not a
distribution at every information set: Game.best_responses refuses to measure it), and every
exploitability is finite and non-negative up to rounding; anything else is the program's
InvalidOutput."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`: the engine
sys.path.insert(0, str(Path(__file__).parent))

import cfr_loop
import cfr_oracle
from cfr_games import flatten
from cfr_oracle import CFR
from protocols import check_protocols, measured, on_slot, protocol_metrics, reference_figure


def prepare(stages) -> None:
    """Load and flatten every game of every stage now, and check the protocols: a bad game
    string or protocol is a clear error before a campaign starts, not a failed evaluation
    later."""
    check_protocols(stages)
    for stage in stages:
        for case in stage.cases:
            flatten(case.secret["game"])


def oracle(stage, case) -> CFR:
    return CFR(on_slot(flatten(case.secret["game"]).game), case.secret["checkpoints"],
               case.secret["alternating"])


def score(stage, case, outputs, oracle):
    """The case's metrics from what the oracle measured, checked first (protocols.measured);
    `outputs`, the candidate's return value, is not read."""
    return protocol_metrics(case, measured(oracle, case.secret["checkpoints"]),
                            lambda: cfr_plus(case.secret["game"], oracle.iterations,
                                             case.secret["alternating"]), "cfr_plus",
                            oracle.game)


def cfr_plus(game: str, iterations: int, alternating: bool) -> float:
    """The seed's (CFR+'s) exploitability on `game` after `iterations`, run here by the
    trusted oracle with the seed's rule called in-process: the paper protocol's yardstick."""
    def compute(seed) -> float:
        cfr = CFR(flatten(game).game, [iterations], alternating)
        cfr_loop.run(seed.step, lambda *args: cfr(list(args)))
        return cfr.exploitability[iterations]

    return reference_figure(f"cfr+\0{game}\0{iterations}\0{alternating}",
                            Path(__file__).with_name("seed.py"),
                            [Path(cfr_loop.__file__), Path(cfr_oracle.__file__)], compute)
