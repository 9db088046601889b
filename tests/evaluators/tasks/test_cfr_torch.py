"""The CFR engine's torch path (cfr_torch.py) against the numpy engine, on CPU torch: every
pass agrees to rounding on four games, the PSRO task's random tie rule draws the same actions,
and CFR+ run on the device, or by the CFR oracle holding a DeviceGame, reaches the numpy
oracle's exploitability."""

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pyspiel")

from helpers import load_module  # noqa: E402

from evaluators.task import TASKS_DIR, task_folders  # noqa: E402

TASK = task_folders()["cfr"]
PSRO_TASK = task_folders()["psro"]
sys.path[:0] = [str(TASK), str(PSRO_TASK), str(TASKS_DIR / "games" / "_shared")]
from cfr_engine import PolicyError  # noqa: E402
from cfr_games import flatten  # noqa: E402
from cfr_loop import REGRET_TOLERANCE, run  # noqa: E402
from cfr_oracle import CFR  # noqa: E402
from cfr_torch import DeviceGame, TorchGame, cfr_plus, on_device  # noqa: E402
from psro_loop import run as run_psro  # noqa: E402
from psro_oracle import PSRO  # noqa: E402

GAMES = ["kuhn_poker", "kuhn_poker(players=3)", "leduc_poker",
         "goofspiel(num_cards=4,imp_info=True,points_order=descending)"]
CLOSE = 1e-12


def random_policy(game, seed: int) -> np.ndarray:
    """A distribution at every information set, far from uniform (some legal actions get
    almost nothing)."""
    weights = np.random.default_rng(seed).exponential(size=game.mask.shape) ** 3 * game.mask
    return weights / weights.sum(axis=1, keepdims=True)


def oracle_cfr_plus(game, iterations: int, alternating: bool = True) -> float:
    """Exploitability of the CFR task's oracle running the seed (CFR+) for `iterations`."""
    cfr = CFR(game, [iterations], alternating)
    run(load_module(TASK / "seed.py", "cfr_torch_seed").step, lambda *args: cfr(list(args)))
    return cfr.exploitability[iterations]


@pytest.mark.parametrize("name", GAMES)
def test_passes_agree_with_the_numpy_engine(name):
    game = flatten(name).game
    on = TorchGame(game)
    for policy in (game.uniform(), random_policy(game, 1)):
        reach = game.all_reach(policy)
        device_reach = on.all_reach(on.tensor(policy))
        np.testing.assert_allclose(device_reach.numpy(), reach, rtol=0, atol=CLOSE)
        for p in range(game.num_players):
            np.testing.assert_allclose(on.regrets(on.tensor(policy), device_reach, p).numpy(),
                                       game.regrets(policy, reach, p), rtol=0, atol=CLOSE)
            value, choice = game.best_response(policy, p)
            device_value, device_choice = on.best_response(on.tensor(policy), p)
            assert abs(float(device_value) - value) < CLOSE
            np.testing.assert_array_equal(device_choice.numpy(), choice)
        np.testing.assert_allclose(on.expected_utility(device_reach).numpy(),
                                   game.expected_utility(reach), rtol=0, atol=CLOSE)
        assert on.nash_conv(on.tensor(policy)) == pytest.approx(game.nash_conv(policy),
                                                                abs=CLOSE)
        assert on.nash_conv(on.tensor(policy)) > 0.01  # neither policy is an equilibrium


@pytest.mark.parametrize("name", GAMES)
def test_random_ties_draw_as_the_numpy_engine(name):
    """PSRO's tie rule: the same generator picks the same tied actions (the uniform policy
    ties many), and leaves the generator where the engine leaves it."""
    game = flatten(name).game
    on, policy = TorchGame(game), game.uniform()
    for p in range(game.num_players):
        mine, theirs = np.random.default_rng(7), np.random.default_rng(7)
        value, choice = game.best_response(policy, p, tie=theirs)
        device_value, device_choice = on.best_response(on.tensor(policy), p, tie=mine)
        assert abs(float(device_value) - value) < CLOSE
        np.testing.assert_array_equal(device_choice.numpy(), choice)
        assert mine.random() == theirs.random()


