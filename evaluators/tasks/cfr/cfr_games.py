"""OpenSpiel games flattened into the arrays `cfr_engine.Game` works on (trusted side).

Any extensive-form OpenSpiel game given by its load string works: `kuhn_poker(players=3)`,
`leduc_poker`, `liars_dice(dice_sides=5,numdice=1)`; a simultaneous-move game such as
`goofspiel(...)` is played turn-based (OpenSpiel's own conversion), so its players act in turn
without seeing each other's move. Histories are laid out breadth-first: each depth is one
contiguous range, children grouped by parent, which is what the engine's passes need.
"""

import functools
from collections import deque
from dataclasses import dataclass

import numpy as np
from cfr_engine import Game


class GameError(ValueError):
    """A game string the evaluator cannot use, with the reason and the fix."""


@dataclass
class Flat:
    game: Game
    keys: list[str]
    """The information state string of each information set (OpenSpiel's policy keys)."""
    actions: list[list[int]]
    """The OpenSpiel action ids of each information set's slots."""


@functools.cache
def flatten(name: str, max_histories: int = 2_000_000) -> Flat:
    import pyspiel

    try:
        spiel_game = pyspiel.load_game(name)
    except pyspiel.SpielError as exc:
        raise GameError(f"OpenSpiel cannot load game {name!r} ({exc}): check its name and "
                        "parameters, e.g. kuhn_poker(players=3)") from exc
    info = spiel_game.get_type()
    if info.dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS:
        spiel_game = pyspiel.convert_to_turn_based(spiel_game)
        info = spiel_game.get_type()
    if not info.provides_information_state_string:
        raise GameError(f"game {name!r} has no information states, so CFR cannot run on it")
    if info.utility not in (pyspiel.GameType.Utility.ZERO_SUM,
                            pyspiel.GameType.Utility.CONSTANT_SUM,
                            pyspiel.GameType.Utility.GENERAL_SUM):
        raise GameError(f"game {name!r} has no per-player utilities")
    players = spiel_game.num_players()
    parent, slot, chance, player, infoset, utility = [], [], [], [], [], []
    levels: list[int] = []
    index: dict[tuple[int, str], int] = {}
    keys: list[str] = []
    actions: list[list[int]] = []
    queue = deque([(spiel_game.new_initial_state(), -1, -1, 1.0, 0)])
    while queue:
        state, up, move, probability, depth = queue.popleft()
        h = len(parent)
        if h >= max_histories:
            raise GameError(f"game {name!r} has more than {max_histories:,} histories: too "
                            "large for this evaluator; pick a smaller variant")
        if depth == len(levels):
            levels.append(h)
        parent.append(up)
        slot.append(move)
        chance.append(probability)
        if state.is_terminal():
            player.append(-2)
            infoset.append(-1)
            utility.append(state.returns())
            continue
        utility.append([0.0] * players)
        if state.is_chance_node():
            player.append(-1)
            infoset.append(-1)
            for action, p in state.chance_outcomes():
                queue.append((state.child(action), h, -1, p, depth + 1))
            continue
        who = state.current_player()
        key = state.information_state_string(who)
        legal = state.legal_actions()
        if (who, key) not in index:
            index[(who, key)] = len(keys)
            keys.append(key)
            actions.append(legal)
        player.append(who)
        infoset.append(index[(who, key)])
        for position, action in enumerate(legal):
            queue.append((state.child(action), h, position, 1.0, depth + 1))
    width = max(len(a) for a in actions)
    mask = np.zeros((len(actions), width), dtype=bool)
    for i, legal in enumerate(actions):
        mask[i, :len(legal)] = True
    owner = np.zeros(len(actions), dtype=np.int64)
    for (who, _), i in index.items():
        owner[i] = who
    game = Game(players, np.array(parent), np.array(slot), np.array(chance),
                np.array(player), np.array(infoset), np.array(utility, dtype=float), mask,
                owner, np.array(levels))
    return Flat(game, keys, actions)


def spiel_policy(flat: Flat, name: str, policy: np.ndarray):
    """The same policy as an OpenSpiel TabularPolicy, for cross-checks against OpenSpiel."""
    import pyspiel
    from open_spiel.python import policy as spiel

    spiel_game = pyspiel.load_game(name)
    if spiel_game.get_type().dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS:
        spiel_game = pyspiel.convert_to_turn_based(spiel_game)
    tabular = spiel.TabularPolicy(spiel_game)
    for key, legal, row in zip(flat.keys, flat.actions, policy, strict=True):
        probs = tabular.policy_for_key(key)
        probs[:] = 0.0
        probs[legal] = row[:len(legal)]
    return spiel_game, tabular
