"""Our CFR+ against OpenSpiel's on every small game OpenSpiel registers: the trusted oracle
(cfr_oracle.CFR) driving the CFR task's seed rule (CFR+: regret matching plus, linear
averaging, alternating updates) in-process, exactly the arithmetic of an evaluation (the
channel carries float64 bits unchanged), against pyspiel's C++ `CFRPlusSolver` (whose Python
twin agrees to the last digit), both average policies measured exactly, at iterations 1-10 and
100.

The sweep: every registered game with its default parameters that our loader accepts within
MAX_HISTORIES, and the parameter settings in SETTINGS (sequential and simultaneous, with and
without chance, 2-4 players, players who move twice in a row, placement phases, general-sum and
identical-interest). Where the two curves part, both are compared with CFR+ computed in
60-digit decimals (cfr_reference.py, ties counted as zero), which says whose curve is CFR+.
Prints a Markdown table (the one in docs/games.md) and the registered games left out, with the
reason. `--quick` (seconds; CI runs it) sweeps QUICK alone.

    .venv/bin/python bench/cfr_openspiel_bench.py [--quick]
"""

import argparse
import importlib.util
import re
import sys
import time

from threadpoolctl import threadpool_limits

from evaluators.task import TASKS_DIR, task_folders

TASK = task_folders()["cfr"]
sys.path[:0] = [str(TASK), str(TASKS_DIR / "games" / "_shared")]
from cfr_games import Flat, GameError, flatten  # noqa: E402
from cfr_loop import run  # noqa: E402
from cfr_oracle import CFR  # noqa: E402
from cfr_reference import openspiel_curve, reference_curve  # noqa: E402

ITERATIONS = [*range(1, 11), 100]
MAX_HISTORIES = 50_000
"""The sweep's size limit: OpenSpiel's solver and ours take seconds below it."""
MAX_REFERENCE_HISTORIES = 30_000
"""The 60-digit reference runs where the curves part, on games up to this size (a hundred
iterations of a plain recursion in decimals: a few minutes at this size)."""
AGREE = 1e-9
"""Curves closer than this at an iteration agree there (both are float64 sums of the same
terms in other orders: they differ by ~1e-16 where nothing is decided by rounding)."""

SETTINGS = {
    "kuhn_poker(players=3)": "3 players",
    "kuhn_poker(players=4)": "4 players",
    "leduc_poker(suit_isomorphism=True)": "",
    "liars_dice(dice_sides=2,numdice=2)": "",
    "liars_dice(dice_sides=4)": "",
    "goofspiel(num_cards=3)": "",
    "goofspiel(num_cards=3,players=3)": "3 players",
    "goofspiel(num_cards=3,imp_info=True,points_order=ascending,returns_type=total_points)": "",
    "goofspiel(num_cards=3,egocentric=True,imp_info=True)": "",
    "goofspiel(num_cards=4,imp_info=True,points_order=random,returns_type=point_difference)":
        "",
    "oshi_zumo(coins=4,size=1,horizon=3)": "",
    "oshi_zumo(coins=3,size=1,horizon=4)": "",
    "oshi_zumo(coins=5,size=2,horizon=3,min_bid=1)": "",
    "oshi_zumo(coins=4,size=1,horizon=3,alesia=True)": "",
    "blotto(coins=4,fields=2)": "",
    "blotto(players=3,coins=3,fields=2)": "3 players",
    "first_sealed_auction(max_value=3)": "general-sum",
    "first_sealed_auction(max_value=3,players=3)": "general-sum, 3 players",
    "trade_comm(num_items=2)": "general-sum",
    "trade_comm(num_items=3)": "general-sum",
    "sheriff(max_items=1,max_bribe=2,num_rounds=2)": "general-sum, moves twice",
    "sheriff(max_items=2,max_bribe=2,num_rounds=2)": "general-sum, moves twice",
    "dark_hex(num_rows=2,num_cols=2)": "moves again after a collision",
    "dark_hex(num_rows=2,num_cols=2,gameversion=adh)": "",
    "hex(num_rows=2,num_cols=2)": "",
    "mnk(m=2,n=3,k=2)": "",
    "dots_and_boxes(num_rows=1,num_cols=1)": "moves again after a box",
    "dots_and_boxes(num_rows=1,num_cols=2)": "moves again after a box",
    "nim(pile_sizes=2;3)": "",
    "battleship(board_width=2,board_height=2,ship_sizes=[1],ship_values=[1],num_shots=2)":
        "placement phase",
    "cliff_walking(horizon=4,width=3,height=2)": "1 player",
    "oh_hell(num_suits=2,num_cards_per_suit=2,players=3,num_tricks_fixed=1)":
        "bidding then play, 3 players",
    "misere(game=kuhn_poker())": "wrapper",
    "zerosum(game=first_sealed_auction(max_value=3))": "wrapper",
    "cached_tree(game=kuhn_poker())": "wrapper",
    "turn_based_simultaneous_game(game=goofspiel(num_cards=3))": "wrapper",
    "normal_form_extensive_game(game=kuhn_poker())": "wrapper",
    "liars_dice_ir(dice_sides=3)": "imperfect recall",
    "dark_hex_ir(num_rows=2,num_cols=2)": "imperfect recall",
}
"""Parameter settings beyond the defaults (name -> what it adds, beside what the game type
says)."""

