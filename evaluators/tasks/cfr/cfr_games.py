"""OpenSpiel games flattened into the arrays `cfr_engine.Game` works on (trusted side).

Any extensive-form OpenSpiel game given by its load string works: `kuhn_poker(players=3)`,
`leduc_poker`, `liars_dice(dice_sides=5,numdice=1)`; a simultaneous-move game such as
`goofspiel(...)` is played turn-based (OpenSpiel's own conversion), so its players act in turn
without seeing each other's move. One breadth-first walk of the tree records, for every
information set, its player's last sequence before it and, for every terminal, each player's
last sequence and the chance probability times the utilities: the sequence form the engine
works on (the histories themselves are not kept).
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
    players = spiel_game.num_players()
    index: dict[tuple[int, str], int] = {}
    keys: list[str] = []
    actions: list[list[int]] = []
    parent_sequence: list[tuple[int, int]] = []  # (infoset, slot) of the last own move
    terminal_last, terminal_payoff = [], []
    empty = (-1, -1)
    # (state, each player's last (infoset, slot), chance probability of the path)
    queue = deque([(spiel_game.new_initial_state(), (empty,) * players, 1.0)])
    seen = 0
    while queue:
        state, last, probability = queue.popleft()
        seen += 1
        if seen > max_histories:
            raise GameError(f"game {name!r} has more than {max_histories:,} histories: too "
                            "large for this evaluator; pick a smaller variant")
        if state.is_terminal():
            terminal_last.append(last)
            terminal_payoff.append([probability * u for u in state.returns()])
        elif state.is_chance_node():
            for action, p in state.chance_outcomes():
                queue.append((state.child(action), last, probability * p))
        else:
            who = state.current_player()
            key = state.information_state_string(who)
            legal = state.legal_actions()
            if (who, key) not in index:
                index[(who, key)] = len(keys)
                keys.append(key)
                actions.append(legal)
                parent_sequence.append(last[who])
            infoset = index[(who, key)]
            for slot, action in enumerate(legal):
                moved = (*last[:who], (infoset, slot), *last[who + 1:])
                queue.append((state.child(action), moved, probability))
    # Number each player's information sets contiguously (in the order first met), so the
    # engine addresses a player's rows as one slice.
    owner = np.zeros(len(actions), dtype=np.int64)
    for (who, _), i in index.items():
        owner[i] = who
    order = np.argsort(owner, kind="stable")
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    keys, actions, owner = [keys[i] for i in order], [actions[i] for i in order], owner[order]
    parent_sequence = [parent_sequence[i] for i in order]
    width = max(len(a) for a in actions)
    mask = np.zeros((len(actions), width), dtype=bool)
    for i, legal in enumerate(actions):
        mask[i, :len(legal)] = True

    def flat(sequence: tuple[int, int]) -> int:  # the empty sequence is index I * A
        return mask.size if sequence == empty else renumber[sequence[0]] * width + sequence[1]

    game = Game(players, mask, owner, np.array([flat(s) for s in parent_sequence]),
                np.array([[flat(s) for s in last] for last in terminal_last]).T.copy(),
                np.array(terminal_payoff, dtype=float))
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
