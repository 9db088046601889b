"""Fuzzing the games tasks' trusted side: the CFR and PSRO oracles, driven request by request
as a candidate's loop drives them (but with what a hostile candidate can send: valid
distributions with huge, tiny, NaN or infinite weights, near-underflow meta-strategies, arrays
of the wrong size, any JSON value), then their scorer, on 2-player Kuhn for a few iterations,
under both scoring protocols.

The promise checked: the oracle answers or refuses with ValueError/TypeError (answered to the
candidate as its error), nothing else; the scorer returns Metrics with a finite score or raises
InvalidOutput (any other exception is a TaskError that halts a campaign); and a score above the
honest best baseline's on the case comes only from a measured policy (CFR's average, PSRO's
joint policy) that passes the invariants: a distribution at every information set, whose
exploitability, measured again here, is the one scored."""

import contextlib
import functools
import json
import math
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

pytest.importorskip("pyspiel")

from evaluators.scoring import InvalidOutput, Metrics
from evaluators.task import Case, load_task
from tests.fuzz.answers import (
    distributions,
    float_arrays,
    floats,
    huge_positive,
    json_values,
)

CFR_TASK, PSRO_TASK = load_task("cfr"), load_task("psro")  # their scorers put the oracles on
sys.path[:0] = [str(PSRO_TASK.root), str(CFR_TASK.root)]   # the path (and PSRO's loop here)
import psro_loop  # noqa: E402
from wire import pack  # noqa: E402

GAME = "kuhn_poker"
CHECKPOINTS = [2, 4]
PROTOCOLS = st.sampled_from(["checkpoints", "paper"])
REFUSALS = (ValueError, TypeError)
"""What an oracle may raise: the sandbox answers it to the candidate as its error."""
ROUNDING = 1e-12


