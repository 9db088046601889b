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

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`: the engine
sys.path.insert(0, str(Path(__file__).parent))

import psro_loop
import psro_oracle
from cfr_games import flatten
from protocols import check_protocols, measured, on_slot, protocol_metrics, reference_figure
from psro_oracle import PSRO


def prepare(stages) -> None:
    """Load and flatten every game now, and check the protocols: a bad game string or
    protocol is a clear error before a campaign starts, not a failed evaluation later."""
    check_protocols(stages)
    for stage in stages:
        for case in stage.cases:
            flatten(case.secret["game"])
            tie_seed(case)


TIES = ("first", "random")
"""How the best responses that join the populations break ties among best actions: the first
(the `checkpoints` protocol's default: its figures and campaigns predate the rule and stay
comparable) or uniformly at random (the `paper` protocol's default: the paper's oracle does),
from a seed derived from the case's secret. A case's `ties` secret overrides the default."""


def tie_seed(case) -> int | None:
    """The seed of the case's tie-breaking generator, or None for first-action ties: a 32-bit
    hash of the case's secret (so a float records it exactly in the metrics)."""
    default = "random" if case.secret.get("protocol", "checkpoints") == "paper" else "first"
    rule = case.secret.get("ties", default)
    if rule not in TIES:
        raise ValueError(f"case {case.name!r} has ties {rule!r}: use one of {', '.join(TIES)}")
    if rule == "first":
        return None
    text = json.dumps(case.secret, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "big")


def oracle(stage, case) -> PSRO:
    return PSRO(on_slot(flatten(case.secret["game"]).game), max(case.secret["checkpoints"]),
                tie_seed=tie_seed(case))


def score(stage, case, outputs, oracle):
    """The case's metrics from what the oracle measured, checked first (protocols.measured);
    `outputs`, the candidate's return value, is not read. The tie seed, if any, is recorded
    (privately: the reports show it, the prompts do not)."""
    metrics = protocol_metrics(
        case, measured(oracle, case.secret["checkpoints"]),
        lambda: uniform(case.secret["game"], oracle.iterations, oracle.tie_seed), "uniform",
        oracle.game)
    if oracle.tie_seed is not None:
        metrics.private["tie_seed"] = oracle.tie_seed
    return metrics


def uniform(game: str, iterations: int, seed: int | None = None) -> float:
    """The seed's (Uniform's) exploitability on `game` at PSRO iteration `iterations`, run here
    by the trusted oracle with the seed's solvers called in-process, its ties broken as the
    case's (`seed`): the paper protocol's yardstick."""
    def compute(module) -> float:
        psro = PSRO(flatten(game).game, iterations, tie_seed=seed)
        psro_loop.run(module.meta_solver, lambda *args: psro(list(args)),
                      getattr(module, "eval_solver", None))
        return psro.exploitability[iterations]

    return reference_figure(f"psro uniform\0{game}\0{iterations}\0ties {seed}",
                            Path(__file__).with_name("seed.py"),
                            [Path(psro_loop.__file__), Path(psro_oracle.__file__)], compute)