@pytest.mark.parametrize("name", GAMES)
def test_cfr_plus_on_the_device_reaches_the_oracles_exploitability(name):
    game, iterations = flatten(name).game, 30
    expected = oracle_cfr_plus(game, iterations)
    on = TorchGame(game)
    average = cfr_plus(on, iterations, REGRET_TOLERANCE)
    assert on.nash_conv(average) / game.num_players == pytest.approx(expected, rel=0, abs=1e-10)
    assert expected < game.nash_conv(game.uniform()) / game.num_players / 4  # it learned
    # the same average measured by either engine
    assert on.nash_conv(average) == pytest.approx(game.nash_conv(average.numpy()), abs=CLOSE)


@pytest.mark.parametrize("name", ["kuhn_poker(players=3)", "leduc_poker"])
def test_the_oracle_holding_a_device_game_scores_as_with_the_game(name):
    """The hook: the CFR oracle with on_device's DeviceGame (forced here: CPU torch, no
    threshold) runs the candidate's rule to the same exploitability."""
    game = flatten(name).game
    held = DeviceGame(game, "cpu")
    for alternating in (True, False):  # one player's rows per update, or all at once
        assert oracle_cfr_plus(held, 20, alternating) == pytest.approx(
            oracle_cfr_plus(game, 20, alternating), rel=0, abs=1e-10)
    policy = random_policy(game, 2)
    reach = game.all_reach(policy)
    for p in range(game.num_players):  # the regrets as the oracle takes them: legal entries
        legal = game.mask[game.slices[p]]
        out = np.full(2 * legal.sum(), np.nan)
        held.legal_regrets(policy, reach, p, out, np.arange(legal.sum()) * 2)
        np.testing.assert_allclose(out[::2], game.regrets(policy, reach, p)[legal], rtol=0,
                                   atol=CLOSE)
        assert np.isnan(out[1::2]).all()


@pytest.mark.parametrize("tie_seed", [None, 11])
@pytest.mark.parametrize("name", ["kuhn_poker(players=3)", "leduc_poker"])
def test_the_psro_oracle_holding_a_device_game_scores_as_with_the_game(name, tie_seed):
    """PSRO's best responses on the device, first or random ties: the same populations (so the
    same meta-games) and the same exploitabilities."""
    solver = load_module(PSRO_TASK / "seed.py", "cfr_torch_psro_seed").meta_solver
    runs = []
    for game in (flatten(name).game, DeviceGame(flatten(name).game, "cpu")):
        psro = PSRO(game, 6, tie_seed=tie_seed)
        run_psro(solver, lambda *args, psro=psro: psro(list(args)))
        runs.append(psro)
    numpy_run, device_run = runs
    np.testing.assert_allclose(device_run.payoffs, numpy_run.payoffs, rtol=0, atol=CLOSE)
    assert list(device_run.exploitability) == list(numpy_run.exploitability) == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(list(device_run.exploitability.values()),
                               list(numpy_run.exploitability.values()), rtol=0, atol=1e-10)


def test_on_device_keeps_small_games_and_the_cpu_on_numpy():
    game = flatten("leduc_poker").game
    assert on_device(game, "cpu") is game
    assert on_device(game, "cuda:0") is game  # 5,520 terminals: under the threshold
    assert isinstance(on_device(game, "cpu", min_terminals=0), type(game))
    if torch.cuda.is_available():
        assert isinstance(on_device(game, "cuda:0", min_terminals=0), DeviceGame)


def test_a_policy_that_is_no_distribution_is_refused_with_the_engines_line():
    game = flatten("kuhn_poker").game
    on, policy = TorchGame(game), game.uniform()
    policy[3] = [0.5, 0.6]
    with pytest.raises(PolicyError, match=r"information set 3 sums to 1\.1"):
        on.nash_conv(on.tensor(policy))
    policy[3] = [np.nan, 1.0]
    with pytest.raises(PolicyError, match="negative or non-finite"):
        on.nash_conv(on.tensor(policy))
    with pytest.raises(PolicyError, match="negative or non-finite"):
        DeviceGame(game, "cpu").nash_conv(policy)
