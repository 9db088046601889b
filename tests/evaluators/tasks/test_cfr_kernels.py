"""The CFR oracle's compiled passes (cfr_kernels.py) against the numpy formulas they replaced,
bit for bit: at every update of a run on every game the CFR tests use, the regrets sent, the
policy played, every player's sequence reach, the average's numerator and its bound equal what
the numpy code gives from the same state; the compiled checks refuse exactly what cfr_loop's
numpy checks refuse; the candidate side's faster regret matching and row sums give numpy's
bits; and the kernels compile and run from a read-only checkout with a fresh home."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pyspiel")

from helpers import load_module

from evaluators.task import TASKS_DIR, task_folders

TASK = task_folders()["cfr"]
SHARED = TASKS_DIR / "games" / "_shared"
sys.path[:0] = [str(TASK), str(SHARED)]
import cfr_kernels  # noqa: E402
import cfr_loop  # noqa: E402
from cfr_games import flatten  # noqa: E402
from cfr_oracle import CFR, PLAIN_LIMIT, PLAIN_RANGE  # noqa: E402
from wire import pack, unpack  # noqa: E402

GAMES = ["kuhn_poker", "kuhn_poker(players=3)", "leduc_poker",
         "goofspiel(num_cards=4,imp_info=True,points_order=descending)",
         "goofspiel(num_cards=4,imp_info=True,points_order=random)",
         "liars_dice(dice_sides=5,numdice=1)", "blotto(coins=5,fields=3,players=2)",
         "battleship(board_width=2,board_height=2,ship_sizes=[1],ship_values=[1],num_shots=2)",
         "tiny_hanabi", "first_sealed_auction"]
"""Every game tests/evaluators/tasks/test_cfr.py runs."""


# -- the numpy formulas the kernels replaced (cfr_engine.Game and cfr_oracle.CFR before) -----

def numpy_regrets(game, policy, reach, player):
    """The regret pass: the engine's `_bottom_up` with the expectation fold."""
    expected = np.zeros(game.num_infosets)

    def fold(rows, values):
        expected[rows] = (policy[rows] * values).sum(axis=1)
        return expected[rows]

    values = game._bottom_up(reach, player, fold)
    rows = game.slices[player]
    grid = values[:-1].reshape(game.mask.shape)[rows]
    return (grid - expected[rows, None]) * game.mask[rows]


def numpy_sequence_reach(game, policy, player, reach):
    grid = reach[:-1].reshape(game.mask.shape)
    for level in game.levels[player]:
        grid[level.rows] = reach[level.parents, None] * policy[level.rows]


def numpy_checks_pass(legal, weight, mask):
    """cfr_oracle's checks before: the policy's and the weight's, numpy (cfr_loop)."""
    policy = np.zeros(mask.shape)
    policy[mask] = legal
    try:
        cfr_loop.check_policy(policy, "the policy")
        cfr_loop.check_weight(weight.reshape(()) if weight.size == 1 else weight, len(mask),
                              "the weight")
    except cfr_loop.RuleError:
        return False
    return True


def old_regret_matching(cumulative, mask, power=1.0):
    positive = np.where(cumulative > cfr_loop.REGRET_TOLERANCE, cumulative, 0.0) * mask
    if power != 1.0:
        positive = positive**power
    total = positive.sum(axis=1, keepdims=True)
    uniform = mask / mask.sum(axis=1, keepdims=True)
    return np.where(total > 0, positive / np.where(total > 0, total, 1.0), uniform)


