"""OpenSpiel games flattened into the arrays `cfr_engine.Game` works on (trusted side).

Any extensive-form OpenSpiel game given by its load string works: `kuhn_poker(players=3)`,
`leduc_poker`, `liars_dice(dice_sides=5,numdice=1)`; a simultaneous-move game such as
`goofspiel(...)` is played turn-based (OpenSpiel's own conversion), so its players act in turn
without seeing each other's move. One breadth-first walk of the tree records, for every
information set, its player's last sequence before it and, for every terminal, each player's
last sequence and the chance probability times the utilities: the sequence form the engine
works on (the histories themselves are not kept).

The sequence form exists only for games of perfect recall (every history of an information set
follows the same own last move): the walk checks that and refuses the others (`liars_dice_ir`,
`dark_hex_ir`, ...), on which OpenSpiel's CFR runs on the strings as given but ours would run on
another game. Every other difference from OpenSpiel's CFR+ found by the cross-check
(bench/cfr_openspiel_bench.py) is OpenSpiel's rounding deciding exact ties; see
cfr_reference.py.
"""

import contextlib
import functools
import hashlib
import json
import os
import sys
import zipfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

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
    histories: int
    """How many histories (terminal, chance and decision) the walk visited."""


@functools.cache
def flatten(name: str, max_histories: int = 2_000_000) -> Flat:
    """The game's sequence form, from the disk cache when this code and this OpenSpiel made it
    before: walking 3-player Leduc takes half a minute, loading it a fraction of a second."""
    path = _cache_path(name, max_histories)
    if path is not None and path.is_file():
        try:
            return _load(path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # damaged or partial: walk the game again and rewrite it
    flat = _walk(name, max_histories)
    if path is not None:
        _store(path, lambda out: _save(flat, out))
    return flat


def _cache_path(name: str, max_histories: int) -> Path | None:
    import pyspiel

    name = _digest(f"{name}\0{max_histories}\0{pyspiel.__version__}", [])
    return _cache_root() / "games" / f"{name}.npz"


def _cache_root() -> Path:
    return Path(os.environ.get("DISCOVERY_CACHE_DIR") or (Path.home() / ".cache" / "discovery"))


def _digest(key: str, sources: list[Path]) -> str:
    """A cache file's name: the key and the bytes of this module, the engine and `sources`
    (changed code: a new name)."""
    digest = hashlib.sha256(key.encode())
    for source in (__file__, sys.modules[Game.__module__].__file__, *sources):
        digest.update(Path(source).read_bytes())
    return digest.hexdigest()[:24]


def _store(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a cache file whole or not at all (a partial file, then a rename); a read-only home
    only costs the next start the time to compute it again."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with open(partial, "wb") as out:
            write(out)
        os.replace(partial, path)


_FIGURES: dict[str, float] = {}


def cached_figure(key: str, sources: list[Path], compute: Callable[[], float]) -> float:
    """A number that is slow to compute and never changes for the same inputs (a reference
    solver's exploitability on a game), kept in memory and on disk: keyed by `key` and the
    bytes of the `sources` that compute it (and of this module and the engine), so changed code
    computes it again. Reference runs on 3-player Leduc take a minute; a campaign should pay
    that once, not per evaluation."""
    name = _digest(key, sources)
    if name in _FIGURES:
        return _FIGURES[name]
    path = _cache_root() / "figures" / f"{name}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        _FIGURES[name] = float(json.loads(path.read_text())["value"])
        return _FIGURES[name]
    value = _FIGURES[name] = float(compute())
    _store(path, lambda out: out.write(json.dumps({"key": key, "value": value}).encode()))
    return value


def _save(flat: Flat, out) -> None:
    game = flat.game
    np.savez(out, num_players=game.num_players, mask=game.mask,
             infoset_player=game.infoset_player, parent_sequence=game.parent_sequence,
             terminal_last=game.terminal_last, terminal_payoff=game.terminal_payoff,
             keys=np.array(flat.keys), actions=np.concatenate(flat.actions),
             counts=np.array([len(a) for a in flat.actions]), histories=flat.histories)


def _load(path: Path) -> Flat:
    with np.load(path, allow_pickle=False) as data:
        game = Game(int(data["num_players"]), data["mask"], data["infoset_player"],
                    data["parent_sequence"], data["terminal_last"], data["terminal_payoff"])
        ends = np.cumsum(data["counts"])
        actions = [a.tolist() for a in np.split(data["actions"], ends[:-1])]
        return Flat(game, data["keys"].tolist(), actions, int(data["histories"]))


SPIEL_ERRORS = (RuntimeError, LookupError, ValueError)
"""What OpenSpiel raises on a game it cannot load or play: SpielError is a RuntimeError, and its
C++ std::out_of_range and std::invalid_argument arrive as IndexError and ValueError
(`nfg_game` without a file: IndexError map::at)."""


def load(name: str):
    """The OpenSpiel game of a load string as CFR plays it: a simultaneous-move game through
    OpenSpiel's turn-based conversion (as OpenSpiel's own CFR needs it)."""
    import pyspiel

    try:
        spiel_game = pyspiel.load_game(name)
    except SPIEL_ERRORS as exc:
        raise GameError(f"OpenSpiel cannot load game {name!r} ({exc}): check its name and "
                        "parameters, e.g. kuhn_poker(players=3)") from exc
    if spiel_game.get_type().dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS:
        spiel_game = pyspiel.convert_to_turn_based(spiel_game)
    return spiel_game


def _walk(name: str, max_histories: int) -> Flat:
    spiel_game = load(name)
    if not spiel_game.get_type().provides_information_state_string:
        raise GameError(f"game {name!r} has no information states, so CFR cannot run on it")
    try:
        return _walk_tree(name, spiel_game, max_histories)
    except GameError:  # a ValueError too, but ours: already the clear line
        raise
    except SPIEL_ERRORS as exc:
        raise GameError(f"OpenSpiel fails while walking game {name!r} ({exc}): pick other "
                        "parameters for it") from exc


def _walk_tree(name: str, spiel_game, max_histories: int) -> Flat:
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
        if seen + len(queue) > max_histories:  # those queued are histories too
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
            if parent_sequence[infoset] != last[who]:
                raise GameError(
                    f"game {name!r} does not have perfect recall (player {who}'s information "
                    f"set {key!r} follows different moves of its own), so it has no sequence "
                    "form and CFR here would solve another game: pick a perfect-recall "
                    "variant (e.g. liars_dice, not liars_dice_ir)")
            for slot, action in enumerate(legal):
                moved = (*last[:who], (infoset, slot), *last[who + 1:])
                queue.append((state.child(action), moved, probability))
    if not keys:
        raise GameError(f"game {name!r} has no decisions (chance alone ends it), so there is "
                        "nothing for CFR to learn: pick other parameters")
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
    return Flat(game, keys, actions, seen)


def spiel_policy(flat: Flat, name: str, policy: np.ndarray):
    """The same policy as an OpenSpiel TabularPolicy, for cross-checks against OpenSpiel."""
    from open_spiel.python import policy as spiel

    spiel_game = load(name)
    tabular = spiel.TabularPolicy(spiel_game)
    for key, legal, row in zip(flat.keys, flat.actions, policy, strict=True):
        probs = tabular.policy_for_key(key)
        probs[:] = 0.0
        probs[legal] = row[:len(legal)]
    return spiel_game, tabular
