"""Our CFR+ (the trusted oracle driving the CFR seed's rule) against OpenSpiel's CFR+ on the game
structures where a vectorised sequence form could go wrong: simultaneous moves through the
turn-based conversion, players who move twice in a row, placement phases, 3 players,
general-sum payoffs. Where OpenSpiel's float curve departs from CFR+ (its rounding decides exact
ties: cfr_reference.py), ours must equal CFR+ computed in 60-digit decimals and exact
fractions instead. The whole sweep is bench/cfr_openspiel_bench.py."""

import sys

import pytest

pyspiel = pytest.importorskip("pyspiel")

from helpers import load_module  # noqa: E402

from evaluators.task import TASKS_DIR, task_folders  # noqa: E402

TASK = task_folders()["cfr"]
sys.path[:0] = [str(TASK), str(TASKS_DIR / "games" / "_shared")]
from cfr_games import GameError, flatten  # noqa: E402
from cfr_loop import run  # noqa: E402
from cfr_oracle import CFR  # noqa: E402
from cfr_reference import openspiel_curve, reference_curve  # noqa: E402

ALL = [*range(1, 11), 100]


def ours(name: str, iterations: list[int]) -> dict[int, float]:
    cfr = CFR(flatten(name).game, iterations)
    run(load_module(TASK / "seed.py", "cfr_plus_seed").step, lambda *args: cfr(list(args)))
    return cfr.exploitability


def reference(name: str, iterations: list[int], exact: bool = False) -> dict[int, float]:
    return reference_curve(flatten(name), name, iterations, exact)


@pytest.mark.parametrize("name", [
    "goofspiel(num_cards=3)",  # simultaneous, through the turn-based conversion; chance
    "oshi_zumo(coins=5,size=2,horizon=3,min_bid=1)",  # simultaneous, no chance
    "dark_hex(num_rows=2,num_cols=2)",  # a player moves again after a collision
    "dots_and_boxes(num_rows=1,num_cols=1)",  # a player moves again after closing a box
    "first_sealed_auction(max_value=3,players=3)",  # 3 players, chance, general-sum
])
def test_our_cfr_plus_is_openspiels(name):
    mine, theirs = ours(name, ALL), openspiel_curve(name, ALL)
    for t in ALL:
        assert mine[t] == pytest.approx(theirs[t], abs=1e-9), t


@pytest.mark.parametrize(("name", "iterations", "apart"), [
    ("sheriff(max_items=1,max_bribe=2,num_rounds=2)", ALL, 2),  # moves twice, general-sum
    ("battleship(board_width=2,board_height=2,ship_sizes=[1],ship_values=[1],num_shots=2)",
     [1, 2, 3, 4], 2),  # placement phase, then shots
    ("oshi_zumo(coins=3,size=1,horizon=4)", [4, 5, 6], 5),  # simultaneous
])
def test_where_openspiels_rounding_breaks_a_tie_ours_is_cfr_plus(name, iterations, apart):
    mine, exact = ours(name, iterations), reference(name, iterations)
    for t in iterations:
        assert mine[t] == pytest.approx(exact[t], abs=1e-9), t
    theirs = openspiel_curve(name, [apart])[apart]
    assert abs(theirs - exact[apart]) > 1e-6, \
        f"OpenSpiel's CFR+ no longer departs from CFR+ on {name}: update docs/games.md"


def test_the_decimal_reference_is_exact_cfr_plus():
    name = "sheriff(max_items=1,max_bribe=2,num_rounds=2)"
    decimal, fraction = reference(name, [1, 2, 3]), reference(name, [1, 2, 3], exact=True)
    for t in (1, 2, 3):
        assert decimal[t] == pytest.approx(fraction[t], abs=1e-12)


@pytest.mark.parametrize(("name", "reason"), [
    ("liars_dice_ir(dice_sides=3)", "does not have perfect recall"),
    ("go_fish(ranks=2,suits=2)", "has no decisions"),
])
def test_games_without_a_sequence_form_are_refused_with_the_reason(name, reason):
    with pytest.raises(GameError, match=reason):
        flatten(name)