QUICK = {"kuhn_poker": "", "goofspiel(num_cards=3)": "",
         "dark_hex(num_rows=2,num_cols=2)": SETTINGS["dark_hex(num_rows=2,num_cols=2)"],
         "sheriff(max_items=1,max_bribe=2,num_rounds=2)":
             SETTINGS["sheriff(max_items=1,max_bribe=2,num_rounds=2)"]}


def seed_step():
    spec = importlib.util.spec_from_file_location("seed", TASK / "seed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.step


def ours(flat: Flat, step) -> dict[int, float]:
    cfr = CFR(flat.game, ITERATIONS)
    run(step, lambda *args: cfr(list(args)))
    return cfr.exploitability


def structure(name: str, note: str) -> str:
    import pyspiel

    info = pyspiel.load_game(name).get_type()
    parts = ["simultaneous" if info.dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS
             else "sequential",
             "no chance" if info.chance_mode == pyspiel.GameType.ChanceMode.DETERMINISTIC
             else "chance"]
    return ", ".join(parts + ([note] if note else []))


def gap(a: dict[int, float], b: dict[int, float], iterations) -> float:
    return max(abs(a[t] - b[t]) for t in iterations)


def row(name: str, note: str, flat: Flat, step) -> str:
    mine, theirs = ours(flat, step), openspiel_curve(name, ITERATIONS)
    first = next((t for t in ITERATIONS if abs(mine[t] - theirs[t]) > AGREE), None)
    game, _, params = name.partition("(")
    verdict = "-"
    if first is not None:
        if flat.histories <= MAX_REFERENCE_HISTORIES:
            exact = reference_curve(flat, name, ITERATIONS)
            verdict = "; ".join(f"{who} {gap(curve, exact, ITERATIONS[:10]):.1e} / "
                                f"{gap(curve, exact, [100]):.1e}"
                                for who, curve in (("ours", mine), ("OpenSpiel", theirs)))
        else:
            verdict = "not run (size)"
    return (f"| {game} | {params[:-1] or '(defaults)'} | {flat.game.num_players} | "
            f"{flat.histories:,} | {structure(name, note)} | {first or 'none'} | "
            f"{gap(mine, theirs, ITERATIONS[:10]):.1e} | {gap(mine, theirs, [100]):.1e} | "
            f"{mine[100]:.4g} | {theirs[100]:.4g} | {verdict} |")


def registered() -> tuple[dict[str, str], list[str]]:
    """Every registered game by its default load string, and those no CFR can run on: mean-field
    games, and games whose chance is only sampled (no chance outcomes to walk; a wrapper such
    as `misere` registers so, but needs a game parameter, given in SETTINGS)."""
    import pyspiel

    sweep, left_out = {}, []
    for game in pyspiel.registered_games():
        if game.dynamics == pyspiel.GameType.Dynamics.MEAN_FIELD:
            left_out.append(f"{game.short_name} (mean-field)")
        elif game.chance_mode == pyspiel.GameType.ChanceMode.SAMPLED_STOCHASTIC:
            left_out.append(f"{game.short_name} (sampled chance)")
        else:
            sweep[game.short_name] = ""
    return sweep, left_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"seconds: {len(QUICK)} small settings, no registry sweep")
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="blas")  # as in an evaluation
    sweep, left_out = (QUICK, []) if args.quick else registered()
    sweep = sweep if args.quick else {**sweep, **SETTINGS}
    step = seed_step()
    print(f"| game | parameters | players | histories | structure | first iteration apart "
          f"(> {AGREE:g}) | max abs. diff. @1-10 | abs. diff. @100 | ours @100 | "
          "OpenSpiel @100 | where apart: max abs. diff. to 60-digit CFR+ @1-10 / @100 |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|")
    start, rows = time.perf_counter(), 0
    for name, note in sweep.items():
        try:
            flat = flatten(name, MAX_HISTORIES)
        except GameError as exc:
            left_out.append(f"{name} ({_short(str(exc))})")
            continue
        print(row(name, note, flat, step), flush=True)
        rows += 1
    if left_out:
        print(f"\nLeft out ({len(left_out)}): " + "; ".join(left_out))
    print(f"\n{rows} settings compared in {time.perf_counter() - start:.0f} s")


def _short(reason: str) -> str:
    """A loader refusal in a few words, for the left-out list."""
    for pattern, words in ((r"more than", f"> {MAX_HISTORIES:,} histories"),
                           (r"perfect recall", "imperfect recall"),
                           (r"no information states", "no information states"),
                           (r"no decisions", "no decisions"),
                           (r"cannot load", "needs parameters or files"),
                           (r"fails while walking", "OpenSpiel fails walking it")):
        if re.search(pattern, reason):
            return words
    return reason


if __name__ == "__main__":
    main()