class Lockstep:
    """The oracle's callable for cfr_loop.run (in-process, arrays packed) that recomputes each
    step with the numpy formulas from the oracle's own state and compares the bytes."""

    def __init__(self, cfr: CFR):
        self.cfr, self.updates = cfr, 0

    def expected_regrets(self) -> np.ndarray:
        cfr, game = self.cfr, self.cfr.game
        regret = np.zeros(game.mask.shape)
        for p, _ in cfr.senders[cfr.turn]:
            regret[game.slices[p]] = numpy_regrets(game, cfr.policy, cfr.reach, p)
        return regret[cfr.groups[cfr.turn]][cfr.masks[cfr.turn]]

    def __call__(self, *args):
        cfr, game = self.cfr, self.cfr.game
        if args[0] == "start":
            reply = cfr(list(args))
            assert unpack(reply["regret"]).tobytes() == self.expected_regrets().tobytes()
            return reply
        rows, mask = cfr.rows[cfr.turn], cfr.masks[cfr.turn]
        legal, weight = unpack(args[0]), unpack(args[1])
        policy, reach, numerator = cfr.policy.copy(), cfr.reach.copy(), cfr.numerator.copy()
        bound, plain = cfr.bound, cfr.bound
        own = reach[game.infoset_player[rows], game.parent_sequence[rows]]
        shaped = weight.reshape(()) if weight.size == 1 else weight
        top = float(shaped.max())
        if plain + 2 * top < PLAIN_LIMIT and own.min(where=own > 0, initial=1.0) >= PLAIN_RANGE \
                and shaped.min(where=shaped > 0, initial=1.0) >= PLAIN_RANGE:
            numerator[rows] += (shaped * own)[:, None] * policy[rows]
            bound = plain + 2 * top
        else:  # the scaled sum: numpy in both
            numerator, bound = None, np.inf
        played = np.zeros(mask.shape)
        played[mask] = legal
        policy[rows] = played
        for p, _ in cfr.senders[cfr.turn]:
            numpy_sequence_reach(game, policy, p, reach[p])
        reply = cfr(list(args))
        self.updates += 1
        assert cfr.policy.tobytes() == policy.tobytes()
        assert cfr.reach.tobytes() == reach.tobytes()
        assert cfr.bound == bound
        if numerator is not None:
            assert cfr.numerator.tobytes() == numerator.tobytes()
        if not reply["done"]:
            assert unpack(reply["regret"]).tobytes() == self.expected_regrets().tobytes()
        return reply


HUGE = """
def step(state, t, regret, policy, mask):
    cumulative = np.maximum(state.get("regret", 0.0) + regret, 0.0)
    state["regret"] = cumulative
    weight = 1e300 if t % 3 else np.linspace(1e-200, 1.0, len(mask))
    return regret_matching(cumulative, mask), weight
"""
"""A rule whose weights take the scaled accumulation (and so the plain one's way back)."""


def rules(tmp_path):
    huge = tmp_path / "huge.py"
    huge.write_text("import numpy as np\nfrom cfr_loop import regret_matching\n" + HUGE)
    return {name: load_module(path, f"kernel_rule_{name}").step for name, path in {
        "cfr_plus": TASK / "seed.py", "dcfr": TASK / "baselines" / "dcfr.py",
        "vad_cfr": TASK / "baselines" / "vad_cfr.py", "huge": huge}.items()}


@pytest.mark.parametrize("name", GAMES)
def test_the_compiled_passes_are_the_numpy_formulas_bit_for_bit(name, tmp_path):
    """Every update of CFR+, DCFR (weights per row), VAD-CFR and a rule with huge weights, with
    alternating updates and (CFR+) without: the regrets sent, the policy, the reach, the
    numerator and its bound are the numpy formulas' bytes, from the oracle's own state."""
    game = flatten(name).game
    for label, step in rules(tmp_path).items():
        for alternating in (True, False) if label == "cfr_plus" else (True,):
            cfr = CFR(game, [3, 12], alternating=alternating)
            lockstep = Lockstep(cfr)
            cfr_loop.run(step, lockstep)
            assert cfr.done and lockstep.updates == 12 * len(cfr.groups), label
            assert all(np.isfinite(list(cfr.exploitability.values())))