@pytest.fixture(autouse=True, scope="module")
def _figures_cache(tmp_path_factory):
    """The paper protocol's reference figures (CFR+ and Uniform on this case) in a folder of
    this module's, not the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DISCOVERY_CACHE_DIR", str(tmp_path_factory.mktemp("figures")))
        yield


def case(protocol: str, alternating: bool = True) -> Case:
    """The fuzzed case (PSRO's oracle reads no `alternating`)."""
    return Case("kuhn2", {}, {"game": GAME, "checkpoints": CHECKPOINTS, "protocol": protocol,
                              "alternating": alternating})


def scored(task, case: Case, oracle) -> Metrics | None:
    """The scorer's Metrics (finite score and figures), or None where it refused the run."""
    try:
        metrics = task.scorer.score("smoke", case, {}, oracle)
    except InvalidOutput as exc:
        event(f"refused: {str(exc).split(' (')[0][:40]}")
        return None
    event("scored")
    assert isinstance(metrics, Metrics) and math.isfinite(metrics.score)
    assert all(math.isfinite(value) for value in metrics.public.values()), metrics.public
    return metrics


def asked(oracle, request: Any) -> Any:
    """The oracle's answer, or None where it refused (a ValueError or TypeError)."""
    with contextlib.suppress(*REFUSALS):
        return oracle(json.loads(json.dumps(request)))  # what the channel carries
    return None


def assert_measured(oracle, policy: np.ndarray) -> None:
    """Every scored run, and so any above the honest baselines: the policy measured last (CFR's
    average, PSRO's joint policy) is a distribution at every information set, and its
    exploitability, measured again here, is the one scored."""
    game = oracle.game
    assert policy.shape == game.mask.shape and np.isfinite(policy).all()
    assert (policy >= 0).all() and not policy[~game.mask].any()
    assert np.abs(policy.sum(axis=1) - 1).max() <= 1e-9
    assert oracle.exploitability[max(CHECKPOINTS)] == pytest.approx(
        game.nash_conv(policy) / game.num_players, abs=ROUNDING)


@functools.cache
def best_honest(task_name: str, protocol: str) -> float:
    """The best score of the task's seed and baselines on the case, run through the same
    oracle and scorer in this process."""
    task = load_task(task_name)
    scores = []
    for code in (task.seed_code, *task.baselines.values()):
        program: dict[str, Any] = {}
        exec(compile(code, task_name, "exec"), program)  # the project's own programs
        oracle = task.scorer.oracle("smoke", case(protocol))
        program["solve"](lambda *args, oracle=oracle: oracle(list(args)))
        scores.append(task.scorer.score("smoke", case(protocol), {}, oracle).score)
    return max(scores)


# -- CFR -------------------------------------------------------------------------------------

def valid_policy(mask: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Each row `raw`'s positive legal entries normalised, or uniform where they sum to
    nothing finite: a valid distribution at every row, with entries down to 1e-300."""
    legal = np.where(mask, raw, 0.0)
    with np.errstate(all="ignore"):
        total = legal.sum(axis=1, keepdims=True)
        good = np.isfinite(total) & (total > 0)
        policy = np.where(good, legal / np.where(good, total, 1.0), mask / mask.sum(axis=1,
                                                                                      keepdims=True))
    return policy


WEIGHTS = st.one_of(st.sampled_from([0.0, 1.0, 1e300, 1.7976931348623157e308]), huge_positive(),
                    floats)


def cfr_request(data, mask: np.ndarray) -> Any:
    """One answer to a regret: mostly a valid policy with any weight (the forging attack's
    shape), sometimes hostile arrays, a wrong size or any JSON value."""
    legal = int(mask.sum())
    kind = data.draw(st.sampled_from(["valid"] * 6 + ["per_row", "raw", "size", "json"]))
    if kind == "json":
        return data.draw(json_values)
    raw = data.draw(float_arrays(mask.shape, elements=st.sampled_from(
        [0.0, 1e-300, 1e-12, 0.5, 1.0, 1e300])))
    policy = valid_policy(mask, raw)[mask]
    weight = np.array(data.draw(WEIGHTS))
    if kind == "per_row":
        weight = data.draw(float_arrays(len(mask), elements=st.one_of(huge_positive(), floats)))
    elif kind == "raw":
        policy = data.draw(float_arrays(legal))
    elif kind == "size":
        policy = data.draw(float_arrays(data.draw(st.sampled_from([0, legal - 1, legal + 1]))))
    return [pack(policy), pack(weight)]


@given(data=st.data(), protocol=PROTOCOLS, alternating=st.booleans())
def test_cfr_oracle_and_scorer_under_hostile_answers(data, protocol, alternating):
    this = case(protocol, alternating=alternating)
    oracle = CFR_TASK.scorer.oracle("smoke", this)
    reply = asked(oracle, data.draw(st.one_of(st.just(["start"]), json_values)))
    reply = reply or asked(oracle, ["start"])
    masks = [np.array(rows, dtype=bool) for rows in reply["masks"]]
    for _ in range(3 * len(masks) * max(CHECKPOINTS)):
        if oracle.done or oracle.failure:
            break
        answer = asked(oracle, cfr_request(data, masks[oracle.turn]))
        assert answer is None or isinstance(answer, dict)
    if scored(CFR_TASK, this, oracle) is not None:
        assert_measured(oracle, oracle.average_policy())


def test_cfr_weights_that_overflow_average_exactly():
    """The forging attack's weights, in this process: whatever finite weights a valid policy
    is played with, the average is that policy (here uniform), never zero or NaN rows."""
    oracle = CFR_TASK.scorer.oracle("smoke", case("checkpoints"))
    reply = oracle(["start"])
    masks = [np.array(rows, dtype=bool) for rows in reply["masks"]]
    while not oracle.done:
        mask = masks[oracle.turn]
        oracle([pack(valid_policy(mask, np.ones(mask.shape))[mask]),
                pack(np.array(1.7976931348623157e308))])
    assert np.array_equal(oracle.average_policy(), oracle.game.uniform())
    assert CFR_TASK.scorer.score("smoke", case("checkpoints"), {}, oracle).score < \
        best_honest("cfr", "checkpoints")


# -- PSRO ------------------------------------------------------------------------------------

def meta_strategy(data, k: int) -> Any:
    """One player's answer: a valid distribution, one near underflow (almost all mass on one
    member, 5e-324 to 1e-300 on another), hostile floats, a wrong length or any JSON value."""
    kind = data.draw(st.sampled_from(["valid"] * 4 + ["underflow"] * 2 + ["raw", "size", "json"]))
    if kind == "valid":
        return data.draw(distributions(k)).tolist()
    if kind == "underflow":
        row = np.zeros(k)
        row[data.draw(st.integers(0, k - 1))] = 1.0
        row[data.draw(st.integers(0, k - 1))] += data.draw(st.sampled_from(
            [5e-324, 1.5e-323, 1e-320, 1e-310, 1e-300]))
        return row.tolist()
    if kind == "raw":
        return data.draw(float_arrays(k)).tolist()
    if kind == "size":
        return data.draw(float_arrays(data.draw(st.sampled_from([0, k + 1])))).tolist()
    return data.draw(json_values)


def psro_request(data, sizes: list[int]) -> Any:
    """A training meta-strategy and, half the time, an evaluation one; or any JSON value."""
    if data.draw(st.integers(0, 9)) == 0:
        return data.draw(json_values)
    count = data.draw(st.integers(1, 2))
    return [[meta_strategy(data, k) for k in sizes] for _ in range(count)]


@given(data=st.data(), protocol=PROTOCOLS)
def test_psro_oracle_and_scorer_under_hostile_meta_strategies(data, protocol):
    this = case(protocol)
    oracle = PSRO_TASK.scorer.oracle("smoke", this)
    if asked(oracle, data.draw(st.one_of(st.just(["start"]), json_values))) is None:
        asked(oracle, ["start"])
    measured = None
    for _ in range(6 * max(CHECKPOINTS)):
        if oracle.done or oracle.failure:
            break
        sizes, request = list(oracle.sizes), psro_request(data, oracle.sizes)
        answer = asked(oracle, request)
        assert answer is None or isinstance(answer, dict)
        if answer is not None:  # what the oracle measured: the last meta-strategy sent
            measured = psro_loop.check_meta_strategy(request[-1], tuple(sizes))
    if scored(PSRO_TASK, this, oracle) is not None:
        assert_measured(oracle, oracle.joint_policy(measured))


def test_a_policy_that_is_no_distribution_is_not_measured():
    """Game.best_responses, under every exploitability these tasks score, refuses what is not
    a distribution at every information set: the forged average's zero and NaN rows."""
    from cfr_engine import PolicyError

    game = CFR_TASK.scorer.oracle("smoke", case("checkpoints")).game
    for policy in (np.zeros(game.mask.shape), game.uniform() * np.nan, game.uniform() * 1.5,
                   game.uniform()[:, :1]):
        with pytest.raises(PolicyError):
            game.nash_conv(policy)