@pytest.mark.parametrize(("legal", "weight"), [
    ("uniform", [1.0]), ("uniform", [0.0]), ("uniform", "per row"), ("off by 2e-6", [1.0]),
    ("off by 5e-7", [1.0]), ("negative", [1.0]), ("nan", [1.0]), ("inf", [1.0]),
    ("negative zero", [1.0]), ("uniform", [-1.0]), ("uniform", [np.nan]), ("uniform", [np.inf]),
    ("uniform", [1.0, 1.0]), ("uniform", []), ("uniform", [-0.0]),
])
def test_the_compiled_checks_refuse_what_the_numpy_checks_refuse(legal, weight):
    game = flatten("leduc_poker").game
    cfr = CFR(game, [1])
    rows, mask = cfr.rows[0], cfr.masks[0]
    entries = (mask / mask.sum(axis=1, keepdims=True))[mask]
    changed = {"uniform": entries, "off by 2e-6": entries * (1 + 2e-6),
               "off by 5e-7": entries * (1 + 5e-7),
               "negative": np.where(np.arange(entries.size) == 4, -1e-3, entries),
               "nan": np.where(np.arange(entries.size) == 7, np.nan, entries),
               "inf": np.where(np.arange(entries.size) == 7, np.inf, entries),
               "negative zero": np.where(entries == entries.max(), entries, -0.0 * entries)}
    legal = changed[legal]
    weight = np.ones(len(mask)) if weight == "per row" else np.array(weight, dtype=float)
    before = cfr.policy.copy(), cfr.numerator.copy(), cfr.reach.copy()
    found, _ = cfr_kernels.update(legal, weight, False, False, 0.0, rows, game.mask,
                                  cfr_loop.POLICY_SUM_TOLERANCE, cfr.policy.copy(),
                                  cfr.numerator.copy(), cfr.reach.copy(), game.infoset_player,
                                  game.parent_sequence, PLAIN_LIMIT, PLAIN_RANGE, 0, game.order[0])
    assert (found == cfr_kernels.PASSED) == numpy_checks_pass(legal, weight, mask)
    if found != cfr_kernels.PASSED:  # the oracle refuses, with cfr_loop's reason, unchanged
        cfr.sharing, cfr.started = False, True
        with pytest.raises(cfr_loop.RuleError, match=r"the (policy|weight) sent at iteration 1"):
            cfr([pack(legal), pack(weight)])
        assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(
            before, (cfr.policy, cfr.numerator, cfr.reach), strict=True))


def test_the_row_sums_are_numpys():
    """The kernels' row sum and the candidate side's `row_sums`: numpy's `sum(axis=1)` bytes
    for widths 1 to 300 (left to right, eight partial sums, halves over 128), with zeros of
    both signs, huge and tiny values, inf and NaN."""
    rng = np.random.default_rng(3)
    for width in [*range(1, 20), 127, 128, 129, 255, 256, 257, 300]:
        rows = rng.standard_normal((40, width)) * 10.0 ** rng.integers(-12, 12, (40, width))
        rows[rng.random(rows.shape) < 0.2] = 0.0
        rows[rng.random(rows.shape) < 0.2] = -0.0
        rows[:3] = -0.0
        rows[3, 0], rows[4, -1], rows[5, 0] = np.inf, np.nan, -np.inf
        assert cfr_loop.row_sums(rows).tobytes() == rows.sum(axis=1, keepdims=True).tobytes()
        compiled = np.array([cfr_kernels._row_sum(row.copy()) for row in rows])
        assert compiled.tobytes() == rows.sum(axis=1).tobytes(), width


def test_regret_matching_gives_the_former_formulas_bits():
    """cfr_loop.regret_matching (row sums by columns, the uniform fallback cached for run's
    masks, skipped where no row needs it) against the formula it replaced, with and without a
    power, for masks run hands out and masks of the rule's own."""
    rng = np.random.default_rng(4)
    for width in (2, 3, 5, 9):
        mask = rng.random((60, width)) < 0.7
        mask[:, 0] = True
        frozen = mask.copy()
        frozen.setflags(write=False)
        cfr_loop._UNIFORM[id(frozen)] = (frozen, mask / mask.sum(axis=1, keepdims=True))
        try:
            for _ in range(20):
                cumulative = rng.standard_normal(mask.shape) * rng.choice([1e-13, 1.0, 1e6])
                cumulative[rng.random(mask.shape) < 0.3] = 0.0
                cumulative[rng.random(mask.shape) < 0.05] = np.nan
                positive = np.abs(np.nan_to_num(cumulative)) + 0.5  # no row falls back
                for values in (cumulative, positive):
                    for power in (1.0, 1.5):
                        old = old_regret_matching(values, mask, power).tobytes()
                        assert cfr_loop.regret_matching(values, frozen, power).tobytes() == old
                        assert cfr_loop.regret_matching(values, mask, power).tobytes() == old
        finally:
            del cfr_loop._UNIFORM[id(frozen)]


def test_run_keeps_no_mask_after_it_ends():
    cfr = CFR(flatten("kuhn_poker").game, [2])
    cfr_loop.run(load_module(TASK / "seed.py", "kernel_seed").step, lambda *a: cfr(list(a)))
    assert cfr.done and not cfr_loop._UNIFORM


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (read-only mounts)")
@pytest.mark.parametrize("home", ["fresh", "read-only"])
def test_the_kernels_run_from_a_read_only_checkout(tmp_path, home):
    """The whole file system mounted read-only (bubblewrap: file modes do not stop root): with
    nowhere to cache beside the source, numba caches in a fresh home's cache directory, or,
    with that read-only too, compiles in the process (a cold compile each: about 4 s here);
    the regrets are the same either way."""
    tree = tmp_path / "tree"
    shutil.copytree(SHARED, tree, ignore=shutil.ignore_patterns("__pycache__"))
    home_dir = tmp_path / "home"
    home_dir.mkdir()
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import numpy as np\n"
              "from cfr_games import flatten\n"
              "game = flatten('kuhn_poker').game\n"
              "policy = game.uniform(); reach = game.all_reach(policy)\n"
              "print(game.regrets(policy, reach, 0).tobytes().hex())\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NUMBA_") and k not in ("XDG_CACHE_HOME", "DISCOVERY_CACHE_DIR")}
    env["HOME"] = str(home_dir)
    writable = ["--bind", str(home_dir), str(home_dir)] if home == "fresh" else []
    result = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                             *writable, sys.executable, "-c", script, str(tree)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    game = flatten("kuhn_poker").game
    policy = game.uniform()
    assert result.stdout.strip() == numpy_regrets(game, policy, game.all_reach(policy),
                                                  0).tobytes().hex()
    assert not (tree / "__pycache__").exists()
    assert bool(list(home_dir.rglob("*.nbi"))) == (home == "fresh")


def test_the_oracle_pins_blas_itself_around_its_measurement(monkeypatch):
    """The evaluator hands the CFR oracle over without its per-call BLAS pin (7 to 25 us a
    call: evaluators/task.py's `_on`), so the oracle pins BLAS to one thread itself where it
    uses BLAS: the measurement, even in a process running BLAS on two."""
    from threadpoolctl import ThreadpoolController, threadpool_limits

    from evaluators.task import _on

    game = flatten("kuhn_poker").game
    cfr = CFR(game, [2, 3])
    assert _on(lambda: pytest.fail("pinned per call"), cfr) is cfr
    threads = []
    measure = game.nash_conv

    def pinned(policy):
        threads.extend(info["num_threads"] for info in ThreadpoolController().info()
                       if info["user_api"] == "blas")
        return measure(policy)

    monkeypatch.setattr(game, "nash_conv", pinned)
    with threadpool_limits(limits=2, user_api="blas"):
        cfr_loop.run(load_module(TASK / "seed.py", "kernel_seed_blas").step,
                     lambda *args: cfr(list(args)))
    assert cfr.done and threads and set(threads) == {1}
